/*
 * run_yarn.c - YaRN rope scaling (spec 10.1, model.rope_scaling "yarn"), one implementation for
 * both attentions: multi-head latent attention (DeepSeek, run_mla.c) and the standard one
 * (gpt-oss, run_rope.c). Sources: DeepseekV2YarnRotaryEmbedding (modeling_deepseek.py:
 * yarn_find_correction_range, yarn_linear_ramp_mask, yarn_get_mscale), transformers'
 * modeling_rope_utils.py _compute_yarn_parameters (gpt-oss: rope_scaling truncate false), and
 * llama.cpp's ggml_rope_yarn_corr_dims / rope_yarn (floor / ceil always; de3ff815):
 *
 *   extra_i = base^(-2i/dim), inter_i = extra_i / factor
 *   low  = dim ln(orig / (beta_fast 2 pi)) / (2 ln base), high = the same with beta_slow;
 *          floor(low) and ceil(high) unless model.yarn_truncate is false; then
 *          low = max(low, 0), high = min(high, dim - 1)
 *   ramp_i = clamp((i - low) / (high - low), 0, 1)   (high += 0.001 when equal)
 *   inv_freq_i = inter_i ramp_i + extra_i (1 - ramp_i)
 *   cos/sin multiplier = yarn_get_mscale(factor, mscale) / yarn_get_mscale(factor, mscale_all_dim),
 *   yarn_get_mscale(s, m) = s <= 1 ? 1 : 0.1 m ln(s) + 1 (transformers' get_mscale(factor) when
 *   mscale 1 and mscale_all_dim 0: gpt-oss); the scores' scale is multiplied by
 *   yarn_get_mscale(factor, mscale_all_dim)^2 when mscale_all_dim != 0 (DeepSeek's softmax_scale).
 */
#include <math.h>
#include <string.h>

#include "run_int.h"

static int get(run_ctx *c, const char *key, run_kv *v)
{
    trit_err e2;
    return c->w->vt->get_kv(c->w->self, key, v, &e2) == TRIT_OK;
}

/* A finite number >= 0, def when absent. */
static int num(run_ctx *c, const char *key, double def, double *out, trit_err *err)
{
    run_kv v;
    *out = def;
    if (!get(c, key, &v)) return TRIT_OK;
    if ((v.kind != RUN_KV_FLOAT && v.kind != RUN_KV_UINT) || !isfinite(v.f) || v.f < 0)
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, NULL, "metadata '%s' is not a finite number >= 0", key);
    *out = v.f;
    return TRIT_OK;
}

static double get_mscale(double scale, double m) { return scale <= 1 ? 1.0 : 0.1 * m * log(scale) + 1.0; }

static double correction_dim(double rotations, double dim, double base, double orig)
{
    return dim * log(orig / (rotations * 2.0 * 3.14159265358979323846)) / (2.0 * log(base));
}

int run__yarn(run_ctx *c, double *inv_freq, uint32_t half, double dim, float *mscale, double *score_mult, trit_err *err)
{
    double factor, beta_fast, beta_slow, ms, ms_all;
    int rc;
    if ((rc = num(c, "model.rope_scale_factor", 1, &factor, err)) || (rc = num(c, "model.yarn_beta_fast", 32, &beta_fast, err)) ||
        (rc = num(c, "model.yarn_beta_slow", 1, &beta_slow, err)) || (rc = num(c, "model.yarn_mscale", 1, &ms, err)) ||
        (rc = num(c, "model.yarn_mscale_all_dim", 0, &ms_all, err)))
        return rc;
    run_kv ov, tv;
    if (!get(c, "model.rope_orig_ctx", &ov) || ov.kind != RUN_KV_UINT || ov.u == 0 || ov.u > UINT32_MAX)
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, NULL, "yarn needs metadata 'model.rope_orig_ctx' > 0");
    int truncate = 1;
    if (get(c, "model.yarn_truncate", &tv)) {
        if (tv.kind != RUN_KV_BOOL) return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, NULL, "metadata 'model.yarn_truncate' is not a bool");
        truncate = tv.u != 0;
    }
    if (!(factor > 0) || !(beta_fast > 0) || !(beta_slow > 0))
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, NULL, "yarn needs factor, beta_fast and beta_slow > 0");
    double const base = c->hp.rope_theta, orig = (double)ov.u;
    double low = correction_dim(beta_fast, dim, base, orig), high = correction_dim(beta_slow, dim, base, orig);
    if (truncate) {
        low = floor(low);
        high = ceil(high);
    }
    if (low < 0) low = 0;
    if (high > dim - 1) high = dim - 1;
    if (low == high) high += 0.001;
    for (uint32_t i = 0; i < half; i++) {
        double ramp = ((double)i - low) / (high - low);
        ramp = ramp < 0 ? 0 : ramp > 1 ? 1 : ramp;
        double const extra = inv_freq[i], inter = extra / factor;
        /* inv_freq_mask = 1 - ramp: inter * (1 - mask) + extra * mask */
        inv_freq[i] = inter * ramp + extra * (1.0 - ramp);
    }
    *mscale = (float)(get_mscale(factor, ms) / get_mscale(factor, ms_all));
    double const m = get_mscale(factor, ms_all);
    *score_mult = ms_all != 0 ? m * m : 1.0;
    return TRIT_OK;
}
