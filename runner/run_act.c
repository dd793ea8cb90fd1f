/*
 * run_act.c - where the forward pass quantizes activations for t2 projections ("sites"), and
 * the static activation scales of spec section 9 (`--act-scales static`).
 *
 * Dynamic mode (the default and the reference) is BitNet's absmax per token (run_ops.c);
 * block mode is the same with one absmax per 256 values (llama.cpp's q8_K grain, run_ops.c).
 * Float mode quantizes nothing: run__linear multiplies the t2 weights with the float input
 * (run_act_lin.c), the reference against which `trit eval` judges every int8 scheme.
 * Static mode takes each site's scales from the model's kind-5 section, read through libtrit:
 *   q_i = clamp(nearbyint(x_i / s(i)), -qmax, qmax)    (binary32 division, NaN -> 0)
 * with qmax 127 for 8-bit entries and 32767 for 16-bit ones (spec 9: the sites where int8
 * static scales measured too coarse; their rows go to int16 buffers and run_kern16.h).
 * Per tensor, s goes where the dynamic step max|x|/127 went, so the same integer kernels run;
 * per channel or per group the rows carry their entry and run__linear hands them to
 * run__act_linear (run_act_lin.c). Values whose quotient rounds beyond +-127 are clipped and
 * counted per layer for --stats.
 *
 * A site's tensors (q/k/v, gate/up) share one quantized vector, so their entries must be
 * identical (spec 9 allows a runner to refuse otherwise, which this one does at load). Every t2
 * projection needs an entry in static mode: a missing one is refused at load, never guessed.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run_int.h"
#include "trit_safemath.h"

struct run_act {
    uint32_t mode;                 /* run_act_mode */
    run_act_observe_fn observe;    /* calibration observer, or NULL */
    void *arg;
    trit_act_scales *tab;          /* static: the parsed section (owned) */
    uint32_t n_layer, n_expert;
    const trit_act_entry **site;   /* [(n_layer + 1) * RUN_SITE_COUNT_]; row n_layer: output head */
    const trit_act_entry **exp;    /* [n_layer * n_expert * 2]: EXP_IN, EXP_DOWN of each expert */
    uint64_t *values, *clipped;    /* [n_layer + 1] counters */
    int16_t *q16[2];               /* 16-bit sites' rows for c->qa and c->qb (NULL: no such site) */
};

static const char *const k_site_names[RUN_SITE_COUNT_] = {
    "attn_in", "attn_out", "ffn_in", "ffn_down", "router", "shexp_in", "shexp_down", "exp_in", "exp_down", "output",
};

const char *run_site_kind_name(uint32_t kind) { return kind < RUN_SITE_COUNT_ ? k_site_names[kind] : NULL; }

static const char *const k_mode_names[RUN_ACT_SCALES_COUNT_] = {"dynamic", "static", "block", "float"};

const char *run_act_mode_name(uint32_t mode) { return mode < RUN_ACT_SCALES_COUNT_ ? k_mode_names[mode] : NULL; }

int run_act_mode_from_name(const char *name, uint32_t *out)
{
    for (uint32_t m = 0; m < RUN_ACT_SCALES_COUNT_; m++)
        if (name && !strcmp(name, k_mode_names[m])) {
            *out = m;
            return TRIT_OK;
        }
    return TRIT_E_NOTFOUND;
}

uint32_t run_act_site_tensors(const run_act_site *s, char names[3][96])
{
    /* the site -> tensor table is libtrit's, shared with verify (spec 9 "Sites") */
    return trit_mt_act_site_tensors(run_site_kind_name(s->kind), s->layer, s->expert, names);
}

void run__act_free(struct run_act *a)
{
    if (!a) return;
    trit_act_scales_free(a->tab);
    free(a->site);
    free(a->exp);
    free(a->values);
    free(a->clipped);
    free(a->q16[0]);
    free(a->q16[1]);
    free(a);
}

static int same_entry(const trit_act_entry *a, const trit_act_entry *b)
{
    return a->granularity == b->granularity && a->group_size == b->group_size && a->n_scales == b->n_scales && a->bits == b->bits &&
           memcmp(a->scales, b->scales, (size_t)a->n_scales * sizeof *a->scales) == 0;
}

