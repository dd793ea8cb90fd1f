/*
 * run_blk_neon_body.h - the NEON block kernels, included twice by run_blk_neon.c: once with the
 * baseline int8 dot (widening multiplies, pairwise adds) and once with the dot-product
 * extension's sdot, so both sets share one body. The includer defines:
 *   BLK_FN(name)       the function name for this set
 *   BLK_ATTR           the set's target attribute (empty for the baseline)
 *   BLK_DOT(acc, a, b) acc (int32x4) plus the products of 16 int8 pairs, exactly
 * Every block's integer sum is exact; the per-block floats are the reference's (run_blk_int.h),
 * added in block order, so both sets return the reference's bits.
 */

/* MXFP4 and Q8_0 blocks: 32 weights (two int8x16) against 32 activations. */
BLK_ATTR static inline int32_t BLK_FN(dot32)(int8x16_t w0, int8x16_t w1, const uint8_t *a)
{
    int32x4_t acc = BLK_DOT(vdupq_n_s32(0), w0, vld1q_s8((const int8_t *)(const void *)a));
    acc = BLK_DOT(acc, w1, vld1q_s8((const int8_t *)(const void *)(a + 16)));
    return vaddvq_s32(acc);
}

BLK_ATTR static float BLK_FN(dot_q8_0)(const void *row, const void *act, uint64_t cols)
{
    const uint8_t *w = row, *a = act;
    float sum = 0.0f;
    for (uint64_t i = 0; i < cols / 32; i++, w += 34, a += RUN_BLK_Q8_0_BYTES) {
        int8x16_t const w0 = vld1q_s8((const int8_t *)(const void *)(w + 2)), w1 = vld1q_s8((const int8_t *)(const void *)(w + 18));
        sum += run__blk_q8_0_val(neon_f16(w), neon_f16(a), BLK_FN(dot32)(w0, w1, a + 2));
    }
    return sum;
}

BLK_ATTR static float BLK_FN(dot_mxfp4)(const void *row, const void *act, uint64_t cols)
{
    const uint8_t *w = row, *a = act;
    int8x16_t const table = vld1q_s8(run__blk_kvalues_mxfp4);
    uint8x16_t const m4 = vdupq_n_u8(0x0f);
    float sum = 0.0f;
    for (uint64_t i = 0; i < cols / 32; i++, w += 17, a += RUN_BLK_Q8_0_BYTES) {
        uint8x16_t const qs = vld1q_u8(w + 1);
        int8x16_t const lo = vqtbl1q_s8(table, vandq_u8(qs, m4)), hi = vqtbl1q_s8(table, vshrq_n_u8(qs, 4));
        sum += run__blk_mxfp4_val(neon_f16(a), w[0], BLK_FN(dot32)(lo, hi, a + 2));
    }
    return sum;
}

BLK_ATTR static float BLK_FN(dot_q4_k)(const void *row, const void *act, uint64_t cols)
{
    const uint8_t *w = row, *a = act;
    uint8x16_t const m4 = vdupq_n_u8(0x0f);
    int32x4_t const zero = vdupq_n_s32(0);
    float sum = 0.0f;
    for (uint64_t i = 0; i < cols / 256; i++, w += 144, a += RUN_BLK_Q8K_BYTES) {
        uint8_t sm[16];
        run__blk_q4k_scales(w + 4, sm);
        const uint8_t *sc = sm, *mn = sm + 8;
        const int8_t *q8 = (const int8_t *)(const void *)(a + RUN_BLK_Q8K_QS);
        int32x4_t acc = zero;
        for (unsigned g = 0; g < 4; g++) {
            uint8x16_t const v0 = vld1q_u8(w + 16 + 32 * g), v1 = vld1q_u8(w + 32 + 32 * g);
            int32x4_t lo = BLK_DOT(zero, vreinterpretq_s8_u8(vandq_u8(v0, m4)), vld1q_s8(q8 + 64 * g));
            lo = BLK_DOT(lo, vreinterpretq_s8_u8(vandq_u8(v1, m4)), vld1q_s8(q8 + 64 * g + 16));
            int32x4_t hi = BLK_DOT(zero, vreinterpretq_s8_u8(vshrq_n_u8(v0, 4)), vld1q_s8(q8 + 64 * g + 32));
            hi = BLK_DOT(hi, vreinterpretq_s8_u8(vshrq_n_u8(v1, 4)), vld1q_s8(q8 + 64 * g + 48));
            acc = vmlaq_n_s32(acc, lo, sc[2 * g]);
            acc = vmlaq_n_s32(acc, hi, sc[2 * g + 1]);
        }
        /* min term: bsums paired into the 8 sub-block sums (|sum| <= 32 * 127), times the mins */
        const int16_t *bs = (const int16_t *)(const void *)(a + RUN_BLK_Q8K_BSUMS);
        int16x8_t const b = vpaddq_s16(vld1q_s16(bs), vld1q_s16(bs + 8));
        int16x8_t const m = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(mn)));
        int32x4_t const mm = vmlal_high_s16(vmull_s16(vget_low_s16(b), vget_low_s16(m)), b, m);
        sum += run__blk_q4k_val(neon_f16(w), neon_f16(w + 2), run__blk_q8k_d(a), vaddvq_s32(acc), vaddvq_s32(mm));
    }
    return sum;
}

