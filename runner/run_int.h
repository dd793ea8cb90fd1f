/*
 * run_int.h - private to runner/: the context layout, the expert cache, the worker pool and
 * the compute helpers shared by the runner's files.
 */
#ifndef RUN_INT_H
#define RUN_INT_H

#include <stdint.h>

#include "run.h"
#include "run_blk.h"
#include "run_kern.h"
#include "trit_model.h"

/* Caps on what a model may declare (checked at run_ctx_new, before any allocation): the model
 * table's, which convert and verify apply too (format/trit_model.h). */
#define RUN_MAX_LAYERS     TRIT_MT_MAX_LAYERS
#define RUN_MAX_EMBD       TRIT_MT_MAX_EMBD
#define RUN_MAX_HEADS      TRIT_MT_MAX_HEADS
#define RUN_MAX_HEAD_DIM   TRIT_MT_MAX_HEAD_DIM
#define RUN_MAX_VOCAB      TRIT_MT_MAX_VOCAB
#define RUN_MAX_FF         TRIT_MT_MAX_FF
#define RUN_MAX_EXPERTS    TRIT_MT_MAX_EXPERTS
#define RUN_MAX_EXPERT_USED TRIT_MT_MAX_EXPERT_USED
#define RUN_MAX_CTX        (1u << 20)
#define RUN_MAX_COLS       (1u << 22)       /* t2 int32 sums stay exact (run_kern.h) */
#define RUN_MAX_THREADS    256u
#define RUN_DEFAULT_CTX    4096u
#define RUN_UBATCH         32u               /* tokens per forward step (bounds scratch) */

/* ---- worker pool (run_pool.c) ---- */
typedef struct run_pool run_pool;
typedef void (*run_task_fn)(void *arg, uint32_t i, uint32_t n);
int run_pool_new(uint32_t n_threads, run_pool **out, trit_err *err);
void run_pool_free(run_pool *p);
void run_pool_run(run_pool *p, run_task_fn fn, void *arg);
/* fn(arg, worker, lo, hi) over [0, n_items) in chunks of grain items, handed to whichever thread
 * asks next (the caller too; worker < run_pool_size); returns when every chunk is done. For work
 * whose chunks are independent outputs computed alike by any thread. */
typedef void (*run_range_fn)(void *arg, uint32_t worker, uint64_t lo, uint64_t hi);
void run_pool_range(run_pool *p, run_range_fn fn, void *arg, uint64_t n_items, uint64_t grain);
uint32_t run_pool_size(const run_pool *p);
/* Contiguous share [*lo, *hi) of n items for worker i of n_workers. */
static inline void run__split(uint64_t n, uint32_t i, uint32_t n_workers, uint64_t *lo, uint64_t *hi)
{
    *lo = n * i / n_workers;
    *hi = n * (i + 1) / n_workers;
}

/* Rows per chunk of a range job over n rows on n_workers threads: about 8 chunks per thread (so
 * a thread that runs late leaves its share to the others) and a multiple of 16 (whole row tiles
 * of every kernel). */
static inline uint64_t run__grain(uint64_t n, uint32_t n_workers)
{
    uint64_t const g = (n / (8u * (uint64_t)n_workers) + 15u) & ~(uint64_t)15u;
    return g ? g : 16u;
}

/* ---- expert cache (run_cache.c) ---- */
typedef struct run_cache run_cache;
/* Loader the cache calls on a miss: read expert (layer, expert) into dst. */
typedef int (*run_cache_load_fn)(void *arg, uint32_t layer, uint32_t expert, void *dst, uint64_t size,
                                 trit_err *err);
int run_cache_new(uint32_t n_layer, uint32_t n_expert, uint64_t budget, uint32_t policy, run_cache **out,
                  trit_err *err);
void run_cache_free(run_cache *c);
/* Pin expert (layer, expert) of `size` bytes, loading it on a miss; *image borrowed until
 * run_cache_release. `weight` is the number of tokens routed to it (frequency estimate). */
