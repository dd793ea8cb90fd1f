/* test_phimoe_ref.c - Phi-3.5-MoE (issue 12): `trit convert` of the release layout (trit-gen
 * phimoe: BF16 ternary x scale projections, LayerNorm with bias, q/k/v/o and lm_head biases,
 * sharded) then `trit run`, against an independent forward pass written here in double
 * precision from transformers' modeling_phimoe.py, reading the generator's tensors by their HF
 * names and config.json (not the container, not the converter's description):
 *
 *   PhimoeDecoderLayer: h += o_proj(attn(input_layernorm(h))); h += block_sparse_moe(
 *   post_attention_layernorm(h)); the three norms are nn.LayerNorm(hidden, eps=rms_norm_eps)
 *   with weight and bias; PhimoeAttention: q/k/v/o nn.Linear(bias=attention_bias), head_dim =
 *   hidden_size / num_attention_heads, scores / sqrt(head_dim), GQA by repeat_kv;
 *   PhimoeRotaryEmbedding: rope_scaling null -> default inv_freq = theta^(-2i/d), cos/sin of
 *   cat(freqs, freqs) and rotate_half; longrope -> inv_freq / ext_factor (short_factor, or
 *   long_factor when seq_len > original_max_position_embeddings), cos/sin times short_mscale
 *   (long_mscale); PhimoeSparseMoeBlock: router_logits = gate(x); sparsemixer(router_logits,
 *   jitter_eps = router_jitter_noise, training = False): top-1 = argmax; mask every expert with
 *   (max - s) / clamp(|s|, min = max) > 2 * jitter_eps; multiplier = softmax(masked)[top-1];
 *   then the same on the scores with top-1 set to -inf for top-2 (the mask's factor from the
 *   original scores); experts w2(silu(w1 x) * w3 x) weighted by the multipliers;
 *   PhimoeForCausalLM: lm_head nn.Linear(bias=lm_head_bias) after model.norm.
 *
 * The container holds every projection ternary (t2), so the runner quantizes each projection's
 * input to int8 per token; the reference does the same at the same places ("token" mode; the
 * router and lm_head stay float) and, as a diagnostic, not at all ("float").
 *
 * Why not llama.cpp: its phimoe architecture runs the phi3 graph (src/models/phi3.cpp:
 * build_norm(..., LLM_NORM_RMS) with the norm bias added, and build_moe_ffn with softmax gating
 * and renormalized top-2 weights), which is not modeling_phimoe.py's LayerNorm and sparsemixer;
 * on the release's weights it computes other logits, so it cannot be the reference here and
 * `trit export` refuses phimoe by name (test_export_phimoe_refused). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>

#include "gen/gen.h"
#include "test.h"
#include "test_config_edit.h"
#include "test_ref.h"

typedef struct phref {
    test_ref w;
    uint32_t E, H, KV, hd, n_layer, n_vocab, n_expert, F;
    double eps, theta, jitter;
        int control;             /* negative controls: CTL_RMS, CTL_SOFTMAX (what llama.cpp computes) */
} phref;

enum { CTL_NONE = 0, CTL_RMS = 1, CTL_SOFTMAX = 2, CTL_LONG = 3 };   /* CTL_LONG: the long set and mscale */

static int ref_open(phref *r, const gen_opts *o, const char *dir)
{
    memset(r, 0, sizeof *r);
    if (test_ref_open(&r->w, o, dir)) return -1;
    const cJSON *c = r->w.cfg;
    r->E = (uint32_t)test_ref_num(c, "hidden_size", 0);
    r->H = (uint32_t)test_ref_num(c, "num_attention_heads", 0);
    r->KV = (uint32_t)test_ref_num(c, "num_key_value_heads", r->H);
    r->hd = r->H ? r->E / r->H : 0;   /* PhimoeAttention: hidden_size // num_heads */
    r->n_layer = (uint32_t)test_ref_num(c, "num_hidden_layers", 0);
    r->n_vocab = (uint32_t)test_ref_num(c, "vocab_size", 0);
    r->n_expert = (uint32_t)test_ref_num(c, "num_local_experts", 0);
    r->F = (uint32_t)test_ref_num(c, "intermediate_size", 0);
    r->eps = test_ref_num(c, "rms_norm_eps", 1e-5);
    r->theta = test_ref_num(c, "rope_theta", 1e6);
    r->jitter = test_ref_num(c, "router_jitter_noise", 0.01);
    return r->E && r->H && r->KV && r->n_expert >= 2 && r->E <= 4096 && r->n_expert <= 64 ? 0 : -1;
}

