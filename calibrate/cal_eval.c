/*
 * cal_eval.c - the accuracy of activation-scale modes (cal.h, `trit eval`, `trit calibrate
 * --eval`): every mode runs the same teacher-forced sequences beside the float reference
 * (ternary weights, unquantized activations), and each predicted position gives
 *   nll   -log p_mode(next token)                       -> perplexity exp(mean nll)
 *   KL    sum_v p_float(v) (log p_float(v) - log p_mode(v))   (nats; mean and max)
 *   top1  argmax p_mode == argmax p_float
 * The modes run one token at a time in lockstep, one context each, so the float logits of a
 * position are computed once and every mode is compared on exactly the same positions.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cal.h"
#include "cal_int.h"
#include "run.h"
#include "trit_model.h"

#define DEF_SEQ 128u

double cal_kl_logits(const float *a, const float *b, uint32_t n)
{
    double ma = -INFINITY, mb = -INFINITY;
    for (uint32_t i = 0; i < n; i++) {
        ma = fmax(ma, (double)a[i]);
        mb = fmax(mb, (double)b[i]);
    }
    double za = 0, zb = 0;
    for (uint32_t i = 0; i < n; i++) {
        za += exp((double)a[i] - ma);
        zb += exp((double)b[i] - mb);
    }
    double const la = ma + log(za), lb = mb + log(zb);
    double kl = 0;
    for (uint32_t i = 0; i < n; i++) {
        double const lpa = (double)a[i] - la, lpb = (double)b[i] - lb;
        kl += exp(lpa) * (lpa - lpb);
    }
    return kl > 0 ? kl : 0;
}

uint32_t cal_argmax(const float *x, uint32_t n)
{
    uint32_t best = 0;
    for (uint32_t i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

/* -log softmax(x)[target], in double. */
static double nll_of(const float *x, uint32_t n, uint32_t target)
{
    double m = -INFINITY;
    for (uint32_t i = 0; i < n; i++) m = fmax(m, (double)x[i]);
    double z = 0;
    for (uint32_t i = 0; i < n; i++) z += exp((double)x[i] - m);
    return m + log(z) - (double)x[target];
}

int cal_model_has_scales(const char *model_path, int *has, trit_err *err)
{
    trit_reader *r = NULL;
    *has = 0;
    int const rc = trit_reader_open(model_path, NULL, &r, err);
    if (rc) return rc;
    *has = trit_reader_find_section(r, TRIT_SECTION_ACT_SCALES) >= 0;
    trit_reader_close(r);
    return TRIT_OK;
}

/* The contexts: [0] float (the reference), then the modes asked for, in their order. */
typedef struct eval_run {
    run_weights w;
    run_ctx *ctx[1 + RUN_ACT_SCALES_COUNT_];
    float *logits[1 + RUN_ACT_SCALES_COUNT_];
    double nll[1 + RUN_ACT_SCALES_COUNT_], kl[1 + RUN_ACT_SCALES_COUNT_];
    uint32_t n_ctx, V;
} eval_run;

static void eval_run_free(eval_run *e)
{
    for (uint32_t k = 0; k < e->n_ctx; k++) {
        run_ctx_free(e->ctx[k]);
        free(e->logits[k]);
    }
    run_weights_close(&e->w);
}

static int eval_open(eval_run *e, const char *model_path, const cal_eval_opts *o, uint32_t seq, trit_err *err)
{
    int rc = run_weights_open_trit(model_path, 0, &e->w, err);
    for (uint32_t k = 0; k <= o->n_modes && !rc; k++) {
        run_opts ro;
        run_opts_default(&ro);
        ro.n_threads = o->threads ? o->threads : 1;
        ro.n_ctx = seq;
        ro.act_scales = k ? o->modes[k - 1] : RUN_ACT_SCALES_FLOAT;
        rc = run_ctx_new(&e->w, &ro, &e->ctx[k], err);
        if (rc) break;
        e->n_ctx = k + 1;
        e->V = run_ctx_n_vocab(e->ctx[k]);
        if (!(e->logits[k] = malloc(sizeof(float) * e->V))) rc = trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    }
    return rc;
}

/* The modes to run beside float: o's without float and repeats, or the default set (dynamic,
 * block, and static when the model has scales). */
static int pick_modes(const char *model_path, const cal_eval_opts *o_in, cal_eval_opts *o, uint32_t *modes, trit_err *err)
{
    *o = *o_in;
    o->modes = modes;
    o->n_modes = 0;
    if (!o_in->n_modes) {
        int has = 0;
        int const rc = cal_model_has_scales(model_path, &has, err);
        if (rc) return rc;
        modes[o->n_modes++] = RUN_ACT_SCALES_DYNAMIC;
        modes[o->n_modes++] = RUN_ACT_SCALES_BLOCK;
        if (has) modes[o->n_modes++] = RUN_ACT_SCALES_STATIC;
        return TRIT_OK;
    }
    for (uint32_t k = 0; k < o_in->n_modes; k++) {
        uint32_t const m = o_in->modes[k];
        if (!run_act_mode_name(m)) return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL, "unknown activation-scale mode %u", m);
        int dup = m == RUN_ACT_SCALES_FLOAT;
        for (uint32_t j = 0; j < o->n_modes; j++) dup |= modes[j] == m;
        if (!dup) modes[o->n_modes++] = m;
    }
    return TRIT_OK;
}

