/* test_run_blk.c - the block kernels (runner/run_blk.h): geometry; the dequantizers against
 * source/'s own ggml decoders (independent code) and MXFP4 against the OCP MX spec; the
 * activation quantizers against a double-precision recomputation of llama.cpp's formulas; the
 * reference dot products against double sums of dequantized weights times dequantized
 * activations; every SIMD set against the reference (run_blk_check.h), NEON under qemu-user. */
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "run_blk_check.h"
#include "src_ggml_types.h"
#include "test.h"
#include "test_cross.h"
#include "trit.h"

TEST(run_blk_geometry)
{
    static const uint32_t el[RUN_BLK_N] = {32, 256, 256, 32}, by[RUN_BLK_N] = {34, 144, 210, 17};
    for (int t = 0; t < RUN_BLK_N; t++) {
        CHECK_EQ_U64(run_blk_elems((run_blk_type)t), el[t]);
        CHECK_EQ_U64(run_blk_bytes((run_blk_type)t), by[t]);
    }
    /* q8_0 activations: 34 bytes per 32; q8_K: 4 + 256 + 2 * 16 = 292 per 256 */
    CHECK_EQ_U64(run_blk_act_bytes(RUN_BLK_Q8_0, 96), 3 * 34);
    CHECK_EQ_U64(run_blk_act_bytes(RUN_BLK_MXFP4, 32), 34);
    CHECK_EQ_U64(run_blk_act_bytes(RUN_BLK_Q4_K, 768), 3 * 292);
    CHECK_EQ_U64(run_blk_act_bytes(RUN_BLK_Q6_K, 256), 292);
    CHECK_EQ_U64(run_blk_elems(RUN_BLK_N), 0);
}

static uint32_t ggml_id(run_blk_type t)
{
    return t == RUN_BLK_Q8_0 ? SRC_GGML_Q8_0 : t == RUN_BLK_Q4_K ? SRC_GGML_Q4_K : t == RUN_BLK_Q6_K ? SRC_GGML_Q6_K : SRC_GGML_MXFP4;
}

/* Q8_0, Q4_K, Q6_K rows dequantized by run_blk and by source/'s decoders: the same bits. */
TEST(run_blk_dequant_vs_source)
{
    kc_state s;
    kc_seed(&s, 7);
    static const run_blk_type types[3] = {RUN_BLK_Q8_0, RUN_BLK_Q4_K, RUN_BLK_Q6_K};
    unsigned compared = 0;
    for (int ti = 0; ti < 3; ti++) {
        run_blk_type const t = types[ti];
        uint32_t const el = run_blk_elems(t), by = run_blk_bytes(t), nb = 7;
        uint8_t *row = malloc((size_t)nb * by);
        float *a = malloc(sizeof *a * nb * el), *b = malloc(sizeof *b * nb * el);
        for (int mode = 0; mode <= 4; mode++)
            for (unsigned rep = 0; rep < 4; rep++) {
                for (unsigned i = 0; i < nb; i++) bc_block(&s, t, row + (size_t)i * by, mode);
                run_blk_dequant_row(t, row, (uint64_t)nb * el, a);
                trit_err err;
                CHECK_EQ_INT(src_ggml_dequant(ggml_id(t), row, nb, b, &err), TRIT_OK);
                for (uint64_t i = 0; i < (uint64_t)nb * el; i++)
                    if (memcmp(&a[i], &b[i], sizeof a[i])) {
                        test_fail_(__FILE__, __LINE__, "type %d mode %d element %u: %.9g vs source %.9g", (int)t, mode, (unsigned)i,
                                   (double)a[i], (double)b[i]);
                        break;
                    }
                compared++;
            }
        free(row);
        free(a);
        free(b);
    }
    CHECK_EQ_INT(compared, 60);
}

/* OCP Microscaling Formats (MX) v1.0: an MXFP4 element is E2M1 (sign bit 3, exponent bits 2:1
 * with bias 1, mantissa bit 0; exponent 0 is subnormal: 0.5 * m), times the block scale
 * X = 2^(e - 127) of the E8M0 byte. */
