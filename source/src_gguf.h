/*
 * src_gguf.h - GGUF reader for the converter, `trit inspect` and `trit diff`.
 *
 * The file format (ggml docs/gguf.md; reference/formats.md section 1), little-endian, packed:
 *   1. magic "GGUF" (4 bytes)
 *   2. version u32: 2 or 3 (v1 used 32-bit counts and is refused; a byte-swapped version,
 *      (v & 0xFFFF) == 0, means a big-endian file, also refused)
 *   3. n_tensors u64, 4. n_kv u64
 *   5. n_kv KV records: string key, u32 value type, value
 *        string = u64 length + bytes (no NUL); array = u32 elem type, u64 count, elements
 *   6. n_tensors tensor infos: string name, u32 n_dims (<= 4), u64 ne[n_dims] (ne[0] innermost),
 *      u32 ggml type, u64 offset (relative to the data section, multiple of the alignment)
 *   7. zero padding to general.alignment (default 32); then the data section
 *
 * What open does: it reads the front of the file (header, KVs, tensor infos) with pread into
 * an owned buffer, never the tensor data, and validates the whole layout: every count and
 * length against the bytes left in the file AND a cap (trit_limits.h) before anything is
 * allocated; alignment a power of two; tensor offsets aligned; every tensor's bytes (ggml type
 * geometry x shape) inside its file; no two tensors overlapping; no duplicate keys or tensor
 * names; ne[0] a multiple of the block size. Accessors therefore cannot fail on a valid handle
 * except for a wrong type or index (TRIT_E_USAGE).
 *
 * Split files (gguf-split, `<prefix>-00001-of-00003.gguf`): opening the first part reads every
 * part and presents one tensor table; each tensor knows its file. Metadata comes from the first
 * part. A missing part is reported by name.
 *
 * BitNet fork files (general.architecture "bitnet-b1.58" or "bitnet-25") use fork type ids: 36
 * is I2_S there (n/4 bytes of codes + 32-byte trailer with the f32 scale). In any other file id
 * 36 is a removed mainline id and is refused; the error says when the bytes would also fit I2_S.
 *
 * Thread-safety: a handle is immutable after open; accessors, src_gguf_read() and
 * src_gguf_to_f32() may run on several threads at once.
 */
#ifndef SRC_GGUF_H
#define SRC_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "trit.h"

typedef struct src_gguf src_gguf;

/* GGUF KV value types, as numbered in the file. */
enum {
    SRC_GGUF_UINT8 = 0, SRC_GGUF_INT8 = 1, SRC_GGUF_UINT16 = 2, SRC_GGUF_INT16 = 3,
    SRC_GGUF_UINT32 = 4, SRC_GGUF_INT32 = 5, SRC_GGUF_FLOAT32 = 6, SRC_GGUF_BOOL = 7,
    SRC_GGUF_STRING = 8, SRC_GGUF_ARRAY = 9, SRC_GGUF_UINT64 = 10, SRC_GGUF_INT64 = 11,
    SRC_GGUF_FLOAT64 = 12,
    SRC_GGUF_TYPE_COUNT = 13
};

/* Name of a KV value type ("uint32", "string"), "?" if unknown. Static storage. */
const char *src_gguf_type_name(uint32_t type);

#define SRC_GGUF_OPEN_SINGLE 1u   /* open only this file even if it is one part of a split */

typedef struct src_gguf_opts {
    uint32_t flags;            /* SRC_GGUF_OPEN_* */
    uint32_t first_read;       /* bytes read first from the front of each file, doubled until
                                  the header fits; 0 = 64 KiB */
} src_gguf_opts;

/* Open and validate a GGUF file (and, for the first part of a split, every other part). opts
 * may be NULL. On success *out is a handle to close with src_gguf_close(); on failure *out is
 * NULL and err names file, byte offset and object. Codes: TRIT_E_IO, TRIT_E_NOMEM,
 * TRIT_E_TRUNCATED (something extends past the end of the file), TRIT_E_CORRUPT,
 * TRIT_E_UNSUPPORTED (v1, big-endian, unknown/removed or ambiguous type id), TRIT_E_LIMIT (a
 * cap), TRIT_E_NOTFOUND (a missing split part), TRIT_E_USAGE (a later split part given). */
