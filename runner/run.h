/*
 * run.h - the runner: executes a model described by spec/container.md section 10 (metadata
 * keys, canonical tensor names, forward pass), with lazy expert paging.
 *
 * Layers of the design:
 *   run_weights   a weight SOURCE behind a small vtable: metadata getters, dense tensors by
 *                 canonical name, and MoE experts as decoded images. The .trit provider
 *                 (run_weights_open_trit) serves dense tensors as zero-copy views of the mmap
 *                 and experts with one trit_reader_unit_read each; a second provider (the
 *                 source checkpoint through the converter, for `trit run --reference`) plugs in
 *                 by filling the same vtable.
 *   run_ctx       the executable model: hyperparameters, resolved tensors, the expert cache
 *                 (byte budget, eviction policy), a KV cache, a thread pool and scratch.
 *                 run_ctx_eval() appends tokens and returns the last position's logits.
 *
 * Compute: float tensors (f32/f16/bf16) in float; t2 tensors the BitNet way (activations
 * quantized to int8 per token, absmax 127/max|x|; integer dot products; scaled once per row, or
 * once per group for per-group scales). Every output element is computed by one thread in a
 * fixed order, so logits do not depend on the thread count or on the expert budget.
 *
 * Thread-safety: a run_ctx is used by one thread at a time (it owns its worker pool).
 */
#ifndef RUN_H
#define RUN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "trit.h"
#include "run_weights.h"

/* ------------------------------------------------------------------------------------------ */
/* Execution.                                                                                 */

/* Expert eviction policies (run_cache.c). */
typedef enum run_policy {
    RUN_POLICY_LRU = 0,        /* least recently used */
    RUN_POLICY_LFU = 1,        /* least (aged) frequency, LRU among equals */
    RUN_POLICY_LAYER = 2,      /* largest expected time to next use: aged frequency of the
                                  expert and the cyclic distance to its layer */
    RUN_POLICY_COUNT_
} run_policy;
#define RUN_POLICY_DEFAULT RUN_POLICY_LAYER

/* Name of a policy ("lru"), or NULL. Static storage. */
const char *run_policy_name(uint32_t p);
/* Policy by name; TRIT_E_NOTFOUND if unknown. */
int run_policy_from_name(const char *name, run_policy *out);

/* Kernels. */
typedef enum run_kernel_choice {
    RUN_KERNEL_AUTO = 0,       /* best available on this CPU */
    RUN_KERNEL_REF = 1,        /* portable C reference */
    RUN_KERNEL_AVX2 = 2,       /* x86-64 AVX2 (TRIT_E_UNSUPPORTED where absent) */
    RUN_KERNEL_NEON = 3,       /* aarch64 NEON */
    RUN_KERNEL_AVXVNNI = 4,    /* x86-64 AVX2 + AVX-VNNI */
    RUN_KERNEL_AVX512 = 5,     /* x86-64 AVX-512 F/BW/VL + VNNI */
    RUN_KERNEL_NEONDOT = 6,    /* aarch64 NEON + dot product (sdot) */
    RUN_KERNEL_NEONI8MM = 7    /* ... + the int8 matrix multiply (smmla) prefill kernel */
} run_kernel_choice;

#define RUN_DEFAULT_EXPERT_CACHE (256ull << 20)   /* phone-class budget for decoded experts */

/* Activation quantization of t2 inputs (spec section 9). A "site" is one activation vector the
 * forward pass quantizes, read by the tensors run_act_site_tensors() names. */
typedef enum run_site_kind {
    RUN_SITE_ATTN_IN = 0,      /* attn_q, attn_k, attn_v */
    RUN_SITE_ATTN_OUT,         /* attn_output */
    RUN_SITE_FFN_IN,           /* ffn_gate, ffn_up (dense FFN) */
    RUN_SITE_FFN_DOWN,         /* ffn_down */
    RUN_SITE_ROUTER,           /* ffn_gate_inp (when t2) */
    RUN_SITE_SHEXP_IN,         /* ffn_gate_shexp, ffn_up_shexp */
    RUN_SITE_SHEXP_DOWN,       /* ffn_down_shexp */
    RUN_SITE_EXP_IN,           /* ffn_gate.E, ffn_up.E */
    RUN_SITE_EXP_DOWN,         /* ffn_down.E */
    RUN_SITE_OUTPUT,           /* output (no layer) */
    RUN_SITE_COUNT_
} run_site_kind;

