/*
 * cal.c - `trit calibrate` (cal.h): run the model over the calibration tokens twice
 * (fit sequences, then held-out sequences) with the statistics observer, choose each site's
 * granularity and scales by the rule in cal.h, encode the kind-5 section and write the
 * copy of the container.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cvt.h"
#include "cal_int.h"
#include "trit_safemath.h"

#define DEF_SEQ 128u
#define DEF_HOLDOUT 4u
#define DEF_EVAL_ROWS 64u
#define DEF_MIN_ROWS 32u
#define DEF_TOLERANCE 1.0

static const char *const k_cand_names[CAL_N_CAND] = {"tensor",  "tensor@p99.99", "tensor@mse",   "group128",
                                                     "group32", "channel",       "tensor/int16", "channel/int16"};

const char *cal_cand_name(int c) { return c >= 0 && c < CAL_N_CAND ? k_cand_names[c] : NULL; }

uint32_t cal_cand_bits(int c) { return c >= CAL_N_CAND8 ? 16u : 8u; }

static const char *const k_force_names[CAL_FORCE_COUNT_] = {"auto", "tensor", "group128", "group32", "channel"};

const char *cal_force_name(uint32_t f) { return f < CAL_FORCE_COUNT_ ? k_force_names[f] : NULL; }

int cal_force_from_name(const char *name, uint32_t *out)
{
    for (uint32_t f = 0; f < CAL_FORCE_COUNT_; f++)
        if (name && !strcmp(name, k_force_names[f])) {
            *out = f;
            return TRIT_OK;
        }
    return TRIT_E_NOTFOUND;
}

void cal_report_free(cal_report *rep)
{
    if (!rep) return;
    free(rep->sites);
    memset(rep, 0, sizeof *rep);
}

static uint32_t cand_granularity(int c)
{
    if (c == CAL_CHANNEL || c == CAL_CHANNEL16) return TRIT_ACT_CHANNEL;
    return c == CAL_GROUP128 || c == CAL_GROUP32 ? TRIT_ACT_GROUP : TRIT_ACT_TENSOR;
}

static uint32_t cand_group(int c) { return c == CAL_GROUP128 ? 128u : c == CAL_GROUP32 ? 32u : 0u; }

/* The rule: the best per-tensor clipping level stands for "tensor"; then the coarsest of
 * tensor, group 128, group 32, channel whose error is within (1 + tol) of the best; or the
 * forced granularity. */
static int choose(const cal_group *g, double tol, uint32_t force)
{
    int const measured = g->eval_rows && g->ref2 > 0;
    int tensor = CAL_TENSOR;
    for (int c = CAL_TENSOR_P9999; c <= CAL_TENSOR_MSE && measured; c++)
        if (cal_group_err(g, c) < cal_group_err(g, tensor)) tensor = c;
    int const order[4] = {tensor, CAL_GROUP128, CAL_GROUP32, CAL_CHANNEL};
    if (force != CAL_FORCE_NONE) return order[force - CAL_FORCE_TENSOR];
    if (!measured) return CAL_TENSOR;
    double best = INFINITY;
    for (int k = 0; k < 4; k++) best = fmin(best, cal_group_err(g, order[k]));
    for (int k = 0; k < 4; k++)
        if (cal_group_err(g, order[k]) <= (1.0 + tol) * best) return order[k];
    return order[3];
}

/* The site target (cal.h) over the 8-bit choice c8: the coarsest 8-bit candidate within target
 * times dynamic's error, else 16 bits when they measure better than every 8-bit candidate, else
 * the best 8-bit one. target 0: no target (16 bits not allowed). */
