/* test_model_table.c - the one model-description table (format/trit_model.h): every HF name of
 * a row maps to the row's canonical name, every canonical name to itself, and the consumers
 * (convert's roles, inspect's names, verify's shapes) read the same rows. */
#include <stdio.h>
#include <string.h>

#include "cvt_arch.h"
#include "insp_norm.h"
#include "test.h"
#include "trit_model.h"

/* Instantiate a pattern: '#' -> expert. */
static void inst(const char *pat, uint32_t expert, char *out, size_t cap)
{
    size_t o = 0;
    for (const char *p = pat; *p && o + 12 < cap; p++) {
        if (*p == '#') o += (size_t)snprintf(out + o, cap - o, "%u", expert);
        else out[o++] = *p;
    }
    out[o] = '\0';
}

TEST(model_table_every_alias_maps_to_its_row)
{
    size_t n;
    const trit_mt_tensor *t = trit_mt_tensors(&n);
    CHECK(n > 20);
    for (size_t i = 0; i < n; i++) {
        char canon[160], want[200], got[200], name[200];
        if (t[i].name) inst(t[i].name, 7, canon, sizeof canon);
        if (t[i].name) {
            if (t[i].layer) snprintf(want, sizeof want, "blk.3.%s", canon);
            else snprintf(want, sizeof want, "%s", canon);
            trit_mt_match m;
            CHECK_EQ_INT(trit_mt_map(want, TRIT_MT_CANON, got, sizeof got, &m), 1);
            CHECK_STR(got, want);
            CHECK(m.row == &t[i]);
            CHECK_EQ_INT(m.role, t[i].role);
            CHECK_EQ_U64(m.layer, t[i].layer ? 3u : TRIT_NONE32);
            CHECK_EQ_U64(m.expert, t[i].role == TRIT_MT_EXPERT ? 7u : TRIT_NONE32);
        }
        for (size_t k = 0; k < 4 && t[i].hf[k]; k++) {
            char hf[160];
            inst(t[i].hf[k], 7, hf, sizeof hf);
            if (t[i].layer) snprintf(name, sizeof name, "model.layers.3.%s", hf);
            else snprintf(name, sizeof name, "%s", hf);
            trit_mt_match m;
            CHECK_EQ_INT(trit_mt_map(name, TRIT_MT_HF, got, sizeof got, &m), 1);
            CHECK(m.row == &t[i]);
            if (t[i].name) CHECK_STR(got, want);
            else CHECK_STR(got, "");
        }
    }
}

TEST(model_table_styles_and_unknowns)
{
    char out[160];
    trit_mt_match m;
    /* a style not asked for is not matched */
    CHECK_EQ_INT(trit_mt_map("model.layers.0.self_attn.q_proj.weight", TRIT_MT_CANON, out, sizeof out, &m), 0);
    CHECK_STR(out, "model.layers.0.self_attn.q_proj.weight");
    CHECK_EQ_INT(trit_mt_map("blk.0.attn_q.weight", TRIT_MT_HF, out, sizeof out, &m), 0);
    /* VLM prefixes of the language model */
    CHECK_EQ_INT(trit_mt_map("model.language_model.layers.2.mlp.down_proj.weight", TRIT_MT_HF, out, sizeof out, &m), 1);
    CHECK_STR(out, "blk.2.ffn_down.weight");
    /* unknown module inside a layer: unknown, the layer number kept */
    CHECK_EQ_INT(trit_mt_map("blk.4.attn_qkv.weight", TRIT_MT_CANON, out, sizeof out, &m), 0);
    CHECK_EQ_U64(m.layer, 4u);
    CHECK_STR(out, "blk.4.attn_qkv.weight");
    /* expert numbers are bounded */
    CHECK_EQ_INT(trit_mt_map("blk.0.ffn_up.4294967295.weight", TRIT_MT_CANON, out, sizeof out, &m), 0);
    CHECK_EQ_INT(trit_mt_map("blk.0.ffn_up..weight", TRIT_MT_CANON, out, sizeof out, &m), 0);
    /* scale variants: GGUF BitNet {proj}.scale, HF weight_scale; not on norms */
    CHECK_EQ_INT(trit_mt_map("blk.1.ffn_down.scale", TRIT_MT_CANON, out, sizeof out, &m), 1);
    CHECK_EQ_INT(m.role, TRIT_MT_SCALE);
    CHECK_EQ_INT(trit_mt_map("blk.1.attn_norm.scale", TRIT_MT_CANON, out, sizeof out, &m), 0);
    CHECK_EQ_INT(trit_mt_map("model.layers.1.self_attn.o_proj.weight_scale", TRIT_MT_HF, out, sizeof out, &m), 1);
    CHECK_STR(out, "blk.1.attn_output.weight_scale");
    /* loose (inspect): a known module with another suffix (attn_norm.bias is a row since
     * PhiMoE's LayerNorm; a sub-norm has none) */
    CHECK_EQ_INT(trit_mt_map("blk.1.ffn_sub_norm.bias", TRIT_MT_CANON, out, sizeof out, &m), 0);
    CHECK_EQ_INT(trit_mt_map("blk.1.ffn_sub_norm.bias", TRIT_MT_CANON | TRIT_MT_LOOSE, out, sizeof out, &m), 1);
    CHECK_EQ_INT(m.role, TRIT_MT_NAMED);
    CHECK_EQ_INT(trit_mt_map("blk.1.attn_norm.bias", TRIT_MT_CANON, out, sizeof out, &m), 1);
    CHECK_EQ_INT(m.role, TRIT_MT_FLOAT);
}

