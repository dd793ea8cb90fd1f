/* tfmt.h - sample containers for the format tests, built through the public writer. */
#ifndef TRIT_TFMT_H
#define TRIT_TFMT_H
#include <stdint.h>
#include "trit.h"

/* Variants of the sample: */
#define TFMT_FULL 0      /* every type, scale layout, KV type, a section, raw and zstd units */
#define TFMT_SMALL 1     /* a few tensors and one zstd unit, page_align 4096 (bit-flip sweeps) */
#define TFMT_BLK 2       /* the ggml block types (q8_0, q4_k, q6_k, mxfp4) dense and in a zstd unit */

/* Write the sample to path (overwriting). Returns TRIT_OK or the writer's error. */
int tfmt_write(const char *path, int variant, trit_err *err);

/* Deterministic test bytes for tensor i: the "cycle of 251" pattern, shifted by i (style R17). */
void tfmt_fill(uint8_t *p, uint64_t n, uint32_t i);
/* Fill a block-type tensor image with the cycle pattern, then make every block's scale valid
 * (spec 6.3: finite f16 scales, no mxfp4 exponent 255). */
void tfmt_fill_blk(const trit_tensor_info *t, uint8_t *p, uint32_t seed);
/* Fill a valid T2 tensor image (codes from a PRNG, finite scales) of the described tensor. */
void tfmt_fill_t2(const trit_tensor_info *t, uint8_t *p, uint32_t seed);
#endif
