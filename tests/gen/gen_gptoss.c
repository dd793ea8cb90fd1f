/*
 * gen_gptoss.c - the gpt-oss layouts. Sources (facts; checked at these revisions):
 *   openai/gpt-oss-20b config.json (its keys and values below; the 120b differs in layers and
 *     experts only) and safetensors layout: model.layers.L.mlp.experts.gate_up_proj_blocks U8
 *     [E, 2 * intermediate, hidden / 32, 16] + _scales U8 [E, 2 * intermediate, hidden / 32],
 *     down_proj_blocks [E, hidden, intermediate / 32, 16] + _scales, gate_up_proj_bias
 *     [E, 2 * intermediate], down_proj_bias [E, hidden], mlp.router.weight / .bias,
 *     self_attn.{q,k,v,o}_proj.weight / .bias, self_attn.sinks [heads], BF16 outside the experts
 *     (quantization_config.modules_to_not_convert);
 *   transformers' modeling_gpt_oss.py / integrations/mxfp4.py (Mxfp4GptOssExperts shapes;
 *     convert_moe_packed_tensors: low nibble of byte j = element 2j, value FP4_VALUES[nibble] *
 *     2^(scale - 127));
 *   llama.cpp de3ff815 conversion/gpt_oss.py (the twin: gate = gate_up rows ::2, up = rows 1::2,
 *     MXFP4 repacked into ggml blocks, sinks as attn_sinks.weight, post_attention_layernorm as
 *     post_attention_norm, sliding_window and expert_feed_forward_length keys), conversion/base.py
 *     (TextModel.set_gguf_parameters: yarn type/factor/original context/betas, key/value length
 *     from head_dim; F32 for 1-D tensors, for names not ending in .weight and for ffn_gate_inp;
 *     --outtype bf16 for the other weights) and tokenizer pre "gpt-4o" (the name its
 *     convert_hf_to_gguf_update.py gives o200k's pre-tokenizer); tokenizer.json with o200k's Split
 *     regex before ByteLevel. The vocabulary is the generator's small byte-level one, not o200k's.
 * Scaled down: hidden 64, 2 layers (sliding, full), 4 heads of 32 (q width 128 != hidden, as the
 * release's 64 x 64 != 2880), 2 KV heads, 4 experts of width 64, top-2, window 4 (the release's
 * 128 scaled to the test sequences); max_position_embeddings 131072 and yarn factor 32 over 4096
 * as released. --f32 on gguf-gpt-oss writes every tensor F32 (experts dequantized, as the
 * converter does for a BF16 release): the same values, llama.cpp's float reference; --f32-dense
 * the same but the experts MXFP4, the math trit's runner computes (F32 weights, MXFP4 x q8_0).
 */
#include <stdio.h>
#include <string.h>

#include <cJSON.h>

#include "gen_int.h"

int gen__is_gptoss(gen_layout l) { return l == GEN_LAYOUT_GPT_OSS || l == GEN_LAYOUT_GGUF_GPT_OSS; }

typedef struct twin {
    gen__builder *b;
    int gguf;
} twin;

/* One tensor: its HF form, or in the GGUF twin its llama.cpp form with the same values (the HF
 * element stream, rounded to the HF dtype, rows of a fused gate_up picked by il_half). */
static gen_tensor *one(twin *w, uint32_t L, uint32_t kind, uint32_t hf_dt, uint32_t gg_dt, uint32_t n, const uint64_t *shape,
                       const char *hf, const char *gg, uint32_t il_half, uint64_t il_cols, float std)
{
    if (!w->gguf) {
        gen_tensor *t = gen__add(w->b, hf_dt, kind, L, GEN_NONE, n, shape, hf);
        if (t) t->std = std;
        return t;
    }
    /* the F32 twin: llama.cpp's float reference run; f32 2 keeps the experts' MXFP4 blocks */
    if (w->b->o->f32 && !(w->b->o->f32 == 2 && gg_dt == GEN_DT_MXFP4)) gg_dt = GEN_DT_F32;
    uint64_t sh[4] = {shape[0], n > 1 ? shape[1] : 0, n > 2 ? shape[2] : 0, 0};
    if (il_half) sh[1] /= 2;
    gen_tensor *t = gen__add(w->b, gg_dt, kind, L, GEN_NONE, n, sh, gg);
    if (!t) return NULL;
    t->std = std;
    t->seed = gen__seed_of(w->b->o, hf);
    if (gg_dt != hf_dt && kind != GEN_K_MXFP4) t->round_dt1 = hf_dt + 1;
    t->il_half = il_half;
    t->il_rows = sh[1];
    t->il_cols = il_cols;
    return t;
}

