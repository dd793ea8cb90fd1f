/*
 * cal_stats.c - what calibration measures while the runner evaluates (cal.h):
 *
 *   fit pass   per site member: absmax per channel and a log histogram of |x| (percentiles)
 *   eval pass  per held-out activation vector x: the vector itself, its dynamic quantization
 *              (absmax per token, as the runner does) and every candidate's static
 *              quantization, pushed through the sampled rows of each projection reading it;
 *              squared errors against the unquantized output are summed per site
 *
 * Everything runs on the evaluating thread, in token order, so the sums (and the choice made
 * from them) do not depend on the runner's thread count.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cal_int.h"
#include "trit_cursor.h"
#include "trit_safemath.h"

static const uint32_t k_group_size[CAL_N_CAND] = {0, 0, 0, 128, 32, 0, 0, 0};

/* ---- building the groups --------------------------------------------------------------- */

static uint32_t kv_u32(const trit_reader *r, const char *key)
{
    int64_t const i = trit_reader_find_kv(r, key);
    uint64_t v = 0;
    if (i < 0 || trit_reader_kv_u64(r, (uint32_t)i, &v) || v > UINT32_MAX) return 0;
    return (uint32_t)v;
}

/* The t2 projections of site s into m; their common input width into *cols (0 when none). */
static int find_consumers(const trit_reader *r, const run_act_site *s, cal_member *m, uint64_t *cols, trit_err *err)
{
    char names[3][96];
    uint32_t const n = run_act_site_tensors(s, names);
    m->n_cons = 0;
    *cols = 0;
    for (uint32_t k = 0; k < n; k++) {
        int64_t const ti = trit_reader_find_tensor(r, names[k]);
        if (ti < 0) continue;
        trit_tensor_info const *t = trit_reader_tensor(r, (uint32_t)ti);
        if (t->type != TRIT_TYPE_T2 || t->n_dims != 2) continue;
        if (*cols && t->dims[1] != *cols)
            return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, names[k], "input width %llu, '%s' has %llu, but both read the same activations",
                                (unsigned long long)t->dims[1], names[0], (unsigned long long)*cols);
        *cols = t->dims[1];
        m->cons[m->n_cons++] = (uint32_t)ti;
    }
    return TRIT_OK;
}

static int add_group(cal_state *st, uint32_t kind, uint32_t layer, trit_err *err)
{
    int const exp = kind == RUN_SITE_EXP_IN || kind == RUN_SITE_EXP_DOWN;
    uint32_t const nm = exp ? st->n_expert : 1;
    if (!nm) return TRIT_OK;
    cal_member *m = calloc(nm, sizeof *m);
    if (!m) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    uint64_t cols = 0;
    uint32_t present = 0;
    int rc = TRIT_OK;
    for (uint32_t e = 0; e < nm && rc == TRIT_OK; e++) {
        run_act_site const s = {kind, layer, exp ? e : UINT32_MAX};
        uint64_t c = 0;
        rc = find_consumers(st->r, &s, &m[e], &c, err);
        if (rc || !m[e].n_cons) continue;
        if (cols && c != cols) rc = trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, NULL, "experts of layer %u differ in width", layer);
        cols = c;
        present++;
    }
    if (rc || !present || cols > ((uint64_t)1 << 24)) {
        free(m);
        return rc ? rc : present ? trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, NULL, "input width %llu", (unsigned long long)cols) : TRIT_OK;
    }
    cal_group *g = &st->g[st->n_groups];
    memset(g, 0, sizeof *g);
    g->kind = kind;
    g->layer = layer;
    g->cols = cols;
    g->n_members = nm;
    g->m = m;
    uint32_t const row = layer == UINT32_MAX ? st->n_layer : layer;
    st->index[(uint64_t)row * RUN_SITE_COUNT_ + kind] = (int32_t)st->n_groups++;
    if (cols > st->max_cols) st->max_cols = cols;
    return TRIT_OK;
}

