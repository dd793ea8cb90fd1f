/*
 * cvt_absmean.c - absmean ternarization's encoder, a run of rows at a time, so that one tensor's
 * rows are encoded as pieces on every thread (cvt_pipe.c) and the bytes do not depend on how.
 *
 * The definition (BitNet b1.58, "The Era of 1-bit LLMs" eq. 1-3; the code this converter always
 * wrote): q = clamp(roundf(x / gamma), -1, 1) with gamma the tensor's mean |x| + 1e-8, computed
 * by the scan (pass 1). A division and a roundf per value cost most of a conversion; both go:
 * q != 0 exactly when fl(|x| / gamma) >= 0.5 (roundf rounds halves away from zero, and the
 * clamp makes every larger quotient +-1). A correctly rounded quotient is monotone in |x|, so
 * that set is |x| >= T for the one float T found below, and q = (x >= T) - (x <= -T): two
 * compares per value, the same codes to the bit (tested: cvt_absmean_threshold_is_roundf).
 *
 * The error the report states (max and rms of |x - q gamma|) is summed in float lanes per row
 * and in double across rows and pieces; it is a report, not container bytes.
 */
#include <math.h>
#include <string.h>

#include "cvt_conv_int.h"
#include "trit_safemath.h"

/* fl(a / g) >= 0.5, the quotient rounded to float (volatile: no wider intermediate) */
static int half_or_more(float a, float g)
{
    volatile float const q = a / g;
    return q >= 0.5f;
}

float cvt__absmean_threshold(float gamma)
{
    float t = 0.5f * gamma;
    if (half_or_more(t, gamma)) {
        for (float d = nextafterf(t, 0.0f); d > 0.0f && half_or_more(d, gamma); d = nextafterf(d, 0.0f)) t = d;
    } else {
        while (t < INFINITY && !half_or_more(t, gamma)) t = nextafterf(t, INFINITY);
    }
    return t;
}

/* Four lanes in the vector extension gcc and clang share: SSE2 on x86-64, NEON on ARMv8 (both
 * baseline), plain scalar code elsewhere. Compares give 0 / -1 per lane. */
typedef float vf __attribute__((vector_size(16)));
typedef int32_t vi __attribute__((vector_size(16)));
typedef uint8_t vb __attribute__((vector_size(4)));

/* Lane state of one row: per-lane sums and maxima (flushed to double once per row). Lane j of
 * group m holds t2 byte column 4m + j. */
typedef struct lanes {
    vf sq[8], mx[8];
    vi pos[8], neg[8];
} lanes;

static vf vload(const float *x)
{
    vf v;
    memcpy(&v, x, sizeof v);
    return v;
}

/* One full 128-value block: t2 byte m holds values m, m+32, m+64, m+96 (format/types.c), the
 * code c + 1 of each in two bits. Branch-free, four byte columns per vector step. */
static void block_full(const float *x, float t, float g, uint8_t *q, lanes *l)
{
    vf const tv = {t, t, t, t}, gv = {g, g, g, g};
    vi const absmask = {0x7fffffff, 0x7fffffff, 0x7fffffff, 0x7fffffff};
    for (unsigned m = 0; m < 8; m++) {
        vi byte = {0, 0, 0, 0};
        vf sq = l->sq[m], mx = l->mx[m];
        vi pos = l->pos[m], neg = l->neg[m];
        for (unsigned k = 0; k < 4; k++) {
            vf const v = vload(x + 4 * m + 32 * k);
            vi const p = v >= tv, n = v <= -tv;                 /* -1 where the code is +1 / -1 */
            vf const a = (vf)((vi)v & absmask);
            vf const d = a - (vf)((vi)gv & (p | n));             /* |x - q gamma| */
            byte |= (1 - p + n) << (int)(2 * k);
            pos -= p;
            neg -= n;
            sq += d * d;
            vf const ad = (vf)((vi)d & absmask);
            vi const up = ad > mx;
            mx = (vf)(((vi)ad & up) | ((vi)mx & ~up));
        }
        l->sq[m] = sq;
        l->mx[m] = mx;
        l->pos[m] = pos;
        l->neg[m] = neg;
        vb const b = __builtin_convertvector(byte, vb);
        memcpy(q + 4 * m, &b, sizeof b);
    }
}

