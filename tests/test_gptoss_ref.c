/* test_gptoss_ref.c - gpt-oss (issue 17): `trit convert` of the release layout (trit-gen
 * gpt-oss: MXFP4 experts as blocks/scales, BF16 rest) then `trit run`, against an independent
 * forward pass written here in double precision from transformers' modeling_gpt_oss.py, reading
 * the generator's tensors by their HF names (the MXFP4 blocks as the values transformers'
 * convert_moe_packed_tensors makes of them) and config.json, not the container:
 *
 *   GptOssDecoderLayer: h += o_proj(attn(input_layernorm(h))); h += mlp(post_attention_layernorm(h))
 *   GptOssRMSNorm(eps = rms_norm_eps); GptOssAttention: q/k/v/o nn.Linear(bias = attention_bias),
 *   head_dim from the config, scaling head_dim^-0.5, GQA by repeat_kv; eager_attention_forward:
 *   scores of the visible keys, concatenated with sinks[h], softmax, the sink's column dropped;
 *   "sliding_attention" layers see keys with q - k < sliding_window
 *   (create_sliding_window_causal_mask); GptOssRotaryEmbedding: _compute_yarn_parameters
 *   (truncate from rope_scaling, default true), cos/sin times attention_factor = 0.1 ln(factor) + 1,
 *   _apply_rotary_emb on halves; GptOssTopKRouter: logits = W x + b, top-k, softmax over the k;
 *   GptOssExperts: gate_up = x @ gate_up_proj + bias ([E, hidden, 2F]: the blocks' rows are its
 *   columns), gate = [::2], up = [1::2], gate.clamp(max = limit), up.clamp(-limit, limit),
 *   glu = gate * sigmoid(gate * 1.702), out = ((up + 1) * glu) @ down_proj + bias, summed with the
 *   router's weights; lm_head after model.norm. The container keeps the experts MXFP4 and the
 *   runner multiplies them with q8_0 activations as llama.cpp does, so the compared reference
 *   (r.w.quant) quantizes the experts' inputs the same way (q8_0_view); the release's float math
 *   is printed as "the unquantized reference".
 *
 * Negative controls, each the reference with one piece of the release's math left out: no sinks,
 * no window, no clamp, no router bias, llama.cpp's truncated YaRN range. Each must be far from the
 * runner, or the check could not tell the piece was computed. Agreement with llama.cpp itself
 * (on the GGUF twin) is tools/conformance/gptoss.sh. */
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
#include "trit.h"

enum { CTL_NONE = 0, CTL_NO_SINKS, CTL_NO_WINDOW, CTL_NO_CLAMP, CTL_NO_ROUTER_BIAS, CTL_TRUNCATE, CTL_N };

typedef struct goref {
    test_ref w;
    uint32_t E, H, KV, hd, n_layer, n_vocab, X, K, F, window;
    double eps, theta, limit, alpha;
    int sliding[64];
    int control;
    uint64_t clamped;      /* gate or up values the clamp changed (reference, CTL_NONE) */
} goref;

static int ref_open(goref *r, const gen_opts *o, const char *dir)
{
    memset(r, 0, sizeof *r);
    if (test_ref_open(&r->w, o, dir)) return -1;
    r->w.quant = 0;   /* every weight is float: the runner quantizes nothing */
    const cJSON *c = r->w.cfg;
    r->E = (uint32_t)test_ref_num(c, "hidden_size", 0);
    r->H = (uint32_t)test_ref_num(c, "num_attention_heads", 0);
    r->KV = (uint32_t)test_ref_num(c, "num_key_value_heads", r->H);
    r->hd = (uint32_t)test_ref_num(c, "head_dim", 0);
    r->n_layer = (uint32_t)test_ref_num(c, "num_hidden_layers", 0);
    r->n_vocab = (uint32_t)test_ref_num(c, "vocab_size", 0);
    r->X = (uint32_t)test_ref_num(c, "num_local_experts", 0);
    r->K = (uint32_t)test_ref_num(c, "num_experts_per_tok", 0);
    r->F = (uint32_t)test_ref_num(c, "intermediate_size", 0);
    r->window = (uint32_t)test_ref_num(c, "sliding_window", 0);
    r->eps = test_ref_num(c, "rms_norm_eps", 1e-5);
    r->theta = test_ref_num(c, "rope_theta", 150000);
    r->limit = test_ref_num(c, "swiglu_limit", 7.0);
    r->alpha = 1.702;   /* GptOssExperts.alpha */
    const cJSON *lt = cJSON_GetObjectItemCaseSensitive(c, "layer_types");
    for (uint32_t L = 0; L < r->n_layer && L < 64; L++) {
        const cJSON *x = cJSON_GetArrayItem(lt, (int)L);
        r->sliding[L] = cJSON_IsString(x) && !strcmp(x->valuestring, "sliding_attention");
    }
    return r->E && r->H && r->KV && r->hd && r->n_layer <= 64 && r->X >= 2 && r->X <= 64 && r->K && r->K <= r->X ? 0 : -1;
}

