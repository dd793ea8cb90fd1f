/*
 * run_b3.c - matrix x activations for b3 weights (spec 6.4), the base-3 expert-unit form: the
 * kernels read the unit's bytes as they are (run_kern_b3.h), no decode step.
 *
 * The products are the t2 ones (run_ops.c) with the same integer sums and the same float steps:
 *   per tensor / per row:  y = (float)(sum_i (digit_i - 1) q_i) * scale * d
 *   per group (size G):    y = (sum over groups g, in order, of (float)(sum_{i in g} (digit_i - 1) q_i) * scale_g) * d
 * so a b3 model gives the t2 model's logits bit for bit (tests/test_run_b3.c). The kernels serve
 * the default activation mode (dynamic, per-token absmax); under the others (static, block,
 * float: calibration and evaluation) a b3 matrix is re-packed into t2 in a scratch buffer sized at
 * load (run__b3_check) and goes through the t2 paths: same values, slower.
 */
#include <stdlib.h>

#include "run_int.h"
#include "run_kern_b3.h"
#include "trit_safemath.h"

typedef struct b3_job {
    run_ctx *c;
    const run_tensor *w;
    const run_qbuf *qb;
    uint32_t n;
    float *y;
    uint64_t ldy;
} b3_job;

static int32_t digit_at(const uint8_t *row, uint64_t i)
{
    static const uint8_t pow3[5] = {1, 3, 9, 27, 81};
    uint8_t const b = row[(i / 160) * 32 + i % 32];
    return (int32_t)(((unsigned)(uint8_t)(b * pow3[(i % 160) / 32]) * 3u) >> 8);
}

/* Group sizes that are not a multiple of 32: element by element (as t2_groups_generic). */
static float groups_generic(const run_tensor *w, const uint8_t *row, const int8_t *q, const float *sc)
{
    uint64_t const G = w->group_size, cols = w->cols, ng = trit_div_ceil(cols, G);
    float y = 0;
    for (uint64_t g = 0; g < ng; g++) {
        uint64_t const end = (g + 1) * G < cols ? (g + 1) * G : cols;
        int32_t acc = 0;
        for (uint64_t i = g * G; i < end; i++) acc += (digit_at(row, i) - 1) * q[i];
        y += (float)acc * sc[g];
    }
    return y;
}

static float row_groups(const b3_job *j, uint64_t r, uint32_t t, int32_t *chunks)
{
    run_tensor const *w = j->w;
    run_qbuf const *qb = j->qb;
    uint64_t const np = trit_div_ceil(w->cols, 32), rb = trit_div_ceil(w->cols, 160) * 32;
    const uint8_t *row = (const uint8_t *)w->data + r * rb;
    const int8_t *q = qb->q + t * qb->padded;
    uint64_t const G = w->group_size, ng = trit_div_ceil(w->cols, G);
    const float *sc = w->scales + r * ng;
    if (G % 32) return groups_generic(w, row, q, sc) * qb->d[t];
    j->c->kern_b3->chunks(row, q, np, chunks);
    return run__group_sum(chunks, qb->csum + t * (qb->padded / 32), np, G / 32, ng, sc) * qb->d[t];
}

static void b3_task(void *arg, uint32_t i, uint32_t nw)
{
    b3_job const *j = arg;
    run_tensor const *w = j->w;
    run_qbuf const *qb = j->qb;
    run_b3_kern const *k = j->c->kern_b3;
    uint64_t lo, hi;
    run__split(w->rows, i, nw, &lo, &hi);
    uint64_t const np = trit_div_ceil(w->cols, 32), rb = trit_div_ceil(w->cols, 160) * 32;
    if (w->scale_layout == TRIT_SCALE_GROUP) {
        int32_t *chunks = j->c->chunk_scratch + (uint64_t)i * (j->c->max_cols / 32 + 4);
        for (uint64_t r = lo; r < hi; r++)
            for (uint32_t t = 0; t < j->n; t++) j->y[t * j->ldy + r] = row_groups(j, r, t, chunks);
        return;
    }
    int32_t acc[64];
    for (uint32_t t = 0; t < j->n; t++)
        for (uint64_t r0 = lo; r0 < hi; r0 += 64) {
            uint64_t const m = hi - r0 < 64 ? hi - r0 : 64;
            k->gemv((const uint8_t *)w->data + r0 * rb, m, rb, qb->q + t * qb->padded, np, acc);
            for (uint64_t x = 0; x < m; x++) {
                float const sc = w->scale_layout == TRIT_SCALE_ROW ? w->scales[r0 + x] : w->scales[0];
                j->y[t * j->ldy + r0 + x] = (float)(acc[x] - qb->sum[t]) * sc * qb->d[t];
            }
        }
}

/* w re-packed as t2 into c->b3_t2 (rows of ceil(cols / 128) * 32 bytes; scales borrowed). */
static void as_t2(run_ctx *c, const run_tensor *w, run_tensor *t2)
{
    uint64_t const rb3 = trit_div_ceil(w->cols, 160) * 32, rb2 = trit_div_ceil(w->cols, 128) * 32;
    *t2 = *w;
    t2->type = TRIT_TYPE_T2;
    t2->data = c->b3_t2;
    for (uint64_t r = 0; r < w->rows; r++) {
        trit_b3_unpack_row((const uint8_t *)w->data + r * rb3, w->cols, c->b3_vals);
        trit_t2_pack_row(c->b3_vals, w->cols, c->b3_t2 + r * rb2);
    }
}

void run__b3_linear(run_ctx *c, const run_tensor *w, const float *x, uint64_t ldx, const run_qbuf *qb, uint32_t n, float *y,
                    uint64_t ldy)
{
    if (qb && (qb->act || qb->blocked || qb->floated)) {
        run_tensor t2;
        as_t2(c, w, &t2);
        run__linear(c, &t2, x, ldx, qb, n, y, ldy);
        return;
    }
    b3_job j = {c, w, qb, n, y, ldy};
    if (w->rows * w->cols * n < (1u << 16)) b3_task(&j, 0, 1);
    else run_pool_run(c->pool, b3_task, &j);
}

int run__b3_check(run_ctx *c, uint32_t act_mode, trit_err *err)
{
    c->kern_b3 = run_b3_kern_for(c->kern->name);
    if (act_mode == RUN_ACT_SCALES_DYNAMIC) return TRIT_OK;
    uint64_t need = 0, cols = 0;   /* the largest b3 expert matrix as t2 */
    for (uint32_t L = 0; L < c->hp.n_layer; L++) {
        run_layer const *ly = &c->layers[L];
        for (uint32_t e = 0; ly->moe && ly->experts && e < c->hp.n_expert; e++) {
            run_tensor const *m[3] = {&ly->experts[e].gate, &ly->experts[e].up, &ly->experts[e].down};
            for (int k = 0; k < 3; k++)
                if (m[k]->type == TRIT_TYPE_B3) {
                    uint64_t const b = m[k]->rows * trit_div_ceil(m[k]->cols, 128) * 32;
                    need = b > need ? b : need;
                    cols = m[k]->cols > cols ? m[k]->cols : cols;
                }
        }
    }
    if (!need) return TRIT_OK;
    c->b3_t2 = malloc(need);
    c->b3_vals = malloc(cols + 1);
    if (!c->b3_t2 || !c->b3_vals)
        return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "cannot allocate %llu bytes to re-pack b3 experts",
                            (unsigned long long)need);
    return TRIT_OK;
}

void run__b3_free(run_ctx *c)
{
    free(c->b3_t2);
    free(c->b3_vals);
}
