/* cmd_export.c - `trit export`: argument parsing and reporting; the work is in export/ (exg_*). */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "exg.h"
#include "src_ggml_types.h"

static void export_usage(FILE *f)
{
    fprintf(f,
            "usage: trit export IN.trit -o OUT.gguf [options]\n"
            "\n"
            "Write a GGUF v3 file that llama.cpp loads: metadata mapped to the architecture's\n"
            "GGUF keys, the tokenizer KVs the container carries, ternary tensors as TQ2_0 (or\n"
            "TQ1_0), per-expert tensors stacked into 3-D ffn_*_exps tensors, Q/K rows permuted\n"
            "for llama.cpp's RoPE where the architecture needs it. A ternary tensor whose rows\n"
            "are not multiples of 256, or whose scale groups split a 256-weight block, is written\n"
            "dequantized as F16 (spec/export.md). The output appears only when complete.\n"
            "\n"
            "options:\n"
            "  -o, --out PATH   output GGUF file (required)\n"
            "  --tq1            ternary tensors as TQ1_0 (1.69 bits/weight) instead of TQ2_0 (2.06)\n"
            "  --dequant        ternary tensors dequantized instead of TQ (for comparisons)\n"
            "  --f32            dequantized tensors as F32 instead of F16\n"
            "  --align N        general.alignment, a power of two >= 8 (default 32)\n"
            "  --force          replace an existing output\n"
            "  --dry-run        print the plan (every tensor, its GGUF type and size), write nothing\n"
            "  --json           print a JSON summary on stdout\n"
            "  -q, --quiet      no progress bar, no warnings\n"
            "  -h, --help       this help\n"
            "\n"
            "OUT is written as OUT.tmp-<pid>-XXXXXX and renamed into place. SIGINT, SIGTERM or SIGHUP\n"
            "removes the temp file (exit 130), and a later run on OUT removes those of killed runs.\n");
}

static void progress(void *ctx, uint64_t done, uint64_t total)
{
    (void)ctx;
    int const pct = total ? (int)(done * 100 / total) : 100;
    fprintf(stderr, "\rtrit export: %3d%% (%llu / %llu MiB)", pct, (unsigned long long)(done >> 20),
            (unsigned long long)(total >> 20));
    if (done == total) fputc('\n', stderr);
}

static const char *type_name(uint32_t id)
{
    const src_ggml_type *t = src_ggml_type_get(id);
    return t ? t->name : "?";
}

static const char *how_name(uint32_t how)
{
    static const char *const n[] = {"copy", "ternary", "dequant", "convert", "scale"};
    return how < sizeof n / sizeof n[0] ? n[how] : "?";
}

static void print_plan(const exg_plan *p)
{
    printf("#     %-40s %-6s %-8s %-28s %12s\n", "name", "type", "how", "ne", "bytes");
    for (uint32_t i = 0; i < exg_plan_n_tensors(p); i++) {
        const exg_tensor *t = exg_plan_tensor(p, i);
        char ne[96];
        int k = snprintf(ne, sizeof ne, "{");
        for (uint32_t d = 0; d < t->n_dims && k > 0 && (size_t)k < sizeof ne; d++)
            k += snprintf(ne + k, sizeof ne - (size_t)k, "%s%llu", d ? ", " : "", (unsigned long long)t->ne[d]);
        if (k > 0 && (size_t)k < sizeof ne) snprintf(ne + k, sizeof ne - (size_t)k, "}");
        printf("%-5u %-40s %-6s %-8s %-28s %12llu%s%s%s\n", i, t->name, type_name(t->ggml_type), how_name(t->how),
               ne, (unsigned long long)t->nbytes, t->permuted ? "  (rows permuted)" : "",
               t->note ? "  fallback: " : "", t->note ? t->note : "");
    }
}

