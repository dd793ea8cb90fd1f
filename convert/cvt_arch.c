/*
 * cvt_arch.c - what the source says about the model, as the container's typed description
 * (spec/container.md 10.1), and source tensor names as canonical names (10.2).
 *
 * HF checkpoints are described by config.json (model_type, architectures, quantization_config);
 * GGUF files by their {arch}.* keys. Routing conventions are written out explicitly per
 * architecture here, so the runner never infers them from a name.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "cvt_arch.h"
#include "cvt_gptoss.h"
#include "src_gguf.h"
#include "src_safetensors.h"
#include "trit_model.h"

/* ---- HF config.json ---- */

static double jnum(const cJSON *o, const char *k, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (cJSON_IsNumber(v)) return v->valuedouble;
    if (cJSON_IsArray(v) && cJSON_IsNumber(v->child)) return v->child->valuedouble; /* eos lists */
    return dflt;
}

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int jbool(const cJSON *o, const char *k, int dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : dflt;
}

static uint32_t ju32(const cJSON *o, const char *k, uint32_t dflt)
{
    double const d = jnum(o, k, -1);
    return d >= 0 && d <= 4294967295.0 && d == floor(d) ? (uint32_t)d : dflt;
}

/* rms_norm_eps when config.json leaves it out: the default of the family's transformers
 * configuration class (configuration_<family>.py), which is what the release computes with. */
static double default_eps(const char *model_type)
{
    static const char *const e5[] = {"olmoe", "mixtral", "bitnet", "phimoe", "gpt_oss"};
    for (size_t i = 0; i < sizeof e5 / sizeof e5[0]; i++)
        if (!strcmp(model_type, e5[i])) return 1e-5;
    return 1e-6;   /* llama, mistral, qwen2, qwen2_moe, qwen3, qwen3_moe, deepseek, minicpm */
}

/* DeepSeek's router (MoEGate in the releases' modeling_deepseek.py; key values the release code
 * does not compute are refused in cvt_keys.c check_deepseek):
 *   scores  = softmax (V2) or sigmoid (V3) of the gate logits, in float32
 *   greedy  ("greedy", "gready"): top-k of the scores; n_group/topk_group unused
 *   group_limited_greedy (V2): group score = the group's max score; the topk_group best groups
 *           kept, the rest masked with 0.0 (softmax scores are > 0, so a kept expert always wins)
 *   noaux_tc (V3): choice = scores + e_score_correction_bias; group score = sum of the group's
 *           two best choice values; the rest masked (-inf in the current revision of V3's file and
 *           in DeepSeek's inference/model.py Gate; its first revision masked with 0.0, which
 *           differs only when a kept expert's biased score is negative); top-k by choice, the
 *           weights are the unbiased scores of the chosen experts
 *   weights: V2: "if top_k > 1 and norm_topk_prob: w / (sum + 1e-20) else w * routed_scaling_factor";
 *            V3: the same normalization, then always "* routed_scaling_factor"
 * V3 configs state every routing key; the configuration-class defaults differ between copies of
 * configuration_deepseek.py and transformers' DeepseekV3Config, so an absent key is refused
 * rather than guessed. V2 absent keys take configuration_deepseek.py's (V2) defaults: softmax,
 * topk_method "gready", norm_topk_prob false, routed_scaling_factor 1. */
static int deepseek_gate(const cJSON *c, const char *mt, cvt_model *m, trit_err *err)
{
    int const v3 = !strcmp(mt, "deepseek_v3");
    static const char *const need[] = {"scoring_func", "topk_method", "n_group", "topk_group", "norm_topk_prob",
                                       "routed_scaling_factor"};
    for (size_t i = 0; v3 && i < sizeof need / sizeof need[0]; i++)
        if (!cJSON_GetObjectItemCaseSensitive(c, need[i]))
            return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, "config.json",
                                "key '%s' absent: a DeepSeek-V3 config states its routing, and the defaults of the "
                                "configuration classes disagree; trit refuses rather than guess", need[i]);
    const char *sf = jstr(c, "scoring_func"), *tm = jstr(c, "topk_method");
    snprintf(m->gating, sizeof m->gating, "%s", sf ? sf : "softmax");
    uint32_t const k = ju32(c, "num_experts_per_tok", 0);
    m->norm_topk = jbool(c, "norm_topk_prob", 0) && k > 1;
    if (!v3 && m->norm_topk) m->routed_scale = 1.0f;
    if (!tm || !strcmp(tm, "greedy") || !strcmp(tm, "gready")) return TRIT_OK;
    m->n_group = ju32(c, "n_group", 0);
    m->topk_group = ju32(c, "topk_group", 0);
    if (!m->n_group || !m->topk_group)
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, "config.json",
                            "topk_method '%s' needs n_group and topk_group >= 1 (got %u, %u)", tm, m->n_group, m->topk_group);
    int const noaux = !strcmp(tm, "noaux_tc");
    snprintf(m->group_score, sizeof m->group_score, "%s", noaux ? "top2sum" : "max");
    m->need_bias = noaux;
    return TRIT_OK;
}

/* DeepSeek-V2 / V2-Lite / V3 (model_type deepseek_v2 / deepseek_v3): multi-head latent attention
 * and YaRN, as the releases' modeling_deepseek.py (DeepseekV2Attention, DeepseekV2YarnRotaryEmbedding,
 * the V3 equivalents) and transformers' configuration_deepseek_v2.py state them. */
