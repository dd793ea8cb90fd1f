/*
 * tok_decode.c - token ids -> text (llama.cpp token_to_piece / detokenize), and facts.
 */
#include <stdlib.h>
#include <string.h>

#include "tok_int.h"

/* Writes into buf up to cap bytes and counts every byte offered, like snprintf. */
typedef struct sink {
    char *buf;
    size_t cap, len;
    int skip_space;            /* drop one leading ' ' (the SentencePiece prefix space) */
} sink;

static void put(sink *o, const char *p, size_t n)
{
    if (o->skip_space && n > 0) {
        o->skip_space = 0;
        if (p[0] == ' ') p++, n--;
    }
    for (size_t i = 0; i < n; i++, o->len++)
        if (o->len < o->cap) o->buf[o->len] = p[i];
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* The byte of a "<0xXX>" token (0 when the text is not of that form, as strtol gives). */
static char byte_of(const char *s, size_t n)
{
    int const hi = n >= 5 ? hexval(s[3]) : -1, lo = n >= 5 ? hexval(s[4]) : -1;
    if (hi < 0) return 0;
    return (char)(lo < 0 ? hi : hi * 16 + lo);
}

static void piece(const run_tok *t, int32_t id, unsigned flags, sink *o)
{
    if (id < 0 || (uint32_t)id >= t->n_tokens) return;
    uint16_t const a = t->attr[id];
    const char *const s = t->text + t->tok_off[id];
    size_t const n = t->tok_len[id];
    if (a & (RUN_TOK_A_UNKNOWN | RUN_TOK_A_CONTROL)) {
        if (flags & RUN_TOK_RENDER_SPECIAL) put(o, s, n);
        return;
    }
    if (a & RUN_TOK_A_USER) {
        put(o, s, n);
        return;
    }
    if (a & RUN_TOK_A_NORMAL) {
        if (t->model == RUN_TOK_SPM) {   /* U+2581 -> ' ' */
            size_t i = 0, start = 0;
            while (i < n) {
                if (i + 3 <= n && memcmp(s + i, "\xe2\x96\x81", 3) == 0) {
                    put(o, s + start, i - start);
                    put(o, " ", 1);
                    i += 3;
                    start = i;
                } else {
                    i++;
                }
            }
            put(o, s + start, n - start);
        } else {                         /* GPT-2 characters -> bytes */
            uint32_t cpt[64];
            size_t done = 0;
            while (done < n) {
                /* decode in chunks of whole characters (64 code points need <= 256 bytes) */
                size_t chunk = n - done < 64 ? n - done : 64;
                while (done + chunk < n && (s[done + chunk] & 0xC0) == 0x80 && chunk > 1) chunk--;
                size_t const nc = run_tok__utf8_decode((const uint8_t *)s + done, chunk, cpt);
                for (size_t k = 0; k < nc; k++) {
                    int const b = run_tok__cpt_to_byte(cpt[k]);
                    if (b >= 0) {
                        char const c = (char)b;
                        put(o, &c, 1);
                    } else {                 /* llama.cpp's marker for a foreign character */
                        static const char hx[] = "0123456789abcdef";
                        char u[4], h[2];
                        size_t const ul = run_tok__utf8_put(cpt[k], u);
                        put(o, "[UNK_BYTE_0x", 12);
                        for (size_t j = 0; j < ul; j++) {
                            h[0] = hx[(uint8_t)u[j] >> 4];
                            h[1] = hx[(uint8_t)u[j] & 15];
                            put(o, h, 2);
                        }
                        put(o, s, n);
                        put(o, "]", 1);
                    }
                }
                done += chunk;
            }
        }
        return;
    }
    if (a & RUN_TOK_A_BYTE) {
        char const b = byte_of(s, n);
        put(o, &b, 1);
    }
    /* unused and undefined tokens show as nothing */
}

size_t run_tok_piece(const run_tok *t, int32_t id, unsigned flags, char *buf, size_t cap)
{
    sink o = { buf, buf ? cap : 0, 0, 0 };
    piece(t, id, flags, &o);
    return o.len;
}

/* Hugging Face clean_up_tokenization_spaces, as llama.cpp applies it (in place). */
static size_t clean_spaces(char *text, size_t total)
{
    /* first pass: " ?", " !", " .", " ," lose the space */
    size_t const total1 = total;
    total = total ? 1 : 0;
    for (size_t i = 1; i < total1; ++i) {
        char const x = text[i];
        if (text[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ','))
            total--;
        text[total++] = x;
    }
    /* second pass: " ' " -> "'" */
    size_t const total2 = total;
    total = total ? 1 : 0;
    for (size_t i = 1; i < total2; ++i) {
        char const x = text[i];
        if (x == '\'' && i + 1 < total2 && text[i - 1] == ' ' && text[i + 1] == ' ') {
            total--;
            text[++i] = '\0';
        }
        text[total++] = x;
    }
    /* third pass: " 's", " 'm", " 're", " 've" lose the space */
    size_t const total3 = total;
    total = total ? 1 : 0;
    for (size_t i = 1; i < total3; ++i) {
        char const x = text[i];
        if (text[i - 1] == ' ' && x == '\'' && i + 1 < total3) {
            char const x1 = text[i + 1];
            if (x1 == 's' || x1 == 'm') {
                total--;
            } else if (i + 2 < total3) {
                char const x2 = text[i + 2];
                if ((x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e')) total--;
            }
        }
        text[total++] = x;
    }
    return total;
}

/* One pass over the ids into o (counting only when o->cap is 0). */
static void detok(const run_tok *t, const int32_t *ids, size_t n, unsigned flags, sink *o)
{
    int remove_space = t->add_space_prefix;
    if ((flags & RUN_TOK_REMOVE_SPECIAL) && t->add_bos && n > 0 && ids[0] == t->bos) {
        remove_space = 0;
        ids++;
        n--;
    }
    if ((flags & RUN_TOK_REMOVE_SPECIAL) && t->add_eos && n > 0 && ids[n - 1] == t->eos) n--;
    for (size_t i = 0; i < n; i++) {
        o->skip_space = remove_space;
        piece(t, ids[i], flags, o);
        o->skip_space = 0;
        remove_space = 0;
    }
}

int run_tok_decode(const run_tok *t, const int32_t *ids, size_t n, unsigned flags, char **text,
                   size_t *len, trit_err *err)
{
    sink o = { NULL, 0, 0, 0 };
    *text = NULL;
    *len = 0;
    detok(t, ids, n, flags, &o);
    size_t const total = o.len;
    char *const buf = malloc(total + 1);
    if (!buf) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, "tokens", "out of memory for %zu bytes", total);
    sink w = { buf, total, 0, 0 };
    detok(t, ids, n, flags, &w);
    size_t out = total;
    if (t->clean_spaces) out = clean_spaces(buf, total);
    buf[out] = '\0';
    *text = buf;
    *len = out;
    return TRIT_OK;
}

/* ---- facts ---------------------------------------------------------------------------- */

uint32_t run_tok_n_tokens(const run_tok *t) { return t->n_tokens; }
uint32_t run_tok_model(const run_tok *t) { return t->model; }
int32_t run_tok_bos(const run_tok *t) { return t->bos; }
int32_t run_tok_eos(const run_tok *t) { return t->eos; }

int run_tok_is_eog(const run_tok *t, int32_t id)
{
    return id >= 0 && (uint32_t)id < t->n_tokens && (t->attr[id] & RUN_TOK_A_EOG) != 0;
}

int32_t run_tok_find(const run_tok *t, const char *s, size_t n) { return run_tok__lookup(t, s, n); }

const char *run_tok_text(const run_tok *t, int32_t id, size_t *n)
{
    if (id < 0 || (uint32_t)id >= t->n_tokens) return NULL;
    if (n) *n = t->tok_len[id];
    return t->text + t->tok_off[id];
}