static int widen(const cal_group *g, int c8, double tol, double target)
{
    double const dyn = g->ref2 > 0 ? sqrt(g->dyn_err2 / g->ref2) : 0.0, lim = target * dyn;
    if (target <= 0 || !g->eval_rows || cal_group_err(g, c8) <= lim) return c8;
    int const order[4] = {c8 <= CAL_TENSOR_MSE ? c8 : CAL_TENSOR, CAL_GROUP128, CAL_GROUP32, CAL_CHANNEL};
    for (int k = 0; k < 4; k++)
        if (order[k] >= c8 && cal_group_err(g, order[k]) <= lim) return order[k];
    double const t16 = cal_group_err(g, CAL_TENSOR16), c16 = cal_group_err(g, CAL_CHANNEL16);
    int const w = t16 <= (1.0 + tol) * fmin(t16, c16) ? CAL_TENSOR16 : CAL_CHANNEL16;
    /* 16 bits only where they measure better than the best int8 candidate (held-out values past
     * the fit rows' range clip at any width) */
    int best8 = 0;
    for (int c = 1; c < CAL_N_CAND8; c++)
        if (cal_group_err(g, c) < cal_group_err(g, best8)) best8 = c;
    return cal_group_err(g, w) < cal_group_err(g, best8) ? w : best8;
}

static int cmp_entry(const void *a, const void *b)
{
    uint32_t const x = ((const trit_act_entry *)a)->tensor, y = ((const trit_act_entry *)b)->tensor;
    return (x > y) - (x < y);
}

static void fill_site(const cal_state *st, const cal_group *g, int c8, int c, cal_site *s)
{
    memset(s, 0, sizeof *s);
    snprintf(s->site, sizeof s->site, "%s", run_site_kind_name(g->kind));
    s->layer = g->layer;
    int const exp = g->kind == RUN_SITE_EXP_IN || g->kind == RUN_SITE_EXP_DOWN;
    char names[3][96];
    run_act_site const site = {g->kind, g->layer, 0};
    uint32_t const nn = run_act_site_tensors(&site, names);
    size_t used = 0;
    for (uint32_t k = 0; k < nn; k++) {
        if (!exp) {
            int64_t const ti = trit_reader_find_tensor(st->r, names[k]);
            if (ti < 0 || trit_reader_tensor(st->r, (uint32_t)ti)->type != TRIT_TYPE_T2) continue;
        } else {
            /* "blk.L.ffn_gate.0.weight" -> "blk.L.ffn_gate.*.weight" */
            char *dot = strstr(names[k], ".0.weight");
            if (dot) memcpy(dot, ".*.weight", 10);
        }
        int const w = snprintf(s->tensors + used, sizeof s->tensors - used, "%s%s", used ? "," : "", names[k]);
        if (w > 0 && (size_t)w < sizeof s->tensors - used) used += (size_t)w;
    }
    s->cols = (uint32_t)g->cols;
    s->fit_rows = g->fit_rows;
    s->eval_rows = g->eval_rows;
    uint64_t total = 0;
    for (uint32_t b = 0; b < CAL_HIST_BINS; b++) total += g->hist[b];
    for (uint64_t i = 0; i < g->cols; i++) s->absmax = fmax(s->absmax, (double)g->absmax[i]);
    s->p99 = fmin(cal_hist_percentile(g->hist, total, 0.99), s->absmax);
    s->p999 = fmin(cal_hist_percentile(g->hist, total, 0.999), s->absmax);
    s->p9999 = fmin(cal_hist_percentile(g->hist, total, 0.9999), s->absmax);
    for (int k = 0; k < CAL_N_CAND; k++) s->err[k] = cal_group_err(g, k);
    s->err_dynamic = g->ref2 > 0 ? sqrt(g->dyn_err2 / g->ref2) : 0.0;
    s->choice = c;
    s->choice8 = c8;
    s->bits = cal_cand_bits(c);
    s->granularity = cand_granularity(c);
    s->group_size = cand_group(c);
    s->err_vs_dynamic = g->dyn_ref2 > 0 ? sqrt(g->vsdyn2[c] / g->dyn_ref2) : 0.0;
    s->clip_rate = g->values ? (double)g->clipped[c] / (double)g->values : 0.0;
    s->scale_min = INFINITY;
    for (uint32_t e = 0; e < g->n_members; e++) {
        cal_member const *m = &g->m[e];
        if (!m->n_cons) continue;
        s->n_members++;
        s->n_pooled += !m->own;
        for (uint32_t k = 0; k < m->n_scales[c]; k++) {
            s->scale = fmax(s->scale, (double)m->scales[c][k]);
            s->scale_min = fmin(s->scale_min, (double)m->scales[c][k]);
        }
    }
}

