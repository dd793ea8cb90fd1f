/* src_ggml_types.c - ggml type geometry and dequantizers to float (see src_ggml_types.h).
 *
 * Block layouts are written from the format facts in reference/formats.md 1.7-1.9 and ggml's
 * ggml-common.h block structs: every multi-byte field is little-endian and read explicitly, never
 * by overlaying a struct. The input bytes were bounds-checked by the caller (src holds exactly
 * n_blocks * type_size bytes). */
#include <string.h>

#include "src_ggml_types.h"
#include "src_mxfp4.h"
#include "trit_cursor.h"
#include "trit_safemath.h"

#define QK_K 256u

static const src_ggml_type mainline[SRC_GGML_MAINLINE_COUNT] = {
    [SRC_GGML_F32] = {SRC_GGML_F32, "F32", 1, 4, 0, 1},
    [SRC_GGML_F16] = {SRC_GGML_F16, "F16", 1, 2, 0, 1},
    [SRC_GGML_Q4_0] = {SRC_GGML_Q4_0, "Q4_0", 32, 18, 0, 1},
    [SRC_GGML_Q4_1] = {SRC_GGML_Q4_1, "Q4_1", 32, 20, 0, 1},
    [SRC_GGML_Q5_0] = {SRC_GGML_Q5_0, "Q5_0", 32, 22, 0, 1},
    [SRC_GGML_Q5_1] = {SRC_GGML_Q5_1, "Q5_1", 32, 24, 0, 1},
    [SRC_GGML_Q8_0] = {SRC_GGML_Q8_0, "Q8_0", 32, 34, 0, 1},
    /* Q8_1 is 2 halves + 32 bytes in ggml-common.h (gguf-py's 40 is stale). */
    [SRC_GGML_Q8_1] = {SRC_GGML_Q8_1, "Q8_1", 32, 36, 0, 0},
    [SRC_GGML_Q2_K] = {SRC_GGML_Q2_K, "Q2_K", QK_K, 84, 0, 1},
    [SRC_GGML_Q3_K] = {SRC_GGML_Q3_K, "Q3_K", QK_K, 110, 0, 1},
    [SRC_GGML_Q4_K] = {SRC_GGML_Q4_K, "Q4_K", QK_K, 144, 0, 1},
    [SRC_GGML_Q5_K] = {SRC_GGML_Q5_K, "Q5_K", QK_K, 176, 0, 1},
    [SRC_GGML_Q6_K] = {SRC_GGML_Q6_K, "Q6_K", QK_K, 210, 0, 1},
    [SRC_GGML_Q8_K] = {SRC_GGML_Q8_K, "Q8_K", QK_K, 292, 0, 0},
    [SRC_GGML_IQ2_XXS] = {SRC_GGML_IQ2_XXS, "IQ2_XXS", QK_K, 66, 0, 0},
    [SRC_GGML_IQ2_XS] = {SRC_GGML_IQ2_XS, "IQ2_XS", QK_K, 74, 0, 0},
    [SRC_GGML_IQ3_XXS] = {SRC_GGML_IQ3_XXS, "IQ3_XXS", QK_K, 98, 0, 0},
    [SRC_GGML_IQ1_S] = {SRC_GGML_IQ1_S, "IQ1_S", QK_K, 50, 0, 0},
    [SRC_GGML_IQ4_NL] = {SRC_GGML_IQ4_NL, "IQ4_NL", 32, 18, 0, 0},
    [SRC_GGML_IQ3_S] = {SRC_GGML_IQ3_S, "IQ3_S", QK_K, 110, 0, 0},
    [SRC_GGML_IQ2_S] = {SRC_GGML_IQ2_S, "IQ2_S", QK_K, 82, 0, 0},
    [SRC_GGML_IQ4_XS] = {SRC_GGML_IQ4_XS, "IQ4_XS", QK_K, 136, 0, 0},
    [SRC_GGML_I8] = {SRC_GGML_I8, "I8", 1, 1, 0, 1},
    [SRC_GGML_I16] = {SRC_GGML_I16, "I16", 1, 2, 0, 1},
    [SRC_GGML_I32] = {SRC_GGML_I32, "I32", 1, 4, 0, 1},
    [SRC_GGML_I64] = {SRC_GGML_I64, "I64", 1, 8, 0, 1},
    [SRC_GGML_F64] = {SRC_GGML_F64, "F64", 1, 8, 0, 1},
    [SRC_GGML_IQ1_M] = {SRC_GGML_IQ1_M, "IQ1_M", QK_K, 56, 0, 0},
    [SRC_GGML_BF16] = {SRC_GGML_BF16, "BF16", 1, 2, 0, 1},
    [SRC_GGML_TQ1_0] = {SRC_GGML_TQ1_0, "TQ1_0", QK_K, 54, 0, 1},
    [SRC_GGML_TQ2_0] = {SRC_GGML_TQ2_0, "TQ2_0", QK_K, 66, 0, 1},
    [SRC_GGML_MXFP4] = {SRC_GGML_MXFP4, "MXFP4", 32, 17, 0, 1},
    [SRC_GGML_NVFP4] = {SRC_GGML_NVFP4, "NVFP4", 64, 36, 0, 0},
    [SRC_GGML_Q1_0] = {SRC_GGML_Q1_0, "Q1_0", 128, 18, 0, 0},
    [SRC_GGML_Q2_0] = {SRC_GGML_Q2_0, "Q2_0", 64, 18, 0, 0},
    /* ids 4, 5, 31-33 and 36-38 stay zeroed: removed from mainline, name == NULL. */
};

