/* test_ref_util.h - what the independent reference forward passes (test_deepseek_ref.c,
 * test_phimoe_ref.c) share: the generator's tensors by HF name in double precision, the
 * runner's int8 input quantization of a ternary projection, `trit run` logits and top-5 sets.
 * The model math itself stays in each reference, written from its release's modeling code. */
#ifndef TEST_REF_UTIL_H
#define TEST_REF_UTIL_H

#include <stdint.h>

#include "gen/gen.h"

struct cJSON;

typedef struct ref_tensors {
    gen_plan p;
    double **val;            /* per plan tensor, loaded on first use */
    struct cJSON *cfg;       /* the checkpoint's config.json */
} ref_tensors;

/* The plan of o and dir/config.json; 0 on success. */
int ref_tensors_open(ref_tensors *t, const gen_opts *o, const char *dir);
/* A number of the config (dflt when absent or not a number). */
double ref_cfgnum(const struct cJSON *c, const char *key, double dflt);
void ref_tensors_close(ref_tensors *t);
/* The values of the tensor named by the format (row-major, HF shape), borrowed; NULL (and a
 * failed check) when the plan has no such tensor. */
const double *ref_tv(ref_tensors *t, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Is there a tensor of that name? */
int ref_has(const ref_tensors *t, const char *name);

/* y = W x for W [rows, cols]. */
void ref_matvec(double *y, const double *W, const double *x, uint32_t rows, uint32_t cols);
/* A ternary projection y = W x with x quantized as the runner quantizes a t2 matrix's input
 * (int8 absmax per token, round half to even, in float) when quant, else plain. */
void ref_proj(double *y, const double *W, const double *x, uint32_t rows, uint32_t cols, int quant);

/* `trit run MODEL --tokens SEQ -n 0 --logits FILE`, read into out[n_vocab]; 0 on success (the
 * test fails with the CLI's message otherwise). Tokens of seq parsed into tok (at most cap). */
int ref_run_logits(const char *model, const char *seq, const char *logits_path, uint32_t n_vocab, double *out);
uint32_t ref_parse_tokens(const char *seq, uint32_t *tok, uint32_t cap);

/* `trit convert -q -f dir -o out`; 0 on success (the test fails with its message otherwise). */
int ref_convert(const char *dir, const char *out);

/* A reference forward pass: logits of the last of n tokens, the projections' inputs quantized
 * as the runner's (quant) or not. 0 on success. */
typedef int (*ref_forward_fn)(void *ctx, const uint32_t *tok, uint32_t n, int quant, double *logits);
/* Called per sequence with the runner's logits (negative controls); may be NULL. */
typedef void (*ref_seq_fn)(void *ctx, const uint32_t *tok, uint32_t n, const double *run);

typedef struct ref_stats {
    double worst;            /* max |runner - reference| (quantized as the runner) */
    double worst_float;      /* max |runner - unquantized reference| (diagnostic) */
    double range;            /* max |reference logit| */
    int top5_ok, n_seq;      /* sequences whose top-5 sets are equal, of n_seq */
} ref_stats;

/* The standard sequences through `trit run` on model (logits in files beside it) and through
 * fwd in both modes. */
void ref_compare(const char *model, uint32_t n_vocab, ref_forward_fn fwd, ref_seq_fn each, void *ctx, ref_stats *st);

/* The 5 largest (first index on ties) and whether two such sets are equal. */
void ref_top5(const double *l, uint32_t n, uint32_t out[5]);
int ref_same5(const uint32_t a[5], const uint32_t b[5]);

#endif
