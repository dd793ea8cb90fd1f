/* cvt_conv_int.h - the converter's internals, shared by the container writer (cvt_convert.c)
 * and the in-memory reference provider (cvt_ref.c): one plan, one scan, one encoder, so the
 * reference and the container hold the same bytes by construction and any difference between
 * their logits can only come from storing, reading, paging or decoding the container. */
#ifndef CVT_CONV_INT_H
#define CVT_CONV_INT_H

#include "cvt.h"
#include "cvt_arch.h"
#include "cvt_tok.h"

#define CVT_CHUNK_VALUES (1u << 18)

typedef struct cvt_plan_t {
    char name[128];
    uint32_t src;              /* source tensor */
    int role;
    uint32_t layer, expert;
    uint32_t n_dims;
    uint64_t dims[8];          /* output shape */
    uint64_t rows, cols;       /* 2-D view of the output */
    uint64_t src_row0;         /* first source row (expert slice of a 3-D stack) */
    uint32_t permute_heads;    /* GGUF rope un-permute: heads in this tensor, 0 = none */
    float mult;                /* folded GGUF bitnet .scale (1 = none) */
    int ternary;               /* stored as t2 */
    int ternarize;             /* absmean (lossy) */
    int ls_magnitude;          /* ternarized from a block-quantized copy of a ternary model: the
                                  magnitude is read from the blocks' extremes, not absmean */
    uint32_t layout, group;
    float tensor_scale;
    uint32_t out_type;
    int q8;                    /* the int8 output-head copy (--output-head q8, cvt_head.c) */
    uint32_t unit, id;
    double max_err, rms_err;
} cvt_plan_t;

typedef struct cvt_conv {
    const cvt_opts *o;
    struct src_ckpt *src;
    cvt_model m;
    cvt_plan_t *p;
    uint32_t n;
    float *buf;                /* CHUNK_VALUES floats */
    trit_writer *w;
    uint64_t done, total;
    uint64_t code_hist[3];     /* experts' -1/0/+1 counts */
    /* where tensor bytes go: the writer, or memory for the reference provider */
    int (*sink)(void *ctx, const void *p, uint64_t n, trit_err *err);
    void *sink_ctx;
    cvt_tok_info tok;          /* what the tokenizer import found */
} cvt_conv;


/* Open the source, describe the model and plan every output tensor; with scan, also run the
 * exact-ternary pass that fixes each projection's type and scale layout. */
int cvt__conv_prepare(cvt_conv *c, const char *src_path, const cvt_opts *o, int scan, trit_err *err);
void cvt__conv_release(cvt_conv *c);
/* The container description of a planned tensor (size and scale layout computed). */
void cvt__describe(const cvt_plan_t *p, trit_tensor_info *t);
/* Encode a planned tensor's bytes (exactly t->size of them) into c->sink. */
int cvt__emit(cvt_conv *c, cvt_plan_t *p, const trit_tensor_info *t, trit_err *err);
/* Experts sorted by (layer, expert, name): the order units and their members are stored in.
 * *out caller frees. */
int cvt__experts_sorted(cvt_conv *c, cvt_plan_t ***out, uint32_t *n, trit_err *err);

/* Plan helpers shared with cvt_head.c: append a plan entry; read output rows [r0, r0+nr) of p
 * as floats into buf; the rows per chunk of c->buf. */
int cvt__add_plan(cvt_conv *c, const cvt_plan_t *t, trit_err *err);
int cvt__read_rows(cvt_conv *c, const cvt_plan_t *p, uint64_t r0, uint64_t nr, float *buf, trit_err *err);
uint64_t cvt__chunk_rows(const cvt_plan_t *p);
/* --output-head q8 (cvt_head.c): mark (or add, for tied embeddings) output.weight as the int8
 * copy; encode it (codes, gap, per-row scales). */
int cvt__head_plan(cvt_conv *c, trit_err *err);
int cvt__write_q8(cvt_conv *c, cvt_plan_t *p, const trit_tensor_info *t, trit_err *err);

#endif
