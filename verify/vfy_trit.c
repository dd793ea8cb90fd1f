/* vfy_trit.c - `trit verify` for .trit containers: object by object, never stopping at the
 * first failure once the index is readable.
 *
 * Order: (1) the raw header, peeked through libtrit (trit_header_peek), for the runtime-compatibility verdict
 * (it must be given even when this build's libtrit refuses the file, e.g. a future major);
 * (2) libtrit's open-time validation (structure, bounds, header and index checksums): if the
 * index cannot be trusted nothing else can be located, so a failure here is the one finding;
 * (3) every object of the data area in file order - dense tensors, expert units (decoded,
 * sized, member checksums), sections - with the zero padding between them, and the value
 * invariants of every tensor whose bytes are intact; (4) metadata against tensors; (5) the
 * smoke run. libtrit's own trit_reader_verify() does (3)'s integrity part but stops at the
 * first failure, so the walk is done here through the public reader API. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "trit_cursor.h"
#include "trit_safemath.h"
#include "trit_sys.h"
#include "src.h"
#include "vfy_int.h"
#include "vfy_trit_int.h"


static int class_of(int code)
{
    switch (code) {
    case TRIT_E_IO: case TRIT_E_NOTFOUND: return VFY_C_IO;
    case TRIT_E_NOMEM: return VFY_C_INTERNAL;
    case TRIT_E_LIMIT: return VFY_C_LIMIT;
    case TRIT_E_UNSUPPORTED: return VFY_C_COMPAT;
    default: return VFY_C_INTEGRITY;
    }
}

/* ---- (3) the data area ------------------------------------------------------------------- */

typedef struct obj {
    uint64_t start, end;
    int kind;                  /* 't' dense tensor, 'u' unit, 's' section */
    uint32_t idx;
} obj;

