/*
 * run_weights_trit.c - the .trit weight provider: dense tensors are zero-copy views of the
 * reader's mapping; an expert is the unit (layer, expert), read with one
 * trit_reader_unit_read (one pread, zstd decode, stored-checksum and decoded-size checks), its
 * gate/up/down found among the unit's members by canonical name (spec 10.2).
 *
 * Integrity: the views are only as good as the bytes under them, so by default the provider
 * hashes every dense tensor at open (run_weights_verify: trit_reader_tensor_verify, which
 * preads and hashes the same page-cache bytes the mapping shows, the tensors spread over
 * threads, largest first). Units need no pass at open: each read checks its own.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run_int.h"
#include "trit_sys.h"

typedef struct trit_prov {
    trit_reader *owned;        /* closed with the provider (NULL when borrowed) */
    const trit_reader *r;
} trit_prov;

static int prov_get_kv(void *self, const char *key, run_kv *out, trit_err *err)
{
    trit_prov const *p = self;
    memset(out, 0, sizeof *out);
    int64_t const i = trit_reader_find_kv(p->r, key);
    if (i < 0) return trit_err_set(err, TRIT_E_NOTFOUND, TRIT_NO_OFFSET, NULL, "no metadata key '%s'", key);
    uint32_t const k = (uint32_t)i;
    uint32_t const type = trit_reader_kv_type(p->r, k, NULL, NULL);
    switch (type) {
    case TRIT_KV_STRING:
        out->kind = RUN_KV_STR;
        return trit_reader_kv_str(p->r, k, &out->s, &out->n);
    case TRIT_KV_BOOL:
        out->kind = RUN_KV_BOOL;
        trit_reader_kv_u64(p->r, k, &out->u);
        out->f = (double)out->u;
        return TRIT_OK;
    case TRIT_KV_F32: case TRIT_KV_F64:
        out->kind = RUN_KV_FLOAT;
        return trit_reader_kv_f64(p->r, k, &out->f);
    case TRIT_KV_ARRAY:
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, NULL, "metadata '%s' is an array, expected a scalar", key);
    default: {
        int64_t v;
        if (trit_reader_kv_i64(p->r, k, &v) == TRIT_OK && v < 0)
            return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, NULL, "metadata '%s' is negative (%lld)", key, (long long)v);
        out->kind = RUN_KV_UINT;
        trit_reader_kv_u64(p->r, k, &out->u);
        out->f = (double)out->u;
        return TRIT_OK;
    }
    }
}

/* Shape, type and scale facts of a tensor record (data pointers are left to the caller). */
static int describe(const trit_tensor_info *t, run_tensor *out, trit_err *err)
{
    memset(out, 0, sizeof *out);
    out->type = t->type;
    out->n_dims = t->n_dims;
    memcpy(out->dims, t->dims, sizeof out->dims);
    out->cols = t->n_dims ? t->dims[t->n_dims - 1] : 1;
    uint64_t n;
    if (trit_tensor_nelems(t, &n))
        return trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, t->name, "element count overflows");
    out->rows = out->cols ? n / out->cols : 0;
    out->scale_layout = t->scale_layout;
    out->group_size = t->group_size;
    out->n_scales = t->n_scales;
    return TRIT_OK;
}

static int prov_get_dense(void *self, const char *name, run_tensor *out, trit_err *err)
{
    trit_prov const *p = self;
    int64_t const i = trit_reader_find_tensor(p->r, name);
    trit_tensor_info const *t = i < 0 ? NULL : trit_reader_tensor(p->r, (uint32_t)i);
    if (!t || t->unit != TRIT_NONE32)
        return trit_err_set(err, TRIT_E_NOTFOUND, TRIT_NO_OFFSET, NULL, "no dense tensor '%s'", name);
    int rc = describe(t, out, err);
    if (rc) return rc;
    const void *data;
    uint64_t size;
    if ((rc = trit_reader_tensor_data(p->r, (uint32_t)i, &data, &size, err))) return rc;
    out->data = data;
    if (t->n_scales) out->scales = (const float *)(const void *)((const uint8_t *)data + t->scales_off);
    return TRIT_OK;
}

