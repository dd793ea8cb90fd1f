/*
 * src_ggml_types.h - the ggml tensor type table (geometry of every type id a GGUF file may carry)
 * and dequantizers to float for the types trit converts.
 *
 * Ids are not global (reference/formats.md 1.7, 1.9): mainline ggml removed ids 4, 5, 31-33 and
 * 36-38, and the microsoft/BitNet fork reuses some of them (36 = I2_S, 38 = TL1, 39 = TL2 while
 * mainline 39 = MXFP4). This table therefore has two namespaces:
 *   - mainline ids 0..SRC_GGML_MAINLINE_COUNT-1, exactly as ggml numbers them;
 *   - BitNet-fork types under SRC_GGML_FORK_BASE + fork id, which the GGUF reader assigns only
 *     when the file is a BitNet-fork file (general.architecture bitnet-b1.58 / bitnet-25).
 *
 * Block geometry: a tensor of n elements (n a multiple of blck) occupies n / blck * type_size
 * bytes. I2_S and TL1 are per-tensor formats instead: n / 4 bytes of 2-bit codes, then a
 * 32-byte trailer whose first 4 bytes are the f32 scale (n / 4 + 32 bytes in all); the table
 * gives their code geometry (128 elements per 32 bytes) and flags the trailer.
 */
#ifndef SRC_GGML_TYPES_H
#define SRC_GGML_TYPES_H

#include <stdint.h>

#include "trit.h"

enum {
    SRC_GGML_F32 = 0,
    SRC_GGML_F16 = 1,
    SRC_GGML_Q4_0 = 2,
    SRC_GGML_Q4_1 = 3,
    SRC_GGML_Q5_0 = 6,
    SRC_GGML_Q5_1 = 7,
    SRC_GGML_Q8_0 = 8,
    SRC_GGML_Q8_1 = 9,
    SRC_GGML_Q2_K = 10,
    SRC_GGML_Q3_K = 11,
    SRC_GGML_Q4_K = 12,
    SRC_GGML_Q5_K = 13,
    SRC_GGML_Q6_K = 14,
    SRC_GGML_Q8_K = 15,
    SRC_GGML_IQ2_XXS = 16,
    SRC_GGML_IQ2_XS = 17,
    SRC_GGML_IQ3_XXS = 18,
    SRC_GGML_IQ1_S = 19,
    SRC_GGML_IQ4_NL = 20,
    SRC_GGML_IQ3_S = 21,
    SRC_GGML_IQ2_S = 22,
    SRC_GGML_IQ4_XS = 23,
    SRC_GGML_I8 = 24,
    SRC_GGML_I16 = 25,
    SRC_GGML_I32 = 26,
    SRC_GGML_I64 = 27,
    SRC_GGML_F64 = 28,
    SRC_GGML_IQ1_M = 29,
    SRC_GGML_BF16 = 30,
    SRC_GGML_TQ1_0 = 34,
    SRC_GGML_TQ2_0 = 35,
    SRC_GGML_MXFP4 = 39,
    SRC_GGML_NVFP4 = 40,
    SRC_GGML_Q1_0 = 41,
    SRC_GGML_Q2_0 = 42,
    SRC_GGML_MAINLINE_COUNT = 43,   /* GGML_TYPE_COUNT at ggml d99724f2 */

    SRC_GGML_FORK_BASE = 0x100,     /* BitNet-fork namespace: FORK_BASE + fork id */
    SRC_GGML_FORK_Q4_0_4_4 = SRC_GGML_FORK_BASE + 31,
    SRC_GGML_FORK_Q4_0_4_8 = SRC_GGML_FORK_BASE + 32,
    SRC_GGML_FORK_Q4_0_8_8 = SRC_GGML_FORK_BASE + 33,
    SRC_GGML_FORK_I2_S = SRC_GGML_FORK_BASE + 36,
    SRC_GGML_FORK_TL1 = SRC_GGML_FORK_BASE + 38
};

