/*
 * gen.h - trit-gen: deterministic synthetic checkpoints in the real release layouts.
 *
 * Used by the tests (tiny models, a few KB), and by `make demo` / `make bench` (realistic
 * sizes via presets). Every byte is a pure function of (gen_opts, tensor name, element index):
 *
 *   tensor seed  = mix(opts.seed ^ fnv1a64(logical tensor name))
 *   element i    = mix(tensor seed + (i + 1) * golden gamma)      (splitmix64 finaliser)
 *
 * so the same options always give the same bytes, any element can be recomputed by a test
 * without generating the file (gen_value()), and writers stream tensor by tensor with memory
 * bounded by one row, never by the model.
 *
 * Layouts (formats.md section in brackets; each writer cites its release sources in gen_plan.c
 * and gen_config.c):
 *   bitnet    microsoft/bitnet-b1.58-2B-4T [3.3, 12]: U8 [out/4, in] packed codes + BF16
 *             weight_scale [1], linear_class autobitlinear (real weight = ternary x weight_scale),
 *             SubLN norms, relu2, tied embeddings
 *   bitnet-bitlinear  the same with linear_class bitlinear (real weight = ternary / weight_scale,
 *             transformers' BitLinear direction), so both scale directions stay tested
 *   bitnet-bf16  microsoft/bitnet-b1.58-2B-4T-bf16: BF16 master weights [out, in],
 *             quantization_mode online (absmean ternarization is what the release computes)
 *   latent    1bitLLM bitnet_b1_58-large/-3B [3.4, 12]: F32 latent (not ternary) weights,
 *             BitnetForCausalLM, weight_bits 1, tied embeddings (no lm_head.weight)
 *   llama158  HF1BitLLM/Llama3-8B-1.58-100B-tokens, tiiuae Falcon3-*-1.58bit [12]:
 *             LlamaForCausalLM with packed U8 + weight_scale, quant_method bitnet and no
 *             linear_class (BitLinear: divide), no sub-norms, untied BF16 lm_head
 *   bitcpm    BitCPM4 [3.5]: BF16 values = ternary x group scale (groups along each row)
 *   minicpm4  BitCPM4 / MiniCPM4 as released [12]: bitcpm plus rope_scaling longrope (rope_type,
 *             long_factor, short_factor, original_max_position_embeddings; --rope-orig below
 *             --ctx exercises the long factors)
 *   mixtral   Mixtral MoE [4.1], BF16, sharded with model.safetensors.index.json
 *   qwen3moe  Qwen3-30B-A3B [4.1, 12]: BF16, sharded, head_dim as its own config key (any even
 *             value: --head-dim 2*embd/heads gives the release's q_proj [heads*head_dim, hidden];
 *             the default stays embd/heads, the geometry the llama.cpp conformance suite pins),
 *             per-head q/k norms
 *   qwen2moe  Qwen1.5-MoE-A2.7B [4.1, 12]: q/k/v bias, shared_expert + shared_expert_gate [1, H],
 *             norm_topk_prob false, sharded
 *   olmoe     allenai/OLMoE-1B-7B-0924 [12]: q_norm [hidden], k_norm [kv width], no
 *             rms_norm_eps key, clip_qkv null, experts of width intermediate_size
 *   deepseek2 deepseek-ai/DeepSeek-V2-Lite [4.1, 12]: MLA (q_proj, kv_a_proj_with_mqa,
 *             kv_a_layernorm, kv_b_proj), first_k_dense_replace 1, 2 shared experts, yarn
 *   deepseek-v2  deepseek-ai/DeepSeek-V2 (236B): deepseek2 with the q LoRA (q_a_proj,
 *             q_a_layernorm, q_b_proj) and group_limited_greedy routing (n_group, topk_group,
 *             routed_scaling_factor 16)
 *   deepseek-v3  deepseek-ai/DeepSeek-V3: F8_E4M3 projections with F32 weight_scale_inv blocks of
 *             128 x 128, BF16 embeddings/norms/router/lm_head, F32 e_score_correction_bias,
 *             sigmoid + noaux_tc group routing, one shared expert, one multi-token-prediction
 *             module (model.layers.{num_hidden_layers}: embed_tokens, enorm, hnorm, eh_proj,
 *             shared_head, a full decoder layer)
 *   granitemoe ibm-granite granite-3.x MoE [12]: fused input_linear [E, 2F, H] / output_linear
 *             [E, H, F], router.layer, the 4 multipliers, F32, tied
 *   phimoe    microsoft/Phi-3.5-MoE-instruct [12]: LayerNorm with bias, q/k/v/o bias,
 *             lm_head bias, block_sparse_moe w1/w2/w3, longrope
 *   gpt-oss   openai/gpt-oss-20b [config.json, modeling_gpt_oss.py]: MXFP4 experts as
 *             gate_up_proj_blocks/_scales (gate/up rows interleaved) and down_proj_blocks/_scales,
 *             BF16 rest, attention sinks, q/k/v/o and expert biases, router bias, alternating
 *             sliding window, yarn with truncate false; gguf-gpt-oss: its twin as llama.cpp's
 *             conversion/gpt_oss.py writes it (gen_gptoss.c)
 *   gguf      GGUF v3 arch "bitnet" [1], projections TQ1_0/TQ2_0, F16 token_embd, F32 norms
 *   gguf-moe  GGUF v3 arch "qwen3moe", 3-D TQ expert tensors ffn_{gate,up,down}_exps
 * Directory outputs (safetensors layouts) hold config.json, tokenizer.json (byte-level BPE)
 * and the weights; gguf layouts write one file. Outputs appear atomically (temp + fsync +
 * rename) and an existing output is only replaced when opts.overwrite is set.
 *
 * Ternary tensors in MoE/bitcpm/gguf layouts hold exactly {-s, 0, +s} per scale group with s
 * representable in BF16 and F16, so a lossless converter reproduces them bit for bit.
 */
