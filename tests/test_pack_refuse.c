/* test_pack_refuse.c - every kind of hostile or broken bundle is refused with its own error
 * class, and nothing appears on disk: neither the target nor a staging directory. The
 * bundles are built with libarchive from the members of a good signed bundle. */
#include <archive_entry.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "test_pack.h"
#include "trit_limits.h"

/* A good signed bundle of one container (version 3) and its members. */
static const char *good_bundle(tpk_members *m)
{
    const char *const d = tpk_dir("refuse_src");
    char model[4096], bundle[4096];
    snprintf(model, sizeof model, "%s/model.trit", d);
    snprintf(bundle, sizeof bundle, "%s/good.bundle", d);
    trit_err err;
    CHECK_EQ_INT(tpk_container(model, 1), TRIT_OK);
    const char *const in[] = {model};
    CHECK_OK_E(tpk_pack(bundle, in, 1, 3, 1, NULL, &err), &err);
    CHECK_EQ_INT(tpk_read_members(bundle, m), 0);
    CHECK_EQ_U64(m->n, 3);
    CHECK_STR(m->name[0], "manifest.json");
    CHECK_STR(m->name[1], "manifest.sig");
    CHECK_STR(m->name[2], "model.trit");
    return test_path(d, "good.bundle");
}

/* Unpack bundle into a fresh parent/inst and expect code; the parent must stay empty. */
static void expect(const char *bundle, int code, uint64_t installed, const char *what)
{
    /* the parent is reused: a refusal leaves it empty (checked below); mkdir, not rm -rf, per case */
    char parent[4096];
    snprintf(parent, sizeof parent, "%s", test_path(test_tmpdir(), "refuse_dst"));
    mkdir(parent, 0755);
    char inst[4200];
    snprintf(inst, sizeof inst, "%s/inst", parent);
    uint8_t seed[PACK_SEED_BYTES], pk[PACK_PUBKEY_BYTES];
    tpk_key(1, seed, pk);
    pack_unpack_opts o;
    memset(&o, 0, sizeof o);
    o.read.pubkey = pk;
    o.read.have_installed = installed != 0;
    o.read.installed = installed;
    trit_err err;
    trit_err_clear(&err);
    int const rc = pack_unpack(bundle, inst, &o, NULL, &err);
    char buf[768];
    if (rc != code)
        test_fail_(__FILE__, __LINE__, "%s: expected %d (%s), got %d: %s", what, code, pack_strerror(code), rc,
                   trit_err_format(&err, buf, sizeof buf));
    else
        fprintf(stderr, "     %-28s -> %s\n", what, trit_err_format(&err, buf, sizeof buf));
    CHECK(err.msg[0] != '\0');
    int const left = tpk_count_prefix(parent, "");
    CHECK_EQ_INT(left, 0); /* no target, no staging directory */
    if (left) tpk_dir("refuse_dst");
}

/* Write entries to a bundle file and expect code. */
static void expect_tar(const tpk_entry *e, size_t n, int gzip, int code, const char *what)
{
    const char *const p = test_path(test_tmpdir(), "refuse.bundle");
    char path[4096];
    snprintf(path, sizeof path, "%s", p);
    CHECK_EQ_INT(tpk_tar(path, e, n, gzip), 0);
    expect(path, code, 0, what);
}

TEST(pack_refuse_path_traversal)
{
    tpk_members m;
    good_bundle(&m);
    tpk_entry e[4];
    tpk_entries_of(&m, e);
    static const char *const evil[] = {"../evil", "/tmp/evil-abs", "sub/../../evil", "..", "model.trit/../../evil"};
    for (size_t i = 0; i < sizeof evil / sizeof evil[0]; i++) {
        e[3] = (tpk_entry){evil[i], 0, "pwned", 5, -1, NULL, 0, 0};
        expect_tar(e, 4, 0, PACK_E_TRAVERSAL, evil[i]);
        /* the traversal member first, where the manifest should be */
        tpk_entry f[4] = {e[3], e[0], e[1], e[2]};
        expect_tar(f, 4, 0, PACK_E_TRAVERSAL, evil[i]);
    }
    struct stat st;
    CHECK(stat(test_path(test_tmpdir(), "evil"), &st) != 0);
    CHECK(stat("/tmp/evil-abs", &st) != 0);
    tpk_members_free(&m);
}

