/*
 * run_prefetch.c - expert prefetch: while layer L computes, a background thread loads the
 * experts the next MoE layer is likely to route to, so its cache misses become hits.
 *
 * The guess (on the evaluating thread, right after layer L is routed):
 *   - next MoE layer N inside this pass: N's own router applied to N's ffn_norm of the
 *     residual as it stands after L's attention. The residual changes little from one layer to
 *     the next (each block adds to it), so N's router on it ranks N's experts nearly as N will;
 *     the K + K/2 best per token are queued, best first (softmax is monotone, so logits plus
 *     the selection bias rank as the router does; group limits are ignored: it is a guess);
 *   - from the last MoE layer to the first one of the next token (its hidden state does not
 *     exist yet), and for routers stored as t2: the experts the layer used last time
 *     (token-to-token reuse, measured to be the best cheap guess there).
 * A newer hint replaces what is still queued: a guess for a layer already running is useless.
 * RUN_PREFETCH_SYNC makes the poster wait until the worker is through its list: the hit rate
 * of the guess itself, independent of scheduling (tests, and the bench's upper bound).
 *
 * What prefetch never does: change a result. It only decides which images are resident;
 * images are the same bytes whoever loads them, and the forward pass uses experts in the same
 * order either way (tests/test_run_prefetch.c checks logits bit for bit, on and off, every
 * policy, budget and thread count). Budget and eviction rules are the cache's
 * (run_cache_prefetch); a failed prefetch load is dropped (the demand load reports it).
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "run_int.h"
#include "trit_sys.h"

struct run_prefetch {
    run_cache *cache;
    const run_weights *w;
    const run_layer *layers;
    uint32_t n_layer, n_expert, first_moe, last_moe;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop, started;
    /* the queued hint: layer and experts, best first (under mu) */
    uint32_t q_layer, q_n;
    uint32_t *q_exp;
    uint64_t gen;              /* hints posted so far: a change tells the worker to drop its list */
    uint64_t done_gen;         /* the hint the worker finished last (under mu) */
    int sync;                  /* RUN_PREFETCH_SYNC: the poster waits for the worker */
    uint64_t bytes_read;       /* stored bytes the worker read (under mu) */
    /* evaluating thread only */
    uint32_t *last;            /* [n_layer][n_expert]: experts each layer's last batch used */
    uint32_t *n_last;          /* [n_layer] */
    float *x, *logits, *score; /* [n_embd], [n_expert], [n_expert] */
    uint32_t *hint;            /* [n_expert] */
};

typedef struct pf_load_arg {
    run_prefetch *p;
    uint64_t stored;
} pf_load_arg;

static int pf_load(void *arg, uint32_t layer, uint32_t expert, void *dst, uint64_t size, trit_err *err)
{
    pf_load_arg *a = arg;
    int const rc = a->p->w->vt->expert_read(a->p->w->self, layer, expert, dst, size, err);
    if (rc == TRIT_OK) a->stored += a->p->layers[layer].experts[expert].stored_size;
    return rc;
}

static void *worker(void *arg)
{
    run_prefetch *p = arg;
    uint32_t *list = malloc(sizeof *list * p->n_expert);
    uint64_t seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && p->gen == seen) pthread_cond_wait(&p->cv, &p->mu);
        if (p->stop || !list) break;
        seen = p->gen;
        uint32_t const layer = p->q_layer, n = p->q_n;
        memcpy(list, p->q_exp, sizeof *list * n);
        pthread_mutex_unlock(&p->mu);
        pf_load_arg la = {p, 0};
        for (uint32_t i = 0; i < n; i++) {
            trit_err e;
            trit_err_clear(&e);
            (void)run_cache_prefetch(p->cache, layer, list[i], p->layers[layer].experts[list[i]].size, pf_load, &la, &e);
            pthread_mutex_lock(&p->mu);
            int const newer = p->gen != seen || p->stop;
            pthread_mutex_unlock(&p->mu);
            if (newer) break;
        }
        pthread_mutex_lock(&p->mu);
        p->bytes_read += la.stored;
        p->done_gen = seen;
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    free(list);
    return NULL;
}

int run__prefetch_new(run_ctx *c, run_prefetch **out, trit_err *err)
{
    *out = NULL;
    uint32_t const NL = c->hp.n_layer, NE = c->hp.n_expert;
    uint32_t first = UINT32_MAX, last = 0;
    for (uint32_t l = 0; l < NL; l++)
        if (c->layers[l].moe) {
            if (first == UINT32_MAX) first = l;
            last = l;
        }
    if (!NE || first == UINT32_MAX) return TRIT_OK;
    run_prefetch *p = calloc(1, sizeof *p);
    if (!p) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    p->cache = c->cache;
    p->w = c->w;
    p->layers = c->layers;
    p->n_layer = NL;
    p->n_expert = NE;
    p->first_moe = first;
    p->sync = c->prefetch_sync;
    p->last_moe = last;
    p->q_exp = malloc(sizeof *p->q_exp * NE);
    p->last = malloc(sizeof *p->last * (uint64_t)NL * NE);
    p->n_last = calloc(NL, sizeof *p->n_last);
    p->x = malloc(sizeof *p->x * c->hp.n_embd);
    p->logits = malloc(sizeof *p->logits * NE);
    p->score = malloc(sizeof *p->score * NE);
    p->hint = malloc(sizeof *p->hint * NE);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if (!p->q_exp || !p->last || !p->n_last || !p->x || !p->logits || !p->score || !p->hint) {
        run__prefetch_free(p);
        return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    }
    if (trit_sys_thread_start(&p->th, worker, p) != 0) {
        run__prefetch_free(p);
        return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "cannot start the prefetch thread");
    }
    p->started = 1;
    *out = p;
    return TRIT_OK;
}

