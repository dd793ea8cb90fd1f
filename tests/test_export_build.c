/*
 * test_export_build.c - containers for the export tests and the conformance tool, written
 * through libtrit: a GGUF file re-expressed as a container (txb_from_gguf), and synthetic
 * ternary dense / MoE models (txb_synth_write). Tiny models only: tensors are built in memory.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src_gguf.h"
#include "src_ggml_types.h"
#include "test_export_build.h"
#include "trit_safemath.h"

#define TRY(x) do { if ((rc = (x)) != TRIT_OK) goto out; } while (0)
#define NOMEM() trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory")

/* One tensor to write: its description and its bytes (owned). */
typedef struct item {
    char name[96];
    trit_tensor_info ti;
    uint8_t *bytes;
    uint32_t layer, expert;    /* expert == TRIT_NONE32 for dense */
    uint32_t id;
} item;

typedef struct list {
    item *v;
    uint32_t n, cap;
} list;

static item *push(list *l)
{
    if (l->n == l->cap) {
        uint32_t const c = l->cap ? l->cap * 2 : 64;
        item *v = realloc(l->v, c * sizeof *v);
        if (!v) return NULL;
        l->v = v;
        l->cap = c;
    }
    item *it = &l->v[l->n++];
    memset(it, 0, sizeof *it);
    it->layer = it->expert = TRIT_NONE32;
    return it;
}

static void list_free(list *l)
{
    for (uint32_t i = 0; i < l->n; i++) free(l->v[i].bytes);
    free(l->v);
}

/* neox row that normal-RoPE row r (head_dim hd, whole head rotated) comes from; the inverse
 * of convert_hf_to_gguf.py's permute. */
static uint64_t neox_row(uint64_t r, uint64_t hd)
{
    uint64_t const h = r / hd, j = r % hd;
    return h * hd + (j % 2) * (hd / 2) + j / 2;
}

/* Fill in geometry and layout; codes (rows * row_bytes) and scales become it->bytes. */
static int finish_t2(item *it, const uint8_t *codes, const float *scales, trit_err *err)
{
    trit_tensor_info *t = &it->ti;
    t->name = it->name;
    trit_type_geometry(t->type, &t->block_elems, &t->block_bytes);
    int rc = trit_tensor_layout(t, err);
    if (rc) return rc;
    it->bytes = calloc(1, (size_t)t->size + 1);
    if (!it->bytes) return NOMEM();
    uint64_t nel = 0;
    trit_tensor_nelems(t, &nel);
    uint64_t const cols = t->n_dims ? t->dims[t->n_dims - 1] : 1;
    memcpy(it->bytes, codes, (size_t)(cols ? nel / cols * trit_div_ceil(cols, 128) * 32 : 0));
    for (uint64_t k = 0; k < t->n_scales; k++) memcpy(it->bytes + t->scales_off + 4 * k, &scales[k], 4);
    return TRIT_OK;
}

static float f16_at(const uint8_t *p) { return trit_f16_to_f32((uint16_t)(p[0] | p[1] << 8)); }

