/* cmd_verify.c - `trit verify`: argument parsing only; the checks are in verify/. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "run.h"
#include "vfy.h"

static void verify_usage(FILE *f)
{
    size_t n_rt = 0;
    const vfy_runtime *rt = vfy_runtime_table(&n_rt);
    fprintf(f,
            "usage: trit verify [options] FILE\n"
            "\n"
            "Check that a model file may ship: for a .trit, structure and bounds, every checksum,\n"
            "every expert unit decoded and sized, zero padding, tensor invariants (t2 codes and\n"
            "scales, no NaN/Inf, no all-zero projection), metadata against tensors (layer and\n"
            "expert counts, shapes per spec/container.md section 10) and compatibility with a\n"
            "runtime version. .gguf and .safetensors inputs get the structural, value and metadata\n"
            "checks. A .trit is also loaded the way the runner loads it (every key, tensor and\n"
            "expert description resolved), so a file that passes is one the runtime accepts.\n"
            "Prints one line per failing object, then a summary.\n"
            "\n"
            "options:\n"
            "  --json                 print a JSON report instead (schema: spec/errors.md)\n"
            "  --runtime-version V    check compatibility with runtime V (default %s, this one)\n"
            "  --smoke N              run N tokens through the runner: logits finite, golden logits\n"
            "                         match when the container has them\n"
            "  --max-findings N       findings listed (default 1000; all are counted)\n"
            "  --threads N            threads for a .trit's data checks (default: one per core);\n"
            "                         the report is the same at any count\n"
            "  -v, --verbose          also print what was checked\n"
            "  -h, --help             this help\n"
            "\n"
            "exit: 0 ok, 1 tensor/metadata/smoke check failed, 2 usage, 3 i/o, 4 integrity,\n"
            "      5 incompatible with the runtime, 6 limit exceeded, 70 internal (out of memory:\n"
            "      never a pass) (spec/errors.md)\n",
            n_rt ? rt[n_rt - 1].version : "?");
}

int cmd_verify(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'},
        {"runtime-version", required_argument, NULL, 'r'},
        {"smoke", required_argument, NULL, 's'},
        {"max-findings", required_argument, NULL, 'm'},
        {"threads", required_argument, NULL, 't'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    vfy_opts o;
    memset(&o, 0, sizeof o);
    int json = 0, verbose = 0, c;
    uint64_t v;
    optind = 1;
    while ((c = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
        switch (c) {
        case 'j': json = 1; break;
        case 'r': o.runtime_version = optarg; break;
        case 's':
            if (cli_parse_u64(optarg, 1, 4096, &v) != 0) {
                fprintf(stderr, "trit verify: --smoke wants a token count in 1..4096, not '%s'\n", optarg);
                return CLI_EXIT_USAGE;
            }
            o.smoke_tokens = (uint32_t)v;
            break;
        case 'm':
            if (cli_parse_u64(optarg, 1, 1000000, &v) != 0) {
                fprintf(stderr, "trit verify: --max-findings wants a number in 1..1000000, not '%s'\n", optarg);
                return CLI_EXIT_USAGE;
            }
            o.max_issues = (uint32_t)v;
            break;
        case 't':
            if (cli_parse_u64(optarg, 1, 64, &v) != 0) {
                fprintf(stderr, "trit verify: --threads wants a number in 1..64, not '%s'\n", optarg);
                return CLI_EXIT_USAGE;
            }
            o.threads = (uint32_t)v;
            break;
        case 'v': verbose = 1; break;
        case 'h': verify_usage(stdout); return CLI_EXIT_OK;
        default: verify_usage(stderr); return CLI_EXIT_USAGE;
        }
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "trit verify: expected exactly one FILE\n");
        verify_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    o.load_fn = run_check_load;   /* verify OK means this runtime loads it */
    if (o.smoke_tokens) o.smoke_fn = run_check_logits;
    vfy_report rep;
    trit_err err;
    trit_err_clear(&err);
    if (vfy_verify(argv[optind], &o, &rep, &err) != TRIT_OK) {
        vfy_report_release(&rep);
        return cli_report("verify", &err);
    }
    int rc = vfy_report_exit(&rep);
    if (json) {
        char *s = vfy_report_json(&rep);
        if (!s) {
            fprintf(stderr, "trit verify: out of memory\n");
            rc = CLI_EXIT_INTERNAL;
        } else {
            printf("%s\n", s);
            free(s);
        }
    } else if (vfy_report_print(&rep, stdout, verbose) != 0) {
        rc = CLI_EXIT_IO;
    }
    vfy_report_release(&rep);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "trit verify: cannot write output\n");
        return CLI_EXIT_IO;
    }
    return rc;
}
