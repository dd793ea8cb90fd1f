/* test_cvt_gguf.c - GGUF reader on hand-built valid files: v2/v3, every KV type, string and
 * nested arrays, tensor table, raw reads, decoding, files vs memory, BitNet I2_S. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "src_gguf.h"
#include "src_ggml_types.h"
#include "test.h"
#include "test_cvt_gguf_build.h"

static int64_t kv(const src_gguf *h, const char *key)
{
    int64_t const i = src_gguf_find_kv(h, key);
    if (i < 0) test_fail_(__FILE__, __LINE__, "key '%s' not found", key);
    return i;
}

static void check_small(const src_gguf *h, uint32_t version, const tg_small_off *o)
{
    uint64_t u;
    int64_t s;
    double d;
    int b;
    const char *str;
    uint64_t n;
    CHECK_EQ_U64(src_gguf_version(h), version);
    CHECK_EQ_U64(src_gguf_n_kv(h), 18);
    CHECK_EQ_U64(src_gguf_alignment(h), 64);
    CHECK_STR(src_gguf_arch(h), "llama");
    CHECK(!src_gguf_is_bitnet_fork(h));
    CHECK_EQ_U64(src_gguf_data_offset(h, 0), o->data);
    CHECK_EQ_U64(src_gguf_n_files(h), 1);
    CHECK_EQ_U64(src_gguf_split_count(h), 0);

    CHECK_EQ_INT(src_gguf_kv_u64(h, (uint64_t)kv(h, "t.u8"), &u), TRIT_OK); CHECK_EQ_U64(u, 200);
    CHECK_EQ_INT(src_gguf_kv_i64(h, (uint64_t)kv(h, "t.i8"), &s), TRIT_OK); CHECK_EQ_INT(s, -5);
    CHECK_EQ_INT(src_gguf_kv_u64(h, (uint64_t)kv(h, "t.i8"), &u), TRIT_E_USAGE);   /* negative */
    CHECK_EQ_INT(src_gguf_kv_u64(h, (uint64_t)kv(h, "t.u16"), &u), TRIT_OK); CHECK_EQ_U64(u, 60000);
    CHECK_EQ_INT(src_gguf_kv_i64(h, (uint64_t)kv(h, "t.i16"), &s), TRIT_OK); CHECK_EQ_INT(s, -30000);
    CHECK_EQ_INT(src_gguf_kv_u64(h, (uint64_t)kv(h, "t.u32"), &u), TRIT_OK); CHECK_EQ_U64(u, 4000000000u);
    CHECK_EQ_INT(src_gguf_kv_i64(h, (uint64_t)kv(h, "t.i32"), &s), TRIT_OK); CHECK_EQ_INT(s, -2000000000);
    CHECK_EQ_INT(src_gguf_kv_f64(h, (uint64_t)kv(h, "t.f32"), &d), TRIT_OK); CHECK(d == 1.5);
    CHECK_EQ_INT(src_gguf_kv_bool(h, (uint64_t)kv(h, "t.bool"), &b), TRIT_OK); CHECK_EQ_INT(b, 1);
    CHECK_EQ_INT(src_gguf_kv_u64(h, (uint64_t)kv(h, "t.u64"), &u), TRIT_OK);
    CHECK_EQ_U64(u, 18000000000000000000ull);
    CHECK_EQ_INT(src_gguf_kv_i64(h, (uint64_t)kv(h, "t.u64"), &s), TRIT_E_USAGE);  /* > INT64_MAX */
    CHECK_EQ_INT(src_gguf_kv_i64(h, (uint64_t)kv(h, "t.i64"), &s), TRIT_OK);
    CHECK_EQ_INT(s, -9000000000000000000ll);
    CHECK_EQ_INT(src_gguf_kv_f64(h, (uint64_t)kv(h, "t.f64"), &d), TRIT_OK); CHECK(d == -2.25);
    CHECK_EQ_INT(src_gguf_kv_str(h, (uint64_t)kv(h, "t.str"), &str, &n), TRIT_OK);
    CHECK(n == 6 && memcmp(str, "h\xc3\xa9llo", 6) == 0);
    CHECK_EQ_INT(src_gguf_kv_str(h, (uint64_t)kv(h, "t.u8"), &str, &n), TRIT_E_USAGE);
    CHECK_EQ_INT(src_gguf_kv_bool(h, (uint64_t)kv(h, "t.u8"), &b), TRIT_E_USAGE);
    CHECK_EQ_INT(src_gguf_kv_u64(h, 999, &u), TRIT_E_USAGE);
    CHECK(src_gguf_find_kv(h, "no.such.key") == -1);
    CHECK_STR(src_gguf_kv_key(h, 0), "general.architecture");
    CHECK_EQ_U64(src_gguf_kv_offset(h, 0), 24);

    /* string array: O(1) element access */
    uint32_t et;
    uint64_t count;
    int64_t const ti = kv(h, "tokenizer.ggml.tokens");
    CHECK_EQ_INT(src_gguf_kv_type(h, (uint64_t)ti, &et, &count), SRC_GGUF_ARRAY);
    CHECK_EQ_INT(et, SRC_GGUF_STRING);
    CHECK_EQ_U64(count, 20);
    CHECK_EQ_INT(src_gguf_kv_arr_str(h, (uint64_t)ti, 13, &str, &n), TRIT_OK);
    CHECK(n == 5 && memcmp(str, "tok13", 5) == 0);
    CHECK_EQ_INT(src_gguf_kv_arr_str(h, (uint64_t)ti, 20, &str, &n), TRIT_E_USAGE);
    int64_t const fi = kv(h, "t.f32arr");
    CHECK_EQ_INT(src_gguf_kv_arr_f64(h, (uint64_t)fi, 2, &d), TRIT_OK); CHECK(d == 8.0);
    CHECK_EQ_INT(src_gguf_kv_arr_i64(h, (uint64_t)fi, 2, &s), TRIT_E_USAGE);
    CHECK_EQ_INT(src_gguf_kv_arr_str(h, (uint64_t)fi, 0, &str, &n), TRIT_E_USAGE);

    /* nested arrays through the iterator */
    src_gguf_val v, e, e2;
    src_gguf_iter it, it2;
    src_gguf_kv_val(h, (uint64_t)kv(h, "t.nested"), &v);
    CHECK_EQ_INT(v.elem_type, SRC_GGUF_ARRAY);
    CHECK_EQ_U64(v.count, 3);
    uint64_t got[8], ng = 0, lens[3], nl = 0;
    src_gguf_iter_init(&it, &v);
    while (src_gguf_iter_next(&it, &e)) {
        CHECK_EQ_INT(e.type, SRC_GGUF_ARRAY);
        lens[nl < 3 ? nl : 2] = e.count;
        nl++;
        src_gguf_iter_init(&it2, &e);
        while (src_gguf_iter_next(&it2, &e2) && ng < 8) CHECK_EQ_INT(src_gguf_val_u64(&e2, &got[ng++]), TRIT_OK);
    }
    CHECK_EQ_U64(nl, 3);
    CHECK(lens[0] == 2 && lens[1] == 0 && lens[2] == 1);
    CHECK(ng == 3 && got[0] == 1 && got[1] == 2 && got[2] == 3);
    src_gguf_kv_val(h, (uint64_t)kv(h, "t.nested_str"), &v);
    src_gguf_iter_init(&it, &v);
    CHECK(src_gguf_iter_next(&it, &e) && e.count == 1);
    CHECK(src_gguf_iter_next(&it, &e) && e.count == 2);
    src_gguf_iter_init(&it2, &e);
    CHECK(src_gguf_iter_next(&it2, &e2) && src_gguf_val_str(&e2, &str, &n) == TRIT_OK && n == 2 &&
          memcmp(str, "bc", 2) == 0);
    CHECK(!src_gguf_iter_next(&it, &e));

    /* tensors */
    CHECK_EQ_U64(src_gguf_n_tensors(h), 3);
    const src_gguf_tensor_info *t = src_gguf_tensor(h, 2);
    CHECK_STR(t->name, "blk.1.t2.weight");
    CHECK_STR(t->type_name, "Q8_0");
    CHECK_EQ_U64(t->ggml_type, SRC_GGML_Q8_0);
    CHECK_EQ_U64(t->n_dims, 2);
    CHECK(t->ne[0] == 32 && t->ne[1] == 2 && t->ne[2] == 1 && t->ne[3] == 1);
    CHECK_EQ_U64(t->n_elems, 64);
    CHECK_EQ_U64(t->nbytes, 68);
    CHECK_EQ_U64(t->offset, o->data + 128);
    CHECK_EQ_U64(t->info_off, o->t[2].rec);
    CHECK_EQ_U64(t->file, 0);
    CHECK(src_gguf_tensor(h, 3) == NULL);
    CHECK_EQ_INT(src_gguf_find_tensor(h, "blk.0.t1.weight"), 1);
    CHECK_EQ_INT(src_gguf_find_tensor(h, "nope"), -1);
    CHECK_EQ_U64(src_gguf_block_elems(h, 2), 32);
    CHECK(src_gguf_can_decode(h, 0));

    trit_err err;
    float f[64];
    uint8_t raw[8];
    CHECK_OK_E(src_gguf_read(h, 1, 2, raw, 4, &err), &err);
    CHECK(raw[0] == 0x00 && raw[1] == 0x38 && raw[2] == 0x00 && raw[3] == 0x40);
    CHECK_EQ_INT(src_gguf_read(h, 1, 6, raw, 4, &err), TRIT_E_USAGE);
    CHECK_OK_E(src_gguf_to_f32(h, 0, 0, 4, f, &err), &err);
    CHECK(f[0] == 1 && f[1] == 2 && f[2] == 3 && f[3] == 4);
    CHECK_OK_E(src_gguf_to_f32(h, 1, 0, 4, f, &err), &err);
    CHECK(f[0] == -1 && f[1] == 0.5f && f[2] == 2 && f[3] == -4);
    CHECK_OK_E(src_gguf_to_f32(h, 2, 0, 64, f, &err), &err);
    for (int j = 0; j < 32; j++) {
        CHECK(f[j] == 0.5f * (float)(j - 16));
        CHECK(f[32 + j] == 0.5f * (float)(16 - j));
    }
    /* a range that starts and ends inside blocks */
    float g[20];
    CHECK_OK_E(src_gguf_to_f32(h, 2, 25, 20, g, &err), &err);
    CHECK(memcmp(g, f + 25, sizeof g) == 0);
    CHECK_EQ_INT(src_gguf_to_f32(h, 2, 60, 5, g, &err), TRIT_E_USAGE);
}

