/* test_cvt_safetensors.c - the safetensors reader on hand-built files (every dtype, metadata,
 * order, scalars, padding, FP8 known values, names, BitNet view) and on the real fixtures. */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "src_safetensors.h"
#include "test.h"
#include "test_cvt_safetensors.h"
#include "trit_cursor.h"

/* ---- dtypes --------------------------------------------------------------------------------- */

typedef struct dt_case {
    const char *name, *dtype, *shape;
    uint8_t bytes[32];
    size_t n;
    uint32_t id;
    uint64_t n_elems;
    float want[6];
} dt_case;

static void le16s(uint8_t *p, const uint16_t *v, int n) { for (int i = 0; i < n; i++) trit_store_le16(p + 2 * i, v[i]); }
static void le32s(uint8_t *p, const uint32_t *v, int n) { for (int i = 0; i < n; i++) trit_store_le32(p + 4 * i, v[i]); }
static void le64s(uint8_t *p, const uint64_t *v, int n) { for (int i = 0; i < n; i++) trit_store_le64(p + 8 * i, v[i]); }

static uint32_t f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static uint64_t f64_bits(double d) { uint64_t u; memcpy(&u, &d, 8); return u; }

/* One tensor per dtype with values whose float images are known independently. */
static int make_dtype_cases(dt_case *c)
{
    int k = 0;
    c[k] = (dt_case){"bool", "BOOL", "[4]", {0, 1, 1, 0}, 4, SRC_ST_BOOL, 4, {0, 1, 1, 0}}; k++;
    c[k] = (dt_case){"u8", "U8", "[3]", {0, 7, 255}, 3, SRC_ST_U8, 3, {0, 7, 255}}; k++;
    c[k] = (dt_case){"i8", "I8", "[3]", {0x80, 0xFF, 5}, 3, SRC_ST_I8, 3, {-128, -1, 5}}; k++;
    c[k] = (dt_case){"u16", "U16", "[2]", {0}, 4, SRC_ST_U16, 2, {65535, 258}};
    le16s(c[k].bytes, (const uint16_t[]){0xFFFF, 0x0102}, 2); k++;
    c[k] = (dt_case){"i16", "I16", "[2]", {0}, 4, SRC_ST_I16, 2, {-32768, -2}};
    le16s(c[k].bytes, (const uint16_t[]){0x8000, 0xFFFE}, 2); k++;
    c[k] = (dt_case){"u32", "U32", "[1]", {0}, 4, SRC_ST_U32, 1, {(float)3735928559u}};
    le32s(c[k].bytes, (const uint32_t[]){0xDEADBEEFu}, 1); k++;
    c[k] = (dt_case){"i32", "I32", "[2]", {0}, 8, SRC_ST_I32, 2, {-100000, 7}};
    le32s(c[k].bytes, (const uint32_t[]){(uint32_t)-100000, 7}, 2); k++;
    c[k] = (dt_case){"u64", "U64", "[1]", {0}, 8, SRC_ST_U64, 1, {1099511627776.0f}};
    le64s(c[k].bytes, (const uint64_t[]){1ull << 40}, 1); k++;
    c[k] = (dt_case){"i64", "I64", "[2]", {0}, 16, SRC_ST_I64, 2, {-5, 1099511627776.0f}};
    le64s(c[k].bytes, (const uint64_t[]){(uint64_t)-5, 1ull << 40}, 2); k++;
    c[k] = (dt_case){"f16", "F16", "[3]", {0}, 6, SRC_ST_F16, 3, {1, -2, 0.5f}};
    le16s(c[k].bytes, (const uint16_t[]){0x3C00, 0xC000, 0x3800}, 3); k++;
    c[k] = (dt_case){"bf16", "BF16", "[2]", {0}, 4, SRC_ST_BF16, 2, {1, -5}};
    le16s(c[k].bytes, (const uint16_t[]){0x3F80, 0xC0A0}, 2); k++;
    c[k] = (dt_case){"f32", "F32", "[2]", {0}, 8, SRC_ST_F32, 2, {1.5f, -0.25f}};
    le32s(c[k].bytes, (const uint32_t[]){f32_bits(1.5f), f32_bits(-0.25f)}, 2); k++;
    c[k] = (dt_case){"f64", "F64", "[2]", {0}, 16, SRC_ST_F64, 2, {3.25f, -1e10f}};
    le64s(c[k].bytes, (const uint64_t[]){f64_bits(3.25), f64_bits(-1e10)}, 2); k++;
    c[k] = (dt_case){"e4m3", "F8_E4M3", "[2, 2]", {0x38, 0x7E, 0x01, 0xB8}, 4, SRC_ST_F8_E4M3, 4,
                     {1, 448, 0x1p-9f, -1}}; k++;
    c[k] = (dt_case){"e5m2", "F8_E5M2", "[3]", {0x3C, 0x7B, 0xC0}, 3, SRC_ST_F8_E5M2, 3, {1, 57344, -2}}; k++;
    c[k] = (dt_case){"e8m0", "F8_E8M0", "[2]", {127, 130}, 2, SRC_ST_F8_E8M0, 2, {1, 8}}; k++;
    c[k] = (dt_case){"e4m3fnuz", "F8_E4M3FNUZ", "[2]", {0x40, 0x7F}, 2, SRC_ST_F8_E4M3FNUZ, 2, {1, 240}}; k++;
    c[k] = (dt_case){"e5m2fnuz", "F8_E5M2FNUZ", "[2]", {0x40, 0x01}, 2, SRC_ST_F8_E5M2FNUZ, 2, {1, 0x1p-17f}}; k++;
    return k;
}

