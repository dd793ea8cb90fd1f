/*
 * run_cli.c - the command line of `trit run` and of the standalone device binary `trit-run`
 * (both call run_cli_main, so they behave the same). Links only libtrit: the number parsing
 * and exit-code mapping of cli/ are repeated here on purpose.
 *
 * Output: with --tokens the generated ids, space-separated, on one stdout line; with --prompt
 * the prompt and the generated text. --json replaces both with one JSON object on stdout
 * ({"prompt_tokens":[..],"tokens":[..],"stats":{..}}). Messages and text stats go to stderr.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run_int.h"
#include "trit_sys.h"
#include "trit_safemath.h"

#if defined(__has_include)
#if __has_include("tok.h")
#include "tok.h"
#define RUN_HAVE_TOK 1
#endif
#endif

static int report(const char *prog, const trit_err *err)
{
    char buf[768];
    fprintf(stderr, "%s: %s\n", prog, trit_err_format(err, buf, sizeof buf));
    return trit_exit_code(err->code);
}

static void usage(const char *prog, FILE *f)
{
    fprintf(f,
            "usage: %s [options] MODEL.trit\n"
            "\n"
            "Run a .trit model: evaluate the input, then generate tokens. Experts of MoE models are\n"
            "paged in on demand under a byte budget; dense weights are used in place (mmap).\n"
            "\n"
            "input (one of):\n"
            "  --tokens LIST        comma-separated token ids, e.g. 1,403,407\n"
            "  --prompt TEXT        text, tokenized with the model's tokenizer section\n"
            "generation:\n"
            "  -n N                 tokens to generate (default 16; 0 = only evaluate the input)\n"
            "  --temp T             sampling temperature (default 0 = greedy)\n"
            "  --top-k K            sample among the K most likely tokens (default 40, 0 = all)\n"
            "  --top-p P            ... within probability mass P (default 0.95)\n"
            "  --seed S             random seed for sampling (default 1)\n"
            "  --ignore-eos         do not stop at the end-of-sequence token\n"
            "execution:\n"
            "  --threads N          worker threads (default: online CPUs, at most 4)\n"
            "  --expert-cache SIZE  budget for decoded experts, K/M/G suffixes (default 256M)\n"
            "  --cache-policy P     expert eviction: layer (default), lru, lfu\n"
            "  --prefetch MODE      on (default): load the next layer's likely experts on a\n"
            "                       background thread; off; sync: wait for each prefetch (the\n"
            "                       guess's hit rate apart from scheduling). Never changes a result\n"
            "  --ctx N              KV cache positions (default: input + generated tokens)\n"
            "  --kernel K           auto (default), ref, avx2, avxvnni, avx512, neon, neondot,\n"
            "                       neoni8mm\n"
            "  --verify             check every byte of the file before running (every expert\n"
            "                       unit decoded, padding, ternary codes: what 'trit verify' does)\n"
            "  --no-verify          skip the default check at open: the xxh3 of every dense\n"
            "                       tensor (used in place from the mapping), on --threads threads.\n"
            "                       Expert units are checked at every load either way\n"
            "  --act-scales MODE    int8 activations of t2 projections: dynamic (default; absmax\n"
            "                       per token, as BitNet trains), block (absmax per 256 values,\n"
            "                       llama.cpp's q8_K grain: closer to float on wide rows), or\n"
            "                       static (the model's calibrated scales from 'trit calibrate';\n"
            "                       values beyond them are clipped, --stats gives the clipping\n"
            "                       rate per layer), or float (no int8 at all: the ternary\n"
            "                       weights against float activations, the accuracy reference)\n"
            "  --reference SRC      also run SRC, the source checkpoint read through the\n"
            "                       converter's readers, and require bit-identical logits at\n"
            "                       every evaluated position (exit 1 if not; `trit run` only)\n"
            "output:\n"
            "  --logits FILE        write the last evaluated position's logits (n_vocab\n"
            "                       little-endian float32; with -n 0, the input's last position)\n"
            "  --stats              print speed, expert cache hits/misses per layer, bytes paged,\n"
            "                       load latency p50/p99 and peak RSS (stderr; stdout with --json)\n"
            "  --json               print one JSON object with tokens and stats on stdout\n"
            "  --trace FILE         write every expert access as 'layer expert n_tokens'\n"
            "  -h, --help           this help\n"
            "\n"
            "A model file truncated or rewritten while in use is an i/o error (exit 3), never a\n"
            "crash: install models by rename (as 'trit unpack' does), never in place.\n"
            "\n"
            "Exit codes: 0 ok, 2 usage, 3 i/o, 4 corrupt input, 5 unsupported, 6 limit.\n",
            prog);
}


static int parse_float(const char *s, float lo, float hi, float *out)
{
    if (!s || !*s) return -1;
    errno = 0;
    char *end;
    float const v = strtof(s, &end);
    if (errno || *end || !(v >= lo && v <= hi)) return -1;
    *out = v;
    return 0;
}

/* "1,2,3" -> ids (caller frees *ids). */
static int parse_tokens(const char *s, uint32_t **ids, uint32_t *n)
{
    *ids = NULL;
    *n = 0;
    uint32_t cap = 0;
    while (*s) {
        char *end;
        if (*s < '0' || *s > '9') return -1;
        errno = 0;
        unsigned long long const v = strtoull(s, &end, 10);
        if (errno || v > UINT32_MAX || (*end && *end != ',')) return -1;
        if (*n == cap) {
            if (cap >= RUN_MAX_CTX) return -1;
            cap = cap ? cap * 2 : 64;
            uint32_t *nid = realloc(*ids, sizeof *nid * cap);
            if (!nid) return -1;
            *ids = nid;
        }
        (*ids)[(*n)++] = (uint32_t)v;
        s = *end ? end + 1 : end;
        if (*end && !*s) return -1; /* trailing comma */
    }
    return *n ? 0 : -1;
}

