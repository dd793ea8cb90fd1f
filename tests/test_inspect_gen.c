/* test_inspect_gen.c - `trit inspect --stats` on the generator's layouts reports what the
 * layouts are: every BitNet projection exactly ternary per tensor with its scale (1/weight_scale),
 * every BitCPM projection exactly ternary per group with the generator's group size, and the
 * latent (float) layout not ternary. The generator's plan is the independent truth here. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gen/gen.h"
#include "insp.h"
#include "test.h"

static int gen_dir(gen_layout l, const char *name, gen_opts *o, char *path, size_t cap)
{
    gen_opts_default(o, l);
    o->overwrite = 1;
    if (l == GEN_LAYOUT_BITCPM) o->group_size = 32; /* smaller than every row, so groups != rows */
    snprintf(path, cap, "%s/%s", test_tmpdir(), name);
    trit_err err;
    int const rc = gen_write(o, path, &err);
    if (rc != TRIT_OK) {
        char b[512];
        test_fail_(__FILE__, __LINE__, "gen_write %s: %s", name, trit_err_format(&err, b, sizeof b));
    }
    return rc;
}

static int is_projection(const char *name)
{
    static const char *const p[] = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
    for (size_t i = 0; i < sizeof p / sizeof *p; i++)
        if (strstr(name, p[i]) && strstr(name, ".weight") && !strstr(name, "weight_scale")) return 1;
    return 0;
}

TEST(inspect_stats_bitnet_projections_exactly_ternary_with_scale)
{
    gen_opts o;
    char path[4096];
    if (gen_dir(GEN_LAYOUT_BITNET, "insp-bitnet", &o, path, sizeof path)) return;
    gen_plan p;
    trit_err err;
    CHECK_OK_E(gen_plan_build(&o, &p, &err), &err);
    insp_model m;
    memset(&m, 0, sizeof m);
    CHECK_OK_E(insp_open(path, &m, &err), &err);
    uint32_t n_proj = 0;
    for (uint64_t i = 0; i < m.n_tensors; i++) {
        insp_tensor const *t = &m.tensors[i];
        if (!is_projection(t->name)) continue;
        n_proj++;
        CHECK_STR(t->type, "U8(bitnet-packed)");
        insp_stats st;
        CHECK_OK_E(insp_tensor_stats(&m, i, &st, &err), &err);
        CHECK(st.ternary);
        CHECK_STR(st.granularity, "tensor");
        gen_tensor const *g = gen_plan_find(&p, t->name);
        CHECK(g != NULL);
        if (g) {
            /* real weight = t x weight_scale (autobitlinear, the 2B-4T release), t / weight_scale
             * for linear_class bitlinear */
            double const want = g->divide ? 1.0 / (double)gen_scale(g, 0) : (double)gen_scale(g, 0);
            if (fabs(st.scale - want) > 1e-6 * want)
                test_fail_(__FILE__, __LINE__, "%s: scale %g, generator says %g", t->name, st.scale, want);
            CHECK_EQ_U64(st.n_neg + st.n_zero + st.n_pos, gen_logical_nelems(g));
        }
    }
    CHECK_EQ_U64(n_proj, 7u * o.n_layer);
    insp_model_free(&m);
    gen_plan_release(&p);
}

TEST(inspect_stats_bitcpm_ternary_per_group_with_group_size)
{
    gen_opts o;
    char path[4096];
    if (gen_dir(GEN_LAYOUT_BITCPM, "insp-bitcpm", &o, path, sizeof path)) return;
    insp_model m;
    trit_err err;
    memset(&m, 0, sizeof m);
    CHECK_OK_E(insp_open(path, &m, &err), &err);
    uint32_t n_proj = 0;
    for (uint64_t i = 0; i < m.n_tensors; i++) {
        insp_tensor const *t = &m.tensors[i];
        if (!is_projection(t->name)) continue;
        n_proj++;
        insp_stats st;
        CHECK_OK_E(insp_tensor_stats(&m, i, &st, &err), &err);
        CHECK(st.ternary);
        CHECK_STR(st.granularity, "group");
        CHECK_EQ_U64(st.group_size, o.group_size);
    }
    CHECK_EQ_U64(n_proj, 7u * o.n_layer);
    insp_model_free(&m);
}

TEST(inspect_stats_latent_floats_are_not_ternary)
{
    gen_opts o;
    char path[4096];
    if (gen_dir(GEN_LAYOUT_LATENT, "insp-latent", &o, path, sizeof path)) return;
    insp_model m;
    trit_err err;
    memset(&m, 0, sizeof m);
    CHECK_OK_E(insp_open(path, &m, &err), &err);
    int n_proj = 0;
    for (uint64_t i = 0; i < m.n_tensors; i++) {
        if (!is_projection(m.tensors[i].name)) continue;
        n_proj++;
        insp_stats st;
        CHECK_OK_E(insp_tensor_stats(&m, i, &st, &err), &err);
        CHECK(!st.ternary);
        CHECK(!st.all_zero);
    }
    CHECK(n_proj > 0);
    insp_model_free(&m);
}