static cJSON *json_summary(const char *in, const char *out, const exg_plan *p,
                           const exg_stats *st, int dry_run)
{
    const exg_summary *s = exg_plan_summary(p);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "input", in);
    cJSON_AddStringToObject(j, "output", out);
    cJSON_AddBoolToObject(j, "dry_run", dry_run);
    cJSON_AddStringToObject(j, "arch", s->arch);
    cJSON_AddStringToObject(j, "source_arch", s->src_arch);
    cJSON_AddNumberToObject(j, "n_kv", (double)s->n_kv);
    cJSON_AddNumberToObject(j, "n_tokenizer_kv", (double)s->n_tokenizer_kv);
    cJSON_AddNumberToObject(j, "n_tensors", s->n_tensors);
    cJSON_AddNumberToObject(j, "n_ternary", s->n_ternary);
    cJSON_AddNumberToObject(j, "n_fallback", s->n_fallback);
    cJSON_AddNumberToObject(j, "n_stacked", s->n_stacked);
    cJSON_AddNumberToObject(j, "n_permuted", s->n_permuted);
    cJSON_AddNumberToObject(j, "data_offset", (double)s->data_off);
    cJSON_AddNumberToObject(j, "file_size", (double)s->file_size);
    if (st) {
        cJSON_AddNumberToObject(j, "max_scale_rel_err", st->max_scale_rel_err);
        cJSON_AddNumberToObject(j, "units_read", (double)st->n_units_read);
    }
    cJSON *w = cJSON_AddArrayToObject(j, "warnings");
    for (uint32_t i = 0; i < exg_plan_n_warnings(p); i++)
        cJSON_AddItemToArray(w, cJSON_CreateString(exg_plan_warning(p, i)));
    cJSON *ts = cJSON_AddArrayToObject(j, "tensors");
    for (uint32_t i = 0; i < exg_plan_n_tensors(p); i++) {
        const exg_tensor *t = exg_plan_tensor(p, i);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", t->name);
        cJSON_AddStringToObject(o, "type", type_name(t->ggml_type));
        cJSON_AddStringToObject(o, "how", how_name(t->how));
        cJSON *ne = cJSON_AddArrayToObject(o, "ne");
        for (uint32_t d = 0; d < t->n_dims; d++) cJSON_AddItemToArray(ne, cJSON_CreateNumber((double)t->ne[d]));
        cJSON_AddNumberToObject(o, "bytes", (double)t->nbytes);
        cJSON_AddNumberToObject(o, "offset", (double)(s->data_off + t->offset));
        cJSON_AddNumberToObject(o, "experts", strstr(t->name, "_exps.") ? t->n_src : 0);
        cJSON_AddBoolToObject(o, "permuted", t->permuted);
        if (t->note) cJSON_AddStringToObject(o, "note", t->note);
        else cJSON_AddNullToObject(o, "note");
        cJSON_AddItemToArray(ts, o);
    }
    return j;
}

typedef struct export_args {
    const char *in, *out;
    exg_opts o;
    int dry_run, json, quiet;
} export_args;

