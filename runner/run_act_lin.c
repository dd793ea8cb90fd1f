/*
 * run_act_lin.c - t2 projections of activations quantized with static per-channel or
 * per-group scales (spec section 9), at 16 bits with any granularity (spec 9's int16 sites), or
 * dynamically per 256-value block (--act-scales block):
 *   y_r = sum_i (code_ri - 1) * wscale(r, i) * q_i * s(t, i).
 *
 * Three paths, each row computed by one thread in a fixed order (so results do not depend on
 * the thread count):
 *   blocks    block mode, weight scale per tensor or row: per 256-value block, an exact
 *             integer sum times (weight scale x step), in block order
 *   chunks    activation groups and weight groups (if any) are multiples of 32: the kernel's
 *             exact integer sums per 32 inputs, merged in int64 while the product of the two
 *             scales stays the same, one float multiply-add per merged run (16-bit sites with
 *             one scale per tensor too: their rows can exceed int32, run_kern16.h)
 *   elements  per channel (or group sizes that are not multiples of 32): q_i * s(i) summed in
 *             double per weight-scale segment, then scaled
 *
 * and the float mode's product (--act-scales float): the same rows against unquantized
 * activations, 32-input sums in float added per weight-scale segment in double.
 */
#include <stdlib.h>

#include "run_int.h"
#include "run_kern16.h"
#include "trit_safemath.h"

typedef struct act_job {
    run_ctx *c;
    const run_tensor *w;
    const run_qbuf *qb;
    uint32_t n;
    float *y;
    uint64_t ldy;
} act_job;

static inline float weight_scale(const run_tensor *w, uint64_t r, uint64_t i)
{
    if (w->scale_layout == TRIT_SCALE_GROUP) return w->scales[r * trit_div_ceil(w->cols, w->group_size) + i / w->group_size];
    return w->scale_layout == TRIT_SCALE_ROW ? w->scales[r] : w->scales[0];
}

/* The step of input i of token t: the static entry's, or token t's block step. */
static inline float act_scale(const run_qbuf *qb, uint32_t t, uint64_t i)
{
    const trit_act_entry *e = qb->act;
    if (!e) return qb->bd[t * trit_div_ceil(qb->padded, RUN_ACT_BLOCK) + i / RUN_ACT_BLOCK];
    if (e->granularity == TRIT_ACT_CHANNEL) return e->scales[i];
    if (e->granularity == TRIT_ACT_GROUP) return e->scales[i / e->group_size];
    return e->scales[0];
}

static inline int wide(const run_qbuf *qb) { return qb->act && qb->act->bits == 16; }

static float row_chunks(const run_kern *k, const run_kern16 *k16, const run_tensor *w, uint64_t r, const run_qbuf *qb, uint32_t t,
                        int32_t *chunks)
{
    uint64_t const cols = w->cols, nb = trit_div_ceil(cols, 128), nch = trit_div_ceil(cols, 32);
    const uint8_t *codes = (const uint8_t *)w->data + r * nb * 32;
    if (wide(qb)) k16->t2_chunks16(codes, qb->q16 + t * qb->padded, nb, chunks);
    else k->t2_dot_chunks(codes, qb->q + t * qb->padded, nb, chunks);
    const int32_t *cs = qb->csum + t * (qb->padded / 32);
    float y = 0, cur = 0;
    int64_t run = 0;           /* exact: 16-bit rows exceed int32 */
    int open = 0;
    for (uint64_t ch = 0; ch < nch; ch++) {
        float const sc = weight_scale(w, r, ch * 32) * act_scale(qb, t, ch * 32);
        int32_t const acc = chunks[ch] - cs[ch];   /* |acc| <= 4 * 32767 * 32 */
        if (open && sc == cur) {
            run += acc;
            continue;
        }
        if (open) y += (float)run * cur;
        cur = sc;
        run = acc;
        open = 1;
    }
    if (open) y += (float)run * cur;
    return y;
}

