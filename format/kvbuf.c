/* kvbuf.c - encodes typed KV records (spec/container.md 5.1) into a growable buffer: the index's
 * metadata (through the writer) and KV sections such as the tokenizer (kind 3). */
#include <stdlib.h>
#include <string.h>

#include "trit_cursor.h"
#include "trit_int.h"
#include "trit_limits.h"
#include "trit_safemath.h"

struct trit_kvbuf {
    uint8_t *buf;
    size_t len, cap;
    uint32_t n;
    char **keys;               /* owned copies, for the uniqueness check */
    uint32_t keys_cap;
};

trit_kvbuf *trit_kvbuf_new(void) { return calloc(1, sizeof(trit_kvbuf)); }

void trit_kvbuf_free(trit_kvbuf *b)
{
    if (!b) return;
    for (uint32_t i = 0; i < b->n; i++) free(b->keys[i]);
    free(b->keys);
    free(b->buf);
    free(b);
}

uint32_t trit_kvbuf_count(const trit_kvbuf *b) { return b->n; }

static int put(trit_kvbuf *b, const void *p, size_t n)
{
    if (n > SIZE_MAX - b->len) return -1;
    if (b->len + n > b->cap) {
        size_t nc = b->cap ? b->cap : 4096;
        while (nc < b->len + n) {
            if (nc > SIZE_MAX / 2) return -1;
            nc *= 2;
        }
        uint8_t *nb = realloc(b->buf, nc);
        if (!nb) return -1;
        b->buf = nb;
        b->cap = nc;
    }
    if (n) memcpy(b->buf + b->len, p, n);
    b->len += n;
    return 0;
}

static int nomem(const char *key, trit_err *err)
{
    return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, key, "cannot store metadata");
}

/* Key and type byte of a new record. On failure the buffer is unchanged. */
static int begin(trit_kvbuf *b, const char *key, uint8_t type, trit_err *err)
{
    size_t const kl = key ? strlen(key) : 0;
    if (kl == 0 || kl > TRIT_MAX_NAME_LEN)
        return trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, key, "metadata key must be 1..%u bytes",
                            TRIT_MAX_NAME_LEN);
    if (b->n >= TRIT_MAX_KV)
        return trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, key, "more than %u metadata records", TRIT_MAX_KV);
    if (b->n == b->keys_cap) {
        uint32_t const nc = b->keys_cap ? b->keys_cap * 2 : 32;
        char **nk = realloc(b->keys, (size_t)nc * sizeof *nk);
        if (!nk) return nomem(key, err);
        b->keys = nk;
        b->keys_cap = nc;
    }
    char *copy = strdup(key);
    size_t const save = b->len;
    uint8_t hdr[2];
    trit_store_le16(hdr, (uint16_t)kl);
    if (!copy || put(b, hdr, 2) || put(b, key, kl) || put(b, &type, 1)) {
        free(copy);
        b->len = save;
        return nomem(key, err);
    }
    b->keys[b->n++] = copy;
    return TRIT_OK;
}

static int scalar(trit_kvbuf *b, const char *key, uint8_t type, uint64_t bits, trit_err *err)
{
    int const rc = begin(b, key, type, err);
    if (rc) return rc;
    uint8_t v[8];
    trit_store_le64(v, bits);
    return put(b, v, trit__kv_scalar_size(type)) ? nomem(key, err) : TRIT_OK;
}

int trit_kvbuf_u32(trit_kvbuf *b, const char *key, uint32_t v, trit_err *err) { return scalar(b, key, TRIT_KV_U32, v, err); }
int trit_kvbuf_scalar(trit_kvbuf *b, const char *key, uint32_t type, uint64_t bits, trit_err *err)
{
    if (trit__kv_scalar_size(type) == 0)
        return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, key, "type %u is not a scalar", type);
    if (type == TRIT_KV_BOOL) bits = bits != 0;
    return scalar(b, key, (uint8_t)type, bits, err);
}
int trit_kvbuf_i32(trit_kvbuf *b, const char *key, int32_t v, trit_err *err)
{
    return scalar(b, key, TRIT_KV_I32, (uint32_t)v, err);
}
int trit_kvbuf_u64(trit_kvbuf *b, const char *key, uint64_t v, trit_err *err) { return scalar(b, key, TRIT_KV_U64, v, err); }
int trit_kvbuf_bool(trit_kvbuf *b, const char *key, int v, trit_err *err) { return scalar(b, key, TRIT_KV_BOOL, v != 0, err); }

int trit_kvbuf_f32(trit_kvbuf *b, const char *key, float v, trit_err *err)
{
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    return scalar(b, key, TRIT_KV_F32, bits, err);
}

int trit_kvbuf_f64(trit_kvbuf *b, const char *key, double v, trit_err *err)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    return scalar(b, key, TRIT_KV_F64, bits, err);
}

