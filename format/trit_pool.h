/*
 * trit_pool.h - a job queue on worker threads, shared by every module that runs work in
 * parallel (private: not installed, not TRIT_API; layers.mk lets every module include it).
 *
 * The caller owns each job (a trit_pool_job embedded in its own struct), submits it, and later
 * waits for it. Jobs start in submission order and may finish in any order; a caller that
 * consumes results in submission order therefore produces the same output at any thread count,
 * as long as each job's result depends only on its own inputs. A waiting caller runs queued jobs
 * itself instead of sleeping, so a pool of n threads has n - 1 workers plus the caller, and a
 * pool of 1 thread runs everything on the caller, in order, at the wait.
 */
#ifndef TRIT_POOL_H
#define TRIT_POOL_H

#include <stdint.h>

#include "trit.h"

typedef struct trit_pool trit_pool;

typedef struct trit_pool_job {
    void (*fn)(struct trit_pool_job *job);   /* set by the caller: the work */
    struct trit_pool_job *next;              /* the pool's */
    int state;                               /* the pool's: queued, running, done */
} trit_pool_job;

/* A pool of n_threads (>= 1; n_threads - 1 worker threads are started). *out caller frees
 * with trit_pool_free. TRIT_E_NOMEM when memory or a thread cannot be had. */
int trit_pool_new(uint32_t n_threads, trit_pool **out, trit_err *err);
/* Stops the workers after the jobs already queued have run. NULL is ok. */
void trit_pool_free(trit_pool *p);
/* Queue job (fn set). The job must stay valid until trit_pool_wait returns for it. */
void trit_pool_submit(trit_pool *p, trit_pool_job *job);
/* Return once job has run, running queued jobs on the calling thread meanwhile. */
void trit_pool_wait(trit_pool *p, trit_pool_job *job);
/* The number of cores online (>= 1): the default thread count. */
uint32_t trit_pool_default_threads(void);

#endif /* TRIT_POOL_H */
