/*
 * src_mxfp4.h - MXFP4 (OCP microscaling FP4: blocks of 32 E2M1 values sharing one E8M0 scale) in
 * both forms a release ships it, presented to the rest of trit as ggml's type MXFP4 (id 39,
 * ggml.h GGML_TYPE_MXFP4 at llama.cpp de3ff815; gguf-py GGML_QUANT_SIZES: 32 elements, 17 bytes).
 *
 *   ggml (a GGUF tensor of type MXFP4), block_mxfp4 in ggml-common.h: { uint8_t e; uint8_t qs[16] };
 *     element j < 16 is the low nibble of qs[j], element j + 16 its high nibble
 *     (dequantize_row_mxfp4: y[j] = kvalues_mxfp4[qs[j] & 15] * d, y[j + 16] = ... [qs[j] >> 4]),
 *     with kvalues_mxfp4 = 2 x E2M1 {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, ...} and
 *     d = ggml_e8m0_to_fp32_half(e) = 2^(e - 128).
 *   HF (openai/gpt-oss-*: "<name>_blocks" U8 [..., n/32, 16] beside "<name>_scales" U8 [..., n/32],
 *     quantization_config.quant_method "mxfp4"): transformers' integrations/mxfp4.py
 *     convert_moe_packed_tensors puts the low nibble of byte j at element 2j and the high nibble at
 *     2j + 1, value FP4_VALUES[nibble] * 2^(scale - 127), FP4_VALUES = E2M1 {+0.0, +0.5, ... +6.0,
 *     -0.0, ... -6.0}. llama.cpp's converter (conversion/gpt_oss.py transform_nibble_layout +
 *     repack_mxfp4) reorders those nibbles into ggml's and prepends the scale byte: the same
 *     values, bit for bit.
 *
 * An E8M0 scale of 255 is NaN in the OCP format: refused, never decoded.
 */
#ifndef SRC_MXFP4_H
#define SRC_MXFP4_H

#include <stdint.h>

#include "trit.h"

#define SRC_MXFP4_BLOCK 32u        /* elements per block */
#define SRC_MXFP4_BYTES 17u        /* bytes per ggml block */
#define SRC_MXFP4_NAN_SCALE 255u   /* E8M0 NaN */

/* The value of E2M1 code c (0..15), as a float: +-{0, 0.5, 1, 1.5, 2, 3, 4, 6}. */
float src_mxfp4_e2m1(unsigned c);
/* 2^(e - 127), the scale an E8M0 byte e < 255 stands for. */
float src_mxfp4_e8m0(unsigned e);

/* Decode n ggml blocks (17 bytes each) into n * 32 floats. TRIT_E_CORRUPT naming block k when a
 * scale is 255 (NaN). Pure; thread-safe. */
int src_mxfp4_dequant(const uint8_t *src, uint64_t n_blocks, float *dst, trit_err *err);

/* The first of n ggml blocks whose scale is 255 (NaN), or -1. */
int64_t src_mxfp4_find_nan(const uint8_t *src, uint64_t n_blocks);

/* One HF block (its 16 packed bytes and its scale byte) as a ggml block: out[0] = scale, then
 * qs with element j in the low and j + 16 in the high nibble. */
void src_mxfp4_hf_to_ggml(const uint8_t hf[16], uint8_t scale, uint8_t out[SRC_MXFP4_BYTES]);

/* ---- HF pairs in the unified source view ---------------------------------------------------- */

struct src_st;

/* A "<name>_blocks" tensor and its "<name>_scales": rows = product of the dims before the last
 * two, groups = blocks per row; the logical tensor is [dims[0..n-3], groups * 32] of MXFP4. */
typedef struct src_mxfp4_pair {
    uint32_t scales;           /* tensor index of the scales; 0 with rows == 0: not a pair */
    uint64_t rows, groups;
} src_mxfp4_pair;

/* When config.json says quantization_config.quant_method "mxfp4": find every U8 "*_blocks"
 * [..., G, 16] and its U8 "*_scales" [..., G] in st (n tensors) and fill pair[i] for the blocks
 * tensor i. A blocks tensor without its scales, or a scales tensor without its blocks, or a
 * shape that disagrees, is refused naming the tensor. Returns TRIT_OK (nothing paired when the
 * config is not mxfp4). */
int src_mxfp4_find_pairs(const struct src_st *st, uint32_t n, src_mxfp4_pair *pair, trit_err *err);

/* n floats of the logical tensor of blocks tensor i from element first. */
int src_mxfp4_pair_f32(const struct src_st *st, uint32_t i, const src_mxfp4_pair *p, uint64_t first, uint64_t n,
                       float *out, trit_err *err);
/* n bytes of the pair as ggml MXFP4 (17-byte blocks in row-major block order) from byte_off. */
int src_mxfp4_pair_raw(const struct src_st *st, uint32_t i, const src_mxfp4_pair *p, uint64_t byte_off, void *buf,
                       uint64_t n, trit_err *err);

#endif /* SRC_MXFP4_H */