static void check_dtype_handle(const src_st *h, const dt_case *c, int n_cases, uint64_t data_off)
{
    trit_err err;
    uint64_t begin = 0;
    CHECK_EQ_U64(src_st_n_tensors(h), n_cases + 2);
    for (int i = 0; i < n_cases; i++) {
        int64_t const t = src_st_find(h, c[i].name);
        CHECK(t >= 0);
        if (t < 0) continue;
        const src_st_tensor *ti = src_st_tensor_at(h, (uint32_t)t);
        CHECK_STR(ti->name, c[i].name);
        CHECK_EQ_U64(ti->dtype, c[i].id);
        CHECK_STR(src_st_dtype_name(ti->dtype), c[i].dtype);
        CHECK_EQ_U64(ti->n_elems, c[i].n_elems);
        CHECK_EQ_U64(ti->nbytes, c[i].n);
        CHECK_EQ_U64(ti->offset, data_off + begin);
        begin += c[i].n;
        float out[8];
        CHECK_OK_E(src_st_to_f32(h, (uint32_t)t, 0, c[i].n_elems, out, &err), &err);
        for (uint64_t e = 0; e < c[i].n_elems; e++)
            if (out[e] != c[i].want[e])
                test_fail_(__FILE__, __LINE__, "%s[%llu] = %g, want %g", c[i].name,
                           (unsigned long long)e, (double)out[e], (double)c[i].want[e]);
        uint8_t raw[32];
        CHECK_OK_E(src_st_read(h, (uint32_t)t, 0, raw, c[i].n, &err), &err);
        CHECK(memcmp(raw, c[i].bytes, c[i].n) == 0);
    }
    /* Sub-byte and complex types are sized exactly but not decoded. */
    int64_t const f4 = src_st_find(h, "f4");
    CHECK(f4 >= 0);
    if (f4 >= 0) {
        const src_st_tensor *ti = src_st_tensor_at(h, (uint32_t)f4);
        CHECK_EQ_U64(ti->dtype, SRC_ST_F4);
        CHECK_EQ_U64(ti->nbytes, 3);
        CHECK(!src_st_dtype_decodable(ti->dtype));
        float out[6];
        CHECK_EQ_INT(src_st_to_f32(h, (uint32_t)f4, 0, 6, out, &err), TRIT_E_UNSUPPORTED);
    }
    int64_t const c64 = src_st_find(h, "c64");
    CHECK(c64 >= 0 && src_st_tensor_at(h, (uint32_t)c64)->nbytes == 8);
}

TEST(src_safetensors_every_dtype)
{
    dt_case c[24];
    int const n = make_dtype_cases(c);
    stt_writer *w = malloc(sizeof *w);
    stt_init(w, NULL);
    for (int i = 0; i < n; i++) stt_add(w, c[i].name, c[i].dtype, c[i].shape, c[i].bytes, c[i].n);
    uint8_t const f4[3] = {0x21, 0x43, 0x65}, c64[8] = {0};
    stt_add(w, "f4", "F4", "[6]", f4, 3);
    stt_add(w, "c64", "C64", "[1]", c64, 8);
    const char *path = test_path(stt_dir("dtypes"), "all.safetensors");
    CHECK_EQ_INT(stt_finish_file(w, path), 0);
    uint64_t const data_off = 8 + w->hdr_len + (8 - w->hdr_len % 8) % 8;
    CHECK_EQ_U64(data_off % 8, 0);
    size_t len;
    uint8_t *img = stt_finish(w, &len);

    trit_err err;
    src_st *h = NULL;
    CHECK_OK_E(src_st_open(path, NULL, &h, &err), &err);
    if (h) check_dtype_handle(h, c, n, data_off);
    src_st_close(h);
    h = NULL;
    CHECK_OK_E(src_st_open_mem(img, len, "all", &h, &err), &err);
    if (h) check_dtype_handle(h, c, n, data_off);
    src_st_close(h);
    free(img);
    free(w);

    /* The name table round-trips and knows nothing else. */
    for (uint32_t d = 0; d < SRC_ST_DTYPE_COUNT_; d++) {
        const char *nm = src_st_dtype_name(d);
        CHECK(nm != NULL);
        CHECK_EQ_INT(src_st_dtype_from_name(nm, strlen(nm)), (int)d);
    }
    CHECK_EQ_INT(src_st_dtype_from_name("F8", 2), -1);
    CHECK_EQ_INT(src_st_dtype_from_name("f32", 3), -1);
    CHECK(src_st_dtype_name(SRC_ST_DTYPE_COUNT_) == NULL);
    CHECK_EQ_U64(src_st_dtype_bits(SRC_ST_F4), 4);
    CHECK_EQ_U64(src_st_dtype_bits(SRC_ST_F6_E2M3), 6);
}

