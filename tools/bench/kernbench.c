/* kernbench.c - every kernel set this CPU has on the runner's hot shapes, in one process:
 * interleaved rounds (each round runs every set once), best and median throughput in GB/s of
 * weight bytes read. Shapes (defaults: the issue-16 workload, embd 1536, ff 4096, vocab 32000):
 *   t2_gemv   ff x embd t2 rows against one token (decode's FFN up/gate)
 *   t2_dot_n  the same rows against 4 tokens (prefill)
 *   f16 head  vocab x embd F16 rows, gemv_f16 (one call over all rows) and dot_f16 row by row
 *   i8 head   vocab x embd int8 rows, i8_gemv (the --output-head q8 copy)
 * The head matrices are larger than the last-level cache, so those are the decode-bound numbers;
 * so is the default t2 matrix. Each timing covers a short piece (4096 t2 rows, 1024 head rows) so that on a shared machine most pieces run without a context switch;
 * the median over pieces and rounds is reported with the best piece.
 * usage: kernbench [EMBD FF VOCAB ROUNDS] - prints one JSON line per (set, kernel). A FF of
 * few thousand keeps the t2 matrix in cache (the kernels' compute speed). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
    return 0;
}
