/*
 * writer.c - the streaming, atomic, deterministic .trit writer.
 *
 * Declarations come first, so the exact index size (and therefore data_off) is known before
 * the first data byte is written; data then streams straight to its final place in a temp file
 * beside the target, and finish() writes the index and header at the front, fsyncs and renames.
 * Memory is bounded by the index and one output buffer, never by tensor data. Nothing depends
 * on time, addresses or the environment: the same calls give the same bytes.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>
#include <zstd.h>

#include "trit_cursor.h"
#include "trit_int.h"
#include "trit_limits.h"
#include "trit_safemath.h"
#include "trit_sys.h"

#define OUTBUF_SIZE (1u << 20)

enum { ST_DECLARE, ST_DATA, ST_OBJECT, ST_UNIT, ST_MEMBER, ST_DEAD };
enum { OBJ_TENSOR, OBJ_SECTION };

typedef struct w_section {
    char *name;
    trit_section_info info;
    int written;
} w_section;

typedef struct w_unit {
    trit_unit_info info;
    int written;
} w_unit;

typedef struct w_tensor {
    trit_tensor_info info;     /* info.name owned */
    int written;
} w_tensor;

struct trit_writer {
    char *path;
    trit_sys_atomic at;        /* the temp file beside path (trit_sys.h) */
    trit_write_opts o;
    int state;
    trit_kvbuf *kvb;           /* metadata, already in the on-disk KV encoding */
    const void *kv;            /* its bytes, fixed when data starts */
    uint64_t kv_len;
    uint32_t n_kv;
    w_section *sec;
    uint32_t n_sec, cap_sec;
    w_unit *unit;
    uint32_t n_unit, cap_unit;
    w_tensor *ten;
    uint32_t n_ten, cap_ten;
    uint64_t index_size, data_off;
    /* output */
    uint64_t pos;              /* file offset of the next byte */
    uint8_t *buf;
    size_t buf_len;
    /* current object */
    int obj_kind;
    uint32_t obj_idx;
    uint64_t obj_written;
    XXH3_state_t *xs;          /* current tensor/section bytes */
    XXH3_state_t *xu;          /* current unit's stored bytes */
    uint32_t cur_unit;
    uint64_t unit_pos;         /* decoded bytes fed into the current unit */
    uint64_t unit_stored;
    uint32_t next_member;      /* index into the unit's member order */
    ZSTD_CCtx *cctx;
    uint8_t *zout;
    size_t zout_cap;
};

static int werr(trit_writer *w, trit_err *err, int code, const char *where, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;
static int werr(trit_writer *w, trit_err *err, int code, const char *where, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    trit_err_set(err, code, TRIT_NO_OFFSET, where, "%s", msg);
    if (w) trit_err_file(err, w->path);
    return code;
}

#define USAGE(w, err, msg) werr(w, err, TRIT_E_USAGE, NULL, "%s", msg)

static int grow(void **p, uint32_t *cap, uint32_t n, size_t elem)
{
    if (n < *cap) return 0;
    uint32_t const nc = *cap ? *cap * 2 : 16;
    void *np = trit_mallocarray(nc, elem);
    if (!np) return -1;
    if (*p) memcpy(np, *p, (size_t)*cap * elem);
    free(*p);
    *p = np;
    *cap = nc;
    return 0;
}

/* ---- low-level output ---- */

static int flush_out(trit_writer *w, trit_err *err)
{
    if (trit_sys_write_full(w->at.fd, w->buf, w->buf_len) != 0)
        return werr(w, err, TRIT_E_IO, NULL, "write failed: %s", strerror(errno));
    w->buf_len = 0;
    return TRIT_OK;
}

static int out_bytes(trit_writer *w, const void *p, uint64_t n, trit_err *err)
{
    const uint8_t *s = p;
    if (n >= OUTBUF_SIZE) {   /* a large piece goes straight out, not through the buffer */
        int const rc = w->buf_len ? flush_out(w, err) : TRIT_OK;
        if (rc) return rc;
        if (trit_sys_write_full(w->at.fd, s, (size_t)n) != 0)
            return werr(w, err, TRIT_E_IO, NULL, "write failed: %s", strerror(errno));
        w->pos += n;
        return TRIT_OK;
    }
    while (n) {
        size_t const room = OUTBUF_SIZE - w->buf_len;
        size_t const k = n < room ? (size_t)n : room;
        memcpy(w->buf + w->buf_len, s, k);
        w->buf_len += k;
        s += k;
        n -= k;
        w->pos += k;
        if (w->buf_len == OUTBUF_SIZE) {
            int const rc = flush_out(w, err);
            if (rc) return rc;
        }
    }
    return TRIT_OK;
}

static int out_zeros(trit_writer *w, uint64_t n, trit_err *err)
{
    static const uint8_t zeros[4096];
    while (n) {
        uint64_t const k = n < sizeof zeros ? n : sizeof zeros;
        int const rc = out_bytes(w, zeros, k, err);
        if (rc) return rc;
        n -= k;
    }
    return TRIT_OK;
}

static int out_align(trit_writer *w, uint64_t align, trit_err *err)
{
    uint64_t target;
    if (trit_align_up(w->pos, align, &target)) return werr(w, err, TRIT_E_LIMIT, NULL, "%s", "file offset overflows");
    return out_zeros(w, target - w->pos, err);
}

/* ---- open / abort ---- */

int trit_writer_open(const char *path, const trit_write_opts *opts, trit_writer **out, trit_err *err)
{
    *out = NULL;
    trit_err_clear(err);
    trit_writer *w = calloc(1, sizeof *w);
    if (!w) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "cannot allocate writer");
    if (opts) w->o = *opts;
    trit_sys_atomic_init(&w->at, w->o.temp_path, w->o.temp_ctx);
    if (!w->o.page_align) w->o.page_align = 16384;
    if (!w->o.tensor_align) w->o.tensor_align = 64;
    if (!w->o.zstd_level) w->o.zstd_level = 3;
    int rc = TRIT_OK;
    w->path = strdup(path);
    w->buf = malloc(OUTBUF_SIZE);
    w->xs = XXH3_createState();
    w->xu = XXH3_createState();
    w->kvb = trit_kvbuf_new();
    if (!w->kvb || !w->path || !w->buf || !w->xs || !w->xu) {
        rc = trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "cannot allocate writer");
        goto fail;
    }
    if (!trit_is_pow2(w->o.page_align) || w->o.page_align < TRIT_MIN_PAGE_ALIGN ||
        w->o.page_align > TRIT_MAX_PAGE_ALIGN || !trit_is_pow2(w->o.tensor_align) ||
        w->o.tensor_align < TRIT_MIN_TENSOR_ALIGN || w->o.tensor_align > w->o.page_align) {
        rc = USAGE(w, err, "alignments must be powers of two with 32 <= tensor <= page, 4096 <= page <= 16 MiB");
        goto fail;
    }
    if (w->o.zstd_level < ZSTD_minCLevel() || w->o.zstd_level > ZSTD_maxCLevel()) {
        rc = USAGE(w, err, "zstd level out of range");
        goto fail;
    }
    struct stat st;
    if (!w->o.overwrite && stat(path, &st) == 0) {
        rc = werr(w, err, TRIT_E_EXISTS, NULL, "%s", "output exists (use --force to replace it)");
        goto fail;
    }
    int const step = trit_sys_atomic_open(&w->at, path, 0644);
    if (step == TRIT_SYS_TEMP) {
        rc = werr(w, err, errno == ENOMEM ? TRIT_E_NOMEM : TRIT_E_IO, NULL, "cannot create temp file: %s", strerror(errno));
        goto fail;
    }
    if (step == TRIT_SYS_CHMOD) {
        rc = werr(w, err, TRIT_E_IO, NULL, "cannot chmod temp file: %s", strerror(errno));
        goto fail;
    }
    *out = w;
    return TRIT_OK;
