/* run_blk_ref.c - the portable C block kernels (run_blk.h): geometry, llama.cpp's activation
 * quantizers, the dequantizers and the reference dot products every SIMD set is tested against.
 *
 * Sources (llama.cpp, ggml-org/llama.cpp): ggml/src/ggml-quants.c (quantize_row_q8_0_ref,
 * quantize_row_q8_K_ref, nearest_int, get_scale_min_k4, dequantize_row_q8_0 / q4_K / q6_K /
 * mxfp4), ggml/src/ggml-cpu/quants.c (ggml_vec_dot_q8_0_q8_0_generic, _q4_K_q8_K_generic,
 * _q6_K_q8_K_generic, _mxfp4_q8_0_generic; quantize_row_q8_0_generic and _q8_K_generic call the
 * _ref quantizers), ggml/src/ggml-common.h (block layouts, kvalues_mxfp4), ggml/src/ggml-impl.h
 * (ggml_e8m0_to_fp32_half, the round-to-nearest-even FP32 -> FP16). The dot products keep
 * ggml's integer sums and per-block float factors; where ggml's generic code spreads a block
 * over 8 float lanes (q4_K, q6_K) this sums the block's integers first and adds one float per
 * block, the order every kernel set here uses (run_blk_int.h). */
#include <math.h>

#include "run_blk_int.h"

