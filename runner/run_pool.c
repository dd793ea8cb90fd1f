/*
 * run_pool.c - a small persistent worker pool: run_pool_run(fn, arg) calls fn(arg, i, n) for
 * i = 0..n-1 at once, i = 0 on the caller, and returns when all are done.
 *
 * A forward pass issues a few hundred of these per token with serial work in between, so
 * wake-up latency matters (a futex wake costs ~30 us, more than a small product): workers
 * spin on an atomic generation counter (with the CPU's pause hint) for up to RUN_POOL_SPIN_NS
 * before sleeping on a condition variable, and the caller spins on the count of unfinished
 * workers. (sched_yield in the spin was measured worse: on a busy machine it hands the core
 * away for a whole time slice.) The work split is the
 * caller's business (each fn decides from i and n); the pool never decides who computes what,
 * which keeps results independent of timing.
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

/* Wait while *v == val for up to RUN_POOL_SPIN_NS. Returns the last value seen (still val
 * when the time ran out). The clock is read every 256 pauses only. */
static unsigned spin_while(atomic_uint *v, unsigned val)
{
    unsigned g;
    uint32_t n = 0;
    uint64_t const t0 = mono_ns();
    while ((g = atomic_load_explicit(v, memory_order_acquire)) == val) {
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
    atomic_uint gen;           /* bumped for each job and for shutdown */
    atomic_uint pending;       /* workers that have not finished the current job */
    atomic_int stop;
    run_task_fn fn;
    void *arg;
};

static void *worker_main(void *p)
{
    run_worker *const me = p;
    run_pool *const pool = me->pool;
    /* gen is 0 until every worker exists (run_pool_new returns first), so a job posted before
     * this thread got scheduled is still seen as new. */
    unsigned seen = 0;
    for (;;) {
        unsigned g = spin_while(&pool->gen, seen);
        if (g == seen) {
            pthread_mutex_lock(&pool->mu);
            while ((g = atomic_load_explicit(&pool->gen, memory_order_acquire)) == seen)
                pthread_cond_wait(&pool->cv, &pool->mu);
            pthread_mutex_unlock(&pool->mu);
        }
        seen = g;
        if (atomic_load_explicit(&pool->stop, memory_order_acquire)) return NULL;
        pool->fn(pool->arg, me->idx, pool->n);
        atomic_fetch_sub_explicit(&pool->pending, 1, memory_order_acq_rel);
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
        atomic_fetch_add_explicit(&p->gen, 1, memory_order_acq_rel);
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

void run_pool_run(run_pool *p, run_task_fn fn, void *arg)
{
    if (!p || p->n <= 1 || p->n_started + 1 < p->n) {
        fn(arg, 0, 1);
        return;
    }
    p->fn = fn;
    p->arg = arg;
    atomic_store_explicit(&p->pending, p->n - 1, memory_order_release);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_acq_rel);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    fn(arg, 0, p->n);
    while (atomic_load_explicit(&p->pending, memory_order_acquire) != 0) cpu_relax();
}
