/* run_kern16_ref.c - the portable int16-activation t2 kernel (run_kern16.h): the definition the
 * AVX2 one is tested against, and the fallback. */
#include <string.h>

#include "run_kern16.h"
#include "run_kern_ref_t2.h"

RUN_REF_T2_CHUNKS(ref_t2_chunks16, int16_t)

static const run_kern16 ref_kern16 = {"ref", ref_t2_chunks16};

const run_kern16 *run_kern16_ref(void) { return &ref_kern16; }

const run_kern16 *run_kern16_for(const run_kern *k)
{
    if (!k || !strcmp(k->name, "ref")) return &ref_kern16;
    const run_kern16 *a = run_kern16_avx2();
    return a ? a : &ref_kern16;
}
