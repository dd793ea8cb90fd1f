/* membw.c - the memory bandwidth `make bench` compares the runner's weight traffic with.
 *
 *   membw THREADS [MIB] [RUNS]      (defaults: 1024 MiB, 5 runs)
 *
 * One buffer of MIB MiB, touched before timing (page faults are not bandwidth). Two streams,
 * each timed RUNS times, the buffer split evenly between THREADS threads:
 *   read  sum of the buffer as 64-bit words, four independent accumulators per thread (what a
 *         matrix-vector product over weights bigger than the caches does: stream them once)
 *   copy  memcpy of the first half of the buffer onto the second half; the rate counts bytes
 *         copied (each is read once and written once)
 * Prints one JSON object: {"threads", "bytes", "read_gbs", "copy_gbs" (medians, 1e9 bytes/s),
 * "read_runs", "copy_runs"}. A bench tool, not part of the suite: no timing is asserted anywhere.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_THREADS 64
#define MAX_RUNS 50

typedef struct job {
    const uint64_t *src;   /* read: words to sum; copy: bytes to copy (as words) */
    uint64_t *dst;         /* copy destination, NULL for read */
    size_t n_words;        /* words in this thread's slice */
    uint64_t sum;          /* read result, kept so the loop is not optimized away */
} job;

static void *run_job(void *arg)
{
    job *j = arg;
    if (j->dst) {
        memcpy(j->dst, j->src, j->n_words * sizeof(uint64_t));
        return NULL;
    }
    uint64_t a = 0, b = 0, c = 0, d = 0;
    size_t i = 0;
    for (; i + 4 <= j->n_words; i += 4) {
        a += j->src[i];
        b += j->src[i + 1];
        c += j->src[i + 2];
        d += j->src[i + 3];
    }
    for (; i < j->n_words; i++) a += j->src[i];
    j->sum = a + b + c + d;
    return NULL;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Run one pass with n threads over [src, src + words) (and dst for copy); returns seconds. */
static double pass(unsigned n, const uint64_t *src, uint64_t *dst, size_t words, uint64_t *sink)
{
    pthread_t th[MAX_THREADS];
    job jobs[MAX_THREADS];
    size_t const per = words / n;
    double const t0 = now_s();
    for (unsigned t = 0; t < n; t++) {
        size_t const lo = t * per, cnt = t + 1 == n ? words - lo : per;
        jobs[t] = (job){src + lo, dst ? dst + lo : NULL, cnt, 0};
        if (t > 0 && pthread_create(&th[t], NULL, run_job, &jobs[t]) != 0) {
            fprintf(stderr, "membw: cannot start a thread\n");
            exit(1);
        }
    }
    run_job(&jobs[0]);
    for (unsigned t = 1; t < n; t++) pthread_join(th[t], NULL);
    double const dt = now_s() - t0;
    for (unsigned t = 0; t < n; t++) *sink += jobs[t].sum;
    return dt;
}

static int cmp_double(const void *a, const void *b)
{
    double const x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v, unsigned n)
{
    double s[MAX_RUNS];
    memcpy(s, v, n * sizeof *v);
    qsort(s, n, sizeof *s, cmp_double);
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static int parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
    char *end;
    unsigned long const v = strtoul(s, &end, 10);
    if (end == s || *end || v < lo || v > hi) return -1;
    *out = (unsigned)v;
    return 0;
}

int main(int argc, char **argv)
{
    unsigned threads = 0, mib = 1024, runs = 5;
    if (argc < 2 || argc > 4 || parse_uint(argv[1], 1, MAX_THREADS, &threads) ||
        (argc > 2 && parse_uint(argv[2], 16, 1u << 20, &mib)) ||
        (argc > 3 && parse_uint(argv[3], 1, MAX_RUNS, &runs))) {
        fprintf(stderr, "usage: membw THREADS [MIB 16..] [RUNS 1..%d]\n", MAX_RUNS);
        return 2;
    }
    size_t const bytes = (size_t)mib << 20, words = bytes / sizeof(uint64_t);
    uint64_t *buf = malloc(bytes);
    if (!buf) {
        fprintf(stderr, "membw: cannot allocate %u MiB\n", mib);
        return 1;
    }
    for (size_t i = 0; i < words; i++) buf[i] = i * 0x9e3779b97f4a7c15ull;
    double rd[MAX_RUNS], cp[MAX_RUNS];
    uint64_t sink = 0;
    for (unsigned r = 0; r < runs; r++) {
        rd[r] = (double)bytes / pass(threads, buf, NULL, words, &sink) / 1e9;
        cp[r] = (double)(bytes / 2) / pass(threads, buf, buf + words / 2, words / 2, &sink) / 1e9;
    }
    printf("{\"threads\":%u,\"bytes\":%zu,\"read_gbs\":%.3f,\"copy_gbs\":%.3f,\"read_runs\":[", threads, bytes,
           median(rd, runs), median(cp, runs));
    for (unsigned r = 0; r < runs; r++) printf("%s%.3f", r ? "," : "", rd[r]);
    printf("],\"copy_runs\":[");
    for (unsigned r = 0; r < runs; r++) printf("%s%.3f", r ? "," : "", cp[r]);
    printf("],\"checksum\":%llu}\n", (unsigned long long)(sink & 0xffff));
    free(buf);
    return 0;
}
