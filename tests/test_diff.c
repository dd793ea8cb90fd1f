/* test_diff.c - `trit diff`: identical and different files in and across formats, the name and
 * metadata normalization, GGUF 3-D expert stacks against per-expert tensors, GGUF llama Q/K
 * un-permutation (against an HF file written here with the permutation of formats.md 1.10
 * applied by hand), ternary flip counts, chunked streaming, JSON validity and exit codes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "gen/gen.h"
#include "test.h"
#include "test_cvt_gguf_build.h"
#include "test_cvt_safetensors.h"
#include "test_verify.h"
#include "vfy.h"
#include "insp_diff_int.h"
#include "insp_norm.h"

static const insp_drow *row(const insp_diff *d, const char *name)
{
    for (uint64_t i = 0; i < d->n_rows; i++)
        if (strcmp(d->rows[i].name, name) == 0) return &d->rows[i];
    return NULL;
}

static insp_diff *run_diff(const char *a, const char *b, const insp_diff_opts *o)
{
    insp_diff *d = NULL;
    trit_err e;
    trit_err_clear(&e);
    CHECK_OK_E(insp_diff_run(a, b, o, &d, &e), &e);
    return d;
}

TEST(diff_canonical_names)
{
    static const struct { const char *in, *out; uint32_t layer, expert; int known; } cases[] = {
        {"model.layers.3.self_attn.q_proj.weight", "blk.3.attn_q.weight", 3, TRIT_NONE32, 1},
        {"model.layers.3.self_attn.k_proj.bias", "blk.3.attn_k.bias", 3, TRIT_NONE32, 1},
        {"model.layers.0.mlp.experts.5.up_proj.weight", "blk.0.ffn_up.5.weight", 0, 5, 1},
        {"model.layers.1.block_sparse_moe.experts.2.w2.weight", "blk.1.ffn_down.2.weight", 1, 2, 1},
        {"model.layers.1.block_sparse_moe.experts.2.w3.weight", "blk.1.ffn_up.2.weight", 1, 2, 1},
        {"model.layers.1.block_sparse_moe.gate.weight", "blk.1.ffn_gate_inp.weight", 1, TRIT_NONE32, 1},
        {"model.layers.4.mlp.shared_expert.down_proj.weight", "blk.4.ffn_down_shexp.weight", 4, TRIT_NONE32, 1},
        {"model.layers.4.mlp.shared_expert_gate.weight", "blk.4.ffn_gate_inp_shexp.weight", 4, TRIT_NONE32, 1},
        {"model.layers.2.mlp.gate.e_score_correction_bias", "blk.2.exp_probs_b.bias", 2, TRIT_NONE32, 1},
        {"model.layers.0.self_attn.inner_attn_ln.weight", "blk.0.attn_sub_norm.weight", 0, TRIT_NONE32, 1},
        {"model.layers.0.mlp.down_proj.weight_scale", "blk.0.ffn_down.weight_scale", 0, TRIT_NONE32, 1},
        {"model.embed_tokens.weight", "token_embd.weight", TRIT_NONE32, TRIT_NONE32, 1},
        {"lm_head.weight", "output.weight", TRIT_NONE32, TRIT_NONE32, 1},
        {"model.norm.weight", "output_norm.weight", TRIT_NONE32, TRIT_NONE32, 1},
        {"blk.7.ffn_gate.12.weight", "blk.7.ffn_gate.12.weight", 7, 12, 1},
        {"blk.7.ffn_up_exps.weight", "blk.7.ffn_up_exps.weight", 7, TRIT_NONE32, 1},
        {"output.weight", "output.weight", TRIT_NONE32, TRIT_NONE32, 1},
        {"model.layers.0.self_attn.rotary_emb.inv_freq", "model.layers.0.self_attn.rotary_emb.inv_freq", 0, TRIT_NONE32, 0},
        {"blk.x.attn_q.weight", "blk.x.attn_q.weight", TRIT_NONE32, TRIT_NONE32, 0},
        {"model.layers.99999999999.mlp.up_proj.weight", "model.layers.99999999999.mlp.up_proj.weight", TRIT_NONE32,
         TRIT_NONE32, 0},
        {"", "", TRIT_NONE32, TRIT_NONE32, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[128];
        uint32_t layer = 0, expert = 0;
        int const known = insp_canon_name(cases[i].in, out, sizeof out, &layer, &expert);
        CHECK_STR(out, cases[i].out);
        CHECK_EQ_INT(known, cases[i].known);
        CHECK_EQ_U64(layer, cases[i].layer);
        CHECK_EQ_U64(expert, cases[i].expert);
    }
}

TEST(diff_metadata_normalization)
{
    /* one hyperparameter under its GGUF, HF config and .trit names */
    cJSON *g = cJSON_Parse("{\"general.architecture\":\"llama\",\"llama.block_count\":5,"
                           "\"llama.attention.layer_norm_rms_epsilon\":9.999999974752427e-07,"
                           "\"llama.expert_gating_func\":2,\"tokenizer.ggml.bos_token_id\":1}");
    cJSON *h = cJSON_Parse("{\"config\":{\"model_type\":\"llama\",\"num_hidden_layers\":5,\"rms_norm_eps\":1e-06,"
                           "\"scoring_func\":\"sigmoid\",\"bos_token_id\":1}}");
    cJSON *t = cJSON_Parse("{\"general.architecture\":\"llama\",\"model.n_layer\":5,\"model.norm_eps\":1e-06,"
                           "\"moe.gating\":\"sigmoid\",\"model.bos_token_id\":1}");
    cJSON *used = NULL;
    cJSON *ng = insp_norm_meta("gguf", g, &used);
    cJSON *nh = insp_norm_meta("safetensors", h, NULL);
    cJSON *nt = insp_norm_meta("trit", t, NULL);
    CHECK(ng && nh && nt && used);
    CHECK(insp__json_equal(ng, nh));
    CHECK(insp__json_equal(nh, nt));
    CHECK_EQ_INT(cJSON_GetArraySize(ng), 5);
    CHECK(cJSON_GetObjectItemCaseSensitive(used, "llama.block_count") != NULL);
    CHECK(cJSON_GetObjectItemCaseSensitive(used, "tokenizer.ggml.bos_token_id") != NULL);
    /* HF "qwen3_moe" names GGUF's "qwen3moe"; f32 vs f64 is not a difference, 1e-5 vs 1e-6 is */
    cJSON *x = cJSON_Parse("{\"config\":{\"model_type\":\"qwen3_moe\"}}");
    cJSON *nx = insp_norm_meta("safetensors", x, NULL);
    CHECK_STR(cJSON_GetObjectItemCaseSensitive(nx, "general.architecture")->valuestring, "qwen3moe");
    cJSON *a = cJSON_CreateNumber(1e-5), *b = cJSON_CreateNumber(1e-6), *c = cJSON_CreateNumber((double)1e-6f);
    CHECK(!insp__json_equal(a, b));
    CHECK(insp__json_equal(b, c));
    cJSON *tr = cJSON_CreateTrue(), *one = cJSON_CreateNumber(1);
    CHECK(insp__json_equal(tr, one));
    cJSON_Delete(tr);
    cJSON_Delete(one);
    cJSON_Delete(a);
    cJSON_Delete(b);
    cJSON_Delete(c);
    cJSON_Delete(x);
    cJSON_Delete(nx);
    cJSON_Delete(g);
    cJSON_Delete(h);
    cJSON_Delete(t);
    cJSON_Delete(ng);
    cJSON_Delete(nh);
    cJSON_Delete(nt);
    cJSON_Delete(used);
}

