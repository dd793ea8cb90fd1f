/* cli_util.c - exit codes, the error printer and number parsing shared by every subcommand. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
