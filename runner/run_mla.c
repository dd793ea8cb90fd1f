/*
 * run_mla.c - multi-head latent attention (DeepSeek-V2 / V2-Lite) and its YaRN rope, for up to
 * RUN_UBATCH tokens (spec/container.md 10.1, 10.2). Written from the release's modeling code
 * (deepseek-ai/DeepSeek-V2-Lite modeling_deepseek.py: DeepseekV2Attention, DeepseekV2RMSNorm,
 * DeepseekV2YarnRotaryEmbedding, yarn_find_correction_range, yarn_get_mscale,
 * yarn_linear_ramp_mask, apply_rotary_pos_emb) and checked against llama.cpp's deepseek2 graph
 * (src/models/deepseek2.cpp; rope type NORM) and its converter (DeepseekV2Model):
 *
 *   x        = rmsnorm(h) * attn_norm
 *   q        = x Wq                                  (q_lora_rank 0: V2-Lite's q_proj)
 *            | (rmsnorm(x Wq_a) * q_a_norm) Wq_b     (V2: q_a_proj, q_a_layernorm, q_b_proj)
 *              per head [q_nope (head_dim - rope_dim) | q_pe (rope_dim)]
 *   [c | k_pe] = x Wkv_a                             (kv_a_proj_with_mqa: kv_lora_rank + rope_dim;
 *                                                     k_pe is shared by every head)
 *   kv       = (rmsnorm(c) * kv_a_norm) Wkv_b        per head [k_nope | v (v_head_dim)]
 *   q_pe, k_pe rotated by position: pair (2i, 2i+1) by angle pos * inv_freq[i], cos and sin times
 *              mscale. modeling_deepseek.py views q_pe as (d/2, 2), transposes to halves and then
 *              applies rotate_half: out[i] = x[2i] cos - x[2i+1] sin, out[i + d/2] = x[2i+1] cos +
 *              x[2i] sin. That is this rotation with the results stored in another order, the
 *              same for q and k, so every q.k is the same; llama.cpp's NORM rope rotates in place.
 *   key      = [k_nope | k_pe], query = [q_nope | q_pe]; scores q.k * softmax_scale, causal softmax
 *   h       += residual_scale * (concat over heads of sum_p w_p v_p) Wo
 *
 * softmax_scale = 1/sqrt(head_dim) (q_head_dim = qk_nope + qk_rope), times yarn_get_mscale(factor,
 * mscale_all_dim)^2 when rope_scaling is yarn and mscale_all_dim != 0.
 * YaRN (DeepseekV2YarnRotaryEmbedding, dim = rope_dim, base = rope_theta): run_yarn.c.
 *
 * The cache holds the decompressed per-head keys and values (not the compressed kv llama.cpp
 * keeps); the products are the same. Every output element is computed by one thread in a fixed
 * order, as in run_forward.c.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "run_int.h"
#include "trit_safemath.h"

static int is_t2(const run_tensor *t) { return t->data && t->type == TRIT_TYPE_T2; }

#define NO_EXPERT UINT32_MAX

/* ---- description ------------------------------------------------------------------------ */

static int get(run_ctx *c, const char *key, run_kv *v)
{
    trit_err e2;
    return c->w->vt->get_kv(c->w->self, key, v, &e2) == TRIT_OK;
}

static int get_u32(run_ctx *c, const char *key, uint32_t def, uint32_t *out, trit_err *err)
{
    run_kv v;
    *out = def;
    if (!get(c, key, &v)) return TRIT_OK;
    if ((v.kind != RUN_KV_UINT && v.kind != RUN_KV_BOOL) || v.u > TRIT_MT_MAX_EMBD)
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, NULL, "metadata '%s' is not an unsigned integer up to %u", key,
                            TRIT_MT_MAX_EMBD);
    *out = (uint32_t)v.u;
    return TRIT_OK;
}

static int str_is(const run_kv *v, const char *s) { return v->kind == RUN_KV_STR && v->n == strlen(s) && !memcmp(v->s, s, v->n); }

