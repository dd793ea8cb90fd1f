/* reader_access.c - lookups on a validated reader: tensors, units, sections, metadata.
 * Everything here relies on trit_reader_open() having checked the layout (style R12). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zstd.h>

#include "trit_cursor.h"
#include "trit_int.h"
#include "trit_safemath.h"

const trit_file_info *trit_reader_file_info(const trit_reader *r) { return &r->info; }
const char *trit_reader_path(const trit_reader *r) { return r->path; }
uint32_t trit_reader_n_tensors(const trit_reader *r) { return r->info.n_tensors; }
uint32_t trit_reader_n_units(const trit_reader *r) { return r->info.n_units; }
uint32_t trit_reader_n_sections(const trit_reader *r) { return r->info.n_sections; }
uint32_t trit_reader_n_kv(const trit_reader *r) { return r->info.n_kv; }

const trit_tensor_info *trit_reader_tensor(const trit_reader *r, uint32_t i)
{
    return i < r->info.n_tensors ? &r->tensors[i] : NULL;
}

const trit_unit_info *trit_reader_unit(const trit_reader *r, uint32_t u)
{
    return u < r->info.n_units ? &r->units[u] : NULL;
}

const trit_section_info *trit_reader_section(const trit_reader *r, uint32_t i)
{
    return i < r->info.n_sections ? &r->sections[i] : NULL;
}

const uint32_t *trit_reader_unit_members(const trit_reader *r, uint32_t u, uint32_t *n)
{
    if (u >= r->info.n_units) { *n = 0; return NULL; }
    *n = r->units[u].n_members;
    return r->unit_members + r->unit_first[u];
}

int64_t trit_reader_find_tensor(const trit_reader *r, const char *name)
{
    size_t lo = 0, hi = r->info.n_tensors;
    while (lo < hi) {
        size_t const mid = lo + (hi - lo) / 2;
        int const c = strcmp(r->tensors[r->tensor_sorted[mid]].name, name);
        if (c == 0) return r->tensor_sorted[mid];
        if (c < 0) lo = mid + 1; else hi = mid;
    }
    return -1;
}


int64_t trit_reader_find_unit(const trit_reader *r, uint32_t layer, uint32_t expert)
{
    size_t lo = 0, hi = r->info.n_units;
    while (lo < hi) {
        size_t const mid = lo + (hi - lo) / 2;
        trit__unit_key const *k = &r->unit_sorted[mid];
        if (k->layer == layer && k->expert == expert) return k->idx;
        if (k->layer < layer || (k->layer == layer && k->expert < expert)) lo = mid + 1; else hi = mid;
    }
    return -1;
}

int64_t trit_reader_find_section(const trit_reader *r, uint32_t kind)
{
    for (uint32_t i = 0; i < r->info.n_sections; i++)
        if (r->sections[i].kind == kind) return i;
    return -1;
}

int trit__dense_tensor(const trit_reader *r, uint32_t i, const trit_tensor_info **out, trit_err *err)
{
    if (i >= r->info.n_tensors)
        return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL, "tensor %u out of range", i);
    trit_tensor_info const *t = &r->tensors[i];
    if (t->unit != TRIT_NONE32) {
        char where[96];
        return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, trit__where_tensor(where, sizeof where, t->name),
                            "is a member of expert unit %u: read the unit", t->unit);
    }
    *out = t;
    return TRIT_OK;
}

int trit_reader_tensor_data(const trit_reader *r, uint32_t i, const void **data, uint64_t *size,
                            trit_err *err)
{
    trit_tensor_info const *t = NULL;
    int const rc = trit__dense_tensor(r, i, &t, err);
    if (rc) return rc;
    *data = r->map + t->offset;
    *size = t->size;
    return TRIT_OK;
}

int trit_reader_section_data(const trit_reader *r, uint32_t i, const void **data, uint64_t *size,
                             trit_err *err)
{
    if (i >= r->info.n_sections)
        return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL, "section %u out of range", i);
    trit_section_info const *s = &r->sections[i];
    uint64_t const sum = trit_xxh3(r->map + s->offset, (size_t)s->size);
    if (sum != s->xxh3) {
        char where[112];
        snprintf(where, sizeof where, "section '%.80s'", s->name);
        trit_err_set(err, TRIT_E_CHECKSUM, s->offset, where, "checksum %016llx, computed %016llx",
                     (unsigned long long)s->xxh3, (unsigned long long)sum);
        trit_err_file(err, r->path);
        return TRIT_E_CHECKSUM;
    }
    *data = r->map + s->offset;
    *size = s->size;
    return TRIT_OK;
}

/* Decode a stored unit image (already checksum-verified) into dst, which holds decoded_size bytes. */
static int unit_decode(const trit_reader *r, uint32_t u, const uint8_t *src, void *dst, trit_err *err)
{
    trit_unit_info const *un = &r->units[u];
    char where[64];
    snprintf(where, sizeof where, "expert unit %u (layer %u expert %u)", u, un->layer, un->expert);
    if (un->storage == TRIT_STORAGE_RAW) {
        if (src != dst) memcpy(dst, src, (size_t)un->stored_size);
        return TRIT_OK;
    }
    /* Bounded by the index before anything is decoded: the frame must declare exactly the
     * unit's decoded_size (which trit_reader_open bounded by the members' sizes); a frame with
     * an unknown content size, or followed by anything (a second or skippable frame), is
     * refused. dst holds decoded_size bytes and zstd is given no more room than that. */
    unsigned long long const csize = ZSTD_getFrameContentSize(src, (size_t)un->stored_size);
    if (csize == ZSTD_CONTENTSIZE_UNKNOWN || csize == ZSTD_CONTENTSIZE_ERROR)
        return trit_err_set(err, TRIT_E_CORRUPT, un->offset, where, "zstd frame %s, the index says %llu bytes",
                            csize == ZSTD_CONTENTSIZE_ERROR ? "header is not valid" : "does not declare its decoded size",
                            (unsigned long long)un->decoded_size);
    if (csize != un->decoded_size)
        return trit_err_set(err, TRIT_E_CORRUPT, un->offset, where,
                            "zstd frame declares %llu decoded bytes, the index says %llu", csize,
                            (unsigned long long)un->decoded_size);
    size_t const fsize = ZSTD_findFrameCompressedSize(src, (size_t)un->stored_size);
    if (ZSTD_isError(fsize) || fsize != un->stored_size)
        return trit_err_set(err, TRIT_E_CORRUPT, un->offset, where, "the unit's %llu stored bytes are not exactly one zstd frame",
                            (unsigned long long)un->stored_size);
    size_t const got = ZSTD_decompress(dst, (size_t)un->decoded_size, src, (size_t)un->stored_size);
    if (ZSTD_isError(got))
        return trit_err_set(err, TRIT_E_CORRUPT, un->offset, where, "zstd: %s", ZSTD_getErrorName(got));
    if (got != un->decoded_size)
        return trit_err_set(err, TRIT_E_CORRUPT, un->offset, where, "decoded %zu bytes, expected %llu", got,
                            (unsigned long long)un->decoded_size);
    return TRIT_OK;
}