int run_cache_acquire(run_cache *c, uint32_t layer, uint32_t expert, uint64_t size, uint32_t weight,
                      run_cache_load_fn load, void *arg, const void **image, trit_err *err);
void run_cache_release(run_cache *c, uint32_t layer, uint32_t expert);
/* From the prefetch thread: load expert (layer, expert) unless resident, in flight, larger
 * than the budget, or without room that evicts nothing needed sooner (then nothing happens).
 * Not pinned; counted in the prefetch statistics, not in hits or misses. */
int run_cache_prefetch(run_cache *c, uint32_t layer, uint32_t expert, uint64_t size, run_cache_load_fn load, void *arg,
                       trit_err *err);
/* A batch enters layer: n_tokens pass through it and experts[0..n) will be acquired next
 * (frequency aging; the LAYER policy keeps those until they are used). */
void run_cache_begin_layer(run_cache *c, uint32_t layer, uint32_t n_tokens, const uint32_t *experts, uint32_t n);
uint32_t run_cache_policy(const run_cache *c);
/* Statistics into s (the cache's fields only). */
void run_cache_stats(run_cache *c, run_stats *s);

/* ---- expert prefetch (run_prefetch.c) ---- */
typedef struct run_prefetch run_prefetch;
/* Start the prefetch thread over c's model and cache (c->cache set). *out NULL when the model
 * has no experts. Free with run__prefetch_free (joins the thread). */
int run__prefetch_new(run_ctx *c, run_prefetch **out, trit_err *err);
void run__prefetch_free(run_prefetch *p);
/* Layer L's batch of T tokens was routed (c->h holds the residual after L's attention): queue
 * the experts the next MoE layer is likely to use. */
void run__prefetch_next(run_ctx *c, uint32_t L, uint32_t T);
/* Bytes the prefetch thread read from the source. */
uint64_t run__prefetch_bytes_read(run_prefetch *p);

/* ---- the model ---- */
typedef struct run_hparams {
    uint32_t n_layer, n_embd, n_ff, n_head, n_head_kv, head_dim, n_vocab, n_ctx_train, rope_dim;
    float norm_eps, rope_theta;
    int act;                   /* RUN_ACT_* */
    int tied;                  /* output projection is token_embd */
    uint32_t bos, eos;         /* UINT32_MAX when unknown */
    uint32_t n_expert, n_expert_used, n_ff_expert, n_shared, first_dense;
    int gating;                /* RUN_GATING_* */
    int norm_topk;
    float routed_scale;
    int shared_gate;           /* 1 = sigmoid */
    float embd_scale;          /* MiniCPM: token embedding multiplier (1 = none) */
    float attn_scale;          /* attention scores' scale: model.attn_scale, else 1/sqrt(head_dim) */
    float residual_scale;      /* MiniCPM: block output multiplier before the residual add */
    float logit_scale;         /* MiniCPM: final hidden state multiplier before the output */
    /* multi-head latent attention (DeepSeek-V2, run_mla.c): kv_lora_rank 0 = not MLA; head_dim
     * is the key head qk_nope + qk_rope, rope_dim qk_rope; v_head_dim = head_dim elsewhere */
    uint32_t q_lora_rank, kv_lora_rank, v_head_dim;
    int layer_norm;            /* model.norm_kind "layer": block/output norms are LayerNorm + bias */
    float jitter_eps;          /* RUN_GATING_SPARSEMIXER: moe.jitter_eps */
    /* group-limited routing (moe.n_group / topk_group / group_score): active when
     * topk_group < n_group; group_score RUN_GROUP_MAX or RUN_GROUP_TOP2SUM */
    uint32_t n_group, topk_group;
    int group_score;
    /* gpt-oss (run_gptoss.c): sliding-window attention (model.sliding_window 0 = none; layers by
     * model.swa_period) and the clamped SwiGLU (RUN_ACT_SWIGLU_OAI: model.swiglu_limit / _alpha) */
    uint32_t sliding_window, swa_period;
    float swiglu_limit, swiglu_alpha;
} run_hparams;

