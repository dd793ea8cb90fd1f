/* test_run_pool.c - the runner's worker pool: range jobs hand out every item exactly once (any
 * item count, grain and thread count, the caller alone included), fixed jobs run every worker
 * exactly once, and thousands of the two kinds in alternation (the late-worker cases of the
 * publishing protocol in run_pool.c) lose or repeat nothing. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "run_int.h"
#include "test.h"

typedef struct range_arg {
    atomic_uint *hits;   /* per item */
    uint32_t n_workers;
    atomic_uint bad_worker;
} range_arg;

static void range_fn(void *arg, uint32_t worker, uint64_t lo, uint64_t hi)
{
    range_arg *a = arg;
    if (worker >= a->n_workers || lo >= hi) atomic_fetch_add(&a->bad_worker, 1);
    for (uint64_t i = lo; i < hi; i++) atomic_fetch_add(&a->hits[i], 1);
}

typedef struct fixed_arg {
    atomic_uint calls[8];
    atomic_uint bad;
} fixed_arg;

static void fixed_fn(void *arg, uint32_t i, uint32_t n)
{
    fixed_arg *a = arg;
    if (i >= n || i >= 8) atomic_fetch_add(&a->bad, 1);
    else atomic_fetch_add(&a->calls[i], 1);
}

TEST(run_pool_range_each_item_once)
{
    static const uint64_t items[] = {1, 2, 15, 16, 17, 1000, 4097};
    static const uint64_t grains[] = {0, 1, 3, 16, 5000};
    enum { MAXN = 4097 };
    atomic_uint *hits = malloc(sizeof *hits * MAXN);
    CHECK(hits != NULL);
    for (uint32_t th = 1; th <= 4 && hits; th++) {
        run_pool *p = NULL;
        trit_err err;
        CHECK_OK_E(run_pool_new(th, &p, &err), &err);
        for (unsigned ii = 0; ii < sizeof items / sizeof items[0]; ii++)
            for (unsigned gi = 0; gi < sizeof grains / sizeof grains[0]; gi++) {
                uint64_t const n = items[ii];
                for (uint64_t i = 0; i < n; i++) atomic_init(&hits[i], 0);
                range_arg a = {hits, th, 0};
                run_pool_range(p, range_fn, &a, n, grains[gi]);
                uint64_t wrong = 0;
                for (uint64_t i = 0; i < n; i++) wrong += atomic_load(&hits[i]) != 1;
                if (wrong || atomic_load(&a.bad_worker))
                    test_fail_(__FILE__, __LINE__, "%u threads, %llu items, grain %llu: %llu items not run once, %u bad calls", th,
                               (unsigned long long)n, (unsigned long long)grains[gi], (unsigned long long)wrong,
                               atomic_load(&a.bad_worker));
            }
        run_pool_free(p);
    }
    free(hits);
}

TEST(run_pool_kinds_interleaved)
{
    enum { N = 300, ROUNDS = 600 };
    run_pool *p = NULL;
    trit_err err;
    CHECK_OK_E(run_pool_new(3, &p, &err), &err);
    atomic_uint hits[N];
    fixed_arg f;
    memset(&f, 0, sizeof f);
    unsigned lost = 0;
    for (unsigned r = 0; r < ROUNDS; r++) {
        for (unsigned i = 0; i < N; i++) atomic_init(&hits[i], 0);
        range_arg a = {hits, 3, 0};
        run_pool_range(p, range_fn, &a, N, 1 + r % 7);
        for (unsigned i = 0; i < N; i++) lost += atomic_load(&hits[i]) != 1;
        lost += atomic_load(&a.bad_worker);
        if (r % 3 == 0) run_pool_run(p, fixed_fn, &f);
    }
    CHECK_EQ_INT((int)lost, 0);
    CHECK_EQ_INT((int)atomic_load(&f.bad), 0);
    for (unsigned i = 0; i < 3; i++) CHECK_EQ_INT((int)atomic_load(&f.calls[i]), ROUNDS / 3);
    run_pool_free(p);
}
