/* test_export_refuse.c - valid containers with content GGUF or llama.cpp cannot take: export
 * must refuse each with the expected code and a message naming the object, never crash, and
 * never leave an output. Also the odd shapes it must accept (0-d, leading unit dims, a
 * negative token id, integer scores). */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "src_gguf.h"
#include "exg.h"
#include "test.h"

enum {
    C_OK = 0, C_NO_EMBD, C_EMBD_STRING, C_TOKENS_INTS, C_SCORES_INTS, C_NAME_LONG, C_U8, C_DIMS5,
    C_DIMS5_UNIT, C_SCALAR, C_QK_ROWS, C_EXPERT_MISSING, C_EXPERT_SHAPE, C_ID_NEGATIVE, C_ROPE_LAYOUT,
    C_NO_ARCH, C_COUNT
};

static const struct { int code; const char *needle; } expect[C_COUNT] = {
    [C_OK] = {TRIT_OK, NULL},
    [C_NO_EMBD] = {TRIT_E_CORRUPT, "model.n_embd"},
    [C_EMBD_STRING] = {TRIT_E_CORRUPT, "model.n_embd"},
    [C_TOKENS_INTS] = {TRIT_E_CORRUPT, "tokenizer.ggml.tokens"},
    [C_SCORES_INTS] = {TRIT_OK, NULL},
    [C_NAME_LONG] = {TRIT_E_LIMIT, "at most 63"},
    [C_U8] = {TRIT_E_UNSUPPORTED, "blk.0.odd.weight"},
    [C_DIMS5] = {TRIT_E_LIMIT, "at most 4"},
    [C_DIMS5_UNIT] = {TRIT_OK, NULL},
    [C_SCALAR] = {TRIT_OK, NULL},
    [C_QK_ROWS] = {TRIT_E_CORRUPT, "blk.0.attn_q.weight"},
    [C_EXPERT_MISSING] = {TRIT_E_CORRUPT, "blk.0.ffn_up.1.weight"},
    [C_EXPERT_SHAPE] = {TRIT_E_CORRUPT, "shaped like expert 0"},
    [C_ID_NEGATIVE] = {TRIT_OK, NULL},
    [C_ROPE_LAYOUT] = {TRIT_E_UNSUPPORTED, "rope_layout"},
    [C_NO_ARCH] = {TRIT_E_CORRUPT, "general.architecture"},
};

typedef struct spec {
    const char *name;
    uint32_t type, n_dims, unit;
    uint64_t dims[5];
} spec;

