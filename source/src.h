/*
 * src.h - the source checkpoints trit reads (safetensors file/directory/index, GGUF incl. splits),
 * behind one registry: each format bids on a file's first bytes (as libarchive's format bidders
 * do), and src_open() gives one view over whichever wins: logical tensors, outermost dims first
 * (GGUF ne reversed), BitNet packed U8 weights unpacked to [out, in] with their weight_scale
 * consumed, values decoded to float by the format readers in bounded chunks.
 *
 * The format readers themselves are src_gguf.h, src_safetensors.h and src_ggml_types.h.
 */
#ifndef SRC_H
#define SRC_H

#include <stddef.h>
#include <stdint.h>

#include "trit.h"

/* ---- the format registry ------------------------------------------------------------------ */

typedef enum src_format_id {
    SRC_FMT_UNKNOWN = 0,
    SRC_FMT_TRIT,              /* a .trit container (spec/container.md) */
    SRC_FMT_GGUF,
    SRC_FMT_SAFETENSORS        /* a .safetensors file, a directory of them or an index */
} src_format_id;

/* Which format path holds. A directory is safetensors; a regular file goes to the registered
 * format with the highest bid on its first bytes (a magic beats a structural match beats a
 * file name); SRC_FMT_UNKNOWN when nobody bids. A path that cannot be opened, or is not a
 * regular file or directory (a FIFO would block), is an I/O error naming the path. */
int src_probe(const char *path, src_format_id *out, trit_err *err);
/* The bid itself, on the first n bytes of a file of file_size bytes called path (the name
 * breaks ties only). Exposed for tests and for callers that already hold the bytes. */
src_format_id src_probe_bytes(const uint8_t *head, size_t n, uint64_t file_size, const char *path);
const char *src_format_name(src_format_id f);   /* "trit" | "gguf" | "safetensors" | "unknown" */

/* ---- the unified source view -------------------------------------------------------------- */

struct src_ckpt;

typedef struct src_tensor {
    const char *name;          /* source name (borrowed from the source reader) */
    uint32_t n_dims;           /* logical dims, outermost first */
    uint64_t dims[8];
    uint64_t n_elems;
    const char *type;          /* source type name ("BF16", "TQ2_0", "U8(bitnet)") */
    uint32_t float_type;       /* TRIT_TYPE_F32/F16/BF16: how to store it if it stays float */
    int ternary_hint;          /* 1 if the source encodes it as ternary (TQ1_0/TQ2_0/I2_S/BitNet U8) */
    int skip;                  /* consumed by another tensor (a BitNet weight_scale) */
    uint64_t src_bytes;        /* bytes it occupies in the source */
} src_tensor;

/* Open path as safetensors (file, directory or index) or GGUF (first part of a split).
 * *out caller closes with src_close(). */
int src_open(const char *path, struct src_ckpt **out, trit_err *err);
void src_close(struct src_ckpt *s);
const char *src_format(const struct src_ckpt *s);         /* "safetensors" | "gguf" */
uint32_t src_n(const struct src_ckpt *s);
/* Tensor i. Borrowed, valid until close. */
const src_tensor *src_at(const struct src_ckpt *s, uint32_t i);
int64_t src_find(const struct src_ckpt *s, const char *name);
/* Decode logical elements [first, first+n) of tensor i to float. */
int src_f32(const struct src_ckpt *s, uint32_t i, uint64_t first, uint64_t n, float *out, trit_err *err);
/* ---- ternary codes without float ------------------------------------------------------------
 * TQ2_0, TQ1_0, I2_S (BitNet fork) and BitNet packed U8 tensors hold ternary codes and scale
 * factors: the converter copies or shuffles the codes into t2 rows instead of decoding every
 * value to float. value = (code - 1) * factor, exactly as src_f32 computes it. */

