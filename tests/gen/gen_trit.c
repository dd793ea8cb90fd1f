/*
 * gen_trit.c - the `trit` layout: a .trit container written directly through libtrit from the
 * Qwen3-MoE plan (same tensors and values as `trit-gen qwen3moe` with the same options).
 *
 * It exists so `make demo` and the tests have a real MoE container that the runner executes
 * without the converter: tensors carry the canonical names of spec/container.md 10.2 and the
 * metadata keys of 10.1. Element values (and the seeds they come from) are those of the HF plan,
 * so a conversion of `trit-gen qwen3moe` must give the same numbers. Ternary tensors become t2
 * with their exact scales (per tensor or per group), floats become f16 (embeddings, router,
 * output) or f32 (norms), and each expert's gate/up/down become one zstd unit.
 * config.json and tokenizer.json travel as sections.
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

/* Canonical name (spec 10.2) of a Qwen3-MoE HF tensor name into buf; 0 if it has none. */
static int canonical_name(const char *hf, char *buf, size_t cap)
{
    static const struct { const char *hf, *canon; } fixed[] = {
        {"model.embed_tokens.weight", "token_embd.weight"},
        {"model.norm.weight", "output_norm.weight"},
        {"lm_head.weight", "output.weight"},
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (!strcmp(hf, fixed[i].hf)) return snprintf(buf, cap, "%s", fixed[i].canon) > 0;
    static const struct { const char *hf, *canon; } per_layer[] = {
        {"self_attn.q_proj.weight", "attn_q.weight"},     {"self_attn.k_proj.weight", "attn_k.weight"},
        {"self_attn.v_proj.weight", "attn_v.weight"},     {"self_attn.o_proj.weight", "attn_output.weight"},
        {"self_attn.q_norm.weight", "attn_q_norm.weight"}, {"self_attn.k_norm.weight", "attn_k_norm.weight"},
        {"input_layernorm.weight", "attn_norm.weight"},   {"post_attention_layernorm.weight", "ffn_norm.weight"},
        {"mlp.gate.weight", "ffn_gate_inp.weight"},
    };
    unsigned L, E;
    int n = 0;
    if (sscanf(hf, "model.layers.%u.%n", &L, &n) != 1 || n <= 0) return 0;
    const char *rest = hf + n;
    for (size_t i = 0; i < sizeof per_layer / sizeof per_layer[0]; i++)
        if (!strcmp(rest, per_layer[i].hf)) return snprintf(buf, cap, "blk.%u.%s", L, per_layer[i].canon) > 0;
    char proj[16];
    if (sscanf(rest, "mlp.experts.%u.%15[a-z]_proj.weight", &E, proj) == 2)
        return snprintf(buf, cap, "blk.%u.ffn_%s.%u.weight", L, proj, E) > 0;
    return 0;
}

static void describe(const gen_tensor *g, const char *name, uint32_t unit, trit_tensor_info *t)
{
    memset(t, 0, sizeof *t);
    t->name = name;
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
    char (*names)[96] = calloc(p.n + 1, sizeof *names);
    if (!ids || !unit_of || !ti || !names) { rc = trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory"); goto out; }
    if ((rc = render(&op, 0, &cfg, &ncfg, err)) || (rc = render(&op, 1, &tok, &ntok, err))) goto out;
    trit_write_opts wo = {0};
    wo.overwrite = op.overwrite;
    if ((rc = trit_writer_open(out_path, &wo, &w, err))) goto out;
#define T(x) do { if ((rc = (x)) != TRIT_OK) goto out; } while (0)
    /* spec 10.1: everything the runner needs, nothing implied by the architecture name */
#define S(k, v) T(trit_writer_kv_str(w, k, v, strlen(v), err))
    S("general.architecture", "qwen3moe");
    S("general.name", "trit-gen qwen3moe");
    T(trit_writer_kv_u32(w, "model.n_layer", op.n_layer, err));
    T(trit_writer_kv_u32(w, "model.n_embd", op.n_embd, err));
    T(trit_writer_kv_u32(w, "model.n_ff", 0, err));
    T(trit_writer_kv_u32(w, "model.n_head", op.n_head, err));
    T(trit_writer_kv_u32(w, "model.n_head_kv", op.n_head_kv, err));
    T(trit_writer_kv_u32(w, "model.head_dim", gen_head_dim(&op), err));
    T(trit_writer_kv_u32(w, "model.n_vocab", op.n_vocab, err));
    T(trit_writer_kv_u32(w, "model.n_ctx", op.n_ctx, err));
    T(trit_writer_kv_f32(w, "model.norm_eps", 1e-6f, err));
    T(trit_writer_kv_f32(w, "model.rope_theta", 1000000.0f, err));
    T(trit_writer_kv_u32(w, "model.rope_dim", gen_head_dim(&op), err));
    S("model.rope_layout", "neox");
    S("model.hidden_act", "silu");
    T(trit_writer_kv_bool(w, "model.tied_embeddings", 0, err));
    T(trit_writer_kv_u32(w, "model.bos_token_id", gen_tok_bos(op.n_vocab), err));
    T(trit_writer_kv_u32(w, "model.eos_token_id", gen_tok_eos(op.n_vocab), err));
    S("model.act_quant", "none");
    T(trit_writer_kv_u32(w, "moe.n_expert", op.n_expert, err));
    T(trit_writer_kv_u32(w, "moe.n_expert_used", op.n_expert_used, err));
    T(trit_writer_kv_u32(w, "moe.n_ff_expert", op.n_ff, err));
    S("moe.gating", "softmax");
    T(trit_writer_kv_bool(w, "moe.norm_topk", 1, err));
    T(trit_writer_kv_f32(w, "moe.routed_scale", 1.0f, err));
    T(trit_writer_kv_u32(w, "moe.n_shared_expert", 0, err));
    S("moe.shared_gate", "none");
    T(trit_writer_kv_u32(w, "moe.first_dense_layers", 0, err));
    S("tokenizer.kind", "bpe");
#undef S
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
        if (!canonical_name(p.t[i].name, names[i], sizeof names[i])) {
            rc = trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, p.t[i].name, "no canonical name for this tensor");
            goto out;
        }
        describe(&p.t[i], names[i], unit_of[i], &ti[i]);
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
    free(names);
    return rc;
}
