/* test_cvt_safetensors_index.c - sharded checkpoints (model.safetensors.index.json), directory
 * resolution and side files of the safetensors reader. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "src_safetensors.h"
#include "test.h"
#include "test_cvt_safetensors.h"
#include "trit_cursor.h"

#define S1 "model-00001-of-00002.safetensors"
#define S2 "model-00002-of-00002.safetensors"

/* Shard 1 holds a (F32 [2] = 1, 2) and c (U8 [3]); shard 2 holds b (I16 [3] = -1, 0, 7) and,
 * with dup_a, a second "a". */
static const char *make_sharded(const char *sub, const char *index_json, int write_s2, int dup_a)
{
    const char *dir = stt_dir(sub);
    stt_writer *w = malloc(sizeof *w);
    uint8_t a[8], b[6], c[3] = {9, 8, 7};
    float const av[2] = {1.0f, 2.0f};
    memcpy(a, av, 8);   /* the test host is little-endian like the format (checked below) */
    trit_store_le16(b, 0xFFFF);
    trit_store_le16(b + 2, 0);
    trit_store_le16(b + 4, 7);
    stt_init(w, "{\"format\":\"pt\"}");
    stt_add(w, "a", "F32", "[2]", a, 8);
    stt_add(w, "c", "U8", "[3]", c, 3);
    CHECK_EQ_INT(stt_finish_file(w, test_path(dir, S1)), 0);
    if (write_s2) {
        stt_init(w, "{\"format\":\"pt\",\"shard\":\"2\"}");
        stt_add(w, "b", "I16", "[3]", b, 6);
        if (dup_a) stt_add(w, "a", "F32", "[2]", a, 8);
        CHECK_EQ_INT(stt_finish_file(w, test_path(dir, S2)), 0);
    }
    free(w);
    CHECK_EQ_INT(test_write_file(test_path(dir, "model.safetensors.index.json"), index_json,
                                 strlen(index_json)), 0);
    return dir;
}

static const char good_index[] =
    "{\"metadata\":{\"total_size\":17,\"total_parameters\":8},\"weight_map\":{"
    "\"a\":\"" S1 "\",\"b\":\"" S2 "\",\"c\":\"" S1 "\"}}";

TEST(src_st_index_sharded_ok)
{
    uint32_t const one = 1;
    uint8_t le;
    memcpy(&le, &one, 1);
    CHECK_EQ_INT(le, 1);
    const char *dir = make_sharded("sharded_ok", good_index, 1, 0);
    trit_err err;
    for (int via = 0; via < 2; via++) {
        src_st *h = NULL;
        CHECK_OK_E(src_st_open(via ? test_path(dir, "model.safetensors.index.json") : dir, NULL, &h, &err), &err);
        if (!h) continue;
        CHECK_EQ_U64(src_st_n_tensors(h), 3);
        CHECK_EQ_U64(src_st_n_shards(h), 2);
        CHECK_STR(src_st_shard(h, 0)->name, S1);
        CHECK_STR(src_st_shard(h, 1)->name, S2);
        CHECK_EQ_U64(src_st_shard(h, 0)->n_tensors, 2);
        CHECK_EQ_U64(src_st_shard(h, 1)->n_tensors, 1);
        int64_t const b = src_st_find(h, "b");
        CHECK(b >= 0);
        CHECK_EQ_U64(src_st_tensor_at(h, (uint32_t)b)->shard, 1);
        CHECK_EQ_U64(src_st_tensor_at(h, (uint32_t)src_st_find(h, "c"))->shard, 0);
        float v[3];
        CHECK_OK_E(src_st_to_f32(h, (uint32_t)b, 0, 3, v, &err), &err);
        CHECK(v[0] == -1.0f && v[1] == 0.0f && v[2] == 7.0f);
        CHECK_OK_E(src_st_to_f32(h, (uint32_t)src_st_find(h, "a"), 0, 2, v, &err), &err);
        CHECK(v[0] == 1.0f && v[1] == 2.0f);
        uint64_t total = 0;
        CHECK_OK_E(src_st_declared_total_size(h, &total), &err);
        CHECK_EQ_U64(total, 17);
        CHECK_EQ_U64(src_st_data_size(h), 17);
        CHECK(src_st_index_path(h) && strstr(src_st_index_path(h), "model.safetensors.index.json"));
        const cJSON *im = src_st_index_meta(h);
        CHECK(cJSON_GetObjectItemCaseSensitive(im, "total_parameters") != NULL);
        /* __metadata__ merged over shards, first shard wins. */
        CHECK_EQ_U64(src_st_n_meta(h), 2);
        CHECK_STR(src_st_meta_get(h, "format"), "pt");
        CHECK_STR(src_st_meta_get(h, "shard"), "2");
        src_st_close(h);
    }
}

