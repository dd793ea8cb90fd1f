/* test_cvt_safetensors_insp.c - `trit inspect` for safetensors: the insp_model rows, header and
 * metadata, MoE layer/expert columns and the --stats read path (BitNet logical view). */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "insp.h"
#include "test.h"
#include "test_cvt_safetensors.h"
#include "trit_cursor.h"

static const insp_tensor *row(const insp_model *m, const char *name)
{
    for (uint64_t i = 0; i < m->n_tensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0) return &m->tensors[i];
    return NULL;
}

TEST(src_safetensors_insp_fixture_overall)
{
    const char *fx = test_fixtures();
    char p[4096];
    struct stat st;
    if (!fx) SKIP("fixtures absent");
    snprintf(p, sizeof p, "%s/safetensors/hf-safetensors-samples/overall.safetensors", fx);
    if (stat(p, &st) != 0) SKIP("fixture absent");
    insp_model m;
    memset(&m, 0, sizeof m);
    trit_err err;
    CHECK_OK_E(insp_open_safetensors(p, &m, &err), &err);
    CHECK_STR(m.format, "safetensors");
    CHECK_STR(m.version, "");
    CHECK_EQ_U64(m.n_tensors, 9);
    CHECK_EQ_U64(m.kv_count, 1);
    CHECK_EQ_U64(m.file_bytes, 702);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(m.metadata, "test");
    CHECK(cJSON_IsString(t) && strcmp(t->valuestring, "a") == 0);
    CHECK(cJSON_GetObjectItemCaseSensitive(m.metadata, "config") == NULL);
    const cJSON *hs = cJSON_GetObjectItemCaseSensitive(m.header, "header_size");
    CHECK(cJSON_IsNumber(hs) && hs->valuedouble == 526);
    const cJSON *sh = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(m.header, "shards"), 0);
    CHECK(sh && strcmp(cJSON_GetObjectItemCaseSensitive(sh, "file")->valuestring, "overall.safetensors") == 0);
    const insp_tensor *f = row(&m, "f"), *h = row(&m, "H");
    CHECK(f && h);
    if (f && h) {
        CHECK_STR(f->type, "F32");
        CHECK_STR(h->type, "U16");
        CHECK_EQ_U64(f->n_dims, 1);
        CHECK_EQ_U64(f->dims[0], 6);
        CHECK_EQ_U64(f->nbytes, 24);
        CHECK_EQ_U64(f->offset, 642);   /* 534 + 108 */
        CHECK_EQ_INT(f->file_index, 0);
        CHECK_EQ_INT(f->readable, 1);
        CHECK(f->layer == TRIT_NONE32 && f->expert == TRIT_NONE32);
        float v[6];
        CHECK(m.read_f32 != NULL);
        CHECK_OK_E(m.read_f32(m.ctx, (uint64_t)(f - m.tensors), 0, 6, v, &err), &err);
        CHECK(v[0] == -3.0f && v[5] == 2.0f);
    }
    insp_model_free(&m);
}

