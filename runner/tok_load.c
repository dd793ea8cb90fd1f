/*
 * tok_load.c - build a run_tok from a run_vocab: copy the texts into one arena, hash tables
 * for text -> id and (left, right) -> merge rank, and llama.cpp's per-model defaults and
 * special-token rules (llama_vocab::impl::load).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok_int.h"
#include "trit_safemath.h"

int32_t run_tok__lookup(const run_tok *t, const char *s, size_t n)
{
    uint64_t i = run_tok__hash(RUN_TOK_HASH0, s, n) & t->tok_mask;
    for (;; i = (i + 1) & t->tok_mask) {
        uint32_t const e = t->tok_tab[i];
        if (e == 0) return -1;
        uint32_t const id = e - 1;
        if (t->tok_len[id] == n && memcmp(t->text + t->tok_off[id], s, n) == 0) return (int32_t)id;
    }
}

int32_t run_tok__merge_rank(const run_tok *t, const char *l, size_t nl, const char *r, size_t nr)
{
    if (t->n_merges == 0) return -1;
    uint64_t h = run_tok__hash(RUN_TOK_HASH0, l, nl);
    h = run_tok__hash(h, " ", 1);
    h = run_tok__hash(h, r, nr);
    for (uint64_t i = h & t->m_mask;; i = (i + 1) & t->m_mask) {
        uint32_t const e = t->m_tab[i];
        if (e == 0) return -1;
        uint32_t const m = e - 1;
        const char *const ms = t->mtext + t->m_off[m];
        if (t->m_split[m] == nl && t->m_len[m] == nl + 1 + nr && memcmp(ms, l, nl) == 0 &&
            memcmp(ms + nl + 1, r, nr) == 0)
            return (int32_t)m;
    }
}

/* Smallest power of two >= 2n (>= 16): the tables stay at most half full. */
static uint64_t table_size(uint64_t n)
{
    uint64_t c = 16;
    while (c < 2 * n) c <<= 1;
    return c;
}

