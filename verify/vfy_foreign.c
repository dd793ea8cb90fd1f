/* vfy_foreign.c - `trit verify` for GGUF and safetensors inputs: the files trit converts from.
 *
 * Structure and bounds are what their readers validate at open (src_gguf.h, src_safetensors.h:
 * every tensor inside its file with the size its type and shape give, no overlaps, no gaps in
 * safetensors). Neither format has checksums. Then every tensor's values are decoded in
 * bounded chunks for NaN/Inf and all-zero projections, the 2-bit codes of TQ2_0 and I2_S are
 * checked raw (code 3 decodes to 2*d and would pass as a value), and the metadata checks run
 * on the normalized description. Runtime compatibility does not apply: the runtime loads
 * .trit files only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "src_gguf.h"
#include "src_ggml_types.h"
#include "insp.h"
#include "vfy_int.h"

#define VFY_CHUNK 65536u   /* values (or raw bytes) per read */

static int class_of_read(int code)
{
    switch (code) {
    case TRIT_E_IO: return VFY_C_IO;
    case TRIT_E_NOMEM: return VFY_C_INTERNAL;
    case TRIT_E_TRUNCATED: return VFY_C_INTEGRITY;   /* the file shrank since it was opened */
    case TRIT_E_UNSUPPORTED: return VFY_C_COMPAT;
    case TRIT_E_LIMIT: return VFY_C_LIMIT;
    default: return VFY_C_TENSOR;                    /* a value the decoder refuses (code 3) */
    }
}

/* Raw 2-bit code check of a GGUF TQ2_0 or I2_S tensor. */
static void gguf_codes(vfy_report *rep, const src_gguf *h, uint64_t i, const char *object)
{
    const src_gguf_tensor_info *t = src_gguf_tensor(h, i);
    uint64_t block, codes;        /* bytes per block, code bytes at its start */
    uint64_t n_code_bytes;
    if (t->type == SRC_GGML_TQ2_0) {
        block = 66;
        codes = 64;
        n_code_bytes = t->nbytes;
    } else if (t->type == SRC_GGML_FORK_I2_S) {
        block = 1;
        codes = 1;
        n_code_bytes = t->n_elems / 4;   /* then the 32-byte trailer (scale + padding) */
    } else {
        return;
    }
    uint64_t const step = (VFY_CHUNK / block) * block;
    uint8_t *buf = malloc(step);
    if (!buf) {
        vfy_report_add(rep, VFY_C_INTERNAL, 0, TRIT_NO_OFFSET, object, "out of memory");
        return;
    }
    uint64_t n3 = 0, first = UINT64_MAX;
    for (uint64_t off = 0; off < n_code_bytes; off += step) {
        uint64_t const n = n_code_bytes - off < step ? n_code_bytes - off : step;
        trit_err e;
        trit_err_clear(&e);
        int const rc = src_gguf_read(h, i, off, buf, n, &e);
        if (rc != TRIT_OK) {
            vfy_report_add(rep, class_of_read(rc), 0, e.offset, object, "%s", e.msg);
            break;
        }
        for (uint64_t k = 0; k < n; k++) {
            if ((off + k) % block >= codes) continue;   /* the block's scale */
            unsigned const b = buf[k];
            if ((b & (b >> 1)) & 0x55u) {
                n3++;
                if (first == UINT64_MAX) first = t->offset + off + k;
            }
        }
    }
    free(buf);
    if (n3)
        vfy_report_add(rep, VFY_C_TENSOR, 0, first, object, "invalid ternary code 3 in %llu bytes of %s codes",
                       (unsigned long long)n3, t->type_name);
}