fail:
    trit_writer_abort(w);
    return rc;
}

const char *trit_writer_temp_path(const trit_writer *w) { return w ? w->at.tmp : NULL; }

void trit_writer_abort(trit_writer *w)
{
    if (!w) return;
    trit_sys_atomic_abort(&w->at);
    trit_kvbuf_free(w->kvb);
    for (uint32_t i = 0; i < w->n_sec; i++) free(w->sec[i].name);
    free(w->sec);
    free(w->unit);
    for (uint32_t i = 0; i < w->n_ten; i++) free((char *)(uintptr_t)w->ten[i].info.name);
    free(w->ten);
    free(w->buf);
    XXH3_freeState(w->xs);
    XXH3_freeState(w->xu);
    ZSTD_freeCCtx(w->cctx);
    free(w->zout);
    free(w->path);
    free(w);
}

/* ---- metadata ---- */

static int name_ok(trit_writer *w, const char *name, const char *what, trit_err *err)
{
    size_t const n = name ? strlen(name) : 0;
    if (n == 0 || n > TRIT_MAX_NAME_LEN) return werr(w, err, TRIT_E_LIMIT, name, "%s name must be 1..255 bytes", what);
    return TRIT_OK;
}

/* Metadata goes to the index's KV buffer; only before data, since it sizes the index. */
#define KV_WRAP(call)                                                                              \
    do {                                                                                           \
        if (w->state != ST_DECLARE) return USAGE(w, err, "metadata must be set before any data is written"); \
        int const rc_ = (call);                                                                    \
        if (rc_) trit_err_file(err, w->path);                                                      \
        return rc_;                                                                                \
    } while (0)

int trit_writer_kv_u32(trit_writer *w, const char *key, uint32_t v, trit_err *err) { KV_WRAP(trit_kvbuf_u32(w->kvb, key, v, err)); }
int trit_writer_kv_i32(trit_writer *w, const char *key, int32_t v, trit_err *err) { KV_WRAP(trit_kvbuf_i32(w->kvb, key, v, err)); }
int trit_writer_kv_u64(trit_writer *w, const char *key, uint64_t v, trit_err *err) { KV_WRAP(trit_kvbuf_u64(w->kvb, key, v, err)); }
int trit_writer_kv_f32(trit_writer *w, const char *key, float v, trit_err *err) { KV_WRAP(trit_kvbuf_f32(w->kvb, key, v, err)); }
int trit_writer_kv_f64(trit_writer *w, const char *key, double v, trit_err *err) { KV_WRAP(trit_kvbuf_f64(w->kvb, key, v, err)); }
int trit_writer_kv_bool(trit_writer *w, const char *key, int v, trit_err *err) { KV_WRAP(trit_kvbuf_bool(w->kvb, key, v, err)); }
int trit_writer_kv_str(trit_writer *w, const char *key, const char *s, uint64_t n, trit_err *err)
{
    KV_WRAP(trit_kvbuf_str(w->kvb, key, s, n, err));
}
int trit_writer_kv_arr(trit_writer *w, const char *key, uint32_t elem_type, const void *vals, uint64_t count,
                       trit_err *err)
{
    KV_WRAP(trit_kvbuf_arr(w->kvb, key, elem_type, vals, count, err));
}
int trit_writer_kv_arr_str(trit_writer *w, const char *key, const char *const *strs, const uint64_t *lens,
                           uint64_t count, trit_err *err)
{
    KV_WRAP(trit_kvbuf_arr_str(w->kvb, key, strs, lens, count, err));
}
int trit_writer_kv_import(trit_writer *w, const trit_kvbuf *b, trit_err *err)
{
    KV_WRAP(trit__kvbuf_append(w->kvb, b, err));
}