static int deepseek_mla(const cJSON *c, const char *mt, cvt_model *m, trit_err *err)
{
    int const rc = deepseek_gate(c, mt, m, err);
    if (rc != TRIT_OK) return rc;
    m->n_nextn = ju32(c, "num_nextn_predict_layers", 0);
    if (!cJSON_GetObjectItemCaseSensitive(c, "kv_lora_rank")) return TRIT_OK;   /* DeepSeek-MoE: llama attention */
    uint32_t const nope = ju32(c, "qk_nope_head_dim", 0), rope = ju32(c, "qk_rope_head_dim", 0);
    m->kv_lora_rank = ju32(c, "kv_lora_rank", 0);
    m->q_lora_rank = ju32(c, "q_lora_rank", 0);   /* null (V2-Lite): q_proj */
    m->v_head_dim = ju32(c, "v_head_dim", 0);
    if (!m->kv_lora_rank || !nope || !rope || !m->v_head_dim || nope > TRIT_MT_MAX_HEAD_DIM || rope > TRIT_MT_MAX_HEAD_DIM)
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, "config.json",
                            "multi-head latent attention needs kv_lora_rank, qk_nope_head_dim, qk_rope_head_dim and "
                            "v_head_dim > 0 (got %u, %u, %u, %u)", m->kv_lora_rank, nope, rope, m->v_head_dim);
    /* the key head is [k_nope, k_pe]; every head has its own k and v (num_key_value_heads is
     * not used by DeepseekV2Attention) */
    m->head_dim = nope + rope;
    m->rope_dim = rope;
    m->n_head_kv = m->n_head;
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(c, "rope_scaling");
    const char *ty = cJSON_IsObject(rs) ? jstr(rs, "type") : NULL;
    if (!ty && cJSON_IsObject(rs)) ty = jstr(rs, "rope_type");
    if (ty && !strcmp(ty, "yarn")) {
        /* DeepseekV2YarnRotaryEmbedding's defaults */
        snprintf(m->rope_scaling, sizeof m->rope_scaling, "yarn");
        m->rope_scale_factor = (float)jnum(rs, "factor", 1.0);
        m->rope_orig_ctx = ju32(rs, "original_max_position_embeddings", 4096);
        m->yarn_beta_fast = (float)jnum(rs, "beta_fast", 32);
        m->yarn_beta_slow = (float)jnum(rs, "beta_slow", 1);
        m->yarn_mscale = (float)jnum(rs, "mscale", 1);
        m->yarn_mscale_all_dim = (float)jnum(rs, "mscale_all_dim", 0);
    }
    return TRIT_OK;
}

/* PhiMoE (model_type phimoe, Phi-3.5-MoE) as transformers' modeling_phimoe.py computes it:
 * nn.LayerNorm with bias and eps = rms_norm_eps for the input, post-attention and final norms;
 * head_dim = hidden_size / num_attention_heads (PhimoeAttention reads no head_dim key);
 * sparsemixer routing, which raises for any top_k but 2, with jitter_eps = router_jitter_noise
 * (configuration_phimoe.py default 0.01); attention and lm_head biases are tensors the
 * checkpoint carries (attention_bias / lm_head_bias, cvt_keys.c). */
static int phimoe(const cJSON *c, cvt_model *m, trit_err *err)
{
    m->layer_norm = 1;
    snprintf(m->gating, sizeof m->gating, "sparsemixer");
    m->jitter_eps = (float)jnum(c, "router_jitter_noise", 0.01);
    m->norm_topk = 0;
    if (m->n_head) m->head_dim = m->n_embd / m->n_head;
    m->rope_dim = m->head_dim;
    if (!cJSON_GetObjectItemCaseSensitive(c, "rope_theta")) m->rope_theta = 1e6f;   /* PhimoeConfig default */
    if (m->n_expert_used != 2)
        return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, "config.json",
                            "key 'num_experts_per_tok' = %u: PhiMoE's sparsemixer routes to exactly 2 experts "
                            "(modeling_phimoe.py raises otherwise); trit refuses rather than compute something close",
                            m->n_expert_used);
    return TRIT_OK;
}

/* MiniCPM's longrope (modeling_minicpm.py MiniCPMLongRoPE, openbmb/MiniCPM4-8B and BitCPM4;
 * cvt_keys.c checked every member): inv_freq_i = theta^(-2i/d) / factor_i over d = hidden_size /
 * num_attention_heads, the long set when the cos/sin cache it builds at init for
 * max_position_embeddings positions is longer than original_max_position_embeddings, else the
 * short set (spec 10.1, "context" selection); cos and sin times
 * sqrt(1 + ln(max_position_embeddings / original) / ln(original)) whichever set is used. */
static int minicpm_longrope(const cJSON *rs, cvt_model *m, trit_err *err)
{
    uint32_t const n = m->rope_dim / 2;
    static const char *const keys[2] = {"long_factor", "short_factor"};
    float *const dst[2] = {m->rope_long, m->rope_short};
    for (int k = 0; k < 2; k++) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(rs, keys[k]);
        int const len = cJSON_GetArraySize(a);
        if (n == 0 || n > TRIT_MT_MAX_HEAD_DIM / 2 || len < 0 || (uint32_t)len != n)
            return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, "config.json",
                                "key 'rope_scaling.%s' has %d factors, MiniCPMLongRoPE needs one per rotary frequency "
                                "(head_dim / 2 = %u); trit refuses rather than compute something close", keys[k], len, n);
        uint32_t i = 0;
        for (const cJSON *x = a->child; x; x = x->next) dst[k][i++] = (float)x->valuedouble;   /* torch.float32 */
    }
    double const orig = jnum(rs, "original_max_position_embeddings", 0), max_pos = m->n_ctx;
    double const attn = sqrt(1.0 + log(max_pos / orig) / log(orig));
    snprintf(m->rope_scaling, sizeof m->rope_scaling, "longrope");
    m->rope_orig_ctx = (uint32_t)orig;
    m->rope_attn_short = m->rope_attn_long = (float)attn;   /* > 0 is trit_mt_check's rule */
    m->n_rope_factors = n;
    return TRIT_OK;
}

