/*
 * exg_meta.c - the GGUF KVs of an export (spec/export.md "Metadata"): general.*, the
 * {arch}.* hyperparameters from the container's model.* / moe.* keys (spec/container.md 10.1),
 * and the tokenizer KVs of the container's section of kind 3, with the GGUF types llama.cpp's
 * typed getters insist on (it refuses a u64 where it wants a u32).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exg_int.h"
#include "trit_try.h"

/* ---- container KV lookups ------------------------------------------------------------------ */

static int lookup(const trit_reader *r, const char *key, uint32_t *idx)
{
    int64_t const i = trit_reader_find_kv(r, key);
    if (i < 0) return TRIT_E_NOTFOUND;
    *idx = (uint32_t)i;
    return TRIT_OK;
}

static int bad(trit_err *err, const char *key, const char *want)
{
    return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, NULL, "metadata '%s' is not %s", key, want);
}

int exg__kv_u32(const trit_reader *r, const char *key, uint32_t *out, trit_err *err)
{
    uint32_t i;
    uint64_t v;
    if (lookup(r, key, &i)) return TRIT_E_NOTFOUND;
    if (trit_reader_kv_u64(r, i, &v) != TRIT_OK || v > UINT32_MAX) return bad(err, key, "an unsigned 32-bit integer");
    *out = (uint32_t)v;
    return TRIT_OK;
}

int exg__kv_f32(const trit_reader *r, const char *key, float *out, trit_err *err)
{
    uint32_t i;
    double v;
    if (lookup(r, key, &i)) return TRIT_E_NOTFOUND;
    if (trit_reader_kv_f64(r, i, &v) != TRIT_OK) return bad(err, key, "a number");
    *out = (float)v;
    return TRIT_OK;
}

int exg__kv_bool(const trit_reader *r, const char *key, int *out, trit_err *err)
{
    uint32_t i;
    uint64_t v;
    if (lookup(r, key, &i)) return TRIT_E_NOTFOUND;
    if (trit_reader_kv_u64(r, i, &v) != TRIT_OK || v > 1) return bad(err, key, "a bool");
    *out = (int)v;
    return TRIT_OK;
}

int exg__kv_str(const trit_reader *r, const char *key, char *buf, size_t n, trit_err *err)
{
    uint32_t i;
    const char *s;
    uint64_t len;
    if (lookup(r, key, &i)) return TRIT_E_NOTFOUND;
    if (trit_reader_kv_str(r, i, &s, &len) != TRIT_OK || len >= n || memchr(s, 0, (size_t)len))
        return bad(err, key, "a short string");
    memcpy(buf, s, (size_t)len);
    buf[len] = '\0';
    return TRIT_OK;
}

/* ---- GGUF KV emitters ---------------------------------------------------------------------- */

typedef struct kvw {
    exg__buf *b;
    uint64_t n;
} kvw;

static void k_head(kvw *w, const char *key, uint32_t type)
{
    exg__put_str(w->b, key, strlen(key));
    exg__put_u32(w->b, type);
    w->n++;
}
static void k_u32(kvw *w, const char *key, uint32_t v) { k_head(w, key, EXG_U32); exg__put_u32(w->b, v); }
static void k_f32(kvw *w, const char *key, float v)
{
    uint32_t bits;
    memcpy(&bits, &v, 4);
    k_head(w, key, EXG_F32);
    exg__put_u32(w->b, bits);
}
static void k_bool(kvw *w, const char *key, int v)
{
    uint8_t const b = v ? 1 : 0;
    k_head(w, key, EXG_BOOL);
    exg__put(w->b, &b, 1);
}
static void k_str(kvw *w, const char *key, const char *s)
{
    k_head(w, key, EXG_STRING);
    exg__put_str(w->b, s, strlen(s));
}

/* "{arch}.suffix" into buf. */
static const char *ak(char *buf, size_t n, const char *arch, const char *suffix)
{
    snprintf(buf, n, "%s.%s", arch, suffix);
    return buf;
}

/* An optional u32 key: *present says whether it was there. Wrong types are errors. */
static int opt_u32(const trit_reader *r, const char *key, uint32_t *v, int *present, trit_err *err)
{
    int const rc = exg__kv_u32(r, key, v, err);
    *present = rc == TRIT_OK;
    return rc == TRIT_E_NOTFOUND ? TRIT_OK : rc;
}

