/* gen_values.c - the value of every element (counter-based splitmix64), the streaming
 * emitter that turns a tensor into its stored bytes, and the TQ1_0/TQ2_0 quantizers. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen_int.h"
#include "trit_safemath.h"

#define GEN_GAMMA 0x9e3779b97f4a7c15ull
#define GEN_SCALE_SALT 0x5ca1ab1e0ddba11ull

/* splitmix64 finaliser: a bijective 64-bit mixer. */
static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Element i of the stream `seed`: random access, so packed layouts can visit rows in any order. */
static uint64_t elem_hash(uint64_t seed, uint64_t i) { return mix64(seed + (i + 1) * GEN_GAMMA); }

uint32_t gen__dtype_size(uint32_t dtype)
{
    switch (dtype) {
    case GEN_DT_F32: return 4;
    case GEN_DT_F16:
    case GEN_DT_BF16: return 2;
    case GEN_DT_U8:
    case GEN_DT_F8_E4M3: return 1;
    default: return 0;
    }
}

uint64_t gen_logical_nelems(const gen_tensor *t)
{
    uint64_t n = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) n *= t->shape[d];
    if (t->kind == GEN_K_MXFP4 && t->dtype == GEN_DT_U8) return n * 2;   /* HF blocks: two per byte */
    return t->kind == GEN_K_PACKED ? n * 4 : n;
}

/* The source element of element i of a twin (gen.h il_half): row r of [A, R, C] is row 2r + half
 * - 1 of the fused [A, 2R, C]. */
static uint64_t il_index(const gen_tensor *t, uint64_t i)
{
    if (!t->il_half) return i;
    uint64_t const C = t->il_cols, R = t->il_rows, c = i % C, r = (i / C) % R, a = i / C / R;
    return (a * 2 * R + 2 * r + (t->il_half - 1)) * C + c;
}

/* MXFP4 (OCP microscaling; written independently of source/src_mxfp4.c): E2M1 codes and E8M0
 * scales 122..125 (2^-5 .. 2^-2: weights up to 1.5, so that gpt-oss's SwiGLU clamp at 7 is met). */
#define GEN_MX_SALT 0x6d78667034ull
static unsigned mx_code(const gen_tensor *t, uint64_t src_i) { return (unsigned)(elem_hash(t->seed, src_i) >> 7) & 15u; }
static unsigned mx_scale(const gen_tensor *t, uint64_t src_block) { return 122u + (unsigned)(elem_hash(t->seed ^ GEN_MX_SALT, src_block) % 4u); }
static float mx_e2m1(unsigned c)
{
    static const float mag[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};
    return c & 8u ? -mag[c & 7u] : mag[c & 7u];
}

static uint64_t row_len(const gen_tensor *t) { return t->shape[t->n_dims - 1]; }

int gen_ternary(const gen_tensor *t, uint64_t i)
{
    if (t->kind != GEN_K_TERNARY && t->kind != GEN_K_GROUP && t->kind != GEN_K_PACKED) return 0;
    uint64_t const h = elem_hash(t->seed, i);
    return (int)(((h >> 32) * 3u) >> 32) - 1;  /* uniform over {-1, 0, +1} */
}

/* A scale of the form (64 + k) * 2^e, k < 64: 7 significant bits, so it, its negation and
 * zero are exact in BF16 (8 bits) and F16 (11 bits). */
static float scale_of(uint64_t seed, uint64_t k, float unit)
{
    uint64_t const h = elem_hash(seed ^ GEN_SCALE_SALT, k);
    return (float)(64u + (unsigned)(h & 63u)) * unit;
}

float gen_scale(const gen_tensor *t, uint64_t i)
{
    switch (t->kind) {
    case GEN_K_TERNARY: {
        /* 3-D tensors (stacked experts): one scale per expert slice, as a converter that
         * stacked per-expert tensors would have. */
        uint64_t const slice = t->n_dims == 3 ? t->shape[1] * t->shape[2] : UINT64_MAX;
        return scale_of(t->seed, t->n_dims == 3 ? i / slice : 0, 1.0f / 4096.0f);
    }
    case GEN_K_GROUP: {
        uint64_t const cols = row_len(t), row = i / cols;
        uint64_t const n_groups = trit_div_ceil(cols, t->group);
        return scale_of(t->seed, row * n_groups + (i % cols) / t->group, 1.0f / 4096.0f);
    }
    case GEN_K_PACKED:
    case GEN_K_INVSCALE: return scale_of(t->seed, 0, 1.0f / 32.0f);  /* [2, 4) */
    default: return 0.0f;
    }
}