typedef struct run_act_site {
    uint32_t kind;             /* run_site_kind */
    uint32_t layer;            /* transformer layer; UINT32_MAX for RUN_SITE_OUTPUT */
    uint32_t expert;           /* the expert for RUN_SITE_EXP_*, else UINT32_MAX */
} run_act_site;

/* Short name of a site kind ("attn_in"), or NULL. Static storage. */
const char *run_site_kind_name(uint32_t kind);
/* Canonical names (spec 10.2) of the tensors that read site s's activations, into names[0..n)
 * (n <= 3, each NUL-terminated). Returns n (0 for an unknown kind). */
uint32_t run_act_site_tensors(const run_act_site *s, char names[3][96]);

typedef enum run_act_mode {
    RUN_ACT_SCALES_DYNAMIC = 0,  /* absmax per token (BitNet): the default and the reference */
    RUN_ACT_SCALES_STATIC = 1,   /* the model's activation-scale section; values beyond the
                                    static range are clipped (counted in run_stats) */
    RUN_ACT_SCALES_BLOCK = 2,    /* absmax per 256 consecutive values of a token (llama.cpp's
                                    q8_K grain): finer than per token on rows of several blocks */
    RUN_ACT_SCALES_FLOAT = 3     /* no activation quantization: the ternary weights against the
                                    float activations (binary32 products, double sums). Not a
                                    deployment mode: the reference every int8 scheme is judged
                                    against (`trit eval`) */
} run_act_mode;
#define RUN_ACT_SCALES_COUNT_ 4u

/* Name of a mode ("dynamic", "static", "block", "float"), or NULL. Static storage. */
const char *run_act_mode_name(uint32_t mode);
/* Mode by name; TRIT_E_NOTFOUND if unknown. */
int run_act_mode_from_name(const char *name, uint32_t *out);

/* Observer (calibration): called on the evaluating thread with every activation vector just
 * before it is quantized for a t2 projection: rows x + t * ldx for t < n, cols values each,
 * borrowed for the call. */
typedef void (*run_act_observe_fn)(void *arg, const run_act_site *site, const float *x, uint64_t ldx, uint64_t cols,
                                   uint32_t n);

typedef struct run_opts {
    uint32_t n_threads;        /* workers including the caller; 0 = 1 */
    uint64_t expert_cache;     /* byte budget for decoded experts (0 = keep none) */
    uint32_t policy;           /* run_policy */
    uint32_t kernel;           /* run_kernel_choice */
    uint32_t n_ctx;            /* positions the KV cache holds; 0 = model.n_ctx (capped 4096) */
    FILE *trace;               /* if set, one line "layer expert" per expert access */
    uint32_t prefetch;         /* RUN_PREFETCH_*: load the next layer's likely experts on a
                                  background thread (run_prefetch.c); never changes a result */
    uint32_t act_scales;       /* run_act_mode (static needs a .trit with a kind-5 section) */
    run_act_observe_fn act_observe;  /* NULL, or called with every t2 input (calibration) */
    void *act_arg;             /* passed to act_observe */
} run_opts;

/* RUN_PREFETCH_SYNC: the evaluating thread waits for each hint to be loaded (measures the
 * guess apart from thread scheduling; for tests and benchmarks, never faster). */
enum { RUN_PREFETCH_OFF = 0, RUN_PREFETCH_ON = 1, RUN_PREFETCH_SYNC = 2 };
#define RUN_PREFETCH_DEFAULT RUN_PREFETCH_ON

/* Fill o with the defaults (1 thread, RUN_DEFAULT_EXPERT_CACHE, default policy, auto kernels). */
void run_opts_default(run_opts *o);

typedef struct run_ctx run_ctx;

