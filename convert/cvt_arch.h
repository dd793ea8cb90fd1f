/* cvt_arch.h - model description and canonical names for the converter (cvt_arch.c). */
#ifndef CVT_ARCH_H
#define CVT_ARCH_H

#include <stdint.h>

#include "cvt.h"
#include "trit_model.h"

typedef struct cvt_model {
    char arch[32];
    char name[128];                /* general.name, "" when the source has none */
    uint32_t n_layer, n_embd, n_ff, n_head, n_head_kv, head_dim, n_vocab, n_ctx, rope_dim;
    float norm_eps, rope_theta;
    char hidden_act[16];
    int tied;
    int64_t bos, eos;              /* -1 when unknown */
    char act_quant[24];
    uint32_t n_expert, n_expert_used, n_ff_expert, n_shared_expert, first_dense;
    char gating[16];
    int norm_topk;
    float routed_scale;
    char shared_gate[16];
    float embd_scale, residual_scale, logit_scale; /* MiniCPM / granite scaling; 0 = not used */
    float attn_scale;              /* attention scores' scale (granite); 0 = 1/sqrt(head_dim) */
    int layer_norm;                /* block/output norms are LayerNorm with bias (PhiMoE), not RMSNorm */
    float jitter_eps;              /* gating "sparsemixer": its threshold (router_jitter_noise) */
    int ternary_model;             /* the source declares (or stores) ternary projections */
    int gguf_unpermute;            /* GGUF Q/K rows are in llama.cpp's permuted rope order */
    char online_quant[40];         /* why the config asks for absmean ternarization of float
                                      master weights ("quantization_mode online"), "" if not */
    /* multi-head latent attention (DeepSeek-V2): head_dim = qk_nope + qk_rope, rope_dim = qk_rope */
    uint32_t q_lora_rank, kv_lora_rank, v_head_dim;   /* 0 = not MLA / no q LoRA */
    /* YaRN (rope_scaling type yarn, DeepSeek's parameters); rope_scaling "" = none */
    char rope_scaling[16];
    float rope_scale_factor, yarn_beta_fast, yarn_beta_slow, yarn_mscale, yarn_mscale_all_dim;
    uint32_t rope_orig_ctx;
    /* group-limited routing (DeepSeek MoEGate; moe.n_group, moe.topk_group, moe.group_score):
     * n_group 0 = none; group_score "max" (group_limited_greedy) or "top2sum" (noaux_tc) */
    uint32_t n_group, topk_group;
    char group_score[12];
    int need_bias;                 /* noaux_tc: every MoE layer's router has e_score_correction_bias */
    uint32_t n_nextn;              /* DeepSeek-V3 num_nextn_predict_layers: HF layers n_layer ..
                                      n_layer + n_nextn - 1 are multi-token-prediction modules */
    /* longrope (rope_scaling "longrope"; spec 10.1): cos/sin multiplier per factor set; from an
     * HF config the factors themselves (n_rope_factors = rope_dim / 2 of each, written as the
     * tensors rope_factors_long/short.weight); a GGUF carries those tensors (n_rope_factors 0) */
    float rope_attn_short, rope_attn_long;
    int rope_select_seq;           /* longrope set chosen by the sequence's length (PhiMoE), not the context */
    uint32_t n_rope_factors;
    float rope_long[TRIT_MT_MAX_HEAD_DIM / 2], rope_short[TRIT_MT_MAX_HEAD_DIM / 2];
    /* gpt-oss (cvt_gptoss.c): sliding window (0 = none) and its layer period, the clamped
     * SwiGLU's limit and alpha (hidden_act "swiglu_oai"), YaRN without truncation (transformers'
     * rope_scaling truncate false; 0 = llama.cpp's and DeepSeek's floor / ceil) */
    uint32_t sliding_window, swa_period;
    float swiglu_limit, swiglu_alpha;
    int yarn_no_truncate;
} cvt_model;

/* Fill m from the source's config.json or GGUF keys. */
int cvt_arch_describe(const struct src_ckpt *s, cvt_model *m, trit_err *err);
/* Write m as the container's metadata (spec 10.1). */
int cvt_arch_write(const cvt_model *m, trit_kvbuf *w, trit_err *err);
/* The YaRN keys of m (rope_scaling "yarn"): MLA's and gpt-oss's. */
int cvt__write_yarn(const cvt_model *m, trit_kvbuf *w, trit_err *err);

enum {
    CVT_ROLE_FLOAT = 1,            /* stays float: embeddings, norms, router, biases */
    CVT_ROLE_PROJ,                 /* a dense projection: ternary when the model is */
    CVT_ROLE_EXPERT,               /* one expert's projection (a unit member) */
    CVT_ROLE_EXPERT_STACK,         /* GGUF 3-D [E, out, in]: split per expert */
    CVT_ROLE_EXPERT_STACK_GATE_UP, /* 3-D [E, 2*ff, in], gate rows then up rows: split per expert, twice */
    CVT_ROLE_EXPERT_STACK_GATE_UP_IL, /* the same with gate and up rows interleaved (gpt-oss) */
    CVT_ROLE_BIAS_GATE_UP_IL,      /* 2-D [E, 2*ff] fused bias, gate and up interleaved: two float stacks */
    CVT_ROLE_SCALE,                /* GGUF bitnet {name}.scale: folded into its projection */
    CVT_ROLE_SKIP                  /* carries nothing the container needs (rotary inv_freq) */
};

typedef struct cvt_name {
    char name[128];                /* canonical name; for EXPERT_STACK the stem "blk.L.ffn_gate" */
    int role;
    uint32_t layer, expert;        /* TRIT_NONE32 when not applicable */
} cvt_name;

/* Strict semantics (cvt_keys.c): every key of config.json, and every {arch}.* key of a GGUF,
 * is read into the description, known not to change the math, or refused naming the key and
 * its value (TRIT_E_UNSUPPORTED). */
struct cJSON;
int cvt_keys_check_config(const struct cJSON *config, trit_err *err);
int cvt_keys_check_gguf(const struct src_gguf *g, const char *arch, trit_err *err);

/* Map a source tensor name. 0 on success, -1 if the name is not understood. */
int cvt_arch_map_name(const char *src, int gguf, cvt_name *n);

#endif
