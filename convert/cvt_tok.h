/*
 * cvt_tok.h - the tokenizer of a source checkpoint as the container's kind-3 section
 * (spec/container.md 5.2: GGUF `tokenizer.*` keys in the container's KV encoding).
 *
 * The runner's tokenizer reads exactly these keys and the GGUF exporter copies them, so they
 * follow llama.cpp's names, types and meanings:
 *
 *   tokenizer.ggml.model        string  "gpt2" (byte-level BPE) or "llama" (SentencePiece)
 *   tokenizer.ggml.pre          string  pre-tokenizer as llama.cpp names it (table below)
 *   tokenizer.ggml.tokens       string[] every token, in id order
 *   tokenizer.ggml.scores       f32[]   "llama" only: merge priority (higher merges first)
 *   tokenizer.ggml.token_type   i32[]   1 normal, 2 unknown, 3 control, 4 user defined,
 *                                       5 unused, 6 byte
 *   tokenizer.ggml.merges       string[] "gpt2" only: "left right", highest priority first
 *   tokenizer.ggml.{bos,eos,unknown,padding,seperator,cls,mask}_token_id   u32, when known
 *                               ("seperator" is llama.cpp's spelling)
 *   tokenizer.ggml.add_bos_token, add_eos_token, add_space_prefix          bool, when known
 *   tokenizer.chat_template     string, when the source has one (named templates also as
 *                               tokenizer.chat_template.<name> + tokenizer.chat_templates)
 *
 * Sources:
 *   GGUF            every tokenizer.* KV is copied with its type (cvt_tok_from_gguf).
 *   tokenizer.json  (Hugging Face) "BPE" with a ByteLevel pre-tokenizer -> "gpt2"; "BPE" with
 *                   byte_fallback or a Metaspace/"▁" normalizer, or "Unigram" -> "llama".
 *   tokenizer.model (SentencePiece ModelProto, protobuf) -> "llama".
 *   tokenizer_config.json: bos/eos/unk/pad/... tokens, add_bos/add_eos, chat_template.
 * Which vocabulary wins when several files are given: a byte-level BPE tokenizer.json; for a
 * SentencePiece model the tokenizer.model when present (it holds the real scores, the JSON
 * only a conversion of them), with tokenizer.json's added tokens laid over it; otherwise
 * tokenizer.json. This is also what llama.cpp's converter does.
 *
 * Token ids. model.vocab and added_tokens together must cover 0..n-1 with no gap (an added
 * token may replace a vocab entry's text and type). Added tokens with "special": true, or
 * that look special the way llama.cpp's converter decides (<|...|>, <｜...｜>, <unused..>,
 * <pad>, <mask>), become control (3); the others user defined (4). The unk token is unknown
 * (2); <0xXX> pieces of a byte-fallback model are byte (6). opts.pad_to appends "[PAD<id>]"
 * unused (5) tokens up to the model's embedding rows, as llama.cpp does.
 *
 * Scores of a SentencePiece-style BPE tokenizer.json (it carries merges, not scores): the
 * token made by merge rank r scores -r, so llama.cpp's score-driven SPM merging picks merges
 * in the JSON's rank order; other tokens score -(n_merges + 1) (never preferred) and special,
 * byte and unknown tokens 0. Added tokens that are not pieces of the model score -1000 in every
 * SentencePiece vocabulary, as llama.cpp's converter writes them.
 *
 * tokenizer.ggml.pre from the HF pre_tokenizer (exact regex text, documented in cvt_tok_pre.c):
 *   ByteLevel(use_regex) alone, or Split(GPT-2 regex) + ByteLevel   -> "gpt-2"
 *   Split(Llama-3 regex, \p{N}{1,3})                                -> "llama-bpe"
 *   Split(Qwen2 regex, \p{N})                                       -> "qwen2"
 *   Split(Qwen3.5 regex, [\p{L}\p{M}]+)                             -> "qwen35"
 *   Split(o200k regex, case classes + (?i:'s..)?)                   -> "gpt-4o"
 *   Split(Tekken regex)                                             -> "tekken"
 *   Digits(individual) + ByteLevel(use_regex)                       -> "starcoder"
 *   Splits starting "[\r\n]", "\s?[A-Za-z..."                       -> "deepseek-llm"
 *   Splits starting "[\r\n]", "\s?\p{L}+"                           -> "deepseek-coder"
 *   Splits starting "\p{N}{1,3}", "[一-龥..."                        -> "deepseek-v3"
 *   SentencePiece-style ("llama")                                   -> "default"
 * Anything else is TRIT_E_UNSUPPORTED naming the first regex (a wrong pre-tokenizer would
 * tokenize silently wrong), unless opts.unknown_pre_ok (then "default" plus a warning).
 * llama.cpp calls the GPT-2 one "gpt-2" (its vocab files say so), hence not "gpt2".
 *
 * Untrusted input: every file is size-capped (TRIT_MAX_TOKENIZER_FILE) and refused unless it is
 * a regular file; JSON goes through the strict scanner of src_safetensors_json.c (depth, node
 * cap, UTF-8) before cJSON; the protobuf reader uses trit_cur (bounds-checked, varints
 * overflow-checked, counts and lengths capped). Errors name the file, the byte offset where one
 * is known (protobuf, JSON syntax; JSON semantic errors give the JSON path instead) and the
 * object. Memory is O(vocabulary); nothing is quadratic.
 */
