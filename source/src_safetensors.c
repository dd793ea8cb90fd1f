/*
 * src_safetensors.c - opening safetensors inputs (file, directory, sharded index), side files,
 * accessors and raw reads. Header validation is in src_safetensors_header.c, the index parser
 * in src_safetensors_index.c, decoding in src_safetensors_decode.c.
 *
 * Only headers are read at open; each shard keeps one O_RDONLY descriptor so later reads are
 * single preads (thread-safe, no shared file position).
 */
/* 64-bit file offsets on 32-bit hosts too (shards are routinely > 2 GiB); no off_t crosses
 * the public API. */
#ifndef _FILE_OFFSET_BITS
#define _FILE_OFFSET_BITS 64
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "src_safetensors_int.h"
#include "trit_cursor.h"
#include "trit_limits.h"
#include "trit_safemath.h"
#include "trit_sys.h"

static const char *const side_names[SRC_ST_SIDE_COUNT_] = {
    "config.json", "tokenizer.json", "tokenizer.model", "tokenizer_config.json",
    "generation_config.json",
};

/* ---- small file helpers --------------------------------------------------------------------- */

static int ends_with(const char *s, const char *suffix)
{
    size_t const n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Directory part of path ("." when none). Caller frees. */
static char *path_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    if (slash == path) return strdup("/");
    size_t const n = (size_t)(slash - path);
    char *d = malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, path, n);
    d[n] = '\0';
    return d;
}

/* Base name of path: points into path (borrowed). */
static const char *path_base(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static int errno_code(int e)
{
    return e == ENOENT || e == ENOTDIR ? TRIT_E_NOTFOUND : e == ENOMEM ? TRIT_E_NOMEM : TRIT_E_IO;
}

int src_st_load_json_file(const char *path, uint64_t max_bytes, cJSON **out, trit_err *err)
{
    uint8_t *buf;
    size_t len;
    *out = NULL;
    trit_err_clear(err);
    int rc = trit_sys_read_small_file(path, max_bytes, &buf, &len, err);
    if (rc) return rc;
    /* Nodes are bounded by the bytes: every JSON value takes at least one. */
    rc = src_json_parse_doc(buf, len, path, "JSON", (uint64_t)len + 1, out, err);
    free(buf);
    return rc;
}

/* ---- the handle ----------------------------------------------------------------------------- */

void src_st_close(src_st *h)
{
    if (!h) return;
    for (uint32_t i = 0; i < h->n_tensors; i++) free(h->recs[i].name);
    free(h->recs);
    free(h->by_name);
    for (uint32_t s = 0; s < h->n_shards; s++) {
        if (h->shards[s].fd >= 0) close(h->shards[s].fd);
        free(h->shards[s].path);
        cJSON_Delete(h->shards[s].meta);
    }
    free(h->shards);
    free(h->index_path);
    src_st_index_free(h->index);
    free(h->meta_keys);
    free(h->meta_vals);
    for (int k = 0; k < SRC_ST_SIDE_COUNT_; k++) free(h->side[k]);
    cJSON_Delete(h->config);
    free(h);
}

static int add_shard(src_st *h, const char *path, trit_err *err)
{
    if (h->n_shards >= TRIT_MAX_SHARDS)
        return trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, NULL, "more than %u shards", TRIT_MAX_SHARDS);
    src__st_shard *ns = realloc(h->shards, ((size_t)h->n_shards + 1) * sizeof *ns);
    if (!ns) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    h->shards = ns;
    src__st_shard *sh = &ns[h->n_shards];
    memset(sh, 0, sizeof *sh);
    sh->fd = -1;
    if (!(sh->path = strdup(path))) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    sh->info.path = sh->path;
    sh->info.name = path_base(sh->path);
    h->n_shards++;
    return TRIT_OK;
}

/* The 8-byte length against the cap and the file (formats.md 5, safetensors 3: check this
 * before anything else). */
static int check_header_len(uint64_t hlen, uint64_t file_size, trit_err *err)
{
    if (hlen > TRIT_MAX_ST_HEADER)
        return trit_err_set(err, TRIT_E_LIMIT, 0, "header length",
                            "%llu bytes exceeds the %u-byte cap", (unsigned long long)hlen,
                            TRIT_MAX_ST_HEADER);
    if (hlen > file_size - 8)
        return trit_err_set(err, TRIT_E_TRUNCATED, 0, "header length",
                            "%llu bytes runs past end of file (%llu bytes follow the length)",
                            (unsigned long long)hlen, (unsigned long long)(file_size - 8));
    return TRIT_OK;
}

