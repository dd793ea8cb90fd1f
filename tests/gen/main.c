/* main.c - the trit-gen CLI: deterministic synthetic checkpoints for tests, demos, benchmarks.
 *
 *   trit-gen LAYOUT -o OUT [options]      write a model
 *   trit-gen --list                       list layouts
 *
 * Options are applied in the order: layout defaults, then --preset, then each explicit
 * dimension option. Exit codes: 0 ok, 2 usage (incl. existing output), 3 I/O, 4 other. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"

enum { EXIT_USAGE = 2, EXIT_IO = 3, EXIT_OTHER = 4 };

/* Dimension options: long name, offset of the field in gen_opts, help. */
#define FIELD(f) offsetof(gen_opts, f)
static const struct dim_opt {
    const char *name;
    size_t off;
    const char *help;
} dims[] = {
    {"layers", FIELD(n_layer), "transformer blocks"},
    {"embd", FIELD(n_embd), "hidden size"},
    {"ff", FIELD(n_ff), "FFN width (MoE: per expert)"},
    {"heads", FIELD(n_head), "attention heads"},
    {"head-dim", FIELD(head_dim), "per-head width (0: embd / heads)"},
    {"kv-heads", FIELD(n_head_kv), "KV heads"},
    {"vocab", FIELD(n_vocab), "vocabulary size"},
    {"experts", FIELD(n_expert), "experts per layer (MoE)"},
    {"experts-used", FIELD(n_expert_used), "experts per token (MoE)"},
    {"ff-shared", FIELD(n_ff_shared), "qwen2moe/deepseek2 shared expert width"},
    {"q-lora", FIELD(q_lora), "deepseek2 q_lora_rank (0: null, q_proj)"},
    {"group", FIELD(group_size), "bitcpm scale group size"},
    {"shards", FIELD(n_shards), "safetensors files"},
    {"ctx", FIELD(n_ctx), "context length"},
    {"rope-orig", FIELD(rope_orig), "minicpm4 longrope original_max_position_embeddings (0: ctx)"},
    {"align", FIELD(gguf_align), "GGUF general.alignment"},
};
#define N_DIMS (sizeof dims / sizeof dims[0])

static void usage(FILE *f)
{
    gen_opts d;
    gen_opts_default(&d, GEN_LAYOUT_BITNET);
    fprintf(f,
            "usage: trit-gen LAYOUT -o OUT [options]\n"
            "       trit-gen --list | --help\n\n"
            "Writes a synthetic model with deterministic pseudo-random weights in a real release\n"
            "layout (a directory for safetensors layouts, a file for gguf layouts).\n\n"
            "options:\n"
            "  -o, --out PATH        output path (required)\n"
            "  --seed N              PRNG seed (default %llu); same seed, same bytes\n"
            "  --preset NAME         tiny (default dims) or 2b4t (BitNet b1.58 2B4T dims)\n",
            (unsigned long long)d.seed);
    for (size_t i = 0; i < N_DIMS; i++) fprintf(f, "  --%-12s N      %s\n", dims[i].name, dims[i].help);
    fprintf(f,
            "  --tq mixed|1|2|f32    GGUF projection types (default mixed: attention TQ2_0, FFN TQ1_0;\n"
            "                        f32: latent F32 floats)\n"
            "  --latent              MoE/gguf: random float projections instead of ternary x scale\n"
            "  --f32                 safetensors: float tensors F32 instead of the release's BF16 (a\n"
            "                        conformance twin: llama.cpp rounds activations for BF16 weights)\n"
            "  --f32-dense           gguf-gpt-oss: --f32 but the experts stay MXFP4 (llama.cpp then\n"
            "                        computes what trit computes: F32 weights, MXFP4 x q8_0)\n"
            "  --embd-std X          spread of the token embedding (default 0.02, the layers'\n"
            "                        own); larger makes the residual stream dominate each layer's\n"
            "                        update: steadier logits, but the layers matter less\n"
            "  --outliers N          plant activation outliers: N hidden channels (the same in\n"
            "                        every layer) whose attention and FFN input norm weights are\n"
            "                        --outlier-scale X times the rest (default 30), as trained\n"
            "                        LLMs show after their norms (LLM.int8())\n"
            "  --massive-token ID    a massive-activation token: its embedding is --massive-scale\n"
            "                        X times larger (default 100) in the outlier channels (the\n"
            "                        first 4 if --outliers is 0)\n"
            "  --force               replace an existing output\n"
            "  --dry-run             print the tensor plan, write nothing\n"
            "  --list                list layouts\n"
            "  -h, --help            this help\n"
            "numbers accept K/M/G suffixes (x1024).\n");
}

static void list_layouts(void)
{
    size_t n;
    const gen_layout_desc *t = gen_layout_table(&n);
    for (size_t i = 0; i < n; i++) printf("%-16s %s\n", t[i].name, t[i].summary);
}

