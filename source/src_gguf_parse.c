/* src_gguf_parse.c - parse and validate one GGUF file's header, KVs and tensor infos.
 *
 * The parser reads a window of the file's front through a trit_cur (R9). Every declared length
 * or count is checked against the bytes left in the *file* (TRIT_E_TRUNCATED) and then a cap
 * (TRIT_E_LIMIT) before anything is allocated (R10). When a check passes but the window is too
 * short, the parse stops with SRC_GGUF__NEED_MORE and the caller re-reads a larger window and
 * starts again, so a file handle never reads more than the header (plus a little slack). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src_gguf_int.h"
#include "src_ggml_types.h"
#include "trit_cursor.h"
#include "trit_limits.h"
#include "trit_safemath.h"

#define MIN_KV_BYTES 14u       /* key len 8 + 1 key byte + type 4 + 1 value byte */
#define MIN_TINFO_BYTES 25u    /* name len 8 + 1 byte + n_dims 4 + type 4 + offset 8 */
#define GGUF_MAX_DIMS 4u
#define TYPE_DEFERRED UINT32_MAX   /* id 36 in a non-fork file: judged by its bytes later */

typedef struct gp {
    trit_cur c;                /* over the window; base_off 0 (the window starts the file) */
    uint64_t file_size;
    uint64_t *need;
    const char *file;
    trit_err *err;
    gguf_part *p;
} gp;

static uint64_t gp_pos(const gp *g) { return trit_cur_pos(&g->c); }
static uint64_t gp_file_left(const gp *g) { return g->file_size - gp_pos(g); }

/* Make sure n more bytes are in the window: TRUNCATED if the file ends first, LIMIT past the
 * header cap, NEED_MORE if only the window is short. */
static int gp_need(gp *g, uint64_t n, const char *item, const char *where)
{
    if (n > gp_file_left(g))
        return trit_err_set(g->err, TRIT_E_TRUNCATED, gp_pos(g), where, "need %llu bytes for %s, %llu left in the file",
                            (unsigned long long)n, item, (unsigned long long)gp_file_left(g));
    uint64_t const end = gp_pos(g) + n;     /* <= file_size, cannot overflow */
    if (end > TRIT_MAX_GGUF_HEADER)
        return trit_err_set(g->err, TRIT_E_LIMIT, gp_pos(g), where, "header is larger than the cap of %u bytes",
                            (unsigned)TRIT_MAX_GGUF_HEADER);
    if (trit_cur_need(&g->c, n)) return TRIT_OK;
    *g->need = end;
    return SRC_GGUF__NEED_MORE;
}

static int gp_bytes(gp *g, uint64_t n, const uint8_t **out, const char *item, const char *where)
{
    int rc = gp_need(g, n, item, where);
    if (rc) return rc;
    return trit_cur_bytes(&g->c, n, out, item, g->err);
}

static int gp_u32(gp *g, uint32_t *v, const char *item, const char *where)
{
    const uint8_t *b;
    int rc = gp_bytes(g, 4, &b, item, where);
    if (rc == TRIT_OK) *v = trit_load_le32(b);
    return rc;
}

static int gp_u64(gp *g, uint64_t *v, const char *item, const char *where)
{
    const uint8_t *b;
    int rc = gp_bytes(g, 8, &b, item, where);
    if (rc == TRIT_OK) *v = trit_load_le64(b);
    return rc;
}

/* GGUF string: u64 length + bytes. The error offset is that of the length field. */
static int gp_str(gp *g, const uint8_t **s, uint64_t *n, uint64_t cap, const char *item,
                  const char *where)
{
    uint64_t const at = gp_pos(g);
    uint64_t len;
    int rc = gp_u64(g, &len, item, where);
    if (rc) return rc;
    if (len > gp_file_left(g))
        return trit_err_set(g->err, TRIT_E_TRUNCATED, at, where, "%s length %llu exceeds the %llu bytes left in the file",
                            item, (unsigned long long)len, (unsigned long long)gp_file_left(g));
    if (len > cap)
        return trit_err_set(g->err, TRIT_E_LIMIT, at, where, "%s length %llu exceeds the cap of %llu bytes", item,
                            (unsigned long long)len, (unsigned long long)cap);
    rc = gp_bytes(g, len, s, item, where);
    if (rc == TRIT_OK) *n = len;
    return rc;
}

