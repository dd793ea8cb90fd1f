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