const int8_t run__blk_kvalues_mxfp4[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

static const uint32_t blk_elems[RUN_BLK_N] = {32, 256, 256, 32};
static const uint32_t blk_bytes[RUN_BLK_N] = {34, 144, 210, 17};

uint32_t run_blk_elems(run_blk_type t) { return (unsigned)t < RUN_BLK_N ? blk_elems[t] : 0; }
uint32_t run_blk_bytes(run_blk_type t) { return (unsigned)t < RUN_BLK_N ? blk_bytes[t] : 0; }

/* Q4_K and Q6_K dot with q8_K activations (their vec_dot_type in ggml-cpu.c's type traits),
 * Q8_0 and MXFP4 with q8_0. */
static int act_is_q8k(run_blk_type t) { return t == RUN_BLK_Q4_K || t == RUN_BLK_Q6_K; }

size_t run_blk_act_bytes(run_blk_type t, uint64_t cols)
{
    if ((unsigned)t >= RUN_BLK_N) return 0;
    return act_is_q8k(t) ? (size_t)(cols / 256) * RUN_BLK_Q8K_BYTES : (size_t)(cols / 32) * RUN_BLK_Q8_0_BYTES;
}

/* ggml-quants.c nearest_int: adding 1.5 * 2^23 leaves round-to-nearest-even of fval in the low
 * mantissa bits (valid for |fval| <= 2^22, which |iscale * x| <= 127 is). Kept as the same bit
 * trick rather than rintf so a NaN gives ggml's answer too (0 for the default quiet NaN). */
static int nearest_int(float fval)
{
    float const val = fval + 12582912.f;
    int32_t i;
    memcpy(&i, &val, sizeof i);
    return (i & 0x007fffff) - 0x00400000;
}

/* quantize_row_q8_0_ref: d = amax / 127 stored as f16; q = roundf(x * (1 / d)) with the float d
 * (not the f16 one), halfway cases away from zero. For finite x, |x / d| <= 127 up to two
 * roundings, so roundf stays within [-127, 127]. llama.cpp converts the float to int8 directly,
 * which C leaves undefined when it is NaN or out of range (a NaN x, or an amax so small that
 * 1 / d overflows): here NaN gives 0 and the rest saturates to +-127, so the bytes are defined. */
static void quant_q8_0(const float *x, uint64_t nb, uint8_t *out)
{
    for (uint64_t i = 0; i < nb; i++, x += 32, out += RUN_BLK_Q8_0_BYTES) {
        float amax = 0.0f;
        for (unsigned j = 0; j < 32; j++) {
            float const ax = fabsf(x[j]);
            amax = amax > ax ? amax : ax; /* ggml's MAX(amax, fabsf(v)), NaN handling included */
        }
        float const d = amax / 127.0f;
        float const id = d != 0.0f ? 1.0f / d : 0.0f;
        uint16_t const h = trit_f32_to_f16(d);
        out[0] = (uint8_t)(h & 0xff);
        out[1] = (uint8_t)(h >> 8);
        for (unsigned j = 0; j < 32; j++) {
            float const r = roundf(x[j] * id);
            int const q = r != r ? 0 : r >= 127.0f ? 127 : r <= -127.0f ? -127 : (int)r;
            out[2 + j] = (uint8_t)(int8_t)q;
        }
    }
}

/* quantize_row_q8_K_ref: max is the first x of largest |x| (sign kept), iscale = -127 / max,
 * q = min(127, nearest_int(iscale * x)), d = 1 / iscale as f32, bsums[j] = the sum of q over
 * weights [16j, 16j + 16). ggml leaves bsums unwritten for an all-zero block; here they are 0,
 * which changes nothing (d is 0) but keeps the bytes deterministic. */
static void quant_q8_k(const float *x, uint64_t nb, uint8_t *out)
{
    for (uint64_t i = 0; i < nb; i++, x += 256, out += RUN_BLK_Q8K_BYTES) {
        float max = 0.0f, amax = 0.0f;
        for (unsigned j = 0; j < 256; j++) {
            float const ax = fabsf(x[j]);
            if (ax > amax) {
                amax = ax;
                max = x[j];
            }
        }
        int8_t q[256];
        int16_t bsums[16];
        float d = 0.0f;
        if (amax == 0.0f) {
            memset(q, 0, sizeof q);
        } else {
            float const iscale = -127.0f / max;
            for (unsigned j = 0; j < 256; j++) {
                int const v = nearest_int(iscale * x[j]);
                q[j] = (int8_t)(v < 127 ? v : 127);
            }
            d = 1.0f / iscale;
        }
        for (unsigned j = 0; j < 16; j++) {
            int s = 0;
            for (unsigned l = 0; l < 16; l++) s += q[16 * j + l];
            bsums[j] = (int16_t)s;
        }
        memcpy(out, &d, sizeof d);
        memcpy(out + RUN_BLK_Q8K_QS, q, sizeof q);
        memcpy(out + RUN_BLK_Q8K_BSUMS, bsums, sizeof bsums);
    }
}

void run_blk_quantize_act(run_blk_type t, const float *x, uint64_t cols, void *act)
{
    if ((unsigned)t >= RUN_BLK_N) return;
    if (act_is_q8k(t)) quant_q8_k(x, cols / 256, act);
    else quant_q8_0(x, cols / 32, act);
}

/* Dequantizers: each y is formed by the same float operations as ggml's dequantize_row_*, one
 * rounded operation per statement (no FMA contraction). */

static void dq_q8_0(const uint8_t *b, float *y)
{
    float const d = run__blk_f16(b);
    for (unsigned j = 0; j < 32; j++) y[j] = (float)(int8_t)b[2 + j] * d;
}

/* Q4_K: the 4 groups of 64 weights use qs[32g..32g+32): low nibbles are sub-block 2g, high
 * nibbles sub-block 2g+1; y = (d * scale) * q - dmin * min. */
static void dq_q4_k(const uint8_t *b, float *y)
{
    float const d = run__blk_f16(b), dmin = run__blk_f16(b + 2);
    uint8_t sm[16];
    run__blk_q4k_scales(b + 4, sm);
    const uint8_t *sc = sm, *mn = sm + 8;
    const uint8_t *q = b + 16;
    for (unsigned g = 0; g < 4; g++, q += 32, y += 64) {
        float const d1 = d * (float)sc[2 * g], m1 = dmin * (float)mn[2 * g];
        float const d2 = d * (float)sc[2 * g + 1], m2 = dmin * (float)mn[2 * g + 1];
        for (unsigned l = 0; l < 32; l++) {
            float const lo = d1 * (float)(q[l] & 0xF);
            float const hi = d2 * (float)(q[l] >> 4);
            y[l] = lo - m1;
            y[l + 32] = hi - m2;
        }
    }
}

/* Q6_K: two halves of 128 weights, half h using ql[64h..], qh[32h..], scales[8h..]. For
 * l < 32, weight l + 32k takes its low 4 bits from ql[l] (k = 0, 2: low / high nibble) or
 * ql[l + 32] (k = 1, 3) and its top 2 bits from bits 2k+1:2k of qh[l]; value q - 32, scale
 * scales[l / 16 + 2k]; y = (d * scale) * (q - 32). */
static void dq_q6_k(const uint8_t *b, float *y)
{
    const uint8_t *ql = b, *qh = b + 128;
    const int8_t *sc = (const int8_t *)(const void *)(b + 192);
    float const d = run__blk_f16(b + 208);
    for (unsigned h = 0; h < 2; h++, ql += 64, qh += 32, sc += 8, y += 128)
        for (unsigned l = 0; l < 32; l++) {
            unsigned const is = l / 16;
            int const q1 = (int)((ql[l] & 0xFu) | (((qh[l] >> 0) & 3u) << 4)) - 32;
            int const q2 = (int)((ql[l + 32] & 0xFu) | (((qh[l] >> 2) & 3u) << 4)) - 32;
            int const q3 = (int)((ql[l] >> 4) | (((qh[l] >> 4) & 3u) << 4)) - 32;
            int const q4 = (int)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3u) << 4)) - 32;
            float const s1 = d * (float)sc[is], s2 = d * (float)sc[is + 2];
            float const s3 = d * (float)sc[is + 4], s4 = d * (float)sc[is + 6];
            y[l] = s1 * (float)q1;
            y[l + 32] = s2 * (float)q2;
            y[l + 64] = s3 * (float)q3;
            y[l + 96] = s4 * (float)q4;
        }
}

