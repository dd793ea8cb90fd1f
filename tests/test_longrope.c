/* test_longrope.c - MiniCPM4 / BitCPM4 with rope_scaling longrope (issue 12): `trit convert` of the
 * release layout (trit-gen minicpm4: BF16 ternary x group scale, tied, muP scales, long and short
 * factor sets that differ), then `trit run`, against an independent plain forward pass written here
 * from the release's modeling code, in double precision, reading the generator's tensors by their
 * HF names and config.json (not the container, not the converter's description):
 *
 *   openbmb MiniCPM4-8B / BitCPM4 modeling_minicpm.py: MiniCPMModel (inputs_embeds * scale_emb;
 *   each block's attention and MLP output times scale_depth / sqrt(num_hidden_layers) before the
 *   residual add; the final norm; MiniCPMForCausalLM divides the state by hidden_size /
 *   dim_model_base before lm_head, tied to embed_tokens); MiniCPMAttention (q/k/v/o_proj without
 *   bias, repeat_kv, softmax(q k^T / sqrt(head_dim)) causal); MiniCPMMLP down(silu(gate) * up);
 *   MiniCPMRMSNorm; MiniCPMLongRoPE: dim = hidden_size / num_attention_heads, inv_freq =
 *   1 / base^(arange(0, dim, 2) / dim), the cos/sin cache built at init for
 *   max_position_embeddings positions with ext_factors = long_factor if that length exceeds
 *   original_max_position_embeddings else short_factor, freqs = outer(t, 1 / ext_factors) *
 *   inv_freq, emb = cat(freqs, freqs), cos and sin times scaling_factor = sqrt(1 +
 *   log(max_position_embeddings / original) / log(original)); apply_rotary_pos_emb (x cos +
 *   rotate_half(x) sin), done here literally.
 *
 * The container holds every projection ternary (t2), so the runner quantizes each projection's
 * input to int8 per token; the reference does the same ("token" mode, test_ref.c). llama.cpp's
 * minicpm applies the factors too: tools/conformance/agree.sh checks the same layouts against it
 * (minicpm4-longrope, minicpm4-shortrope and the GGUF twin). */
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

typedef struct mcref {
    test_ref base;
    uint32_t E, H, KV, hd, F, n_layer, n_vocab;
    double eps, emb_scale, res_scale, logit_div, attn_mult;
    int force_set;           /* -1: MiniCPMLongRoPE's choice; 0 short, 1 long (negative controls) */
    int no_factors;          /* plain rope (a negative control) */
    double *inv_freq;        /* [hd / 2], divided by the chosen factors */
} mcref;

static int factors(mcref *r, const cJSON *rs, const char *key, uint32_t half)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(rs, key);
    if (cJSON_GetArraySize(a) != (int)half) return -1;
    uint32_t i = 0;
    /* torch.tensor(factors, dtype=torch.float32) */
    for (const cJSON *x = a->child; x; x = x->next, i++) r->inv_freq[i] /= (double)(float)x->valuedouble;
    return 0;
}

