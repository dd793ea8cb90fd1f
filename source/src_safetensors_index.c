/*
 * src_safetensors_index.c - model.safetensors.index.json (formats.md 2.5): weight_map resolves
 * every tensor by name to its shard; metadata.total_size is the sum of tensor bytes.
 *
 * Shard names come from an untrusted file and are joined to a directory later, so they must be
 * plain base names: anything with a path separator or "."/".." is refused here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "src_safetensors_int.h"
#include "trit_limits.h"
#include "trit_safemath.h"

typedef struct ix_entry {
    const char *name;             /* borrowed from root */
    uint32_t shard;
} ix_entry;

struct src_st_index {
    cJSON *root;                  /* owned */
    const cJSON *meta;            /* "metadata" object or NULL (borrowed from root) */
    const char **shards;          /* distinct shard names, sorted (borrowed from root) */
    uint32_t n_shards;
    ix_entry *ents;               /* weight_map in file order */
    uint64_t n_ents;
    uint64_t *by_name;            /* entry indices sorted by name */
    int has_total;
    uint64_t total;
};

void src_st_index_free(src_st_index *ix)
{
    if (!ix) return;
    cJSON_Delete(ix->root);
    free(ix->shards);
    free(ix->ents);
    free(ix->by_name);
    free(ix);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* qsort has no context argument: sort pointers to entries, then turn them into indices. */
static int cmp_ent(const void *a, const void *b)
{
    const ix_entry *x = *(const ix_entry *const *)a, *y = *(const ix_entry *const *)b;
    int const c = strcmp(x->name, y->name);
    return c ? c : (x > y) - (x < y);
}

static int valid_shard_name(const char *s)
{
    size_t const n = strlen(s);
    if (n == 0 || n > TRIT_MAX_NAME_LEN || !strcmp(s, ".") || !strcmp(s, "..")) return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '/' || s[i] == '\\' || (unsigned char)s[i] < 0x20) return 0;
    return 1;
}

/* One top-level key at most once (cJSON keeps duplicates and would return the first). */
static int count_key(const cJSON *root, const char *key)
{
    int k = 0;
    for (const cJSON *c = root->child; c; c = c->next) k += strcmp(c->string, key) == 0;
    return k;
}