TEST(src_safetensors_insp_bitnet_logical_view)
{
    /* Logical [8, 4] ternary, packed U8 [2, 4], weight_scale BF16 4.0 (divide). */
    int8_t L[8][4];
    uint8_t P[2][4] = {{0}};
    for (int r = 0; r < 8; r++)
        for (int c = 0; c < 4; c++) {
            L[r][c] = (int8_t)((r + c) % 3 - 1);
            P[r % 2][c] |= (uint8_t)((L[r][c] + 1) << (2 * (r / 2)));
        }
    const char *dir = stt_dir("insp_bitnet");
    stt_writer *w = malloc(sizeof *w);
    uint8_t sc[2], emb[8] = {0};
    trit_store_le16(sc, 0x4080);   /* bf16 4.0 */
    stt_init(w, "{\"format\":\"pt\"}");
    stt_add(w, "model.embed_tokens.weight", "BF16", "[2, 2]", emb, 8);
    stt_add(w, "model.layers.3.self_attn.q_proj.weight", "U8", "[2, 4]", P, 8);
    stt_add(w, "model.layers.3.self_attn.q_proj.weight_scale", "BF16", "[1]", sc, 2);
    CHECK_EQ_INT(stt_finish_file(w, test_path(dir, "model.safetensors")), 0);
    free(w);
    static const char cfg[] = "{\"architectures\":[\"BitNetForCausalLM\"],\"quantization_config\":"
                              "{\"quant_method\":\"bitnet\",\"linear_class\":\"bitlinear\"}}";
    CHECK_EQ_INT(test_write_file(test_path(dir, "config.json"), cfg, strlen(cfg)), 0);

    insp_model m;
    memset(&m, 0, sizeof m);
    trit_err err;
    CHECK_OK_E(insp_open_safetensors(dir, &m, &err), &err);
    const insp_tensor *q = row(&m, "model.layers.3.self_attn.q_proj.weight");
    const insp_tensor *s = row(&m, "model.layers.3.self_attn.q_proj.weight_scale");
    CHECK(q && s);
    if (q && s) {
        CHECK_STR(q->type, "U8(bitnet-packed)");
        CHECK_EQ_U64(q->n_dims, 2);
        CHECK_EQ_U64(q->dims[0], 8);
        CHECK_EQ_U64(q->dims[1], 4);
        CHECK_EQ_U64(q->nbytes, 8);
        CHECK_EQ_U64(q->layer, 3);
        CHECK_EQ_INT(q->readable, 1);
        CHECK_STR(s->type, "BF16");
        float v[32];
        CHECK_OK_E(m.read_f32(m.ctx, (uint64_t)(q - m.tensors), 0, 32, v, &err), &err);
        for (int i = 0; i < 32; i++)
            if (v[i] != (float)(&L[0][0])[i] / 4.0f)
                test_fail_(__FILE__, __LINE__, "element %d = %g, want %g", i, (double)v[i],
                           (double)(&L[0][0])[i] / 4.0);
        /* The statistics see a ternary tensor with one magnitude. */
        insp_stats st;
        CHECK_OK_E(insp_tensor_stats(&m, (uint64_t)(q - m.tensors), &st, &err), &err);
        CHECK_EQ_INT(st.ternary, 1);
        CHECK_EQ_U64(st.n, 32);
    }
    const cJSON *bp = cJSON_GetObjectItemCaseSensitive(m.header, "bitnet_packed_tensors");
    CHECK(cJSON_IsNumber(bp) && bp->valuedouble == 1);
    const cJSON *qz = cJSON_GetObjectItemCaseSensitive(m.header, "quantization");
    CHECK(cJSON_IsString(qz) && strcmp(qz->valuestring, "bitnet") == 0);
    const cJSON *cf = cJSON_GetObjectItemCaseSensitive(m.metadata, "config");
    CHECK(cJSON_IsObject(cf) && cJSON_GetObjectItemCaseSensitive(cf, "quantization_config"));
    const cJSON *side = cJSON_GetObjectItemCaseSensitive(m.header, "side_files");
    CHECK(cJSON_GetArraySize(side) == 1 && !strcmp(cJSON_GetArrayItem(side, 0)->valuestring, "config.json"));
    insp_model_free(&m);
}