/* BitNet fork (Eddie-Wang1120/llama.cpp, microsoft/BitNet): Q4_0_x_y are still live there with
 * Q4_0 geometry (interleaved for its kernels, so not decoded); I2_S and TL1 are n/4 + 32. */
static const src_ggml_type fork_types[] = {
    {SRC_GGML_FORK_Q4_0_4_4, "Q4_0_4_4", 32, 18, 0, 0},
    {SRC_GGML_FORK_Q4_0_4_8, "Q4_0_4_8", 32, 18, 0, 0},
    {SRC_GGML_FORK_Q4_0_8_8, "Q4_0_8_8", 32, 18, 0, 0},
    {SRC_GGML_FORK_I2_S, "I2_S", 128, 32, SRC_GGML_I2S_TRAILER, 1},
    {SRC_GGML_FORK_TL1, "TL1", 128, 32, SRC_GGML_I2S_TRAILER, 0},
};

const src_ggml_type *src_ggml_type_get(uint32_t id)
{
    if (id < SRC_GGML_MAINLINE_COUNT) return mainline[id].name ? &mainline[id] : NULL;
    for (size_t i = 0; i < sizeof fork_types / sizeof fork_types[0]; i++)
        if (fork_types[i].id == id) return &fork_types[i];
    return NULL;
}

int src_ggml_nbytes(const src_ggml_type *t, uint64_t n_elems, uint64_t *out, const char *what,
                    uint64_t off, trit_err *err)
{
    if (t->trailer) {
        /* The fork sizes these per tensor (ggml_nbytes override): 2 bits per element. */
        if (n_elems % 4 != 0)
            return trit_err_set(err, TRIT_E_CORRUPT, off, what,
                                "%s needs an element count that is a multiple of 4, got %llu",
                                t->name, (unsigned long long)n_elems);
        if (trit_add_u64(n_elems / 4, t->trailer, out))
            return trit_err_set(err, TRIT_E_CORRUPT, off, what, "byte size overflows");
        return TRIT_OK;
    }
    if (n_elems % t->blck != 0)
        return trit_err_set(err, TRIT_E_CORRUPT, off, what,
                            "%llu elements is not a multiple of the %s block size %u",
                            (unsigned long long)n_elems, t->name, t->blck);
    if (trit_mul_u64(n_elems / t->blck, t->type_size, out))
        return trit_err_set(err, TRIT_E_CORRUPT, off, what, "byte size of %llu %s elements overflows",
                            (unsigned long long)n_elems, t->name);
    return TRIT_OK;
}