TEST(model_table_consumers_agree)
{
    /* convert and inspect map an HF name to the same canonical name */
    static const char *const names[] = {
        "model.layers.5.block_sparse_moe.experts.3.w2.weight", "model.layers.0.mlp.shared_experts.up_proj.weight",
        "model.layers.2.mlp.gate.e_score_correction_bias", "lm_head.weight", "model.layers.1.self_attn.inner_attn_ln.weight",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        cvt_name cn;
        char canon[160];
        CHECK_EQ_INT(cvt_arch_map_name(names[i], 0, &cn), 0);
        CHECK_EQ_INT(insp_canon_name(names[i], canon, sizeof canon, NULL, NULL), 1);
        CHECK_STR(cn.name, canon);
    }
    /* convert refuses what the table names but nothing computes, and what it does not know */
    cvt_name cn;
    CHECK(cvt_arch_map_name("blk.0.ffn_gate_up_exps.weight", 1, &cn) != 0);
    /* llama.cpp's split MLA tensors (attn_k_b transposed per head): not the container's */
    CHECK(cvt_arch_map_name("blk.0.attn_k_b.weight", 1, &cn) != 0);
    /* DeepSeek's multi-head latent attention: projections of the table */
    CHECK_EQ_INT(cvt_arch_map_name("model.layers.0.self_attn.kv_a_proj_with_mqa.weight", 0, &cn), 0);
    CHECK_STR(cn.name, "blk.0.attn_kv_a_mqa.weight");
    CHECK_EQ_INT(cn.role, CVT_ROLE_PROJ);
    CHECK_EQ_INT(cvt_arch_map_name("model.layers.1.self_attn.q_a_layernorm.weight", 0, &cn), 0);
    CHECK_STR(cn.name, "blk.1.attn_q_a_norm.weight");
    CHECK_EQ_INT(cn.role, CVT_ROLE_FLOAT);
    /* a GGUF stack becomes its stem, split per expert by the converter */
    CHECK_EQ_INT(cvt_arch_map_name("blk.3.ffn_down_exps.weight", 1, &cn), 0);
    CHECK_EQ_INT(cn.role, CVT_ROLE_EXPERT_STACK);
    CHECK_STR(cn.name, "blk.3.ffn_down");
    /* verify's shapes come from the rows: OLMoE normalizes q over the whole projection */
    const trit_mt_tensor *r = trit_mt_find("attn_q_norm.weight", 1);
    CHECK(r && r->shape && strstr(r->shape, "Q"));
    CHECK(trit_mt_find("ffn_up.12.weight", 1) && trit_mt_find("ffn_up.12.weight", 1)->role == TRIT_MT_EXPERT);
    CHECK(trit_mt_find("ffn_up.12.weight", 0) == NULL);
}
