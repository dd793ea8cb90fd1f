/* cmd_convert.c - `trit convert`: argument parsing, progress on a TTY, the summary; the work is
 * in convert/ (cvt_convert), with --calib in calibrate/ (cal_convert_calibrated). Ctrl-C or a
 * kill removes the temp files (cli_guard_*), so no partial output is ever left behind. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>

#include "cli.h"
#include "cvt.h"
#include "cal.h"

typedef struct progress { int tty; double t0, last; } progress;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_progress(void *ctx, uint64_t done, uint64_t total, const char *name)
{
    progress *p = ctx;
    if (!p->tty) return;
    double const t = now();
    if (t - p->last < 0.1 && done < total) return;
    p->last = t;
    int const width = 30;
    int const fill = total ? (int)((double)done / (double)total * width) : width;
    fprintf(stderr, "\r[%.*s%*s] %5.1f%% %6.1fs %-40.40s", fill, "##############################", width - fill, "",
            total ? 100.0 * (double)done / (double)total : 100.0, t - p->t0, name);
    if (done >= total) fputc('\n', stderr);
}

static void convert_usage(FILE *f)
{
    fprintf(f,
            "usage: trit convert [options] SRC -o OUT.trit\n"
            "\n"
            "Convert a released checkpoint into a .trit container. SRC: a .safetensors file, a directory,\n"
            "a model.safetensors.index.json, or a .gguf (the first part of a split). Ternary projections\n"
            "are stored losslessly as t2 (per tensor, row or group scales, detected from the values);\n"
            "each MoE expert becomes one zstd-compressed unit; everything else stays float.\n"
            "\n"
            "options:\n"
            "  -o, --output FILE     the container to write (required)\n"
            "  --zstd-level N        zstd level for expert units (default %d; 1..19)\n"
            "  --expert-units F      how expert units are stored: zstd (t2 codes compressed, 1.60\n"
            "                        bits/weight), raw (t2, 2 bits, used as read) or b3 (base 3,\n"
            "                        1.60 bits, used as read); default zstd (spec 5.3, README)\n"
            "  --raw-experts         the same as --expert-units raw\n"
            "  --threads N           encode and compress on N threads (default: the cores online);\n"
            "                        the output is the same bytes at any N\n"
            "  --decode-float        decode TQ1_0/TQ2_0/I2_S/packed U8 codes through float like every\n"
            "                        other type (a check of the code-domain path: same bytes, slower)\n"
            "  --ternarize           absmean-ternarize projections that are not exactly ternary (lossy)\n"
            "  --output-head H       float (default: as stored) or q8: output.weight as int8 with a\n"
            "                        scale per row (spec 6.2; a copy of token_embd when tied), half\n"
            "                        the bytes of F16 per decoded token; lossy, error reported\n"
            "  --calib FILE          then calibrate static activation scales on this text (as\n"
            "                        'trit calibrate --data FILE'): OUT carries them\n"
            "  --calib-tokens FILE   ... on these token ids (as 'trit calibrate --tokens-file')\n"
            "  --dry-run             print the plan and sizes; read no tensor data, write nothing\n"
            "  -f, --force           replace OUT if it exists\n"
            "  --json                print a JSON summary on stdout\n"
            "  -q, --quiet           no progress bar\n"
            "  -h, --help            this help\n"
            "\n"
            "OUT is written as OUT.tmp-<pid>-XXXXXX and renamed into place. SIGINT, SIGTERM or SIGHUP\n"
            "removes the temp file (exit 130), and a later run on OUT removes those of killed runs.\n",
            CVT_DEFAULT_ZSTD_LEVEL);
}

static cJSON *report_json(const cvt_report *r, const char *src, const char *out, int dry)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "source", src);
    cJSON_AddStringToObject(j, "output", out);
    cJSON_AddBoolToObject(j, "dry_run", dry);
    cJSON_AddStringToObject(j, "architecture", r->arch);
    cJSON_AddStringToObject(j, "source_format", r->source_format);
    cJSON_AddNumberToObject(j, "tensors", (double)r->n_tensors);
    cJSON_AddNumberToObject(j, "expert_units", (double)r->n_units);
    cJSON_AddNumberToObject(j, "parameters", (double)r->n_params);
    cJSON_AddNumberToObject(j, "source_bytes", (double)r->source_bytes);
    cJSON_AddNumberToObject(j, "output_bytes", (double)r->out_bytes);
    cJSON_AddNumberToObject(j, "dense_bytes", (double)r->dense_bytes);
    cJSON_AddNumberToObject(j, "expert_stored_bytes", (double)r->expert_stored_bytes);
    cJSON_AddNumberToObject(j, "expert_decoded_bytes", (double)r->expert_decoded_bytes);
    cJSON_AddNumberToObject(j, "expert_bits_per_weight", r->expert_bits_per_weight);
    cJSON_AddNumberToObject(j, "expert_code_entropy_bits", r->expert_code_entropy);
    cJSON_AddBoolToObject(j, "lossless", r->lossless);
    cJSON_AddNumberToObject(j, "code_domain_tensors", (double)r->n_code_domain);
    cJSON_AddStringToObject(j, "tokenizer", r->tokenizer);
    cJSON_AddNumberToObject(j, "tokenizer_tokens", r->tokenizer_tokens);
    if (r->warning[0]) cJSON_AddStringToObject(j, "warning", r->warning);
    cJSON_AddNumberToObject(j, "max_abs_error", r->max_abs_err);
    cJSON *ts = cJSON_AddArrayToObject(j, "tensor_report");
    for (uint64_t i = 0; r->tensors && i < r->n_tensors; i++) {
        cvt_tensor_report const *t = &r->tensors[i];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", t->name);
        cJSON_AddStringToObject(e, "source_type", t->src_type);
        cJSON_AddStringToObject(e, "type", t->out_type);
        if (t->granularity[0]) cJSON_AddStringToObject(e, "granularity", t->granularity);
        if (t->group_size) cJSON_AddNumberToObject(e, "group_size", t->group_size);
        cJSON_AddBoolToObject(e, "ternarized", t->ternarized);
        cJSON_AddNumberToObject(e, "max_abs_error", t->max_abs_err);
        cJSON_AddNumberToObject(e, "rms_error", t->rms_err);
        cJSON_AddNumberToObject(e, "bytes", (double)t->out_bytes);
        cJSON_AddItemToArray(ts, e);
    }
    return j;
}

static void report_text(const cvt_report *r, const char *out, int dry)
{
    printf("%s %s (%s, %s): %llu tensors, %llu parameters\n", dry ? "plan for" : "wrote", out, r->arch,
           r->source_format, (unsigned long long)r->n_tensors, (unsigned long long)r->n_params);
    if (dry) {
        for (uint64_t i = 0; r->tensors && i < r->n_tensors; i++)
            printf("  %-44s %-12s -> %-5s %12llu bytes\n", r->tensors[i].name, r->tensors[i].src_type,
                   r->tensors[i].out_type, (unsigned long long)r->tensors[i].out_bytes);
        printf("dense bytes %llu (t2 sizes assume per-tensor scales; the scan may pick rows or groups)\n",
               (unsigned long long)r->dense_bytes);
        return;
    }
    printf("  source %llu bytes -> container %llu bytes (%.2fx)\n", (unsigned long long)r->source_bytes,
           (unsigned long long)r->out_bytes, r->out_bytes ? (double)r->source_bytes / (double)r->out_bytes : 0);
    if (r->n_units)
        printf("  %llu expert units: %llu bytes stored, %llu decoded; %.3f bits/weight vs %.3f bits entropy of the codes\n",
               (unsigned long long)r->n_units, (unsigned long long)r->expert_stored_bytes,
               (unsigned long long)r->expert_decoded_bytes, r->expert_bits_per_weight, r->expert_code_entropy);
    uint64_t tern = 0, lossy = 0;
    for (uint64_t i = 0; r->tensors && i < r->n_tensors; i++) {
        tern += !strcmp(r->tensors[i].out_type, "t2");
        lossy += r->tensors[i].ternarized;
    }
    printf("  tokenizer: %s (%u tokens)\n", r->tokenizer, r->tokenizer_tokens);
    if (r->warning[0]) fprintf(stderr, "trit convert: warning: %s\n", r->warning);
    printf("  %llu ternary tensors (%llu ternarized), quantization error: %s (max abs %.3g)\n",
           (unsigned long long)tern, (unsigned long long)lossy, r->lossless ? "none, lossless" : "lossy",
           r->max_abs_err);
    if (r->n_code_domain)
        printf("  %llu of them encoded from the source's codes (never through float)\n", (unsigned long long)r->n_code_domain);
    for (uint64_t i = 0; r->tensors && i < r->n_tensors; i++)
        if (!strcmp(r->tensors[i].out_type, "i8") && !strcmp(r->tensors[i].name, "output.weight"))
            printf("  output head q8: weight error max abs %.3g, rms %.3g (--output-head q8)\n", r->tensors[i].max_abs_err,
                   r->tensors[i].rms_err);
}

/* --calib: granularities chosen (the per-layer table is `trit calibrate --dry-run`'s). */
static void calib_count(const cal_report *c, uint32_t n[4])
{
    memset(n, 0, 4 * sizeof *n);
    for (uint32_t i = 0; i < c->n_sites; i++) n[c->sites[i].granularity & 3]++;
}

