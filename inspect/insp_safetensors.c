/*
 * insp_safetensors.c - `trit inspect` for safetensors inputs (a file, a directory or a sharded
 * index), built on source/src_safetensors.h.
 *
 * BitNet b1.58 packed weights (U8 [out/4, in] + weight_scale) are shown as what they mean:
 * type "U8(bitnet-packed)", the logical shape [out, in], and --stats decode (code-1)/scale, so
 * the ternary check sees -1/0/+1 times one magnitude instead of raw bytes.
 *
 * MXFP4 pairs of a release that says quant_method "mxfp4" (gpt-oss: U8 "<name>_blocks"
 * [..., n/32, 16] beside U8 "<name>_scales" [..., n/32], source/src_mxfp4.h) are shown the same
 * way: the blocks tensor as type "MXFP4" of the logical shape [..., n], --stats and diff decode
 * it; the scales tensor stays listed as its raw bytes (diff leaves it out: it is part of the
 * blocks' values).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "src_mxfp4.h"
#include "src_safetensors.h"
#include "insp.h"
#include "insp_json.h"
#include "trit_safemath.h"

typedef struct st_ctx {
    src_st *h;
    uint64_t n_rows;
    src_st_bitnet *bn;     /* per row (row i is cvt tensor i) */
    uint8_t *is_bn;        /* 1 if row i is read through bn[i] */
    src_mxfp4_pair *mx;    /* per row: rows > 0 for an MXFP4 blocks tensor */
} st_ctx;

static void st_ctx_free(void *p)
{
    st_ctx *c = p;
    if (!c) return;
    src_st_close(c->h);
    free(c->bn);
    free(c->is_bn);
    free(c->mx);
    free(c);
}

static int st_read_f32(void *p, uint64_t i, uint64_t first, uint64_t n, float *out, trit_err *err)
{
    const st_ctx *c = p;
    if (i >= c->n_rows) return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL, "no tensor %llu",
                                            (unsigned long long)i);
    if (c->is_bn[i]) return src_st_bitnet_to_f32(c->h, &c->bn[i], first, n, out, err);
    if (c->mx[i].rows) return src_mxfp4_pair_f32(c->h, (uint32_t)i, &c->mx[i], first, n, out, err);
    return src_st_to_f32(c->h, (uint32_t)i, first, n, out, err);
}

static int fill_header(const src_st *h, insp_model *m, uint64_t n_bitnet)
{
    cJSON *hd = m->header = cJSON_CreateObject();
    if (!hd) return TRIT_E_NOMEM;
    int ok = 1;
    const src_st_shard_info *s0 = src_st_shard(h, 0);
    insp__ok_num(hd, &ok, "header_size", s0 ? (double)s0->header_size : 0.0);
    cJSON *shards = cJSON_AddArrayToObject(hd, "shards");
    if (!shards) return TRIT_E_NOMEM;
    for (uint32_t s = 0; s < src_st_n_shards(h); s++) {
        const src_st_shard_info *si = src_st_shard(h, s);
        cJSON *o = cJSON_CreateObject();
        insp__ok_item(shards, &ok, NULL, o);
        if (!ok) return TRIT_E_NOMEM;
        insp__ok_str(o, &ok, "file", si->name);
        insp__ok_num(o, &ok, "bytes", (double)si->file_size);
        insp__ok_num(o, &ok, "header_size", (double)si->header_size);
        insp__ok_num(o, &ok, "data_offset", (double)si->data_off);
        insp__ok_num(o, &ok, "tensors", (double)si->n_tensors);
        if (si->metadata_null) insp__ok_item(o, &ok, "__metadata__", cJSON_CreateNull());
        m->file_bytes += si->file_size;
    }
    insp__ok_num(hd, &ok, "total_size", (double)src_st_data_size(h));
    if (src_st_index_path(h)) {
        const char *ip = src_st_index_path(h), *slash = strrchr(ip, '/');
        uint64_t declared;
        insp__ok_str(hd, &ok, "index", slash ? slash + 1 : ip);
        if (src_st_declared_total_size(h, &declared) == TRIT_OK)
            insp__ok_num(hd, &ok, "index_total_size", (double)declared);
    }
    cJSON *side = cJSON_AddArrayToObject(hd, "side_files");
    if (!side) return TRIT_E_NOMEM;
    for (uint32_t k = 0; k < SRC_ST_SIDE_COUNT_; k++)
        if (src_st_side_path(h, k)) insp__ok_item(side, &ok, NULL, cJSON_CreateString(src_st_side_name(k)));
    if (src_st_config_is_bitnet(h)) insp__ok_str(hd, &ok, "quantization", "bitnet");
    if (n_bitnet) insp__ok_num(hd, &ok, "bitnet_packed_tensors", (double)n_bitnet);
    return ok ? TRIT_OK : TRIT_E_NOMEM;
}

static int fill_metadata(const src_st *h, insp_model *m)
{
    cJSON *md = m->metadata = cJSON_CreateObject();
    if (!md) return TRIT_E_NOMEM;
    for (uint32_t i = 0; i < src_st_n_meta(h); i++) {
        const char *k, *v;
        src_st_meta_at(h, i, &k, &v);
        if (!cJSON_AddStringToObject(md, k, v)) return TRIT_E_NOMEM;
    }
    m->kv_count = src_st_n_meta(h);
    if (src_st_config(h)) {
        cJSON *cfg = cJSON_Duplicate(src_st_config(h), 1);
        if (!cfg || !cJSON_AddItemToObject(md, "config", cfg)) {
            cJSON_Delete(cfg);
            return TRIT_E_NOMEM;
        }
    }
    return TRIT_OK;
}

