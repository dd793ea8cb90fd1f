/* cvt_tok_vocab.c - the vocabulary under construction: token table, text arena, text -> id
 * hash, added-token overlay, gap and duplicate checks, padding. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cvt_tok_int.h"
#include "trit_limits.h"
#include "trit_safemath.h"

static const char *const sp_hf[CVT__SP_COUNT] = {"bos", "eos", "unk", "sep", "pad", "cls", "mask"};
static const char *const sp_key[CVT__SP_COUNT] = {
    "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "tokenizer.ggml.unknown_token_id",
    "tokenizer.ggml.seperator_token_id", "tokenizer.ggml.padding_token_id",
    "tokenizer.ggml.cls_token_id", "tokenizer.ggml.mask_token_id"};

const char *cvt__tok_sp_hf(int sp) { return sp_hf[sp]; }
const char *cvt__tok_sp_key(int sp) { return sp_key[sp]; }

int cvt__tok_nomem(cvt__tok *t)
{
    return trit_err_set(t->err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory building the vocabulary");
}

void cvt__tok_init(cvt__tok *t, cvt_tok_info *info, trit_err *err)
{
    memset(t, 0, sizeof *t);
    for (int i = 0; i < CVT__SP_COUNT; i++) t->special[i] = CVT_TOK_NONE;
    t->add_bos = t->add_eos = t->add_space_prefix = -1;
    t->info = info;
    t->err = err;
}

void cvt__tok_release(cvt__tok *t)
{
    free(t->t_off);
    free(t->t_len);
    free(t->score);
    free(t->type);
    free(t->flag);
    free(t->m_off);
    free(t->m_len);
    free(t->arena);
    cvt__hash_release(&t->h);
    t->t_off = NULL;
    t->t_len = NULL;
    t->score = NULL;
    t->type = NULL;
    t->flag = NULL;
    t->m_off = NULL;
    t->m_len = NULL;
    t->arena = NULL;
    t->n = t->n_merges = t->cap_merges = 0;
    t->arena_len = t->arena_cap = 0;
}

void cvt__tok_warn(cvt__tok *t, const char *fmt, ...)
{
    if (t->info->n_warnings++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(t->info->warning, sizeof t->info->warning, fmt, ap);
        va_end(ap);
    }
}

/* Grow an array of elem-sized items from n_old to n_new (zero-filled). */
static int grow(void *pp, size_t elem, uint32_t n_old, uint32_t n_new)
{
    void **p = pp;
    void *q = trit_mallocarray(n_new, elem);
    if (!q) return -1;
    if (n_old) memcpy(q, *p, (size_t)n_old * elem);
    memset((uint8_t *)q + (size_t)n_old * elem, 0, (size_t)(n_new - n_old) * elem);
    free(*p);
    *p = q;
    return 0;
}

int cvt__tok_alloc(cvt__tok *t, uint32_t n)
{
    if (n > TRIT_MAX_VOCAB)
        return trit_err_set(t->err, TRIT_E_LIMIT, TRIT_NO_OFFSET, "vocabulary", "%u tokens, limit %u", n,
                            TRIT_MAX_VOCAB);
    if (n <= t->n) return TRIT_OK;
    if (grow(&t->t_off, sizeof *t->t_off, t->n, n) || grow(&t->t_len, sizeof *t->t_len, t->n, n) ||
        grow(&t->score, sizeof *t->score, t->n, n) || grow(&t->type, sizeof *t->type, t->n, n) ||
        grow(&t->flag, sizeof *t->flag, t->n, n))
        return cvt__tok_nomem(t);
    t->n = n;
    return TRIT_OK;
}

int cvt__tok_text(cvt__tok *t, const void *s, size_t len, uint64_t *off)
{
    if (len > TRIT_MAX_TOKEN_LEN)
        return trit_err_set(t->err, TRIT_E_LIMIT, TRIT_NO_OFFSET, "vocabulary", "token of %zu bytes, limit %u",
                            len, TRIT_MAX_TOKEN_LEN);
    if (len > t->arena_cap - t->arena_len) {
        size_t nc = t->arena_cap ? t->arena_cap : 65536;
        while (nc - t->arena_len < len) {
            if (nc > SIZE_MAX / 2) return cvt__tok_nomem(t);
            nc *= 2;
        }
        uint8_t *na = realloc(t->arena, nc);
        if (!na) return cvt__tok_nomem(t);
        t->arena = na;
        t->arena_cap = nc;
    }
    if (len) memcpy(t->arena + t->arena_len, s, len);
    *off = t->arena_len;
    t->arena_len += len;
    return TRIT_OK;
}

int cvt__tok_set(cvt__tok *t, uint32_t id, const void *s, size_t len, float score, int32_t type, uint8_t flag)
{
    uint64_t off;
    int const rc = cvt__tok_text(t, s, len, &off);
    if (rc) return rc;
    t->t_off[id] = off;
    t->t_len[id] = (uint32_t)len;
    t->score[id] = score;
    t->type[id] = type;
    t->flag[id] = (uint8_t)(flag | CVT__TOKF_SET);
    return TRIT_OK;
}

