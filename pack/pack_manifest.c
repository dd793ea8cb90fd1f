/* pack_manifest.c - the strict manifest.json parser (cJSON). Everything spec/manifest.md says a
 * reader MUST refuse is refused here, so the rest of pack/ works on a consistent manifest:
 * names are safe file names, digest and chunk counts agree with sizes, extents add up. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pack_int.h"

#define MAX_KEYS 64            /* keys in one object: the schema has at most 10 */
#define MAX_EXACT (1ull << 53) /* JSON numbers above this are not exact in a double */

typedef struct pctx {
    trit_err *err;
    uint32_t schema;           /* PACK_MANIFEST_V1 or _V2: which digest keys the objects have */
    char where[96];            /* object being parsed, for messages */
} pctx;

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 2, 3)))
#endif
static int bad(pctx *c, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return trit_err_set(c->err, PACK_E_MANIFEST, TRIT_NO_OFFSET, c->where, "%s", msg);
}

/* Duplicate keys are refused (anywhere): another parser might pick the other value of a key
 * whose first value was the one checked. The key count is capped so this stays cheap. */
static int check_keys(pctx *c, const cJSON *o)
{
    int n = 0;
    for (const cJSON *a = o->child; a; a = a->next) {
        if (++n > (int)MAX_KEYS) return bad(c, "object has more than 64 keys");
        for (const cJSON *b = o->child; b != a; b = b->next)
            if (strcmp(a->string, b->string) == 0) return bad(c, "duplicate key '%s'", a->string);
    }
    return TRIT_OK;
}

