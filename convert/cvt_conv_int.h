/* cvt_conv_int.h - the converter's internals, shared by the container writer (cvt_convert.c)
 * and the in-memory reference provider (cvt_ref.c): one plan, one scan, one encoder, so the
 * reference and the container hold the same bytes by construction and any difference between
 * their logits can only come from storing, reading, paging or decoding the container. */
#ifndef CVT_CONV_INT_H
#define CVT_CONV_INT_H

#include "cvt.h"
#include "cvt_arch.h"
#include "cvt_ternary.h"
#include "cvt_tok.h"

#define CVT_CHUNK_VALUES (1u << 18)

typedef struct cvt_plan_t {
    char name[128];
    uint32_t src;              /* source tensor; TRIT_NONE32: values below */
    const float *values;       /* a tensor the source states as config values (longrope factors,
                                  cvt_model), rows * cols F32; NULL for source tensors */
    int role;
    uint32_t layer, expert;
    uint32_t n_dims;
    uint64_t dims[8];          /* output shape */
    uint64_t rows, cols;       /* 2-D view of the output */
    uint64_t src_row0;         /* first source row (expert slice of a 3-D stack) */
    uint32_t row_step;         /* > 1: output row r is source row src_row0 + r * row_step (gpt-oss's
                                  interleaved gate/up rows); 0 or 1: consecutive rows */
    uint32_t col_step, col0;   /* > 1: output column j of a row is source column col0 + j * col_step
                                  of a source row col_step times as wide (interleaved fused bias) */
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
    uint32_t blk;              /* kept as this ggml block type (cvt_blk.c), 0 = not */
    uint32_t unit, id;
    double max_err, rms_err;
    double err_sq;             /* absmean pieces: their squared errors, summed in piece order */
    src_codes codes;           /* kind != NONE: scanned and encoded in the code domain (cvt_codes.c) */
    /* deepseek2 GGUF: attn_kv_b rebuilt from attn_k_b (src, [H][kv_lora][nope]) and attn_v_b
     * (mla_vb, [H][v][kv_lora]); mla_nope 0 = not such a tensor */
    uint32_t mla_vb, mla_nope, mla_v;
} cvt_plan_t;

/* 1 when the tensor's rows are one source tensor's rows in order (what the raw copy and the
 * code-domain path read), 0 when read_rows builds them: config values (longrope factors),
 * deepseek2's attn_kv_b from attn_k_b + attn_v_b, or every other row or column (gpt-oss's
 * interleaved gate/up). The one test both fast paths ask. */
static inline int cvt__rows_from_source(const cvt_plan_t *p)
{
    return !p->values && !p->mla_nope && p->row_step <= 1 && p->col_step <= 1;
}

/* One encoder's working state: a thread's, or the caller's. */
typedef struct cvt_emit {
    float *buf;                /* CVT_CHUNK_VALUES floats */
    /* where tensor bytes go: the writer, a job's buffer, or memory for the reference provider */
    int (*sink)(void *ctx, const void *p, uint64_t n, trit_err *err);
    void *sink_ctx;
    /* optional: n bytes of the sink's own storage, already counted as written, for an encoder
     * to fill in place (saves a copy); NULL when the sink has none (the writer) */
    uint8_t *(*claim)(void *ctx, uint64_t n, trit_err *err);
    uint64_t code_hist[3];     /* experts' -1/0/+1 counts */
    double err_sq, err_max;    /* absmean rows: |x - q gamma| summed squared, and its max */
} cvt_emit;

typedef struct cvt_conv {
    const cvt_opts *o;
    struct src_ckpt *src;
    cvt_model m;
    cvt_plan_t *p;
    uint32_t n;
    trit_writer *w;
    uint64_t done, total;
    uint64_t code_hist[3];     /* experts' -1/0/+1 counts, summed over every encoder */
    cvt_tok_info tok;          /* what the tokenizer import found */
    uint32_t n_mtp_skipped;    /* DeepSeek-V3 multi-token-prediction tensors left out */
    struct trit_pool *pool;    /* opts->threads threads (trit_pool.h) */
    uint32_t threads;
    int hash_files;            /* the scan also hashes the source files (a conversion's provenance) */
    uint64_t *file_xxh3;       /* provenance: one per source file, hashed on the pool during the scan */
} cvt_conv;


/* Open the source, describe the model and plan every output tensor; with scan, also run the
 * exact-ternary pass that fixes each projection's type and scale layout (scan == 2: and hash
 * the source files for the provenance records). */
int cvt__conv_prepare(cvt_conv *c, const char *src_path, const cvt_opts *o, int scan, trit_err *err);
void cvt__conv_release(cvt_conv *c);
/* The container description of a planned tensor (size and scale layout computed). */
void cvt__describe(const cvt_plan_t *p, trit_tensor_info *t);
/* The same for a tensor as written: an expert member's t2 becomes b3 under --expert-units b3. */
void cvt__describe_member(const cvt_conv *c, const cvt_plan_t *p, trit_tensor_info *t);
/* Encode a planned tensor's bytes (exactly t->size of them) into e->sink. */
int cvt__emit(cvt_conv *c, cvt_emit *e, cvt_plan_t *p, const trit_tensor_info *t, trit_err *err);
/* Output rows [r0, r0+nr) of a tensor that is exact ternary, absmean-ternarized (not from a
 * quantized copy: ls_magnitude) or float: t2 codes
 * (their scales into scales[], indexed as in the tensor) or float values, into e->sink. The
 * tensor's bytes are these rows in order, then (t2) cvt__t2_tail. Thread-safe for distinct e. */
int cvt__emit_rows(cvt_conv *c, cvt_emit *e, const cvt_plan_t *p, uint64_t r0, uint64_t nr, float *scales,
                   trit_err *err);
