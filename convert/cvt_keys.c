/*
 * cvt_keys.c - strict semantics: every config.json key and every GGUF {arch}.* key of a source is
 * either read into the model description (cvt_arch.c), known not to change the forward math
 * (listed here with the reason), or refuses the conversion naming the key and its value
 * (TRIT_E_UNSUPPORTED, exit 5). A key on none of the lists is refused too: a new key in a
 * release is a change of math until someone has read the modeling code. Computing something
 * "close enough" and shipping it with a green check is the one outcome this file exists to stop.
 *
 * Sources: transformers' configuration_*.py and modeling_*.py of each family (llama, mistral,
 * mixtral, qwen2, qwen2_moe, qwen3, qwen3_moe, olmoe, bitnet, minicpm, deepseek_v2/v3,
 * granitemoe, phimoe; gpt_oss in cvt_gptoss.c); llama.cpp's convert_hf_to_gguf.py and gguf-py constants for the GGUF
 * keys (formats.md 1.10).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cJSON.h>

#include "cvt_arch.h"
#include "cvt_gptoss.h"
#include "src_gguf.h"

/* ---- config.json ------------------------------------------------------------------------ */

/* Read into the description by cvt_arch.c (value checks, where a value can be unsupported,
 * are in check_value below). */
static const char *const cfg_mapped[] = {
    "model_type", "architectures", "num_hidden_layers", "hidden_size", "intermediate_size",
    "num_attention_heads", "num_key_value_heads", "head_dim", "vocab_size", "max_position_embeddings",
    "rms_norm_eps", "rope_theta", "tie_word_embeddings", "bos_token_id", "eos_token_id", "hidden_act",
    "_name_or_path", "quantization_config", "weight_bits", "input_bits",
    /* MoE */
    "num_local_experts", "num_experts", "n_routed_experts", "num_experts_per_tok", "moe_intermediate_size",
    "routed_scaling_factor", "first_k_dense_replace", "norm_topk_prob", "scoring_func", "n_shared_experts",
    "shared_expert_intermediate_size",
    /* MiniCPM's muP scaling */
    "scale_emb", "scale_depth", "dim_model_base",
};

/* Known not to change inference math, and why. */
static const struct { const char *key, *why; } cfg_inert[] = {
    {"transformers_version", "metadata"},
    {"torch_dtype", "the storage dtype; the tensors state their own"},
    {"dtype", "the storage dtype; the tensors state their own"},
    {"use_cache", "a KV-cache switch of the HF runtime"},
    {"initializer_range", "training initialisation"},
    {"attention_dropout", "dropout is off at inference"},
    {"hidden_dropout", "dropout is off at inference"},
    {"embd_pdrop", "dropout is off at inference"},
    {"resid_pdrop", "dropout is off at inference"},
    {"pad_token_id", "padding id; no effect on next-token logits"},
    {"unk_token_id", "tokenizer metadata"},
    {"sep_token_id", "tokenizer metadata"},
    {"tokenizer_class", "tokenizer metadata"},
    {"output_router_logits", "training output switch"},
    {"router_aux_loss_coef", "training loss"},
    {"router_z_loss_coef", "training loss"},
    {"router_jitter_noise", "training noise (Mixtral); PhiMoE's sparsemixer threshold is mapped (check_phimoe)"},
    {"input_jitter_noise", "training noise (PhimoeSparseMoeBlock scales its input only when training)"},
    {"aux_loss_alpha", "training loss"},
    {"seq_aux", "training loss"},
    {"auto_map", "HF remote-code class names"},
    {"pretraining_tp", "HF splits the matmuls by it; the sum is the same"},
    {"max_window_layers", "used only with use_sliding_window (refused when true)"},
    {"ep_size", "expert parallelism of the training run"},
    {"return_dict", "HF output switch"},
    {"output_attentions", "HF output switch"},
    {"output_hidden_states", "HF output switch"},
    {"use_return_dict", "HF output switch"},
    {"torchscript", "HF export switch"},
    {"is_decoder", "HF class switch"},
    {"task_specific_params", "metadata"},
    {"model_name", "metadata"},
    {"_attn_implementation", "kernel choice of the HF runtime"},
    {"_attn_implementation_autoset", "kernel choice of the HF runtime"},
};

static int in_strs(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(s, list[i])) return 1;
    return 0;
}

/* The value as short JSON text for messages. */
static void value_text(const cJSON *v, char *out, size_t cap)
{
    char *s = cJSON_PrintUnformatted(v);
    if (!s) {
        snprintf(out, cap, "(value)");
        return;
    }
    size_t const n = strlen(s);
    if (n + 1 > cap && cap > 4) snprintf(out, cap, "%.*s...", (int)(cap - 4), s);
    else snprintf(out, cap, "%s", s);
    cJSON_free(s);
}

static int refuse(const char *key, const cJSON *v, trit_err *err, const char *why)
{
    char val[72];
    value_text(v, val, sizeof val);
    return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, "config.json",
                        "key '%s' = %s: %s; trit refuses rather than compute something close", key, val, why);
}

