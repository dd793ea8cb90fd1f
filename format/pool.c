/* pool.c - the job queue of trit_pool.h: one mutex, one FIFO, two condition variables (work
 * arrived; a job finished). Jobs are coarse (a tensor, a unit, a megabyte of rows), so a
 * mutex per job costs nothing measurable. */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "trit_pool.h"
#include "trit_sys.h"

enum { JOB_QUEUED = 1, JOB_RUNNING, JOB_DONE };

struct trit_pool {
    pthread_mutex_t mu;
    pthread_cond_t work;       /* a job was queued, or quit */
    pthread_cond_t done;       /* a job finished */
    trit_pool_job *head, *tail;
    int quit;
    uint32_t n_workers;
    pthread_t *th;
};

/* Take the queue's first job; mu held. */
static trit_pool_job *pop(trit_pool *p)
{
    trit_pool_job *j = p->head;
    if (j) {
        p->head = j->next;
        if (!p->head) p->tail = NULL;
        j->state = JOB_RUNNING;
    }
    return j;
}

/* Run j with mu released; mu held on entry and on return. */
static void run(trit_pool *p, trit_pool_job *j)
{
    pthread_mutex_unlock(&p->mu);
    j->fn(j);
    pthread_mutex_lock(&p->mu);
    j->state = JOB_DONE;
    pthread_cond_broadcast(&p->done);
}

static void *worker(void *arg)
{
    trit_pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        trit_pool_job *j = pop(p);
        if (j) {
            run(p, j);
            continue;
        }
        if (p->quit) break;
        pthread_cond_wait(&p->work, &p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int trit_pool_new(uint32_t n_threads, trit_pool **out, trit_err *err)
{
    *out = NULL;
    trit_pool *p = calloc(1, sizeof *p);
    uint32_t const nw = n_threads > 1 ? n_threads - 1 : 0;
    if (!p || (nw && !(p->th = calloc(nw, sizeof *p->th)))) {
        free(p);
        return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, NULL);
    for (uint32_t i = 0; i < nw; i++) {
        if (trit_sys_thread_start(&p->th[i], worker, p) != 0) {
            trit_pool_free(p);
            return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "cannot start worker thread %u of %u", i + 1, nw);
        }
        p->n_workers++;
    }
    *out = p;
    return TRIT_OK;
}

void trit_pool_free(trit_pool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (uint32_t i = 0; i < p->n_workers; i++) pthread_join(p->th[i], NULL);
    /* jobs nobody waited for still run: their owners may hold resources only fn releases */
    pthread_mutex_lock(&p->mu);
    for (trit_pool_job *j; (j = pop(p));) run(p, j);
    pthread_mutex_unlock(&p->mu);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mu);
    free(p->th);
    free(p);
}

void trit_pool_submit(trit_pool *p, trit_pool_job *job)
{
    pthread_mutex_lock(&p->mu);
    job->next = NULL;
    job->state = JOB_QUEUED;
    if (p->tail) p->tail->next = job;
    else p->head = job;
    p->tail = job;
    pthread_cond_signal(&p->work);
    pthread_mutex_unlock(&p->mu);
}

void trit_pool_wait(trit_pool *p, trit_pool_job *job)
{
    pthread_mutex_lock(&p->mu);
    while (job->state != JOB_DONE) {
        trit_pool_job *j = pop(p);
        if (j) run(p, j);
        else pthread_cond_wait(&p->done, &p->mu);
    }
    pthread_mutex_unlock(&p->mu);
}

uint32_t trit_pool_default_threads(void)
{
    long const n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 && n < 1024 ? (uint32_t)n : 1;
}
