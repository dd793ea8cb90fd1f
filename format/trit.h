/*
 * trit.h - libtrit, the .trit on-device model container: reader, writer and errors.
 *
 * The container (normative text: spec/container.md) in short:
 *
 *   [0, 128)              header: magic, version, feature bits, file size, where the index is,
 *                         the page and tensor alignments, object counts, xxh3 of the header
 *   [128, 128+index_size) index: typed KV metadata, section records, expert-unit records,
 *                         tensor records; xxh3 of the whole index is in the header
 *   [data_off, file_size) data: dense tensors (raw, tensor_align aligned, mmap zero-copy),
 *                         expert units (raw or one zstd frame, page_align aligned, one pread
 *                         each), sections (tokenizer, config, activation scales ...).
 *                         Every object carries an xxh3-64 of its bytes; padding is zero.
 *
 * Conventions of this API:
 *   - Every fallible function returns TRIT_OK (0) or a negative TRIT_E_* code, and fills the
 *     trit_err passed as its last argument (which may be NULL).
 *   - Ownership of every returned pointer is stated on the function: "borrowed" pointers stay
 *     valid until the handle they came from is closed; "caller frees" means trit_free().
 *   - A trit_reader is immutable after open: all const accessors and trit_reader_unit_read()
 *     may be called from several threads at once. A trit_writer is single-threaded.
 */
#ifndef TRIT_H
#define TRIT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(TRIT_BUILD_SHARED) && (defined(__GNUC__) || defined(__clang__))
#define TRIT_API __attribute__((visibility("default")))
#else
#define TRIT_API
#endif

/* Library version (also the converter version recorded in provenance). */
#define TRIT_VERSION_STRING "0.1.0"
/* Container format version this library writes, and the highest it reads. */
#define TRIT_FORMAT_MAJOR 1
#define TRIT_FORMAT_MINOR 1

/* ------------------------------------------------------------------------------------------ */
/* Errors (spec/errors.md). Values are stable once released.                                  */

enum {
    TRIT_OK = 0,
    TRIT_E_IO = -1,          /* open/read/write/mmap/fsync/rename failed */
    TRIT_E_NOMEM = -2,       /* allocation failed */
    TRIT_E_TRUNCATED = -3,   /* input ends before a declared object does */
    TRIT_E_CORRUPT = -4,     /* structure is invalid: bad magic, overlap, misalignment ... */
    TRIT_E_UNSUPPORTED = -5, /* valid but not for this reader: future major, required feature */
    TRIT_E_LIMIT = -6,       /* a declared size or count exceeds a hard cap (trit_limits.h) */
    TRIT_E_CHECKSUM = -7,    /* a stored xxh3 does not match the bytes */
    TRIT_E_USAGE = -8,       /* API misuse or bad argument */
    TRIT_E_NOTFOUND = -9,    /* no such tensor, key or section */
    TRIT_E_EXISTS = -10      /* output exists and overwrite was not asked for */
};

#define TRIT_NO_OFFSET UINT64_MAX

typedef struct trit_err {
    int code;            /* TRIT_E_* */
    uint64_t offset;     /* byte offset in the input, or TRIT_NO_OFFSET */
    char file[128];      /* file the error is about ("" when none) */
    char where[96];      /* object being processed: "tensor 'blk.0.attn_q.weight'" */
    char msg[256];       /* lowercase, no trailing period */
} trit_err;

/* Static description of a code: "checksum mismatch". Never NULL; borrowed, static storage. */
TRIT_API const char *trit_strerror(int code);

