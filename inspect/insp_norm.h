/* insp_norm.h - one vocabulary for three formats, shared by inspect, diff and verify: tensor
 * names mapped to the canonical (GGUF, spec/container.md 10.2) names, metadata mapped to the
 * .trit keys (spec 10.1), hyperparameters derived from the tensors (insp_norm.c). */
#ifndef INSP_NORM_H
#define INSP_NORM_H

#include <stddef.h>
#include <stdint.h>

#include "trit.h"

struct cJSON;

/* One tensor as the model checks see it: canonical name and logical shape. */
typedef struct insp_tref {
    const char *name;          /* name in the file; borrowed from the reader / inspect model */
    char *canon;               /* insp_canon_name(); owned by the holder of the array (vfy__model_release frees it) */
    int known;                 /* canon is a known canonical name */
    uint32_t layer, expert;    /* from the name, TRIT_NONE32 when none */
    uint32_t n_dims;
    uint64_t dims[8];          /* outermost first (logical shape) */
    uint32_t unit;             /* .trit: expert unit holding it, else TRIT_NONE32 */
    uint32_t rec_layer;        /* .trit: the record's layer field (TRIT_NONE32 elsewhere) */
    uint32_t rec_expert;       /* .trit: the record's expert field */
} insp_tref;

/* ------------------------------------------------------------------------------------------ */
/* Normalization (shared by verify and diff).                                                 */

/* Canonical (GGUF-style, spec 10.2) name of a tensor named in HF, GGUF or .trit style:
 * "model.layers.3.self_attn.q_proj.weight" -> "blk.3.attn_q.weight",
 * "model.layers.0.mlp.experts.5.up_proj.weight" -> "blk.0.ffn_up.5.weight",
 * "model.layers.1.block_sparse_moe.experts.2.w2.weight" -> "blk.1.ffn_down.2.weight".
 * Writes it to out (always NUL-terminated) and returns 1 if the name is a known tensor name
 * (already canonical or mapped), 0 if unknown (out = name unchanged). *layer and *expert (may
 * be NULL) receive the numbers or TRIT_NONE32. */
int insp_canon_name(const char *name, char *out, size_t cap, uint32_t *layer, uint32_t *expert);

/* Normalize a format's metadata (as insp_model.metadata: GGUF keys, safetensors __metadata__
 * plus "config" (config.json), or .trit keys) into an object of canonical keys (spec 10.1
 * model.* / moe.* names, plus general.architecture). format is "gguf", "safetensors" or "trit".
 * Returns a new cJSON object (caller frees with cJSON_Delete) or NULL on allocation failure.
 * If consumed != NULL it receives a new object whose keys are the source keys used (caller
 * frees). */
struct cJSON *insp_norm_meta(const char *format, const struct cJSON *meta, struct cJSON **consumed);


/* Fill t->canon (allocated), known, layer, expert from t->name. TRIT_E_NOMEM on failure. */
int insp_tref_name(insp_tref *t);

/* 1 if files of `format` have a key that maps to the canonical key (insp_norm_meta's table):
 * when they have none, its absence from such a file is not a difference. */
int insp_norm_has_source(const char *format, const char *canon);

/* Numeric value of key in o (numbers, bools, digit strings); 1 if found. */
int insp_num(const struct cJSON *o, const char *key, double *out);
/* Hyperparameters derived from the tensors where hp lacks them: head_dim = n_embd / n_head,
 * n_head_kv = n_head, tied_embeddings = no output.weight, n_vocab = rows of token_embd.
 * New object (caller frees with cJSON_Delete), NULL on allocation failure. */
struct cJSON *insp_derive(const struct cJSON *hp, const insp_tref *t, uint64_t n);

/* Replace bytes that are not valid UTF-8 (names come from untrusted files) and control
 * characters with '?' in place, so text lines stay one line and JSON stays valid. */
void insp_sanitize(char *s);

#endif /* INSP_NORM_H */