int trit_reader_unit_read(const trit_reader *r, uint32_t u, void *dst, uint64_t cap, trit_err *err)
{
    if (u >= r->info.n_units)
        return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL, "expert unit %u out of range", u);
    trit_unit_info const *un = &r->units[u];
    if (cap < un->decoded_size)
        return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL,
                            "buffer of %llu bytes cannot hold unit %u (%llu bytes)", (unsigned long long)cap, u,
                            (unsigned long long)un->decoded_size);
    char where[64];
    snprintf(where, sizeof where, "expert unit %u (layer %u expert %u)", u, un->layer, un->expert);
    int rc = TRIT_OK;
    uint8_t *tmp = NULL;
    const uint8_t *src;
    if (r->fd < 0) {
        src = r->map + un->offset; /* memory reader: already in memory */
    } else {
        /* One pread of the stored bytes: into dst for raw units, into a scratch for zstd. */
        uint8_t *buf = dst;
        if (un->storage != TRIT_STORAGE_RAW) {
            tmp = malloc((size_t)un->stored_size);
            if (!tmp) return trit_err_set(err, TRIT_E_NOMEM, un->offset, where, "cannot allocate %llu bytes",
                                          (unsigned long long)un->stored_size);
            buf = tmp;
        }
        uint64_t done = 0;
        while (done < un->stored_size) {
            ssize_t const k = pread(r->fd, buf + done, (size_t)(un->stored_size - done), (off_t)(un->offset + done));
            if (k < 0 && errno == EINTR) continue;
            if (k <= 0) {
                rc = trit_err_set(err, k < 0 ? TRIT_E_IO : TRIT_E_TRUNCATED, un->offset + done, where,
                                  "read failed: %s", k < 0 ? strerror(errno) : "unexpected end of file");
                goto out;
            }
            done += (uint64_t)k;
        }
        src = buf;
    }
    uint64_t const sum = trit_xxh3(src, (size_t)un->stored_size);
    if (sum != un->xxh3) {
        rc = trit_err_set(err, TRIT_E_CHECKSUM, un->offset, where, "checksum %016llx, computed %016llx",
                          (unsigned long long)un->xxh3, (unsigned long long)sum);
        goto out;
    }
    rc = unit_decode(r, u, src, dst, err);
