/* gen_config.c - config.json of each safetensors layout, with the keys the real releases
 * carry (formats.md 3.3 BitNet 2B4T, 3.4 1bitLLM, 3.5 BitCPM4/MiniCPM, 4.1 Mixtral and
 * Qwen3-MoE). */
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

static void fill(cJSON *j, const gen_opts *o)
{
    switch (o->layout) {
    case GEN_LAYOUT_BITNET: {
        add_arch(j, "BitNetForCausalLM");
        str(j, "model_type", "bitnet");
        common(j, o);
        str(j, "hidden_act", "relu2");
        num(j, "intermediate_size", o->n_ff);
        num(j, "rms_norm_eps", 1e-5);
        num(j, "rope_theta", 500000.0);
        flag(j, "tie_word_embeddings", 1);
        str(j, "torch_dtype", "bfloat16");
        cJSON *q = cJSON_AddObjectToObject(j, "quantization_config");
        if (q) {
            str(q, "quant_method", "bitnet");
            str(q, "linear_class", "bitlinear");
            str(q, "quantization_mode", "offline");
        }
        break;
    }
    case GEN_LAYOUT_LATENT:
        add_arch(j, "BitnetForCausalLM");
        str(j, "model_type", "llama");
        common(j, o);
        str(j, "hidden_act", "silu");
        num(j, "intermediate_size", o->n_ff);
        num(j, "input_bits", 8);
        num(j, "weight_bits", 1);
        num(j, "pretraining_tp", 1);
        num(j, "rms_norm_eps", 1e-5);
        cJSON_AddNullToObject(j, "rope_scaling");
        num(j, "rope_theta", 10000.0);
        flag(j, "tie_word_embeddings", 0);
        str(j, "torch_dtype", "float16");
        break;
    case GEN_LAYOUT_BITCPM: {
        add_arch(j, "MiniCPMForCausalLM");
        cJSON *m = cJSON_AddObjectToObject(j, "auto_map");
        if (m) {
            str(m, "AutoConfig", "configuration_minicpm.MiniCPMConfig");
            str(m, "AutoModel", "modeling_minicpm.MiniCPMModel");
            str(m, "AutoModelForCausalLM", "modeling_minicpm.MiniCPMForCausalLM");
        }
        str(j, "model_type", "minicpm");
        common(j, o);
        str(j, "hidden_act", "silu");
        num(j, "intermediate_size", o->n_ff);
        num(j, "rms_norm_eps", 1e-6);
        num(j, "rope_theta", 10000.0);
        num(j, "scale_emb", 12);
        num(j, "dim_model_base", 256);
        num(j, "scale_depth", 1.4);
        flag(j, "tie_word_embeddings", 1);
        str(j, "torch_dtype", "bfloat16");
        break;
    }
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
        break;
    case GEN_LAYOUT_QWEN3MOE:
        add_arch(j, "Qwen3MoeForCausalLM");
        str(j, "model_type", "qwen3_moe");
        common(j, o);
        str(j, "hidden_act", "silu");
        num(j, "head_dim", o->n_embd / o->n_head);
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
        break;
    default: break;
    }
    str(j, "transformers_version", "4.51.0");
}

int gen__write_config(const gen_opts *op, gen_out *o, trit_err *err)
{
    cJSON *j = cJSON_CreateObject();
    if (!j) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, "config.json", "no memory");
    fill(j, op);
    char *s = cJSON_Print(j);
    cJSON_Delete(j);
    if (!s) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, "config.json", "no memory");
    int rc = gen__out_write(o, s, strlen(s), err);
    if (!rc) rc = gen__out_str(o, "\n", err);
    cJSON_free(s);
    return rc;
}