static int ref_open(mcref *r, const gen_opts *o, const char *dir, int force_set, int no_factors)
{
    memset(r, 0, sizeof *r);
    if (test_ref_open(&r->base, o, dir)) return -1;
    const cJSON *c = r->base.cfg;
    r->E = (uint32_t)test_ref_num(c, "hidden_size", 0);
    r->H = (uint32_t)test_ref_num(c, "num_attention_heads", 1);
    r->KV = (uint32_t)test_ref_num(c, "num_key_value_heads", r->H);
    r->hd = r->E / r->H;
    r->F = (uint32_t)test_ref_num(c, "intermediate_size", 0);
    r->n_layer = (uint32_t)test_ref_num(c, "num_hidden_layers", 0);
    r->n_vocab = (uint32_t)test_ref_num(c, "vocab_size", 0);
    r->eps = test_ref_num(c, "rms_norm_eps", 1e-6);
    r->emb_scale = test_ref_num(c, "scale_emb", 1);
    r->res_scale = test_ref_num(c, "scale_depth", 1) / sqrt((double)r->n_layer);
    r->logit_div = r->E / test_ref_num(c, "dim_model_base", 1);
    r->force_set = force_set;
    r->no_factors = no_factors;
    uint32_t const half = r->hd / 2;
    r->inv_freq = calloc(half + 1, sizeof *r->inv_freq);
    if (!r->inv_freq) return -1;
    double const base = test_ref_num(c, "rope_theta", 10000);
    for (uint32_t i = 0; i < half; i++) r->inv_freq[i] = 1.0 / pow(base, 2.0 * i / r->hd);
    r->attn_mult = 1;
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(c, "rope_scaling");
    if (!cJSON_IsObject(rs) || no_factors) return 0;
    double const max_pos = test_ref_num(c, "max_position_embeddings", 0);
    double const orig = test_ref_num(rs, "original_max_position_embeddings", 0);
    int const use_long = force_set >= 0 ? force_set : max_pos > orig;
    r->attn_mult = sqrt(1 + log(max_pos / orig) / log(orig));
    return factors(r, rs, use_long ? "long_factor" : "short_factor", half);
}

static void ref_close(mcref *r)
{
    free(r->inv_freq);
    test_ref_close(&r->base);
}

static int ref_forward(mcref *r, const uint32_t *tok, uint32_t n, double *logits)
{
    uint32_t const E = r->E, H = r->H, KV = r->KV, hd = r->hd;
    test_ref *b = &r->base;
    double *h = calloc((size_t)n * E, sizeof *h), *x = calloc(E, sizeof *x), *tmp = calloc(E, sizeof *tmp);
    double *q = calloc((size_t)n * H * hd, sizeof *q), *k = calloc((size_t)n * KV * hd, sizeof *k);
    double *v = calloc((size_t)n * KV * hd, sizeof *v), *att = calloc((size_t)H * hd, sizeof *att), *sc = calloc(n, sizeof *sc);
    double *hn = calloc((size_t)n * E, sizeof *hn);
    int rc = -1;
    if (!h || !x || !tmp || !q || !k || !v || !att || !sc || !hn) goto done;
    const double *emb = test_ref_tensor(b, "model.embed_tokens.weight");
    if (!emb) goto done;
    for (uint32_t t = 0; t < n; t++)
        for (uint32_t i = 0; i < E; i++) h[(size_t)t * E + i] = emb[(size_t)tok[t] * E + i] * r->emb_scale;
    for (uint32_t L = 0; L < r->n_layer; L++) {
        char pre[96];
        snprintf(pre, sizeof pre, "model.layers.%u", L);
        const double *ln1 = test_ref_tensor(b, "%s.input_layernorm.weight", pre), *ln2 = test_ref_tensor(b, "%s.post_attention_layernorm.weight", pre);
        const double *Wq = test_ref_tensor(b, "%s.self_attn.q_proj.weight", pre), *Wk = test_ref_tensor(b, "%s.self_attn.k_proj.weight", pre);
        const double *Wv = test_ref_tensor(b, "%s.self_attn.v_proj.weight", pre), *Wo = test_ref_tensor(b, "%s.self_attn.o_proj.weight", pre);
        if (!ln1 || !ln2 || !Wq || !Wk || !Wv || !Wo) goto done;
        for (uint32_t t = 0; t < n; t++) {
            test_ref_rmsnorm(x, h + (size_t)t * E, ln1, E, r->eps);
            test_ref_proj(b, q + (size_t)t * H * hd, Wq, x, H * hd, E);
            test_ref_proj(b, k + (size_t)t * KV * hd, Wk, x, KV * hd, E);
            test_ref_proj(b, v + (size_t)t * KV * hd, Wv, x, KV * hd, E);
            /* apply_rotary_pos_emb: the HF q/k layout is already in halves */
            for (uint32_t hh = 0; hh < H; hh++) test_ref_rope_halves(q + ((size_t)t * H + hh) * hd, hd, r->inv_freq, r->attn_mult, t);
            for (uint32_t hh = 0; hh < KV; hh++) test_ref_rope_halves(k + ((size_t)t * KV + hh) * hd, hd, r->inv_freq, r->attn_mult, t);
        }
        for (uint32_t t = 0; t < n; t++) {
            test_ref_attention(att, q + (size_t)t * H * hd, k, v, t, H, KV, hd, 1.0 / sqrt((double)hd), sc);
            test_ref_proj(b, hn + (size_t)t * E, Wo, att, E, H * hd);
        }
        for (size_t i = 0; i < (size_t)n * E; i++) h[i] += hn[i] * r->res_scale;
        for (uint32_t t = 0; t < n; t++) {
            double *ht = h + (size_t)t * E;
            test_ref_rmsnorm(x, ht, ln2, E, r->eps);
            snprintf(pre, sizeof pre, "model.layers.%u.mlp", L);
            test_ref_mlp(b, tmp, x, E, r->F, pre);
            for (uint32_t i = 0; i < E; i++) ht[i] += tmp[i] * r->res_scale;
        }
    }
    const double *nw = test_ref_tensor(b, "model.norm.weight");
    if (!nw) goto done;
    test_ref_rmsnorm(x, h + (size_t)(n - 1) * E, nw, E, r->eps);
    for (uint32_t i = 0; i < E; i++) x[i] /= r->logit_div;
    test_ref_matvec(logits, emb, x, r->n_vocab, E);   /* tie_word_embeddings: lm_head = embed_tokens */
    rc = 0;
done:
    free(h); free(x); free(tmp); free(q); free(k); free(v); free(att); free(sc); free(hn);
    return rc;
}

