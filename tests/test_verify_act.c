/* test_verify_act.c - `trit verify` on the activation-scale section (kind 5, spec 9): a clean
 * section passes, and one corrupted container per rule gives exactly that finding (class
 * metadata, exit 1): entries framed and canonical, scales finite and positive, the declared
 * granularity matching the tensor's shape, and one entry per site the model has. */
#include <string.h>

#include "test.h"
#include "test_verify.h"

/* Build the test model with section defect `kind`, verify it; returns the exit code. */
static int run_act(int kind, vfy_report *rep)
{
    char name[32];
    snprintf(name, sizeof name, "act-%d.trit", kind);
    const char *path = test_path(test_tmpdir(), name);
    vt_defects d;
    memset(&d, 0, sizeof d);
    d.act = kind;
    trit_err e;
    trit_err_clear(&e);
    memset(rep, 0, sizeof *rep);
    CHECK_OK_E(vt_build(path, &d, &e), &e);
    return vt_verify(path, NULL, rep);
}

/* The corrupted section gives exactly one error, and it says msg. */
static void expect_one(int kind, const char *msg)
{
    vfy_report rep;
    int const rc = run_act(kind, &rep);
    CHECK_EQ_INT(rc, 1);
    CHECK_EQ_U64(vfy_report_n_errors(&rep), 1);
    CHECK_EQ_INT(vt_count(&rep, VFY_C_METADATA, "act_scales", msg), 1);
    if (rc != 1 || vfy_report_n_errors(&rep) != 1 || vt_count(&rep, VFY_C_METADATA, "act_scales", msg) != 1)
        vfy_report_print(&rep, stderr, 0);
    vfy_report_release(&rep);
}

TEST(verify_act_clean_section_passes)
{
    vfy_report rep;
    CHECK_EQ_INT(run_act(VT_ACT_VALID, &rep), 0);
    CHECK_EQ_U64(vfy_report_n_errors(&rep), 0);
    CHECK_EQ_U64(rep.n_warnings, 0);
    CHECK_EQ_U64(rep.n_sections, 2);
    vfy_report_release(&rep);
}

TEST(verify_act_every_site_has_an_entry)
{
    expect_one(VT_ACT_MISSING, "1 t2 projection(s) have no activation-scale entry (first: 'blk.0.attn_output.weight')");
}

TEST(verify_act_entry_only_for_projections)
{
    expect_one(VT_ACT_NOT_PROJ, "is for 'blk.0.attn_norm.weight', which is not a t2 projection");
}

TEST(verify_act_shared_inputs_identical)
{
    expect_one(VT_ACT_SHARED_DIFF, "('blk.0.attn_k.weight') differs from that of 'blk.0.attn_q.weight', which reads the same activations");
}

TEST(verify_act_entries_in_tensor_order)
{
    expect_one(VT_ACT_ORDER, "entries must be in strictly increasing tensor order");
}

TEST(verify_act_scales_finite_positive)
{
    expect_one(VT_ACT_NAN, "scale 0 is not a finite positive number");
    expect_one(VT_ACT_ZERO, "scale 0 is not a finite positive number");
    expect_one(VT_ACT_NEGATIVE, "scale 0 is not a finite positive number");
}

TEST(verify_act_granularity_matches_shape)
{
    expect_one(VT_ACT_CHANNEL_SHAPE, "has a scale count that does not match its granularity and its tensor's input features");
    expect_one(VT_ACT_GROUP_SHAPE, "has a scale count that does not match its granularity and its tensor's input features");
}

TEST(verify_act_entry_fields)
{
    expect_one(VT_ACT_GRAN, "has an unknown granularity");
    expect_one(VT_ACT_BITS, "has bits other than 8 or 16");
    expect_one(VT_ACT_BAD_TENSOR, "names no tensor");
}

/* spec 9's 16-bit sites: accepted alone, refused when they split a shared input */
TEST(verify_act_int16_sites)
{
    vfy_report rep;
    CHECK_EQ_INT(run_act(VT_ACT_WIDE, &rep), 0);
    CHECK_EQ_U64(vfy_report_n_errors(&rep), 0);
    vfy_report_release(&rep);
    expect_one(VT_ACT_SHARED_BITS, "('blk.0.attn_k.weight') differs from that of 'blk.0.attn_q.weight', which reads the same activations");
}

TEST(verify_act_section_framing)
{
    expect_one(VT_ACT_TRAILING, "4 bytes after the last entry");
    expect_one(VT_ACT_TRUNCATED, "activation-scale section:");
}