/* _compute_yarn_parameters (or the default rope without rope_scaling): inv_freq[d/2], attention factor. */
static void rope_setup(const goref *r, double *inv_freq, double *mscale)
{
    uint32_t const d = r->hd;
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(r->w.cfg, "rope_scaling");
    *mscale = 1.0;
    for (uint32_t i = 0; i < d / 2; i++) inv_freq[i] = 1.0 / pow(r->theta, 2.0 * i / d);
    if (!cJSON_IsObject(rs)) return;
    double const factor = test_ref_num(rs, "factor", 1), orig = test_ref_num(rs, "original_max_position_embeddings", 0);
    double const bf = test_ref_num(rs, "beta_fast", 32), bs = test_ref_num(rs, "beta_slow", 1);
    const cJSON *tr = cJSON_GetObjectItemCaseSensitive(rs, "truncate");
    int const truncate = !cJSON_IsFalse(tr) || r->control == CTL_TRUNCATE;
    *mscale = factor <= 1 ? 1.0 : 0.1 * log(factor) + 1.0;
    double low = d * log(orig / (bf * 2 * M_PI)) / (2 * log(r->theta)), high = d * log(orig / (bs * 2 * M_PI)) / (2 * log(r->theta));
    if (truncate) {
        low = floor(low);
        high = ceil(high);
    }
    low = low > 0 ? low : 0;
    high = high < d - 1 ? high : d - 1;
    if (low == high) high += 0.001;
    for (uint32_t i = 0; i < d / 2; i++) {
        double ramp = (i - low) / (high - low);
        ramp = ramp < 0 ? 0 : ramp > 1 ? 1 : ramp;
        double const extra_factor = 1 - ramp, extra = inv_freq[i], inter = extra / factor;
        inv_freq[i] = inter * (1 - extra_factor) + extra * extra_factor;
    }
}

static int linear(goref *r, double *y, const double *x, uint32_t rows, uint32_t cols, const char *prefix)
{
    const double *W = test_ref_tensor(&r->w, "%s.weight", prefix), *b = test_ref_tensor(&r->w, "%s.bias", prefix);
    if (!W || !b) return -1;
    test_ref_matvec(y, W, x, rows, cols);
    for (uint32_t i = 0; i < rows; i++) y[i] += b[i];
    return 0;
}

/* eager_attention_forward with sinks for query t of layer L. */
static void attend(const goref *r, uint32_t L, const double *sinks, double *att, const double *q, const double *k, const double *v,
                   uint32_t t, double *sc)
{
    uint32_t const H = r->H, KV = r->KV, hd = r->hd, g = H / KV;
    int const win = r->sliding[L] && r->control != CTL_NO_WINDOW;
    uint32_t const p0 = win && t + 1 > r->window ? t + 1 - r->window : 0;
    for (uint32_t h = 0; h < H; h++) {
        double mx = r->control == CTL_NO_SINKS ? -INFINITY : sinks[h];
        for (uint32_t p = p0; p <= t; p++) {
            double s = 0;
            for (uint32_t i = 0; i < hd; i++) s += q[(size_t)h * hd + i] * k[((size_t)p * KV + h / g) * hd + i];
            sc[p] = s / sqrt((double)hd);
            mx = sc[p] > mx ? sc[p] : mx;
        }
        double sum = r->control == CTL_NO_SINKS ? 0 : exp(sinks[h] - mx);
        for (uint32_t p = p0; p <= t; p++) sum += sc[p] = exp(sc[p] - mx);
        for (uint32_t i = 0; i < hd; i++) {
            double a = 0;
            for (uint32_t p = p0; p <= t; p++) a += sc[p] / sum * v[((size_t)p * KV + h / g) * hd + i];
            att[(size_t)h * hd + i] = a;
        }
    }
}