TEST(src_st_index_missing_shard_named)
{
    const char *dir = make_sharded("sharded_missing", good_index, 0, 0);
    trit_err err;
    src_st *h = NULL;
    CHECK_EQ_INT(src_st_open(dir, NULL, &h, &err), TRIT_E_NOTFOUND);
    CHECK(h == NULL);
    CHECK_STR(err.where, "shard '" S2 "'");
    CHECK(strstr(err.msg, "1 of 2 shards missing") != NULL);
    CHECK(strstr(err.file, "model.safetensors.index.json") != NULL);
}

TEST(src_st_index_tensor_in_other_shard_names_both)
{
    static const char ix[] = "{\"weight_map\":{\"a\":\"" S1 "\",\"b\":\"" S1 "\",\"c\":\"" S2 "\"}}";
    const char *dir = make_sharded("sharded_wrong", ix, 1, 0);
    trit_err err;
    src_st *h = NULL;
    CHECK_EQ_INT(src_st_open(dir, NULL, &h, &err), TRIT_E_CORRUPT);
    CHECK_STR(err.where, "tensor 'b'");
    CHECK(strstr(err.msg, "maps it to '" S1 "', which does not contain it (it is in '" S2 "')") != NULL);

    static const char ix2[] = "{\"weight_map\":{\"a\":\"" S1 "\",\"b\":\"" S2 "\",\"c\":\"" S1 "\",\"z\":\"" S2 "\"}}";
    dir = make_sharded("sharded_absent", ix2, 1, 0);
    CHECK_EQ_INT(src_st_open(dir, NULL, &h, &err), TRIT_E_CORRUPT);
    CHECK_STR(err.where, "tensor 'z'");
    CHECK(strstr(err.msg, "maps it to '" S2 "', which does not contain it") != NULL);
}

TEST(src_st_index_extra_tensor_and_total_size)
{
    static const char ix[] = "{\"weight_map\":{\"a\":\"" S1 "\",\"b\":\"" S2 "\"}}";
    const char *dir = make_sharded("sharded_extra", ix, 1, 0);
    trit_err err;
    src_st *h = NULL;
    CHECK_EQ_INT(src_st_open(dir, NULL, &h, &err), TRIT_E_CORRUPT);
    CHECK_STR(err.where, "tensor 'c'");
    CHECK(strstr(err.msg, "is in '" S1 "' but not in the index weight_map") != NULL);

    static const char ix2[] = "{\"metadata\":{\"total_size\":18},\"weight_map\":{"
                              "\"a\":\"" S1 "\",\"b\":\"" S2 "\",\"c\":\"" S1 "\"}}";
    dir = make_sharded("sharded_total", ix2, 1, 0);
    CHECK_EQ_INT(src_st_open(dir, NULL, &h, &err), TRIT_E_CORRUPT);
    CHECK_STR(err.where, "metadata.total_size");
    CHECK(strstr(err.msg, "is 18 but the shards' tensors hold 17 bytes") != NULL);

    /* A total_size written as an integral float is accepted (some tools emit 17.0). */
    static const char ix3[] = "{\"metadata\":{\"total_size\":17.0},\"weight_map\":{"
                              "\"a\":\"" S1 "\",\"b\":\"" S2 "\",\"c\":\"" S1 "\"}}";
    dir = make_sharded("sharded_total_float", ix3, 1, 0);
    CHECK_OK_E(src_st_open(dir, NULL, &h, &err), &err);
    src_st_close(h);
}