static int forward(void *ctx, const uint32_t *tok, uint32_t n, double *logits) { return ref_forward(ctx, tok, n, logits); }

/* `trit VERB 'a' ... 'b'`: convert/export (a -> -o b) or run (a with args b), stderr included. */
static int trit(char **msg, const char *verb, const char *a, const char *b)
{
    if (!strcmp(verb, "run")) return test_runf(msg, "'%s' run '%s' %s 2>&1", test_trit_bin(), a, b);
    return test_runf(msg, "'%s' %s -q --force '%s' -o '%s' 2>&1", test_trit_bin(), verb, a, b);
}

/* trit-gen minicpm4 with ctx / original context into TMP/lr-label, converted to .trit. 0 on success. */
static int build(const char *label, uint32_t ctx, uint32_t orig, gen_opts *o, char *dir, char *out)
{
    gen_opts_default(o, GEN_LAYOUT_MINICPM4);
    o->n_ctx = ctx;
    o->rope_orig = orig;
    o->overwrite = 1;
    snprintf(dir, 4096, "%s/lr-%s", test_tmpdir(), label);
    snprintf(out, 4200, "%s.trit", dir);
    trit_err err;
    CHECK_OK_E(gen_write(o, dir, &err), &err);
    char *msg = NULL;
    int const rc = trit(&msg, "convert", dir, out);
    if (rc != 0) test_fail_(__FILE__, __LINE__, "%s: convert exit %d: %s", label, rc, msg ? msg : "");
    free(msg);
    return rc;
}

/* max |dlogit| between the runner's logits of the last sequence test_ref_agree ran (index 3, 16
 * tokens) and a reference built with (force_set, no_factors): how far a wrong rope lands. */
static double wrong_distance(const gen_opts *o, const char *dir, const char *out, int force_set, int no_factors)
{
    static const uint32_t tok[] = {100, 3, 250, 77, 42, 42, 42, 42, 9, 99, 199, 300, 301, 302, 303, 304};
    char lg[4300];
    snprintf(lg, sizeof lg, "%s.3.logits", out);
    mcref r;
    double d = -1;
    size_t nb = 0;
    uint8_t *b = test_read_file(lg, &nb);
    double *ref = NULL;
    if (ref_open(&r, o, dir, force_set, no_factors) == 0 && b && nb == (size_t)r.n_vocab * 4 &&
        (ref = calloc(r.n_vocab, sizeof *ref)) && (r.base.quant = 1, ref_forward(&r, tok, 16, ref) == 0)) {
        d = 0;
        for (uint32_t i = 0; i < r.n_vocab; i++) {
            float f;
            memcpy(&f, b + 4 * i, 4);
            d = fabs(f - ref[i]) > d ? fabs(f - ref[i]) : d;
        }
    }
    free(ref);
    free(b);
    ref_close(&r);
    return d;
}

