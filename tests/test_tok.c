/* test_tok.c - the tokenizer on small hand-made vocabularies: SentencePiece score order and
 * byte fallback, BPE rank order, special tokens, each pre-tokenizer family, decoding, and
 * refusal of bad tokenizer keys. The real vocabularies are in test_tok_fixtures.c. */
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "test_tok.h"
#include "tok_int.h"

#define SP "\xe2\x96\x81"   /* U+2581, SentencePiece's space */

/* ---- helpers ------------------------------------------------------------------------- */

/* A vocab over texts[] (borrowed, NUL-terminated). */
static void vocab_of(run_vocab *v, uint32_t model, const char *const *texts, const float *scores,
                     const int32_t *types, uint32_t n)
{
    run_vocab_init(v);
    v->model = model;
    v->n_tokens = n;
    v->tokens = calloc(n, sizeof *v->tokens);
    if (scores) v->scores = calloc(n, sizeof *v->scores);
    if (types) v->types = calloc(n, sizeof *v->types);
    for (uint32_t i = 0; i < n && v->tokens; i++) {
        v->tokens[i].p = texts[i];
        v->tokens[i].n = (uint32_t)strlen(texts[i]);
        if (v->scores) v->scores[i] = scores[i];
        if (v->types) v->types[i] = types[i];
    }
}

static void set_merges(run_vocab *v, const char *const *m, uint32_t n)
{
    v->n_merges = n;
    v->merges = calloc(n ? n : 1, sizeof *v->merges);
    for (uint32_t i = 0; i < n && v->merges; i++) {
        v->merges[i].p = m[i];
        v->merges[i].n = (uint32_t)strlen(m[i]);
    }
}

/* Encode s and compare with want[0..n_want). */
static void check_ids(const run_tok *t, const char *s, unsigned flags, const int32_t *want, size_t n_want)
{
    int32_t *ids = NULL;
    size_t n = 0;
    trit_err err;
    CHECK_OK_E(run_tok_encode(t, s, strlen(s), flags, &ids, &n, &err), &err);
    int const same = n == n_want && (n == 0 || memcmp(ids, want, n * sizeof *ids) == 0);
    if (!same) {
        test_fail_(__FILE__, __LINE__, "'%s': %zu ids, want %zu", s, n, n_want);
        for (size_t i = 0; i < n; i++) fprintf(stderr, " %d", ids[i]);
        fprintf(stderr, "\n");
    }
    free(ids);
}

static void check_decode(const run_tok *t, const int32_t *ids, size_t n, unsigned flags, const char *want,
                         size_t want_len)
{
    char *text = NULL;
    size_t len = 0;
    trit_err err;
    CHECK_OK_E(run_tok_decode(t, ids, n, flags, &text, &len, &err), &err);
    CHECK_EQ_U64(len, want_len);
    CHECK(text && len == want_len && memcmp(text, want, len) == 0);
    free(text);
}

/* ---- SentencePiece ------------------------------------------------------------------- */

/* <unk>, <s>, </s>, 256 byte tokens, then a few pieces with scores. */
enum { S_SP = 259, S_A, S_B, S_C, S_AB, S_BC, S_SPA, S_ABC, S_USER, S_N };

typedef struct spm_fix {
    char bytes[256][8];
    const char *texts[S_N];
    float scores[S_N];
    int32_t types[S_N];
    run_vocab v;
} spm_fix;

static void spm_vocab(spm_fix *f)
{
    static const char *const pieces[] = { SP, "a", "b", "c", "ab", "bc", SP "a", "abc", "<|user|>" };
    static const float sc[] = { -1.0f, -2.0f, -2.0f, -2.0f, -0.5f, -0.3f, -0.4f, -0.1f, 0.0f };
    f->texts[0] = "<unk>", f->texts[1] = "<s>", f->texts[2] = "</s>";
    f->types[0] = RUN_TOK_TYPE_UNKNOWN, f->types[1] = f->types[2] = RUN_TOK_TYPE_CONTROL;
    for (int b = 0; b < 256; b++) {
        snprintf(f->bytes[b], sizeof f->bytes[b], "<0x%02X>", (unsigned)b);
        f->texts[3 + b] = f->bytes[b];
        f->types[3 + b] = RUN_TOK_TYPE_BYTE;
        f->scores[3 + b] = 0;
    }
    for (int i = 0; i < S_N - S_SP; i++) {
        f->texts[S_SP + i] = pieces[i];
        f->scores[S_SP + i] = sc[i];
        f->types[S_SP + i] = RUN_TOK_TYPE_NORMAL;
    }
    f->types[S_USER] = RUN_TOK_TYPE_USER_DEFINED;
    vocab_of(&f->v, RUN_TOK_SPM, f->texts, f->scores, f->types, S_N);
}

