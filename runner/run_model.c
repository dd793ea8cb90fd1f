/*
 * run_model.c - from a weight provider to an executable model: hyperparameters from the
 * metadata keys of spec 10.1, every dense tensor of spec 10.2 resolved and its type and shape
 * checked against them, every expert described (not loaded), then the KV cache and scratch.
 *
 * All of it is untrusted input: each dimension is capped (run_int.h) before anything is sized
 * from it, sizes are computed with the overflow-checked helpers, and a tensor of the wrong
 * type or shape is refused naming the tensor and both shapes.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run_int.h"
#include "trit_model.h"
#include "trit_safemath.h"

static int fail_file(const run_ctx *c, trit_err *err, int rc)
{
    if (c->w->name) trit_err_file(err, c->w->name);
    return rc;
}

/* Unsigned metadata: absent -> def (or an error when required); capped at max. */
static int kv_u32(run_ctx *c, const char *key, int required, uint32_t def, uint32_t max, uint32_t *out, trit_err *err)
{
    run_kv v;
    trit_err e2;
    int rc = c->w->vt->get_kv(c->w->self, key, &v, &e2);
    if (rc == TRIT_E_NOTFOUND && !required) {
        *out = def;
        return TRIT_OK;
    }
    if (rc == TRIT_E_NOTFOUND) return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, NULL, "required metadata '%s' is missing", key);
    if (rc) {
        *err = e2;
        return rc;
    }
    if (v.kind != RUN_KV_UINT && v.kind != RUN_KV_BOOL)
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, NULL, "metadata '%s' is not an unsigned integer", key);
    if (v.u > max)
        return trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, NULL, "metadata '%s' is %llu, the runner supports at most %u", key,
                            (unsigned long long)v.u, max);
    *out = (uint32_t)v.u;
    return TRIT_OK;
}

static int kv_f32(run_ctx *c, const char *key, int required, float def, float *out, trit_err *err)
{
    run_kv v;
    trit_err e2;
    int rc = c->w->vt->get_kv(c->w->self, key, &v, &e2);
    if (rc == TRIT_E_NOTFOUND && !required) {
        *out = def;
        return TRIT_OK;
    }
    if (rc == TRIT_E_NOTFOUND) return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, NULL, "required metadata '%s' is missing", key);
    if (rc) {
        *err = e2;
        return rc;
    }
    if (v.kind != RUN_KV_FLOAT && v.kind != RUN_KV_UINT)
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, NULL, "metadata '%s' is not a number", key);
    if (!isfinite(v.f)) return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, NULL, "metadata '%s' is not finite", key);
    *out = (float)v.f;
    return TRIT_OK;
}

static int kv_bool(run_ctx *c, const char *key, int def, int *out, trit_err *err)
{
    run_kv v;
    trit_err e2;
    int rc = c->w->vt->get_kv(c->w->self, key, &v, &e2);
    if (rc == TRIT_E_NOTFOUND) {
        *out = def;
        return TRIT_OK;
    }
    if (rc) {
        *err = e2;
        return rc;
    }
    if (v.kind != RUN_KV_BOOL && v.kind != RUN_KV_UINT)
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, NULL, "metadata '%s' is not a bool", key);
    *out = v.u != 0;
    return TRIT_OK;
}

/* String metadata matched against a list of accepted values; *out = index in the list. */
static int kv_enum(run_ctx *c, const char *key, const char *const *vals, int n_vals, int def, int *out, trit_err *err)
{
    run_kv v;
    trit_err e2;
    int rc = c->w->vt->get_kv(c->w->self, key, &v, &e2);
    if (rc == TRIT_E_NOTFOUND) {
        *out = def;
        return TRIT_OK;
    }
    if (rc) {
        *err = e2;
        return rc;
    }
    if (v.kind != RUN_KV_STR) return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, NULL, "metadata '%s' is not a string", key);
    for (int i = 0; i < n_vals; i++)
        if (strlen(vals[i]) == v.n && memcmp(vals[i], v.s, v.n) == 0) {
            *out = i;
            return TRIT_OK;
        }
    return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, NULL, "metadata '%s' is '%.*s', the runner knows %s%s%s%s%s", key,
                        (int)(v.n > 64 ? 64 : v.n), v.s, vals[0], n_vals > 1 ? ", " : "", n_vals > 1 ? vals[1] : "",
                        n_vals > 2 ? ", " : "", n_vals > 2 ? vals[2] : "");
}