static void ref_close(phref *r)
{
    test_ref_close(&r->w);
}

/* nn.LayerNorm: (x - mean) / sqrt(var + eps) * w + b, biased variance. */
static void layernorm(double *out, const double *x, const double *w, const double *b, uint32_t n, double eps)
{
    double mean = 0, var = 0;
    for (uint32_t i = 0; i < n; i++) mean += x[i];
    mean /= n;
    for (uint32_t i = 0; i < n; i++) var += (x[i] - mean) * (x[i] - mean);
    var /= n;
    double const s = 1.0 / sqrt(var + eps);
    for (uint32_t i = 0; i < n; i++) out[i] = (x[i] - mean) * s * w[i] + b[i];
}

/* The norm named prefix.{weight,bias}. */
static int norm(phref *r, double *out, const double *x, const char *prefix)
{
    const double *w = test_ref_tensor(&r->w, "%s.weight", prefix), *b = test_ref_tensor(&r->w, "%s.bias", prefix);
    if (!w || !b) return -1;
    if (r->control == CTL_RMS) {   /* llama.cpp's phi3 graph: RMSNorm, then the bias */
        double ss = 0;
        for (uint32_t i = 0; i < r->E; i++) ss += x[i] * x[i];
        double const sc = 1.0 / sqrt(ss / r->E + r->eps);
        for (uint32_t i = 0; i < r->E; i++) out[i] = x[i] * sc * w[i] + b[i];
        return 0;
    }
    layernorm(out, x, w, b, r->E, r->eps);
    return 0;
}

/* A linear layer, with its bias when the config's flag (attention_bias / lm_head_bias) says so. */
static int linear(phref *r, double *y, const double *x, uint32_t rows, uint32_t cols, int ternary, const char *prefix,
                  const char *bias_flag)
{
    const double *W = test_ref_tensor(&r->w, "%s.weight", prefix);
    if (!W) return -1;
    if (ternary) test_ref_proj(&r->w, y, W, x, rows, cols);
    else test_ref_matvec(y, W, x, rows, cols);
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r->w.cfg, bias_flag))) {
        const double *b = test_ref_tensor(&r->w, "%s.bias", prefix);
        if (!b) return -1;
        for (uint32_t i = 0; i < rows; i++) y[i] += b[i];
    }
    return 0;
}

/* PhimoeRotaryEmbedding for a forward pass of seq_len positions: inv_freq[d/2] and the cos/sin
 * multiplier. */
static void rope_setup(const phref *r, uint32_t seq_len, double *inv_freq, double *mscale)
{
    uint32_t const d = r->hd;
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(r->w.cfg, "rope_scaling");
    *mscale = 1.0;
    for (uint32_t i = 0; i < d / 2; i++) inv_freq[i] = 1.0 / pow(r->theta, 2.0 * i / d);
    if (!cJSON_IsObject(rs)) return;
    int const lng = seq_len > test_ref_num(rs, "original_max_position_embeddings", 0) || r->control == CTL_LONG;
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(rs, lng ? "long_factor" : "short_factor");
    *mscale = test_ref_num(rs, lng ? "long_mscale" : "short_mscale", 1.0);
    for (uint32_t i = 0; i < d / 2; i++) {
        const cJSON *v = cJSON_GetArrayItem(f, (int)i);
        /* the factors are a float32 tensor in transformers */
        inv_freq[i] = 1.0 / ((double)(float)(cJSON_IsNumber(v) ? v->valuedouble : 1.0) * pow(r->theta, 2.0 * i / d));
    }
}

