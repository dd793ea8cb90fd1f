/* test_blk.h - helpers of the block-type tests (test_blk_util.c). */
#ifndef TEST_BLK_H
#define TEST_BLK_H

#include "run_blk.h"
#include "trit.h"

/* Copy GGUF `in` to `out` with every tensor of >= 2 dims whose rows are whole blocks of t and
 * whose name contains none of the strings in keep (NULL-terminated, may be NULL) replaced by
 * deterministic valid blocks of t (weights up to about mag); twin != 0 writes those tensors as
 * the F32 values the blocks decode to instead (the float twin). */
int tb_requant(const char *in, const char *out, run_blk_type t, const char *const *keep, int twin, float mag,
               trit_err *err);

#endif
