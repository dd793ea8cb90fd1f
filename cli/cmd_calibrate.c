/* cmd_calibrate.c - `trit calibrate`: argument parsing and the report; the work is in
 * calibrate/ (cal_calibrate_files, cal_eval_files, cal_evaluate_floor). Ctrl-C or a kill removes the writer's temp
 * file (cli_guard_*). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "cli.h"
#include "cvt.h"
#include "cal.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: trit calibrate MODEL.trit (--data TEXT | --tokens-file IDS) -o OUT.trit [options]\n"
            "\n"
            "Choose static int8 activation scales for every t2 projection from calibration data and write\n"
            "a copy of MODEL with them (activation-scale section, spec section 9). Per layer, the coarsest\n"
            "granularity (tensor, group of 128, group of 32, channel) whose output error on held-out\n"
            "calibration tokens is within the tolerance of the best is kept. Then the site target: a\n"
            "site whose error exceeds --site-target times that of dynamic int8 per token takes the\n"
            "coarsest finer int8 granularity within it, else 16-bit activations (spec 9; for NPUs and\n"
            "DSPs with int16 activation modes; --max-bits 8 forbids it). Run the result with\n"
            "'trit run --act-scales static'.\n"
            "\n"
            "options:\n"
            "  --data FILE          calibration text, tokenized with the model's tokenizer\n"
            "  --tokens-file FILE   calibration token ids (decimal, separated by spaces/commas/newlines)\n"
            "  -o, --output FILE    the container to write (required unless --dry-run)\n"
            "  --eval FILE          then judge the written scales on this held-out text (keep it\n"
            "                       disjoint from --data): perplexity, KL(float || mode) and top-1\n"
            "                       agreement with float of float, dynamic, block and static, as\n"
            "                       'trit eval' prints them\n"
            "  --eval-tokens FILE   ... on these token ids\n"
            "  --eval-floor         with --eval: also compare dynamic scales with themselves under\n"
            "                       the reference kernels (float sums in another order): the\n"
            "                       agreement this model allows any change of rounding\n"
            "  --granularity G      auto (default: the rule above), or tensor, group128, group32,\n"
            "                       channel for every site (tensor: the best clipping level), e.g.\n"
            "                       per tensor as the negative control of 'trit eval --check'\n"
            "  --max-bits 8|16      widest activation a site may take (default 16)\n"
            "  --site-target R      a site's error at most R x dynamic int8's (default %.2f)\n"
            "  --max-tokens N       use the first N calibration tokens only\n"
            "  --seq N              tokens per calibration sequence (default 128)\n"
            "  --holdout K          every K-th sequence is held out to measure errors (default 4)\n"
            "  --rows N             output rows sampled per projection for the error (default 64)\n"
            "  --min-rows N         experts that saw fewer rows use pooled statistics (default 32)\n"
            "  --tolerance X        keep the coarsest granularity with error <= (1+X) * best (default 1)\n"
            "  --threads N          runner threads (default 1; results do not depend on it)\n"
            "  --zstd-level N       re-encoding level of zstd expert units (default %d)\n"
            "  --dry-run            measure and report; write nothing\n"
            "  -f, --force          replace OUT if it exists\n"
            "  --json               print the report as JSON on stdout\n"
            "  -h, --help           this help\n"
            "\n"
            "OUT is written as OUT.tmp-<pid>-XXXXXX and renamed into place. SIGINT, SIGTERM or SIGHUP\n"
            "removes the temp file (exit 130), and a later run on OUT removes those of killed runs.\n",
            CAL_DEF_SITE_TARGET, CVT_DEFAULT_ZSTD_LEVEL);
}

static void print_text(const cal_report *r, const char *model, const char *out, int dry)
{
    printf("%s %s from %s: %llu calibration tokens (%llu fit, %llu held out, sequences of %u), tolerance %.2f\n",
           dry ? "would write" : "wrote", dry ? "nothing" : out, model, (unsigned long long)r->n_tokens,
           (unsigned long long)r->fit_tokens, (unsigned long long)r->eval_tokens, r->seq_len, r->tolerance);
    printf("  %u activation sites, %u entries (%llu bytes)\n", r->n_sites, r->n_entries, (unsigned long long)r->section_bytes);
    if (r->site_target > 0)
        printf("  site target %.2fx dynamic's error: %u site(s) at 16 bits\n", r->site_target, r->n_wide);
    else
        printf("  every site at 8 bits (16 bits not allowed)\n");
    printf("  %-6s %-10s %-13s %-10s %-10s %9s %9s %9s %8s %s\n", "layer", "site", "granularity", "scale", "absmax", "err",
           "err_dyn", "vs_dyn", "clip", "tensors");
    for (uint32_t i = 0; i < r->n_sites; i++) {
        cal_site const *s = &r->sites[i];
        char layer[16], gran[24];
        if (s->layer == UINT32_MAX) snprintf(layer, sizeof layer, "out");
        else snprintf(layer, sizeof layer, "%u", s->layer);
        snprintf(gran, sizeof gran, "%s", cal_cand_name(s->choice));
        printf("  %-6s %-10s %-13s %-10.4g %-10.4g %8.3f%% %8.3f%% %8.3f%% %7.4f%% %s%s\n", layer, s->site, gran, s->scale,
               s->absmax, 100 * s->err[s->choice], 100 * s->err_dynamic, 100 * s->err_vs_dynamic, 100 * s->clip_rate, s->tensors,
               s->n_pooled ? " (some experts pooled)" : "");
    }
}

static cJSON *report_json(const cal_report *r, const char *model, const char *out, int dry)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "model", model);
    if (!dry) cJSON_AddStringToObject(j, "output", out);
    cJSON_AddBoolToObject(j, "dry_run", dry);
    cJSON_AddNumberToObject(j, "tokens", (double)r->n_tokens);
    cJSON_AddNumberToObject(j, "fit_tokens", (double)r->fit_tokens);
    cJSON_AddNumberToObject(j, "held_out_tokens", (double)r->eval_tokens);
    cJSON_AddNumberToObject(j, "seq_len", r->seq_len);
    cJSON_AddNumberToObject(j, "tolerance", r->tolerance);
    cJSON_AddNumberToObject(j, "site_target", r->site_target);
    cJSON_AddNumberToObject(j, "int16_sites", r->n_wide);
    cJSON_AddNumberToObject(j, "entries", r->n_entries);
    cJSON_AddNumberToObject(j, "section_bytes", (double)r->section_bytes);
    cJSON *sites = cJSON_AddArrayToObject(j, "sites");
    for (uint32_t i = 0; i < r->n_sites; i++) {
        cal_site const *s = &r->sites[i];
        cJSON *o = cJSON_CreateObject();
        if (s->layer == UINT32_MAX) cJSON_AddStringToObject(o, "layer", "output");
        else cJSON_AddNumberToObject(o, "layer", s->layer);
        cJSON_AddStringToObject(o, "site", s->site);
        cJSON_AddStringToObject(o, "tensors", s->tensors);
        cJSON_AddStringToObject(o, "granularity", trit_act_granularity_name(s->granularity));
        if (s->group_size) cJSON_AddNumberToObject(o, "group_size", s->group_size);
        cJSON_AddStringToObject(o, "choice", cal_cand_name(s->choice));
        cJSON_AddNumberToObject(o, "bits", s->bits);
        if (s->choice8 != s->choice) cJSON_AddStringToObject(o, "choice_tolerance_rule", cal_cand_name(s->choice8));
        cJSON_AddNumberToObject(o, "scale", s->scale);
        cJSON_AddNumberToObject(o, "scale_min", s->scale_min);
        cJSON_AddNumberToObject(o, "error", s->err[s->choice]);
        cJSON_AddNumberToObject(o, "error_dynamic", s->err_dynamic);
        cJSON_AddNumberToObject(o, "error_vs_dynamic", s->err_vs_dynamic);
        cJSON_AddNumberToObject(o, "clip_rate", s->clip_rate);
        cJSON *errs = cJSON_AddObjectToObject(o, "candidate_errors");
        for (int c = 0; c < CAL_N_CAND; c++) cJSON_AddNumberToObject(errs, cal_cand_name(c), s->err[c]);
        cJSON_AddNumberToObject(o, "channels", s->cols);
        cJSON_AddNumberToObject(o, "absmax", s->absmax);
        cJSON_AddNumberToObject(o, "p99", s->p99);
        cJSON_AddNumberToObject(o, "p99_9", s->p999);
        cJSON_AddNumberToObject(o, "p99_99", s->p9999);
        cJSON_AddNumberToObject(o, "fit_rows", (double)s->fit_rows);
        cJSON_AddNumberToObject(o, "held_out_rows", (double)s->eval_rows);
        if (s->n_members > 1) {
            cJSON_AddNumberToObject(o, "experts", s->n_members);
            cJSON_AddNumberToObject(o, "experts_pooled", s->n_pooled);
        }
        cJSON_AddItemToArray(sites, o);
    }
    return j;
}

typedef struct calibrate_args {
    const char *model, *out;
    const char *data, *toks;             /* --data / --tokens-file */
    const char *eval, *eval_toks;        /* --eval / --eval-tokens */
    uint64_t max_tok;
    cal_opts o;
    int json, floor_;
} calibrate_args;

