/* types.c - element types and their geometry, the T2 ternary packing, half floats, xxh3,
 * and the one function that computes a tensor's byte size (spec "Tensor byte size"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "trit.h"
#include "trit_limits.h"
#include "trit_safemath.h"

static const struct {
    const char *name;
    uint32_t block_elems, block_bytes;
} type_table[TRIT_TYPE_COUNT_] = {
    [TRIT_TYPE_F32] = {"f32", 1, 4},
    [TRIT_TYPE_F16] = {"f16", 1, 2},
    [TRIT_TYPE_BF16] = {"bf16", 1, 2},
    [TRIT_TYPE_T2] = {"t2", TRIT_T2_BLOCK_ELEMS, TRIT_T2_BLOCK_BYTES},
    [TRIT_TYPE_I8] = {"i8", 1, 1},
    [TRIT_TYPE_I32] = {"i32", 1, 4},
    [TRIT_TYPE_U8] = {"u8", 1, 1},
    /* ggml's block structs (ggml-common.h block_q8_0, block_q4_K, block_q6_K, block_mxfp4) */
    [TRIT_TYPE_Q8_0] = {"q8_0", 32, 34},
    [TRIT_TYPE_Q4_K] = {"q4_k", 256, 144},
    [TRIT_TYPE_Q6_K] = {"q6_k", 256, 210},
    [TRIT_TYPE_MXFP4] = {"mxfp4", 32, 17},
    [TRIT_TYPE_B3] = {"b3", TRIT_B3_BLOCK_ELEMS, TRIT_B3_BLOCK_BYTES},
};

int trit_type_is_block(uint32_t type) { return type >= TRIT_TYPE_Q8_0 && type <= TRIT_TYPE_MXFP4; }

/* The bytes of a block that decide whether its scales are valid: the high byte of each f16
 * scale (exponent bits 0x7c all set: inf or NaN) or the E8M0 byte of mxfp4 (255: NaN). */
static unsigned blk_check_bytes(uint32_t type, unsigned at[2])
{
    switch (type) {
    case TRIT_TYPE_Q8_0: at[0] = 1; return 1;                  /* d at 0 */
    case TRIT_TYPE_Q4_K: at[0] = 1; at[1] = 3; return 2;       /* d at 0, dmin at 2 */
    case TRIT_TYPE_Q6_K: at[0] = 209; return 1;                /* d at 208 */
    case TRIT_TYPE_MXFP4: at[0] = 0; return 1;                 /* e at 0 */
    default: return 0;
    }
}

static int blk_byte_bad(uint32_t type, unsigned byte)
{
    return type == TRIT_TYPE_MXFP4 ? byte == 0xffu : (byte & 0x7cu) == 0x7cu;
}

uint64_t trit_blk_find_bad(uint32_t type, const uint8_t *p, uint64_t q0, uint64_t n)
{
    unsigned at[2];
    unsigned const na = blk_check_bytes(type, at);
    if (!na || !n) return q0 + n;
    uint64_t const bb = type_table[type].block_bytes;
    for (uint64_t b = q0 / bb; b * bb < q0 + n; b++)
        for (unsigned k = 0; k < na; k++) {
            uint64_t const q = b * bb + at[k];
            if (q >= q0 && q < q0 + n && blk_byte_bad(type, p[q - q0])) return q;
        }
    return q0 + n;
}

const char *trit_type_name(uint32_t type)
{
    return type < TRIT_TYPE_COUNT_ ? type_table[type].name : NULL;
}

int trit_type_geometry(uint32_t type, uint32_t *block_elems, uint32_t *block_bytes)
{
    if (type >= TRIT_TYPE_COUNT_) return TRIT_E_NOTFOUND;
    *block_elems = type_table[type].block_elems;
    *block_bytes = type_table[type].block_bytes;
    return TRIT_OK;
}

const char *trit_kv_type_name(uint32_t type)
{
    static const char *const names[] = {"u8", "i8", "u16", "i16", "u32", "i32", "u64",
                                        "i64", "f32", "f64", "bool", "string", "array"};
    return type < sizeof names / sizeof names[0] ? names[type] : "?";
}

