/* test_pack_roundtrip.c - pack then unpack: byte-identical installs, reproducible bundles,
 * keys, atomic replacement of an install, rollback protection, and deltas. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <utime.h>

#include "test.h"
#include "test_pack.h"
#include "tfmt.h"

static char *pathf(const char *dir, const char *name)
{
    static char ring[8][4200];
    static int k;
    char *const p = ring[k++ & 7];
    int const n = snprintf(p, sizeof ring[0], "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= sizeof ring[0]) p[0] = '\0';
    return p;
}

static int unpack_to(const char *bundle, const char *dir, const char *base_dir, int have_installed, uint64_t installed,
                     pack_manifest **m, trit_err *err)
{
    uint8_t seed[PACK_SEED_BYTES], pk[PACK_PUBKEY_BYTES];
    tpk_key(1, seed, pk);
    pack_unpack_opts o;
    memset(&o, 0, sizeof o);
    o.read.pubkey = pk;
    o.read.have_installed = have_installed;
    o.read.installed = installed;
    o.base_dir = base_dir;
    trit_err_clear(err);
    return pack_unpack(bundle, dir, &o, m, err);
}

TEST(pack_roundtrip_two_files)
{
    const char *const d = tpk_dir("rt_two");
    char a[4200], b[4200], bundle[4200], inst[4200];
    snprintf(a, sizeof a, "%s", pathf(d, "moe.trit"));
    snprintf(b, sizeof b, "%s", pathf(d, "small.trit"));
    snprintf(bundle, sizeof bundle, "%s", pathf(d, "x.bundle"));
    snprintf(inst, sizeof inst, "%s", pathf(d, "inst"));
    trit_err err;
    CHECK_EQ_INT(tpk_container(a, 1), TRIT_OK);
    CHECK_OK_E(tfmt_write(b, TFMT_SMALL, &err), &err);
    const char *const in[] = {b, a}; /* given out of order: the bundle sorts by name */
    CHECK_OK_E(tpk_pack(bundle, in, 2, 5, 1, NULL, &err), &err);
    pack_manifest *m = NULL;
    CHECK_OK_E(unpack_to(bundle, inst, NULL, 0, 0, &m, &err), &err);
    CHECK(tpk_same_file(a, pathf(inst, "moe.trit")));
    CHECK(tpk_same_file(b, pathf(inst, "small.trit")));
    CHECK_EQ_INT(tpk_count_prefix(inst, ""), 5); /* the two files, manifest.json, manifest.sig, .trit-state */
    CHECK_EQ_INT(tpk_count_prefix(d, ".inst"), 0); /* no staging left */
    if (m) {
        CHECK_STR(m->model_id, "test/moe");
        CHECK_EQ_U64(m->version, 5);
        CHECK_EQ_U64(m->n_files, 2);
        CHECK_STR(m->files[0].file.name, "moe.trit");
        CHECK_STR(m->files[1].file.name, "small.trit");
        CHECK_EQ_U64(m->fmt_major, 1);
        CHECK_EQ_U64(m->chunk_size, 4096);
        struct stat st;
        CHECK(stat(a, &st) == 0 && m->files[0].file.size == (uint64_t)st.st_size);
        CHECK_EQ_U64(m->files[0].file.n_chunks, (m->files[0].file.size + 4095) / 4096);
        CHECK(m->has_sig && !m->has_base && !m->files[0].is_delta);
        /* the installed manifest is the signed bytes */
        size_t n = 0;
        uint8_t *const raw = test_read_file(pathf(inst, "manifest.json"), &n);
        CHECK(raw && n == m->raw_len && memcmp(raw, m->raw, n) == 0);
        free(raw);
    }
    pack_manifest_free(m);
}

TEST(pack_bundles_are_reproducible)
{
    const char *const d = tpk_dir("rt_repro");
    char a[4200], b1[4200], b2[4200], b3[4200];
    snprintf(a, sizeof a, "%s", pathf(d, "model.trit"));
    snprintf(b1, sizeof b1, "%s", pathf(d, "1.bundle"));
    snprintf(b2, sizeof b2, "%s", pathf(d, "2.bundle"));
    snprintf(b3, sizeof b3, "%s", pathf(d, "3.bundle"));
    trit_err err;
    CHECK_EQ_INT(tpk_container(a, 1), TRIT_OK);
    const char *const in[] = {a};
    CHECK_OK_E(tpk_pack(b1, in, 1, 1, 1, NULL, &err), &err);
    struct utimbuf t = {1000000000, 1000000000}; /* another mtime, another umask: same bytes */
    CHECK(utime(a, &t) == 0);
    chmod(a, 0600);
    CHECK_OK_E(tpk_pack(b2, in, 1, 1, 1, NULL, &err), &err);
    CHECK(tpk_same_file(b1, b2));
    CHECK_OK_E(tpk_pack(b3, in, 1, 2, 1, NULL, &err), &err);
    CHECK(!tpk_same_file(b1, b3));
}

