/* test_interrupt_cleanup.c - temp files of `trit convert`, `convert --calib`, `calibrate` and
 * `export` under signals (issue 13, finding 9): SIGTERM/SIGINT while the output is being
 * written removes the temp file and exits 130 (the interrupt class); a temp file left by
 * kill -9 is removed by the next run on the same output, while a live writer's, or one some
 * process still holds the lock of, is never touched.
 *
 * Every write of the interrupted run is held 150 ms by the fault shim (TRIT_FAULT_SLOW), so
 * the signal lands while the temp file is open, not after the output is in place. The temp
 * files are registered with the CLI's guard by libtrit's atomic-write helper (trit_sys.h), the
 * one path every writer takes. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h"
#include "test_calib_util.h"
#include "test_pack.h"

typedef struct ic_fx {
    char dir[1024];            /* the inputs */
    char out[1100];            /* the outputs: one directory, emptied per case */
    char src[1100], model[1100], text[1100];
} ic_fx;

static int ic_fixture(ic_fx *f, const char *name)
{
    snprintf(f->dir, sizeof f->dir, "%s", test_path(test_tmpdir(), name));
    snprintf(f->out, sizeof f->out, "%s/out", f->dir);
    if (test_runf(NULL, "mkdir -p %s", f->out) != 0) return 0;
    trit_err err;
    int const rc = tcal_model(f->dir, "m", GEN_LAYOUT_QWEN3MOE, 0, 0, NULL, 0, f->model, sizeof f->model, &err);
    CHECK_OK_E(rc, &err);
    snprintf(f->src, sizeof f->src, "%s/m.src", f->dir);
    const char *const t = tcal_text(f->dir, "cal.txt", 8, 16);
    snprintf(f->text, sizeof f->text, "%s", t ? t : "");
    return rc == TRIT_OK && t;
}

enum { IC_CONVERT, IC_CONVERT_CALIB, IC_CALIBRATE, IC_EXPORT, IC_N };
static const char *const ic_name[IC_N] = {"convert", "convert --calib", "calibrate", "export"};
static const char *const ic_out[IC_N] = {"c.trit", "cc.trit", "cal.trit", "e.gguf"};

/* argv of case k (static storage, valid until the next call). */
static const char **ic_argv(const ic_fx *f, int k)
{
    static char out[1200];
    static const char *argv[16];
    snprintf(out, sizeof out, "%s/%s", f->out, ic_out[k]);
    int n = 0;
    argv[n++] = test_trit_bin();
    switch (k) {
    case IC_CONVERT:
    case IC_CONVERT_CALIB:
        argv[n++] = "convert";
        argv[n++] = "-q";
        argv[n++] = f->src;
        if (k == IC_CONVERT_CALIB) {
            argv[n++] = "--calib";
            argv[n++] = f->text;
        }
        break;
    case IC_CALIBRATE:
        argv[n++] = "calibrate";
        argv[n++] = f->model;
        argv[n++] = "--data";
        argv[n++] = f->text;
        break;
    default:
        argv[n++] = "export";
        argv[n++] = "-q";
        argv[n++] = f->model;
        break;
    }
    argv[n++] = "-o";
    argv[n++] = out;
    argv[n] = NULL;
    return argv;
}

/* Start case k (stdout to /dev/null, stderr to errf); under the shim with slow writes when so. */
static pid_t ic_start(const ic_fx *f, int k, const char *so, const char *errf)
{
    const char **const argv = ic_argv(f, k);
    pid_t const pid = fork();
    if (pid == 0) {
        int const fd = open(errf, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int const nul = open("/dev/null", O_WRONLY);
        if (fd < 0 || nul < 0) _exit(120);
        dup2(nul, 1);
        dup2(fd, 2);
        if (so) {
            test_fault_env(so);
            setenv("TRIT_FAULT_SLOW", "write:150", 1);
        }
        execv(argv[0], (char *const *)(uintptr_t)argv);
        _exit(121);
    }
    return pid;
}

/* Entries "<out>.tmp-*" in the output directory. */
static int ic_temps(const ic_fx *f, int k)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "%s.tmp-", ic_out[k]);
    return tpk_count_prefix(f->out, prefix);
}