/* The last block of a row of cols values, have = cols % 128 of them present (the rest: code 0). */
static void block_part(const float *x, uint64_t have, float t, float g, uint8_t *q, lanes *l)
{
    for (unsigned m = 0; m < 32; m++) {
        unsigned byte = 0;
        for (unsigned k = 0; k < 4; k++) {
            uint64_t const e = m + 32u * k;
            unsigned code = 1;
            if (e < have) {
                float const v = x[e], a = fabsf(v);
                int const p = v >= t, n = v <= -t;
                float const d = p || n ? a - g : a;
                code = (unsigned)(1 + p - n);
                l->pos[m / 4][m % 4] += p;
                l->neg[m / 4][m % 4] += n;
                l->sq[m / 4][m % 4] += d * d;
                if (fabsf(d) > l->mx[m / 4][m % 4]) l->mx[m / 4][m % 4] = fabsf(d);
            }
            byte |= code << (2 * k);
        }
        q[m] = (uint8_t)byte;
    }
}

int cvt__absmean_rows(cvt_conv *c, cvt_emit *e, const cvt_plan_t *p, uint64_t r0, uint64_t nrows, trit_err *err)
{
    uint64_t const nblk = trit_div_ceil(p->cols, TRIT_T2_BLOCK_ELEMS), row_bytes = nblk * TRIT_T2_BLOCK_BYTES;
    uint64_t const full = p->cols / TRIT_T2_BLOCK_ELEMS, cr = cvt__chunk_rows(p);
    float const g = p->tensor_scale, t = cvt__absmean_threshold(g);
    uint8_t stage[4096];   /* rows go out in runs of this much when the sink has no storage of its own */
    int rc = TRIT_OK;
    for (uint64_t r = r0; r < r0 + nrows && rc == TRIT_OK; r += cr) {
        uint64_t const nr = r0 + nrows - r < cr ? r0 + nrows - r : cr;
        rc = cvt__read_rows(c, p, r, nr, e->buf, err);
        for (uint64_t rr = 0; rc == TRIT_OK && rr < nr; rr++) {
            const float *x = e->buf + rr * p->cols;
            uint8_t *dst = e->claim ? e->claim(e->sink_ctx, row_bytes, err) : row_bytes <= sizeof stage ? stage : NULL;
            if (!dst && e->claim) return TRIT_E_NOMEM;
            lanes l;
            memset(&l, 0, sizeof l);
            if (!dst) {   /* a row wider than the stage, into a sink without storage: a block at a time */
                uint8_t blk[TRIT_T2_BLOCK_BYTES];
                for (uint64_t b = 0; b < nblk && rc == TRIT_OK; b++) {
                    if (b < full) block_full(x + b * TRIT_T2_BLOCK_ELEMS, t, g, blk, &l);
                    else block_part(x + b * TRIT_T2_BLOCK_ELEMS, p->cols - b * TRIT_T2_BLOCK_ELEMS, t, g, blk, &l);
                    rc = e->sink(e->sink_ctx, blk, sizeof blk, err);
                }
            } else {
                for (uint64_t b = 0; b < full; b++)
                    block_full(x + b * TRIT_T2_BLOCK_ELEMS, t, g, dst + b * TRIT_T2_BLOCK_BYTES, &l);
                if (full < nblk)
                    block_part(x + full * TRIT_T2_BLOCK_ELEMS, p->cols - full * TRIT_T2_BLOCK_ELEMS, t, g,
                               dst + full * TRIT_T2_BLOCK_BYTES, &l);
                if (!e->claim) rc = e->sink(e->sink_ctx, dst, row_bytes, err);
            }
            double sq = 0;
            uint64_t pos = 0, neg = 0;
            for (unsigned m = 0; m < 32; m++) {
                sq += l.sq[m / 4][m % 4];
                pos += (uint32_t)l.pos[m / 4][m % 4];
                neg += (uint32_t)l.neg[m / 4][m % 4];
                if (l.mx[m / 4][m % 4] > e->err_max) e->err_max = l.mx[m / 4][m % 4];
            }
            e->err_sq += sq;
            if (p->role == CVT_ROLE_EXPERT) {
                e->code_hist[0] += neg;
                e->code_hist[2] += pos;
                e->code_hist[1] += p->cols - pos - neg;
            }
        }
    }
    return rc;
}
