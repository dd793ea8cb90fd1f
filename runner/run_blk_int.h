/*
 * run_blk_int.h - private to runner/'s block-kernel files (run_blk_ref.c, run_blk_avx2.c,
 * run_blk_neon.c): byte layouts of ggml's blocks and of the quantized activations, and the
 * small decoders every kernel set shares, so a set can only differ from the reference in how it
 * computes the integer block sums (which are exact), never in the per-block float factors.
 *
 * Layouts (llama.cpp ggml/src/ggml-common.h: block_q8_0, block_q4_K, block_q6_K, block_mxfp4,
 * block_q8_K and their static_asserts on sizeof):
 *   q8_0  34 B: f16 d | int8 qs[32]
 *   q4_K 144 B: f16 d | f16 dmin | u8 scales[12] | u8 qs[128]
 *   q6_K 210 B: u8 ql[128] | u8 qh[64] | int8 scales[16] | f16 d
 *   mxfp4 17 B: u8 e (E8M0) | u8 qs[16]
 *   q8_K 292 B: f32 d | int8 qs[256] | int16 bsums[16]   (activations only; host byte order)
 *
 * Every set forms the result the same way: per block an exact integer sum, then one float per
 * block computed by run__blk_* below in a fixed order of float operations, then the blocks'
 * floats added in block order. So all sets return the reference's float bit for bit.
 */
#ifndef RUN_BLK_INT_H
#define RUN_BLK_INT_H

#include <stdint.h>
#include <string.h>

#include "run_blk.h"
#include "trit.h"
#include "trit_cursor.h"

#define RUN_BLK_Q8_0_BYTES 34u   /* a q8_0 activation block (the same layout as the weights') */
#define RUN_BLK_Q8K_BYTES 292u   /* a q8_K activation block */
#define RUN_BLK_Q8K_QS 4u        /* offset of qs in a q8_K block */
#define RUN_BLK_Q8K_BSUMS 260u   /* offset of bsums */

/* ggml-common.h kvalues_mxfp4: the E2M1 values doubled (0, 0.5, 1, 1.5, 2, 3, 4, 6 and their
 * negatives, times 2), so they are integers; the block scale is halved to match
 * (run__blk_e8m0_half). Defined in run_blk_ref.c. */
extern const int8_t run__blk_kvalues_mxfp4[16];

/* ggml-impl.h ggml_e8m0_to_fp32_half: 2^(e - 128) as a float; e 0 and 1 are the subnormals
 * 2^-128 and 2^-127. ggml does not treat e = 255 (NaN in the OCP MX spec) specially: it gives
 * 2^127, and so does this. */
static inline float run__blk_e8m0_half(uint8_t e)
{
    uint32_t const bits = e < 2 ? 0x00200000u << e : (uint32_t)(e - 1) << 23;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static inline float run__blk_f16(const uint8_t *p) { return trit_f16_to_f32(trit_load_le16(p)); }

/* ggml-quants.c get_scale_min_k4, all eight at once: the 6-bit scales (sm[0..8)) and mins
 * (sm[8..16)) of the 32-weight sub-blocks of a Q4_K block from its 12 packed bytes q. Entries
 * j = 0-3 are the low 6 bits of bytes j (scale) and j+4 (min); entries j = 4-7 take their low
 * 4 bits from the nibbles of byte j+4 (low: scale, high: min) and their top 2 bits from bits
 * 7:6 of bytes j-4 (scale) and j (min). Computed on 32-bit words, the kmask form of
 * ggml-cpu/quants.c's q4_K dot. */
static inline void run__blk_q4k_scales(const uint8_t *q, uint8_t sm[16])
{
    uint32_t const w0 = trit_load_le32(q), w1 = trit_load_le32(q + 4), w2 = trit_load_le32(q + 8);
    uint32_t const u[4] = {w0 & 0x3f3f3f3fu, (w2 & 0x0f0f0f0fu) | (((w0 >> 6) & 0x03030303u) << 4), w1 & 0x3f3f3f3fu,
                           ((w2 >> 4) & 0x0f0f0f0fu) | (((w1 >> 6) & 0x03030303u) << 4)};
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(sm, u, sizeof u); /* one store; the byte loop below is not folded by compilers */
#else
    for (unsigned i = 0; i < 4; i++)
        for (unsigned b = 0; b < 4; b++) sm[4 * i + b] = (uint8_t)(u[i] >> (8 * b));
#endif
}

/* The activation scale of a q8_K block. */
static inline float run__blk_q8k_d(const uint8_t *blk)
{
    float d;
    memcpy(&d, blk, sizeof d);
    return d;
}

/* Per-block floats. Each product is its own statement so no compiler contracts it into an FMA
 * with the running sum (clang contracts within an expression by default): every set, with or
 * without FMA, rounds the same operations. */

/* ggml_vec_dot_q8_0_q8_0: sumi * (dx * dy). */
static inline float run__blk_q8_0_val(float dx, float dy, int32_t sumi)
{
    float const s = dx * dy;
    float const v = (float)sumi * s;
    return v;
}

/* ggml_vec_dot_mxfp4_q8_0: (dy * e8m0_half(e)) * sumi. */
static inline float run__blk_mxfp4_val(float dy, uint8_t e, int32_t sumi)
{
    float const d = dy * run__blk_e8m0_half(e);
    float const v = d * (float)sumi;
    return v;
}

/* ggml_vec_dot_q4_K_q8_K: (dx * dy) * isum - (dmin * dy) * summ, where isum sums scale times
 * the nibble dot of each sub-block and summ sums min times the activation sums (bsums). */
static inline float run__blk_q4k_val(float dx, float dmin, float dy, int32_t isum, int32_t summ)
{
    float const d = dx * dy, m = dmin * dy;
    float const a = d * (float)isum;
    float const b = m * (float)summ;
    float const v = a - b;
    return v;
}

/* ggml_vec_dot_q6_K_q8_K: (dx * dy) * isum, isum summing the signed 8-bit scale times the dot
 * of (q6 - 32) with the activations of each 16-weight sub-block. */
static inline float run__blk_q6k_val(float dx, float dy, int32_t isum)
{
    float const d = dx * dy;
    float const v = d * (float)isum;
    return v;
}

#endif /* RUN_BLK_INT_H */