static int cmp_obj(const void *a, const void *b)
{
    obj const *x = a, *y = b;
    if (x->start != y->start) return x->start < y->start ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* Bytes [from, to) of buf must be zero: one finding for the region, at its first bad byte. */
static void check_gap(vfy__tctx *c, const uint8_t *base, uint64_t base_off, uint64_t from, uint64_t to,
                      const char *what)
{
    uint64_t const nz = to > from ? trit_find_nonzero_byte(base + from, to - from) : 0;
    for (uint64_t k = from + nz; k < to; k++)
        if (base[k]) {
            char obj_name[96];
            snprintf(obj_name, sizeof obj_name, "%s [0x%llx, 0x%llx)", what, (unsigned long long)(base_off + from),
                     (unsigned long long)(base_off + to));
            vfy_report_add(c->rep, VFY_C_INTEGRITY, 0, base_off + k, obj_name, "padding byte is 0x%02x, must be 0",
                           base[k]);
            return;
        }
}

/* Checksum and values of one tensor's bytes p (dense: in the mapping; member: in its decoded
 * unit). off is the file offset for messages. */
void vfy__tensor_bytes(vfy__tctx *c, uint32_t i, const uint8_t *p, uint64_t off, int dense)
{
    trit_tensor_info const *t = trit_reader_tensor(c->r, i);
    char obj_name[224];
    vfy__obj_tensor(obj_name, sizeof obj_name, t->name);
    c->rep->n_tensors++;
    c->rep->bytes_hashed += t->size;
    uint64_t const sum = trit_xxh3(p, (size_t)t->size);
    if (sum != t->xxh3) {
        /* bytes that fail their checksum say nothing about the values: skip value checks */
        vfy_report_add(c->rep, VFY_C_INTEGRITY, 0, off, obj_name, "checksum %016llx, computed %016llx",
                       (unsigned long long)t->xxh3, (unsigned long long)sum);
        return;
    }
    vfy__compat_tensor(c->rep, c->rt, t, obj_name);
    vfy__trit_values(c->rep, t, p, off, dense, obj_name, vfy__is_projection(c->model.t[i].canon));
}

static void check_section(vfy__tctx *c, uint32_t s)
{
    trit_section_info const *si = trit_reader_section(c->r, s);
    char obj_name[300];
    snprintf(obj_name, sizeof obj_name, "section '%s'", si->name);
    c->rep->n_sections++;
    c->rep->bytes_hashed += si->size;
    const void *d;
    uint64_t n;
    trit_err e;
    trit_err_clear(&e);
    int const rc = trit_reader_section_data(c->r, s, &d, &n, &e);
    if (rc != TRIT_OK) {
        vfy_report_add(c->rep, class_of(rc), 0, e.offset, obj_name, "%s", e.msg);
        return;
    }
    vfy__section_content(c, si, d, n, obj_name);
}

/* ---- (3) the data area, on all threads ---------------------------------------------------
 *
 * Every object (with the padding before it) is one job with its own report; jobs run on a
 * pool of threads and their reports are merged in file order afterwards, so the findings,
 * their order and every count are the same at any thread count. Object bytes are read with
 * pread into a piece buffer per thread (VFY_PIECE) and streamed through xxh3 and the value
 * checks: pread of page-cache bytes is cheaper than touching a fresh mapping, and a file cut
 * short is an I/O finding instead of SIGBUS. Memory per thread: one piece, plus the largest
 * stored unit and the largest unit member held for its checks (vfy_unit.c). */
#define VFY_PIECE (4u << 20)
#define VFY_MAX_THREADS 64u

typedef struct vjob {
    obj o;                     /* kind 0: only the trailing padding */
    uint64_t gap_from;         /* padding [gap_from, o.start) (or to the file's end) checked first */
    vfy_report rep;
} vjob;

typedef struct vpool {
    const vfy__tctx *c;
    vjob *jobs;
    uint64_t n_jobs, next;
    pthread_mutex_t mu;
    int fd;                    /* the file, or -1: bytes come from c->buf */
} vpool;

typedef struct vworker {
    vpool *pool;
    uint8_t *piece;            /* VFY_PIECE bytes (fd >= 0) */
    uint8_t *ubuf;             /* a unit's stored bytes (fd >= 0) */
    uint64_t ubuf_cap;
    XXH3_state_t *xs;
} vworker;

/* Bytes [off, off + n) of the file: a pointer into the caller's buffer, or read into dst. NULL
 * after a read error, reported against `object`. */
static const uint8_t *file_bytes(vfy__tctx *c, int fd, uint8_t *dst, uint64_t off, size_t n, const char *object)
{
    if (fd < 0) return c->buf + off;
    errno = 0;
    if (trit_sys_pread_full(fd, dst, n, off) == (int64_t)n) return dst;
    vfy_report_add(c->rep, VFY_C_IO, 0, off, object, "cannot read %zu bytes: %s", n,
                   errno ? strerror(errno) : "the file ends early (it changed while being verified)");
    return NULL;
}

static void dense_tensor(vfy__tctx *c, vworker *w, uint32_t i)
{
    trit_tensor_info const *t = trit_reader_tensor(c->r, i);
    char obj_name[224];
    vfy__obj_tensor(obj_name, sizeof obj_name, t->name);
    c->rep->n_tensors++;
    c->rep->bytes_hashed += t->size;
    vfy__vals v;
    vfy__vals_init(&v, t);
    XXH3_64bits_reset(w->xs);
    for (uint64_t done = 0; done < t->size;) {
        size_t const k = t->size - done < VFY_PIECE ? (size_t)(t->size - done) : VFY_PIECE;
        const uint8_t *p = file_bytes(c, w->pool->fd, w->piece, t->offset + done, k, obj_name);
        if (!p) return;
        XXH3_64bits_update(w->xs, p, k);
        vfy__vals_feed(&v, p, k);
        done += k;
    }
    uint64_t const sum = XXH3_64bits_digest(w->xs);
    if (sum != t->xxh3) {
        /* bytes that fail their checksum say nothing about the values: skip value checks */
        vfy_report_add(c->rep, VFY_C_INTEGRITY, 0, t->offset, obj_name, "checksum %016llx, computed %016llx",
                       (unsigned long long)t->xxh3, (unsigned long long)sum);
        return;
    }
    vfy__compat_tensor(c->rep, c->rt, t, obj_name);
    vfy__vals_report(&v, c->rep, t->offset, 1, obj_name, vfy__is_projection(c->model.t[i].canon));
}

static void unit_job(vfy__tctx *c, vworker *w, uint32_t u)
{
    trit_unit_info const *un = trit_reader_unit(c->r, u);
    const uint8_t *stored = c->buf + un->offset;
    if (w->pool->fd >= 0) {
        if (un->stored_size > w->ubuf_cap) {
            uint8_t *nb = malloc(un->stored_size ? (size_t)un->stored_size : 1);
            if (!nb) {
                vfy_report_add(c->rep, VFY_C_INTERNAL, 0, un->offset, "file", "out of memory for a %llu-byte unit",
                               (unsigned long long)un->stored_size);
                return;
            }
            free(w->ubuf);
            w->ubuf = nb;
            w->ubuf_cap = un->stored_size;
        }
        char object[96];
        snprintf(object, sizeof object, "expert unit %u (layer %u expert %u)", u, un->layer, un->expert);
        if (!(stored = file_bytes(c, w->pool->fd, w->ubuf, un->offset, (size_t)un->stored_size, object))) return;
    }
    vfy__check_unit(c, u, stored);
}

static void run_job(vpool *pl, vworker *w, vjob *j)
{
    vfy__tctx c = *pl->c;      /* shallow: only rep differs */
    c.rep = &j->rep;
    uint64_t const end = j->o.kind ? j->o.start : trit_reader_file_info(c.r)->file_size;
    if (end > j->gap_from) check_gap(&c, c.buf, 0, j->gap_from, end, "padding");
    if (j->o.kind == 't') {
        const void *d;
        uint64_t n;
        trit_err te;
        trit_err_clear(&te);
        int const trc = trit_reader_tensor_data(c.r, j->o.idx, &d, &n, &te);   /* validates; bytes read below */
        if (trc == TRIT_OK) dense_tensor(&c, w, j->o.idx);
        else vfy_report_add_err(c.rep, class_of(trc), NULL, &te);   /* never skipped silently */
    } else if (j->o.kind == 'u') {
        unit_job(&c, w, j->o.idx);
    } else if (j->o.kind == 's') {
        check_section(&c, j->o.idx);
    }
}

static void *worker_main(void *arg)
{
    vworker *const w = arg;
    vpool *const pl = w->pool;
    for (;;) {
        pthread_mutex_lock(&pl->mu);
        uint64_t const j = pl->next < pl->n_jobs ? pl->next++ : UINT64_MAX;
        pthread_mutex_unlock(&pl->mu);
        if (j == UINT64_MAX) break;
        run_job(pl, w, &pl->jobs[j]);
    }
    return NULL;
}

static unsigned pick_threads(const vfy_opts *opts, uint64_t n_jobs)
{
    long n = opts && opts->threads ? (long)opts->threads : sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) n = 1;
    if (n > (long)VFY_MAX_THREADS) n = VFY_MAX_THREADS;
    if ((uint64_t)n > n_jobs) n = n_jobs ? (long)n_jobs : 1;
    return (unsigned)n;
}