TEST(diff_identical_files_each_format)
{
    static const gen_layout layouts[] = {GEN_LAYOUT_QWEN3MOE, GEN_LAYOUT_GGUF_MOE, GEN_LAYOUT_BITNET, GEN_LAYOUT_TRIT};
    static const char *const names[] = {"d-qwen3moe", "d-gguf-moe.gguf", "d-bitnet", "d-trit.trit"};
    for (size_t k = 0; k < 4; k++) {
        gen_opts o;
        gen_opts_default(&o, layouts[k]);
        o.overwrite = 1;
        const char *p = test_path(test_tmpdir(), names[k]);
        trit_err e;
        CHECK_OK_E(gen_write(&o, p, &e), &e);
        insp_diff *d = run_diff(p, p, NULL);
        if (!d) continue;
        CHECK_EQ_INT(insp_diff_differs(d), 0);
        CHECK_EQ_U64(d->counts[INSP_D_SAME], d->n_rows);
        CHECK(d->n_rows > 10);
        CHECK_EQ_U64(d->n_type_changed, 0);
        CHECK_EQ_INT(cJSON_GetArraySize(d->meta_changed), 0);
        insp_diff_free(d);
    }
}

TEST(diff_safetensors_against_trit_layout)
{
    /* trit-gen's trit layout holds the qwen3moe plan's values: ternary projections exactly (t2),
     * BF16 embeddings re-rounded to F16 (so those two differ, by at most F16's rounding) */
    gen_opts o;
    gen_opts_default(&o, GEN_LAYOUT_QWEN3MOE);
    o.overwrite = 1;
    o.n_shards = 1;
    const char *hf = test_path(test_tmpdir(), "x-qwen3moe");
    const char *tr = test_path(test_tmpdir(), "x-qwen3moe.trit");
    trit_err e;
    CHECK_OK_E(gen_write(&o, hf, &e), &e);
    o.layout = GEN_LAYOUT_TRIT;
    CHECK_OK_E(gen_write(&o, tr, &e), &e);
    insp_diff *d = run_diff(hf, tr, NULL);
    if (!d) return;
    const insp_drow *q = row(d, "blk.1.attn_q.weight");
    CHECK(q && q->status == INSP_D_SAME && q->type_changed && q->ternary && q->flips == 0);
    const insp_drow *x = row(d, "blk.0.ffn_down.3.weight");
    CHECK(x && x->status == INSP_D_SAME);
    const insp_drow *emb = row(d, "token_embd.weight");
    CHECK(emb && emb->status == INSP_D_VALUES && emb->max_abs < 1e-6 && emb->cosine > 0.999999);
    CHECK_EQ_U64(d->counts[INSP_D_ONLY_A] + d->counts[INSP_D_ONLY_B] + d->counts[INSP_D_SHAPE], 0);
    CHECK_EQ_INT(cJSON_GetArraySize(d->meta_changed), 0);   /* head_dim: stated 16 vs derived 64/4 */
    insp_diff_free(d);
}