/* Parse a non-negative integer with an optional K/M/G suffix, checking overflow. */
static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    if (!s || !*s || *s == '-') return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || end == s) return -1;
    unsigned shift = 0;
    if (*end == 'K' || *end == 'k') shift = 10;
    else if (*end == 'M' || *end == 'm') shift = 20;
    else if (*end == 'G' || *end == 'g') shift = 30;
    if (shift) end++;
    if (*end || v > (max >> shift)) return -1;
    *out = (uint64_t)v << shift;
    return 0;
}

static int exit_code(int rc)
{
    switch (rc) {
    case TRIT_OK: return 0;
    case TRIT_E_USAGE:
    case TRIT_E_NOTFOUND:
    case TRIT_E_EXISTS: return EXIT_USAGE;
    case TRIT_E_IO:
    case TRIT_E_NOMEM: return EXIT_IO;
    default: return EXIT_OTHER;
    }
}

static void print_plan(const gen_plan *p)
{
    static const char *const dt[] = {"F32", "F16", "BF16", "U8", "TQ1_0", "TQ2_0"};
    uint64_t total = 0;
    for (uint32_t i = 0; i < p->n; i++) {
        const gen_tensor *t = &p->t[i];
        printf("%-56s %-5s [", t->name, dt[t->dtype]);
        for (uint32_t d = 0; d < t->n_dims; d++) printf("%s%llu", d ? ", " : "", (unsigned long long)t->shape[d]);
        printf("] %llu bytes, file %u\n", (unsigned long long)t->nbytes, t->file);
        total += t->nbytes;
    }
    printf("%u tensors, %llu bytes of tensor data, %u file(s)\n", p->n, (unsigned long long)total, p->n_files);
}

