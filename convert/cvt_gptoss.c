/*
 * cvt_gptoss.c - gpt-oss for the converter. Sources (facts, checked at these revisions):
 *   openai/gpt-oss-20b config.json (model_type gpt_oss; experts_per_token and num_experts_per_tok 4,
 *     initial_context_length 4096, layer_types alternating sliding_attention / full_attention,
 *     sliding_window 128, swiglu_limit 7.0, rope_scaling {yarn, factor 32, beta_fast 32,
 *     beta_slow 1, original_max_position_embeddings 4096, truncate false}, quantization_config
 *     {quant_method mxfp4, modules_to_not_convert [...]}, attention_bias true, untied lm_head);
 *   transformers' modeling_gpt_oss.py (GptOssTopKRouter: top-k of the biased logits then softmax
 *     over those k; GptOssExperts: gate_up[..., ::2] / [..., 1::2], alpha 1.702, limit 7.0 hard-coded
 *     in the dequantized path, integrations/mxfp4.py's kernel path reads swiglu_limit;
 *     GptOssAttention: sinks, sliding_window for "sliding_attention" layers, scaling head_dim^-0.5,
 *     rotary halves (neox)); modeling_rope_utils.py _compute_yarn_parameters (truncate, attention
 *     factor 0.1 ln(factor) + 1 when not stated);
 *   llama.cpp de3ff815 (node-llama-cpp 3.22.1's bundled llama.cpp): conversion/gpt_oss.py
 *     (GptOssModel: gate_up split into gate/up by even/odd rows, MXFP4 repacked, sinks ".weight",
 *     sliding_window and expert_feed_forward_length keys), src/models/openai-moe.cpp (load_swa_pattern
 *     period 2, RMS norms, attn_post_norm as the pre-FFN norm, SWIGLU_OAI with alpha 1.702 / limit 7
 *     as constants, SOFTMAX_WEIGHT gating, no expert_weights_norm), llama-context.cpp (yarn
 *     attn factor = 0.1 ln(factor) + 1 overall), ggml_rope_yarn_corr_dims (floor / ceil), and
 *     hparams yarn_beta_fast / slow 32 / 1 (the GGUF's beta keys are not read).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "cvt_gptoss.h"
#include "src_gguf.h"
#include "trit_safemath.h"

/* llama.cpp's and the release's constants (ggml swiglu_oai parameters) */
#define GPTOSS_ALPHA 1.702f
#define GPTOSS_LIMIT 7.0f

static int is_gptoss(const cJSON *c)
{
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(c, "model_type");
    return cJSON_IsString(mt) && !strcmp(mt->valuestring, "gpt_oss");
}

static int refuse_cfg(const char *key, const cJSON *v, trit_err *err, const char *why)
{
    char *s = v ? cJSON_PrintUnformatted(v) : NULL;
    int const rc = trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, "config.json",
                                "key '%s' = %.60s: %s (gpt-oss); trit refuses rather than compute something close", key,
                                s ? s : "(absent)", why);
    cJSON_free(s);
    return rc;
}

static int pos_int(const cJSON *v)
{
    return cJSON_IsNumber(v) && v->valuedouble >= 1 && v->valuedouble <= 4294967295.0 && v->valuedouble == floor(v->valuedouble);
}

/* layer_types as llama.cpp's set_swa_pattern states it: layer L slides when period is 0 or
 * L % period < period - 1. *period from the first full layer; -1 when no period fits. */
static int swa_pattern(const cJSON *lt, uint32_t n_layer, uint32_t *period, int *any_sliding, trit_err *err)
{
    if (!cJSON_IsArray(lt) || (uint32_t)cJSON_GetArraySize(lt) != n_layer)
        return refuse_cfg("layer_types", lt, err, "must list one of sliding_attention / full_attention per layer");
    uint32_t first_full = UINT32_MAX, L = 0;
    *any_sliding = 0;
    for (const cJSON *x = lt->child; x; x = x->next, L++) {
        int const sl = cJSON_IsString(x) && !strcmp(x->valuestring, "sliding_attention");
        if (!sl && !(cJSON_IsString(x) && !strcmp(x->valuestring, "full_attention")))
            return refuse_cfg("layer_types", x, err, "a layer type other than sliding_attention / full_attention");
        *any_sliding |= sl;
        if (!sl && first_full == UINT32_MAX) first_full = L;
    }
    uint32_t const P = first_full == UINT32_MAX ? 0 : first_full + 1;
    L = 0;
    for (const cJSON *x = lt->child; x; x = x->next, L++) {
        int const sl = !strcmp(x->valuestring, "sliding_attention");
        if (sl != (P == 0 || L % P < P - 1))
            return refuse_cfg("layer_types", lt, err,
                              "not a repeating run of sliding layers then one full layer (llama.cpp's sliding-window "
                              "pattern), which is what the container states");
    }
    *period = P;
    return TRIT_OK;
}