TEST(src_gguf_v3_all_kv_types_mem)
{
    tg_buf b = {0};
    tg_small_off o;
    tg_small(&b, 3, NULL, &o);
    CHECK(!b.oom);
    src_gguf *h = NULL;
    trit_err err;
    CHECK_OK_E(src_gguf_open_mem(b.p, b.len, "small.gguf", &h, &err), &err);
    if (h) check_small(h, 3, &o);
    src_gguf_close(h);
    tg_free(&b);
}

TEST(src_gguf_v2_file)
{
    tg_buf b = {0};
    tg_small_off o;
    tg_small(&b, 2, NULL, &o);
    const char *path = test_path(test_tmpdir(), "small_v2.gguf");
    CHECK(test_write_file(path, b.p, b.len) == 0);
    src_gguf *h = NULL;
    trit_err err;
    CHECK_OK_E(src_gguf_open(path, NULL, &h, &err), &err);
    if (h) {
        check_small(h, 2, &o);
        CHECK_STR(src_gguf_file_path(h, 0), path);
        CHECK_EQ_U64(src_gguf_file_size(h, 0), b.len);
    }
    src_gguf_close(h);
    tg_free(&b);
}

/* A header far larger than the first read window: the reader must grow its window. */
TEST(src_gguf_large_header_file)
{
    tg_buf b = {0};
    uint32_t const n = 60000;
    tg_header(&b, 3, 1, 2);
    tg_kv_str(&b, "general.architecture", "llama");
    tg_kv(&b, "tokenizer.ggml.tokens", SRC_GGUF_ARRAY);
    tg_u32(&b, SRC_GGUF_STRING);
    tg_u64(&b, n);
    for (uint32_t i = 0; i < n; i++) {
        char t[32];
        snprintf(t, sizeof t, "token-number-%u", i);
        tg_str(&b, t);
    }
    uint64_t const ne[1] = {8};
    tg_tinfo(&b, "w", 1, ne, SRC_GGML_F32, 0, NULL);
    tg_pad(&b, 32);
    for (int i = 0; i < 8; i++) tg_f32(&b, (float)i * 0.5f);
    CHECK(b.len > (1u << 20));
    const char *path = test_path(test_tmpdir(), "bigheader.gguf");
    CHECK(test_write_file(path, b.p, b.len) == 0);
    src_gguf *h = NULL;
    trit_err err;
    CHECK_OK_E(src_gguf_open(path, NULL, &h, &err), &err);
    if (h) {
        const char *s;
        uint64_t sn;
        CHECK_EQ_INT(src_gguf_kv_arr_str(h, 1, n - 1, &s, &sn), TRIT_OK);
        CHECK(sn == strlen("token-number-59999") && memcmp(s, "token-number-59999", sn) == 0);
        float f[8];
        CHECK_OK_E(src_gguf_to_f32(h, 0, 0, 8, f, &err), &err);
        CHECK(f[7] == 3.5f);
    }
    src_gguf_close(h);
    /* the same file cut inside the string array */
    CHECK(test_write_file(path, b.p, b.len / 2) == 0);
    CHECK_EQ_INT(src_gguf_open(path, NULL, &h, &err), TRIT_E_TRUNCATED);
    CHECK(h == NULL);
    CHECK(err.offset < b.len / 2 && err.offset > 100);
    CHECK_STR(err.file, path);
    tg_free(&b);
}