static int is_null_or_false(const cJSON *v) { return !v || cJSON_IsNull(v) || cJSON_IsFalse(v); }

static double jnum_or(const cJSON *o, const char *k, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

/* rope_scaling {rope_type: longrope} (spec 10.1), for the model types whose modeling code is
 * mapped: MiniCPM's MiniCPMLongRoPE (modeling_minicpm.py of openbmb/MiniCPM4-8B, BitCPM4: reads
 * short_factor, long_factor and original_max_position_embeddings, and max_position_embeddings
 * for its cos/sin scaling factor); PhiMoE's PhimoeRotaryEmbedding (modeling_phimoe.py: the same
 * factors through transformers' _compute_longrope_parameters, and short_mscale / long_mscale,
 * which configuration_phimoe.py requires as numbers, in place of its attention factor). Every
 * member is checked here; the factor counts against head_dim / 2 in cvt_arch.c. */
static const char *const longrope_types[] = {"minicpm", "phimoe"};

static int check_longrope(const cJSON *c, const cJSON *v, trit_err *err)
{
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(c, "model_type");
    if (!cJSON_IsString(mt) || !in_strs(mt->valuestring, longrope_types, sizeof longrope_types / sizeof longrope_types[0]))
        return refuse("rope_scaling", v, err, "longrope is mapped for model_type minicpm (MiniCPMLongRoPE) and phimoe only");
    if (!cJSON_IsObject(v)) return refuse("rope_scaling", v, err, "must be an object");
    static const char *const need[] = {"long_factor", "short_factor", "original_max_position_embeddings"};
    for (size_t i = 0; i < 3; i++)
        if (!cJSON_GetObjectItemCaseSensitive(v, need[i])) {
            char why[96];
            snprintf(why, sizeof why, "longrope needs '%s' (MiniCPMLongRoPE reads it)", need[i]);
            return refuse("rope_scaling", v, err, why);
        }
    int const phi = !strcmp(mt->valuestring, "phimoe");
    static const char *const mscales[] = {"short_mscale", "long_mscale"};
    for (size_t i = 0; phi && i < 2; i++) {
        const cJSON *ms = cJSON_GetObjectItemCaseSensitive(v, mscales[i]);
        char key[48];
        snprintf(key, sizeof key, "rope_scaling.%s", mscales[i]);
        /* PhimoeConfig raises unless it is a number; it multiplies cos and sin */
        if (!cJSON_IsNumber(ms) || !isfinite(ms->valuedouble) || !(ms->valuedouble > 0) || !isfinite((float)ms->valuedouble))
            return refuse(key, ms ? ms : v, err, "PhimoeRotaryEmbedding multiplies cos and sin by it: a finite number > 0 is needed");
    }
    const cJSON *mp = cJSON_GetObjectItemCaseSensitive(c, "max_position_embeddings");
    if (!cJSON_IsNumber(mp) || mp->valuedouble < 1)
        return refuse("max_position_embeddings", mp ? mp : v, err,
                      "longrope's cos/sin scaling factor is computed from it (MiniCPMLongRoPE): a positive integer is needed");
    for (const cJSON *it = v->child; it; it = it->next) {
        if (!it->string) continue;
        char key[96];
        snprintf(key, sizeof key, "rope_scaling.%.64s", it->string);
        if (!strcmp(it->string, "rope_type") || !strcmp(it->string, "type")) {
            if (!cJSON_IsString(it) || strcmp(it->valuestring, "longrope") != 0)
                return refuse(key, it, err, "rope_type and type must agree (longrope)");
        } else if (!strcmp(it->string, "long_factor") || !strcmp(it->string, "short_factor")) {
            if (!cJSON_IsArray(it) || !it->child) return refuse(key, it, err, "must be a non-empty array of numbers");
            for (const cJSON *x = it->child; x; x = x->next)
                if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble) || x->valuedouble <= 0 || !isfinite((float)x->valuedouble))
                    return refuse(key, x, err, "every factor must be a finite number > 0 (it divides a rotary frequency)");
        } else if (!strcmp(it->string, "original_max_position_embeddings")) {
            if (!cJSON_IsNumber(it) || it->valuedouble < 2 || it->valuedouble > 4294967295.0 || it->valuedouble != floor(it->valuedouble))
                return refuse(key, it, err, "must be an integer >= 2 (its logarithm divides in the scaling factor)");
        } else if (phi && (!strcmp(it->string, "short_mscale") || !strcmp(it->string, "long_mscale"))) {
            continue;   /* checked above */
        } else if (!strcmp(it->string, "factor")) {
            /* MiniCPMLongRoPE does not read it; MiniCPM4 derivatives state 1.0 */
            if (!cJSON_IsNumber(it) || it->valuedouble != 1.0)
                return refuse(key, it, err, "MiniCPMLongRoPE does not read it; a value other than 1 is not computed by the release either");
        } else {
            return refuse(key, it, err, "a longrope parameter trit does not know may change the math");
        }
    }
    return TRIT_OK;
}

/* Keys whose presence is fine but whose value may ask for math the runner does not do. */
/* Counts and ids read with ju32 (cvt_arch.c), which falls back to a default for a value it
 * cannot use: a present value must be a non-negative integer below 2^32, or it is refused here
 * instead of silently becoming the default. */