out:
    free(tmp);
    if (rc != TRIT_OK) trit_err_file(err, r->path);
    return rc;
}

int trit_reader_unit_load(const trit_reader *r, uint32_t u, void **out, uint64_t *size, trit_err *err)
{
    *out = NULL;
    if (u >= r->info.n_units)
        return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL, "expert unit %u out of range", u);
    uint64_t const n = r->units[u].decoded_size;
    void *buf = malloc(n ? (size_t)n : 1);
    if (!buf) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "cannot allocate %llu bytes",
                                  (unsigned long long)n);
    int const rc = trit_reader_unit_read(r, u, buf, n, err);
    if (rc != TRIT_OK) { free(buf); return rc; }
    *out = buf;
    *size = n;
    return TRIT_OK;
}

/* ---- metadata: the index's KV records are a trit_kvset ---- */

const trit_kvset *trit_reader_kv(const trit_reader *r) { return r->kv; }
const char *trit_reader_kv_key(const trit_reader *r, uint32_t i) { return trit_kvset_key(r->kv, i); }
uint32_t trit_reader_kv_type(const trit_reader *r, uint32_t i, uint32_t *elem_type, uint64_t *count)
{
    return trit_kvset_type(r->kv, i, elem_type, count);
}
int64_t trit_reader_find_kv(const trit_reader *r, const char *key) { return trit_kvset_find(r->kv, key); }
int trit_reader_kv_u64(const trit_reader *r, uint32_t i, uint64_t *out) { return trit_kvset_u64(r->kv, i, out); }
int trit_reader_kv_i64(const trit_reader *r, uint32_t i, int64_t *out) { return trit_kvset_i64(r->kv, i, out); }
int trit_reader_kv_f64(const trit_reader *r, uint32_t i, double *out) { return trit_kvset_f64(r->kv, i, out); }
int trit_reader_kv_str(const trit_reader *r, uint32_t i, const char **s, uint64_t *n)
{
    return trit_kvset_str(r->kv, i, s, n);
}
int trit_reader_kv_arr_str(const trit_reader *r, uint32_t i, uint64_t j, const char **s, uint64_t *n)
{
    return trit_kvset_arr_str(r->kv, i, j, s, n);
}
int trit_reader_kv_arr_f64(const trit_reader *r, uint32_t i, uint64_t j, double *out)
{
    return trit_kvset_arr_f64(r->kv, i, j, out);
}
int trit_reader_kv_arr_i64(const trit_reader *r, uint32_t i, uint64_t j, int64_t *out)
{
    return trit_kvset_arr_i64(r->kv, i, j, out);
}

int trit_reader_section_kv(const trit_reader *r, uint32_t i, trit_kvset **out, trit_err *err)
{
    const void *d;
    uint64_t n;
    *out = NULL;
    int const rc = trit_reader_section_data(r, i, &d, &n, err);
    if (rc != TRIT_OK) return rc;
    return trit_kvset_parse(d, n, r->sections[i].offset, r->path, out, err);
}
