/*
 * run_ops.c - the compute steps the forward pass is made of: BitNet activation quantization,
 * matrix x activations for every weight type (split over the pool by rows), RMSNorm.
 *
 * Activation quantization (BitNet b1.58, absmax per token):
 *   amax = max |x_i| over the token's finite values;  s = 127 / amax
 *   q_i  = clamp(nearbyint(x_i * s), -127, 127)       (0 for a zero row or a non-finite x_i)
 *   d    = amax / 127                                  (the dequantization step)
 * t2 row r against token t:
 *   per tensor / per row:  y = (float)(sum_i (code_i - 1) q_i) * scale * d
 *   per group (size G):    y = (sum over groups g, in order, of (float)(sum_{i in g} (code_i - 1) q_i) * scale_g) * d
 * The integer sums are exact, so every kernel set gives the same bits; the few float steps
 * are in a fixed order.
 *
 * Block mode (--act-scales block) takes the absmax per RUN_ACT_BLOCK = 256 values instead,
 * which is the grain of ggml's q8_K, the activation format llama.cpp pairs with TQ1_0/TQ2_0:
 *   s = 127 / amax_blk;  q_i = nearbyint(x_i * s);  d_blk = amax_blk / 127
 * q8_K computes iscale = -127 / x_max with x_max the signed value of largest magnitude, which
 * only flips the signs of q and d together, so q is the same; its d = 1 / iscale may differ
 * from amax / 127 in the last bit. Keeping the per-token formula makes a row of one block give
 * the same bits in both modes. On rows of several blocks the steps are finer than one per
 * token; run_act_lin.c does the products.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "run_int.h"
#include "trit_safemath.h"

int run__qbuf_init(run_qbuf *b, uint32_t n_tok, uint64_t cols, trit_err *err)
{
    memset(b, 0, sizeof *b);
    b->cols = cols;
    b->padded = trit_div_ceil(cols, 128) * 128;
    b->cap_padded = b->padded;
    b->n_tok = n_tok;
    uint64_t nq;
    if (trit_mul_u64(b->padded, n_tok, &nq)) return trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, NULL, "activation buffer too large");
    b->q = trit_mallocarray(nq ? nq : 1, 1);
    b->csum = trit_mallocarray(nq / 32 + 1, sizeof *b->csum);
    b->d = trit_mallocarray(n_tok + 1u, sizeof *b->d);
    b->sum = trit_mallocarray(n_tok + 1u, sizeof *b->sum);
    b->bd = trit_mallocarray(nq / RUN_ACT_BLOCK + n_tok + 1u, sizeof *b->bd);
    b->bsum = trit_mallocarray(nq / RUN_ACT_BLOCK + n_tok + 1u, sizeof *b->bsum);
    if (!b->q || !b->csum || !b->d || !b->sum || !b->bd || !b->bsum) {
        run__qbuf_release(b);
        return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    }
    return TRIT_OK;
}

void run__qbuf_release(run_qbuf *b)
{
    free(b->q);
    free(b->csum);
    free(b->d);
    free(b->sum);
    free(b->bd);
    free(b->bsum);
    memset(b, 0, sizeof *b);
}

void run__qbuf_chunk_sums(run_qbuf *b, uint32_t t)
{
    const int8_t *q = b->q + t * b->padded;
    int32_t *cs = b->csum + t * (b->padded / 32);
    for (uint64_t ch = 0; ch < b->padded / 32; ch++) {
        int32_t s32 = 0;
        for (unsigned j = 0; j < 32; j++) s32 += q[ch * 32 + j];
        cs[ch] = s32;
    }
}

/* Absmax-quantize x[0..n) into q (returns max|x| over the finite values; adds the q to *total). */
static float quant_span(const float *x, int8_t *q, uint64_t n, int32_t *total)
{
    float amax = 0;
    for (uint64_t i = 0; i < n; i++) {
        float const a = fabsf(x[i]);
        if (a > amax && isfinite(a)) amax = a;
    }
    float const s = amax > 0 ? 127.0f / amax : 0.0f;
    int32_t sum = 0;
    for (uint64_t i = 0; i < n; i++) {
        float v = x[i] * s;
        if (!(v >= -127.0f)) v = v != v ? 0.0f : -127.0f;  /* NaN contributes nothing */
        if (v > 127.0f) v = 127.0f;
        /* round half to even without a libm call: for |v| <= 127, adding and removing
         * 1.5 * 2^23 leaves exactly nearbyintf(v) in the default rounding mode */
        float const r = (v + 12582912.0f) - 12582912.0f;
        q[i] = (int8_t)r;
        sum += q[i];
    }
    *total += sum;
    return amax;
}

