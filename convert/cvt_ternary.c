/* cvt_ternary.c - the one-pass exact-ternary scan (see cvt_ternary.h). */
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

void cvt_tscan_feed(cvt_tscan *s, const float *x, uint64_t n)
{
    for (uint64_t k = 0; k < n; k++, s->pos++) {
        float const v = x[k];
        uint64_t const col = s->pos % s->cols;
        if (!isfinite(v)) {
            s->n_nonfinite++;
            for (int i = 0; i < s->n_scopes; i++) s->sc[i].ok = 0;
            continue;
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