static int walk_data(vfy__tctx *c, int fd)
{
    trit_file_info const *fi = trit_reader_file_info(c->r);
    uint64_t const n_obj = (uint64_t)fi->n_tensors + fi->n_units + fi->n_sections;
    obj *o = trit_mallocarray((size_t)(n_obj ? n_obj : 1), sizeof *o);
    if (!o) return TRIT_E_NOMEM;
    uint64_t k = 0;
    for (uint32_t i = 0; i < fi->n_tensors; i++) {
        trit_tensor_info const *t = trit_reader_tensor(c->r, i);
        if (t->unit == TRIT_NONE32) o[k++] = (obj){t->offset, t->offset + t->size, 't', i};
    }
    for (uint32_t u = 0; u < fi->n_units; u++) {
        trit_unit_info const *un = trit_reader_unit(c->r, u);
        o[k++] = (obj){un->offset, un->offset + un->stored_size, 'u', u};
    }
    for (uint32_t s = 0; s < fi->n_sections; s++) {
        trit_section_info const *si = trit_reader_section(c->r, s);
        o[k++] = (obj){si->offset, si->offset + si->size, 's', s};
    }
    qsort(o, (size_t)k, sizeof *o, cmp_obj);
    /* one job per object with the padding before it, and one for the padding after the last;
     * the reader validated placement: objects lie in [data_off, file_size) and do not overlap */
    vjob *jobs = trit_mallocarray((size_t)k + 1, sizeof *jobs);
    if (!jobs) {
        free(o);
        return TRIT_E_NOMEM;
    }
    uint64_t pos = fi->index_off + fi->index_size;
    for (uint64_t j = 0; j <= k; j++) {
        jobs[j].o = j < k ? o[j] : (obj){0, 0, 0, 0};
        jobs[j].gap_from = pos;
        vfy_report_init(&jobs[j].rep, c->rep->file, c->rep->max_issues);
        if (j < k && o[j].end > pos) pos = o[j].end;
    }
    free(o);
    vpool pl = {c, jobs, k + 1, 0, PTHREAD_MUTEX_INITIALIZER, fd};
    unsigned const n_thr = pick_threads(c->opts, k + 1);
    vworker w[VFY_MAX_THREADS];
    pthread_t th[VFY_MAX_THREADS];
    unsigned started = 0;
    int rc = TRIT_OK;
    for (unsigned t = 0; t < n_thr; t++) {
        w[t] = (vworker){&pl, fd >= 0 ? malloc(VFY_PIECE) : NULL, NULL, 0, XXH3_createState()};
        if ((fd >= 0 && !w[t].piece) || !w[t].xs) rc = TRIT_E_NOMEM;
    }
    /* the caller's thread is worker 0; a thread that does not start leaves its share to the rest */
    for (unsigned t = 1; rc == TRIT_OK && t < n_thr; t++, started++)
        if (trit_sys_thread_start(&th[t], worker_main, &w[t]) != 0) break;
    if (rc == TRIT_OK) worker_main(&w[0]);
    for (unsigned t = 1; t <= started; t++) pthread_join(th[t], NULL);
    for (unsigned t = 0; t < n_thr; t++) {
        free(w[t].piece);
        free(w[t].ubuf);
        XXH3_freeState(w[t].xs);
    }
    for (uint64_t j = 0; j <= k; j++) {
        if (rc == TRIT_OK) vfy__report_merge(c->rep, &jobs[j].rep);
        vfy_report_release(&jobs[j].rep);
    }
    free(jobs);
    return rc;
}

