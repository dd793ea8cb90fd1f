/* test_run_blk_ggml.c - the block kernels against llama.cpp's own ggml: node-llama-cpp's CPU
 * build (installed into BUILD/conformance by the conformance test, which runs first), loaded
 * with dlopen. libggml-base gives the reference dequantizers and activation quantizers, the
 * CPU library for this CPU (haswell: AVX2; else sse42) the quantizers and dot products
 * llama.cpp really runs, and their _generic C versions.
 *   - dequantized rows have ggml's bits, activations have quantize_row_q8_0_ref's and
 *     quantize_row_q8_K_ref's bytes;
 *   - llama.cpp's SIMD activation quantizers may round a quant differently (ggml's AVX2 q8_0
 *     multiplies by 127 / amax and rounds halfway cases to even): at most by 1, counted;
 *   - dot products agree with ggml's generic and SIMD dots on the same bytes to float rounding.
 * Skipped, saying why, when the libraries are not there (not x86-64, npm unreachable). */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "run_blk_check.h"
#include "test.h"
#include "trit.h"

typedef void (*dq_fn)(const void *, float *, int64_t);
typedef void (*quant_fn)(const float *, void *, int64_t);
typedef void (*dot_fn)(int, float *, size_t, const void *, size_t, const void *, size_t, int);

typedef struct ggml_lib {
    void *base, *cpu;
    dq_fn dq[RUN_BLK_N];
    quant_fn qref[2], qcpu[2]; /* [0] q8_0, [1] q8_K */
    dot_fn dot[RUN_BLK_N], dot_generic[RUN_BLK_N];
} ggml_lib;

/* ggml-common.h names, in run_blk_type order */
static const char *const tnames[RUN_BLK_N] = {"q8_0", "q4_K", "q6_K", "mxfp4"};
static const char *const dotnames[RUN_BLK_N] = {"q8_0_q8_0", "q4_K_q8_K", "q6_K_q8_K", "mxfp4_q8_0"};

static void *sym(void *lib, const char *name, int *missing)
{
    void *p = dlsym(lib, name);
    if (!p) *missing = 1;
    return p;
}

static void ggml_close(ggml_lib *g)
{
    if (g->cpu) dlclose(g->cpu);
    if (g->base) dlclose(g->base);
}

/* NULL when every symbol is loaded, else why not (for SKIP; nothing is left open then). */
static const char *ggml_open_(ggml_lib *g)
{
    memset(g, 0, sizeof *g);
#if !defined(__x86_64__)
    return "node-llama-cpp's prebuilt ggml here is the linux-x64 one";
#else
    char dir[1024], path[1200];
    snprintf(dir, sizeof dir, "%s", test_trit_bin());
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    else snprintf(dir, sizeof dir, ".");
    snprintf(path, sizeof path, "%s/conformance/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/libggml-base.so", dir);
    g->base = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
    if (!g->base) return "no libggml-base.so in BUILD/conformance (the conformance test installs node-llama-cpp)";
    snprintf(path, sizeof path, "%s/conformance/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/libggml-cpu-%s.so", dir,
             run_blk_kern_avx2() ? "haswell" : "sse42");
    g->cpu = dlopen(path, RTLD_NOW);
    if (!g->cpu) return "no libggml-cpu for this CPU in BUILD/conformance";
    int missing = 0;
    char name[96];
    for (int t = 0; t < RUN_BLK_N; t++) {
        snprintf(name, sizeof name, "dequantize_row_%s", tnames[t]);
        *(void **)&g->dq[t] = sym(g->base, name, &missing);
        snprintf(name, sizeof name, "ggml_vec_dot_%s", dotnames[t]);
        *(void **)&g->dot[t] = sym(g->cpu, name, &missing);
        snprintf(name, sizeof name, "ggml_vec_dot_%s_generic", dotnames[t]);
        *(void **)&g->dot_generic[t] = sym(g->cpu, name, &missing);
    }
    *(void **)&g->qref[0] = sym(g->base, "quantize_row_q8_0_ref", &missing);
    *(void **)&g->qref[1] = sym(g->base, "quantize_row_q8_K_ref", &missing);
    *(void **)&g->qcpu[0] = sym(g->cpu, "quantize_row_q8_0", &missing);
    *(void **)&g->qcpu[1] = sym(g->cpu, "quantize_row_q8_K", &missing);
    void (*init)(void) = NULL;
    *(void **)&init = sym(g->cpu, "ggml_cpu_init", &missing); /* fills the f16 tables of the non-F16C builds */
    if (missing) return "libggml lacks a symbol this test calls (another llama.cpp version?)";
    init();
    return NULL;
#endif
}

