/* test_tok_fixtures.c - the tokenizer on llama.cpp's own test vectors: for each vocab-only
 * GGUF in $TRIT_FIXTURES/gguf/llamacpp-vocab, every input of <vocab>.gguf.inp must tokenize
 * (no BOS, control tokens not parsed: test-tokenizer-0's settings) to the ids of the same line
 * of <vocab>.gguf.out, and those ids must decode back to the input. Pass counts (all cases):
 * llama-spm 46, phi-3 46, llama-bpe 46, gpt-2 46, qwen2 46, qwen35 50, command-r 46. bert-bge
 * (WordPiece) and nomic-bert-moe (unigram) are not supported tokenizer kinds. Skipped when the
 * fixtures are absent. */
#include <stdlib.h>
#include <string.h>

#include "cvt_tok.h"
#include "test.h"
#include "test_tok.h"

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

/* Print a failing case (the first few per vocab) to help whoever breaks one. */
static void show_case(const char *vocab, const test_tok_case *c, const int32_t *got, size_t n_got)
{
    fprintf(stderr, "  %s: '%.*s'\n    want:", vocab, (int)c->len, c->text);
    for (size_t k = 0; k < c->n_ids; k++) fprintf(stderr, " %d", c->ids[k]);
    fprintf(stderr, "\n    got: ");
    for (size_t k = 0; k < n_got; k++) fprintf(stderr, " %d", got[k]);
    fprintf(stderr, "\n");
}

/* Decoding the expected ids gives the input back (llama.cpp detokenize semantics). Vocabs
 * trained with clean_up_tokenization_spaces (gpt-2, llama-bpe) may drop a space before
 * punctuation: there the text must be the input with only such spaces removed. Returns 1 for
 * an exact round trip, 2 for a cleaned one, 0 (and a failed check) otherwise. */
static int check_decode_case(const run_tok *t, const char *vocab, const test_tok_case *c)
{
    char *text = NULL;
    size_t len = 0;
    trit_err err;
    int r = 0;
    CHECK_OK_E(run_tok_decode(t, c->ids, c->n_ids, 0, &text, &len, &err), &err);
    if (!text) return 0;
    CHECK_EQ_U64(strlen(text), len);
    if (len == c->len && memcmp(text, c->text, len) == 0) r = 1;
    else if (is_cleaned(c->text, c->len, text, len)) r = 2;
    else test_fail_(__FILE__, __LINE__, "%s: '%.*s' decodes to '%s'", vocab, (int)c->len, c->text, text);
    free(text);
    return r;
}

/* Encode every case of a vocab, and decode the expected ids; returns the number of cases
 * that encode right, or -1 if the vocab or its vectors are absent. */
static int run_vectors(const char *vocab, size_t *n_cases, size_t *n_cleaned)
{
    const char *fx = test_fixtures();
    char name[256];
    test_tok_cases cases;
    src_gguf *g = NULL;
    int pass = 0, shown = 0;
    *n_cases = *n_cleaned = 0;
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
        *n_cleaned += check_decode_case(t, vocab, &cases.v[i]) == 2;
    }
    run_tok_free(t);
    src_gguf_close(g);
    test_tok_cases_free(&cases);
    return pass;
}

/* Run the vectors of vocab and check that every case encodes to the expected ids and the
 * expected ids decode to the input (with cleaned spaces exactly when `cleaned`). */
static void check_vectors(const char *vocab, int cleaned)
{
    size_t n = 0, n_clean = 0;
    int const pass = run_vectors(vocab, &n, &n_clean);
    if (pass < 0) {
        test_skip_("vocab or vectors absent");
        return;
    }
    fprintf(stderr, "  %s: %d/%zu cases encode right; %zu decode after space cleaning\n", vocab, pass, n, n_clean);
    CHECK(n > 0);
    CHECK_EQ_U64((size_t)pass, n);
    if (cleaned) CHECK(n_clean > 0);   /* the vectors have " ?" and "' " cases */
    else CHECK_EQ_U64(n_clean, 0);
}

TEST(tok_vectors_llama_spm) { if (!test_fixtures()) SKIP("fixtures absent"); check_vectors("llama-spm", 0); }
TEST(tok_vectors_phi_3) { if (!test_fixtures()) SKIP("fixtures absent"); check_vectors("phi-3", 0); }
TEST(tok_vectors_llama_bpe) { if (!test_fixtures()) SKIP("fixtures absent"); check_vectors("llama-bpe", 1); }
TEST(tok_vectors_gpt_2) { if (!test_fixtures()) SKIP("fixtures absent"); check_vectors("gpt-2", 1); }
TEST(tok_vectors_qwen2) { if (!test_fixtures()) SKIP("fixtures absent"); check_vectors("qwen2", 0); }
TEST(tok_vectors_qwen35) { if (!test_fixtures()) SKIP("fixtures absent"); check_vectors("qwen35", 0); }
TEST(tok_vectors_command_r) { if (!test_fixtures()) SKIP("fixtures absent"); check_vectors("command-r", 0); }

/* The .trit path: the tokenizer keys re-encoded as a kind-3 section (KV records), parsed with
 * trit_kvset_parse and read by run_vocab_from_kvset, tokenize the vectors exactly as from
 * the GGUF. The section is built by this test's own encoder, or (with_converter) by the
 * converter's cvt_tok_from_gguf, which is what `trit convert` stores. */
static void check_kvset_path(const char *vocab, int with_converter)
{
    const char *fx = test_fixtures();
    char name[256];
    test_tok_cases cases;
    src_gguf *g = NULL;
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
    CHECK_OK_E(src_gguf_open(path, NULL, &g, &err), &err);
    if (g && with_converter) CHECK_OK_E(cvt_tok_from_gguf(g, b, NULL, &err), &err);
    else if (g) CHECK_OK_E(test_tok_kvbuf_from_gguf(g, b, &err), &err);
    src_gguf_close(g);   /* the section must not borrow from the GGUF */
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
    check_kvset_path("llama-spm", 0);
    check_kvset_path("qwen2", 0);
    check_kvset_path("phi-3", 1);
    check_kvset_path("llama-bpe", 1);
}
