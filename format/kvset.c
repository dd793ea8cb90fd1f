/*
 * kvset.c - typed key/value records (spec/container.md 5.1): the parser shared by the index's
 * metadata and by sections that carry KV records (the tokenizer, kind 3), and their getters.
 * Every length is checked against the bytes left and a cap before anything is allocated.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trit_cursor.h"
#include "trit_int.h"
#include "trit_limits.h"
#include "trit_safemath.h"
#include "trit_try.h"


uint32_t trit__kv_scalar_size(uint32_t type)
{
    switch (type) {
    case TRIT_KV_U8: case TRIT_KV_I8: case TRIT_KV_BOOL: return 1;
    case TRIT_KV_U16: case TRIT_KV_I16: return 2;
    case TRIT_KV_U32: case TRIT_KV_I32: case TRIT_KV_F32: return 4;
    case TRIT_KV_U64: case TRIT_KV_I64: case TRIT_KV_F64: return 8;
    default: return 0;
    }
}

/* Copy a name of n bytes into the arena; refuses empty names and embedded NULs. */
static int take_name(char *arena, size_t *arena_used, const uint8_t *p, uint16_t n,
                     uint64_t off, const char *what, const char **out, trit_err *err)
{
    if (n == 0) return trit_err_set(err, TRIT_E_CORRUPT, off, what, "empty name");
    if (n > TRIT_MAX_NAME_LEN)
        return trit_err_set(err, TRIT_E_LIMIT, off, what, "name of %u bytes, limit %u", n,
                            TRIT_MAX_NAME_LEN);
    if (memchr(p, 0, n)) return trit_err_set(err, TRIT_E_CORRUPT, off, what, "name contains a NUL byte");
    char *dst = arena + *arena_used;
    memcpy(dst, p, n);
    dst[n] = '\0';
    *arena_used += (size_t)n + 1;
    *out = dst;
    return TRIT_OK;
}

int trit__read_name(trit_cur *c, char *arena, size_t *arena_used, const char *what, const char **out,
                    trit_err *err)
{
    uint64_t const off = trit_cur_pos(c);
    uint16_t n;
    const uint8_t *p;
    int rc = trit_cur_u16(c, &n, what, err);
    if (rc == TRIT_OK && n > TRIT_MAX_NAME_LEN)
        return trit_err_set(err, TRIT_E_LIMIT, off, what, "name of %u bytes, limit %u", n,
                            TRIT_MAX_NAME_LEN);
    if (rc == TRIT_OK) rc = trit_cur_bytes(c, n, &p, what, err);
    if (rc == TRIT_OK) rc = take_name(arena, arena_used, p, n, off, what, out, err);
    return rc;
}