enum { RUN_GROUP_MAX = 0, RUN_GROUP_TOP2SUM = 1 };

enum { RUN_ACT_SILU = 0, RUN_ACT_RELU2 = 1, RUN_ACT_GELU = 2, RUN_ACT_SWIGLU_OAI = 3 };
enum { RUN_GATING_SOFTMAX = 0, RUN_GATING_SIGMOID = 1, RUN_GATING_SPARSEMIXER = 2 };

/* A vector weight (norm, bias) converted to f32 once at open (they are tiny). NULL = absent. */
typedef struct run_layer {
    float *attn_norm, *bq, *bk, *bv, *q_norm, *k_norm, *attn_sub_norm, *ffn_norm, *ffn_sub_norm;
    float *attn_norm_b, *ffn_norm_b, *bo;  /* LayerNorm biases, the output projection's bias */
    int q_norm_full, k_norm_full;          /* norm over the whole q/k vector, not per head */
    run_tensor wq, wk, wv, wo;
    run_tensor ffn_gate, ffn_up, ffn_down; /* dense FFN (data NULL when the layer is MoE) */
    int moe;
    run_tensor router;
    float *exp_probs_b;
    run_tensor gate_sh, up_sh, down_sh;    /* shared experts (data NULL when none) */
    float *gate_inp_sh;
    run_expert_desc *experts;              /* n_expert descriptions (owned) */
    /* multi-head latent attention: wq (q_lora_rank 0) or wq_a, q_a_norm, wq_b; then wkv_a,
     * kv_a_norm, wkv_b; wo */
    run_tensor wq_a, wq_b, wkv_a, wkv_b;
    float *q_a_norm, *kv_a_norm;
    /* gpt-oss (run_gptoss.c): one sink logit per head, the window of a sliding layer (0: full),
     * the router's bias [n_expert], the experts' biases [n_expert][n_ff_expert | n_embd] */
    float *attn_sinks;
    uint32_t swa;
    float *router_b, *exp_gate_b, *exp_up_b, *exp_down_b;
} run_layer;

/* Activations of up to RUN_UBATCH tokens quantized to int8 (t2 inputs). */
typedef struct run_qbuf {
    int8_t *q;                 /* [n_tok][padded], zero past cols */
    float *d;                  /* per token: dequant step (max|x| / 127), 0 for a zero row */
    int32_t *sum;              /* per token: sum of q */
    int32_t *csum;             /* [n_tok][padded / 32]: sums of q per 32-wide chunk */
    uint64_t cols, padded;     /* of the last quantized input; padded = ceil(cols / 128) * 128 */
    uint64_t cap_padded;       /* widest padded row the buffers hold */
    uint32_t n_tok;
    const trit_act_entry *act; /* static per-channel/group scales of the quantized rows, or any
                                  16-bit entry (then d is unused and run__linear goes to
                                  run__act_linear); else NULL */
    int16_t *q16;              /* [n_tok][padded]: the rows of a 16-bit static site (act->bits 16;
                                  csum then holds their sums); borrowed from c->act, NULL when
                                  the model has no such site */
    float *bd;                 /* [n_tok][ceil(padded / RUN_ACT_BLOCK)]: per-block steps */
    int32_t *bsum;             /* the same shape: per-block sums of q */
    int blocked;               /* the rows were quantized per block (run__quantize_blocks): d is
                                  unused, bd holds the steps, run__linear goes to run__act_linear */
    int floated;               /* float mode: nothing was quantized; run__linear multiplies the
                                  t2 weights with its float input (run__float_linear) */
} run_qbuf;

#define RUN_ACT_BLOCK 256u     /* values per scale in RUN_ACT_SCALES_BLOCK (ggml's QK_K) */

