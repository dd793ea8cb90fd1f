/*
 * tok_pre.c - byte-level BPE pre-tokenizers, written by hand (no regex library).
 *
 * llama.cpp splits text with a list of regexes applied in turn: each regex cuts every
 * fragment the previous one produced into matches and the gaps between them (both kept).
 * Lookahead never sees past a fragment's end. The families implemented here, with the
 * regex each stage emulates (ECMAScript semantics: the first alternative that matches wins):
 *
 *   gpt2       's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 *   llama3     (?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|
 *              \p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 *   qwen2      llama3 with \p{N} (single digits)
 *   qwen35     qwen2 with [\p{L}\p{M}]+ for letters and [^\s\p{L}\p{M}\p{N}] for the rest
 *   starcoder  \p{N}  then gpt2                       (also refact, command-r, smollm ...)
 *   default    [\p{P}\$\+<=>\^~\|]+  then gpt2  then \p{N}+  then [0-9][0-9][0-9]
 *   gpt4o      [^\r\n\p{L}\p{N}]?U*L+C?|[^\r\n\p{L}\p{N}]?U+L*C?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|
 *              \s*[\r\n]+|\s+(?!\S)|\s+   with C = (?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])
 *              and U, L llama.cpp's stand-ins for o200k's [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}] and
 *              [\p{Ll}\p{Lm}\p{Lo}\p{M}]: (?=[\p{L}])([^a-z]) and (?=[\p{L}])([^A-Z]) (llama-vocab.cpp
 *              LLAMA_VOCAB_PRE_TYPE_GPT4O at de3ff815): a letter that is not ASCII lower / upper case
 *
 * The gpt2 and llama3 walkers are ports of llama.cpp's unicode_regex_split_custom_gpt2/
 * _llama3; \s is the White_Space property, \p{..} the general category.
 */
#include <stdint.h>
#include <stdlib.h>

#include "tok_int.h"
#include "trit_safemath.h"

int run_tok__svec_push(run_tok__svec *s, size_t x)
{
    if (s->n == s->cap) {
        size_t const cap = s->cap ? s->cap * 2 : 16;   /* <= 2 * words <= 2 * text bytes */
        if (cap > SIZE_MAX / sizeof *s->v) return TRIT_E_NOMEM;
        size_t *nv = realloc(s->v, cap * sizeof *nv);
        if (!nv) return TRIT_E_NOMEM;
        s->v = nv;
        s->cap = cap;
    }
    s->v[s->n++] = x;
    return TRIT_OK;
}

/* One fragment [ini, end) of the code points, and the words cut from it. */
typedef struct frag {
    const uint32_t *cpts;
    size_t ini, end;
    size_t prev_end;           /* end of the last word emitted */
    run_tok__svec *out;
    int rc;
} frag;

#define OUT_OF_RANGE 0xFFFFFFFFu

static uint32_t cpt_at(const frag *f, size_t pos)
{
    return (pos >= f->ini && pos < f->end) ? f->cpts[pos] : OUT_OF_RANGE;
}

static unsigned fl_at(const frag *f, size_t pos)
{
    return (pos >= f->ini && pos < f->end) ? run_tok__uflags(f->cpts[pos]) : 0u;
}

/* Emit the word ending at end (nothing if empty); returns its length. */
static size_t add_word(frag *f, size_t end)
{
    size_t const len = end - f->prev_end;
    if (len > 0 && f->rc == TRIT_OK) f->rc = run_tok__svec_push(f->out, len);
    f->prev_end = end;
    return len;
}

static int is_ascii_lower(uint32_t c, char want)
{
    if (c >= 'A' && c <= 'Z') c += 'a' - 'A';
    return c == (uint32_t)want;
}