static int parse_kv(trit_cur *c, trit_kvset *s, size_t *arena_used, uint32_t idx, trit_err *err)
{
    int rc;
    uint8_t type;
    char where[96];
    trit__kv *kv = &s->kvs[idx];
    s->rec_off[idx] = trit_cur_pos(c);
    TRY(trit__read_name(c, s->arena, arena_used, "metadata key", &kv->key, err));
    snprintf(where, sizeof where, "metadata '%.80s'", kv->key);
    uint64_t const type_off = trit_cur_pos(c);
    TRY(trit_cur_u8(c, &type, where, err));
    kv->type = type;
    kv->val = c->base + c->off;
    if (type == TRIT_KV_STRING) {
        uint32_t n;
        uint64_t const loff = trit_cur_pos(c);
        TRY(trit_cur_u32(c, &n, where, err));
        if (n > TRIT_MAX_STRING_LEN)
            FAIL(TRIT_E_LIMIT, loff, where, "string of %u bytes, limit %u", n, TRIT_MAX_STRING_LEN);
        TRY(trit_cur_skip(c, n, where, err));
    } else if (type == TRIT_KV_ARRAY) {
        uint8_t et;
        uint64_t count;
        uint64_t const et_off = trit_cur_pos(c);
        TRY(trit_cur_u8(c, &et, where, err));
        uint64_t const count_off = trit_cur_pos(c);
        TRY(trit_cur_u64(c, &count, where, err));
        if (et == TRIT_KV_ARRAY || (et != TRIT_KV_STRING && trit__kv_scalar_size(et) == 0))
            FAIL(TRIT_E_CORRUPT, et_off, where, "invalid array element type %u", et);
        if (count > TRIT_MAX_ARRAY_LEN)
            FAIL(TRIT_E_LIMIT, count_off, where, "array of %llu elements, limit %u",
                 (unsigned long long)count, TRIT_MAX_ARRAY_LEN);
        kv->elem_type = et;
        kv->count = count;
        kv->val = c->base + c->off;
        if (et == TRIT_KV_STRING) {
            /* each element needs at least its 4-byte length: check before allocating */
            uint64_t minb;
            if (trit_mul_u64(count, 4, &minb) || !trit_cur_need(c, minb))
                FAIL(TRIT_E_TRUNCATED, count_off, where, "array of %llu strings does not fit in %llu bytes",
                     (unsigned long long)count, (unsigned long long)trit_cur_left(c));
            kv->str_offs = trit_mallocarray(count ? count : 1, sizeof *kv->str_offs);
            if (!kv->str_offs) FAIL(TRIT_E_NOMEM, count_off, where, "cannot index %llu strings",
                                    (unsigned long long)count);
            size_t const start = c->off;
            for (uint64_t j = 0; j < count; j++) {
                uint32_t n;
                kv->str_offs[j] = c->off - start;
                uint64_t const loff = trit_cur_pos(c);
                TRY(trit_cur_u32(c, &n, where, err));
                if (n > TRIT_MAX_STRING_LEN)
                    FAIL(TRIT_E_LIMIT, loff, where, "string of %u bytes, limit %u", n, TRIT_MAX_STRING_LEN);
                TRY(trit_cur_skip(c, n, where, err));
            }
        } else {
            uint64_t nb;
            if (trit_mul_u64(count, trit__kv_scalar_size(et), &nb))
                FAIL(TRIT_E_LIMIT, count_off, where, "array size overflows");
            if (!trit_cur_need(c, nb))
                FAIL(TRIT_E_TRUNCATED, count_off, where, "array of %llu bytes, %llu left",
                     (unsigned long long)nb, (unsigned long long)trit_cur_left(c));
            TRY(trit_cur_skip(c, nb, where, err));
        }
    } else {
        uint32_t const sz = trit__kv_scalar_size(type);
        if (sz == 0) FAIL(TRIT_E_CORRUPT, type_off, where, "unknown value type %u", type);
        if (type == TRIT_KV_BOOL && trit_cur_need(c, 1) && c->base[c->off] > 1)
            FAIL(TRIT_E_CORRUPT, trit_cur_pos(c), where, "bool value %u is not 0 or 1", c->base[c->off]);
        TRY(trit_cur_skip(c, sz, where, err));
    }
out:
    return rc;
}


typedef struct kv_named { const char *name; uint32_t idx; } kv_named;

static int cmp_kv_named(const void *a, const void *b)
{
    const kv_named *x = a, *y = b;
    int const c = strcmp(x->name, y->name);
    return c ? c : (x->idx < y->idx ? -1 : x->idx > y->idx);
}

void trit_kvset_free(trit_kvset *s)
{
    if (!s) return;
    for (uint32_t i = 0; i < s->n; i++) free(s->kvs[i].str_offs);
    free(s->kvs);
    free(s->sorted);
    free(s->rec_off);
    free(s->arena);
    free(s);
}

