/* fuzz_bundle.c - the bundle reader on arbitrary bytes, from memory. Invariants when it
 * accepts: each file's member reached the sink exactly once, with exactly the manifest's size
 * and SHA-256, begin/write/end in order, and never more bytes than the input holds (nothing
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
    crypto_hash_sha256_state st;
} fsink;

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
    crypto_hash_sha256_init(&s->st);
    return TRIT_OK;
}

static int f_write(void *ctx, const void *p, size_t n, trit_err *err)
{
    (void)err;
    fsink *const s = ctx;
    FUZZ_ASSERT(s->open);
    s->got += n;
    s->total += n;
    FUZZ_ASSERT(s->got <= pack_manifest_member(s->m, s->cur)->size);
    crypto_hash_sha256_update(&s->st, p, n);
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
    FUZZ_ASSERT(s->got == b->size && memcmp(d, b->digest, sizeof d) == 0);
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
