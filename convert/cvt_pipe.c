/*
 * cvt_pipe.c - both conversion passes on a thread pool (format/trit_pool.h), the output in a
 * fixed order so that the container is the same bytes at any thread count.
 *
 * Pass 1 is one job per projection (its layout: the code domain where the source holds codes,
 * else the float scan) plus one job per source file (its provenance xxh3). Pass 2 cuts the
 * output into pieces in file order: a dense tensor into runs of rows (PIECE_BYTES of output; an
 * absmean-ternarized one too: its gamma came from the scan), an expert unit whole (its members
 * encoded and zstd-compressed by one job), a tensor whose scales depend on all its codes (the
 * int8 head; a ternarized block-quantized copy, whose magnitude is a median over the tensor)
 * into one piece that the writing thread encodes itself, straight into the writer, when its
 * turn comes. At most WINDOW
 * pieces per thread are in flight; the writing thread appends them in order. A piece's bytes
 * depend on nothing but its own rows, so the schedule cannot change the output.
 *
 * Memory, per thread: WINDOW slots, each holding a piece of PIECE_BYTES (2 MiB; more only when
 * one row is larger) or one unit (its decoded bytes plus their zstd bound), and one
 * CVT_CHUNK_VALUES float buffer (1 MiB), kept from piece to piece; plus, per dense t2 tensor in
 * flight, its scales (at most 1/16 of its values: none for a per-tensor scale). None of it
 * grows with the model's size.
 */
#include <stdlib.h>
#include <string.h>

#include "cvt_conv_int.h"
#include "trit_pool.h"
#include "trit_safemath.h"

#define PIECE_BYTES (2u << 20)
#define WINDOW 3u

