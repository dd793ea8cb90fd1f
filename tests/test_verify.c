/* test_verify.c - `trit verify` check by check: one defective container per check, built
 * through libtrit's writer (test_verify_util.c), must give exactly the expected finding, class
 * and exit code; the clean container must give none. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "test.h"
#include "test_verify.h"

/* Build the model with one defect, verify it, return the exit code; rep is left for checks. */
static int run(const char *name, const vt_defects *d, const vfy_opts *o, vfy_report *rep)
{
    const char *path = test_path(test_tmpdir(), name);
    trit_err e;
    trit_err_clear(&e);
    memset(rep, 0, sizeof *rep);
    CHECK_OK_E(vt_build(path, d, &e), &e);
    int const rc = vt_verify(path, o, rep);
    if (rc < 0) test_fail_(__FILE__, __LINE__, "vfy_verify refused to run on %s", name);
    return rc;
}

static void dump(const vfy_report *rep)
{
    vfy_report_print(rep, stderr, 1);
}

TEST(verify_clean_model_passes)
{
    vfy_report rep;
    int const rc = run("clean.trit", NULL, NULL, &rep);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_U64(vfy_report_n_errors(&rep), 0);
    CHECK_EQ_U64(rep.n_warnings, 0);
    CHECK_EQ_U64(rep.n_units, 4);
    CHECK_EQ_U64(rep.n_sections, 1);
    CHECK_EQ_U64(rep.n_tensors, 31);   /* 1 + 2*6 + 3 dense FFN + 1 router + 12 members + 2 */
    CHECK_STR(rep.format, "trit");
    CHECK_STR(rep.version, "1.0");
    CHECK_STR(rep.runtime, "0.1.0");
    if (rc) dump(&rep);
    vfy_report_release(&rep);
}

TEST(verify_nan_in_float_tensor)
{
    vt_defects d = {0};
    d.nan_float = 1;
    vfy_report rep;
    CHECK_EQ_INT(run("nan.trit", &d, NULL, &rep), 1);
    CHECK_EQ_INT(vt_count(&rep, VFY_C_TENSOR, "tensor 'blk.0.attn_norm.weight'", "1 NaN and 0 infinite values of 64 (first at element 3)"), 1);
    CHECK_EQ_U64(vfy_report_n_errors(&rep), 1);
    vfy_report_release(&rep);
}

TEST(verify_inf_in_f16_tensor)
{
    vt_defects d = {0};
    d.inf_float = 1;
    vfy_report rep;
    CHECK_EQ_INT(run("inf.trit", &d, NULL, &rep), 1);
    CHECK_EQ_INT(vt_count(&rep, VFY_C_TENSOR, "token_embd.weight", "0 NaN and 1 infinite values"), 1);
    CHECK_EQ_U64(vfy_report_n_errors(&rep), 1);
    vfy_report_release(&rep);
}

TEST(verify_zero_and_nan_scales)
{
    vt_defects d = {0};
    d.zero_scale = 1;
    d.nan_scale = 1;
    vfy_report rep;
    CHECK_EQ_INT(run("scale.trit", &d, NULL, &rep), 1);
    CHECK_EQ_INT(vt_count(&rep, VFY_C_TENSOR, "blk.0.attn_k.weight", "1 zero and 0 non-finite scales of 32 (first: scale 1)"), 1);
    CHECK_EQ_INT(vt_count(&rep, VFY_C_TENSOR, "blk.0.attn_v.weight", "0 zero and 1 non-finite scales of 64 (first: scale 2)"), 1);
    CHECK_EQ_U64(vfy_report_n_errors(&rep), 2);
    vfy_report_release(&rep);
}