/* Slice e of n_slices of GGUF tensor gi as a container tensor (dims outermost first). */
static int from_slice(src_gguf *g, uint64_t gi, uint64_t e, uint64_t n_slices, uint64_t perm_hd, item *it, trit_err *err)
{
    const src_gguf_tensor_info *gt = src_gguf_tensor(g, gi);
    trit_tensor_info *t = &it->ti;
    uint64_t const cols = gt->ne[0], rows = gt->n_elems / cols / n_slices, nbytes = gt->nbytes / n_slices;
    uint8_t *raw = malloc((size_t)nbytes + 1), *codes = NULL;
    float *d = NULL, *f = NULL;
    int8_t *tv = NULL;
    int rc = raw ? src_gguf_read(g, gi, e * nbytes, raw, nbytes, err) : NOMEM();
    if (rc) goto out;
    t->n_dims = n_slices > 1 ? 2 : gt->n_dims;
    for (uint32_t k = 0; k < t->n_dims; k++) t->dims[k] = gt->ne[t->n_dims - 1 - k];
    if (gt->type == SRC_GGML_F32 || gt->type == SRC_GGML_F16 || gt->type == SRC_GGML_BF16) {
        t->type = gt->type == SRC_GGML_F32 ? TRIT_TYPE_F32 : gt->type == SRC_GGML_F16 ? TRIT_TYPE_F16 : TRIT_TYPE_BF16;
        uint64_t const rb = nbytes / (rows ? rows : 1);
        if (perm_hd) {
            uint8_t *p = malloc((size_t)nbytes + 1);
            if (!p) { rc = NOMEM(); goto out; }
            for (uint64_t r = 0; r < rows; r++) memcpy(p + neox_row(r, perm_hd) * rb, raw + r * rb, (size_t)rb);
            free(raw);
            raw = p;
        }
        t->name = it->name;
        trit_type_geometry(t->type, &t->block_elems, &t->block_bytes);
        if ((rc = trit_tensor_layout(t, err))) goto out;
        it->bytes = raw;
        raw = NULL;
        goto out;
    }
    if (gt->type != SRC_GGML_TQ2_0 && gt->type != SRC_GGML_TQ1_0) {
        rc = trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, gt->name, "type %s", gt->type_name);
        goto out;
    }
    uint64_t const nb = rows * cols / 256, bb = gt->type == SRC_GGML_TQ2_0 ? 66 : 54, row_bytes = cols / 128 * 32;
    codes = malloc((size_t)(rows * row_bytes) + 1);
    d = malloc((size_t)nb * sizeof *d + 4);
    f = malloc(256 * sizeof *f);
    tv = malloc(256);
    if (!codes || !d || !f || !tv) { rc = NOMEM(); goto out; }
    int same = 1;
    for (uint64_t b = 0; b < nb; b++) {
        uint64_t const r = b / (cols / 256), dst_r = perm_hd ? neox_row(r, perm_hd) : r;
        uint64_t const dst_b = dst_r * (cols / 256) + b % (cols / 256);
        const uint8_t *blk = raw + b * bb;
        d[dst_b] = f16_at(blk + bb - 2);
        if (gt->type == SRC_GGML_TQ2_0) {
            memcpy(codes + dst_b * 64, blk, 64);
        } else {
            if ((rc = src_ggml_dequant(SRC_GGML_TQ1_0, blk, 1, f, err))) goto out;
            for (int k = 0; k < 256; k++) tv[k] = d[dst_b] != 0.0f ? (int8_t)lroundf(f[k] / d[dst_b]) : 0;
            trit_t2_pack_row(tv, 256, codes + dst_b * 64);
        }
    }
    for (uint64_t b = 1; b < nb; b++) same &= d[b] == d[0];
    t->type = TRIT_TYPE_T2;
    t->scale_type = TRIT_SCALE_TYPE_F32;
    t->scale_layout = same ? TRIT_SCALE_TENSOR : TRIT_SCALE_GROUP;
    t->group_size = same ? 0 : 256;
    rc = finish_t2(it, codes, d, err);
out:
    free(raw);
    free(codes);
    free(d);
    free(f);
    free(tv);
    return rc;
}

static uint32_t trit_kv_of(uint32_t gguf_type)
{
    static const uint32_t map[] = {TRIT_KV_U8, TRIT_KV_I8, TRIT_KV_U16, TRIT_KV_I16, TRIT_KV_U32, TRIT_KV_I32,
                                   TRIT_KV_F32, TRIT_KV_BOOL, TRIT_KV_STRING, TRIT_KV_ARRAY, TRIT_KV_U64,
                                   TRIT_KV_I64, TRIT_KV_F64};
    return gguf_type < 13 ? map[gguf_type] : UINT32_MAX;
}