/* The handcrafted pair: a GGUF llama file (Q/K rows permuted per formats.md 1.10, a 3-D expert
 * stack) and an HF safetensors directory with the same model in HF order, per-expert tensors. */
enum { HEADS = 2, KV_HEADS = 1, HD = 4, EMBD = 8, E = 2, FF = 3 };

static float hf_q(uint32_t r, uint32_t c) { return (float)(r * 100 + c); }
static float hf_k(uint32_t r, uint32_t c) { return (float)(1000 + r * 100 + c); }
static float hf_up(uint32_t e, uint32_t r, uint32_t c) { return (float)(5000 + e * 1000 + r * 10 + c) * 0.5f; }

/* HF row that GGUF row g of a permuted matrix holds: view the HF rows as (heads, 2, hd/2), swap
 * the last two axes (llama.cpp convert_hf_to_gguf.py permute), flatten. */
static uint32_t hf_row_of(uint32_t g, uint32_t heads, uint32_t rows)
{
    uint32_t const hd = rows / heads, half = hd / 2;
    uint32_t const h = g / hd, i = (g % hd) / 2, j = (g % hd) % 2;
    return h * hd + j * half + i;
}

static void write_pair(const char *gguf_path, const char *st_dir, int change_expert_value)
{
    float q[HEADS * HD][EMBD], k[KV_HEADS * HD][EMBD], up[E][FF][EMBD];
    for (uint32_t g = 0; g < HEADS * HD; g++)
        for (uint32_t c = 0; c < EMBD; c++) q[g][c] = hf_q(hf_row_of(g, HEADS, HEADS * HD), c);
    for (uint32_t g = 0; g < KV_HEADS * HD; g++)
        for (uint32_t c = 0; c < EMBD; c++) k[g][c] = hf_k(hf_row_of(g, KV_HEADS, KV_HEADS * HD), c);
    for (uint32_t e = 0; e < E; e++)
        for (uint32_t r = 0; r < FF; r++)
            for (uint32_t c = 0; c < EMBD; c++) up[e][r][c] = hf_up(e, r, c);
    if (change_expert_value) up[1][2][5] += 0.25f;
    tg_buf b;
    memset(&b, 0, sizeof b);
    tg_header(&b, 3, 3, 5);
    tg_kv_str(&b, "general.architecture", "llama");
    tg_kv_u32(&b, "llama.block_count", 1);
    tg_kv_u32(&b, "llama.embedding_length", EMBD);
    tg_kv_u32(&b, "llama.attention.head_count", HEADS);
    tg_kv_u32(&b, "llama.attention.head_count_kv", KV_HEADS);
    uint64_t const ne_q[2] = {EMBD, HEADS * HD}, ne_k[2] = {EMBD, KV_HEADS * HD}, ne_up[3] = {EMBD, FF, E};
    uint64_t const off_k = sizeof q, off_up = off_k + ((sizeof k + 31) / 32) * 32;
    tg_tinfo(&b, "blk.0.attn_q.weight", 2, ne_q, 0, 0, NULL);
    tg_tinfo(&b, "blk.0.attn_k.weight", 2, ne_k, 0, off_k, NULL);
    tg_tinfo(&b, "blk.0.ffn_up_exps.weight", 3, ne_up, 0, off_up, NULL);
    tg_pad(&b, 32);
    tg_bytes(&b, q, sizeof q);
    tg_bytes(&b, k, sizeof k);
    tg_pad(&b, 32);
    tg_bytes(&b, up, sizeof up);
    CHECK(!b.oom);
    CHECK_EQ_INT(test_write_file(gguf_path, b.p, b.len), 0);
    tg_free(&b);

    float hq[HEADS * HD][EMBD], hk[KV_HEADS * HD][EMBD];
    for (uint32_t r = 0; r < HEADS * HD; r++)
        for (uint32_t c = 0; c < EMBD; c++) hq[r][c] = hf_q(r, c);
    for (uint32_t r = 0; r < KV_HEADS * HD; r++)
        for (uint32_t c = 0; c < EMBD; c++) hk[r][c] = hf_k(r, c);
    stt_writer *w = malloc(sizeof *w);
    if (!w) return;
    stt_init(w, NULL);
    stt_add(w, "model.layers.0.self_attn.q_proj.weight", "F32", "[8, 8]", hq, sizeof hq);
    stt_add(w, "model.layers.0.self_attn.k_proj.weight", "F32", "[4, 8]", hk, sizeof hk);
    for (uint32_t e = 0; e < E; e++) {
        char name[96];
        float x[FF][EMBD];
        for (uint32_t r = 0; r < FF; r++)
            for (uint32_t c = 0; c < EMBD; c++) x[r][c] = hf_up(e, r, c);
        snprintf(name, sizeof name, "model.layers.0.mlp.experts.%u.up_proj.weight", e);
        stt_add(w, name, "F32", "[3, 8]", x, sizeof x);
    }
    CHECK_EQ_INT(stt_finish_file(w, test_path(st_dir, "model.safetensors")), 0);
    free(w);
    static const char cfg[] = "{\"model_type\": \"llama\", \"num_hidden_layers\": 1, \"hidden_size\": 8,"
                              " \"num_attention_heads\": 2, \"num_key_value_heads\": 1}";
    CHECK_EQ_INT(test_write_file(test_path(st_dir, "config.json"), cfg, sizeof cfg - 1), 0);
}