int src_gguf_open(const char *path, const src_gguf_opts *opts, src_gguf **out, trit_err *err);
/* The same over a caller buffer holding a whole file (borrowed: it must outlive the handle).
 * Split keys are read but other parts are never opened. `name` is used in errors (may be NULL). */
int src_gguf_open_mem(const void *buf, size_t len, const char *name, src_gguf **out,
                      trit_err *err);
/* Close; NULL is ok. Invalidates every borrowed pointer from this handle. */
void src_gguf_close(src_gguf *h);

/* ---- header facts ------------------------------------------------------------------------ */
uint32_t src_gguf_version(const src_gguf *h);            /* 2 or 3 */
uint64_t src_gguf_alignment(const src_gguf *h);          /* general.alignment or 32 */
/* Absolute offset of the data section of file f (0 = the file opened). */
uint64_t src_gguf_data_offset(const src_gguf *h, uint32_t f);
/* general.architecture, or "" when absent or not a string. Borrowed, valid until close. */
const char *src_gguf_arch(const src_gguf *h);
/* 1 if the architecture is a BitNet-fork one (fork type ids apply). */
int src_gguf_is_bitnet_fork(const src_gguf *h);

/* Files: 1 for a single file, split.count for a split. Path borrowed, valid until close. */
uint32_t src_gguf_n_files(const src_gguf *h);
const char *src_gguf_file_path(const src_gguf *h, uint32_t f);
uint64_t src_gguf_file_size(const src_gguf *h, uint32_t f);
/* split.count of the first file (0 when the key is absent). */
uint32_t src_gguf_split_count(const src_gguf *h);

/* ---- metadata ---------------------------------------------------------------------------- */
/* A view of one value inside the handle's header buffer (borrowed, valid until close). */
typedef struct src_gguf_val {
    uint32_t type;             /* SRC_GGUF_* */
    uint32_t elem_type;        /* arrays: element type; else 0 */
    uint64_t count;            /* arrays: elements; strings: bytes; scalars: 1 */
    const uint8_t *p;          /* scalars: LE bytes; strings: the bytes; arrays: first element */
    uint64_t nbytes;           /* encoded bytes starting at p */
    uint64_t off;              /* absolute file offset of p (first file) */
} src_gguf_val;

uint64_t src_gguf_n_kv(const src_gguf *h);               /* as stated in the header */
/* Key of KV i (< n_kv). NUL-terminated; borrowed, valid until close. */
const char *src_gguf_kv_key(const src_gguf *h, uint64_t i);
/* Type of KV i; for arrays *elem_type and *count are set (both may be NULL). */
uint32_t src_gguf_kv_type(const src_gguf *h, uint64_t i, uint32_t *elem_type, uint64_t *count);
/* Index of the KV called key, or -1. O(log n). */
int64_t src_gguf_find_kv(const src_gguf *h, const char *key);
/* Absolute offset of KV record i (for messages). */
uint64_t src_gguf_kv_offset(const src_gguf *h, uint64_t i);
/* View of KV i's value. */
void src_gguf_kv_val(const src_gguf *h, uint64_t i, src_gguf_val *out);

/* Typed reads of a value; TRIT_E_USAGE when the value is not of a fitting kind.
 *   u64: unsigned integers, bool, and signed integers >= 0
 *   i64: any integer that fits int64
 *   f64: float32, float64 and any integer
 *   bool: bool only;  str: string only (*s borrowed, NOT NUL-terminated, *n bytes) */
int src_gguf_val_u64(const src_gguf_val *v, uint64_t *out);
int src_gguf_val_i64(const src_gguf_val *v, int64_t *out);
int src_gguf_val_f64(const src_gguf_val *v, double *out);
int src_gguf_val_bool(const src_gguf_val *v, int *out);
int src_gguf_val_str(const src_gguf_val *v, const char **s, uint64_t *n);

/* Iterate over an array's elements in order (nested arrays give array views). */
typedef struct src_gguf_iter {
    src_gguf_val arr;          /* the array being walked */
    uint64_t idx;              /* elements returned so far */
    uint64_t pos;              /* byte position of the next element from arr.p */
} src_gguf_iter;
void src_gguf_iter_init(src_gguf_iter *it, const src_gguf_val *arr);
/* 1 and *elem set while elements remain, then 0. */
int src_gguf_iter_next(src_gguf_iter *it, src_gguf_val *elem);

