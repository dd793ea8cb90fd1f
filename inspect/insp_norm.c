/* insp_norm.c - one vocabulary for three formats: tensor names mapped to the canonical (GGUF,
 * spec/container.md 10.2) names, metadata mapped to the .trit keys (spec 10.1), both through
 * the one model-description table (format/trit_model.h).
 * The rows and their sources are in format/model_table.c; this file applies them to the
 * inspect model (cJSON metadata) and derives what the tensors imply. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "insp_norm.h"
#include "trit_model.h"

/* ---- tensor names ------------------------------------------------------------------------ */

int insp_canon_name(const char *name, char *out, size_t cap, uint32_t *layer_out, uint32_t *expert_out)
{
    trit_mt_match m;
    int known = trit_mt_map(name, TRIT_MT_HF | TRIT_MT_CANON | TRIT_MT_LOOSE, out, cap, &m);
    if (known && m.role == TRIT_MT_SKIP && !out[0]) {
        /* an HF-only table the container drops (rotary inv_freq): not a tensor of spec 10.2 */
        snprintf(out, cap, "%s", name);
        known = 0;
    }
    /* an unknown module inside a layer keeps its layer number: the layer-count checks still
     * see the tensor */
    if (layer_out) *layer_out = m.layer;
    if (expert_out) *expert_out = known ? m.expert : TRIT_NONE32;
    return known;
}

/* ---- metadata ---------------------------------------------------------------------------- */

/* A GGUF gating function number with no .trit name: left unmapped (convert() gives NULL). */
static int gating_unmapped(const trit_mt_key *k, const cJSON *v)
{
    return k->conv == TRIT_MT_GATING && cJSON_IsNumber(v) && v->valuedouble != 1 && v->valuedouble != 2;
}

/* Convert a source value to the .trit representation of key k. Returns a new item (caller
 * owns) or NULL when the value cannot be represented (gating_unmapped: it is then left
 * unmapped) or memory ran out. */
static cJSON *convert(const trit_mt_key *k, const cJSON *v)
{
    if (k->conv == TRIT_MT_GATING && cJSON_IsNumber(v)) {
        /* GGUF ExpertGatingFuncType: 1 softmax, 2 sigmoid (formats.md 1.10) */
        if (v->valuedouble == 1) return cJSON_CreateString("softmax");
        if (v->valuedouble == 2) return cJSON_CreateString("sigmoid");
        return NULL;
    }
    if (k->conv == TRIT_MT_ARCH && cJSON_IsString(v)) {
        /* HF "gpt_oss" is llama.cpp's "gpt-oss" (LLM_ARCH_OPENAI_MOE), as convert maps it */
        if (strcmp(v->valuestring, "gpt_oss") == 0) return cJSON_CreateString("gpt-oss");
        /* HF model_type "qwen3_moe" names GGUF's "qwen3moe": drop '_' and lowercase */
        char buf[64];
        size_t o = 0;
        for (const char *s = v->valuestring; *s && o + 1 < sizeof buf; s++)
            if (*s != '_') buf[o++] = (char)(*s >= 'A' && *s <= 'Z' ? *s - 'A' + 'a' : *s);
        buf[o] = '\0';
        return cJSON_CreateString(buf);
    }
    return cJSON_Duplicate(v, 1);
}

/* Source key -> value for one format, or NULL. Borrowed from meta; the source key is written
 * to src. */
static const cJSON *lookup(const char *format, const cJSON *meta, const trit_mt_key *k, const char *arch,
                           char *src, size_t cap)
{
    if (strcmp(format, "trit") == 0) {
        snprintf(src, cap, "%s", k->key);
        return cJSON_GetObjectItemCaseSensitive(meta, k->key);
    }
    if (strcmp(format, "gguf") == 0) {
        if (k->gguf_abs) {
            snprintf(src, cap, "%s", k->gguf_abs);
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(meta, k->gguf_abs);
            if (v) return v;
        }
        if (k->gguf && arch && *arch) {
            snprintf(src, cap, "%s.%s", arch, k->gguf);
            return cJSON_GetObjectItemCaseSensitive(meta, src);
        }
        return NULL;
    }
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(meta, "config");
    if (!cJSON_IsObject(cfg)) return NULL;
    for (int i = 0; i < 3 && k->hf[i]; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, k->hf[i]);
        if (v && !cJSON_IsNull(v)) {
            snprintf(src, cap, "config.%s", k->hf[i]);
            return v;
        }
    }
    return NULL;
}