/* Copy GGUF KV i into the kind-3 buffer, keeping its type as closely as the builder allows. */
static int copy_kv(src_gguf *g, uint64_t i, trit_kvbuf *b, trit_err *err)
{
    const char *key = src_gguf_kv_key(g, i);
    uint32_t elem = 0;
    uint64_t count = 0, u;
    int64_t iv;
    double fv;
    const char *s;
    uint64_t n;
    int rc = TRIT_OK;
    switch (src_gguf_kv_type(g, i, &elem, &count)) {
    case SRC_GGUF_STRING: src_gguf_kv_str(g, i, &s, &n); return trit_kvbuf_str(b, key, s, n, err);
    case SRC_GGUF_BOOL: src_gguf_kv_u64(g, i, &u); return trit_kvbuf_bool(b, key, (int)u, err);
    case SRC_GGUF_FLOAT32: src_gguf_kv_f64(g, i, &fv); return trit_kvbuf_f32(b, key, (float)fv, err);
    case SRC_GGUF_FLOAT64: src_gguf_kv_f64(g, i, &fv); return trit_kvbuf_f64(b, key, fv, err);
    case SRC_GGUF_UINT64: src_gguf_kv_u64(g, i, &u); return trit_kvbuf_u64(b, key, u, err);
    case SRC_GGUF_UINT8: case SRC_GGUF_UINT16: case SRC_GGUF_UINT32:
        src_gguf_kv_u64(g, i, &u);
        return trit_kvbuf_u32(b, key, (uint32_t)u, err);
    case SRC_GGUF_INT8: case SRC_GGUF_INT16: case SRC_GGUF_INT32: case SRC_GGUF_INT64:
        src_gguf_kv_i64(g, i, &iv);
        return trit_kvbuf_i32(b, key, (int32_t)iv, err);
    case SRC_GGUF_ARRAY: break;
    default: return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, key, "type");
    }
    if (elem == SRC_GGUF_STRING) {
        const char **strs = malloc((size_t)count * sizeof *strs + 1);
        uint64_t *lens = malloc((size_t)count * sizeof *lens + 1);
        if (!strs || !lens) rc = NOMEM();
        for (uint64_t j = 0; rc == TRIT_OK && j < count; j++) src_gguf_kv_arr_str(g, i, j, &strs[j], &lens[j]);
        if (rc == TRIT_OK) rc = trit_kvbuf_arr_str(b, key, strs, lens, count, err);
        free(strs);
        free(lens);
        return rc;
    }
    uint32_t const te = trit_kv_of(elem);
    uint8_t *vals = malloc((size_t)count * 8 + 1);
    if (!vals) return NOMEM();
    for (uint64_t j = 0; j < count; j++) {
        uint8_t *p = vals;
        if (te == TRIT_KV_F32 || te == TRIT_KV_F64) {
            src_gguf_kv_arr_f64(g, i, j, &fv);
            float const ff = (float)fv;
            if (te == TRIT_KV_F32) memcpy(p + 4 * j, &ff, 4);
            else memcpy(p + 8 * j, &fv, 8);
            continue;
        }
        src_gguf_kv_arr_i64(g, i, j, &iv);
        switch (te) {
        case TRIT_KV_U8: case TRIT_KV_I8: case TRIT_KV_BOOL: p[j] = (uint8_t)iv; break;
        case TRIT_KV_U16: case TRIT_KV_I16: { uint16_t const v = (uint16_t)iv; memcpy(p + 2 * j, &v, 2); break; }
        case TRIT_KV_U32: case TRIT_KV_I32: { uint32_t const v = (uint32_t)iv; memcpy(p + 4 * j, &v, 4); break; }
        default: memcpy(p + 8 * j, &iv, 8); break;
        }
    }
    rc = trit_kvbuf_arr(b, key, te, vals, count, err);
    free(vals);
    return rc;
}

static int gkv_u64(src_gguf *g, const char *arch, const char *suffix, uint64_t *v)
{
    char k[128];
    snprintf(k, sizeof k, "%s.%s", arch, suffix);
    int64_t const i = src_gguf_find_kv(g, k);
    return i >= 0 && src_gguf_kv_u64(g, (uint64_t)i, v) == TRIT_OK;
}

static int gkv_f64(src_gguf *g, const char *arch, const char *suffix, double *v)
{
    char k[128];
    snprintf(k, sizeof k, "%s.%s", arch, suffix);
    int64_t const i = src_gguf_find_kv(g, k);
    return i >= 0 && src_gguf_kv_f64(g, (uint64_t)i, v) == TRIT_OK;
}