void run__quantize(run_qbuf *b, const float *x, uint64_t ldx, uint64_t cols, uint32_t n)
{
    uint64_t const padded = trit_div_ceil(cols, 128) * 128;
    if (padded > b->cap_padded) return; /* sized at open for the widest input; never reached */
    b->cols = cols;
    b->padded = padded;
    b->blocked = 0;
    for (uint32_t t = 0; t < n && t < b->n_tok; t++) {
        int8_t *q = b->q + t * padded;
        int32_t total = 0;
        float const amax = quant_span(x + t * ldx, q, cols, &total);
        memset(q + cols, 0, padded - cols);
        b->d[t] = amax / 127.0f;
        b->sum[t] = total;
        run__qbuf_chunk_sums(b, t);
    }
}

void run__quantize_blocks(run_qbuf *b, const float *x, uint64_t ldx, uint64_t cols, uint32_t n)
{
    uint64_t const padded = trit_div_ceil(cols, 128) * 128, nblk = trit_div_ceil(padded, RUN_ACT_BLOCK);
    if (nblk <= 1) {
        run__quantize(b, x, ldx, cols, n); /* one block per row: exactly the per-token mode */
        return;
    }
    if (padded > b->cap_padded) return; /* sized at open for the widest input; never reached */
    b->cols = cols;
    b->padded = padded;
    b->blocked = 1;
    for (uint32_t t = 0; t < n && t < b->n_tok; t++) {
        int8_t *q = b->q + t * padded;
        int32_t total = 0;
        for (uint64_t k = 0; k < nblk; k++) {
            uint64_t const i0 = k * RUN_ACT_BLOCK, i1 = i0 + RUN_ACT_BLOCK < cols ? i0 + RUN_ACT_BLOCK : cols;
            int32_t bs = 0;
            b->bd[t * nblk + k] = i1 > i0 ? quant_span(x + t * ldx + i0, q + i0, i1 - i0, &bs) / 127.0f : 0.0f;
            b->bsum[t * nblk + k] = bs;
            total += bs;
        }
        memset(q + cols, 0, padded - cols);
        b->d[t] = 1.0f;
        b->sum[t] = total;
        run__qbuf_chunk_sums(b, t);
    }
}

/* Generic group path for group sizes that are not a multiple of 32 (element by element). */
static float t2_groups_generic(const run_tensor *w, const uint8_t *codes, const int8_t *q, const float *sc)
{
    uint64_t const G = w->group_size, cols = w->cols, ng = trit_div_ceil(cols, G);
    float y = 0;
    for (uint64_t g = 0; g < ng; g++) {
        uint64_t const end = (g + 1) * G < cols ? (g + 1) * G : cols;
        int32_t acc = 0;
        for (uint64_t i = g * G; i < end; i++) {
            unsigned const code = (codes[(i / 128) * 32 + (i % 32)] >> (2 * ((i % 128) / 32))) & 3u;
            acc += ((int32_t)code - 1) * q[i];
        }
        y += (float)acc * sc[g];
    }
    return y;
}

float run__row_dot(const run_kern *k, const run_tensor *w, uint64_t r, const float *x, const run_qbuf *qb, uint32_t t,
                   int32_t *chunks)
{
    uint64_t const cols = w->cols;
    switch (w->type) {
    case TRIT_TYPE_F32: return k->dot_f32((const float *)w->data + r * cols, x, cols);
    case TRIT_TYPE_F16: return k->dot_f16((const uint16_t *)w->data + r * cols, x, cols);
    case TRIT_TYPE_BF16: return k->dot_bf16((const uint16_t *)w->data + r * cols, x, cols);
    default: break;
    }
    uint64_t const nb = trit_div_ceil(cols, 128);
    const uint8_t *codes = (const uint8_t *)w->data + r * nb * 32;
    const int8_t *q = qb->q + t * qb->padded;
    if (w->scale_layout != TRIT_SCALE_GROUP) {
        int32_t const acc = k->t2_dot(codes, q, nb) - qb->sum[t];
        float const sc = w->scale_layout == TRIT_SCALE_ROW ? w->scales[r] : w->scales[0];
        return (float)acc * sc * qb->d[t];
    }
    uint64_t const G = w->group_size, ng = trit_div_ceil(cols, G);
    const float *sc = w->scales + r * ng;
    if (G % 32) return t2_groups_generic(w, codes, q, sc) * qb->d[t];
    k->t2_dot_chunks(codes, q, nb, chunks);
    return run__group_sum(chunks, qb->csum + t * (qb->padded / 32), nb * 4, G / 32, ng, sc) * qb->d[t];
}