/* The entry every t2 tensor of site s shares, into *out (NULL when no tensor of s is t2). */
static int resolve(const trit_reader *r, const trit_act_scales *tab, const run_act_site *s, const trit_act_entry **out,
                   trit_err *err)
{
    char names[3][96];
    uint32_t const n = run_act_site_tensors(s, names);
    const char *first = NULL;
    *out = NULL;
    for (uint32_t k = 0; k < n; k++) {
        int64_t const ti = trit_reader_find_tensor(r, names[k]);
        if (ti < 0 || trit_reader_tensor(r, (uint32_t)ti)->type != TRIT_TYPE_T2) continue;
        const trit_act_entry *e = trit_act_scales_find(tab, (uint32_t)ti);
        if (!e)
            return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, names[k],
                                "no static activation scales for this t2 tensor in the kind-5 section; re-run 'trit calibrate'");
        if (!*out) {
            *out = e;
            first = names[k];
        } else if (!same_entry(*out, e)) {
            return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, names[k],
                                "its activation scales differ from those of '%s', which reads the same activations", first);
        }
    }
    return TRIT_OK;
}

static int load_static(run_ctx *c, struct run_act *a, trit_err *err)
{
    const trit_reader *r = run_weights_trit_reader(c->w);
    if (!r)
        return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, NULL, "static activation scales need a .trit weight source");
    int rc = trit_reader_act_scales(r, &a->tab, err);
    if (rc == TRIT_E_NOTFOUND)
        return trit_err_set(err, TRIT_E_NOTFOUND, TRIT_NO_OFFSET, NULL,
                            "--act-scales static: the model has no activation-scale section (kind 5); make one with 'trit calibrate'");
    if (rc) return rc;
    uint64_t const n_site = ((uint64_t)a->n_layer + 1) * RUN_SITE_COUNT_, n_exp = (uint64_t)a->n_layer * a->n_expert * 2;
    a->site = calloc(n_site, sizeof *a->site);
    a->exp = calloc(n_exp ? n_exp : 1, sizeof *a->exp);
    a->values = calloc(a->n_layer + 1u, sizeof *a->values);
    a->clipped = calloc(a->n_layer + 1u, sizeof *a->clipped);
    if (!a->site || !a->exp || !a->values || !a->clipped) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    for (uint32_t L = 0; L < a->n_layer && !rc; L++) {
        for (uint32_t k = 0; k < RUN_SITE_COUNT_ && !rc; k++) {
            if (k == RUN_SITE_EXP_IN || k == RUN_SITE_EXP_DOWN || k == RUN_SITE_OUTPUT) continue;
            run_act_site const s = {k, L, UINT32_MAX};
            rc = resolve(r, a->tab, &s, &a->site[(uint64_t)L * RUN_SITE_COUNT_ + k], err);
        }
        for (uint32_t e = 0; e < a->n_expert && c->layers[L].moe && !rc; e++)
            for (uint32_t d = 0; d < 2 && !rc; d++) {
                run_act_site const s = {d ? RUN_SITE_EXP_DOWN : RUN_SITE_EXP_IN, L, e};
                rc = resolve(r, a->tab, &s, &a->exp[((uint64_t)L * a->n_expert + e) * 2 + d], err);
            }
    }
    run_act_site const out = {RUN_SITE_OUTPUT, UINT32_MAX, UINT32_MAX};
    if (!rc && c->output.data != c->token_embd.data)
        rc = resolve(r, a->tab, &out, &a->site[(uint64_t)a->n_layer * RUN_SITE_COUNT_ + RUN_SITE_OUTPUT], err);
    /* 16-bit sites (spec 9): int16 rows beside each int8 buffer, sized like it */
    int wide = 0;
    for (uint32_t i = 0; i < trit_act_scales_n(a->tab); i++) wide |= trit_act_scales_at(a->tab, i)->bits == 16;
    if (!rc && wide) {
        run_qbuf *const bufs[2] = {&c->qa, &c->qb};
        for (int k = 0; k < 2; k++) {
            uint64_t n;
            if (trit_mul_u64(bufs[k]->cap_padded, bufs[k]->n_tok, &n) || !(a->q16[k] = trit_mallocarray(n ? n : 1, sizeof(int16_t))))
                return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
            bufs[k]->q16 = a->q16[k];
        }
    }
    return rc;
}

