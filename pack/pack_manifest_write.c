/* pack_manifest_write.c - manifest.json from a pack_manifest (cJSON). The output is
 * deterministic: fixed key order, integers printed exactly with %llu (cJSON's own number
 * printer goes through a double), no whitespace but the final newline. These bytes are what
 * manifest.sig signs; readers never re-serialize. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pack_int.h"

/* cJSON calls return NULL on allocation failure; one flag collects them all. */
typedef struct wctx {
    int oom;
} wctx;

static cJSON *chk(wctx *w, cJSON *it)
{
    if (!it) w->oom = 1;
    return it;
}

static void add(wctx *w, cJSON *obj, const char *key, cJSON *it)
{
    if (!it || !obj || !cJSON_AddItemToObject(obj, key, it)) {
        w->oom = 1;
        cJSON_Delete(it);
    }
}

static void push(wctx *w, cJSON *arr, cJSON *it)
{
    if (!it || !arr || !cJSON_AddItemToArray(arr, it)) {
        w->oom = 1;
        cJSON_Delete(it);
    }
}

static cJSON *num(wctx *w, uint64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
    return chk(w, cJSON_CreateRaw(buf));
}

static cJSON *str(wctx *w, const char *s)
{
    return chk(w, cJSON_CreateString(s));
}

static cJSON *dec(wctx *w, uint64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
    return str(w, buf);
}

static cJSON *sha(wctx *w, const uint8_t d[PACK_SHA256_BYTES])
{
    char hex[2 * PACK_SHA256_BYTES + 1];
    pack_hex(d, PACK_SHA256_BYTES, hex);
    return str(w, hex);
}

static void add_blob(wctx *w, cJSON *o, const pack_blob *b, uint32_t schema)
{
    add(w, o, "size", num(w, b->size));
    add(w, o, schema == PACK_MANIFEST_V1 ? "sha256" : "root", sha(w, b->digest));
    cJSON *const ch = chk(w, cJSON_CreateArray());
    for (uint64_t i = 0; ch && i < b->n_chunks; i++) push(w, ch, sha(w, b->chunks[i]));
    add(w, o, "chunks", ch);
}

static cJSON *extent(wctx *w, const pack_extent *x)
{
    cJSON *const a = chk(w, cJSON_CreateArray());
    static const char *const ops[] = {"data", "copy", "zero"};
    push(w, a, str(w, ops[x->op <= PACK_EXT_ZERO ? x->op : 0]));
    if (x->op == PACK_EXT_COPY) {
        char hex[17];
        pack_hex_u64(x->xxh3, hex);
        push(w, a, num(w, x->base_off));
        push(w, a, num(w, x->len));
        push(w, a, str(w, hex));
    } else {
        push(w, a, num(w, x->len));
    }
    return a;
}

static cJSON *file_obj(wctx *w, const pack_file *f, uint32_t schema)
{
    cJSON *const o = chk(w, cJSON_CreateObject());
    add(w, o, "path", str(w, f->file.name));
    add_blob(w, o, &f->file, schema);
    if (f->is_delta) {
        cJSON *const d = chk(w, cJSON_CreateObject());
        add(w, d, "member", str(w, f->delta.name));
        add_blob(w, d, &f->delta, schema);
        add(w, d, "base_path", str(w, f->base_path));
        add(w, d, "base_size", num(w, f->base_size));
        add(w, d, schema == PACK_MANIFEST_V1 ? "base_sha256" : "base_root", sha(w, f->base_digest));
        cJSON *const ex = chk(w, cJSON_CreateArray());
        for (uint64_t i = 0; ex && i < f->n_extents; i++) push(w, ex, extent(w, &f->extents[i]));
        add(w, d, "extents", ex);
        add(w, o, "delta", d);
    }
    return o;
}

int pack_manifest_write(const pack_manifest *m, char **out, size_t *n, trit_err *err)
{
    *out = NULL;
    *n = 0;
    wctx w = {0};
    char buf[64];
    cJSON *const root = chk(&w, cJSON_CreateObject());
    if (m->schema != PACK_MANIFEST_V1 && m->schema != PACK_MANIFEST_V2) {
        cJSON_Delete(root);
        return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, "manifest", "manifest version %u is not 1 or 2", m->schema);
    }
    add(&w, root, "schema", str(&w, m->schema == PACK_MANIFEST_V1 ? PACK_SCHEMA_V1 : PACK_SCHEMA_V2));
    add(&w, root, "model_id", str(&w, m->model_id));
    add(&w, root, "version", dec(&w, m->version));
    snprintf(buf, sizeof buf, "%u.%u", m->fmt_major, m->fmt_minor);
    add(&w, root, "format_version", str(&w, buf));
    snprintf(buf, sizeof buf, "%u.%u.%u", m->min_runtime[0], m->min_runtime[1], m->min_runtime[2]);
    add(&w, root, "min_runtime", str(&w, buf));
    add(&w, root, "chunk_size", num(&w, m->chunk_size));
    if (m->has_base) {
        cJSON *const b = chk(&w, cJSON_CreateObject());
        add(&w, b, "version", dec(&w, m->base_version));
        add(&w, root, "base", b);
    }
    cJSON *const files = chk(&w, cJSON_CreateArray());
    for (uint32_t i = 0; files && i < m->n_files; i++) push(&w, files, file_obj(&w, &m->files[i], m->schema));
    add(&w, root, "files", files);
    char *text = w.oom ? NULL : cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!text) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, "manifest", "out of memory");
    size_t const len = strlen(text);
    char *const res = malloc(len + 2);
    if (!res) {
        cJSON_free(text);
        return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, "manifest", "out of memory");
    }
    memcpy(res, text, len);
    res[len] = '\n';
    res[len + 1] = '\0';
    cJSON_free(text);
    if (len + 1 > TRIT_MAX_MANIFEST_BYTES) {
        free(res);
        return trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, "manifest", "%zu bytes, the limit is %u (use a larger --chunk-size)",
                            len + 1, (unsigned)TRIT_MAX_MANIFEST_BYTES);
    }
    *out = res;
    *n = len + 1;
    return TRIT_OK;
}
