/*
 * tok.h - the runner's tokenizer: text -> token ids for `--prompt`, ids -> text for output.
 *
 * Where the vocabulary comes from: a .trit file carries the tokenizer as a section of kind 3
 * (TRIT_SECTION_TOKENIZER_KV, spec/container.md 5.2) whose bytes are GGUF-style
 * `tokenizer.ggml.*` KV records. Those keys are, as in GGUF:
 *   tokenizer.ggml.model        string  "llama" (SentencePiece BPE) or "gpt2" (byte-level BPE)
 *   tokenizer.ggml.pre          string  pre-tokenizer of a gpt2 vocab ("llama-bpe", "qwen2" ...)
 *   tokenizer.ggml.tokens       array of string, one per id (required)
 *   tokenizer.ggml.scores       array of f32 (SentencePiece merge priority)
 *   tokenizer.ggml.token_type   array of i32: 1 normal, 2 unknown, 3 control, 4 user-defined,
 *                               5 unused, 6 byte (<0xXX>)
 *   tokenizer.ggml.merges       array of string "left right", rank = index (gpt2, required)
 *   tokenizer.ggml.{bos,eos,eot,eom,unknown,seperator,padding}_token_id   u32
 *   tokenizer.ggml.add_bos_token, add_eos_token, add_space_prefix           bool
 * Absent flags and ids take llama.cpp's defaults for the model kind.
 *
 * Two steps: fill a run_vocab (a plain view of those keys; run_vocab_from_kvset() reads a
 * parsed section, and a caller may fill one by hand), then build a run_tok from it. run_tok
 * copies what it needs, so the vocab and its source may be freed right after run_tok_new().
 *
 * Behaviour follows llama.cpp (src/llama-vocab.cpp, src/unicode.cpp), whose tokenizer test
 * vectors (models/ggml-vocab-*.gguf.inp/.out) are the acceptance tests: SentencePiece merges
 * by score over UTF-8 characters with <0xXX> byte fallback and the U+2581 space marker;
 * byte-level BPE with the GPT-2 byte-to-unicode mapping, merges by rank and a hand-written
 * pre-tokenizer per regex family (gpt2, llama3, qwen2, qwen35, starcoder/command-r, default).
 * Special tokens (user-defined always, control ones with RUN_TOK_PARSE_SPECIAL) are matched
 * in the text before anything else.
 *
 * Thread-safety: a run_tok is immutable after run_tok_new(); encode and decode may run on
 * several threads at once. Links only libtrit and libc.
 */
#ifndef RUN_TOK_H
#define RUN_TOK_H

#include <stddef.h>
#include <stdint.h>

#include "trit.h"

/* Model kinds (tokenizer.ggml.model). */
enum {
    RUN_TOK_SPM = 1,   /* "llama": SentencePiece */
    RUN_TOK_BPE = 2    /* "gpt2": byte-level BPE */
};

/* Token types (tokenizer.ggml.token_type values). */
enum {
    RUN_TOK_TYPE_UNDEFINED = 0, RUN_TOK_TYPE_NORMAL = 1, RUN_TOK_TYPE_UNKNOWN = 2,
    RUN_TOK_TYPE_CONTROL = 3, RUN_TOK_TYPE_USER_DEFINED = 4, RUN_TOK_TYPE_UNUSED = 5,
    RUN_TOK_TYPE_BYTE = 6
};

/* A string borrowed from the vocabulary's source; not NUL-terminated. */
typedef struct run_str {
    const char *p;
    uint32_t n;
} run_str;

/* The tokenizer keys as read from a source. Arrays are owned by the vocab (released by
 * run_vocab_release()); the bytes the run_str point to are borrowed from the source, which
 * must outlive the vocab until run_tok_new() has copied them. Ids and flags use -1 for "not
 * given" (the model kind's default then applies). */
typedef struct run_vocab {
    uint32_t model;            /* RUN_TOK_SPM or RUN_TOK_BPE */
    char pre[64];              /* tokenizer.ggml.pre, "" when absent */
    char name[64];             /* general.name when the caller knows it ("" if not): enables
                                  llama.cpp's per-model token quirks (phi-3) */
    uint32_t n_tokens;         /* >= 1 */
    run_str *tokens;           /* n_tokens texts, index = id */
    float *scores;             /* n_tokens scores, or NULL (all 0) */
    int32_t *types;            /* n_tokens RUN_TOK_TYPE_*, or NULL (all normal) */
    uint32_t n_merges;         /* BPE merges (0 for SPM) */
    run_str *merges;           /* "left right", rank = index */
    int64_t bos_id, eos_id, eot_id, eom_id, unk_id, sep_id, pad_id;  /* -1 = not given */
    int add_bos, add_eos, add_space_prefix;                         /* 0/1, -1 = not given */
} run_vocab;

/* An empty vocab (all ids and flags "not given"). */
void run_vocab_init(run_vocab *v);
/* Free the arrays of v (not the borrowed strings) and re-init it. NULL is ok. */
void run_vocab_release(run_vocab *v);

/* Read the tokenizer keys from any KV store through these callbacks (index-based, like
 * trit_kvset and src_gguf). Every getter returns TRIT_OK or non-zero when the value is not of
 * that kind; strings are borrowed and not NUL-terminated. */