TEST(src_safetensors_fp8_known_values)
{
    /* E4M3 (FN): bias 7, 3 mantissa bits, no inf, S.1111.111 = NaN, max 448, min sub 2^-9. */
    CHECK(src_st_f8_e4m3_to_f32(0x00) == 0.0f);
    CHECK(src_st_f8_e4m3_to_f32(0x80) == 0.0f && signbit(src_st_f8_e4m3_to_f32(0x80)));
    CHECK(src_st_f8_e4m3_to_f32(0x38) == 1.0f);
    CHECK(src_st_f8_e4m3_to_f32(0x3C) == 1.5f);
    CHECK(src_st_f8_e4m3_to_f32(0x40) == 2.0f);
    CHECK(src_st_f8_e4m3_to_f32(0x7E) == 448.0f);
    CHECK(src_st_f8_e4m3_to_f32(0xFE) == -448.0f);
    CHECK(src_st_f8_e4m3_to_f32(0x77) == 240.0f);   /* e=14, m=7 */
    CHECK(src_st_f8_e4m3_to_f32(0x78) == 256.0f);   /* e=15, m=0 is a normal number in FN */
    CHECK(src_st_f8_e4m3_to_f32(0x01) == 0x1p-9f);
    CHECK(src_st_f8_e4m3_to_f32(0x07) == 7 * 0x1p-9f);
    CHECK(src_st_f8_e4m3_to_f32(0x08) == 0x1p-6f);  /* smallest normal */
    CHECK(isnan(src_st_f8_e4m3_to_f32(0x7F)));
    CHECK(isnan(src_st_f8_e4m3_to_f32(0xFF)));
    /* E5M2: bias 15, inf at 0x7C, NaN above, max 57344, min sub 2^-16. */
    CHECK(src_st_f8_e5m2_to_f32(0x3C) == 1.0f);
    CHECK(src_st_f8_e5m2_to_f32(0x3E) == 1.5f);
    CHECK(src_st_f8_e5m2_to_f32(0x7B) == 57344.0f);
    CHECK(src_st_f8_e5m2_to_f32(0x01) == 0x1p-16f);
    CHECK(src_st_f8_e5m2_to_f32(0x04) == 0x1p-14f);
    CHECK(src_st_f8_e5m2_to_f32(0xC0) == -2.0f);
    CHECK(isinf(src_st_f8_e5m2_to_f32(0x7C)) && src_st_f8_e5m2_to_f32(0x7C) > 0);
    CHECK(isinf(src_st_f8_e5m2_to_f32(0xFC)) && src_st_f8_e5m2_to_f32(0xFC) < 0);
    CHECK(isnan(src_st_f8_e5m2_to_f32(0x7D)));
    CHECK(isnan(src_st_f8_e5m2_to_f32(0xFF)));
    /* E8M0: 2^(e-127), 0xFF NaN. */
    CHECK(src_st_f8_e8m0_to_f32(127) == 1.0f);
    CHECK(src_st_f8_e8m0_to_f32(0) == 0x1p-127f);
    CHECK(src_st_f8_e8m0_to_f32(254) == 0x1p127f);
    CHECK(isnan(src_st_f8_e8m0_to_f32(255)));
    /* FNUZ: bias 8 / 16, 0x80 is the only NaN, no inf, no negative zero. */
    CHECK(src_st_f8_e4m3fnuz_to_f32(0x40) == 1.0f);
    CHECK(src_st_f8_e4m3fnuz_to_f32(0x7F) == 240.0f);
    CHECK(src_st_f8_e4m3fnuz_to_f32(0x01) == 0x1p-10f);
    CHECK(isnan(src_st_f8_e4m3fnuz_to_f32(0x80)));
    CHECK(src_st_f8_e4m3fnuz_to_f32(0xC0) == -1.0f);
    CHECK(src_st_f8_e5m2fnuz_to_f32(0x40) == 1.0f);
    CHECK(src_st_f8_e5m2fnuz_to_f32(0x7F) == 57344.0f);
    CHECK(src_st_f8_e5m2fnuz_to_f32(0x01) == 0x1p-17f);
    CHECK(isnan(src_st_f8_e5m2fnuz_to_f32(0x80)));
    /* Exhaustive cross-check of E4M3 against the definition, via doubles. */
    for (int b = 0; b < 256; b++) {
        int const s = b >> 7, e = (b >> 3) & 15, m = b & 7;
        float const got = src_st_f8_e4m3_to_f32((uint8_t)b);
        if (e == 15 && m == 7) { CHECK(isnan(got)); continue; }
        double const mag = e ? ldexp(1.0 + m / 8.0, e - 7) : ldexp(m / 8.0, -6);
        if ((double)got != (s ? -mag : mag))
            test_fail_(__FILE__, __LINE__, "e4m3 0x%02x -> %g, want %g", b, (double)got, s ? -mag : mag);
    }
}

/* ---- metadata, order, shapes, padding ------------------------------------------------------- */

static src_st *open_image(uint8_t *img, size_t len, trit_err *err)
{
    src_st *h = NULL;
    src_st_open_mem(img, len, "t", &h, err);
    return h;
}

TEST(src_safetensors_metadata_map_and_null)
{
    trit_err err;
    uint8_t const d[4] = {1, 2, 3, 4};
    stt_writer *w = malloc(sizeof *w);
    size_t len;
    uint8_t *img;
    src_st *h;

    stt_init(w, "{\"format\":\"pt\",\"note\":\"caf\\u00e9 \\ud83d\\ude00\"}");
    stt_add(w, "x", "U8", "[4]", d, 4);
    img = stt_finish(w, &len);
    h = open_image(img, len, &err);
    CHECK(h != NULL);
    if (h) {
        CHECK_EQ_U64(src_st_n_meta(h), 2);
        CHECK_STR(src_st_meta_get(h, "format"), "pt");
        CHECK_STR(src_st_meta_get(h, "note"), "caf\xc3\xa9 \xf0\x9f\x98\x80");
        const char *k, *v;
        CHECK_OK_E(src_st_meta_at(h, 0, &k, &v), &err);
        CHECK_STR(k, "format");
        CHECK_EQ_INT(src_st_meta_at(h, 2, &k, &v), TRIT_E_USAGE);
        CHECK(src_st_meta_get(h, "absent") == NULL);
        CHECK_EQ_INT(src_st_shard(h, 0)->metadata_null, 0);
    }
    src_st_close(h);
    free(img);

    stt_init(w, "null");
    stt_add(w, "x", "U8", "[4]", d, 4);
    img = stt_finish(w, &len);
    h = open_image(img, len, &err);
    CHECK(h != NULL);
    if (h) {
        CHECK_EQ_U64(src_st_n_meta(h), 0);
        CHECK_EQ_INT(src_st_shard(h, 0)->metadata_null, 1);
    }
    src_st_close(h);
    free(img);

    /* An empty map is a present map (fastsafetensors PR #89 tested truthiness). */
    stt_init(w, "{}");
    stt_add(w, "x", "U8", "[4]", d, 4);
    img = stt_finish(w, &len);
    h = open_image(img, len, &err);
    CHECK(h != NULL && src_st_n_meta(h) == 0 && !src_st_shard(h, 0)->metadata_null);
    src_st_close(h);
    free(img);
    free(w);
}

