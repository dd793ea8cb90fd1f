/*
 * run_blk_lin.c - matrices in ggml's block types (q8_0, q4_k, q6_k, mxfp4: spec/container.md
 * 6.3) in the forward pass: dense projections, expert projections, routers and the output head
 * through run__linear, embeddings through run__blk_embed_row.
 *
 * As llama.cpp computes them: each token's input vector is quantized once per product to the
 * weight type's vec_dot_type (q8_0 for q8_0 and mxfp4, q8_K for q4_k and q6_k;
 * run_blk_quantize_act), then every row is one kernel call, dot[t](row, act, cols), whose float
 * is the same in every kernel set (run_blk.h). Rows are split over the pool; a row's value
 * depends only on its own bytes and the token's activations, so the result does not depend on
 * the thread count. The static activation-scale modes (--act-scales) and float mode concern the
 * ternary projections' int8 activations, not these: block types always quantize the ggml way.
 */
#include <math.h>
#include <string.h>

#include "run_int.h"
#include "trit_safemath.h"

int run__blk_of(uint32_t type)
{
    switch (type) {
    case TRIT_TYPE_Q8_0: return RUN_BLK_Q8_0;
    case TRIT_TYPE_Q4_K: return RUN_BLK_Q4_K;
    case TRIT_TYPE_Q6_K: return RUN_BLK_Q6_K;
    case TRIT_TYPE_MXFP4: return RUN_BLK_MXFP4;
    default: return -1;
    }
}

uint64_t run__blk_row_bytes(const run_tensor *w)
{
    int const t = run__blk_of(w->type);
    return t < 0 ? 0 : w->cols / run_blk_elems((run_blk_type)t) * run_blk_bytes((run_blk_type)t);
}

size_t run__blk_act_cap(uint64_t max_cols, uint32_t n_tok)
{
    /* the larger of the two activation formats, for rows rounded up to whole 256-blocks */
    uint64_t const cols = trit_div_ceil(max_cols ? max_cols : 1, 256) * 256;
    size_t const a = run_blk_act_bytes(RUN_BLK_Q8_0, cols), b = run_blk_act_bytes(RUN_BLK_Q4_K, cols);
    return (a > b ? a : b) * n_tok;
}

void run__blk_embed_row(const run_tensor *emb, uint32_t tok, float *out)
{
    int const t = run__blk_of(emb->type);
    uint64_t const rb = run__blk_row_bytes(emb);
    run_blk_dequant_row((run_blk_type)t, (const uint8_t *)emb->data + (uint64_t)tok * rb, emb->cols, out);
}

typedef struct blk_job {
    const run_blk_kern *k;
    run_blk_type t;
    const run_tensor *w;
    const uint8_t *act;        /* n tokens' activations, act_bytes apart */
    size_t act_bytes;
    uint32_t n;
    float *y;
    uint64_t ldy;
} blk_job;

static void blk_task(void *arg, uint32_t i, uint32_t nw)
{
    blk_job const *j = arg;
    uint64_t lo, hi;
    run__split(j->w->rows, i, nw, &lo, &hi);
    uint64_t const rb = run__blk_row_bytes(j->w), cols = j->w->cols;
    float (*const dot)(const void *, const void *, uint64_t) = j->k->dot[j->t];
    for (uint64_t r = lo; r < hi; r++) {
        const uint8_t *row = (const uint8_t *)j->w->data + r * rb;
        for (uint32_t t = 0; t < j->n; t++) j->y[t * j->ldy + r] = dot(row, j->act + t * j->act_bytes, cols);
    }
}

void run__blk_linear(run_ctx *c, const run_tensor *w, const float *x, uint64_t ldx, uint32_t n, float *y, uint64_t ldy)
{
    run_blk_type const t = (run_blk_type)run__blk_of(w->type);
    size_t const ab = run_blk_act_bytes(t, w->cols);
    /* c->blk_act holds RUN_UBATCH tokens of the widest input (run_ctx.c); tokens go through in
     * chunks of what fits, which is all of them for every matrix the model loader accepted */
    uint32_t const per = ab ? (uint32_t)(c->blk_act_cap / ab < n ? c->blk_act_cap / ab : n) : n;
    if (!per) {   /* a row wider than the loader allows: never reached, but never garbage */
        for (uint32_t k = 0; k < n; k++)
            for (uint64_t r = 0; r < w->rows; r++) y[k * ldy + r] = NAN;
        return;
    }
    for (uint32_t t0 = 0; t0 < n; t0 += per) {
        uint32_t const m = n - t0 < per ? n - t0 : per;
        for (uint32_t k = 0; k < m; k++) run_blk_quantize_act(t, x + (t0 + k) * ldx, w->cols, c->blk_act + k * ab);
        blk_job j = {c->blk, t, w, c->blk_act, ab, m, y + t0 * ldy, ldy};
        /* tiny products are not worth waking the workers; the result is the same either way */
        if (w->rows * w->cols * m < (1u << 16)) blk_task(&j, 0, 1);
        else run_pool_run(c->pool, blk_task, &j);
    }
}
