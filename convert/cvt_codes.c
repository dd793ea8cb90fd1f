/*
 * cvt_codes.c - the code-domain path: TQ2_0, TQ1_0, I2_S and BitNet packed U8 projections go
 * to t2 by copying or shuffling their codes (src_codes_rows), the scale structure read from the
 * block factors, never through float.
 *
 * It must give the container the float path gives, byte for byte (test_convert_speed checks
 * both on every code-domain layout). The float path sees value = (code - 1) * factor * mult;
 * here a block's magnitude is |factor * mult| computed in the same float operations, a block
 * holds a non-zero value when one of its codes is not 1 and that product is not zero, and a
 * negative product mirrors the codes (0 <-> 2). Anything the float path would treat otherwise
 * (a code 3, a non-finite product, an all-zero tensor, a layout finer than a block) makes
 * cvt__codes_scan answer "not here", and the tensor takes the float path.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cvt_conv_int.h"
#include "cvt_ternary.h"
#include "trit_safemath.h"

#define ROWS_VALUES (1u << 20)   /* values per src_codes_rows call (256 KiB of t2, 16 KiB of factors) */

/* Elements per factor as the scan sees them: a block, or a whole row for one-factor tensors. */
static uint64_t blk_elems(const cvt_plan_t *p) { return p->codes.block ? p->codes.block : p->cols; }
/* t2 bytes of a row, and of a factor's block (a one-factor tensor's block is the padded row) */
static uint64_t row_bytes(const cvt_plan_t *p) { return trit_div_ceil(p->cols, TRIT_T2_BLOCK_ELEMS) * TRIT_T2_BLOCK_BYTES; }
static uint64_t blk_bytes(const cvt_plan_t *p) { return p->codes.block ? p->codes.block / 4 : row_bytes(p); }

static float block_mag(const cvt_plan_t *p, float f)
{
    return p->mult != 1.0f ? f * p->mult : f;   /* read_rows multiplies only when mult != 1 */
}

/* Source rows of output rows [r0, r0+nr) into t2 (and factors into f): one call, or one per row
 * when GGUF's rope rows are un-permuted. */
static int rows_codes(cvt_conv *c, const cvt_plan_t *p, uint64_t r0, uint64_t nr, uint8_t *t2, float *f,
                      uint64_t *bad, trit_err *err)
{
    uint64_t const rb = row_bytes(p), fr = p->codes.block ? p->cols / p->codes.block : 0;
    if (!p->permute_heads)
        return src_codes_rows(c->src, p->src, &p->codes, p->cols, p->src_row0 + r0, nr, t2, f, bad, err);
    for (uint64_t r = 0; r < nr; r++) {
        int const rc = src_codes_rows(c->src, p->src, &p->codes, p->cols, cvt__src_row(p, r0 + r), 1, t2 + r * rb,
                                      f ? f + r * fr : NULL, bad, err);
        if (rc) return rc;
    }
    return TRIT_OK;
}

static uint64_t chunk_rows(const cvt_plan_t *p)
{
    uint64_t const r = ROWS_VALUES / (p->cols ? p->cols : 1);
    return r ? r : 1;
}

/* 1 when a code of the t2 bytes q is not 1 (zero): eight bytes a step */
static int any_nonzero(const uint8_t *q, uint64_t n)
{
    uint64_t acc = 0, k = 0;
    for (; k + 8 <= n; k += 8) {
        uint64_t x;
        memcpy(&x, q + k, 8);
        acc |= x ^ 0x5555555555555555ull;
    }
    for (; k < n; k++) acc |= (uint8_t)(q[k] ^ 0x55u);
    return acc != 0;
}