TEST(src_safetensors_out_of_order_entries)
{
    trit_err err;
    uint8_t d[24];
    for (int i = 0; i < 24; i++) d[i] = (uint8_t)(i * 7 + 1);
    stt_writer *w = malloc(sizeof *w);
    stt_init(w, NULL);
    w->reverse_json = 1;   /* JSON lists c, b, a; the data is a, b, c */
    stt_add(w, "a", "U8", "[4]", d, 4);
    stt_add(w, "b", "U16", "[2, 2]", d + 4, 8);
    stt_add(w, "c", "U32", "[3]", d + 12, 12);
    size_t len;
    uint8_t *img = stt_finish(w, &len);
    CHECK(strncmp(w->hdr, "{\"c\"", 4) == 0);
    src_st *h = open_image(img, len, &err);
    CHECK(h != NULL);
    if (h) {
        uint64_t const base = 8 + w->hdr_len + (8 - w->hdr_len % 8) % 8;
        /* Tensors come back in data order. */
        CHECK_STR(src_st_tensor_at(h, 0)->name, "a");
        CHECK_STR(src_st_tensor_at(h, 1)->name, "b");
        CHECK_STR(src_st_tensor_at(h, 2)->name, "c");
        CHECK_EQ_U64(src_st_tensor_at(h, 2)->offset, base + 12);
        CHECK_EQ_U64(src_st_tensor_at(h, 1)->n_dims, 2);
        CHECK_EQ_U64(src_st_tensor_at(h, 1)->dims[0], 2);
        CHECK_EQ_INT(src_st_find(h, "c"), 2);
        CHECK_EQ_INT(src_st_find(h, "d"), -1);
        uint8_t got[12];
        CHECK_OK_E(src_st_read(h, 2, 0, got, 12, &err), &err);
        CHECK(memcmp(got, d + 12, 12) == 0);
        CHECK_OK_E(src_st_read(h, 2, 11, got, 1, &err), &err);
        CHECK_EQ_U64(got[0], d[23]);
        CHECK_EQ_INT(src_st_read(h, 2, 11, got, 2, &err), TRIT_E_USAGE);
        CHECK_EQ_INT(src_st_read(h, 3, 0, got, 1, &err), TRIT_E_USAGE);
        CHECK_EQ_U64(src_st_data_size(h), 24);
    }
    src_st_close(h);
    free(img);
    free(w);
}

TEST(src_safetensors_scalar_empty_and_no_tensors)
{
    trit_err err;
    uint8_t d[4];
    trit_store_le32(d, f32_bits(-7.5f));
    stt_writer *w = malloc(sizeof *w);
    stt_init(w, NULL);
    stt_add(w, "empty", "F32", "[0, 3]", NULL, 0);
    stt_add(w, "scalar", "F32", "[]", d, 4);
    stt_add(w, "empty2", "BF16", "[5, 0]", NULL, 0);
    size_t len;
    uint8_t *img = stt_finish(w, &len);
    src_st *h = open_image(img, len, &err);
    CHECK(h != NULL);
    if (h) {
        int64_t const s = src_st_find(h, "scalar");
        CHECK(s >= 0);
        const src_st_tensor *t = src_st_tensor_at(h, (uint32_t)s);
        CHECK_EQ_U64(t->n_dims, 0);
        CHECK_EQ_U64(t->n_elems, 1);
        float v = 0;
        CHECK_OK_E(src_st_to_f32(h, (uint32_t)s, 0, 1, &v, &err), &err);
        CHECK(v == -7.5f);
        const src_st_tensor *e = src_st_tensor_at(h, (uint32_t)src_st_find(h, "empty"));
        CHECK_EQ_U64(e->n_elems, 0);
        CHECK_EQ_U64(e->nbytes, 0);
        CHECK_OK_E(src_st_to_f32(h, (uint32_t)src_st_find(h, "empty"), 0, 0, &v, &err), &err);
        CHECK_EQ_INT(src_st_to_f32(h, (uint32_t)s, 1, 1, &v, &err), TRIT_E_USAGE);
    }
    src_st_close(h);
    free(img);
    free(w);

    /* A header with no tensors and no data is a valid (empty) file: the reference writer's
     * own test vector {8,0,..,'{','}',' 'x6}. */
    static const uint8_t empty[] = {8, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' ', ' ', ' ', ' ', ' '};
    src_st *h2 = NULL;
    CHECK_OK_E(src_st_open_mem(empty, sizeof empty, "empty", &h2, &err), &err);
    CHECK(h2 && src_st_n_tensors(h2) == 0);
    src_st_close(h2);
}

TEST(src_safetensors_reference_writer_vector)
{
    /* safetensors tensor.rs test_serialization: attn.0 F32 [1,2,3] = 0..5, unpadded header
     * (written before the 8-byte padding rule). */
    static const uint8_t v[] = {
        64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100,
        116, 121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34,
        58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115,
        101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63,
        0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64};
    trit_err err;
    src_st *h = NULL;
    CHECK_OK_E(src_st_open_mem(v, sizeof v, "ref", &h, &err), &err);
    if (!h) return;
    const src_st_tensor *t = src_st_tensor_at(h, 0);
    CHECK_STR(t->name, "attn.0");
    CHECK_EQ_U64(t->n_dims, 3);
    CHECK_EQ_U64(t->dims[2], 3);
    CHECK_EQ_U64(t->offset, 72);
    float out[6];
    CHECK_OK_E(src_st_to_f32(h, 0, 0, 6, out, &err), &err);
    for (int i = 0; i < 6; i++) CHECK(out[i] == (float)i);
    CHECK_OK_E(src_st_to_f32(h, 0, 4, 2, out, &err), &err);
    CHECK(out[0] == 4.0f && out[1] == 5.0f);
    src_st_close(h);
}

TEST(src_safetensors_chunked_decode)
{
    /* More elements than one internal chunk (16 KiB), read at odd offsets. */
    enum { N = 9001 };
    stt_writer *w = malloc(sizeof *w);
    stt_init(w, NULL);
    uint8_t *d = malloc(N * 4);
    for (int i = 0; i < N; i++) trit_store_le32(d + 4 * i, f32_bits((float)i * 0.5f - 100.0f));
    stt_add(w, "big", "F32", "[9001]", d, N * 4);
    size_t len;
    uint8_t *img = stt_finish(w, &len);
    trit_err err;
    src_st *h = open_image(img, len, &err);
    float *out = malloc(N * sizeof *out);
    CHECK(h != NULL && out != NULL);
    if (h && out) {
        CHECK_OK_E(src_st_to_f32(h, 0, 0, N, out, &err), &err);
        int bad = 0;
        for (int i = 0; i < N; i++) bad += out[i] != (float)i * 0.5f - 100.0f;
        CHECK_EQ_INT(bad, 0);
        CHECK_OK_E(src_st_to_f32(h, 0, 4095, 4100, out, &err), &err);
        CHECK(out[0] == 4095 * 0.5f - 100.0f && out[4099] == 8194 * 0.5f - 100.0f);
    }
    free(out);
    src_st_close(h);
    free(img);
    free(d);
    free(w);
}

