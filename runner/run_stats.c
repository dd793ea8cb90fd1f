/* run_stats.c - `--stats` output: speed, expert cache behaviour per layer and overall, paging
 * volume and latency, memory. Text for people, JSON (--json) for scripts such as make bench. */
#include <stdio.h>

#include "run_int.h"

static double rate(uint64_t n, double s) { return s > 0 ? (double)n / s : 0.0; }
static double pct(uint64_t a, uint64_t b) { return a + b ? 100.0 * (double)a / (double)(a + b) : 0.0; }

void run_stats_print(const run_stats *s, const run_ctx *c, int json, FILE *f)
{
    double const mib = 1024.0 * 1024.0;
    uint64_t const toks = s->prefill_tokens + s->decode_tokens;
    double const exp_per_tok = toks ? (double)s->bytes_paged / (double)toks : 0;
    double const exp_dec = s->decode_tokens ? (double)s->expert_bytes_decode / (double)s->decode_tokens : 0;
    if (json) {
        fprintf(f, "{\"kernel\":\"%s\",\"threads\":%u,", run_ctx_kernel_name(c), run_pool_size(c->pool));
        fprintf(f, "\"prefill_tokens\":%llu,\"prefill_seconds\":%.6f,\"prefill_tok_s\":%.3f,",
                (unsigned long long)s->prefill_tokens, s->prefill_s, rate(s->prefill_tokens, s->prefill_s));
        fprintf(f, "\"decode_tokens\":%llu,\"decode_seconds\":%.6f,\"decode_tok_s\":%.3f,", (unsigned long long)s->decode_tokens,
                s->decode_s, rate(s->decode_tokens, s->decode_s));
        fprintf(f, "\"prefill_cpu_seconds\":%.6f,\"decode_cpu_seconds\":%.6f,", s->prefill_cpu_s, s->decode_cpu_s);
        fprintf(f, "\"dense_bytes_per_token\":%llu,\"expert_bytes_per_decode_token\":%.0f,\"weight_bytes_per_decode_token\":%.0f,",
                (unsigned long long)s->dense_bytes, exp_dec, (double)s->dense_bytes + exp_dec);
        fprintf(f, "\"expert_cache\":{\"policy\":\"%s\",\"budget\":%llu,\"hits\":%llu,\"misses\":%llu,\"hit_rate\":%.4f,",
                run_policy_name(c->cache ? run_cache_policy(c->cache) : 0), (unsigned long long)s->budget,
                (unsigned long long)s->total_hits, (unsigned long long)s->total_misses, pct(s->total_hits, s->total_misses) / 100.0);
        fprintf(f, "\"evictions\":%llu,\"bytes_paged\":%llu,\"bytes_read\":%llu,\"loads\":%llu,\"load_p50_ms\":%.4f,"
                   "\"load_p99_ms\":%.4f,\"peak_resident_bytes\":%llu,",
                (unsigned long long)s->evictions, (unsigned long long)s->bytes_paged, (unsigned long long)s->bytes_read,
                (unsigned long long)s->n_loads, s->load_p50_ms, s->load_p99_ms, (unsigned long long)s->peak_resident_bytes);
        fprintf(f, "\"prefetch\":{\"on\":%s,\"loads\":%llu,\"hits\":%llu,\"wasted\":%llu,\"waits\":%llu,\"skipped\":%llu},"
                   "\"per_layer\":[",
                c->prefetch ? "true" : "false", (unsigned long long)s->prefetch_loads, (unsigned long long)s->prefetch_hits,
                (unsigned long long)s->prefetch_wasted, (unsigned long long)s->prefetch_waits, (unsigned long long)s->prefetch_skipped);
        for (uint32_t l = 0; l < s->n_layer; l++)
            fprintf(f, "%s{\"layer\":%u,\"hits\":%llu,\"misses\":%llu}", l ? "," : "", l, (unsigned long long)s->hits[l],
                    (unsigned long long)s->misses[l]);
        fprintf(f, "]},");
        run__act_stats_print(s, 1, f);
        fprintf(f, "\"peak_rss_bytes\":%llu}\n", (unsigned long long)s->peak_rss);
        return;
    }
    fprintf(f, "kernel %s, %u thread%s\n", run_ctx_kernel_name(c), run_pool_size(c->pool), run_pool_size(c->pool) == 1 ? "" : "s");
    fprintf(f, "prefill: %llu tokens in %.3f s, %.2f tokens/s\n", (unsigned long long)s->prefill_tokens, s->prefill_s,
            rate(s->prefill_tokens, s->prefill_s));
    fprintf(f, "decode:  %llu tokens in %.3f s, %.2f tokens/s\n", (unsigned long long)s->decode_tokens, s->decode_s,
            rate(s->decode_tokens, s->decode_s));
    fprintf(f, "weights read per decode token: %.2f MiB (dense %.2f, experts %.2f); experts paged per token: %.2f MiB\n",
            ((double)s->dense_bytes + exp_dec) / mib, (double)s->dense_bytes / mib, exp_dec / mib, exp_per_tok / mib);
    if (s->n_layer && c->hp.n_expert) {
        fprintf(f, "expert cache: policy %s, budget %.1f MiB, peak resident %.1f MiB\n", run_policy_name(run_cache_policy(c->cache)),
                (double)s->budget / mib, (double)s->peak_resident_bytes / mib);
        fprintf(f, "  hits %llu, misses %llu (hit rate %.1f%%), evictions %llu\n", (unsigned long long)s->total_hits,
                (unsigned long long)s->total_misses, pct(s->total_hits, s->total_misses), (unsigned long long)s->evictions);
        fprintf(f, "  paged %.2f MiB decoded (%.2f MiB read), %llu loads, latency p50 %.3f ms, p99 %.3f ms\n",
                (double)s->bytes_paged / mib, (double)s->bytes_read / mib, (unsigned long long)s->n_loads, s->load_p50_ms,
                s->load_p99_ms);
        if (c->prefetch)
            fprintf(f, "  prefetch: %llu loads, %llu served a use (%llu waited for it), %llu evicted unused, %llu skipped\n",
                    (unsigned long long)s->prefetch_loads, (unsigned long long)s->prefetch_hits, (unsigned long long)s->prefetch_waits,
                    (unsigned long long)s->prefetch_wasted, (unsigned long long)s->prefetch_skipped);
        fprintf(f, "  per layer (hits/misses):");
        for (uint32_t l = 0; l < s->n_layer; l++)
            fprintf(f, "%s %u:%llu/%llu", l % 8 == 0 ? "\n   " : "", l, (unsigned long long)s->hits[l], (unsigned long long)s->misses[l]);
        fprintf(f, "\n");
    }
    run__act_stats_print(s, 0, f);
    fprintf(f, "peak RSS: %.1f MiB\n", (double)s->peak_rss / mib);
}
