/* b3bench.c - the b3 kernels against the t2 kernels on one expert's matrices (Qwen3-30B-A3B:
 * gate/up 768 x 2048, down 2048 x 768), one token, every set this CPU has, interleaved rounds;
 * prints the median thread-CPU time per expert (three GEMVs) and the weight GB/s of each. For
 * the expert-unit form choice (README "Expert units"). A bench tool: nothing asserted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "run_kern.h"
#include "run_kern_b3.h"
#include "trit.h"

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_d(const void *a, const void *b)
{
    double const x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

#define ROUNDS 15
#define REPS 20

int main(void)
{
    uint64_t const shapes[3][2] = {{768, 2048}, {768, 2048}, {2048, 768}};
    uint8_t *t2[3], *b3[3];
    int8_t *q = calloc(4096, 1), *v = malloc(4096);
    int32_t *out = malloc(sizeof *out * 4096);
    uint64_t s = 1, w_bytes2 = 0, w_bytes3 = 0;
    for (int m = 0; m < 3; m++) {
        uint64_t const rows = shapes[m][0], cols = shapes[m][1], rb2 = (cols + 127) / 128 * 32, rb3 = (cols + 159) / 160 * 32;
        t2[m] = malloc(rows * rb2);
        b3[m] = malloc(rows * rb3);
        for (uint64_t r = 0; r < rows; r++) {
            for (uint64_t i = 0; i < cols; i++) v[i] = (int8_t)((int)((s = s * 6364136223846793005ull + 1) >> 33) % 3 - 1);
            trit_t2_pack_row(v, cols, t2[m] + r * rb2);
            trit_b3_pack_row(v, cols, b3[m] + r * rb3);
        }
        w_bytes2 += rows * rb2;
        w_bytes3 += rows * rb3;
    }
    for (int i = 0; i < 2048; i++) q[i] = (int8_t)(i * 37 % 255 - 127);
    const run_kern *k2 = run_kern_best();
    const run_b3_kern *k3s[3] = {run_b3_kern_ref(), run_b3_kern_avx2(), run_b3_kern_avx512()};
    double t_t2[ROUNDS], t_b3[3][ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
        double t0 = cpu_s();
        for (int rep = 0; rep < REPS; rep++)
            for (int m = 0; m < 3; m++) k2->t2_gemv(t2[m], shapes[m][0], q, (shapes[m][1] + 127) / 128, out);
        t_t2[r] = (cpu_s() - t0) / REPS;
        for (int k = 0; k < 3; k++) {
            if (!k3s[k]) continue;
            int const reps = k == 0 ? 1 : REPS;
            t0 = cpu_s();
            for (int rep = 0; rep < reps; rep++)
                for (int m = 0; m < 3; m++)
                    k3s[k]->gemv(b3[m], shapes[m][0], (shapes[m][1] + 159) / 160 * 32, q, (shapes[m][1] + 31) / 32, out);
            t_b3[k][r] = (cpu_s() - t0) / reps;
        }
    }
    qsort(t_t2, ROUNDS, sizeof *t_t2, cmp_d);
    printf("t2 %-7s %8.1f us/expert %6.2f GB/s of t2 bytes\n", k2->name, t_t2[ROUNDS / 2] * 1e6, (double)w_bytes2 / t_t2[ROUNDS / 2] / 1e9);
    for (int k = 0; k < 3; k++) {
        if (!k3s[k]) continue;
        qsort(t_b3[k], ROUNDS, sizeof *t_b3[k], cmp_d);
        double const t = t_b3[k][ROUNDS / 2];
        printf("b3 %-7s %8.1f us/expert %6.2f GB/s of b3 bytes, %.2fx the t2 time\n", k3s[k]->name, t * 1e6, (double)w_bytes3 / t / 1e9,
               t / t_t2[ROUNDS / 2]);
    }
    return 0;
}
