/*
 * run_rope.c - the standard attention's rotary table, built once per context: one inverse
 * frequency per rotated pair and one cos/sin multiplier (spec 10.1, model.rope_scaling).
 *
 *   none:      inv_freq_i = rope_theta^(-2i / rope_dim), multiplier 1
 *   longrope:  inv_freq_i = rope_theta^(-2i / rope_dim) / factor_i with the factors of one set,
 *              multiplier model.rope_attn_factor_<set>. The set is fixed for the model ("context"
 *              selection): long when model.n_ctx > model.rope_orig_ctx, else short. That is
 *              MiniCPMLongRoPE (modeling_minicpm.py), whose cos/sin cache is built at init for
 *              max_position_embeddings positions and picks the factors by that length, and
 *              llama.cpp's get_rope_factors with its default context (n_ctx = context_length
 *              against n_ctx_orig_yarn).
 *
 * Where the two references part, the runner refuses instead of picking one: a context longer
 * than the original one in a model whose set is short (MiniCPMLongRoPE rebuilds its cache with
 * the long factors once a sequence passes max_position_embeddings and original, keeping the
 * keys it already rotated with the short ones; llama.cpp switches the whole run to long).
 *   yarn:      run_yarn.c (gpt-oss), the same blend multi-head latent attention uses.
 * Multi-head latent attention has its own rope (run_mla.c).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "run_int.h"
#include "trit_safemath.h"

static int get(run_ctx *c, const char *key, run_kv *v)
{
    trit_err e2;
    return c->w->vt->get_kv(c->w->self, key, v, &e2) == TRIT_OK;
}

static int has_dense(run_ctx *c, const char *name)
{
    run_tensor t;
    trit_err e2;
    return c->w->vt->get_dense(c->w->self, name, &t, &e2) == TRIT_OK;
}

/* A positive finite f32 key, default 1 when absent. */
static int attn_factor(run_ctx *c, const char *key, double *out, trit_err *err)
{
    run_kv v;
    *out = 1.0;
    if (!get(c, key, &v)) return TRIT_OK;
    if ((v.kind != RUN_KV_FLOAT && v.kind != RUN_KV_UINT) || !isfinite(v.f) || !(v.f > 0))
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, NULL, "metadata '%s' is not a finite number > 0", key);
    *out = v.f;
    return TRIT_OK;
}

/* The factor set `name` ([rope_dim / 2] f32/f16/bf16, every factor finite and > 0) into f. */
static int load_factors(run_ctx *c, const char *name, uint32_t half, float *f, trit_err *err)
{
    run_tensor t;
    trit_err e2;
    int rc = c->w->vt->get_dense(c->w->self, name, &t, &e2);
    if (rc == TRIT_E_NOTFOUND)
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, name, "required by model.rope_scaling 'longrope' and missing");
    if (rc) {
        *err = e2;
        return rc;
    }
    uint64_t const len = t.n_dims == 1 ? t.dims[0] : 0;
    if (len != half || (t.type != TRIT_TYPE_F32 && t.type != TRIT_TYPE_F16 && t.type != TRIT_TYPE_BF16))
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, name,
                            "must be a float vector of rope_dim / 2 = %u factors (%u dims, %llu values, type %u)", half, t.n_dims,
                            (unsigned long long)len, t.type);
    for (uint32_t i = 0; i < half; i++) {
        if (t.type == TRIT_TYPE_F32) {
            memcpy(&f[i], (const uint8_t *)t.data + 4 * (uint64_t)i, 4);
        } else {
            uint16_t h;
            memcpy(&h, (const uint8_t *)t.data + 2 * (uint64_t)i, 2);
            f[i] = t.type == TRIT_TYPE_F16 ? trit_f16_to_f32(h) : trit_bf16_to_f32(h);
        }
        if (!isfinite(f[i]) || !(f[i] > 0))
            return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, name, "factor %u is %g, must be finite and > 0", i, (double)f[i]);
    }
    return TRIT_OK;
}

