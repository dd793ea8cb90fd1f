/* insp_trit.c - a .trit container as an insp_model: header facts, bytes per section and per
 * storage, typed metadata, the tensor table, and value decoding for --stats. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "insp.h"
#include "insp_blk.h"
#include "insp_json.h"
#include "trit_safemath.h"

typedef struct trit_ctx {
    trit_reader *r;
    uint32_t cached_unit;      /* unit held in unit_buf, TRIT_NONE32 if none */
    void *unit_buf;
} trit_ctx;

static void trit_ctx_free(void *p)
{
    trit_ctx *c = p;
    if (!c) return;
    trit_reader_close(c->r);
    free(c->unit_buf);
    free(c);
}

/* 64-bit integers beyond 2^53 do not survive a JSON number: they become decimal strings. */
static cJSON *int_json(uint32_t type, const trit_kvset *s, uint32_t i, uint64_t j, double d)
{
    char buf[32];
    if (type == TRIT_KV_U64) {
        uint64_t u = 0;
        if ((j == UINT64_MAX ? trit_kvset_u64(s, i, &u) : trit_kvset_arr_u64(s, i, j, &u)) == TRIT_OK &&
            u > (1ull << 53)) {
            snprintf(buf, sizeof buf, "%llu", (unsigned long long)u);
            return cJSON_CreateString(buf);
        }
    } else if (type == TRIT_KV_I64) {
        int64_t v = 0;
        if ((j == UINT64_MAX ? trit_kvset_i64(s, i, &v) : trit_kvset_arr_i64(s, i, j, &v)) == TRIT_OK &&
            (v > (1ll << 53) || v < -(1ll << 53))) {
            snprintf(buf, sizeof buf, "%lld", (long long)v);
            return cJSON_CreateString(buf);
        }
    }
    return cJSON_CreateNumber(d);
}

/* A KV string (not NUL-terminated in the file) as a JSON string; NULL when out of memory. */
static cJSON *str_json(const char *s, uint64_t n)
{
    char *z = malloc((size_t)n + 1);
    if (!z) return NULL;
    memcpy(z, s, (size_t)n);
    z[n] = '\0';
    cJSON *j = cJSON_CreateString(z);
    free(z);
    return j;
}

static cJSON *kv_scalar_json(const trit_reader *r, uint32_t i, uint32_t type)
{
    if (type == TRIT_KV_BOOL) {
        uint64_t u = 0;
        trit_reader_kv_u64(r, i, &u);
        return cJSON_CreateBool(u != 0);
    }
    if (type == TRIT_KV_STRING) {
        const char *s;
        uint64_t n;
        if (trit_reader_kv_str(r, i, &s, &n) != TRIT_OK) return cJSON_CreateNull();
        return str_json(s, n);
    }
    double d = 0;
    if (trit_reader_kv_f64(r, i, &d) != TRIT_OK) return cJSON_CreateNull();
    return int_json(type, trit_reader_kv(r), i, UINT64_MAX, d);
}

cJSON *insp_trit_kv_json(const trit_reader *r, uint32_t i, int arrays)
{
    uint32_t et = 0;
    uint64_t count = 0;
    uint32_t const type = trit_reader_kv_type(r, i, &et, &count);
    if (type != TRIT_KV_ARRAY) return kv_scalar_json(r, i, type);
    if (arrays == INSP_KV_ARRAY_COUNT) {
        cJSON *o = cJSON_CreateObject();
        if (o && !cJSON_AddNumberToObject(o, "count", (double)count)) {
            cJSON_Delete(o);   /* NULL means out of memory: never an object without its count */
            o = NULL;
        }
        return o;
    }
    cJSON *arr = cJSON_CreateArray();
    uint64_t const shown = count > 16 ? 8 : count; /* only what the summary keeps */
    for (uint64_t j = 0; arr && j < shown; j++) {
        cJSON *e = NULL;
        if (et == TRIT_KV_STRING) {
            const char *s;
            uint64_t n;
            if (trit_reader_kv_arr_str(r, i, j, &s, &n) != TRIT_OK) continue;   /* (unreadable: left out) */
            e = str_json(s, n);
        } else {
            double d = 0;
            trit_reader_kv_arr_f64(r, i, j, &d);
            e = et == TRIT_KV_BOOL ? cJSON_CreateBool(d != 0) : int_json(et, trit_reader_kv(r), i, j, d);
        }
        if (!e || !cJSON_AddItemToArray(arr, e)) {   /* out of memory: NULL, never a shorter array */
            cJSON_Delete(e);
            cJSON_Delete(arr);
            return NULL;
        }
    }
    if (count > 16) {
        /* pad so the summariser sees the declared count; it keeps the first 8 */
        return insp_summarize_array(arr, trit_kv_type_name(et), count);
    }
    return arr;
}

