/*
 * cal_pipeline.c - what the command line runs, as library calls: calibration from files
 * (`trit calibrate`), the held-out evaluation with its noise floor (`--eval`, `--eval-floor`),
 * and `trit convert --calib` (convert into an intermediate container beside the output, then
 * calibrate that into the output).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cal.h"
#include "cvt.h"
#include "run.h"
#include "trit_sys.h"

int cal_tokens_load(const char *model_path, const char *text, const char *ids, uint64_t max_tokens, uint32_t **tok,
                    uint64_t *n, trit_err *err)
{
    int const rc = text ? cal_tokens_text(model_path, text, tok, n, err) : cal_tokens_ids(ids, tok, n, err);
    if (rc == TRIT_OK && max_tokens && *n > max_tokens) *n = max_tokens;
    return rc;
}

int cal_calibrate_files(const char *model_path, const char *text, const char *ids, uint64_t max_tokens,
                        const char *out_path, const cal_opts *o, cal_report *rep, trit_err *err)
{
    uint32_t *tok = NULL;
    uint64_t n = 0;
    int rc = cal_tokens_load(model_path, text, ids, max_tokens, &tok, &n, err);
    if (rc == TRIT_OK) rc = cal_calibrate(model_path, tok, n, out_path, o, rep, err);
    free(tok);
    return rc;
}

int cal_eval_files(const char *model_path, const char *text, const char *ids, uint64_t max_tokens, const cal_eval_opts *o,
                   cal_eval_report *rep, trit_err *err)
{
    uint32_t *tok = NULL;
    uint64_t n = 0;
    int rc = cal_tokens_load(model_path, text, ids, max_tokens, &tok, &n, err);
    if (rc == TRIT_OK) rc = cal_eval(model_path, tok, n, o, rep, err);
    free(tok);
    return rc;
}

/* The noise floor: dynamic scales under the reference kernels against the best ones. */
static int eval_floor(const char *model_path, const uint32_t *tok, uint64_t n, uint32_t seq_len, uint32_t threads,
                      cal_agree *floor, trit_err *err)
{
    run_opts ref, best;
    run_opts_default(&ref);
    ref.n_threads = threads ? threads : 1;
    ref.kernel = RUN_KERNEL_REF;
    best = ref;
    best.kernel = RUN_KERNEL_AUTO;
    return cal_compare_runs(model_path, tok, n, seq_len, &ref, &best, floor, err);
}

int cal_evaluate_floor(const char *model_path, const char *text, const char *ids, uint32_t seq_len, uint32_t threads,
                       cal_agree *floor, trit_err *err)
{
    uint32_t *tok = NULL;
    uint64_t n = 0;
    int rc = cal_tokens_load(model_path, text, ids, 0, &tok, &n, err);
    if (rc == TRIT_OK) rc = eval_floor(model_path, tok, n, seq_len, threads, floor, err);
    free(tok);
    return rc;
}

static void publish(const cal_convert_opts *o, const char *path)
{
    if (o->intermediate_path) o->intermediate_path(o->intermediate_ctx, path);
}

/* OUT must not exist unless replacing it was asked for: checked before any work, because the
 * conversion itself writes only the intermediate. */
static int check_output(const char *out_path, const cvt_opts *co, trit_err *err)
{
    if (!co->overwrite && access(out_path, F_OK) == 0)
        return trit_err_set(err, TRIT_E_EXISTS, TRIT_NO_OFFSET, NULL, "'%s' exists; use --force to replace it", out_path);
    return TRIT_OK;
}

/* An empty temp file beside out_path into *tmp (caller frees), registered with the caller's
 * guard as it is created; the converter replaces it. Named like the writers' temp files
 * (OUT.tmp-<pid>-XXXXXX), so a killed run's is removed by the next run on OUT. */
static int make_intermediate(const char *out_path, char **tmp, const cal_convert_opts *o, trit_err *err)
{
    if (trit_sys_temp_create(out_path, o->intermediate_path, o->intermediate_ctx, tmp) != 0)
        return trit_err_set(err, errno == ENOMEM ? TRIT_E_NOMEM : TRIT_E_IO, TRIT_NO_OFFSET, NULL,
                            "cannot create a temp file beside '%s': %s", out_path, strerror(errno));
    return TRIT_OK;
}

/* Calibration of the converted container with the defaults of `trit calibrate`. */
static int calibrate_converted(const char *tmp, const char *out_path, const cvt_opts *co, const cal_convert_opts *o,
                               cal_report *crep, trit_err *err)
{
    cal_opts ko;
    memset(&ko, 0, sizeof ko);
    ko.tolerance = -1;
    ko.overwrite = 1;
    ko.zstd_level = co->zstd_level;
    ko.temp_path = co->temp_path;
    ko.temp_ctx = co->progress_ctx;   /* the context cvt_convert passes to temp_path */
    return cal_calibrate_files(tmp, o->text, o->ids, 0, out_path, &ko, crep, err);
}

int cal_convert_calibrated(const char *src_path, const char *out_path, const cvt_opts *co, const cal_convert_opts *o,
                           cvt_report *rep, cal_report *crep, trit_err *err)
{
    memset(crep, 0, sizeof *crep);
    char *tmp = NULL;
    int rc = check_output(out_path, co, err);
    if (rc == TRIT_OK) rc = make_intermediate(out_path, &tmp, o, err);
    if (rc != TRIT_OK) return rc;
    cvt_opts c = *co;
    c.overwrite = 1;   /* the temp file just made; OUT itself was checked above */
    rc = cvt_convert(src_path, tmp, &c, rep, err);
    if (co->temp_path) co->temp_path(co->progress_ctx, NULL);
    if (rc == TRIT_OK) {
        rc = calibrate_converted(tmp, out_path, co, o, crep, err);
        struct stat sb;
        if (rc == TRIT_OK && stat(out_path, &sb) == 0) rep->out_bytes = (uint64_t)sb.st_size;  /* with the scales */
        if (rc != TRIT_OK) cvt_report_free(rep);
    }
    unlink(tmp);
    publish(o, NULL);
    free(tmp);
    return rc;
}
