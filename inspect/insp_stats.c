/* insp_stats.c - per-tensor statistics for `trit inspect --stats`: values are streamed a chunk
 * of whole rows at a time through the converter's exact-ternary scan (convert/cvt_ternary.h),
 * so inspect and convert agree on what "ternary per tensor / row / group" means. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cvt_ternary.h"
#include "insp.h"
#include "trit_safemath.h"

#define CHUNK_VALUES (1u << 20)

int insp_tensor_stats(insp_model *m, uint64_t i, insp_stats *st, trit_err *err)
{
    memset(st, 0, sizeof *st);
    insp_tensor const *t = &m->tensors[i];
    if (!m->read_f32 || !t->readable)
        return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, t->name, "cannot decode type %s", t->type);
    uint64_t n = 1;
    for (uint32_t d = 0; d < t->n_dims; d++)
        if (trit_mul_u64(n, t->dims[d], &n)) return trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, t->name, "too many elements");
    uint64_t const cols = t->n_dims && t->dims[t->n_dims - 1] ? t->dims[t->n_dims - 1] : 1;
    uint64_t rows_per_chunk = CHUNK_VALUES / cols;
    if (rows_per_chunk == 0) rows_per_chunk = 1;
    uint64_t chunk = rows_per_chunk * cols;
    if (chunk > n) chunk = n ? n : 1;
    float *buf = trit_mallocarray((size_t)chunk, sizeof *buf);
    if (!buf) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, t->name, "out of memory");
    cvt_tscan sc;
    cvt_tscan_init(&sc, cols);
    int rc = TRIT_OK;
    for (uint64_t first = 0; first < n && rc == TRIT_OK; first += chunk) {
        uint64_t const k = n - first < chunk ? n - first : chunk;
        rc = m->read_f32(m->ctx, i, first, k, buf, err);
        if (rc == TRIT_OK) cvt_tscan_feed(&sc, buf, k);
    }
    free(buf);
    if (rc) return rc;
    cvt_tscan_result r;
    cvt_tscan_result_get(&sc, &r);
    st->n = n;
    st->min = n && sc.min <= sc.max ? sc.min : 0;
    st->max = n && sc.min <= sc.max ? sc.max : 0;
    st->mean_abs = sc.n_nonfinite ? NAN : r.mean_abs;
    st->n_zero = sc.n_zero;
    st->n_neg = sc.n_neg;
    st->n_pos = sc.n_pos;
    st->all_zero = r.all_zero;
    st->ternary = r.ternary;
    if (r.ternary) {
        static const char *const names[] = {"", "tensor", "row", "group"};
        snprintf(st->granularity, sizeof st->granularity, "%s", names[r.layout]);
        st->group_size = r.group;
        st->scale = r.tensor_mag;
    }
    return TRIT_OK;
}