int cvt__tok_merge(cvt__tok *t, const void *s, size_t len)
{
    if (t->n_merges == t->cap_merges) {
        uint32_t const nc = t->cap_merges ? t->cap_merges * 2 : 1024;
        if (nc > (uint32_t)TRIT_MAX_ARRAY_LEN * 2u || grow(&t->m_off, sizeof *t->m_off, t->cap_merges, nc) ||
            grow(&t->m_len, sizeof *t->m_len, t->cap_merges, nc))
            return cvt__tok_nomem(t);
        t->cap_merges = nc;
    }
    uint64_t off;
    int const rc = cvt__tok_text(t, s, len, &off);
    if (rc) return rc;
    t->m_off[t->n_merges] = off;
    t->m_len[t->n_merges++] = (uint32_t)len;
    return TRIT_OK;
}

/* ---- hash ---------------------------------------------------------------------------------- */

int cvt__hash_init(cvt__hash *h, uint32_t n)
{
    h->slot = NULL;
    h->mask = 0;
    if (n > TRIT_MAX_VOCAB) return TRIT_E_LIMIT;
    uint32_t cap = 64;
    while (cap < 2u * n) cap *= 2;   /* n <= 2^22, so cap <= 2^24 */
    h->slot = calloc(cap, sizeof *h->slot);
    if (!h->slot) return TRIT_E_NOMEM;
    h->mask = cap - 1;
    return TRIT_OK;
}

void cvt__hash_release(cvt__hash *h)
{
    free(h->slot);
    h->slot = NULL;
    h->mask = 0;
}

static uint32_t probe(const cvt__hash *h, const void *s, size_t len, cvt__hash_get get, const void *ctx)
{
    uint32_t i = (uint32_t)trit_xxh3(s, len) & h->mask;
    for (;;) {
        uint32_t const v = h->slot[i];
        if (v == 0) return i;
        uint32_t l;
        const uint8_t *p = get(ctx, v - 1, &l);
        if (l == len && (len == 0 || memcmp(p, s, len) == 0)) return i;
        i = (i + 1) & h->mask;
    }
}

uint32_t cvt__hash_put(cvt__hash *h, uint32_t id, cvt__hash_get get, const void *ctx)
{
    uint32_t len;
    const uint8_t *s = get(ctx, id, &len);
    uint32_t const i = probe(h, s, len, get, ctx);
    if (h->slot[i]) return h->slot[i] - 1;
    h->slot[i] = id + 1;
    return CVT_TOK_NONE;
}

uint32_t cvt__hash_find(const cvt__hash *h, const void *s, size_t len, cvt__hash_get get, const void *ctx)
{
    if (!h->slot) return CVT_TOK_NONE;
    uint32_t const v = h->slot[probe(h, s, len, get, ctx)];
    return v ? v - 1 : CVT_TOK_NONE;
}

static const uint8_t *tok_get(const void *ctx, uint32_t id, uint32_t *len)
{
    const cvt__tok *t = ctx;
    *len = t->t_len[id];
    return cvt__tok_str(t, id);
}

/* A token's text for messages: at most 40 bytes, control bytes as '?'. */
static const char *show(const cvt__tok *t, uint32_t id, char *buf, size_t cap)
{
    size_t const n = t->t_len[id] < cap - 1 && t->t_len[id] < 40 ? t->t_len[id] : (cap - 1 < 40 ? cap - 1 : 40);
    const uint8_t *s = cvt__tok_str(t, id);
    for (size_t i = 0; i < n; i++) buf[i] = s[i] < 0x20 || s[i] == 0x7f ? '?' : (char)s[i];
    buf[n] = '\0';
    return buf;
}

int cvt__tok_index(cvt__tok *t, const char *file)
{
    cvt__hash_release(&t->h);
    int rc = cvt__hash_init(&t->h, t->n);
    if (rc) return rc == TRIT_E_NOMEM ? cvt__tok_nomem(t) : trit_err_set(t->err, rc, TRIT_NO_OFFSET, "vocabulary", "too many tokens");
    for (uint32_t id = 0; id < t->n; id++) {
        uint32_t const prev = cvt__hash_put(&t->h, id, tok_get, t);
        if (prev == CVT_TOK_NONE) continue;
        char b[48];
        uint8_t const fa = t->flag[prev], fb = t->flag[id];
        if ((fa & CVT__TOKF_BASE) && (fb & CVT__TOKF_BASE) && !((fa | fb) & CVT__TOKF_ADDED)) {
            trit_err_file(t->err, file);
            return trit_err_set(t->err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, "vocabulary",
                                "token '%s' appears twice (ids %u and %u)", show(t, id, b, sizeof b), prev, id);
        }
        cvt__tok_warn(t, "%s: token '%s' appears twice (ids %u and %u); text lookups use id %u", file,
                      show(t, id, b, sizeof b), prev, id, prev);
    }
    return TRIT_OK;
}