/* ---- declarations ---- */

int trit_writer_add_section(trit_writer *w, const char *name, uint32_t kind, uint32_t *id, trit_err *err)
{
    if (w->state != ST_DECLARE) return USAGE(w, err, "sections must be declared before any data is written");
    int rc = name_ok(w, name, "section", err);
    if (rc) return rc;
    if (w->n_sec >= TRIT_MAX_SECTIONS) return werr(w, err, TRIT_E_LIMIT, name, "%s", "too many sections");
    if (grow((void **)&w->sec, &w->cap_sec, w->n_sec, sizeof *w->sec)) goto nomem;
    w_section *s = &w->sec[w->n_sec];
    memset(s, 0, sizeof *s);
    s->name = strdup(name);
    if (!s->name) goto nomem;
    s->info.name = s->name;
    s->info.kind = kind;
    *id = w->n_sec++;
    return TRIT_OK;
nomem:
    return werr(w, err, TRIT_E_NOMEM, name, "%s", "cannot declare section");
}

int trit_writer_add_unit(trit_writer *w, uint32_t layer, uint32_t expert, uint32_t storage, uint32_t *id,
                         trit_err *err)
{
    if (w->state != ST_DECLARE) return USAGE(w, err, "units must be declared before any data is written");
    if (storage > TRIT_STORAGE_ZSTD) return USAGE(w, err, "unknown unit storage");
    if (w->n_unit >= TRIT_MAX_UNITS) return werr(w, err, TRIT_E_LIMIT, NULL, "%s", "too many expert units");
    if (grow((void **)&w->unit, &w->cap_unit, w->n_unit, sizeof *w->unit))
        return werr(w, err, TRIT_E_NOMEM, NULL, "%s", "cannot declare unit");
    w_unit *u = &w->unit[w->n_unit];
    memset(u, 0, sizeof *u);
    u->info.layer = layer;
    u->info.expert = expert;
    u->info.storage = storage;
    *id = w->n_unit++;
    return TRIT_OK;
}

int trit_writer_add_tensor(trit_writer *w, const trit_tensor_info *desc, uint32_t *id, trit_err *err)
{
    if (w->state != ST_DECLARE) return USAGE(w, err, "tensors must be declared before any data is written");
    int rc = name_ok(w, desc->name, "tensor", err);
    if (rc) return rc;
    if (w->n_ten >= TRIT_MAX_TENSORS) return werr(w, err, TRIT_E_LIMIT, desc->name, "%s", "too many tensors");
    trit_tensor_info t = *desc;
    if (trit_type_geometry(t.type, &t.block_elems, &t.block_bytes) != TRIT_OK &&
        (t.block_elems == 0 || t.block_bytes == 0))
        return werr(w, err, TRIT_E_USAGE, desc->name, "%s", "unknown type needs its block geometry");
    rc = trit_tensor_layout(&t, err);
    if (rc) { trit_err_file(err, w->path); return rc; }
    if (t.unit != TRIT_NONE32) {
        if (t.unit >= w->n_unit) return USAGE(w, err, "tensor names an undeclared unit");
        w_unit *u = &w->unit[t.unit];
        if (u->info.n_members >= TRIT_MAX_UNIT_MEMBERS)
            return werr(w, err, TRIT_E_LIMIT, desc->name, "%s", "too many tensors in one expert unit");
        t.layer = u->info.layer;
        t.expert = u->info.expert;
        t.storage = u->info.storage;
        uint64_t end;
        if (trit_align_up(u->info.decoded_size, w->o.tensor_align, &t.offset) ||
            trit_add_u64(t.offset, t.size, &end) || end > TRIT_MAX_UNIT_BYTES)
            return werr(w, err, TRIT_E_LIMIT, desc->name, "%s", "expert unit too large");
        u->info.decoded_size = end;
        u->info.n_members++;
    } else {
        t.expert = TRIT_NONE32;
        t.storage = TRIT_STORAGE_RAW;
        t.offset = 0;
    }
    t.xxh3 = 0;
    if (grow((void **)&w->ten, &w->cap_ten, w->n_ten, sizeof *w->ten)) goto nomem;
    t.name = strdup(desc->name);
    if (!t.name) goto nomem;
    w->ten[w->n_ten].info = t;
    w->ten[w->n_ten].written = 0;
    *id = w->n_ten++;
    return TRIT_OK;
nomem:
    return werr(w, err, TRIT_E_NOMEM, desc->name, "%s", "cannot declare tensor");
}

