/*
 * src_safetensors.h - reader for Hugging Face safetensors checkpoints (single file, directory or
 * sharded with model.safetensors.index.json). Reads headers only at open; tensor bytes are read
 * on demand with pread (never the whole file).
 *
 * The format (normative text: huggingface/safetensors README; /work/shared/reference/formats.md 2):
 *
 *   1. bytes [0, 8)        N = u64 little-endian, the header length (<= TRIT_MAX_ST_HEADER)
 *   2. bytes [8, 8+N)      UTF-8 JSON object, starts with '{', may be right-padded with 0x20:
 *                          {"NAME": {"dtype": "BF16", "shape": [d0, d1, ...],
 *                                    "data_offsets": [begin, end]}, ...,
 *                           "__metadata__": {"k": "v", ...} | null}
 *   3. bytes [8+N, EOF)    the data buffer; tensor NAME is at [8+N+begin, 8+N+end). Sorted by
 *                          begin, the ranges tile the buffer exactly: no gap, no overlap, and the
 *                          last end is EOF. end-begin = prod(shape) * bits(dtype) / 8.
 *                          Row-major, little-endian, no alignment guaranteed.
 *
 *   Sharded: model.safetensors.index.json = {"metadata": {"total_size": <sum of tensor bytes>},
 *   "weight_map": {"NAME": "model-0000i-of-0000N.safetensors", ...}}; every tensor is resolved
 *   by name through weight_map, never by position.
 *
 * What open() refuses (all with file, absolute byte offset and object in the trit_err):
 *   header length past EOF or above the cap; JSON that is not strict RFC 8259 (also: invalid
 *   UTF-8, lone surrogates, "\u0000", numbers that are not plain integers below 2^53), nesting
 *   deeper than TRIT_MAX_JSON_DEPTH; a header not starting with '{' or with non-space bytes after
 *   the object; unknown dtypes (TRIT_E_UNSUPPORTED); shapes with more than TRIT_MAX_DIMS dims;
 *   dtype x shape != byte range; gaps, overlaps, uncovered trailing bytes, data past EOF;
 *   duplicate tensor names (also across shards) and duplicate fields; a non string->string
 *   __metadata__ (null is accepted); Git LFS pointer files and HTML pages saved under a
 *   .safetensors name (said as such); index entries whose shard is missing (named) or does not
 *   hold the tensor (both named), shard tensors absent from the index, and a total_size that
 *   differs from the sum of tensor bytes.
 *
 * Conventions: every fallible function returns TRIT_OK or a negative TRIT_E_* code and fills
 * the trit_err given last (may be NULL). A src_st is immutable after open: every const accessor
 * and the read/decode calls may run on several threads at once (reads use pread).
 */
#ifndef SRC_SAFETENSORS_H
#define SRC_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "trit.h"
#include "trit_limits.h"

