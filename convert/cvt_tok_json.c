/* cvt_tok_json.c - Hugging Face tokenizer.json: what kind of tokenizer it is, its vocabulary,
 * merges and added tokens. The JSON was validated by the strict scanner before cJSON built the
 * tree, so only the semantics are checked here; semantic errors carry the JSON path (cJSON
 * keeps no positions), the file and the object. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "src_json.h"
#include "cvt_tok_int.h"
#include "trit_limits.h"

/* ---- helpers ------------------------------------------------------------------------------- */

int cvt__tok_json_parse(const cvt_tok_buf *b, uint64_t max_nodes, cJSON **out, trit_err *err)
{
    *out = NULL;
    if (b->n > TRIT_MAX_TOKENIZER_FILE) {
        trit_err_file(err, b->name);
        return trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, NULL, "file of %zu bytes, limit %u", b->n,
                            TRIT_MAX_TOKENIZER_FILE);
    }
    return src_json_parse_doc(b->p, b->n, b->name, "JSON", max_nodes, out, err);
}

int cvt__tok_json_parse_tokenizer(const cvt_tok_buf *b, cJSON **out, trit_err *err)
{
    static const char *const deferred[] = {"vocab", "merges", NULL};
    *out = NULL;
    if (b->n > TRIT_MAX_TOKENIZER_FILE) {
        trit_err_file(err, b->name);
        return trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, NULL, "file of %zu bytes, limit %u", b->n,
                            TRIT_MAX_TOKENIZER_FILE);
    }
    return src_json_parse_doc_defer(b->p, b->n, b->name, "JSON", TRIT_MAX_TOKENIZER_NODES, "model", deferred,
                                    out, err);
}

/* ---- walking a container that may be deferred (a cJSON_Raw from cvt__tok_json_parse_tokenizer) */

/* '{' for an object, '[' for an array (built or deferred), else 0. */
static int jkind(const cJSON *c)
{
    if (cJSON_IsObject(c)) return '{';
    if (cJSON_IsArray(c)) return '[';
    if (cJSON_IsRaw(c) && c->valuestring) {
        src_json_iter it;
        const uint8_t *p = (const uint8_t *)c->valuestring;
        if (src_json_iter_init(&it, p, strlen(c->valuestring))) return it.is_object ? '{' : '[';
    }
    return 0;
}

typedef struct jwalk {
    const cJSON *next;     /* built form: the next child */
    int raw;
    src_json_iter it;      /* deferred form */
    cJSON *cur;            /* deferred form: the current element, owned */
    int nomem;
} jwalk;

static void jwalk_init(jwalk *w, const cJSON *c)
{
    memset(w, 0, sizeof *w);
    if (cJSON_IsRaw(c) && c->valuestring) {
        w->raw = 1;
        src_json_iter_init(&w->it, (const uint8_t *)c->valuestring, strlen(c->valuestring));
    } else {
        w->next = c ? c->child : NULL;
    }
}

/* Next element (an object member carries its key in ->string), or NULL at the end or when
 * out of memory (w->nomem). Borrowed until the next call or jwalk_done. */
static const cJSON *jwalk_next(jwalk *w)
{
    if (!w->raw) {
        const cJSON *e = w->next;
        if (e) w->next = e->next;
        return e;
    }
    cJSON_Delete(w->cur);
    w->cur = NULL;
    size_t ko, kl, vo, vl;
    if (!src_json_iter_next(&w->it, &ko, &kl, &vo, &vl)) return NULL;
    cJSON *v = src_json_parse_span(w->it.p + vo, vl);
    if (v && kl) {
        cJSON *k = src_json_parse_span(w->it.p + ko, kl);
        if (k && cJSON_IsString(k)) {
            v->string = k->valuestring;   /* freed with v */
            k->valuestring = NULL;
        } else {
            cJSON_Delete(v);
            v = NULL;
        }
        cJSON_Delete(k);
    }
    if (!v) w->nomem = 1;
    return w->cur = v;
}

