/* test_pack_sha.c - issue 14 item 5: bundle digests through libcrypto (SHA-NI / ARMv8 SHA2
 * picked at run time) must equal libsodium's portable SHA-256 on every length, the two-lane
 * chunked hasher must equal one-shot digests of the whole and of every chunk, and a bundle
 * written by the previous `trit pack` (before libcrypto and the single-read pack) must still
 * install, and be reproduced byte for byte by this one. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "pack_int.h"
#include "test.h"

/* BLAKE3's test input: the cycle of 251 (never zeros) */
static void cycle251(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(i % 251);
}

TEST(pack_sha_libcrypto_matches_libsodium)
{
    static const size_t lens[] = {0,    1,    3,    55,   56,    57,    63,    64,      65,          111, 127,
                                  128,  129,  1000, 4095, 4096,  4097,  65535, 65536,   65537,       (1u << 20) + 3};
    size_t const cap = (1u << 20) + 3;
    uint8_t *buf = malloc(cap);
    CHECK(buf != NULL && sodium_init() >= 0);
    if (!buf) return;
    cycle251(buf, cap);
    trit_err e;
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        uint8_t a[32], b[32], c[32];
        CHECK_OK_E(pack_sha256(buf, lens[i], a, &e), &e);
        crypto_hash_sha256(b, buf, lens[i]);
        CHECK(memcmp(a, b, 32) == 0);
        /* the same message in odd pieces, through one context reused after a final */
        pack_sha s;
        CHECK_OK_E(pack_sha_init(&s, &e), &e);
        pack_sha_update(&s, "x", 1);
        pack_sha_final(&s, c);   /* a first message, then the context starts over */
        for (size_t off = 0, step = 1; off < lens[i]; off += step, step = step * 3 + 1)
            pack_sha_update(&s, buf + off, step < lens[i] - off ? step : lens[i] - off);
        pack_sha_final(&s, c);
        pack_sha_free(&s);
        CHECK(memcmp(c, b, 32) == 0);
    }
    free(buf);
}

TEST(pack_hasher_two_lanes_match_one_shot)
{
    /* 3 MiB + 5 in updates of sizes around the lane threshold (64 KiB), 64 KiB chunks */
    size_t const n = (3u << 20) + 5, chunk = 65536;
    uint8_t *buf = malloc(n);
    CHECK(buf != NULL && sodium_init() >= 0);
    if (!buf) return;
    cycle251(buf, n);
    uint64_t const n_chunks = pack_n_chunks(n, chunk);
    uint8_t (*got)[PACK_SHA256_BYTES] = calloc(n_chunks, PACK_SHA256_BYTES);
    CHECK(got != NULL);
    if (!got) {
        free(buf);
        return;
    }
    trit_err e;
    pack_hasher h;
    CHECK_OK_E(pack_hasher_init(&h, chunk, NULL, got, n_chunks, &e), &e);
    static const size_t steps[] = {1, 65535, 65536, 65537, 200000, 3, 1u << 20, 7};
    size_t off = 0;
    for (size_t k = 0; off < n; k++) {
        size_t const s = steps[k % (sizeof steps / sizeof steps[0])];
        size_t const take = s < n - off ? s : n - off;
        CHECK_OK_E(pack_hasher_update(&h, buf + off, take, "test", &e), &e);
        off += take;
    }
    uint8_t all[32], want[32];
    CHECK_OK_E(pack_hasher_final(&h, all, "test", &e), &e);
    pack_hasher_release(&h);
    crypto_hash_sha256(want, buf, n);
    CHECK(memcmp(all, want, 32) == 0);
    for (uint64_t c = 0; c < n_chunks; c++) {
        size_t const len = c + 1 < n_chunks ? chunk : n - c * chunk;
        crypto_hash_sha256(want, buf + c * chunk, len);
        CHECK(memcmp(got[c], want, 32) == 0);
    }
    /* checking mode: one wrong chunk digest is found, by index */
    pack_blob b;
    memset(&b, 0, sizeof b);
    b.size = n;
    b.n_chunks = n_chunks;
    b.chunks = got;
    got[17][3] ^= 1;
    CHECK_OK_E(pack_hasher_init(&h, chunk, &b, NULL, 0, &e), &e);
    int rc = TRIT_OK;
    for (off = 0; off < n && rc == TRIT_OK; off += 1u << 20)
        rc = pack_hasher_update(&h, buf + off, n - off < (1u << 20) ? n - off : (1u << 20), "test", &e);
    pack_hasher_release(&h);
    CHECK_EQ_INT(rc, PACK_E_DIGEST);
    CHECK(strstr(e.msg, "chunk 17 ") != NULL);
    free(got);
    free(buf);
}

