/*
 * src_safetensors_decode.c - the dtype table, element decoders (incl. the FP8 family) and the
 * BitNet b1.58 packed-weight logical view (formats.md 2.2, 3.3, 6.7).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "src_safetensors_int.h"
#include "trit_cursor.h"
#include "trit_safemath.h"

static const struct {
    const char *name;
    uint32_t bits;
    int decodable;
} dtypes[SRC_ST_DTYPE_COUNT_] = {
    [SRC_ST_BOOL] = {"BOOL", 8, 1},
    [SRC_ST_U8] = {"U8", 8, 1},
    [SRC_ST_I8] = {"I8", 8, 1},
    [SRC_ST_U16] = {"U16", 16, 1},
    [SRC_ST_I16] = {"I16", 16, 1},
    [SRC_ST_U32] = {"U32", 32, 1},
    [SRC_ST_I32] = {"I32", 32, 1},
    [SRC_ST_U64] = {"U64", 64, 1},
    [SRC_ST_I64] = {"I64", 64, 1},
    [SRC_ST_F16] = {"F16", 16, 1},
    [SRC_ST_BF16] = {"BF16", 16, 1},
    [SRC_ST_F32] = {"F32", 32, 1},
    [SRC_ST_F64] = {"F64", 64, 1},
    [SRC_ST_F8_E4M3] = {"F8_E4M3", 8, 1},
    [SRC_ST_F8_E5M2] = {"F8_E5M2", 8, 1},
    [SRC_ST_F8_E8M0] = {"F8_E8M0", 8, 1},
    [SRC_ST_F8_E4M3FNUZ] = {"F8_E4M3FNUZ", 8, 1},
    [SRC_ST_F8_E5M2FNUZ] = {"F8_E5M2FNUZ", 8, 1},
    [SRC_ST_F4] = {"F4", 4, 0},
    [SRC_ST_F6_E2M3] = {"F6_E2M3", 6, 0},
    [SRC_ST_F6_E3M2] = {"F6_E3M2", 6, 0},
    [SRC_ST_C64] = {"C64", 64, 0},
};

const char *src_st_dtype_name(uint32_t dtype)
{
    return dtype < SRC_ST_DTYPE_COUNT_ ? dtypes[dtype].name : NULL;
}

int src_st_dtype_from_name(const char *s, size_t n)
{
    for (int i = 0; i < SRC_ST_DTYPE_COUNT_; i++)
        if (strlen(dtypes[i].name) == n && memcmp(dtypes[i].name, s, n) == 0) return i;
    return -1;
}

uint32_t src_st_dtype_bits(uint32_t dtype)
{
    return dtype < SRC_ST_DTYPE_COUNT_ ? dtypes[dtype].bits : 0;
}

int src_st_dtype_decodable(uint32_t dtype)
{
    return dtype < SRC_ST_DTYPE_COUNT_ && dtypes[dtype].decodable;
}

/* ---- FP8 ------------------------------------------------------------------------------------ */

/* sign * (implicit + m / 2^mbits) * 2^(e - bias), with subnormals for e == 0. */
static float fp8(uint8_t b, int ebits, int mbits, int bias)
{
    int const e = (b >> mbits) & ((1 << ebits) - 1);
    int const m = b & ((1 << mbits) - 1);
    float const sign = (b & 0x80) ? -1.0f : 1.0f;
    if (e == 0) return sign * ldexpf((float)m, 1 - bias - mbits);
    return sign * ldexpf((float)(m + (1 << mbits)), e - bias - mbits);
}

float src_st_f8_e4m3_to_f32(uint8_t b)
{
    if ((b & 0x7F) == 0x7F) return NAN;   /* S.1111.111; E4M3FN has no infinities */
    return fp8(b, 4, 3, 7);
}

float src_st_f8_e5m2_to_f32(uint8_t b)
{
    return trit_f16_to_f32((uint16_t)(b << 8));   /* E5M2 is the top byte of an IEEE half */
}

float src_st_f8_e8m0_to_f32(uint8_t b)
{
    if (b == 0xFF) return NAN;
    return ldexpf(1.0f, (int)b - 127);
}

float src_st_f8_e4m3fnuz_to_f32(uint8_t b)
{
    if (b == 0x80) return NAN;   /* the "negative zero" pattern is the only NaN */
    return fp8(b, 4, 3, 8);
}

float src_st_f8_e5m2fnuz_to_f32(uint8_t b)
{
    if (b == 0x80) return NAN;
    return fp8(b, 5, 2, 16);
}

/* ---- element decoding ----------------------------------------------------------------------- */