static void jwalk_done(jwalk *w)
{
    cJSON_Delete(w->cur);
    w->cur = NULL;
}

/* Elements of a container (built or deferred). */
static uint64_t jcount(const cJSON *c)
{
    if (!cJSON_IsRaw(c)) return (uint64_t)cJSON_GetArraySize(c);
    src_json_iter it;
    uint64_t k = 0;
    size_t ko, kl, vo, vl;
    if (c->valuestring && src_json_iter_init(&it, (const uint8_t *)c->valuestring, strlen(c->valuestring)))
        while (src_json_iter_next(&it, &ko, &kl, &vo, &vl)) k++;
    return k;
}

const cJSON *cvt__jget(const cJSON *obj, const char *key)
{
    return cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
}

const char *cvt__jstr(const cJSON *obj, const char *key)
{
    const cJSON *v = cvt__jget(obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

int cvt__juint(const cJSON *v, uint64_t max, uint64_t *out)
{
    if (!cJSON_IsNumber(v)) return 0;
    double const d = v->valuedouble;
    if (!(d >= 0.0) || d > (double)max || d != floor(d)) return 0;
    *out = (uint64_t)d;
    return 1;
}

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 5, 6)))
#endif
static int jerr(trit_err *err, const char *file, int code, const char *where, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    trit_err_file(err, file);
    return trit_err_set(err, code, TRIT_NO_OFFSET, where, "%s", msg);
}

/* ---- added tokens -------------------------------------------------------------------------- */

void cvt__added_release(cvt__added_list *l)
{
    free(l->a);
    l->a = NULL;
    l->n = 0;
}

static int cmp_added(const void *a, const void *b)
{
    uint32_t const x = ((const cvt__added *)a)->id, y = ((const cvt__added *)b)->id;
    return x < y ? -1 : x > y;
}

/* Sort by id and refuse two added tokens with one id. */
static int finish_added(cvt__added_list *l, const char *file, const char *where, trit_err *err)
{
    if (l->n > 1) qsort(l->a, l->n, sizeof *l->a, cmp_added);
    for (uint32_t i = 1; i < l->n; i++)
        if (l->a[i].id == l->a[i - 1].id) {
            trit_err_file(err, file);
            return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, where, "two added tokens have id %u",
                                l->a[i].id);
        }
    return TRIT_OK;
}

/* One {content, special} object with the given id into l. */
static int add_one(cvt__added_list *l, const cJSON *o, uint32_t id, const char *file, const char *where,
                   trit_err *err)
{
    const char *c = cvt__jstr(o, "content");
    if (!c || !c[0]) return jerr(err, file, TRIT_E_CORRUPT, where, "added token has no content");
    size_t const len = strlen(c);
    if (len > TRIT_MAX_TOKEN_LEN)
        return jerr(err, file, TRIT_E_LIMIT, where, "added token longer than the token limit");
    cvt__added *a = &l->a[l->n++];
    a->id = id;
    a->content = c;
    a->len = (uint32_t)len;
    a->special = cJSON_IsTrue(cvt__jget(o, "special"));
    return TRIT_OK;
}

static int alloc_added(cvt__added_list *l, int n, const char *file, const char *where, trit_err *err)
{
    l->a = NULL;
    l->n = 0;
    if (n <= 0) return TRIT_OK;
    if ((unsigned)n > TRIT_MAX_VOCAB)
        return jerr(err, file, TRIT_E_LIMIT, where, "more added tokens than the vocabulary limit");
    l->a = calloc((size_t)n, sizeof *l->a);
    return l->a ? TRIT_OK : trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, where, "out of memory");
}