/* Pre-tokenizer names llama.cpp knows, for the regex families implemented in tok_pre.c. */
static const struct pre_name {
    const char *name;
    uint8_t pre, ignore_merges, add_bos, clean_spaces;
} k_pre[] = {
    /* name              pre                    ign  bos  clean */
    { "default",         RUN_TOK_PRE_DEFAULT,   0,   0,   1 },
    { "llama3",          RUN_TOK_PRE_LLAMA3,    1,   1,   1 },
    { "llama-v3",        RUN_TOK_PRE_LLAMA3,    1,   1,   1 },
    { "llama-bpe",       RUN_TOK_PRE_LLAMA3,    1,   1,   1 },
    { "falcon3",         RUN_TOK_PRE_LLAMA3,    1,   1,   1 },
    { "falcon-h1",       RUN_TOK_PRE_LLAMA3,    1,   1,   1 },
    { "pixtral",         RUN_TOK_PRE_LLAMA3,    1,   1,   1 },
    { "midm-2.0",        RUN_TOK_PRE_LLAMA3,    1,   1,   1 },
    { "lfm2",            RUN_TOK_PRE_LLAMA3,    1,   1,   1 },
    { "dbrx",            RUN_TOK_PRE_LLAMA3,    0,   0,   1 },
    { "smaug-bpe",       RUN_TOK_PRE_LLAMA3,    0,   0,   1 },
    { "gpt-2",           RUN_TOK_PRE_GPT2,      0,   0,   1 },
    { "phi-2",           RUN_TOK_PRE_GPT2,      0,   0,   1 },
    { "jina-es",         RUN_TOK_PRE_GPT2,      0,   0,   1 },
    { "jina-de",         RUN_TOK_PRE_GPT2,      0,   0,   1 },
    { "gigachat",        RUN_TOK_PRE_GPT2,      0,   0,   1 },
    { "jina-v2-es",      RUN_TOK_PRE_GPT2,      0,   0,   1 },
    { "jina-v2-de",      RUN_TOK_PRE_GPT2,      0,   0,   1 },
    { "a.x-4.0",         RUN_TOK_PRE_GPT2,      0,   0,   1 },
    { "mellum",          RUN_TOK_PRE_GPT2,      0,   0,   1 },
    { "mpt",             RUN_TOK_PRE_GPT2,      0,   0,   1 },
    { "olmo",            RUN_TOK_PRE_GPT2,      0,   0,   1 },
    { "jais",            RUN_TOK_PRE_GPT2,      0,   0,   1 },
    { "exaone4",         RUN_TOK_PRE_GPT2,      0,   0,   1 },
    { "trillion",        RUN_TOK_PRE_GPT2,      0,   0,   0 },
    { "granite-docling", RUN_TOK_PRE_GPT2,      0,   0,   0 },
    { "starcoder",       RUN_TOK_PRE_STARCODER, 0,   0,   1 },
    { "refact",          RUN_TOK_PRE_STARCODER, 0,   0,   1 },
    { "command-r",       RUN_TOK_PRE_STARCODER, 0,   0,   0 },
    { "smollm",          RUN_TOK_PRE_STARCODER, 0,   0,   0 },
    { "codeshell",       RUN_TOK_PRE_STARCODER, 0,   0,   1 },
    { "exaone",          RUN_TOK_PRE_STARCODER, 0,   0,   1 },
    { "minerva-7b",      RUN_TOK_PRE_STARCODER, 0,   0,   1 },
    { "mellum2",         RUN_TOK_PRE_STARCODER, 0,   0,   1 },
    { "qwen2",           RUN_TOK_PRE_QWEN2,     0,   0,   0 },
    { "deepseek-r1-qwen", RUN_TOK_PRE_QWEN2,    0,   0,   0 },
    { "kormo",           RUN_TOK_PRE_QWEN2,     0,   0,   0 },
    { "f2llmv2",         RUN_TOK_PRE_QWEN2,     0,   0,   0 },
    { "megrez",          RUN_TOK_PRE_QWEN2,     0,   0,   1 },
    { "stablelm2",       RUN_TOK_PRE_QWEN2,     0,   0,   1 },
    { "hunyuan",         RUN_TOK_PRE_QWEN2,     0,   0,   0 },
    { "solar-open",      RUN_TOK_PRE_QWEN2,     0,   0,   0 },
    { "qwen35",          RUN_TOK_PRE_QWEN35,    0,   0,   0 },
    /* llama-vocab.cpp: LLAMA_VOCAB_PRE_TYPE_GPT4O, clean_spaces false (gpt-oss's o200k_harmony) */
    { "gpt-4o",          RUN_TOK_PRE_GPT4O,     0,   0,   0 },
    { "llama4",          RUN_TOK_PRE_GPT4O,     0,   0,   0 },
};

/* Texts llama.cpp treats as end-of-generation (and forces to control type). */
static const char *const k_eog_texts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
    "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
    "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
    "<\357\275\234end\342\226\201of\342\226\201sentence\357\275\234>", "[e~[",
};
/* Texts that make a token the EOT token when the vocabulary names none. */
static const char *const k_eot_texts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
    "<EOT>", "_<EOT>", "[EOT]", "<\357\275\234end\342\226\201of\342\226\201sentence\357\275\234>",
    "<end_of_utterance>",
};
/* Fill-in-the-middle markers: control type; the pad, repo and file-separator ones end
 * generation. One group per marker kind, NULL-terminated. */
static const char *const k_fim_texts[6][9] = {
    { "<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<\357\275\234fim\342\226\201begin\357\275\234>",
      "<PRE>", "\xe2\x96\x81<PRE>", "<|code_prefix|>", "<|prefix|>", NULL },
    { "<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<\357\275\234fim\342\226\201hole\357\275\234>",
      "<SUF>", "\xe2\x96\x81<SUF>", "<|code_suffix|>", "<|suffix|>", NULL },
    { "<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<\357\275\234fim\342\226\201end\357\275\234>",
      "<MID>", "\xe2\x96\x81<MID>", "<|code_middle|>", "<|middle|>", NULL },
    { "<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]", NULL },
    { "<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>", NULL },
    { "<|file_sep|>", NULL },
};

static int32_t find_cstr(const run_tok *t, const char *s) { return run_tok__lookup(t, s, strlen(s)); }