static const char *section_kind_name(uint32_t k)
{
    switch (k) {
    case TRIT_SECTION_TOKENIZER_JSON: return "tokenizer.json";
    case TRIT_SECTION_TOKENIZER_SPM: return "tokenizer.model";
    case TRIT_SECTION_TOKENIZER_KV: return "tokenizer-kv";
    case TRIT_SECTION_CONFIG_JSON: return "config.json";
    case TRIT_SECTION_ACT_SCALES: return "activation-scales";
    case TRIT_SECTION_GOLDEN_LOGITS: return "golden-logits";
    default: return "other";
    }
}

static void add_u64(cJSON *o, const char *k, uint64_t v) { cJSON_AddNumberToObject(o, k, (double)v); }

/* Summary of the activation-scale section (kind 5, spec 9): entries per granularity and at
 * 16 bits, the group sizes and the scale range; {"error": ...} when the section does not parse. */
static cJSON *act_scales_json(const trit_reader *r)
{
    cJSON *o = cJSON_CreateObject();
    trit_act_scales *s = NULL;
    trit_err e;
    trit_err_clear(&e);
    if (trit_reader_act_scales(r, &s, &e) != TRIT_OK) {
        char buf[512];
        cJSON_AddStringToObject(o, "error", trit_err_format(&e, buf, sizeof buf));
        return o;
    }
    uint64_t n_g[4] = {0}, n_scales = 0, n16 = 0;
    double lo = INFINITY, hi = 0;
    cJSON *groups = cJSON_CreateArray();
    for (uint32_t i = 0; i < trit_act_scales_n(s); i++) {
        trit_act_entry const *a = trit_act_scales_at(s, i);
        n_g[a->granularity & 3]++;
        n16 += a->bits == 16;
        n_scales += a->n_scales;
        for (uint32_t k = 0; k < a->n_scales; k++) {
            lo = fmin(lo, (double)a->scales[k]);
            hi = fmax(hi, (double)a->scales[k]);
        }
        int seen = 0;
        for (int k = 0; k < cJSON_GetArraySize(groups); k++) seen |= cJSON_GetArrayItem(groups, k)->valuedouble == a->group_size;
        if (a->granularity == TRIT_ACT_GROUP && !seen) cJSON_AddItemToArray(groups, cJSON_CreateNumber(a->group_size));
    }
    add_u64(o, "entries", trit_act_scales_n(s));
    add_u64(o, "per_tensor", n_g[TRIT_ACT_TENSOR]);
    add_u64(o, "per_channel", n_g[TRIT_ACT_CHANNEL]);
    add_u64(o, "per_group", n_g[TRIT_ACT_GROUP]);
    add_u64(o, "int16", n16);
    cJSON_AddItemToObject(o, "group_sizes", groups);
    add_u64(o, "scales", n_scales);
    if (n_scales) {
        cJSON_AddNumberToObject(o, "scale_min", lo);
        cJSON_AddNumberToObject(o, "scale_max", hi);
    }
    trit_act_scales_free(s);
    return o;
}

