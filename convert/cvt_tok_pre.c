/* cvt_tok_pre.c - tokenizer.ggml.pre from a tokenizer.json pre_tokenizer.
 *
 * llama.cpp does not store the pre-tokenizer regex in a GGUF: it stores a name and compiles the
 * matching (hand-adapted) regexes in. Its converter finds the name by hashing the tokenization
 * of a test string, which needs the Python tokenizers library; we match the pre_tokenizer
 * configuration itself instead. The regexes below are the exact texts of the published
 * tokenizer.json files, as llama.cpp's src/llama-vocab.cpp quotes them ("original regex from
 * tokenizer.json"). A literal CR or LF in a pattern is compared as the escape "\r" / "\n", which
 * is the same regex, so both spellings match.
 *
 * Exact rules: the pre_tokenizer (alone or a Sequence) is exactly
 *   ByteLevel(use_regex: true)                      -> gpt-2
 *   Digits(individual_digits: true), ByteLevel(use_regex: true)   -> starcoder
 *   Split(R), ByteLevel(use_regex: false)           -> the name of R in `exact` below
 * Prefix rules (DeepSeek families, whose long character-class regexes vary in spelling): the
 * Splits, in order, start with the given first regex and a second one with the given prefix.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cvt_tok_int.h"

#define CONTRACTIONS_I "(?i:'s|'t|'re|'ve|'m|'ll|'d)"
#define TAIL " ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define O200K_UP "[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]"
#define O200K_LO "[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]"

static const struct { const char *name; const char *regex; } exact[] = {
    {"gpt-2", "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"},
    {"gpt-2", "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"},
    {"llama-bpe", CONTRACTIONS_I "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}|" TAIL},
    {"qwen2", CONTRACTIONS_I "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}|" TAIL},
    {"qwen35", CONTRACTIONS_I "|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*"
               "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
    {"gpt-4o", "[^\\r\\n\\p{L}\\p{N}]?" O200K_UP "*" O200K_LO "+(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
               "|[^\\r\\n\\p{L}\\p{N}]?" O200K_UP "+" O200K_LO "*(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
               "|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
    {"tekken", "[^\\r\\n\\p{L}\\p{N}]?" O200K_UP "*" O200K_LO "+|[^\\r\\n\\p{L}\\p{N}]?" O200K_UP "+" O200K_LO "*"
               "|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
    {"seed-coder", CONTRACTIONS_I "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1}| ?[^\\s\\p{L}\\p{N}\\r\\n]+"
                   "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
    {"bailingmoe", "'(?i:[sdmt]|ll|ve|re)|[^\\r\\n\\p{L}\\p{N}]?+\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]++[\\r\\n]*"
                   "|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+"},
};

static const struct { const char *name; const char *first; const char *second_prefix; } prefix[] = {
    {"deepseek-llm", "[\\r\\n]", "\\s?[A-Za-z"},
    {"deepseek-coder", "[\\r\\n]", "\\s?\\p{L}+"},
    {"deepseek-v3", "\\p{N}{1,3}", "[\xe4\xb8\x80-\xe9\xbe\xa5"},   /* "[一-龥" */
};

enum { IT_SPLIT, IT_BYTELEVEL, IT_DIGITS, IT_OTHER };
#define MAX_ITEMS 16

typedef struct item {
    int kind;
    int flag;                 /* ByteLevel: use_regex; Digits: individual_digits */
    char *regex;              /* Split: normalized pattern (owned) */
    const char *type;         /* borrowed */
} item;

/* Pattern text with literal CR/LF spelled as the escapes "\r" / "\n". Caller frees. */
static char *normalize(const char *s)
{
    size_t const n = strlen(s);
    char *o = malloc(2 * n + 1);
    if (!o) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\r' || s[i] == '\n') {
            o[k++] = '\\';
            o[k++] = s[i] == '\r' ? 'r' : 'n';
        } else {
            o[k++] = s[i];
        }
    }
    o[k] = '\0';
    return o;
}