/* Fill err (if non-NULL) and return code. `where` may be NULL. printf-style message. */
TRIT_API int trit_err_set(trit_err *err, int code, uint64_t offset, const char *where,
                          const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;
/* Reset err to TRIT_OK with empty strings. */
TRIT_API void trit_err_clear(trit_err *err);
/* Set err->file if it is still empty (callers add the file name on the way up). */
TRIT_API void trit_err_file(trit_err *err, const char *file);
/* Format as "file: offset 0x1a0: where: msg" into buf (always NUL-terminated). Returns buf. */
TRIT_API char *trit_err_format(const trit_err *err, char *buf, size_t n);

/* Process exit codes by failure class (spec/errors.md), shared by `trit` and `trit-run`. */
enum {
    TRIT_EXIT_OK = 0,
    TRIT_EXIT_MISMATCH = 1,      /* a check failed / files differ: the caller's verdict, no TRIT_E_* */
    TRIT_EXIT_USAGE = 2,         /* TRIT_E_USAGE */
    TRIT_EXIT_IO = 3,            /* TRIT_E_IO, TRIT_E_EXISTS, TRIT_E_NOTFOUND */
    TRIT_EXIT_CORRUPT = 4,       /* TRIT_E_TRUNCATED, TRIT_E_CORRUPT, TRIT_E_CHECKSUM */
    TRIT_EXIT_UNSUPPORTED = 5,   /* TRIT_E_UNSUPPORTED */
    TRIT_EXIT_LIMIT = 6,         /* TRIT_E_LIMIT */
    TRIT_EXIT_INTERNAL = 70,     /* TRIT_E_NOMEM and any other code */
    TRIT_EXIT_INTERRUPTED = 130  /* stopped by SIGINT/SIGTERM/SIGHUP, nothing written */
};
/* The exit class of a TRIT_E_* code (the table above): the one mapping every binary uses. */
TRIT_API int trit_exit_code(int code);

/* Release memory that a function documented as "caller frees with trit_free()". NULL is ok. */
TRIT_API void trit_free(void *p);

/* ------------------------------------------------------------------------------------------ */
/* Element types. Unknown ids are allowed in files: they are sized by their recorded geometry. */

typedef enum trit_type {
    TRIT_TYPE_F32 = 0,
    TRIT_TYPE_F16 = 1,
    TRIT_TYPE_BF16 = 2,
    TRIT_TYPE_T2 = 3,    /* ternary, 2 bits per weight, 128 per 32-byte block, scales after codes */
    TRIT_TYPE_I8 = 4,
    TRIT_TYPE_I32 = 5,
    TRIT_TYPE_U8 = 6,
    /* ggml block types (spec 6.3), carried bit for bit from a GGUF source; format 1.1 */
    TRIT_TYPE_Q8_0 = 7,  /* 32 weights in 34 bytes: f16 d, int8 qs[32] */
    TRIT_TYPE_Q4_K = 8,  /* 256 weights in 144 bytes: f16 d, f16 dmin, u8 scales[12], u8 qs[128] */
    TRIT_TYPE_Q6_K = 9,  /* 256 weights in 210 bytes: u8 ql[128], u8 qh[64], int8 scales[16], f16 d */
    TRIT_TYPE_MXFP4 = 10, /* 32 weights in 17 bytes: u8 e (E8M0), u8 qs[16] (E2M1 nibbles) */
    TRIT_TYPE_B3 = 11,   /* ternary, base 3: 5 weights per byte, 160 per 32-byte block, scales after codes */
    TRIT_TYPE_COUNT_     /* first id this library does not know */
} trit_type;

/* How a tensor's scales are laid out (ternary types; must be NONE for others). */
typedef enum trit_scale_layout {
    TRIT_SCALE_NONE = 0,
    TRIT_SCALE_TENSOR = 1,  /* one scale */
    TRIT_SCALE_ROW = 2,     /* one per row */
    TRIT_SCALE_GROUP = 3    /* one per group of group_size consecutive weights of a row */
} trit_scale_layout;

#define TRIT_SCALE_TYPE_NONE 0
#define TRIT_SCALE_TYPE_F32 1

/* Name of a known type ("t2"), or NULL for an unknown id. Static storage. */
TRIT_API const char *trit_type_name(uint32_t type);
/* Block geometry of a known type: elements and bytes per block. TRIT_E_NOTFOUND if unknown. */
TRIT_API int trit_type_geometry(uint32_t type, uint32_t *block_elems, uint32_t *block_bytes);
/* 1 for the ggml block types q8_0, q4_k, q6_k and mxfp4 (spec 6.3), else 0. */
TRIT_API int trit_type_is_block(uint32_t type);
/* Bytes [q0, q0 + n) of a block-type tensor (p points at byte q0; q0 counts from the tensor's
 * start, so pieces of any size can be fed in order): the tensor offset of the first byte that
 * makes a block's scale invalid (an f16 scale that is infinite or NaN, an mxfp4 E8M0 exponent
 * of 255, NaN in OCP MX: spec 6.3), or q0 + n when there is none or type is not a block type.
 * Pure; thread-safe. */
TRIT_API uint64_t trit_blk_find_bad(uint32_t type, const uint8_t *p, uint64_t q0, uint64_t n);

/* Ternary T2 code values: weight = (code - 1) * scale; code 3 is invalid. */
#define TRIT_HEADER_SIZE 128u    /* the fixed header at offset 0 (spec/container.md 3) */
#define TRIT_T2_BLOCK_ELEMS 128u
#define TRIT_T2_BLOCK_BYTES 32u
#define TRIT_B3_BLOCK_ELEMS 160u
#define TRIT_B3_BLOCK_BYTES 32u

/* B3 (spec 6.4): a 160-weight block is 32 bytes; byte m holds weights m, m+32, m+64, m+96,
 * m+128 as the base-3 digits t0..t4 (most significant first) of v = sum t_n 3^(4-n), t = w + 1,
 * stored as ceil(v * 256 / 243). Digit n of byte b is ((uint8_t)(b * 3^n) * 3) >> 8. Only the
 * 243 bytes this produces are valid. Pack n values (-1/0/+1) of one row; the tail of the last
 * block is padded with digit 1 (zero). dst must hold ceil(n/160)*32 bytes. */
TRIT_API void trit_b3_pack_row(const int8_t *vals, uint64_t n, uint8_t *dst);
/* Unpack n values of one B3 row; returns the number of invalid bytes among those read (their
 * weights read as 0). */
TRIT_API uint64_t trit_b3_unpack_row(const uint8_t *src, uint64_t n, int8_t *vals);
/* 1 if b is one of the 243 valid B3 bytes. */
TRIT_API int trit_b3_byte_valid(uint8_t b);

/* Pack n ternary values (-1/0/+1) of one row into T2 blocks; the tail of the last block is
 * padded with code 1 (zero). dst must hold ceil(n/128)*32 bytes. */
TRIT_API void trit_t2_pack_row(const int8_t *vals, uint64_t n, uint8_t *dst);
/* Unpack n values of one T2 row into vals (-1/0/+1). Returns the number of invalid codes (3),
 * which decode as 0. */
TRIT_API uint64_t trit_t2_unpack_row(const uint8_t *src, uint64_t n, int8_t *vals);

/* Scans of whole tensors and gaps (scan.c), vectorized: offset of the first byte of p[0, n)
 * that holds a T2 code 3 in any slot / a non-zero T2 weight (code 0 or 2) in any slot / any
 * non-zero bit; n when there is none. trit_t2_count_code3: bytes of p[0, n) holding a code 3. */
TRIT_API uint64_t trit_t2_find_code3(const uint8_t *p, uint64_t n);
TRIT_API uint64_t trit_t2_find_nonzero(const uint8_t *p, uint64_t n);
TRIT_API uint64_t trit_find_nonzero_byte(const uint8_t *p, uint64_t n);
TRIT_API uint64_t trit_t2_count_code3(const uint8_t *p, uint64_t n);

/* Half-precision conversions (exact; f32->f16/bf16 round to nearest even). */
TRIT_API float trit_f16_to_f32(uint16_t h);
TRIT_API uint16_t trit_f32_to_f16(float f);
TRIT_API float trit_bf16_to_f32(uint16_t h);
TRIT_API uint16_t trit_f32_to_bf16(float f);

/* xxh3-64 of a buffer (the checksum used everywhere in the container). */
TRIT_API uint64_t trit_xxh3(const void *p, size_t n);

/* ------------------------------------------------------------------------------------------ */
/* Tensor description, shared by the writer (input) and the reader (output).                  */

#define TRIT_NONE32 UINT32_MAX   /* "no layer", "no expert", "dense (no unit)" */

typedef struct trit_tensor_info {
    const char *name;          /* NUL-terminated; reader: borrowed, valid until close */
    uint32_t type;             /* trit_type or unknown id */
    uint32_t block_elems;      /* elements per block (recorded in the file) */
    uint32_t block_bytes;      /* bytes per block (recorded in the file) */
    uint32_t n_dims;           /* 0..TRIT_MAX_DIMS */
    uint64_t dims[8];          /* outermost first; dims[n_dims-1] is contiguous */
    uint32_t scale_layout;     /* trit_scale_layout */
    uint32_t scale_type;       /* TRIT_SCALE_TYPE_* */
    uint32_t group_size;       /* weights per scale for TRIT_SCALE_GROUP, else 0 */
    uint32_t layer;            /* transformer layer, or TRIT_NONE32 */
    uint32_t expert;           /* expert number, or TRIT_NONE32 for dense tensors */
    uint32_t unit;             /* index of the expert unit holding it, or TRIT_NONE32 */
    uint32_t storage;          /* TRIT_STORAGE_* (dense: RAW; member: its unit's) */
    uint64_t offset;           /* dense: file offset; member: offset inside the decoded unit */
    uint64_t size;             /* bytes (codes + scales for ternary) */
    uint64_t scales_off;       /* offset of the scales relative to the tensor start */
    uint64_t n_scales;         /* number of scales (0 if none) */
    uint64_t xxh3;             /* xxh3-64 of the tensor's (decoded) bytes */
} trit_tensor_info;

/* Compute size, scales_off and n_scales of a tensor from type geometry, shape and scale
 * layout (spec/container.md "Tensor byte size"). Fails with TRIT_E_LIMIT on overflow and
 * TRIT_E_CORRUPT on an inconsistent layout. */
TRIT_API int trit_tensor_layout(trit_tensor_info *t, trit_err *err);
/* A t2 tensor re-encoded as b3 (expert units stored as b3, `convert --expert-units b3`): *b3 is
 * t2's record with the type, geometry and layout changed; dst (b3->size bytes) receives the
 * codes of src (t2->size bytes, codes then scales) re-packed and the same scales.
 * TRIT_E_CORRUPT if src holds a code 3 (naming the tensor). */
TRIT_API int trit_t2_to_b3(const trit_tensor_info *t2, const uint8_t *src, trit_tensor_info *b3, uint8_t *dst,
                           trit_err *err);
/* Elements in a tensor (product of dims; 1 for 0-d). Returns 0 on success, 1 on overflow. */
TRIT_API int trit_tensor_nelems(const trit_tensor_info *t, uint64_t *out);

#define TRIT_STORAGE_RAW 0u
#define TRIT_STORAGE_ZSTD 1u

/* Feature bits (header). A reader refuses a file with an unknown *required* bit. */
#define TRIT_FEAT_REQ_ZSTD (1ull << 0)      /* some expert unit is zstd-compressed */
#define TRIT_FEAT_REQ_KNOWN (TRIT_FEAT_REQ_ZSTD)
#define TRIT_FEAT_OPT_ACT_SCALES (1ull << 0) /* an activation-scale section is present */

/* Section kinds (blobs in the data area). */
typedef enum trit_section_kind {
    TRIT_SECTION_TOKENIZER_JSON = 1,   /* HF tokenizer.json, verbatim */
    TRIT_SECTION_TOKENIZER_SPM = 2,    /* SentencePiece tokenizer.model, verbatim */
    TRIT_SECTION_TOKENIZER_KV = 3,     /* GGUF tokenizer.* KVs, in the container's KV encoding */
    TRIT_SECTION_CONFIG_JSON = 4,      /* source config.json, verbatim */
    TRIT_SECTION_ACT_SCALES = 5,       /* per-layer activation scales (spec "Activation scales") */
    TRIT_SECTION_GOLDEN_LOGITS = 6,    /* reference logits for a smoke test */
    TRIT_SECTION_OTHER = 255           /* any other file carried from the source */
} trit_section_kind;

typedef struct trit_section_info {
    const char *name;          /* borrowed */
    uint32_t kind;             /* trit_section_kind (unknown kinds are kept, not interpreted) */
    uint64_t offset;           /* file offset */
    uint64_t size;             /* bytes */
    uint64_t xxh3;             /* of the bytes */
} trit_section_info;

typedef struct trit_unit_info {
    uint32_t layer;            /* layer of the expert */
    uint32_t expert;           /* expert number within the layer */
    uint32_t storage;          /* TRIT_STORAGE_RAW or TRIT_STORAGE_ZSTD */
    uint32_t n_members;        /* tensors in the unit */
    uint64_t offset;           /* file offset of the stored bytes (page_align aligned) */
    uint64_t stored_size;      /* bytes on disk */
    uint64_t decoded_size;     /* bytes after decoding */
    uint64_t xxh3;             /* of the stored bytes */
} trit_unit_info;

/* ------------------------------------------------------------------------------------------ */
/* Typed metadata values.                                                                     */

typedef enum trit_kv_type {
    TRIT_KV_U8 = 0, TRIT_KV_I8 = 1, TRIT_KV_U16 = 2, TRIT_KV_I16 = 3,
    TRIT_KV_U32 = 4, TRIT_KV_I32 = 5, TRIT_KV_U64 = 6, TRIT_KV_I64 = 7,
    TRIT_KV_F32 = 8, TRIT_KV_F64 = 9, TRIT_KV_BOOL = 10, TRIT_KV_STRING = 11,
    TRIT_KV_ARRAY = 12
} trit_kv_type;

/* Name of a KV type ("u32"), or "?" for unknown. Static storage. */
TRIT_API const char *trit_kv_type_name(uint32_t type);

/* ------------------------------------------------------------------------------------------ */
/* KV records (spec 5.1) outside the index: a parsed set, and a builder.                      */

/* A parsed, immutable set of KV records (the index's metadata, or a section of kind 3). */
typedef struct trit_kvset trit_kvset;

/* Parse a blob of KV records laid end to end (a TRIT_SECTION_TOKENIZER_KV section). buf is
 * borrowed and must outlive the set; base_off is buf's file offset and file its name (both for
 * error messages only). Duplicate keys are refused. *out caller frees with trit_kvset_free(). */
TRIT_API int trit_kvset_parse(const void *buf, uint64_t len, uint64_t base_off, const char *file,
                              trit_kvset **out, trit_err *err);
TRIT_API void trit_kvset_free(trit_kvset *s);  /* NULL is ok */
TRIT_API uint32_t trit_kvset_n(const trit_kvset *s);
/* Key of record i (NUL-terminated). Borrowed, valid until the set is freed. */
TRIT_API const char *trit_kvset_key(const trit_kvset *s, uint32_t i);
/* Type of record i (trit_kv_type); arrays also give *elem_type and *count (may be NULL). */
TRIT_API uint32_t trit_kvset_type(const trit_kvset *s, uint32_t i, uint32_t *elem_type, uint64_t *count);
/* Index of the record with this key, or -1. O(log n). */
TRIT_API int64_t trit_kvset_find(const trit_kvset *s, const char *key);
/* Typed getters; TRIT_E_USAGE when the record is not of a compatible type. Strings are
 * borrowed from the blob and NOT NUL-terminated (*n is the length). */
TRIT_API int trit_kvset_u64(const trit_kvset *s, uint32_t i, uint64_t *out);  /* unsigned ints, bool, non-negative ints */
TRIT_API int trit_kvset_i64(const trit_kvset *s, uint32_t i, int64_t *out);   /* any integer that fits */
TRIT_API int trit_kvset_f64(const trit_kvset *s, uint32_t i, double *out);    /* f32, f64, integers */
TRIT_API int trit_kvset_str(const trit_kvset *s, uint32_t i, const char **str, uint64_t *n);
TRIT_API int trit_kvset_arr_str(const trit_kvset *s, uint32_t i, uint64_t j, const char **str, uint64_t *n);
TRIT_API int trit_kvset_arr_f64(const trit_kvset *s, uint32_t i, uint64_t j, double *out);
TRIT_API int trit_kvset_arr_i64(const trit_kvset *s, uint32_t i, uint64_t j, int64_t *out);
TRIT_API int trit_kvset_arr_u64(const trit_kvset *s, uint32_t i, uint64_t j, uint64_t *out);

/* A growable buffer of encoded KV records: build a kind-3 section with it, then write
 * trit_kvbuf_data() with trit_writer_write_section(). Keys must be unique (checked by
 * trit_kvbuf_data). */
typedef struct trit_kvbuf trit_kvbuf;
/* New empty buffer, or NULL when out of memory. Caller frees with trit_kvbuf_free(). */
TRIT_API trit_kvbuf *trit_kvbuf_new(void);
TRIT_API void trit_kvbuf_free(trit_kvbuf *b);  /* NULL is ok */
TRIT_API int trit_kvbuf_u32(trit_kvbuf *b, const char *key, uint32_t v, trit_err *err);
TRIT_API int trit_kvbuf_i32(trit_kvbuf *b, const char *key, int32_t v, trit_err *err);
TRIT_API int trit_kvbuf_u64(trit_kvbuf *b, const char *key, uint64_t v, trit_err *err);
TRIT_API int trit_kvbuf_f32(trit_kvbuf *b, const char *key, float v, trit_err *err);
TRIT_API int trit_kvbuf_f64(trit_kvbuf *b, const char *key, double v, trit_err *err);
TRIT_API int trit_kvbuf_bool(trit_kvbuf *b, const char *key, int v, trit_err *err);
TRIT_API int trit_kvbuf_str(trit_kvbuf *b, const char *key, const char *s, uint64_t n, trit_err *err);
/* Scalar of any type (type a scalar trit_kv_type; bits the value's little-endian bits, zero-
 * extended: copying typed values from another format, e.g. GGUF u8/i16/i64 keys). */
TRIT_API int trit_kvbuf_scalar(trit_kvbuf *b, const char *key, uint32_t type, uint64_t bits, trit_err *err);
/* Array of scalars (elem_type a scalar trit_kv_type; vals in the host layout of that C type). */
TRIT_API int trit_kvbuf_arr(trit_kvbuf *b, const char *key, uint32_t elem_type, const void *vals,
                            uint64_t count, trit_err *err);
/* Array of strings; lens may be NULL for NUL-terminated strings. */
TRIT_API int trit_kvbuf_arr_str(trit_kvbuf *b, const char *key, const char *const *strs,
                                const uint64_t *lens, uint64_t count, trit_err *err);
/* Encoded bytes (borrowed, valid until the next add or free) after checking keys are unique. */
TRIT_API int trit_kvbuf_data(const trit_kvbuf *b, const void **data, uint64_t *len, trit_err *err);
TRIT_API uint32_t trit_kvbuf_count(const trit_kvbuf *b);

/* ------------------------------------------------------------------------------------------ */
/* Reader.                                                                                    */

typedef struct trit_reader trit_reader;

#define TRIT_OPEN_VERIFY 1u   /* at open, also hash every object, decode every unit and check
                                 that padding is zero (reads the whole file) */
#define TRIT_OPEN_DENSE 2u    /* at open, hash every dense tensor: all that a runtime uses in place
                                 from the mapping (sections are hashed at each access, units at
                                 each read); reads the dense bytes once, on one thread */

typedef struct trit_open_opts {
    uint32_t flags;           /* TRIT_OPEN_* */
} trit_open_opts;

/* Version and required feature bits of the .trit header in buf[0, len), read only if the magic
 * and the header checksum hold (a flipped byte must not read as "needs a newer runtime"): what
 * a verifier reports when trit_reader_open refuses the file. TRIT_OK (outputs filled);
 * TRIT_E_CORRUPT (no magic), TRIT_E_TRUNCATED (short) or TRIT_E_CHECKSUM (magic, but the
 * header is damaged), with err's offset at the checksum. No other field is validated. */
TRIT_API int trit_header_peek(const void *buf, size_t len, unsigned *major, unsigned *minor, uint64_t *required,
                              trit_err *err);

/* Open and validate a file: mmap it, check header, index, layout and the header and index
 * checksums (spec "What a reader must refuse"). opts may be NULL. On success *out owns the
 * mapping; close it with trit_reader_close(). On failure *out is NULL and err says why. */
TRIT_API int trit_reader_open(const char *path, const trit_open_opts *opts, trit_reader **out,
                              trit_err *err);
/* The same over a caller buffer (borrowed: it must outlive the reader). */
TRIT_API int trit_reader_open_mem(const void *buf, size_t len, const char *name,
                                  const trit_open_opts *opts, trit_reader **out, trit_err *err);
/* Close; NULL is ok. Invalidates every borrowed pointer from this reader. */
TRIT_API void trit_reader_close(trit_reader *r);

/* Whole-file checks beyond open: every object's checksum, every unit decoded and sized, every
 * padding byte zero, every T2 code valid. Stops at the first failure. */
TRIT_API int trit_reader_verify(const trit_reader *r, trit_err *err);
/* trit_reader_verify over bytes the caller already has in hand (a copy or hash pass that
 * reads the file anyway), so the file is not read a second time. Feed the file's bytes
 * [0, file_size) in order, in pieces of any size: piece k starts at `off` = the bytes fed so
 * far. The header and index bytes must equal those r opened (else TRIT_E_CORRUPT: the file
 * changed); every object, padding gap and unit is checked as its last byte arrives. The first
 * failure is sticky and is the same error (code, offset, object, message) trit_reader_verify
 * gives for the same bytes, whatever the piece sizes. Holds one expert unit's stored bytes at
 * most (when a unit is split across pieces). Not thread-safe per stream; r must outlive it.
 * *out is owned by the caller: trit_verify_stream_free. */
typedef struct trit_verify_stream trit_verify_stream;
TRIT_API int trit_verify_stream_new(const trit_reader *r, trit_verify_stream **out, trit_err *err);
TRIT_API int trit_verify_stream_feed(trit_verify_stream *v, uint64_t off, const void *p, size_t n, trit_err *err);
/* After the last piece: TRIT_E_TRUNCATED if fewer than file_size bytes came, else the checks
 * that need no bytes (objects of size 0); the verdict, as trit_reader_verify's. */
TRIT_API int trit_verify_stream_finish(trit_verify_stream *v, trit_err *err);
TRIT_API void trit_verify_stream_free(trit_verify_stream *v);
/* The xxh3 of dense tensor i's bytes against its record: TRIT_E_CHECKSUM naming the tensor (at
 * its offset), TRIT_E_USAGE for an expert member. Thread-safe: a runtime spreads the dense
 * tensors over its threads (runner/run_weights_trit.c). */
TRIT_API int trit_reader_tensor_verify(const trit_reader *r, uint32_t i, trit_err *err);
/* Whether the file under the mapping is still the one validated at open: TRIT_OK if its size
 * and modification time are unchanged (and for memory readers), else TRIT_E_IO saying what
 * changed. One fstat. A file truncated while mapped raises SIGBUS on access to the lost pages,
 * and one rewritten in place changes the bytes under the views: replace files by rename. */
TRIT_API int trit_reader_file_check(const trit_reader *r, trit_err *err);
/* The mapped bytes [*p, *p + *len) (the caller's buffer for memory readers): the range a
 * SIGBUS handler recognizes as this file's. Borrowed, valid until close. */
TRIT_API void trit_reader_mapping(const trit_reader *r, const void **p, size_t *len);

/* Header facts. */
typedef struct trit_file_info {
    uint16_t major, minor;
    uint64_t required_features, optional_features;
    uint64_t file_size;
    uint64_t index_off, index_size, index_xxh3;
    uint64_t data_off;
    uint32_t page_align, tensor_align;
    uint32_t n_kv, n_sections, n_units, n_tensors;
    uint64_t header_xxh3;
} trit_file_info;
/* Borrowed, valid until close. */
TRIT_API const trit_file_info *trit_reader_file_info(const trit_reader *r);
/* File name given at open. Borrowed. */
TRIT_API const char *trit_reader_path(const trit_reader *r);

TRIT_API uint32_t trit_reader_n_tensors(const trit_reader *r);
/* Tensor i (< n_tensors). Borrowed, valid until close. */
TRIT_API const trit_tensor_info *trit_reader_tensor(const trit_reader *r, uint32_t i);
/* Index of the tensor called name, or -1. O(log n). */
TRIT_API int64_t trit_reader_find_tensor(const trit_reader *r, const char *name);
/* Zero-copy view of a dense tensor's bytes: *data is borrowed (points into the mapping),
 * valid until close. Fails with TRIT_E_USAGE for an expert member (use the unit calls). */
TRIT_API int trit_reader_tensor_data(const trit_reader *r, uint32_t i, const void **data,
                                     uint64_t *size, trit_err *err);

TRIT_API uint32_t trit_reader_n_units(const trit_reader *r);
/* Unit u. Borrowed, valid until close. */
TRIT_API const trit_unit_info *trit_reader_unit(const trit_reader *r, uint32_t u);
/* Index of the unit for (layer, expert), or -1. */
TRIT_API int64_t trit_reader_find_unit(const trit_reader *r, uint32_t layer, uint32_t expert);
/* Tensor indices of unit u's members, in offset order. Borrowed, *n set to the count. */
TRIT_API const uint32_t *trit_reader_unit_members(const trit_reader *r, uint32_t u, uint32_t *n);
/* Read unit u with one pread, verify the stored checksum, decode into dst (cap >= decoded_size)
 * and check the decoded size. Thread-safe. Member tensors sit at their .offset in dst. */
TRIT_API int trit_reader_unit_read(const trit_reader *r, uint32_t u, void *dst, uint64_t cap,
                                   trit_err *err);
/* Same, into a new buffer: *out caller frees with trit_free(). */
TRIT_API int trit_reader_unit_load(const trit_reader *r, uint32_t u, void **out,
                                   uint64_t *size, trit_err *err);

TRIT_API uint32_t trit_reader_n_sections(const trit_reader *r);
/* Section i. Borrowed, valid until close. */
TRIT_API const trit_section_info *trit_reader_section(const trit_reader *r, uint32_t i);
/* First section of the given kind, or -1. */
TRIT_API int64_t trit_reader_find_section(const trit_reader *r, uint32_t kind);
/* Zero-copy view of section i after checking its checksum. *data borrowed until close. */
TRIT_API int trit_reader_section_data(const trit_reader *r, uint32_t i, const void **data,
                                      uint64_t *size, trit_err *err);

/* Metadata. A KV value is read through the typed getters below, or through the reader's
 * metadata as a kvset (borrowed, valid until close). */
TRIT_API const trit_kvset *trit_reader_kv(const trit_reader *r);
/* Section i (checksum verified) parsed as KV records (kind 3). *out caller frees with
 * trit_kvset_free(), and it borrows the reader's mapping: free it before closing r. */
TRIT_API int trit_reader_section_kv(const trit_reader *r, uint32_t i, trit_kvset **out, trit_err *err);
TRIT_API uint32_t trit_reader_n_kv(const trit_reader *r);
/* Key of KV i. Borrowed, valid until close. */
TRIT_API const char *trit_reader_kv_key(const trit_reader *r, uint32_t i);
/* Type of KV i (trit_kv_type); for arrays *elem_type and *count are set (else may be NULL). */
TRIT_API uint32_t trit_reader_kv_type(const trit_reader *r, uint32_t i, uint32_t *elem_type,
                                      uint64_t *count);
/* Index of the KV called key, or -1. */
TRIT_API int64_t trit_reader_find_kv(const trit_reader *r, const char *key);
/* Scalar KV i as the widest type of its kind. TRIT_E_USAGE if it is not of that kind. */
TRIT_API int trit_reader_kv_u64(const trit_reader *r, uint32_t i, uint64_t *out);  /* u8..u64, bool */
TRIT_API int trit_reader_kv_i64(const trit_reader *r, uint32_t i, int64_t *out);   /* any integer that fits */
TRIT_API int trit_reader_kv_f64(const trit_reader *r, uint32_t i, double *out);    /* f32, f64, integers */
/* String KV i, or element j of a string array: *s borrowed (NOT NUL-terminated), *n its length. */
TRIT_API int trit_reader_kv_str(const trit_reader *r, uint32_t i, const char **s, uint64_t *n);
TRIT_API int trit_reader_kv_arr_str(const trit_reader *r, uint32_t i, uint64_t j, const char **s,
                                    uint64_t *n);
/* Element j of a numeric array, converted like the scalar getters. */
TRIT_API int trit_reader_kv_arr_f64(const trit_reader *r, uint32_t i, uint64_t j, double *out);
TRIT_API int trit_reader_kv_arr_i64(const trit_reader *r, uint32_t i, uint64_t j, int64_t *out);

/* ------------------------------------------------------------------------------------------ */
/* Activation scales: the kind-5 section (spec section 9), static int8 (or int16) scales for  */
/* the input activations of projections, written by `trit calibrate`.                         */

typedef enum trit_act_granularity {
    TRIT_ACT_TENSOR = 1,       /* one scale for every input channel */
    TRIT_ACT_CHANNEL = 2,      /* one scale per input channel */
    TRIT_ACT_GROUP = 3         /* one scale per group_size consecutive input channels */
} trit_act_granularity;

typedef struct trit_act_entry {
    uint32_t tensor;           /* index of the tensor record whose input activations these scale */
    uint32_t granularity;      /* trit_act_granularity */
    uint32_t group_size;       /* TRIT_ACT_GROUP: channels per scale, else 0 */
    uint32_t n_scales;         /* 1, in_features, or ceil(in_features / group_size) */
    uint32_t bits;             /* quantized width: 8 or 16 (TRIT_ACT_QMAX gives the range) */
    const float *scales;       /* n_scales finite scales > 0: q = clamp(round(x / scale), -qmax, qmax) */
} trit_act_entry;

/* The largest quantized magnitude of an entry of `bits` (8 or 16): 127 or 32767 (spec 9). */
#define TRIT_ACT_QMAX(bits) ((bits) == 16 ? 32767 : 127)

/* A parsed activation-scale section. */
typedef struct trit_act_scales trit_act_scales;

/* Parse a kind-5 section from buf (borrowed during the call; entries are copied). base_off and
 * file place errors. With r non-NULL, each entry is also checked against r's tensor records
 * (index in range, n_scales matching the tensor's last dimension). Refusals: TRIT_E_TRUNCATED,
 * TRIT_E_CORRUPT, TRIT_E_LIMIT, TRIT_E_UNSUPPORTED (bits other than 8), with the offset and
 * the entry. *out caller frees with trit_act_scales_free(). */
TRIT_API int trit_act_scales_parse(const void *buf, uint64_t len, uint64_t base_off, const char *file,
                                   const trit_reader *r, trit_act_scales **out, trit_err *err);
/* The first kind-5 section of r, checksum-verified and parsed against r's tensors.
 * TRIT_E_NOTFOUND when there is none. *out caller frees with trit_act_scales_free(); it does
 * not borrow from r. */
TRIT_API int trit_reader_act_scales(const trit_reader *r, trit_act_scales **out, trit_err *err);
TRIT_API void trit_act_scales_free(trit_act_scales *s);  /* NULL is ok */
TRIT_API uint32_t trit_act_scales_n(const trit_act_scales *s);
/* Entry i (increasing tensor order), or NULL. Borrowed, valid until the set is freed. */
TRIT_API const trit_act_entry *trit_act_scales_at(const trit_act_scales *s, uint32_t i);
/* The entry of tensor index `tensor`, or NULL. O(log n). Borrowed like trit_act_scales_at. */
TRIT_API const trit_act_entry *trit_act_scales_find(const trit_act_scales *s, uint32_t tensor);
/* "tensor", "channel", "group", or NULL. Static storage. */
TRIT_API const char *trit_act_granularity_name(uint32_t g);
/* Encode n entries (strictly increasing tensor, each valid; checked: TRIT_E_USAGE) as the
 * bytes of a kind-5 section. *out caller frees with trit_free(). */
TRIT_API int trit_act_scales_encode(const trit_act_entry *e, uint32_t n, void **out, uint64_t *len,
                                    trit_err *err);

/* ------------------------------------------------------------------------------------------ */
/* Writer. Lifecycle: open -> set KVs and declare every section, unit and tensor -> write the
 * data of each declared object (any order; the order of writes is the order on disk) ->
 * finish. Memory is bounded by the index, never by tensor data: tensor data is streamed.
 * The output appears at `path` only when finish succeeds (temp file, fsync, rename). */

typedef struct trit_writer trit_writer;

typedef struct trit_write_opts {
    uint32_t page_align;      /* 0 = 16384 (covers 4 KiB and 16 KiB pages) */
    uint32_t tensor_align;    /* 0 = 64 */
    int zstd_level;           /* for zstd units; 0 = library default (3) */
    int overwrite;            /* replace an existing file at path */
    /* Told the temp file's name as soon as it exists and NULL once it is renamed into place or
     * removed, with SIGINT/SIGTERM/SIGHUP held back in between, so a caller's signal handler
     * can always remove it (libtrit installs none). May be NULL. */
    void (*temp_path)(void *ctx, const char *path);
    void *temp_ctx;           /* passed to temp_path */
} trit_write_opts;

/* Create the temporary file beside path (path.tmp-<pid>-XXXXXX; a dead writer's left-over one
 * is removed first, a live writer's never). opts may be NULL. *out caller closes with
 * trit_writer_finish() or trit_writer_abort(). */
TRIT_API int trit_writer_open(const char *path, const trit_write_opts *opts, trit_writer **out,
                              trit_err *err);

/* Metadata; keys must be unique. Values are copied. */
TRIT_API int trit_writer_kv_u32(trit_writer *w, const char *key, uint32_t v, trit_err *err);
TRIT_API int trit_writer_kv_i32(trit_writer *w, const char *key, int32_t v, trit_err *err);
TRIT_API int trit_writer_kv_u64(trit_writer *w, const char *key, uint64_t v, trit_err *err);
TRIT_API int trit_writer_kv_f32(trit_writer *w, const char *key, float v, trit_err *err);
TRIT_API int trit_writer_kv_f64(trit_writer *w, const char *key, double v, trit_err *err);
TRIT_API int trit_writer_kv_bool(trit_writer *w, const char *key, int v, trit_err *err);
TRIT_API int trit_writer_kv_str(trit_writer *w, const char *key, const char *s, uint64_t n,
                                trit_err *err);
/* Array of fixed-size elements (elem_type a scalar kv type), count elements at vals (host
 * order, native layout of that C type). */
TRIT_API int trit_writer_kv_arr(trit_writer *w, const char *key, uint32_t elem_type,
                                const void *vals, uint64_t count, trit_err *err);
/* Array of strings; lens may be NULL for NUL-terminated strings. */
TRIT_API int trit_writer_kv_arr_str(trit_writer *w, const char *key, const char *const *strs,
                                    const uint64_t *lens, uint64_t count, trit_err *err);

/* Append every record of b (built with trit_kvbuf_*) to the metadata. */
TRIT_API int trit_writer_kv_import(trit_writer *w, const trit_kvbuf *b, trit_err *err);

/* Declare a section; *id receives its handle for trit_writer_write_section(). */
TRIT_API int trit_writer_add_section(trit_writer *w, const char *name, uint32_t kind, uint32_t *id,
                                     trit_err *err);
/* Declare an expert unit; *id receives its index. */
TRIT_API int trit_writer_add_unit(trit_writer *w, uint32_t layer, uint32_t expert, uint32_t storage,
                                  uint32_t *id, trit_err *err);
/* Declare a tensor. Fields used: name, type, n_dims, dims, scale_layout, scale_type, group_size,
 * layer, unit (TRIT_NONE32 = dense) and, for unknown types only, block_elems/block_bytes.
 * Expert members take their unit's layer/expert. The name is copied. *id receives its index. */
TRIT_API int trit_writer_add_tensor(trit_writer *w, const trit_tensor_info *t, uint32_t *id,
                                    trit_err *err);

/* Data. A dense tensor or section is streamed with begin/append.../end; a unit with
 * unit_begin, then for each member in declaration order tensor_begin/append/end, then unit_end.
 * The appended byte counts must add up to the declared size exactly. */
TRIT_API int trit_writer_tensor_begin(trit_writer *w, uint32_t tensor, trit_err *err);
TRIT_API int trit_writer_section_begin(trit_writer *w, uint32_t section, trit_err *err);
TRIT_API int trit_writer_append(trit_writer *w, const void *p, uint64_t n, trit_err *err);
TRIT_API int trit_writer_end(trit_writer *w, trit_err *err);
TRIT_API int trit_writer_unit_begin(trit_writer *w, uint32_t unit, trit_err *err);
TRIT_API int trit_writer_unit_end(trit_writer *w, trit_err *err);
/* Convenience: begin + append(all) + end. */
TRIT_API int trit_writer_write_tensor(trit_writer *w, uint32_t tensor, const void *p, uint64_t n,
                                      trit_err *err);
TRIT_API int trit_writer_write_section(trit_writer *w, uint32_t section, const void *p, uint64_t n,
                                       trit_err *err);

/* A declared tensor as the writer laid it out (a member's offset inside its unit, the size),
 * or NULL for an unknown id. Borrowed, valid until finish/abort; read it before data starts, or
 * from the thread that drives the writer. */
TRIT_API const trit_tensor_info *trit_writer_tensor(const trit_writer *w, uint32_t id);

/* Units prepared on other threads. A unit's decoded bytes are its members at their declared
 * offsets (trit_writer_tensor) with zero bytes between them; trit_unit_pack turns them into the
 * unit's stored bytes exactly as unit_begin/append/unit_end would (zstd streamed at the writer's
 * level, so the file is the same byte for byte whichever way a unit was written). One packer
 * per thread; packers share nothing. */
typedef struct trit_unit_packer trit_unit_packer;
/* zstd_level as in trit_write_opts (0 = 3). *out caller frees with trit_unit_packer_free. */
TRIT_API int trit_unit_packer_new(int zstd_level, trit_unit_packer **out, trit_err *err);
TRIT_API void trit_unit_packer_free(trit_unit_packer *pk);   /* NULL is ok */
/* Stored bytes of a unit of `storage` whose decoded bytes are dec[0..n): *stored points at
 * them (raw: dec itself; zstd: the packer's buffer, valid until its next call), *stored_n their
 * count, *stored_xxh3 their xxh3. */
TRIT_API int trit_unit_pack(trit_unit_packer *pk, uint32_t storage, const void *dec, uint64_t n,
                            const void **stored, uint64_t *stored_n, uint64_t *stored_xxh3,
                            trit_err *err);
/* Write a whole declared unit from its packed bytes (trit_unit_pack) and each member's xxh3 in
 * declaration order (n_members of them, as declared). The decoded size is checked against the
 * zstd frame's content size. Same state rules as unit_begin. */
TRIT_API int trit_writer_unit_put(trit_writer *w, uint32_t unit, const void *stored, uint64_t stored_n,
                                  uint64_t stored_xxh3, const uint64_t *member_xxh3,
                                  uint32_t n_members, trit_err *err);

/* Write the index and header, fsync, rename into place, fsync the directory, and free w.
 * On failure the temp file is removed and nothing appears at path; w is freed either way. */
TRIT_API int trit_writer_finish(trit_writer *w, trit_err *err);
/* Remove the temp file and free w. NULL is ok. */
TRIT_API void trit_writer_abort(trit_writer *w);
/* Path of the temporary file (for signal handlers that must unlink it). Borrowed. */
TRIT_API const char *trit_writer_temp_path(const trit_writer *w);

#ifdef __cplusplus
}
#endif
#endif /* TRIT_H */