static run_tok *spm_new(spm_fix *f)
{
    run_tok *t = NULL;
    trit_err err;
    CHECK_OK_E(run_tok_new(&f->v, &t, &err), &err);
    return t;
}

TEST(tok_spm_merges_by_score)
{
    spm_fix f;
    spm_vocab(&f);
    run_tok *t = spm_new(&f);
    run_vocab_release(&f.v);
    if (!t) return;
    /* "▁abc": bc (-0.3) first, then a+bc = abc (-0.1); ▁a (-0.4) is stale by then */
    check_ids(t, "abc", 0, (const int32_t[]){ S_SP, S_ABC }, 2);
    /* without abc reachable: "▁ab" -> ▁a (-0.4) beats ab (-0.5) */
    check_ids(t, "ab", 0, (const int32_t[]){ S_SPA, S_B }, 2);
    /* add_bos is SentencePiece's default */
    check_ids(t, "ab", RUN_TOK_ADD_SPECIAL, (const int32_t[]){ 1, S_SPA, S_B }, 3);
    check_ids(t, "", 0, NULL, 0);
    check_ids(t, "", RUN_TOK_ADD_SPECIAL, (const int32_t[]){ 1 }, 1);
    /* two spaces: ▁▁ is no token, each ▁ is */
    check_ids(t, " c", 0, (const int32_t[]){ S_SP, S_SP, S_C }, 3);
    run_tok_free(t);
}

TEST(tok_spm_byte_fallback)
{
    spm_fix f;
    spm_vocab(&f);
    run_tok *t = spm_new(&f);
    run_vocab_release(&f.v);
    if (!t) return;
    /* é is no token: its UTF-8 bytes; an invalid byte falls back the same way */
    check_ids(t, "\xc3\xa9", 0, (const int32_t[]){ S_SP, 3 + 0xC3, 3 + 0xA9 }, 3);
    check_ids(t, "a\xff", 0, (const int32_t[]){ S_SPA, 3 + 0xFF }, 2);
    /* a lead byte announcing more bytes than remain is one piece, then its bytes */
    check_ids(t, "\xe2\x96", 0, (const int32_t[]){ S_SP, 3 + 0xE2, 3 + 0x96 }, 3);
    /* decoding gives the bytes back, without the prefix space */
    check_decode(t, (const int32_t[]){ S_SP, 3 + 0xC3, 3 + 0xA9 }, 3, 0, "\xc3\xa9", 2);
    check_decode(t, (const int32_t[]){ S_SPA, 3 + 0xFF }, 2, 0, "a\xff", 2);
    check_decode(t, (const int32_t[]){ 3 + 0x00 }, 1, 0, "\0", 1);
    run_tok_free(t);
}