static const char *ggml_open(ggml_lib *g)
{
    const char *why = ggml_open_(g);
    if (why) ggml_close(g);
    return why;
}

static int act_k(run_blk_type t) { return t == RUN_BLK_Q4_K || t == RUN_BLK_Q6_K; }

TEST(run_blk_ggml_dequant_and_quant_bits)
{
    ggml_lib g;
    const char *why = ggml_open(&g);
    if (why) SKIP(why);
    kc_state s;
    kc_seed(&s, 23);
    unsigned rows = 0;
    for (int t = 0; t < RUN_BLK_N; t++) {
        uint32_t const el = run_blk_elems((run_blk_type)t), by = run_blk_bytes((run_blk_type)t);
        uint64_t const nb = el == 32 ? 33 : 5, cols = nb * el;
        size_t const ab = run_blk_act_bytes((run_blk_type)t, cols);
        uint8_t *row = malloc(nb * by), *a1 = malloc(ab), *a2 = calloc(1, ab);
        float *x = malloc(sizeof *x * cols), *y1 = malloc(sizeof *y1 * cols), *y2 = malloc(sizeof *y2 * cols);
        for (int mode = 0; mode <= 4; mode++)
            for (unsigned rep = 0; rep < 4; rep++, rows++) {
                for (uint64_t b = 0; b < nb; b++) bc_block(&s, (run_blk_type)t, row + b * by, mode == 4 && b % 2 ? 0 : mode);
                run_blk_dequant_row((run_blk_type)t, row, cols, y1);
                g.dq[t](row, y2, (int64_t)cols);
                for (uint64_t i = 0; i < cols; i++)
                    if (memcmp(&y1[i], &y2[i], sizeof y1[i])) {
                        test_fail_(__FILE__, __LINE__, "%s mode %d weight %u: %.9g, ggml %.9g", tnames[t], mode, (unsigned)i,
                                   (double)y1[i], (double)y2[i]);
                        break;
                    }
                /* ggml leaves a q8_K all-zero block's bsums unwritten: a2 starts zeroed, as ours are */
                bc_acts(&s, x, cols, mode == 2 ? 2 : mode == 1 ? 1 : 0);
                run_blk_quantize_act((run_blk_type)t, x, cols, a1);
                memset(a2, 0, ab);
                g.qref[act_k((run_blk_type)t)](x, a2, (int64_t)cols);
                if (memcmp(a1, a2, ab)) test_fail_(__FILE__, __LINE__, "%s mode %d: activations differ from ggml's _ref quantizer", tnames[t], mode);
            }
        free(row);
        free(a1);
        free(a2);
        free(x);
        free(y1);
        free(y2);
    }
    CHECK_EQ_INT(rows, 80);
    ggml_close(&g);
}