TEST(src_st_index_duplicate_across_shards)
{
    const char *dir = make_sharded("sharded_dup", good_index, 1, 1);
    trit_err err;
    src_st *h = NULL;
    CHECK_EQ_INT(src_st_open(dir, NULL, &h, &err), TRIT_E_CORRUPT);
    CHECK_STR(err.where, "tensor 'a'");
    CHECK(strstr(err.msg, "appears in both '" S1 "' and '" S2 "'") != NULL);
    CHECK(strstr(err.file, S2) != NULL);
}

TEST(src_st_index_parse_from_memory)
{
    static const struct { const char *json; int code; const char *needle; } c[] = {
        {"{\"weight_map\":{\"x\":\"m.safetensors\"}}", TRIT_OK, NULL},
        {"{\"metadata\":null,\"weight_map\":{\"x\":\"m.safetensors\"}}", TRIT_OK, NULL},
        {"  {\"metadata\":{\"format\":\"pt\"},\"weight_map\":{\"x\":\"m.safetensors\"}}\n", TRIT_OK, NULL},
        {"{\"metadata\":{}}", TRIT_E_CORRUPT, "no 'weight_map' object"},
        {"{\"weight_map\":[]}", TRIT_E_CORRUPT, "no 'weight_map' object"},
        {"{\"weight_map\":{}}", TRIT_E_CORRUPT, "maps no tensors"},
        {"{\"weight_map\":{\"x\":3}}", TRIT_E_CORRUPT, "not a file name"},
        {"{\"weight_map\":{\"x\":\"../m.safetensors\"}}", TRIT_E_CORRUPT, "not a plain file name"},
        {"{\"weight_map\":{\"x\":\"/etc/passwd\"}}", TRIT_E_CORRUPT, "not a plain file name"},
        {"{\"weight_map\":{\"x\":\"a\\\\b\"}}", TRIT_E_CORRUPT, "not a plain file name"},
        {"{\"weight_map\":{\"x\":\"..\"}}", TRIT_E_CORRUPT, "not a plain file name"},
        {"{\"weight_map\":{\"x\":\"\"}}", TRIT_E_CORRUPT, "not a plain file name"},
        {"{\"weight_map\":{\"x\":\"m\",\"y\":\"m\",\"x\":\"n\"}}", TRIT_E_CORRUPT, "appears twice"},
        {"{\"weight_map\":{\"x\":\"m\"},\"weight_map\":{\"y\":\"m\"}}", TRIT_E_CORRUPT, "appears twice"},
        {"{\"metadata\":[],\"weight_map\":{\"x\":\"m\"}}", TRIT_E_CORRUPT, "'metadata' is not an object"},
        {"{\"metadata\":{\"total_size\":-1},\"weight_map\":{\"x\":\"m\"}}", TRIT_E_CORRUPT, "non-negative integer"},
        {"{\"metadata\":{\"total_size\":1.5},\"weight_map\":{\"x\":\"m\"}}", TRIT_E_CORRUPT, "non-negative integer"},
        {"{\"metadata\":{\"total_size\":\"17\"},\"weight_map\":{\"x\":\"m\"}}", TRIT_E_CORRUPT, "non-negative integer"},
        {"{\"metadata\":{\"total_size\":9007199254740992},\"weight_map\":{\"x\":\"m\"}}", TRIT_E_CORRUPT, "2^53"},
        {"{\"weight_map\":{\"x\":\"m\"}", TRIT_E_CORRUPT, "ends"},
        {"{\"weight_map\":{\"x\":\"m\"}} x", TRIT_E_CORRUPT, "after the JSON value"},
        {"[]", TRIT_E_CORRUPT, "not a JSON object"},
        {"", TRIT_E_CORRUPT, "not a JSON object"},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        trit_err err;
        trit_err_clear(&err);
        src_st_index *ix = NULL;
        int const rc = src_st_index_parse(c[i].json, strlen(c[i].json), "ix.json", &ix, &err);
        char msg[512];
        trit_err_format(&err, msg, sizeof msg);
        if (rc != c[i].code || (c[i].needle && !strstr(msg, c[i].needle)) || (rc == TRIT_OK) != (ix != NULL))
            test_fail_(__FILE__, __LINE__, "case %zu (%s): got %d (%s), want %d '%s'", i, c[i].json, rc, msg,
                       c[i].code, c[i].needle ? c[i].needle : "");
        if (rc) CHECK_STR(err.file, "ix.json");
        src_st_index_free(ix);
    }
    /* A nesting bomb in an unknown metadata key is stopped by the depth cap. */
    char bomb[4096];
    size_t k = (size_t)snprintf(bomb, sizeof bomb, "{\"metadata\":{\"x\":");
    for (int i = 0; i < 1000; i++) bomb[k++] = '[';
    bomb[k] = '\0';
    trit_err err;
    src_st_index *ix = NULL;
    CHECK_EQ_INT(src_st_index_parse(bomb, k, "bomb", &ix, &err), TRIT_E_LIMIT);
    CHECK_EQ_U64(err.offset, 17 + 62);   /* '{' depth 1, '{' depth 2, the 63rd '[' is depth 65 */
}

