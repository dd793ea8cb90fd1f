/*
 * cal.h - `trit calibrate`: static int8 activation scales for every t2 projection,
 * chosen per layer from calibration tokens and stored in the activation-scale section
 * (kind 5, spec/container.md section 9) of a copy of the container.
 *
 * The pipeline, one file each:
 *   cal_copy.c   copy a container through libtrit's writer (every KV, section, unit and
 *                      tensor; units decoded and re-encoded), replacing the kind-5 section
 *   cal_stats.c  the runner's activation observer: statistics on the fit tokens, then
 *                      the output error of every candidate on the held-out tokens
 *   cal.c        the passes, the choice per layer, the entries, the report
 *   cal_data.c   calibration tokens (text through the carried tokenizer, or ids) and the
 *                      static-versus-dynamic comparison (top-1 agreement, KL divergence)
 *   cal_eval.c   the accuracy of every activation-scale mode against the float reference
 *                      (`trit eval`, `trit calibrate --eval`): perplexity, KL, top-1
 *   cal_pipeline.c  what the command line runs: calibration and evaluation from files, and
 *                      `trit convert --calib` (convert, then calibrate the result)
 *
 * Sites. The forward pass quantizes one activation vector per "site" (runner/run.h,
 * run_site_kind): a layer's attention input (read by attn_q/k/v), attention output
 * (attn_output), FFN input (ffn_gate/up), FFN hidden (ffn_down), and the same per expert and for
 * the shared experts. Each site of each layer is calibrated as one unit; for experts, a layer's
 * experts form one group (one granularity for the layer), each expert with its own scales when
 * it saw at least min_rows fit rows, else the statistics of all the layer's experts pooled.
 *
 * Data. The calibration tokens are cut into sequences of seq_len tokens (fewer when the data
 * is short, so that there are at least holdout_every sequences); every holdout_every-th
 * sequence is HELD OUT. The model runs in dynamic mode (absmax per token, the reference).
 *   fit sequences:      per site absmax per channel, absmax per tensor, percentiles of |x|
 *   held-out sequences: for each candidate, the output of the site's projections (eval_rows
 *                       sampled rows of each) with the activations quantized that way, against
 *                       the output with unquantized activations
 *
 * Candidates and the rule. Per tensor with the scale at the absmax, at the 99.99th percentile of
 * |x|, and at the clip c minimizing the activations' own int8 error estimated from the |x|
 * histogram (min(x^2, step^2/12) below c, (x - c)^2 above, step = c/127; searched over six
 * octaves below the absmax); per group of 128 and of 32 channels (group absmax); per
 * channel (channel absmax); scale = value / 127. err(c) = sqrt(sum (y_c - y)^2 / sum y^2) over
 * held-out tokens and sampled outputs, y the output with unquantized activations. The per-tensor
 * error is the best of its three clipping levels. The choice is the COARSEST granularity (tensor,
 * group 128, group 32, channel) with err <= (1 + tolerance) * min err, tolerance 1 by default: a
 * finer granularity must at least halve the error to be kept, because it costs memory traffic
 * and integer-pipeline work (per channel: a float rescale per input). Measured on generated
 * models, sites without outliers come out within 1.6x of their best granularity, while an
 * activation-outlier channel (one input 50x the others) costs per tensor 5-8x. Measuring
 * against unquantized outputs, not against the dynamic per-token reference, is deliberate: an
 * outlier channel makes the dynamic reference itself coarse (its per-token absmax is the
 * outlier), and matching it would reward copying that flaw. The report gives both: each
 * candidate's error, the dynamic scheme's own error on the same outputs, and the chosen scales'
 * difference from the dynamic outputs.
 */
#ifndef CAL_H
#define CAL_H

#include <stdint.h>

#include "cvt.h"
#include "run.h"
#include "trit.h"

/* ---- copying a container ------------------------------------------------------------------ */

typedef struct cal_copy_opts {
    const void *act_section;   /* kind-5 section bytes replacing the file's (NULL: keep it) */
    uint64_t act_section_len;
    int zstd_level;            /* for re-encoded zstd units; 0 = CVT_DEFAULT_ZSTD_LEVEL */
    int overwrite;             /* replace an existing output */
    /* Optional: change a dense tensor's bytes (a private copy) before they are written; the
     * writer recomputes the checksum. Used by tests to inject activation outliers. */
    int (*edit)(void *arg, uint32_t tensor, const trit_tensor_info *t, void *bytes, uint64_t size, trit_err *err);
    void *edit_arg;
    /* The writer's temp file, published for a signal handler that must unlink it. */
    void (*temp_path)(void *ctx, const char *path);
    void *temp_ctx;
} cal_copy_opts;