int src_st_decode_f32(uint32_t dtype, const void *src, uint64_t n, float *out, trit_err *err)
{
    const uint8_t *p = src;
    if (!src_st_dtype_decodable(dtype))
        return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, NULL,
                            "decoding %s to float is not supported",
                            src_st_dtype_name(dtype) ? src_st_dtype_name(dtype) : "this dtype");
    if (dtype == SRC_ST_BF16) {   /* the common case, as one loop the compiler can vectorize */
        for (uint64_t i = 0; i < n; i++) {
            uint32_t const u = (uint32_t)(p[2 * i] | p[2 * i + 1] << 8) << 16;
            memcpy(&out[i], &u, 4);
        }
        return TRIT_OK;
    }
    for (uint64_t i = 0; i < n; i++) {
        switch (dtype) {
        case SRC_ST_BOOL: out[i] = p[i] ? 1.0f : 0.0f; break;
        case SRC_ST_U8: out[i] = (float)p[i]; break;
        case SRC_ST_I8: { int8_t v; memcpy(&v, p + i, 1); out[i] = (float)v; break; }
        case SRC_ST_U16: out[i] = (float)trit_load_le16(p + 2 * i); break;
        case SRC_ST_I16: {
            uint16_t const u = trit_load_le16(p + 2 * i);
            int16_t v;
            memcpy(&v, &u, 2);
            out[i] = (float)v;
            break;
        }
        case SRC_ST_U32: out[i] = (float)trit_load_le32(p + 4 * i); break;
        case SRC_ST_I32: {
            uint32_t const u = trit_load_le32(p + 4 * i);
            int32_t v;
            memcpy(&v, &u, 4);
            out[i] = (float)v;
            break;
        }
        case SRC_ST_U64: out[i] = (float)trit_load_le64(p + 8 * i); break;
        case SRC_ST_I64: {
            uint64_t const u = trit_load_le64(p + 8 * i);
            int64_t v;
            memcpy(&v, &u, 8);
            out[i] = (float)v;
            break;
        }
        case SRC_ST_F16: out[i] = trit_f16_to_f32(trit_load_le16(p + 2 * i)); break;
        case SRC_ST_BF16: out[i] = trit_bf16_to_f32(trit_load_le16(p + 2 * i)); break;
        case SRC_ST_F32: {
            uint32_t const u = trit_load_le32(p + 4 * i);
            memcpy(&out[i], &u, 4);
            break;
        }
        case SRC_ST_F64: {
            uint64_t const u = trit_load_le64(p + 8 * i);
            double d;
            memcpy(&d, &u, 8);
            out[i] = (float)d;
            break;
        }
        case SRC_ST_F8_E4M3: out[i] = src_st_f8_e4m3_to_f32(p[i]); break;
        case SRC_ST_F8_E5M2: out[i] = src_st_f8_e5m2_to_f32(p[i]); break;
        case SRC_ST_F8_E8M0: out[i] = src_st_f8_e8m0_to_f32(p[i]); break;
        case SRC_ST_F8_E4M3FNUZ: out[i] = src_st_f8_e4m3fnuz_to_f32(p[i]); break;
        case SRC_ST_F8_E5M2FNUZ: out[i] = src_st_f8_e5m2fnuz_to_f32(p[i]); break;
        default: break;   /* unreachable: not decodable */
        }
    }
    return TRIT_OK;
}

static void where_tensor(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "tensor '%.84s'", name);
}

int src_st_to_f32(const src_st *h, uint32_t t, uint64_t first_elem, uint64_t n, float *out,
                  trit_err *err)
{
    if (t >= h->n_tensors)
        return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL, "no tensor %u", t);
    const src_st_tensor *ti = &h->recs[t].t;
    char where[96];
    where_tensor(where, sizeof where, ti->name);
    if (!src_st_dtype_decodable(ti->dtype))
        return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, where,
                            "decoding %s to float is not supported", src_st_dtype_name(ti->dtype));
    if (first_elem > ti->n_elems || n > ti->n_elems - first_elem)
        return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, where,
                            "elements [%llu, +%llu) outside the tensor's %llu",
                            (unsigned long long)first_elem, (unsigned long long)n,
                            (unsigned long long)ti->n_elems);
    uint64_t const esz = src_st_dtype_bits(ti->dtype) / 8;   /* decodable => whole bytes */
    uint8_t buf[65536];
    uint64_t const per = sizeof buf / esz;
    while (n) {
        uint64_t const k = n < per ? n : per;
        int rc = src_st_read(h, t, first_elem * esz, buf, k * esz, err);   /* < nbytes: no overflow */
        if (rc) return rc;
        src_st_decode_f32(ti->dtype, buf, k, out, NULL);
        out += k;
        first_elem += k;
        n -= k;
    }
    return TRIT_OK;
}

