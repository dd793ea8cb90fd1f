/*
 * cvt_tok_int.h - private parts of the tokenizer converter, shared by the cvt_tok*.c files only
 * (style R1: cvt__ prefix for module-internal symbols).
 *
 * The HF and SentencePiece paths fill one vocabulary under construction (cvt__tok): a table of
 * n tokens (text in an arena, score, type, where it came from), the merges, the special ids and
 * flags. cvt_tok.c then writes it into the kvbuf. Texts live in one growable arena and are
 * referenced by offset, so growing the arena never invalidates them.
 */
#ifndef CVT_TOK_INT_H
#define CVT_TOK_INT_H

#include <stddef.h>
#include <stdint.h>

#include "cvt_tok.h"

struct cJSON;

/* Special tokens, in the order of their GGUF keys. */
enum { CVT__SP_BOS, CVT__SP_EOS, CVT__SP_UNK, CVT__SP_SEP, CVT__SP_PAD, CVT__SP_CLS, CVT__SP_MASK,
       CVT__SP_COUNT };
/* HF name of each ("bos" -> bos_token / bos_token_id) and GGUF key. Static storage. */
const char *cvt__tok_sp_hf(int sp);
const char *cvt__tok_sp_key(int sp);

/* Where a token's entry came from. */
#define CVT__TOKF_SET   1u      /* the slot holds a token */
#define CVT__TOKF_BASE  2u      /* from the model's vocabulary (vocab / pieces) */
#define CVT__TOKF_ADDED 4u      /* replaced or appended by an added token */

/* Token text -> id: open addressing over the table's texts, O(1) expected per operation. */
typedef struct cvt__hash {
    uint32_t *slot;             /* id + 1, 0 = empty; owned */
    uint32_t mask;              /* capacity - 1 (capacity a power of two >= 2 n) */
} cvt__hash;
/* Text of entry id for the hash (the table's arena, or a parsed model's pieces). */
typedef const uint8_t *(*cvt__hash_get)(const void *ctx, uint32_t id, uint32_t *len);
/* Room for n entries. TRIT_E_NOMEM or TRIT_E_LIMIT (n > TRIT_MAX_VOCAB). */
int cvt__hash_init(cvt__hash *h, uint32_t n);
void cvt__hash_release(cvt__hash *h);
/* Insert id; returns CVT_TOK_NONE, or the id already holding the same text (not inserted). */
uint32_t cvt__hash_put(cvt__hash *h, uint32_t id, cvt__hash_get get, const void *ctx);
/* Id holding text s, or CVT_TOK_NONE. */
uint32_t cvt__hash_find(const cvt__hash *h, const void *s, size_t len, cvt__hash_get get, const void *ctx);

typedef struct cvt__tok {
    uint32_t n;                 /* tokens in the table */
    uint64_t *t_off;            /* text of token i: arena[t_off[i] .. + t_len[i]) */
    uint32_t *t_len;
    float *score;
    int32_t *type;              /* CVT_TOK_* */
    uint8_t *flag;              /* CVT__TOKF_* */
    int has_scores;             /* write tokenizer.ggml.scores ("llama") */

    uint64_t *m_off;            /* merge r: arena[m_off[r] .. + m_len[r]), "left right" */
    uint32_t *m_len;
    uint32_t n_merges, cap_merges;

    uint8_t *arena;             /* every text; owned */
    size_t arena_len, arena_cap;

    cvt__hash h;                /* built by cvt__tok_index() */

    uint32_t special[CVT__SP_COUNT];   /* ids or CVT_TOK_NONE */
    int add_bos, add_eos, add_space_prefix;   /* -1 unknown */
    char model[16], pre[32];
    cvt_tok_info *info;         /* never NULL inside (a local when the caller passed NULL) */
    trit_err *err;
} cvt__tok;

/* An added token (tokenizer.json added_tokens / tokenizer_config added_tokens_decoder). content
 * is borrowed from the cJSON tree. */
typedef struct cvt__added {
    uint32_t id;
    const char *content;        /* NUL-terminated (the JSON scan refuses \u0000) */
    uint32_t len;
    int special;
} cvt__added;

typedef struct cvt__added_list {
    cvt__added *a;              /* owned, sorted by id after collection */
    uint32_t n;
} cvt__added_list;

/* ---- the table (cvt_tok_vocab.c) ---- */
void cvt__tok_init(cvt__tok *t, cvt_tok_info *info, trit_err *err);
void cvt__tok_release(cvt__tok *t);
/* Make room for n tokens, all unset. */
int cvt__tok_alloc(cvt__tok *t, uint32_t n);
/* Copy text into the arena; *off receives its offset. */
int cvt__tok_text(cvt__tok *t, const void *s, size_t len, uint64_t *off);
/* Set token id (< t->n). */
int cvt__tok_set(cvt__tok *t, uint32_t id, const void *s, size_t len, float score, int32_t type,
                 uint8_t flag);
/* Append a merge "left right" (already joined). */
int cvt__tok_merge(cvt__tok *t, const void *s, size_t len);
/* Text of token id (borrowed, valid until the arena grows). */
static inline const uint8_t *cvt__tok_str(const cvt__tok *t, uint32_t id) { return t->arena + t->t_off[id]; }
/* Overlay the added tokens (sorted by id; each id < t->n) onto the table; the table must have
 * been allocated with room for the highest added id. */