typedef struct cli_opts {
    const char *model, *tokens, *prompt, *logits_path, *trace_path, *reference;
    const run_cli_hooks *hooks;
    uint64_t n_gen, threads, budget, n_ctx, seed, top_k;
    float temp, top_p;
    int stats, json, verify, no_verify, ignore_eos;
    uint32_t policy, kernel, prefetch;
    uint32_t act_scales;       /* run_act_mode */
} cli_opts;

static int write_logits(const char *path, const float *x, uint32_t n, trit_err *err)
{
    FILE *f = fopen(path, "wb");
    if (!f) return trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, path, "cannot create: %s", strerror(errno));
    int ok = 1;
    for (uint32_t i = 0; i < n && ok; i++) {
        uint32_t u;
        memcpy(&u, &x[i], 4);
        uint8_t const b[4] = {(uint8_t)u, (uint8_t)(u >> 8), (uint8_t)(u >> 16), (uint8_t)(u >> 24)};
        ok = fwrite(b, 1, 4, f) == 4;
    }
    if (fclose(f) != 0) ok = 0;
    return ok ? TRIT_OK : trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, path, "write failed");
}

#ifdef RUN_HAVE_TOK
/* The tokenizer carried in the model's kind-3 section, or NULL (err says why). */
static run_tok *open_tokenizer(const run_weights *w, trit_err *err)
{
    const trit_reader *r = run_weights_trit_reader(w);
    if (!r) {
        trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, NULL, "this weight source has no tokenizer");
        return NULL;
    }
    int64_t const s = trit_reader_find_section(r, TRIT_SECTION_TOKENIZER_KV);
    if (s < 0) {
        trit_err_set(err, TRIT_E_NOTFOUND, TRIT_NO_OFFSET, NULL, "the model carries no tokenizer section (kind 3); use --tokens");
        trit_err_file(err, w->name);
        return NULL;
    }
    trit_kvset *kv = NULL;
    run_vocab v;
    run_vocab_init(&v);
    run_tok *t = NULL;
    int rc = trit_reader_section_kv(r, (uint32_t)s, &kv, err);
    if (!rc) rc = run_vocab_from_kvset(kv, w->name, &v, err);
    if (!rc) rc = run_tok_new(&v, &t, err);
    run_vocab_release(&v);
    trit_kvset_free(kv);
    return rc ? NULL : t;
}
#endif