/* The input an MXFP4 expert matrix sees in the runner, as in llama.cpp: x quantized to q8_0
 * (ggml's quantize_row_q8_0_ref, per 32 values: d = amax / 127 in f32, q = roundf(x / d) with
 * id = 1 / d, d stored as f16), and the MXFP4 dot is exact on q * f16(d). With r->quant 0,
 * x unchanged (the release's float math). */
static const double *q8_0_view(const goref *r, const double *x, uint32_t n, double *xq)
{
    if (!r->w.quant || n % 32) return x;
    for (uint32_t b = 0; b < n; b += 32) {
        float amax = 0.0f;
        for (uint32_t j = 0; j < 32; j++) amax = fmaxf(amax, fabsf((float)x[b + j]));
        float const d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        double const dh = trit_f16_to_f32(trit_f32_to_f16(d));
        for (uint32_t j = 0; j < 32; j++) xq[b + j] = roundf((float)x[b + j] * id) * dh;
    }
    return xq;
}

/* GptOssMLP on x into y. */
static int mlp(goref *r, uint32_t L, const double *x, double *y, double *gu, double *act)
{
    uint32_t const E = r->E, F = r->F, X = r->X;
    double lg[64], top[64];
    uint32_t idx[64];
    const double *Wr = test_ref_tensor(&r->w, "model.layers.%u.mlp.router.weight", L);
    const double *br = test_ref_tensor(&r->w, "model.layers.%u.mlp.router.bias", L);
    const double *Wgu = test_ref_tensor(&r->w, "model.layers.%u.mlp.experts.gate_up_proj_blocks", L);
    const double *bgu = test_ref_tensor(&r->w, "model.layers.%u.mlp.experts.gate_up_proj_bias", L);
    const double *Wd = test_ref_tensor(&r->w, "model.layers.%u.mlp.experts.down_proj_blocks", L);
    const double *bd = test_ref_tensor(&r->w, "model.layers.%u.mlp.experts.down_proj_bias", L);
    if (!Wr || !br || !Wgu || !bgu || !Wd || !bd) return -1;
    test_ref_matvec(lg, Wr, x, X, E);
    if (r->control != CTL_NO_ROUTER_BIAS)
        for (uint32_t e = 0; e < X; e++) lg[e] += br[e];
    /* torch.topk: the k largest (ties: the lower index), then softmax over them */
    uint8_t taken[64] = {0};
    double mx = -INFINITY, sum = 0;
    for (uint32_t j = 0; j < r->K; j++) {
        uint32_t best = UINT32_MAX;
        for (uint32_t e = 0; e < X; e++)
            if (!taken[e] && (best == UINT32_MAX || lg[e] > lg[best])) best = e;
        taken[best] = 1;
        idx[j] = best;
        top[j] = lg[best];
        mx = top[j] > mx ? top[j] : mx;
    }
    for (uint32_t j = 0; j < r->K; j++) sum += top[j] = exp(top[j] - mx);
    memset(y, 0, E * sizeof *y);
    double const lim = r->control == CTL_NO_CLAMP ? INFINITY : r->limit;
    for (uint32_t j = 0; j < r->K; j++) {
        uint32_t const e = idx[j];
        /* gate_up_proj [hidden, 2F] of expert e is the blocks' [2F, hidden] transposed */
        double xq[4096], aq[4096];
        if (E > 4096 || F > 4096) return -1;
        test_ref_matvec(gu, Wgu + (size_t)e * 2 * F * E, q8_0_view(r, x, E, xq), 2 * F, E);
        for (uint32_t i = 0; i < 2 * F; i++) gu[i] += bgu[(size_t)e * 2 * F + i];
        for (uint32_t i = 0; i < F; i++) {
            double gate = gu[2 * i], up = gu[2 * i + 1];
            double const g2 = gate > lim ? lim : gate, u2 = up > lim ? lim : up < -lim ? -lim : up;
            if (r->control == CTL_NONE) r->clamped += (g2 != gate) + (u2 != up);
            double const glu = g2 / (1 + exp(-g2 * r->alpha));
            act[i] = (u2 + 1) * glu;
        }
        double out[4096];
        if (E > 4096) return -1;
        test_ref_matvec(out, Wd + (size_t)e * E * F, q8_0_view(r, act, F, aq), E, F);
        for (uint32_t i = 0; i < E; i++) y[i] += (out[i] + bd[(size_t)e * E + i]) * (top[j] / sum);
    }
    return 0;
}