/* Build an executable model over w (borrowed: it must outlive the context). Reads and checks
 * the metadata and every dense tensor's shape and type; loads no expert. *out caller frees
 * with run_ctx_free(). */
int run_ctx_new(const run_weights *w, const run_opts *o, run_ctx **out, trit_err *err);
void run_ctx_free(run_ctx *c);

/* Evaluate n tokens at the next positions; with logits non-NULL, write the last position's
 * n_vocab logits there. TRIT_E_LIMIT when the KV cache is full and TRIT_E_USAGE for a token
 * id out of range (both before anything is computed); expert read errors (TRIT_E_CHECKSUM,
 * TRIT_E_IO ...) pass through, after which the positions are undefined: run_ctx_reset(). */
int run_ctx_eval(run_ctx *c, const uint32_t *tokens, uint32_t n, float *logits, trit_err *err);
/* Forget every position (the expert cache and statistics stay). */
void run_ctx_reset(run_ctx *c);

/* Model facts. */
uint32_t run_ctx_n_vocab(const run_ctx *c);
uint32_t run_ctx_n_pos(const run_ctx *c);          /* positions evaluated so far */
uint32_t run_ctx_n_ctx(const run_ctx *c);          /* KV capacity */
/* Kernel set in use ("ref", "avx2", "avxvnni", "avx512", "neon", "neondot", "neoni8mm"). Static storage. */
const char *run_ctx_kernel_name(const run_ctx *c);
/* bos/eos from metadata, or UINT32_MAX. */
uint32_t run_ctx_bos(const run_ctx *c);
uint32_t run_ctx_eos(const run_ctx *c);

/* Statistics. */
typedef struct run_stats {
    uint32_t n_layer;          /* entries of the per-layer arrays */
    const uint64_t *hits;      /* expert cache hits per layer (borrowed, valid until free) */
    const uint64_t *misses;    /* expert cache misses per layer */
    uint64_t total_hits, total_misses;
    uint64_t bytes_paged;      /* decoded bytes loaded into the cache */
    uint64_t bytes_read;       /* bytes read from the source for them (stored, maybe compressed) */
    uint64_t evictions;
    uint64_t resident_bytes, peak_resident_bytes;
    uint64_t budget;
    double load_p50_ms, load_p99_ms;   /* expert load latency (read + decode + check) */
    uint64_t n_loads;
    /* prefetch (run_opts.prefetch): experts it loaded, demand accesses they served, evicted
     * unused, accesses that waited for one in flight, prefetches skipped for want of room */
    uint64_t prefetch_loads, prefetch_hits, prefetch_wasted, prefetch_waits, prefetch_skipped;
    uint64_t prefill_tokens, decode_tokens;
    double prefill_s, decode_s;         /* wall time spent in eval, by kind */
    double prefill_cpu_s, decode_cpu_s; /* process CPU time (all threads, user + sys) in eval */
    uint64_t dense_bytes;      /* bytes of dense matrices read per token (mmap views) */
    uint64_t expert_bytes_used;   /* decoded bytes of all expert uses, hits and misses */
    uint64_t expert_bytes_decode; /* ... in single-token (decode) evaluations */
    uint64_t peak_rss;         /* bytes, from getrusage */
    /* static activation scales only (else n_act_layers = 0 and the arrays NULL): per layer,
     * index n_layer for the output head; borrowed, valid until free */
    uint32_t n_act_layers;
    const uint64_t *act_values;   /* activation values quantized */
    const uint64_t *act_clipped;  /* ... of which beyond the static range (clipped) */
} run_stats;

/* Snapshot of the statistics. Evaluations of more than one token count as prefill, single
 * tokens as decode. */
void run_ctx_stats(const run_ctx *c, run_stats *out);
/* Print stats as text or JSON (json non-zero). */
void run_stats_print(const run_stats *s, const run_ctx *c, int json, FILE *f);