int cvt__t2_tail(cvt_emit *e, const cvt_plan_t *p, const trit_tensor_info *t, float *scales, trit_err *err);
/* Source row holding output row r of p (rope un-permute, expert slicing, row_step). */
uint64_t cvt__src_row(const cvt_plan_t *p, uint64_t r);
int cvt__emit_init(cvt_emit *e, trit_err *err);
void cvt__emit_free(cvt_emit *e);

/* ---- absmean ternarization (cvt_absmean.c) ---- */
/* The smallest float T >= 0 with roundf(T / gamma) != 0: q = (x >= T) - (x <= -T) is
 * clamp(roundf(x / gamma), -1, 1) for every finite x (gamma > 0). */
float cvt__absmean_threshold(float gamma);
/* Rows [r0, r0 + nr) of a tensor ternarized by absmean with gamma p->tensor_scale (no
 * ls_magnitude): their t2 codes into e->sink, the error into e->err_sq / e->err_max. */
int cvt__absmean_rows(cvt_conv *c, cvt_emit *e, const cvt_plan_t *p, uint64_t r0, uint64_t nr, trit_err *err);
/* p's reported error from its squared-error sum and max (cvt_convert.c). */
void cvt__absmean_err(cvt_plan_t *p, double sq, double max);

/* ---- the code-domain path (cvt_codes.c) ---- */
/* Decide p's t2 layout from its codes and block factors. *ok = 0: the float path must decide
 * (a code 3, a non-finite factor, all zero ...). */
int cvt__codes_scan(cvt_conv *c, cvt_plan_t *p, int *ok, trit_err *err);
/* The same scan fed in pieces (a file's one read, cvt_walk.c): init, then every row of p in
 * order as t2 rows and their block factors (nr rows a call; bad: codes 3 met in them), then the
 * result: 1 with p's layout set, or 0 (the float path decides). */
typedef struct cvt_cscan {
    uint64_t G[CVT_TSCAN_MAX_SCOPES];   /* group scopes wider than a block */
    float gmag[CVT_TSCAN_MAX_SCOPES];
    int gok[CVT_TSCAN_MAX_SCOPES];
    int ng, finest_group;
    int tens_ok, row_ok, all_zero, bail;
    float tmag;
} cvt_cscan;
void cvt__cscan_init(cvt_cscan *s, const cvt_plan_t *p);
void cvt__cscan_feed(cvt_cscan *s, const cvt_plan_t *p, const uint8_t *t2, const float *f, uint64_t nr, uint64_t bad);
int cvt__cscan_result(cvt_plan_t *p, const cvt_cscan *s);
/* cvt__emit_rows for a tensor cvt__codes_scan accepted. */
int cvt__codes_rows(cvt_conv *c, cvt_emit *e, const cvt_plan_t *p, uint64_t r0, uint64_t nr, float *scales,
                    trit_err *err);
/* Add the codes 0/1/2 among the first n_codes of t2 bytes q (nbytes of them) to hist. */
void cvt__t2_hist(const uint8_t *q, uint64_t nbytes, uint64_t n_codes, uint64_t hist[3]);

/* ---- the parallel pipeline (cvt_pipe.c) ---- */
/* Pass 1 on c->pool: every projection's layout (code domain where it can, else the float scan),
 * and the source files' xxh3 into c->file_xxh3. */
int cvt__scan_all(cvt_conv *c, trit_err *err);
/* Pass 2: every declared tensor and unit into c->w, encoded and compressed on c->pool, written in
 * plan order. ex: the experts in unit order (cvt__experts_sorted). */
int cvt__write_all(cvt_conv *c, cvt_plan_t **ex, uint32_t n_ex, trit_err *err);
/* Scan one projection (the float path, cvt_ternary.c) into p; buf holds CVT_CHUNK_VALUES floats. */
int cvt__scan_float(cvt_conv *c, cvt_plan_t *p, float *buf, int *any_ternary, trit_err *err);
struct cvt_tscan;
/* The end of a float scan: p's type, layout and scale from the whole tensor's scan state. */
int cvt__scan_result(cvt_conv *c, cvt_plan_t *p, const struct cvt_tscan *sc, int *any_ternary, trit_err *err);
/* Pass 1 for the tensors of source file `file` that one sequential read can scan (plain
 * floats, packed U8, GGUF code blocks; rows taken in order: cvt__walkable): the file's xxh3 into c->file_xxh3[file] and
 * their scans from that same read (cvt_walk.c). plans: those tensors, n of them. */
int cvt__walk_file(cvt_conv *c, uint32_t file, cvt_plan_t **plans, uint32_t n, trit_err *err);
/* 1 when p's scan can ride on its file's sequential read. */
int cvt__walkable(const cvt_conv *c, const cvt_plan_t *p);
int cvt__is_projection(int role);
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
int cvt__write_q8(cvt_conv *c, cvt_emit *e, cvt_plan_t *p, const trit_tensor_info *t, trit_err *err);

/* ---- ggml block types kept as they are (cvt_blk.c) ---- */
/* The container block type of a source type name ("Q4_K" -> TRIT_TYPE_Q4_K), 0 for others. */
uint32_t cvt__blk_type_of(const char *src_type);
/* Mark (p->blk, p->out_type) every planned tensor that keeps its source blocks. */
void cvt__blk_plan(cvt_conv *c);
/* Bytes of one row of a kept tensor. */
uint64_t cvt__blk_row_bytes(const cvt_plan_t *p);
/* Output rows [r0, r0+nr) of a kept tensor: the source's blocks, into e->sink. Thread-safe for distinct e. */
int cvt__blk_rows(cvt_conv *c, cvt_emit *e, const cvt_plan_t *p, uint64_t r0, uint64_t nr, trit_err *err);

#endif