/* sparsemixer (training False), literally: masks, softmax over what is left, gather. */
static void sparsemixer(const double *s, uint32_t n, double eps, uint32_t sel[2], double w[2])
{
    double masked[64], g[64];
    /* first expert: scores.max(dim=-1) */
    uint32_t i1 = 0;
    for (uint32_t e = 1; e < n; e++)
        if (s[e] > s[i1]) i1 = e;
    for (uint32_t pass = 0; pass < 2; pass++) {
        uint32_t top = i1;
        if (pass == 1) {   /* masked_scores = scatter(scores, top-1, -inf) */
            top = i1 == 0 ? 1 : 0;
            for (uint32_t e = 0; e < n; e++)
                if (e != i1 && s[e] > s[top]) top = e;
        }
        double const m = s[top];
        double mx = -INFINITY, sum = 0;
        for (uint32_t e = 0; e < n; e++) {
            double const factor = fabs(s[e]) > m ? fabs(s[e]) : m;   /* scores.abs().clamp(min=max) */
            int const cut = (m - s[e]) / factor > 2 * eps;
            masked[e] = (pass == 1 && e == i1) || cut ? -INFINITY : s[e];
            mx = masked[e] > mx ? masked[e] : mx;
        }
        for (uint32_t e = 0; e < n; e++) sum += g[e] = exp(masked[e] - mx);
        sel[pass] = top;
        w[pass] = g[top] / sum;
    }
}

