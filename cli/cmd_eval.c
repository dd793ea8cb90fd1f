/* cmd_eval.c - `trit eval`: argument parsing and printing; the work is in calibrate/ (cal_eval:
 * every activation-scale mode beside the float reference on held-out text). The table and
 * its JSON are shared with `trit calibrate --eval` (cli.h). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "cli.h"
#include "cal.h"
#include "run.h"

#define DEF_PPL_RATIO 1.03   /* the bound of issue 15: static perplexity <= 1.03x dynamic's ... */
#define DEF_KL_RATIO 1.5     /* ... and mean KL(float || static) <= 1.5x KL(float || dynamic) */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: trit eval MODEL.trit (--data TEXT | --tokens-file IDS) [options]\n"
            "\n"
            "Judge int8 activation schemes by accuracy on held-out text: every mode runs the same\n"
            "teacher-forced sequences beside 'float' (the ternary weights against unquantized\n"
            "activations, the reference). Per mode: perplexity, mean and max KL(float || mode) per\n"
            "predicted position (nats), and top-1 agreement with float.\n"
            "\n"
            "options:\n"
            "  --data FILE          held-out text, tokenized with the model's tokenizer (keep it\n"
            "                       disjoint from the calibration text)\n"
            "  --tokens-file FILE   held-out token ids (decimal, separated by spaces/commas/newlines)\n"
            "  --act-scales LIST    modes to judge, comma-separated: dynamic, block, static, float\n"
            "                       (default: dynamic,block and static when the model has scales)\n"
            "  --seq N              tokens per sequence, each from an empty context (default 128)\n"
            "  --max-tokens N       use the first N tokens only\n"
            "  --threads N          runner threads (default 1; results do not depend on it)\n"
            "  --check              exit 1 unless static perplexity <= %.2fx dynamic's and mean\n"
            "                       KL(float || static) <= %.1fx KL(float || dynamic)\n"
            "  --max-ppl-ratio X    ... with this perplexity ratio instead\n"
            "  --max-kl-ratio X     ... with this KL ratio instead\n"
            "  --json               print JSON on stdout\n"
            "  -h, --help           this help\n",
            DEF_PPL_RATIO, DEF_KL_RATIO);
}

void cli_eval_print(const cal_eval_report *r, FILE *f)
{
    const cal_eval_mode *d = cal_eval_find(r, RUN_ACT_SCALES_DYNAMIC);
    fprintf(f, "%llu held-out tokens, %llu predicted positions (sequences of %u)\n", (unsigned long long)r->tokens,
            (unsigned long long)r->positions, r->seq_len);
    fprintf(f, "  %-8s %11s %9s %14s %11s %9s %11s\n", "mode", "perplexity", "/dynamic", "KL(float||m)", "/dynamic", "KL max",
            "top-1=float");
    for (uint32_t k = 0; k < r->n_modes; k++) {
        cal_eval_mode const *m = &r->modes[k];
        char pr[16] = "-", kr[16] = "-";
        if (d && d->ppl > 0) snprintf(pr, sizeof pr, "%.4f", m->ppl / d->ppl);
        if (d && d->kl_mean > 0 && m->mode != RUN_ACT_SCALES_FLOAT) snprintf(kr, sizeof kr, "%.3f", m->kl_mean / d->kl_mean);
        fprintf(f, "  %-8s %11.4f %9s %14.4g %11s %9.3g %10.2f%%\n", run_act_mode_name(m->mode), m->ppl, pr, m->kl_mean, kr,
                m->kl_max, 100 * m->top1);
    }
    if (!cal_eval_find(r, RUN_ACT_SCALES_STATIC)) return;
    if (r->scale_entries16)
        fprintf(f, "static scales: %u entries, %u at 16 bits (int16 x t2) at %u site(s): %s; the rest int8\n", r->scale_entries,
                r->scale_entries16, r->n_sites16, r->sites16);
    else
        fprintf(f, "static scales: %u entries, all int8\n", r->scale_entries);
}

