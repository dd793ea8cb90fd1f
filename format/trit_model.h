/*
 * trit_model.h - the one model-description table (spec/container.md section 10): every tensor the
 * container may hold under its canonical (GGUF-style) name, what it is to the converter, the
 * shape the runner expects, and the names releases give it; every metadata key with its GGUF
 * and config.json sources. Private to trit's tools (not installed), part of libtrit so that
 * every layer reads the same rows: convert (names and roles), inspect and diff (canonical
 * names, key normalization), verify (names, shapes), the runner (what it may be handed).
 *
 * Adding a family is rows here (its HF module paths, its GGUF names, its keys) plus its forward
 * block in the runner; nothing else keeps a copy of these names.
 *
 * Name patterns: inside a layer, names are relative to "blk.L." (canonical) or to
 * "[model.|model.language_model.|language_model.model.]layers.L." (HF); '#' stands for an
 * expert number. Shape symbols, outermost first: V n_vocab, E n_embd, Q n_head*head_dim,
 * K n_head_kv*head_dim, D head_dim, F n_ff, X n_expert, G n_ff_expert, '?' any size, '1' one;
 * alternatives separated by '|'. Multi-head latent attention (DeepSeek): O n_head*v_head_dim
 * (v_head_dim defaults to head_dim, so O = Q elsewhere), A q_lora_rank, C kv_lora_rank,
 * M kv_lora_rank + rope_dim, B n_head*(head_dim - rope_dim + v_head_dim). R rope_dim / 2 (one
 * longrope factor per rotary frequency; rope_dim defaults to head_dim). H n_head (one value per
 * head: gpt-oss attention sinks).
 */
#ifndef TRIT_MODEL_H
#define TRIT_MODEL_H

#include <stddef.h>
#include <stdint.h>

/* What a tensor is to the converter and the runner. */
enum trit_mt_role {
    TRIT_MT_FLOAT = 1,         /* stays float: embeddings, norms, router, biases */
    TRIT_MT_PROJ,              /* a dense projection: ternary when the model is */
    TRIT_MT_EXPERT,            /* one expert's projection: a member of its expert unit */
    TRIT_MT_EXPERT_STACK,      /* GGUF 3-D [E, out, in] stack of every expert's projection */
    TRIT_MT_EXPERT_STACK_GATE_UP, /* 3-D [E, 2*ff, in]: every expert's gate rows, then its up rows */
    TRIT_MT_EXPERT_STACK_GATE_UP_IL, /* 3-D [E, 2*ff, in]: gate and up rows interleaved (gpt-oss) */
    TRIT_MT_BIAS_GATE_UP_IL,   /* 2-D [E, 2*ff]: the fused bias of such a stack, interleaved */
    TRIT_MT_SCALE,             /* GGUF BitNet {projection}.scale: folded into its projection */
    TRIT_MT_SKIP,              /* carries nothing the container needs (rotary inv_freq tables) */
    TRIT_MT_NAMED              /* a name files carry that trit recognises but does not compute */
};

typedef struct trit_mt_tensor {
    const char *name;          /* canonical; layer-relative when layer; NULL: an HF-only skip */
    uint8_t layer;             /* 1: inside a block ("blk.L.") */
    uint8_t role;              /* enum trit_mt_role */
    const char *shape;         /* shape rule; NULL = not checked */
    const char *hf[4];         /* HF names (patterns), NULL-terminated */
} trit_mt_tensor;

/* The table (static storage). */
const trit_mt_tensor *trit_mt_tensors(size_t *n);

/* Name styles trit_mt_map accepts. */
#define TRIT_MT_HF 1u          /* HF safetensors names */
#define TRIT_MT_CANON 2u       /* canonical names (GGUF's and .trit's) */
#define TRIT_MT_LOOSE 4u       /* also a known module with any of the suffixes weight, bias, scale,
                                  weight_scale (inspect and diff name what they do not compute) */

typedef struct trit_mt_match {
    const trit_mt_tensor *row; /* the row matched; NULL for suffix variants and loose matches */
    int role;                  /* enum trit_mt_role */
    uint32_t layer, expert;    /* from the name; TRIT_NONE32 (0xffffffff) when none */
} trit_mt_match;

/* Map a tensor name written in one of the styles to its canonical name, written to out
 * (always NUL-terminated; "" for a skip row that has no canonical name). Returns 1 when the
 * name is known (m filled), 0 when not (out = name unchanged, m->layer still the block number
 * when the name has one). m may be NULL. */
