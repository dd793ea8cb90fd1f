/* test_export.c - `trit export` (export/exg.h) on containers written through libtrit
 * (tests/test_export_build.c): every exported tensor is read back with the project's GGUF
 * reader and decoded by its ggml dequantizers, and compared with the container's values. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "src_gguf.h"
#include "exg.h"
#include "src_ggml_types.h"
#include "test.h"
#include "test_export_build.h"

static const char *tpath(const char *name) { return test_path(test_tmpdir(), name); }

/* Export in -> out with flags; returns the code. st may be NULL. */
static int do_export(const char *in, const char *out, uint32_t flags, exg_stats *st, trit_err *err)
{
    trit_reader *r = NULL;
    int rc = trit_reader_open(in, NULL, &r, err);
    if (rc) return rc;
    exg_opts o = {0};
    o.flags = flags | EXG_OVERWRITE;
    rc = exg_gguf(r, out, &o, st, err);
    trit_reader_close(r);
    return rc;
}

/* Which container row output row r of a permuted Q/K tensor holds (whole head rotated). */
static uint64_t perm_src(uint64_t r, uint64_t hd)
{
    uint64_t const j = r % hd;
    return r - j + (j % 2) * (hd / 2) + j / 2;
}

/* Every GGUF tensor equals the container's values: singles by name (rows permuted for
 * permute_hd > 0 on attn_q/attn_k), stacks expert by expert. Returns tensors checked. */
static uint32_t check_values(const char *trit_path, const char *gguf_path, uint64_t permute_hd, int exact)
{
    trit_err err;
    trit_reader *r = NULL;
    src_gguf *g = NULL;
    uint32_t checked = 0;
    CHECK_OK_E(trit_reader_open(trit_path, NULL, &r, &err), &err);
    CHECK_OK_E(src_gguf_open(gguf_path, NULL, &g, &err), &err);
    if (!r || !g) goto out;
    for (uint64_t i = 0; i < src_gguf_n_tensors(g); i++) {
        const src_gguf_tensor_info *gt = src_gguf_tensor(g, i);
        uint64_t const n = gt->n_elems;
        float *gv = malloc((size_t)n * sizeof *gv + 4);
        CHECK_OK_E(src_gguf_to_f32(g, i, 0, n, gv, &err), &err);
        unsigned L;
        char proj[8];
        int k = 0;
        if (sscanf(gt->name, "blk.%u.ffn_%7[a-z]_exps.weight%n", &L, proj, &k) == 2 && gt->name[k] == '\0') {
            uint64_t const slice = gt->ne[0] * gt->ne[1];
            for (uint64_t e = 0; e < gt->ne[2]; e++) {
                char nm[96];
                snprintf(nm, sizeof nm, "blk.%u.ffn_%s.%llu.weight", L, proj, (unsigned long long)e);
                int64_t const ti = trit_reader_find_tensor(r, nm);
                CHECK(ti >= 0);
                float *cv = NULL;
                uint64_t cn = 0;
                if (ti >= 0) CHECK_OK_E(txb_tensor_f32(r, (uint32_t)ti, &cv, &cn, &err), &err);
                CHECK_EQ_U64(cn, slice);
                for (uint64_t j = 0; cv && j < slice && j < cn; j++)
                    if (gv[e * slice + j] != cv[j]) {
                        CHECK(gv[e * slice + j] == cv[j]);
                        break;
                    }
                free(cv);
            }
            checked++;
            free(gv);
            continue;
        }
        size_t const nl = strlen(gt->name);
        if (nl > 6 && !strcmp(gt->name + nl - 6, ".scale")) { free(gv); continue; }   /* checked by the caller */
        int64_t const ti = trit_reader_find_tensor(r, gt->name);
        CHECK(ti >= 0);
        float *cv = NULL;
        uint64_t cn = 0;
        if (ti >= 0) CHECK_OK_E(txb_tensor_f32(r, (uint32_t)ti, &cv, &cn, &err), &err);
        CHECK_EQ_U64(cn, n);
        int const perm = permute_hd && (strstr(gt->name, ".attn_q.weight") || strstr(gt->name, ".attn_k.weight"));
        uint64_t const cols = gt->ne[0];
        /* a tensor with a .scale companion carries d = 1: its values are codes only */
        char sn[128];
        snprintf(sn, sizeof sn, "%.*s.scale", (int)(nl > 7 ? nl - 7 : 0), gt->name);
        int64_t const si = src_gguf_find_tensor(g, sn);
        float sc = 1.0f;
        if (si >= 0) CHECK_OK_E(src_gguf_to_f32(g, (uint64_t)si, 0, 1, &sc, &err), &err);
        for (uint64_t j = 0; cv && j < n && j < cn; j++) {
            uint64_t const row = j / cols, col = j % cols;
            uint64_t const src = perm ? perm_src(row, permute_hd) * cols + col : j;
            float const want = cv[src], got = gv[j] * sc;
            if (exact ? got != want : !(got - want < 1e-6f * (1.0f + want) && want - got < 1e-6f * (1.0f + want))) {
                test_fail_(__FILE__, __LINE__, "%s[%llu]: gguf %g, container %g", gt->name, (unsigned long long)j,
                           (double)got, (double)want);
                break;
            }
        }
        free(cv);
        free(gv);
        checked++;
    }
out:
    src_gguf_close(g);
    trit_reader_close(r);
    return checked;
}