static int from_config(const cJSON *c, cvt_model *m, trit_err *err)
{
    const char *mt = jstr(c, "model_type");
    const cJSON *archs = cJSON_GetObjectItemCaseSensitive(c, "architectures");
    const char *a0 = cJSON_IsArray(archs) && cJSON_IsString(archs->child) ? archs->child->valuestring : "";
    if (!mt) return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, "config.json", "no model_type");
    m->n_layer = ju32(c, "num_hidden_layers", 0);
    m->n_embd = ju32(c, "hidden_size", 0);
    m->n_ff = ju32(c, "intermediate_size", 0);
    m->n_head = ju32(c, "num_attention_heads", 0);
    m->n_head_kv = ju32(c, "num_key_value_heads", m->n_head);
    m->head_dim = ju32(c, "head_dim", m->n_head ? m->n_embd / m->n_head : 0);
    m->n_vocab = ju32(c, "vocab_size", 0);
    m->n_ctx = ju32(c, "max_position_embeddings", 0);
    m->norm_eps = (float)jnum(c, "rms_norm_eps", default_eps(mt));
    m->rope_theta = (float)jnum(c, "rope_theta", 10000.0);
    m->rope_dim = m->head_dim;
    m->tied = jbool(c, "tie_word_embeddings", 0);
    m->bos = (int64_t)jnum(c, "bos_token_id", -1);
    m->eos = (int64_t)jnum(c, "eos_token_id", -1);
    const char *nm = jstr(c, "_name_or_path");
    if (nm) snprintf(m->name, sizeof m->name, "%s", nm);
    const char *act = jstr(c, "hidden_act");
    snprintf(m->hidden_act, sizeof m->hidden_act, "%s", act ? act : "silu");
    if (!strcmp(m->hidden_act, "swish")) snprintf(m->hidden_act, sizeof m->hidden_act, "silu");

    const cJSON *qc = cJSON_GetObjectItemCaseSensitive(c, "quantization_config");
    const char *qm = qc ? jstr(qc, "quant_method") : NULL;
    int const bitnet = !strcmp(mt, "bitnet") || strstr(a0, "Bitnet") || strstr(a0, "BitNet") ||
                       (qm && !strcmp(qm, "bitnet")) || ju32(c, "weight_bits", 0) == 1;
    m->ternary_model = bitnet;
    /* Master weights of a model that quantizes them on the fly: the release computes with their
     * absmean ternarization, so that is the conversion, not an option (2B-4T-bf16 says
     * quantization_mode "online"; 1bitLLM's latent checkpoints say weight_bits 1). */
    const char *qmode = qc ? jstr(qc, "quantization_mode") : NULL;
    if (qmode && !strcmp(qmode, "online"))
        snprintf(m->online_quant, sizeof m->online_quant, "quantization_mode online");
    else if (ju32(c, "weight_bits", 0) == 1)
        snprintf(m->online_quant, sizeof m->online_quant, "weight_bits 1");
    snprintf(m->act_quant, sizeof m->act_quant, "%s", bitnet ? "int8_per_token" : "none");

    /* MoE */
    m->n_expert = ju32(c, "num_local_experts", ju32(c, "num_experts", ju32(c, "n_routed_experts", 0)));
    m->n_expert_used = ju32(c, "num_experts_per_tok", 0);
    m->n_ff_expert = ju32(c, "moe_intermediate_size", m->n_expert ? m->n_ff : 0);
    m->routed_scale = (float)jnum(c, "routed_scaling_factor", 1.0);
    m->first_dense = ju32(c, "first_k_dense_replace", 0);
    snprintf(m->gating, sizeof m->gating, "softmax");
    snprintf(m->shared_gate, sizeof m->shared_gate, "none");
    const char *arch = "llama";
    if (!strcmp(mt, "bitnet") || (bitnet && !strcmp(mt, "llama"))) {
        arch = "bitnet";
    } else if (!strcmp(mt, "mixtral")) {
        arch = "mixtral";
        m->norm_topk = 1; /* softmax over the selected logits = renormalised top-k */
    } else if (!strcmp(mt, "qwen2_moe")) {
        arch = "qwen2moe";
        m->norm_topk = jbool(c, "norm_topk_prob", 0);
        uint32_t const sh = ju32(c, "shared_expert_intermediate_size", 0);
        m->n_shared_expert = sh ? 1 : 0;
        if (sh) snprintf(m->shared_gate, sizeof m->shared_gate, "sigmoid");
    } else if (!strcmp(mt, "qwen3_moe")) {
        arch = "qwen3moe";
        m->norm_topk = jbool(c, "norm_topk_prob", 1);
    } else if (!strcmp(mt, "olmoe")) {
        arch = "olmoe";
        m->norm_topk = jbool(c, "norm_topk_prob", 0);
    } else if (!strncmp(mt, "deepseek", 8)) {
        arch = "deepseek2";
        m->n_shared_expert = ju32(c, "n_shared_experts", 0);
        int const rc = deepseek_mla(c, mt, m, err);
        if (rc != TRIT_OK) return rc;
    } else if (!strcmp(mt, "minicpm")) {
        arch = "minicpm";
        double const se = jnum(c, "scale_emb", 1), sd = jnum(c, "scale_depth", 0), base = jnum(c, "dim_model_base", 0);
        m->embd_scale = (float)se;
        if (sd > 0 && m->n_layer) m->residual_scale = (float)(sd / sqrt((double)m->n_layer));
        if (base > 0 && m->n_embd) m->logit_scale = (float)(base / (double)m->n_embd);
    } else if (!strcmp(mt, "granite") || !strcmp(mt, "granitemoe")) {
        /* transformers' modeling_granite(moe).py: embeddings * embedding_multiplier, scores *
         * attention_multiplier (in place of 1/sqrt(head_dim)), each block's output *
         * residual_multiplier, logits / logits_scaling; the router takes softmax over the
         * top-k logits (GraniteMoeTopKGating), i.e. renormalized top-k. Defaults: 1.0 each. */
        arch = mt;
        m->norm_topk = 1;
        m->embd_scale = (float)jnum(c, "embedding_multiplier", 1.0);
        m->residual_scale = (float)jnum(c, "residual_multiplier", 1.0);
        double const ls = jnum(c, "logits_scaling", 1.0);
        m->logit_scale = ls > 0 ? (float)(1.0 / ls) : -1.0f;   /* -1: refused by the rules */
        m->attn_scale = (float)jnum(c, "attention_multiplier", 1.0);
    } else if (!strcmp(mt, "phimoe")) {
        int const rc = phimoe(c, m, err);
        if (rc != TRIT_OK) return rc;
        arch = mt;
    } else if (!strcmp(mt, "gpt_oss")) {
        arch = "gpt-oss";   /* llama.cpp's LLM_ARCH_OPENAI_MOE name; cvt_gptoss.c after the keys */
    } else if (!strcmp(mt, "llama") || !strcmp(mt, "mistral") || !strcmp(mt, "qwen2") || !strcmp(mt, "qwen3")) {
        arch = mt;
    } else {
        return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, "config.json",
                            "model_type '%.40s' is not supported (llama, mistral, qwen2/3, bitnet, minicpm, mixtral, "
                            "qwen2_moe, qwen3_moe, olmoe, granite, granitemoe, deepseek_v2, phimoe, gpt_oss)", mt);
    }
    snprintf(m->arch, sizeof m->arch, "%s", arch);
    int rc = cvt_keys_check_config(c, err);
    if (rc != TRIT_OK) return rc;
    if (!strcmp(mt, "gpt_oss") && (rc = cvt__gptoss_config(c, m, err)) != TRIT_OK) return rc;
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(c, "rope_scaling");
    const char *rty = cJSON_IsObject(rs) ? jstr(rs, "rope_type") : NULL;
    if (!rty && cJSON_IsObject(rs)) rty = jstr(rs, "type");
    if (rty && !strcmp(rty, "longrope") && (rc = minicpm_longrope(rs, m, err)) != TRIT_OK) return rc;
    if (rty && !strcmp(rty, "longrope") && !strcmp(mt, "phimoe")) {
        /* PhimoeRotaryEmbedding.forward: the factor set and mscale follow the length of the
         * sequence being computed (long when seq_len > rope_scaling's original_max_position_
         * embeddings, cvt_keys.c checked the top-level copy agrees), and cos/sin are multiplied
         * by short_mscale or long_mscale instead of longrope's attention factor: spec 10.1's
         * "sequence" selection */
        m->rope_attn_short = (float)jnum(rs, "short_mscale", 1.0);
        m->rope_attn_long = (float)jnum(rs, "long_mscale", 1.0);
        m->rope_select_seq = 1;
    }
    if (m->n_expert && !m->n_expert_used)
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, "config.json", "MoE model without num_experts_per_tok");
    return TRIT_OK;
}

