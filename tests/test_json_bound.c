/* test_json_bound.c - issue 13 findings 6 and 14: the memory bound of config.json and
 * tokenizer.json trees (a dense document at the 64 MiB cap is refused by the pre-scan before
 * any tree is built; tokenizer.json's vocabulary and merges are walked without a tree), a FIFO
 * given to calibrate that must not block, and a GGUF with a damaged magic that must be called
 * corrupt (bad magic at offset 0) by convert, inspect and verify alike. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cal.h"
#include "cvt_tok.h"
#include "src.h"
#include "src_json.h"
#include "src_safetensors.h"
#include "test.h"
#include "test_cvt_tok.h"
#include "trit_limits.h"

/* Dense JSON: {"model_type":"llama","x":[0,0,...]} of exactly n bytes (n >= 40, even). */
static char *dense_doc(size_t n)
{
    static const char head[] = "{\"model_type\":\"llama\",\"x\":[0";
    char *d = malloc(n + 1);
    if (!d) return NULL;
    size_t const h = sizeof head - 1;
    memcpy(d, head, h);
    size_t i = h;
    while (i + 2 + 2 <= n) {
        d[i++] = ',';
        d[i++] = '0';
    }
    while (i + 2 < n) d[i++] = ' ';
    d[i++] = ']';
    d[i++] = '}';
    d[i] = '\0';
    return d;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

TEST(json_bound_config_at_cap_refused)
{
    size_t const n = TRIT_MAX_META_BYTES;   /* the config.json cap, 64 MiB */
    char *d = dense_doc(n);
    CHECK(d != NULL);
    if (!d) return;
    const char *path = test_path(test_tmpdir(), "cap_config.json");
    CHECK(test_write_file(path, d, n) == 0);
    cJSON *j = NULL;
    trit_err err;
    trit_err_clear(&err);
    double const t0 = now_s();
    int const rc = src_st_load_json_file(path, TRIT_MAX_META_BYTES, &j, &err);
    double const dt = now_s() - t0;
    CHECK_EQ_INT(rc, TRIT_E_LIMIT);
    CHECK(j == NULL);
    CHECK(strstr(err.file, "cap_config.json") != NULL);
    CHECK(strstr(err.msg, "budget") != NULL);
    CHECK(dt < 20.0);   /* only the scan ran (0.5 s optimized; ASan is slower) */
    cJSON_Delete(j);

    /* one byte over the cap: refused by size before reading */
    char *d2 = realloc(d, n + 2);
    CHECK(d2 != NULL);
    if (!d2) {
        free(d);
        return;
    }
    d = d2;
    d[n - 1] = ' ';
    d[n] = '}';
    CHECK(test_write_file(path, d, n + 1) == 0);
    trit_err_clear(&err);
    CHECK_EQ_INT(src_st_load_json_file(path, TRIT_MAX_META_BYTES, &j, &err), TRIT_E_LIMIT);
    CHECK(j == NULL);
    free(d);
    unlink(path);
}

TEST(json_bound_within_budget_parsed)
{
    /* a long string costs ~1x as a tree: an 8 MiB config of one is parsed */
    size_t const n = 8u << 20;
    char *d = malloc(n + 1);
    CHECK(d != NULL);
    if (!d) return;
    static const char head[] = "{\"model_type\":\"llama\",\"s\":\"";
    memcpy(d, head, sizeof head - 1);
    memset(d + sizeof head - 1, 'a', n - (sizeof head - 1) - 2);
    memcpy(d + n - 2, "\"}", 2);
    d[n] = '\0';
    const char *path = test_path(test_tmpdir(), "long_config.json");
    CHECK(test_write_file(path, d, n) == 0);
    cJSON *j = NULL;
    trit_err err;
    trit_err_clear(&err);
    CHECK_OK_E(src_st_load_json_file(path, TRIT_MAX_META_BYTES, &j, &err), &err);
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "s");
    CHECK(cJSON_IsString(s) && strlen(s->valuestring) == n - (sizeof head - 1) - 2);
    cJSON_Delete(j);

    /* a dense 256 KiB document is still parsed: the slack covers small files of any shape */
    free(d);
    d = dense_doc(256u << 10);
    CHECK(d != NULL);
    if (!d) return;
    CHECK(test_write_file(path, d, 256u << 10) == 0);
    trit_err_clear(&err);
    CHECK_OK_E(src_st_load_json_file(path, TRIT_MAX_META_BYTES, &j, &err), &err);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "x")) > 130000);
    cJSON_Delete(j);
    free(d);
    unlink(path);
}

