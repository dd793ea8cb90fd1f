/* test_gptoss_tok.c - o200k's pre-tokenizer (gpt-oss, GGUF tokenizer.ggml.pre "gpt-4o": llama.cpp's
 * LLAMA_VOCAB_PRE_TYPE_GPT4O at de3ff815) against llama.cpp itself, through node-llama-cpp, on a
 * generated vocabulary: byte-level BPE whose merges are learnt on the raw bytes of the test texts,
 * across every boundary, so that each token run spans exactly one pre-token and the ids show
 * where an implementation cut. Skipped when node or the conformance install (BUILD/conformance/
 * node_modules, `make conformance`) is absent. The tokenizer.json import (o200k's Split regex
 * recognised as "gpt-4o") against the GGUF path is test_gptoss_tok_import_paths. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gen/gen.h"
#include "src_gguf.h"
#include "test.h"
#include "test_cvt_gguf_build.h"
#include "test_tok.h"
#include "tok.h"

/* Texts around every alternative of the regex: case runs (U*L+ and U+L*), contractions in both
 * cases, digit runs, punctuation with / and newlines, whitespace runs, non-ASCII letters, marks,
 * titlecase, other scripts. */
static const char *const texts[] = {
    "Hello WORLD", "HTTPServer helloWORLD iPhone", "it's IT'S they'll We'RE you'Ve I'M he'd",
    "12345678 1,234,567 x2y", "a/b/c\n/d", "foo!!!/\n\nbar", "  spaces   here ", "tab\tsep\t\tend",
    "na\xc3\xafve caf\xc3\xa9 \xc3\x9c" "BER \xc3\xbc" "ber", "\xd0\x97\xd0\xb4\xd1\x80\xd0\xb0\xd0\xb2\xd1\x81\xd1\x82\xd0\xb2\xd1\x83\xd0\xb9 \xd0\x9c\xd0\x98\xd0\xa0",
    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x83\x86\xe3\x82\xad\xe3\x82\xb9\xe3\x83\x88 ok", "emoji \xf0\x9f\x99\x82\xf0\x9f\x99\x82 ok",
    "x\r\ny\r\n\r\n z", "mixed123abc ABC123def", "'s 'S 'll", "don't STOP'S", " leading", "trailing  ",
    "A", "ABC def GHI jKL", "combining e\xcc\x81 mark", "\xc7\x85ungla \xc7\x84UNGLA", "\xe2\x85\xab roman", "(x) [Y] {zZ}",
    "CamelCaseWORDSAndMoreWords", "\"quoted\" 'single'", "a  \n  b", "\xc3\x80\xc3\xa0\xc3\x80 \xc3\xa0\xc3\x80\xc3\xa0",
};
#define N_TEXTS (sizeof texts / sizeof texts[0])

/* GPT-2's bytes_to_unicode: printable bytes as themselves, the rest from U+0100 on. */
static uint32_t byte_cp(unsigned b)
{
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255)) return b;
    unsigned n = 0;
    for (unsigned x = 0; x < b; x++)
        if (!((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174 && x <= 255))) n++;
    return 256 + n;
}

static size_t put_cp(uint32_t c, char *o)
{
    if (c < 0x80) return o[0] = (char)c, 1;
    o[0] = (char)(0xC0 | (c >> 6));
    o[1] = (char)(0x80 | (c & 63));
    return 2;
}

#define MAX_TOK 4096

typedef struct bpe {
    char *tok[MAX_TOK];
    int32_t left[MAX_TOK], right[MAX_TOK];
    uint32_t n;
} bpe;

/* Merges learnt on the raw texts (no pre-splitting): the most frequent adjacent pair (ties: the
 * lowest ids) until no pair is left. */
