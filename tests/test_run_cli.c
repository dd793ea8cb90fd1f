/* test_run_cli.c - `trit-run` and `trit run`: help, usage errors and exit codes, token output,
 * --logits bytes, --json --stats, sampling reproducibility, and the same results under a tiny
 * expert budget. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>

#include "run.h"
#include "test.h"
#include "test_run_util.h"

static const char *run_bin(void)
{
    const char *e = getenv("TRIT_RUN");
    return e && *e ? e : "build/trit-run";
}

/* Run "<bin> args", capture stdout; returns the exit status. */
static int sh(char **out, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static int sh(char **out, const char *fmt, ...)
{
    char args[2048], cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "%s %s 2>/dev/null", run_bin(), args);
    return test_run(cmd, out);
}

static const char *moe_model(void)
{
    static char path[4096];
    if (!path[0]) {
        trm_cfg c;
        trm_default(&c);
        c.n_layer = 3;
        c.n_ff = 0;
        c.n_expert = 8;
        c.n_expert_used = 2;
        c.n_ff_expert = 48;
        c.norm_topk = 1;
        c.proj_type = TRIT_TYPE_T2;
        snprintf(path, sizeof path, "%s", test_path(test_tmpdir(), "cli_moe.trit"));
        trit_err err;
        CHECK_OK_E(trm_write(&c, path, &err), &err);
    }
    return path;
}

TEST(run_cli_help_and_usage)
{
    if (access(run_bin(), X_OK) != 0) SKIP("trit-run not built");
    char *out = NULL;
    CHECK_EQ_INT(sh(&out, "--help"), 0);
    CHECK(out && strstr(out, "--expert-cache") && strstr(out, "--tokens"));
    free(out);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s run --help", test_trit_bin());
    out = NULL;
    if (access(test_trit_bin(), X_OK) == 0) {
        CHECK_EQ_INT(test_run(cmd, &out), 0);
        CHECK(out && strstr(out, "usage: trit run"));
        free(out);
    }
    const char *m = moe_model();
    CHECK_EQ_INT(sh(NULL, "--tokens 1,2"), 2);                      /* no model */
    CHECK_EQ_INT(sh(NULL, "%s", m), 2);                                   /* no input */
    CHECK_EQ_INT(sh(NULL, "--tokens 1 --prompt hi %s", m), 2);            /* both */
    CHECK_EQ_INT(sh(NULL, "--tokens 1,,2 %s", m), 2);
    CHECK_EQ_INT(sh(NULL, "--tokens 1, %s", m), 2);
    CHECK_EQ_INT(sh(NULL, "--tokens 1 --expert-cache 12Q %s", m), 2);
    CHECK_EQ_INT(sh(NULL, "--tokens 1 --threads 0 %s", m), 2);
    CHECK_EQ_INT(sh(NULL, "--tokens 1 --cache-policy mru %s", m), 2);
    CHECK_EQ_INT(sh(NULL, "--tokens 1 --bogus %s", m), 2);
    CHECK_EQ_INT(sh(NULL, "--tokens 1,100000 -n 1 %s", m), 2);           /* token out of vocabulary */
    CHECK_EQ_INT(sh(NULL, "--tokens 1 %s/does-not-exist.trit", test_tmpdir()), 3);
    CHECK_EQ_INT(sh(NULL, "--tokens 1 --ctx 1 -n 3 %s", m), 6);           /* does not fit the context */
#if !defined(__aarch64__)
    CHECK_EQ_INT(sh(NULL, "--tokens 1 --kernel neon %s", m), 5);
#endif
    /* a truncated container is refused as corrupt input */
    size_t n = 0;
    uint8_t *b = test_read_file(m, &n);
    const char *cut = test_path(test_tmpdir(), "cli_cut.trit");
    CHECK(b && test_write_file(cut, b, n / 2) == 0);
    free(b);
    CHECK_EQ_INT(sh(NULL, "--tokens 1 %s", cut), 4);
    /* one flipped byte inside an expert unit: --verify refuses the file before running */
    b = test_read_file(m, &n);
    const char *flip = test_path(test_tmpdir(), "cli_flip.trit");
    trit_reader *r = NULL;
    trit_err err;
    CHECK_OK_E(trit_reader_open(m, NULL, &r, &err), &err);
    if (b && r) {
        trit_unit_info const *u = trit_reader_unit(r, trit_reader_n_units(r) - 1);
        b[u->offset + u->stored_size / 2] ^= 1;
        CHECK(test_write_file(flip, b, n) == 0);
        CHECK_EQ_INT(sh(NULL, "--tokens 1 -n 1 --verify %s", flip), 4);
    }
    trit_reader_close(r);
    free(b);
}

