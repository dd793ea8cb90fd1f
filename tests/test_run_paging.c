/* test_run_paging.c - lazy expert paging: logits bit-identical for every budget, policy and
 * thread count; nothing loaded at start; the budget respected; a corrupt expert is an error;
 * and the eviction-policy measurement (hit rates of LRU, LFU and LAYER on generated traces). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gen/gen.h"
#include "run_int.h"
#include "test.h"
#include "test_run_util.h"

static void moe_cfg(trm_cfg *c)
{
    trm_default(c);
    c->n_layer = 3;
    c->n_ff = 0;
    c->n_expert = 8;
    c->n_expert_used = 2;
    c->n_ff_expert = 64;
    c->norm_topk = 1;
    c->proj_type = TRIT_TYPE_T2;
    c->scale_layout = TRIT_SCALE_GROUP;
    c->group_size = 64;
}

#define NT 24

static void tokens(uint32_t *t, uint32_t n, uint32_t vocab)
{
    for (uint32_t i = 0; i < n; i++) t[i] = (i * 29 + 7) % vocab;
}

TEST(run_paging_bit_identical_under_any_budget)
{
    trm_cfg c;
    moe_cfg(&c);
    const char *path = test_path(test_tmpdir(), "paging.trit");
    trit_err err;
    CHECK_OK_E(trm_write(&c, path, &err), &err);
    uint32_t t[NT];
    tokens(t, NT, c.n_vocab);
    float full[97], got[97];
    CHECK_OK_E(trm_run_logits(path, t, NT, 1, RUN_KERNEL_AUTO, 1ull << 30, RUN_POLICY_LRU, 6, full, &err), &err);
    /* size of one decoded expert */
    trit_reader *r = NULL;
    CHECK_OK_E(trit_reader_open(path, NULL, &r, &err), &err);
    uint64_t const one = r ? trit_reader_unit(r, 0)->decoded_size : 0;
    trit_reader_close(r);
    uint64_t const budgets[] = {0, one, 3 * one, 7 * one + 1};
    for (uint32_t p = 0; p < RUN_POLICY_COUNT_; p++)
        for (size_t b = 0; b < sizeof budgets / sizeof budgets[0]; b++)
            for (uint32_t threads = 1; threads <= 3; threads += 2) {
                memset(got, 0, sizeof got);
                CHECK_OK_E(trm_run_logits(path, t, NT, threads, RUN_KERNEL_AUTO, budgets[b], p, 1 + (uint32_t)b, got, &err), &err);
                if (memcmp(full, got, sizeof full))
                    test_fail_(__FILE__, __LINE__, "logits differ: policy %s, budget %llu, %u threads", run_policy_name(p),
                               (unsigned long long)budgets[b], threads);
            }
}

TEST(run_paging_lazy_and_within_budget)
{
    trm_cfg c;
    moe_cfg(&c);
    const char *path = test_path(test_tmpdir(), "lazy.trit");
    trit_err err;
    CHECK_OK_E(trm_write(&c, path, &err), &err);
    run_weights w;
    CHECK_OK_E(run_weights_open_trit(path, 0, &w, &err), &err);
    trit_reader const *r = run_weights_trit_reader(&w);
    uint64_t const one = trit_reader_unit(r, 0)->decoded_size;
    run_opts o;
    run_opts_default(&o);
    o.expert_cache = 2 * one;
    o.n_ctx = NT;
    run_ctx *ctx = NULL;
    CHECK_OK_E(run_ctx_new(&w, &o, &ctx, &err), &err);
    if (!ctx) return;
    run_stats s;
    run_ctx_stats(ctx, &s);
    CHECK_EQ_U64(s.total_misses + s.total_hits, 0);  /* nothing loaded at start */
    CHECK_EQ_U64(s.resident_bytes, 0);
    uint32_t t[NT];
    tokens(t, NT, c.n_vocab);
    for (uint32_t i = 0; i < NT; i++) CHECK_OK_E(run_ctx_eval(ctx, &t[i], 1, NULL, &err), &err);
    run_ctx_stats(ctx, &s);
    CHECK_EQ_U64(s.total_hits + s.total_misses, (uint64_t)NT * c.n_layer * c.n_expert_used);
    CHECK(s.total_misses > 2);
    CHECK(s.peak_resident_bytes <= 2 * one);
    CHECK(s.resident_bytes <= 2 * one);
    CHECK_EQ_U64(s.bytes_paged, (s.total_misses + s.prefetch_loads) * one);
    CHECK_EQ_U64(s.n_loads, s.total_misses + s.prefetch_loads);
    CHECK(s.bytes_read > 0 && s.bytes_read <= s.bytes_paged);  /* zstd units read smaller */
    CHECK(s.load_p99_ms >= s.load_p50_ms && s.load_p50_ms > 0);
    uint64_t sum = 0;
    for (uint32_t l = 0; l < s.n_layer; l++) sum += s.hits[l] + s.misses[l];
    CHECK_EQ_U64(sum, s.total_hits + s.total_misses);
    CHECK_EQ_U64(s.decode_tokens, NT);
    CHECK(s.peak_rss > 0);
    run_ctx_free(ctx);
    run_weights_close(&w);
}