static int req_u32(const trit_reader *r, const char *key, uint32_t *v, trit_err *err)
{
    int const rc = exg__kv_u32(r, key, v, err);
    if (rc == TRIT_E_NOTFOUND)
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, NULL,
                            "metadata '%s' is missing (required, spec/container.md 10.1)", key);
    return rc;
}

/* Routing llama.cpp hard-codes per architecture (src/models/<arch>.cpp build_moe_ffn). */
static int arch_norm_topk(const char *arch)
{
    if (!strcmp(arch, "llama") || !strcmp(arch, "qwen3moe") || !strcmp(arch, "granitemoe")) return 1;
    return 0;   /* qwen2moe, olmoe, deepseek */
}

static uint32_t file_type(const exg_plan *p)
{
    /* llama_ftype: ALL_F32 0, MOSTLY_F16 1, MOSTLY_BF16 32, MOSTLY_TQ1_0 36, MOSTLY_TQ2_0 37;
     * block types (informative for llama.cpp, which reads every tensor's own type): MOSTLY_Q8_0
     * 7, MOSTLY_Q4_K_M 15, MOSTLY_Q6_K 18, MOSTLY_MXFP4_MOE 38, the narrowest type present */
    int f16 = 0, bf16 = 0, q8 = 0, q4k = 0, q6k = 0, mx = 0;
    for (uint32_t i = 0; i < p->n_t; i++) {
        uint32_t const t = p->t[i].pub.ggml_type;
        if (t == EXG_T_TQ1_0) return 36;
        if (t == EXG_T_TQ2_0) return 37;
        q8 |= t == EXG_T_Q8_0, q4k |= t == EXG_T_Q4_K, q6k |= t == EXG_T_Q6_K, mx |= t == EXG_T_MXFP4;
        if (p->t[i].pub.n_dims >= 2) { f16 |= t == EXG_T_F16; bf16 |= t == EXG_T_BF16; }
    }
    if (mx || q4k || q6k || q8) return mx ? 38 : q4k ? 15 : q6k ? 18 : 7;
    return f16 ? 1 : bf16 ? 32 : 0;
}

static int rope_scaling(exg_plan *p, kvw *w, uint32_t n_ctx, trit_err *err);

/* deepseek2 (llama.cpp src/models/deepseek2.cpp load_arch_hparams, conversion/deepseek.py
 * DeepseekV2Model.set_gguf_parameters): MLA as MQA over the compressed cache (head_count_kv 1,
 * key_length kv_lora + rope, value_length kv_lora; key/value_length_mla the decompressed heads),
 * the LoRA ranks, routing and YaRN. What llama.cpp cannot compute exactly is refused by name:
 * V2's max group score (its build_moe_ffn groups by the sum of the two best), and a YaRN whose
 * mscale differs from mscale_all_dim or whose betas are not 32 / 1 (its deepseek2 graph derives
 * both mscales from the one yarn_log_multiplier = 0.1 * mscale_all_dim and reads no betas). */