/* The description as the model table's rules read it (trit_mt_check). */
static int desc_num(void *ctx, const char *key, double *out)
{
    run_ctx *c = ctx;
    run_kv v;
    trit_err e2;
    if (c->w->vt->get_kv(c->w->self, key, &v, &e2) != TRIT_OK) return 0;
    if (v.kind == RUN_KV_FLOAT || v.kind == RUN_KV_UINT) *out = v.f;
    else if (v.kind == RUN_KV_BOOL) *out = (double)v.u;
    else return 0;
    return 1;
}

typedef struct first_violation {
    int code;
    char msg[224];
} first_violation;

static void keep_first(void *ctx, int code, const char *key, const char *msg)
{
    first_violation *f = ctx;
    if (f->code) return;
    f->code = code;
    snprintf(f->msg, sizeof f->msg, "metadata '%s' %s", key, msg);
}

/* Sparsemixer (modeling_phimoe.py, eval mode) picks exactly two experts and weighs each by its
 * masked softmax: its threshold must be stated, and what other gates add (top-k
 * renormalization) is not part of it. */
static int sparsemixer_hparams(run_ctx *c, trit_err *err)
{
    run_hparams *hp = &c->hp;
    if (hp->gating != RUN_GATING_SPARSEMIXER) return TRIT_OK;
    int rc = kv_f32(c, "moe.jitter_eps", 1, 0, &hp->jitter_eps, err);
    if (rc) return rc;
    if (!hp->n_expert || hp->n_expert_used != 2 || hp->norm_topk || !(hp->jitter_eps >= 0))
        return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, "moe.gating",
                            "sparsemixer is computed for moe.n_expert_used 2 (not %u), without moe.norm_topk and "
                            "with moe.jitter_eps >= 0 (%g)", hp->n_expert_used, (double)hp->jitter_eps);
    return TRIT_OK;
}

