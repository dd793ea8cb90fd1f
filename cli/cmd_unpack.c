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
            "manifest, of the size and chunk SHA-256 digests it lists; every container is fully\n"
            "verified; DIR is then replaced in one rename. DIR must be absent, empty, or a previous\n"
            "install. Reads manifest versions 2 and 1 (spec/manifest.md).\n"
            "\n"
            "options:\n"
            "  -C, --directory DIR     where to install\n"
            "  --pubkey FILE           public key the manifest must be signed with\n"
            "  --skip-signature        install without checking any signature (development only)\n"
            "  --installed VERSION     refuse versions <= VERSION (default: the last version of\n"
            "                          the bundle's model installed in DIR, from DIR/.trit-state)\n"
            "  --base-dir DIR2         installed release a delta bundle applies to (default DIR)\n"
            "  --replace-model         allow replacing an install of another model id (its\n"
            "                          rollback state is kept)\n"
            "  --lock-wait SECONDS     wait this long for another unpack into DIR's parent\n"
            "                          (default 60; 0: fail at once)\n"
            "  --runtime-version V     check min_runtime against V (default %s)\n"
            "  --dry-run               check the bundle, install nothing (-C not needed)\n"
            "  --threads N             hash chunks on N threads (default: the cores online)\n"
            "  -h, --help              this help\n"
            "\n"
            "Unpacks into one parent directory run one at a time (a lock on the parent); staging\n"
            "directories (.DIR.unpack-<pid>-XXXXXX) of killed runs are removed by the next run,\n"
            "SIGINT or SIGTERM removes the run's own (exit 130).\n"
            "\n"
            "Exit codes: 0 ok, 2 usage, 3 i/o, 4 corrupt, 5 unsupported, 6 limit, 70 internal\n"
            "(out of memory), 130 interrupted, and a refused bundle: 10 path traversal, 11 link,\n"
            "12 special file, 13 oversize member, 14 digest mismatch, 15 bad signature,\n"
            "16 rollback, 17 truncated, 18 compressed or sparse (decompression bomb), 19 invalid\n"
            "manifest or members, 20 delta base mismatch, 21 DIR holds another model (see\n"
            "--replace-model), 23 another unpack held the lock past --lock-wait. 22: installed,\n"
            "but the final fsync failed (DIR holds the new version; durability not confirmed).\n",
            TRIT_VERSION_STRING);
}

enum { OPT_PUBKEY = 256, OPT_SKIP, OPT_INSTALLED, OPT_BASEDIR, OPT_RUNTIME, OPT_DRY, OPT_REPLACE, OPT_LOCKWAIT, OPT_THREADS };

int cmd_unpack(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"directory", required_argument, NULL, 'C'},   {"pubkey", required_argument, NULL, OPT_PUBKEY},
        {"skip-signature", no_argument, NULL, OPT_SKIP}, {"installed", required_argument, NULL, OPT_INSTALLED},
        {"base-dir", required_argument, NULL, OPT_BASEDIR}, {"runtime-version", required_argument, NULL, OPT_RUNTIME},
        {"dry-run", no_argument, NULL, OPT_DRY},       {"help", no_argument, NULL, 'h'},
        {"replace-model", no_argument, NULL, OPT_REPLACE}, {"lock-wait", required_argument, NULL, OPT_LOCKWAIT},
        {"threads", required_argument, NULL, OPT_THREADS}, {NULL, 0, NULL, 0},
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
        case OPT_REPLACE: o.replace_model = 1; break;
        case OPT_THREADS: {
            uint64_t v;
            if (cli_parse_u64(optarg, 1, PACK_MAX_THREADS, &v) != 0) {
                fprintf(stderr, "trit unpack: --threads must be 1..%u\n", PACK_MAX_THREADS);
                return CLI_EXIT_USAGE;
            }
            o.read.threads = (uint32_t)v;
            break;
        }
        case OPT_LOCKWAIT: {
            uint64_t s;
            if (cli_parse_u64(optarg, 0, 86400, &s) != 0) {
                fprintf(stderr, "trit unpack: --lock-wait '%s' is not a number of seconds in [0, 86400]\n", optarg);
                return CLI_EXIT_USAGE;
            }
            o.lock_wait_ms = s ? (int)(s * 1000) : -1;
            break;
        }
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
    else if (rc == TRIT_OK) {
        o.stage_path = cli_guard_dir_cb;
        cli_guard_begin("unpack");
        rc = pack_unpack(argv[optind], dir, &o, &m, &err);
        cli_guard_end();
    }
    if (rc == PACK_E_UNSYNCED) {
        char buf[768];
        fprintf(stderr, "trit unpack: warning: installed, durability not confirmed: %s\n", trit_err_format(&err, buf, sizeof buf));
        printf("installed %s version %llu into %s (not confirmed durable: fsync failed)\n", m->model_id,
               (unsigned long long)m->version, dir);
        pack_manifest_free(m);
        return pack_exit_code(rc);
    }
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