TEST(src_gguf_zero_tensors_and_missing_file)
{
    tg_buf b = {0};
    tg_header(&b, 3, 0, 1);
    tg_kv_str(&b, "general.architecture", "gpt2");
    src_gguf *h = NULL;
    trit_err err;
    CHECK_OK_E(src_gguf_open_mem(b.p, b.len, NULL, &h, &err), &err);
    if (h) {
        CHECK_EQ_U64(src_gguf_n_tensors(h), 0);
        CHECK_EQ_U64(src_gguf_data_offset(h, 0), b.len);   /* no padding without tensors */
        CHECK_STR(src_gguf_arch(h), "gpt2");
    }
    src_gguf_close(h);
    tg_free(&b);
    CHECK_EQ_INT(src_gguf_open(test_path(test_tmpdir(), "absent.gguf"), NULL, &h, &err), TRIT_E_NOTFOUND);
    CHECK(strstr(err.file, "absent.gguf") != NULL);
}

/* BitNet fork file: id 36 is I2_S; n/4 code bytes, f32 scale, 28 pad bytes. */
static void build_i2s(tg_buf *b, const char *arch, int with_room)
{
    uint64_t const ne[2] = {128, 2};    /* 256 elements: two 128-element chunks */
    tg_header(b, 3, 2, 1);
    tg_kv_str(b, "general.architecture", arch);
    tg_tinfo(b, "blk.0.attn_q.weight", 2, ne, 36, 0, NULL);
    uint64_t const ne2[1] = {8};
    tg_tinfo(b, "blk.0.attn_norm.weight", 1, ne2, SRC_GGML_F32, with_room ? 96 : 64, NULL);
    tg_pad(b, 32);
    /* chunk 0: byte j = codes (j%3, (j+1)%3, (j+2)%3, 2) for elements j, j+32, j+64, j+96 */
    for (int c = 0; c < 2; c++)
        for (int j = 0; j < 32; j++) {
            unsigned const a = (unsigned)(j + c) % 3, bb = (unsigned)(j + c + 1) % 3, cc = (unsigned)(j + c + 2) % 3;
            tg_u8(b, (uint8_t)((a << 6) | (bb << 4) | (cc << 2) | 2u));
        }
    tg_f32(b, 0.5f);       /* scale */
    tg_zero(b, 28);        /* trailer: 64 + 32 = 96 bytes */
    tg_pad(b, 32);
    for (int i = 0; i < 8; i++) tg_f32(b, 1.0f);
}

