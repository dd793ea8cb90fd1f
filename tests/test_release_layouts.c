/* test_release_layouts.c - every trit-gen release layout (issue 12, item 5), written tiny and put
 * through the CLI as a user would: `trit convert`, then `trit run` (finite logits) and
 * `trit verify` for the families trit computes; for the ones it does not, convert must refuse
 * with exit 5 (unsupported) and a message naming the model_type or the key. Lossless layouts
 * are also checked value by value against the generator's own truth (gen_value), which pins the
 * BitNet scale direction per linear_class (autobitlinear multiplies, bitlinear divides).
 *
 * The structural test checks what each layout copies from its release (names, shapes, dtypes,
 * config keys, tied or not); the sources are cited at each layout in tests/gen. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>

#include "gen/gen.h"
#include "insp.h"
#include "test.h"
#include "trit_model.h"

enum { REFUSED = 0, SUPPORTED = 1, EITHER = 2 };

typedef struct family {
    gen_layout layout;
    int supported;          /* SUPPORTED: convert, run and verify succeed; REFUSED: convert exits 5
                               naming the model_type or key; EITHER: support being added: a refusal
                               by name, or convert + run + verify */
    int lossless;           /* ternary (or float) source kept exactly: values = generator values */
    const char *why[2];     /* refusal: one of these must appear in the message */
} family;

static const family families[] = {
    {GEN_LAYOUT_BITNET, SUPPORTED, 1, {NULL, NULL}},
    {GEN_LAYOUT_BITNET_BITLINEAR, SUPPORTED, 1, {NULL, NULL}},
    {GEN_LAYOUT_BITNET_BF16, SUPPORTED, 0, {NULL, NULL}},   /* absmean-ternarized: lossy by design */
    {GEN_LAYOUT_LATENT, SUPPORTED, 0, {NULL, NULL}},
    {GEN_LAYOUT_LLAMA158, SUPPORTED, 1, {NULL, NULL}},
    {GEN_LAYOUT_BITCPM, SUPPORTED, 1, {NULL, NULL}},
    {GEN_LAYOUT_MIXTRAL, SUPPORTED, 1, {NULL, NULL}},
    {GEN_LAYOUT_QWEN3MOE, SUPPORTED, 1, {NULL, NULL}},
    {GEN_LAYOUT_QWEN2MOE, SUPPORTED, 1, {NULL, NULL}},
    {GEN_LAYOUT_OLMOE, SUPPORTED, 1, {NULL, NULL}},
    {GEN_LAYOUT_MINICPM4, SUPPORTED, 1, {NULL, NULL}},   /* longrope: test_longrope.c checks the math */
    {GEN_LAYOUT_DEEPSEEK2, SUPPORTED, 1, {NULL, NULL}},   /* MLA + yarn: test_deepseek_ref.c checks the math */
    /* fused experts are split at conversion: no per-tensor value map here; its values are
     * checked against llama.cpp by the conformance suite (agree.sh: moe-granite and its GGUF twin) */
    {GEN_LAYOUT_GRANITEMOE, SUPPORTED, 0, {NULL, NULL}},
    /* LayerNorm, biases, sparsemixer and longrope with short/long mscale: test_phimoe_ref.c
     * checks the math against modeling_phimoe.py */
    {GEN_LAYOUT_PHIMOE, SUPPORTED, 1, {NULL, NULL}},
};
#define N_FAMILIES (sizeof families / sizeof families[0])

/* Qwen3-30B-A3B's geometry: head_dim 128 with hidden 2048 and 32 heads, twice hidden / heads
 * (q_proj 4096 x 2048). trit-gen's default keeps hidden / heads (the conformance suite's
 * geometry), so the release tests ask for the release's ratio. */
static void release_opts(gen_layout l, gen_opts *o)
{
    gen_opts_default(o, l);
    if (l == GEN_LAYOUT_QWEN3MOE) o->head_dim = 2 * (o->n_embd / o->n_head);
}