TEST(src_st_dir_resolution)
{
    trit_err err;
    src_st *h = NULL;
    uint8_t const d[2] = {1, 2};
    const char *empty = stt_dir("dir_empty");
    CHECK_EQ_INT(src_st_open(empty, NULL, &h, &err), TRIT_E_NOTFOUND);
    CHECK(strstr(err.msg, "no .safetensors") != NULL);
    CHECK_EQ_INT(src_st_open(test_path(empty, "nope.safetensors"), NULL, &h, &err), TRIT_E_NOTFOUND);

    const char *one = stt_dir("dir_one");
    CHECK_EQ_INT(stt_write(test_path(one, "adapter.safetensors"),
                           "{\"w\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}", d, 2), 0);
    CHECK_OK_E(src_st_open(one, NULL, &h, &err), &err);
    CHECK(h && src_st_n_tensors(h) == 1 && !strcmp(src_st_shard(h, 0)->name, "adapter.safetensors"));
    CHECK(h && src_st_index_path(h) == NULL);
    src_st_close(h);

    CHECK_EQ_INT(stt_write(test_path(one, "other.safetensors"), "{}", NULL, 0), 0);
    CHECK_EQ_INT(src_st_open(one, NULL, &h, &err), TRIT_E_USAGE);
    CHECK(strstr(err.msg, "2 .safetensors files and no index") != NULL);
    /* model.safetensors wins over other files. */
    CHECK_EQ_INT(stt_write(test_path(one, "model.safetensors"), "{}", NULL, 0), 0);
    CHECK_OK_E(src_st_open(one, NULL, &h, &err), &err);
    CHECK(h && src_st_n_tensors(h) == 0 && !strcmp(src_st_shard(h, 0)->name, "model.safetensors"));
    src_st_close(h);

    /* A FIFO under a model's name is refused, not waited on. */
    const char *fifo = test_path(stt_dir("dir_fifo"), "model.safetensors");
    CHECK_EQ_INT(mkfifo(fifo, 0600), 0);
    CHECK_EQ_INT(src_st_open(fifo, NULL, &h, &err), TRIT_E_IO);
    CHECK(strstr(err.msg, "not a regular file") != NULL);
}

