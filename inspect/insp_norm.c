/* insp_norm.c - one vocabulary for three formats: tensor names mapped to the canonical (GGUF,
 * spec/container.md 10.2) names, metadata mapped to the .trit keys (spec 10.1).
 *
 * Sources of the mappings: formats.md 1.10 (GGUF keys and the HF config field each comes
 * from; GGUF tensor names and their HF llama-style sources), 4.1 (MoE naming: Mixtral
 * block_sparse_moe.experts.E.w1/w3/w2 = gate/up/down, Qwen/DeepSeek mlp.experts.E.*_proj,
 * shared experts, DeepSeek e_score_correction_bias), 3.3/3.4 (BitNet SubLN norm names). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "insp_norm.h"

/* ---- tensor names ------------------------------------------------------------------------ */

/* HF module path (inside a layer) -> canonical module. */
static const struct { const char *hf, *canon; } layer_modules[] = {
    {"input_layernorm", "attn_norm"},
    {"post_attention_layernorm", "ffn_norm"},
    {"self_attn.q_proj", "attn_q"},
    {"self_attn.k_proj", "attn_k"},
    {"self_attn.v_proj", "attn_v"},
    {"self_attn.o_proj", "attn_output"},
    {"self_attn.q_norm", "attn_q_norm"},
    {"self_attn.k_norm", "attn_k_norm"},
    {"self_attn.attn_sub_norm", "attn_sub_norm"},   /* BitNet 2B4T */
    {"self_attn.inner_attn_ln", "attn_sub_norm"},   /* 1bitLLM */
    {"mlp.gate_proj", "ffn_gate"},
    {"mlp.up_proj", "ffn_up"},
    {"mlp.down_proj", "ffn_down"},
    {"mlp.ffn_sub_norm", "ffn_sub_norm"},           /* BitNet 2B4T */
    {"mlp.ffn_layernorm", "ffn_sub_norm"},          /* 1bitLLM */
    {"mlp.gate", "ffn_gate_inp"},                   /* Qwen-MoE, OLMoE, DeepSeek router */
    {"block_sparse_moe.gate", "ffn_gate_inp"},      /* Mixtral router */
    {"mlp.shared_expert.gate_proj", "ffn_gate_shexp"},
    {"mlp.shared_expert.up_proj", "ffn_up_shexp"},
    {"mlp.shared_expert.down_proj", "ffn_down_shexp"},
    {"mlp.shared_experts.gate_proj", "ffn_gate_shexp"},
    {"mlp.shared_experts.up_proj", "ffn_up_shexp"},
    {"mlp.shared_experts.down_proj", "ffn_down_shexp"},
    {"mlp.shared_expert_gate", "ffn_gate_inp_shexp"},
};

/* Per-expert HF modules: prefix, expert number, then one of three projection names. */
static const struct { const char *prefix, *gate, *up, *down; } expert_modules[] = {
    {"mlp.experts.", "gate_proj", "up_proj", "down_proj"},
    {"block_sparse_moe.experts.", "w1", "w3", "w2"},
};

/* Canonical modules (spec 10.2 and GGUF names that .trit does not use but GGUF files carry). */
static const char *const canon_layer_modules[] = {
    "attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "attn_q_norm", "attn_k_norm", "attn_sub_norm",
    "ffn_norm", "ffn_gate", "ffn_up", "ffn_down", "ffn_sub_norm", "ffn_gate_inp", "exp_probs_b",
    "ffn_gate_exps", "ffn_up_exps", "ffn_down_exps", "ffn_gate_up_exps", "ffn_gate_shexp", "ffn_up_shexp",
    "ffn_down_shexp", "ffn_gate_inp_shexp",
};
static const char *const canon_top[] = {"token_embd", "output_norm", "output", "rope_freqs"};

/* Parse a decimal number at *p (no sign, no leading '+'), below TRIT_NONE32, followed by '.'.
 * Advances *p past the dot. 0 on success. */