/* ---- switching from declarations to data ---- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_ukey(const void *a, const void *b)
{
    const trit__unit_key *x = a, *y = b;
    if (x->layer != y->layer) return x->layer < y->layer ? -1 : 1;
    return x->expert < y->expert ? -1 : x->expert > y->expert;
}

/* Names must be unique per kind: checked once, when declarations end. */
static int check_unique_names(trit_writer *w, trit_err *err)
{
    size_t const n = (size_t)w->n_ten + w->n_sec + 1;
    const char **v = trit_mallocarray(n, sizeof *v);
    trit__unit_key *uk = trit_mallocarray((size_t)w->n_unit + 1, sizeof *uk);
    int rc = TRIT_OK;
    if (!v || !uk) { rc = werr(w, err, TRIT_E_NOMEM, NULL, "%s", "cannot check names"); goto out; }
    struct { uint32_t n; const char *kind; } groups[2] = {{w->n_ten, "tensor"}, {w->n_sec, "section"}};
    for (int g = 0; g < 2 && rc == TRIT_OK; g++) {
        for (uint32_t i = 0; i < groups[g].n; i++) v[i] = g == 0 ? w->ten[i].info.name : w->sec[i].name;
        qsort(v, groups[g].n, sizeof *v, cmp_str);
        for (uint32_t i = 1; i < groups[g].n; i++)
            if (strcmp(v[i], v[i - 1]) == 0) {
                rc = werr(w, err, TRIT_E_USAGE, v[i], "duplicate %s name", groups[g].kind);
                break;
            }
    }
    for (uint32_t u = 0; rc == TRIT_OK && u < w->n_unit; u++) {
        uk[u] = (trit__unit_key){w->unit[u].info.layer, w->unit[u].info.expert, u};
        if (w->unit[u].info.n_members == 0) rc = USAGE(w, err, "an expert unit has no member tensors");
    }
    if (rc == TRIT_OK) qsort(uk, w->n_unit, sizeof *uk, cmp_ukey);
    for (uint32_t u = 1; rc == TRIT_OK && u < w->n_unit; u++)
        if (uk[u].layer == uk[u - 1].layer && uk[u].expert == uk[u - 1].expert)
            rc = USAGE(w, err, "two expert units have the same layer and expert");
out:
    free(v);
    free(uk);
    return rc;
}

static uint64_t index_bytes(const trit_writer *w)
{
    uint64_t n = w->kv_len;
    for (uint32_t i = 0; i < w->n_sec; i++) n += 2 + strlen(w->sec[i].name) + TRIT__SECTION_FIXED;
    n += (uint64_t)w->n_unit * TRIT__UNIT_REC_SIZE;
    for (uint32_t i = 0; i < w->n_ten; i++)
        n += 2 + strlen(w->ten[i].info.name) + TRIT__TENSOR_FIXED + 8ull * w->ten[i].info.n_dims;
    return n;
}

static int begin_data(trit_writer *w, trit_err *err)
{
    if (w->state == ST_DEAD) return USAGE(w, err, "writer failed earlier");
    if (w->state != ST_DECLARE) return TRIT_OK;
    int rc = check_unique_names(w, err);
    if (rc) return rc;
    if ((rc = trit_kvbuf_data(w->kvb, &w->kv, &w->kv_len, err))) { trit_err_file(err, w->path); return rc; }
    w->n_kv = trit_kvbuf_count(w->kvb);
    if (w->kv_len > TRIT_MAX_META_BYTES) return werr(w, err, TRIT_E_LIMIT, NULL, "%s", "metadata too large");
    w->index_size = index_bytes(w);
    if (w->index_size > TRIT_MAX_INDEX_BYTES) return werr(w, err, TRIT_E_LIMIT, NULL, "%s", "index too large");
    if (trit_align_up(TRIT__HEADER_SIZE + w->index_size, w->o.page_align, &w->data_off))
        return werr(w, err, TRIT_E_LIMIT, NULL, "%s", "index too large");
    if (lseek(w->at.fd, (off_t)w->data_off, SEEK_SET) < 0)
        return werr(w, err, TRIT_E_IO, NULL, "seek failed: %s", strerror(errno));
    w->pos = w->data_off;
    w->state = ST_DATA;
    return TRIT_OK;
}

/* ---- data ---- */

static int unit_feed(trit_writer *w, const void *p, uint64_t n, trit_err *err);

int trit_writer_tensor_begin(trit_writer *w, uint32_t tensor, trit_err *err)
{
    int rc = begin_data(w, err);
    if (rc) return rc;
    if (tensor >= w->n_ten) return USAGE(w, err, "no such tensor");
    w_tensor *t = &w->ten[tensor];
    if (t->written) return werr(w, err, TRIT_E_USAGE, t->info.name, "%s", "tensor written twice");
    if (t->info.unit == TRIT_NONE32) {
        if (w->state != ST_DATA) return USAGE(w, err, "another object is still open");
        if ((rc = out_align(w, w->o.tensor_align, err))) return rc;
        t->info.offset = w->pos;
        w->state = ST_OBJECT;
    } else {
        if (w->state != ST_UNIT || t->info.unit != w->cur_unit)
            return werr(w, err, TRIT_E_USAGE, t->info.name, "%s", "member tensor outside its unit_begin/unit_end");
        /* members go in declaration order: that is the order of their offsets */
        uint32_t k = 0;
        for (uint32_t i = 0; i < tensor; i++) k += w->ten[i].info.unit == w->cur_unit;
        if (k != w->next_member)
            return werr(w, err, TRIT_E_USAGE, t->info.name, "%s", "unit members must be written in declaration order");
        w->state = ST_MEMBER;
    }
    w->obj_kind = OBJ_TENSOR;
    w->obj_idx = tensor;
    w->obj_written = 0;
    XXH3_64bits_reset(w->xs);
    if (w->state == ST_MEMBER && w->unit_pos < t->info.offset) {
        /* zero padding between members, as decoded unit bytes (not member bytes) */
        static const uint8_t zeros[256];
        uint64_t pad = t->info.offset - w->unit_pos; /* < tensor_align */
        while (pad) {
            uint64_t const k = pad < sizeof zeros ? pad : sizeof zeros;
            if ((rc = unit_feed(w, zeros, k, err))) { w->state = ST_DEAD; return rc; }
            pad -= k;
        }
    }
    return TRIT_OK;
}