int run__act_new(run_ctx *c, const run_opts *o, trit_err *err)
{
    c->act = NULL;
    if (o->act_scales >= RUN_ACT_SCALES_COUNT_)
        return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL, "unknown activation-scale mode %u", o->act_scales);
    if (o->act_scales == RUN_ACT_SCALES_DYNAMIC && !o->act_observe) return TRIT_OK;
    struct run_act *a = calloc(1, sizeof *a);
    if (!a) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    a->mode = o->act_scales;
    a->observe = o->act_observe;
    a->arg = o->act_arg;
    a->n_layer = c->hp.n_layer;
    a->n_expert = c->hp.n_expert;
    int rc = a->mode == RUN_ACT_SCALES_STATIC ? load_static(c, a, err) : TRIT_OK;
    if (rc) {
        if (c->w->name) trit_err_file(err, c->w->name);
        run__act_free(a);
        return rc;
    }
    c->act = a;
    return TRIT_OK;
}

static const trit_act_entry *lookup(const struct run_act *a, uint32_t kind, uint32_t layer, uint32_t expert)
{
    if (!a->tab) return NULL;
    if (kind == RUN_SITE_OUTPUT) return a->site[(uint64_t)a->n_layer * RUN_SITE_COUNT_ + kind];
    if (layer >= a->n_layer) return NULL;
    if (kind == RUN_SITE_EXP_IN || kind == RUN_SITE_EXP_DOWN)
        return expert < a->n_expert ? a->exp[((uint64_t)layer * a->n_expert + expert) * 2 + (kind == RUN_SITE_EXP_DOWN)] : NULL;
    return kind < RUN_SITE_COUNT_ ? a->site[(uint64_t)layer * RUN_SITE_COUNT_ + kind] : NULL;
}

static inline float entry_scale(const trit_act_entry *e, uint64_t i)
{
    if (e->granularity == TRIT_ACT_CHANNEL) return e->scales[i];
    if (e->granularity == TRIT_ACT_GROUP) return e->scales[i / e->group_size];
    return e->scales[0];
}

/* x_i / s(i) rounded half to even and clamped to +-qmax (spec 9; NaN -> 0); *clip counts the
 * values that round beyond qmax (infinities too). The rounding trick is exact for |v| < 2^22. */
static inline float quant_one(float x, float s, float qmax, uint64_t *clip)
{
    float v = x / s;
    *clip += fabsf(v) >= qmax + 0.5f;
    if (!(v >= -qmax)) v = v != v ? 0.0f : -qmax;
    if (v > qmax) v = qmax;
    return (v + 12582912.0f) - 12582912.0f;
}

/* A 16-bit site: rows into b->q16, their 32-wide sums into b->csum; run__act_linear does the
 * products (run_act_lin.c), for every granularity. */
static uint64_t quant_static16(run_qbuf *b, const trit_act_entry *e, const float *x, uint64_t ldx, uint64_t cols, uint32_t n)
{
    uint64_t clipped = 0;
    b->act = e;
    for (uint32_t t = 0; t < n && t < b->n_tok; t++) {
        const float *xt = x + t * ldx;
        int16_t *q = b->q16 + t * b->padded;
        for (uint64_t i = 0; i < cols; i++) q[i] = (int16_t)quant_one(xt[i], entry_scale(e, i), 32767.0f, &clipped);
        memset(q + cols, 0, (b->padded - cols) * sizeof *q);
        int32_t *cs = b->csum + t * (b->padded / 32);
        for (uint64_t ch = 0; ch < b->padded / 32; ch++) {
            int32_t s32 = 0;   /* |s32| <= 32 * 32767 */
            for (unsigned j = 0; j < 32; j++) s32 += q[ch * 32 + j];
            cs[ch] = s32;
        }
    }
    return clipped;
}

/* Static quantization of n rows into b; returns the number of clipped values. */
static uint64_t quant_static(run_qbuf *b, const trit_act_entry *e, const float *x, uint64_t ldx, uint64_t cols, uint32_t n)
{
    uint64_t const padded = trit_div_ceil(cols, 128) * 128;
    if (padded > b->cap_padded) return 0; /* sized at open for the widest input; never reached */
    b->cols = cols;
    b->padded = padded;
    b->blocked = 0;
    if (e->bits == 16) return b->q16 ? quant_static16(b, e, x, ldx, cols, n) : 0; /* q16 exists when any entry is 16-bit */
    b->act = e->granularity == TRIT_ACT_TENSOR ? NULL : e;
    uint64_t clipped = 0;
    for (uint32_t t = 0; t < n && t < b->n_tok; t++) {
        const float *xt = x + t * ldx;
        int8_t *q = b->q + t * padded;
        int32_t total = 0;
        for (uint64_t i = 0; i < cols; i++) {
            /* round half to even, as run__quantize does */
            q[i] = (int8_t)quant_one(xt[i], entry_scale(e, i), 127.0f, &clipped);
            total += q[i];
        }
        memset(q + cols, 0, padded - cols);
        b->d[t] = e->granularity == TRIT_ACT_TENSOR ? e->scales[0] : 1.0f;
        b->sum[t] = total;
        run__qbuf_chunk_sums(b, t);
    }
    return clipped;
}