/* Lowest id among the texts of list (n entries or NULL-terminated), or -1. */
static int32_t first_of(const run_tok *t, const char *const *list, size_t n)
{
    int32_t best = -1;
    for (size_t i = 0; i < n && list[i]; i++) {
        int32_t const id = find_cstr(t, list[i]);
        if (id >= 0 && (best < 0 || id < best)) best = id;
    }
    return best;
}

/* End-of-generation and control marking (llama.cpp's text-based auto-detection). */
static void mark_special(run_tok *t)
{
    size_t const n_eot = sizeof k_eot_texts / sizeof k_eot_texts[0];
    if (t->eot < 0) t->eot = first_of(t, k_eot_texts, n_eot);
    if (t->eot >= 0) t->attr[t->eot] |= RUN_TOK_A_CONTROL;
    if (t->eom < 0) t->eom = find_cstr(t, "<|eom_id|>");
    if (t->eom >= 0) t->attr[t->eom] |= RUN_TOK_A_CONTROL;
    for (size_t k = 0; k < 6; k++) {
        int32_t const id = first_of(t, k_fim_texts[k], 9);
        if (id < 0) continue;
        t->attr[id] |= RUN_TOK_A_CONTROL;
        if (k >= 3) t->attr[id] |= RUN_TOK_A_EOG;   /* pad, repo, file separator */
    }
    for (size_t k = 0; k < sizeof k_eog_texts / sizeof k_eog_texts[0]; k++) {
        int32_t const id = find_cstr(t, k_eog_texts[k]);
        if (id >= 0) t->attr[id] |= RUN_TOK_A_EOG | RUN_TOK_A_CONTROL;
    }
    if (t->eos >= 0) t->attr[t->eos] |= RUN_TOK_A_EOG;
    if (t->eot >= 0) t->attr[t->eot] |= RUN_TOK_A_EOG;
    if (t->eom >= 0) t->attr[t->eom] |= RUN_TOK_A_EOG;

    /* o200k_harmony / solar-open: "<|end|>" is not the end there when "<|return|>" and
     * "<|call|>" (or "<|calls|>" and "<|flush|>") exist */
    int32_t const end = find_cstr(t, "<|end|>"), ret = find_cstr(t, "<|return|>");
    int32_t const call = find_cstr(t, "<|call|>") >= 0 ? find_cstr(t, "<|call|>") : find_cstr(t, "<|calls|>");
    int32_t const flush = find_cstr(t, "<|flush|>");
    if (end >= 0 && call >= 0 && (ret >= 0 || flush >= 0)) t->attr[end] = RUN_TOK_A_USER;
    /* gemma4 / paddleocr: "</s>" is a normal token when "<|tool_response>" exists */
    int32_t const s_end = find_cstr(t, "</s>");
    if (s_end >= 0 && find_cstr(t, "<|tool_response>") >= 0) t->attr[s_end] = RUN_TOK_A_NORMAL;
}

static int contains_ci(const char *hay, const char *needle)
{
    char low[64];
    size_t i = 0;
    for (; hay[i] && i + 1 < sizeof low; i++) low[i] = (char)tolower((unsigned char)hay[i]);
    low[i] = '\0';
    return strstr(low, needle) != NULL;
}

/* Per-model strip attributes llama.cpp sets by model or pre-tokenizer name. */
static void name_quirks(run_tok *t, const run_vocab *v)
{
    if (strstr(v->pre, "jina-v2-de") || strstr(v->pre, "jina-v2-es") || strstr(v->pre, "jina-v2-code")) {
        int32_t const mask = find_cstr(t, "<mask>");
        if (mask >= 0) t->attr[mask] |= RUN_TOK_A_LSTRIP;
    } else if (contains_ci(v->name, "phi-3") || contains_ci(v->name, "phi3")) {
        static const char *const no_strip[] = { "<unk>", "<s>", "<|endoftext|>" };
        for (uint32_t k = 0; k < t->n_special; k++) t->attr[t->special[k]] |= RUN_TOK_A_RSTRIP;
        int32_t const s_end = find_cstr(t, "</s>");
        if (s_end >= 0) t->attr[s_end] |= RUN_TOK_A_RSTRIP;
        for (size_t k = 0; k < 3; k++) {
            int32_t const id = find_cstr(t, no_strip[k]);
            if (id >= 0) t->attr[id] &= (uint16_t)~RUN_TOK_A_RSTRIP;
        }
    }
}

