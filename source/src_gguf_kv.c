/* src_gguf_kv.c - GGUF metadata access: typed value reads, array iteration, KV lookups.
 *
 * Values are views into the header buffer that open validated, so reads here cannot run past
 * it; the iterator still re-checks every length against the array's byte size, so a view that
 * a caller built by hand cannot make it read out of bounds either. */
#include <string.h>

#include "src_gguf_int.h"
#include "trit_cursor.h"
#include "trit_limits.h"

const char *src_gguf_type_name(uint32_t type)
{
    static const char *const names[SRC_GGUF_TYPE_COUNT] = {
        "uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
        "bool", "string", "array", "uint64", "int64", "float64"};
    return type < SRC_GGUF_TYPE_COUNT ? names[type] : "?";
}

/* Signed integers widened to int64; *is_int = 0 for other types. */
static int64_t load_signed(const src_gguf_val *v, int *is_int)
{
    *is_int = 1;
    switch (v->type) {
    case SRC_GGUF_INT8: return (int8_t)v->p[0];
    case SRC_GGUF_INT16: return (int16_t)trit_load_le16(v->p);
    case SRC_GGUF_INT32: return (int32_t)trit_load_le32(v->p);
    case SRC_GGUF_INT64: return (int64_t)trit_load_le64(v->p);
    default: *is_int = 0; return 0;
    }
}

static uint64_t load_unsigned(const src_gguf_val *v, int *is_uint)
{
    *is_uint = 1;
    switch (v->type) {
    case SRC_GGUF_UINT8: return v->p[0];
    case SRC_GGUF_UINT16: return trit_load_le16(v->p);
    case SRC_GGUF_UINT32: return trit_load_le32(v->p);
    case SRC_GGUF_UINT64: return trit_load_le64(v->p);
    default: *is_uint = 0; return 0;
    }
}

int src_gguf_val_u64(const src_gguf_val *v, uint64_t *out)
{
    int ok;
    uint64_t const u = load_unsigned(v, &ok);
    if (ok) { *out = u; return TRIT_OK; }
    if (v->type == SRC_GGUF_BOOL) { *out = v->p[0] != 0; return TRIT_OK; }
    int64_t const s = load_signed(v, &ok);
    if (ok && s >= 0) { *out = (uint64_t)s; return TRIT_OK; }
    return TRIT_E_USAGE;
}

int src_gguf_val_i64(const src_gguf_val *v, int64_t *out)
{
    int ok;
    int64_t const s = load_signed(v, &ok);
    if (ok) { *out = s; return TRIT_OK; }
    uint64_t const u = load_unsigned(v, &ok);
    if (ok && u <= (uint64_t)INT64_MAX) { *out = (int64_t)u; return TRIT_OK; }
    return TRIT_E_USAGE;
}

int src_gguf_val_f64(const src_gguf_val *v, double *out)
{
    int ok;
    if (v->type == SRC_GGUF_FLOAT32) {
        uint32_t const u = trit_load_le32(v->p);
        float f;
        memcpy(&f, &u, sizeof f);
        *out = (double)f;
        return TRIT_OK;
    }
    if (v->type == SRC_GGUF_FLOAT64) {
        uint64_t const u = trit_load_le64(v->p);
        memcpy(out, &u, sizeof *out);
        return TRIT_OK;
    }
    int64_t const s = load_signed(v, &ok);
    if (ok) { *out = (double)s; return TRIT_OK; }
    uint64_t const u = load_unsigned(v, &ok);
    if (ok) { *out = (double)u; return TRIT_OK; }
    return TRIT_E_USAGE;
}

int src_gguf_val_bool(const src_gguf_val *v, int *out)
{
    if (v->type != SRC_GGUF_BOOL) return TRIT_E_USAGE;
    *out = v->p[0] != 0;
    return TRIT_OK;
}

int src_gguf_val_str(const src_gguf_val *v, const char **s, uint64_t *n)
{
    if (v->type != SRC_GGUF_STRING) return TRIT_E_USAGE;
    *s = (const char *)v->p;
    *n = v->count;
    return TRIT_OK;
}

