/* test_fault_sweep.c - `trit convert`, `trit verify` and `trit inspect` under injected
 * allocation, read, write and fsync failures (issue 13, findings 5 and 11).
 *
 * Each case runs once under TRIT_FAULT_LOG to count its calls of every op, then once per
 * chosen N with the Nth call failing (TRIT_FAULT=op:N, the shim tests/fault/fault.c; every call
 * when there are few, else an even spread that includes the first and the last). A run must:
 *   - not crash (no signal);
 *   - exit with the fault's class (spec/errors.md: out of memory 70, an I/O error 3), or do
 *     exactly what the run without the fault did: the same exit code and the same stdout (a
 *     failure the program legitimately tolerates, such as stdio running unbuffered). For
 *     verify, stdout is the --json report, so "the same" includes every count of what was
 *     checked: a fault never turns a failing file into a pass, nor a pass into one with fewer
 *     checks (fail-open);
 *   - for convert: leave no temp file, and no output unless it is the complete one (byte for
 *     byte the fault-free output; a failed fsync of the directory after the rename leaves it).
 * The summary line per command gives runs, crashes, fail-open runs, wrong exit classes and
 * leftovers; every count must be 0. In ASan builds the sanitizer owns malloc: the shim without
 * malloc (trit-fault-io.so) runs the I/O faults and the allocation faults are skipped. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "test.h"
#include "test_pack.h"

#if defined(__SANITIZE_ADDRESS__)
#define FS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FS_ASAN 1
#endif
#endif
#ifndef FS_ASAN
#define FS_ASAN 0
#endif

enum { OP_MALLOC, OP_READ, OP_WRITE, OP_FSYNC, OP_FSYNCDIR, N_OPS };
static const char *const op_name[N_OPS] = {"malloc", "read", "write", "fsync", "fsyncdir"};
static const int op_exit[N_OPS] = {70, 3, 3, 3, 3};      /* spec/errors.md: TRIT_E_NOMEM, TRIT_E_IO */
static const unsigned op_budget[N_OPS] = {40, 24, 8, 8, 8}; /* runs per case and op, at most */

typedef enum { K_CONVERT, K_VERIFY, K_INSPECT } fs_kind;

typedef struct fs_case {
    const char *cmd_name;      /* row of the summary: "convert", "verify", "inspect" */
    fs_kind kind;
    char args[2048];           /* after `trit`; convert: without -o */
    char *base_out;            /* stdout without the fault */
    int base_exit;
    uint8_t *base_file;        /* convert: the output without the fault */
    size_t base_len;
} fs_case;

typedef struct fs_tally {
    int runs, crashes, fail_open, wrong_class, leftovers;
} fs_tally;

typedef struct fs_env {
    const char *so;
    char dir[1024];            /* fixtures */
    char work[1024];           /* convert outputs, one run at a time */
    char log[1100], err[1100];
} fs_env;

static const char *fs_prefix(const fs_env *e) { return test_fault_preload(e->so); }

/* Run the case with `fault` ("" for none); stdout to *out, stderr to e->err. Convert writes
 * e->work/out.trit. Returns the exit status, 128+ for a signal, -1 if the shell died. */
static int fs_run(const fs_env *e, const fs_case *c, const char *fault, char **out)
{
    char tail[1200] = "";
    if (c->kind == K_CONVERT) snprintf(tail, sizeof tail, " -o %s/out.trit", e->work);
    return test_runf(out, "%s %s %s %s%s 2>%s", fs_prefix(e), fault, test_trit_bin(), c->args, tail, e->err);
}

static void fs_clean_work(const fs_env *e)
{
    test_runf(NULL, "rm -rf '%s' && mkdir -p '%s'", e->work, e->work);
}

/* Calls of each op in one fault-free run. */
static void fs_count(const fs_env *e, const fs_case *c, unsigned long calls[N_OPS])
{
    unlink(e->log);
    fs_clean_work(e);
    char fault[1200];
    snprintf(fault, sizeof fault, "TRIT_FAULT_LOG=%s", e->log);
    char *o = NULL;
    fs_run(e, c, fault, &o);
    free(o);
    size_t n = 0;
    uint8_t *const p = test_read_file(e->log, &n);
    char *const s = calloc(1, n + 1);
    if (p && s) memcpy(s, p, n);
    for (int op = 0; op < N_OPS; op++) {
        calls[op] = 0;
        char key[32];
        snprintf(key, sizeof key, "%s ", op_name[op]);
        const char *const at = s ? strstr(s, key) : NULL;
        if (at) calls[op] = strtoul(at + strlen(key), NULL, 10);
    }
    free(s);
    free(p);
}