/* Declare everything, then write dense tensors, units (members in list order), section. */
static int write_container(const char *out, list *l, const char *arch, int (*kvs)(trit_writer *, const void *, trit_err *),
                           const void *kctx, const trit_kvbuf *tok, int raw_units, trit_err *err)
{
    trit_writer *w = NULL;
    trit_write_opts wo = {0};
    wo.overwrite = 1;
    uint32_t n_units = 0, sec = 0;
    uint32_t *unit_of = calloc(l->n + 1, sizeof *unit_of);
    int rc = unit_of ? trit_writer_open(out, &wo, &w, err) : NOMEM();
    if (rc) goto out;
    TRY(trit_writer_kv_str(w, "general.architecture", arch, strlen(arch), err));
    TRY(kvs(w, kctx, err));
    if (tok) TRY(trit_writer_add_section(w, "tokenizer", TRIT_SECTION_TOKENIZER_KV, &sec, err));
    for (uint32_t i = 0; i < l->n; i++) {
        item *it = &l->v[i];
        unit_of[i] = TRIT_NONE32;
        if (it->expert == TRIT_NONE32) continue;
        for (uint32_t j = 0; j < i; j++)
            if (l->v[j].expert == it->expert && l->v[j].layer == it->layer) { unit_of[i] = unit_of[j]; break; }
        if (unit_of[i] == TRIT_NONE32) {
            TRY(trit_writer_add_unit(w, it->layer, it->expert, raw_units ? TRIT_STORAGE_RAW : TRIT_STORAGE_ZSTD, &unit_of[i], err));
            n_units++;
        }
    }
    for (uint32_t i = 0; i < l->n; i++) {
        l->v[i].ti.name = l->v[i].name;
        l->v[i].ti.unit = unit_of[i];
        l->v[i].ti.layer = l->v[i].layer;
        TRY(trit_writer_add_tensor(w, &l->v[i].ti, &l->v[i].id, err));
    }
    for (uint32_t i = 0; i < l->n; i++)
        if (unit_of[i] == TRIT_NONE32) TRY(trit_writer_write_tensor(w, l->v[i].id, l->v[i].bytes, l->v[i].ti.size, err));
    for (uint32_t u = 0; u < n_units; u++) {
        TRY(trit_writer_unit_begin(w, u, err));
        for (uint32_t i = 0; i < l->n; i++)
            if (unit_of[i] == u) TRY(trit_writer_write_tensor(w, l->v[i].id, l->v[i].bytes, l->v[i].ti.size, err));
        TRY(trit_writer_unit_end(w, err));
    }
    if (tok) {
        const void *data;
        uint64_t len;
        TRY(trit_kvbuf_data(tok, &data, &len, err));
        TRY(trit_writer_write_section(w, sec, data, len, err));
    }
    rc = trit_writer_finish(w, err);
    w = NULL;
out:
    trit_writer_abort(w);
    free(unit_of);
    return rc;
}

/* ---- GGUF -> container --------------------------------------------------------------------- */

typedef struct gctx {
    src_gguf *g;
    const char *arch;
} gctx;

static int gguf_kvs(trit_writer *w, const void *ctx, trit_err *err)
{
    const gctx *c = ctx;
    src_gguf *g = c->g;
    const char *a = c->arch;
    uint64_t v, n_embd = 0, n_head = 0;
    double f;
    int rc = TRIT_OK;
    static const struct { const char *gk, *tk; } u32s[] = {
        {"block_count", "model.n_layer"}, {"embedding_length", "model.n_embd"}, {"feed_forward_length", "model.n_ff"},
        {"attention.head_count", "model.n_head"}, {"attention.head_count_kv", "model.n_head_kv"},
        {"context_length", "model.n_ctx"}, {"expert_count", "moe.n_expert"},
        {"expert_used_count", "moe.n_expert_used"}, {"expert_feed_forward_length", "moe.n_ff_expert"},
    };
    for (size_t i = 0; i < sizeof u32s / sizeof u32s[0]; i++)
        if (gkv_u64(g, a, u32s[i].gk, &v)) TRY(trit_writer_kv_u32(w, u32s[i].tk, (uint32_t)v, err));
    gkv_u64(g, a, "embedding_length", &n_embd);
    gkv_u64(g, a, "attention.head_count", &n_head);
    uint64_t hd = n_head ? n_embd / n_head : 0;
    gkv_u64(g, a, "attention.key_length", &hd);
    TRY(trit_writer_kv_u32(w, "model.head_dim", (uint32_t)hd, err));
    if (gkv_u64(g, a, "rope.dimension_count", &v)) TRY(trit_writer_kv_u32(w, "model.rope_dim", (uint32_t)v, err));
    if (gkv_f64(g, a, "attention.layer_norm_rms_epsilon", &f)) TRY(trit_writer_kv_f32(w, "model.norm_eps", (float)f, err));
    if (!gkv_f64(g, a, "rope.freq_base", &f)) f = 10000.0;
    TRY(trit_writer_kv_f32(w, "model.rope_theta", (float)f, err));
    TRY(trit_writer_kv_str(w, "model.rope_layout", "neox", 4, err));
    TRY(trit_writer_kv_str(w, "model.hidden_act", "silu", 4, err));
    int64_t const tk = src_gguf_find_kv(g, "tokenizer.ggml.tokens");
    if (tk >= 0) {
        src_gguf_kv_type(g, (uint64_t)tk, NULL, &v);
        TRY(trit_writer_kv_u32(w, "model.n_vocab", (uint32_t)v, err));
    }
    if (gkv_u64(g, a, "expert_count", &v) && v) {
        TRY(trit_writer_kv_str(w, "moe.gating", "softmax", 7, err));
        TRY(trit_writer_kv_bool(w, "moe.norm_topk", !strcmp(a, "qwen3moe") || !strcmp(a, "llama"), err));
    }
out:
    return rc;
}