cJSON *cli_eval_json(const cal_eval_report *r)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "tokens", (double)r->tokens);
    cJSON_AddNumberToObject(j, "positions", (double)r->positions);
    cJSON_AddNumberToObject(j, "seq_len", r->seq_len);
    cJSON *modes = cJSON_AddArrayToObject(j, "modes");
    for (uint32_t k = 0; k < r->n_modes; k++) {
        cal_eval_mode const *m = &r->modes[k];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "mode", run_act_mode_name(m->mode));
        cJSON_AddNumberToObject(o, "perplexity", m->ppl);
        cJSON_AddNumberToObject(o, "nll_mean", m->nll_mean);
        cJSON_AddNumberToObject(o, "kl_mean", m->kl_mean);
        cJSON_AddNumberToObject(o, "kl_max", m->kl_max);
        cJSON_AddNumberToObject(o, "top1_agreement", m->top1);
        cJSON_AddItemToArray(modes, o);
    }
    if (cal_eval_find(r, RUN_ACT_SCALES_STATIC)) {
        cJSON *st = cJSON_AddObjectToObject(j, "static_scales");
        cJSON_AddNumberToObject(st, "entries", r->scale_entries);
        cJSON_AddNumberToObject(st, "entries_int16", r->scale_entries16);
        cJSON_AddNumberToObject(st, "sites_int16", r->n_sites16);
        cJSON_AddStringToObject(st, "int16_sites", r->sites16);
    }
    return j;
}

typedef struct eval_args {
    const char *model, *data, *toks;
    uint64_t max_tok;
    uint32_t modes[RUN_ACT_SCALES_COUNT_];
    cal_eval_opts o;
    int json, check;
    double ppl_ratio, kl_ratio;
} eval_args;

enum { O_DATA = 256, O_TOKS, O_ACT, O_SEQ, O_MAXTOK, O_THREADS, O_CHECK, O_PPLR, O_KLR, O_JSON };

/* "dynamic,static" into a->modes; -1 when a name is unknown or repeated too often. */
static int parse_modes(const char *s, eval_args *a)
{
    char buf[64];
    if (strlen(s) >= sizeof buf) return -1;
    snprintf(buf, sizeof buf, "%s", s);
    a->o.n_modes = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        uint32_t m;
        if (run_act_mode_from_name(t, &m) || a->o.n_modes == RUN_ACT_SCALES_COUNT_) return -1;
        a->modes[a->o.n_modes++] = m;
    }
    return a->o.n_modes ? 0 : -1;
}

static int parse_ratio(const char *s, double *out)
{
    char *end;
    double const v = strtod(s, &end);
    if (*end || !(v >= 1 && v <= 1000)) return -1;
    *out = v;
    return 0;
}

/* One option's value into a; the option's name when the value is invalid, else NULL. */
static const char *parse_value(int c, const char *arg, eval_args *a)
{
    uint64_t v;
    switch (c) {
    case O_ACT: return parse_modes(arg, a) ? "--act-scales" : NULL;
    case O_SEQ: if (cli_parse_u64(arg, 2, 1u << 20, &v)) return "--seq"; a->o.seq_len = (uint32_t)v; return NULL;
    case O_MAXTOK: return cli_parse_u64(arg, 2, UINT64_MAX, &a->max_tok) ? "--max-tokens" : NULL;
    case O_THREADS: if (cli_parse_u64(arg, 1, 256, &v)) return "--threads"; a->o.threads = (uint32_t)v; return NULL;
    case O_PPLR: return parse_ratio(arg, &a->ppl_ratio) ? "--max-ppl-ratio" : NULL;
    case O_KLR: return parse_ratio(arg, &a->kl_ratio) ? "--max-kl-ratio" : NULL;
    default: return NULL;
    }
}