int cvt__gptoss_config(const cJSON *c, cvt_model *m, trit_err *err)
{
    snprintf(m->gating, sizeof m->gating, "softmax");
    m->norm_topk = 1;   /* softmax over the k selected logits */
    snprintf(m->hidden_act, sizeof m->hidden_act, "swiglu_oai");
    m->swiglu_limit = GPTOSS_LIMIT;   /* cvt__gptoss_check_key refused any other swiglu_limit */
    m->swiglu_alpha = GPTOSS_ALPHA;
    m->rope_dim = m->head_dim;
    /* layer_types: GptOssConfig's default alternates sliding_attention / full_attention from layer 0 */
    const cJSON *lt = cJSON_GetObjectItemCaseSensitive(c, "layer_types");
    uint32_t period = 2;
    int any_sliding = m->n_layer > 1;
    if (lt && !cJSON_IsNull(lt)) {
        int const rc = swa_pattern(lt, m->n_layer, &period, &any_sliding, err);
        if (rc) return rc;
    }
    const cJSON *sw = cJSON_GetObjectItemCaseSensitive(c, "sliding_window");
    if (any_sliding) {
        if (!pos_int(sw)) return refuse_cfg("sliding_window", sw, err, "sliding layers need a window of at least one position");
        m->sliding_window = (uint32_t)sw->valuedouble;
        m->swa_period = period;
    }
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(c, "rope_scaling");
    if (cJSON_IsObject(rs)) {   /* yarn: cvt__gptoss_check_key checked every member */
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(rs, "factor"), *o = cJSON_GetObjectItemCaseSensitive(rs, "original_max_position_embeddings");
        const cJSON *bf = cJSON_GetObjectItemCaseSensitive(rs, "beta_fast"), *bs = cJSON_GetObjectItemCaseSensitive(rs, "beta_slow");
        const cJSON *tr = cJSON_GetObjectItemCaseSensitive(rs, "truncate");
        snprintf(m->rope_scaling, sizeof m->rope_scaling, "yarn");
        m->rope_scale_factor = (float)f->valuedouble;
        /* _compute_yarn_parameters: rope_scaling's original_max_position_embeddings or max_position_embeddings */
        m->rope_orig_ctx = o ? (uint32_t)o->valuedouble : m->n_ctx;
        /* "beta_fast = get('beta_fast') or 32" */
        m->yarn_beta_fast = cJSON_IsNumber(bf) && bf->valuedouble != 0 ? (float)bf->valuedouble : 32.0f;
        m->yarn_beta_slow = cJSON_IsNumber(bs) && bs->valuedouble != 0 ? (float)bs->valuedouble : 1.0f;
        m->yarn_mscale = 1.0f;          /* attention_factor = get_mscale(factor) (mscale keys refused) */
        m->yarn_mscale_all_dim = 0.0f;
        m->yarn_no_truncate = cJSON_IsFalse(tr);
        if (!m->rope_orig_ctx)
            return refuse_cfg("rope_scaling", rs, err, "yarn needs original_max_position_embeddings or max_position_embeddings");
    }
    return TRIT_OK;
}

int cvt__gptoss_write(const cvt_model *m, trit_kvbuf *w, trit_err *err)
{
    int rc = TRIT_OK;
#define K(x) do { if ((rc = (x)) != TRIT_OK) return rc; } while (0)
    if (!strcmp(m->hidden_act, "swiglu_oai")) {
        K(trit_kvbuf_f32(w, "model.swiglu_limit", m->swiglu_limit, err));
        K(trit_kvbuf_f32(w, "model.swiglu_alpha", m->swiglu_alpha, err));
    }
    if (m->sliding_window) {
        K(trit_kvbuf_u32(w, "model.sliding_window", m->sliding_window, err));
        K(trit_kvbuf_u32(w, "model.swa_period", m->swa_period, err));
    }
    if (!m->kv_lora_rank && !strcmp(m->rope_scaling, "yarn")) K(cvt__write_yarn(m, w, err));
#undef K
    return rc;
}