TEST(src_gguf_i2s_fork_decode)
{
    tg_buf b = {0};
    build_i2s(&b, "bitnet-b1.58", 1);
    src_gguf *h = NULL;
    trit_err err;
    CHECK_OK_E(src_gguf_open_mem(b.p, b.len, "bitnet.gguf", &h, &err), &err);
    if (h) {
        CHECK(src_gguf_is_bitnet_fork(h));
        const src_gguf_tensor_info *t = src_gguf_tensor(h, 0);
        CHECK_STR(t->type_name, "I2_S");
        CHECK_EQ_U64(t->ggml_type, 36);
        CHECK_EQ_U64(t->type, SRC_GGML_FORK_I2_S);
        CHECK_EQ_U64(t->nbytes, 256 / 4 + 32);
        CHECK_EQ_U64(src_gguf_block_elems(h, 0), 128);
        float f[256];
        CHECK_OK_E(src_gguf_to_f32(h, 0, 0, 256, f, &err), &err);
        for (int c = 0; c < 2; c++)
            for (int j = 0; j < 32; j++) {
                CHECK(f[128 * c + j] == 0.5f * (float)((j + c) % 3 - 1));
                CHECK(f[128 * c + j + 32] == 0.5f * (float)((j + c + 1) % 3 - 1));
                CHECK(f[128 * c + j + 64] == 0.5f * (float)((j + c + 2) % 3 - 1));
                CHECK(f[128 * c + j + 96] == 0.5f);
            }
        float g[10];
        CHECK_OK_E(src_gguf_to_f32(h, 0, 123, 10, g, &err), &err);
        CHECK(memcmp(g, f + 123, sizeof g) == 0);
    }
    src_gguf_close(h);
    /* bitnet-25 is a fork architecture too */
    tg_free(&b);
    build_i2s(&b, "bitnet-25", 1);
    CHECK_OK_E(src_gguf_open_mem(b.p, b.len, "bitnet25.gguf", &h, &err), &err);
    src_gguf_close(h);
    tg_free(&b);
}