static double agree(const char *label, uint32_t ctx, uint32_t orig)
{
    char dir[4096], out[4200];
    gen_opts o;
    if (build(label, ctx, orig, &o, dir, out)) return -1;
    mcref r;
    double worst = -1;
    if (ref_open(&r, &o, dir, -1, 0) == 0) test_ref_agree("minicpm4", label, out, &r.base, r.n_vocab, forward, &r, 1e-5, &worst);
    else test_fail_(__FILE__, __LINE__, "%s: reference setup failed", label);
    ref_close(&r);
    /* negative controls: the other factor set, and no factors, land far outside the tolerance
     * (measured 1e-3 to 4e-3 against agreement below 1e-6) */
    double const other = wrong_distance(&o, dir, out, !(ctx > (orig ? orig : ctx)), 0);
    double const plain = wrong_distance(&o, dir, out, -1, 1);
    printf("    minicpm4 %s: the other factor set moves the logits by %.3g, plain rope by %.3g\n", label, other, plain);
    CHECK(other > 20 * 1e-5);
    CHECK(plain > 20 * 1e-5);
    return worst;
}

TEST(longrope_minicpm4_agrees_with_reference)
{
    if (access(test_trit_bin(), X_OK) != 0) SKIP("trit binary not built");
    /* as MiniCPM4-8B: original = max_position_embeddings, the short set, scaling factor 1 */
    agree("short", 4096, 0);
    /* original 16 below 64 positions: the long set, scaling factor sqrt(1 + ln 4 / ln 16) */
    agree("long", 64, 16);
    /* max_position_embeddings below the original: the short set, a scaling factor below 1
     * (MiniCPMLongRoPE takes the logarithm of the ratio as it is) */
    agree("below", 16, 64);
}

/* The description the converter writes: the attention factor, the original context and the
 * factor tensors (config.json's values as f32). */
TEST(longrope_container_carries_the_factors)
{
    if (access(test_trit_bin(), X_OK) != 0) SKIP("trit binary not built");
    char dir[4096], out[4200];
    gen_opts o;
    if (build("desc", 64, 16, &o, dir, out)) return;
    trit_reader *rd = NULL;
    trit_err err;
    CHECK_OK_E(trit_reader_open(out, NULL, &rd, &err), &err);
    if (!rd) return;
    const trit_kvset *kv = trit_reader_kv(rd);
    double f = 0;
    uint64_t u = 0;
    int64_t i = trit_kvset_find(kv, "model.rope_attn_factor_long");
    CHECK(i >= 0 && trit_kvset_f64(kv, (uint32_t)i, &f) == TRIT_OK && fabs(f - sqrt(1.5)) < 1e-6);
    i = trit_kvset_find(kv, "model.rope_attn_factor_short");
    CHECK(i >= 0 && trit_kvset_f64(kv, (uint32_t)i, &f) == TRIT_OK && fabs(f - sqrt(1.5)) < 1e-6);
    i = trit_kvset_find(kv, "model.rope_orig_ctx");
    CHECK(i >= 0 && trit_kvset_u64(kv, (uint32_t)i, &u) == TRIT_OK && u == 16);
    size_t n;
    uint8_t *b = test_read_file(test_path(dir, "config.json"), &n);
    cJSON *c = b ? cJSON_ParseWithLength((const char *)b, n) : NULL;
    free(b);
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(c, "rope_scaling");
    static const char *const names[2][2] = {{"rope_factors_long.weight", "long_factor"}, {"rope_factors_short.weight", "short_factor"}};
    for (int s = 0; s < 2; s++) {
        int64_t const t = trit_reader_find_tensor(rd, names[s][0]);
        CHECK(t >= 0);
        if (t < 0) continue;
        const trit_tensor_info *ti = trit_reader_tensor(rd, (uint32_t)t);
        CHECK_EQ_U64(ti->type, TRIT_TYPE_F32);
        CHECK_EQ_U64(ti->dims[0], gen_head_dim(&o) / 2);
        const void *data;
        uint64_t size;
        CHECK_OK_E(trit_reader_tensor_data(rd, (uint32_t)t, &data, &size, &err), &err);
        uint32_t k = 0, same = 0;
        for (const cJSON *x = cJSON_GetObjectItemCaseSensitive(rs, names[s][1])->child; x && 4 * (k + 1) <= size; x = x->next, k++) {
            float v;
            memcpy(&v, (const uint8_t *)data + 4 * k, 4);
            same += v == (float)x->valuedouble;
        }
        CHECK_EQ_U64(same, gen_head_dim(&o) / 2);
    }
    cJSON_Delete(c);
    trit_reader_close(rd);
}

