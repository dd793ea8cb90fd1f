/* test_tok_fixtures.c - the tokenizer on llama.cpp's own test vectors: for each vocab-only
 * GGUF in $TRIT_FIXTURES/gguf/llamacpp-vocab, every input of <vocab>.gguf.inp must tokenize
 * (no BOS, control tokens not parsed: test-tokenizer-0's settings) to the ids of the same line
 * of <vocab>.gguf.out. Skipped when the fixtures are absent. */
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "test_tok.h"

/* Print a failing case (the first few per vocab) to help whoever breaks one. */
static void show_case(const char *vocab, const test_tok_case *c, const int32_t *got, size_t n_got)
{
    fprintf(stderr, "  %s: '%.*s'\n    want:", vocab, (int)c->len, c->text);
    for (size_t k = 0; k < c->n_ids; k++) fprintf(stderr, " %d", c->ids[k]);
    fprintf(stderr, "\n    got: ");
    for (size_t k = 0; k < n_got; k++) fprintf(stderr, " %d", got[k]);
    fprintf(stderr, "\n");
}

/* Encode every case of a vocab; returns the number that match, or -1 if the vocab or its
 * vectors are absent. *n_cases receives the count. */
static int run_vectors(const char *vocab, size_t *n_cases)
{
    const char *fx = test_fixtures();
    char name[256];
    test_tok_cases cases;
    cvt_gguf *g = NULL;
    int pass = 0, shown = 0;
    *n_cases = 0;
    snprintf(name, sizeof name, "gguf/llamacpp-vocab/ggml-vocab-%s.gguf", vocab);
    const char *path = test_path(fx, name);
    if (test_tok_read_cases(path, &cases) != 0) return -1;
    run_tok *t = test_tok_open(path, &g);
    *n_cases = cases.n;
    for (size_t i = 0; t && i < cases.n; i++) {
        int32_t *ids = NULL;
        size_t n = 0;
        trit_err err;
        CHECK_OK_E(run_tok_encode(t, cases.v[i].text, cases.v[i].len, 0, &ids, &n, &err), &err);
        int const ok = n == cases.v[i].n_ids && (n == 0 || memcmp(ids, cases.v[i].ids, n * sizeof *ids) == 0);
        if (ok) pass++;
        else if (shown++ < 3) show_case(vocab, &cases.v[i], ids, n);
        free(ids);
    }
    run_tok_free(t);
    cvt_gguf_close(g);
    test_tok_cases_free(&cases);
    return pass;
}

/* Run the vectors of vocab and check that at least `claim` cases pass (all of them when
 * claim is -1). */
static void check_vectors(const char *vocab, int claim)
{
    size_t n = 0;
    int const pass = run_vectors(vocab, &n);
    if (pass < 0) {
        test_skip_("vocab or vectors absent");
        return;
    }
    fprintf(stderr, "  %s: %d/%zu cases\n", vocab, pass, n);
    CHECK(n > 0);
    CHECK(pass >= (claim < 0 ? (int)n : claim));
}

TEST(tok_vectors_llama_spm) { if (!test_fixtures()) SKIP("fixtures absent"); check_vectors("llama-spm", -1); }
TEST(tok_vectors_phi_3) { if (!test_fixtures()) SKIP("fixtures absent"); check_vectors("phi-3", -1); }
TEST(tok_vectors_llama_bpe) { if (!test_fixtures()) SKIP("fixtures absent"); check_vectors("llama-bpe", -1); }
TEST(tok_vectors_gpt_2) { if (!test_fixtures()) SKIP("fixtures absent"); check_vectors("gpt-2", -1); }
TEST(tok_vectors_qwen2) { if (!test_fixtures()) SKIP("fixtures absent"); check_vectors("qwen2", -1); }
TEST(tok_vectors_qwen35) { if (!test_fixtures()) SKIP("fixtures absent"); check_vectors("qwen35", -1); }
TEST(tok_vectors_command_r) { if (!test_fixtures()) SKIP("fixtures absent"); check_vectors("command-r", -1); }

/* 1 if `got` is `want` with some spaces removed, each of them before one of ?!.,' (what
 * clean_up_tokenization_spaces may do), 0 otherwise. */
static int is_cleaned(const char *want, size_t wn, const char *got, size_t gn)
{
    size_t i = 0, j = 0;
    while (i < wn && j < gn) {
        if (want[i] == got[j]) {
            i++, j++;
        } else if (want[i] == ' ' && i + 1 < wn && strchr("?!.,'", want[i + 1])) {
            i++;
        } else {
            return 0;
        }
    }
    return i == wn && j == gn;
}

/* Decoding the expected ids gives the input back (llama.cpp detokenize semantics). Vocabs
 * trained with clean_up_tokenization_spaces (gpt-2, llama-bpe) may drop a space before
 * punctuation: there the text must be the input with only such spaces removed. */
