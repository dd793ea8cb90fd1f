/* test_pack_verify.c - `trit pack` verifies every input from the bytes it packs
 * (trit_verify_stream on the hashing windows): a damaged input is refused with exactly the
 * error trit_reader_verify gives for it, at any thread count, whole, in a dry run and as a
 * delta input, and nothing is written. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "test.h"
#include "test_pack.h"
#include "trit_int.h"

static int pack_one(const char *out, const char *const *ins, uint32_t n, uint32_t threads, int dry, const char *base,
                    uint64_t version, trit_err *err)
{
    uint8_t seed[PACK_SEED_BYTES], pk[PACK_PUBKEY_BYTES];
    tpk_key(1, seed, pk);
    pack_create_opts o;
    memset(&o, 0, sizeof o);
    o.inputs = ins;
    o.n_inputs = n;
    o.out = out;
    o.model_id = "test/moe";
    o.version = version;
    o.chunk_size = 4096;
    o.seed = seed;
    o.base = base;
    o.force = 1;
    o.dry_run = dry;
    o.threads = threads;
    trit_err_clear(err);
    return pack_create(&o, NULL, err);
}

/* trit_reader_verify's verdict on path. */
static int whole_verify(const char *path, trit_err *err)
{
    trit_reader *r = NULL;
    trit_err_clear(err);
    int rc = trit_reader_open(path, NULL, &r, err);
    if (rc == TRIT_OK) {
        rc = trit_reader_verify(r, err);
        trit_err_file(err, path);
    }
    trit_reader_close(r);
    return rc;
}

static int same(int a, const trit_err *ea, int b, const trit_err *eb)
{
    return a == b && ea->code == eb->code && ea->offset == eb->offset && strcmp(ea->where, eb->where) == 0 &&
           strcmp(ea->msg, eb->msg) == 0 && strcmp(ea->file, eb->file) == 0;
}

static char *cat(char *buf, const char *d, const char *name)
{
    snprintf(buf, 4200, "%s/%s", d, name);
    return buf;
}

TEST(pack_refuses_damaged_input_with_the_verify_error)
{
    const char *const d = tpk_dir("pv_damage");
    char good[4200], bad[4200], out[4200], basebundle[4200];
    cat(good, d, "good.trit");
    cat(bad, d, "model.trit");
    cat(out, d, "out.bundle");
    cat(basebundle, d, "base.bundle");
    CHECK_EQ_INT(tpk_container(good, 1), TRIT_OK);
    size_t len = 0;
    uint8_t *orig = test_read_file(good, &len);
    if (!orig) return;
    /* the base bundle for the delta case: release 1 as model.trit */
    test_write_file(bad, orig, len);
    const char *one[] = {bad};
    trit_err err;
    CHECK_OK_E(pack_one(basebundle, one, 1, 2, 0, NULL, 1, &err), &err);
    trit_reader *r = NULL;
    CHECK_OK_E(trit_reader_open(good, NULL, &r, &err), &err);
    uint8_t *b = malloc(len);
    uint64_t cases = 0;
    for (size_t k = 0; r && k < r->n_placed; k++) {
        trit__placed const *p = &r->placed[k];
        /* an object's first and middle byte, and the padding byte before it if there is one */
        uint64_t const at[3] = {p->start, p->start + p->size / 2, k && p->start > r->placed[k - 1].end ? p->start - 1 : p->start};
        for (int j = 0; j < 3; j++) {
            if (j == 2 && at[2] == p->start) continue;
            memcpy(b, orig, len);
            b[at[j]] ^= 0x41;
            test_write_file(bad, b, len);
            trit_err want;
            int const wrc = whole_verify(bad, &want);
            CHECK(wrc != TRIT_OK);
            static const uint32_t threads[3] = {1, 2, 8};
            for (int t = 0; t < 3; t++) {
                trit_err got;
                int const rc = pack_one(out, one, 1, threads[t], t == 1, NULL, 2, &got);
                if (!same(wrc, &want, rc, &got)) {
                    char m0[600], m1[600];
                    test_fail_(__FILE__, __LINE__, "byte %llu, %u threads%s: verify %d (%s), pack %d (%s)",
                               (unsigned long long)at[j], threads[t], t == 1 ? " (dry run)" : "", wrc,
                               trit_err_format(&want, m0, sizeof m0), rc, trit_err_format(&got, m1, sizeof m1));
                }
            }
            /* as a delta input against release 1 (whose objects it mostly shares) */
            trit_err got;
            int const rc = pack_one(out, one, 1, 2, 0, basebundle, 2, &got);
            CHECK(same(wrc, &want, rc, &got));
            struct stat st;
            CHECK(stat(out, &st) != 0);                     /* nothing written */
            CHECK_EQ_INT(tpk_count_prefix(d, "out.bundle"), 0); /* no temp files either */
            cases++;
        }
    }
    CHECK(cases >= 6);
    trit_reader_close(r);
    free(b);
    free(orig);
}

/* Two damaged inputs: the first in name order is reported (as when every input was verified
 * before any was packed), also when the later one is a delta input hashed first. */
TEST(pack_two_damaged_inputs_report_the_first_by_name)
{
    const char *const d = tpk_dir("pv_two");
    char a[4200], z[4200], out[4200], basebundle[4200];
    cat(a, d, "a.trit");
    cat(z, d, "z.trit");
    cat(out, d, "out.bundle");
    cat(basebundle, d, "base.bundle");
    CHECK_EQ_INT(tpk_container(a, 1), TRIT_OK);
    CHECK_EQ_INT(tpk_container(z, 1), TRIT_OK);
    const char *only_z[] = {z};
    trit_err err;
    CHECK_OK_E(pack_one(basebundle, only_z, 1, 2, 0, NULL, 1, &err), &err); /* z.trit becomes a delta input */
    size_t len = 0;
    uint8_t *buf = test_read_file(a, &len);
    if (!buf) return;
    buf[len - 1] ^= 0x10;   /* the last object */
    test_write_file(a, buf, len);
    test_write_file(z, buf, len);
    trit_err want;
    int const wrc = whole_verify(a, &want);
    CHECK(wrc != TRIT_OK);
    const char *both[] = {z, a};
    CHECK(same(wrc, &want, pack_one(out, both, 2, 2, 0, NULL, 2, &err), &err));
    CHECK(same(wrc, &want, pack_one(out, both, 2, 2, 0, basebundle, 2, &err), &err));
    CHECK(strstr(err.file, "a.trit") != NULL);
    struct stat st;
    CHECK(stat(out, &st) != 0);
    free(buf);
}