TEST(diff_gguf_llama_unpermute_and_expert_slices)
{
    const char *g = test_path(test_tmpdir(), "pair.gguf");
    const char *st = stt_dir("pair-hf");
    write_pair(g, st, 0);
    /* small chunks: reads cross rows, heads and expert slices */
    insp_diff_opts o;
    memset(&o, 0, sizeof o);
    o.chunk = 5;
    insp_diff *d = run_diff(g, st, &o);
    if (!d) return;
    CHECK_EQ_U64(d->n_rows, 4);   /* attn_q, attn_k, ffn_up.0, ffn_up.1 */
    CHECK_EQ_U64(d->counts[INSP_D_SAME], 4);
    CHECK_EQ_INT(insp_diff_differs(d), 0);
    const insp_drow *q = row(d, "blk.0.attn_q.weight");
    CHECK(q && strstr(q->note, "rows of a un-permuted") != NULL);
    CHECK(row(d, "blk.0.ffn_up.1.weight") && row(d, "blk.0.ffn_up.1.weight")->n == FF * EMBD);
    CHECK_EQ_INT(cJSON_GetArraySize(d->notes), 1);
    CHECK_EQ_INT(cJSON_GetArraySize(d->meta_changed), 0);
    insp_diff_free(d);
    /* the other way round, and as stored: the permuted rows differ */
    d = run_diff(st, g, NULL);
    if (d) CHECK_EQ_INT(insp_diff_differs(d), 0);
    insp_diff_free(d);
    o.no_unpermute = 1;
    d = run_diff(g, st, &o);
    if (!d) return;
    q = row(d, "blk.0.attn_q.weight");
    CHECK(q && q->status == INSP_D_VALUES && q->n_diff > 0);
    CHECK(row(d, "blk.0.ffn_up.0.weight")->status == INSP_D_SAME);
    insp_diff_free(d);
    /* one value of expert 1 changed */
    write_pair(g, st, 1);
    o.no_unpermute = 0;
    d = run_diff(g, st, &o);
    if (!d) return;
    const insp_drow *u = row(d, "blk.0.ffn_up.1.weight");
    CHECK(u && u->status == INSP_D_VALUES && u->n_diff == 1 && fabs(u->max_abs - 0.25) < 1e-9);
    CHECK(row(d, "blk.0.ffn_up.0.weight")->status == INSP_D_SAME);
    CHECK_EQ_INT(insp_diff_differs(d), 1);
    insp_diff_free(d);
}

