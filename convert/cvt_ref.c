/*
 * cvt_ref.c - the runner's second weight source: the SOURCE checkpoint, read through the format
 * readers and encoded in memory exactly as `trit convert` would store each tensor (same plan,
 * same scan, same encoder: cvt_conv_int.h). `trit run --reference SRC` runs the forward pass on
 * it and compares logits with the container's: equality proves that writing, reading, checksums,
 * zstd units and expert paging reproduce the source bit for bit.
 *
 * Tensors are encoded on first use and kept (a reference run is a check on models that fit in
 * memory, not a deployment path); experts are encoded on every read, like a cache miss.
 */
#include <stdlib.h>
#include <string.h>

#include "cvt_conv_int.h"
#include "cvt_ref.h"
#include "trit_safemath.h"

typedef struct ref {
    cvt_conv c;
    trit_kvset *kv;            /* metadata as the container would carry it */
    trit_kvbuf *kvb;           /* owns kv's bytes */
    void **bytes;              /* per plan entry: encoded tensor, or NULL */
    char path[256];
} ref;

typedef struct membuf { uint8_t *p; uint64_t n, cap; } membuf;

static int mem_sink(void *ctx, const void *p, uint64_t n, trit_err *err)
{
    membuf *m = ctx;
    if (n > m->cap - m->n)
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, NULL, "encoder wrote more than the tensor size");
    memcpy(m->p + m->n, p, (size_t)n);
    m->n += n;
    return TRIT_OK;
}

static int64_t find_plan(const ref *r, const char *name)
{
    for (uint32_t i = 0; i < r->c.n; i++)
        if (!strcmp(r->c.p[i].name, name)) return i;
    return -1;
}

/* Encode plan entry i into dst (ti->size bytes). */
static int encode(ref *r, uint32_t i, const trit_tensor_info *ti, uint8_t *dst, trit_err *err)
{
    membuf m = {dst, 0, ti->size};
    cvt_emit e;
    int rc = cvt__emit_init(&e, err);
    if (rc) return rc;
    e.sink = mem_sink;
    e.sink_ctx = &m;
    rc = cvt__emit(&r->c, &e, &r->c.p[i], ti, err);
    cvt__emit_free(&e);
    if (rc == TRIT_OK && m.n != ti->size)
        rc = trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, ti->name, "encoded %llu bytes, expected %llu",
                          (unsigned long long)m.n, (unsigned long long)ti->size);
    return rc;
}

static void fill_tensor(const trit_tensor_info *ti, const uint8_t *base, run_tensor *t)
{
    memset(t, 0, sizeof *t);
    t->type = ti->type;
    t->n_dims = ti->n_dims;
    memcpy(t->dims, ti->dims, sizeof t->dims);
    t->cols = ti->n_dims ? ti->dims[ti->n_dims - 1] : 1;
    t->rows = 1;
    for (uint32_t d = 0; d + 1 < ti->n_dims; d++) t->rows *= ti->dims[d];
    t->data = base;
    if (ti->type == TRIT_TYPE_T2 || ti->n_scales) { /* t2, or the int8 head's row scales */
        t->scales = base ? (const float *)(const void *)(base + ti->scales_off) : NULL;
        t->scale_layout = ti->scale_layout;
        t->group_size = ti->group_size;
        t->n_scales = ti->n_scales;
        t->scales_off = ti->scales_off;
    }
}

static int ref_get_kv(void *self, const char *key, run_kv *out, trit_err *err)
{
    ref *r = self;
    int64_t const i = trit_kvset_find(r->kv, key);
    if (i < 0) return trit_err_set(err, TRIT_E_NOTFOUND, TRIT_NO_OFFSET, key, "no such metadata key");
    memset(out, 0, sizeof *out);
    uint32_t const type = trit_kvset_type(r->kv, (uint32_t)i, NULL, NULL);
    if (type == TRIT_KV_STRING) {
        out->kind = RUN_KV_STR;
        return trit_kvset_str(r->kv, (uint32_t)i, &out->s, &out->n);
    }
    if (type == TRIT_KV_BOOL) {
        out->kind = RUN_KV_BOOL;
        return trit_kvset_u64(r->kv, (uint32_t)i, &out->u);
    }
    if (type == TRIT_KV_F32 || type == TRIT_KV_F64) {
        out->kind = RUN_KV_FLOAT;
        return trit_kvset_f64(r->kv, (uint32_t)i, &out->f);
    }
    out->kind = RUN_KV_UINT;
    trit_kvset_f64(r->kv, (uint32_t)i, &out->f);
    if (trit_kvset_u64(r->kv, (uint32_t)i, &out->u) != TRIT_OK)
        return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, key, "metadata type %u not usable", type);
    return TRIT_OK;
}

static int ref_get_dense(void *self, const char *name, run_tensor *out, trit_err *err)
{
    ref *r = self;
    int64_t const i = find_plan(r, name);
    if (i < 0 || r->c.p[i].role == CVT_ROLE_EXPERT)
        return trit_err_set(err, TRIT_E_NOTFOUND, TRIT_NO_OFFSET, name, "no such dense tensor");
    trit_tensor_info ti;
    cvt__describe(&r->c.p[i], &ti);
    if (!r->bytes[i]) {
        uint8_t *b = malloc(ti.size ? (size_t)ti.size : 1);
        if (!b) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, name, "out of memory");
        int const rc = encode(r, (uint32_t)i, &ti, b, err);
        if (rc) { free(b); return rc; }
        r->bytes[i] = b;
    }
    fill_tensor(&ti, r->bytes[i], out);
    return TRIT_OK;
}