static float half_at(const uint8_t *p) { return trit_f16_to_f32(trit_load_le16(p)); }

/* Q4_0: f16 d, 16 bytes; element j in the low nibble of byte j, j+16 in the high one; q - 8. */
static void dq_q4_0(const uint8_t *b, float *y)
{
    float const d = half_at(b);
    const uint8_t *qs = b + 2;
    for (unsigned j = 0; j < 16; j++) {
        y[j] = (float)((int)(qs[j] & 0xF) - 8) * d;
        y[j + 16] = (float)((int)(qs[j] >> 4) - 8) * d;
    }
}

/* Q4_1: f16 d, f16 m, 16 bytes; q * d + m with unsigned nibbles. */
static void dq_q4_1(const uint8_t *b, float *y)
{
    float const d = half_at(b), m = half_at(b + 2);
    const uint8_t *qs = b + 4;
    for (unsigned j = 0; j < 16; j++) {
        y[j] = (float)(qs[j] & 0xF) * d + m;
        y[j + 16] = (float)(qs[j] >> 4) * d + m;
    }
}

/* Q5_0 / Q5_1: like Q4_x plus a u32 qh holding the fifth bit: bit j for element j, bit j+16
 * for element j+16. Q5_0 is signed (q - 16) * d, Q5_1 unsigned q * d + m. */
static void dq_q5(const uint8_t *b, float *y, int has_min)
{
    float const d = half_at(b), m = has_min ? half_at(b + 2) : 0.0f;
    const uint8_t *p = b + (has_min ? 4 : 2);
    uint32_t const qh = trit_load_le32(p);
    const uint8_t *qs = p + 4;
    int const bias = has_min ? 0 : 16;
    for (unsigned j = 0; j < 16; j++) {
        int const x0 = (int)((qs[j] & 0xFu) | (((qh >> j) & 1u) << 4)) - bias;
        int const x1 = (int)((qs[j] >> 4) | (((qh >> (j + 16)) & 1u) << 4)) - bias;
        y[j] = (float)x0 * d + m;
        y[j + 16] = (float)x1 * d + m;
    }
}

/* Q8_0: f16 d, 32 x i8. */
static void dq_q8_0(const uint8_t *b, float *y)
{
    float const d = half_at(b);
    for (unsigned j = 0; j < 32; j++) y[j] = (float)(int8_t)b[2 + j] * d;
}

/* K-quant 6-bit scale/min pair j (0..7) from the 12 packed bytes of Q4_K / Q5_K: entries 0-3
 * are the low 6 bits of bytes j and j+4; entries 4-7 take their low 4 bits from byte j+4 and
 * their top 2 bits from the spare bits 7:6 of bytes j-4 (scale) and j (min). */
static void k_scale_min(unsigned j, const uint8_t *q, unsigned *sc, unsigned *mn)
{
    if (j < 4) {
        *sc = q[j] & 63u;
        *mn = q[j + 4] & 63u;
    } else {
        *sc = (q[j + 4] & 0xFu) | ((unsigned)(q[j - 4] >> 6) << 4);
        *mn = (unsigned)(q[j + 4] >> 4) | ((unsigned)(q[j] >> 6) << 4);
    }
}

/* Q2_K (84 B): scales[16] (low nibble scale, high nibble min), qs[64], f16 d, f16 dmin. Each
 * 128-half uses qs[32h..]; its 4 bit-pairs (shift 0,2,4,6) each give two 16-element runs from
 * qs[l] and qs[l+16], each run with its own scale byte: y = d*sc*q - dmin*m. */