/* MXFP4: weight j (< 16) is the low nibble of qs[j], weight j + 16 the high one; y =
 * kvalues_mxfp4[nibble] * 2^(e - 128), exact (a small integer times a power of two). */
static void dq_mxfp4(const uint8_t *b, float *y)
{
    float const d = run__blk_e8m0_half(b[0]);
    for (unsigned j = 0; j < 16; j++) {
        y[j] = (float)run__blk_kvalues_mxfp4[b[1 + j] & 0xF] * d;
        y[j + 16] = (float)run__blk_kvalues_mxfp4[b[1 + j] >> 4] * d;
    }
}

void run_blk_dequant_row(run_blk_type t, const void *row, uint64_t cols, float *out)
{
    if ((unsigned)t >= RUN_BLK_N) return;
    void (*const dq[RUN_BLK_N])(const uint8_t *, float *) = {dq_q8_0, dq_q4_k, dq_q6_k, dq_mxfp4};
    uint64_t const nb = cols / blk_elems[t];
    const uint8_t *b = row;
    for (uint64_t i = 0; i < nb; i++, b += blk_bytes[t], out += blk_elems[t]) dq[t](b, out);
}

/* Dot products: exact integer block sums, then run_blk_int.h's per-block float, summed in
 * block order. */

static float ref_dot_q8_0(const void *row, const void *act, uint64_t cols)
{
    const uint8_t *w = row, *a = act;
    float sum = 0.0f;
    for (uint64_t i = 0; i < cols / 32; i++, w += 34, a += RUN_BLK_Q8_0_BYTES) {
        int32_t s = 0;
        for (unsigned j = 0; j < 32; j++) s += (int32_t)(int8_t)w[2 + j] * (int8_t)a[2 + j];
        sum += run__blk_q8_0_val(run__blk_f16(w), run__blk_f16(a), s);
    }
    return sum;
}