void run__act_quant(run_ctx *c, uint32_t kind, uint32_t layer, uint32_t expert, run_qbuf *b, const float *x, uint64_t ldx,
                    uint64_t cols, uint32_t n)
{
    struct run_act *a = c->act;
    if (a && a->observe) {
        run_act_site const s = {kind, layer, expert};
        a->observe(a->arg, &s, x, ldx, cols, n);
    }
    b->floated = a && a->mode == RUN_ACT_SCALES_FLOAT;
    if (b->floated) {
        b->act = NULL;
        b->blocked = 0;
        return;
    }
    if (a && a->mode == RUN_ACT_SCALES_BLOCK) {
        b->act = NULL;
        run__quantize_blocks(b, x, ldx, cols, n);
        return;
    }
    const trit_act_entry *e = a ? lookup(a, kind, layer, expert) : NULL;
    if (!e) {
        b->act = NULL;
        run__quantize(b, x, ldx, cols, n);
        return;
    }
    uint64_t const li = layer < a->n_layer ? layer : a->n_layer;
    a->clipped[li] += quant_static(b, e, x, ldx, cols, n);
    a->values[li] += (uint64_t)n * cols;
}

void run__act_stats(const run_ctx *c, run_stats *s)
{
    struct run_act const *a = c->act;
    if (!a || !a->tab) return;
    s->n_act_layers = a->n_layer + 1;
    s->act_values = a->values;
    s->act_clipped = a->clipped;
}

void run__act_stats_print(const run_stats *s, int json, FILE *f)
{
    if (!s->n_act_layers || !s->act_values || !s->act_clipped) return;
    uint64_t tv = 0, tc = 0;
    for (uint32_t l = 0; l < s->n_act_layers; l++) {
        tv += s->act_values[l];
        tc += s->act_clipped[l];
    }
    uint32_t const out = s->n_act_layers - 1;
    if (json) {
        fprintf(f, "\"act_clipping\":{\"mode\":\"static\",\"values\":%llu,\"clipped\":%llu,\"rate\":%.6g,\"per_layer\":[",
                (unsigned long long)tv, (unsigned long long)tc, tv ? (double)tc / (double)tv : 0.0);
        int first = 1;
        for (uint32_t l = 0; l < s->n_act_layers; l++) {
            if (l == out && !s->act_values[l]) continue;
            char lname[16];
            if (l == out) snprintf(lname, sizeof lname, "\"output\"");
            else snprintf(lname, sizeof lname, "%u", l);
            fprintf(f, "%s{\"layer\":%s,\"values\":%llu,\"clipped\":%llu,\"rate\":%.6g}", first ? "" : ",", lname,
                    (unsigned long long)s->act_values[l], (unsigned long long)s->act_clipped[l],
                    s->act_values[l] ? (double)s->act_clipped[l] / (double)s->act_values[l] : 0.0);
            first = 0;
        }
        fprintf(f, "]},");
        return;
    }
    fprintf(f, "activation clipping (static scales): %llu of %llu values (%.4f%%)\n  per layer:", (unsigned long long)tc,
            (unsigned long long)tv, tv ? 100.0 * (double)tc / (double)tv : 0.0);
    uint32_t k = 0;
    for (uint32_t l = 0; l < s->n_act_layers; l++) {
        if (l == out && !s->act_values[l]) continue;
        double const pct = s->act_values[l] ? 100.0 * (double)s->act_clipped[l] / (double)s->act_values[l] : 0.0;
        if (l == out) fprintf(f, "%s output:%.4f%%", k % 6 == 0 ? "\n   " : "", pct);
        else fprintf(f, "%s %u:%.4f%%", k % 6 == 0 ? "\n   " : "", l, pct);
        k++;
    }
    fprintf(f, "\n");
}