static double e2m1(unsigned n)
{
    unsigned const ex = (n >> 1) & 3, m = n & 1;
    double const mag = ex == 0 ? 0.5 * m : ldexp(1.0 + 0.5 * m, (int)ex - 1);
    return n & 8 ? -mag : mag;
}

TEST(run_blk_mxfp4_dequant_spec)
{
    uint8_t blk[17];
    float y[32];
    /* hand-computed values: X = 1 (e = 127): 0, 0.5, 1, 1.5, 2, 3, 4, 6 and their negatives */
    static const float one[16] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6, 0, -0.5f, -1, -1.5f, -2, -3, -4, -6};
    blk[0] = 127;
    for (unsigned j = 0; j < 16; j++) blk[1 + j] = (uint8_t)(j | ((15 - j) << 4));
    run_blk_dequant_row(RUN_BLK_MXFP4, blk, 32, y);
    for (unsigned j = 0; j < 16; j++) {
        CHECK(y[j] == one[j]);
        CHECK(y[16 + j] == one[15 - j]);
    }
    /* X = 8 (e = 130): nibble 7 (6.0) is 48, nibble 0xD (-3.0) is -24; X = 2^-127 (e = 0):
     * nibble 1 (0.5) is 2^-128, a float subnormal */
    blk[0] = 130;
    blk[1] = 0xD7;
    run_blk_dequant_row(RUN_BLK_MXFP4, blk, 32, y);
    CHECK(y[0] == 48.0f && y[16] == -24.0f);
    blk[0] = 0;
    blk[1] = 0x01;
    run_blk_dequant_row(RUN_BLK_MXFP4, blk, 32, y);
    CHECK(y[0] == ldexpf(1.0f, -128) && y[16] == 0.0f);
    /* every nibble at scales across the range, against the spec formula */
    static const uint8_t es[] = {0, 1, 2, 50, 120, 126, 127, 128, 129, 140, 200, 253, 254};
    for (unsigned ei = 0; ei < sizeof es / sizeof es[0]; ei++) {
        blk[0] = es[ei];
        for (unsigned j = 0; j < 16; j++) blk[1 + j] = (uint8_t)(j | ((15 - j) << 4));
        run_blk_dequant_row(RUN_BLK_MXFP4, blk, 32, y);
        for (unsigned j = 0; j < 32; j++) {
            unsigned const n = j < 16 ? j : 15 - (j - 16);
            float const want = (float)(ldexp(1.0, (int)es[ei] - 127) * e2m1(n));
            if (!(y[j] == want)) test_fail_(__FILE__, __LINE__, "e %u nibble %u: %g, spec %g", es[ei], n, (double)y[j], (double)want);
        }
    }
    /* e = 255 is NaN in the spec; ggml (and so the container's readers) decode it as 2^128 */
    blk[0] = 255;
    blk[1] = 0x02;
    run_blk_dequant_row(RUN_BLK_MXFP4, blk, 32, y);
    CHECK(y[0] == ldexpf(1.0f, 127) * 2.0f);
}

/* Within 1e-4 of a rounding boundary the float and double computations may round apart. */
static int near_half(double v) { return fabs(fabs(v - floor(v)) - 0.5) < 1e-4; }

static float act_f16(const uint8_t *p) { return trit_f16_to_f32((uint16_t)(p[0] | (p[1] << 8))); }

/* llama.cpp quantize_row_q8_0_ref recomputed in double: d = amax / 127 (stored f16),
 * q = round(x / d) with halfway cases away from zero. */