static int deepseek2_keys(exg_plan *p, kvw *w, trit_err *err)
{
    const trit_reader *r = p->r;
    const char *a = p->arch;
    char k[160], s[32];
    int rc = TRIT_OK, has;
    uint32_t hd = 0, vd = 0, kl = 0, ql = 0, rd = 0, ng = 0, tg = 0;
    TRY(req_u32(r, "model.head_dim", &hd, err));
    TRY(req_u32(r, "model.kv_lora_rank", &kl, err));
    TRY(req_u32(r, "model.v_head_dim", &vd, err));
    TRY(req_u32(r, "model.rope_dim", &rd, err));
    TRY(opt_u32(r, "model.q_lora_rank", &ql, &has, err));
    k_u32(w, ak(k, sizeof k, a, "attention.head_count_kv"), 1);
    k_u32(w, ak(k, sizeof k, a, "attention.key_length"), kl + rd);
    k_u32(w, ak(k, sizeof k, a, "attention.value_length"), kl);
    k_u32(w, ak(k, sizeof k, a, "attention.key_length_mla"), hd);
    k_u32(w, ak(k, sizeof k, a, "attention.value_length_mla"), vd);
    /* llama.cpp reads q_lora_rank unless it takes the model for a "lite" one by its layer count;
     * 0 (no q LoRA) loads attn_q */
    k_u32(w, ak(k, sizeof k, a, "attention.q_lora_rank"), ql);
    k_u32(w, ak(k, sizeof k, a, "attention.kv_lora_rank"), kl);
    uint32_t n_shared = 0;
    TRY(opt_u32(r, "moe.n_shared_expert", &n_shared, &has, err));
    if (!n_shared) k_u32(w, ak(k, sizeof k, a, "expert_shared_count"), 0);   /* required by the loader */
    TRY(opt_u32(r, "moe.n_group", &ng, &has, err));
    TRY(opt_u32(r, "moe.topk_group", &tg, &has, err));
    if (ng > 1 && tg < ng) {
        rc = exg__kv_str(r, "moe.group_score", s, sizeof s, err);
        if (rc == TRIT_E_NOTFOUND) rc = trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, NULL, "metadata 'moe.group_score' is missing");
        if (rc) goto out;
        if (strcmp(s, "top2sum") != 0) {
            rc = trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, "moe.group_score",
                              "is '%s': llama.cpp's deepseek2 graph scores expert groups by the sum of their two best "
                              "(DeepSeek-V3's noaux_tc), not DeepSeek-V2's maximum", s);
            goto out;
        }
        k_u32(w, ak(k, sizeof k, a, "expert_group_count"), ng);
        k_u32(w, ak(k, sizeof k, a, "expert_group_used_count"), tg);
    }
    rc = exg__kv_str(r, "model.rope_scaling", s, sizeof s, err);
    if (rc == TRIT_E_NOTFOUND) return TRIT_OK;
    if (rc) goto out;
    float f = 0, bf = 32, bs = 1, ms = 1, msa = 0;
    uint32_t orig = 0;
    TRY(req_u32(r, "model.rope_orig_ctx", &orig, err));
    if ((rc = exg__kv_f32(r, "model.rope_scale_factor", &f, err)) && rc != TRIT_E_NOTFOUND) goto out;
    if ((rc = exg__kv_f32(r, "model.yarn_beta_fast", &bf, err)) && rc != TRIT_E_NOTFOUND) goto out;
    if ((rc = exg__kv_f32(r, "model.yarn_beta_slow", &bs, err)) && rc != TRIT_E_NOTFOUND) goto out;
    if ((rc = exg__kv_f32(r, "model.yarn_mscale", &ms, err)) && rc != TRIT_E_NOTFOUND) goto out;
    if ((rc = exg__kv_f32(r, "model.yarn_mscale_all_dim", &msa, err)) && rc != TRIT_E_NOTFOUND) goto out;
    if (bf != 32.0f || bs != 1.0f || ms != msa || msa == 0.0f) {
        rc = trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, "model.rope_scaling",
                          "yarn with beta_fast %g, beta_slow %g, mscale %g, mscale_all_dim %g: llama.cpp's deepseek2 "
                          "graph computes betas 32 / 1 and mscale = mscale_all_dim != 0 only", (double)bf, (double)bs,
                          (double)ms, (double)msa);
        goto out;
    }
    k_str(w, ak(k, sizeof k, a, "rope.scaling.type"), "yarn");
    k_f32(w, ak(k, sizeof k, a, "rope.scaling.factor"), f);
    k_u32(w, ak(k, sizeof k, a, "rope.scaling.original_context_length"), orig);
    /* [TAG_DEEPSEEK2_YARN_LOG_MUL_FIX]: the converter writes 0.1 * mscale_all_dim, the loader divides by 0.1 */
    k_f32(w, ak(k, sizeof k, a, "rope.scaling.yarn_log_multiplier"), 0.1f * msa);
    rc = TRIT_OK;
out:
    return rc;
}