static const char *const cfg_u32[] = {
    "num_hidden_layers", "hidden_size", "intermediate_size", "num_attention_heads", "num_key_value_heads",
    "head_dim", "vocab_size", "max_position_embeddings", "num_local_experts", "num_experts", "n_routed_experts",
    "num_experts_per_tok", "moe_intermediate_size", "first_k_dense_replace", "n_shared_experts",
    "shared_expert_intermediate_size", "weight_bits",
};

/* Flags read with jbool (cvt_arch.c): Python takes any non-empty string as true, jbool takes a
 * non-bool as its default, so a present flag must be a JSON bool (or null, "not set"). */
static const char *const cfg_bool[] = {"tie_word_embeddings", "norm_topk_prob"};

static int check_value(const cJSON *c, const char *k, const cJSON *v, trit_err *err)
{
    if (in_strs(k, cfg_bool, sizeof cfg_bool / sizeof cfg_bool[0]))
        return cJSON_IsBool(v) || cJSON_IsNull(v) ? 1 : refuse(k, v, err, "must be true or false");
    if (in_strs(k, cfg_u32, sizeof cfg_u32 / sizeof cfg_u32[0])) {
        if (cJSON_IsNull(v)) return 1;
        return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= 4294967295.0 &&
                       v->valuedouble == floor(v->valuedouble)
                   ? 1
                   : refuse(k, v, err, "must be a non-negative integer below 2^32");
    }
    static const char *const granite_keys[] = {"attention_multiplier", "embedding_multiplier", "residual_multiplier",
                                               "logits_scaling"};
    if (in_strs(k, granite_keys, 4)) {
        /* granite's four multipliers are mapped (cvt_arch.c) for the granite families only */
        const cJSON *mt = cJSON_GetObjectItemCaseSensitive(c, "model_type");
        int const granite = cJSON_IsString(mt) && !strncmp(mt->valuestring, "granite", 7);
        if (!granite) return refuse(k, v, err, "granite's multipliers are mapped for model_type granite/granitemoe only");
        return cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble > 0
                   ? TRIT_OK
                   : refuse(k, v, err, "a multiplier must be a finite number > 0");
    }
    if (!strcmp(k, "rope_scaling")) {
        if (cJSON_IsNull(v)) return TRIT_OK;
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(v, "rope_type");
        if (!cJSON_IsString(t)) t = cJSON_GetObjectItemCaseSensitive(v, "type");
        if (cJSON_IsString(t) && !strcmp(t->valuestring, "default")) return TRIT_OK;
        if (cJSON_IsString(t) && !strcmp(t->valuestring, "longrope")) return check_longrope(c, v, err);
        char why[96];
        snprintf(why, sizeof why, "rope scaling type '%.32s' is not implemented by the runner",
                 cJSON_IsString(t) ? t->valuestring : "?");
        return refuse(k, v, err, why);
    }
    if (!strcmp(k, "hidden_act")) {
        static const char *const ok[] = {"silu", "swish", "relu2", "gelu"};
        if (cJSON_IsString(v) && in_strs(v->valuestring, ok, 4)) return TRIT_OK;
        return refuse(k, v, err, "the runner computes silu, relu2 and gelu (erf)");
    }
    if (!strcmp(k, "attention_bias") || !strcmp(k, "lm_head_bias")) {
        /* q/k/v/o biases (LlamaAttention, PhimoeAttention) and PhiMoE's lm_head bias: the
         * checkpoint carries them as tensors (attn_*.bias, output.bias) and the runner adds
         * every one present; a bias the flag promises but the checkpoint lacks is what
         * transformers initialises it to (zero) */
        return cJSON_IsBool(v) || cJSON_IsNull(v) ? TRIT_OK : refuse(k, v, err, "must be true or false");
    }
    if (!strcmp(k, "mlp_bias")) return is_null_or_false(v) ? TRIT_OK : refuse(k, v, err, "FFN biases are not computed");
    if (!strcmp(k, "use_sliding_window")) return is_null_or_false(v) ? TRIT_OK : refuse(k, v, err, "sliding-window attention is not implemented");
    if (!strcmp(k, "sliding_window")) {
        /* Qwen2 configs carry a window that applies only with use_sliding_window */
        const cJSON *use = cJSON_GetObjectItemCaseSensitive(c, "use_sliding_window");
        const cJSON *ctx = cJSON_GetObjectItemCaseSensitive(c, "max_position_embeddings");
        if (cJSON_IsNull(v) || (use && cJSON_IsFalse(use))) return TRIT_OK;
        if (cJSON_IsNumber(v) && cJSON_IsNumber(ctx) && v->valuedouble >= ctx->valuedouble) return TRIT_OK;
        return refuse(k, v, err, "a window shorter than the context changes attention; sliding-window attention is not implemented");
    }
    if (!strcmp(k, "attn_logit_softcapping") || !strcmp(k, "final_logit_softcapping"))
        return cJSON_IsNull(v) ? TRIT_OK : refuse(k, v, err, "logit soft-capping is not implemented");
    if (!strcmp(k, "partial_rotary_factor"))
        return cJSON_IsNumber(v) && v->valuedouble == 1.0 ? TRIT_OK : refuse(k, v, err, "partial rotary embeddings are not implemented");
    if (!strcmp(k, "clip_qkv")) return cJSON_IsNull(v) ? TRIT_OK : refuse(k, v, err, "QKV clipping is not implemented");
    if (!strcmp(k, "decoder_sparse_step"))
        return cJSON_IsNumber(v) && v->valuedouble == 1.0 ? TRIT_OK : refuse(k, v, err, "only every layer MoE (step 1) is implemented");
    if (!strcmp(k, "mlp_only_layers"))
        return cJSON_IsArray(v) && cJSON_GetArraySize(v) == 0 ? TRIT_OK : refuse(k, v, err, "dense layers inside a Qwen-MoE stack are not implemented");
    if (!strcmp(k, "moe_layer_freq"))
        return cJSON_IsNumber(v) && v->valuedouble == 1.0 ? TRIT_OK : refuse(k, v, err, "only every layer after the dense ones MoE is implemented");
    if (!strcmp(k, "input_bits"))
        return cJSON_IsNumber(v) && v->valuedouble == 8.0 ? TRIT_OK : refuse(k, v, err, "activations are quantized to 8 bits");
    if (!strcmp(k, "scoring_func")) {
        static const char *const ok[] = {"softmax", "sigmoid"};
        return cJSON_IsString(v) && in_strs(v->valuestring, ok, 2) ? TRIT_OK : refuse(k, v, err, "routing scores are softmax or sigmoid");
    }
    if (!strcmp(k, "n_group") || !strcmp(k, "topk_group"))
        return cJSON_IsNull(v) || (cJSON_IsNumber(v) && v->valuedouble == 1.0) ? TRIT_OK
               : refuse(k, v, err, "group-limited expert routing is not implemented");
    if (!strcmp(k, "topk_method")) {
        static const char *const ok[] = {"greedy", "gready"};   /* DeepSeek-V2-Lite spells it "gready" */
        return cJSON_IsString(v) && in_strs(v->valuestring, ok, 2) ? TRIT_OK : refuse(k, v, err, "only greedy top-k routing is implemented");
    }
    return 1;   /* not a value-checked key */
}

