/*
 * tok_vocab.c - fill a run_vocab from tokenizer.ggml.* KV records (a .trit kind-3 section, or
 * any KV store behind a run_kv_src). Only reads and checks kinds and counts; the tokenizer
 * semantics (defaults, special tokens) are applied by run_tok_new().
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok_int.h"
#include "trit_safemath.h"

void run_vocab_init(run_vocab *v)
{
    memset(v, 0, sizeof *v);
    v->bos_id = v->eos_id = v->eot_id = v->eom_id = v->unk_id = v->sep_id = v->pad_id = -1;
    v->add_bos = v->add_eos = v->add_space_prefix = -1;
}

void run_vocab_release(run_vocab *v)
{
    if (!v) return;
    free(v->tokens);
    free(v->scores);
    free(v->types);
    free(v->merges);
    run_vocab_init(v);
}

/* Set err about one key ("key 'tokenizer.ggml.tokens'") and return code. */
static int key_err(const run_kv_src *src, trit_err *err, int code, const char *key, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;
static int key_err(const run_kv_src *src, trit_err *err, int code, const char *key, const char *fmt, ...)
{
    char where[96], msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(where, sizeof where, "key '%s'", key);
    trit_err_set(err, code, TRIT_NO_OFFSET, where, "%s", msg);
    if (src->name) trit_err_file(err, src->name);
    return code;
}

/* A string array key: n_min..RUN_TOK_MAX_TOKENS elements, copied as views into *out. */
static int load_str_array(const run_kv_src *src, const char *key, int64_t i, run_str **out,
                          uint32_t *n_out, trit_err *err)
{
    uint64_t count = 0;
    if (!src->is_array(src->ctx, i, &count)) return key_err(src, err, TRIT_E_CORRUPT, key, "%s", "is not an array");
    if (count > RUN_TOK_MAX_TOKENS) {
        return key_err(src, err, TRIT_E_LIMIT, key, "has %llu elements, the cap is %u",
                       (unsigned long long)count, RUN_TOK_MAX_TOKENS);
    }
    run_str *a = trit_mallocarray((size_t)count, sizeof *a);
    if (!a) return key_err(src, err, TRIT_E_NOMEM, key, "%s", "out of memory");
    for (uint64_t j = 0; j < count; j++) {
        const char *s = NULL;
        uint64_t n = 0;
        if (src->arr_str(src->ctx, i, j, &s, &n) != TRIT_OK || n > UINT32_MAX) {
            free(a);
            return key_err(src, err, TRIT_E_CORRUPT, key, "element %llu is not a string", (unsigned long long)j);
        }
        a[j].p = s;
        a[j].n = (uint32_t)n;
    }
    *out = a;
    *n_out = (uint32_t)count;
    return TRIT_OK;
}

/* Optional numeric array with at least n elements (extra ones are ignored, as llama.cpp). */
static int load_num_array(const run_kv_src *src, const char *key, uint32_t n, float **fout,
                          int32_t **iout, trit_err *err)
{
    int64_t const i = src->find(src->ctx, key);
    if (i < 0) return TRIT_OK;
    uint64_t count = 0;
    if (!src->is_array(src->ctx, i, &count)) return key_err(src, err, TRIT_E_CORRUPT, key, "%s", "is not an array");
    if (count < n) {
        return key_err(src, err, TRIT_E_CORRUPT, key, "has %llu elements for %u tokens",
                       (unsigned long long)count, n);
    }
    void *a = trit_mallocarray(n, fout ? sizeof(float) : sizeof(int32_t));
    if (!a) return key_err(src, err, TRIT_E_NOMEM, key, "%s", "out of memory");
    for (uint32_t j = 0; j < n; j++) {
        int bad;
        if (fout) {
            double d = 0;
            bad = src->arr_f64(src->ctx, i, j, &d) != TRIT_OK;
            ((float *)a)[j] = (float)d;
        } else {
            int64_t x = 0;
            bad = src->arr_i64(src->ctx, i, j, &x) != TRIT_OK;
            /* unknown type values act as "undefined", as in llama.cpp */
            ((int32_t *)a)[j] = (x >= RUN_TOK_TYPE_UNDEFINED && x <= RUN_TOK_TYPE_BYTE) ? (int32_t)x : 0;
        }
        if (bad) {
            free(a);
            return key_err(src, err, TRIT_E_CORRUPT, key, "%s", "has a non-numeric element");
        }
    }
    if (fout) *fout = a;
    else *iout = a;
    return TRIT_OK;
}

static int load_u64(const run_kv_src *src, const char *key, int64_t *out, trit_err *err)
{
    int64_t const i = src->find(src->ctx, key);
    uint64_t x = 0;
    if (i < 0) return TRIT_OK;
    if (src->u64(src->ctx, i, &x) != TRIT_OK)
        return key_err(src, err, TRIT_E_CORRUPT, key, "%s", "is not an unsigned integer");
    *out = x > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)x;
    return TRIT_OK;
}

static int load_flag(const run_kv_src *src, const char *key, int *out, trit_err *err)
{
    int64_t v = -1;
    int const rc = load_u64(src, key, &v, err);
    if (rc == TRIT_OK && v >= 0) *out = v != 0;
    return rc;
}

static int load_name(const run_kv_src *src, const char *key, int required, char *buf, size_t cap,
                     trit_err *err)
{
    int64_t const i = src->find(src->ctx, key);
    const char *s = NULL;
    uint64_t n = 0;
    if (i < 0) return required ? key_err(src, err, TRIT_E_NOTFOUND, key, "%s", "is missing") : TRIT_OK;
    if (src->str(src->ctx, i, &s, &n) != TRIT_OK) return key_err(src, err, TRIT_E_CORRUPT, key, "%s", "is not a string");
    if (n >= cap || memchr(s, 0, (size_t)n)) return key_err(src, err, TRIT_E_UNSUPPORTED, key, "%s", "has an unknown value");
    memcpy(buf, s, (size_t)n);
    buf[n] = '\0';
    return TRIT_OK;
}