/* Logits of the last of n tokens (every position recomputed, causal). */
static int ref_forward(phref *r, const uint32_t *tok, uint32_t n, double *logits)
{
    uint32_t const E = r->E, H = r->H, KV = r->KV, hd = r->hd, F = r->F;
    double *h = calloc((size_t)n * E, sizeof *h), *x = calloc(E, sizeof *x), *y = calloc(E, sizeof *y);
    double *q = calloc((size_t)n * H * hd, sizeof *q), *k = calloc((size_t)n * KV * hd, sizeof *k);
    double *v = calloc((size_t)n * KV * hd, sizeof *v), *att = calloc((size_t)H * hd, sizeof *att);
    double *sc = calloc(n, sizeof *sc), *g = calloc(F, sizeof *g), *u = calloc(F, sizeof *u);
    double *hn = calloc((size_t)n * E, sizeof *hn), inv_freq[256], mscale, rl[64];
    int rc = -1;
    char pre[128];
    if (!h || !x || !y || !q || !k || !v || !att || !sc || !g || !u || !hn || hd / 2 > 256) goto done;
    rope_setup(r, n, inv_freq, &mscale);
    const double *emb = test_ref_tensor(&r->w, "model.embed_tokens.weight");
    if (!emb) goto done;
    for (uint32_t t = 0; t < n; t++) memcpy(h + (size_t)t * E, emb + (size_t)tok[t] * E, E * sizeof *h);
    for (uint32_t L = 0; L < r->n_layer; L++) {
        for (uint32_t t = 0; t < n; t++) {
            snprintf(pre, sizeof pre, "model.layers.%u.input_layernorm", L);
            if (norm(r, x, h + (size_t)t * E, pre)) goto done;
            double *qt = q + (size_t)t * H * hd, *kt = k + (size_t)t * KV * hd, *vt = v + (size_t)t * KV * hd;
            snprintf(pre, sizeof pre, "model.layers.%u.self_attn.q_proj", L);
            if (linear(r, qt, x, H * hd, E, 1, pre, "attention_bias")) goto done;
            snprintf(pre, sizeof pre, "model.layers.%u.self_attn.k_proj", L);
            if (linear(r, kt, x, KV * hd, E, 1, pre, "attention_bias")) goto done;
            snprintf(pre, sizeof pre, "model.layers.%u.self_attn.v_proj", L);
            if (linear(r, vt, x, KV * hd, E, 1, pre, "attention_bias")) goto done;
            for (uint32_t hh = 0; hh < H; hh++) test_ref_rope_halves(qt + (size_t)hh * hd, hd, inv_freq, mscale, t);
            for (uint32_t hh = 0; hh < KV; hh++) test_ref_rope_halves(kt + (size_t)hh * hd, hd, inv_freq, mscale, t);
        }
        for (uint32_t t = 0; t < n; t++) {
            test_ref_attention(att, q + (size_t)t * H * hd, k, v, t, H, KV, hd, 1.0 / sqrt((double)hd), sc);
            snprintf(pre, sizeof pre, "model.layers.%u.self_attn.o_proj", L);
            if (linear(r, hn + (size_t)t * E, att, E, H * hd, 1, pre, "attention_bias")) goto done;
        }
        for (size_t i = 0; i < (size_t)n * E; i++) h[i] += hn[i];
        for (uint32_t t = 0; t < n; t++) {
            double *ht = h + (size_t)t * E;
            snprintf(pre, sizeof pre, "model.layers.%u.post_attention_layernorm", L);
            if (norm(r, x, ht, pre)) goto done;
            const double *Wr = test_ref_tensor(&r->w, "model.layers.%u.block_sparse_moe.gate.weight", L);
            if (!Wr) goto done;
            test_ref_matvec(rl, Wr, x, r->n_expert, E);   /* the router stays float */
            uint32_t sel[2];
            double w[2];
            sparsemixer(rl, r->n_expert, r->jitter, sel, w);
            if (r->control == CTL_SOFTMAX) {   /* llama.cpp: softmax, top-2, renormalized */
                double const d = exp(rl[sel[1]] - rl[sel[0]]);
                w[0] = 1 / (1 + d);
                w[1] = d / (1 + d);
            }
            memset(y, 0, E * sizeof *y);
            for (int j = 0; j < 2; j++) {
                const double *W1 = test_ref_tensor(&r->w, "model.layers.%u.block_sparse_moe.experts.%u.w1.weight", L, sel[j]);
                const double *W2 = test_ref_tensor(&r->w, "model.layers.%u.block_sparse_moe.experts.%u.w2.weight", L, sel[j]);
                const double *W3 = test_ref_tensor(&r->w, "model.layers.%u.block_sparse_moe.experts.%u.w3.weight", L, sel[j]);
                if (!W1 || !W2 || !W3) goto done;
                test_ref_proj(&r->w, g, W1, x, F, E);
                test_ref_proj(&r->w, u, W3, x, F, E);
                for (uint32_t i = 0; i < F; i++) g[i] = g[i] / (1 + exp(-g[i])) * u[i];
                test_ref_proj(&r->w, hn, W2, g, E, F);
                for (uint32_t i = 0; i < E; i++) y[i] += w[j] * hn[i];
            }
            for (uint32_t i = 0; i < E; i++) ht[i] += y[i];
        }
    }
    if (norm(r, x, h + (size_t)(n - 1) * E, "model.norm") || linear(r, logits, x, r->n_vocab, E, 0, "lm_head", "lm_head_bias")) goto done;
    rc = 0;
done:
    free(h); free(x); free(y); free(q); free(k); free(v); free(att); free(sc); free(g); free(u); free(hn);
    return rc;
}

/* The reference (CTL_NONE) or one of its controls, as a test_ref_forward_fn. */
typedef struct ph_call {
    phref *r;
    int control;
} ph_call;

static int ph_forward(void *ctx, const uint32_t *tok, uint32_t n, double *logits)
{
    ph_call const *c = ctx;
    c->r->control = c->control;
    return ref_forward(c->r, tok, n, logits);
}

/* Generate (rope_scaling as the release, or edited), convert, run the sequences and compare;
 * then the negative controls (llama.cpp's norm, llama.cpp's routing) must be far outside the
 * tolerance, or the check could not tell the release's math from theirs. */
