/* cvt_ternary.h - is a float tensor exactly ternary, and at what granularity? (cvt_ternary.c)
 *
 * One streaming pass over a tensor's values (any chunking, in row-major order) answers it for
 * every scope at once: the whole tensor, each row, and groups of G consecutive weights of a row
 * for G = 16, 32, 64, ... < row length. A scope holds when all its non-zero values share one
 * magnitude. Used by `trit convert` (to store t2 losslessly) and `trit inspect --stats`. */
#ifndef CVT_TERNARY_H
#define CVT_TERNARY_H

#include <stdint.h>

#define CVT_TSCAN_MAX_SCOPES 32

typedef struct cvt_tscan_scope {
    uint64_t group;            /* 0 = tensor, UINT64_MAX = row, else weights per group */
    int ok;
    float mag;                 /* magnitude in the current scope instance (0: none yet) */
} cvt_tscan_scope;

typedef struct cvt_tscan {
    uint64_t cols;             /* row length */
    uint64_t pos;              /* values seen */
    cvt_tscan_scope sc[CVT_TSCAN_MAX_SCOPES];
    int n_scopes;
    double sum_abs;
    double min, max;
    uint64_t n_zero, n_neg, n_pos, n_nonfinite;
} cvt_tscan;

/* Start a scan of a tensor whose rows have `cols` values (1 for 0-d/1-element). */
void cvt_tscan_init(cvt_tscan *s, uint64_t cols);
/* Feed the next n values. */
void cvt_tscan_feed(cvt_tscan *s, const float *x, uint64_t n);

typedef struct cvt_tscan_result {
    int ternary;               /* the finest scope holds, there are >= 16 values, not all zero */
    int all_zero;
    int layout;                /* TRIT_SCALE_TENSOR | TRIT_SCALE_ROW | TRIT_SCALE_GROUP */
    uint64_t group;            /* for TRIT_SCALE_GROUP */
    float tensor_mag;          /* for TRIT_SCALE_TENSOR */
    double mean_abs;
} cvt_tscan_result;

void cvt_tscan_result_get(const cvt_tscan *s, cvt_tscan_result *r);

#endif
