/* insp_model.c - format detection and the insp_model container shared by all formats. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "insp.h"
#include "trit_safemath.h"

insp_tensor *insp_model_add_tensor(insp_model *m, const char *name)
{
    if (m->n_tensors == m->cap_tensors) {
        uint64_t const cap = m->cap_tensors ? m->cap_tensors * 2 : 64;
        insp_tensor *nt = trit_mallocarray((size_t)cap, sizeof *nt);
        if (!nt) return NULL;
        if (m->tensors) memcpy(nt, m->tensors, (size_t)m->n_tensors * sizeof *nt);
        free(m->tensors);
        m->tensors = nt;
        m->cap_tensors = cap;
    }
    insp_tensor *t = &m->tensors[m->n_tensors];
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    if (!t->name) return NULL;
    t->offset = TRIT_NO_OFFSET;
    t->layer = t->expert = t->unit = TRIT_NONE32;
    m->n_tensors++;
    return t;
}

void insp_model_free(insp_model *m)
{
    if (!m) return;
    for (uint64_t i = 0; i < m->n_tensors; i++) free(m->tensors[i].name);
    free(m->tensors);
    cJSON_Delete(m->metadata);
    cJSON_Delete(m->header);
    if (m->ctx_free) m->ctx_free(m->ctx);
    free(m->path);
    memset(m, 0, sizeof *m);
}

cJSON *insp_summarize_array(cJSON *arr, const char *elem_type, uint64_t count)
{
    if (!arr || count <= 16) return arr;
    cJSON *o = cJSON_CreateObject();
    cJSON *head = cJSON_CreateArray();
    if (!o || !head) {
        cJSON_Delete(o);
        cJSON_Delete(head);
        cJSON_Delete(arr);
        return NULL;
    }
    for (int i = 0; i < 8; i++) {
        cJSON *e = cJSON_DetachItemFromArray(arr, 0);
        if (!e) break;
        cJSON_AddItemToArray(head, e);
    }
    cJSON_Delete(arr);
    cJSON_AddStringToObject(o, "type", "array");
    cJSON_AddStringToObject(o, "elem_type", elem_type);
    cJSON_AddNumberToObject(o, "count", (double)count);
    cJSON_AddItemToObject(o, "head", head);
    return o;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t const n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

int insp_open(const char *path, insp_model *m, trit_err *err)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, NULL, "cannot open: no such file or directory");
        trit_err_file(err, path);
        return TRIT_E_IO;
    }
    if (S_ISDIR(st.st_mode)) return insp_open_safetensors(path, m, err);
    if (!S_ISREG(st.st_mode)) { /* a FIFO or device would block or never end */
        trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, NULL, "not a regular file or directory");
        trit_err_file(err, path);
        return TRIT_E_IO;
    }
    uint8_t head[16] = {0};
    FILE *f = fopen(path, "rb");
    if (!f) {
        trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, NULL, "cannot open for reading");
        trit_err_file(err, path);
        return TRIT_E_IO;
    }
    size_t const n = fread(head, 1, sizeof head, f);
    fclose(f);
    if (n >= 4 && memcmp(head, "GGUF", 4) == 0) return insp_open_gguf(path, m, err);
    if (n >= 4 && memcmp(head, "\x89TRI", 4) == 0) return insp_open_trit(path, m, err);
    if (ends_with(path, ".gguf")) return insp_open_gguf(path, m, err);
    if (ends_with(path, ".trit")) return insp_open_trit(path, m, err);
    /* safetensors has no magic: its opener recognises the header, and names what a
     * mis-saved file is instead (a Git LFS pointer, an HTML page). */
    if (ends_with(path, ".safetensors") || ends_with(path, ".json") || (n >= 9 && head[8] == '{') ||
        (n >= 8 && (memcmp(head, "version ", 8) == 0 || head[0] == '<')))
        return insp_open_safetensors(path, m, err);
    trit_err_set(err, TRIT_E_UNSUPPORTED, 0, NULL,
                 "unrecognised format: not a .trit, GGUF or safetensors file");
    trit_err_file(err, path);
    return TRIT_E_UNSUPPORTED;
}