/* --reference: the same evaluation on the source provider, compared bit for bit. */
typedef struct ref_run {
    run_weights w;
    run_ctx *c;
    float *logits;
    uint32_t n_checked;        /* positions compared */
    int mismatch;
} ref_run;

static int ref_eval(ref_run *rr, const uint32_t *t, uint32_t n, const float *want, uint32_t V, uint32_t pos, trit_err *err)
{
    if (!rr->c) return TRIT_OK;
    int const rc = run_ctx_eval(rr->c, t, n, rr->logits, err);
    if (rc) return rc;
    rr->n_checked++;
    if (!rr->mismatch && memcmp(rr->logits, want, sizeof *want * V) != 0) {
        uint32_t i = 0;
        while (i < V && !memcmp(&rr->logits[i], &want[i], sizeof *want)) i++;
        fprintf(stderr, "reference: logits differ at position %u: logit %u is %.9g in the container, %.9g in the source\n", pos,
                i, (double)want[i], (double)rr->logits[i]);
        rr->mismatch = 1;
    }
    return TRIT_OK;
}

static void print_ids_json(FILE *f, const char *key, const uint32_t *ids, uint32_t n)
{
    fprintf(f, "\"%s\":[", key);
    for (uint32_t i = 0; i < n; i++) fprintf(f, "%s%u", i ? "," : "", ids[i]);
    fprintf(f, "]");
}

/* The signal guard, the CLI's one piece of global state (ARCHITECTURE.md). Dense tensors are
 * views of the mapping, so a model file truncated while in use raises SIGBUS on the next access
 * to a lost page, on whichever thread (caller or pool worker) touches it. Nothing can be resumed
 * from there, but the process can say what happened and exit with the i/o class instead of
 * dying by a signal: the handler does only write(2) and _exit(2). A SIGBUS outside the mapping
 * gets the default action back. Installs never modify a file in place (trit unpack swaps
 * directories by rename, so a running process keeps its inode): this covers everything else. */
static uintptr_t guard_lo, guard_hi;
static char guard_msg[320];
static size_t guard_msg_len;
static struct sigaction guard_prev;
static int guard_set;
static atomic_flag guard_said = ATOMIC_FLAG_INIT;

static void guard_handler(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    uintptr_t const a = si ? (uintptr_t)si->si_addr : 0;
    if (sig == SIGBUS && a >= guard_lo && a < guard_hi) {
        /* One message when several threads fault (every pool thread that takes rows of a lost
         * page does). Only the thread that writes it exits: _exit ends every thread, so a
         * second faulting thread that exited at once would cut the first one's write short
         * (exit 3 with nothing on stderr). The others wait, blocked here, for that exit. */
        if (atomic_flag_test_and_set(&guard_said))
            for (;;) pause();
        size_t off = 0;
        while (off < guard_msg_len) {
            ssize_t const k = write(STDERR_FILENO, guard_msg + off, guard_msg_len - off);
            if (k > 0) off += (size_t)k;
            else if (k < 0 && errno == EINTR) continue;
            else break;
        }
        _exit(TRIT_EXIT_IO);
    }
    signal(SIGBUS, SIG_DFL); /* not ours: the faulting access repeats with the default action */
}

static void guard_install(const char *prog, const run_weights *w)
{
    const trit_reader *r = run_weights_trit_reader(w);
    if (!r || guard_set) return;
    const void *p;
    size_t n;
    trit_reader_mapping(r, &p, &n);
    int const k = snprintf(guard_msg, sizeof guard_msg,
                           "%s: %s: the model file was truncated while in use (SIGBUS reading its mapping); "
                           "replace models by rename, never in place\n", prog, w->name);
    guard_msg_len = k < 0 ? 0 : (size_t)k < sizeof guard_msg ? (size_t)k : sizeof guard_msg - 1;
    guard_lo = (uintptr_t)p;
    guard_hi = guard_lo + n;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = guard_handler;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    guard_set = sigaction(SIGBUS, &sa, &guard_prev) == 0;
}