TEST(src_gguf_i2s_id36_outside_fork_refused)
{
    tg_buf b = {0};
    src_gguf *h = NULL;
    trit_err err;
    /* mainline "bitnet" arch, but the bytes fit I2_S exactly: ambiguous, and the error says so */
    build_i2s(&b, "bitnet", 1);
    CHECK_EQ_INT(src_gguf_open_mem(b.p, b.len, "x.gguf", &h, &err), TRIT_E_UNSUPPORTED);
    CHECK(strstr(err.msg, "ambiguous") != NULL);
    CHECK(strstr(err.msg, "I2_S") != NULL);
    tg_free(&b);
    /* the next tensor starts 64 bytes in: I2_S (96 bytes) does not fit */
    build_i2s(&b, "llama", 0);
    CHECK_EQ_INT(src_gguf_open_mem(b.p, b.len, "x.gguf", &h, &err), TRIT_E_UNSUPPORTED);
    CHECK(strstr(err.msg, "removed") != NULL && strstr(err.msg, "ambiguous") == NULL);
    tg_free(&b);
    /* and in a fork file the same layout is an overlap: I2_S needs 96 bytes */
    build_i2s(&b, "bitnet-b1.58", 0);
    CHECK_EQ_INT(src_gguf_open_mem(b.p, b.len, "x.gguf", &h, &err), TRIT_E_CORRUPT);
    CHECK(strstr(err.msg, "overlaps") != NULL);
    CHECK(h == NULL);
    tg_free(&b);
}

