/*
 * run_pool.c - a small persistent worker pool. Two kinds of job:
 *   run_pool_run(fn, arg)           fn(arg, i, n) for i = 0..n-1 at once, i = 0 on the caller;
 *                                   returns when all are done (every worker takes part)
 *   run_pool_range(fn, arg, n, g)   [0, n) in chunks of g items handed out from an atomic
 *                                   counter; the caller takes chunks too and returns when every
 *                                   chunk is done, without waiting for a worker that took none
 *
 * A forward pass issues a few hundred jobs per token with serial work in between, so wake-up
 * latency matters (a futex wake costs ~30 us, more than a small product): workers spin on an
 * atomic generation counter (with the CPU's pause hint) for up to RUN_POOL_SPIN_NS before
 * sleeping on a condition variable. (sched_yield in the spin was measured worse: on a busy
 * machine it hands the core away for a whole time slice.) On a machine shared with other work
 * a worker is often not running when a job is posted; with a fixed split the caller then waits
 * a whole time slice for its share, which is why the big products use range jobs: whoever runs
 * takes the next chunk, and the caller waits only for chunks already taken.
 *
 * Who computes a chunk never changes a result: the callers' chunks are independent outputs
 * (rows, attention heads) computed the same way by any thread, so the results stay bit-identical
 * across thread counts and schedules.
 *
 * Publishing: gen is odd while the caller writes the job's fields and even once they are
 * complete; a worker reads the fields between two reads of an even gen and drops the snapshot
 * if gen moved (a range job can end and be replaced before a late worker looks at it; a fixed
 * job cannot, since the caller waits for every worker). A range job's chunk counter carries the
 * job's gen in its upper half, so a late worker can never take a chunk of a job that is over.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "run_int.h"
#include "trit_sys.h"

#define RUN_POOL_SPIN_NS 1000000u   /* 1 ms of spinning before a worker sleeps */

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A new published job: gen even and not `seen`. */
static inline int is_new(unsigned g, unsigned seen) { return g != seen && !(g & 1u); }

/* Spin up to RUN_POOL_SPIN_NS for a new job; returns the last gen seen (maybe not new). The
 * clock is read every 256 pauses only. */
static unsigned spin_for_job(atomic_uint *v, unsigned seen)
{
    unsigned g;
    uint32_t n = 0;
    uint64_t const t0 = mono_ns();
    while (!is_new(g = atomic_load_explicit(v, memory_order_acquire), seen)) {
        cpu_relax();
        if ((++n & 255u) == 0 && mono_ns() - t0 > RUN_POOL_SPIN_NS) break;
    }
    return g;
}

typedef struct run_worker {
    struct run_pool *pool;
    uint32_t idx;
    pthread_t th;
} run_worker;

struct run_pool {
    uint32_t n;                /* workers including the caller */
    run_worker *w;             /* n - 1 threads */
    uint32_t n_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_uint gen;           /* odd while a job is being written, even once published */
    atomic_uint pending;       /* fixed jobs: workers that have not finished */
    atomic_int stop;
    /* the current job; written only while gen is odd */
    _Atomic(run_task_fn) fn;   /* a fixed job, or NULL for a range job */
    _Atomic(run_range_fn) rfn;
    _Atomic(void *) arg;
    _Atomic uint64_t n_items, grain;
    _Atomic uint64_t next;     /* range job: (gen << 32) | next chunk */
    _Atomic uint64_t done;     /* range job: chunks finished */
};

/* Take and run chunks of the range job published as gen g until none is left. */
static void range_work(run_pool *p, unsigned g, run_range_fn fn, void *arg, uint64_t n_items, uint64_t grain, uint32_t idx)
{
    uint64_t const n_chunks = (n_items + grain - 1) / grain;
    uint64_t v = atomic_load_explicit(&p->next, memory_order_acquire);
    for (;;) {
        if ((v >> 32) != g || (v & 0xffffffffu) >= n_chunks) return;
        if (!atomic_compare_exchange_weak_explicit(&p->next, &v, v + 1, memory_order_acq_rel, memory_order_acquire)) continue;
        uint64_t const lo = (v & 0xffffffffu) * grain, hi = lo + grain < n_items ? lo + grain : n_items;
        fn(arg, idx, lo, hi);
        atomic_fetch_add_explicit(&p->done, 1, memory_order_acq_rel);
        v = atomic_load_explicit(&p->next, memory_order_acquire);
    }
}

static void *worker_main(void *p)
{
    run_worker *const me = p;
    run_pool *const pool = me->pool;
    /* gen is 0 until every worker exists (run_pool_new returns first), so a job posted before
     * this thread got scheduled is still seen as new. */
    unsigned seen = 0;
    for (;;) {
        unsigned g = spin_for_job(&pool->gen, seen);
        if (!is_new(g, seen)) {
            pthread_mutex_lock(&pool->mu);
            while (!is_new(g = atomic_load_explicit(&pool->gen, memory_order_acquire), seen)) pthread_cond_wait(&pool->cv, &pool->mu);
            pthread_mutex_unlock(&pool->mu);
        }
        if (atomic_load_explicit(&pool->stop, memory_order_acquire)) return NULL;
        run_task_fn const fn = atomic_load_explicit(&pool->fn, memory_order_relaxed);
        run_range_fn const rfn = atomic_load_explicit(&pool->rfn, memory_order_relaxed);
        void *const arg = atomic_load_explicit(&pool->arg, memory_order_relaxed);
        uint64_t const n_items = atomic_load_explicit(&pool->n_items, memory_order_relaxed);
        uint64_t const grain = atomic_load_explicit(&pool->grain, memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire);
        seen = g;
        if (atomic_load_explicit(&pool->gen, memory_order_relaxed) != g) continue; /* a range job replaced meanwhile */
        if (fn) {
            fn(arg, me->idx, pool->n);
            atomic_fetch_sub_explicit(&pool->pending, 1, memory_order_acq_rel);
        } else {
            range_work(pool, g, rfn, arg, n_items, grain, me->idx);
        }
    }
}

