/* gen_config.c - config.json of each safetensors layout, with the keys the real releases
 * carry (formats.md 3.3 BitNet 2B4T, 3.4 1bitLLM, 3.5 BitCPM4/MiniCPM, 4.1 MoE naming, 12 the
 * release survey). Each layout cites the release and the modeling code its keys come from. */
#include <string.h>

#include <cJSON.h>

#include "gen_int.h"

static void num(cJSON *j, const char *k, double v) { cJSON_AddNumberToObject(j, k, v); }
static void str(cJSON *j, const char *k, const char *v) { cJSON_AddStringToObject(j, k, v); }
static void flag(cJSON *j, const char *k, int v) { cJSON_AddBoolToObject(j, k, v); }

static void add_arch(cJSON *j, const char *arch)
{
    cJSON *a = cJSON_AddArrayToObject(j, "architectures");
    if (a) cJSON_AddItemToArray(a, cJSON_CreateString(arch));
}

/* Keys every llama-like config has. */
static void common(cJSON *j, const gen_opts *o)
{
    num(j, "bos_token_id", gen_tok_bos(o->n_vocab));
    num(j, "eos_token_id", gen_tok_eos(o->n_vocab));
    num(j, "hidden_size", o->n_embd);
    num(j, "initializer_range", 0.02);
    num(j, "max_position_embeddings", o->n_ctx);
    num(j, "num_attention_heads", o->n_head);
    num(j, "num_hidden_layers", o->n_layer);
    num(j, "num_key_value_heads", o->n_head_kv);
    num(j, "vocab_size", o->n_vocab);
    flag(j, "use_cache", 1);
    flag(j, "attention_bias", 0);
    num(j, "attention_dropout", 0.0);
}

/* transformers' PretrainedConfig.to_json_string writes sort_keys=True: configs saved by
 * save_pretrained list their keys (and nested keys) alphabetically. */
static int key_cmp(const cJSON *x, const cJSON *y) { return strcmp(x->string ? x->string : "", y->string ? y->string : ""); }

static void sort_keys(cJSON *obj)
{
    if (!cJSON_IsObject(obj)) return;
    /* insertion sort of the child list (configs have a few dozen keys) */
    cJSON *sorted = NULL, *it = obj->child;
    while (it) {
        cJSON *next = it->next;
        sort_keys(it);
        it->prev = it->next = NULL;
        if (!sorted || key_cmp(it, sorted) < 0) {
            it->next = sorted;
            if (sorted) sorted->prev = it;
            sorted = it;
        } else {
            cJSON *c = sorted;
            while (c->next && key_cmp(c->next, it) <= 0) c = c->next;
            it->next = c->next;
            if (c->next) c->next->prev = it;
            c->next = it;
            it->prev = c;
        }
        it = next;
    }
    obj->child = sorted;
    /* cJSON keeps the last element in child->prev */
    if (sorted) {
        cJSON *last = sorted;
        while (last->next) last = last->next;
        sorted->prev = last;
    }
}

static void auto_map(cJSON *j, const char *cfg, const char *model, const char *causal)
{
    cJSON *m = cJSON_AddObjectToObject(j, "auto_map");
    if (!m) return;
    str(m, "AutoConfig", cfg);
    if (model) str(m, "AutoModel", model);
    str(m, "AutoModelForCausalLM", causal);
}

/* The DeepSeek releases' config.json, scaled down:
 *   deepseek2    deepseek-ai/DeepSeek-V2-Lite (formats.md 4.1 and 12; transformers
 *                configuration_deepseek_v2.py): q_lora_rank null, first_k_dense_replace 1,
 *                n_shared_experts 2, n_group/topk_group 1, topk_method greedy, yarn rope_scaling
 *                with mscale/mscale_all_dim 0.707
 *   deepseek-v2  deepseek-ai/DeepSeek-V2 (as copied in public code: q_lora_rank 1536, n_group 8,
 *                topk_group 3, topk_method group_limited_greedy, routed_scaling_factor 16.0,
 *                norm_topk_prob false, mscale/mscale_all_dim 1.0, transformers_version 4.39.3)
 *   deepseek-v3  deepseek-ai/DeepSeek-V3 (inference/configs/config_671B.json of the GitHub
 *                release and README_WEIGHTS.md: DeepseekV3ForCausalLM, model_type deepseek_v3,
 *                scoring_func sigmoid, topk_method noaux_tc, n_group 8, topk_group 4,
 *                norm_topk_prob true, routed_scaling_factor 2.5, n_shared_experts 1,
 *                first_k_dense_replace 3, num_nextn_predict_layers 1, quantization_config fp8 e4m3
 *                [128, 128] dynamic, yarn factor 40 with mscale/mscale_all_dim 1.0)
 * Scaled: 4 groups of the generator's experts (V2 keeps 1, V3 2); one first dense layer. */