/* header_json's adds: *ok becomes 0 when one fails (out of memory). */
static void ok_u64(cJSON *o, int *ok, const char *k, uint64_t v)
{
    if (!cJSON_AddNumberToObject(o, k, (double)v)) *ok = 0;
}

static cJSON *header_json(const trit_reader *r)
{
    trit_file_info const *fi = trit_reader_file_info(r);
    cJSON *h = cJSON_CreateObject();
    if (!h) return NULL;
    int ok = 1;   /* every field or NULL */
    char hex[32];
    ok_u64(h, &ok, "file_size", fi->file_size);
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)fi->header_xxh3);
    insp__ok_str(h, &ok, "header_xxh3", hex);
    ok_u64(h, &ok, "index_offset", fi->index_off);
    ok_u64(h, &ok, "index_size", fi->index_size);
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)fi->index_xxh3);
    insp__ok_str(h, &ok, "index_xxh3", hex);
    ok_u64(h, &ok, "data_offset", fi->data_off);
    ok_u64(h, &ok, "page_align", fi->page_align);
    ok_u64(h, &ok, "tensor_align", fi->tensor_align);
    snprintf(hex, sizeof hex, "0x%llx", (unsigned long long)fi->required_features);
    insp__ok_str(h, &ok, "required_features", hex);
    snprintf(hex, sizeof hex, "0x%llx", (unsigned long long)fi->optional_features);
    insp__ok_str(h, &ok, "optional_features", hex);
    ok_u64(h, &ok, "expert_units", fi->n_units);

    /* bytes per section of the file: they add up to file_size */
    uint64_t dense = 0, unit_stored = 0, unit_decoded = 0, blobs = 0, zstd_units = 0;
    for (uint32_t i = 0; i < fi->n_tensors; i++) {
        trit_tensor_info const *t = trit_reader_tensor(r, i);
        if (t->unit == TRIT_NONE32) dense += t->size;
    }
    for (uint32_t u = 0; u < fi->n_units; u++) {
        trit_unit_info const *un = trit_reader_unit(r, u);
        unit_stored += un->stored_size;
        unit_decoded += un->decoded_size;
        zstd_units += un->storage == TRIT_STORAGE_ZSTD;
    }
    cJSON *secs = cJSON_CreateArray();
    if (!secs || !cJSON_AddItemToObject(h, "sections", secs)) {
        cJSON_Delete(secs);
        cJSON_Delete(h);
        return NULL;
    }
    for (uint32_t s = 0; s < fi->n_sections; s++) {
        trit_section_info const *si = trit_reader_section(r, s);
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(secs, o)) {
            cJSON_Delete(o);
            ok = 0;
            break;
        }
        insp__ok_str(o, &ok, "name", si->name);
        insp__ok_str(o, &ok, "kind", section_kind_name(si->kind));
        ok_u64(o, &ok, "offset", si->offset);
        ok_u64(o, &ok, "size", si->size);
        blobs += si->size;
    }
    if (trit_reader_find_section(r, TRIT_SECTION_ACT_SCALES) >= 0) {
        cJSON *a = act_scales_json(r);
        if (!a || !cJSON_AddItemToObject(h, "activation_scales", a)) {
            cJSON_Delete(a);
            ok = 0;
        }
    }
    cJSON *b = cJSON_CreateObject();
    if (!b || !cJSON_AddItemToObject(h, "bytes", b)) {
        cJSON_Delete(b);
        cJSON_Delete(h);
        return NULL;
    }
    ok_u64(b, &ok, "header", 128);
    ok_u64(b, &ok, "index", fi->index_size);
    ok_u64(b, &ok, "dense_tensors", dense);
    ok_u64(b, &ok, "expert_units_stored", unit_stored);
    ok_u64(b, &ok, "expert_units_decoded", unit_decoded);
    ok_u64(b, &ok, "zstd_units", zstd_units);
    ok_u64(b, &ok, "sections", blobs);
    ok_u64(b, &ok, "padding", fi->file_size - 128 - fi->index_size - dense - unit_stored - blobs);
    if (!ok) {
        cJSON_Delete(h);
        return NULL;
    }
    return h;
}

