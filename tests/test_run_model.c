/* test_run_model.c - the runner's forward pass against the naive reference of
 * test_run_util.c, on tiny models covering every architecture feature of spec 10: llama GQA in
 * f32/f16/bf16, biases, q/k norms, tied embeddings, BitNet sub-norms and relu2, t2 with
 * per-tensor/row/group scales (group sizes 32, 64, 128 and one that is not a multiple of 32,
 * rows not multiples of 128), and MoE with softmax/sigmoid gating, norm_topk, routed_scale,
 * exp_probs_b, shared experts with and without the sigmoid gate, and first_dense_layers. */
#include <stdlib.h>
#include <string.h>

#include "run.h"
#include "test.h"
#include "test_run_util.h"

static const uint32_t toks[] = {5, 17, 3, 96, 42, 42, 0, 61, 8, 33, 70};
#define N_TOKS ((uint32_t)(sizeof toks / sizeof toks[0]))

/* Write cfg, run the reference and the runner (reference kernels, 1 thread, tokens in
 * chunks of 4 so the KV cache is used across calls), compare within tol. Also checks the
 * best kernel set with 3 threads against the reference kernels within tol_simd. */
static void check_model(const trm_cfg *cfg, const char *name, double tol, double tol_simd)
{
    const char *path = test_path(test_tmpdir(), name);
    trit_err err;
    CHECK_OK_E(trm_write(cfg, path, &err), &err);
    uint32_t const V = cfg->n_vocab;
    float *ref = malloc(sizeof *ref * V), *got = malloc(sizeof *got * V), *simd = malloc(sizeof *simd * V);
    CHECK_OK_E(trm_ref_logits(path, toks, N_TOKS, ref, &err), &err);
    CHECK_OK_E(trm_run_logits(path, toks, N_TOKS, 1, RUN_KERNEL_REF, 1ull << 30, RUN_POLICY_LRU, 4, got, &err), &err);
    double const d = trm_max_diff(ref, got, V);
    if (!(d <= tol)) test_fail_(__FILE__, __LINE__, "%s: runner (ref kernels) vs naive reference: max |diff| %g > %g", name, d, tol);
    CHECK_OK_E(trm_run_logits(path, toks, N_TOKS, 3, RUN_KERNEL_AUTO, 1ull << 30, RUN_POLICY_LRU, 0, simd, &err), &err);
    double const ds = trm_max_diff(ref, simd, V);
    if (!(ds <= tol_simd))
        test_fail_(__FILE__, __LINE__, "%s: runner (best kernels, 3 threads) vs naive reference: max |diff| %g > %g", name, ds, tol_simd);
    /* the logits are not trivially flat */
    double spread = 0;
    for (uint32_t i = 1; i < V; i++) spread += ref[i] > ref[0] ? ref[i] - ref[0] : ref[0] - ref[i];
    CHECK(spread > 0.01 * V);
    free(ref);
    free(got);
    free(simd);
}

TEST(run_model_llama_f32)
{
    trm_cfg c;
    trm_default(&c);
    check_model(&c, "llama_f32.trit", 1e-4, 1e-4);
}

TEST(run_model_llama_f16_bias_qknorm_tied_gelu)
{
    trm_cfg c;
    trm_default(&c);
    c.proj_type = TRIT_TYPE_F16;
    c.emb_type = TRIT_TYPE_BF16;
    c.bias = 1;
    c.qk_norm = 1;
    c.tied = 1;
    c.act = "gelu";
    c.n_head = 6;
    c.n_head_kv = 3;
    c.head_dim = 12;
    c.rope_dim = 8;     /* partial rotary */
    c.n_embd = 72;
    check_model(&c, "llama_f16.trit", 1e-4, 1e-4);
}

TEST(run_model_llama_bf16_mha)
{
    trm_cfg c;
    trm_default(&c);
    c.proj_type = TRIT_TYPE_BF16;
    c.emb_type = TRIT_TYPE_F16;
    c.n_head_kv = 4;    /* no GQA */
    c.n_layer = 3;
    check_model(&c, "llama_bf16.trit", 1e-4, 1e-4);
}

/* BitNet b1.58: t2 per-tensor scales, sub-norms, relu2, tied bf16 embeddings. Ternary
 * outputs depend on int8 rounding, so the SIMD comparison allows for a rare flipped step. */
TEST(run_model_bitnet_t2_tensor)
{
    trm_cfg c;
    trm_default(&c);
    c.proj_type = TRIT_TYPE_T2;
    c.scale_layout = TRIT_SCALE_TENSOR;
    c.sub_norm = 1;
    c.act = "relu2";
    c.tied = 1;
    c.emb_type = TRIT_TYPE_BF16;
    c.n_embd = 160;     /* two t2 blocks, the second one partial */
    c.head_dim = 40;
    c.rope_dim = 40;
    c.n_ff = 200;
    check_model(&c, "bitnet_t2.trit", 1e-4, 1e-3);
}