/* spec 10.1: model.n_ff is the width of dense FFN layers; a model whose every layer routes to
 * experts has none, whatever the config's intermediate_size says (Qwen-MoE configs keep one for
 * mlp_only_layers). */
static void normalise_dense_ff(cvt_model *m, const struct src_ckpt *s, int gguf)
{
    if (!m->n_expert) return;
    for (uint32_t i = 0; i < src_n(s); i++) {
        const char *n = src_at(s, i)->name;
        if (gguf ? strstr(n, ".ffn_up.weight") != NULL : strstr(n, ".mlp.up_proj.weight") != NULL) return;
    }
    m->n_ff = 0;
}

/* ---- GGUF keys ---- */

static int64_t gkv(const src_gguf *g, const char *arch, const char *suffix)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    return src_gguf_find_kv(g, key);
}

static uint32_t gu32(const src_gguf *g, const char *arch, const char *suffix, uint32_t dflt)
{
    int64_t const i = gkv(g, arch, suffix);
    uint64_t v;
    if (i < 0 || src_gguf_kv_u64(g, (uint64_t)i, &v) != TRIT_OK || v > UINT32_MAX) return dflt;
    return (uint32_t)v;
}

static double gf64(const src_gguf *g, const char *arch, const char *suffix, double dflt)
{
    int64_t const i = gkv(g, arch, suffix);
    double v;
    return i >= 0 && src_gguf_kv_f64(g, (uint64_t)i, &v) == TRIT_OK ? v : dflt;
}

static int gbool(const src_gguf *g, const char *arch, const char *suffix, int dflt)
{
    int64_t const i = gkv(g, arch, suffix);
    int v;
    return i >= 0 && src_gguf_kv_bool(g, (uint64_t)i, &v) == TRIT_OK ? v : dflt;
}

/* longrope as llama.cpp computes a GGUF (cvt_keys.c let rope.scaling.type "longrope" through for
 * minicpm only): llama_model_minicpm loads rope_factors_long/short.weight, get_rope_factors picks
 * the long set when the context exceeds n_ctx_orig_yarn (rope.scaling.original_context_length,
 * else context_length), ggml_rope_ext divides each frequency by its factor and multiplies cos and
 * sin by attn_factor (rope.scaling.attn_factor, default 1, for either set). With llama.cpp's
 * default context (context_length) that is spec 10.1's "context" selection. */
static int gguf_longrope(const src_gguf *g, const struct src_ckpt *s, const char *arch, cvt_model *m, trit_err *err)
{
    int64_t const ti = gkv(g, arch, "rope.scaling.type");
    const char *ty;
    uint64_t tn;
    if (ti < 0 || src_gguf_kv_str(g, (uint64_t)ti, &ty, &tn) != TRIT_OK || tn != 8 || memcmp(ty, "longrope", 8) != 0) return TRIT_OK;
    if (src_find(s, "rope_factors_long.weight") < 0 || src_find(s, "rope_factors_short.weight") < 0)
        return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, "rope_factors_long.weight",
                            "rope.scaling.type is longrope but the factor tensors rope_factors_long/short.weight are not "
                            "both present (llama.cpp would rotate without factors); trit refuses rather than guess");
    snprintf(m->rope_scaling, sizeof m->rope_scaling, "longrope");
    m->rope_orig_ctx = gu32(g, arch, "rope.scaling.original_context_length", m->n_ctx);
    m->rope_attn_short = m->rope_attn_long = (float)gf64(g, arch, "rope.scaling.attn_factor", 1.0);
    return TRIT_OK;
}

/* deepseek2 as llama.cpp reads it (src/models/deepseek2.cpp load_arch_hparams and its graph):
 * with attention.key_length_mla the file is in MLA form (head_count_kv 1, key_length kv_lora +
 * rope, attn_k_b / attn_v_b), without it the legacy MHA form (key_length qk_nope + qk_rope,
 * value_length v, attn_kv_b); the q LoRA rank 0 or absent means attn_q. Routing: expert_gating_func
 * (absent: softmax, llama.cpp's default for DeepSeek-V2 files), exp_probs_b in the selection only,
 * expert groups scored by the sum of their two best (build_moe_ffn), expert_weights_norm then
 * expert_weights_scale. YaRN: llama.cpp's deepseek2 takes both of DeepSeek's mscales from
 * yarn_log_multiplier / 0.1 and betas 32 / 1 (cvt_keys.c refuses other betas and a yarn without
 * the multiplier, which it computes in a way no DeepSeek configuration does). */
