/* test_model_keys.c - a model-description key nobody computes (a container from a newer
 * converter, or a tampered one) is refused by the runner and failed by the gate, instead of
 * being ignored while the model computes something close. The same container without the key
 * loads and passes (the control). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"
#include "test.h"
#include "test_verify.h"

static int load(const char *path, trit_err *e)
{
    run_weights w;
    memset(&w, 0, sizeof w);
    int rc = run_weights_open_trit(path, 0, &w, e);
    run_ctx *c = NULL;
    run_opts o;
    run_opts_default(&o);
    o.n_threads = 1;
    if (rc == TRIT_OK) rc = run_ctx_new(&w, &o, &c, e);
    run_ctx_free(c);
    run_weights_close(&w);
    return rc;
}

TEST(model_keys_unknown_refused_by_runner_and_gate)
{
    const char *good = test_path(test_tmpdir(), "mk-good.trit");
    const char *bad = test_path(test_tmpdir(), "mk-unknown.trit");
    trit_err e;
    CHECK_OK_E(vt_build(good, NULL, &e), &e);
    vt_defects d;
    memset(&d, 0, sizeof d);
    d.unknown_key = 1;
    CHECK_OK_E(vt_build(bad, &d, &e), &e);

    CHECK_OK_E(load(good, &e), &e);
    CHECK_EQ_INT(load(bad, &e), TRIT_E_UNSUPPORTED);
    CHECK(strstr(e.msg, "model.attn_temperature") != NULL);

    vfy_report rep;
    CHECK_EQ_INT(vt_verify(good, NULL, &rep), 0);
    CHECK_EQ_U64(vfy_report_n_errors(&rep), 0);
    vfy_report_release(&rep);
    CHECK(vt_verify(bad, NULL, &rep) != 0);
    CHECK(vt_count(&rep, VFY_C_METADATA, "metadata 'model.attn_temperature'", "runner refuses") == 1);
    vfy_report_release(&rep);
}

/* The gate loads the model the way the runtime does: a renamed expert member is only a name
 * warning to the metadata checks, but the runner cannot find the expert's up projection. Before
 * the load check, verify passed it and `run` failed later on the device. */
TEST(model_keys_verify_loads_like_the_runtime)
{
    const char *bin = test_trit_bin();
    if (!bin || !*bin) SKIP("TRIT_BIN not set");
    const char *good = test_path(test_tmpdir(), "mk-load-good.trit");
    const char *bad = test_path(test_tmpdir(), "mk-renamed.trit");
    trit_err e;
    CHECK_OK_E(vt_build(good, NULL, &e), &e);
    vt_defects d;
    memset(&d, 0, sizeof d);
    d.renamed_member = 1;
    CHECK_OK_E(vt_build(bad, &d, &e), &e);
    CHECK(load(bad, &e) != TRIT_OK);   /* the runtime refuses it */

    char cmd[4096];
    char *out = NULL;
    snprintf(cmd, sizeof cmd, "%s verify --json %s", bin, good);
    CHECK_EQ_INT(test_run(cmd, &out), 0);
    CHECK(out && strstr(out, "\"runtime_load\":true"));
    free(out);
    snprintf(cmd, sizeof cmd, "%s verify %s 2>&1", bin, bad);
    CHECK_EQ_INT(test_run(cmd, &out), 1);
    CHECK(out && strstr(out, "the runner refuses to load it"));
    free(out);
}
