/*
 * run_forward.c - the forward pass of spec 10.2 for up to RUN_UBATCH tokens:
 *
 *   h = token_embd[tok]
 *   per layer:  x = rmsnorm(h) * attn_norm
 *               q, k, v = x Wq, x Wk, x Wv (+ bias); q/k norm; RoPE (neox); append k, v to the cache
 *               a = causal GQA attention; a = rmsnorm(a) * attn_sub_norm (BitNet); h += a Wo
 *               x = rmsnorm(h) * ffn_norm
 *               dense: h += down(sub_norm(act(gate x) * up x))
 *               MoE:   scores = softmax|sigmoid(router x); top-k by score + exp_probs_b;
 *                      weights = scores (renormalised if norm_topk) * routed_scale;
 *                      h += sum_j w_j expert_j(x) + shared(x) [* sigmoid(x . gate_inp_shexp)]
 *   logits = (rmsnorm(h_last) * output_norm) Wout
 *   gpt-oss (run_gptoss.c): attention sinks and sliding windows in the attention, the router's
 *   bias, the experts' clamped SwiGLU with biases.
 *   MiniCPM (spec 10.1): h0 *= model.embd_scale; every block output is multiplied by
 *   model.residual_scale before its residual add; the final normed state by model.logit_scale.
 *
 * Determinism: every output element is produced by one thread in a fixed order; experts run in
 * increasing expert order and their outputs are kept per (token, slot) and summed in slot
 * order afterwards, so neither the thread count nor which experts happened to be resident can
 * change a bit of the result.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "run_int.h"

/* Ternary (t2, or b3 in expert units): its input is quantized to int8. */
static int is_t2(const run_tensor *t) { return t->data && (t->type == TRIT_TYPE_T2 || t->type == TRIT_TYPE_B3); }

#define NO_EXPERT UINT32_MAX   /* activation sites outside experts */

static void embed_row(const run_tensor *emb, uint32_t tok, float *out)
{
    uint64_t const n = emb->cols;
    if (run__blk_of(emb->type) >= 0) {
        run__blk_embed_row(emb, tok, out);
        return;
    }
    if (emb->type == TRIT_TYPE_F32) {
        memcpy(out, (const float *)emb->data + (uint64_t)tok * n, n * sizeof *out);
        return;
    }
    const uint16_t *row = (const uint16_t *)emb->data + (uint64_t)tok * n;
    for (uint64_t i = 0; i < n; i++) out[i] = emb->type == TRIT_TYPE_F16 ? trit_f16_to_f32(row[i]) : trit_bf16_to_f32(row[i]);
}

static void add_bias(float *y, const float *b, uint32_t T, uint64_t n)
{
    if (!b) return;
    for (uint32_t t = 0; t < T; t++)
        for (uint64_t i = 0; i < n; i++) y[t * n + i] += b[i];
}

/* Per-head (or whole-vector) RMSNorm of q or k. */
static void qk_norm(float *x, const float *w, int full, uint32_t T, uint32_t n_heads, uint32_t hd, float eps)
{
    if (!w) return;
    uint64_t const width = (uint64_t)n_heads * hd;
    for (uint32_t t = 0; t < T; t++) {
        if (full) run__rmsnorm(x + t * width, x + t * width, w, width, eps);
        else
            for (uint32_t h = 0; h < n_heads; h++) run__rmsnorm(x + t * width + (uint64_t)h * hd, x + t * width + (uint64_t)h * hd, w, hd, eps);
    }
}

/* neox RoPE: dimension i pairs with i + rope_dim/2, angle pos * inv_freq[i] (run_rope.c: theta^(-2i/rope_dim),
 * divided by the pair's longrope factor), cos and sin times mscale (longrope's attention factor, else 1). */
static void rope(float *x, uint32_t T, uint32_t n_heads, uint32_t hd, uint32_t rope_dim, const double *inv_freq, float mscale,
                 uint32_t pos0)
{
    uint32_t const half = rope_dim / 2;
    for (uint32_t t = 0; t < T; t++)
        for (uint32_t i = 0; i < half; i++) {
            double const ang = (double)(pos0 + t) * inv_freq[i];
            float const cs = (float)cos(ang) * mscale, sn = (float)sin(ang) * mscale;
            for (uint32_t h = 0; h < n_heads; h++) {
                float *v = x + ((uint64_t)t * n_heads + h) * hd;
                float const a = v[i], b = v[i + half];
                v[i] = a * cs - b * sn;
                v[i + half] = a * sn + b * cs;
            }
        }
}