int trit_mt_map(const char *name, unsigned styles, char *out, size_t cap, trit_mt_match *m);

/* The row of a canonical name, layer-relative when layer ("ffn_up.7.weight" finds
 * "ffn_up.#.weight"), or NULL. */
const trit_mt_tensor *trit_mt_find(const char *name, int layer);

/* ---- metadata keys ---------------------------------------------------------------------- */

enum trit_mt_conv {
    TRIT_MT_AS_IS = 0,         /* the value as the source states it */
    TRIT_MT_GATING,            /* GGUF expert_gating_func 1/2, config scoring_func -> softmax|sigmoid */
    TRIT_MT_ARCH               /* HF model_type "qwen3_moe" -> "qwen3moe" */
};

typedef struct trit_mt_key {
    const char *key;           /* the .trit key (spec 10.1) */
    uint32_t type, elem;       /* TRIT_KV_*; elem: the element type of an array */
    int required;              /* spec 10.1 requires it */
    const char *values;        /* allowed string values "a|b|c", or NULL */
    const char *gguf;          /* GGUF key after "{arch}.", or NULL */
    const char *gguf_abs;      /* GGUF key without the arch prefix, or NULL */
    const char *hf[3];         /* config.json fields, the first present wins; NULL-terminated */
    int conv;                  /* enum trit_mt_conv */
} trit_mt_key;

/* The key table (static storage): every key of spec 10.1. */
const trit_mt_key *trit_mt_keys(size_t *n);
/* The row of a .trit key, or NULL. */
const trit_mt_key *trit_mt_key_find(const char *key);
/* 1 if key belongs to the model description (model.*, moe.*): a reader that meets such a key
 * not in the table must refuse the file, since the key may change the math. */
int trit_mt_key_described(const char *key);

/* ---- shared activation inputs ------------------------------------------------------------ */

/* The activation vector a projection reads (spec 9 "Shared inputs"), as a key written to key
 * (always NUL-terminated): tensors with the same key read the same vector ("blk.3.attn_in" for
 * attn_q/k/v of layer 3, "blk.3.exp_in.7" for expert 7's gate and up, "blk.3.shexp_in"), so
 * their activation-scale entries must be identical. Returns 1 for those; 0 for a projection
 * with an input of its own (key = canon). canon is a canonical name. */
int trit_mt_act_input(const char *canon, char *key, size_t cap);
/* The canonical names of the projections reading activation site `site` ("attn_in", "attn_out",
 * "ffn_in", "ffn_down", "router", "shexp_in", "shexp_down", "exp_in", "exp_down", "output") of
 * layer (and expert, for exp_*) into names; returns their count, 0 for an unknown site. The
 * same table as trit_mt_act_input's. */
uint32_t trit_mt_act_site_tensors(const char *site, uint32_t layer, uint32_t expert, char names[3][96]);

/* ---- description rules ------------------------------------------------------------------ */

/* Dimension limits of the model description: what the runner sizes buffers for. A description
 * past them is TRIT_E_LIMIT for every reader (convert, verify, run). */
#define TRIT_MT_MAX_LAYERS      4096u
#define TRIT_MT_MAX_EMBD        (1u << 16)
#define TRIT_MT_MAX_HEADS       4096u
#define TRIT_MT_MAX_HEAD_DIM    4096u
#define TRIT_MT_MAX_VOCAB       (1u << 22)
#define TRIT_MT_MAX_FF          (1u << 20)
#define TRIT_MT_MAX_EXPERTS     4096u
#define TRIT_MT_MAX_EXPERT_USED 64u

/* A description's numeric value: 1 and *out when key is present and a number (bools 0/1). */
typedef int (*trit_mt_num_fn)(void *ctx, const char *key, double *out);
/* One violation: code TRIT_E_CORRUPT (inconsistent) or TRIT_E_LIMIT (past a limit above). */
typedef void (*trit_mt_report_fn)(void *ctx, int code, const char *key, const char *msg);

/* The consistency rules of spec 10.1 that every reader of a description applies, in one place:
 * counts in [1, limit] (required ones present when `required`), model.n_head a multiple of
 * model.n_head_kv, rope_dim even and at most head_dim, norm_eps finite and >= 0, rope_theta and
 * the scales finite and > 0, MoE counts coherent, special token ids below n_vocab. Calls
 * report (may be NULL) for each violation and returns how many there were. */
int trit_mt_check(trit_mt_num_fn get, void *get_ctx, int required, trit_mt_report_fn report, void *report_ctx);

#endif /* TRIT_MODEL_H */