typedef enum src_codes_kind {
    SRC_CODES_NONE = 0,        /* not a code-domain tensor: use src_f32 */
    SRC_CODES_TQ2_0,
    SRC_CODES_TQ1_0,
    SRC_CODES_I2_S,
    SRC_CODES_BITNET_U8
} src_codes_kind;

typedef struct src_codes {
    int kind;                  /* src_codes_kind */
    uint32_t block;            /* elements per factor: 256 (TQ1_0/TQ2_0); 0 = one for the tensor */
    uint32_t align;            /* rows must have a multiple of this many elements (256, 128 or 1) */
    float factor;              /* block == 0: the tensor's factor */
} src_codes;

/* Whether tensor i is a code-domain tensor, and its geometry (kind NONE if not). */
int src_codes_of(const struct src_ckpt *s, uint32_t i, src_codes *out, trit_err *err);
/* Logical rows [row, row+n) of tensor i, rows of cols elements (cols % out->align == 0, rows
 * counted in the logical shape: outermost dims flattened), as t2 rows (ceil(cols / 128) * 32
 * bytes, a partial last block padded with code 1). For
 * block kinds, f receives n * cols / block factors in order. *bad is increased by the codes 3
 * met (not ternary: a caller takes the float path for such a tensor). Thread-safe. */
int src_codes_rows(const struct src_ckpt *s, uint32_t i, const src_codes *k, uint64_t cols, uint64_t row,
                   uint64_t n, uint8_t *t2, float *f, uint64_t *bad, trit_err *err);

/* GGUF code kinds (TQ2_0, TQ1_0, I2_S; 0 for others): bytes of one source row of cols elements,
 * its blocks as stored (an I2_S tensor's trailing factor excluded). */
uint64_t src_codes_row_bytes(const src_codes *k, uint64_t cols);
/* src_codes_rows from bytes already read: rows * src_codes_row_bytes(k, cols) raw bytes into
 * t2 rows (and block factors into f, for block kinds). */
void src_codes_from_raw(const src_codes *k, const uint8_t *raw, uint64_t rows, uint64_t cols, uint8_t *t2, float *f,
                        uint64_t *bad);

/* n raw bytes of tensor i from byte_off (the file's own encoding; not for BitNet packed views).
 * Thread-safe. */
int src_raw(const struct src_ckpt *s, uint32_t i, uint64_t byte_off, void *buf, uint64_t n, trit_err *err);

/* ---- a tensor's bytes where they lie: one sequential read of a file serves its provenance hash
 * and the float scan of the tensors in it (convert/cvt_walk.c) ---- */
/* Bytes per element when tensor i is stored as plain little-endian floats (F32: 4, F16 and
 * BF16: 2), else 0 (blocks, codes, BitNet packed, FP8 with block scales ...). */
uint32_t src_plain_float_bytes(const struct src_ckpt *s, uint32_t i);
/* Where tensor i's bytes are: file index (src_file_path), absolute offset, byte count. */
void src_extent(const struct src_ckpt *s, uint32_t i, uint32_t *file, uint64_t *off, uint64_t *nbytes);
/* n elements of a plain float tensor i decoded from raw (its file bytes) to float, as src_f32
 * gives them. TRIT_E_USAGE when src_plain_float_bytes(s, i) is 0. */
int src_f32_from_raw(const struct src_ckpt *s, uint32_t i, const void *raw, uint64_t n, float *out, trit_err *err);

/* Source files for provenance: count, base name and path of file k (borrowed). */
uint32_t src_n_files(const struct src_ckpt *s);
const char *src_file_path(const struct src_ckpt *s, uint32_t k);
/* xxh3-64 of a whole file, read sequentially (provenance). */
int src_hash_file(const char *path, uint64_t *out, trit_err *err);
/* The underlying readers (borrowed; NULL for the other format). */
const struct src_gguf *src_ckpt_gguf(const struct src_ckpt *s);
const struct src_st *src_ckpt_st(const struct src_ckpt *s);

#endif /* SRC_H */
