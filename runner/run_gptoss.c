/*
 * run_gptoss.c - what gpt-oss adds to the standard block (spec 10.1 / 10.2), from transformers'
 * modeling_gpt_oss.py and checked against llama.cpp's src/models/openai-moe.cpp (LLM_ARCH_OPENAI_MOE,
 * "gpt-oss") and ggml's swiglu_oai at de3ff815:
 *
 *   attention sinks  GptOssAttention.sinks [n_head] (blk.L.attn_sinks.weight): each head's softmax
 *                    takes one more logit, sinks[h], in its denominator only (eager_attention_forward
 *                    concatenates it to the scores and drops its column; ggml_soft_max_add_sinks)
 *   sliding window   layer_types "sliding_attention" (GptOssAttention.sliding_window): the query at
 *                    position p sees keys k with p - k < window (llama.cpp LLAMA_SWA_TYPE_STANDARD
 *                    masks p - k >= n_swa); layers by model.swa_period (llama.cpp set_swa_pattern:
 *                    L slides when period is 0 or L % period < period - 1)
 *   router bias      GptOssTopKRouter: logits = x W^T + b, top-k of the logits, softmax over those
 *                    k (the same weights as softmax over all then renormalized over the k: moe.gating
 *                    softmax + moe.norm_topk; llama.cpp LLAMA_EXPERT_GATING_FUNC_TYPE_SOFTMAX_WEIGHT)
 *   expert FFN       GptOssExperts: gate = x Wg + bg, up = x Wu + bu (the fused gate_up's even and
 *                    odd columns, split at conversion), gate = min(gate, limit),
 *                    up = clamp(up, -limit, limit), out = (gate * sigmoid(alpha * gate)) * (up + 1),
 *                    down = out Wd + bd; limit 7.0 and alpha 1.702 in the release and in llama.cpp
 *                    (model.swiglu_limit / model.swiglu_alpha)
 * The attention biases, YaRN (run_yarn.c) and the untied output are the standard block's.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "run_int.h"
#include "trit_safemath.h"

static int get(run_ctx *c, const char *key, run_kv *v)
{
    trit_err e2;
    return c->w->vt->get_kv(c->w->self, key, v, &e2) == TRIT_OK;
}

static int get_pos_f32(run_ctx *c, const char *key, float *out, trit_err *err)
{
    run_kv v;
    if (!get(c, key, &v)) return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, NULL, "model.hidden_act 'swiglu_oai' needs metadata '%s'", key);
    if ((v.kind != RUN_KV_FLOAT && v.kind != RUN_KV_UINT) || !isfinite(v.f) || !(v.f > 0) || !isfinite((float)v.f))
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, NULL, "metadata '%s' is not a finite number > 0", key);
    *out = (float)v.f;
    return TRIT_OK;
}

static int get_u32(run_ctx *c, const char *key, int *present, uint32_t *out, trit_err *err)
{
    run_kv v;
    *present = get(c, key, &v);
    *out = 0;
    if (!*present) return TRIT_OK;
    if (v.kind != RUN_KV_UINT || v.u > UINT32_MAX)
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, NULL, "metadata '%s' is not an unsigned 32-bit integer", key);
    *out = (uint32_t)v.u;
    return TRIT_OK;
}

int run__gptoss_hparams(run_ctx *c, trit_err *err)
{
    run_hparams *hp = &c->hp;
    int has_w, has_p, rc;
    if ((rc = get_u32(c, "model.sliding_window", &has_w, &hp->sliding_window, err)) ||
        (rc = get_u32(c, "model.swa_period", &has_p, &hp->swa_period, err)))
        return rc;
    if (has_w != has_p || (has_w && hp->sliding_window == 0))
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, NULL,
                            "metadata 'model.sliding_window' (> 0) and 'model.swa_period' go together: the window and the "
                            "layers it applies to");
    run_kv v;
    if (hp->act != RUN_ACT_SWIGLU_OAI) {
        if (get(c, "model.swiglu_limit", &v) || get(c, "model.swiglu_alpha", &v))
            return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, NULL,
                                "metadata 'model.swiglu_limit' / 'model.swiglu_alpha' without model.hidden_act 'swiglu_oai'");
        return TRIT_OK;
    }
    if ((rc = get_pos_f32(c, "model.swiglu_limit", &hp->swiglu_limit, err)) || (rc = get_pos_f32(c, "model.swiglu_alpha", &hp->swiglu_alpha, err)))
        return rc;
    return TRIT_OK;
}

/* A float tensor of rows x cols values (rows 0: a vector [cols]) into a new f32 array; absent:
 * *out NULL. */
static int load_floats(run_ctx *c, const char *name, uint64_t rows, uint64_t cols, float **out, trit_err *err)
{
    *out = NULL;
    run_tensor t;
    trit_err e2;
    int const rc = c->w->vt->get_dense(c->w->self, name, &t, &e2);
    if (rc == TRIT_E_NOTFOUND) return TRIT_OK;
    if (rc) {
        *err = e2;
        return rc;
    }
    int const shape_ok = rows ? t.n_dims == 2 && t.dims[0] == rows && t.dims[1] == cols : t.n_dims == 1 && t.dims[0] == cols;
    if (!shape_ok || (t.type != TRIT_TYPE_F32 && t.type != TRIT_TYPE_F16 && t.type != TRIT_TYPE_BF16))
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, name, "must be a float tensor of %llu x %llu values (%u dims, type %u)",
                            (unsigned long long)(rows ? rows : 1), (unsigned long long)cols, t.n_dims, t.type);
    uint64_t const n = (rows ? rows : 1) * cols;   /* both capped by the description */
    float *v = trit_mallocarray(n ? n : 1, sizeof *v);
    if (!v) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, name, "out of memory");
    for (uint64_t i = 0; i < n; i++) {
        if (t.type == TRIT_TYPE_F32) {
            memcpy(&v[i], (const uint8_t *)t.data + 4 * i, 4);
        } else {
            uint16_t h;
            memcpy(&h, (const uint8_t *)t.data + 2 * i, 2);
            v[i] = t.type == TRIT_TYPE_F16 ? trit_f16_to_f32(h) : trit_bf16_to_f32(h);
        }
    }
    *out = v;
    return TRIT_OK;
}