/* gpt2: contractions are case-sensitive. */
static void split_gpt2(frag *f)
{
    size_t pos = f->ini;
    unsigned const LNW = RUN_TOK_F_LETTER | RUN_TOK_F_NUMBER | RUN_TOK_F_WS;
    while (pos < f->end) {
        uint32_t const cpt = cpt_at(f, pos);
        unsigned const flags = fl_at(f, pos);

        if (cpt == '\'' && pos + 1 < f->end) {
            uint32_t const nx = cpt_at(f, pos + 1);
            if (nx == 's' || nx == 't' || nx == 'm' || nx == 'd') {
                pos += add_word(f, pos + 2);
                continue;
            }
            if (pos + 2 < f->end) {
                uint32_t const nn = cpt_at(f, pos + 2);
                if ((nx == 'r' && nn == 'e') || (nx == 'v' && nn == 'e') || (nx == 'l' && nn == 'l')) {
                    pos += add_word(f, pos + 3);
                    continue;
                }
            }
        }

        unsigned f2 = (cpt == ' ') ? fl_at(f, pos + 1) : flags;
        if (f2 & RUN_TOK_F_LETTER) {                      /*  ?\p{L}+ */
            pos += (cpt == ' ');
            while (f2 & RUN_TOK_F_LETTER) f2 = fl_at(f, ++pos);
            add_word(f, pos);
            continue;
        }
        if (f2 & RUN_TOK_F_NUMBER) {                      /*  ?\p{N}+ */
            pos += (cpt == ' ');
            while (f2 & RUN_TOK_F_NUMBER) f2 = fl_at(f, ++pos);
            add_word(f, pos);
            continue;
        }
        if (!(f2 & LNW) && f2) {                          /*  ?[^\s\p{L}\p{N}]+ */
            pos += (cpt == ' ');
            while (!(f2 & LNW) && f2) f2 = fl_at(f, ++pos);
            add_word(f, pos);
            continue;
        }

        size_t nws = 0;
        while (fl_at(f, pos + nws) & RUN_TOK_F_WS) nws++;
        if (nws > 1 && cpt_at(f, pos + nws) != OUT_OF_RANGE) {   /* \s+(?!\S) */
            pos += nws - 1;
            add_word(f, pos);
            continue;
        }
        if (nws > 0) {                                    /* \s+ */
            pos += nws;
            add_word(f, pos);
            continue;
        }
        add_word(f, ++pos);                               /* no match: one code point */
    }
}

/* The last alternatives of the llama3 and gpt4o regexes at pos: \s*[\r\n]+|\s+(?!\S)|\s+, else
 * one code point. Emits the word; returns the position after it. */
static size_t ws_tail(frag *f, size_t pos)
{
    size_t nws = 0, last_rn = 0;
    while (fl_at(f, pos + nws) & RUN_TOK_F_WS) {
        uint32_t const c2 = cpt_at(f, pos + nws);
        if (c2 == '\r' || c2 == '\n') last_rn = pos + nws + 1;
        nws++;
    }
    if (last_rn > 0) pos = last_rn;                                      /* \s*[\r\n]+ */
    else if (nws > 1 && cpt_at(f, pos + nws) != OUT_OF_RANGE) pos += nws - 1;   /* \s+(?!\S) */
    else if (nws > 0) pos += nws;                                       /* \s+ */
    else pos++;
    add_word(f, pos);
    return pos;
}

/* llama3 family. max_digits: 3 (llama3) or 1 (qwen2); marks: \p{M} joins letters (qwen35). */
static void split_llama3(frag *f, size_t max_digits, int marks)
{
    unsigned const LET = RUN_TOK_F_LETTER | (marks ? RUN_TOK_F_MARK : 0u);
    unsigned const EXCL = LET | RUN_TOK_F_NUMBER | RUN_TOK_F_WS;
    size_t pos = f->ini;
    while (pos < f->end) {
        uint32_t const cpt = cpt_at(f, pos);
        unsigned const flags = fl_at(f, pos);

        if (cpt == '\'' && pos + 1 < f->end) {            /* (?i:'s|'t|'re|'ve|'m|'ll|'d) */
            uint32_t const nx = cpt_at(f, pos + 1);
            if (is_ascii_lower(nx, 's') || is_ascii_lower(nx, 't') || is_ascii_lower(nx, 'm') ||
                is_ascii_lower(nx, 'd')) {
                pos += add_word(f, pos + 2);
                continue;
            }
            if (pos + 2 < f->end) {
                uint32_t const nn = cpt_at(f, pos + 2);
                if ((is_ascii_lower(nx, 'r') && is_ascii_lower(nn, 'e')) ||
                    (is_ascii_lower(nx, 'v') && is_ascii_lower(nn, 'e')) ||
                    (is_ascii_lower(nx, 'l') && is_ascii_lower(nn, 'l'))) {
                    pos += add_word(f, pos + 3);
                    continue;
                }
            }
        }

        /* [^\r\n\p{L}\p{N}]?\p{L}+ */
        if (!(cpt == '\r' || cpt == '\n' || (flags & RUN_TOK_F_NUMBER))) {
            if ((flags & LET) || (fl_at(f, pos + 1) & LET)) {
                pos++;
                while (fl_at(f, pos) & LET) pos++;
                add_word(f, pos);
                continue;
            }
        }

        if (flags & RUN_TOK_F_NUMBER) {                   /* \p{N}{1,max_digits} */
            size_t ini = pos;
            while (fl_at(f, pos) & RUN_TOK_F_NUMBER) {
                if (++pos - ini >= max_digits) {
                    add_word(f, pos);
                    ini = pos;
                }
            }
            add_word(f, pos);
            continue;
        }

        /*  ?[^\s\p{L}\p{N}]+[\r\n]* */
        unsigned f2 = (cpt == ' ') ? fl_at(f, pos + 1) : flags;
        if (!(f2 & EXCL) && flags) {
            pos += (cpt == ' ');
            while (!(f2 & EXCL) && f2) f2 = fl_at(f, ++pos);
            uint32_t c2 = cpt_at(f, pos);
            while (c2 == '\r' || c2 == '\n') c2 = cpt_at(f, ++pos);
            add_word(f, pos);
            continue;
        }

        pos = ws_tail(f, pos);
    }
}

