/* vfy_int.h - what the files of verify/ share and nothing else uses (prefix vfy__). */
#ifndef VFY_INT_H
#define VFY_INT_H

#include <stdint.h>

#include "insp_norm.h"
#include "vfy.h"

struct cJSON;

/* The normalized model description the metadata checks run on. */
typedef struct vfy__model {
    const char *format;        /* "trit" | "gguf" | "safetensors" */
    struct cJSON *hp;          /* canonical key -> value (insp_norm_meta); owned */
    struct cJSON *derived;     /* canonical key -> value derived from the tensors; owned */
    insp_tref *t;              /* owned */
    uint64_t n;
} vfy__model;

void vfy__model_release(vfy__model *m);
/* Metadata checks of spec section 10 on a normalized model (vfy_model.c). strict: the file is a
 * .trit, whose metadata must state what the spec requires (other formats: what they state is
 * checked, what they leave out is derived or skipped). */
void vfy__check_model(vfy_report *rep, const vfy__model *m, int strict);



/* 1 if the canonical name is a projection matrix (attention q/k/v/output, FFN gate/up/down,
 * experts, shared experts): the tensors that must never be all zero. */
int vfy__is_projection(const char *canon);

/* Append src's findings and counts to dst as if they had been reported to dst in order
 * (vfy_report.c): how per-object reports of parallel jobs become one report. */
void vfy__report_merge(vfy_report *dst, const vfy_report *src);

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

/* The same checks streamed: a tensor's bytes fed in order, in pieces of any size whose
 * offsets in the tensor are multiples of 4 (so no value or scale straddles two). Bounded state,
 * no allocation. Findings come out of vfy__vals_report exactly as from vfy__trit_values. */
typedef struct vfy__vals {
    const trit_tensor_info *t;
    uint64_t pos;              /* bytes fed */
    /* t2 */
    uint64_t cols, row_bytes, rows, codes, tail;
    uint64_t n3, first3, npad, first_pad, gap_bad, sc_bad, sc_zero, sc_first;
    /* f32 / f16 / bf16 */
    unsigned width;
    uint32_t em, mm;           /* exponent and mantissa masks */
    uint64_t n_vals, n_nan, n_inf, first;
    int skip;                  /* element count unusable: values not checked (cannot happen after open) */
    uint64_t nonzero;          /* non-zero weights or values seen (0: none; counts are not exact) */
    /* ggml block types (spec 6.3) */
    uint64_t blk_bad, blk_first, blk_last; /* blocks with an invalid scale, the tensor byte of the first, the last's index */
} vfy__vals;
void vfy__vals_init(vfy__vals *v, const trit_tensor_info *t);
void vfy__vals_feed(vfy__vals *v, const uint8_t *p, uint64_t n);
void vfy__vals_report(const vfy__vals *v, vfy_report *rep, uint64_t off, int dense, const char *object,
                      int projection);

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
void insp_sanitize(char *s);

/* "tensor 'name'" into buf. Returns buf. */
const char *vfy__obj_tensor(char *buf, size_t n, const char *name);

#endif /* VFY_INT_H */
