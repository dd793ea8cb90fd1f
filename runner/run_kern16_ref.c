/* run_kern16_ref.c - the portable int16-activation t2 kernel (run_kern16.h): the definition the
 * AVX2 one is tested against, and the fallback. */
#include <string.h>

#include "run_kern16.h"

static void ref_t2_chunks16(const uint8_t *codes, const int16_t *q, uint64_t n_blocks, int32_t *out)
{
    for (uint64_t b = 0; b < n_blocks; b++, codes += 32, q += 128, out += 4) {
        int32_t s[4] = {0, 0, 0, 0};
        for (unsigned m = 0; m < 32; m++) {
            unsigned const v = codes[m];
            for (unsigned k = 0; k < 4; k++) s[k] += (int32_t)((v >> (2 * k)) & 3) * q[m + 32 * k];
        }
        memcpy(out, s, sizeof s);
    }
}

static const run_kern16 ref_kern16 = {"ref", ref_t2_chunks16};

const run_kern16 *run_kern16_ref(void) { return &ref_kern16; }

const run_kern16 *run_kern16_for(const run_kern *k)
{
    if (!k || !strcmp(k->name, "ref")) return &ref_kern16;
    const run_kern16 *a = run_kern16_avx2();
    return a ? a : &ref_kern16;
}
