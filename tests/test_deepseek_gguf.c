/* test_deepseek_gguf.c - DeepSeek as llama.cpp's deepseek2 GGUF (issue 12): `trit export` of the
 * V2-Lite and V3 release layouts writes llama.cpp's MLA form (attn_k_b / attn_v_b, never the
 * legacy attn_kv_b; the MLA keys; expert groups; YaRN as yarn_log_multiplier), `trit convert`
 * of that GGUF rebuilds attn_kv_b and computes the same logits bit for bit; what llama.cpp cannot
 * compute (V2's max group score, a YaRN with mscale != mscale_all_dim) is refused by name on
 * export, and unusable deepseek2 keys on import. Agreement with llama.cpp itself is the
 * conformance suite's (tools/conformance/agree.sh, the deepseek models). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gen/gen.h"
#include "test.h"
#include "test_config_edit.h"

/* `trit FMT` with both output streams captured. */
#define cli(out, fmt, ...) test_runf(out, "'%s' " fmt " 2>&1", test_trit_bin(), __VA_ARGS__)

static int has_bytes(const uint8_t *b, size_t n, const char *s)
{
    size_t const k = strlen(s);
    for (size_t i = 0; i + k <= n; i++)
        if (!memcmp(b + i, s, k)) return 1;
    return 0;
}

/* Generate, convert, export: paths into dir/ trit/ gguf (cap 4096 each). 0 on success. */
static int build(gen_layout l, const char *label, const char *edit_key, const char *edit_val, char *dir, char *trit,
                 char *gguf, char **msg)
{
    snprintf(dir, 4096, "%s/dsg-%s", test_tmpdir(), label);
    snprintf(trit, 4096, "%s.trit", dir);
    snprintf(gguf, 4096, "%s.gguf", dir);
    gen_opts o;
    gen_opts_default(&o, l);
    o.overwrite = 1;
    trit_err err;
    CHECK_OK_E(gen_write(&o, dir, &err), &err);
    if (edit_key) CHECK(test_config_set(dir, edit_key, edit_val) == 0);
    if (cli(msg, "convert -q -f '%s' -o '%s'", dir, trit) != 0) return -1;
    free(*msg);
    *msg = NULL;
    return cli(msg, "export -q --force '%s' -o '%s'", trit, gguf);
}

static void round_trip(gen_layout l, const char *label)
{
    static const char *const seqs[] = {"1", "1,2,3", "5,6,7,8,9,10,11,12", "100,3,250,77,42"};
    char *dir = malloc(4096), *trit = malloc(4096), *gguf = malloc(4096), twin[4200], a[4200], b[4200];
    char *msg = NULL;
    if (!dir || !trit || !gguf) goto out;
    int rc = build(l, label, NULL, NULL, dir, trit, gguf, &msg);
    if (rc != 0) {
        test_fail_(__FILE__, __LINE__, "%s: convert/export exit %d: %s", label, rc, msg ? msg : "");
        goto out;
    }
    size_t n = 0;
    uint8_t *g = test_read_file(gguf, &n);
    CHECK(g != NULL);
    if (g) {
        /* llama.cpp's MLA form, as its converter writes it */
        CHECK(has_bytes(g, n, "blk.1.attn_k_b.weight") && has_bytes(g, n, "blk.1.attn_v_b.weight"));
        CHECK(!has_bytes(g, n, "attn_kv_b"));
        CHECK(has_bytes(g, n, "deepseek2.attention.key_length_mla") && has_bytes(g, n, "deepseek2.attention.kv_lora_rank"));
        CHECK(has_bytes(g, n, "deepseek2.rope.scaling.yarn_log_multiplier"));
        if (l == GEN_LAYOUT_DEEPSEEK_V3) {
            CHECK(has_bytes(g, n, "deepseek2.expert_group_count") && has_bytes(g, n, "blk.1.exp_probs_b.bias"));
            CHECK(has_bytes(g, n, "deepseek2.expert_gating_func"));
        }
    }
    free(g);
    snprintf(twin, sizeof twin, "%s.twin.trit", dir);
    free(msg);
    msg = NULL;
    rc = cli(&msg, "convert -q -f '%s' -o '%s'", gguf, twin);
    if (rc != 0) {
        test_fail_(__FILE__, __LINE__, "%s: convert of the GGUF exit %d: %s", label, rc, msg ? msg : "");
        goto out;
    }
    free(msg);
    msg = NULL;
    CHECK(cli(&msg, "verify '%s'", twin) == 0);
    for (size_t s = 0; s < sizeof seqs / sizeof seqs[0]; s++) {
        snprintf(a, sizeof a, "%s.%zu.a", dir, s);
        snprintf(b, sizeof b, "%s.%zu.b", dir, s);
        free(msg);
        msg = NULL;
        CHECK(cli(&msg, "run '%s' --tokens %s -n 0 --logits '%s'", trit, seqs[s], a) == 0);
        free(msg);
        msg = NULL;
        CHECK(cli(&msg, "run '%s' --tokens %s -n 0 --logits '%s'", twin, seqs[s], b) == 0);
        size_t na = 0, nb = 0;
        uint8_t *x = test_read_file(a, &na), *y = test_read_file(b, &nb);
        if (!x || !y || na != nb || na == 0 || memcmp(x, y, na) != 0)
            test_fail_(__FILE__, __LINE__, "%s: logits of the container and of its deepseek2 GGUF differ (sequence %s)", label,
                       seqs[s]);
        free(x);
        free(y);
    }
out:
    free(msg);
    free(dir);
    free(trit);
    free(gguf);
}

