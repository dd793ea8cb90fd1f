/* test_deepseek_ref.c - DeepSeek-V2 / V2-Lite (issue 12): `trit convert` of the release layout
 * (trit-gen deepseek2, BF16 ternary x scale, with and without the q LoRA) then `trit run`, against
 * an independent plain forward pass written here from the release's modeling code, in double
 * precision, reading the generator's tensors by their HF names and config.json (not the
 * container, not the converter's description):
 *
 *   deepseek-ai/DeepSeek-V2-Lite modeling_deepseek.py: DeepseekV2RMSNorm; DeepseekV2Attention
 *   (q_proj or q_b_proj(q_a_layernorm(q_a_proj x)); kv_a_proj_with_mqa split [kv_lora_rank,
 *   qk_rope_head_dim]; kv_b_proj(kv_a_layernorm(compressed_kv)) split per head [qk_nope, v];
 *   softmax_scale = q_head_dim^-0.5 * yarn_get_mscale(factor, mscale_all_dim)^2);
 *   DeepseekV2YarnRotaryEmbedding (cos/sin caches of cat(freqs, freqs) times
 *   yarn_get_mscale(factor, mscale) / yarn_get_mscale(factor, mscale_all_dim));
 *   apply_rotary_pos_emb (q.view(d/2, 2).transpose -> halves, then x cos + rotate_half(x) sin:
 *   done here literally, the runner rotates pairs in place); MoEGate (softmax, greedy top-k,
 *   weights * routed_scaling_factor unless top_k > 1 and norm_topk_prob); DeepseekV2MoE (routed
 *   experts plus the shared experts' MLP); DeepseekV2MLP down(silu(gate x) * up x);
 *   first_k_dense_replace dense layers.
 *
 * The container holds every projection ternary (t2), so the runner quantizes each projection's
 * input to int8 per token (BitNet absmax, run_ops.c); the reference does the same at the same
 * places ("token" mode) and, as a diagnostic, not at all ("float"). Agreement: top-5 sets equal
 * and max |dlogit| <= 1e-5 against the token-mode reference (measured 7e-8; switching yarn off
 * or its mscale moves the logits by 4e-3 and 2.5e-3).
 *
 * DeepSeek-V2 (group_limited_greedy) and V3 (FP8 block weights, which dequantize to floats, so
 * neither side quantizes activations; sigmoid, noaux_tc, e_score_correction_bias, the MTP
 * module left out) are checked the same way, routing per route() below. This is the second,
 * independent check beside llama.cpp (tools/conformance/agree.sh, the ds-* models), and the
 * only one for V2's max group score, which llama.cpp's deepseek2 does not compute. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>

#include "gen/gen.h"
#include "test.h"
#include "test_config_edit.h"
#include "test_ref.h"

typedef struct dsref {
    test_ref base;           /* tensors, config.json, token/float mode (test_ref.h) */
    uint32_t E, H, nope, rope, vd, kl, ql, n_layer, n_vocab, k_used, first_dense, n_expert;
    double eps, theta, routed, softmax_scale, rope_mscale;
    int norm_topk;
    int v3, sigmoid, group;  /* deepseek_v3; sigmoid scores; 0 none, 1 max (group_limited_greedy),
                                2 top-2 sum with e_score_correction_bias (noaux_tc) */
    uint32_t n_group, topk_group;
    int no_group, no_bias;   /* diagnostics: the routing without its group step / its bias */
    double *inv_freq;        /* [rope / 2] */
} dsref;

static double yarn_get_mscale(double scale, double m) { return scale <= 1 ? 1.0 : 0.1 * m * log(scale) + 1.0; }

static double yarn_find_correction_dim(double rot, double dim, double base, double maxpos)
{
    return dim * log(maxpos / (rot * 2 * 3.14159265358979323846)) / (2 * log(base));
}