/* Files in e->work other than out.trit (temp files), and whether out.trit exists. */
static int fs_leftovers(const fs_env *e, int *has_out)
{
    int const all = tpk_count_prefix(e->work, "");
    *has_out = access(test_path(e->work, "out.trit"), F_OK) == 0;
    return all - *has_out;
}

static void fs_fail(const fs_env *e, const fs_case *c, const char *what, const char *fault, int st)
{
    size_t n = 0;
    uint8_t *const p = test_read_file(e->err, &n);
    test_fail_(__FILE__, __LINE__, "%s: trit %s with %s -> exit %d: %.*s", what, c->args, fault, st,
               p ? (int)(n > 300 ? 300 : n) : 0, p ? (const char *)p : "");
    free(p);
}

/* One run with call k of op failing; updates t. */
static void fs_one(const fs_env *e, const fs_case *c, int op, unsigned long k, fs_tally *t)
{
    char fault[64];
    snprintf(fault, sizeof fault, "TRIT_FAULT=%s:%lu", op_name[op], k);
    if (c->kind == K_CONVERT) fs_clean_work(e);
    char *o = NULL;
    int const st = fs_run(e, c, fault, &o);
    t->runs++;
    int const same = st == c->base_exit && o && c->base_out && strcmp(o, c->base_out) == 0;
    if (st < 0 || st >= 128) {
        t->crashes++;
        fs_fail(e, c, "crash", fault, st);
    } else if (st == 0 && !same) {
        /* a pass the fault-free run did not give, or one that checked or printed less */
        t->fail_open++;
        fs_fail(e, c, "fail-open (exit 0, not the fault-free result)", fault, st);
    } else if (!same && st != op_exit[op]) {
        t->wrong_class++;
        fs_fail(e, c, "wrong exit class", fault, st);
    }
    if (c->kind == K_CONVERT) {
        int has_out = 0;
        int const left = fs_leftovers(e, &has_out);
        int complete = 0;
        if (has_out) {
            size_t n = 0;
            uint8_t *const p = test_read_file(test_path(e->work, "out.trit"), &n);
            complete = p && n == c->base_len && memcmp(p, c->base_file, n) == 0;
            free(p);
        }
        if (left || (has_out && !complete) || (st == 0 && !has_out)) {
            t->leftovers++;
            fs_fail(e, c, left ? "temp file left" : has_out ? "partial output" : "exit 0 without output", fault, st);
        }
    }
    free(o);
}

/* The Ns to fail for `calls` calls: all of them, or `budget` spread evenly (first and last in). */
static unsigned long fs_pick(unsigned long calls, unsigned budget, unsigned i)
{
    if (calls <= budget) return i + 1;
    return 1 + (unsigned long)((unsigned long long)i * (calls - 1) / (budget - 1));
}

static void fs_sweep(const fs_env *e, fs_case *c, fs_tally *t)
{
    /* the fault-free result, through the shim (it must change nothing) */
    fs_clean_work(e);
    c->base_exit = fs_run(e, c, "", &c->base_out);
    if (c->kind == K_CONVERT) {
        c->base_file = test_read_file(test_path(e->work, "out.trit"), &c->base_len);
        CHECK(c->base_exit == 0 && c->base_file);
    }
    unsigned long calls[N_OPS];
    fs_count(e, c, calls);
    CHECK(calls[OP_MALLOC] > 0 || FS_ASAN);
    for (int op = 0; op < N_OPS; op++) {
        if (op == OP_MALLOC && FS_ASAN) continue;   /* the sanitizer's allocator: not the shim's */
        unsigned const budget = FS_ASAN ? (op_budget[op] + 2) / 3 : op_budget[op];
        unsigned const n = calls[op] < budget ? (unsigned)calls[op] : budget;
        for (unsigned i = 0; i < n; i++) fs_one(e, c, op, fs_pick(calls[op], budget, i), t);
    }
    free(c->base_out);
    free(c->base_file);
    c->base_out = NULL;
    c->base_file = NULL;
}

static int fs_gen(const char *layout, const char *out)
{
    const char *g = getenv("TRIT_GEN");
    return test_runf(NULL, "'%s' %s --layers 1 -o '%s' --force >/dev/null 2>&1", g && *g ? g : "build/trit-gen", layout, out);
}

/* One sweep: the cases of one command (kind), each op's calls failed in turn within the
 * budget. Split by command so that each stays under a minute on a loaded 2-core machine. */