/* Flip one byte inside the stored bytes of every unit of layer `layer`. */
static void corrupt_layer(const char *path, uint32_t layer)
{
    trit_reader *r = NULL;
    trit_err err;
    CHECK_OK_E(trit_reader_open(path, NULL, &r, &err), &err);
    if (!r) return;
    FILE *f = fopen(path, "r+b");
    CHECK(f != NULL);
    for (uint32_t u = 0; f && u < trit_reader_n_units(r); u++) {
        trit_unit_info const *ui = trit_reader_unit(r, u);
        if (ui->layer != layer) continue;
        long const at = (long)(ui->offset + ui->stored_size / 2);
        int ch;
        fseek(f, at, SEEK_SET);
        ch = fgetc(f);
        fseek(f, at, SEEK_SET);
        fputc(ch ^ 0x10, f);
    }
    if (f) fclose(f);
    trit_reader_close(r);
}

static void corrupt_case(uint32_t storage, const char *name)
{
    trm_cfg c;
    moe_cfg(&c);
    c.storage = storage;
    const char *path = test_path(test_tmpdir(), name);
    trit_err err;
    CHECK_OK_E(trm_write(&c, path, &err), &err);
    corrupt_layer(path, 1);
    run_weights w;
    CHECK_OK_E(run_weights_open_trit(path, 0, &w, &err), &err);  /* the index is intact */
    /* the provider refuses the expert itself */
    trit_reader const *r = run_weights_trit_reader(&w);
    uint64_t const one = trit_reader_unit(r, 0)->decoded_size;
    void *buf = malloc(one);
    CHECK_OK_E(w.vt->expert_read(w.self, 0, 3, buf, one, &err), &err);
    CHECK_EQ_INT(w.vt->expert_read(w.self, 1, 3, buf, one, &err), TRIT_E_CHECKSUM);
    free(buf);
    /* and so does a forward pass that needs one of them */
    run_ctx *ctx = NULL;
    CHECK_OK_E(run_ctx_new(&w, NULL, &ctx, &err), &err);
    uint32_t t[4] = {1, 2, 3, 4};
    float logits[97];
    trit_err_clear(&err);
    if (ctx) CHECK_EQ_INT(run_ctx_eval(ctx, t, 4, logits, &err), TRIT_E_CHECKSUM);
    CHECK(strstr(err.file, name) != NULL);
    CHECK(strstr(err.where, "layer 1") != NULL);
    run_ctx_free(ctx);
    run_weights_close(&w);
}

TEST(run_paging_corrupt_zstd_expert_is_an_error) { corrupt_case(TRIT_STORAGE_ZSTD, "corrupt_zstd.trit"); }
TEST(run_paging_corrupt_raw_expert_is_an_error) { corrupt_case(TRIT_STORAGE_RAW, "corrupt_raw.trit"); }

/* ---- policy measurement ------------------------------------------------------------------ */

typedef struct trace {
    uint32_t *layer, *expert, *ntok;
    uint32_t n, cap;
} trace;

static void trace_add(trace *t, uint32_t l, uint32_t e, uint32_t n)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 1024;
        t->layer = realloc(t->layer, sizeof *t->layer * t->cap);
        t->expert = realloc(t->expert, sizeof *t->expert * t->cap);
        t->ntok = realloc(t->ntok, sizeof *t->ntok * t->cap);
    }
    t->layer[t->n] = l;
    t->expert[t->n] = e;
    t->ntok[t->n++] = n;
}

static void trace_free(trace *t)
{
    free(t->layer);
    free(t->expert);
    free(t->ntok);
}

static int dummy_load(void *arg, uint32_t layer, uint32_t expert, void *dst, uint64_t size, trit_err *err)
{
    (void)arg; (void)layer; (void)expert; (void)err;
    memset(dst, 0, (size_t)size);
    return TRIT_OK;
}