static int parse_num_dot(const char **p, uint32_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    if (*s < '0' || *s > '9') return -1;
    for (; *s >= '0' && *s <= '9'; s++) {
        v = v * 10 + (uint64_t)(*s - '0');
        if (v >= TRIT_NONE32) return -1;
    }
    if (*s != '.') return -1;
    *out = (uint32_t)v;
    *p = s + 1;
    return 0;
}

static int in_list(const char *s, size_t n, const char *const *list, size_t n_list)
{
    for (size_t i = 0; i < n_list; i++)
        if (strlen(list[i]) == n && memcmp(list[i], s, n) == 0) return 1;
    return 0;
}

static int known_suffix(const char *s)
{
    return strcmp(s, "weight") == 0 || strcmp(s, "bias") == 0 || strcmp(s, "scale") == 0 ||
           strcmp(s, "weight_scale") == 0;
}

/* Map the module part `mod` (n bytes) of a layer tensor to its canonical module and expert.
 * Returns 1 and writes buf when known. */
static int map_layer_module(const char *mod, size_t n, char *buf, size_t cap, uint32_t *expert)
{
    *expert = TRIT_NONE32;
    if (in_list(mod, n, canon_layer_modules, sizeof canon_layer_modules / sizeof canon_layer_modules[0])) {
        snprintf(buf, cap, "%.*s", (int)n, mod);
        return 1;
    }
    /* canonical per-expert: ffn_gate.E / ffn_up.E / ffn_down.E */
    static const char *const heads[] = {"ffn_gate.", "ffn_up.", "ffn_down."};
    for (size_t k = 0; k < 3; k++) {
        size_t const l = strlen(heads[k]);
        if (n > l && memcmp(mod, heads[k], l) == 0) {
            uint64_t e = 0;
            size_t i = l;
            for (; i < n && mod[i] >= '0' && mod[i] <= '9'; i++) {
                e = e * 10 + (uint64_t)(mod[i] - '0');
                if (e >= TRIT_NONE32) return 0;
            }
            if (i != n || i == l) return 0;
            *expert = (uint32_t)e;
            snprintf(buf, cap, "%.*s%u", (int)l, mod, *expert);
            return 1;
        }
    }
    for (size_t k = 0; k < sizeof layer_modules / sizeof layer_modules[0]; k++)
        if (strlen(layer_modules[k].hf) == n && memcmp(layer_modules[k].hf, mod, n) == 0) {
            snprintf(buf, cap, "%s", layer_modules[k].canon);
            return 1;
        }
    for (size_t k = 0; k < sizeof expert_modules / sizeof expert_modules[0]; k++) {
        size_t const l = strlen(expert_modules[k].prefix);
        if (n <= l || memcmp(mod, expert_modules[k].prefix, l) != 0) continue;
        char tmp[160];
        snprintf(tmp, sizeof tmp, "%.*s", (int)(n - l), mod + l);
        const char *p = tmp;
        uint32_t e;
        if (parse_num_dot(&p, &e) != 0) return 0;
        const char *proj = strcmp(p, expert_modules[k].gate) == 0 ? "ffn_gate"
                           : strcmp(p, expert_modules[k].up) == 0 ? "ffn_up"
                           : strcmp(p, expert_modules[k].down) == 0 ? "ffn_down"
                                                                   : NULL;
        if (!proj) return 0;
        *expert = e;
        snprintf(buf, cap, "%s.%u", proj, e);
        return 1;
    }
    return 0;
}