static void fs_main(fs_kind which)
{
    fs_env e;
    memset(&e, 0, sizeof e);
    e.so = test_fault_shim(0);
    if (!e.so) SKIP("fault shim not built (BUILD/fault/trit-fault*.so)");
    const char *const d = tpk_dir("fault_sweep");
    if (!d) {
        test_fail_(__FILE__, __LINE__, "scratch directory");
        return;
    }
    snprintf(e.dir, sizeof e.dir, "%s", d);
    snprintf(e.work, sizeof e.work, "%s/work", d);
    snprintf(e.log, sizeof e.log, "%s/fault.log", d);
    snprintf(e.err, sizeof e.err, "%s/stderr", d);
    char st[1100], gg[1100], moe[1100], good[1100], bad[1100];
    snprintf(st, sizeof st, "%s/st", d);
    snprintf(gg, sizeof gg, "%s/m.gguf", d);
    snprintf(moe, sizeof moe, "%s/moe.trit", d);
    snprintf(good, sizeof good, "%s/good.trit", d);
    snprintf(bad, sizeof bad, "%s/bad.trit", d);
    if (fs_gen("bitnet", st) != 0 || fs_gen("gguf", gg) != 0 || fs_gen("trit", moe) != 0)
        SKIP("trit-gen (TRIT_GEN) is needed to build the inputs");
    CHECK_EQ_INT(test_runf(NULL, "%s convert -q %s -o %s >/dev/null 2>&1", test_trit_bin(), st, good), 0);
    /* a container verify fails: one byte of its data area flipped */
    size_t n = 0;
    uint8_t *const img = test_read_file(good, &n);
    CHECK(img && n > 8192);
    if (!img || n <= 8192) {
        free(img);
        return;
    }
    img[n - n / 3] ^= 0x10;
    CHECK_EQ_INT(test_write_file(bad, img, n), 0);
    free(img);

    static fs_case cases[] = {
        {"convert", K_CONVERT, "", NULL, 0, NULL, 0},
        {"convert", K_CONVERT, "", NULL, 0, NULL, 0},
        {"verify", K_VERIFY, "", NULL, 0, NULL, 0},
        {"verify", K_VERIFY, "", NULL, 0, NULL, 0},
        {"verify", K_VERIFY, "", NULL, 0, NULL, 0},
        {"verify", K_VERIFY, "", NULL, 0, NULL, 0},
        {"verify", K_VERIFY, "", NULL, 0, NULL, 0},
        {"inspect", K_INSPECT, "", NULL, 0, NULL, 0},
        {"inspect", K_INSPECT, "", NULL, 0, NULL, 0},
    };
    size_t const n_cases = sizeof cases / sizeof cases[0];
    snprintf(cases[0].args, sizeof cases[0].args, "convert -q %s", st);
    snprintf(cases[1].args, sizeof cases[1].args, "convert -q %s", gg);
    snprintf(cases[2].args, sizeof cases[2].args, "verify --json %s", good);
    snprintf(cases[3].args, sizeof cases[3].args, "verify --json %s", moe);
    snprintf(cases[4].args, sizeof cases[4].args, "verify --json %s", bad);
    snprintf(cases[5].args, sizeof cases[5].args, "verify --json %s", st);
    snprintf(cases[6].args, sizeof cases[6].args, "verify --json %s", gg);
    snprintf(cases[7].args, sizeof cases[7].args, "inspect %s", good);
    snprintf(cases[8].args, sizeof cases[8].args, "inspect %s", gg);

    static const char *const rows[] = {"convert", "verify", "inspect"};
    fs_tally tally;
    memset(&tally, 0, sizeof tally);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (size_t i = 0; i < n_cases; i++) {
        fs_case *const c = &cases[i];
        if (c->kind != which) continue;
        fs_sweep(&e, c, &tally);
        if (i == 4) CHECK(c->base_exit == 4);   /* the flipped byte is found without faults */
        else CHECK_EQ_INT(c->base_exit, 0);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double const secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    fprintf(stderr, "     fault sweep of %s (%s, %.1f s):\n", rows[which],
            FS_ASAN ? "I/O faults only: ASan owns malloc" : "malloc, read, write, fsync, fsyncdir", secs);
    fprintf(stderr, "     %-8s %5s %8s %10s %12s %10s\n", "command", "runs", "crashes", "fail-open", "wrong class", "leftovers");
    fprintf(stderr, "     %-8s %5d %8d %10d %12d %10d\n", rows[which], tally.runs, tally.crashes, tally.fail_open,
            tally.wrong_class, tally.leftovers);
    CHECK(tally.runs > 0);
    CHECK_EQ_INT(tally.crashes, 0);
    CHECK_EQ_INT(tally.fail_open, 0);
    CHECK_EQ_INT(tally.wrong_class, 0);
    CHECK_EQ_INT(tally.leftovers, 0);
}

TEST(fault_sweep_convert) { fs_main(K_CONVERT); }
TEST(fault_sweep_verify) { fs_main(K_VERIFY); }
TEST(fault_sweep_inspect) { fs_main(K_INSPECT); }
