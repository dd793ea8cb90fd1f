/* test_cvt_gguf_build.c - the GGUF test writer (see test_cvt_gguf_build.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src_gguf.h"
#include "src_ggml_types.h"
#include "test_cvt_gguf_build.h"

void tg_free(tg_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

void tg_bytes(tg_buf *b, const void *p, size_t n)
{
    if (b->oom) return;
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n) cap *= 2;
        uint8_t *q = realloc(b->p, cap);
        if (!q) { b->oom = 1; return; }
        b->p = q;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->len, p, n);
    b->len += n;
}

void tg_u8(tg_buf *b, uint8_t v) { tg_bytes(b, &v, 1); }
void tg_u16(tg_buf *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    tg_bytes(b, x, 2);
}
void tg_u32(tg_buf *b, uint32_t v)
{
    uint8_t x[4];
    for (int i = 0; i < 4; i++) x[i] = (uint8_t)(v >> (8 * i));
    tg_bytes(b, x, 4);
}
void tg_u64(tg_buf *b, uint64_t v)
{
    uint8_t x[8];
    for (int i = 0; i < 8; i++) x[i] = (uint8_t)(v >> (8 * i));
    tg_bytes(b, x, 8);
}
void tg_f32(tg_buf *b, float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    tg_u32(b, u);
}
void tg_f64(tg_buf *b, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    tg_u64(b, u);
}
void tg_str(tg_buf *b, const char *s)
{
    tg_u64(b, strlen(s));
    tg_bytes(b, s, strlen(s));
}
void tg_zero(tg_buf *b, size_t n)
{
    static const uint8_t z[64];
    while (n) {
        size_t const k = n < sizeof z ? n : sizeof z;
        tg_bytes(b, z, k);
        n -= k;
    }
}
void tg_pad(tg_buf *b, size_t align) { tg_zero(b, (align - b->len % align) % align); }
void tg_put_u64_at(tg_buf *b, size_t at, uint64_t v)
{
    for (int i = 0; i < 8; i++) b->p[at + (size_t)i] = (uint8_t)(v >> (8 * i));
}
void tg_put_u32_at(tg_buf *b, size_t at, uint32_t v)
{
    for (int i = 0; i < 4; i++) b->p[at + (size_t)i] = (uint8_t)(v >> (8 * i));
}

void tg_header(tg_buf *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv)
{
    tg_bytes(b, "GGUF", 4);
    tg_u32(b, version);
    tg_u64(b, n_tensors);
    tg_u64(b, n_kv);
}

void tg_kv(tg_buf *b, const char *key, uint32_t type)
{
    tg_str(b, key);
    tg_u32(b, type);
}
void tg_kv_str(tg_buf *b, const char *key, const char *val)
{
    tg_kv(b, key, SRC_GGUF_STRING);
    tg_str(b, val);
}
void tg_kv_u32(tg_buf *b, const char *key, uint32_t val)
{
    tg_kv(b, key, SRC_GGUF_UINT32);
    tg_u32(b, val);
}

void tg_tinfo(tg_buf *b, const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t type,
              uint64_t off, tg_tinfo_off *o)
{
    tg_tinfo_off x;
    x.rec = b->len;
    tg_str(b, name);
    x.n_dims = b->len;
    tg_u32(b, n_dims);
    x.ne = b->len;
    for (uint32_t d = 0; d < n_dims; d++) tg_u64(b, ne[d]);
    x.type = b->len;
    tg_u32(b, type);
    x.off = b->len;
    tg_u64(b, off);
    if (o) *o = x;
}

void tg_small(tg_buf *b, uint32_t version, const char *arch, tg_small_off *o)
{
    tg_small_off x;
    memset(&x, 0, sizeof x);
    tg_header(b, version, 3, 18);
    tg_kv(b, "general.architecture", SRC_GGUF_STRING);
    x.kv_arch_val = b->len + 8;
    tg_str(b, arch ? arch : "llama");
    tg_kv(b, "general.alignment", SRC_GGUF_UINT32);
    x.kv_align_val = b->len;
    tg_u32(b, 64);
    tg_kv(b, "t.u8", SRC_GGUF_UINT8);   tg_u8(b, 200);
    tg_kv(b, "t.i8", SRC_GGUF_INT8);    tg_u8(b, (uint8_t)-5);
    tg_kv(b, "t.u16", SRC_GGUF_UINT16); tg_u16(b, 60000);
    tg_kv(b, "t.i16", SRC_GGUF_INT16);  tg_u16(b, (uint16_t)-30000);
    tg_kv(b, "t.u32", SRC_GGUF_UINT32); tg_u32(b, 4000000000u);
    tg_kv(b, "t.i32", SRC_GGUF_INT32);  tg_u32(b, (uint32_t)-2000000000);
    tg_kv(b, "t.f32", SRC_GGUF_FLOAT32); tg_f32(b, 1.5f);
    tg_kv(b, "t.bool", SRC_GGUF_BOOL);  tg_u8(b, 1);
    tg_kv(b, "t.u64", SRC_GGUF_UINT64); tg_u64(b, 18000000000000000000ull);
    tg_kv(b, "t.i64", SRC_GGUF_INT64);  tg_u64(b, (uint64_t)-9000000000000000000ll);
    tg_kv(b, "t.f64", SRC_GGUF_FLOAT64); tg_f64(b, -2.25);
    tg_kv_str(b, "t.str", "h\xc3\xa9llo");
    tg_kv(b, "tokenizer.ggml.tokens", SRC_GGUF_ARRAY);
    tg_u32(b, SRC_GGUF_STRING);
    x.kv_strarr_count = b->len;
    tg_u64(b, 20);
    for (int i = 0; i < 20; i++) {
        char t[16];
        snprintf(t, sizeof t, "tok%d", i);
        tg_str(b, t);
    }
    tg_kv(b, "t.f32arr", SRC_GGUF_ARRAY);
    tg_u32(b, SRC_GGUF_FLOAT32);
    tg_u64(b, 3);
    tg_f32(b, 0.25f); tg_f32(b, -1.0f); tg_f32(b, 8.0f);
    /* nested: [[1, 2], [], [3]] as arrays of uint16, then [["a"], ["bc", "d"]] */
    x.kv_nested = b->len;
    tg_kv(b, "t.nested", SRC_GGUF_ARRAY);
    tg_u32(b, SRC_GGUF_ARRAY);
    tg_u64(b, 3);
    tg_u32(b, SRC_GGUF_UINT16); tg_u64(b, 2); tg_u16(b, 1); tg_u16(b, 2);
    tg_u32(b, SRC_GGUF_UINT16); tg_u64(b, 0);
    tg_u32(b, SRC_GGUF_UINT16); tg_u64(b, 1); tg_u16(b, 3);
    x.kv_last = b->len;
    tg_kv(b, "t.nested_str", SRC_GGUF_ARRAY);
    tg_u32(b, SRC_GGUF_ARRAY);
    tg_u64(b, 2);
    tg_u32(b, SRC_GGUF_STRING); tg_u64(b, 1); tg_str(b, "a");
    tg_u32(b, SRC_GGUF_STRING); tg_u64(b, 2); tg_str(b, "bc"); tg_str(b, "d");

    uint64_t const ne0[1] = {4}, ne1[2] = {2, 2}, ne2[2] = {32, 2};
    tg_tinfo(b, "t0.weight", 1, ne0, SRC_GGML_F32, 0, &x.t[0]);
    tg_tinfo(b, "blk.0.t1.weight", 2, ne1, SRC_GGML_F16, 64, &x.t[1]);
    tg_tinfo(b, "blk.1.t2.weight", 2, ne2, SRC_GGML_Q8_0, 128, &x.t[2]);
    tg_pad(b, 64);
    x.data = b->len;
    tg_f32(b, 1); tg_f32(b, 2); tg_f32(b, 3); tg_f32(b, 4);
    tg_pad(b, 64);
    tg_u16(b, 0xBC00); tg_u16(b, 0x3800); tg_u16(b, 0x4000); tg_u16(b, 0xC400);
    tg_pad(b, 64);
    for (int r = 0; r < 2; r++) {
        tg_u16(b, 0x3800);   /* 0.5 */
        for (int j = 0; j < 32; j++) tg_u8(b, (uint8_t)(int8_t)(r == 0 ? j - 16 : 16 - j));
    }
    x.end = b->len;
    if (o) *o = x;
}
