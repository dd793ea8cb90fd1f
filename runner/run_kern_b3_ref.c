/* run_kern_b3_ref.c - the portable b3 kernels (run_kern_b3.h), and the choice of a set. */
#include <string.h>

#include "run_kern_b3.h"

static int32_t digit(uint8_t b, unsigned n)
{
    static const uint8_t pow3[5] = {1, 3, 9, 27, 81};
    return (int32_t)(((unsigned)(uint8_t)(b * pow3[n]) * 3u) >> 8);
}

static int32_t plane_sum(const uint8_t *codes, const int8_t *q, uint64_t p)
{
    const uint8_t *blk = codes + (p / 5) * 32;
    unsigned const n = (unsigned)(p % 5);
    int32_t s = 0;
    for (unsigned j = 0; j < 32; j++) s += digit(blk[j], n) * q[p * 32 + j];
    return s;
}

static int32_t ref_dot(const uint8_t *codes, const int8_t *q, uint64_t n_planes)
{
    int32_t s = 0;
    for (uint64_t p = 0; p < n_planes; p++) s += plane_sum(codes, q, p);
    return s;
}

static void ref_gemv(const uint8_t *codes, uint64_t n_rows, uint64_t row_bytes, const int8_t *q, uint64_t n_planes, int32_t *out)
{
    for (uint64_t r = 0; r < n_rows; r++) out[r] = ref_dot(codes + r * row_bytes, q, n_planes);
}

static void ref_chunks(const uint8_t *codes, const int8_t *q, uint64_t n_planes, int32_t *out)
{
    for (uint64_t p = 0; p < n_planes; p++) out[p] = plane_sum(codes, q, p);
}

static const run_b3_kern ref_b3 = {"ref", ref_dot, ref_gemv, ref_chunks};

const run_b3_kern *run_b3_kern_ref(void) { return &ref_b3; }

const run_b3_kern *run_b3_kern_for(const char *t2_set)
{
    const run_b3_kern *k = NULL;
    if (t2_set && !strcmp(t2_set, "avx512")) k = run_b3_kern_avx512();
    if (!k && t2_set && (!strcmp(t2_set, "avx512") || !strcmp(t2_set, "avx2") || !strcmp(t2_set, "avxvnni"))) k = run_b3_kern_avx2();
    return k ? k : &ref_b3;
}