static int read_hparams(run_ctx *c, trit_err *err)
{
    run_hparams *hp = &c->hp;
    int rc;
#define U(key, req, def, max, dst) if ((rc = kv_u32(c, key, req, def, max, dst, err))) return rc
    U("model.n_layer", 1, 0, RUN_MAX_LAYERS, &hp->n_layer);
    U("model.n_embd", 1, 0, RUN_MAX_EMBD, &hp->n_embd);
    U("model.n_ff", 0, 0, RUN_MAX_FF, &hp->n_ff);
    U("model.n_head", 1, 0, RUN_MAX_HEADS, &hp->n_head);
    U("model.n_head_kv", 1, 0, RUN_MAX_HEADS, &hp->n_head_kv);
    U("model.head_dim", 1, 0, RUN_MAX_HEAD_DIM, &hp->head_dim);
    U("model.n_vocab", 1, 0, RUN_MAX_VOCAB, &hp->n_vocab);
    U("model.n_ctx", 0, 0, UINT32_MAX, &hp->n_ctx_train);
    U("model.rope_dim", 0, hp->head_dim, RUN_MAX_HEAD_DIM, &hp->rope_dim);
    U("model.bos_token_id", 0, UINT32_MAX, UINT32_MAX, &hp->bos);
    U("model.eos_token_id", 0, UINT32_MAX, UINT32_MAX, &hp->eos);
    U("moe.n_expert", 0, 0, RUN_MAX_EXPERTS, &hp->n_expert);
    U("moe.n_expert_used", 0, 0, RUN_MAX_EXPERT_USED, &hp->n_expert_used);
    U("moe.n_ff_expert", 0, 0, RUN_MAX_FF, &hp->n_ff_expert);
    U("moe.n_shared_expert", 0, 0, RUN_MAX_EXPERTS, &hp->n_shared);
    U("moe.first_dense_layers", 0, 0, RUN_MAX_LAYERS, &hp->first_dense);
    U("moe.n_group", 0, 1, RUN_MAX_EXPERTS, &hp->n_group);
    U("moe.topk_group", 0, hp->n_group, RUN_MAX_EXPERTS, &hp->topk_group);
#undef U
    if ((rc = kv_f32(c, "model.norm_eps", 1, 0, &hp->norm_eps, err))) return rc;
    if ((rc = kv_f32(c, "model.rope_theta", 1, 0, &hp->rope_theta, err))) return rc;
    if ((rc = kv_f32(c, "moe.routed_scale", 0, 1.0f, &hp->routed_scale, err))) return rc;
    if ((rc = kv_f32(c, "model.embd_scale", 0, 1.0f, &hp->embd_scale, err))) return rc;
    if ((rc = kv_f32(c, "model.attn_scale", 0, 0.0f, &hp->attn_scale, err))) return rc;
    if (hp->attn_scale == 0.0f) hp->attn_scale = 1.0f / sqrtf((float)(hp->head_dim ? hp->head_dim : 1));
    if ((rc = kv_f32(c, "model.residual_scale", 0, 1.0f, &hp->residual_scale, err))) return rc;
    if ((rc = kv_f32(c, "model.logit_scale", 0, 1.0f, &hp->logit_scale, err))) return rc;
    if ((rc = kv_bool(c, "model.tied_embeddings", 0, &hp->tied, err))) return rc;
    if ((rc = kv_bool(c, "moe.norm_topk", 0, &hp->norm_topk, err))) return rc;
    static const char *const acts[] = {"silu", "relu2", "gelu", "swiglu_oai"}, *const gates[] = {"softmax", "sigmoid", "sparsemixer"};
    static const char *const norms[] = {"rms", "layer"};
    /* "norm" (interleaved pairs) is multi-head latent attention's, checked by run__mla_hparams */
    static const char *const shg[] = {"none", "sigmoid"}, *const rope[] = {"neox", "norm"};
    int layout;
    if ((rc = kv_enum(c, "model.hidden_act", acts, 4, RUN_ACT_SILU, &hp->act, err))) return rc;
    if ((rc = kv_enum(c, "moe.gating", gates, 3, RUN_GATING_SOFTMAX, &hp->gating, err))) return rc;
    if ((rc = kv_enum(c, "model.norm_kind", norms, 2, 0, &hp->layer_norm, err))) return rc;
    if ((rc = kv_enum(c, "moe.shared_gate", shg, 2, 0, &hp->shared_gate, err))) return rc;
    if ((rc = kv_enum(c, "model.rope_layout", rope, 2, 0, &layout, err))) return rc;
    static const char *const gsc[] = {"max", "top2sum"};
    run_kv gv;
    trit_err ge;
    int const has_gs = c->w->vt->get_kv(c->w->self, "moe.group_score", &gv, &ge) == TRIT_OK;
    if ((rc = kv_enum(c, "moe.group_score", gsc, 2, RUN_GROUP_MAX, &hp->group_score, err))) return rc;

    /* Consistency the forward pass relies on: the model table's rules (the same convert and
     * verify apply), then what only the runner's buffers need. */
    first_violation fv = {0, ""};
    if (trit_mt_check(desc_num, c, 1, keep_first, &fv))
        return trit_err_set(err, fv.code, TRIT_NO_OFFSET, NULL, "%s", fv.msg);
    if (!hp->n_layer || !hp->n_embd || !hp->n_head || !hp->n_head_kv || !hp->head_dim || !hp->n_vocab)
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, NULL, "a required model dimension is 0");
    if (hp->n_head % hp->n_head_kv)
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, NULL, "model.n_head %u is not a multiple of model.n_head_kv %u",
                            hp->n_head, hp->n_head_kv);
    if (hp->rope_dim % 2 || hp->rope_dim > hp->head_dim)
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, NULL, "model.rope_dim %u must be even and at most head_dim %u",
                            hp->rope_dim, hp->head_dim);
    if (!(hp->norm_eps >= 0) || !(hp->rope_theta > 0))
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, NULL, "model.norm_eps must be >= 0 and model.rope_theta > 0");
    if ((uint64_t)hp->n_head * hp->head_dim > RUN_MAX_COLS)
        return trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, NULL, "n_head * head_dim is too large");
    if (hp->n_expert) {
        if (!hp->n_expert_used || hp->n_expert_used > hp->n_expert || !hp->n_ff_expert)
            return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, NULL,
                                "moe.n_expert %u needs 1 <= moe.n_expert_used (%u) <= n_expert and moe.n_ff_expert > 0",
                                hp->n_expert, hp->n_expert_used);
    } else if (hp->n_expert_used) {
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, NULL, "moe.n_expert_used is %u without experts", hp->n_expert_used);
    }
    /* group-limited routing: the rules checked divisibility and capacity; which group score is
     * computed must be stated (the two releases that group differ in it) */
    if (!hp->n_group || !hp->topk_group || hp->topk_group > hp->n_group || (hp->n_expert && hp->n_expert % hp->n_group))
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, NULL, "moe.n_group %u / moe.topk_group %u do not group %u experts",
                            hp->n_group, hp->topk_group, hp->n_expert);
    if (hp->topk_group < hp->n_group && !has_gs)
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, NULL,
                            "moe.topk_group %u < moe.n_group %u without metadata 'moe.group_score'", hp->topk_group, hp->n_group);
    if (hp->topk_group < hp->n_group && hp->group_score == RUN_GROUP_TOP2SUM && hp->n_expert / hp->n_group < 2)
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, NULL, "moe.group_score 'top2sum' needs groups of at least 2 experts");
    if ((rc = sparsemixer_hparams(c, err))) return rc;
    return run__gptoss_hparams(c, err);
}

static const char *type_name(uint32_t t)
{
    const char *n = trit_type_name(t);
    return n ? n : "unknown";
}

