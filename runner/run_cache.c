/*
 * run_cache.c - the expert cache: decoded expert images under a byte budget.
 *
 * Nothing is resident at start. acquire() pins an expert, loading it on a miss with one call
 * of the provider's reader (one pread + decode + checksum for a .trit); release() unpins it and
 * evicts down to the budget.
 *
 * An expert larger than the whole budget is never cached: it is decoded into a transient
 * buffer that is not resident (not counted in used or peak, evicts nothing), used, and freed
 * at its release. So the cache never holds more than the budget, any budget (even 0) still
 * runs the model (only slower: such an expert is read again at every use), and the memory an
 * expert costs beyond the budget is one decoded unit at a time, whose size libtrit bounds by
 * its member tensors (spec 5.3: a unit decodes to exactly its packed members). We chose this
 * over refusing the budget because the forward pass needs one expert at a time and "0 = keep
 * none" is the documented way to run with the smallest memory.
 *
 * Access pattern of an MoE forward pass: layers 0..L-1 in order, then again for the next
 * token. That cycle is LRU's worst case once the budget holds less than one token's working
 * set: the least recently used experts are the early layers', exactly the ones the next token
 * needs first. Policies (chosen by measurement: tests/test_run_paging.c prints the table):
 *   LRU    evict the least recently used;
 *   LFU    evict the lowest aged frequency (tokens routed to the expert, halved every
 *          RUN_AGE_WINDOW passes through its layer), LRU among equals;
 *   LAYER  evict the largest expected time to next use, in layer steps:
 *            dist(layer) + n_layer * (1/p - 1)
 *          dist: layers the cycle runs through before it reaches the expert's layer again;
 *          p: probability that the expert is used at its layer's next pass, learned online
 *          from what happened so far, as a table over (passes since the expert was last used,
 *          aged routing frequency) buckets. Routing with temporal locality teaches the table
 *          that recently used experts come back (LRU's strength), popular experts keep a high
 *          p (LFU's), and the cyclic distance protects the experts needed soonest (which LRU
 *          gets backwards). Experts the current batch still needs are never chosen.
 * Frequency and reuse bookkeeping are the same for every policy; only the victim differs.
 *
 * Prefetch (run_prefetch.c) loads experts from a second thread through run_cache_prefetch. So
 * every entry point takes the cache's mutex, and a load runs outside it with the entry marked
 * `loading` and its bytes already counted in `used` (a reservation: the budget holds for
 * images in flight too). A demand acquire of an entry in flight waits for it (a hit: it reads
 * nothing). A prefetch never evicts what the current batch still needs, a pinned entry or
 * another prefetched image not used yet; if that leaves no room it loads nothing. Which
 * experts are resident never changes what an image holds, so logits do not depend on any of
 * this (tests/test_run_prefetch.c).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "run_int.h"
#include "trit_safemath.h"

#define RUN_AGE_WINDOW 256u      /* token passes through a layer between halvings */
#define RUN_LAT_CAP (1u << 20)   /* load latencies kept for the percentiles */
#define RUN_AGE_BUCKETS 8u        /* passes since last use: 1, 2, 3-4, 5-8, 9-16, 17-64, >64, never */
#define RUN_FREQ_BUCKETS 6u       /* routing frequency: <1/64, <1/32, <1/16, <1/8, <1/4, more */
#define RUN_TABLE_AGE 65536.0     /* observations between halvings of the reuse table: 4096 forgot within
                                     a token on wide models (48 x 128 experts); measured on a 300-token
                                     Zipf trace at 2 GB: 78.9% -> 79.7% */

typedef struct run_centry {
    void *image;               /* decoded expert, NULL when not resident */
    uint64_t size;
    uint64_t last_use;         /* access clock at the last acquire */
    double freq;               /* aged count of tokens routed to this expert */
    uint64_t last_pass;        /* pass of its layer that last used it (0 = never) */
    uint32_t pins;
    uint32_t transient;        /* image is larger than the budget: not resident, freed at release */
    uint32_t pos;              /* index in resident[] (resident entries only) */
    uint64_t want;             /* == batch: still needed by the current layer's batch */
    uint32_t loading;          /* a load is in flight (bytes reserved in used, not in resident[]) */
    uint32_t prefetched;       /* loaded by a prefetch and not acquired since */
} run_centry;