TEST(run_model_t2_row_odd)
{
    trm_cfg c;
    trm_default(&c);
    c.proj_type = TRIT_TYPE_T2;
    c.scale_layout = TRIT_SCALE_ROW;
    c.n_embd = 72;
    c.head_dim = 18;
    c.rope_dim = 18;
    c.n_ff = 131;
    check_model(&c, "t2_row.trit", 1e-4, 1e-3);
}

static void group_case(uint32_t G, const char *name)
{
    trm_cfg c;
    trm_default(&c);
    c.proj_type = TRIT_TYPE_T2;
    c.scale_layout = TRIT_SCALE_GROUP;
    c.group_size = G;
    c.n_embd = 136;
    c.head_dim = 34;
    c.rope_dim = 34;
    c.n_ff = 200;
    check_model(&c, name, 1e-4, 1e-3);
}

TEST(run_model_t2_group32) { group_case(32, "t2_g32.trit"); }
TEST(run_model_t2_group64) { group_case(64, "t2_g64.trit"); }
TEST(run_model_t2_group128) { group_case(128, "t2_g128.trit"); }
TEST(run_model_t2_group48) { group_case(48, "t2_g48.trit"); }

/* --act-scales float: t2 weights against unquantized activations, for weight scales per row,
 * per group of 32 (plane path) and of 48 (element path), against the reference summing in
 * double; the thread count and chunking change no bit, and the mode differs from per-token int8. */
static void float_case(uint32_t layout, uint32_t G, const char *name)
{
    trm_cfg c;
    trm_default(&c);
    c.proj_type = TRIT_TYPE_T2;
    c.scale_layout = layout;
    c.group_size = G;
    c.n_embd = 192;
    c.head_dim = 48;
    c.rope_dim = 48;
    c.n_ff = 144;
    trit_err err;
    const char *path = test_path(test_tmpdir(), name);
    CHECK_OK_E(trm_write(&c, path, &err), &err);
    float ref[256], got[256], got3[256], dyn[256];
    CHECK(c.n_vocab <= 256);
    trm_ref_act_float = 1;
    trm_run_act_scales = RUN_ACT_SCALES_FLOAT;
    int rc = trm_ref_logits(path, toks, N_TOKS, ref, &err);
    if (!rc) rc = trm_run_logits(path, toks, N_TOKS, 1, RUN_KERNEL_REF, 1ull << 30, RUN_POLICY_LRU, 4, got, &err);
    if (!rc) rc = trm_run_logits(path, toks, N_TOKS, 3, RUN_KERNEL_AUTO, 1ull << 30, RUN_POLICY_LRU, 0, got3, &err);
    trm_ref_act_float = 0;
    trm_run_act_scales = RUN_ACT_SCALES_DYNAMIC;
    CHECK_OK_E(rc, &err);
    CHECK_OK_E(trm_run_logits(path, toks, N_TOKS, 1, RUN_KERNEL_REF, 1ull << 30, RUN_POLICY_LRU, 4, dyn, &err), &err);
    double const d = trm_max_diff(ref, got, c.n_vocab), d3 = trm_max_diff(got, got3, c.n_vocab), dd = trm_max_diff(got, dyn, c.n_vocab);
    if (!(d <= 1e-4)) test_fail_(__FILE__, __LINE__, "%s: float mode vs reference: %g", name, d);
    /* projections are the same code on any kernel set; attention's float sums may differ */
    if (!(d3 <= 1e-4)) test_fail_(__FILE__, __LINE__, "%s: float mode, 3 threads and best kernels: %g", name, d3);
    if (!(dd > 1e-4)) test_fail_(__FILE__, __LINE__, "%s: float mode equals int8 per-token mode (%g)", name, dd);
}

TEST(run_model_act_float)
{
    float_case(TRIT_SCALE_ROW, 0, "float-row.trit");
    float_case(TRIT_SCALE_GROUP, 32, "float-g32.trit");
    float_case(TRIT_SCALE_GROUP, 48, "float-g48.trit");
}

/* Qwen3-MoE: softmax, renormalised top-k, q/k norms, t2 experts in zstd units. */
/* --act-scales block: int8 steps per 256 inputs. Rows of several blocks with a partial last
 * one (600 = 256 + 256 + 88, FFN 520), against the reference quantizing the same way, for
 * weight scales per tensor, per group of 32 (chunk path) and of 48 (element path); and the
 * mode differs from per-token there, but not by one bit on rows of one block. */