static int gguf_deepseek2(const src_gguf *g, const char *arch, cvt_model *m, trit_err *err)
{
    uint32_t const kmla = gu32(g, arch, "attention.key_length_mla", 0), vmla = gu32(g, arch, "attention.value_length_mla", 0);
    m->kv_lora_rank = gu32(g, arch, "attention.kv_lora_rank", 0);
    m->q_lora_rank = gu32(g, arch, "attention.q_lora_rank", 0);
    if (kmla || vmla) {
        m->head_dim = kmla;
        m->v_head_dim = vmla;
    } else {
        m->head_dim = gu32(g, arch, "attention.key_length", 0);
        m->v_head_dim = gu32(g, arch, "attention.value_length", m->head_dim);
    }
    m->n_head_kv = m->n_head;
    if (!m->kv_lora_rank || !m->head_dim || !m->v_head_dim || !m->rope_dim || m->rope_dim >= m->head_dim)
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, "deepseek2",
                            "multi-head latent attention needs kv_lora_rank, key/value head widths and 0 < "
                            "rope.dimension_count < the key head (got %u, %u, %u, %u)", m->kv_lora_rank, m->head_dim,
                            m->v_head_dim, m->rope_dim);
    uint32_t const ng = gu32(g, arch, "expert_group_count", 0), tg = gu32(g, arch, "expert_group_used_count", 0);
    if (ng > 1) {
        m->n_group = ng;
        m->topk_group = tg;
        snprintf(m->group_score, sizeof m->group_score, "top2sum");
    }
    int64_t const ti = gkv(g, arch, "rope.scaling.type");
    const char *ty;
    uint64_t tn;
    if (ti >= 0 && src_gguf_kv_str(g, (uint64_t)ti, &ty, &tn) == TRIT_OK && tn == 4 && !memcmp(ty, "yarn", 4)) {
        snprintf(m->rope_scaling, sizeof m->rope_scaling, "yarn");
        m->rope_scale_factor = (float)gf64(g, arch, "rope.scaling.factor", 1.0);
        m->rope_orig_ctx = gu32(g, arch, "rope.scaling.original_context_length", m->n_ctx);
        m->yarn_beta_fast = 32;
        m->yarn_beta_slow = 1;
        m->yarn_mscale = m->yarn_mscale_all_dim = (float)(gf64(g, arch, "rope.scaling.yarn_log_multiplier", 0) / 0.1);
    }
    return TRIT_OK;
}