TEST(verify_all_zero_projection_dense_and_expert)
{
    vt_defects d = {0};
    d.zero_proj = 1;
    d.zero_expert = 1;
    vfy_report rep;
    CHECK_EQ_INT(run("zero.trit", &d, NULL, &rep), 1);
    CHECK_EQ_INT(vt_count(&rep, VFY_C_TENSOR, "tensor 'blk.0.ffn_up.weight'", "projection is all zero (128 x 64 weights)"), 1);
    CHECK_EQ_INT(vt_count(&rep, VFY_C_TENSOR, "tensor 'blk.1.ffn_down.2.weight'", "projection is all zero (64 x 32 weights)"), 1);
    CHECK_EQ_U64(vfy_report_n_errors(&rep), 2);
    vfy_report_release(&rep);
}

TEST(verify_invalid_t2_code)
{
    vt_defects d = {0};
    d.code3 = 1;
    vfy_report rep;
    CHECK_EQ_INT(run("code3.trit", &d, NULL, &rep), 1);
    CHECK_EQ_INT(vt_count(&rep, VFY_C_TENSOR, "tensor 'blk.0.attn_k.weight'", "invalid ternary code 3 in 1 bytes"), 1);
    CHECK_EQ_U64(vfy_report_n_errors(&rep), 1);
    /* the finding carries the byte's file offset: byte 5 of the tensor */
    for (uint32_t i = 0; i < rep.n_issues; i++)
        if (strstr(rep.issues[i].object, "attn_k")) CHECK(rep.issues[i].offset != TRIT_NO_OFFSET && rep.issues[i].offset % 64 == 5);
    vfy_report_release(&rep);
}

TEST(verify_wrong_layer_count)
{
    vt_defects d = {0};
    d.n_layer = 4;
    vfy_report rep;
    CHECK_EQ_INT(run("layers4.trit", &d, NULL, &rep), 1);
    CHECK_EQ_INT(vt_count(&rep, VFY_C_METADATA, "layers 2..3", "no tensors, but model.n_layer is 4"), 1);
    CHECK_EQ_U64(vfy_report_n_errors(&rep), 1);
    vfy_report_release(&rep);
    d.n_layer = 1;
    CHECK_EQ_INT(run("layers1.trit", &d, NULL, &rep), 1);
    CHECK_EQ_INT(vt_count(&rep, VFY_C_METADATA, "layer 1", "has tensors, but model.n_layer is 1"), 1);
    vfy_report_release(&rep);
}

TEST(verify_missing_expert_unit)
{
    vt_defects d = {0};
    d.drop_expert = 1;
    vfy_report rep;
    CHECK_EQ_INT(run("units3.trit", &d, NULL, &rep), 1);
    CHECK_EQ_INT(vt_count(&rep, VFY_C_METADATA, "layer 1", "3 expert units, moe.n_expert is 4"), 1);
    CHECK_EQ_INT(vt_count(&rep, VFY_C_METADATA, "layer 1", "1 of moe.n_expert = 4 experts are missing (first: expert 3)"), 1);
    /* two findings, one object: the text report prints one line for layer 1 */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    vfy_report_print(&rep, f, 0);
    fclose(f);
    int lines = 0;
    for (const char *p = buf; p && (p = strstr(p, ": layer 1: ")) != NULL; p++) lines++;
    CHECK_EQ_INT(lines, 1);
    free(buf);
    vfy_report_release(&rep);
}

TEST(verify_expert_count_metadata)
{
    vt_defects d = {0};
    d.n_expert = 8;
    vfy_report rep;
    CHECK_EQ_INT(run("experts8.trit", &d, NULL, &rep), 1);
    CHECK_EQ_INT(vt_count(&rep, VFY_C_METADATA, "layer 1", "4 expert units, moe.n_expert is 8"), 1);
    /* the router's shape names the expert count too */
    CHECK_EQ_INT(vt_count(&rep, VFY_C_METADATA, "blk.1.ffn_gate_inp.weight", "expected [n_expert=8, n_embd=64]"), 1);
    vfy_report_release(&rep);
}

