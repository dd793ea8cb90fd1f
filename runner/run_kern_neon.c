/* run_kern_neon.c - NEON kernels (aarch64, where Advanced SIMD is part of the base ISA, so the
 * "run-time choice" is always yes on that architecture). Only baseline instructions are used
 * (no dot-product extension), so the same binary runs on every ARMv8-A phone. */
#include <stddef.h>

#include "run_kern.h"

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
        for (uint32_t j = 0; j < n; j++) {
            const int8_t *qj = q + j * q_stride + b * 128;
            int16x8_t s = plane(a0, a1, qj);
            s = vaddq_s16(s, plane(b0, b1, qj + 32));
            s = vaddq_s16(s, plane(c0, c1, qj + 64));
            s = vaddq_s16(s, plane(d0, d1, qj + 96));
            acc[j] = vpadalq_s16(acc[j], s);
        }
    }
    for (uint32_t j = 0; j < n; j++) out[j] = vaddvq_s32(acc[j]);
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

static float neon_dot_f32(const float *w, const float *x, uint64_t n)
{
    float32x4_t a0 = vdupq_n_f32(0), a1 = vdupq_n_f32(0);
    uint64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        a0 = vfmaq_f32(a0, vld1q_f32(w + i), vld1q_f32(x + i));
        a1 = vfmaq_f32(a1, vld1q_f32(w + i + 4), vld1q_f32(x + i + 4));
    }
    float s = vaddvq_f32(vaddq_f32(a0, a1));
    for (; i < n; i++) s += w[i] * x[i];
    return s;
}

static float neon_dot_f16(const uint16_t *w, const float *x, uint64_t n)
{
    float32x4_t a0 = vdupq_n_f32(0), a1 = vdupq_n_f32(0);
    uint64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        float16x8_t const h = vreinterpretq_f16_u16(vld1q_u16(w + i));
        a0 = vfmaq_f32(a0, vcvt_f32_f16(vget_low_f16(h)), vld1q_f32(x + i));
        a1 = vfmaq_f32(a1, vcvt_f32_f16(vget_high_f16(h)), vld1q_f32(x + i + 4));
    }
    float s = vaddvq_f32(vaddq_f32(a0, a1));
    for (; i < n; i++) {
        float16x4_t const h = vreinterpret_f16_u16(vdup_n_u16(w[i]));
        s += vgetq_lane_f32(vcvt_f32_f16(h), 0) * x[i];
    }
    return s;
}

static float neon_dot_bf16(const uint16_t *w, const float *x, uint64_t n)
{
    float32x4_t a0 = vdupq_n_f32(0), a1 = vdupq_n_f32(0);
    uint64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint16x8_t const h = vld1q_u16(w + i);
        float32x4_t const w0 = vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(h), 16));
        float32x4_t const w1 = vreinterpretq_f32_u32(vshll_n_u16(vget_high_u16(h), 16));
        a0 = vfmaq_f32(a0, w0, vld1q_f32(x + i));
        a1 = vfmaq_f32(a1, w1, vld1q_f32(x + i + 4));
    }
    float s = vaddvq_f32(vaddq_f32(a0, a1));
    for (; i < n; i++) {
        union { uint32_t u; float f; } const c = {(uint32_t)w[i] << 16};
        s += c.f * x[i];
    }
    return s;
}

static void neon_axpy_f32(float *y, float a, const float *x, uint64_t n)
{
    uint64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vfmaq_n_f32(vld1q_f32(y + i), vld1q_f32(x + i), a));
    for (; i < n; i++) y[i] += a * x[i];
}

static const run_kern neon_kern = {"neon", neon_t2_dot, neon_t2_dot_n, neon_t2_gemv, neon_t2_dot_chunks, neon_dot_f32, neon_dot_f16, neon_dot_bf16, neon_axpy_f32};

const run_kern *run_kern_neon(void) { return &neon_kern; }

#else
const run_kern *run_kern_neon(void) { return NULL; }
#endif
