/* cvt_tok.c - the tokenizer of a Hugging Face checkpoint as GGUF tokenizer keys (cvt_tok.h):
 * reading the files, choosing the vocabulary source, and writing the keys. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cvt_tok_int.h"
#include "trit_limits.h"
#include "trit_safemath.h"

/* Config files are small; this bounds the tree of a hostile one. */
#define CONFIG_NODES (1u << 20)

int cvt_tok_load_file(const char *path, uint64_t cap, uint8_t **buf, size_t *len, trit_err *err)
{
    *buf = NULL;
    *len = 0;
    trit_err_clear(err);
    if (cap == 0) cap = TRIT_MAX_TOKENIZER_FILE;
    int const fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat st;
    int rc = TRIT_OK;
    if (fd < 0) {
        rc = trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, NULL, "cannot open: %s", strerror(errno));
    } else if (fstat(fd, &st) != 0) {
        rc = trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, NULL, "cannot stat: %s", strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {   /* a FIFO or device could block or never end */
        rc = trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, NULL, "not a regular file");
    } else if ((uint64_t)st.st_size > cap) {
        rc = trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, NULL, "file of %llu bytes, limit %llu",
                          (unsigned long long)st.st_size, (unsigned long long)cap);
    } else {
        size_t const n = (size_t)st.st_size;
        uint8_t *b = malloc(n ? n : 1);
        size_t got = 0;
        if (!b) rc = trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
        while (rc == TRIT_OK && got < n) {
            ssize_t const k = read(fd, b + got, n - got);
            if (k < 0 && errno == EINTR) continue;
            if (k < 0) rc = trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, NULL, "read failed: %s", strerror(errno));
            else if (k == 0) rc = trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, NULL, "file shrank while reading");
            else got += (size_t)k;
        }
        if (rc) free(b);
        else { *buf = b; *len = n; }
    }
    if (fd >= 0) close(fd);
    if (rc) trit_err_file(err, path);
    return rc;
}

/* ---- writing the keys ------------------------------------------------------------------------ */

static int emit(cvt__tok *t, trit_kvbuf *out)
{
    trit_err *err = t->err;
    int rc = trit_kvbuf_str(out, "tokenizer.ggml.model", t->model, strlen(t->model), err);
    if (rc == TRIT_OK) rc = trit_kvbuf_str(out, "tokenizer.ggml.pre", t->pre, strlen(t->pre), err);
    uint32_t const n = t->n;
    const char **strs = trit_mallocarray(n, sizeof *strs);
    uint64_t *lens = trit_mallocarray(n, sizeof *lens);
    if (rc == TRIT_OK && (!strs || !lens)) rc = cvt__tok_nomem(t);
    for (uint32_t i = 0; rc == TRIT_OK && i < n; i++) {
        strs[i] = (const char *)cvt__tok_str(t, i);
        lens[i] = t->t_len[i];
    }
    if (rc == TRIT_OK) rc = trit_kvbuf_arr_str(out, "tokenizer.ggml.tokens", strs, lens, n, err);
    if (rc == TRIT_OK && t->has_scores) rc = trit_kvbuf_arr(out, "tokenizer.ggml.scores", TRIT_KV_F32, t->score, n, err);
    if (rc == TRIT_OK) rc = trit_kvbuf_arr(out, "tokenizer.ggml.token_type", TRIT_KV_I32, t->type, n, err);
    free(strs);
    free(lens);
    strs = NULL;
    lens = NULL;
    if (rc == TRIT_OK && t->n_merges) {
        strs = trit_mallocarray(t->n_merges, sizeof *strs);
        lens = trit_mallocarray(t->n_merges, sizeof *lens);
        if (!strs || !lens) rc = cvt__tok_nomem(t);
        for (uint32_t i = 0; rc == TRIT_OK && i < t->n_merges; i++) {
            strs[i] = (const char *)t->arena + t->m_off[i];
            lens[i] = t->m_len[i];
        }
        if (rc == TRIT_OK) rc = trit_kvbuf_arr_str(out, "tokenizer.ggml.merges", strs, lens, t->n_merges, err);
        free(strs);
        free(lens);
    }
    for (int sp = 0; rc == TRIT_OK && sp < CVT__SP_COUNT; sp++)
        if (t->special[sp] != CVT_TOK_NONE) rc = trit_kvbuf_u32(out, cvt__tok_sp_key(sp), t->special[sp], err);
    if (rc == TRIT_OK && t->add_bos >= 0) rc = trit_kvbuf_bool(out, "tokenizer.ggml.add_bos_token", t->add_bos, err);
    if (rc == TRIT_OK && t->add_eos >= 0) rc = trit_kvbuf_bool(out, "tokenizer.ggml.add_eos_token", t->add_eos, err);
    if (rc == TRIT_OK && t->add_space_prefix >= 0)
        rc = trit_kvbuf_bool(out, "tokenizer.ggml.add_space_prefix", t->add_space_prefix, err);
    return rc;
}