struct run_cache {
    uint32_t n_layer, n_expert, policy;
    uint64_t budget, used, peak;
    run_centry *e;             /* [n_layer * n_expert] */
    uint32_t *resident;        /* indices of resident entries */
    uint32_t n_resident;
    uint32_t n_transient;      /* entries holding a transient (uncached) image */
    uint64_t clock;
    uint32_t cur_layer;
    uint64_t batch;            /* begin_layer calls so far */
    double *passes;            /* aged token passes per layer */
    uint64_t *pass;            /* batches that went through each layer */
    double num[RUN_AGE_BUCKETS][RUN_FREQ_BUCKETS];  /* reuse table: used at a pass ... */
    double den[RUN_AGE_BUCKETS][RUN_FREQ_BUCKETS];  /* ... out of observed */
    double table_n;
    uint64_t *hits, *misses;
    uint64_t evictions, bytes_paged, n_loads;
    uint64_t *lat_ns;
    uint64_t n_lat;
    pthread_mutex_t mu;
    pthread_cond_t done;       /* a load in flight finished */
    uint32_t n_loading;
    uint64_t pf_loads, pf_hits, pf_wasted, pf_waits, pf_skipped;
};

static const char *const policy_names[RUN_POLICY_COUNT_] = {"lru", "lfu", "layer"};

const char *run_policy_name(uint32_t p) { return p < RUN_POLICY_COUNT_ ? policy_names[p] : NULL; }

int run_policy_from_name(const char *name, run_policy *out)
{
    for (uint32_t i = 0; name && i < RUN_POLICY_COUNT_; i++)
        if (!strcmp(policy_names[i], name)) {
            *out = (run_policy)i;
            return TRIT_OK;
        }
    return TRIT_E_NOTFOUND;
}

int run_cache_new(uint32_t n_layer, uint32_t n_expert, uint64_t budget, uint32_t policy, run_cache **out,
                  trit_err *err)
{
    *out = NULL;
    if (policy >= RUN_POLICY_COUNT_)
        return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL, "unknown cache policy %u", policy);
    uint64_t n;
    if (trit_mul_u64(n_layer, n_expert, &n) || n > (uint64_t)RUN_MAX_LAYERS * RUN_MAX_EXPERTS)
        return trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, NULL, "too many experts");
    run_cache *c = calloc(1, sizeof *c);
    if (!c) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    c->n_layer = n_layer;
    c->n_expert = n_expert;
    c->budget = budget;
    c->policy = policy;
    c->e = calloc(n ? n : 1, sizeof *c->e);
    c->resident = calloc(n ? n : 1, sizeof *c->resident);
    c->passes = calloc(n_layer ? n_layer : 1, sizeof *c->passes);
    c->pass = calloc(n_layer ? n_layer : 1, sizeof *c->pass);
    c->hits = calloc(n_layer ? n_layer : 1, sizeof *c->hits);
    c->misses = calloc(n_layer ? n_layer : 1, sizeof *c->misses);
    c->lat_ns = malloc(sizeof *c->lat_ns * 1024);
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->done, NULL);
    if (!c->e || !c->resident || !c->passes || !c->pass || !c->hits || !c->misses || !c->lat_ns) {
        run_cache_free(c);
        return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    }
    *out = c;
    return TRIT_OK;
}

void run_cache_free(run_cache *c)
{
    if (!c) return;
    for (uint32_t i = 0; i < c->n_resident; i++) free(c->e[c->resident[i]].image);
    uint64_t const n = (uint64_t)c->n_layer * c->n_expert;
    for (uint64_t i = 0; c->n_transient && i < n; i++)
        if (c->e[i].transient) {
            free(c->e[i].image);
            c->n_transient--;
        }
    free(c->e);
    free(c->resident);
    free(c->passes);
    free(c->pass);
    free(c->hits);
    free(c->misses);
    free(c->lat_ns);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->done);
    free(c);
}

static uint32_t age_bucket(uint64_t pass, uint64_t last)
{
    if (!last) return RUN_AGE_BUCKETS - 1;
    uint64_t const a = pass - last;
    return a <= 1 ? 0 : a <= 2 ? 1 : a <= 4 ? 2 : a <= 8 ? 3 : a <= 16 ? 4 : a <= 64 ? 5 : 6;
}