TEST(tok_spm_special_tokens)
{
    spm_fix f;
    spm_vocab(&f);
    run_tok *t = spm_new(&f);
    if (!t) {
        run_vocab_release(&f.v);
        return;
    }
    /* user-defined tokens are always matched; text after a special token gets the space */
    check_ids(t, "ab<|user|>ab", 0, (const int32_t[]){ S_SPA, S_B, S_USER, S_SPA, S_B }, 5);
    /* control tokens only with PARSE_SPECIAL: else "</s>" is plain text (bytes here) */
    check_ids(t, "</s>", RUN_TOK_PARSE_SPECIAL, (const int32_t[]){ 2 }, 1);
    check_ids(t, "</s>", 0, (const int32_t[]){ S_SP, 3 + '<', 3 + '/', 3 + 's', 3 + '>' }, 5);
    /* pieces: control tokens are empty unless rendered; snprintf-style truncation */
    char buf[16];
    CHECK_EQ_U64(run_tok_piece(t, 2, 0, buf, sizeof buf), 0);
    CHECK_EQ_U64(run_tok_piece(t, 2, RUN_TOK_RENDER_SPECIAL, buf, sizeof buf), 4);
    CHECK(memcmp(buf, "</s>", 4) == 0);
    CHECK_EQ_U64(run_tok_piece(t, S_USER, 0, buf, 3), 8);
    CHECK(memcmp(buf, "<|u", 3) == 0);
    CHECK_EQ_U64(run_tok_piece(t, S_SPA, 0, NULL, 0), 2);   /* " a" */
    CHECK_EQ_U64(run_tok_piece(t, -1, 0, buf, sizeof buf), 0);
    CHECK_EQ_U64(run_tok_piece(t, S_N, 0, buf, sizeof buf), 0);
    /* REMOVE_SPECIAL drops the BOS encode added; then the first space stays */
    check_decode(t, (const int32_t[]){ 1, S_SPA, S_B }, 3, RUN_TOK_REMOVE_SPECIAL, " ab", 3);
    /* without it the BOS is the first token, so the space is not the prefix one */
    check_decode(t, (const int32_t[]){ 1, S_SPA, S_B }, 3, 0, " ab", 3);
    check_decode(t, (const int32_t[]){ S_SPA, S_B }, 2, 0, "ab", 2);
    check_decode(t, (const int32_t[]){ 1, S_SPA }, 2, RUN_TOK_RENDER_SPECIAL, "<s> a", 5);
    CHECK(run_tok_is_eog(t, 2));
    CHECK(!run_tok_is_eog(t, 1));
    CHECK_EQ_INT(run_tok_bos(t), 1);
    CHECK_EQ_INT(run_tok_eos(t), 2);
    run_tok_free(t);

    /* phi-3 (by general.name): spaces after its special tokens are stripped */
    snprintf(f.v.name, sizeof f.v.name, "Phi-3-mini");
    t = spm_new(&f);
    run_vocab_release(&f.v);
    if (!t) return;
    check_ids(t, "<|user|>  ab", 0, (const int32_t[]){ S_USER, S_SPA, S_B }, 3);
    run_tok_free(t);
}

/* ---- byte-level BPE ------------------------------------------------------------------ */

/* GPT-2's bytes_to_unicode, written out again here so the test does not trust the code under
 * test: printable bytes stand for themselves, the others become U+0100.. in byte order. */
static uint32_t gpt2_cpt(int b)
{
    int n = 0;
    for (int c = 0; c < 256; c++) {
        int const printable = (c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE);
        if (c == b) return printable ? (uint32_t)c : 256u + (uint32_t)n;
        if (!printable) n++;
    }
    return 0;
}

static void put_cpt(char *o, uint32_t c)
{
    if (c < 0x80) o[0] = (char)c, o[1] = 0;
    else o[0] = (char)(0xC0 | (c >> 6)), o[1] = (char)(0x80 | (c & 0x3F)), o[2] = 0;
}

/* 256 byte tokens (id = byte), then merged tokens and two specials. */
enum { B_AB = 256, B_BC, B_GA, B_ABC, B_GAB, B_GCOMMA, B_IMEND, B_USER, B_N };

typedef struct bpe_fix {
    char bytes[256][4];
    const char *texts[B_N];
    int32_t types[B_N];
    run_vocab v;
} bpe_fix;

static void bpe_vocab(bpe_fix *f, const char *pre, const char *const *merges, uint32_t n_merges)
{
    static const char *const extra[] = { "ab", "bc", "\304\240a", "abc", "\304\240ab", "\304\240,",
                                         "<|im_end|>", "<tool>" };
    for (int b = 0; b < 256; b++) {
        put_cpt(f->bytes[b], gpt2_cpt(b));
        f->texts[b] = f->bytes[b];
        f->types[b] = RUN_TOK_TYPE_NORMAL;
    }
    for (int i = 0; i < B_N - 256; i++) {
        f->texts[256 + i] = extra[i];
        f->types[256 + i] = RUN_TOK_TYPE_NORMAL;
    }
    f->types[B_IMEND] = RUN_TOK_TYPE_USER_DEFINED;   /* llama.cpp forces it to control */
    f->types[B_USER] = RUN_TOK_TYPE_USER_DEFINED;
    vocab_of(&f->v, RUN_TOK_BPE, f->texts, NULL, f->types, B_N);
    snprintf(f->v.pre, sizeof f->v.pre, "%s", pre);
    set_merges(&f->v, merges, n_merges);
    f->v.bos_id = B_USER;   /* any valid id; the tests below say when it is added */
}