#ifndef CVT_TOK_H
#define CVT_TOK_H

#include <stddef.h>
#include <stdint.h>

#include "trit.h"

struct src_gguf;

#define CVT_TOK_NONE UINT32_MAX            /* "no such token" in cvt_tok_info */
#define CVT_TOK_SECTION_NAME "tokenizer.kv" /* name for the kind-3 section */

/* SentencePiece / llama.cpp token types. */
enum {
    CVT_TOK_NORMAL = 1, CVT_TOK_UNKNOWN = 2, CVT_TOK_CONTROL = 3, CVT_TOK_USER_DEFINED = 4,
    CVT_TOK_UNUSED = 5, CVT_TOK_BYTE = 6
};

typedef struct cvt_tok_opts {
    uint32_t pad_to;           /* model's vocabulary (embedding rows): pad with unused tokens up
                                  to it; more tokens than this is an error. 0 = no padding */
    const char *config_json;   /* config.json: <x>_token_id fallbacks; may be NULL */
    const char *chat_template; /* chat_template.jinja, used when tokenizer_config.json has no
                                  chat_template; may be NULL */
    int unknown_pre_ok;        /* unrecognised pre-tokenizer -> "default" + warning, not error */
} cvt_tok_opts;

typedef struct cvt_tok_info {
    const char *kind;          /* "bpe", "spm" or "gguf": the value of tokenizer.kind (static) */
    const char *source;        /* what gave the vocabulary: "tokenizer.json", "tokenizer.model",
                                  "gguf" (static) */
    char model[16];            /* tokenizer.ggml.model written ("" if the GGUF has none) */
    char pre[32];              /* tokenizer.ggml.pre written ("" if none) */
    uint32_t n_tokens;         /* tokens (after padding) */
    uint32_t n_merges;         /* merges written */
    uint32_t bos, eos;         /* CVT_TOK_NONE when unknown or out of range */
    uint32_t n_skipped;        /* GGUF keys not copied (nested arrays: no container encoding) */
    uint32_t n_warnings;       /* things worth telling the user; the first is in `warning` */
    char warning[224];
} cvt_tok_info;

/* Copy every tokenizer.* KV of a GGUF into out (u8..f64, bool, string and arrays of them keep
 * their types; arrays of arrays are skipped and counted in info->n_skipped). Checks that
 * tokenizer.ggml.tokens exists (TRIT_E_NOTFOUND otherwise: the GGUF has no vocabulary) and that
 * scores/token_type have one entry per token (TRIT_E_CORRUPT). info may be NULL. */
int cvt_tok_from_gguf(const struct src_gguf *g, trit_kvbuf *out, cvt_tok_info *info, trit_err *err);

