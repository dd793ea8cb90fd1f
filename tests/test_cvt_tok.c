/* test_cvt_tok.c - the tokenizer converter end to end: trit-gen's tokenizer.json (byte-level
 * BPE) through cvt_tok_from_hf_dir, every llama.cpp vocab GGUF fixture (and trit-gen's GGUFs)
 * copied through cvt_tok_from_gguf and compared key by key, element by element, with the
 * source; every GGUF value type kept; file-level refusals. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src_gguf.h"
#include "cvt_tok.h"
#include "gen/gen.h"
#include "test.h"
#include "test_cvt_gguf_build.h"
#include "test_cvt_tok.h"

/* Generate a safetensors layout with vocabulary n_vocab into tmp/<name>; returns the dir. */
static const char *gen_dir(uint32_t n_vocab, const char *name, char *dir, size_t cap)
{
    gen_opts o;
    trit_err err;
    gen_opts_default(&o, GEN_LAYOUT_LATENT);
    o.n_vocab = n_vocab;
    o.overwrite = 1;
    snprintf(dir, cap, "%s/%s", test_tmpdir(), name);
    CHECK_OK_E(gen_write(&o, dir, &err), &err);
    return dir;
}

static void check_gen_vocab(uint32_t V)
{
    char dir[4096], name[32], tj[4200], cj[4200];
    snprintf(name, sizeof name, "tok-gen-%u", V);
    gen_dir(V, name, dir, sizeof dir);
    snprintf(tj, sizeof tj, "%s/tokenizer.json", dir);
    snprintf(cj, sizeof cj, "%s/config.json", dir);
    cvt_tok_opts opts = {0};
    opts.config_json = cj;
    trit_err err;
    cvt_tok_info info;
    trit_kvbuf *b = trit_kvbuf_new();
    CHECK_OK_E(cvt_tok_from_hf_dir(tj, NULL, NULL, &opts, b, &info, &err), &err);
    CHECK_STR(info.kind, "bpe");
    CHECK_STR(info.model, "gpt2");
    CHECK_STR(info.pre, "gpt-2");
    CHECK_EQ_U64(info.n_tokens, V);
    CHECK_EQ_U64(info.bos, gen_tok_bos(V));
    CHECK_EQ_U64(info.eos, gen_tok_eos(V));
    CHECK_EQ_U64(info.n_warnings, 0);
    trit_kvset *s = tt_parse(b);
    char buf[128], want[64];
    CHECK_STR(tt_str(s, "tokenizer.ggml.model", buf, sizeof buf), "gpt2");
    CHECK_STR(tt_str(s, "tokenizer.ggml.pre", buf, sizeof buf), "gpt-2");
    CHECK_EQ_U64(tt_count(s, "tokenizer.ggml.tokens"), V);
    CHECK_EQ_U64(tt_count(s, "tokenizer.ggml.token_type"), V);
    CHECK_EQ_U64(tt_count(s, "tokenizer.ggml.scores"), 0);   /* gpt2 vocabularies have none */
    uint32_t const n_reg = V - gen_tok_n_special(V);
    for (uint32_t id = 0; id < V; id++) {
        gen_token(V, id, want, sizeof want);
        const char *got = tt_arr_str(s, "tokenizer.ggml.tokens", id, buf, sizeof buf);
        if (!got || strcmp(got, want)) {
            CHECK_STR(got, want);
            break;
        }
        CHECK_EQ_INT(tt_arr_i64(s, "tokenizer.ggml.token_type", id), id < n_reg ? 1 : 3);
    }
    CHECK_EQ_U64(tt_count(s, "tokenizer.ggml.merges"), n_reg - 256);
    for (uint32_t id = 256; id < n_reg; id++) {
        gen_token_merge(V, id, want, sizeof want);
        const char *got = tt_arr_str(s, "tokenizer.ggml.merges", id - 256, buf, sizeof buf);
        if (!got || strcmp(got, want)) {
            CHECK_STR(got, want);
            break;
        }
    }
    CHECK_EQ_U64(tt_u64(s, "tokenizer.ggml.bos_token_id"), gen_tok_bos(V));
    CHECK_EQ_U64(tt_u64(s, "tokenizer.ggml.eos_token_id"), gen_tok_eos(V));
    CHECK_EQ_U64(tt_u64(s, "tokenizer.ggml.add_bos_token"), UINT64_MAX);   /* nothing says */
    trit_kvset_free(s);
    trit_kvbuf_free(b);
}

