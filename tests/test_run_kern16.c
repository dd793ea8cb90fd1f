/* test_run_kern16.c - the int16-activation t2 kernels (runner/run_kern16.h) against a plain
 * per-weight sum and against each other on odd sizes and the +-32767 extremes, and a whole
 * 16-bit row through run__act_linear whose exact sum exceeds int32 (so a row summed in int32
 * would come out wrong). */
#include <stdlib.h>
#include <string.h>

#include "run_int.h"
#include "run_kern16.h"
#include "test.h"

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The definition (spec 6.1 layout): weight 32k + m of block b is bits 2k of byte m. */
static void plain_chunks(const uint8_t *codes, const int16_t *q, uint64_t nb, int32_t *out)
{
    for (uint64_t b = 0; b < nb; b++)
        for (unsigned k = 0; k < 4; k++) {
            int64_t s = 0;
            for (unsigned m = 0; m < 32; m++) s += (int64_t)((codes[b * 32 + m] >> (2 * k)) & 3) * q[b * 128 + 32 * k + m];
            out[b * 4 + k] = (int32_t)s;
        }
}

static void check_set(const run_kern16 *k)
{
    static const uint64_t sizes[] = {1, 2, 3, 5, 7, 13, 33};
    uint64_t rng = 15;
    unsigned bad = 0, checks = 0;
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++)
        for (int pattern = 0; pattern < 4; pattern++) {
            uint64_t const nb = sizes[si];
            uint8_t *codes = malloc(nb * 32);
            int16_t *q = malloc(nb * 128 * sizeof *q);
            int32_t *want = malloc(nb * 4 * sizeof *want), *got = malloc(nb * 4 * sizeof *got);
            for (uint64_t i = 0; i < nb * 32; i++)
                codes[i] = pattern == 1 ? 0xff : (uint8_t)rng_next(&rng);   /* 1: every code 3 */
            for (uint64_t i = 0; i < nb * 128; i++) {
                uint64_t const r = rng_next(&rng);
                if (pattern == 1) q[i] = 32767;
                else if (pattern == 2) q[i] = -32767;
                else if (pattern == 3) q[i] = (r & 1) ? 32767 : -32767;
                else q[i] = (int16_t)((int64_t)(r % 65535) - 32767);
            }
            plain_chunks(codes, q, nb, want);
            memset(got, 0x55, nb * 4 * sizeof *got);
            k->t2_chunks16(codes, q, nb, got);
            checks++;
            if (memcmp(want, got, nb * 4 * sizeof *got)) {
                if (!bad++) test_fail_(__FILE__, __LINE__, "%s: %llu blocks, pattern %d differ", k->name, (unsigned long long)nb, pattern);
            }
            if (pattern == 1) CHECK_EQ_INT(got[0], 3 * 32767 * 32);   /* the bound of run_kern16.h, exact */
            free(codes);
            free(q);
            free(want);
            free(got);
        }
    CHECK_EQ_INT(bad, 0);
    CHECK(checks == 28);
}

TEST(run_kern16_ref_vs_plain) { check_set(run_kern16_ref()); }

TEST(run_kern16_avx2_vs_plain)
{
    const run_kern16 *k = run_kern16_avx2();
    if (!k) SKIP("no AVX2 on this CPU or build");
    check_set(k);
    CHECK(run_kern16_for(run_kern_ref()) == run_kern16_ref());
}

/* One t2 row of 2^17 weights +1 (code 2, weight scale 1) against 16-bit activations all 32767
 * with one scale per tensor (1.0): y = 32767 * 2^17 = 4294836224, past int32 (and exactly a
 * float). Both kernel sets. */
TEST(run_act16_long_row_exceeds_int32)
{
    uint64_t const cols = 1u << 17;
    uint8_t *codes = malloc(cols / 4);
    memset(codes, 0xaa, cols / 4);   /* every 2-bit code 2 */
    float const one = 1.0f;
    run_tensor w;
    memset(&w, 0, sizeof w);
    w.type = TRIT_TYPE_T2;
    w.n_dims = 2;
    w.dims[0] = 1;
    w.dims[1] = cols;
    w.rows = 1;
    w.cols = cols;
    w.data = codes;
    w.scales = &one;
    w.scale_layout = TRIT_SCALE_TENSOR;
    w.n_scales = 1;
    trit_act_entry const e = {0, TRIT_ACT_TENSOR, 0, 1, 16, &one};
    run_qbuf qb;
    memset(&qb, 0, sizeof qb);
    qb.cols = qb.padded = qb.cap_padded = cols;
    qb.n_tok = 1;
    qb.act = &e;
    qb.q16 = malloc(cols * sizeof *qb.q16);
    qb.csum = malloc(cols / 32 * sizeof *qb.csum);
    for (uint64_t i = 0; i < cols; i++) qb.q16[i] = 32767;
    for (uint64_t c = 0; c < cols / 32; c++) qb.csum[c] = 32 * 32767;
    const run_kern *sets[2] = {run_kern_ref(), run_kern_best()};
    for (int s = 0; s < 2; s++) {
        run_ctx *c = calloc(1, sizeof *c);
        c->kern = sets[s];
        c->max_cols = cols;
        c->chunk_scratch = malloc((cols / 32 + 4) * sizeof *c->chunk_scratch);
        float y = 0;
        run__act_linear(c, &w, &qb, 1, &y, 1);
        if (y != 4294836224.0f)
            test_fail_(__FILE__, __LINE__, "%s: %.1f, expected 4294836224", run_kern16_for(c->kern)->name, (double)y);
        free(c->chunk_scratch);
        free(c);
    }
    free(qb.q16);
    free(qb.csum);
    free(codes);
}