int cal_build(cal_state *st, const trit_reader *r, uint32_t eval_rows, uint32_t min_rows, trit_err *err)
{
    memset(st, 0, sizeof *st);
    st->r = r;
    st->eval_rows_max = eval_rows;
    st->min_rows = min_rows;
    st->n_layer = kv_u32(r, "model.n_layer");
    st->n_expert = kv_u32(r, "moe.n_expert");
    if (!st->n_layer || st->n_layer > 65536 || st->n_expert > 65536)
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, NULL, "model.n_layer %u / moe.n_expert %u out of range", st->n_layer,
                            st->n_expert);
    uint64_t const n_idx = ((uint64_t)st->n_layer + 1) * RUN_SITE_COUNT_;
    st->index = malloc(n_idx * sizeof *st->index);
    st->g = calloc(n_idx, sizeof *st->g);
    if (!st->index || !st->g) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    for (uint64_t i = 0; i < n_idx; i++) st->index[i] = -1;
    int rc = TRIT_OK;
    for (uint32_t L = 0; L < st->n_layer && rc == TRIT_OK; L++)
        for (uint32_t k = 0; k < RUN_SITE_OUTPUT && rc == TRIT_OK; k++) rc = add_group(st, k, L, err);
    if (rc == TRIT_OK) rc = add_group(st, RUN_SITE_OUTPUT, UINT32_MAX, err);
    if (rc == TRIT_OK && st->n_groups == 0)
        rc = trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, NULL,
                          "the model has no t2 projections: its activations are never quantized, nothing to calibrate");
    if (rc == TRIT_OK && !(st->vec = trit_mallocarray(st->max_cols ? st->max_cols : 1, CAL_NV * sizeof(float))))
        rc = trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    return rc;
}

static void member_release(cal_member *m)
{
    free(m->absmax);
    free(m->hist);
    for (int c = 0; c < CAL_N_CAND; c++) free(m->scales[c]);
    for (uint32_t k = 0; k < 3; k++) {
        free(m->wr[k].w);
        free(m->wr[k].sc);
    }
}

void cal_release(cal_state *st)
{
    for (uint32_t i = 0; st->g && i < st->n_groups; i++) {
        for (uint32_t e = 0; e < st->g[i].n_members; e++) member_release(&st->g[i].m[e]);
        free(st->g[i].m);
        free(st->g[i].absmax);
        free(st->g[i].hist);
    }
    free(st->g);
    free(st->index);
    free(st->vec);
    memset(st, 0, sizeof *st);
}

/* ---- fit pass ---------------------------------------------------------------------------- */

static uint32_t hist_bin(float a)
{
    if (!(a > 0)) return 0;
    int e;
    float const m = frexpf(a, &e);   /* a = m * 2^e, m in [0.5, 1) */
    /* log2(a) = e - 1 + log2(2m); the fraction in 1/16 octaves */
    double const l = (double)(e - 1) + log2((double)m * 2.0);
    double const b = (l - CAL_HIST_LO) * CAL_HIST_PER_OCT;
    if (b < 0) return 0;
    if (b >= CAL_HIST_BINS - 1) return CAL_HIST_BINS - 1;
    return (uint32_t)b;
}

double cal_hist_percentile(const uint32_t *hist, uint64_t n, double p)
{
    if (!n) return 0;
    double const want = p * (double)n;
    uint64_t acc = 0;
    for (uint32_t b = 0; b < CAL_HIST_BINS; b++) {
        acc += hist[b];
        if ((double)acc >= want && hist[b]) return exp2((double)(b + 1) / CAL_HIST_PER_OCT + CAL_HIST_LO);
    }
    return exp2((double)CAL_HIST_BINS / CAL_HIST_PER_OCT + CAL_HIST_LO);
}

static int member_alloc_stats(cal_member *m, uint64_t cols)
{
    if (m->absmax) return 0;
    m->absmax = calloc(cols ? cols : 1, sizeof *m->absmax);
    m->hist = calloc(CAL_HIST_BINS, sizeof *m->hist);
    return m->absmax && m->hist ? 0 : -1;
}

static void fit_rows(cal_member *m, const float *x, uint64_t ldx, uint64_t cols, uint32_t n)
{
    for (uint32_t t = 0; t < n; t++) {
        const float *row = x + (uint64_t)t * ldx;
        for (uint64_t i = 0; i < cols; i++) {
            float const a = fabsf(row[i]);
            if (!isfinite(a)) continue;
            if (a > m->absmax[i]) m->absmax[i] = a;
            m->hist[hist_bin(a)]++;
        }
    }
    m->fit_rows += n;
}

/* ---- eval pass --------------------------------------------------------------------------- */

static inline float rne(float v) { return (v + 12582912.0f) - 12582912.0f; }   /* |v| < 2^22 */

/* x quantized with scale s to +-qmax and back: the static scheme of spec 9. *clip += clipped. */
static inline float fake_static(float x, float s, float qmax, uint64_t *clip)
{
    float v = x / s;
    *clip += fabsf(v) >= qmax + 0.5f;
    if (!(v >= -qmax)) v = v != v ? 0.0f : -qmax;
    if (v > qmax) v = qmax;
    return rne(v) * s;
}

