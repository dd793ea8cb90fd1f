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
#include "trit_pool.h"

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

/* Chunk digests and the v1 whole digest through the pool, at 1, 2 and 8 threads, fed in odd
 * pieces through a stream (windows cut mid-chunk too): the same as one-shot digests. */
static void digests_at(uint32_t threads, const uint8_t *buf, size_t n, size_t chunk, int v1)
{
    uint64_t const n_chunks = pack_n_chunks(n, chunk);
    uint8_t (*got)[PACK_SHA256_BYTES] = calloc(n_chunks, PACK_SHA256_BYTES);
    CHECK(got != NULL);
    if (!got) return;
    trit_err e;
    trit_pool *pool = NULL;
    CHECK_OK_E(trit_pool_new(threads, &pool, &e), &e);
    pack_stream st;
    CHECK_OK_E(pack_stream_init(&st, pool, threads, v1, chunk, n, NULL, got, NULL, NULL, "test", &e), &e);
    static const size_t steps[] = {1, 65535, 65536, 65537, 200000, 3, 1u << 20, 7};
    size_t off = 0;
    for (size_t k = 0; off < n; k++) {
        size_t const s = steps[k % (sizeof steps / sizeof steps[0])];
        size_t const take = s < n - off ? s : n - off;
        CHECK_OK_E(pack_stream_put(&st, buf + off, take, &e), &e);
        off += take;
    }
    uint8_t all[32], want[32];
    CHECK_OK_E(pack_stream_final(&st, all, &e), &e);
    pack_stream_release(&st);
    if (v1) crypto_hash_sha256(want, buf, n);
    for (uint64_t c = 0; c < n_chunks; c++) {
        size_t const len = c + 1 < n_chunks ? chunk : n - c * chunk;
        uint8_t one[32];
        crypto_hash_sha256(one, buf + c * chunk, len);
        CHECK(memcmp(got[c], one, 32) == 0);
    }
    if (!v1) {
        /* the root, by the spec's definition: tag, NUL, u64 LE chunk size and size, digests */
        crypto_hash_sha256_state h;
        crypto_hash_sha256_init(&h);
        uint8_t head[32] = "trit-ota-root/2";
        for (unsigned i = 0; i < 8; i++) {
            head[16 + i] = (uint8_t)((uint64_t)chunk >> (8 * i));
            head[24 + i] = (uint8_t)((uint64_t)n >> (8 * i));
        }
        crypto_hash_sha256_update(&h, head, 32);
        crypto_hash_sha256_update(&h, (const uint8_t *)got, (unsigned long long)n_chunks * 32);
        crypto_hash_sha256_final(&h, want);
    }
    CHECK(memcmp(all, want, 32) == 0);
    /* checking mode: one wrong chunk digest is found, by index, at any thread count */
    pack_blob b;
    memset(&b, 0, sizeof b);
    b.size = n;
    b.n_chunks = n_chunks;
    b.chunks = got;
    memcpy(b.digest, all, 32);
    uint64_t const bad = n_chunks > 17 ? 17 : n_chunks - 1;
    got[bad][3] ^= 1;
    CHECK_OK_E(pack_stream_init(&st, pool, threads, v1, chunk, n, &b, NULL, NULL, NULL, "test", &e), &e);
    int rc = pack_stream_put(&st, buf, n, &e);
    if (rc == TRIT_OK) rc = pack_stream_final(&st, NULL, &e);
    pack_stream_release(&st);
    CHECK_EQ_INT(rc, PACK_E_DIGEST);
    char word[32];
    snprintf(word, sizeof word, "chunk %llu ", (unsigned long long)bad);
    CHECK(strstr(e.msg, word) != NULL);
    trit_pool_free(pool);
    free(got);
}

TEST(pack_digests_match_one_shot_at_1_2_8_threads)
{
    size_t const n = (3u << 20) + 5;
    uint8_t *buf = malloc(n);
    CHECK(buf != NULL && sodium_init() >= 0);
    if (!buf) return;
    cycle251(buf, n);
    static const uint32_t threads[] = {1, 2, 8};
    for (size_t t = 0; t < 3; t++) {
        digests_at(threads[t], buf, n, 65536, 0);
        digests_at(threads[t], buf, n, 65536, 1);
        digests_at(threads[t], buf, n, 4096, 0);
        digests_at(threads[t], buf, n, 1u << 20, 1);
    }
    free(buf);
}

/* A chunk larger than a window (up to 1 GiB chunks are allowed): it is carried across windows
 * in one context. 40 MiB of one chunk of 64 MiB, and 3 chunks of 16 MiB + a tail. */
