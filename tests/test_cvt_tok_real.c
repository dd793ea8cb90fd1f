/* test_cvt_tok_real.c - real vocabularies at full size through the Hugging Face and SentencePiece
 * paths. The fixtures hold llama.cpp vocab GGUFs, not the original tokenizer files, so the test
 * rebuilds the source files from a GGUF (Llama-3's 128k byte-level BPE as tokenizer.json with
 * its published pre-tokenizer; Llama-2's 32k SentencePiece as a tokenizer.model protobuf),
 * converts them, and compares every token, type, score and merge with what llama.cpp's own
 * converter wrote. This checks scale (280k merges, each validated), ids and types on real
 * data, and that the result is what llama.cpp expects. */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "src_gguf.h"
#include "cvt_tok.h"
#include "test.h"
#include "test_cvt_tok.h"

static src_gguf *open_vocab(const char *name)
{
    const char *fx = test_fixtures();
    if (!fx) return NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/gguf/llamacpp-vocab/ggml-vocab-%s.gguf", fx, name);
    trit_err err;
    src_gguf *g = NULL;
    CHECK_OK_E(src_gguf_open(path, NULL, &g, &err), &err);
    return g;
}

static uint64_t kv_index(const src_gguf *g, const char *key)
{
    int64_t const i = src_gguf_find_kv(g, key);
    CHECK(i >= 0);
    return i < 0 ? 0 : (uint64_t)i;
}

/* NUL-terminated copy of element j of string array KV i into buf (cap >= 1). */
static char *arr_cstr(const src_gguf *g, uint64_t i, uint64_t j, char *buf, size_t cap)
{
    const char *s = "";
    uint64_t n = 0;
    src_gguf_kv_arr_str(g, i, j, &s, &n);
    if (n >= cap) n = cap - 1;
    memcpy(buf, s, (size_t)n);
    buf[n] = '\0';
    return buf;
}

/* Every token (and type, score when given) of the conversion equals the GGUF's. */
static void compare_vocab(const src_gguf *g, const trit_kvset *s, int scores)
{
    uint64_t const ti = kv_index(g, "tokenizer.ggml.tokens"), yi = kv_index(g, "tokenizer.ggml.token_type");
    uint64_t n = 0;
    src_gguf_kv_type(g, ti, NULL, &n);
    CHECK_EQ_U64(tt_count(s, "tokenizer.ggml.tokens"), n);
    int64_t const kt = trit_kvset_find(s, "tokenizer.ggml.tokens");
    uint32_t bad = 0;
    for (uint64_t j = 0; j < n && kt >= 0 && bad < 3; j++) {
        const char *a = NULL, *b = NULL;
        uint64_t na = 0, nb = 1;
        int64_t ta = 0, tb = -1;
        src_gguf_kv_arr_str(g, ti, j, &a, &na);
        trit_kvset_arr_str(s, (uint32_t)kt, j, &b, &nb);
        src_gguf_kv_arr_i64(g, yi, j, &ta);
        tb = tt_arr_i64(s, "tokenizer.ggml.token_type", j);
        int ok = na == nb && !memcmp(a, b, (size_t)na) && ta == tb;
        if (scores) {
            double sa = 0;
            src_gguf_kv_arr_f64(g, kv_index(g, "tokenizer.ggml.scores"), j, &sa);
            ok = ok && sa == tt_arr_f64(s, "tokenizer.ggml.scores", j);
        }
        if (!ok) {
            test_fail_(__FILE__, __LINE__, "token %llu differs (type %lld vs %lld)", (unsigned long long)j,
                       (long long)ta, (long long)tb);
            bad++;
        }
    }
}