int run__mla_hparams(run_ctx *c, trit_err *err)
{
    run_hparams *hp = &c->hp;
    int rc;
    if ((rc = get_u32(c, "model.kv_lora_rank", 0, &hp->kv_lora_rank, err)) ||
        (rc = get_u32(c, "model.q_lora_rank", 0, &hp->q_lora_rank, err)) ||
        (rc = get_u32(c, "model.v_head_dim", hp->head_dim, &hp->v_head_dim, err)))
        return rc;
    run_kv layout, scaling;
    int const norm_rope = get(c, "model.rope_layout", &layout) && str_is(&layout, "norm");
    int const has_scaling = get(c, "model.rope_scaling", &scaling);
    if (!hp->kv_lora_rank) {
        /* what only the MLA block computes (longrope is the standard attention's, run_rope.c) */
        if (hp->q_lora_rank || hp->v_head_dim != hp->head_dim || norm_rope ||
            (has_scaling && !str_is(&scaling, "longrope") && !str_is(&scaling, "yarn")))
            return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, NULL,
                                "model.q_lora_rank, a model.v_head_dim other than head_dim, rope_layout 'norm' and "
                                "model.rope_scaling other than longrope and yarn are computed with multi-head latent "
                                "attention only (model.kv_lora_rank 0)");
        return TRIT_OK;
    }
    if (!hp->v_head_dim || hp->v_head_dim > RUN_MAX_HEAD_DIM || hp->n_head_kv != hp->n_head || hp->rope_dim == 0 ||
        hp->rope_dim >= hp->head_dim || !norm_rope)
        return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, NULL,
                            "multi-head latent attention needs model.n_head_kv = model.n_head (%u, %u), 0 < model.rope_dim "
                            "(%u) < model.head_dim (%u), model.v_head_dim in 1..%u (%u) and model.rope_layout 'norm'",
                            hp->n_head_kv, hp->n_head, hp->rope_dim, hp->head_dim, RUN_MAX_HEAD_DIM, hp->v_head_dim);
    run_kv as;
    if (get(c, "model.attn_scale", &as))   /* the scale is DeepSeek's, from head_dim and yarn (spec 10.1) */
        return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, NULL,
                            "metadata 'model.attn_scale' is not computed with multi-head latent attention");
    if ((uint64_t)hp->n_head * (hp->head_dim + hp->v_head_dim) > RUN_MAX_COLS)
        return trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, NULL, "n_head * (head_dim + v_head_dim) is too large");
    uint32_t const half = hp->rope_dim / 2;
    c->mla_inv_freq = trit_mallocarray(half, sizeof *c->mla_inv_freq);
    if (!c->mla_inv_freq) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    double const dim = hp->rope_dim, base = hp->rope_theta;
    for (uint32_t i = 0; i < half; i++) c->mla_inv_freq[i] = 1.0 / pow(base, 2.0 * i / dim);
    c->mla_rope_mscale = 1.0f;
    if (!has_scaling) return TRIT_OK;
    if (!str_is(&scaling, "yarn"))
        return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, NULL, "metadata 'model.rope_scaling' is '%.*s', the runner knows yarn",
                            (int)(scaling.kind == RUN_KV_STR && scaling.n < 32 ? scaling.n : 1), scaling.kind == RUN_KV_STR ? scaling.s : "?");
    double mult;
    if ((rc = run__yarn(c, c->mla_inv_freq, half, dim, &c->mla_rope_mscale, &mult, err))) return rc;
    hp->attn_scale = (float)((double)hp->attn_scale * mult);
    return TRIT_OK;
}

int run__mla_alloc(run_ctx *c, trit_err *err)
{
    run_hparams const *hp = &c->hp;
    uint64_t const U = RUN_UBATCH, a = hp->q_lora_rank > hp->kv_lora_rank ? hp->q_lora_rank : hp->kv_lora_rank;
    uint64_t const b = (uint64_t)hp->n_head * (hp->head_dim - hp->rope_dim + hp->v_head_dim);
    c->mla_kv = trit_mallocarray(U * ((uint64_t)hp->kv_lora_rank + hp->rope_dim), sizeof(float));
    c->mla_a = trit_mallocarray(U * (a ? a : 1), sizeof(float));
    c->mla_b = trit_mallocarray(U * b, sizeof(float));
    if (!c->mla_kv || !c->mla_a || !c->mla_b)
        return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory for attention scratch");
    return TRIT_OK;
}

/* ---- forward ------------------------------------------------------------------------------ */

/* cos and sin (times the YaRN mscale) of position pos's rope_dim / 2 angles: once per token,
 * shared by k_pe and every head's q_pe. */
static void rope_angles(const run_ctx *c, uint32_t pos, float *cs, float *sn)
{
    uint32_t const half = c->hp.rope_dim / 2;
    float const ms = c->mla_rope_mscale;
    for (uint32_t i = 0; i < half; i++) {
        double const ang = (double)pos * c->mla_inv_freq[i];
        cs[i] = (float)cos(ang) * ms;
        sn[i] = (float)sin(ang) * ms;
    }
}

