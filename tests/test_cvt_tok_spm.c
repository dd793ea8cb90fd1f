/* test_cvt_tok_spm.c - SentencePiece tokenizer.model: a hand-written ModelProto through the
 * protobuf reader and the converter; added tokens laid over the pieces; malformed protobuf
 * refused with the right code and byte offset; every truncation and bit flip of a valid model
 * handled without a crash. */
#include <stdlib.h>
#include <string.h>

#include "cvt_tok.h"
#include "test.h"
#include "test_cvt_tok.h"

#define SP "\xe2\x96\x81"   /* "▁" */

/* The model every test here starts from: 9 pieces of each type, trainer and normalizer specs
 * with unknown fields around the known ones. */
static void build_model(tt_pb *m)
{
    memset(m, 0, sizeof *m);
    tt_pb_piece(m, "<unk>", 0.0f, 2);
    tt_pb_piece(m, "<s>", 0.0f, 3);
    tt_pb_piece(m, "</s>", 0.0f, 3);
    tt_pb_piece(m, "<0x0A>", 0.0f, 6);
    tt_pb_piece(m, SP "t", -1.0f, 0);         /* type omitted: NORMAL */
    tt_pb_piece(m, "he", -2.5f, 1);
    tt_pb_piece(m, SP "the", -3.25f, 1);
    tt_pb_piece(m, "<user>", 0.0f, 4);
    tt_pb_piece(m, "<unused0>", 0.0f, 5);
    tt_pb ts = {.n = 0};
    tt_pb_bytes(&ts, 1, "corpus.txt", 10);    /* input: skipped */
    tt_pb_uint(&ts, 3, 2);                    /* model_type BPE */
    tt_pb_uint(&ts, 4, 9);                    /* vocab_size: skipped */
    tt_pb_uint(&ts, 35, 1);                   /* byte_fallback */
    tt_pb_uint(&ts, 40, 0);
    tt_pb_uint(&ts, 41, 1);
    tt_pb_uint(&ts, 42, 2);
    tt_pb_uint(&ts, 43, UINT64_MAX);          /* pad_id -1: ten bytes of two's complement */
    tt_pb_tag(&ts, 99, 1);                    /* an unknown fixed64 */
    for (int i = 0; i < 8; i++) tt_pb_varint(&ts, 0);
    tt_pb_bytes(m, 2, ts.b, ts.n);
    tt_pb ns = {.n = 0};
    tt_pb_bytes(&ns, 1, "identity", 8);
    tt_pb_uint(&ns, 3, 0);                    /* add_dummy_prefix false */
    tt_pb_bytes(m, 3, ns.b, ns.n);
    tt_pb_bytes(m, 4, "\x08\x01", 2);          /* self_test_data: skipped */
}

static const char *const want_text[9] = {"<unk>", "<s>", "</s>", "<0x0A>", SP "t", "he", SP "the", "<user>", "<unused0>"};
static const float want_score[9] = {0, 0, 0, 0, -1.0f, -2.5f, -3.25f, 0, 0};
static const int want_type[9] = {2, 3, 3, 6, 1, 1, 1, 4, 5};

TEST(cvt_tok_spm_parse_handbuilt)
{
    static tt_pb m;
    build_model(&m);
    cvt_tok_spm spm;
    trit_err err;
    CHECK_OK_E(cvt_tok_spm_parse(m.b, m.n, "t.model", &spm, &err), &err);
    CHECK_EQ_U64(spm.n_pieces, 9);
    for (uint32_t i = 0; i < spm.n_pieces && i < 9; i++) {
        CHECK(spm.pieces[i].len == strlen(want_text[i]) && !memcmp(spm.pieces[i].text, want_text[i], spm.pieces[i].len));
        CHECK(spm.pieces[i].score == want_score[i]);
        CHECK_EQ_U64(spm.pieces[i].type, want_type[i]);
        CHECK(spm.pieces[i].text >= m.b && spm.pieces[i].text + spm.pieces[i].len <= m.b + m.n);
    }
    CHECK_EQ_INT(spm.model_type, 2);
    CHECK_EQ_INT(spm.byte_fallback, 1);
    CHECK_EQ_INT(spm.unk_id, 0);
    CHECK_EQ_INT(spm.bos_id, 1);
    CHECK_EQ_INT(spm.eos_id, 2);
    CHECK_EQ_INT(spm.pad_id, -1);
    CHECK_EQ_INT(spm.add_dummy_prefix, 0);
    CHECK_EQ_INT(spm.remove_extra_whitespaces, 1);   /* proto default */
    cvt_tok_spm_release(&spm);
    CHECK(spm.pieces == NULL && spm.n_pieces == 0);
}

