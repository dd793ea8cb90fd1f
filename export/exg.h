/*
 * exg.h - `trit export`: a .trit container back to a GGUF v3 file that llama.cpp loads.
 * Normative description of the mapping: spec/export.md.
 *
 * What is written, in order (reference/formats.md section 1):
 *   1. header: "GGUF", version 3, n_tensors, n_kv
 *   2. KVs: general.* (architecture, name, alignment, file_type, quantization_version), the
 *      {arch}.* hyperparameters mapped from the container's model.* / moe.* keys, and the
 *      tokenizer KVs carried in the container's section of kind 3, with GGUF types
 *   3. tensor infos (ne = the container's dims reversed), zero padding to the alignment
 *   4. tensor data in info order at the running padded offsets ggml requires
 *
 * Tensors: names are already llama.cpp's. t2 tensors become TQ2_0 (or TQ1_0) when every
 * 256-weight block has one scale and rows are multiples of 256, else F16 (F32 when a scale is
 * outside the f16 range): the fallback, documented per tensor in exg_tensor.note. Float
 * tensors keep their type, except that F16/BF16 1-D, norm, bias and router tensors are widened
 * (exactly) to F32, as llama.cpp's elementwise ops require (spec/export.md). The per-expert members blk.L.ffn_{gate,up,down}.E.weight become the
 * 3-D blk.L.ffn_{gate,up,down}_exps.weight (ne {in, out, n_expert}), read one unit at a time.
 * Q/K rows are permuted from the container's neox layout into llama.cpp's "normal" RoPE layout
 * for the architectures that use it (llama, deepseek).
 *
 * Memory: the plan (KV header + tensor table) plus one row buffer and one expert unit; tensor
 * data is streamed from the mapping. The output appears only when the write succeeds (temp
 * file beside it, fsync, rename, fsync of the directory). Output bytes are a pure function of
 * the input and the options.
 *
 * Thread-safety: a plan is immutable after exg_plan_new(); several writes of one plan
 * may run at once (to different paths).
 */
#ifndef EXG_H
#define EXG_H

#include <stdint.h>

#include "trit.h"

#define EXG_TQ1 1u        /* ternary tensors as TQ1_0 (1.69 bpw) instead of TQ2_0 */
#define EXG_OVERWRITE 2u  /* replace an existing output */
#define EXG_DEQUANT 4u    /* every t2 tensor dequantized instead of TQ (for comparisons) */
#define EXG_DEQUANT_F32 8u /* dequantized t2 tensors are F32 instead of F16 */

typedef struct exg_opts {
    uint32_t flags;                      /* EXG_* */
    uint32_t alignment;                  /* general.alignment: power of two >= 8; 0 = 32 */
    /* The temp file, published (NULL: gone) for a signal handler that must unlink it: the same
     * callback as cvt_opts.temp_path and cal_opts.temp_path. May be NULL. */
    void (*temp_path)(void *ctx, const char *path);
    void *temp_ctx;                      /* passed to temp_path */
    void (*progress)(void *ctx, uint64_t done, uint64_t total);  /* data bytes; may be NULL */
    void *progress_ctx;                  /* passed to progress */
} exg_opts;

/* How an output tensor's bytes are produced. */
enum {
    EXG_BY_COPY = 0,       /* bytes copied as they are (f32, f16, bf16, i8, i32) */
    EXG_BY_TERNARY = 1,    /* t2 codes re-blocked as TQ2_0 / TQ1_0 with f16 block scales */
    EXG_BY_DEQUANT = 2,    /* t2 dequantized to F16/F32 (the fallback; see note) */
    EXG_BY_CONVERT = 3,    /* floats converted to another float type (F16/BF16 -> F32: mixed
                              expert types; 1-D, norm, bias and router tensors) */
    EXG_BY_SCALE = 4,      /* BitNet {name}.scale [1]: the exact f32 per-tensor scale */
    EXG_BY_MLA_K = 5,      /* deepseek2 attn_k_b F32 [n_head][kv_lora][qk_nope]: the k_nope rows of
                              attn_kv_b, transposed per head (llama.cpp's converter, kv_b_proj split) */
    EXG_BY_MLA_V = 6       /* deepseek2 attn_v_b F32 [n_head][v_head_dim][kv_lora]: its v rows */
};