static uint32_t freq_bucket(const run_cache *c, uint32_t layer, double freq)
{
    double const f = c->passes[layer] > 0 ? freq / c->passes[layer] : 0;
    return f < 1.0 / 64 ? 0 : f < 1.0 / 32 ? 1 : f < 1.0 / 16 ? 2 : f < 1.0 / 8 ? 3 : f < 1.0 / 4 ? 4 : 5;
}

void run_cache_begin_layer(run_cache *c, uint32_t layer, uint32_t n_tokens, const uint32_t *experts, uint32_t n)
{
    if (layer >= c->n_layer) return;
    pthread_mutex_lock(&c->mu);
    c->cur_layer = layer;
    c->batch++;
    uint64_t const pass = ++c->pass[layer];
    run_centry *const row = &c->e[(uint64_t)layer * c->n_expert];
    for (uint32_t i = 0; i < n; i++)
        if (experts[i] < c->n_expert) row[experts[i]].want = c->batch;
    /* teach the reuse table what this pass did, for every expert of the layer */
    for (uint32_t e = 0; e < c->n_expert; e++) {
        uint32_t const ab = age_bucket(pass, row[e].last_pass), fb = freq_bucket(c, layer, row[e].freq);
        c->den[ab][fb] += 1;
        if (row[e].want == c->batch) {
            c->num[ab][fb] += 1;
            row[e].last_pass = pass;
        }
    }
    c->table_n += c->n_expert;
    if (c->table_n > RUN_TABLE_AGE) {
        for (uint32_t a = 0; a < RUN_AGE_BUCKETS; a++)
            for (uint32_t f = 0; f < RUN_FREQ_BUCKETS; f++) {
                c->num[a][f] *= 0.5;
                c->den[a][f] *= 0.5;
            }
        c->table_n *= 0.5;
    }
    c->passes[layer] += n_tokens;
    if (c->passes[layer] > RUN_AGE_WINDOW) {
        c->passes[layer] *= 0.5;
        for (uint32_t e = 0; e < c->n_expert; e++) row[e].freq *= 0.5;
    }
    pthread_mutex_unlock(&c->mu);
}

/* Expected layer steps until entry idx is used again (LAYER policy). */
static double next_use(const run_cache *c, uint32_t idx)
{
    uint32_t const layer = idx / c->n_expert, L = c->n_layer;
    uint32_t dist = (layer + L - c->cur_layer) % L;
    if (dist == 0) dist = L; /* the current layer's batch is done with it: next pass */
    run_centry const *e = &c->e[idx];
    uint32_t const ab = age_bucket(c->pass[layer] + 1, e->last_pass), fb = freq_bucket(c, layer, e->freq);
    /* a prior of one observation at the uniform rate for buckets not seen yet */
    double const p0 = c->n_expert ? 1.0 / c->n_expert : 1.0;
    double const p = (c->num[ab][fb] + p0) / (c->den[ab][fb] + 1.0);
    double const pc = p < 1e-6 ? 1e-6 : p > 1.0 ? 1.0 : p;
    return (double)dist + (double)L * (1.0 / pc - 1.0);
}

/* 1 if entry a should be evicted before entry b under the cache's policy. */
static int evict_first(const run_cache *c, uint32_t a, uint32_t b)
{
    run_centry const *ea = &c->e[a], *eb = &c->e[b];
    if (c->policy == RUN_POLICY_LFU && ea->freq != eb->freq) return ea->freq < eb->freq;
    if (c->policy == RUN_POLICY_LAYER) {
        int const wa = ea->want == c->batch, wb = eb->want == c->batch;
        if (wa != wb) return wb;
        double const na = next_use(c, a), nb = next_use(c, b);
        if (na != nb) return na > nb;
    }
    return ea->last_use < eb->last_use;
}

/* Pick the unpinned resident entry to evict, or UINT32_MAX if all are pinned. Images a prefetch
 * brought in and nobody used yet go last (first == 0 spares them entirely, as a prefetch must:
 * it neither evicts its own kind nor what the current batch still needs). */