static int nomem(trit_err *err) { return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory"); }

/* ---- pass 1 ---- */

typedef struct scan_job {
    trit_pool_job job;
    cvt_conv *c;
    cvt_plan_t *p;             /* a projection, or NULL for a file (cvt__walk_file) */
    uint32_t file;
    cvt_plan_t **walk;         /* a file: the tensors scanned on its read, n_walk of them */
    uint32_t n_walk;
    int rc;
    trit_err err;
} scan_job;

static void scan_run(trit_pool_job *j)
{
    scan_job *s = (scan_job *)(void *)j;
    cvt_conv *c = s->c;
    trit_err_clear(&s->err);
    if (!s->p) {   /* a file: its hash and the scans that ride on its read */
        s->rc = cvt__walk_file(c, s->file, s->walk, s->n_walk, &s->err);
        return;
    }
    cvt_plan_t *p = s->p;
    int ok = 0;
    s->rc = TRIT_OK;
    if (p->codes.kind) s->rc = cvt__codes_scan(c, p, &ok, &s->err);
    if (s->rc || ok) return;
    p->codes.kind = SRC_CODES_NONE;   /* the float path decides, and encodes */
    float *buf = malloc(CVT_CHUNK_VALUES * sizeof *buf);
    int any = 0;
    s->rc = buf ? cvt__scan_float(c, p, buf, &any, &s->err) : nomem(&s->err);
    free(buf);
}

int cvt__scan_all(cvt_conv *c, trit_err *err)
{
    uint32_t const nf = c->hash_files ? src_n_files(c->src) : 0;
    uint32_t const nj = c->n + nf;
    scan_job *jobs = calloc((size_t)nj + 1, sizeof *jobs);
    cvt_plan_t **walk = calloc((size_t)c->n + 1, sizeof *walk);
    c->file_xxh3 = calloc((size_t)nf + 1, sizeof *c->file_xxh3);
    if (!jobs || !walk || !c->file_xxh3) {
        free(jobs);
        free(walk);
        return nomem(err);
    }
    int rc = TRIT_OK;
    uint32_t k = nf, n_walk = 0;
    for (uint32_t i = 0; i < c->n; i++) {
        cvt_plan_t *p = &c->p[i];
        if (!cvt__is_projection(p->role) || p->blk) continue;   /* kept blocks need no scan */
        if (c->o->decode_float || (rc = src_codes_of(c->src, p->src, &p->codes, err))) memset(&p->codes, 0, sizeof p->codes);
        if (rc) break;
        /* rows that read_rows builds go through floats */
        if (p->codes.kind && (!p->cols || p->cols % p->codes.align || !cvt__rows_from_source(p))) p->codes.kind = SRC_CODES_NONE;
        if (cvt__walkable(c, p)) walk[n_walk++] = p;   /* scanned on its file's read (cvt_walk.c) */
        else jobs[k++] = (scan_job){.c = c, .p = p};
    }
    /* one job per file, first (they read the most), with the walked tensors it holds */
    for (uint32_t f = 0, w = 0; f < nf; f++) {
        jobs[f] = (scan_job){.c = c, .file = f, .walk = walk + w};
        for (uint32_t i = w; i < n_walk; i++) {
            uint32_t pf;
            uint64_t off, nb;
            src_extent(c->src, walk[i]->src, &pf, &off, &nb);
            if (pf == f) {   /* gather this file's tensors at walk[w..] */
                cvt_plan_t *t = walk[i];
                walk[i] = walk[w];
                walk[w++] = t;
                jobs[f].n_walk++;
            }
        }
    }
    for (uint32_t j = 0; j < k; j++) {
        jobs[j].job.fn = scan_run;
        trit_pool_submit(c->pool, &jobs[j].job);
    }
    /* every job is waited for (they point into c); the first error in plan order is the answer */
    for (uint32_t j = 0; j < k; j++) {
        trit_pool_wait(c->pool, &jobs[j].job);
        if (rc == TRIT_OK && jobs[j].rc) {
            rc = jobs[j].rc;
            if (err) *err = jobs[j].err;
        }
    }
    free(jobs);
    free(walk);
    return rc;
}

/* ---- pass 2 ---- */

typedef struct buf_sink {
    uint8_t *p;
    uint64_t n, cap;
} buf_sink;

static int buf_reserve(buf_sink *b, uint64_t n, trit_err *err)
{
    if (n > b->cap - b->n) {
        uint64_t nc = b->cap ? b->cap : 1u << 16;
        while (nc - b->n < n) nc *= 2;
        uint8_t *q = realloc(b->p, (size_t)nc);
        if (!q) return nomem(err);
        b->p = q;
        b->cap = nc;
    }
    return TRIT_OK;
}

static int buf_put(void *ctx, const void *p, uint64_t n, trit_err *err)
{
    buf_sink *b = ctx;
    int const rc = buf_reserve(b, n, err);
    if (rc) return rc;
    memcpy(b->p + b->n, p, (size_t)n);
    b->n += n;
    return TRIT_OK;
}

static uint8_t *buf_claim(void *ctx, uint64_t n, trit_err *err)
{
    buf_sink *b = ctx;
    if (buf_reserve(b, n, err)) return NULL;
    b->n += n;
    return b->p + b->n - n;
}

/* Output bytes of rows [r0, r0 + nr) of p (t2 codes or float values): a piece's size. */
static uint64_t rows_bytes(const cvt_plan_t *p, uint64_t nr)
{
    if (p->blk) return nr * cvt__blk_row_bytes(p);
    if (p->ternary) return nr * trit_div_ceil(p->cols, TRIT_T2_BLOCK_ELEMS) * TRIT_T2_BLOCK_BYTES;
    return nr * p->cols * (p->out_type == TRIT_TYPE_F32 ? 4u : 2u);
}

enum { PIECE_ROWS, PIECE_UNIT, PIECE_INLINE };

typedef struct piece {
    trit_pool_job job;
    cvt_conv *c;
    int kind;
    cvt_plan_t *p;             /* ROWS, INLINE: the tensor */
    uint64_t r0, nr;
    int first, last;           /* ROWS: first / last piece of its tensor */
    float *scales;             /* ROWS of a t2 tensor: the tensor's scales (the last piece frees) */
    cvt_plan_t **members;      /* UNIT: its members in order */
    uint32_t n_members;
    uint64_t *member_xxh3;
    trit_unit_packer *pk;      /* UNIT: this slot's packer */
    float *fbuf;               /* this slot's CVT_CHUNK_VALUES floats; kept, like out's storage,
                                  from piece to piece (fresh pages fault one by one: most of a
                                  conversion's system time once the reads were halved) */
    const void *stored;
    uint64_t stored_n, stored_xxh3;
    buf_sink out;
    uint64_t hist[3];
    double err_sq, err_max;    /* ROWS of an absmean tensor: its error terms */
    int rc;
    trit_err err;
} piece;

/* --expert-units b3: the t2 member just emitted at pc->out[at..] re-packed in place as b3
 * (shorter: 160 weights per 32 bytes instead of 128). */
static int to_b3(piece *pc, const trit_tensor_info *t2, uint64_t at)
{
    uint8_t *tmp = malloc((size_t)t2->size + 1);
    if (!tmp) return trit_err_set(&pc->err, TRIT_E_NOMEM, TRIT_NO_OFFSET, t2->name, "out of memory");
    memcpy(tmp, pc->out.p + at, (size_t)t2->size);
    trit_tensor_info b3;
    int const rc = trit_t2_to_b3(t2, tmp, &b3, pc->out.p + at, &pc->err);
    free(tmp);
    if (rc == TRIT_OK) pc->out.n = at + b3.size;
    return rc;
}

static void piece_run(trit_pool_job *j)
{
    piece *pc = (piece *)(void *)j;
    cvt_conv *c = pc->c;
    cvt_emit e;
    trit_err_clear(&pc->err);
    memset(&e, 0, sizeof e);
    if (!pc->fbuf && !(pc->fbuf = malloc(CVT_CHUNK_VALUES * sizeof *pc->fbuf))) {
        pc->rc = nomem(&pc->err);
        return;
    }
    e.buf = pc->fbuf;
    pc->rc = TRIT_OK;
    e.sink = buf_put;
    e.sink_ctx = &pc->out;
    e.claim = buf_claim;
    if (pc->kind == PIECE_ROWS) {
        pc->rc = buf_reserve(&pc->out, rows_bytes(pc->p, pc->nr), &pc->err);
        if (pc->rc == TRIT_OK) pc->rc = cvt__emit_rows(c, &e, pc->p, pc->r0, pc->nr, pc->scales, &pc->err);
    } else {
        /* a unit: members at their declared offsets, zeros between, then packed */
        for (uint32_t m = 0; m < pc->n_members && pc->rc == TRIT_OK; m++) {
            cvt_plan_t *p = pc->members[m];
            trit_tensor_info ti;
            cvt__describe(p, &ti);
            trit_tensor_info const *wi = trit_writer_tensor(c->w, p->id);
            static const uint8_t zeros[256];
            while (pc->rc == TRIT_OK && pc->out.n < wi->offset) {
                uint64_t const k = wi->offset - pc->out.n < sizeof zeros ? wi->offset - pc->out.n : sizeof zeros;
                pc->rc = buf_put(&pc->out, zeros, k, &pc->err);
            }
            uint64_t const at = pc->out.n;
            if (pc->rc == TRIT_OK) pc->rc = cvt__emit(c, &e, p, &ti, &pc->err);
            if (pc->rc == TRIT_OK && pc->out.n - at != ti.size)
                pc->rc = trit_err_set(&pc->err, TRIT_E_USAGE, TRIT_NO_OFFSET, p->name, "encoded %llu bytes, declared %llu",
                                      (unsigned long long)(pc->out.n - at), (unsigned long long)ti.size);
            if (pc->rc == TRIT_OK && wi->type == TRIT_TYPE_B3) pc->rc = to_b3(pc, &ti, at);
            if (pc->rc == TRIT_OK) pc->member_xxh3[m] = trit_xxh3(pc->out.p + at, (size_t)wi->size);
        }
        uint32_t const storage = c->o->expert_units == CVT_UNITS_ZSTD ? TRIT_STORAGE_ZSTD : TRIT_STORAGE_RAW;
        if (pc->rc == TRIT_OK)
            pc->rc = trit_unit_pack(pc->pk, storage, pc->out.p, pc->out.n, &pc->stored, &pc->stored_n, &pc->stored_xxh3,
                                    &pc->err);
    }
    memcpy(pc->hist, e.code_hist, sizeof pc->hist);
    pc->err_sq = e.err_sq;
    pc->err_max = e.err_max;
}

static int writer_sink(void *ctx, const void *p, uint64_t n, trit_err *err)
{
    return trit_writer_append(ctx, p, n, err);
}

/* The pieces in file order: dense tensors in plan order, then units. */
typedef struct cursor {
    uint32_t i;                /* next dense plan index */
    uint64_t row;              /* next row of c->p[i] */
    float *scales;             /* the scales of the dense tensor being cut */
    uint32_t k;                /* next expert index into ex */
} cursor;

/* *got = 0 when every piece was handed out. */
static int next_piece(cvt_conv *c, cvt_plan_t **ex, uint32_t n_ex, cursor *cu, piece *pc, int *got, trit_err *err)
{
    *got = 1;
    while (cu->i < c->n && c->p[cu->i].role == CVT_ROLE_EXPERT) cu->i++;
    if (cu->i < c->n) {
        cvt_plan_t *p = &c->p[cu->i];
        pc->p = p;
        if (p->q8 || (p->ternarize && p->ls_magnitude)) {   /* whole-tensor encoders (scales from every code) */
            pc->kind = PIECE_INLINE;
            cu->i++;
            return TRIT_OK;
        }
        pc->kind = PIECE_ROWS;
        /* PIECE_BYTES of output: large enough that the writer writes it straight out */
        uint64_t const rb = rows_bytes(p, 1), pb = c->o->piece_bytes ? c->o->piece_bytes : PIECE_BYTES;
        uint64_t const per = pb / (rb ? rb : 1);
        pc->first = cu->row == 0;
        if (pc->first && p->ternary) {
            trit_tensor_info ti;
            cvt__describe(p, &ti);
            if (!(cu->scales = calloc((size_t)(ti.n_scales ? ti.n_scales : 1), sizeof *cu->scales))) return nomem(err);
        }
        pc->scales = cu->scales;
        pc->r0 = cu->row;
        pc->nr = p->rows - cu->row < (per ? per : 1) ? p->rows - cu->row : (per ? per : 1);
        cu->row += pc->nr;
        pc->last = cu->row >= p->rows;
        if (pc->last) {
            cu->i++;
            cu->row = 0;
            cu->scales = NULL;
        }
        return TRIT_OK;
    }
    if (cu->k < n_ex) {
        uint32_t e = cu->k;
        while (e < n_ex && ex[e]->unit == ex[cu->k]->unit) e++;
        pc->kind = PIECE_UNIT;
        pc->members = ex + cu->k;
        pc->n_members = e - cu->k;
        pc->member_xxh3 = calloc(pc->n_members, sizeof *pc->member_xxh3);
        if (!pc->member_xxh3) return nomem(err);
        cu->k = e;
        return TRIT_OK;
    }
    *got = 0;
    return TRIT_OK;
}

/* Append a finished piece to the writer (the writing thread only). */
static int consume(cvt_conv *c, piece *pc, trit_err *err)
{
    int rc = TRIT_OK;
    if (pc->kind == PIECE_INLINE) {
        cvt_emit e;
        trit_tensor_info ti;
        cvt__describe(pc->p, &ti);
        if ((rc = cvt__emit_init(&e, err))) return rc;
        e.sink = writer_sink;
        e.sink_ctx = c->w;
        rc = trit_writer_tensor_begin(c->w, pc->p->id, err);
        if (rc == TRIT_OK) rc = cvt__emit(c, &e, pc->p, &ti, err);
        if (rc == TRIT_OK) rc = trit_writer_end(c->w, err);
        for (int k = 0; k < 3; k++) c->code_hist[k] += e.code_hist[k];
        cvt__emit_free(&e);
        c->done += pc->p->rows * pc->p->cols;
        if (rc == TRIT_OK && c->o->progress) c->o->progress(c->o->progress_ctx, c->done, c->total, pc->p->name);
        return rc;
    }
    if (pc->rc) {
        if (err) *err = pc->err;
        return pc->rc;
    }
    for (int k = 0; k < 3; k++) c->code_hist[k] += pc->hist[k];
    if (pc->kind == PIECE_UNIT) {
        rc = trit_writer_unit_put(c->w, pc->members[0]->unit, pc->stored, pc->stored_n, pc->stored_xxh3, pc->member_xxh3,
                                  pc->n_members, err);
        for (uint32_t m = 0; m < pc->n_members && rc == TRIT_OK; m++) {
            c->done += pc->members[m]->rows * pc->members[m]->cols;
            if (c->o->progress) c->o->progress(c->o->progress_ctx, c->done, c->total, pc->members[m]->name);
        }
        return rc;
    }
    cvt_plan_t *p = pc->p;
    if (pc->first) rc = trit_writer_tensor_begin(c->w, p->id, err);
    if (rc == TRIT_OK) rc = trit_writer_append(c->w, pc->out.p, pc->out.n, err);
    c->done += pc->nr * p->cols;
    if (p->ternarize) {   /* summed in piece order: the same report at any thread count */
        p->err_sq = pc->first ? pc->err_sq : p->err_sq + pc->err_sq;
        p->max_err = pc->first || pc->err_max > p->max_err ? pc->err_max : p->max_err;
        if (pc->last) cvt__absmean_err(p, p->err_sq, p->max_err);
    }
    if (rc == TRIT_OK && pc->last) {
        if (p->ternary) {
            cvt_emit e;
            memset(&e, 0, sizeof e);
            e.sink = writer_sink;
            e.sink_ctx = c->w;
            trit_tensor_info ti;
            cvt__describe(p, &ti);
            rc = cvt__t2_tail(&e, p, &ti, pc->scales, err);
        }
        if (rc == TRIT_OK) rc = trit_writer_end(c->w, err);
        if (rc == TRIT_OK && c->o->progress) c->o->progress(c->o->progress_ctx, c->done, c->total, p->name);
    }
    return rc;
}

/* Ready a slot for its next piece; its packer and buffers stay for it (fin: free them too). */
static void piece_release(piece *pc, int fin)
{
    free(pc->member_xxh3);
    if (pc->kind == PIECE_ROWS && pc->last) free(pc->scales);
    trit_unit_packer *const pk = pc->pk;
    float *const fb = pc->fbuf;
    buf_sink out = pc->out;
    out.n = 0;
    if (fin) {
        free(fb);
        free(out.p);
    }
    memset(pc, 0, sizeof *pc);
    pc->pk = pk;
    if (!fin) {
        pc->fbuf = fb;
        pc->out = out;
    }
}

int cvt__write_all(cvt_conv *c, cvt_plan_t **ex, uint32_t n_ex, trit_err *err)
{
    uint32_t const slots = WINDOW * (c->threads ? c->threads : 1);
    piece *ring = calloc(slots, sizeof *ring);
    if (!ring) return nomem(err);
    int rc = TRIT_OK;
    int const lvl = c->o->zstd_level ? c->o->zstd_level : CVT_DEFAULT_ZSTD_LEVEL;
    for (uint32_t s = 0; s < slots && rc == TRIT_OK; s++) rc = trit_unit_packer_new(lvl, &ring[s].pk, err);
    cursor cu;
    memset(&cu, 0, sizeof cu);
    uint64_t head = 0, tail = 0;   /* pieces [tail, head) are in flight, in ring[index % slots] */
    int more = rc == TRIT_OK;
    while (rc == TRIT_OK && (more || tail < head)) {
        while (more && head - tail < slots) {
            piece *pc = &ring[head % slots];
            pc->c = c;
            int got = 0;
            if ((rc = next_piece(c, ex, n_ex, &cu, pc, &got, err)) || !got) {
                more = 0;
                break;
            }
            head++;
            if (pc->kind != PIECE_INLINE) {
                pc->job.fn = piece_run;
                trit_pool_submit(c->pool, &pc->job);
            }
        }
        if (rc || tail == head) break;
        piece *pc = &ring[tail % slots];
        if (pc->kind != PIECE_INLINE) trit_pool_wait(c->pool, &pc->job);
        rc = consume(c, pc, err);
        piece_release(pc, 0);
        tail++;
    }
    /* after an error: wait for every job still out (they write into the ring), then free */
    for (; tail < head; tail++) {
        piece *pc = &ring[tail % slots];
        if (pc->kind != PIECE_INLINE) trit_pool_wait(c->pool, &pc->job);
        piece_release(pc, 0);
    }
    for (uint32_t s = 0; s < slots; s++) piece_release(&ring[s], 1);
    free(cu.scales);
    for (uint32_t s = 0; s < slots; s++) trit_unit_packer_free(ring[s].pk);
    free(ring);
    return rc;
}