/* A matrix [rows, cols]: f32/f16/bf16/t2. Absent and optional: out->data stays NULL. */
static int get_mat(run_ctx *c, const char *name, uint64_t rows, uint64_t cols, int optional, run_tensor *out, trit_err *err)
{
    memset(out, 0, sizeof *out);
    trit_err e2;
    int rc = c->w->vt->get_dense(c->w->self, name, out, &e2);
    if (rc == TRIT_E_NOTFOUND) {
        memset(out, 0, sizeof *out);
        if (optional) return TRIT_OK;
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, name, "required tensor is missing");
    }
    if (rc) {
        *err = e2;
        return rc;
    }
    /* i8 with per-row scales: the --output-head q8 copy (spec 6.2), for the output only */
    int const q8 = out->type == TRIT_TYPE_I8 && !strcmp(name, "output.weight");
    if (out->type != TRIT_TYPE_F32 && out->type != TRIT_TYPE_F16 && out->type != TRIT_TYPE_BF16 && out->type != TRIT_TYPE_T2 && !q8 &&
        run__blk_of(out->type) < 0)
        return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, name,
                            "type %s, the runner computes f32, f16, bf16, t2, q8_0, q4_k, q6_k and mxfp4", type_name(out->type));
    if (q8 && (out->scale_layout != TRIT_SCALE_ROW || !out->scales || out->n_scales != rows || cols > RUN_KERN_I8_MAX_COLS))
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, name, "i8 output head without one scale per row (or rows of %llu values, limit %u)",
                            (unsigned long long)cols, RUN_KERN_I8_MAX_COLS);
    if (out->n_dims != 2 || out->dims[0] != rows || out->dims[1] != cols)
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, name, "shape %s[%llu, %llu], expected [%llu, %llu]",
                            out->n_dims == 2 ? "" : "(not 2-d) ", (unsigned long long)out->dims[0],
                            (unsigned long long)(out->n_dims > 1 ? out->dims[1] : 0), (unsigned long long)rows,
                            (unsigned long long)cols);
    if (out->type == TRIT_TYPE_T2 && (out->scale_layout < TRIT_SCALE_TENSOR || out->scale_layout > TRIT_SCALE_GROUP ||
                                      (out->scale_layout == TRIT_SCALE_GROUP && !out->group_size) || !out->scales))
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, name, "t2 tensor without valid scales");
    if (cols > RUN_MAX_COLS) return trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, name, "rows of %llu weights", (unsigned long long)cols);
    if (cols > c->max_cols) c->max_cols = cols;
    return TRIT_OK;
}

/* Bytes of a matrix's codes or values (for the bytes-per-token statistic). */
static uint64_t mat_bytes(const run_tensor *t)
{
    if (!t->data && !t->data_off) return 0;
    uint64_t const row = t->type == TRIT_TYPE_T2 ? trit_div_ceil(t->cols, 128) * 32
                         : run__blk_of(t->type) >= 0 ? run__blk_row_bytes(t)
                         : t->type == TRIT_TYPE_B3 ? trit_div_ceil(t->cols, 160) * 32
                         : t->cols * (t->type == TRIT_TYPE_F32 ? 4u : t->type == TRIT_TYPE_I8 ? 1u : 2u);
    return row * t->rows;
}

/* A vector [n] (or one of two accepted lengths) converted to a new f32 array. */
static int get_vec2(run_ctx *c, const char *name, uint64_t n, uint64_t n_alt, int optional, float **out, uint64_t *got, trit_err *err)
{
    *out = NULL;
    run_tensor t;
    trit_err e2;
    int rc = c->w->vt->get_dense(c->w->self, name, &t, &e2);
    if (rc == TRIT_E_NOTFOUND) {
        if (optional) return TRIT_OK;
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, name, "required tensor is missing");
    }
    if (rc) {
        *err = e2;
        return rc;
    }
    if (t.type != TRIT_TYPE_F32 && t.type != TRIT_TYPE_F16 && t.type != TRIT_TYPE_BF16)
        return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, name, "type %s, expected f32, f16 or bf16", type_name(t.type));
    /* A [1, n] or [n, 1] vector (as some converters write biases and gates) is accepted too. */
    uint64_t len = t.n_dims == 1 ? t.dims[0] : 0;
    if (t.n_dims == 2 && (t.dims[0] == 1 || t.dims[1] == 1)) len = t.dims[0] * t.dims[1];
    if (len != n && (n_alt == 0 || len != n_alt))
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, name, "has %llu values (%u dims), expected %llu",
                            (unsigned long long)len, t.n_dims, (unsigned long long)n);
    float *v = trit_mallocarray(len ? len : 1, sizeof *v);
    if (!v) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, name, "out of memory");
    for (uint64_t i = 0; i < len; i++) {
        if (t.type == TRIT_TYPE_F32) memcpy(&v[i], (const uint8_t *)t.data + 4 * i, 4);
        else {
            uint16_t h;
            memcpy(&h, (const uint8_t *)t.data + 2 * i, 2);
            v[i] = t.type == TRIT_TYPE_F16 ? trit_f16_to_f32(h) : trit_bf16_to_f32(h);
        }
    }
    *out = v;
    if (got) *got = len;
    return TRIT_OK;
}

