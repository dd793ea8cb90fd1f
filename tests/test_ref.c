/* test_ref.c - shared pieces of the independent reference forward passes (test_ref.h). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "test.h"
#include "test_ref.h"

int test_ref_open(test_ref *r, const gen_opts *o, const char *dir)
{
    memset(r, 0, sizeof *r);
    trit_err err;
    if (gen_plan_build(o, &r->p, &err)) return -1;
    r->val = calloc(r->p.n, sizeof *r->val);
    size_t n;
    uint8_t *b = test_read_file(test_path(dir, "config.json"), &n);
    r->cfg = b ? cJSON_ParseWithLength((const char *)b, n) : NULL;
    free(b);
    return r->cfg && r->val ? 0 : -1;
}

void test_ref_close(test_ref *r)
{
    for (uint32_t i = 0; r->val && i < r->p.n; i++) free(r->val[i]);
    free(r->val);
    cJSON_Delete(r->cfg);
    gen_plan_release(&r->p);
    memset(r, 0, sizeof *r);
}

const double *test_ref_tensor(test_ref *r, const char *fmt, ...)
{
    char name[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    for (uint32_t i = 0; i < r->p.n; i++) {
        if (strcmp(r->p.t[i].name, name)) continue;
        if (!r->val[i]) {
            uint64_t const n = gen_logical_nelems(&r->p.t[i]);
            r->val[i] = malloc(n * sizeof(double));
            if (!r->val[i]) return NULL;
            for (uint64_t e = 0; e < n; e++) r->val[i][e] = gen_value(&r->p.t[i], e);
        }
        return r->val[i];
    }
    test_fail_(__FILE__, __LINE__, "reference: no tensor %s", name);
    return NULL;
}

double test_ref_num(const cJSON *c, const char *key, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, key);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

void test_ref_rmsnorm(double *out, const double *x, const double *w, uint32_t n, double eps)
{
    double ss = 0;
    for (uint32_t i = 0; i < n; i++) ss += x[i] * x[i];
    double const s = 1.0 / sqrt(ss / n + eps);
    for (uint32_t i = 0; i < n; i++) out[i] = x[i] * s * w[i];
}

void test_ref_matvec(double *y, const double *W, const double *x, uint32_t rows, uint32_t cols)
{
    for (uint32_t r = 0; r < rows; r++) {
        double a = 0;
        for (uint32_t c = 0; c < cols; c++) a += W[(uint64_t)r * cols + c] * x[c];
        y[r] = a;
    }
}

void test_ref_proj(const test_ref *r, double *y, const double *W, const double *x, uint32_t rows, uint32_t cols)
{
    double *xq = malloc(cols * sizeof *xq);
    if (!xq) return;
    float amax = 0;
    for (uint32_t i = 0; i < cols; i++) amax = fabsf((float)x[i]) > amax ? fabsf((float)x[i]) : amax;
    float const s = amax > 0 ? 127.0f / amax : 0.0f;
    for (uint32_t i = 0; i < cols; i++) {
        if (!r->quant) {
            xq[i] = x[i];
            continue;
        }
        float v = (float)x[i] * s;
        v = v > 127 ? 127 : v < -127 ? -127 : v;
        xq[i] = nearbyintf(v) * (double)(amax / 127.0f);
    }
    test_ref_matvec(y, W, xq, rows, cols);
    free(xq);
}

static double silu(double g) { return g / (1 + exp(-g)); }

void test_ref_mlp(test_ref *r, double *out, const double *x, uint32_t E, uint32_t F, const char *prefix)
{
    double *g = malloc(F * sizeof *g), *u = malloc(F * sizeof *u);
    const double *Wg = test_ref_tensor(r, "%s.gate_proj.weight", prefix), *Wu = test_ref_tensor(r, "%s.up_proj.weight", prefix),
                 *Wd = test_ref_tensor(r, "%s.down_proj.weight", prefix);
    if (g && u && Wg && Wu && Wd) {
        test_ref_proj(r, g, Wg, x, F, E);
        test_ref_proj(r, u, Wu, x, F, E);
        for (uint32_t i = 0; i < F; i++) g[i] = silu(g[i]) * u[i];
        test_ref_proj(r, out, Wd, g, E, F);
    }
    free(g);
    free(u);
}

void test_ref_rope_halves(double *x, uint32_t d, const double *inv_freq, double mscale, uint32_t pos)
{
    uint32_t const h = d / 2;
    for (uint32_t j = 0; j < h; j++) {
        double const ang = pos * inv_freq[j];
        double const cs = cos(ang) * mscale, sn = sin(ang) * mscale;
        double const a = x[j], b = x[j + h];
        x[j] = a * cs - b * sn;         /* j < h: rotate_half gives -x[j + h] */
        x[j + h] = b * cs + a * sn;     /* j >= h: rotate_half gives x[j - h] */
    }
}

void test_ref_attention(double *att, const double *q, const double *k, const double *v, uint32_t t, uint32_t H,
                        uint32_t KV, uint32_t hd, double scale, double *sc)
{
    uint32_t const group = H / KV;
    for (uint32_t hh = 0; hh < H; hh++) {
        uint32_t const kh = hh / group;   /* repeat_kv */
        double mx = -INFINITY, sum = 0;
        for (uint32_t p = 0; p <= t; p++) {
            double d = 0;
            for (uint32_t i = 0; i < hd; i++) d += q[(size_t)hh * hd + i] * k[((size_t)p * KV + kh) * hd + i];
            sc[p] = d * scale;
            mx = sc[p] > mx ? sc[p] : mx;
        }
        for (uint32_t p = 0; p <= t; p++) sum += sc[p] = exp(sc[p] - mx);
        for (uint32_t i = 0; i < hd; i++) {
            double a = 0;
            for (uint32_t p = 0; p <= t; p++) a += sc[p] / sum * v[((size_t)p * KV + kh) * hd + i];
            att[(size_t)hh * hd + i] = a;
        }
    }
}

