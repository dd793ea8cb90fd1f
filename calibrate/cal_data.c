/*
 * cal_data.c - calibration tokens (text through the model's carried tokenizer, or token
 * ids) and the comparison of static against dynamic activation scales: top-1 agreement and
 * KL(dynamic || static) at every teacher-forced position.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cal.h"
#include "cal_int.h"
#include "run.h"
#include "tok.h"
#include "trit_safemath.h"

#define CAL_MAX_DATA (256u << 20)   /* calibration file bytes (the tokenizer's text cap) */

/* Whole file into *buf (NUL-terminated; caller frees), at most CAL_MAX_DATA bytes. Only a
 * regular file is read, like every other input: it is opened non-blocking and checked before
 * the first read, so a FIFO with no writer (or a device) is refused at once instead of
 * blocking forever. */
static int read_all(const char *path, char **buf, size_t *len, trit_err *err)
{
    *buf = NULL;
    *len = 0;
    int const fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);   /* a FIFO must not block */
    if (fd < 0) return trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, path, "cannot open: %s", strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int const e = errno;
        close(fd);
        return trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, path, "cannot stat: %s", strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, path,
                            "not a regular file (a FIFO or device is refused: it could block or never end)");
    }
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        int const e = errno;
        close(fd);
        return trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, path, "cannot open: %s", strerror(e));
    }
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap + 1);
    int rc = b ? TRIT_OK : trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    while (rc == TRIT_OK) {
        if (n == cap) {
            if (cap >= CAL_MAX_DATA) {
                rc = trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, path, "calibration data over %u bytes", CAL_MAX_DATA);
                break;
            }
            cap *= 2;
            char *nb = realloc(b, cap + 1);
            if (!nb) {
                rc = trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
                break;
            }
            b = nb;
        }
        size_t const got = fread(b + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) rc = trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, path, "read failed");
            break;
        }
    }
    fclose(f);
    if (rc) {
        free(b);
        return rc;
    }
    b[n] = 0;
    *buf = b;
    *len = n;
    return TRIT_OK;
}

int cal_tokens_ids(const char *path, uint32_t **tok, uint64_t *n, trit_err *err)
{
    *tok = NULL;
    *n = 0;
    char *b;
    size_t len;
    int rc = read_all(path, &b, &len, err);
    if (rc) return rc;
    uint32_t *ids = NULL;
    uint64_t cnt = 0, cap = 0;
    const char *p = b;
    while (rc == TRIT_OK) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == ',') p++;
        if (!*p) break;
        if (*p < '0' || *p > '9') {
            rc = trit_err_set(err, TRIT_E_USAGE, (uint64_t)(p - b), path, "expected a token id (decimal), found '%c'", *p);
            break;
        }
        errno = 0;
        char *end;
        unsigned long long const v = strtoull(p, &end, 10);
        if (errno || v > UINT32_MAX) {
            rc = trit_err_set(err, TRIT_E_USAGE, (uint64_t)(p - b), path, "token id out of range");
            break;
        }
        if (cnt == cap) {
            cap = cap ? cap * 2 : 1024;
            uint32_t *ni = realloc(ids, cap * sizeof *ni);
            if (!ni) {
                rc = trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
                break;
            }
            ids = ni;
        }
        ids[cnt++] = (uint32_t)v;
        p = end;
    }
    free(b);
    if (rc) {
        free(ids);
        return rc;
    }
    *tok = ids;
    *n = cnt;
    return TRIT_OK;
}

int cal_tokens_text(const char *model_path, const char *text_path, uint32_t **tok, uint64_t *n, trit_err *err)
{
    *tok = NULL;
    *n = 0;
    trit_reader *r = NULL;
    trit_kvset *kv = NULL;
    run_vocab v;
    run_vocab_init(&v);
    run_tok *t = NULL;
    char *text = NULL;
    size_t len = 0;
    int32_t *ids = NULL;
    size_t cnt = 0;
    int rc = trit_reader_open(model_path, NULL, &r, err);
    if (!rc) {
        int64_t const s = trit_reader_find_section(r, TRIT_SECTION_TOKENIZER_KV);
        if (s < 0)
            rc = trit_err_set(err, TRIT_E_NOTFOUND, TRIT_NO_OFFSET, model_path,
                              "the model carries no tokenizer section (kind 3); give token ids with --tokens-file");
        else rc = trit_reader_section_kv(r, (uint32_t)s, &kv, err);
    }
    if (!rc) rc = run_vocab_from_kvset(kv, model_path, &v, err);
    if (!rc) rc = run_tok_new(&v, &t, err);
    if (!rc) rc = read_all(text_path, &text, &len, err);
    if (!rc) rc = run_tok_encode(t, text, len, RUN_TOK_ADD_SPECIAL, &ids, &cnt, err);
    if (!rc && cnt && !(*tok = malloc(cnt * sizeof **tok))) rc = trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    if (!rc) {
        for (size_t i = 0; i < cnt; i++) (*tok)[i] = (uint32_t)ids[i];
        *n = cnt;
    }
    free(ids);
    free(text);
    run_tok_free(t);
    run_vocab_release(&v);
    trit_kvset_free(kv);
    trit_reader_close(r);
    return rc;
}

int cal_compare(const char *model_path, const uint32_t *tok, uint64_t n, uint32_t seq_len, uint32_t threads,
                      cal_agree *out, trit_err *err)
{
    run_opts a, b;
    run_opts_default(&a);
    a.n_threads = threads ? threads : 1;
    b = a;
    b.act_scales = RUN_ACT_SCALES_STATIC;
    return cal_compare_runs(model_path, tok, n, seq_len, &a, &b, out, err);
}

int cal_compare_runs(const char *model_path, const uint32_t *tok, uint64_t n, uint32_t seq_len, const run_opts *a,
                           const run_opts *b, cal_agree *out, trit_err *err)
{
    memset(out, 0, sizeof *out);
    uint32_t const seq = seq_len ? seq_len : 128;
    run_weights w;
    memset(&w, 0, sizeof w);
    run_ctx *cd = NULL, *cs = NULL;
    float *ld = NULL, *ls = NULL;
    int rc = run_weights_open_trit(model_path, 0, &w, err);
    run_opts ra = *a, rb = *b;
    ra.n_ctx = rb.n_ctx = seq;
    if (!rc) rc = run_ctx_new(&w, &ra, &cd, err);
    if (!rc) rc = run_ctx_new(&w, &rb, &cs, err);
    uint32_t const V = rc ? 0 : run_ctx_n_vocab(cd);
    if (!rc && (!(ld = malloc(sizeof *ld * V)) || !(ls = malloc(sizeof *ls * V))))
        rc = trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    double kl_sum = 0;
    for (uint64_t i = 0; i < n && !rc; i++) {
        if (i % seq == 0) {
            run_ctx_reset(cd);
            run_ctx_reset(cs);
        }
        if ((rc = run_ctx_eval(cd, &tok[i], 1, ld, err)) || (rc = run_ctx_eval(cs, &tok[i], 1, ls, err))) break;
        double const kl = cal_kl_logits(ld, ls, V);
        kl_sum += kl;
        out->kl_max = fmax(out->kl_max, kl);
        out->agree += cal_argmax(ld, V) == cal_argmax(ls, V);
        out->positions++;
    }
    if (!rc && out->positions) {
        out->agreement = (double)out->agree / (double)out->positions;
        out->kl_mean = kl_sum / (double)out->positions;
    }
    free(ld);
    free(ls);
    run_ctx_free(cd);
    run_ctx_free(cs);
    run_weights_close(&w);
    return rc;
}