#define BAD UINT64_MAX

/* Bytes taken by cnt elements of type et at p (avail bytes there), or BAD if they do not fit. */
static uint64_t measure(const uint8_t *p, uint64_t avail, uint32_t et, uint64_t cnt, unsigned depth)
{
    uint64_t const fs = src_gguf__fixed_size(et);
    uint64_t pos = 0;
    if (fs) return cnt <= avail / fs ? cnt * fs : BAD;
    if (et == SRC_GGUF_STRING) {
        for (uint64_t j = 0; j < cnt; j++) {
            if (avail - pos < 8) return BAD;
            uint64_t const len = trit_load_le64(p + pos);
            if (len > avail - pos - 8) return BAD;
            pos += 8 + len;
        }
        return pos;
    }
    if (et != SRC_GGUF_ARRAY || depth >= TRIT_MAX_GGUF_ARRAY_DEPTH) return BAD;
    for (uint64_t j = 0; j < cnt; j++) {
        if (avail - pos < 12) return BAD;
        uint32_t const sub_et = trit_load_le32(p + pos);
        uint64_t const sub_cnt = trit_load_le64(p + pos + 4);
        uint64_t const sub = measure(p + pos + 12, avail - pos - 12, sub_et, sub_cnt, depth + 1);
        if (sub == BAD) return BAD;
        pos += 12 + sub;
    }
    return pos;
}

void src_gguf_iter_init(src_gguf_iter *it, const src_gguf_val *arr)
{
    it->arr = *arr;
    it->idx = 0;
    it->pos = 0;
}

int src_gguf_iter_next(src_gguf_iter *it, src_gguf_val *e)
{
    const src_gguf_val *a = &it->arr;
    if (a->type != SRC_GGUF_ARRAY || it->idx >= a->count || it->pos > a->nbytes) return 0;
    uint64_t const rem = a->nbytes - it->pos;
    const uint8_t *q = a->p + it->pos;
    uint64_t const fs = src_gguf__fixed_size(a->elem_type);
    memset(e, 0, sizeof *e);
    e->type = a->elem_type;
    if (fs) {
        if (fs > rem) return 0;
        e->count = 1;
        e->p = q;
        e->nbytes = fs;
        e->off = a->off + it->pos;
        it->pos += fs;
    } else if (a->elem_type == SRC_GGUF_STRING) {
        if (rem < 8) return 0;
        uint64_t const len = trit_load_le64(q);
        if (len > rem - 8) return 0;
        e->count = e->nbytes = len;
        e->p = q + 8;
        e->off = a->off + it->pos + 8;
        it->pos += 8 + len;
    } else if (a->elem_type == SRC_GGUF_ARRAY) {
        if (rem < 12) return 0;
        e->elem_type = trit_load_le32(q);
        e->count = trit_load_le64(q + 4);
        /* depth 1: bounded by the cap regardless of how deep this view sits */
        uint64_t const sub = measure(q + 12, rem - 12, e->elem_type, e->count, 1);
        if (sub == BAD) return 0;
        e->p = q + 12;
        e->nbytes = sub;
        e->off = a->off + it->pos + 12;
        it->pos += 12 + sub;
    } else {
        return 0;
    }
    it->idx++;
    return 1;
}

/* ---- KV-level access --------------------------------------------------------------------- */

static const gguf_kv *kv_at(const src_gguf *h, uint64_t i)
{
    return i < h->parts[0].n_kv ? &h->parts[0].kvs[i] : NULL;
}

uint64_t src_gguf_n_kv(const src_gguf *h) { return h->parts[0].n_kv; }

const char *src_gguf_kv_key(const src_gguf *h, uint64_t i)
{
    const gguf_kv *kv = kv_at(h, i);
    return kv ? kv->key : NULL;
}

uint64_t src_gguf_kv_offset(const src_gguf *h, uint64_t i)
{
    const gguf_kv *kv = kv_at(h, i);
    return kv ? kv->rec_off : TRIT_NO_OFFSET;
}