void cvt__t2_hist(const uint8_t *q, uint64_t nbytes, uint64_t n_codes, uint64_t hist[3])
{
    /* per 64-bit word: a pair is code 0 when both bits are clear, code 2 when only the high one is set */
    uint64_t const lo = 0x5555555555555555ull;
    uint64_t n0 = 0, n2 = 0, k = 0;
    for (; k + 8 <= nbytes; k += 8) {
        uint64_t x;
        memcpy(&x, q + k, 8);
        n0 += (uint64_t)__builtin_popcountll(~x & ~(x >> 1) & lo);
        n2 += (uint64_t)__builtin_popcountll((x >> 1) & ~x & lo);
    }
    for (; k < nbytes; k++)
        for (unsigned s = 0; s < 8; s += 2) {
            unsigned const cd = (q[k] >> s) & 3u;
            n0 += cd == 0;
            n2 += cd == 2;
        }
    hist[0] += n0;
    hist[2] += n2;
    hist[1] += n_codes - n0 - n2;
}

void cvt__cscan_init(cvt_cscan *s, const cvt_plan_t *p)
{
    memset(s, 0, sizeof *s);
    uint64_t const B = blk_elems(p);
    /* group scopes wider than a block (narrower ones hold inside every block) */
    for (uint64_t g = 16; g < p->cols && s->ng < CVT_TSCAN_MAX_SCOPES - 2; g *= 2) {
        if (!s->finest_group) s->finest_group = (int)g;
        if (g > B) {
            s->G[s->ng] = g;
            s->gok[s->ng] = 1;
            s->ng++;
        }
    }
    s->tens_ok = s->row_ok = s->all_zero = 1;
}

void cvt__cscan_feed(cvt_cscan *s, const cvt_plan_t *p, const uint8_t *t2, const float *f, uint64_t nr, uint64_t bad)
{
    uint64_t const B = blk_elems(p), nbr = p->cols / B, rb = row_bytes(p), bb = blk_bytes(p);
    if (bad) s->bail = 1;
    for (uint64_t rr = 0; rr < nr && !s->bail; rr++) {
        float rmag = 0;
        for (uint64_t b = 0; b < nbr; b++) {
            float const mv = block_mag(p, p->codes.block ? f[rr * nbr + b] : p->codes.factor);
            if (!isfinite(mv)) {
                s->bail = 1;
                break;
            }
            for (int k = 0; k < s->ng; k++)
                if ((b * B) % s->G[k] == 0) s->gmag[k] = 0;   /* a group starts */
            if (mv == 0.0f || !any_nonzero(t2 + rr * rb + b * bb, bb)) continue;
            float const m = fabsf(mv);
            s->all_zero = 0;
            if (s->tmag == 0) s->tmag = m;
            else if (s->tmag != m) s->tens_ok = 0;
            if (rmag == 0) rmag = m;
            else if (rmag != m) s->row_ok = 0;
            for (int k = 0; k < s->ng; k++) {
                if (!s->gok[k]) continue;
                if (s->gmag[k] == 0) s->gmag[k] = m;
                else if (s->gmag[k] != m) s->gok[k] = 0;
            }
        }
    }
}

int cvt__cscan_result(cvt_plan_t *p, const cvt_cscan *s)
{
    uint64_t const B = blk_elems(p);
    if (s->bail || s->all_zero || p->rows * p->cols < 16) return 0;
    p->ternary = 1;
    p->tensor_scale = 0;
    if (s->tens_ok) {
        p->layout = TRIT_SCALE_TENSOR;
        p->tensor_scale = s->tmag;
    } else if (s->row_ok) {
        p->layout = TRIT_SCALE_ROW;
    } else {
        uint64_t g = 0;
        for (int k = s->ng - 1; k >= 0 && !g; k--)
            if (s->gok[k]) g = s->G[k];
        if (!g) g = B < p->cols ? B : 0;   /* the widest group inside a block */
        while (g && g >= p->cols) g /= 2;
        if (!g || g < (uint64_t)s->finest_group || g < B) {   /* finer than a block: the float path decides */
            p->ternary = 0;
            return 0;
        }
        p->layout = TRIT_SCALE_GROUP;
        p->group = (uint32_t)g;
    }
    return 1;
}