/* Before the mapping goes away (`trit run` is one call of a longer-lived process). */
static void guard_remove(void)
{
    if (!guard_set) return;
    sigaction(SIGBUS, &guard_prev, NULL);
    guard_set = 0;
    guard_lo = guard_hi = 0;
}

/* One run: the model, its input, the context, the outputs; released by session_free. */
typedef struct session {
    run_weights w;
    run_ctx *c;
#ifdef RUN_HAVE_TOK
    run_tok *tok;              /* with --prompt */
#endif
    uint32_t *in, n_in;        /* the input tokens */
    uint32_t *gen, n_out;      /* the generated ones */
    float *logits;             /* n_vocab */
    uint32_t V;
    FILE *trace;
    ref_run rr;
    int reported;              /* the error was printed already */
} session;

static void session_free(session *s)
{
    if (s->trace) fclose(s->trace);
    run_ctx_free(s->rr.c);
    run_weights_close(&s->rr.w);
    free(s->rr.logits);
    run_ctx_free(s->c);
    guard_remove();
    run_weights_close(&s->w);
#ifdef RUN_HAVE_TOK
    run_tok_free(s->tok);
#endif
    free(s->in);
    free(s->gen);
    free(s->logits);
}

static int nomem(trit_err *err) { return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory"); }

#ifdef RUN_HAVE_TOK
/* --prompt: the text through the model's tokenizer. */
static int encode_prompt(const cli_opts *o, session *s, trit_err *err)
{
    if (!(s->tok = open_tokenizer(&s->w, err))) return err->code ? err->code : TRIT_E_NOTFOUND;
    int32_t *ids = NULL;
    size_t n = 0;
    int rc = run_tok_encode(s->tok, o->prompt, strlen(o->prompt), RUN_TOK_ADD_SPECIAL, &ids, &n, err);
    if (rc == TRIT_OK && (n == 0 || n > RUN_MAX_CTX))
        rc = trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL, "the prompt gives %zu tokens", n);
    if (rc == TRIT_OK && !(s->in = malloc(sizeof *s->in * n))) rc = nomem(err);
    for (size_t i = 0; rc == TRIT_OK && i < n; i++) s->in[i] = (uint32_t)ids[i];
    if (rc == TRIT_OK) s->n_in = (uint32_t)n;
    free(ids);
    return rc;
}
#endif

/* The input: --tokens as given, or --prompt tokenized. */
static int read_input(const char *prog, const cli_opts *o, session *s, trit_err *err)
{
    if (o->tokens) {
        if (!parse_tokens(o->tokens, &s->in, &s->n_in)) return TRIT_OK;
        fprintf(stderr, "%s: --tokens: expected comma-separated token ids, e.g. 1,2,3\n", prog);
        s->reported = 1;
        err->code = TRIT_E_USAGE;
        return TRIT_E_USAGE;
    }
#ifdef RUN_HAVE_TOK
    return encode_prompt(o, s, err);
#else
    return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, NULL, "--prompt: tokenizer not available in this build; use --tokens");
#endif
}

/* The runner options of the command line; the context must hold input + generated tokens. */
static int make_run_opts(const cli_opts *o, const session *s, run_opts *ro, trit_err *err)
{
    run_opts_default(ro);
    ro->n_threads = (uint32_t)o->threads;
    ro->expert_cache = o->budget;
    ro->policy = o->policy;
    ro->prefetch = o->prefetch;
    ro->kernel = o->kernel;
    ro->trace = s->trace;
    ro->act_scales = o->act_scales;
    uint64_t const need = (uint64_t)s->n_in + o->n_gen;
    ro->n_ctx = (uint32_t)(o->n_ctx ? o->n_ctx : need > RUN_MAX_CTX ? RUN_MAX_CTX : need);
    if (need > ro->n_ctx)
        return trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, NULL, "%llu input + generated tokens do not fit a context of %u",
                            (unsigned long long)need, ro->n_ctx);
    return TRIT_OK;
}