/* The members of expert (layer, expert), in stored order, and the image layout the container
 * uses for them (offsets aligned to 64, the writer's default tensor alignment). */
static int members(ref *r, uint32_t layer, uint32_t expert, uint32_t idx[3], uint64_t off[3], uint64_t *size)
{
    uint32_t n = 0;
    uint64_t pos = 0;
    static const char *const order[3] = {"ffn_gate", "ffn_up", "ffn_down"};
    for (int k = 0; k < 3; k++) {
        char name[128];
        snprintf(name, sizeof name, "blk.%u.%s.%u.weight", layer, order[k], expert);
        int64_t const i = find_plan(r, name);
        if (i < 0) return -1;
        trit_tensor_info ti;
        cvt__describe(&r->c.p[i], &ti);
        trit_align_up(pos, 64, &off[k]);
        pos = off[k] + ti.size;
        idx[k] = (uint32_t)i;
        n++;
    }
    *size = pos;
    return n == 3 ? 0 : -1;
}

static int ref_expert_desc(void *self, uint32_t layer, uint32_t expert, run_expert_desc *out, trit_err *err)
{
    ref *r = self;
    uint32_t idx[3];
    uint64_t off[3], size;
    if (members(r, layer, expert, idx, off, &size))
        return trit_err_set(err, TRIT_E_NOTFOUND, TRIT_NO_OFFSET, NULL, "no expert %u in layer %u", expert, layer);
    memset(out, 0, sizeof *out);
    out->size = size;
    run_tensor *dst[3] = {&out->gate, &out->up, &out->down};
    for (int k = 0; k < 3; k++) {
        trit_tensor_info ti;
        cvt__describe(&r->c.p[idx[k]], &ti);
        fill_tensor(&ti, NULL, dst[k]);
        dst[k]->data_off = off[k];
        dst[k]->scales_off = off[k] + ti.scales_off;
    }
    return TRIT_OK;
}

static int ref_expert_read(void *self, uint32_t layer, uint32_t expert, void *dst, uint64_t cap, trit_err *err)
{
    ref *r = self;
    uint32_t idx[3];
    uint64_t off[3], size;
    if (members(r, layer, expert, idx, off, &size))
        return trit_err_set(err, TRIT_E_NOTFOUND, TRIT_NO_OFFSET, NULL, "no expert %u in layer %u", expert, layer);
    if (cap < size) return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL, "expert buffer too small");
    memset(dst, 0, (size_t)size);
    for (int k = 0; k < 3; k++) {
        trit_tensor_info ti;
        cvt__describe(&r->c.p[idx[k]], &ti);
        int const rc = encode(r, idx[k], &ti, (uint8_t *)dst + off[k], err);
        if (rc) return rc;
    }
    return TRIT_OK;
}

static void ref_close(void *self)
{
    ref *r = self;
    if (!r) return;
    for (uint32_t i = 0; r->bytes && i < r->c.n; i++) free(r->bytes[i]);
    free(r->bytes);
    trit_kvset_free(r->kv);
    trit_kvbuf_free(r->kvb);
    cvt__conv_release(&r->c);
    free(r);
}

static const run_weights_vt ref_vt = {ref_get_kv, ref_get_dense, ref_expert_desc, ref_expert_read, ref_close};

int cvt_ref_open(const char *src_path, const cvt_opts *opts, run_weights *out, trit_err *err)
{
    memset(out, 0, sizeof *out);
    ref *r = calloc(1, sizeof *r);
    if (!r) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    static const cvt_opts dflt = {0};
    int rc = cvt__conv_prepare(&r->c, src_path, opts ? opts : &dflt, 1, err);
    if (rc == TRIT_OK && !(r->bytes = calloc((size_t)r->c.n + 1, sizeof *r->bytes))) rc = TRIT_E_NOMEM;
    if (rc == TRIT_OK && !(r->kvb = trit_kvbuf_new())) rc = TRIT_E_NOMEM;
    if (rc == TRIT_E_NOMEM) trit_err_set(err, rc, TRIT_NO_OFFSET, NULL, "out of memory");
    if (rc == TRIT_OK) rc = cvt_arch_write(&r->c.m, r->kvb, err);
    const void *kd;
    uint64_t kn;
    if (rc == TRIT_OK) rc = trit_kvbuf_data(r->kvb, &kd, &kn, err);
    if (rc == TRIT_OK) rc = trit_kvset_parse(kd, kn, 0, "reference metadata", &r->kv, err);
    if (rc) {
        trit_err_file(err, src_path);
        ref_close(r);
        return rc;
    }
    snprintf(r->path, sizeof r->path, "%s", src_path);
    out->vt = &ref_vt;
    out->self = r;
    out->name = r->path;
    return TRIT_OK;
}
