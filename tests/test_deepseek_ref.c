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
 * or its mscale moves the logits by 4e-3 and 2.5e-3). llama.cpp's deepseek2 needs its own
 * split attn_k_b / attn_v_b (kv_b_proj transposed per head) and `trit export` does not write
 * deepseek2 (refused by name, test_export.c), so this reference stands in for llama.cpp. */
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
    test_ref base;           /* tensors, config.json, token/float mode */
    uint32_t E, H, nope, rope, vd, kl, ql, n_layer, n_vocab, k_used, first_dense, n_expert;
    double eps, theta, routed, softmax_scale, rope_mscale;
    int norm_topk;
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
    double p[512];
    for (uint32_t j = 0; j < h; j++) {
        p[j] = x[2 * j];
        p[j + h] = x[2 * j + 1];
    }
    test_ref_rope_halves(p, d, r->inv_freq, r->rope_mscale, pos);
    memcpy(x, p, d * sizeof *x);
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
                test_ref_mlp(&r->base, tmp, x, E, FD, pre);
                for (uint32_t i = 0; i < E; i++) ht[i] += tmp[i];
                continue;
            }
            const double *Wr = test_ref_tensor(&r->base, "model.layers.%u.mlp.gate.weight", L);
            if (!Wr) goto done;
            test_ref_matvec(rl, Wr, x, r->n_expert, E);
            double mx = -INFINITY, sum = 0;
            for (uint32_t e = 0; e < r->n_expert; e++) mx = rl[e] > mx ? rl[e] : mx;
            for (uint32_t e = 0; e < r->n_expert; e++) sum += rl[e] = exp(rl[e] - mx);
            for (uint32_t e = 0; e < r->n_expert; e++) rl[e] /= sum;
            uint32_t sel[64];
            double w[64], wsum = 0;
            for (uint32_t j = 0; j < r->k_used && j < 64; j++) {
                uint32_t best = 0;
                double bs = -1;
                for (uint32_t e = 0; e < r->n_expert; e++) {
                    int taken = 0;
                    for (uint32_t i = 0; i < j; i++) taken |= sel[i] == e;
                    if (!taken && rl[e] > bs) bs = rl[best = e];
                }
                sel[j] = best;
                w[j] = bs;
                wsum += bs;
            }
            double y[4096] = {0};
            for (uint32_t j = 0; j < r->k_used && j < 64; j++) {
                double const wj = r->k_used > 1 && r->norm_topk ? w[j] / (wsum + 1e-20) : w[j] * r->routed;
                snprintf(pre, sizeof pre, "model.layers.%u.mlp.experts.%u", L, sel[j]);
                test_ref_mlp(&r->base, tmp, x, E, FE, pre);
                for (uint32_t i = 0; i < E; i++) y[i] += wj * tmp[i];
            }
            snprintf(pre, sizeof pre, "model.layers.%u.mlp.shared_experts", L);
            test_ref_mlp(&r->base, tmp, x, E, FS, pre);
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

static int forward(void *ctx, const uint32_t *tok, uint32_t n, double *logits) { return ref_forward(ctx, tok, n, logits); }

/* Generate, optionally edit config.json, convert, run the sequences and compare. */
static void agree(const char *label, uint32_t q_lora, const char *edit_key, const char *edit_val)
{
    char dir[4096], out[4200], args[12800];
    gen_opts o;
    gen_opts_default(&o, GEN_LAYOUT_DEEPSEEK2);
    o.q_lora = q_lora;
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
    test_ref_agree("deepseek2", label, out, &r.base, r.n_vocab, forward, &r, 1e-5, NULL);
    ref_close(&r);
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

/* What the runner does not compute stays refused by name: DeepSeek-V3's routing (sigmoid scoring
 * with e_score_correction_bias, noaux_tc), group-limited routing (V2's group_limited_greedy),
 * multi-token prediction, rope scaling other than yarn. */
TEST(deepseek_v3_features_refused_by_name)
{
    if (access(test_trit_bin(), X_OK) != 0) SKIP("trit binary not built");
    static const struct { const char *key, *val, *named; } cases[] = {
        {"scoring_func", "\"sigmoid\"", "scoring_func"},
        {"topk_method", "\"noaux_tc\"", "topk_method"},
        {"topk_method", "\"group_limited_greedy\"", "topk_method"},
        {"n_group", "8", "n_group"},
        {"topk_group", "3", "topk_group"},
        {"num_nextn_predict_layers", "1", "num_nextn_predict_layers"},
        {"model_type", "\"deepseek_v3\"", "topk_method"},   /* V3 defaults to noaux_tc */
        {"rope_scaling.type", "\"linear\"", "rope_scaling"},
        {"rope_scaling.extrapolation_factor", "1.0", "rope_scaling.extrapolation_factor"},
        {"qk_rope_head_dim", "7", "qk_rope_head_dim"},
    };
    gen_opts o;
    gen_opts_default(&o, GEN_LAYOUT_DEEPSEEK2);
    o.overwrite = 1;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char dir[4096], out[4200], args[12800];
        snprintf(dir, sizeof dir, "%s/dsrefuse-%zu", test_tmpdir(), i);
        snprintf(out, sizeof out, "%s.trit", dir);
        trit_err err;
        CHECK_OK_E(gen_write(&o, dir, &err), &err);
        CHECK(test_config_set(dir, cases[i].key, cases[i].val) == 0);
        if (!strcmp(cases[i].key, "model_type")) CHECK(test_config_set(dir, "topk_method", NULL) == 0);
        char *msg = NULL;
        snprintf(args, sizeof args, "convert -q -f '%s' -o '%s'", dir, out);
        int const rc = trit_cli(args, &msg);
        if (rc != 5 || !msg || !strstr(msg, cases[i].named))
            test_fail_(__FILE__, __LINE__, "%s = %s: convert exit %d, expected 5 naming '%s': %s", cases[i].key, cases[i].val, rc,
                       cases[i].named, msg ? msg : "");
        CHECK(access(out, F_OK) != 0);
        free(msg);
    }
}