TEST(run_blk_quant_q8_0_double)
{
    kc_state s;
    kc_seed(&s, 11);
    uint64_t const cols = 32 * 9;
    float x[32 * 9];
    uint8_t act[34 * 9];
    unsigned checked = 0;
    for (unsigned rep = 0; rep < 60; rep++) {
        bc_acts(&s, x, cols, rep % 10 == 3 ? 2 : rep % 10 == 4 ? 1 : 0);
        if (rep == 7) x[5] = -1e7f; /* a negative maximum */
        run_blk_quantize_act(RUN_BLK_Q8_0, x, cols, act);
        for (unsigned b = 0; b < 9; b++) {
            const float *xb = x + 32 * b;
            const uint8_t *ab = act + 34 * b;
            double amax = 0;
            for (unsigned j = 0; j < 32; j++) amax = fmax(amax, fabs((double)xb[j]));
            uint16_t const want_d = trit_f32_to_f16((float)(amax / 127.0));
            CHECK_EQ_INT(ab[0] | (ab[1] << 8), want_d);
            for (unsigned j = 0; j < 32; j++) {
                int const q = (int8_t)ab[2 + j];
                double const v = amax > 0 ? (double)xb[j] * 127.0 / amax : 0.0;
                double const r = v < 0 ? -floor(-v + 0.5) : floor(v + 0.5);
                checked++;
                if (near_half(v) ? fabs(q - v) > 0.5 + 1e-4 : q != (int)r) {
                    test_fail_(__FILE__, __LINE__, "block %u x %.9g: q %d, expected %g", b, (double)xb[j], q, r);
                    return;
                }
            }
        }
    }
    CHECK(checked == 60 * cols);
}

/* llama.cpp quantize_row_q8_K_ref recomputed in double: max is the first x of largest |x|,
 * q = min(127, round-half-even(-127 x / max)), d = -max / 127, bsums the sums of 16 q. */
TEST(run_blk_quant_q8_k_double)
{
    kc_state s;
    kc_seed(&s, 13);
    uint64_t const cols = 256 * 3;
    float x[256 * 3];
    uint8_t act[292 * 3];
    for (unsigned rep = 0; rep < 40; rep++) {
        bc_acts(&s, x, cols, rep % 10 == 3 ? 2 : rep % 10 == 4 ? 1 : 0);
        if (rep == 5) x[300] = -1e9f, x[301] = 1e9f; /* a tie of |x|: the first (negative) one is max */
        run_blk_quantize_act(RUN_BLK_Q4_K, x, cols, act);
        for (unsigned b = 0; b < 3; b++) {
            const float *xb = x + 256 * b;
            const uint8_t *ab = act + 292 * b;
            double amax = 0, max = 0;
            for (unsigned j = 0; j < 256; j++)
                if (fabs((double)xb[j]) > amax) amax = fabs((double)xb[j]), max = xb[j];
            float d;
            int16_t bs[16];
            memcpy(&d, ab, 4);
            memcpy(bs, ab + 260, sizeof bs);
            if (amax == 0) {
                CHECK(d == 0.0f);
                for (unsigned j = 0; j < 256; j++) CHECK_EQ_INT((int8_t)ab[4 + j], 0);
            } else if (fabs((double)d - (-max / 127.0)) > 3e-7 * amax / 127.0) {
                test_fail_(__FILE__, __LINE__, "block %u: d %.9g, expected %.9g", b, (double)d, -max / 127.0);
            }
            for (unsigned g = 0; g < 16; g++) {
                int sum = 0;
                for (unsigned l = 0; l < 16; l++) {
                    unsigned const j = 16 * g + l;
                    int const q = (int8_t)ab[4 + j];
                    sum += q;
                    if (amax == 0) continue;
                    double const v = -127.0 * (double)xb[j] / max;
                    double r = nearbyint(v); /* the default rounding mode: to nearest, ties to even */
                    if (r > 127) r = 127;
                    if (near_half(v) ? fabs(q - v) > 0.5 + 1e-4 : q != (int)r) {
                        test_fail_(__FILE__, __LINE__, "block %u x %.9g: q %d, expected %g", b, (double)xb[j], q, r);
                        return;
                    }
                }
                CHECK_EQ_INT(bs[g], sum);
            }
        }
    }
}

/* Dequantize the activations of a row (q8_0 or q8_K) to double. */
static void act_values(run_blk_type t, const uint8_t *act, uint64_t cols, double *out)
{
    if (t == RUN_BLK_Q4_K || t == RUN_BLK_Q6_K) {
        for (uint64_t b = 0; b < cols / 256; b++, act += 292) {
            float d;
            memcpy(&d, act, 4);
            for (unsigned j = 0; j < 256; j++) out[256 * b + j] = (double)d * (int8_t)act[4 + j];
        }
        return;
    }
    for (uint64_t b = 0; b < cols / 32; b++, act += 34)
        for (unsigned j = 0; j < 32; j++) out[32 * b + j] = (double)act_f16(act) * (int8_t)act[2 + j];
}