/* Read the tokenizer files of a Hugging Face checkpoint (any path may be NULL; at least one of
 * tokenizer_json / tokenizer_model is needed: TRIT_E_NOTFOUND otherwise) and append the keys
 * above to out. opts and info may be NULL. Codes: TRIT_E_IO, TRIT_E_NOMEM, TRIT_E_TRUNCATED,
 * TRIT_E_CORRUPT (also: more tokens than opts.pad_to), TRIT_E_LIMIT, TRIT_E_UNSUPPORTED
 * (tokenizer type or pre-tokenizer). On failure out may hold some keys: discard it. */
int cvt_tok_from_hf_dir(const char *tokenizer_json, const char *tokenizer_model,
                        const char *tokenizer_config_json, const cvt_tok_opts *opts,
                        trit_kvbuf *out, cvt_tok_info *info, trit_err *err);

/* The same over bytes in memory (tests, fuzzing). Each buffer may be NULL; names are for
 * messages (NULL = the usual file name). Buffers are borrowed for the call only. */
typedef struct cvt_tok_buf {
    const void *p;             /* bytes, or NULL when the file is absent */
    size_t n;
    const char *name;          /* file name for messages */
} cvt_tok_buf;

typedef struct cvt_tok_src {
    cvt_tok_buf json;          /* tokenizer.json */
    cvt_tok_buf model;         /* tokenizer.model */
    cvt_tok_buf tok_config;    /* tokenizer_config.json */
    cvt_tok_buf config;        /* config.json */
    cvt_tok_buf chat_template; /* chat_template.jinja */
    uint32_t pad_to;           /* as cvt_tok_opts */
    int unknown_pre_ok;        /* as cvt_tok_opts */
} cvt_tok_src;

int cvt_tok_from_mem(const cvt_tok_src *src, trit_kvbuf *out, cvt_tok_info *info, trit_err *err);

/* Read a whole tokenizer-side file (regular files only, at most `cap` bytes, 0 = the
 * TRIT_MAX_TOKENIZER_FILE default). *buf caller frees with free(). */
int cvt_tok_load_file(const char *path, uint64_t cap, uint8_t **buf, size_t *len, trit_err *err);

/* ---- SentencePiece ModelProto ------------------------------------------------------------- */

typedef struct cvt_tok_piece {
    const uint8_t *text;       /* borrowed from the parsed buffer; NOT NUL-terminated */
    uint32_t len;              /* bytes, 1..TRIT_MAX_TOKEN_LEN */
    float score;
    uint32_t type;             /* CVT_TOK_* (1..6) */
    uint64_t off;              /* offset of the piece record in the file (messages) */
} cvt_tok_piece;

typedef struct cvt_tok_spm {
    cvt_tok_piece *pieces;     /* owned; release with cvt_tok_spm_release() */
    uint32_t n_pieces;         /* 1..TRIT_MAX_VOCAB */
    int32_t model_type;        /* trainer_spec.model_type: 1 unigram, 2 bpe, 3 word, 4 char */
    int32_t unk_id, bos_id, eos_id, pad_id;   /* trainer_spec, -1 = none (proto defaults 0/1/2/-1) */
    int byte_fallback;         /* trainer_spec.byte_fallback */
    int add_dummy_prefix;      /* normalizer_spec.add_dummy_prefix (default 1) */
    int remove_extra_whitespaces; /* normalizer_spec.remove_extra_whitespaces (default 1) */
} cvt_tok_spm;

/* Parse a tokenizer.model. The pieces borrow buf, which must outlive *out. Refused: wire
 * types 3/4 (groups), truncated or overlong varints, lengths past the end, more than
 * TRIT_MAX_VOCAB pieces, an empty or overlong piece, a type outside 1..6, a duplicate piece,
 * trainer ids that do not fit int32. On failure *out is empty. file names it in messages. */
int cvt_tok_spm_parse(const void *buf, size_t len, const char *file, cvt_tok_spm *out, trit_err *err);
void cvt_tok_spm_release(cvt_tok_spm *m);  /* NULL is ok; leaves *m empty */

#endif /* CVT_TOK_H */
