/* test_format_roundtrip.c - writer -> reader over every type, shape, scale layout, KV type,
 * sections and raw/zstd expert units; determinism; atomic output. */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "test.h"
#include "tfmt.h"
#include "trit_safemath.h"

TEST(format_roundtrip_every_type_and_shape)
{
    const char *path = test_path(test_tmpdir(), "rt.trit");
    trit_err err;
    CHECK_OK_E(tfmt_write(path, TFMT_FULL, &err), &err);
    trit_reader *r;
    trit_open_opts const o = {TRIT_OPEN_VERIFY};
    CHECK_OK_E(trit_reader_open(path, &o, &r, &err), &err);
    if (!r) return;
    trit_file_info const *fi = trit_reader_file_info(r);
    CHECK_EQ_U64(fi->major, 1);
    CHECK_EQ_U64(fi->n_tensors, 11 + 6);
    CHECK_EQ_U64(fi->n_units, 2);
    CHECK_EQ_U64(fi->n_sections, 1);
    CHECK_EQ_U64(fi->page_align, 16384);
    CHECK_EQ_U64(fi->data_off % 16384, 0);
    CHECK_EQ_U64(fi->required_features, TRIT_FEAT_REQ_ZSTD);

    /* every dense tensor: bytes are what we wrote, zero-copy, aligned */
    for (uint32_t i = 0; i < fi->n_tensors; i++) {
        trit_tensor_info const *t = trit_reader_tensor(r, i);
        CHECK_EQ_INT(trit_reader_find_tensor(r, t->name), i);
        if (t->unit != TRIT_NONE32) continue;
        const void *d;
        uint64_t n;
        CHECK_OK_E(trit_reader_tensor_data(r, i, &d, &n, &err), &err);
        CHECK_EQ_U64(n, t->size);
        CHECK_EQ_U64(t->offset % fi->tensor_align, 0);
        CHECK_EQ_U64((uintptr_t)d % 64, 0);
        if (t->type != TRIT_TYPE_T2) {
            uint8_t *want = malloc(n ? (size_t)n : 1);
            tfmt_fill(want, n, i);
            CHECK(memcmp(want, d, (size_t)n) == 0);
            free(want);
        }
    }
    /* shapes and sizes of specific tensors */
    int64_t k = trit_reader_find_tensor(r, "blk.0.attn_k.weight");
    CHECK(k >= 0);
    trit_tensor_info const *tk = trit_reader_tensor(r, (uint32_t)k);
    CHECK_EQ_U64(tk->n_dims, 2);
    CHECK_EQ_U64(tk->dims[1], 200);
    CHECK_EQ_U64(tk->scale_layout, TRIT_SCALE_ROW);
    CHECK_EQ_U64(tk->n_scales, 16);
    CHECK_EQ_U64(tk->size, 16 * 64 + 16 * 4); /* 200 -> 2 blocks of 32 bytes per row, then 16 f32 */
    int64_t v = trit_reader_find_tensor(r, "blk.0.attn_v.weight");
    trit_tensor_info const *tv = trit_reader_tensor(r, (uint32_t)v);
    CHECK_EQ_U64(tv->group_size, 64);
    CHECK_EQ_U64(tv->n_scales, 8 * 4);
    int64_t e = trit_reader_find_tensor(r, "misc.empty");
    CHECK_EQ_U64(trit_reader_tensor(r, (uint32_t)e)->size, 0);
    int64_t s = trit_reader_find_tensor(r, "misc.scalar");
    CHECK_EQ_U64(trit_reader_tensor(r, (uint32_t)s)->n_dims, 0);
    CHECK_EQ_U64(trit_reader_tensor(r, (uint32_t)s)->size, 4);
    CHECK_EQ_INT(trit_reader_find_tensor(r, "nope"), -1);

    /* units: each decodes to its members' bytes */
    for (uint32_t u = 0; u < 2; u++) {
        trit_unit_info const *un = trit_reader_unit(r, u);
        CHECK_EQ_U64(un->offset % fi->page_align, 0);
        CHECK_EQ_INT(trit_reader_find_unit(r, un->layer, un->expert), u);
        CHECK_EQ_U64(un->storage, u == 0 ? TRIT_STORAGE_ZSTD : TRIT_STORAGE_RAW);
        void *buf;
        uint64_t n;
        CHECK_OK_E(trit_reader_unit_load(r, u, &buf, &n, &err), &err);
        uint32_t nm;
        const uint32_t *m = trit_reader_unit_members(r, u, &nm);
        CHECK_EQ_U64(nm, 3);
        for (uint32_t j = 0; j < nm; j++) {
            trit_tensor_info const *t = trit_reader_tensor(r, m[j]);
            CHECK_EQ_U64(t->layer, 0);
            CHECK_EQ_U64(t->expert, un->expert);
            CHECK_EQ_U64(trit_xxh3((uint8_t *)buf + t->offset, (size_t)t->size), t->xxh3);
            uint8_t *want = malloc((size_t)t->size);
            tfmt_fill_t2(t, want, 100 + un->expert * 3 + j);
            CHECK(memcmp(want, (uint8_t *)buf + t->offset, (size_t)t->size) == 0);
            free(want);
            const void *d;
            uint64_t dn;
            CHECK_EQ_INT(trit_reader_tensor_data(r, m[j], &d, &dn, NULL), TRIT_E_USAGE);
        }
        trit_free(buf);
    }
    CHECK_EQ_INT(trit_reader_find_unit(r, 0, 9), -1);

    /* metadata: every type comes back */
    uint64_t u64;
    int64_t i64;
    double f64;
    const char *str;
    uint64_t sl;
    CHECK_OK_E(trit_reader_kv_str(r, (uint32_t)trit_reader_find_kv(r, "general.architecture"), &str, &sl), &err);
    CHECK(sl == 5 && memcmp(str, "llama", 5) == 0);
    CHECK_OK_E(trit_reader_kv_u64(r, (uint32_t)trit_reader_find_kv(r, "llama.block_count"), &u64), &err);
    CHECK_EQ_U64(u64, 1);
    CHECK_OK_E(trit_reader_kv_i64(r, (uint32_t)trit_reader_find_kv(r, "test.i32"), &i64), &err);
    CHECK_EQ_INT(i64, -7);
    CHECK_EQ_INT(trit_reader_kv_u64(r, (uint32_t)trit_reader_find_kv(r, "test.i32"), &u64), TRIT_E_USAGE);
    CHECK_OK_E(trit_reader_kv_u64(r, (uint32_t)trit_reader_find_kv(r, "test.u64"), &u64), &err);
    CHECK_EQ_U64(u64, 1ull << 40);
    CHECK_OK_E(trit_reader_kv_f64(r, (uint32_t)trit_reader_find_kv(r, "test.f64"), &f64), &err);
    CHECK(f64 == 0.125);
    CHECK_OK_E(trit_reader_kv_f64(r, (uint32_t)trit_reader_find_kv(r, "llama.rope.freq_base"), &f64), &err);
    CHECK(f64 == 10000.0);
    CHECK_OK_E(trit_reader_kv_u64(r, (uint32_t)trit_reader_find_kv(r, "test.bool"), &u64), &err);
    CHECK_EQ_U64(u64, 1);
    uint32_t const ia = (uint32_t)trit_reader_find_kv(r, "test.arr_str");
    uint32_t et;
    uint64_t cnt;
    CHECK_EQ_U64(trit_reader_kv_type(r, ia, &et, &cnt), TRIT_KV_ARRAY);
    CHECK_EQ_U64(et, TRIT_KV_STRING);
    CHECK_EQ_U64(cnt, 3);
    CHECK_OK_E(trit_reader_kv_arr_str(r, ia, 2, &str, &sl), &err);
    CHECK(sl == 3 && memcmp(str, "xyz", 3) == 0);
    CHECK_OK_E(trit_reader_kv_arr_str(r, ia, 1, &str, &sl), &err);
    CHECK_EQ_U64(sl, 0);
    CHECK_EQ_INT(trit_reader_kv_arr_str(r, ia, 3, &str, &sl), TRIT_E_USAGE);
    uint32_t const iu = (uint32_t)trit_reader_find_kv(r, "test.arr_u32");
    CHECK_OK_E(trit_reader_kv_arr_i64(r, iu, 2, &i64), &err);
    CHECK_EQ_INT(i64, 3);
    uint32_t const iff = (uint32_t)trit_reader_find_kv(r, "test.arr_f32");
    CHECK_OK_E(trit_reader_kv_arr_f64(r, iff, 1, &f64), &err);
    CHECK(f64 == -2.0);

    /* section */
    const void *sd;
    uint64_t sn;
    int64_t si = trit_reader_find_section(r, TRIT_SECTION_TOKENIZER_JSON);
    CHECK(si >= 0);
    CHECK_OK_E(trit_reader_section_data(r, (uint32_t)si, &sd, &sn, &err), &err);
    CHECK(sn > 10 && memcmp(sd, "{\"model\"", 8) == 0);
    trit_reader_close(r);
}