/* Copy every metadata record, section, expert unit and tensor of r into a new container at
 * out_path, in the same index order with the same alignments, atomically (temp file + rename:
 * nothing appears on failure). Units keep their storage (zstd units are decoded and compressed
 * again). With o->act_section, the kind-5 section is replaced (or added, named "act_scales")
 * and the ACT_SCALES feature bit is set. o may be NULL. */
int cal_copy_container(const trit_reader *r, const char *out_path, const cal_copy_opts *o, trit_err *err);

/* ---- calibration ------------------------------------------------------------------------- */

typedef struct cal_opts {
    uint32_t seq_len;          /* tokens per calibration sequence; 0 = 128 */
    uint32_t holdout_every;    /* every k-th sequence is held out; 0 = 4 (k >= 2) */
    uint32_t eval_rows;        /* output rows sampled per projection for the error; 0 = 64 */
    uint32_t min_rows;         /* an expert with fewer fit rows uses pooled statistics; 0 = 32 */
    double tolerance;          /* the rule's tolerance; < 0 = 1 */
    uint32_t threads;          /* runner threads; 0 = 1 */
    int zstd_level;            /* re-encoded expert units; 0 = CVT_DEFAULT_ZSTD_LEVEL */
    int overwrite;             /* replace an existing output */
    int dry_run;               /* measure and report; write nothing */
    uint32_t force;            /* CAL_FORCE_*: every site takes this granularity instead of the
                                  rule's choice, at 8 bits (the negative control of `trit eval`) */
    uint32_t max_bits;         /* 8: every site int8, no site target; 16 or 0: the site target
                                  below applies, and sites may take 16 bits */
    double site_target;        /* the site target; <= 0 = CAL_DEF_SITE_TARGET */
    void (*temp_path)(void *ctx, const char *path);  /* see cal_copy_opts */
    void *temp_ctx;
} cal_opts;

/* Candidates, coarse to fine (the order the rule scans). */
enum {
    CAL_TENSOR = 0,        /* per tensor, scale at the absmax */
    CAL_TENSOR_P9999,      /* per tensor, at the 99.99th percentile of |x| */
    CAL_TENSOR_MSE,        /* per tensor, at the clip minimizing the activations' own
                                  quantization error (rounding below, clipping above) */
    CAL_GROUP128,          /* per group of 128 channels */
    CAL_GROUP32,           /* per group of 32 channels */
    CAL_CHANNEL,           /* per channel */
    CAL_TENSOR16,          /* 16 bits (spec 9), per tensor at the absmax */
    CAL_CHANNEL16,         /* 16 bits, per channel */
    CAL_N_CAND
};
#define CAL_N_CAND8 (CAL_CHANNEL + 1)   /* the 8-bit candidates come first */
/* The activation width of candidate c: 8 or 16. */
uint32_t cal_cand_bits(int c);
/* cal_opts.force: the rule (0), or one granularity for every site. Per tensor takes the best of
 * its three clipping levels. */
enum { CAL_FORCE_NONE = 0, CAL_FORCE_TENSOR, CAL_FORCE_GROUP128, CAL_FORCE_GROUP32, CAL_FORCE_CHANNEL, CAL_FORCE_COUNT_ };
/* "auto", "tensor", "group128", "group32", "channel" (static storage), or NULL. */
const char *cal_force_name(uint32_t force);
/* CAL_FORCE_* by name; TRIT_E_NOTFOUND if unknown. */
int cal_force_from_name(const char *name, uint32_t *out);

/* "tensor", "tensor@p99.99", "tensor@mse", "group128", "group32", "channel", "tensor/int16",
 * "channel/int16". Static. */
const char *cal_cand_name(int cand);

/* The site target, after the rule above: a site whose chosen int8 scales' error exceeds
 * `target` times the error of dynamic int8 per token on the same held-out outputs takes the
 * coarsest finer int8 granularity within it; when none is, the site takes 16-bit activations
 * (spec 9's int16 sites, for NPUs and DSPs with 16-bit activation modes such as a16w8), per
 * tensor unless per channel at least halves the error (the tolerance rule), if that measures
 * better than every int8 candidate (else the best int8 one: values beyond the fit rows' range
 * clip at any width). Static int8 cannot
 * follow a token's range; where no granularity makes up for that, 256x finer steps do. */
#define CAL_DEF_SITE_TARGET 1.25