static int get_vec(run_ctx *c, const char *name, uint64_t n, int optional, float **out, trit_err *err)
{
    return get_vec2(c, name, n, 0, optional, out, NULL, err);
}

/* A norm's bias [n_embd]: LayerNorm's (model.norm_kind "layer"), optional; beside an RMSNorm it
 * is refused (llama.cpp's phi3 graph adds one there, a computation no release here states). */
static int get_norm_bias(run_ctx *c, const char *name, float **out, trit_err *err)
{
    int const rc = get_vec(c, name, c->hp.n_embd, 1, out, err);
    if (rc == TRIT_OK && *out && !c->hp.layer_norm)
        return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, name, "a norm bias, but model.norm_kind is not 'layer'");
    return rc;
}

/* Check an expert member against its expected shape and the image it lives in. */
static int check_member(const run_expert_desc *d, const run_tensor *t, const char *what, uint32_t L, uint32_t E,
                        uint64_t rows, uint64_t cols, trit_err *err)
{
    char where[96];
    snprintf(where, sizeof where, "expert %u of layer %u: %s", E, L, what);
    int const blk = run__blk_of(t->type) >= 0;
    int const tern = t->type == TRIT_TYPE_T2 || t->type == TRIT_TYPE_B3;   /* b3: expert units only (spec 6.4) */
    if (t->type != TRIT_TYPE_F32 && t->type != TRIT_TYPE_F16 && t->type != TRIT_TYPE_BF16 && !tern && !blk)
        return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, where, "type %s", type_name(t->type));
    if (t->n_dims != 2 || t->dims[0] != rows || t->dims[1] != cols)
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, where, "shape [%llu, %llu], expected [%llu, %llu]",
                            (unsigned long long)t->dims[0], (unsigned long long)(t->n_dims > 1 ? t->dims[1] : 0),
                            (unsigned long long)rows, (unsigned long long)cols);
    uint64_t const bytes = mat_bytes(t);
    uint64_t end;
    if ((!tern && !blk && t->data_off % 4) || trit_add_u64(t->data_off, bytes, &end) || end > d->size)
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, where, "data outside the expert image or misaligned");
    if (tern) {
        uint64_t sb;
        if (t->scale_layout < TRIT_SCALE_TENSOR || t->scale_layout > TRIT_SCALE_GROUP ||
            (t->scale_layout == TRIT_SCALE_GROUP && !t->group_size) || t->scales_off % 4 ||
            trit_mul_u64(t->n_scales, 4, &sb) || trit_add_u64(t->scales_off, sb, &end) || end > d->size)
            return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, where, "ternary scales invalid or outside the expert image");
    }
    return TRIT_OK;
}

/* Does the provider hold this dense tensor? */
static int has_dense(run_ctx *c, const char *name)
{
    run_tensor t;
    trit_err e2;
    return c->w->vt->get_dense(c->w->self, name, &t, &e2) == TRIT_OK;
}

/* A layer's multi-head latent attention (modeling_deepseek.py DeepseekV2Attention): q_proj, or
 * q_a_proj + q_a_layernorm + q_b_proj; kv_a_proj_with_mqa, kv_a_layernorm, kv_b_proj; o_proj.
 * The tensors of the other attention (k, v, biases, q/k norms, sub-norm) are refused: they
 * would change the math and this block does not compute them. */
