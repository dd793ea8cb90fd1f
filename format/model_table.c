/* model_table.c - the rows of trit_model.h and the one name matcher over them.
 *
 * Sources of the rows: spec/container.md 10.1/10.2; formats.md 1.10 (GGUF keys and the HF
 * config field each comes from, GGUF tensor names and their HF llama-style sources), 3.3/3.4
 * (BitNet SubLN norm names: attn_sub_norm/ffn_sub_norm in 2B-4T, inner_attn_ln/ffn_layernorm in
 * 1bitLLM), 4.1 (MoE naming: Mixtral block_sparse_moe.experts.E.w1/w3/w2 = gate/up/down,
 * Qwen/DeepSeek/OLMoE mlp.experts.E.*_proj, shared experts, DeepSeek e_score_correction_bias). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "trit.h"
#include "trit_model.h"

#define L_ 1 /* inside a layer */
#define T_ 0 /* top level */

static const trit_mt_tensor tensors[] = {
    {"token_embd.weight", T_, TRIT_MT_FLOAT, "VE",
     {"model.embed_tokens.weight", "embed_tokens.weight", "model.language_model.embed_tokens.weight"}},
    {"output_norm.weight", T_, TRIT_MT_FLOAT, "E", {"model.norm.weight", "model.language_model.norm.weight"}},
    /* LayerNorm's bias (model.norm_kind "layer": PhiMoE's nn.LayerNorm(elementwise_affine=True)) */
    {"output_norm.bias", T_, TRIT_MT_FLOAT, "E", {"model.norm.bias"}},
    {"output.weight", T_, TRIT_MT_FLOAT, "VE", {"lm_head.weight"}},
    /* PhiMoE lm_head_bias (modeling_phimoe.py PhimoeForCausalLM: nn.Linear(bias=lm_head_bias)) */
    {"output.bias", T_, TRIT_MT_FLOAT, "V", {"lm_head.bias"}},
    /* llama.cpp's per-frequency divisors (llama 3.1 rope scaling, convert_hf_to_gguf.py
     * LlamaModel generate_extra_tensors), applied by every layer whatever the context: named,
     * not computed, so a GGUF carrying them is refused instead of rotated without them */
    {"rope_freqs.weight", T_, TRIT_MT_NAMED, NULL, {NULL}},
    /* longrope (model.rope_scaling "longrope"): one divisor per rotary frequency, llama.cpp's
     * names (convert_hf_to_gguf.py MiniCPMModel/Phi3MiniModel generate_extra_tensors); HF
     * releases carry them as config.json's rope_scaling long_factor / short_factor */
    {"rope_factors_long.weight", T_, TRIT_MT_FLOAT, "R", {NULL}},
    {"rope_factors_short.weight", T_, TRIT_MT_FLOAT, "R", {NULL}},

    {"attn_norm.weight", L_, TRIT_MT_FLOAT, "E", {"input_layernorm.weight"}},
    {"attn_norm.bias", L_, TRIT_MT_FLOAT, "E", {"input_layernorm.bias"}},
    {"attn_q.weight", L_, TRIT_MT_PROJ, "QE", {"self_attn.q_proj.weight"}},
    {"attn_k.weight", L_, TRIT_MT_PROJ, "KE", {"self_attn.k_proj.weight"}},
    {"attn_v.weight", L_, TRIT_MT_PROJ, "KE", {"self_attn.v_proj.weight"}},
    {"attn_output.weight", L_, TRIT_MT_PROJ, "EO", {"self_attn.o_proj.weight"}},
    {"attn_q.bias", L_, TRIT_MT_FLOAT, "Q", {"self_attn.q_proj.bias"}},
    {"attn_k.bias", L_, TRIT_MT_FLOAT, "K", {"self_attn.k_proj.bias"}},
    {"attn_v.bias", L_, TRIT_MT_FLOAT, "K", {"self_attn.v_proj.bias"}},
    /* attention_bias true (PhimoeAttention, LlamaAttention): o_proj has a bias too */
    {"attn_output.bias", L_, TRIT_MT_FLOAT, "E", {"self_attn.o_proj.bias"}},
    /* per head (Qwen3) or over the whole projection (OLMoE) */
    {"attn_q_norm.weight", L_, TRIT_MT_FLOAT, "D|Q", {"self_attn.q_norm.weight"}},
    {"attn_k_norm.weight", L_, TRIT_MT_FLOAT, "D|K", {"self_attn.k_norm.weight"}},
    /* DeepSeek-V2/V3 multi-head latent attention (modeling_deepseek.py DeepseekV2Attention;
     * llama.cpp's deepseek2 names, its legacy unsplit attn_kv_b): q_proj is attn_q above (V2-Lite,
     * q_lora_rank null), else q_a_proj -> q_a_layernorm -> q_b_proj; kv_a_proj_with_mqa gives the
     * compressed kv and the shared rope key, kv_a_layernorm, kv_b_proj the per-head k_nope and v */
    {"attn_q_a.weight", L_, TRIT_MT_PROJ, "AE", {"self_attn.q_a_proj.weight"}},
    {"attn_q_a_norm.weight", L_, TRIT_MT_FLOAT, "A", {"self_attn.q_a_layernorm.weight"}},
    {"attn_q_b.weight", L_, TRIT_MT_PROJ, "QA", {"self_attn.q_b_proj.weight"}},
    {"attn_kv_a_mqa.weight", L_, TRIT_MT_PROJ, "ME", {"self_attn.kv_a_proj_with_mqa.weight"}},
    {"attn_kv_a_norm.weight", L_, TRIT_MT_FLOAT, "C", {"self_attn.kv_a_layernorm.weight"}},
    {"attn_kv_b.weight", L_, TRIT_MT_PROJ, "BC", {"self_attn.kv_b_proj.weight"}},
    {"attn_sub_norm.weight", L_, TRIT_MT_FLOAT, "E", {"self_attn.attn_sub_norm.weight", "self_attn.inner_attn_ln.weight"}},
    {"ffn_norm.weight", L_, TRIT_MT_FLOAT, "E", {"post_attention_layernorm.weight"}},
    {"ffn_norm.bias", L_, TRIT_MT_FLOAT, "E", {"post_attention_layernorm.bias"}},
    {"ffn_gate.weight", L_, TRIT_MT_PROJ, "FE", {"mlp.gate_proj.weight"}},
    {"ffn_up.weight", L_, TRIT_MT_PROJ, "FE", {"mlp.up_proj.weight"}},
    {"ffn_down.weight", L_, TRIT_MT_PROJ, "EF", {"mlp.down_proj.weight"}},
    {"ffn_sub_norm.weight", L_, TRIT_MT_FLOAT, "F", {"mlp.ffn_sub_norm.weight", "mlp.ffn_layernorm.weight"}},
    /* the router: Qwen-MoE, OLMoE, DeepSeek mlp.gate; Mixtral block_sparse_moe.gate */
    {"ffn_gate_inp.weight", L_, TRIT_MT_FLOAT, "XE",
     {"mlp.gate.weight", "block_sparse_moe.gate.weight", "block_sparse_moe.router.layer.weight", "mlp.router.weight"}},
    /* gpt-oss (modeling_gpt_oss.py GptOssTopKRouter: F.linear(x, weight, bias); llama.cpp's
     * ffn_gate_inp.bias): the router's bias, added to the logits before the top-k */
    {"ffn_gate_inp.bias", L_, TRIT_MT_FLOAT, "X", {"mlp.router.bias"}},
    /* gpt-oss attention sinks (GptOssAttention.sinks [n_head]: one logit per head in the softmax
     * denominator; llama.cpp's attn_sinks.weight, conversion/gpt_oss.py adds ".weight") */
    {"attn_sinks.weight", L_, TRIT_MT_FLOAT, "H", {"self_attn.sinks"}},
    {"exp_probs_b.bias", L_, TRIT_MT_FLOAT, "X", {"mlp.gate.e_score_correction_bias"}},
    {"ffn_gate.#.weight", L_, TRIT_MT_EXPERT, "GE", {"mlp.experts.#.gate_proj.weight", "block_sparse_moe.experts.#.w1.weight"}},
    {"ffn_up.#.weight", L_, TRIT_MT_EXPERT, "GE", {"mlp.experts.#.up_proj.weight", "block_sparse_moe.experts.#.w3.weight"}},
    {"ffn_down.#.weight", L_, TRIT_MT_EXPERT, "EG", {"mlp.experts.#.down_proj.weight", "block_sparse_moe.experts.#.w2.weight"}},
    {"ffn_gate_exps.weight", L_, TRIT_MT_EXPERT_STACK, "XGE", {NULL}},
    {"ffn_up_exps.weight", L_, TRIT_MT_EXPERT_STACK, "XGE", {NULL}},
    {"ffn_down_exps.weight", L_, TRIT_MT_EXPERT_STACK, "XEG",
     {"block_sparse_moe.output_linear.weight", "mlp.experts.down_proj_blocks"}},
    /* gpt-oss expert biases, one row per expert (GptOssExperts gate_up_proj_bias / down_proj_bias;
     * llama.cpp's names, conversion/gpt_oss.py splits the fused bias into gate and up) */
    {"ffn_gate_exps.bias", L_, TRIT_MT_FLOAT, "XG", {NULL}},
    {"ffn_up_exps.bias", L_, TRIT_MT_FLOAT, "XG", {NULL}},
    {"ffn_down_exps.bias", L_, TRIT_MT_FLOAT, "XE", {"mlp.experts.down_proj_bias"}},
    /* gpt-oss's fused experts: [E, 2*n_ff_expert, in] with gate and up rows interleaved (even rows
     * gate, odd rows up: GptOssExperts gate_up[..., ::2], gate_up[..., 1::2]; the HF MXFP4
     * blocks/scales pair read as one tensor, source/src_mxfp4.h) and their fused bias
     * [E, 2*n_ff_expert], split the same way (conversion/gpt_oss.py) */
    {"ffn_gate_up_il_exps.weight", L_, TRIT_MT_EXPERT_STACK_GATE_UP_IL, "X?E", {"mlp.experts.gate_up_proj_blocks"}},
    {"ffn_gate_up_il_exps.bias", L_, TRIT_MT_BIAS_GATE_UP_IL, "X?", {"mlp.experts.gate_up_proj_bias"}},
    /* a fused [E, 2*n_ff_expert, n_embd] stack, gate rows first then up (granite's
     * GraniteMoeParallelExperts input_linear, chunk(2) of its output: act(first) * second) */
    {"ffn_gate_up_exps.weight", L_, TRIT_MT_EXPERT_STACK_GATE_UP, "X?E", {"block_sparse_moe.input_linear.weight"}},
    /* shared experts: Qwen2-MoE one (shared_expert), DeepSeek n_shared_experts fused (shared_experts) */
    {"ffn_gate_shexp.weight", L_, TRIT_MT_PROJ, "?E", {"mlp.shared_expert.gate_proj.weight", "mlp.shared_experts.gate_proj.weight"}},
    {"ffn_up_shexp.weight", L_, TRIT_MT_PROJ, "?E", {"mlp.shared_expert.up_proj.weight", "mlp.shared_experts.up_proj.weight"}},
    {"ffn_down_shexp.weight", L_, TRIT_MT_PROJ, "E?", {"mlp.shared_expert.down_proj.weight", "mlp.shared_experts.down_proj.weight"}},
    {"ffn_gate_inp_shexp.weight", L_, TRIT_MT_FLOAT, "E|1E", {"mlp.shared_expert_gate.weight"}},
    {NULL, L_, TRIT_MT_SKIP, NULL, {"self_attn.rotary_emb.inv_freq"}},
};

