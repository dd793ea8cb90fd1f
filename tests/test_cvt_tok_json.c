/* test_cvt_tok_json.c - Hugging Face tokenizer.json shapes: SentencePiece-style BPE (scores from
 * merge ranks, byte/unknown/control types, space prefix, post-processor bos), Unigram, the
 * pre-tokenizer table, both merge forms, tokenizer_config.json (special tokens, chat
 * templates), and malformed files refused with the file and the JSON path or byte offset. */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cvt_tok.h"
#include "test.h"
#include "test_cvt_tok.h"

#define SP "\xe2\x96\x81"   /* "▁" */

static const char *const llama2_json =
    "{\"version\": \"1.0\", \"added_tokens\": ["
    "  {\"id\": 0, \"content\": \"<unk>\", \"special\": true},"
    "  {\"id\": 1, \"content\": \"<s>\", \"special\": true},"
    "  {\"id\": 2, \"content\": \"</s>\", \"special\": true}],"
    " \"normalizer\": {\"type\": \"Sequence\", \"normalizers\": ["
    "  {\"type\": \"Prepend\", \"prepend\": \"" SP "\"},"
    "  {\"type\": \"Replace\", \"pattern\": {\"String\": \" \"}, \"content\": \"" SP "\"}]},"
    " \"pre_tokenizer\": null,"
    " \"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": ["
    "  {\"SpecialToken\": {\"id\": \"<s>\", \"type_id\": 0}}, {\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}]},"
    " \"model\": {\"type\": \"BPE\", \"unk_token\": \"<unk>\", \"byte_fallback\": true,"
    "  \"vocab\": {\"<unk>\": 0, \"<s>\": 1, \"</s>\": 2, \"<0x0A>\": 3, \"" SP "\": 4, \"t\": 5, \"h\": 6,"
    "            \"e\": 7, \"" SP "t\": 8, \"he\": 9, \"" SP "the\": 10, \"xy\": 11, \"x\": 12, \"y\": 13},"
    "  \"merges\": [\"" SP " t\", \"h e\", \"" SP "t he\"]}}";

TEST(cvt_tok_json_spm_style_bpe)
{
    trit_kvbuf *b;
    trit_err err;
    cvt_tok_info info;
    CHECK_OK_E(tt_convert(llama2_json, NULL, NULL, NULL, 0, 0, &b, &info, &err), &err);
    CHECK_STR(info.kind, "spm");
    CHECK_STR(info.source, "tokenizer.json");
    CHECK_EQ_U64(info.n_tokens, 14);
    CHECK_EQ_U64(info.bos, 1);             /* from the post-processor template */
    CHECK_EQ_U64(info.eos, CVT_TOK_NONE);  /* nothing names it */
    trit_kvset *s = tt_parse(b);
    char buf[64];
    CHECK_STR(tt_str(s, "tokenizer.ggml.model", buf, sizeof buf), "llama");
    CHECK_STR(tt_str(s, "tokenizer.ggml.pre", buf, sizeof buf), "default");
    static const int types[14] = {2, 3, 3, 6, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    /* merge rank r scores -r; tokens no merge makes score -(3 merges + 1); others 0 */
    static const double scores[14] = {0, 0, 0, 0, -4, -4, -4, -4, 0, -1, -2, -4, -4, -4};
    for (uint32_t i = 0; i < 14; i++) {
        CHECK_EQ_INT(tt_arr_i64(s, "tokenizer.ggml.token_type", i), types[i]);
        CHECK(tt_arr_f64(s, "tokenizer.ggml.scores", i) == scores[i]);
    }
    CHECK_STR(tt_arr_str(s, "tokenizer.ggml.tokens", 10, buf, sizeof buf), SP "the");
    CHECK_EQ_U64(tt_count(s, "tokenizer.ggml.merges"), 0);   /* "llama" carries scores instead */
    CHECK_EQ_U64(tt_u64(s, "tokenizer.ggml.unknown_token_id"), 0);
    CHECK_EQ_U64(tt_u64(s, "tokenizer.ggml.add_bos_token"), 1);
    CHECK_EQ_U64(tt_u64(s, "tokenizer.ggml.add_eos_token"), 0);
    CHECK_EQ_U64(tt_u64(s, "tokenizer.ggml.add_space_prefix"), 1);
    trit_kvset_free(s);
    trit_kvbuf_free(b);
}

TEST(cvt_tok_json_unigram)
{
    const char *json =
        "{\"added_tokens\": [{\"id\": 6, \"content\": \"<pad>\", \"special\": false}],"
        " \"pre_tokenizer\": {\"type\": \"Metaspace\", \"replacement\": \"" SP "\", \"prepend_scheme\": \"never\"},"
        " \"model\": {\"type\": \"Unigram\", \"unk_id\": 0, \"byte_fallback\": true, \"vocab\": ["
        "  [\"<unk>\", 0.0], [\"<s>\", 0.0], [\"</s>\", 0.0], [\"<0x41>\", 0.0], [\"" SP "a\", -1.5],"
        "  [\"b\", -2.25]]}}";
    trit_kvbuf *b;
    trit_err err;
    cvt_tok_info info;
    CHECK_OK_E(tt_convert(json, NULL, NULL, NULL, 0, 0, &b, &info, &err), &err);
    CHECK_EQ_U64(info.n_tokens, 7);
    trit_kvset *s = tt_parse(b);
    static const int types[7] = {2, 1, 1, 6, 1, 1, 3};   /* "<pad>" looks special */
    static const double scores[7] = {0, 0, 0, 0, -1.5, -2.25, -1000};
    for (uint32_t i = 0; i < 7; i++) {
        CHECK_EQ_INT(tt_arr_i64(s, "tokenizer.ggml.token_type", i), types[i]);
        CHECK(tt_arr_f64(s, "tokenizer.ggml.scores", i) == scores[i]);
    }
    CHECK_EQ_U64(tt_u64(s, "tokenizer.ggml.unknown_token_id"), 0);
    CHECK_EQ_U64(tt_u64(s, "tokenizer.ggml.add_space_prefix"), 0);   /* prepend_scheme never */
    trit_kvset_free(s);
    trit_kvbuf_free(b);
}

/* ---- byte-level BPE: pre-tokenizers and merges ------------------------------------------------ */

/* A byte-level BPE tokenizer.json around the given pre_tokenizer (consumed) and merges. */
static char *bpe_doc(cJSON *pre, const char *merges_json)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddItemToObject(root, "pre_tokenizer", pre);
    cJSON *model = cJSON_Parse("{\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2, \"c\": 3, "
                               "\"a b\": 4, \"a bc\": 5, \"\xc4\xa0\": 6, \"\xc4\xa0" "a\": 7}}");
    cJSON_AddItemToObject(model, "merges", cJSON_Parse(merges_json));
    cJSON_AddItemToObject(root, "model", model);
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
}

/* Sequence [Split(r) for each non-NULL regex ..., ByteLevel(use_regex: false)]. */
static cJSON *splits_bytelevel(const char *r1, const char *r2)
{
    cJSON *seq = cJSON_CreateObject();
    cJSON_AddStringToObject(seq, "type", "Sequence");
    cJSON *arr = cJSON_AddArrayToObject(seq, "pretokenizers");
    const char *rs[2] = {r1, r2};
    for (int i = 0; i < 2 && rs[i]; i++) {
        cJSON *sp = cJSON_CreateObject();
        cJSON_AddStringToObject(sp, "type", "Split");
        cJSON *pat = cJSON_AddObjectToObject(sp, "pattern");
        cJSON_AddStringToObject(pat, "Regex", rs[i]);
        cJSON_AddStringToObject(sp, "behavior", "Isolated");
        cJSON_AddItemToArray(arr, sp);
    }
    cJSON_AddItemToArray(arr, cJSON_Parse("{\"type\": \"ByteLevel\", \"add_prefix_space\": false, "
                                          "\"trim_offsets\": true, \"use_regex\": false}"));
    return seq;
}

static cJSON *split_bytelevel(const char *regex) { return splits_bytelevel(regex, NULL); }

static void check_pre(cJSON *pre, int unknown_ok, int want_rc, const char *want_pre)
{
    char *doc = bpe_doc(pre, "[\"a b\"]");
    trit_kvbuf *b;
    trit_err err;
    cvt_tok_info info;
    int const rc = tt_convert(doc, NULL, NULL, NULL, 0, unknown_ok, &b, &info, &err);
    CHECK_EQ_INT(rc, want_rc);
    if (rc == TRIT_OK) {
        CHECK_STR(info.pre, want_pre);
        CHECK_STR(info.kind, "bpe");
    } else {
        CHECK_STR(err.where, "pre_tokenizer");
        CHECK(strstr(err.msg, want_pre) != NULL);
    }
    if (rc != want_rc) {
        char m[512];
        test_fail_(__FILE__, __LINE__, "want %s: %s", want_pre, trit_err_format(&err, m, sizeof m));
    }
    trit_kvbuf_free(b);
    free(doc);
}

TEST(cvt_tok_json_pre_tokenizers)
{
    /* the regexes as published in Meta-Llama-3 and Qwen2 tokenizer.json files */
    check_pre(split_bytelevel("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}|"
                              " ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"),
              0, TRIT_OK, "llama-bpe");
    check_pre(split_bytelevel("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}|"
                              " ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"),
              0, TRIT_OK, "qwen2");
    /* the same Qwen2 regex with literal CR/LF characters instead of the escapes */
    check_pre(split_bytelevel("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}|"
                              " ?[^\\s\\p{L}\\p{N}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"),
              0, TRIT_OK, "qwen2");
    check_pre(cJSON_Parse("{\"type\": \"ByteLevel\", \"add_prefix_space\": false}"), 0, TRIT_OK, "gpt-2");
    check_pre(cJSON_Parse("{\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Digits\", "
                          "\"individual_digits\": true}, {\"type\": \"ByteLevel\", \"use_regex\": true}]}"),
              0, TRIT_OK, "starcoder");
    /* DeepSeek-V3: matched by its first two splits */
    cJSON *ds = splits_bytelevel("\\p{N}{1,3}", "[\xe4\xb8\x80-\xe9\xbe\xa5\xe3\x81\x80-\xe3\x82\x9f"
                                                 "\xe3\x82\xa0-\xe3\x83\xbf]+");
    check_pre(ds, 0, TRIT_OK, "deepseek-v3");
    /* ByteLevel without its regex and no Split: nothing splits words, unknown */
    check_pre(cJSON_Parse("{\"type\": \"ByteLevel\", \"use_regex\": false}"), 0, TRIT_E_UNSUPPORTED, "ByteLevel");
    /* an unknown regex is named in the error, or becomes "default" with a warning when allowed */
    check_pre(split_bytelevel("\\w+|\\s+"), 0, TRIT_E_UNSUPPORTED, "\\w+|\\s+");
    char *doc = bpe_doc(split_bytelevel("\\w+|\\s+"), "[\"a b\"]");
    trit_kvbuf *b;
    trit_err err;
    cvt_tok_info info;
    CHECK_OK_E(tt_convert(doc, NULL, NULL, NULL, 0, 1, &b, &info, &err), &err);
    CHECK_STR(info.pre, "default");
    CHECK_EQ_U64(info.n_warnings, 1);
    CHECK(strstr(info.warning, "not recognised") != NULL);
    trit_kvbuf_free(b);
    free(doc);
}

TEST(cvt_tok_json_merge_forms)
{
    cJSON *pre = cJSON_Parse("{\"type\": \"ByteLevel\"}");
    /* array form (transformers >= 4.45): a space inside a part becomes U+0120 as llama.cpp does */
    char *doc = bpe_doc(pre, "[[\"a\", \"b\"], [\"a b\", \"c\"], [\"\xc4\xa0\", \"a\"]]");
    trit_kvbuf *b;
    trit_err err;
    cvt_tok_info info;
    CHECK_OK_E(tt_convert(doc, NULL, NULL, NULL, 0, 0, &b, &info, &err), &err);
    CHECK_EQ_U64(info.n_merges, 3);
    trit_kvset *s = tt_parse(b);
    char buf[64];
    CHECK_STR(tt_arr_str(s, "tokenizer.ggml.merges", 0, buf, sizeof buf), "a b");
    CHECK_STR(tt_arr_str(s, "tokenizer.ggml.merges", 1, buf, sizeof buf), "a\xc4\xa0" "b c");
    CHECK_STR(tt_arr_str(s, "tokenizer.ggml.merges", 2, buf, sizeof buf), "\xc4\xa0 a");
    trit_kvset_free(s);
    trit_kvbuf_free(b);
    free(doc);
}

/* ---- tokenizer_config.json ---------------------------------------------------------------------- */

static const char *const byte_bpe_json =
    "{\"added_tokens\": [{\"id\": 4, \"content\": \"<|bos|>\", \"special\": true},"
    "                    {\"id\": 5, \"content\": \"<|eos|>\", \"special\": true},"
    "                    {\"id\": 6, \"content\": \"hello\", \"special\": false}],"
    " \"pre_tokenizer\": {\"type\": \"ByteLevel\"},"
    " \"post_processor\": {\"type\": \"Sequence\", \"processors\": [{\"type\": \"ByteLevel\"},"
    "  {\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \"<|bos|>\"}},"
    "   {\"Sequence\": {\"id\": \"A\"}}, {\"SpecialToken\": {\"id\": \"<|eos|>\"}}]}]},"
    " \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2, \"c\": 3}, \"merges\": [\"a b\"]}}";

TEST(cvt_tok_json_config_specials_and_templates)
{
    const char *tc =
        "{\"bos_token\": {\"__type\": \"AddedToken\", \"content\": \"<|bos|>\"}, \"eos_token\": \"<|eos|>\","
        " \"pad_token\": \"<nope>\", \"unk_token\": null,"
        " \"chat_template\": [{\"name\": \"default\", \"template\": \"D\"}, {\"name\": \"tool use\", \"template\": \"T\"},"
        "                     {\"name\": \"rag\", \"template\": \"R\"}, {\"name\": \"tool-use\", \"template\": \"X\"}]}";
    const char *cfg = "{\"pad_token_id\": 3, \"eos_token_id\": [5, 6], \"sep_token_id\": 99}";
    trit_kvbuf *b;
    trit_err err;
    cvt_tok_info info;
    CHECK_OK_E(tt_convert(byte_bpe_json, NULL, tc, cfg, 0, 0, &b, &info, &err), &err);
    CHECK_EQ_U64(info.bos, 4);
    CHECK_EQ_U64(info.eos, 5);
    /* "<nope>" is not a token; sep 99 is out of range; "tool-use" clashes with "tool use" */
    CHECK_EQ_U64(info.n_warnings, 3);
    CHECK(strstr(info.warning, "sep_token_id 99") != NULL);   /* the first one */
    trit_kvset *s = tt_parse(b);
    char buf[64];
    CHECK_EQ_INT(tt_arr_i64(s, "tokenizer.ggml.token_type", 4), 3);
    CHECK_EQ_INT(tt_arr_i64(s, "tokenizer.ggml.token_type", 6), 4);
    CHECK_EQ_INT(tt_arr_i64(s, "tokenizer.ggml.token_type", 0), 1);
    CHECK_EQ_U64(tt_u64(s, "tokenizer.ggml.padding_token_id"), 3);          /* config.json fallback */
    CHECK_EQ_U64(tt_u64(s, "tokenizer.ggml.seperator_token_id"), UINT64_MAX);
    CHECK_EQ_U64(tt_u64(s, "tokenizer.ggml.add_bos_token"), 1);             /* template starts with bos */
    CHECK_EQ_U64(tt_u64(s, "tokenizer.ggml.add_eos_token"), 1);             /* ... and ends with eos */
    CHECK_STR(tt_str(s, "tokenizer.chat_template", buf, sizeof buf), "D");
    CHECK_STR(tt_str(s, "tokenizer.chat_template.tool_use", buf, sizeof buf), "T");
    CHECK_STR(tt_str(s, "tokenizer.chat_template.rag", buf, sizeof buf), "R");
    CHECK_EQ_U64(tt_count(s, "tokenizer.chat_templates"), 2);
    CHECK_STR(tt_arr_str(s, "tokenizer.chat_templates", 1, buf, sizeof buf), "rag");
    trit_kvset_free(s);
    trit_kvbuf_free(b);

    /* tokenizer_config.json booleans win over the template */
    CHECK_OK_E(tt_convert(byte_bpe_json, NULL, "{\"add_bos_token\": false, \"chat_template\": \"C\"}", NULL, 0, 0,
                          &b, &info, &err), &err);
    s = tt_parse(b);
    CHECK_EQ_U64(tt_u64(s, "tokenizer.ggml.add_bos_token"), 0);
    CHECK_EQ_U64(tt_u64(s, "tokenizer.ggml.add_eos_token"), 1);
    CHECK_STR(tt_str(s, "tokenizer.chat_template", buf, sizeof buf), "C");
    trit_kvset_free(s);
    trit_kvbuf_free(b);
}

/* ---- malformed ----------------------------------------------------------------------------------- */

typedef struct json_case {
    const char *name;
    const char *json;
    int code;
    const char *where;        /* err.where (NULL: not checked) */
    const char *msg;          /* substring of err.msg */
    int has_offset;           /* a JSON syntax error carries a byte offset */
} json_case;

#define MODEL(v, m) "{\"pre_tokenizer\": {\"type\": \"ByteLevel\"}, \"model\": {\"type\": \"BPE\", \"vocab\": " v \
                    ", \"merges\": " m "}}"

TEST(cvt_tok_json_malformed)
{
    static const json_case cases[] = {
        {"gap in ids", MODEL("{\"a\": 0, \"b\": 2}", "[]"), TRIT_E_CORRUPT, "model.vocab", "go up to 2", 0},
        {"shared id", MODEL("{\"a\": 0, \"b\": 0}", "[]"), TRIT_E_CORRUPT, "model.vocab 'b'", "also token 'a'", 0},
        {"token twice", MODEL("{\"a\": 0, \"a\": 1}", "[]"), TRIT_E_CORRUPT, "vocabulary", "appears twice (ids 0 and 1)", 0},
        {"fractional id", MODEL("{\"a\": 0.5}", "[]"), TRIT_E_CORRUPT, "model.vocab 'a'", "integer", 0},
        {"negative id", MODEL("{\"a\": -1}", "[]"), TRIT_E_CORRUPT, "model.vocab 'a'", "integer", 0},
        {"huge id", MODEL("{\"a\": 4294967296}", "[]"), TRIT_E_CORRUPT, "model.vocab 'a'", "integer", 0},
        {"empty token", MODEL("{\"\": 0}", "[]"), TRIT_E_CORRUPT, "model.vocab ''", "empty", 0},
        {"empty vocab", MODEL("{}", "[]"), TRIT_E_CORRUPT, "model.vocab", "empty", 0},
        {"merge of a non-token", MODEL("{\"a\": 0, \"ab\": 1}", "[\"a z\"]"), TRIT_E_CORRUPT, "model.merges[0]",
         "'z' is not a token", 0},
        {"merge result not a token", MODEL("{\"a\": 0, \"b\": 1}", "[\"a b\"]"), TRIT_E_CORRUPT, "model.merges[0]",
         "'ab' is not a token", 0},
        {"merge without a space", MODEL("{\"a\": 0}", "[\"a\"]"), TRIT_E_CORRUPT, "model.merges[0]", "left right", 0},
        {"merge starting with a space", MODEL("{\"a\": 0}", "[\" a\"]"), TRIT_E_CORRUPT, "model.merges[0]",
         "left right", 0},
        {"merge triple", MODEL("{\"a\": 0}", "[[\"a\", \"a\", \"a\"]]"), TRIT_E_CORRUPT, "model.merges[0]", "pair", 0},
        {"merges not an array", MODEL("{\"a\": 0}", "{}"), TRIT_E_CORRUPT, "model.merges", "not an array", 0},
        {"vocab not an object", MODEL("[]", "[]"), TRIT_E_CORRUPT, "model.vocab", "not an object", 0},
        {"WordPiece", "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0}}}", TRIT_E_UNSUPPORTED, "model.type",
         "WordPiece", 0},
        {"plain BPE", "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}", TRIT_E_UNSUPPORTED,
         "model", "neither", 0},
        {"no model", "{\"version\": \"1.0\"}", TRIT_E_CORRUPT, "model", "missing", 0},
        {"added token without content",
         "{\"added_tokens\": [{\"id\": 1}], \"pre_tokenizer\": {\"type\": \"ByteLevel\"},"
         " \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}",
         TRIT_E_CORRUPT, "added_tokens[0]", "no content", 0},
        {"two added tokens with one id",
         "{\"added_tokens\": [{\"id\": 1, \"content\": \"x\"}, {\"id\": 1, \"content\": \"y\"}],"
         " \"pre_tokenizer\": {\"type\": \"ByteLevel\"}, \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}}}",
         TRIT_E_CORRUPT, "added_tokens", "id 1", 0},
        {"unigram piece not a pair", "{\"model\": {\"type\": \"Unigram\", \"vocab\": [[\"a\", 0], [\"b\"]]}}",
         TRIT_E_CORRUPT, "model.vocab[1]", "pair", 0},
        {"syntax error", "{\"model\": {\"type\": \"BPE\",, }}", TRIT_E_CORRUPT, NULL, "", 1},
        {"not terminated", "{\"model\": {\"type\": \"BPE\"", TRIT_E_CORRUPT, NULL, "", 1},
        {"nesting bomb",
         "{\"x\": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]"
         "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
         TRIT_E_LIMIT, NULL, "nesting", 1},
        {"invalid UTF-8", "{\"model\": {\"type\": \"B\xff\"}}", TRIT_E_CORRUPT, NULL, "UTF-8", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_case const *c = &cases[i];
        trit_kvbuf *b;
        trit_err err;
        int const rc = tt_convert(c->json, NULL, NULL, NULL, 0, 0, &b, NULL, &err);
        int const ok = rc == c->code && (!c->where || !strcmp(err.where, c->where)) && strstr(err.msg, c->msg) &&
                       !strcmp(err.file, "tokenizer.json") &&
                       (c->has_offset ? err.offset != TRIT_NO_OFFSET : err.offset == TRIT_NO_OFFSET);
        if (!ok) {
            char m[512];
            test_fail_(__FILE__, __LINE__, "case '%s': got %d (%s), want %d '%s' '%s'", c->name, rc,
                       trit_err_format(&err, m, sizeof m), c->code, c->where ? c->where : "", c->msg);
        }
        trit_kvbuf_free(b);
    }
}

TEST(cvt_tok_json_added_tokens_fill_and_extend)
{
    /* an added token fills the hole in model.vocab and another extends it */
    const char *json =
        "{\"added_tokens\": [{\"id\": 3, \"content\": \"<|x|>\"}, {\"id\": 1, \"content\": \"mid\"}],"
        " \"pre_tokenizer\": {\"type\": \"ByteLevel\"},"
        " \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"c\": 2}, \"merges\": null}}";
    trit_kvbuf *b;
    trit_err err;
    cvt_tok_info info;
    CHECK_OK_E(tt_convert(json, NULL, NULL, NULL, 0, 0, &b, &info, &err), &err);
    CHECK_EQ_U64(info.n_tokens, 4);
    CHECK_EQ_U64(info.n_merges, 0);
    trit_kvset *s = tt_parse(b);
    char buf[64];
    CHECK_STR(tt_arr_str(s, "tokenizer.ggml.tokens", 1, buf, sizeof buf), "mid");
    CHECK_EQ_INT(tt_arr_i64(s, "tokenizer.ggml.token_type", 1), 4);
    CHECK_EQ_INT(tt_arr_i64(s, "tokenizer.ggml.token_type", 3), 3);
    CHECK_EQ_U64(tt_count(s, "tokenizer.ggml.merges"), 0);
    trit_kvset_free(s);
    trit_kvbuf_free(b);
}