/* ---- entry points ------------------------------------------------------------------------ */

static void verify_trit(const uint8_t *buf, size_t len, int fd, const vfy_runtime *rt, int newer, const vfy_opts *opts,
                        vfy_report *rep)
{
    snprintf(rep->format, sizeof rep->format, "trit");
    snprintf(rep->runtime, sizeof rep->runtime, "%s", opts && opts->runtime_version ? opts->runtime_version : rt->version);
    unsigned major = 0, minor = 0;
    uint64_t required = 0;
    trit_err he;
    trit_err_clear(&he);
    int const peek = trit_header_peek(buf, len, &major, &minor, &required, &he);
    int const trusted = peek == TRIT_OK;
    if (trusted) {
        snprintf(rep->version, sizeof rep->version, "%u.%u", major, minor);
        vfy__compat_header(rep, rt, newer, major, minor, required);
    }
    trit_reader *r = NULL;
    trit_err e;
    trit_err_clear(&e);
    int const rc = trit_reader_open_mem(buf, len, rep->file, NULL, &r, &e);
    if (rc != TRIT_OK) {
        int cls = class_of(rc);
        const char *what = e.where[0] ? e.where : e.offset < TRIT_HEADER_SIZE ? "header" : "index";
        if (peek == TRIT_E_CHECKSUM && cls != VFY_C_INTEGRITY) {
            /* libtrit checks the version before the header checksum (spec 11): a flipped
             * version byte reads as "newer major"; the checksum says it is damage */
            vfy_report_add(rep, VFY_C_INTEGRITY, 0, he.offset, "header", "header checksum does not match (%s)", e.msg);
        } else if (!(cls == VFY_C_COMPAT && rep->n_errors[VFY_C_COMPAT])) {
            /* this build refusing a future format is the compat finding already made above */
            vfy_report_add(rep, cls, 0, e.offset, what, "%s", e.msg);
        }
        rep->stopped = 1;
        return;
    }
    vfy__tctx c;
    memset(&c, 0, sizeof c);
    c.r = r;
    c.rep = rep;
    c.rt = rt;
    c.opts = opts;
    c.buf = buf;
    if (vfy__tctx_init(&c) != TRIT_OK || walk_data(&c, fd) != TRIT_OK) {
        vfy_report_add(rep, VFY_C_INTERNAL, 0, TRIT_NO_OFFSET, "file", "out of memory");
    } else {
        vfy__trit_metadata(&c);
        vfy__load(&c);
        vfy__smoke(&c);
    }
    vfy__tctx_release(&c);
    trit_reader_close(r);
}