TEST(pack_keys)
{
    const char *const d = tpk_dir("rt_keys");
    char base[4200];
    snprintf(base, sizeof base, "%s", pathf(d, "release"));
    trit_err err;
    CHECK_OK_E(pack_keygen(base, 0, &err), &err);
    uint8_t seed[PACK_SEED_BYTES], pk[PACK_PUBKEY_BYTES], pk2[PACK_PUBKEY_BYTES];
    CHECK_OK_E(pack_key_load_secret(pathf(d, "release.key"), seed, &err), &err);
    CHECK_OK_E(pack_key_load_public(pathf(d, "release.pub"), pk, &err), &err);
    CHECK_OK_E(pack_key_public(seed, pk2, &err), &err);
    CHECK(memcmp(pk, pk2, sizeof pk) == 0);
    struct stat st;
    CHECK(stat(pathf(d, "release.key"), &st) == 0 && (st.st_mode & 0777) == 0600);
    CHECK_EQ_INT(pack_keygen(base, 0, &err), TRIT_E_EXISTS);
    CHECK_OK_E(pack_keygen(base, 1, &err), &err);
    uint8_t seed2[PACK_SEED_BYTES];
    CHECK_OK_E(pack_key_load_secret(pathf(d, "release.key"), seed2, &err), &err);
    CHECK(memcmp(seed, seed2, sizeof seed) != 0); /* a new pair */
    /* a public key where the secret one belongs, and a file that is no key */
    CHECK_EQ_INT(pack_key_load_secret(pathf(d, "release.pub"), seed, &err), TRIT_E_USAGE);
    test_write_file(pathf(d, "junk"), "trit-ed25519-pub 00\n", 20);
    CHECK_EQ_INT(pack_key_load_public(pathf(d, "junk"), pk, &err), TRIT_E_USAGE);
}

TEST(pack_unpack_replaces_install_atomically)
{
    const char *const d = tpk_dir("rt_replace");
    char c1[4200], c2[4200], b1[4200], b2[4200], b3[4200], inst[4200];
    snprintf(c1, sizeof c1, "%s", pathf(d, "r1/model.trit"));
    snprintf(c2, sizeof c2, "%s", pathf(d, "r2/model.trit"));
    snprintf(b1, sizeof b1, "%s", pathf(d, "v1.bundle"));
    snprintf(b2, sizeof b2, "%s", pathf(d, "v2.bundle"));
    snprintf(b3, sizeof b3, "%s", pathf(d, "v3.bundle"));
    snprintf(inst, sizeof inst, "%s", pathf(d, "inst"));
    mkdir(pathf(d, "r1"), 0755);
    mkdir(pathf(d, "r2"), 0755);
    trit_err err;
    CHECK_EQ_INT(tpk_container(c1, 1), TRIT_OK);
    CHECK_EQ_INT(tpk_container(c2, 2), TRIT_OK);
    const char *in1[] = {c1}, *in2[] = {c2};
    CHECK_OK_E(tpk_pack(b1, in1, 1, 1, 1, NULL, &err), &err);
    CHECK_OK_E(tpk_pack(b2, in2, 1, 2, 1, NULL, &err), &err);
    CHECK_OK_E(tpk_pack(b3, in1, 1, 3, 1, NULL, &err), &err);
    CHECK_OK_E(unpack_to(b1, inst, NULL, 0, 0, NULL, &err), &err);
    CHECK(tpk_same_file(c1, pathf(inst, "model.trit")));
    CHECK_OK_E(unpack_to(b2, inst, NULL, 0, 0, NULL, &err), &err);
    CHECK(tpk_same_file(c2, pathf(inst, "model.trit")));
    CHECK_EQ_INT(tpk_count_prefix(d, ".inst"), 0);
    /* a bundle that fails late (a corrupt member) leaves the install as it was */
    tpk_members m;
    CHECK_EQ_INT(tpk_read_members(b3, &m), 0);
    tpk_entry e[3];
    tpk_entries_of(&m, e);
    m.data[2][m.len[2] - 1] ^= 1;
    CHECK_EQ_INT(tpk_tar(b3, e, 3, 0), 0);
    CHECK_EQ_INT(unpack_to(b3, inst, NULL, 0, 0, NULL, &err), PACK_E_DIGEST);
    CHECK(tpk_same_file(c2, pathf(inst, "model.trit")));
    CHECK_EQ_INT(tpk_count_prefix(inst, ""), 4); /* with .trit-state */
    CHECK_EQ_INT(tpk_count_prefix(d, ".inst"), 0);
    tpk_members_free(&m);
}