TEST(cvt_tok_spm_convert)
{
    static tt_pb m;
    build_model(&m);
    trit_kvbuf *b;
    trit_err err;
    cvt_tok_info info;
    CHECK_OK_E(tt_convert(NULL, &m, NULL, NULL, 0, 0, &b, &info, &err), &err);
    CHECK_STR(info.kind, "spm");
    CHECK_STR(info.source, "tokenizer.model");
    CHECK_EQ_U64(info.n_tokens, 9);
    CHECK_EQ_U64(info.bos, 1);
    CHECK_EQ_U64(info.eos, 2);
    trit_kvset *s = tt_parse(b);
    char buf[64];
    CHECK_STR(tt_str(s, "tokenizer.ggml.model", buf, sizeof buf), "llama");
    CHECK_STR(tt_str(s, "tokenizer.ggml.pre", buf, sizeof buf), "default");
    CHECK_EQ_U64(tt_count(s, "tokenizer.ggml.tokens"), 9);
    for (uint32_t i = 0; i < 9; i++) {
        CHECK_STR(tt_arr_str(s, "tokenizer.ggml.tokens", i, buf, sizeof buf), want_text[i]);
        CHECK(tt_arr_f64(s, "tokenizer.ggml.scores", i) == want_score[i]);
        CHECK_EQ_INT(tt_arr_i64(s, "tokenizer.ggml.token_type", i), want_type[i]);
    }
    CHECK_EQ_U64(tt_u64(s, "tokenizer.ggml.unknown_token_id"), 0);
    CHECK_EQ_U64(tt_u64(s, "tokenizer.ggml.bos_token_id"), 1);
    CHECK_EQ_U64(tt_u64(s, "tokenizer.ggml.eos_token_id"), 2);
    CHECK_EQ_U64(tt_u64(s, "tokenizer.ggml.padding_token_id"), UINT64_MAX);   /* pad_id -1: none */
    CHECK_EQ_U64(tt_u64(s, "tokenizer.ggml.add_space_prefix"), 0);
    CHECK_EQ_U64(tt_count(s, "tokenizer.ggml.merges"), 0);
    trit_kvset_free(s);
    trit_kvbuf_free(b);
}