typedef struct att_job {
    run_ctx *c;
    uint32_t L, T, n_kv, kw, vw;
} att_job;

static void att_task(void *arg, uint32_t wi, uint64_t lo, uint64_t hi)
{
    att_job const *j = arg;
    run_ctx *c = j->c;
    run_hparams const *hp = &c->hp;
    uint32_t const H = hp->n_head, kw = j->kw, vw = j->vw, group = H / j->n_kv;
    uint64_t const qd = (uint64_t)H * kw, kd = (uint64_t)j->n_kv * kw, vd = (uint64_t)j->n_kv * vw, od = (uint64_t)H * vw;
    float const scale = hp->attn_scale;   /* 1/sqrt(head_dim) unless the model states one (granite, DeepSeek's YaRN) */
    const float *kc = c->k_cache + (uint64_t)j->L * c->n_ctx * kd, *vc = c->v_cache + (uint64_t)j->L * c->n_ctx * vd;
    float *s = c->att_scratch + (uint64_t)wi * c->n_ctx;
    /* gpt-oss (run_gptoss.c): a sliding layer sees the last `win` positions; a sink adds its
     * logit to each head's denominator */
    const float *sinks = c->layers[j->L].attn_sinks;
    uint32_t const win = c->layers[j->L].swa;
    for (uint64_t task = lo; task < hi; task++) {
        uint32_t const t = (uint32_t)(task / H), h = (uint32_t)(task % H), kvh = h / group;
        uint32_t const pos = c->n_pos + t, p0 = win && pos >= win ? pos - win + 1 : 0;
        const float *qv = c->q + t * qd + (uint64_t)h * kw;
        float mx = sinks ? sinks[h] : -INFINITY;
        for (uint32_t p = p0; p <= pos; p++) {
            s[p] = c->kern->dot_f32(qv, kc + p * kd + (uint64_t)kvh * kw, kw) * scale;
            if (s[p] > mx) mx = s[p];
        }
        float sum = sinks ? expf(sinks[h] - mx) : 0.0f;
        for (uint32_t p = p0; p <= pos; p++) {
            s[p] = expf(s[p] - mx);
            sum += s[p];
        }
        float const inv = 1.0f / sum;
        float *out = c->att + t * od + (uint64_t)h * vw;
        memset(out, 0, vw * sizeof *out);
        for (uint32_t p = p0; p <= pos; p++) {
            float const wgt = s[p] * inv;
            c->kern->axpy_f32(out, wgt, vc + p * vd + (uint64_t)kvh * vw, vw);
        }
    }
}

void run__attend(run_ctx *c, uint32_t L, uint32_t T, uint32_t n_kv, uint32_t kw, uint32_t vw)
{
    att_job j = {c, L, T, n_kv, kw, vw};
    uint64_t const n = (uint64_t)T * c->hp.n_head;   /* tasks: (token, head) */
    if (n * (c->n_pos + T) < 4096) att_task(&j, 0, 0, n);
    else run_pool_range(c->pool, att_task, &j, n, (n + 4u * run_pool_size(c->pool) - 1) / (4u * run_pool_size(c->pool)));
}