int insp_canon_name(const char *name, char *out, size_t cap, uint32_t *layer_out, uint32_t *expert_out)
{
    uint32_t layer = TRIT_NONE32, expert = TRIT_NONE32;
    int known = 0;
    const char *rest = NULL;
    const char *p = name;
    if (strncmp(p, "blk.", 4) == 0) {
        p += 4;
        if (parse_num_dot(&p, &layer) == 0) rest = p;
    } else {
        static const char *const prefixes[] = {"model.language_model.", "language_model.model.", "model.", ""};
        for (size_t k = 0; k < sizeof prefixes / sizeof prefixes[0] && !rest; k++) {
            size_t const l = strlen(prefixes[k]);
            if (strncmp(name, prefixes[k], l) != 0 || strncmp(name + l, "layers.", 7) != 0) continue;
            p = name + l + 7;
            if (parse_num_dot(&p, &layer) == 0) rest = p;
        }
    }
    char mod[160];
    if (rest) {
        const char *dot = strrchr(rest, '.');
        if (dot && dot > rest) {
            const char *suffix = dot + 1;
            size_t const n = (size_t)(dot - rest);
            if (strcmp(suffix, "e_score_correction_bias") == 0 && n == 8 && memcmp(rest, "mlp.gate", 8) == 0) {
                snprintf(out, cap, "blk.%u.exp_probs_b.bias", layer);
                known = 1;
            } else if (known_suffix(suffix) && map_layer_module(rest, n, mod, sizeof mod, &expert)) {
                snprintf(out, cap, "blk.%u.%s.%s", layer, mod, suffix);
                known = 1;
            }
        }
        if (!known) expert = TRIT_NONE32;
    } else {
        static const struct { const char *hf, *canon; } top[] = {
            {"model.embed_tokens.weight", "token_embd.weight"}, {"embed_tokens.weight", "token_embd.weight"},
            {"model.norm.weight", "output_norm.weight"},        {"lm_head.weight", "output.weight"},
            {"model.language_model.embed_tokens.weight", "token_embd.weight"},
            {"model.language_model.norm.weight", "output_norm.weight"},
        };
        for (size_t k = 0; k < sizeof top / sizeof top[0] && !known; k++)
            if (strcmp(name, top[k].hf) == 0) {
                snprintf(out, cap, "%s", top[k].canon);
                known = 1;
            }
        const char *dot = strrchr(name, '.');
        if (!known && dot && known_suffix(dot + 1) &&
            in_list(name, (size_t)(dot - name), canon_top, sizeof canon_top / sizeof canon_top[0])) {
            snprintf(out, cap, "%s", name);
            known = 1;
        }
        layer = TRIT_NONE32;
    }
    if (!known) {
        snprintf(out, cap, "%s", name);
        /* keep the layer number of an unknown module inside a layer: the layer-count checks
         * still see the tensor */
    }
    if (layer_out) *layer_out = layer;
    if (expert_out) *expert_out = expert;
    return known;
}

/* ---- metadata ---------------------------------------------------------------------------- */

enum { NK_ANY = 0, NK_GATING, NK_ARCH };

typedef struct norm_key {
    const char *canon;         /* .trit key */
    const char *gguf;          /* GGUF key after "{arch}.", or NULL */
    const char *gguf_abs;      /* GGUF key without the arch prefix, or NULL */
    const char *hf[3];         /* config.json fields, first found wins */
    int conv;                  /* NK_*: value conversion */
} norm_key;