static int ref_open(dsref *r, const gen_opts *o, const char *dir)
{
    memset(r, 0, sizeof *r);
    if (test_ref_open(&r->base, o, dir)) return -1;
    const cJSON *c = r->base.cfg;
    r->E = (uint32_t)test_ref_num(c, "hidden_size", 0);
    r->H = (uint32_t)test_ref_num(c, "num_attention_heads", 0);
    r->nope = (uint32_t)test_ref_num(c, "qk_nope_head_dim", 0);
    r->rope = (uint32_t)test_ref_num(c, "qk_rope_head_dim", 0);
    r->vd = (uint32_t)test_ref_num(c, "v_head_dim", 0);
    r->kl = (uint32_t)test_ref_num(c, "kv_lora_rank", 0);
    r->ql = (uint32_t)test_ref_num(c, "q_lora_rank", 0);   /* null: 0 */
    r->n_layer = (uint32_t)test_ref_num(c, "num_hidden_layers", 0);
    r->n_vocab = (uint32_t)test_ref_num(c, "vocab_size", 0);
    r->k_used = (uint32_t)test_ref_num(c, "num_experts_per_tok", 0);
    r->first_dense = (uint32_t)test_ref_num(c, "first_k_dense_replace", 0);
    r->n_expert = (uint32_t)test_ref_num(c, "n_routed_experts", 0);
    r->eps = test_ref_num(c, "rms_norm_eps", 1e-6);
    r->theta = test_ref_num(c, "rope_theta", 10000);
    r->routed = test_ref_num(c, "routed_scaling_factor", 1);
    r->norm_topk = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "norm_topk_prob"));
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(c, "model_type"), *sf = cJSON_GetObjectItemCaseSensitive(c, "scoring_func");
    const cJSON *tm = cJSON_GetObjectItemCaseSensitive(c, "topk_method");
    r->v3 = cJSON_IsString(mt) && !strcmp(mt->valuestring, "deepseek_v3");
    r->sigmoid = cJSON_IsString(sf) && !strcmp(sf->valuestring, "sigmoid");
    r->group = !cJSON_IsString(tm) ? 0 : !strcmp(tm->valuestring, "group_limited_greedy") ? 1 : !strcmp(tm->valuestring, "noaux_tc") ? 2 : 0;
    r->n_group = (uint32_t)test_ref_num(c, "n_group", 1);
    r->topk_group = (uint32_t)test_ref_num(c, "topk_group", 1);
    /* DeepseekV2YarnRotaryEmbedding._set_cos_sin_cache */
    double const dim = r->rope;
    r->inv_freq = calloc(r->rope / 2 + 1, sizeof *r->inv_freq);
    r->softmax_scale = 1.0 / sqrt((double)(r->nope + r->rope));
    r->rope_mscale = 1;
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(c, "rope_scaling");
    for (uint32_t i = 0; i < r->rope / 2; i++) r->inv_freq[i] = 1.0 / pow(r->theta, 2.0 * i / dim);
    if (cJSON_IsObject(rs)) {
        double const f = test_ref_num(rs, "factor", 1), orig = test_ref_num(rs, "original_max_position_embeddings", 4096);
        double const bf = test_ref_num(rs, "beta_fast", 32), bs = test_ref_num(rs, "beta_slow", 1);
        double const ms = test_ref_num(rs, "mscale", 1), msa = test_ref_num(rs, "mscale_all_dim", 0);
        double low = floor(yarn_find_correction_dim(bf, dim, r->theta, orig));
        double high = ceil(yarn_find_correction_dim(bs, dim, r->theta, orig));
        low = low > 0 ? low : 0;
        high = high < dim - 1 ? high : dim - 1;
        if (low == high) high += 0.001;
        for (uint32_t i = 0; i < r->rope / 2; i++) {
            double const extra = 1.0 / pow(r->theta, 2.0 * i / dim), inter = 1.0 / (f * pow(r->theta, 2.0 * i / dim));
            double lin = (i - low) / (high - low);
            lin = lin < 0 ? 0 : lin > 1 ? 1 : lin;
            double const mask = 1.0 - lin;   /* inv_freq_mask */
            r->inv_freq[i] = inter * (1 - mask) + extra * mask;
        }
        r->rope_mscale = yarn_get_mscale(f, ms) / yarn_get_mscale(f, msa);
        if (msa != 0) r->softmax_scale *= yarn_get_mscale(f, msa) * yarn_get_mscale(f, msa);
    }
    return 0;
}

static void ref_close(dsref *r)
{
    free(r->inv_freq);
    test_ref_close(&r->base);
}

/* apply_rotary_pos_emb on one rope part, literally: permute interleaved -> halves, then
 * x * cos + rotate_half(x) * sin with cos/sin = cat(freqs, freqs) (times the yarn mscale). */