TEST(src_safetensors_insp_moe_rows_and_shards)
{
    const char *dir = stt_dir("insp_moe");
    stt_writer *w = malloc(sizeof *w);
    uint8_t d[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    stt_init(w, NULL);
    stt_add(w, "model.layers.2.block_sparse_moe.experts.5.w1.weight", "U8", "[2]", d, 2);
    stt_add(w, "model.layers.2.block_sparse_moe.gate.weight", "U8", "[2]", d + 2, 2);
    CHECK_EQ_INT(stt_finish_file(w, test_path(dir, "model-00001-of-00002.safetensors")), 0);
    stt_init(w, NULL);
    stt_add(w, "model.layers.7.mlp.experts.11.gate_proj.weight", "U8", "[2]", d + 4, 2);
    stt_add(w, "model.layers.7.mlp.shared_experts.up_proj.weight", "U8", "[2]", d + 6, 2);
    CHECK_EQ_INT(stt_finish_file(w, test_path(dir, "model-00002-of-00002.safetensors")), 0);
    free(w);
    static const char ix[] =
        "{\"metadata\":{\"total_size\":8},\"weight_map\":{"
        "\"model.layers.2.block_sparse_moe.experts.5.w1.weight\":\"model-00001-of-00002.safetensors\","
        "\"model.layers.2.block_sparse_moe.gate.weight\":\"model-00001-of-00002.safetensors\","
        "\"model.layers.7.mlp.experts.11.gate_proj.weight\":\"model-00002-of-00002.safetensors\","
        "\"model.layers.7.mlp.shared_experts.up_proj.weight\":\"model-00002-of-00002.safetensors\"}}";
    CHECK_EQ_INT(test_write_file(test_path(dir, "model.safetensors.index.json"), ix, strlen(ix)), 0);

    insp_model m;
    memset(&m, 0, sizeof m);
    trit_err err;
    CHECK_OK_E(insp_open_safetensors(dir, &m, &err), &err);
    const insp_tensor *a = row(&m, "model.layers.2.block_sparse_moe.experts.5.w1.weight");
    const insp_tensor *g = row(&m, "model.layers.2.block_sparse_moe.gate.weight");
    const insp_tensor *b = row(&m, "model.layers.7.mlp.experts.11.gate_proj.weight");
    const insp_tensor *s = row(&m, "model.layers.7.mlp.shared_experts.up_proj.weight");
    CHECK(a && g && b && s);
    if (a && g && b && s) {
        CHECK(a->layer == 2 && a->expert == 5 && a->file_index == 0);
        CHECK(g->layer == 2 && g->expert == TRIT_NONE32);
        CHECK(b->layer == 7 && b->expert == 11 && b->file_index == 1);
        CHECK(s->layer == 7 && s->expert == TRIT_NONE32);
        float v[2];
        CHECK_OK_E(m.read_f32(m.ctx, (uint64_t)(b - m.tensors), 0, 2, v, &err), &err);
        CHECK(v[0] == 5.0f && v[1] == 6.0f);
    }
    const cJSON *idx = cJSON_GetObjectItemCaseSensitive(m.header, "index");
    CHECK(cJSON_IsString(idx) && !strcmp(idx->valuestring, "model.safetensors.index.json"));
    CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(m.header, "shards")), 2);
    insp_model_free(&m);
}

TEST(src_safetensors_insp_refusal_leaves_model_empty)
{
    const char *dir = stt_dir("insp_missing");
    static const char ix[] = "{\"weight_map\":{\"x\":\"model-00001-of-00001.safetensors\"}}";
    CHECK_EQ_INT(test_write_file(test_path(dir, "model.safetensors.index.json"), ix, strlen(ix)), 0);
    insp_model m;
    memset(&m, 0, sizeof m);
    trit_err err;
    trit_err_clear(&err);
    CHECK_EQ_INT(insp_open_safetensors(dir, &m, &err), TRIT_E_NOTFOUND);
    CHECK(strstr(err.where, "model-00001-of-00001.safetensors") != NULL);
    CHECK(m.n_tensors == 0 && m.tensors == NULL && m.ctx == NULL && m.metadata == NULL);
    insp_model_free(&m);
}

TEST(src_safetensors_insp_bad_bitnet_scale_is_a_warning)
{
    /* U8 weight + a two-element weight_scale: not a valid pairing. inspect still opens the
     * file, shows the raw U8 row and says why in header.bitnet_warnings. */
    const char *dir = stt_dir("insp_bitnet_bad");
    stt_writer *w = malloc(sizeof *w);
    uint8_t pk[4] = {0x55, 0x55, 0x55, 0x55}, sc[4] = {0x80, 0x40, 0x80, 0x40};
    stt_init(w, NULL);
    stt_add(w, "l.weight", "U8", "[2, 2]", pk, 4);
    stt_add(w, "l.weight_scale", "BF16", "[2]", sc, 4);
    CHECK_EQ_INT(stt_finish_file(w, test_path(dir, "model.safetensors")), 0);
    free(w);
    insp_model m;
    memset(&m, 0, sizeof m);
    trit_err err;
    CHECK_OK_E(insp_open_safetensors(dir, &m, &err), &err);
    const insp_tensor *r = row(&m, "l.weight");
    CHECK(r && !strcmp(r->type, "U8") && r->dims[0] == 2 && r->dims[1] == 2);
    const cJSON *wa = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(m.header, "bitnet_warnings"), 0);
    CHECK(cJSON_IsString(wa) && strstr(wa->valuestring, "weight_scale") != NULL);
    insp_model_free(&m);
}
