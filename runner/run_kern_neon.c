/* run_kern_neon.c - NEON kernels (aarch64, where Advanced SIMD is part of the base ISA, so the
 * "run-time choice" is always yes on that architecture). Only baseline instructions are used
 * (no dot-product extension), so the same binary runs on every ARMv8-A phone; the set with
 * sdot is run_kern_neondot.c and shares the float kernels here. */
#include <stddef.h>

#include "run_kern.h"
#include "run_kern_arm.h"

#if defined(__aarch64__)
#include <arm_neon.h>

/* One 32-weight plane: c (0..3) x q, four widening multiply-adds into int16 (|lane| <= 4*381). */
static inline int16x8_t plane(uint8x16_t c0, uint8x16_t c1, const int8_t *q)
{
    int8x16_t const q0 = vld1q_s8(q), q1 = vld1q_s8(q + 16);
    int8x16_t const s0 = vreinterpretq_s8_u8(c0), s1 = vreinterpretq_s8_u8(c1);
    int16x8_t p = vmull_s8(vget_low_s8(s0), vget_low_s8(q0));
    p = vmlal_s8(p, vget_high_s8(s0), vget_high_s8(q0));
    p = vmlal_s8(p, vget_low_s8(s1), vget_low_s8(q1));
    return vmlal_s8(p, vget_high_s8(s1), vget_high_s8(q1));
}

static int32_t neon_t2_dot(const uint8_t *codes, const int8_t *q, uint64_t n_blocks)
{
    uint8x16_t const m3 = vdupq_n_u8(3);
    int32x4_t acc = vdupq_n_s32(0);
    for (uint64_t b = 0; b < n_blocks; b++, codes += 32, q += 128) {
        uint8x16_t const v0 = vld1q_u8(codes), v1 = vld1q_u8(codes + 16);
        /* 4 planes x 4 products per int16 lane: |sum| <= 16 * 381 < 2^15 */
        int16x8_t s = plane(vandq_u8(v0, m3), vandq_u8(v1, m3), q);
        s = vaddq_s16(s, plane(vandq_u8(vshrq_n_u8(v0, 2), m3), vandq_u8(vshrq_n_u8(v1, 2), m3), q + 32));
        s = vaddq_s16(s, plane(vandq_u8(vshrq_n_u8(v0, 4), m3), vandq_u8(vshrq_n_u8(v1, 4), m3), q + 64));
        s = vaddq_s16(s, plane(vshrq_n_u8(v0, 6), vshrq_n_u8(v1, 6), q + 96));
        acc = vpadalq_s16(acc, s);
    }
    return vaddvq_s32(acc);
}

static void neon_t2_dot_n(const uint8_t *codes, const int8_t *q, uint64_t q_stride, uint32_t n_tok, uint64_t n_blocks,
                          int32_t *out)
{
    uint8x16_t const m3 = vdupq_n_u8(3);
    int32x4_t acc[4] = {vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0)};
    uint32_t const n = n_tok > 4 ? 4 : n_tok;
    for (uint64_t b = 0; b < n_blocks; b++, codes += 32) {
        uint8x16_t const v0 = vld1q_u8(codes), v1 = vld1q_u8(codes + 16);
        uint8x16_t const a0 = vandq_u8(v0, m3), a1 = vandq_u8(v1, m3);
        uint8x16_t const b0 = vandq_u8(vshrq_n_u8(v0, 2), m3), b1 = vandq_u8(vshrq_n_u8(v1, 2), m3);
        uint8x16_t const c0 = vandq_u8(vshrq_n_u8(v0, 4), m3), c1 = vandq_u8(vshrq_n_u8(v1, 4), m3);
        uint8x16_t const d0 = vshrq_n_u8(v0, 6), d1 = vshrq_n_u8(v1, 6);
        _Pragma("GCC unroll 4") for (uint32_t j = 0; j < n; j++) {
            const int8_t *qj = q + j * q_stride + b * 128;
            int16x8_t s = plane(a0, a1, qj);
            s = vaddq_s16(s, plane(b0, b1, qj + 32));
            s = vaddq_s16(s, plane(c0, c1, qj + 64));
            s = vaddq_s16(s, plane(d0, d1, qj + 96));
            acc[j] = vpadalq_s16(acc[j], s);
        }
    }
    _Pragma("GCC unroll 4") for (uint32_t j = 0; j < n; j++) out[j] = vaddvq_s32(acc[j]);
}

static void neon_t2_gemv(const uint8_t *codes, uint64_t n_rows, const int8_t *q, uint64_t n_blocks, int32_t *out)
{
    for (uint64_t r = 0; r < n_rows; r++) out[r] = neon_t2_dot(codes + r * n_blocks * 32, q, n_blocks);
}

static void neon_t2_dot_chunks(const uint8_t *codes, const int8_t *q, uint64_t n_blocks, int32_t *out)
{
    uint8x16_t const m3 = vdupq_n_u8(3);
    for (uint64_t b = 0; b < n_blocks; b++, codes += 32, q += 128, out += 4) {
        uint8x16_t const v0 = vld1q_u8(codes), v1 = vld1q_u8(codes + 16);
        out[0] = vaddlvq_s16(plane(vandq_u8(v0, m3), vandq_u8(v1, m3), q));
        out[1] = vaddlvq_s16(plane(vandq_u8(vshrq_n_u8(v0, 2), m3), vandq_u8(vshrq_n_u8(v1, 2), m3), q + 32));
        out[2] = vaddlvq_s16(plane(vandq_u8(vshrq_n_u8(v0, 4), m3), vandq_u8(vshrq_n_u8(v1, 4), m3), q + 64));
        out[3] = vaddlvq_s16(plane(vshrq_n_u8(v0, 6), vshrq_n_u8(v1, 6), q + 96));
    }
}