static void agree(const char *label, const char *const *edit)
{
    char dir[4096], out[4200], *msg = NULL;
    gen_opts o;
    gen_opts_default(&o, GEN_LAYOUT_PHIMOE);
    o.overwrite = 1;
    snprintf(dir, sizeof dir, "%s/phref-%s", test_tmpdir(), label);
    snprintf(out, sizeof out, "%s.trit", dir);
    trit_err err;
    CHECK_OK_E(gen_write(&o, dir, &err), &err);
    for (; edit && edit[0]; edit += 2) CHECK(test_config_set(dir, edit[0], edit[1]) == 0);
    int const rc = test_runf(&msg, "'%s' convert -q -f '%s' -o '%s' 2>&1", test_trit_bin(), dir, out);
    if (rc != 0) test_fail_(__FILE__, __LINE__, "%s: convert exit %d: %s", label, rc, msg ? msg : "");
    free(msg);
    phref r;
    if (rc != 0 || ref_open(&r, &o, dir)) {
        if (rc == 0) test_fail_(__FILE__, __LINE__, "%s: reference setup failed", label);
        if (rc == 0) ref_close(&r);
        return;
    }
    double const tol = 1e-5;
    ph_call calls[4];
    for (int c = CTL_NONE; c <= CTL_LONG; c++) calls[c] = (ph_call){&r, c};
    test_ref_agree("phimoe", label, out, &r.w, r.n_vocab, ph_forward, &calls[CTL_NONE], tol, NULL);
    double const rms = test_ref_distance("phimoe", label, out, &r.w, r.n_vocab, ph_forward, &calls[CTL_RMS]);
    double const smx = test_ref_distance("phimoe", label, out, &r.w, r.n_vocab, ph_forward, &calls[CTL_SOFTMAX]);
    /* with longrope: the long factor set and long_mscale (llama.cpp's choice at its default context) */
    int const longrope = cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(r.w.cfg, "rope_scaling"));
    double const lng = longrope ? test_ref_distance("phimoe", label, out, &r.w, r.n_vocab, ph_forward, &calls[CTL_LONG]) : INFINITY;
    printf("    phimoe %s: controls: RMSNorm + bias %.3g, softmax top-2 renormalized %.3g", label, rms, smx);
    if (longrope) printf(", long rope set and long_mscale %.3g", lng);
    printf("\n");
    if (!(rms > 100 * tol) || !(smx > 100 * tol) || !(lng > 100 * tol))
        test_fail_(__FILE__, __LINE__, "%s: a control is within 100x the tolerance (RMSNorm %g, softmax %g, long set %g)",
                   label, rms, smx, lng);
    ref_close(&r);
}

TEST(phimoe_agrees_with_reference)
{
    if (access(test_trit_bin(), X_OK) != 0) SKIP("trit binary not built");
    /* rope_scaling null: the attention, LayerNorms, biases and sparsemixer at the release's
     * router_jitter_noise 0.01 (mostly one expert left in each pick's softmax) */
    static const char *const plain[] = {"rope_scaling", "null", NULL};
    agree("plain", plain);
    /* a wide threshold keeps several experts in each softmax (weights below 1), and none */
    static const char *const wide[] = {"rope_scaling", "null", "router_jitter_noise", "0.4", NULL};
    agree("jitter0.4", wide);
    static const char *const all[] = {"rope_scaling", "null", "router_jitter_noise", "50", NULL};
    agree("jitter50", all);
}

TEST(phimoe_longrope_agrees_with_reference)
{
    if (access(test_trit_bin(), X_OK) != 0) SKIP("trit binary not built");
    /* the release's rope_scaling: longrope, short factors for sequences up to 4096, cos/sin times
     * short_mscale 1.243 */
    agree("longrope", NULL);
    /* short_mscale is the one used, not long_mscale */
    static const char *const ms[] = {"rope_scaling.short_mscale", "0.9", "rope_scaling.long_mscale", "1.7", NULL};
    agree("mscale", ms);
}