int cvt__added_from_json(const cJSON *root, const char *file, cvt__added_list *out, trit_err *err)
{
    const cJSON *arr = cvt__jget(root, "added_tokens");
    out->a = NULL;
    out->n = 0;
    if (!arr || cJSON_IsNull(arr)) return TRIT_OK;
    if (!cJSON_IsArray(arr)) return jerr(err, file, TRIT_E_CORRUPT, "added_tokens", "is not an array");
    int rc = alloc_added(out, cJSON_GetArraySize(arr), file, "added_tokens", err);
    uint32_t k = 0;
    for (const cJSON *e = arr->child; e && rc == TRIT_OK; e = e->next, k++) {
        char where[48];
        snprintf(where, sizeof where, "added_tokens[%u]", k);
        uint64_t id;
        if (!cvt__juint(cvt__jget(e, "id"), TRIT_MAX_VOCAB - 1, &id))
            rc = jerr(err, file, TRIT_E_CORRUPT, where, "'id' is missing or not an integer below the "
                      "vocabulary limit");
        else
            rc = add_one(out, e, (uint32_t)id, file, where, err);
    }
    if (rc == TRIT_OK) rc = finish_added(out, file, "added_tokens", err);
    if (rc) cvt__added_release(out);
    return rc;
}

/* "123" -> 123 (digits only, below TRIT_MAX_VOCAB); 0 when it is not such a number. */
static int parse_id_key(const char *s, uint32_t *out)
{
    uint64_t v = 0;
    if (!s || !*s || strlen(s) > 9) return 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return 0;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    if (v >= TRIT_MAX_VOCAB) return 0;
    *out = (uint32_t)v;
    return 1;
}

int cvt__added_from_config(const cJSON *cfg, const char *file, cvt__added_list *out, trit_err *err)
{
    const cJSON *obj = cvt__jget(cfg, "added_tokens_decoder");
    out->a = NULL;
    out->n = 0;
    if (!obj || cJSON_IsNull(obj)) return TRIT_OK;
    if (!cJSON_IsObject(obj)) return jerr(err, file, TRIT_E_CORRUPT, "added_tokens_decoder", "is not an object");
    int rc = alloc_added(out, cJSON_GetArraySize(obj), file, "added_tokens_decoder", err);
    for (const cJSON *e = obj->child; e && rc == TRIT_OK; e = e->next) {
        char where[64];
        snprintf(where, sizeof where, "added_tokens_decoder '%.32s'", e->string);
        uint32_t id;
        if (!parse_id_key(e->string, &id))
            rc = jerr(err, file, TRIT_E_CORRUPT, where, "key is not a token id below the vocabulary limit");
        else if (!cJSON_IsObject(e))
            rc = jerr(err, file, TRIT_E_CORRUPT, where, "is not an object");
        else
            rc = add_one(out, e, id, file, where, err);
    }
    if (rc == TRIT_OK) rc = finish_added(out, file, "added_tokens_decoder", err);
    if (rc) cvt__added_release(out);
    return rc;
}

/* ---- what kind of tokenizer ------------------------------------------------------------------ */

/* Call fn on pre-tokenizer / normalizer pt itself, or on each member of a Sequence (list key). */
static int any_of(const cJSON *pt, const char *list, int (*fn)(const cJSON *))
{
    if (!cJSON_IsObject(pt)) return 0;
    const char *type = cvt__jstr(pt, "type");
    if (type && !strcmp(type, "Sequence")) {
        const cJSON *arr = cvt__jget(pt, list);
        if (!cJSON_IsArray(arr)) return 0;
        for (const cJSON *e = arr->child; e; e = e->next)
            if (fn(e)) return 1;
        return 0;
    }
    return fn(pt);
}

static int is_type(const cJSON *o, const char *t)
{
    const char *s = cvt__jstr(o, "type");
    return s && !strcmp(s, t);
}

#define SPM_SPACE "\xe2\x96\x81" /* U+2581 "▁", SentencePiece's visible space */

static int is_byte_level(const cJSON *o) { return is_type(o, "ByteLevel"); }
static int is_metaspace(const cJSON *o) { return is_type(o, "Metaspace"); }
static int is_spm_normalizer(const cJSON *o)
{
    if (is_type(o, "Prepend")) return 1;
    if (!is_type(o, "Replace")) return 0;
    const char *c = cvt__jstr(o, "content");
    return c && !strcmp(c, SPM_SPACE);
}