/* Open, sniff and validate shard s (its path is set). */
static int open_shard_file(src_st *h, uint32_t s, trit_err *err)
{
    src__st_shard *sh = &h->shards[s];
    uint8_t head[512];
    uint8_t *hdr = NULL;
    struct stat st;
    int rc = TRIT_OK;

    sh->fd = open(sh->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);   /* a FIFO must not block */
    if (sh->fd < 0) {
        rc = trit_err_set(err, errno_code(errno), TRIT_NO_OFFSET, NULL, "cannot open: %s", strerror(errno));
        goto out;
    }
    if (fstat(sh->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, NULL, "not a regular file");
        goto out;
    }
    sh->info.file_size = (uint64_t)st.st_size;
    uint64_t const want = sh->info.file_size < sizeof head ? sh->info.file_size : sizeof head;
    int64_t const k = trit_sys_pread_full(sh->fd, head, want, 0);
    if (k < 0) {
        rc = trit_err_set(err, TRIT_E_IO, 0, NULL, "read failed: %s", strerror(errno));
        goto out;
    }
    if ((rc = src__st_sniff_not_safetensors(head, (size_t)k, err)) != TRIT_OK) goto out;
    trit_cur c;
    uint64_t hlen;
    trit_cur_init(&c, head, (size_t)k, 0, sh->path);
    if ((rc = trit_cur_u64(&c, &hlen, "header length", err)) != TRIT_OK) goto out;
    if ((rc = check_header_len(hlen, sh->info.file_size, err)) != TRIT_OK) goto out;
    hdr = malloc(hlen ? (size_t)hlen : 1);   /* hlen <= TRIT_MAX_ST_HEADER */
    if (!hdr) {
        rc = trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
        goto out;
    }
    int64_t const got = trit_sys_pread_full(sh->fd, hdr, hlen, 8);
    if (got < 0 || (uint64_t)got != hlen) {
        rc = trit_err_set(err, got < 0 ? TRIT_E_IO : TRIT_E_TRUNCATED, 8, "header",
                          "read failed: %s", got < 0 ? strerror(errno) : "file shrank");
        goto out;
    }
    rc = src__st_parse_header(h, s, hdr, (size_t)hlen, sh->info.file_size, err);
out:
    free(hdr);
    if (rc) trit_err_file(err, sh->path);
    return rc;
}

static int cmp_rec_ptr_name(const void *a, const void *b)
{
    const src__st_rec *x = *(const src__st_rec *const *)a, *y = *(const src__st_rec *const *)b;
    int const c = strcmp(x->name, y->name);
    return c ? c : (x > y) - (x < y);
}

int src__st_index_names(src_st *h, trit_err *err)
{
    uint32_t const n = h->n_tensors;
    src__st_rec **v = trit_mallocarray(n ? n : 1, sizeof *v);
    h->by_name = trit_mallocarray(n ? n : 1, sizeof *h->by_name);
    if (!v || !h->by_name) {
        free(v);
        return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    }
    for (uint32_t i = 0; i < n; i++) v[i] = &h->recs[i];
    qsort(v, n, sizeof *v, cmp_rec_ptr_name);
    int rc = TRIT_OK;
    for (uint32_t i = 0; i < n; i++) {
        h->by_name[i] = (uint32_t)(v[i] - h->recs);
        if (i && !rc && strcmp(v[i - 1]->name, v[i]->name) == 0) {
            /* Within one header this was refused already: these are in two shards. */
            char where[96];
            snprintf(where, sizeof where, "tensor '%.84s'", v[i]->name);
            rc = trit_err_set(err, TRIT_E_CORRUPT, v[i]->hdr_off, where, "appears in both '%s' and '%s'",
                              h->shards[v[i - 1]->t.shard].info.name, h->shards[v[i]->t.shard].info.name);
            trit_err_file(err, h->shards[v[i]->t.shard].path);
        }
    }
    free(v);
    return rc;
}

typedef struct meta_ent {
    const char *key, *val;
    uint32_t seq;
} meta_ent;