TEST(run_cli_tokens_logits_json)
{
    if (access(run_bin(), X_OK) != 0) SKIP("trit-run not built");
    const char *m = moe_model();
    const char *lp = test_path(test_tmpdir(), "cli.logits");
    char *a = NULL, *b = NULL;
    CHECK_EQ_INT(sh(&a, "--tokens 5,17,3,96 -n 6 --ignore-eos %s", m), 0);
    /* the same greedy tokens with no expert kept between uses, 1 thread, LRU */
    CHECK_EQ_INT(sh(&b, "--tokens 5,17,3,96 -n 6 --ignore-eos --expert-cache 0 --threads 1 --cache-policy lru %s", m), 0);
    CHECK(a && b && strcmp(a, b) == 0);
    int count = 0;
    for (char *p = a; p && *p; p++) count += *p == ' ';
    CHECK_EQ_INT(count, 5);  /* six ids on one line */
    free(a);
    free(b);
    /* --logits with -n 0: the input's last position, bit-equal to the library call */
    CHECK_EQ_INT(sh(NULL, "--tokens 5,17,3,96 -n 0 --logits %s %s", lp, m), 0);
    size_t n = 0;
    uint8_t *bytes = test_read_file(lp, &n);
    CHECK_EQ_U64(n, 97 * 4);
    float want[97];
    uint32_t t[4] = {5, 17, 3, 96};
    trit_err err;
    CHECK_OK_E(trm_run_logits(m, t, 4, 2, RUN_KERNEL_AUTO, 1ull << 30, RUN_POLICY_DEFAULT, 0, want, &err), &err);
    if (bytes && n == sizeof want) CHECK(memcmp(bytes, want, n) == 0);  /* little-endian host */
    free(bytes);
    /* --json --stats */
    char *js = NULL;
    CHECK_EQ_INT(sh(&js, "--tokens 5,17,3,96 -n 3 --ignore-eos --json --stats --expert-cache 10K %s", m), 0);
    cJSON *j = js ? cJSON_Parse(js) : NULL;
    CHECK(j != NULL);
    if (j) {
        CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(j, "prompt_tokens")), 4);
        CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(j, "tokens")), 3);
        cJSON const *st = cJSON_GetObjectItem(j, "stats");
        cJSON const *ec = cJSON_GetObjectItem(st, "expert_cache");
        CHECK(cJSON_GetObjectItem(st, "prefill_tok_s") && cJSON_GetObjectItem(st, "decode_tok_s"));
        CHECK(cJSON_GetObjectItem(st, "peak_rss_bytes"));
        CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(ec, "per_layer")), 3);
        double const hits = cJSON_GetNumberValue(cJSON_GetObjectItem(ec, "hits"));
        double const misses = cJSON_GetNumberValue(cJSON_GetObjectItem(ec, "misses"));
        /* one access per expert a batch needs: the 4-token prefill needs 2..8 experts per
         * layer, each of the 2 decode steps 2 per layer; 3 layers */
        CHECK(hits + misses >= 3 * (2 + 2 * 2) && hits + misses <= 3 * (8 + 2 * 2));
        CHECK(misses >= 1);
        CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(ec, "load_p99_ms")) >= cJSON_GetNumberValue(cJSON_GetObjectItem(ec, "load_p50_ms")));
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(ec, "policy")), "layer");
        cJSON_Delete(j);
    }
    free(js);
}