typedef struct run_kv_src {
    const void *ctx;
    const char *name;          /* for error messages ("model.trit"), may be NULL */
    int64_t (*find)(const void *ctx, const char *key);                   /* -1 if absent */
    int (*is_array)(const void *ctx, int64_t i, uint64_t *count);        /* 1 + count, or 0 */
    int (*str)(const void *ctx, int64_t i, const char **s, uint64_t *n);
    int (*u64)(const void *ctx, int64_t i, uint64_t *out);               /* unsigned, bool */
    int (*arr_str)(const void *ctx, int64_t i, uint64_t j, const char **s, uint64_t *n);
    int (*arr_f64)(const void *ctx, int64_t i, uint64_t j, double *out);
    int (*arr_i64)(const void *ctx, int64_t i, uint64_t j, int64_t *out);
} run_kv_src;

/* Fill v (run_vocab_init'ed or released) from src. On failure v is released. Errors:
 * TRIT_E_NOTFOUND (tokenizer.ggml.model, tokens, or gpt2 merges missing), TRIT_E_CORRUPT (a
 * key of the wrong type, a short scores/token_type array), TRIT_E_UNSUPPORTED (a model kind
 * other than llama/gpt2), TRIT_E_LIMIT (more than RUN_TOK_MAX_TOKENS tokens or merges),
 * TRIT_E_NOMEM. err->where names the key. */
int run_vocab_load(const run_kv_src *src, run_vocab *v, trit_err *err);
/* The same over a parsed kind-3 section (trit_reader_section_kv()). The strings are borrowed
 * from the set's buffer. file may be NULL. */
int run_vocab_from_kvset(const trit_kvset *s, const char *file, run_vocab *v, trit_err *err);

#define RUN_TOK_MAX_TOKENS (16u << 20)   /* tokens and merges in one vocabulary */

typedef struct run_tok run_tok;

/* Build a tokenizer from v (copied: v and its source may be freed afterwards). Load is
 * O(n_tokens + n_merges) with hash tables. Errors: TRIT_E_CORRUPT (empty token list),
 * TRIT_E_UNSUPPORTED (unknown pre-tokenizer name for a gpt2 vocab), TRIT_E_NOMEM,
 * TRIT_E_LIMIT. *out caller frees with run_tok_free(). */
int run_tok_new(const run_vocab *v, run_tok **out, trit_err *err);
void run_tok_free(run_tok *t);   /* NULL is ok */

#define RUN_TOK_ADD_SPECIAL   1u   /* add BOS / EOS where the vocabulary asks for them */
#define RUN_TOK_PARSE_SPECIAL 2u   /* also match control tokens ("<|im_start|>") in the text */

/* Tokenize len bytes of text (any bytes; invalid UTF-8 is handled as llama.cpp does). On
 * success *ids (caller frees with free(); NULL when *n is 0) holds *n ids. Errors:
 * TRIT_E_NOMEM, TRIT_E_LIMIT (text over RUN_TOK_MAX_TEXT bytes). */
#define RUN_TOK_MAX_TEXT (256u << 20)
int run_tok_encode(const run_tok *t, const char *text, size_t len, unsigned flags,
                   int32_t **ids, size_t *n, trit_err *err);

#define RUN_TOK_RENDER_SPECIAL 1u  /* decode control/unknown tokens as their text (else "") */
#define RUN_TOK_REMOVE_SPECIAL 2u  /* drop the BOS/EOS run_tok_encode(ADD_SPECIAL) added */

/* The bytes of one token, as generation output shows them: SentencePiece U+2581 -> space,
 * <0xXX> -> that byte, byte-level BPE characters -> their bytes. Writes min(size, cap) bytes
 * to buf (no NUL) and returns size, like snprintf; 0 for an id out of range. A piece may be a
 * partial UTF-8 sequence: concatenate pieces before printing. */
size_t run_tok_piece(const run_tok *t, int32_t id, unsigned flags, char *buf, size_t cap);
/* Detokenize a sequence as llama.cpp's llama_detokenize does: the space a SentencePiece
 * vocab's add_space_prefix put first is removed, and vocabs trained with Hugging Face's
 * clean_up_tokenization_spaces get " ," -> "," etc. *text is NUL-terminated (caller frees
 * with free()), *len excludes the NUL. Errors: TRIT_E_NOMEM. */
int run_tok_decode(const run_tok *t, const int32_t *ids, size_t n, unsigned flags, char **text,
                   size_t *len, trit_err *err);

/* ---- facts ---------------------------------------------------------------------------- */
uint32_t run_tok_n_tokens(const run_tok *t);
uint32_t run_tok_model(const run_tok *t);              /* RUN_TOK_SPM / RUN_TOK_BPE */
int32_t run_tok_bos(const run_tok *t);                 /* -1 when none */
int32_t run_tok_eos(const run_tok *t);                 /* -1 when none */
/* 1 if id ends generation (eos, eot, eom and the end-of-turn texts llama.cpp knows). */
int run_tok_is_eog(const run_tok *t, int32_t id);
/* Id of a token text, or -1. */
int32_t run_tok_find(const run_tok *t, const char *s, size_t n);
/* Stored text of id (as in the vocabulary, e.g. "\xe2\x96\x81Hello" or "ĠHello"); borrowed,
 * valid until run_tok_free(), NUL-terminated; NULL for an id out of range. */
const char *run_tok_text(const run_tok *t, int32_t id, size_t *n);

#endif /* RUN_TOK_H */