/* DeepSeek-V3's FP8 release (README_WEIGHTS.md "FP8 Weight Documentation"): quant_method fp8,
 * fmt e4m3, weight_block_size [128, 128], activation_scheme dynamic. The weights are dequantized by
 * the source reader, value * weight_scale_inv of its block (src.c); "dynamic" names the release
 * kernels' per-token-per-128-channel activation quantization at run time, which trit, like
 * llama.cpp's converter (dequant_simple), does not apply: it computes with the dequantized weights.
 * Any other member or value may change the math and is refused. */
static int check_fp8(const char *k, const cJSON *v, trit_err *err)
{
    if (!cJSON_IsObject(v)) return refuse(k, v, err, "must be an object");
    const cJSON *qm = cJSON_GetObjectItemCaseSensitive(v, "quant_method");
    if (!cJSON_IsString(qm) || strcmp(qm->valuestring, "fp8") != 0)
        return refuse(k, v, err, "a DeepSeek model is read in BF16 or as the FP8 release (quant_method fp8)");
    for (const cJSON *it = v->child; it; it = it->next) {
        char key[96];
        snprintf(key, sizeof key, "quantization_config.%.64s", it->string ? it->string : "?");
        if (!it->string) return refuse(k, v, err, "unnamed member");
        if (!strcmp(it->string, "quant_method")) continue;
        if (!strcmp(it->string, "fmt")) {
            if (cJSON_IsString(it) && !strcmp(it->valuestring, "e4m3")) continue;
            return refuse(key, it, err, "the FP8 weights are read as e4m3 (float8_e4m3fn)");
        }
        if (!strcmp(it->string, "activation_scheme")) {
            if (cJSON_IsString(it) && !strcmp(it->valuestring, "dynamic")) continue;
            return refuse(key, it, err, "static activation scales are not read");
        }
        if (!strcmp(it->string, "weight_block_size")) {
            const cJSON *a = it->child, *b = a ? a->next : NULL;
            if (cJSON_IsArray(it) && cJSON_GetArraySize(it) == 2 && cJSON_IsNumber(a) && cJSON_IsNumber(b) &&
                a->valuedouble >= 1 && a->valuedouble <= 65536 && a->valuedouble == floor(a->valuedouble) &&
                b->valuedouble >= 1 && b->valuedouble <= 65536 && b->valuedouble == floor(b->valuedouble))
                continue;
            return refuse(key, it, err, "must be two block sizes [rows, cols] in 1..65536");
        }
        return refuse(key, it, err, "an FP8 quantization setting trit does not know may change the math");
    }
    return TRIT_OK;
}