static int gen_tiny(gen_layout l, const char *dir, gen_opts *o)
{
    release_opts(l, o);
    o->overwrite = 1;
    trit_err err;
    int const rc = gen_write(o, dir, &err);
    if (rc) {
        char b[512];
        test_fail_(__FILE__, __LINE__, "trit-gen %s: %s", gen_layout_name(l), trit_err_format(&err, b, sizeof b));
    }
    return rc;
}

static int trit_cli(const char *args, char **out)
{
    char cmd[8192];
    int const n = snprintf(cmd, sizeof cmd, "'%s' %s 2>&1", test_trit_bin(), args);
    if (n < 0 || (size_t)n >= sizeof cmd) return -1;
    return test_run(cmd, out);
}

/* The container's tensors against the generator's values, through the one name table. */
static void check_values(const gen_opts *o, const char *trit_path, const char *what)
{
    gen_plan p;
    trit_err err;
    insp_model m;
    memset(&m, 0, sizeof m);
    CHECK_OK_E(gen_plan_build(o, &p, &err), &err);
    CHECK_OK_E(insp_open_trit(trit_path, &m, &err), &err);
    uint64_t checked = 0, bad = 0;
    for (uint32_t i = 0; i < p.n && m.n_tensors; i++) {
        const gen_tensor *t = &p.t[i];
        if (t->kind == GEN_K_INVSCALE) continue;   /* folded into its packed weight */
        char canon[160];
        if (!trit_mt_map(t->name, TRIT_MT_HF, canon, sizeof canon, NULL)) {
            test_fail_(__FILE__, __LINE__, "%s: %s has no canonical name", what, t->name);
            continue;
        }
        uint64_t k = 0;
        while (k < m.n_tensors && strcmp(m.tensors[k].name, canon)) k++;
        if (k == m.n_tensors) {
            test_fail_(__FILE__, __LINE__, "%s: %s (%s) is not in the container", what, canon, t->name);
            continue;
        }
        uint64_t const n = gen_logical_nelems(t);
        float *v = malloc(n * sizeof *v);
        CHECK(v != NULL);
        if (!v) continue;
        CHECK_OK_E(m.read_f32(m.ctx, k, 0, n, v, &err), &err);
        for (uint64_t e = 0; e < n; e++) {
            float const want = gen_value(t, e);
            if (v[e] != want && bad++ < 3)
                test_fail_(__FILE__, __LINE__, "%s: %s[%llu] = %g, the release's value is %g", what, canon,
                           (unsigned long long)e, (double)v[e], (double)want);
        }
        checked += n;
        free(v);
    }
    CHECK(checked > 0);
    CHECK_EQ_U64(bad, 0);
    insp_model_free(&m);
    gen_plan_release(&p);
}

/* `trit run` wrote n_vocab finite, not all equal, logits. */
static void check_logits(const char *path, uint32_t n_vocab, const char *what)
{
    size_t n = 0;
    uint8_t *b = test_read_file(path, &n);
    CHECK(b != NULL);
    if (!b) return;
    CHECK_EQ_U64(n, (uint64_t)n_vocab * 4);
    int finite = 1, varied = 0;
    float first = 0;
    for (size_t i = 0; i + 4 <= n; i += 4) {
        float v;
        memcpy(&v, b + i, 4);
        finite &= isfinite(v) != 0;
        if (i == 0) first = v;
        else varied |= v != first;
    }
    if (!finite || !varied) test_fail_(__FILE__, __LINE__, "%s: logits finite %d, varied %d", what, finite, varied);
    free(b);
}