static int arch_keys(exg_plan *p, kvw *w, trit_err *err)
{
    const trit_reader *r = p->r;
    const char *a = p->arch;
    char k[160], s[256];
    int rc = TRIT_OK, has;
    uint32_t v, n_embd, n_head, n_expert = 0;
    float f;

    uint32_t n_ctx = 4096;
    TRY(opt_u32(r, "model.n_ctx", &n_ctx, &has, err));
    if (!has || n_ctx == 0) {
        n_ctx = 4096;
        exg__warn(p, "no model.n_ctx in the container; %s.context_length set to 4096", a);
    }
    k_u32(w, ak(k, sizeof k, a, "context_length"), n_ctx);
    TRY(req_u32(r, "model.n_embd", &n_embd, err));
    k_u32(w, ak(k, sizeof k, a, "embedding_length"), n_embd);
    TRY(req_u32(r, "model.n_layer", &v, err));
    k_u32(w, ak(k, sizeof k, a, "block_count"), v);
    uint32_t n_ff = 0, n_ff_exp = 0;
    int has_ff_exp;
    TRY(opt_u32(r, "model.n_ff", &n_ff, &has, err));
    TRY(opt_u32(r, "moe.n_ff_expert", &n_ff_exp, &has_ff_exp, err));
    /* llama and olmoe size their experts from feed_forward_length: use the expert width
     * when there is no dense FFN (Mixtral's converter does the same) */
    if (n_ff || n_ff_exp) k_u32(w, ak(k, sizeof k, a, "feed_forward_length"), n_ff ? n_ff : n_ff_exp);
    TRY(req_u32(r, "model.n_head", &n_head, err));
    k_u32(w, ak(k, sizeof k, a, "attention.head_count"), n_head);
    int const mla = !strcmp(a, "deepseek2");
    TRY(opt_u32(r, "model.n_head_kv", &v, &has, err));
    if (has && !mla) k_u32(w, ak(k, sizeof k, a, "attention.head_count_kv"), v);
    uint32_t head_dim = n_head ? n_embd / n_head : 0;
    TRY(opt_u32(r, "model.head_dim", &head_dim, &has, err));
    if (mla) {
        if ((rc = deepseek2_keys(p, w, err))) goto out;
    } else if (has) {
        k_u32(w, ak(k, sizeof k, a, "attention.key_length"), head_dim);
        k_u32(w, ak(k, sizeof k, a, "attention.value_length"), head_dim);
    }
    rc = exg__kv_f32(r, "model.norm_eps", &f, err);
    if (rc == TRIT_E_NOTFOUND)
        rc = trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, NULL, "metadata 'model.norm_eps' is missing (required, spec/container.md 10.1)");
    if (rc) goto out;
    k_f32(w, ak(k, sizeof k, a, "attention.layer_norm_rms_epsilon"), f);
    if ((rc = exg__kv_f32(r, "model.rope_theta", &f, err)) == TRIT_OK)
        k_f32(w, ak(k, sizeof k, a, "rope.freq_base"), f);
    else if (rc != TRIT_E_NOTFOUND) goto out;
    uint32_t rope_dim = head_dim;
    TRY(opt_u32(r, "model.rope_dim", &rope_dim, &has, err));
    if (rope_dim) k_u32(w, ak(k, sizeof k, a, "rope.dimension_count"), rope_dim);
    if (!mla) TRY(rope_scaling(p, w, n_ctx, err));   /* deepseek2_keys wrote its YaRN */
    TRY(opt_u32(r, "model.n_vocab", &v, &has, err));
    if (has) k_u32(w, ak(k, sizeof k, a, "vocab_size"), v);

    TRY(opt_u32(r, "moe.n_expert", &n_expert, &has, err));
    if (n_expert) {
        uint32_t used = 0;
        TRY(opt_u32(r, "moe.n_expert_used", &used, &has, err));
        k_u32(w, ak(k, sizeof k, a, "expert_count"), n_expert);
        k_u32(w, ak(k, sizeof k, a, "expert_used_count"), used);
        if (has_ff_exp) k_u32(w, ak(k, sizeof k, a, "expert_feed_forward_length"), n_ff_exp);
        TRY(opt_u32(r, "moe.n_shared_expert", &v, &has, err));
        if (has && v) k_u32(w, ak(k, sizeof k, a, "expert_shared_count"), v);
        for (uint32_t i = 0; i < trit_reader_n_tensors(r); i++) {
            const trit_tensor_info *t = trit_reader_tensor(r, i);
            const char *dot = strrchr(t->name, '.');
            size_t const n = strlen(t->name);
            if (n > 22 && !strcmp(t->name + n - 22, ".ffn_gate_shexp.weight") && dot && t->n_dims == 2) {
                k_u32(w, ak(k, sizeof k, a, "expert_shared_feed_forward_length"), (uint32_t)t->dims[0]);
                break;
            }
        }
        int norm = 0;
        if ((rc = exg__kv_bool(r, "moe.norm_topk", &norm, err)) == TRIT_OK) {
            k_bool(w, ak(k, sizeof k, a, "expert_weights_norm"), norm);
            if (!mla && norm != arch_norm_topk(a))
                exg__warn(p, "moe.norm_topk is %s but llama.cpp's '%s' graph %s the top-k weights",
                                 norm ? "true" : "false", a, arch_norm_topk(a) ? "always renormalizes" : "never renormalizes");
        } else if (rc != TRIT_E_NOTFOUND) goto out;
        if ((rc = exg__kv_f32(r, "moe.routed_scale", &f, err)) == TRIT_OK) {
            if (f != 1.0f) k_f32(w, ak(k, sizeof k, a, "expert_weights_scale"), f);
        } else if (rc != TRIT_E_NOTFOUND) goto out;
        if ((rc = exg__kv_str(r, "moe.gating", s, sizeof s, err)) == TRIT_OK) {
            /* ExpertGatingFuncType: 1 softmax, 2 sigmoid */
            if (!strcmp(s, "softmax") || !strcmp(s, "sigmoid"))
                k_u32(w, ak(k, sizeof k, a, "expert_gating_func"), !strcmp(s, "softmax") ? 1 : 2);
            if (strcmp(s, "softmax") && !mla)
                exg__warn(p, "moe.gating is '%s' but llama.cpp's '%s' graph always uses softmax", s, a);
        } else if (rc != TRIT_E_NOTFOUND) goto out;
        TRY(opt_u32(r, "moe.first_dense_layers", &v, &has, err));
        if (has && v) k_u32(w, ak(k, sizeof k, a, "leading_dense_block_count"), v);
    }
    /* MiniCPM's scalings (spec 10.1: absent = 1). llama.cpp's minicpm graph (granite's)
     * multiplies by embedding_scale and residual_scale but divides the logits by
     * logit_scale, and its defaults are not 1, so all three are always written. */
    static const char *const scal[3][2] = {{"model.embd_scale", "embedding_scale"},
                                           {"model.residual_scale", "residual_scale"},
                                           {"model.logit_scale", "logit_scale"}};
    for (int q = 0; q < 3; q++) {
        f = 1.0f;
        if ((rc = exg__kv_f32(r, scal[q][0], &f, err)) != TRIT_OK && rc != TRIT_E_NOTFOUND) goto out;
        if (!strcmp(a, "minicpm") || !strncmp(a, "granite", 7)) {
            if (f == 0.0f) f = 1.0f;
            k_f32(w, ak(k, sizeof k, a, scal[q][1]), q == 2 ? 1.0f / f : f);
        } else if (f != 1.0f) {
            exg__warn(p, "%s is %g but llama.cpp's '%s' graph does not apply it", scal[q][0], (double)f, a);
        }
    }
    /* granite's attention scale; llama.cpp's default (no key) is 1/sqrt(head_dim) */
    f = 0.0f;
    if ((rc = exg__kv_f32(r, "model.attn_scale", &f, err)) != TRIT_OK && rc != TRIT_E_NOTFOUND) goto out;
    if (rc == TRIT_OK && !strncmp(a, "granite", 7)) {
        k_f32(w, ak(k, sizeof k, a, "attention.scale"), f);
    } else if (rc == TRIT_OK) {
        rc = trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, "model.attn_scale",
                          "is %g, but llama.cpp's '%s' graph scales attention by 1/sqrt(head_dim)", (double)f, a);
        goto out;
    }
    if ((rc = exg__kv_str(r, "model.hidden_act", s, sizeof s, err)) == TRIT_OK) {
        if (strcmp(s, "silu")) {
            k_str(w, ak(k, sizeof k, a, "hidden_activation"), s);
            exg__warn(p, "model.hidden_act is '%s'; llama.cpp's '%s' graph may use SiLU regardless", s, a);
        }
    } else if (rc != TRIT_E_NOTFOUND) goto out;
    rc = TRIT_OK;