static void dq_q2_k(const uint8_t *b, float *y)
{
    const uint8_t *sc = b, *q = b + 16;
    float const d = half_at(b + 80), dmin = half_at(b + 82);
    for (unsigned h = 0; h < 2; h++, q += 32)
        for (unsigned shift = 0; shift < 8; shift += 2)
            for (unsigned r = 0; r < 2; r++, sc++)
                for (unsigned l = 0; l < 16; l++)
                    *y++ = d * (float)(*sc & 0xF) * (float)((q[l + 16 * r] >> shift) & 3u) -
                           dmin * (float)(*sc >> 4);
}

/* Q3_K (110 B): hmask[32], qs[64], scales[12], f16 d. 16 signed 6-bit scales (stored - 32):
 * low 4 bits from the nibbles of bytes 0-7 (scale k: byte k%8, high nibble when k >= 8), top 2
 * bits from bytes 8-11 (scale k: byte 8 + k%4, bits 2*(k/4)+1 : 2*(k/4)). Element value is the
 * 2-bit q minus 4 when its hmask bit is clear; the walk matches Q2_K, hmask bit advancing with
 * each bit-pair. */
static void dq_q3_k(const uint8_t *b, float *y)
{
    const uint8_t *hm = b, *q = b + 32, *s = b + 96;
    float const d = half_at(b + 108);
    int sc[16];
    for (unsigned k = 0; k < 16; k++) {
        unsigned const lo = (k < 8 ? s[k] : (unsigned)(s[k - 8] >> 4)) & 0xFu;
        unsigned const hi = (s[8 + k % 4] >> (2 * (k / 4))) & 3u;
        sc[k] = (int)(lo | (hi << 4)) - 32;
    }
    unsigned is = 0, m = 1;
    for (unsigned h = 0; h < 2; h++, q += 32)
        for (unsigned shift = 0; shift < 8; shift += 2, m <<= 1)
            for (unsigned r = 0; r < 2; r++, is++)
                for (unsigned l = 0; l < 16; l++) {
                    int const v = (int)((q[l + 16 * r] >> shift) & 3u) - ((hm[l + 16 * r] & m) ? 0 : 4);
                    *y++ = d * (float)sc[is] * (float)v;
                }
}

/* Q4_K (144 B): f16 d, f16 dmin, scales[12], qs[128]. Each 64-element group g uses qs[32g..]:
 * low nibbles with scale pair 2g, high nibbles with pair 2g+1; y = d*sc*q - dmin*m. */
static void dq_q4_k(const uint8_t *b, float *y)
{
    float const d = half_at(b), dmin = half_at(b + 2);
    const uint8_t *sc = b + 4, *q = b + 16;
    for (unsigned g = 0; g < 4; g++, q += 32, y += 64) {
        unsigned s1, m1, s2, m2;
        k_scale_min(2 * g, sc, &s1, &m1);
        k_scale_min(2 * g + 1, sc, &s2, &m2);
        float const d1 = d * (float)s1, o1 = dmin * (float)m1;
        float const d2 = d * (float)s2, o2 = dmin * (float)m2;
        for (unsigned l = 0; l < 32; l++) {
            y[l] = d1 * (float)(q[l] & 0xF) - o1;
            y[l + 32] = d2 * (float)(q[l] >> 4) - o2;
        }
    }
}

/* Q5_K (176 B): f16 d, f16 dmin, scales[12], qh[32], qs[128]. As Q4_K, plus a fifth bit from
 * qh[l]: bit 2g for the low-nibble half of group g, bit 2g+1 for the high-nibble half. */
