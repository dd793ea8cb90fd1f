/* test_verify_smoke.c - `trit verify --smoke` through the real runner (runner/run.h): a model
 * whose golden logits are what the runner computes passes; a golden section one logit off
 * fails with the smoke class; a corrupt model is never run. */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "run.h"
#include "test.h"
#include "test_verify.h"

/* Logits of the prompt {1, 2, 3} computed by the runner on the model at path. */
static int runner_logits(const char *path, float *logits)
{
    trit_reader *r = NULL;
    run_weights w;
    memset(&w, 0, sizeof w);
    run_ctx *c = NULL;
    trit_err e;
    trit_err_clear(&e);
    static const uint32_t prompt[3] = {1, 2, 3};
    int rc = trit_reader_open(path, NULL, &r, &e);
    if (rc == TRIT_OK) rc = run_weights_from_reader(r, &w, &e);
    run_opts o;
    run_opts_default(&o);
    o.n_ctx = 3;
    if (rc == TRIT_OK) rc = run_ctx_new(&w, &o, &c, &e);
    if (rc == TRIT_OK && run_ctx_n_vocab(c) != VT_N_VOCAB) rc = TRIT_E_CORRUPT;
    if (rc == TRIT_OK) rc = run_ctx_eval(c, prompt, 3, logits, &e);
    run_ctx_free(c);
    run_weights_close(&w);
    trit_reader_close(r);
    CHECK_OK_E(rc, &e);
    return rc;
}

TEST(verify_smoke_with_the_runner)
{
    const char *bin = test_trit_bin();
    if (!bin || !*bin) SKIP("TRIT_BIN not set");
    const char *plain = test_path(test_tmpdir(), "sm-plain.trit");
    const char *good = test_path(test_tmpdir(), "sm-good.trit");
    const char *off = test_path(test_tmpdir(), "sm-off.trit");
    const char *bad = test_path(test_tmpdir(), "sm-nan.trit");
    trit_err e;
    CHECK_OK_E(vt_build(plain, NULL, &e), &e);
    float logits[VT_N_VOCAB];
    if (runner_logits(plain, logits) != TRIT_OK) return;
    vt_defects d;
    memset(&d, 0, sizeof d);
    d.golden = 1;
    d.golden_values = logits;
    CHECK_OK_E(vt_build(good, &d, &e), &e);
    logits[7] += 0.5f;
    CHECK_OK_E(vt_build(off, &d, &e), &e);
    memset(&d, 0, sizeof d);
    d.nan_float = 1;
    CHECK_OK_E(vt_build(bad, &d, &e), &e);
    char cmd[4096];
    char *out = NULL;
    snprintf(cmd, sizeof cmd, "%s verify --smoke 3 --json %s", bin, plain);
    CHECK_EQ_INT(test_run(cmd, &out), 0);
    cJSON *j = out ? cJSON_Parse(out) : NULL;
    CHECK(j && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "checked"), "smoke")));
    cJSON_Delete(j);
    free(out);
    snprintf(cmd, sizeof cmd, "%s verify --smoke 3 %s", bin, good);
    CHECK_EQ_INT(test_run(cmd, NULL), 0);
    out = NULL;
    snprintf(cmd, sizeof cmd, "%s verify --smoke 3 %s", bin, off);
    CHECK_EQ_INT(test_run(cmd, &out), 1);
    CHECK(out && strstr(out, "FAIL smoke:") && strstr(out, "at token 7"));
    free(out);
    out = NULL;
    snprintf(cmd, sizeof cmd, "%s verify --smoke 3 --json %s", bin, bad);
    CHECK_EQ_INT(test_run(cmd, &out), 1);
    j = out ? cJSON_Parse(out) : NULL;
    CHECK(j && cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "checked"), "smoke")));
    cJSON_Delete(j);
    free(out);
    snprintf(cmd, sizeof cmd, "%s verify --smoke 0 %s 2>/dev/null", bin, plain);
    CHECK_EQ_INT(test_run(cmd, NULL), 2);
}
