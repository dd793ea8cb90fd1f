/* pack_digest.c - chunk digests on the thread pool, and the two-buffer stream around them.
 *
 * Why chunks and a root (manifest v2): a whole-file SHA-256 is one sequential stream, so it
 * cannot use more than one core, and v1 also needed every chunk's digest: every byte was
 * hashed twice. v2's file digest is a SHA-256 over the chunk digests, so each byte is hashed
 * once, and the chunks of a window are independent jobs on the pool.
 *
 * A window is cut at chunk boundaries into about target_jobs jobs, each hashing whole chunks
 * in order with its own context; a chunk cut by the window's end stays in the last job's
 * context, which becomes ctx[0] for the next window (whose first job continues it). Jobs write
 * each closed chunk's digest into its own slot of `win`; the caller compares or stores them in
 * chunk order after the wait, so the results, and which error is reported, do not depend on
 * the thread count or on which job finished first. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "pack_int.h"

#define WIN_MIN (4u << 20)
#define WIN_MAX (32u << 20)

size_t pack_window_bytes(uint32_t threads, uint64_t chunk_size)
{
    uint64_t const t = threads ? threads : 1;
    uint64_t w = 2 * t * chunk_size;
    if (w < WIN_MIN) w = WIN_MIN;
    if (w > WIN_MAX) w = WIN_MAX;
    if (chunk_size <= w) w -= w % chunk_size;
    return (size_t)w;
}

/* Chunks of the stream that are closed once `at` bytes are hashed. */
static uint64_t closed_at(const pack_digester *d, uint64_t at)
{
    return at >= d->size ? pack_n_chunks(d->size, d->chunk_size) : at / d->chunk_size;
}

static void job_main(trit_pool_job *job)
{
    pack_dg_job *const j = (pack_dg_job *)job;
    pack_digester *const d = j->d;
    if (j->whole) {
        pack_sha_update(&d->whole, j->p, j->n);
        return;
    }
    pack_sha *const s = &d->ctx[j->slot];
    uint64_t off = j->off;
    const uint8_t *p = j->p;
    uint64_t const end = j->off + j->n;
    while (off < end) {
        uint64_t const c = off / d->chunk_size;
        uint64_t cend = (c + 1) * d->chunk_size;
        if (cend > d->size) cend = d->size;
        uint64_t const stop = cend < end ? cend : end;
        pack_sha_update(s, p, (size_t)(stop - off));
        p += stop - off;
        off = stop;
        if (off == cend) pack_sha_final(s, d->win[c - d->win_first]);
    }
}

int pack_digester_init(pack_digester *d, trit_pool *pool, uint32_t threads, size_t window, int v1, uint64_t chunk_size,
                       uint64_t size, const pack_blob *want, uint8_t (*out)[PACK_SHA256_BYTES], trit_err *err)
{
    memset(d, 0, sizeof *d);
    d->pool = pool;
    d->v1 = v1;
    d->chunk_size = chunk_size;
    d->size = size;
    d->want = want;
    d->out = out;
    d->target_jobs = 2 * (threads ? threads : 1);
    /* a window of `window` bytes at any offset: at most target_jobs + 1 jobs (the first may end
     * a carried chunk), and window / chunk_size + 1 closed chunks */
    d->max_jobs = d->target_jobs + 2;
    d->win_cap = window / chunk_size + 2;
    d->jobs = calloc(d->max_jobs + 1, sizeof *d->jobs);   /* + the whole-stream job */
    d->ctx = calloc(d->max_jobs, sizeof *d->ctx);
    d->win = trit_mallocarray((size_t)d->win_cap, PACK_SHA256_BYTES);
    if (!d->jobs || !d->ctx || !d->win) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    for (; d->n_ctx < d->max_jobs; d->n_ctx++) {
        int const rc = pack_sha_init(&d->ctx[d->n_ctx], err);
        if (rc != TRIT_OK) return rc;
    }
    if (v1) {
        int const rc = pack_sha_init(&d->whole, err);
        if (rc != TRIT_OK) return rc;
        d->has_whole = 1;
    }
    return TRIT_OK;
}

/* Wait for every job of the window in flight (they borrow the caller's buffer and contexts). */
static void wait_jobs(pack_digester *d)
{
    for (uint32_t i = 0; i <= d->max_jobs && d->n_jobs; i++)
        if (d->jobs[i].d) {
            trit_pool_wait(d->pool, &d->jobs[i].job);
            d->jobs[i].d = NULL;
        }
    d->n_jobs = 0;
}