static float row_elems(const run_tensor *w, uint64_t r, const run_qbuf *qb, uint32_t t)
{
    uint64_t const cols = w->cols, nb = trit_div_ceil(cols, 128);
    const uint8_t *codes = (const uint8_t *)w->data + r * nb * 32;
    const int8_t *q = qb->q + t * qb->padded;
    const int16_t *q16 = wide(qb) ? qb->q16 + t * qb->padded : NULL;
    int const grouped = w->scale_layout == TRIT_SCALE_GROUP;
    uint64_t const G = grouped ? w->group_size : cols;
    double y = 0, seg = 0;   /* int16 values carry 15 significant bits: sum in double */
    uint64_t seg_start = 0;
    /* i = 128 b + 32 k + m runs in increasing order (spec 6.1: plane k of block b) */
    for (uint64_t b = 0; b < nb; b++)
        for (unsigned k = 0; k < 4; k++)
            for (unsigned m = 0; m < 32; m++) {
                uint64_t const i = b * 128 + k * 32 + m;
                if (i >= cols) break;
                if (i - seg_start >= G) {
                    y += seg * (double)weight_scale(w, r, seg_start);
                    seg = 0;
                    seg_start = i - i % G;
                }
                int const code = (codes[b * 32 + m] >> (2 * k)) & 3;
                double const qi = q16 ? (double)q16[i] : (double)q[i];
                seg += (double)(code - 1) * (qi * (double)act_scale(qb, t, i));
            }
    if (cols) y += seg * (double)weight_scale(w, r, seg_start);
    return (float)y;
}

/* Block mode with one weight scale per tensor or row (the common case): per 256-value block,
 * the kernel's exact sum over its two t2 blocks minus the block's sum of q, times (weight
 * scale x step), added in block order. Up to 4 tokens share each kernel call. */
static void rows_blocks(const act_job *j, uint64_t lo, uint64_t hi)
{
    run_tensor const *w = j->w;
    run_qbuf const *qb = j->qb;
    run_kern const *k = j->c->kern;
    uint64_t const nb = trit_div_ceil(w->cols, 128), nblk = trit_div_ceil(qb->padded, RUN_ACT_BLOCK);
    for (uint64_t r = lo; r < hi; r++) {
        const uint8_t *codes = (const uint8_t *)w->data + r * nb * 32;
        float const ws = w->scale_layout == TRIT_SCALE_ROW ? w->scales[r] : w->scales[0];
        for (uint32_t t0 = 0; t0 < j->n; t0 += 4) {
            uint32_t const m = j->n - t0 < 4 ? j->n - t0 : 4;
            float y[4] = {0, 0, 0, 0};
            for (uint64_t kb = 0; kb < nblk; kb++) {
                uint64_t const b0 = kb * (RUN_ACT_BLOCK / 128), nbk = nb - b0 < RUN_ACT_BLOCK / 128 ? nb - b0 : RUN_ACT_BLOCK / 128;
                int32_t acc[4];
                k->t2_dot_n(codes + b0 * 32, qb->q + t0 * qb->padded + kb * RUN_ACT_BLOCK, qb->padded, m, nbk, acc);
                for (uint32_t i = 0; i < m; i++) {
                    uint64_t const at = (t0 + i) * nblk + kb;
                    y[i] += (float)(acc[i] - qb->bsum[at]) * (ws * qb->bd[at]);
                }
            }
            for (uint32_t i = 0; i < m; i++) j->y[(t0 + i) * j->ldy + r] = y[i];
        }
    }
}

static void act_task(void *arg, uint32_t wi, uint64_t lo, uint64_t hi)
{
    act_job const *j = arg;
    run_tensor const *w = j->w;
    trit_act_entry const *e = j->qb->act;
    if (!e && w->scale_layout != TRIT_SCALE_GROUP) {
        rows_blocks(j, lo, hi);
        return;
    }
    /* blocks (256) are whole chunks; static groups must be (one scale per tensor: 16-bit only) */
    int const chunked = (!e || e->granularity == TRIT_ACT_TENSOR || (e->granularity == TRIT_ACT_GROUP && e->group_size % 32 == 0)) &&
                        (w->scale_layout != TRIT_SCALE_GROUP || w->group_size % 32 == 0);
    int32_t *chunks = j->c->chunk_scratch + (uint64_t)wi * (j->c->max_cols / 32 + 4);
    const run_kern16 *k16 = run_kern16_for(j->c->kern);   /* the int16 set matching c->kern */
    for (uint64_t r = lo; r < hi; r++)
        for (uint32_t t = 0; t < j->n; t++)
            j->y[t * j->ldy + r] = chunked ? row_chunks(j->c->kern, k16, w, r, j->qb, t, chunks) : row_elems(w, r, j->qb, t);
}