TEST(pack_refuse_links)
{
    tpk_members m;
    good_bundle(&m);
    tpk_entry e[4];
    tpk_entries_of(&m, e);
    e[3] = (tpk_entry){"link", AE_IFLNK, NULL, 0, 0, "/etc/passwd", 0, 0};
    expect_tar(e, 4, 0, PACK_E_LINK, "symlink member");
    /* a link in place of the container: same name the manifest lists */
    tpk_entry f[3] = {e[0], e[1], {"model.trit", AE_IFLNK, NULL, 0, 0, "/etc/passwd", 0, 0}};
    expect_tar(f, 3, 0, PACK_E_LINK, "symlink as model.trit");
    e[3] = (tpk_entry){"hard", 0, NULL, 0, 0, "model.trit", 1, 0};
    expect_tar(e, 4, 0, PACK_E_LINK, "hard link member");
    tpk_members_free(&m);
}

TEST(pack_refuse_special_files)
{
    tpk_members m;
    good_bundle(&m);
    tpk_entry e[4];
    tpk_entries_of(&m, e);
    static const unsigned types[] = {AE_IFCHR, AE_IFBLK, AE_IFIFO, AE_IFDIR};
    static const char *const names[] = {"char device", "block device", "fifo", "directory"};
    for (size_t i = 0; i < 4; i++) {
        e[3] = (tpk_entry){"dev", types[i], NULL, 0, 0, NULL, 0, 0};
        expect_tar(e, 4, 0, PACK_E_SPECIAL, names[i]);
    }
    tpk_members_free(&m);
}

TEST(pack_refuse_oversize_member)
{
    tpk_members m;
    good_bundle(&m);
    tpk_entry e[3];
    tpk_entries_of(&m, e);
    e[2].size = (int64_t)e[2].len + 4096; /* libarchive pads the missing bytes with zeros */
    expect_tar(e, 3, 0, PACK_E_OVERSIZE, "member larger than manifest");
    /* a manifest above the global cap is refused before it is read */
    tpk_entries_of(&m, e);
    e[0].size = (int64_t)TRIT_MAX_MANIFEST_BYTES + 1;
    expect_tar(e, 1, 0, PACK_E_OVERSIZE, "manifest above the cap");
    tpk_members_free(&m);
}

TEST(pack_refuse_wrong_digest)
{
    tpk_members m;
    good_bundle(&m);
    tpk_entry e[3];
    tpk_entries_of(&m, e);
    uint8_t *const copy = malloc(m.len[2]);
    memcpy(copy, m.data[2], m.len[2]);
    e[2].data = copy;
    size_t const at[] = {0, 4095, 4096, m.len[2] / 2, m.len[2] - 1}; /* chunk edges and the last chunk */
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        copy[at[i]] ^= 0x20;
        expect_tar(e, 3, 0, PACK_E_DIGEST, "one flipped byte");
        copy[at[i]] ^= 0x20;
    }
    e[2].size = (int64_t)e[2].len - 1; /* shorter than the manifest says */
    expect_tar(e, 3, 0, PACK_E_DIGEST, "member smaller than manifest");
    free(copy);
    tpk_members_free(&m);
}