/* The scale of element e of a scaled tensor (t2, or the int8 output-head copy of spec 6.2 with
 * one scale per row): per tensor, row or group. */
static float elem_scale(const trit_tensor_info *t, const uint8_t *p, uint64_t e)
{
    uint64_t const cols = t->n_dims ? t->dims[t->n_dims - 1] : 1;
    uint64_t const row = cols ? e / cols : 0, col = cols ? e % cols : 0;
    uint64_t si = 0;
    if (t->scale_layout == TRIT_SCALE_ROW) si = row;
    else if (t->scale_layout == TRIT_SCALE_GROUP) si = row * trit_div_ceil(cols, t->group_size) + col / t->group_size;
    float s;
    memcpy(&s, p + t->scales_off + 4 * si, 4);
    return s;
}

/* Value of element e of a decoded tensor image p (whole tensor bytes): what the weight means,
 * codes times their scales where the record has scales. */
static float elem_f32(const trit_tensor_info *t, const uint8_t *p, uint64_t e)
{
    switch (t->type) {
    case TRIT_TYPE_F32: {
        float f;
        memcpy(&f, p + 4 * e, 4);
        return f;
    }
    case TRIT_TYPE_F16: return trit_f16_to_f32((uint16_t)(p[2 * e] | (p[2 * e + 1] << 8)));
    case TRIT_TYPE_BF16: return trit_bf16_to_f32((uint16_t)(p[2 * e] | (p[2 * e + 1] << 8)));
    case TRIT_TYPE_I8: return t->n_scales ? (float)(int8_t)p[e] * elem_scale(t, p, e) : (float)(int8_t)p[e];
    case TRIT_TYPE_U8: return (float)p[e];
    case TRIT_TYPE_I32: {
        int32_t v;
        memcpy(&v, p + 4 * e, 4);
        return (float)v;
    }
    case TRIT_TYPE_T2: {
        uint64_t const cols = t->n_dims ? t->dims[t->n_dims - 1] : 1;
        uint64_t const row = cols ? e / cols : 0, col = cols ? e % cols : 0;
        uint64_t const row_bytes = trit_div_ceil(cols, TRIT_T2_BLOCK_ELEMS) * TRIT_T2_BLOCK_BYTES;
        uint64_t const blk = col / TRIT_T2_BLOCK_ELEMS, r = col % TRIT_T2_BLOCK_ELEMS;
        unsigned const code = (p[row * row_bytes + blk * 32 + r % 32] >> (2 * (r / 32))) & 3u;
        return code == 3 ? NAN : (float)((int)code - 1) * elem_scale(t, p, e);
    }
    case TRIT_TYPE_B3: {   /* spec 6.4: digit n of byte m is weight 160 b + 32 n + m */
        static const uint8_t pow3[5] = {1, 3, 9, 27, 81};
        uint64_t const cols = t->n_dims ? t->dims[t->n_dims - 1] : 1;
        uint64_t const row = cols ? e / cols : 0, col = cols ? e % cols : 0;
        uint64_t const row_bytes = trit_div_ceil(cols, TRIT_B3_BLOCK_ELEMS) * TRIT_B3_BLOCK_BYTES;
        uint64_t const blk = col / TRIT_B3_BLOCK_ELEMS, r = col % TRIT_B3_BLOCK_ELEMS;
        uint8_t const byte = p[row * row_bytes + blk * 32 + r % 32];
        unsigned const digit = ((unsigned)(uint8_t)(byte * pow3[r / 32]) * 3u) >> 8;
        uint64_t si = 0;
        if (t->scale_layout == TRIT_SCALE_ROW) si = row;
        else if (t->scale_layout == TRIT_SCALE_GROUP) si = row * trit_div_ceil(cols, t->group_size) + col / t->group_size;
        float s;
        memcpy(&s, p + t->scales_off + 4 * si, 4);
        return trit_b3_byte_valid(byte) ? (float)((int)digit - 1) * s : NAN;
    }
    default: return NAN;
    }
}

