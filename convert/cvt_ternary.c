/* cvt_ternary.c - the one-pass exact-ternary scan (see cvt_ternary.h). */
#include <float.h>
#include <math.h>
#include <string.h>

#include "cvt_ternary.h"
#include "trit.h"

void cvt_tscan_init(cvt_tscan *s, uint64_t cols)
{
    memset(s, 0, sizeof *s);
    s->cols = cols ? cols : 1;
    s->min = INFINITY;
    s->max = -INFINITY;
    s->sc[s->n_scopes++] = (cvt_tscan_scope){0, 1, 0};
    s->sc[s->n_scopes++] = (cvt_tscan_scope){UINT64_MAX, 1, 0};
    for (uint64_t g = 16; g < s->cols && s->n_scopes < CVT_TSCAN_MAX_SCOPES; g *= 2)
        s->sc[s->n_scopes++] = (cvt_tscan_scope){g, 1, 0};
}

/* One value, every scope: the definition. col is the value's column. */
static void feed_one(cvt_tscan *s, float v, uint64_t col)
{
    if (!isfinite(v)) {
        s->n_nonfinite++;
        for (int i = 0; i < s->n_scopes; i++) s->sc[i].ok = 0;
        return;
    }
    if (v < s->min) s->min = v;
    if (v > s->max) s->max = v;
    float const a = fabsf(v);
    s->sum_abs += a;
    if (v == 0.0f) s->n_zero++;
    else if (v < 0) s->n_neg++;
    else s->n_pos++;
    for (int i = 0; i < s->n_scopes; i++) {
        cvt_tscan_scope *c = &s->sc[i];
        if (!c->ok) continue;
        if ((c->group == UINT64_MAX && col == 0) || (c->group && c->group != UINT64_MAX && col % c->group == 0))
            c->mag = 0; /* a new row or group starts */
        if (a == 0.0f) continue;
        if (c->mag == 0.0f) c->mag = a;
        else if (c->mag != a) c->ok = 0;
    }
}

/* 16 finite values starting at column col (a multiple of 16), in one step: their statistics,
 * then the scopes as feed_one would leave them. Every group scope is 16 wide or a multiple of it
 * and starts at a multiple of 16, so inside these values no scope starts anew, and one
 * magnitude (or a clash) stands for all of them. The |v| sum stays sequential in double: the
 * absmean gamma of a ternarized tensor is that exact sum. Returns 0 (nothing done) when a value
 * is not finite. */