/* A math-changing longrope field the converter cannot map is refused naming it (exit 5). */
TEST(longrope_refused_by_name)
{
    if (access(test_trit_bin(), X_OK) != 0) SKIP("trit binary not built");
    static const struct { const char *key, *val, *named; } cases[] = {
        {"rope_scaling.long_factor", "[1.0, 2.0]", "rope_scaling.long_factor"},   /* != head_dim / 2 */
        {"rope_scaling.short_factor", "[1.0, -2.0]", "rope_scaling.short_factor"},
        {"rope_scaling.rope_type", "\"longrope2\"", "rope_scaling"},              /* unknown type */
        {"rope_scaling.type", "\"yarn\"", "rope_scaling.type"},                   /* disagrees with rope_type */
        {"rope_scaling.original_max_position_embeddings", "1", "rope_scaling.original_max_position_embeddings"},
        {"rope_scaling.factor", "2.0", "rope_scaling.factor"},                    /* not read by MiniCPMLongRoPE */
        {"rope_scaling.short_mscale", "1.2", "rope_scaling.short_mscale"},        /* Phi's, not MiniCPM's */
        {"rope_scaling.long_factor", NULL, "long_factor"},
        {"max_position_embeddings", NULL, "max_position_embeddings"},
        {"model_type", "\"qwen3\"", "minicpm"},                                    /* longrope of another family */
    };
    gen_opts o;
    gen_opts_default(&o, GEN_LAYOUT_MINICPM4);
    o.overwrite = 1;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char dir[4096], out[4200];
        snprintf(dir, sizeof dir, "%s/lrrefuse-%zu", test_tmpdir(), i);
        snprintf(out, sizeof out, "%s.trit", dir);
        trit_err err;
        CHECK_OK_E(gen_write(&o, dir, &err), &err);
        CHECK(test_config_set(dir, cases[i].key, cases[i].val) == 0);
        if (!strcmp(cases[i].key, "model_type")) {   /* a qwen3 config otherwise complete */
            CHECK(test_config_set(dir, "scale_emb", NULL) == 0);
            CHECK(test_config_set(dir, "scale_depth", NULL) == 0);
            CHECK(test_config_set(dir, "dim_model_base", NULL) == 0);
        }
        char *msg = NULL;
        int const rc = trit(&msg, "convert", dir, out);
        if (rc != 5 || !msg || !strstr(msg, cases[i].named))
            test_fail_(__FILE__, __LINE__, "%s = %s: convert exit %d, expected 5 naming '%s': %s", cases[i].key,
                       cases[i].val ? cases[i].val : "(deleted)", rc, cases[i].named, msg ? msg : "");
        CHECK(access(out, F_OK) != 0);
        free(msg);
    }
}

