/*
 * cal_int.h - private to the calibration files (cal*.c): the per-site state the
 * runner's activation observer fills, and the steps cal.c runs.
 */
#ifndef CAL_INT_H
#define CAL_INT_H

#include <stdint.h>

#include "cal.h"
#include "run.h"

/* Histogram of |x|: 16 bins per octave over [2^-40, 2^40); smaller values go to bin 0, larger
 * to the last. Percentiles read the upper edge of a bin (at most 4.4% above the true value). */
#define CAL_HIST_PER_OCT 16
#define CAL_HIST_LO (-40)
#define CAL_HIST_BINS (80 * CAL_HIST_PER_OCT)

#define CAL_NV (2 + CAL_N_CAND)   /* vectors per evaluated row: x, dynamic, candidates */

/* Sampled rows of one t2 projection, decoded for the error measurement. */
typedef struct cal_wrows {
    uint32_t tensor;           /* tensor index */
    uint32_t n_rows;           /* rows sampled */
    uint64_t cols;
    uint64_t seg, n_seg;       /* weight-scale segment (group size, or cols) and segments per row */
    int8_t *w;                 /* [n_rows][cols] values -1/0/+1 */
    float *sc;                 /* [n_rows][n_seg] weight scales */
} cal_wrows;

/* One activation vector: a non-expert site, or one expert of an expert site. */
typedef struct cal_member {
    uint32_t n_cons;           /* t2 projections reading it (0: absent expert) */
    uint32_t cons[3];          /* their tensor indices */
    uint64_t fit_rows, eval_rows;
    float *absmax;             /* [cols] absmax per channel over the fit rows */
    uint32_t *hist;            /* [CAL_HIST_BINS] of |x| over the fit rows */
    int own;                   /* candidates from its own statistics (else the group's pool) */
    float *scales[CAL_N_CAND];
    uint32_t n_scales[CAL_N_CAND];
    cal_wrows wr[3];           /* sampled rows of each projection (eval pass) */
} cal_member;

/* A site of a layer: one member, or one per expert. */
typedef struct cal_group {
    uint32_t kind, layer;      /* run_site_kind; layer UINT32_MAX for the output head */
    uint64_t cols;
    uint32_t n_members;
    cal_member *m;
    /* pooled statistics (every member's fit rows) */
    float *absmax;
    uint32_t *hist;
    uint64_t fit_rows, eval_rows;
    /* held-out accumulators */
    double ref2;               /* sum y^2, y with unquantized activations */
    double dyn_err2, dyn_ref2; /* sum (y_dyn - y)^2, sum y_dyn^2 */
    double err2[CAL_N_CAND], vsdyn2[CAL_N_CAND];
    uint64_t values, clipped[CAL_N_CAND];
} cal_group;

enum { CAL_FIT = 0, CAL_EVAL = 1 };

typedef struct cal_state {
    const trit_reader *r;
    uint32_t eval_rows_max;    /* opts: rows sampled per projection */
    uint32_t min_rows;
    int phase;                 /* CAL_FIT or CAL_EVAL */
    uint32_t n_layer, n_expert;
    uint32_t n_groups;
    cal_group *g;
    int32_t *index;            /* [(n_layer + 1) * RUN_SITE_COUNT_] group of (layer, kind), or -1 */
    uint64_t max_cols;
    float *vec;                /* [max_cols][CAL_NV] scratch of the eval pass */
    int rc;                    /* first failure inside the observer */
    trit_err err;
} cal_state;

/* cal_stats.c */
/* Find every t2 projection of r and group them by site; TRIT_E_UNSUPPORTED when there is none. */
int cal_build(cal_state *st, const trit_reader *r, uint32_t eval_rows, uint32_t min_rows, trit_err *err);
void cal_release(cal_state *st);
/* The runner's observer (run_act_observe_fn); arg is the cal_state. */
void cal_observe(void *arg, const run_act_site *site, const float *x, uint64_t ldx, uint64_t cols, uint32_t n);
/* After the fit pass: pooled statistics, every member's candidate scales, sampled weight rows. */
int cal_prepare_eval(cal_state *st, trit_err *err);
/* Percentile p (0..1) of |x| from a histogram of n values; 0 when n is 0. */
double cal_hist_percentile(const uint32_t *hist, uint64_t n, double p);
/* Group g's relative error of candidate c (sqrt(err2 / ref2)); 0 without held-out data. */
double cal_group_err(const cal_group *g, int c);

/* cal_eval.c */
/* KL(softmax(a) || softmax(b)) of two logit vectors, in double (nats, >= 0). */
double cal_kl_logits(const float *a, const float *b, uint32_t n);
/* Index of the largest of n values (the first on ties). */
uint32_t cal_argmax(const float *x, uint32_t n);

#endif /* CAL_INT_H */
