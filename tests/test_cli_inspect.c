/* test_cli_inspect.c - `trit inspect` as a user runs it: JSON shape, exit codes by failure
 * class, errors that name the file and the offset. */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "test.h"
#include "tfmt.h"

static char *run(const char *args, int *status)
{
    char cmd[8192];
    char *out = NULL;
    snprintf(cmd, sizeof cmd, "%s %s", test_trit_bin(), args);
    *status = test_run(cmd, &out);
    return out;
}

TEST(cli_inspect_json_schema)
{
    const char *path = test_path(test_tmpdir(), "cli.trit");
    trit_err err;
    CHECK_OK_E(tfmt_write(path, TFMT_FULL, &err), &err);
    char args[4200];
    snprintf(args, sizeof args, "inspect --json --stats '%s'", path);
    int st;
    char *out = run(args, &st);
    CHECK_EQ_INT(st, 0);
    cJSON *j = out ? cJSON_Parse(out) : NULL;
    CHECK(j != NULL);
    if (j) {
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "format")), "trit");
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "version")), "1.0");
        CHECK_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(j, "tensor_count")), 17);
        cJSON *ts = cJSON_GetObjectItem(j, "tensors");
        CHECK(cJSON_IsArray(ts) && cJSON_GetArraySize(ts) == 17);
        cJSON *t;
        int ternary_tensors = 0;
        cJSON_ArrayForEach(t, ts) {
            CHECK(cJSON_IsString(cJSON_GetObjectItem(t, "name")));
            CHECK(cJSON_IsString(cJSON_GetObjectItem(t, "type")));
            CHECK(cJSON_IsArray(cJSON_GetObjectItem(t, "shape")));
            cJSON *s = cJSON_GetObjectItem(t, "stats");
            if (!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(t, "type")), "t2")) {
                CHECK(cJSON_IsTrue(cJSON_GetObjectItem(s, "ternary")));
                ternary_tensors++;
            }
        }
        CHECK_EQ_INT(ternary_tensors, 9);
        cJSON *q = cJSON_GetArrayItem(ts, 4); /* blk.0.attn_v.weight: groups of 64 */
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(q, "name")), "blk.0.attn_v.weight");
        cJSON *qs = cJSON_GetObjectItem(q, "stats");
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(qs, "granularity")), "group");
        CHECK_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(qs, "group_size")), 64);
        cJSON *bytes = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "header"), "bytes");
        double sum = 0;
        const char *parts[] = {"header", "index", "dense_tensors", "expert_units_stored", "sections", "padding"};
        for (int k = 0; k < 6; k++) sum += cJSON_GetNumberValue(cJSON_GetObjectItem(bytes, parts[k]));
        CHECK(sum == cJSON_GetNumberValue(cJSON_GetObjectItem(j, "file_bytes")));
    }
    cJSON_Delete(j);
    free(out);
}

TEST(cli_inspect_exit_codes_and_errors)
{
    int st;
    char *out = run("inspect /nonexistent/x.trit 2>&1", &st);
    CHECK_EQ_INT(st, 3);
    CHECK(out && strstr(out, "/nonexistent/x.trit"));
    free(out);
    out = run("inspect --bogus 2>&1", &st);
    CHECK_EQ_INT(st, 2);
    free(out);
    out = run("inspect --help", &st);
    CHECK_EQ_INT(st, 0);
    CHECK(out && strstr(out, "usage: trit inspect"));
    free(out);
    out = run("--version", &st);
    CHECK_EQ_INT(st, 0);
    char fmt[64];
    snprintf(fmt, sizeof fmt, "container format %d.%d", TRIT_FORMAT_MAJOR, TRIT_FORMAT_MINOR);
    CHECK(out && strstr(out, fmt));
    free(out);
    out = run("frobnicate 2>&1", &st);
    CHECK_EQ_INT(st, 2);
    free(out);

    /* a corrupt file: exit 4, message with file, offset and object */
    const char *path = test_path(test_tmpdir(), "cli-bad.trit");
    trit_err err;
    CHECK_OK_E(tfmt_write(path, TFMT_SMALL, &err), &err);
    size_t n;
    uint8_t *b = test_read_file(path, &n);
    if (!b) return;
    test_write_file(path, b, n - 100); /* truncated */
    char args[4200];
    snprintf(args, sizeof args, "inspect '%s' 2>&1", path);
    out = run(args, &st);
    CHECK_EQ_INT(st, 4);
    CHECK(out && strstr(out, "cli-bad.trit: offset 0x") && strstr(out, "truncated"));
    free(out);
    b[3] ^= 1; /* bad magic, but .trit extension: still the trit reader, which says so */
    test_write_file(path, b, n);
    out = run(args, &st);
    CHECK_EQ_INT(st, 4);
    CHECK(out && strstr(out, "offset 0x0") && strstr(out, "bad magic"));
    free(out);
    free(b);
}