static void block_case(uint32_t layout, uint32_t G, uint32_t embd, const char *name, int differs)
{
    trm_cfg c;
    trm_default(&c);
    c.proj_type = TRIT_TYPE_T2;
    c.scale_layout = layout;
    c.group_size = G;
    c.n_embd = embd;
    c.head_dim = embd / 4;
    c.rope_dim = embd / 4;
    c.n_ff = embd - 80;
    c.sub_norm = 1;
    trit_err err;
    const char *path = test_path(test_tmpdir(), name);
    CHECK_OK_E(trm_write(&c, path, &err), &err);
    float ref[256], got[256], simd[256], simd1[256], tok[256];
    CHECK(c.n_vocab <= 256);
    trm_ref_act_block = 1;
    trm_run_act_scales = RUN_ACT_SCALES_BLOCK;
    int rc = trm_ref_logits(path, toks, N_TOKS, ref, &err);
    if (!rc) rc = trm_run_logits(path, toks, N_TOKS, 1, RUN_KERNEL_REF, 1ull << 30, RUN_POLICY_LRU, 4, got, &err);
    if (!rc) rc = trm_run_logits(path, toks, N_TOKS, 3, RUN_KERNEL_AUTO, 1ull << 30, RUN_POLICY_LRU, 0, simd, &err);
    if (!rc) rc = trm_run_logits(path, toks, N_TOKS, 1, RUN_KERNEL_AUTO, 1ull << 30, RUN_POLICY_LRU, 3, simd1, &err);
    trm_ref_act_block = 0;
    trm_run_act_scales = RUN_ACT_SCALES_DYNAMIC;
    CHECK_OK_E(rc, &err);
    CHECK_OK_E(trm_run_logits(path, toks, N_TOKS, 1, RUN_KERNEL_REF, 1ull << 30, RUN_POLICY_LRU, 4, tok, &err), &err);
    double const d = trm_max_diff(ref, got, c.n_vocab), dt = trm_max_diff(got, tok, c.n_vocab);
    if (!(d <= 1e-4)) test_fail_(__FILE__, __LINE__, "%s: block mode vs reference: %g", name, d);
    /* the best kernels sum attention's floats in another order (so int8 rounding may step
     * differently than above), but threads and chunking change no bit */
    CHECK(memcmp(simd, simd1, sizeof(float) * c.n_vocab) == 0);
    /* one block per row: the same steps, so the same bits as per-token mode */
    if (differs ? !(dt > 1e-3) : dt != 0) test_fail_(__FILE__, __LINE__, "%s: block vs per-token mode: %g", name, dt);
}

TEST(run_model_act_block)
{
    block_case(TRIT_SCALE_TENSOR, 0, 600, "blk_t.trit", 1);
    block_case(TRIT_SCALE_GROUP, 32, 600, "blk_g32.trit", 1);
    block_case(TRIT_SCALE_GROUP, 48, 600, "blk_g48.trit", 1);
    block_case(TRIT_SCALE_ROW, 0, 240, "blk_one.trit", 0);   /* every row fits one block */
    block_case(TRIT_SCALE_GROUP, 48, 240, "blk_one48.trit", 0);
}

TEST(run_model_moe_qwen3)
{
    trm_cfg c;
    trm_default(&c);
    c.n_ff = 0;
    c.n_expert = 6;
    c.n_expert_used = 2;
    c.n_ff_expert = 48;
    c.norm_topk = 1;
    c.qk_norm = 1;
    c.proj_type = TRIT_TYPE_T2;
    c.scale_layout = TRIT_SCALE_GROUP;
    c.group_size = 32;
    c.emb_type = TRIT_TYPE_F16;
    check_model(&c, "moe_qwen3.trit", 1e-4, 1e-3);
}

/* DeepSeek-style: sigmoid scores, selection bias, routed scale, ungated shared experts, a
 * leading dense layer, raw units, f32 experts. */
TEST(run_model_moe_deepseek)
{
    trm_cfg c;
    trm_default(&c);
    c.n_layer = 3;
    c.first_dense = 1;
    c.n_expert = 8;
    c.n_expert_used = 3;
    c.n_ff_expert = 40;
    c.n_ff_shexp = 56;
    c.gating = "sigmoid";
    c.norm_topk = 1;
    c.routed_scale = 2.5f;
    c.exp_bias = 1;
    c.storage = TRIT_STORAGE_RAW;
    check_model(&c, "moe_deepseek.trit", 1e-4, 1e-4);
}

/* Qwen2-MoE: softmax without renormalisation, gated shared expert, q/k/v biases, f16. */
TEST(run_model_moe_qwen2)
{
    trm_cfg c;
    trm_default(&c);
    c.n_ff = 0;
    c.n_expert = 5;
    c.n_expert_used = 2;
    c.n_ff_expert = 24;
    c.n_ff_shexp = 64;
    c.shared_gate = 1;
    c.bias = 1;
    c.proj_type = TRIT_TYPE_F16;
    c.emb_type = TRIT_TYPE_BF16;
    check_model(&c, "moe_qwen2.trit", 1e-4, 1e-4);
}