static void dq_q5_k(const uint8_t *b, float *y)
{
    float const d = half_at(b), dmin = half_at(b + 2);
    const uint8_t *sc = b + 4, *qh = b + 16, *q = b + 48;
    for (unsigned g = 0; g < 4; g++, q += 32, y += 64) {
        unsigned s1, m1, s2, m2;
        k_scale_min(2 * g, sc, &s1, &m1);
        k_scale_min(2 * g + 1, sc, &s2, &m2);
        float const d1 = d * (float)s1, o1 = dmin * (float)m1;
        float const d2 = d * (float)s2, o2 = dmin * (float)m2;
        unsigned const u1 = 1u << (2 * g), u2 = 2u << (2 * g);
        for (unsigned l = 0; l < 32; l++) {
            y[l] = d1 * (float)((q[l] & 0xFu) + ((qh[l] & u1) ? 16u : 0u)) - o1;
            y[l + 32] = d2 * (float)((unsigned)(q[l] >> 4) + ((qh[l] & u2) ? 16u : 0u)) - o2;
        }
    }
}

/* Q6_K (210 B): ql[128] low nibbles, qh[64] top 2 bits, i8 scales[16], f16 d. Each 128-half
 * uses ql[64h..], qh[32h..], scales[8h..]; for l < 32 one qh byte feeds 4 elements
 * l, l+32, l+64, l+96 (bits 1:0, 3:2, 5:4, 7:6), value (6-bit q - 32) * d * scale[l/16 + 2k]. */
static void dq_q6_k(const uint8_t *b, float *y)
{
    const uint8_t *ql = b, *qh = b + 128;
    const int8_t *sc0 = (const int8_t *)(const void *)(b + 192);
    float const d = half_at(b + 208);
    for (unsigned h = 0; h < 2; h++, ql += 64, qh += 32, y += 128) {
        const int8_t *sc = sc0 + 8 * h;
        for (unsigned l = 0; l < 32; l++) {
            unsigned const is = l / 16;
            int const q1 = (int)((ql[l] & 0xFu) | (((qh[l] >> 0) & 3u) << 4)) - 32;
            int const q2 = (int)((ql[l + 32] & 0xFu) | (((qh[l] >> 2) & 3u) << 4)) - 32;
            int const q3 = (int)((unsigned)(ql[l] >> 4) | (((qh[l] >> 4) & 3u) << 4)) - 32;
            int const q4 = (int)((unsigned)(ql[l + 32] >> 4) | (((qh[l] >> 6) & 3u) << 4)) - 32;
            y[l] = d * (float)sc[is] * (float)q1;
            y[l + 32] = d * (float)sc[is + 2] * (float)q2;
            y[l + 64] = d * (float)sc[is + 4] * (float)q3;
            y[l + 96] = d * (float)sc[is + 6] * (float)q4;
        }
    }
}

/* TQ1_0 (54 B): qs[48] base-3 bytes (5 trits each), qh[4] (4 trits each), f16 d last.
 * Trit n of byte b: v = (b * 3^n) mod 256, t = (3 * v) >> 8 (formats.md 1.8). */
static const uint8_t pow3[6] = {1, 3, 9, 27, 81, 243};
static float tq1_trit(uint8_t b, unsigned n, float d)
{
    uint8_t const v = (uint8_t)(b * pow3[n]);
    unsigned const t = ((unsigned)v * 3u) >> 8;
    return ((float)t - 1.0f) * d;
}
static void dq_tq1_0(const uint8_t *b, float *y)
{
    const uint8_t *qs = b, *qh = b + 48;
    float const d = half_at(b + 52);
    for (unsigned n = 0; n < 5; n++)      /* qs[0..31]: elements m + 32n */
        for (unsigned m = 0; m < 32; m++) *y++ = tq1_trit(qs[m], n, d);
    for (unsigned n = 0; n < 5; n++)      /* qs[32..47]: elements 160 + m + 16n */
        for (unsigned m = 0; m < 16; m++) *y++ = tq1_trit(qs[32 + m], n, d);
    for (unsigned n = 0; n < 4; n++)      /* qh[0..3]: elements 240 + j + 4n */
        for (unsigned j = 0; j < 4; j++) *y++ = tq1_trit(qh[j], n, d);
}

