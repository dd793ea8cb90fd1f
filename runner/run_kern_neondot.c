/* run_kern_neondot.c - NEON with the dot-product extension (FEAT_DotProd, ARMv8.2-A optional,
 * ARMv8.4-A mandatory; every recent phone core): sdot sums four int8 x int8 products into each
 * int32 lane, replacing the baseline set's widening multiplies and pairwise adds. The codes
 * (0..3) are valid signed bytes, so t2 needs no sign trick; int8 x int8 (the output head) is
 * sdot as is. Exact integers, so the results equal every other set's; the float kernels are
 * the baseline set's. Picked at run time from the kernel's hardware capability bits. */
#include <stddef.h>

#include "run_kern.h"

#if defined(__aarch64__) && defined(__GNUC__) && (!defined(__clang__) || defined(__ARM_FEATURE_DOTPROD))
#include <arm_neon.h>

#include "run_kern_arm.h"

#if defined(__linux__)
#include <sys/auxv.h>
#endif

#define RUN_DOT __attribute__((target("arch=armv8.2-a+dotprod")))

/* The four planes of a block (two 16-byte halves each), codes 0..3 as signed bytes. */
RUN_DOT static inline __attribute__((always_inline)) void planes(const uint8_t *codes, int8x16_t c[8])
{
    uint8x16_t const m3 = vdupq_n_u8(3), v0 = vld1q_u8(codes), v1 = vld1q_u8(codes + 16);
    c[0] = vreinterpretq_s8_u8(vandq_u8(v0, m3));
    c[1] = vreinterpretq_s8_u8(vandq_u8(v1, m3));
    c[2] = vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(v0, 2), m3));
    c[3] = vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(v1, 2), m3));
    c[4] = vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(v0, 4), m3));
    c[5] = vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(v1, 4), m3));
    c[6] = vreinterpretq_s8_u8(vshrq_n_u8(v0, 6));
    c[7] = vreinterpretq_s8_u8(vshrq_n_u8(v1, 6));
}

/* One block into two accumulators (planes 0-1, 2-3): c[k] pairs with q[16k, 16k+16). */
RUN_DOT static inline __attribute__((always_inline)) void block_acc(int32x4_t *a, int32x4_t *b, const int8x16_t c[8], const int8_t *q)
{
    for (int k = 0; k < 4; k++) {
        *a = vdotq_s32(*a, c[k], vld1q_s8(q + 16 * k));
        *b = vdotq_s32(*b, c[k + 4], vld1q_s8(q + 64 + 16 * k));
    }
}

RUN_DOT static int32_t dot_t2_dot(const uint8_t *codes, const int8_t *q, uint64_t n_blocks)
{
    int32x4_t a = vdupq_n_s32(0), b = a;
    int8x16_t c[8];
    for (uint64_t i = 0; i < n_blocks; i++, codes += 32, q += 128) {
        planes(codes, c);
        block_acc(&a, &b, c, q);
    }
    return vaddvq_s32(vaddq_s32(a, b));
}

RUN_DOT static void dot_t2_dot_n(const uint8_t *codes, const int8_t *q, uint64_t q_stride, uint32_t n_tok, uint64_t n_blocks,
                                 int32_t *out)
{
    int32x4_t a[4], b[4];
    int8x16_t c[8];
    uint32_t const n = n_tok > 4 ? 4 : n_tok;
    for (int j = 0; j < 4; j++) a[j] = b[j] = vdupq_n_s32(0);
    for (uint64_t i = 0; i < n_blocks; i++, codes += 32) {
        planes(codes, c);
        _Pragma("GCC unroll 4") for (uint32_t j = 0; j < n; j++) block_acc(&a[j], &b[j], c, q + j * q_stride + i * 128);
    }
    _Pragma("GCC unroll 4") for (uint32_t j = 0; j < n; j++) out[j] = vaddvq_s32(vaddq_s32(a[j], b[j]));
}

/* Rows one at a time, as on x86 where single rows stream DRAM faster than tiles. */
RUN_DOT static void dot_t2_gemv(const uint8_t *codes, uint64_t n_rows, const int8_t *q, uint64_t n_blocks, int32_t *out)
{
    for (uint64_t r = 0; r < n_rows; r++) out[r] = dot_t2_dot(codes + r * n_blocks * 32, q, n_blocks);
}