void run__prefetch_free(run_prefetch *p)
{
    if (!p) return;
    if (p->started) {
        pthread_mutex_lock(&p->mu);
        p->stop = 1;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        pthread_join(p->th, NULL);
    }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->q_exp);
    free(p->last);
    free(p->n_last);
    free(p->x);
    free(p->logits);
    free(p->score);
    free(p->hint);
    free(p);
}

uint64_t run__prefetch_bytes_read(run_prefetch *p)
{
    if (!p) return 0;
    pthread_mutex_lock(&p->mu);
    uint64_t const b = p->bytes_read;
    pthread_mutex_unlock(&p->mu);
    return b;
}

static void post(run_prefetch *p, uint32_t layer, const uint32_t *experts, uint32_t n)
{
    pthread_mutex_lock(&p->mu);
    p->q_layer = layer;
    p->q_n = n;
    memcpy(p->q_exp, experts, sizeof *experts * n);
    p->gen++;
    pthread_cond_broadcast(&p->cv);
    while (p->sync && p->done_gen != p->gen && !p->stop) pthread_cond_wait(&p->cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

/* Router logits of layer N for the residual row h (f32/f16/bf16 routers; 0 if t2). */
static int router_logits(run_ctx *c, const run_layer *ly, const float *h, float *out)
{
    run_tensor const *r = &ly->router;
    run_prefetch *p = c->prefetch;
    if (r->cols != c->hp.n_embd || r->rows != c->hp.n_expert) return 0;
    run__norm(c, p->x, h, ly->ffn_norm, ly->ffn_norm_b);
    switch (r->type) {
    case TRIT_TYPE_F32: c->kern->gemv_f32((const float *)r->data, r->rows, r->cols, p->x, out); break;
    case TRIT_TYPE_F16: c->kern->gemv_f16((const uint16_t *)r->data, r->rows, r->cols, p->x, out); break;
    case TRIT_TYPE_BF16: c->kern->gemv_bf16((const uint16_t *)r->data, r->rows, r->cols, p->x, out); break;
    default: return 0;
    }
    if (ly->exp_probs_b)
        for (uint32_t e = 0; e < c->hp.n_expert; e++) out[e] += ly->exp_probs_b[e];
    return 1;
}

void run__prefetch_next(run_ctx *c, uint32_t L, uint32_t T)
{
    run_prefetch *p = c->prefetch;
    if (!p || L >= p->n_layer) return;
    uint32_t const NE = p->n_expert, K = c->hp.n_expert_used;
    /* remember what this batch used: the reuse guess for L's next pass */
    uint32_t nl = 0;
    for (uint32_t e = 0; e < NE; e++) {
        int used = 0;
        for (uint64_t i = 0; i < (uint64_t)T * K && !used; i++) used = c->slot_e[i] == e;
        if (used) p->last[(uint64_t)L * NE + nl++] = e;
    }
    p->n_last[L] = nl;
    uint32_t N = L + 1;
    while (N < p->n_layer && !p->layers[N].moe) N++;
    const run_layer *ly = N < p->n_layer ? &p->layers[N] : NULL;
    if (!ly || ly->router.type == TRIT_TYPE_T2) {
        if (!ly) N = p->first_moe;
        if (p->n_last[N]) post(p, N, p->last + (uint64_t)N * NE, p->n_last[N]);
        return;
    }
    /* score = best rank any token gives the expert (0 = someone's first choice), then logit */
    uint32_t const M = K + (K + 1) / 2 < NE ? K + (K + 1) / 2 : NE;
    for (uint32_t e = 0; e < NE; e++) p->score[e] = (float)NE;
    for (uint32_t t = 0; t < T; t++) {
        if (!router_logits(c, ly, c->h + (uint64_t)t * c->hp.n_embd, p->logits)) return;
        for (uint32_t j = 0; j < M; j++) {
            uint32_t best = UINT32_MAX;
            for (uint32_t e = 0; e < NE; e++)
                if (p->logits[e] > -INFINITY && (best == UINT32_MAX || p->logits[e] > p->logits[best])) best = e;
            if (best == UINT32_MAX) break;
            if ((float)j < p->score[best]) p->score[best] = (float)j;
            p->logits[best] = -INFINITY;
        }
    }
    uint32_t n = 0;
    for (uint32_t j = 0; j < M; j++)
        for (uint32_t e = 0; e < NE; e++)
            if (p->score[e] == (float)j) p->hint[n++] = e;
    if (n) post(p, N, p->hint, n);
}
