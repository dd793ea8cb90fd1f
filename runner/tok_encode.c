/*
 * tok_encode.c - text -> token ids: special-token partition, then SentencePiece or
 * byte-level BPE on each raw fragment (ports of llama.cpp's llm_tokenizer_spm_session,
 * llm_tokenizer_bpe_session and tokenizer_st_partition).
 *
 * Both tokenizers keep a linked list of symbols over the text and a priority queue of
 * adjacent pairs that form a vocabulary entry: SentencePiece merges the pair whose token has
 * the highest score, BPE the pair whose merge has the lowest rank; ties go to the leftmost
 * pair. A popped pair is stale when either side has changed since it was queued (their
 * lengths no longer add up), and is skipped.
 */
#include <stdlib.h>
#include <string.h>

#include "tok_int.h"
#include "trit_safemath.h"

int run_tok__ivec_push(run_tok__ivec *o, int32_t id)
{
    if (o->n == o->cap) {
        size_t const cap = o->cap ? o->cap * 2 : 64;
        int32_t *nv = trit_mallocarray(cap, sizeof *nv);
        if (!nv) return TRIT_E_NOMEM;
        if (o->n) memcpy(nv, o->v, o->n * sizeof *nv);
        free(o->v);
        o->v = nv;
        o->cap = cap;
    }
    o->v[o->n++] = id;
    return TRIT_OK;
}

/* ---- symbols and the pair queue ----------------------------------------------------- */

typedef struct sym {
    int32_t prev, next;        /* neighbours in the list, -1 at the ends */
    size_t off, n;             /* bytes of the text; n == 0 once merged into the left */
} sym;

typedef struct pair {
    int32_t left, right;
    double key;                /* higher merges first: SPM score, BPE -rank */
    size_t size;               /* left.n + right.n when queued */
} pair;

typedef struct pairq {
    pair *v;
    size_t n, cap;
} pairq;

static int better(const pair *a, const pair *b)
{
    return a->key > b->key || (a->key == b->key && a->left < b->left);
}