TEST(pack_unpack_rollback)
{
    const char *const d = tpk_dir("rt_rollback");
    char c1[4200], b1[4200], b2[4200], inst[4200];
    snprintf(c1, sizeof c1, "%s", pathf(d, "model.trit"));
    snprintf(b1, sizeof b1, "%s", pathf(d, "v1.bundle"));
    snprintf(b2, sizeof b2, "%s", pathf(d, "v2.bundle"));
    snprintf(inst, sizeof inst, "%s", pathf(d, "inst"));
    trit_err err;
    CHECK_EQ_INT(tpk_container(c1, 1), TRIT_OK);
    const char *in[] = {c1};
    CHECK_OK_E(tpk_pack(b1, in, 1, 1, 1, NULL, &err), &err);
    CHECK_OK_E(tpk_pack(b2, in, 1, 2, 1, NULL, &err), &err);
    CHECK_OK_E(unpack_to(b2, inst, NULL, 0, 0, NULL, &err), &err);
    /* the installed version is the default: same or older refused */
    CHECK_EQ_INT(unpack_to(b1, inst, NULL, 0, 0, NULL, &err), PACK_E_ROLLBACK);
    CHECK_EQ_INT(unpack_to(b2, inst, NULL, 0, 0, NULL, &err), PACK_E_ROLLBACK);
    /* an explicit --installed overrides it */
    CHECK_OK_E(unpack_to(b1, inst, NULL, 1, 0, NULL, &err), &err);
    CHECK_EQ_INT(unpack_to(b2, pathf(d, "other"), NULL, 1, 2, NULL, &err), PACK_E_ROLLBACK);
    CHECK_OK_E(unpack_to(b2, pathf(d, "other"), NULL, 1, 1, NULL, &err), &err);
}

TEST(pack_unpack_refuses_foreign_target)
{
    const char *const d = tpk_dir("rt_target");
    char c1[4200], b1[4200], keep[4200];
    snprintf(c1, sizeof c1, "%s", pathf(d, "model.trit"));
    snprintf(b1, sizeof b1, "%s", pathf(d, "v1.bundle"));
    snprintf(keep, sizeof keep, "%s", pathf(d, "home"));
    trit_err err;
    CHECK_EQ_INT(tpk_container(c1, 1), TRIT_OK);
    const char *in[] = {c1};
    CHECK_OK_E(tpk_pack(b1, in, 1, 1, 1, NULL, &err), &err);
    /* a directory with someone's files in it is not replaced */
    mkdir(keep, 0755);
    test_write_file(pathf(keep, "notes.txt"), "mine", 4);
    CHECK_EQ_INT(unpack_to(b1, keep, NULL, 0, 0, NULL, &err), TRIT_E_EXISTS);
    CHECK_EQ_INT(tpk_count_prefix(keep, ""), 1);
    /* nor is a file */
    CHECK_EQ_INT(unpack_to(b1, c1, NULL, 0, 0, NULL, &err), TRIT_E_EXISTS);
    /* nor an install with a stranger in it, nor one whose manifest does not parse */
    char inst[4200];
    snprintf(inst, sizeof inst, "%s", pathf(d, "inst"));
    CHECK_OK_E(unpack_to(b1, inst, NULL, 0, 0, NULL, &err), &err);
    test_write_file(pathf(inst, "photo.jpg"), "x", 1);
    CHECK_EQ_INT(unpack_to(b1, inst, NULL, 1, 0, NULL, &err), TRIT_E_EXISTS);
    test_write_file(pathf(keep, "manifest.json"), "{}", 2);
    CHECK_EQ_INT(unpack_to(b1, keep, NULL, 1, 0, NULL, &err), TRIT_E_EXISTS);
    CHECK_EQ_INT(tpk_count_prefix(keep, ""), 2);
    /* an empty directory is fine */
    mkdir(pathf(d, "empty"), 0755);
    CHECK_OK_E(unpack_to(b1, pathf(d, "empty"), NULL, 0, 0, NULL, &err), &err);
}

