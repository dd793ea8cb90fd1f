/* test_phimoe.c - Phi-3.5-MoE through the CLI (issue 12): the release layout (trit-gen phimoe)
 * converts, verifies and diffs equal to its source; each math-changing key set to a value the
 * runner does not compute is refused naming the key (exit 5); a phimoe GGUF and the export to
 * llama.cpp are refused by name (llama.cpp's phimoe graph is not the release's math). The
 * forward pass itself is checked against the modeling_phimoe.py reference (test_phimoe_ref.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gen/gen.h"
#include "test.h"
#include "test_config_edit.h"
#include "test_cvt_gguf_build.h"

/* The release layout in TMP/name with edits (key, JSON value pairs, NULL-terminated). */
static int phimoe_src(const char *name, const char *const *edit, char *dir, size_t cap)
{
    gen_opts o;
    gen_opts_default(&o, GEN_LAYOUT_PHIMOE);
    o.overwrite = 1;
    snprintf(dir, cap, "%s/%s", test_tmpdir(), name);
    trit_err err;
    if (gen_write(&o, dir, &err)) {
        test_fail_(__FILE__, __LINE__, "trit-gen phimoe: %s", err.msg);
        return -1;
    }
    for (; edit && edit[0]; edit += 2)
        if (test_config_set(dir, edit[0], edit[1])) {
            test_fail_(__FILE__, __LINE__, "%s: cannot set %s", name, edit[0]);
            return -1;
        }
    return 0;
}

static const char *const no_rope[] = {"rope_scaling", "null", NULL};

TEST(phimoe_convert_verify_diff)
{
    if (access(test_trit_bin(), X_OK) != 0) SKIP("trit binary not built");
    char dir[4096], out[4200], *msg = NULL;
    const char *bin = test_trit_bin();
    /* the release layout, longrope included */
    if (phimoe_src("phi-cvd", NULL, dir, sizeof dir)) return;
    snprintf(out, sizeof out, "%s.trit", dir);
    CHECK_EQ_INT(test_runf(&msg, "'%s' convert -q -f '%s' -o '%s' 2>&1", bin, dir, out), 0);
    free(msg);
    msg = NULL;
    /* the description the runner computes from */
    CHECK_EQ_INT(test_runf(&msg, "'%s' inspect --json '%s'", bin, out), 0);
    CHECK(msg && strstr(msg, "\"model.norm_kind\":\t\"layer\"") && strstr(msg, "\"moe.gating\":\t\"sparsemixer\"") &&
          strstr(msg, "\"moe.jitter_eps\":\t0.0099999") && strstr(msg, "\"model.rope_select\":\t\"sequence\"") &&
          strstr(msg, "\"model.rope_attn_factor_short\":\t1.24316"));
    free(msg);
    msg = NULL;
    int const vr = test_runf(&msg, "'%s' verify '%s' 2>&1", bin, out);
    if (vr != 0) test_fail_(__FILE__, __LINE__, "verify exit %d: %s", vr, msg ? msg : "");
    free(msg);
    msg = NULL;
    /* a context past longrope's original 4096: the release's set then depends on batching */
    int const rr = test_runf(&msg, "'%s' run '%s' --tokens 1,2 -n 0 --ctx 4097 2>&1", bin, out);
    if (rr != 5 || !msg || !strstr(msg, "model.rope_select"))
        test_fail_(__FILE__, __LINE__, "run --ctx 4097: exit %d, expected 5 naming model.rope_select: %s", rr, msg ? msg : "");
    free(msg);
    msg = NULL;
    /* without rope scaling every tensor (biases included) and every description key has its
     * counterpart in the source */
    if (phimoe_src("phi-cvd-plain", no_rope, dir, sizeof dir)) return;
    snprintf(out, sizeof out, "%s.trit", dir);
    CHECK_EQ_INT(test_runf(&msg, "'%s' convert -q -f '%s' -o '%s' 2>&1", bin, dir, out), 0);
    free(msg);
    msg = NULL;
    int const dr = test_runf(&msg, "'%s' diff '%s' '%s' 2>&1", bin, dir, out);
    if (dr != 0) test_fail_(__FILE__, __LINE__, "diff exit %d: %s", dr, msg ? msg : "");
    free(msg);
}