/* Wait (at most 20 s) until case k has at least one temp file; 0 if it never did. */
static int ic_wait_temp(const ic_fx *f, int k, pid_t pid)
{
    for (int i = 0; i < 4000; i++) {
        if (ic_temps(f, k) > 0) return 1;
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) return 0;
        struct timespec const ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

static int ic_wait(pid_t pid)
{
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    return st;
}

static void ic_clean(const ic_fx *f)
{
    test_runf(NULL, "rm -rf %s && mkdir -p %s", f->out, f->out);
}

TEST(interrupt_sigterm_removes_temp_exit_130)
{
    const char *const so = test_fault_shim(0);
    if (!so) SKIP("fault shim not built (BUILD/fault/trit-fault*.so)");
    ic_fx f;
    if (!ic_fixture(&f, "intr_term")) return;
    const char *const errf = test_path(f.dir, "err.txt");
    int interrupted = 0, trials = 0;
    for (int k = 0; k < IC_N; k++) {
        for (int t = 0; t < 2; t++) {
            int const sig = t ? SIGINT : SIGTERM;
            ic_clean(&f);
            pid_t const pid = ic_start(&f, k, so, errf);
            CHECK(pid > 0);
            int const seen = ic_wait_temp(&f, k, pid);
            if (!seen) test_fail_(__FILE__, __LINE__, "%s: no temp file appeared", ic_name[k]);
            if (seen) kill(pid, sig);
            int const st = ic_wait(pid);
            trials++;
            size_t n = 0;
            char *msg = (char *)test_read_file(errf, &n);
            char *const z = msg ? realloc(msg, n + 1) : NULL;
            if (z) {
                msg = z;
                msg[n] = '\0';
            }
            int const said = z && strstr(msg, "interrupted; no output written") != NULL;
            int const ok = WIFEXITED(st) && WEXITSTATUS(st) == 130 && said;
            if (!ok)
                test_fail_(__FILE__, __LINE__, "%s, signal %d: %s %d, stderr '%.*s'", ic_name[k], sig,
                           WIFEXITED(st) ? "exit" : "killed by signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
                           msg ? (int)n : 0, msg ? msg : "");
            free(msg);
            interrupted += ok;
            /* nothing at all: no output, no temp file, no intermediate */
            int const left = tpk_count_prefix(f.out, ic_out[k]);
            if (left) test_fail_(__FILE__, __LINE__, "%s, signal %d: %d entries left", ic_name[k], sig, left);
        }
    }
    printf("  SIGTERM/SIGINT while writing: %d runs of convert, convert --calib, calibrate, export; %d exited 130 "
           "with nothing left\n", trials, interrupted);
}

/* A process that has exited (reaped): its pid names no writer. */
static long dead_pid(void)
{
    pid_t const p = fork();
    if (p == 0) _exit(0);
    ic_wait(p);
    return (long)p;
}

TEST(interrupt_kill9_next_run_removes_stale_temp)
{
    const char *const so = test_fault_shim(0);
    if (!so) SKIP("fault shim not built (BUILD/fault/trit-fault*.so)");
    ic_fx f;
    if (!ic_fixture(&f, "intr_kill")) return;
    const char *const errf = test_path(f.dir, "err.txt");
    for (int k = 0; k < IC_N; k++) {
        ic_clean(&f);
        pid_t const pid = ic_start(&f, k, so, errf);
        CHECK(pid > 0 && ic_wait_temp(&f, k, pid));
        kill(pid, SIGKILL);
        ic_wait(pid);
        int const left = ic_temps(&f, k);
        CHECK(left >= 1);   /* what kill -9 leaves */
        /* two that must stay: a live writer's (this process), and a dead pid's that some
         * process still holds the lock of */
        char live[1400], locked[1400];
        snprintf(live, sizeof live, "%s/%s.tmp-%ld-live01", f.out, ic_out[k], (long)getpid());
        snprintf(locked, sizeof locked, "%s/%s.tmp-%ld-lock01", f.out, ic_out[k], dead_pid());
        CHECK(test_write_file(live, "x", 1) == 0);
        int const lfd = open(locked, O_RDWR | O_CREAT | O_TRUNC, 0644);
        CHECK(lfd >= 0 && flock(lfd, LOCK_EX | LOCK_NB) == 0);
        /* the next run on the same output: no shim, runs to the end */
        pid_t const again = ic_start(&f, k, NULL, errf);
        int const st = ic_wait(again);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        int const after = ic_temps(&f, k);
        if (after != 2) test_fail_(__FILE__, __LINE__, "%s: %d temp files after the next run, expected the 2 kept", ic_name[k], after);
        CHECK(access(live, F_OK) == 0);
        CHECK(access(locked, F_OK) == 0);
        printf("  kill -9 mid-%s: %d temp file%s left, the next run removed %d and kept the live and the locked one\n",
               ic_name[k], left, left == 1 ? "" : "s", left + 2 - after);
        if (lfd >= 0) close(lfd);
        unlink(live);
        unlink(locked);
    }
}