/* Replay a trace through the real cache with unit-sized experts; returns the hit rate. A run of
 * accesses to one layer is one batch (begin_layer with its experts). */
static double replay(const trace *t, uint32_t n_layer, uint32_t n_expert, uint64_t budget_experts, uint32_t policy)
{
    run_cache *c = NULL;
    if (run_cache_new(n_layer, n_expert, budget_experts * 64, policy, &c, NULL)) return -1;
    uint32_t need[RUN_MAX_EXPERTS];
    for (uint32_t i = 0; i < t->n;) {
        uint32_t j = i, n = 0, toks = 0;
        while (j < t->n && t->layer[j] == t->layer[i] && (j == i || t->expert[j] > t->expert[j - 1])) {
            need[n++] = t->expert[j];
            toks = t->ntok[j] > toks ? t->ntok[j] : toks;
            j++;
        }
        run_cache_begin_layer(c, t->layer[i], toks, need, n);
        for (uint32_t k = i; k < j; k++) {
            const void *img;
            run_cache_acquire(c, t->layer[k], t->expert[k], 64, t->ntok[k], dummy_load, NULL, &img, NULL);
            run_cache_release(c, t->layer[k], t->expert[k]);
        }
        i = j;
    }
    run_stats s;
    memset(&s, 0, sizeof s);
    run_cache_stats(c, &s);
    run_cache_free(c);
    return (double)s.total_hits / (double)(s.total_hits + s.total_misses);
}

/* Synthetic MoE routing: per layer a Zipf(1) popularity over a shuffled expert order, and
 * each token keeps the previous token's choice for a slot with probability keep. */
static void synth_trace(trace *t, uint32_t L, uint32_t E, uint32_t K, uint32_t n_tok, double keep, uint64_t seed)
{
    uint64_t s = seed;
#define RND() (s += 0x9e3779b97f4a7c15ull, s = (s ^ (s >> 31)) * 0xbf58476d1ce4e5b9ull, (double)(s >> 11) / 9007199254740992.0)
    uint32_t *perm = malloc(sizeof *perm * L * E), *prev = calloc((size_t)L * K, sizeof *prev);
    for (uint32_t l = 0; l < L; l++) {
        for (uint32_t e = 0; e < E; e++) perm[l * E + e] = e;
        for (uint32_t e = E - 1; e > 0; e--) {
            uint32_t const j = (uint32_t)(RND() * (e + 1));
            uint32_t const x = perm[l * E + e];
            perm[l * E + e] = perm[l * E + j];
            perm[l * E + j] = x;
        }
    }
    double hn = 0;
    for (uint32_t e = 1; e <= E; e++) hn += 1.0 / e;
    for (uint32_t tk = 0; tk < n_tok; tk++)
        for (uint32_t l = 0; l < L; l++) {
            uint32_t sel[64];
            for (uint32_t k = 0; k < K; k++) {
                uint32_t e;
                for (int tries = 0;; tries++) {
                    if (tk > 0 && tries == 0 && RND() < keep) {
                        e = prev[l * K + k];
                    } else {
                        double const u = RND() * hn;
                        double acc = 0;
                        uint32_t rank = 0;
                        for (; rank + 1 < E; rank++) {
                            acc += 1.0 / (rank + 1);
                            if (u < acc) break;
                        }
                        e = perm[l * E + rank];
                    }
                    int dup = 0;
                    for (uint32_t i = 0; i < k; i++) dup |= sel[i] == e;
                    if (!dup) break;
                }
                sel[k] = e;
            }
            for (uint32_t k = 0; k < K; k++) prev[l * K + k] = sel[k];
            /* accesses in increasing expert order, as the forward pass makes them */
            for (uint32_t a = 0; a < K; a++)
                for (uint32_t b = a + 1; b < K; b++)
                    if (sel[b] < sel[a]) {
                        uint32_t const x = sel[a];
                        sel[a] = sel[b];
                        sel[b] = x;
                    }
            for (uint32_t k = 0; k < K; k++) trace_add(t, l, sel[k], 1);
        }
#undef RND
    free(perm);
    free(prev);
}