enum { O_DATA = 256, O_TOKS, O_EVAL, O_EVALTOK, O_FLOOR, O_MAXTOK, O_SEQ, O_HOLD, O_ROWS, O_MINROWS, O_TOL, O_THREADS, O_ZSTD, O_DRY, O_JSON,
       O_GRAN, O_BITS, O_WIDE };

/* A number in [lo, hi] into *out; -1 when s is not one. */
static int parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    double const t = strtod(s, &end);
    if (end == s || *end || !(t >= lo && t <= hi)) return -1;
    *out = t;
    return 0;
}

/* One option's value into a; the option's name when the value is invalid, else NULL. */
static const char *parse_value(int c, const char *arg, calibrate_args *a)
{
    uint64_t v;
    switch (c) {
    case O_MAXTOK: return cli_parse_u64(arg, 1, UINT64_MAX, &a->max_tok) ? "--max-tokens" : NULL;
    case O_SEQ: if (cli_parse_u64(arg, 1, 1u << 20, &v)) return "--seq"; a->o.seq_len = (uint32_t)v; return NULL;
    case O_HOLD: if (cli_parse_u64(arg, 2, 1000, &v)) return "--holdout"; a->o.holdout_every = (uint32_t)v; return NULL;
    case O_ROWS: if (cli_parse_u64(arg, 1, 1u << 20, &v)) return "--rows"; a->o.eval_rows = (uint32_t)v; return NULL;
    case O_MINROWS: if (cli_parse_u64(arg, 1, 1u << 30, &v)) return "--min-rows"; a->o.min_rows = (uint32_t)v; return NULL;
    case O_TOL: return parse_double(arg, 0, 100, &a->o.tolerance) ? "--tolerance" : NULL;
    case O_THREADS: if (cli_parse_u64(arg, 1, 256, &v)) return "--threads"; a->o.threads = (uint32_t)v; return NULL;
    case O_ZSTD: if (cli_parse_u64(arg, 1, 19, &v)) return "--zstd-level"; a->o.zstd_level = (int)v; return NULL;
    case O_GRAN: return cal_force_from_name(arg, &a->o.force) ? "--granularity" : NULL;
    case O_BITS:
        if (strcmp(arg, "8") && strcmp(arg, "16")) return "--max-bits";
        a->o.max_bits = (uint32_t)atoi(arg);
        return NULL;
    case O_WIDE: return parse_double(arg, 1, 1000, &a->o.site_target) ? "--site-target" : NULL;
    default: return NULL;
    }
}