int cvt__json_style(const cJSON *root, const char *file, int *style, trit_err *err)
{
    const cJSON *model = cvt__jget(root, "model");
    if (!cJSON_IsObject(model)) return jerr(err, file, TRIT_E_CORRUPT, "model", "is missing or not an object");
    const char *type = cvt__jstr(model, "type");
    const cJSON *vocab = cvt__jget(model, "vocab");
    if (!type) /* files from old tokenizers versions omit the type: infer it from the vocab */
        type = jkind(vocab) == '{' && cvt__jget(model, "merges") ? "BPE" : jkind(vocab) == '[' ? "Unigram" : "";
    if (!strcmp(type, "Unigram")) {
        *style = SRC_JSON_UNIGRAM;
        return TRIT_OK;
    }
    if (strcmp(type, "BPE") != 0)
        return jerr(err, file, TRIT_E_UNSUPPORTED, "model.type", "tokenizer model '%.40s' is not supported "
                    "(only BPE and Unigram)", type);
    const cJSON *pt = cvt__jget(root, "pre_tokenizer");
    if (any_of(pt, "pretokenizers", is_byte_level)) {
        *style = SRC_JSON_BYTE_BPE;
        return TRIT_OK;
    }
    if (cJSON_IsTrue(cvt__jget(model, "byte_fallback")) || any_of(pt, "pretokenizers", is_metaspace) ||
        any_of(cvt__jget(root, "normalizer"), "normalizers", is_spm_normalizer)) {
        *style = SRC_JSON_SPM_BPE;
        return TRIT_OK;
    }
    return jerr(err, file, TRIT_E_UNSUPPORTED, "model", "BPE tokenizer with neither a ByteLevel "
                "pre-tokenizer nor SentencePiece-style byte fallback is not supported");
}

static int prepends(const cJSON *o)
{
    if (is_type(o, "Prepend")) {
        const char *p = cvt__jstr(o, "prepend");
        return p && !strcmp(p, SPM_SPACE);
    }
    if (!is_type(o, "Metaspace")) return 0;
    const char *scheme = cvt__jstr(o, "prepend_scheme");
    if (scheme) return strcmp(scheme, "never") != 0;
    const cJSON *aps = cvt__jget(o, "add_prefix_space");
    return !cJSON_IsFalse(aps);   /* the tokenizers default is true */
}

int cvt__json_space_prefix(const cJSON *root)
{
    return any_of(cvt__jget(root, "normalizer"), "normalizers", prepends) ||
           any_of(cvt__jget(root, "pre_tokenizer"), "pretokenizers", prepends);
}

/* ---- vocabulary ---------------------------------------------------------------------------- */

/* Table size from the base entries and the added tokens: ids 0..max must all be present, so
 * max + 1 > n_base + n_added means a gap before anything is allocated. */
static int size_table(cvt__tok *t, uint64_t max_base, uint32_t n_base, const cvt__added_list *al,
                      const char *file)
{
    uint64_t max = max_base;
    if (al->n && al->a[al->n - 1].id > max) max = al->a[al->n - 1].id;
    if (n_base == 0 && al->n == 0)
        return jerr(t->err, file, TRIT_E_CORRUPT, "model.vocab", "the vocabulary is empty");
    if (max + 1 > (uint64_t)n_base + al->n) {
        trit_err_file(t->err, file);
        return trit_err_set(t->err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, "model.vocab",
                            "token ids go up to %llu but there are only %llu tokens (ids must cover "
                            "0..n-1 with no gap)", (unsigned long long)max,
                            (unsigned long long)n_base + al->n);
    }
    return cvt__tok_alloc(t, (uint32_t)(max + 1));
}