/* T2: within each 128-weight block (32 bytes), byte m holds weights m, m+32, m+64, m+96 in
 * bits 1:0, 3:2, 5:4, 7:6. One 32-byte load and four shift/mask steps give 4 x 32 consecutive
 * weights: the TQ2_0 qs layout, so export to GGUF TQ2_0 is a copy. */
void trit_t2_pack_row(const int8_t *vals, uint64_t n, uint8_t *dst)
{
    uint64_t const nblk = trit_div_ceil(n, TRIT_T2_BLOCK_ELEMS);
    for (uint64_t b = 0; b < nblk; b++) {
        uint8_t *q = dst + b * TRIT_T2_BLOCK_BYTES;
        for (unsigned m = 0; m < 32; m++) {
            unsigned byte = 0;
            for (unsigned k = 0; k < 4; k++) {
                uint64_t const e = b * TRIT_T2_BLOCK_ELEMS + m + 32u * k;
                unsigned const code = e < n ? (unsigned)(vals[e] + 1) & 3u : 1u;
                byte |= code << (2 * k);
            }
            q[m] = (uint8_t)byte;
        }
    }
}

uint64_t trit_t2_unpack_row(const uint8_t *src, uint64_t n, int8_t *vals)
{
    uint64_t bad = 0;
    for (uint64_t e = 0; e < n; e++) {
        uint64_t const b = e / TRIT_T2_BLOCK_ELEMS, r = e % TRIT_T2_BLOCK_ELEMS;
        unsigned const code = (src[b * TRIT_T2_BLOCK_BYTES + r % 32] >> (2 * (r / 32))) & 3u;
        if (code == 3) {
            bad++;
            vals[e] = 0;
        } else {
            vals[e] = (int8_t)((int)code - 1);
        }
    }
    return bad;
}

/* B3: ggml's TQ1_0 digit packing (ggml-quants.c quantize_row_tq1_0_ref / dequantize_row_tq1_0:
 * 5 digits per byte, most significant first, ceil(v * 256 / 243)) with TQ2_0's plane order: byte
 * m of a block holds weights m + 32n, n = 0..4, so a 32-byte load gives 5 x 32 consecutive
 * weights with one multiply per plane. */
static uint8_t b3_encode(const unsigned t[5])
{
    unsigned v = 0;
    for (unsigned n = 0; n < 5; n++) v = v * 3 + t[n];
    return (uint8_t)((v * 256 + 242) / 243);
}

static unsigned b3_digit(uint8_t b, unsigned n)
{
    static const uint8_t pow3[5] = {1, 3, 9, 27, 81};
    uint8_t const q = (uint8_t)(b * pow3[n]);
    return ((unsigned)q * 3) >> 8;
}

int trit_b3_byte_valid(uint8_t b)
{
    unsigned t[5];
    for (unsigned n = 0; n < 5; n++) t[n] = b3_digit(b, n);
    return b3_encode(t) == b;
}

void trit_b3_pack_row(const int8_t *vals, uint64_t n, uint8_t *dst)
{
    uint64_t const nblk = trit_div_ceil(n, TRIT_B3_BLOCK_ELEMS);
    for (uint64_t b = 0; b < nblk; b++)
        for (unsigned m = 0; m < 32; m++) {
            unsigned t[5];
            for (unsigned k = 0; k < 5; k++) {
                uint64_t const e = b * TRIT_B3_BLOCK_ELEMS + m + 32u * k;
                t[k] = e < n ? (unsigned)(vals[e] + 1) % 3u : 1u;
            }
            dst[b * TRIT_B3_BLOCK_BYTES + m] = b3_encode(t);
        }
}

uint64_t trit_b3_unpack_row(const uint8_t *src, uint64_t n, int8_t *vals)
{
    uint64_t bad = 0;
    for (uint64_t e = 0; e < n; e++) {
        uint64_t const b = e / TRIT_B3_BLOCK_ELEMS, r = e % TRIT_B3_BLOCK_ELEMS;
        uint8_t const byte = src[b * TRIT_B3_BLOCK_BYTES + r % 32];
        if (!trit_b3_byte_valid(byte)) {
            if (r / 32 == 0) bad++;   /* count a byte once, at its first weight */
            vals[e] = 0;
        } else {
            vals[e] = (int8_t)((int)b3_digit(byte, (unsigned)(r / 32)) - 1);
        }
    }
    return bad;
}