/* rope_scaling of a gpt-oss config: null, or yarn with the members _compute_yarn_parameters reads
 * that the release states; attention_factor / mscale / mscale_all_dim are not in the release and
 * are refused (the multiplier they set is not mapped). */
static int check_rope(const cJSON *v, trit_err *err)
{
    if (cJSON_IsNull(v)) return TRIT_OK;
    if (!cJSON_IsObject(v)) return refuse_cfg("rope_scaling", v, err, "must be an object or null");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(v, "rope_type");
    if (!cJSON_IsString(t)) t = cJSON_GetObjectItemCaseSensitive(v, "type");
    if (!cJSON_IsString(t) || strcmp(t->valuestring, "yarn") != 0)
        return refuse_cfg("rope_scaling", v, err, "rope scaling is computed for yarn only");
    if (!cJSON_GetObjectItemCaseSensitive(v, "factor")) return refuse_cfg("rope_scaling", v, err, "yarn without a factor");
    for (const cJSON *it = v->child; it; it = it->next) {
        char key[96];
        snprintf(key, sizeof key, "rope_scaling.%.64s", it->string ? it->string : "?");
        if (!it->string) return refuse_cfg("rope_scaling", v, err, "an unnamed member");
        if (!strcmp(it->string, "rope_type") || !strcmp(it->string, "type")) {
            if (cJSON_IsString(it) && !strcmp(it->valuestring, "yarn")) continue;
            return refuse_cfg(key, it, err, "rope_type and type must agree (yarn)");
        }
        if (!strcmp(it->string, "truncate")) {
            if (cJSON_IsBool(it)) continue;
            return refuse_cfg(key, it, err, "must be true or false");
        }
        if (!strcmp(it->string, "original_max_position_embeddings")) {
            if (pos_int(it) && it->valuedouble >= 2) continue;
            return refuse_cfg(key, it, err, "must be an integer >= 2");
        }
        if (!strcmp(it->string, "factor") || !strcmp(it->string, "beta_fast") || !strcmp(it->string, "beta_slow")) {
            if (cJSON_IsNumber(it) && isfinite(it->valuedouble) && it->valuedouble > 0 && isfinite((float)it->valuedouble)) continue;
            return refuse_cfg(key, it, err, "must be a finite number > 0");
        }
        return refuse_cfg(key, it, err, "a yarn parameter the release does not state (its cos/sin multiplier is not mapped)");
    }
    return TRIT_OK;
}

static int check_quant(const cJSON *v, trit_err *err)
{
    if (!cJSON_IsObject(v)) return refuse_cfg("quantization_config", v, err, "must be an object");
    const cJSON *qm = cJSON_GetObjectItemCaseSensitive(v, "quant_method");
    if (!cJSON_IsString(qm) || strcmp(qm->valuestring, "mxfp4") != 0)
        return refuse_cfg("quantization_config", v, err, "gpt-oss is read as the release's MXFP4 (quant_method mxfp4)");
    for (const cJSON *it = v->child; it; it = it->next) {
        char key[96];
        snprintf(key, sizeof key, "quantization_config.%.64s", it->string ? it->string : "?");
        if (!it->string) return refuse_cfg("quantization_config", v, err, "an unnamed member");
        if (!strcmp(it->string, "quant_method")) continue;
        if (!strcmp(it->string, "modules_to_not_convert")) {
            /* the modules left in BF16; every tensor states its own dtype and is read by it */
            int ok = cJSON_IsArray(it);
            for (const cJSON *x = ok ? it->child : NULL; x; x = x->next) ok &= cJSON_IsString(x);
            if (ok || cJSON_IsNull(it)) continue;
            return refuse_cfg(key, it, err, "must be a list of module names");
        }
        return refuse_cfg(key, it, err, "an MXFP4 setting trit does not know may change the math");
    }
    return TRIT_OK;
}