/* Choose per group, make the entries (one per t2 tensor) and the report. */
static int decide(const cal_state *st, double tol, uint32_t force, double site_target, trit_act_entry **out, uint32_t *n_out,
                  cal_report *rep, trit_err *err)
{
    uint64_t n = 0;
    for (uint32_t gi = 0; gi < st->n_groups; gi++)
        for (uint32_t e = 0; e < st->g[gi].n_members; e++) n += st->g[gi].m[e].n_cons;
    trit_act_entry *es = trit_mallocarray(n ? n : 1, sizeof *es);
    cal_site *sites = rep ? calloc(st->n_groups, sizeof *sites) : NULL;
    if (!es || (rep && !sites)) {
        free(es);
        free(sites);
        return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    }
    uint32_t k = 0;
    for (uint32_t gi = 0; gi < st->n_groups; gi++) {
        cal_group const *g = &st->g[gi];
        int const c8 = choose(g, tol, force), c = force != CAL_FORCE_NONE ? c8 : widen(g, c8, tol, site_target);
        for (uint32_t e = 0; e < g->n_members; e++) {
            cal_member const *m = &g->m[e];
            for (uint32_t j = 0; j < m->n_cons; j++)
                es[k++] = (trit_act_entry){m->cons[j], cand_granularity(c), cand_group(c), m->n_scales[c], cal_cand_bits(c), m->scales[c]};
        }
        if (rep) rep->n_wide += cal_cand_bits(c) == 16;
        if (sites) fill_site(st, g, c8, c, &sites[gi]);
    }
    qsort(es, k, sizeof *es, cmp_entry);
    *out = es;
    *n_out = k;
    if (rep) {
        rep->n_sites = st->n_groups;
        rep->sites = sites;
    }
    return TRIT_OK;
}

/* Evaluate the sequences of one pass (held-out ones when eval is set). */
static int run_pass(run_ctx *ctx, cal_state *st, const uint32_t *tok, uint64_t n, uint32_t seq, uint32_t every, int eval,
                    float *logits, uint64_t *n_tok, trit_err *err)
{
    st->phase = eval ? CAL_EVAL : CAL_FIT;
    uint64_t i = 0;
    for (uint64_t s0 = 0; s0 < n; s0 += seq, i++) {
        if ((i % every == every - 1) != (eval != 0)) continue;
        uint32_t const len = (uint32_t)(n - s0 < seq ? n - s0 : seq);
        run_ctx_reset(ctx);
        int const rc = run_ctx_eval(ctx, tok + s0, len, logits, err);
        if (rc) return rc;
        if (st->rc) {
            *err = st->err;
            return st->rc;
        }
        *n_tok += len;
    }
    return TRIT_OK;
}