TEST(pack_refuse_bad_signature)
{
    tpk_members m;
    good_bundle(&m);
    tpk_entry e[3];
    tpk_entries_of(&m, e);
    /* the manifest edited (version 3 -> 9), signature kept */
    char *const man = malloc(m.len[0] + 1);
    memcpy(man, m.data[0], m.len[0]);
    man[m.len[0]] = '\0';
    char *const v = strstr(man, "\"version\":\"3\"");
    CHECK(v != NULL);
    if (v) v[11] = '9';
    e[0].data = man;
    expect_tar(e, 3, 0, PACK_E_SIGNATURE, "edited manifest");
    /* signed by another key */
    uint8_t seed2[PACK_SEED_BYTES], pk2[PACK_PUBKEY_BYTES], sk[crypto_sign_SECRETKEYBYTES], sig[64];
    tpk_key(2, seed2, pk2);
    crypto_sign_seed_keypair(pk2, sk, seed2);
    crypto_sign_detached(sig, NULL, m.data[0], m.len[0], sk);
    tpk_entries_of(&m, e);
    e[1].data = sig;
    expect_tar(e, 3, 0, PACK_E_SIGNATURE, "other key");
    /* unsigned: no manifest.sig */
    tpk_entries_of(&m, e);
    tpk_entry u[2] = {e[0], e[2]};
    expect_tar(u, 2, 0, PACK_E_SIGNATURE, "unsigned bundle");
    /* a signature of the wrong length */
    e[1].len = 63;
    expect_tar(e, 3, 0, PACK_E_SIGNATURE, "63-byte signature");
    free(man);
    tpk_members_free(&m);
}

TEST(pack_refuse_older_version)
{
    tpk_members m;
    const char *const b = good_bundle(&m);
    char bundle[4096];
    snprintf(bundle, sizeof bundle, "%s", b);
    expect(bundle, PACK_E_ROLLBACK, 3, "same version");
    expect(bundle, PACK_E_ROLLBACK, 7, "older version");
    tpk_members_free(&m);
}

TEST(pack_refuse_truncated)
{
    tpk_members m;
    const char *const b = good_bundle(&m);
    size_t len = 0;
    uint8_t *const all = test_read_file(b, &len);
    CHECK(all && len > 4096);
    /* every cut before the last member's data ends: 0, inside headers, inside each member's
     * data, exactly at header boundaries */
    size_t const data_end = len - 1024 - (512 - m.len[2] % 512) % 512; /* end-of-archive blocks, padding */
    char path[4096];
    snprintf(path, sizeof path, "%s", test_path(test_tmpdir(), "cut.bundle"));
    int n = 0;
    /* headers and the small members: every block boundary and a point inside each block;
     * then the container's data every 1999 bytes */
    for (size_t cut = 0; all && cut < data_end; cut += cut < 4096 ? 512 : 1999)
        for (size_t k = cut; k < cut + 512 && k < data_end; k += 311) {
            char what[64];
            snprintf(what, sizeof what, "cut at %zu", k);
            test_write_file(path, all, k);
            expect(path, PACK_E_TRUNCATED, 0, what);
            n++;
        }
    /* everything but the end-of-archive marker */
    test_write_file(path, all, data_end + (512 - m.len[2] % 512) % 512);
    expect(path, PACK_E_TRUNCATED, 0, "no end-of-archive marker");
    CHECK(n > 50);
    free(all);
    tpk_members_free(&m);
}

TEST(pack_refuse_decompression_bomb)
{
    tpk_members m;
    good_bundle(&m);
    tpk_entry e[4];
    tpk_entries_of(&m, e);
    /* a gzip bundle whose extra member is 16 MiB of zeros: kilobytes on disk */
    e[3] = (tpk_entry){"zeros", 0, NULL, 0, 16 << 20, NULL, 0, 0};
    expect_tar(e, 4, 1, PACK_E_BOMB, "gzip bomb");
    expect_tar(e, 3, 1, PACK_E_BOMB, "gzip bundle");
    /* a sparse member: a 1 TiB file from a few bytes */
    tpk_entries_of(&m, e);
    e[3] = (tpk_entry){"sparse", 0, "x", 1, 1ll << 40, NULL, 0, 1};
    expect_tar(e, 4, 0, PACK_E_BOMB, "sparse member");
    /* other compressors are recognised by their magic */
    static const uint8_t zstd[] = {0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0, 0, 0};
    const char *const p = test_path(test_tmpdir(), "z.bundle");
    char path[4096];
    snprintf(path, sizeof path, "%s", p);
    test_write_file(path, zstd, sizeof zstd);
    expect(path, PACK_E_BOMB, 0, "zstd stream");
    tpk_members_free(&m);
}