/* ------------------------------------------------------------------------------------------ */
/* Integrity of a .trit provider (run_weights_trit.c).
 *
 * run_weights_open_trit(path, flags, ...) checks by default, before it returns, every dense
 * tensor's xxh3 against the index (the dense tensors are used in place from the mapping, so
 * nothing else would see a flipped bit), on RUN_VERIFY_THREADS threads at most. Expert units
 * need no pass at open: every unit read checks the stored xxh3 and the decoded size, and
 * sections are hashed at each access. flags:
 *   0                   the default: the dense pass
 *   RUN_OPEN_NO_VERIFY  skip it (`--no-verify`; or call run_weights_verify yourself, e.g. with
 *                       your own thread count or after installing a signal guard)
 *   TRIT_OPEN_VERIFY    the whole-file check of trit_reader_verify instead (every unit decoded,
 *                       padding, t2 codes: `--verify`) */
#define RUN_OPEN_NO_VERIFY (1u << 16)
#define RUN_VERIFY_THREADS 4u   /* threads of the default pass (at most the online CPUs) */

/* Hash every dense tensor of w (a .trit provider; TRIT_OK for others) on n_threads threads
 * (0 = the default) and compare with the index: TRIT_E_CHECKSUM naming the tensor at the
 * lowest offset found. */
int run_weights_verify(const run_weights *w, uint32_t n_threads, trit_err *err);
/* TRIT_E_IO if w's file was truncated, extended or written since it was opened (one fstat;
 * trit_reader_file_check), else TRIT_OK. The runner's CLI calls it after every evaluation, so
 * no token computed from a changed file is printed. A file truncated while mapped raises
 * SIGBUS on access to a lost page: the CLI turns that into exit 3 (run_cli.c); a library user
 * that must survive it installs its own handler (README "Integrity at run time"). */
int run_weights_check_file(const run_weights *w, trit_err *err);

/* ------------------------------------------------------------------------------------------ */
/* Sampling.                                                                                  */

typedef struct run_sampler {
    float temp;                /* <= 0: greedy */
    uint32_t top_k;            /* 0 = all */
    float top_p;               /* 1 = off */
    uint64_t state;            /* RNG state (splitmix64), seeded by run_sampler_init */
} run_sampler;

void run_sampler_init(run_sampler *s, float temp, uint32_t top_k, float top_p, uint64_t seed);
/* Pick a token from n logits. scratch must hold n floats and n uint32 (or NULL: allocates). */
uint32_t run_sample(run_sampler *s, const float *logits, uint32_t n);

/* ------------------------------------------------------------------------------------------ */
/* The runner as the OTA gate's judge (run_check.c): the shapes of vfy_load_fn and vfy_smoke_fn,
 * so `trit verify` asks this runtime whether it loads the container and what it computes. */

/* Build the model over reader r exactly as run_ctx_new does (every key, tensor and expert
 * description resolved and checked), one position of KV cache, then free it. ctx unused. */
int run_check_load(void *ctx, const trit_reader *r, trit_err *err);
/* Evaluate tokens and write the last position's n_vocab logits (one thread). ctx, path unused. */
int run_check_logits(void *ctx, const trit_reader *r, const char *path, const uint32_t *tokens, uint32_t n_tokens,
                     float *logits, uint64_t n_vocab, trit_err *err);

/* ------------------------------------------------------------------------------------------ */
/* Command line shared by `trit run` and the standalone `trit-run`. */

/* What the host binary adds to the shared command line. trit-run passes none; `trit run`
 * gives open_reference (the source checkpoint through the converter's readers). */
typedef struct run_cli_hooks {
    /* Open src as a weight provider for --reference SRC, converted the way the container was
     * where that changes the numbers (container: the model being run); release with
     * run_weights_close(). */
    int (*open_reference)(const char *src, const run_weights *container, run_weights *out, trit_err *err);
} run_cli_hooks;

/* Parse argv, run, print; returns the process exit code (0 ok, 1 --reference mismatch,
 * 2 usage, 3 i/o, 4 corrupt, 5 unsupported, 6 limit). prog is the name used in messages
 * ("trit run"). hooks may be NULL. */
int run_cli_main(const char *prog, int argc, char **argv, const run_cli_hooks *hooks);

#endif /* RUN_H */