struct run_ctx {
    const run_weights *w;
    run_hparams hp;
    run_layer *layers;
    run_tensor token_embd, output;
    float *output_norm, *output_norm_b, *output_b;
    const run_kern *kern;
    const struct run_b3_kern *kern_b3;   /* b3 weights (run_b3.c), the set matching kern */
    uint8_t *b3_t2;            /* b3 matrix re-packed as t2 (non-dynamic activation modes; owned) */
    int8_t *b3_vals;           /* one row's values for that */
    run_pool *pool;
    run_cache *cache;
    run_prefetch *prefetch;    /* NULL: prefetch off */
    int prefetch_sync;         /* RUN_PREFETCH_SYNC */
    FILE *trace;
    uint32_t n_ctx, n_pos;
    float *k_cache, *v_cache;  /* [n_layer][n_ctx][n_head_kv * head_dim] */
    /* scratch, sized for RUN_UBATCH tokens */
    float *h, *xn, *q, *k, *v, *att, *o, *ffa, *ffb, *ffo, *logits_tmp;
    float *router, *slot_out, *slot_w, *ex_x, *ex_a, *ex_b, *sh_out;
    uint32_t *slot_e;          /* [ubatch][n_expert_used] selected experts */
    uint32_t *need;            /* experts the current batch needs, increasing */
    float *route_choice;       /* [n_expert]: one token's choice values (scores + selection bias) */
    uint8_t *route_keep;       /* [n_expert]: experts of the kept groups (group-limited routing) */
    uint32_t *ex_tok;          /* token list of the current expert */
    uint32_t *ex_slot;         /* the slot of each listed token */
    float *att_scratch;        /* [n_threads][n_ctx] attention scores */
    int32_t *chunk_scratch;    /* [n_threads][max padded / 32] */
    run_qbuf qa, qb;           /* two quantized inputs alive at once */
    uint64_t max_cols;
    /* stats */
    uint64_t prefill_tokens, decode_tokens;
    double prefill_s, decode_s;
    double prefill_cpu_s, decode_cpu_s;
    uint64_t dense_bytes;      /* bytes of dense matrices read per token */
    uint64_t bytes_read;       /* stored bytes read for experts */
    uint64_t expert_bytes_used;          /* decoded bytes of every expert use (hit or miss) */
    uint64_t expert_bytes_decode;        /* ... during single-token evaluations */
    uint64_t max_ff;           /* widest FFN hidden layer (dense, expert or shared) */
    struct run_act *act;       /* static scales / observer (run_act.c); NULL: plain dynamic */
    /* multi-head latent attention scratch and rope (run_mla.c) */
    float *mla_kv;             /* [ubatch][kv_lora_rank + rope_dim]: compressed kv, k_pe */
    float *mla_a;              /* [ubatch][max(q_lora_rank, kv_lora_rank)]: a normed LoRA input */
    float *mla_b;              /* [ubatch][n_head * (qk_nope + v_head_dim)]: kv_b's output */
    double *mla_inv_freq;      /* [rope_dim / 2]: per pair, YaRN-blended when model.rope_scaling */
    float mla_rope_mscale;     /* YaRN: cos and sin multiplied by it (1 otherwise) */
    /* the standard attention's rope (run_rope.c), built once per context */
    double *rope_inv_freq;     /* [rope_dim / 2]: per rotated pair, divided by its longrope factor */
    float rope_mscale;         /* longrope: cos and sin multiplied by it (1 otherwise) */
    /* ggml block types (run_blk_lin.c) */
    const run_blk_kern *blk;   /* the block kernels (static storage) */
    uint8_t *blk_act;          /* RUN_UBATCH tokens' quantized activations of the widest input */
    size_t blk_act_cap;        /* its bytes */
};