uint32_t src_gguf_kv_type(const src_gguf *h, uint64_t i, uint32_t *elem_type, uint64_t *count)
{
    const gguf_kv *kv = kv_at(h, i);
    if (!kv) return SRC_GGUF_TYPE_COUNT;
    if (elem_type) *elem_type = kv->val.elem_type;
    if (count) *count = kv->val.count;
    return kv->val.type;
}

void src_gguf_kv_val(const src_gguf *h, uint64_t i, src_gguf_val *out)
{
    const gguf_kv *kv = kv_at(h, i);
    if (kv) *out = kv->val;
    else memset(out, 0, sizeof *out);
}

int64_t src_gguf_find_kv(const src_gguf *h, const char *key)
{
    const gguf_part *p = &h->parts[0];
    uint64_t lo = 0, hi = p->n_kv;
    while (lo < hi) {
        uint64_t const mid = lo + (hi - lo) / 2;
        int const c = strcmp(p->kvs[p->kv_by_key[mid]].key, key);
        if (c == 0) return (int64_t)p->kv_by_key[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

#define KV_SCALAR(fn, T, valfn)                                      \
    int fn(const src_gguf *h, uint64_t i, T *out)                    \
    {                                                                \
        const gguf_kv *kv = kv_at(h, i);                             \
        return kv ? valfn(&kv->val, out) : TRIT_E_USAGE;             \
    }
KV_SCALAR(src_gguf_kv_u64, uint64_t, src_gguf_val_u64)
KV_SCALAR(src_gguf_kv_i64, int64_t, src_gguf_val_i64)
KV_SCALAR(src_gguf_kv_f64, double, src_gguf_val_f64)
KV_SCALAR(src_gguf_kv_bool, int, src_gguf_val_bool)
#undef KV_SCALAR

int src_gguf_kv_str(const src_gguf *h, uint64_t i, const char **s, uint64_t *n)
{
    const gguf_kv *kv = kv_at(h, i);
    return kv ? src_gguf_val_str(&kv->val, s, n) : TRIT_E_USAGE;
}

int src_gguf_kv_arr_str(const src_gguf *h, uint64_t i, uint64_t j, const char **s, uint64_t *n)
{
    const gguf_kv *kv = kv_at(h, i);
    if (!kv || kv->val.type != SRC_GGUF_ARRAY || kv->val.elem_type != SRC_GGUF_STRING ||
        j >= kv->val.count || !kv->str_pos)
        return TRIT_E_USAGE;
    const uint8_t *q = kv->val.p + kv->str_pos[j];
    *n = trit_load_le64(q);
    *s = (const char *)(q + 8);
    return TRIT_OK;
}

/* Element j of a fixed-size-element array KV as a scalar view. */
static int arr_elem(const src_gguf *h, uint64_t i, uint64_t j, src_gguf_val *e)
{
    const gguf_kv *kv = kv_at(h, i);
    if (!kv || kv->val.type != SRC_GGUF_ARRAY || j >= kv->val.count) return TRIT_E_USAGE;
    uint64_t const fs = src_gguf__fixed_size(kv->val.elem_type);
    if (!fs) return TRIT_E_USAGE;
    memset(e, 0, sizeof *e);
    e->type = kv->val.elem_type;
    e->count = 1;
    e->p = kv->val.p + j * fs;
    e->nbytes = fs;
    e->off = kv->val.off + j * fs;
    return TRIT_OK;
}

#define KV_ARR(fn, T, valfn)                                          \
    int fn(const src_gguf *h, uint64_t i, uint64_t j, T *out)         \
    {                                                                 \
        src_gguf_val e;                                               \
        int const rc = arr_elem(h, i, j, &e);                         \
        return rc ? rc : valfn(&e, out);                              \
    }
KV_ARR(src_gguf_kv_arr_u64, uint64_t, src_gguf_val_u64)
KV_ARR(src_gguf_kv_arr_i64, int64_t, src_gguf_val_i64)
KV_ARR(src_gguf_kv_arr_f64, double, src_gguf_val_f64)
#undef KV_ARR
