/* kernbench.c - every kernel set this CPU has on the runner's hot shapes, in one process:
 * interleaved rounds (each round runs every set once), best and median throughput in GB/s of
 * weight bytes read. Shapes (defaults: the issue-16 workload, embd 1536, ff 4096, vocab 32000):
 *   t2_gemv   ff x embd t2 rows against one token (decode's FFN up/gate)
 *   t2_dot_n  the same rows against 4 tokens (prefill)
 *   f16 head  vocab x embd F16 rows, gemv_f16 (one call over all rows) and dot_f16 row by row
 *   i8 head   vocab x embd int8 rows, i8_gemv (the --output-head q8 copy)
 *   blk_*     FF/4 x embd rows of each ggml block type (Q8_0, Q4_K, Q6_K, MXFP4; run_blk.h), one
 *             dot per row against activations quantized once (embd rounded down to 256s); with
 *             GGML_CPU_SO (a libggml-cpu-*.so of node-llama-cpp, e.g. BUILD/conformance/node_modules/
 *             @node-llama-cpp/linux-x64/bins/linux-x64/libggml-cpu-haswell.so) also llama.cpp's own
 *             ggml_vec_dot_* on the same bytes, as set "ggml"
 * The head matrices are larger than the last-level cache, so those are the decode-bound numbers;
 * so is the default t2 matrix. Each timing covers a short piece (4096 t2 rows, 1024 head rows) so that on a shared machine most pieces run without a context switch;
 * the median over pieces and rounds is reported with the best piece.
 * usage: kernbench [EMBD FF VOCAB ROUNDS [GGML_CPU_SO]] - prints one JSON line per (set, kernel). A FF of
 * few thousand keeps the t2 matrix in cache (the kernels' compute speed). */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "run_blk.h"