/* The FFN widths of MoE sources, in spec 10.1's terms. HF configs and GGUF files of MoE
 * models keep intermediate_size / feed_forward_length even when no layer is dense (Qwen-MoE),
 * and Mixtral uses it for the experts' width (it has no moe_intermediate_size). The spec's
 * model.n_ff is the dense width, 0 when every layer is MoE. */
static int moe_ff(const char *format, const cJSON *meta, cJSON *out)
{
    double n_expert = 0, ff = 0, x = 0;
    if (!insp_num(out, "moe.n_expert", &n_expert) || n_expert <= 0) return TRIT_OK;
    int const has_ff = insp_num(out, "model.n_ff", &ff);
    if (has_ff && !cJSON_GetObjectItemCaseSensitive(out, "moe.n_ff_expert") &&
        !cJSON_AddNumberToObject(out, "moe.n_ff_expert", ff))
        return TRIT_E_NOMEM;
    int dense = insp_num(out, "moe.first_dense_layers", &x) && x > 0;
    const cJSON *cfg = strcmp(format, "safetensors") == 0 ? cJSON_GetObjectItemCaseSensitive(meta, "config") : NULL;
    const cJSON *only = cJSON_GetObjectItemCaseSensitive(cfg, "mlp_only_layers");
    if (cJSON_IsArray(only) && cJSON_GetArraySize(only) > 0) dense = 1;   /* Qwen2-MoE dense layers */
    if (insp_num(cfg, "decoder_sparse_step", &x) && x > 1) dense = 1;
    if (has_ff && !dense) {
        cJSON *zero = cJSON_CreateNumber(0);
        if (!zero || !cJSON_ReplaceItemInObjectCaseSensitive(out, "model.n_ff", zero)) {
            cJSON_Delete(zero);
            return TRIT_E_NOMEM;
        }
    }
    return TRIT_OK;
}

cJSON *insp_norm_meta(const char *format, const cJSON *meta, cJSON **consumed)
{
    cJSON *out = cJSON_CreateObject();
    cJSON *used = consumed ? cJSON_CreateObject() : NULL;
    if (!out || (consumed && !used)) goto fail;
    const cJSON *archv = cJSON_GetObjectItemCaseSensitive(meta, "general.architecture");
    const char *arch = cJSON_IsString(archv) ? archv->valuestring : NULL;
    size_t n_keys;
    const trit_mt_key *keys = trit_mt_keys(&n_keys);
    for (size_t i = 0; i < n_keys; i++) {
        /* the model description only: provenance and tokenizer keys are not the model */
        if (!trit_mt_key_described(keys[i].key) && strncmp(keys[i].key, "general.", 8) != 0) continue;
        char src[192];
        const cJSON *v = lookup(format, meta, &keys[i], arch, src, sizeof src);
        if (!v) continue;
        cJSON *c = convert(&keys[i], v);
        if (!c && gating_unmapped(&keys[i], v)) continue;
        if (!c) goto fail;   /* out of memory: a key silently missing would change the checks */
        if (!cJSON_AddItemToObject(out, keys[i].key, c)) {
            cJSON_Delete(c);
            goto fail;
        }
        if (used && !cJSON_AddStringToObject(used, src, keys[i].key)) goto fail;
    }
    if (strcmp(format, "trit") != 0 && moe_ff(format, meta, out) != TRIT_OK) goto fail;
    /* router_jitter_noise is sparsemixer's threshold in PhiMoE (moe.jitter_eps) and training
     * noise everywhere else (Mixtral): only a phimoe description has the key */
    const cJSON *oarch = cJSON_GetObjectItemCaseSensitive(out, "general.architecture");
    if (!cJSON_IsString(oarch) || strcmp(oarch->valuestring, "phimoe") != 0)
        cJSON_DeleteItemFromObjectCaseSensitive(out, "moe.jitter_eps");
    /* GptOssExperts computes its own clamped GLU (alpha 1.702) whatever config.hidden_act says
     * ("silu" in the release): convert describes it as swiglu_oai, llama.cpp's name */
    if (cJSON_IsString(oarch) && strcmp(oarch->valuestring, "gpt-oss") == 0 && strcmp(format, "safetensors") == 0 &&
        cJSON_GetObjectItemCaseSensitive(out, "model.hidden_act")) {
        cJSON *act = cJSON_CreateString("swiglu_oai");
        if (!act || !cJSON_ReplaceItemInObjectCaseSensitive(out, "model.hidden_act", act)) {
            cJSON_Delete(act);
            goto fail;
        }
    }
    if (consumed) *consumed = used;
    return out;
fail:
    cJSON_Delete(out);
    cJSON_Delete(used);
    if (consumed) *consumed = NULL;
    return NULL;
}