static void rope_hf(const dsref *r, double *x, uint32_t pos)
{
    uint32_t const d = r->rope, h = d / 2;
    double p[512], o[512];
    for (uint32_t j = 0; j < h; j++) {
        p[j] = x[2 * j];
        p[j + h] = x[2 * j + 1];
    }
    for (uint32_t j = 0; j < d; j++) {
        double const ang = pos * r->inv_freq[j % h];
        double const cs = cos(ang) * r->rope_mscale, sn = sin(ang) * r->rope_mscale;
        double const rot = j < h ? -p[j + h] : p[j - h];
        o[j] = p[j] * cs + rot * sn;
    }
    memcpy(x, o, d * sizeof *x);
}

/* MoEGate.forward for one token, from the release files (V2: deepseek-ai/DeepSeek-V2
 * modeling_deepseek.py; V3: deepseek-ai/DeepSeek-V3 modeling_deepseek.py, and inference/model.py
 * Gate of the GitHub release): scores = softmax (V2) | sigmoid (V3) of the logits;
 * group_limited_greedy: group_scores = scores.view(n_group, -1).max(-1), the topk_group best groups
 * kept, the others masked with 0.0 (softmax scores are positive: a masked expert never beats a
 * kept one); noaux_tc: scores_for_choice = scores + e_score_correction_bias, group_scores = the
 * sum of each group's topk(2) of scores_for_choice, the others masked with -inf; top-k of the
 * (masked) choice values, weights = the unbiased scores gathered at the chosen experts. Ties go to
 * the lower index (torch.topk leaves them unspecified). */
static int route(dsref *r, uint32_t L, const double *Wr, const double *x, double *rl, uint32_t *sel, double *w, double *wsum)
{
    uint32_t const NE = r->n_expert, G = r->group && !r->no_group ? r->n_group : 1, gs = NE / (G ? G : 1);
    double choice[1024], gsc[1024];
    int keep[1024];
    if (NE > 1024 || !G || NE % G) return -1;
    test_ref_matvec(rl, Wr, x, NE, r->E);
    if (r->sigmoid) {
        for (uint32_t e = 0; e < NE; e++) rl[e] = 1.0 / (1.0 + exp(-rl[e]));
    } else {
        double mx = -INFINITY, sum = 0;
        for (uint32_t e = 0; e < NE; e++) mx = rl[e] > mx ? rl[e] : mx;
        for (uint32_t e = 0; e < NE; e++) sum += rl[e] = exp(rl[e] - mx);
        for (uint32_t e = 0; e < NE; e++) rl[e] /= sum;
    }
    const double *bias = r->group == 2 && !r->no_bias ? test_ref_tensor(&r->base, "model.layers.%u.mlp.gate.e_score_correction_bias", L) : NULL;
    if (r->group == 2 && !r->no_bias && !bias) return -1;
    for (uint32_t e = 0; e < NE; e++) choice[e] = rl[e] + (bias ? bias[e] : 0.0);
    for (uint32_t g = 0; g < G; g++) {
        /* max, or the sum of the two largest (topk(2)[0].sum) */
        double b1 = -INFINITY, b2 = -INFINITY;
        for (uint32_t i = 0; i < gs; i++) {
            double const v = choice[g * gs + i];
            if (v > b1) b2 = b1, b1 = v;
            else if (v > b2) b2 = v;
        }
        gsc[g] = r->group == 2 ? b1 + b2 : b1;
    }
    uint32_t const TG = G > 1 ? r->topk_group : 1;
    int gkeep[1024] = {0};
    for (uint32_t j = 0; j < TG; j++) {
        uint32_t best = UINT32_MAX;
        for (uint32_t g = 0; g < G; g++)
            if (!gkeep[g] && (best == UINT32_MAX || gsc[g] > gsc[best])) best = g;
        gkeep[best] = 1;
    }
    for (uint32_t e = 0; e < NE; e++) keep[e] = G > 1 ? gkeep[e / gs] : 1;
    *wsum = 0;
    for (uint32_t j = 0; j < r->k_used && j < 64; j++) {
        uint32_t best = UINT32_MAX;
        for (uint32_t e = 0; e < NE; e++) {
            int taken = !keep[e];
            for (uint32_t i = 0; i < j; i++) taken |= sel[i] == e;
            if (!taken && (best == UINT32_MAX || choice[e] > choice[best])) best = e;
        }
        if (best == UINT32_MAX) return -1;
        sel[j] = best;
        w[j] = rl[best];
        *wsum += w[j];
    }
    return 0;
}