TEST(diff_ternary_flips_and_nan)
{
    const char *clean = test_path(test_tmpdir(), "f-clean.trit");
    const char *zero = test_path(test_tmpdir(), "f-zero.trit");
    const char *bad = test_path(test_tmpdir(), "f-code3.trit");
    vt_defects d0 = {0}, dz = {0}, d3 = {0};
    dz.zero_proj = 1;
    d3.code3 = 1;
    trit_err e;
    CHECK_OK_E(vt_build(clean, &d0, &e), &e);
    CHECK_OK_E(vt_build(zero, &dz, &e), &e);
    CHECK_OK_E(vt_build(bad, &d3, &e), &e);
    insp_diff *d = run_diff(clean, zero, NULL);
    if (!d) return;
    const insp_drow *r = row(d, "blk.0.ffn_up.weight");
    CHECK(r && r->status == INSP_D_VALUES && r->ternary);
    CHECK(r->n_diff > 0 && r->flips == r->n_diff && r->flips_nz_to_zero == r->n_diff);
    CHECK_EQ_U64(r->flips_sign + r->flips_zero_to_nz, 0);
    CHECK_EQ_U64(d->counts[INSP_D_VALUES], 1);
    /* the zeroed tensor has a cosine of 0 with the original */
    CHECK(fabs(r->cosine) < 1e-12);
    insp_diff_free(d);
    d = run_diff(zero, clean, NULL);
    if (d) {
        r = row(d, "blk.0.ffn_up.weight");
        CHECK(r && r->flips_zero_to_nz == r->n_diff);
    }
    insp_diff_free(d);
    /* an invalid code reads as NaN: counted as a NaN on one side */
    d = run_diff(clean, bad, NULL);
    if (!d) return;
    r = row(d, "blk.0.attn_k.weight");
    CHECK(r && r->status == INSP_D_VALUES && r->n_nan_mismatch == 1 && r->n_diff == 1);
    insp_diff_free(d);
}

