/* test_cvt_gguf_fixtures.c - the GGUF reader on real files written by llama.cpp and others
 * ($TRIT_FIXTURES/gguf, see shared/fixtures/MANIFEST.md). Skipped when the fixtures are absent. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "src_gguf.h"
#include "test.h"

/* Every well-formed GGUF listed in COUNTS.tsv opens with the version, KV count, tensor count,
 * architecture and vocabulary size an independent parser (@huggingface/gguf) reads. */
TEST(src_gguf_fixtures_counts)
{
    const char *fx = test_fixtures();
    if (!fx) SKIP("fixtures absent");
    size_t len = 0;
    char *tsv = (char *)test_read_file(test_path(fx, "gguf/COUNTS.tsv"), &len);
    if (!tsv) SKIP("gguf/COUNTS.tsv absent");
    char *text = realloc(tsv, len + 1);
    if (!text) { free(tsv); CHECK(0); return; }
    text[len] = '\0';
    int rows = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char file[512], arch[128];
        unsigned version;
        unsigned long long n_kv, n_t, vocab;
        if (strncmp(line, "file\t", 5) == 0) continue;
        if (sscanf(line, "%511[^\t]\t%u\t%llu\t%llu\t%127[^\t]\t%llu", file, &version, &n_kv, &n_t, arch, &vocab) != 6) {
            test_fail_(__FILE__, __LINE__, "unparsed COUNTS.tsv line '%s'", line);
            continue;
        }
        rows++;
        src_gguf *h = NULL;
        trit_err err;
        CHECK_OK_E(src_gguf_open(test_path(fx, file), NULL, &h, &err), &err);
        if (!h) continue;
        CHECK_EQ_U64(src_gguf_version(h), version);
        CHECK_EQ_U64(src_gguf_n_kv(h), n_kv);
        CHECK_EQ_U64(src_gguf_n_tensors(h), n_t);
        CHECK_STR(src_gguf_arch(h), arch);
        int64_t const tok = src_gguf_find_kv(h, "tokenizer.ggml.tokens");
        uint64_t count = 0;
        uint32_t et = 0;
        CHECK(tok >= 0);
        if (tok >= 0) {
            CHECK_EQ_INT(src_gguf_kv_type(h, (uint64_t)tok, &et, &count), SRC_GGUF_ARRAY);
            CHECK_EQ_U64(count, vocab);
            const char *s;
            uint64_t n;
            CHECK_EQ_INT(src_gguf_kv_arr_str(h, (uint64_t)tok, count - 1, &s, &n), TRIT_OK);
        }
        /* every KV getter of the value's kind works on every key */
        for (uint64_t i = 0; i < src_gguf_n_kv(h); i++) {
            src_gguf_val v, e;
            src_gguf_kv_val(h, i, &v);
            if (v.type == SRC_GGUF_ARRAY) {
                src_gguf_iter it;
                uint64_t k = 0;
                src_gguf_iter_init(&it, &v);
                while (src_gguf_iter_next(&it, &e)) k++;
                CHECK_EQ_U64(k, v.count);
            }
        }
        src_gguf_close(h);
    }
    CHECK(rows >= 10);
    free(text);
}

TEST(src_gguf_fixtures_edge_refused)
{
    const char *fx = test_fixtures();
    if (!fx) SKIP("fixtures absent");
    src_gguf *h = NULL;
    trit_err err;
    /* "GGUF" + 2 bytes of version */
    const char *trunc = test_path(fx, "gguf/edge/ollama-api-test-truncated-v2.gguf");
    CHECK_EQ_INT(src_gguf_open(trunc, NULL, &h, &err), TRIT_E_TRUNCATED);
    CHECK_EQ_U64(err.offset, 4);
    CHECK(strstr(err.file, "ollama-api-test-truncated-v2.gguf") != NULL);
    /* a replaced float shifted the stream: a key length reads 73,939,795,391 at 0x18f; refused
     * against the bytes left before any allocation */
    const char *bad = test_path(fx, "gguf/edge/ggml-vocab-llama-spm.malformed-thirdparty-copy.gguf");
    CHECK_EQ_INT(src_gguf_open(bad, NULL, &h, &err), TRIT_E_TRUNCATED);
    CHECK(h == NULL);
    CHECK_EQ_U64(err.offset, 0x18f);
    CHECK(strstr(err.msg, "73939795391") != NULL);
    char buf[512];
    CHECK(strstr(trit_err_format(&err, buf, sizeof buf), "offset 0x18f") != NULL);
}

TEST(src_gguf_fixtures_stories_decode)
{
    const char *fx = test_fixtures();
    if (!fx) SKIP("fixtures absent");
    src_gguf *h = NULL;
    trit_err err;
    CHECK_OK_E(src_gguf_open(test_path(fx, "gguf/stories260K.gguf"), NULL, &h, &err), &err);
    if (!h) return;
    CHECK_EQ_U64(src_gguf_n_tensors(h), 48);
    uint64_t max = 0;
    for (uint64_t i = 0; i < src_gguf_n_tensors(h); i++)
        if (src_gguf_tensor(h, i)->n_elems > max) max = src_gguf_tensor(h, i)->n_elems;
    float *f = malloc((size_t)max * sizeof *f);
    CHECK(f != NULL);
    for (uint64_t i = 0; f && i < src_gguf_n_tensors(h); i++) {
        const src_gguf_tensor_info *t = src_gguf_tensor(h, i);
        CHECK_STR(t->type_name, "F32");
        CHECK_OK_E(src_gguf_to_f32(h, i, 0, t->n_elems, f, &err), &err);
        uint64_t bad = 0;
        for (uint64_t k = 0; k < t->n_elems; k++) bad += !isfinite(f[k]);
        CHECK_EQ_U64(bad, 0);
    }
    int64_t const te = src_gguf_find_tensor(h, "token_embd.weight");
    CHECK(te >= 0);
    if (te >= 0 && f) {
        const src_gguf_tensor_info *t = src_gguf_tensor(h, (uint64_t)te);
        CHECK(t->ne[0] == 64 && t->ne[1] == 512);
        CHECK_OK_E(src_gguf_to_f32(h, (uint64_t)te, 0, t->n_elems, f, &err), &err);
        double sum = 0;
        for (uint64_t k = 0; k < t->n_elems; k++) sum += fabs((double)f[k]);
        CHECK(sum > 0);   /* real weights, not zeros */
        /* a sub-range equals the same elements of the whole */
        float part[7];
        CHECK_OK_E(src_gguf_to_f32(h, (uint64_t)te, 1000, 7, part, &err), &err);
        CHECK(memcmp(part, f + 1000, sizeof part) == 0);
    }
    free(f);
    src_gguf_close(h);
}