static void attention(run_ctx *c, uint32_t L, uint32_t T)
{
    run_hparams const *hp = &c->hp;
    run_layer const *ly = &c->layers[L];
    uint64_t const E = hp->n_embd, qd = (uint64_t)hp->n_head * hp->head_dim, kvd = (uint64_t)hp->n_head_kv * hp->head_dim;
    for (uint32_t t = 0; t < T; t++) run__norm(c, c->xn + t * E, c->h + t * E, ly->attn_norm, ly->attn_norm_b);
    if (is_t2(&ly->wq) || is_t2(&ly->wk) || is_t2(&ly->wv)) run__act_quant(c, RUN_SITE_ATTN_IN, L, NO_EXPERT, &c->qa, c->xn, E, E, T);
    run__linear(c, &ly->wq, c->xn, E, &c->qa, T, c->q, qd);
    run__linear(c, &ly->wk, c->xn, E, &c->qa, T, c->k, kvd);
    run__linear(c, &ly->wv, c->xn, E, &c->qa, T, c->v, kvd);
    add_bias(c->q, ly->bq, T, qd);
    add_bias(c->k, ly->bk, T, kvd);
    add_bias(c->v, ly->bv, T, kvd);
    qk_norm(c->q, ly->q_norm, ly->q_norm_full, T, hp->n_head, hp->head_dim, hp->norm_eps);
    qk_norm(c->k, ly->k_norm, ly->k_norm_full, T, hp->n_head_kv, hp->head_dim, hp->norm_eps);
    rope(c->q, T, hp->n_head, hp->head_dim, hp->rope_dim, c->rope_inv_freq, c->rope_mscale, c->n_pos);
    rope(c->k, T, hp->n_head_kv, hp->head_dim, hp->rope_dim, c->rope_inv_freq, c->rope_mscale, c->n_pos);
    float *kc = c->k_cache + (uint64_t)L * c->n_ctx * kvd, *vc = c->v_cache + (uint64_t)L * c->n_ctx * kvd;
    memcpy(kc + (uint64_t)c->n_pos * kvd, c->k, T * kvd * sizeof *kc);
    memcpy(vc + (uint64_t)c->n_pos * kvd, c->v, T * kvd * sizeof *vc);
    run__attend(c, L, T, hp->n_head_kv, hp->head_dim, hp->head_dim);
    if (ly->attn_sub_norm)
        for (uint32_t t = 0; t < T; t++) run__rmsnorm(c->att + t * qd, c->att + t * qd, ly->attn_sub_norm, qd, hp->norm_eps);
    if (is_t2(&ly->wo)) run__act_quant(c, RUN_SITE_ATTN_OUT, L, NO_EXPERT, &c->qa, c->att, qd, qd, T);
    run__linear(c, &ly->wo, c->att, qd, &c->qa, T, c->o, E);
    add_bias(c->o, ly->bo, T, E);
    float const rs = c->hp.residual_scale; /* 1 except MiniCPM: x * 1.0f is exact */
    for (uint64_t i = 0; i < T * E; i++) c->h[i] += rs * c->o[i];
}

/* a = act(a) * b over n values. */
static void glu(float *a, const float *b, uint64_t n, int act)
{
    for (uint64_t i = 0; i < n; i++) {
        float const g = a[i];
        float v;
        if (act == RUN_ACT_RELU2) v = g > 0 ? g * g : 0.0f;
        else if (act == RUN_ACT_GELU) v = 0.5f * g * (1.0f + erff(g * 0.70710678118654752f));
        else v = g / (1.0f + expf(-g));
        a[i] = v * b[i];
    }
}

/* down(sub_norm(act(gate x) * up x)) for n tokens of x (already quantized in qx when needed);
 * out [n][n_embd]. Uses ffa/ffb as the hidden buffers (width = gate rows) and qb. The down
 * projection's input is activation site (down_site, L, e). */
static void ffn(run_ctx *c, const run_tensor *gate, const run_tensor *up, const run_tensor *down, const float *sub_norm,
                const float *x, const run_qbuf *qx, uint32_t n, float *ha, float *hb, float *out, uint32_t down_site,
                uint32_t L, uint32_t e)
{
    uint64_t const E = c->hp.n_embd, F = gate->rows;
    run__linear(c, gate, x, E, qx, n, ha, F);
    run__linear(c, up, x, E, qx, n, hb, F);
    glu(ha, hb, n * F, c->hp.act);
    if (sub_norm)
        for (uint32_t t = 0; t < n; t++) run__rmsnorm(ha + t * F, ha + t * F, sub_norm, F, c->hp.norm_eps);
    if (is_t2(down)) run__act_quant(c, down_site, L, e, &c->qb, ha, F, F, n);
    run__linear(c, down, ha, F, &c->qb, n, out, E);
}

typedef struct load_arg {
    run_ctx *c;
} load_arg;

static int load_expert(void *arg, uint32_t layer, uint32_t expert, void *dst, uint64_t size, trit_err *err)
{
    run_ctx *c = ((load_arg *)arg)->c;
    int const rc = c->w->vt->expert_read(c->w->self, layer, expert, dst, size, err);
    if (rc == TRIT_OK) c->bytes_read += c->layers[layer].experts[expert].stored_size;
    return rc;
}

static void bind(run_tensor *t, const run_tensor *desc, const void *image)
{
    *t = *desc;
    t->data = (const uint8_t *)image + desc->data_off;
    t->scales = desc->type == TRIT_TYPE_T2 || desc->type == TRIT_TYPE_B3 ? (const float *)(const void *)((const uint8_t *)image + desc->scales_off) : NULL;
}