TEST(cvt_tok_real_llama3_tokenizer_json)
{
    src_gguf *g = open_vocab("llama-bpe");
    if (!g) SKIP("no fixtures");
    uint64_t const ti = kv_index(g, "tokenizer.ggml.tokens"), yi = kv_index(g, "tokenizer.ggml.token_type");
    uint64_t const mi = kv_index(g, "tokenizer.ggml.merges");
    uint64_t n = 0, nm = 0;
    src_gguf_kv_type(g, ti, NULL, &n);
    src_gguf_kv_type(g, mi, NULL, &nm);
    /* tokenizer.json as the Meta-Llama-3 release has it: normal tokens in model.vocab, the
     * control tokens as special added tokens, the Llama-3 Split regex + ByteLevel */
    cJSON *root = cJSON_CreateObject();
    cJSON *added = cJSON_AddArrayToObject(root, "added_tokens");
    cJSON_AddItemToObject(root, "pre_tokenizer", cJSON_Parse(
        "{\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Split\", \"pattern\": {\"Regex\": "
        "\"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}{1,3}| ?[^\\\\s\\\\p{L}\\\\p{N}]+"
        "[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+\"}, \"behavior\": \"Isolated\", \"invert\": false},"
        " {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"trim_offsets\": true, \"use_regex\": false}]}"));
    cJSON *model = cJSON_AddObjectToObject(root, "model");
    cJSON_AddStringToObject(model, "type", "BPE");
    cJSON_AddBoolToObject(model, "ignore_merges", 1);
    cJSON *vocab = cJSON_AddObjectToObject(model, "vocab");
    char buf[1024];
    for (uint64_t j = 0; j < n; j++) {
        int64_t type = 0;
        src_gguf_kv_arr_i64(g, yi, j, &type);
        arr_cstr(g, ti, j, buf, sizeof buf);
        if (type == 1) {
            cJSON_AddNumberToObject(vocab, buf, (double)j);
        } else {
            cJSON *a = cJSON_CreateObject();
            cJSON_AddNumberToObject(a, "id", (double)j);
            cJSON_AddStringToObject(a, "content", buf);
            cJSON_AddBoolToObject(a, "special", type == 3);
            cJSON_AddItemToArray(added, a);
        }
    }
    cJSON *merges = cJSON_AddArrayToObject(model, "merges");
    for (uint64_t j = 0; j < nm; j++) cJSON_AddItemToArray(merges, cJSON_CreateString(arr_cstr(g, mi, j, buf, sizeof buf)));
    char *json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    CHECK(json != NULL);

    trit_kvbuf *b;
    trit_err err;
    cvt_tok_info info;
    CHECK_OK_E(tt_convert(json, NULL, "{\"bos_token\": \"<|begin_of_text|>\", \"eos_token\": \"<|end_of_text|>\"}",
                          NULL, 0, 0, &b, &info, &err), &err);
    free(json);
    CHECK_STR(info.pre, "llama-bpe");   /* what llama.cpp's converter wrote into this GGUF */
    CHECK_EQ_U64(info.n_tokens, n);
    CHECK_EQ_U64(info.n_merges, nm);
    uint64_t gb = 0, ge = 0;
    src_gguf_kv_u64(g, kv_index(g, "tokenizer.ggml.bos_token_id"), &gb);
    src_gguf_kv_u64(g, kv_index(g, "tokenizer.ggml.eos_token_id"), &ge);
    CHECK_EQ_U64(info.bos, gb);
    CHECK_EQ_U64(info.eos, ge);
    trit_kvset *s = tt_parse(b);
    if (s) {
        compare_vocab(g, s, 0);
        int64_t const km = trit_kvset_find(s, "tokenizer.ggml.merges");
        for (uint64_t j = 0; j < nm && km >= 0; j++) {
            const char *x = NULL, *y = NULL;
            uint64_t nx = 0, ny = 1;
            src_gguf_kv_arr_str(g, mi, j, &x, &nx);
            trit_kvset_arr_str(s, (uint32_t)km, j, &y, &ny);
            if (nx != ny || memcmp(x, y, (size_t)nx)) {
                test_fail_(__FILE__, __LINE__, "merge %llu differs", (unsigned long long)j);
                break;
            }
        }
    }
    trit_kvset_free(s);
    trit_kvbuf_free(b);
    src_gguf_close(g);
}