/* An MXFP4 expert stack [E, rows, cols]: HF blocks + scales, or the GGUF tensor(s). */
static void experts(twin *w, uint32_t L, uint64_t E, uint64_t rows, uint64_t cols, const char *hf_stem, int fused)
{
    char hb[128], hs[128], gg[96];
    snprintf(hb, sizeof hb, "model.layers.%u.mlp.experts.%s_blocks", L, hf_stem);
    snprintf(hs, sizeof hs, "model.layers.%u.mlp.experts.%s_scales", L, hf_stem);
    if (!w->gguf) {
        uint64_t const sb[4] = {E, rows, cols / 32, 16}, ss[3] = {E, rows, cols / 32};
        gen_tensor *b = gen__add(w->b, GEN_DT_U8, GEN_K_MXFP4, L, GEN_NONE, 4, sb, hb);
        uint64_t const seed = b ? b->seed : 0;
        gen_tensor *s = gen__add(w->b, GEN_DT_U8, GEN_K_MXFP4_SCALES, L, GEN_NONE, 3, ss, hs);
        if (s) s->seed = seed;
        return;
    }
    uint64_t const sh[3] = {E, rows, cols};
    for (uint32_t half = 1; half <= (fused ? 2u : 1u); half++) {
        snprintf(gg, sizeof gg, "blk.%u.ffn_%s_exps.weight", L, !fused ? "down" : half == 1 ? "gate" : "up");
        one(w, L, GEN_K_MXFP4, GEN_DT_U8, GEN_DT_MXFP4, 3, sh, hb, gg, fused ? half : 0, cols, 0);
    }
}

void gen__build_gptoss(gen__builder *b)
{
    const gen_opts *o = b->o;
    twin w = {b, o->layout == GEN_LAYOUT_GGUF_GPT_OSS};
    uint64_t const H = o->n_embd, F = o->n_ff, X = o->n_expert, V = o->n_vocab, hd = gen_head_dim(o);
    uint64_t const Q = hd * o->n_head, KV = hd * o->n_head_kv;
    uint32_t const BF = GEN_DT_BF16, F32 = GEN_DT_F32;
    char hf[128], gg[96];
    uint64_t s2[2] = {V, H};
    one(&w, GEN_NONE, GEN_K_FLOAT, BF, BF, 2, s2, "model.embed_tokens.weight", "token_embd.weight", 0, 0, 0.02f);
    for (uint32_t L = 0; L < o->n_layer && !b->rc; L++) {
#define HF(fmt) (snprintf(hf, sizeof hf, "model.layers.%u." fmt, L), hf)
#define GG(fmt) (snprintf(gg, sizeof gg, "blk.%u." fmt, L), gg)
        uint64_t v[1] = {H};
        one(&w, L, GEN_K_NORM, BF, F32, 1, v, HF("input_layernorm.weight"), GG("attn_norm.weight"), 0, 0, 0);
        static const char *const pr[4] = {"q", "k", "v", "o"}, *const gp[4] = {"attn_q", "attn_k", "attn_v", "attn_output"};
        uint64_t const outs[4] = {Q, KV, KV, H}, ins[4] = {H, H, H, Q};
        for (int k = 0; k < 4; k++) {
            uint64_t const sw[2] = {outs[k], ins[k]}, sb[1] = {outs[k]};
            char hn[128], gn[96];
            snprintf(hn, sizeof hn, "model.layers.%u.self_attn.%s_proj.weight", L, pr[k]);
            snprintf(gn, sizeof gn, "blk.%u.%s.weight", L, gp[k]);
            one(&w, L, GEN_K_FLOAT, BF, BF, 2, sw, hn, gn, 0, 0, 0.02f * 4);
            snprintf(hn, sizeof hn, "model.layers.%u.self_attn.%s_proj.bias", L, pr[k]);
            snprintf(gn, sizeof gn, "blk.%u.%s.bias", L, gp[k]);
            one(&w, L, GEN_K_FLOAT, BF, F32, 1, sb, hn, gn, 0, 0, 0.05f);
        }
        uint64_t const sk[1] = {o->n_head};
        /* sinks large enough to take a visible share of each head's softmax */
        one(&w, L, GEN_K_FLOAT, BF, F32, 1, sk, HF("self_attn.sinks"), GG("attn_sinks.weight"), 0, 0, 1.0f);
        one(&w, L, GEN_K_NORM, BF, F32, 1, v, HF("post_attention_layernorm.weight"), GG("post_attention_norm.weight"), 0, 0, 0);
        uint64_t const sr[2] = {X, H}, srb[1] = {X};
        one(&w, L, GEN_K_FLOAT, BF, F32, 2, sr, HF("mlp.router.weight"), GG("ffn_gate_inp.weight"), 0, 0, 0.1f);
        one(&w, L, GEN_K_FLOAT, BF, F32, 1, srb, HF("mlp.router.bias"), GG("ffn_gate_inp.bias"), 0, 0, 0.5f);
        experts(&w, L, X, 2 * F, H, "gate_up_proj", 1);
        uint64_t const sgb[2] = {X, 2 * F};
        if (!w.gguf) {
            one(&w, L, GEN_K_FLOAT, BF, BF, 2, sgb, HF("mlp.experts.gate_up_proj_bias"), NULL, 0, 0, 0.5f);
        } else {
            snprintf(hf, sizeof hf, "model.layers.%u.mlp.experts.gate_up_proj_bias", L);
            one(&w, L, GEN_K_FLOAT, BF, F32, 2, sgb, hf, GG("ffn_gate_exps.bias"), 1, 1, 0.5f);
            one(&w, L, GEN_K_FLOAT, BF, F32, 2, sgb, hf, GG("ffn_up_exps.bias"), 2, 1, 0.5f);
        }
        experts(&w, L, X, H, F, "down_proj", 0);
        uint64_t const sdb[2] = {X, H};
        one(&w, L, GEN_K_FLOAT, BF, F32, 2, sdb, HF("mlp.experts.down_proj_bias"), GG("ffn_down_exps.bias"), 0, 0, 0.05f);
#undef HF
#undef GG
    }
    uint64_t v[1] = {H};
    one(&w, GEN_NONE, GEN_K_NORM, BF, F32, 1, v, "model.norm.weight", "output_norm.weight", 0, 0, 0);
    one(&w, GEN_NONE, GEN_K_FLOAT, BF, BF, 2, s2, "lm_head.weight", "output.weight", 0, 0, 0.02f * 4);
}