/* One sparsemixer pick (modeling_phimoe.py sparsemixer, eval mode) over the router logits s:
 * the best expert not excluded (first index on ties, as torch.max), and its weight, the
 * softmax over the experts still within the threshold of it: an expert e drops out when
 * (best - s[e]) / max(|s[e]|, best) > 2 * eps. */
static void sparsemixer_pick(const float *s, uint32_t NE, uint32_t excluded, float eps, uint32_t *sel, float *w)
{
    uint32_t best = UINT32_MAX;
    for (uint32_t e = 0; e < NE; e++)
        if (e != excluded && (best == UINT32_MAX || s[e] > s[best])) best = e;
    float const m = s[best], thr = 2.0f * eps;
    double sum = 0;
    for (uint32_t e = 0; e < NE; e++) {
        if (e == excluded) continue;
        float const factor = fabsf(s[e]) > m ? fabsf(s[e]) : m;
        if ((m - s[e]) / factor > thr) continue;   /* 0/0 (NaN) keeps it, as in torch */
        sum += exp((double)(s[e] - m));
    }
    *sel = best;
    *w = (float)(1.0 / sum);   /* exp(s[best] - m) = 1 is in the sum */
}

/* Group-limited routing (DeepSeek MoEGate; llama.cpp build_moe_ffn): keep[e] = 1 for the experts
 * of the topk_group best groups of n_group equal groups by group score, the group's best choice
 * value (RUN_GROUP_MAX, V2's group_limited_greedy) or the sum of its two best (RUN_GROUP_TOP2SUM,
 * V3's noaux_tc); ties go to the lower group. Every expert is kept without grouping. */
static void group_mask(const run_hparams *hp, const float *ch, uint8_t *keep)
{
    uint32_t const NE = hp->n_expert, G = hp->n_group, TG = hp->topk_group;
    int const grouped = G > 1 && TG < G;
    memset(keep, !grouped, NE);
    if (!grouped) return;
    uint32_t const gs = NE / G;
    float score[RUN_MAX_EXPERTS];
    uint8_t chosen[RUN_MAX_EXPERTS];
    for (uint32_t g = 0; g < G; g++) {
        const float *x = ch + (uint64_t)g * gs;
        float b1 = x[0], b2 = -INFINITY;   /* the best and second best */
        for (uint32_t i = 1; i < gs; i++) {
            if (x[i] > b1) {
                b2 = b1;
                b1 = x[i];
            } else if (x[i] > b2) {
                b2 = x[i];
            }
        }
        score[g] = hp->group_score == RUN_GROUP_TOP2SUM ? b1 + b2 : b1;
        chosen[g] = 0;
    }
    for (uint32_t j = 0; j < TG; j++) {
        uint32_t best = UINT32_MAX;
        for (uint32_t g = 0; g < G; g++)
            if (!chosen[g] && (best == UINT32_MAX || score[g] > score[best])) best = g;
        chosen[best] = 1;
        memset(keep + (uint64_t)best * gs, 1, gs);
    }
}