void pack_digester_release(pack_digester *d)
{
    if (d->jobs) wait_jobs(d);
    for (uint32_t i = 0; d->ctx && i < d->n_ctx; i++) pack_sha_free(&d->ctx[i]);
    if (d->has_whole) pack_sha_free(&d->whole);
    free(d->jobs);
    free(d->ctx);
    free(d->win);
    memset(d, 0, sizeof *d);
}

static void add_job(pack_digester *d, uint32_t idx, uint32_t slot, int whole, const uint8_t *p, uint64_t off, size_t n)
{
    pack_dg_job *const j = &d->jobs[idx];
    memset(j, 0, sizeof *j);
    j->job.fn = job_main;
    j->d = d;
    j->slot = slot;
    j->whole = whole;
    j->p = p;
    j->off = off;
    j->n = n;
    d->n_jobs++;
    trit_pool_submit(d->pool, &j->job);
}

int pack_digester_submit(pack_digester *d, const void *buf, size_t n, const char *what, trit_err *err)
{
    int rc = pack_digester_wait(d, what, err);
    if (rc != TRIT_OK) return rc;
    if (n > d->size - d->pos) {
        d->failed = 1;
        return trit_err_set(err, PACK_E_OVERSIZE, d->size, what, "more data than the manifest's %llu bytes",
                            (unsigned long long)d->size);
    }
    if (!n) return TRIT_OK;
    const uint8_t *const p = buf;
    uint64_t const cs = d->chunk_size;
    uint64_t const start = d->pos, end = d->pos + n;
    d->win_first = start / cs;
    d->win_n = closed_at(d, end) - closed_at(d, start);
    if (d->win_n > d->win_cap) return trit_err_set(err, TRIT_E_USAGE, start, what, "window larger than planned");
    /* the v1 whole-stream job first: it is the longest */
    if (d->v1) add_job(d, d->max_jobs, 0, 1, p, start, n);
    uint64_t step = (n + d->target_jobs - 1) / d->target_jobs;
    step = trit_div_ceil(step, cs) * cs;
    uint32_t k = 0;
    for (uint64_t a = start; a < end; k++) {
        uint64_t b = (a + step) / cs * cs;
        if (b <= a) b = (a / cs + 1) * cs;
        if (b > end) b = end;
        if (k >= d->max_jobs) return trit_err_set(err, TRIT_E_USAGE, a, what, "window cut into too many jobs");
        add_job(d, k, k, 0, p + (a - start), a, (size_t)(b - a));
        a = b;
    }
    d->pos = end;
    return TRIT_OK;
}

int pack_digester_wait(pack_digester *d, const char *what, trit_err *err)
{
    if (d->failed) return trit_err_set(err, TRIT_E_USAGE, d->pos, what, "digests used after a failure");
    if (!d->n_jobs) return TRIT_OK;
    /* which job ended the window mid-chunk (its context carries on as ctx[0]) */
    uint32_t last = 0;
    for (uint32_t i = 0; i < d->max_jobs; i++)
        if (d->jobs[i].d && !d->jobs[i].whole) last = i;
    uint64_t const end = d->jobs[last].off + d->jobs[last].n;
    wait_jobs(d);
    if (end % d->chunk_size && end < d->size && last) {
        pack_sha const t = d->ctx[0];
        d->ctx[0] = d->ctx[last];
        d->ctx[last] = t;
    }
    for (uint64_t k = 0; k < d->win_n; k++) {
        uint64_t const c = d->win_first + k;
        uint64_t const at = c * d->chunk_size;
        if (d->want) {
            if (c >= d->want->n_chunks) {
                d->failed = 1;
                return trit_err_set(err, PACK_E_OVERSIZE, at, what, "more data than the manifest's %llu chunks of %llu bytes",
                                    (unsigned long long)d->want->n_chunks, (unsigned long long)d->chunk_size);
            }
            if (sodium_memcmp(d->win[k], d->want->chunks[c], PACK_SHA256_BYTES) != 0) {
                uint64_t last_byte = at + d->chunk_size - 1;
                if (last_byte >= d->size) last_byte = d->size - 1;
                d->failed = 1;
                d->fail_chunk = c;
                return trit_err_set(err, PACK_E_DIGEST, at, what, "chunk %llu (bytes %llu..%llu): sha256 differs from the manifest",
                                    (unsigned long long)c, (unsigned long long)at, (unsigned long long)last_byte);
            }
        }
        if (d->out) memcpy(d->out[c], d->win[k], PACK_SHA256_BYTES);
    }
    d->win_n = 0;
    return TRIT_OK;
}

