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
    uint32_t unit, id;
    double max_err, rms_err;
    /* deepseek2 GGUF: attn_kv_b rebuilt from attn_k_b (src, [H][kv_lora][nope]) and attn_v_b
     * (mla_vb, [H][v][kv_lora]); mla_nope 0 = not such a tensor */
    uint32_t mla_vb, mla_nope, mla_v;
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
    uint32_t n_mtp_skipped;    /* DeepSeek-V3 multi-token-prediction tensors left out */
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

#endif