static const src_gguf_tensor_info *gtensor(src_gguf *g, const char *name)
{
    int64_t const i = src_gguf_find_tensor(g, name);
    return i < 0 ? NULL : src_gguf_tensor(g, (uint64_t)i);
}

static uint64_t gkv_u64(src_gguf *g, const char *key)
{
    uint64_t v = UINT64_MAX;
    int64_t const i = src_gguf_find_kv(g, key);
    if (i >= 0) src_gguf_kv_u64(g, (uint64_t)i, &v);
    return v;
}

static uint32_t gkv_type(src_gguf *g, const char *key)
{
    int64_t const i = src_gguf_find_kv(g, key);
    return i < 0 ? UINT32_MAX : src_gguf_kv_type(g, (uint64_t)i, NULL, NULL);
}

TEST(export_tq_encoders_match_ggml_decoders)
{
    /* independent check: our encoders against the project's ggml dequantizers */
    int8_t v[512];
    uint8_t t2[128], tq2[2 * 66], tq1[2 * 54];
    float d[2] = {0.375f, -2.5f}, out[512];
    uint64_t x = 12345;
    for (int i = 0; i < 512; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        v[i] = (int8_t)((x >> 33) % 3) - 1;
    }
    v[0] = v[255] = v[256] = -1;
    v[511] = 1;
    trit_t2_pack_row(v, 512, t2);
    exg_tq2_row(t2, 512, d, tq2);
    trit_err err;
    CHECK_OK_E(src_ggml_dequant(SRC_GGML_TQ2_0, tq2, 2, out, &err), &err);
    for (int i = 0; i < 512; i++)
        if (out[i] != (float)v[i] * d[i / 256]) { CHECK_EQ_INT(i, -1); break; }
    exg_tq1_row(v, 512, d, tq1);
    CHECK_OK_E(src_ggml_dequant(SRC_GGML_TQ1_0, tq1, 2, out, &err), &err);
    for (int i = 0; i < 512; i++)
        if (out[i] != (float)v[i] * d[i / 256]) { CHECK_EQ_INT(i, -2); break; }
}

TEST(export_arch_table)
{
    int norm = -1;
    CHECK_STR(exg_arch("mixtral", &norm), "llama");
    CHECK_EQ_INT(norm, 1);
    CHECK_STR(exg_arch("bitnet-b1.58", &norm), "bitnet");
    CHECK_EQ_INT(norm, 0);
    CHECK_STR(exg_arch("qwen3moe", &norm), "qwen3moe");
    CHECK_EQ_INT(norm, 0);
    CHECK_STR(exg_arch("deepseek2", &norm), "deepseek2");   /* q_pe/k_pe stored in pairs already */
    CHECK_EQ_INT(norm, 0);
    CHECK(exg_arch("phimoe", NULL) == NULL);
}