int cvt__gptoss_check_key(const cJSON *c, const char *k, const cJSON *v, trit_err *err)
{
    if (!is_gptoss(c)) return 1;
    if (!strcmp(k, "experts_per_token")) {
        /* the openai reference config's name for num_experts_per_tok, which transformers reads */
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(c, "num_experts_per_tok");
        return cJSON_IsNumber(v) && cJSON_IsNumber(n) && v->valuedouble == n->valuedouble
                   ? TRIT_OK
                   : refuse_cfg(k, v, err, "differs from num_experts_per_tok, which the release's router uses");
    }
    if (!strcmp(k, "initial_context_length")) {
        /* the openai reference config's YaRN original context; transformers reads rope_scaling's */
        const cJSON *rs = cJSON_GetObjectItemCaseSensitive(c, "rope_scaling");
        const cJSON *o = cJSON_IsObject(rs) ? cJSON_GetObjectItemCaseSensitive(rs, "original_max_position_embeddings") : NULL;
        return cJSON_IsNumber(v) && (!o || (cJSON_IsNumber(o) && o->valuedouble == v->valuedouble))
                   ? TRIT_OK
                   : refuse_cfg(k, v, err, "differs from rope_scaling's original_max_position_embeddings");
    }
    if (!strcmp(k, "layer_types")) return TRIT_OK;       /* checked by cvt__gptoss_config */
    if (!strcmp(k, "sliding_window"))
        return cJSON_IsNull(v) || pos_int(v) ? TRIT_OK : refuse_cfg(k, v, err, "must be a positive integer");
    if (!strcmp(k, "swiglu_limit")) {
        if (cJSON_IsNumber(v) && v->valuedouble == GPTOSS_LIMIT) return TRIT_OK;
        return refuse_cfg(k, v, err, "GptOssExperts and llama.cpp clamp at 7.0 whatever the config says, while transformers' "
                                     "MXFP4 kernels read the key: for another limit the release disagrees with itself");
    }
    if (!strcmp(k, "hidden_act"))   /* GptOssExperts computes its clamped SwiGLU; the release states silu */
        return cJSON_IsString(v) && !strcmp(v->valuestring, "silu") ? TRIT_OK
               : refuse_cfg(k, v, err, "the release states silu and computes its clamped SwiGLU; another value is another model");
    if (!strcmp(k, "attention_bias"))   /* the q/k/v/o biases are tensors the checkpoint carries */
        return cJSON_IsBool(v) ? TRIT_OK : refuse_cfg(k, v, err, "must be true or false");
    if (!strcmp(k, "rope_scaling")) return check_rope(v, err);
    if (!strcmp(k, "quantization_config")) return check_quant(v, err);
    if (!strcmp(k, "tie_word_embeddings"))
        return cJSON_IsFalse(v) || cJSON_IsNull(v) ? TRIT_OK
               : refuse_cfg(k, v, err, "the release's lm_head is its own tensor; a tied gpt-oss is not a release layout");
    return 1;
}

/* ---- GGUF ---- */

static int grefuse_(const char *key, trit_err *err, const char *why)
{
    return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, key,
                        "GGUF key '%s': %s (llama.cpp's gpt-oss graph); trit refuses rather than compute something close", key, why);
}