static int resolve_runtime(const vfy_opts *opts, const vfy_runtime **rt, int *newer, trit_err *err)
{
    size_t n_tab = 0;
    const vfy_runtime *tab = opts && opts->runtimes ? opts->runtimes : vfy_runtime_table(&n_tab);
    if (opts && opts->runtimes) n_tab = opts->n_runtimes;
    if (!n_tab) return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL, "empty runtime table");
    const char *want = opts && opts->runtime_version ? opts->runtime_version : tab[n_tab - 1].version;
    return vfy_runtime_find(want, tab, n_tab, rt, newer, err);
}

int vfy_verify_trit_mem(const void *buf, size_t len, const char *name, const vfy_opts *opts, vfy_report *rep,
                        trit_err *err)
{
    const vfy_runtime *rt;
    int newer;
    vfy_report_init(rep, name ? name : "(memory)", opts ? opts->max_issues : 0);
    int const rc = resolve_runtime(opts, &rt, &newer, err);
    if (rc != TRIT_OK) return rc;
    verify_trit(buf, len, -1, rt, newer, opts, rep);
    return TRIT_OK;
}

int vfy_verify(const char *path, const vfy_opts *opts, vfy_report *rep, trit_err *err)
{
    const vfy_runtime *rt;
    int newer;
    vfy_report_init(rep, path, opts ? opts->max_issues : 0);
    int rc = resolve_runtime(opts, &rt, &newer, err);
    if (rc != TRIT_OK) return rc;
    struct stat st;
    if (stat(path, &st) != 0) {
        vfy_report_add(rep, VFY_C_IO, 0, TRIT_NO_OFFSET, "file", "cannot open: %s", strerror(errno));
        return TRIT_OK;
    }
    if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
        /* a FIFO or device would block the magic sniff below, or never end */
        vfy_report_add(rep, VFY_C_IO, 0, TRIT_NO_OFFSET, "file", "not a regular file or directory");
        return TRIT_OK;
    }
    src_format_id fmt = SRC_FMT_UNKNOWN;
    trit_err pe;
    trit_err_clear(&pe);
    if ((rc = src_probe(path, &fmt, &pe)) != TRIT_OK) {
        vfy_report_add(rep, class_of(rc), 0, TRIT_NO_OFFSET, "file", "%s", pe.msg);
        return TRIT_OK;
    }
    if (fmt != SRC_FMT_TRIT) {
        vfy__foreign(path, rep);
        return TRIT_OK;
    }
    const uint8_t *map;
    size_t len;
    trit_err e;
    trit_err_clear(&e);
    int fd = -1;
    rc = trit_sys_map_file(path, &map, &len, &fd, &e);
    if (rc != TRIT_OK) {
        vfy_report_add(rep, class_of(rc), 0, TRIT_NO_OFFSET, "file", "%s", e.msg);
        return TRIT_OK;
    }
    static const uint8_t empty[1];
    verify_trit(map ? map : empty, len, fd, rt, newer, opts, rep);
    trit_sys_unmap(map, len);
    if (fd >= 0) close(fd);
    return TRIT_OK;
}