/* ---- choosing the source --------------------------------------------------------------------- */

static const char *name_or(const cvt_tok_buf *b, const char *dflt) { return b->name ? b->name : dflt; }

typedef struct state {
    cvt__tok t;
    cJSON *json, *tc, *cfg;
    cvt__added_list al;
    cvt_tok_spm spm;
} state;

/* Parse each JSON file that is present. */
static int parse_inputs(state *s, const cvt_tok_src *src, trit_err *err)
{
    int rc = TRIT_OK;
    cvt_tok_buf b;
    if (src->json.p) {
        b = src->json;
        b.name = name_or(&src->json, "tokenizer.json");
        rc = cvt__tok_json_parse_tokenizer(&b, &s->json, err);
    }
    if (rc == TRIT_OK && src->tok_config.p) {
        b = src->tok_config;
        b.name = name_or(&src->tok_config, "tokenizer_config.json");
        rc = cvt__tok_json_parse(&b, CONFIG_NODES, &s->tc, err);
    }
    if (rc == TRIT_OK && src->config.p) {
        b = src->config;
        b.name = name_or(&src->config, "config.json");
        rc = cvt__tok_json_parse(&b, CONFIG_NODES, &s->cfg, err);
    }
    return rc;
}

static int build(state *s, const cvt_tok_src *src, trit_err *err)
{
    cvt__tok *t = &s->t;
    const char *jname = name_or(&src->json, "tokenizer.json");
    const char *mname = name_or(&src->model, "tokenizer.model");
    const char *tcname = name_or(&src->tok_config, "tokenizer_config.json");
    int style = 0;
    int rc = parse_inputs(s, src, err);
    if (rc == TRIT_OK && s->json) rc = cvt__json_style(s->json, jname, &style, err);
    /* added tokens: tokenizer.json's list, else tokenizer_config.json's decoder map */
    const char *aname = s->json ? jname : tcname;
    if (rc == TRIT_OK) rc = s->json ? cvt__added_from_json(s->json, jname, &s->al, err)
                                    : cvt__added_from_config(s->tc, tcname, &s->al, err);
    if (rc) return rc;

    if (s->json && style == SRC_JSON_BYTE_BPE) {
        t->info->kind = "bpe";
        t->info->source = "tokenizer.json";
        snprintf(t->model, sizeof t->model, "gpt2");
        rc = cvt__json_vocab(t, s->json, jname, style, &s->al);
        if (rc == TRIT_OK) rc = cvt__tok_detect_pre(t, s->json, jname, src->unknown_pre_ok);
    } else if (src->model.p) {
        /* SentencePiece: the model file has the real scores; tokenizer.json only adds tokens */
        t->info->kind = "spm";
        t->info->source = "tokenizer.model";
        rc = cvt_tok_spm_parse(src->model.p, src->model.n, mname, &s->spm, err);
        if (rc == TRIT_OK) rc = cvt__spm_vocab(t, &s->spm, &s->al, mname, aname);
    } else if (s->json) {
        t->info->kind = "spm";
        t->info->source = "tokenizer.json";
        snprintf(t->model, sizeof t->model, "llama");
        snprintf(t->pre, sizeof t->pre, "default");
        rc = cvt__json_vocab(t, s->json, jname, style, &s->al);
        t->add_space_prefix = cvt__json_space_prefix(s->json);
    } else {
        return trit_err_set(err, TRIT_E_NOTFOUND, TRIT_NO_OFFSET, NULL,
                            "no tokenizer.json or tokenizer.model to read a vocabulary from");
    }
    if (rc == TRIT_OK) rc = cvt__tok_specials(t, s->tc, s->cfg, s->json, &s->al, tcname,
                                              name_or(&src->config, "config.json"));
    if (rc == TRIT_OK && src->pad_to) {
        if (t->n > src->pad_to)
            return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, "vocabulary",
                                "the tokenizer has %u tokens but the model only %u embedding rows", t->n,
                                src->pad_to);
        if (t->n < src->pad_to) rc = cvt__tok_pad(t, src->pad_to);
    }
    return rc;
}