/* KV-level shorthands of the above (TRIT_E_USAGE on a bad index or kind). */
int src_gguf_kv_u64(const src_gguf *h, uint64_t i, uint64_t *out);
int src_gguf_kv_i64(const src_gguf *h, uint64_t i, int64_t *out);
int src_gguf_kv_f64(const src_gguf *h, uint64_t i, double *out);
int src_gguf_kv_bool(const src_gguf *h, uint64_t i, int *out);
int src_gguf_kv_str(const src_gguf *h, uint64_t i, const char **s, uint64_t *n);
/* Element j of array KV i. Strings: O(1), *s borrowed, not NUL-terminated. Numbers: converted
 * like the scalar getters. TRIT_E_USAGE for j >= count or a wrong element kind. */
int src_gguf_kv_arr_str(const src_gguf *h, uint64_t i, uint64_t j, const char **s, uint64_t *n);
int src_gguf_kv_arr_u64(const src_gguf *h, uint64_t i, uint64_t j, uint64_t *out);
int src_gguf_kv_arr_i64(const src_gguf *h, uint64_t i, uint64_t j, int64_t *out);
int src_gguf_kv_arr_f64(const src_gguf *h, uint64_t i, uint64_t j, double *out);

/* ---- tensors ----------------------------------------------------------------------------- */
typedef struct src_gguf_tensor_info {
    const char *name;          /* NUL-terminated; borrowed, valid until close */
    uint32_t ggml_type;        /* type id as stored in the file */
    uint32_t type;             /* resolved SRC_GGML_* id (fork types: SRC_GGML_FORK_BASE + id) */
    const char *type_name;     /* "F32", "Q4_K", "TQ2_0", "I2_S" (static storage) */
    uint32_t n_dims;           /* 0..4 as stored */
    uint64_t ne[4];            /* elements per dim, ne[0] innermost; unused dims are 1 */
    uint64_t n_elems;          /* product of ne */
    uint64_t nbytes;           /* bytes of data */
    uint64_t offset;           /* absolute offset of the data in its file */
    uint32_t file;             /* index of the file holding it (split part, 0-based) */
    uint64_t info_off;         /* absolute offset of the tensor-info record in that file */
} src_gguf_tensor_info;

uint64_t src_gguf_n_tensors(const src_gguf *h);          /* all parts together */
/* Tensor i (< n_tensors), in file order (part 0 first). Borrowed, valid until close. */
const src_gguf_tensor_info *src_gguf_tensor(const src_gguf *h, uint64_t i);
/* Index of the tensor called name, or -1. O(log n). */
int64_t src_gguf_find_tensor(const src_gguf *h, const char *name);
/* Elements per decode block of tensor i (1 for F32; 256 for K-quants; 128 for I2_S). */
uint32_t src_gguf_block_elems(const src_gguf *h, uint64_t i);
/* 1 if src_gguf_to_f32() can decode tensor i. */
int src_gguf_can_decode(const src_gguf *h, uint64_t i);

/* Copy n raw bytes of tensor i starting at byte_off (within nbytes) into buf: one pread (or
 * memcpy for memory handles). TRIT_E_USAGE if the range is outside the tensor, TRIT_E_IO on a
 * read error, TRIT_E_TRUNCATED if the file shrank since open. */
int src_gguf_read(const src_gguf *h, uint64_t i, uint64_t byte_off, void *buf, uint64_t n,
                  trit_err *err);
/* Decode elements [first, first+n) of tensor i (flat, ne[0] fastest) to float. Any range is
 * accepted: partial blocks are decoded whole into a scratch buffer. Scratch memory is bounded
 * (64 KiB raw + 256 KiB floats) whatever n is. TRIT_E_UNSUPPORTED for types without a decoder. */
int src_gguf_to_f32(const src_gguf *h, uint64_t i, uint64_t first, uint64_t n, float *out,
                    trit_err *err);

#endif /* SRC_GGUF_H */