TEST(src_st_side_files_and_config)
{
    trit_err err;
    src_st *h = NULL;
    uint8_t const d[2] = {1, 2};
    const char *dir = stt_dir("side_all");
    CHECK_EQ_INT(stt_write(test_path(dir, "model.safetensors"),
                           "{\"w\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}", d, 2), 0);
    static const char cfg[] = "{\"architectures\":[\"LlamaForCausalLM\"],\"hidden_size\":64,\"rope_scaling\":null}";
    CHECK_EQ_INT(test_write_file(test_path(dir, "config.json"), cfg, strlen(cfg)), 0);
    for (uint32_t k = 1; k < SRC_ST_SIDE_COUNT_; k++)
        CHECK_EQ_INT(test_write_file(test_path(dir, src_st_side_name(k)), "{}", 2), 0);
    CHECK_OK_E(src_st_open(test_path(dir, "model.safetensors"), NULL, &h, &err), &err);
    if (h) {
        for (uint32_t k = 0; k < SRC_ST_SIDE_COUNT_; k++) {
            const char *p = src_st_side_path(h, k);
            CHECK(p && strstr(p, src_st_side_name(k)));
        }
        const cJSON *hs = cJSON_GetObjectItemCaseSensitive(src_st_config(h), "hidden_size");
        CHECK(cJSON_IsNumber(hs) && hs->valueint == 64);
        src_st_close(h);
    }
    CHECK_STR(src_st_side_name(SRC_ST_SIDE_TOKENIZER_MODEL), "tokenizer.model");
    CHECK(src_st_side_name(SRC_ST_SIDE_COUNT_) == NULL);

    src_st_opts const no_side = {SRC_ST_NO_SIDE_FILES};
    CHECK_OK_E(src_st_open(dir, &no_side, &h, &err), &err);
    CHECK(h && src_st_config(h) == NULL && src_st_side_path(h, SRC_ST_SIDE_TOKENIZER_JSON) == NULL);
    src_st_close(h);

    /* A config.json that is not JSON is an error naming it, with the offset. */
    CHECK_EQ_INT(test_write_file(test_path(dir, "config.json"), "{\"a\":1,}", 8), 0);
    CHECK_EQ_INT(src_st_open(dir, NULL, &h, &err), TRIT_E_CORRUPT);
    CHECK(strstr(err.file, "config.json") != NULL);
    CHECK_EQ_U64(err.offset, 7);
    char bomb[300];
    memset(bomb, '[', 299);
    memcpy(bomb, "{\"a\":", 5);
    CHECK_EQ_INT(test_write_file(test_path(dir, "config.json"), bomb, 299), 0);
    CHECK_EQ_INT(src_st_open(dir, NULL, &h, &err), TRIT_E_LIMIT);
    CHECK_EQ_U64(err.offset, 5 + 63);
}

TEST(src_st_lfs_pointer_and_html_files)
{
    static const char lfs[] = "version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 5000000000\n";
    const char *dir = stt_dir("lfs");
    CHECK_EQ_INT(test_write_file(test_path(dir, "model.safetensors"), lfs, sizeof lfs - 1), 0);
    trit_err err;
    src_st *h = NULL;
    CHECK_EQ_INT(src_st_open(dir, NULL, &h, &err), TRIT_E_CORRUPT);
    CHECK(strstr(err.msg, "Git LFS pointer file") != NULL);
    CHECK(strstr(err.file, "model.safetensors") != NULL);
    CHECK_EQ_U64(err.offset, 0);

    static const char html[] = "<html><body>404 Not Found</body></html>";
    dir = stt_dir("html");
    CHECK_EQ_INT(test_write_file(test_path(dir, "model.safetensors"), html, sizeof html - 1), 0);
    CHECK_EQ_INT(src_st_open(dir, NULL, &h, &err), TRIT_E_CORRUPT);
    CHECK(strstr(err.msg, "HTML page") != NULL);

    /* In a sharded checkpoint the pointer is found in the shard, which is named. */
    const char *sd = make_sharded("sharded_lfs", good_index, 1, 0);
    CHECK_EQ_INT(test_write_file(test_path(sd, S2), lfs, sizeof lfs - 1), 0);
    CHECK_EQ_INT(src_st_open(sd, NULL, &h, &err), TRIT_E_CORRUPT);
    CHECK(strstr(err.file, S2) != NULL && strstr(err.msg, "Git LFS") != NULL);
}
