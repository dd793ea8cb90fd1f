/*
 * src_safetensors_header.c - validation of one safetensors header (formats.md 2.3), at least as
 * strict as the reference reader (SafeTensors::read_metadata + Metadata::validate), plus what it
 * only implies: duplicate names and fields, a header that is not a '{'-led, space-padded object.
 *
 * Order of checks (the corrupt-file tests rely on it): JSON syntax and caps in file order; then
 * each entry in file order (name length, metadata shape, dtype, shape, byte count); then
 * duplicate names; then the byte ranges sorted by offset (gap, overlap), then coverage of the
 * data buffer (data past EOF, bytes after the last tensor).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "src_safetensors_int.h"
#include "trit_limits.h"
#include "trit_safemath.h"

/* "tensor 'name'" for trit_err.where (truncated to fit). */
static void where_tensor(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "tensor '%.84s'", name);
}

static int ci_prefix(const uint8_t *p, size_t n, const char *lit)
{
    size_t const k = strlen(lit);
    if (n < k) return 0;
    for (size_t i = 0; i < k; i++) {
        uint8_t c = p[i];
        if (c >= 'A' && c <= 'Z') c = (uint8_t)(c - 'A' + 'a');
        if (c != (uint8_t)lit[i]) return 0;
    }
    return 1;
}

int src__st_sniff_not_safetensors(const uint8_t *head, size_t n, trit_err *err)
{
    /* A repository cloned without git-lfs leaves ~130-byte pointer files; read as a length,
     * "version " is a huge N, which the reference reports as the baffling HeaderTooLarge. */
    if (ci_prefix(head, n, "version https://git-lfs"))
        return trit_err_set(err, TRIT_E_CORRUPT, 0, NULL,
                            "this is a Git LFS pointer file, not the safetensors data "
                            "(fetch the real file, e.g. with 'git lfs pull')");
    size_t i = 0;
    if (n >= 3 && head[0] == 0xEF && head[1] == 0xBB && head[2] == 0xBF) i = 3;
    while (i < n && (head[i] == ' ' || head[i] == '\t' || head[i] == '\r' || head[i] == '\n')) i++;
    static const char *const html[] = {"<!doctype html", "<html", "<head", "<body", "<!--", "<?xml"};
    for (size_t k = 0; k < sizeof html / sizeof html[0]; k++)
        if (ci_prefix(head + i, n - i, html[k]))
            return trit_err_set(err, TRIT_E_CORRUPT, 0, NULL,
                                "this is an HTML page (often an error or login page saved by a "
                                "failed download), not a safetensors file");
    return TRIT_OK;
}

/* "[2, 3]" for messages. */
static void fmt_shape(char *buf, size_t n, const src_st_tensor *t)
{
    size_t used = 0;
    buf[0] = '\0';
    used += (size_t)snprintf(buf, n, "[");
    for (uint32_t d = 0; d < t->n_dims && used < n; d++)
        used += (size_t)snprintf(buf + used, n - used, d ? ", %llu" : "%llu",
                                 (unsigned long long)t->dims[d]);
    if (used < n) snprintf(buf + used, n - used, "]");
}