/* Weights dequantized by independent code: source/'s decoders, MXFP4 by the spec formula. */
static void weight_values(run_blk_type t, const uint8_t *row, uint64_t nb, double *out)
{
    if (t == RUN_BLK_MXFP4) {
        for (uint64_t b = 0; b < nb; b++, row += 17)
            for (unsigned j = 0; j < 16; j++) {
                out[32 * b + j] = ldexp(e2m1(row[1 + j] & 0xF), row[0] - 127);
                out[32 * b + j + 16] = ldexp(e2m1(row[1 + j] >> 4), row[0] - 127);
            }
        return;
    }
    uint64_t const n = nb * run_blk_elems(t);
    float *f = malloc(sizeof *f * n);
    trit_err err;
    if (f && src_ggml_dequant(ggml_id(t), row, nb, f, &err) == TRIT_OK)
        for (uint64_t i = 0; i < n; i++) out[i] = f[i];
    free(f);
}

/* The reference dot products equal sum(w * a) of the dequantized values, up to float rounding
 * (tolerance 4e-6 of sum |w * a|: far below one weight's share on these lengths). */
TEST(run_blk_ref_dot_vs_double)
{
    kc_state s;
    kc_seed(&s, 17);
    const run_blk_kern *ref = run_blk_kern_ref();
    unsigned checked = 0;
    for (int t = 0; t < RUN_BLK_N; t++) {
        uint32_t const el = run_blk_elems((run_blk_type)t), by = run_blk_bytes((run_blk_type)t);
        uint64_t const nb = el == 32 ? 33 : 5, cols = nb * el;
        uint8_t *row = malloc(nb * by), *act = malloc(run_blk_act_bytes((run_blk_type)t, cols));
        float *x = malloc(sizeof *x * cols);
        double *w = malloc(sizeof *w * cols), *a = malloc(sizeof *a * cols);
        for (unsigned rep = 0; rep < 16; rep++) {
            int const wmode = rep % 4 == 3 ? 3 : rep == 6 ? 2 : 0;
            for (uint64_t b = 0; b < nb; b++) bc_block(&s, (run_blk_type)t, row + b * by, wmode);
            bc_acts(&s, x, cols, rep % 5 == 4 ? 1 : 0);
            run_blk_quantize_act((run_blk_type)t, x, cols, act);
            weight_values((run_blk_type)t, row, nb, w);
            act_values((run_blk_type)t, act, cols, a);
            double want = 0, mag = 0;
            for (uint64_t i = 0; i < cols; i++) {
                want += w[i] * a[i];
                mag += fabs(w[i] * a[i]);
            }
            float const got = ref->dot[t](row, act, cols);
            /* an activation scale past the f16 range (outliers of 1e10) is inf in llama.cpp too:
             * inf * 0 makes both sums NaN */
            if (isnan(want) && isnan(got)) continue;
            checked++;
            if (!(fabs((double)got - want) <= 4e-6 * mag + 1e-37))
                test_fail_(__FILE__, __LINE__, "type %d rep %u: %.9g, double sum %.9g (mag %g)", t, rep, (double)got, want, mag);
        }
        free(row);
        free(act);
        free(x);
        free(w);
        free(a);
    }
    CHECK(checked >= 56);
}

static void check_set(const run_blk_kern *k)
{
    kc_state s;
    unsigned const bad = blk_check_all(run_blk_kern_ref(), k, &s);
    if (bad) test_fail_(__FILE__, __LINE__, "%u of %u checks failed; first: %s", bad, s.checks, s.first);
    CHECK(s.checks > 300);
}

TEST(run_blk_avx2_vs_ref)
{
    const run_blk_kern *k = run_blk_kern_avx2();
    if (!k) SKIP("no AVX2 on this CPU or build");
    check_set(k);
}

TEST(run_blk_neon_vs_ref_native)
{
    const run_blk_kern *k = run_blk_kern_neon();
    if (!k) SKIP("not an aarch64 build (the qemu test covers NEON)");
    check_set(k);
}