static int bpe_vocab(cvt__tok *t, const cJSON *vocab, const char *file, int spm, const cvt__added_list *al)
{
    if (jkind(vocab) != '{') return jerr(t->err, file, TRIT_E_CORRUPT, "model.vocab", "is missing or not an object");
    uint64_t max = 0;
    uint32_t n = 0;
    jwalk w;
    int rc = TRIT_OK;
    jwalk_init(&w, vocab);
    for (const cJSON *e; rc == TRIT_OK && (e = jwalk_next(&w)) != NULL; n++) {
        uint64_t id;
        if (n >= TRIT_MAX_VOCAB) {
            rc = jerr(t->err, file, TRIT_E_LIMIT, "model.vocab", "more tokens than the vocabulary limit");
        } else if (!cvt__juint(e, TRIT_MAX_VOCAB - 1, &id)) {
            char where[80];
            snprintf(where, sizeof where, "model.vocab '%.40s'", e->string);
            rc = jerr(t->err, file, TRIT_E_CORRUPT, where, "id is not an integer below the vocabulary limit");
        } else if (id > max) {
            max = id;
        }
    }
    jwalk_done(&w);
    if (rc == TRIT_OK && w.nomem) rc = cvt__tok_nomem(t);
    if (rc == TRIT_OK) rc = size_table(t, n ? max : 0, n, al, file);
    jwalk_init(&w, vocab);
    for (const cJSON *e; rc == TRIT_OK && (e = jwalk_next(&w)) != NULL;) {
        uint32_t const id = (uint32_t)e->valuedouble;
        size_t const len = strlen(e->string);
        char where[80];
        snprintf(where, sizeof where, "model.vocab '%.40s'", e->string);
        if (len == 0) {
            rc = jerr(t->err, file, TRIT_E_CORRUPT, where, "empty token");
        } else if (t->flag[id] & CVT__TOKF_SET) {
            trit_err_file(t->err, file);
            rc = trit_err_set(t->err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, where, "id %u is also token '%.*s'", id,
                              (int)(t->t_len[id] > 40 ? 40 : t->t_len[id]), (const char *)cvt__tok_str(t, id));
        } else {
            int32_t const type = spm && cvt__tok_is_byte_piece((const uint8_t *)e->string, len) ? CVT_TOK_BYTE
                                                                                                 : CVT_TOK_NORMAL;
            rc = cvt__tok_set(t, id, e->string, len, 0.0f, type, CVT__TOKF_BASE);
        }
    }
    jwalk_done(&w);
    if (rc == TRIT_OK && w.nomem) rc = cvt__tok_nomem(t);
    return rc;
}

static int unigram_vocab(cvt__tok *t, const cJSON *model, const char *file, const cvt__added_list *al)
{
    const cJSON *vocab = cvt__jget(model, "vocab");
    if (jkind(vocab) != '[') return jerr(t->err, file, TRIT_E_CORRUPT, "model.vocab", "is missing or not an array");
    uint64_t const n = jcount(vocab);
    if (n > TRIT_MAX_VOCAB)
        return jerr(t->err, file, TRIT_E_LIMIT, "model.vocab", "more tokens than the vocabulary limit");
    int const bf = cJSON_IsTrue(cvt__jget(model, "byte_fallback"));
    int rc = size_table(t, n ? n - 1 : 0, (uint32_t)n, al, file);
    uint32_t id = 0;
    jwalk w;
    jwalk_init(&w, vocab);
    for (const cJSON *e; rc == TRIT_OK && (e = jwalk_next(&w)) != NULL; id++) {
        char where[48];
        snprintf(where, sizeof where, "model.vocab[%u]", id);
        const cJSON *s = cJSON_GetArrayItem(e, 0), *sc = cJSON_GetArrayItem(e, 1);
        if (!cJSON_IsArray(e) || cJSON_GetArraySize(e) != 2 || !cJSON_IsString(s) || !cJSON_IsNumber(sc)) {
            rc = jerr(t->err, file, TRIT_E_CORRUPT, where, "is not a [piece, score] pair");
            break;
        }
        size_t const len = strlen(s->valuestring);
        if (len == 0) {
            rc = jerr(t->err, file, TRIT_E_CORRUPT, where, "empty piece");
            break;
        }
        int32_t const type = bf && cvt__tok_is_byte_piece((const uint8_t *)s->valuestring, len) ? CVT_TOK_BYTE
                                                                                                : CVT_TOK_NORMAL;
        rc = cvt__tok_set(t, id, s->valuestring, len, (float)sc->valuedouble, type, CVT__TOKF_BASE);
    }
    jwalk_done(&w);
    if (rc == TRIT_OK && w.nomem) rc = cvt__tok_nomem(t);
    return rc;
}