TEST(pack_digests_chunk_spans_windows)
{
    size_t const n = (40u << 20) + 3;
    uint8_t *buf = malloc(n);
    CHECK(buf != NULL && sodium_init() >= 0);
    if (!buf) return;
    cycle251(buf, n);
    for (uint32_t t = 1; t <= 2; t++) {
        digests_at(t, buf, n, 64u << 20, 0);
        digests_at(t * 4, buf, n, 16u << 20, 0);
    }
    free(buf);
}

/* Decompress tests/golden/DIR/NAME into test_tmpdir()/OUT, check its SHA-256 (the test data
 * is intact). Returns 0, or -1 when the golden data is not there (the caller skips). */
static int golden_bundle(const char *gdir, const char *name, const char *sha_hex, const char *out)
{
    size_t zlen = 0;
    uint8_t *z = test_read_file(test_path(gdir, name), &zlen);
    if (!z) return -1;
    unsigned long long const n = ZSTD_getFrameContentSize(z, zlen);
    CHECK(n != ZSTD_CONTENTSIZE_ERROR && n != ZSTD_CONTENTSIZE_UNKNOWN && n < (1u << 24));
    uint8_t *b = n < (1u << 24) ? malloc((size_t)n) : NULL;
    CHECK(b != NULL && ZSTD_decompress(b, (size_t)n, z, zlen) == n);
    free(z);
    if (!b) return 0;
    uint8_t d[32];
    char hex[65];
    trit_err e;
    CHECK_OK_E(pack_sha256(b, (size_t)n, d, &e), &e);
    pack_hex(d, 32, hex);
    CHECK_STR(hex, sha_hex);
    CHECK_EQ_INT(test_write_file(test_path(test_tmpdir(), out), b, (size_t)n), 0);
    free(b);
    return 0;
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
    /* this pack makes the same bytes from the same container and key, asked for manifest v1 */
    CHECK_EQ_INT(test_runf(NULL,
                           "%s pack %s/golden-inst/model.trit -o %s/golden-new.bundle --model-id golden/pack-v1 --version 3 "
                           "--min-runtime 0.1.0 --key %s/k.key --chunk-size 4K --manifest-version 1 --threads 2 2>&1",
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

/* tests/golden/pack-v2: v2.bundle.zst, a signed manifest-v2 bundle of the same container as
 * pack-v1 (installed from v1.bundle), made by this `trit pack` with the pack-v1 key:
 *   trit pack model.trit -o v2.bundle --model-id golden/pack-v2 --version 4 --min-runtime 0.1.0
 *            --key k.key --chunk-size 4K
 * Its root was checked against Python's hashlib when it was made (SHA-256 of
 * "trit-ota-root/2" NUL, u64 LE chunk size and size, the chunk digests). This pack must make
 * the same bytes at 1, 2 and 8 threads, and the bundle must install. */
#define GOLDEN_V2_SHA256 "47a1632135f9ffebd40504838e8a876c046116097a45d7d0f2778818dcb7cfa4"

TEST(pack_golden_v2_bundle_same_bytes_at_1_2_8_threads)
{
    const char *const g1 = "tests/golden/pack-v1", *const g2 = "tests/golden/pack-v2";
    const char *dir = test_tmpdir();
    if (golden_bundle(g1, "v1.bundle.zst", GOLDEN_SHA256, "g1.bundle") != 0 ||
        golden_bundle(g2, "v2.bundle.zst", GOLDEN_V2_SHA256, "g2.bundle") != 0)
        SKIP("tests/golden/pack-v1 or pack-v2 not found (run from the source tree)");
    const char *const trit = test_trit_bin();
    CHECK_EQ_INT(test_runf(NULL, "%s unpack %s/g1.bundle -C %s/g1-inst --pubkey %s/k.pub 2>&1", trit, dir, dir, g1), 0);
    static const unsigned threads[] = {1, 2, 8};
    for (size_t t = 0; t < 3; t++) {
        CHECK_EQ_INT(test_runf(NULL,
                               "%s pack %s/g1-inst/model.trit -o %s/g2-t%u.bundle --model-id golden/pack-v2 --version 4 "
                               "--min-runtime 0.1.0 --key %s/k.key --chunk-size 4K --threads %u 2>&1",
                               trit, dir, dir, threads[t], g1, threads[t]),
                     0);
        CHECK_EQ_INT(test_runf(NULL, "cmp %s/g2.bundle %s/g2-t%u.bundle 2>&1", dir, dir, threads[t]), 0);
    }
    /* it installs (over the v1 install: a v2 bundle replaces a v1 install) at 1 and 8 threads */
    CHECK_EQ_INT(test_runf(NULL, "%s unpack %s/g2.bundle -C %s/g2-inst --pubkey %s/k.pub --threads 1 2>&1", trit, dir, dir, g1), 0);
    CHECK_EQ_INT(test_runf(NULL, "cmp %s/g1-inst/model.trit %s/g2-inst/model.trit 2>&1", dir, dir), 0);
    CHECK_EQ_INT(test_runf(NULL, "%s unpack %s/g2.bundle -C %s/g1-inst --pubkey %s/k.pub --threads 8 --replace-model 2>&1", trit,
                           dir, dir, g1),
                 0);
    /* the manifest says what it is */
    char *man = NULL;
    CHECK_EQ_INT(test_runf(&man, "tar -xOf %s/g2.bundle manifest.json", dir), 0);
    CHECK(man && strstr(man, "\"schema\":\"trit-ota-manifest/2\"") && strstr(man, "\"root\":\"f0f5d1c4") &&
          !strstr(man, "sha256"));
    free(man);
}

/* Every way to tamper with a signed v2 bundle is refused, and nothing is installed: a payload
 * byte (its chunk), the chunk list, the version field, the chunk size, a downgrade of the
 * schema to v1. Manifest edits keep the length, so only the signature can notice; unsigned,
 * the parser still refuses a chunk list that disagrees with the root. */
TEST(pack_v2_tamper_refused)
{
    const char *const g1 = "tests/golden/pack-v1";
    const char *dir = test_tmpdir();
    if (golden_bundle("tests/golden/pack-v2", "v2.bundle.zst", GOLDEN_V2_SHA256, "t2.bundle") != 0)
        SKIP("tests/golden/pack-v2 not found (run from the source tree)");
    size_t len = 0;
    uint8_t *const orig = test_read_file(test_path(dir, "t2.bundle"), &len);
    CHECK(orig != NULL && len > 100000);
    if (!orig) return;
    static const struct {
        const char *name, *from, *to;
        int code_signed, code_unsigned;
    } cases[] = {
        {"payload byte", NULL, NULL, PACK_E_DIGEST, PACK_E_DIGEST},
        {"chunk list", "\"chunks\":[\"90f4", "\"chunks\":[\"80f4", PACK_E_SIGNATURE, PACK_E_MANIFEST},
        {"root", "\"root\":\"f0f5", "\"root\":\"e0f5", PACK_E_SIGNATURE, PACK_E_MANIFEST},
        {"version", "\"version\":\"4\"", "\"version\":\"9\"", PACK_E_SIGNATURE, TRIT_OK},
        {"chunk size", "\"chunk_size\":4096", "\"chunk_size\":8192", PACK_E_SIGNATURE, PACK_E_MANIFEST},
        {"downgrade to v1", "trit-ota-manifest/2", "trit-ota-manifest/1", PACK_E_SIGNATURE, PACK_E_MANIFEST},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t *const b = malloc(len);
        if (!b) break;
        memcpy(b, orig, len);
        if (!cases[i].from) {
            b[len - 60000] ^= 0x01;
        } else {
            size_t const nf = strlen(cases[i].from);
            uint8_t *at = NULL;
            for (size_t k = 0; !at && k + nf <= 8192; k++)
                if (memcmp(b + k, cases[i].from, nf) == 0) at = b + k;
            CHECK(at != NULL && strlen(cases[i].from) == strlen(cases[i].to));
            if (at) memcpy(at, cases[i].to, strlen(cases[i].to));
        }
        CHECK_EQ_INT(test_write_file(test_path(dir, "tampered.bundle"), b, len), 0);
        free(b);
        for (int sig = 1; sig >= 0; sig--) {
            int const want = sig ? cases[i].code_signed : cases[i].code_unsigned;
            char *out = NULL;
            int const st = test_runf(&out, "rm -rf %s/tinst && %s unpack %s/tampered.bundle -C %s/tinst %s%s 2>&1", dir,
                                     test_trit_bin(), dir, dir, sig ? "--pubkey " : "--skip-signature",
                                     sig ? test_path(g1, "k.pub") : "");
            if (st != pack_exit_code(want))
                test_fail_(__FILE__, __LINE__, "%s (%s): exit %d, expected %d: %s", cases[i].name, sig ? "signed" : "unsigned", st,
                           pack_exit_code(want), out ? out : "");
            /* a refused bundle installs nothing */
            if (want != TRIT_OK) CHECK_EQ_INT(test_runf(NULL, "test ! -e %s/tinst", dir), 0);
            free(out);
        }
    }
    free(orig);
}