static const cJSON *field(const cJSON *o, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

static int get_str(pctx *c, const cJSON *o, const char *key, const char **out)
{
    const cJSON *const it = field(o, key);
    if (!it) return bad(c, "missing '%s'", key);
    if (!cJSON_IsString(it) || !it->valuestring) return bad(c, "'%s' is not a string", key);
    *out = it->valuestring;
    return TRIT_OK;
}

/* An integer field as a JSON number in [lo, hi] (hi <= 2^53, where doubles are exact). */
static int get_num(pctx *c, const cJSON *o, const char *key, uint64_t lo, uint64_t hi, uint64_t *out)
{
    const cJSON *const it = field(o, key);
    if (!it) return bad(c, "missing '%s'", key);
    double const d = it->valuedouble;
    if (!cJSON_IsNumber(it) || !(d >= 0) || d > (double)MAX_EXACT || floor(d) != d)
        return bad(c, "'%s' is not a non-negative integer", key);
    uint64_t const v = (uint64_t)d;
    if (v < lo || v > hi) {
        char buf[64];
        snprintf(buf, sizeof buf, "%llu not in [%llu, %llu]", (unsigned long long)v, (unsigned long long)lo,
                 (unsigned long long)hi);
        return bad(c, "'%s' is %s", key, buf);
    }
    *out = v;
    return TRIT_OK;
}

/* A u64 carried as a decimal string (proto3's JSON mapping does the same for 64-bit ints). */
static int get_dec(pctx *c, const cJSON *o, const char *key, uint64_t *out)
{
    const char *s;
    int const rc = get_str(c, o, key, &s);
    if (rc != TRIT_OK) return rc;
    if (pack_parse_dec(s, out) != 0) return bad(c, "'%s' is not a decimal u64 string: '%.40s'", key, s);
    return TRIT_OK;
}

static int get_sha(pctx *c, const cJSON *o, const char *key, uint8_t out[PACK_SHA256_BYTES])
{
    const char *s;
    int const rc = get_str(c, o, key, &s);
    if (rc != TRIT_OK) return rc;
    if (pack_unhex(s, out, PACK_SHA256_BYTES) != 0) return bad(c, "'%s' is not 64 lowercase hex digits", key);
    return TRIT_OK;
}

static int get_name(pctx *c, const cJSON *o, const char *key, char **out)
{
    const char *s;
    int const rc = get_str(c, o, key, &s);
    if (rc != TRIT_OK) return rc;
    if (!pack_name_ok(s))
        return bad(c, "'%s' is not a plain file name ([A-Za-z0-9._-], at most 128 bytes): '%.60s'", key, s);
    *out = strdup(s);
    return *out ? TRIT_OK : trit_err_set(c->err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
}

/* size, digest and chunks of a file or member: v1 "sha256" (of the bytes), v2 "root" (over the
 * chunk digests, which must be the root of the listed chunks). */
static int get_blob(pctx *c, const cJSON *o, uint64_t chunk_size, pack_blob *b)
{
    const char *const chunks_key = "chunks";
    int rc = get_num(c, o, "size", 0, TRIT_MAX_BUNDLE_MEMBER, &b->size);
    if (rc == TRIT_OK) rc = get_sha(c, o, c->schema == PACK_MANIFEST_V2 ? "root" : "sha256", b->digest);
    if (rc != TRIT_OK) return rc;
    const cJSON *const ch = field(o, chunks_key);
    if (!cJSON_IsArray(ch)) return bad(c, "'%s' is not an array", chunks_key);
    uint64_t const want = pack_n_chunks(b->size, chunk_size);
    uint64_t const have = (uint64_t)cJSON_GetArraySize(ch);
    if (have != want) {
        char buf[64];
        snprintf(buf, sizeof buf, "%llu digests, size needs %llu", (unsigned long long)have, (unsigned long long)want);
        return bad(c, "'%s' has %s", chunks_key, buf);
    }
    b->n_chunks = want;
    b->chunks = trit_mallocarray((size_t)want, PACK_SHA256_BYTES);
    if (!b->chunks) return trit_err_set(c->err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    uint64_t i = 0;
    for (const cJSON *it = ch->child; it; it = it->next, i++)
        if (!cJSON_IsString(it) || pack_unhex(it->valuestring, b->chunks[i], PACK_SHA256_BYTES) != 0)
            return bad(c, "'%s' holds an entry that is not 64 lowercase hex digits", chunks_key);
    if (c->schema == PACK_MANIFEST_V2) {
        /* the root is a function of the list: one that disagrees is refused here, so a member
         * whose chunks all match has the manifest's root */
        uint8_t root[PACK_SHA256_BYTES];
        if ((rc = pack_root(chunk_size, b->size, (const uint8_t (*)[PACK_SHA256_BYTES])b->chunks, root, c->err)) != TRIT_OK) return rc;
        if (sodium_memcmp(root, b->digest, sizeof root) != 0) return bad(c, "'root' is not the root of its chunk list");
    }
    return TRIT_OK;
}

static int get_extent(pctx *c, const cJSON *e, pack_extent *x)
{
    int const n = cJSON_IsArray(e) ? cJSON_GetArraySize(e) : 0;
    const cJSON *const op = n ? e->child : NULL;
    if (!op || !cJSON_IsString(op)) return bad(c, "an extent is not [\"data\"|\"zero\"|\"copy\", ...]");
    const cJSON *const a = op->next;
    const cJSON *const b = a ? a->next : NULL;
    const cJSON *const h = b ? b->next : NULL;
    double const lim = (double)TRIT_MAX_BUNDLE_MEMBER;
    if (strcmp(op->valuestring, "data") == 0 || strcmp(op->valuestring, "zero") == 0) {
        if (n != 2 || !cJSON_IsNumber(a)) return bad(c, "a '%s' extent is not [\"%s\", length]", op->valuestring, op->valuestring);
        x->op = op->valuestring[0] == 'd' ? PACK_EXT_DATA : PACK_EXT_ZERO;
    } else if (strcmp(op->valuestring, "copy") == 0) {
        if (n != 4 || !cJSON_IsNumber(a) || !cJSON_IsNumber(b) || !cJSON_IsString(h) ||
            pack_unhex_u64(h->valuestring, &x->xxh3) != 0)
            return bad(c, "a copy extent is not [\"copy\", base_offset, length, \"<16 hex xxh3>\"]");
        if (!(a->valuedouble >= 0) || a->valuedouble > lim || floor(a->valuedouble) != a->valuedouble)
            return bad(c, "a copy extent's base offset is not an integer in range");
        x->op = PACK_EXT_COPY;
        x->base_off = (uint64_t)a->valuedouble;
    } else {
        return bad(c, "unknown extent kind '%.20s'", op->valuestring);
    }
    const cJSON *const len = x->op == PACK_EXT_COPY ? b : a;
    if (!(len->valuedouble >= 1) || len->valuedouble > lim || floor(len->valuedouble) != len->valuedouble)
        return bad(c, "an extent's length is not an integer in [1, 2^40]");
    x->len = (uint64_t)len->valuedouble;
    return TRIT_OK;
}

static int get_delta(pctx *c, const cJSON *d, uint64_t chunk_size, pack_file *f)
{
    if (!cJSON_IsObject(d)) return bad(c, "'delta' is not an object");
    int rc = check_keys(c, d);
    if (rc == TRIT_OK) rc = get_name(c, d, "member", &f->delta.name);
    if (rc == TRIT_OK) rc = get_blob(c, d, chunk_size, &f->delta);
    if (rc == TRIT_OK) rc = get_name(c, d, "base_path", &f->base_path);
    if (rc == TRIT_OK) rc = get_num(c, d, "base_size", 0, TRIT_MAX_BUNDLE_MEMBER, &f->base_size);
    if (rc == TRIT_OK) rc = get_sha(c, d, c->schema == PACK_MANIFEST_V2 ? "base_root" : "base_sha256", f->base_digest);
    if (rc != TRIT_OK) return rc;
    const cJSON *const ex = field(d, "extents");
    int const n = cJSON_IsArray(ex) ? cJSON_GetArraySize(ex) : 0;
    if (n < 1 || (uint64_t)n > TRIT_MAX_DELTA_EXTENTS) return bad(c, "'extents' is not an array of 1 to 4194304 extents");
    f->extents = trit_mallocarray((size_t)n, sizeof *f->extents);
    if (!f->extents) return trit_err_set(c->err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    f->n_extents = (uint64_t)n;
    uint64_t total = 0, data = 0, i = 0;
    for (const cJSON *e = ex->child; e; e = e->next, i++) {
        pack_extent *const x = &f->extents[i];
        rc = get_extent(c, e, x);
        if (rc != TRIT_OK) return rc;
        uint64_t end;
        if (x->op == PACK_EXT_COPY && (trit_add_u64(x->base_off, x->len, &end) || end > f->base_size))
            return bad(c, "a copy extent reads past the end of base '%s'", f->base_path);
        if (trit_add_u64(total, x->len, &total) || (x->op == PACK_EXT_DATA && trit_add_u64(data, x->len, &data)))
            return bad(c, "extent lengths overflow");
    }
    if (total != f->file.size) return bad(c, "extents do not add up to the file's size");
    if (data != f->delta.size) return bad(c, "data extents do not add up to the delta member's size");
    f->is_delta = 1;
    return TRIT_OK;
}

static int get_file(pctx *c, const cJSON *o, uint64_t chunk_size, pack_file *f)
{
    if (!cJSON_IsObject(o)) return bad(c, "a 'files' entry is not an object");
    int rc = check_keys(c, o);
    if (rc == TRIT_OK) rc = get_name(c, o, "path", &f->file.name);
    if (rc != TRIT_OK) return rc;
    snprintf(c->where, sizeof c->where, "file '%s'", f->file.name);
    rc = get_blob(c, o, chunk_size, &f->file);
    const cJSON *const d = field(o, "delta");
    if (rc == TRIT_OK && d) rc = get_delta(c, d, chunk_size, f);
    return rc;
}

static int get_version2(pctx *c, const cJSON *o, const char *key, uint32_t *major, uint32_t *minor)
{
    const char *s;
    int const rc = get_str(c, o, key, &s);
    if (rc != TRIT_OK) return rc;
    char buf[16];
    const char *const dot = strchr(s, '.');
    uint64_t a, b;
    if (!dot || (size_t)(dot - s) >= sizeof buf || strlen(dot + 1) >= sizeof buf) return bad(c, "'%s' is not MAJOR.MINOR", key);
    memcpy(buf, s, (size_t)(dot - s));
    buf[dot - s] = '\0';
    if (pack_parse_dec(buf, &a) || pack_parse_dec(dot + 1, &b) || a > 65535 || b > 65535)
        return bad(c, "'%s' is not MAJOR.MINOR", key);
    *major = (uint32_t)a;
    *minor = (uint32_t)b;
    return TRIT_OK;
}

/* Member names are unique across the bundle, and a delta member never shares a name with an
 * installed file (both live in the staging directory for a moment). Files are sorted. */
static int check_names(pctx *c, const pack_manifest *m)
{
    snprintf(c->where, sizeof c->where, "manifest");
    for (uint32_t i = 0; i < m->n_files; i++) {
        if (i && strcmp(m->files[i - 1].file.name, m->files[i].file.name) >= 0)
            return bad(c, "files are not in strictly increasing name order ('%s' after '%s')", m->files[i].file.name,
                       m->files[i - 1].file.name);
        if (!m->files[i].is_delta) continue;
        const char *const mem = m->files[i].delta.name;
        for (uint32_t j = 0; j < m->n_files; j++) {
            if (strcmp(mem, m->files[j].file.name) == 0) return bad(c, "delta member '%s' has the name of a file", mem);
            if (j != i && m->files[j].is_delta && strcmp(mem, m->files[j].delta.name) == 0)
                return bad(c, "delta member '%s' appears twice", mem);
        }
    }
    return TRIT_OK;
}

static int parse_tree(pctx *c, const cJSON *root, pack_manifest *m)
{
    snprintf(c->where, sizeof c->where, "manifest");
    if (!cJSON_IsObject(root)) return bad(c, "not a JSON object");
    int rc = check_keys(c, root);
    const char *s = NULL;
    if (rc == TRIT_OK) rc = get_str(c, root, "schema", &s);
    if (rc != TRIT_OK) return rc;
    if (strcmp(s, PACK_SCHEMA_V2) == 0) c->schema = PACK_MANIFEST_V2;
    else if (strcmp(s, PACK_SCHEMA_V1) == 0) c->schema = PACK_MANIFEST_V1;
    else
        return trit_err_set(c->err, strncmp(s, PACK_SCHEMA_PREFIX, strlen(PACK_SCHEMA_PREFIX)) == 0 ? TRIT_E_UNSUPPORTED : PACK_E_MANIFEST,
                            TRIT_NO_OFFSET, c->where, "schema '%.40s' is not '" PACK_SCHEMA_V2 "' (or '" PACK_SCHEMA_V1 "'): this installer reads manifest versions 1 and 2", s);
    m->schema = c->schema;
    rc = get_str(c, root, "model_id", &s);
    if (rc != TRIT_OK) return rc;
    if (!pack_model_id_ok(s)) return bad(c, "'model_id' is not 1 to 128 bytes of [A-Za-z0-9._:/+-]");
    if (!(m->model_id = strdup(s))) return trit_err_set(c->err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    rc = get_dec(c, root, "version", &m->version);
    if (rc == TRIT_OK && m->version == 0) rc = bad(c, "'version' must be at least 1");
    if (rc == TRIT_OK) rc = get_version2(c, root, "format_version", &m->fmt_major, &m->fmt_minor);
    if (rc == TRIT_OK) rc = get_str(c, root, "min_runtime", &s);
    if (rc == TRIT_OK && pack_parse_semver(s, m->min_runtime) != 0) rc = bad(c, "'min_runtime' is not MAJOR.MINOR.PATCH");
    if (rc == TRIT_OK) rc = get_num(c, root, "chunk_size", TRIT_MIN_BUNDLE_CHUNK, TRIT_MAX_BUNDLE_CHUNK, &m->chunk_size);
    if (rc == TRIT_OK && !trit_is_pow2(m->chunk_size)) rc = bad(c, "'chunk_size' is not a power of two");
    if (rc != TRIT_OK) return rc;
    const cJSON *const base = field(root, "base");
    if (base) {
        if (!cJSON_IsObject(base)) return bad(c, "'base' is not an object");
        rc = check_keys(c, base);
        if (rc == TRIT_OK) rc = get_dec(c, base, "version", &m->base_version);
        if (rc != TRIT_OK) return rc;
        if (m->base_version >= m->version) return bad(c, "'base.version' is not older than 'version'");
        m->has_base = 1;
    }
    const cJSON *const files = field(root, "files");
    int const n = cJSON_IsArray(files) ? cJSON_GetArraySize(files) : 0;
    if (n < 1 || (uint64_t)n > TRIT_MAX_BUNDLE_FILES) return bad(c, "'files' is not an array of 1 to 256 files");
    m->files = calloc((size_t)n, sizeof *m->files);
    if (!m->files) return trit_err_set(c->err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    m->n_files = (uint32_t)n;
    int any_delta = 0;
    uint32_t i = 0;
    for (const cJSON *f = files->child; f; f = f->next, i++) {
        snprintf(c->where, sizeof c->where, "files[%u]", i);
        rc = get_file(c, f, m->chunk_size, &m->files[i]);
        if (rc != TRIT_OK) return rc;
        any_delta |= m->files[i].is_delta;
    }
    snprintf(c->where, sizeof c->where, "manifest");
    if (any_delta != m->has_base)
        return any_delta ? bad(c, "delta files but no 'base'") : bad(c, "'base' given but no delta file");
    return check_names(c, m);
}

/* Control bytes, raw or escaped (\u0000-\u001f), are refused in the raw text: cJSON stops C
 * strings at a NUL, so "a\u0000b" would be "a" here and something else to another parser, and
 * no field of the schema needs a control character (messages quote fields to a terminal). */
static int raw_text_ok(const uint8_t *p, size_t n, size_t *bad_off)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] < 0x20 && p[i] != '\t' && p[i] != '\n' && p[i] != '\r') { *bad_off = i; return 0; }
        if (p[i] == '\\' && i + 4 < n && p[i + 1] == 'u' && p[i + 2] == '0' && p[i + 3] == '0' &&
            (p[i + 4] == '0' || p[i + 4] == '1')) { *bad_off = i; return 0; }
    }
    return 1;
}

int pack_manifest_parse(const void *json, size_t n, pack_manifest **out, trit_err *err)
{
    *out = NULL;
    if (n > TRIT_MAX_MANIFEST_BYTES)
        return trit_err_set(err, PACK_E_OVERSIZE, TRIT_NO_OFFSET, "manifest", "%zu bytes, the limit is %u", n,
                            (unsigned)TRIT_MAX_MANIFEST_BYTES);
    size_t off = 0;
    if (!raw_text_ok(json, n, &off))
        return trit_err_set(err, PACK_E_MANIFEST, off, "manifest", "control character (raw or escaped) in the JSON text");
    const char *end = NULL;
    errno = 0;
    cJSON *const root = cJSON_ParseWithLengthOpts(json, n, &end, 0);
    /* cJSON says NULL both for bad text and for a failed allocation; only the latter leaves
     * ENOMEM (malloc's errno) behind, and is the machine's failure, not the manifest's */
    if (!root && errno == ENOMEM) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, "manifest", "out of memory");
    if (!root) {
        uint64_t const at = end && end >= (const char *)json ? (uint64_t)(end - (const char *)json) : TRIT_NO_OFFSET;
        return trit_err_set(err, PACK_E_MANIFEST, at, "manifest", "not valid JSON");
    }
    size_t k = (size_t)(end - (const char *)json);
    while (k < n && strchr(" \t\r\n", ((const char *)json)[k])) k++;
    int rc = TRIT_OK;
    if (k != n) rc = trit_err_set(err, PACK_E_MANIFEST, k, "manifest", "bytes after the JSON object");
    pack_manifest *const m = calloc(1, sizeof *m);
    if (rc == TRIT_OK && !m) rc = trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    if (rc == TRIT_OK) {
        pctx c = {err, 0, ""};
        rc = parse_tree(&c, root, m);
    }
    cJSON_Delete(root);
    if (rc != TRIT_OK) {
        pack_manifest_free(m);
        return rc;
    }
    *out = m;
    return TRIT_OK;
}

static void blob_free(pack_blob *b)
{
    free(b->name);
    free(b->chunks);
}

void pack_manifest_free(pack_manifest *m)
{
    if (!m) return;
    for (uint32_t i = 0; i < m->n_files; i++) {
        blob_free(&m->files[i].file);
        blob_free(&m->files[i].delta);
        free(m->files[i].base_path);
        free(m->files[i].extents);
    }
    free(m->files);
    free(m->model_id);
    free(m->raw);
    free(m);
}

const pack_blob *pack_manifest_member(const pack_manifest *m, uint32_t i)
{
    return m->files[i].is_delta ? &m->files[i].delta : &m->files[i].file;
}