static int load_mla(run_ctx *c, uint32_t L, trit_err *err)
{
    run_hparams const *hp = &c->hp;
    run_layer *ly = &c->layers[L];
    uint64_t const E = hp->n_embd, H = hp->n_head, hd = hp->head_dim, rd = hp->rope_dim, vd = hp->v_head_dim;
    uint64_t const kl = hp->kv_lora_rank, ql = hp->q_lora_rank;
    char nm[128];
    int rc;
#define NAME(fmt) (snprintf(nm, sizeof nm, "blk.%u." fmt, L), nm)
    static const char *const other[] = {"attn_k.weight", "attn_v.weight", "attn_q.bias", "attn_k.bias", "attn_v.bias",
                                        "attn_output.bias", "attn_q_norm.weight", "attn_k_norm.weight",
                                        "attn_sub_norm.weight"};
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
        snprintf(nm, sizeof nm, "blk.%u.%s", L, other[i]);
        if (has_dense(c, nm))
            return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, nm,
                                "is not computed with multi-head latent attention (model.kv_lora_rank %u)", hp->kv_lora_rank);
    }
    if (ql) {
        if ((rc = get_mat(c, NAME("attn_q_a.weight"), ql, E, 0, &ly->wq_a, err))) return rc;
        if ((rc = get_vec(c, NAME("attn_q_a_norm.weight"), ql, 0, &ly->q_a_norm, err))) return rc;
        if ((rc = get_mat(c, NAME("attn_q_b.weight"), H * hd, ql, 0, &ly->wq_b, err))) return rc;
        if (has_dense(c, NAME("attn_q.weight")))
            return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, nm, "present beside the q LoRA (model.q_lora_rank %u)", hp->q_lora_rank);
    } else {
        if ((rc = get_mat(c, NAME("attn_q.weight"), H * hd, E, 0, &ly->wq, err))) return rc;
        if (has_dense(c, NAME("attn_q_a.weight")) || has_dense(c, NAME("attn_q_b.weight")))
            return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, nm, "a q LoRA tensor, but model.q_lora_rank is 0");
    }
    if ((rc = get_mat(c, NAME("attn_kv_a_mqa.weight"), kl + rd, E, 0, &ly->wkv_a, err))) return rc;
    if ((rc = get_vec(c, NAME("attn_kv_a_norm.weight"), kl, 0, &ly->kv_a_norm, err))) return rc;
    if ((rc = get_mat(c, NAME("attn_kv_b.weight"), H * (hd - rd + vd), kl, 0, &ly->wkv_b, err))) return rc;
    if ((rc = get_mat(c, NAME("attn_output.weight"), E, H * vd, 0, &ly->wo, err))) return rc;
#undef NAME
    c->dense_bytes += mat_bytes(&ly->wq_a) + mat_bytes(&ly->wq_b) + mat_bytes(&ly->wkv_a) + mat_bytes(&ly->wkv_b);
    return TRIT_OK;
}

/* The standard attention's tensors (q, k, v, o, biases, q/k norms, sub-norm). */
static int load_attn(run_ctx *c, uint32_t L, trit_err *err)
{
    run_hparams const *hp = &c->hp;
    run_layer *ly = &c->layers[L];
    uint64_t const E = hp->n_embd, qd = (uint64_t)hp->n_head * hp->head_dim, kvd = (uint64_t)hp->n_head_kv * hp->head_dim;
    char nm[128];
    int rc;
#define NAME(fmt) (snprintf(nm, sizeof nm, "blk.%u." fmt, L), nm)
    static const char *const mla[] = {"attn_q_a.weight", "attn_q_b.weight", "attn_kv_a_mqa.weight", "attn_kv_b.weight"};
    for (size_t i = 0; i < sizeof mla / sizeof mla[0]; i++) {
        snprintf(nm, sizeof nm, "blk.%u.%s", L, mla[i]);
        if (has_dense(c, nm))
            return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, nm, "a multi-head latent attention tensor, but model.kv_lora_rank is 0");
    }
    if ((rc = get_mat(c, NAME("attn_q.weight"), qd, E, 0, &ly->wq, err))) return rc;
    if ((rc = get_mat(c, NAME("attn_k.weight"), kvd, E, 0, &ly->wk, err))) return rc;
    if ((rc = get_mat(c, NAME("attn_v.weight"), kvd, E, 0, &ly->wv, err))) return rc;
    if ((rc = get_mat(c, NAME("attn_output.weight"), E, qd, 0, &ly->wo, err))) return rc;
    if ((rc = get_vec(c, NAME("attn_q.bias"), qd, 1, &ly->bq, err))) return rc;
    if ((rc = get_vec(c, NAME("attn_k.bias"), kvd, 1, &ly->bk, err))) return rc;
    if ((rc = get_vec(c, NAME("attn_v.bias"), kvd, 1, &ly->bv, err))) return rc;
    if ((rc = get_vec(c, NAME("attn_output.bias"), E, 1, &ly->bo, err))) return rc;
    uint64_t got = 0;
    /* q/k norms: per head ([head_dim], Qwen3) or over the whole vector (OLMoE style). */
    if ((rc = get_vec2(c, NAME("attn_q_norm.weight"), hp->head_dim, qd, 1, &ly->q_norm, &got, err))) return rc;
    ly->q_norm_full = ly->q_norm && got == qd && qd != hp->head_dim;
    if ((rc = get_vec2(c, NAME("attn_k_norm.weight"), hp->head_dim, kvd, 1, &ly->k_norm, &got, err))) return rc;
    ly->k_norm_full = ly->k_norm && got == kvd && kvd != hp->head_dim;
    if ((rc = get_vec(c, NAME("attn_sub_norm.weight"), qd, 1, &ly->attn_sub_norm, err))) return rc;
