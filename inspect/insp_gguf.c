/* insp_gguf.c - `trit inspect` for GGUF: turns a src_gguf handle into an insp_model.
 *
 * Metadata becomes a JSON object key -> value; arrays longer than INSP_GGUF_ARRAY_INLINE
 * elements are summarised as {"type":"array","elem_type":...,"count":N,"head":[first 8]} so a
 * 256k-token vocabulary does not flood the report. Shapes are shown outermost-first (reversed
 * ne), with ne kept in ne_native. The handle stays open as the model's ctx for --stats. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "src_gguf.h"
#include "insp.h"
#include "insp_json.h"

#define INSP_GGUF_ARRAY_INLINE 16u   /* arrays up to this many elements are shown whole */
#define INSP_GGUF_ARRAY_HEAD 8u      /* elements shown of a longer array */
#define JSON_EXACT_INT (1ull << 53)  /* larger integers are given as strings (doubles would round) */

/* Copy n bytes of a GGUF string into a NUL-terminated UTF-8 string, replacing NUL bytes and
 * invalid sequences with U+FFFD so the JSON output stays valid. Caller frees. */
static char *utf8_copy(const uint8_t *s, uint64_t n)
{
    if (n > (SIZE_MAX - 1) / 3) return NULL;
    char *out = malloc((size_t)n * 3 + 1);   /* each bad byte grows to 3 */
    if (!out) return NULL;
    size_t o = 0;
    for (uint64_t i = 0; i < n;) {
        uint8_t const c = s[i];
        unsigned len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        int ok = c != 0 && len > 0 && (uint64_t)len <= n - i;
        for (unsigned k = 1; ok && k < len; k++) ok = (s[i + k] & 0xC0) == 0x80;
        if (ok && len == 2) ok = c >= 0xC2;                                     /* overlong */
        if (ok && len == 3) {
            uint8_t const c1 = s[i + 1];
            ok = !(c == 0xE0 && c1 < 0xA0) && !(c == 0xED && c1 >= 0xA0);       /* overlong, surrogates */
        }
        if (ok && len == 4) {
            uint8_t const c1 = s[i + 1];
            ok = c <= 0xF4 && !(c == 0xF0 && c1 < 0x90) && !(c == 0xF4 && c1 >= 0x90);
        }
        if (ok) {
            memcpy(out + o, s + i, len);
            o += len;
            i += len;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        }
    }
    out[o] = '\0';
    return out;
}

static cJSON *json_of_val(const src_gguf_val *v);

/* JSON for an array value: the elements, or the summary object for long arrays. Caller owns
 * the result (cJSON_Delete); NULL on allocation failure. */
static cJSON *json_array(const src_gguf_val *v)
{
    int const summary = v->count > INSP_GGUF_ARRAY_INLINE;
    uint64_t const shown = summary ? INSP_GGUF_ARRAY_HEAD : v->count;
    cJSON *items = cJSON_CreateArray();
    src_gguf_iter it;
    src_gguf_val e;
    if (!items) return NULL;
    src_gguf_iter_init(&it, v);
    for (uint64_t j = 0; j < shown && src_gguf_iter_next(&it, &e); j++) {
        cJSON *x = json_of_val(&e);
        if (!x || !cJSON_AddItemToArray(items, x)) {
            cJSON_Delete(x);
            cJSON_Delete(items);
            return NULL;
        }
    }
    if (!summary) return items;
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, "type", "array") ||
        !cJSON_AddStringToObject(o, "elem_type", src_gguf_type_name(v->elem_type)) ||
        !cJSON_AddNumberToObject(o, "count", (double)v->count) || !cJSON_AddItemToObject(o, "head", items)) {
        cJSON_Delete(o);
        cJSON_Delete(items);
        return NULL;
    }
    return o;
}

/* JSON for one value. Caller owns the result (cJSON_Delete); NULL on allocation failure. */
static cJSON *json_of_val(const src_gguf_val *v)
{
    uint64_t u;
    int64_t s;
    double d;
    int b;
    char num[32];
    switch (v->type) {
    case SRC_GGUF_BOOL:
        src_gguf_val_bool(v, &b);
        return cJSON_CreateBool(b);
    case SRC_GGUF_FLOAT32: case SRC_GGUF_FLOAT64:
        src_gguf_val_f64(v, &d);
        return cJSON_CreateNumber(d);
    case SRC_GGUF_STRING: {
        char *c = utf8_copy(v->p, v->count);
        cJSON *x = c ? cJSON_CreateString(c) : NULL;
        free(c);
        return x;
    }
    case SRC_GGUF_ARRAY:
        return json_array(v);
    default:
        break;
    }
    if (src_gguf_val_i64(v, &s) == TRIT_OK) {
        if (s >= -(int64_t)JSON_EXACT_INT && s <= (int64_t)JSON_EXACT_INT) return cJSON_CreateNumber((double)s);
        snprintf(num, sizeof num, "%lld", (long long)s);
        return cJSON_CreateString(num);
    }
    if (src_gguf_val_u64(v, &u) == TRIT_OK) {   /* uint64 above INT64_MAX */
        snprintf(num, sizeof num, "%llu", (unsigned long long)u);
        return cJSON_CreateString(num);
    }
    return cJSON_CreateNull();
}