TEST(format_write_is_deterministic)
{
    const char *a = test_path(test_tmpdir(), "det-a.trit");
    const char *b = test_path(test_tmpdir(), "det-b.trit");
    trit_err err;
    CHECK_OK_E(tfmt_write(a, TFMT_FULL, &err), &err);
    CHECK_OK_E(tfmt_write(b, TFMT_FULL, &err), &err);
    size_t na = 0, nb = 0;
    uint8_t *pa = test_read_file(a, &na), *pb = test_read_file(b, &nb);
    CHECK(pa && pb);
    CHECK_EQ_U64(na, nb);
    CHECK(pa && pb && na == nb && memcmp(pa, pb, na) == 0);
    free(pa);
    free(pb);
}

static int count_tmp_files(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0 && strstr(e->d_name, ".tmp-")) n++;
    if (d) closedir(d);
    return n;
}

TEST(format_writer_is_atomic)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/atomic", test_tmpdir());
    mkdir(dir, 0755);
    const char *path = test_path(dir, "out.trit");
    struct stat st;
    trit_err err;
    trit_writer *w;
    /* a failed finish (a declared tensor never written) leaves nothing behind */
    CHECK_OK_E(trit_writer_open(path, NULL, &w, &err), &err);
    trit_tensor_info t;
    memset(&t, 0, sizeof t);
    t.name = "x";
    t.type = TRIT_TYPE_F32;
    t.n_dims = 1;
    t.dims[0] = 4;
    t.layer = TRIT_NONE32;
    t.unit = TRIT_NONE32;
    uint32_t id;
    CHECK_OK_E(trit_writer_add_tensor(w, &t, &id, &err), &err);
    CHECK_EQ_INT(count_tmp_files(dir, "out.trit"), 1);
    CHECK_EQ_INT(trit_writer_finish(w, &err), TRIT_E_USAGE);
    CHECK(stat(path, &st) != 0);
    CHECK_EQ_INT(count_tmp_files(dir, "out.trit"), 0);
    /* abort leaves nothing */
    CHECK_OK_E(trit_writer_open(path, NULL, &w, &err), &err);
    trit_writer_abort(w);
    CHECK(stat(path, &st) != 0);
    CHECK_EQ_INT(count_tmp_files(dir, "out.trit"), 0);
    /* wrong byte count is refused */
    CHECK_OK_E(trit_writer_open(path, NULL, &w, &err), &err);
    CHECK_OK_E(trit_writer_add_tensor(w, &t, &id, &err), &err);
    float const four[4] = {1, 2, 3, 4};
    CHECK_EQ_INT(trit_writer_write_tensor(w, id, four, 12, &err), TRIT_E_USAGE);
    trit_writer_abort(w);
    /* success, then a second write without overwrite is refused and the first file survives */
    CHECK_OK_E(trit_writer_open(path, NULL, &w, &err), &err);
    CHECK_OK_E(trit_writer_add_tensor(w, &t, &id, &err), &err);
    CHECK_OK_E(trit_writer_write_tensor(w, id, four, 16, &err), &err);
    CHECK_OK_E(trit_writer_finish(w, &err), &err);
    CHECK(stat(path, &st) == 0);
    CHECK_EQ_INT(trit_writer_open(path, NULL, &w, &err), TRIT_E_EXISTS);
    CHECK_EQ_INT(count_tmp_files(dir, "out.trit"), 0);
    /* duplicate names are refused at the writer too */
    trit_write_opts o = {0};
    o.overwrite = 1;
    CHECK_OK_E(trit_writer_open(path, &o, &w, &err), &err);
    CHECK_OK_E(trit_writer_add_tensor(w, &t, &id, &err), &err);
    CHECK_OK_E(trit_writer_add_tensor(w, &t, &id, &err), &err);
    CHECK_EQ_INT(trit_writer_finish(w, &err), TRIT_E_USAGE);
    CHECK(strstr(err.msg, "duplicate") != NULL);
    trit_reader *r;
    CHECK_OK_E(trit_reader_open(path, NULL, &r, &err), &err);
    trit_reader_close(r);
}