/* Every key of spec 10.1 and the other keys a container carries: type (and array element),
 * required, allowed string values, and where converters and inspect find it in a source. */
#define U32_ TRIT_KV_U32, 0
#define F32_ TRIT_KV_F32, 0
#define STR_ TRIT_KV_STRING, 0
#define BOOL_ TRIT_KV_BOOL, 0
static const trit_mt_key keys[] = {
    {"general.architecture", STR_, 0, NULL, NULL, "general.architecture", {"model_type"}, TRIT_MT_ARCH},
    {"general.name", STR_, 0, NULL, NULL, "general.name", {NULL}, TRIT_MT_AS_IS},
    {"model.n_layer", U32_, 1, NULL, "block_count", NULL, {"num_hidden_layers", "n_layer", "num_layers"}, TRIT_MT_AS_IS},
    {"model.n_embd", U32_, 1, NULL, "embedding_length", NULL, {"hidden_size", "n_embd", "d_model"}, TRIT_MT_AS_IS},
    {"model.n_ff", U32_, 0, NULL, "feed_forward_length", NULL, {"intermediate_size", "ffn_dim"}, TRIT_MT_AS_IS},
    {"model.n_head", U32_, 1, NULL, "attention.head_count", NULL, {"num_attention_heads", "n_head"}, TRIT_MT_AS_IS},
    {"model.n_head_kv", U32_, 1, NULL, "attention.head_count_kv", NULL, {"num_key_value_heads"}, TRIT_MT_AS_IS},
    {"model.head_dim", U32_, 1, NULL, "attention.key_length", NULL, {"head_dim"}, TRIT_MT_AS_IS},
    {"model.n_vocab", U32_, 1, NULL, "vocab_size", NULL, {"vocab_size"}, TRIT_MT_AS_IS},
    {"model.n_ctx", U32_, 0, NULL, "context_length", NULL, {"max_position_embeddings", "n_positions"}, TRIT_MT_AS_IS},
    {"model.norm_eps", F32_, 1, NULL, "attention.layer_norm_rms_epsilon", NULL, {"rms_norm_eps"}, TRIT_MT_AS_IS},
    /* the block and output norms: RMSNorm (absent: "rms") or LayerNorm with bias ("layer":
     * PhiMoE's nn.LayerNorm, eps = its rms_norm_eps) */
    {"model.norm_kind", STR_, 0, "rms|layer", NULL, NULL, {NULL}, TRIT_MT_AS_IS},
    {"model.rope_theta", F32_, 1, NULL, "rope.freq_base", NULL, {"rope_theta"}, TRIT_MT_AS_IS},
    {"model.rope_dim", U32_, 0, NULL, "rope.dimension_count", NULL, {NULL}, TRIT_MT_AS_IS},
    {"model.rope_layout", STR_, 0, "neox|norm", NULL, NULL, {NULL}, TRIT_MT_AS_IS},
    {"model.hidden_act", STR_, 0, "silu|relu2|gelu|swiglu_oai", NULL, NULL, {"hidden_act"}, TRIT_MT_AS_IS},
    /* swiglu_oai (gpt-oss GptOssExperts; ggml_swiglu_oai): g = min(gate, limit), u = clamp(up,
     * -limit, limit), out = g * sigmoid(alpha * g) * (u + 1) */
    {"model.swiglu_limit", F32_, 0, NULL, NULL, NULL, {NULL}, TRIT_MT_AS_IS},
    {"model.swiglu_alpha", F32_, 0, NULL, NULL, NULL, {NULL}, TRIT_MT_AS_IS},
    /* sliding-window attention (gpt-oss; llama.cpp LLAMA_SWA_TYPE_STANDARD): a sliding layer's
     * query at position p sees keys p - window < k <= p; layer L slides when model.swa_period is 0
     * or L % swa_period < swa_period - 1 (llama.cpp's set_swa_pattern, gpt-oss: period 2) */
    {"model.sliding_window", U32_, 0, NULL, NULL, NULL, {NULL}, TRIT_MT_AS_IS},
    {"model.swa_period", U32_, 0, NULL, NULL, NULL, {NULL}, TRIT_MT_AS_IS},
    {"model.tied_embeddings", BOOL_, 0, NULL, NULL, NULL, {"tie_word_embeddings"}, TRIT_MT_AS_IS},
    {"model.bos_token_id", U32_, 0, NULL, NULL, "tokenizer.ggml.bos_token_id", {"bos_token_id"}, TRIT_MT_AS_IS},
    {"model.eos_token_id", U32_, 0, NULL, NULL, "tokenizer.ggml.eos_token_id", {"eos_token_id"}, TRIT_MT_AS_IS},
    {"model.embd_scale", F32_, 0, NULL, NULL, NULL, {NULL}, TRIT_MT_AS_IS},
    {"model.attn_scale", F32_, 0, NULL, NULL, NULL, {NULL}, TRIT_MT_AS_IS},
    {"model.residual_scale", F32_, 0, NULL, NULL, NULL, {NULL}, TRIT_MT_AS_IS},
    {"model.logit_scale", F32_, 0, NULL, NULL, NULL, {NULL}, TRIT_MT_AS_IS},
    /* multi-head latent attention (DeepSeek-V2/V3; spec 10.1): model.head_dim is the key head
     * width qk_nope + qk_rope, model.rope_dim qk_rope */
    {"model.q_lora_rank", U32_, 0, NULL, "attention.q_lora_rank", NULL, {"q_lora_rank"}, TRIT_MT_AS_IS},
    {"model.kv_lora_rank", U32_, 0, NULL, "attention.kv_lora_rank", NULL, {"kv_lora_rank"}, TRIT_MT_AS_IS},
    {"model.v_head_dim", U32_, 0, NULL, NULL, NULL, {"v_head_dim"}, TRIT_MT_AS_IS},
    /* rope scaling (spec 10.1): yarn as DeepSeek computes it (DeepseekV2YarnRotaryEmbedding),
     * from config.json's rope_scaling (a GGUF deepseek2 is refused); longrope (MiniCPMLongRoPE,
     * llama.cpp's LLAMA_ROPE_SCALING_TYPE_LONGROPE) from config.json or GGUF: the factor
     * tensors above, the original context and one cos/sin multiplier per factor set. Read
     * by cvt_arch.c (GGUF rope.scaling.*), not by inspect's normalization: a GGUF states
     * rope.scaling.type "none" and original_context_length for models that scale nothing */
    {"model.rope_scaling", STR_, 0, "yarn|longrope", NULL, NULL, {NULL}, TRIT_MT_AS_IS},
    {"model.rope_scale_factor", F32_, 0, NULL, NULL, NULL, {NULL}, TRIT_MT_AS_IS},
    {"model.rope_orig_ctx", U32_, 0, NULL, NULL, NULL, {NULL}, TRIT_MT_AS_IS},
    {"model.rope_attn_factor_short", F32_, 0, NULL, NULL, NULL, {NULL}, TRIT_MT_AS_IS},
    {"model.rope_attn_factor_long", F32_, 0, NULL, NULL, NULL, {NULL}, TRIT_MT_AS_IS},
    /* which longrope set (spec 10.1): "context" (absent: by model.n_ctx, MiniCPMLongRoPE) or
     * "sequence" (by the length computed so far, PhimoeRotaryEmbedding) */
    {"model.rope_select", STR_, 0, "context|sequence", NULL, NULL, {NULL}, TRIT_MT_AS_IS},
    {"model.yarn_beta_fast", F32_, 0, NULL, NULL, NULL, {NULL}, TRIT_MT_AS_IS},
    {"model.yarn_beta_slow", F32_, 0, NULL, NULL, NULL, {NULL}, TRIT_MT_AS_IS},
    {"model.yarn_mscale", F32_, 0, NULL, NULL, NULL, {NULL}, TRIT_MT_AS_IS},
    {"model.yarn_mscale_all_dim", F32_, 0, NULL, NULL, NULL, {NULL}, TRIT_MT_AS_IS},
    /* YaRN's correction range rounded outwards (floor / ceil: DeepSeek, llama.cpp's
     * ggml_rope_yarn_corr_dims; absent = true) or not (transformers' truncate false: gpt-oss) */
    {"model.yarn_truncate", BOOL_, 0, NULL, NULL, NULL, {NULL}, TRIT_MT_AS_IS},
    {"model.act_quant", STR_, 0, "none|int8_per_token", NULL, NULL, {NULL}, TRIT_MT_AS_IS},
    {"moe.n_expert", U32_, 0, NULL, "expert_count", NULL, {"num_local_experts", "num_experts", "n_routed_experts"}, TRIT_MT_AS_IS},
    {"moe.n_expert_used", U32_, 0, NULL, "expert_used_count", NULL, {"num_experts_per_tok"}, TRIT_MT_AS_IS},
    {"moe.n_ff_expert", U32_, 0, NULL, "expert_feed_forward_length", NULL, {"moe_intermediate_size"}, TRIT_MT_AS_IS},
    {"moe.gating", STR_, 0, "softmax|sigmoid|sparsemixer", "expert_gating_func", NULL, {"scoring_func"}, TRIT_MT_GATING},
    /* sparsemixer's threshold (modeling_phimoe.py sparsemixer(jitter_eps = router_jitter_noise)):
     * an expert stays a candidate while (max - score) / max(|score|, max) <= 2 * jitter_eps */
    {"moe.jitter_eps", F32_, 0, NULL, NULL, NULL, {"router_jitter_noise"}, TRIT_MT_AS_IS},
    {"moe.norm_topk", BOOL_, 0, NULL, "expert_weights_norm", NULL, {"norm_topk_prob"}, TRIT_MT_AS_IS},
    {"moe.routed_scale", F32_, 0, NULL, "expert_weights_scale", NULL, {"routed_scaling_factor"}, TRIT_MT_AS_IS},
    {"moe.n_shared_expert", U32_, 0, NULL, "expert_shared_count", NULL, {"n_shared_experts"}, TRIT_MT_AS_IS},
    {"moe.shared_gate", STR_, 0, "none|sigmoid", NULL, NULL, {NULL}, TRIT_MT_AS_IS},
    {"moe.first_dense_layers", U32_, 0, NULL, "leading_dense_block_count", NULL, {"first_k_dense_replace"}, TRIT_MT_AS_IS},
    /* group-limited routing (DeepSeek MoEGate): experts in moe.n_group equal groups, only the
     * moe.topk_group best groups compete; a group's score is its best score ("max", V2's
     * group_limited_greedy) or the sum of its two best biased scores ("top2sum", V3's noaux_tc and
     * llama.cpp's build_moe_ffn). HF n_group/topk_group are read by cvt_arch.c (they mean nothing
     * under topk_method greedy) */
    {"moe.n_group", U32_, 0, NULL, "expert_group_count", NULL, {NULL}, TRIT_MT_AS_IS},
    {"moe.topk_group", U32_, 0, NULL, "expert_group_used_count", NULL, {NULL}, TRIT_MT_AS_IS},
    {"moe.group_score", STR_, 0, "max|top2sum", NULL, NULL, {NULL}, TRIT_MT_AS_IS},
    /* not the model description: what the container carries besides it */
    {"tokenizer.kind", STR_, 0, "bpe|spm|gguf", NULL, NULL, {NULL}, TRIT_MT_AS_IS},
    {"provenance.converter", STR_, 0, NULL, NULL, NULL, {NULL}, TRIT_MT_AS_IS},
    {"provenance.source_format", STR_, 0, "safetensors|gguf", NULL, NULL, {NULL}, TRIT_MT_AS_IS},
    {"provenance.source_files", TRIT_KV_ARRAY, TRIT_KV_STRING, 0, NULL, NULL, NULL, {NULL}, TRIT_MT_AS_IS},
    {"provenance.source_xxh3", TRIT_KV_ARRAY, TRIT_KV_U64, 0, NULL, NULL, NULL, {NULL}, TRIT_MT_AS_IS},
    {"quant.max_abs_error", F32_, 0, NULL, NULL, NULL, {NULL}, TRIT_MT_AS_IS},
};
#undef U32_
#undef F32_
#undef STR_
#undef BOOL_