TEST(export_stories260k_round_trip_is_byte_identical)
{
    const char *fx = test_fixtures();
    if (!fx) SKIP("no fixtures");
    char src[1024];
    snprintf(src, sizeof src, "%s/gguf/stories260K.gguf", fx);
    const char *tr = tpath("exp_stories.trit"), *out = tpath("exp_stories.gguf");
    trit_err err;
    CHECK_OK_E(txb_from_gguf(src, tr, &err), &err);
    exg_stats st;
    CHECK_OK_E(do_export(tr, out, 0, &st, &err), &err);
    src_gguf *a = NULL, *b = NULL;
    CHECK_OK_E(src_gguf_open(src, NULL, &a, &err), &err);
    CHECK_OK_E(src_gguf_open(out, NULL, &b, &err), &err);
    if (!a || !b) goto out;
    CHECK_EQ_U64(src_gguf_n_tensors(b), src_gguf_n_tensors(a));
    /* every tensor: same type, shape and bytes (the permute undoes the builder's un-permute) */
    for (uint64_t i = 0; i < src_gguf_n_tensors(a); i++) {
        const src_gguf_tensor_info *ta = src_gguf_tensor(a, i), *tb = gtensor(b, ta->name);
        CHECK(tb != NULL);
        if (!tb) continue;
        CHECK_EQ_U64(tb->ggml_type, ta->ggml_type);
        CHECK_EQ_U64(tb->n_dims, ta->n_dims);
        for (int d = 0; d < 4; d++) CHECK_EQ_U64(tb->ne[d], ta->ne[d]);
        uint8_t *x = malloc((size_t)ta->nbytes), *y = malloc((size_t)ta->nbytes);
        CHECK_OK_E(src_gguf_read(a, i, 0, x, ta->nbytes, &err), &err);
        CHECK_OK_E(src_gguf_read(b, (uint64_t)src_gguf_find_tensor(b, ta->name), 0, y, ta->nbytes, &err), &err);
        if (memcmp(x, y, (size_t)ta->nbytes) != 0) test_fail_(__FILE__, __LINE__, "tensor '%s' differs", ta->name);
        free(x);
        free(y);
    }
    /* every tokenizer KV: same type and the same encoded bytes */
    uint32_t n_tok = 0;
    for (uint64_t i = 0; i < src_gguf_n_kv(a); i++) {
        const char *key = src_gguf_kv_key(a, i);
        if (strncmp(key, "tokenizer.", 10)) continue;
        n_tok++;
        int64_t const j = src_gguf_find_kv(b, key);
        CHECK(j >= 0);
        if (j < 0) continue;
        src_gguf_val va, vb;
        src_gguf_kv_val(a, i, &va);
        src_gguf_kv_val(b, (uint64_t)j, &vb);
        CHECK_EQ_U64(vb.type, va.type);
        CHECK_EQ_U64(vb.elem_type, va.elem_type);
        CHECK_EQ_U64(vb.nbytes, va.nbytes);
        if (va.nbytes == vb.nbytes && memcmp(va.p, vb.p, (size_t)va.nbytes))
            test_fail_(__FILE__, __LINE__, "tokenizer key '%s' differs", key);
    }
    CHECK(n_tok >= 5);
    /* hyperparameters, with llama.cpp's types */
    static const char *const keys[] = {"llama.context_length", "llama.embedding_length", "llama.block_count",
                                       "llama.feed_forward_length", "llama.attention.head_count",
                                       "llama.attention.head_count_kv", "llama.rope.dimension_count"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        CHECK_EQ_U64(gkv_u64(b, keys[k]), gkv_u64(a, keys[k]));
        CHECK_EQ_U64(gkv_type(b, keys[k]), SRC_GGUF_UINT32);
    }
    double ea = 0, eb = 1;
    src_gguf_kv_f64(a, (uint64_t)src_gguf_find_kv(a, "llama.attention.layer_norm_rms_epsilon"), &ea);
    src_gguf_kv_f64(b, (uint64_t)src_gguf_find_kv(b, "llama.attention.layer_norm_rms_epsilon"), &eb);
    CHECK(ea == eb);
    CHECK_STR(src_gguf_arch(b), "llama");
out:
    src_gguf_close(a);
    src_gguf_close(b);
}

TEST(export_bitnet_dense_tq2_tq1_dequant)
{
    txb_synth s;
    txb_synth_default(&s, "bitnet");
    const char *tr = tpath("exp_bitnet.trit"), *out = tpath("exp_bitnet.gguf");
    trit_err err;
    CHECK_OK_E(txb_synth_write(&s, tr, &err), &err);
    static const uint32_t flags[] = {0, EXG_TQ1, EXG_DEQUANT, EXG_DEQUANT | EXG_DEQUANT_F32};
    static const char *const want[] = {"TQ2_0", "TQ1_0", "F16", "F32"};
    for (int k = 0; k < 4; k++) {
        exg_stats st;
        CHECK_OK_E(do_export(tr, out, flags[k], &st, &err), &err);
        CHECK(st.max_scale_rel_err == 0.0);
        CHECK_EQ_U64(check_values(tr, out, 0, 1), 2 + 2 * 11);
        src_gguf *g = NULL;
        CHECK_OK_E(src_gguf_open(out, NULL, &g, &err), &err);
        if (!g) continue;
        const src_gguf_tensor_info *q = gtensor(g, "blk.1.ffn_down.weight");
        CHECK(q && !strcmp(q->type_name, want[k]));
        CHECK(q && q->ne[0] == 512 && q->ne[1] == 256);
        CHECK(gtensor(g, "output.weight") == NULL);
        CHECK_STR(src_gguf_arch(g), "bitnet");
        CHECK_EQ_U64(gkv_u64(g, "general.file_type"), k == 0 ? 37 : k == 1 ? 36 : k == 2 ? 1 : 1);
        CHECK_EQ_U64(gkv_u64(g, "general.quantization_version"), k < 2 ? 2 : UINT64_MAX);
        /* tokenizer ids stored as u64 / i32 in the container come out as GGUF u32 */
        CHECK_EQ_U64(gkv_type(g, "tokenizer.ggml.eos_token_id"), SRC_GGUF_UINT32);
        CHECK_EQ_U64(gkv_type(g, "tokenizer.ggml.padding_token_id"), SRC_GGUF_UINT32);
        CHECK_EQ_U64(gkv_u64(g, "tokenizer.ggml.bos_token_id"), 1);   /* from model.bos_token_id */
        CHECK_EQ_U64(gkv_type(g, "tokenizer.ggml.token_type"), SRC_GGUF_ARRAY);
        src_gguf_close(g);
    }
}

