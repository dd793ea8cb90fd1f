/* moereplay.c - an expert-access trace (`trit-run --trace`: "layer expert n_tokens" per use)
 * replayed through the runner's own expert cache (runner/run_cache.c) under every eviction
 * policy at one byte budget, and the routing it records measured: how skewed the popularity
 * is per layer, and how much consecutive tokens share experts. For `make bench-moe`.
 *
 *   moereplay TRACE N_LAYER N_EXPERT UNIT_BYTES BUDGET_BYTES
 *
 * Prints one JSON object: {"accesses", "budget_experts", "hit_rate": {policy: rate},
 * "top10pct_share", "zipf_s", "reuse", "reuse_shuffled"}. reuse: of the experts a layer uses at
 * decode token t+1, the fraction it also used at t; reuse_shuffled: the same with the tokens of
 * each layer in a random order (what popularity alone explains). A bench tool: nothing asserted.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run_int.h"

typedef struct acc { uint32_t l, e, n; } acc;

static int dummy_load(void *arg, uint32_t layer, uint32_t expert, void *dst, uint64_t size, trit_err *err)
{
    (void)arg; (void)layer; (void)expert; (void)err; (void)dst; (void)size;
    return TRIT_OK;
}

/* A batch: a run of accesses to one layer in increasing expert order (how the forward pass
 * makes them). */
static uint32_t batch_end(const acc *a, uint32_t n, uint32_t i)
{
    uint32_t j = i + 1;
    while (j < n && a[j].l == a[i].l && a[j].e > a[j - 1].e) j++;
    return j;
}

static double replay(const acc *a, uint32_t n, uint32_t L, uint32_t E, uint64_t budget_experts, uint32_t policy)
{
    run_cache *c = NULL;
    if (run_cache_new(L, E, budget_experts * 64, policy, &c, NULL)) return -1;
    uint32_t need[RUN_MAX_EXPERTS];
    for (uint32_t i = 0; i < n;) {
        uint32_t const j = batch_end(a, n, i);
        uint32_t toks = 0;
        for (uint32_t k = i; k < j; k++) {
            need[k - i] = a[k].e;
            toks = a[k].n > toks ? a[k].n : toks;
        }
        run_cache_begin_layer(c, a[i].l, toks, need, j - i);
        for (uint32_t k = i; k < j; k++) {
            const void *img;
            run_cache_acquire(c, a[k].l, a[k].e, 64, a[k].n, dummy_load, NULL, &img, NULL);
            run_cache_release(c, a[k].l, a[k].e);
        }
        i = j;
    }
    run_stats s;
    memset(&s, 0, sizeof s);
    run_cache_stats(c, &s);
    run_cache_free(c);
    return (double)s.total_hits / (double)(s.total_hits + s.total_misses);
}

/* Belady's optimum (evict the resident expert used again farthest in the future): the bound no
 * policy can pass, so the gap between LRU and it is the room a policy has. */
static double belady(const acc *a, uint32_t n, uint32_t L, uint32_t E, uint64_t cap)
{
    uint32_t *nxt = malloc(sizeof *nxt * n), *last = malloc(sizeof *last * (size_t)L * E);
    uint32_t *res = malloc(sizeof *res * (size_t)(cap + 1));
    uint8_t *in = calloc((size_t)L * E, 1);
    uint32_t *at = calloc((size_t)L * E, sizeof *at);
    if (!nxt || !last || !res || !in || !at) return -1;
    for (uint64_t i = 0; i < (uint64_t)L * E; i++) last[i] = UINT32_MAX;
    for (uint32_t i = n; i-- > 0;) {
        uint64_t const k = (uint64_t)a[i].l * E + a[i].e;
        nxt[i] = last[k];
        last[k] = i;
    }
    uint64_t hits = 0, nres = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t const k = a[i].l * E + a[i].e;
        at[k] = nxt[i];
        if (in[k]) {
            hits++;
            continue;
        }
        if (!cap) continue;
        if (nres == cap) {
            uint64_t worst = 0;
            for (uint64_t j = 1; j < nres; j++)
                if (at[res[j]] > at[res[worst]]) worst = j;
            in[res[worst]] = 0;
            res[worst] = res[--nres];
        }
        res[nres++] = k;
        in[k] = 1;
    }
    free(nxt); free(last); free(res); free(in); free(at);
    return (double)hits / n;
}

static int cmp_desc(const void *x, const void *y)
{
    uint64_t const a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? 1 : a > b ? -1 : 0;
}

