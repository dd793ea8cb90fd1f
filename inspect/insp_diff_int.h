/* insp_diff_int.h - the result of `trit diff`, shared by insp_diff*.c. */
#ifndef INSP_DIFF_INT_H
#define INSP_DIFF_INT_H

#include <stdint.h>

#include "insp.h"

struct cJSON;

enum {
    INSP_D_SAME = 0,        /* same shape, equal values (types may differ) */
    INSP_D_VALUES,          /* same shape, values differ */
    INSP_D_SHAPE,           /* shapes differ: values not compared */
    INSP_D_ONLY_A,
    INSP_D_ONLY_B,
    INSP_D_UNCOMPARED,      /* same shape, values not comparable (no decoder) or --no-values */
    INSP_D_COUNT_
};

typedef struct insp_drow {
    char *name;                /* canonical name (owned) */
    char *name_a, *name_b;     /* names in the files (owned; NULL when absent) */
    int status;                /* INSP_D_* */
    char type_a[32], type_b[32];
    int type_changed;          /* normalized types differ */
    uint32_t n_dims_a, n_dims_b;
    uint64_t dims_a[8], dims_b[8];
    uint64_t n;                /* values compared */
    uint64_t n_diff;           /* values that differ (beyond atol, or NaN on one side only) */
    uint64_t n_nan_mismatch;   /* NaN on one side only */
    double max_abs;            /* over pairs of finite values; +inf if an infinity meets a number */
    double rel;                /* ||a-b|| / max(||a||, ||b||) */
    double cosine;             /* a.b / (|a| |b|); 1 when both are zero */
    int ternary;               /* either side is a ternary type: flips are counted */
    uint64_t flips, flips_sign, flips_zero_to_nz, flips_nz_to_zero;
    char note[128];            /* "rows of a un-permuted", "no decoder for type Q4_0_4_4" */
} insp_drow;

struct insp_diff {
    char path[2][256];
    char format[2][16];
    char version[2][16];
    insp_diff_opts opts;
    /* metadata: arrays of {"key", "a", "b"} (changed) / {"key", "value"} (only in one) */
    struct cJSON *meta_changed, *meta_only_a, *meta_only_b;
    uint64_t meta_same;
    uint64_t meta_uncomparable[2];   /* keys with no counterpart in the other format */
    insp_drow *rows;
    uint64_t n_rows, cap_rows;
    uint64_t counts[INSP_D_COUNT_];
    uint64_t n_type_changed;
    struct cJSON *notes;       /* array of strings */
};

/* Metadata part of the diff (insp_diff_meta.c). ma/mb are the inspect models' metadata. */
int insp__diff_meta(insp_diff *d, const struct cJSON *ma, const struct cJSON *mb, const struct cJSON *derived_a,
                   const struct cJSON *derived_b, trit_err *err);
/* 1 if two JSON values mean the same (numbers equal at f32 precision, bool == 0/1). */
int insp__json_equal(const struct cJSON *a, const struct cJSON *b);

#endif /* INSP_DIFF_INT_H */
