/* cli_util.c - the error printer, number parsing and the interrupt guard shared by every
 * subcommand. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

int cli_report(const char *cmd, const trit_err *err)
{
    char buf[768];
    fprintf(stderr, "trit %s: %s\n", cmd, trit_err_format(err, buf, sizeof buf));
    return trit_exit_code(err->code);
}

int cli_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    if (!s || !*s || *s == '-' || *s == '+') return -1;
    errno = 0;
    char *end;
    unsigned long long const v = strtoull(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int cli_parse_size(const char *s, uint64_t *out)
{
    if (!s || !*s || *s == '-' || *s == '+') return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s) return -1;
    unsigned shift = 0;
    if (*end == 'K' || *end == 'k') shift = 10;
    else if (*end == 'M' || *end == 'm') shift = 20;
    else if (*end == 'G' || *end == 'g') shift = 30;
    else if (*end == 'T' || *end == 't') shift = 40;
    if (shift) {
        end++;
        if (strcmp(end, "iB") == 0 || strcmp(end, "B") == 0) end += strlen(end);
    } else if (strcmp(end, "B") == 0) {
        end++;
    }
    if (*end) return -1;
    if (shift && v > (~0ull >> shift)) return -1;
    *out = v << shift;
    return 0;
}

/* Files a fatal signal must remove: a signal handler can reach them only through globals, so
 * they live here, once, for every subcommand that writes through a temp file. Slot 0 is the
 * writer's temp file, slot 1 a pipeline's intermediate. */
enum { GUARD_WRITER = 0, GUARD_INTERMEDIATE = 1, GUARD_SLOTS = 2 };
static const int g_signals[] = {SIGINT, SIGTERM, SIGHUP};
#define GUARD_NSIG (int)(sizeof g_signals / sizeof g_signals[0])
static char g_temp[GUARD_SLOTS][4096];
static volatile sig_atomic_t g_have_temp[GUARD_SLOTS];
static volatile sig_atomic_t g_settled;  /* the last writer is done: committed or cleaned up */
static volatile sig_atomic_t g_exit130;
static char g_msg[160];                  /* "trit CMD: interrupted; no output written\n" */
static size_t g_msg_len;
static struct sigaction g_old[GUARD_NSIG];
static int g_installed;

static void on_fatal_signal(int sig)
{
    int const saved = errno;
    int tracked = 0, removed = 0;
    for (int i = 0; i < GUARD_SLOTS; i++) {
        if (!g_have_temp[i]) continue;
        tracked = 1;
        removed |= unlink(g_temp[i]) == 0 || errno != ENOENT;
    }
    /* Every tracked file already renamed or removed, or the last writer done: the output is
     * complete (or the error on its way), so the command finishes as if never interrupted. */
    if (tracked ? !removed : g_settled) {
        errno = saved;
        return;
    }
    if (g_exit130) {
        ssize_t const w = write(STDERR_FILENO, g_msg, g_msg_len);
        (void)w;
        _exit(TRIT_EXIT_INTERRUPTED);
    }
    signal(sig, SIG_DFL);
    raise(sig);
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

void cli_guard_intermediate_cb(void *ctx, const char *path)
{
    (void)ctx;
    track(GUARD_INTERMEDIATE, path);
}

void cli_guard_begin(const char *cmd, int mode)
{
    int const n = snprintf(g_msg, sizeof g_msg, "trit %s: interrupted; no output written\n", cmd);
    g_msg_len = n < 0 ? 0 : (size_t)n < sizeof g_msg ? (size_t)n : sizeof g_msg - 1;
    g_exit130 = mode == CLI_GUARD_EXIT130;
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
