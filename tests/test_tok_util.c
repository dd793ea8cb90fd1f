/* test_tok_util.c - the GGUF source of a run_vocab and the llama.cpp .inp/.out reader. */
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "test_tok.h"

static int64_t g_find(const void *ctx, const char *key) { return src_gguf_find_kv(ctx, key); }

static int g_is_array(const void *ctx, int64_t i, uint64_t *count)
{
    uint32_t et = 0;
    return src_gguf_kv_type(ctx, (uint64_t)i, &et, count) == SRC_GGUF_ARRAY;
}

static int g_str(const void *ctx, int64_t i, const char **s, uint64_t *n)
{
    return src_gguf_kv_str(ctx, (uint64_t)i, s, n);
}

static int g_u64(const void *ctx, int64_t i, uint64_t *out) { return src_gguf_kv_u64(ctx, (uint64_t)i, out); }

static int g_arr_str(const void *ctx, int64_t i, uint64_t j, const char **s, uint64_t *n)
{
    return src_gguf_kv_arr_str(ctx, (uint64_t)i, j, s, n);
}

static int g_arr_f64(const void *ctx, int64_t i, uint64_t j, double *out)
{
    return src_gguf_kv_arr_f64(ctx, (uint64_t)i, j, out);
}

static int g_arr_i64(const void *ctx, int64_t i, uint64_t j, int64_t *out)
{
    return src_gguf_kv_arr_i64(ctx, (uint64_t)i, j, out);
}

int test_tok_vocab_from_gguf(const src_gguf *g, run_vocab *v, trit_err *err)
{
    run_kv_src const src = { g, src_gguf_file_path(g, 0), g_find, g_is_array, g_str, g_u64,
                             g_arr_str, g_arr_f64, g_arr_i64 };
    int const rc = run_vocab_load(&src, v, err);
    int64_t const ni = src_gguf_find_kv(g, "general.name");
    const char *s;
    uint64_t n;
    if (rc == TRIT_OK && ni >= 0 && src_gguf_kv_str(g, (uint64_t)ni, &s, &n) == TRIT_OK &&
        n < sizeof v->name) {
        memcpy(v->name, s, (size_t)n);
        v->name[n] = '\0';
    }
    return rc;
}

void test_tok_cases_free(test_tok_cases *c)
{
    for (size_t i = 0; c->v && i < c->n; i++) free(c->v[i].ids);
    free(c->v);
    free(c->inp);
    memset(c, 0, sizeof *c);
}

static int parse_ids(const char *line, size_t len, test_tok_case *tc)
{
    size_t cap = 0;
    size_t i = 0;
    while (i < len) {
        while (i < len && line[i] == ' ') i++;
        if (i >= len) break;
        long v = 0;
        size_t d = 0;
        while (i < len && line[i] >= '0' && line[i] <= '9') v = v * 10 + (line[i++] - '0'), d++;
        if (d == 0 || v > INT32_MAX) return -1;
        if (tc->n_ids == cap) {
            cap = cap ? cap * 2 : 16;
            int32_t *nv = realloc(tc->ids, cap * sizeof *nv);
            if (!nv) return -1;
            tc->ids = nv;
        }
        tc->ids[tc->n_ids++] = (int32_t)v;
    }
    return 0;
}

int test_tok_read_cases(const char *gguf_path, test_tok_cases *c)
{
    static const char sep[] = "\n__ggml_vocab_test__\n";
    size_t const sl = sizeof sep - 1;
    char p_inp[1024], p_out[1024];
    size_t il = 0, ol = 0;
    memset(c, 0, sizeof *c);
    snprintf(p_inp, sizeof p_inp, "%s.inp", gguf_path);
    snprintf(p_out, sizeof p_out, "%s.out", gguf_path);
    c->inp = (char *)test_read_file(p_inp, &il);
    char *out = (char *)test_read_file(p_out, &ol);
    if (!c->inp || !out) {
        free(out);
        test_tok_cases_free(c);
        return -1;
    }
    /* inputs: split on the separator, as llama.cpp's test-tokenizer-0 does */
    size_t cap = 0;
    size_t pos = 0;
    while (pos < il) {
        const char *m = NULL;
        for (size_t k = pos; k + sl <= il; k++)
            if (memcmp(c->inp + k, sep, sl) == 0) {
                m = c->inp + k;
                break;
            }
        size_t const end = m ? (size_t)(m - c->inp) : il;
        if (c->n == cap) {
            cap = cap ? cap * 2 : 64;
            test_tok_case *nv = realloc(c->v, cap * sizeof *nv);
            if (!nv) break;
            c->v = nv;
        }
        memset(&c->v[c->n], 0, sizeof c->v[c->n]);
        c->v[c->n].text = c->inp + pos;
        c->v[c->n].len = end - pos;
        c->n++;
        if (!m) break;
        pos = end + sl;
    }
    /* outputs: one line each */
    size_t line = 0, ls = 0;
    int bad = 0;
    for (size_t k = 0; k <= ol && !bad; k++) {
        if (k < ol && out[k] != '\n') continue;
        if (k == ol && k == ls) break;   /* no text after the last newline */
        if (line >= c->n || parse_ids(out + ls, k - ls, &c->v[line]) != 0) bad = 1;
        line++;
        ls = k + 1;
    }
    free(out);
    if (bad || line != c->n) {
        test_tok_cases_free(c);
        return -1;
    }
    return 0;
}