/* --reference: the source checkpoint as a second context with the same options (no trace). */
static int open_reference(const cli_opts *o, run_opts ro, session *s, trit_err *err)
{
    ref_run *rr = &s->rr;
    if (!o->hooks || !o->hooks->open_reference)
        return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, NULL,
                            "--reference needs the converter's readers: use 'trit run', not the device binary");
    ro.trace = NULL;
    int rc = o->hooks->open_reference(o->reference, &s->w, &rr->w, err);
    if (!rc) rc = run_ctx_new(&rr->w, &ro, &rr->c, err);
    if (rc) return rc;
    if (run_ctx_n_vocab(rr->c) != s->V)
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, o->reference, "vocabulary of %u, the container has %u",
                            run_ctx_n_vocab(rr->c), s->V);
    return (rr->logits = malloc(sizeof *rr->logits * s->V)) ? TRIT_OK : nomem(err);
}

/* Model, input, trace file, context(s) and buffers. */
static int session_open(const char *prog, const cli_opts *o, session *s, trit_err *err)
{
    /* open (header and index), then the guard, then the pass that reads the data */
    int rc = run_weights_open_trit(o->model, RUN_OPEN_NO_VERIFY, &s->w, err);
    if (!rc) guard_install(prog, &s->w);
    if (!rc && o->verify) rc = trit_reader_verify(run_weights_trit_reader(&s->w), err);
    else if (!rc && !o->no_verify) rc = run_weights_verify(&s->w, (uint32_t)o->threads, err);
    if (!rc) rc = read_input(prog, o, s, err);
    if (rc) return rc;
    if (o->trace_path && !(s->trace = fopen(o->trace_path, "w")))
        return trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, o->trace_path, "cannot create: %s", strerror(errno));
    run_opts ro;
    if ((rc = make_run_opts(o, s, &ro, err)) || (rc = run_ctx_new(&s->w, &ro, &s->c, err))) return rc;
    s->V = run_ctx_n_vocab(s->c);
    if (o->reference && (rc = open_reference(o, ro, s, err))) return rc;
    s->logits = malloc(sizeof *s->logits * s->V);
    s->gen = malloc(sizeof *s->gen * (o->n_gen + 1));
    return s->logits && s->gen ? TRIT_OK : nomem(err);
}

/* Print a generated token's text as it comes (--prompt without --json); 1 at end of generation. */
static int emit(const cli_opts *o, const session *s, uint32_t t)
{
#ifdef RUN_HAVE_TOK
    if (s->tok && !o->json) {
        char piece[256];
        size_t const pn = run_tok_piece(s->tok, (int32_t)t, 0, piece, sizeof piece);
        fwrite(piece, 1, pn < sizeof piece ? pn : sizeof piece, stdout);
        fflush(stdout);
    }
    return s->tok ? run_tok_is_eog(s->tok, (int32_t)t) : t == run_ctx_eos(s->c);
#else
    (void)o;
    return t == run_ctx_eos(s->c);
#endif
}

/* Evaluate the input, then sample up to n_gen tokens (each checked against --reference). After
 * every evaluation the model file must be the one opened: no token of a changed file is used. */
