/* src_mxfp4.c - MXFP4 decoding and the HF blocks/scales pairs (src_mxfp4.h for the layouts and
 * their sources). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "src_mxfp4.h"
#include "src_safetensors.h"
#include "trit_safemath.h"

/* E2M1: sign, 2 exponent bits, 1 mantissa bit (transformers' FP4_VALUES; ggml's kvalues_mxfp4
 * are these doubled, with the half folded into ggml_e8m0_to_fp32_half) */
static const float e2m1[16] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f,
                               -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f};

float src_mxfp4_e2m1(unsigned c) { return e2m1[c & 15u]; }

float src_mxfp4_e8m0(unsigned e) { return ldexpf(1.0f, (int)e - 127); }

int src_mxfp4_dequant(const uint8_t *src, uint64_t n_blocks, float *dst, trit_err *err)
{
    for (uint64_t k = 0; k < n_blocks; k++, src += SRC_MXFP4_BYTES, dst += SRC_MXFP4_BLOCK) {
        if (src[0] == SRC_MXFP4_NAN_SCALE)
            return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, NULL,
                                "MXFP4 block %llu has the E8M0 scale 255, which is NaN", (unsigned long long)k);
        float const d = src_mxfp4_e8m0(src[0]);
        for (unsigned j = 0; j < 16; j++) {
            dst[j] = e2m1[src[1 + j] & 15u] * d;
            dst[j + 16] = e2m1[src[1 + j] >> 4] * d;
        }
    }
    return TRIT_OK;
}

int64_t src_mxfp4_find_nan(const uint8_t *src, uint64_t n_blocks)
{
    for (uint64_t k = 0; k < n_blocks; k++)
        if (src[k * SRC_MXFP4_BYTES] == SRC_MXFP4_NAN_SCALE) return (int64_t)k;
    return -1;
}

void src_mxfp4_hf_to_ggml(const uint8_t hf[16], uint8_t scale, uint8_t out[SRC_MXFP4_BYTES])
{
    /* HF element 2m is the low nibble of byte m, 2m + 1 its high nibble */
    uint8_t code[32];
    for (unsigned m = 0; m < 16; m++) {
        code[2 * m] = hf[m] & 15u;
        code[2 * m + 1] = hf[m] >> 4;
    }
    out[0] = scale;
    for (unsigned j = 0; j < 16; j++) out[1 + j] = (uint8_t)(code[j] | code[j + 16] << 4);
}

/* ---- pairs ---- */

static int is_mxfp4_config(const src_st *st)
{
    const cJSON *c = src_st_config(st);
    const cJSON *q = c ? cJSON_GetObjectItemCaseSensitive(c, "quantization_config") : NULL;
    const cJSON *m = cJSON_IsObject(q) ? cJSON_GetObjectItemCaseSensitive(q, "quant_method") : NULL;
    return cJSON_IsString(m) && !strcmp(m->valuestring, "mxfp4");
}

static int ends_with(const char *s, const char *sfx, size_t *stem)
{
    size_t const n = strlen(s), k = strlen(sfx);
    if (n <= k || strcmp(s + n - k, sfx) != 0) return 0;
    *stem = n - k;
    return 1;
}

int src_mxfp4_find_pairs(const src_st *st, uint32_t n, src_mxfp4_pair *pair, trit_err *err)
{
    if (!is_mxfp4_config(st)) return TRIT_OK;
    for (uint32_t i = 0; i < n; i++) {
        src_st_tensor const *b = src_st_tensor_at(st, i);
        size_t stem;
        char other[TRIT_MAX_NAME_LEN + 16];
        if (ends_with(b->name, "_scales", &stem)) {
            snprintf(other, sizeof other, "%.*s_blocks", (int)stem, b->name);
            if (src_st_find(st, other) < 0)
                return trit_err_set(err, TRIT_E_CORRUPT, b->offset, b->name, "MXFP4 scales without their blocks '%.80s'", other);
            continue;
        }
        if (!ends_with(b->name, "_blocks", &stem)) continue;
        snprintf(other, sizeof other, "%.*s_scales", (int)stem, b->name);
        int64_t const si = src_st_find(st, other);
        if (si < 0)
            return trit_err_set(err, TRIT_E_CORRUPT, b->offset, b->name, "MXFP4 blocks without their scales '%.80s'", other);
        src_st_tensor const *s = src_st_tensor_at(st, (uint32_t)si);
        uint32_t const nd = b->n_dims;
        int ok = b->dtype == SRC_ST_U8 && s->dtype == SRC_ST_U8 && nd >= 3 && s->n_dims == nd - 1 && b->dims[nd - 1] == 16;
        for (uint32_t d = 0; ok && d + 1 < nd; d++) ok = s->dims[d] == b->dims[d];
        if (!ok)
            return trit_err_set(err, TRIT_E_CORRUPT, b->offset, b->name,
                                "MXFP4 blocks must be U8 [..., groups, 16] beside U8 scales [..., groups] ('%.80s'): "
                                "%s with %u dims, scales %s with %u dims", other, src_st_dtype_name(b->dtype), nd,
                                src_st_dtype_name(s->dtype), s->n_dims);
        uint64_t rows = 1;
        for (uint32_t d = 0; d + 2 < nd; d++) rows *= b->dims[d];   /* b->n_elems bounds the product */
        pair[i].scales = (uint32_t)si;
        pair[i].rows = rows;
        pair[i].groups = b->dims[nd - 2];
        if (!rows || !pair[i].groups)
            return trit_err_set(err, TRIT_E_CORRUPT, b->offset, b->name, "MXFP4 tensor without elements");
    }
    return TRIT_OK;
}