/* ---- ggml block types (run_blk_lin.c) ---- */
/* The run_blk_type of a container type, or -1 when it is not a block type. */
int run__blk_of(uint32_t type);
/* Bytes of one row of a block-type matrix (0 for other types). */
uint64_t run__blk_row_bytes(const run_tensor *w);
/* Bytes c->blk_act needs for n_tok tokens of rows up to max_cols wide. */
size_t run__blk_act_cap(uint64_t max_cols, uint32_t n_tok);
/* y[t * ldy + r] = W row r . x_t for a block-type W: x_t quantized once (llama.cpp's
 * vec_dot_type), rows split over the pool. */
void run__blk_linear(run_ctx *c, const run_tensor *w, const float *x, uint64_t ldx, uint32_t n, float *y, uint64_t ldy);
/* Row tok of a block-type embedding, dequantized into out (emb->cols floats). */
void run__blk_embed_row(const run_tensor *emb, uint32_t tok, float *out);

/* ---- compute helpers (run_ops.c) ---- */
int run__qbuf_init(run_qbuf *b, uint32_t n_tok, uint64_t cols, trit_err *err);
void run__qbuf_release(run_qbuf *b);
/* Quantize n rows of x (row stride ldx) into b (BitNet absmax per token). */
void run__quantize(run_qbuf *b, const float *x, uint64_t ldx, uint64_t cols, uint32_t n);
/* Fill b->csum for token t from its quantized row (b->padded set). */
void run__qbuf_chunk_sums(run_qbuf *b, uint32_t t);
/* The same with one absmax per RUN_ACT_BLOCK values of each row (q8_K's scheme, run_ops.c). */
void run__quantize_blocks(run_qbuf *b, const float *x, uint64_t ldx, uint64_t cols, uint32_t n);
/* y[t * ldy + r] = W row r . x_t for t < n and every row of W, split over the pool. qb must
 * hold x quantized when W is t2 (else may be NULL). */
void run__linear(run_ctx *c, const run_tensor *w, const float *x, uint64_t ldx, const run_qbuf *qb,
                 uint32_t n, float *y, uint64_t ldy);
/* One row of W against one token (the kernel of run__linear; chunks: scratch for group scales). */
float run__row_dot(const run_kern *k, const run_tensor *w, uint64_t r, const float *x, const run_qbuf *qb,
                   uint32_t t, int32_t *chunks);
/* Group scales over per-32 chunk sums (t2 planes or b3 planes): the sum over groups g, in order,
 * of (float)(sum of chunks[ch] - cs[ch] over the group's per chunks) * sc[g]; nch chunks. */
float run__group_sum(const int32_t *chunks, const int32_t *cs, uint64_t nch, uint64_t per, uint64_t ng, const float *sc);
/* x = rmsnorm(x) * w over n values (w NULL: no weight). Sum of squares in double. */
void run__rmsnorm(float *out, const float *x, const float *w, uint64_t n, float eps);
/* out = (x - mean) / sqrt(var + eps) * w + b over n values (torch.nn.LayerNorm; w, b NULL:
 * none); out may be x. Sums in double. */
void run__layernorm(float *out, const float *x, const float *w, const float *b, uint64_t n, float eps);
/* A block or output norm as the description states it (model.norm_kind): RMSNorm * w, or
 * LayerNorm * w + b. */
void run__norm(const run_ctx *c, float *out, const float *x, const float *w, const float *b);

/* ---- b3 weights (run_b3.c) ---- */
/* y[t * ldy + r] = W row r . x_t for a b3 W (run__linear's contract). */
void run__b3_linear(run_ctx *c, const run_tensor *w, const float *x, uint64_t ldx, const run_qbuf *qb, uint32_t n, float *y,
                    uint64_t ldy);
/* Pick c->kern_b3; for activation modes other than dynamic, the re-packing scratch. */
int run__b3_check(run_ctx *c, uint32_t act_mode, trit_err *err);
void run__b3_free(run_ctx *c);