static int pq_push(pairq *q, pair p)
{
    if (q->n == q->cap) {
        size_t const cap = q->cap ? q->cap * 2 : 64;
        pair *nv = trit_mallocarray(cap, sizeof *nv);
        if (!nv) return TRIT_E_NOMEM;
        if (q->n) memcpy(nv, q->v, q->n * sizeof *nv);
        free(q->v);
        q->v = nv;
        q->cap = cap;
    }
    size_t i = q->n++;
    while (i > 0 && better(&p, &q->v[(i - 1) / 2])) {
        q->v[i] = q->v[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    q->v[i] = p;
    return TRIT_OK;
}

static pair pq_pop(pairq *q)
{
    pair const top = q->v[0];
    pair const last = q->v[--q->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= q->n) break;
        if (c + 1 < q->n && better(&q->v[c + 1], &q->v[c])) c++;
        if (!better(&q->v[c], &last)) break;
        q->v[i] = q->v[c];
        i = c;
    }
    if (q->n) q->v[i] = last;
    return top;
}

/* Split text[0, len) into one symbol per UTF-8 character (by the lead byte, cut at the end). */
static size_t make_symbols(const char *text, size_t len, sym *s)
{
    size_t off = 0, n = 0;
    while (off < len) {
        size_t const cl = run_tok__utf8_len((uint8_t)text[off]);
        size_t const sl = cl < len - off ? cl : len - off;
        s[n].prev = (int32_t)n - 1;
        s[n].next = off + sl == len ? -1 : (int32_t)n + 1;
        s[n].off = off;
        s[n].n = sl;
        off += sl;
        n++;
    }
    return n;
}

/* Merge the right symbol of p into its left one. */
static void merge_pair(sym *s, const pair *p)
{
    sym *const l = &s[p->left], *const r = &s[p->right];
    l->n += r->n;
    r->n = 0;
    l->next = r->next;
    if (r->next >= 0) s[r->next].prev = p->left;
}

static int stale(const sym *s, const pair *p)
{
    return s[p->left].n == 0 || s[p->right].n == 0 || s[p->left].n + s[p->right].n != p->size;
}

/* ---- SentencePiece ------------------------------------------------------------------ */

static int spm_try_pair(const run_tok *t, const char *text, const sym *s, int32_t l, int32_t r, pairq *q)
{
    if (l < 0 || r < 0) return TRIT_OK;
    size_t const size = s[l].n + s[r].n;
    int32_t const id = run_tok__lookup(t, text + s[l].off, size);
    if (id < 0) return TRIT_OK;
    pair const p = { l, r, (double)t->score[id], size };
    return pq_push(q, p);
}

/* text is already escaped (spaces as U+2581). */
int run_tok__spm(const run_tok *t, const char *text, size_t len, run_tok__ivec *out)
{
    int rc = TRIT_OK;
    pairq q = { NULL, 0, 0 };
    if (len == 0) return TRIT_OK;
    sym *s = trit_mallocarray(len, sizeof *s);
    if (!s) return TRIT_E_NOMEM;
    size_t const n = make_symbols(text, len, s);
    for (size_t i = 1; i < n && rc == TRIT_OK; i++) rc = spm_try_pair(t, text, s, (int32_t)i - 1, (int32_t)i, &q);
    while (q.n > 0 && rc == TRIT_OK) {
        pair const p = pq_pop(&q);
        if (stale(s, &p)) continue;
        merge_pair(s, &p);
        rc = spm_try_pair(t, text, s, s[p.left].prev, p.left, &q);
        if (rc == TRIT_OK) rc = spm_try_pair(t, text, s, p.left, s[p.left].next, &q);
    }
    for (int32_t i = 0; i != -1 && rc == TRIT_OK; i = s[i].next) {
        int32_t const id = run_tok__lookup(t, text + s[i].off, s[i].n);
        if (id >= 0) {
            rc = run_tok__ivec_push(out, id);
            continue;
        }
        /* no token for this piece: its bytes, as <0xXX> tokens */
        for (size_t j = 0; j < s[i].n && rc == TRIT_OK; j++) {
            int32_t const b = t->byte_tok[(uint8_t)text[s[i].off + j]];
            if (b >= 0) rc = run_tok__ivec_push(out, b);
            else if (t->unk >= 0) rc = run_tok__ivec_push(out, t->unk);
        }
    }
    free(q.v);
    free(s);
    return rc;
}

/* ---- byte-level BPE ------------------------------------------------------------------ */

static int bpe_try_pair(const run_tok *t, const char *text, const sym *s, int32_t l, int32_t r, pairq *q)
{
    if (l < 0 || r < 0) return TRIT_OK;
    int32_t const rank = run_tok__merge_rank(t, text + s[l].off, s[l].n, text + s[r].off, s[r].n);
    if (rank < 0) return TRIT_OK;
    pair const p = { l, r, -(double)rank, s[l].n + s[r].n };
    return pq_push(q, p);
}

/* One pre-tokenized word (already byte-encoded): merge, then append its tokens. */
static int bpe_word(const run_tok *t, const char *w, size_t len, sym *s, pairq *q, run_tok__ivec *out)
{
    int rc = TRIT_OK;
    size_t n;
    q->n = 0;
    if (t->ignore_merges && run_tok__lookup(t, w, len) >= 0) {
        s[0].prev = s[0].next = -1;
        s[0].off = 0;
        s[0].n = len;
        n = 1;
    } else {
        n = make_symbols(w, len, s);
    }
    for (size_t i = 1; i < n && rc == TRIT_OK; i++) rc = bpe_try_pair(t, w, s, (int32_t)i - 1, (int32_t)i, q);
    while (q->n > 0 && rc == TRIT_OK) {
        pair const p = pq_pop(q);
        if (stale(s, &p)) continue;
        merge_pair(s, &p);
        rc = bpe_try_pair(t, w, s, s[p.left].prev, p.left, q);
        if (rc == TRIT_OK) rc = bpe_try_pair(t, w, s, p.left, s[p.left].next, q);
    }
    for (size_t i = 0; i < n && rc == TRIT_OK; i++) {
        if (s[i].n == 0) continue;
        int32_t const id = run_tok__lookup(t, w + s[i].off, s[i].n);
        if (id >= 0) {
            rc = run_tok__ivec_push(out, id);
            continue;
        }
        /* llama.cpp falls back to single bytes of the encoded text, dropping those that
         * are no token */
        for (size_t j = 0; j < s[i].n && rc == TRIT_OK; j++) {
            int32_t const b = run_tok__lookup(t, w + s[i].off + j, 1);
            if (b >= 0) rc = run_tok__ivec_push(out, b);
        }
    }
    return rc;
}

int run_tok__bpe(const run_tok *t, const char *text, size_t len, run_tok__ivec *out)
{
    int rc = TRIT_OK;
    run_tok__svec words = { NULL, 0, 0 };
    pairq q = { NULL, 0, 0 };
    sym *s = NULL;
    size_t s_cap = 0;
    uint32_t *cpts = trit_mallocarray(len, sizeof *cpts);
    /* re-encoding turns an invalid byte into U+FFFD (3 bytes); the GPT-2 mapping then makes
     * each byte at most 2: at most 6 bytes per input byte */
    char *enc = trit_mallocarray(len, 6);
    if (!cpts || !enc) {
        rc = TRIT_E_NOMEM;
        goto cleanup;
    }
    size_t const n_cpts = run_tok__utf8_decode((const uint8_t *)text, len, cpts);
    rc = run_tok__pre_split(t->pre, cpts, n_cpts, &words);
    size_t c = 0;
    for (size_t w = 0; w < words.n && rc == TRIT_OK; w++) {
        /* re-encode the word's code points, then map every byte to its GPT-2 character:
         * one symbol per re-encoded byte at most */
        size_t elen = 0, n_bytes = 0;
        for (size_t k = 0; k < words.v[w]; k++, c++) {
            char u[4];
            size_t const ul = run_tok__utf8_put(cpts[c], u);
            n_bytes += ul;
            for (size_t b = 0; b < ul; b++) elen += run_tok__utf8_put(run_tok__byte_to_cpt((uint8_t)u[b]), enc + elen);
        }
        if (n_bytes > s_cap) {
            free(s);
            s = trit_mallocarray(n_bytes, sizeof *s);
            s_cap = s ? n_bytes : 0;
            if (!s) {
                rc = TRIT_E_NOMEM;
                break;
            }
        }
        rc = bpe_word(t, enc, elen, s, &q, out);
    }

cleanup:
    free(words.v);
    free(q.v);
    free(cpts);
    free(enc);
    free(s);
    return rc;
}

/* ---- special tokens and the driver ---------------------------------------------------- */

typedef struct frag {
    int32_t tok;               /* a special token, or -1 for raw text */
    size_t off, len;           /* raw text: bytes of the input */
} frag;

typedef struct fragv {
    frag *v;
    size_t n, cap;
} fragv;

static int fv_push(fragv *f, int32_t tok, size_t off, size_t len)
{
    if (f->n == f->cap) {
        size_t const cap = f->cap ? f->cap * 2 : 16;
        frag *nv = trit_mallocarray(cap, sizeof *nv);
        if (!nv) return TRIT_E_NOMEM;
        if (f->n) memcpy(nv, f->v, f->n * sizeof *nv);
        free(f->v);
        f->v = nv;
        f->cap = cap;
    }
    f->v[f->n].tok = tok;
    f->v[f->n].off = off;
    f->v[f->n].len = len;
    f->n++;
    return TRIT_OK;
}

/* C-locale isspace, which llama.cpp's lstrip/rstrip use. */
static int c_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

/* First occurrence of needle in hay, or NULL. */
static const char *find_bytes(const char *hay, size_t n, const char *needle, size_t m)
{
    if (m == 0 || m > n) return NULL;
    const char *p = hay, *const last = hay + (n - m);
    while (p <= last) {
        p = memchr(p, needle[0], (size_t)(last - p) + 1);
        if (!p) return NULL;
        if (memcmp(p, needle, m) == 0) return p;
        p++;
    }
    return NULL;
}

/* Cut the raw fragments of *cur at every occurrence of special token id, into *next. */
static int cut_special(const run_tok *t, const char *text, int32_t id, const fragv *cur, fragv *next)
{
    const char *const st = t->text + t->tok_off[id];
    size_t const sn = t->tok_len[id];
    uint16_t const attr = t->attr[id];
    int rc = TRIT_OK;
    next->n = 0;
    for (size_t i = 0; i < cur->n && rc == TRIT_OK; i++) {
        if (cur->v[i].tok >= 0) {
            rc = fv_push(next, cur->v[i].tok, 0, 0);
            continue;
        }
        size_t off = cur->v[i].off, len = cur->v[i].len;
        while (rc == TRIT_OK) {
            const char *const m = find_bytes(text + off, len, st, sn);
            if (!m) {
                rc = fv_push(next, -1, off, len);
                break;
            }
            size_t const at = (size_t)(m - text);
            size_t left = at - off;
            if (attr & RUN_TOK_A_LSTRIP)
                while (left > 0 && c_space(text[off + left - 1])) left--;
            if (left > 0) rc = fv_push(next, -1, off, left);
            if (rc == TRIT_OK) rc = fv_push(next, id, 0, 0);
            size_t r_off = at + sn, r_len = off + len - r_off;
            if (r_len == 0) break;
            if (attr & RUN_TOK_A_RSTRIP)
                while (r_len > 0 && c_space(text[r_off])) r_off++, r_len--;
            if (r_len == 0) break;
            off = r_off;
            len = r_len;
        }
    }
    return rc;
}

static int partition(const run_tok *t, const char *text, size_t len, int parse_special, fragv *out)
{
    fragv tmp = { NULL, 0, 0 };
    /* Byte pairs present in the text: a special token whose first two bytes never occur is
     * skipped without a scan, so a vocabulary with many added tokens stays cheap. */
    uint8_t *const pairs = calloc(65536 / 8, 1);
    if (!pairs) return TRIT_E_NOMEM;
    for (size_t i = 0; i + 1 < len; i++) {
        unsigned const pr = (unsigned)(uint8_t)text[i] << 8 | (uint8_t)text[i + 1];
        pairs[pr >> 3] |= (uint8_t)(1u << (pr & 7));
    }
    int rc = fv_push(out, -1, 0, len);
    for (uint32_t k = 0; k < t->n_special && rc == TRIT_OK; k++) {
        int32_t const id = t->special[k];
        /* control and unknown tokens only when asked; user-defined ones always */
        if (!parse_special && (t->attr[id] & (RUN_TOK_A_CONTROL | RUN_TOK_A_UNKNOWN))) continue;
        if (t->tok_len[id] >= 2) {
            const uint8_t *const st = (const uint8_t *)t->text + t->tok_off[id];
            unsigned const pr = (unsigned)st[0] << 8 | st[1];
            if (!(pairs[pr >> 3] & (1u << (pr & 7)))) continue;
        }
        rc = cut_special(t, text, id, out, &tmp);
        fragv const sw = *out;
        *out = tmp;
        tmp = sw;
    }
    free(tmp.v);
    free(pairs);
    return rc;
}

/* SentencePiece input of one fragment: optional leading space, spaces as U+2581. */
static char *spm_escape(const char *s, size_t n, int prefix, size_t *out_len)
{
    size_t spaces = (size_t)prefix;
    for (size_t i = 0; i < n; i++) spaces += s[i] == ' ';
    /* n + 2 * spaces + 1 <= 3 * (n + 1) + 1: no overflow for n <= RUN_TOK_MAX_TEXT */
    char *const o = malloc(n + 2 * spaces + 1);
    if (!o) return NULL;
    size_t k = 0;
    if (prefix) memcpy(o + k, "\xe2\x96\x81", 3), k += 3;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ') memcpy(o + k, "\xe2\x96\x81", 3), k += 3;
        else o[k++] = s[i];
    }
    *out_len = k;
    return o;
}