TEST(pack_refuses_bad_inputs)
{
    const char *const d = tpk_dir("rt_inputs");
    char c1[4200], junk[4200], hidden[4200], out[4200];
    snprintf(c1, sizeof c1, "%s", pathf(d, "model.trit"));
    snprintf(junk, sizeof junk, "%s", pathf(d, "junk.trit"));
    snprintf(hidden, sizeof hidden, "%s", pathf(d, ".hidden.trit"));
    snprintf(out, sizeof out, "%s", pathf(d, "out.bundle"));
    trit_err err;
    CHECK_EQ_INT(tpk_container(c1, 1), TRIT_OK);
    test_write_file(junk, "not a container at all", 22);
    test_write_file(hidden, "x", 1);
    const char *bad[] = {junk};
    CHECK_EQ_INT(tpk_pack(out, bad, 1, 1, 1, NULL, &err), TRIT_E_CORRUPT);
    const char *dup[] = {c1, c1};
    CHECK_EQ_INT(tpk_pack(out, dup, 2, 1, 1, NULL, &err), TRIT_E_USAGE);
    const char *hid[] = {hidden};
    CHECK_EQ_INT(tpk_pack(out, hid, 1, 1, 1, NULL, &err), TRIT_E_USAGE);
    struct stat st;
    CHECK(stat(out, &st) != 0);                     /* nothing written */
    CHECK_EQ_INT(tpk_count_prefix(d, "out.bundle"), 0); /* no temp files either */
}

/* Release 2 changes one dense tensor, one expert and one KV of release 1. */
TEST(pack_delta_roundtrip)
{
    const char *const d = tpk_dir("rt_delta");
    char c1[4200], c2[4200], full1[4200], full2[4200], delta[4200], inst[4200];
    mkdir(pathf(d, "r1"), 0755);
    mkdir(pathf(d, "r2"), 0755);
    snprintf(c1, sizeof c1, "%s", pathf(d, "r1/model.trit"));
    snprintf(c2, sizeof c2, "%s", pathf(d, "r2/model.trit"));
    snprintf(full1, sizeof full1, "%s", pathf(d, "v1.bundle"));
    snprintf(full2, sizeof full2, "%s", pathf(d, "v2.bundle"));
    snprintf(delta, sizeof delta, "%s", pathf(d, "v2-delta.bundle"));
    snprintf(inst, sizeof inst, "%s", pathf(d, "inst"));
    trit_err err;
    CHECK_EQ_INT(tpk_container(c1, 1), TRIT_OK);
    CHECK_EQ_INT(tpk_container(c2, 2), TRIT_OK);
    const char *in1[] = {c1}, *in2[] = {c2};
    CHECK_OK_E(tpk_pack(full1, in1, 1, 1, 1, NULL, &err), &err);
    CHECK_OK_E(tpk_pack(full2, in2, 1, 2, 1, NULL, &err), &err);
    CHECK_OK_E(tpk_pack(delta, in2, 1, 2, 1, full1, &err), &err);
    struct stat s_full, s_delta, s_c2;
    CHECK(stat(full2, &s_full) == 0 && stat(delta, &s_delta) == 0 && stat(c2, &s_c2) == 0);
    fprintf(stderr, "     full bundle %lld bytes, delta %lld bytes\n", (long long)s_full.st_size, (long long)s_delta.st_size);
    CHECK(s_delta.st_size < s_full.st_size / 2);
    /* the plan: copies of the unchanged objects, data for the rest */
    pack_manifest *m = NULL;
    uint8_t seed[PACK_SEED_BYTES], pk[PACK_PUBKEY_BYTES];
    tpk_key(1, seed, pk);
    pack_read_opts ro = {pk, 0, 0, 0, NULL, 0};
    CHECK_OK_E(pack_bundle_read_file(delta, &ro, NULL, &m, &err), &err);
    if (m) {
        CHECK(m->has_base && m->base_version == 1 && m->files[0].is_delta);
        uint64_t copies = 0, copied = 0, data = 0;
        for (uint64_t i = 0; i < m->files[0].n_extents; i++) {
            pack_extent const *const x = &m->files[0].extents[i];
            if (x->op == PACK_EXT_COPY) copies++, copied += x->len;
            if (x->op == PACK_EXT_DATA) data += x->len;
        }
        CHECK_EQ_U64(copies, 7); /* 4 dense + 4 units + 1 section, minus the 2 changed */
        CHECK(copied > data);
        CHECK_EQ_U64(data, m->files[0].delta.size);
    }
    pack_manifest_free(m);
    /* install release 1, then the delta in place (the base defaults to the target) */
    CHECK_OK_E(unpack_to(full1, inst, NULL, 0, 0, NULL, &err), &err);
    CHECK_OK_E(unpack_to(delta, inst, inst, 0, 0, NULL, &err), &err);
    CHECK(tpk_same_file(c2, pathf(inst, "model.trit")));
    CHECK_EQ_INT(tpk_count_prefix(inst, ""), 4); /* with .trit-state; no .delta member left */
    /* the same delta again: release 2 is now installed, so rollback (and base) refuse it */
    CHECK_EQ_INT(unpack_to(delta, inst, inst, 0, 0, NULL, &err), PACK_E_ROLLBACK);
    CHECK_EQ_INT(unpack_to(delta, pathf(d, "fresh"), inst, 0, 0, NULL, &err), PACK_E_BASE);
    /* no base given */
    CHECK_EQ_INT(unpack_to(delta, pathf(d, "fresh"), NULL, 0, 0, NULL, &err), PACK_E_BASE);
    /* pack refuses a base that is not an older full bundle of the same model */
    char bad[4200];
    snprintf(bad, sizeof bad, "%s", pathf(d, "bad.bundle"));
    CHECK_EQ_INT(tpk_pack(bad, in2, 1, 1, 1, full1, &err), TRIT_E_USAGE);  /* not newer */
    CHECK_EQ_INT(tpk_pack(bad, in2, 1, 3, 1, delta, &err), TRIT_E_USAGE);  /* a delta base */
    pack_create_opts o;
    memset(&o, 0, sizeof o);
    o.inputs = in2;
    o.n_inputs = 1;
    o.out = bad;
    o.model_id = "other/model";
    o.version = 5;
    o.base = full1;
    CHECK_EQ_INT(pack_create(&o, NULL, &err), TRIT_E_USAGE);              /* another model */
    CHECK_EQ_INT(tpk_count_prefix(d, "bad.bundle"), 0);
}

