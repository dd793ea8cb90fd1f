/*
 * vfy.h - `trit verify`: the OTA gate's checks on model files.
 *
 * verify (vfy_trit.c for containers, vfy_foreign.c for sources) answers "may this file ship?". For a .trit it checks, object
 * by object, and keeps going after a failure so the report lists every failing object once:
 *
 *   integrity  structure and bounds (libtrit's open-time validation), the header and index
 *              checksums, every dense tensor's, section's and expert unit's xxh3, every unit
 *              decoded and its decoded size and member checksums checked, every padding byte zero
 *   tensor     t2 codes valid (no code 3), t2 scales finite and non-zero, no NaN/Inf in float
 *              tensors, no all-zero projection matrix (the defect of a re-uploaded 2B4T release)
 *   metadata   spec/container.md section 10 against the tensors: required keys, model.n_layer
 *              against the blk.L tensors present, moe.n_expert against the units of each layer,
 *              every tensor's shape per the name table (attn_q is [n_head*head_dim, n_embd] ...)
 *   compat     format version, required features and element types against a runtime version
 *              (this one, or an older one with --runtime-version)
 *   smoke      optional: run N tokens through a runner callback, logits finite, golden logits
 *
 * .gguf and .safetensors inputs get the structural checks of their readers (src_gguf.h,
 * src_safetensors.h: bounds, sizes, overlaps), the tensor checks on decoded values (plus raw
 * ternary code checks for TQ2_0 and I2_S), and the metadata checks on the normalized model
 * description (insp_norm.c). They have no checksums and no runtime compatibility.
 *
 * Exit codes: spec/errors.md. Conventions: libtrit's (trit.h): fallible calls
 * return TRIT_OK or a TRIT_E_* code and fill the trit_err given last (may be NULL). Nothing here
 * keeps global state; a report is owned by its caller.
 */
#ifndef VFY_H
#define VFY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "trit.h"

/* ------------------------------------------------------------------------------------------ */
/* Runtime versions: what each released runtime can read and compute with.                    */

typedef struct vfy_runtime {
    const char *version;       /* "0.1.0" */
    uint16_t max_major;        /* newest container format it reads: max_major.max_minor */
    uint16_t max_minor;
    uint64_t known_required;   /* required feature bits it implements (TRIT_FEAT_REQ_*) */
    uint32_t n_types;          /* element type ids 0 .. n_types-1 it can compute with */
} vfy_runtime;

/* The built-in table, oldest first. Borrowed, static storage; *n receives the row count. */
const vfy_runtime *vfy_runtime_table(size_t *n);
/* The row that describes runtime `version` ("M.m" or "M.m.p"): the newest row not newer than
 * it. tab == NULL uses the built-in table. *newer is set to 1 when version is newer than every
 * row (the newest row is returned; the caller should say so). TRIT_E_USAGE for a malformed
 * version or one older than the oldest row. *out is borrowed from the table. */
int vfy_runtime_find(const char *version, const vfy_runtime *tab, size_t n_tab,
                     const vfy_runtime **out, int *newer, trit_err *err);

/* ------------------------------------------------------------------------------------------ */
/* Verification report.                                                                       */

typedef enum vfy_class {
    VFY_C_IO = 0,          /* cannot read the file */
    VFY_C_INTEGRITY,       /* structure, bounds, checksums, decoding, padding */
    VFY_C_LIMIT,           /* a declared size or count exceeds a hard cap */
    VFY_C_COMPAT,          /* not loadable by the target runtime */
    VFY_C_TENSOR,          /* intact bytes, invalid values */
    VFY_C_METADATA,        /* metadata disagrees with the tensors or the spec */
    VFY_C_SMOKE,           /* the smoke run failed */
    VFY_C_INTERNAL,        /* the verifier itself failed (out of memory): the checks did not all
                              run, so the file is not passed (exit 70) */
    VFY_C_COUNT_
} vfy_class;

/* Short name of a class ("integrity"). Static storage. */
const char *vfy_class_name(int cls);

typedef struct vfy_issue {
    int cls;                   /* vfy_class */
    int warning;               /* 1: reported, does not fail verification */
    uint64_t offset;           /* byte offset in the file, or TRIT_NO_OFFSET */
    char object[160];          /* "tensor 'blk.0.attn_q.weight'", "expert unit 3 (layer 0 expert 3)" */
    char msg[320];             /* lowercase, no trailing period */
} vfy_issue;