out:
    return rc;
}

/* ---- rope scaling -------------------------------------------------------------------------- */

/* model.rope_scaling (spec 10.1) as llama.cpp reads it back: longrope of minicpm, whose loader
 * (llama_model_minicpm) takes rope_factors_long/short.weight (copied as tensors) when
 * rope.scaling.type is "longrope", n_ctx_orig_yarn from rope.scaling.original_context_length and
 * the cos/sin multiplier from rope.scaling.attn_factor for either set. llama.cpp picks the long
 * set when its context exceeds the original; the container when model.n_ctx does, so the two
 * agree at llama.cpp's default context (context_length = model.n_ctx). Anything else is refused:
 * dropping it would export a model that computes something close. */
static int rope_scaling(exg_plan *p, kvw *w, uint32_t n_ctx, trit_err *err)
{
    const trit_reader *r = p->r;
    const char *a = p->arch;
    char k[160], s[64];
    int rc = exg__kv_str(r, "model.rope_scaling", s, sizeof s, err);
    if (rc == TRIT_E_NOTFOUND) return TRIT_OK;
    if (rc) return rc;
    if (strcmp(s, "longrope") || strcmp(a, "minicpm"))
        return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, "model.rope_scaling",
                            "is '%s' for arch '%s'; the export writes longrope of minicpm (llama.cpp loads its factors)", s, a);
    uint32_t orig = 0;
    float fs = 1.0f, fl = 1.0f;
    if ((rc = exg__kv_u32(r, "model.rope_orig_ctx", &orig, err)) == TRIT_E_NOTFOUND)
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, NULL, "longrope needs metadata 'model.rope_orig_ctx'");
    if (rc) return rc;
    if ((rc = exg__kv_f32(r, "model.rope_attn_factor_short", &fs, err)) && rc != TRIT_E_NOTFOUND) return rc;
    if ((rc = exg__kv_f32(r, "model.rope_attn_factor_long", &fl, err)) && rc != TRIT_E_NOTFOUND) return rc;
    if (fs != fl)
        return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, "model.rope_attn_factor_long",
                            "is %g and the short set's %g: llama.cpp applies one rope.scaling.attn_factor to both sets",
                            (double)fl, (double)fs);
    k_str(w, ak(k, sizeof k, a, "rope.scaling.type"), "longrope");
    k_u32(w, ak(k, sizeof k, a, "rope.scaling.original_context_length"), orig);
    k_f32(w, ak(k, sizeof k, a, "rope.scaling.attn_factor"), fl);
    exg__warn(p, "longrope: llama.cpp uses the %s factors at its default context (%u); a context %s %u switches it to "
                 "the %s ones, which the container does not compute",
              n_ctx > orig ? "long" : "short", n_ctx, n_ctx > orig ? "at most" : "above", orig, n_ctx > orig ? "short" : "long");
    return TRIT_OK;
}