static run_tok *bpe_new(bpe_fix *f)
{
    run_tok *t = NULL;
    trit_err err;
    CHECK_OK_E(run_tok_new(&f->v, &t, &err), &err);
    run_vocab_release(&f->v);
    return t;
}

TEST(tok_bpe_merges_by_rank)
{
    static const char *const m1[] = { "a b", "b c", "ab c", "\304\240 a", "\304\240a b", "\304\240 ," };
    static const char *const m2[] = { "b c", "a b", "ab c", "\304\240 a", "\304\240a b", "\304\240 ," };
    bpe_fix f;
    bpe_vocab(&f, "gpt-2", m1, 6);
    run_tok *t = bpe_new(&f);
    if (t) {
        check_ids(t, "abc", 0, (const int32_t[]){ B_ABC }, 1);            /* ab, then ab+c */
        /* Ġabc: ab (rank 0) then ab+c (rank 2) before Ġ+a (rank 3) */
        check_ids(t, "ab abc", 0, (const int32_t[]){ B_AB, ' ', B_ABC }, 3);
        /* Ġab: a+b (rank 0) first, after which Ġ+a (3) and Ġa+b (4) cannot apply */
        check_ids(t, "ab ab", 0, (const int32_t[]){ B_AB, ' ', B_AB }, 3);
        check_ids(t, "ab a", 0, (const int32_t[]){ B_AB, B_GA }, 2);
        check_ids(t, "a ,", 0, (const int32_t[]){ 'a', B_GCOMMA }, 2);
        check_ids(t, "\n", 0, (const int32_t[]){ '\n' }, 1);              /* Ċ: byte 10 */
        /* an invalid byte becomes U+FFFD, i.e. bytes EF BF BD, each its own token */
        check_ids(t, "\xff", 0, (const int32_t[]){ 0xEF, 0xBF, 0xBD }, 3);
        check_ids(t, "x", RUN_TOK_ADD_SPECIAL, (const int32_t[]){ 'x' }, 1);   /* gpt-2: no BOS */
        /* decode: GPT-2 characters back to bytes; clean_up_tokenization_spaces (" ," -> ",") */
        check_decode(t, (const int32_t[]){ B_AB, ' ', B_ABC }, 3, 0, "ab abc", 6);
        check_decode(t, (const int32_t[]){ 'a', B_GCOMMA }, 2, 0, "a,", 2);
        check_decode(t, (const int32_t[]){ 0xEF, 0xBF, 0xBD }, 3, 0, "\xef\xbf\xbd", 3);
        char buf[8];
        CHECK_EQ_U64(run_tok_piece(t, B_GAB, 0, buf, sizeof buf), 3);
        CHECK(memcmp(buf, " ab", 3) == 0);
        CHECK_EQ_U64(run_tok_piece(t, '\n', 0, buf, sizeof buf), 1);
        CHECK(buf[0] == '\n');
        run_tok_free(t);
    }
    bpe_vocab(&f, "gpt-2", m2, 6);    /* b c first: "abc" -> a, bc (no "a bc" merge) */
    t = bpe_new(&f);
    if (t) {
        check_ids(t, "abc", 0, (const int32_t[]){ 'a', B_BC }, 2);
        run_tok_free(t);
    }
}

TEST(tok_bpe_special_tokens)
{
    static const char *const m[] = { "a b" };
    bpe_fix f;
    bpe_vocab(&f, "qwen2", m, 1);
    f.v.add_bos = 1;
    run_tok *t = bpe_new(&f);
    if (!t) return;
    /* <|im_end|> is an end-of-turn text: control type, so it is text unless PARSE_SPECIAL */
    CHECK(run_tok_is_eog(t, B_IMEND));
    CHECK(!run_tok_is_eog(t, 'a'));
    check_ids(t, "ab<|im_end|>", RUN_TOK_PARSE_SPECIAL, (const int32_t[]){ B_AB, B_IMEND }, 2);
    int32_t *ids = NULL;
    size_t n = 0;
    trit_err err;
    CHECK_OK_E(run_tok_encode(t, "<|im_end|>", 10, 0, &ids, &n, &err), &err);
    CHECK(n > 1);
    free(ids);
    /* a user-defined token is matched always, with the text around it split apart */
    check_ids(t, "ab<tool>ab", 0, (const int32_t[]){ B_AB, B_USER, B_AB }, 3);
    check_ids(t, "<tool><tool>", 0, (const int32_t[]){ B_USER, B_USER }, 2);
    /* add_bos_token from the vocab */
    check_ids(t, "ab", RUN_TOK_ADD_SPECIAL, (const int32_t[]){ B_USER, B_AB }, 2);
    CHECK_EQ_INT(run_tok_find(t, "<tool>", 6), B_USER);
    CHECK_EQ_INT(run_tok_find(t, "<tool", 5), -1);
    size_t tl = 0;
    CHECK_STR(run_tok_text(t, B_AB, &tl), "ab");
    CHECK_EQ_U64(tl, 2);
    CHECK(run_tok_text(t, B_N, NULL) == NULL);
    CHECK_EQ_U64(run_tok_n_tokens(t), B_N);
    CHECK_EQ_U64(run_tok_model(t), RUN_TOK_BPE);
    run_tok_free(t);
}