/* One pre-tokenizer object as an item. 1 on success, 0 when out of memory. */
static int to_item(const cJSON *o, item *it)
{
    const char *type = cvt__jstr(o, "type");
    it->type = type ? type : "?";
    it->regex = NULL;
    it->flag = 0;
    if (type && !strcmp(type, "Split")) {
        const cJSON *pat = cvt__jget(o, "pattern");
        const char *r = cvt__jstr(pat, "Regex");
        if (!r) r = cvt__jstr(pat, "String");
        it->kind = IT_SPLIT;
        it->regex = normalize(r ? r : "");
        return it->regex != NULL;
    }
    if (type && !strcmp(type, "ByteLevel")) {
        it->kind = IT_BYTELEVEL;
        it->flag = !cJSON_IsFalse(cvt__jget(o, "use_regex"));  /* default true */
        return 1;
    }
    if (type && !strcmp(type, "Digits")) {
        it->kind = IT_DIGITS;
        it->flag = cJSON_IsTrue(cvt__jget(o, "individual_digits"));
        return 1;
    }
    it->kind = IT_OTHER;
    return 1;
}

static const char *match(const item *it, int n)
{
    if (n == 1 && it[0].kind == IT_BYTELEVEL && it[0].flag) return "gpt-2";
    if (n == 2 && it[0].kind == IT_DIGITS && it[0].flag && it[1].kind == IT_BYTELEVEL && it[1].flag)
        return "starcoder";
    if (n == 2 && it[0].kind == IT_SPLIT && it[1].kind == IT_BYTELEVEL && !it[1].flag)
        for (size_t i = 0; i < sizeof exact / sizeof *exact; i++)
            if (!strcmp(it[0].regex, exact[i].regex)) return exact[i].name;
    if (n >= 3 && it[0].kind == IT_SPLIT && it[1].kind == IT_SPLIT && it[n - 1].kind == IT_BYTELEVEL &&
        !it[n - 1].flag)
        for (size_t i = 0; i < sizeof prefix / sizeof *prefix; i++)
            if (!strcmp(it[0].regex, prefix[i].first) &&
                !strncmp(it[1].regex, prefix[i].second_prefix, strlen(prefix[i].second_prefix)))
                return prefix[i].name;
    return NULL;
}

int cvt__tok_detect_pre(cvt__tok *t, const cJSON *root, const char *file, int unknown_ok)
{
    const cJSON *pt = cvt__jget(root, "pre_tokenizer");
    item it[MAX_ITEMS];
    int n = 0, rc = TRIT_OK;
    const char *type = cvt__jstr(pt, "type");
    if (type && !strcmp(type, "Sequence")) {
        const cJSON *arr = cvt__jget(pt, "pretokenizers");
        /* longer sequences match no rule; they stay "unrecognised" (n = 0) */
        int const ok = cJSON_IsArray(arr) && cJSON_GetArraySize(arr) <= MAX_ITEMS;
        for (const cJSON *e = ok ? arr->child : NULL; e; e = e->next, n++)
            if (!to_item(e, &it[n])) { rc = cvt__tok_nomem(t); n++; break; }
    } else if (pt && !cJSON_IsNull(pt)) {
        if (!to_item(pt, &it[n++])) rc = cvt__tok_nomem(t);
    }
    const char *name = rc ? NULL : match(it, n);
    if (rc == TRIT_OK && name) {
        snprintf(t->pre, sizeof t->pre, "%s", name);
    } else if (rc == TRIT_OK) {
        /* name the first thing that did not match, so the user can tell what is new */
        char what[96];
        if (n == 0) snprintf(what, sizeof what, "%s", type ? type : pt && !cJSON_IsNull(pt) ? "?" : "no pre_tokenizer");
        else if (it[0].kind == IT_SPLIT) snprintf(what, sizeof what, "Split regex '%.60s'", it[0].regex);
        else snprintf(what, sizeof what, "%s%s", it[0].type, n > 1 ? " + ..." : "");
        if (unknown_ok) {
            snprintf(t->pre, sizeof t->pre, "default");
            cvt__tok_warn(t, "%s: pre-tokenizer not recognised (%s): using \"default\"", file, what);
        } else {
            trit_err_file(t->err, file);
            rc = trit_err_set(t->err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, "pre_tokenizer",
                              "pre-tokenizer not recognised (%s); llama.cpp-compatible tokenization "
                              "needs a known one", what);
        }
    }
    for (int i = 0; i < n; i++) free(it[i].regex);
    return rc;
}