/* ---- tokenizer ----------------------------------------------------------------------------- */

/* GGUF type a container KV type is written as, when no canonical type applies. */
static uint32_t gguf_type_of(uint32_t t)
{
    static const uint32_t map[] = {EXG_U8, EXG_I8, EXG_U16, EXG_I16, EXG_U32, EXG_I32, EXG_U64,
                                   EXG_I64, EXG_F32, EXG_F64, EXG_BOOL, EXG_STRING, EXG_ARRAY};
    return t < sizeof map / sizeof map[0] ? map[t] : UINT32_MAX;
}

/* The types llama.cpp reads these keys with (gguf-py constants.py Keys.Tokenizer). */
static void canonical(const char *key, uint32_t *type, uint32_t *elem)
{
    static const struct { const char *key; uint32_t type, elem; } tab[] = {
        {"tokenizer.ggml.model", EXG_STRING, 0}, {"tokenizer.ggml.pre", EXG_STRING, 0},
        {"tokenizer.ggml.tokens", EXG_ARRAY, EXG_STRING}, {"tokenizer.ggml.merges", EXG_ARRAY, EXG_STRING},
        {"tokenizer.ggml.token_type", EXG_ARRAY, EXG_I32}, {"tokenizer.ggml.scores", EXG_ARRAY, EXG_F32},
        {"tokenizer.ggml.token_type_count", EXG_U32, 0}, {"tokenizer.chat_template", EXG_STRING, 0},
        {"tokenizer.ggml.add_bos_token", EXG_BOOL, 0}, {"tokenizer.ggml.add_eos_token", EXG_BOOL, 0},
        {"tokenizer.ggml.add_sep_token", EXG_BOOL, 0}, {"tokenizer.ggml.add_space_prefix", EXG_BOOL, 0},
        {"tokenizer.ggml.remove_extra_whitespaces", EXG_BOOL, 0},
    };
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (!strcmp(key, tab[i].key)) { *type = tab[i].type; *elem = tab[i].elem; return; }
    size_t const n = strlen(key);
    if (!strncmp(key, "tokenizer.ggml.", 15) && n > 9 && !strcmp(key + n - 9, "_token_id")) {
        *type = EXG_U32;
        *elem = 0;
    }
}

static int is_int(uint32_t t) { return t <= TRIT_KV_I64 || t == TRIT_KV_BOOL; }
static int is_num(uint32_t t) { return is_int(t) || t == TRIT_KV_F32 || t == TRIT_KV_F64; }