#ifndef TRIT_GEN_H
#define TRIT_GEN_H

#include <stddef.h>
#include <stdint.h>

#include "trit.h"

typedef enum gen_layout {
    GEN_LAYOUT_BITNET = 0,
    GEN_LAYOUT_LATENT,
    GEN_LAYOUT_BITCPM,
    GEN_LAYOUT_MIXTRAL,
    GEN_LAYOUT_QWEN3MOE,
    GEN_LAYOUT_GGUF,
    GEN_LAYOUT_GGUF_MOE,
    GEN_LAYOUT_TRIT,        /* .trit container through libtrit, Qwen3-MoE plan (gen_trit.c) */
    GEN_LAYOUT_BITNET_BITLINEAR,
    GEN_LAYOUT_BITNET_BF16,
    GEN_LAYOUT_LLAMA158,
    GEN_LAYOUT_MINICPM4,
    GEN_LAYOUT_QWEN2MOE,
    GEN_LAYOUT_OLMOE,
    GEN_LAYOUT_DEEPSEEK2,
    GEN_LAYOUT_GRANITEMOE,
    GEN_LAYOUT_PHIMOE,
    GEN_LAYOUT_DEEPSEEK_V2,   /* DeepSeek-V2 (236B): q LoRA, group_limited_greedy routing */
    GEN_LAYOUT_DEEPSEEK_V3,   /* DeepSeek-V3: FP8 block weights, sigmoid + noaux_tc, MTP module */
    GEN_LAYOUT_GPT_OSS,       /* openai/gpt-oss-20b scaled down: MXFP4 experts as blocks/scales (gen_gptoss.c) */
    GEN_LAYOUT_GGUF_GPT_OSS,  /* its GGUF twin as llama.cpp's converter writes it (arch gpt-oss) */
    /* New layouts go here (e.g. a .trit container written through libtrit), plus a row in
     * the table of gen_opts.c. */
    GEN_LAYOUT_COUNT_
} gen_layout;

/* GGUF ternary type choice. */
enum {
    GEN_TQ_MIXED = 0,   /* attention projections TQ2_0, FFN / experts TQ1_0 (both exercised) */
    GEN_TQ_1 = 1,       /* every projection TQ1_0 */
    GEN_TQ_2 = 2,       /* every projection TQ2_0 */
    GEN_TQ_F32 = 3      /* every projection F32 latent floats (file_type ALL_F32): the input of
                           llama.cpp's own quantizer in `make bench` */
};