/* FP8 (DeepSeek-V3): a normal e4m3 code, sign s, exponent field 4..8, mantissa m (values
 * 2^(e-7) (1 + m/8), 0.125 to 3.75), or a signed zero one time in 16; never NaN (S.1111.111). */
static uint8_t fp8_code(const gen_tensor *t, uint64_t i)
{
    uint64_t const h = elem_hash(t->seed, i);
    unsigned const s = (unsigned)(h >> 20) & 1u;
    if ((h & 15u) == 0) return (uint8_t)(s << 7);
    unsigned const e = 4u + (unsigned)((h >> 8) % 5u), m = (unsigned)(h >> 16) & 7u;
    return (uint8_t)(s << 7 | e << 3 | m);
}

/* e4m3 decode of the codes above, written independently of the converter's decoder. */
static float fp8_value(uint8_t c)
{
    unsigned const e = (c >> 3) & 15u, m = c & 7u;
    float const mag = e ? ldexpf(1.0f + (float)m / 8.0f, (int)e - 7) : ldexpf((float)m / 8.0f, -6);
    return c & 0x80u ? -mag : mag;
}

/* The weight_scale_inv of block k (row-major over [ceil(out/B), ceil(in/B)]). */
static float fp8_block_scale(const gen_tensor *t, uint64_t k) { return scale_of(t->seed, k, 1.0f / 4096.0f); }

static float round_to(uint32_t dtype, float v)
{
    switch (dtype) {
    case GEN_DT_F16: return trit_f16_to_f32(trit_f32_to_f16(v));
    case GEN_DT_BF16: return trit_bf16_to_f32(trit_f32_to_bf16(v));
    default: return v;
    }
}

uint64_t gen_outlier_channel(uint32_t k, uint64_t width)
{
    return width ? (7919u * (uint64_t)k + 13u) % width : 0;
}

/* The planted outlier factor of element i of t (1 for most). The width is the innermost
 * (hidden) dimension: a norm's only one, the embedding's row length. */
static float outlier_factor(const gen_tensor *t, uint64_t i)
{
    if (!t->n_outlier) return 1.0f;
    uint64_t const width = t->shape[t->n_dims - 1], row = width ? i / width : 0, col = width ? i % width : 0;
    if (t->massive_row != GEN_NONE && row != t->massive_row) return 1.0f;
    for (uint32_t k = 0; k < t->n_outlier; k++)
        if (gen_outlier_channel(k, width) == col) return t->outlier_scale;
    return 1.0f;
}