int cvt__gptoss_check_gguf_key(const src_gguf *g, uint64_t i, const char *k, const char *sfx, trit_err *err)
{
    uint64_t u;
    double d;
    const char *s;
    uint64_t n;
    if (!strcmp(sfx, "attention.sliding_window") || !strcmp(sfx, "attention.sliding_window_pattern"))
        return src_gguf_kv_u64(g, i, &u) == TRIT_OK && u <= UINT32_MAX && (u > 0 || strstr(sfx, "pattern"))
                   ? TRIT_OK
                   : grefuse_(k, err, "must be an unsigned integer (an array pattern is not mapped)");
    if (!strcmp(sfx, "rope.scaling.type"))
        return src_gguf_kv_str(g, i, &s, &n) == TRIT_OK && ((n == 4 && !memcmp(s, "yarn", 4)) || (n == 4 && !memcmp(s, "none", 4)))
                   ? TRIT_OK
                   : grefuse_(k, err, "rope scaling is computed for yarn only");
    if (!strcmp(sfx, "rope.scaling.factor"))
        return src_gguf_kv_f64(g, i, &d) == TRIT_OK && isfinite(d) && d > 0 ? TRIT_OK : grefuse_(k, err, "must be a finite number > 0");
    if (!strcmp(sfx, "rope.scaling.yarn_beta_fast") || !strcmp(sfx, "rope.scaling.yarn_beta_slow")) {
        double const want = strstr(sfx, "fast") ? 32.0 : 1.0;
        return src_gguf_kv_f64(g, i, &d) == TRIT_OK && d == want ? TRIT_OK
               : grefuse_(k, err, "llama.cpp does not read it and computes yarn betas 32 / 1");
    }
    if (!strcmp(sfx, "rope.freq_base_swa")) {
        int64_t const fb = src_gguf_find_kv(g, "gpt-oss.rope.freq_base");
        double b;
        return src_gguf_kv_f64(g, i, &d) == TRIT_OK && fb >= 0 && src_gguf_kv_f64(g, (uint64_t)fb, &b) == TRIT_OK && b == d
                   ? TRIT_OK
                   : grefuse_(k, err, "a sliding layers' rope base other than the model's is not computed");
    }
    if (!strcmp(sfx, "expert_gating_func"))   /* the graph passes SOFTMAX_WEIGHT (3) whatever the file says */
        return src_gguf_kv_u64(g, i, &u) == TRIT_OK && u == 3 ? TRIT_OK : grefuse_(k, err, "gpt-oss computes softmax over the selected logits (3)");
    if (!strcmp(sfx, "expert_weights_norm")) {   /* false says what the graph does; true asks for what it ignores */
        int b;
        return src_gguf_kv_bool(g, i, &b) == TRIT_OK && !b ? TRIT_OK
               : grefuse_(k, err, "the graph does not normalize expert weights whatever the file says");
    }
    return 1;
}

static uint32_t gkv_u32(const src_gguf *g, const char *arch, const char *sfx, uint32_t dflt, int *present)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, sfx);
    int64_t const i = src_gguf_find_kv(g, key);
    uint64_t v;
    *present = i >= 0 && src_gguf_kv_u64(g, (uint64_t)i, &v) == TRIT_OK && v <= UINT32_MAX;
    return *present ? (uint32_t)v : dflt;
}

int cvt__gptoss_gguf(const src_gguf *g, const char *arch, cvt_model *m, trit_err *err)
{
    snprintf(m->gating, sizeof m->gating, "softmax");
    m->norm_topk = 1;
    snprintf(m->hidden_act, sizeof m->hidden_act, "swiglu_oai");
    m->swiglu_limit = GPTOSS_LIMIT;
    m->swiglu_alpha = GPTOSS_ALPHA;
    int has;
    m->sliding_window = gkv_u32(g, arch, "attention.sliding_window", 0, &has);
    if (!has || !m->sliding_window)   /* llama_model_openai_moe::load_arch_hparams: get_key, required */
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, "gpt-oss.attention.sliding_window",
                            "missing: llama.cpp requires it for gpt-oss");
    m->swa_period = gkv_u32(g, arch, "attention.sliding_window_pattern", 2, &has);   /* load_swa_pattern(ml, 2) */
    char key[128];
    snprintf(key, sizeof key, "%s.rope.scaling.type", arch);
    int64_t const ti = src_gguf_find_kv(g, key);
    const char *ty;
    uint64_t tn;
    if (ti >= 0 && src_gguf_kv_str(g, (uint64_t)ti, &ty, &tn) == TRIT_OK && tn == 4 && !memcmp(ty, "yarn", 4)) {
        snprintf(key, sizeof key, "%s.rope.scaling.factor", arch);
        int64_t const fi = src_gguf_find_kv(g, key);
        double f = 1.0;
        if (fi >= 0) src_gguf_kv_f64(g, (uint64_t)fi, &f);
        snprintf(m->rope_scaling, sizeof m->rope_scaling, "yarn");
        m->rope_scale_factor = (float)f;
        m->rope_orig_ctx = gkv_u32(g, arch, "rope.scaling.original_context_length", m->n_ctx, &has);
        m->yarn_beta_fast = 32.0f;
        m->yarn_beta_slow = 1.0f;
        m->yarn_mscale = 1.0f;   /* llama-context.cpp: yarn_attn_factor = get_mscale(factor, 1) overall */
        m->yarn_mscale_all_dim = 0.0f;
        m->yarn_no_truncate = 0;   /* ggml_rope_yarn_corr_dims floors and ceils */
    }
    return TRIT_OK;
}

