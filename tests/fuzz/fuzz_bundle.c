/* fuzz_bundle.c - the bundle reader on arbitrary bytes, from memory. Invariants when it
 * accepts: each file's member reached the sink exactly once, with exactly the manifest's size
 * and digests (every chunk's SHA-256; v2: the root over them, v1: the SHA-256, both computed
 * here with libsodium, not the reader's libcrypto), begin/write/end in order, and never more bytes than the input holds (nothing
 * expands: no decompression bomb). A signed bundle is also read with the seed key of the
 * committed seeds, which must agree or refuse only the signature. */
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "pack_int.h"

typedef struct fsink {
    const pack_manifest *m;
    uint8_t seen[TRIT_MAX_BUNDLE_FILES];
    int open;                  /* a member is between begin and end */
    uint32_t cur;
    uint64_t got, total;
    crypto_hash_sha256_state st, chunk;
    uint64_t n_chunk;          /* chunks closed in the member */
} fsink;

/* The chunk in s->chunk is complete: it must be the manifest's. */
static void close_chunk(fsink *s, const pack_blob *b)
{
    uint8_t d[PACK_SHA256_BYTES];
    crypto_hash_sha256_final(&s->chunk, d);
    FUZZ_ASSERT(s->n_chunk < b->n_chunks && memcmp(d, b->chunks[s->n_chunk], sizeof d) == 0);
    s->n_chunk++;
    crypto_hash_sha256_init(&s->chunk);
}

static int f_manifest(void *ctx, const pack_manifest *m, trit_err *err)
{
    (void)err;
    fsink *const s = ctx;
    FUZZ_ASSERT(s->m == NULL);
    s->m = m;
    return TRIT_OK;
}

static int f_begin(void *ctx, uint32_t i, trit_err *err)
{
    (void)err;
    fsink *const s = ctx;
    FUZZ_ASSERT(s->m && !s->open && i < s->m->n_files && !s->seen[i]);
    s->seen[i] = 1;
    s->open = 1;
    s->cur = i;
    s->got = 0;
    s->n_chunk = 0;
    crypto_hash_sha256_init(&s->st);
    crypto_hash_sha256_init(&s->chunk);
    return TRIT_OK;
}

static int f_write(void *ctx, const void *p, size_t n, trit_err *err)
{
    (void)err;
    fsink *const s = ctx;
    FUZZ_ASSERT(s->open);
    s->total += n;
    pack_blob const *const b = pack_manifest_member(s->m, s->cur);
    FUZZ_ASSERT(s->got + n <= b->size);
    crypto_hash_sha256_update(&s->st, p, n);
    const uint8_t *q = p;
    uint64_t const cs = s->m->chunk_size;
    while (n) {
        uint64_t const room = cs - s->got % cs;
        size_t const take = room < n ? (size_t)room : n;
        crypto_hash_sha256_update(&s->chunk, q, take);
        s->got += take;
        q += take;
        n -= take;
        if (s->got % cs == 0) close_chunk(s, b);
    }
    return TRIT_OK;
}

static int f_end(void *ctx, trit_err *err)
{
    (void)err;
    fsink *const s = ctx;
    FUZZ_ASSERT(s->open);
    s->open = 0;
    pack_blob const *const b = pack_manifest_member(s->m, s->cur);
    uint8_t d[PACK_SHA256_BYTES];
    crypto_hash_sha256_final(&s->st, d);
    FUZZ_ASSERT(s->got == b->size);
    if (s->got % s->m->chunk_size) close_chunk(s, b);
    FUZZ_ASSERT(s->n_chunk == b->n_chunks);
    if (s->m->schema == PACK_MANIFEST_V1) {
        FUZZ_ASSERT(memcmp(d, b->digest, sizeof d) == 0);
    } else {
        uint8_t head[32] = "trit-ota-root/2";
        for (unsigned i = 0; i < 8; i++) {
            head[16 + i] = (uint8_t)(s->m->chunk_size >> (8 * i));
            head[24 + i] = (uint8_t)(b->size >> (8 * i));
        }
        crypto_hash_sha256_state r;
        crypto_hash_sha256_init(&r);
        crypto_hash_sha256_update(&r, head, sizeof head);
        crypto_hash_sha256_update(&r, (const uint8_t *)b->chunks, b->n_chunks * PACK_SHA256_BYTES);
        crypto_hash_sha256_final(&r, d);
        FUZZ_ASSERT(memcmp(d, b->digest, sizeof d) == 0);
    }
    return TRIT_OK;
}

FUZZ_TARGET(bundle)
{
    if (size > FUZZ_MAX_INPUT) return 0;
    if (pack_sodium_init(NULL) != TRIT_OK) return 0;
    fsink *const s = calloc(1, sizeof *s);
    if (!s) return 0;
    pack_sink const sink = {s, f_manifest, f_begin, f_write, f_end};
    pack_read_opts o;
    memset(&o, 0, sizeof o);
    o.skip_signature = 1;
    pack_manifest *m = NULL;
    trit_err err;
    trit_err_clear(&err);
    int const rc = pack_bundle_read_mem(data, size, "fuzz", &o, &sink, &m, &err);
    if (rc != TRIT_OK) {
        FUZZ_ASSERT(m == NULL && err.code == rc && err.msg[0]);
    } else {
        FUZZ_ASSERT(m && s->m == m && !s->open);
        for (uint32_t i = 0; i < m->n_files; i++) FUZZ_ASSERT(s->seen[i]);
        FUZZ_ASSERT(s->total <= size);
        if (m->has_sig) {
            uint8_t seed[PACK_SEED_BYTES], pk[PACK_PUBKEY_BYTES];
            for (uint32_t i = 0; i < PACK_SEED_BYTES; i++) seed[i] = (uint8_t)(i + 1);
            FUZZ_ASSERT(pack_key_public(seed, pk, NULL) == TRIT_OK);
            o.skip_signature = 0;
            o.pubkey = pk;
            int const rc2 = pack_bundle_read_mem(data, size, "fuzz", &o, NULL, NULL, &err);
            FUZZ_ASSERT(rc2 == TRIT_OK || rc2 == PACK_E_SIGNATURE);
        }
    }
    pack_manifest_free(m);
    free(s);
    return 0;
}