TEST(export_llama_permutes_qk_rows_per_row_scales)
{
    txb_synth s;
    txb_synth_default(&s, "llama");
    s.scale_layout = TRIT_SCALE_ROW;
    const char *tr = tpath("exp_llama.trit"), *out = tpath("exp_llama.gguf");
    trit_err err;
    CHECK_OK_E(txb_synth_write(&s, tr, &err), &err);
    trit_reader *r = NULL;
    CHECK_OK_E(trit_reader_open(tr, NULL, &r, &err), &err);
    exg_plan *p = NULL;
    if (r) CHECK_OK_E(exg_plan_new(r, NULL, &p, &err), &err);
    if (p) {
        const exg_summary *sm = exg_plan_summary(p);
        CHECK_EQ_U64(sm->n_permuted, 4);   /* attn_q and attn_k of 2 layers */
        CHECK_EQ_U64(sm->n_ternary, 14);
        CHECK_EQ_U64(sm->n_fallback, 0);
        CHECK_STR(sm->arch, "llama");
        exg_stats st;
        CHECK_OK_E(exg_write(p, out, NULL, &st, &err), &err);
        struct stat sb;
        CHECK(stat(out, &sb) == 0 && (uint64_t)sb.st_size == sm->file_size);
    }
    exg_plan_free(p);
    trit_reader_close(r);
    CHECK_EQ_U64(check_values(tr, out, 64, 1), 3 + 2 * 9);
}

TEST(export_moe_stacks_experts_from_units)
{
    for (int raw = 0; raw < 2; raw++) {
        txb_synth s;
        txb_synth_default(&s, "qwen3moe");
        s.raw_units = raw;
        s.scale_layout = TRIT_SCALE_GROUP;
        s.group_size = 256;
        const char *tr = tpath("exp_moe.trit"), *out = tpath("exp_moe.gguf");
        trit_err err;
        CHECK_OK_E(txb_synth_write(&s, tr, &err), &err);
        exg_stats st;
        CHECK_OK_E(do_export(tr, out, raw ? EXG_TQ1 : 0, &st, &err), &err);
        CHECK_EQ_U64(st.n_units_read, 3 * 2 * 4);   /* each unit once per stacked projection */
        /* 3 singles + per layer 4 attn + 2 q/k norms + 2 norms + router + 3 stacks */
        CHECK_EQ_U64(check_values(tr, out, 0, 1), 3 + 2 * 12);
        src_gguf *g = NULL;
        CHECK_OK_E(src_gguf_open(out, NULL, &g, &err), &err);
        if (!g) continue;
        const src_gguf_tensor_info *d = gtensor(g, "blk.1.ffn_down_exps.weight");
        CHECK(d && d->n_dims == 3 && d->ne[0] == 512 && d->ne[1] == 256 && d->ne[2] == 4);
        CHECK(d && !strcmp(d->type_name, raw ? "TQ1_0" : "TQ2_0"));
        CHECK(gtensor(g, "blk.0.ffn_gate.0.weight") == NULL);
        CHECK_EQ_U64(gkv_u64(g, "qwen3moe.expert_count"), 4);
        CHECK_EQ_U64(gkv_u64(g, "qwen3moe.expert_used_count"), 2);
        CHECK_EQ_U64(gkv_u64(g, "qwen3moe.expert_feed_forward_length"), 512);
        CHECK_EQ_U64(gkv_u64(g, "qwen3moe.expert_gating_func"), 1);
        CHECK_EQ_U64(gkv_type(g, "qwen3moe.expert_weights_norm"), SRC_GGUF_BOOL);
        src_gguf_close(g);
    }
}

