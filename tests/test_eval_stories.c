/* test_eval_stories.c - issue 15's bound on the one trained model at hand: stories260K (fixture)
 * converted with --ternarize. Text: stories sampled from the float stories260K itself (seeds 1..14
 * for calibration, 101..108 held out, temperature 0.8 from BOS), as token ids. On it the
 * calibrator's scales (int8 at most sites, 16 bits where no int8 granularity comes within the
 * site target) keep perplexity <= 1.03x dynamic's and mean KL(float || static) <= 1.5x
 * KL(float || dynamic); int8 alone (--max-bits 8) does not reach the KL bound (measured 4x), and
 * the negative control (per tensor, int8, everywhere) fails it. Skipped without the fixtures. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cal.h"
#include "cvt.h"
#include "run.h"
#include "test.h"

/* n_seeds stories of up to len tokens from the model at path (BOS first, stopping at EOS), seeds
 * seed0.., appended into one token array. */
static uint32_t *sample_stories(const char *path, uint64_t seed0, uint32_t n_seeds, uint32_t len, uint64_t *n_out)
{
    run_weights w;
    memset(&w, 0, sizeof w);
    run_ctx *c = NULL;
    run_opts o;
    run_opts_default(&o);
    o.n_ctx = len + 1;
    trit_err e;
    uint32_t *tok = malloc(sizeof *tok * (uint64_t)n_seeds * (len + 1));
    float *logits = NULL;
    uint64_t n = 0;
    int rc = run_weights_open_trit(path, 0, &w, &e);
    if (!rc) rc = run_ctx_new(&w, &o, &c, &e);
    if (!rc) logits = malloc(sizeof *logits * run_ctx_n_vocab(c));
    for (uint32_t s = 0; !rc && s < n_seeds; s++) {
        run_sampler sm;
        run_sampler_init(&sm, 0.8f, 0, 1.0f, seed0 + s);
        run_ctx_reset(c);
        uint32_t t = run_ctx_bos(c);
        for (uint32_t i = 0; !rc && i < len; i++) {
            tok[n++] = t;
            rc = run_ctx_eval(c, &t, 1, logits, &e);
            if (rc) break;
            t = run_sample(&sm, logits, run_ctx_n_vocab(c));
            if (t == run_ctx_eos(c)) break;
        }
    }
    CHECK_OK_E(rc, &e);
    free(logits);
    run_ctx_free(c);
    run_weights_close(&w);
    *n_out = n;
    return tok;
}

/* Calibrate with o, evaluate dynamic and static on held; *kl_ratio static / dynamic. Returns
 * cal_eval_check's verdict. */
static int judge(const char *model, const char *out, const uint32_t *cal, uint64_t n_cal, const uint32_t *held, uint64_t n_held,
                 const cal_opts *o, const char *what, double *kl_ratio, cal_eval_report *ev)
{
    trit_err e;
    cal_report rep;
    CHECK_OK_E(cal_calibrate(model, cal, n_cal, out, o, &rep, &e), &e);
    uint32_t const modes[2] = {RUN_ACT_SCALES_DYNAMIC, RUN_ACT_SCALES_STATIC};
    cal_eval_opts eo = {modes, 2, 0, 1};
    CHECK_OK_E(cal_eval(out, held, n_held, &eo, ev, &e), &e);
    const cal_eval_mode *d = cal_eval_find(ev, RUN_ACT_SCALES_DYNAMIC), *s = cal_eval_find(ev, RUN_ACT_SCALES_STATIC);
    int pass = 0;
    *kl_ratio = 0;
    if (d && s) {
        *kl_ratio = s->kl_mean / d->kl_mean;
        CHECK_EQ_INT(cal_eval_check(ev, 1.03, 1.5, &pass), TRIT_OK);
        printf("  %-26s ppl %.4fx, KL %.3fx dynamic's (%.3g), %u of %u sites at 16 bits: %s\n", what, s->ppl / d->ppl, *kl_ratio,
               d->kl_mean, rep.n_wide, rep.n_sites, ev->sites16[0] ? ev->sites16 : "-");
        CHECK_EQ_INT((int)ev->n_sites16, (int)rep.n_wide);
    }
    cal_report_free(&rep);
    return pass;
}

TEST(eval_bound_on_stories260k_ternarized)
{
    const char *fx = test_fixtures();
    if (!fx) SKIP("fixtures absent");
    char src[1024];
    snprintf(src, sizeof src, "%s/gguf/stories260K.gguf", fx);
    const char *dir = test_tmpdir();
    char f32[512], tern[512];
    snprintf(f32, sizeof f32, "%s", test_path(dir, "st-f32.trit"));
    snprintf(tern, sizeof tern, "%s", test_path(dir, "st-tern.trit"));
    cvt_opts co;
    memset(&co, 0, sizeof co);
    co.overwrite = 1;
    co.threads = 1;
    trit_err e;
    CHECK_OK_E(cvt_convert(src, f32, &co, NULL, &e), &e);
    co.ternarize = 1;
    CHECK_OK_E(cvt_convert(src, tern, &co, NULL, &e), &e);
    uint64_t n_cal = 0, n_held = 0;
    uint32_t *cal = sample_stories(f32, 1, 14, 256, &n_cal), *held = sample_stories(f32, 101, 8, 256, &n_held);
    CHECK(n_cal > 2500 && n_held > 1200);
    cal_opts o;
    memset(&o, 0, sizeof o);
    o.tolerance = -1;
    o.overwrite = 1;
    o.threads = 1;
    double r_rule, r_int8, r_ctl;
    cal_eval_report ev;
    /* the calibrator's choice: within the bound, with a minority of sites at 16 bits */
    CHECK(judge(tern, test_path(dir, "st.cal.trit"), cal, n_cal, held, n_held, &o, "rule (site target 1.25)", &r_rule, &ev));
    CHECK(ev.n_sites16 > 0 && ev.n_sites16 < 20 && ev.scale_entries16 < ev.scale_entries);
    /* the same rule limited to int8: what the 16-bit sites buy */
    o.max_bits = 8;
    int const int8_pass = judge(tern, test_path(dir, "st.int8.trit"), cal, n_cal, held, n_held, &o, "int8 only", &r_int8, &ev);
    CHECK(!int8_pass && r_int8 > 2 * r_rule && ev.scale_entries16 == 0);
    /* negative control: per tensor forced everywhere (int8) */
    o.max_bits = 0;
    o.force = CAL_FORCE_TENSOR;
    CHECK(!judge(tern, test_path(dir, "st.tensor.trit"), cal, n_cal, held, n_held, &o, "control (per tensor)", &r_ctl, &ev));
    CHECK(r_ctl > 1.5 && ev.scale_entries16 == 0);
    free(cal);
    free(held);
}