TEST(src_safetensors_probe)
{
    size_t len;
    uint8_t *img = stt_image("{}", 6, NULL, 0, &len);
    CHECK(src_st_probe(img, len, len) > 0);
    CHECK_EQ_INT(src_st_probe(img, len, 10), 0);                 /* header past EOF */
    CHECK_EQ_INT(src_st_probe((const uint8_t *)"GGUF\3\0\0\0\0\0\0\0", 12, 1000), 0);
    CHECK_EQ_INT(src_st_probe((const uint8_t *)"version https://git-lfs", 23, 130), 0);
    free(img);
}

/* ---- names ---------------------------------------------------------------------------------- */

TEST(src_safetensors_moe_names)
{
    static const struct { const char *name; uint32_t layer, expert; } c[] = {
        {"model.layers.3.block_sparse_moe.experts.7.w1.weight", 3, 7},          /* Mixtral */
        {"model.layers.0.block_sparse_moe.gate.weight", 0, TRIT_NONE32},
        {"model.layers.12.mlp.experts.63.gate_proj.weight", 12, 63},            /* Qwen2/3-MoE */
        {"model.layers.12.mlp.shared_expert.up_proj.weight", 12, TRIT_NONE32},
        {"model.layers.5.mlp.experts.255.down_proj.weight_scale_inv", 5, 255},  /* DeepSeek-V3 */
        {"model.layers.5.mlp.shared_experts.down_proj.weight", 5, TRIT_NONE32},
        {"model.layers.9.mlp.experts.gate_up_proj", 9, TRIT_NONE32},            /* fused, v5 */
        {"model.layers.1.block_sparse_moe.input_linear.weight", 1, TRIT_NONE32}, /* granitemoe */
        {"transformer.h.11.attn.c_attn.weight", 11, TRIT_NONE32},
        {"model.embed_tokens.weight", TRIT_NONE32, TRIT_NONE32},
        {"layers.2.feed_forward.experts.1.w2", 2, 1},
        {"model.layers.x.mlp.experts.y.w1", TRIT_NONE32, TRIT_NONE32},
        {"model.layers.99999999999.mlp", TRIT_NONE32, TRIT_NONE32},
        {"experts.4", TRIT_NONE32, 4},
        {"", TRIT_NONE32, TRIT_NONE32},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        uint32_t l, e;
        src_st_name_layer_expert(c[i].name, &l, &e);
        if (l != c[i].layer || e != c[i].expert)
            test_fail_(__FILE__, __LINE__, "'%s' -> layer %u expert %u, want %u %u", c[i].name, l, e,
                       c[i].layer, c[i].expert);
    }
}

/* ---- BitNet packed weights ------------------------------------------------------------------ */

/* Logical [8, 3] ternary matrix packed as U8 [2, 3] the way pack_weights does: quarter q of
 * the rows in bits 2q..2q+1, code = value + 1. */
static void bitnet_pack(const int8_t logical[8][3], uint8_t packed[2][3])
{
    memset(packed, 0, 6);
    for (int row = 0; row < 8; row++)
        for (int col = 0; col < 3; col++) {
            int const q = row / 2, r = row % 2;
            packed[r][col] |= (uint8_t)((logical[row][col] + 1) << (2 * q));
        }
}

static const char *bitnet_dir(const char *sub, const char *config, const uint8_t packed[2][3],
                              uint16_t scale_bf16, const char *scale_shape)
{
    const char *dir = stt_dir(sub);
    stt_writer *w = malloc(sizeof *w);
    uint8_t sc[4];
    trit_store_le16(sc, scale_bf16);
    trit_store_le16(sc + 2, scale_bf16);
    stt_init(w, NULL);
    stt_add(w, "model.layers.0.mlp.down_proj.weight", "U8", "[2, 3]", packed, 6);
    stt_add(w, "model.layers.0.mlp.down_proj.weight_scale", "BF16", scale_shape, sc,
            strcmp(scale_shape, "[2]") == 0 ? 4 : 2);
    stt_add(w, "model.norm.weight", "U8", "[2, 3]", packed, 6);   /* U8 2-D but no scale */
    CHECK_EQ_INT(stt_finish_file(w, test_path(dir, "model.safetensors")), 0);
    free(w);
    if (config) CHECK_EQ_INT(test_write_file(test_path(dir, "config.json"), config, strlen(config)), 0);
    return dir;
}