typedef struct gen_opts {
    gen_layout layout;      /* what to write */
    uint64_t seed;          /* same seed -> same bytes */
    uint32_t n_layer;       /* transformer blocks */
    uint32_t n_embd;        /* hidden size */
    uint32_t n_ff;          /* FFN width (MoE: per-expert width) */
    uint32_t n_head;        /* attention heads */
    uint32_t head_dim;      /* per-head width; 0: n_embd / n_head. qwen3moe writes it as its own
                               config key and takes any even value (Qwen3-30B-A3B: 128 with hidden
                               2048 and 32 heads, twice hidden/heads: --head-dim, and the release
                               tests, use that ratio) */
    uint32_t n_head_kv;     /* KV heads (GQA); divides n_head */
    uint32_t n_vocab;       /* vocabulary: 256 byte tokens + merges + special tokens */
    uint32_t n_expert;      /* MoE experts per layer (0 for dense layouts) */
    uint32_t n_expert_used; /* experts per token */
    uint32_t n_ff_shared;   /* qwen2moe shared_expert / deepseek2 shared_experts width (0: 4 x n_ff
                               for qwen2moe, 2 x n_ff for deepseek2's two shared experts) */
    uint32_t q_lora;        /* deepseek2: q_lora_rank (0: null, V2-Lite's q_proj; else DeepSeek-V2's
                               q_a_proj, q_a_layernorm, q_b_proj) */
    uint32_t group_size;    /* bitcpm: weights per scale group along a row */
    uint32_t n_shards;      /* safetensors files (MoE default 2; 1 = single model.safetensors) */
    uint32_t n_ctx;         /* max_position_embeddings / context_length */
    uint32_t rope_orig;     /* minicpm4: longrope original_max_position_embeddings (0: n_ctx, as
                               MiniCPM4-8B states 32768 for both; below n_ctx selects the long
                               factors and a cos/sin factor > 1) */
    uint32_t gguf_align;    /* general.alignment (power of two, multiple of 8; default 32) */
    uint32_t gguf_tq;       /* GEN_TQ_* */
    int latent;             /* MoE and gguf layouts: random float projections, not ternary */
    int f32;                /* safetensors: float tensors F32 instead of the layout's BF16/F16 (not a
                               release layout: a twin for float-path conformance); 2 (gguf-gpt-oss
                               only): F32 but the MXFP4 experts kept */
    float embd_std;         /* spread of the token embedding (0: 0.02, the HF initializer_range) */
    /* Activation outliers as trained LLMs show them (gen_values.c): n_outlier hidden channels
     * (the same in every layer, gen_outlier_channel) whose pre-attention and pre-FFN norm
     * weights are outlier_scale x the rest, so those channels of every attention and FFN input
     * are that much larger (LLM.int8(), Dettmers et al. 2022: a few fixed feature dimensions,
     * up to 20x+ the others, in every layer); and a massive-activation token (Sun et al. 2024,
     * "Massive activations in LLMs": one token's residual stream carries values orders of
     * magnitude above the rest in a few fixed channels): token id massive_token's embedding is
     * massive_scale x larger in the outlier channels (the first 4 when n_outlier is 0). */
    uint32_t sliding_window;/* gpt-oss: the sliding layers' window (0: 4, the release's 128 scaled down so
                               that short test sequences cross it) */
    uint32_t n_outlier;     /* 0: none */
    float outlier_scale;    /* 0: 30 */
    uint32_t massive_token; /* GEN_NONE: none */
    float massive_scale;    /* 0: 100 */
    int overwrite;          /* replace an existing output */
} gen_opts;

/* Fill o with the tiny defaults of a layout (a few KB to a few hundred KB of output). */
void gen_opts_default(gen_opts *o, gen_layout layout);
/* Apply a named preset on top of o (keeps o->layout and o->seed). "2b4t": hidden 2560,
 * 30 layers, ff 6912, vocab 128256, 20 heads, 5 KV heads, ctx 4096; "tiny": the defaults.
 * TRIT_E_NOTFOUND for an unknown name. */
int gen_opts_preset(gen_opts *o, const char *name, trit_err *err);
/* Check that the dimensions suit the layout (divisibility, GGUF rows % 256 ...). */
int gen_opts_check(const gen_opts *o, trit_err *err);

/* Head width of o: o->head_dim, or n_embd / n_head when 0. */
uint32_t gen_head_dim(const gen_opts *o);
/* 1 for the MoE layouts (safetensors and gguf-moe / trit). */
int gen_layout_is_moe(gen_layout l);

/* Layout by CLI name ("bitnet", "gguf-moe" ...): TRIT_OK or TRIT_E_NOTFOUND. */
int gen_layout_from_name(const char *name, gen_layout *out);
/* CLI name of a layout, or NULL. Static storage. */
const char *gen_layout_name(gen_layout l);