int cal_calibrate(const char *model_path, const uint32_t *tokens, uint64_t n_tokens, const char *out_path,
                  const cal_opts *o_in, cal_report *rep, trit_err *err)
{
    cal_opts o;
    memset(&o, 0, sizeof o);
    o.tolerance = -1;
    if (o_in) o = *o_in;
    uint32_t seq = o.seq_len ? o.seq_len : DEF_SEQ;
    uint32_t const every = o.holdout_every ? o.holdout_every : DEF_HOLDOUT;
    double const tol = o.tolerance >= 0 ? o.tolerance : DEF_TOLERANCE;
    if (o.max_bits && o.max_bits != 8 && o.max_bits != 16)
        return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL, "activation width %u bits: 8 or 16", o.max_bits);
    double const wide = o.max_bits == 8 || o.force != CAL_FORCE_NONE ? 0.0 : o.site_target > 0 ? o.site_target : CAL_DEF_SITE_TARGET;
    if (rep) memset(rep, 0, sizeof *rep);
    if (o.force >= CAL_FORCE_COUNT_) return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL, "unknown forced granularity %u", o.force);
    if (every < 2) return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL, "holdout_every must be at least 2");
    if (n_tokens < 2ull * every)
        return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL, "calibration data too short: %llu tokens, need at least %u",
                            (unsigned long long)n_tokens, 2 * every);
    if (!o.dry_run && !o.overwrite && access(out_path, F_OK) == 0)
        return trit_err_set(err, TRIT_E_EXISTS, TRIT_NO_OFFSET, out_path, "output exists; use --force to replace it");
    /* at least `every` sequences, so that one is held out */
    if (trit_div_ceil(n_tokens, seq) < every) seq = (uint32_t)trit_div_ceil(n_tokens, every);

    trit_reader *r = NULL;
    run_weights w;
    memset(&w, 0, sizeof w);
    run_ctx *ctx = NULL;
    cal_state st;
    memset(&st, 0, sizeof st);
    trit_act_entry *es = NULL;
    uint32_t n_es = 0;
    void *sec = NULL;
    uint64_t sec_len = 0;
    float *logits = NULL;
    uint64_t fit_tok = 0, eval_tok = 0;
    int rc = trit_reader_open(model_path, NULL, &r, err);
    if (!rc) rc = cal_build(&st, r, o.eval_rows ? o.eval_rows : DEF_EVAL_ROWS, o.min_rows ? o.min_rows : DEF_MIN_ROWS, err);
    if (!rc) rc = run_weights_from_reader(r, &w, err);
    if (!rc) {
        run_opts ro;
        run_opts_default(&ro);
        ro.n_threads = o.threads ? o.threads : 1;
        ro.n_ctx = seq;
        ro.act_observe = cal_observe;
        ro.act_arg = &st;
        rc = run_ctx_new(&w, &ro, &ctx, err);
    }
    if (!rc && !(logits = malloc(sizeof *logits * run_ctx_n_vocab(ctx))))
        rc = trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    /* logits are asked for so that an output head (when t2) is observed too */
    if (!rc) rc = run_pass(ctx, &st, tokens, n_tokens, seq, every, 0, logits, &fit_tok, err);
    if (!rc) rc = cal_prepare_eval(&st, err);
    if (!rc) rc = run_pass(ctx, &st, tokens, n_tokens, seq, every, 1, logits, &eval_tok, err);
    if (!rc) rc = decide(&st, tol, o.force, wide, &es, &n_es, rep, err);
    if (!rc) rc = trit_act_scales_encode(es, n_es, &sec, &sec_len, err);
    if (!rc && !o.dry_run) {
        cal_copy_opts co;
        memset(&co, 0, sizeof co);
        co.act_section = sec;
        co.act_section_len = sec_len;
        co.zstd_level = o.zstd_level;
        co.overwrite = o.overwrite;
        co.temp_path = o.temp_path;
        co.temp_ctx = o.temp_ctx;
        rc = cal_copy_container(r, out_path, &co, err);
    }
    if (!rc && rep) {
        rep->n_tokens = n_tokens;
        rep->fit_tokens = fit_tok;
        rep->eval_tokens = eval_tok;
        rep->seq_len = seq;
        rep->n_seq = (uint32_t)trit_div_ceil(n_tokens, seq);
        rep->tolerance = tol;
        rep->site_target = wide;
        rep->n_entries = n_es;
        rep->section_bytes = sec_len;
    }
    if (rc && rep) cal_report_free(rep);
    if (rc && r) trit_err_file(err, model_path);
    free(logits);
    trit_free(sec);
    free(es);
    run_ctx_free(ctx);
    run_weights_close(&w);
    cal_release(&st);
    trit_reader_close(r);
    return rc;
}
