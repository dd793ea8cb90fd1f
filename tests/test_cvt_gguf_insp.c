/* test_cvt_gguf_insp.c - insp_open_gguf(): the inspect model built from a GGUF file, checked
 * field by field (the printer is tested elsewhere). */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "src_gguf.h"
#include "src_ggml_types.h"
#include "insp.h"
#include "test.h"
#include "test_cvt_gguf_build.h"

TEST(src_gguf_insp_small)
{
    tg_buf b = {0};
    tg_small_off o;
    tg_small(&b, 3, NULL, &o);
    const char *path = test_path(test_tmpdir(), "insp_small.gguf");
    CHECK(test_write_file(path, b.p, b.len) == 0);
    insp_model m;
    trit_err err;
    memset(&m, 0, sizeof m);
    CHECK_OK_E(insp_open_gguf(path, &m, &err), &err);
    CHECK_STR(m.format, "gguf");
    CHECK_STR(m.version, "3");
    CHECK_STR(m.path, path);
    CHECK_EQ_U64(m.kv_count, 18);
    CHECK_EQ_U64(m.file_bytes, b.len);
    CHECK(m.metadata && cJSON_IsObject(m.metadata));
    if (m.metadata) {
        CHECK_EQ_INT(cJSON_GetArraySize(m.metadata), 18);
        cJSON *x = cJSON_GetObjectItemCaseSensitive(m.metadata, "t.u8");
        CHECK(cJSON_IsNumber(x) && x->valuedouble == 200);
        x = cJSON_GetObjectItemCaseSensitive(m.metadata, "t.i64");
        CHECK(cJSON_IsString(x) && strcmp(x->valuestring, "-9000000000000000000") == 0);
        x = cJSON_GetObjectItemCaseSensitive(m.metadata, "t.bool");
        CHECK(cJSON_IsTrue(x));
        x = cJSON_GetObjectItemCaseSensitive(m.metadata, "t.str");
        CHECK(cJSON_IsString(x) && strcmp(x->valuestring, "h\xc3\xa9llo") == 0);
        x = cJSON_GetObjectItemCaseSensitive(m.metadata, "t.f32arr");
        CHECK(cJSON_IsArray(x) && cJSON_GetArraySize(x) == 3);
        /* 20 tokens > 16: summarised with the first 8 */
        x = cJSON_GetObjectItemCaseSensitive(m.metadata, "tokenizer.ggml.tokens");
        CHECK(cJSON_IsObject(x));
        if (cJSON_IsObject(x)) {
            CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(x, "type")), "array");
            CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(x, "elem_type")), "string");
            CHECK(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(x, "count")) == 20);
            cJSON *head = cJSON_GetObjectItemCaseSensitive(x, "head");
            CHECK(cJSON_GetArraySize(head) == 8);
            CHECK_STR(cJSON_GetStringValue(cJSON_GetArrayItem(head, 7)), "tok7");
        }
        /* nested arrays stay arrays of arrays */
        x = cJSON_GetObjectItemCaseSensitive(m.metadata, "t.nested");
        CHECK(cJSON_IsArray(x) && cJSON_GetArraySize(x) == 3);
        CHECK(cJSON_GetArraySize(cJSON_GetArrayItem(x, 0)) == 2);
    }
    CHECK(m.header && cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(m.header, "alignment")) == 64);
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(m.header, "data_offset")) == (double)o.data);
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(m.header, "split_count")) == 1);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(m.header, "files")) == 1);
    CHECK(cJSON_GetObjectItemCaseSensitive(m.header, "moe") == NULL);

    CHECK_EQ_U64(m.n_tensors, 3);
    if (m.n_tensors == 3) {
        insp_tensor *t = &m.tensors[2];
        CHECK_STR(t->name, "blk.1.t2.weight");
        CHECK_STR(t->type, "Q8_0");
        CHECK_EQ_U64(t->n_dims, 2);
        CHECK(t->dims[0] == 2 && t->dims[1] == 32);           /* outermost first */
        CHECK(t->has_ne && t->ne_native[0] == 32 && t->ne_native[1] == 2);
        CHECK_EQ_U64(t->nbytes, 68);
        CHECK_EQ_U64(t->offset, o.data + 128);
        CHECK_EQ_U64(t->layer, 1);
        CHECK_EQ_U64(t->expert, TRIT_NONE32);
        CHECK_EQ_U64(m.tensors[0].layer, TRIT_NONE32);
        CHECK(t->readable);
        float f[4];
        CHECK(m.read_f32 != NULL);
        if (m.read_f32) {
            CHECK_OK_E(m.read_f32(m.ctx, 2, 30, 4, f, &err), &err);
            CHECK(f[0] == 7.0f && f[1] == 7.5f && f[2] == 8.0f && f[3] == 7.5f);
        }
    }
    insp_model_free(&m);
    tg_free(&b);

    /* a refused file leaves the model empty and says why */
    memset(&m, 0, sizeof m);
    CHECK_EQ_INT(insp_open_gguf(test_path(test_tmpdir(), "nope.gguf"), &m, &err), TRIT_E_NOTFOUND);
    CHECK(m.tensors == NULL && m.metadata == NULL && m.ctx == NULL);
}