static void num(cJSON *j, const char *k, double v) { cJSON_AddNumberToObject(j, k, v); }

int gen__gptoss_config(const gen_opts *o, cJSON *j)
{
    /* openai/gpt-oss-20b config.json, key for key; dimensions and counts scaled down */
    cJSON *a = cJSON_AddArrayToObject(j, "architectures");
    if (a) cJSON_AddItemToArray(a, cJSON_CreateString("GptOssForCausalLM"));
    cJSON_AddBoolToObject(j, "attention_bias", 1);
    num(j, "attention_dropout", 0.0);
    num(j, "eos_token_id", gen_tok_eos(o->n_vocab));
    num(j, "experts_per_token", o->n_expert_used);
    num(j, "head_dim", gen_head_dim(o));
    cJSON_AddStringToObject(j, "hidden_act", "silu");
    num(j, "hidden_size", o->n_embd);
    num(j, "initial_context_length", 4096);
    num(j, "initializer_range", 0.02);
    num(j, "intermediate_size", o->n_ff);
    cJSON *lt = cJSON_AddArrayToObject(j, "layer_types");
    for (uint32_t L = 0; lt && L < o->n_layer; L++)
        cJSON_AddItemToArray(lt, cJSON_CreateString(L % 2 ? "full_attention" : "sliding_attention"));
    num(j, "max_position_embeddings", o->n_ctx);
    cJSON_AddStringToObject(j, "model_type", "gpt_oss");
    num(j, "num_attention_heads", o->n_head);
    num(j, "num_experts_per_tok", o->n_expert_used);
    num(j, "num_hidden_layers", o->n_layer);
    num(j, "num_key_value_heads", o->n_head_kv);
    num(j, "num_local_experts", o->n_expert);
    cJSON_AddBoolToObject(j, "output_router_logits", 0);
    num(j, "pad_token_id", gen_tok_eos(o->n_vocab));
    cJSON *q = cJSON_AddObjectToObject(j, "quantization_config");
    cJSON *m = q ? cJSON_AddArrayToObject(q, "modules_to_not_convert") : NULL;
    static const char *const keep[] = {"model.layers.*.self_attn", "model.layers.*.mlp.router", "model.embed_tokens", "lm_head"};
    for (size_t i = 0; m && i < 4; i++) cJSON_AddItemToArray(m, cJSON_CreateString(keep[i]));
    if (q) cJSON_AddStringToObject(q, "quant_method", "mxfp4");
    num(j, "rms_norm_eps", 1e-5);
    cJSON *rs = cJSON_AddObjectToObject(j, "rope_scaling");
    if (rs) {
        num(rs, "beta_fast", 32.0);
        num(rs, "beta_slow", 1.0);
        num(rs, "factor", 32.0);
        num(rs, "original_max_position_embeddings", 4096);
        cJSON_AddStringToObject(rs, "rope_type", "yarn");
        cJSON_AddBoolToObject(rs, "truncate", 0);
    }
    num(j, "rope_theta", 150000);
    num(j, "router_aux_loss_coef", 0.9);
    num(j, "sliding_window", o->sliding_window ? o->sliding_window : 4);
    num(j, "swiglu_limit", 7.0);
    cJSON_AddBoolToObject(j, "tie_word_embeddings", 0);
    cJSON_AddStringToObject(j, "transformers_version", "4.55.0.dev0");
    cJSON_AddBoolToObject(j, "use_cache", 1);
    num(j, "vocab_size", o->n_vocab);
    return 1;
}
