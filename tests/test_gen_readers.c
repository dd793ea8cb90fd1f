/* test_gen_readers.c - every trit-gen safetensors layout opened with the project's real reader
 * (source/src_safetensors.h): tensor counts, shapes, dtypes, shards, the BitNet packed view,
 * and every decoded value equal to the generator's source values (gen_value / gen_ternary).
 * The GGUF side is in test_gen_readers_gguf.c. */
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "src_safetensors.h"
#include "gen/gen.h"
#include "test.h"

static void rpath(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", test_tmpdir(), name);
}

/* Decode tensor st_i in chunks and count elements differing from gen_value. */
static uint64_t st_mismatches(const src_st *h, uint32_t st_i, const gen_tensor *t)
{
    uint64_t const n = gen_logical_nelems(t);
    float buf[1024];
    uint64_t bad = 0;
    trit_err err;
    for (uint64_t at = 0; at < n; at += 1024) {
        uint64_t const k = n - at < 1024 ? n - at : 1024;
        int const rc = src_st_to_f32(h, st_i, at, k, buf, &err);
        CHECK_OK_E(rc, &err);
        if (rc) return n;
        for (uint64_t j = 0; j < k; j++) bad += buf[j] != gen_value(t, at + j);
    }
    return bad;
}

static void check_st_layout(const gen_opts *o, const char *name)
{
    char dir[4096];
    trit_err err;
    rpath(dir, sizeof dir, name);
    CHECK_OK_E(gen_write(o, dir, &err), &err);
    gen_plan p;
    CHECK_OK_E(gen_plan_build(o, &p, &err), &err);
    src_st *h = NULL;
    CHECK_OK_E(src_st_open(dir, NULL, &h, &err), &err);
    if (!h) {
        gen_plan_release(&p);
        return;
    }
    CHECK_EQ_U64(src_st_n_tensors(h), p.n);
    CHECK_EQ_U64(src_st_n_shards(h), p.n_files);
    uint64_t total = 0;
    for (uint32_t i = 0; i < p.n; i++) total += p.t[i].nbytes;
    CHECK_EQ_U64(src_st_data_size(h), total);
    if (p.n_files > 1) {
        uint64_t declared = 0;
        CHECK_EQ_INT(src_st_declared_total_size(h, &declared), TRIT_OK);
        CHECK_EQ_U64(declared, total);
    }
    CHECK(src_st_config(h) != NULL);
    CHECK(src_st_side_path(h, SRC_ST_SIDE_TOKENIZER_JSON) != NULL);
    int const bitnet_cfg = o->layout == GEN_LAYOUT_BITNET || o->layout == GEN_LAYOUT_BITNET_BITLINEAR ||
                           o->layout == GEN_LAYOUT_BITNET_BF16 || o->layout == GEN_LAYOUT_LLAMA158;
    CHECK_EQ_INT(src_st_config_is_bitnet(h), bitnet_cfg);
    CHECK(src_st_meta_get(h, "format") && !strcmp(src_st_meta_get(h, "format"), "pt"));

    static const uint32_t want_dtype[] = {SRC_ST_F32, SRC_ST_F16, SRC_ST_BF16, SRC_ST_U8};
    int n_packed = 0;
    for (uint32_t i = 0; i < p.n; i++) {
        const gen_tensor *t = &p.t[i];
        int64_t const k = src_st_find(h, t->name);
        CHECK(k >= 0);
        if (k < 0) continue;
        const src_st_tensor *ct = src_st_tensor_at(h, (uint32_t)k);
        CHECK_EQ_U64(ct->dtype, want_dtype[t->dtype]);
        CHECK_EQ_U64(ct->n_dims, t->n_dims);
        for (uint32_t d = 0; d < t->n_dims; d++) CHECK_EQ_U64(ct->dims[d], t->shape[d]);
        char shard[64];
        gen_shard_name(t->file, p.n_files, shard, sizeof shard);
        CHECK_STR(src_st_shard(h, ct->shard)->name, shard);
        uint32_t layer, expert;
        src_st_name_layer_expert(t->name, &layer, &expert);
        CHECK_EQ_U64(expert, t->expert == GEN_NONE ? TRIT_NONE32 : t->expert);
        if (t->kind == GEN_K_PACKED) {
            /* The reader's BitNet view: logical shape, the scale and its direction (linear_class
             * autobitlinear multiplies, bitlinear or none divides), every ternary. */
            src_st_bitnet v;
            CHECK_OK_E(src_st_bitnet_view(h, (uint32_t)k, &v, &err), &err);
            CHECK_EQ_U64(v.rows, t->shape[0] * 4);
            CHECK_EQ_U64(v.cols, t->shape[1]);
            CHECK(v.scale_value == gen_scale(t, 0));
            CHECK_EQ_INT(v.divide, (int)t->divide);
            uint64_t const n = v.rows * v.cols;
            int8_t *tv = malloc(n);
            float *fv = malloc(n * sizeof *fv);
            CHECK_OK_E(src_st_bitnet_ternary(h, &v, 0, n, tv, &err), &err);
            CHECK_OK_E(src_st_bitnet_to_f32(h, &v, 0, n, fv, &err), &err);
            uint64_t bad = 0;
            for (uint64_t e = 0; e < n; e++) bad += tv[e] != gen_ternary(t, e) || fv[e] != gen_value(t, e);
            CHECK_EQ_U64(bad, 0);
            free(tv);
            free(fv);
            n_packed++;
        } else {
            uint64_t const bad = st_mismatches(h, (uint32_t)k, t);
            if (bad) fprintf(stderr, "  %s: %llu values differ\n", t->name, (unsigned long long)bad);
            CHECK_EQ_U64(bad, 0);
        }
    }
    if (o->layout == GEN_LAYOUT_BITNET || o->layout == GEN_LAYOUT_BITNET_BITLINEAR || o->layout == GEN_LAYOUT_LLAMA158)
        CHECK_EQ_INT(n_packed, 7 * (int)o->n_layer);
    src_st_close(h);
    gen_plan_release(&p);
}

TEST(gen_readers_safetensors)
{
    static const gen_layout ls[] = {GEN_LAYOUT_BITNET, GEN_LAYOUT_LATENT, GEN_LAYOUT_BITCPM,
                                    GEN_LAYOUT_MIXTRAL, GEN_LAYOUT_QWEN3MOE, GEN_LAYOUT_BITNET_BITLINEAR,
                                    GEN_LAYOUT_BITNET_BF16, GEN_LAYOUT_LLAMA158, GEN_LAYOUT_MINICPM4,
                                    GEN_LAYOUT_QWEN2MOE, GEN_LAYOUT_OLMOE, GEN_LAYOUT_DEEPSEEK2,
                                    GEN_LAYOUT_GRANITEMOE, GEN_LAYOUT_PHIMOE};
    for (size_t i = 0; i < sizeof ls / sizeof ls[0]; i++) {
        gen_opts o;
        gen_opts_default(&o, ls[i]);
        o.seed = 31 + i;
        o.n_vocab = 300;
        if (ls[i] == GEN_LAYOUT_BITCPM || ls[i] == GEN_LAYOUT_MINICPM4) {
            o.n_embd = 64;
            o.n_ff = 128;
            o.group_size = 32;
        }
        char name[64];
        snprintf(name, sizeof name, "rd-%s", gen_layout_name(ls[i]));
        check_st_layout(&o, name);
    }
    gen_opts o;
    gen_opts_default(&o, GEN_LAYOUT_MIXTRAL);
    o.n_vocab = 300;
    o.n_shards = 3;
    o.n_layer = 3;
    check_st_layout(&o, "rd-mixtral-3");
}
