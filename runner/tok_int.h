/*
 * tok_int.h - internals shared by the runner/tok_*.c files (not a public API).
 */
#ifndef RUN_TOK_INT_H
#define RUN_TOK_INT_H

#include <stddef.h>
#include <stdint.h>

#include "tok.h"

/* ---- Unicode (tok_unicode.c, tok_unicode_data.c) ------------------------------------- */

/* General-category classes of tools/gen_tok_unicode.py. */
enum {
    RUN_TOK_UC_UNDEF = 0, RUN_TOK_UC_NUMBER = 1, RUN_TOK_UC_LETTER = 2, RUN_TOK_UC_SEP = 3,
    RUN_TOK_UC_MARK = 4, RUN_TOK_UC_PUNCT = 5, RUN_TOK_UC_SYMBOL = 6, RUN_TOK_UC_OTHER = 7
};
extern const uint32_t run_tok__ucat[];
extern const uint32_t run_tok__n_ucat;

/* Flags of a code point as the pre-tokenizers test them (llama.cpp unicode_cpt_flags). Every
 * code point has RUN_TOK_F_VALID; 0 stands for "outside the fragment". */
#define RUN_TOK_F_VALID  0x01u
#define RUN_TOK_F_NUMBER 0x02u
#define RUN_TOK_F_LETTER 0x04u
#define RUN_TOK_F_WS     0x08u
#define RUN_TOK_F_MARK   0x10u
#define RUN_TOK_F_PUNCT  0x20u
#define RUN_TOK_F_SYMBOL 0x40u

int run_tok__uclass(uint32_t cpt);             /* RUN_TOK_UC_* */
unsigned run_tok__uflags(uint32_t cpt);        /* RUN_TOK_F_* */

/* Decode text into code points the way llama.cpp does (an invalid lead or a missing
 * continuation byte gives U+FFFD and skips one byte). cpts must hold len entries; returns
 * the number written. */
size_t run_tok__utf8_decode(const uint8_t *s, size_t len, uint32_t *cpts);
/* Encode one code point (> 0x10FFFF becomes U+FFFD); returns bytes written (1..4). */
size_t run_tok__utf8_put(uint32_t cpt, char *out);
/* Byte length of the UTF-8 sequence a lead byte announces (1 for continuation bytes). */
static inline size_t run_tok__utf8_len(uint8_t lead)
{
    static const uint8_t lookup[16] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4 };
    return lookup[lead >> 4];
}
/* GPT-2 bytes_to_unicode: the code point standing for byte b, and back (-1 if none). */
uint32_t run_tok__byte_to_cpt(uint8_t b);
int run_tok__cpt_to_byte(uint32_t cpt);

/* ---- pre-tokenizers (tok_pre.c) ------------------------------------------------------ */

enum {
    RUN_TOK_PRE_NONE = 0,      /* SentencePiece: no splitting */
    RUN_TOK_PRE_DEFAULT,       /* llama.cpp's default BPE regex set */
    RUN_TOK_PRE_GPT2,
    RUN_TOK_PRE_LLAMA3,        /* \p{N}{1,3}, case-insensitive contractions */
    RUN_TOK_PRE_QWEN2,         /* llama3 with single digits */
    RUN_TOK_PRE_QWEN35,        /* qwen2 with marks joining letters */
    RUN_TOK_PRE_STARCODER,     /* single digits, then gpt2 */
    RUN_TOK_PRE_GPT4O          /* o200k (gpt-oss, gpt-4o): case-aware letter runs, \p{N}{1,3} */
};

/* Growable array of size_t (word lengths in code points). */
typedef struct run_tok__svec {
    size_t *v;
    size_t n, cap;
} run_tok__svec;
int run_tok__svec_push(run_tok__svec *s, size_t x);

/* Split cpts[0, n) into words: *words receives their lengths in order (they add up to n).
 * TRIT_E_NOMEM on allocation failure. */
int run_tok__pre_split(uint32_t pre, const uint32_t *cpts, size_t n, run_tok__svec *words);

/* ---- the tokenizer ------------------------------------------------------------------- */

/* Token attributes (llama.cpp llama_token_attr, reduced). */
#define RUN_TOK_A_NORMAL  0x001u
#define RUN_TOK_A_UNKNOWN 0x002u
#define RUN_TOK_A_CONTROL 0x004u
#define RUN_TOK_A_USER    0x008u
#define RUN_TOK_A_UNUSED  0x010u
#define RUN_TOK_A_BYTE    0x020u
#define RUN_TOK_A_LSTRIP  0x040u
#define RUN_TOK_A_RSTRIP  0x080u
#define RUN_TOK_A_EOG     0x100u

struct run_tok {
    uint32_t model;            /* RUN_TOK_SPM / RUN_TOK_BPE */
    uint32_t pre;              /* RUN_TOK_PRE_* */
    uint32_t n_tokens;
    char *text;                /* every token text, each NUL-terminated */
    uint32_t *tok_off;         /* n_tokens: offset of the text in `text` */
    uint32_t *tok_len;         /* n_tokens: bytes */
    float *score;              /* n_tokens */
    uint16_t *attr;            /* n_tokens: RUN_TOK_A_* */
    uint32_t *tok_tab;         /* open addressing: id + 1, 0 = empty */
    uint64_t tok_mask;         /* table size - 1 (a power of two) */

    uint32_t n_merges;
    char *mtext;               /* merge strings "left right", each NUL-terminated */
    uint32_t *m_off, *m_len;   /* n_merges: offset in mtext, bytes */
    uint32_t *m_split;         /* n_merges: bytes of the left part */
    uint32_t *m_tab;           /* open addressing: merge index + 1 (the rank + 1) */
    uint64_t m_mask;

    int32_t *special;          /* control/user-defined/unknown ids, longest text first */
    uint32_t n_special;
    int32_t byte_tok[256];     /* SentencePiece byte fallback: byte -> id (-1: none) */

    int32_t bos, eos, eot, eom, unk, sep, pad;   /* -1 = none */
    uint8_t add_bos, add_eos, add_space_prefix;
    uint8_t ignore_merges;     /* a word that is a token is taken whole (llama3) */
    uint8_t clean_spaces;      /* decode: clean_up_tokenization_spaces */
};

/* FNV-1a, continued from h (start with RUN_TOK_HASH0). */
#define RUN_TOK_HASH0 0xcbf29ce484222325ull
static inline uint64_t run_tok__hash(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = (const uint8_t *)p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* Id of the token whose text is s[0, n), or -1. */
int32_t run_tok__lookup(const run_tok *t, const char *s, size_t n);
/* Rank of the merge (left, right), or -1. */
int32_t run_tok__merge_rank(const run_tok *t, const char *l, size_t nl, const char *r, size_t nr);

/* Growable array of token ids. */
typedef struct run_tok__ivec {
    int32_t *v;
    size_t n, cap;
} run_tok__ivec;
int run_tok__ivec_push(run_tok__ivec *o, int32_t id);

/* The model-specific tokenizers for one raw-text fragment; ids are appended to out.
 * TRIT_E_NOMEM on allocation failure. */
int run_tok__spm(const run_tok *t, const char *text, size_t len, run_tok__ivec *out);
int run_tok__bpe(const run_tok *t, const char *text, size_t len, run_tok__ivec *out);

#endif /* RUN_TOK_INT_H */