TEST(export_fallbacks_rows_and_groups)
{
    /* rows of 384 weights (q/k/v/gate/up: n_embd 384) and groups of 128: F16, exact values */
    txb_synth s;
    txb_synth_default(&s, "qwen3moe");
    s.n_embd = 384;
    s.n_head = 4;
    s.scale_layout = TRIT_SCALE_GROUP;
    s.group_size = 128;
    const char *tr = tpath("exp_fb.trit"), *out = tpath("exp_fb.gguf");
    trit_err err;
    CHECK_OK_E(txb_synth_write(&s, tr, &err), &err);
    trit_reader *r = NULL;
    exg_plan *p = NULL;
    CHECK_OK_E(trit_reader_open(tr, NULL, &r, &err), &err);
    if (r) CHECK_OK_E(exg_plan_new(r, NULL, &p, &err), &err);
    for (uint32_t i = 0; p && i < exg_plan_n_tensors(p); i++) {
        const exg_tensor *t = exg_plan_tensor(p, i);
        if (!strstr(t->name, "attn_") && !strstr(t->name, "_exps")) continue;
        if (strstr(t->name, "_norm")) continue;
        CHECK_EQ_U64(t->ggml_type, 1);   /* F16 */
        CHECK_EQ_U64(t->how, EXG_BY_DEQUANT);
        CHECK(t->note != NULL);
    }
    if (p) CHECK_EQ_U64(exg_plan_summary(p)->n_ternary, 0);
    exg_plan_free(p);
    trit_reader_close(r);
    CHECK_OK_E(do_export(tr, out, 0, NULL, &err), &err);
    CHECK(check_values(tr, out, 0, 1) > 0);
    /* groups as long as the row: one scale per block after all, so TQ2_0 */
    s.n_embd = 256;
    s.group_size = 1024;
    CHECK_OK_E(txb_synth_write(&s, tr, &err), &err);
    CHECK_OK_E(do_export(tr, out, 0, NULL, &err), &err);
    src_gguf *g = NULL;
    CHECK_OK_E(src_gguf_open(out, NULL, &g, &err), &err);
    const src_gguf_tensor_info *q = g ? gtensor(g, "blk.0.attn_q.weight") : NULL;
    CHECK(q && !strcmp(q->type_name, "TQ2_0"));
    src_gguf_close(g);
    CHECK(check_values(tr, out, 0, 1) > 0);
}

TEST(export_scales_not_exact_in_f16)
{
    /* bitnet: an exact f32 {name}.scale beside TQ codes with d = 1; llama: d rounded to f16 */
    txb_synth s;
    txb_synth_default(&s, "bitnet");
    s.scale = 0.1f;
    const char *tr = tpath("exp_sc.trit"), *out = tpath("exp_sc.gguf");
    trit_err err;
    CHECK_OK_E(txb_synth_write(&s, tr, &err), &err);
    exg_stats st;
    CHECK_OK_E(do_export(tr, out, 0, &st, &err), &err);
    CHECK(st.max_scale_rel_err == 0.0);
    src_gguf *g = NULL;
    CHECK_OK_E(src_gguf_open(out, NULL, &g, &err), &err);
    const src_gguf_tensor_info *sc = g ? gtensor(g, "blk.0.attn_q.scale") : NULL;
    CHECK(sc && sc->ggml_type == 0 && sc->n_elems == 1);
    float v = 0;
    if (sc) CHECK_OK_E(src_gguf_to_f32(g, (uint64_t)src_gguf_find_tensor(g, "blk.0.attn_q.scale"), 0, 1, &v, &err), &err);
    CHECK(v == 0.1f);
    CHECK(gtensor(g, "blk.0.ffn_down.scale") != NULL);
    src_gguf_close(g);
    CHECK(check_values(tr, out, 0, 1) > 0);

    txb_synth_default(&s, "llama");
    s.scale = 0.1f;
    CHECK_OK_E(txb_synth_write(&s, tr, &err), &err);
    CHECK_OK_E(do_export(tr, out, 0, &st, &err), &err);
    CHECK(st.max_scale_rel_err > 0.0 && st.max_scale_rel_err < 1.0 / 2048);
}

static int count_tmp(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (!strncmp(e->d_name, prefix, strlen(prefix)) && strstr(e->d_name, ".tmp-")) n++;
    if (d) closedir(d);
    return n;
}