TEST(release_layouts_convert_run_verify_or_refuse)
{
    if (access(test_trit_bin(), X_OK) != 0) SKIP("trit binary not built");
    for (size_t f = 0; f < N_FAMILIES; f++) {
        const family *fm = &families[f];
        const char *name = gen_layout_name(fm->layout);
        char src[4096], out[4200], lg[4200], args[12800];
        gen_opts o;
        snprintf(src, sizeof src, "%s/rel-%s", test_tmpdir(), name);
        snprintf(out, sizeof out, "%s.trit", src);
        snprintf(lg, sizeof lg, "%s.logits", src);
        if (gen_tiny(fm->layout, src, &o)) continue;
        char *msg = NULL;
        snprintf(args, sizeof args, "convert -q -f '%s' -o '%s'", src, out);
        int const rc = trit_cli(args, &msg);
        if (fm->supported == REFUSED || (fm->supported == EITHER && rc != 0)) {
            if (rc != 5) test_fail_(__FILE__, __LINE__, "%s: convert exit %d, expected 5 (unsupported): %s", name, rc, msg ? msg : "");
            int named = 0;
            for (int k = 0; k < 2; k++) named |= fm->why[k] && msg && strstr(msg, fm->why[k]);
            if (!named) test_fail_(__FILE__, __LINE__, "%s: the refusal does not name the model_type or key: %s", name, msg ? msg : "");
            CHECK(access(out, F_OK) != 0);   /* nothing written */
            free(msg);
            continue;
        }
        if (rc != 0) {
            test_fail_(__FILE__, __LINE__, "%s: convert exit %d: %s", name, rc, msg ? msg : "");
            free(msg);
            continue;
        }
        free(msg);
        msg = NULL;
        snprintf(args, sizeof args, "run '%s' --tokens 1,2,3 -n 1 --logits '%s'", out, lg);
        int const rr = trit_cli(args, &msg);
        if (rr != 0) test_fail_(__FILE__, __LINE__, "%s: run exit %d: %s", name, rr, msg ? msg : "");
        else check_logits(lg, o.n_vocab, name);
        free(msg);
        msg = NULL;
        snprintf(args, sizeof args, "verify '%s'", out);
        int const vr = trit_cli(args, &msg);
        if (vr != 0) test_fail_(__FILE__, __LINE__, "%s: verify exit %d: %s", name, vr, msg ? msg : "");
        free(msg);
        if (fm->lossless) check_values(&o, out, name);
    }
}

/* ---- what each layout copies from its release -------------------------------------------- */

static cJSON *config_of(const char *dir)
{
    size_t n;
    uint8_t *b = test_read_file(test_path(dir, "config.json"), &n);
    cJSON *c = b ? cJSON_ParseWithLength((const char *)b, n) : NULL;
    free(b);
    return c;
}

static const char *cstr(const cJSON *c, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, k);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static double cnum(const cJSON *c, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, k);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* The tensor exists with this dtype and shape (d1 = 0 for 1-D, d2 = 0 for 2-D). */
static void has(const gen_plan *p, const char *name, uint32_t dtype, uint64_t d0, uint64_t d1, uint64_t d2)
{
    const gen_tensor *t = gen_plan_find(p, name);
    if (!t) {
        test_fail_(__FILE__, __LINE__, "no tensor %s", name);
        return;
    }
    uint32_t const nd = d2 ? 3 : d1 ? 2 : 1;
    if (t->dtype != dtype || t->n_dims != nd || t->shape[0] != d0 || (nd > 1 && t->shape[1] != d1) ||
        (nd > 2 && t->shape[2] != d2))
        test_fail_(__FILE__, __LINE__, "%s: dtype %u [%llu, %llu, %llu], expected %u [%llu, %llu, %llu]", name,
                   t->dtype, (unsigned long long)t->shape[0], (unsigned long long)t->shape[1],
                   (unsigned long long)t->shape[2], dtype, (unsigned long long)d0, (unsigned long long)d1,
                   (unsigned long long)d2);
}

static void plan_of(gen_layout l, gen_opts *o, gen_plan *p)
{
    trit_err err;
    release_opts(l, o);
    CHECK_OK_E(gen_plan_build(o, p, &err), &err);
}