/* The layout of the model's static scales into rep (cal_eval_report: entries, 16-bit sites). */
static int scales_layout(const char *model_path, cal_eval_report *rep, trit_err *err)
{
    trit_reader *r = NULL;
    trit_act_scales *as = NULL;
    int rc = trit_reader_open(model_path, NULL, &r, err);
    if (!rc) rc = trit_reader_act_scales(r, &as, err);
    size_t used = 0;
    for (uint32_t i = 0; !rc && i < trit_act_scales_n(as); i++) {
        trit_act_entry const *e = trit_act_scales_at(as, i);
        rep->scale_entries++;
        if (e->bits != 16) continue;
        rep->scale_entries16++;
        char key[160], item[176];
        const char *name = trit_reader_tensor(r, e->tensor)->name;
        if (!trit_mt_act_input(name, key, sizeof key)) {
            char *dot = strstr(key, ".weight");
            if (dot && !dot[7]) *dot = '\0';
        }
        /* one site for a layer's experts: "blk.0.ffn_down.3" -> "blk.0.ffn_down.*" */
        size_t kl = strlen(key), d = kl;
        while (d > 0 && key[d - 1] >= '0' && key[d - 1] <= '9') d--;
        if (d < kl && d > 0 && key[d - 1] == '.') snprintf(key + d, sizeof key - d, "*");
        snprintf(item, sizeof item, ",%s,", key);
        char const *list = rep->sites16;
        /* shared inputs list once: look for ",key," in ",list," */
        char probe[sizeof rep->sites16 + 2];
        snprintf(probe, sizeof probe, ",%s,", list);
        if (strstr(probe, item)) continue;
        rep->n_sites16++;
        int const w = snprintf(rep->sites16 + used, sizeof rep->sites16 - used, "%s%s", used ? "," : "", key);
        if (w > 0 && (size_t)w < sizeof rep->sites16 - used - 4) used += (size_t)w;
        else if (used + 5 <= sizeof rep->sites16) {
            memcpy(rep->sites16 + used, ",...", 5);
            used = sizeof rep->sites16;   /* full: count the rest, list no more */
        }
    }
    trit_act_scales_free(as);
    trit_reader_close(r);
    return rc;
}

int cal_eval(const char *model_path, const uint32_t *tok, uint64_t n, const cal_eval_opts *o_in, cal_eval_report *rep,
             trit_err *err)
{
    memset(rep, 0, sizeof *rep);
    uint32_t modes[RUN_ACT_SCALES_COUNT_];
    cal_eval_opts ob;
    cal_eval_opts const *o = &ob;
    int const prc = pick_modes(model_path, o_in, &ob, modes, err);
    if (prc) return prc;
    uint32_t const seq = o->seq_len ? o->seq_len : DEF_SEQ;
    if (seq < 2) return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL, "sequences of at least 2 tokens");
    if (n < 2) return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL, "evaluation data too short: %llu tokens, need 2", (unsigned long long)n);
    eval_run e;
    memset(&e, 0, sizeof e);
    int rc = eval_open(&e, model_path, o, seq, err);
    uint64_t agree[1 + RUN_ACT_SCALES_COUNT_] = {0};
    double kl_max[1 + RUN_ACT_SCALES_COUNT_] = {0};
    for (uint64_t i = 0; i < n && !rc; i++) {
        /* position i predicts token i + 1 when both are in one sequence */
        int const last = (i + 1) % seq == 0 || i + 1 == n;
        if (i % seq == 0)
            for (uint32_t k = 0; k < e.n_ctx; k++) run_ctx_reset(e.ctx[k]);
        for (uint32_t k = 0; k < e.n_ctx && !rc; k++) rc = run_ctx_eval(e.ctx[k], &tok[i], 1, e.logits[k], err);
        if (rc || last) continue;
        uint32_t const ref_top = cal_argmax(e.logits[0], e.V);
        for (uint32_t k = 0; k < e.n_ctx; k++) {
            e.nll[k] += nll_of(e.logits[k], e.V, tok[i + 1]);
            if (k == 0) continue;
            double const kl = cal_kl_logits(e.logits[0], e.logits[k], e.V);
            e.kl[k] += kl;
            kl_max[k] = fmax(kl_max[k], kl);
            agree[k] += cal_argmax(e.logits[k], e.V) == ref_top;
        }
        rep->positions++;
    }
    if (!rc && !rep->positions) rc = trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL, "no position to predict");
    if (!rc) {
        double const np = (double)rep->positions;
        rep->tokens = n;
        rep->seq_len = seq;
        rep->n_modes = e.n_ctx;
        for (uint32_t k = 0; k < e.n_ctx; k++) {
            cal_eval_mode *m = &rep->modes[k];
            m->mode = k ? o->modes[k - 1] : RUN_ACT_SCALES_FLOAT;
            m->nll_mean = e.nll[k] / np;
            m->ppl = exp(m->nll_mean);
            m->kl_mean = e.kl[k] / np;
            m->kl_max = kl_max[k];
            m->agree = k ? agree[k] : rep->positions;
            m->top1 = (double)m->agree / np;
        }
        if (cal_eval_find(rep, RUN_ACT_SCALES_STATIC)) rc = scales_layout(model_path, rep, err);
    }
    eval_run_free(&e);
    return rc;
}

const cal_eval_mode *cal_eval_find(const cal_eval_report *rep, uint32_t mode)
{
    for (uint32_t k = 0; k < rep->n_modes; k++)
        if (rep->modes[k].mode == mode) return &rep->modes[k];
    return NULL;
}

int cal_eval_check(const cal_eval_report *rep, double max_ppl_ratio, double max_kl_ratio, int *pass)
{
    const cal_eval_mode *d = cal_eval_find(rep, RUN_ACT_SCALES_DYNAMIC), *s = cal_eval_find(rep, RUN_ACT_SCALES_STATIC);
    *pass = 0;
    if (!d || !s) return TRIT_E_NOTFOUND;
    *pass = s->ppl <= max_ppl_ratio * d->ppl && s->kl_mean <= max_kl_ratio * d->kl_mean;
    return TRIT_OK;
}