static float ref_dot_mxfp4(const void *row, const void *act, uint64_t cols)
{
    const uint8_t *w = row, *a = act;
    float sum = 0.0f;
    for (uint64_t i = 0; i < cols / 32; i++, w += 17, a += RUN_BLK_Q8_0_BYTES) {
        int32_t s = 0;
        for (unsigned j = 0; j < 16; j++)
            s += run__blk_kvalues_mxfp4[w[1 + j] & 0xF] * (int8_t)a[2 + j] +
                 run__blk_kvalues_mxfp4[w[1 + j] >> 4] * (int8_t)a[18 + j];
        sum += run__blk_mxfp4_val(run__blk_f16(a), w[0], s);
    }
    return sum;
}

static float ref_dot_q4_k(const void *row, const void *act, uint64_t cols)
{
    const uint8_t *w = row, *a = act;
    float sum = 0.0f;
    for (uint64_t i = 0; i < cols / 256; i++, w += 144, a += RUN_BLK_Q8K_BYTES) {
        const int8_t *q8 = (const int8_t *)(const void *)(a + RUN_BLK_Q8K_QS);
        int16_t bsums[16];
        memcpy(bsums, a + RUN_BLK_Q8K_BSUMS, sizeof bsums);
        uint8_t sm[16];
        run__blk_q4k_scales(w + 4, sm);
        const uint8_t *sc = sm, *mn = sm + 8;
        const uint8_t *q4 = w + 16;
        int32_t isum = 0, summ = 0;
        for (unsigned g = 0; g < 4; g++, q4 += 32, q8 += 64) {
            int32_t lo = 0, hi = 0;
            for (unsigned l = 0; l < 32; l++) {
                lo += (q4[l] & 0xF) * q8[l];
                hi += (q4[l] >> 4) * q8[l + 32];
            }
            isum += lo * sc[2 * g] + hi * sc[2 * g + 1];
        }
        for (unsigned j = 0; j < 16; j++) summ += bsums[j] * mn[j / 2];
        sum += run__blk_q4k_val(run__blk_f16(w), run__blk_f16(w + 2), run__blk_q8k_d(a), isum, summ);
    }
    return sum;
}

static float ref_dot_q6_k(const void *row, const void *act, uint64_t cols)
{
    const uint8_t *w = row, *a = act;
    float sum = 0.0f;
    for (uint64_t i = 0; i < cols / 256; i++, w += 210, a += RUN_BLK_Q8K_BYTES) {
        const int8_t *q8 = (const int8_t *)(const void *)(a + RUN_BLK_Q8K_QS);
        const int8_t *sc = (const int8_t *)(const void *)(w + 192);
        int32_t sub[16] = {0};
        for (unsigned h = 0; h < 2; h++) {
            const uint8_t *ql = w + 64 * h, *qh = w + 128 + 32 * h;
            const int8_t *q = q8 + 128 * h;
            for (unsigned l = 0; l < 32; l++) {
                unsigned const is = 8 * h + l / 16;
                sub[is] += ((int)((ql[l] & 0xFu) | ((qh[l] & 3u) << 4)) - 32) * q[l];
                sub[is + 2] += ((int)((ql[l + 32] & 0xFu) | (((qh[l] >> 2) & 3u) << 4)) - 32) * q[l + 32];
                sub[is + 4] += ((int)((ql[l] >> 4) | (((qh[l] >> 4) & 3u) << 4)) - 32) * q[l + 64];
                sub[is + 6] += ((int)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3u) << 4)) - 32) * q[l + 96];
            }
        }
        int32_t isum = 0;
        for (unsigned j = 0; j < 16; j++) isum += sc[j] * sub[j];
        sum += run__blk_q6k_val(run__blk_f16(w + 208), run__blk_q8k_d(a), isum);
    }
    return sum;
}

static const run_blk_kern ref_kern = {"ref", {ref_dot_q8_0, ref_dot_q4_k, ref_dot_q6_k, ref_dot_mxfp4}};

const run_blk_kern *run_blk_kern_ref(void) { return &ref_kern; }

const run_blk_kern *run_blk_kern_best(void)
{
    const run_blk_kern *k = run_blk_kern_avx2();
    if (!k) k = run_blk_kern_neon();
    return k ? k : &ref_kern;
}