TEST(pack_delta_refuses_modified_base)
{
    const char *const d = tpk_dir("rt_delta_bad");
    char c1[4200], c2[4200], full1[4200], delta[4200], inst[4200];
    mkdir(pathf(d, "r1"), 0755);
    mkdir(pathf(d, "r2"), 0755);
    snprintf(c1, sizeof c1, "%s", pathf(d, "r1/model.trit"));
    snprintf(c2, sizeof c2, "%s", pathf(d, "r2/model.trit"));
    snprintf(full1, sizeof full1, "%s", pathf(d, "v1.bundle"));
    snprintf(delta, sizeof delta, "%s", pathf(d, "v2-delta.bundle"));
    snprintf(inst, sizeof inst, "%s", pathf(d, "inst"));
    trit_err err;
    CHECK_EQ_INT(tpk_container(c1, 1), TRIT_OK);
    CHECK_EQ_INT(tpk_container(c2, 2), TRIT_OK);
    const char *in1[] = {c1}, *in2[] = {c2};
    CHECK_OK_E(tpk_pack(full1, in1, 1, 1, 1, NULL, &err), &err);
    CHECK_OK_E(tpk_pack(delta, in2, 1, 2, 1, full1, &err), &err);
    CHECK_OK_E(unpack_to(full1, inst, NULL, 0, 0, NULL, &err), &err);
    /* flip one byte of the installed base at the end (the last object: the section, copied) */
    size_t n = 0;
    uint8_t *const b = test_read_file(pathf(inst, "model.trit"), &n);
    CHECK(b && n > 100);
    size_t k = n - 1;
    while (k && b[k] == 0) k--; /* the last non-zero byte belongs to an object, not padding */
    b[k] ^= 0x40;
    test_write_file(pathf(inst, "model.trit"), b, n);
    free(b);
    CHECK_EQ_INT(unpack_to(delta, inst, inst, 0, 0, NULL, &err), PACK_E_BASE);
    fprintf(stderr, "     %s\n", err.msg);
    /* the (modified) install is still there, untouched by the failed update */
    CHECK_EQ_INT(tpk_count_prefix(inst, ""), 4); /* with .trit-state */
    CHECK_EQ_INT(tpk_count_prefix(d, ".inst"), 0);
}