int src_st_index_parse(const void *buf, size_t len, const char *name, src_st_index **out,
                       trit_err *err)
{
    const char *file = name ? name : "index";
    const ix_entry **sorted = NULL;
    int rc = TRIT_OK;
    *out = NULL;
    trit_err_clear(err);
    if (len > TRIT_MAX_ST_HEADER) {
        trit_err_file(err, file);
        return trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, NULL,
                            "index is %zu bytes (at most %u)", len, TRIT_MAX_ST_HEADER);
    }
    src_st_index *ix = calloc(1, sizeof *ix);
    if (!ix) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    /* Nodes: one per weight_map entry plus the few metadata values. */
    rc = src_json_parse_doc(buf, len, file, "index JSON", (uint64_t)TRIT_MAX_TENSORS + 4096u,
                             &ix->root, err);
    if (rc) goto fail;
    if (count_key(ix->root, "weight_map") > 1 || count_key(ix->root, "metadata") > 1) {
        rc = trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, "index JSON",
                          "duplicate 'weight_map' or 'metadata' key");
        goto fail;
    }
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(ix->root, "weight_map");
    if (!cJSON_IsObject(wm)) {
        rc = trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, "index JSON", "no 'weight_map' object");
        goto fail;
    }
    int const n = cJSON_GetArraySize(wm);
    if (n <= 0) {
        rc = trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, "weight_map", "maps no tensors");
        goto fail;
    }
    /* n <= node cap of the scan, itself <= TRIT_MAX_TENSORS + 4096 */
    ix->ents = trit_mallocarray((size_t)n, sizeof *ix->ents);
    ix->by_name = trit_mallocarray((size_t)n, sizeof *ix->by_name);
    ix->shards = trit_mallocarray((size_t)n, sizeof *ix->shards);
    sorted = trit_mallocarray((size_t)n, sizeof *sorted);
    if (!ix->ents || !ix->by_name || !ix->shards || !sorted) {
        rc = trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
        goto fail;
    }
    if ((uint64_t)n > TRIT_MAX_TENSORS) {
        rc = trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, "weight_map", "more than %u tensors",
                          TRIT_MAX_TENSORS);
        goto fail;
    }
    for (const cJSON *c = wm->child; c; c = c->next) {
        char where[96];
        snprintf(where, sizeof where, "tensor '%.84s'", c->string);
        if (strlen(c->string) > TRIT_MAX_NAME_LEN) {
            rc = trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, where, "name is longer than %u bytes",
                              TRIT_MAX_NAME_LEN);
            goto fail;
        }
        if (!cJSON_IsString(c)) {
            rc = trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, where, "weight_map value is not a file name");
            goto fail;
        }
        if (!valid_shard_name(c->valuestring)) {
            rc = trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, where,
                              "shard name '%.80s' is not a plain file name", c->valuestring);
            goto fail;
        }
        ix->ents[ix->n_ents].name = c->string;
        ix->shards[ix->n_ents] = c->valuestring;
        ix->n_ents++;
    }
    qsort(ix->shards, ix->n_ents, sizeof *ix->shards, cmp_str);
    for (uint64_t i = 0; i < ix->n_ents; i++)
        if (i == 0 || strcmp(ix->shards[i], ix->shards[ix->n_shards - 1]) != 0) {
            if (ix->n_shards >= TRIT_MAX_SHARDS) {
                rc = trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, "weight_map",
                                  "more than %u shard files", TRIT_MAX_SHARDS);
                goto fail;
            }
            ix->shards[ix->n_shards++] = ix->shards[i];
        }
    uint64_t e = 0;
    for (const cJSON *c = wm->child; c; c = c->next, e++) {
        const char *key = c->valuestring;
        const char **hit = bsearch(&key, ix->shards, ix->n_shards, sizeof *ix->shards, cmp_str);
        ix->ents[e].shard = (uint32_t)(hit - ix->shards);   /* always found: built from these */
    }
    for (uint64_t i = 0; i < ix->n_ents; i++) sorted[i] = &ix->ents[i];
    qsort(sorted, ix->n_ents, sizeof *sorted, cmp_ent);
    for (uint64_t i = 0; i < ix->n_ents; i++) {
        ix->by_name[i] = (uint64_t)(sorted[i] - ix->ents);
        if (i && strcmp(sorted[i - 1]->name, sorted[i]->name) == 0) {
            char where[96];
            snprintf(where, sizeof where, "tensor '%.84s'", sorted[i]->name);
            rc = trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, where, "appears twice in weight_map");
            goto fail;
        }
    }

    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(ix->root, "metadata");
    if (meta && !cJSON_IsNull(meta) && !cJSON_IsObject(meta)) {
        rc = trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, "index JSON", "'metadata' is not an object");
        goto fail;
    }
    ix->meta = cJSON_IsObject(meta) ? meta : NULL;
    const cJSON *ts = ix->meta ? cJSON_GetObjectItemCaseSensitive(ix->meta, "total_size") : NULL;
    if (ts) {
        double const d = cJSON_IsNumber(ts) ? ts->valuedouble : -1.0;
        if (!(d >= 0.0 && d < (double)SRC_JSON_MAX_INT) || d != (double)(uint64_t)d) {
            rc = trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, "metadata.total_size",
                              "is not a non-negative integer below 2^53");
            goto fail;
        }
        ix->has_total = 1;
        ix->total = (uint64_t)d;
    }
    free(sorted);
    *out = ix;
    return TRIT_OK;
fail:
    free(sorted);
    src_st_index_free(ix);
    trit_err_file(err, file);
    return rc;
}

uint64_t src_st_index_n_entries(const src_st_index *ix) { return ix->n_ents; }

const char *src_st_index_entry(const src_st_index *ix, uint64_t i, uint32_t *shard)
{
    if (i >= ix->n_ents) return NULL;
    if (shard) *shard = ix->ents[i].shard;
    return ix->ents[i].name;
}

int64_t src_st_index_find(const src_st_index *ix, const char *name)
{
    uint64_t lo = 0, hi = ix->n_ents;
    while (lo < hi) {
        uint64_t const mid = lo + (hi - lo) / 2;
        int const c = strcmp(ix->ents[ix->by_name[mid]].name, name);
        if (c == 0) return (int64_t)ix->by_name[mid];
        if (c < 0) lo = mid + 1; else hi = mid;
    }
    return -1;
}

uint32_t src_st_index_n_shards(const src_st_index *ix) { return ix->n_shards; }

const char *src_st_index_shard(const src_st_index *ix, uint32_t s)
{
    return s < ix->n_shards ? ix->shards[s] : NULL;
}

int src_st_index_total_size(const src_st_index *ix, uint64_t *out)
{
    if (!ix->has_total) return TRIT_E_NOTFOUND;
    *out = ix->total;
    return TRIT_OK;
}

const cJSON *src_st_index_metadata(const src_st_index *ix) { return ix->meta; }