TEST(verify_shape_per_name_table)
{
    vt_defects d = {0};
    d.bad_shape = 1;
    vfy_report rep;
    CHECK_EQ_INT(run("shape.trit", &d, NULL, &rep), 1);
    CHECK_EQ_INT(vt_count(&rep, VFY_C_METADATA, "blk.1.attn_q.weight",
                          "shape [48, 64], expected [n_head*head_dim=64, n_embd=64]"), 1);
    CHECK_EQ_U64(vfy_report_n_errors(&rep), 1);
    vfy_report_release(&rep);
}

TEST(verify_required_key_and_names)
{
    vt_defects d = {0};
    d.no_head_dim = 1;
    vfy_report rep;
    CHECK_EQ_INT(run("nohd.trit", &d, NULL, &rep), 1);
    CHECK_EQ_INT(vt_count(&rep, VFY_C_METADATA, "metadata 'model.head_dim'", "missing; spec 10.1 requires it"), 1);
    CHECK_EQ_U64(vfy_report_n_errors(&rep), 1);
    vfy_report_release(&rep);
    memset(&d, 0, sizeof d);
    d.hf_names = 1;
    CHECK_EQ_INT(run("hf.trit", &d, NULL, &rep), 1);
    CHECK_EQ_INT(vt_count(&rep, VFY_C_METADATA, "model.layers.1.mlp.experts.2.up_proj.weight",
                          "spec 10.2 calls it 'blk.1.ffn_up.2.weight'"), 1);
    /* 31 tensors, every one misnamed; nothing else is wrong (shapes check on canonical names) */
    CHECK_EQ_U64(rep.n_errors[VFY_C_METADATA], 31);
    CHECK_EQ_U64(vfy_report_n_errors(&rep), 31);
    vfy_report_release(&rep);
}

TEST(verify_future_version_and_feature)
{
    const char *path = test_path(test_tmpdir(), "future.trit");
    trit_err e;
    vfy_report rep;
    CHECK_OK_E(vt_build(path, NULL, &e), &e);
    CHECK_EQ_INT(vt_patch_header(path, 2, 0, 0), 0);
    CHECK_EQ_INT(vt_verify(path, NULL, &rep), 5);
    CHECK_EQ_INT(vt_count(&rep, VFY_C_COMPAT, "header", "format 2.0 needs a newer runtime: runtime 0.1.0 reads formats up to 1.1"), 1);
    CHECK_EQ_U64(vfy_report_n_errors(&rep), 1);   /* libtrit's own refusal is the same finding */
    CHECK(rep.stopped);
    vfy_report_release(&rep);

    CHECK_OK_E(vt_build(path, NULL, &e), &e);
    CHECK_EQ_INT(vt_patch_header(path, 0, 0, 1ull << 5), 0);
    CHECK_EQ_INT(vt_verify(path, NULL, &rep), 5);
    CHECK_EQ_INT(vt_count(&rep, VFY_C_COMPAT, "header", "does not implement required feature bit 5"), 1);
    vfy_report_release(&rep);

    /* 1.2: a 1.1 runtime still reads it (spec 4): a warning, exit 0 */
    CHECK_OK_E(vt_build(path, NULL, &e), &e);
    CHECK_EQ_INT(vt_patch_header(path, 1, 2, 0), 0);
    CHECK_EQ_INT(vt_verify(path, NULL, &rep), 0);
    CHECK_EQ_U64(rep.n_warnings, 1);
    CHECK_EQ_INT(vt_count(&rep, VFY_C_COMPAT, "header", "format 1.2 is newer than runtime 0.1.0 knows"), 1);
    vfy_report_release(&rep);
}

