/* gen_tok.c - a tiny but valid byte-level BPE vocabulary and its HF tokenizer.json.
 *
 * Ids 0..255 are the 256 byte tokens in GPT-2's byte-to-unicode alphabet and order (the 188
 * printable bytes first), then merged lowercase words ("aa".."zz", "aaa".. - each word is
 * its prefix merged with its last letter, so every merge joins two existing tokens), then the
 * special tokens. The GGUF writer uses the same strings for tokenizer.ggml.tokens/merges. */
#include <stdio.h>
#include <string.h>

#include "gen_int.h"

uint32_t gen_tok_n_special(uint32_t n_vocab) { return n_vocab >= 4096 ? 256u : 2u; }
uint32_t gen_tok_bos(uint32_t n_vocab) { return n_vocab - gen_tok_n_special(n_vocab); }
uint32_t gen_tok_eos(uint32_t n_vocab) { return gen_tok_bos(n_vocab) + 1; }

/* GPT-2 bytes_to_unicode: printable bytes map to themselves, the other 68 to U+0100.. in
 * increasing byte order. Token rank r (0..255) -> code point. */
static uint32_t rank_codepoint(uint32_t r)
{
    if (r < 94) return 33 + r;              /* '!'..'~' */
    if (r < 106) return 161 + (r - 94);     /* U+00A1..U+00AC */
    if (r < 188) return 174 + (r - 106);    /* U+00AE..U+00FF */
    return 256 + (r - 188);                 /* the 68 non-printable bytes */
}

static size_t put_utf8(uint32_t cp, char *buf)
{
    if (cp < 0x80) {
        buf[0] = (char)cp;
        return 1;
    }
    buf[0] = (char)(0xc0 | (cp >> 6));
    buf[1] = (char)(0x80 | (cp & 0x3f));
    return 2;
}

/* Merged word number m (0-based) into buf as lowercase letters; returns its length. */
static size_t word_of(uint64_t m, char *buf)
{
    uint64_t count = 26 * 26;
    size_t len = 2;
    while (m >= count && len < 12) {
        m -= count;
        count *= 26;
        len++;
    }
    for (size_t k = len; k-- > 0;) {
        buf[k] = (char)('a' + m % 26);
        m /= 26;
    }
    return len;
}

size_t gen_token(uint32_t n_vocab, uint32_t id, char *buf, size_t cap)
{
    uint32_t const n_reg = n_vocab - gen_tok_n_special(n_vocab);
    char tmp[64];
    size_t n;
    if (id >= n_vocab || n_vocab < 256 + gen_tok_n_special(n_vocab)) return 0;
    if (id < 256) n = put_utf8(rank_codepoint(id), tmp);
    else if (id < n_reg) n = word_of(id - 256, tmp);
    else if (id == n_reg) n = (size_t)snprintf(tmp, sizeof tmp, "<|begin_of_text|>");
    else if (id == n_reg + 1) n = (size_t)snprintf(tmp, sizeof tmp, "<|end_of_text|>");
    else n = (size_t)snprintf(tmp, sizeof tmp, "<|reserved_special_token_%u|>", id - n_reg - 2);
    if (n + 1 > cap) return 0;
    memcpy(buf, tmp, n);
    buf[n] = '\0';
    return n;
}

size_t gen_token_merge(uint32_t n_vocab, uint32_t id, char *buf, size_t cap)
{
    uint32_t const n_reg = n_vocab - gen_tok_n_special(n_vocab);
    char w[16];
    if (id < 256 || id >= n_reg) return 0;
    size_t const len = word_of(id - 256, w);
    if (len + 2 > cap) return 0;
    memcpy(buf, w, len - 1);
    buf[len - 1] = ' ';
    buf[len] = w[len - 1];
    buf[len + 1] = '\0';
    return len + 1;
}

#define BYTE_LEVEL \
    "\"type\": \"ByteLevel\", \"add_prefix_space\": %s, \"trim_offsets\": %s, \"use_regex\": true"