/* Logits of the last of n tokens (every position recomputed, causal). */
static int ref_forward(dsref *r, const uint32_t *tok, uint32_t n, double *logits)
{
    uint32_t const E = r->E, H = r->H, hd = r->nope + r->rope, kvb = r->nope + r->vd;
    uint32_t const FE = (uint32_t)test_ref_num(r->base.cfg, "moe_intermediate_size", 0), FD = (uint32_t)test_ref_num(r->base.cfg, "intermediate_size", 0);
    uint32_t const FS = FE * (uint32_t)test_ref_num(r->base.cfg, "n_shared_experts", 0);
    double *h = calloc((size_t)n * E, sizeof *h), *x = calloc(E, sizeof *x), *tmp = calloc(E, sizeof *tmp);
    double *q = calloc((size_t)n * H * hd, sizeof *q), *k = calloc((size_t)n * H * hd, sizeof *k);
    double *v = calloc((size_t)n * H * r->vd, sizeof *v), *att = calloc((size_t)H * r->vd, sizeof *att);
    double *ckv = calloc(r->kl + r->rope, sizeof *ckv), *cn = calloc(r->kl + r->ql + 1, sizeof *cn);
    double *kv = calloc((size_t)H * kvb, sizeof *kv), *sc = calloc(n, sizeof *sc), *rl = calloc(r->n_expert + 1, sizeof *rl);
    int rc = -1;
    if (!h || !x || !tmp || !q || !k || !v || !att || !ckv || !cn || !kv || !sc || !rl) goto done;
    const double *emb = test_ref_tensor(&r->base, "model.embed_tokens.weight");
    if (!emb) goto done;
    for (uint32_t t = 0; t < n; t++) memcpy(h + (size_t)t * E, emb + (size_t)tok[t] * E, E * sizeof *h);
    for (uint32_t L = 0; L < r->n_layer; L++) {
        char pre[96];
        snprintf(pre, sizeof pre, "model.layers.%u", L);
        const double *ln1 = test_ref_tensor(&r->base, "%s.input_layernorm.weight", pre), *ln2 = test_ref_tensor(&r->base, "%s.post_attention_layernorm.weight", pre);
        const double *Wkva = test_ref_tensor(&r->base, "%s.self_attn.kv_a_proj_with_mqa.weight", pre), *kvn = test_ref_tensor(&r->base, "%s.self_attn.kv_a_layernorm.weight", pre);
        const double *Wkvb = test_ref_tensor(&r->base, "%s.self_attn.kv_b_proj.weight", pre), *Wo = test_ref_tensor(&r->base, "%s.self_attn.o_proj.weight", pre);
        if (!ln1 || !ln2 || !Wkva || !kvn || !Wkvb || !Wo) goto done;
        for (uint32_t t = 0; t < n; t++) {
            test_ref_rmsnorm(x, h + (size_t)t * E, ln1, E, r->eps);
            double *qt = q + (size_t)t * H * hd;
            if (r->ql) {
                const double *Wqa = test_ref_tensor(&r->base, "%s.self_attn.q_a_proj.weight", pre), *qan = test_ref_tensor(&r->base, "%s.self_attn.q_a_layernorm.weight", pre);
                const double *Wqb = test_ref_tensor(&r->base, "%s.self_attn.q_b_proj.weight", pre);
                if (!Wqa || !qan || !Wqb) goto done;
                test_ref_proj(&r->base, cn, Wqa, x, r->ql, E);
                test_ref_rmsnorm(cn, cn, qan, r->ql, r->eps);
                test_ref_proj(&r->base, qt, Wqb, cn, H * hd, r->ql);
            } else {
                const double *Wq = test_ref_tensor(&r->base, "%s.self_attn.q_proj.weight", pre);
                if (!Wq) goto done;
                test_ref_proj(&r->base, qt, Wq, x, H * hd, E);
            }
            test_ref_proj(&r->base, ckv, Wkva, x, r->kl + r->rope, E);
            test_ref_rmsnorm(cn, ckv, kvn, r->kl, r->eps);
            test_ref_proj(&r->base, kv, Wkvb, cn, H * kvb, r->kl);
            rope_hf(r, ckv + r->kl, t);
            for (uint32_t hh = 0; hh < H; hh++) {
                rope_hf(r, qt + (size_t)hh * hd + r->nope, t);
                double *kt = k + ((size_t)t * H + hh) * hd;
                memcpy(kt, kv + (size_t)hh * kvb, r->nope * sizeof *kt);
                memcpy(kt + r->nope, ckv + r->kl, r->rope * sizeof *kt);
                memcpy(v + ((size_t)t * H + hh) * r->vd, kv + (size_t)hh * kvb + r->nope, r->vd * sizeof *v);
            }
        }
        /* attention for every position (causal), then o_proj and the residual */
        double *hn = calloc((size_t)n * E, sizeof *hn);
        if (!hn) goto done;
        for (uint32_t t = 0; t < n; t++) {
            for (uint32_t hh = 0; hh < H; hh++) {
                double mx = -INFINITY, sum = 0;
                for (uint32_t p = 0; p <= t; p++) {
                    double d = 0;
                    for (uint32_t i = 0; i < hd; i++) d += q[((size_t)t * H + hh) * hd + i] * k[((size_t)p * H + hh) * hd + i];
                    sc[p] = d * r->softmax_scale;
                    mx = sc[p] > mx ? sc[p] : mx;
                }
                for (uint32_t p = 0; p <= t; p++) sum += sc[p] = exp(sc[p] - mx);
                for (uint32_t i = 0; i < r->vd; i++) {
                    double a = 0;
                    for (uint32_t p = 0; p <= t; p++) a += sc[p] / sum * v[((size_t)p * H + hh) * r->vd + i];
                    att[(size_t)hh * r->vd + i] = a;
                }
            }
            test_ref_proj(&r->base, hn + (size_t)t * E, Wo, att, E, H * r->vd);
        }
        for (size_t i = 0; i < (size_t)n * E; i++) h[i] += hn[i];
        /* FFN: dense for the first first_k_dense_replace layers, else the MoE */
        for (uint32_t t = 0; t < n; t++) {
            double *ht = h + (size_t)t * E;
            test_ref_rmsnorm(x, ht, ln2, E, r->eps);
            if (L < r->first_dense) {
                snprintf(pre, sizeof pre, "model.layers.%u.mlp", L);
                test_ref_mlp(&r->base, tmp, x, r->E, FD, pre);
                for (uint32_t i = 0; i < E; i++) ht[i] += tmp[i];
                continue;
            }
            const double *Wr = test_ref_tensor(&r->base, "model.layers.%u.mlp.gate.weight", L);
            if (!Wr) goto done;
            uint32_t sel[64];
            double w[64], wsum = 0;
            if (route(r, L, Wr, x, rl, sel, w, &wsum)) goto done;
            double y[4096] = {0};
            for (uint32_t j = 0; j < r->k_used && j < 64; j++) {
                /* V2: "if top_k > 1 and norm_topk_prob: w / (sum + 1e-20) else: w * routed_scaling_factor";
                 * V3: the same normalization, then "* routed_scaling_factor # must multiply the scaling factor" */
                int const norm = r->k_used > 1 && r->norm_topk;
                double const wj = norm ? w[j] / (wsum + 1e-20) * (r->v3 ? r->routed : 1.0) : w[j] * r->routed;
                snprintf(pre, sizeof pre, "model.layers.%u.mlp.experts.%u", L, sel[j]);
                test_ref_mlp(&r->base, tmp, x, r->E, FE, pre);
                for (uint32_t i = 0; i < E; i++) y[i] += wj * tmp[i];
            }
            snprintf(pre, sizeof pre, "model.layers.%u.mlp.shared_experts", L);
            test_ref_mlp(&r->base, tmp, x, r->E, FS, pre);
            for (uint32_t i = 0; i < E; i++) ht[i] += y[i] + tmp[i];
        }
        free(hn);
    }
    const double *nw = test_ref_tensor(&r->base, "model.norm.weight"), *Wout = test_ref_tensor(&r->base, "lm_head.weight");
    if (!nw || !Wout) goto done;
    test_ref_rmsnorm(x, h + (size_t)(n - 1) * E, nw, E, r->eps);
    test_ref_matvec(logits, Wout, x, r->n_vocab, E);
    rc = 0;
done:
    free(h); free(x); free(tmp); free(q); free(k); free(v); free(att); free(ckv); free(cn); free(kv); free(sc); free(rl);
    return rc;
}