/* tokenizer.json with `n` merges "a b" put either in model.merges (deferred: no tree) or in
 * a top-level member (built as a tree, so over the bound). */
static char *tok_doc(size_t n, int in_model)
{
    static const char pre[] = "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":2},\"merges\":[";
    static const char mid_in[] = "]},\"pre_tokenizer\":{\"type\":\"ByteLevel\"}";
    static const char pre_out[] = "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":2},"
                                  "\"merges\":[\"a b\"]},\"pre_tokenizer\":{\"type\":\"ByteLevel\"},\"x\":[";
    size_t const cap = n * 6 + 256;
    char *d = malloc(cap);
    if (!d) return NULL;
    size_t i = 0;
    const char *p = in_model ? pre : pre_out;
    memcpy(d, p, strlen(p));
    i = strlen(p);
    for (size_t k = 0; k < n; k++) {
        if (k) d[i++] = ',';
        memcpy(d + i, "\"a b\"", 5);
        i += 5;
    }
    if (in_model) {
        memcpy(d + i, mid_in, sizeof mid_in - 1);
        i += sizeof mid_in - 1;
        d[i++] = '}';
    } else {
        d[i++] = ']';
        d[i++] = '}';
    }
    d[i] = '\0';
    return d;
}

TEST(json_bound_tokenizer_merges_deferred)
{
    size_t const n = 600000;   /* 3.6 MB; as a tree ~80 MB, over 16x + 16 MiB */
    char *in = tok_doc(n, 1), *out = tok_doc(n, 0);
    CHECK(in && out);
    if (in && out) {
        trit_kvbuf *b = NULL;
        cvt_tok_info info;
        trit_err err;
        trit_err_clear(&err);
        /* deferred: walked element by element, every merge converted */
        CHECK_OK_E(tt_convert(in, NULL, NULL, NULL, 0, 1, &b, &info, &err), &err);
        trit_kvset *s = b ? tt_parse(b) : NULL;
        CHECK_EQ_U64(tt_count(s, "tokenizer.ggml.merges"), n);
        CHECK_EQ_U64(tt_count(s, "tokenizer.ggml.tokens"), 3);
        trit_kvset_free(s);
        trit_kvbuf_free(b);
        /* the same bytes in a member that is built as a tree: refused by the bound */
        trit_err_clear(&err);
        CHECK_EQ_INT(tt_convert(out, NULL, NULL, NULL, 0, 1, &b, &info, &err), TRIT_E_LIMIT);
        CHECK(strstr(err.msg, "budget") != NULL);
        trit_kvbuf_free(b);
    }
    free(in);
    free(out);
}