/* llama3 pre-tokenizers take a word that is a token whole (ignore_merges). */
TEST(tok_bpe_ignore_merges)
{
    static const char *const m[] = { "a b", "b c" };   /* no merge reaches "abc" */
    bpe_fix f;
    bpe_vocab(&f, "gpt-2", m, 2);
    run_tok *t = bpe_new(&f);
    if (t) {
        check_ids(t, "abc", 0, (const int32_t[]){ B_AB, 'c' }, 2);
        run_tok_free(t);
    }
    bpe_vocab(&f, "llama-bpe", m, 2);
    t = bpe_new(&f);
    if (t) {
        check_ids(t, "abc", 0, (const int32_t[]){ B_ABC }, 1);
        check_ids(t, "abc", RUN_TOK_ADD_SPECIAL, (const int32_t[]){ B_USER, B_ABC }, 2);  /* llama3 adds BOS */
        run_tok_free(t);
    }
}

/* ---- pre-tokenizers ------------------------------------------------------------------ */

/* Words of s joined by '|'. */
static void check_split(uint32_t pre, const char *s, const char *want)
{
    size_t const len = strlen(s);
    uint32_t *cpts = calloc(len + 1, sizeof *cpts);
    run_tok__svec words = { NULL, 0, 0 };
    char out[512];
    size_t o = 0, c = 0;
    if (!cpts) return;
    size_t const n = run_tok__utf8_decode((const uint8_t *)s, len, cpts);
    CHECK_EQ_INT(run_tok__pre_split(pre, cpts, n, &words), TRIT_OK);
    for (size_t w = 0; w < words.n; w++) {
        if (w) out[o++] = '|';
        for (size_t k = 0; k < words.v[w]; k++) o += run_tok__utf8_put(cpts[c++], out + o);
    }
    out[o] = '\0';
    CHECK_EQ_U64(c, n);
    CHECK_STR(out, want);
    free(words.v);
    free(cpts);
}

TEST(tok_pre_split_families)
{
    check_split(RUN_TOK_PRE_GPT2, "Hello world's  test 123!!", "Hello| world|'s| | test| 123|!!");
    check_split(RUN_TOK_PRE_GPT2, "I'M x  ", "I|'|M| x|  ");              /* case-sensitive */
    check_split(RUN_TOK_PRE_GPT2, "\xc3\xa9t\xc3\xa9 \342\202\2545", "\xc3\xa9t\xc3\xa9| \342\202\254|5");
    check_split(RUN_TOK_PRE_LLAMA3, "Hello 12345 I'M\n\n  x", "Hello| |123|45| I|'M|\n\n| | x");
    check_split(RUN_TOK_PRE_LLAMA3, "a...\n\nb", "a|...\n\n|b");
    check_split(RUN_TOK_PRE_LLAMA3, " \t\n x", " \t\n| x");
    check_split(RUN_TOK_PRE_QWEN2, "x12345", "x|1|2|3|4|5");
    /* a combining mark: qwen2 cuts the word there, qwen35 keeps it in */
    check_split(RUN_TOK_PRE_QWEN2, "ae\xcc\x81x", "ae|\xcc\x81x");
    check_split(RUN_TOK_PRE_QWEN35, "ae\xcc\x81x", "ae\xcc\x81x");
    check_split(RUN_TOK_PRE_STARCODER, "ab12 cd", "ab|1|2| cd");
    check_split(RUN_TOK_PRE_DEFAULT, "a,b 1234", "a|,|b| |123|4");
    check_split(RUN_TOK_PRE_GPT2, "", "");
}