#include "run_kern.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_d(const void *a, const void *b)
{
    double const x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

enum { K_T2 = 0, K_T2N, K_F16, K_F16DOT, K_I8, NK };
static const char *const kname[NK] = {"t2_gemv", "t2_dot_n4", "f16_gemv", "f16_dot_rows", "i8_gemv"};

/* The block kernels: rows x cols weights of each type, row by row against one token's
 * activations; pieces of 1024 rows, interleaved over sets like the rest. Prints one JSON line
 * per (set, type). Returns nonzero when out of memory. */
typedef void (*ggml_dot_fn)(int, float *, size_t, const void *, size_t, const void *, size_t, int);

/* llama.cpp's dots from a libggml-cpu (its RUNPATH finds libggml-base beside it); 0 when absent. */
static int load_ggml(const char *so, ggml_dot_fn dot[RUN_BLK_N])
{
    static const char *const names[RUN_BLK_N] = {"ggml_vec_dot_q8_0_q8_0", "ggml_vec_dot_q4_K_q8_K", "ggml_vec_dot_q6_K_q8_K",
                                                 "ggml_vec_dot_mxfp4_q8_0"};
    void *lib = so ? dlopen(so, RTLD_NOW) : NULL;
    void (*init)(void) = NULL;
    if (!lib || !(*(void **)&init = dlsym(lib, "ggml_cpu_init"))) return 0;
    for (int t = 0; t < RUN_BLK_N; t++)
        if (!(*(void **)&dot[t] = dlsym(lib, names[t]))) return 0;
    init();
    return 1; /* the library stays loaded until exit */
}

static int bench_blk(uint64_t cols, uint64_t rows, int rounds, const char *ggml_so)
{
    static const char *const tname[RUN_BLK_N] = {"blk_q8_0", "blk_q4_k", "blk_q6_k", "blk_mxfp4"};
    /* the last slot is llama.cpp's ggml when GGML_CPU_SO loads */
    const run_blk_kern *sets[] = {run_blk_kern_ref(), run_blk_kern_avx2(), run_blk_kern_neon(), NULL};
    ggml_dot_fn gdot[RUN_BLK_N];
    int const nset = (int)(sizeof sets / sizeof sets[0]), has_ggml = load_ggml(ggml_so, gdot);
    if (ggml_so && !has_ggml) fprintf(stderr, "kernbench: %s: no ggml_vec_dot_* there, set ggml skipped\n", ggml_so);
    uint64_t const chunk = 1024, npieces = (rows + chunk - 1) / chunk;
    size_t const per = (size_t)rounds * (size_t)npieces;
    float *x = malloc(cols * sizeof *x);
    double *t = calloc((size_t)nset * RUN_BLK_N * per, sizeof *t);
    size_t *nt = calloc((size_t)nset * RUN_BLK_N, sizeof *nt);
    volatile float sink = 0;
    int rc = !x || !t || !nt;
    for (uint64_t i = 0; !rc && i < cols; i++) x[i] = (float)(i % 13) * 0.125f - 0.75f;
    for (int ty = 0; !rc && ty < RUN_BLK_N; ty++) {
        run_blk_type const bt = (run_blk_type)ty;
        uint64_t const rb = cols / run_blk_elems(bt) * run_blk_bytes(bt);
        uint8_t *w = malloc(rows * rb), *act = malloc(run_blk_act_bytes(bt, cols));
        if (!w || !act) rc = 1;
        uint64_t s = 7;
        for (uint64_t i = 0; !rc && i < rows * rb; i++) w[i] = (uint8_t)((s = s * 6364136223846793005ull + 1) >> 56);
        /* finite, normal scales (1.0; E8M0 127), so no NaN or subnormal arithmetic is timed */
        for (uint64_t b = 0; !rc && b < rows * rb / run_blk_bytes(bt); b++) {
            uint8_t *blk = w + b * run_blk_bytes(bt);
            if (bt == RUN_BLK_MXFP4) blk[0] = 127;
            else {
                uint32_t const off = bt == RUN_BLK_Q6_K ? 208 : 0;
                blk[off] = 0x00, blk[off + 1] = 0x3c;
                if (bt == RUN_BLK_Q4_K) blk[2] = 0x00, blk[3] = 0x3c;
            }
        }
        if (!rc) run_blk_quantize_act(bt, x, cols, act);
        for (int r = 0; !rc && r < rounds; r++)
            for (int si = 0; si < nset; si++) {
                if (!sets[si] && !(si == nset - 1 && has_ggml)) continue;
                size_t const slot = (size_t)si * RUN_BLK_N + (size_t)ty;
                for (uint64_t r0 = 0; r0 < rows; r0 += chunk) {
                    uint64_t const m = rows - r0 < chunk ? rows - r0 : chunk;
                    double const t0 = now();
                    float acc = 0;
                    for (uint64_t row = r0; row < r0 + m; row++) {
                        float d;
                        if (sets[si]) d = sets[si]->dot[ty](w + row * rb, act, cols);
                        else gdot[ty]((int)cols, &d, 0, w + row * rb, 0, act, 0, 1);
                        acc += d;
                    }
                    t[slot * per + nt[slot]++] = (double)(m * rb) / (now() - t0) / 1e9;
                    sink = sink + acc;
                }
            }
        free(w);
        free(act);
    }
    for (int si = 0; !rc && si < nset; si++)
        for (int ty = 0; (sets[si] || (si == nset - 1 && has_ggml)) && ty < RUN_BLK_N; ty++) {
            size_t const slot = (size_t)si * RUN_BLK_N + (size_t)ty, n = nt[slot];
            double *v = t + slot * per;
            qsort(v, n, sizeof *v, cmp_d);
            printf("{\"set\":\"%s\",\"kernel\":\"%s\",\"best_gb_s\":%.3f,\"median_gb_s\":%.3f}\n", sets[si] ? sets[si]->name : "ggml", tname[ty],
                   v[n - 1], v[n / 2]);
        }
    free(x);
    free(t);
    free(nt);
    return rc;
}

int main(int argc, char **argv)
{
    uint64_t const embd = argc > 1 ? strtoull(argv[1], NULL, 10) : 1536, ff = argc > 2 ? strtoull(argv[2], NULL, 10) : 65536;
    uint64_t const vocab = argc > 3 ? strtoull(argv[3], NULL, 10) : 32000;
    int const rounds = argc > 4 ? atoi(argv[4]) : 9;
    if (!embd || embd > RUN_KERN_I8_MAX_COLS || !ff || !vocab || rounds < 1 || rounds > 1000) {
        fprintf(stderr, "usage: kernbench [EMBD FF VOCAB ROUNDS]\n");
        return 2;
    }
    const run_kern *sets[] = {run_kern_ref(), run_kern_avx2(), run_kern_avxvnni(), run_kern_avx512(), run_kern_neon(), run_kern_neondot(),
                              run_kern_neoni8mm()};
    int const nset = (int)(sizeof sets / sizeof sets[0]);
    uint64_t const nb = (embd + 127) / 128, t2_bytes = ff * nb * 32;
    uint8_t *codes = malloc(t2_bytes);
    int8_t *q = calloc(4, nb * 128), *w8 = malloc(vocab * embd);
    uint16_t *h = malloc(vocab * embd * 2);
    float *x = malloc(embd * sizeof *x), *y = malloc(vocab * sizeof *y);
    int32_t *o = malloc((ff > vocab ? ff : vocab) * sizeof *o);
    uint64_t const chunk = 1024, npieces = (vocab + chunk - 1) / chunk + (ff + 4 * chunk - 1) / (4 * chunk);
    size_t const per = (size_t)rounds * (size_t)npieces;
    double *t = calloc((size_t)nset * NK * per, sizeof *t);
    size_t *nt = calloc((size_t)nset * NK, sizeof *nt);
    if (!codes || !q || !w8 || !h || !x || !y || !o || !t || !nt) return 1;
    uint64_t s = 1;
    for (uint64_t i = 0; i < t2_bytes; i++) codes[i] = (uint8_t)((s = s * 6364136223846793005ull + 1) >> 56);
    for (uint64_t i = 0; i < 4 * nb * 128; i++) q[i] = (int8_t)((int)((s = s * 6364136223846793005ull + 1) >> 57) - 64);
    for (uint64_t i = 0; i < vocab * embd; i++) {
        s = s * 6364136223846793005ull + 1;
        w8[i] = (int8_t)(s >> 56);
        h[i] = (uint16_t)(0x3000 + ((s >> 40) & 0x0fff));
    }
    for (uint64_t i = 0; i < embd; i++) x[i] = (float)(i % 7) * 0.25f - 0.75f;
    for (int r = 0; r < rounds; r++)
        for (int si = 0; si < nset; si++) {
            const run_kern *k = sets[si];
            if (!k) continue;
            for (int kk = 0; kk < NK; kk++) {
                size_t const slot = (size_t)si * NK + (size_t)kk;
                if (kk <= K_T2N) {
                    for (uint64_t r0 = 0; r0 < ff; r0 += 4 * chunk) {
                        uint64_t const m = ff - r0 < 4 * chunk ? ff - r0 : 4 * chunk;
                        double const t0 = now();
                        if (kk == K_T2) k->t2_gemv(codes + r0 * nb * 32, m, q, nb, o);
                        else
                            for (uint64_t row = r0; row < r0 + m; row++) k->t2_dot_n(codes + row * nb * 32, q, nb * 128, 4, nb, o);
                        t[slot * per + nt[slot]++] = (double)(m * nb * 32) / (now() - t0) / 1e9;
                    }
                    continue;
                }
                for (uint64_t r0 = 0; r0 < vocab; r0 += chunk) {
                    uint64_t const m = vocab - r0 < chunk ? vocab - r0 : chunk;
                    double const t0 = now();
                    if (kk == K_F16) k->gemv_f16(h + r0 * embd, m, embd, x, y + r0);
                    else if (kk == K_F16DOT)
                        for (uint64_t row = r0; row < r0 + m; row++) y[row] = k->dot_f16(h + row * embd, x, embd);
                    else k->i8_gemv(w8 + r0 * embd, m, embd, q, o + r0);
                    t[slot * per + nt[slot]++] = (double)(m * embd * (kk == K_I8 ? 1u : 2u)) / (now() - t0) / 1e9;
                }
            }
        }
    for (int si = 0; si < nset; si++) {
        if (!sets[si]) continue;
        for (int kk = 0; kk < NK; kk++) {
            size_t const slot = (size_t)si * NK + (size_t)kk, n = nt[slot];
            double *v = t + slot * per;
            qsort(v, n, sizeof *v, cmp_d);
            printf("{\"set\":\"%s\",\"kernel\":\"%s\",\"best_gb_s\":%.3f,\"median_gb_s\":%.3f}\n", sets[si]->name, kname[kk],
                   v[n - 1], v[n / 2]);
        }
    }
    free(codes);
    free(q);
    free(w8);
    free(h);
    free(x);
    free(y);
    free(o);
    free(t);
    free(nt);
    return embd >= 256 && bench_blk(embd / 256 * 256, ff / 4 ? ff / 4 : 1, rounds, argc > 5 ? argv[5] : NULL) ? 1 : 0;
}
