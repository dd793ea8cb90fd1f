/* pack_hash.c - chunked SHA-256: the whole-file digest and the per-chunk digests the manifest
 * lists, computed in one streaming pass with bounded memory.
 *
 * The two digests cover the same bytes, so they are two independent streams: the caller's
 * thread runs the whole-file one while a lane thread runs the chunk one (started at init when
 * possible; without it both run on the caller's thread, same results). The lane works on the
 * caller's buffer during pack_hasher_update only: update returns after both streams are done
 * with it, so the caller may reuse the buffer at once and errors arrive in stream order. */
#include <string.h>

#include "pack_int.h"

/* The chunk stream: h->chunk over [p, p + n), chunk digests closed as they complete. */
static int chunk_update(pack_hasher *h, const uint8_t *b, size_t n, const char *what, trit_err *err);

static void *lane_main(void *arg)
{
    pack_hasher *const h = arg;
    pthread_mutex_lock(&h->mu);
    for (;;) {
        while (!h->job && !h->quit) pthread_cond_wait(&h->cv, &h->mu);
        if (h->quit) break;
        const uint8_t *const p = h->job_p;
        size_t const n = h->job_n;
        const char *const what = h->job_what;
        pack_side_fn const side = h->job_side;
        void *const side_ctx = h->job_side_ctx;
        pthread_mutex_unlock(&h->mu);
        trit_err_clear(&h->lane_err);
        int rc = chunk_update(h, p, n, what, &h->lane_err);
        if (rc == TRIT_OK && side) rc = side(side_ctx, p, n, &h->lane_err);
        pthread_mutex_lock(&h->mu);
        h->lane_rc = rc;
        h->job = 0;
        pthread_cond_broadcast(&h->cv);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

int pack_hasher_init(pack_hasher *h, uint64_t chunk_size, const pack_blob *want, uint8_t (*out)[PACK_SHA256_BYTES],
                     uint64_t out_cap, trit_err *err)
{
    memset(h, 0, sizeof *h);
    h->chunk_size = chunk_size;
    h->want = want;
    h->out = out;
    h->out_cap = out_cap;
    int rc = pack_sha_init(&h->all, err);
    if (rc == TRIT_OK && (rc = pack_sha_init(&h->chunk, err)) != TRIT_OK) pack_sha_free(&h->all);
    if (rc != TRIT_OK) return rc;
    /* a lane that cannot start is not an error: the chunk stream then runs inline */
    if (pthread_mutex_init(&h->mu, NULL) != 0) return TRIT_OK;
    if (pthread_cond_init(&h->cv, NULL) != 0) {
        pthread_mutex_destroy(&h->mu);
        return TRIT_OK;
    }
    h->has_sync = 1;
    h->has_lane = trit_sys_thread_start(&h->lane, lane_main, h) == 0;
    return TRIT_OK;
}

void pack_hasher_release(pack_hasher *h)
{
    if (h->has_lane) {
        pthread_mutex_lock(&h->mu);
        h->quit = 1;
        pthread_cond_broadcast(&h->cv);
        pthread_mutex_unlock(&h->mu);
        pthread_join(h->lane, NULL);
        h->has_lane = 0;
    }
    if (h->has_sync) {
        pthread_cond_destroy(&h->cv);
        pthread_mutex_destroy(&h->mu);
        h->has_sync = 0;
    }
    pack_sha_free(&h->all);
    pack_sha_free(&h->chunk);
}

/* The chunk in h->chunk is complete: compare and/or store its digest, start the next one. */
static int close_chunk(pack_hasher *h, uint64_t chunk_len, const char *what, trit_err *err)
{
    uint8_t d[PACK_SHA256_BYTES];
    pack_sha_final(&h->chunk, d);
    uint64_t const idx = h->n_done++;
    uint64_t const start = h->pos - chunk_len;
    if (h->want) {
        if (idx >= h->want->n_chunks)
            return trit_err_set(err, PACK_E_OVERSIZE, start, what,
                                "more data than the manifest's %llu chunks of %llu bytes",
                                (unsigned long long)h->want->n_chunks, (unsigned long long)h->chunk_size);
        if (sodium_memcmp(d, h->want->chunks[idx], PACK_SHA256_BYTES) != 0)
            return trit_err_set(err, PACK_E_DIGEST, start, what,
                                "chunk %llu (bytes %llu..%llu): sha256 differs from the manifest",
                                (unsigned long long)idx, (unsigned long long)start,
                                (unsigned long long)(h->pos - 1));
    }
    if (h->out) {
        if (idx >= h->out_cap)
            return trit_err_set(err, TRIT_E_USAGE, start, what, "more chunks than planned");
        memcpy(h->out[idx], d, PACK_SHA256_BYTES);
    }
    return TRIT_OK;
}

static int chunk_update(pack_hasher *h, const uint8_t *b, size_t n, const char *what, trit_err *err)
{
    while (n) {
        uint64_t const in_chunk = h->pos % h->chunk_size;
        uint64_t const room = h->chunk_size - in_chunk;
        size_t const take = room < n ? (size_t)room : n;
        pack_sha_update(&h->chunk, b, take);
        h->pos += take;
        b += take;
        n -= take;
        if (take == room) {
            int const rc = close_chunk(h, h->chunk_size, what, err);
            if (rc != TRIT_OK) return rc;
        }
    }
    return TRIT_OK;
}

int pack_hasher_update(pack_hasher *h, const void *p, size_t n, const char *what, trit_err *err)
{
    return pack_hasher_update_side(h, p, n, what, NULL, NULL, err);
}

int pack_hasher_update_side(pack_hasher *h, const void *p, size_t n, const char *what, pack_side_fn side,
                            void *side_ctx, trit_err *err)
{
    if (h->failed) return trit_err_set(err, TRIT_E_USAGE, h->pos, what, "hasher used after a failure");
    /* small pieces are not worth a thread handoff */
    if (!h->has_lane || n < (64u << 10)) {
        pack_sha_update(&h->all, p, n);
        int rc = chunk_update(h, p, n, what, err);
        if (rc == TRIT_OK && side) rc = side(side_ctx, p, n, err);
        h->failed = rc != TRIT_OK;
        return rc;
    }
    pthread_mutex_lock(&h->mu);
    h->job_p = p;
    h->job_n = n;
    h->job_what = what;
    h->job_side = side;
    h->job_side_ctx = side_ctx;
    h->job = 1;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    pack_sha_update(&h->all, p, n);
    pthread_mutex_lock(&h->mu);
    while (h->job) pthread_cond_wait(&h->cv, &h->mu);
    int const rc = h->lane_rc;
    pthread_mutex_unlock(&h->mu);
    if (rc != TRIT_OK) {
        h->failed = 1;
        if (err) *err = h->lane_err;
    }
    return rc;
}

int pack_hasher_final(pack_hasher *h, uint8_t digest[PACK_SHA256_BYTES], const char *what, trit_err *err)
{
    if (h->failed) return trit_err_set(err, TRIT_E_USAGE, h->pos, what, "hasher used after a failure");
    uint64_t const tail = h->pos % h->chunk_size;
    if (tail) {
        int const rc = close_chunk(h, tail, what, err);
        if (rc != TRIT_OK) return rc;
    }
    if (h->want && h->n_done != h->want->n_chunks)
        return trit_err_set(err, PACK_E_DIGEST, h->pos, what, "%llu chunks, the manifest lists %llu",
                            (unsigned long long)h->n_done, (unsigned long long)h->want->n_chunks);
    pack_sha_final(&h->all, digest);
    return TRIT_OK;
}