/* Special-token list: control, user-defined and unknown tokens, longest text first (ties
 * by id, so the order is deterministic). */
static int cmp_special(const void *a, const void *b, const run_tok *t)
{
    int32_t const x = *(const int32_t *)a, y = *(const int32_t *)b;
    if (t->tok_len[x] != t->tok_len[y]) return t->tok_len[x] > t->tok_len[y] ? -1 : 1;
    return (x > y) - (x < y);
}

/* Insertion sort by gap sequence (shell sort): qsort has no context argument in C11. */
static void sort_special(run_tok *t)
{
    static const size_t gaps[] = { 701, 301, 132, 57, 23, 10, 4, 1 };
    int32_t *const a = t->special;
    for (size_t g = 0; g < sizeof gaps / sizeof gaps[0]; g++) {
        size_t const gap = gaps[g];
        for (size_t i = gap; i < t->n_special; i++) {
            int32_t const x = a[i];
            size_t j = i;
            while (j >= gap && cmp_special(&a[j - gap], &x, t) > 0) {
                a[j] = a[j - gap];
                j -= gap;
            }
            a[j] = x;
        }
    }
}

static int build_specials(run_tok *t)
{
    uint32_t n = 0;
    for (uint32_t id = 0; id < t->n_tokens; id++)
        if (t->attr[id] & (RUN_TOK_A_CONTROL | RUN_TOK_A_USER | RUN_TOK_A_UNKNOWN)) n++;
    t->special = trit_mallocarray(n, sizeof *t->special);
    if (!t->special) return TRIT_E_NOMEM;
    for (uint32_t id = 0; id < t->n_tokens; id++)
        if (t->attr[id] & (RUN_TOK_A_CONTROL | RUN_TOK_A_USER | RUN_TOK_A_UNKNOWN)) t->special[t->n_special++] = (int32_t)id;
    sort_special(t);
    return TRIT_OK;
}

static uint16_t type_to_attr(int32_t type)
{
    switch (type) {
    case RUN_TOK_TYPE_NORMAL: return RUN_TOK_A_NORMAL;
    case RUN_TOK_TYPE_UNKNOWN: return RUN_TOK_A_UNKNOWN;
    case RUN_TOK_TYPE_CONTROL: return RUN_TOK_A_CONTROL;
    case RUN_TOK_TYPE_USER_DEFINED: return RUN_TOK_A_USER;
    case RUN_TOK_TYPE_UNUSED: return RUN_TOK_A_UNUSED;
    case RUN_TOK_TYPE_BYTE: return RUN_TOK_A_BYTE;
    default: return 0;
    }
}

/* Copy the token texts (an empty text becomes "[EMPTY_<id>]" as in llama.cpp, so it can
 * neither match everywhere nor collide) and index them. */
static int load_tokens(run_tok *t, const run_vocab *v, trit_err *err)
{
    uint64_t total = 0;
    uint32_t const n = v->n_tokens;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t const len = v->tokens[i].n ? v->tokens[i].n : 24u;
        if (trit_add_u64(total, len + 1, &total) || total > UINT32_MAX)
            return trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, "tokenizer.ggml.tokens",
                                "token texts exceed 4 GiB");
    }
    t->n_tokens = n;
    t->text = malloc((size_t)total);
    t->tok_off = trit_mallocarray(n, sizeof *t->tok_off);
    t->tok_len = trit_mallocarray(n, sizeof *t->tok_len);
    t->score = trit_mallocarray(n, sizeof *t->score);
    t->attr = trit_mallocarray(n, sizeof *t->attr);
    t->tok_mask = table_size(n) - 1;
    t->tok_tab = calloc((size_t)t->tok_mask + 1, sizeof *t->tok_tab);
    if (!t->text || !t->tok_off || !t->tok_len || !t->score || !t->attr || !t->tok_tab)
        return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, "tokenizer", "out of memory for %u tokens", n);
    uint32_t off = 0;
    for (uint32_t i = 0; i < n; i++) {
        char *const dst = t->text + off;
        uint32_t len = v->tokens[i].n;
        if (len) memcpy(dst, v->tokens[i].p, len);
        else len = (uint32_t)snprintf(dst, 24, "[EMPTY_%u]", i);
        dst[len] = '\0';
        t->tok_off[i] = off;
        t->tok_len[i] = len;
        off += len + 1;
        t->score[i] = v->scores ? v->scores[i] : 0.0f;
        t->attr[i] = v->types ? type_to_attr(v->types[i]) : RUN_TOK_A_NORMAL;
        /* a repeated text keeps its first id (later ids stay decodable) */
        uint64_t k = run_tok__hash(RUN_TOK_HASH0, dst, len) & t->tok_mask;
        int dup = 0;
        for (; t->tok_tab[k]; k = (k + 1) & t->tok_mask) {
            uint32_t const o = t->tok_tab[k] - 1;
            if (t->tok_len[o] == len && memcmp(t->text + t->tok_off[o], dst, len) == 0) {
                dup = 1;
                break;
            }
        }
        if (!dup) t->tok_tab[k] = i + 1;
    }
    return TRIT_OK;
}