int trit_t2_to_b3(const trit_tensor_info *t2, const uint8_t *src, trit_tensor_info *b3, uint8_t *dst, trit_err *err)
{
    *b3 = *t2;
    b3->type = TRIT_TYPE_B3;
    b3->block_elems = TRIT_B3_BLOCK_ELEMS;
    b3->block_bytes = TRIT_B3_BLOCK_BYTES;
    int rc = trit_tensor_layout(b3, err);
    if (rc) return rc;
    if (t2->type != TRIT_TYPE_T2 || t2->n_scales != b3->n_scales)
        return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, t2->name, "not a t2 tensor");
    uint64_t const cols = t2->n_dims ? t2->dims[t2->n_dims - 1] : 1;
    uint64_t const rb2 = trit_div_ceil(cols, TRIT_T2_BLOCK_ELEMS) * TRIT_T2_BLOCK_BYTES;
    uint64_t const rb3 = trit_div_ceil(cols, TRIT_B3_BLOCK_ELEMS) * TRIT_B3_BLOCK_BYTES;
    uint64_t n_rows = 1;   /* every dimension but the last (the layout checked the product) */
    for (uint32_t d = 0; d + 1 < t2->n_dims; d++) n_rows *= t2->dims[d];
    int8_t *v = malloc((size_t)cols + 1);
    if (!v) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, t2->name, "out of memory");
    for (uint64_t r = 0; r < n_rows; r++) {
        if (trit_t2_unpack_row(src + r * rb2, cols, v)) {
            free(v);
            return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, t2->name, "code 3 in row %llu", (unsigned long long)r);
        }
        trit_b3_pack_row(v, cols, dst + r * rb3);
    }
    free(v);
    memset(dst + n_rows * rb3, 0, b3->scales_off - n_rows * rb3);
    memcpy(dst + b3->scales_off, src + t2->scales_off, t2->n_scales * 4);
    return TRIT_OK;
}

float trit_f16_to_f32(uint16_t h)
{
    uint32_t const sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu, bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else {
            /* subnormal: normalise */
            exp = 1;
            while (!(mant & 0x400u)) { mant <<= 1; exp--; }
            mant &= 0x3ffu;
            bits = sign | ((exp + 112u) << 23) | (mant << 13);
        }
    } else {
        bits = sign | ((exp + 112u) << 23) | (mant << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

uint16_t trit_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint32_t const sign = (x >> 16) & 0x8000u;
    uint32_t const absx = x & 0x7fffffffu;
    if (absx > 0x7f800000u) return (uint16_t)(sign | 0x7e00u); /* NaN */
    if (absx >= 0x47800000u) {                                  /* >= 65536: inf (after rounding) */
        return (uint16_t)(sign | 0x7c00u);
    }
    if (absx < 0x38800000u) { /* below smallest normal half: subnormal or zero */
        if (absx < 0x33000000u) return (uint16_t)sign; /* < 2^-25 rounds to 0 */
        uint32_t const e = absx >> 23;
        uint32_t const m = (absx & 0x7fffffu) | 0x800000u;
        uint32_t const shift = 126u - e; /* value / 2^-24 = m * 2^(e - 126); 14 <= shift <= 24 */
        uint32_t v = m >> shift;
        uint32_t const rem = m & ((1u << shift) - 1u);
        uint32_t const half = 1u << (shift - 1);
        if (rem > half || (rem == half && (v & 1u))) v++;
        return (uint16_t)(sign | v);
    }
    uint32_t v = ((absx >> 13) - (112u << 10));
    uint32_t const rem = absx & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (v & 1u))) v++; /* may carry into inf: correct */
    return (uint16_t)(sign | v);
}

float trit_bf16_to_f32(uint16_t h)
{
    uint32_t const bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

uint16_t trit_f32_to_bf16(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40u); /* quiet NaN */
    x += 0x7fffu + ((x >> 16) & 1u);
    return (uint16_t)(x >> 16);
}

uint64_t trit_xxh3(const void *p, size_t n) { return XXH3_64bits(p, n); }

int trit_tensor_nelems(const trit_tensor_info *t, uint64_t *out)
{
    uint64_t n = 1;
    if (t->n_dims > TRIT_MAX_DIMS) return 1;
    for (uint32_t i = 0; i < t->n_dims; i++)
        if (trit_mul_u64(n, t->dims[i], &n)) return 1;
    *out = n;
    return 0;
}