/* One tensor of the output, in file order. */
typedef struct exg_tensor {
    const char *name;          /* GGUF name (< 64 bytes); borrowed, valid until plan free */
    uint32_t ggml_type;        /* ggml type id written (0 F32, 1 F16, 30 BF16, 34 TQ1_0 ...) */
    uint32_t how;              /* EXG_BY_COPY ... */
    uint32_t n_dims;           /* 1..4 */
    uint64_t ne[4];            /* GGUF order (ne[0] innermost); unused dims are 1 */
    uint64_t nbytes;           /* data bytes */
    uint64_t offset;           /* from the start of the data section (alignment multiple) */
    uint32_t src;              /* container tensor index (a stack: expert 0's member) */
    uint32_t n_src;            /* 1, or the experts stacked along ne[2] */
    uint32_t permuted;         /* 1 if rows were permuted for llama.cpp's normal RoPE */
    const char *note;          /* why the fallback was taken, or NULL; borrowed */
} exg_tensor;

typedef struct exg_summary {
    const char *arch;          /* GGUF general.architecture written; borrowed */
    const char *src_arch;      /* the container's general.architecture; borrowed */
    uint64_t n_kv;             /* KVs written */
    uint64_t n_tokenizer_kv;   /* of which copied from the tokenizer section */
    uint32_t n_tensors;        /* tensors written */
    uint32_t n_ternary;        /* written as TQ2_0 / TQ1_0 */
    uint32_t n_fallback;       /* t2 tensors dequantized (see each note) */
    uint32_t n_stacked;        /* 3-D expert tensors built from units */
    uint32_t n_permuted;       /* Q/K tensors permuted for normal RoPE */
    uint64_t data_off;         /* file offset of the data section */
    uint64_t file_size;        /* bytes of the output */
} exg_summary;

/* Facts only known after writing. */
typedef struct exg_stats {
    double max_scale_rel_err;  /* largest |f16(d) - scale| / |scale| over TQ block scales
                                  (0 when every scale is exact in f16) */
    uint64_t n_units_read;     /* expert units decoded */
    uint64_t bytes;            /* bytes written (= summary.file_size) */
} exg_stats;

typedef struct exg_plan exg_plan;

/* Plan the export of an open container: map metadata and tokenizer, choose every tensor's
 * type, lay out the file. r is borrowed and must stay open until the plan is freed. opts may
 * be NULL. Reads dense tensors' scales (to check their f16 range), never expert units.
 * Errors: TRIT_E_UNSUPPORTED (an architecture, type or tensor GGUF cannot carry),
 * TRIT_E_CORRUPT (inconsistent experts or metadata), TRIT_E_LIMIT (a name too long for
 * ggml, more than 4 dims), TRIT_E_NOMEM. *out caller frees with exg_plan_free(). */
int exg_plan_new(const trit_reader *r, const exg_opts *opts, exg_plan **out,
                        trit_err *err);
void exg_plan_free(exg_plan *p);   /* NULL is ok */

/* Borrowed, valid until the plan is freed. */
const exg_summary *exg_plan_summary(const exg_plan *p);
uint32_t exg_plan_n_tensors(const exg_plan *p);
const exg_tensor *exg_plan_tensor(const exg_plan *p, uint32_t i);
/* Things a user should know (a routing convention llama.cpp hard-codes differently, no
 * tokenizer ...). Borrowed strings. */
uint32_t exg_plan_n_warnings(const exg_plan *p);
const char *exg_plan_warning(const exg_plan *p, uint32_t i);

/* Write the planned GGUF to out_path (atomically). opts may be NULL (flags are taken from the
 * plan; only temp_path and progress are used here). st may be NULL. Errors: TRIT_E_EXISTS (output
 * exists, no EXG_OVERWRITE), TRIT_E_IO, TRIT_E_CORRUPT (an invalid t2 code or a unit
 * that does not decode), TRIT_E_UNSUPPORTED (an expert's scale outside the f16 range). */
int exg_write(const exg_plan *p, const char *out_path, const exg_opts *opts,
                     exg_stats *st, trit_err *err);

/* Plan + write in one call. */
int exg_gguf(const trit_reader *r, const char *out_path, const exg_opts *opts,
                    exg_stats *st, trit_err *err);

/* GGUF architecture for a container architecture ("mixtral" -> "llama", "bitnet-b1.58" ->
 * "bitnet"), or NULL when export does not know it. *norm_rope (may be NULL) is set to 1 when
 * llama.cpp uses normal (pairwise) RoPE for it, so Q/K rows are permuted. Static storage. */
const char *exg_arch(const char *container_arch, int *norm_rope);

/* Row encoders, exposed for tests (pure functions).
 * TQ2_0: n (multiple of 256) t2-coded weights -> n/256 blocks of 66 bytes, block b's scale
 * d[b]. TQ1_0 likewise from values -1/0/+1 -> n/256 blocks of 54 bytes. */
void exg_tq2_row(const uint8_t *t2, uint64_t n, const float *d, uint8_t *dst);
void exg_tq1_row(const int8_t *vals, uint64_t n, const float *d, uint8_t *dst);

#endif /* EXG_H */