/* Overlap of consecutive decode sets per layer; order[] maps position -> token. */
static double reuse(uint8_t *used, uint32_t T, uint32_t L, uint32_t E, const uint32_t *order)
{
    uint64_t both = 0, tot = 0;
    for (uint32_t l = 0; l < L; l++)
        for (uint32_t t = 1; t < T; t++) {
            const uint8_t *p = used + ((uint64_t)order[t - 1] * L + l) * E, *q = used + ((uint64_t)order[t] * L + l) * E;
            for (uint32_t e = 0; e < E; e++) {
                tot += q[e];
                both += q[e] && p[e];
            }
        }
    return tot ? (double)both / (double)tot : 0;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: moereplay TRACE N_LAYER N_EXPERT UNIT_BYTES BUDGET_BYTES\n");
        return 2;
    }
    uint32_t const L = (uint32_t)strtoul(argv[2], NULL, 10), E = (uint32_t)strtoul(argv[3], NULL, 10);
    uint64_t const unit = strtoull(argv[4], NULL, 10), budget = strtoull(argv[5], NULL, 10);
    FILE *f = fopen(argv[1], "r");
    if (!f || !L || !E || E > RUN_MAX_EXPERTS || !unit) {
        fprintf(stderr, "moereplay: bad arguments or cannot open %s\n", argv[1]);
        return 2;
    }
    uint32_t n = 0, cap = 1 << 16;
    acc *a = malloc(sizeof *a * cap);
    unsigned l, e, k;
    while (a && fscanf(f, "%u %u %u", &l, &e, &k) == 3) {
        if (l >= L || e >= E) continue;
        if (n == cap) a = realloc(a, sizeof *a * (cap *= 2));
        if (a) a[n++] = (acc){l, e, k};
    }
    fclose(f);
    if (!a || !n) return 1;
    uint64_t const be = budget / unit;
    printf("{\"accesses\":%u,\"budget_experts\":%llu,\"hit_rate\":{", n, (unsigned long long)be);
    for (uint32_t p = 0; p < RUN_POLICY_COUNT_; p++)
        printf("%s\"%s\":%.4f", p ? "," : "", run_policy_name(p), replay(a, n, L, E, be, p));
    printf(",\"belady\":%.4f},", belady(a, n, L, E, be));
    /* popularity: per layer counts sorted; top 10% share and a least-squares Zipf exponent over
     * the ranks with counts */
    uint64_t *cnt = calloc((size_t)L * E, sizeof *cnt);
    for (uint32_t i = 0; i < n; i++) cnt[(uint64_t)a[i].l * E + a[i].e] += a[i].n;
    double share = 0, zs = 0;
    uint32_t zl = 0;
    for (uint32_t ly = 0; ly < L; ly++) {
        uint64_t *c = cnt + (uint64_t)ly * E, tot = 0, top = 0;
        qsort(c, E, sizeof *c, cmp_desc);
        for (uint32_t i = 0; i < E; i++) tot += c[i];
        for (uint32_t i = 0; i < (E + 9) / 10; i++) top += c[i];
        if (!tot) continue;
        share += (double)top / (double)tot;
        double sx = 0, sy = 0, sxx = 0, sxy = 0;
        uint32_t m = 0;
        for (uint32_t i = 0; i < E && c[i]; i++, m++) {
            double const x = log(i + 1.0), y = log((double)c[i]);
            sx += x; sy += y; sxx += x * x; sxy += x * y;
        }
        if (m > 2) {
            zs += -(m * sxy - sx * sy) / (m * sxx - sx * sx);
            zl++;
        }
    }
    printf("\"top10pct_share\":%.4f,\"zipf_s\":%.3f,", share / L, zl ? zs / zl : 0);
    /* locality over single-token batches (decode): token index = count of layer-0 batches */
    uint32_t T = 0;
    for (uint32_t i = 0; i < n;) {
        uint32_t const j = batch_end(a, n, i);
        if (a[i].l == 0 && a[i].n == 1) T++;
        i = j;
    }
    uint8_t *used = calloc((size_t)T * L * E + 1, 1);
    uint32_t t = 0;
    int dec = 0;
    for (uint32_t i = 0; i < n;) {
        uint32_t const j = batch_end(a, n, i);
        if (a[i].l == 0) {
            dec = a[i].n == 1;
            if (dec) t++;
        }
        for (uint32_t x = i; dec && t && x < j; x++) used[((uint64_t)(t - 1) * L + a[x].l) * E + a[x].e] = 1;
        i = j;
    }
    uint32_t *order = calloc((size_t)T + 1, sizeof *order);
    if (!order || !used) return 1;
    for (uint32_t i = 0; i < T; i++) order[i] = i;
    double const r0 = reuse(used, T, L, E, order);
    uint64_t s = 12345;
    for (uint32_t i = T; i > 1; i--) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t const j = (uint32_t)((s >> 33) % i), x = order[i - 1];
        order[i - 1] = order[j];
        order[j] = x;
    }
    double const r1 = reuse(used, T, L, E, order);
    printf("\"decode_tokens\":%u,\"reuse\":%.4f,\"reuse_shuffled\":%.4f}\n", T, r0, r1);
    free(order);
    free(used);
    free(cnt);
    free(a);
    return 0;
}