static const norm_key keys[] = {
    {"general.architecture", NULL, "general.architecture", {"model_type"}, NK_ARCH},
    {"general.name", NULL, "general.name", {NULL}, NK_ANY},
    {"model.n_layer", "block_count", NULL, {"num_hidden_layers", "n_layer", "num_layers"}, NK_ANY},
    {"model.n_embd", "embedding_length", NULL, {"hidden_size", "n_embd", "d_model"}, NK_ANY},
    {"model.n_ff", "feed_forward_length", NULL, {"intermediate_size", "ffn_dim"}, NK_ANY},
    {"model.n_head", "attention.head_count", NULL, {"num_attention_heads", "n_head"}, NK_ANY},
    {"model.n_head_kv", "attention.head_count_kv", NULL, {"num_key_value_heads"}, NK_ANY},
    {"model.head_dim", "attention.key_length", NULL, {"head_dim"}, NK_ANY},
    {"model.n_vocab", "vocab_size", NULL, {"vocab_size"}, NK_ANY},
    {"model.n_ctx", "context_length", NULL, {"max_position_embeddings", "n_positions"}, NK_ANY},
    {"model.norm_eps", "attention.layer_norm_rms_epsilon", NULL, {"rms_norm_eps"}, NK_ANY},
    {"model.rope_theta", "rope.freq_base", NULL, {"rope_theta"}, NK_ANY},
    {"model.rope_dim", "rope.dimension_count", NULL, {NULL}, NK_ANY},
    {"model.hidden_act", NULL, NULL, {"hidden_act"}, NK_ANY},
    {"model.tied_embeddings", NULL, NULL, {"tie_word_embeddings"}, NK_ANY},
    {"model.bos_token_id", NULL, "tokenizer.ggml.bos_token_id", {"bos_token_id"}, NK_ANY},
    {"model.eos_token_id", NULL, "tokenizer.ggml.eos_token_id", {"eos_token_id"}, NK_ANY},
    {"moe.n_expert", "expert_count", NULL, {"num_local_experts", "num_experts", "n_routed_experts"}, NK_ANY},
    {"moe.n_expert_used", "expert_used_count", NULL, {"num_experts_per_tok"}, NK_ANY},
    {"moe.n_ff_expert", "expert_feed_forward_length", NULL, {"moe_intermediate_size"}, NK_ANY},
    {"moe.gating", "expert_gating_func", NULL, {"scoring_func"}, NK_GATING},
    {"moe.norm_topk", "expert_weights_norm", NULL, {"norm_topk_prob"}, NK_ANY},
    {"moe.routed_scale", "expert_weights_scale", NULL, {"routed_scaling_factor"}, NK_ANY},
    {"moe.n_shared_expert", "expert_shared_count", NULL, {"n_shared_experts"}, NK_ANY},
    {"moe.first_dense_layers", "leading_dense_block_count", NULL, {"first_k_dense_replace"}, NK_ANY},
};

/* Convert a source value to the .trit representation of key k. Returns a new item (caller
 * owns) or NULL when the value cannot be represented (it is then left unmapped). */