/* DeepSeek-V2's keys (model_type deepseek*): multi-head latent attention and YaRN are mapped
 * (cvt_arch.c deepseek_mla); what the runner does not compute is refused by name. Sources:
 * modeling_deepseek.py (DeepseekV2Attention, DeepseekV2YarnRotaryEmbedding, MoEGate) and
 * transformers' configuration_deepseek_v2.py. Returns 1 for a key it does not handle. */
static int check_deepseek(const cJSON *c, const char *k, const cJSON *v, trit_err *err)
{
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(c, "model_type");
    if (!cJSON_IsString(mt) || strncmp(mt->valuestring, "deepseek", 8) != 0) return 1;
    static const char *const dims[] = {"kv_lora_rank", "qk_rope_head_dim", "qk_nope_head_dim", "v_head_dim"};
    int const pos_int = cJSON_IsNumber(v) && v->valuedouble >= 1 && v->valuedouble <= 65536 &&
                        v->valuedouble == floor(v->valuedouble);
    if (in_strs(k, dims, 4)) {
        if (!pos_int) return refuse(k, v, err, "multi-head latent attention needs a positive integer");
        if (!strcmp(k, "qk_rope_head_dim") && fmod(v->valuedouble, 2) != 0) return refuse(k, v, err, "the rotary part must be even");
        return TRIT_OK;
    }
    if (!strcmp(k, "q_lora_rank"))   /* null (V2-Lite): q_proj; a rank (V2): q_a_proj, q_a_layernorm, q_b_proj */
        return cJSON_IsNull(v) || pos_int ? TRIT_OK : refuse(k, v, err, "q_lora_rank must be null or a positive integer");
    /* MoEGate: V2's computes softmax with greedy or group_limited_greedy; V3's sigmoid with
     * noaux_tc; each raises NotImplementedError for anything else (cvt_arch.c deepseek_gate) */
    int const v3 = !strcmp(mt->valuestring, "deepseek_v3");
    if (!strcmp(k, "scoring_func")) {
        const char *want = v3 ? "sigmoid" : "softmax";
        return cJSON_IsString(v) && !strcmp(v->valuestring, want)
                   ? TRIT_OK
                   : refuse(k, v, err, v3 ? "DeepSeek-V3's MoEGate computes sigmoid scores only"
                                          : "DeepSeek-V2's MoEGate computes softmax scores only");
    }
    if (!strcmp(k, "topk_method")) {
        static const char *const v2ok[] = {"greedy", "gready", "group_limited_greedy"};   /* V2-Lite spells it "gready" */
        int const ok = cJSON_IsString(v) && (v3 ? !strcmp(v->valuestring, "noaux_tc") : in_strs(v->valuestring, v2ok, 3));
        return ok ? TRIT_OK
                  : refuse(k, v, err, v3 ? "DeepSeek-V3's MoEGate computes noaux_tc only"
                                         : "DeepSeek-V2's MoEGate computes greedy and group_limited_greedy");
    }
    if (!strcmp(k, "n_group") || !strcmp(k, "topk_group"))   /* read by deepseek_gate for the grouped methods */
        return cJSON_IsNull(v) || pos_int ? TRIT_OK : refuse(k, v, err, "must be null or a positive integer");
    if (!strcmp(k, "num_nextn_predict_layers"))
        /* V3's multi-token-prediction modules (README_WEIGHTS.md): layers num_hidden_layers ..
         * + N - 1, used for speculative decoding only; skipped by name (cvt_convert.c), as
         * llama.cpp's converter does (DeepseekV2Model skip_mtp) */
        return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= 64 && v->valuedouble == floor(v->valuedouble)
                   ? TRIT_OK
                   : refuse(k, v, err, "must be an integer in [0, 64]");
    if (!strcmp(k, "quantization_config")) return check_fp8(k, v, err);
    if (!strcmp(k, "rope_scaling")) {
        if (cJSON_IsNull(v)) return TRIT_OK;
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(v, "type");
        if (!cJSON_IsString(t)) t = cJSON_GetObjectItemCaseSensitive(v, "rope_type");
        if (!cJSON_IsString(t) || strcmp(t->valuestring, "yarn") != 0)
            return refuse(k, v, err, "DeepSeek's rope scaling is implemented for type yarn only");
        /* DeepseekV2YarnRotaryEmbedding's parameters, each a finite number; nothing else */
        static const char *const yk[] = {"factor", "original_max_position_embeddings", "beta_fast", "beta_slow",
                                         "mscale", "mscale_all_dim"};
        for (const cJSON *it = v->child; it; it = it->next) {
            if (!it->string || !strcmp(it->string, "type") || !strcmp(it->string, "rope_type")) continue;
            char key[96];
            snprintf(key, sizeof key, "rope_scaling.%.64s", it->string);
            if (!in_strs(it->string, yk, 6)) return refuse(key, it, err, "a yarn parameter trit does not know may change the math");
            if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble) || it->valuedouble < 0 ||
                ((!strcmp(it->string, "factor") || !strcmp(it->string, "original_max_position_embeddings")) && it->valuedouble <= 0))
                return refuse(key, it, err, "must be a finite number >= 0 (factor and original_max_position_embeddings > 0)");
        }
        return TRIT_OK;
    }
    return 1;
}

