/* fuzz_tok.c - the runner's tokenizer over arbitrary prompts and arbitrary vocabularies.
 * First byte: the mode.
 *   0: the rest is a prompt for a small SentencePiece vocab. Invariants: every id is in
 *      range, and when the prompt is well-formed UTF-8 with no U+2581 and no special-token
 *      text, decoding gives it back exactly (byte fallback covers every byte; a malformed
 *      sequence may swallow the bytes of an escaped space, as in llama.cpp).
 *   1: next byte picks a pre-tokenizer (gpt-2, llama-bpe, qwen2, qwen35, command-r, default),
 *      the rest is a prompt for a small byte-level BPE vocab. Invariants: the pre-tokenizer's
 *      words cover every code point; ids in range; when the prompt is well-formed UTF-8 with
 *      no special-token text, the tokens' pieces concatenate to the prompt.
 *   2: the rest is a blob of KV records (a kind-3 section). If it loads as a vocabulary and
 *      a tokenizer builds from it, encoding and decoding a fixed text and the blob succeed
 *      with ids in range. */
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "tok.h"
#include "tok_int.h"

#define SPACE_MARK "\xe2\x96\x81"

static void check_ids(const run_tok *t, const int32_t *ids, size_t n)
{
    for (size_t i = 0; i < n; i++) FUZZ_ASSERT(ids[i] >= 0 && (uint32_t)ids[i] < run_tok_n_tokens(t));
}

static int contains(const uint8_t *p, size_t n, const char *s)
{
    size_t const m = strlen(s);
    for (size_t i = 0; i + m <= n; i++)
        if (memcmp(p + i, s, m) == 0) return 1;
    return 0;
}

/* 1 if p is UTF-8 that decodes and re-encodes to the same bytes. */
static int canonical_utf8(const uint8_t *p, size_t n)
{
    uint32_t *cpts = malloc((n ? n : 1) * sizeof *cpts);
    FUZZ_ASSERT(cpts != NULL);
    size_t const nc = run_tok__utf8_decode(p, n, cpts);
    int ok = 1;
    size_t o = 0;
    for (size_t i = 0; i < nc && ok; i++) {
        char u[4];
        size_t const ul = run_tok__utf8_put(cpts[i], u);
        ok = o + ul <= n && memcmp(p + o, u, ul) == 0;
        o += ul;
    }
    free(cpts);
    return ok && o == n;
}

/* Concatenated pieces of ids (caller frees); *len its size. */
static char *pieces(const run_tok *t, const int32_t *ids, size_t n, size_t *len)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) total += run_tok_piece(t, ids[i], 0, NULL, 0);
    char *out = malloc(total + 1);
    FUZZ_ASSERT(out != NULL);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) o += run_tok_piece(t, ids[i], 0, out + o, total - o);
    FUZZ_ASSERT(o == total);
    *len = total;
    return out;
}

static void fuzz_spm(const uint8_t *p, size_t n)
{
    static const char *const pieces_[] = { SPACE_MARK, "a", "b", "ab", SPACE_MARK "a", "th", "the",
                                           SPACE_MARK "the", "<|user|>" };
    static const float sc[] = { -1, -2, -2, -0.5f, -0.4f, -1, -0.2f, -0.1f, 0 };
    enum { N = 3 + 256 + 9 };
    const char *texts[N];
    char bytes[256][8];
    run_str toks[N];
    float scores[N];
    int32_t types[N];
    texts[0] = "<unk>", texts[1] = "<s>", texts[2] = "</s>";
    types[0] = RUN_TOK_TYPE_UNKNOWN, types[1] = types[2] = RUN_TOK_TYPE_CONTROL;
    for (int b = 0; b < 256; b++) {
        snprintf(bytes[b], sizeof bytes[b], "<0x%02X>", (unsigned)b);
        texts[3 + b] = bytes[b];
        types[3 + b] = RUN_TOK_TYPE_BYTE;
    }
    for (int i = 0; i < 9; i++) {
        texts[259 + i] = pieces_[i];
        types[259 + i] = i == 8 ? RUN_TOK_TYPE_USER_DEFINED : RUN_TOK_TYPE_NORMAL;
    }
    for (int i = 0; i < N; i++) {
        toks[i].p = texts[i];
        toks[i].n = (uint32_t)strlen(texts[i]);
        scores[i] = i >= 259 ? sc[i - 259] : 0;
    }
    run_vocab v;
    run_vocab_init(&v);
    v.model = RUN_TOK_SPM;
    v.n_tokens = N;
    v.tokens = toks;
    v.scores = scores;
    v.types = types;
    run_tok *t = NULL;
    FUZZ_ASSERT(run_tok_new(&v, &t, NULL) == TRIT_OK);   /* v's arrays are on the stack */

    int32_t *ids = NULL;
    size_t n_ids = 0;
    FUZZ_ASSERT(run_tok_encode(t, (const char *)p, n, RUN_TOK_ADD_SPECIAL, &ids, &n_ids, NULL) == TRIT_OK);
    check_ids(t, ids, n_ids);
    FUZZ_ASSERT(n_ids >= 1 && ids[0] == 1);
    char *text = NULL;
    size_t len = 0;
    FUZZ_ASSERT(run_tok_decode(t, ids + 1, n_ids - 1, 0, &text, &len, NULL) == TRIT_OK);
    if (canonical_utf8(p, n) && !contains(p, n, SPACE_MARK) && !contains(p, n, "<|user|>"))
        FUZZ_ASSERT(len == n && memcmp(text, p, n) == 0);
    free(text);
    free(ids);
    run_tok_free(t);
}