/* Merge rank r as its two parts (borrowed from the tree). Both forms: "a b" (split at the first
 * space after the first byte, as llama.cpp does) and ["a", "b"] (transformers >= 4.45, which
 * allows spaces inside parts). */
static int merge_parts(const cJSON *m, uint32_t r, const char *file, const char **a, size_t *na,
                       const char **b, size_t *nb, int *array_form, trit_err *err)
{
    char where[48];
    snprintf(where, sizeof where, "model.merges[%u]", r);
    if (cJSON_IsString(m)) {
        const char *s = m->valuestring;
        const char *sp = s[0] ? strchr(s + 1, ' ') : NULL;
        if (!sp || !sp[1]) return jerr(err, file, TRIT_E_CORRUPT, where, "merge '%.60s' is not \"left right\"", s);
        *a = s;
        *na = (size_t)(sp - s);
        *b = sp + 1;
        *nb = strlen(sp + 1);
        *array_form = 0;
    } else {
        const cJSON *x = cJSON_GetArrayItem(m, 0), *y = cJSON_GetArrayItem(m, 1);
        if (!cJSON_IsArray(m) || cJSON_GetArraySize(m) != 2 || !cJSON_IsString(x) || !cJSON_IsString(y) ||
            !x->valuestring[0] || !y->valuestring[0])
            return jerr(err, file, TRIT_E_CORRUPT, where, "merge is neither \"left right\" nor a pair of "
                        "non-empty strings");
        *a = x->valuestring;
        *na = strlen(*a);
        *b = y->valuestring;
        *nb = strlen(*b);
        *array_form = 1;
    }
    if (*na > TRIT_MAX_TOKEN_LEN || *nb > TRIT_MAX_TOKEN_LEN)
        return jerr(err, file, TRIT_E_LIMIT, where, "merge part longer than the token limit");
    return TRIT_OK;
}

/* Append s to buf with every ' ' as U+0120 "Ġ": llama.cpp's encoding of spaces inside the
 * parts of array-form merges (its merges are split at the first space). */
static size_t put_part(uint8_t *buf, const char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ') {
            buf[o++] = 0xc4;
            buf[o++] = 0xa0;
        } else {
            buf[o++] = (uint8_t)s[i];
        }
    }
    return o;
}

/* Walk the merges: check each part and their concatenation are tokens (the tokenizers library
 * refuses a file where they are not), then store them (byte-level BPE) or turn their ranks
 * into scores (SentencePiece-style BPE). */