int trit__kvset_parse_cur(trit_cur *c, uint32_t count, int until_end, trit_kvset **out, trit_err *err)
{
    int rc = TRIT_OK;
    kv_named *nm = NULL;
    size_t arena_used = 0;
    *out = NULL;
    /* A record is at least 5 bytes (u16 key length, 1 key byte, type, 1 value byte): that bounds
     * the record count of a blob before anything is allocated. A blob (a kind-3 section holds a
     * whole vocabulary: megabytes in a few dozen records) is only refused when it really has
     * more than TRIT_MAX_KV records. */
    size_t const left = trit_cur_left(c);
    size_t const cap = until_end ? (left / 5 < TRIT_MAX_KV ? left / 5 : TRIT_MAX_KV) : count;
    if (cap > TRIT_MAX_KV)
        return trit_err_set(err, TRIT_E_LIMIT, trit_cur_pos(c), "metadata", "up to %zu records, limit %u", cap,
                            TRIT_MAX_KV);
    trit_kvset *s = calloc(1, sizeof *s);
    if (!s) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    s->kvs = calloc(cap + 1, sizeof *s->kvs);
    s->rec_off = trit_mallocarray(cap + 1, sizeof *s->rec_off);
    s->sorted = trit_mallocarray(cap + 1, sizeof *s->sorted);
    s->arena = malloc(left + cap + 1); /* keys are at most the blob, plus one NUL each */
    nm = trit_mallocarray(cap + 1, sizeof *nm);
    if (!s->kvs || !s->rec_off || !s->sorted || !s->arena || !nm)
        FAIL(TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "cannot allocate %zu metadata records", cap);
    while (until_end ? trit_cur_left(c) > 0 : s->n < count) {
        if (s->n == cap && cap == TRIT_MAX_KV)
            FAIL(TRIT_E_LIMIT, trit_cur_pos(c), "metadata", "more than %u records", TRIT_MAX_KV);
        if (s->n == cap) FAIL(TRIT_E_CORRUPT, trit_cur_pos(c), "metadata", "more records than fit");
        s->n++; /* counted before parsing so a half-parsed record is freed */
        TRY(parse_kv(c, s, &arena_used, s->n - 1, err));
    }
    /* unique keys; the sorted order serves trit_kvset_find */
    for (uint32_t i = 0; i < s->n; i++) nm[i] = (kv_named){s->kvs[i].key, i};
    qsort(nm, s->n, sizeof *nm, cmp_kv_named);
    for (uint32_t i = 0; i < s->n; i++) {
        if (i && strcmp(nm[i].name, nm[i - 1].name) == 0) {
            char where[112];
            snprintf(where, sizeof where, "metadata '%.80s'", nm[i].name);
            FAIL(TRIT_E_CORRUPT, s->rec_off[nm[i].idx], where, "duplicate name (also record %u)", nm[i - 1].idx);
        }
        s->sorted[i] = nm[i].idx;
    }
out:
    free(nm);
    if (rc != TRIT_OK) {
        trit_kvset_free(s);
        return rc;
    }
    *out = s;
    return TRIT_OK;
}

int trit_kvset_parse(const void *buf, uint64_t len, uint64_t base_off, const char *file, trit_kvset **out,
                     trit_err *err)
{
    trit_cur c;
    size_t n;
    trit_err_clear(err);
    if (trit_to_size(len, &n)) return trit_err_set(err, TRIT_E_LIMIT, base_off, "metadata", "blob too large");
    trit_cur_init(&c, buf, n, base_off, file);
    int const rc = trit__kvset_parse_cur(&c, 0, 1, out, err);
    if (rc != TRIT_OK) trit_err_file(err, file);
    return rc;
}

uint32_t trit_kvset_n(const trit_kvset *s) { return s->n; }
const char *trit_kvset_key(const trit_kvset *s, uint32_t i) { return i < s->n ? s->kvs[i].key : NULL; }

uint32_t trit_kvset_type(const trit_kvset *s, uint32_t i, uint32_t *elem_type, uint64_t *count)
{
    if (i >= s->n) return UINT32_MAX;
    if (elem_type) *elem_type = s->kvs[i].elem_type;
    if (count) *count = s->kvs[i].count;
    return s->kvs[i].type;
}

int64_t trit_kvset_find(const trit_kvset *s, const char *key)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t const mid = lo + (hi - lo) / 2;
        int const c = strcmp(s->kvs[s->sorted[mid]].key, key);
        if (c == 0) return s->sorted[mid];
        if (c < 0) lo = mid + 1; else hi = mid;
    }
    return -1;
}

/* Read a scalar of the given type at p as integer. Returns 0 if type is not an integer type. */
static int scalar_i64(uint32_t type, const uint8_t *p, int64_t *i, uint64_t *u, int *is_unsigned)
{
    *is_unsigned = 0;
    switch (type) {
    case TRIT_KV_U8: case TRIT_KV_BOOL: *u = p[0]; *is_unsigned = 1; return 1;
    case TRIT_KV_I8: *i = (int8_t)p[0]; return 1;
    case TRIT_KV_U16: *u = trit_load_le16(p); *is_unsigned = 1; return 1;
    case TRIT_KV_I16: *i = (int16_t)trit_load_le16(p); return 1;
    case TRIT_KV_U32: *u = trit_load_le32(p); *is_unsigned = 1; return 1;
    case TRIT_KV_I32: *i = (int32_t)trit_load_le32(p); return 1;
    case TRIT_KV_U64: *u = trit_load_le64(p); *is_unsigned = 1; return 1;
    case TRIT_KV_I64: *i = (int64_t)trit_load_le64(p); return 1;
    default: return 0;
    }
}

