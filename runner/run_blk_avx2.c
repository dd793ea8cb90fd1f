/* run_blk_avx2.c - AVX2 block kernels (x86-64). Not written yet: the runner uses the reference
 * set (run_blk_kern_best) until they are. */
#include <stddef.h>

#include "run_blk.h"

const run_blk_kern *run_blk_kern_avx2(void) { return NULL; }
