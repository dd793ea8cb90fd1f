/* tfmt.c - builds the sample containers used by the format, corrupt-file and bit-flip tests. */
#include <stdlib.h>
#include <string.h>

#include "tfmt.h"
#include "trit_safemath.h"

void tfmt_fill(uint8_t *p, uint64_t n, uint32_t i)
{
    for (uint64_t k = 0; k < n; k++) p[k] = (uint8_t)((k + i * 7) % 251);
}

static uint32_t rng(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

void tfmt_fill_t2(const trit_tensor_info *t, uint8_t *p, uint32_t seed)
{
    uint32_t s = seed * 2654435761u + 1;
    uint64_t const cols = t->n_dims ? t->dims[t->n_dims - 1] : 1;
    uint64_t const rows = cols && t->n_dims ? (t->scales_off / (trit_div_ceil(cols, 128) * 32)) : 0;
    uint64_t const rb = trit_div_ceil(cols, 128) * 32;
    int8_t *vals = malloc(cols ? (size_t)cols : 1);
    memset(p, 0, (size_t)t->size);
    for (uint64_t r = 0; r < rows; r++) {
        for (uint64_t c = 0; c < cols; c++) vals[c] = (int8_t)((int)(rng(&s) % 3) - 1);
        trit_t2_pack_row(vals, cols, p + r * rb);
    }
    for (uint64_t k = 0; k < t->n_scales; k++) {
        float const f = 0.01f + (float)(rng(&s) % 1000) / 1000.0f;
        memcpy(p + t->scales_off + 4 * k, &f, 4);
    }
    free(vals);
}

typedef struct spec {
    const char *name;
    uint32_t type, n_dims;
    uint64_t dims[3];
    uint32_t scale_layout, group;
} spec;

static const spec dense_full[] = {
    {"tok_embd.weight", TRIT_TYPE_F16, 2, {32, 64, 0}, 0, 0},
    {"norm.weight", TRIT_TYPE_F32, 1, {64, 0, 0}, 0, 0},
    {"blk.0.attn_q.weight", TRIT_TYPE_T2, 2, {64, 64, 0}, TRIT_SCALE_TENSOR, 0},
    {"blk.0.attn_k.weight", TRIT_TYPE_T2, 2, {16, 200, 0}, TRIT_SCALE_ROW, 0},   /* row not a multiple of 128 */
    {"blk.0.attn_v.weight", TRIT_TYPE_T2, 2, {8, 256, 0}, TRIT_SCALE_GROUP, 64},
    {"blk.0.attn_o.weight", TRIT_TYPE_BF16, 2, {4, 5, 0}, 0, 0},
    {"misc.i8", TRIT_TYPE_I8, 3, {2, 3, 5}, 0, 0},
    {"misc.i32", TRIT_TYPE_I32, 1, {7, 0, 0}, 0, 0},
    {"misc.u8", TRIT_TYPE_U8, 1, {3, 0, 0}, 0, 0},
    {"misc.empty", TRIT_TYPE_F32, 2, {0, 16, 0}, 0, 0},
    {"misc.scalar", TRIT_TYPE_F32, 0, {0, 0, 0}, 0, 0},
};

static const spec dense_small[] = {
    {"tok_embd.weight", TRIT_TYPE_F16, 2, {8, 16, 0}, 0, 0},
    {"blk.0.attn_q.weight", TRIT_TYPE_T2, 2, {4, 128, 0}, TRIT_SCALE_ROW, 0},
    {"norm.weight", TRIT_TYPE_F32, 1, {16, 0, 0}, 0, 0},
};

static const spec dense_blk[] = {
    {"tok_embd.weight", TRIT_TYPE_Q6_K, 2, {8, 256, 0}, 0, 0},
    {"norm.weight", TRIT_TYPE_F32, 1, {256, 0, 0}, 0, 0},
    {"blk.0.attn_q.weight", TRIT_TYPE_Q8_0, 2, {4, 64, 0}, 0, 0},
    {"blk.0.attn_k.weight", TRIT_TYPE_Q4_K, 2, {2, 512, 0}, 0, 0},
    {"blk.0.attn_v.weight", TRIT_TYPE_MXFP4, 3, {2, 3, 96}, 0, 0},
};

void tfmt_fill_blk(const trit_tensor_info *t, uint8_t *p, uint32_t seed)
{
    tfmt_fill(p, t->size, seed);
    uint64_t const nb = t->block_bytes ? t->size / t->block_bytes : 0;
    for (uint64_t b = 0; b < nb; b++) {
        uint8_t *q = p + b * t->block_bytes;
        switch (t->type) {
        case TRIT_TYPE_Q8_0: q[1] &= 0x3b; break;       /* exponent bits of d below all-ones */
        case TRIT_TYPE_Q4_K: q[1] &= 0x3b; q[3] &= 0x3b; break;
        case TRIT_TYPE_Q6_K: q[209] &= 0x3b; break;
        case TRIT_TYPE_MXFP4: if (q[0] == 0xff) q[0] = 0x7f; break;
        default: break;
        }
    }
}

static int write_tensor(trit_writer *w, uint32_t id, const trit_tensor_info *t, uint32_t seed, trit_err *err)
{
    uint8_t *buf = malloc(t->size ? (size_t)t->size : 1);
    if (!buf) return TRIT_E_NOMEM;
    if (t->type == TRIT_TYPE_T2) tfmt_fill_t2(t, buf, seed);
    else if (trit_type_is_block(t->type)) tfmt_fill_blk(t, buf, seed);
    else tfmt_fill(buf, t->size, seed);
    /* stream in two pieces to exercise begin/append/end */
    int rc = trit_writer_tensor_begin(w, id, err);
    uint64_t const half = t->size / 2;
    if (rc == TRIT_OK) rc = trit_writer_append(w, buf, half, err);
    if (rc == TRIT_OK) rc = trit_writer_append(w, buf + half, t->size - half, err);
    if (rc == TRIT_OK) rc = trit_writer_end(w, err);
    free(buf);
    return rc;
}

static trit_tensor_info desc_of(const spec *s, uint32_t layer, uint32_t unit)
{
    trit_tensor_info t;
    memset(&t, 0, sizeof t);
    t.name = s->name;
    t.type = s->type;
    t.n_dims = s->n_dims;
    memcpy(t.dims, s->dims, sizeof s->dims);
    t.scale_layout = s->scale_layout;
    t.scale_type = s->scale_layout ? TRIT_SCALE_TYPE_F32 : TRIT_SCALE_TYPE_NONE;
    t.group_size = s->group;
    t.layer = layer;
    t.unit = unit;
    trit_type_geometry(t.type, &t.block_elems, &t.block_bytes);
    trit_tensor_layout(&t, NULL);
    return t;
}

int tfmt_write(const char *path, int variant, trit_err *err)
{
    int const full = variant == TFMT_FULL, blk = variant == TFMT_BLK;
    trit_write_opts o = {0};
    o.overwrite = 1;
    o.page_align = full ? 0 : 4096;
    trit_writer *w;
    int rc = trit_writer_open(path, &o, &w, err);
    if (rc) return rc;
#define T(x) do { if ((rc = (x)) != TRIT_OK) goto fail; } while (0)
    T(trit_writer_kv_str(w, "general.architecture", "llama", 5, err));
    T(trit_writer_kv_u32(w, "llama.block_count", 1, err));
    T(trit_writer_kv_f32(w, "llama.rope.freq_base", 10000.0f, err));
    if (full) {
        uint32_t const u32s[3] = {1, 2, 3};
        float const f32s[2] = {0.5f, -2.0f};
        const char *const strs[3] = {"a", "", "xyz"};
        T(trit_writer_kv_i32(w, "test.i32", -7, err));
        T(trit_writer_kv_u64(w, "test.u64", 1ull << 40, err));
        T(trit_writer_kv_f64(w, "test.f64", 0.125, err));
        T(trit_writer_kv_bool(w, "test.bool", 1, err));
        T(trit_writer_kv_arr(w, "test.arr_u32", TRIT_KV_U32, u32s, 3, err));
        T(trit_writer_kv_arr(w, "test.arr_f32", TRIT_KV_F32, f32s, 2, err));
        T(trit_writer_kv_arr_str(w, "test.arr_str", strs, NULL, 3, err));
    }
    uint32_t sec;
    T(trit_writer_add_section(w, "tokenizer.json", TRIT_SECTION_TOKENIZER_JSON, &sec, err));
    const spec *ds = full ? dense_full : blk ? dense_blk : dense_small;
    uint32_t const nd = full ? sizeof dense_full / sizeof *ds : blk ? sizeof dense_blk / sizeof *ds : sizeof dense_small / sizeof *ds;
    uint32_t ids[32];
    trit_tensor_info infos[32];
    for (uint32_t i = 0; i < nd; i++) {
        infos[i] = desc_of(&ds[i], TRIT_NONE32, TRIT_NONE32);
        T(trit_writer_add_tensor(w, &infos[i], &ids[i], err));
    }
    /* experts: layer 0, full: 2 experts (zstd, raw); small: 1 zstd expert */
    uint32_t const n_exp = full ? 2 : 1;
    uint32_t units[2], mids[2][3];
    trit_tensor_info minfo[2][3];
    static const char *const mnames[2][3] = {
        {"blk.0.ffn_gate.0.weight", "blk.0.ffn_up.0.weight", "blk.0.ffn_down.0.weight"},
        {"blk.0.ffn_gate.1.weight", "blk.0.ffn_up.1.weight", "blk.0.ffn_down.1.weight"}};
    for (uint32_t e = 0; e < n_exp; e++) {
        T(trit_writer_add_unit(w, 0, e, e == 0 ? TRIT_STORAGE_ZSTD : TRIT_STORAGE_RAW, &units[e], err));
        for (uint32_t k = 0; k < 3; k++) {
            spec const s = blk ? (spec){mnames[e][k], k == 2 ? TRIT_TYPE_Q6_K : TRIT_TYPE_Q4_K, 2, {4, 256, 0}, 0, 0}
                               : (spec){mnames[e][k], TRIT_TYPE_T2, 2, {k == 2 ? 16u : 32u, k == 2 ? 32u : 16u, 0},
                                        TRIT_SCALE_TENSOR, 0};
            minfo[e][k] = desc_of(&s, 0, units[e]);
            T(trit_writer_add_tensor(w, &minfo[e][k], &mids[e][k], err));
        }
    }
    /* data: dense, then units, then the section (order of writes = order on disk) */
    for (uint32_t i = 0; i < nd; i++) T(write_tensor(w, ids[i], &infos[i], i, err));
    for (uint32_t e = 0; e < n_exp; e++) {
        T(trit_writer_unit_begin(w, units[e], err));
        for (uint32_t k = 0; k < 3; k++) T(write_tensor(w, mids[e][k], &minfo[e][k], 100 + e * 3 + k, err));
        T(trit_writer_unit_end(w, err));
    }
    static const char tok[] = "{\"model\":{\"type\":\"BPE\"}}";
    T(trit_writer_write_section(w, sec, tok, sizeof tok - 1, err));
#undef T
    return trit_writer_finish(w, err);
fail:
    trit_writer_abort(w);
    return rc;
}
