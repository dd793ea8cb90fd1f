/* cvt_tok_gguf.c - a GGUF's tokenizer.* keys copied into the container's KV encoding with their
 * types (GGUF and the container number their types differently; both have the same set except
 * nested arrays, which the container has no encoding for and which no tokenizer key uses). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src_gguf.h"
#include "cvt_tok_int.h"
#include "trit_cursor.h"
#include "trit_limits.h"
#include "trit_safemath.h"

/* Container KV type of a GGUF scalar type, or -1. */
static int kv_type(uint32_t gt)
{
    switch (gt) {
    case SRC_GGUF_UINT8: return TRIT_KV_U8;
    case SRC_GGUF_INT8: return TRIT_KV_I8;
    case SRC_GGUF_UINT16: return TRIT_KV_U16;
    case SRC_GGUF_INT16: return TRIT_KV_I16;
    case SRC_GGUF_UINT32: return TRIT_KV_U32;
    case SRC_GGUF_INT32: return TRIT_KV_I32;
    case SRC_GGUF_FLOAT32: return TRIT_KV_F32;
    case SRC_GGUF_BOOL: return TRIT_KV_BOOL;
    case SRC_GGUF_UINT64: return TRIT_KV_U64;
    case SRC_GGUF_INT64: return TRIT_KV_I64;
    case SRC_GGUF_FLOAT64: return TRIT_KV_F64;
    default: return -1;
    }
}

/* Little-endian bits of a scalar element of n bytes. */
static uint64_t le_bits(const uint8_t *p, uint64_t n)
{
    switch (n) {
    case 1: return p[0];
    case 2: return trit_load_le16(p);
    case 4: return trit_load_le32(p);
    default: return trit_load_le64(p);
    }
}

static int nomem(trit_err *err, const char *key)
{
    return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, key, "out of memory");
}

static int copy_array(const src_gguf_val *v, const char *key, trit_kvbuf *out, trit_err *err)
{
    src_gguf_iter it;
    src_gguf_val e;
    uint64_t i = 0;
    if (v->count > TRIT_MAX_ARRAY_LEN)
        return trit_err_set(err, TRIT_E_LIMIT, v->off, key, "array of %llu elements, limit %u",
                            (unsigned long long)v->count, TRIT_MAX_ARRAY_LEN);
    size_t const n = (size_t)v->count;
    int rc = TRIT_OK;
    src_gguf_iter_init(&it, v);
    if (v->elem_type == SRC_GGUF_STRING) {
        const char **strs = trit_mallocarray(n, sizeof *strs);
        uint64_t *lens = trit_mallocarray(n, sizeof *lens);
        if (!strs || !lens) rc = nomem(err, key);
        for (; rc == TRIT_OK && i < n && src_gguf_iter_next(&it, &e); i++) {
            strs[i] = (const char *)e.p;
            lens[i] = e.count;
        }
        if (rc == TRIT_OK && i != n) rc = trit_err_set(err, TRIT_E_CORRUPT, v->off, key, "array ends early");
        if (rc == TRIT_OK) rc = trit_kvbuf_arr_str(out, key, strs, lens, n, err);
        free(strs);
        free(lens);
        return rc;
    }
    int const kt = kv_type(v->elem_type);
    if (kt < 0) return trit_err_set(err, TRIT_E_CORRUPT, v->off, key, "unknown element type %u", v->elem_type);
    /* host layout for trit_kvbuf_arr: each element stored as its C type */
    static const uint8_t size_of[] = {[TRIT_KV_U8] = 1, [TRIT_KV_I8] = 1, [TRIT_KV_U16] = 2, [TRIT_KV_I16] = 2,
                                      [TRIT_KV_U32] = 4, [TRIT_KV_I32] = 4, [TRIT_KV_F32] = 4, [TRIT_KV_BOOL] = 1,
                                      [TRIT_KV_U64] = 8, [TRIT_KV_I64] = 8, [TRIT_KV_F64] = 8};
    size_t const es = size_of[kt];
    uint8_t *vals = trit_mallocarray(n, es);
    if (!vals) return nomem(err, key);
    for (; i < n && src_gguf_iter_next(&it, &e); i++) {
        uint64_t const bits = le_bits(e.p, e.nbytes);
        switch (es) {
        case 1: vals[i] = (uint8_t)bits; break;
        case 2: { uint16_t const x = (uint16_t)bits; memcpy(vals + i * 2, &x, 2); break; }
        case 4: { uint32_t const x = (uint32_t)bits; memcpy(vals + i * 4, &x, 4); break; }
        default: memcpy(vals + i * 8, &bits, 8); break;
        }
    }
    rc = i == n ? trit_kvbuf_arr(out, key, (uint32_t)kt, vals, n, err)
                : trit_err_set(err, TRIT_E_CORRUPT, v->off, key, "array ends early");
    free(vals);
    return rc;
}

/* Elements of array KV `key` (-1 when absent); TRIT_E_CORRUPT when it is not an array. */
static int count_of(const src_gguf *g, const char *key, int64_t *idx, uint64_t *count, trit_err *err)
{
    *idx = src_gguf_find_kv(g, key);
    *count = 0;
    if (*idx < 0) return TRIT_OK;
    uint32_t et;
    if (src_gguf_kv_type(g, (uint64_t)*idx, &et, count) != SRC_GGUF_ARRAY)
        return trit_err_set(err, TRIT_E_CORRUPT, src_gguf_kv_offset(g, (uint64_t)*idx), key, "is not an array");
    return TRIT_OK;
}