/* ---- BitNet packed view --------------------------------------------------------------------- */

/* String member of config.json's quantization_config, or NULL. Borrowed. */
static const char *quant_field(const src_st *h, const char *key)
{
    const cJSON *qc = h->config ? cJSON_GetObjectItemCaseSensitive(h->config, "quantization_config") : NULL;
    const cJSON *v = cJSON_IsObject(qc) ? cJSON_GetObjectItemCaseSensitive(qc, key) : NULL;
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

int src_st_config_is_bitnet(const src_st *h)
{
    const char *qm = quant_field(h, "quant_method");
    return qm && strcmp(qm, "bitnet") == 0;
}

int src_st_bitnet_view(const src_st *h, uint32_t t, src_st_bitnet *v, trit_err *err)
{
    if (t >= h->n_tensors)
        return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL, "no tensor %u", t);
    const src_st_tensor *w = &h->recs[t].t;
    if (w->dtype != SRC_ST_U8 || w->n_dims != 2) return TRIT_E_NOTFOUND;
    const char *qm = quant_field(h, "quant_method");
    if (qm && strcmp(qm, "bitnet") != 0) return TRIT_E_NOTFOUND;   /* some other packing */
    char sib[TRIT_MAX_NAME_LEN + 16];
    int const k = snprintf(sib, sizeof sib, "%s_scale", w->name);
    if (k < 0 || (size_t)k >= sizeof sib) return TRIT_E_NOTFOUND;
    int64_t const s = src_st_find(h, sib);
    if (s < 0) return TRIT_E_NOTFOUND;

    const src_st_tensor *sc = &h->recs[s].t;
    char where[96];
    where_tensor(where, sizeof where, sc->name);
    if (sc->n_elems != 1 || (sc->dtype != SRC_ST_F32 && sc->dtype != SRC_ST_BF16 &&
                             sc->dtype != SRC_ST_F16 && sc->dtype != SRC_ST_F64))
        return trit_err_set(err, TRIT_E_CORRUPT, sc->offset, where,
                            "a BitNet weight_scale must be one float, found %llu element(s) of %s",
                            (unsigned long long)sc->n_elems, src_st_dtype_name(sc->dtype));
    uint64_t rows, total;
    if (trit_mul_u64(w->dims[0], 4, &rows) || trit_mul_u64(rows, w->dims[1], &total))
        return trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, where, "logical shape overflows");
    float val;
    int rc = src_st_to_f32(h, (uint32_t)s, 0, 1, &val, err);
    if (rc) return rc;
    if (!isfinite(val) || val == 0.0f)
        return trit_err_set(err, TRIT_E_CORRUPT, sc->offset, where,
                            "BitNet weight_scale is %g (must be finite and non-zero)", (double)val);
    const char *lc = quant_field(h, "linear_class");
    v->weight = t;
    v->scale = (uint32_t)s;
    v->rows = rows;
    v->cols = w->dims[1];
    v->scale_value = val;
    /* transformers' BitLinear divides by weight_scale (the stored scale is inverted);
     * AutoBitLinear multiplies (formats.md 3.3). */
    v->divide = !(lc && strcmp(lc, "autobitlinear") == 0);
    v->from_config = qm != NULL;
    return TRIT_OK;
}

int src_st_bitnet_ternary(const src_st *h, const src_st_bitnet *v, uint64_t first, uint64_t n,
                          int8_t *out, trit_err *err)
{
    const src_st_tensor *w = &h->recs[v->weight].t;
    uint64_t const total = v->rows * v->cols;   /* checked by src_st_bitnet_view */
    uint64_t const prows = v->rows / 4;
    char where[96];
    where_tensor(where, sizeof where, w->name);
    if (first > total || n > total - first)
        return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, where,
                            "elements [%llu, +%llu) outside the logical %llu",
                            (unsigned long long)first, (unsigned long long)n, (unsigned long long)total);
    uint8_t buf[8192];
    while (n) {
        uint64_t const row = first / v->cols, col = first % v->cols;
        uint64_t const q = row / prows, r = row % prows;   /* quarter q, packed row r */
        uint64_t k = v->cols - col;
        if (k > n) k = n;
        if (k > sizeof buf) k = sizeof buf;
        uint64_t const boff = r * v->cols + col;
        int rc = src_st_read(h, v->weight, boff, buf, k, err);
        if (rc) return rc;
        for (uint64_t j = 0; j < k; j++) {
            unsigned const code = (buf[j] >> (2 * q)) & 3u;
            if (code == 3)
                return trit_err_set(err, TRIT_E_CORRUPT, w->offset + boff + j, where,
                                    "invalid ternary code 3 in bits %u..%u", (unsigned)(2 * q),
                                    (unsigned)(2 * q + 1));
            out[j] = (int8_t)((int)code - 1);
        }
        out += k;
        first += k;
        n -= k;
    }
    return TRIT_OK;
}

