/* runner.c - runs every TEST() (or those whose names contain an argument) and ends with the
 * plain line "N passed, N failed, N skipped"; exits 1 if any test failed. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

#define X(name) void test_##name(void);
#include "test_list.h"
#undef X

static const struct { const char *name; void (*fn)(void); } tests[] = {
#define X(name) {#name, test_##name},
#include "test_list.h"
#undef X
};

static int cur_failed, cur_skipped;
static const char *cur_name;
static char tmp_root[4096];

void test_fail_(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    if (!cur_failed) fprintf(stderr, "FAIL %s\n", cur_name);
    fprintf(stderr, "  %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    cur_failed++;
}

void test_skip_(const char *why)
{
    fprintf(stderr, "skip %s: %s\n", cur_name, why);
    cur_skipped = 1;
}

int test_skipped_(void) { return cur_skipped; }

const char *test_tmpdir(void) { return tmp_root; }

const char *test_fixtures(void)
{
    static char path[4096];
    const char *e = getenv("TRIT_FIXTURES");
    struct stat st;
    snprintf(path, sizeof path, "%s", e && *e ? e : "../shared/fixtures");
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode) ? path : NULL;
}

const char *test_trit_bin(void)
{
    const char *e = getenv("TRIT_BIN");
    return e && *e ? e : "build/trit";
}

#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif
#ifndef TEST_ASAN
#define TEST_ASAN 0
#endif

const char *test_fault_shim(int malloc_faults)
{
    static char path[4096];
    const char *const bin = test_trit_bin();
    if (malloc_faults && TEST_ASAN) return NULL;
    const char *const slash = strrchr(bin, '/');
    snprintf(path, sizeof path, "%.*s/fault/%s", slash ? (int)(slash - bin) : 1, slash ? bin : ".",
             TEST_ASAN ? "trit-fault-io.so" : "trit-fault.so");
    return access(path, R_OK) == 0 ? path : NULL;
}

const char *test_fault_preload(const char *so)
{
    static char buf[4200];
    snprintf(buf, sizeof buf, "%sLD_PRELOAD=%s", TEST_ASAN ? "ASAN_OPTIONS=verify_asan_link_order=0 " : "", so);
    return buf;
}

void test_fault_env(const char *so)
{
    if (TEST_ASAN) setenv("ASAN_OPTIONS", "verify_asan_link_order=0", 1);
    setenv("LD_PRELOAD", so, 1);
}

const char *test_path(const char *dir, const char *name)
{
    static char ring[8][4096];
    static unsigned k;
    char *b = ring[k++ % 8];
    snprintf(b, 4096, "%s/%s", dir, name);
    return b;
}

uint8_t *test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (!buf) break;
        if (n == cap) {
            uint8_t *nb = realloc(buf, cap * 2);
            if (!nb) { free(buf); buf = NULL; break; }
            buf = nb;
            cap *= 2;
        }
        size_t const k = fread(buf + n, 1, cap - n, f);
        n += k;
        if (k == 0) break;
    }
    fclose(f);
    if (buf) *len = n;
    return buf;
}

int test_write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t const k = fwrite(p, 1, n, f);
    return (fclose(f) == 0 && k == n) ? 0 : -1;
}

int test_run(const char *cmd, char **out)
{
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) break;
        if (n + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) { free(buf); buf = NULL; break; }
            buf = nb;
            cap *= 2;
        }
        size_t const k = fread(buf + n, 1, cap - 1 - n, p);
        n += k;
        if (k == 0) break;
    }
    if (buf) buf[n] = '\0';
    int const st = pclose(p);
    if (out) *out = buf; else free(buf);
    return (st >= 0 && WIFEXITED(st)) ? WEXITSTATUS(st) : -1;
}

int test_runf(char **out, const char *fmt, ...)
{
    char cmd[16384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return test_run(cmd, out);
}

int main(int argc, char **argv)
{
    const char *base = getenv("TRIT_TMP");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/run-XXXXXX", base && *base ? base : "/tmp");
    if (base && *base) mkdir(base, 0755);
    if (!mkdtemp(tmpl)) {
        fprintf(stderr, "cannot create scratch directory %s: %s\n", tmpl, strerror(errno));
        return 2;
    }
    snprintf(tmp_root, sizeof tmp_root, "%s", tmpl);

    int passed = 0, failed = 0, skipped = 0;
    size_t const n = sizeof tests / sizeof tests[0];
    for (size_t i = 0; i < n; i++) {
        int want = argc < 2;
        for (int a = 1; a < argc; a++)
            if (strstr(tests[i].name, argv[a])) want = 1;
        if (!want) continue;
        cur_name = tests[i].name;
        cur_failed = cur_skipped = 0;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        tests[i].fn();
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double const ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
        if (cur_failed) failed++;
        else if (cur_skipped) skipped++;
        else { passed++; fprintf(stderr, "ok   %s (%.0f ms)\n", cur_name, ms); }
    }
    if (failed == 0) {
        char cmd[4200];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_root);
        if (system(cmd) != 0) fprintf(stderr, "note: could not remove %s\n", tmp_root);
    } else {
        fprintf(stderr, "scratch files kept in %s\n", tmp_root);
    }
    fflush(stderr);
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed ? 1 : 0;
}