/* A tiny llama-like (or qwen3moe for the expert cases) container, broken as case c says. */
static int build(int c, const char *path, trit_err *err)
{
    int const moe = c == C_EXPERT_MISSING || c == C_EXPERT_SHAPE;
    char longname[80];
    memset(longname, 'x', 70);
    memcpy(longname, "blk.0.", 6);
    longname[70] = '\0';
    spec sp[8];
    uint32_t n = 0;
    sp[n++] = (spec){"blk.0.attn_q.weight", TRIT_TYPE_F32, 2, TRIT_NONE32, {c == C_QK_ROWS ? 40u : 64u, 64}};
    if (c == C_NAME_LONG) sp[n++] = (spec){longname, TRIT_TYPE_F32, 1, TRIT_NONE32, {8}};
    if (c == C_U8) sp[n++] = (spec){"blk.0.odd.weight", TRIT_TYPE_U8, 1, TRIT_NONE32, {8}};
    if (c == C_DIMS5) sp[n++] = (spec){"blk.0.odd.weight", TRIT_TYPE_F32, 5, TRIT_NONE32, {2, 2, 2, 2, 2}};
    if (c == C_DIMS5_UNIT) sp[n++] = (spec){"blk.0.odd.weight", TRIT_TYPE_F32, 5, TRIT_NONE32, {1, 1, 1, 4, 8}};
    if (c == C_SCALAR) sp[n++] = (spec){"blk.0.odd.weight", TRIT_TYPE_F32, 0, TRIT_NONE32, {0}};
    if (moe) {
        sp[n++] = (spec){"blk.0.ffn_up.0.weight", TRIT_TYPE_F32, 2, 0, {32, 64}};
        sp[n++] = (spec){"blk.0.ffn_gate.0.weight", TRIT_TYPE_F32, 2, 0, {32, 64}};
        if (c == C_EXPERT_SHAPE) sp[n++] = (spec){"blk.0.ffn_up.1.weight", TRIT_TYPE_F32, 2, 1, {16, 64}};
        sp[n++] = (spec){"blk.0.ffn_gate.1.weight", TRIT_TYPE_F32, 2, 1, {32, 64}};
    }
    trit_writer *w = NULL;
    trit_kvbuf *tok = trit_kvbuf_new();
    trit_write_opts wo = {0};
    wo.overwrite = 1;
    uint32_t ids[8], sec, u;
    uint64_t sizes[8];
    uint8_t *zeros = calloc(1, 1 << 16);
    int rc = tok && zeros ? trit_writer_open(path, &wo, &w, err) : TRIT_E_NOMEM;
#define T(x) do { if (rc == TRIT_OK) rc = (x); } while (0)
    if (c != C_NO_ARCH) T(trit_writer_kv_str(w, "general.architecture", moe ? "qwen3moe" : "llama", moe ? 8 : 5, err));
    if (c == C_EMBD_STRING) T(trit_writer_kv_str(w, "model.n_embd", "64", 2, err));
    else if (c != C_NO_EMBD) T(trit_writer_kv_u32(w, "model.n_embd", 64, err));
    T(trit_writer_kv_u32(w, "model.n_layer", 1, err));
    T(trit_writer_kv_u32(w, "model.n_head", 4, err));
    T(trit_writer_kv_u32(w, "model.head_dim", 16, err));
    T(trit_writer_kv_f32(w, "model.norm_eps", 1e-5f, err));
    T(trit_writer_kv_str(w, "model.rope_layout", c == C_ROPE_LAYOUT ? "normal" : "neox", c == C_ROPE_LAYOUT ? 6 : 4, err));
    if (moe) T(trit_writer_kv_u32(w, "moe.n_expert", 2, err));
    static const char *const toks[] = {"a", "b", "c"};
    int32_t const ints[3] = {1, 2, 3};
    if (c == C_TOKENS_INTS) T(trit_kvbuf_arr(tok, "tokenizer.ggml.tokens", TRIT_KV_I32, ints, 3, err));
    else T(trit_kvbuf_arr_str(tok, "tokenizer.ggml.tokens", toks, NULL, 3, err));
    if (c == C_SCORES_INTS) T(trit_kvbuf_arr(tok, "tokenizer.ggml.scores", TRIT_KV_I32, ints, 3, err));
    if (c == C_ID_NEGATIVE) T(trit_kvbuf_i32(tok, "tokenizer.ggml.padding_token_id", -1, err));
    T(trit_kvbuf_str(tok, "tokenizer.ggml.model", "llama", 5, err));
    T(trit_writer_add_section(w, "tok", TRIT_SECTION_TOKENIZER_KV, &sec, err));
    if (moe) {
        T(trit_writer_add_unit(w, 0, 0, TRIT_STORAGE_RAW, &u, err));
        T(trit_writer_add_unit(w, 0, 1, TRIT_STORAGE_RAW, &u, err));
    }
    for (uint32_t i = 0; i < n && rc == TRIT_OK; i++) {
        trit_tensor_info t;
        memset(&t, 0, sizeof t);
        t.name = sp[i].name;
        t.type = sp[i].type;
        t.n_dims = sp[i].n_dims;
        memcpy(t.dims, sp[i].dims, sizeof sp[i].dims);
        t.layer = 0;
        t.unit = sp[i].unit;
        trit_type_geometry(t.type, &t.block_elems, &t.block_bytes);
        trit_tensor_layout(&t, NULL);
        sizes[i] = t.size;
        T(trit_writer_add_tensor(w, &t, &ids[i], err));
    }
    for (uint32_t i = 0; i < n; i++)
        if (sp[i].unit == TRIT_NONE32) T(trit_writer_write_tensor(w, ids[i], zeros, sizes[i], err));
    for (uint32_t k = 0; moe && k < 2; k++) {
        T(trit_writer_unit_begin(w, k, err));
        for (uint32_t i = 0; i < n; i++)
            if (sp[i].unit == k) T(trit_writer_write_tensor(w, ids[i], zeros, sizes[i], err));
        T(trit_writer_unit_end(w, err));
    }
    const void *kd;
    uint64_t kl;
    T(trit_kvbuf_data(tok, &kd, &kl, err));
    T(trit_writer_write_section(w, sec, kd, kl, err));
#undef T
    if (rc == TRIT_OK) rc = trit_writer_finish(w, err);
    else trit_writer_abort(w);
    trit_kvbuf_free(tok);
    free(zeros);
    return rc;
}

