/* test_format_kvset.c - KV sections (kind 3, e.g. the tokenizer): built with trit_kvbuf, carried
 * as a section, parsed back with trit_reader_section_kv; bad blobs refused at the right offset. */
#include <stdlib.h>
#include <string.h>

#include "test.h"

TEST(format_kv_section_roundtrip)
{
    trit_err err;
    trit_kvbuf *b = trit_kvbuf_new();
    const char *const toks[4] = {"<s>", "</s>", "\xe2\x96\x81hello", ""};
    float const scores[4] = {0, 0, -1.5f, -2};
    int32_t const types[4] = {3, 3, 1, 1};
    CHECK_OK_E(trit_kvbuf_str(b, "tokenizer.ggml.model", "llama", 5, &err), &err);
    CHECK_OK_E(trit_kvbuf_arr_str(b, "tokenizer.ggml.tokens", toks, NULL, 4, &err), &err);
    CHECK_OK_E(trit_kvbuf_arr(b, "tokenizer.ggml.scores", TRIT_KV_F32, scores, 4, &err), &err);
    CHECK_OK_E(trit_kvbuf_arr(b, "tokenizer.ggml.token_type", TRIT_KV_I32, types, 4, &err), &err);
    CHECK_OK_E(trit_kvbuf_u32(b, "tokenizer.ggml.bos_token_id", 0, &err), &err);
    CHECK_OK_E(trit_kvbuf_bool(b, "tokenizer.ggml.add_bos_token", 1, &err), &err);
    const void *data;
    uint64_t len;
    CHECK_OK_E(trit_kvbuf_data(b, &data, &len, &err), &err);
    CHECK_EQ_U64(trit_kvbuf_count(b), 6);

    const char *path = test_path(test_tmpdir(), "kvsec.trit");
    trit_writer *w;
    trit_write_opts o = {0};
    o.overwrite = 1;
    CHECK_OK_E(trit_writer_open(path, &o, &w, &err), &err);
    uint32_t sec;
    CHECK_OK_E(trit_writer_add_section(w, "tokenizer.kv", TRIT_SECTION_TOKENIZER_KV, &sec, &err), &err);
    CHECK_OK_E(trit_writer_write_section(w, sec, data, len, &err), &err);
    CHECK_OK_E(trit_writer_finish(w, &err), &err);
    trit_kvbuf_free(b);

    trit_reader *r;
    CHECK_OK_E(trit_reader_open(path, NULL, &r, &err), &err);
    if (!r) return;
    int64_t const si = trit_reader_find_section(r, TRIT_SECTION_TOKENIZER_KV);
    CHECK(si >= 0);
    trit_kvset *s = NULL;
    CHECK_OK_E(trit_reader_section_kv(r, (uint32_t)si, &s, &err), &err);
    if (s) {
        CHECK_EQ_U64(trit_kvset_n(s), 6);
        int64_t const it = trit_kvset_find(s, "tokenizer.ggml.tokens");
        uint32_t et;
        uint64_t cnt;
        CHECK_EQ_U64(trit_kvset_type(s, (uint32_t)it, &et, &cnt), TRIT_KV_ARRAY);
        CHECK_EQ_U64(cnt, 4);
        const char *str;
        uint64_t n;
        CHECK_OK_E(trit_kvset_arr_str(s, (uint32_t)it, 2, &str, &n), &err);
        CHECK(n == 8 && memcmp(str, "\xe2\x96\x81hello", 8) == 0);
        double d;
        CHECK_OK_E(trit_kvset_arr_f64(s, (uint32_t)trit_kvset_find(s, "tokenizer.ggml.scores"), 2, &d), &err);
        CHECK(d == -1.5);
        int64_t i64;
        CHECK_OK_E(trit_kvset_arr_i64(s, (uint32_t)trit_kvset_find(s, "tokenizer.ggml.token_type"), 0, &i64), &err);
        CHECK_EQ_INT(i64, 3);
        uint64_t u;
        CHECK_OK_E(trit_kvset_u64(s, (uint32_t)trit_kvset_find(s, "tokenizer.ggml.add_bos_token"), &u), &err);
        CHECK_EQ_U64(u, 1);
        CHECK_EQ_INT(trit_kvset_find(s, "nope"), -1);
    }
    trit_kvset_free(s);
    trit_reader_close(r);
}

TEST(format_kv_blob_refusals)
{
    trit_err err;
    trit_kvbuf *b = trit_kvbuf_new();
    CHECK_OK_E(trit_kvbuf_u32(b, "a", 1, &err), &err);
    CHECK_OK_E(trit_kvbuf_u32(b, "a", 2, &err), &err);
    const void *data;
    uint64_t len;
    CHECK_EQ_INT(trit_kvbuf_data(b, &data, &len, &err), TRIT_E_USAGE); /* duplicate key */
    /* the same bytes, parsed: duplicate refused at the second record (offset 1000 + 8) */
    trit_kvset *s = NULL;
    const uint8_t rec[16] = {1, 0, 'a', 4, 1, 0, 0, 0, 1, 0, 'a', 4, 2, 0, 0, 0};
    CHECK_EQ_INT(trit_kvset_parse(rec, sizeof rec, 1000, "blob", &s, &err), TRIT_E_CORRUPT);
    CHECK_EQ_U64(err.offset, 1008);
    /* truncated string length */
    const uint8_t bad[9] = {1, 0, 'k', 11, 0xff, 0xff, 0xff, 0x00, 'x'};
    CHECK_EQ_INT(trit_kvset_parse(bad, sizeof bad, 0, "blob", &s, &err), TRIT_E_TRUNCATED);
    CHECK_EQ_U64(err.offset, 8);
    /* a string array whose count cannot fit: refused before allocating */
    const uint8_t arr[13] = {1, 0, 'k', 12, 11, 0xff, 0xff, 0xff, 0x00, 0, 0, 0, 0};
    CHECK_EQ_INT(trit_kvset_parse(arr, sizeof arr, 0, "blob", &s, &err), TRIT_E_TRUNCATED);
    CHECK_EQ_U64(err.offset, 5);
    CHECK(s == NULL);
    trit_kvbuf_free(b);
}