float run__group_sum(const int32_t *chunks, const int32_t *cs, uint64_t nch, uint64_t per, uint64_t ng, const float *sc)
{
    float y = 0;
    for (uint64_t g = 0; g < ng; g++) {
        uint64_t const c0 = g * per, c1 = c0 + per < nch ? c0 + per : nch;
        int32_t acc = 0;
        for (uint64_t ch = c0; ch < c1; ch++) acc += chunks[ch] - cs[ch];
        y += (float)acc * sc[g];
    }
    return y;
}

typedef struct lin_job {
    run_ctx *c;
    const run_tensor *w;
    const float *x;
    uint64_t ldx;
    const run_qbuf *qb;
    uint32_t n;
    float *y;
    uint64_t ldy;
} lin_job;

/* t2 rows with one scale per tensor or row: one token through the row kernel (t2_gemv), several
 * through the rows x tokens kernel (t2_gemm). Same integer sums and the same float steps as
 * run__row_dot, so the same bits whatever the batch or the thread count. */
static void lin_t2_rows(const lin_job *j, uint64_t lo, uint64_t hi)
{
    run_tensor const *w = j->w;
    run_qbuf const *qb = j->qb;
    uint64_t const nb = trit_div_ceil(w->cols, 128);
    if (j->n == 1) {
        /* one token (decode): rows in runs through the multi-row kernel */
        int32_t acc[64];
        for (uint64_t r0 = lo; r0 < hi; r0 += 64) {
            uint64_t const m = hi - r0 < 64 ? hi - r0 : 64;
            j->c->kern->t2_gemv((const uint8_t *)w->data + r0 * nb * 32, m, qb->q, nb, acc);
            for (uint64_t k = 0; k < m; k++) {
                float const sc = w->scale_layout == TRIT_SCALE_ROW ? w->scales[r0 + k] : w->scales[0];
                j->y[r0 + k] = (float)(acc[k] - qb->sum[0]) * sc * qb->d[0];
            }
        }
        return;
    }
    /* several tokens (prefill): runs of rows through the rows x tokens kernel into acc[t][k],
     * then the float steps row-contiguous per token */
    int32_t acc[RUN_UBATCH * 64];
    for (uint64_t r0 = lo; r0 < hi; r0 += 64) {
        uint64_t const m = hi - r0 < 64 ? hi - r0 : 64;
        for (uint32_t t0 = 0; t0 < j->n; t0 += RUN_UBATCH) {
            uint32_t const nt = j->n - t0 < RUN_UBATCH ? j->n - t0 : RUN_UBATCH;
            j->c->kern->t2_gemm((const uint8_t *)w->data + r0 * nb * 32, m, nb, qb->q + t0 * qb->padded, qb->padded, nt, acc, m);
            for (uint32_t t = 0; t < nt; t++) {
                float *y = j->y + (t0 + t) * j->ldy + r0;
                int32_t const sum = qb->sum[t0 + t];
                float const d = qb->d[t0 + t];
                for (uint64_t k = 0; k < m; k++) {
                    float const sc = w->scale_layout == TRIT_SCALE_ROW ? w->scales[r0 + k] : w->scales[0];
                    y[k] = (float)(acc[t * m + k] - sum) * sc * d;
                }
            }
        }
    }
}

/* Float rows at one token (the output head, routers): the multi-row kernel, whose rows have
 * the bits of run__row_dot's. */
static int lin_float_rows(const lin_job *j, uint64_t lo, uint64_t hi)
{
    run_tensor const *w = j->w;
    run_kern const *k = j->c->kern;
    uint64_t const cols = w->cols;
    if (j->n != 1) return 0;
    switch (w->type) {
    case TRIT_TYPE_F32: k->gemv_f32((const float *)w->data + lo * cols, hi - lo, cols, j->x, j->y + lo); return 1;
    case TRIT_TYPE_F16: k->gemv_f16((const uint16_t *)w->data + lo * cols, hi - lo, cols, j->x, j->y + lo); return 1;
    case TRIT_TYPE_BF16: k->gemv_bf16((const uint16_t *)w->data + lo * cols, hi - lo, cols, j->x, j->y + lo); return 1;
    default: return 0;
    }
}