/* Rotate the rope_dim values at x in interleaved pairs by the angles of rope_angles. */
static void rope_pairs(const run_ctx *c, float *x, const float *cs, const float *sn)
{
    uint32_t const half = c->hp.rope_dim / 2;
    for (uint32_t i = 0; i < half; i++) {
        float const a = x[2 * i], b = x[2 * i + 1];
        x[2 * i] = a * cs[i] - b * sn[i];
        x[2 * i + 1] = b * cs[i] + a * sn[i];
    }
}

void run__mla_attention(run_ctx *c, uint32_t L, uint32_t T)
{
    run_hparams const *hp = &c->hp;
    run_layer const *ly = &c->layers[L];
    uint64_t const E = hp->n_embd, H = hp->n_head, hd = hp->head_dim, rd = hp->rope_dim, nope = hd - rd;
    uint64_t const vhd = hp->v_head_dim, kl = hp->kv_lora_rank, ql = hp->q_lora_rank, kva = kl + rd, kvb = nope + vhd;
    uint64_t const kd = H * hd, vd = H * vhd;
    for (uint32_t t = 0; t < T; t++) run__rmsnorm(c->xn + t * E, c->h + t * E, ly->attn_norm, E, hp->norm_eps);
    /* x: the input of q_proj (or q_a_proj) and kv_a_proj_with_mqa */
    if (is_t2(&ly->wq) || is_t2(&ly->wq_a) || is_t2(&ly->wkv_a)) run__act_quant(c, RUN_SITE_ATTN_IN, L, NO_EXPERT, &c->qa, c->xn, E, E, T);
    run__linear(c, &ly->wkv_a, c->xn, E, &c->qa, T, c->mla_kv, kva);
    if (ql) {
        run__linear(c, &ly->wq_a, c->xn, E, &c->qa, T, c->mla_a, ql);
        for (uint32_t t = 0; t < T; t++) run__rmsnorm(c->mla_a + t * ql, c->mla_a + t * ql, ly->q_a_norm, ql, hp->norm_eps);
        if (is_t2(&ly->wq_b)) run__act_quant(c, RUN_SITE_ATTN_IN, L, NO_EXPERT, &c->qb, c->mla_a, ql, ql, T);
        run__linear(c, &ly->wq_b, c->mla_a, ql, &c->qb, T, c->q, kd);
    } else {
        run__linear(c, &ly->wq, c->xn, E, &c->qa, T, c->q, kd);
    }
    /* the compressed kv, normed, through kv_b_proj */
    for (uint32_t t = 0; t < T; t++) run__rmsnorm(c->mla_a + t * kl, c->mla_kv + t * kva, ly->kv_a_norm, kl, hp->norm_eps);
    if (is_t2(&ly->wkv_b)) run__act_quant(c, RUN_SITE_ATTN_IN, L, NO_EXPERT, &c->qb, c->mla_a, kl, kl, T);
    run__linear(c, &ly->wkv_b, c->mla_a, kl, &c->qb, T, c->mla_b, H * kvb);
    /* rope on q_pe and the shared k_pe; keys [k_nope | k_pe] and values into the cache */
    float *kc = c->k_cache + ((uint64_t)L * c->n_ctx + c->n_pos) * kd, *vc = c->v_cache + ((uint64_t)L * c->n_ctx + c->n_pos) * vd;
    for (uint32_t t = 0; t < T; t++) {
        uint32_t const pos = c->n_pos + t;
        float *kpe = c->mla_kv + t * kva + kl;
        float cs[RUN_MAX_HEAD_DIM / 2], sn[RUN_MAX_HEAD_DIM / 2];   /* rope_dim <= head_dim <= RUN_MAX_HEAD_DIM */
        rope_angles(c, pos, cs, sn);
        rope_pairs(c, kpe, cs, sn);
        for (uint64_t h = 0; h < H; h++) {
            rope_pairs(c, c->q + t * kd + h * hd + nope, cs, sn);
            const float *kv = c->mla_b + t * H * kvb + h * kvb;
            memcpy(kc + t * kd + h * hd, kv, nope * sizeof *kc);
            memcpy(kc + t * kd + h * hd + nope, kpe, rd * sizeof *kc);
            memcpy(vc + t * vd + h * vhd, kv + nope, vhd * sizeof *vc);
        }
    }
    /* every head keeps its own [k_nope | k_pe] and value: attention without grouping */
    run__attend(c, L, T, hp->n_head, (uint32_t)hd, (uint32_t)vhd);
    if (is_t2(&ly->wo)) run__act_quant(c, RUN_SITE_ATTN_OUT, L, NO_EXPERT, &c->qa, c->att, vd, vd, T);
    run__linear(c, &ly->wo, c->att, vd, &c->qa, T, c->o, E);
    for (uint64_t i = 0; i < T * E; i++) c->h[i] += hp->residual_scale * c->o[i];
}