/* pack_create as tpk_pack, in manifest version `mv` on `threads` threads. */
static int pack_v(const char *out, const char *in, uint64_t version, const char *base, uint32_t mv, uint32_t threads, trit_err *err)
{
    uint8_t seed[PACK_SEED_BYTES], pk[PACK_PUBKEY_BYTES];
    tpk_key(1, seed, pk);
    const char *ins[] = {in};
    pack_create_opts o;
    memset(&o, 0, sizeof o);
    o.inputs = ins;
    o.n_inputs = 1;
    o.out = out;
    o.model_id = "test/moe";
    o.version = version;
    o.chunk_size = 4096;
    o.seed = seed;
    o.base = base;
    o.force = 1;
    o.manifest_version = mv;
    o.threads = threads;
    return pack_create(&o, NULL, err);
}

/* Deltas across manifest versions: a v2 delta against a v1 full bundle (installed from v1),
 * a v1 delta against a v2 full bundle; both rebuild release 2 exactly. A v2 delta whose
 * base_root is not the installed base's is refused before anything is written. */
TEST(pack_delta_across_manifest_versions)
{
    const char *const d = tpk_dir("rt_delta_versions");
    char c1[4200], c2[4200], c1b[4200];
    mkdir(pathf(d, "r1"), 0755);
    mkdir(pathf(d, "r2"), 0755);
    mkdir(pathf(d, "r1b"), 0755);
    snprintf(c1, sizeof c1, "%s", pathf(d, "r1/model.trit"));
    snprintf(c2, sizeof c2, "%s", pathf(d, "r2/model.trit"));
    snprintf(c1b, sizeof c1b, "%s", pathf(d, "r1b/model.trit"));
    trit_err err;
    CHECK_EQ_INT(tpk_container(c1, 1), TRIT_OK);
    CHECK_EQ_INT(tpk_container(c2, 2), TRIT_OK);
    CHECK_EQ_INT(tpk_container(c1b, 2), TRIT_OK);   /* another "release 1": shares objects, other bytes */
    for (uint32_t base_v = 1; base_v <= 2; base_v++) {
        uint32_t const delta_v = 3 - base_v;
        char full1[4200], delta[4200], inst[4200];
        snprintf(full1, sizeof full1, "%s/full-v%u.bundle", d, base_v);
        snprintf(delta, sizeof delta, "%s/delta-v%u.bundle", d, delta_v);
        snprintf(inst, sizeof inst, "%s/inst-%u", d, base_v);
        CHECK_OK_E(pack_v(full1, c1, 1, NULL, base_v, 2, &err), &err);
        CHECK_OK_E(pack_v(delta, c2, 2, full1, delta_v, 8, &err), &err);
        pack_manifest *m = NULL;
        CHECK_OK_E(unpack_to(full1, inst, NULL, 0, 0, NULL, &err), &err);
        CHECK_OK_E(unpack_to(delta, inst, inst, 0, 0, &m, &err), &err);
        CHECK(m && m->schema == delta_v && m->files[0].is_delta);
        pack_manifest_free(m);
        CHECK(tpk_same_file(c2, pathf(inst, "model.trit")));
    }
    /* v2 delta (made against full-v1) onto an install of a different release 1 */
    char other[4200], inst[4200];
    snprintf(other, sizeof other, "%s", pathf(d, "other1.bundle"));
    snprintf(inst, sizeof inst, "%s", pathf(d, "inst-other"));
    CHECK_OK_E(pack_v(other, c1b, 1, NULL, 2, 1, &err), &err);
    CHECK_OK_E(unpack_to(other, inst, NULL, 0, 0, NULL, &err), &err);
    CHECK_EQ_INT(unpack_to(pathf(d, "delta-v2.bundle"), inst, inst, 0, 0, NULL, &err), PACK_E_BASE);
    CHECK(strstr(err.msg, "base_root differs") != NULL);
    CHECK_EQ_INT(tpk_count_prefix(d, ".inst-other"), 0);   /* no staging directory was made */
    CHECK(tpk_same_file(c1b, pathf(inst, "model.trit")));
}