TEST(cvt_tok_gen_tokenizer_json)
{
    check_gen_vocab(384);    /* 2 special tokens */
    check_gen_vocab(4200);   /* 256 special tokens, merged words of 3 letters */
}

TEST(cvt_tok_gen_pad_to_model_vocab)
{
    char dir[4096], tj[4200];
    gen_dir(384, "tok-gen-pad", dir, sizeof dir);
    snprintf(tj, sizeof tj, "%s/tokenizer.json", dir);
    cvt_tok_opts opts = {0};
    opts.pad_to = 400;
    trit_err err;
    cvt_tok_info info;
    trit_kvbuf *b = trit_kvbuf_new();
    CHECK_OK_E(cvt_tok_from_hf_dir(tj, NULL, NULL, &opts, b, &info, &err), &err);
    CHECK_EQ_U64(info.n_tokens, 400);
    CHECK_EQ_U64(info.bos, CVT_TOK_NONE);   /* no config.json given */
    trit_kvset *s = tt_parse(b);
    char buf[64];
    CHECK_STR(tt_arr_str(s, "tokenizer.ggml.tokens", 399, buf, sizeof buf), "[PAD399]");
    CHECK_EQ_INT(tt_arr_i64(s, "tokenizer.ggml.token_type", 384), 5);
    CHECK_EQ_INT(tt_arr_i64(s, "tokenizer.ggml.token_type", 383), 3);
    trit_kvset_free(s);
    trit_kvbuf_free(b);
    /* a tokenizer larger than the embedding is refused */
    opts.pad_to = 383;
    b = trit_kvbuf_new();
    CHECK_EQ_INT(cvt_tok_from_hf_dir(tj, NULL, NULL, &opts, b, NULL, &err), TRIT_E_CORRUPT);
    CHECK(strstr(err.msg, "384 tokens") != NULL);
    trit_kvbuf_free(b);
}

/* ---- GGUF ----------------------------------------------------------------------------------- */

static uint32_t expect_type(uint32_t gt)
{
    static const uint32_t map[] = {TRIT_KV_U8, TRIT_KV_I8, TRIT_KV_U16, TRIT_KV_I16, TRIT_KV_U32, TRIT_KV_I32,
                                   TRIT_KV_F32, TRIT_KV_BOOL, TRIT_KV_STRING, TRIT_KV_ARRAY, TRIT_KV_U64,
                                   TRIT_KV_I64, TRIT_KV_F64};
    return gt < sizeof map / sizeof *map ? map[gt] : 99;
}

static int is_float(uint32_t gt) { return gt == SRC_GGUF_FLOAT32 || gt == SRC_GGUF_FLOAT64; }