uint32_t cvt__tok_find(const cvt__tok *t, const void *s, size_t len)
{
    return cvt__hash_find(&t->h, s, len, tok_get, t);
}

/* ---- overlay, gaps, padding ------------------------------------------------------------------ */

int cvt__tok_looks_special(const char *s, size_t n)
{
    static const char *const fixed[] = {"<pad>", "<mask>", "<2mass>", "[@BOS@]"};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
        if (n == strlen(fixed[i]) && memcmp(s, fixed[i], n) == 0) return 1;
#define ENDS(a, b) (n >= sizeof(a) - 1 + sizeof(b) - 1 && memcmp(s, a, sizeof(a) - 1) == 0 && \
                    memcmp(s + n - (sizeof(b) - 1), b, sizeof(b) - 1) == 0)
    /* "<|...|>", DeepSeek's fullwidth "<｜...｜>" (U+FF5C), Gemma's "<unused...>" */
    return ENDS("<|", "|>") || ENDS("<\xef\xbd\x9c", "\xef\xbd\x9c>") || ENDS("<unused", ">");
#undef ENDS
}

int cvt__tok_is_byte_piece(const uint8_t *s, size_t n)
{
    if (n != 6 || s[0] != '<' || s[1] != '0' || s[2] != 'x' || s[5] != '>') return 0;
    for (int i = 3; i < 5; i++) {
        uint8_t const c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return 0;
    }
    return 1;
}

/* Text of a user-defined added token: llama.cpp stores "▁" (U+2581) as a plain space, because
 * it matches user-defined tokens against the raw text. Writes at most len bytes into buf. */
static size_t pre_normalize(const char *s, size_t len, char *buf)
{
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        if (len - i >= 3 && (uint8_t)s[i] == 0xe2 && (uint8_t)s[i + 1] == 0x96 && (uint8_t)s[i + 2] == 0x81) {
            buf[o++] = ' ';
            i += 3;
        } else {
            buf[o++] = s[i++];
        }
    }
    return o;
}

int cvt__tok_overlay(cvt__tok *t, const cvt__added_list *al, int spm_style)
{
    char *buf = NULL;
    size_t buf_cap = 0;
    int rc = TRIT_OK;
    for (uint32_t k = 0; k < al->n && rc == TRIT_OK; k++) {
        cvt__added const *a = &al->a[k];
        uint32_t const id = a->id;
        int const control = a->special || cvt__tok_looks_special(a->content, a->len);
        int32_t type = control ? CVT_TOK_CONTROL : CVT_TOK_USER_DEFINED;
        const char *text = a->content;
        size_t len = a->len;
        if (!control) {
            if (len > buf_cap) {
                char *nb = realloc(buf, len);
                if (!nb) { rc = cvt__tok_nomem(t); break; }
                buf = nb;
                buf_cap = len;
            }
            len = pre_normalize(a->content, a->len, buf);
            text = buf;
        }
        int const same = (t->flag[id] & CVT__TOKF_SET) && t->t_len[id] == a->len &&
                         memcmp(cvt__tok_str(t, id), a->content, a->len) == 0;
        if (same && len == a->len) {
            /* The model already has this piece: keep its score, and its type when the model
             * says more than "normal" (an SPM <unk> stays unknown, <0x0A> stays byte). */
            int32_t const bt = t->type[id];
            if (bt == CVT_TOK_NORMAL || bt == CVT_TOK_USER_DEFINED) t->type[id] = type;
            t->flag[id] |= CVT__TOKF_ADDED;
            continue;
        }
        /* llama.cpp scores added pieces of SentencePiece models -1000 (never merged into) */
        float const score = spm_style ? -1000.0f : 0.0f;
        uint8_t const base = same ? (t->flag[id] & CVT__TOKF_BASE) : 0;
        rc = cvt__tok_set(t, id, text, len, score, type, (uint8_t)(CVT__TOKF_ADDED | base));
    }
    free(buf);
    return rc;
}

int cvt__tok_check_gaps(cvt__tok *t, const char *file, const char *what)
{
    for (uint32_t id = 0; id < t->n; id++)
        if (!(t->flag[id] & CVT__TOKF_SET)) {
            trit_err_file(t->err, file);
            return trit_err_set(t->err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, what,
                                "token id %u is missing (ids must cover 0..%u with no gap)", id, t->n - 1);
        }
    return TRIT_OK;
}

int cvt__tok_pad(cvt__tok *t, uint32_t n)
{
    uint32_t const first = t->n;
    int rc = cvt__tok_alloc(t, n);
    for (uint32_t id = first; id < n && rc == TRIT_OK; id++) {
        char b[32];
        int const k = snprintf(b, sizeof b, "[PAD%u]", id);
        rc = cvt__tok_set(t, id, b, (size_t)k, t->has_scores ? -1000.0f : 0.0f, CVT_TOK_UNUSED, 0);
    }
    return rc;
}