#define N_TENSORS (sizeof tensors / sizeof tensors[0])

const trit_mt_tensor *trit_mt_tensors(size_t *n)
{
    *n = N_TENSORS;
    return tensors;
}

const trit_mt_key *trit_mt_keys(size_t *n)
{
    *n = sizeof keys / sizeof keys[0];
    return keys;
}

const trit_mt_key *trit_mt_key_find(const char *key)
{
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (!strcmp(keys[i].key, key)) return &keys[i];
    return NULL;
}

int trit_mt_key_described(const char *key)
{
    return strncmp(key, "model.", 6) == 0 || strncmp(key, "moe.", 4) == 0;
}

/* A decimal number below TRIT_NONE32 at *p; advances *p. 0 on success. */
static int parse_num(const char **p, uint32_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    if (*s < '0' || *s > '9') return -1;
    for (; *s >= '0' && *s <= '9'; s++) {
        v = v * 10 + (uint64_t)(*s - '0');
        if (v >= TRIT_NONE32) return -1;
    }
    *out = (uint32_t)v;
    *p = s;
    return 0;
}

/* Does s[0, n) match pattern pat[0, pn) ('#' = an expert number, captured in *expert)? */
static int match_n(const char *pat, size_t pn, const char *s, size_t n, uint32_t *expert)
{
    const char *pe = pat + pn, *se = s + n;
    while (pat < pe) {
        if (*pat == '#') {
            const char *q = s;
            uint32_t e;
            /* the number ends where the pattern's next literal begins */
            if (q >= se || parse_num(&q, &e) != 0 || q > se) return 0;
            *expert = e;
            s = q;
            pat++;
            continue;
        }
        if (s >= se || *s != *pat) return 0;
        s++;
        pat++;
    }
    return s == se;
}

