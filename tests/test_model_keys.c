/* test_model_keys.c - a model-description key nobody computes (a container from a newer
 * converter, or a tampered one) is refused by the runner and failed by the gate, instead of
 * being ignored while the model computes something close. The same container without the key
 * loads and passes (the control). */
#include <stdio.h>
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