void run__act_linear(run_ctx *c, const run_tensor *w, const run_qbuf *qb, uint32_t n, float *y, uint64_t ldy)
{
    act_job j = {c, w, qb, n, y, ldy};
    if (w->rows * w->cols * n < (1u << 16)) act_task(&j, 0, 0, w->rows);
    else run_pool_range(c->pool, act_task, &j, w->rows, run__grain(w->rows, run_pool_size(c->pool)));
}

/* ---- float mode: t2 weights against float activations -------------------------------------- */

typedef struct float_job {
    run_ctx *c;
    const run_tensor *w;
    const float *x;
    uint64_t ldx;
    uint32_t n;
    float *y;
    uint64_t ldy;
} float_job;

/* sum_i (code_i - 1) * x_i over plane k of t2 block b (32 inputs from i0 = 128 b + 32 k): the
 * codes of one plane sit in bits 2k of the block's 32 bytes (spec 6.1), so x is read in order. */
static float plane_sum(const uint8_t *codes, unsigned k, const float *x, unsigned m_end)
{
    float s = 0;
    for (unsigned m = 0; m < m_end; m++) s += (float)((int)((codes[m] >> (2 * k)) & 3u) - 1) * x[m];
    return s;
}

/* One row: 32-input plane sums in float, added per weight-scale segment in double, each
 * segment scaled once. Segments are whole planes when the group size is a multiple of 32;
 * otherwise the row goes element by element. */
static float row_float(const run_tensor *w, uint64_t r, const float *x)
{
    uint64_t const cols = w->cols, nb = trit_div_ceil(cols, 128);
    const uint8_t *codes = (const uint8_t *)w->data + r * nb * 32;
    int const grouped = w->scale_layout == TRIT_SCALE_GROUP;
    uint64_t const G = grouped ? w->group_size : cols;
    double y = 0, seg = 0;
    uint64_t seg_start = 0;
    if (G % 32 == 0 || !grouped) {
        for (uint64_t b = 0; b < nb; b++)
            for (unsigned k = 0; k < 4; k++) {
                uint64_t const i0 = b * 128 + k * 32;
                if (i0 >= cols) break;
                if (grouped && i0 - seg_start >= G) {
                    y += seg * (double)weight_scale(w, r, seg_start);
                    seg = 0;
                    seg_start = i0;
                }
                unsigned const m_end = cols - i0 < 32 ? (unsigned)(cols - i0) : 32u;
                seg += (double)plane_sum(codes + b * 32, k, x + i0, m_end);
            }
    } else {
        for (uint64_t i = 0; i < cols; i++) {
            if (i - seg_start >= G) {
                y += seg * (double)weight_scale(w, r, seg_start);
                seg = 0;
                seg_start = i;
            }
            unsigned const code = (codes[(i / 128) * 32 + (i % 32)] >> (2 * ((i % 128) / 32))) & 3u;
            seg += (double)((int)code - 1) * (double)x[i];
        }
    }
    if (cols) y += seg * (double)weight_scale(w, r, seg_start);
    return (float)y;
}

static void float_task(void *arg, uint32_t wi, uint64_t lo, uint64_t hi)
{
    float_job const *j = arg;
    (void)wi;
    for (uint64_t r = lo; r < hi; r++)
        for (uint32_t t = 0; t < j->n; t++) j->y[t * j->ldy + r] = row_float(j->w, r, j->x + t * j->ldx);
}

void run__float_linear(run_ctx *c, const run_tensor *w, const float *x, uint64_t ldx, uint32_t n, float *y, uint64_t ldy)
{
    float_job j = {c, w, x, ldx, n, y, ldy};
    if (w->rows * w->cols * n < (1u << 16)) float_task(&j, 0, 0, w->rows);
    else run_pool_range(c->pool, float_task, &j, w->rows, run__grain(w->rows, run_pool_size(c->pool)));
}
