/* test_ref.h - the pieces every independent reference forward pass shares (test_ref.c): the
 * generator's tensors by their HF names as doubles, config.json, the plain double-precision
 * ops a modeling file is written with, and the check of `trit run` against a reference over
 * fixed token sequences. The forward passes themselves stay in their families' tests
 * (test_deepseek_ref.c, test_longrope.c), each written from its release's modeling code. */
#ifndef TEST_REF_H
#define TEST_REF_H

#include <stdint.h>

#include "gen/gen.h"

struct cJSON;

typedef struct test_ref {
    gen_plan p;
    double **val;            /* per plan tensor, loaded on first use */
    struct cJSON *cfg;       /* DIR/config.json */
    int quant;               /* 1: ternary projections see int8-per-token inputs (the runner's
                                way with t2 weights); 0: float inputs (a diagnostic) */
} test_ref;

/* Plan o's tensors and read DIR/config.json. 0 on success; test_ref_close in any case. */
int test_ref_open(test_ref *r, const gen_opts *o, const char *dir);
void test_ref_close(test_ref *r);
/* The tensor's values (row-major, HF shape), borrowed; NULL (and a failed check) if absent. */
const double *test_ref_tensor(test_ref *r, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* A number of config object c (or dflt). */
double test_ref_num(const struct cJSON *c, const char *key, double dflt);

/* out = x / rms(x) * w over n values. out may be x. */
void test_ref_rmsnorm(double *out, const double *x, const double *w, uint32_t n, double eps);
/* y = W x, W [rows, cols], float input. */
void test_ref_matvec(double *y, const double *W, const double *x, uint32_t rows, uint32_t cols);
/* A ternary projection: y = W q(x), q = int8 absmax per token (round half to even) when r->quant. */
void test_ref_proj(const test_ref *r, double *y, const double *W, const double *x, uint32_t rows, uint32_t cols);
/* SwiGLU MLP of width F and input width E under prefix: down(silu(gate x) * up x). */
void test_ref_mlp(test_ref *r, double *out, const double *x, uint32_t E, uint32_t F, const char *prefix);

/* apply_rotary_pos_emb on one head of d values in halves (HF rotate_half): x cos + rotate_half(x)
 * sin with cos/sin of cat(freqs, freqs) at pos, freqs_i = pos * inv_freq[i], times mscale. */
void test_ref_rope_halves(double *x, uint32_t d, const double *inv_freq, double mscale, uint32_t pos);

/* Causal softmax attention of query position t (HF eager attention: scores q.k * scale over
 * positions 0..t, GQA by repeat_kv): q [H][hd] of position t, k and v [pos][KV][hd], att
 * [H][hd]; sc scratch of t + 1 values. */
void test_ref_attention(double *att, const double *q, const double *k, const double *v, uint32_t t, uint32_t H,
                        uint32_t KV, uint32_t hd, double scale, double *sc);

/* The indices of l's 5 largest values (ties: the lower index), and whether two such sets hold
 * the same indices. */
void test_ref_top5(const double *l, uint32_t n, uint32_t *out);
int test_ref_same5(const uint32_t *a, const uint32_t *b);

/* Logits of the last of n tokens; 0 on success. */
typedef int (*test_ref_forward_fn)(void *ctx, const uint32_t *tok, uint32_t n, double *logits);

/* `trit run MODEL --tokens S -n 0 --logits` for every sequence against fwd in token mode (and in
 * float mode, printed as a diagnostic): top-5 sets equal and max |dlogit| <= tol, or a failed
 * check naming family and label. *worst (may be NULL) receives the token-mode distance. */
void test_ref_agree(const char *family, const char *label, const char *model, test_ref *r, uint32_t n_vocab,
                    test_ref_forward_fn fwd, void *ctx, double tol, double *worst);

/* max |dlogit| of `trit run MODEL` against fwd (token mode) over the same sequences, with no
 * verdict: how far a negative control (another model's math) is from the runner. */
double test_ref_distance(const char *family, const char *label, const char *model, test_ref *r, uint32_t n_vocab,
                         test_ref_forward_fn fwd, void *ctx);

#endif