/* Fields of one tensor entry into r (everything but the name and offsets in the file). */
static int parse_entry(const cJSON *v, src__st_rec *r, uint64_t off, const char *where,
                       trit_err *err)
{
    if (!cJSON_IsObject(v))
        return trit_err_set(err, TRIT_E_CORRUPT, off, where, "entry is not a JSON object");
    const cJSON *dt = NULL, *shape = NULL, *dof = NULL;
    for (const cJSON *c = v->child; c; c = c->next) {
        const cJSON **slot = !strcmp(c->string, "dtype") ? &dt
                           : !strcmp(c->string, "shape") ? &shape
                           : !strcmp(c->string, "data_offsets") ? &dof : NULL;
        if (!slot) continue;   /* unknown fields are ignored, as by the reference reader */
        if (*slot) return trit_err_set(err, TRIT_E_CORRUPT, off, where, "duplicate field '%s'", c->string);
        *slot = c;
    }
    if (!dt) return trit_err_set(err, TRIT_E_CORRUPT, off, where, "missing field 'dtype'");
    if (!cJSON_IsString(dt)) return trit_err_set(err, TRIT_E_CORRUPT, off, where, "'dtype' is not a string");
    int const dtype = src_st_dtype_from_name(dt->valuestring, strlen(dt->valuestring));
    if (dtype < 0)
        return trit_err_set(err, TRIT_E_UNSUPPORTED, off, where, "unknown dtype '%.40s'", dt->valuestring);
    r->t.dtype = (uint32_t)dtype;

    if (!shape) return trit_err_set(err, TRIT_E_CORRUPT, off, where, "missing field 'shape'");
    if (!cJSON_IsArray(shape)) return trit_err_set(err, TRIT_E_CORRUPT, off, where, "'shape' is not an array");
    int const nd = cJSON_GetArraySize(shape);
    if (nd < 0 || (uint32_t)nd > TRIT_MAX_DIMS)
        return trit_err_set(err, TRIT_E_LIMIT, off, where, "shape has %d dimensions (at most %u)",
                            nd, TRIT_MAX_DIMS);
    r->t.n_dims = (uint32_t)nd;
    uint64_t nel = 1;
    uint32_t d = 0;
    for (const cJSON *c = shape->child; c; c = c->next, d++) {
        if (!cJSON_IsNumber(c))
            return trit_err_set(err, TRIT_E_CORRUPT, off, where, "shape element %u is not a number", d);
        /* The scan admitted only integer literals below 2^53: the double is exact. */
        r->t.dims[d] = (uint64_t)c->valuedouble;
        if (trit_mul_u64(nel, r->t.dims[d], &nel))
            return trit_err_set(err, TRIT_E_LIMIT, off, where, "element count overflows 64 bits");
    }
    r->t.n_elems = nel;
    uint64_t bits;
    if (trit_mul_u64(nel, src_st_dtype_bits(r->t.dtype), &bits))
        return trit_err_set(err, TRIT_E_LIMIT, off, where, "byte size overflows 64 bits");
    if (bits % 8)
        return trit_err_set(err, TRIT_E_CORRUPT, off, where,
                            "%llu elements of %s do not fill whole bytes",
                            (unsigned long long)nel, src_st_dtype_name(r->t.dtype));
    r->t.nbytes = bits / 8;

    if (!dof) return trit_err_set(err, TRIT_E_CORRUPT, off, where, "missing field 'data_offsets'");
    if (!cJSON_IsArray(dof) || cJSON_GetArraySize(dof) != 2 || !cJSON_IsNumber(dof->child) ||
        !cJSON_IsNumber(dof->child->next))
        return trit_err_set(err, TRIT_E_CORRUPT, off, where, "'data_offsets' is not [begin, end]");
    r->begin = (uint64_t)dof->child->valuedouble;
    r->end = (uint64_t)dof->child->next->valuedouble;
    if (r->end < r->begin)
        return trit_err_set(err, TRIT_E_CORRUPT, off, where, "data_offsets [%llu, %llu] end before they begin",
                            (unsigned long long)r->begin, (unsigned long long)r->end);
    if (r->end - r->begin != r->t.nbytes) {
        char sh[160];
        fmt_shape(sh, sizeof sh, &r->t);
        return trit_err_set(err, TRIT_E_CORRUPT, off, where,
                            "dtype %s x shape %s is %llu bytes, but data_offsets [%llu, %llu] span %llu",
                            src_st_dtype_name(r->t.dtype), sh, (unsigned long long)r->t.nbytes,
                            (unsigned long long)r->begin, (unsigned long long)r->end,
                            (unsigned long long)(r->end - r->begin));
    }
    return TRIT_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* __metadata__: null, or an object of string values with distinct keys. Takes v on success. */
static int parse_meta(src__st_shard *sh, cJSON *v, uint64_t off, trit_err *err)
{
    if (cJSON_IsNull(v)) {
        sh->info.metadata_null = 1;
        cJSON_Delete(v);
        return TRIT_OK;
    }
    int rc = TRIT_OK;
    const char **keys = NULL;
    if (!cJSON_IsObject(v)) {
        rc = trit_err_set(err, TRIT_E_CORRUPT, off, "__metadata__", "is not an object of strings");
        goto out;
    }
    int const n = cJSON_GetArraySize(v);
    keys = trit_mallocarray((size_t)(n > 0 ? n : 1), sizeof *keys);
    if (!keys) { rc = trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory"); goto out; }
    int k = 0;
    for (const cJSON *c = v->child; c; c = c->next) {
        if (!cJSON_IsString(c)) {
            /* The reference reader refuses numbers here too (safetensors#278). */
            rc = trit_err_set(err, TRIT_E_CORRUPT, off, "__metadata__",
                              "value of key '%.60s' is not a string", c->string);
            goto out;
        }
        keys[k++] = c->string;
    }
    qsort(keys, (size_t)k, sizeof *keys, cmp_str);
    for (int i = 1; i < k; i++)
        if (strcmp(keys[i - 1], keys[i]) == 0) {
            rc = trit_err_set(err, TRIT_E_CORRUPT, off, "__metadata__", "duplicate key '%.60s'", keys[i]);
            goto out;
        }
out:
    free(keys);
    if (rc) { cJSON_Delete(v); return rc; }
    sh->meta = v;
    return TRIT_OK;
}

static int cmp_rec_name(const void *a, const void *b)
{
    const src__st_rec *x = *(const src__st_rec *const *)a, *y = *(const src__st_rec *const *)b;
    int const c = strcmp(x->name, y->name);
    if (c) return c;
    return (x->hdr_off > y->hdr_off) - (x->hdr_off < y->hdr_off);
}

/* By data range; equal ranges keep header order so the error names the later entry. */
static int cmp_rec_off(const void *a, const void *b)
{
    const src__st_rec *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return (x->hdr_off > y->hdr_off) - (x->hdr_off < y->hdr_off);
}

static int grow_recs(src_st *h, trit_err *err)
{
    if (h->n_tensors < h->cap_tensors) return TRIT_OK;
    if (h->n_tensors >= TRIT_MAX_TENSORS)
        return trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, NULL, "more than %u tensors",
                            TRIT_MAX_TENSORS);
    uint32_t nc = h->cap_tensors ? h->cap_tensors * 2 : 64;
    if (nc > TRIT_MAX_TENSORS) nc = TRIT_MAX_TENSORS;
    src__st_rec *nr = realloc(h->recs, (size_t)nc * sizeof *nr);
    if (!nr) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    h->recs = nr;
    h->cap_tensors = nc;
    return TRIT_OK;
}

/* Refuse two entries of one header with the same name; names the later one. */
static int check_dup_names(src_st *h, uint32_t first, uint32_t cnt, trit_err *err)
{
    if (cnt < 2) return TRIT_OK;
    src__st_rec **v = trit_mallocarray(cnt, sizeof *v);
    if (!v) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    for (uint32_t i = 0; i < cnt; i++) v[i] = &h->recs[first + i];
    qsort(v, cnt, sizeof *v, cmp_rec_name);
    int rc = TRIT_OK;
    for (uint32_t i = 1; i < cnt && !rc; i++)
        if (strcmp(v[i - 1]->name, v[i]->name) == 0) {
            char where[96];
            where_tensor(where, sizeof where, v[i]->name);
            rc = trit_err_set(err, TRIT_E_CORRUPT, v[i]->hdr_off, where,
                              "duplicate tensor name (first entry at offset 0x%llx)",
                              (unsigned long long)v[i - 1]->hdr_off);
        }
    free(v);
    return rc;
}

/* Sorted by offset, the ranges must tile [0, data_len) exactly. */
static int check_ranges(src_st *h, uint32_t first, uint32_t cnt, uint64_t data_off,
                        uint64_t data_len, trit_err *err)
{
    char where[96];
    if (cnt == 0) {
        if (data_len == 0) return TRIT_OK;
        return trit_err_set(err, TRIT_E_CORRUPT, data_off, NULL,
                            "%llu bytes after the last tensor are not covered by the header",
                            (unsigned long long)data_len);
    }
    src__st_rec *r = h->recs + first;   /* recs is non-NULL once a tensor exists */
    qsort(r, cnt, sizeof *r, cmp_rec_off);
    uint64_t prev_end = 0;
    for (uint32_t i = 0; i < cnt; i++) {
        if (r[i].begin > prev_end) {
            where_tensor(where, sizeof where, r[i].name);
            return trit_err_set(err, TRIT_E_CORRUPT, data_off + prev_end, where,
                                "gap of %llu byte(s) before data_offsets [%llu, %llu] (data must be contiguous)",
                                (unsigned long long)(r[i].begin - prev_end),
                                (unsigned long long)r[i].begin, (unsigned long long)r[i].end);
        }
        if (r[i].begin < prev_end) {
            where_tensor(where, sizeof where, r[i].name);
            return trit_err_set(err, TRIT_E_CORRUPT, data_off + r[i].begin, where,
                                "data_offsets [%llu, %llu] overlap tensor '%.60s' [%llu, %llu]",
                                (unsigned long long)r[i].begin, (unsigned long long)r[i].end,
                                r[i - 1].name, (unsigned long long)r[i - 1].begin,
                                (unsigned long long)r[i - 1].end);
        }
        prev_end = r[i].end;
    }
    if (prev_end > data_len) {
        for (uint32_t i = 0; i < cnt; i++)
            if (r[i].end > data_len) {
                where_tensor(where, sizeof where, r[i].name);
                return trit_err_set(err, TRIT_E_TRUNCATED, data_off + r[i].begin, where,
                                    "data [0x%llx, 0x%llx) extends past end of file (%llu bytes)",
                                    (unsigned long long)(data_off + r[i].begin),
                                    (unsigned long long)(data_off + r[i].end),
                                    (unsigned long long)(data_off + data_len));
            }
    }
    if (prev_end < data_len)
        return trit_err_set(err, TRIT_E_CORRUPT, data_off + prev_end, NULL,
                            "%llu bytes after the last tensor are not covered by the header",
                            (unsigned long long)(data_len - prev_end));
    return TRIT_OK;
}

int src__st_parse_header(src_st *h, uint32_t shard, const uint8_t *hdr, size_t n,
                         uint64_t file_size, trit_err *err)
{
    src__st_shard *sh = &h->shards[shard];
    uint64_t const data_off = 8 + (uint64_t)n;   /* n <= TRIT_MAX_ST_HEADER: no overflow */
    uint32_t const first = h->n_tensors;
    src_json_scan_opts const o = {"header JSON", TRIT_MAX_JSON_DEPTH, 1, UINT64_MAX,
                                   TRIT_MAX_TENSORS + 1ull, SRC__ST_ENTRY_NODES, TRIT_MAX_KV + 1ull};
    src_json_result sc;
    char where[96];
    int seen_meta = 0;

    sh->info.header_size = n;
    sh->info.data_off = data_off;
    int rc = src_json_scan(hdr, n, 8, sh->info.path, &o, &sc, err);
    if (rc) return rc;
    for (size_t i = 0; i < sc.n_members && !rc; i++) {
        const src_json_member *m = &sc.members[i];
        uint64_t const off = 8 + (uint64_t)m->key_off;
        cJSON *k = src_json_parse_span(hdr + m->key_off, m->key_end - m->key_off);
        cJSON *v = src_json_parse_span(hdr + m->val_off, m->val_end - m->val_off);
        if (!k || !v || !cJSON_IsString(k)) {
            rc = trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory parsing the header");
        } else if (strlen(k->valuestring) > TRIT_MAX_NAME_LEN) {
            where_tensor(where, sizeof where, k->valuestring);
            rc = trit_err_set(err, TRIT_E_LIMIT, off, where, "name is %zu bytes (at most %u)",
                              strlen(k->valuestring), TRIT_MAX_NAME_LEN);
        } else if (strcmp(k->valuestring, "__metadata__") == 0) {
            if (seen_meta) {
                rc = trit_err_set(err, TRIT_E_CORRUPT, off, "__metadata__", "appears twice");
            } else {
                seen_meta = 1;
                rc = parse_meta(sh, v, off, err);
                v = NULL;   /* taken or freed by parse_meta */
            }
        } else if ((rc = grow_recs(h, err)) == TRIT_OK) {
            src__st_rec *r = &h->recs[h->n_tensors];
            memset(r, 0, sizeof *r);
            where_tensor(where, sizeof where, k->valuestring);
            rc = parse_entry(v, r, off, where, err);
            if (!rc && !(r->name = strdup(k->valuestring)))
                rc = trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
            if (!rc) {
                r->t.name = r->name;
                r->t.shard = shard;
                r->t.offset = data_off + r->begin;   /* begin < 2^53: no overflow */
                r->hdr_off = off;
                h->n_tensors++;
            }
        }
        cJSON_Delete(k);
        cJSON_Delete(v);
    }
    free(sc.members);
    uint32_t const cnt = h->n_tensors - first;
    sh->info.n_tensors = cnt;
    if (!rc) rc = check_dup_names(h, first, cnt, err);
    if (!rc) rc = check_ranges(h, first, cnt, data_off, file_size - data_off, err);
    if (rc) trit_err_file(err, sh->info.path);
    return rc;
}