static uint32_t victim(const run_cache *c, int for_prefetch)
{
    uint32_t best = UINT32_MAX;
    for (uint32_t i = 0; i < c->n_resident; i++) {
        uint32_t const idx = c->resident[i];
        run_centry const *e = &c->e[idx];
        if (e->pins) continue;
        if (for_prefetch && (e->prefetched || e->want == c->batch)) continue;
        if (best == UINT32_MAX) {
            best = idx;
            continue;
        }
        int const pa = e->prefetched, pb = c->e[best].prefetched;
        if (pa != pb ? pb : evict_first(c, idx, best)) best = idx;
    }
    return best;
}

static void evict(run_cache *c, uint32_t idx)
{
    run_centry *e = &c->e[idx];
    if (e->prefetched) c->pf_wasted++;
    e->prefetched = 0;
    free(e->image);
    e->image = NULL;
    c->used -= e->size;
    uint32_t const last = c->resident[--c->n_resident];
    c->resident[e->pos] = last;
    c->e[last].pos = e->pos;
    c->evictions++;
}

/* Evict down to target bytes; 0 if reached. */
static int shrink_to(run_cache *c, uint64_t target, int for_prefetch)
{
    while (c->used > target) {
        uint32_t const v = victim(c, for_prefetch);
        if (v == UINT32_MAX) return -1;
        evict(c, v);
    }
    return 0;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void record_latency(run_cache *c, uint64_t ns)
{
    if (c->n_lat >= RUN_LAT_CAP) return;
    if (c->n_lat >= 1024 && (c->n_lat & (c->n_lat - 1)) == 0) {
        uint64_t *const nl = realloc(c->lat_ns, sizeof *nl * c->n_lat * 2);
        if (!nl) return;
        c->lat_ns = nl;
    }
    c->lat_ns[c->n_lat++] = ns;
}

/* Load entry idx (marked loading, its bytes reserved) outside the lock; then make it resident
 * (or transient). Called and returns with c->mu held. */
static int load_locked(run_cache *c, uint32_t idx, uint64_t size, int transient, run_cache_load_fn load, void *arg,
                       trit_err *err)
{
    uint32_t const layer = idx / c->n_expert, expert = idx % c->n_expert;
    run_centry *e = &c->e[idx];
    size_t sz;
    void *buf = NULL;
    if (trit_to_size(size, &sz))
        return trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, NULL, "expert of %llu bytes", (unsigned long long)size);
    e->loading = 1;
    c->n_loading++;
    if (!transient) {
        c->used += size;
        if (c->used > c->peak) c->peak = c->used;
    }
    pthread_mutex_unlock(&c->mu);
    int rc = TRIT_OK;
    uint64_t t0 = 0, t1 = 0;
    if (posix_memalign(&buf, 64, sz ? sz : 1) != 0) {
        buf = NULL;
        rc = trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "cannot allocate %llu bytes for expert %u of layer %u",
                          (unsigned long long)size, expert, layer);
    } else {
        t0 = now_ns();
        rc = load(arg, layer, expert, buf, size, err);
        t1 = now_ns();
    }
    pthread_mutex_lock(&c->mu);
    e->loading = 0;
    c->n_loading--;
    pthread_cond_broadcast(&c->done);
    if (rc != TRIT_OK) {
        free(buf);
        if (!transient) c->used -= size;
        return rc;
    }
    record_latency(c, t1 - t0);
    c->n_loads++;
    c->bytes_paged += size;
    e->image = buf;
    e->size = size;
    if (transient) {
        e->transient = 1;
        c->n_transient++;
        return TRIT_OK;
    }
    e->pos = c->n_resident;
    c->resident[c->n_resident++] = idx;
    return TRIT_OK;
}