static void check_roundtrip(const char *vocab, int cleaned)
{
    const char *fx = test_fixtures();
    char name[256];
    test_tok_cases cases;
    cvt_gguf *g = NULL;
    snprintf(name, sizeof name, "gguf/llamacpp-vocab/ggml-vocab-%s.gguf", vocab);
    const char *path = test_path(fx, name);
    if (test_tok_read_cases(path, &cases) != 0) return;
    run_tok *t = test_tok_open(path, &g);
    size_t same = 0, clean = 0;
    for (size_t i = 0; t && i < cases.n; i++) {
        char *text = NULL;
        size_t len = 0;
        trit_err err;
        const test_tok_case *c = &cases.v[i];
        CHECK_OK_E(run_tok_decode(t, c->ids, c->n_ids, 0, &text, &len, &err), &err);
        if (!text) continue;
        CHECK_EQ_U64(strlen(text), len);
        if (len == c->len && memcmp(text, c->text, len) == 0) same++;
        else if (cleaned && is_cleaned(c->text, c->len, text, len)) clean++;
        else test_fail_(__FILE__, __LINE__, "%s: '%.*s' decodes to '%s'", vocab, (int)c->len, c->text, text);
        free(text);
    }
    fprintf(stderr, "  %s: %zu/%zu decode to the input, %zu more after space cleaning\n", vocab, same,
            cases.n, clean);
    CHECK(same + clean == cases.n);
    if (cleaned) CHECK(clean > 0);   /* the vectors do have " ?" and "' " cases */
    run_tok_free(t);
    cvt_gguf_close(g);
    test_tok_cases_free(&cases);
}

TEST(tok_vectors_decode)
{
    if (!test_fixtures()) SKIP("fixtures absent");
    check_roundtrip("llama-spm", 0);
    check_roundtrip("phi-3", 0);
    check_roundtrip("llama-bpe", 1);
    check_roundtrip("gpt-2", 1);
    check_roundtrip("qwen2", 0);
    check_roundtrip("qwen35", 0);
    check_roundtrip("command-r", 0);
}

/* The .trit path: the tokenizer keys re-encoded as a kind-3 section (KV records), parsed with
 * trit_kvset_parse and read by run_vocab_from_kvset, tokenize the vectors exactly as from
 * the GGUF. One SentencePiece and one BPE vocab. */
static void check_kvset_path(const char *vocab)
{
    const char *fx = test_fixtures();
    char name[256];
    test_tok_cases cases;
    cvt_gguf *g = NULL;
    trit_err err;
    trit_kvbuf *b = trit_kvbuf_new();
    trit_kvset *set = NULL;
    run_vocab v;
    run_tok *t = NULL;
    const void *data = NULL;
    uint64_t len = 0;
    run_vocab_init(&v);
    snprintf(name, sizeof name, "gguf/llamacpp-vocab/ggml-vocab-%s.gguf", vocab);
    const char *path = test_path(fx, name);
    CHECK(b != NULL);
    if (!b || test_tok_read_cases(path, &cases) != 0) {
        trit_kvbuf_free(b);
        return;
    }
    CHECK_OK_E(cvt_gguf_open(path, NULL, &g, &err), &err);
    if (g) CHECK_OK_E(test_tok_kvbuf_from_gguf(g, b, &err), &err);
    cvt_gguf_close(g);   /* the section must not borrow from the GGUF */
    CHECK_OK_E(trit_kvbuf_data(b, &data, &len, &err), &err);
    if (data) CHECK_OK_E(trit_kvset_parse(data, len, 4096, "model.trit", &set, &err), &err);
    if (set) CHECK_OK_E(run_vocab_from_kvset(set, "model.trit", &v, &err), &err);
    if (v.n_tokens) CHECK_OK_E(run_tok_new(&v, &t, &err), &err);
    run_vocab_release(&v);
    trit_kvset_free(set);   /* the tokenizer keeps its own copy */
    trit_kvbuf_free(b);
    size_t pass = 0;
    for (size_t i = 0; t && i < cases.n; i++) {
        int32_t *ids = NULL;
        size_t n = 0;
        CHECK_OK_E(run_tok_encode(t, cases.v[i].text, cases.v[i].len, 0, &ids, &n, &err), &err);
        pass += n == cases.v[i].n_ids && (n == 0 || memcmp(ids, cases.v[i].ids, n * sizeof *ids) == 0);
        free(ids);
    }
    CHECK(t != NULL);
    CHECK_EQ_U64(pass, cases.n);
    run_tok_free(t);
    test_tok_cases_free(&cases);
}

TEST(tok_vectors_kvset_section)
{
    if (!test_fixtures()) SKIP("fixtures absent");
    check_kvset_path("llama-spm");
    check_kvset_path("qwen2");
}
