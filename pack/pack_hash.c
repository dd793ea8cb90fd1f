/* pack_hash.c - chunked SHA-256 (libsodium): the whole-file digest and the per-chunk digests
 * the manifest lists, computed in one streaming pass with bounded memory. */
#include <string.h>

#include "pack_int.h"

void pack_hasher_init(pack_hasher *h, uint64_t chunk_size, const pack_blob *want,
                      uint8_t (*out)[PACK_SHA256_BYTES], uint64_t out_cap)
{
    memset(h, 0, sizeof *h);
    crypto_hash_sha256_init(&h->all);
    crypto_hash_sha256_init(&h->chunk);
    h->chunk_size = chunk_size;
    h->want = want;
    h->out = out;
    h->out_cap = out_cap;
}

/* The chunk in h->chunk is complete: compare and/or store its digest, start the next one. */
static int close_chunk(pack_hasher *h, uint64_t chunk_len, const char *what, trit_err *err)
{
    uint8_t d[PACK_SHA256_BYTES];
    crypto_hash_sha256_final(&h->chunk, d);
    crypto_hash_sha256_init(&h->chunk);
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

int pack_hasher_update(pack_hasher *h, const void *p, size_t n, const char *what, trit_err *err)
{
    const uint8_t *b = p;
    crypto_hash_sha256_update(&h->all, b, n);
    while (n) {
        uint64_t const in_chunk = h->pos % h->chunk_size;
        uint64_t const room = h->chunk_size - in_chunk;
        size_t const take = room < n ? (size_t)room : n;
        crypto_hash_sha256_update(&h->chunk, b, take);
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

int pack_hasher_final(pack_hasher *h, uint8_t digest[PACK_SHA256_BYTES], const char *what, trit_err *err)
{
    uint64_t const tail = h->pos % h->chunk_size;
    if (tail) {
        int const rc = close_chunk(h, tail, what, err);
        if (rc != TRIT_OK) return rc;
    }
    if (h->want && h->n_done != h->want->n_chunks)
        return trit_err_set(err, PACK_E_DIGEST, h->pos, what, "%llu chunks, the manifest lists %llu",
                            (unsigned long long)h->n_done, (unsigned long long)h->want->n_chunks);
    crypto_hash_sha256_final(&h->all, digest);
    return TRIT_OK;
}