/* ---- activation quantization sites and static scales (run_act.c, run_act_lin.c) ---- */
/* Set up c->act for o's act_scales mode and observer (after the model is loaded). */
int run__act_new(run_ctx *c, const run_opts *o, trit_err *err);
void run__act_free(struct run_act *a);
/* Quantize n rows of x (stride ldx, cols values) for site (kind, layer, expert) into b:
 * dynamic absmax per token, or the site's static scales; the observer sees x first. */
void run__act_quant(run_ctx *c, uint32_t kind, uint32_t layer, uint32_t expert, run_qbuf *b, const float *x,
                    uint64_t ldx, uint64_t cols, uint32_t n);
/* y[t * ldy + r] = W row r . x_t for a t2 W and x quantized with static per-channel or
 * per-group scales (qb->act set), split over the pool. */
void run__act_linear(run_ctx *c, const run_tensor *w, const run_qbuf *qb, uint32_t n, float *y, uint64_t ldy);
/* y[t * ldy + r] = W row r . x_t for a t2 W and float activations x (no quantization: the
 * float mode's reference product), split over the pool. */
void run__float_linear(run_ctx *c, const run_tensor *w, const float *x, uint64_t ldx, uint32_t n, float *y, uint64_t ldy);
/* The static-scale counters into s (nothing in dynamic mode). */
void run__act_stats(const run_ctx *c, run_stats *s);
/* Print the clipping counters of s (text or JSON member "act_clipping"; nothing when absent). */
void run__act_stats_print(const run_stats *s, int json, FILE *f);

/* Causal softmax attention of the T new positions over layer L's cache (run_forward.c): n_kv
 * cached heads (GQA: n_head / n_kv query heads each) of kw key and vw value values; queries in
 * c->q ([T][n_head][kw]), output in c->att ([T][n_head][vw]). On the pool when large. */
void run__attend(run_ctx *c, uint32_t L, uint32_t T, uint32_t n_kv, uint32_t kw, uint32_t vw);

/* Multi-head latent attention (run_mla.c): read the description's MLA and YaRN keys (after the
 * common ones), and one layer's attention block for T tokens (h += o). */
int run__mla_hparams(run_ctx *c, trit_err *err);
int run__mla_alloc(run_ctx *c, trit_err *err);
void run__mla_attention(run_ctx *c, uint32_t L, uint32_t T);

/* The standard attention's rotary table (run_rope.c): after the model is loaded and the
 * context length c->n_ctx is fixed (longrope refuses a context its two references disagree on). */
int run__rope_init(run_ctx *c, trit_err *err);

/* YaRN (run_yarn.c): blend inv_freq[0..half) of a rotary width dim in place from the
 * description's yarn keys; *mscale the cos/sin multiplier, *score_mult the attention scores'. */
int run__yarn(run_ctx *c, double *inv_freq, uint32_t half, double dim, float *mscale, double *score_mult, trit_err *err);

/* gpt-oss (run_gptoss.c): its keys (after read_hparams), one layer's sinks / window / biases
 * (after the layer's tensors), and the experts' clamped-SwiGLU FFN with biases: out[n][n_embd]
 * for the n rows of x (quantized in qx when the weights are t2) through expert e of layer L. */
int run__gptoss_hparams(run_ctx *c, trit_err *err);
int run__gptoss_layer(run_ctx *c, uint32_t L, trit_err *err);
void run__gptoss_free_layer(run_layer *ly);
void run__gptoss_ffn(run_ctx *c, const run_tensor *gate, const run_tensor *up, const run_tensor *down, uint32_t L, uint32_t e,
                     const float *x, const run_qbuf *qx, uint32_t n, float *ha, float *hb, float *out);

/* The forward pass (run_forward.c): T <= RUN_UBATCH tokens at positions n_pos.. */
int run__forward(run_ctx *c, const uint32_t *tokens, uint32_t T, float *logits, trit_err *err);

/* Model loading (run_model.c). */
int run__load_model(run_ctx *c, trit_err *err);
void run__free_model(run_ctx *c);

#endif /* RUN_INT_H */