#ifdef __cplusplus
extern "C" {
#endif

struct cJSON;

/* ------------------------------------------------------------------------------------------ */
/* Element types (safetensors Dtype). Sub-byte types are sized exactly; see src_st_dtype_bits. */

typedef enum src_st_dtype {
    SRC_ST_BOOL = 0,
    SRC_ST_U8, SRC_ST_I8, SRC_ST_U16, SRC_ST_I16, SRC_ST_U32, SRC_ST_I32, SRC_ST_U64, SRC_ST_I64,
    SRC_ST_F16, SRC_ST_BF16, SRC_ST_F32, SRC_ST_F64,
    SRC_ST_F8_E4M3,        /* torch float8_e4m3fn: bias 7, no inf, NaN = S.1111.111, max 448 */
    SRC_ST_F8_E5M2,        /* IEEE-like: bias 15, inf and NaN; the high byte of an F16 */
    SRC_ST_F8_E8M0,        /* MX block scale: 2^(e-127), 0xFF = NaN */
    SRC_ST_F8_E4M3FNUZ,    /* bias 8, 0x80 = NaN, no inf, no -0 */
    SRC_ST_F8_E5M2FNUZ,    /* bias 16, 0x80 = NaN, no inf, no -0 */
    SRC_ST_F4,             /* MX E2M1, 4 bits: sized, not decoded (nibble order unconfirmed) */
    SRC_ST_F6_E2M3,        /* 6 bits: sized, not decoded */
    SRC_ST_F6_E3M2,        /* 6 bits: sized, not decoded */
    SRC_ST_C64,            /* complex64: sized, not decoded (not real-valued) */
    SRC_ST_DTYPE_COUNT_
} src_st_dtype;

/* Name as written in headers ("BF16"), or NULL for an id out of range. Static storage. */
const char *src_st_dtype_name(uint32_t dtype);
/* dtype id for the n bytes at s (not NUL-terminated), or -1 if unknown. */
int src_st_dtype_from_name(const char *s, size_t n);
/* Bits per element (4..64), 0 for an id out of range. */
uint32_t src_st_dtype_bits(uint32_t dtype);
/* 1 if src_st_to_f32 / src_st_decode_f32 can decode this dtype. */
int src_st_dtype_decodable(uint32_t dtype);

/* Scalar decoders, exact. NaN bytes decode to NaN, E5M2 inf to inf. */
float src_st_f8_e4m3_to_f32(uint8_t b);
float src_st_f8_e5m2_to_f32(uint8_t b);
float src_st_f8_e8m0_to_f32(uint8_t b);
float src_st_f8_e4m3fnuz_to_f32(uint8_t b);
float src_st_f8_e5m2fnuz_to_f32(uint8_t b);

/* Decode n elements of a byte-addressable dtype from src (n * bits/8 bytes, little-endian) into
 * out. Integers and BOOL convert to the nearest float. TRIT_E_UNSUPPORTED for dtypes that
 * src_st_dtype_decodable() rejects. */
int src_st_decode_f32(uint32_t dtype, const void *src, uint64_t n, float *out, trit_err *err);

/* ------------------------------------------------------------------------------------------ */
/* Opening.                                                                                    */

typedef struct src_st src_st;

#define SRC_ST_NO_SIDE_FILES 1u   /* do not look for config.json/tokenizer files beside the weights */

typedef struct src_st_opts {
    uint32_t flags;               /* SRC_ST_* */
} src_st_opts;

/* Open path, which is one of:
 *   - a .safetensors file (side files are looked up in its directory);
 *   - a file ending in ".json": a sharded checkpoint's index (shards resolved beside it);
 *   - a directory: its single "*.safetensors.index.json" if there is one, else
 *     model.safetensors, else its only *.safetensors file (several without an index: refused).
 * Validates every header (see the top of this file), keeps one read-only descriptor per shard
 * and reads and parses config.json if present (a config.json that is not valid JSON is an
 * error). opts may be NULL. On success *out is owned by the caller: src_st_close(). */
int src_st_open(const char *path, const src_st_opts *opts, src_st **out, trit_err *err);

/* Open a single safetensors image held in memory (the fuzzing entry point). buf is borrowed and
 * must outlive the handle; name is used in error messages (copied; may be NULL). No side
 * files. */
int src_st_open_mem(const void *buf, size_t len, const char *name, src_st **out, trit_err *err);

/* Close; NULL is ok. Invalidates every borrowed pointer from h. */
void src_st_close(src_st *h);

/* Probe: confidence 0..100 that the first n bytes of a file of file_size bytes are safetensors
 * (8-byte length within the file and the cap, JSON starting with '{'). For format detection. */
int src_st_probe(const uint8_t *head, size_t n, uint64_t file_size);

/* ------------------------------------------------------------------------------------------ */
/* Tensors. Order: shard by shard (shards sorted by file name), within a shard by data offset.  */

typedef struct src_st_tensor {
    const char *name;             /* borrowed, valid until src_st_close() */
    uint32_t dtype;               /* src_st_dtype */
    uint32_t n_dims;              /* 0..TRIT_MAX_DIMS (0 = scalar, one element) */
    uint64_t dims[TRIT_MAX_DIMS]; /* outermost first; dims[n_dims-1] is contiguous */
    uint64_t n_elems;             /* product of dims */
    uint64_t nbytes;              /* bytes in the file (end - begin) */
    uint64_t offset;              /* absolute byte offset in its shard file (8 + N + begin) */
    uint32_t shard;               /* index for src_st_shard() */
} src_st_tensor;

uint32_t src_st_n_tensors(const src_st *h);
/* Tensor i (< n_tensors). Borrowed, valid until src_st_close(). */
const src_st_tensor *src_st_tensor_at(const src_st *h, uint32_t i);
/* Index of the tensor called name, or -1. O(log n). */
int64_t src_st_find(const src_st *h, const char *name);

typedef struct src_st_shard_info {
    const char *path;             /* as opened (borrowed) */
    const char *name;             /* base name (borrowed) */
    uint64_t file_size;           /* bytes */
    uint64_t header_size;         /* N, the JSON header length */
    uint64_t data_off;            /* 8 + N */
    uint32_t n_tensors;           /* tensors in this shard */
    int metadata_null;            /* 1 if the header had "__metadata__": null */
} src_st_shard_info;

uint32_t src_st_n_shards(const src_st *h);
/* Shard s (< n_shards). Borrowed, valid until close. */
const src_st_shard_info *src_st_shard(const src_st *h, uint32_t s);
/* Path of the index file, or NULL for unsharded input. Borrowed. */
const char *src_st_index_path(const src_st *h);
/* Declared index total_size: TRIT_OK and *out, or TRIT_E_NOTFOUND when absent/unsharded. */
int src_st_declared_total_size(const src_st *h, uint64_t *out);
/* Sum of all tensors' nbytes. */
uint64_t src_st_data_size(const src_st *h);

/* Read n raw bytes of tensor t starting at byte_off within the tensor into buf (pread; one
 * descriptor per shard, so thread-safe). TRIT_E_USAGE if the range is outside the tensor,
 * TRIT_E_TRUNCATED if the file shrank since open, TRIT_E_IO on a read error. */
int src_st_read(const src_st *h, uint32_t t, uint64_t byte_off, void *buf, uint64_t n,
                trit_err *err);

/* Decode n elements of tensor t, starting at flat (row-major) element first_elem, to float.
 * Works in bounded chunks (no allocation proportional to n). TRIT_E_UNSUPPORTED for dtypes
 * src_st_dtype_decodable() rejects, TRIT_E_USAGE for a range outside the tensor. */
int src_st_to_f32(const src_st *h, uint32_t t, uint64_t first_elem, uint64_t n, float *out,
                  trit_err *err);

/* ------------------------------------------------------------------------------------------ */
/* Metadata and side files.                                                                    */

/* __metadata__ entries, merged over shards (the first shard that has a key wins). */
uint32_t src_st_n_meta(const src_st *h);
/* Entry i: *key and *val borrowed until close. TRIT_E_USAGE if i is out of range. */
int src_st_meta_at(const src_st *h, uint32_t i, const char **key, const char **val);
/* Value of key, or NULL. Borrowed. */
const char *src_st_meta_get(const src_st *h, const char *key);
/* The index file's "metadata" object, or NULL. Borrowed (cJSON owned by h). */
const struct cJSON *src_st_index_meta(const src_st *h);

typedef enum src_st_side {
    SRC_ST_SIDE_CONFIG = 0,           /* config.json (also parsed: src_st_config) */
    SRC_ST_SIDE_TOKENIZER_JSON,       /* tokenizer.json */
    SRC_ST_SIDE_TOKENIZER_MODEL,      /* tokenizer.model (SentencePiece) */
    SRC_ST_SIDE_TOKENIZER_CONFIG,     /* tokenizer_config.json */
    SRC_ST_SIDE_GENERATION_CONFIG,    /* generation_config.json */
    SRC_ST_SIDE_COUNT_
} src_st_side;

/* File name of a side file kind ("config.json"), or NULL. Static storage. */
const char *src_st_side_name(uint32_t which);
/* Path of the side file found beside the weights, or NULL if absent. Borrowed until close. */
const char *src_st_side_path(const src_st *h, uint32_t which);
/* Parsed config.json, or NULL if absent. Borrowed (owned by h), valid until close. */
const struct cJSON *src_st_config(const src_st *h);

/* Read and strictly parse a JSON file of at most max_bytes (depth capped at
 * TRIT_MAX_JSON_DEPTH). *out: caller frees with cJSON_Delete(). */
int src_st_load_json_file(const char *path, uint64_t max_bytes, struct cJSON **out, trit_err *err);

/* ------------------------------------------------------------------------------------------ */
/* Sharded index, parsed from memory (also the fuzzing entry point for index JSON).            */

typedef struct src_st_index src_st_index;

/* Parse model.safetensors.index.json bytes. Requires a "weight_map" object of
 * name -> shard file name (plain base names: no '/', '\\', "." or ".."); duplicate names are
 * refused; "metadata" must be an object if present and its total_size (if present) a
 * non-negative integer below 2^53. name is for messages (may be NULL). buf is not kept.
 * *out: caller frees with src_st_index_free(). */
int src_st_index_parse(const void *buf, size_t len, const char *name, src_st_index **out,
                       trit_err *err);
void src_st_index_free(src_st_index *ix);
/* weight_map entries, in file order. */
uint64_t src_st_index_n_entries(const src_st_index *ix);
/* Entry i: tensor name (borrowed until free); *shard (may be NULL) its shard number. */
const char *src_st_index_entry(const src_st_index *ix, uint64_t i, uint32_t *shard);
/* Entry for name, or -1. O(log n). */
int64_t src_st_index_find(const src_st_index *ix, const char *name);
/* Distinct shard file names, sorted. */
uint32_t src_st_index_n_shards(const src_st_index *ix);
/* Shard s's file name. Borrowed until free. */
const char *src_st_index_shard(const src_st_index *ix, uint32_t s);
/* TRIT_OK and *out, or TRIT_E_NOTFOUND when the index has no total_size. */
int src_st_index_total_size(const src_st_index *ix, uint64_t *out);
/* The "metadata" object, or NULL. Borrowed until free. */
const struct cJSON *src_st_index_metadata(const src_st_index *ix);

/* ------------------------------------------------------------------------------------------ */
/* BitNet b1.58 packed weights (microsoft/bitnet-b1.58-2B-4T, formats.md 3.3 / 6.7).          */
/*                                                                                            */
/* "X.weight" is U8 [out/4, in]: row r of quarter q of the logical [out, in] matrix is packed  */
/* row r, bits 2q..2q+1; code 0/1/2 = -1/0/+1 (3 is invalid). "X.weight_scale" holds one float */
/* s and the real weight is ternary / s (linear_class "bitlinear", the default) or ternary * s */
/* (linear_class "autobitlinear").                                                            */

typedef struct src_st_bitnet {
    uint32_t weight;              /* tensor index of the packed U8 weight */
    uint32_t scale;               /* tensor index of its weight_scale sibling */
    uint64_t rows;                /* logical out_features = 4 * packed rows */
    uint64_t cols;                /* logical in_features = packed cols */
    float scale_value;            /* the stored scale */
    int divide;                   /* 1: weight = t / scale_value; 0: weight = t * scale_value */
    int from_config;              /* 1 if config.json declares quant_method "bitnet" */
} src_st_bitnet;

/* 1 if config.json has quantization_config.quant_method == "bitnet". */
int src_st_config_is_bitnet(const src_st *h);

/* Logical view of tensor t if it is a packed BitNet weight: U8, 2-D, a "<name>_scale" sibling
 * exists, and config.json does not name another quantization method. Returns TRIT_OK and fills
 * *v; TRIT_E_NOTFOUND (err untouched) if t is not such a weight; TRIT_E_CORRUPT if the pairing
 * exists but is inconsistent (scale not one float element, zero or non-finite scale). */
int src_st_bitnet_view(const src_st *h, uint32_t t, src_st_bitnet *v, trit_err *err);
/* Decode n logical elements (row-major over [rows, cols]) from flat element first: ternary
 * values -1/0/+1 into out. TRIT_E_CORRUPT (with the byte's file offset) on a code 3. */
int src_st_bitnet_ternary(const src_st *h, const src_st_bitnet *v, uint64_t first, uint64_t n,
                          int8_t *out, trit_err *err);
/* The same as real weights: ternary / scale (or * scale, per v->divide). */
int src_st_bitnet_to_f32(const src_st *h, const src_st_bitnet *v, uint64_t first, uint64_t n,
                         float *out, trit_err *err);

/* Logical rows [row, row+n) as t2 rows (ceil(v->cols / 128) * 32 bytes each, the last block's
 * tail code 1), codes unchanged (code - 1 is the ternary value): the converter's path that never goes through
 * float. *bad is increased by the number of codes 3 met (copied as they are). */
int src_st_bitnet_t2_rows(const src_st *h, const src_st_bitnet *v, uint64_t row, uint64_t n, uint8_t *t2,
                          uint64_t *bad, trit_err *err);

/* ------------------------------------------------------------------------------------------ */
/* Tensor-name conventions.                                                                    */

/* Layer and expert numbers from an HF tensor name: layer from "layers.N." (also "h.N.",
 * "blocks.N.", "block.N.", "layer.N.", "blk.N."), expert from "experts.E." (Mixtral
 * block_sparse_moe.experts.E.w1, Qwen/DeepSeek mlp.experts.E.gate_proj). Each is TRIT_NONE32
 * when absent ("shared_experts", fused "experts.gate_up_proj" have no expert number). */
void src_st_name_layer_expert(const char *name, uint32_t *layer, uint32_t *expert);

#ifdef __cplusplus
}
#endif
#endif /* SRC_SAFETENSORS_H */