RUN_DOT static void dot_t2_dot_chunks(const uint8_t *codes, const int8_t *q, uint64_t n_blocks, int32_t *out)
{
    int8x16_t c[8];
    for (uint64_t i = 0; i < n_blocks; i++, codes += 32, q += 128, out += 4) {
        planes(codes, c);
        for (int k = 0; k < 4; k++) {
            int32x4_t p = vdotq_s32(vdupq_n_s32(0), c[2 * k], vld1q_s8(q + 32 * k));
            p = vdotq_s32(p, c[2 * k + 1], vld1q_s8(q + 32 * k + 16));
            out[k] = vaddvq_s32(p);
        }
    }
}

RUN_DOT static void dot_i8_gemv(const int8_t *w, uint64_t n_rows, uint64_t cols, const int8_t *q, int32_t *out)
{
    for (uint64_t r = 0; r < n_rows; r++, w += cols) {
        int32x4_t a = vdupq_n_s32(0), b = a;
        uint64_t i = 0;
        for (; i + 32 <= cols; i += 32) {
            a = vdotq_s32(a, vld1q_s8(w + i), vld1q_s8(q + i));
            b = vdotq_s32(b, vld1q_s8(w + i + 16), vld1q_s8(q + i + 16));
        }
        int32_t s = vaddvq_s32(vaddq_s32(a, b));
        for (; i < cols; i++) s += (int32_t)w[i] * q[i];
        out[r] = s;
    }
}

/* Prefill: row by row, four tokens per call (the unpacked codes serve those four). */
static void dot_t2_gemm(const uint8_t *codes, uint64_t n_rows, uint64_t n_blocks, const int8_t *q, uint64_t q_stride, uint32_t n_tok,
                        int32_t *out, uint64_t ld_out)
{
    run__t2_gemm_by_dot_n(dot_t2_dot_n, codes, n_rows, n_blocks, q, q_stride, n_tok, out, ld_out);
}

static const run_kern dot_kern = {"neondot",
                                  dot_t2_dot,
                                  dot_t2_dot_n,
                                  dot_t2_gemv,
                                  dot_t2_dot_chunks,
                                  run__neon_dot_f32,
                                  run__neon_dot_f16,
                                  run__neon_dot_bf16,
                                  run__neon_axpy_f32,
                                  run__neon_gemv_f32,
                                  run__neon_gemv_f16,
                                  run__neon_gemv_bf16,
                                  dot_i8_gemv,
                                   dot_t2_gemm};

const run_kern *run_kern_neondot(void)
{
#if defined(__linux__) && defined(HWCAP_ASIMDDP)
    return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) ? &dot_kern : NULL;
#else
    return NULL; /* no portable way to ask here; the baseline set runs */
#endif
}

#if !defined(__clang__) || defined(__ARM_FEATURE_MATMUL_INT8)
/* The same set with the FEAT_I8MM prefill kernel (smmla, run_kern_neoni8mm.c). */
static void mm_t2_gemm(const uint8_t *codes, uint64_t n_rows, uint64_t n_blocks, const int8_t *q, uint64_t q_stride, uint32_t n_tok,
                       int32_t *out, uint64_t ld_out)
{
    run__neon_i8mm_t2_gemm(codes, n_rows, n_blocks, q, q_stride, n_tok, out, ld_out, dot_t2_dot_n);
}

static const run_kern mm_kern = {"neoni8mm",
                                 dot_t2_dot,
                                 dot_t2_dot_n,
                                 dot_t2_gemv,
                                 dot_t2_dot_chunks,
                                 run__neon_dot_f32,
                                 run__neon_dot_f16,
                                 run__neon_dot_bf16,
                                 run__neon_axpy_f32,
                                 run__neon_gemv_f32,
                                 run__neon_gemv_f16,
                                 run__neon_gemv_bf16,
                                 dot_i8_gemv,
                                 mm_t2_gemm};

const run_kern *run_kern_neoni8mm(void)
{
#if defined(__linux__) && defined(HWCAP_ASIMDDP) && defined(HWCAP2_I8MM)
    return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) && (getauxval(AT_HWCAP2) & HWCAP2_I8MM) ? &mm_kern : NULL;
#else
    return NULL;
#endif
}
#else
const run_kern *run_kern_neoni8mm(void) { return NULL; }
#endif

#else
const run_kern *run_kern_neondot(void) { return NULL; }
const run_kern *run_kern_neoni8mm(void) { return NULL; }
#endif