int trit_writer_section_begin(trit_writer *w, uint32_t section, trit_err *err)
{
    int rc = begin_data(w, err);
    if (rc) return rc;
    if (section >= w->n_sec) return USAGE(w, err, "no such section");
    if (w->state != ST_DATA) return USAGE(w, err, "another object is still open");
    w_section *s = &w->sec[section];
    if (s->written) return werr(w, err, TRIT_E_USAGE, s->name, "%s", "section written twice");
    if ((rc = out_align(w, w->o.tensor_align, err))) return rc;
    s->info.offset = w->pos;
    w->obj_kind = OBJ_SECTION;
    w->obj_idx = section;
    w->obj_written = 0;
    XXH3_64bits_reset(w->xs);
    w->state = ST_OBJECT;
    return TRIT_OK;
}

/* Feed decoded unit bytes: raw units write them, zstd units compress them. */
static int unit_feed(trit_writer *w, const void *p, uint64_t n, trit_err *err)
{
    w_unit *u = &w->unit[w->cur_unit];
    w->unit_pos += n;
    if (u->info.storage == TRIT_STORAGE_RAW) {
        XXH3_64bits_update(w->xu, p, (size_t)n);
        w->unit_stored += n;
        return out_bytes(w, p, n, err);
    }
    ZSTD_inBuffer in = {p, (size_t)n, 0};
    while (in.pos < in.size) {
        ZSTD_outBuffer o = {w->zout, w->zout_cap, 0};
        size_t const r = ZSTD_compressStream2(w->cctx, &o, &in, ZSTD_e_continue);
        if (ZSTD_isError(r)) return werr(w, err, TRIT_E_IO, NULL, "zstd: %s", ZSTD_getErrorName(r));
        XXH3_64bits_update(w->xu, w->zout, o.pos);
        w->unit_stored += o.pos;
        int const rc = out_bytes(w, w->zout, o.pos, err);
        if (rc) return rc;
    }
    return TRIT_OK;
}

int trit_writer_append(trit_writer *w, const void *p, uint64_t n, trit_err *err)
{
    if (w->state != ST_OBJECT && w->state != ST_MEMBER) return USAGE(w, err, "append outside an open object");
    uint64_t const declared = w->obj_kind == OBJ_TENSOR ? w->ten[w->obj_idx].info.size : UINT64_MAX;
    if (n > declared - w->obj_written) {
        w->state = ST_DEAD;
        return werr(w, err, TRIT_E_USAGE, w->ten[w->obj_idx].info.name, "%s", "more bytes than the tensor's declared size");
    }
    XXH3_64bits_update(w->xs, p, (size_t)n);
    w->obj_written += n;
    int const rc = w->state == ST_MEMBER ? unit_feed(w, p, n, err) : out_bytes(w, p, n, err);
    if (rc) w->state = ST_DEAD;
    return rc;
}

int trit_writer_end(trit_writer *w, trit_err *err)
{
    if (w->state != ST_OBJECT && w->state != ST_MEMBER) return USAGE(w, err, "end without an open object");
    if (w->obj_kind == OBJ_SECTION) {
        w_section *s = &w->sec[w->obj_idx];
        s->info.size = w->obj_written;
        s->info.xxh3 = XXH3_64bits_digest(w->xs);
        s->written = 1;
        w->state = ST_DATA;
        return TRIT_OK;
    }
    w_tensor *t = &w->ten[w->obj_idx];
    if (w->obj_written != t->info.size) {
        w->state = ST_DEAD;
        return werr(w, err, TRIT_E_USAGE, t->info.name, "%s", "fewer bytes than the tensor's declared size");
    }
    t->info.xxh3 = XXH3_64bits_digest(w->xs);
    t->written = 1;
    if (w->state == ST_MEMBER) {
        w->next_member++;
        w->state = ST_UNIT;
    } else {
        w->state = ST_DATA;
    }
    return TRIT_OK;
}

int trit_writer_unit_begin(trit_writer *w, uint32_t unit, trit_err *err)
{
    int rc = begin_data(w, err);
    if (rc) return rc;
    if (unit >= w->n_unit) return USAGE(w, err, "no such unit");
    if (w->state != ST_DATA) return USAGE(w, err, "another object is still open");
    w_unit *u = &w->unit[unit];
    if (u->written) return USAGE(w, err, "unit written twice");
    if ((rc = out_align(w, w->o.page_align, err))) return rc;
    u->info.offset = w->pos;
    if (u->info.storage == TRIT_STORAGE_ZSTD) {
        if (!w->cctx) {
            w->cctx = ZSTD_createCCtx();
            w->zout_cap = ZSTD_CStreamOutSize();
            w->zout = malloc(w->zout_cap);
            if (!w->cctx || !w->zout) return werr(w, err, TRIT_E_NOMEM, NULL, "%s", "cannot allocate zstd context");
        }
        ZSTD_CCtx_reset(w->cctx, ZSTD_reset_session_and_parameters);
        ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, w->o.zstd_level);
        ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_checksumFlag, 0);  /* xxh3 in the index covers it */
        ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_contentSizeFlag, 1);
        ZSTD_CCtx_setPledgedSrcSize(w->cctx, u->info.decoded_size);
    }
    XXH3_64bits_reset(w->xu);
    w->cur_unit = unit;
    w->unit_pos = 0;
    w->unit_stored = 0;
    w->next_member = 0;
    w->state = ST_UNIT;
    return TRIT_OK;
}

