/* exg_int.h - what the exg*.c files share (not a public API). */
#ifndef EXG_INT_H
#define EXG_INT_H

#include <stddef.h>
#include <stdint.h>

#include "exg.h"

/* GGUF KV value types (formats.md 1.3) and the ggml types export writes (1.7). */
enum {
    EXG_U8 = 0, EXG_I8 = 1, EXG_U16 = 2, EXG_I16 = 3, EXG_U32 = 4, EXG_I32 = 5, EXG_F32 = 6,
    EXG_BOOL = 7, EXG_STRING = 8, EXG_ARRAY = 9, EXG_U64 = 10, EXG_I64 = 11, EXG_F64 = 12
};
enum {
    EXG_T_F32 = 0, EXG_T_F16 = 1, EXG_T_I8 = 24, EXG_T_I32 = 26, EXG_T_BF16 = 30,
    EXG_T_TQ1_0 = 34, EXG_T_TQ2_0 = 35,
    /* the container's ggml block types (spec/container.md 6.3), written back as they came */
    EXG_T_Q8_0 = 8, EXG_T_Q4_K = 12, EXG_T_Q6_K = 14, EXG_T_MXFP4 = 39
};
#define EXG_QK 256u                /* TQ block: 256 weights */
#define EXG_TQ2_BYTES 66u
#define EXG_TQ1_BYTES 54u
#define EXG_MAX_NAME 63u           /* ggml: GGML_MAX_NAME 64 including the NUL */

/* A growable byte buffer; `oom` sticks so callers check once. */
typedef struct exg__buf {
    uint8_t *p;
    size_t len, cap;
    int oom;
} exg__buf;

void exg__put(exg__buf *b, const void *p, size_t n);
void exg__put_u32(exg__buf *b, uint32_t v);
void exg__put_u64(exg__buf *b, uint64_t v);
void exg__put_str(exg__buf *b, const char *s, size_t n);  /* u64 len + bytes */

/* One output tensor with what the writer needs beyond the public row. */
typedef struct exg__out {
    exg_tensor pub;
    char name[EXG_MAX_NAME + 1];
    uint32_t *srcs;            /* n_src container tensor indices (expert order) */
    int unit_d;                /* TQ blocks carry d = 1; the scale is in the next .scale tensor */
    uint32_t perm_head_dim;    /* 0 = rows in place; else neox -> normal permute per head */
    uint32_t perm_rope_dim;    /* rotated dims per head (<= perm_head_dim, even) */
    uint32_t mla_nope, mla_v;  /* EXG_BY_MLA_K/V: per-head k_nope and v rows of attn_kv_b */
} exg__out;

struct exg_plan {
    const trit_reader *r;      /* borrowed */
    uint32_t flags;
    uint32_t alignment;
    int norm_rope;             /* Q/K permuted */
    char arch[32];             /* GGUF architecture */
    char src_arch[64];         /* container architecture */
    exg_summary sum;
    exg__out *t;        /* n_t outputs, file order */
    uint32_t n_t;
    uint32_t *pool;            /* backing store of every out->srcs */
    uint8_t *hdr;              /* the whole GGUF header incl. infos and padding */
    size_t hdr_len;
    char **warn;
    uint32_t n_warn;
    uint64_t max_unit;         /* largest decoded unit, for the one unit buffer */
    uint64_t max_row;          /* largest output row in bytes */
    uint64_t max_cols;         /* longest source row in elements */
};

/* Add a printf-style warning to the plan (dropped silently when out of memory: warnings are
 * advice, never needed for correctness). */
void exg__warn(exg_plan *p, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Container KV lookups: TRIT_OK, TRIT_E_NOTFOUND when absent, TRIT_E_CORRUPT (err says the
 * key) when present with a type or value that does not fit. */
int exg__kv_u32(const trit_reader *r, const char *key, uint32_t *out, trit_err *err);
int exg__kv_f32(const trit_reader *r, const char *key, float *out, trit_err *err);
int exg__kv_bool(const trit_reader *r, const char *key, int *out, trit_err *err);
/* String KV copied into buf (NUL-terminated; TRIT_E_CORRUPT if it does not fit or has NUL). */
int exg__kv_str(const trit_reader *r, const char *key, char *buf, size_t n, trit_err *err);

/* Plan the tensors (exg_plan.c): fills p->t, p->n_t, p->pool and the summary counts. */
int exg__plan_tensors(exg_plan *p, trit_err *err);
/* Append every KV to kv and count them (exg_meta.c). Runs after plan_tensors. */
int exg__plan_meta(exg_plan *p, exg__buf *kv, uint64_t *n_kv, trit_err *err);

/* Scale of weight (row, col) of a t2 tensor (spec 6.1); scales points at its f32 scales. */
float exg__scale_at(const trit_tensor_info *t, const uint8_t *scales, uint64_t row,
                           uint64_t col, uint64_t cols);
/* 1 if s is exact enough as an f16 block scale: 0, or a normal f16 (|s| in [2^-14, 65504]). */
int exg__f16_ok(float s);
/* 1 if every weight of every 256-block of a row shares one scale (layout-wise). */
int exg__blocks_uniform(const trit_tensor_info *t);

/* deepseek2's split of attn_kv_b (exg_mla.c): plan the two outputs of container tensor i, and
 * produce output row r (cols floats) of one of them from the source's bytes. */
int exg__mla_plan(exg_plan *p, uint32_t i, exg__out *k, exg__out *v, trit_err *err);
int exg__mla_row(const exg__out *o, const trit_tensor_info *t, const uint8_t *data, uint64_t r, float *out,
                 int8_t *vals, trit_err *err);
/* Row r of a float or t2 container tensor (cols values) as floats; vals: cols bytes of scratch. */
int exg__row_f32(const trit_tensor_info *t, const uint8_t *data, uint64_t r, uint64_t cols, float *out, int8_t *vals,
                 trit_err *err);

/* Bytes of n elements of ggml type `type` (n a multiple of its block). 1 on overflow. */
int exg__nbytes(uint32_t type, uint64_t n, uint64_t *out);

#endif /* EXG_INT_H */