static void values(vfy_report *rep, insp_model *m, uint64_t i, const char *object, int projection)
{
    insp_tensor const *t = &m->tensors[i];
    uint64_t n = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        if (t->dims[d] && n > UINT64_MAX / t->dims[d]) return;
        n *= t->dims[d];
    }
    if (!t->readable || !m->read_f32) {
        vfy_report_add(rep, VFY_C_TENSOR, 1, TRIT_NO_OFFSET, object, "values not checked: no decoder for type %s",
                       t->type);
        return;
    }
    float *buf = malloc(VFY_CHUNK * sizeof *buf);
    if (!buf) {
        vfy_report_add(rep, VFY_C_INTERNAL, 0, TRIT_NO_OFFSET, object, "out of memory");
        return;
    }
    vfy__fstat s;
    vfy__fstat_init(&s);
    for (uint64_t first = 0; first < n; first += VFY_CHUNK) {
        uint64_t const k = n - first < VFY_CHUNK ? n - first : VFY_CHUNK;
        trit_err e;
        trit_err_clear(&e);
        int const rc = m->read_f32(m->ctx, i, first, k, buf, &e);
        if (rc != TRIT_OK) {
            vfy_report_add(rep, class_of_read(rc), 0, e.offset, object, "%s", e.msg);
            free(buf);
            return;
        }
        vfy__fstat_add(&s, buf, k);
    }
    free(buf);
    rep->bytes_hashed += t->nbytes;
    vfy__fstat_report(rep, &s, object, projection);
}

void vfy__foreign(const char *path, vfy_report *rep)
{
    insp_model m;
    memset(&m, 0, sizeof m);
    trit_err e;
    trit_err_clear(&e);
    int const rc = insp_open(path, &m, &e);
    if (rc != TRIT_OK) {
        int const cls = rc == TRIT_E_IO || rc == TRIT_E_NOTFOUND ? VFY_C_IO
                        : rc == TRIT_E_NOMEM                         ? VFY_C_INTERNAL
                        : rc == TRIT_E_LIMIT                                          ? VFY_C_LIMIT
                        : rc == TRIT_E_UNSUPPORTED                                    ? VFY_C_COMPAT
                                                                                      : VFY_C_INTEGRITY;
        char obj[256];
        if (e.file[0] && strcmp(e.file, path) != 0)   /* a shard or split part */
            snprintf(obj, sizeof obj, "%s%s%s", e.file, e.where[0] ? ": " : "", e.where);
        else
            snprintf(obj, sizeof obj, "%s", e.where[0] ? e.where : "file");
        vfy_report_add(rep, cls, 0, e.offset, obj, "%s", e.msg);
        rep->stopped = 1;
        return;
    }
    snprintf(rep->format, sizeof rep->format, "%s", m.format);
    snprintf(rep->version, sizeof rep->version, "%s", m.version);
    rep->n_kv = m.kv_count;
    src_gguf *g = NULL;
    if (strcmp(m.format, "gguf") == 0) {
        /* the raw code checks need it: failing to open it again is a finding, not a skip */
        trit_err ge;
        trit_err_clear(&ge);
        int const grc = src_gguf_open(path, NULL, &g, &ge);
        if (grc != TRIT_OK) {
            g = NULL;
            vfy_report_add(rep, class_of_read(grc), 0, ge.offset, "file", "%s", ge.msg);
        }
    }

    vfy__model model;
    memset(&model, 0, sizeof model);
    model.format = m.format;
    model.t = calloc((size_t)(m.n_tensors ? m.n_tensors : 1), sizeof *model.t);
    int ok = model.t != NULL;
    for (uint64_t i = 0; ok && i < m.n_tensors; i++) {
        insp_tensor const *t = &m.tensors[i];
        insp_tref *x = &model.t[i];
        x->name = t->name;
        x->n_dims = t->n_dims;
        memcpy(x->dims, t->dims, sizeof x->dims);
        x->unit = x->rec_layer = x->rec_expert = TRIT_NONE32;
        model.n = i + 1;
        ok = insp_tref_name(x) == TRIT_OK;
    }
    if (ok) {
        model.hp = insp_norm_meta(m.format, m.metadata, NULL);
        model.derived = model.hp ? insp_derive(model.hp, model.t, model.n) : NULL;
        ok = model.hp && model.derived;
    }
    if (!ok) {
        vfy_report_add(rep, VFY_C_INTERNAL, 0, TRIT_NO_OFFSET, "file", "out of memory");
    } else {
        for (uint64_t i = 0; i < m.n_tensors; i++) {
            char obj[224];
            vfy__obj_tensor(obj, sizeof obj, m.tensors[i].name);
            rep->n_tensors++;
            if (g && i < src_gguf_n_tensors(g)) gguf_codes(rep, g, i, obj);
            values(rep, &m, i, obj, vfy__is_projection(model.t[i].canon));
        }
        vfy__check_model(rep, &model, 0);
    }
    vfy__model_release(&model);
    src_gguf_close(g);
    insp_model_free(&m);
}