static void deepseek_config(const gen_opts *o, cJSON *j)
{
    gen_layout const l = o->layout;
    int const v3 = l == GEN_LAYOUT_DEEPSEEK_V3, grouped = l != GEN_LAYOUT_DEEPSEEK2;
    uint32_t nope, rope, v, kl;
    gen__deepseek_dims(o, &nope, &rope, &v, &kl);
    add_arch(j, v3 ? "DeepseekV3ForCausalLM" : "DeepseekV2ForCausalLM");
    if (v3)
        auto_map(j, "configuration_deepseek.DeepseekV3Config", "modeling_deepseek.DeepseekV3Model",
                 "modeling_deepseek.DeepseekV3ForCausalLM");
    else
        auto_map(j, "configuration_deepseek.DeepseekV2Config", "modeling_deepseek.DeepseekV2Model",
                 "modeling_deepseek.DeepseekV2ForCausalLM");
    flag(j, "attention_bias", 0);
    num(j, "attention_dropout", 0.0);
    num(j, "aux_loss_alpha", 0.001);
    num(j, "bos_token_id", gen_tok_bos(o->n_vocab));
    num(j, "eos_token_id", gen_tok_eos(o->n_vocab));
    num(j, "ep_size", 1);
    num(j, "first_k_dense_replace", 1);
    str(j, "hidden_act", "silu");
    num(j, "hidden_size", o->n_embd);
    num(j, "initializer_range", 0.02);
    num(j, "intermediate_size", 4.0 * o->n_ff);
    num(j, "kv_lora_rank", kl);
    num(j, "max_position_embeddings", o->n_ctx);
    str(j, "model_type", v3 ? "deepseek_v3" : "deepseek_v2");
    num(j, "moe_intermediate_size", o->n_ff);
    num(j, "moe_layer_freq", 1);
    num(j, "n_group", grouped ? 4 : 1);
    num(j, "n_routed_experts", o->n_expert);
    num(j, "n_shared_experts", gen__shared_ff(o) / o->n_ff);
    flag(j, "norm_topk_prob", v3);
    num(j, "num_attention_heads", o->n_head);
    num(j, "num_experts_per_tok", o->n_expert_used);
    num(j, "num_hidden_layers", o->n_layer);
    num(j, "num_key_value_heads", o->n_head_kv);
    if (v3) num(j, "num_nextn_predict_layers", 1);
    num(j, "pretraining_tp", 1);
    if (o->q_lora) num(j, "q_lora_rank", o->q_lora);
    else cJSON_AddNullToObject(j, "q_lora_rank");
    num(j, "qk_nope_head_dim", nope);
    num(j, "qk_rope_head_dim", rope);
    if (v3) {
        cJSON *q = cJSON_AddObjectToObject(j, "quantization_config");
        if (q) {
            str(q, "activation_scheme", "dynamic");
            str(q, "fmt", "e4m3");
            str(q, "quant_method", "fp8");
            cJSON *bs = cJSON_AddArrayToObject(q, "weight_block_size");
            if (bs) {
                cJSON_AddItemToArray(bs, cJSON_CreateNumber(GEN_FP8_BLOCK));
                cJSON_AddItemToArray(bs, cJSON_CreateNumber(GEN_FP8_BLOCK));
            }
        }
    }
    num(j, "rms_norm_eps", 1e-6);
    cJSON *r = cJSON_AddObjectToObject(j, "rope_scaling");
    if (r) {
        double const ms = l == GEN_LAYOUT_DEEPSEEK2 ? 0.707 : 1.0;
        num(r, "beta_fast", 32);
        num(r, "beta_slow", 1);
        num(r, "factor", 40);
        num(r, "mscale", ms);
        num(r, "mscale_all_dim", ms);
        num(r, "original_max_position_embeddings", 4096);
        str(r, "type", "yarn");
    }
    num(j, "rope_theta", 10000);
    num(j, "routed_scaling_factor", v3 ? 2.5 : l == GEN_LAYOUT_DEEPSEEK_V2 ? 16.0 : 1.0);
    str(j, "scoring_func", v3 ? "sigmoid" : "softmax");
    flag(j, "seq_aux", 1);
    flag(j, "tie_word_embeddings", 0);
    /* V2 keeps fewer groups than it routes experts (3 < 6), V3 half of them (4 of 8): here 1
     * and 2 of 4 groups for 2 experts per token (with max as the group score, keeping as many
     * groups as experts per token could never change the selection) */
    num(j, "topk_group", v3 ? 2 : 1);
    str(j, "topk_method", v3 ? "noaux_tc" : grouped ? "group_limited_greedy" : "greedy");
    str(j, "torch_dtype", "bfloat16");
    flag(j, "use_cache", 1);
    num(j, "v_head_dim", v);
    num(j, "vocab_size", o->n_vocab);
    str(j, "transformers_version", v3 ? "4.33.1" : l == GEN_LAYOUT_DEEPSEEK_V2 ? "4.39.3" : "4.33.1");
}