static int value_u64(uint32_t type, const uint8_t *p, uint64_t *out)
{
    int64_t i = 0;
    uint64_t u = 0;
    int uns;
    if (!scalar_i64(type, p, &i, &u, &uns)) return TRIT_E_USAGE;
    if (!uns && i < 0) return TRIT_E_USAGE;
    *out = uns ? u : (uint64_t)i;
    return TRIT_OK;
}

static int value_i64(uint32_t type, const uint8_t *p, int64_t *out)
{
    int64_t i = 0;
    uint64_t u = 0;
    int uns;
    if (!scalar_i64(type, p, &i, &u, &uns)) return TRIT_E_USAGE;
    if (uns && u > (uint64_t)INT64_MAX) return TRIT_E_USAGE;
    *out = uns ? (int64_t)u : i;
    return TRIT_OK;
}

static int value_f64(uint32_t type, const uint8_t *p, double *out)
{
    if (type == TRIT_KV_F32) {
        uint32_t const b = trit_load_le32(p);
        float f;
        memcpy(&f, &b, sizeof f);
        *out = f;
        return TRIT_OK;
    }
    if (type == TRIT_KV_F64) {
        uint64_t const b = trit_load_le64(p);
        memcpy(out, &b, sizeof *out);
        return TRIT_OK;
    }
    int64_t i = 0;
    uint64_t u = 0;
    int uns;
    if (!scalar_i64(type, p, &i, &u, &uns)) return TRIT_E_USAGE;
    *out = uns ? (double)u : (double)i;
    return TRIT_OK;
}

int trit_kvset_u64(const trit_kvset *s, uint32_t i, uint64_t *out)
{
    return i < s->n ? value_u64(s->kvs[i].type, s->kvs[i].val, out) : TRIT_E_USAGE;
}

int trit_kvset_i64(const trit_kvset *s, uint32_t i, int64_t *out)
{
    return i < s->n ? value_i64(s->kvs[i].type, s->kvs[i].val, out) : TRIT_E_USAGE;
}

int trit_kvset_f64(const trit_kvset *s, uint32_t i, double *out)
{
    return i < s->n ? value_f64(s->kvs[i].type, s->kvs[i].val, out) : TRIT_E_USAGE;
}

int trit_kvset_str(const trit_kvset *s, uint32_t i, const char **str, uint64_t *n)
{
    if (i >= s->n || s->kvs[i].type != TRIT_KV_STRING) return TRIT_E_USAGE;
    *n = trit_load_le32(s->kvs[i].val);
    *str = (const char *)s->kvs[i].val + 4;
    return TRIT_OK;
}

int trit_kvset_arr_str(const trit_kvset *s, uint32_t i, uint64_t j, const char **str, uint64_t *n)
{
    if (i >= s->n) return TRIT_E_USAGE;
    trit__kv const *kv = &s->kvs[i];
    if (kv->type != TRIT_KV_ARRAY || kv->elem_type != TRIT_KV_STRING || j >= kv->count) return TRIT_E_USAGE;
    const uint8_t *p = kv->val + kv->str_offs[j];
    *n = trit_load_le32(p);
    *str = (const char *)p + 4;
    return TRIT_OK;
}

static const uint8_t *arr_elem(const trit_kvset *s, uint32_t i, uint64_t j, uint32_t *type)
{
    if (i >= s->n) return NULL;
    trit__kv const *kv = &s->kvs[i];
    if (kv->type != TRIT_KV_ARRAY || kv->elem_type == TRIT_KV_STRING || j >= kv->count) return NULL;
    *type = kv->elem_type;
    return kv->val + j * trit__kv_scalar_size(kv->elem_type);
}

int trit_kvset_arr_f64(const trit_kvset *s, uint32_t i, uint64_t j, double *out)
{
    uint32_t type;
    const uint8_t *p = arr_elem(s, i, j, &type);
    return p ? value_f64(type, p, out) : TRIT_E_USAGE;
}

int trit_kvset_arr_i64(const trit_kvset *s, uint32_t i, uint64_t j, int64_t *out)
{
    uint32_t type;
    const uint8_t *p = arr_elem(s, i, j, &type);
    return p ? value_i64(type, p, out) : TRIT_E_USAGE;
}

int trit_kvset_arr_u64(const trit_kvset *s, uint32_t i, uint64_t j, uint64_t *out)
{
    uint32_t type;
    const uint8_t *p = arr_elem(s, i, j, &type);
    return p ? value_u64(type, p, out) : TRIT_E_USAGE;
}