/* o200k's pre-tokenizer (tokenizer.json of openai/gpt-oss-20b, Xenova/gpt-4o): a Split on this
 * regex (behavior Isolated), then ByteLevel without its own regex. */
const char gen__o200k_regex[] =
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
    "|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
    "|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

int gen__write_tokenizer_json(uint32_t n_vocab, gen_out *o, trit_err *err)
{
    return gen__write_tokenizer_json_split(n_vocab, NULL, o, err);
}

int gen__write_tokenizer_json_split(uint32_t n_vocab, const char *split, gen_out *o, trit_err *err)
{
    uint32_t const n_reg = n_vocab - gen_tok_n_special(n_vocab);
    char tok[64];
    int rc = gen__out_str(o, "{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n"
                             "  \"added_tokens\": [", err);
    for (uint32_t id = n_reg; id < n_vocab && !rc; id++) {
        size_t const n = gen_token(n_vocab, id, tok, sizeof tok);
        rc = gen__out_printf(o, err, "%s\n    {\"id\": %u, \"content\": ", id == n_reg ? "" : ",", id);
        if (!rc) rc = gen__out_json_str(o, tok, n, err);
        if (!rc) rc = gen__out_str(o, ", \"single_word\": false, \"lstrip\": false, \"rstrip\": false, "
                                      "\"normalized\": false, \"special\": true}", err);
    }
    if (!rc) rc = gen__out_str(o, "\n  ],\n  \"normalizer\": null,\n  \"pre_tokenizer\": {", err);
    if (!rc && split) {
        rc = gen__out_str(o, "\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Split\", \"pattern\": {\"Regex\": ", err);
        if (!rc) rc = gen__out_json_str(o, split, strlen(split), err);
        if (!rc) rc = gen__out_str(o, "}, \"behavior\": \"Isolated\", \"invert\": false}, {\"type\": \"ByteLevel\", "
                                      "\"add_prefix_space\": false, \"trim_offsets\": true, \"use_regex\": false}]", err);
    } else if (!rc) {
        rc = gen__out_printf(o, err, BYTE_LEVEL, "false", "true");
    }
    if (!rc) rc = gen__out_str(o, "},\n  \"post_processor\": {", err);
    if (!rc) rc = gen__out_printf(o, err, BYTE_LEVEL, "true", "false");
    if (!rc) rc = gen__out_str(o, "},\n  \"decoder\": {", err);
    if (!rc) rc = gen__out_printf(o, err, BYTE_LEVEL, "true", "true");
    if (!rc) rc = gen__out_str(o, "},\n  \"model\": {\n    \"type\": \"BPE\",\n    \"dropout\": null,\n"
                                  "    \"unk_token\": null,\n    \"continuing_subword_prefix\": null,\n"
                                  "    \"end_of_word_suffix\": null,\n    \"fuse_unk\": false,\n"
                                  "    \"byte_fallback\": false,\n    \"ignore_merges\": false,\n"
                                  "    \"vocab\": {", err);
    for (uint32_t id = 0; id < n_reg && !rc; id++) {
        size_t const n = gen_token(n_vocab, id, tok, sizeof tok);
        rc = gen__out_str(o, id ? ",\n      " : "\n      ", err);
        if (!rc) rc = gen__out_json_str(o, tok, n, err);
        if (!rc) rc = gen__out_printf(o, err, ": %u", id);
    }
    if (!rc) rc = gen__out_str(o, "\n    },\n    \"merges\": [", err);
    for (uint32_t id = 256; id < n_reg && !rc; id++) {
        size_t const n = gen_token_merge(n_vocab, id, tok, sizeof tok);
        rc = gen__out_str(o, id > 256 ? ",\n      " : "\n      ", err);
        if (!rc) rc = gen__out_json_str(o, tok, n, err);
    }
    if (!rc) rc = gen__out_str(o, "\n    ]\n  }\n}\n", err);
    return rc;
}