static int do_merges(cvt__tok *t, const cJSON *model, const char *file, int spm)
{
    const cJSON *merges = cvt__jget(model, "merges");
    if (!merges || cJSON_IsNull(merges)) return TRIT_OK;
    if (jkind(merges) != '[') return jerr(t->err, file, TRIT_E_CORRUPT, "model.merges", "is not an array");
    if (jcount(merges) > TRIT_MAX_ARRAY_LEN)
        return jerr(t->err, file, TRIT_E_LIMIT, "model.merges", "more merges than the array limit");
    uint8_t *buf = malloc(4u * TRIT_MAX_TOKEN_LEN + 8);
    if (!buf) return cvt__tok_nomem(t);
    int rc = TRIT_OK;
    uint32_t r = 0;
    jwalk w;
    jwalk_init(&w, merges);
    for (const cJSON *m; rc == TRIT_OK && (m = jwalk_next(&w)) != NULL; r++) {
        const char *a = NULL, *b = NULL;
        size_t na = 0, nb = 0;
        int arr = 0;
        rc = merge_parts(m, r, file, &a, &na, &b, &nb, &arr, t->err);
        if (rc) break;
        memcpy(buf, a, na);
        memcpy(buf + na, b, nb);
        uint32_t const ia = cvt__tok_find(t, a, na), ib = cvt__tok_find(t, b, nb);
        uint32_t const id = cvt__tok_find(t, buf, na + nb);
        if (ia == CVT_TOK_NONE || ib == CVT_TOK_NONE || id == CVT_TOK_NONE) {
            const char *what = ia == CVT_TOK_NONE ? a : ib == CVT_TOK_NONE ? b : (const char *)buf;
            size_t const wn = ia == CVT_TOK_NONE ? na : ib == CVT_TOK_NONE ? nb : na + nb;
            char where[48];
            snprintf(where, sizeof where, "model.merges[%u]", r);
            trit_err_file(t->err, file);
            rc = trit_err_set(t->err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, where, "'%.*s' is not a token",
                              (int)(wn > 40 ? 40 : wn), what);
            break;
        }
        if (spm) {
            /* earlier rank = higher priority; a token made by several merges keeps its best */
            if (-(float)r > t->score[id]) t->score[id] = -(float)r;
            continue;
        }
        size_t n = arr ? put_part(buf, a, na) : na;
        buf[n++] = ' ';
        n += arr ? put_part(buf + n, b, nb) : (memcpy(buf + n, b, nb), nb);
        rc = cvt__tok_merge(t, buf, n);
    }
    jwalk_done(&w);
    if (rc == TRIT_OK && w.nomem) rc = cvt__tok_nomem(t);
    free(buf);
    return rc;
}

int cvt__json_vocab(cvt__tok *t, const cJSON *root, const char *file, int style, const cvt__added_list *al)
{
    const cJSON *model = cvt__jget(root, "model");
    int const spm = style != SRC_JSON_BYTE_BPE;
    int rc = style == SRC_JSON_UNIGRAM ? unigram_vocab(t, model, file, al)
                                        : bpe_vocab(t, cvt__jget(model, "vocab"), file, spm, al);
    if (rc == TRIT_OK) rc = cvt__tok_overlay(t, al, spm);
    if (rc == TRIT_OK) rc = cvt__tok_check_gaps(t, file, "model.vocab");
    if (rc == TRIT_OK) rc = cvt__tok_index(t, file);
    if (rc) return rc;
    t->has_scores = spm;
    if (style == SRC_JSON_SPM_BPE) {
        /* tokens no merge makes are never preferred; special, byte and unknown ones score 0 */
        const cJSON *merges = cvt__jget(model, "merges");
        float const low = -(float)((jkind(merges) == '[' ? (uint32_t)jcount(merges) : 0u) + 1u);
        for (uint32_t id = 0; id < t->n; id++)
            if (t->type[id] == CVT_TOK_NORMAL) t->score[id] = low;
    }
    if (style != SRC_JSON_UNIGRAM) rc = do_merges(t, model, file, spm);
    if (rc) return rc;

    /* the unknown token: "unk_token" (BPE) or "unk_id" (Unigram) */
    uint32_t unk = CVT_TOK_NONE;
    const char *us = cvt__jstr(model, "unk_token");
    uint64_t uid;
    if (us) {
        unk = cvt__tok_find(t, us, strlen(us));
        if (unk == CVT_TOK_NONE) cvt__tok_warn(t, "%s: model.unk_token '%.40s' is not a token", file, us);
    } else if (cvt__juint(cvt__jget(model, "unk_id"), UINT32_MAX, &uid)) {
        if (uid < t->n) unk = (uint32_t)uid;
        else cvt__tok_warn(t, "%s: model.unk_id %llu is not a token id", file, (unsigned long long)uid);
    }
    if (unk != CVT_TOK_NONE) {
        t->special[CVT__SP_UNK] = unk;
        if (spm) t->type[unk] = CVT_TOK_UNKNOWN;
    }
    return TRIT_OK;
}