static int match(const char *pat, const char *s, uint32_t *expert)
{
    return match_n(pat, strlen(pat), s, strlen(s), expert);
}

/* Write prefix + pattern with '#' replaced by expert, + suffix. */
static void emit(char *out, size_t cap, uint32_t layer, const char *pat, size_t pn, uint32_t expert, const char *suffix)
{
    char buf[160];
    size_t o = 0;
    for (size_t i = 0; i < pn && o + 12 < sizeof buf; i++) {
        if (pat[i] == '#') o += (size_t)snprintf(buf + o, sizeof buf - o, "%u", expert);
        else buf[o++] = pat[i];
    }
    buf[o] = '\0';
    if (layer != TRIT_NONE32) snprintf(out, cap, "blk.%u.%s%s", layer, buf, suffix);
    else snprintf(out, cap, "%s%s", buf, suffix);
}

static int known_suffix(const char *s)
{
    return strcmp(s, "weight") == 0 || strcmp(s, "bias") == 0 || strcmp(s, "scale") == 0 ||
           strcmp(s, "weight_scale") == 0;
}

/* Exact rows: rest against each row's canonical name or HF names. */
static const trit_mt_tensor *find_row(const char *rest, int layer, int hf, uint32_t *expert)
{
    for (size_t i = 0; i < N_TENSORS; i++) {
        const trit_mt_tensor *t = &tensors[i];
        if (t->layer != layer) continue;
        if (!hf) {
            if (t->name && match(t->name, rest, expert)) return t;
            continue;
        }
        for (size_t k = 0; k < 4 && t->hf[k]; k++)
            if (match(t->hf[k], rest, expert)) return t;
    }
    return NULL;
}