/* ---- SentencePiece ---------------------------------------------------------------------------- */

typedef struct growbuf {
    uint8_t *p;
    size_t n, cap;
} growbuf;

static void gb_put(growbuf *g, const void *s, size_t n)
{
    if (g->n + n > g->cap) {
        size_t nc = g->cap ? g->cap * 2 : 65536;
        while (nc < g->n + n) nc *= 2;
        uint8_t *q = realloc(g->p, nc);
        CHECK(q != NULL);
        if (!q) return;
        g->p = q;
        g->cap = nc;
    }
    memcpy(g->p + g->n, s, n);
    g->n += n;
}

static void gb_varint(growbuf *g, uint64_t v)
{
    do {
        uint8_t b = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v) b |= 0x80;
        gb_put(g, &b, 1);
    } while (v);
}

TEST(cvt_tok_real_llama2_tokenizer_model)
{
    src_gguf *g = open_vocab("llama-spm");
    if (!g) SKIP("no fixtures");
    uint64_t const ti = kv_index(g, "tokenizer.ggml.tokens"), yi = kv_index(g, "tokenizer.ggml.token_type");
    uint64_t const si = kv_index(g, "tokenizer.ggml.scores");
    uint64_t n = 0;
    src_gguf_kv_type(g, ti, NULL, &n);
    growbuf m = {0};
    for (uint64_t j = 0; j < n; j++) {
        const char *t;
        uint64_t tl;
        double sc;
        int64_t ty;
        src_gguf_kv_arr_str(g, ti, j, &t, &tl);
        src_gguf_kv_arr_f64(g, si, j, &sc);
        src_gguf_kv_arr_i64(g, yi, j, &ty);
        tt_pb p = {.n = 0};
        tt_pb_bytes(&p, 1, t, (size_t)tl);
        tt_pb_f32(&p, 2, (float)sc);
        if (ty != 1) tt_pb_uint(&p, 3, (uint64_t)ty);   /* NORMAL is the default: omitted, as protobuf does */
        uint8_t const tag = 0x0a;
        gb_put(&m, &tag, 1);
        gb_varint(&m, p.n);
        gb_put(&m, p.b, p.n);
    }
    tt_pb spec = {.n = 0};
    tt_pb_uint(&spec, 3, 2);     /* BPE */
    tt_pb_uint(&spec, 35, 1);    /* byte_fallback */
    uint8_t const tag2 = 0x12;
    gb_put(&m, &tag2, 1);
    gb_varint(&m, spec.n);
    gb_put(&m, spec.b, spec.n);   /* ids: the defaults 0/1/2/-1, as Llama 2 has them */

    cvt_tok_src src;
    memset(&src, 0, sizeof src);
    src.model = (cvt_tok_buf){m.p, m.n, "tokenizer.model"};
    trit_kvbuf *b = trit_kvbuf_new();
    trit_err err;
    cvt_tok_info info;
    CHECK_OK_E(cvt_tok_from_mem(&src, b, &info, &err), &err);
    free(m.p);
    CHECK_EQ_U64(info.n_tokens, n);
    trit_kvset *s = tt_parse(b);
    if (s) {
        compare_vocab(g, s, 1);
        char buf[32];
        CHECK_STR(tt_str(s, "tokenizer.ggml.model", buf, sizeof buf), "llama");
        static const char *const ids[] = {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                                          "tokenizer.ggml.unknown_token_id"};
        for (int k = 0; k < 3; k++) {
            uint64_t v = 0;
            src_gguf_kv_u64(g, kv_index(g, ids[k]), &v);
            CHECK_EQ_U64(tt_u64(s, ids[k]), v);
        }
        CHECK_EQ_U64(tt_u64(s, "tokenizer.ggml.add_space_prefix"), 1);   /* add_dummy_prefix default */
    }
    trit_kvset_free(s);
    trit_kvbuf_free(b);
    src_gguf_close(g);
}
