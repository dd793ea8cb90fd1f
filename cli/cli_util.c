/* cli_util.c - exit codes, the error printer and number parsing shared by every subcommand. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

int cli_exit_code(int code)
{
    switch (code) {
    case TRIT_OK: return CLI_EXIT_OK;
    case TRIT_E_USAGE: return CLI_EXIT_USAGE;
    case TRIT_E_IO: case TRIT_E_EXISTS: case TRIT_E_NOTFOUND: return CLI_EXIT_IO;
    case TRIT_E_TRUNCATED: case TRIT_E_CORRUPT: case TRIT_E_CHECKSUM: return CLI_EXIT_CORRUPT;
    case TRIT_E_UNSUPPORTED: return CLI_EXIT_UNSUPPORTED;
    case TRIT_E_LIMIT: return CLI_EXIT_LIMIT;
    default: return CLI_EXIT_INTERNAL;
    }
}

int cli_report(const char *cmd, const trit_err *err)
{
    char buf[768];
    fprintf(stderr, "trit %s: %s\n", cmd, trit_err_format(err, buf, sizeof buf));
    return cli_exit_code(err->code);
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
 * they live here, once, for every subcommand that writes through a temp file. */
#define CLI_TEMP_SLOTS 2
static char g_temp[CLI_TEMP_SLOTS][4096];
static volatile sig_atomic_t g_have_temp[CLI_TEMP_SLOTS];

static void on_fatal_signal(int sig)
{
    for (int i = 0; i < CLI_TEMP_SLOTS; i++)
        if (g_have_temp[i]) unlink(g_temp[i]);
    signal(sig, SIG_DFL);
    raise(sig);
}

void cli_temp_track(int slot, const char *path)
{
    if (slot < 0 || slot >= CLI_TEMP_SLOTS) return;
    g_have_temp[slot] = 0;
    snprintf(g_temp[slot], sizeof g_temp[slot], "%s", path ? path : "");
    g_have_temp[slot] = path != NULL;
}

void cli_temp_writer_cb(void *ctx, const char *path)
{
    (void)ctx;
    cli_temp_track(0, path);
}

void cli_temp_install_signals(void)
{
    signal(SIGINT, on_fatal_signal);
    signal(SIGTERM, on_fatal_signal);
    signal(SIGHUP, on_fatal_signal);
}