static int cmp_meta(const void *a, const void *b)
{
    const meta_ent *x = a, *y = b;
    int const c = strcmp(x->key, y->key);
    return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

static int cmp_meta_seq(const void *a, const void *b)
{
    const meta_ent *x = a, *y = b;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

int src__st_merge_meta(src_st *h, trit_err *err)
{
    uint64_t total = 0;
    for (uint32_t s = 0; s < h->n_shards; s++)
        if (h->shards[s].meta) total += (uint64_t)cJSON_GetArraySize(h->shards[s].meta);
    if (total == 0) return TRIT_OK;
    if (total > TRIT_MAX_KV)
        return trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, "__metadata__",
                            "more than %u entries over all shards", TRIT_MAX_KV);
    meta_ent *e = trit_mallocarray((size_t)total, sizeof *e);
    h->meta_keys = trit_mallocarray((size_t)total, sizeof *h->meta_keys);
    h->meta_vals = trit_mallocarray((size_t)total, sizeof *h->meta_vals);
    if (!e || !h->meta_keys || !h->meta_vals) {
        free(e);
        return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    }
    uint32_t k = 0;
    for (uint32_t s = 0; s < h->n_shards; s++)
        for (const cJSON *c = h->shards[s].meta ? h->shards[s].meta->child : NULL; c; c = c->next) {
            e[k].key = c->string;
            e[k].val = c->valuestring;
            e[k].seq = k;
            k++;
        }
    /* Keep the first occurrence of each key, in the order keys were first seen. */
    qsort(e, k, sizeof *e, cmp_meta);
    uint32_t m = 0;
    for (uint32_t i = 0; i < k; i++)
        if (i == 0 || strcmp(e[i].key, e[m - 1].key) != 0) e[m++] = e[i];
    qsort(e, m, sizeof *e, cmp_meta_seq);
    for (uint32_t i = 0; i < m; i++) {
        h->meta_keys[i] = e[i].key;
        h->meta_vals[i] = e[i].val;
    }
    h->n_meta = m;
    free(e);
    return TRIT_OK;
}

/* ---- inputs --------------------------------------------------------------------------------- */

/* Pick the weights of a directory: *out_path (caller frees), *is_index. */
static int resolve_dir(const char *dir, char **out_path, int *is_index, trit_err *err)
{
    DIR *d = opendir(dir);
    *out_path = NULL;
    *is_index = 0;
    if (!d) {
        trit_err_file(err, dir);
        return trit_err_set(err, errno_code(errno), TRIT_NO_OFFSET, NULL, "cannot open directory: %s",
                            strerror(errno));
    }
    unsigned n_idx = 0, n_st = 0;
    int has_model = 0, has_model_idx = 0;
    char one_idx[512] = "", one_st[512] = "";
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        if (ends_with(e->d_name, ".safetensors.index.json")) {
            n_idx++;
            has_model_idx |= strcmp(e->d_name, "model.safetensors.index.json") == 0;
            snprintf(one_idx, sizeof one_idx, "%s", e->d_name);
        } else if (ends_with(e->d_name, ".safetensors")) {
            n_st++;
            has_model |= strcmp(e->d_name, "model.safetensors") == 0;
            snprintf(one_st, sizeof one_st, "%s", e->d_name);
        }
    }
    closedir(d);
    const char *pick = NULL;
    if (has_model_idx) { pick = "model.safetensors.index.json"; *is_index = 1; }
    else if (n_idx == 1) { pick = one_idx; *is_index = 1; }
    else if (n_idx > 1) {
        trit_err_file(err, dir);
        return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL,
                            "directory holds %u safetensors index files: name one", n_idx);
    } else if (has_model) pick = "model.safetensors";
    else if (n_st == 1) pick = one_st;
    else {
        trit_err_file(err, dir);
        if (n_st == 0)
            return trit_err_set(err, TRIT_E_NOTFOUND, TRIT_NO_OFFSET, NULL,
                                "no .safetensors file or index in this directory");
        return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL,
                            "directory holds %u .safetensors files and no index: name one", n_st);
    }
    if (!(*out_path = trit_sys_path_join(dir, pick)))
        return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    return TRIT_OK;
}

/* Every index entry must be in the shard it names, every shard tensor in the index, and
 * total_size must be the sum of tensor bytes. */