int run_cache_acquire(run_cache *c, uint32_t layer, uint32_t expert, uint64_t size, uint32_t weight,
                      run_cache_load_fn load, void *arg, const void **image, trit_err *err)
{
    *image = NULL;
    if (layer >= c->n_layer || expert >= c->n_expert)
        return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL, "expert %u of layer %u out of range", expert, layer);
    uint32_t const idx = layer * c->n_expert + expert;
    pthread_mutex_lock(&c->mu);
    run_centry *e = &c->e[idx];
    c->clock++;
    e->last_use = c->clock;
    e->freq += weight;
    e->want = 0;
    if (e->loading) {
        c->pf_waits++;   /* a prefetch is reading it: wait rather than read it twice */
        while (e->loading) pthread_cond_wait(&c->done, &c->mu);
    }
    if (e->image) {
        c->hits[layer]++;
        if (e->prefetched) c->pf_hits++;
        e->prefetched = 0;
        e->pins++;
        *image = e->image;
        pthread_mutex_unlock(&c->mu);
        return TRIT_OK;
    }
    c->misses[layer]++;
    int const transient = size > c->budget;   /* never cached: see the top of the file */
    /* room for it; bytes of prefetches in flight cannot be evicted, so wait for them when short */
    while (!transient && shrink_to(c, c->budget - size, 0) && c->n_loading) pthread_cond_wait(&c->done, &c->mu);
    int const rc = load_locked(c, idx, size, transient, load, arg, err);
    if (rc == TRIT_OK) {
        e->pins = 1;
        *image = e->image;
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int run_cache_prefetch(run_cache *c, uint32_t layer, uint32_t expert, uint64_t size, run_cache_load_fn load, void *arg,
                       trit_err *err)
{
    if (layer >= c->n_layer || expert >= c->n_expert) return TRIT_OK;
    uint32_t const idx = layer * c->n_expert + expert;
    pthread_mutex_lock(&c->mu);
    run_centry *e = &c->e[idx];
    int rc = TRIT_OK;
    if (e->image || e->loading || size > c->budget) {
        pthread_mutex_unlock(&c->mu);
        return TRIT_OK;
    }
    if (shrink_to(c, c->budget - size, 1)) {
        c->pf_skipped++;   /* no room without evicting what is needed sooner */
        pthread_mutex_unlock(&c->mu);
        return TRIT_OK;
    }
    rc = load_locked(c, idx, size, 0, load, arg, err);
    if (rc == TRIT_OK) {
        c->pf_loads++;
        if (e->pins == 0) e->prefetched = 1;
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

uint32_t run_cache_policy(const run_cache *c) { return c->policy; }

void run_cache_release(run_cache *c, uint32_t layer, uint32_t expert)
{
    if (layer >= c->n_layer || expert >= c->n_expert) return;
    pthread_mutex_lock(&c->mu);
    run_centry *e = &c->e[layer * c->n_expert + expert];
    if (e->pins) e->pins--;
    if (e->transient && !e->pins) {
        free(e->image);
        e->image = NULL;
        e->transient = 0;
        c->n_transient--;
    } else {
        shrink_to(c, c->budget, 0);
    }
    pthread_mutex_unlock(&c->mu);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t const x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

void run_cache_stats(run_cache *c, run_stats *s)
{
    pthread_mutex_lock(&c->mu);
    s->prefetch_loads = c->pf_loads;
    s->prefetch_hits = c->pf_hits;
    s->prefetch_wasted = c->pf_wasted;
    s->prefetch_waits = c->pf_waits;
    s->prefetch_skipped = c->pf_skipped;
    s->n_layer = c->n_layer;
    s->hits = c->hits;
    s->misses = c->misses;
    s->total_hits = s->total_misses = 0;
    for (uint32_t l = 0; l < c->n_layer; l++) {
        s->total_hits += c->hits[l];
        s->total_misses += c->misses[l];
    }
    s->bytes_paged = c->bytes_paged;
    s->evictions = c->evictions;
    s->resident_bytes = c->used;
    s->peak_resident_bytes = c->peak;
    s->budget = c->budget;
    s->n_loads = c->n_loads;
    s->load_p50_ms = s->load_p99_ms = 0;
    if (c->n_lat) {
        uint64_t *const v = malloc(sizeof *v * c->n_lat);
        if (v) {
            memcpy(v, c->lat_ns, sizeof *v * c->n_lat);
            qsort(v, c->n_lat, sizeof *v, cmp_u64);
            s->load_p50_ms = (double)v[(c->n_lat - 1) / 2] / 1e6;
            s->load_p99_ms = (double)v[(c->n_lat - 1) * 99 / 100] / 1e6;
            free(v);
        }
    }
    pthread_mutex_unlock(&c->mu);
}
