/* fuzz_spm_model.c - the SentencePiece tokenizer.model reader (protobuf over trit_cur) and its
 * conversion to tokenizer keys, over arbitrary bytes.
 *
 * Invariants when the parse succeeds: 1..TRIT_MAX_VOCAB pieces; every piece's text is non-empty,
 * within the cap and lies inside the input; every type is 1..6. Then the conversion of the same
 * bytes must succeed and round-trip: the kind-3 blob parses back (trit_kvset_parse) with
 * exactly the pieces' texts, scores (bit for bit) and types, model "llama", and the trainer's
 * bos/eos ids exactly when they name a piece. When the parse fails, the error code is negative,
 * names the file, and its offset (if any) is inside or at the end of the input. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cvt_tok.h"
#include "fuzz/fuzz.h"
#include "trit_limits.h"

static void check_roundtrip(const cvt_tok_spm *m, const uint8_t *data, size_t size)
{
    cvt_tok_src src;
    memset(&src, 0, sizeof src);
    src.model = (cvt_tok_buf){data, size, "fuzz.model"};
    trit_kvbuf *b = trit_kvbuf_new();
    FUZZ_ASSERT(b);
    trit_err err;
    cvt_tok_info info;
    int rc = cvt_tok_from_mem(&src, b, &info, &err);
    FUZZ_ASSERT(rc == TRIT_OK);
    FUZZ_ASSERT(info.n_tokens == m->n_pieces);
    FUZZ_ASSERT(info.bos == (m->bos_id >= 0 && (uint32_t)m->bos_id < m->n_pieces ? (uint32_t)m->bos_id : CVT_TOK_NONE));
    FUZZ_ASSERT(info.eos == (m->eos_id >= 0 && (uint32_t)m->eos_id < m->n_pieces ? (uint32_t)m->eos_id : CVT_TOK_NONE));
    const void *blob;
    uint64_t len;
    FUZZ_ASSERT(trit_kvbuf_data(b, &blob, &len, &err) == TRIT_OK);
    trit_kvset *s = NULL;
    FUZZ_ASSERT(trit_kvset_parse(blob, len, 0, "fuzz", &s, &err) == TRIT_OK);
    int64_t const ti = trit_kvset_find(s, "tokenizer.ggml.tokens");
    int64_t const si = trit_kvset_find(s, "tokenizer.ggml.scores");
    int64_t const yi = trit_kvset_find(s, "tokenizer.ggml.token_type");
    int64_t const mi = trit_kvset_find(s, "tokenizer.ggml.model");
    FUZZ_ASSERT(ti >= 0 && si >= 0 && yi >= 0 && mi >= 0);
    const char *str;
    uint64_t n;
    FUZZ_ASSERT(trit_kvset_str(s, (uint32_t)mi, &str, &n) == TRIT_OK && n == 5 && !memcmp(str, "llama", 5));
    for (uint32_t i = 0; i < m->n_pieces; i++) {
        cvt_tok_piece const *p = &m->pieces[i];
        FUZZ_ASSERT(trit_kvset_arr_str(s, (uint32_t)ti, i, &str, &n) == TRIT_OK);
        FUZZ_ASSERT(n == p->len && !memcmp(str, p->text, p->len));
        double d;
        FUZZ_ASSERT(trit_kvset_arr_f64(s, (uint32_t)si, i, &d) == TRIT_OK);
        float const f = (float)d;
        FUZZ_ASSERT(!memcmp(&f, &p->score, sizeof f) || (isnan(f) && isnan(p->score)));
        int64_t t;
        FUZZ_ASSERT(trit_kvset_arr_i64(s, (uint32_t)yi, i, &t) == TRIT_OK && t == (int64_t)p->type);
    }
    trit_kvset_free(s);
    trit_kvbuf_free(b);
}

FUZZ_TARGET(spm_model)
{
    if (size > FUZZ_MAX_INPUT) return 0;
    cvt_tok_spm m;
    trit_err err;
    int const rc = cvt_tok_spm_parse(data, size, "fuzz.model", &m, &err);
    if (rc != TRIT_OK) {
        FUZZ_ASSERT(rc < 0 && err.code == rc && m.pieces == NULL && m.n_pieces == 0);
        FUZZ_ASSERT(!strcmp(err.file, "fuzz.model") || rc == TRIT_E_NOMEM);
        FUZZ_ASSERT(err.offset == TRIT_NO_OFFSET || err.offset <= size);
        return 0;
    }
    FUZZ_ASSERT(m.n_pieces >= 1 && m.n_pieces <= TRIT_MAX_VOCAB);
    for (uint32_t i = 0; i < m.n_pieces; i++) {
        cvt_tok_piece const *p = &m.pieces[i];
        FUZZ_ASSERT(p->len >= 1 && p->len <= TRIT_MAX_TOKEN_LEN);
        FUZZ_ASSERT(p->text >= data && p->len <= size && p->text - data <= (ptrdiff_t)(size - p->len));
        FUZZ_ASSERT(p->type >= 1 && p->type <= 6);
        FUZZ_ASSERT(p->off < size);
    }
    check_roundtrip(&m, data, size);
    cvt_tok_spm_release(&m);
    return 0;
}