int run_pool_new(uint32_t n_threads, run_pool **out, trit_err *err)
{
    *out = NULL;
    if (n_threads == 0) n_threads = 1;
    if (n_threads > RUN_MAX_THREADS)
        return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL, "%u threads requested, at most %u",
                            n_threads, RUN_MAX_THREADS);
    run_pool *p = calloc(1, sizeof *p);
    if (!p) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    p->n = n_threads;
    atomic_init(&p->gen, 0);
    atomic_init(&p->pending, 0);
    atomic_init(&p->stop, 0);
    atomic_init(&p->fn, NULL);
    atomic_init(&p->rfn, NULL);
    atomic_init(&p->arg, NULL);
    atomic_init(&p->n_items, 0);
    atomic_init(&p->grain, 1);
    atomic_init(&p->next, 0);
    atomic_init(&p->done, 0);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if (n_threads > 1) {
        p->w = calloc(n_threads - 1, sizeof *p->w);
        if (!p->w) {
            run_pool_free(p);
            return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
        }
        for (uint32_t i = 0; i + 1 < n_threads; i++) {
            p->w[i].pool = p;
            p->w[i].idx = i + 1;
            if (trit_sys_thread_start(&p->w[i].th, worker_main, &p->w[i]) != 0) {
                run_pool_free(p);
                return trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, NULL, "cannot start worker thread %u", i + 1);
            }
            p->n_started++;
        }
    }
    *out = p;
    return TRIT_OK;
}

void run_pool_free(run_pool *p)
{
    if (!p) return;
    if (p->n_started) {
        pthread_mutex_lock(&p->mu);
        atomic_store_explicit(&p->stop, 1, memory_order_release);
        atomic_fetch_add_explicit(&p->gen, 2, memory_order_acq_rel);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        for (uint32_t i = 0; i < p->n_started; i++) pthread_join(p->w[i].th, NULL);
    }
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p->w);
    free(p);
}

uint32_t run_pool_size(const run_pool *p) { return p ? p->n : 1; }

static int pool_usable(const run_pool *p) { return p && p->n > 1 && p->n_started + 1 == p->n; }

/* Make the fields written since gen went odd visible: gen even again, sleepers woken. */
static unsigned publish(run_pool *p)
{
    pthread_mutex_lock(&p->mu);
    unsigned const g = atomic_fetch_add_explicit(&p->gen, 1, memory_order_acq_rel) + 1u;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return g;
}

void run_pool_run(run_pool *p, run_task_fn fn, void *arg)
{
    if (!pool_usable(p)) {
        fn(arg, 0, 1);
        return;
    }
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_acq_rel); /* odd: writing */
    atomic_store_explicit(&p->fn, fn, memory_order_relaxed);
    atomic_store_explicit(&p->arg, arg, memory_order_relaxed);
    atomic_store_explicit(&p->pending, p->n - 1, memory_order_relaxed);
    publish(p);
    fn(arg, 0, p->n);
    while (atomic_load_explicit(&p->pending, memory_order_acquire) != 0) cpu_relax();
}

void run_pool_range(run_pool *p, run_range_fn fn, void *arg, uint64_t n_items, uint64_t grain)
{
    if (n_items == 0) return;
    if (grain == 0) grain = 1;
    if (n_items / grain >= 0xffffffffu) grain = n_items / 0xfffffffeu + 1; /* chunk numbers fit 32 bits */
    if (!pool_usable(p) || grain >= n_items) {
        fn(arg, 0, 0, n_items);
        return;
    }
    unsigned const odd = atomic_fetch_add_explicit(&p->gen, 1, memory_order_acq_rel) + 1u;
    unsigned const g = odd + 1u;   /* the gen publish() makes */
    atomic_store_explicit(&p->fn, NULL, memory_order_relaxed);
    atomic_store_explicit(&p->rfn, fn, memory_order_relaxed);
    atomic_store_explicit(&p->arg, arg, memory_order_relaxed);
    atomic_store_explicit(&p->n_items, n_items, memory_order_relaxed);
    atomic_store_explicit(&p->grain, grain, memory_order_relaxed);
    atomic_store_explicit(&p->done, 0, memory_order_relaxed);
    atomic_store_explicit(&p->next, (uint64_t)g << 32, memory_order_relaxed);
    publish(p);
    range_work(p, g, fn, arg, n_items, grain, 0);
    uint64_t const n_chunks = (n_items + grain - 1) / grain;
    while (atomic_load_explicit(&p->done, memory_order_acquire) != n_chunks) cpu_relax();
}