static int parse_args(int argc, char **argv, eval_args *a)
{
    static const struct option longopts[] = {
        {"data", required_argument, NULL, O_DATA},         {"tokens-file", required_argument, NULL, O_TOKS},
        {"act-scales", required_argument, NULL, O_ACT},    {"seq", required_argument, NULL, O_SEQ},
        {"max-tokens", required_argument, NULL, O_MAXTOK}, {"threads", required_argument, NULL, O_THREADS},
        {"check", no_argument, NULL, O_CHECK},             {"max-ppl-ratio", required_argument, NULL, O_PPLR},
        {"max-kl-ratio", required_argument, NULL, O_KLR},  {"json", no_argument, NULL, O_JSON},
        {"help", no_argument, NULL, 'h'},                  {NULL, 0, NULL, 0},
    };
    memset(a, 0, sizeof *a);
    a->o.modes = a->modes;
    a->ppl_ratio = DEF_PPL_RATIO;
    a->kl_ratio = DEF_KL_RATIO;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        const char *bad = NULL;
        switch (c) {
        case O_DATA: a->data = optarg; break;
        case O_TOKS: a->toks = optarg; break;
        case O_CHECK: a->check = 1; break;
        case O_JSON: a->json = 1; break;
        case O_ACT: case O_SEQ: case O_MAXTOK: case O_THREADS: case O_PPLR: case O_KLR: bad = parse_value(c, optarg, a); break;
        case 'h': usage(stdout); return CLI_EXIT_OK;
        default: usage(stderr); return CLI_EXIT_USAGE;
        }
        if (bad) {
            fprintf(stderr, "trit eval: invalid value for %s: '%s'\n", bad, optarg);
            return CLI_EXIT_USAGE;
        }
    }
    if (optind + 1 != argc || !a->data == !a->toks) {
        fprintf(stderr, "trit eval: expected MODEL.trit and exactly one of --data and --tokens-file\n");
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    a->model = argv[optind];
    return CLI_PARSED;
}

int cli_eval_check(const cal_eval_report *r, double ppl_ratio, double kl_ratio, int json, FILE *f)
{
    int pass = 0;
    if (cal_eval_check(r, ppl_ratio, kl_ratio, &pass) != TRIT_OK) {
        fprintf(stderr, "trit eval: --check needs the dynamic and static modes (the model has no static scales?)\n");
        return CLI_EXIT_USAGE;
    }
    if (!json) {
        const cal_eval_mode *d = cal_eval_find(r, RUN_ACT_SCALES_DYNAMIC), *s = cal_eval_find(r, RUN_ACT_SCALES_STATIC);
        fprintf(f, "static vs dynamic: perplexity %.4fx (bound %.2fx), KL(float||.) %.3fx (bound %.2fx): %s\n", s->ppl / d->ppl,
                ppl_ratio, d->kl_mean > 0 ? s->kl_mean / d->kl_mean : 0.0, kl_ratio, pass ? "within" : "OUTSIDE the bound");
    }
    return pass ? CLI_EXIT_OK : CLI_EXIT_MISMATCH;
}

int cmd_eval(int argc, char **argv)
{
    eval_args a;
    int code = parse_args(argc, argv, &a);
    if (code != CLI_PARSED) return code;
    trit_err err;
    trit_err_clear(&err);
    cal_eval_report rep;
    if (cal_eval_files(a.model, a.data, a.toks, a.max_tok, &a.o, &rep, &err)) return cli_report("eval", &err);
    code = CLI_EXIT_OK;
    if (a.json) {
        cJSON *j = cli_eval_json(&rep);
        cJSON_AddStringToObject(j, "model", a.model);
        if (a.check) {
            int pass = 0;
            if (cal_eval_check(&rep, a.ppl_ratio, a.kl_ratio, &pass) == TRIT_OK) cJSON_AddBoolToObject(j, "within_bound", pass);
        }
        char *s = cJSON_Print(j);
        if (s) puts(s);
        free(s);
        cJSON_Delete(j);
    } else {
        cli_eval_print(&rep, stdout);
    }
    if (a.check) code = cli_eval_check(&rep, a.ppl_ratio, a.kl_ratio, a.json, stdout);
    if (fflush(stdout) != 0) return CLI_EXIT_IO;
    return code;
}
