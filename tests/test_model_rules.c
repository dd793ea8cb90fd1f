/* test_model_rules.c - one set of description rules (trit_mt_check, format/model_table.c) in
 * convert, verify and the runner: convert never writes what its gate refuses, and the gate
 * refuses what the runtime cannot load. Each case has its control. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cvt.h"
#include "gen/gen.h"
#include "run.h"
#include "test.h"
#include "test_config_edit.h"
#include "test_verify.h"

static int convert(const char *src, trit_err *err)
{
    char out[4300];
    snprintf(out, sizeof out, "%s.rules.trit", src);
    cvt_opts o;
    memset(&o, 0, sizeof o);
    o.overwrite = 1;
    cvt_report rep;
    int const rc = cvt_convert(src, out, &o, &rep, err);
    if (rc == TRIT_OK) cvt_report_free(&rep);
    return rc;
}

TEST(model_rules_convert_refuses_inconsistent_sources)
{
    static const struct { const char *key, *value, *named; } cases[] = {
        {"rms_norm_eps", "-1", "model.norm_eps"},
        {"rope_theta", "987654321.5", "model.rope_theta"},   /* rewritten as 1e400 below */
        {"num_hidden_layers", "100000", "model.n_layer"},
        {"bos_token_id", "999999", "model.bos_token_id"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char src[4096], tag[32];
        snprintf(tag, sizeof tag, "mr-%zu", i);
        if (test_gen(GEN_LAYOUT_MIXTRAL, tag, src, sizeof src) != 0) {
            test_fail_(__FILE__, __LINE__, "gen failed");
            return;
        }
        trit_err err;
        CHECK_OK_E(convert(src, &err), &err);   /* control */
        CHECK_EQ_INT(test_config_set(src, cases[i].key, cases[i].value), 0);
        if (!strcmp(cases[i].key, "rope_theta")) {
            /* cJSON cannot print an overflowing number: put the text in by hand */
            char cfg[4200];
            snprintf(cfg, sizeof cfg, "%s/config.json", src);
            size_t n = 0;
            char *t = (char *)test_read_file(cfg, &n);
            char *at = t ? strstr(t, "987654321.5") : NULL;
            CHECK(at != NULL);
            if (at) {
                memcpy(at, "1e400      ", 11);
                test_write_file(cfg, t, n);
            }
            free(t);
        }
        int const rc = convert(src, &err);
        if (!(rc == TRIT_E_CORRUPT || rc == TRIT_E_LIMIT) || !strstr(err.msg, cases[i].named))
            test_fail_(__FILE__, __LINE__, "%s = %s: code %d '%s'", cases[i].key, cases[i].value, rc, err.msg);
    }
}

TEST(model_rules_verify_agrees_with_convert_on_sources)
{
    /* a source convert refuses (hidden_size 0) does not pass verify */
    char src[4096];
    if (test_gen(GEN_LAYOUT_QWEN3MOE, "mr-src", src, sizeof src) != 0) return;
    vfy_report rep;
    CHECK_EQ_INT(vt_verify(src, NULL, &rep), 0);
    vfy_report_release(&rep);
    CHECK_EQ_INT(test_config_set(src, "num_key_value_heads", "3"), 0);
    trit_err err;
    CHECK(convert(src, &err) != TRIT_OK);
    CHECK(vt_verify(src, NULL, &rep) != 0);
    CHECK(vt_count(&rep, VFY_C_METADATA, "metadata 'model.n_head_kv'", "does not divide") == 1);
    vfy_report_release(&rep);
}

TEST(model_rules_token_ids_within_vocab)
{
    const char *good = test_path(test_tmpdir(), "mr-bos-ok.trit");
    const char *bad = test_path(test_tmpdir(), "mr-bos-bad.trit");
    trit_err e;
    vt_defects d;
    memset(&d, 0, sizeof d);
    d.bos_id = 1;
    CHECK_OK_E(vt_build(good, &d, &e), &e);
    d.bos_id = 1u << 20;
    CHECK_OK_E(vt_build(bad, &d, &e), &e);
    vfy_report rep;
    CHECK_EQ_INT(vt_verify(good, NULL, &rep), 0);
    vfy_report_release(&rep);
    CHECK(vt_verify(bad, NULL, &rep) != 0);
    CHECK(vt_count(&rep, VFY_C_METADATA, "metadata 'model.bos_token_id'", "below model.n_vocab") == 1);
    vfy_report_release(&rep);
    /* the runner applies the same rule */
    run_weights w;
    memset(&w, 0, sizeof w);
    run_ctx *c = NULL;
    run_opts o;
    run_opts_default(&o);
    int rc = run_weights_open_trit(bad, 0, &w, &e);
    if (rc == TRIT_OK) rc = run_ctx_new(&w, &o, &c, &e);
    CHECK_EQ_INT(rc, TRIT_E_CORRUPT);
    CHECK(strstr(e.msg, "model.bos_token_id") != NULL);
    run_ctx_free(c);
    run_weights_close(&w);
}

/* config.json with a key twice: readers disagree on which value wins, so no reader may pick. */
TEST(model_rules_duplicate_config_key_refused)
{
    char src[4096];
    if (test_gen(GEN_LAYOUT_MIXTRAL, "mr-dup", src, sizeof src) != 0) return;
    trit_err err;
    CHECK_OK_E(convert(src, &err), &err);
    char cfg[4200];
    snprintf(cfg, sizeof cfg, "%s/config.json", src);
    size_t n = 0;
    char *t = (char *)test_read_file(cfg, &n);
    CHECK(t && n > 2 && t[0] == '{');
    if (!t || n < 2 || t[0] != '{') {
        free(t);
        return;
    }
    char *nt = malloc(n + 64);
    CHECK(nt != NULL);
    if (!nt) {
        free(t);
        return;
    }
    int const k = snprintf(nt, 64, "{\"rope_theta\": 5.0, ");
    memcpy(nt + k, t + 1, n - 1);
    CHECK_EQ_INT(test_write_file(cfg, nt, (size_t)k + n - 1), 0);
    free(t);
    free(nt);
    CHECK_EQ_INT(convert(src, &err), TRIT_E_CORRUPT);
    CHECK(strstr(err.msg, "rope_theta") && strstr(err.msg, "twice"));
    vfy_report rep;
    CHECK(vt_verify(src, NULL, &rep) != 0);
    vfy_report_release(&rep);
}