int insp_open_safetensors(const char *path, insp_model *m, trit_err *err)
{
    src_st *h = NULL;
    int rc = src_st_open(path, NULL, &h, err);
    if (rc) return rc;
    st_ctx *c = calloc(1, sizeof *c);
    uint32_t const n = src_st_n_tensors(h);
    uint64_t n_bitnet = 0;
    cJSON *warnings = NULL;   /* owned until attached to the header */
    if (c) {
        c->h = h;
        c->n_rows = n;
        c->bn = trit_mallocarray(n ? n : 1, sizeof *c->bn);
        c->is_bn = calloc(n ? n : 1, 1);
        c->mx = calloc(n ? n : 1, sizeof *c->mx);
    }
    if (!c || !c->bn || !c->is_bn || !c->mx) {
        if (c) st_ctx_free(c); else src_st_close(h);
        return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    }
    m->ctx = c;
    m->ctx_free = st_ctx_free;
    m->read_f32 = st_read_f32;
    snprintf(m->format, sizeof m->format, "safetensors");
    m->version[0] = '\0';
    if (!(m->path = strdup(path))) { rc = TRIT_E_NOMEM; goto nomem; }
    /* blocks and scales that do not pair (convert refuses them) are shown as their raw bytes
     * with a warning, so the file can still be inspected */
    char mx_warning[512] = "";
    if ((rc = src_mxfp4_find_pairs(h, n, c->mx, err)) == TRIT_E_IO || rc == TRIT_E_NOMEM) {
        insp_model_free(m);
        return rc;
    } else if (rc != TRIT_OK) {
        trit_err_format(err, mx_warning, sizeof mx_warning);
        trit_err_clear(err);
        memset(c->mx, 0, (size_t)(n ? n : 1) * sizeof *c->mx);
    }

    for (uint32_t i = 0; i < n; i++) {
        const src_st_tensor *t = src_st_tensor_at(h, i);
        insp_tensor *row = insp_model_add_tensor(m, t->name);
        if (!row) { rc = TRIT_E_NOMEM; goto nomem; }
        snprintf(row->type, sizeof row->type, "%s", src_st_dtype_name(t->dtype));
        row->n_dims = t->n_dims;
        memcpy(row->dims, t->dims, sizeof row->dims);
        row->nbytes = t->nbytes;
        row->offset = t->offset;
        row->file_index = (int)t->shard;
        row->readable = src_st_dtype_decodable(t->dtype);
        src_st_name_layer_expert(t->name, &row->layer, &row->expert);
        if (c->mx[i].rows) {
            snprintf(row->type, sizeof row->type, "MXFP4");
            row->n_dims = t->n_dims - 1;
            row->dims[t->n_dims - 2] = c->mx[i].groups * SRC_MXFP4_BLOCK;
            row->dims[t->n_dims - 1] = 0;
            row->readable = 1;
            continue;
        }
        rc = src_st_bitnet_view(h, i, &c->bn[i], err);
        if (rc == TRIT_OK) {
            c->is_bn[i] = 1;
            n_bitnet++;
            snprintf(row->type, sizeof row->type, "U8(bitnet-packed)");
            row->n_dims = 2;
            row->dims[0] = c->bn[i].rows;
            row->dims[1] = c->bn[i].cols;
            row->readable = 1;
        } else if (rc == TRIT_E_IO || rc == TRIT_E_NOMEM) {
            /* the pairing could not be read: that error, not a file to show as raw bytes */
            cJSON_Delete(warnings);
            insp_model_free(m);
            return rc;
        } else if (rc != TRIT_E_NOTFOUND) {
            /* An inconsistent pairing (a scale that is not one finite non-zero float) is shown
             * as its raw U8 bytes with a warning, so the file can still be inspected. */
            char msg[512];
            trit_err_file(err, src_st_shard(h, t->shard)->path);
            trit_err_format(err, msg, sizeof msg);
            if (!warnings && !(warnings = cJSON_CreateArray())) { rc = TRIT_E_NOMEM; goto nomem; }
            cJSON *w = cJSON_CreateString(msg);
            if (!w || !cJSON_AddItemToArray(warnings, w)) {
                cJSON_Delete(w);
                rc = TRIT_E_NOMEM;
                goto nomem;
            }
            trit_err_clear(err);
        }
        rc = TRIT_OK;
    }
    if (fill_metadata(h, m) != TRIT_OK || fill_header(h, m, n_bitnet) != TRIT_OK) {
        rc = TRIT_E_NOMEM;
        goto nomem;
    }
    if (mx_warning[0] && !cJSON_AddStringToObject(m->header, "mxfp4_warning", mx_warning)) {
        rc = TRIT_E_NOMEM;
        goto nomem;
    }
    if (warnings && !cJSON_AddItemToObject(m->header, "bitnet_warnings", warnings)) {
        rc = TRIT_E_NOMEM;
        goto nomem;
    }
    return TRIT_OK;
nomem:
    cJSON_Delete(warnings);
    insp_model_free(m);
    trit_err_set(err, rc, TRIT_NO_OFFSET, NULL, "out of memory while building the report");
    trit_err_file(err, path);
    return rc;
}