TEST(export_refusals_leave_nothing)
{
    txb_synth s;
    txb_synth_default(&s, "qwen3moe");
    s.bad_code = "blk.1.ffn_up.3.weight";
    const char *tr = tpath("exp_bad.trit"), *out = tpath("exp_bad.gguf");
    trit_err err;
    CHECK_OK_E(txb_synth_write(&s, tr, &err), &err);
    remove(out);
    CHECK_EQ_INT(do_export(tr, out, 0, NULL, &err), TRIT_E_CORRUPT);
    CHECK(strstr(err.where, "blk.1.ffn_up.3.weight") != NULL);
    struct stat sb;
    CHECK(stat(out, &sb) != 0);
    CHECK_EQ_INT(count_tmp(test_tmpdir(), "exp_bad.gguf"), 0);
    /* the same in a dense tensor: the error carries its file offset */
    txb_synth_default(&s, "bitnet");
    s.bad_code = "blk.0.attn_k.weight";
    CHECK_OK_E(txb_synth_write(&s, tr, &err), &err);
    CHECK_EQ_INT(do_export(tr, out, 0, NULL, &err), TRIT_E_CORRUPT);
    CHECK(err.offset != TRIT_NO_OFFSET);
    CHECK(stat(out, &sb) != 0);
    /* an existing output is kept without overwrite */
    s.bad_code = NULL;
    CHECK_OK_E(txb_synth_write(&s, tr, &err), &err);
    test_write_file(out, "keep", 4);
    trit_reader *r = NULL;
    CHECK_OK_E(trit_reader_open(tr, NULL, &r, &err), &err);
    CHECK_EQ_INT(exg_gguf(r, out, NULL, NULL, &err), TRIT_E_EXISTS);
    size_t n = 0;
    uint8_t *b = test_read_file(out, &n);
    CHECK(b && n == 4 && !memcmp(b, "keep", 4));
    free(b);
    trit_reader_close(r);
    /* a flipped bit in a dense tensor's bytes: refused by its xxh3, nothing written */
    txb_synth_default(&s, "bitnet");
    CHECK_OK_E(txb_synth_write(&s, tr, &err), &err);
    uint64_t off = 0;
    CHECK_OK_E(trit_reader_open(tr, NULL, &r, &err), &err);
    if (r) off = trit_reader_tensor(r, (uint32_t)trit_reader_find_tensor(r, "blk.0.attn_v.weight"))->offset + 5;
    trit_reader_close(r);
    size_t fl = 0;
    uint8_t *fb = test_read_file(tr, &fl);
    CHECK(fb && off > 0 && off < fl);
    if (fb && off < fl) {
        fb[off] ^= 0x10;
        test_write_file(tr, fb, fl);
    }
    free(fb);
    remove(out);
    CHECK_EQ_INT(do_export(tr, out, 0, NULL, &err), TRIT_E_CHECKSUM);
    CHECK(strstr(err.where, "blk.0.attn_v.weight") != NULL);
    CHECK(stat(out, &sb) != 0);
    /* an architecture export does not know */
    txb_synth_default(&s, "qwen3moe");
    s.arch = "phimoe";
    CHECK_OK_E(txb_synth_write(&s, tr, &err), &err);
    CHECK_EQ_INT(do_export(tr, out, 0, NULL, &err), TRIT_E_UNSUPPORTED);
    CHECK(strstr(err.msg, "phimoe") != NULL);
}

TEST(export_missing_tokenizer_warns)
{
    txb_synth s;
    txb_synth_default(&s, "bitnet");
    s.no_tokenizer = 1;
    const char *tr = tpath("exp_notok.trit");
    trit_err err;
    CHECK_OK_E(txb_synth_write(&s, tr, &err), &err);
    trit_reader *r = NULL;
    exg_plan *p = NULL;
    CHECK_OK_E(trit_reader_open(tr, NULL, &r, &err), &err);
    if (r) CHECK_OK_E(exg_plan_new(r, NULL, &p, &err), &err);
    int found = 0;
    for (uint32_t i = 0; p && i < exg_plan_n_warnings(p); i++)
        found |= strstr(exg_plan_warning(p, i), "tokenizer") != NULL;
    CHECK(found);
    if (p) CHECK_EQ_U64(exg_plan_summary(p)->n_tokenizer_kv, 0);
    exg_plan_free(p);
    trit_reader_close(r);
}