/* Blocks [k0, k0 + nk) of the pair (row-major block order) as ggml blocks into out. */
static int ggml_blocks(const src_st *st, uint32_t i, const src_mxfp4_pair *p, uint64_t k0, uint64_t nk, uint8_t *out,
                       trit_err *err)
{
    uint64_t const chunk = 4096;   /* blocks per read: 64 KiB of packed values */
    uint8_t *hf = malloc((size_t)(chunk * 16)), *sc = malloc((size_t)chunk);
    int rc = hf && sc ? TRIT_OK : trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory for MXFP4 blocks");
    for (uint64_t k = 0; k < nk && rc == TRIT_OK; k += chunk) {
        uint64_t const m = nk - k < chunk ? nk - k : chunk;
        rc = src_st_read(st, i, (k0 + k) * 16, hf, m * 16, err);
        if (rc == TRIT_OK) rc = src_st_read(st, p->scales, k0 + k, sc, m, err);
        for (uint64_t b = 0; b < m && rc == TRIT_OK; b++)
            if (sc[b] == SRC_MXFP4_NAN_SCALE) {
                src_st_tensor const *s = src_st_tensor_at(st, p->scales);
                rc = trit_err_set(err, TRIT_E_CORRUPT, s->offset + k0 + k + b, s->name,
                                  "MXFP4 block %llu has the E8M0 scale 255, which is NaN", (unsigned long long)(k0 + k + b));
            }
        for (uint64_t b = 0; b < m && rc == TRIT_OK; b++)
            src_mxfp4_hf_to_ggml(hf + b * 16, sc[b], out + (k + b) * SRC_MXFP4_BYTES);
    }
    free(hf);
    free(sc);
    return rc;
}

int src_mxfp4_pair_f32(const src_st *st, uint32_t i, const src_mxfp4_pair *p, uint64_t first, uint64_t n, float *out,
                       trit_err *err)
{
    uint64_t const total = p->rows * p->groups;   /* blocks */
    if (n == 0) return TRIT_OK;
    uint64_t const k0 = first / SRC_MXFP4_BLOCK, k1 = trit_div_ceil(first + n, SRC_MXFP4_BLOCK);
    if (first + n < first || k1 > total)
        return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, src_st_tensor_at(st, i)->name, "elements outside the tensor");
    uint64_t const step = 1024;   /* blocks decoded at a time */
    uint8_t *g = malloc((size_t)(step * SRC_MXFP4_BYTES));
    float *v = trit_mallocarray(step * SRC_MXFP4_BLOCK, sizeof *v);
    int rc = g && v ? TRIT_OK : trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory for MXFP4 values");
    for (uint64_t k = k0; k < k1 && rc == TRIT_OK; k += step) {
        uint64_t const m = k1 - k < step ? k1 - k : step;
        rc = ggml_blocks(st, i, p, k, m, g, err);
        if (rc == TRIT_OK) rc = src_mxfp4_dequant(g, m, v, err);
        if (rc != TRIT_OK) break;
        uint64_t const lo = k * SRC_MXFP4_BLOCK, hi = (k + m) * SRC_MXFP4_BLOCK;
        uint64_t const a = first > lo ? first : lo, b = first + n < hi ? first + n : hi;
        memcpy(out + (a - first), v + (a - lo), (size_t)(b - a) * sizeof *out);
    }
    free(g);
    free(v);
    if (rc != TRIT_OK && err && !err->where[0]) snprintf(err->where, sizeof err->where, "%.90s", src_st_tensor_at(st, i)->name);
    return rc;
}

int src_mxfp4_pair_raw(const src_st *st, uint32_t i, const src_mxfp4_pair *p, uint64_t byte_off, void *buf, uint64_t n,
                       trit_err *err)
{
    uint64_t const total = p->rows * p->groups * SRC_MXFP4_BYTES;
    if (byte_off > total || n > total - byte_off)
        return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, src_st_tensor_at(st, i)->name, "bytes outside the tensor");
    if (n == 0) return TRIT_OK;
    uint64_t const k0 = byte_off / SRC_MXFP4_BYTES, k1 = trit_div_ceil(byte_off + n, SRC_MXFP4_BYTES);
    uint64_t const step = 1024;
    uint8_t *g = malloc((size_t)(step * SRC_MXFP4_BYTES));
    int rc = g ? TRIT_OK : trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory for MXFP4 blocks");
    for (uint64_t k = k0; k < k1 && rc == TRIT_OK; k += step) {
        uint64_t const m = k1 - k < step ? k1 - k : step;
        rc = ggml_blocks(st, i, p, k, m, g, err);
        if (rc != TRIT_OK) break;
        uint64_t const lo = k * SRC_MXFP4_BYTES, hi = (k + m) * SRC_MXFP4_BYTES;
        uint64_t const a = byte_off > lo ? byte_off : lo, b = byte_off + n < hi ? byte_off + n : hi;
        memcpy((uint8_t *)buf + (a - byte_off), g + (a - lo), (size_t)(b - a));
    }
    free(g);
    return rc;
}