/* PhiMoE's keys (model_type phimoe; transformers' configuration_phimoe.py, modeling_phimoe.py):
 * router_jitter_noise is sparsemixer's threshold here (mapped to moe.jitter_eps), not training
 * noise as in Mixtral; PhimoeAttention's head width is hidden_size / num_attention_heads
 * whatever a head_dim key says; the top-level original_max_position_embeddings is read only
 * with a rope scaling (rope_scaling's own copy is the one PhimoeRotaryEmbedding uses). Returns
 * 1 for a key it does not handle. */
static int check_phimoe(const cJSON *c, const char *k, const cJSON *v, trit_err *err)
{
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(c, "model_type");
    if (!cJSON_IsString(mt) || strcmp(mt->valuestring, "phimoe") != 0) return 1;
    if (!strcmp(k, "router_jitter_noise"))
        return cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble >= 0
                   ? TRIT_OK
                   : refuse(k, v, err, "sparsemixer's threshold must be a finite number >= 0");
    if (!strcmp(k, "head_dim")) {
        double const h = jnum_or(c, "hidden_size", -1), n = jnum_or(c, "num_attention_heads", -1);
        return cJSON_IsNumber(v) && n > 0 && v->valuedouble * n == h
                   ? TRIT_OK
                   : refuse(k, v, err, "PhimoeAttention's head width is hidden_size / num_attention_heads");
    }
    if (!strcmp(k, "original_max_position_embeddings")) {
        const cJSON *rs = cJSON_GetObjectItemCaseSensitive(c, "rope_scaling");
        const cJSON *o = cJSON_IsObject(rs) ? cJSON_GetObjectItemCaseSensitive(rs, "original_max_position_embeddings") : NULL;
        if (!rs || cJSON_IsNull(rs)) return TRIT_OK;
        return cJSON_IsNumber(v) && cJSON_IsNumber(o) && v->valuedouble == o->valuedouble
                   ? TRIT_OK
                   : refuse(k, v, err, "differs from rope_scaling's original_max_position_embeddings");
    }
    return 1;
}

/* Keys that name a mechanism the runner does not have, whatever their value (but null). */
static const struct { const char *key, *why; } cfg_refused[] = {
    {"q_lora_rank", "multi-head latent attention (MLA) is computed for DeepSeek model types only"},
    {"kv_lora_rank", "multi-head latent attention (MLA) is computed for DeepSeek model types only"},
    {"qk_rope_head_dim", "multi-head latent attention (MLA) is computed for DeepSeek model types only"},
    {"qk_nope_head_dim", "multi-head latent attention (MLA) is computed for DeepSeek model types only"},
    {"v_head_dim", "multi-head latent attention (MLA) is computed for DeepSeek model types only"},
    {"num_nextn_predict_layers", "multi-token-prediction layers are known for DeepSeek model types only"},
    {"layer_norm_eps", "a LayerNorm eps key of a family trit does not compute (PhiMoE, its one LayerNorm family, states rms_norm_eps)"},
};

int cvt_keys_check_config(const cJSON *c, trit_err *err)
{
    for (const cJSON *it = c ? c->child : NULL; it; it = it->next) {
        const char *k = it->string;
        if (!k) continue;
        int drc = check_deepseek(c, k, it, err);
        if (drc == 1) drc = check_phimoe(c, k, it, err);
        if (drc == 1) drc = cvt__gptoss_check_key(c, k, it, err);
        if (drc != 1) {
            if (drc != TRIT_OK) return drc;
            continue;
        }
        int const rc = check_value(c, k, it, err);
        if (rc != 1) {
            if (rc != TRIT_OK) return rc;
            continue;
        }
        if (in_strs(k, cfg_mapped, sizeof cfg_mapped / sizeof cfg_mapped[0])) continue;
        int known = 0;
        for (size_t i = 0; i < sizeof cfg_inert / sizeof cfg_inert[0] && !known; i++) known = !strcmp(k, cfg_inert[i].key);
        if (known) continue;
        for (size_t i = 0; i < sizeof cfg_refused / sizeof cfg_refused[0]; i++)
            if (!strcmp(k, cfg_refused[i].key)) {
                if (cJSON_IsNull(it)) goto next;
                return refuse(k, it, err, cfg_refused[i].why);
            }
        return refuse(k, it, err, "a key trit does not know may change the forward math (convert/cvt_keys.c lists the known ones)");
    next:;
    }
    return TRIT_OK;
}

/* ---- GGUF ------------------------------------------------------------------------------- */

/* {arch}.* suffixes cvt_arch.c reads. */
static const char *const gguf_mapped[] = {
    "context_length", "embedding_length", "block_count", "feed_forward_length", "attention.head_count",
    "attention.head_count_kv", "attention.key_length", "attention.layer_norm_rms_epsilon", "rope.freq_base",
    "rope.dimension_count", "expert_count", "expert_used_count", "expert_feed_forward_length",
    "expert_shared_count", "leading_dense_block_count", "expert_weights_scale", "expert_weights_norm",
    "expert_gating_func", "vocab_size", "hidden_act", "embedding_scale", "residual_scale", "logit_scale",
    "attention.scale",
};
static const struct { const char *suffix, *why; } gguf_inert[] = {
    {"tensor_data_layout", "names llama.cpp's Q/K row order, handled by the architecture"},
    {"expert_shared_feed_forward_length", "the shared expert's tensors state their width"},
    {"rope.scaling.finetuned", "training metadata"},
    {"pooling_type", "embedding-model pooling; next-token logits do not pool"},
};

