/* test_cvt_tok.h - helpers shared by the tokenizer converter tests (tests/test_cvt_tok*.c):
 * reading a built kvbuf back as a kvset, and writing SentencePiece protobuf bytes by hand. */
#ifndef TEST_CVT_TOK_H
#define TEST_CVT_TOK_H

#include <stddef.h>
#include <stdint.h>

#include "cvt_tok.h"
#include "trit.h"

/* Parse b's bytes back (b must outlive the set). NULL (and a failed check) on error. Caller
 * frees with trit_kvset_free(). */
trit_kvset *tt_parse(const trit_kvbuf *b);
/* Scalars/strings of key; absent or wrong type -> UINT64_MAX / NULL. String copied into buf. */
uint64_t tt_u64(const trit_kvset *s, const char *key);
const char *tt_str(const trit_kvset *s, const char *key, char *buf, size_t cap);
/* Array elements; count is 0 for an absent key. */
uint64_t tt_count(const trit_kvset *s, const char *key);
const char *tt_arr_str(const trit_kvset *s, const char *key, uint64_t j, char *buf, size_t cap);
double tt_arr_f64(const trit_kvset *s, const char *key, uint64_t j);
int64_t tt_arr_i64(const trit_kvset *s, const char *key, uint64_t j);

/* A protobuf byte builder (fixed capacity; overflow is a failed check). */
typedef struct tt_pb {
    uint8_t b[65536];
    size_t n;
} tt_pb;
void tt_pb_varint(tt_pb *p, uint64_t v);
void tt_pb_tag(tt_pb *p, uint32_t field, uint32_t wire);
void tt_pb_bytes(tt_pb *p, uint32_t field, const void *s, size_t n);   /* wire type 2 */
void tt_pb_f32(tt_pb *p, uint32_t field, float f);                     /* wire type 5 */
void tt_pb_uint(tt_pb *p, uint32_t field, uint64_t v);                  /* wire type 0 */
/* A SentencePiece message {piece, score, type} as field 1 of the model. type 0 = omitted. */
void tt_pb_piece(tt_pb *p, const char *text, float score, uint32_t type);

/* Run cvt_tok_from_mem on the given buffers (NULL = absent); returns the code, fills *out (a
 * new kvbuf the caller frees) and info. */
int tt_convert(const char *json, const tt_pb *model, const char *tok_config, const char *config,
               uint32_t pad_to, int unknown_pre_ok, trit_kvbuf **out, cvt_tok_info *info, trit_err *err);

#endif /* TEST_CVT_TOK_H */
