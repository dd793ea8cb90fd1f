/* cmd_diff.c - `trit diff A B`: argument parsing only; the comparison is in inspect/insp_diff.c. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "insp.h"

/* diff(1) exit status: 0 same, 1 different, 2 trouble. */
enum { DIFF_SAME = 0, DIFF_DIFFERENT = 1, DIFF_TROUBLE = 2 };

static void diff_usage(FILE *f)
{
    fprintf(f,
            "usage: trit diff [options] A B\n"
            "\n"
            "Compare two model files of any formats (.trit, .gguf, .safetensors, an index.json or a\n"
            "model directory). Metadata is normalized to the .trit keys, so a hyperparameter under\n"
            "its GGUF name, its HF config name and its .trit name compares equal; tensors are matched\n"
            "by canonical name (GGUF 3-D expert stacks are compared slice by slice with per-expert\n"
            "tensors; GGUF llama Q/K rows are un-permuted against HF order). For each tensor: shape\n"
            "and type changes, and value differences (count, max abs, relative error, cosine, and\n"
            "for ternary tensors the flipped codes). Types alone (same values in another encoding)\n"
            "do not make files differ.\n"
            "\n"
            "options:\n"
            "  --json           print JSON (schema: spec/errors.md)\n"
            "  --all            list identical tensors too\n"
            "  --atol X         values within X count as equal (default 0: exact)\n"
            "  --no-values      compare names, shapes and types only (reads headers only)\n"
            "  --no-unpermute   compare GGUF llama attn_q/attn_k rows as stored\n"
            "  -h, --help       this help\n"
            "\n"
            "exit: 0 same, 1 different, 2 trouble (like diff(1))\n");
}

int cmd_diff(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'},       {"all", no_argument, NULL, 'a'},
        {"atol", required_argument, NULL, 't'}, {"no-values", no_argument, NULL, 'n'},
        {"no-unpermute", no_argument, NULL, 'p'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    insp_diff_opts o;
    memset(&o, 0, sizeof o);
    int json = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'j': json = 1; break;
        case 'a': o.all = 1; break;
        case 't': {
            char *end;
            errno = 0;
            o.atol = strtod(optarg, &end);
            if (errno || end == optarg || *end || !(o.atol >= 0) || !isfinite(o.atol)) {
                fprintf(stderr, "trit diff: --atol wants a non-negative number, not '%s'\n", optarg);
                return DIFF_TROUBLE;
            }
            break;
        }
        case 'n': o.no_values = 1; break;
        case 'p': o.no_unpermute = 1; break;
        case 'h': diff_usage(stdout); return DIFF_SAME;
        default: diff_usage(stderr); return DIFF_TROUBLE;
        }
    }
    if (optind + 2 != argc) {
        fprintf(stderr, "trit diff: expected two files, A and B\n");
        diff_usage(stderr);
        return DIFF_TROUBLE;
    }
    trit_err err;
    trit_err_clear(&err);
    insp_diff *d = NULL;
    if (insp_diff_run(argv[optind], argv[optind + 1], &o, &d, &err) != TRIT_OK) {
        cli_report("diff", &err);
        return DIFF_TROUBLE;
    }
    int rc = insp_diff_differs(d) ? DIFF_DIFFERENT : DIFF_SAME;
    if (json) {
        char *s = insp_diff_json(d);
        if (!s) {
            fprintf(stderr, "trit diff: out of memory\n");
            rc = DIFF_TROUBLE;
        } else {
            printf("%s\n", s);
            free(s);
        }
    } else if (insp_diff_print(d, stdout) != 0) {
        rc = DIFF_TROUBLE;
    }
    insp_diff_free(d);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "trit diff: cannot write output\n");
        return DIFF_TROUBLE;
    }
    return rc;
}