const trit_mt_tensor *trit_mt_find(const char *name, int layer)
{
    uint32_t e;
    return find_row(name, layer ? 1 : 0, 0, &e);
}

/* A row whose module (name or HF name without its last ".suffix") matches mod[0, n).
 * Writes the canonical module. For projection suffix variants (`want_proj`), only rows of
 * dense or expert projections. */
static const trit_mt_tensor *find_module(const char *mod, size_t n, int layer, int hf, int want_proj,
                                         uint32_t *expert, const char **canon_mod, size_t *canon_n)
{
    for (size_t i = 0; i < N_TENSORS; i++) {
        const trit_mt_tensor *t = &tensors[i];
        if (t->layer != layer || !t->name) continue;
        if (want_proj && t->role != TRIT_MT_PROJ && t->role != TRIT_MT_EXPERT) continue;
        const char *dot = strrchr(t->name, '.');
        size_t const cn = dot ? (size_t)(dot - t->name) : strlen(t->name);
        if (!hf) {
            if (match_n(t->name, cn, mod, n, expert)) goto found;
            continue;
        }
        for (size_t k = 0; k < 4 && t->hf[k]; k++) {
            const char *hd = strrchr(t->hf[k], '.');
            if (hd && match_n(t->hf[k], (size_t)(hd - t->hf[k]), mod, n, expert)) goto found;
        }
        continue;
    found:
        *canon_mod = t->name;
        *canon_n = cn;
        return t;
    }
    return NULL;
}