static cJSON *convert(const norm_key *k, const cJSON *v)
{
    if (k->conv == NK_GATING && cJSON_IsNumber(v)) {
        /* GGUF ExpertGatingFuncType: 1 softmax, 2 sigmoid (formats.md 1.10) */
        if (v->valuedouble == 1) return cJSON_CreateString("softmax");
        if (v->valuedouble == 2) return cJSON_CreateString("sigmoid");
        return NULL;
    }
    if (k->conv == NK_ARCH && cJSON_IsString(v)) {
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
static const cJSON *lookup(const char *format, const cJSON *meta, const norm_key *k, const char *arch,
                           char *src, size_t cap)
{
    if (strcmp(format, "trit") == 0) {
        snprintf(src, cap, "%s", k->canon);
        return cJSON_GetObjectItemCaseSensitive(meta, k->canon);
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
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        char src[192];
        const cJSON *v = lookup(format, meta, &keys[i], arch, src, sizeof src);
        if (!v) continue;
        cJSON *c = convert(&keys[i], v);
        if (!c) continue;
        if (!cJSON_AddItemToObject(out, keys[i].canon, c)) {
            cJSON_Delete(c);
            goto fail;
        }
        if (used && !cJSON_AddStringToObject(used, src, keys[i].canon)) goto fail;
    }
    if (strcmp(format, "trit") != 0 && moe_ff(format, meta, out) != TRIT_OK) goto fail;
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
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (strcmp(keys[i].canon, canon) != 0) continue;
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

cJSON *insp_derive(const cJSON *hp, const insp_tref *t, uint64_t n)
{
    cJSON *d = cJSON_CreateObject();
    if (!d) return NULL;
    double n_embd, n_head, x;
    if (absent(hp, "model.head_dim") && insp_num(hp, "model.n_embd", &n_embd) &&
        insp_num(hp, "model.n_head", &n_head) && n_head > 0 && n_embd > 0 &&
        (uint64_t)n_embd % (uint64_t)n_head == 0)
        cJSON_AddNumberToObject(d, "model.head_dim", (double)((uint64_t)n_embd / (uint64_t)n_head));
    if (absent(hp, "model.n_head_kv") && insp_num(hp, "model.n_head", &x))
        cJSON_AddNumberToObject(d, "model.n_head_kv", x);   /* no GQA key: as many KV heads as heads */
    /* spec 10.1: rope_dim defaults to head_dim (stated or derived) */
    if (absent(hp, "model.rope_dim") &&
        (insp_num(hp, "model.head_dim", &x) || insp_num(d, "model.head_dim", &x)))
        cJSON_AddNumberToObject(d, "model.rope_dim", x);
    const insp_tref *embd = NULL;
    int has_output = 0;
    for (uint64_t i = 0; i < n; i++) {
        if (!t[i].canon) continue;
        if (strcmp(t[i].canon, "output.weight") == 0) has_output = 1;
        if (strcmp(t[i].canon, "token_embd.weight") == 0) embd = &t[i];
    }
    if (absent(hp, "model.tied_embeddings") && embd) cJSON_AddBoolToObject(d, "model.tied_embeddings", !has_output);
    if (absent(hp, "model.n_vocab") && embd && embd->n_dims == 2)
        cJSON_AddNumberToObject(d, "model.n_vocab", (double)embd->dims[0]);
    /* RoPE base: 10000 is both transformers' and llama.cpp's default when a file omits it */
    if (absent(hp, "model.rope_theta")) cJSON_AddNumberToObject(d, "model.rope_theta", 10000);
    /* MoE defaults of spec 10.1: 0 experts for a dense model, routed scale 1, no shared expert,
     * no leading dense layer unless the first layers have no experts */
    const insp_tref *exp = find_layer_mod(t, n, "ffn_up.");
    if (exp && exp->expert == TRIT_NONE32) exp = NULL;   /* the dense ffn_up.weight */
    const insp_tref *stack = find_layer_mod(t, n, "ffn_up_exps.");
    if (!stack) stack = find_layer_mod(t, n, "ffn_gate_up_exps.");
    int const moe = exp || stack;
    if (!moe) {
        if (absent(hp, "moe.n_expert")) cJSON_AddNumberToObject(d, "moe.n_expert", 0);
        if (absent(hp, "moe.n_expert_used")) cJSON_AddNumberToObject(d, "moe.n_expert_used", 0);
        return d;
    }
    if (absent(hp, "moe.n_ff_expert") && exp && exp->n_dims == 2)
        cJSON_AddNumberToObject(d, "moe.n_ff_expert", (double)exp->dims[0]);
    if (absent(hp, "moe.n_ff_expert") && !exp && stack && stack->n_dims == 3 && strstr(stack->canon, "ffn_up_exps"))
        cJSON_AddNumberToObject(d, "moe.n_ff_expert", (double)stack->dims[1]);
    if (absent(hp, "moe.routed_scale")) cJSON_AddNumberToObject(d, "moe.routed_scale", 1);
    if (absent(hp, "moe.n_shared_expert") && !find_layer_mod(t, n, "ffn_up_shexp."))
        cJSON_AddNumberToObject(d, "moe.n_shared_expert", 0);
    if (absent(hp, "moe.first_dense_layers")) {
        uint32_t first = TRIT_NONE32;
        for (uint64_t i = 0; i < n; i++)
            if (t[i].canon && t[i].layer < first &&
                (t[i].expert != TRIT_NONE32 || strstr(t[i].canon, "_exps.")))
                first = t[i].layer;
        if (first != TRIT_NONE32) cJSON_AddNumberToObject(d, "moe.first_dense_layers", first);
    }
    /* router scoring: softmax for every family but DeepSeek-V3, which states sigmoid
     * (formats.md 4.2); top-k renormalization: always for Mixtral, hard-coded for qwen3moe
     * in llama.cpp */
    const cJSON *arch = cJSON_GetObjectItemCaseSensitive(hp, "general.architecture");
    if (absent(hp, "moe.gating")) cJSON_AddStringToObject(d, "moe.gating", "softmax");
    if (absent(hp, "moe.norm_topk") && cJSON_IsString(arch) &&
        (strcmp(arch->valuestring, "mixtral") == 0 || strcmp(arch->valuestring, "qwen3moe") == 0))
        cJSON_AddBoolToObject(d, "moe.norm_topk", 1);
    return d;
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