#undef NAME
    return TRIT_OK;
}

static int load_layer(run_ctx *c, uint32_t L, trit_err *err)
{
    run_hparams const *hp = &c->hp;
    run_layer *ly = &c->layers[L];
    uint64_t const E = hp->n_embd;
    char nm[128];
    int rc;
#define NAME(fmt) (snprintf(nm, sizeof nm, "blk.%u." fmt, L), nm)
    if ((rc = get_vec(c, NAME("attn_norm.weight"), E, 0, &ly->attn_norm, err))) return rc;
    if ((rc = get_norm_bias(c, NAME("attn_norm.bias"), &ly->attn_norm_b, err))) return rc;
    if ((rc = hp->kv_lora_rank ? load_mla(c, L, err) : load_attn(c, L, err))) return rc;
    if ((rc = get_vec(c, NAME("ffn_norm.weight"), E, 0, &ly->ffn_norm, err))) return rc;
    if ((rc = get_norm_bias(c, NAME("ffn_norm.bias"), &ly->ffn_norm_b, err))) return rc;
    ly->moe = hp->n_expert > 0 && L >= hp->first_dense;
    if (!ly->moe) {
        uint64_t const F = hp->n_ff;
        if (!F) return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, NULL, "layer %u has a dense FFN but model.n_ff is 0", L);
        if ((rc = get_mat(c, NAME("ffn_gate.weight"), F, E, 0, &ly->ffn_gate, err))) return rc;
        if ((rc = get_mat(c, NAME("ffn_up.weight"), F, E, 0, &ly->ffn_up, err))) return rc;
        if ((rc = get_mat(c, NAME("ffn_down.weight"), E, F, 0, &ly->ffn_down, err))) return rc;
        if ((rc = get_vec(c, NAME("ffn_sub_norm.weight"), F, 1, &ly->ffn_sub_norm, err))) return rc;
        c->dense_bytes += mat_bytes(&ly->ffn_gate) + mat_bytes(&ly->ffn_up) + mat_bytes(&ly->ffn_down);
    } else {
        uint64_t const NE = hp->n_expert, FE = hp->n_ff_expert;
        if ((rc = get_mat(c, NAME("ffn_gate_inp.weight"), NE, E, 0, &ly->router, err))) return rc;
        if ((rc = get_vec(c, NAME("exp_probs_b.bias"), NE, 1, &ly->exp_probs_b, err))) return rc;
        if (ly->exp_probs_b && hp->gating == RUN_GATING_SPARSEMIXER)
            return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, nm, "a selection bias is not part of sparsemixer routing");
        /* shared experts: width from the tensor itself (all shared experts concatenated) */
        run_tensor probe;
        trit_err e2;
        if (c->w->vt->get_dense(c->w->self, NAME("ffn_gate_shexp.weight"), &probe, &e2) == TRIT_OK) {
            uint64_t const FS = probe.n_dims == 2 ? probe.dims[0] : 0;
            if (!FS || FS > RUN_MAX_FF)
                return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, nm, "bad shared-expert width");
            if ((rc = get_mat(c, NAME("ffn_gate_shexp.weight"), FS, E, 0, &ly->gate_sh, err))) return rc;
            if ((rc = get_mat(c, NAME("ffn_up_shexp.weight"), FS, E, 0, &ly->up_sh, err))) return rc;
            if ((rc = get_mat(c, NAME("ffn_down_shexp.weight"), E, FS, 0, &ly->down_sh, err))) return rc;
            c->dense_bytes += mat_bytes(&ly->gate_sh) + mat_bytes(&ly->up_sh) + mat_bytes(&ly->down_sh);
        } else if (hp->n_shared) {
            return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, nm, "moe.n_shared_expert is %u but the tensor is missing", hp->n_shared);
        }
        if ((rc = get_vec(c, NAME("ffn_gate_inp_shexp.weight"), E, !(hp->shared_gate && ly->gate_sh.data), &ly->gate_inp_sh, err)))
            return rc;
        ly->experts = calloc(NE, sizeof *ly->experts);
        if (!ly->experts) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
        for (uint32_t e = 0; e < NE; e++) {
            run_expert_desc *d = &ly->experts[e];
            rc = c->w->vt->expert_desc(c->w->self, L, e, d, err);
            if (rc == TRIT_E_NOTFOUND)
                return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, NULL, "expert %u of layer %u is missing", e, L);
            if (rc) return rc;
            if ((rc = check_member(d, &d->gate, "gate", L, e, FE, E, err)) || (rc = check_member(d, &d->up, "up", L, e, FE, E, err)) ||
                (rc = check_member(d, &d->down, "down", L, e, E, FE, err)))
                return rc;
        }
        if (FE > c->max_cols) c->max_cols = FE;
        c->dense_bytes += mat_bytes(&ly->router);
    }
