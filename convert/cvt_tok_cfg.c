/* cvt_tok_cfg.c - special token ids, add_bos/add_eos and the chat template, from
 * tokenizer_config.json, config.json and tokenizer.json's post-processor.
 *
 * Order, per special token (llama.cpp's gguf SpecialVocab does the same): tokenizer_config.json
 * "<x>_token" (a string or an AddedToken object), looked up among the added tokens first and
 * then in the whole vocabulary; else config.json "<x>_token_id" when it is one integer (lists
 * are ignored, as llama.cpp does); else what the tokenizer itself says (SentencePiece trainer
 * ids, tokenizer.json unk_token) stays. add_bos/add_eos: tokenizer_config.json booleans; else a
 * TemplateProcessing post-processor whose single-sequence template starts (ends) with the bos
 * (eos) token. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cvt_tok_int.h"
#include "trit_limits.h"

#define MAX_TEMPLATES 64u

/* tokenizer_config.json "<x>_token": a string, or {"content": ...}. NULL when neither. */
static const char *cfg_token(const cJSON *tc, int sp)
{
    char key[32];
    snprintf(key, sizeof key, "%s_token", cvt__tok_sp_hf(sp));
    const cJSON *v = cvt__jget(tc, key);
    if (cJSON_IsString(v)) return v->valuestring;
    return cvt__jstr(v, "content");
}

static uint32_t lookup(const cvt__tok *t, const cvt__added_list *al, const char *s)
{
    size_t const n = strlen(s);
    for (uint32_t i = 0; i < al->n; i++)
        if (al->a[i].len == n && memcmp(al->a[i].content, s, n) == 0 && al->a[i].id < t->n) return al->a[i].id;
    return cvt__tok_find(t, s, n);
}

/* The TemplateProcessing post-processor (alone or inside a Sequence), or NULL. */
static const cJSON *template_proc(const cJSON *root)
{
    const cJSON *pp = cvt__jget(root, "post_processor");
    const char *type = cvt__jstr(pp, "type");
    if (type && !strcmp(type, "TemplateProcessing")) return pp;
    if (!type || strcmp(type, "Sequence") != 0) return NULL;
    const cJSON *arr = cvt__jget(pp, "processors");
    for (const cJSON *e = cJSON_IsArray(arr) ? arr->child : NULL; e; e = e->next) {
        const char *et = cvt__jstr(e, "type");
        if (et && !strcmp(et, "TemplateProcessing")) return e;
    }
    return NULL;
}

/* add_bos (end 0) or add_eos (end 1) from the single template's first or last piece. */
static void from_template(cvt__tok *t, const cJSON *single, int end)
{
    int const sp = end ? CVT__SP_EOS : CVT__SP_BOS;
    int *flag = end ? &t->add_eos : &t->add_bos;
    if (*flag >= 0 || !cJSON_IsArray(single) || cJSON_GetArraySize(single) == 0) return;
    const cJSON *item = cJSON_GetArrayItem(single, end ? cJSON_GetArraySize(single) - 1 : 0);
    if (cvt__jget(item, "Sequence")) {
        *flag = 0;
        return;
    }
    const char *sid = cvt__jstr(cvt__jget(item, "SpecialToken"), "id");
    if (!sid) return;
    uint32_t const id = cvt__tok_find(t, sid, strlen(sid));
    if (id == CVT_TOK_NONE) return;
    if (t->special[sp] == CVT_TOK_NONE) t->special[sp] = id;
    *flag = t->special[sp] == id;
}

