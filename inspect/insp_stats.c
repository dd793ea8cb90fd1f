/* insp_stats.c - per-tensor statistics for `trit inspect --stats`.
 *
 * Values are streamed a chunk of whole rows at a time (memory does not grow with tensor size).
 * Ternary detection: a tensor is exactly ternary at some granularity when every value is 0 or
 * +/- one magnitude shared by its scope. Scopes tried together in one pass: the whole tensor,
 * each row, and groups of G consecutive weights of a row for G = 16, 32, ... < row length.
 * The coarsest scope that holds is reported (tensor, then row, then the largest group).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "insp.h"
#include "trit_safemath.h"

#define MAX_SCOPES 32
#define CHUNK_VALUES (1u << 20)

typedef struct scope {
    uint64_t group;            /* 0 = tensor, UINT64_MAX = row, else group size */
    int ok;
    float mag;                 /* magnitude seen in the current scope instance, 0 if none yet */
} scope;

static void scope_feed(scope *s, float a, uint64_t col)
{
    if (!s->ok) return;
    if (s->group != 0 && s->group != UINT64_MAX && col % s->group == 0) s->mag = 0;
    if (a == 0.0f) return;
    if (s->mag == 0.0f) s->mag = a;
    else if (s->mag != a) s->ok = 0;
}

int insp_tensor_stats(insp_model *m, uint64_t i, insp_stats *st, trit_err *err)
{
    memset(st, 0, sizeof *st);
    insp_tensor const *t = &m->tensors[i];
    if (!m->read_f32 || !t->readable)
        return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, t->name, "cannot decode type %s", t->type);
    uint64_t n = 1;
    for (uint32_t d = 0; d < t->n_dims; d++)
        if (trit_mul_u64(n, t->dims[d], &n)) return trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, t->name, "too many elements");
    uint64_t const cols = t->n_dims ? (t->dims[t->n_dims - 1] ? t->dims[t->n_dims - 1] : 1) : 1;

    scope sc[MAX_SCOPES];
    int nsc = 0;
    sc[nsc++] = (scope){0, 1, 0};
    sc[nsc++] = (scope){UINT64_MAX, 1, 0};
    for (uint64_t g = 16; g < cols && nsc < MAX_SCOPES; g *= 2) sc[nsc++] = (scope){g, 1, 0};

    uint64_t rows_per_chunk = CHUNK_VALUES / cols;
    if (rows_per_chunk == 0) rows_per_chunk = 1;
    uint64_t chunk = rows_per_chunk * cols;
    if (chunk > n) chunk = n ? n : 1;
    float *buf = trit_mallocarray((size_t)chunk, sizeof *buf);
    if (!buf) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, t->name, "out of memory");
    double sum_abs = 0;
    st->min = INFINITY;
    st->max = -INFINITY;
    int rc = TRIT_OK;
    for (uint64_t first = 0; first < n; first += chunk) {
        uint64_t const k = n - first < chunk ? n - first : chunk;
        rc = m->read_f32(m->ctx, i, first, k, buf, err);
        if (rc) break;
        for (uint64_t j = 0; j < k; j++) {
            float const v = buf[j];
            uint64_t const col = (first + j) % cols;
            if (v < st->min) st->min = v;
            if (v > st->max) st->max = v;
            float const a = fabsf(v);
            sum_abs += a;
            if (v == 0.0f) st->n_zero++;
            else if (v < 0) st->n_neg++;
            else st->n_pos++;
            if (col == 0) sc[1].mag = 0; /* new row */
            for (int s = 0; s < nsc; s++) scope_feed(&sc[s], isnan(v) ? -1.0f : a, col);
        }
    }
    free(buf);
    if (rc) return rc;
    st->n = n;
    if (n == 0) { st->min = st->max = 0; }
    st->mean_abs = n ? sum_abs / (double)n : 0;
    st->all_zero = n > 0 && st->n_zero == n;
    /* ternary when the finest scope holds (groups of 16, or the row when rows are short) and
     * there are enough values for that to mean something */
    scope const *finest = nsc > 2 ? &sc[2] : &sc[1];
    st->ternary = !st->all_zero && n >= 16 && finest->ok; /* too few values say nothing */
    if (st->ternary) {
        if (sc[0].ok) {
            snprintf(st->granularity, sizeof st->granularity, "tensor");
            st->scale = sc[0].mag;
        } else if (sc[1].ok) {
            snprintf(st->granularity, sizeof st->granularity, "row");
        } else {
            for (int s = nsc - 1; s >= 2; s--)
                if (sc[s].ok && (s == nsc - 1 || !sc[s + 1].ok)) {
                    snprintf(st->granularity, sizeof st->granularity, "group");
                    st->group_size = sc[s].group;
                    break;
                }
        }
    }
    return TRIT_OK;
}