static int parse_args(int argc, char **argv, calibrate_args *a)
{
    static const struct option longopts[] = {
        {"data", required_argument, NULL, O_DATA},          {"tokens-file", required_argument, NULL, O_TOKS},
        {"output", required_argument, NULL, 'o'},           {"eval", required_argument, NULL, O_EVAL},
        {"eval-tokens", required_argument, NULL, O_EVALTOK}, {"max-tokens", required_argument, NULL, O_MAXTOK},
        {"seq", required_argument, NULL, O_SEQ},            {"holdout", required_argument, NULL, O_HOLD},
        {"rows", required_argument, NULL, O_ROWS},          {"min-rows", required_argument, NULL, O_MINROWS},
        {"tolerance", required_argument, NULL, O_TOL},      {"threads", required_argument, NULL, O_THREADS},
        {"zstd-level", required_argument, NULL, O_ZSTD},    {"dry-run", no_argument, NULL, O_DRY},
        {"force", no_argument, NULL, 'f'},                  {"json", no_argument, NULL, O_JSON},
        {"eval-floor", no_argument, NULL, O_FLOOR},         {"help", no_argument, NULL, 'h'},
        {"granularity", required_argument, NULL, O_GRAN},   {"max-bits", required_argument, NULL, O_BITS},
        {"site-target", required_argument, NULL, O_WIDE},
        {NULL, 0, NULL, 0},
    };
    memset(a, 0, sizeof *a);
    a->o.tolerance = -1;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:fh", longopts, NULL)) != -1) {
        const char *bad = NULL;
        switch (c) {
        case 'o': a->out = optarg; break;
        case O_DATA: a->data = optarg; break;
        case O_TOKS: a->toks = optarg; break;
        case O_EVAL: a->eval = optarg; break;
        case O_EVALTOK: a->eval_toks = optarg; break;
        case O_FLOOR: a->floor_ = 1; break;
        case O_MAXTOK: case O_SEQ: case O_HOLD: case O_ROWS: case O_MINROWS: case O_TOL: case O_THREADS: case O_ZSTD: case O_GRAN: case O_BITS: case O_WIDE:
            bad = parse_value(c, optarg, a);
            break;
        case O_DRY: a->o.dry_run = 1; break;
        case 'f': a->o.overwrite = 1; break;
        case O_JSON: a->json = 1; break;
        case 'h': usage(stdout); return CLI_EXIT_OK;
        default: usage(stderr); return CLI_EXIT_USAGE;
        }
        if (bad) {
            fprintf(stderr, "trit calibrate: invalid value for %s: '%s'\n", bad, optarg);
            return CLI_EXIT_USAGE;
        }
    }
    int const have_eval = a->eval || a->eval_toks;
    if (optind + 1 != argc || (!a->out && !a->o.dry_run) || !a->data == !a->toks || (a->eval && a->eval_toks) ||
        (a->o.dry_run && have_eval) || (a->floor_ && !have_eval)) {
        fprintf(stderr, "trit calibrate: expected MODEL.trit, exactly one of --data and --tokens-file, and -o OUT"
                        " (--eval needs a written OUT)\n");
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    a->model = argv[optind];
    return CLI_PARSED;
}