TEST(cvt_tok_spm_added_tokens_and_config)
{
    static tt_pb m;
    build_model(&m);
    /* tokenizer.json of the same model (SentencePiece-style): only its added tokens are used */
    const char *json =
        "{\"added_tokens\": ["
        "{\"id\": 1, \"content\": \"<s>\", \"special\": true},"
        "{\"id\": 10, \"content\": \"" SP SP "\", \"special\": false},"
        "{\"id\": 9, \"content\": \"<|im_start|>\", \"special\": true},"
        "{\"id\": 11, \"content\": \"<|im_end|>\", \"special\": false}],"
        "\"normalizer\": null, \"pre_tokenizer\": {\"type\": \"Metaspace\"},"
        "\"model\": {\"type\": \"BPE\", \"byte_fallback\": true, \"vocab\": {\"zz\": 0}, \"merges\": []}}";
    const char *tc = "{\"bos_token\": \"<s>\", \"eos_token\": {\"content\": \"<|im_end|>\", \"lstrip\": false},"
                     " \"unk_token\": null, \"add_bos_token\": true, \"add_eos_token\": false,"
                     " \"chat_template\": \"{{ messages }}\"}";
    const char *cfg = "{\"pad_token_id\": 2, \"eos_token_id\": 5}";
    trit_kvbuf *b;
    trit_err err;
    cvt_tok_info info;
    CHECK_OK_E(tt_convert(json, &m, tc, cfg, 0, 0, &b, &info, &err), &err);
    CHECK_STR(info.source, "tokenizer.model");
    CHECK_EQ_U64(info.n_tokens, 12);
    CHECK_EQ_U64(info.eos, 11);   /* tokenizer_config wins over config.json */
    trit_kvset *s = tt_parse(b);
    char buf[64];
    CHECK_STR(tt_arr_str(s, "tokenizer.ggml.tokens", 9, buf, sizeof buf), "<|im_start|>");
    CHECK_EQ_INT(tt_arr_i64(s, "tokenizer.ggml.token_type", 9), 3);
    CHECK(tt_arr_f64(s, "tokenizer.ggml.scores", 9) == -1000.0);
    CHECK_STR(tt_arr_str(s, "tokenizer.ggml.tokens", 10, buf, sizeof buf), "  ");   /* "▁" pre-normalized */
    CHECK_EQ_INT(tt_arr_i64(s, "tokenizer.ggml.token_type", 10), 4);
    CHECK_EQ_INT(tt_arr_i64(s, "tokenizer.ggml.token_type", 11), 3);   /* looks special */
    CHECK_EQ_INT(tt_arr_i64(s, "tokenizer.ggml.token_type", 1), 3);    /* unchanged piece */
    CHECK(tt_arr_f64(s, "tokenizer.ggml.scores", 4) == -1.0);          /* model scores kept */
    CHECK_EQ_U64(tt_u64(s, "tokenizer.ggml.bos_token_id"), 1);
    CHECK_EQ_U64(tt_u64(s, "tokenizer.ggml.eos_token_id"), 11);
    CHECK_EQ_U64(tt_u64(s, "tokenizer.ggml.padding_token_id"), 2);     /* config.json fallback */
    CHECK_EQ_U64(tt_u64(s, "tokenizer.ggml.unknown_token_id"), 0);     /* trainer_spec */
    CHECK_EQ_U64(tt_u64(s, "tokenizer.ggml.add_bos_token"), 1);
    CHECK_EQ_U64(tt_u64(s, "tokenizer.ggml.add_eos_token"), 0);
    CHECK_STR(tt_str(s, "tokenizer.chat_template", buf, sizeof buf), "{{ messages }}");
    trit_kvset_free(s);
    trit_kvbuf_free(b);

    /* without tokenizer.json, tokenizer_config.json's added_tokens_decoder is the overlay */
    const char *tc2 = "{\"added_tokens_decoder\": {\"9\": {\"content\": \"<extra>\", \"special\": true}}}";
    CHECK_OK_E(tt_convert(NULL, &m, tc2, NULL, 0, 0, &b, &info, &err), &err);
    CHECK_EQ_U64(info.n_tokens, 10);
    s = tt_parse(b);
    CHECK_STR(tt_arr_str(s, "tokenizer.ggml.tokens", 9, buf, sizeof buf), "<extra>");
    trit_kvset_free(s);
    trit_kvbuf_free(b);

    /* an added id past the pieces with a hole before it */
    const char *tc3 = "{\"added_tokens_decoder\": {\"12\": {\"content\": \"<x>\"}}}";
    CHECK_EQ_INT(tt_convert(NULL, &m, tc3, NULL, 0, 0, &b, NULL, &err), TRIT_E_CORRUPT);
    CHECK_STR(err.file, "tokenizer_config.json");
    CHECK(strstr(err.msg, "gap") != NULL);
    trit_kvbuf_free(b);
    const char *tc4 = "{\"added_tokens_decoder\": {\"x1\": {\"content\": \"<x>\"}}}";
    CHECK_EQ_INT(tt_convert(NULL, &m, tc4, NULL, 0, 0, &b, NULL, &err), TRIT_E_CORRUPT);
    CHECK(strstr(err.where, "x1") != NULL);
    trit_kvbuf_free(b);
}

/* ---- malformed ------------------------------------------------------------------------------- */

typedef struct pb_case {
    const char *name;
    const uint8_t *bytes;
    size_t n;
    int code;
    uint64_t offset;
    const char *msg;          /* substring of the message */
} pb_case;

#define B(...) (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__})