/* Split "blk.L.rest" (canonical) or "<prefix>layers.L.rest" (HF). Returns rest or NULL. */
static const char *split_layer(const char *name, unsigned styles, uint32_t *layer, int *hf)
{
    const char *p = name;
    if ((styles & TRIT_MT_CANON) && strncmp(p, "blk.", 4) == 0) {
        p += 4;
        if (parse_num(&p, layer) == 0 && *p == '.') {
            *hf = 0;
            return p + 1;
        }
        return NULL;
    }
    if (!(styles & TRIT_MT_HF)) return NULL;
    static const char *const prefixes[] = {"model.language_model.", "language_model.model.", "model.", ""};
    for (size_t k = 0; k < sizeof prefixes / sizeof prefixes[0]; k++) {
        size_t const l = strlen(prefixes[k]);
        if (strncmp(name, prefixes[k], l) != 0 || strncmp(name + l, "layers.", 7) != 0) continue;
        p = name + l + 7;
        if (parse_num(&p, layer) == 0 && *p == '.') {
            *hf = 1;
            return p + 1;
        }
    }
    return NULL;
}

static int map_in(const char *rest, int layer_scope, int hf, unsigned styles, uint32_t layer, char *out,
                  size_t cap, trit_mt_match *m)
{
    uint32_t e = TRIT_NONE32;
    const trit_mt_tensor *t = find_row(rest, layer_scope, hf, &e);
    if (t) {
        m->row = t;
        m->role = t->role;
        if (t->role == TRIT_MT_EXPERT) m->expert = e;
        if (t->name) emit(out, cap, layer, t->name, strlen(t->name), e, "");
        else if (cap) out[0] = '\0';
        return 1;
    }
    const char *dot = strrchr(rest, '.');
    if (!dot || dot == rest) return 0;
    const char *suffix = dot + 1;
    size_t const n = (size_t)(dot - rest);
    const char *cm;
    size_t cn;
    /* a projection's scale: GGUF BitNet {name}.scale; HF BitNet {name}.weight_scale (the
     * safetensors reader folds those into their packed weights; inspect names them) */
    int const gguf_scale = !hf && strcmp(suffix, "scale") == 0;
    if (gguf_scale || strcmp(suffix, "weight_scale") == 0) {
        e = TRIT_NONE32;
        if (find_module(rest, n, layer_scope, hf, 1, &e, &cm, &cn)) {
            emit(out, cap, layer, cm, cn, e, gguf_scale ? ".scale" : ".weight_scale");
            m->role = TRIT_MT_SCALE;
            m->expert = e;
            return 1;
        }
    }
    if ((styles & TRIT_MT_LOOSE) && known_suffix(suffix)) {
        e = TRIT_NONE32;
        if (find_module(rest, n, layer_scope, hf, 0, &e, &cm, &cn)) {
            char sfx[24];
            snprintf(sfx, sizeof sfx, ".%s", suffix);
            emit(out, cap, layer, cm, cn, e, sfx);
            m->role = TRIT_MT_NAMED;
            m->expert = e;
            return 1;
        }
    }
    return 0;
}

int trit_mt_map(const char *name, unsigned styles, char *out, size_t cap, trit_mt_match *mo)
{
    trit_mt_match m = {NULL, 0, TRIT_NONE32, TRIT_NONE32};
    int hf = 0, known = 0;
    uint32_t layer = TRIT_NONE32;
    const char *rest = split_layer(name, styles, &layer, &hf);
    if (rest) {
        m.layer = layer;
        known = map_in(rest, 1, hf, styles, layer, out, cap, &m);
    } else {
        layer = TRIT_NONE32;
        if (styles & TRIT_MT_CANON) known = map_in(name, 0, 0, styles, TRIT_NONE32, out, cap, &m);
        if (!known && (styles & TRIT_MT_HF)) known = map_in(name, 0, 1, styles, TRIT_NONE32, out, cap, &m);
    }
    if (!known) {
        snprintf(out, cap, "%s", name);
        m.row = NULL;
        m.role = 0;
        m.expert = TRIT_NONE32;
    }
    if (mo) *mo = m;
    return known;
}

/* ---- description rules ---------------------------------------------------------------------- */

