/* cmd_unpack.c - `trit unpack`: argument parsing only; the work is in pack/. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "pack.h"

static void unpack_usage(FILE *f)
{
    fprintf(f,
            "usage: trit unpack BUNDLE -C DIR --pubkey FILE [options]\n"
            "\n"
            "Check an OTA bundle and install it into DIR atomically: the signature is checked\n"
            "before anything is written; every member must be a regular file named in the\n"
            "manifest, of the size and SHA-256 it lists; every container is fully verified; DIR\n"
            "is then replaced in one rename. DIR must be absent, empty, or a previous install.\n"
            "\n"
            "options:\n"
            "  -C, --directory DIR     where to install\n"
            "  --pubkey FILE           public key the manifest must be signed with\n"
            "  --skip-signature        install without checking any signature (development only)\n"
            "  --installed VERSION     refuse versions <= VERSION (default: the version installed\n"
            "                          in DIR, for the same model)\n"
            "  --base-dir DIR2         installed release a delta bundle applies to (default DIR)\n"
            "  --runtime-version V     check min_runtime against V (default %s)\n"
            "  --dry-run               check the bundle, install nothing (-C not needed)\n"
            "  -h, --help              this help\n"
            "\n"
            "Exit codes: 0 ok, 2 usage, 3 i/o, 4 corrupt, 5 unsupported, 6 limit, and a refused\n"
            "bundle: 10 path traversal, 11 link, 12 special file, 13 oversize member, 14 digest\n"
            "mismatch, 15 bad signature, 16 rollback, 17 truncated, 18 compressed or sparse\n"
            "(decompression bomb), 19 invalid manifest or members, 20 delta base mismatch.\n",
            TRIT_VERSION_STRING);
}

enum { OPT_PUBKEY = 256, OPT_SKIP, OPT_INSTALLED, OPT_BASEDIR, OPT_RUNTIME, OPT_DRY };

int cmd_unpack(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"directory", required_argument, NULL, 'C'},   {"pubkey", required_argument, NULL, OPT_PUBKEY},
        {"skip-signature", no_argument, NULL, OPT_SKIP}, {"installed", required_argument, NULL, OPT_INSTALLED},
        {"base-dir", required_argument, NULL, OPT_BASEDIR}, {"runtime-version", required_argument, NULL, OPT_RUNTIME},
        {"dry-run", no_argument, NULL, OPT_DRY},       {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    pack_unpack_opts o;
    memset(&o, 0, sizeof o);
    const char *dir = NULL, *pubkey = NULL;
    int dry = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "hC:", longopts, NULL)) != -1) {
        switch (c) {
        case 'C': dir = optarg; break;
        case OPT_PUBKEY: pubkey = optarg; break;
        case OPT_SKIP: o.read.skip_signature = 1; break;
        case OPT_INSTALLED:
            if (cli_parse_u64(optarg, 0, UINT64_MAX, &o.read.installed) != 0) {
                fprintf(stderr, "trit unpack: --installed '%s' is not an unsigned integer\n", optarg);
                return CLI_EXIT_USAGE;
            }
            o.read.have_installed = 1;
            break;
        case OPT_BASEDIR: o.base_dir = optarg; break;
        case OPT_RUNTIME: o.read.runtime_version = optarg; break;
        case OPT_DRY: dry = 1; break;
        case 'h': unpack_usage(stdout); return CLI_EXIT_OK;
        default: unpack_usage(stderr); return CLI_EXIT_USAGE;
        }
    }
    if (optind + 1 != argc || (!dir && !dry)) {
        fprintf(stderr, "trit unpack: need one BUNDLE and -C DIR\n");
        unpack_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (!pubkey && !o.read.skip_signature) {
        fprintf(stderr, "trit unpack: give --pubkey FILE (or --skip-signature to install unchecked)\n");
        return CLI_EXIT_USAGE;
    }
    trit_err err;
    trit_err_clear(&err);
    uint8_t pk[PACK_PUBKEY_BYTES];
    int rc = TRIT_OK;
    if (pubkey) {
        rc = pack_key_load_public(pubkey, pk, &err);
        o.read.pubkey = pk;
    }
    if (!o.base_dir) o.base_dir = dir;
    pack_manifest *m = NULL;
    if (rc == TRIT_OK && dry) rc = pack_bundle_read_file(argv[optind], &o.read, NULL, &m, &err);
    else if (rc == TRIT_OK) rc = pack_unpack(argv[optind], dir, &o, &m, &err);
    if (rc != TRIT_OK) {
        char buf[768];
        fprintf(stderr, "trit unpack: %s\n", trit_err_format(&err, buf, sizeof buf));
        return pack_exit_code(rc);
    }
    printf("%s %s version %llu (%u file%s, %s)%s%s\n", dry ? "checked" : "installed", m->model_id,
           (unsigned long long)m->version, m->n_files, m->n_files == 1 ? "" : "s",
           m->has_sig && pubkey ? "signature ok" : "signature not checked", dry ? "" : " into ", dry ? "" : dir);
    pack_manifest_free(m);
    return CLI_EXIT_OK;
}