/* Write one scalar of GGUF type gt from a container value read through the getters. */
static int put_scalar(exg__buf *b, uint32_t gt, uint32_t src_t, int64_t iv, uint64_t uv, double fv)
{
    uint8_t x[8];
    int const isf = src_t == TRIT_KV_F32 || src_t == TRIT_KV_F64;
    int const neg = !isf && src_t != TRIT_KV_U64 && iv < 0;
    switch (gt) {
    case EXG_U8: case EXG_I8: case EXG_BOOL:
        x[0] = (uint8_t)(neg ? (uint64_t)iv : uv);
        if (gt == EXG_BOOL && x[0] > 1) return 1;
        exg__put(b, x, 1);
        return isf;
    case EXG_U16: case EXG_I16: {
        uint64_t const v = neg ? (uint64_t)iv : uv;
        x[0] = (uint8_t)v; x[1] = (uint8_t)(v >> 8);
        exg__put(b, x, 2);
        return isf;
    }
    case EXG_U32:
        if (isf || neg || uv > UINT32_MAX) return 1;
        exg__put_u32(b, (uint32_t)uv);
        return 0;
    case EXG_I32:
        if (isf || iv < INT32_MIN || iv > INT32_MAX) return 1;
        exg__put_u32(b, (uint32_t)(int32_t)iv);
        return 0;
    case EXG_U64: case EXG_I64:
        if (isf) return 1;
        exg__put_u64(b, neg ? (uint64_t)iv : uv);
        return 0;
    case EXG_F32: {
        float const f = isf ? (float)fv : (src_t == TRIT_KV_U64 ? (float)uv : (float)iv);
        uint32_t bits;
        memcpy(&bits, &f, 4);
        exg__put_u32(b, bits);
        return 0;
    }
    case EXG_F64: {
        double const d = isf ? fv : (src_t == TRIT_KV_U64 ? (double)uv : (double)iv);
        uint64_t bits;
        memcpy(&bits, &d, 8);
        exg__put_u64(b, bits);
        return 0;
    }
    default: return 1;
    }
}

/* Read a numeric value (scalar: j = UINT64_MAX; else array element j) in all three forms. */
static int get_num(const trit_kvset *s, uint32_t i, uint64_t j, uint32_t t, int64_t *iv, uint64_t *uv, double *fv)
{
    *iv = 0; *uv = 0; *fv = 0;
    if (t == TRIT_KV_F32 || t == TRIT_KV_F64)
        return j == UINT64_MAX ? trit_kvset_f64(s, i, fv) : trit_kvset_arr_f64(s, i, j, fv);
    if (t == TRIT_KV_U64 || t == TRIT_KV_U32 || t == TRIT_KV_U16 || t == TRIT_KV_U8 || t == TRIT_KV_BOOL) {
        if (j == UINT64_MAX) {
            int const rc = trit_kvset_u64(s, i, uv);
            *iv = *uv > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)*uv;   /* saturate: range checks fail */
            return rc;
        }
        int const rc = trit_kvset_arr_i64(s, i, j, iv);   /* no unsigned array getter */
        *uv = (uint64_t)*iv;
        return rc;
    }
    int const rc = j == UINT64_MAX ? trit_kvset_i64(s, i, iv) : trit_kvset_arr_i64(s, i, j, iv);
    *uv = (uint64_t)*iv;
    return rc;
}

static int copy_kv(exg_plan *p, kvw *w, const trit_kvset *s, uint32_t i, trit_err *err)
{
    const char *key = trit_kvset_key(s, i);
    uint32_t elem = 0;
    uint64_t count = 0;
    uint32_t const t = trit_kvset_type(s, i, &elem, &count);
    uint32_t gt = gguf_type_of(t), ge = t == TRIT_KV_ARRAY ? gguf_type_of(elem) : 0;
    canonical(key, &gt, &ge);
    char where[300];
    snprintf(where, sizeof where, "tokenizer key '%s'", key);
    int const src_arr = t == TRIT_KV_ARRAY;
    if ((gt == EXG_ARRAY) != src_arr || gt == UINT32_MAX ||
        (gt == EXG_STRING) != (t == TRIT_KV_STRING) ||
        (src_arr && (ge == UINT32_MAX || (ge == EXG_STRING) != (elem == TRIT_KV_STRING))) ||
        (!src_arr && t != TRIT_KV_STRING && !is_num(t)) || (src_arr && elem != TRIT_KV_STRING && !is_num(elem)))
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, where, "has type %s%s%s, which does not fit GGUF type %u",
                            trit_kv_type_name(t), src_arr ? " of " : "", src_arr ? trit_kv_type_name(elem) : "", gt);
    int64_t iv;
    uint64_t uv;
    double fv;
    if (!src_arr && gt != EXG_STRING) {
        /* check the value before emitting the key, so a bad id can be dropped cleanly */
        exg__buf tmp = {0};
        int const bad_v = get_num(s, i, UINT64_MAX, t, &iv, &uv, &fv) || put_scalar(&tmp, gt, t, iv, uv, fv);
        free(tmp.p);
        if (bad_v) {
            if (gt == EXG_U32 && is_int(t)) {   /* e.g. a padding id of -1 */
                exg__warn(p, "%s: value does not fit u32; dropped", where);
                return TRIT_OK;
            }
            return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, where, "value does not fit GGUF type %u", gt);
        }
    }
    k_head(w, key, gt);
    if (gt == EXG_STRING) {
        const char *str;
        uint64_t n;
        trit_kvset_str(s, i, &str, &n);
        exg__put_str(w->b, str, (size_t)n);
        return TRIT_OK;
    }
    if (!src_arr) {
        get_num(s, i, UINT64_MAX, t, &iv, &uv, &fv);
        put_scalar(w->b, gt, t, iv, uv, fv);
        return TRIT_OK;
    }
    exg__put_u32(w->b, ge);
    exg__put_u64(w->b, count);
    for (uint64_t j = 0; j < count && !w->b->oom; j++) {
        if (ge == EXG_STRING) {
            const char *str;
            uint64_t n;
            trit_kvset_arr_str(s, i, j, &str, &n);
            exg__put_str(w->b, str, (size_t)n);
        } else if (get_num(s, i, j, elem, &iv, &uv, &fv) || put_scalar(w->b, ge, elem, iv, uv, fv)) {
            return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, where,
                                "element %llu does not fit GGUF type %u", (unsigned long long)j, ge);
        }
    }
    return TRIT_OK;
}