TEST(run_cli_sampling_reproducible)
{
    if (access(run_bin(), X_OK) != 0) SKIP("trit-run not built");
    const char *m = moe_model();
    char *a = NULL, *b = NULL;
    CHECK_EQ_INT(sh(&a, "--tokens 5,17 -n 12 --ignore-eos --temp 0.9 --top-k 20 --top-p 0.9 --seed 42 %s", m), 0);
    CHECK_EQ_INT(sh(&b, "--tokens 5,17 -n 12 --ignore-eos --temp 0.9 --top-k 20 --top-p 0.9 --seed 42 --threads 3 %s", m), 0);
    CHECK(a && b && strcmp(a, b) == 0);
    free(a);
    free(b);
}

/* run_sample on its own: greedy picks the lowest id among equal maxima; top-k 1 is greedy;
 * the empirical distribution at temperature 1 follows softmax. */
TEST(run_sample_distribution)
{
    float const l[4] = {1.0f, 3.0f, 3.0f, 2.0f};
    run_sampler s;
    run_sampler_init(&s, 0, 0, 1, 1);
    CHECK_EQ_U64(run_sample(&s, l, 4), 1);
    run_sampler_init(&s, 1.0f, 1, 1, 7);
    CHECK_EQ_U64(run_sample(&s, l, 4), 1);
    run_sampler_init(&s, 1.0f, 0, 1.0f, 9);
    unsigned cnt[4] = {0};
    for (int i = 0; i < 20000; i++) cnt[run_sample(&s, l, 4)]++;
    /* softmax(1,3,3,2) = 0.0586, 0.4327, 0.4327, 0.1592 (tolerance ~5 sigma) */
    CHECK(cnt[0] > 900 && cnt[0] < 1450);
    CHECK(cnt[3] > 2900 && cnt[3] < 3470);
    run_sampler_init(&s, 1.0f, 0, 0.5f, 9);  /* top-p 0.5 keeps the two best */
    for (int i = 0; i < 200; i++) {
        uint32_t const t = run_sample(&s, l, 4);
        CHECK(t == 1 || t == 2);
    }
}

/* --reference: `trit run` runs the source checkpoint through the converter's readers beside
 * the container and requires bit-identical logits; the device binary refuses the option. */
TEST(run_cli_reference_round_trip)
{
    const char *gen = getenv("TRIT_GEN");
    if (!gen || !*gen) gen = "build/trit-gen";
    if (access(run_bin(), X_OK) != 0 || access(test_trit_bin(), X_OK) != 0 || access(gen, X_OK) != 0)
        SKIP("trit, trit-run or trit-gen not built");
    const char *dir = test_tmpdir();
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "%s qwen3moe -o %s/ref_src --force >/dev/null 2>&1 && %s qwen3moe --seed 2 -o %s/ref_other --force >/dev/null 2>&1 && "
             "%s convert %s/ref_src -o %s/ref.trit --force >/dev/null 2>&1",
             gen, dir, gen, dir, test_trit_bin(), dir, dir);
    CHECK_EQ_INT(test_run(cmd, NULL), 0);
    char *out = NULL;
    snprintf(cmd, sizeof cmd, "%s run --tokens 1,2,3,4 -n 5 --ignore-eos --expert-cache 8K --reference %s/ref_src %s/ref.trit 2>&1",
             test_trit_bin(), dir, dir);
    CHECK_EQ_INT(test_run(cmd, &out), 0);
    CHECK(out && strstr(out, "bit-identical") && strstr(out, "at 5 evaluated positions"));
    free(out);
    out = NULL;
    snprintf(cmd, sizeof cmd, "%s run --tokens 1,2,3,4 -n 2 --reference %s/ref_other %s/ref.trit 2>&1", test_trit_bin(), dir, dir);
    CHECK_EQ_INT(test_run(cmd, &out), 1);
    CHECK(out && strstr(out, "logits differ at position 3"));
    free(out);
    CHECK_EQ_INT(sh(NULL, "--tokens 1 --reference %s/ref_src %s/ref.trit", dir, dir), 5);
}