static int prov_expert_desc(void *self, uint32_t layer, uint32_t expert, run_expert_desc *out, trit_err *err)
{
    trit_prov const *p = self;
    memset(out, 0, sizeof *out);
    int64_t const u = trit_reader_find_unit(p->r, layer, expert);
    if (u < 0)
        return trit_err_set(err, TRIT_E_NOTFOUND, TRIT_NO_OFFSET, NULL, "no expert unit for layer %u expert %u", layer, expert);
    trit_unit_info const *ui = trit_reader_unit(p->r, (uint32_t)u);
    out->size = ui->decoded_size;
    out->stored_size = ui->stored_size;
    uint32_t n = 0;
    const uint32_t *m = trit_reader_unit_members(p->r, (uint32_t)u, &n);
    static const char *const proj[3] = {"gate", "up", "down"};
    run_tensor *const dst[3] = {&out->gate, &out->up, &out->down};
    for (int k = 0; k < 3; k++) {
        char want[96];
        snprintf(want, sizeof want, "blk.%u.ffn_%s.%u.weight", layer, proj[k], expert);
        trit_tensor_info const *found = NULL;
        for (uint32_t j = 0; j < n && !found; j++) {
            trit_tensor_info const *t = trit_reader_tensor(p->r, m[j]);
            if (!strcmp(t->name, want)) found = t;
        }
        if (!found)
            return trit_err_set(err, TRIT_E_CORRUPT, ui->offset, NULL,
                                "expert unit of layer %u expert %u has no member '%s'", layer, expert, want);
        int const rc = describe(found, dst[k], err);
        if (rc) return rc;
        dst[k]->data_off = found->offset;
        dst[k]->scales_off = found->offset + found->scales_off;
    }
    return TRIT_OK;
}

static int prov_expert_read(void *self, uint32_t layer, uint32_t expert, void *dst, uint64_t cap, trit_err *err)
{
    trit_prov const *p = self;
    int64_t const u = trit_reader_find_unit(p->r, layer, expert);
    if (u < 0)
        return trit_err_set(err, TRIT_E_NOTFOUND, TRIT_NO_OFFSET, NULL, "no expert unit for layer %u expert %u", layer, expert);
    return trit_reader_unit_read(p->r, (uint32_t)u, dst, cap, err);
}

static void prov_close(void *self)
{
    trit_prov *p = self;
    if (!p) return;
    trit_reader_close(p->owned);
    free(p);
}

static const run_weights_vt trit_vt = {prov_get_kv, prov_get_dense, prov_expert_desc, prov_expert_read, prov_close};

int run_weights_from_reader(const trit_reader *r, run_weights *out, trit_err *err)
{
    memset(out, 0, sizeof *out);
    trit_prov *p = calloc(1, sizeof *p);
    if (!p) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    p->r = r;
    out->vt = &trit_vt;
    out->self = p;
    out->name = trit_reader_path(r);
    return TRIT_OK;
}

/* ---- the dense checksum pass ---- */

typedef struct dense_job {
    const trit_reader *r;
    const uint32_t *order;     /* dense tensor indices, largest first */
    uint32_t n;
    uint32_t next;             /* next entry of order to hash (under mu) */
    pthread_mutex_t mu;
    int rc;                    /* the failure at the lowest file offset found, or TRIT_OK */
    uint64_t bad_off;
    trit_err err;
} dense_job;

static void *dense_worker(void *arg)
{
    dense_job *j = arg;
    for (;;) {
        pthread_mutex_lock(&j->mu);
        uint32_t const k = j->rc == TRIT_OK && j->next < j->n ? j->next++ : j->n; /* stop at a failure */
        pthread_mutex_unlock(&j->mu);
        if (k == j->n) return NULL;
        trit_err e;
        trit_err_clear(&e);
        uint32_t const i = j->order[k];
        int const rc = trit_reader_tensor_verify(j->r, i, &e);
        if (rc == TRIT_OK) continue;
        uint64_t const off = trit_reader_tensor(j->r, i)->offset;
        pthread_mutex_lock(&j->mu);
        if (j->rc == TRIT_OK || off < j->bad_off) {
            j->rc = rc;
            j->bad_off = off;
            j->err = e;
        }
        pthread_mutex_unlock(&j->mu);
    }
}