static int generate(const cli_opts *o, session *s, trit_err *err)
{
    int rc = run_ctx_eval(s->c, s->in, s->n_in, s->logits, err);
    if (!rc) rc = run_weights_check_file(&s->w, err);
    if (!rc) rc = ref_eval(&s->rr, s->in, s->n_in, s->logits, s->V, s->n_in - 1, err);
    if (rc) return rc;
    run_sampler smp;
    run_sampler_init(&smp, o->temp, (uint32_t)o->top_k, o->top_p, o->seed);
#ifdef RUN_HAVE_TOK
    if (s->tok && !o->json) fputs(o->prompt, stdout);
#endif
    for (uint64_t i = 0; i < o->n_gen; i++) {
        uint32_t const t = run_sample(&smp, s->logits, s->V);
        s->gen[s->n_out++] = t;
        int const stop = emit(o, s, t);
        if ((stop && !o->ignore_eos) || i + 1 == o->n_gen) break;
        if ((rc = run_ctx_eval(s->c, &t, 1, s->logits, err)) || (rc = run_weights_check_file(&s->w, err))) return rc;
        if ((rc = ref_eval(&s->rr, &t, 1, s->logits, s->V, run_ctx_n_pos(s->c) - 1, err))) return rc;
    }
    return TRIT_OK;
}

/* --stats: say which experts the budget cannot hold. The cache never keeps such an expert
 * (run_cache.c): it is decoded into a transient buffer at every use and freed after it. */
static void print_uncached(const session *s, const run_stats *st)
{
    const trit_reader *r = run_weights_trit_reader(&s->w);
    uint32_t n_big = 0;
    uint64_t big = 0;
    for (uint32_t u = 0; r && u < trit_reader_n_units(r); u++) {
        uint64_t const d = trit_reader_unit(r, u)->decoded_size;
        if (d <= st->budget) continue;
        n_big++;
        if (d > big) big = d;
    }
    if (n_big)
        fprintf(stderr, "  %u expert unit%s (up to %.1f MiB) larger than the budget of %.1f MiB: decoded at every use, never cached\n",
                n_big, n_big == 1 ? "" : "s", (double)big / (1024.0 * 1024.0), (double)st->budget / (1024.0 * 1024.0));
}

/* The tokens (and stats) as one JSON object on stdout, or as text. */
static void print_output(const cli_opts *o, const session *s)
{
    run_stats st;
    run_ctx_stats(s->c, &st);
    if (o->json) {
        printf("{");
        print_ids_json(stdout, "prompt_tokens", s->in, s->n_in);
        printf(",");
        print_ids_json(stdout, "tokens", s->gen, s->n_out);
        if (o->stats) {
            printf(",\"stats\":");
            run_stats_print(&st, s->c, 1, stdout);
        } else {
            printf("}\n");
        }
        if (o->stats) printf("}\n");
        return;
    }
#ifdef RUN_HAVE_TOK
    if (s->tok) printf("\n");
    else
#endif
    {
        for (uint32_t i = 0; i < s->n_out; i++) printf("%s%u", i ? " " : "", s->gen[i]);
        printf("\n");
    }
    if (o->stats) {
        fflush(stdout); /* the text first, then the stats (stderr is unbuffered) */
        run_stats_print(&st, s->c, 0, stderr);
        print_uncached(s, &st);
    }
}

static void print_reference(const char *prog, const cli_opts *o, const session *s)
{
    if (s->rr.mismatch) fprintf(stderr, "%s: the container's logits differ from the source's (%s)\n", prog, o->reference);
    else
        fprintf(stderr, "reference: logits bit-identical to %s at %u evaluated positions (%u values each)\n",
                o->reference, s->rr.n_checked, s->V);
}

static int run_main(const char *prog, const cli_opts *o)
{
    trit_err err;
    trit_err_clear(&err);
    session s;
    memset(&s, 0, sizeof s);
    int rc = session_open(prog, o, &s, &err);
    if (!rc) rc = generate(o, &s, &err);
    if (!rc && o->logits_path) rc = write_logits(o->logits_path, s.logits, s.V, &err);
    if (!rc) {
        print_output(o, &s);
        if (fflush(stdout) != 0) rc = trit_err_set(&err, TRIT_E_IO, TRIT_NO_OFFSET, NULL, "cannot write output");
    }
    if (!rc && s.rr.c) print_reference(prog, o, &s);
    if (rc && !s.reported) report(prog, &err);
    int const mismatch = s.rr.mismatch;
    session_free(&s);
    return rc == TRIT_OK && mismatch ? TRIT_EXIT_MISMATCH : trit_exit_code(rc);
}