/* Splitting the same tokens differently over eval calls (1 at a time, all at once, chunks
 * larger than the micro-batch) gives the same bits: every token's arithmetic is independent of
 * its batch. */
TEST(run_model_batching_invariant)
{
    trm_cfg c;
    trm_default(&c);
    c.proj_type = TRIT_TYPE_T2;
    c.n_expert = 4;
    c.n_expert_used = 2;
    c.n_ff_expert = 32;
    c.n_ff = 0;
    const char *path = test_path(test_tmpdir(), "batching.trit");
    trit_err err;
    CHECK_OK_E(trm_write(&c, path, &err), &err);
    uint32_t t[45];
    for (uint32_t i = 0; i < 45; i++) t[i] = (i * 37 + 11) % c.n_vocab;
    float a[97], b[97], d[97];
    CHECK_OK_E(trm_run_logits(path, t, 45, 2, RUN_KERNEL_AUTO, 1ull << 30, RUN_POLICY_LRU, 1, a, &err), &err);
    CHECK_OK_E(trm_run_logits(path, t, 45, 2, RUN_KERNEL_AUTO, 1ull << 30, RUN_POLICY_LRU, 0, b, &err), &err);
    CHECK_OK_E(trm_run_logits(path, t, 45, 2, RUN_KERNEL_AUTO, 1ull << 30, RUN_POLICY_LRU, 40, d, &err), &err);
    CHECK(memcmp(a, b, sizeof a) == 0);
    CHECK(memcmp(a, d, sizeof a) == 0);
}

/* Refusals: a missing required key, a wrong shape, a bad token id, a full context. */
TEST(run_model_refusals)
{
    trm_cfg c;
    trm_default(&c);
    const char *path = test_path(test_tmpdir(), "refuse.trit");
    trit_err err;
    CHECK_OK_E(trm_write(&c, path, &err), &err);
    run_weights w;
    CHECK_OK_E(run_weights_open_trit(path, 0, &w, &err), &err);
    run_opts o;
    run_opts_default(&o);
    o.n_ctx = 4;
    run_ctx *ctx = NULL;
    CHECK_OK_E(run_ctx_new(&w, &o, &ctx, &err), &err);
    if (ctx) {
        uint32_t bad = c.n_vocab;
        CHECK_EQ_INT(run_ctx_eval(ctx, &bad, 1, NULL, &err), TRIT_E_USAGE);
        uint32_t five[5] = {1, 2, 3, 4, 5};
        CHECK_EQ_INT(run_ctx_eval(ctx, five, 5, NULL, &err), TRIT_E_LIMIT);
        CHECK_OK_E(run_ctx_eval(ctx, five, 4, NULL, &err), &err);
        CHECK_EQ_INT(run_ctx_eval(ctx, five, 1, NULL, &err), TRIT_E_LIMIT);
        run_ctx_reset(ctx);
        CHECK_OK_E(run_ctx_eval(ctx, five, 1, NULL, &err), &err);
    }
    run_ctx_free(ctx);
    run_weights_close(&w);

    /* metadata that does not match the tensors, and a missing required key */
    trm_cfg bad = c;
    bad.meta_head_dim = 8;
    bad.rope_dim = 8;
    const char *p2 = test_path(test_tmpdir(), "refuse2.trit");
    CHECK_OK_E(trm_write(&bad, p2, &err), &err);
    CHECK_OK_E(run_weights_open_trit(p2, 0, &w, &err), &err);
    ctx = NULL;
    CHECK_EQ_INT(run_ctx_new(&w, NULL, &ctx, &err), TRIT_E_CORRUPT);
    CHECK(strstr(err.where, "blk.0.attn_q.weight") != NULL);
    CHECK(strstr(err.msg, "expected [32, 64]") != NULL);
    CHECK(strstr(err.file, "refuse2.trit") != NULL);
    CHECK(ctx == NULL);
    run_weights_close(&w);
    bad = c;
    bad.omit_key = "model.norm_eps";
    CHECK_OK_E(trm_write(&bad, p2, &err), &err);
    CHECK_OK_E(run_weights_open_trit(p2, 0, &w, &err), &err);
    CHECK_EQ_INT(run_ctx_new(&w, NULL, &ctx, &err), TRIT_E_CORRUPT);
    CHECK(strstr(err.msg, "model.norm_eps") != NULL);
    run_weights_close(&w);
    bad = c;
    bad.act = "swish9";
    CHECK_OK_E(trm_write(&bad, p2, &err), &err);
    CHECK_OK_E(run_weights_open_trit(p2, 0, &w, &err), &err);
    CHECK_EQ_INT(run_ctx_new(&w, NULL, &ctx, &err), TRIT_E_UNSUPPORTED);
    run_weights_close(&w);
}
