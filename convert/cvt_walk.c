/*
 * cvt_walk.c - pass 1's one read of a source file: the file is read once, front to back; every
 * byte goes into its provenance xxh3, and the bytes of the projections stored as plain floats
 * (F32, F16, BF16), BitNet packed U8 or GGUF code blocks (TQ2_0, TQ1_0, I2_S: decoded to t2 and
 * fed to the code-domain scan, cvt_cscan) are scanned from that same buffer (before, the hash and each scan read the
 * file on their own: up to twice the source's bytes, and most of a float conversion's system
 * time on tmpfs).
 *
 * Two slots form a pipeline: while a pool job scans chunk k (decode and cvt_tscan_feed), this
 * thread reads and hashes chunk k + 1. A tensor's chunks are scanned one after the other in row
 * order, so each scan state (absmean's sequential |x| sum included) is exactly what the
 * per-tensor scan gives: the same bytes at any thread count.
 *
 * Memory: two slots of one chunk of rows (at most CVT_CHUNK_VALUES values: 1 MiB of raw bytes
 * and 1 MiB of floats each) per file being walked, plus one cvt_tscan per walked tensor.
 */
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "cvt_conv_int.h"
#include "cvt_ternary.h"
#include "trit_pool.h"
#include "trit_sys.h"

#define GAP_BYTES (1u << 20)