TEST(phimoe_keys_refused_by_name)
{
    if (access(test_trit_bin(), X_OK) != 0) SKIP("trit binary not built");
    static const struct { const char *key, *val, *named; } cases[] = {
        {"num_experts_per_tok", "1", "num_experts_per_tok"},        /* sparsemixer is top-2 only */
        {"router_jitter_noise", "-0.5", "router_jitter_noise"},     /* sparsemixer's threshold */
        {"router_jitter_noise", "\"0.01\"", "router_jitter_noise"},
        {"head_dim", "8", "head_dim"},                              /* PhimoeAttention: hidden / heads */
        {"sliding_window", "16", "sliding_window"},                 /* shorter than the context */
        {"hidden_act", "\"gelu_new\"", "hidden_act"},
        {"attention_bias", "\"yes\"", "attention_bias"},
        {"lm_head_bias", "1", "lm_head_bias"},
        {"mlp_bias", "true", "mlp_bias"},
        {"rope_scaling", "{\"type\":\"yarn\",\"factor\":4.0}", "rope_scaling"},
        {"layer_norm_eps", "1e-5", "layer_norm_eps"},
        /* the release's longrope: its mscales, factors and original context */
        {"rope_scaling.short_mscale", "\"1.2\"", "short_mscale"},
        {"rope_scaling.long_mscale", NULL, "long_mscale"},
        {"rope_scaling.short_factor", "[1.0, 2.0]", "short_factor"},
        {"rope_scaling.long_factor", "[1,1,1,1,1,1,1,-1]", "long_factor"},
        {"rope_scaling.attention_factor", "1.5", "attention_factor"},
        {"original_max_position_embeddings", "8192", "original_max_position_embeddings"},
    };
    const char *bin = test_trit_bin();
    char dir[4096], out[4200];
    /* the control converts */
    if (phimoe_src("phi-refuse", NULL, dir, sizeof dir)) return;
    snprintf(out, sizeof out, "%s.trit", dir);
    char *msg = NULL;
    int rc = test_runf(&msg, "'%s' convert -q -f '%s' -o '%s' 2>&1", bin, dir, out);
    if (rc != 0) test_fail_(__FILE__, __LINE__, "control: convert exit %d: %s", rc, msg ? msg : "");
    free(msg);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "phi-refuse-%zu", i);
        const char *const edit[] = {cases[i].key, cases[i].val, NULL};
        if (phimoe_src(name, edit, dir, sizeof dir)) continue;
        snprintf(out, sizeof out, "%s.trit", dir);
        msg = NULL;
        rc = test_runf(&msg, "'%s' convert -q -f '%s' -o '%s' 2>&1", bin, dir, out);
        if (rc != 5 || !msg || !strstr(msg, cases[i].named))
            test_fail_(__FILE__, __LINE__, "%s = %s: convert exit %d, expected 5 naming '%s': %s", cases[i].key,
                       cases[i].val, rc, cases[i].named, msg ? msg : "");
        CHECK(access(out, F_OK) != 0);
        free(msg);
    }
}

/* A phimoe GGUF does not say sparsemixer's threshold, and llama.cpp computes it with RMSNorm and
 * softmax top-2: refused by architecture name, never converted as the nearest supported graph. */
TEST(phimoe_gguf_refused)
{
    if (access(test_trit_bin(), X_OK) != 0) SKIP("trit binary not built");
    tg_buf b = {0};
    tg_small(&b, 3, "phimoe", NULL);
    CHECK(!b.oom);
    char path[4200], out[4300], *msg = NULL;
    snprintf(path, sizeof path, "%s/phimoe.gguf", test_tmpdir());
    snprintf(out, sizeof out, "%s.trit", path);
    CHECK_EQ_INT(test_write_file(path, b.p, b.len), 0);
    tg_free(&b);
    int const rc = test_runf(&msg, "'%s' convert -q -f '%s' -o '%s' 2>&1", test_trit_bin(), path, out);
    if (rc != 5 || !msg || !strstr(msg, "'phimoe'"))
        test_fail_(__FILE__, __LINE__, "convert exit %d, expected 5 naming 'phimoe': %s", rc, msg ? msg : "");
    CHECK(access(out, F_OK) != 0);
    free(msg);
}

TEST(phimoe_export_refused)
{
    if (access(test_trit_bin(), X_OK) != 0) SKIP("trit binary not built");
    char dir[4096], out[4200], gg[4300], *msg = NULL;
    if (phimoe_src("phi-export", NULL, dir, sizeof dir)) return;
    snprintf(out, sizeof out, "%s.trit", dir);
    snprintf(gg, sizeof gg, "%s.gguf", dir);
    const char *bin = test_trit_bin();
    CHECK_EQ_INT(test_runf(&msg, "'%s' convert -q -f '%s' -o '%s' 2>&1", bin, dir, out), 0);
    free(msg);
    msg = NULL;
    int const rc = test_runf(&msg, "'%s' export '%s' -o '%s' 2>&1", bin, out, gg);
    if (rc != 5 || !msg || !strstr(msg, "model.norm_kind") || !strstr(msg, "phimoe"))
        test_fail_(__FILE__, __LINE__, "export exit %d, expected 5 naming model.norm_kind and phimoe: %s", rc, msg ? msg : "");
    CHECK(access(gg, F_OK) != 0);
    free(msg);
}