TEST(run_blk_best_order)
{
    const run_blk_kern *want = run_blk_kern_avx2();
    if (!want) want = run_blk_kern_neon();
    if (!want) want = run_blk_kern_ref();
    CHECK(run_blk_kern_best() == want);
}

/* The checks must be able to fail: a Q4_K dot that drops the min term of the last block, a Q8_0
 * dot off by one activation step in long rows, and an MXFP4 dot that uses the full E8M0 scale
 * (2^(e-127), the spec's X, with ggml's doubled values: twice the answer) are each caught. */
static float broken_q4k(const void *row, const void *act, uint64_t cols)
{
    float const r = run_blk_kern_ref()->dot[RUN_BLK_Q4_K](row, act, cols);
    if (cols < 512) return r;
    const uint8_t *last = (const uint8_t *)row + (cols / 256 - 1) * 144;
    float dm = trit_f16_to_f32((uint16_t)(last[2] | (last[3] << 8)));
    return dm != 0.0f ? nextafterf(r, 1e30f) : r;
}

static float broken_q8_0(const void *row, const void *act, uint64_t cols)
{
    float const r = run_blk_kern_ref()->dot[RUN_BLK_Q8_0](row, act, cols);
    return cols > 200 ? r + act_f16(act) * act_f16(row) : r;
}

static float broken_mxfp4(const void *row, const void *act, uint64_t cols)
{
    return 2.0f * run_blk_kern_ref()->dot[RUN_BLK_MXFP4](row, act, cols);
}

TEST(run_blk_check_catches_errors)
{
    run_blk_kern bad = *run_blk_kern_ref();
    bad.name = "broken";
    bad.dot[RUN_BLK_Q4_K] = broken_q4k;
    kc_state s;
    CHECK(blk_check_all(run_blk_kern_ref(), &bad, &s) > 0);
    CHECK(strstr(s.first, "type 1") != NULL);
    bad = *run_blk_kern_ref();
    bad.dot[RUN_BLK_Q8_0] = broken_q8_0;
    CHECK(blk_check_all(run_blk_kern_ref(), &bad, &s) > 0);
    CHECK(strstr(s.first, "type 0") != NULL);
    bad = *run_blk_kern_ref();
    bad.dot[RUN_BLK_MXFP4] = broken_mxfp4;
    CHECK(blk_check_all(run_blk_kern_ref(), &bad, &s) > 0);
    CHECK(strstr(s.first, "type 3") != NULL);
    CHECK_EQ_INT(blk_check_all(run_blk_kern_ref(), run_blk_kern_ref(), &s), 0);
}

/* The NEON sets, cross-built and run under qemu-user: -cpu max picks the dot-product set,
 * -cpu cortex-a53 (ARMv8.0, no sdot) the baseline one; each must match the reference's bits. */
TEST(run_blk_neon_qemu)
{
    const char *missing = test_cross_missing();
    if (missing) SKIP(missing);
    char *out = NULL;
    int rc = test_cross_build("blk_aarch64",
                              "tests/cross/run_blk_main.c runner/run_blk_ref.c runner/run_blk_neon.c runner/run_blk_avx2.c "
                              "format/types.c format/err.c format/sys.c",
                              &out);
    if (rc != 0) test_fail_(__FILE__, __LINE__, "cross build failed: %s", out ? out : "");
    free(out);
    if (rc != 0) return;
    static const char *const cpus[2] = {"max", "cortex-a53"}, *const sets[2] = {"block set neondot: ", "block set neon: "};
    for (int i = 0; i < 2; i++) {
        char cmd[512];
        snprintf(cmd, sizeof cmd, "qemu-aarch64 -cpu %s %s/blk_aarch64", cpus[i], test_tmpdir());
        out = NULL;
        rc = test_run(cmd, &out);
        if (rc != 0 || !out || !strstr(out, sets[i]) || !strstr(out, " 0 failed"))
            test_fail_(__FILE__, __LINE__, "qemu -cpu %s: status %d, output: %s", cpus[i], rc, out ? out : "(none)");
        free(out);
    }
}