static int trit_cli(const char *args, char **out)
{
    char cmd[8192];
    int const n = snprintf(cmd, sizeof cmd, "'%s' %s 2>&1", test_trit_bin(), args);
    if (n < 0 || (size_t)n >= sizeof cmd) return -1;
    return test_run(cmd, out);
}

/* Generate, optionally edit config.json, convert, run the sequences and compare. With `sens`,
 * also show that the comparison sees the routing: the reference without its group step, and
 * (noaux_tc) without its selection bias, must each disagree with the runner by more than 1e-3. */
static void agree_l(gen_layout layout, const char *label, uint32_t q_lora, const char *edit_key, const char *edit_val, int sens)
{
    static const char *const seqs[] = {"1", "1,2,3", "5,6,7,8,9,10,11,12", "100,3,250,77,42,42,42,42,9,99,199,300,301,302,303,304"};
    char dir[4096], out[4200], lg[4200], args[12800];
    gen_opts o;
    gen_opts_default(&o, layout);
    if (q_lora) o.q_lora = q_lora;
    o.overwrite = 1;
    snprintf(dir, sizeof dir, "%s/dsref-%s", test_tmpdir(), label);
    snprintf(out, sizeof out, "%s.trit", dir);
    trit_err err;
    CHECK_OK_E(gen_write(&o, dir, &err), &err);
    if (edit_key) CHECK(test_config_set(dir, edit_key, edit_val) == 0);
    char *msg = NULL;
    snprintf(args, sizeof args, "convert -q -f '%s' -o '%s'", dir, out);
    int rc = trit_cli(args, &msg);
    if (rc != 0) {
        test_fail_(__FILE__, __LINE__, "%s: convert exit %d: %s", label, rc, msg ? msg : "");
        free(msg);
        return;
    }
    free(msg);
    dsref r;
    if (ref_open(&r, &o, dir)) {
        test_fail_(__FILE__, __LINE__, "%s: reference setup failed", label);
        ref_close(&r);
        return;
    }
    /* DeepSeek-V3's FP8 weights dequantize to floats, not ternary: no t2, no activation
     * quantization in the runner, so the reference computes in float too */
    int const quant = layout != GEN_LAYOUT_DEEPSEEK_V3;
    double worst = 0, worst_float = 0, range = 0, worst_nogroup = 0, worst_nobias = 0;
    int top5_ok = 0;
    size_t const ns = sizeof seqs / sizeof seqs[0];
    double *ref = calloc(r.n_vocab, sizeof *ref), *reff = calloc(r.n_vocab, sizeof *reff);
    for (size_t s = 0; s < ns && ref && reff; s++) {
        snprintf(lg, sizeof lg, "%s.%zu.logits", dir, s);
        snprintf(args, sizeof args, "run '%s' --tokens %s -n 0 --logits '%s'", out, seqs[s], lg);
        msg = NULL;
        rc = trit_cli(args, &msg);
        if (rc != 0) test_fail_(__FILE__, __LINE__, "%s: run exit %d: %s", label, rc, msg ? msg : "");
        free(msg);
        size_t nb = 0;
        uint8_t *b = test_read_file(lg, &nb);
        if (!b || nb != (size_t)r.n_vocab * 4) {
            test_fail_(__FILE__, __LINE__, "%s: logits file of %zu bytes", label, nb);
            free(b);
            continue;
        }
        uint32_t tok[64], n = 0;
        char *p = NULL;
        for (const char *q = seqs[s]; *q && n < 64; q = *p == ',' ? p + 1 : p) tok[n++] = (uint32_t)strtoul(q, &p, 10);
        r.base.quant = quant;
        CHECK(ref_forward(&r, tok, n, ref) == 0);
        r.base.quant = 0;
        CHECK(ref_forward(&r, tok, n, reff) == 0);
        double *run = calloc(r.n_vocab, sizeof *run), *alt = calloc(r.n_vocab, sizeof *alt);
        if (!run || !alt) {
            free(run);
            free(alt);
            break;
        }
        for (int d = 0; sens && d < 2; d++) {
            if (d == 1 && r.group != 2) break;
            r.base.quant = quant;
            r.no_group = d == 0;
            r.no_bias = d == 1;
            CHECK(ref_forward(&r, tok, n, alt) == 0);
            r.no_group = r.no_bias = 0;
            for (uint32_t i = 0; i < r.n_vocab; i++) {
                float f;
                memcpy(&f, b + 4 * i, 4);
                double const dd = fabs(f - alt[i]);
                double *wd = d == 0 ? &worst_nogroup : &worst_nobias;
                *wd = dd > *wd ? dd : *wd;
            }
        }
        free(alt);
        for (uint32_t i = 0; i < r.n_vocab; i++) {
            float f;
            memcpy(&f, b + 4 * i, 4);
            run[i] = f;
            double const d = fabs(run[i] - ref[i]), df = fabs(run[i] - reff[i]);
            worst = d > worst ? d : worst;
            worst_float = df > worst_float ? df : worst_float;
            range = fabs(ref[i]) > range ? fabs(ref[i]) : range;
        }
        uint32_t a[5], c5[5];
        test_ref_top5(run, r.n_vocab, a);
        test_ref_top5(ref, r.n_vocab, c5);
        top5_ok += test_ref_same5(a, c5);
        free(run);
        free(b);
    }
    free(ref);
    free(reff);
    printf("    deepseek %s: trit run vs the modeling_deepseek.py reference: max|dlogit| %.3g (logits up to %.3g), "
           "top-5 %d/%zu; vs the unquantized reference %.3g\n", label, worst, range, top5_ok, ns, worst_float);
    if (worst > 1e-5 || top5_ok != (int)ns)
        test_fail_(__FILE__, __LINE__, "%s: max|dlogit| %g (tol 1e-5), top-5 sets equal %d/%zu", label, worst, top5_ok, ns);
    if (sens) {
        printf("    deepseek %s: the reference without its group step differs by %.3g%s", label, worst_nogroup,
               r.group == 2 ? "" : "\n");
        if (r.group == 2) printf(", without e_score_correction_bias by %.3g\n", worst_nobias);
        if (worst_nogroup <= 1e-3 || (r.group == 2 && worst_nobias <= 1e-3))
            test_fail_(__FILE__, __LINE__, "%s: the routing variants do not move the logits (%g, %g): the test would not see "
                       "a routing error", label, worst_nogroup, worst_nobias);
    }
    ref_close(&r);
}

