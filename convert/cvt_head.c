/* cvt_head.c - `trit convert --output-head q8`: an int8 copy of the output projection with one
 * f32 scale per row (spec 6.2), written as output.weight. When the model ties the projection
 * to token_embd.weight, the copy is added and token_embd stays as it was (the input lookup
 * reads one row per token; the projection reads all of them, which is why it is worth halving).
 * Lossy, off by default; the report carries each tensor's error against the source. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cvt_conv_int.h"
#include "trit_safemath.h"

/* int8 x int8 sums of a row stay in int32 (the runner's bound, 128 * 127 * cols < 2^31). */
#define CVT_Q8_MAX_COLS (1u << 17)

int cvt__head_plan(cvt_conv *c, trit_err *err)
{
    if (!c->o->output_head_q8) return TRIT_OK;
    uint32_t out = UINT32_MAX, emb = UINT32_MAX;
    for (uint32_t i = 0; i < c->n; i++) {
        if (!strcmp(c->p[i].name, "output.weight")) out = i;
        if (!strcmp(c->p[i].name, "token_embd.weight")) emb = i;
    }
    if (out == UINT32_MAX) {
        if (emb == UINT32_MAX)
            return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, "output.weight",
                                "--output-head q8: the model has neither an output projection nor token embeddings");
        cvt_plan_t x = c->p[emb];
        snprintf(x.name, sizeof x.name, "output.weight");
        int const rc = cvt__add_plan(c, &x, err);
        if (rc) return rc;
        out = c->n - 1;
    }
    cvt_plan_t *p = &c->p[out];
    if (p->role != CVT_ROLE_FLOAT || p->n_dims != 2)
        return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, p->name,
                            "--output-head q8: the output projection is not a float matrix here");
    if (p->cols > CVT_Q8_MAX_COLS)
        return trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, p->name, "--output-head q8: rows of %llu values, limit %u",
                            (unsigned long long)p->cols, CVT_Q8_MAX_COLS);
    p->q8 = 1;
    return TRIT_OK;
}

/* Codes row by row (s = max|w| / 127, q = nearbyint(w / s)), then the zero gap and the scales. */
int cvt__write_q8(cvt_conv *c, cvt_emit *e, cvt_plan_t *p, const trit_tensor_info *ti, trit_err *err)
{
    uint64_t const cr = cvt__chunk_rows(p);
    float *scales = trit_mallocarray((size_t)(p->rows ? p->rows : 1), sizeof *scales);
    int8_t *q = malloc((size_t)(cr * p->cols) + 1);
    if (!scales || !q) {
        free(scales);
        free(q);
        return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, p->name, "out of memory");
    }
    double sq = 0, maxe = 0;
    int rc = TRIT_OK;
    for (uint64_t r0 = 0; r0 < p->rows && rc == TRIT_OK; r0 += cr) {
        uint64_t const nr = p->rows - r0 < cr ? p->rows - r0 : cr;
        rc = cvt__read_rows(c, p, r0, nr, e->buf, err);
        for (uint64_t r = 0; r < nr && rc == TRIT_OK; r++) {
            const float *w = e->buf + r * p->cols;
            float amax = 0;
            for (uint64_t i = 0; i < p->cols && rc == TRIT_OK; i++) {
                if (!isfinite(w[i]))
                    rc = trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, p->name, "row %llu: NaN or infinite value",
                                      (unsigned long long)(r0 + r));
                if (fabsf(w[i]) > amax) amax = fabsf(w[i]);
            }
            if (rc != TRIT_OK) break;
            float const s = amax / 127.0f;
            scales[r0 + r] = s;
            for (uint64_t i = 0; i < p->cols; i++) {
                float v = s > 0 ? nearbyintf(w[i] / s) : 0.0f;
                if (v > 127.0f) v = 127.0f;
                if (v < -127.0f) v = -127.0f;
                q[r * p->cols + i] = (int8_t)v;
                double const d = fabs((double)v * s - (double)w[i]);
                sq += d * d;
                if (d > maxe) maxe = d;
            }
        }
        if (rc == TRIT_OK) rc = e->sink(e->sink_ctx, q, nr * p->cols, err);
    }
    static const uint8_t zeros[16];
    if (rc == TRIT_OK) rc = e->sink(e->sink_ctx, zeros, ti->scales_off - p->rows * p->cols, err);
    if (rc == TRIT_OK) rc = e->sink(e->sink_ctx, scales, p->rows * 4, err);
    uint64_t const n = p->rows * p->cols;
    p->max_err = maxe;
    p->rms_err = n ? sqrt(sq / (double)n) : 0;
    free(scales);
    free(q);
    return rc;
}