TEST(src_safetensors_bitnet_packed_view)
{
    static const int8_t L[8][3] = {{-1, 0, 1}, {1, 1, -1}, {0, 0, 0}, {-1, -1, 1},
                                   {1, -1, 0}, {0, 1, -1}, {-1, 0, 0}, {1, 1, 1}};
    uint8_t P[2][3];
    bitnet_pack(L, P);
    trit_err err;
    static const char cfg[] =
        "{\"architectures\":[\"BitNetForCausalLM\"],\"quantization_config\":{\"quant_method\":\"bitnet\","
        "\"linear_class\":\"bitlinear\",\"quantization_mode\":\"offline\"}}";
    const char *dir = bitnet_dir("bitnet", cfg, P, 0x4000 /* bf16 2.0 */, "[1]");
    src_st *h = NULL;
    CHECK_OK_E(src_st_open(dir, NULL, &h, &err), &err);
    if (!h) return;
    CHECK(src_st_config_is_bitnet(h));
    int64_t const wi = src_st_find(h, "model.layers.0.mlp.down_proj.weight");
    src_st_bitnet v;
    CHECK_OK_E(src_st_bitnet_view(h, (uint32_t)wi, &v, &err), &err);
    CHECK_EQ_U64(v.rows, 8);
    CHECK_EQ_U64(v.cols, 3);
    CHECK(v.scale_value == 2.0f);
    CHECK_EQ_INT(v.divide, 1);
    CHECK_EQ_INT(v.from_config, 1);
    int8_t t[24];
    CHECK_OK_E(src_st_bitnet_ternary(h, &v, 0, 24, t, &err), &err);
    CHECK(memcmp(t, L, 24) == 0);
    /* A window crossing rows and quarters. */
    CHECK_OK_E(src_st_bitnet_ternary(h, &v, 5, 9, t, &err), &err);
    CHECK(memcmp(t, &L[0][0] + 5, 9) == 0);
    float f[24];
    CHECK_OK_E(src_st_bitnet_to_f32(h, &v, 0, 24, f, &err), &err);
    for (int i = 0; i < 24; i++) CHECK(f[i] == (float)(&L[0][0])[i] / 2.0f);
    CHECK_EQ_INT(src_st_bitnet_ternary(h, &v, 20, 5, t, &err), TRIT_E_USAGE);
    /* Not packed weights: no sibling scale; not U8. */
    CHECK_EQ_INT(src_st_bitnet_view(h, (uint32_t)src_st_find(h, "model.norm.weight"), &v, &err), TRIT_E_NOTFOUND);
    CHECK_EQ_INT(src_st_bitnet_view(h, (uint32_t)src_st_find(h, "model.layers.0.mlp.down_proj.weight_scale"), &v, &err),
                 TRIT_E_NOTFOUND);
    src_st_close(h);

    /* autobitlinear multiplies; no config still detects the pairing (and divides). */
    static const char cfg_auto[] = "{\"quantization_config\":{\"quant_method\":\"bitnet\",\"linear_class\":\"autobitlinear\"}}";
    dir = bitnet_dir("bitnet_auto", cfg_auto, P, 0x4000, "[1]");
    CHECK_OK_E(src_st_open(dir, NULL, &h, &err), &err);
    if (h) {
        CHECK_OK_E(src_st_bitnet_view(h, 0, &v, &err), &err);
        CHECK_EQ_INT(v.divide, 0);
        CHECK_OK_E(src_st_bitnet_to_f32(h, &v, 0, 3, f, &err), &err);
        CHECK(f[0] == -2.0f && f[1] == 0.0f && f[2] == 2.0f);
        src_st_close(h);
    }
    dir = bitnet_dir("bitnet_nocfg", NULL, P, 0x4000, "[]");
    CHECK_OK_E(src_st_open(dir, NULL, &h, &err), &err);
    if (h) {
        CHECK(!src_st_config_is_bitnet(h));
        CHECK_OK_E(src_st_bitnet_view(h, 0, &v, &err), &err);
        CHECK_EQ_INT(v.divide, 1);
        CHECK_EQ_INT(v.from_config, 0);
        src_st_close(h);
    }
    /* Another quantization method owns U8 + weight_scale: not ours. */
    dir = bitnet_dir("bitnet_fp8", "{\"quantization_config\":{\"quant_method\":\"fp8\"}}", P, 0x4000, "[1]");
    CHECK_OK_E(src_st_open(dir, NULL, &h, &err), &err);
    if (h) {
        CHECK_EQ_INT(src_st_bitnet_view(h, 0, &v, &err), TRIT_E_NOTFOUND);
        src_st_close(h);
    }
    /* A pairing whose scale is two elements, or zero, is corrupt. */
    dir = bitnet_dir("bitnet_badscale", cfg, P, 0x4000, "[2]");
    CHECK_OK_E(src_st_open(dir, NULL, &h, &err), &err);
    if (h) {
        CHECK_EQ_INT(src_st_bitnet_view(h, 0, &v, &err), TRIT_E_CORRUPT);
        CHECK(strstr(err.where, "weight_scale") != NULL);
        src_st_close(h);
    }
    dir = bitnet_dir("bitnet_zeroscale", cfg, P, 0x0000, "[1]");
    CHECK_OK_E(src_st_open(dir, NULL, &h, &err), &err);
    if (h) {
        CHECK_EQ_INT(src_st_bitnet_view(h, 0, &v, &err), TRIT_E_CORRUPT);
        src_st_close(h);
    }
    /* Code 3 is not a ternary value: refused with the byte's file offset. */
    uint8_t Q[2][3];
    memcpy(Q, P, 6);
    Q[1][2] = (uint8_t)((Q[1][2] & ~(3u << 4)) | (3u << 4));   /* quarter 2, packed row 1, col 2 */
    dir = bitnet_dir("bitnet_code3", cfg, Q, 0x4000, "[1]");
    CHECK_OK_E(src_st_open(dir, NULL, &h, &err), &err);
    if (h) {
        CHECK_OK_E(src_st_bitnet_view(h, 0, &v, &err), &err);
        CHECK_OK_E(src_st_bitnet_ternary(h, &v, 0, 15, t, &err), &err);   /* rows 0..4 fine */
        CHECK_EQ_INT(src_st_bitnet_ternary(h, &v, 0, 24, t, &err), TRIT_E_CORRUPT);
        CHECK_EQ_U64(err.offset, src_st_tensor_at(h, 0)->offset + 5);
        src_st_close(h);
    }
}

/* ---- real files written by other tools ------------------------------------------------------ */

/* Path of a fixture, or NULL without fixtures. Static storage per slot: test_path's ring is
 * only 8 deep and these tests build many paths from one directory. */
static const char *fixture(const char *rel)
{
    static char slots[4][4096];
    static unsigned k;
    const char *fx = test_fixtures();
    if (!fx) return NULL;
    char *b = slots[k++ % 4];
    snprintf(b, sizeof slots[0], "%s/%s", fx, rel);
    return b;
}