/* Router: scores, top-k selection and weights for T tokens into slot_e / slot_w. */
static void route(run_ctx *c, const run_layer *ly, uint32_t L, uint32_t T)
{
    run_hparams const *hp = &c->hp;
    uint32_t const NE = hp->n_expert, K = hp->n_expert_used;
    if (is_t2(&ly->router)) run__act_quant(c, RUN_SITE_ROUTER, L, NO_EXPERT, &c->qa, c->xn, hp->n_embd, hp->n_embd, T);
    run__linear(c, &ly->router, c->xn, hp->n_embd, &c->qa, T, c->router, NE);
    add_bias(c->router, ly->router_b, T, NE);   /* gpt-oss's router bias */
    for (uint32_t t = 0; t < T; t++) {
        float *p = c->router + (uint64_t)t * NE;
        if (hp->gating == RUN_GATING_SPARSEMIXER) {
            /* two picks on the raw logits, the second without the first (K = 2, checked at load) */
            uint32_t *sel = c->slot_e + (uint64_t)t * K;
            float *w = c->slot_w + (uint64_t)t * K;
            sparsemixer_pick(p, NE, UINT32_MAX, hp->jitter_eps, &sel[0], &w[0]);
            sparsemixer_pick(p, NE, sel[0], hp->jitter_eps, &sel[1], &w[1]);
            for (uint32_t j = 0; j < K; j++) w[j] *= hp->routed_scale;
            continue;
        }
        if (hp->gating == RUN_GATING_SIGMOID) {
            for (uint32_t e = 0; e < NE; e++) p[e] = 1.0f / (1.0f + expf(-p[e]));
        } else {
            float mx = -INFINITY, sum = 0;
            for (uint32_t e = 0; e < NE; e++) mx = p[e] > mx ? p[e] : mx;
            for (uint32_t e = 0; e < NE; e++) {
                p[e] = expf(p[e] - mx);
                sum += p[e];
            }
            for (uint32_t e = 0; e < NE; e++) p[e] /= sum;
        }
        uint32_t *sel = c->slot_e + (uint64_t)t * K;
        float *w = c->slot_w + (uint64_t)t * K;
        /* the choice values: scores, plus the selection bias (DeepSeek-V3's e_score_correction_bias,
         * llama.cpp's exp_probs_b) that never enters the weights */
        float *ch = c->route_choice;
        for (uint32_t e = 0; e < NE; e++) ch[e] = p[e] + (ly->exp_probs_b ? ly->exp_probs_b[e] : 0.0f);
        group_mask(hp, ch, c->route_keep);
        float wsum = 0;
        for (uint32_t j = 0; j < K; j++) {
            /* best not yet chosen among the kept experts by choice value; ties go to the lower index */
            uint32_t best = UINT32_MAX;
            float bs = 0;
            for (uint32_t e = 0; e < NE; e++) {
                if (!c->route_keep[e]) continue;
                int taken = 0;
                for (uint32_t i = 0; i < j; i++) taken |= sel[i] == e;
                if (taken) continue;
                if (best == UINT32_MAX || ch[e] > bs) {
                    best = e;
                    bs = ch[e];
                }
            }
            sel[j] = best;
            w[j] = p[best];
            wsum += w[j];
        }
        for (uint32_t j = 0; j < K; j++) {
            if (hp->norm_topk && wsum > 0) w[j] /= wsum;
            w[j] *= hp->routed_scale;
        }
    }
}

static int moe(run_ctx *c, uint32_t L, uint32_t T, trit_err *err)
{
    run_hparams const *hp = &c->hp;
    run_layer const *ly = &c->layers[L];
    uint32_t const NE = hp->n_expert, K = hp->n_expert_used;
    uint64_t const E = hp->n_embd;
    route(c, ly, L, T);
    /* which experts this batch needs, in increasing order */
    uint32_t n_need = 0;
    for (uint32_t e = 0; e < NE; e++) {
        int used = 0;
        for (uint64_t i = 0; i < (uint64_t)T * K && !used; i++) used = c->slot_e[i] == e;
        if (used) c->need[n_need++] = e;
    }
    run_cache_begin_layer(c->cache, L, T, c->need, n_need);
    run__prefetch_next(c, L, T);   /* the next layer's likely experts, on another thread */
    load_arg la = {c};
    for (uint32_t ni = 0; ni < n_need; ni++) {
        uint32_t const e = c->need[ni];
        uint32_t n = 0;
        for (uint32_t t = 0; t < T; t++)
            for (uint32_t j = 0; j < K; j++)
                if (c->slot_e[t * K + j] == e) {
                    c->ex_tok[n] = t;
                    c->ex_slot[n] = j;
                    memcpy(c->ex_x + n * E, c->xn + t * E, E * sizeof *c->ex_x);
                    n++;
                }
        run_expert_desc const *d = &ly->experts[e];
        const void *image;
        int const rc = run_cache_acquire(c->cache, L, e, d->size, n, load_expert, &la, &image, err);
        if (rc) return rc;
        c->expert_bytes_used += d->size;
        if (c->trace) fprintf(c->trace, "%u %u %u\n", L, e, n);
        run_tensor g, u, dn;
        bind(&g, &d->gate, image);
        bind(&u, &d->up, image);
        bind(&dn, &d->down, image);
        if (is_t2(&g) || is_t2(&u)) run__act_quant(c, RUN_SITE_EXP_IN, L, e, &c->qb, c->ex_x, E, E, n);
        if (hp->act == RUN_ACT_SWIGLU_OAI) run__gptoss_ffn(c, &g, &u, &dn, L, e, c->ex_x, &c->qb, n, c->ex_a, c->ex_b, c->ffo);
        else ffn(c, &g, &u, &dn, NULL, c->ex_x, &c->qb, n, c->ex_a, c->ex_b, c->ffo, RUN_SITE_EXP_DOWN, L, e);
        run_cache_release(c->cache, L, e);
        for (uint32_t i = 0; i < n; i++)
            memcpy(c->slot_out + ((uint64_t)c->ex_tok[i] * K + c->ex_slot[i]) * E, c->ffo + i * E, E * sizeof *c->ffo);
    }
    int const shared = ly->gate_sh.data != NULL;
    if (shared) {
        if (is_t2(&ly->gate_sh) || is_t2(&ly->up_sh)) run__act_quant(c, RUN_SITE_SHEXP_IN, L, NO_EXPERT, &c->qa, c->xn, E, E, T);
        ffn(c, &ly->gate_sh, &ly->up_sh, &ly->down_sh, NULL, c->xn, &c->qa, T, c->ffa, c->ffb, c->sh_out, RUN_SITE_SHEXP_DOWN, L,
            NO_EXPERT);
        if (hp->shared_gate && ly->gate_inp_sh)
            for (uint32_t t = 0; t < T; t++) {
                float const gl = c->kern->dot_f32(ly->gate_inp_sh, c->xn + t * E, E);
                float const g = 1.0f / (1.0f + expf(-gl));
                for (uint64_t i = 0; i < E; i++) c->sh_out[t * E + i] *= g;
            }
    }
    for (uint32_t t = 0; t < T; t++)
        for (uint64_t i = 0; i < E; i++) {
            float acc = 0;
            for (uint32_t j = 0; j < K; j++) acc += c->slot_w[t * K + j] * c->slot_out[((uint64_t)t * K + j) * E + i];
            if (shared) acc += c->sh_out[t * E + i];
            c->h[t * E + i] += c->hp.residual_scale * acc;
        }
    return TRIT_OK;
}