TEST(cvt_tok_spm_malformed)
{
    const pb_case cases[] = {
        {"tag without length", B(0x0a), TRIT_E_TRUNCATED, 1, "need"},
        {"length past the end", B(0x0a, 0x05, 0x0a, 0x01), TRIT_E_TRUNCATED, 2, "need 5"},
        {"varint over 64 bits", B(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f), TRIT_E_CORRUPT, 0,
         "overflows"},
        {"varint cut short", B(0x0a, 0x80, 0x80), TRIT_E_TRUNCATED, 3, "need"},
        {"group", B(0x2b), TRIT_E_CORRUPT, 0, "groups"},
        {"wire type 6", B(0x2e), TRIT_E_CORRUPT, 0, "wire type"},
        {"field number 0", B(0x02, 0x00), TRIT_E_CORRUPT, 0, "tag"},
        {"pieces not a message", B(0x08, 0x01), TRIT_E_CORRUPT, 0, "wire type 0, expected 2"},
        {"piece type 9", B(0x0a, 0x05, 0x0a, 0x01, 'a', 0x18, 0x09), TRIT_E_CORRUPT, 5, "type 9"},
        {"piece type 0", B(0x0a, 0x05, 0x0a, 0x01, 'a', 0x18, 0x00), TRIT_E_CORRUPT, 5, "type 0"},
        {"score not fixed32", B(0x0a, 0x05, 0x0a, 0x01, 'a', 0x10, 0x01), TRIT_E_CORRUPT, 5, "wire type 0, expected 5"},
        {"empty piece", B(0x0a, 0x05, 0x15, 0, 0, 0, 0), TRIT_E_CORRUPT, 0, "empty"},
        {"duplicate piece", B(0x0a, 0x03, 0x0a, 0x01, 'a', 0x0a, 0x03, 0x0a, 0x01, 'a'), TRIT_E_CORRUPT, 5,
         "already piece 0"},
        {"no pieces", B(0x1a, 0x02, 0x18, 0x01), TRIT_E_CORRUPT, 0, "no pieces"},
        {"empty file", (const uint8_t[]){0}, 0, TRIT_E_CORRUPT, 0, "no pieces"},
        {"bos_id beyond int32", B(0x0a, 0x03, 0x0a, 0x01, 'a', 0x12, 0x08, 0xc8, 0x02, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01),
         TRIT_E_CORRUPT, 7, "int32"},
        {"truncated inside trainer_spec", B(0x0a, 0x03, 0x0a, 0x01, 'a', 0x12, 0x02, 0xc8, 0x02), TRIT_E_TRUNCATED, 9,
         "need"},
        {"piece cut inside its text", B(0x0a, 0x04, 0x0a, 0x05, 'a', 'b'), TRIT_E_TRUNCATED, 4, "need 5"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        pb_case const *c = &cases[i];
        cvt_tok_spm spm;
        trit_err err;
        int const rc = cvt_tok_spm_parse(c->bytes, c->n, "bad.model", &spm, &err);
        if (rc != c->code || err.offset != c->offset || !strstr(err.msg, c->msg) || strcmp(err.file, "bad.model")) {
            char b[512];
            test_fail_(__FILE__, __LINE__, "case '%s': got %d (%s), want %d at offset %llu with '%s'", c->name, rc,
                       trit_err_format(&err, b, sizeof b), c->code, (unsigned long long)c->offset, c->msg);
        }
        CHECK(spm.pieces == NULL && spm.n_pieces == 0);
    }
}

TEST(cvt_tok_spm_limits)
{
    trit_err err;
    cvt_tok_spm spm;
    /* a piece one byte over the token cap */
    size_t const big = 65537;
    uint8_t *p = malloc(big + 16);
    CHECK(p != NULL);
    if (!p) return;
    tt_pb hdr = {.n = 0};
    tt_pb_tag(&hdr, 1, 2);
    tt_pb_varint(&hdr, big + 4);   /* piece message: tag + 3-byte varint + text */
    tt_pb_tag(&hdr, 1, 2);
    tt_pb_varint(&hdr, big);
    memcpy(p, hdr.b, hdr.n);
    memset(p + hdr.n, 'x', big);
    CHECK_EQ_INT(cvt_tok_spm_parse(p, hdr.n + big, NULL, &spm, &err), TRIT_E_LIMIT);
    CHECK_EQ_U64(err.offset, 4);
    CHECK_STR(err.file, "tokenizer.model");
    free(p);
    /* one piece record more than the vocabulary cap (two-byte empty records: found in pass 1,
     * before anything is allocated) */
    size_t const n = (size_t)(1u << 22) + 1;
    p = malloc(2 * n);
    CHECK(p != NULL);
    if (!p) return;
    for (size_t i = 0; i < n; i++) {
        p[2 * i] = 0x0a;
        p[2 * i + 1] = 0x00;
    }
    CHECK_EQ_INT(cvt_tok_spm_parse(p, 2 * n, NULL, &spm, &err), TRIT_E_LIMIT);
    CHECK_EQ_U64(err.offset, 2 * (n - 1));
    free(p);
}

/* Every prefix and every single-bit flip of the valid model: a clean result or a clean error,
 * never a read outside the buffer (asan) and never a piece pointing outside it. */
TEST(cvt_tok_spm_truncations_and_bitflips)
{
    static tt_pb m;
    build_model(&m);
    uint8_t *copy = malloc(m.n);
    CHECK(copy != NULL);
    if (!copy) return;
    uint32_t ok_prefixes = 0;
    for (size_t len = 0; len < m.n; len++) {
        memcpy(copy, m.b, len);
        cvt_tok_spm spm;
        trit_err err;
        int const rc = cvt_tok_spm_parse(copy, len, NULL, &spm, &err);
        if (rc == TRIT_OK) {
            ok_prefixes++;
            CHECK(spm.n_pieces >= 1 && spm.n_pieces <= 9);
        } else {
            CHECK(rc == TRIT_E_TRUNCATED || rc == TRIT_E_CORRUPT);
            CHECK(err.offset == TRIT_NO_OFFSET || err.offset <= len);
        }
        cvt_tok_spm_release(&spm);
    }
    CHECK(ok_prefixes >= 8);   /* the ends of piece records are valid shorter models */
    for (size_t i = 0; i < m.n; i++)
        for (int bit = 0; bit < 8; bit++) {
            memcpy(copy, m.b, m.n);
            copy[i] ^= (uint8_t)(1u << bit);
            cvt_tok_spm spm;
            trit_err err;
            if (cvt_tok_spm_parse(copy, m.n, NULL, &spm, &err) == TRIT_OK) {
                for (uint32_t k = 0; k < spm.n_pieces; k++) {
                    cvt_tok_piece const *pc = &spm.pieces[k];
                    CHECK(pc->len >= 1 && pc->text >= copy && pc->text + pc->len <= copy + m.n);
                    CHECK(pc->type >= 1 && pc->type <= 6);
                }
            } else {
                CHECK(err.code != TRIT_OK && (err.offset == TRIT_NO_OFFSET || err.offset <= m.n));
            }
            cvt_tok_spm_release(&spm);
        }
    free(copy);
}

/* The fuzz seeds are what they claim: every one but the truncated one is a valid model. */
TEST(cvt_tok_spm_fuzz_seeds_parse)
{
    static const char *const seeds[] = {"seed-min.model", "seed-llama.model", "seed-unigram.model",
                                        "seed-types.model", "seed-truncated.model"};
    const char *root = getenv("TRIT_CORPUS");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/spm_model", root && *root ? root : "tests/fuzz/corpus");
    for (size_t i = 0; i < sizeof seeds / sizeof *seeds; i++) {
        size_t len = 0;
        uint8_t *buf = test_read_file(test_path(dir, seeds[i]), &len);
        CHECK(buf != NULL);
        if (!buf) continue;
        cvt_tok_spm spm;
        trit_err err;
        int const rc = cvt_tok_spm_parse(buf, len, seeds[i], &spm, &err);
        if (strstr(seeds[i], "truncated")) CHECK_EQ_INT(rc, TRIT_E_TRUNCATED);
        else CHECK_OK_E(rc, &err);
        cvt_tok_spm_release(&spm);
        free(buf);
    }
}