static inline int per_channel(int c) { return c == CAL_CHANNEL || c == CAL_CHANNEL16; }

static inline float cand_scale(const cal_member *m, int c, uint64_t i)
{
    uint32_t const G = k_group_size[c];
    if (per_channel(c)) return m->scales[c][i];
    if (G) return m->scales[c][i / G];
    return m->scales[c][0];
}

/* The CAL_NV versions of one activation vector into v ([cols][CAL_NV], interleaved so one
 * weight meets all of them in one pass). */
static void build_vectors(cal_group *g, const cal_member *m, const float *x, float *v)
{
    uint64_t const cols = g->cols;
    float amax = 0;
    for (uint64_t i = 0; i < cols; i++) {
        float const a = fabsf(x[i]);
        if (a > amax && isfinite(a)) amax = a;
    }
    float const s = amax > 0 ? 127.0f / amax : 0.0f, d = amax / 127.0f;
    for (uint64_t i = 0; i < cols; i++) {
        float const xi = isfinite(x[i]) ? x[i] : 0.0f;
        float *vi = v + i * CAL_NV;
        vi[0] = xi;
        float q = x[i] * s;
        if (!(q >= -127.0f)) q = q != q ? 0.0f : -127.0f;
        if (q > 127.0f) q = 127.0f;
        vi[1] = rne(q) * d;
        for (int c = 0; c < CAL_N_CAND; c++)
            vi[2 + c] = fake_static(x[i], cand_scale(m, c, i), (float)TRIT_ACT_QMAX(cal_cand_bits(c)), &g->clipped[c]);
    }
    g->values += cols;
}

/* One sampled weight row against all vectors: out[k] = sum_i w_i * scale(i) * v[i][k]. */
static void row_dot(const cal_wrows *wr, uint32_t j, const float *v, double out[CAL_NV])
{
    const int8_t *w = wr->w + (uint64_t)j * wr->cols;
    const float *sc = wr->sc + (uint64_t)j * wr->n_seg;
    for (int k = 0; k < CAL_NV; k++) out[k] = 0;
    for (uint64_t g = 0; g < wr->n_seg; g++) {
        uint64_t const lo = g * wr->seg, hi = lo + wr->seg < wr->cols ? lo + wr->seg : wr->cols;
        float acc[CAL_NV] = {0};
        for (uint64_t i = lo; i < hi; i++) {
            float const wi = (float)w[i];
            const float *vi = v + i * CAL_NV;
            for (int k = 0; k < CAL_NV; k++) acc[k] += wi * vi[k];
        }
        for (int k = 0; k < CAL_NV; k++) out[k] += (double)acc[k] * (double)sc[g];
    }
}

static void eval_rows(cal_group *g, cal_member *m, float *vec, const float *x, uint64_t ldx, uint32_t n)
{
    for (uint32_t t = 0; t < n; t++) {
        build_vectors(g, m, x + (uint64_t)t * ldx, vec);
        for (uint32_t k = 0; k < m->n_cons; k++)
            for (uint32_t j = 0; j < m->wr[k].n_rows; j++) {
                double y[CAL_NV];
                row_dot(&m->wr[k], j, vec, y);
                g->ref2 += y[0] * y[0];
                g->dyn_err2 += (y[1] - y[0]) * (y[1] - y[0]);
                g->dyn_ref2 += y[1] * y[1];
                for (int c = 0; c < CAL_N_CAND; c++) {
                    g->err2[c] += (y[2 + c] - y[0]) * (y[2 + c] - y[0]);
                    g->vsdyn2[c] += (y[2 + c] - y[1]) * (y[2 + c] - y[1]);
                }
            }
    }
    m->eval_rows += n;
    g->eval_rows += n;
}