typedef struct cal_site {
    char site[16];             /* run_site_kind_name: "attn_in", "exp_down" ... */
    uint32_t layer;            /* UINT32_MAX for the output head */
    char tensors[160];         /* the projections reading it ("blk.0.attn_q.weight,..." or
                                  "blk.0.ffn_down.*.weight" for experts) */
    uint32_t n_members;        /* 1, or the layer's experts */
    uint32_t n_pooled;         /* experts that fell back to pooled statistics */
    uint32_t cols;             /* input channels */
    uint64_t fit_rows, eval_rows;   /* activation vectors seen in each pass */
    double absmax, p99, p999, p9999;  /* of |x| over the fit rows (pooled over experts) */
    double err[CAL_N_CAND];/* relative output error of each candidate (held out) */
    double err_dynamic;        /* the same for dynamic absmax per token */
    int choice;                /* CAL_* chosen */
    int choice8;               /* the tolerance rule's choice (before the site target) */
    uint32_t bits;             /* 8 or 16 */
    uint32_t granularity;      /* TRIT_ACT_* written */
    uint32_t group_size;
    double scale;              /* per tensor: the scale (largest over experts); else the largest */
    double scale_min;          /* smallest scale written for this site */
    double err_vs_dynamic;     /* chosen outputs against the dynamic ones: sqrt(sum d^2 / sum y_dyn^2) */
    double clip_rate;          /* held-out values clipped by the chosen scales */
} cal_site;

typedef struct cal_report {
    uint64_t n_tokens;         /* calibration tokens */
    uint64_t fit_tokens, eval_tokens;
    uint32_t seq_len, n_seq;
    double tolerance;
    double site_target;        /* the site target; 0 when none applied (8 bits only, or forced) */
    uint32_t n_wide;           /* sites at 16 bits */
    uint32_t n_sites;
    cal_site *sites;     /* owned: in layer order, then site order */
    uint32_t n_entries;        /* kind-5 entries written (one per t2 tensor) */
    uint64_t section_bytes;
} cal_report;

/* Calibrate the container at model_path over n_tokens tokens and write the copy with the
 * scales to out_path (unless o->dry_run). rep (may be NULL) receives the report; free it with
 * cal_report_free(). Deterministic: the same inputs give the same bytes. */
int cal_calibrate(const char *model_path, const uint32_t *tokens, uint64_t n_tokens, const char *out_path,
                  const cal_opts *o, cal_report *rep, trit_err *err);
void cal_report_free(cal_report *rep);

/* ---- data and evaluation ------------------------------------------------------------------ */

/* Tokens of a text file through the tokenizer carried in the model (kind-3 section). *tok
 * caller frees with free(). */
int cal_tokens_text(const char *model_path, const char *text_path, uint32_t **tok, uint64_t *n, trit_err *err);
/* Token ids from a file: decimal numbers separated by whitespace or commas. *tok caller frees. */
int cal_tokens_ids(const char *path, uint32_t **tok, uint64_t *n, trit_err *err);

typedef struct cal_agree {
    uint64_t positions;        /* positions compared */
    uint64_t agree;            /* ... where the static top-1 token equals the dynamic one */
    double agreement;          /* agree / positions */
    double kl_mean, kl_max;    /* KL(dynamic || static) per position, nats */
} cal_agree;

/* Evaluate n tokens (sequences of seq_len, 0 = 128, teacher-forced) in dynamic and in static
 * mode on the container at model_path and compare every position's logits. */
int cal_compare(const char *model_path, const uint32_t *tok, uint64_t n, uint32_t seq_len, uint32_t threads,
                      cal_agree *out, trit_err *err);
/* The same between any two run configurations, a the reference (n_ctx is set to seq_len).
 * The noise floor of a model: dynamic mode with the reference kernels against the best ones
 * (t2 sums are exact either way; float dot products round in another order). */
int cal_compare_runs(const char *model_path, const uint32_t *tok, uint64_t n, uint32_t seq_len, const run_opts *a,
                           const run_opts *b, cal_agree *out, trit_err *err);

/* ---- accuracy of the activation-scale modes (cal_eval.c) ------------------------------------ */

/* "float" (RUN_ACT_SCALES_FLOAT) runs the ternary weights against unquantized activations: the
 * reference every int8 scheme is judged against, always evaluated. Held-out tokens are cut into
 * sequences of seq_len, each evaluated teacher-forced from an empty context; a position that
 * has a next token in its sequence is "predicted" and counted. */
typedef struct cal_eval_opts {
    const uint32_t *modes;     /* run_act_mode values to judge (float and repeats are dropped);
                                  n_modes 0: dynamic, block, and static when the model has scales */
    uint32_t n_modes;
    uint32_t seq_len;          /* 0 = 128 */
    uint32_t threads;          /* runner threads; 0 = 1 (results do not depend on it) */
} cal_eval_opts;