void test_ref_top5(const double *l, uint32_t n, uint32_t *out)
{
    for (int j = 0; j < 5; j++) {
        uint32_t best = UINT32_MAX;
        for (uint32_t i = 0; i < n; i++) {
            int taken = 0;
            for (int k = 0; k < j; k++) taken |= out[k] == i;
            if (!taken && (best == UINT32_MAX || l[i] > l[best])) best = i;
        }
        out[j] = best;
    }
}

int test_ref_same5(const uint32_t *a, const uint32_t *b)
{
    for (int i = 0; i < 5; i++) {
        int f = 0;
        for (int j = 0; j < 5; j++) f |= a[i] == b[j];
        if (!f) return 0;
    }
    return 1;
}

typedef struct ref_cmp {
    double worst, worst_float, range;   /* token mode, float mode, max |reference logit| */
    int top5_ok, n_seq;
} ref_cmp;

/* Every sequence through `trit run` on model and through fwd (token mode; float mode too when
 * with_float). */
static void compare(const char *family, const char *label, const char *model, test_ref *r, uint32_t n_vocab,
                    test_ref_forward_fn fwd, void *ctx, int with_float, ref_cmp *st)
{
    static const char *const seqs[] = {"1", "1,2,3", "5,6,7,8,9,10,11,12", "100,3,250,77,42,42,42,42,9,99,199,300,301,302,303,304"};
    memset(st, 0, sizeof *st);
    st->n_seq = (int)(sizeof seqs / sizeof seqs[0]);
    double *ref = calloc(n_vocab, sizeof *ref), *reff = calloc(n_vocab, sizeof *reff), *run = calloc(n_vocab, sizeof *run);
    for (int s = 0; s < st->n_seq && ref && reff && run; s++) {
        char lg[4200];
        snprintf(lg, sizeof lg, "%s.%d.logits", model, s);
        char *msg = NULL;
        int const rc = test_runf(&msg, "'%s' run '%s' --tokens %s -n 0 --logits '%s' 2>&1", test_trit_bin(), model, seqs[s], lg);
        if (rc != 0) test_fail_(__FILE__, __LINE__, "%s %s: run exit %d: %s", family, label, rc, msg ? msg : "");
        free(msg);
        size_t nb = 0;
        uint8_t *b = test_read_file(lg, &nb);
        if (!b || nb != (size_t)n_vocab * 4) {
            test_fail_(__FILE__, __LINE__, "%s %s: logits file of %zu bytes", family, label, nb);
            free(b);
            continue;
        }
        uint32_t tok[64], n = 0;
        char *p = NULL;
        for (const char *q = seqs[s]; *q && n < 64; q = *p == ',' ? p + 1 : p) tok[n++] = (uint32_t)strtoul(q, &p, 10);
        r->quant = 1;
        CHECK(fwd(ctx, tok, n, ref) == 0);
        r->quant = 0;
        if (with_float) CHECK(fwd(ctx, tok, n, reff) == 0);
        for (uint32_t i = 0; i < n_vocab; i++) {
            float f;
            memcpy(&f, b + 4 * i, 4);
            run[i] = f;
            double const d = fabs(run[i] - ref[i]), df = with_float ? fabs(run[i] - reff[i]) : 0;
            st->worst = d > st->worst ? d : st->worst;
            st->worst_float = df > st->worst_float ? df : st->worst_float;
            st->range = fabs(ref[i]) > st->range ? fabs(ref[i]) : st->range;
        }
        uint32_t a[5], c5[5];
        test_ref_top5(run, n_vocab, a);
        test_ref_top5(ref, n_vocab, c5);
        st->top5_ok += test_ref_same5(a, c5);
        free(b);
    }
    free(ref);
    free(reff);
    free(run);
}

void test_ref_agree(const char *family, const char *label, const char *model, test_ref *r, uint32_t n_vocab,
                    test_ref_forward_fn fwd, void *ctx, double tol, double *worst_out)
{
    ref_cmp st;
    compare(family, label, model, r, n_vocab, fwd, ctx, 1, &st);
    printf("    %s %s: trit run vs the reference: max|dlogit| %.3g (logits up to %.3g), top-5 %d/%d; vs the unquantized "
           "reference %.3g\n", family, label, st.worst, st.range, st.top5_ok, st.n_seq, st.worst_float);
    if (st.worst > tol || st.top5_ok != st.n_seq)
        test_fail_(__FILE__, __LINE__, "%s %s: max|dlogit| %g (tol %g), top-5 sets equal %d/%d", family, label, st.worst, tol,
                   st.top5_ok, st.n_seq);
    if (worst_out) *worst_out = st.worst;
}

double test_ref_distance(const char *family, const char *label, const char *model, test_ref *r, uint32_t n_vocab,
                         test_ref_forward_fn fwd, void *ctx)
{
    ref_cmp st;
    compare(family, label, model, r, n_vocab, fwd, ctx, 0, &st);
    return st.worst;
}
