/* vfy_int.h - what the files of verify/ share and nothing else uses (prefix vfy__). */
#ifndef VFY_INT_H
#define VFY_INT_H

#include <stdint.h>

#include "vfy.h"

struct cJSON;

/* One tensor as the model checks see it: canonical name and logical shape. */
typedef struct vfy__tref {
    const char *name;          /* name in the file; borrowed from the reader / inspect model */
    char *canon;               /* vfy_canon_name(); owned by the model (vfy__model_release) */
    int known;                 /* canon is a known canonical name */
    uint32_t layer, expert;    /* from the name, TRIT_NONE32 when none */
    uint32_t n_dims;
    uint64_t dims[8];          /* outermost first (logical shape) */
    uint32_t unit;             /* .trit: expert unit holding it, else TRIT_NONE32 */
    uint32_t rec_layer;        /* .trit: the record's layer field (TRIT_NONE32 elsewhere) */
    uint32_t rec_expert;       /* .trit: the record's expert field */
} vfy__tref;

/* The normalized model description the metadata checks run on. */
typedef struct vfy__model {
    const char *format;        /* "trit" | "gguf" | "safetensors" */
    struct cJSON *hp;          /* canonical key -> value (vfy_norm_meta); owned */
    struct cJSON *derived;     /* canonical key -> value derived from the tensors; owned */
    vfy__tref *t;              /* owned */
    uint64_t n;
} vfy__model;

/* Fill t->canon (allocated), known, layer, expert from t->name. TRIT_E_NOMEM on failure. */
int vfy__tref_name(vfy__tref *t);
void vfy__model_release(vfy__model *m);
/* Metadata checks of spec section 10 on a normalized model (vfy_model.c). strict: the file is a
 * .trit, whose metadata must state what the spec requires (other formats: what they state is
 * checked, what they leave out is derived or skipped). */
void vfy__check_model(vfy_report *rep, const vfy__model *m, int strict);

/* 1 if files of `format` have a key that maps to the canonical key (vfy_norm_meta's table):
 * when they have none, its absence from such a file is not a difference. */
int vfy__norm_has_source(const char *format, const char *canon);

/* Numeric value of key in o (numbers, bools, digit strings); 1 if found. */
int vfy__num(const struct cJSON *o, const char *key, double *out);
/* Hyperparameters derived from the tensors where hp lacks them: head_dim = n_embd / n_head,
 * n_head_kv = n_head, tied_embeddings = no output.weight, n_vocab = rows of token_embd.
 * New object (caller frees with cJSON_Delete), NULL on allocation failure. */
struct cJSON *vfy__derive(const struct cJSON *hp, const vfy__tref *t, uint64_t n);

/* 1 if the canonical name is a projection matrix (attention q/k/v/output, FFN gate/up/down,
 * experts, shared experts): the tensors that must never be all zero. */
int vfy__is_projection(const char *canon);

/* Runtime compatibility findings (vfy_runtime.c). */
void vfy__compat_header(vfy_report *rep, const vfy_runtime *rt, int newer, unsigned major, unsigned minor,
                        uint64_t required);
void vfy__compat_tensor(vfy_report *rep, const vfy_runtime *rt, const trit_tensor_info *t, const char *object);

/* Value checks on the bytes of one .trit tensor (vfy_values.c): t2 codes, row padding codes
 * and the gap before the scales (integrity), scales, NaN/Inf, all-zero projections (tensor).
 * p holds t->size bytes; off is the tensor's file offset (dense) or its unit's (dense = 0:
 * findings then carry the unit's offset and name the byte inside the decoded tensor). */
void vfy__trit_values(vfy_report *rep, const trit_tensor_info *t, const uint8_t *p, uint64_t off, int dense,
                      const char *object, int projection);

/* Streaming value statistics for formats decoded to float (vfy_values.c). */
typedef struct vfy__fstat {
    uint64_t n, n_nan, n_inf, n_nonzero;
    uint64_t first_bad;        /* element index of the first NaN/Inf, UINT64_MAX if none */
} vfy__fstat;
void vfy__fstat_init(vfy__fstat *s);
void vfy__fstat_add(vfy__fstat *s, const float *v, uint64_t n);
/* Report the findings of s for a tensor (NaN/Inf; all-zero if projection). */
void vfy__fstat_report(vfy_report *rep, const vfy__fstat *s, const char *object, int projection);

/* Verify a .gguf or safetensors input (vfy_foreign.c). */
void vfy__foreign(const char *path, vfy_report *rep);

/* Replace bytes of s that are not valid UTF-8, and control characters, with '?' in place
 * (names come from untrusted files; text lines and JSON must stay valid). */
void vfy__sanitize(char *s);

/* "tensor 'name'" into buf. Returns buf. */
const char *vfy__obj_tensor(char *buf, size_t n, const char *name);

#endif /* VFY_INT_H */