static void opts_default(cli_opts *o)
{
    memset(o, 0, sizeof *o);
    o->n_gen = 16;
    o->budget = RUN_DEFAULT_EXPERT_CACHE;
    o->policy = RUN_POLICY_DEFAULT;
    o->prefetch = RUN_PREFETCH_DEFAULT;
    o->seed = 1;
    o->top_k = 40;
    o->top_p = 0.95f;
    long const ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    o->threads = ncpu < 1 ? 1 : ncpu > 4 ? 4 : (uint64_t)ncpu;
}

enum { O_TOKENS = 256, O_PROMPT, O_TEMP, O_TOPK, O_TOPP, O_SEED, O_THREADS, O_LOGITS, O_STATS, O_JSON, O_CACHE,
       O_POLICY, O_CTX, O_KERNEL, O_VERIFY, O_NOVERIFY, O_TRACE, O_NOEOS, O_REF, O_ACT, O_PREFETCH };

static int parse_kernel(const char *s, uint32_t *k)
{
    if (!strcmp(s, "auto")) *k = RUN_KERNEL_AUTO;
    else if (!strcmp(s, "ref")) *k = RUN_KERNEL_REF;
    else if (!strcmp(s, "avx2")) *k = RUN_KERNEL_AVX2;
    else if (!strcmp(s, "neon")) *k = RUN_KERNEL_NEON;
    else if (!strcmp(s, "avxvnni")) *k = RUN_KERNEL_AVXVNNI;
    else if (!strcmp(s, "avx512")) *k = RUN_KERNEL_AVX512;
    else if (!strcmp(s, "neondot")) *k = RUN_KERNEL_NEONDOT;
    else if (!strcmp(s, "neoni8mm")) *k = RUN_KERNEL_NEONI8MM;
    else return -1;
    return 0;
}

/* One option into o; the option's name when its value is invalid, else NULL. */
static const char *parse_option(int ch, const char *arg, cli_opts *o)
{
    run_policy p;
    switch (ch) {
    case O_TOKENS: o->tokens = arg; return NULL;
    case O_PROMPT: o->prompt = arg; return NULL;
    case 'n': return trit_sys_parse_u64(arg, 0, RUN_MAX_CTX, &o->n_gen) ? "-n" : NULL;
    case O_TEMP: return parse_float(arg, 0, 100, &o->temp) ? "--temp" : NULL;
    case O_TOPK: return trit_sys_parse_u64(arg, 0, UINT32_MAX, &o->top_k) ? "--top-k" : NULL;
    case O_TOPP: return parse_float(arg, 0, 1, &o->top_p) ? "--top-p" : NULL;
    case O_SEED: return trit_sys_parse_u64(arg, 0, UINT64_MAX, &o->seed) ? "--seed" : NULL;
    case O_THREADS: return trit_sys_parse_u64(arg, 1, RUN_MAX_THREADS, &o->threads) ? "--threads" : NULL;
    case O_LOGITS: o->logits_path = arg; return NULL;
    case O_STATS: o->stats = 1; return NULL;
    case O_JSON: o->json = 1; return NULL;
    case O_CACHE: return trit_sys_parse_size(arg, &o->budget) ? "--expert-cache" : NULL;
    case O_POLICY:
        if (run_policy_from_name(arg, &p)) return "--cache-policy";
        o->policy = p;
        return NULL;
    case O_PREFETCH:
        if (strcmp(arg, "on") && strcmp(arg, "off") && strcmp(arg, "sync")) return "--prefetch";
        o->prefetch = !strcmp(arg, "on") ? RUN_PREFETCH_ON : !strcmp(arg, "sync") ? RUN_PREFETCH_SYNC : RUN_PREFETCH_OFF;
        return NULL;
    case O_CTX: return trit_sys_parse_u64(arg, 1, RUN_MAX_CTX, &o->n_ctx) ? "--ctx" : NULL;
    case O_KERNEL: return parse_kernel(arg, &o->kernel) ? "--kernel" : NULL;
    case O_VERIFY: o->verify = 1; return NULL;
    case O_NOVERIFY: o->no_verify = 1; return NULL;
    case O_TRACE: o->trace_path = arg; return NULL;
    case O_NOEOS: o->ignore_eos = 1; return NULL;
    case O_REF: o->reference = arg; return NULL;
    case O_ACT: return run_act_mode_from_name(arg, &o->act_scales) ? "--act-scales" : NULL;
    default: return NULL;
    }
}