static int ref_forward(goref *r, const uint32_t *tok, uint32_t n, double *logits)
{
    uint32_t const E = r->E, H = r->H, KV = r->KV, hd = r->hd;
    double *h = calloc((size_t)n * E, sizeof *h), *x = calloc(E, sizeof *x), *y = calloc(E, sizeof *y);
    double *q = calloc((size_t)n * H * hd, sizeof *q), *k = calloc((size_t)n * KV * hd, sizeof *k);
    double *v = calloc((size_t)n * KV * hd, sizeof *v), *att = calloc((size_t)H * hd, sizeof *att);
    double *sc = calloc(n, sizeof *sc), *gu = calloc(2 * (size_t)r->F, sizeof *gu), *act = calloc(r->F, sizeof *act);
    double *hn = calloc((size_t)n * E, sizeof *hn), inv_freq[256], mscale;
    int rc = -1;
    char pre[128];
    if (!h || !x || !y || !q || !k || !v || !att || !sc || !gu || !act || !hn || hd / 2 > 256) goto done;
    rope_setup(r, inv_freq, &mscale);
    const double *emb = test_ref_tensor(&r->w, "model.embed_tokens.weight");
    if (!emb) goto done;
    for (uint32_t t = 0; t < n; t++) memcpy(h + (size_t)t * E, emb + (size_t)tok[t] * E, E * sizeof *h);
    for (uint32_t L = 0; L < r->n_layer; L++) {
        const double *w_in = test_ref_tensor(&r->w, "model.layers.%u.input_layernorm.weight", L);
        const double *w_post = test_ref_tensor(&r->w, "model.layers.%u.post_attention_layernorm.weight", L);
        const double *sinks = test_ref_tensor(&r->w, "model.layers.%u.self_attn.sinks", L);
        if (!w_in || !w_post || !sinks) goto done;
        for (uint32_t t = 0; t < n; t++) {
            test_ref_rmsnorm(x, h + (size_t)t * E, w_in, E, r->eps);
            double *qt = q + (size_t)t * H * hd, *kt = k + (size_t)t * KV * hd, *vt = v + (size_t)t * KV * hd;
            snprintf(pre, sizeof pre, "model.layers.%u.self_attn.q_proj", L);
            if (linear(r, qt, x, H * hd, E, pre)) goto done;
            snprintf(pre, sizeof pre, "model.layers.%u.self_attn.k_proj", L);
            if (linear(r, kt, x, KV * hd, E, pre)) goto done;
            snprintf(pre, sizeof pre, "model.layers.%u.self_attn.v_proj", L);
            if (linear(r, vt, x, KV * hd, E, pre)) goto done;
            for (uint32_t hh = 0; hh < H; hh++) test_ref_rope_halves(qt + (size_t)hh * hd, hd, inv_freq, mscale, t);
            for (uint32_t hh = 0; hh < KV; hh++) test_ref_rope_halves(kt + (size_t)hh * hd, hd, inv_freq, mscale, t);
        }
        for (uint32_t t = 0; t < n; t++) {
            attend(r, L, sinks, att, q + (size_t)t * H * hd, k, v, t, sc);
            snprintf(pre, sizeof pre, "model.layers.%u.self_attn.o_proj", L);
            if (linear(r, hn + (size_t)t * E, att, E, H * hd, pre)) goto done;
        }
        for (size_t i = 0; i < (size_t)n * E; i++) h[i] += hn[i];
        for (uint32_t t = 0; t < n; t++) {
            double *ht = h + (size_t)t * E;
            test_ref_rmsnorm(x, ht, w_post, E, r->eps);
            if (mlp(r, L, x, y, gu, act)) goto done;
            for (uint32_t i = 0; i < E; i++) ht[i] += y[i];
        }
    }
    const double *wn = test_ref_tensor(&r->w, "model.norm.weight"), *lm = test_ref_tensor(&r->w, "lm_head.weight");
    if (!wn || !lm) goto done;
    test_ref_rmsnorm(x, h + (size_t)(n - 1) * E, wn, E, r->eps);
    test_ref_matvec(logits, lm, x, r->n_vocab, E);
    rc = 0;
done:
    free(h); free(x); free(y); free(q); free(k); free(v); free(att); free(sc); free(gu); free(act); free(hn);
    return rc;
}