TEST(src_safetensors_fixture_hf_samples)
{
    const char *dir = fixture("safetensors/hf-safetensors-samples");
    struct stat st;
    if (!dir || stat(dir, &st) != 0) SKIP("fixtures absent");
    static const struct { const char *file; uint32_t dtype; uint64_t esz; } s[] = {
        {"B", SRC_ST_U8, 1}, {"H", SRC_ST_U16, 2}, {"I", SRC_ST_U32, 4}, {"b", SRC_ST_I8, 1},
        {"d", SRC_ST_F64, 8}, {"e", SRC_ST_F16, 2}, {"f", SRC_ST_F32, 4}, {"h", SRC_ST_I16, 2},
        {"i", SRC_ST_I32, 4},
    };
    /* The samples hold -3..2; unsigned types wrap (U8 253, 254, 255, 0, 1, 2). */
    static const int vals[6] = {-3, -2, -1, 0, 1, 2};
    trit_err err;
    src_st *all = NULL;
    CHECK_OK_E(src_st_open(test_path(dir, "overall.safetensors"), NULL, &all, &err), &err);
    if (all) {
        CHECK_EQ_U64(src_st_n_tensors(all), 9);
        CHECK_STR(src_st_meta_get(all, "test"), "a");
        CHECK_EQ_U64(src_st_shard(all, 0)->data_off, 534);
    }
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "%s.safetensors", s[i].file);
        src_st *h = NULL;
        CHECK_OK_E(src_st_open(test_path(dir, name), NULL, &h, &err), &err);
        if (!h) continue;
        CHECK_EQ_U64(src_st_n_tensors(h), 1);
        CHECK_EQ_U64(src_st_n_meta(h), 1);
        CHECK_STR(src_st_meta_get(h, "test"), "a");
        const src_st_tensor *t = src_st_tensor_at(h, 0);
        CHECK_STR(t->name, s[i].file);
        CHECK_EQ_U64(t->dtype, s[i].dtype);
        CHECK_EQ_U64(t->n_dims, 1);
        CHECK_EQ_U64(t->dims[0], 6);
        CHECK_EQ_U64(t->nbytes, 6 * s[i].esz);
        float out[6];
        CHECK_OK_E(src_st_to_f32(h, 0, 0, 6, out, &err), &err);
        for (int k = 0; k < 6; k++) {
            float want = (float)vals[k];
            if (s[i].dtype == SRC_ST_U8) want = (float)(uint8_t)vals[k];
            if (s[i].dtype == SRC_ST_U16) want = (float)(uint16_t)vals[k];
            if (s[i].dtype == SRC_ST_U32) want = (float)(uint32_t)vals[k];
            if (out[k] != want)
                test_fail_(__FILE__, __LINE__, "%s[%d] = %g, want %g", s[i].file, k, (double)out[k], (double)want);
        }
        /* The same tensor inside overall.safetensors holds the same bytes. */
        if (all) {
            int64_t const j = src_st_find(all, s[i].file);
            CHECK(j >= 0);
            uint8_t a[48], b[48];
            CHECK_OK_E(src_st_read(h, 0, 0, a, t->nbytes, &err), &err);
            CHECK_OK_E(src_st_read(all, (uint32_t)j, 0, b, t->nbytes, &err), &err);
            CHECK(memcmp(a, b, t->nbytes) == 0);
        }
        src_st_close(h);
    }
    src_st_close(all);
}

TEST(src_safetensors_fixture_discollama_null_meta_out_of_order)
{
    const char *p = fixture("safetensors/discollama-lora-adapters.safetensors");
    struct stat st;
    if (!p || stat(p, &st) != 0) SKIP("fixtures absent");
    trit_err err;
    src_st *h = NULL;
    CHECK_OK_E(src_st_open(p, NULL, &h, &err), &err);
    if (!h) return;
    CHECK_EQ_U64(src_st_n_tensors(h), 8);
    CHECK_EQ_U64(src_st_n_meta(h), 0);
    CHECK_EQ_INT(src_st_shard(h, 0)->metadata_null, 1);
    /* First in the JSON, but its data starts at 294912. */
    int64_t const t = src_st_find(h, "model.layers.30.self_attn.q_proj.lora_a");
    CHECK(t >= 0);
    const src_st_tensor *ti = src_st_tensor_at(h, (uint32_t)t);
    CHECK_EQ_U64(ti->offset, 8 + 864 + 294912);
    CHECK_EQ_U64(ti->dims[0], 4096);
    CHECK_EQ_U64(ti->dims[1], 8);
    float v[4];
    CHECK_OK_E(src_st_to_f32(h, (uint32_t)t, 0, 4, v, &err), &err);
    /* values read independently (python struct) */
    CHECK(v[0] == (float)-0.007250439375638962 && v[3] == (float)0.01620480976998806);
    CHECK_STR(src_st_tensor_at(h, 0)->name, "model.layers.31.self_attn.q_proj.lora_b");
    for (uint32_t i = 0; i < 8; i++) CHECK_EQ_U64(src_st_tensor_at(h, i)->dtype, SRC_ST_F32);
    src_st_close(h);
}

TEST(src_safetensors_fixture_minicpm3_with_config)
{
    const char *dir = fixture("safetensors/ollama-minicpm3-4b-testdata");
    struct stat st;
    if (!dir || stat(dir, &st) != 0) SKIP("fixtures absent");
    trit_err err;
    src_st *h = NULL;
    CHECK_OK_E(src_st_open(dir, NULL, &h, &err), &err);
    if (!h) return;
    CHECK_EQ_U64(src_st_n_tensors(h), 15);
    CHECK(src_st_side_path(h, SRC_ST_SIDE_CONFIG) != NULL);
    CHECK(src_st_side_path(h, SRC_ST_SIDE_TOKENIZER_JSON) == NULL);
    const cJSON *cfg = src_st_config(h);
    CHECK(cfg != NULL);
    const cJSON *arch = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(cfg, "architectures"), 0);
    CHECK(cJSON_IsString(arch) && strcmp(arch->valuestring, "MiniCPM3ForCausalLM") == 0);
    int64_t const n = src_st_find(h, "model.norm.weight");
    float v[100];
    CHECK_OK_E(src_st_to_f32(h, (uint32_t)n, 0, 100, v, &err), &err);
    for (int i = 0; i < 100; i++) CHECK(v[i] == 1.0f);
    CHECK(!src_st_config_is_bitnet(h));
    src_st_close(h);
}