/* Every tokenizer.* KV of g equals its copy in s; returns how many were compared. */
static uint32_t compare_gguf(const src_gguf *g, const trit_kvset *s, const char *file)
{
    uint32_t n = 0;
    for (uint64_t i = 0; i < src_gguf_n_kv(g); i++) {
        const char *key = src_gguf_kv_key(g, i);
        if (strncmp(key, "tokenizer.", 10)) continue;
        n++;
        int64_t const k = trit_kvset_find(s, key);
        if (k < 0) {
            test_fail_(__FILE__, __LINE__, "%s: key %s not copied", file, key);
            continue;
        }
        uint32_t get, et;
        uint64_t gcount, tcount;
        uint32_t const gt = src_gguf_kv_type(g, i, &get, &gcount);
        uint32_t const tt = trit_kvset_type(s, (uint32_t)k, &et, &tcount);
        CHECK_EQ_U64(tt, expect_type(gt));
        if (gt == SRC_GGUF_STRING) {
            const char *a, *b;
            uint64_t na, nb;
            CHECK_EQ_INT(src_gguf_kv_str(g, i, &a, &na), TRIT_OK);
            CHECK_EQ_INT(trit_kvset_str(s, (uint32_t)k, &b, &nb), TRIT_OK);
            CHECK(na == nb && memcmp(a, b, (size_t)na) == 0);
        } else if (gt != SRC_GGUF_ARRAY) {
            if (is_float(gt)) {
                double a, b;
                CHECK_EQ_INT(src_gguf_kv_f64(g, i, &a), TRIT_OK);
                CHECK_EQ_INT(trit_kvset_f64(s, (uint32_t)k, &b), TRIT_OK);
                CHECK(a == b);
            } else if (gt == SRC_GGUF_BOOL || gt == SRC_GGUF_UINT64) {
                uint64_t a, b;
                CHECK_EQ_INT(src_gguf_kv_u64(g, i, &a), TRIT_OK);
                CHECK_EQ_INT(trit_kvset_u64(s, (uint32_t)k, &b), TRIT_OK);
                CHECK_EQ_U64(a, b);
            } else {
                int64_t a, b;
                CHECK_EQ_INT(src_gguf_kv_i64(g, i, &a), TRIT_OK);
                CHECK_EQ_INT(trit_kvset_i64(s, (uint32_t)k, &b), TRIT_OK);
                CHECK_EQ_INT(a, b);
            }
        } else {
            CHECK_EQ_U64(et, expect_type(get));
            CHECK_EQ_U64(tcount, gcount);
            uint64_t bad = 0;
            for (uint64_t j = 0; j < gcount && bad < 3; j++) {
                int same;
                if (get == SRC_GGUF_STRING) {
                    const char *a = NULL, *b = NULL;
                    uint64_t na = 0, nb = 1;
                    same = src_gguf_kv_arr_str(g, i, j, &a, &na) == TRIT_OK &&
                           trit_kvset_arr_str(s, (uint32_t)k, j, &b, &nb) == TRIT_OK && na == nb &&
                           memcmp(a, b, (size_t)na) == 0;
                } else if (is_float(get)) {
                    double a = 0, b = 1;
                    same = src_gguf_kv_arr_f64(g, i, j, &a) == TRIT_OK &&
                           trit_kvset_arr_f64(s, (uint32_t)k, j, &b) == TRIT_OK && a == b;
                } else if (get == SRC_GGUF_BOOL || get == SRC_GGUF_UINT64) {
                    uint64_t a = 0;
                    int64_t b = 1;   /* (no tokenizer array holds values above 2^63) */
                    same = src_gguf_kv_arr_u64(g, i, j, &a) == TRIT_OK &&
                           trit_kvset_arr_i64(s, (uint32_t)k, j, &b) == TRIT_OK && a == (uint64_t)b;
                } else {
                    int64_t a = 0, b = 1;
                    same = src_gguf_kv_arr_i64(g, i, j, &a) == TRIT_OK &&
                           trit_kvset_arr_i64(s, (uint32_t)k, j, &b) == TRIT_OK && a == b;
                }
                if (!same) {
                    test_fail_(__FILE__, __LINE__, "%s: %s[%llu] differs", file, key, (unsigned long long)j);
                    bad++;
                }
            }
        }
    }
    CHECK_EQ_U64(trit_kvset_n(s), n);   /* nothing but the tokenizer keys */
    return n;
}

static void copy_gguf(const char *path, const char *name, int *tokens_seen)
{
    trit_err err;
    src_gguf *g = NULL;
    CHECK_OK_E(src_gguf_open(path, NULL, &g, &err), &err);
    if (!g) return;
    trit_kvbuf *b = trit_kvbuf_new();
    cvt_tok_info info;
    CHECK_OK_E(cvt_tok_from_gguf(g, b, &info, &err), &err);
    CHECK_STR(info.kind, "gguf");
    CHECK_EQ_U64(info.n_skipped, 0);
    trit_kvset *s = tt_parse(b);
    if (s) {
        uint32_t const n = compare_gguf(g, s, name);
        CHECK(n >= 3);
        CHECK_EQ_U64(info.n_tokens, tt_count(s, "tokenizer.ggml.tokens"));
        CHECK_EQ_U64(info.n_merges, tt_count(s, "tokenizer.ggml.merges"));
        char m[32];
        const char *model = tt_str(s, "tokenizer.ggml.model", m, sizeof m);
        CHECK_STR(info.model, model ? model : "");
        uint64_t const bos = tt_u64(s, "tokenizer.ggml.bos_token_id");
        CHECK_EQ_U64(info.bos, bos < info.n_tokens ? bos : CVT_TOK_NONE);
        *tokens_seen += (int)info.n_tokens > 0;
    }
    trit_kvset_free(s);
    trit_kvbuf_free(b);
    src_gguf_close(g);
}