const char *cvt__gptoss_gguf_name(const char *arch, const char *name, char alias[CVT_GPTOSS_NAME_CAP])
{
    static const char sfx[] = ".post_attention_norm.weight";
    size_t const n = strlen(name), k = sizeof sfx - 1;
    if (strcmp(arch, "gpt-oss") != 0 || n <= k || n - k + 16 >= CVT_GPTOSS_NAME_CAP || strcmp(name + n - k, sfx) != 0) return name;
    snprintf(alias, CVT_GPTOSS_NAME_CAP, "%.*s.ffn_norm.weight", (int)(n - k), name);
    return alias;
}

/* ---- the interleaved gate/up ---- */

int cvt__plan_gate_up_il(cvt_conv *c, const cvt_plan_t *t, const src_tensor *s, const cvt_name *nm, trit_err *err)
{
    int const bias = nm->role == CVT_ROLE_BIAS_GATE_UP_IL;
    if ((bias ? s->n_dims != 2 : s->n_dims != 3) || s->dims[0] == 0 || s->dims[1] % 2 || (bias && s->dims[1] == 0))
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, s->name, "fused gate/up %s is not %s with an even width",
                            bias ? "bias" : "expert stack", bias ? "2-D [E, 2*ff]" : "3-D [E, 2*ff, in]");
    uint64_t const E = s->dims[0], ff = s->dims[1] / 2;
    char const *stem_end = strstr(nm->name, "ffn_gate_up_il_exps.");
    size_t const stem = stem_end ? (size_t)(stem_end - nm->name) : 0;   /* "blk.L." */
    for (int half = 0; half < 2; half++) {
        if (bias) {
            /* [E, 2*ff] -> ffn_gate_exps.bias / ffn_up_exps.bias [E, ff]: columns 2j + half */
            cvt_plan_t x = *t;
            snprintf(x.name, sizeof x.name, "%.*sffn_%s_exps.bias", (int)stem, nm->name, half ? "up" : "gate");
            x.role = CVT_ROLE_FLOAT;
            x.n_dims = 2;
            x.dims[0] = x.rows = E;
            x.dims[1] = x.cols = ff;
            x.col_step = 2;
            x.col0 = (uint32_t)half;
            int const rc = cvt__add_plan(c, &x, err);
            if (rc) return rc;
            continue;
        }
        for (uint64_t e = 0; e < E; e++) {
            /* expert e's gate is rows 2e*ff + 2r, its up rows 2e*ff + 2r + 1 */
            cvt_plan_t x = *t;
            snprintf(x.name, sizeof x.name, "%.*sffn_%s.%llu.weight", (int)stem, nm->name, half ? "up" : "gate", (unsigned long long)e);
            x.role = CVT_ROLE_EXPERT;
            x.expert = (uint32_t)e;
            x.n_dims = 2;
            x.dims[0] = x.rows = ff;
            x.dims[1] = x.cols = s->dims[2];
            x.src_row0 = 2 * e * ff + (uint64_t)half;
            x.row_step = 2;
            int const rc = cvt__add_plan(c, &x, err);
            if (rc) return rc;
        }
    }
    return TRIT_OK;
}

int cvt__read_strided(const struct src_ckpt *src, const cvt_plan_t *p, uint64_t r0, uint64_t nr, float *buf, trit_err *err)
{
    if (p->row_step > 1) {
        for (uint64_t r = 0; r < nr; r++) {
            int const rc = src_f32(src, p->src, (p->src_row0 + (r0 + r) * p->row_step) * p->cols, p->cols, buf + r * p->cols, err);
            if (rc) return rc;
        }
        return TRIT_OK;
    }
    uint64_t const w = p->cols * p->col_step;   /* bounded by the source tensor's own row */
    float *row = trit_mallocarray(w ? w : 1, sizeof *row);
    if (!row) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    int rc = TRIT_OK;
    for (uint64_t r = 0; r < nr && rc == TRIT_OK; r++) {
        rc = src_f32(src, p->src, (p->src_row0 + r0 + r) * w, w, row, err);
        for (uint64_t j = 0; rc == TRIT_OK && j < p->cols; j++) buf[r * p->cols + j] = row[p->col0 + j * p->col_step];
    }
    free(row);
    return rc;
}