void cal_observe(void *arg, const run_act_site *site, const float *x, uint64_t ldx, uint64_t cols, uint32_t n)
{
    cal_state *st = arg;
    if (st->rc || site->kind >= RUN_SITE_COUNT_) return;
    uint32_t const row = site->layer == UINT32_MAX ? st->n_layer : site->layer;
    if (row > st->n_layer) return;
    int32_t const gi = st->index[(uint64_t)row * RUN_SITE_COUNT_ + site->kind];
    if (gi < 0) return;
    cal_group *g = &st->g[gi];
    uint32_t const mi = g->n_members > 1 || site->kind == RUN_SITE_EXP_IN || site->kind == RUN_SITE_EXP_DOWN ? site->expert : 0;
    if (mi >= g->n_members || !g->m[mi].n_cons) return;
    cal_member *m = &g->m[mi];
    if (cols != g->cols) {
        st->rc = trit_err_set(&st->err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, NULL, "site %s of layer %u: %llu activations, its projections take %llu",
                              run_site_kind_name(site->kind), site->layer, (unsigned long long)cols, (unsigned long long)g->cols);
        return;
    }
    if (st->phase == CAL_FIT) {
        if (member_alloc_stats(m, cols)) {
            st->rc = trit_err_set(&st->err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
            return;
        }
        fit_rows(m, x, ldx, cols, n);
        g->fit_rows += n;
    } else if (m->scales[0]) {
        eval_rows(g, m, st->vec, x, ldx, n);
    }
}

/* ---- between the passes ------------------------------------------------------------------ */

/* The clip c minimizing the int8 error of values distributed as hist (step c / 127): rounding
 * below c (at most step^2 / 12, and x^2 for values that round to 0), clipping above. Tried at
 * 1/16-octave steps over six octaves below amax; bins stand for their geometric centres. */
static double mse_clip(const uint32_t *hist, double amax)
{
    double best_c = amax, best = INFINITY;
    for (int k = 0; amax > 0 && k <= 6 * CAL_HIST_PER_OCT; k++) {
        double const c = amax * exp2(-(double)k / CAL_HIST_PER_OCT), step = c / 127.0, r = step * step / 12.0;
        double e = 0;
        for (uint32_t b = 0; b < CAL_HIST_BINS; b++) {
            if (!hist[b]) continue;
            double const v = fmin(exp2(((double)b + 0.5) / CAL_HIST_PER_OCT + CAL_HIST_LO), amax);
            e += (double)hist[b] * (v <= c ? fmin(v * v, r) : (v - c) * (v - c));
        }
        if (e < best) {
            best = e;
            best_c = c;
        }
    }
    return best_c;
}

/* Scales of member m's candidates from statistics (absmax, hist). */
static int candidates(cal_member *m, uint64_t cols, const float *absmax, const uint32_t *hist)
{
    float amax = 0;
    for (uint64_t i = 0; i < cols; i++) amax = absmax[i] > amax ? absmax[i] : amax;
    /* a site that was all zeros: any scale quantizes it exactly; keep the values positive */
    float const t_scale = amax > 0 ? amax / 127.0f : 1.0f / 127.0f;
    uint64_t total = 0;
    for (uint32_t b = 0; b < CAL_HIST_BINS; b++) total += hist[b];
    for (int c = 0; c < CAL_N_CAND; c++) {
        uint32_t const G = k_group_size[c];
        uint64_t const n = per_channel(c) ? cols : G ? trit_div_ceil(cols, G) : 1;
        float const qmax = (float)TRIT_ACT_QMAX(cal_cand_bits(c));
        float *s = malloc(n * sizeof *s);
        if (!s) return -1;
        m->scales[c] = s;
        m->n_scales[c] = (uint32_t)n;
        if (c == CAL_TENSOR_P9999 || c == CAL_TENSOR_MSE) {
            double p = c == CAL_TENSOR_MSE ? mse_clip(hist, amax) : cal_hist_percentile(hist, total, 0.9999);
            if (p > amax || p <= 0) p = amax;
            s[0] = p > 0 ? (float)p / 127.0f : t_scale;
            continue;
        }
        for (uint64_t k = 0; k < n; k++) {
            float mx = 0;
            uint64_t const lo = per_channel(c) ? k : k * (G ? G : cols), hi = per_channel(c) ? k + 1 : G ? (lo + G < cols ? lo + G : cols) : cols;
            for (uint64_t i = lo; i < hi; i++) mx = absmax[i] > mx ? absmax[i] : mx;
            s[k] = mx > 0 ? mx / qmax : t_scale;
        }
    }
    for (int c = 0; c < CAL_N_CAND; c++)
        for (uint32_t k = 0; k < m->n_scales[c]; k++)
            if (!(isfinite(m->scales[c][k]) && m->scales[c][k] > 0)) m->scales[c][k] = t_scale;
    return 0;
}

/* Decode the sampled rows of t2 tensor ti (from buf, its bytes) into wr. */
static int decode_rows(cal_wrows *wr, const trit_reader *r, uint32_t ti, const uint8_t *buf, uint32_t max_rows, trit_err *err)
{
    trit_tensor_info const *t = trit_reader_tensor(r, ti);
    uint64_t const rows = t->dims[0], cols = t->dims[1], row_bytes = trit_div_ceil(cols, 128) * 32;
    wr->tensor = ti;
    wr->cols = cols;
    wr->n_rows = (uint32_t)(rows < max_rows ? rows : max_rows);
    wr->seg = t->scale_layout == TRIT_SCALE_GROUP ? t->group_size : (cols ? cols : 1);
    wr->n_seg = trit_div_ceil(cols, wr->seg);
    wr->w = trit_mallocarray((uint64_t)wr->n_rows * cols + 1, 1);
    wr->sc = trit_mallocarray((uint64_t)wr->n_rows * wr->n_seg + 1, sizeof *wr->sc);
    if (!wr->w || !wr->sc) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    for (uint32_t j = 0; j < wr->n_rows; j++) {
        uint64_t const rr = (uint64_t)j * rows / wr->n_rows;   /* evenly spread, deterministic */
        trit_t2_unpack_row(buf + rr * row_bytes, cols, wr->w + (uint64_t)j * cols);
        for (uint64_t g = 0; g < wr->n_seg; g++) {
            uint64_t k = 0;
            if (t->scale_layout == TRIT_SCALE_ROW) k = rr;
            else if (t->scale_layout == TRIT_SCALE_GROUP) k = rr * wr->n_seg + g;
            uint32_t const u = trit_load_le32(buf + t->scales_off + 4 * k);
            memcpy(&wr->sc[(uint64_t)j * wr->n_seg + g], &u, 4);
        }
    }
    return TRIT_OK;
}

static int load_rows(cal_state *st, cal_member *m, trit_err *err)
{
    for (uint32_t k = 0; k < m->n_cons; k++) {
        uint32_t const ti = m->cons[k];
        trit_tensor_info const *t = trit_reader_tensor(st->r, ti);
        int rc;
        if (t->unit == TRIT_NONE32) {
            const void *d;
            uint64_t n;
            if ((rc = trit_reader_tensor_data(st->r, ti, &d, &n, err))) return rc;
            rc = decode_rows(&m->wr[k], st->r, ti, d, st->eval_rows_max, err);
        } else {
            void *img = NULL;
            uint64_t n;
            if ((rc = trit_reader_unit_load(st->r, t->unit, &img, &n, err))) return rc;
            rc = decode_rows(&m->wr[k], st->r, ti, (const uint8_t *)img + t->offset, st->eval_rows_max, err);
            trit_free(img);
        }
        if (rc) return rc;
    }
    return TRIT_OK;
}

int cal_prepare_eval(cal_state *st, trit_err *err)
{
    for (uint32_t gi = 0; gi < st->n_groups; gi++) {
        cal_group *g = &st->g[gi];
        g->absmax = calloc(g->cols ? g->cols : 1, sizeof *g->absmax);
        g->hist = calloc(CAL_HIST_BINS, sizeof *g->hist);
        if (!g->absmax || !g->hist) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
        for (uint32_t e = 0; e < g->n_members; e++) {
            cal_member const *m = &g->m[e];
            if (!m->absmax) continue;
            for (uint64_t i = 0; i < g->cols; i++) g->absmax[i] = m->absmax[i] > g->absmax[i] ? m->absmax[i] : g->absmax[i];
            for (uint32_t b = 0; b < CAL_HIST_BINS; b++) g->hist[b] += m->hist[b];
        }
        if (!g->fit_rows) {
            char names[3][96];
            run_act_site const s = {g->kind, g->layer, 0};
            run_act_site_tensors(&s, names);
            return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, names[0],
                                "no calibration activations reached this projection; give more calibration data");
        }
        int const pooled_ok = g->n_members > 1;
        for (uint32_t e = 0; e < g->n_members; e++) {
            cal_member *m = &g->m[e];
            if (!m->n_cons) continue;
            m->own = m->absmax && (!pooled_ok || m->fit_rows >= st->min_rows);
            if (candidates(m, g->cols, m->own ? m->absmax : g->absmax, m->own ? m->hist : g->hist))
                return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
            int const rc = load_rows(st, m, err);
            if (rc) return rc;
        }
    }
    return TRIT_OK;
}

double cal_group_err(const cal_group *g, int c)
{
    return g->ref2 > 0 ? sqrt(g->err2[c] / g->ref2) : 0.0;
}