int cvt_tok_from_mem(const cvt_tok_src *src, trit_kvbuf *out, cvt_tok_info *info, trit_err *err)
{
    cvt_tok_info local;
    if (!info) info = &local;
    memset(info, 0, sizeof *info);
    info->kind = info->source = "";
    info->bos = info->eos = CVT_TOK_NONE;
    trit_err_clear(err);
    state s;
    memset(&s, 0, sizeof s);
    cvt__tok_init(&s.t, info, err);
    int rc = build(&s, src, err);
    if (rc == TRIT_OK) rc = emit(&s.t, out);
    if (rc == TRIT_OK)
        rc = cvt__tok_chat_template(&s.t, out, s.tc, &src->chat_template,
                                    name_or(&src->tok_config, "tokenizer_config.json"));
    if (rc == TRIT_OK) {
        snprintf(info->model, sizeof info->model, "%s", s.t.model);
        snprintf(info->pre, sizeof info->pre, "%s", s.t.pre);
        info->n_tokens = s.t.n;
        info->n_merges = s.t.n_merges;
        info->bos = s.t.special[CVT__SP_BOS];
        info->eos = s.t.special[CVT__SP_EOS];
    }
    cvt__tok_release(&s.t);
    cvt__added_release(&s.al);
    cvt_tok_spm_release(&s.spm);
    cJSON_Delete(s.json);
    cJSON_Delete(s.tc);
    cJSON_Delete(s.cfg);
    return rc;
}

int cvt_tok_from_hf_dir(const char *tokenizer_json, const char *tokenizer_model, const char *tokenizer_config_json,
                        const cvt_tok_opts *opts, trit_kvbuf *out, cvt_tok_info *info, trit_err *err)
{
    const char *paths[5] = {tokenizer_json, tokenizer_model, tokenizer_config_json,
                            opts ? opts->config_json : NULL, opts ? opts->chat_template : NULL};
    uint8_t *bufs[5] = {0};
    size_t lens[5] = {0};
    int rc = TRIT_OK;
    trit_err_clear(err);
    for (int i = 0; i < 5 && rc == TRIT_OK; i++)
        if (paths[i]) rc = cvt_tok_load_file(paths[i], 0, &bufs[i], &lens[i], err);
    if (rc == TRIT_OK) {
        cvt_tok_src src;
        memset(&src, 0, sizeof src);
        cvt_tok_buf *b[5] = {&src.json, &src.model, &src.tok_config, &src.config, &src.chat_template};
        for (int i = 0; i < 5; i++) *b[i] = (cvt_tok_buf){bufs[i], lens[i], paths[i]};
        src.pad_to = opts ? opts->pad_to : 0;
        src.unknown_pre_ok = opts ? opts->unknown_pre_ok : 0;
        rc = cvt_tok_from_mem(&src, out, info, err);
    }
    for (int i = 0; i < 5; i++) free(bufs[i]);
    return rc;
}