static int cross_check_index(src_st *h, trit_err *err)
{
    const src_st_index *ix = h->index;
    char where[96];
    for (uint64_t i = 0; i < src_st_index_n_entries(ix); i++) {
        uint32_t s;
        const char *name = src_st_index_entry(ix, i, &s);
        int64_t const t = src_st_find(h, name);
        if (t < 0 || h->recs[t].t.shard != s) {
            snprintf(where, sizeof where, "tensor '%.84s'", name);
            if (t < 0)
                return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, where,
                                    "the index maps it to '%s', which does not contain it",
                                    src_st_index_shard(ix, s));
            return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, where,
                                "the index maps it to '%s', which does not contain it (it is in '%s')",
                                src_st_index_shard(ix, s), h->shards[h->recs[t].t.shard].info.name);
        }
    }
    for (uint32_t t = 0; t < h->n_tensors; t++)
        if (src_st_index_find(ix, h->recs[t].name) < 0) {
            snprintf(where, sizeof where, "tensor '%.84s'", h->recs[t].name);
            return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, where,
                                "is in '%s' but not in the index weight_map",
                                h->shards[h->recs[t].t.shard].info.name);
        }
    uint64_t declared;
    if (src_st_index_total_size(ix, &declared) == TRIT_OK && declared != src_st_data_size(h))
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, "metadata.total_size",
                            "is %llu but the shards' tensors hold %llu bytes",
                            (unsigned long long)declared, (unsigned long long)src_st_data_size(h));
    return TRIT_OK;
}

static int open_index(src_st *h, const char *index_path, trit_err *err)
{
    uint8_t *buf;
    size_t len;
    char *dir = NULL;
    int rc = trit_sys_read_small_file(index_path, TRIT_MAX_ST_HEADER, &buf, &len, err);
    if (rc) return rc;
    rc = src_st_index_parse(buf, len, index_path, &h->index, err);
    free(buf);
    if (rc) return rc;
    if (!(h->index_path = strdup(index_path)) || !(dir = path_dir(index_path))) {
        free(dir);
        return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    }
    uint32_t const ns = src_st_index_n_shards(h->index);
    /* All missing shards are checked before any is parsed, so the error names the first one
     * and how many are gone (a partial download is the usual cause). */
    uint32_t n_missing = 0;
    const char *first_missing = NULL;
    for (uint32_t s = 0; s < ns; s++) {
        char *p = trit_sys_path_join(dir, src_st_index_shard(h->index, s));
        struct stat st;
        if (!p) { rc = trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory"); goto out; }
        if (stat(p, &st) != 0 && (errno == ENOENT || errno == ENOTDIR)) {
            if (!first_missing) first_missing = src_st_index_shard(h->index, s);
            n_missing++;
        }
        rc = add_shard(h, p, err);
        free(p);
        if (rc) goto out;
    }
    if (n_missing) {
        char where[96];
        snprintf(where, sizeof where, "shard '%.84s'", first_missing);
        rc = trit_err_set(err, TRIT_E_NOTFOUND, TRIT_NO_OFFSET, where,
                          "is missing: the index weight_map names it but it is not in the "
                          "index's directory (%u of %u shards missing)", n_missing, ns);
        trit_err_file(err, index_path);
        goto out;
    }
    for (uint32_t s = 0; s < ns && !rc; s++) rc = open_shard_file(h, s, err);
    if (!rc) rc = src__st_index_names(h, err);
    if (!rc && (rc = cross_check_index(h, err)) != TRIT_OK) trit_err_file(err, index_path);
out:
    free(dir);
    return rc;
}

static int find_side_files(src_st *h, const char *dir, trit_err *err)
{
    for (int k = 0; k < SRC_ST_SIDE_COUNT_; k++) {
        char *p = trit_sys_path_join(dir, side_names[k]);
        struct stat st;
        if (!p) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) h->side[k] = p;
        else free(p);
    }
    if (h->side[SRC_ST_SIDE_CONFIG])
        return src_st_load_json_file(h->side[SRC_ST_SIDE_CONFIG], TRIT_MAX_META_BYTES, &h->config, err);
    return TRIT_OK;
}