/* Where the release's code and llama.cpp select different sets, the runner refuses. */
TEST(longrope_runner_refuses_a_context_the_references_part_on)
{
    if (access(test_trit_bin(), X_OK) != 0) SKIP("trit binary not built");
    char dir[4096], out[4200];
    gen_opts o;
    if (build("ctx", 32, 0, &o, dir, out)) return;   /* n_ctx = original = 32: the short set */
    char *msg = NULL;
    int rc = trit(&msg, "run", out, "--tokens 1,2,3 -n 0 --ctx 64");
    if (rc != 5 || !msg || !strstr(msg, "longrope"))
        test_fail_(__FILE__, __LINE__, "run --ctx 64: exit %d, expected 5 naming longrope: %s", rc, msg ? msg : "");
    free(msg);
    msg = NULL;
    rc = trit(&msg, "run", out, "--tokens 1,2,3 -n 0 --ctx 32");   /* within the original context */
    if (rc != 0) test_fail_(__FILE__, __LINE__, "run --ctx 32: exit %d: %s", rc, msg ? msg : "");
    free(msg);
}

/* Overwrite every occurrence of key in the file with a general.* key of the same length (a key
 * llama.cpp's converter does not write for minicpm, removed without moving a byte). */
static int drop_gguf_key(const char *path, const char *key)
{
    size_t n = 0;
    uint8_t *b = test_read_file(path, &n);
    size_t const kl = strlen(key);
    int hits = 0;
    for (size_t i = 0; b && i + kl <= n; i++)
        if (!memcmp(b + i, key, kl)) {
            memcpy(b + i, "general.", 8);
            memset(b + i + 8, 'x', kl - 8);
            hits++;
        }
    int const rc = b && hits == 1 ? test_write_file(path, b, n) : -1;
    free(b);
    return rc;
}

/* trit export writes the longrope keys and factors back; the GGUF converts to the same model. As
 * llama.cpp's converter writes a minicpm GGUF (no original_context_length, no attn_factor), it
 * is llama.cpp's model: original = context_length, factor 1, i.e. the short set, which the
 * reference computes from a config.json stating original = max_position_embeddings. */
TEST(longrope_gguf_export_and_import)
{
    if (access(test_trit_bin(), X_OK) != 0) SKIP("trit binary not built");
    char dir[4096], out[4200], gg[4300], twin[4300];
    gen_opts o;
    if (build("gguf", 64, 16, &o, dir, out)) return;
    snprintf(gg, sizeof gg, "%s.gguf", dir);
    snprintf(twin, sizeof twin, "%s.twin.trit", dir);
    char *msg = NULL;
    int rc = trit(&msg, "export", out, gg);
    if (rc != 0) test_fail_(__FILE__, __LINE__, "export exit %d: %s", rc, msg ? msg : "");
    free(msg);
    msg = NULL;
    rc = trit(&msg, "convert", gg, twin);
    if (rc != 0) test_fail_(__FILE__, __LINE__, "convert of the export exit %d: %s", rc, msg ? msg : "");
    free(msg);
    msg = NULL;
    /* the twin and the container hold the same tensors and description */
    rc = test_runf(&msg, "'%s' diff '%s' '%s' 2>&1", test_trit_bin(), out, twin);
    if (!msg || !strstr(msg, "22 same") || strstr(msg, "rope")) test_fail_(__FILE__, __LINE__, "diff: %s", msg ? msg : "");
    free(msg);
    mcref r;
    if (ref_open(&r, &o, dir, -1, 0) == 0) test_ref_agree("minicpm4", "gguf-twin", twin, &r.base, r.n_vocab, forward, &r, 1e-5, NULL);
    ref_close(&r);

    CHECK_EQ_INT(drop_gguf_key(gg, "minicpm.rope.scaling.original_context_length"), 0);
    CHECK_EQ_INT(drop_gguf_key(gg, "minicpm.rope.scaling.attn_factor"), 0);
    msg = NULL;
    rc = trit(&msg, "convert", gg, twin);
    if (rc != 0) test_fail_(__FILE__, __LINE__, "convert of the llama.cpp-style GGUF exit %d: %s", rc, msg ? msg : "");
    free(msg);
    CHECK(test_config_set(dir, "rope_scaling.original_max_position_embeddings", "64") == 0);
    if (ref_open(&r, &o, dir, -1, 0) == 0) test_ref_agree("minicpm4", "gguf-llama-style", twin, &r.base, r.n_vocab, forward, &r, 1e-5, NULL);
    ref_close(&r);
}