static int parse_args(int argc, char **argv, export_args *a)
{
    static const struct option longopts[] = {
        {"out", required_argument, NULL, 'o'}, {"tq1", no_argument, NULL, '1'},
        {"dequant", no_argument, NULL, 'd'},   {"f32", no_argument, NULL, 'f'},
        {"align", required_argument, NULL, 'a'}, {"force", no_argument, NULL, 'F'},
        {"dry-run", no_argument, NULL, 'n'},   {"json", no_argument, NULL, 'j'},
        {"quiet", no_argument, NULL, 'q'},     {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(a, 0, sizeof *a);
    int c;
    uint64_t v;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': a->out = optarg; break;
        case '1': a->o.flags |= EXG_TQ1; break;
        case 'd': a->o.flags |= EXG_DEQUANT; break;
        case 'f': a->o.flags |= EXG_DEQUANT_F32; break;
        case 'F': a->o.flags |= EXG_OVERWRITE; break;
        case 'n': a->dry_run = 1; break;
        case 'j': a->json = 1; break;
        case 'q': a->quiet = 1; break;
        case 'a':
            if (cli_parse_size(optarg, &v) || v < 8 || v > (1u << 20) || (v & (v - 1))) {
                fprintf(stderr, "trit export: --align '%s': expected a power of two from 8 to 1M\n", optarg);
                return CLI_EXIT_USAGE;
            }
            a->o.alignment = (uint32_t)v;
            break;
        case 'h': export_usage(stdout); return CLI_EXIT_OK;
        default: export_usage(stderr); return CLI_EXIT_USAGE;
        }
    }
    if (optind + 1 != argc || !a->out) {
        fprintf(stderr, "trit export: expected one input .trit and -o OUT.gguf\n");
        export_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if ((a->o.flags & EXG_TQ1) && (a->o.flags & EXG_DEQUANT)) {
        fprintf(stderr, "trit export: --tq1 and --dequant exclude each other\n");
        return CLI_EXIT_USAGE;
    }
    a->in = argv[optind];
    return CLI_PARSED;
}

/* The write under the interrupt guard: Ctrl-C or a kill removes the temp file, prints
 * "trit export: interrupted; no output written" and exits 130. */
static int write_gguf(export_args *a, const exg_plan *p, exg_stats *st, trit_err *err)
{
    a->o.temp_path = cli_guard_temp_cb;
    if (!a->quiet && !a->json && isatty(STDERR_FILENO)) a->o.progress = progress;
    cli_guard_begin("export");
    int const rc = exg_write(p, a->out, &a->o, st, err);
    cli_guard_end();
    return rc;
}

static int print_summary(const export_args *a, const exg_plan *p, const exg_stats *st)
{
    const exg_summary *s = exg_plan_summary(p);
    if (a->json) {
        cJSON *j = json_summary(a->in, a->out, p, a->dry_run ? NULL : st, a->dry_run);
        char *txt = j ? cJSON_Print(j) : NULL;
        int const code = txt ? CLI_EXIT_OK : CLI_EXIT_INTERNAL;
        if (txt) printf("%s\n", txt);
        cJSON_free(txt);
        cJSON_Delete(j);
        return code;
    }
    if (!a->dry_run)
        printf("wrote %s: GGUF v3 '%s', %u tensors (%u ternary, %u dequantized, %u expert stacks, %u permuted), "
               "%llu KVs (%llu tokenizer), %llu bytes\n",
               a->out, s->arch, s->n_tensors, s->n_ternary, s->n_fallback, s->n_stacked, s->n_permuted,
               (unsigned long long)s->n_kv, (unsigned long long)s->n_tokenizer_kv, (unsigned long long)s->file_size);
    else
        printf("would write %s: GGUF v3 '%s', %u tensors, %llu KVs, %llu bytes\n", a->out, s->arch, s->n_tensors,
               (unsigned long long)s->n_kv, (unsigned long long)s->file_size);
    return CLI_EXIT_OK;
}

/* The warnings (and with --dry-run the plan), then the write and the summary. */
static int export_planned(export_args *a, const exg_plan *p)
{
    if (!a->quiet)
        for (uint32_t i = 0; i < exg_plan_n_warnings(p); i++)
            fprintf(stderr, "trit export: warning: %s\n", exg_plan_warning(p, i));
    if (a->dry_run && !a->json) print_plan(p);
    trit_err err;
    trit_err_clear(&err);
    exg_stats st;
    memset(&st, 0, sizeof st);
    if (!a->dry_run && write_gguf(a, p, &st, &err) != TRIT_OK) return cli_report("export", &err);
    return print_summary(a, p, &st);
}

int cmd_export(int argc, char **argv)
{
    export_args a;
    int code = parse_args(argc, argv, &a);
    if (code != CLI_PARSED) return code;
    trit_err err;
    trit_err_clear(&err);
    trit_reader *r = NULL;
    exg_plan *p = NULL;
    int rc = trit_reader_open(a.in, NULL, &r, &err);
    if (rc == TRIT_OK) rc = exg_plan_new(r, &a.o, &p, &err);
    code = rc == TRIT_OK ? export_planned(&a, p) : cli_report("export", &err);
    exg_plan_free(p);
    trit_reader_close(r);
    if (fflush(stdout) != 0 && code == CLI_EXIT_OK) {
        fprintf(stderr, "trit export: cannot write output\n");
        return CLI_EXIT_IO;
    }
    return code;
}