typedef struct dense_item { uint64_t size; uint32_t idx; } dense_item;

static int by_size_desc(const void *a, const void *b)
{
    dense_item const *x = a, *y = b;
    if (x->size != y->size) return x->size < y->size ? 1 : -1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

int run_weights_verify(const run_weights *w, uint32_t n_threads, trit_err *err)
{
    const trit_reader *r = run_weights_trit_reader(w);
    if (!r) return TRIT_OK; /* another provider: nothing mapped */
    uint32_t const nt = trit_reader_n_tensors(r);
    uint32_t *order = malloc(sizeof *order * (nt ? nt : 1));
    dense_item *items = malloc(sizeof *items * (nt ? nt : 1));
    if (!order || !items) {
        free(order);
        free(items);
        return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    }
    dense_job j;
    memset(&j, 0, sizeof j);
    j.r = r;
    j.order = order;
    for (uint32_t i = 0; i < nt; i++) {
        trit_tensor_info const *t = trit_reader_tensor(r, i);
        if (t->unit == TRIT_NONE32) items[j.n++] = (dense_item){t->size, i};
    }
    qsort(items, j.n, sizeof *items, by_size_desc);
    for (uint32_t k = 0; k < j.n; k++) order[k] = items[k].idx;
    free(items);
    if (n_threads == 0) {
        long const ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        n_threads = ncpu < 1 ? 1 : ncpu > RUN_VERIFY_THREADS ? RUN_VERIFY_THREADS : (uint32_t)ncpu;
    }
    if (n_threads > RUN_MAX_THREADS) n_threads = RUN_MAX_THREADS;
    if (n_threads > j.n) n_threads = j.n ? j.n : 1;
    pthread_t th[RUN_MAX_THREADS];
    uint32_t started = 0;
    pthread_mutex_init(&j.mu, NULL);
    while (started + 1 < n_threads && trit_sys_thread_start(&th[started], dense_worker, &j) == 0) started++;
    dense_worker(&j); /* the caller works too; fewer helpers if a thread cannot start */
    for (uint32_t t = 0; t < started; t++) pthread_join(th[t], NULL);
    pthread_mutex_destroy(&j.mu);
    free(order);
    /* a file cut short or rewritten under the pass: say that, not "corrupt" */
    if (j.rc != TRIT_OK && trit_reader_file_check(r, err) != TRIT_OK) return TRIT_E_IO;
    if (j.rc != TRIT_OK && err) *err = j.err;
    return j.rc;
}

int run_weights_check_file(const run_weights *w, trit_err *err)
{
    const trit_reader *r = run_weights_trit_reader(w);
    return r ? trit_reader_file_check(r, err) : TRIT_OK;
}

int run_weights_open_trit(const char *path, uint32_t flags, run_weights *out, trit_err *err)
{
    memset(out, 0, sizeof *out);
    trit_open_opts oo = {flags & ~RUN_OPEN_NO_VERIFY};
    trit_reader *r = NULL;
    int rc = trit_reader_open(path, &oo, &r, err);
    if (rc) return rc;
    if ((rc = run_weights_from_reader(r, out, err))) {
        trit_reader_close(r);
        return rc;
    }
    ((trit_prov *)out->self)->owned = r;
    /* TRIT_OPEN_VERIFY hashed everything already */
    if (!(flags & (RUN_OPEN_NO_VERIFY | TRIT_OPEN_VERIFY | TRIT_OPEN_DENSE)) && (rc = run_weights_verify(out, 0, err))) {
        run_weights_close(out);
        return rc;
    }
    return TRIT_OK;
}

void run_weights_close(run_weights *w)
{
    if (!w || !w->vt) return;
    w->vt->close(w->self);
    memset(w, 0, sizeof *w);
}

const trit_reader *run_weights_trit_reader(const run_weights *w)
{
    return w && w->vt == &trit_vt ? ((const trit_prov *)w->self)->r : NULL;
}