TEST(export_is_deterministic)
{
    txb_synth s;
    txb_synth_default(&s, "qwen3moe");
    const char *tr = tpath("exp_det.trit"), *a = tpath("exp_det_a.gguf"), *b = tpath("exp_det_b.gguf");
    trit_err err;
    CHECK_OK_E(txb_synth_write(&s, tr, &err), &err);
    CHECK_OK_E(do_export(tr, a, 0, NULL, &err), &err);
    CHECK_OK_E(do_export(tr, b, 0, NULL, &err), &err);
    size_t na = 0, nb = 0;
    uint8_t *x = test_read_file(a, &na), *y = test_read_file(b, &nb);
    CHECK(x && y && na == nb && na > 0 && !memcmp(x, y, na));
    free(x);
    free(y);
}

TEST(export_cli)
{
    txb_synth s;
    txb_synth_default(&s, "qwen3moe");
    const char *tr = tpath("exp_cli.trit"), *out = tpath("exp_cli.gguf");
    trit_err err;
    CHECK_OK_E(txb_synth_write(&s, tr, &err), &err);
    char cmd[4096];
    char *o = NULL;
    snprintf(cmd, sizeof cmd, "%s export --help", test_trit_bin());
    CHECK_EQ_INT(test_run(cmd, &o), 0);
    CHECK(o && strstr(o, "--tq1"));
    free(o);
    snprintf(cmd, sizeof cmd, "%s export %s 2>/dev/null", test_trit_bin(), tr);
    CHECK_EQ_INT(test_run(cmd, NULL), 2);
    remove(out);
    snprintf(cmd, sizeof cmd, "%s export %s -o %s --dry-run", test_trit_bin(), tr, out);
    o = NULL;
    CHECK_EQ_INT(test_run(cmd, &o), 0);
    CHECK(o && strstr(o, "blk.1.ffn_up_exps.weight") && strstr(o, "TQ2_0"));
    free(o);
    struct stat sb;
    CHECK(stat(out, &sb) != 0);
    snprintf(cmd, sizeof cmd, "%s export %s -o %s --json", test_trit_bin(), tr, out);
    o = NULL;
    CHECK_EQ_INT(test_run(cmd, &o), 0);
    CHECK(o && strstr(o, "\"n_stacked\":\t6") && strstr(o, "\"arch\":\t\"qwen3moe\""));
    free(o);
    CHECK(stat(out, &sb) == 0);
    snprintf(cmd, sizeof cmd, "%s export %s -o %s 2>/dev/null", test_trit_bin(), tr, out);
    CHECK_EQ_INT(test_run(cmd, NULL), 3);   /* exists: i/o class */
    snprintf(cmd, sizeof cmd, "%s export %s.missing -o %s --force 2>/dev/null", test_trit_bin(), tr, out);
    CHECK(test_run(cmd, NULL) != 0);
}

/* llama.cpp itself, when `make conformance` has installed it (never required: skipped
 * otherwise). The exported stories260K must reproduce the fixture's reference logits. */
static float *json_logits(const char *path, int *n)
{
    size_t len = 0;
    uint8_t *b = test_read_file(path, &len);
    float *out = NULL;
    *n = 0;
    cJSON *j = b ? cJSON_ParseWithLength((const char *)b, len) : NULL;
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, "logits");
    int const m = cJSON_IsArray(a) ? cJSON_GetArraySize(a) : 0;
    if (m > 0 && (out = malloc((size_t)m * sizeof *out))) {
        for (int i = 0; i < m; i++) out[i] = (float)cJSON_GetArrayItem(a, i)->valuedouble;
        *n = m;
    }
    cJSON_Delete(j);
    free(b);
    return out;
}

TEST(export_llamacpp_logits_stories260k)
{
    const char *fx = test_fixtures();
    const char *conf = getenv("TRIT_CONFORMANCE") ? getenv("TRIT_CONFORMANCE") : "build/conformance";
    char mod[1024], script[1024], src[1024], ref[1024], cmd[4096];
    snprintf(mod, sizeof mod, "%s/node_modules/node-llama-cpp/package.json", conf);
    snprintf(script, sizeof script, "%s/logits.mjs", conf);
    struct stat sb;
    if (!fx) SKIP("no fixtures");
    if (stat(mod, &sb) != 0 || stat(script, &sb) != 0) SKIP("llama.cpp not installed (make conformance installs it)");
    if (test_run("node --version >/dev/null 2>&1", NULL) != 0) SKIP("no node");
    snprintf(src, sizeof src, "%s/gguf/stories260K.gguf", fx);
    snprintf(ref, sizeof ref, "%s/ref-logits/stories260K.logits.json", fx);
    const char *tr = tpath("exp_ll.trit"), *out = tpath("exp_ll.gguf"), *js = tpath("exp_ll.json");
    trit_err err;
    CHECK_OK_E(txb_from_gguf(src, tr, &err), &err);
    CHECK_OK_E(do_export(tr, out, 0, NULL, &err), &err);
    snprintf(cmd, sizeof cmd, "node %s %s 1,403,407,261,378 > %s 2>/dev/null", script, out, js);
    CHECK_EQ_INT(test_run(cmd, NULL), 0);
    int na = 0, nb = 0;
    float *a = json_logits(ref, &na), *b = json_logits(js, &nb);
    CHECK(na == 512 && nb == 512);
    float md = 0;
    for (int i = 0; a && b && i < na && i < nb; i++) {
        float const d = a[i] > b[i] ? a[i] - b[i] : b[i] - a[i];
        if (d > md) md = d;
    }
    if (!(md <= 1e-3f)) test_fail_(__FILE__, __LINE__, "max |logit difference| %g > 1e-3", (double)md);
    free(a);
    free(b);
}