typedef struct mt_chk {
    trit_mt_num_fn get;
    void *gctx;
    trit_mt_report_fn report;
    void *rctx;
    int n;
} mt_chk;

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 4, 5)))
#endif
static void violation(mt_chk *k, int code, const char *key, const char *fmt, ...)
{
    char msg[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    k->n++;
    if (k->report) k->report(k->rctx, code, key, msg);
}

/* A count: present (when required), an integer in [lo, hi]. 1 and *v when present and valid. */
static int count(mt_chk *k, const char *key, int required, double lo, double hi, double *v)
{
    if (!k->get(k->gctx, key, v)) {
        if (required) violation(k, TRIT_E_CORRUPT, key, "is missing");
        return 0;
    }
    if (!isfinite(*v) || *v != floor(*v) || *v < lo) {
        violation(k, TRIT_E_CORRUPT, key, "is %g, must be an integer >= %g", *v, lo);
        return 0;
    }
    if (*v > hi) {
        violation(k, TRIT_E_LIMIT, key, "is %g, past the limit %g", *v, hi);
        return 0;
    }
    return 1;
}

/* Multi-head latent attention and YaRN (DeepSeek): ranks within the limits, the rope part a
 * proper part of the key head, the scaling parameters finite and in range. */
static void check_mla(mt_chk *k, trit_mt_num_fn get, void *gctx)
{
    double v, kl = 0, hd, rd;
    count(k, "model.q_lora_rank", 0, 0, TRIT_MT_MAX_EMBD, &v);
    count(k, "model.v_head_dim", 0, 1, TRIT_MT_MAX_HEAD_DIM, &v);
    int const mla = count(k, "model.kv_lora_rank", 0, 0, TRIT_MT_MAX_EMBD, &kl) && kl > 0;
    if (mla && get(gctx, "model.head_dim", &hd) && (!get(gctx, "model.rope_dim", &rd) || rd >= hd))
        violation(k, TRIT_E_CORRUPT, "model.rope_dim", "must be stated and below model.head_dim (qk_nope + qk_rope) "
                  "when model.kv_lora_rank is %g", kl);
    if (get(gctx, "model.rope_scale_factor", &v) && !(isfinite(v) && v > 0))
        violation(k, TRIT_E_CORRUPT, "model.rope_scale_factor", "is %g, must be finite and > 0", v);
    count(k, "model.rope_orig_ctx", 0, 1, 4294967295.0, &v);
    static const char *const af[] = {"model.rope_attn_factor_short", "model.rope_attn_factor_long"};
    for (size_t i = 0; i < 2; i++)
        if (get(gctx, af[i], &v) && !(isfinite(v) && v > 0))
            violation(k, TRIT_E_CORRUPT, af[i], "is %g, must be finite and > 0", v);
    static const char *const yk[] = {"model.yarn_beta_fast", "model.yarn_beta_slow", "model.yarn_mscale",
                                     "model.yarn_mscale_all_dim"};
    for (size_t i = 0; i < sizeof yk / sizeof yk[0]; i++)
        if (get(gctx, yk[i], &v) && !(isfinite(v) && v >= 0))
            violation(k, TRIT_E_CORRUPT, yk[i], "is %g, must be finite and >= 0", v);
}

/* Group-limited routing: groups divide the experts, the kept groups hold at least the top-k
 * (else the release would pick masked experts), a two-best group sum needs groups of two. The
 * string moe.group_score is checked by its reader (the runner, verify): this getter is numeric. */
static void check_groups(mt_chk *k, double n_exp, double used)
{
    double ng = 1, tg;
    int const has_ng = count(k, "moe.n_group", 0, 1, TRIT_MT_MAX_EXPERTS, &ng);
    if (!has_ng) ng = 1;
    if (!count(k, "moe.topk_group", 0, 1, TRIT_MT_MAX_EXPERTS, &tg)) tg = ng;
    if (fmod(n_exp, ng) != 0) {
        violation(k, TRIT_E_CORRUPT, "moe.n_group", "%g does not divide moe.n_expert (%g)", ng, n_exp);
        return;
    }
    if (tg > ng) violation(k, TRIT_E_CORRUPT, "moe.topk_group", "is %g, more than moe.n_group (%g)", tg, ng);
    else if (tg < ng && tg * (n_exp / ng) < used)
        violation(k, TRIT_E_CORRUPT, "moe.topk_group", "%g groups of %g experts hold fewer than moe.n_expert_used (%g)", tg,
                  n_exp / ng, used);
}

int trit_mt_check(trit_mt_num_fn get, void *get_ctx, int required, trit_mt_report_fn report, void *report_ctx)
{
    mt_chk k = {get, get_ctx, report, report_ctx, 0};
    double n_layer, n_embd, n_head, n_kv, hd, n_vocab, v;
    count(&k, "model.n_layer", required, 1, TRIT_MT_MAX_LAYERS, &n_layer);
    count(&k, "model.n_embd", required, 1, TRIT_MT_MAX_EMBD, &n_embd);
    count(&k, "model.n_ff", 0, 0, TRIT_MT_MAX_FF, &v);
    int const has_head = count(&k, "model.n_head", required, 1, TRIT_MT_MAX_HEADS, &n_head);
    int const has_kv = count(&k, "model.n_head_kv", required, 1, TRIT_MT_MAX_HEADS, &n_kv);
    int const has_hd = count(&k, "model.head_dim", required, 1, TRIT_MT_MAX_HEAD_DIM, &hd);
    int const has_vocab = count(&k, "model.n_vocab", required, 1, TRIT_MT_MAX_VOCAB, &n_vocab);
    if (has_head && has_kv && fmod(n_head, n_kv) != 0)
        violation(&k, TRIT_E_CORRUPT, "model.n_head_kv", "%g does not divide model.n_head (%g)", n_kv, n_head);
    if (has_hd && count(&k, "model.rope_dim", 0, 0, TRIT_MT_MAX_HEAD_DIM, &v) && (fmod(v, 2) != 0 || v > hd))
        violation(&k, TRIT_E_CORRUPT, "model.rope_dim", "%g must be even and at most model.head_dim (%g)", v, hd);
    if (get(get_ctx, "model.norm_eps", &v)) {
        if (!isfinite(v) || v < 0) violation(&k, TRIT_E_CORRUPT, "model.norm_eps", "is %g, must be finite and >= 0", v);
    } else if (required) {
        violation(&k, TRIT_E_CORRUPT, "model.norm_eps", "is missing");
    }
    if (get(get_ctx, "model.rope_theta", &v)) {
        if (!isfinite(v) || v <= 0) violation(&k, TRIT_E_CORRUPT, "model.rope_theta", "is %g, must be finite and > 0", v);
    } else if (required) {
        violation(&k, TRIT_E_CORRUPT, "model.rope_theta", "is missing");
    }
    if (get(get_ctx, "moe.jitter_eps", &v) && !(isfinite(v) && v >= 0))
        violation(&k, TRIT_E_CORRUPT, "moe.jitter_eps", "is %g, must be finite and >= 0", v);
    static const char *const scales[] = {"model.embd_scale", "model.residual_scale", "model.logit_scale",
                                         "model.attn_scale", "moe.routed_scale"};
    for (size_t i = 0; i < sizeof scales / sizeof scales[0]; i++)
        if (get(get_ctx, scales[i], &v) && !(isfinite(v) && v > 0))
            violation(&k, TRIT_E_CORRUPT, scales[i], "is %g, must be finite and > 0", v);
    double n_exp = 0, used = 0, ffe = 0;
    int const has_exp = count(&k, "moe.n_expert", 0, 0, TRIT_MT_MAX_EXPERTS, &n_exp);
    int const has_used = count(&k, "moe.n_expert_used", 0, 0, TRIT_MT_MAX_EXPERT_USED, &used);
    if (has_exp && n_exp > 0) {
        if (!has_used || used < 1 || used > n_exp)
            violation(&k, TRIT_E_CORRUPT, "moe.n_expert_used", "is %g, must be in [1, moe.n_expert = %g]", has_used ? used : 0, n_exp);
        if (required && (!count(&k, "moe.n_ff_expert", 0, 1, TRIT_MT_MAX_FF, &ffe) || ffe < 1))
            violation(&k, TRIT_E_CORRUPT, "moe.n_ff_expert", "must be >= 1 when moe.n_expert is %g", n_exp);
        double nl;
        if (count(&k, "moe.first_dense_layers", 0, 0, TRIT_MT_MAX_LAYERS, &v) && get(get_ctx, "model.n_layer", &nl) && v > nl)
            violation(&k, TRIT_E_CORRUPT, "moe.first_dense_layers", "is %g, more than model.n_layer (%g)", v, nl);
        check_groups(&k, n_exp, has_used ? used : 0);
    } else if (has_used && used > 0) {
        violation(&k, TRIT_E_CORRUPT, "moe.n_expert_used", "is %g without experts", used);
    }
    check_mla(&k, get, get_ctx);
    static const char *const ids[] = {"model.bos_token_id", "model.eos_token_id"};
    for (size_t i = 0; has_vocab && i < 2; i++)
        if (get(get_ctx, ids[i], &v) && (v < 0 || v >= n_vocab))
            violation(&k, TRIT_E_CORRUPT, ids[i], "is %g, must be below model.n_vocab (%g)", v, n_vocab);
    return k.n;
}

/* ---- shared activation inputs (spec 9) ---------------------------------------------------- */

/* spec 9 "Sites": the activation vectors the forward pass quantizes and the projections that
 * read each (more than one: "Shared inputs"). One table for the runner (site -> tensors) and for
 * verify (tensor -> site). */
static const struct {
    const char *site;
    int per_expert;
    const char *module[3];
} k_act_sites[] = {
    {"attn_in", 0, {"attn_q", "attn_k", "attn_v"}},
    {"attn_out", 0, {"attn_output"}},
    {"ffn_in", 0, {"ffn_gate", "ffn_up"}},
    {"ffn_down", 0, {"ffn_down"}},
    {"router", 0, {"ffn_gate_inp"}},
    {"shexp_in", 0, {"ffn_gate_shexp", "ffn_up_shexp"}},
    {"shexp_down", 0, {"ffn_down_shexp"}},
    {"exp_in", 1, {"ffn_gate", "ffn_up"}},
    {"exp_down", 1, {"ffn_down"}},
    {"output", 0, {"output"}},
};

uint32_t trit_mt_act_site_tensors(const char *site, uint32_t layer, uint32_t expert, char names[3][96])
{
    for (size_t i = 0; site && i < sizeof k_act_sites / sizeof k_act_sites[0]; i++) {
        if (strcmp(site, k_act_sites[i].site)) continue;
        uint32_t n = 0;
        for (; n < 3 && k_act_sites[i].module[n]; n++) {
            const char *m = k_act_sites[i].module[n];
            if (!strcmp(site, "output")) snprintf(names[n], 96, "%s.weight", m);
            else if (k_act_sites[i].per_expert) snprintf(names[n], 96, "blk.%u.%s.%u.weight", layer, m, expert);
            else snprintf(names[n], 96, "blk.%u.%s.weight", layer, m);
        }
        return n;
    }
    return 0;
}

int trit_mt_act_input(const char *canon, char *key, size_t cap)
{
    unsigned layer = 0, expert = 0;
    char module[64];
    int used = 0, n = sscanf(canon, "blk.%u.%63[a-z_].%u.weight%n", &layer, module, &expert, &used);
    int const has_expert = n == 3 && used > 0 && canon[used] == '\0';
    snprintf(key, cap, "%s", canon);
    if (!has_expert) {
        used = 0;
        n = sscanf(canon, "blk.%u.%63[a-z_].weight%n", &layer, module, &used);
        if (n != 2 || used <= 0 || canon[used] != '\0') return 0;
    }
    for (size_t i = 0; i < sizeof k_act_sites / sizeof k_act_sites[0]; i++) {
        if (k_act_sites[i].per_expert != has_expert || !k_act_sites[i].module[1]) continue;
        for (int k = 0; k < 3 && k_act_sites[i].module[k]; k++) {
            if (strcmp(module, k_act_sites[i].module[k])) continue;
            if (has_expert) snprintf(key, cap, "blk.%u.%s.%u", layer, k_act_sites[i].site, expert);
            else snprintf(key, cap, "blk.%u.%s", layer, k_act_sites[i].site);
            return 1;
        }
    }
    return 0;
}