/* ---- vocabulary keys ----------------------------------------------------------------- */

/* Build a KV blob with the given keys, parse it and load a vocab; returns the code. The
 * vocab's strings point into the blob, returned in *keep (caller frees with trit_kvbuf_free). */
typedef enum { K_NO_MODEL, K_MODEL_BERT, K_MODEL_U32, K_TOKENS_STR, K_TOKENS_U32, K_TOKENS_EMPTY,
               K_SCORES_SHORT, K_NO_MERGES, K_FLAG_STR, K_PRE_LONG, K_OK } kv_case;

static int load_case(kv_case k, run_vocab *v, trit_kvbuf **keep, trit_err *err)
{
    static const char *const toks[] = { "a", "b", "ab" };
    static const char *const merges[] = { "a b" };
    float const scores[2] = { 0, 0 };
    uint32_t const u[3] = { 1, 2, 3 };
    trit_kvbuf *b = trit_kvbuf_new();
    trit_kvset *s = NULL;
    const void *data;
    uint64_t len;
    int rc;
    if (!b) return TRIT_E_NOMEM;
    if (k == K_MODEL_BERT) trit_kvbuf_str(b, "tokenizer.ggml.model", "bert", 4, err);
    else if (k == K_MODEL_U32) trit_kvbuf_u32(b, "tokenizer.ggml.model", 2, err);
    else if (k != K_NO_MODEL) trit_kvbuf_str(b, "tokenizer.ggml.model", "gpt2", 4, err);
    if (k == K_PRE_LONG) {
        char pre[100];
        memset(pre, 'x', sizeof pre);
        trit_kvbuf_str(b, "tokenizer.ggml.pre", pre, sizeof pre, err);
    } else {
        trit_kvbuf_str(b, "tokenizer.ggml.pre", "gpt-2", 5, err);
    }
    if (k == K_TOKENS_STR) trit_kvbuf_str(b, "tokenizer.ggml.tokens", "ab", 2, err);
    else if (k == K_TOKENS_U32) trit_kvbuf_arr(b, "tokenizer.ggml.tokens", TRIT_KV_U32, u, 3, err);
    else if (k == K_TOKENS_EMPTY) trit_kvbuf_arr_str(b, "tokenizer.ggml.tokens", toks, NULL, 0, err);
    else trit_kvbuf_arr_str(b, "tokenizer.ggml.tokens", toks, NULL, 3, err);
    if (k == K_SCORES_SHORT) trit_kvbuf_arr(b, "tokenizer.ggml.scores", TRIT_KV_F32, scores, 2, err);
    if (k != K_NO_MERGES) trit_kvbuf_arr_str(b, "tokenizer.ggml.merges", merges, NULL, 1, err);
    if (k == K_FLAG_STR) trit_kvbuf_str(b, "tokenizer.ggml.add_bos_token", "yes", 3, err);
    else trit_kvbuf_bool(b, "tokenizer.ggml.add_bos_token", 0, err);
    trit_kvbuf_u32(b, "tokenizer.ggml.eos_token_id", 1, err);
    rc = trit_kvbuf_data(b, &data, &len, err);
    if (rc == TRIT_OK) rc = trit_kvset_parse(data, len, 0, "blob", &s, err);
    if (rc == TRIT_OK) rc = run_vocab_from_kvset(s, "model.trit", v, err);
    trit_kvset_free(s);
    *keep = b;
    return rc;
}

