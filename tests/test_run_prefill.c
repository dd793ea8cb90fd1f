/* test_run_prefill.c - the prefill path (rows x tokens t2 kernel, run_kern.h t2_gemm) gives the
 * bits of the one-token path: a dense BitNet-style t2 model evaluated token by token, in one
 * batch (micro-batches of 32 plus a tail, so full and partial tiles of rows and tokens), in odd
 * chunks, on 1, 2 and 3 threads, with the best kernel set and the portable reference. */
#include <string.h>

#include "run.h"
#include "test.h"
#include "test_run_util.h"

TEST(run_prefill_tiles_exact)
{
    trm_cfg c;
    trm_default(&c);
    c.proj_type = TRIT_TYPE_T2;
    c.scale_layout = TRIT_SCALE_ROW;
    c.sub_norm = 1;
    c.n_embd = 160; /* two t2 blocks, the second one partial */
    c.head_dim = 40;
    c.rope_dim = 40;
    c.n_ff = 203;   /* rows not a multiple of the 4-row tile */
    const char *path = test_path(test_tmpdir(), "prefill.trit");
    trit_err err;
    CHECK_OK_E(trm_write(&c, path, &err), &err);
    enum { N = 45 };
    uint32_t t[N];
    for (uint32_t i = 0; i < N; i++) t[i] = (i * 37 + 11) % c.n_vocab;
    float one[2][512], got[512];
    CHECK(c.n_vocab <= 512);
    size_t const bytes = sizeof(float) * c.n_vocab;
    /* token by token (the one-token path only), per kernel set: float kernels (attention, the
     * head) may differ between sets in the last bits, never within one */
    for (int ref = 0; ref < 2; ref++)
        CHECK_OK_E(trm_run_logits(path, t, N, 1, ref ? RUN_KERNEL_REF : RUN_KERNEL_AUTO, 1ull << 30, RUN_POLICY_LRU, 1, one[ref], &err),
                   &err);
    static const uint32_t chunks[] = {0, 7, 40};
    for (unsigned ci = 0; ci < sizeof chunks / sizeof chunks[0]; ci++)
        for (uint32_t th = 1; th <= 3; th++)
            for (int ref = 0; ref < 2; ref++) {
                memset(got, 0, sizeof got);
                CHECK_OK_E(trm_run_logits(path, t, N, th, ref ? RUN_KERNEL_REF : RUN_KERNEL_AUTO, 1ull << 30, RUN_POLICY_LRU, chunks[ci],
                                          got, &err),
                           &err);
                if (memcmp(one[ref], got, bytes))
                    test_fail_(__FILE__, __LINE__, "chunk %u, %u threads, %s kernels: logits differ from token by token",
                               chunks[ci], th, ref ? "reference" : "best");
            }
}