int src_st_open(const char *path, const src_st_opts *opts, src_st **out, trit_err *err)
{
    char *resolved = NULL, *dir = NULL;
    int is_index = 0;
    int rc;
    struct stat st;
    *out = NULL;
    trit_err_clear(err);
    src_st *h = calloc(1, sizeof *h);
    if (!h) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    if (stat(path, &st) != 0) {
        rc = trit_err_set(err, errno_code(errno), TRIT_NO_OFFSET, NULL, "cannot open: %s", strerror(errno));
        trit_err_file(err, path);
        goto fail;
    }
    if (S_ISDIR(st.st_mode)) {
        if ((rc = resolve_dir(path, &resolved, &is_index, err)) != TRIT_OK) goto fail;
    } else {
        is_index = ends_with(path, ".json");
        if (!(resolved = strdup(path))) { rc = trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory"); goto fail; }
    }
    if (is_index) {
        rc = open_index(h, resolved, err);
    } else if ((rc = add_shard(h, resolved, err)) == TRIT_OK &&
               (rc = open_shard_file(h, 0, err)) == TRIT_OK) {
        rc = src__st_index_names(h, err);
    }
    if (rc) goto fail;
    if ((rc = src__st_merge_meta(h, err)) != TRIT_OK) goto fail;
    if (!(opts && (opts->flags & SRC_ST_NO_SIDE_FILES))) {
        if (!(dir = path_dir(resolved))) { rc = trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory"); goto fail; }
        if ((rc = find_side_files(h, dir, err)) != TRIT_OK) goto fail;
    }
    free(resolved);
    free(dir);
    *out = h;
    return TRIT_OK;
fail:
    trit_err_file(err, resolved ? resolved : path);
    free(resolved);
    free(dir);
    src_st_close(h);
    return rc;
}

int src_st_open_mem(const void *buf, size_t len, const char *name, src_st **out, trit_err *err)
{
    const char *nm = name ? name : "<memory>";
    uint64_t hlen = 0;
    trit_cur c;
    *out = NULL;
    trit_err_clear(err);
    src_st *h = calloc(1, sizeof *h);
    if (!h) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    int rc = add_shard(h, nm, err);
    if (rc) goto fail;
    h->shards[0].mem = buf;
    h->shards[0].info.file_size = len;
    if ((rc = src__st_sniff_not_safetensors(buf, len < 512 ? len : 512, err)) != TRIT_OK) goto fail;
    trit_cur_init(&c, buf, len, 0, nm);
    if ((rc = trit_cur_u64(&c, &hlen, "header length", err)) != TRIT_OK) goto fail;
    if ((rc = check_header_len(hlen, len, err)) != TRIT_OK) goto fail;
    if ((rc = src__st_parse_header(h, 0, (const uint8_t *)buf + 8, (size_t)hlen, len, err)) != TRIT_OK) goto fail;
    if ((rc = src__st_index_names(h, err)) != TRIT_OK) goto fail;
    if ((rc = src__st_merge_meta(h, err)) != TRIT_OK) goto fail;
    *out = h;
    return TRIT_OK;
fail:
    trit_err_file(err, nm);
    src_st_close(h);
    return rc;
}

int src_st_probe(const uint8_t *head, size_t n, uint64_t file_size)
{
    if (n < 9 || file_size < 9) return 0;
    uint64_t const hlen = trit_load_le64(head);
    if (hlen > TRIT_MAX_ST_HEADER || hlen > file_size - 8 || hlen < 2 || head[8] != '{') return 0;
    return 80;   /* a GGUF or .trit magic is a stronger bid; this one is structural */
}

/* ---- accessors ------------------------------------------------------------------------------ */

uint32_t src_st_n_tensors(const src_st *h) { return h->n_tensors; }

const src_st_tensor *src_st_tensor_at(const src_st *h, uint32_t i)
{
    return i < h->n_tensors ? &h->recs[i].t : NULL;
}

int64_t src_st_find(const src_st *h, const char *name)
{
    uint32_t lo = 0, hi = h->n_tensors;
    while (lo < hi) {
        uint32_t const mid = lo + (hi - lo) / 2;
        int const c = strcmp(h->recs[h->by_name[mid]].name, name);
        if (c == 0) return h->by_name[mid];
        if (c < 0) lo = mid + 1; else hi = mid;
    }
    return -1;
}

uint32_t src_st_n_shards(const src_st *h) { return h->n_shards; }

const src_st_shard_info *src_st_shard(const src_st *h, uint32_t s)
{
    return s < h->n_shards ? &h->shards[s].info : NULL;
}

const char *src_st_index_path(const src_st *h) { return h->index_path; }

int src_st_declared_total_size(const src_st *h, uint64_t *out)
{
    return h->index ? src_st_index_total_size(h->index, out) : TRIT_E_NOTFOUND;
}

uint64_t src_st_data_size(const src_st *h)
{
    uint64_t sum = 0;
    /* Each shard's tensors tile its data buffer, so the sum is bounded by the file sizes. */
    for (uint32_t i = 0; i < h->n_tensors; i++) sum += h->recs[i].t.nbytes;
    return sum;
}

int src_st_read(const src_st *h, uint32_t t, uint64_t byte_off, void *buf, uint64_t n,
                trit_err *err)
{
    if (t >= h->n_tensors)
        return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL, "no tensor %u", t);
    const src__st_rec *r = &h->recs[t];
    const src__st_shard *sh = &h->shards[r->t.shard];
    if (byte_off > r->t.nbytes || n > r->t.nbytes - byte_off) {
        char where[96];
        snprintf(where, sizeof where, "tensor '%.84s'", r->name);
        return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, where,
                            "bytes [%llu, +%llu) outside the tensor's %llu",
                            (unsigned long long)byte_off, (unsigned long long)n,
                            (unsigned long long)r->t.nbytes);
    }
    uint64_t const abs = r->t.offset + byte_off;   /* inside the file: validated at open */
    if (sh->mem) {
        if (n) memcpy(buf, sh->mem + abs, (size_t)n);
        return TRIT_OK;
    }
    int64_t const k = trit_sys_pread_full(sh->fd, buf, n, abs);
    if (k < 0 || (uint64_t)k != n) {
        char where[96];
        snprintf(where, sizeof where, "tensor '%.84s'", r->name);
        trit_err_file(err, sh->path);
        if (k < 0) return trit_err_set(err, TRIT_E_IO, abs, where, "read failed: %s", strerror(errno));
        return trit_err_set(err, TRIT_E_TRUNCATED, abs + (uint64_t)k, where,
                            "file ends early (it shrank after it was opened)");
    }
    return TRIT_OK;
}

