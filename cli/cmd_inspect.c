/* cmd_inspect.c - `trit inspect`: argument parsing only; the work is in inspect/. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "insp.h"

static void inspect_usage(FILE *f)
{
    fprintf(f,
            "usage: trit inspect [options] FILE\n"
            "\n"
            "Show a model file: format, version, metadata, tensor table, totals per type and the\n"
            "parameter count. FILE is a .trit, a .gguf (first part of a split is enough), a\n"
            ".safetensors file, a model.safetensors.index.json, or a directory holding either.\n"
            "Without --stats only headers are read, whatever the file's size.\n"
            "\n"
            "options:\n"
            "  --json        print JSON (schema: spec/inspect-json.md)\n"
            "  --tensors     list every tensor (text output shows the first 40 otherwise)\n"
            "  --stats       read tensor data: min, max, mean |x|, zero fraction, ternary detection\n"
            "  -h, --help    this help\n");
}

int cmd_inspect(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'},     {"tensors", no_argument, NULL, 't'},
        {"stats", no_argument, NULL, 's'},    {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    insp_opts o = {0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'j': o.json = 1; break;
        case 't': o.tensors = 1; break;
        case 's': o.stats = 1; break;
        case 'h': inspect_usage(stdout); return CLI_EXIT_OK;
        default: inspect_usage(stderr); return CLI_EXIT_USAGE;
        }
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "trit inspect: expected exactly one FILE\n");
        inspect_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    trit_err err;
    trit_err_clear(&err);
    insp_model m;
    memset(&m, 0, sizeof m);
    int rc = insp_open(argv[optind], &m, &err);
    if (rc == TRIT_OK) rc = insp_print(&m, &o, stdout, &err);
    insp_model_free(&m);
    if (fflush(stdout) != 0 && rc == TRIT_OK) {
        fprintf(stderr, "trit inspect: cannot write output\n");
        return CLI_EXIT_IO;
    }
    return rc == TRIT_OK ? CLI_EXIT_OK : cli_report("inspect", &err);
}