TEST(verify_older_runtime_table)
{
    /* a hypothetical history: 0.0.9 read 1.0 without zstd and knew types up to t2 only */
    static const vfy_runtime tab[] = {
        {"0.0.9", 1, 0, 0, TRIT_TYPE_T2 + 1},
        {"0.1.0", 1, 0, TRIT_FEAT_REQ_ZSTD, TRIT_TYPE_COUNT_},
    };
    vfy_opts o;
    memset(&o, 0, sizeof o);
    o.runtimes = tab;
    o.n_runtimes = 2;
    o.runtime_version = "0.0.9";
    vt_defects d = {0};
    d.unknown_type = 1;
    vfy_report rep;
    CHECK_EQ_INT(run("old-rt.trit", &d, &o, &rep), 5);
    CHECK_EQ_INT(vt_count(&rep, VFY_C_COMPAT, "header", "runtime 0.0.9 does not implement required feature ZSTD (bit 0)"), 1);
    CHECK_EQ_INT(vt_count(&rep, VFY_C_COMPAT, "rope_freqs.weight", "element type 200 is not one runtime 0.0.9 can compute with"), 1);
    CHECK_STR(rep.runtime, "0.0.9");
    vfy_report_release(&rep);
    /* 0.0.9.5 is not a version; 0.0.1 is older than every row */
    trit_err e;
    o.runtime_version = "0.0.1";
    CHECK_EQ_INT(vfy_verify(test_path(test_tmpdir(), "old-rt.trit"), &o, &rep, &e), TRIT_E_USAGE);
    CHECK(strstr(e.msg, "unknown runtime version '0.0.1'") != NULL);
    vfy_report_release(&rep);
    o.runtime_version = "0.0.9.5";
    CHECK_EQ_INT(vfy_verify(test_path(test_tmpdir(), "old-rt.trit"), &o, &rep, &e), TRIT_E_USAGE);
    vfy_report_release(&rep);
    /* the built-in table: this runtime computes with every type it knows, not type 9 */
    CHECK_EQ_INT(run("unk-type.trit", &d, NULL, &rep), 5);
    CHECK_EQ_INT(vt_count(&rep, VFY_C_COMPAT, "rope_freqs.weight", "element type 200"), 1);
    vfy_report_release(&rep);
    /* a newer runtime than this build knows: checked against the newest row, with a warning */
    memset(&o, 0, sizeof o);
    o.runtime_version = "9.0";
    CHECK_EQ_INT(run("newer-rt.trit", NULL, &o, &rep), 0);
    CHECK_EQ_INT(vt_count(&rep, VFY_C_COMPAT, "runtime", "newer than this trit knows"), 1);
    vfy_report_release(&rep);
}

TEST(verify_sections_golden_and_json)
{
    vt_defects d = {0};
    d.golden = 1;
    vfy_report rep;
    CHECK_EQ_INT(run("golden.trit", &d, NULL, &rep), 0);
    CHECK_EQ_U64(rep.n_sections, 2);
    vfy_report_release(&rep);
    d.golden = 0;
    d.bad_golden = 1;
    CHECK_EQ_INT(run("golden-bad.trit", &d, NULL, &rep), 1);
    CHECK_EQ_INT(vt_count(&rep, VFY_C_METADATA, "section 'golden'", "golden logits section holds 531 bytes"), 1);
    vfy_report_release(&rep);
    d.bad_golden = 0;
    d.tok_kv = 1;
    CHECK_EQ_INT(run("tok-kv.trit", &d, NULL, &rep), 0);
    CHECK_EQ_U64(rep.n_sections, 2);
    vfy_report_release(&rep);
    d.tok_kv = 2;
    CHECK_EQ_INT(run("tok-kv-bad.trit", &d, NULL, &rep), 1);
    CHECK_EQ_INT(vt_count(&rep, VFY_C_METADATA, "section 'tokenizer.kv'", "tokenizer KV records:"), 1);
    vfy_report_release(&rep);
}

/* A fake runner for --smoke: returns the golden logits, or NaN when ctx says so. */
static int fake_runner(void *ctx, const trit_reader *r, const char *path, const uint32_t *tokens, uint32_t n_tokens,
                       float *logits, uint64_t n_vocab, trit_err *err)
{
    (void)r;
    (void)path;
    int const mode = *(const int *)ctx;
    if (mode == 3) return trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, NULL, "runner exploded");
    for (uint64_t i = 0; i < n_vocab; i++) logits[i] = vt_golden((uint32_t)i);
    if (mode == 1) logits[5] = NAN;
    if (mode == 2) logits[9] += 1.0f;
    /* the prompt is the golden one when the container has golden logits */
    if (n_tokens == 3 && (tokens[0] != 1 || tokens[2] != 3)) logits[0] = NAN;
    return TRIT_OK;
}