static int train(bpe *v)
{
    for (unsigned b = 0; b < 256; b++) {
        char s[4];
        size_t const k = put_cp(byte_cp(b), s);
        v->tok[b] = malloc(k + 1);
        if (!v->tok[b]) return -1;
        memcpy(v->tok[b], s, k);
        v->tok[b][k] = '\0';
        v->left[b] = v->right[b] = -1;
    }
    v->n = 256;
    int32_t *seq[N_TEXTS];
    size_t len[N_TEXTS];
    for (size_t i = 0; i < N_TEXTS; i++) {
        len[i] = strlen(texts[i]);
        seq[i] = malloc(len[i] * sizeof **seq + 1);
        if (!seq[i]) return -1;
        for (size_t j = 0; j < len[i]; j++) seq[i][j] = (unsigned char)texts[i][j];
    }
    int rc = 0;
    while (v->n < MAX_TOK && !rc) {
        int32_t ba = -1, bb = -1;
        size_t bc = 0;
        for (size_t i = 0; i < N_TEXTS; i++)
            for (size_t j = 0; j + 1 < len[i]; j++) {
                int32_t const a = seq[i][j], b = seq[i][j + 1];
                size_t c = 0;
                for (size_t i2 = 0; i2 < N_TEXTS; i2++)
                    for (size_t j2 = 0; j2 + 1 < len[i2]; j2++) c += seq[i2][j2] == a && seq[i2][j2 + 1] == b;
                if (c > bc || (c == bc && (a < ba || (a == ba && b < bb)))) ba = a, bb = b, bc = c;
            }
        if (!bc) break;
        size_t const la = strlen(v->tok[ba]), lb = strlen(v->tok[bb]);
        char *t = malloc(la + lb + 1);
        if (!t) {
            rc = -1;
            break;
        }
        memcpy(t, v->tok[ba], la);
        memcpy(t + la, v->tok[bb], lb + 1);
        int32_t const id = (int32_t)v->n++;
        v->tok[id] = t;
        v->left[id] = ba;
        v->right[id] = bb;
        for (size_t i = 0; i < N_TEXTS; i++) {
            size_t w = 0;
            for (size_t j = 0; j < len[i]; j++) {
                if (j + 1 < len[i] && seq[i][j] == ba && seq[i][j + 1] == bb) seq[i][w++] = id, j++;
                else seq[i][w++] = seq[i][j];
            }
            len[i] = w;
        }
    }
    for (size_t i = 0; i < N_TEXTS; i++) free(seq[i]);
    return rc;
}

/* A vocab-only GGUF (arch llama, the few hparams llama.cpp's loader requires) with the BPE. */
static int write_vocab(const bpe *v, const char *path, const char *pre)
{
    tg_buf b = {0};
    tg_header(&b, 3, 0, 13);
    tg_kv_str(&b, "general.architecture", "llama");
    tg_kv_u32(&b, "llama.context_length", 64);
    tg_kv_u32(&b, "llama.embedding_length", 64);
    tg_kv_u32(&b, "llama.block_count", 1);
    tg_kv_u32(&b, "llama.feed_forward_length", 64);
    tg_kv_u32(&b, "llama.attention.head_count", 1);
    tg_kv(&b, "llama.attention.layer_norm_rms_epsilon", 6);
    tg_f32(&b, 1e-5f);
    tg_kv_str(&b, "tokenizer.ggml.model", "gpt2");
    tg_kv_str(&b, "tokenizer.ggml.pre", pre);
    tg_kv(&b, "tokenizer.ggml.tokens", 9);
    tg_u32(&b, 8);
    tg_u64(&b, v->n);
    for (uint32_t i = 0; i < v->n; i++) tg_str(&b, v->tok[i]);
    tg_kv(&b, "tokenizer.ggml.token_type", 9);
    tg_u32(&b, 5);
    tg_u64(&b, v->n);
    for (uint32_t i = 0; i < v->n; i++) tg_u32(&b, 1);
    tg_kv(&b, "tokenizer.ggml.merges", 9);
    tg_u32(&b, 8);
    tg_u64(&b, v->n - 256);
    for (uint32_t i = 256; i < v->n; i++) {
        char m[1024];
        snprintf(m, sizeof m, "%s %s", v->tok[v->left[i]], v->tok[v->right[i]]);
        tg_str(&b, m);
    }
    tg_kv(&b, "tokenizer.ggml.add_bos_token", 7);
    tg_u8(&b, 0);
    int const rc = b.oom ? -1 : test_write_file(path, b.p, b.len);
    tg_free(&b);
    return rc;
}