/* The layout table: one row per layout. Rows are static storage. */
typedef int (*gen_write_fn)(const gen_opts *o, const char *out_path, trit_err *err);
typedef struct gen_layout_desc {
    const char *name;       /* CLI name */
    gen_layout layout;      /* enum value */
    gen_write_fn fn;        /* writer */
    int is_dir;             /* output is a directory (1) or one file (0) */
    const char *summary;    /* one line for --list */
} gen_layout_desc;
/* Borrowed pointer to the static table; *n receives the row count. */
const gen_layout_desc *gen_layout_table(size_t *n);

/* Check o and write the model of o->layout at out_path (a directory for safetensors
 * layouts, a file for gguf layouts). Nothing appears at out_path on failure. */
int gen_write(const gen_opts *o, const char *out_path, trit_err *err);

/* ------------------------------------------------------------------------------------------ */
/* The tensor plan: what a layout contains, and the value of any element.                      */

typedef enum gen_dtype {
    GEN_DT_F32 = 0, GEN_DT_F16, GEN_DT_BF16, GEN_DT_U8, GEN_DT_TQ1_0, GEN_DT_TQ2_0,
    GEN_DT_F8_E4M3,         /* torch float8_e4m3fn (safetensors F8_E4M3) */
    GEN_DT_MXFP4            /* ggml MXFP4: 17-byte blocks of 32 (GGUF) */
} gen_dtype;

typedef enum gen_kind {
    GEN_K_TERNARY = 0,  /* t(i) * s, one s per tensor (3-D: per expert slice) */
    GEN_K_GROUP,        /* t(i) * s(row, col / group) */
    GEN_K_PACKED,       /* HF BitNet U8 [out/4, in] codes of t(i) over the logical [out, in] */
    GEN_K_INVSCALE,     /* HF BitNet weight_scale [1] of the packed tensor with the same seed */
    GEN_K_FLOAT,        /* random float, spread `std`, rounded to the storage dtype */
    GEN_K_NORM,         /* norm weight: 1 + small noise, rounded to the storage dtype */
    GEN_K_FP8,          /* FP8 block-quantized weight: e4m3 code(i) x its block's scale (float32) */
    GEN_K_FP8_SCALE,    /* its weight_scale_inv [ceil(out/B), ceil(in/B)] F32, same seed as the
                           weight; shape[2] of both holds the weight's [out, in] via the plan */
    GEN_K_MXFP4,        /* MXFP4 weight: E2M1 code(i) x 2^(scale(i / 32) - 127); stored as HF blocks
                           (U8 [..., n/32, 16], low nibble = element 2j) or ggml MXFP4 (GEN_DT_MXFP4) */
    GEN_K_MXFP4_SCALES  /* its HF scales (U8 E8M0 [..., n/32]), same seed as the blocks */
} gen_kind;

/* DeepSeek-V3's weight_block_size (README_WEIGHTS.md "FP8 Weight Documentation"). */
#define GEN_FP8_BLOCK 128u

#define GEN_NONE UINT32_MAX

typedef struct gen_tensor {
    char name[96];          /* file name of the tensor (HF or GGUF naming) */
    uint32_t dtype;         /* gen_dtype as stored */
    uint32_t kind;          /* gen_kind */
    uint32_t n_dims;        /* 1..4 (4: HF MXFP4 blocks) */
    uint64_t shape[4];      /* stored shape, outermost first (torch order; GGUF ne reversed) */
    uint64_t nbytes;        /* stored bytes */
    uint64_t seed;          /* element stream (shared by a packed weight and its scale) */
    uint32_t group;         /* GEN_K_GROUP: weights per group */
    float std;              /* GEN_K_FLOAT spread */
    uint32_t layer;         /* block index or GEN_NONE */
    uint32_t expert;        /* expert index (per-expert HF tensors) or GEN_NONE */
    uint32_t file;          /* 0-based output file (shard) */
    uint32_t divide;        /* PACKED/INVSCALE: 1 when the real weight is ternary / weight_scale
                               (linear_class bitlinear), 0 when ternary x weight_scale (autobitlinear) */
    uint64_t w_rows, w_cols;/* FP8 / FP8_SCALE: the weight's [out, in] (block geometry) */
    /* planted activation outliers (gen_opts.n_outlier, massive_token): channels c with
     * gen_outlier_channel(k, width) == c for k < n_outlier are multiplied by outlier_scale;
     * a norm weight over the hidden size (every row) or one embedding row (massive_row) */
    uint32_t n_outlier;
    float outlier_scale;
    uint32_t massive_row;   /* GEN_NONE: every row */
    /* a twin of another layout's tensor (gpt-oss GGUF): values rounded to round_dt1 - 1 (the
     * source's dtype; 0: the stored dtype), and element i taken from the source's element
     * il(i) when il_half (1: even, 2: odd rows of a fused [A, 2R, C] source, this tensor being
     * [A, R, C] with R = il_rows, C = il_cols) */
    uint32_t round_dt1, il_half;
    uint64_t il_rows, il_cols;
} gen_tensor;