int insp_norm_has_source(const char *format, const char *canon)
{
    size_t n_keys;
    const trit_mt_key *keys = trit_mt_keys(&n_keys);
    for (size_t i = 0; i < n_keys; i++) {
        if (strcmp(keys[i].key, canon) != 0) continue;
        if (strcmp(format, "trit") == 0) return 1;
        if (strcmp(format, "gguf") == 0) return keys[i].gguf || keys[i].gguf_abs;
        return keys[i].hf[0] != NULL;
    }
    return 0;
}

/* ---- derived hyperparameters ------------------------------------------------------------- */

int insp_num(const cJSON *o, const char *key, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (cJSON_IsNumber(v)) {
        *out = v->valuedouble;
        return 1;
    }
    if (cJSON_IsBool(v)) {
        *out = cJSON_IsTrue(v) ? 1 : 0;
        return 1;
    }
    if (cJSON_IsString(v) && v->valuestring[0] >= '0' && v->valuestring[0] <= '9') {
        /* GGUF integers above 2^53 are given as strings */
        *out = strtod(v->valuestring, NULL);
        return 1;
    }
    return 0;
}

/* First tensor whose canonical layer-relative name starts with `mod` ("ffn_up."), or NULL.
 * Borrowed from t. */
static const insp_tref *find_layer_mod(const insp_tref *t, uint64_t n, const char *mod)
{
    for (uint64_t i = 0; i < n; i++) {
        if (!t[i].canon || strncmp(t[i].canon, "blk.", 4) != 0) continue;
        const char *p = t[i].canon + 4;
        while (*p >= '0' && *p <= '9') p++;
        if (*p == '.' && strncmp(p + 1, mod, strlen(mod)) == 0) return &t[i];
    }
    return NULL;
}

static int absent(const cJSON *hp, const char *key) { return cJSON_GetObjectItemCaseSensitive(hp, key) == NULL; }

/* insp_derive's adds: *ok becomes 0 when one fails (out of memory). */
static void put_num(cJSON *d, int *ok, const char *key, double v)
{
    if (!cJSON_AddNumberToObject(d, key, v)) *ok = 0;
}

static void put_bool(cJSON *d, int *ok, const char *key, int v)
{
    if (!cJSON_AddBoolToObject(d, key, v)) *ok = 0;
}

static void put_str(cJSON *d, int *ok, const char *key, const char *v)
{
    if (!cJSON_AddStringToObject(d, key, v)) *ok = 0;
}

static cJSON *derived(cJSON *d, int ok)
{
    if (ok) return d;
    cJSON_Delete(d);
    return NULL;
}

