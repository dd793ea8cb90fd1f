/* main.c - the `trit` command: a table of git-style subcommands (style R23). */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static int cmd_help(int argc, char **argv);
static int cmd_version(int argc, char **argv);

static const struct cmd {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} cmds[] = {
    {"calibrate", cmd_calibrate, "choose static activation scales per layer from calibration data"},
    {"convert", cmd_convert, "convert a safetensors or GGUF checkpoint into a .trit container"},
    {"diff", cmd_diff, "compare two model files of any formats: metadata, tensors, values"},
    {"eval", cmd_eval, "judge activation-scale modes by accuracy against float on held-out text"},
    {"export", cmd_export, "write a .trit container as a GGUF file that llama.cpp loads"},
    {"inspect", cmd_inspect, "show the header, metadata and tensors of a .trit, .gguf or .safetensors"},
    {"pack", cmd_pack, "make a signed OTA bundle (or a delta) of .trit containers"},
    {"unpack", cmd_unpack, "check an OTA bundle and install it atomically"},
    {"run", cmd_run, "run a .trit model: generate tokens, expert paging under a memory budget"},
    {"verify", cmd_verify, "check a model file before it ships: integrity, values, metadata, runtime"},
    {"version", cmd_version, "print the trit and container format versions"},
    {"help", cmd_help, "list the commands, or show one command's help"},
};
#define N_CMDS (sizeof cmds / sizeof cmds[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: trit <command> [options] [args]\n       trit --version | --help\n\ncommands:\n");
    for (size_t i = 0; i < N_CMDS; i++) fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].summary);
    fprintf(f, "\nRun 'trit <command> --help' for a command's options.\n"
               "Exit codes: 0 ok, 1 mismatch, 2 usage, 3 i/o, 4 corrupt input, 5 unsupported, 6 limit.\n");
}

static const struct cmd *find(const char *name)
{
    for (size_t i = 0; i < N_CMDS; i++)
        if (strcmp(cmds[i].name, name) == 0) return &cmds[i];
    return NULL;
}

static int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("trit %s (container format %d.%d)\n", TRIT_VERSION_STRING, TRIT_FORMAT_MAJOR, TRIT_FORMAT_MINOR);
    return 0;
}

static int cmd_help(int argc, char **argv)
{
    if (argc > 1) {
        const struct cmd *c = find(argv[1]);
        if (!c) {
            fprintf(stderr, "trit: '%s' is not a trit command\n", argv[1]);
            return CLI_EXIT_USAGE;
        }
        char help[] = "--help";
        char *av[] = {argv[1], help, NULL};
        return c->fn(2, av);
    }
    usage(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) return cmd_version(0, NULL);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) return cmd_help(1, argv);
    const struct cmd *c = find(argv[1]);
    if (!c) {
        fprintf(stderr, "trit: '%s' is not a trit command; see 'trit help'\n", argv[1]);
        return CLI_EXIT_USAGE;
    }
    return c->fn(argc - 1, argv + 1);
}