float gen_value(const gen_tensor *t, uint64_t i)
{
    uint32_t const rdt = t->round_dt1 ? t->round_dt1 - 1 : t->dtype;
    i = il_index(t, i);
    switch (t->kind) {
    case GEN_K_MXFP4: return mx_e2m1(mx_code(t, i)) * ldexpf(1.0f, (int)mx_scale(t, i / 32) - 127);
    case GEN_K_MXFP4_SCALES: return (float)mx_scale(t, i);
    case GEN_K_TERNARY:
    case GEN_K_GROUP: {
        int const v = gen_ternary(t, i);
        return v ? (float)v * gen_scale(t, i) : 0.0f;  /* skip the scale hash for zeros */
    }
    case GEN_K_PACKED: {
        int const v = gen_ternary(t, i);
        return t->divide ? (float)v / gen_scale(t, i) : (float)v * gen_scale(t, i);
    }
    case GEN_K_INVSCALE: return gen_scale(t, 0);
    case GEN_K_FP8: {
        /* README_WEIGHTS.md: "(128x128 weight block) * weight_scale_inv", in float32 */
        uint64_t const r = i / t->w_cols, c = i % t->w_cols, nbc = trit_div_ceil(t->w_cols, GEN_FP8_BLOCK);
        return fp8_value(fp8_code(t, i)) * fp8_block_scale(t, (r / GEN_FP8_BLOCK) * nbc + c / GEN_FP8_BLOCK);
    }
    case GEN_K_FP8_SCALE: return fp8_block_scale(t, i);
    case GEN_K_FLOAT: {
        /* Irwin-Hall of four 16-bit uniforms: bell-shaped, variance 1/3, no libm involved,
         * so the bytes are identical on every IEEE-754 host. */
        uint64_t const h = elem_hash(t->seed, i);
        float s = 0.0f;
        for (int k = 0; k < 4; k++) s += (float)((h >> (16 * k)) & 0xffffu) * (1.0f / 65536.0f);
        return round_to(rdt, (s - 2.0f) * 1.7320508f * t->std * outlier_factor(t, i));
    }
    case GEN_K_NORM: {
        uint64_t const h = elem_hash(t->seed, i);
        float const u = (float)(h >> 40) * (1.0f / 16777216.0f);
        return round_to(rdt, (0.9f + 0.2f * u) * outlier_factor(t, i));
    }
    default: return 0.0f;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* TQ quantizers, exactly ggml's quantize_row_tq{1,2}_0_ref for one 256-weight block.         */

static float block_absmax(const float *x)
{
    float d = 0.0f;
    for (int j = 0; j < 256; j++) d = fabsf(x[j]) > d ? fabsf(x[j]) : d;
    return d;
}

static int tq_code(float x, float id) { return (int)lroundf(x * id) + 1; }

static void store_f16(uint8_t *p, float d)
{
    uint16_t const h = trit_f32_to_f16(d);
    p[0] = (uint8_t)h;
    p[1] = (uint8_t)(h >> 8);
}

void gen_quantize_tq1_0(const float *x, uint8_t *out)
{
    float const d = block_absmax(x), id = d != 0.0f ? 1.0f / d : 0.0f;
    /* qs[0..31]: elements m + 32n; qs[32..47]: 160 + m + 16n; five trits, first most
     * significant, stored as ceil(q * 256 / 243). */
    for (int m = 0; m < 32; m++) {
        unsigned q = 0;
        for (int n = 0; n < 5; n++) q = q * 3u + (unsigned)tq_code(x[m + 32 * n], id);
        out[m] = (uint8_t)((q * 256u + 242u) / 243u);
    }
    for (int m = 0; m < 16; m++) {
        unsigned q = 0;
        for (int n = 0; n < 5; n++) q = q * 3u + (unsigned)tq_code(x[160 + m + 16 * n], id);
        out[32 + m] = (uint8_t)((q * 256u + 242u) / 243u);
    }
    /* qh[0..3]: elements 240 + j + 4n, four trits then one zero trit. */
    for (int j = 0; j < 4; j++) {
        unsigned q = 0;
        for (int n = 0; n < 4; n++) q = q * 3u + (unsigned)tq_code(x[240 + j + 4 * n], id);
        q *= 3u;
        out[48 + j] = (uint8_t)((q * 256u + 242u) / 243u);
    }
    store_f16(out + 52, d);
}

void gen_quantize_tq2_0(const float *x, uint8_t *out)
{
    float const d = block_absmax(x), id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int h = 0; h < 2; h++)
        for (int m = 0; m < 32; m++) {
            unsigned q = 0;
            for (int n = 0; n < 4; n++)
                q |= ((unsigned)tq_code(x[128 * h + m + 32 * n], id) & 3u) << (2 * n);
            out[32 * h + m] = (uint8_t)q;
        }
    store_f16(out + 64, d);
}

/* ------------------------------------------------------------------------------------------ */
/* Streaming emitter: one stored row at a time, so memory is bounded by the widest row.       */

static void put_elem(uint32_t dtype, float v, uint8_t *p)
{
    uint32_t bits;
    switch (dtype) {
    case GEN_DT_F32:
        memcpy(&bits, &v, 4);
        for (int k = 0; k < 4; k++) p[k] = (uint8_t)(bits >> (8 * k));
        break;
    case GEN_DT_F16:
        bits = trit_f32_to_f16(v);
        p[0] = (uint8_t)bits;
        p[1] = (uint8_t)(bits >> 8);
        break;
    default: /* BF16 */
        bits = trit_f32_to_bf16(v);
        p[0] = (uint8_t)bits;
        p[1] = (uint8_t)(bits >> 8);
        break;
    }
}

int gen__emit_tensor(const gen_tensor *t, gen_out *o, trit_err *err)
{
    uint64_t const cols = row_len(t);
    uint64_t rows = 1;
    for (uint32_t d = 0; d + 1 < t->n_dims; d++) rows *= t->shape[d];
    int const tq = t->dtype == GEN_DT_TQ1_0 || t->dtype == GEN_DT_TQ2_0;
    uint64_t const block_bytes = t->dtype == GEN_DT_TQ1_0 ? 54 : 66;
    uint64_t const row_bytes = tq ? cols / 256 * block_bytes : t->dtype == GEN_DT_MXFP4 ? cols / 32 * 17 : cols * gen__dtype_size(t->dtype);
    size_t rb, ncols;
    char where[96];
    snprintf(where, sizeof where, "tensor '%.80s'", t->name);
    if (trit_to_size(row_bytes, &rb) || trit_to_size(cols, &ncols))
        return trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, where, "row too large");
    uint8_t *buf = malloc(rb ? rb : 1);
    float *vals = tq ? trit_mallocarray(ncols, sizeof *vals) : NULL;
    if (!buf || (tq && !vals)) {
        free(buf);
        free(vals);
        return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, where, "no memory for a row");
    }
    int rc = TRIT_OK;
    for (uint64_t r = 0; r < rows && rc == TRIT_OK; r++) {
        uint64_t const base = r * cols;
        if (t->kind == GEN_K_PACKED) {
            /* Stored row r holds logical rows r + q*rows (q = 0..3) in bits 2q+1:2q. */
            for (uint64_t c = 0; c < cols; c++) {
                unsigned byte = 0;
                for (unsigned q = 0; q < 4; q++)
                    byte |= (unsigned)(gen_ternary(t, (r + q * rows) * cols + c) + 1) << (2 * q);
                buf[c] = (uint8_t)byte;
            }
        } else if (t->kind == GEN_K_FP8) {
            for (uint64_t c = 0; c < cols; c++) buf[c] = fp8_code(t, base + c);
        } else if (t->kind == GEN_K_MXFP4 && t->dtype == GEN_DT_U8) {
            /* HF blocks (transformers' convert_moe_packed_tensors): row r is block r, byte j holds
             * element 2j in its low and 2j + 1 in its high nibble */
            for (uint64_t j = 0; j < cols; j++)
                buf[j] = (uint8_t)(mx_code(t, r * 32 + 2 * j) | mx_code(t, r * 32 + 2 * j + 1) << 4);
        } else if (t->kind == GEN_K_MXFP4_SCALES) {
            for (uint64_t c = 0; c < cols; c++) buf[c] = (uint8_t)mx_scale(t, base + c);
        } else if (t->kind == GEN_K_MXFP4 && t->dtype == GEN_DT_MXFP4) {
            /* ggml block_mxfp4: e, then qs[j] with element j low, j + 16 high (dequantize_row_mxfp4) */
            for (uint64_t b = 0; b < cols / 32; b++) {
                uint8_t *q = buf + b * 17;
                uint64_t const e0 = base + b * 32;
                q[0] = (uint8_t)mx_scale(t, il_index(t, e0) / 32);
                for (unsigned j = 0; j < 16; j++)
                    q[1 + j] = (uint8_t)(mx_code(t, il_index(t, e0 + j)) | mx_code(t, il_index(t, e0 + j + 16)) << 4);
            }
        } else if (t->kind == GEN_K_INVSCALE) {
            put_elem(t->dtype, gen_scale(t, 0), buf);
        } else if (tq) {
            for (uint64_t c = 0; c < cols; c++) vals[c] = gen_value(t, base + c);
            for (uint64_t b = 0; b < cols / 256; b++) {
                if (t->dtype == GEN_DT_TQ1_0) gen_quantize_tq1_0(vals + b * 256, buf + b * block_bytes);
                else gen_quantize_tq2_0(vals + b * 256, buf + b * block_bytes);
            }
        } else {
            uint32_t const es = gen__dtype_size(t->dtype);
            for (uint64_t c = 0; c < cols; c++) put_elem(t->dtype, gen_value(t, base + c), buf + c * es);
        }
        rc = gen__out_write(o, buf, rb, err);
    }
    free(buf);
    free(vals);
    if (rc && err) snprintf(err->where, sizeof err->where, "%s", where);
    return rc;
}