static int from_gguf(const src_gguf *g, const struct src_ckpt *s, cvt_model *m, trit_err *err)
{
    const char *arch = src_gguf_arch(g);
    int64_t const ni = src_gguf_find_kv(g, "general.name");
    const char *name;
    uint64_t nl;
    if (ni >= 0 && src_gguf_kv_str(g, (uint64_t)ni, &name, &nl) == TRIT_OK && nl < sizeof m->name) {
        memcpy(m->name, name, (size_t)nl);
        m->name[nl] = '\0';
    }
    if (!arch) return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, NULL, "no general.architecture");
    /* The architectures whose forward pass the runner computes exactly from the keys below
     * (granite/granitemoe with their four multipliers, deepseek2 with multi-head latent
     * attention: gguf_deepseek2). phimoe (LayerNorm, biases) and any other are refused, not
     * computed as the nearest llama. */
    static const char *const archs[] = {"llama", "mistral", "qwen2", "qwen3", "qwen2moe", "qwen3moe", "olmoe",
                                        "minicpm", "granite", "granitemoe", "bitnet", "bitnet-b1.58", "bitnet-25",
                                        "deepseek2", "gpt-oss"};
    int arch_ok = 0;
    for (size_t i = 0; i < sizeof archs / sizeof archs[0] && !arch_ok; i++) arch_ok = !strcmp(arch, archs[i]);
    /* A phimoe GGUF (convert_hf_to_gguf.py PhiMoeModel) keeps the release's LayerNorm biases but
     * not router_jitter_noise, and llama.cpp computes the file with its phi3 graph (RMSNorm plus
     * bias, renormalized softmax top-2): neither the release's math nor one the file states. */
    if (!strcmp(arch, "phimoe"))
        return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, "general.architecture",
                            "architecture 'phimoe' from GGUF: the file does not state sparsemixer's threshold "
                            "(router_jitter_noise) and llama.cpp computes it with RMSNorm and softmax top-2, not the "
                            "release's LayerNorm and sparsemixer; convert the HF release instead");
    if (!arch_ok)
        return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, "general.architecture",
                            "architecture '%.40s' is not supported (llama, mistral, qwen2/3, qwen2moe, qwen3moe, "
                            "olmoe, minicpm, granite, granitemoe, bitnet, deepseek2, gpt-oss); trit refuses rather than compute something "
                            "close", arch);
    int rc = cvt_keys_check_gguf(g, arch, err);
    if (rc != TRIT_OK) return rc;
    m->n_layer = gu32(g, arch, "block_count", 0);
    m->n_embd = gu32(g, arch, "embedding_length", 0);
    m->n_ff = gu32(g, arch, "feed_forward_length", 0);
    m->n_head = gu32(g, arch, "attention.head_count", 0);
    m->n_head_kv = gu32(g, arch, "attention.head_count_kv", m->n_head);
    m->head_dim = gu32(g, arch, "attention.key_length", m->n_head ? m->n_embd / m->n_head : 0);
    m->n_ctx = gu32(g, arch, "context_length", 0);
    m->norm_eps = (float)gf64(g, arch, "attention.layer_norm_rms_epsilon", 1e-5);
    m->rope_theta = (float)gf64(g, arch, "rope.freq_base", 10000.0);
    m->rope_dim = gu32(g, arch, "rope.dimension_count", m->head_dim);
    m->n_expert = gu32(g, arch, "expert_count", 0);
    m->n_expert_used = gu32(g, arch, "expert_used_count", 0);
    m->n_ff_expert = gu32(g, arch, "expert_feed_forward_length", m->n_expert ? m->n_ff : 0);
    m->n_shared_expert = gu32(g, arch, "expert_shared_count", 0);
    m->first_dense = gu32(g, arch, "leading_dense_block_count", 0);
    m->routed_scale = (float)gf64(g, arch, "expert_weights_scale", 1.0);
    snprintf(m->gating, sizeof m->gating, "%s", gu32(g, arch, "expert_gating_func", 1) == 2 ? "sigmoid" : "softmax");
    snprintf(m->shared_gate, sizeof m->shared_gate, "none");
    int64_t const vi = src_gguf_find_kv(g, "tokenizer.ggml.tokens");
    uint32_t et;
    uint64_t count = 0;
    if (vi >= 0) src_gguf_kv_type(g, (uint64_t)vi, &et, &count);
    m->n_vocab = gu32(g, arch, "vocab_size", (uint32_t)count);
    int64_t const te = src_find(s, "token_embd.weight");
    if (!m->n_vocab && te >= 0) m->n_vocab = (uint32_t)src_at(s, (uint32_t)te)->dims[0];
    uint64_t v;
    int64_t k = src_gguf_find_kv(g, "tokenizer.ggml.bos_token_id");
    m->bos = k >= 0 && src_gguf_kv_u64(g, (uint64_t)k, &v) == TRIT_OK ? (int64_t)v : -1;
    k = src_gguf_find_kv(g, "tokenizer.ggml.eos_token_id");
    m->eos = k >= 0 && src_gguf_kv_u64(g, (uint64_t)k, &v) == TRIT_OK ? (int64_t)v : -1;
    m->tied = src_find(s, "output.weight") < 0;
    snprintf(m->hidden_act, sizeof m->hidden_act, "silu");
    /* MiniCPM's muP scaling, as llama.cpp's converter writes it from scale_emb, scale_depth
     * and dim_model_base (the same values from_config derives) */
    m->embd_scale = (float)gf64(g, arch, "embedding_scale", 0);
    m->residual_scale = (float)gf64(g, arch, "residual_scale", 0);
    /* llama.cpp's minicpm and granite graphs divide the logits by logit_scale; the container
     * multiplies the final state by model.logit_scale */
    double const gls = gf64(g, arch, "logit_scale", 0);
    m->logit_scale = gls > 0 ? (float)(1.0 / gls) : gls < 0 ? -1.0f : 0.0f;
    m->attn_scale = (float)gf64(g, arch, "attention.scale", 0);   /* 0: llama.cpp's 1/sqrt(head_dim) */
    m->ternary_model = 0;
    for (uint32_t i = 0; i < src_n(s); i++) m->ternary_model |= src_at(s, i)->ternary_hint;
    snprintf(m->act_quant, sizeof m->act_quant, "%s", m->ternary_model ? "int8_per_token" : "none");

    if ((rc = gguf_longrope(g, s, arch, m, err)) != TRIT_OK) return rc;
    if (!strcmp(arch, "bitnet") || !strcmp(arch, "bitnet-b1.58") || !strcmp(arch, "bitnet-25")) {
        snprintf(m->arch, sizeof m->arch, "bitnet");
        /* the 2B4T release declares relu2; mainline's default for older files is silu */
        int64_t const ha = gkv(g, arch, "hidden_act");
        const char *s_act;
        uint64_t n;
        if (!strcmp(arch, "bitnet-b1.58") || !strcmp(arch, "bitnet-25")) snprintf(m->hidden_act, sizeof m->hidden_act, "relu2");
        if (ha >= 0 && src_gguf_kv_str(g, (uint64_t)ha, &s_act, &n) == TRIT_OK && n < sizeof m->hidden_act) {
            memcpy(m->hidden_act, s_act, (size_t)n);
            m->hidden_act[n] = '\0';
        }
        m->ternary_model = 1;
        snprintf(m->act_quant, sizeof m->act_quant, "int8_per_token");
    } else {
        snprintf(m->arch, sizeof m->arch, "%s", arch);
        /* llama.cpp's "normal" rope archs store Q/K permuted relative to HF (formats.md 1.10) */
        m->gguf_unpermute = !strcmp(arch, "llama") || !strcmp(arch, "mistral") || !strcmp(arch, "granite") ||
                            !strcmp(arch, "granitemoe") || !strcmp(arch, "deci") || !strcmp(arch, "minicpm");
        if (!strcmp(arch, "qwen3moe") || !strcmp(arch, "granitemoe")) m->norm_topk = 1;
        else if (!strcmp(arch, "qwen2moe")) {
            m->norm_topk = 0;
            if (src_find(s, "blk.0.ffn_gate_inp_shexp.weight") >= 0) {
                snprintf(m->shared_gate, sizeof m->shared_gate, "sigmoid");
                if (!m->n_shared_expert) m->n_shared_expert = 1;
            }
        } else if (!strcmp(arch, "llama") && m->n_expert) m->norm_topk = 1; /* Mixtral as llama */
        else m->norm_topk = gbool(g, arch, "expert_weights_norm", 0);
    }
    if (!strcmp(arch, "deepseek2")) return gguf_deepseek2(g, arch, m, err);
    if (!strcmp(arch, "gpt-oss")) return cvt__gptoss_gguf(g, arch, m, err);
    return TRIT_OK;
}

/* ---- the model table's rules, on the description as the container will state it ---- */

static int kv_num(void *ctx, const char *key, double *out)
{
    const trit_kvset *kv = ctx;
    int64_t const i = trit_kvset_find(kv, key);
    if (i < 0) return 0;
    uint64_t u;
    if (trit_kvset_f64(kv, (uint32_t)i, out) == TRIT_OK) return 1;
    if (trit_kvset_u64(kv, (uint32_t)i, &u) == TRIT_OK) {   /* bools */
        *out = (double)u;
        return 1;
    }
    return 0;
}

typedef struct rule_err {
    int code;
    char msg[224];
} rule_err;

static void first_rule(void *ctx, int code, const char *key, const char *msg)
{
    rule_err *r = ctx;
    if (r->code) return;
    r->code = code;
    snprintf(r->msg, sizeof r->msg, "the description's '%s' %s", key, msg);
}

/* The rules every reader applies (trit_mt_check: the runner at load, verify on every file), so
 * that convert never writes a container its own gate and runtime refuse: a source whose
 * rope_theta overflows to inf, whose rms_norm_eps is negative, whose counts pass the limits. */
static int check_rules(const cvt_model *m, trit_err *err)
{
    trit_kvbuf *b = trit_kvbuf_new();
    if (!b) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    const void *data;
    uint64_t len;
    trit_kvset *kv = NULL;
    int rc = cvt_arch_write(m, b, err);
    if (rc == TRIT_OK) rc = trit_kvbuf_data(b, &data, &len, err);
    if (rc == TRIT_OK) rc = trit_kvset_parse(data, len, 0, "description", &kv, err);
    if (rc == TRIT_OK) {
        rule_err r = {0, ""};
        if (trit_mt_check(kv_num, kv, 1, first_rule, &r))
            rc = trit_err_set(err, r.code, TRIT_NO_OFFSET, NULL, "%s: the source is inconsistent", r.msg);
    }
    trit_kvset_free(kv);
    trit_kvbuf_free(b);
    return rc;
}

