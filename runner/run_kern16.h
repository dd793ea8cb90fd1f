/*
 * run_kern16.h - the int16-activation t2 kernels (spec 9's 16-bit static sites): a table of its
 * own beside run_kern.h's, chosen to match the context's kernel set (AVX2 on x86 CPUs that have
 * it, the portable reference elsewhere).
 *
 * Bounds: a chunk is 32 inputs, so |sum of code * q| <= 3 * 32767 * 32 < 2^22 fits int32
 * exactly; a whole row does not (3 * 32767 * RUN_MAX_COLS > 2^31), so callers add chunks in
 * int64 (run_act_lin.c). Results are exact integers: every set returns the same values.
 */
#ifndef RUN_KERN16_H
#define RUN_KERN16_H

#include <stdint.h>

#include "run_kern.h"

typedef struct run_kern16 {
    const char *name;          /* "ref", "avx2" */
    /* Per plane: out[4 * b + k] = sum over weights [32k, 32k+32) of block b of code * q (code
     * 0..3 as stored, spec 6.1); q holds 128 * n_blocks values in [-32767, 32767]. */
    void (*t2_chunks16)(const uint8_t *codes, const int16_t *q, uint64_t n_blocks, int32_t *out);
} run_kern16;

/* The portable reference. Static storage. */
const run_kern16 *run_kern16_ref(void);
/* AVX2 if this build has it and the CPU supports it, else NULL. */
const run_kern16 *run_kern16_avx2(void);
/* The set that goes with k: the reference for "ref" (so --kernel ref stays all-portable) and on
 * CPUs without AVX2, else AVX2. Static storage. */
const run_kern16 *run_kern16_for(const run_kern *k);

#endif /* RUN_KERN16_H */