/* The combinations getopt cannot check; 0 when fine, else the usage exit code (printed). */
static int check_args(const char *prog, int argc, const cli_opts *o)
{
    if (optind + 1 != argc) {
        fprintf(stderr, "%s: expected exactly one MODEL.trit\n", prog);
        usage(prog, stderr);
        return TRIT_EXIT_USAGE;
    }
    if (o->reference && o->act_scales == RUN_ACT_SCALES_STATIC) {
        fprintf(stderr, "%s: --reference compares dynamic-mode logits; drop --act-scales static\n", prog);
        return TRIT_EXIT_USAGE;
    }
    if (o->verify && o->no_verify) {
        fprintf(stderr, "%s: give at most one of --verify and --no-verify\n", prog);
        return TRIT_EXIT_USAGE;
    }
    if (!o->tokens == !o->prompt) {
        fprintf(stderr, "%s: give exactly one of --tokens and --prompt\n", prog);
        return TRIT_EXIT_USAGE;
    }
    return 0;
}

/* argv into o; -1 when the run should go on, else the exit code (help, usage error). */
static int parse_args(const char *prog, int argc, char **argv, cli_opts *o)
{
    static const struct option longopts[] = {
        {"tokens", required_argument, NULL, O_TOKENS}, {"prompt", required_argument, NULL, O_PROMPT},
        {"temp", required_argument, NULL, O_TEMP},     {"top-k", required_argument, NULL, O_TOPK},
        {"top-p", required_argument, NULL, O_TOPP},    {"seed", required_argument, NULL, O_SEED},
        {"threads", required_argument, NULL, O_THREADS}, {"logits", required_argument, NULL, O_LOGITS},
        {"stats", no_argument, NULL, O_STATS},         {"json", no_argument, NULL, O_JSON},
        {"expert-cache", required_argument, NULL, O_CACHE}, {"cache-policy", required_argument, NULL, O_POLICY},
        {"ctx", required_argument, NULL, O_CTX},       {"kernel", required_argument, NULL, O_KERNEL},
        {"verify", no_argument, NULL, O_VERIFY},       {"no-verify", no_argument, NULL, O_NOVERIFY},
        {"trace", required_argument, NULL, O_TRACE},   {"prefetch", required_argument, NULL, O_PREFETCH},
        {"ignore-eos", no_argument, NULL, O_NOEOS},    {"reference", required_argument, NULL, O_REF},
        {"act-scales", required_argument, NULL, O_ACT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    opts_default(o);
    int ch;
    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "hn:", longopts, NULL)) != -1) {
        if (ch == 'h') {
            usage(prog, stdout);
            return TRIT_EXIT_OK;
        }
        if (ch == '?' || ch == ':') {
            fprintf(stderr, "%s: unknown option or missing value: '%s'\n", prog, argv[optind - 1]);
            usage(prog, stderr);
            return TRIT_EXIT_USAGE;
        }
        const char *bad = parse_option(ch, optarg, o);
        if (bad) {
            fprintf(stderr, "%s: invalid value for %s: '%s'\n", prog, bad, optarg);
            return TRIT_EXIT_USAGE;
        }
    }
    int const rc = check_args(prog, argc, o);
    if (rc) return rc;
    o->model = argv[optind];
    return -1;
}

int run_cli_main(const char *prog, int argc, char **argv, const run_cli_hooks *hooks)
{
    cli_opts o;
    int const rc = parse_args(prog, argc, argv, &o);
    if (rc >= 0) return rc;
    o.hooks = hooks;
    return run_main(prog, &o);
}
