/* insp_blk.h - values of the container's ggml block types for inspect and diff (insp_blk.c). */
#ifndef INSP_BLK_H
#define INSP_BLK_H

#include <stdint.h>

#include "trit.h"

/* Elements [first, first+n) of block-type tensor t, whose whole bytes are at p, as floats into
 * out. TRIT_E_UNSUPPORTED (naming the tensor) when this build has no decoder for the type. */
int insp__blk_f32(const trit_tensor_info *t, const uint8_t *p, uint64_t first, uint64_t n, float *out, trit_err *err);

#endif