/* tests/golden/pack-v1: v1.bundle.zst, a signed full bundle made by `trit pack` before this
 * change (the main branch at 4c7c949: libsodium SHA-256, two reads per input):
 *   trit-gen trit --layers 1 --embd 64 --ff 64 --vocab 300 --experts 2 --experts-used 1
 *            --heads 2 --kv-heads 1 -o model.trit
 *   trit pack model.trit -o v1.bundle --model-id golden/pack-v1 --version 3 --min-runtime 0.1.0
 *            --key k.key --chunk-size 4K
 * and the key pair it was signed with (k.key is a test key, nothing else trusts it). */
#define GOLDEN_SHA256 "cf017f2688e34478efabae74455c1de6ad80ec638bffcbc013e72f0251668efe"

TEST(pack_golden_v1_bundle_installs_and_is_reproduced)
{
    const char *const gd = "tests/golden/pack-v1";
    size_t zlen = 0;
    uint8_t *z = test_read_file(test_path(gd, "v1.bundle.zst"), &zlen);
    if (!z) SKIP("tests/golden/pack-v1 not found (run from the source tree)");
    unsigned long long const n = ZSTD_getFrameContentSize(z, zlen);
    CHECK(n != ZSTD_CONTENTSIZE_ERROR && n != ZSTD_CONTENTSIZE_UNKNOWN && n < (1u << 24));
    uint8_t *b = n < (1u << 24) ? malloc((size_t)n) : NULL;
    CHECK(b != NULL && ZSTD_decompress(b, (size_t)n, z, zlen) == n);
    free(z);
    if (!b) return;
    uint8_t d[32];
    char hex[65];
    trit_err e;
    CHECK_OK_E(pack_sha256(b, (size_t)n, d, &e), &e);
    pack_hex(d, 32, hex);
    CHECK_STR(hex, GOLDEN_SHA256);   /* the test data itself is intact */
    const char *dir = test_tmpdir();
    char bundle[4096];
    snprintf(bundle, sizeof bundle, "%s/golden-v1.bundle", dir);
    CHECK_EQ_INT(test_write_file(bundle, b, (size_t)n), 0);
    free(b);
    /* the old bundle installs, and what it installs verifies */
    CHECK_EQ_INT(test_runf(NULL, "%s unpack %s -C %s/golden-inst --pubkey %s/k.pub 2>&1", test_trit_bin(), bundle, dir, gd), 0);
    CHECK_EQ_INT(test_runf(NULL, "%s verify %s/golden-inst/model.trit 2>&1", test_trit_bin(), dir), 0);
    /* this pack makes the same bytes from the same container and key */
    CHECK_EQ_INT(test_runf(NULL,
                           "%s pack %s/golden-inst/model.trit -o %s/golden-new.bundle --model-id golden/pack-v1 --version 3 "
                           "--min-runtime 0.1.0 --key %s/k.key --chunk-size 4K 2>&1",
                           test_trit_bin(), dir, dir, gd),
                 0);
    CHECK_EQ_INT(test_runf(NULL, "cmp %s %s/golden-new.bundle 2>&1", bundle, dir), 0);
    /* a byte of the carried container changed: its chunk digest refuses it (exit 12, digest) */
    size_t len = 0;
    uint8_t *nb = test_read_file(test_path(dir, "golden-new.bundle"), &len);
    CHECK(nb != NULL && len > 100000);
    if (!nb) return;
    nb[len - 60000] ^= 0x01;
    CHECK_EQ_INT(test_write_file(test_path(dir, "golden-bad.bundle"), nb, len), 0);
    free(nb);
    char *out = NULL;
    int const st = test_runf(&out, "%s unpack %s/golden-bad.bundle -C %s/golden-inst2 --pubkey %s/k.pub 2>&1", test_trit_bin(), dir,
                             dir, gd);
    CHECK_EQ_INT(st, pack_exit_code(PACK_E_DIGEST));
    CHECK(out && strstr(out, "sha256 differs") != NULL);
    free(out);
}