int cvt__tok_specials(cvt__tok *t, const cJSON *tc, const cJSON *cfg, const cJSON *json_root,
                      const cvt__added_list *al, const char *tc_name, const char *cfg_name)
{
    for (int sp = 0; sp < CVT__SP_COUNT; sp++) {
        uint32_t id = CVT_TOK_NONE;
        const char *s = cfg_token(tc, sp);
        if (s) {
            id = lookup(t, al, s);
            if (id == CVT_TOK_NONE)
                cvt__tok_warn(t, "%s: %s_token '%.40s' is not a token", tc_name, cvt__tok_sp_hf(sp), s);
        }
        char key[32];
        snprintf(key, sizeof key, "%s_token_id", cvt__tok_sp_hf(sp));
        uint64_t v;
        if (id == CVT_TOK_NONE && cvt__juint(cvt__jget(cfg, key), UINT32_MAX, &v)) {
            if (v < t->n) id = (uint32_t)v;
            else cvt__tok_warn(t, "%s: %s %llu is not a token id (%u tokens)", cfg_name, key,
                               (unsigned long long)v, t->n);
        }
        if (id != CVT_TOK_NONE) t->special[sp] = id;
    }
    const cJSON *b = cvt__jget(tc, "add_bos_token"), *e = cvt__jget(tc, "add_eos_token");
    if (cJSON_IsBool(b)) t->add_bos = cJSON_IsTrue(b);
    if (cJSON_IsBool(e)) t->add_eos = cJSON_IsTrue(e);
    const cJSON *single = cvt__jget(template_proc(json_root), "single");
    from_template(t, single, 0);
    from_template(t, single, 1);
    return TRIT_OK;
}

/* ---- chat template -------------------------------------------------------------------------- */

int cvt__tok_chat_template(cvt__tok *t, trit_kvbuf *out, const cJSON *tc, const cvt_tok_buf *jinja,
                           const char *tc_name)
{
    const cJSON *ct = cvt__jget(tc, "chat_template");
    if (cJSON_IsString(ct))
        return trit_kvbuf_str(out, "tokenizer.chat_template", ct->valuestring, strlen(ct->valuestring), t->err);
    if (!cJSON_IsArray(ct)) {
        if (jinja && jinja->p && jinja->n)
            return trit_kvbuf_str(out, "tokenizer.chat_template", jinja->p, jinja->n, t->err);
        return TRIT_OK;
    }
    /* [{"name": ..., "template": ...}]: "default" is tokenizer.chat_template, the others
     * tokenizer.chat_template.<name> (non-alphanumerics as '_') listed in chat_templates */
    char names[MAX_TEMPLATES][64];
    const char *list[MAX_TEMPLATES];
    uint32_t n = 0, k = 0;
    int rc = TRIT_OK, seen_default = 0;
    for (const cJSON *e = ct->child; e && rc == TRIT_OK; e = e->next, k++) {
        const char *name = cvt__jstr(e, "name"), *tmpl = cvt__jstr(e, "template");
        if (!name || !tmpl) {
            cvt__tok_warn(t, "%s: chat_template[%u] has no name or template: skipped", tc_name, k);
            continue;
        }
        char key[96];
        if (!strcmp(name, "default")) {
            if (seen_default++) {
                cvt__tok_warn(t, "%s: chat template 'default' appears twice: the second is skipped", tc_name);
                continue;
            }
            snprintf(key, sizeof key, "tokenizer.chat_template");
        } else {
            if (n == MAX_TEMPLATES) {
                cvt__tok_warn(t, "%s: more than %u chat templates: the rest are skipped", tc_name, MAX_TEMPLATES);
                break;
            }
            size_t j = 0;
            for (; name[j] && j < sizeof names[n] - 1; j++) {
                char const c = name[j];
                names[n][j] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ? c : '_';
            }
            names[n][j] = '\0';
            int dup = 0;
            for (uint32_t i = 0; i < n; i++) dup |= !strcmp(list[i], names[n]);
            if (dup) {
                cvt__tok_warn(t, "%s: chat template '%s' appears twice: the second is skipped", tc_name, names[n]);
                continue;
            }
            list[n] = names[n];
            snprintf(key, sizeof key, "tokenizer.chat_template.%s", names[n]);
            n++;
        }
        rc = trit_kvbuf_str(out, key, tmpl, strlen(tmpl), t->err);
    }
    if (rc == TRIT_OK && n) rc = trit_kvbuf_arr_str(out, "tokenizer.chat_templates", list, NULL, n, t->err);
    return rc;
}