TEST(gptoss_tok_o200k_vs_llama_cpp)
{
    char nm[1024], dir[1200], cmd[24576];
    snprintf(nm, sizeof nm, "%s", test_trit_bin());
    char *slash = strrchr(nm, '/');
    if (slash) *slash = '\0';
    snprintf(dir, sizeof dir, "%s/conformance", slash ? nm : ".");
    if (access("tools/conformance/tokenize.mjs", R_OK) != 0) SKIP("not run from the source tree");
    if (test_run("command -v node >/dev/null 2>&1", NULL) != 0) SKIP("node is needed for llama.cpp (node-llama-cpp)");
    char nmod[1300];
    snprintf(nmod, sizeof nmod, "%s/node_modules/node-llama-cpp", dir);
    if (access(nmod, R_OK) != 0) {   /* another build folder (asan): the default build's install */
        snprintf(dir, sizeof dir, "build/conformance");
        snprintf(nmod, sizeof nmod, "%s/node_modules/node-llama-cpp", dir);
    }
    if (access(nmod, R_OK) != 0) SKIP("node-llama-cpp is not installed (make conformance installs it)");
    bpe v;
    memset(&v, 0, sizeof v);
    CHECK_EQ_INT(train(&v), 0);
    char gg[4200], tj[4200], ids[4200];
    snprintf(gg, sizeof gg, "%s/o200k-vocab.gguf", test_tmpdir());
    snprintf(tj, sizeof tj, "%s/o200k-texts.json", test_tmpdir());
    snprintf(ids, sizeof ids, "%s/o200k-ids.json", test_tmpdir());
    char g2[4300];
    snprintf(g2, sizeof g2, "%s/o200k-vocab-gpt2.gguf", test_tmpdir());
    CHECK_EQ_INT(write_vocab(&v, gg, "gpt-4o"), 0);
    CHECK_EQ_INT(write_vocab(&v, g2, "gpt-2"), 0);   /* a negative control: another pre-tokenizer */
    /* the texts as a JSON array (every byte < 0x20 escaped) */
    size_t cap = 1 << 16, k = 0;
    char *js = malloc(cap);
    if (!js) return;
    js[k++] = '[';
    for (size_t i = 0; i < N_TEXTS; i++) {
        k += (size_t)snprintf(js + k, cap - k, "%s\"", i ? "," : "");
        for (const unsigned char *p = (const unsigned char *)texts[i]; *p; p++)
            k += *p < 0x20 || *p == '"' || *p == '\\' ? (size_t)snprintf(js + k, cap - k, "\\u%04x", *p)
                                                       : (size_t)snprintf(js + k, cap - k, "%c", *p);
        k += (size_t)snprintf(js + k, cap - k, "\"");
    }
    k += (size_t)snprintf(js + k, cap - k, "]");
    CHECK_EQ_INT(test_write_file(tj, js, k), 0);
    free(js);
    /* node resolves node-llama-cpp from the script's folder: run a copy inside the install */
    snprintf(cmd, sizeof cmd, "cp tools/conformance/tokenize.mjs '%s/' && node '%s/tokenize.mjs' '%s' '%s' > '%s' 2> '%s.err'", dir, dir, gg, tj, ids, ids);
    char *out = NULL;
    int const rc = test_run(cmd, &out);
    free(out);
    CHECK_EQ_INT(rc, 0);
    size_t n = 0;
    char *want = (char *)test_read_file(ids, &n);
    src_gguf *g = NULL, *gc = NULL;
    run_tok *t = test_tok_open(gg, &g), *tc = test_tok_open(g2, &gc);
    size_t same = 0, control_same = 0;
    const char *p = want;
    for (size_t i = 0; t && p && i < N_TEXTS; i++) {
        p = strchr(p, '[' );
        if (i == 0 && p) p = strchr(p + 1, '[');
        if (!p) break;
        int32_t *got = NULL;
        size_t ng = 0;
        trit_err err;
        CHECK_OK_E(run_tok_encode(t, texts[i], strlen(texts[i]), 0, &got, &ng, &err), &err);
        char line[8192];
        size_t lk = 0;
        lk += (size_t)snprintf(line, sizeof line, "[");
        for (size_t j = 0; j < ng && lk < sizeof line - 16; j++) lk += (size_t)snprintf(line + lk, sizeof line - lk, "%s%d", j ? "," : "", got[j]);
        snprintf(line + lk, sizeof line - lk, "]");
        const char *e = strchr(p, ']');
        if (e && (size_t)(e - p + 1) == strlen(line) && !memcmp(p, line, strlen(line))) same++;
        else test_fail_(__FILE__, __LINE__, "'%s': llama.cpp %.*s, trit %s", texts[i], e ? (int)(e - p + 1) : 40, p, line);
        free(got);
        /* the same vocabulary split the gpt-2 way: must differ from llama.cpp's o200k ids on many texts */
        got = NULL;
        if (tc) CHECK_OK_E(run_tok_encode(tc, texts[i], strlen(texts[i]), 0, &got, &ng, &err), &err);
        lk = (size_t)snprintf(line, sizeof line, "[");
        for (size_t j = 0; got && j < ng && lk < sizeof line - 16; j++) lk += (size_t)snprintf(line + lk, sizeof line - lk, "%s%d", j ? "," : "", got[j]);
        snprintf(line + lk, sizeof line - lk, "]");
        control_same += e && (size_t)(e - p + 1) == strlen(line) && !memcmp(p, line, strlen(line));
        free(got);
        p = e;
    }
    printf("    o200k pre-tokenizer: %zu/%zu texts tokenized as llama.cpp does (%u tokens, merges learnt across boundaries); "
           "the gpt-2 pre-tokenizer on the same vocabulary agrees on %zu\n", same, (size_t)N_TEXTS, v.n, control_same);
    CHECK_EQ_U64(same, N_TEXTS);
    if (!(control_same + 5 <= N_TEXTS)) test_fail_(__FILE__, __LINE__, "the vocabulary cannot tell pre-tokenizers apart (%zu)", control_same);
    run_tok_free(t);
    run_tok_free(tc);
    src_gguf_close(g);
    src_gguf_close(gc);
    free(want);
    for (uint32_t i = 0; i < v.n; i++) free(v.tok[i]);
}

