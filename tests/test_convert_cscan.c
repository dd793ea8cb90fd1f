/* test_convert_cscan.c - the code-domain scan fed in pieces (cvt_cscan: a file's one read feeds
 * it chunk by chunk, cvt_walk.c) decides what the whole tensor fed at once decides, at every
 * piece size: per-tensor, per-row and per-group magnitudes, negative and zero factors, all-zero
 * blocks, a non-finite factor and a code 3 met in one piece. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cvt_conv_int.h"
#include "test.h"

#define ROWS 12
#define COLS 1024
#define NB (COLS / 256)   /* TQ blocks per row */

typedef struct decided {
    int ok, ternary;
    uint32_t layout, group;
    float tensor_scale;
} decided;

/* Feed rows of t2 (COLS / 4 bytes each) and factors f (NB per row) in pieces of `piece` rows;
 * bad_row: the row whose piece reports a code 3 (-1: none). */
static decided run(const cvt_plan_t *base, const uint8_t *t2, const float *f, uint64_t piece, int bad_row)
{
    cvt_plan_t p = *base;
    cvt_cscan s;
    cvt__cscan_init(&s, &p);
    uint64_t const nbr = p.codes.block ? COLS / p.codes.block : 0;
    for (uint64_t r = 0; r < ROWS; r += piece) {
        uint64_t const n = ROWS - r < piece ? ROWS - r : piece;
        uint64_t const bad = bad_row >= 0 && (uint64_t)bad_row >= r && (uint64_t)bad_row < r + n;
        cvt__cscan_feed(&s, &p, t2 + r * (COLS / 4), p.codes.block ? f + r * nbr : NULL, n, bad);
    }
    decided d;
    memset(&d, 0, sizeof d);
    d.ok = cvt__cscan_result(&p, &s);
    d.ternary = p.ternary;
    d.layout = p.layout;
    d.group = p.group;
    d.tensor_scale = p.tensor_scale;
    return d;
}

static int same(const decided *a, const decided *b)
{
    return a->ok == b->ok && a->ternary == b->ternary && (!a->ok || (a->layout == b->layout && a->group == b->group &&
                                                                       a->tensor_scale == b->tensor_scale));
}

TEST(cvt_cscan_pieces_equal_whole)
{
    static uint8_t t2[ROWS * COLS / 4];
    static float f[ROWS * NB];
    cvt_plan_t p;
    memset(&p, 0, sizeof p);
    snprintf(p.name, sizeof p.name, "blk.0.attn_q.weight");
    p.rows = ROWS;
    p.cols = COLS;
    p.mult = 1.0f;
    /* case: what it changes; the whole feed's expected answer (ok, layout, group) */
    static const struct { int mode; int ok; uint32_t layout, group; } v[] = {
        {0, 1, TRIT_SCALE_TENSOR, 0},   /* one magnitude, some factors negative */
        {1, 1, TRIT_SCALE_ROW, 0},      /* a magnitude per row: a state reset per piece says tensor */
        {2, 1, TRIT_SCALE_GROUP, 512},  /* per half row */
        {3, 1, TRIT_SCALE_GROUP, 256},  /* per block */
        {4, 1, TRIT_SCALE_TENSOR, 0},   /* zero factors and all-zero blocks of another magnitude */
        {5, 0, 0, 0},                   /* a NaN factor in the last row */
        {6, 0, 0, 0},                   /* a code 3 in row 7 */
        {7, 0, 0, 0},                   /* every code zero */
        {8, 1, TRIT_SCALE_TENSOR, 0},   /* I2_S: one factor for the tensor */
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        int const mode = v[i].mode;
        p.codes.kind = mode == 8 ? SRC_CODES_I2_S : SRC_CODES_TQ2_0;
        p.codes.block = mode == 8 ? 0 : 256;
        p.codes.align = mode == 8 ? 128 : 256;
        p.codes.factor = mode == 8 ? -0.125f : 0.0f;
        for (uint64_t k = 0; k < sizeof t2; k++) t2[k] = mode == 7 ? 0x55u : (uint8_t)(0x55u ^ (k * 37u % 5u == 0 ? 1u : 0u));
        for (uint64_t r = 0; r < ROWS; r++)
            for (uint64_t b = 0; b < NB; b++) {
                float m = 0.5f;
                if (mode == 1) m = 0.5f + 0.25f * (float)(r % 3);
                if (mode == 2) m = b < NB / 2 ? 0.5f : 0.75f;
                if (mode == 3) m = 0.5f + 0.125f * (float)b;
                f[r * NB + b] = (b + r) % 2 ? -m : m;
                if (mode == 4 && b == 1) f[r * NB + b] = r % 2 ? 0.0f : -0.0f;
                if (mode == 4 && b == 2 && r % 4 == 0) {
                    f[r * NB + b] = 3.0f;
                    memset(t2 + r * (COLS / 4) + b * 64, 0x55, 64);
                }
                if (mode == 5 && r == ROWS - 1 && b == NB - 1) f[r * NB + b] = NAN;
            }
        decided const whole = run(&p, t2, f, ROWS, mode == 6 ? 7 : -1);
        if (whole.ok != v[i].ok || (whole.ok && (whole.layout != v[i].layout || whole.group != v[i].group)))
            test_fail_(__FILE__, __LINE__, "case %d: whole feed gives ok %d layout %u group %u", mode, whole.ok,
                       whole.layout, whole.group);
        if (whole.ok && whole.layout == TRIT_SCALE_TENSOR) CHECK(whole.tensor_scale == (mode == 8 ? 0.125f : 0.5f));
        for (uint64_t piece = 1; piece < ROWS; piece++) {
            decided const d = run(&p, t2, f, piece, mode == 6 ? 7 : -1);
            if (!same(&whole, &d)) test_fail_(__FILE__, __LINE__, "case %d: pieces of %llu rows decide otherwise", mode,
                                              (unsigned long long)piece);
        }
    }
}