TEST(deepseek2_gguf_export_import_round_trip)
{
    if (access(test_trit_bin(), X_OK) != 0) SKIP("trit binary not built");
    round_trip(GEN_LAYOUT_DEEPSEEK2, "lite");   /* ternary, q_proj, yarn 0.707 */
    round_trip(GEN_LAYOUT_DEEPSEEK_V3, "v3");   /* FP8 -> F32, q LoRA, sigmoid + groups + bias */
}

TEST(deepseek2_gguf_export_refuses_what_llama_cpp_cannot_compute)
{
    if (access(test_trit_bin(), X_OK) != 0) SKIP("trit binary not built");
    static const struct { gen_layout l; const char *label, *key, *val, *named; } cases[] = {
        {GEN_LAYOUT_DEEPSEEK_V2, "v2max", NULL, NULL, "moe.group_score"},                /* V2's max group score */
        {GEN_LAYOUT_DEEPSEEK2, "mscale", "rope_scaling.mscale", "1.0", "rope_scaling"},  /* mscale != mscale_all_dim */
        {GEN_LAYOUT_DEEPSEEK2, "beta", "rope_scaling.beta_fast", "16", "rope_scaling"},  /* deepseek2 reads no betas */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *dir = malloc(4096), *trit = malloc(4096), *gguf = malloc(4096), *msg = NULL;
        if (dir && trit && gguf) {
            int const rc = build(cases[i].l, cases[i].label, cases[i].key, cases[i].val, dir, trit, gguf, &msg);
            if (rc != 5 || !msg || !strstr(msg, cases[i].named))
                test_fail_(__FILE__, __LINE__, "%s: export exit %d, expected 5 naming '%s': %s", cases[i].label, rc,
                           cases[i].named, msg ? msg : "");
            CHECK(access(gguf, F_OK) != 0);
        }
        free(msg);
        free(dir);
        free(trit);
        free(gguf);
    }
}

/* Overwrite the value of GGUF KV `key` (a u32 or f32: 4 bytes after its type) in the file. */
static int patch_kv(const char *path, const char *key, const void *val4)
{
    size_t n = 0;
    uint8_t *b = test_read_file(path, &n);
    size_t const k = strlen(key);
    int rc = -1;
    for (size_t i = 8; b && i + k + 8 <= n; i++)
        if (!memcmp(b + i, key, k) && b[i - 8] == (uint8_t)k) {
            memcpy(b + i + k + 4, val4, 4);
            rc = test_write_file(path, b, n);
            break;
        }
    free(b);
    return rc;
}

TEST(deepseek2_gguf_import_refuses_unusable_keys)
{
    if (access(test_trit_bin(), X_OK) != 0) SKIP("trit binary not built");
    char *dir = malloc(4096), *trit = malloc(4096), *gguf = malloc(4096), *msg = NULL, bad[4200], out[4200];
    static const struct { const char *key; uint32_t u; float f; int is_f, want; const char *named; } cases[] = {
        {"deepseek2.expert_gating_func", 3, 0, 0, 5, "expert_gating_func"},   /* neither softmax nor sigmoid */
        {"deepseek2.expert_group_used_count", 5, 0, 0, 4, "moe.topk_group"},  /* more groups kept than exist */
        {"deepseek2.rope.scaling.factor", 0, 0.0f, 1, 5, "rope.scaling.factor"},
        {"deepseek2.rope.scaling.yarn_log_multiplier", 0, -0.1f, 1, 5, "yarn_log_multiplier"},
    };
    if (!dir || !trit || !gguf || build(GEN_LAYOUT_DEEPSEEK_V3, "imp", NULL, NULL, dir, trit, gguf, &msg) != 0) {
        test_fail_(__FILE__, __LINE__, "setup: %s", msg ? msg : "");
        goto out;
    }
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(bad, sizeof bad, "%s.bad%zu.gguf", dir, i);
        snprintf(out, sizeof out, "%s.bad%zu.trit", dir, i);
        size_t n = 0;
        uint8_t *b = test_read_file(gguf, &n);
        CHECK(b && test_write_file(bad, b, n) == 0);
        free(b);
        CHECK(patch_kv(bad, cases[i].key, cases[i].is_f ? (const void *)&cases[i].f : (const void *)&cases[i].u) == 0);
        free(msg);
        msg = NULL;
        int const rc = cli(&msg, "convert -q -f '%s' -o '%s'", bad, out);
        if (rc != cases[i].want || !msg || !strstr(msg, cases[i].named))
            test_fail_(__FILE__, __LINE__, "%s patched: convert exit %d, expected %d naming '%s': %s", cases[i].key, rc,
                       cases[i].want, cases[i].named, msg ? msg : "");
        CHECK(access(out, F_OK) != 0);
    }
out:
    free(msg);
    free(dir);
    free(trit);
    free(gguf);
}