/* TQ2_0 (66 B): qs[64], f16 d last; byte 32h+m holds elements 128h + m + 32n in bits 2n+1:2n. */
static void dq_tq2_0(const uint8_t *b, float *y)
{
    float const d = half_at(b + 64);
    for (unsigned h = 0; h < 2; h++)
        for (unsigned n = 0; n < 4; n++)
            for (unsigned m = 0; m < 32; m++)
                *y++ = ((float)((b[32 * h + m] >> (2 * n)) & 3u) - 1.0f) * d;
}

void src_ggml_i2s_dequant(const uint8_t *src, uint64_t n_chunks, float scale, float *dst)
{
    for (uint64_t c = 0; c < n_chunks; c++, src += 32, dst += 128)
        for (unsigned k = 0; k < 4; k++)            /* group k sits in bits 7-2k : 6-2k */
            for (unsigned j = 0; j < 32; j++)
                dst[32 * k + j] = ((float)((src[j] >> (6 - 2 * k)) & 3u) - 1.0f) * scale;
}

int src_ggml_dequant(uint32_t id, const uint8_t *src, uint64_t n_blocks, float *dst, trit_err *err)
{
    const src_ggml_type *t = src_ggml_type_get(id);
    if (!t || !t->can_decode || t->trailer)
        return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, NULL,
                            "no float decoder for ggml type %s", t ? t->name : "(unknown)");
    /* the plain float types in one tight loop each (the compiler vectorizes them), not a switch
     * per value: they are most of a float checkpoint */
    if (id == SRC_GGML_F32) {
        for (uint64_t i = 0; i < n_blocks; i++) {
            uint32_t const u = trit_load_le32(src + 4 * i);
            memcpy(dst + i, &u, 4);
        }
        return TRIT_OK;
    }
    if (id == SRC_GGML_BF16) {
        for (uint64_t i = 0; i < n_blocks; i++) {
            uint32_t const u = (uint32_t)trit_load_le16(src + 2 * i) << 16;   /* trit_bf16_to_f32, exactly */
            memcpy(dst + i, &u, 4);
        }
        return TRIT_OK;
    }
    for (uint64_t i = 0; i < n_blocks; i++, src += t->type_size, dst += t->blck) {
        switch (id) {
        case SRC_GGML_F32: { uint32_t const u = trit_load_le32(src); memcpy(dst, &u, 4); break; }
        case SRC_GGML_F64: {
            uint64_t const u = trit_load_le64(src);
            double v;
            memcpy(&v, &u, 8);
            dst[0] = (float)v;
            break;
        }
        case SRC_GGML_F16: dst[0] = half_at(src); break;
        case SRC_GGML_BF16: dst[0] = trit_bf16_to_f32(trit_load_le16(src)); break;
        case SRC_GGML_I8: dst[0] = (float)(int8_t)src[0]; break;
        case SRC_GGML_I16: dst[0] = (float)(int16_t)trit_load_le16(src); break;
        case SRC_GGML_I32: dst[0] = (float)(int32_t)trit_load_le32(src); break;
        case SRC_GGML_I64: dst[0] = (float)(int64_t)trit_load_le64(src); break;
        case SRC_GGML_Q4_0: dq_q4_0(src, dst); break;
        case SRC_GGML_Q4_1: dq_q4_1(src, dst); break;
        case SRC_GGML_Q5_0: dq_q5(src, dst, 0); break;
        case SRC_GGML_Q5_1: dq_q5(src, dst, 1); break;
        case SRC_GGML_Q8_0: dq_q8_0(src, dst); break;
        case SRC_GGML_Q2_K: dq_q2_k(src, dst); break;
        case SRC_GGML_Q3_K: dq_q3_k(src, dst); break;
        case SRC_GGML_Q4_K: dq_q4_k(src, dst); break;
        case SRC_GGML_Q5_K: dq_q5_k(src, dst); break;
        case SRC_GGML_Q6_K: dq_q6_k(src, dst); break;
        case SRC_GGML_TQ1_0: dq_tq1_0(src, dst); break;
        case SRC_GGML_TQ2_0: dq_tq2_0(src, dst); break;
        case SRC_GGML_MXFP4: {   /* src_mxfp4.c; a NaN scale is refused */
            int const rc = src_mxfp4_dequant(src, 1, dst, err);
            if (rc) return rc;
            break;
        }
        default:
            return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, NULL,
                                "no float decoder for ggml type %s", t->name);
        }
    }
    return TRIT_OK;
}