TEST(format_half_conversions_exact)
{
    /* every f16 value round-trips through f32 exactly (NaNs stay NaN) */
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float const f = trit_f16_to_f32((uint16_t)h);
        uint16_t const back = trit_f32_to_f16(f);
        if (isnan(f)) { if ((back & 0x7c00) != 0x7c00 || !(back & 0x3ff)) bad++; }
        else if (back != h) bad++;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK(trit_f16_to_f32(0x3c00) == 1.0f);
    CHECK(trit_f16_to_f32(0x0001) == 5.9604644775390625e-08f);
    CHECK_EQ_U64(trit_f32_to_f16(65520.0f), 0x7c00);       /* rounds to inf */
    CHECK_EQ_U64(trit_f32_to_f16(1.0f + 1.0f / 4096), 0x3c00); /* tie to even */
    CHECK_EQ_U64(trit_f32_to_bf16(1.0f), 0x3f80);
    CHECK(trit_bf16_to_f32(0xbf80) == -1.0f);
    CHECK_EQ_U64(trit_f32_to_bf16(1.00390625f), 0x3f80);     /* tie to even */
}

TEST(format_t2_pack_roundtrip)
{
    int8_t v[300], back[300];
    for (int i = 0; i < 300; i++) v[i] = (int8_t)((i * 7) % 3 - 1);
    uint8_t packed[96];
    trit_t2_pack_row(v, 300, packed);
    CHECK_EQ_U64(trit_t2_unpack_row(packed, 300, back), 0);
    CHECK(memcmp(v, back, 300) == 0);
    /* layout: element m of a block in bits 1:0 of byte m, element m+32 in bits 3:2 */
    CHECK_EQ_U64(packed[0] & 3, (unsigned)(v[0] + 1));
    CHECK_EQ_U64((packed[0] >> 2) & 3, (unsigned)(v[32] + 1));
    CHECK_EQ_U64((packed[5] >> 6) & 3, (unsigned)(v[101] + 1));
    /* padding past 300 decodes as zero (code 1) */
    CHECK_EQ_U64((packed[64 + (300 - 256) % 32] >> 2) & 3, 1); /* element 300: block 2, r=44 */
    packed[0] |= 3;
    CHECK_EQ_U64(trit_t2_unpack_row(packed, 300, back), 1);
}

TEST(format_safemath_and_sizes)
{
    uint64_t o;
    CHECK(trit_add_u64(UINT64_MAX, 1, &o) != 0);
    CHECK(trit_mul_u64(1ull << 32, 1ull << 32, &o) != 0);
    CHECK(trit_align_up(UINT64_MAX - 2, 64, &o) != 0);
    CHECK(trit_align_up(65, 64, &o) == 0 && o == 128);
    CHECK(trit_align_up(1, 3, &o) != 0);
    trit_tensor_info t;
    memset(&t, 0, sizeof t);
    t.name = "big";
    t.type = TRIT_TYPE_F32;
    t.block_elems = 1;
    t.block_bytes = 4;
    t.n_dims = 3;
    t.dims[0] = t.dims[1] = t.dims[2] = 1ull << 30;
    trit_err err;
    CHECK_EQ_INT(trit_tensor_layout(&t, &err), TRIT_E_LIMIT);
    t.n_dims = 1;
    t.dims[0] = 10;
    t.scale_layout = TRIT_SCALE_ROW;
    t.scale_type = TRIT_SCALE_TYPE_F32;
    CHECK_EQ_INT(trit_tensor_layout(&t, &err), TRIT_E_CORRUPT); /* f32 cannot carry scales */
}