int run_vocab_load(const run_kv_src *src, run_vocab *v, trit_err *err)
{
    static const char *const id_keys[7] = {
        "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id",
        "tokenizer.ggml.eom_token_id", "tokenizer.ggml.unknown_token_id",
        "tokenizer.ggml.seperator_token_id",   /* sic: the GGUF key is spelled so */
        "tokenizer.ggml.padding_token_id",
    };
    int64_t *const id_dst[7] = { &v->bos_id, &v->eos_id, &v->eot_id, &v->eom_id, &v->unk_id,
                                 &v->sep_id, &v->pad_id };
    char model[32];
    int rc;
    run_vocab_init(v);
    model[0] = '\0';

    rc = load_name(src, "tokenizer.ggml.model", 1, model, sizeof model, err);
    if (rc != TRIT_OK) goto cleanup;
    if (strcmp(model, "llama") == 0) {
        v->model = RUN_TOK_SPM;
    } else if (strcmp(model, "gpt2") == 0) {
        v->model = RUN_TOK_BPE;
    } else {
        rc = key_err(src, err, TRIT_E_UNSUPPORTED, "tokenizer.ggml.model",
                     "is '%s' (supported: 'llama' SentencePiece, 'gpt2' byte-level BPE)", model);
        goto cleanup;
    }
    rc = load_name(src, "tokenizer.ggml.pre", 0, v->pre, sizeof v->pre, err);
    if (rc != TRIT_OK) goto cleanup;

    int64_t const ti = src->find(src->ctx, "tokenizer.ggml.tokens");
    if (ti < 0) {
        rc = key_err(src, err, TRIT_E_NOTFOUND, "tokenizer.ggml.tokens", "%s", "is missing");
        goto cleanup;
    }
    rc = load_str_array(src, "tokenizer.ggml.tokens", ti, &v->tokens, &v->n_tokens, err);
    if (rc != TRIT_OK) goto cleanup;
    if (v->n_tokens == 0) {
        rc = key_err(src, err, TRIT_E_CORRUPT, "tokenizer.ggml.tokens", "%s", "is empty");
        goto cleanup;
    }
    rc = load_num_array(src, "tokenizer.ggml.scores", v->n_tokens, &v->scores, NULL, err);
    if (rc != TRIT_OK) goto cleanup;
    rc = load_num_array(src, "tokenizer.ggml.token_type", v->n_tokens, NULL, &v->types, err);
    if (rc != TRIT_OK) goto cleanup;

    if (v->model == RUN_TOK_BPE) {
        int64_t const mi = src->find(src->ctx, "tokenizer.ggml.merges");
        if (mi < 0) {
            rc = key_err(src, err, TRIT_E_NOTFOUND, "tokenizer.ggml.merges", "%s", "is missing (a gpt2 vocabulary needs it)");
            goto cleanup;
        }
        rc = load_str_array(src, "tokenizer.ggml.merges", mi, &v->merges, &v->n_merges, err);
        if (rc != TRIT_OK) goto cleanup;
    }

    for (size_t k = 0; k < 7; k++) {
        rc = load_u64(src, id_keys[k], id_dst[k], err);
        if (rc != TRIT_OK) goto cleanup;
    }
    rc = load_flag(src, "tokenizer.ggml.add_bos_token", &v->add_bos, err);
    if (rc == TRIT_OK) rc = load_flag(src, "tokenizer.ggml.add_eos_token", &v->add_eos, err);
    if (rc == TRIT_OK) rc = load_flag(src, "tokenizer.ggml.add_space_prefix", &v->add_space_prefix, err);

cleanup:
    if (rc != TRIT_OK) run_vocab_release(v);
    return rc;
}

/* ---- the trit_kvset adapter ---------------------------------------------------------- */

static int64_t kvs_find(const void *ctx, const char *key) { return trit_kvset_find(ctx, key); }

static int kvs_is_array(const void *ctx, int64_t i, uint64_t *count)
{
    uint32_t et = 0;
    return trit_kvset_type(ctx, (uint32_t)i, &et, count) == TRIT_KV_ARRAY;
}

static int kvs_str(const void *ctx, int64_t i, const char **s, uint64_t *n)
{
    return trit_kvset_str(ctx, (uint32_t)i, s, n);
}

static int kvs_u64(const void *ctx, int64_t i, uint64_t *out) { return trit_kvset_u64(ctx, (uint32_t)i, out); }

static int kvs_arr_str(const void *ctx, int64_t i, uint64_t j, const char **s, uint64_t *n)
{
    return trit_kvset_arr_str(ctx, (uint32_t)i, j, s, n);
}

static int kvs_arr_f64(const void *ctx, int64_t i, uint64_t j, double *out)
{
    return trit_kvset_arr_f64(ctx, (uint32_t)i, j, out);
}

static int kvs_arr_i64(const void *ctx, int64_t i, uint64_t j, int64_t *out)
{
    return trit_kvset_arr_i64(ctx, (uint32_t)i, j, out);
}

int run_vocab_from_kvset(const trit_kvset *s, const char *file, run_vocab *v, trit_err *err)
{
    run_kv_src const src = { s, file, kvs_find, kvs_is_array, kvs_str, kvs_u64,
                             kvs_arr_str, kvs_arr_f64, kvs_arr_i64 };
    return run_vocab_load(&src, v, err);
}