int pack_digester_final(pack_digester *d, uint8_t digest[PACK_SHA256_BYTES], const char *what, trit_err *err)
{
    int rc = pack_digester_wait(d, what, err);
    if (rc != TRIT_OK) return rc;
    if (d->pos != d->size)
        return trit_err_set(err, PACK_E_TRUNCATED, d->pos, what, "%llu bytes, the manifest says %llu", (unsigned long long)d->pos,
                            (unsigned long long)d->size);
    uint64_t const n = pack_n_chunks(d->size, d->chunk_size);
    if (d->want && d->want->n_chunks != n)
        return trit_err_set(err, PACK_E_DIGEST, d->pos, what, "%llu chunks, the manifest lists %llu", (unsigned long long)n,
                            (unsigned long long)d->want->n_chunks);
    uint8_t got[PACK_SHA256_BYTES];
    if (d->v1) {
        pack_sha_final(&d->whole, got);
    } else {
        /* every chunk matched want's (or was stored in out): the root over them */
        const uint8_t (*ch)[PACK_SHA256_BYTES] = NULL;
        if (d->out) ch = (const uint8_t (*)[PACK_SHA256_BYTES])d->out;
        else if (d->want) ch = (const uint8_t (*)[PACK_SHA256_BYTES])d->want->chunks;
        if (!ch && n) return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, what, "no chunk digests to make a root of");
        if ((rc = pack_root(d->chunk_size, d->size, ch, got, err)) != TRIT_OK) return rc;
    }
    if (d->want && sodium_memcmp(got, d->want->digest, sizeof got) != 0)
        return trit_err_set(err, PACK_E_DIGEST, 0, what, d->v1 ? "sha256 differs from the manifest" : "root differs from the manifest");
    if (digest) memcpy(digest, got, sizeof got);
    return TRIT_OK;
}

int pack_root(uint64_t chunk_size, uint64_t size, const uint8_t (*chunks)[PACK_SHA256_BYTES], uint8_t out[PACK_SHA256_BYTES],
              trit_err *err)
{
    uint8_t head[sizeof PACK_ROOT_TAG + 16];   /* the tag with its NUL, then two u64 LE */
    memcpy(head, PACK_ROOT_TAG, sizeof PACK_ROOT_TAG);
    for (unsigned i = 0; i < 8; i++) {
        head[sizeof PACK_ROOT_TAG + i] = (uint8_t)(chunk_size >> (8 * i));
        head[sizeof PACK_ROOT_TAG + 8 + i] = (uint8_t)(size >> (8 * i));
    }
    pack_sha s;
    int const rc = pack_sha_init(&s, err);
    if (rc != TRIT_OK) return rc;
    pack_sha_update(&s, head, sizeof head);
    uint64_t const n = pack_n_chunks(size, chunk_size);
    if (n) pack_sha_update(&s, chunks, (size_t)n * PACK_SHA256_BYTES);
    pack_sha_final(&s, out);
    pack_sha_free(&s);
    return TRIT_OK;
}

int pack_digest_mem(trit_pool *pool, uint32_t threads, int v1, uint64_t chunk_size, const void *p, uint64_t size,
                    const pack_blob *want, uint8_t (*out)[PACK_SHA256_BYTES], uint8_t digest[PACK_SHA256_BYTES], const char *what,
                    trit_err *err)
{
    size_t const w = pack_window_bytes(threads, chunk_size);
    pack_digester d;
    int rc = pack_digester_init(&d, pool, threads, w, v1, chunk_size, size, want, out, err);
    for (uint64_t at = 0; rc == TRIT_OK && at < size; at += w)
        rc = pack_digester_submit(&d, (const uint8_t *)p + at, size - at < w ? (size_t)(size - at) : w, what, err);
    if (rc == TRIT_OK) rc = pack_digester_final(&d, digest, what, err);
    pack_digester_release(&d);
    return rc;
}

/* ---- the stream ---- */