static int gkv(const src_gguf *g, const char *arch, const char *suffix, int64_t *idx)
{
    char key[160];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    *idx = src_gguf_find_kv(g, key);
    return *idx >= 0;
}

static int grefuse(const char *key, const char *val, trit_err *err, const char *why)
{
    return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, key,
                        "GGUF key '%s'%s%s: %s; trit refuses rather than compute something close", key,
                        val ? " = " : "", val ? val : "", why);
}

/* deepseek2's own {arch}.* keys (llama.cpp src/models/deepseek2.cpp, llama-model.cpp
 * load_hparams; cvt_arch.c gguf_deepseek2 reads them). Returns 1 for a key it does not handle. */
static int check_deepseek2(const src_gguf *g, uint64_t i, const char *k, const char *sfx, trit_err *err)
{
    static const char *const counts[] = {"attention.q_lora_rank", "attention.kv_lora_rank", "attention.key_length_mla",
                                         "attention.value_length_mla", "attention.key_length", "attention.value_length",
                                         "expert_group_count", "expert_group_used_count"};
    uint64_t u;
    double d;
    if (in_strs(sfx, counts, sizeof counts / sizeof counts[0]))
        return src_gguf_kv_u64(g, i, &u) == TRIT_OK && u <= UINT32_MAX ? TRIT_OK
               : grefuse(k, NULL, err, "must be an unsigned integer below 2^32");
    if (!strcmp(sfx, "nextn_predict_layers")) {
        if (src_gguf_kv_u64(g, i, &u) == TRIT_OK && u == 0) return TRIT_OK;
        return grefuse(k, NULL, err, "multi-token-prediction blocks inside block_count are not separated from the model");
    }
    if (!strcmp(sfx, "rope.scaling.type")) {
        const char *s;
        uint64_t n;
        if (src_gguf_kv_str(g, i, &s, &n) == TRIT_OK && ((n == 4 && !memcmp(s, "yarn", 4)) || (n == 4 && !memcmp(s, "none", 4)))) {
            int64_t lm;
            if (n == 4 && !memcmp(s, "yarn", 4) && !gkv(g, "deepseek2", "rope.scaling.yarn_log_multiplier", &lm))
                return grefuse(k, "'yarn'", err, "deepseek2 yarn without rope.scaling.yarn_log_multiplier: llama.cpp then "
                               "scales rope and attention in a way no DeepSeek configuration states");
            return TRIT_OK;
        }
        return grefuse(k, NULL, err, "deepseek2 rope scaling is computed for yarn only");
    }
    if (!strcmp(sfx, "rope.scaling.factor") || !strcmp(sfx, "rope.scaling.yarn_log_multiplier"))
        return src_gguf_kv_f64(g, i, &d) == TRIT_OK && isfinite(d) && d > 0 ? TRIT_OK
               : grefuse(k, NULL, err, "must be a finite number > 0");
    if (!strcmp(sfx, "rope.scaling.yarn_beta_fast") || !strcmp(sfx, "rope.scaling.yarn_beta_slow")) {
        /* llama.cpp's deepseek2 does not read them: it computes 32 and 1 */
        double const want = strstr(sfx, "fast") ? 32.0 : 1.0;
        return src_gguf_kv_f64(g, i, &d) == TRIT_OK && d == want ? TRIT_OK
               : grefuse(k, NULL, err, "llama.cpp's deepseek2 computes yarn betas 32 / 1 whatever the file says");
    }
    return 1;
}