static void agree(const char *label, uint32_t q_lora, const char *edit_key, const char *edit_val)
{
    agree_l(GEN_LAYOUT_DEEPSEEK2, label, q_lora, edit_key, edit_val, 0);
}

TEST(deepseek_v2_lite_agrees_with_reference)
{
    if (access(test_trit_bin(), X_OK) != 0) SKIP("trit binary not built");
    agree("lite", 0, NULL, NULL);   /* V2-Lite: q_proj, yarn with mscale = mscale_all_dim */
}

TEST(deepseek_v2_q_lora_agrees_with_reference)
{
    if (access(test_trit_bin(), X_OK) != 0) SKIP("trit binary not built");
    agree("qlora", 48, NULL, NULL);                      /* V2: q_a_proj, q_a_layernorm, q_b_proj */
    agree("mscale", 0, "rope_scaling.mscale", "1.0");    /* cos/sin scaled by mscale / mscale_all_dim */
    agree("norope", 0, "rope_scaling", "null");          /* plain rope, no yarn */
    agree("scaled", 0, "routed_scaling_factor", "2.5");  /* routed weights scaled */
}

/* DeepSeek-V2 (236B): q LoRA, group_limited_greedy over 4 groups (2 kept), routed_scaling_factor
 * 16; DeepSeek-V3: FP8 block weights, sigmoid scores, noaux_tc with e_score_correction_bias,
 * normalized then scaled weights, its MTP module left out. Each also shows that the comparison
 * sees the group step (and the bias): the reference without them disagrees. */
