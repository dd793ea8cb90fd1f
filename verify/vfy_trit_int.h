/* vfy_trit_int.h - state of one .trit verification, shared by vfy_trit*.c and vfy_smoke.c. */
#ifndef VFY_TRIT_INT_H
#define VFY_TRIT_INT_H

#include "vfy_int.h"

typedef struct vfy__tctx {
    const trit_reader *r;      /* borrowed */
    vfy_report *rep;           /* borrowed */
    const vfy_runtime *rt;     /* borrowed */
    const vfy_opts *opts;      /* may be NULL */
    const uint8_t *buf;        /* the whole file (mapping or caller buffer); borrowed */
    vfy__model model;          /* normalized description; model.t[i] is tensor i; owned */
    struct cJSON *meta;        /* metadata as JSON (scalars; arrays as {"count": n}); owned */
} vfy__tctx;

/* The normalized model (canonical names, hyperparameters) and the metadata JSON. TRIT_E_NOMEM on failure. */
int vfy__tctx_init(vfy__tctx *c);
void vfy__tctx_release(vfy__tctx *c);
/* Checksum and value checks of tensor i whose bytes are p; off is its file offset (dense = 1)
 * or its unit's (dense = 0). */
void vfy__tensor_bytes(vfy__tctx *c, uint32_t i, const uint8_t *p, uint64_t off, int dense);
/* Expert unit u whose stored bytes are `stored` (un->stored_size of them, read by the caller):
 * stored checksum, streamed decode, members, padding (vfy_unit.c). */
void vfy__check_unit(vfy__tctx *c, uint32_t u, const uint8_t *stored);
/* Content checks of a section whose checksum holds (golden logits, activation scales). */
void vfy__section_content(vfy__tctx *c, const trit_section_info *si, const void *d, uint64_t n,
                          const char *object);
/* Metadata: spec 10.1 key types and values, names, units, then vfy__check_model(). */
void vfy__trit_metadata(vfy__tctx *c);
/* The runtime's own load of the model (vfy_smoke.c, through opts->load_fn). */
void vfy__load(vfy__tctx *c);
/* --smoke (vfy_smoke.c): nothing when opts->smoke_tokens is 0. */
void vfy__smoke(vfy__tctx *c);

#endif /* VFY_TRIT_INT_H */