static int parse_exps(const char *name, unsigned *layer, char proj[8])
{
    int k = 0;
    return sscanf(name, "blk.%u.ffn_%7[a-z]_exps.weight%n", layer, proj, &k) == 2 && name[k] == '\0';
}

int txb_from_gguf(const char *path, const char *out, trit_err *err)
{
    src_gguf *g = NULL;
    list l = {0};
    trit_kvbuf *tok = trit_kvbuf_new();
    int rc = tok ? src_gguf_open(path, NULL, &g, err) : NOMEM();
    if (rc) goto out;
    const char *arch = src_gguf_arch(g);
    uint64_t n_embd = 0, n_head = 0, hd;
    gkv_u64(g, arch, "embedding_length", &n_embd);
    gkv_u64(g, arch, "attention.head_count", &n_head);
    hd = n_head ? n_embd / n_head : 0;
    gkv_u64(g, arch, "attention.key_length", &hd);
    int const norm = !strcmp(arch, "llama");
    for (uint64_t i = 0; i < src_gguf_n_kv(g); i++)
        if (!strncmp(src_gguf_kv_key(g, i), "tokenizer.", 10)) TRY(copy_kv(g, i, tok, err));
    for (uint64_t i = 0; i < src_gguf_n_tensors(g); i++) {
        const src_gguf_tensor_info *gt = src_gguf_tensor(g, i);
        unsigned layer;
        char proj[8];
        if (gt->n_dims == 3 && parse_exps(gt->name, &layer, proj)) {
            for (uint64_t e = 0; e < gt->ne[2]; e++) {
                item *it = push(&l);
                if (!it) { rc = NOMEM(); goto out; }
                snprintf(it->name, sizeof it->name, "blk.%u.ffn_%s.%llu.weight", layer, proj, (unsigned long long)e);
                it->layer = layer;
                it->expert = (uint32_t)e;
                TRY(from_slice(g, i, e, gt->ne[2], 0, it, err));
            }
            continue;
        }
        item *it = push(&l);
        if (!it) { rc = NOMEM(); goto out; }
        snprintf(it->name, sizeof it->name, "%s", gt->name);
        if (sscanf(gt->name, "blk.%u.", &layer) == 1) it->layer = layer;
        int const qk = norm && (strstr(gt->name, ".attn_q.weight") || strstr(gt->name, ".attn_k.weight"));
        TRY(from_slice(g, i, 0, 1, qk ? hd : 0, it, err));
    }
    gctx c = {g, arch};
    rc = write_container(out, &l, arch, gguf_kvs, &c, tok, 0, err);
out:
    src_gguf_close(g);
    trit_kvbuf_free(tok);
    list_free(&l);
    return rc;
}

/* ---- synthetic ternary models -------------------------------------------------------------- */

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint64_t name_seed(uint64_t seed, const char *name)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *p = name; *p; p++) h = (h ^ (uint8_t)*p) * 1099511628211ull;
    return mix(seed ^ h);
}

/* A scale exact in f16 and f32: (8 + k) / 2^(6 + j), k in 0..7, j in 0..3. */
static float synth_scale(uint64_t h) { return (float)(8 + (h & 7)) / (float)(1u << (6 + ((h >> 3) & 3))); }

void txb_synth_default(txb_synth *s, const char *arch)
{
    memset(s, 0, sizeof *s);
    s->arch = arch;
    s->n_layer = 2;
    s->n_embd = 256;
    s->n_head = 4;
    s->n_head_kv = 2;
    s->n_ff = 512;
    s->n_vocab = 300;
    s->scale_layout = TRIT_SCALE_TENSOR;
    s->seed = 7;
    if (!strcmp(arch, "qwen3moe")) {
        s->n_expert = 4;
        s->n_expert_used = 2;
    }
}

