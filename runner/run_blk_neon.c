/* run_blk_neon.c - NEON block kernels (aarch64). Not written yet: the runner uses the reference
 * set (run_blk_kern_best) until they are. */
#include <stddef.h>

#include "run_blk.h"

const run_blk_kern *run_blk_kern_neon(void) { return NULL; }