TEST(pack_refuse_bad_members)
{
    tpk_members m;
    good_bundle(&m);
    tpk_entry e[4];
    tpk_entries_of(&m, e);
    e[3] = (tpk_entry){"extra.bin", 0, "x", 1, -1, NULL, 0, 0};
    expect_tar(e, 4, 0, PACK_E_MANIFEST, "member not in manifest");
    e[3] = e[2];
    expect_tar(e, 4, 0, PACK_E_MANIFEST, "member twice");
    tpk_entry f[3] = {e[2], e[0], e[1]};
    expect_tar(f, 3, 0, PACK_E_MANIFEST, "manifest not first");
    expect_tar(e, 2, 0, PACK_E_TRUNCATED, "member missing");
    tpk_members_free(&m);
}

/* The 8 refusal classes the issue names have 8 different exit codes, none shared with the
 * generic classes. */
TEST(pack_refuse_exit_codes_distinct)
{
    static const int codes[] = {PACK_E_TRAVERSAL, PACK_E_LINK, PACK_E_SPECIAL, PACK_E_OVERSIZE, PACK_E_DIGEST,
                                PACK_E_SIGNATURE, PACK_E_ROLLBACK, PACK_E_TRUNCATED, PACK_E_BOMB, PACK_E_MANIFEST,
                                PACK_E_BASE, TRIT_OK, TRIT_E_USAGE, TRIT_E_IO, TRIT_E_CORRUPT, TRIT_E_UNSUPPORTED,
                                TRIT_E_LIMIT, TRIT_E_NOMEM};
    size_t const n = sizeof codes / sizeof codes[0];
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++) CHECK(pack_exit_code(codes[i]) != pack_exit_code(codes[j]));
    CHECK_EQ_INT(pack_exit_code(PACK_E_TRAVERSAL), 10);
    CHECK_EQ_INT(pack_exit_code(PACK_E_BASE), 20);
}

/* Nothing reaches the sink before the signature is checked. */
typedef struct calls {
    int manifest, begin;
} calls;
static int c_manifest(void *ctx, const pack_manifest *m, trit_err *err)
{
    (void)m;
    (void)err;
    ((calls *)ctx)->manifest++;
    return TRIT_OK;
}
static int c_begin(void *ctx, uint32_t i, trit_err *err)
{
    (void)i;
    (void)err;
    ((calls *)ctx)->begin++;
    return TRIT_OK;
}

TEST(pack_refuse_signature_before_any_write)
{
    tpk_members m;
    good_bundle(&m);
    tpk_entry e[3];
    tpk_entries_of(&m, e);
    uint8_t *const man = malloc(m.len[0]);
    memcpy(man, m.data[0], m.len[0]);
    man[m.len[0] - 7] ^= 1; /* one byte of the manifest changed */
    e[0].data = man;
    const char *const p = test_path(test_tmpdir(), "sig.bundle");
    char path[4096];
    snprintf(path, sizeof path, "%s", p);
    CHECK_EQ_INT(tpk_tar(path, e, 3, 0), 0);
    uint8_t seed[PACK_SEED_BYTES], pk[PACK_PUBKEY_BYTES];
    tpk_key(1, seed, pk);
    pack_read_opts o = {pk, 0, 0, 0, NULL, 0};
    calls c = {0, 0};
    pack_sink const sink = {&c, c_manifest, c_begin, NULL, NULL};
    trit_err err;
    CHECK_EQ_INT(pack_bundle_read_file(path, &o, &sink, NULL, &err), PACK_E_SIGNATURE);
    CHECK_EQ_INT(c.manifest + c.begin, 0);
    /* and the good bundle does reach it */
    tpk_entries_of(&m, e);
    CHECK_EQ_INT(tpk_tar(path, e, 3, 0), 0);
    CHECK_OK_E(pack_bundle_read_file(path, &o, &sink, NULL, &err), &err);
    CHECK_EQ_INT(c.manifest, 1);
    CHECK_EQ_INT(c.begin, 1);
    free(man);
    tpk_members_free(&m);
}