/* info->model / pre / bos / eos / n_merges from the source keys. */
static void describe(const src_gguf *g, uint64_t n_tokens, cvt_tok_info *info)
{
    static const struct { const char *key; size_t off; size_t cap; } strs[] = {
        {"tokenizer.ggml.model", offsetof(cvt_tok_info, model), sizeof info->model},
        {"tokenizer.ggml.pre", offsetof(cvt_tok_info, pre), sizeof info->pre}};
    for (size_t k = 0; k < 2; k++) {
        int64_t const i = src_gguf_find_kv(g, strs[k].key);
        const char *s;
        uint64_t n;
        if (i >= 0 && src_gguf_kv_str(g, (uint64_t)i, &s, &n) == TRIT_OK)
            snprintf((char *)info + strs[k].off, strs[k].cap, "%.*s", (int)(n < strs[k].cap ? n : strs[k].cap - 1), s);
    }
    const char *ids[2] = {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id"};
    uint32_t *dst[2] = {&info->bos, &info->eos};
    for (int k = 0; k < 2; k++) {
        int64_t const i = src_gguf_find_kv(g, ids[k]);
        uint64_t v;
        if (i >= 0 && src_gguf_kv_u64(g, (uint64_t)i, &v) == TRIT_OK && v < n_tokens) *dst[k] = (uint32_t)v;
    }
    int64_t mi;
    uint64_t nm;
    trit_err ignore;
    if (count_of(g, "tokenizer.ggml.merges", &mi, &nm, &ignore) == TRIT_OK) info->n_merges = (uint32_t)nm;
}

static int copy_all(const src_gguf *g, trit_kvbuf *out, cvt_tok_info *info, trit_err *err)
{
    int64_t ti, si, yi;
    uint64_t n_tok, n_sc, n_ty;
    int rc = count_of(g, "tokenizer.ggml.tokens", &ti, &n_tok, err);
    if (rc) return rc;
    if (ti < 0)
        return trit_err_set(err, TRIT_E_NOTFOUND, TRIT_NO_OFFSET, "tokenizer.ggml.tokens",
                            "the GGUF carries no vocabulary");
    uint32_t et;
    src_gguf_kv_type(g, (uint64_t)ti, &et, NULL);
    if (et != SRC_GGUF_STRING)
        return trit_err_set(err, TRIT_E_CORRUPT, src_gguf_kv_offset(g, (uint64_t)ti), "tokenizer.ggml.tokens",
                            "is an array of %s, expected string", src_gguf_type_name(et));
    if ((rc = count_of(g, "tokenizer.ggml.scores", &si, &n_sc, err)) ||
        (rc = count_of(g, "tokenizer.ggml.token_type", &yi, &n_ty, err)))
        return rc;
    if ((si >= 0 && n_sc != n_tok) || (yi >= 0 && n_ty != n_tok)) {
        int64_t const bad = si >= 0 && n_sc != n_tok ? si : yi;
        return trit_err_set(err, TRIT_E_CORRUPT, src_gguf_kv_offset(g, (uint64_t)bad), src_gguf_kv_key(g, (uint64_t)bad),
                            "has %llu entries for %llu tokens", (unsigned long long)(bad == si ? n_sc : n_ty),
                            (unsigned long long)n_tok);
    }
    info->n_tokens = n_tok > UINT32_MAX ? UINT32_MAX : (uint32_t)n_tok;
    for (uint64_t i = 0; rc == TRIT_OK && i < src_gguf_n_kv(g); i++) {
        const char *key = src_gguf_kv_key(g, i);
        if (strncmp(key, "tokenizer.", 10) != 0) continue;
        src_gguf_val v;
        src_gguf_kv_val(g, i, &v);
        if (v.type == SRC_GGUF_STRING) {
            rc = trit_kvbuf_str(out, key, (const char *)v.p, v.count, err);
        } else if (v.type == SRC_GGUF_ARRAY && v.elem_type == SRC_GGUF_ARRAY) {
            info->n_skipped++;
            if (info->n_warnings++ == 0)
                snprintf(info->warning, sizeof info->warning, "%.100s: array of arrays not copied "
                         "(the container has no encoding for it)", key);
        } else if (v.type == SRC_GGUF_ARRAY) {
            rc = copy_array(&v, key, out, err);
        } else if (kv_type(v.type) >= 0) {
            rc = trit_kvbuf_scalar(out, key, (uint32_t)kv_type(v.type), le_bits(v.p, v.nbytes), err);
        } else {
            rc = trit_err_set(err, TRIT_E_CORRUPT, src_gguf_kv_offset(g, i), key, "unknown value type %u", v.type);
        }
        /* the encoder names the key but knows no offset: give the source record's */
        if (rc && err && err->offset == TRIT_NO_OFFSET && rc != TRIT_E_NOMEM) err->offset = src_gguf_kv_offset(g, i);
    }
    if (rc == TRIT_OK) describe(g, n_tok, info);
    return rc;
}

int cvt_tok_from_gguf(const src_gguf *g, trit_kvbuf *out, cvt_tok_info *info, trit_err *err)
{
    cvt_tok_info local;
    if (!info) info = &local;
    memset(info, 0, sizeof *info);
    info->kind = "gguf";
    info->source = "gguf";
    info->bos = info->eos = CVT_TOK_NONE;
    trit_err_clear(err);
    int const rc = copy_all(g, out, info, err);
    if (rc) trit_err_file(err, src_gguf_file_path(g, 0));
    return rc;
}