/* Q6_K: for l < 32 of half h, weight l + 32k is (ql[64h + l + 32(k & 1)] >> 4(k >> 1)) & 15
 * with bits 2k+1:2k of qh[32h + l] on top, unsigned 0..63; the -32 comes back as 32 times the
 * scale-weighted bsums. Bytes 16c..16c+16 of a quarter are sub-block 8h + 2k + c. */
BLK_ATTR static float BLK_FN(dot_q6_k)(const void *row, const void *act, uint64_t cols)
{
    const uint8_t *w = row, *a = act;
    uint8x16_t const m4 = vdupq_n_u8(0x0f), m30 = vdupq_n_u8(0x30);
    int32x4_t const zero = vdupq_n_s32(0);
    float sum = 0.0f;
    for (uint64_t i = 0; i < cols / 256; i++, w += 210, a += RUN_BLK_Q8K_BYTES) {
        const int8_t *sc = (const int8_t *)(const void *)(w + 192);
        const int8_t *q8 = (const int8_t *)(const void *)(a + RUN_BLK_Q8K_QS);
        int32x4_t acc = zero;
        for (unsigned h = 0; h < 2; h++)
            for (unsigned c = 0; c < 2; c++) {
                uint8x16_t const l0 = vld1q_u8(w + 64 * h + 16 * c), l1 = vld1q_u8(w + 64 * h + 32 + 16 * c);
                uint8x16_t const qh = vld1q_u8(w + 128 + 32 * h + 16 * c);
                uint8x16_t q[4];
                q[0] = vorrq_u8(vandq_u8(l0, m4), vandq_u8(vshlq_n_u8(qh, 4), m30));
                q[1] = vorrq_u8(vandq_u8(l1, m4), vandq_u8(vshlq_n_u8(qh, 2), m30));
                q[2] = vorrq_u8(vshrq_n_u8(l0, 4), vandq_u8(qh, m30));
                q[3] = vorrq_u8(vshrq_n_u8(l1, 4), vandq_u8(vshrq_n_u8(qh, 2), m30));
                for (unsigned k = 0; k < 4; k++) {
                    int32x4_t const p = BLK_DOT(zero, vreinterpretq_s8_u8(q[k]), vld1q_s8(q8 + 128 * h + 32 * k + 16 * c));
                    acc = vmlaq_n_s32(acc, p, sc[8 * h + 2 * k + c]);
                }
            }
        const int16_t *bs = (const int16_t *)(const void *)(a + RUN_BLK_Q8K_BSUMS);
        int8x16_t const s8 = vld1q_s8(sc);
        int16x8_t const s0 = vmovl_s8(vget_low_s8(s8)), s1 = vmovl_high_s8(s8), b0 = vld1q_s16(bs), b1 = vld1q_s16(bs + 8);
        int32x4_t corr = vmull_s16(vget_low_s16(s0), vget_low_s16(b0));
        corr = vmlal_high_s16(corr, s0, b0);
        corr = vmlal_s16(corr, vget_low_s16(s1), vget_low_s16(b1));
        corr = vmlal_high_s16(corr, s1, b1);
        int32_t const isum = vaddvq_s32(acc) - 32 * vaddvq_s32(corr);
        sum += run__blk_q6k_val(neon_f16(w + 208), run__blk_q8k_d(a), isum);
    }
    return sum;
}