/* gpt4o's letter classes (see the top): U a letter but not a-z, L a letter but not A-Z. */
static int o200k_up(const frag *f, size_t pos)
{
    uint32_t const c = cpt_at(f, pos);
    return (fl_at(f, pos) & RUN_TOK_F_LETTER) && !(c >= 'a' && c <= 'z');
}

static int o200k_lo(const frag *f, size_t pos)
{
    uint32_t const c = cpt_at(f, pos);
    return (fl_at(f, pos) & RUN_TOK_F_LETTER) && !(c >= 'A' && c <= 'Z');
}

/* The length of (?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]) at pos, or 0. */
static size_t o200k_contraction(const frag *f, size_t pos)
{
    if (cpt_at(f, pos) != '\'') return 0;
    uint32_t const a = cpt_at(f, pos + 1), b = cpt_at(f, pos + 2);
    if (is_ascii_lower(a, 's') || is_ascii_lower(a, 't') || is_ascii_lower(a, 'm') || is_ascii_lower(a, 'd')) return 2;
    if ((is_ascii_lower(a, 'r') && is_ascii_lower(b, 'e')) || (is_ascii_lower(a, 'v') && is_ascii_lower(b, 'e')) ||
        (is_ascii_lower(a, 'l') && is_ascii_lower(b, 'l')))
        return 3;
    return 0;
}

/* The end of U*L+ (first) or U+L* (first 0) from s with ECMAScript backtracking, or 0 (no match;
 * s > 0 always, positions are absolute). */
static size_t o200k_letters(const frag *f, size_t s, int first)
{
    size_t k = s;
    while (o200k_up(f, k)) k++;                  /* U*: the longest run first */
    if (!first) {
        if (k == s) return 0;
        while (o200k_lo(f, k)) k++;              /* L* greedily, never fails */
        return k;
    }
    for (size_t split = k + 1; split-- > s;) {   /* give back U's until L+ matches */
        size_t e = split;
        while (o200k_lo(f, e)) e++;
        if (e > split) return e;
    }
    return 0;
}

static void split_gpt4o(frag *f)
{
    size_t pos = f->ini;
    while (pos < f->end) {
        uint32_t const cpt = cpt_at(f, pos);
        unsigned const flags = fl_at(f, pos);
        /* [^\r\n\p{L}\p{N}]? then the letter alternatives, first with the optional char taken */
        int const lead = cpt != '\r' && cpt != '\n' && !(flags & (RUN_TOK_F_LETTER | RUN_TOK_F_NUMBER));
        size_t e = 0;
        for (int alt = 1; alt >= 0 && !e; alt--)
            for (int with = lead; with >= 0 && !e; with--) e = o200k_letters(f, pos + (size_t)with, alt);
        if (e) {
            e += o200k_contraction(f, e);
            pos += add_word(f, e);
            continue;
        }
        if (flags & RUN_TOK_F_NUMBER) {              /* \p{N}{1,3} */
            size_t n = 0;
            while (n < 3 && (fl_at(f, pos + n) & RUN_TOK_F_NUMBER)) n++;
            pos += add_word(f, pos + n);
            continue;
        }
        unsigned const EXCL = RUN_TOK_F_LETTER | RUN_TOK_F_NUMBER | RUN_TOK_F_WS;
        unsigned f2 = (cpt == ' ') ? fl_at(f, pos + 1) : flags;   /*  ?[^\s\p{L}\p{N}]+[\r\n/]* */
        if (!(f2 & EXCL) && f2) {
            size_t p = pos + (cpt == ' ');
            while (!(f2 & EXCL) && f2) f2 = fl_at(f, ++p);
            uint32_t c2 = cpt_at(f, p);
            while (c2 == '\r' || c2 == '\n' || c2 == '/') c2 = cpt_at(f, ++p);
            pos += add_word(f, p);
            continue;
        }
        pos = ws_tail(f, pos);
    }
}

/* Runs of a character class as matches, at most max_len long (0 = unbounded); gaps kept. */
enum { CLS_NUMBER, CLS_PUNCT_DEFAULT, CLS_ASCII_DIGIT };

static int in_class(uint32_t c, int cls)
{
    switch (cls) {
    case CLS_NUMBER: return (run_tok__uflags(c) & RUN_TOK_F_NUMBER) != 0;
    case CLS_ASCII_DIGIT: return c >= '0' && c <= '9';
    default:   /* [\p{P}\$\+<=>\^~\|] */
        return c == '$' || c == '+' || c == '<' || c == '=' || c == '>' || c == '^' || c == '~' ||
               c == '|' || (run_tok__uflags(c) & RUN_TOK_F_PUNCT) != 0;
    }
}