static int add_float(list *l, const txb_synth *s, const char *name, uint32_t type, uint64_t d0, uint64_t d1, int norm, uint32_t layer)
{
    item *it = push(l);
    if (!it) return TRIT_E_NOMEM;
    snprintf(it->name, sizeof it->name, "%s", name);
    it->layer = layer;
    trit_tensor_info *t = &it->ti;
    t->type = type;
    t->n_dims = d1 ? 2 : 1;
    t->dims[0] = d0;
    t->dims[1] = d1;
    t->name = it->name;
    trit_type_geometry(type, &t->block_elems, &t->block_bytes);
    if (trit_tensor_layout(t, NULL)) return TRIT_E_LIMIT;
    uint64_t const n = d0 * (d1 ? d1 : 1), hs = name_seed(s->seed, name);
    it->bytes = malloc((size_t)t->size + 1);
    if (!it->bytes) return TRIT_E_NOMEM;
    for (uint64_t i = 0; i < n; i++) {
        float const v = (norm ? 1.0f : 0.0f) + ((float)(mix(hs + i) % 2001) - 1000.0f) / (norm ? 10000.0f : 2000.0f);
        if (type == TRIT_TYPE_F32) memcpy(it->bytes + 4 * i, &v, 4);
        else {
            uint16_t const h = trit_f32_to_f16(v);
            it->bytes[2 * i] = (uint8_t)h;
            it->bytes[2 * i + 1] = (uint8_t)(h >> 8);
        }
    }
    return TRIT_OK;
}

static int add_t2(list *l, const txb_synth *s, const char *name, uint64_t rows, uint64_t cols, uint32_t layer,
                  uint32_t expert, trit_err *err)
{
    item *it = push(l);
    if (!it) return NOMEM();
    snprintf(it->name, sizeof it->name, "%s", name);
    it->layer = layer;
    it->expert = expert;
    trit_tensor_info *t = &it->ti;
    t->type = TRIT_TYPE_T2;
    t->n_dims = 2;
    t->dims[0] = rows;
    t->dims[1] = cols;
    t->scale_type = TRIT_SCALE_TYPE_F32;
    t->scale_layout = s->scale_layout;
    t->group_size = s->scale_layout == TRIT_SCALE_GROUP ? s->group_size : 0;
    uint64_t const row_bytes = trit_div_ceil(cols, 128) * 32, hs = name_seed(s->seed, name);
    uint64_t const n_sc = s->scale_layout == TRIT_SCALE_TENSOR ? 1 : s->scale_layout == TRIT_SCALE_ROW ? rows
                                                                                  : rows * trit_div_ceil(cols, t->group_size);
    uint8_t *codes = calloc(1, (size_t)(rows * row_bytes) + 1);
    int8_t *tv = malloc((size_t)cols + 1);
    float *sc = malloc((size_t)n_sc * sizeof *sc + 4);
    int rc = codes && tv && sc ? TRIT_OK : NOMEM();
    for (uint64_t r = 0; rc == TRIT_OK && r < rows; r++) {
        for (uint64_t c = 0; c < cols; c++) tv[c] = (int8_t)(mix(hs + r * cols + c) % 3) - 1;
        trit_t2_pack_row(tv, cols, codes + r * row_bytes);
    }
    for (uint64_t k = 0; rc == TRIT_OK && k < n_sc; k++) sc[k] = s->scale != 0.0f ? s->scale : synth_scale(mix(hs ^ (0x5ca1eull + k)));
    if (rc == TRIT_OK && s->bad_code && !strcmp(s->bad_code, name)) codes[0] |= 3;
    if (rc == TRIT_OK) rc = finish_t2(it, codes, sc, err);
    free(codes);
    free(tv);
    free(sc);
    return rc;
}

static int synth_kvs(trit_writer *w, const void *ctx, trit_err *err)
{
    const txb_synth *s = ctx;
    int rc = TRIT_OK;
    int const moe = s->n_expert > 0, bitnet = !strcmp(s->arch, "bitnet");
    uint32_t const hd = s->n_embd / s->n_head;
    TRY(trit_writer_kv_str(w, "general.name", "txb synth", 9, err));
    TRY(trit_writer_kv_u32(w, "model.n_layer", s->n_layer, err));
    TRY(trit_writer_kv_u32(w, "model.n_embd", s->n_embd, err));
    TRY(trit_writer_kv_u32(w, "model.n_ff", moe ? 0 : s->n_ff, err));
    TRY(trit_writer_kv_u32(w, "model.n_head", s->n_head, err));
    TRY(trit_writer_kv_u32(w, "model.n_head_kv", s->n_head_kv, err));
    TRY(trit_writer_kv_u32(w, "model.head_dim", hd, err));
    TRY(trit_writer_kv_u32(w, "model.n_vocab", s->n_vocab, err));
    TRY(trit_writer_kv_u32(w, "model.n_ctx", 256, err));
    TRY(trit_writer_kv_f32(w, "model.norm_eps", 1e-5f, err));
    TRY(trit_writer_kv_f32(w, "model.rope_theta", 10000.0f, err));
    TRY(trit_writer_kv_u32(w, "model.rope_dim", hd, err));
    TRY(trit_writer_kv_str(w, "model.rope_layout", "neox", 4, err));
    TRY(trit_writer_kv_str(w, "model.hidden_act", "silu", 4, err));
    TRY(trit_writer_kv_bool(w, "model.tied_embeddings", bitnet, err));
    TRY(trit_writer_kv_u32(w, "model.bos_token_id", 1, err));
    TRY(trit_writer_kv_u32(w, "moe.n_expert", s->n_expert, err));
    TRY(trit_writer_kv_u32(w, "moe.n_expert_used", s->n_expert_used, err));
    if (moe) {
        TRY(trit_writer_kv_u32(w, "moe.n_ff_expert", s->n_ff, err));
        TRY(trit_writer_kv_str(w, "moe.gating", "softmax", 7, err));
        TRY(trit_writer_kv_bool(w, "moe.norm_topk", 1, err));
    }
out:
    return rc;
}