static int nomem(trit_err *err) { return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory"); }

/* A BitNet packed U8 projection (one factor for the tensor): its scan needs only two facts of
 * its bytes, whatever order its codes are in: a code 3 anywhere, and a code other than 1 (zero)
 * anywhere. Read from the file's bytes once, instead of unpacking every row (which reads each
 * packed byte four times, once per quarter). */
static int packed_u8(const cvt_plan_t *p)
{
    return p->codes.kind == SRC_CODES_BITNET_U8 && !p->codes.block;
}

/* A GGUF code tensor (TQ2_0, TQ1_0, I2_S): its blocks are decoded to t2 from the walk's bytes
 * and fed to the code-domain scan (cvt_codes.c) in row order. */
static int gguf_codes(const cvt_plan_t *p)
{
    return p->codes.kind == SRC_CODES_TQ2_0 || p->codes.kind == SRC_CODES_TQ1_0 || p->codes.kind == SRC_CODES_I2_S;
}

/* Bytes of one source row of p as the walk reads it: a packed U8 byte holds four rows' codes of
 * one column, so its rows are cols bytes; code blocks as stored. */
static uint64_t walk_row_bytes(const cvt_conv *c, const cvt_plan_t *p)
{
    if (packed_u8(p)) return p->cols;
    if (gguf_codes(p)) return src_codes_row_bytes(&p->codes, p->cols);
    return p->cols * src_plain_float_bytes(c->src, p->src);
}

int cvt__walkable(const cvt_conv *c, const cvt_plan_t *p)
{
    /* rows in source order (no un-permute, no rebuilt tensor), no folded multiplier, plain
     * floats or packed U8, a row that fits a chunk */
    if (!c->hash_files || !cvt__is_projection(p->role) || !cvt__rows_from_source(p) || p->permute_heads ||
        !p->cols || p->cols > CVT_CHUNK_VALUES)
        return 0;
    /* the code scan applies a folded multiplier itself; the float scan here does not */
    if (gguf_codes(p)) return src_codes_row_bytes(&p->codes, p->cols) != 0;
    if (p->mult != 1.0f) return 0;
    if (packed_u8(p)) return p->src_row0 == 0 && p->rows % 4 == 0;
    return !p->codes.kind && src_plain_float_bytes(c->src, p->src) != 0;
}

/* One walked tensor's scan: the float scan's state, the code scan's, or the packed bytes' two
 * facts. */
typedef struct walk_state {
    cvt_tscan sc;
    cvt_cscan cs;
    uint8_t bad, nonzero;      /* OR of (pair & pair >> 1) and of (byte ^ 0x55), low bits of pairs */
} walk_state;

typedef struct slot {
    trit_pool_job job;
    int busy;
    cvt_conv *c;
    uint32_t src;                  /* source tensor */
    uint64_t row0, nrows, cols;    /* its rows in this chunk */
    cvt_plan_t **plans;            /* the walked plans of that tensor (by src_row0), n_plans */
    walk_state *scans;             /* their states, same order */
    uint32_t n_plans;
    uint8_t *raw;
    float *fl;
    int rc;
    trit_err err;
} slot;

static void slot_run(trit_pool_job *j)
{
    slot *s = (slot *)(void *)j;
    trit_err_clear(&s->err);
    s->rc = TRIT_OK;
    if (packed_u8(s->plans[0])) {   /* alone in its source tensor (src_row0 0) */
        typedef uint64_t v2 __attribute__((vector_size(16)));
        uint64_t const n = s->nrows * s->cols, lo = 0x5555555555555555ull;
        v2 bad = {0, 0}, nz = {0, 0};
        uint64_t k = 0;
        for (; k + 16 <= n; k += 16) {   /* 16 bytes a step: 64 codes */
            v2 x;
            memcpy(&x, s->raw + k, sizeof x);
            bad |= x & (x >> 1) & lo;
            nz |= x ^ lo;
        }
        uint8_t b = (uint8_t)((bad[0] | bad[1]) != 0), z = (uint8_t)((nz[0] | nz[1]) != 0);
        for (; k < n; k++) {
            uint8_t const x = s->raw[k];
            b |= (uint8_t)((x & (x >> 1) & 0x55u) != 0);
            z |= (uint8_t)(x != 0x55u);
        }
        s->scans[0].bad |= b;
        s->scans[0].nonzero |= z;
        return;
    }
    if (gguf_codes(s->plans[0])) {   /* t2 rows, then their factors, in the float buffer */
        cvt_plan_t const *p0 = s->plans[0];
        uint8_t *t2 = (uint8_t *)(void *)s->fl;
        uint64_t const rb = s->cols / 4;   /* cols is a multiple of 128 (align) */
        float *f = s->fl + CVT_CHUNK_VALUES / 4;
        uint64_t const fr = p0->codes.block ? s->cols / p0->codes.block : 0, srb = walk_row_bytes(s->c, p0);
        for (uint32_t k = 0; k < s->n_plans; k++) {   /* each plan's rows of this chunk */
            cvt_plan_t const *p = s->plans[k];
            uint64_t const a = p->src_row0 > s->row0 ? p->src_row0 : s->row0;
            uint64_t const b0 = p->src_row0 + p->rows, b1 = s->row0 + s->nrows, b = b0 < b1 ? b0 : b1;
            if (a >= b) continue;
            uint64_t const o = a - s->row0;
            uint64_t bad = 0;   /* codes 3 in this plan's rows: it takes the float path */
            src_codes_from_raw(&p->codes, s->raw + o * srb, b - a, s->cols, t2 + o * rb, f + o * fr, &bad);
            cvt__cscan_feed(&s->scans[k].cs, p, t2 + o * rb, f + o * fr, b - a, bad);
        }
        return;
    }
    const float *fl = s->fl;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* 4-byte plain floats are little-endian F32: on such a host the bytes are the values */
    if (src_plain_float_bytes(s->c->src, s->src) == 4) fl = (const float *)(const void *)s->raw;
    else
#endif
        s->rc = src_f32_from_raw(s->c->src, s->src, s->raw, s->nrows * s->cols, s->fl, &s->err);
    for (uint32_t k = 0; s->rc == TRIT_OK && k < s->n_plans; k++) {
        cvt_plan_t const *p = s->plans[k];
        uint64_t const a = p->src_row0 > s->row0 ? p->src_row0 : s->row0;
        uint64_t const b0 = p->src_row0 + p->rows, b1 = s->row0 + s->nrows, b = b0 < b1 ? b0 : b1;
        if (a < b) cvt_tscan_feed(&s->scans[k].sc, fl + (a - s->row0) * s->cols, (b - a) * s->cols);
    }
}

/* plans of one file, by (byte offset of their source tensor, first row) */
typedef struct entry {
    cvt_plan_t *p;
    uint64_t off, nbytes;
} entry;

static int cmp_entry(const void *x, const void *y)
{
    const entry *a = x, *b = y;
    if (a->off != b->off) return a->off < b->off ? -1 : 1;
    if (a->p->src_row0 != b->p->src_row0) return a->p->src_row0 < b->p->src_row0 ? -1 : 1;
    return 0;
}

static int read_at(int fd, const char *path, void *buf, uint64_t n, uint64_t off, trit_err *err)
{
    int64_t const k = trit_sys_pread_full(fd, buf, n, off);
    if (k < 0) {
        trit_err_file(err, path);
        return trit_err_set(err, TRIT_E_IO, off, NULL, "read failed: %s", strerror(errno));
    }
    if ((uint64_t)k != n) {
        trit_err_file(err, path);
        return trit_err_set(err, TRIT_E_IO, off + (uint64_t)k, NULL, "the file ended early (it changed while read?)");
    }
    return TRIT_OK;
}

/* Hash [from, to) of the file without scanning it. */
static int hash_span(int fd, const char *path, XXH3_state_t *h, uint8_t *buf, uint64_t from, uint64_t to, trit_err *err)
{
    while (from < to) {
        uint64_t const k = to - from < GAP_BYTES ? to - from : GAP_BYTES;
        int const rc = read_at(fd, path, buf, k, from, err);
        if (rc) return rc;
        XXH3_64bits_update(h, buf, (size_t)k);
        from += k;
    }
    return TRIT_OK;
}

static int walk(cvt_conv *c, int fd, const char *path, uint64_t size, const entry *e, cvt_plan_t **pp, uint32_t n,
                walk_state *scans, XXH3_state_t *h, uint8_t *gap, slot sl[2], trit_err *err)
{
    uint64_t pos = 0;
    uint32_t cur = 0;   /* the slot to fill next */
    int rc = TRIT_OK;
    for (uint32_t i = 0; i < n && rc == TRIT_OK;) {
        /* one source tensor: entries [i, j) */
        uint32_t j = i + 1;
        while (j < n && e[j].p->src == e[i].p->src) j++;
        cvt_plan_t const *p = e[i].p;
        uint64_t const row_bytes = walk_row_bytes(c, p), rows = row_bytes ? e[i].nbytes / row_bytes : 0;
        uint64_t const cr = cvt__chunk_rows(p);
        if ((rc = hash_span(fd, path, h, gap, pos, e[i].off, err))) break;
        for (uint64_t r = 0; r < rows && rc == TRIT_OK; r += cr) {
            slot *s = &sl[cur];
            if (s->busy) {   /* its scan is done before its buffers are reused */
                trit_pool_wait(c->pool, &s->job);
                s->busy = 0;
                if ((rc = s->rc)) {
                    *err = s->err;
                    break;
                }
            }
            uint64_t const nr = rows - r < cr ? rows - r : cr;
            if ((rc = read_at(fd, path, s->raw, nr * row_bytes, e[i].off + r * row_bytes, err))) break;
            XXH3_64bits_update(h, s->raw, (size_t)(nr * row_bytes));
            /* the other slot holds the chunk before this one: its scan first (row order) */
            slot *o = &sl[cur ^ 1];
            if (o->busy) {
                trit_pool_wait(c->pool, &o->job);
                o->busy = 0;
                if ((rc = o->rc)) {
                    *err = o->err;
                    break;
                }
            }
            s->src = p->src;
            s->row0 = r;
            s->nrows = nr;
            s->cols = p->cols;
            s->plans = pp + i;
            s->n_plans = j - i;
            s->scans = scans + i;
            s->job.fn = slot_run;
            s->busy = 1;
            trit_pool_submit(c->pool, &s->job);
            cur ^= 1;
        }
        /* bytes of the tensor past its whole rows (none for a well-formed file) are hashed below */
        pos = e[i].off + rows * row_bytes;
        i = j;
    }
    if (rc == TRIT_OK) rc = hash_span(fd, path, h, gap, pos, size, err);
    return rc;
}

/* What cvt__codes_scan decides for a one-factor tensor, from the two facts: t2 per tensor with
 * the factor's magnitude; else (a code 3, a factor that is 0 or not finite, all codes zero, under
 * 16 values) the float path decides, on its own read, as it would have. */
static int packed_result(cvt_conv *c, cvt_plan_t *p, const walk_state *w, float *buf, trit_err *err)
{
    float const mv = p->codes.factor;   /* mult is 1 (cvt__walkable) */
    if (!w->bad && isfinite(mv) && mv != 0.0f && w->nonzero && p->rows * p->cols >= 16) {
        p->ternary = 1;
        p->layout = TRIT_SCALE_TENSOR;
        p->tensor_scale = fabsf(mv);
        return TRIT_OK;
    }
    int any = 0;
    p->codes.kind = SRC_CODES_NONE;
    return cvt__scan_float(c, p, buf, &any, err);
}

/* A GGUF code tensor: the code scan's answer, or (a code 3, a non-finite factor, all zero, a
 * layout finer than a block) the float path decides on its own read, as cvt__codes_scan's
 * caller does. */
static int codes_result(cvt_conv *c, cvt_plan_t *p, const walk_state *w, float *buf, trit_err *err)
{
    if (cvt__cscan_result(p, &w->cs)) return TRIT_OK;
    int any = 0;
    p->codes.kind = SRC_CODES_NONE;
    return cvt__scan_float(c, p, buf, &any, err);
}

int cvt__walk_file(cvt_conv *c, uint32_t file, cvt_plan_t **plans, uint32_t n, trit_err *err)
{
    const char *path = src_file_path(c->src, file);
    entry *e = calloc((size_t)n + 1, sizeof *e);
    walk_state *scans = calloc((size_t)n + 1, sizeof *scans);
    cvt_plan_t **pp = calloc((size_t)n + 1, sizeof *pp);
    uint8_t *gap = malloc(GAP_BYTES);
    XXH3_state_t *h = XXH3_createState();
    slot sl[2];
    memset(sl, 0, sizeof sl);
    int rc = e && scans && pp && gap && h ? TRIT_OK : nomem(err);
    for (int k = 0; k < 2 && rc == TRIT_OK; k++) {
        sl[k].c = c;
        sl[k].raw = malloc((size_t)CVT_CHUNK_VALUES * 4);
        sl[k].fl = malloc((size_t)CVT_CHUNK_VALUES * sizeof(float));
        if (!sl[k].raw || !sl[k].fl) rc = nomem(err);
    }
    for (uint32_t k = 0; rc == TRIT_OK && k < n; k++) {
        uint32_t f;
        e[k].p = plans[k];
        src_extent(c->src, plans[k]->src, &f, &e[k].off, &e[k].nbytes);
    }
    if (rc == TRIT_OK) {
        qsort(e, n, sizeof *e, cmp_entry);
        for (uint32_t k = 0; k < n; k++) {
            pp[k] = e[k].p;
            if (gguf_codes(e[k].p)) cvt__cscan_init(&scans[k].cs, e[k].p);
            else cvt_tscan_init(&scans[k].sc, e[k].p->cols);
        }
    }
    int fd = -1;
    struct stat st;
    if (rc == TRIT_OK && ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) != 0)) {
        trit_err_file(err, path);
        rc = trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, NULL, "cannot open for reading: %s", strerror(errno));
    }
    /* tensors that overlap (or lie past the end: a file that changed since it was opened) are
     * not read in one front-to-back pass: then the file is hashed, and each tensor scanned, on
     * its own read, as before */
    int overlap = 0;
    for (uint32_t k = 1; rc == TRIT_OK && k < n; k++)
        overlap |= e[k].p->src != e[k - 1].p->src && e[k].off < e[k - 1].off + e[k - 1].nbytes;
    if (rc == TRIT_OK && n) overlap |= e[n - 1].off + e[n - 1].nbytes > (uint64_t)st.st_size;
    if (rc == TRIT_OK && overlap) {
        int any = 0;
        rc = src_hash_file(path, &c->file_xxh3[file], err);
        for (uint32_t k = 0; rc == TRIT_OK && k < n; k++) {
            int ok = 0;
            if (pp[k]->codes.kind && (rc = cvt__codes_scan(c, pp[k], &ok, err))) break;
            if (ok) continue;
            pp[k]->codes.kind = SRC_CODES_NONE;
            rc = cvt__scan_float(c, pp[k], sl[0].fl, &any, err);
        }
    } else if (rc == TRIT_OK) {
        XXH3_64bits_reset(h);
        rc = walk(c, fd, path, (uint64_t)st.st_size, e, pp, n, scans, h, gap, sl, err);
    }
    /* every scan still out is waited for: it points into these buffers */
    for (int k = 0; k < 2; k++)
        if (sl[k].busy) {
            trit_pool_wait(c->pool, &sl[k].job);
            if (rc == TRIT_OK && sl[k].rc) {
                rc = sl[k].rc;
                *err = sl[k].err;
            }
        }
    if (rc == TRIT_OK && !overlap) {
        c->file_xxh3[file] = XXH3_64bits_digest(h);
        int any = 0;
        for (uint32_t k = 0; rc == TRIT_OK && k < n; k++)
            rc = packed_u8(pp[k])    ? packed_result(c, pp[k], &scans[k], sl[0].fl, err)
                 : gguf_codes(pp[k]) ? codes_result(c, pp[k], &scans[k], sl[0].fl, err)
                                     : cvt__scan_result(c, pp[k], &scans[k].sc, &any, err);
    }
    if (fd >= 0) close(fd);
    for (int k = 0; k < 2; k++) {
        free(sl[k].raw);
        free(sl[k].fl);
    }
    XXH3_freeState(h);
    free(gap);
    free(pp);
    free(scans);
    free(e);
    return rc;
}