TEST(src_safetensors_fixture_candle_int64_3d)
{
    const char *p = fixture("safetensors/candle/encodec-jfk-codes.safetensors");
    struct stat st;
    if (!p || stat(p, &st) != 0) SKIP("fixtures absent");
    trit_err err;
    src_st *h = NULL;
    CHECK_OK_E(src_st_open(p, NULL, &h, &err), &err);
    if (h) {
        const src_st_tensor *t = src_st_tensor_at(h, 0);
        CHECK_STR(t->name, "codes");
        CHECK_EQ_U64(t->dtype, SRC_ST_I64);
        CHECK_EQ_U64(t->n_dims, 3);
        CHECK(t->dims[0] == 1 && t->dims[1] == 2 && t->dims[2] == 828);
        float v[6];
        CHECK_OK_E(src_st_to_f32(h, 0, 0, 6, v, &err), &err);
        CHECK(v[0] == 865 && v[1] == 62 && v[2] == 408 && v[5] == 1022);
        CHECK_OK_E(src_st_to_f32(h, 0, 1653, 3, v, &err), &err);
        CHECK(v[0] == 873 && v[1] == 796 && v[2] == 889);
        src_st_close(h);
    }
    p = fixture("safetensors/candle/csm-voices.safetensors");
    h = NULL;
    CHECK_OK_E(src_st_open(p, NULL, &h, &err), &err);
    if (h) {
        int64_t const m = src_st_find(h, "mask");
        CHECK(m >= 0 && src_st_tensor_at(h, (uint32_t)m)->dtype == SRC_ST_U8);
        float *v = malloc(32406 * sizeof *v);
        uint64_t ones = 0, other = 0;
        CHECK_OK_E(src_st_to_f32(h, (uint32_t)m, 0, 32406, v, &err), &err);
        for (int i = 0; i < 32406; i++) { ones += v[i] == 1.0f; other += v[i] != 0.0f && v[i] != 1.0f; }
        CHECK_EQ_U64(ones, 24294);   /* counted independently (python) */
        CHECK_EQ_U64(other, 0);
        free(v);
        src_st_close(h);
    }
}

TEST(src_safetensors_fixture_every_file_opens)
{
    const char *root = fixture("safetensors");
    struct stat st;
    if (!root || stat(root, &st) != 0) SKIP("fixtures absent");
    /* Walk two levels: every *.safetensors must open; the only index here has no shards. */
    const char *subs[] = {"", "hf-safetensors-samples", "ollama-minicpm3-4b-testdata", "candle"};
    int opened = 0;
    for (size_t s = 0; s < sizeof subs / sizeof subs[0]; s++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/%s", root, subs[s]);
        DIR *d = opendir(dir);
        if (!d) continue;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            size_t const n = strlen(e->d_name);
            if (n < 12 || strcmp(e->d_name + n - 12, ".safetensors") != 0) continue;
            char p[4200];
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            trit_err err;
            src_st *h = NULL;
            CHECK_OK_E(src_st_open(p, NULL, &h, &err), &err);
            if (h) {
                opened++;
                /* Every tensor decodes end to end (the files are small). */
                for (uint32_t t = 0; t < src_st_n_tensors(h); t++) {
                    const src_st_tensor *ti = src_st_tensor_at(h, t);
                    float *v = malloc((size_t)ti->n_elems * sizeof *v + 1);
                    CHECK_OK_E(src_st_to_f32(h, t, 0, ti->n_elems, v, &err), &err);
                    free(v);
                }
            }
            src_st_close(h);
        }
        closedir(d);
    }
    CHECK(opened >= 14);   /* MANIFEST.md lists 14 safetensors files */
}

TEST(src_safetensors_fixture_granite_index_only_refused)
{
    const char *dir = fixture("safetensors/index-only/granite-3.1-1b-a400m-moe");
    struct stat st;
    if (!dir || stat(dir, &st) != 0) SKIP("fixtures absent");
    trit_err err;
    src_st *h = NULL;
    trit_err_clear(&err);
    CHECK_EQ_INT(src_st_open(dir, NULL, &h, &err), TRIT_E_NOTFOUND);
    CHECK(h == NULL);
    char msg[768];
    trit_err_format(&err, msg, sizeof msg);
    CHECK(strstr(msg, "model-00001-of-00002.safetensors") != NULL);
    CHECK(strstr(msg, "2 of 2 shards missing") != NULL);
    CHECK(strstr(err.file, "model.safetensors.index.json") != NULL);
    /* Through the index path too. */
    CHECK_EQ_INT(src_st_open(test_path(dir, "model.safetensors.index.json"), NULL, &h, &err), TRIT_E_NOTFOUND);

    /* The index itself parses: 218 entries over two shards, MoE names. */
    size_t len;
    uint8_t *buf = test_read_file(test_path(dir, "model.safetensors.index.json"), &len);
    CHECK(buf != NULL);
    src_st_index *ix = NULL;
    CHECK_OK_E(src_st_index_parse(buf, len, "granite index", &ix, &err), &err);
    if (ix) {
        CHECK_EQ_U64(src_st_index_n_entries(ix), 218);
        CHECK_EQ_U64(src_st_index_n_shards(ix), 2);
        CHECK_STR(src_st_index_shard(ix, 0), "model-00001-of-00002.safetensors");
        CHECK_STR(src_st_index_shard(ix, 1), "model-00002-of-00002.safetensors");
        uint64_t total = 0;
        CHECK_OK_E(src_st_index_total_size(ix, &total), &err);
        CHECK_EQ_U64(total, 5338513408ull);
        int64_t const e = src_st_index_find(ix, "model.embed_tokens.weight");
        uint32_t sh = 99;
        CHECK(e >= 0 && strcmp(src_st_index_entry(ix, (uint64_t)e, &sh), "model.embed_tokens.weight") == 0);
        CHECK_EQ_U64(sh, 0);
        CHECK_EQ_INT(src_st_index_find(ix, "no.such.tensor"), -1);
        uint32_t l, x;
        src_st_name_layer_expert("model.layers.23.block_sparse_moe.router.layer.weight", &l, &x);
        CHECK(l == 23 && x == TRIT_NONE32);
    }
    src_st_index_free(ix);
    free(buf);
}