int cvt__codes_scan(cvt_conv *c, cvt_plan_t *p, int *ok, trit_err *err)
{
    *ok = 0;
    uint64_t const nbr = p->cols / blk_elems(p), rb = row_bytes(p), cr = chunk_rows(p);
    uint8_t *t2 = malloc((size_t)(cr * rb));
    float *f = p->codes.block ? malloc((size_t)(cr * nbr) * sizeof *f) : NULL;
    if (!t2 || (p->codes.block && !f)) {
        free(t2);
        free(f);
        return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, p->name, "out of memory");
    }
    cvt_cscan s;
    cvt__cscan_init(&s, p);
    int rc = TRIT_OK;
    for (uint64_t r = 0; r < p->rows && rc == TRIT_OK && !s.bail; r += cr) {
        uint64_t const nr = p->rows - r < cr ? p->rows - r : cr;
        uint64_t bad = 0;
        rc = rows_codes(c, p, r, nr, t2, f, &bad, err);
        if (rc == TRIT_OK) cvt__cscan_feed(&s, p, t2, f, nr, bad);
    }
    free(t2);
    free(f);
    if (rc == TRIT_OK) *ok = cvt__cscan_result(p, &s);
    return rc;
}

int cvt__codes_rows(cvt_conv *c, cvt_emit *e, const cvt_plan_t *p, uint64_t r0, uint64_t nr, float *scales,
                    trit_err *err)
{
    uint64_t const B = blk_elems(p), nbr = p->cols / B, rb = row_bytes(p), bb = blk_bytes(p), cr = chunk_rows(p);
    uint64_t const gpr = p->layout == TRIT_SCALE_GROUP ? trit_div_ceil(p->cols, p->group) : 1;
    /* codes go straight into the sink's storage when it has some */
    uint8_t *const own = e->claim ? NULL : malloc((size_t)((cr < nr ? cr : nr) * rb));
    float *f = p->codes.block ? malloc((size_t)((cr < nr ? cr : nr) * nbr) * sizeof *f) : NULL;
    if ((!e->claim && !own) || (p->codes.block && !f)) {
        free(own);
        free(f);
        return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, p->name, "out of memory");
    }
    int rc = TRIT_OK;
    uint64_t bad = 0;
    for (uint64_t r = r0; r < r0 + nr && rc == TRIT_OK; r += cr) {
        uint64_t const n = r0 + nr - r < cr ? r0 + nr - r : cr;
        uint8_t *const t2 = own ? own : e->claim(e->sink_ctx, n * rb, err);
        if (!t2) {
            rc = TRIT_E_NOMEM;
            break;
        }
        rc = rows_codes(c, p, r, n, t2, f, &bad, err);
        if (rc == TRIT_OK && bad)   /* the scan saw none: the file changed under us */
            rc = trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, p->name, "invalid ternary code 3 (the source changed?)");
        for (uint64_t rr = 0; rc == TRIT_OK && rr < n; rr++) {
            uint64_t const row = r + rr;
            for (uint64_t b = 0; b < nbr; b++) {
                uint8_t *q = t2 + rr * rb + b * bb;
                float const mv = block_mag(p, p->codes.block ? f[rr * nbr + b] : p->codes.factor);
                if (mv == 0.0f) {
                    memset(q, 0x55, (size_t)bb);   /* every value is +-0: code 1 */
                    continue;
                }
                if (mv < 0)   /* (code - 1) * negative: the sign flips, 0 <-> 2 */
                    for (uint64_t k = 0; k < bb; k++) q[k] = (uint8_t)(q[k] ^ ((~q[k] & 0x55u) << 1));
                if (p->layout == TRIT_SCALE_TENSOR || !any_nonzero(q, bb)) continue;
                uint64_t const si = p->layout == TRIT_SCALE_ROW ? row : row * gpr + b * B / p->group;
                scales[si] = fabsf(mv);
            }
            if (p->role == CVT_ROLE_EXPERT) cvt__t2_hist(t2 + rr * rb, rb, p->cols, e->code_hist);
        }
        if (rc == TRIT_OK && own) rc = e->sink(e->sink_ctx, t2, n * rb, err);
    }
    free(own);
    free(f);
    return rc;
}