int main(int argc, char **argv)
{
    enum { O_SEED = 256, O_PRESET, O_TQ, O_LATENT, O_F32, O_F32_DENSE, O_EMBD_STD, O_OUTLIERS, O_OUTLIER_SCALE, O_MASSIVE,
           O_MASSIVE_SCALE, O_FORCE, O_DRY, O_LIST, O_DIM0 };
    struct option lopts[N_DIMS + 17];
    size_t k = 0;
    lopts[k++] = (struct option){"out", required_argument, NULL, 'o'};
    lopts[k++] = (struct option){"help", no_argument, NULL, 'h'};
    lopts[k++] = (struct option){"seed", required_argument, NULL, O_SEED};
    lopts[k++] = (struct option){"preset", required_argument, NULL, O_PRESET};
    lopts[k++] = (struct option){"tq", required_argument, NULL, O_TQ};
    lopts[k++] = (struct option){"latent", no_argument, NULL, O_LATENT};
    lopts[k++] = (struct option){"f32", no_argument, NULL, O_F32};
    lopts[k++] = (struct option){"f32-dense", no_argument, NULL, O_F32_DENSE};
    lopts[k++] = (struct option){"embd-std", required_argument, NULL, O_EMBD_STD};
    lopts[k++] = (struct option){"outliers", required_argument, NULL, O_OUTLIERS};
    lopts[k++] = (struct option){"outlier-scale", required_argument, NULL, O_OUTLIER_SCALE};
    lopts[k++] = (struct option){"massive-token", required_argument, NULL, O_MASSIVE};
    lopts[k++] = (struct option){"massive-scale", required_argument, NULL, O_MASSIVE_SCALE};
    lopts[k++] = (struct option){"force", no_argument, NULL, O_FORCE};
    lopts[k++] = (struct option){"dry-run", no_argument, NULL, O_DRY};
    lopts[k++] = (struct option){"list", no_argument, NULL, O_LIST};
    for (size_t i = 0; i < N_DIMS; i++) lopts[k++] = (struct option){dims[i].name, required_argument, NULL, O_DIM0 + (int)i};
    lopts[k] = (struct option){NULL, 0, NULL, 0};

    const char *out = NULL, *preset = NULL;
    uint64_t seed = 0, dim_val[N_DIMS] = {0};
    int have_seed = 0, have_dim[N_DIMS] = {0}, tq = -1, latent = 0, f32 = 0, force = 0, dry = 0, c;
    float embd_std = 0, outlier_scale = 0, massive_scale = 0;
    uint64_t n_outlier = 0, massive = GEN_NONE;
    while ((c = getopt_long(argc, argv, "o:h", lopts, NULL)) != -1) {
        uint64_t v;
        switch (c) {
        case 'o': out = optarg; break;
        case 'h': usage(stdout); return 0;
        case O_SEED:
            if (parse_u64(optarg, UINT64_MAX, &seed)) {
                fprintf(stderr, "trit-gen: bad --seed '%s'\n", optarg);
                return EXIT_USAGE;
            }
            have_seed = 1;
            break;
        case O_PRESET: preset = optarg; break;
        case O_TQ:
            if (!strcmp(optarg, "mixed")) tq = GEN_TQ_MIXED;
            else if (!strcmp(optarg, "1")) tq = GEN_TQ_1;
            else if (!strcmp(optarg, "2")) tq = GEN_TQ_2;
            else if (!strcmp(optarg, "f32")) tq = GEN_TQ_F32;
            else {
                fprintf(stderr, "trit-gen: --tq must be mixed, 1, 2 or f32 (got '%s')\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case O_LATENT: latent = 1; break;
        case O_F32: f32 = 1; break;
        case O_F32_DENSE: f32 = 2; break;
        case O_EMBD_STD: {
            char *end = NULL;
            embd_std = strtof(optarg, &end);
            if (!end || *end || !(embd_std > 0 && embd_std <= 100)) {
                fprintf(stderr, "trit-gen: --embd-std: expected a number in (0, 100], got '%s'\n", optarg);
                return 2;
            }
            break;
        }
        case O_OUTLIERS:
            if (parse_u64(optarg, 64, &n_outlier)) {
                fprintf(stderr, "trit-gen: --outliers: expected 0..64 channels, got '%s'\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case O_MASSIVE:
            if (parse_u64(optarg, UINT32_MAX - 1, &massive)) {
                fprintf(stderr, "trit-gen: --massive-token: expected a token id, got '%s'\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case O_OUTLIER_SCALE:
        case O_MASSIVE_SCALE: {
            char *end = NULL;
            float const f = strtof(optarg, &end);
            if (!end || *end || !(f > 0 && f <= 1e4f)) {
                fprintf(stderr, "trit-gen: --%s: expected a number in (0, 10000], got '%s'\n",
                        c == O_OUTLIER_SCALE ? "outlier-scale" : "massive-scale", optarg);
                return EXIT_USAGE;
            }
            *(c == O_OUTLIER_SCALE ? &outlier_scale : &massive_scale) = f;
            break;
        }
        case O_FORCE: force = 1; break;
        case O_DRY: dry = 1; break;
        case O_LIST: list_layouts(); return 0;
        default:
            if (c >= O_DIM0 && c < O_DIM0 + (int)N_DIMS) {
                size_t const i = (size_t)(c - O_DIM0);
                if (parse_u64(optarg, UINT32_MAX, &v)) {
                    fprintf(stderr, "trit-gen: bad --%s '%s' (want 0..4294967295)\n", dims[i].name, optarg);
                    return EXIT_USAGE;
                }
                dim_val[i] = v;
                have_dim[i] = 1;
                break;
            }
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "trit-gen: expected exactly one LAYOUT (see --list)\n");
        usage(stderr);
        return EXIT_USAGE;
    }
    gen_layout layout;
    if (gen_layout_from_name(argv[optind], &layout)) {
        fprintf(stderr, "trit-gen: unknown layout '%s' (see --list)\n", argv[optind]);
        return EXIT_USAGE;
    }
    if (!out && !dry) {
        fprintf(stderr, "trit-gen: -o OUT is required\n");
        return EXIT_USAGE;
    }

    gen_opts o;
    trit_err err;
    char msg[640];
    trit_err_clear(&err);
    gen_opts_default(&o, layout);
    if (have_seed) o.seed = seed;
    if (preset && gen_opts_preset(&o, preset, &err)) {
        fprintf(stderr, "trit-gen: %s\n", trit_err_format(&err, msg, sizeof msg));
        return EXIT_USAGE;
    }
    for (size_t i = 0; i < N_DIMS; i++)
        if (have_dim[i]) memcpy((char *)&o + dims[i].off, &(uint32_t){(uint32_t)dim_val[i]}, sizeof(uint32_t));
    if (tq >= 0) o.gguf_tq = (uint32_t)tq;
    o.latent = latent;
    o.f32 = f32;
    o.embd_std = embd_std;
    o.n_outlier = (uint32_t)n_outlier;
    o.outlier_scale = outlier_scale;
    o.massive_token = (uint32_t)massive;
    o.massive_scale = massive_scale;
    o.overwrite = force;

    int rc;
    if (dry) {
        gen_plan p;
        rc = gen_plan_build(&o, &p, &err);
        if (!rc) {
            print_plan(&p);
            gen_plan_release(&p);
        }
    } else {
        rc = gen_write(&o, out, &err);
    }
    if (rc) {
        fprintf(stderr, "trit-gen: %s\n", trit_err_format(&err, msg, sizeof msg));
        return exit_code(rc);
    }
    if (!dry) fprintf(stderr, "trit-gen: wrote %s (%s, seed %llu)\n", out, argv[optind], (unsigned long long)o.seed);
    return 0;
}