int trit_tensor_layout(trit_tensor_info *t, trit_err *err)
{
    const char *const nm = t->name ? t->name : "?";
    char where[96];
    snprintf(where, sizeof where, "tensor '%.80s'", nm);
    if (t->n_dims > TRIT_MAX_DIMS)
        return trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, where, "%u dimensions, limit %u",
                            t->n_dims, TRIT_MAX_DIMS);
    if (t->block_elems == 0 || t->block_bytes == 0)
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, where,
                            "block geometry %u elements / %u bytes is invalid", t->block_elems,
                            t->block_bytes);
    uint32_t be, bb;
    int const known = trit_type_geometry(t->type, &be, &bb) == TRIT_OK;
    if (known && (be != t->block_elems || bb != t->block_bytes))
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, where,
                            "type %s has blocks of %u elements / %u bytes, file says %u / %u",
                            trit_type_name(t->type), be, bb, t->block_elems, t->block_bytes);
    int const ternary = t->type == TRIT_TYPE_T2 || t->type == TRIT_TYPE_B3;
    /* ggml block types have no partial blocks (spec 6.3): a row is whole blocks */
    if (known && trit_type_is_block(t->type) && (t->n_dims ? t->dims[t->n_dims - 1] : 1) % be)
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, where,
                            "type %s needs rows of whole %u-weight blocks, rows have %llu weights",
                            trit_type_name(t->type), be, (unsigned long long)(t->n_dims ? t->dims[t->n_dims - 1] : 1));
    /* i8 may carry one f32 scale per row (spec 6.2: the int8 output-head copy) */
    int const row_scaled = t->type == TRIT_TYPE_I8 && t->scale_layout == TRIT_SCALE_ROW;
    if (t->scale_layout > TRIT_SCALE_GROUP)
        return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, where, "unknown scale layout %u",
                            t->scale_layout);
    if (known && ternary && t->scale_layout == TRIT_SCALE_NONE)
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, where, "ternary tensor without scales");
    if (known && !ternary && !row_scaled && t->scale_layout != TRIT_SCALE_NONE)
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, where,
                            "type %s cannot carry scales", trit_type_name(t->type));
    if ((t->scale_layout == TRIT_SCALE_NONE) != (t->scale_type == TRIT_SCALE_TYPE_NONE))
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, where,
                            "scale type %u does not match scale layout %u", t->scale_type,
                            t->scale_layout);
    if (t->scale_type > TRIT_SCALE_TYPE_F32)
        return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, where, "unknown scale type %u",
                            t->scale_type);
    if ((t->scale_layout == TRIT_SCALE_GROUP) != (t->group_size != 0))
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, where,
                            "group size %u does not match scale layout %u", t->group_size,
                            t->scale_layout);

    uint64_t const cols = t->n_dims ? t->dims[t->n_dims - 1] : 1;
    uint64_t rows = 1, row_bytes, codes, n_scales = 0, scales_off, size;
    for (uint32_t i = 0; i + 1 < t->n_dims; i++)
        if (trit_mul_u64(rows, t->dims[i], &rows)) goto overflow;
    if (trit_mul_u64(trit_div_ceil(cols, t->block_elems), t->block_bytes, &row_bytes) ||
        trit_mul_u64(rows, row_bytes, &codes))
        goto overflow;
    switch (t->scale_layout) {
    case TRIT_SCALE_TENSOR: n_scales = 1; break;
    case TRIT_SCALE_ROW: n_scales = rows; break;
    case TRIT_SCALE_GROUP:
        if (trit_mul_u64(rows, trit_div_ceil(cols, t->group_size), &n_scales)) goto overflow;
        break;
    default: break;
    }
    if (n_scales) {
        uint64_t sb;
        if (trit_align_up(codes, 16, &scales_off) || trit_mul_u64(n_scales, 4, &sb) ||
            trit_add_u64(scales_off, sb, &size))
            goto overflow;
    } else {
        scales_off = codes;
        size = codes;
    }
    t->scales_off = scales_off;
    t->n_scales = n_scales;
    t->size = size;
    return TRIT_OK;
overflow:
    return trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, where, "byte size overflows 64 bits");
}