TEST(cvt_tok_gguf_fixture_vocabs)
{
    const char *fx = test_fixtures();
    if (!fx) SKIP("no fixtures");
    static const char *const files[] = {
        "bert-bge", "command-r", "gpt-2", "llama-bpe", "llama-spm", "nomic-bert-moe", "phi-3", "qwen2", "qwen35"};
    int seen = 0;
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/gguf/llamacpp-vocab/ggml-vocab-%s.gguf", fx, files[i]);
        copy_gguf(path, files[i], &seen);
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/gguf/stories260K.gguf", fx);
    copy_gguf(path, "stories260K", &seen);
    CHECK_EQ_INT(seen, 10);
}

TEST(cvt_tok_gguf_gen_and_no_vocab)
{
    gen_opts o;
    trit_err err;
    gen_opts_default(&o, GEN_LAYOUT_GGUF);
    o.overwrite = 1;
    char path[4096];
    snprintf(path, sizeof path, "%s/tok-gen.gguf", test_tmpdir());
    CHECK_OK_E(gen_write(&o, path, &err), &err);
    int seen = 0;
    copy_gguf(path, "gen", &seen);
    CHECK_EQ_INT(seen, 1);

    /* a GGUF with no tokenizer.ggml.tokens: NOTFOUND, and nothing written */
    static const uint8_t empty[] = {'G', 'G', 'U', 'F', 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    src_gguf *g = NULL;
    CHECK_OK_E(src_gguf_open_mem(empty, sizeof empty, "empty.gguf", &g, &err), &err);
    if (g) {
        trit_kvbuf *b = trit_kvbuf_new();
        CHECK_EQ_INT(cvt_tok_from_gguf(g, b, NULL, &err), TRIT_E_NOTFOUND);
        CHECK_STR(err.file, "empty.gguf");
        CHECK_EQ_U64(trit_kvbuf_count(b), 0);
        trit_kvbuf_free(b);
        src_gguf_close(g);
    }
}

/* ---- files ---------------------------------------------------------------------------------- */

TEST(cvt_tok_file_refusals)
{
    trit_err err;
    trit_kvbuf *b = trit_kvbuf_new();
    /* nothing to read a vocabulary from */
    CHECK_EQ_INT(cvt_tok_from_hf_dir(NULL, NULL, NULL, NULL, b, NULL, &err), TRIT_E_NOTFOUND);
    /* a missing file: IO, named */
    char missing[4096];
    snprintf(missing, sizeof missing, "%s/no-such-tokenizer.json", test_tmpdir());
    CHECK_EQ_INT(cvt_tok_from_hf_dir(missing, NULL, NULL, NULL, b, NULL, &err), TRIT_E_IO);
    CHECK_STR(err.file, missing);
    /* a directory (not a regular file) */
    CHECK_EQ_INT(cvt_tok_from_hf_dir(test_tmpdir(), NULL, NULL, NULL, b, NULL, &err), TRIT_E_IO);
    CHECK(strstr(err.msg, "regular") != NULL);
    /* a FIFO is refused without blocking */
    char fifo[4096];
    snprintf(fifo, sizeof fifo, "%s/tok.fifo", test_tmpdir());
    unlink(fifo);
    if (mkfifo(fifo, 0600) == 0) {
        CHECK_EQ_INT(cvt_tok_from_hf_dir(NULL, fifo, NULL, NULL, b, NULL, &err), TRIT_E_IO);
        unlink(fifo);
    }
    /* over the size cap */
    uint8_t *buf;
    size_t len;
    char small[4096];
    snprintf(small, sizeof small, "%s/tok-small.json", test_tmpdir());
    CHECK_EQ_INT(test_write_file(small, "{\"a\": 1}", 8), 0);
    CHECK_EQ_INT(cvt_tok_load_file(small, 7, &buf, &len, &err), TRIT_E_LIMIT);
    CHECK_OK_E(cvt_tok_load_file(small, 8, &buf, &len, &err), &err);
    CHECK(len == 8 && memcmp(buf, "{\"a\": 1}", 8) == 0);
    free(buf);
    /* an empty tokenizer.json: a JSON error naming the file */
    char empty[4096];
    snprintf(empty, sizeof empty, "%s/tok-empty.json", test_tmpdir());
    CHECK_EQ_INT(test_write_file(empty, "", 0), 0);
    CHECK_EQ_INT(cvt_tok_from_hf_dir(empty, NULL, NULL, NULL, b, NULL, &err), TRIT_E_CORRUPT);
    CHECK_STR(err.file, empty);
    trit_kvbuf_free(b);
}

/* ---- GGUF value types -------------------------------------------------------------------------- */


/* A vocab-only GGUF with a key of every scalar type, a numeric array and a nested array. When
 * n_scores != 3 the scores array does not match the 3 tokens; *scores_off receives its record. */
static void build_typed_gguf(tg_buf *b, uint64_t n_scores, size_t *scores_off)
{
    tg_header(b, 3, 0, 15);
    tg_kv_str(b, "general.name", "typed");
    tg_kv_str(b, "tokenizer.ggml.model", "llama");
    tg_kv(b, "tokenizer.ggml.tokens", SRC_GGUF_ARRAY);
    tg_u32(b, SRC_GGUF_STRING);
    tg_u64(b, 3);
    tg_str(b, "a");
    tg_str(b, "b\xe2\x96\x81");
    tg_str(b, "<s>");
    *scores_off = b->len;
    tg_kv(b, "tokenizer.ggml.scores", SRC_GGUF_ARRAY);
    tg_u32(b, SRC_GGUF_FLOAT32);
    tg_u64(b, n_scores);
    for (uint64_t i = 0; i < n_scores; i++) tg_f32(b, -0.5f * (float)i);
    tg_kv(b, "tokenizer.x.u8", SRC_GGUF_UINT8);
    tg_u8(b, 200);
    tg_kv(b, "tokenizer.x.i8", SRC_GGUF_INT8);
    tg_u8(b, (uint8_t)-3);
    tg_kv(b, "tokenizer.x.u16", SRC_GGUF_UINT16);
    tg_u16(b, 65535);
    tg_kv(b, "tokenizer.x.i16", SRC_GGUF_INT16);
    tg_u16(b, (uint16_t)-300);
    tg_kv(b, "tokenizer.x.i64", SRC_GGUF_INT64);
    tg_u64(b, (uint64_t)-5000000000000ll);
    tg_kv(b, "tokenizer.x.u64", SRC_GGUF_UINT64);
    tg_u64(b, (1ull << 63) + 5);
    tg_kv(b, "tokenizer.x.f64", SRC_GGUF_FLOAT64);
    tg_f64(b, 0.1);
    tg_kv(b, "tokenizer.x.bool", SRC_GGUF_BOOL);
    tg_u8(b, 1);
    tg_kv(b, "tokenizer.x.i16s", SRC_GGUF_ARRAY);
    tg_u32(b, SRC_GGUF_INT16);
    tg_u64(b, 2);
    tg_u16(b, (uint16_t)-1);
    tg_u16(b, 7);
    tg_kv(b, "tokenizer.x.nested", SRC_GGUF_ARRAY);
    tg_u32(b, SRC_GGUF_ARRAY);
    tg_u64(b, 1);
    tg_u32(b, SRC_GGUF_UINT8);
    tg_u64(b, 1);
    tg_u8(b, 9);
    tg_kv_u32(b, "tokenizer.ggml.bos_token_id", 2);
}

TEST(cvt_tok_gguf_value_types)
{
    tg_buf b = {0};
    size_t scores_off;
    build_typed_gguf(&b, 3, &scores_off);
    trit_err err;
    src_gguf *g = NULL;
    CHECK_OK_E(src_gguf_open_mem(b.p, b.len, "typed.gguf", &g, &err), &err);
    if (!g) {
        tg_free(&b);
        return;
    }
    trit_kvbuf *kb = trit_kvbuf_new();
    cvt_tok_info info;
    CHECK_OK_E(cvt_tok_from_gguf(g, kb, &info, &err), &err);
    CHECK_EQ_U64(info.n_skipped, 1);
    CHECK(strstr(info.warning, "tokenizer.x.nested") != NULL);
    CHECK_EQ_U64(info.bos, 2);
    CHECK_EQ_U64(info.eos, CVT_TOK_NONE);
    CHECK_STR(info.model, "llama");
    trit_kvset *s = tt_parse(kb);
    if (s) {
        static const struct { const char *key; uint32_t type; int64_t i; } want[] = {
            {"tokenizer.x.u8", TRIT_KV_U8, 200}, {"tokenizer.x.i8", TRIT_KV_I8, -3},
            {"tokenizer.x.u16", TRIT_KV_U16, 65535}, {"tokenizer.x.i16", TRIT_KV_I16, -300},
            {"tokenizer.x.i64", TRIT_KV_I64, -5000000000000ll}, {"tokenizer.x.bool", TRIT_KV_BOOL, 1}};
        for (size_t k = 0; k < sizeof want / sizeof *want; k++) {
            int64_t const i = trit_kvset_find(s, want[k].key);
            int64_t v = 0;
            CHECK(i >= 0);
            if (i < 0) continue;
            CHECK_EQ_U64(trit_kvset_type(s, (uint32_t)i, NULL, NULL), want[k].type);
            CHECK_EQ_INT(trit_kvset_i64(s, (uint32_t)i, &v), TRIT_OK);
            CHECK_EQ_INT(v, want[k].i);
        }
        CHECK_EQ_U64(tt_u64(s, "tokenizer.x.u64"), (1ull << 63) + 5);
        double d = 0;
        int64_t const fi = trit_kvset_find(s, "tokenizer.x.f64");
        CHECK(fi >= 0 && trit_kvset_type(s, (uint32_t)fi, NULL, NULL) == TRIT_KV_F64);
        CHECK(fi >= 0 && trit_kvset_f64(s, (uint32_t)fi, &d) == TRIT_OK && d == 0.1);
        uint32_t et = 0;
        uint64_t c = 0;
        int64_t const ai = trit_kvset_find(s, "tokenizer.x.i16s");
        CHECK(ai >= 0 && trit_kvset_type(s, (uint32_t)ai, &et, &c) == TRIT_KV_ARRAY && et == TRIT_KV_I16 && c == 2);
        CHECK_EQ_INT(tt_arr_i64(s, "tokenizer.x.i16s", 0), -1);
        CHECK_EQ_INT(tt_arr_i64(s, "tokenizer.x.i16s", 1), 7);
        CHECK_EQ_INT(trit_kvset_find(s, "tokenizer.x.nested"), -1);
        CHECK_EQ_INT(trit_kvset_find(s, "general.name"), -1);
        CHECK_EQ_U64(trit_kvset_n(s), 13);
    }
    trit_kvset_free(s);
    trit_kvbuf_free(kb);
    src_gguf_close(g);
    tg_free(&b);

    /* scores that do not match the tokens: refused at the scores record */
    tg_buf bad = {0};
    build_typed_gguf(&bad, 2, &scores_off);
    CHECK_OK_E(src_gguf_open_mem(bad.p, bad.len, "bad.gguf", &g, &err), &err);
    if (g) {
        kb = trit_kvbuf_new();
        CHECK_EQ_INT(cvt_tok_from_gguf(g, kb, NULL, &err), TRIT_E_CORRUPT);
        CHECK_EQ_U64(err.offset, scores_off);
        CHECK_STR(err.file, "bad.gguf");
        CHECK_STR(err.where, "tokenizer.ggml.scores");
        CHECK(strstr(err.msg, "2 entries for 3 tokens") != NULL);
        trit_kvbuf_free(kb);
        src_gguf_close(g);
    }
    tg_free(&bad);
}