TEST(deepseek_v2_group_routing_agrees_with_reference)
{
    if (access(test_trit_bin(), X_OK) != 0) SKIP("trit binary not built");
    agree_l(GEN_LAYOUT_DEEPSEEK_V2, "v2group", 0, NULL, NULL, 1);
}

TEST(deepseek_v3_agrees_with_reference)
{
    if (access(test_trit_bin(), X_OK) != 0) SKIP("trit binary not built");
    agree_l(GEN_LAYOUT_DEEPSEEK_V3, "v3", 0, NULL, NULL, 1);
    agree_l(GEN_LAYOUT_DEEPSEEK_V3, "v3-nonorm", 0, "norm_topk_prob", "false", 0);   /* weights scaled, not normalized */
}

/* Convert `layout` with one config.json key set to `val` (NULL: removed); expect exit `want` and
 * a message naming `named`, and no output. */
static void refused(gen_layout layout, size_t i, const char *key, const char *val, int want, const char *named)
{
    gen_opts o;
    gen_opts_default(&o, layout);
    o.overwrite = 1;
    char dir[4096], out[4200], args[12800];
    snprintf(dir, sizeof dir, "%s/dsrefuse-%d-%zu", test_tmpdir(), (int)layout, i);
    snprintf(out, sizeof out, "%s.trit", dir);
    trit_err err;
    CHECK_OK_E(gen_write(&o, dir, &err), &err);
    CHECK(test_config_set(dir, key, val) == 0);
    char *msg = NULL;
    snprintf(args, sizeof args, "convert -q -f '%s' -o '%s'", dir, out);
    int const rc = trit_cli(args, &msg);
    if (rc != want || !msg || !strstr(msg, named))
        test_fail_(__FILE__, __LINE__, "%s = %s: convert exit %d, expected %d naming '%s': %s", key, val ? val : "(removed)", rc,
                   want, named, msg ? msg : "");
    CHECK(access(out, F_OK) != 0);
    free(msg);
}