/* longrope factors: one per rotary frequency (head_dim / 2). MiniCPM4 (openbmb/MiniCPM4-8B
 * config.json; the MiniCPM README's LongRoPE section): {rope_type, long_factor, short_factor,
 * original_max_position_embeddings} in that order, original 32768 = max_position_embeddings,
 * factors rising from about 1 (0.9978 ... 124.1 over 64 frequencies). Scaled down: the sets
 * differ here (the release repeats one list) so that a converter or runner that picks the wrong
 * set is caught, and --rope-orig below --ctx makes MiniCPMLongRoPE select the long one.
 * Phi-3.5-MoE carries short/long_mscale and "type". */
static void longrope(cJSON *j, const gen_opts *o, int phi)
{
    cJSON *r = cJSON_AddObjectToObject(j, "rope_scaling");
    if (!r) return;
    uint32_t const n = gen_head_dim(o) / 2;
    if (!phi) str(r, "rope_type", "longrope");
    cJSON *lf = cJSON_AddArrayToObject(r, "long_factor"), *sf = NULL;
    for (uint32_t i = 0; lf && i < n; i++) cJSON_AddItemToArray(lf, cJSON_CreateNumber(1.0 + 0.25 * i * i));
    if (phi) {
        num(r, "long_mscale", 1.243163121016122);
        num(r, "original_max_position_embeddings", 4096);
    }
    sf = cJSON_AddArrayToObject(r, "short_factor");
    for (uint32_t i = 0; sf && i < n; i++) cJSON_AddItemToArray(sf, cJSON_CreateNumber(0.9977997200264581 + 0.01 * i));
    if (phi) {
        num(r, "short_mscale", 1.243163121016122);
        str(r, "type", "longrope");
    } else {
        num(r, "original_max_position_embeddings", o->rope_orig ? o->rope_orig : o->n_ctx);
    }
}

static void bitnet_quant(cJSON *j, const char *linear_class, const char *mode)
{
    cJSON *q = cJSON_AddObjectToObject(j, "quantization_config");
    if (!q) return;
    str(q, "quant_method", "bitnet");
    str(q, "linear_class", linear_class);
    str(q, "quantization_mode", mode);
}

static void moe_common(cJSON *j, const gen_opts *o)
{
    num(j, "num_experts_per_tok", o->n_expert_used);
    flag(j, "output_router_logits", 0);
}