static void fuzz_bpe(const uint8_t *p, size_t n)
{
    static const char *const pres[] = { "gpt-2", "llama-bpe", "qwen2", "qwen35", "command-r", "default" };
    static const uint32_t pre_ids[] = { RUN_TOK_PRE_GPT2, RUN_TOK_PRE_LLAMA3, RUN_TOK_PRE_QWEN2,
                                        RUN_TOK_PRE_QWEN35, RUN_TOK_PRE_STARCODER, RUN_TOK_PRE_DEFAULT };
    static const char *const extra[] = { "he", "ll", "hell", "hello", "\304\240h", "\304\240hello", "12",
                                         "<|im_end|>", "<tool>" };
    static const char *const merges[] = { "h e", "l l", "he ll", "hell o", "\304\240 h", "\304\240h ello",
                                          "1 2", "e l", "el lo" };
    if (n == 0) return;
    unsigned const k = p[0] % 6u;
    p++, n--;
    enum { N = 256 + 9 };
    char bytes[256][4];
    run_str toks[N], mer[9];
    int32_t types[N];
    for (int b = 0; b < 256; b++) {
        uint32_t const c = run_tok__byte_to_cpt((uint8_t)b);
        bytes[b][run_tok__utf8_put(c, bytes[b])] = '\0';
        toks[b].p = bytes[b];
        toks[b].n = (uint32_t)strlen(bytes[b]);
        types[b] = RUN_TOK_TYPE_NORMAL;
    }
    for (int i = 0; i < 9; i++) {
        toks[256 + i].p = extra[i];
        toks[256 + i].n = (uint32_t)strlen(extra[i]);
        types[256 + i] = i >= 7 ? RUN_TOK_TYPE_USER_DEFINED : RUN_TOK_TYPE_NORMAL;
        mer[i].p = merges[i];
        mer[i].n = (uint32_t)strlen(merges[i]);
    }
    run_vocab v;
    run_vocab_init(&v);
    v.model = RUN_TOK_BPE;
    snprintf(v.pre, sizeof v.pre, "%s", pres[k]);
    v.n_tokens = N;
    v.tokens = toks;
    v.types = types;
    v.n_merges = 9;
    v.merges = mer;
    v.bos_id = 0;
    run_tok *t = NULL;
    FUZZ_ASSERT(run_tok_new(&v, &t, NULL) == TRIT_OK);

    /* the pre-tokenizer's words cover the text */
    uint32_t *cpts = malloc((n ? n : 1) * sizeof *cpts);
    FUZZ_ASSERT(cpts != NULL);
    size_t const nc = run_tok__utf8_decode(p, n, cpts);
    run_tok__svec words = { NULL, 0, 0 };
    FUZZ_ASSERT(run_tok__pre_split(pre_ids[k], cpts, nc, &words) == TRIT_OK);
    size_t sum = 0;
    for (size_t w = 0; w < words.n; w++) {
        FUZZ_ASSERT(words.v[w] > 0);
        sum += words.v[w];
    }
    FUZZ_ASSERT(sum == nc);
    free(words.v);
    free(cpts);
    int const canonical = canonical_utf8(p, n);

    int32_t *ids = NULL;
    size_t n_ids = 0;
    FUZZ_ASSERT(run_tok_encode(t, (const char *)p, n, 0, &ids, &n_ids, NULL) == TRIT_OK);
    check_ids(t, ids, n_ids);
    size_t len = 0;
    char *text = pieces(t, ids, n_ids, &len);
    if (canonical && !contains(p, n, "<tool>") && !contains(p, n, "<|im_end|>"))
        FUZZ_ASSERT(len == n && memcmp(text, p, n) == 0);
    free(text);
    free(ids);
    run_tok_free(t);
}

static void fuzz_vocab(const uint8_t *p, size_t n)
{
    static const char sample[] = "Hello, world! 123  \xc3\xa9\n<|im_start|>";
    trit_kvset *s = NULL;
    run_vocab v;
    run_tok *t = NULL;
    if (trit_kvset_parse(p, n, 0, "fuzz", &s, NULL) != TRIT_OK) return;
    if (run_vocab_from_kvset(s, "fuzz", &v, NULL) == TRIT_OK) {
        FUZZ_ASSERT(v.n_tokens > 0 && v.tokens != NULL);
        if (run_tok_new(&v, &t, NULL) == TRIT_OK) {
            FUZZ_ASSERT(run_tok_n_tokens(t) == v.n_tokens);
            for (int pass = 0; pass < 2; pass++) {
                int32_t *ids = NULL;
                size_t n_ids = 0;
                const char *const in = pass ? (const char *)p : sample;
                size_t const in_len = pass ? (n < 4096 ? n : 4096) : sizeof sample - 1;
                FUZZ_ASSERT(run_tok_encode(t, in, in_len, RUN_TOK_ADD_SPECIAL | RUN_TOK_PARSE_SPECIAL,
                                           &ids, &n_ids, NULL) == TRIT_OK);
                check_ids(t, ids, n_ids);
                char *text = NULL;
                size_t len = 0;
                FUZZ_ASSERT(run_tok_decode(t, ids, n_ids, RUN_TOK_RENDER_SPECIAL, &text, &len, NULL) == TRIT_OK);
                FUZZ_ASSERT(text != NULL && text[len] == '\0');
                free(text);
                free(ids);
            }
            run_tok_free(t);
        }
        run_vocab_release(&v);
    }
    trit_kvset_free(s);
}

FUZZ_TARGET(tok)
{
    if (size == 0 || size > FUZZ_MAX_INPUT) return 0;
    switch (data[0] % 3) {
    case 0: fuzz_spm(data + 1, size - 1); break;
    case 1: fuzz_bpe(data + 1, size - 1); break;
    default: fuzz_vocab(data + 1, size - 1); break;
    }
    return 0;
}