/* ---- metadata and side files ---------------------------------------------------------------- */

uint32_t src_st_n_meta(const src_st *h) { return h->n_meta; }

int src_st_meta_at(const src_st *h, uint32_t i, const char **key, const char **val)
{
    if (i >= h->n_meta) return TRIT_E_USAGE;
    if (key) *key = h->meta_keys[i];
    if (val) *val = h->meta_vals[i];
    return TRIT_OK;
}

const char *src_st_meta_get(const src_st *h, const char *key)
{
    for (uint32_t i = 0; i < h->n_meta; i++)
        if (strcmp(h->meta_keys[i], key) == 0) return h->meta_vals[i];
    return NULL;
}

const cJSON *src_st_index_meta(const src_st *h)
{
    return h->index ? src_st_index_metadata(h->index) : NULL;
}

const char *src_st_side_name(uint32_t which)
{
    return which < SRC_ST_SIDE_COUNT_ ? side_names[which] : NULL;
}

const char *src_st_side_path(const src_st *h, uint32_t which)
{
    return which < SRC_ST_SIDE_COUNT_ ? h->side[which] : NULL;
}

const cJSON *src_st_config(const src_st *h) { return h->config; }

/* ---- names ---------------------------------------------------------------------------------- */

/* Decimal component [p, p+n) as a number below TRIT_NONE32, or TRIT_NONE32. */
static uint32_t component_number(const char *p, size_t n)
{
    if (n == 0 || n > 9) return TRIT_NONE32;
    uint32_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return TRIT_NONE32;
        v = v * 10 + (uint32_t)(p[i] - '0');
    }
    return v;
}

void src_st_name_layer_expert(const char *name, uint32_t *layer, uint32_t *expert)
{
    static const char *const layer_words[] = {"layers", "h", "blocks", "block", "layer", "blk"};
    uint32_t l = TRIT_NONE32, e = TRIT_NONE32;
    const char *prev = NULL;
    size_t prev_n = 0;
    const char *p = name;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t const n = dot ? (size_t)(dot - p) : strlen(p);
        if (prev) {
            uint32_t const num = component_number(p, n);
            if (num != TRIT_NONE32) {
                if (l == TRIT_NONE32)
                    for (size_t w = 0; w < sizeof layer_words / sizeof layer_words[0]; w++)
                        if (strlen(layer_words[w]) == prev_n && !memcmp(prev, layer_words[w], prev_n)) l = num;
                if (e == TRIT_NONE32 && prev_n == 7 && !memcmp(prev, "experts", 7)) e = num;
            }
        }
        prev = p;
        prev_n = n;
        if (!dot) break;
        p = dot + 1;
    }
    if (layer) *layer = l;
    if (expert) *expert = e;
}
