/* test_run_prefetch.c - expert prefetch (runner/run_prefetch.c): logits bit-identical with it on
 * and off under every policy, budget, thread count and batch size; within budget; and it does
 * work (in sync mode, loads that later serve a use, on a model whose router is a float matrix). */
#include <stdlib.h>
#include <string.h>

#include "run_int.h"
#include "test.h"
#include "test_run_util.h"

#define NT 20

static void moe_cfg(trm_cfg *c, uint32_t emb_type)
{
    trm_default(c);
    c->n_layer = 4;
    c->n_ff = 0;
    c->n_expert = 8;
    c->n_expert_used = 2;
    c->n_ff_expert = 64;
    c->norm_topk = 1;
    c->proj_type = TRIT_TYPE_T2;
    c->scale_layout = TRIT_SCALE_GROUP;
    c->group_size = 64;
    c->emb_type = emb_type;
}

/* Logits of the last token after NT tokens fed `chunk` at a time. */
static int run_once(const char *path, uint32_t threads, uint64_t budget, uint32_t policy, uint32_t prefetch, uint32_t chunk,
                    float *out, run_stats *st, trit_err *err)
{
    run_weights w;
    int rc = run_weights_open_trit(path, 0, &w, err);
    if (rc) return rc;
    run_opts o;
    run_opts_default(&o);
    o.n_threads = threads;
    o.expert_cache = budget;
    o.policy = policy;
    o.prefetch = prefetch;
    o.n_ctx = NT;
    run_ctx *c = NULL;
    rc = run_ctx_new(&w, &o, &c, err);
    uint32_t t[NT];
    for (uint32_t i = 0; i < NT; i++) t[i] = (i * 37 + 3) % 97;
    for (uint32_t done = 0; rc == TRIT_OK && done < NT;) {
        uint32_t const step = chunk && NT - done > chunk ? chunk : NT - done;
        rc = run_ctx_eval(c, t + done, step, done + step == NT ? out : NULL, err);
        done += step;
    }
    if (rc == TRIT_OK && st) run_ctx_stats(c, st);
    run_ctx_free(c);
    run_weights_close(&w);
    return rc;
}

static uint64_t unit_size(const char *path)
{
    trit_reader *r = NULL;
    trit_err err;
    uint64_t one = 0;
    if (trit_reader_open(path, NULL, &r, &err) == TRIT_OK) one = trit_reader_unit(r, 0)->decoded_size;
    trit_reader_close(r);
    return one;
}

static void bit_identical(uint32_t emb_type, uint32_t storage, const char *name)
{
    trm_cfg c;
    moe_cfg(&c, emb_type);
    c.storage = storage;
    const char *path = test_path(test_tmpdir(), name);
    trit_err err;
    CHECK_OK_E(trm_write(&c, path, &err), &err);
    float ref[97], got[97];
    CHECK_OK_E(run_once(path, 1, 1ull << 30, RUN_POLICY_LRU, RUN_PREFETCH_OFF, 1, ref, NULL, &err), &err);
    uint64_t const one = unit_size(path);
    CHECK(one > 0);
    uint64_t const budgets[] = {0, one, 3 * one, 9 * one + 7, 1ull << 30};
    for (uint32_t p = 0; p < RUN_POLICY_COUNT_; p++)
        for (size_t b = 0; b < sizeof budgets / sizeof budgets[0]; b++)
            for (uint32_t threads = 1; threads <= 3; threads += 2)
                for (uint32_t pf = 0; pf < 3; pf++) {
                    uint32_t const chunk = 1 + (uint32_t)((b + pf) % 3) * 3;   /* decode and small prefills */
                    run_stats st;
                    memset(got, 0, sizeof got);
                    CHECK_OK_E(run_once(path, threads, budgets[b], p, pf, chunk, got, &st, &err), &err);
                    if (memcmp(ref, got, sizeof ref))
                        test_fail_(__FILE__, __LINE__, "logits differ: policy %s, budget %llu, %u threads, prefetch %u, chunk %u",
                                   run_policy_name(p), (unsigned long long)budgets[b], threads, pf, chunk);
                    CHECK(st.peak_resident_bytes <= budgets[b]);
                    if (!pf) CHECK_EQ_U64(st.prefetch_loads, 0);
                }
}

TEST(run_prefetch_bit_identical_f16_router) { bit_identical(TRIT_TYPE_F16, TRIT_STORAGE_ZSTD, "pf_f16.trit"); }
TEST(run_prefetch_bit_identical_f32_router_raw) { bit_identical(TRIT_TYPE_F32, TRIT_STORAGE_RAW, "pf_f32.trit"); }

/* With room for the next layer's experts, prefetch loads them ahead and they serve uses: more
 * hits than without it, and every demand load it saved shows as a prefetch hit. */
TEST(run_prefetch_turns_misses_into_hits)
{
    trm_cfg c;
    moe_cfg(&c, TRIT_TYPE_F16);
    const char *path = test_path(test_tmpdir(), "pf_hits.trit");
    trit_err err;
    CHECK_OK_E(trm_write(&c, path, &err), &err);
    uint64_t const one = unit_size(path);
    float a[97], b[97];
    run_stats off, on;
    CHECK_OK_E(run_once(path, 1, 6 * one, RUN_POLICY_LAYER, RUN_PREFETCH_OFF, 1, a, &off, &err), &err);
    CHECK_OK_E(run_once(path, 1, 6 * one, RUN_POLICY_LAYER, RUN_PREFETCH_SYNC, 1, b, &on, &err), &err);
    CHECK(memcmp(a, b, sizeof a) == 0);
    CHECK_EQ_U64(on.total_hits + on.total_misses, off.total_hits + off.total_misses);
    CHECK(on.prefetch_loads > 0);
    CHECK(on.prefetch_hits > 0);
    CHECK(on.prefetch_hits <= on.prefetch_loads);
    CHECK(on.total_hits > off.total_hits);
    CHECK(on.peak_resident_bytes <= 6 * one);
    fprintf(stderr, "  8 experts x 4 layers, top-2, budget 6 experts: hit rate %.1f%% off, %.1f%% on (%llu prefetched, "
                    "%llu used, %llu wasted)\n",
            100.0 * (double)off.total_hits / (double)(off.total_hits + off.total_misses),
            100.0 * (double)on.total_hits / (double)(on.total_hits + on.total_misses), (unsigned long long)on.prefetch_loads,
            (unsigned long long)on.prefetch_hits, (unsigned long long)on.prefetch_wasted);
}
