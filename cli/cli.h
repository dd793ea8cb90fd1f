/* cli.h - what the subcommand files share: the table entry type, argument helpers and the one
 * error printer, so every subcommand reports errors and exit codes the same way. */
#ifndef TRIT_CLI_H
#define TRIT_CLI_H

#include <stdint.h>

#include "trit.h"

/* Exit codes by failure class (spec/errors.md). */
enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_MISMATCH = 1,     /* verification failed / files differ */
    CLI_EXIT_USAGE = 2,
    CLI_EXIT_IO = 3,
    CLI_EXIT_CORRUPT = 4,      /* corrupt or truncated input, checksum mismatch */
    CLI_EXIT_UNSUPPORTED = 5,  /* valid input this version cannot handle */
    CLI_EXIT_LIMIT = 6,        /* input exceeds a hard limit */
    CLI_EXIT_INTERNAL = 70
};

/* Map a TRIT_E_* code to an exit code. */
int cli_exit_code(int trit_code);
/* Print "trit <cmd>: <formatted err>" to stderr and return the exit code for it. */
int cli_report(const char *cmd, const trit_err *err);
/* Parse a byte size with an optional K/M/G (KiB/MiB/GiB) suffix; 0 on success. */
int cli_parse_size(const char *s, uint64_t *out);
/* Parse an unsigned integer in [lo, hi]; 0 on success. */
int cli_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out);

/* Temp files removed on SIGINT/SIGTERM/SIGHUP, so a kill never leaves a partial output.
 * Slot 0 is the writer's temp file (cli_temp_writer_cb fits the temp_path callbacks of the
 * convert and calibrate options); slot 1 any other intermediate. path NULL stops tracking. */
void cli_temp_track(int slot, const char *path);
void cli_temp_writer_cb(void *ctx, const char *path);
void cli_temp_install_signals(void);

/* Subcommands: each parses its own arguments and calls its module. */
int cmd_inspect(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_pack(int argc, char **argv);
int cmd_unpack(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_calibrate(int argc, char **argv);
/* Calibrate model into out from a text file (data) or token ids (tokens_file): `trit convert
 * --calib` runs it on the container it has just converted. */
struct cal_opts;
struct cal_report;
int cli_calibrate(const char *model, const char *out, const char *data, const char *tokens_file,
                  const struct cal_opts *o, struct cal_report *rep, trit_err *err);

#endif