/* One float row: two accumulators over 8-value steps, the pairwise sum, the scalar tail in
 * order. gemv_* runs rows one at a time, so its rows are dot_*'s bit for bit. */
#define RUN_NEON_ROW(NAME, T, LOAD4, CVT1)                                                         \
    static inline __attribute__((always_inline)) float NAME(const T *w, const float *x, uint64_t cols) \
    {                                                                                            \
        float32x4_t a0 = vdupq_n_f32(0), a1 = vdupq_n_f32(0);                                    \
        uint64_t i = 0;                                                                          \
        for (; i + 8 <= cols; i += 8) {                                                          \
            a0 = vfmaq_f32(a0, LOAD4(w + i), vld1q_f32(x + i));                                  \
            a1 = vfmaq_f32(a1, LOAD4(w + i + 4), vld1q_f32(x + i + 4));                          \
        }                                                                                        \
        float s = vaddvq_f32(vaddq_f32(a0, a1));                                                 \
        for (; i < cols; i++) s += CVT1(w[i]) * x[i];                                            \
        return s;                                                                                \
    }

static inline float32x4_t f32x4(const float *w) { return vld1q_f32(w); }
static inline float32x4_t f16x4(const uint16_t *w) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(w))); }
static inline float32x4_t bf16x4(const uint16_t *w) { return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(w), 16)); }
static inline float f32_1(float v) { return v; }
static inline float f16_1(uint16_t v) { return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(v))), 0); }
static inline float bf16_1(uint16_t v)
{
    union { uint32_t u; float f; } const c = {(uint32_t)v << 16};
    return c.f;
}

RUN_NEON_ROW(row_f32, float, f32x4, f32_1)
RUN_NEON_ROW(row_f16, uint16_t, f16x4, f16_1)
RUN_NEON_ROW(row_bf16, uint16_t, bf16x4, bf16_1)

#define RUN_NEON_FLOAT(SUF, T, ROW)                                                                  \
    float run__neon_dot_##SUF(const T *w, const float *x, uint64_t n) { return ROW(w, x, n); }          \
    void run__neon_gemv_##SUF(const T *w, uint64_t n_rows, uint64_t cols, const float *x, float *out)   \
    {                                                                                               \
        for (uint64_t r = 0; r < n_rows; r++) out[r] = ROW(w + r * cols, x, cols);                  \
    }

RUN_NEON_FLOAT(f32, float, row_f32)
RUN_NEON_FLOAT(f16, uint16_t, row_f16)
RUN_NEON_FLOAT(bf16, uint16_t, row_bf16)

/* int8 x int8: widening multiplies into int16 (|product| <= 128 * 128), pairwise into int32. */
static void neon_i8_gemv(const int8_t *w, uint64_t n_rows, uint64_t cols, const int8_t *q, int32_t *out)
{
    for (uint64_t r = 0; r < n_rows; r++, w += cols) {
        int32x4_t acc = vdupq_n_s32(0);
        uint64_t i = 0;
        for (; i + 16 <= cols; i += 16) {
            int8x16_t const wv = vld1q_s8(w + i), qv = vld1q_s8(q + i);
            acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(wv), vget_low_s8(qv)));
            acc = vpadalq_s16(acc, vmull_s8(vget_high_s8(wv), vget_high_s8(qv)));
        }
        int32_t s = vaddvq_s32(acc);
        for (; i < cols; i++) s += (int32_t)w[i] * q[i];
        out[r] = s;
    }
}

void run__neon_axpy_f32(float *y, float a, const float *x, uint64_t n)
{
    uint64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vfmaq_n_f32(vld1q_f32(y + i), vld1q_f32(x + i), a));
    for (; i < n; i++) y[i] += a * x[i];
}

/* Prefill: row by row, four tokens per call (the unpacked codes serve those four). */
static void neon_t2_gemm(const uint8_t *codes, uint64_t n_rows, uint64_t n_blocks, const int8_t *q, uint64_t q_stride, uint32_t n_tok,
                        int32_t *out, uint64_t ld_out)
{
    run__t2_gemm_by_dot_n(neon_t2_dot_n, codes, n_rows, n_blocks, q, q_stride, n_tok, out, ld_out);
}

static const run_kern neon_kern = {"neon",
                                   neon_t2_dot,
                                   neon_t2_dot_n,
                                   neon_t2_gemv,
                                   neon_t2_dot_chunks,
                                   run__neon_dot_f32,
                                   run__neon_dot_f16,
                                   run__neon_dot_bf16,
                                   run__neon_axpy_f32,
                                   run__neon_gemv_f32,
                                   run__neon_gemv_f16,
                                   run__neon_gemv_bf16,
                                   neon_i8_gemv,
                                   neon_t2_gemm};

const run_kern *run_kern_neon(void) { return &neon_kern; }

#else
const run_kern *run_kern_neon(void) { return NULL; }
#endif