TEST(export_refuses_hostile_content)
{
    const char *tr = test_path(test_tmpdir(), "exr.trit"), *out = test_path(test_tmpdir(), "exr.gguf");
    for (int c = 0; c < C_COUNT; c++) {
        trit_err err;
        trit_err_clear(&err);
        CHECK_OK_E(build(c, tr, &err), &err);
        trit_reader *r = NULL;
        CHECK_OK_E(trit_reader_open(tr, NULL, &r, &err), &err);
        if (!r) continue;
        remove(out);
        exg_opts o = {0};
        int const rc = exg_gguf(r, out, &o, NULL, &err);
        trit_reader_close(r);
        char msg[768];
        trit_err_format(&err, msg, sizeof msg);
        if (rc != expect[c].code) {
            test_fail_(__FILE__, __LINE__, "case %d: code %d, expected %d (%s)", c, rc, expect[c].code, msg);
            continue;
        }
        if (expect[c].needle && !strstr(msg, expect[c].needle))
            test_fail_(__FILE__, __LINE__, "case %d: '%s' not in \"%s\"", c, expect[c].needle, msg);
        struct stat sb;
        CHECK_EQ_INT(stat(out, &sb) == 0, rc == TRIT_OK);
        if (rc != TRIT_OK) continue;
        /* accepted odd cases: what the GGUF holds */
        src_gguf *g = NULL;
        CHECK_OK_E(src_gguf_open(out, NULL, &g, &err), &err);
        if (!g) continue;
        int64_t const k = src_gguf_find_tensor(g, "blk.0.odd.weight");
        const src_gguf_tensor_info *t = k >= 0 ? src_gguf_tensor(g, (uint64_t)k) : NULL;
        if (c == C_SCALAR) CHECK(t && t->n_dims == 1 && t->ne[0] == 1);
        if (c == C_DIMS5_UNIT) CHECK(t && t->n_dims == 4 && t->ne[0] == 8 && t->ne[1] == 4 && t->ne[2] == 1);
        int64_t const s = src_gguf_find_kv(g, "tokenizer.ggml.scores");
        if (c == C_SCORES_INTS) {
            uint32_t et = 0;
            double v = 0;
            CHECK(s >= 0);
            if (s >= 0) {
                src_gguf_kv_type(g, (uint64_t)s, &et, NULL);
                CHECK_EQ_U64(et, SRC_GGUF_FLOAT32);
                src_gguf_kv_arr_f64(g, (uint64_t)s, 2, &v);
                CHECK(v == 3.0);
            }
        }
        if (c == C_ID_NEGATIVE) CHECK(src_gguf_find_kv(g, "tokenizer.ggml.padding_token_id") < 0);
        src_gguf_close(g);
    }
}