/* Values the release code does not compute are refused by name (exit 5; an inconsistent grouping
 * is corrupt, exit 4): each MoEGate raises NotImplementedError outside its scoring function and
 * methods, V3 states its routing keys, the FP8 settings are the release's, the MTP module is
 * left out only when the config declares it. */
TEST(deepseek_unsupported_values_refused_by_name)
{
    if (access(test_trit_bin(), X_OK) != 0) SKIP("trit binary not built");
    static const struct { gen_layout l; const char *key, *val; int want; const char *named; } cases[] = {
        {GEN_LAYOUT_DEEPSEEK2, "scoring_func", "\"foo\"", 5, "scoring_func"},
        {GEN_LAYOUT_DEEPSEEK2, "scoring_func", "\"sigmoid\"", 5, "scoring_func"},     /* V2's gate: softmax */
        {GEN_LAYOUT_DEEPSEEK2, "topk_method", "\"bar\"", 5, "topk_method"},
        {GEN_LAYOUT_DEEPSEEK2, "topk_method", "\"noaux_tc\"", 5, "topk_method"},      /* V3's method */
        {GEN_LAYOUT_DEEPSEEK2, "n_group", "0", 5, "n_group"},
        {GEN_LAYOUT_DEEPSEEK2, "rope_scaling.type", "\"linear\"", 5, "rope_scaling"},
        {GEN_LAYOUT_DEEPSEEK2, "rope_scaling.extrapolation_factor", "1.0", 5, "rope_scaling.extrapolation_factor"},
        {GEN_LAYOUT_DEEPSEEK2, "qk_rope_head_dim", "7", 5, "qk_rope_head_dim"},
        {GEN_LAYOUT_DEEPSEEK_V2, "n_group", "3", 4, "moe.n_group"},                    /* 8 experts in 3 groups */
        {GEN_LAYOUT_DEEPSEEK_V2, "topk_group", "5", 4, "moe.topk_group"},             /* more kept than there are */
        {GEN_LAYOUT_DEEPSEEK_V3, "scoring_func", "\"softmax\"", 5, "scoring_func"},  /* V3's gate: sigmoid */
        {GEN_LAYOUT_DEEPSEEK_V3, "topk_method", "\"greedy\"", 5, "topk_method"},
        {GEN_LAYOUT_DEEPSEEK_V3, "topk_method", NULL, 5, "topk_method"},               /* absent: not guessed */
        {GEN_LAYOUT_DEEPSEEK_V3, "n_group", NULL, 5, "n_group"},
        {GEN_LAYOUT_DEEPSEEK_V3, "quantization_config.fmt", "\"e5m2\"", 5, "quantization_config.fmt"},
        {GEN_LAYOUT_DEEPSEEK_V3, "quantization_config.activation_scheme", "\"static\"", 5, "activation_scheme"},
        {GEN_LAYOUT_DEEPSEEK_V3, "quantization_config.quant_method", "\"gptq\"", 5, "quantization_config"},
        {GEN_LAYOUT_DEEPSEEK_V3, "quantization_config", "null", 5, "F8_E4M3"},          /* FP8 weights without the scheme */
        {GEN_LAYOUT_DEEPSEEK_V3, "num_nextn_predict_layers", "0", 5, "embed_tokens"},    /* MTP tensors not declared */
        {GEN_LAYOUT_DEEPSEEK_V3, "num_nextn_predict_layers", "-1", 5, "num_nextn_predict_layers"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        refused(cases[i].l, i, cases[i].key, cases[i].val, cases[i].want, cases[i].named);
}
