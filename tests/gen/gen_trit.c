/*
 * gen_trit.c - the `trit` layout: a .trit container written directly through libtrit from the
 * Qwen3-MoE plan (same tensors and values as `trit-gen qwen3moe` with the same options).
 *
 * It exists so `make demo` and the tests have a real MoE container before the converter does;
 * tensor names stay in HF naming. Ternary tensors become t2 with their exact scales (per tensor
 * or per group), floats become f16 (embeddings, router) or f32 (norms), and each expert's
 * gate/up/down become one zstd unit. config.json and tokenizer.json travel as sections.
 */
#include <stdlib.h>
#include <string.h>

#include "gen_int.h"
#include "trit_safemath.h"

int gen__write_trit(const gen_opts *o_in, const char *out_path, trit_err *err);

/* Render config.json or tokenizer.json into memory (caller frees *out). */
static int render(const gen_opts *op, int tokenizer, uint8_t **out, size_t *n, trit_err *err)
{
    gen_out o;
    memset(&o, 0, sizeof o);
    o.f = tmpfile();
    snprintf(o.path, sizeof o.path, "%s", tokenizer ? "tokenizer.json" : "config.json");
    if (!o.f) return trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, o.path, "cannot create a temporary file");
    int rc = tokenizer ? gen__write_tokenizer_json(op->n_vocab, &o, err) : gen__write_config(op, &o, err);
    if (rc == TRIT_OK && fflush(o.f) != 0) rc = trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, o.path, "write failed");
    if (rc == TRIT_OK) {
        *n = (size_t)o.off;
        *out = malloc(*n ? *n : 1);
        rewind(o.f);
        if (!*out || fread(*out, 1, *n, o.f) != *n) rc = trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, o.path, "read back failed");
    }
    fclose(o.f);
    return rc;
}

static void describe(const gen_tensor *g, uint32_t unit, trit_tensor_info *t)
{
    memset(t, 0, sizeof *t);
    t->name = g->name;
    t->n_dims = g->n_dims;
    for (uint32_t d = 0; d < g->n_dims; d++) t->dims[d] = g->shape[d];
    t->layer = g->layer == GEN_NONE ? TRIT_NONE32 : g->layer;
    t->unit = unit;
    if (g->kind == GEN_K_TERNARY || g->kind == GEN_K_GROUP) {
        t->type = TRIT_TYPE_T2;
        t->scale_type = TRIT_SCALE_TYPE_F32;
        t->scale_layout = g->kind == GEN_K_TERNARY ? TRIT_SCALE_TENSOR : TRIT_SCALE_GROUP;
        t->group_size = g->kind == GEN_K_GROUP ? g->group : 0;
    } else {
        t->type = g->kind == GEN_K_NORM ? TRIT_TYPE_F32 : TRIT_TYPE_F16;
    }
    trit_type_geometry(t->type, &t->block_elems, &t->block_bytes);
    trit_tensor_layout(t, NULL);
}

/* Stream one tensor's bytes: rows of codes (or floats), then its scales. */
static int emit(trit_writer *w, uint32_t id, const gen_tensor *g, const trit_tensor_info *t, trit_err *err)
{
    uint64_t const cols = t->dims[t->n_dims - 1];
    uint64_t const rows = cols ? gen_logical_nelems(g) / cols : 0;
    uint64_t const row_bytes = t->type == TRIT_TYPE_T2 ? trit_div_ceil(cols, 128) * 32 : cols * (t->type == TRIT_TYPE_F32 ? 4 : 2);
    uint8_t *row = malloc((size_t)row_bytes + 1);
    int8_t *tv = malloc((size_t)cols + 1);
    int rc = row && tv ? trit_writer_tensor_begin(w, id, err) : TRIT_E_NOMEM;
    for (uint64_t r = 0; rc == TRIT_OK && r < rows; r++) {
        for (uint64_t c = 0; c < cols; c++) {
            uint64_t const i = r * cols + c;
            if (t->type == TRIT_TYPE_T2) tv[c] = (int8_t)gen_ternary(g, i);
            else if (t->type == TRIT_TYPE_F32) { float const v = gen_value(g, i); memcpy(row + 4 * c, &v, 4); }
            else { uint16_t const h = trit_f32_to_f16(gen_value(g, i)); row[2 * c] = (uint8_t)h; row[2 * c + 1] = (uint8_t)(h >> 8); }
        }
        if (t->type == TRIT_TYPE_T2) trit_t2_pack_row(tv, cols, row);
        rc = trit_writer_append(w, row, row_bytes, err);
    }
    if (rc == TRIT_OK && t->n_scales) {
        static const uint8_t zeros[16];
        rc = trit_writer_append(w, zeros, t->scales_off - rows * row_bytes, err);
        for (uint64_t k = 0; rc == TRIT_OK && k < t->n_scales; k++) {
            /* scale k covers the first element of its scope */
            uint64_t i = 0;
            if (t->scale_layout == TRIT_SCALE_GROUP) {
                uint64_t const per_row = trit_div_ceil(cols, t->group_size);
                i = (k / per_row) * cols + (k % per_row) * t->group_size;
            }
            float const s = gen_scale(g, i);
            rc = trit_writer_append(w, &s, 4, err);
        }
    }
    if (rc == TRIT_OK) rc = trit_writer_end(w, err);
    free(row);
    free(tv);
    return rc;
}