int trit_writer_unit_end(trit_writer *w, trit_err *err)
{
    if (w->state != ST_UNIT) return USAGE(w, err, "unit_end without unit_begin");
    w_unit *u = &w->unit[w->cur_unit];
    if (w->next_member != u->info.n_members) return USAGE(w, err, "unit_end before every member was written");
    if (u->info.storage == TRIT_STORAGE_ZSTD) {
        ZSTD_inBuffer in = {NULL, 0, 0};
        size_t left;
        do {
            ZSTD_outBuffer o = {w->zout, w->zout_cap, 0};
            left = ZSTD_compressStream2(w->cctx, &o, &in, ZSTD_e_end);
            if (ZSTD_isError(left)) return werr(w, err, TRIT_E_IO, NULL, "zstd: %s", ZSTD_getErrorName(left));
            XXH3_64bits_update(w->xu, w->zout, o.pos);
            w->unit_stored += o.pos;
            int const rc = out_bytes(w, w->zout, o.pos, err);
            if (rc) return rc;
        } while (left);
    }
    u->info.stored_size = w->unit_stored;
    u->info.xxh3 = XXH3_64bits_digest(w->xu);
    u->written = 1;
    w->state = ST_DATA;
    return TRIT_OK;
}

int trit_writer_write_tensor(trit_writer *w, uint32_t tensor, const void *p, uint64_t n, trit_err *err)
{
    int rc = trit_writer_tensor_begin(w, tensor, err);
    if (rc == TRIT_OK) rc = trit_writer_append(w, p, n, err);
    if (rc == TRIT_OK) rc = trit_writer_end(w, err);
    return rc;
}

int trit_writer_write_section(trit_writer *w, uint32_t section, const void *p, uint64_t n, trit_err *err)
{
    int rc = trit_writer_section_begin(w, section, err);
    if (rc == TRIT_OK) rc = trit_writer_append(w, p, n, err);
    if (rc == TRIT_OK) rc = trit_writer_end(w, err);
    return rc;
}

/* ---- units prepared elsewhere ---- */

const trit_tensor_info *trit_writer_tensor(const trit_writer *w, uint32_t id)
{
    return w && id < w->n_ten ? &w->ten[id].info : NULL;
}

struct trit_unit_packer {
    int level;
    ZSTD_CCtx *cctx;
    uint8_t *out;
    size_t cap;
};

int trit_unit_packer_new(int zstd_level, trit_unit_packer **out, trit_err *err)
{
    *out = NULL;
    trit_unit_packer *pk = calloc(1, sizeof *pk);
    if (!pk) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "cannot allocate a unit packer");
    pk->level = zstd_level ? zstd_level : 3;
    if (pk->level < ZSTD_minCLevel() || pk->level > ZSTD_maxCLevel()) {
        free(pk);
        return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL, "zstd level out of range");
    }
    *out = pk;
    return TRIT_OK;
}

void trit_unit_packer_free(trit_unit_packer *pk)
{
    if (!pk) return;
    ZSTD_freeCCtx(pk->cctx);
    free(pk->out);
    free(pk);
}

int trit_unit_pack(trit_unit_packer *pk, uint32_t storage, const void *dec, uint64_t n, const void **stored,
                   uint64_t *stored_n, uint64_t *stored_xxh3, trit_err *err)
{
    if (storage == TRIT_STORAGE_RAW) {
        *stored = dec;
        *stored_n = n;
        *stored_xxh3 = XXH3_64bits(dec, (size_t)n);
        return TRIT_OK;
    }
    if (storage != TRIT_STORAGE_ZSTD || n > TRIT_MAX_UNIT_BYTES)
        return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL, "unit storage unknown or unit too large");
    size_t const bound = ZSTD_compressBound((size_t)n);
    if (bound > pk->cap) {
        free(pk->out);
        pk->cap = 0;
        if (!(pk->out = malloc(bound))) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
        pk->cap = bound;
    }
    if (!pk->cctx && !(pk->cctx = ZSTD_createCCtx()))
        return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "cannot allocate zstd context");
    /* the parameters and the streaming calls of unit_begin/unit_feed/unit_end: zstd's streamed
     * frame does not depend on how the input is cut, but differs from its one-shot frame */
    ZSTD_CCtx_reset(pk->cctx, ZSTD_reset_session_and_parameters);
    ZSTD_CCtx_setParameter(pk->cctx, ZSTD_c_compressionLevel, pk->level);
    ZSTD_CCtx_setParameter(pk->cctx, ZSTD_c_checksumFlag, 0);
    ZSTD_CCtx_setParameter(pk->cctx, ZSTD_c_contentSizeFlag, 1);
    ZSTD_CCtx_setPledgedSrcSize(pk->cctx, n);
    ZSTD_outBuffer o = {pk->out, pk->cap, 0};
    ZSTD_inBuffer in = {dec, (size_t)n, 0};
    while (in.pos < in.size) {
        size_t const r = ZSTD_compressStream2(pk->cctx, &o, &in, ZSTD_e_continue);
        if (ZSTD_isError(r)) return trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, NULL, "zstd: %s", ZSTD_getErrorName(r));
    }
    ZSTD_inBuffer none = {NULL, 0, 0};
    size_t left;
    do {
        left = ZSTD_compressStream2(pk->cctx, &o, &none, ZSTD_e_end);
        if (ZSTD_isError(left)) return trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, NULL, "zstd: %s", ZSTD_getErrorName(left));
    } while (left && o.pos < o.size);
    if (left) return trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, NULL, "zstd: frame larger than its bound");
    *stored = pk->out;
    *stored_n = o.pos;
    *stored_xxh3 = XXH3_64bits(pk->out, o.pos);
    return TRIT_OK;
}