static int string_body(trit_kvbuf *b, const char *key, const char *s, uint64_t n, trit_err *err)
{
    if (n > TRIT_MAX_STRING_LEN)
        return trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, key, "string of %llu bytes, limit %u",
                            (unsigned long long)n, TRIT_MAX_STRING_LEN);
    uint8_t l[4];
    trit_store_le32(l, (uint32_t)n);
    return put(b, l, 4) || put(b, s, (size_t)n) ? nomem(key, err) : TRIT_OK;
}

int trit_kvbuf_str(trit_kvbuf *b, const char *key, const char *s, uint64_t n, trit_err *err)
{
    if (n > TRIT_MAX_STRING_LEN) return string_body(b, key, s, n, err);
    int const rc = begin(b, key, TRIT_KV_STRING, err);
    return rc ? rc : string_body(b, key, s, n, err);
}

static int arr_head(trit_kvbuf *b, const char *key, uint32_t elem_type, uint64_t count, trit_err *err)
{
    if (count > TRIT_MAX_ARRAY_LEN)
        return trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, key, "array of %llu elements, limit %u",
                            (unsigned long long)count, TRIT_MAX_ARRAY_LEN);
    int const rc = begin(b, key, TRIT_KV_ARRAY, err);
    if (rc) return rc;
    uint8_t h[9];
    h[0] = (uint8_t)elem_type;
    trit_store_le64(h + 1, count);
    return put(b, h, 9) ? nomem(key, err) : TRIT_OK;
}

int trit_kvbuf_arr(trit_kvbuf *b, const char *key, uint32_t elem_type, const void *vals, uint64_t count,
                   trit_err *err)
{
    uint32_t const es = trit__kv_scalar_size(elem_type);
    if (es == 0) return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, key, "array elements must be scalars");
    int rc = arr_head(b, key, elem_type, count, err);
    const uint8_t *p = vals;
    for (uint64_t i = 0; rc == TRIT_OK && i < count; i++) {
        uint64_t bits = 0;
        switch (es) {
        case 1: bits = p[i]; break;
        case 2: { uint16_t v; memcpy(&v, p + i * 2, 2); bits = v; break; }
        case 4: { uint32_t v; memcpy(&v, p + i * 4, 4); bits = v; break; }
        default: memcpy(&bits, p + i * 8, 8); break;
        }
        if (elem_type == TRIT_KV_BOOL) bits = bits != 0;
        uint8_t v[8];
        trit_store_le64(v, bits);
        if (put(b, v, es)) rc = nomem(key, err);
    }
    return rc;
}

int trit_kvbuf_arr_str(trit_kvbuf *b, const char *key, const char *const *strs, const uint64_t *lens,
                       uint64_t count, trit_err *err)
{
    int rc = arr_head(b, key, TRIT_KV_STRING, count, err);
    for (uint64_t i = 0; rc == TRIT_OK && i < count; i++)
        rc = string_body(b, key, strs[i], lens ? lens[i] : strlen(strs[i]), err);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int trit_kvbuf_data(const trit_kvbuf *b, const void **data, uint64_t *len, trit_err *err)
{
    if (b->n > 1) {
        const char **v = trit_mallocarray(b->n, sizeof *v);
        if (!v) return nomem(NULL, err);
        memcpy(v, b->keys, (size_t)b->n * sizeof *v);
        qsort(v, b->n, sizeof *v, cmp_str);
        for (uint32_t i = 1; i < b->n; i++)
            if (strcmp(v[i], v[i - 1]) == 0) {
                int const rc = trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, v[i], "duplicate metadata key");
                free(v);
                return rc;
            }
        free(v);
    }
    *data = b->buf;
    *len = b->len;
    return TRIT_OK;
}

int trit__kvbuf_append(trit_kvbuf *dst, const trit_kvbuf *src, trit_err *err)
{
    /* records are self-delimiting: copy the bytes, then the keys for the uniqueness check */
    if (src->n > TRIT_MAX_KV - dst->n)
        return trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, NULL, "more than %u metadata records", TRIT_MAX_KV);
    size_t const save_len = dst->len;
    uint32_t const save_n = dst->n;
    if (put(dst, src->buf, src->len)) return nomem(NULL, err);
    for (uint32_t i = 0; i < src->n; i++) {
        if (dst->n == dst->keys_cap) {
            uint32_t const nc = dst->keys_cap ? dst->keys_cap * 2 : 32;
            char **nk = realloc(dst->keys, (size_t)nc * sizeof *nk);
            if (!nk) goto fail;
            dst->keys = nk;
            dst->keys_cap = nc;
        }
        if (!(dst->keys[dst->n] = strdup(src->keys[i]))) goto fail;
        dst->n++;
    }
    return TRIT_OK;
fail:
    while (dst->n > save_n) free(dst->keys[--dst->n]);
    dst->len = save_len;
    return nomem(NULL, err);
}