TEST(diff_json_is_valid)
{
    const char *clean = test_path(test_tmpdir(), "j-clean.trit");
    const char *other = test_path(test_tmpdir(), "j-other.trit");
    vt_defects d1 = {0};
    d1.bad_shape = 1;
    d1.drop_expert = 1;
    d1.n_layer = 3;
    trit_err e;
    CHECK_OK_E(vt_build(clean, NULL, &e), &e);
    CHECK_OK_E(vt_build(other, &d1, &e), &e);
    insp_diff *d = run_diff(clean, other, NULL);
    if (!d) return;
    char *s = insp_diff_json(d);
    cJSON *j = s ? cJSON_Parse(s) : NULL;
    CHECK(j != NULL);
    CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "differ")));
    const cJSON *sum = cJSON_GetObjectItemCaseSensitive(j, "summary");
    CHECK_EQ_INT(cJSON_GetObjectItemCaseSensitive(sum, "shape")->valueint, 1);
    CHECK_EQ_INT(cJSON_GetObjectItemCaseSensitive(sum, "only_a")->valueint, 3);   /* expert 3's three tensors */
    const cJSON *ch = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "metadata"), "changed");
    CHECK_EQ_INT(cJSON_GetArraySize(ch), 1);
    CHECK_STR(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(ch, 0), "key")->valuestring, "model.n_layer");
    CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "tensors")), 31);
    cJSON_Delete(j);
    free(s);
    /* the text form: a --stat line per differing tensor, a summary */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CHECK_EQ_INT(insp_diff_print(d, f), 0);
    fclose(f);
    CHECK(buf && strstr(buf, " blk.1.attn_q.weight") && strstr(buf, "| shape [64, 64] -> [48, 64]"));
    CHECK(buf && strstr(buf, "| only in a (t2)"));
    CHECK(buf && strstr(buf, " ~ model.n_layer") && strstr(buf, "files differ"));
    free(buf);
    insp_diff_free(d);
}

TEST(verify_json_is_valid)
{
    vt_defects d = {0};
    d.nan_float = 1;
    d.hf_names = 1;
    const char *p = test_path(test_tmpdir(), "vj.trit");
    trit_err e;
    CHECK_OK_E(vt_build(p, &d, &e), &e);
    vfy_report rep;
    CHECK_EQ_INT(vt_verify(p, NULL, &rep), 1);
    char *s = vfy_report_json(&rep);
    cJSON *j = s ? cJSON_Parse(s) : NULL;
    CHECK(j != NULL);
    CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, "ok")));
    CHECK_EQ_INT(cJSON_GetObjectItemCaseSensitive(j, "exit")->valueint, 1);
    const cJSON *errs = cJSON_GetObjectItemCaseSensitive(j, "errors");
    CHECK_EQ_INT(cJSON_GetObjectItemCaseSensitive(errs, "tensor")->valueint, 1);
    CHECK_EQ_INT(cJSON_GetObjectItemCaseSensitive(errs, "metadata")->valueint, 31);
    CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "findings")), 32);
    cJSON_Delete(j);
    free(s);
    vfy_report_release(&rep);
}

TEST(diff_and_verify_cli_exit_codes)
{
    const char *bin = test_trit_bin();
    if (!bin || !*bin) SKIP("TRIT_BIN not set");
    const char *a = test_path(test_tmpdir(), "c-a.trit");
    const char *b = test_path(test_tmpdir(), "c-b.trit");
    const char *f = test_path(test_tmpdir(), "c-future.trit");
    vt_defects d = {0};
    d.bad_shape = 1;
    trit_err e;
    CHECK_OK_E(vt_build(a, NULL, &e), &e);
    CHECK_OK_E(vt_build(b, &d, &e), &e);
    CHECK_OK_E(vt_build(f, NULL, &e), &e);
    CHECK_EQ_INT(vt_patch_header(f, 2, 0, 0), 0);
    char cmd[4096];
    char *out = NULL;
#define RUN(expect, ...)                                              \
    do {                                                              \
        snprintf(cmd, sizeof cmd, __VA_ARGS__);                       \
        CHECK_EQ_INT(test_run(cmd, &out), expect);                    \
        free(out);                                                    \
        out = NULL;                                                   \
    } while (0)
    RUN(0, "%s diff %s %s", bin, a, a);
    RUN(1, "%s diff %s %s", bin, a, b);
    RUN(2, "%s diff %s %s 2>/dev/null", bin, a, test_path(test_tmpdir(), "no-such.trit"));
    RUN(2, "%s diff %s 2>/dev/null", bin, a);
    RUN(2, "%s diff --atol -1 %s %s 2>/dev/null", bin, a, a);
    RUN(0, "%s verify %s", bin, a);
    RUN(1, "%s verify %s", bin, b);
    RUN(5, "%s verify %s", bin, f);
    RUN(2, "%s verify --runtime-version 0.0.1 %s 2>/dev/null", bin, a);
    RUN(3, "%s verify %s", bin, test_path(test_tmpdir(), "no-such.trit"));
    RUN(2, "%s verify 2>/dev/null", bin);
    /* a truncated container: integrity, exit 4 */
    size_t len = 0;
    uint8_t *buf = test_read_file(a, &len);
    const char *t = test_path(test_tmpdir(), "c-trunc.trit");
    CHECK(buf && test_write_file(t, buf, len / 2) == 0);
    free(buf);
    RUN(4, "%s verify %s", bin, t);
    /* --json output parses and carries the same exit code */
    snprintf(cmd, sizeof cmd, "%s verify --json %s", bin, b);
    CHECK_EQ_INT(test_run(cmd, &out), 1);
    cJSON *j = out ? cJSON_Parse(out) : NULL;
    CHECK(j && cJSON_GetObjectItemCaseSensitive(j, "exit")->valueint == 1);
    cJSON_Delete(j);
    free(out);
    out = NULL;
    snprintf(cmd, sizeof cmd, "%s diff --json %s %s", bin, a, b);
    CHECK_EQ_INT(test_run(cmd, &out), 1);
    j = out ? cJSON_Parse(out) : NULL;
    CHECK(j && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "differ")));
    cJSON_Delete(j);
    free(out);