int run_tok_encode(const run_tok *t, const char *text, size_t len, unsigned flags, int32_t **ids,
                   size_t *n, trit_err *err)
{
    run_tok__ivec out = { NULL, 0, 0 };
    fragv frags = { NULL, 0, 0 };
    int const add = (flags & RUN_TOK_ADD_SPECIAL) != 0;
    int rc = TRIT_OK;
    *ids = NULL;
    *n = 0;
    if (len > RUN_TOK_MAX_TEXT)
        return trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, "prompt", "%zu bytes, the cap is %u",
                            len, RUN_TOK_MAX_TEXT);
    if (len > 0) rc = partition(t, text, len, (flags & RUN_TOK_PARSE_SPECIAL) != 0, &frags);
    if (rc == TRIT_OK && add && t->add_bos) rc = run_tok__ivec_push(&out, t->bos);

    int prev_special = 1;   /* SentencePiece: a space goes before text that starts the input
                               or follows a special token */
    for (size_t i = 0; i < frags.n && rc == TRIT_OK; i++) {
        const frag *const f = &frags.v[i];
        if (f->tok >= 0) {
            rc = run_tok__ivec_push(&out, f->tok);
            prev_special = 1;
        } else if (t->model == RUN_TOK_SPM) {
            size_t el = 0;
            char *const esc = spm_escape(text + f->off, f->len, t->add_space_prefix && prev_special, &el);
            rc = esc ? run_tok__spm(t, esc, el, &out) : TRIT_E_NOMEM;
            free(esc);
            prev_special = 0;
        } else {
            rc = run_tok__bpe(t, text + f->off, f->len, &out);
        }
    }
    if (rc == TRIT_OK && add && t->add_eos) rc = run_tok__ivec_push(&out, t->eos);
    free(frags.v);
    if (rc != TRIT_OK) {
        free(out.v);
        return trit_err_set(err, rc, TRIT_NO_OFFSET, "prompt", "out of memory tokenizing %zu bytes", len);
    }
    *ids = out.v;
    *n = out.n;
    return TRIT_OK;
}