static int feed16(cvt_tscan *s, const float *x, uint64_t col)
{
    /* branch-free over the 16, four lanes at a time in the vector extension gcc and clang share
     * (SSE2 / NEON): ternary signs are random, so a branch per value mispredicts. All non-zero
     * |v| agree exactly when the largest equals the smallest non-zero one. Compares give 0 / -1. */
    typedef float vf __attribute__((vector_size(16)));
    typedef int32_t vi __attribute__((vector_size(16)));
    vi const absmask = {0x7fffffff, 0x7fffffff, 0x7fffffff, 0x7fffffff};
    vf const inf = {INFINITY, INFINITY, INFINITY, INFINITY}, zero = {0, 0, 0, 0};
    vf vmn, vmx, amx = zero, anzv = inf;
    vi bad = {0, 0, 0, 0}, nzv = bad, nnv = bad;
    memcpy(&vmn, x, sizeof vmn);
    vmx = vmn;
    for (int k = 0; k < 16; k += 4) {
        vf v;
        memcpy(&v, x + k, sizeof v);
        vf const a = (vf)((vi)v & absmask);
        vi const z = a == zero;
        vf const an = (vf)(((vi)inf & z) | ((vi)a & ~z));
        bad |= ~(a <= (vf){FLT_MAX, FLT_MAX, FLT_MAX, FLT_MAX});
        vi const lo = v < vmn, hi = v > vmx, up = a > amx, dn = an < anzv;
        vmn = (vf)(((vi)v & lo) | ((vi)vmn & ~lo));
        vmx = (vf)(((vi)v & hi) | ((vi)vmx & ~hi));
        amx = (vf)(((vi)a & up) | ((vi)amx & ~up));
        anzv = (vf)(((vi)an & dn) | ((vi)anzv & ~dn));
        nzv -= z;
        nnv -= v < zero;
    }
    if (bad[0] | bad[1] | bad[2] | bad[3]) return 0;
    float mn = vmn[0], mx = vmx[0], amax = amx[0], anz = anzv[0];
    for (int j = 1; j < 4; j++) {
        mn = vmn[j] < mn ? vmn[j] : mn;
        mx = vmx[j] > mx ? vmx[j] : mx;
        amax = amx[j] > amax ? amx[j] : amax;
        anz = anzv[j] < anz ? anzv[j] : anz;
    }
    /* a zero extreme: which zero (+0 or -0) the one-value definition keeps is the first in order */
    if (mn == 0.0f || mx == 0.0f) {
        mn = mx = x[0];
        for (int k = 1; k < 16; k++) {
            mn = x[k] < mn ? x[k] : mn;
            mx = x[k] > mx ? x[k] : mx;
        }
    }
    uint64_t const nz = (uint64_t)(nzv[0] + nzv[1] + nzv[2] + nzv[3]), nn = (uint64_t)(nnv[0] + nnv[1] + nnv[2] + nnv[3]);
    int const clash = amax != 0.0f && anz != amax;
    float m = amax;
    if (clash)   /* the first non-zero |v| is the one a scope's magnitude takes */
        for (int k = 0; k < 16; k++)
            if (x[k] != 0.0f) {
                m = fabsf(x[k]);
                break;
            }
    double sum = s->sum_abs;
    for (int k = 0; k < 16; k++) sum += fabsf(x[k]);
    s->sum_abs = sum;
    if (mn < s->min) s->min = mn;
    if (mx > s->max) s->max = mx;
    s->n_zero += nz;
    s->n_neg += nn;
    s->n_pos += 16 - nz - nn;
    for (int i = 0; i < s->n_scopes; i++) {
        cvt_tscan_scope *c = &s->sc[i];
        if (!c->ok) continue;
        /* group widths are powers of two: a mask, not a division */
        if ((c->group == UINT64_MAX && col == 0) || (c->group && c->group != UINT64_MAX && (col & (c->group - 1)) == 0))
            c->mag = 0;
        if (m == 0.0f) continue;
        if (c->mag == 0.0f) c->mag = m;           /* the first non-zero value sets it, clash or not */
        else if (c->mag != m) c->ok = 0;
        if (clash) c->ok = 0;
    }
    return 1;
}

void cvt_tscan_feed(cvt_tscan *s, const float *x, uint64_t n)
{
    uint64_t col = s->pos % s->cols, k = 0;
    while (k < n) {
        if (col % 16 == 0 && n - k >= 16 && s->cols - col >= 16 && feed16(s, x + k, col)) {
            k += 16;
            col += 16;
        } else {
            feed_one(s, x[k], col);
            k++;
            col++;
        }
        if (col == s->cols) col = 0;
    }
    s->pos += n;
}

void cvt_tscan_result_get(const cvt_tscan *s, cvt_tscan_result *r)
{
    memset(r, 0, sizeof *r);
    r->mean_abs = s->pos ? s->sum_abs / (double)s->pos : 0;
    r->all_zero = s->pos > 0 && s->n_zero == s->pos;
    cvt_tscan_scope const *finest = s->n_scopes > 2 ? &s->sc[2] : &s->sc[1];
    r->ternary = !r->all_zero && s->pos >= 16 && !s->n_nonfinite && finest->ok;
    if (!r->ternary) return;
    if (s->sc[0].ok) {
        r->layout = TRIT_SCALE_TENSOR;
        r->tensor_mag = s->sc[0].mag;
    } else if (s->sc[1].ok) {
        r->layout = TRIT_SCALE_ROW;
    } else {
        r->layout = TRIT_SCALE_GROUP;
        for (int i = s->n_scopes - 1; i >= 2; i--)
            if (s->sc[i].ok) { /* holding is monotone: a larger group that holds implies smaller ones do */
                r->group = s->sc[i].group;
                break;
            }
    }
}
