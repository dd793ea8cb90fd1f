/* cli.h - what the subcommand files share: the table entry type, argument helpers and the one
 * error printer, so every subcommand reports errors and exit codes the same way. */
#ifndef TRIT_CLI_H
#define TRIT_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "trit.h"

/* Exit codes by failure class (spec/errors.md): libtrit's table (trit.h, TRIT_EXIT_*). */
enum {
    CLI_EXIT_OK = TRIT_EXIT_OK,
    CLI_EXIT_MISMATCH = TRIT_EXIT_MISMATCH,       /* verification failed / files differ */
    CLI_EXIT_USAGE = TRIT_EXIT_USAGE,
    CLI_EXIT_IO = TRIT_EXIT_IO,
    CLI_EXIT_CORRUPT = TRIT_EXIT_CORRUPT,         /* corrupt or truncated input, checksum mismatch */
    CLI_EXIT_UNSUPPORTED = TRIT_EXIT_UNSUPPORTED, /* valid input this version cannot handle */
    CLI_EXIT_LIMIT = TRIT_EXIT_LIMIT,             /* input exceeds a hard limit */
    CLI_EXIT_INTERNAL = TRIT_EXIT_INTERNAL
};

/* What a subcommand's argument parser returns when the command should run; any other value
 * is the exit code to return at once (help printed, usage error). */
#define CLI_PARSED (-1)

/* Print "trit <cmd>: <formatted err>" to stderr and return its exit code (trit_exit_code). */
int cli_report(const char *cmd, const trit_err *err);
/* Parse a byte size with an optional K/M/G (KiB/MiB/GiB) suffix; 0 on success. */
int cli_parse_size(const char *s, uint64_t *out);
/* Parse an unsigned integer in [lo, hi]; 0 on success. */
int cli_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out);

/* The one interrupt guard of the commands that write through a temp file (convert, calibrate,
 * export, pack) or a staging directory (unpack), so a kill never leaves a partial output. Every
 * writer publishes its temp file through cli_guard_temp_cb (the temp_path callback of cvt_opts,
 * cal_opts, exg_opts and pack_create_opts), a pipeline its intermediate file through
 * cli_guard_intermediate_cb, unpack its staging directory (a flat directory of regular files)
 * through cli_guard_dir_cb (pack_unpack_opts.stage_path); path NULL stops tracking.
 * The writers' temp files are registered by libtrit's atomic-write helper itself
 * (trit_sys_atomic, trit_write_opts.temp_path), with termination signals held back between a
 * file's creation and its registration, so no window leaves one behind.
 * On SIGINT, SIGTERM or SIGHUP the handler unlinks the tracked files, prints "trit CMD:
 * interrupted; no output written" and exits 130 (TRIT_EXIT_INTERRUPTED); when the output is
 * already complete (the tracked files are gone, or the writer has published NULL) it lets the
 * command finish. cli_guard_end restores the previous handlers and forgets the files: call it
 * before any long step that writes nothing. */
void cli_guard_begin(const char *cmd);
void cli_guard_end(void);
void cli_guard_temp_cb(void *ctx, const char *path);
void cli_guard_intermediate_cb(void *ctx, const char *path);
void cli_guard_dir_cb(void *ctx, const char *path);

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
int cmd_eval(int argc, char **argv);

/* The accuracy table of `trit eval` and `trit calibrate --eval` (cmd_eval.c). */
struct cal_eval_report;
struct cJSON;
void cli_eval_print(const struct cal_eval_report *r, FILE *f);
/* The table as JSON; caller frees with cJSON_Delete(). */
struct cJSON *cli_eval_json(const struct cal_eval_report *r);
/* The static-vs-dynamic bound (cal_eval_check), a line on f unless json: CLI_EXIT_OK within it,
 * CLI_EXIT_MISMATCH outside, CLI_EXIT_USAGE when either mode is missing. */
int cli_eval_check(const struct cal_eval_report *r, double ppl_ratio, double kl_ratio, int json, FILE *f);

#endif