/* ---- ternary codes to t2 ---- */

static unsigned bad_pairs(uint8_t b) { return (unsigned)__builtin_popcount((unsigned)(b & (b >> 1) & 0x55u)); }

void src_ggml_tq2_to_t2(const uint8_t *src, uint64_t n_blocks, uint8_t *t2, float *d, uint64_t *bad)
{
    /* TQ2_0's qs[64] is two t2 blocks already: byte 32h+m holds elements 128h+m+32n in bits
     * 2n+1:2n, code q meaning (q - 1) * d (dq_tq2_0) */
    uint64_t nb = 0;
    for (uint64_t i = 0; i < n_blocks; i++, src += 66, t2 += 64) {
        memcpy(t2, src, 64);
        uint64_t any = 0;   /* a code 3 anywhere: both bits of a pair set (8 bytes at a time) */
        for (unsigned m = 0; m < 64; m += 8) {
            uint64_t w;
            memcpy(&w, src + m, 8);
            any |= w & (w >> 1) & 0x5555555555555555ull;
        }
        if (any)
            for (unsigned m = 0; m < 64; m++) nb += bad_pairs(src[m]);
        d[i] = half_at(src + 64);
    }
    *bad += nb;
}

void src_ggml_tq1_to_t2(const uint8_t *src, uint64_t n_blocks, uint8_t *t2, float *d)
{
    for (uint64_t i = 0; i < n_blocks; i++, src += 54, t2 += 64) {
        uint8_t c[256];   /* codes in element order (dq_tq1_0's walk) */
        const uint8_t *qs = src, *qh = src + 48;
        unsigned e = 0;
        for (unsigned n = 0; n < 5; n++)
            for (unsigned m = 0; m < 32; m++) c[e++] = (uint8_t)(((unsigned)(uint8_t)(qs[m] * pow3[n]) * 3u) >> 8);
        for (unsigned n = 0; n < 5; n++)
            for (unsigned m = 0; m < 16; m++) c[e++] = (uint8_t)(((unsigned)(uint8_t)(qs[32 + m] * pow3[n]) * 3u) >> 8);
        for (unsigned n = 0; n < 4; n++)
            for (unsigned j = 0; j < 4; j++) c[e++] = (uint8_t)(((unsigned)(uint8_t)(qh[j] * pow3[n]) * 3u) >> 8);
        for (unsigned h = 0; h < 2; h++)
            for (unsigned m = 0; m < 32; m++) {
                const uint8_t *q = c + 128 * h + m;
                t2[32 * h + m] = (uint8_t)(q[0] | q[32] << 2 | q[64] << 4 | q[96] << 6);
            }
        d[i] = half_at(src + 52);
    }
}

void src_ggml_i2s_to_t2(const uint8_t *src, uint64_t n_chunks, uint8_t *t2, uint64_t *bad)
{
    /* I2_S byte j holds elements j, j+32, j+64, j+96 in bits 7:6, 5:4, 3:2, 1:0; t2 wants them in
     * 1:0, 3:2, 5:4, 7:6 */
    uint64_t nb = 0;
    for (uint64_t k = 0; k < n_chunks * 32; k++) {
        unsigned const b = src[k];
        t2[k] = (uint8_t)((b >> 6) | ((b >> 2) & 0x0Cu) | ((b << 2) & 0x30u) | ((b << 6) & 0xC0u));
        nb += bad_pairs((uint8_t)b);
    }
    *bad += nb;
}