TEST(release_layouts_copy_the_releases)
{
    gen_opts o;
    gen_plan p;
    char dir[4096];

    /* 2B-4T: autobitlinear, offline, weight = ternary x weight_scale; tied; SubLN */
    plan_of(GEN_LAYOUT_BITNET, &o, &p);
    has(&p, "model.layers.0.self_attn.q_proj.weight", GEN_DT_U8, o.n_embd / 4, o.n_embd, 0);
    has(&p, "model.layers.0.self_attn.q_proj.weight_scale", GEN_DT_BF16, 1, 0, 0);
    has(&p, "model.layers.0.mlp.ffn_sub_norm.weight", GEN_DT_BF16, o.n_ff, 0, 0);
    CHECK(gen_plan_find(&p, "lm_head.weight") == NULL);
    const gen_tensor *w = gen_plan_find(&p, "model.layers.0.mlp.up_proj.weight");
    CHECK(w && !w->divide);
    for (uint64_t i = 0; w && i < 64; i++) CHECK(gen_value(w, i) == (float)gen_ternary(w, i) * gen_scale(w, i));
    gen_plan_release(&p);
    snprintf(dir, sizeof dir, "%s/relc-bitnet", test_tmpdir());
    if (!gen_tiny(GEN_LAYOUT_BITNET, dir, &o)) {
        cJSON *c = config_of(dir), *q = cJSON_GetObjectItemCaseSensitive(c, "quantization_config");
        CHECK_STR(cstr(q, "linear_class"), "autobitlinear");
        CHECK_STR(cstr(q, "quantization_mode"), "offline");
        CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "tie_word_embeddings")));
        cJSON_Delete(c);
    }
    /* the bitlinear direction and the -bf16 master weights */
    plan_of(GEN_LAYOUT_BITNET_BITLINEAR, &o, &p);
    w = gen_plan_find(&p, "model.layers.0.mlp.up_proj.weight");
    CHECK(w && w->divide);
    for (uint64_t i = 0; w && i < 64; i++) CHECK(gen_value(w, i) == (float)gen_ternary(w, i) / gen_scale(w, i));
    gen_plan_release(&p);
    plan_of(GEN_LAYOUT_BITNET_BF16, &o, &p);
    has(&p, "model.layers.1.self_attn.k_proj.weight", GEN_DT_BF16, (uint64_t)gen_head_dim(&o) * o.n_head_kv, o.n_embd, 0);
    CHECK(gen_plan_find(&p, "model.layers.1.self_attn.k_proj.weight_scale") == NULL);
    gen_plan_release(&p);
    snprintf(dir, sizeof dir, "%s/relc-bitnet-bf16", test_tmpdir());
    if (!gen_tiny(GEN_LAYOUT_BITNET_BF16, dir, &o)) {
        cJSON *c = config_of(dir), *q = cJSON_GetObjectItemCaseSensitive(c, "quantization_config");
        CHECK_STR(cstr(q, "quantization_mode"), "online");
        cJSON_Delete(c);
    }

    /* 1bitLLM: F32 on disk, tied (no lm_head.weight), weight_bits 1, 1bitLLM sub-norm names */
    plan_of(GEN_LAYOUT_LATENT, &o, &p);
    has(&p, "model.embed_tokens.weight", GEN_DT_F32, o.n_vocab, o.n_embd, 0);
    has(&p, "model.layers.0.mlp.down_proj.weight", GEN_DT_F32, o.n_embd, o.n_ff, 0);
    has(&p, "model.layers.0.self_attn.inner_attn_ln.weight", GEN_DT_F32, o.n_embd, 0, 0);
    CHECK(gen_plan_find(&p, "lm_head.weight") == NULL);
    gen_plan_release(&p);
    snprintf(dir, sizeof dir, "%s/relc-latent", test_tmpdir());
    if (!gen_tiny(GEN_LAYOUT_LATENT, dir, &o)) {
        cJSON *c = config_of(dir);
        CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "tie_word_embeddings")));
        CHECK(cnum(c, "weight_bits") == 1 && cnum(c, "input_bits") == 8);
        CHECK_STR(cstr(c, "model_type"), "llama");
        /* save_pretrained output: keys sorted */
        const cJSON *it = c ? c->child : NULL;
        for (; it && it->next; it = it->next) CHECK(strcmp(it->string, it->next->string) < 0);
        cJSON_Delete(c);
    }

    /* Llama-based 1.58-bit: packed, divide, no sub-norms, untied BF16 lm_head */
    plan_of(GEN_LAYOUT_LLAMA158, &o, &p);
    has(&p, "model.layers.0.mlp.down_proj.weight", GEN_DT_U8, o.n_embd / 4, o.n_ff, 0);
    has(&p, "lm_head.weight", GEN_DT_BF16, o.n_vocab, o.n_embd, 0);
    CHECK(gen_plan_find(&p, "model.layers.0.self_attn.attn_sub_norm.weight") == NULL);
    CHECK(gen_plan_find(&p, "model.layers.0.mlp.ffn_sub_norm.weight") == NULL);
    w = gen_plan_find(&p, "model.layers.0.mlp.down_proj.weight");
    CHECK(w && w->divide);
    gen_plan_release(&p);
    snprintf(dir, sizeof dir, "%s/relc-llama158", test_tmpdir());
    if (!gen_tiny(GEN_LAYOUT_LLAMA158, dir, &o)) {
        cJSON *c = config_of(dir), *q = cJSON_GetObjectItemCaseSensitive(c, "quantization_config");
        CHECK_STR(cstr(c, "model_type"), "llama");
        CHECK_STR(cstr(q, "quant_method"), "bitnet");
        CHECK(cJSON_GetObjectItemCaseSensitive(q, "linear_class") == NULL);
        cJSON_Delete(c);
    }

    /* Qwen3-30B-A3B: head_dim != hidden / heads, q_proj [heads * head_dim, hidden] */
    plan_of(GEN_LAYOUT_QWEN3MOE, &o, &p);
    uint64_t const hd = gen_head_dim(&o);
    CHECK(hd != o.n_embd / o.n_head);
    has(&p, "model.layers.0.self_attn.q_proj.weight", GEN_DT_BF16, hd * o.n_head, o.n_embd, 0);
    has(&p, "model.layers.0.self_attn.o_proj.weight", GEN_DT_BF16, o.n_embd, hd * o.n_head, 0);
    has(&p, "model.layers.0.self_attn.q_norm.weight", GEN_DT_BF16, hd, 0, 0);
    gen_plan_release(&p);
    snprintf(dir, sizeof dir, "%s/relc-qwen3moe", test_tmpdir());
    if (!gen_tiny(GEN_LAYOUT_QWEN3MOE, dir, &o)) {
        cJSON *c = config_of(dir);
        CHECK(cnum(c, "head_dim") == (double)hd);
        CHECK(cnum(c, "hidden_size") / cnum(c, "num_attention_heads") != (double)hd);
        cJSON_Delete(c);
    }

    /* Qwen1.5-MoE: q/k/v bias, no o bias, shared expert and its [1, H] gate, untied */
    plan_of(GEN_LAYOUT_QWEN2MOE, &o, &p);
    has(&p, "model.layers.1.self_attn.q_proj.bias", GEN_DT_BF16, o.n_embd, 0, 0);
    CHECK(gen_plan_find(&p, "model.layers.1.self_attn.o_proj.bias") == NULL);
    has(&p, "model.layers.1.mlp.shared_expert.down_proj.weight", GEN_DT_BF16, o.n_embd, 4 * o.n_ff, 0);
    has(&p, "model.layers.1.mlp.shared_expert_gate.weight", GEN_DT_BF16, 1, o.n_embd, 0);
    CHECK(gen_plan_find(&p, "lm_head.weight") != NULL);
    gen_plan_release(&p);
    snprintf(dir, sizeof dir, "%s/relc-qwen2moe", test_tmpdir());
    if (!gen_tiny(GEN_LAYOUT_QWEN2MOE, dir, &o)) {
        cJSON *c = config_of(dir);
        CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(c, "norm_topk_prob")));
        CHECK(cnum(c, "shared_expert_intermediate_size") == 4.0 * o.n_ff);
        cJSON_Delete(c);
    }

    /* OLMoE: full-width q/k norms, no rms_norm_eps key, clip_qkv null */
    plan_of(GEN_LAYOUT_OLMOE, &o, &p);
    has(&p, "model.layers.0.self_attn.q_norm.weight", GEN_DT_BF16, o.n_embd, 0, 0);
    has(&p, "model.layers.0.self_attn.k_norm.weight", GEN_DT_BF16, (uint64_t)gen_head_dim(&o) * o.n_head_kv, 0, 0);
    has(&p, "model.layers.0.mlp.experts.3.up_proj.weight", GEN_DT_BF16, o.n_ff, o.n_embd, 0);
    gen_plan_release(&p);
    snprintf(dir, sizeof dir, "%s/relc-olmoe", test_tmpdir());
    if (!gen_tiny(GEN_LAYOUT_OLMOE, dir, &o)) {
        cJSON *c = config_of(dir);
        CHECK(cJSON_GetObjectItemCaseSensitive(c, "rms_norm_eps") == NULL);
        CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(c, "clip_qkv")));
        cJSON_Delete(c);
    }

    /* DeepSeek-V2-Lite: MLA without q LoRA, a dense first layer, shared experts */
    plan_of(GEN_LAYOUT_DEEPSEEK2, &o, &p);
    uint64_t const dh = gen_head_dim(&o);
    has(&p, "model.layers.0.self_attn.q_proj.weight", GEN_DT_BF16, o.n_head * (dh + dh / 2), o.n_embd, 0);
    has(&p, "model.layers.0.self_attn.kv_a_proj_with_mqa.weight", GEN_DT_BF16, 2 * dh + dh / 2, o.n_embd, 0);
    has(&p, "model.layers.0.self_attn.kv_a_layernorm.weight", GEN_DT_BF16, 2 * dh, 0, 0);
    has(&p, "model.layers.0.self_attn.kv_b_proj.weight", GEN_DT_BF16, o.n_head * 2 * dh, 2 * dh, 0);
    has(&p, "model.layers.0.mlp.up_proj.weight", GEN_DT_BF16, 4 * o.n_ff, o.n_embd, 0);
    CHECK(gen_plan_find(&p, "model.layers.0.mlp.gate.weight") == NULL);
    has(&p, "model.layers.1.mlp.gate.weight", GEN_DT_BF16, o.n_expert, o.n_embd, 0);
    has(&p, "model.layers.1.mlp.shared_experts.gate_proj.weight", GEN_DT_BF16, 2 * o.n_ff, o.n_embd, 0);
    gen_plan_release(&p);
    snprintf(dir, sizeof dir, "%s/relc-deepseek2", test_tmpdir());
    if (!gen_tiny(GEN_LAYOUT_DEEPSEEK2, dir, &o)) {
        cJSON *c = config_of(dir);
        CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(c, "q_lora_rank")));
        CHECK(cnum(c, "first_k_dense_replace") == 1 && cnum(c, "n_shared_experts") == 2);
        CHECK_STR(cstr(cJSON_GetObjectItemCaseSensitive(c, "rope_scaling"), "type"), "yarn");
        cJSON_Delete(c);
    }

    /* granite MoE: fused experts, router.layer, F32, tied, the four multipliers */
    plan_of(GEN_LAYOUT_GRANITEMOE, &o, &p);
    has(&p, "model.layers.0.block_sparse_moe.input_linear.weight", GEN_DT_F32, o.n_expert, 2 * o.n_ff, o.n_embd);
    has(&p, "model.layers.0.block_sparse_moe.output_linear.weight", GEN_DT_F32, o.n_expert, o.n_embd, o.n_ff);
    has(&p, "model.layers.0.block_sparse_moe.router.layer.weight", GEN_DT_F32, o.n_expert, o.n_embd, 0);
    CHECK(gen_plan_find(&p, "lm_head.weight") == NULL);
    gen_plan_release(&p);
    snprintf(dir, sizeof dir, "%s/relc-granitemoe", test_tmpdir());
    if (!gen_tiny(GEN_LAYOUT_GRANITEMOE, dir, &o)) {
        cJSON *c = config_of(dir);
        static const char *const mult[] = {"embedding_multiplier", "attention_multiplier", "residual_multiplier",
                                           "logits_scaling"};
        for (int k = 0; k < 4; k++) CHECK(cnum(c, mult[k]) > 0);
        cJSON_Delete(c);
    }

    /* Phi-3.5-MoE: LayerNorm with bias, q/k/v/o bias, lm_head bias, w1/w2/w3 experts */
    plan_of(GEN_LAYOUT_PHIMOE, &o, &p);
    has(&p, "model.layers.0.input_layernorm.bias", GEN_DT_BF16, o.n_embd, 0, 0);
    has(&p, "model.norm.bias", GEN_DT_BF16, o.n_embd, 0, 0);
    has(&p, "model.layers.0.self_attn.o_proj.bias", GEN_DT_BF16, o.n_embd, 0, 0);
    has(&p, "lm_head.bias", GEN_DT_BF16, o.n_vocab, 0, 0);
    has(&p, "model.layers.0.block_sparse_moe.experts.1.w2.weight", GEN_DT_BF16, o.n_embd, o.n_ff, 0);
    has(&p, "model.layers.0.block_sparse_moe.gate.weight", GEN_DT_BF16, o.n_expert, o.n_embd, 0);
    gen_plan_release(&p);
    snprintf(dir, sizeof dir, "%s/relc-phimoe", test_tmpdir());
    if (!gen_tiny(GEN_LAYOUT_PHIMOE, dir, &o)) {
        /* the release's config.json: sparsemixer's threshold, both bias flags, untied, top-2,
         * longrope with short/long mscale and one factor per rotary frequency */
        cJSON *c = config_of(dir), *r = cJSON_GetObjectItemCaseSensitive(c, "rope_scaling");
        CHECK_STR(cstr(c, "model_type"), "phimoe");
        CHECK(cnum(c, "router_jitter_noise") == 0.01 && cnum(c, "num_experts_per_tok") == 2);
        CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "attention_bias")));
        CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "lm_head_bias")));
        CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(c, "tie_word_embeddings")));
        CHECK(cJSON_GetObjectItemCaseSensitive(c, "head_dim") == NULL);
        CHECK_STR(cstr(r, "type"), "longrope");
        CHECK(cnum(r, "short_mscale") > 1 && cnum(r, "long_mscale") > 1);
        CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r, "short_factor")), (int)gen_head_dim(&o) / 2);
        cJSON_Delete(c);
    }

    /* MiniCPM4: longrope with one factor per rotary frequency */
    snprintf(dir, sizeof dir, "%s/relc-minicpm4", test_tmpdir());
    if (!gen_tiny(GEN_LAYOUT_MINICPM4, dir, &o)) {
        cJSON *c = config_of(dir), *r = cJSON_GetObjectItemCaseSensitive(c, "rope_scaling");
        CHECK_STR(cstr(r, "rope_type"), "longrope");
        CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r, "long_factor")), (int)gen_head_dim(&o) / 2);
        CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r, "short_factor")), (int)gen_head_dim(&o) / 2);
        /* MiniCPM4-8B: original_max_position_embeddings = max_position_embeddings (32768) */
        const cJSON *om = cJSON_GetObjectItemCaseSensitive(r, "original_max_position_embeddings");
        const cJSON *mp = cJSON_GetObjectItemCaseSensitive(c, "max_position_embeddings");
        CHECK(cJSON_IsNumber(om) && cJSON_IsNumber(mp) && om->valuedouble == mp->valuedouble);
        cJSON_Delete(c);
    }
}

/* OLMoE's config has no rms_norm_eps: the container carries the class default 1e-5. */
TEST(release_layouts_olmoe_eps_default)
{
    if (access(test_trit_bin(), X_OK) != 0) SKIP("trit binary not built");
    char src[4096], out[4200], args[8600];
    gen_opts o;
    snprintf(src, sizeof src, "%s/rel-olmoe-eps", test_tmpdir());
    snprintf(out, sizeof out, "%s.trit", src);
    if (gen_tiny(GEN_LAYOUT_OLMOE, src, &o)) return;
    snprintf(args, sizeof args, "convert -q -f '%s' -o '%s'", src, out);
    CHECK_EQ_INT(trit_cli(args, NULL), 0);
    trit_reader *r = NULL;
    trit_err err;
    CHECK_OK_E(trit_reader_open(out, NULL, &r, &err), &err);
    if (!r) return;
    int64_t const k = trit_reader_find_kv(r, "model.norm_eps");
    double eps = 0;
    CHECK(k >= 0 && trit_reader_kv_f64(r, (uint32_t)k, &eps) == TRIT_OK);
    CHECK(fabs(eps - 1e-5) < 1e-9);
    trit_reader_close(r);
}