/* A trace from the runner itself on trit-gen's MoE container (decode, one token at a time). */
static int model_trace(trace *t, uint32_t *L, uint32_t *E, uint32_t *K)
{
    gen_opts o;
    gen_opts_default(&o, GEN_LAYOUT_TRIT);
    o.n_layer = 6;
    o.n_expert = 16;
    o.n_expert_used = 2;
    o.overwrite = 1;
    const char *path = test_path(test_tmpdir(), "policy_moe.trit");
    const char *tpath = test_path(test_tmpdir(), "policy_moe.trace");
    trit_err err;
    int rc = gen_write(&o, path, &err);
    if (rc) return rc;
    run_weights w;
    if ((rc = run_weights_open_trit(path, 0, &w, &err))) return rc;
    FILE *tf = fopen(tpath, "w+");
    run_opts ro;
    run_opts_default(&ro);
    ro.trace = tf;
    ro.n_ctx = 160;
    run_ctx *c = NULL;
    rc = run_ctx_new(&w, &ro, &c, &err);
    /* text-like input: a few recurring tokens, then greedy continuation */
    uint32_t tok = 5;
    float *logits = malloc(sizeof *logits * o.n_vocab);
    for (uint32_t i = 0; rc == TRIT_OK && i < 160; i++) {
        rc = run_ctx_eval(c, &tok, 1, logits, &err);
        uint32_t best = 0;
        for (uint32_t v = 1; v < o.n_vocab; v++) best = logits[v] > logits[best] ? v : best;
        tok = i % 3 == 0 ? (i * 53 + 11) % 256 : best;
    }
    free(logits);
    run_ctx_free(c);
    run_weights_close(&w);
    rewind(tf);
    unsigned l, e, n;
    while (fscanf(tf, "%u %u %u", &l, &e, &n) == 3) trace_add(t, l, e, n);
    fclose(tf);
    *L = o.n_layer;
    *E = o.n_expert;
    *K = o.n_expert_used;
    return rc;
}

/* Measure LRU, LFU and LAYER at budgets from a quarter of one token's working set (experts
 * used by one token over all layers) to many times it; print the table (stderr) and check
 * that the default (LAYER) never loses to LRU and beats both others overall. */
TEST(run_paging_policy_measurement)
{
    struct { const char *name; trace t; uint32_t L, E, K; } tr[3];
    memset(tr, 0, sizeof tr);
    tr[0].name = "synthetic zipf, keep 0.3 (L16 E64 k4)";
    tr[0].L = 16; tr[0].E = 64; tr[0].K = 4;
    synth_trace(&tr[0].t, 16, 64, 4, 400, 0.3, 11);
    tr[1].name = "synthetic zipf, keep 0.7 (L24 E32 k2)";
    tr[1].L = 24; tr[1].E = 32; tr[1].K = 2;
    synth_trace(&tr[1].t, 24, 32, 2, 400, 0.7, 12);
    tr[2].name = "runner trace, trit-gen MoE (L6 E16 k2)";
    CHECK_EQ_INT(model_trace(&tr[2].t, &tr[2].L, &tr[2].E, &tr[2].K), TRIT_OK);
    double total[RUN_POLICY_COUNT_] = {0};
    fprintf(stderr, "  expert cache hit rates (budget in experts; %% of one token's working set):\n");
    for (int i = 0; i < 3; i++) {
        uint32_t const ws = tr[i].L * tr[i].K, all = tr[i].L * tr[i].E;
        uint32_t const budgets[] = {ws / 4, ws / 2, ws, 2 * ws, all / 2};
        fprintf(stderr, "  %s, %u accesses\n", tr[i].name, tr[i].t.n);
        for (size_t b = 0; b < sizeof budgets / sizeof budgets[0]; b++) {
            fprintf(stderr, "    budget %4u (%3u%%):", budgets[b], budgets[b] * 100 / ws);
            double h[RUN_POLICY_COUNT_];
            for (uint32_t p = 0; p < RUN_POLICY_COUNT_; p++) {
                h[p] = replay(&tr[i].t, tr[i].L, tr[i].E, budgets[b], p);
                total[p] += h[p];
                fprintf(stderr, "  %s %5.1f%%", run_policy_name(p), 100 * h[p]);
            }
            /* the default never loses to LRU by more than noise */
            CHECK(h[RUN_POLICY_DEFAULT] >= h[RUN_POLICY_LRU] - 0.005);
            fprintf(stderr, "\n");
        }
        trace_free(&tr[i].t);
    }
    CHECK(total[RUN_POLICY_DEFAULT] > total[RUN_POLICY_LRU]);
    CHECK(total[RUN_POLICY_DEFAULT] > total[RUN_POLICY_LFU]);
}