int cvt_keys_check_gguf(const src_gguf *g, const char *arch, trit_err *err)
{
    size_t const al = strlen(arch);
    for (uint64_t i = 0; i < src_gguf_n_kv(g); i++) {
        const char *k = src_gguf_kv_key(g, i);
        if (!k || strncmp(k, arch, al) != 0 || k[al] != '.') continue;   /* general.*, tokenizer.*, split.* */
        const char *sfx = k + al + 1;
        if (!strcmp(arch, "deepseek2") || !strcmp(arch, "gpt-oss")) {
            int const drc = !strcmp(arch, "gpt-oss") ? cvt__gptoss_check_gguf_key(g, i, k, sfx, err) : check_deepseek2(g, i, k, sfx, err);
            if (drc == TRIT_OK) continue;
            if (drc != 1) return drc;
        }
        if (!strcmp(sfx, "expert_gating_func")) {
            uint64_t gf;
            if (src_gguf_kv_u64(g, i, &gf) == TRIT_OK && (gf == 1 || gf == 2)) continue;   /* softmax, sigmoid */
            return grefuse(k, NULL, err, "only gating functions 1 (softmax) and 2 (sigmoid) are computed");
        }
        if (!strcmp(sfx, "hidden_act")) {
            const char *s;
            uint64_t n;
            if (src_gguf_kv_str(g, i, &s, &n) == TRIT_OK &&
                ((n == 4 && !memcmp(s, "silu", 4)) || (n == 5 && !memcmp(s, "relu2", 5)) || (n == 4 && !memcmp(s, "gelu", 4))))
                continue;
            return grefuse(k, NULL, err, "the runner computes silu, relu2 and gelu (erf)");
        }
        if (in_strs(sfx, gguf_mapped, sizeof gguf_mapped / sizeof gguf_mapped[0])) {
            /* read with gu32/gf64 (cvt_arch.c), which fall back to defaults on a value they
             * cannot use: the value must be a number, and counts fit 32 bits */
            uint64_t u;
            double d;
            int const is_float = strstr(sfx, "epsilon") || strstr(sfx, "freq_base") || strstr(sfx, "scale");
            if (is_float ? src_gguf_kv_f64(g, i, &d) == TRIT_OK && isfinite(d)
                         : (src_gguf_kv_u64(g, i, &u) == TRIT_OK && u <= UINT32_MAX) || !strcmp(sfx, "expert_weights_norm"))
                continue;
            return grefuse(k, NULL, err, is_float ? "must be a finite number" : "must be an unsigned integer below 2^32");
        }
        int known = 0;
        for (size_t j = 0; j < sizeof gguf_inert / sizeof gguf_inert[0] && !known; j++) known = !strcmp(sfx, gguf_inert[j].suffix);
        if (known) continue;
        char val[64] = "";
        const char *s;
        uint64_t n;
        double d;
        if (src_gguf_kv_str(g, i, &s, &n) == TRIT_OK) snprintf(val, sizeof val, "'%.*s'", (int)(n > 40 ? 40 : n), s);
        else if (src_gguf_kv_f64(g, i, &d) == TRIT_OK) snprintf(val, sizeof val, "%g", d);
        if (!strcmp(sfx, "rope.scaling.type")) {
            if (!strcmp(val, "'none'")) continue;
            /* llama.cpp's minicpm loads rope_factors_long/short for longrope (cvt_arch.c) */
            if (!strcmp(val, "'longrope'") && !strcmp(arch, "minicpm")) continue;
            return grefuse(k, val, err, "rope scaling is implemented for longrope of arch minicpm only");
        }
        if (!strcmp(sfx, "rope.scaling.original_context_length")) {
            uint64_t u;
            if (src_gguf_kv_u64(g, i, &u) == TRIT_OK && u >= 1 && u <= UINT32_MAX) continue;   /* longrope reads it */
            return grefuse(k, val, err, "must be an unsigned integer in [1, 2^32)");
        }
        if (!strcmp(sfx, "rope.scaling.attn_factor")) {
            /* llama.cpp multiplies every rotation's cos and sin by it (hparams.rope_attn_factor),
             * whatever the scaling type; longrope maps it (cvt_arch.c) */
            int64_t ti;
            const char *ts;
            uint64_t tn;
            int const longrope = gkv(g, arch, "rope.scaling.type", &ti) && src_gguf_kv_str(g, (uint64_t)ti, &ts, &tn) == TRIT_OK &&
                                 tn == 8 && !memcmp(ts, "longrope", 8) && !strcmp(arch, "minicpm");
            if (src_gguf_kv_f64(g, i, &d) == TRIT_OK && isfinite(d) && (longrope ? d > 0 : d == 1.0)) continue;
            return grefuse(k, val, err, longrope ? "must be a finite number > 0" : "a cos/sin multiplier is computed with longrope only");
        }
        if (!strcmp(sfx, "rope.scaling.factor") || !strcmp(sfx, "rope.scale_linear")) {
            if (src_gguf_kv_f64(g, i, &d) == TRIT_OK && d == 1.0) continue;
            return grefuse(k, val, err, "rope scaling is not implemented by the runner");
        }
        if (!strcmp(sfx, "attention.value_length")) {
            int64_t kl;
            uint64_t a, b;
            if (src_gguf_kv_u64(g, i, &a) == TRIT_OK && gkv(g, arch, "attention.key_length", &kl) &&
                src_gguf_kv_u64(g, (uint64_t)kl, &b) == TRIT_OK && a == b)
                continue;
            if (src_gguf_kv_u64(g, i, &a) == TRIT_OK && !gkv(g, arch, "attention.key_length", &kl)) continue;
            return grefuse(k, val, err, "value heads of another width than key heads are not implemented");
        }
        if (!strcmp(sfx, "attention.sliding_window"))
            return grefuse(k, val, err, "sliding-window attention is not implemented");
        if (!strncmp(sfx, "attention.q_lora_rank", 21) || !strncmp(sfx, "attention.kv_lora_rank", 22))
            return grefuse(k, val, err, "multi-head latent attention (MLA) is not implemented");
        return grefuse(k, val, err, "a key trit does not know may change the forward math (convert/cvt_keys.c lists the known ones)");
    }
    return TRIT_OK;
}