typedef struct cal_eval_mode {
    uint32_t mode;             /* run_act_mode */
    double nll_mean, ppl;      /* teacher-forced: mean -log p(next token), exp of it */
    double kl_mean, kl_max;    /* KL(float || mode) per predicted position, nats (0 for float) */
    uint64_t agree;            /* positions whose top-1 token equals float's */
    double top1;               /* agree / positions */
} cal_eval_mode;

typedef struct cal_eval_report {
    uint64_t tokens, positions;    /* tokens read, positions predicted */
    uint32_t seq_len;
    uint32_t n_modes;
    cal_eval_mode modes[RUN_ACT_SCALES_COUNT_];   /* [0] float, then the modes in order */
    /* the static scales judged (when static is among the modes): their entries, how many are
     * 16-bit, and the activation sites those read ("blk.0.attn_in,blk.3.ffn_down", cut with
     * ",..." when long) */
    uint32_t scale_entries, scale_entries16, n_sites16;
    char sites16[1024];
} cal_eval_report;

/* Evaluate n tokens on the container at model_path in float and in each mode of o. */
int cal_eval(const char *model_path, const uint32_t *tok, uint64_t n, const cal_eval_opts *o, cal_eval_report *rep,
             trit_err *err);
/* cal_eval on the tokens of text or ids (cal_tokens_load; max_tokens 0 = all). */
int cal_eval_files(const char *model_path, const char *text, const char *ids, uint64_t max_tokens, const cal_eval_opts *o,
                   cal_eval_report *rep, trit_err *err);
/* The row of mode in rep, or NULL. Borrowed from rep. */
const cal_eval_mode *cal_eval_find(const cal_eval_report *rep, uint32_t mode);
/* The acceptance bound of static scales: static perplexity <= max_ppl_ratio x dynamic's and
 * mean KL(float || static) <= max_kl_ratio x KL(float || dynamic). *pass 1 or 0;
 * TRIT_E_NOTFOUND when rep lacks either mode. */
int cal_eval_check(const cal_eval_report *rep, double max_ppl_ratio, double max_kl_ratio, int *pass);
/* *has = 1 when the container at model_path carries a kind-5 section. */
int cal_model_has_scales(const char *model_path, int *has, trit_err *err);

/* ---- pipelines: what `trit calibrate` and `trit convert --calib` run ----------------------- */

/* Calibration tokens of a text file through model_path's tokenizer (text), or of a file of ids
 * (ids, when text is NULL); only the first max_tokens when max_tokens > 0. *tok caller frees. */
int cal_tokens_load(const char *model_path, const char *text, const char *ids, uint64_t max_tokens, uint32_t **tok,
                    uint64_t *n, trit_err *err);
/* cal_calibrate on the tokens of text or ids (cal_tokens_load). */
int cal_calibrate_files(const char *model_path, const char *text, const char *ids, uint64_t max_tokens,
                        const char *out_path, const cal_opts *o, cal_report *rep, trit_err *err);
/* The model's noise floor on the tokens of text or ids: dynamic scales under the reference
 * kernels against the best ones (cal_compare_runs). threads 0 = 1. */
int cal_evaluate_floor(const char *model_path, const char *text, const char *ids, uint32_t seq_len, uint32_t threads,
                       cal_agree *floor, trit_err *err);

typedef struct cal_convert_opts {
    const char *text;          /* calibration text (as `trit calibrate --data`), or */
    const char *ids;           /* token ids (--tokens-file): exactly one of the two */
    /* The intermediate container beside the output (OUT.precal.XXXXXX), published (NULL: gone)
     * for a signal handler that must unlink it, like the writers' temp files. */
    void (*intermediate_path)(void *ctx, const char *path);
    void *intermediate_ctx;
} cal_convert_opts;

/* `trit convert --calib`: convert src_path (cvt_convert with co) into an intermediate beside
 * out_path, calibrate that into out_path with the defaults of `trit calibrate` (co's zstd
 * level), remove the intermediate. TRIT_E_EXISTS first if out_path exists without
 * co->overwrite. co->temp_path publishes both writers' temp files. rep->out_bytes is the
 * calibrated file's size; on failure rep is freed. Free crep with cal_report_free(). */
int cal_convert_calibrated(const char *src_path, const char *out_path, const cvt_opts *co, const cal_convert_opts *o,
                           cvt_report *rep, cal_report *crep, trit_err *err);

#endif /* CAL_H */