/* Copy and index the merges: "left right" split at the first space after the first byte
 * (llama.cpp word.find(' ', 1)); merges without one are never used. */
static int load_merges(run_tok *t, const run_vocab *v, trit_err *err)
{
    uint64_t total = 0;
    uint32_t const n = v->n_merges;
    for (uint32_t i = 0; i < n; i++)
        if (trit_add_u64(total, (uint64_t)v->merges[i].n + 1, &total) || total > UINT32_MAX)
            return trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, "tokenizer.ggml.merges",
                                "merge texts exceed 4 GiB");
    t->n_merges = n;
    t->mtext = malloc((size_t)total + 1);
    t->m_off = trit_mallocarray(n, sizeof *t->m_off);
    t->m_len = trit_mallocarray(n, sizeof *t->m_len);
    t->m_split = trit_mallocarray(n, sizeof *t->m_split);
    t->m_mask = table_size(n) - 1;
    t->m_tab = calloc((size_t)t->m_mask + 1, sizeof *t->m_tab);
    if (!t->mtext || !t->m_off || !t->m_len || !t->m_split || !t->m_tab)
        return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, "tokenizer", "out of memory for %u merges", n);
    uint32_t off = 0;
    for (uint32_t i = 0; i < n; i++) {
        char *const dst = t->mtext + off;
        uint32_t const len = v->merges[i].n;
        if (len) memcpy(dst, v->merges[i].p, len);
        dst[len] = '\0';
        t->m_off[i] = off;
        t->m_len[i] = len;
        off += len + 1;
        const char *const sp = len > 1 ? memchr(dst + 1, ' ', len - 1) : NULL;
        t->m_split[i] = sp ? (uint32_t)(sp - dst) : UINT32_MAX;
        if (!sp) continue;
        uint64_t k = run_tok__hash(RUN_TOK_HASH0, dst, len) & t->m_mask;
        int dup = 0;
        for (; t->m_tab[k]; k = (k + 1) & t->m_mask) {
            uint32_t const o = t->m_tab[k] - 1;
            if (t->m_len[o] == len && t->m_split[o] == t->m_split[i] && memcmp(t->mtext + t->m_off[o], dst, len) == 0) {
                dup = 1;   /* the first rank wins, as llama.cpp's emplace */
                break;
            }
        }
        if (!dup) t->m_tab[k] = i + 1;
    }
    return TRIT_OK;
}

/* Given id if in range, else the default if in range, else -1. */
static int32_t pick_id(int64_t given, int64_t dflt, uint32_t n)
{
    if (given >= 0 && given < (int64_t)n) return (int32_t)given;
    if (dflt >= 0 && dflt < (int64_t)n) return (int32_t)dflt;
    return -1;
}