/* The k-th planted outlier channel of a hidden size of width: (7919 k + 13) mod width, distinct
 * for k < width when width is not a multiple of the prime 7919. */
uint64_t gen_outlier_channel(uint32_t k, uint64_t width);

typedef struct gen_plan {
    gen_tensor *t;          /* owned; release with gen_plan_release() */
    uint32_t n;             /* tensors, in state-dict (generation) order */
    uint32_t n_files;       /* shards (1 for gguf and unsharded layouts) */
    uint32_t split_layer;   /* MoE: the layer whose experts straddle a shard boundary, or GEN_NONE */
} gen_plan;

/* Build the plan of o (checked with gen_opts_check). p->t caller releases with
 * gen_plan_release(). */
int gen_plan_build(const gen_opts *o, gen_plan *p, trit_err *err);
void gen_plan_release(gen_plan *p);
/* Tensor by name, or NULL. Borrowed from p. */
const gen_tensor *gen_plan_find(const gen_plan *p, const char *name);

/* Elements of the logical tensor (PACKED: out x in, i.e. 4x the stored rows). */
uint64_t gen_logical_nelems(const gen_tensor *t);
/* Ternary value (-1/0/+1) of logical element i (flat row-major) of a TERNARY, GROUP or
 * PACKED tensor; 0 for other kinds. */
int gen_ternary(const gen_tensor *t, uint64_t i);
/* The scale that applies to logical element i: TERNARY/GROUP the multiplier s, PACKED and
 * INVSCALE the stored weight_scale (a multiplier, or a divisor when t->divide). 0 for other kinds. */
float gen_scale(const gen_tensor *t, uint64_t i);
/* Real value of logical element i: TERNARY/GROUP t*s, PACKED t*weight_scale (t/weight_scale
 * when t->divide), INVSCALE the
 * scale, FLOAT/NORM the random value rounded to the storage dtype (for TQ storage: the value
 * before quantization, which is exact unless opts.latent). */
float gen_value(const gen_tensor *t, uint64_t i);

/* ------------------------------------------------------------------------------------------ */
/* Pieces shared with tests.                                                                   */

/* Quantize one block of 256 floats like ggml's quantize_row_tq{1,2}_0_ref (d = absmax,
 * code = lroundf(x/d) + 1). TQ1_0 writes 54 bytes, TQ2_0 66 bytes. */
void gen_quantize_tq1_0(const float *x, uint8_t *out);
void gen_quantize_tq2_0(const float *x, uint8_t *out);

/* Tokenizer: token id's string in byte-level form (GPT-2 byte-to-unicode alphabet) into buf
 * (NUL-terminated). Ids: 0..255 single bytes, then merged lowercase words, then the special
 * tokens <|begin_of_text|>, <|end_of_text|>, <|reserved_special_token_k|>. Returns the length,
 * or 0 if id >= n_vocab or the buffer is too small (cap >= 64 always suffices). */
size_t gen_token(uint32_t n_vocab, uint32_t id, char *buf, size_t cap);
/* Number of special tokens at the end of the vocabulary (2, or 256 for vocab >= 4096). */
uint32_t gen_tok_n_special(uint32_t n_vocab);
/* bos = first special token, eos = the next one. */
uint32_t gen_tok_bos(uint32_t n_vocab);
uint32_t gen_tok_eos(uint32_t n_vocab);
/* Merge rule that creates token id (a merged word): "left right" into buf; 0 if id is not a
 * merged token. */
size_t gen_token_merge(uint32_t n_vocab, uint32_t id, char *buf, size_t cap);

/* Shard file name "model-0000i-of-0000N.safetensors" (i 0-based here, 1-based in the name),
 * or "model.safetensors" when n == 1. */
void gen_shard_name(uint32_t i, uint32_t n, char *buf, size_t cap);

#endif /* TRIT_GEN_H */