static int longrope(run_ctx *c, uint32_t half, trit_err *err)
{
    run_hparams const *hp = &c->hp;
    run_kv ov;
    if (!get(c, "model.rope_orig_ctx", &ov) || ov.kind != RUN_KV_UINT || ov.u == 0 || ov.u > UINT32_MAX)
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, NULL, "longrope needs metadata 'model.rope_orig_ctx' > 0");
    if (!hp->n_ctx_train)
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, NULL,
                            "longrope needs metadata 'model.n_ctx': it selects the factor set (spec 10.1)");
    uint64_t const orig = ov.u;
    /* "sequence" selection (PhimoeRotaryEmbedding): the short set while the sequence computed so
     * far is at most the original context; past it the release switches to the long set for the
     * positions of that call only and keeps the keys it rotated before, which depends on how the
     * tokens were batched: the runner computes contexts up to the original one and refuses longer */
    run_kv sv;
    int const by_sequence = get(c, "model.rope_select", &sv) && sv.kind == RUN_KV_STR && sv.n == 8 && !memcmp(sv.s, "sequence", 8);
    if (get(c, "model.rope_select", &sv) && !by_sequence &&
        !(sv.kind == RUN_KV_STR && sv.n == 7 && !memcmp(sv.s, "context", 7)))
        return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, NULL, "metadata 'model.rope_select' is neither 'context' nor 'sequence'");
    if (by_sequence && c->n_ctx > orig)
        return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, NULL,
                            "a context of %u positions passes longrope's original %llu, where the release "
                            "(model.rope_select 'sequence') switches factor sets depending on how the tokens are batched; "
                            "the runner refuses rather than pick one (use a context of at most %llu)",
                            c->n_ctx, (unsigned long long)orig, (unsigned long long)orig);
    int const use_long = !by_sequence && hp->n_ctx_train > orig;
    if (!by_sequence && !use_long && c->n_ctx > orig)
        return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, NULL,
                            "a context of %u positions passes longrope's original %llu while the model's own (model.n_ctx "
                            "%u) selects the short factors; the release's code and llama.cpp switch sets differently "
                            "there, so the runner refuses rather than pick one (spec 10.1)",
                            c->n_ctx, (unsigned long long)orig, hp->n_ctx_train);
    double mscale;
    int rc = attn_factor(c, use_long ? "model.rope_attn_factor_long" : "model.rope_attn_factor_short", &mscale, err);
    if (rc) return rc;
    float *f = trit_mallocarray(half, sizeof *f);
    if (!f) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    /* both sets must be valid, whichever is used: a file is one model, not a half-checked one */
    rc = load_factors(c, use_long ? "rope_factors_short.weight" : "rope_factors_long.weight", half, f, err);
    if (!rc) rc = load_factors(c, use_long ? "rope_factors_long.weight" : "rope_factors_short.weight", half, f, err);
    if (!rc)
        for (uint32_t i = 0; i < half; i++) c->rope_inv_freq[i] /= (double)f[i];
    free(f);
    c->rope_mscale = (float)mscale;
    return rc;
}

int run__rope_init(run_ctx *c, trit_err *err)
{
    run_hparams const *hp = &c->hp;
    if (hp->kv_lora_rank) return TRIT_OK;   /* run_mla.c */
    uint32_t const half = hp->rope_dim / 2;
    c->rope_inv_freq = trit_mallocarray(half ? half : 1, sizeof *c->rope_inv_freq);
    if (!c->rope_inv_freq) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    for (uint32_t i = 0; i < half; i++) c->rope_inv_freq[i] = pow((double)hp->rope_theta, -2.0 * (double)i / (double)hp->rope_dim);
    c->rope_mscale = 1.0f;
    run_kv scaling;
    if (get(c, "model.rope_scaling", &scaling)) {
        if (scaling.kind == RUN_KV_STR && scaling.n == 4 && !memcmp(scaling.s, "yarn", 4)) {   /* run_yarn.c (gpt-oss) */
            double mult;
            int const rc = run__yarn(c, c->rope_inv_freq, half, (double)hp->rope_dim, &c->rope_mscale, &mult, err);
            c->hp.attn_scale = (float)((double)c->hp.attn_scale * mult);
            return rc;
        }
        if (scaling.kind != RUN_KV_STR || scaling.n != 8 || memcmp(scaling.s, "longrope", 8) != 0)
            return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, NULL,
                                "metadata 'model.rope_scaling' is '%.*s': the standard attention computes longrope and yarn",
                                (int)(scaling.kind == RUN_KV_STR && scaling.n < 32 ? scaling.n : 1),
                                scaling.kind == RUN_KV_STR ? scaling.s : "?");
        return longrope(c, half, err);
    }
    /* factors without the key that says how to use them would be dropped: refuse */
    static const char *const fac[] = {"rope_factors_long.weight", "rope_factors_short.weight"};
    static const char *const keys[] = {"model.rope_orig_ctx", "model.rope_attn_factor_short", "model.rope_attn_factor_long"};
    for (size_t i = 0; i < 2; i++)
        if (has_dense(c, fac[i]))
            return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, fac[i], "present without model.rope_scaling 'longrope'");
    for (size_t i = 0; i < 3; i++)
        if (get(c, keys[i], &scaling))
            return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, NULL,
                                "metadata '%s' is present without model.rope_scaling", keys[i]);
    return TRIT_OK;
}