/* Per-tensor trailer of I2_S / TL1: f32 scale + 28 bytes of padding. */
#define SRC_GGML_I2S_TRAILER 32u

typedef struct src_ggml_type {
    uint32_t id;           /* SRC_GGML_* (fork types carry SRC_GGML_FORK_BASE) */
    const char *name;      /* ggml's name: "Q4_K", "TQ2_0", "I2_S" (static storage) */
    uint32_t blck;         /* elements per block */
    uint32_t type_size;    /* bytes per block */
    uint32_t trailer;      /* bytes after the last block (I2_S, TL1: 32), else 0 */
    int can_decode;        /* 1 if src_ggml_dequant() supports the type */
} src_ggml_type;

/* The type with this id (mainline id or FORK_BASE + fork id), or NULL when the id is unknown
 * or removed. Borrowed, static storage. */
const src_ggml_type *src_ggml_type_get(uint32_t id);

/* Bytes a tensor of n_elems elements of type t occupies: n / blck * type_size + trailer.
 * TRIT_E_CORRUPT if n_elems is not a multiple of the block (I2_S/TL1: of 4) or the size
 * overflows. err names `what` (e.g. "tensor 'x'") at `off`. */
int src_ggml_nbytes(const src_ggml_type *t, uint64_t n_elems, uint64_t *out, const char *what,
                    uint64_t off, trit_err *err);

/* Decode n_blocks whole blocks of a block-format type (src holds n_blocks * type_size bytes)
 * into n_blocks * blck floats. TRIT_E_UNSUPPORTED if the type cannot be decoded; for I2_S use
 * src_ggml_i2s_dequant(). Pure function; thread-safe. */
int src_ggml_dequant(uint32_t id, const uint8_t *src, uint64_t n_blocks, float *dst, trit_err *err);

/* Decode n_chunks 128-element I2_S chunks (32 bytes each, x86 ACT_PARALLEL layout: byte j of a
 * chunk holds elements j, j+32, j+64, j+96 in bits 7:6, 5:4, 3:2, 1:0; code c -> (c-1)*scale,
 * so the unused code 3 decodes as 2*scale, as the fork's kernels would compute it). */
void src_ggml_i2s_dequant(const uint8_t *src, uint64_t n_chunks, float scale, float *dst);

/* ---- ternary codes without float (the converter's code-domain path) ----------------------
 * The container's t2 rows hold 128 codes per 32 bytes: byte m of a block holds elements m,
 * m+32, m+64, m+96 in bits 1:0, 3:2, 5:4, 7:6, code c meaning c - 1 (format/trit.h). These
 * write the source's codes in that layout, unchanged in meaning: value = (code - 1) * factor.
 * *bad is increased by the number of codes 3 seen (TQ2_0/I2_S can hold them; they decode to
 * 2 * factor, which is not ternary, and are copied as they are). Pure functions; thread-safe. */

/* n_blocks TQ2_0 blocks (66 bytes, 256 elements) -> 64 t2 bytes each; d[k] = block k's scale. */
void src_ggml_tq2_to_t2(const uint8_t *src, uint64_t n_blocks, uint8_t *t2, float *d, uint64_t *bad);
/* n_blocks TQ1_0 blocks (54 bytes, 256 elements) -> 64 t2 bytes each; d[k] = block k's scale.
 * (A base-3 byte always yields trits 0..2: no bad codes.) */
void src_ggml_tq1_to_t2(const uint8_t *src, uint64_t n_blocks, uint8_t *t2, float *d);
/* n_chunks I2_S chunks (32 bytes, 128 elements) -> 32 t2 bytes each (the bit pairs reversed). */
void src_ggml_i2s_to_t2(const uint8_t *src, uint64_t n_chunks, uint8_t *t2, uint64_t *bad);

#endif /* SRC_GGML_TYPES_H */
