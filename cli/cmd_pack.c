/* cmd_pack.c - `trit pack`: argument parsing only; the work is in pack/. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "pack.h"

static void pack_usage(FILE *f)
{
    fprintf(f,
            "usage: trit pack FILE.trit... -o OUT.bundle --model-id ID --version N [options]\n"
            "       trit pack --keygen -o KEYBASE [--force]\n"
            "\n"
            "Make an OTA bundle (spec/manifest.md): a tar holding manifest.json, its Ed25519\n"
            "signature and the containers. Every container is fully verified first. The same\n"
            "inputs give the same bundle bytes.\n"
            "\n"
            "options:\n"
            "  -o, --output PATH     the bundle (with --keygen: writes PATH.key and PATH.pub)\n"
            "  --model-id ID         model identity, 1-128 bytes of [A-Za-z0-9._:/+-]\n"
            "  --version N           release number, >= 1; installs refuse anything not newer\n"
            "  --min-runtime V       oldest runtime that may install it (default %s)\n"
            "  --key FILE            secret key to sign with (without it the bundle is unsigned)\n"
            "  --base OLD.bundle     make a delta: carry only objects not in OLD (a full bundle)\n"
            "  --chunk-size SIZE     bytes per chunk digest, power of two (default 4M)\n"
            "  --threads N           hash chunks on N threads (default: the cores online); the\n"
            "                        bundle is the same bytes at any N\n"
            "  --manifest-version V  2 (default) or 1, for installers that read only version 1\n"
            "  --keygen              create a signing key pair\n"
            "  --force               replace an existing output\n"
            "  --dry-run             check and hash everything, write nothing\n"
            "  -h, --help            this help\n"
            "\n"
            "The bundle is written to OUT.tmp-<pid>-XXXXXX and renamed into place; SIGINT or SIGTERM\n"
            "removes the temp file (exit 130), and a later run on OUT removes those of killed runs.\n"
            "\n"
            "Exit codes: 0 ok, 2 usage, 3 i/o (or output exists), 4 corrupt input, 5 unsupported,\n"
            "6 limit, 70 internal (out of memory), 130 interrupted (spec/errors.md).\n",
            TRIT_VERSION_STRING);
}

enum { OPT_MODEL = 256, OPT_VERSION, OPT_MINRT, OPT_KEY, OPT_BASE, OPT_CHUNK, OPT_KEYGEN, OPT_FORCE, OPT_DRY, OPT_THREADS, OPT_MANIFEST };

static int fail(const trit_err *err)
{
    char buf[768];
    fprintf(stderr, "trit pack: %s\n", trit_err_format(err, buf, sizeof buf));
    return pack_exit_code(err->code);
}

int cmd_pack(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},      {"model-id", required_argument, NULL, OPT_MODEL},
        {"version", required_argument, NULL, OPT_VERSION}, {"min-runtime", required_argument, NULL, OPT_MINRT},
        {"key", required_argument, NULL, OPT_KEY},     {"base", required_argument, NULL, OPT_BASE},
        {"chunk-size", required_argument, NULL, OPT_CHUNK}, {"keygen", no_argument, NULL, OPT_KEYGEN},
        {"force", no_argument, NULL, OPT_FORCE},       {"dry-run", no_argument, NULL, OPT_DRY},
        {"threads", required_argument, NULL, OPT_THREADS}, {"manifest-version", required_argument, NULL, OPT_MANIFEST},
        {"help", no_argument, NULL, 'h'},              {NULL, 0, NULL, 0},
    };
    pack_create_opts o;
    memset(&o, 0, sizeof o);
    const char *key = NULL;
    int keygen = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "ho:", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': o.out = optarg; break;
        case OPT_MODEL: o.model_id = optarg; break;
        case OPT_VERSION:
            if (cli_parse_u64(optarg, 1, UINT64_MAX, &o.version) != 0) {
                fprintf(stderr, "trit pack: --version '%s' is not an integer >= 1\n", optarg);
                return CLI_EXIT_USAGE;
            }
            break;
        case OPT_MINRT: o.min_runtime = optarg; break;
        case OPT_KEY: key = optarg; break;
        case OPT_BASE: o.base = optarg; break;
        case OPT_CHUNK:
            if (cli_parse_size(optarg, &o.chunk_size) != 0 || o.chunk_size == 0) {
                fprintf(stderr, "trit pack: --chunk-size '%s' is not a size\n", optarg);
                return CLI_EXIT_USAGE;
            }
            break;
        case OPT_KEYGEN: keygen = 1; break;
        case OPT_FORCE: o.force = 1; break;
        case OPT_DRY: o.dry_run = 1; break;
        case OPT_THREADS: {
            uint64_t v;
            if (cli_parse_u64(optarg, 1, PACK_MAX_THREADS, &v) != 0) {
                fprintf(stderr, "trit pack: --threads must be 1..%u\n", PACK_MAX_THREADS);
                return CLI_EXIT_USAGE;
            }
            o.threads = (uint32_t)v;
            break;
        }
        case OPT_MANIFEST: {
            uint64_t v;
            if (cli_parse_u64(optarg, 1, 2, &v) != 0) {
                fprintf(stderr, "trit pack: --manifest-version must be 1 or 2\n");
                return CLI_EXIT_USAGE;
            }
            o.manifest_version = (uint32_t)v;
            break;
        }
        case 'h': pack_usage(stdout); return CLI_EXIT_OK;
        default: pack_usage(stderr); return CLI_EXIT_USAGE;
        }
    }
    trit_err err;
    trit_err_clear(&err);
    if (keygen) {
        if (!o.out || optind != argc) {
            fprintf(stderr, "trit pack: --keygen takes -o KEYBASE and no files\n");
            return CLI_EXIT_USAGE;
        }
        if (pack_keygen(o.out, o.force, &err) != TRIT_OK) return fail(&err);
        printf("wrote %s.key (secret: keep it off devices and out of git) and %s.pub\n", o.out, o.out);
        return CLI_EXIT_OK;
    }
    if (optind >= argc || !o.out || !o.model_id || !o.version) {
        fprintf(stderr, "trit pack: need FILE.trit..., -o OUT, --model-id and --version\n");
        pack_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    uint8_t seed[PACK_SEED_BYTES], pk[PACK_PUBKEY_BYTES];
    if (key && (pack_key_load_secret(key, seed, &err) != TRIT_OK || pack_key_public(seed, pk, &err) != TRIT_OK))
        return fail(&err);
    o.seed = key ? seed : NULL;
    o.inputs = (const char *const *)(argv + optind);
    o.n_inputs = (uint32_t)(argc - optind);
    pack_create_info info;
    o.temp_path = cli_guard_temp_cb;
    cli_guard_begin("pack");
    int const rc = pack_create(&o, &info, &err);
    cli_guard_end();
    memset(seed, 0, sizeof seed);
    if (rc != TRIT_OK) return fail(&err);
    char id[17];
    if (key) pack_key_id(pk, id);
    if (o.dry_run) printf("dry run: %s would hold", o.out);
    else printf("wrote %s (%llu bytes):", o.out, (unsigned long long)info.bundle_size);
    printf(" %s version %llu, %u file%s, %s%s; %llu bytes carried", o.model_id, (unsigned long long)o.version,
           o.n_inputs, o.n_inputs == 1 ? "" : "s", key ? "signed by key " : "unsigned", key ? id : "",
           (unsigned long long)info.carried);
    if (o.base) printf(", %llu copied from the base", (unsigned long long)info.copied);
    printf("\n");
    return CLI_EXIT_OK;
}