/* "blk.12.attn_q.weight" -> 12; TRIT_NONE32 when the name has no layer. */
static uint32_t layer_of(const char *name, const char **rest)
{
    if (strncmp(name, "blk.", 4) != 0 || name[4] < '0' || name[4] > '9') return TRIT_NONE32;
    uint64_t n = 0;
    const char *p = name + 4;
    for (; *p >= '0' && *p <= '9'; p++) {
        n = n * 10 + (uint64_t)(*p - '0');
        if (n >= TRIT_NONE32) return TRIT_NONE32;
    }
    if (*p != '.') return TRIT_NONE32;
    *rest = p + 1;
    return (uint32_t)n;
}

/* Pre-2024 per-expert tensors "blk.N.ffn_gate.E.weight" (formats.md 1.11) carry expert E. */
static uint32_t expert_of(const char *rest)
{
    static const char *const heads[] = {"ffn_gate.", "ffn_up.", "ffn_down."};
    for (size_t k = 0; k < sizeof heads / sizeof heads[0]; k++) {
        size_t const l = strlen(heads[k]);
        if (strncmp(rest, heads[k], l) != 0) continue;
        const char *p = rest + l;
        uint64_t e = 0;
        if (*p < '0' || *p > '9') return TRIT_NONE32;
        for (; *p >= '0' && *p <= '9'; p++) {
            e = e * 10 + (uint64_t)(*p - '0');
            if (e >= TRIT_NONE32) return TRIT_NONE32;
        }
        return *p == '.' ? (uint32_t)e : TRIT_NONE32;
    }
    return TRIT_NONE32;
}

static int gguf_read_f32(void *ctx, uint64_t i, uint64_t first, uint64_t n, float *out, trit_err *err)
{
    return src_gguf_to_f32((const src_gguf *)ctx, i, first, n, out, err);
}

static void gguf_ctx_free(void *ctx) { src_gguf_close((src_gguf *)ctx); }

static int fill_metadata(const src_gguf *h, insp_model *m)
{
    if (!(m->metadata = cJSON_CreateObject())) return TRIT_E_NOMEM;
    for (uint64_t i = 0; i < src_gguf_n_kv(h); i++) {
        src_gguf_val v;
        src_gguf_kv_val(h, i, &v);
        cJSON *x = json_of_val(&v);
        char *key = utf8_copy((const uint8_t *)src_gguf_kv_key(h, i), strlen(src_gguf_kv_key(h, i)));
        int const ok = x && key && cJSON_AddItemToObject(m->metadata, key, x);
        free(key);
        if (!ok) {
            cJSON_Delete(x);
            return TRIT_E_NOMEM;
        }
    }
    return TRIT_OK;
}

/* Expert counts from "{arch}.expert_count" style keys, if present. */
static void add_arch_u64(const src_gguf *h, cJSON *o, int *ok, const char *suffix, const char *field)
{
    char key[160];
    uint64_t v;
    snprintf(key, sizeof key, "%s.%s", src_gguf_arch(h), suffix);
    int64_t const i = src_gguf_find_kv(h, key);
    if (i >= 0 && src_gguf_kv_u64(h, (uint64_t)i, &v) == TRIT_OK) insp__ok_num(o, ok, field, (double)v);
}