static void calib_text(const cal_report *c)
{
    uint32_t n[4];
    calib_count(c, n);
    printf("  activation scales: %u sites calibrated on %llu tokens: %u per tensor, %u per group, %u per channel (%u entries)\n",
           c->n_sites, (unsigned long long)c->n_tokens, n[TRIT_ACT_TENSOR], n[TRIT_ACT_GROUP], n[TRIT_ACT_CHANNEL], c->n_entries);
}

static void calib_json(cJSON *j, const cal_report *c)
{
    uint32_t n[4];
    calib_count(c, n);
    cJSON *o = cJSON_AddObjectToObject(j, "calibration");
    cJSON_AddNumberToObject(o, "tokens", (double)c->n_tokens);
    cJSON_AddNumberToObject(o, "sites", c->n_sites);
    cJSON_AddNumberToObject(o, "entries", c->n_entries);
    cJSON_AddNumberToObject(o, "per_tensor", n[TRIT_ACT_TENSOR]);
    cJSON_AddNumberToObject(o, "per_group", n[TRIT_ACT_GROUP]);
    cJSON_AddNumberToObject(o, "per_channel", n[TRIT_ACT_CHANNEL]);
}

typedef struct convert_args {
    const char *src, *out;
    const char *calib, *calib_tokens;   /* --calib / --calib-tokens */
    cvt_opts o;
    int json, quiet;
} convert_args;