run_tok *test_tok_open(const char *path, src_gguf **g)
{
    trit_err err;
    run_vocab v;
    run_tok *t = NULL;
    *g = NULL;
    run_vocab_init(&v);
    CHECK_OK_E(src_gguf_open(path, NULL, g, &err), &err);
    if (!*g) return NULL;
    CHECK_OK_E(test_tok_vocab_from_gguf(*g, &v, &err), &err);
    if (v.n_tokens) CHECK_OK_E(run_tok_new(&v, &t, &err), &err);
    run_vocab_release(&v);
    return t;
}

/* GGUF value type -> .trit KV type for the scalars a tokenizer uses; -1 if not carried. */
static int kv_type_of(uint32_t gt)
{
    switch (gt) {
    case SRC_GGUF_UINT8: return TRIT_KV_U8;
    case SRC_GGUF_INT8: return TRIT_KV_I8;
    case SRC_GGUF_UINT32: return TRIT_KV_U32;
    case SRC_GGUF_INT32: return TRIT_KV_I32;
    case SRC_GGUF_FLOAT32: return TRIT_KV_F32;
    case SRC_GGUF_BOOL: return TRIT_KV_BOOL;
    default: return -1;
    }
}

static int kvbuf_array(const src_gguf *g, uint64_t i, const char *key, trit_kvbuf *b, trit_err *err)
{
    uint32_t et = 0;
    uint64_t count = 0;
    int rc = TRIT_OK;
    src_gguf_kv_type(g, i, &et, &count);
    if (et == SRC_GGUF_STRING) {
        const char **strs = calloc(count ? count : 1, sizeof *strs);
        uint64_t *lens = calloc(count ? count : 1, sizeof *lens);
        for (uint64_t j = 0; strs && lens && j < count && rc == TRIT_OK; j++)
            rc = src_gguf_kv_arr_str(g, i, j, &strs[j], &lens[j]);
        if (!strs || !lens) rc = TRIT_E_NOMEM;
        if (rc == TRIT_OK) rc = trit_kvbuf_arr_str(b, key, strs, lens, count, err);
        free(strs);
        free(lens);
        return rc;
    }
    int const kt = kv_type_of(et);
    if (kt < 0) return TRIT_OK;
    /* host layout of the element type: 1 or 4 bytes */
    size_t const es = (kt == TRIT_KV_U8 || kt == TRIT_KV_I8 || kt == TRIT_KV_BOOL) ? 1 : 4;
    uint8_t *vals = malloc(count ? count * es : 1);
    if (!vals) return TRIT_E_NOMEM;
    for (uint64_t j = 0; j < count && rc == TRIT_OK; j++) {
        double d = 0;
        int64_t x = 0;
        if (kt == TRIT_KV_F32) {
            rc = src_gguf_kv_arr_f64(g, i, j, &d);
            float const f = (float)d;
            memcpy(vals + j * 4, &f, 4);
        } else {
            rc = src_gguf_kv_arr_i64(g, i, j, &x);
            if (es == 1) vals[j] = (uint8_t)x;
            else {
                uint32_t const u = (uint32_t)x;
                memcpy(vals + j * 4, &u, 4);
            }
        }
    }
    if (rc == TRIT_OK) rc = trit_kvbuf_arr(b, key, (uint32_t)kt, vals, count, err);
    free(vals);
    return rc;
}

int test_tok_kvbuf_from_gguf(const src_gguf *g, trit_kvbuf *b, trit_err *err)
{
    int rc = TRIT_OK;
    for (uint64_t i = 0; i < src_gguf_n_kv(g) && rc == TRIT_OK; i++) {
        const char *const key = src_gguf_kv_key(g, i);
        if (strncmp(key, "tokenizer.", 10) != 0) continue;
        uint32_t const type = src_gguf_kv_type(g, i, NULL, NULL);
        const char *s;
        uint64_t n, u;
        int64_t x;
        double d;
        int bl;
        switch (type) {
        case SRC_GGUF_STRING:
            rc = src_gguf_kv_str(g, i, &s, &n);
            if (rc == TRIT_OK) rc = trit_kvbuf_str(b, key, s, n, err);
            break;
        case SRC_GGUF_ARRAY: rc = kvbuf_array(g, i, key, b, err); break;
        case SRC_GGUF_BOOL:
            rc = src_gguf_kv_bool(g, i, &bl);
            if (rc == TRIT_OK) rc = trit_kvbuf_bool(b, key, bl, err);
            break;
        case SRC_GGUF_UINT32:
            rc = src_gguf_kv_u64(g, i, &u);
            if (rc == TRIT_OK) rc = trit_kvbuf_u32(b, key, (uint32_t)u, err);
            break;
        case SRC_GGUF_INT32:
            rc = src_gguf_kv_i64(g, i, &x);
            if (rc == TRIT_OK) rc = trit_kvbuf_i32(b, key, (int32_t)x, err);
            break;
        case SRC_GGUF_FLOAT32:
            rc = src_gguf_kv_f64(g, i, &d);
            if (rc == TRIT_OK) rc = trit_kvbuf_f32(b, key, (float)d, err);
            break;
        default: break;
        }
    }
    return rc;
}