int cvt__tok_overlay(cvt__tok *t, const cvt__added_list *al, int spm_style);
/* Refuse a table with an unset slot: "token id N is missing". what names the source. */
int cvt__tok_check_gaps(cvt__tok *t, const char *file, const char *what);
/* Build the text -> id index. Two base tokens with one text are an error; a base and an added
 * token sharing a text is a warning. */
int cvt__tok_index(cvt__tok *t, const char *file);
/* Id of a text, or CVT_TOK_NONE (index built). */
uint32_t cvt__tok_find(const cvt__tok *t, const void *s, size_t len);
/* Append unused "[PAD<id>]" tokens up to n (> t->n). */
int cvt__tok_pad(cvt__tok *t, uint32_t n);
/* Record a warning in info (the first one's text is kept). printf-style. */
void cvt__tok_warn(cvt__tok *t, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* llama.cpp's does_token_look_special(). */
int cvt__tok_looks_special(const char *s, size_t len);
/* "<0xXX>" with two hex digits. */
int cvt__tok_is_byte_piece(const uint8_t *s, size_t len);
int cvt__tok_nomem(cvt__tok *t);

/* ---- added tokens (cvt_tok_json.c) ---- */
/* From tokenizer.json added_tokens (array of {id, content, special}). */
int cvt__added_from_json(const struct cJSON *root, const char *file, cvt__added_list *out, trit_err *err);
/* From tokenizer_config.json added_tokens_decoder ({"<id>": {content, special}}). */
int cvt__added_from_config(const struct cJSON *cfg, const char *file, cvt__added_list *out, trit_err *err);
void cvt__added_release(cvt__added_list *l);

/* ---- tokenizer.json (cvt_tok_json.c) ---- */
enum { SRC_JSON_BYTE_BPE = 1, SRC_JSON_SPM_BPE = 2, SRC_JSON_UNIGRAM = 3 };
/* What kind of tokenizer.json this is (TRIT_E_UNSUPPORTED for WordPiece, WordLevel ...). */
int cvt__json_style(const struct cJSON *root, const char *file, int *style, trit_err *err);
/* Fill t from model.vocab (+ merges) and the added tokens. */
int cvt__json_vocab(cvt__tok *t, const struct cJSON *root, const char *file, int style,
                    const cvt__added_list *al);
/* add_space_prefix of a SentencePiece-style tokenizer.json: -1 unknown. */
int cvt__json_space_prefix(const struct cJSON *root);

/* ---- pre-tokenizer (cvt_tok_pre.c) ---- */
/* llama.cpp's name for root's pre_tokenizer into t->pre, or TRIT_E_UNSUPPORTED. */
int cvt__tok_detect_pre(cvt__tok *t, const struct cJSON *root, const char *file, int unknown_ok);

/* ---- SentencePiece (cvt_tok_spm.c) ---- */
/* Fill t from the pieces and the added tokens (from added_file); names are for messages. */
int cvt__spm_vocab(cvt__tok *t, const cvt_tok_spm *m, const cvt__added_list *al, const char *model_file,
                   const char *added_file);

/* ---- special tokens, flags, chat template (cvt_tok_cfg.c) ---- */
/* Resolve special ids and add_bos/add_eos from tokenizer_config.json, config.json and the
 * tokenizer.json post-processor (any may be NULL); defaults already in t->special stay when
 * nothing overrides them. */
int cvt__tok_specials(cvt__tok *t, const struct cJSON *tok_cfg, const struct cJSON *cfg,
                      const struct cJSON *json_root, const cvt__added_list *al, const char *tc_name,
                      const char *cfg_name);
/* Write tokenizer.chat_template* from tokenizer_config.json or a chat_template.jinja file. */
int cvt__tok_chat_template(cvt__tok *t, trit_kvbuf *out, const struct cJSON *tok_cfg,
                           const cvt_tok_buf *jinja, const char *tc_name);

/* ---- JSON helpers ---- */
/* Parse a JSON document with the strict scanner (src_safetensors_json.c). *out: cJSON_Delete. */
int cvt__tok_json_parse(const cvt_tok_buf *b, uint64_t max_nodes, struct cJSON **out, trit_err *err);
/* tokenizer.json: the same, with model.vocab and model.merges kept as raw JSON text
 * (src_json_parse_doc_defer) and walked element by element, so the file costs about twice its
 * size instead of a ~20x tree. cvt__json_* accept both forms. *out: cJSON_Delete. */
int cvt__tok_json_parse_tokenizer(const cvt_tok_buf *b, struct cJSON **out, trit_err *err);
/* Member of an object by exact key, or NULL (also when obj is not an object). Borrowed from
 * the tree, valid until cJSON_Delete. */
const struct cJSON *cvt__jget(const struct cJSON *obj, const char *key);
/* String value of member key, or NULL (absent or not a string). Borrowed from the tree. */
const char *cvt__jstr(const struct cJSON *obj, const char *key);
/* 1 if v is an integer number in [0, max]; *out receives it. */
int cvt__juint(const struct cJSON *v, uint64_t max, uint64_t *out);

#endif /* CVT_TOK_INT_H */