static int tokenizer_keys(exg_plan *p, kvw *w, trit_err *err)
{
    int64_t const sec = trit_reader_find_section(p->r, TRIT_SECTION_TOKENIZER_KV);
    int has_bos = 0, has_eos = 0, rc = TRIT_OK;
    if (sec < 0) {
        exg__warn(p, "the container has no GGUF tokenizer (section of kind 3); llama.cpp "
                            "needs tokenizer.ggml.* keys to load the output");
    } else {
        trit_kvset *s = NULL;
        if ((rc = trit_reader_section_kv(p->r, (uint32_t)sec, &s, err))) return rc;
        uint64_t const n0 = w->n;
        for (uint32_t i = 0; i < trit_kvset_n(s) && rc == TRIT_OK; i++) {
            const char *key = trit_kvset_key(s, i);
            if (strncmp(key, "tokenizer.", 10) != 0) {
                exg__warn(p, "tokenizer section key '%s' is not a tokenizer.* key; skipped", key);
                continue;
            }
            has_bos |= !strcmp(key, "tokenizer.ggml.bos_token_id");
            has_eos |= !strcmp(key, "tokenizer.ggml.eos_token_id");
            rc = copy_kv(p, w, s, i, err);
        }
        p->sum.n_tokenizer_kv = w->n - n0;
        trit_kvset_free(s);
        if (rc) return rc;
    }
    uint32_t v;
    int has;
    /* special ids the model metadata knows and the tokenizer section did not carry */
    if ((rc = opt_u32(p->r, "model.bos_token_id", &v, &has, err))) return rc;
    if (has && !has_bos && sec >= 0) k_u32(w, "tokenizer.ggml.bos_token_id", v);
    if ((rc = opt_u32(p->r, "model.eos_token_id", &v, &has, err))) return rc;
    if (has && !has_eos && sec >= 0) k_u32(w, "tokenizer.ggml.eos_token_id", v);
    return TRIT_OK;
}

int exg__plan_meta(exg_plan *p, exg__buf *kv, uint64_t *n_kv, trit_err *err)
{
    kvw w = {kv, 0};
    int rc;
    char name[256];
    k_str(&w, "general.architecture", p->arch);
    if ((rc = exg__kv_str(p->r, "general.name", name, sizeof name, err)) == TRIT_OK) k_str(&w, "general.name", name);
    else if (rc != TRIT_E_NOTFOUND && rc != TRIT_E_CORRUPT) return rc;   /* a long name is just left out */
    if (p->alignment != 32) k_u32(&w, "general.alignment", p->alignment);
    uint32_t const ft = file_type(p);
    k_u32(&w, "general.file_type", ft);
    if (ft == 36 || ft == 37 || ft == 7 || ft == 15 || ft == 18 || ft == 38) k_u32(&w, "general.quantization_version", 2);
    if ((rc = arch_keys(p, &w, err))) return rc;
    if ((rc = tokenizer_keys(p, &w, err))) return rc;
    if (kv->oom) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    *n_kv = w.n;
    return TRIT_OK;
}