/* The quantizers llama.cpp runs on this CPU: the same scales, quants at most 1 apart. */
TEST(run_blk_ggml_quant_cpu)
{
    ggml_lib g;
    const char *why = ggml_open(&g);
    if (why) SKIP(why);
    kc_state s;
    kc_seed(&s, 29);
    uint64_t const cols = 256 * 8;
    float *x = malloc(sizeof *x * cols);
    uint8_t *a1 = malloc(292 * 8), *a2 = malloc(292 * 8);
    for (int k = 0; k < 2; k++) {
        run_blk_type const t = k ? RUN_BLK_Q4_K : RUN_BLK_Q8_0;
        uint32_t const bb = k ? 292 : 34, el = k ? 256 : 32, off = k ? 4 : 2;
        unsigned diff = 0, total = 0, worst = 0, dscale = 0;
        for (unsigned rep = 0; rep < 50; rep++) {
            bc_acts(&s, x, cols, rep % 5 == 4 ? 1 : 0);
            run_blk_quantize_act(t, x, cols, a1);
            memset(a2, 0, 292 * 8);
            g.qcpu[k](x, a2, (int64_t)cols);
            for (uint64_t b = 0; b < cols / el; b++) {
                const uint8_t *p = a1 + b * bb, *q = a2 + b * bb;
                dscale += memcmp(p, q, off) != 0; /* the scale: f16 (q8_0) or f32 (q8_K) */
                for (uint32_t j = 0; j < el; j++) {
                    int const d = abs((int8_t)p[off + j] - (int8_t)q[off + j]);
                    diff += d != 0;
                    worst = d > (int)worst ? (unsigned)d : worst;
                    total++;
                }
            }
        }
        printf("    %s activations: %u of %u quants differ from llama.cpp's %s quantizer (at most %u), %u scales\n", k ? "q8_K" : "q8_0",
               diff, total, run_blk_kern_avx2() ? "AVX2" : "SSE4.2", worst, dscale);
        CHECK(worst <= 1);
        CHECK_EQ_INT(dscale, 0);
    }
    free(x);
    free(a1);
    free(a2);
    ggml_close(&g);
}

/* Our dots (reference and best set) against ggml's generic and SIMD dots on the same bytes. */
TEST(run_blk_ggml_dot)
{
    ggml_lib g;
    const char *why = ggml_open(&g);
    if (why) SKIP(why);
    kc_state s;
    kc_seed(&s, 31);
    const run_blk_kern *sets[2] = {run_blk_kern_ref(), run_blk_kern_best()};
    for (int t = 0; t < RUN_BLK_N; t++) {
        uint32_t const el = run_blk_elems((run_blk_type)t), by = run_blk_bytes((run_blk_type)t);
        uint64_t const nb = el == 32 ? 65 : 9, cols = nb * el;
        uint8_t *row = malloc(nb * by), *act = malloc(run_blk_act_bytes((run_blk_type)t, cols));
        float *x = malloc(sizeof *x * cols), *w = malloc(sizeof *w * cols);
        double worst = 0;
        for (unsigned rep = 0; rep < 40; rep++) {
            int const mode = rep % 8 == 7 ? 3 : rep % 8 == 6 ? 2 : 0;
            for (uint64_t b = 0; b < nb; b++) bc_block(&s, (run_blk_type)t, row + b * by, mode);
            bc_acts(&s, x, cols, rep % 5 == 4 ? 1 : 0);
            run_blk_quantize_act((run_blk_type)t, x, cols, act);
            /* magnitude: sum |w * x| (x for the activations: within rounding of theirs) */
            run_blk_dequant_row((run_blk_type)t, row, cols, w);
            double mag = 0;
            for (uint64_t i = 0; i < cols; i++) mag += fabs((double)w[i] * x[i]);
            float r[2], gg[2];
            g.dot_generic[t]((int)cols, &gg[0], 0, row, 0, act, 0, 1);
            g.dot[t]((int)cols, &gg[1], 0, row, 0, act, 0, 1);
            for (int si = 0; si < 2; si++) r[si] = sets[si]->dot[t](row, act, cols);
            if (!isfinite(mag) || isnan(gg[0])) continue;
            for (int si = 0; si < 2; si++)
                for (int gi = 0; gi < 2; gi++) {
                    double const dev = fabs((double)r[si] - gg[gi]) / (mag + 1e-30);
                    worst = dev > worst ? dev : worst;
                    if (!(dev <= 2e-5))
                        test_fail_(__FILE__, __LINE__, "%s rep %u: %s %.9g vs ggml %s %.9g (sum |w x| %g)", tnames[t], rep, sets[si]->name,
                                   (double)r[si], gi ? "simd" : "generic", (double)gg[gi], mag);
                }
        }
        printf("    %s: largest difference from ggml's dots %.2e of sum |w x|\n", tnames[t], worst);
        free(row);
        free(act);
        free(x);
        free(w);
    }
    ggml_close(&g);
}