static int apply_defaults(run_tok *t, const run_vocab *v, trit_err *err)
{
    int64_t d_bos, d_eos, d_unk;
    if (v->model == RUN_TOK_SPM) {
        t->pre = RUN_TOK_PRE_NONE;
        d_bos = 1, d_eos = 2, d_unk = 0;
        t->add_space_prefix = 1;
        t->add_bos = 1;
    } else {
        const struct pre_name *p = NULL;
        const char *const name = v->pre[0] ? v->pre : "default";   /* llama.cpp warns, uses it */
        for (size_t k = 0; k < sizeof k_pre / sizeof k_pre[0]; k++)
            if (strcmp(k_pre[k].name, name) == 0) p = &k_pre[k];
        if (!p)
            return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, "key 'tokenizer.ggml.pre'",
                                "pre-tokenizer '%s' is not supported", name);
        t->pre = p->pre;
        t->ignore_merges = p->ignore_merges;
        t->add_bos = p->add_bos;
        t->clean_spaces = p->clean_spaces;
        d_bos = 11, d_eos = 11, d_unk = -1;
    }
    uint32_t const n = t->n_tokens;
    t->bos = pick_id(v->bos_id, d_bos, n);
    t->eos = pick_id(v->eos_id, d_eos, n);
    t->unk = pick_id(v->unk_id, d_unk, n);
    t->eot = pick_id(v->eot_id, -1, n);
    t->eom = pick_id(v->eom_id, -1, n);
    t->sep = pick_id(v->sep_id, -1, n);
    t->pad = pick_id(v->pad_id, -1, n);
    if (v->add_space_prefix >= 0) t->add_space_prefix = (uint8_t)v->add_space_prefix;
    if (v->add_bos >= 0) t->add_bos = (uint8_t)v->add_bos;
    if (v->add_eos >= 0) t->add_eos = (uint8_t)v->add_eos;
    if (t->add_bos && t->bos < 0)
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, "key 'tokenizer.ggml.add_bos_token'",
                            "is true, but there is no bos token");
    if (t->add_eos && t->eos < 0)
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, "key 'tokenizer.ggml.add_eos_token'",
                            "is true, but there is no eos token");
    return TRIT_OK;
}

int run_tok_new(const run_vocab *v, run_tok **out, trit_err *err)
{
    int rc;
    *out = NULL;
    if (v->model != RUN_TOK_SPM && v->model != RUN_TOK_BPE)
        return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, "tokenizer", "unknown model kind %u", v->model);
    if (v->n_tokens == 0 || !v->tokens)
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, "key 'tokenizer.ggml.tokens'", "is empty");
    if (v->n_tokens > RUN_TOK_MAX_TOKENS || v->n_merges > RUN_TOK_MAX_TOKENS)
        return trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, "tokenizer",
                            "%u tokens and %u merges, the cap is %u each", v->n_tokens, v->n_merges, RUN_TOK_MAX_TOKENS);
    run_tok *t = calloc(1, sizeof *t);
    if (!t) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, "tokenizer", "out of memory");
    t->model = v->model;

    rc = load_tokens(t, v, err);
    if (rc == TRIT_OK && v->model == RUN_TOK_BPE) rc = load_merges(t, v, err);
    if (rc == TRIT_OK) rc = apply_defaults(t, v, err);
    if (rc != TRIT_OK) goto cleanup;

    mark_special(t);
    rc = build_specials(t);
    if (rc != TRIT_OK) {
        trit_err_set(err, rc, TRIT_NO_OFFSET, "tokenizer", "out of memory");
        goto cleanup;
    }
    name_quirks(t, v);

    /* SentencePiece byte fallback: "<0xXX>", else the byte itself as a token */
    for (int b = 0; b < 256; b++) {
        char hex[8];
        char const raw = (char)b;
        snprintf(hex, sizeof hex, "<0x%02X>", (unsigned)b);
        t->byte_tok[b] = find_cstr(t, hex);
        if (t->byte_tok[b] < 0) t->byte_tok[b] = run_tok__lookup(t, &raw, 1);
    }
    *out = t;
    return TRIT_OK;

cleanup:
    run_tok_free(t);
    return rc;
}

void run_tok_free(run_tok *t)
{
    if (!t) return;
    free(t->text);
    free(t->tok_off);
    free(t->tok_len);
    free(t->score);
    free(t->attr);
    free(t->tok_tab);
    free(t->mtext);
    free(t->m_off);
    free(t->m_len);
    free(t->m_split);
    free(t->m_tab);
    free(t->special);
    free(t);
}
