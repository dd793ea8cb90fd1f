/* test_pack_seeds.c - the fuzz corpora of the manifest parser and the bundle reader start
 * from small valid inputs made by the current writer. `TRIT_WRITE_SEEDS=1 make test
 * T=pack_fuzz_seeds` (re)writes them; without it this test fails when a committed ok-* seed
 * is no longer accepted, i.e. when the format changed without regenerating them. The ok-v1-*
 * seeds are manifest version 1 (written before v2 existed, kept: v1 is still read); the
 * bad-v2-* seeds are one-edit refusals of v2 (a root that is not its chunks', a downgrade of the
 * schema to v1). */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "test_pack.h"
#include "tfmt.h"

static const char *corpus(const char *name)
{
    const char *const root = getenv("TRIT_CORPUS");
    return test_path(root && *root ? root : "tests/fuzz/corpus", name);
}

static void put_seed(const char *target, const char *name, const char *src)
{
    size_t n = 0;
    uint8_t *const b = test_read_file(src, &n);
    CHECK(b != NULL && n <= 512 * 1024);
    char dst[4200];
    snprintf(dst, sizeof dst, "%s/%s", corpus(target), name);
    if (b) CHECK_EQ_INT(test_write_file(dst, b, n), 0);
    free(b);
}

static void write_seeds(void)
{
    const char *const d = tpk_dir("seeds");
    char dir[4096], small[4200], full[4200], delta[4200], signedb[4200], tmp[4200];
    snprintf(dir, sizeof dir, "%s", d);
    snprintf(small, sizeof small, "%s/small.trit", dir);
    snprintf(full, sizeof full, "%s/full.bundle", dir);
    snprintf(delta, sizeof delta, "%s/delta.bundle", dir);
    snprintf(signedb, sizeof signedb, "%s/signed.bundle", dir);
    snprintf(tmp, sizeof tmp, "%s/model.trit", dir);
    trit_err err;
    /* bundles: a signed small container; a delta of release 2 against release 1 */
    CHECK_OK_E(tfmt_write(small, TFMT_SMALL, &err), &err);
    const char *in_small[] = {small};
    CHECK_OK_E(tpk_pack(signedb, in_small, 1, 1, 1, NULL, &err), &err);
    CHECK_EQ_INT(tpk_container(tmp, 1), TRIT_OK);
    const char *in1[] = {tmp};
    CHECK_OK_E(tpk_pack(full, in1, 1, 1, 0, NULL, &err), &err);
    CHECK_EQ_INT(tpk_container(tmp, 2), TRIT_OK);
    CHECK_OK_E(tpk_pack(delta, in1, 1, 2, 1, full, &err), &err);
    put_seed("bundle", "ok-signed.bundle", signedb);
    put_seed("bundle", "ok-delta.bundle", delta);
    /* manifests: the two bundles' manifest.json members */
    tpk_members m;
    CHECK_EQ_INT(tpk_read_members(signedb, &m), 0);
    char dst[4200];
    snprintf(dst, sizeof dst, "%s/ok-full.json", corpus("manifest"));
    if (m.n) CHECK_EQ_INT(test_write_file(dst, m.data[0], m.len[0]), 0);
    tpk_members_free(&m);
    CHECK_EQ_INT(tpk_read_members(delta, &m), 0);
    snprintf(dst, sizeof dst, "%s/ok-delta.json", corpus("manifest"));
    if (m.n) CHECK_EQ_INT(test_write_file(dst, m.data[0], m.len[0]), 0);
    /* refusals, one edit each: the first digit of the first chunk digest, the schema */
    static const char *const bad[] = {"bad-v2-root.json", "bad-v2-downgrade.json"};
    for (size_t k = 0; m.n && k < 2; k++) {
        char *const t = malloc(m.len[0] + 1);
        if (!t) break;
        memcpy(t, m.data[0], m.len[0]);
        t[m.len[0]] = '\0';
        const char *const from = k == 0 ? "\"chunks\":[\"" : "trit-ota-manifest/2";
        char *const at = strstr(t, from);
        CHECK(at != NULL);
        if (at && k == 0) at[strlen(from)] = at[strlen(from)] == 'f' ? '0' : 'f';
        if (at && k == 1) at[strlen(from) - 1] = '1';
        pack_manifest *pm = NULL;
        CHECK(pack_manifest_parse(t, m.len[0], &pm, &err) == PACK_E_MANIFEST);
        pack_manifest_free(pm);
        snprintf(dst, sizeof dst, "%s/%s", corpus("manifest"), bad[k]);
        CHECK_EQ_INT(test_write_file(dst, t, m.len[0]), 0);
        free(t);
    }
    tpk_members_free(&m);
}

TEST(pack_fuzz_seeds)
{
    if (getenv("TRIT_WRITE_SEEDS")) write_seeds();
    int n = 0;
    for (int t = 0; t < 2; t++) {
        char dir[4200];
        snprintf(dir, sizeof dir, "%s", corpus(t ? "bundle" : "manifest"));
        DIR *const dd = opendir(dir);
        CHECK(dd != NULL);
        if (!dd) continue;
        struct dirent *e;
        while ((e = readdir(dd)) != NULL) {
            if (strncmp(e->d_name, "ok-", 3) != 0) continue;
            size_t len = 0;
            uint8_t *const b = test_read_file(test_path(dir, e->d_name), &len);
            trit_err err;
            pack_manifest *m = NULL;
            pack_read_opts o;
            memset(&o, 0, sizeof o);
            o.skip_signature = 1;
            int const rc = t ? pack_bundle_read_mem(b, len, e->d_name, &o, NULL, &m, &err)
                             : pack_manifest_parse(b, len, &m, &err);
            CHECK_OK_E(rc, &err);
            pack_manifest_free(m);
            free(b);
            n++;
        }
        closedir(dd);
    }
    CHECK(n >= 4);
}