TEST(verify_smoke_hook)
{
    vt_defects d = {0};
    d.golden = 1;
    int mode = 0;
    vfy_opts o;
    memset(&o, 0, sizeof o);
    o.smoke_tokens = 3;
    o.smoke_fn = fake_runner;
    o.smoke_ctx = &mode;
    vfy_report rep;
    CHECK_EQ_INT(run("smoke.trit", &d, &o, &rep), 0);
    CHECK(rep.smoke_ran);
    vfy_report_release(&rep);
    mode = 1;
    CHECK_EQ_INT(run("smoke.trit", &d, &o, &rep), 1);
    CHECK_EQ_INT(vt_count(&rep, VFY_C_SMOKE, "smoke", "1 of 128 logits are not finite (first: token 5)"), 1);
    vfy_report_release(&rep);
    mode = 2;
    CHECK_EQ_INT(run("smoke.trit", &d, &o, &rep), 1);
    CHECK_EQ_INT(vt_count(&rep, VFY_C_SMOKE, "smoke", "max |diff| 1 at token 9"), 1);
    vfy_report_release(&rep);
    mode = 3;
    CHECK_EQ_INT(run("smoke.trit", &d, &o, &rep), 1);
    CHECK_EQ_INT(vt_count(&rep, VFY_C_SMOKE, "smoke", "the runner failed: runner exploded"), 1);
    vfy_report_release(&rep);
    /* no runner: an error of its own, never a silent pass */
    o.smoke_fn = NULL;
    CHECK_EQ_INT(run("smoke.trit", &d, &o, &rep), 1);
    CHECK_EQ_INT(vt_count(&rep, VFY_C_SMOKE, "smoke", "no runner"), 1);
    vfy_report_release(&rep);
    /* a model that fails other checks is never run */
    mode = 0;
    o.smoke_fn = fake_runner;
    d.nan_float = 1;
    CHECK_EQ_INT(run("smoke-nan.trit", &d, &o, &rep), 1);
    CHECK(!rep.smoke_ran);
    vfy_report_release(&rep);
}

TEST(verify_every_failing_object_reported)
{
    /* several defects at once: each object gets its finding; the walk does not stop */
    vt_defects d = {0};
    d.nan_float = 1;
    d.code3 = 1;
    d.zero_expert = 1;
    d.bad_shape = 1;
    d.n_layer = 3;
    vfy_report rep;
    CHECK_EQ_INT(run("many.trit", &d, NULL, &rep), 1);
    CHECK_EQ_INT(vt_count(&rep, VFY_C_TENSOR, "blk.0.attn_norm.weight", "NaN"), 1);
    CHECK_EQ_INT(vt_count(&rep, VFY_C_TENSOR, "blk.0.attn_k.weight", "code 3"), 1);
    CHECK_EQ_INT(vt_count(&rep, VFY_C_TENSOR, "blk.1.ffn_down.2.weight", "all zero"), 1);
    CHECK_EQ_INT(vt_count(&rep, VFY_C_METADATA, "blk.1.attn_q.weight", "shape"), 1);
    CHECK_EQ_INT(vt_count(&rep, VFY_C_METADATA, "layer 2", "no tensors"), 1);
    CHECK_EQ_U64(vfy_report_n_errors(&rep), 5);
    vfy_report_release(&rep);
}

TEST(verify_refuses_fifo_without_blocking)
{
    const char *p = test_path(test_tmpdir(), "fifo.trit");
    if (mkfifo(p, 0600) != 0) SKIP("cannot make a FIFO here");
    vfy_report rep;
    CHECK_EQ_INT(vt_verify(p, NULL, &rep), 3);
    CHECK_EQ_INT(vt_count(&rep, VFY_C_IO, "file", "not a regular file"), 1);
    vfy_report_release(&rep);
}
