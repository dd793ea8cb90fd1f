/* test_config_edit.c - rewrite one key of a generated checkpoint's config.json. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "test.h"
#include "test_config_edit.h"

int test_config_set(const char *dir, const char *key, const char *value)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    char *buf = malloc(1 << 20);
    size_t const n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    if (!buf) return -1;
    buf[n] = '\0';
    cJSON *root = cJSON_Parse(buf);
    free(buf);
    if (!root) return -1;
    cJSON *obj = root;
    char k[256];
    snprintf(k, sizeof k, "%s", key);
    char *dot = strchr(k, '.');
    if (dot) {
        *dot = '\0';
        obj = cJSON_GetObjectItemCaseSensitive(root, k);
        if (!obj) obj = cJSON_AddObjectToObject(root, k);
        memmove(k, dot + 1, strlen(dot + 1) + 1);
    }
    cJSON_DeleteItemFromObjectCaseSensitive(obj, k);
    if (value) {
        cJSON *v = cJSON_Parse(value);
        if (!v || !cJSON_AddItemToObject(obj, k, v)) {
            cJSON_Delete(v);
            cJSON_Delete(root);
            return -1;
        }
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) return -1;
    int const rc = test_write_file(path, text, strlen(text));
    free(text);
    return rc;
}

int test_gen(gen_layout l, const char *name, char *path, size_t cap)
{
    gen_opts o;
    gen_opts_default(&o, l);
    o.overwrite = 1;
    snprintf(path, cap, "%s/%s", test_tmpdir(), name);
    trit_err err;
    int const rc = gen_write(&o, path, &err);
    if (rc) {
        char b[512];
        test_fail_(__FILE__, __LINE__, "gen %s: %s", name, trit_err_format(&err, b, sizeof b));
    }
    return rc;
}
