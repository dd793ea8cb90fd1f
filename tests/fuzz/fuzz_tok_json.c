/* fuzz_tok_json.c - the Hugging Face tokenizer converter (tokenizer.json, tokenizer_config.json,
 * config.json) over arbitrary bytes. The input is the three files separated by NUL bytes (the
 * JSON scanner refuses NUL inside a document, so the split is unambiguous); two bits of the
 * size choose padding and the unknown-pre-tokenizer fallback.
 *
 * Invariants when the conversion succeeds: the kind-3 blob parses back; it holds exactly
 * info.n_tokens tokens with one token_type each (and one score each for "llama"); bos and eos
 * are in range. When it fails: a negative code. */
#include <string.h>

#include "cvt_tok.h"
#include "fuzz/fuzz.h"

FUZZ_TARGET(tok_json)
{
    if (size > FUZZ_MAX_INPUT) return 0;
    cvt_tok_src src;
    memset(&src, 0, sizeof src);
    cvt_tok_buf *bufs[3] = {&src.json, &src.tok_config, &src.config};
    const uint8_t *p = data, *end = data + size;
    for (int i = 0; i < 3; i++) {
        const uint8_t *z = memchr(p, 0, (size_t)(end - p));
        *bufs[i] = (cvt_tok_buf){p, z ? (size_t)(z - p) : (size_t)(end - p), NULL};
        if (!z) break;
        p = z + 1;
    }
    src.pad_to = size & 1 ? 0 : 64;
    src.unknown_pre_ok = (int)((size >> 1) & 1);
    trit_kvbuf *b = trit_kvbuf_new();
    FUZZ_ASSERT(b);
    trit_err err;
    cvt_tok_info info;
    int const rc = cvt_tok_from_mem(&src, b, &info, &err);
    if (rc == TRIT_OK) {
        const void *blob;
        uint64_t len, c = 0;
        trit_kvset *s = NULL;
        uint32_t et;
        FUZZ_ASSERT(trit_kvbuf_data(b, &blob, &len, &err) == TRIT_OK);
        FUZZ_ASSERT(trit_kvset_parse(blob, len, 0, "fuzz", &s, &err) == TRIT_OK);
        int64_t const ti = trit_kvset_find(s, "tokenizer.ggml.tokens");
        FUZZ_ASSERT(ti >= 0 && trit_kvset_type(s, (uint32_t)ti, &et, &c) == TRIT_KV_ARRAY && c == info.n_tokens);
        int64_t const yi = trit_kvset_find(s, "tokenizer.ggml.token_type");
        FUZZ_ASSERT(yi >= 0 && trit_kvset_type(s, (uint32_t)yi, &et, &c) == TRIT_KV_ARRAY && c == info.n_tokens);
        int64_t const si = trit_kvset_find(s, "tokenizer.ggml.scores");
        if (!strcmp(info.model, "llama"))
            FUZZ_ASSERT(si >= 0 && trit_kvset_type(s, (uint32_t)si, &et, &c) == TRIT_KV_ARRAY && c == info.n_tokens);
        FUZZ_ASSERT(info.n_tokens >= 1);
        FUZZ_ASSERT(info.bos == CVT_TOK_NONE || info.bos < info.n_tokens);
        FUZZ_ASSERT(info.eos == CVT_TOK_NONE || info.eos < info.n_tokens);
        trit_kvset_free(s);
    } else {
        FUZZ_ASSERT(rc < 0 && err.code == rc);
    }
    trit_kvbuf_free(b);
    return 0;
}
