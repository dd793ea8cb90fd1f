/* cli_util.c - the error printer, number parsing and the interrupt guard shared by every
 * subcommand. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/syscall.h>
#endif

#include "cli.h"
#include "trit_sys.h"

int cli_report(const char *cmd, const trit_err *err)
{
    char buf[768];
    fprintf(stderr, "trit %s: %s\n", cmd, trit_err_format(err, buf, sizeof buf));
    return trit_exit_code(err->code);
}

int cli_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out) { return trit_sys_parse_u64(s, lo, hi, out); }

int cli_parse_size(const char *s, uint64_t *out) { return trit_sys_parse_size(s, out); }

/* Files a fatal signal must remove: a signal handler can reach them only through globals, so
 * they live here, once, for every subcommand that writes through a temp file. Slot 0 is the
 * writer's temp file, slot 1 a pipeline's intermediate, slot 2 a staging directory (unpack). */
enum { GUARD_WRITER = 0, GUARD_INTERMEDIATE = 1, GUARD_DIR = 2, GUARD_SLOTS = 3 };
static const int g_signals[] = {SIGINT, SIGTERM, SIGHUP};
#define GUARD_NSIG (int)(sizeof g_signals / sizeof g_signals[0])
static char g_temp[GUARD_SLOTS][4096];
static volatile sig_atomic_t g_have_temp[GUARD_SLOTS];
static volatile sig_atomic_t g_settled;  /* the last writer is done: committed or cleaned up */
static char g_msg[160];                  /* "trit CMD: interrupted; no output written\n" */
static size_t g_msg_len;
static struct sigaction g_old[GUARD_NSIG];
static int g_installed;

/* Remove a flat directory of regular files with async-signal-safe calls only (no opendir: it
 * allocates). 0 when it is gone, else -1 with errno (ENOENT: it was already gone). */
static int remove_flat_dir_signal_safe(const char *dir)
{
#ifdef __linux__
    int const fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return -1;
    union {
        char b[4096];
        uint64_t align;
    } buf;
    for (;;) {
        long const n = syscall(SYS_getdents64, fd, buf.b, sizeof buf.b);
        if (n <= 0) break;
        for (long off = 0; off < n;) {
            /* struct linux_dirent64: u64 ino, s64 off, u16 reclen, u8 type, char name[] */
            unsigned short reclen;
            memcpy(&reclen, buf.b + off + 16, sizeof reclen);
            const char *const name = buf.b + off + 19;
            if (reclen == 0) break;
            if (strcmp(name, ".") != 0 && strcmp(name, "..") != 0) (void)unlinkat(fd, name, 0);
            off += reclen;
        }
    }
    close(fd);
#endif
    return rmdir(dir);
}

static void on_fatal_signal(int sig)
{
    int const saved = errno;
    int tracked = 0, removed = 0;
    for (int i = 0; i < GUARD_SLOTS; i++) {
        if (!g_have_temp[i]) continue;
        tracked = 1;
        int const gone = i == GUARD_DIR ? remove_flat_dir_signal_safe(g_temp[i]) : unlink(g_temp[i]);
        removed |= gone == 0 || errno != ENOENT;
    }
    /* Every tracked file already renamed or removed, or the last writer done: the output is
     * complete (or the error on its way), so the command finishes as if never interrupted. */
    if (tracked ? !removed : g_settled) {
        errno = saved;
        return;
    }
    (void)sig;
    ssize_t const w = write(STDERR_FILENO, g_msg, g_msg_len);
    (void)w;
    _exit(TRIT_EXIT_INTERRUPTED);
}

static void track(int slot, const char *path)
{
    g_have_temp[slot] = 0;
    snprintf(g_temp[slot], sizeof g_temp[slot], "%s", path ? path : "");
    g_have_temp[slot] = path != NULL;
}

void cli_guard_temp_cb(void *ctx, const char *path)
{
    (void)ctx;
    if (!path) g_settled = 1;   /* before the slot empties: no instant looks like "not started" */
    track(GUARD_WRITER, path);
    if (path) g_settled = 0;
}

void cli_guard_dir_cb(void *ctx, const char *path)
{
    (void)ctx;
    if (!path) g_settled = 1;
    track(GUARD_DIR, path);
    if (path) g_settled = 0;
}

void cli_guard_intermediate_cb(void *ctx, const char *path)
{
    (void)ctx;
    track(GUARD_INTERMEDIATE, path);
}

/* A library that ends the process itself (libarchive calls exit(1) when an allocation fails
 * in some paths) while a guarded command runs: remove what the signal handler would, and exit
 * as the internal error it is. */
static void on_exit_guarded(void)
{
    if (!g_installed) return;
    for (int i = 0; i < GUARD_SLOTS; i++)
        if (g_have_temp[i]) (void)(i == GUARD_DIR ? remove_flat_dir_signal_safe(g_temp[i]) : unlink(g_temp[i]));
    static const char msg[] = "trit: internal error: a library ended the process (out of memory?); no output written\n";
    ssize_t const w = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)w;
    _exit(TRIT_EXIT_INTERNAL);
}

void cli_guard_begin(const char *cmd)
{
    static int at_exit_set;
    if (!at_exit_set) at_exit_set = atexit(on_exit_guarded) == 0;
    int const n = snprintf(g_msg, sizeof g_msg, "trit %s: interrupted; no output written\n", cmd);
    g_msg_len = n < 0 ? 0 : (size_t)n < sizeof g_msg ? (size_t)n : sizeof g_msg - 1;
    g_settled = 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal_signal;
    sa.sa_flags = SA_RESTART;   /* a signal let through must not fail a write with EINTR */
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < GUARD_NSIG; i++) sigaction(g_signals[i], &sa, &g_old[i]);
    g_installed = 1;
}

void cli_guard_end(void)
{
    if (g_installed)
        for (int i = 0; i < GUARD_NSIG; i++) sigaction(g_signals[i], &g_old[i], NULL);
    g_installed = 0;
    for (int i = 0; i < GUARD_SLOTS; i++) track(i, NULL);
}