static void split_runs(frag *f, int cls, size_t max_len)
{
    size_t pos = f->ini;
    while (pos < f->end) {
        if (!in_class(f->cpts[pos], cls)) {
            pos++;
            continue;
        }
        size_t e = pos;
        while (e < f->end && in_class(f->cpts[e], cls) && (max_len == 0 || e - pos < max_len)) e++;
        add_word(f, pos);          /* the gap before the match */
        add_word(f, e);
        pos = e;
    }
    add_word(f, f->end);
}

/* [0-9][0-9][0-9]: exactly three ASCII digits per match, leftmost first. */
static void split_digit3(frag *f)
{
    size_t pos = f->ini;
    while (pos < f->end) {
        if (pos + 3 <= f->end && in_class(f->cpts[pos], CLS_ASCII_DIGIT) &&
            in_class(f->cpts[pos + 1], CLS_ASCII_DIGIT) && in_class(f->cpts[pos + 2], CLS_ASCII_DIGIT)) {
            add_word(f, pos);
            add_word(f, pos + 3);
            pos += 3;
        } else {
            pos++;
        }
    }
    add_word(f, f->end);
}

enum { ST_GPT2, ST_LLAMA3, ST_QWEN2, ST_QWEN35, ST_DIGIT1, ST_DIGITS, ST_PUNCT, ST_DIGIT3, ST_GPT4O };

/* Apply one stage to every fragment of *cur, producing *next. */
static int apply_stage(int stage, const uint32_t *cpts, const run_tok__svec *cur, run_tok__svec *next)
{
    size_t start = 0;
    next->n = 0;
    for (size_t i = 0; i < cur->n; i++) {
        frag f = { cpts, start, start + cur->v[i], start, next, TRIT_OK };
        switch (stage) {
        case ST_GPT2: split_gpt2(&f); break;
        case ST_LLAMA3: split_llama3(&f, 3, 0); break;
        case ST_QWEN2: split_llama3(&f, 1, 0); break;
        case ST_QWEN35: split_llama3(&f, 1, 1); break;
        case ST_GPT4O: split_gpt4o(&f); break;
        case ST_DIGIT1: split_runs(&f, CLS_NUMBER, 1); break;
        case ST_DIGITS: split_runs(&f, CLS_NUMBER, 0); break;
        case ST_PUNCT: split_runs(&f, CLS_PUNCT_DEFAULT, 0); break;
        default: split_digit3(&f); break;
        }
        if (f.rc != TRIT_OK) return f.rc;
        start = f.end;
    }
    return TRIT_OK;
}

int run_tok__pre_split(uint32_t pre, const uint32_t *cpts, size_t n, run_tok__svec *words)
{
    static const int st_default[] = { ST_PUNCT, ST_GPT2, ST_DIGITS, ST_DIGIT3 };
    static const int st_gpt2[] = { ST_GPT2 }, st_llama3[] = { ST_LLAMA3 }, st_qwen2[] = { ST_QWEN2 };
    static const int st_qwen35[] = { ST_QWEN35 }, st_starcoder[] = { ST_DIGIT1, ST_GPT2 }, st_gpt4o[] = { ST_GPT4O };
    const int *stages;
    size_t n_stages;
    switch (pre) {
    case RUN_TOK_PRE_GPT2: stages = st_gpt2; n_stages = 1; break;
    case RUN_TOK_PRE_LLAMA3: stages = st_llama3; n_stages = 1; break;
    case RUN_TOK_PRE_QWEN2: stages = st_qwen2; n_stages = 1; break;
    case RUN_TOK_PRE_QWEN35: stages = st_qwen35; n_stages = 1; break;
    case RUN_TOK_PRE_STARCODER: stages = st_starcoder; n_stages = 2; break;
    case RUN_TOK_PRE_DEFAULT: stages = st_default; n_stages = 4; break;
    case RUN_TOK_PRE_GPT4O: stages = st_gpt4o; n_stages = 1; break;
    default: stages = NULL; n_stages = 0; break;
    }
    words->n = 0;
    if (n == 0) return TRIT_OK;
    int rc = run_tok__svec_push(words, n);
    run_tok__svec tmp = { NULL, 0, 0 };
    for (size_t s = 0; s < n_stages && rc == TRIT_OK; s++) {
        rc = apply_stage(stages[s], cpts, words, &tmp);
        if (rc == TRIT_OK) {
            run_tok__svec const sw = *words;   /* the result becomes the current list */
            *words = tmp;
            tmp = sw;
        }
    }
    free(tmp.v);
    return rc;
}