int txb_synth_write(const txb_synth *s, const char *out, trit_err *err)
{
    list l = {0};
    trit_kvbuf *tok = s->no_tokenizer ? NULL : trit_kvbuf_new();
    int rc = s->no_tokenizer || tok ? TRIT_OK : NOMEM();
    char nm[96];
    int const bitnet = !strcmp(s->arch, "bitnet"), moe = s->n_expert > 0;
    uint32_t const E = s->n_embd, hd = E / s->n_head, F = s->n_ff;
    if (rc) goto out;
    TRY(add_float(&l, s, "token_embd.weight", TRIT_TYPE_F16, s->n_vocab, E, 0, TRIT_NONE32));
    TRY(add_float(&l, s, "output_norm.weight", TRIT_TYPE_F32, E, 0, 1, TRIT_NONE32));
    if (!bitnet) TRY(add_float(&l, s, "output.weight", TRIT_TYPE_F16, s->n_vocab, E, 0, TRIT_NONE32));
    for (uint32_t L = 0; L < s->n_layer; L++) {
#define NM(fmt) (snprintf(nm, sizeof nm, "blk.%u." fmt, L), nm)
        TRY(add_float(&l, s, NM("attn_norm.weight"), TRIT_TYPE_F32, E, 0, 1, L));
        TRY(add_t2(&l, s, NM("attn_q.weight"), (uint64_t)s->n_head * hd, E, L, TRIT_NONE32, err));
        TRY(add_t2(&l, s, NM("attn_k.weight"), (uint64_t)s->n_head_kv * hd, E, L, TRIT_NONE32, err));
        TRY(add_t2(&l, s, NM("attn_v.weight"), (uint64_t)s->n_head_kv * hd, E, L, TRIT_NONE32, err));
        TRY(add_t2(&l, s, NM("attn_output.weight"), E, (uint64_t)s->n_head * hd, L, TRIT_NONE32, err));
        if (bitnet) TRY(add_float(&l, s, NM("attn_sub_norm.weight"), TRIT_TYPE_F32, E, 0, 1, L));
        if (moe) {
            TRY(add_float(&l, s, NM("attn_q_norm.weight"), TRIT_TYPE_F32, hd, 0, 1, L));
            TRY(add_float(&l, s, NM("attn_k_norm.weight"), TRIT_TYPE_F32, hd, 0, 1, L));
        }
        TRY(add_float(&l, s, NM("ffn_norm.weight"), TRIT_TYPE_F32, E, 0, 1, L));
        if (moe) {
            TRY(add_float(&l, s, NM("ffn_gate_inp.weight"), TRIT_TYPE_F32, s->n_expert, E, 0, L));
            for (uint32_t x = 0; x < s->n_expert; x++) {
                snprintf(nm, sizeof nm, "blk.%u.ffn_gate.%u.weight", L, x);
                TRY(add_t2(&l, s, nm, F, E, L, x, err));
                snprintf(nm, sizeof nm, "blk.%u.ffn_up.%u.weight", L, x);
                TRY(add_t2(&l, s, nm, F, E, L, x, err));
                snprintf(nm, sizeof nm, "blk.%u.ffn_down.%u.weight", L, x);
                TRY(add_t2(&l, s, nm, E, F, L, x, err));
            }
        } else {
            TRY(add_t2(&l, s, NM("ffn_gate.weight"), F, E, L, TRIT_NONE32, err));
            TRY(add_t2(&l, s, NM("ffn_up.weight"), F, E, L, TRIT_NONE32, err));
            TRY(add_t2(&l, s, NM("ffn_down.weight"), E, F, L, TRIT_NONE32, err));
            if (bitnet) TRY(add_float(&l, s, NM("ffn_sub_norm.weight"), TRIT_TYPE_F32, F, 0, 1, L));
        }
#undef NM
    }
    if (tok) {
        char **toks = calloc(s->n_vocab, sizeof *toks);
        int32_t *types = calloc(s->n_vocab, sizeof *types);
        rc = toks && types ? TRIT_OK : NOMEM();
        for (uint32_t i = 0; rc == TRIT_OK && i < s->n_vocab; i++) {
            toks[i] = malloc(16);
            if (!toks[i]) { rc = NOMEM(); break; }
            snprintf(toks[i], 16, "t%u", i);
            types[i] = 1;
        }
        static const char *const merges[] = {"t 1", "t 2"};
        if (rc == TRIT_OK) rc = trit_kvbuf_str(tok, "tokenizer.ggml.model", "gpt2", 4, err);
        if (rc == TRIT_OK) rc = trit_kvbuf_arr_str(tok, "tokenizer.ggml.tokens", (const char *const *)toks, NULL, s->n_vocab, err);
        if (rc == TRIT_OK) rc = trit_kvbuf_arr(tok, "tokenizer.ggml.token_type", TRIT_KV_I32, types, s->n_vocab, err);
        if (rc == TRIT_OK) rc = trit_kvbuf_arr_str(tok, "tokenizer.ggml.merges", merges, NULL, 2, err);
        /* a u64 id and an i32 id: export must write both as GGUF u32 */
        if (rc == TRIT_OK) rc = trit_kvbuf_u64(tok, "tokenizer.ggml.eos_token_id", 2, err);
        if (rc == TRIT_OK) rc = trit_kvbuf_i32(tok, "tokenizer.ggml.padding_token_id", 0, err);
        for (uint32_t i = 0; toks && i < s->n_vocab; i++) free(toks[i]);
        free(toks);
        free(types);
        if (rc) goto out;
    }
    rc = write_container(out, &l, s->arch, synth_kvs, s, tok, s->raw_units, err);
out:
    trit_kvbuf_free(tok);
    list_free(&l);
    return rc;
}

