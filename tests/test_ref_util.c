/* test_ref_util.c - helpers of the independent reference forward passes (test_ref_util.h). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "test.h"
#include "test_ref_util.h"

int ref_tensors_open(ref_tensors *t, const gen_opts *o, const char *dir)
{
    memset(t, 0, sizeof *t);
    trit_err err;
    if (gen_plan_build(o, &t->p, &err)) return -1;
    t->val = calloc(t->p.n ? t->p.n : 1, sizeof *t->val);
    size_t n;
    uint8_t *b = test_read_file(test_path(dir, "config.json"), &n);
    t->cfg = b ? cJSON_ParseWithLength((const char *)b, n) : NULL;
    free(b);
    return t->val && t->cfg ? 0 : -1;
}

double ref_cfgnum(const cJSON *c, const char *key, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, key);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

void ref_tensors_close(ref_tensors *t)
{
    for (uint32_t i = 0; t->val && i < t->p.n; i++) free(t->val[i]);
    free(t->val);
    t->val = NULL;
    cJSON_Delete(t->cfg);
    t->cfg = NULL;
    gen_plan_release(&t->p);
}

int ref_has(const ref_tensors *t, const char *name)
{
    for (uint32_t i = 0; i < t->p.n; i++)
        if (!strcmp(t->p.t[i].name, name)) return 1;
    return 0;
}

const double *ref_tv(ref_tensors *t, const char *fmt, ...)
{
    char name[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    for (uint32_t i = 0; i < t->p.n; i++) {
        if (strcmp(t->p.t[i].name, name)) continue;
        if (!t->val[i]) {
            uint64_t const n = gen_logical_nelems(&t->p.t[i]);
            t->val[i] = malloc(n * sizeof(double));
            if (!t->val[i]) return NULL;
            for (uint64_t e = 0; e < n; e++) t->val[i][e] = gen_value(&t->p.t[i], e);
        }
        return t->val[i];
    }
    test_fail_(__FILE__, __LINE__, "reference: no tensor %s", name);
    return NULL;
}

void ref_matvec(double *y, const double *W, const double *x, uint32_t rows, uint32_t cols)
{
    for (uint32_t r = 0; r < rows; r++) {
        double a = 0;
        for (uint32_t c = 0; c < cols; c++) a += W[(uint64_t)r * cols + c] * x[c];
        y[r] = a;
    }
}

void ref_proj(double *y, const double *W, const double *x, uint32_t rows, uint32_t cols, int quant)
{
    double *xq = malloc(cols * sizeof *xq);
    if (!xq) return;
    float amax = 0;
    for (uint32_t i = 0; i < cols; i++) amax = fabsf((float)x[i]) > amax ? fabsf((float)x[i]) : amax;
    float const s = amax > 0 ? 127.0f / amax : 0.0f;
    for (uint32_t i = 0; i < cols; i++) {
        if (!quant) {
            xq[i] = x[i];
            continue;
        }
        float v = (float)x[i] * s;
        v = v > 127 ? 127 : v < -127 ? -127 : v;
        xq[i] = nearbyintf(v) * (double)(amax / 127.0f);
    }
    ref_matvec(y, W, xq, rows, cols);
    free(xq);
}

uint32_t ref_parse_tokens(const char *seq, uint32_t *tok, uint32_t cap)
{
    uint32_t n = 0;
    char *p = NULL;
    for (const char *q = seq; *q && n < cap; q = *p == ',' ? p + 1 : p) {
        tok[n++] = (uint32_t)strtoul(q, &p, 10);
        if (p == q) break;
    }
    return n;
}

int ref_run_logits(const char *model, const char *seq, const char *logits_path, uint32_t n_vocab, double *out)
{
    char *msg = NULL;
    int const rc = test_runf(&msg, "'%s' run '%s' --tokens %s -n 0 --logits '%s' 2>&1", test_trit_bin(), model, seq,
                             logits_path);
    if (rc != 0) {
        test_fail_(__FILE__, __LINE__, "%s: run exit %d: %s", model, rc, msg ? msg : "");
        free(msg);
        return -1;
    }
    free(msg);
    size_t nb = 0;
    uint8_t *b = test_read_file(logits_path, &nb);
    if (!b || nb != (size_t)n_vocab * 4) {
        test_fail_(__FILE__, __LINE__, "%s: logits file of %zu bytes, expected %u", model, nb, n_vocab * 4);
        free(b);
        return -1;
    }
    for (uint32_t i = 0; i < n_vocab; i++) {
        float f;
        memcpy(&f, b + 4 * i, 4);
        out[i] = f;
    }
    free(b);
    return 0;
}

void ref_top5(const double *l, uint32_t n, uint32_t out[5])
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

int ref_same5(const uint32_t a[5], const uint32_t b[5])
{
    for (int i = 0; i < 5; i++) {
        int f = 0;
        for (int j = 0; j < 5; j++) f |= a[i] == b[j];
        if (!f) return 0;
    }
    return 1;
}

int ref_convert(const char *dir, const char *out)
{
    char *msg = NULL;
    int const rc = test_runf(&msg, "'%s' convert -q -f '%s' -o '%s' 2>&1", test_trit_bin(), dir, out);
    if (rc != 0) test_fail_(__FILE__, __LINE__, "%s: convert exit %d: %s", dir, rc, msg ? msg : "");
    free(msg);
    return rc == 0 ? 0 : -1;
}

void ref_compare(const char *model, uint32_t n_vocab, ref_forward_fn fwd, ref_seq_fn each, void *ctx, ref_stats *st)
{
    static const char *const seqs[] = {"1", "1,2,3", "5,6,7,8,9,10,11,12",
                                       "100,3,250,77,42,42,42,42,9,99,199,300,301,302,303,304"};
    memset(st, 0, sizeof *st);
    st->n_seq = (int)(sizeof seqs / sizeof seqs[0]);
    double *ref = calloc(n_vocab, sizeof *ref), *reff = calloc(n_vocab, sizeof *reff), *run = calloc(n_vocab, sizeof *run);
    for (int s = 0; s < st->n_seq && ref && reff && run; s++) {
        char lg[4300];
        snprintf(lg, sizeof lg, "%s.%d.logits", model, s);
        if (ref_run_logits(model, seqs[s], lg, n_vocab, run)) continue;
        uint32_t tok[64];
        uint32_t const n = ref_parse_tokens(seqs[s], tok, 64);
        if (fwd(ctx, tok, n, 1, ref) || fwd(ctx, tok, n, 0, reff)) {
            test_fail_(__FILE__, __LINE__, "%s: the reference forward pass failed", model);
            continue;
        }
        for (uint32_t i = 0; i < n_vocab; i++) {
            st->worst = fmax(st->worst, fabs(run[i] - ref[i]));
            st->worst_float = fmax(st->worst_float, fabs(run[i] - reff[i]));
            st->range = fmax(st->range, fabs(ref[i]));
        }
        uint32_t a[5], b[5];
        ref_top5(run, n_vocab, a);
        ref_top5(ref, n_vocab, b);
        st->top5_ok += ref_same5(a, b);
        if (each) each(ctx, tok, n, run);
    }
    free(ref);
    free(reff);
    free(run);
}