/* The fuzz seeds in tests/fuzz/corpus/gguf/seed-*.gguf are these generated files. The test checks
 * that each opens and that the committed copies are byte-identical; with TRIT_GGUF_WRITE_SEEDS=1
 * it (re)writes them instead. */
TEST(src_gguf_fuzz_seeds_in_sync)
{
    const char *corpus = getenv("TRIT_CORPUS");
    const char *dir = test_path(corpus && *corpus ? corpus : "tests/fuzz/corpus", "gguf");
    char dirbuf[4096];
    snprintf(dirbuf, sizeof dirbuf, "%s", dir);
    int const write = getenv("TRIT_GGUF_WRITE_SEEDS") != NULL;
    for (int s = 0; s < 5; s++) {
        tg_buf b = {0};
        char name[64];
        switch (s) {
        case 0: tg_small(&b, 3, NULL, NULL); break;
        case 1: tg_small(&b, 2, NULL, NULL); break;
        case 2: build_i2s(&b, "bitnet-b1.58", 1); break;
        case 3:
            tg_header(&b, 3, 0, 3);
            tg_kv_str(&b, "general.architecture", "llama");
            tg_kv(&b, "split.count", SRC_GGUF_UINT16);
            tg_u16(&b, 2);
            tg_kv(&b, "split.no", SRC_GGUF_UINT16);
            tg_u16(&b, 0);
            break;
        default: {
            /* every ggml type that can decode, one block each */
            static const uint32_t types[] = {SRC_GGML_Q4_0, SRC_GGML_Q4_1, SRC_GGML_Q5_0, SRC_GGML_Q5_1,
                                             SRC_GGML_Q2_K, SRC_GGML_Q3_K, SRC_GGML_Q4_K, SRC_GGML_Q5_K,
                                             SRC_GGML_Q6_K, SRC_GGML_TQ1_0, SRC_GGML_TQ2_0, SRC_GGML_BF16};
            size_t const nt = sizeof types / sizeof types[0];
            uint64_t off = 0;
            tg_header(&b, 3, nt, 0);
            for (size_t i = 0; i < nt; i++) {
                const src_ggml_type *t = src_ggml_type_get(types[i]);
                uint64_t const ne[1] = {t->blck == 1 ? 8 : t->blck};
                char tn[32];
                snprintf(tn, sizeof tn, "w%zu", i);
                tg_tinfo(&b, tn, 1, ne, types[i], off, NULL);
                off += (ne[0] / t->blck * t->type_size + 31) / 32 * 32;
            }
            tg_pad(&b, 32);
            for (uint64_t k = 0; k < off; k++) tg_u8(&b, (uint8_t)(k % 251));
            break;
        }
        }
        snprintf(name, sizeof name, "seed-%d.gguf", s);
        src_gguf *h = NULL;
        trit_err err;
        CHECK_OK_E(src_gguf_open_mem(b.p, b.len, name, &h, &err), &err);
        src_gguf_close(h);
        const char *path = test_path(dirbuf, name);
        if (write) {
            CHECK(test_write_file(path, b.p, b.len) == 0);
        } else {
            size_t len = 0;
            uint8_t *have = test_read_file(path, &len);
            CHECK(have != NULL && len == b.len && memcmp(have, b.p, len) == 0);
            free(have);
        }
        tg_free(&b);
    }
}

/* Tiny first reads force the window to grow many times, at every kind of field boundary. */
TEST(src_gguf_small_first_reads)
{
    tg_buf b = {0};
    tg_small_off o;
    tg_small(&b, 3, NULL, &o);
    const char *p = test_path(test_tmpdir(), "small_win.gguf");
    char path[4096];
    snprintf(path, sizeof path, "%s", p);
    CHECK(test_write_file(path, b.p, b.len) == 0);
    for (uint32_t w = 1; w <= 96; w++) {
        src_gguf_opts const opts = {0, w};
        src_gguf *h = NULL;
        trit_err err;
        CHECK_OK_E(src_gguf_open(path, &opts, &h, &err), &err);
        if (h) check_small(h, 3, &o);
        src_gguf_close(h);
    }
    tg_free(&b);
}