uint64_t src_gguf__fixed_size(uint32_t t)
{
    switch (t) {
    case SRC_GGUF_UINT8: case SRC_GGUF_INT8: case SRC_GGUF_BOOL: return 1;
    case SRC_GGUF_UINT16: case SRC_GGUF_INT16: return 2;
    case SRC_GGUF_UINT32: case SRC_GGUF_INT32: case SRC_GGUF_FLOAT32: return 4;
    case SRC_GGUF_UINT64: case SRC_GGUF_INT64: case SRC_GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

int src_gguf__is_fork_arch(const char *arch)
{
    return arch && (strcmp(arch, "bitnet-b1.58") == 0 || strcmp(arch, "bitnet-25") == 0);
}

static int arena_add(gguf_part *p, const uint8_t *s, uint64_t n, size_t *pos)
{
    size_t const need = (size_t)n + 1;     /* n <= TRIT_MAX_STRING_LEN, fits size_t */
    if (p->arena_cap - p->arena_len < need) {
        size_t cap = p->arena_cap ? p->arena_cap : 4096;
        while (cap - p->arena_len < need) {
            if (cap > SIZE_MAX / 2) return TRIT_E_NOMEM;
            cap *= 2;
        }
        char *a = realloc(p->arena, cap);
        if (!a) return TRIT_E_NOMEM;
        p->arena = a;
        p->arena_cap = cap;
    }
    *pos = p->arena_len;
    memcpy(p->arena + p->arena_len, s, (size_t)n);
    p->arena[p->arena_len + (size_t)n] = '\0';
    p->arena_len += need;
    return TRIT_OK;
}

/* Parse one value of type `type`. depth is the array nesting level of the value (1 = a KV's
 * own array). With str_pos non-NULL and a string array, *str_pos receives an owned table of
 * element positions (caller frees). */
static int parse_value(gp *g, uint32_t type, unsigned depth, src_gguf_val *v, uint64_t **str_pos,
                       const char *where)
{
    memset(v, 0, sizeof *v);
    v->type = type;
    uint64_t const fixed = src_gguf__fixed_size(type);
    int rc;
    if (fixed) {
        v->off = gp_pos(g);
        v->count = 1;
        v->nbytes = fixed;
        return gp_bytes(g, fixed, &v->p, "value", where);
    }
    if (type == SRC_GGUF_STRING) {
        rc = gp_str(g, &v->p, &v->count, TRIT_MAX_STRING_LEN, "string", where);
        v->nbytes = v->count;
        v->off = gp_pos(g) - v->count;
        return rc;
    }
    /* ARRAY */
    uint64_t const et_off = gp_pos(g);
    uint32_t et;
    uint64_t cnt;
    if ((rc = gp_u32(g, &et, "array element type", where))) return rc;
    if (et >= SRC_GGUF_TYPE_COUNT)
        return trit_err_set(g->err, TRIT_E_CORRUPT, et_off, where, "unknown array element type %u", et);
    if (et == SRC_GGUF_ARRAY && depth >= TRIT_MAX_GGUF_ARRAY_DEPTH)
        return trit_err_set(g->err, TRIT_E_LIMIT, et_off, where, "arrays nested deeper than %u levels",
                            (unsigned)TRIT_MAX_GGUF_ARRAY_DEPTH);
    uint64_t const cnt_off = gp_pos(g);
    if ((rc = gp_u64(g, &cnt, "array count", where))) return rc;
    uint64_t const et_fixed = src_gguf__fixed_size(et);
    /* smallest encoding of one element: a string is at least its length, an array its header */
    uint64_t const min = et_fixed ? et_fixed : (et == SRC_GGUF_STRING ? 8u : 12u);
    if (cnt > gp_file_left(g) / min)
        return trit_err_set(g->err, TRIT_E_TRUNCATED, cnt_off, where,
                            "array of %llu %s elements needs at least %llu bytes per element, %llu left in the file",
                            (unsigned long long)cnt, src_gguf_type_name(et), (unsigned long long)min,
                            (unsigned long long)gp_file_left(g));
    if (cnt > TRIT_MAX_ARRAY_LEN)
        return trit_err_set(g->err, TRIT_E_LIMIT, cnt_off, where, "array of %llu elements exceeds the cap of %u",
                            (unsigned long long)cnt, (unsigned)TRIT_MAX_ARRAY_LEN);
    v->elem_type = et;
    v->count = cnt;
    v->off = gp_pos(g);
    size_t const start = g->c.off;
    if (et_fixed) {
        /* cnt * min <= bytes left in the file: no overflow */
        if ((rc = gp_need(g, cnt * min, "array elements", where))) return rc;
        if ((rc = trit_cur_skip(&g->c, cnt * min, "array elements", g->err))) return rc;
    } else if (et == SRC_GGUF_STRING) {
        uint64_t *pos = NULL;
        if (str_pos && !(pos = trit_mallocarray((size_t)cnt, sizeof *pos)))
            return trit_err_set(g->err, TRIT_E_NOMEM, cnt_off, where, "out of memory for %llu array elements",
                                (unsigned long long)cnt);
        for (uint64_t j = 0; j < cnt; j++) {
            const uint8_t *s;
            uint64_t n;
            if (pos) pos[j] = g->c.off - start;
            if ((rc = gp_str(g, &s, &n, TRIT_MAX_STRING_LEN, "string element", where))) {
                free(pos);
                return rc;
            }
        }
        if (str_pos) *str_pos = pos;
    } else {
        for (uint64_t j = 0; j < cnt; j++) {
            src_gguf_val sub;
            if ((rc = parse_value(g, SRC_GGUF_ARRAY, depth + 1, &sub, NULL, where))) return rc;
        }
    }
    v->p = g->c.base + start;
    v->nbytes = g->c.off - start;
    return TRIT_OK;
}

static int parse_header(gp *g)
{
    gguf_part *p = g->p;
    const uint8_t *m;
    uint32_t v;
    uint64_t nt, nkv;
    int rc;
    if ((rc = gp_bytes(g, 4, &m, "magic", NULL))) return rc;
    if (memcmp(m, "GGUF", 4) != 0)
        return trit_err_set(g->err, TRIT_E_CORRUPT, 0, NULL, "bad magic %02x %02x %02x %02x, expected 'GGUF'", m[0],
                            m[1], m[2], m[3]);
    if ((rc = gp_u32(g, &v, "version", NULL))) return rc;
    if (v == 1)
        return trit_err_set(g->err, TRIT_E_UNSUPPORTED, 4, NULL,
                            "GGUF v1 is not supported (it used 32-bit counts); re-convert the model with a current llama.cpp");
    if (v != 0 && (v & 0xFFFFu) == 0) {
        /* A small version read with the wrong byte order: the file is big-endian. */
        uint32_t const sw = (v >> 24) | ((v >> 8) & 0xFF00u);
        if (sw >= 1 && sw <= 3)
            return trit_err_set(g->err, TRIT_E_UNSUPPORTED, 4, NULL,
                                "big-endian GGUF (version %u byte-swapped) is not supported; convert it to little-endian",
                                sw);
    }
    if (v != 2 && v != 3)
        return trit_err_set(g->err, TRIT_E_UNSUPPORTED, 4, NULL, "unsupported GGUF version %u (2 and 3 are supported)", v);
    p->version = v;
    if ((rc = gp_u64(g, &nt, "tensor count", NULL))) return rc;
    if ((rc = gp_u64(g, &nkv, "KV count", NULL))) return rc;
    uint64_t const left = gp_file_left(g);
    if (nt > left / MIN_TINFO_BYTES)
        return trit_err_set(g->err, TRIT_E_TRUNCATED, 8, NULL,
                            "tensor count %llu needs at least %llu bytes per tensor, %llu left in the file",
                            (unsigned long long)nt, (unsigned long long)MIN_TINFO_BYTES, (unsigned long long)left);
    if (nt > TRIT_MAX_TENSORS)
        return trit_err_set(g->err, TRIT_E_LIMIT, 8, NULL, "tensor count %llu exceeds the cap of %u", (unsigned long long)nt,
                            (unsigned)TRIT_MAX_TENSORS);
    uint64_t const left_kv = left - nt * MIN_TINFO_BYTES;
    if (nkv > left_kv / MIN_KV_BYTES)
        return trit_err_set(g->err, TRIT_E_TRUNCATED, 16, NULL,
                            "KV count %llu needs at least %llu bytes per KV, %llu left in the file",
                            (unsigned long long)nkv, (unsigned long long)MIN_KV_BYTES, (unsigned long long)left_kv);
    if (nkv > TRIT_MAX_GGUF_KV)
        return trit_err_set(g->err, TRIT_E_LIMIT, 16, NULL, "KV count %llu exceeds the cap of %u", (unsigned long long)nkv,
                            (unsigned)TRIT_MAX_GGUF_KV);
    p->kvs = calloc(nkv ? (size_t)nkv : 1, sizeof *p->kvs);
    p->tensors = calloc(nt ? (size_t)nt : 1, sizeof *p->tensors);
    if (!p->kvs || !p->tensors) return trit_err_set(g->err, TRIT_E_NOMEM, 8, NULL, "out of memory for the tensor and KV tables");
    p->n_kv = nkv;
    p->n_tensors = nt;
    return TRIT_OK;
}

static int key_is(const uint8_t *k, uint64_t n, const char *s)
{
    return strlen(s) == n && memcmp(k, s, (size_t)n) == 0;
}

static int is_int_type(uint32_t t)
{
    return t <= SRC_GGUF_INT32 || t == SRC_GGUF_UINT64 || t == SRC_GGUF_INT64;
}

/* Keys the reader itself depends on. */
static int special_key(gp *g, const uint8_t *k, uint64_t kn, const src_gguf_val *v, const char *where)
{
    gguf_part *p = g->p;
    uint64_t x = 0;
    int const is_align = key_is(k, kn, "general.alignment");
    int const is_scount = key_is(k, kn, "split.count"), is_sno = key_is(k, kn, "split.no");
    int const is_stens = key_is(k, kn, "split.tensors.count");
    if (is_align || is_scount || is_sno || is_stens) {
        if (!is_int_type(v->type) || src_gguf_val_u64(v, &x) != TRIT_OK)
            return trit_err_set(g->err, TRIT_E_CORRUPT, v->off, where, "value has type %s, expected an unsigned integer",
                                v->type == SRC_GGUF_ARRAY ? "array" : src_gguf_type_name(v->type));
    }
    if (is_align) {
        if (!trit_is_pow2(x))
            return trit_err_set(g->err, TRIT_E_CORRUPT, v->off, where, "alignment %llu is not a power of two",
                                (unsigned long long)x);
        if (x > TRIT_MAX_PAGE_ALIGN)
            return trit_err_set(g->err, TRIT_E_LIMIT, v->off, where, "alignment %llu exceeds the cap of %u",
                                (unsigned long long)x, (unsigned)TRIT_MAX_PAGE_ALIGN);
        p->alignment = x;
    } else if (is_scount) {
        if (x == 0) return trit_err_set(g->err, TRIT_E_CORRUPT, v->off, where, "split count is 0");
        if (x > TRIT_MAX_SHARDS)
            return trit_err_set(g->err, TRIT_E_LIMIT, v->off, where, "split count %llu exceeds the cap of %u",
                                (unsigned long long)x, (unsigned)TRIT_MAX_SHARDS);
        p->has_split = 1;
        p->split_count = x;
        p->split_off = v->off;
    } else if (is_sno) {
        p->split_no = x;
        p->split_no_off = v->off;
    } else if (is_stens) {
        p->split_tensors = x;
        p->split_tensors_off = v->off;
    } else if (key_is(k, kn, "general.architecture") && v->type == SRC_GGUF_STRING &&
               v->count <= TRIT_MAX_NAME_LEN && !memchr(v->p, 0, (size_t)v->count)) {
        if (arena_add(p, v->p, v->count, &p->arch_ar))
            return trit_err_set(g->err, TRIT_E_NOMEM, v->off, where, "out of memory");
    }
    return TRIT_OK;
}

typedef struct name_ref {
    const char *s;
    uint64_t idx;
} name_ref;

static int cmp_name_ref(const void *a, const void *b)
{
    const name_ref *x = a, *y = b;
    int const c = strcmp(x->s, y->s);
    return c ? c : (x->idx < y->idx ? -1 : x->idx > y->idx);
}

static int parse_kvs(gp *g)
{
    gguf_part *p = g->p;
    char where[96];
    int rc;
    for (uint64_t i = 0; i < p->n_kv; i++) {
        gguf_kv *kv = &p->kvs[i];
        const uint8_t *k;
        uint64_t kn;
        uint32_t type;
        snprintf(where, sizeof where, "KV %llu", (unsigned long long)i);
        kv->rec_off = gp_pos(g);
        if ((rc = gp_str(g, &k, &kn, TRIT_MAX_NAME_LEN, "key", where))) return rc;
        if (kn == 0) return trit_err_set(g->err, TRIT_E_CORRUPT, kv->rec_off, where, "empty key");
        if (memchr(k, 0, (size_t)kn)) return trit_err_set(g->err, TRIT_E_CORRUPT, kv->rec_off, where, "key contains a NUL byte");
        if (arena_add(p, k, kn, &kv->key_ar)) return trit_err_set(g->err, TRIT_E_NOMEM, kv->rec_off, where, "out of memory");
        snprintf(where, sizeof where, "key '%.*s'", (int)kn, (const char *)k);
        uint64_t const type_off = gp_pos(g);
        if ((rc = gp_u32(g, &type, "value type", where))) return rc;
        if (type >= SRC_GGUF_TYPE_COUNT)
            return trit_err_set(g->err, TRIT_E_CORRUPT, type_off, where, "unknown value type %u", type);
        if ((rc = parse_value(g, type, 1, &kv->val, &kv->str_pos, where))) return rc;
        if ((rc = special_key(g, k, kn, &kv->val, where))) return rc;
    }
    /* The arena no longer moves: point the keys into it and refuse duplicates. */
    name_ref *refs = calloc(p->n_kv ? (size_t)p->n_kv : 1, sizeof *refs);
    p->kv_by_key = calloc(p->n_kv ? (size_t)p->n_kv : 1, sizeof *p->kv_by_key);
    if (!refs || !p->kv_by_key) {
        free(refs);
        return trit_err_set(g->err, TRIT_E_NOMEM, 16, NULL, "out of memory for the KV index");
    }
    for (uint64_t i = 0; i < p->n_kv; i++) {
        p->kvs[i].key = p->arena + p->kvs[i].key_ar;
        refs[i].s = p->kvs[i].key;
        refs[i].idx = i;
    }
    qsort(refs, (size_t)p->n_kv, sizeof *refs, cmp_name_ref);
    rc = TRIT_OK;
    for (uint64_t i = 0; i < p->n_kv; i++) {
        p->kv_by_key[i] = refs[i].idx;
        if (i && rc == TRIT_OK && strcmp(refs[i].s, refs[i - 1].s) == 0) {
            snprintf(where, sizeof where, "key '%s'", refs[i].s);
            rc = trit_err_set(g->err, TRIT_E_CORRUPT, p->kvs[refs[i].idx].rec_off, where,
                              "duplicate key (first at offset 0x%llx)",
                              (unsigned long long)p->kvs[refs[i - 1].idx].rec_off);
        }
    }
    free(refs);
    if (rc) return rc;
    if (p->has_split && p->split_no >= p->split_count)
        return trit_err_set(g->err, TRIT_E_CORRUPT, p->split_no_off, "key 'split.no'", "split number %llu is not below split.count %llu",
                            (unsigned long long)p->split_no, (unsigned long long)p->split_count);
    return TRIT_OK;
}

/* Map a stored type id to a SRC_GGML_* id: BitNet-fork ids in fork files, mainline otherwise. */
static int resolve_type(gp *g, uint32_t id, uint64_t at, const char *where, uint32_t *out)
{
    if (g->p->fork) {
        switch (id) {
        case 31: case 32: case 33: case 36: case 38:
            *out = SRC_GGML_FORK_BASE + id;
            return TRIT_OK;
        case 37:
            return trit_err_set(g->err, TRIT_E_UNSUPPORTED, at, where,
                                "type id 37 is I8_S in BitNet-fork files, an activation type that is never stored");
        case 39:
            return trit_err_set(g->err, TRIT_E_UNSUPPORTED, at, where,
                                "type id 39 is TL2 in BitNet-fork files (kernel-specific layout, not supported); "
                                "mainline ggml would read it as MXFP4");
        default: break;
        }
    } else if (id == 36) {
        *out = TYPE_DEFERRED;
        return TRIT_OK;
    }
    if (!src_ggml_type_get(id))
        return trit_err_set(g->err, TRIT_E_UNSUPPORTED, at, where, "unknown or removed ggml type id %u", id);
    *out = id;
    return TRIT_OK;
}

static int parse_tinfos(gp *g)
{
    gguf_part *p = g->p;
    char where[96];
    int rc;
    for (uint64_t i = 0; i < p->n_tensors; i++) {
        gguf_tensor *t = &p->tensors[i];
        const uint8_t *name;
        uint64_t nn, rel;
        uint32_t nd, id;
        snprintf(where, sizeof where, "tensor %llu", (unsigned long long)i);
        t->info.info_off = gp_pos(g);
        if ((rc = gp_str(g, &name, &nn, TRIT_MAX_NAME_LEN, "tensor name", where))) return rc;
        if (nn == 0) return trit_err_set(g->err, TRIT_E_CORRUPT, t->info.info_off, where, "empty tensor name");
        if (memchr(name, 0, (size_t)nn))
            return trit_err_set(g->err, TRIT_E_CORRUPT, t->info.info_off, where, "tensor name contains a NUL byte");
        if (arena_add(p, name, nn, &t->name_ar)) return trit_err_set(g->err, TRIT_E_NOMEM, t->info.info_off, where, "out of memory");
        snprintf(where, sizeof where, "tensor '%.*s'", (int)nn, (const char *)name);
        uint64_t const nd_off = gp_pos(g);
        if ((rc = gp_u32(g, &nd, "dimension count", where))) return rc;
        if (nd > GGUF_MAX_DIMS)
            return trit_err_set(g->err, TRIT_E_CORRUPT, nd_off, where, "%u dimensions, at most %u are allowed", nd, GGUF_MAX_DIMS);
        t->info.n_dims = nd;
        t->ne_off = gp_pos(g);
        for (unsigned d = 0; d < GGUF_MAX_DIMS; d++) t->info.ne[d] = 1;
        for (unsigned d = 0; d < nd; d++) {
            uint64_t const at = gp_pos(g);
            if ((rc = gp_u64(g, &t->info.ne[d], "dimension", where))) return rc;
            if (t->info.ne[d] > (uint64_t)INT64_MAX)
                return trit_err_set(g->err, TRIT_E_CORRUPT, at, where, "ne[%u] = %llu is negative as int64", d,
                                    (unsigned long long)t->info.ne[d]);
        }
        t->type_off = gp_pos(g);
        if ((rc = gp_u32(g, &id, "type", where))) return rc;
        t->info.ggml_type = id;
        if ((rc = resolve_type(g, id, t->type_off, where, &t->info.type))) return rc;
        t->off_off = gp_pos(g);
        if ((rc = gp_u64(g, &rel, "data offset", where))) return rc;
        if (rel % p->alignment != 0)
            return trit_err_set(g->err, TRIT_E_CORRUPT, t->off_off, where, "data offset %llu is not a multiple of the alignment %llu",
                                (unsigned long long)rel, (unsigned long long)p->alignment);
        t->rel_off = rel;
    }
    p->hdr_end = gp_pos(g);
    for (uint64_t i = 0; i < p->n_tensors; i++) p->tensors[i].info.name = p->arena + p->tensors[i].name_ar;
    return TRIT_OK;
}

typedef struct off_ref {
    uint64_t abs, idx;
} off_ref;

static int cmp_off_ref(const void *a, const void *b)
{
    const off_ref *x = a, *y = b;
    if (x->abs != y->abs) return x->abs < y->abs ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Type id 36 outside a BitNet-fork file: refuse, and say whether the bytes would fit I2_S. */
static int judge_id36(gp *g, const gguf_tensor *t, const off_ref *sorted, const char *where)
{
    uint64_t next = g->file_size;     /* start of the next tensor's data, or the end of file */
    for (uint64_t k = 0; k < g->p->n_tensors; k++) {
        if (sorted[k].abs > t->info.offset) {
            if (sorted[k].abs < next) next = sorted[k].abs;
            break;
        }
    }
    uint64_t const avail = t->info.offset <= next ? next - t->info.offset : 0;
    uint64_t const need = t->info.n_elems / 4 + SRC_GGML_I2S_TRAILER;
    const char *arch = g->p->arch_ar != SIZE_MAX ? g->p->arena + g->p->arch_ar : "";
    if (t->info.n_elems % 4 == 0 && need <= avail)
        return trit_err_set(g->err, TRIT_E_UNSUPPORTED, t->type_off, where,
                            "type id 36 is ambiguous: I2_S in BitNet-fork files (its %llu bytes fit the %llu available), "
                            "a removed type in mainline ggml; architecture '%s' is not bitnet-b1.58 or bitnet-25",
                            (unsigned long long)need, (unsigned long long)avail, arch);
    return trit_err_set(g->err, TRIT_E_UNSUPPORTED, t->type_off, where,
                        "type id 36 was removed from mainline ggml, and the %llu bytes available do not fit BitNet's "
                        "I2_S (%llu needed)", (unsigned long long)avail, (unsigned long long)need);
}

static int validate_tensors(gp *g)
{
    gguf_part *p = g->p;
    char where[96];
    int rc = TRIT_OK;
    p->data_off = p->hdr_end;
    if (p->n_tensors > 0 && trit_align_up(p->hdr_end, p->alignment, &p->data_off))
        return trit_err_set(g->err, TRIT_E_CORRUPT, p->hdr_end, NULL, "data section offset overflows");
    for (uint64_t i = 0; i < p->n_tensors; i++) {
        gguf_tensor *t = &p->tensors[i];
        uint64_t n = 1;
        snprintf(where, sizeof where, "tensor '%s'", t->info.name);
        for (unsigned d = 0; d < GGUF_MAX_DIMS; d++)
            if (trit_mul_u64(n, t->info.ne[d], &n))
                return trit_err_set(g->err, TRIT_E_CORRUPT, t->ne_off, where, "element count overflows");
        t->info.n_elems = n;
        if (trit_add_u64(p->data_off, t->rel_off, &t->info.offset))
            return trit_err_set(g->err, TRIT_E_CORRUPT, t->off_off, where, "data offset overflows");
    }
    off_ref *sorted = calloc(p->n_tensors ? (size_t)p->n_tensors : 1, sizeof *sorted);
    if (!sorted) return trit_err_set(g->err, TRIT_E_NOMEM, 8, NULL, "out of memory for the tensor index");
    for (uint64_t i = 0; i < p->n_tensors; i++) {
        sorted[i].abs = p->tensors[i].info.offset;
        sorted[i].idx = i;
    }
    qsort(sorted, (size_t)p->n_tensors, sizeof *sorted, cmp_off_ref);
    for (uint64_t i = 0; i < p->n_tensors && rc == TRIT_OK; i++) {
        gguf_tensor *t = &p->tensors[i];
        snprintf(where, sizeof where, "tensor '%s'", t->info.name);
        if (t->info.type == TYPE_DEFERRED) {
            rc = judge_id36(g, t, sorted, where);
            break;
        }
        const src_ggml_type *ty = src_ggml_type_get(t->info.type);
        t->info.type_name = ty->name;
        if (!ty->trailer && t->info.ne[0] % ty->blck != 0) {
            rc = trit_err_set(g->err, TRIT_E_CORRUPT, t->ne_off, where, "ne[0] = %llu is not a multiple of the %s block size %u",
                              (unsigned long long)t->info.ne[0], ty->name, ty->blck);
            break;
        }
        if ((rc = src_ggml_nbytes(ty, t->info.n_elems, &t->info.nbytes, where, t->ne_off, g->err))) {
            trit_err_file(g->err, g->file);
            break;
        }
        if (t->info.offset > g->file_size || t->info.nbytes > g->file_size - t->info.offset)
            rc = trit_err_set(g->err, TRIT_E_TRUNCATED, t->off_off, where,
                              "data at 0x%llx (%llu bytes) extends past the end of the file (%llu bytes)",
                              (unsigned long long)t->info.offset, (unsigned long long)t->info.nbytes,
                              (unsigned long long)g->file_size);
    }
    /* Sorted by start, a tensor overlaps exactly when it starts before the previous one ends. */
    const gguf_tensor *prev = NULL;
    for (uint64_t k = 0; k < p->n_tensors && rc == TRIT_OK; k++) {
        const gguf_tensor *t = &p->tensors[sorted[k].idx];
        if (t->info.nbytes == 0) continue;
        if (prev && t->info.offset < prev->info.offset + prev->info.nbytes) {
            snprintf(where, sizeof where, "tensor '%s'", t->info.name);
            rc = trit_err_set(g->err, TRIT_E_CORRUPT, t->off_off, where,
                              "data at 0x%llx (%llu bytes) overlaps tensor '%s' at 0x%llx (%llu bytes)",
                              (unsigned long long)t->info.offset, (unsigned long long)t->info.nbytes, prev->info.name,
                              (unsigned long long)prev->info.offset, (unsigned long long)prev->info.nbytes);
        }
        prev = t;
    }
    free(sorted);
    return rc;
}

void src_gguf__part_reset(gguf_part *p)
{
    for (uint64_t i = 0; p->kvs && i < p->n_kv; i++) free(p->kvs[i].str_pos);
    free(p->kvs);
    free(p->kv_by_key);
    free(p->tensors);
    free(p->arena);
    p->kvs = NULL;
    p->kv_by_key = NULL;
    p->tensors = NULL;
    p->arena = NULL;
    p->arena_len = p->arena_cap = 0;
    p->n_kv = p->n_tensors = 0;
    p->arch = NULL;
    p->arch_ar = SIZE_MAX;
    p->alignment = SRC_GGUF_DEFAULT_ALIGN;
    p->has_split = 0;
    p->split_no = p->split_count = p->split_off = p->split_no_off = p->split_tensors_off = 0;
    p->split_tensors = UINT64_MAX;
    p->hdr_end = p->data_off = 0;
    p->version = 0;
    p->fork = 0;
}

/* The file's parts in order; every return is TRIT_OK, an error or SRC_GGUF__NEED_MORE. */
static int parse(gp *g, int inherit_fork)
{
    gguf_part *p = g->p;
    int rc;
    if ((rc = parse_header(g))) return rc;
    if ((rc = parse_kvs(g))) return rc;
    if (p->arch_ar != SIZE_MAX) p->arch = p->arena + p->arch_ar;
    p->fork = inherit_fork >= 0 ? inherit_fork : src_gguf__is_fork_arch(p->arch);
    if ((rc = parse_tinfos(g))) return rc;
    /* Tensor names grew the arena, which may have moved: re-point keys and architecture. */
    for (uint64_t i = 0; i < p->n_kv; i++) p->kvs[i].key = p->arena + p->kvs[i].key_ar;
    if (p->arch_ar != SIZE_MAX) p->arch = p->arena + p->arch_ar;
    return validate_tensors(g);
}

int src_gguf__parse(gguf_part *p, const uint8_t *win, size_t win_len, int inherit_fork,
                    uint64_t *need, trit_err *err)
{
    gp g;
    src_gguf__part_reset(p);
    memset(&g, 0, sizeof g);
    trit_cur_init(&g.c, win, win_len, 0, p->path);
    g.file_size = p->file_size;
    g.need = need;
    g.file = p->path;
    g.err = err;
    g.p = p;
    p->win = win;
    int const rc = parse(&g, inherit_fork);
    /* every error here is about this file: it is named once, on the way out */
    if (rc != TRIT_OK && rc != SRC_GGUF__NEED_MORE) trit_err_file(err, p->path);
    return rc;
}
