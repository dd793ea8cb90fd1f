/* test_pack_cli.c - `trit pack` and `trit unpack` through the binary: key files, signed
 * bundles, deltas, and the exit code of each refusal class (spec/manifest.md section 7). */
#include <archive_entry.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "test.h"
#include "test_pack.h"

/* Run `trit ARGS` (stderr to stdout) and return its exit status; *out optional. */
static int trit(char **out, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static int trit(char **out, const char *fmt, ...)
{
    char args[8192], cmd[9000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", test_trit_bin(), args);
    char *o = NULL;
    int const st = test_run(cmd, &o);
    if (out) *out = o;
    else free(o);
    return st;
}

TEST(pack_cli_keygen_pack_unpack)
{
    const char *const d = tpk_dir("cli_pack");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", d);
    char model[4200];
    snprintf(model, sizeof model, "%s/model.trit", dir);
    CHECK_EQ_INT(tpk_container(model, 1), TRIT_OK);
    char *out = NULL;
    CHECK_EQ_INT(trit(NULL, "pack --help"), 0);
    CHECK_EQ_INT(trit(NULL, "unpack --help"), 0);
    CHECK_EQ_INT(trit(NULL, "pack --keygen -o %s/k", dir), 0);
    CHECK_EQ_INT(trit(NULL, "pack --keygen -o %s/k", dir), 3); /* exists */
    CHECK_EQ_INT(trit(NULL, "pack --keygen -o %s/k2", dir), 0);
    CHECK_EQ_INT(trit(&out, "pack %s -o %s/a.bundle --model-id acme/m --version 1 --key %s/k.key", model, dir, dir), 0);
    CHECK(out && strstr(out, "signed by key"));
    free(out);
    CHECK_EQ_INT(trit(NULL, "pack %s -o %s/a.bundle --model-id acme/m --version 1 --key %s/k.key", model, dir, dir), 3);
    CHECK_EQ_INT(trit(NULL, "pack %s -o %s/x.bundle --model-id acme/m --version 0", model, dir), 2);
    CHECK_EQ_INT(trit(NULL, "pack %s -o %s/x.bundle --version 1", model, dir), 2);
    CHECK_EQ_INT(trit(NULL, "pack %s -o %s/x.bundle --model-id 'a b' --version 1", model, dir), 2);
    CHECK_EQ_INT(trit(NULL, "pack %s -o %s/x.bundle --model-id m --version 1 --chunk-size 1000", model, dir), 2);
    CHECK_EQ_INT(trit(NULL, "pack %s -o %s/x.bundle --model-id m --version 1 --key %s/k.pub", model, dir, dir), 2);
    CHECK_EQ_INT(trit(NULL, "pack %s -o %s/d.bundle --model-id acme/m --version 1 --dry-run", model, dir), 0);
    CHECK_EQ_INT(tpk_count_prefix(dir, "d.bundle"), 0);
    /* unpack: key required; dry run; install; rollback */
    CHECK_EQ_INT(trit(NULL, "unpack %s/a.bundle -C %s/inst", dir, dir), 2);
    CHECK_EQ_INT(trit(&out, "unpack %s/a.bundle --dry-run --pubkey %s/k.pub", dir, dir), 0);
    CHECK(out && strstr(out, "checked acme/m version 1"));
    free(out);
    CHECK_EQ_INT(trit(&out, "unpack %s/a.bundle -C %s/inst --pubkey %s/k.pub", dir, dir, dir), 0);
    CHECK(out && strstr(out, "signature ok"));
    free(out);
    CHECK(tpk_same_file(model, test_path(test_path(dir, "inst"), "model.trit")));
    CHECK_EQ_INT(trit(NULL, "unpack %s/a.bundle -C %s/inst --pubkey %s/k.pub", dir, dir, dir), 16);
    CHECK_EQ_INT(trit(NULL, "unpack %s/a.bundle -C %s/inst2 --pubkey %s/k2.pub", dir, dir, dir), 15);
    CHECK_EQ_INT(trit(NULL, "unpack %s/a.bundle -C %s/inst2 --pubkey %s/k.pub --runtime-version 0.0.1", dir, dir, dir), 5);
    CHECK_EQ_INT(trit(NULL, "unpack %s/a.bundle -C %s/inst2 --skip-signature", dir, dir), 0);
    /* a delta through the CLI, applied in place (the base defaults to the target) */
    char model2[4200];
    snprintf(model2, sizeof model2, "%s/r2", dir);
    mkdir(model2, 0755);
    snprintf(model2, sizeof model2, "%s/r2/model.trit", dir);
    CHECK_EQ_INT(tpk_container(model2, 2), TRIT_OK);
    CHECK_EQ_INT(trit(&out, "pack %s -o %s/b.bundle --model-id acme/m --version 2 --key %s/k.key --base %s/a.bundle", model2,
                      dir, dir, dir),
                 0);
    CHECK(out && strstr(out, "copied from the base"));
    free(out);
    CHECK_EQ_INT(trit(NULL, "unpack %s/b.bundle -C %s/inst --pubkey %s/k.pub", dir, dir, dir), 0);
    CHECK(tpk_same_file(model2, test_path(test_path(dir, "inst"), "model.trit")));
    CHECK_EQ_INT(trit(NULL, "unpack %s/b.bundle -C %s/inst3 --pubkey %s/k.pub", dir, dir, dir), 20); /* no base there */
}

TEST(pack_cli_refusal_exit_codes)
{
    const char *const d = tpk_dir("cli_refuse");
    char dir[4096], model[4200], good[4200], bad[4200];
    snprintf(dir, sizeof dir, "%s", d);
    snprintf(model, sizeof model, "%s/model.trit", dir);
    snprintf(good, sizeof good, "%s/good.bundle", dir);
    snprintf(bad, sizeof bad, "%s/bad.bundle", dir);
    CHECK_EQ_INT(tpk_container(model, 1), TRIT_OK);
    const char *in[] = {model};
    trit_err err;
    CHECK_OK_E(tpk_pack(good, in, 1, 4, 0, NULL, &err), &err); /* unsigned: --skip-signature below */
    tpk_members m;
    CHECK_EQ_INT(tpk_read_members(good, &m), 0);
    tpk_entry e[3];
    tpk_entries_of(&m, e);
    static const struct {
        const char *name;
        unsigned type;
        const char *link;
        int code;
    } extra[] = {{"../evil", 0, NULL, 10}, {"ln", AE_IFLNK, "/etc/passwd", 11}, {"dev", AE_IFCHR, NULL, 12}, {"x.bin", 0, NULL, 19}};
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) {
        e[2] = (tpk_entry){extra[i].name, extra[i].type, "x", extra[i].type ? 0 : 1, -1, extra[i].link, 0, 0};
        CHECK_EQ_INT(tpk_tar(bad, e, 3, 0), 0);
        CHECK_EQ_INT(trit(NULL, "unpack %s -C %s/inst --skip-signature", bad, dir), extra[i].code);
    }
    tpk_entries_of(&m, e);
    e[1].size = (int64_t)e[1].len + 1;
    CHECK_EQ_INT(tpk_tar(bad, e, 2, 0), 0);
    CHECK_EQ_INT(trit(NULL, "unpack %s -C %s/inst --skip-signature", bad, dir), 13);
    tpk_entries_of(&m, e);
    m.data[1][100] ^= 1;
    CHECK_EQ_INT(tpk_tar(bad, e, 2, 0), 0);
    CHECK_EQ_INT(trit(NULL, "unpack %s -C %s/inst --skip-signature", bad, dir), 14);
    m.data[1][100] ^= 1;
    CHECK_EQ_INT(trit(NULL, "unpack %s -C %s/inst --skip-signature --installed 9", good, dir), 16);
    CHECK_EQ_INT(tpk_tar(bad, e, 2, 1), 0);
    CHECK_EQ_INT(trit(NULL, "unpack %s -C %s/inst --skip-signature", bad, dir), 18);
    size_t n = 0;
    uint8_t *const all = test_read_file(good, &n);
    CHECK(all != NULL);
    if (all) test_write_file(bad, all, n / 2);
    free(all);
    CHECK_EQ_INT(trit(NULL, "unpack %s -C %s/inst --skip-signature", bad, dir), 17);
    CHECK_EQ_INT(tpk_count_prefix(dir, "inst"), 0);
    CHECK_EQ_INT(tpk_count_prefix(dir, ".inst"), 0);
    CHECK_EQ_INT(trit(NULL, "unpack %s -C %s/inst --skip-signature", good, dir), 0);
    tpk_members_free(&m);
}

/* --threads and --manifest-version: out-of-range values are usage errors naming the option; a
 * v1 bundle from the CLI installs, and its manifest says version 1. */
TEST(pack_cli_threads_and_manifest_version)
{
    const char *const d = tpk_dir("cli_threads");
    char dir[4096], model[4200];
    snprintf(dir, sizeof dir, "%s", d);
    snprintf(model, sizeof model, "%s/model.trit", dir);
    CHECK_EQ_INT(tpk_container(model, 1), TRIT_OK);
    char *out = NULL;
    CHECK_EQ_INT(trit(&out, "pack %s -o %s/b.bundle --model-id t/m --version 1 --threads 0", model, dir), 2);
    CHECK(out && strstr(out, "--threads"));
    free(out);
    CHECK_EQ_INT(trit(&out, "pack %s -o %s/b.bundle --model-id t/m --version 1 --manifest-version 3", model, dir), 2);
    CHECK(out && strstr(out, "--manifest-version"));
    free(out);
    CHECK_EQ_INT(trit(&out, "unpack %s/b.bundle -C %s/inst --skip-signature --threads 2000", dir, dir), 2);
    CHECK(out && strstr(out, "--threads"));
    free(out);
    CHECK_EQ_INT(trit(NULL, "pack %s -o %s/b.bundle --model-id t/m --version 1 --manifest-version 1 --threads 3", model, dir), 0);
    CHECK_EQ_INT(trit(NULL, "unpack %s/b.bundle -C %s/inst --skip-signature --threads 3", dir, dir), 0);
    CHECK_EQ_INT(test_runf(&out, "grep -c trit-ota-manifest/1 %s/inst/manifest.json", dir), 0);
    free(out);
    CHECK(tpk_same_file(model, test_path(dir, "inst/model.trit")));
}