TEST(src_gguf_insp_moe)
{
    tg_buf b = {0};
    uint64_t const ne3[3] = {32, 8, 4}, ne2[2] = {32, 4}, ne_old[2] = {32, 8};
    tg_header(&b, 3, 3, 3);
    tg_kv_str(&b, "general.architecture", "qwen3moe");
    tg_kv_u32(&b, "qwen3moe.expert_count", 4);
    tg_kv_u32(&b, "qwen3moe.expert_used_count", 2);
    tg_tinfo(&b, "blk.3.ffn_gate_exps.weight", 3, ne3, SRC_GGML_F16, 0, NULL);
    tg_tinfo(&b, "blk.3.ffn_gate_inp.weight", 2, ne2, SRC_GGML_F32, 2048, NULL);
    tg_tinfo(&b, "blk.4.ffn_up.2.weight", 2, ne_old, SRC_GGML_F16, 2560, NULL);
    tg_pad(&b, 32);
    tg_zero(&b, 2560 + 512);
    const char *path = test_path(test_tmpdir(), "insp_moe.gguf");
    CHECK(test_write_file(path, b.p, b.len) == 0);
    insp_model m;
    trit_err err;
    memset(&m, 0, sizeof m);
    CHECK_OK_E(insp_open_gguf(path, &m, &err), &err);
    cJSON *moe = cJSON_GetObjectItemCaseSensitive(m.header, "moe");
    CHECK(cJSON_IsObject(moe));
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(moe, "expert_tensors")) == 1);
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(moe, "per_expert_tensors")) == 1);
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(moe, "expert_count")) == 4);
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(moe, "expert_used_count")) == 2);
    if (m.n_tensors == 3) {
        CHECK(m.tensors[0].dims[0] == 4 && m.tensors[0].dims[1] == 8 && m.tensors[0].dims[2] == 32);
        CHECK_EQ_U64(m.tensors[0].layer, 3);
        CHECK_EQ_U64(m.tensors[0].expert, TRIT_NONE32);
        CHECK_EQ_U64(m.tensors[2].layer, 4);
        CHECK_EQ_U64(m.tensors[2].expert, 2);
    }
    insp_model_free(&m);
    tg_free(&b);
}

TEST(src_gguf_insp_fixture_stories)
{
    const char *fx = test_fixtures();
    if (!fx) SKIP("fixtures absent");
    insp_model m;
    trit_err err;
    memset(&m, 0, sizeof m);
    CHECK_OK_E(insp_open_gguf(test_path(fx, "gguf/stories260K.gguf"), &m, &err), &err);
    CHECK_EQ_U64(m.n_tensors, 48);
    CHECK_EQ_U64(m.kv_count, 19);
    cJSON *tok = cJSON_GetObjectItemCaseSensitive(m.metadata, "tokenizer.ggml.tokens");
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(tok, "count")) == 512);
    char *js = cJSON_PrintUnformatted(m.metadata);
    cJSON *back = js ? cJSON_Parse(js) : NULL;
    CHECK(back != NULL);   /* valid JSON */
    cJSON_Delete(back);
    free(js);
    insp_model_free(&m);
}