TEST(export_minicpm_scalings_always_written)
{
    /* llama.cpp's minicpm defaults are 12, 1.4/sqrt(L), 256/n_embd: absent container keys
     * mean 1, so export must write 1 explicitly; Q/K are permuted (normal RoPE) */
    txb_synth s;
    txb_synth_default(&s, "minicpm");
    const char *tr = tpath("exp_cpm.trit"), *out = tpath("exp_cpm.gguf");
    trit_err err;
    CHECK_OK_E(txb_synth_write(&s, tr, &err), &err);
    CHECK_OK_E(do_export(tr, out, 0, NULL, &err), &err);
    src_gguf *g = NULL;
    CHECK_OK_E(src_gguf_open(out, NULL, &g, &err), &err);
    static const char *const keys[] = {"minicpm.embedding_scale", "minicpm.residual_scale", "minicpm.logit_scale"};
    for (int k = 0; g && k < 3; k++) {
        double v = 0;
        int64_t const i = src_gguf_find_kv(g, keys[k]);
        CHECK(i >= 0);
        if (i >= 0) CHECK(src_gguf_kv_f64(g, (uint64_t)i, &v) == TRIT_OK);
        CHECK(v == 1.0);
    }
    src_gguf_close(g);
    CHECK_EQ_U64(check_values(tr, out, 64, 1), 3 + 2 * 9);
}

/* An interrupted `trit export` (the CLI's one signal guard, shared with convert and calibrate):
 * either the export finished (a complete GGUF) or it stopped with no output and no temp file. */
TEST(export_interrupted_leaves_nothing)
{
    const char *bin = test_trit_bin();
    if (!bin || !*bin) SKIP("TRIT_BIN not set");
    const char *dir = test_tmpdir();
    char src[1024], tr[1100], out[1100], cmd[6000];
    snprintf(src, sizeof src, "%s/exi-src", dir);
    snprintf(tr, sizeof tr, "%s/exi.trit", dir);
    snprintf(out, sizeof out, "%s/exi.gguf", dir);
    snprintf(cmd, sizeof cmd, "%s bitcpm --layers 8 --embd 512 --ff 1024 -o '%s' --force >/dev/null 2>&1 && %s convert -q '%s' -o '%s'",
             getenv("TRIT_GEN") ? getenv("TRIT_GEN") : "trit-gen", src, bin, src, tr);
    if (test_run(cmd, NULL) != 0) SKIP("trit-gen (TRIT_GEN) is needed to build the model");
    int finished = 0, interrupted = 0;
    for (int trial = 0; trial < 4; trial++) {
        remove(out);
        pid_t const pid = fork();
        if (pid == 0) {
            execl(bin, "trit", "export", tr, "-o", out, (char *)NULL);
            _exit(127);
        }
        usleep(5000u + 10000u * (unsigned)trial);
        kill(pid, trial % 2 ? SIGTERM : SIGINT);
        int st = 0;
        waitpid(pid, &st, 0);
        struct stat sb;
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
            finished++;
            src_gguf *g = NULL;
            trit_err err;
            CHECK_OK_E(src_gguf_open(out, NULL, &g, &err), &err);
            src_gguf_close(g);
        } else {
            interrupted++;
            /* 130 once the guard is up; before it (nothing written yet) the signal's default */
            CHECK((WIFEXITED(st) && WEXITSTATUS(st) == 130) || WIFSIGNALED(st));
            CHECK(stat(out, &sb) != 0);
        }
        CHECK_EQ_INT(count_tmp(dir, "exi.gguf"), 0);
    }
    printf("  export interrupted %d of 4 trials (the rest finished first)\n", interrupted);
    CHECK(finished + interrupted == 4);
}