/* ---- reading a container tensor back --------------------------------------------------------- */

int txb_tensor_f32(const trit_reader *r, uint32_t i, float **out, uint64_t *n, trit_err *err)
{
    const trit_tensor_info *t = trit_reader_tensor(r, i);
    const uint8_t *data;
    void *unit = NULL;
    uint64_t size;
    int rc;
    *out = NULL;
    if (t->unit == TRIT_NONE32) {
        const void *v;
        rc = trit_reader_tensor_data(r, i, &v, &size, err);
        data = v;
    } else {
        rc = trit_reader_unit_load(r, t->unit, &unit, &size, err);
        data = (const uint8_t *)unit + t->offset;
    }
    if (rc) return rc;
    trit_tensor_nelems(t, n);
    uint64_t const cols = t->n_dims ? t->dims[t->n_dims - 1] : 1, rows = cols ? *n / cols : 0;
    float *f = malloc((size_t)*n * sizeof *f + 4);
    int8_t *tv = malloc((size_t)cols + 1);
    if (!f || !tv) { rc = NOMEM(); goto out; }
    for (uint64_t r0 = 0; r0 < rows; r0++) {
        if (t->type == TRIT_TYPE_T2) {
            uint64_t const rb = trit_div_ceil(cols, 128) * 32;
            trit_t2_unpack_row(data + r0 * rb, cols, tv);
            for (uint64_t c = 0; c < cols; c++) {
                uint64_t k = 0;
                if (t->scale_layout == TRIT_SCALE_ROW) k = r0;
                if (t->scale_layout == TRIT_SCALE_GROUP) k = r0 * trit_div_ceil(cols, t->group_size) + c / t->group_size;
                float s;
                memcpy(&s, data + t->scales_off + 4 * k, 4);
                f[r0 * cols + c] = (float)tv[c] * s;
            }
        } else {
            for (uint64_t c = 0; c < cols; c++) {
                const uint8_t *p = data + (r0 * cols + c) * t->block_bytes;
                if (t->type == TRIT_TYPE_F32) memcpy(&f[r0 * cols + c], p, 4);
                else if (t->type == TRIT_TYPE_F16) f[r0 * cols + c] = f16_at(p);
                else f[r0 * cols + c] = trit_bf16_to_f32((uint16_t)(p[0] | p[1] << 8));
            }
        }
    }
    *out = f;
    f = NULL;
out:
    free(f);
    free(tv);
    trit_free(unit);
    return rc;
}