int trit_writer_unit_put(trit_writer *w, uint32_t unit, const void *stored, uint64_t stored_n, uint64_t stored_xxh3,
                         const uint64_t *member_xxh3, uint32_t n_members, trit_err *err)
{
    int rc = begin_data(w, err);
    if (rc) return rc;
    if (unit >= w->n_unit) return USAGE(w, err, "no such unit");
    if (w->state != ST_DATA) return USAGE(w, err, "another object is still open");
    w_unit *u = &w->unit[unit];
    if (u->written) return USAGE(w, err, "unit written twice");
    if (n_members != u->info.n_members) return USAGE(w, err, "member checksums do not match the unit's member count");
    if (u->info.storage == TRIT_STORAGE_ZSTD) {
        unsigned long long const cs = ZSTD_getFrameContentSize(stored, (size_t)stored_n);
        if (cs != u->info.decoded_size) return USAGE(w, err, "packed unit's decoded size differs from its declaration");
    } else if (stored_n != u->info.decoded_size) {
        return USAGE(w, err, "raw unit's size differs from its declaration");
    }
    if ((rc = out_align(w, w->o.page_align, err))) return rc;
    u->info.offset = w->pos;
    if ((rc = out_bytes(w, stored, stored_n, err))) { w->state = ST_DEAD; return rc; }
    u->info.stored_size = stored_n;
    u->info.xxh3 = stored_xxh3;
    u->written = 1;
    uint32_t k = 0;
    for (uint32_t i = 0; i < w->n_ten; i++)
        if (w->ten[i].info.unit == unit) {
            w->ten[i].info.xxh3 = member_xxh3[k++];
            w->ten[i].written = 1;
        }
    return TRIT_OK;
}

/* ---- finish ---- */

static void put_name(uint8_t **q, const char *name)
{
    uint16_t const n = (uint16_t)strlen(name);
    trit_store_le16(*q, n);
    memcpy(*q + 2, name, n);
    *q += 2 + n;
}

static void build_index(const trit_writer *w, uint8_t *idx)
{
    uint8_t *q = idx;
    if (w->kv_len) memcpy(q, w->kv, w->kv_len);
    q += w->kv_len;
    for (uint32_t i = 0; i < w->n_sec; i++) {
        trit_section_info const *s = &w->sec[i].info;
        put_name(&q, s->name);
        trit_store_le32(q, s->kind);
        trit_store_le32(q + 4, 0);
        trit_store_le64(q + 8, s->offset);
        trit_store_le64(q + 16, s->size);
        trit_store_le64(q + 24, s->xxh3);
        q += TRIT__SECTION_FIXED;
    }
    for (uint32_t i = 0; i < w->n_unit; i++) {
        trit_unit_info const *u = &w->unit[i].info;
        memset(q, 0, TRIT__UNIT_REC_SIZE);
        trit_store_le32(q, u->layer);
        trit_store_le32(q + 4, u->expert);
        q[8] = (uint8_t)u->storage;
        trit_store_le32(q + 12, u->n_members);
        trit_store_le64(q + 16, u->offset);
        trit_store_le64(q + 24, u->stored_size);
        trit_store_le64(q + 32, u->decoded_size);
        trit_store_le64(q + 40, u->xxh3);
        q += TRIT__UNIT_REC_SIZE;
    }
    for (uint32_t i = 0; i < w->n_ten; i++) {
        trit_tensor_info const *t = &w->ten[i].info;
        put_name(&q, t->name);
        trit_store_le32(q + TRIT__T_TYPE, t->type);
        trit_store_le32(q + TRIT__T_BELEMS, t->block_elems);
        trit_store_le32(q + TRIT__T_BBYTES, t->block_bytes);
        q[TRIT__T_NDIMS] = (uint8_t)t->n_dims;
        q[TRIT__T_SLAYOUT] = (uint8_t)t->scale_layout;
        q[TRIT__T_STYPE] = (uint8_t)t->scale_type;
        q[TRIT__T_STORAGE] = (uint8_t)t->storage;
        trit_store_le32(q + TRIT__T_GROUP, t->group_size);
        trit_store_le32(q + TRIT__T_LAYER, t->layer);
        trit_store_le32(q + TRIT__T_EXPERT, t->expert);
        trit_store_le32(q + TRIT__T_UNIT, t->unit);
        trit_store_le64(q + TRIT__T_OFFSET, t->offset);
        trit_store_le64(q + TRIT__T_SIZE, t->size);
        trit_store_le64(q + TRIT__T_SUM, t->xxh3);
        for (uint32_t d = 0; d < t->n_dims; d++) trit_store_le64(q + TRIT__T_DIMS + 8 * d, t->dims[d]);
        q += TRIT__T_DIMS + 8ull * t->n_dims;
    }
}