/* Calibration and its write under the interrupt guard: a kill leaves no partial output. */
static int calibrate(calibrate_args *a, cal_report *rep, trit_err *err)
{
    a->o.temp_path = cli_guard_temp_cb;
    cli_guard_begin("calibrate");
    int const rc = cal_calibrate_files(a->model, a->data, a->toks, a->max_tok, a->out ? a->out : "", &a->o, rep, err);
    cli_guard_end();
    return rc;
}

static void agree_json(cJSON *e, const cal_agree *ag)
{
    cJSON_AddNumberToObject(e, "top1_agreement", ag->agreement);
    cJSON_AddNumberToObject(e, "kl_mean", ag->kl_mean);
    cJSON_AddNumberToObject(e, "kl_max", ag->kl_max);
}

static void print_json(const calibrate_args *a, const cal_report *rep, const cal_eval_report *ev, const cal_agree *fl)
{
    cJSON *j = report_json(rep, a->model, a->out ? a->out : "", a->o.dry_run);
    if (ev) {
        cJSON *e = cli_eval_json(ev);
        if (fl) agree_json(cJSON_AddObjectToObject(e, "floor_dynamic_ref_vs_best_kernels"), fl);
        cJSON_AddItemToObject(j, "eval", e);
    }
    char *s = cJSON_Print(j);
    if (s) puts(s);
    free(s);
    cJSON_Delete(j);
}

static void print_summary(const calibrate_args *a, const cal_report *rep, const cal_eval_report *ev, const cal_agree *fl)
{
    if (a->json) {
        print_json(a, rep, ev, fl);
        return;
    }
    print_text(rep, a->model, a->out ? a->out : "", a->o.dry_run);
    if (ev) cli_eval_print(ev, stdout);
    if (ev && fl)
        printf("floor: dynamic, reference vs best kernels: top-1 agreement %.2f%%, KL mean %.3g, max %.3g nats\n", 100 * fl->agreement,
               fl->kl_mean, fl->kl_max);
}

int cmd_calibrate(int argc, char **argv)
{
    calibrate_args a;
    int const code = parse_args(argc, argv, &a);
    if (code != CLI_PARSED) return code;
    trit_err err;
    trit_err_clear(&err);
    cal_report rep;
    if (calibrate(&a, &rep, &err)) return cli_report("calibrate", &err);
    cal_eval_report ev;
    cal_agree fl;
    int const have_eval = a.eval || a.eval_toks;
    cal_eval_opts eo = {NULL, 0, a.o.seq_len, a.o.threads};
    if (have_eval && (cal_eval_files(a.out, a.eval, a.eval_toks, 0, &eo, &ev, &err) ||
                      (a.floor_ && cal_evaluate_floor(a.out, a.eval, a.eval_toks, a.o.seq_len, a.o.threads, &fl, &err)))) {
        cal_report_free(&rep);
        return cli_report("calibrate", &err);
    }
    print_summary(&a, &rep, have_eval ? &ev : NULL, a.floor_ ? &fl : NULL);
    cal_report_free(&rep);
    return CLI_EXIT_OK;
}
