/* run_kern_avxvnni.c - the AVX2 set with AVX-VNNI's vpdpbusd (VEX encoding, 256-bit) for the t2
 * and int8 products: one instruction does maddubs + madd + add of the AVX2 path (u8 codes x s8
 * activations, four products summed into each int32 lane, no int16 step). Exact integers, so
 * the same results as every set; float kernels are the AVX2 set's. For CPUs with AVX-VNNI and
 * no AVX-512 (Alder Lake and later cores) and as a 256-bit variant where both exist. */
#include <stddef.h>

#include "run_kern.h"
#include "run_kern_x86.h"

#if RUN_KERN_X86
#include <cpuid.h>

#define RUN_VNNI __attribute__((target("avx2,fma,f16c,avxvnni")))
#define DPBUSD(acc, u, s) _mm256_dpbusd_avx_epi32((acc), (u), (s))
#define LD(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))

/* The four 32-weight planes of a block (spec 6.1): codes 0..3 as unsigned bytes. */
RUN_VNNI static inline __attribute__((always_inline)) void planes(const uint8_t *codes, __m256i c[4])
{
    __m256i const m3 = _mm256_set1_epi8(3), v = LD(codes);
    c[0] = _mm256_and_si256(v, m3);
    c[1] = _mm256_and_si256(_mm256_srli_epi16(v, 2), m3);
    c[2] = _mm256_and_si256(_mm256_srli_epi16(v, 4), m3);
    c[3] = _mm256_and_si256(_mm256_srli_epi16(v, 6), m3);
}

/* Two accumulators per row (planes 0-1, 2-3) keep the dependent vpdpbusd chain short. */
RUN_VNNI static inline __attribute__((always_inline)) void block_acc(__m256i *a, __m256i *b, const __m256i c[4], const int8_t *q)
{
    *a = DPBUSD(*a, c[0], LD(q));
    *b = DPBUSD(*b, c[2], LD(q + 64));
    *a = DPBUSD(*a, c[1], LD(q + 32));
    *b = DPBUSD(*b, c[3], LD(q + 96));
}

RUN_VNNI static int32_t vnni_t2_dot(const uint8_t *codes, const int8_t *q, uint64_t n_blocks)
{
    __m256i a = _mm256_setzero_si256(), b = a, c[4];
    for (uint64_t i = 0; i < n_blocks; i++, codes += 32, q += 128) {
        planes(codes, c);
        block_acc(&a, &b, c, q);
    }
    return hsum_i32(_mm256_add_epi32(a, b));
}

RUN_VNNI static inline __attribute__((always_inline)) void dot_n_impl(const uint8_t *codes, const int8_t *q, uint64_t q_stride,
                                                                     uint64_t n_blocks, int32_t *out, const int n)
{
    __m256i a[4], b[4], c[4];
    for (int j = 0; j < 4; j++) a[j] = b[j] = _mm256_setzero_si256();
    for (uint64_t i = 0; i < n_blocks; i++, codes += 32) {
        planes(codes, c);
        _Pragma("GCC unroll 4") for (int j = 0; j < n; j++) block_acc(&a[j], &b[j], c, q + j * q_stride + i * 128);
    }
    _Pragma("GCC unroll 4") for (int j = 0; j < n; j++) out[j] = hsum_i32(_mm256_add_epi32(a[j], b[j]));
}

RUN_VNNI static void vnni_t2_dot_n(const uint8_t *codes, const int8_t *q, uint64_t q_stride, uint32_t n_tok, uint64_t n_blocks,
                                   int32_t *out)
{
    switch (n_tok) {
    case 1: dot_n_impl(codes, q, q_stride, n_blocks, out, 1); break;
    case 2: dot_n_impl(codes, q, q_stride, n_blocks, out, 2); break;
    case 3: dot_n_impl(codes, q, q_stride, n_blocks, out, 3); break;
    default: dot_n_impl(codes, q, q_stride, n_blocks, out, 4); break;
    }
}

/* Rows one at a time (single rows stream DRAM faster than tiles here, run_kern_avx512.c). */
RUN_VNNI static void vnni_t2_gemv(const uint8_t *codes, uint64_t n_rows, const int8_t *q, uint64_t n_blocks, int32_t *out)
{
    for (uint64_t r = 0; r < n_rows; r++) out[r] = vnni_t2_dot(codes + r * n_blocks * 32, q, n_blocks);
}

RUN_VNNI static void vnni_t2_dot_chunks(const uint8_t *codes, const int8_t *q, uint64_t n_blocks, int32_t *out)
{
    __m256i c[4];
    for (uint64_t i = 0; i < n_blocks; i++, codes += 32, q += 128, out += 4) {
        planes(codes, c);
        for (int k = 0; k < 4; k++) out[k] = hsum_i32(DPBUSD(_mm256_setzero_si256(), c[k], LD(q + 32 * k)));
    }
}

/* int8 x int8: vpdpbusd takes |w| as the unsigned operand and q with w's sign. */
RUN_VNNI static void vnni_i8_gemv(const int8_t *w, uint64_t n_rows, uint64_t cols, const int8_t *q, int32_t *out)
{
    for (uint64_t r = 0; r < n_rows; r++, w += cols) {
        __m256i a = _mm256_setzero_si256(), b = a;
        uint64_t i = 0;
        for (; i + 64 <= cols; i += 64) {
            __m256i const w0 = LD(w + i), w1 = LD(w + i + 32);
            a = DPBUSD(a, _mm256_abs_epi8(w0), _mm256_sign_epi8(LD(q + i), w0));
            b = DPBUSD(b, _mm256_abs_epi8(w1), _mm256_sign_epi8(LD(q + i + 32), w1));
        }
        for (; i + 32 <= cols; i += 32) {
            __m256i const w0 = LD(w + i);
            a = DPBUSD(a, _mm256_abs_epi8(w0), _mm256_sign_epi8(LD(q + i), w0));
        }
        int32_t s = hsum_i32(_mm256_add_epi32(a, b));
        for (; i < cols; i++) s += (int32_t)w[i] * q[i];
        out[r] = s;
    }
}

/* Prefill: row by row, four tokens per call (the unpacked codes serve those four). */
static void vnni_t2_gemm(const uint8_t *codes, uint64_t n_rows, uint64_t n_blocks, const int8_t *q, uint64_t q_stride, uint32_t n_tok,
                        int32_t *out, uint64_t ld_out)
{
    run__t2_gemm_by_dot_n(vnni_t2_dot_n, codes, n_rows, n_blocks, q, q_stride, n_tok, out, ld_out);
}

static const run_kern vnni_kern = {"avxvnni",
                                   vnni_t2_dot,
                                   vnni_t2_dot_n,
                                   vnni_t2_gemv,
                                   vnni_t2_dot_chunks,
                                   run__avx2_dot_f32,
                                   run__avx2_dot_f16,
                                   run__avx2_dot_bf16,
                                   run__avx2_axpy_f32,
                                   run__avx2_gemv_f32,
                                   run__avx2_gemv_f16,
                                   run__avx2_gemv_bf16,
                                   vnni_i8_gemv,
                                   vnni_t2_gemm};

const run_kern *run_kern_avxvnni(void)
{
    /* the AVX2 set's checks (CPU and OS state), then CPUID.(EAX=7,ECX=1):EAX bit 4, AVX-VNNI */
    if (!run_kern_avx2()) return NULL;
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 1, &a, &b, &c, &d)) return NULL;
    return (a >> 4) & 1u ? &vnni_kern : NULL;
}

#else
const run_kern *run_kern_avxvnni(void) { return NULL; }
#endif