int run__gptoss_layer(run_ctx *c, uint32_t L, trit_err *err)
{
    run_hparams const *hp = &c->hp;
    run_layer *ly = &c->layers[L];
    char nm[128];
    int rc;
    if (hp->sliding_window) {
        uint32_t const P = hp->swa_period;
        ly->swa = P == 0 || L % P < P - 1 ? hp->sliding_window : 0;
    }
#define NAME(fmt) (snprintf(nm, sizeof nm, "blk.%u." fmt, L), nm)
    if ((rc = load_floats(c, NAME("attn_sinks.weight"), 0, hp->n_head, &ly->attn_sinks, err))) return rc;
    if (hp->kv_lora_rank && (ly->attn_sinks || ly->swa))
        return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, nm,
                            "attention sinks and sliding windows are not computed with multi-head latent attention");
    if (!ly->moe) {
        static const char *const moe_only[] = {"ffn_gate_inp.bias", "ffn_gate_exps.bias", "ffn_up_exps.bias", "ffn_down_exps.bias"};
        for (size_t i = 0; i < sizeof moe_only / sizeof moe_only[0]; i++) {
            run_tensor t;
            trit_err e2;
            snprintf(nm, sizeof nm, "blk.%u.%s", L, moe_only[i]);
            if (c->w->vt->get_dense(c->w->self, nm, &t, &e2) == TRIT_OK)
                return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, nm, "a router or expert bias in a dense layer");
        }
        if (hp->act == RUN_ACT_SWIGLU_OAI)
            return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, NULL,
                                "layer %u is dense: model.hidden_act 'swiglu_oai' is computed for experts only (gpt-oss)", L);
        return TRIT_OK;
    }
    uint64_t const NE = hp->n_expert, FE = hp->n_ff_expert, E = hp->n_embd;
    if ((rc = load_floats(c, NAME("ffn_gate_inp.bias"), 0, NE, &ly->router_b, err))) return rc;
    if (ly->router_b && hp->gating == RUN_GATING_SPARSEMIXER)
        return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, nm, "a router bias is not part of sparsemixer routing");
    if ((rc = load_floats(c, NAME("ffn_gate_exps.bias"), NE, FE, &ly->exp_gate_b, err)) ||
        (rc = load_floats(c, NAME("ffn_up_exps.bias"), NE, FE, &ly->exp_up_b, err)) ||
        (rc = load_floats(c, NAME("ffn_down_exps.bias"), NE, E, &ly->exp_down_b, err)))
        return rc;
#undef NAME
    if ((ly->exp_gate_b || ly->exp_up_b || ly->exp_down_b) && hp->act != RUN_ACT_SWIGLU_OAI)
        return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, NULL,
                            "layer %u: expert biases are computed with model.hidden_act 'swiglu_oai' experts (gpt-oss) only", L);
    return TRIT_OK;
}

void run__gptoss_free_layer(run_layer *ly)
{
    free(ly->attn_sinks);
    free(ly->router_b);
    free(ly->exp_gate_b);
    free(ly->exp_up_b);
    free(ly->exp_down_b);
}

static void add_rows(float *y, const float *b, uint32_t n, uint64_t w)
{
    if (!b) return;
    for (uint32_t t = 0; t < n; t++)
        for (uint64_t i = 0; i < w; i++) y[t * w + i] += b[i];
}

void run__gptoss_ffn(run_ctx *c, const run_tensor *gate, const run_tensor *up, const run_tensor *down, uint32_t L, uint32_t e,
                     const float *x, const run_qbuf *qx, uint32_t n, float *ha, float *hb, float *out)
{
    run_layer const *ly = &c->layers[L];
    uint64_t const E = c->hp.n_embd, F = gate->rows;
    float const limit = c->hp.swiglu_limit, alpha = c->hp.swiglu_alpha;
    run__linear(c, gate, x, E, qx, n, ha, F);
    run__linear(c, up, x, E, qx, n, hb, F);
    add_rows(ha, ly->exp_gate_b ? ly->exp_gate_b + (uint64_t)e * F : NULL, n, F);
    add_rows(hb, ly->exp_up_b ? ly->exp_up_b + (uint64_t)e * F : NULL, n, F);
    for (uint64_t i = 0; i < (uint64_t)n * F; i++) {
        /* ggml_compute_forward_swiglu_oai_f32's expression (std::min / std::clamp, then
         * x / (1 + exp(-alpha x)) * (y + 1)) */
        float const g = ha[i] < limit ? ha[i] : limit;
        float const u = hb[i] < -limit ? -limit : hb[i] > limit ? limit : hb[i];
        ha[i] = g / (1.0f + expf(alpha * (-g))) * (u + 1.0f);
    }
    if (down->type == TRIT_TYPE_T2) run__act_quant(c, RUN_SITE_EXP_DOWN, L, e, &c->qb, ha, F, F, n);
    run__linear(c, down, ha, F, &c->qb, n, out, E);
    add_rows(out, ly->exp_down_b ? ly->exp_down_b + (uint64_t)e * E : NULL, n, E);
}
