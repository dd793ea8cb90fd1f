/* test_cvt_gguf_build.h - a tiny GGUF writer for the GGUF reader tests (tests/test_cvt_gguf*.c
 * only). It writes raw little-endian fields so a test can build valid files and break any
 * field on purpose, recording the offsets it expects errors at. */
#ifndef TEST_CVT_GGUF_BUILD_H
#define TEST_CVT_GGUF_BUILD_H

#include <stddef.h>
#include <stdint.h>

typedef struct tg_buf {
    uint8_t *p;          /* owned; tg_free() */
    size_t len, cap;
    int oom;             /* an append failed */
} tg_buf;

void tg_free(tg_buf *b);
void tg_bytes(tg_buf *b, const void *p, size_t n);
void tg_u8(tg_buf *b, uint8_t v);
void tg_u16(tg_buf *b, uint16_t v);
void tg_u32(tg_buf *b, uint32_t v);
void tg_u64(tg_buf *b, uint64_t v);
void tg_f32(tg_buf *b, float v);
void tg_f64(tg_buf *b, double v);
void tg_str(tg_buf *b, const char *s);            /* u64 length + bytes */
void tg_zero(tg_buf *b, size_t n);
void tg_pad(tg_buf *b, size_t align);              /* zeros up to a multiple of align */
void tg_put_u64_at(tg_buf *b, size_t at, uint64_t v);
void tg_put_u32_at(tg_buf *b, size_t at, uint32_t v);

void tg_header(tg_buf *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv);
/* KV record start: key + value type. */
void tg_kv(tg_buf *b, const char *key, uint32_t type);
void tg_kv_str(tg_buf *b, const char *key, const char *val);
void tg_kv_u32(tg_buf *b, const char *key, uint32_t val);
/* Tensor info. Offsets of the fields are stored in *o when o != NULL. */
typedef struct tg_tinfo_off {
    size_t rec, n_dims, ne, type, off;
} tg_tinfo_off;
void tg_tinfo(tg_buf *b, const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t type,
              uint64_t off, tg_tinfo_off *o);

/* Offsets of interesting fields in the file tg_small() builds. */
typedef struct tg_small_off {
    size_t kv_arch_val;          /* general.architecture string bytes */
    size_t kv_align_val;         /* general.alignment value */
    size_t kv_strarr_count;      /* tokenizer.ggml.tokens count field */
    size_t kv_nested;            /* record of the nested-array KV */
    size_t kv_last;              /* record of the last KV */
    tg_tinfo_off t[3];           /* the three tensors */
    size_t data;                 /* start of the data section */
    size_t end;                  /* file length */
} tg_small_off;
/* A small valid file (18 KVs): every KV value type, a string array, a nested array, and three tensors
 * (F32 [4], F16 [2,2], Q8_0 [32,2]) with known data: F32 1,2,3,4; F16 -1,0.5,2,-4; Q8_0 rows
 * with d = 0.5 and q = j - 16 (row 0) / 16 - j (row 1). arch may be NULL for "llama". */
void tg_small(tg_buf *b, uint32_t version, const char *arch, tg_small_off *o);

#endif