typedef struct vfy_report {
    char file[256];            /* as given */
    char format[16];           /* "trit" | "gguf" | "safetensors" | "" if unknown */
    char version[16];          /* format version ("1.0", "3") */
    char runtime[16];          /* runtime version checked against ("" when not applicable) */
    vfy_issue *issues;         /* owned; the first max_issues findings */
    uint32_t n_issues, cap_issues;
    uint32_t max_issues;       /* kept in `issues`; later ones are only counted */
    uint64_t n_dropped;        /* findings beyond max_issues */
    uint64_t n_errors[VFY_C_COUNT_];   /* per class, including dropped ones */
    uint64_t n_warnings;
    uint64_t n_tensors, n_units, n_sections, n_kv;   /* objects checked */
    uint64_t bytes_hashed;     /* bytes run through a checksum or a value check */
    int smoke_ran;             /* 1 if the smoke run happened */
    int load_checked;          /* 1 if the runtime's own load of the model ran and succeeded */
    int stopped;               /* 1 if checking stopped early (the index could not be read) */
} vfy_report;

/* Initialise an empty report for `file`. max_issues 0 = 1000. */
void vfy_report_init(vfy_report *r, const char *file, uint32_t max_issues);
/* Free what the report owns (not r itself). */
void vfy_report_release(vfy_report *r);
/* Record a finding (printf-style message). Never fails: on allocation failure the finding is
 * counted but not listed, and an internal error is counted with it (exit 70). */
void vfy_report_add(vfy_report *r, int cls, int warning, uint64_t offset, const char *object,
                    const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 6, 7)))
#endif
    ;
/* Record a trit_err as a finding of class cls (object from err->where unless `object`). */
void vfy_report_add_err(vfy_report *r, int cls, const char *object, const trit_err *err);
/* Total errors (not warnings). */
uint64_t vfy_report_n_errors(const vfy_report *r);
/* Exit code for the report (spec/errors.md, "trit verify"): 0 when no errors. */
int vfy_report_exit(const vfy_report *r);
/* Text: one line per failing object (warnings too), then a summary line. verbose adds the
 * counts of checked objects. Allocates nothing. Returns 0, or -1 on a write error. */
int vfy_report_print(const vfy_report *r, FILE *out, int verbose);
/* JSON report (schema: spec/errors.md "verify --json"). Caller frees with free(); NULL on
 * allocation failure (never a report with fields missing). */
char *vfy_report_json(const vfy_report *r);

/* ------------------------------------------------------------------------------------------ */
/* Verification.                                                                              */

/* Smoke hook: evaluate tokens[0..n_tokens) with the model in `path` (or the reader `r` when the
 * runner can use it) and write the n_vocab logits of the last position to logits. Returns
 * TRIT_OK or an error (err says why). Provided by the runner (runner/), see vfy_opts. */
typedef int (*vfy_smoke_fn)(void *ctx, const trit_reader *r, const char *path,
                            const uint32_t *tokens, uint32_t n_tokens, float *logits,
                            uint64_t n_vocab, trit_err *err);

/* Load hook: build the model the way the runtime does (hyperparameters, every tensor resolved
 * and shape-checked, expert descriptions, tokenizer), without evaluating anything. verify runs
 * it on every .trit whose bytes are intact, so that verify OK means the runtime can load the
 * file. Provided by the runner (run_check_load), see vfy_opts. */
typedef int (*vfy_load_fn)(void *ctx, const trit_reader *r, trit_err *err);

typedef struct vfy_opts {
    const char *runtime_version;   /* check compatibility against it; NULL = this runtime */
    const vfy_runtime *runtimes;   /* runtime table; NULL = vfy_runtime_table() */
    size_t n_runtimes;
    uint32_t smoke_tokens;         /* --smoke N: tokens to run (0 = no smoke run) */
    vfy_smoke_fn smoke_fn;         /* NULL: --smoke is reported as unavailable */
    void *smoke_ctx;
    vfy_load_fn load_fn;           /* NULL: the runtime's load is not checked (report.load_checked 0);
                                      `trit verify` always sets it */
    void *load_ctx;
    float smoke_tol;               /* max |logit - golden| (0 = 1e-2) */
    uint32_t max_issues;           /* 0 = 1000 */
    uint32_t threads;              /* threads for a .trit's data checks; 0 = one per online core.
                                      The report is the same at any count */
} vfy_opts;

/* Verify the file at path (.trit, .gguf, .safetensors, an index.json or a model directory).
 * Findings go to rep (initialised here; release with vfy_report_release()). Returns TRIT_OK
 * when verification ran, whatever it found; TRIT_E_USAGE for bad options (unknown runtime
 * version, err says why). opts may be NULL. */
int vfy_verify(const char *path, const vfy_opts *opts, vfy_report *rep, trit_err *err);
/* The same for a .trit image in memory (buf borrowed for the call). name is used in messages. */
int vfy_verify_trit_mem(const void *buf, size_t len, const char *name, const vfy_opts *opts,
                        vfy_report *rep, trit_err *err);

#endif /* VFY_H */
