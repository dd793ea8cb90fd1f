/*
 * test_run_util.h - tiny models for the runner tests, written through libtrit, and a naive
 * forward pass written separately from runner/ (plain loops over values read back from the
 * file) that the runner's logits are compared with.
 */
#ifndef TEST_RUN_UTIL_H
#define TEST_RUN_UTIL_H

#include <stdint.h>

#include "trit.h"

typedef struct trm_cfg {
    uint64_t seed;
    uint32_t n_layer, n_embd, n_head, n_head_kv, head_dim, n_vocab, rope_dim;
    uint32_t n_ff;             /* dense FFN width (0 when every layer is MoE) */
    uint32_t n_expert, n_expert_used, n_ff_expert, n_ff_shexp, first_dense;
    const char *act;           /* "silu", "relu2", "gelu" */
    const char *gating;        /* "softmax", "sigmoid" */
    int norm_topk;
    float routed_scale;
    int shared_gate;           /* Qwen2-MoE sigmoid gate on the shared expert */
    int exp_bias;              /* DeepSeek exp_probs_b */
    int qk_norm;               /* per-head q/k norms */
    int bias;                  /* q/k/v biases */
    int sub_norm;              /* BitNet attn_sub_norm / ffn_sub_norm */
    int tied;                  /* no output.weight */
    uint32_t proj_type;        /* projections: TRIT_TYPE_F32, F16, BF16 or T2 */
    uint32_t scale_layout;     /* t2: TRIT_SCALE_TENSOR, ROW or GROUP */
    uint32_t group_size;       /* t2 GROUP */
    uint32_t emb_type;         /* token_embd / output / router: F32, F16 or BF16 */
    uint32_t storage;          /* expert units: TRIT_STORAGE_RAW or ZSTD */
    float rope_theta, norm_eps;
    const char *omit_key;      /* tests of refusals: leave this metadata key out */
    uint32_t meta_head_dim;    /* tests of refusals: write this model.head_dim instead (0 = the real one) */
} trm_cfg;

/* A small llama-style dense float model (the defaults every test starts from). */
void trm_default(trm_cfg *c);
/* Write the model of c to path (overwriting). TRIT_OK or an error. */
int trm_write(const trm_cfg *c, const char *path, trit_err *err);

/* The naive reference: logits of the last of n tokens evaluated from position 0. out holds
 * n_vocab floats. Reads everything through trit_reader (including expert units). */
/* Round K and V to f16 in the reference's cache, as llama.cpp's default KV cache does (to
 * explain the differences to llama.cpp's logits; the runner keeps f32). */
extern int trm_ref_kv_f16;
/* Quantize t2 inputs per 256 values (the runner's --act-scales block) instead of per token. */
extern int trm_ref_act_block;
/* Multiply t2 weights with the float activations (the runner's --act-scales float). */
extern int trm_ref_act_float;
int trm_ref_logits(const char *path, const uint32_t *tokens, uint32_t n, float *out, trit_err *err);

/* Run the runner over path with the given options fields; logits of the last of n tokens.
 * kernel: RUN_KERNEL_*; budget: expert cache bytes. Evaluates the tokens in chunks of
 * `chunk` (0 = all at once) so the KV cache path is exercised. */
/* run_opts.act_scales for trm_run_logits (RUN_ACT_SCALES_DYNAMIC unless a test sets it). */
extern uint32_t trm_run_act_scales;
int trm_run_logits(const char *path, const uint32_t *tokens, uint32_t n, uint32_t threads, uint32_t kernel,
                   uint64_t budget, uint32_t policy, uint32_t chunk, float *out, trit_err *err);

/* Largest |a[i] - b[i]|. */
double trm_max_diff(const float *a, const float *b, uint32_t n);

#endif /* TEST_RUN_UTIL_H */