static int trit_read_f32(void *vctx, uint64_t i, uint64_t first, uint64_t n, float *out, trit_err *err)
{
    trit_ctx *c = vctx;
    trit_tensor_info const *t = trit_reader_tensor(c->r, (uint32_t)i);
    const uint8_t *p;
    if (t->unit == TRIT_NONE32) {
        const void *d;
        uint64_t sz;
        int const rc = trit_reader_tensor_data(c->r, (uint32_t)i, &d, &sz, err);
        if (rc) return rc;
        p = d;
    } else {
        if (c->cached_unit != t->unit) {
            free(c->unit_buf);
            c->unit_buf = NULL;
            c->cached_unit = TRIT_NONE32;
            uint64_t sz;
            int const rc = trit_reader_unit_load(c->r, t->unit, &c->unit_buf, &sz, err);
            if (rc) return rc;
            c->cached_unit = t->unit;
        }
        p = (const uint8_t *)c->unit_buf + t->offset;
    }
    if (trit_type_is_block(t->type)) return insp__blk_f32(t, p, first, n, out, err);
    for (uint64_t k = 0; k < n; k++) out[k] = elem_f32(t, p, first + k);
    return TRIT_OK;
}

int insp_open_trit(const char *path, insp_model *m, trit_err *err)
{
    trit_reader *r;
    int rc = trit_reader_open(path, NULL, &r, err);
    if (rc) return rc;
    trit_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        trit_reader_close(r);
        return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    }
    c->r = r;
    c->cached_unit = TRIT_NONE32;
    m->ctx = c;
    m->ctx_free = trit_ctx_free;
    m->read_f32 = trit_read_f32;
    trit_file_info const *fi = trit_reader_file_info(r);
    snprintf(m->format, sizeof m->format, "trit");
    snprintf(m->version, sizeof m->version, "%u.%u", fi->major, fi->minor);
    m->path = strdup(path);
    m->file_bytes = fi->file_size;
    m->kv_count = fi->n_kv;
    m->metadata = cJSON_CreateObject();
    m->header = header_json(r);
    if (!m->path || !m->metadata || !m->header) goto nomem;
    for (uint32_t i = 0; i < fi->n_kv; i++) {
        cJSON *v = insp_trit_kv_json(r, i, INSP_KV_ARRAY_HEAD);
        if (!v) goto nomem;
        if (!cJSON_AddItemToObject(m->metadata, trit_reader_kv_key(r, i), v)) {
            cJSON_Delete(v);
            goto nomem;
        }
    }
    for (uint32_t i = 0; i < fi->n_tensors; i++) {
        trit_tensor_info const *t = trit_reader_tensor(r, i);
        insp_tensor *row = insp_model_add_tensor(m, t->name);
        if (!row) goto nomem;
        char const *tn = trit_type_name(t->type);
        if (tn) snprintf(row->type, sizeof row->type, "%s", tn);
        else snprintf(row->type, sizeof row->type, "type%u", t->type);
        row->n_dims = t->n_dims;
        memcpy(row->dims, t->dims, sizeof row->dims);
        row->nbytes = t->size;
        row->layer = t->layer;
        row->expert = t->expert;
        row->unit = t->unit;
        if (t->unit == TRIT_NONE32) {
            row->offset = t->offset;
        } else {
            snprintf(row->storage, sizeof row->storage, "%s",
                     t->storage == TRIT_STORAGE_ZSTD ? "zstd" : "raw");
        }
        row->readable = tn != NULL;
    }
    return TRIT_OK;
nomem:
    return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
}