typedef struct go_call {
    goref *r;
    int control;
} go_call;

static int go_forward(void *ctx, const uint32_t *tok, uint32_t n, double *logits)
{
    go_call const *c = ctx;
    c->r->control = c->control;
    return ref_forward(c->r, tok, n, logits);
}

static void agree(const char *label, const char *const *edit)
{
    char dir[4096], out[4200], *msg = NULL;
    gen_opts o;
    gen_opts_default(&o, GEN_LAYOUT_GPT_OSS);
    o.overwrite = 1;
    snprintf(dir, sizeof dir, "%s/goref-%s", test_tmpdir(), label);
    snprintf(out, sizeof out, "%s.trit", dir);
    trit_err err;
    CHECK_OK_E(gen_write(&o, dir, &err), &err);
    for (; edit && edit[0]; edit += 2) CHECK(test_config_set(dir, edit[0], edit[1]) == 0);
    int const rc = test_runf(&msg, "'%s' convert -q -f '%s' -o '%s' 2>&1", test_trit_bin(), dir, out);
    if (rc != 0) test_fail_(__FILE__, __LINE__, "%s: convert exit %d: %s", label, rc, msg ? msg : "");
    free(msg);
    goref r;
    if (rc != 0 || ref_open(&r, &o, dir)) {
        if (rc == 0) test_fail_(__FILE__, __LINE__, "%s: reference setup failed", label);
        if (rc == 0) test_ref_close(&r.w);
        return;
    }
    double const tol = 1e-5;
    go_call calls[CTL_N];
    for (int c = 0; c < CTL_N; c++) calls[c] = (go_call){&r, c};
    test_ref_agree("gpt-oss", label, out, &r.w, r.n_vocab, go_forward, &calls[CTL_NONE], tol, NULL);
    static const char *const names[CTL_N] = {"", "no sinks", "no sliding window", "no clamp", "no router bias", "truncated yarn range"};
    printf("    gpt-oss %s: clamped gate/up values in the reference: %llu; controls:", label, (unsigned long long)r.clamped);
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(r.w.cfg, "rope_scaling");
    int const untruncated = cJSON_IsObject(rs) && cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(rs, "truncate"));
    for (int c = CTL_NO_SINKS; c < CTL_N; c++) {
        if (c == CTL_TRUNCATE && !untruncated) continue;
        double const d = test_ref_distance("gpt-oss", label, out, &r.w, r.n_vocab, go_forward, &calls[c]);
        printf("%s %s %.3g", c > CTL_NO_SINKS ? "," : "", names[c], d);
        if (!(d > 10 * tol)) test_fail_(__FILE__, __LINE__, "%s: the control '%s' is within 10x the tolerance (%g)", label, names[c], d);
    }
    printf("\n");
    if (!r.clamped) test_fail_(__FILE__, __LINE__, "%s: the clamp never acted: the test cannot see it", label);
    test_ref_close(&r.w);
}

TEST(gptoss_agrees_with_reference)
{
    if (access(test_trit_bin(), X_OK) != 0) SKIP("trit binary not built");
    /* the release's config: yarn (factor 32 over 4096, truncate false), window 4 on layer 0 */
    agree("release", NULL);
    /* transformers' default truncation (what llama.cpp always computes) and a window of 2 */
    static const char *const trunc[] = {"rope_scaling.truncate", "true", "sliding_window", "2", NULL};
    agree("truncate-window2", trunc);
}