TEST(tok_vocab_refusals)
{
    static const struct { kv_case k; int code; const char *where; } cases[] = {
        { K_NO_MODEL, TRIT_E_NOTFOUND, "key 'tokenizer.ggml.model'" },
        { K_MODEL_BERT, TRIT_E_UNSUPPORTED, "key 'tokenizer.ggml.model'" },
        { K_MODEL_U32, TRIT_E_CORRUPT, "key 'tokenizer.ggml.model'" },
        { K_TOKENS_STR, TRIT_E_CORRUPT, "key 'tokenizer.ggml.tokens'" },
        { K_TOKENS_U32, TRIT_E_CORRUPT, "key 'tokenizer.ggml.tokens'" },
        { K_TOKENS_EMPTY, TRIT_E_CORRUPT, "key 'tokenizer.ggml.tokens'" },
        { K_SCORES_SHORT, TRIT_E_CORRUPT, "key 'tokenizer.ggml.scores'" },
        { K_NO_MERGES, TRIT_E_NOTFOUND, "key 'tokenizer.ggml.merges'" },
        { K_FLAG_STR, TRIT_E_CORRUPT, "key 'tokenizer.ggml.add_bos_token'" },
        { K_PRE_LONG, TRIT_E_UNSUPPORTED, "key 'tokenizer.ggml.pre'" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run_vocab v;
        trit_err err;
        trit_kvbuf *keep = NULL;
        trit_err_clear(&err);
        CHECK_EQ_INT(load_case(cases[i].k, &v, &keep, &err), cases[i].code);
        trit_kvbuf_free(keep);
        CHECK_STR(err.where, cases[i].where);
        CHECK_STR(err.file, "model.trit");
        CHECK(v.tokens == NULL && v.n_tokens == 0);   /* released on failure */
    }
    run_vocab v;
    trit_err err;
    run_tok *t = NULL;
    trit_kvbuf *keep = NULL;
    CHECK_OK_E(load_case(K_OK, &v, &keep, &err), &err);
    CHECK_EQ_U64(v.n_tokens, 3);
    CHECK_EQ_U64(v.n_merges, 1);
    CHECK_EQ_INT(v.add_bos, 0);
    CHECK_EQ_INT(v.eos_id, 1);
    CHECK_EQ_INT(v.bos_id, -1);
    CHECK_STR(v.pre, "gpt-2");
    CHECK_OK_E(run_tok_new(&v, &t, &err), &err);
    if (t) check_ids(t, "ab", 0, (const int32_t[]){ 2 }, 1);
    run_tok_free(t);

    /* run_tok_new: unknown pre-tokenizer; add_bos without a bos token */
    snprintf(v.pre, sizeof v.pre, "no-such-pre");
    CHECK_EQ_INT(run_tok_new(&v, &t, &err), TRIT_E_UNSUPPORTED);
    CHECK(t == NULL);
    CHECK(strstr(err.msg, "no-such-pre") != NULL);
    snprintf(v.pre, sizeof v.pre, "gpt-2");
    v.add_bos = 1;     /* gpt2's default bos id 11 is out of range here */
    CHECK_EQ_INT(run_tok_new(&v, &t, &err), TRIT_E_CORRUPT);
    run_vocab_release(&v);
    trit_kvbuf_free(keep);
    run_vocab_release(NULL);
}

TEST(tok_limits_and_edges)
{
    static const char *const m[] = { "a b" };
    bpe_fix f;
    bpe_vocab(&f, "gpt-2", m, 1);
    run_tok *t = bpe_new(&f);
    if (!t) return;
    int32_t dummy = 0;
    int32_t *ids = &dummy;   /* must be reset to NULL */
    size_t n = 99;
    trit_err err;
    CHECK_EQ_INT(run_tok_encode(t, "x", (size_t)RUN_TOK_MAX_TEXT + 1, 0, &ids, &n, &err), TRIT_E_LIMIT);
    CHECK(ids == NULL && n == 0);
    /* empty text: no ids and a NULL array */
    CHECK_OK_E(run_tok_encode(t, "", 0, 0, &ids, &n, &err), &err);
    CHECK(ids == NULL && n == 0);
    /* a long run of one letter and of spaces (one word each): merges stay linear-ish */
    size_t const big = 200000;
    char *s = malloc(big);
    if (s) {
        for (size_t i = 0; i < big; i++) s[i] = (char)((i & 1) ? 'b' : 'a');
        CHECK_OK_E(run_tok_encode(t, s, big, 0, &ids, &n, &err), &err);
        CHECK_EQ_U64(n, big / 2);
        CHECK(ids && ids[0] == B_AB && ids[n - 1] == B_AB);
        free(ids);
        memset(s, ' ', big);
        CHECK_OK_E(run_tok_encode(t, s, big, 0, &ids, &n, &err), &err);
        CHECK_EQ_U64(n, big);   /* no merges for Ġ: one token per space */
        free(ids);
        free(s);
    }
    run_tok_free(t);
    /* a vocab with no tokens is refused */
    run_vocab v;
    run_vocab_init(&v);
    v.model = RUN_TOK_SPM;
    CHECK_EQ_INT(run_tok_new(&v, &t, &err), TRIT_E_CORRUPT);
    CHECK(t == NULL);
    run_tok_free(NULL);
}