static int fill_header(const src_gguf *h, insp_model *m, uint64_t n_exps, uint64_t n_per_expert)
{
    cJSON *hd = m->header = cJSON_CreateObject();
    cJSON *files = cJSON_CreateArray();
    if (!hd || !files) {
        cJSON_Delete(files);
        return TRIT_E_NOMEM;
    }
    int ok = 1;
    insp__ok_num(hd, &ok, "alignment", (double)src_gguf_alignment(h));
    insp__ok_num(hd, &ok, "data_offset", (double)src_gguf_data_offset(h, 0));
    insp__ok_num(hd, &ok, "tensor_count", (double)src_gguf_n_tensors(h));
    if (src_gguf_arch(h)[0]) insp__ok_str(hd, &ok, "architecture", src_gguf_arch(h));
    if (src_gguf_is_bitnet_fork(h)) insp__ok_item(hd, &ok, "bitnet_fork_types", cJSON_CreateBool(1));
    insp__ok_num(hd, &ok, "split_count", (double)src_gguf_n_files(h));
    insp__ok_item(hd, &ok, "files", files);
    if (!ok) return TRIT_E_NOMEM;
    for (uint32_t f = 0; f < src_gguf_n_files(h); f++) {
        cJSON *fo = cJSON_CreateObject();
        if (!fo || !cJSON_AddItemToArray(files, fo)) {
            cJSON_Delete(fo);
            return TRIT_E_NOMEM;
        }
        insp__ok_str(fo, &ok, "path", src_gguf_file_path(h, f));
        insp__ok_num(fo, &ok, "bytes", (double)src_gguf_file_size(h, f));
        insp__ok_num(fo, &ok, "data_offset", (double)src_gguf_data_offset(h, f));
    }
    if (n_exps || n_per_expert) {
        cJSON *moe = cJSON_CreateObject();
        insp__ok_item(hd, &ok, "moe", moe);
        if (!ok) return TRIT_E_NOMEM;
        insp__ok_num(moe, &ok, "expert_tensors", (double)n_exps);
        if (n_per_expert) insp__ok_num(moe, &ok, "per_expert_tensors", (double)n_per_expert);
        add_arch_u64(h, moe, &ok, "expert_count", "expert_count");
        add_arch_u64(h, moe, &ok, "expert_used_count", "expert_used_count");
    }
    return ok ? TRIT_OK : TRIT_E_NOMEM;
}

static int fill_tensors(const src_gguf *h, insp_model *m, uint64_t *n_exps, uint64_t *n_per_expert)
{
    for (uint64_t i = 0; i < src_gguf_n_tensors(h); i++) {
        const src_gguf_tensor_info *t = src_gguf_tensor(h, i);
        insp_tensor *r = insp_model_add_tensor(m, t->name);
        if (!r) return TRIT_E_NOMEM;
        snprintf(r->type, sizeof r->type, "%s", t->type_name);
        r->n_dims = t->n_dims;
        r->has_ne = 1;
        for (uint32_t d = 0; d < t->n_dims; d++) {
            r->ne_native[d] = t->ne[d];
            r->dims[d] = t->ne[t->n_dims - 1 - d];
        }
        r->nbytes = t->nbytes;
        r->offset = t->offset;
        r->file_index = (int)t->file;
        const char *rest = NULL;
        r->layer = layer_of(t->name, &rest);
        r->expert = rest ? expert_of(rest) : TRIT_NONE32;
        if (r->expert != TRIT_NONE32) (*n_per_expert)++;
        /* 3-D stacks of experts: one tensor per projection per layer, expert left NONE */
        if (rest && t->n_dims == 3 && strstr(rest, "_exps")) (*n_exps)++;
        r->readable = src_gguf_can_decode(h, i);
    }
    return TRIT_OK;
}

int insp_open_gguf(const char *path, insp_model *m, trit_err *err)
{
    src_gguf *h;
    int rc = src_gguf_open(path, NULL, &h, err);
    if (rc) return rc;
    uint64_t n_exps = 0, n_per_expert = 0;
    snprintf(m->format, sizeof m->format, "gguf");
    snprintf(m->version, sizeof m->version, "%u", src_gguf_version(h));
    m->kv_count = src_gguf_n_kv(h);
    for (uint32_t f = 0; f < src_gguf_n_files(h); f++) m->file_bytes += src_gguf_file_size(h, f);
    size_t const pl = strlen(path) + 1;
    if ((m->path = malloc(pl)) != NULL) memcpy(m->path, path, pl);
    rc = m->path ? TRIT_OK : TRIT_E_NOMEM;
    if (rc == TRIT_OK) rc = fill_metadata(h, m);
    if (rc == TRIT_OK) rc = fill_tensors(h, m, &n_exps, &n_per_expert);
    if (rc == TRIT_OK) rc = fill_header(h, m, n_exps, n_per_expert);
    if (rc) {
        insp_model_free(m);    /* ctx is not set yet: the handle is closed here */
        src_gguf_close(h);
        trit_err_set(err, rc, TRIT_NO_OFFSET, NULL, "out of memory while building the report");
        trit_err_file(err, path);
        return rc;
    }
    m->read_f32 = gguf_read_f32;
    m->ctx = h;
    m->ctx_free = gguf_ctx_free;
    return TRIT_OK;
}
