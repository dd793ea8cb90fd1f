/* vfy_model.c - metadata against tensors (spec/container.md section 10), on the normalized
 * model description, so .trit, GGUF and safetensors inputs get the same checks:
 *
 *   - model.n_layer against the blk.L tensors present (missing layers as ranges, extra layers);
 *   - every layer has its attention and FFN projections (when the model has them at all);
 *   - token_embd present, output present unless the embeddings are tied;
 *   - moe.n_expert against the experts of each MoE layer, n_expert_used <= n_expert,
 *     moe.first_dense_layers has no experts;
 *   - every tensor's shape per the name table of spec 10.2.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "trit_model.h"
#include "vfy_int.h"


void vfy__model_release(vfy__model *m)
{
    if (!m) return;
    cJSON_Delete(m->hp);
    cJSON_Delete(m->derived);
    for (uint64_t i = 0; m->t && i < m->n; i++) free(m->t[i].canon);
    free(m->t);
    memset(m, 0, sizeof *m);
}

/* A hyperparameter: stated, else derived. 1 if known and a non-negative integer-valued number. */
static int hp_u64(const vfy__model *m, const char *key, uint64_t *out)
{
    double v;
    if (!insp_num(m->hp, key, &v) && !insp_num(m->derived, key, &v)) return 0;
    if (!(v >= 0) || v > 9007199254740992.0 || v != (double)(uint64_t)v) return 0;
    *out = (uint64_t)v;
    return 1;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t const x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Module of a canonical layer tensor name: "blk.3.attn_q.weight" -> "attn_q.weight". Borrowed:
 * points into canon (NULL when canon is not a layer tensor). */
static const char *layer_rest(const char *canon)
{
    if (strncmp(canon, "blk.", 4) != 0) return NULL;
    const char *p = canon + 4;
    while (*p >= '0' && *p <= '9') p++;
    return *p == '.' ? p + 1 : NULL;
}

/* Sorted distinct layer numbers of the tensors (*n_out of them). Caller frees with free();
 * NULL on allocation failure. */
static uint32_t *layers_present(const vfy__model *m, uint64_t *n_out)
{
    uint32_t *l = malloc((size_t)(m->n ? m->n : 1) * sizeof *l);
    uint64_t k = 0;
    if (!l) return NULL;
    for (uint64_t i = 0; i < m->n; i++)
        if (m->t[i].layer != TRIT_NONE32) l[k++] = m->t[i].layer;
    qsort(l, (size_t)k, sizeof *l, cmp_u32);
    uint64_t d = 0;
    for (uint64_t i = 0; i < k; i++)
        if (d == 0 || l[d - 1] != l[i]) l[d++] = l[i];
    *n_out = d;
    return l;
}

static void check_layers(vfy_report *rep, const vfy__model *m, const uint32_t *layers, uint64_t n_layers, int strict)
{
    uint64_t n_layer;
    if (!hp_u64(m, "model.n_layer", &n_layer)) {
        if (!strict && n_layers)
            vfy_report_add(rep, VFY_C_METADATA, 1, TRIT_NO_OFFSET, "metadata 'model.n_layer'",
                           "the file states no layer count; layers present: %llu", (unsigned long long)n_layers);
        return;
    }
    /* missing layers, as ranges (a corrupt count of 4e9 gives one line, not 4e9) */
    uint64_t expect = 0;
    for (uint64_t i = 0; i <= n_layers; i++) {
        uint64_t const next = i < n_layers ? layers[i] : n_layer;
        uint64_t const stop = next < n_layer ? next : n_layer;
        if (stop > expect) {
            char obj[64];
            if (stop - expect == 1) snprintf(obj, sizeof obj, "layer %llu", (unsigned long long)expect);
            else snprintf(obj, sizeof obj, "layers %llu..%llu", (unsigned long long)expect, (unsigned long long)stop - 1);
            vfy_report_add(rep, VFY_C_METADATA, 0, TRIT_NO_OFFSET, obj, "no tensors, but model.n_layer is %llu",
                           (unsigned long long)n_layer);
        }
        if (i < n_layers) expect = (uint64_t)layers[i] + 1;
    }
    for (uint64_t i = 0; i < n_layers; i++)
        if (layers[i] >= n_layer) {
            char obj[64];
            snprintf(obj, sizeof obj, "layer %u", layers[i]);
            vfy_report_add(rep, VFY_C_METADATA, 0, TRIT_NO_OFFSET, obj,
                           "has tensors, but model.n_layer is %llu (layers 0..%lld)", (unsigned long long)n_layer,
                           (long long)n_layer - 1);
        }
}

/* Does layer L have a tensor whose layer-relative canonical name starts with one of prefixes? */
static int layer_has(const vfy__model *m, uint32_t layer, const char *const *prefixes, size_t n_prefixes)
{
    for (uint64_t i = 0; i < m->n; i++) {
        if (m->t[i].layer != layer || !m->t[i].known) continue;
        const char *r = layer_rest(m->t[i].canon);
        for (size_t k = 0; r && k < n_prefixes; k++)
            if (strncmp(r, prefixes[k], strlen(prefixes[k])) == 0) return 1;
    }
    return 0;
}

static int model_has(const vfy__model *m, const char *prefix)
{
    for (uint64_t i = 0; i < m->n; i++) {
        const char *r = m->t[i].known ? layer_rest(m->t[i].canon) : NULL;
        if (r && strncmp(r, prefix, strlen(prefix)) == 0) return 1;
    }
    return 0;
}

static void check_layer_contents(vfy_report *rep, const vfy__model *m, const uint32_t *layers, uint64_t n_layers)
{
    static const char *const attn_std[] = {"attn_q.weight", "attn_k.weight", "attn_v.weight", "attn_output.weight"};
    /* multi-head latent attention (DeepSeek): q (attn_q, or the q LoRA's attn_q_b), the kv LoRA */
    static const char *const attn_mla[] = {"attn_q", "attn_kv_a_mqa.weight", "attn_kv_b.weight", "attn_output.weight"};
    static const char *const ffn[] = {"ffn_down.", "ffn_down_exps.", "ffn_down_shexp.", "ffn_gate_up_exps."};
    int const mla = model_has(m, "attn_kv_b.weight");
    const char *const *attn = mla ? attn_mla : attn_std;
    int const has_attn = model_has(m, "attn_q.weight") || mla;
    int const has_ffn = model_has(m, "ffn_down") || model_has(m, "ffn_gate_up_exps");
    for (uint64_t i = 0; i < n_layers; i++) {
        char missing[256] = "";
        for (size_t k = 0; has_attn && k < 4; k++)
            if (!layer_has(m, layers[i], &attn[k], 1)) {
                size_t const l = strlen(missing);
                snprintf(missing + l, sizeof missing - l, "%s%s", l ? ", " : "", attn[k]);
            }
        if (has_ffn && !layer_has(m, layers[i], ffn, 4)) {
            size_t const l = strlen(missing);
            snprintf(missing + l, sizeof missing - l, "%sffn_down (dense or experts)", l ? ", " : "");
        }
        if (missing[0]) {
            char obj[64];
            snprintf(obj, sizeof obj, "layer %u", layers[i]);
            vfy_report_add(rep, VFY_C_METADATA, 0, TRIT_NO_OFFSET, obj, "missing %s", missing);
        }
    }
}

/* Tensor with this canonical name, or NULL. Borrowed from m. */
static const insp_tref *find_canon(const vfy__model *m, const char *canon)
{
    for (uint64_t i = 0; i < m->n; i++)
        if (strcmp(m->t[i].canon, canon) == 0) return &m->t[i];
    return NULL;
}

static void check_top(vfy_report *rep, const vfy__model *m, int strict)
{
    int const has_layers = model_has(m, "");
    if (!has_layers) return;   /* not a transformer in the spec's naming: nothing to say */
    if (!find_canon(m, "token_embd.weight"))
        vfy_report_add(rep, VFY_C_METADATA, 0, TRIT_NO_OFFSET, "tensor 'token_embd.weight'",
                       "missing: the model has no token embedding");
    if (!find_canon(m, "output_norm.weight"))
        vfy_report_add(rep, VFY_C_METADATA, 0, TRIT_NO_OFFSET, "tensor 'output_norm.weight'", "missing");
    if (!find_canon(m, "output.weight")) {
        const cJSON *tied = cJSON_GetObjectItemCaseSensitive(m->hp, "model.tied_embeddings");
        if (strict ? !cJSON_IsTrue(tied) : cJSON_IsFalse(tied))
            vfy_report_add(rep, VFY_C_METADATA, 0, TRIT_NO_OFFSET, "tensor 'output.weight'",
                           "missing, and model.tied_embeddings is not true");
    }
}

/* Experts of each layer against moe.n_expert. */
static void check_experts(vfy_report *rep, const vfy__model *m, const uint32_t *layers, uint64_t n_layers)
{
    uint64_t n_expert = 0, n_used = 0, first_dense = 0;
    int const has_n = hp_u64(m, "moe.n_expert", &n_expert);
    if (has_n && hp_u64(m, "moe.n_expert_used", &n_used) && n_used > n_expert)
        vfy_report_add(rep, VFY_C_METADATA, 0, TRIT_NO_OFFSET, "metadata 'moe.n_expert_used'",
                       "is %llu, more than moe.n_expert (%llu)", (unsigned long long)n_used, (unsigned long long)n_expert);
    hp_u64(m, "moe.first_dense_layers", &first_dense);
    uint8_t *seen = NULL;
    if (has_n && n_expert <= (1u << 20)) {
        seen = calloc((size_t)(n_expert ? n_expert : 1), 1);
        if (!seen) {
            vfy_report_add(rep, VFY_C_INTERNAL, 0, TRIT_NO_OFFSET, "metadata", "out of memory");
            return;
        }
    }
    for (uint64_t li = 0; li < n_layers; li++) {
        uint32_t const L = layers[li];
        uint64_t n_per = 0, beyond = 0, max_beyond = 0;
        int stacked = 0;
        if (seen) memset(seen, 0, (size_t)(n_expert ? n_expert : 1));
        for (uint64_t i = 0; i < m->n; i++) {
            insp_tref const *t = &m->t[i];
            if (t->layer != L || !t->known) continue;
            const char *r = layer_rest(t->canon);
            if (r && strstr(r, "_exps.")) stacked = 1;
            if (t->expert == TRIT_NONE32 || !r || strncmp(r, "ffn_down.", 9) != 0) continue;
            n_per++;   /* one ffn_down per expert: each expert counted once */
            if (has_n && t->expert >= n_expert) {
                beyond++;
                if (t->expert > max_beyond) max_beyond = t->expert;
            } else if (seen) {
                seen[t->expert] = 1;
            }
        }
        if (!n_per && !stacked) continue;
        char obj[64];
        snprintf(obj, sizeof obj, "layer %u", L);
        if (!has_n || n_expert == 0) {
            vfy_report_add(rep, VFY_C_METADATA, 0, TRIT_NO_OFFSET, obj,
                           "has experts, but moe.n_expert is %s", has_n ? "0" : "not stated");
            continue;
        }
        if ((uint64_t)L < first_dense)
            vfy_report_add(rep, VFY_C_METADATA, 0, TRIT_NO_OFFSET, obj,
                           "has experts, but moe.first_dense_layers is %llu", (unsigned long long)first_dense);
        if (beyond)
            vfy_report_add(rep, VFY_C_METADATA, 0, TRIT_NO_OFFSET, obj,
                           "%llu experts numbered >= moe.n_expert (%llu), up to %llu", (unsigned long long)beyond,
                           (unsigned long long)n_expert, (unsigned long long)max_beyond);
        if (n_per && seen) {
            uint64_t n_missing = 0, first_missing = 0;
            for (uint64_t e = 0; e < n_expert; e++)
                if (!seen[e] && n_missing++ == 0) first_missing = e;
            if (n_missing)
                vfy_report_add(rep, VFY_C_METADATA, 0, TRIT_NO_OFFSET, obj,
                               "%llu of moe.n_expert = %llu experts are missing (first: expert %llu)",
                               (unsigned long long)n_missing, (unsigned long long)n_expert,
                               (unsigned long long)first_missing);
        }
    }
    free(seen);
}

/* ---- shapes ------------------------------------------------------------------------------ */

/* Shape rules: the model table's (format/trit_model.h), in its symbols. */

/* Name of a shape symbol. Static storage. */
static const char *sym_name(char s)
{
    switch (s) {
    case 'V': return "n_vocab";
    case 'E': return "n_embd";
    case 'Q': return "n_head*head_dim";
    case 'K': return "n_head_kv*head_dim";
    case 'D': return "head_dim";
    case 'F': return "n_ff";
    case 'X': return "n_expert";
    case 'G': return "n_ff_expert";
    case 'O': return "n_head*v_head_dim";
    case 'A': return "q_lora_rank";
    case 'C': return "kv_lora_rank";
    case 'M': return "kv_lora_rank+rope_dim";
    case 'B': return "n_head*(head_dim-rope_dim+v_head_dim)";
    case 'R': return "rope_dim/2";
    case 'H': return "n_head";
    case '1': return "1";
    default: return "?";
    }
}

/* The multi-head latent attention symbols (DeepSeek; trit_model.h), 0 if unknown. */
static uint64_t sym_mla(const vfy__model *m, char s)
{
    uint64_t nh = 0, hd = 0, vd = 0, kl = 0, ql = 0, rd = 0;
    int const has_h = hp_u64(m, "model.n_head", &nh) && hp_u64(m, "model.head_dim", &hd);
    if (!hp_u64(m, "model.v_head_dim", &vd) || !vd) vd = hd;
    int const has_kl = hp_u64(m, "model.kv_lora_rank", &kl) && kl;
    int const has_rd = hp_u64(m, "model.rope_dim", &rd);
    switch (s) {
    case 'O': return has_h ? nh * vd : 0;
    case 'A': return hp_u64(m, "model.q_lora_rank", &ql) ? ql : 0;
    case 'C': return has_kl ? kl : 0;
    case 'M': return has_kl && has_rd ? kl + rd : 0;
    case 'B': return has_h && has_rd && rd < hd ? nh * (hd - rd + vd) : 0;
    default: return 0;
    }
}

/* Value of a symbol, 0 if unknown (then any size matches). */
static uint64_t sym_value(const vfy__model *m, char s)
{
    uint64_t a = 0, b = 0;
    switch (s) {
    case 'V': return hp_u64(m, "model.n_vocab", &a) ? a : 0;
    case 'E': return hp_u64(m, "model.n_embd", &a) ? a : 0;
    case 'Q': return hp_u64(m, "model.n_head", &a) && hp_u64(m, "model.head_dim", &b) ? a * b : 0;
    case 'K': return hp_u64(m, "model.n_head_kv", &a) && hp_u64(m, "model.head_dim", &b) ? a * b : 0;
    case 'D': return hp_u64(m, "model.head_dim", &a) ? a : 0;
    case 'F': return hp_u64(m, "model.n_ff", &a) && a ? a : 0;
    case 'X': return hp_u64(m, "moe.n_expert", &a) ? a : 0;
    case 'G': return hp_u64(m, "moe.n_ff_expert", &a) && a ? a : 0;
    case 'O': case 'A': case 'C': case 'M': case 'B': return sym_mla(m, s);
    case 'R': return hp_u64(m, "model.rope_dim", &a) || hp_u64(m, "model.head_dim", &a) ? a / 2 : 0;
    case 'H': return hp_u64(m, "model.n_head", &a) ? a : 0;
    case '1': return 1;
    default: return 0;
    }
}

static int shape_ok(const vfy__model *m, const insp_tref *t, const char *alt, size_t len)
{
    if (t->n_dims != len) return 0;
    for (size_t d = 0; d < len; d++) {
        uint64_t const want = sym_value(m, alt[d]);
        if (want && t->dims[d] != want) return 0;
    }
    return 1;
}

static void check_shapes(vfy_report *rep, const vfy__model *m)
{
    for (uint64_t i = 0; i < m->n; i++) {
        insp_tref const *t = &m->t[i];
        if (!t->known) continue;
        const char *r = layer_rest(t->canon);
        const trit_mt_tensor *row = trit_mt_find(r ? r : t->canon, r != NULL);
        const char *shape = row ? row->shape : NULL;
        if (!shape) continue;
        int ok = 0;
        const char *alt = shape;
        while (!ok) {
            size_t const len = strcspn(alt, "|");
            ok = shape_ok(m, t, alt, len);
            if (!alt[len]) break;
            alt += len + 1;
        }
        if (ok) continue;
        char got[160] = "[", want[256] = "[";
        for (uint32_t d = 0; d < t->n_dims && d < 8; d++) {
            size_t const l = strlen(got);
            snprintf(got + l, sizeof got - l, "%s%llu", d ? ", " : "", (unsigned long long)t->dims[d]);
        }
        strcat(got, "]");
        size_t const len = strcspn(shape, "|");
        for (size_t d = 0; d < len; d++) {
            size_t const l = strlen(want);
            uint64_t const v = sym_value(m, shape[d]);
            if (v && shape[d] != '1')
                snprintf(want + l, sizeof want - l, "%s%s=%llu", d ? ", " : "", sym_name(shape[d]), (unsigned long long)v);
            else
                snprintf(want + l, sizeof want - l, "%s%s", d ? ", " : "", sym_name(shape[d]));
        }
        strcat(want, "]");
        char obj[224];
        vfy_report_add(rep, VFY_C_METADATA, 0, TRIT_NO_OFFSET, vfy__obj_tensor(obj, sizeof obj, t->name),
                       "shape %s, expected %s (spec 10.2)", got, want);
    }
}

/* spec 10.1: model.n_ff is the dense FFN width, 0 when every layer is MoE. A non-zero value
 * with no dense FFN anywhere misleads a runner sizing its buffers: a warning. */
static void check_n_ff(vfy_report *rep, const vfy__model *m)
{
    double n_ff;
    if (!insp_num(m->hp, "model.n_ff", &n_ff) || n_ff == 0) return;
    if (model_has(m, "ffn_down.weight") || model_has(m, "ffn_up.weight") || !model_has(m, "ffn_down.")) return;
    vfy_report_add(rep, VFY_C_METADATA, 1, TRIT_NO_OFFSET, "metadata 'model.n_ff'",
                   "is %.0f, but no layer has a dense FFN (spec 10.1: 0 when every layer is MoE)", n_ff);
}

/* The model table's rules (trit_mt_check, the same the runner applies at load and convert
 * applies to what it writes) on the stated-else-derived hyperparameters. */
static int hp_num(void *ctx, const char *key, double *out)
{
    const vfy__model *m = ctx;
    return insp_num(m->hp, key, out) || insp_num(m->derived, key, out);
}

static void rule_finding(void *ctx, int code, const char *key, const char *msg)
{
    char obj[96];
    snprintf(obj, sizeof obj, "metadata '%s'", key);
    vfy_report_add(ctx, code == TRIT_E_LIMIT ? VFY_C_LIMIT : VFY_C_METADATA, 0, TRIT_NO_OFFSET, obj, "%s", msg);
}

void vfy__check_model(vfy_report *rep, const vfy__model *m, int strict)
{
    /* missing required keys are check_keys' finding for a .trit; sources state what they state */
    trit_mt_check(hp_num, (void *)(uintptr_t)m, 0, rule_finding, rep);
    uint64_t n_layers = 0;
    uint32_t *layers = layers_present(m, &n_layers);
    if (!layers) {
        vfy_report_add(rep, VFY_C_INTERNAL, 0, TRIT_NO_OFFSET, "metadata", "out of memory");
        return;
    }
    check_layers(rep, m, layers, n_layers, strict);
    check_layer_contents(rep, m, layers, n_layers);
    check_top(rep, m, strict);
    check_experts(rep, m, layers, n_layers);
    check_shapes(rep, m);
    if (strict) check_n_ff(rep, m);
    free(layers);
}