/* DeepSeek's e_score_correction_bias exists exactly with topk_method noaux_tc (MoEGate creates it
 * only then): required in every MoE layer of such a model, refused by name in any other HF model
 * (it would change the selection the release computes). */
static int deepseek_bias(const struct src_ckpt *s, const cvt_model *m, trit_err *err)
{
    if (src_ckpt_gguf(s) || !m->n_expert) return TRIT_OK;
    for (uint32_t L = 0; L < m->n_layer; L++) {
        char nm[96];
        snprintf(nm, sizeof nm, "model.layers.%u.mlp.gate.e_score_correction_bias", L);
        int const has = src_find(s, nm) >= 0;
        if (has && !m->need_bias)
            return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, nm,
                                "present, but the config's topk_method is not noaux_tc: the release's MoEGate does not "
                                "use it; trit refuses rather than compute something close");
        if (!has && m->need_bias && L >= m->first_dense)
            return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, nm, "missing: topk_method noaux_tc selects with it");
    }
    return TRIT_OK;
}

int cvt_arch_describe(const struct src_ckpt *s, cvt_model *m, trit_err *err)
{
    memset(m, 0, sizeof *m);
    m->embd_scale = m->residual_scale = m->logit_scale = 0;
    m->routed_scale = 1;
    int rc;
    if (src_ckpt_gguf(s)) {
        rc = from_gguf(src_ckpt_gguf(s), s, m, err);
    } else {
        const cJSON *c = src_st_config(src_ckpt_st(s));
        if (!c) return trit_err_set(err, TRIT_E_NOTFOUND, TRIT_NO_OFFSET, "config.json",
                                    "no config.json beside the weights: the architecture is unknown");
        rc = from_config(c, m, err);
    }
    if (rc) return rc;
    normalise_dense_ff(m, s, src_ckpt_gguf(s) != NULL);
    if (!m->n_layer || !m->n_embd || !m->n_head || !m->head_dim || !m->n_vocab)
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, NULL,
                            "incomplete model description (layers %u, embd %u, heads %u, head_dim %u, vocab %u)",
                            m->n_layer, m->n_embd, m->n_head, m->head_dim, m->n_vocab);
    if (m->n_head_kv == 0 || m->n_head % m->n_head_kv)
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, NULL, "%u heads are not a multiple of %u KV heads",
                            m->n_head, m->n_head_kv);
    rc = deepseek_bias(s, m, err);
    if (rc) return rc;
    return check_rules(m, err);
}

/* Multi-head latent attention and its YaRN (spec 10.1): DeepSeek's q_pe/k_pe are rotated in
 * interleaved pairs (modeling_deepseek.py permutes them into halves before rotate_half, which is
 * the same rotation; llama.cpp's deepseek2 uses LLAMA_ROPE_TYPE_NORM), rope_layout "norm". */
static int write_mla(const cvt_model *m, trit_kvbuf *w, trit_err *err)
{
    int rc = TRIT_OK;
#define K(x) do { if ((rc = (x)) != TRIT_OK) return rc; } while (0)
    K(trit_kvbuf_str(w, "model.rope_layout", "norm", 4, err));
    K(trit_kvbuf_u32(w, "model.kv_lora_rank", m->kv_lora_rank, err));
    K(trit_kvbuf_u32(w, "model.q_lora_rank", m->q_lora_rank, err));
    K(trit_kvbuf_u32(w, "model.v_head_dim", m->v_head_dim, err));
    if (m->rope_scaling[0]) K(cvt__write_yarn(m, w, err));
#undef K
    return rc;
}

int cvt__write_yarn(const cvt_model *m, trit_kvbuf *w, trit_err *err)
{
    int rc = TRIT_OK;
#define K(x) do { if ((rc = (x)) != TRIT_OK) return rc; } while (0)
    K(trit_kvbuf_str(w, "model.rope_scaling", "yarn", 4, err));
    K(trit_kvbuf_f32(w, "model.rope_scale_factor", m->rope_scale_factor, err));
    K(trit_kvbuf_u32(w, "model.rope_orig_ctx", m->rope_orig_ctx, err));
    K(trit_kvbuf_f32(w, "model.yarn_beta_fast", m->yarn_beta_fast, err));
    K(trit_kvbuf_f32(w, "model.yarn_beta_slow", m->yarn_beta_slow, err));
    K(trit_kvbuf_f32(w, "model.yarn_mscale", m->yarn_mscale, err));
    K(trit_kvbuf_f32(w, "model.yarn_mscale_all_dim", m->yarn_mscale_all_dim, err));
    if (m->yarn_no_truncate) K(trit_kvbuf_bool(w, "model.yarn_truncate", 0, err));
#undef K
    return rc;
}

