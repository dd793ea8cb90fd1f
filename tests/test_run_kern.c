/* test_run_kern.c - every kernel set available on this host against the portable reference
 * (run_kern_check.h), and the NEON set built with an aarch64 cross compiler and run under
 * qemu-user (skipped, saying what is missing, when the cross toolchain is absent). */
#include <stdlib.h>
#include <unistd.h>

#include "run_kern_check.h"
#include "test.h"
#include "test_cross.h"

static void check_set(const run_kern *k)
{
    kc_state s;
    unsigned const bad = kern_check_all(run_kern_ref(), k, &s);
    if (bad) test_fail_(__FILE__, __LINE__, "%u of %u checks failed; first: %s", bad, s.checks, s.first);
    CHECK(s.checks > 500);
}

TEST(run_kern_avx2_vs_ref)
{
    const run_kern *k = run_kern_avx2();
    if (!k) SKIP("no AVX2 on this CPU or build");
    check_set(k);
}

TEST(run_kern_avxvnni_vs_ref)
{
    const run_kern *k = run_kern_avxvnni();
    if (!k) SKIP("no AVX-VNNI on this CPU or build");
    check_set(k);
}

TEST(run_kern_avx512_vs_ref)
{
    const run_kern *k = run_kern_avx512();
    if (!k) SKIP("no AVX-512 VNNI (F, BW, VL) on this CPU or build");
    check_set(k);
}

/* The best set is the widest this CPU has (the order of run_kern_best). */
TEST(run_kern_best_order)
{
    const run_kern *b = run_kern_best();
    const run_kern *want = run_kern_avx512();
    if (!want) want = run_kern_avxvnni();
    if (!want) want = run_kern_avx2();
    if (!want) want = run_kern_neoni8mm();
    if (!want) want = run_kern_neondot();
    if (!want) want = run_kern_neon();
    if (!want) want = run_kern_ref();
    CHECK(b == want);
}

TEST(run_kern_neondot_vs_ref_native)
{
    const run_kern *k = run_kern_neondot();
    if (!k) SKIP("no aarch64 dot-product extension here (the qemu test covers it)");
    check_set(k);
}

TEST(run_kern_neon_vs_ref_native)
{
    const run_kern *k = run_kern_neon();
    if (!k) SKIP("not an aarch64 build (the qemu test covers NEON)");
    check_set(k);
}

/* The checks must be able to fail: a kernel set with a wrong t2 dot is caught, and so are a
 * GEMV whose row differs from the dot product in the last bit and an int8 GEMV off by one. */
static int32_t broken_dot(const uint8_t *codes, const int8_t *q, uint64_t n_blocks)
{
    return run_kern_ref()->t2_dot(codes, q, n_blocks) + (n_blocks > 2);
}

static void broken_gemv_f16(const uint16_t *w, uint64_t n_rows, uint64_t cols, const float *x, float *out)
{
    run_kern_ref()->gemv_f16(w, n_rows, cols, x, out);
    if (n_rows > 4) out[4] = nextafterf(out[4], 1e30f);
}

static void broken_i8(const int8_t *w, uint64_t n_rows, uint64_t cols, const int8_t *q, int32_t *out)
{
    run_kern_ref()->i8_gemv(w, n_rows, cols, q, out);
    if (cols > 64) out[n_rows - 1] += 1;
}

/* a tiled kernel that drops the last token of a tile of more than four */
static void broken_gemm(const uint8_t *codes, uint64_t n_rows, uint64_t n_blocks, const int8_t *q, uint64_t q_stride, uint32_t n_tok,
                        int32_t *out, uint64_t ld_out)
{
    run_kern_ref()->t2_gemm(codes, n_rows, n_blocks, q, q_stride, n_tok, out, ld_out);
    if (n_tok > 4) out[(n_tok - 1) * ld_out + n_rows - 1] = 0;
}

TEST(run_kern_check_catches_errors)
{
    run_kern bad = *run_kern_ref();
    bad.name = "broken";
    bad.t2_dot = broken_dot;
    kc_state s;
    CHECK(kern_check_all(run_kern_ref(), &bad, &s) > 0);
    bad = *run_kern_ref();
    bad.gemv_f16 = broken_gemv_f16;
    CHECK(kern_check_all(run_kern_ref(), &bad, &s) > 0);
    CHECK(strstr(s.first, "gemv") != NULL);
    bad = *run_kern_ref();
    bad.i8_gemv = broken_i8;
    CHECK(kern_check_all(run_kern_ref(), &bad, &s) > 0);
    CHECK(strstr(s.first, "i8_gemv") != NULL);
    bad = *run_kern_ref();
    bad.t2_gemm = broken_gemm;
    CHECK(kern_check_all(run_kern_ref(), &bad, &s) > 0);
    CHECK(strstr(s.first, "t2_gemm") != NULL);
}

TEST(run_kern_neon_qemu)
{
    const char *missing = test_cross_missing();
    if (missing) SKIP(missing);
    const char *dir = test_tmpdir();
    char cmd[512];
    char *out = NULL;
    int rc = test_cross_build("kern_aarch64",
                              "tests/cross/run_kern_main.c runner/run_kern_ref.c runner/run_kern_neon.c runner/run_kern_neondot.c runner/run_kern_neoni8mm.c "
                              "runner/run_kern_avx2.c runner/run_kern_avxvnni.c runner/run_kern_avx512.c runner/run_ops.c "
                              "runner/run_act_lin.c runner/run_pool.c runner/run_blk_lin.c runner/run_blk_ref.c runner/run_blk_neon.c "
                              "runner/run_blk_avx2.c runner/run_kern16_ref.c runner/run_kern16_avx2.c runner/run_b3.c runner/run_kern_b3_ref.c runner/run_kern_b3_x86.c "
                              "format/types.c format/err.c format/sys.c",
                              &out);
    if (rc != 0) test_fail_(__FILE__, __LINE__, "cross build failed: %s", out ? out : "");
    free(out);
    if (rc != 0) return;
    /* -cpu max: every extension qemu emulates (dot product, i8mm), so all three sets run; then a
     * CPU without the dot product (cortex-a53, ARMv8.0): the baseline set alone is picked */
    static const char *const cpus[2] = {"max", "cortex-a53"};
    for (int i = 0; i < 2; i++) {
        snprintf(cmd, sizeof cmd, "qemu-aarch64 -cpu %s %s/kern_aarch64", cpus[i], dir);
        out = NULL;
        rc = test_run(cmd, &out);
        int const want_dot = i == 0;
        if (rc != 0 || !out || !strstr(out, "kernel set neon: ") || strstr(out, " 0 failed") == NULL ||
            (want_dot ? !strstr(out, "kernel set neondot: ") || strstr(out, "neondot: absent") ||
                            !strstr(out, "kernel set neoni8mm: ") || strstr(out, "neoni8mm: absent")
                      : !strstr(out, "neondot: absent") || !strstr(out, "neoni8mm: absent")))
            test_fail_(__FILE__, __LINE__, "qemu -cpu %s: status %d, output: %s", cpus[i], rc, out ? out : "(none)");
        free(out);
    }
}