/* Returns 1 when the release's config.json is save_pretrained output (sorted keys). */
static int fill(cJSON *j, const gen_opts *o)
{
    switch (o->layout) {
    case GEN_LAYOUT_BITNET:
    case GEN_LAYOUT_BITNET_BITLINEAR:
    case GEN_LAYOUT_BITNET_BF16:
        /* microsoft/bitnet-b1.58-2B-4T config.json (formats.md 3.3 and 12; transformers
         * models/bitnet/configuration_bitnet.py, integrations/bitnet.py AutoBitLinear):
         * linear_class autobitlinear, quantization_mode offline (packed) or online (-bf16
         * master weights). bitnet-bitlinear keeps the BitNetQuantConfig default class. */
        add_arch(j, "BitNetForCausalLM");
        str(j, "model_type", "bitnet");
        common(j, o);
        str(j, "hidden_act", "relu2");
        num(j, "intermediate_size", o->n_ff);
        num(j, "rms_norm_eps", 1e-5);
        num(j, "rope_theta", 500000.0);
        flag(j, "tie_word_embeddings", 1);
        str(j, "torch_dtype", "bfloat16");
        bitnet_quant(j, o->layout == GEN_LAYOUT_BITNET_BITLINEAR ? "bitlinear" : "autobitlinear",
                     o->layout == GEN_LAYOUT_BITNET_BF16 ? "online" : "offline");
        return 0;
    case GEN_LAYOUT_LATENT:
        /* 1bitLLM/bitnet_b1_58-large config.json (as copied in public code: model_type llama,
         * BitnetForCausalLM, weight_bits 1, input_bits 8, pad_token_id, tie_word_embeddings true,
         * torch_dtype float32) and formats.md 3.4 / 12 (F32 on disk, tied, no lm_head.weight). */
        add_arch(j, "BitnetForCausalLM");
        str(j, "model_type", "llama");
        common(j, o);
        str(j, "hidden_act", "silu");
        num(j, "intermediate_size", o->n_ff);
        num(j, "input_bits", 8);
        num(j, "weight_bits", 1);
        num(j, "pad_token_id", o->n_vocab - 1);
        num(j, "pretraining_tp", 1);
        num(j, "rms_norm_eps", 1e-5);
        cJSON_AddNullToObject(j, "rope_scaling");
        num(j, "rope_theta", 10000.0);
        flag(j, "tie_word_embeddings", 1);
        str(j, "torch_dtype", "float32");
        return 1;
    case GEN_LAYOUT_LLAMA158: {
        /* HF1BitLLM/Llama3-8B-1.58-100B-tokens config.json (formats.md 12): LlamaForCausalLM,
         * quantization_config {quant_method: bitnet} with the key written twice and no
         * linear_class (transformers BitLinear: the stored scale divides), untied BF16 lm_head,
         * rope_theta 500000, no sub-norms. tiiuae/Falcon3-*-1.58bit share the packing
         * (ggml-org/llama.cpp#11122) with modules_to_not_convert ["lm_head"]. */
        add_arch(j, "LlamaForCausalLM");
        str(j, "model_type", "llama");
        common(j, o);
        str(j, "hidden_act", "silu");
        num(j, "intermediate_size", o->n_ff);
        flag(j, "mlp_bias", 0);
        num(j, "pretraining_tp", 1);
        cJSON *q = cJSON_AddObjectToObject(j, "quantization_config");
        if (q) {
            str(q, "quant_method", "bitnet");
            str(q, "quant_method", "bitnet");   /* duplicated in the release's JSON */
            cJSON *m = cJSON_AddArrayToObject(q, "modules_to_not_convert");
            if (m) cJSON_AddItemToArray(m, cJSON_CreateString("lm_head"));
        }
        num(j, "rms_norm_eps", 1e-5);
        cJSON_AddNullToObject(j, "rope_scaling");
        num(j, "rope_theta", 500000.0);
        flag(j, "tie_word_embeddings", 0);
        str(j, "torch_dtype", "bfloat16");
        return 1;
    }
    case GEN_LAYOUT_BITCPM:
    case GEN_LAYOUT_MINICPM4:
        /* openbmb BitCPM4 / MiniCPM4 config.json (formats.md 3.5 and 12): MiniCPM remote code,
         * muP scalings; MiniCPM4 configs carry rope_scaling {rope_type longrope, long_factor,
         * short_factor, original_max_position_embeddings}. */
        add_arch(j, "MiniCPMForCausalLM");
        auto_map(j, "configuration_minicpm.MiniCPMConfig", "modeling_minicpm.MiniCPMModel",
                 "modeling_minicpm.MiniCPMForCausalLM");
        str(j, "model_type", "minicpm");
        common(j, o);
        str(j, "hidden_act", "silu");
        num(j, "intermediate_size", o->n_ff);
        num(j, "rms_norm_eps", 1e-6);
        if (o->layout == GEN_LAYOUT_MINICPM4) longrope(j, o, 0);
        num(j, "rope_theta", 10000.0);
        num(j, "scale_emb", 12);
        num(j, "dim_model_base", 256);
        num(j, "scale_depth", 1.4);
        flag(j, "tie_word_embeddings", 1);
        str(j, "torch_dtype", "bfloat16");
        return 0;
    case GEN_LAYOUT_MIXTRAL:
        add_arch(j, "MixtralForCausalLM");
        str(j, "model_type", "mixtral");
        common(j, o);
        str(j, "hidden_act", "silu");
        num(j, "intermediate_size", o->n_ff);
        num(j, "num_local_experts", o->n_expert);
        num(j, "num_experts_per_tok", o->n_expert_used);
        flag(j, "output_router_logits", 0);
        num(j, "router_aux_loss_coef", 0.02);
        num(j, "rms_norm_eps", 1e-5);
        num(j, "rope_theta", 1000000.0);
        cJSON_AddNullToObject(j, "sliding_window");
        flag(j, "tie_word_embeddings", 0);
        str(j, "torch_dtype", "bfloat16");
        return 0;
    case GEN_LAYOUT_QWEN3MOE:
        /* Qwen/Qwen3-30B-A3B config.json (formats.md 12; transformers configuration_qwen3_moe.py):
         * head_dim 128 with hidden 2048 and 32 heads, so head_dim is its own key */
        add_arch(j, "Qwen3MoeForCausalLM");
        str(j, "model_type", "qwen3_moe");
        common(j, o);
        str(j, "hidden_act", "silu");
        num(j, "head_dim", gen_head_dim(o));
        /* Dense width is unused when every layer is sparse; Qwen3-30B-A3B has 8x the expert width. */
        num(j, "intermediate_size", 8.0 * o->n_ff);
        num(j, "moe_intermediate_size", o->n_ff);
        num(j, "num_experts", o->n_expert);
        num(j, "num_experts_per_tok", o->n_expert_used);
        flag(j, "norm_topk_prob", 1);
        num(j, "decoder_sparse_step", 1);
        cJSON_AddArrayToObject(j, "mlp_only_layers");
        flag(j, "output_router_logits", 0);
        num(j, "router_aux_loss_coef", 0.001);
        num(j, "rms_norm_eps", 1e-6);
        num(j, "rope_theta", 1000000.0);
        cJSON_AddNullToObject(j, "rope_scaling");
        flag(j, "use_sliding_window", 0);
        cJSON_AddNullToObject(j, "sliding_window");
        num(j, "max_window_layers", o->n_layer);
        flag(j, "tie_word_embeddings", 0);
        str(j, "torch_dtype", "bfloat16");
        return 0;
    case GEN_LAYOUT_QWEN2MOE:
        /* Qwen/Qwen1.5-MoE-A2.7B config.json (formats.md 4.1 and 12; transformers
         * configuration_qwen2_moe.py, modeling_qwen2_moe.py: q/k/v Linear with bias, o_proj
         * without; shared_expert + sigmoid(shared_expert_gate); norm_topk_prob false) */
        add_arch(j, "Qwen2MoeForCausalLM");
        str(j, "model_type", "qwen2_moe");
        num(j, "attention_dropout", 0.0);
        num(j, "bos_token_id", gen_tok_bos(o->n_vocab));
        num(j, "eos_token_id", gen_tok_bos(o->n_vocab));   /* Qwen1.5: both <|endoftext|> */
        str(j, "hidden_act", "silu");
        num(j, "hidden_size", o->n_embd);
        num(j, "initializer_range", 0.02);
        num(j, "intermediate_size", gen__shared_ff(o));
        num(j, "max_position_embeddings", o->n_ctx);
        num(j, "max_window_layers", o->n_layer);
        num(j, "num_attention_heads", o->n_head);
        num(j, "num_hidden_layers", o->n_layer);
        num(j, "num_key_value_heads", o->n_head_kv);
        num(j, "rms_norm_eps", 1e-6);
        num(j, "rope_theta", 1000000.0);
        num(j, "sliding_window", 32768);
        flag(j, "tie_word_embeddings", 0);
        str(j, "torch_dtype", "bfloat16");
        flag(j, "use_cache", 1);
        flag(j, "use_sliding_window", 0);
        num(j, "vocab_size", o->n_vocab);
        num(j, "decoder_sparse_step", 1);
        num(j, "moe_intermediate_size", o->n_ff);
        num(j, "shared_expert_intermediate_size", gen__shared_ff(o));
        num(j, "num_experts_per_tok", o->n_expert_used);
        num(j, "num_experts", o->n_expert);
        flag(j, "norm_topk_prob", 0);
        flag(j, "output_router_logits", 0);
        num(j, "router_aux_loss_coef", 0.001);
        return 0;
    case GEN_LAYOUT_OLMOE:
        /* allenai/OLMoE-1B-7B-0924 config.json (formats.md 12; transformers
         * configuration_olmoe.py: rms_norm_eps class default 1e-5, clip_qkv None,
         * norm_topk_prob False; the release's file has no rms_norm_eps key, bos null) */
        add_arch(j, "OlmoeForCausalLM");
        flag(j, "attention_bias", 0);
        num(j, "attention_dropout", 0.0);
        cJSON_AddNullToObject(j, "bos_token_id");
        cJSON_AddNullToObject(j, "clip_qkv");
        num(j, "eos_token_id", gen_tok_eos(o->n_vocab));
        str(j, "hidden_act", "silu");
        num(j, "hidden_size", o->n_embd);
        num(j, "initializer_range", 0.02);
        num(j, "intermediate_size", o->n_ff);
        num(j, "max_position_embeddings", o->n_ctx);
        str(j, "model_type", "olmoe");
        flag(j, "norm_topk_prob", 0);
        num(j, "num_attention_heads", o->n_head);
        num(j, "num_experts", o->n_expert);
        num(j, "num_experts_per_tok", o->n_expert_used);
        num(j, "num_hidden_layers", o->n_layer);
        num(j, "num_key_value_heads", o->n_head_kv);
        flag(j, "output_router_logits", 0);
        num(j, "pad_token_id", 1);
        cJSON_AddNullToObject(j, "rope_scaling");
        num(j, "rope_theta", 10000.0);
        num(j, "router_aux_loss_coef", 0.01);
        flag(j, "tie_word_embeddings", 0);
        str(j, "torch_dtype", "bfloat16");
        flag(j, "use_cache", 1);
        num(j, "vocab_size", o->n_vocab);
        return 1;
    case GEN_LAYOUT_DEEPSEEK2:
    case GEN_LAYOUT_DEEPSEEK_V2:
    case GEN_LAYOUT_DEEPSEEK_V3:
        deepseek_config(o, j);
        return 1;
    case GEN_LAYOUT_GRANITEMOE:
        /* ibm-granite/granite-3.1-1b-a400m config.json (../shared/fixtures/safetensors/index-only/
         * granite-3.1-1b-a400m-moe/config.json, a real copy): the four multipliers, F32, tied;
         * transformers configuration_granitemoe.py */
        add_arch(j, "GraniteMoeForCausalLM");
        flag(j, "attention_bias", 0);
        num(j, "attention_dropout", 0.0);
        num(j, "attention_multiplier", 0.015625);
        num(j, "bos_token_id", gen_tok_bos(o->n_vocab));
        num(j, "embedding_multiplier", 12.0);
        num(j, "eos_token_id", gen_tok_eos(o->n_vocab));
        str(j, "hidden_act", "silu");
        num(j, "hidden_size", o->n_embd);
        num(j, "initializer_range", 0.02);
        num(j, "intermediate_size", o->n_ff);
        num(j, "logits_scaling", 6.0);
        num(j, "max_position_embeddings", o->n_ctx);
        str(j, "model_type", "granitemoe");
        num(j, "num_attention_heads", o->n_head);
        num(j, "num_experts_per_tok", o->n_expert_used);
        num(j, "num_hidden_layers", o->n_layer);
        num(j, "num_key_value_heads", o->n_head_kv);
        num(j, "num_local_experts", o->n_expert);
        flag(j, "output_router_logits", 0);
        num(j, "pad_token_id", gen_tok_eos(o->n_vocab));
        num(j, "residual_multiplier", 0.22);
        num(j, "rms_norm_eps", 1e-6);
        cJSON_AddNullToObject(j, "rope_scaling");
        num(j, "rope_theta", 1500000.0);
        num(j, "router_aux_loss_coef", 0.0);
        flag(j, "tie_word_embeddings", 1);
        str(j, "torch_dtype", "float32");
        str(j, "transformers_version", "4.47.0");
        flag(j, "use_cache", 1);
        num(j, "vocab_size", o->n_vocab);
        return 1;
    case GEN_LAYOUT_PHIMOE:
        /* microsoft/Phi-3.5-MoE-instruct config.json (formats.md 12; transformers
         * configuration_phimoe.py / modeling_phimoe.py: LayerNorm with bias, attention_bias,
         * lm_head_bias, sparsemixer top-2 routing, longrope with short/long mscale) */
        add_arch(j, "PhiMoEForCausalLM");
        auto_map(j, "configuration_phimoe.PhiMoEConfig", NULL, "modeling_phimoe.PhiMoEForCausalLM");
        flag(j, "attention_bias", 1);
        num(j, "attention_dropout", 0.0);
        num(j, "bos_token_id", gen_tok_bos(o->n_vocab));
        num(j, "eos_token_id", gen_tok_eos(o->n_vocab));
        str(j, "hidden_act", "silu");
        num(j, "hidden_dropout", 0.0);
        num(j, "hidden_size", o->n_embd);
        num(j, "initializer_range", 0.02);
        num(j, "input_jitter_noise", 0.01);
        num(j, "intermediate_size", o->n_ff);
        flag(j, "lm_head_bias", 1);
        num(j, "max_position_embeddings", o->n_ctx);
        str(j, "model_type", "phimoe");
        num(j, "num_attention_heads", o->n_head);
        num(j, "num_hidden_layers", o->n_layer);
        num(j, "num_key_value_heads", o->n_head_kv);
        num(j, "num_local_experts", o->n_expert);
        num(j, "original_max_position_embeddings", 4096);
        moe_common(j, o);
        num(j, "rms_norm_eps", 1e-5);
        longrope(j, o, 1);
        num(j, "rope_theta", 10000.0);
        num(j, "router_aux_loss_coef", 0.0);
        num(j, "router_jitter_noise", 0.01);
        num(j, "sliding_window", o->n_ctx);
        flag(j, "tie_word_embeddings", 0);
        str(j, "torch_dtype", "bfloat16");
        str(j, "transformers_version", "4.43.3");
        flag(j, "use_cache", 1);
        num(j, "vocab_size", o->n_vocab);
        return 1;
    case GEN_LAYOUT_GPT_OSS: return gen__gptoss_config(o, j);
    default: return 0;
    }
}

int gen__write_config(const gen_opts *op, gen_out *o, trit_err *err)
{
    cJSON *j = cJSON_CreateObject();
    if (!j) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, "config.json", "no memory");
    int const sorted = fill(j, op);
    if (!cJSON_GetObjectItemCaseSensitive(j, "transformers_version")) str(j, "transformers_version", "4.51.0");
    if (sorted) sort_keys(j);
    char *s = cJSON_Print(j);
    cJSON_Delete(j);
    if (!s) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, "config.json", "no memory");
    int rc = gen__out_write(o, s, strlen(s), err);
    if (!rc) rc = gen__out_str(o, "\n", err);
    cJSON_free(s);
    return rc;
}
