/* test_inspect_fixtures.c - every real model file in $TRIT_FIXTURES goes through `trit inspect
 * --json` as a user would run it: the good ones print valid JSON with the right format, the
 * malformed and truncated GGUFs are refused with an error naming the offset (exit 4), and the
 * granite index without its shards is refused naming the missing shard. Skipped without fixtures. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "test.h"

static int inspect(const char *path, cJSON **json, char **text)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s inspect --json '%s' 2>&1", test_trit_bin(), path);
    char *out = NULL;
    int const st = test_run(cmd, &out);
    *json = st == 0 && out ? cJSON_Parse(out) : NULL;
    *text = out;
    return st;
}

static int ends_with(const char *s, const char *suf)
{
    size_t const n = strlen(s), k = strlen(suf);
    return n >= k && !strcmp(s + n - k, suf);
}

/* Walk dir (depth-first), inspecting every model file. */
static void sweep(const char *dir, int *n_ok, int *n_refused)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
            sweep(path, n_ok, n_refused);
            continue;
        }
        int const gguf = ends_with(path, ".gguf");
        if (!gguf && !ends_with(path, ".safetensors") && !ends_with(path, ".index.json")) continue;
        cJSON *j;
        char *out;
        int const rc = inspect(path, &j, &out);
        int const expect_bad = strstr(path, "/edge/") != NULL || strstr(path, "index-only") != NULL;
        if (expect_bad) {
            (*n_refused)++;
            if (rc != 4 && rc != 3)
                test_fail_(__FILE__, __LINE__, "%s: expected a refusal, exit %d", path, rc);
            if (strstr(path, "/edge/") && !(out && strstr(out, "offset 0x")))
                test_fail_(__FILE__, __LINE__, "%s: error does not name an offset: %s", path, out ? out : "");
            if (strstr(path, "index-only") && !(out && strstr(out, "model-00001-of-00002.safetensors")))
                test_fail_(__FILE__, __LINE__, "%s: error does not name the missing shard: %s", path, out ? out : "");
        } else {
            (*n_ok)++;
            if (rc != 0 || !j) {
                test_fail_(__FILE__, __LINE__, "%s: exit %d: %.300s", path, rc, out ? out : "");
            } else {
                CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "format")), gguf ? "gguf" : "safetensors");
                CHECK(cJSON_IsArray(cJSON_GetObjectItem(j, "tensors")));
                CHECK(cJSON_IsNumber(cJSON_GetObjectItem(j, "tensor_count")));
                if (gguf) CHECK(cJSON_IsObject(cJSON_GetObjectItem(j, "metadata")));
            }
        }
        cJSON_Delete(j);
        free(out);
    }
    if (d) closedir(d);
}

TEST(inspect_every_fixture)
{
    const char *fx = test_fixtures();
    if (!fx) SKIP("no fixtures ($TRIT_FIXTURES)");
    int ok = 0, refused = 0;
    sweep(fx, &ok, &refused);
    fprintf(stderr, "     fixtures: %d inspected, %d refused as expected\n", ok, refused);
    CHECK(ok >= 20);      /* 11 GGUF + 13 safetensors files in the shared set */
    CHECK(refused >= 3);  /* two edge GGUFs + the granite index */
}

TEST(inspect_stories260k_stats_and_counts)
{
    const char *fx = test_fixtures();
    if (!fx) SKIP("no fixtures ($TRIT_FIXTURES)");
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "%s inspect --json --stats '%s/gguf/stories260K.gguf'", test_trit_bin(), fx);
    char *out = NULL;
    CHECK_EQ_INT(test_run(cmd, &out), 0);
    cJSON *j = out ? cJSON_Parse(out) : NULL;
    CHECK(j != NULL);
    if (j) {
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "version")), "3");
        CHECK_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(j, "kv_count")), 19);
        CHECK_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(j, "tensor_count")), 48);
        cJSON *t;
        int finite = 0;
        cJSON_ArrayForEach(t, cJSON_GetObjectItem(j, "tensors")) {
            cJSON *s = cJSON_GetObjectItem(t, "stats");
            CHECK(s != NULL);
            if (s && cJSON_IsNumber(cJSON_GetObjectItem(s, "mean_abs"))) finite++;
            CHECK(!cJSON_IsTrue(cJSON_GetObjectItem(s, "ternary"))); /* a float model */
        }
        CHECK_EQ_INT(finite, 48);
    }
    cJSON_Delete(j);
    free(out);
}