int run__forward(run_ctx *c, const uint32_t *tokens, uint32_t T, float *logits, trit_err *err)
{
    run_hparams const *hp = &c->hp;
    uint64_t const E = hp->n_embd;
    for (uint32_t t = 0; t < T; t++) embed_row(&c->token_embd, tokens[t], c->h + t * E);
    if (hp->embd_scale != 1.0f)
        for (uint64_t i = 0; i < (uint64_t)T * E; i++) c->h[i] *= hp->embd_scale;
    for (uint32_t L = 0; L < hp->n_layer; L++) {
        run_layer const *ly = &c->layers[L];
        if (hp->kv_lora_rank) run__mla_attention(c, L, T);   /* DeepSeek (run_mla.c) */
        else attention(c, L, T);
        for (uint32_t t = 0; t < T; t++) run__norm(c, c->xn + t * E, c->h + t * E, ly->ffn_norm, ly->ffn_norm_b);
        if (ly->moe) {
            int const rc = moe(c, L, T, err);
            if (rc) return rc;
        } else {
            if (is_t2(&ly->ffn_gate) || is_t2(&ly->ffn_up)) run__act_quant(c, RUN_SITE_FFN_IN, L, NO_EXPERT, &c->qa, c->xn, E, E, T);
            ffn(c, &ly->ffn_gate, &ly->ffn_up, &ly->ffn_down, ly->ffn_sub_norm, c->xn, &c->qa, T, c->ffa, c->ffb, c->ffo,
                RUN_SITE_FFN_DOWN, L, NO_EXPERT);
            for (uint64_t i = 0; i < T * E; i++) c->h[i] += hp->residual_scale * c->ffo[i];
        }
    }
    if (logits) {
        run__norm(c, c->xn, c->h + (uint64_t)(T - 1) * E, c->output_norm, c->output_norm_b);
        if (hp->logit_scale != 1.0f)
            for (uint64_t i = 0; i < E; i++) c->xn[i] *= hp->logit_scale;
        if (is_t2(&c->output)) run__act_quant(c, RUN_SITE_OUTPUT, UINT32_MAX, NO_EXPERT, &c->qa, c->xn, E, E, 1);
        else if (c->output.type == TRIT_TYPE_I8) run__quantize(&c->qa, c->xn, E, E, 1); /* int8 head: absmax per token */
        run__linear(c, &c->output, c->xn, E, &c->qa, 1, logits, hp->n_vocab);
        add_bias(logits, c->output_b, 1, hp->n_vocab);
    }
    c->n_pos += T;
    return TRIT_OK;
}
