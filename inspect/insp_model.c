/* insp_model.c - format detection and the insp_model container shared by all formats. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "insp.h"
#include "src.h"
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

int insp_open(const char *path, insp_model *m, trit_err *err)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, NULL, "cannot open: no such file or directory");
        trit_err_file(err, path);
        return TRIT_E_IO;
    }
    src_format_id fmt;
    int const rc = src_probe(path, &fmt, err);
    if (rc != TRIT_OK) return rc;
    switch (fmt) {
    case SRC_FMT_GGUF: return insp_open_gguf(path, m, err);
    case SRC_FMT_TRIT: return insp_open_trit(path, m, err);
    case SRC_FMT_SAFETENSORS: return insp_open_safetensors(path, m, err);
    case SRC_FMT_UNKNOWN: break;
    }
    trit_err_set(err, TRIT_E_UNSUPPORTED, 0, NULL,
                 "unrecognised format: not a .trit, GGUF or safetensors file");
    trit_err_file(err, path);
    return TRIT_E_UNSUPPORTED;
}
