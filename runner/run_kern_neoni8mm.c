/* run_kern_neoni8mm.c - the prefill t2 kernel with the int8 matrix multiply extension (FEAT_I8MM,
 * ARMv8.6-A; recent phone cores): smmla multiplies a 2 x 8 int8 matrix by another's transpose
 * into a 2 x 2 int32 tile, 32 products per instruction where sdot does 16. The weight side holds
 * 8 codes (0..3, valid signed bytes) of two rows, the activation side 8 values of two tokens, so
 * a tile of 4 rows x 8 tokens keeps 8 accumulators of 2 x 2 sums. Exact integers: the results
 * are every set's t2_dot. The rest of the set is the dot-product set's (run_kern_neondot.c,
 * which builds the table "neoni8mm" when the CPU reports both extensions). */
#include <stddef.h>

#include "run_kern.h"

#if defined(__aarch64__) && defined(__GNUC__) && (!defined(__clang__) || defined(__ARM_FEATURE_MATMUL_INT8))
#include <arm_neon.h>

#include "run_kern_arm.h"

#define RUN_MM __attribute__((target("arch=armv8.6-a+i8mm")))

/* Plane k of the block at codes (32 codes: weights [32k, 32k+32)) as two 16-byte halves. */
RUN_MM static inline __attribute__((always_inline)) void plane(const uint8_t *codes, int k, int8x16_t *lo, int8x16_t *hi)
{
    uint8x16_t const m3 = vdupq_n_u8(3);
    uint8x16_t v0 = vld1q_u8(codes), v1 = vld1q_u8(codes + 16);
    if (k == 1) { v0 = vshrq_n_u8(v0, 2); v1 = vshrq_n_u8(v1, 2); }
    if (k == 2) { v0 = vshrq_n_u8(v0, 4); v1 = vshrq_n_u8(v1, 4); }
    if (k == 3) { v0 = vshrq_n_u8(v0, 6); v1 = vshrq_n_u8(v1, 6); }
    *lo = vreinterpretq_s8_u8(vandq_u8(v0, m3));
    *hi = vreinterpretq_s8_u8(vandq_u8(v1, m3));
}

/* [a bytes 0-7 | b bytes 0-7] and [a bytes 8-15 | b bytes 8-15]: two rows (or tokens) of 8 */
#define ZIP1(a, b) vreinterpretq_s8_s64(vzip1q_s64(vreinterpretq_s64_s8(a), vreinterpretq_s64_s8(b)))
#define ZIP2(a, b) vreinterpretq_s8_s64(vzip2q_s64(vreinterpretq_s64_s8(a), vreinterpretq_s64_s8(b)))

/* 4 rows (2 pairs) x 8 tokens (4 pairs): acc[rp][tp] lanes = (r0,t0) (r0,t1) (r1,t0) (r1,t1). */
RUN_MM static void tile_4x8(const uint8_t *codes, uint64_t nb, const int8_t *q, uint64_t qs, int32_t *out, uint64_t ld)
{
    int32x4_t acc[2][4];
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 4; b++) acc[a][b] = vdupq_n_s32(0);
    for (uint64_t blk = 0; blk < nb; blk++)
        for (int k = 0; k < 4; k++) {
            int8x16_t w[2][4]; /* per row pair: cols 0-7, 8-15, 16-23, 24-31 of the plane */
            for (int rp = 0; rp < 2; rp++) {
                int8x16_t l0, h0, l1, h1;
                plane(codes + ((2 * rp) * nb + blk) * 32, k, &l0, &h0);
                plane(codes + ((2 * rp + 1) * nb + blk) * 32, k, &l1, &h1);
                w[rp][0] = ZIP1(l0, l1);
                w[rp][1] = ZIP2(l0, l1);
                w[rp][2] = ZIP1(h0, h1);
                w[rp][3] = ZIP2(h0, h1);
            }
            for (int tp = 0; tp < 4; tp++) {
                const int8_t *q0 = q + (2 * tp) * qs + blk * 128 + 32 * k, *q1 = q0 + qs;
                for (int h = 0; h < 2; h++) {
                    int8x16_t const a = vld1q_s8(q0 + 16 * h), b = vld1q_s8(q1 + 16 * h);
                    int8x16_t const x0 = ZIP1(a, b), x1 = ZIP2(a, b);
                    for (int rp = 0; rp < 2; rp++) {
                        acc[rp][tp] = vmmlaq_s32(acc[rp][tp], w[rp][2 * h], x0);
                        acc[rp][tp] = vmmlaq_s32(acc[rp][tp], w[rp][2 * h + 1], x1);
                    }
                }
            }
        }
    for (int rp = 0; rp < 2; rp++)
        for (int tp = 0; tp < 4; tp++) {
            int32_t s[4];
            vst1q_s32(s, acc[rp][tp]);
            out[(2 * tp) * ld + 2 * rp] = s[0];
            out[(2 * tp + 1) * ld + 2 * rp] = s[1];
            out[(2 * tp) * ld + 2 * rp + 1] = s[2];
            out[(2 * tp + 1) * ld + 2 * rp + 1] = s[3];
        }
}

RUN_MM void run__neon_i8mm_t2_gemm(const uint8_t *codes, uint64_t n_rows, uint64_t n_blocks, const int8_t *q, uint64_t q_stride,
                                   uint32_t n_tok, int32_t *out, uint64_t ld_out,
                                   void (*dot_n)(const uint8_t *, const int8_t *, uint64_t, uint32_t, uint64_t, int32_t *))
{
    uint64_t r = 0;
    uint32_t const nfull = n_tok - n_tok % 8;
    for (; r + 4 <= n_rows; r += 4) {
        for (uint32_t t = 0; t < nfull; t += 8)
            tile_4x8(codes + r * n_blocks * 32, n_blocks, q + t * q_stride, q_stride, out + t * ld_out + r, ld_out);
        if (nfull < n_tok)
            run__t2_gemm_by_dot_n(dot_n, codes + r * n_blocks * 32, 4, n_blocks, q + nfull * q_stride, q_stride, n_tok - nfull,
                                  out + nfull * ld_out + r, ld_out);
    }
    if (r < n_rows) run__t2_gemm_by_dot_n(dot_n, codes + r * n_blocks * 32, n_rows - r, n_blocks, q, q_stride, n_tok, out + r, ld_out);
}

#endif