int pack_stream_init(pack_stream *s, trit_pool *pool, uint32_t threads, int v1, uint64_t chunk_size, uint64_t size,
                     const pack_blob *want, uint8_t (*out)[PACK_SHA256_BYTES], pack_side_fn sink, void *sink_ctx,
                     const char *what, trit_err *err)
{
    memset(s, 0, sizeof *s);
    s->cap = pack_window_bytes(threads, chunk_size);
    /* a small stream needs no more than itself (and at least a page) */
    if (size < s->cap) s->cap = size > 4096 ? (size_t)size : 4096;
    s->sink = sink;
    s->sink_ctx = sink_ctx;
    s->what = what;
    int const rc = pack_digester_init(&s->d, pool, threads, s->cap, v1, chunk_size, size, want, out, err);
    if (rc != TRIT_OK) return rc;
    if (!(s->buf[0] = malloc(s->cap)) || !(s->buf[1] = malloc(s->cap)))
        return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    return TRIT_OK;
}

static void verify_job(trit_pool_job *job)
{
    pack_stream *const s = (pack_stream *)((char *)job - offsetof(pack_stream, vjob));
    trit_err_clear(&s->verr);
    s->vrc = trit_verify_stream_feed(s->vs, s->voff, s->vp, s->vn, &s->verr);
}

void pack_stream_verify(pack_stream *s, trit_verify_stream *vs)
{
    s->vs = vs;
    s->vjob.fn = verify_job;
}

int pack_stream_verify_failed(const pack_stream *s)
{
    return s->vs && s->vrc != TRIT_OK;
}

/* Wait for the verification of the window in flight; its failure, if any. */
static int verify_wait(pack_stream *s, trit_err *err)
{
    if (s->vbusy) {
        trit_pool_wait(s->d.pool, &s->vjob);
        s->vbusy = 0;
    }
    if (s->vrc != TRIT_OK && err) *err = s->verr;
    return s->vrc;
}

void pack_stream_release(pack_stream *s)
{
    if (s->vbusy) verify_wait(s, NULL);
    pack_digester_release(&s->d);   /* first: its jobs read the buffers */
    free(s->buf[0]);
    free(s->buf[1]);
    memset(s, 0, sizeof *s);
}

/* Submit the filled window, hand it to the sink while the pool hashes it, switch buffers. The
 * previous window's jobs are waited for (and its digests checked) by the submit. */
static int flush(pack_stream *s, trit_err *err)
{
    if (!s->fill) return TRIT_OK;
    /* the previous window's checks first: the verifier takes the windows in order */
    int rc = verify_wait(s, err);
    if (rc == TRIT_OK) rc = pack_digester_submit(&s->d, s->buf[s->cur], s->fill, s->what, err);
    if (rc == TRIT_OK && s->vs) {
        s->vp = s->buf[s->cur];
        s->vn = s->fill;
        s->voff = s->at;
        s->vbusy = 1;
        trit_pool_submit(s->d.pool, &s->vjob);
    }
    s->at += s->fill;
    /* to the sink in 1 MiB writes: on a disk, one 16 MiB write() of fresh page cache took
     * about twice the time of the same bytes in 1 MiB pieces here (dirty-page throttling) */
    for (size_t off = 0; rc == TRIT_OK && s->sink && off < s->fill; off += PACK_IO_BUF)
        rc = s->sink(s->sink_ctx, s->buf[s->cur] + off, s->fill - off < PACK_IO_BUF ? s->fill - off : PACK_IO_BUF, err);
    s->cur ^= 1;
    s->fill = 0;
    return rc;
}

int pack_stream_space(pack_stream *s, uint8_t **p, size_t *room, trit_err *err)
{
    if (s->fill == s->cap) {
        int const rc = flush(s, err);
        if (rc != TRIT_OK) return rc;
    }
    *room = s->cap - s->fill;
    *p = s->buf[s->cur] + s->fill;
    return TRIT_OK;
}

void pack_stream_commit(pack_stream *s, size_t n)
{
    s->fill += n;
}

int pack_stream_put(pack_stream *s, const void *p, size_t n, trit_err *err)
{
    const uint8_t *q = p;
    while (n) {
        size_t room;
        uint8_t *dst;
        int const rc = pack_stream_space(s, &dst, &room, err);
        if (rc != TRIT_OK) return rc;
        size_t const k = room < n ? room : n;
        memcpy(dst, q, k);
        pack_stream_commit(s, k);
        q += k;
        n -= k;
    }
    return TRIT_OK;
}

int pack_stream_final(pack_stream *s, uint8_t digest[PACK_SHA256_BYTES], trit_err *err)
{
    int rc = flush(s, err);
    if (rc == TRIT_OK) rc = verify_wait(s, err);
    if (rc != TRIT_OK) return rc;
    return pack_digester_final(&s->d, digest, s->what, err);
}