int gen__write_trit(const gen_opts *o_in, const char *out_path, trit_err *err)
{
    gen_opts op = *o_in;
    op.layout = GEN_LAYOUT_QWEN3MOE;
    op.n_shards = 1;
    gen_plan p;
    memset(&p, 0, sizeof p);
    int rc = gen_plan_build(&op, &p, err);
    if (rc) return rc;
    uint8_t *cfg = NULL, *tok = NULL;
    size_t ncfg = 0, ntok = 0;
    trit_writer *w = NULL;
    uint32_t *ids = calloc(p.n + 1, sizeof *ids), *unit_of = calloc(p.n + 1, sizeof *unit_of);
    trit_tensor_info *ti = calloc(p.n + 1, sizeof *ti);
    if (!ids || !unit_of || !ti) { rc = trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory"); goto out; }
    if ((rc = render(&op, 0, &cfg, &ncfg, err)) || (rc = render(&op, 1, &tok, &ntok, err))) goto out;
    trit_write_opts wo = {0};
    wo.overwrite = op.overwrite;
    if ((rc = trit_writer_open(out_path, &wo, &w, err))) goto out;
#define T(x) do { if ((rc = (x)) != TRIT_OK) goto out; } while (0)
    T(trit_writer_kv_str(w, "general.architecture", "qwen3moe", 8, err));
    T(trit_writer_kv_u32(w, "model.n_layer", op.n_layer, err));
    T(trit_writer_kv_u32(w, "model.n_embd", op.n_embd, err));
    T(trit_writer_kv_u32(w, "model.n_head", op.n_head, err));
    T(trit_writer_kv_u32(w, "model.n_head_kv", op.n_head_kv, err));
    T(trit_writer_kv_u32(w, "model.n_vocab", op.n_vocab, err));
    T(trit_writer_kv_u32(w, "model.n_ctx", op.n_ctx, err));
    T(trit_writer_kv_f32(w, "model.norm_eps", 1e-6f, err));
    T(trit_writer_kv_f32(w, "model.rope_theta", 1000000.0f, err));
    T(trit_writer_kv_str(w, "model.rope_layout", "neox", 4, err));
    T(trit_writer_kv_str(w, "model.hidden_act", "silu", 4, err));
    T(trit_writer_kv_u32(w, "moe.n_expert", op.n_expert, err));
    T(trit_writer_kv_u32(w, "moe.n_expert_used", op.n_expert_used, err));
    T(trit_writer_kv_u32(w, "moe.n_ff_expert", op.n_ff, err));
    T(trit_writer_kv_str(w, "moe.gating", "softmax", 7, err));
    T(trit_writer_kv_bool(w, "moe.norm_topk", 1, err));
    T(trit_writer_kv_str(w, "provenance.converter", "trit-gen " TRIT_VERSION_STRING, strlen("trit-gen " TRIT_VERSION_STRING), err));
    uint32_t s_cfg, s_tok;
    T(trit_writer_add_section(w, "config.json", TRIT_SECTION_CONFIG_JSON, &s_cfg, err));
    T(trit_writer_add_section(w, "tokenizer.json", TRIT_SECTION_TOKENIZER_JSON, &s_tok, err));
    /* one zstd unit per (layer, expert), declared in plan order */
    uint32_t n_units = 0;
    for (uint32_t i = 0; i < p.n; i++) {
        gen_tensor const *g = &p.t[i];
        unit_of[i] = TRIT_NONE32;
        if (g->expert == GEN_NONE) continue;
        for (uint32_t j = 0; j < i; j++)
            if (p.t[j].expert == g->expert && p.t[j].layer == g->layer) { unit_of[i] = unit_of[j]; break; }
        if (unit_of[i] == TRIT_NONE32) {
            T(trit_writer_add_unit(w, g->layer, g->expert, TRIT_STORAGE_ZSTD, &unit_of[i], err));
            n_units++;
        }
    }
    for (uint32_t i = 0; i < p.n; i++) {
        describe(&p.t[i], unit_of[i], &ti[i]);
        T(trit_writer_add_tensor(w, &ti[i], &ids[i], err));
    }
    for (uint32_t i = 0; i < p.n; i++)
        if (unit_of[i] == TRIT_NONE32) T(emit(w, ids[i], &p.t[i], &ti[i], err));
    for (uint32_t u = 0; u < n_units; u++) {
        T(trit_writer_unit_begin(w, u, err));
        for (uint32_t i = 0; i < p.n; i++)
            if (unit_of[i] == u) T(emit(w, ids[i], &p.t[i], &ti[i], err));
        T(trit_writer_unit_end(w, err));
    }
    T(trit_writer_write_section(w, s_cfg, cfg, ncfg, err));
    T(trit_writer_write_section(w, s_tok, tok, ntok, err));
#undef T
    rc = trit_writer_finish(w, err);
    w = NULL;
out:
    trit_writer_abort(w);
    gen_plan_release(&p);
    free(cfg);
    free(tok);
    free(ids);
    free(unit_of);
    free(ti);
    return rc;
}