int cvt_arch_write(const cvt_model *m, trit_kvbuf *w, trit_err *err)
{
    int rc = TRIT_OK;
#define K(x) do { if ((rc = (x)) != TRIT_OK) return rc; } while (0)
    K(trit_kvbuf_str(w, "general.architecture", m->arch, strlen(m->arch), err));
    if (m->name[0]) K(trit_kvbuf_str(w, "general.name", m->name, strlen(m->name), err));
    K(trit_kvbuf_u32(w, "model.n_layer", m->n_layer, err));
    K(trit_kvbuf_u32(w, "model.n_embd", m->n_embd, err));
    K(trit_kvbuf_u32(w, "model.n_ff", m->n_ff, err));
    K(trit_kvbuf_u32(w, "model.n_head", m->n_head, err));
    K(trit_kvbuf_u32(w, "model.n_head_kv", m->n_head_kv, err));
    K(trit_kvbuf_u32(w, "model.head_dim", m->head_dim, err));
    K(trit_kvbuf_u32(w, "model.n_vocab", m->n_vocab, err));
    K(trit_kvbuf_u32(w, "model.n_ctx", m->n_ctx, err));
    K(trit_kvbuf_f32(w, "model.norm_eps", m->norm_eps, err));
    if (m->layer_norm) K(trit_kvbuf_str(w, "model.norm_kind", "layer", 5, err));
    K(trit_kvbuf_f32(w, "model.rope_theta", m->rope_theta, err));
    K(trit_kvbuf_u32(w, "model.rope_dim", m->rope_dim, err));
    if (m->kv_lora_rank) K(write_mla(m, w, err));
    else K(trit_kvbuf_str(w, "model.rope_layout", "neox", 4, err));
    if (!m->kv_lora_rank && !strcmp(m->rope_scaling, "longrope")) {
        K(trit_kvbuf_str(w, "model.rope_scaling", "longrope", 8, err));
        K(trit_kvbuf_u32(w, "model.rope_orig_ctx", m->rope_orig_ctx, err));
        K(trit_kvbuf_f32(w, "model.rope_attn_factor_short", m->rope_attn_short, err));
        K(trit_kvbuf_f32(w, "model.rope_attn_factor_long", m->rope_attn_long, err));
        if (m->rope_select_seq) K(trit_kvbuf_str(w, "model.rope_select", "sequence", 8, err));
    }
    K(cvt__gptoss_write(m, w, err));
    K(trit_kvbuf_str(w, "model.hidden_act", m->hidden_act, strlen(m->hidden_act), err));
    K(trit_kvbuf_bool(w, "model.tied_embeddings", m->tied, err));
    K(trit_kvbuf_str(w, "model.act_quant", m->act_quant, strlen(m->act_quant), err));
    if (m->bos >= 0 && m->bos <= UINT32_MAX) K(trit_kvbuf_u32(w, "model.bos_token_id", (uint32_t)m->bos, err));
    if (m->eos >= 0 && m->eos <= UINT32_MAX) K(trit_kvbuf_u32(w, "model.eos_token_id", (uint32_t)m->eos, err));
    if (m->embd_scale != 0) K(trit_kvbuf_f32(w, "model.embd_scale", m->embd_scale, err));
    if (m->residual_scale != 0) K(trit_kvbuf_f32(w, "model.residual_scale", m->residual_scale, err));
    if (m->logit_scale != 0) K(trit_kvbuf_f32(w, "model.logit_scale", m->logit_scale, err));
    if (m->attn_scale != 0) K(trit_kvbuf_f32(w, "model.attn_scale", m->attn_scale, err));
    K(trit_kvbuf_u32(w, "moe.n_expert", m->n_expert, err));
    K(trit_kvbuf_u32(w, "moe.n_expert_used", m->n_expert_used, err));
    if (m->n_expert) {
        K(trit_kvbuf_u32(w, "moe.n_ff_expert", m->n_ff_expert, err));
        K(trit_kvbuf_str(w, "moe.gating", m->gating, strlen(m->gating), err));
        if (!strcmp(m->gating, "sparsemixer")) K(trit_kvbuf_f32(w, "moe.jitter_eps", m->jitter_eps, err));
        K(trit_kvbuf_bool(w, "moe.norm_topk", m->norm_topk, err));
        K(trit_kvbuf_f32(w, "moe.routed_scale", m->routed_scale, err));
        K(trit_kvbuf_u32(w, "moe.n_shared_expert", m->n_shared_expert, err));
        K(trit_kvbuf_str(w, "moe.shared_gate", m->shared_gate, strlen(m->shared_gate), err));
        K(trit_kvbuf_u32(w, "moe.first_dense_layers", m->first_dense, err));
        if (m->n_group) {
            K(trit_kvbuf_u32(w, "moe.n_group", m->n_group, err));
            K(trit_kvbuf_u32(w, "moe.topk_group", m->topk_group, err));
            K(trit_kvbuf_str(w, "moe.group_score", m->group_score, strlen(m->group_score), err));
        }
    }
#undef K
    return rc;
}

/* ---- names ---- */

/* The one table (format/trit_model.h) decides; this maps its roles onto the converter's. A name
 * the table does not know, or knows but does not compute, is refused: whatever it holds would
 * change the math, and dropping it would compute something close instead. */
int cvt_arch_map_name(const char *src, int gguf, cvt_name *n)
{
    memset(n, 0, sizeof *n);
    n->layer = n->expert = TRIT_NONE32;
    trit_mt_match m;
    if (!trit_mt_map(src, gguf ? TRIT_MT_CANON : TRIT_MT_HF, n->name, sizeof n->name, &m)) return -1;
    n->layer = m.layer;
    n->expert = m.expert;
    switch (m.role) {
    case TRIT_MT_FLOAT: n->role = CVT_ROLE_FLOAT; return 0;
    case TRIT_MT_PROJ: n->role = CVT_ROLE_PROJ; return 0;
    case TRIT_MT_EXPERT: n->role = CVT_ROLE_EXPERT; return 0;
    case TRIT_MT_SKIP: n->role = CVT_ROLE_SKIP; return 0;
    case TRIT_MT_EXPERT_STACK: {
        /* a 3-D stack [E, out, in]: split into blk.L.<stem>.E.weight, one per expert */
        char *x = strstr(n->name, "_exps.weight");
        if (!x) return -1;
        *x = '\0';
        n->role = CVT_ROLE_EXPERT_STACK;
        return 0;
    }
    case TRIT_MT_EXPERT_STACK_GATE_UP: {
        /* the HF fused stack (granite input_linear); the GGUF tensor of that name is refused:
         * its row order is not pinned down by a release we can check against */
        char *x = strstr(n->name, "_gate_up_exps.weight");
        if (gguf || !x) return -1;
        x[5] = '\0';   /* "blk.L.ffn_gate": the stem of the gate half; the up half is ffn_up */
        n->role = CVT_ROLE_EXPERT_STACK_GATE_UP;
        return 0;
    }
    case TRIT_MT_EXPERT_STACK_GATE_UP_IL:
    case TRIT_MT_BIAS_GATE_UP_IL:
        /* gpt-oss's HF fused stack and bias (cvt_gptoss.c splits them); GGUF files carry the halves */
        if (gguf) return -1;
        n->role = m.role == TRIT_MT_BIAS_GATE_UP_IL ? CVT_ROLE_BIAS_GATE_UP_IL : CVT_ROLE_EXPERT_STACK_GATE_UP_IL;
        return 0;
    case TRIT_MT_SCALE:
        /* GGUF BitNet {projection}.scale is folded into its projection; the HF weight_scale
         * is consumed by the safetensors reader and never reaches here */
        if (!gguf) return -1;
        n->role = CVT_ROLE_SCALE;
        return 0;
    default: return -1;
    }
}