static int parse_args(int argc, char **argv, convert_args *a)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'}, {"zstd-level", required_argument, NULL, 'z'},
        {"raw-experts", no_argument, NULL, 'r'},  {"ternarize", no_argument, NULL, 't'},
        {"dry-run", no_argument, NULL, 'n'},      {"force", no_argument, NULL, 'f'},
        {"json", no_argument, NULL, 'j'},         {"quiet", no_argument, NULL, 'q'},
        {"calib", required_argument, NULL, 'C'},  {"calib-tokens", required_argument, NULL, 'T'},
        {"threads", required_argument, NULL, 'J'}, {"decode-float", no_argument, NULL, 'D'},
        {"output-head", required_argument, NULL, 'H'}, {"expert-units", required_argument, NULL, 'U'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    memset(a, 0, sizeof *a);
    int c;
    uint64_t v;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:fqh", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': a->out = optarg; break;
        case 'z':
            if (cli_parse_u64(optarg, 1, 19, &v)) {
                fprintf(stderr, "trit convert: --zstd-level must be 1..19\n");
                return CLI_EXIT_USAGE;
            }
            a->o.zstd_level = (int)v;
            break;
        case 'J':
            if (cli_parse_u64(optarg, 1, 1024, &v)) {
                fprintf(stderr, "trit convert: --threads must be 1..1024\n");
                return CLI_EXIT_USAGE;
            }
            a->o.threads = (uint32_t)v;
            break;
        case 'D': a->o.decode_float = 1; break;
        case 'r': a->o.expert_units = CVT_UNITS_RAW; break;
        case 'U':
            if ((a->o.expert_units = cvt_units_from_name(optarg)) < 0) {
                fprintf(stderr, "trit convert: --expert-units must be zstd, raw or b3\n");
                return CLI_EXIT_USAGE;
            }
            break;
        case 't': a->o.ternarize = 1; break;
        case 'H':
            if (strcmp(optarg, "q8") && strcmp(optarg, "float")) {
                fprintf(stderr, "trit convert: --output-head must be float or q8\n");
                return CLI_EXIT_USAGE;
            }
            a->o.output_head_q8 = !strcmp(optarg, "q8");
            break;
        case 'n': a->o.dry_run = 1; break;
        case 'f': a->o.overwrite = 1; break;
        case 'j': a->json = 1; break;
        case 'q': a->quiet = 1; break;
        case 'C': a->calib = optarg; break;
        case 'T': a->calib_tokens = optarg; break;
        case 'h': convert_usage(stdout); return CLI_EXIT_OK;
        default: convert_usage(stderr); return CLI_EXIT_USAGE;
        }
    }
    if (optind + 1 != argc || (!a->out && !a->o.dry_run)) {
        fprintf(stderr, "trit convert: expected one SRC and -o OUT\n");
        convert_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if ((a->calib && a->calib_tokens) || ((a->calib || a->calib_tokens) && a->o.dry_run)) {
        fprintf(stderr, "trit convert: give at most one of --calib and --calib-tokens, and not with --dry-run\n");
        return CLI_EXIT_USAGE;
    }
    a->src = argv[optind];
    return CLI_PARSED;
}

