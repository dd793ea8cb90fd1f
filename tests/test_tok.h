/* test_tok.h - helpers of the tokenizer tests (tests/test_tok*.c). */
#ifndef TEST_TOK_H
#define TEST_TOK_H

#include <stddef.h>
#include <stdint.h>

#include "src_gguf.h"
#include "tok.h"

/* Fill v from a GGUF file's tokenizer.ggml.* keys (and general.name), through the same
 * run_vocab_load() the .trit section goes through. Strings are borrowed from g. */
int test_tok_vocab_from_gguf(const src_gguf *g, run_vocab *v, trit_err *err);

/* One llama.cpp tokenizer test vector. */
typedef struct test_tok_case {
    const char *text;          /* input, not NUL-terminated (points into the .inp buffer) */
    size_t len;
    int32_t *ids;              /* expected ids */
    size_t n_ids;
} test_tok_case;

typedef struct test_tok_cases {
    test_tok_case *v;
    size_t n;
    char *inp;                 /* the .inp file, owned */
} test_tok_cases;

/* Read <gguf>.inp (inputs separated by "\n__ggml_vocab_test__\n") and <gguf>.out (one line
 * of space-separated ids per input). 0 on success; -1 if a file is missing or the counts
 * differ. Free with test_tok_cases_free(). */
int test_tok_read_cases(const char *gguf_path, test_tok_cases *c);
void test_tok_cases_free(test_tok_cases *c);

/* Open a fixture vocab and build its tokenizer; NULL (with a failed check) on error. *g is
 * closed by the caller with src_gguf_close(); the tokenizer with run_tok_free(). */
run_tok *test_tok_open(const char *path, src_gguf **g);

/* Encode every tokenizer.* key of a GGUF into b as .trit KV records (what a kind-3 section
 * holds): strings, string arrays, f32/i32/u32/bool/u8/i8 scalars and numeric arrays. */
int test_tok_kvbuf_from_gguf(const src_gguf *g, trit_kvbuf *b, trit_err *err);

#endif /* TEST_TOK_H */