#undef RUN
}

/* Acceptance (issue 6): a source checkpoint and the container `trit convert` makes of it hold
 * the same values on the lossless paths: every layout trit-gen writes, and the real llama
 * GGUF fixture (whose Q/K rows the converter un-permutes and diff un-permutes back). */
TEST(diff_source_and_converted_container)
{
    const char *bin = test_trit_bin();
    if (!bin || !*bin) SKIP("TRIT_BIN not set");
    static const struct { gen_layout l; const char *name; } cases[] = {
        {GEN_LAYOUT_QWEN3MOE, "cv-qwen3moe"}, {GEN_LAYOUT_MIXTRAL, "cv-mixtral"}, {GEN_LAYOUT_BITNET, "cv-bitnet"},
        {GEN_LAYOUT_BITCPM, "cv-bitcpm"},     {GEN_LAYOUT_GGUF, "cv-gguf.gguf"},   {GEN_LAYOUT_GGUF_MOE, "cv-moe.gguf"},
        {GEN_LAYOUT_COUNT_, "stories260K"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char src[2048], dst[2100], cmd[8192];
        if (cases[i].l == GEN_LAYOUT_COUNT_) {
            if (!test_fixtures()) continue;
            snprintf(src, sizeof src, "%s", test_path(test_fixtures(), "gguf/stories260K.gguf"));
        } else {
            gen_opts o;
            gen_opts_default(&o, cases[i].l);
            o.overwrite = 1;
            snprintf(src, sizeof src, "%s", test_path(test_tmpdir(), cases[i].name));
            trit_err e;
            CHECK_OK_E(gen_write(&o, src, &e), &e);
        }
        snprintf(dst, sizeof dst, "%s.conv.trit", test_path(test_tmpdir(), cases[i].name));
        snprintf(cmd, sizeof cmd, "%s convert -q -f %s -o %s >/dev/null 2>&1", bin, src, dst);
        if (test_run(cmd, NULL) != 0) {
            test_fail_(__FILE__, __LINE__, "trit convert failed on %s", src);
            continue;
        }
        insp_diff *d = run_diff(src, dst, NULL);
        if (!d) continue;
        if (d->counts[INSP_D_VALUES] || d->counts[INSP_D_SHAPE] || d->counts[INSP_D_ONLY_A] || d->counts[INSP_D_ONLY_B] ||
            d->counts[INSP_D_UNCOMPARED] || d->counts[INSP_D_SAME] != d->n_rows || d->n_rows < 20) {
            test_fail_(__FILE__, __LINE__, "%s: not every tensor has equal values in its container", src);
            insp_diff_print(d, stderr);
        }
        insp_diff_free(d);
    }
}