/* The conversion (with --calib the convert -> calibrate pipeline of calibrate/), under the
 * interrupt guard: a kill removes the temp files and leaves no partial output. */
static int convert(convert_args *a, cvt_report *rep, cal_report *crep, trit_err *err)
{
    progress p = {!a->quiet && isatty(2), now(), 0};
    a->o.progress = on_progress;
    a->o.progress_ctx = &p;
    a->o.temp_path = cli_guard_temp_cb;
    memset(crep, 0, sizeof *crep);
    cli_guard_begin("convert");
    int rc;
    if (a->calib || a->calib_tokens) {
        cal_convert_opts const co = {a->calib, a->calib_tokens, cli_guard_intermediate_cb, NULL};
        rc = cal_convert_calibrated(a->src, a->out, &a->o, &co, rep, crep, err);
    } else {
        rc = cvt_convert(a->src, a->out ? a->out : "", &a->o, rep, err);
    }
    cli_guard_end();
    return rc;
}

static void print_summary(const convert_args *a, const cvt_report *rep, const cal_report *crep)
{
    if (a->json) {
        cJSON *j = report_json(rep, a->src, a->out ? a->out : "", a->o.dry_run);
        if (crep->n_sites) calib_json(j, crep);
        char *s = cJSON_Print(j);
        if (s) puts(s);
        free(s);
        cJSON_Delete(j);
    } else {
        report_text(rep, a->out ? a->out : a->src, a->o.dry_run);
        if (crep->n_sites) calib_text(crep);
    }
}

int cmd_convert(int argc, char **argv)
{
    convert_args a;
    int const code = parse_args(argc, argv, &a);
    if (code != CLI_PARSED) return code;
    trit_err err;
    cvt_report rep;
    cal_report crep;
    if (convert(&a, &rep, &crep, &err) != TRIT_OK) return cli_report("convert", &err);
    print_summary(&a, &rep, &crep);
    cvt_report_free(&rep);
    cal_report_free(&crep);
    return CLI_EXIT_OK;
}