/* The int8 output head (spec 6.2): exact int8 sums, then the row's scale and the token's step. */
static void lin_i8_rows(const lin_job *j, uint64_t lo, uint64_t hi)
{
    run_tensor const *w = j->w;
    run_qbuf const *qb = j->qb;
    int32_t acc[64];
    for (uint32_t t = 0; t < j->n; t++)
        for (uint64_t r0 = lo; r0 < hi; r0 += 64) {
            uint64_t const m = hi - r0 < 64 ? hi - r0 : 64;
            j->c->kern->i8_gemv((const int8_t *)w->data + r0 * w->cols, m, w->cols, qb->q + t * qb->padded, acc);
            for (uint64_t k = 0; k < m; k++) j->y[t * j->ldy + r0 + k] = (float)acc[k] * w->scales[r0 + k] * qb->d[t];
        }
}

/* Rows [lo, hi) of the product, on worker wi (whose scratch it uses). */
static void lin_range(void *arg, uint32_t wi, uint64_t lo, uint64_t hi)
{
    lin_job const *j = arg;
    if (j->w->type == TRIT_TYPE_T2 && j->w->scale_layout != TRIT_SCALE_GROUP) {
        lin_t2_rows(j, lo, hi);
        return;
    }
    if (lin_float_rows(j, lo, hi)) return;
    if (j->w->type == TRIT_TYPE_I8) {
        lin_i8_rows(j, lo, hi);
        return;
    }
    int32_t *chunks = j->c->chunk_scratch + (uint64_t)wi * (j->c->max_cols / 32 + 4);
    for (uint64_t r = lo; r < hi; r++)
        for (uint32_t t = 0; t < j->n; t++)
            j->y[t * j->ldy + r] = run__row_dot(j->c->kern, j->w, r, j->x + t * j->ldx, j->qb, t, chunks);
}

void run__linear(run_ctx *c, const run_tensor *w, const float *x, uint64_t ldx, const run_qbuf *qb, uint32_t n, float *y,
                 uint64_t ldy)
{
    if (run__blk_of(w->type) >= 0) {
        run__blk_linear(c, w, x, ldx, n, y, ldy); /* ggml block types: llama.cpp's activations */
        return;
    }
    if (w->type == TRIT_TYPE_B3) {
        run__b3_linear(c, w, x, ldx, qb, n, y, ldy); /* base-3 expert units (run_b3.c) */
        return;
    }
    if (qb && qb->floated && w->type == TRIT_TYPE_T2) {
        run__float_linear(c, w, x, ldx, n, y, ldy); /* float mode: the unquantized reference */
        return;
    }
    if (qb && (qb->act || qb->blocked) && w->type == TRIT_TYPE_T2) {
        run__act_linear(c, w, qb, n, y, ldy); /* static per-channel/group or per-block scales */
        return;
    }
    lin_job j = {c, w, x, ldx, qb, n, y, ldy};
    /* Tiny products are not worth waking the workers; the result is the same either way. */
    if (w->rows * w->cols * n < (1u << 16)) lin_range(&j, 0, 0, w->rows);
    else run_pool_range(c->pool, lin_range, &j, w->rows, run__grain(w->rows, run_pool_size(c->pool)));
}

void run__rmsnorm(float *out, const float *x, const float *w, uint64_t n, float eps)
{
    double sum = 0;
    for (uint64_t i = 0; i < n; i++) sum += (double)(x[i] * x[i]);
    float const mean = (float)(sum / (double)n);
    float const scale = 1.0f / sqrtf(mean + eps);
    for (uint64_t i = 0; i < n; i++) out[i] = w ? (x[i] * scale) * w[i] : x[i] * scale;
}

void run__layernorm(float *out, const float *x, const float *w, const float *b, uint64_t n, float eps)
{
    double sum = 0;
    for (uint64_t i = 0; i < n; i++) sum += (double)x[i];
    float const mean = (float)(sum / (double)n);
    double var = 0;
    for (uint64_t i = 0; i < n; i++) {
        float const d = x[i] - mean;
        var += (double)(d * d);
    }
    float const scale = 1.0f / sqrtf((float)(var / (double)n) + eps);
    for (uint64_t i = 0; i < n; i++) {
        float const y = (x[i] - mean) * scale;
        out[i] = (w ? y * w[i] : y) + (b ? b[i] : 0.0f);
    }
}

void run__norm(const run_ctx *c, float *out, const float *x, const float *w, const float *b)
{
    if (c->hp.layer_norm) run__layernorm(out, x, w, b, c->hp.n_embd, c->hp.norm_eps);
    else run__rmsnorm(out, x, w, c->hp.n_embd, c->hp.norm_eps);
}