/* tokenizer.json (o200k's Split regex before ByteLevel) and the GGUF's "gpt-4o" tokenize alike. */
TEST(gptoss_tok_import_paths)
{
    if (access(test_trit_bin(), X_OK) != 0) SKIP("trit binary not built");
    char hf[4096], tw[4096], ho[4200], to[4200];
    gen_opts o;
    trit_err err;
    gen_opts_default(&o, GEN_LAYOUT_GPT_OSS);
    o.overwrite = 1;
    snprintf(hf, sizeof hf, "%s/gotok-hf", test_tmpdir());
    CHECK_OK_E(gen_write(&o, hf, &err), &err);
    gen_opts_default(&o, GEN_LAYOUT_GGUF_GPT_OSS);
    o.overwrite = 1;
    snprintf(tw, sizeof tw, "%s/gotok-tw.gguf", test_tmpdir());
    CHECK_OK_E(gen_write(&o, tw, &err), &err);
    snprintf(ho, sizeof ho, "%s.trit", hf);
    snprintf(to, sizeof to, "%s.trit", tw);
    char *m1 = NULL, *m2 = NULL;
    CHECK_EQ_INT(test_runf(&m1, "'%s' convert -q -f '%s' -o '%s' 2>&1", test_trit_bin(), hf, ho), 0);
    CHECK_EQ_INT(test_runf(&m2, "'%s' convert -q -f '%s' -o '%s' 2>&1", test_trit_bin(), tw, to), 0);
    free(m1);
    free(m2);
    for (size_t i = 0; i < N_TEXTS; i++) {
        if (strchr(texts[i], '\'') || strchr(texts[i], '"') || strchr(texts[i], '\\')) continue;   /* shell quoting */
        m1 = m2 = NULL;
        int const r1 = test_runf(&m1, "'%s' run '%s' --prompt '%s' -n 0 --json", test_trit_bin(), ho, texts[i]);
        int const r2 = test_runf(&m2, "'%s' run '%s' --prompt '%s' -n 0 --json", test_trit_bin(), to, texts[i]);
        const char *a = m1 ? strstr(m1, "\"prompt_tokens\"") : NULL, *b = m2 ? strstr(m2, "\"prompt_tokens\"") : NULL;
        const char *ea = a ? strchr(a, ']') : NULL, *eb = b ? strchr(b, ']') : NULL;
        if (r1 || r2 || !ea || !eb || ea - a != eb - b || memcmp(a, b, (size_t)(ea - a)))
            test_fail_(__FILE__, __LINE__, "'%s': tokenizer.json %.*s, GGUF %.*s", texts[i], ea ? (int)(ea - a) : 0, a ? a : "",
                       eb ? (int)(eb - b) : 0, b ? b : "");
        free(m1);
        free(m2);
    }
}