int src_st_bitnet_to_f32(const src_st *h, const src_st_bitnet *v, uint64_t first, uint64_t n,
                         float *out, trit_err *err)
{
    int8_t tern[4096];
    while (n) {
        uint64_t const k = n < sizeof tern ? n : sizeof tern;
        int rc = src_st_bitnet_ternary(h, v, first, k, tern, err);
        if (rc) return rc;
        for (uint64_t j = 0; j < k; j++)
            out[j] = v->divide ? (float)tern[j] / v->scale_value : (float)tern[j] * v->scale_value;
        out += k;
        first += k;
        n -= k;
    }
    return TRIT_OK;
}

int src_st_bitnet_t2_rows(const src_st *h, const src_st_bitnet *v, uint64_t row, uint64_t n, uint8_t *t2,
                          uint64_t *bad, trit_err *err)
{
    const src_st_tensor *w = &h->recs[v->weight].t;
    char where[96];
    where_tensor(where, sizeof where, w->name);
    if (row > v->rows || n > v->rows - row)
        return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, where, "rows [%llu, +%llu) outside %llu",
                            (unsigned long long)row, (unsigned long long)n, (unsigned long long)v->rows);
    uint64_t const prows = v->rows / 4, rb = (v->cols + 127) / 128 * 32;
    /* packed rows of one quarter are contiguous: read up to 256 KiB of them per pread */
    uint64_t const cap = 256u << 10, room = 2 * (v->cols + 128) <= cap ? (cap - v->cols - 128) / v->cols : 1;
    uint8_t *buf = malloc((size_t)(room * v->cols + v->cols + 128));   /* rows, then one padded row */
    if (!buf) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, where, "out of memory");
    uint64_t nb = 0;
    for (uint64_t r = row; r < row + n;) {
        uint64_t const q = r / prows, pr = r % prows;
        uint64_t k = room;
        if (k > row + n - r) k = row + n - r;
        if (k > prows - pr) k = prows - pr;                 /* stay inside the quarter */
        int const rc = src_st_read(h, v->weight, pr * v->cols, buf, k * v->cols, err);
        if (rc) { free(buf); return rc; }
        unsigned const sh = (unsigned)(2 * q);
        for (uint64_t j = 0; j < k; j++, t2 += rb) {
            uint8_t *s = buf + j * v->cols;
            /* the last block of a row is padded with code 1 (zero), as trit_t2_pack_row does:
             * such a row is copied past the buffer's rows first */
            if (v->cols % 128) {
                uint8_t *pad = buf + room * v->cols;
                memcpy(pad, s, (size_t)v->cols);
                memset(pad + v->cols, 0x55, (size_t)(rb * 4 - v->cols));
                s = pad;
            }
            /* eight bytes at a time: this quarter's bit pair of each byte, four of them (elements
             * m, m+32, m+64, m+96) side by side in t2 byte m; pairs stay inside their byte */
            uint64_t const lo2 = 0x0303030303030303ull, lo = 0x5555555555555555ull;
            uint64_t badw = 0;
            for (uint64_t b = 0; b < rb; b += 32) {
                const uint8_t *x = s + 4 * b;
                for (unsigned m = 0; m < 32; m += 8) {
                    uint64_t w0, w1, w2, w3;
                    memcpy(&w0, x + m, 8);
                    memcpy(&w1, x + m + 32, 8);
                    memcpy(&w2, x + m + 64, 8);
                    memcpy(&w3, x + m + 96, 8);
                    uint64_t const c = ((w0 >> sh) & lo2) | ((w1 >> sh) & lo2) << 2 | ((w2 >> sh) & lo2) << 4 |
                                       ((w3 >> sh) & lo2) << 6;
                    memcpy(t2 + b + m, &c, 8);
                    badw |= c & (c >> 1) & lo;
                }
            }
            if (badw)   /* rare: count the codes 3 of this row */
                for (uint64_t i = 0; i < rb; i++) {
                    unsigned const c = t2[i];
                    nb += (uint64_t)__builtin_popcount(c & (c >> 1) & 0x55u);
                }
        }
        r += k;
    }
    free(buf);
    *bad += nb;
    return TRIT_OK;
}