static int pwrite_all(trit_writer *w, const void *p, size_t n, uint64_t off, trit_err *err)
{
    const uint8_t *s = p;
    while (n) {
        ssize_t const k = pwrite(w->at.fd, s, n, (off_t)off);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return werr(w, err, TRIT_E_IO, NULL, "write failed: %s", strerror(errno));
        s += k;
        n -= (size_t)k;
        off += (uint64_t)k;
    }
    return TRIT_OK;
}

int trit_writer_finish(trit_writer *w, trit_err *err)
{
    int rc = begin_data(w, err);
    uint8_t *front = NULL;
    if (rc) goto out;
    if (w->state != ST_DATA) { rc = USAGE(w, err, "finish with an object still open"); goto out; }
    for (uint32_t i = 0; i < w->n_ten; i++)
        if (!w->ten[i].written) { rc = werr(w, err, TRIT_E_USAGE, w->ten[i].info.name, "%s", "tensor declared but never written"); goto out; }
    for (uint32_t i = 0; i < w->n_sec; i++)
        if (!w->sec[i].written) { rc = werr(w, err, TRIT_E_USAGE, w->sec[i].name, "%s", "section declared but never written"); goto out; }
    for (uint32_t i = 0; i < w->n_unit; i++)
        if (!w->unit[i].written) { rc = USAGE(w, err, "expert unit declared but never written"); goto out; }
    if ((rc = flush_out(w, err))) goto out;

    /* Front of the file: header, index, zero padding up to data_off. */
    size_t const front_len = (size_t)w->data_off;
    front = calloc(1, front_len);
    if (!front) { rc = werr(w, err, TRIT_E_NOMEM, NULL, "%s", "cannot allocate the index"); goto out; }
    build_index(w, front + TRIT__HEADER_SIZE);
    uint64_t req = 0, opt = 0;
    for (uint32_t i = 0; i < w->n_unit; i++)
        if (w->unit[i].info.storage == TRIT_STORAGE_ZSTD) req |= TRIT_FEAT_REQ_ZSTD;
    for (uint32_t i = 0; i < w->n_sec; i++)
        if (w->sec[i].info.kind == TRIT_SECTION_ACT_SCALES) opt |= TRIT_FEAT_OPT_ACT_SCALES;
    uint8_t *h = front;
    memcpy(h, TRIT__MAGIC, TRIT__MAGIC_LEN);
    trit_store_le16(h + TRIT__H_MAJOR, TRIT_FORMAT_MAJOR);
    /* 1.1 only when the file needs it (a 1.1 element type), so 1.0 files keep their bytes */
    unsigned minor = 0;
    for (uint32_t i = 0; i < w->n_ten && !minor; i++) minor = w->ten[i].info.type > TRIT_TYPE_U8;   /* block types, b3 */
    trit_store_le16(h + TRIT__H_MINOR, (uint16_t)minor);
    trit_store_le32(h + TRIT__H_HSIZE, TRIT__HEADER_SIZE);
    trit_store_le64(h + TRIT__H_REQ, req);
    trit_store_le64(h + TRIT__H_OPT, opt);
    trit_store_le64(h + TRIT__H_FSIZE, w->pos);
    trit_store_le64(h + TRIT__H_IOFF, TRIT__HEADER_SIZE);
    trit_store_le64(h + TRIT__H_ISIZE, w->index_size);
    trit_store_le64(h + TRIT__H_ISUM, trit_xxh3(front + TRIT__HEADER_SIZE, (size_t)w->index_size));
    trit_store_le64(h + TRIT__H_DOFF, w->data_off);
    trit_store_le32(h + TRIT__H_PALIGN, w->o.page_align);
    trit_store_le32(h + TRIT__H_TALIGN, w->o.tensor_align);
    trit_store_le32(h + TRIT__H_NKV, w->n_kv);
    trit_store_le32(h + TRIT__H_NSEC, w->n_sec);
    trit_store_le32(h + TRIT__H_NUNIT, w->n_unit);
    trit_store_le32(h + TRIT__H_NTEN, w->n_ten);
    trit_store_le64(h + TRIT__HEADER_SUM_OFF, trit_xxh3(h, TRIT__HEADER_SUM_OFF));
    if ((rc = pwrite_all(w, front, front_len, 0, err))) goto out;
    if (ftruncate(w->at.fd, (off_t)w->pos) != 0) { rc = werr(w, err, TRIT_E_IO, NULL, "truncate failed: %s", strerror(errno)); goto out; }
    switch (trit_sys_atomic_commit(&w->at, w->path, w->o.overwrite)) {
    case TRIT_SYS_OK: break;
    case TRIT_SYS_SYNC: rc = werr(w, err, TRIT_E_IO, NULL, "fsync failed: %s", strerror(errno)); goto out;
    case TRIT_SYS_CLOSE: rc = werr(w, err, TRIT_E_IO, NULL, "close failed: %s", strerror(errno)); goto out;
    case TRIT_SYS_PUBLISH:
        if (w->o.overwrite) rc = werr(w, err, TRIT_E_IO, NULL, "rename failed: %s", strerror(errno));
        else if (errno == EEXIST) rc = werr(w, err, TRIT_E_EXISTS, NULL, "%s", "output exists (use --force to replace it)");
        else rc = werr(w, err, TRIT_E_IO, NULL, "cannot create output: %s", strerror(errno));
        goto out;
    default:   /* the output is in place; its directory entry may not be durable */
        rc = werr(w, err, errno == ENOMEM ? TRIT_E_NOMEM : TRIT_E_IO, NULL, "cannot fsync directory: %s", strerror(errno));
        goto out;
    }
out:
    free(front);
    trit_writer_abort(w);
    return rc;
}