#undef NAME
    c->dense_bytes += mat_bytes(&ly->wq) + mat_bytes(&ly->wk) + mat_bytes(&ly->wv) + mat_bytes(&ly->wo);
    return run__gptoss_layer(c, L, err);
}

/* Every key of the model description must be one this runner computes (the model table,
 * format/trit_model.h): a key it does not know may change the math, and ignoring it would
 * compute something close instead (a container from a newer converter, or a tampered one).
 * Providers other than .trit (the converter's --reference source) describe the model with the
 * converter's own keys and need no check. */
static int check_known_keys(const run_ctx *c, trit_err *err)
{
    const trit_reader *r = run_weights_trit_reader(c->w);
    const trit_kvset *kv = r ? trit_reader_kv(r) : NULL;
    for (uint32_t i = 0; kv && i < trit_kvset_n(kv); i++) {
        const char *k = trit_kvset_key(kv, i);
        if (k && trit_mt_key_described(k) && !trit_mt_key_find(k))
            return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, NULL,
                                "metadata '%.64s' is not a model-description key this runner computes "
                                "(spec/container.md 10.1); it may change the math, so the model is refused", k);
    }
    return TRIT_OK;
}

int run__load_model(run_ctx *c, trit_err *err)
{
    int rc = check_known_keys(c, err);
    if (rc) return fail_file(c, err, rc);
    rc = read_hparams(c, err);
    if (!rc) rc = run__mla_hparams(c, err);
    if (!rc && c->hp.kv_lora_rank && c->hp.layer_norm)
        rc = trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, "model.norm_kind",
                          "LayerNorm blocks are not computed with multi-head latent attention");
    if (rc) return fail_file(c, err, rc);
    run_hparams const *hp = &c->hp;
    c->layers = calloc(hp->n_layer, sizeof *c->layers);
    if (!c->layers) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    /* token_embd is read one row per token, any float type */
    if ((rc = get_mat(c, "token_embd.weight", hp->n_vocab, hp->n_embd, 0, &c->token_embd, err))) return fail_file(c, err, rc);
    if (c->token_embd.type == TRIT_TYPE_T2)
        return fail_file(c, err, trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, "token_embd.weight", "t2 embeddings"));
    if ((rc = get_vec(c, "output_norm.weight", hp->n_embd, 0, &c->output_norm, err))) return fail_file(c, err, rc);
    if ((rc = get_norm_bias(c, "output_norm.bias", &c->output_norm_b, err))) return fail_file(c, err, rc);
    if ((rc = get_vec(c, "output.bias", hp->n_vocab, 1, &c->output_b, err))) return fail_file(c, err, rc);
    if ((rc = get_mat(c, "output.weight", hp->n_vocab, hp->n_embd, hp->tied, &c->output, err))) return fail_file(c, err, rc);
    /* tied (or absent, as llama.cpp's qwen3moe falls back to): project with the embeddings */
    if (!c->output.data) c->output = c->token_embd;
    c->dense_bytes += mat_bytes(&c->output);
    for (uint32_t L = 0; L < hp->n_layer; L++)
        if ((rc = load_layer(c, L, err))) return fail_file(c, err, rc);
    return TRIT_OK;
}

void run__free_model(run_ctx *c)
{
    if (c->layers)
        for (uint32_t L = 0; L < c->hp.n_layer; L++) {
            run_layer *ly = &c->layers[L];
            free(ly->attn_norm); free(ly->bq); free(ly->bk); free(ly->bv); free(ly->q_norm); free(ly->k_norm);
            free(ly->attn_sub_norm); free(ly->ffn_norm); free(ly->ffn_sub_norm); free(ly->exp_probs_b);
            free(ly->gate_inp_sh); free(ly->experts); free(ly->q_a_norm); free(ly->kv_a_norm);
            free(ly->attn_norm_b); free(ly->ffn_norm_b); free(ly->bo);
            run__gptoss_free_layer(ly);
        }
    free(c->layers);
    free(c->output_norm);
    free(c->output_norm_b);
    free(c->output_b);
    c->output_norm_b = c->output_b = NULL;
    free(c->mla_inv_freq);
    c->mla_inv_freq = NULL;
    free(c->rope_inv_freq);
    c->rope_inv_freq = NULL;
    c->layers = NULL;
    c->output_norm = NULL;
}