cJSON *insp_derive(const cJSON *hp, const insp_tref *t, uint64_t n)
{
    cJSON *d = cJSON_CreateObject();
    if (!d) return NULL;
    int ok = 1;   /* every derived key or none (NULL): a missing one would change the checks */
    double n_embd, n_head, x;
    /* multi-head latent attention (DeepSeek-V2): the key head (qk_nope + qk_rope) from q_proj or
     * q_b_proj [n_head * head_dim, ...], its rope part from kv_a_proj_with_mqa [kv_lora_rank +
     * qk_rope, n_embd] */
    const insp_tref *kva = find_layer_mod(t, n, "attn_kv_a_mqa.");
    const insp_tref *qt = find_layer_mod(t, n, "attn_q.weight");
    if (!qt) qt = find_layer_mod(t, n, "attn_q_b.");
    if (kva && kva->n_dims == 2 && insp_num(hp, "model.kv_lora_rank", &x) && x > 0 && (double)kva->dims[0] > x) {
        if (absent(hp, "model.rope_dim")) put_num(d, &ok, "model.rope_dim", (double)kva->dims[0] - x);
        if (absent(hp, "model.head_dim") && qt && qt->n_dims == 2 && insp_num(hp, "model.n_head", &n_head) && n_head > 0 &&
            qt->dims[0] % (uint64_t)n_head == 0)
            put_num(d, &ok, "model.head_dim", (double)(qt->dims[0] / (uint64_t)n_head));
    }
    if (absent(hp, "model.head_dim") && absent(d, "model.head_dim") && insp_num(hp, "model.n_embd", &n_embd) &&
        insp_num(hp, "model.n_head", &n_head) && n_head > 0 && n_embd > 0 &&
        (uint64_t)n_embd % (uint64_t)n_head == 0)
        put_num(d, &ok, "model.head_dim", (double)((uint64_t)n_embd / (uint64_t)n_head));
    if (absent(hp, "model.n_head_kv") && insp_num(hp, "model.n_head", &x))
        put_num(d, &ok, "model.n_head_kv", x);   /* no GQA key: as many KV heads as heads */
    /* spec 10.1: rope_dim defaults to head_dim (stated or derived) */
    if (absent(hp, "model.rope_dim") && absent(d, "model.rope_dim") &&
        (insp_num(hp, "model.head_dim", &x) || insp_num(d, "model.head_dim", &x)))
        put_num(d, &ok, "model.rope_dim", x);
    const insp_tref *embd = NULL;
    int has_output = 0;
    for (uint64_t i = 0; i < n; i++) {
        if (!t[i].canon) continue;
        if (strcmp(t[i].canon, "output.weight") == 0) has_output = 1;
        if (strcmp(t[i].canon, "token_embd.weight") == 0) embd = &t[i];
    }
    if (absent(hp, "model.tied_embeddings") && embd) put_bool(d, &ok, "model.tied_embeddings", !has_output);
    /* norms with a bias are LayerNorms (PhiMoE's nn.LayerNorm); spec 10.1's default is RMSNorm */
    if (absent(hp, "model.norm_kind") && find_layer_mod(t, n, "attn_norm.bias")) put_str(d, &ok, "model.norm_kind", "layer");
    if (absent(hp, "model.n_vocab") && embd && embd->n_dims == 2)
        put_num(d, &ok, "model.n_vocab", (double)embd->dims[0]);
    /* RoPE base: 10000 is both transformers' and llama.cpp's default when a file omits it */
    if (absent(hp, "model.rope_theta")) put_num(d, &ok, "model.rope_theta", 10000);
    /* MoE defaults of spec 10.1: 0 experts for a dense model, routed scale 1, no shared expert,
     * no leading dense layer unless the first layers have no experts */
    const insp_tref *exp = find_layer_mod(t, n, "ffn_up.");
    if (exp && exp->expert == TRIT_NONE32) exp = NULL;   /* the dense ffn_up.weight */
    const insp_tref *stack = find_layer_mod(t, n, "ffn_up_exps.");
    if (!stack) stack = find_layer_mod(t, n, "ffn_gate_up_exps.");
    int const moe = exp || stack;
    if (!moe) {
        if (absent(hp, "moe.n_expert")) put_num(d, &ok, "moe.n_expert", 0);
        if (absent(hp, "moe.n_expert_used")) put_num(d, &ok, "moe.n_expert_used", 0);
        return derived(d, ok);
    }
    if (absent(hp, "moe.n_ff_expert") && exp && exp->n_dims == 2)
        put_num(d, &ok, "moe.n_ff_expert", (double)exp->dims[0]);
    if (absent(hp, "moe.n_ff_expert") && !exp && stack && stack->n_dims == 3 && strstr(stack->canon, "ffn_up_exps"))
        put_num(d, &ok, "moe.n_ff_expert", (double)stack->dims[1]);
    if (absent(hp, "moe.routed_scale")) put_num(d, &ok, "moe.routed_scale", 1);
    if (absent(hp, "moe.n_shared_expert") && !find_layer_mod(t, n, "ffn_up_shexp."))
        put_num(d, &ok, "moe.n_shared_expert", 0);
    if (absent(hp, "moe.first_dense_layers")) {
        uint32_t first = TRIT_NONE32;
        for (uint64_t i = 0; i < n; i++)
            if (t[i].canon && t[i].layer < first &&
                (t[i].expert != TRIT_NONE32 || strstr(t[i].canon, "_exps.")))
                first = t[i].layer;
        if (first != TRIT_NONE32) put_num(d, &ok, "moe.first_dense_layers", first);
    }
    /* router scoring: softmax for every family but DeepSeek-V3, which states sigmoid
     * (formats.md 4.2); top-k renormalization: always for Mixtral, hard-coded for qwen3moe
     * in llama.cpp */
    const cJSON *arch = cJSON_GetObjectItemCaseSensitive(hp, "general.architecture");
    /* PhiMoE routes by sparsemixer (modeling_phimoe.py), stated by no config key */
    int const phimoe = cJSON_IsString(arch) && strcmp(arch->valuestring, "phimoe") == 0;
    if (absent(hp, "moe.gating")) put_str(d, &ok, "moe.gating", phimoe ? "sparsemixer" : "softmax");
    if (absent(hp, "moe.norm_topk") && cJSON_IsString(arch) &&
        (strcmp(arch->valuestring, "mixtral") == 0 || strcmp(arch->valuestring, "qwen3moe") == 0 ||
         strcmp(arch->valuestring, "gpt-oss") == 0))   /* GptOssTopKRouter: softmax over the top k */
        put_bool(d, &ok, "moe.norm_topk", 1);
    if (absent(hp, "moe.norm_topk") && phimoe) put_bool(d, &ok, "moe.norm_topk", 0);
    return derived(d, ok);
}

int insp_tref_name(insp_tref *t)
{
    /* a canonical name is never longer than its source name plus the longest expansion
     * ("blk." + digits + "exp_probs_b.bias" from a shorter HF path); 64 bytes of slack */
    size_t const cap = strlen(t->name) + 64;
    t->canon = malloc(cap);
    if (!t->canon) return TRIT_E_NOMEM;
    t->known = insp_canon_name(t->name, t->canon, cap, &t->layer, &t->expert);
    return TRIT_OK;
}

/* Replace bytes that are not valid UTF-8 (names come from untrusted files) and control
 * characters with '?', so text lines stay one line and the JSON stays valid. */
void insp_sanitize(char *s)
{
    unsigned char *p = (unsigned char *)s;
    while (*p) {
        unsigned const c = *p;
        unsigned const len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        int ok = len > 0 && (len > 1 || c >= 0x20) && c != 0x7f;
        for (unsigned k = 1; ok && k < len; k++) ok = (p[k] & 0xC0) == 0x80;
        if (ok && len == 2) ok = c >= 0xC2;
        if (!ok) {
            *p++ = '?';
            continue;
        }
        p += len;
    }
}