TEST(json_iter_walks_validated_text)
{
    static const char doc[] = " { \"a\\\"}\" : [1, {\"x\": \"]\"}], \"b\":\"q\\\\\" ,\"c\":-1.5e3,\"d\":{} } ";
    src_json_iter it;
    size_t ko, kl, vo, vl;
    CHECK(src_json_iter_init(&it, (const uint8_t *)doc, strlen(doc)));
    CHECK(it.is_object);
    const char *keys[] = {"\"a\\\"}\"", "\"b\"", "\"c\"", "\"d\""};
    const char *vals[] = {"[1, {\"x\": \"]\"}]", "\"q\\\\\"", "-1.5e3", "{}"};
    for (int k = 0; k < 4; k++) {
        CHECK(src_json_iter_next(&it, &ko, &kl, &vo, &vl) == 1);
        CHECK(kl == strlen(keys[k]) && memcmp(doc + ko, keys[k], kl) == 0);
        CHECK(vl == strlen(vals[k]) && memcmp(doc + vo, vals[k], vl) == 0);
    }
    CHECK(src_json_iter_next(&it, &ko, &kl, &vo, &vl) == 0);
    CHECK(src_json_iter_next(&it, &ko, &kl, &vo, &vl) == 0);
    static const char arr[] = "[]";
    CHECK(src_json_iter_init(&it, (const uint8_t *)arr, 2));
    CHECK(src_json_iter_next(&it, &ko, &kl, &vo, &vl) == 0);
    CHECK(!src_json_iter_init(&it, (const uint8_t *)"12", 2));
}

/* ---- finding 14 ---- */

TEST(cal_data_fifo_refused_promptly)
{
    const char *fifo = test_path(test_tmpdir(), "cal_fifo");
    unlink(fifo);
    CHECK(mkfifo(fifo, 0600) == 0);
    fflush(NULL);
    pid_t const pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        alarm(10);   /* a blocking open or read ends the child with SIGALRM */
        uint32_t *tok = NULL;
        uint64_t n = 0;
        trit_err err;
        trit_err_clear(&err);
        int const rc = cal_tokens_ids(fifo, &tok, &n, &err);
        free(tok);
        _exit(rc == TRIT_E_IO && strstr(err.msg, "regular file") ? 0 : 1);
    }
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    unlink(fifo);
}

TEST(gguf_bad_magic_is_corrupt_everywhere)
{
    /* a GGUF v3 header whose magic lost a bit, saved without the .gguf name */
    uint8_t h[96] = {'G', 'G', 'U', 'X', 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0};
    const char *names[] = {"badmagic.bin", "badmagic.gguf"};
    for (int k = 0; k < 2; k++) {
        const char *path = test_path(test_tmpdir(), names[k]);
        CHECK(test_write_file(path, h, sizeof h) == 0);
        src_format_id fmt;
        trit_err err;
        trit_err_clear(&err);
        CHECK_OK_E(src_probe(path, &fmt, &err), &err);
        CHECK_EQ_INT(fmt, SRC_FMT_GGUF);
        struct src_ckpt *s = NULL;
        trit_err_clear(&err);
        CHECK_EQ_INT(src_open(path, &s, &err), TRIT_E_CORRUPT);
        CHECK_EQ_U64(err.offset, 0);
        CHECK(strstr(err.msg, "bad magic") != NULL);
        CHECK(strstr(err.file, names[k]) != NULL);
        src_close(s);
        const char *cmds[] = {"convert", "inspect", "verify"};
        for (int c = 0; c < 3; c++) {
            char cmd[1024];
            char *out = NULL;
            snprintf(cmd, sizeof cmd, "%s %s '%s' %s 2>&1", test_trit_bin(), cmds[c], path,
                     c == 0 ? "-o /dev/null --dry-run" : "");
            int const ex = test_run(cmd, &out);
            if (ex != trit_exit_code(TRIT_E_CORRUPT) || !out || !strstr(out, "bad magic"))
                test_fail_(__FILE__, __LINE__, "%s: exit %d, output: %s", cmd, ex, out ? out : "(none)");
            free(out);
        }
        unlink(path);
    }
    /* a safetensors-named file keeps its own opener's message */
    const char *st = test_path(test_tmpdir(), "badmagic.safetensors");
    CHECK(test_write_file(st, h, sizeof h) == 0);
    src_format_id fmt;
    trit_err err;
    trit_err_clear(&err);
    CHECK_OK_E(src_probe(st, &fmt, &err), &err);
    CHECK_EQ_INT(fmt, SRC_FMT_SAFETENSORS);
    unlink(st);
}
