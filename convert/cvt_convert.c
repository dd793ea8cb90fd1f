/*
 * cvt_convert.c - the conversion: plan every output tensor, scan projections for exact ternary
 * structure (pass 1), declare the container, then stream every tensor into it (pass 2).
 *
 * Memory: one chunk of rows (CVT_CHUNK_VALUES floats) per pass, the scales of the tensor being
 * written (at most 1/16 of its values, only for per-row/per-group t2), and the plan/index.
 * Nothing grows with the number of tensors' bytes, so peak RSS stays flat with model size.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cvt.h"
#include "cvt_arch.h"
#include "cvt_conv_int.h"
#include "cvt_gptoss.h"
#include "src_safetensors.h"
#include "cvt_tok.h"
#include "cvt_ternary.h"
#include "trit_safemath.h"
#include "trit_pool.h"
#include "trit_sys.h"


static int nomem(trit_err *err) { return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory"); }

int cvt__is_projection(int role)
{
    return role == CVT_ROLE_PROJ || role == CVT_ROLE_EXPERT || role == CVT_ROLE_EXPERT_STACK ||
           role == CVT_ROLE_EXPERT_STACK_GATE_UP || role == CVT_ROLE_EXPERT_STACK_GATE_UP_IL;
}

/* Source row that holds output row r of p (rope un-permute, expert slicing, every row_step-th
 * row of gpt-oss's interleaved gate/up; the planners never combine the last with un-permuting). */
uint64_t cvt__src_row(const cvt_plan_t *p, uint64_t r)
{
    if (p->row_step > 1) return p->src_row0 + r * p->row_step;
    if (!p->permute_heads) return p->src_row0 + r;
    /* GGUF stores head h's row (i2, j) [i2 in {0,1}, j < hd/2] at h*hd + 2j + i2; the neox (HF)
     * order puts it at h*hd + i2*hd/2 + j (convert_hf_to_gguf.py permute, inverted). */
    uint64_t const hd = p->rows / p->permute_heads;
    uint64_t const h = r / hd, w = r % hd, half = hd / 2;
    uint64_t const i2 = w / half, j = w % half;
    return p->src_row0 + h * hd + 2 * j + i2;
}

/* Read output rows [r0, r0+nr) of p as floats into buf (nr * cols values). */
/* Rows of attn_kv_b from llama.cpp's split halves (conversion/deepseek.py: kv_b_proj viewed
 * [H, nope + v, kv_lora], k_b = its first nope rows per head transposed to [H, kv_lora, nope],
 * v_b the other v rows): row h * (nope + v) + j is k_b[h][.][j] for j < nope, else
 * v_b[h][j - nope][.]. The k_b head slab is read once per head. */
static int read_kv_b(cvt_conv *c, const cvt_plan_t *p, uint64_t r0, uint64_t nr, float *buf, trit_err *err)
{
    uint64_t const kl = p->cols, per = (uint64_t)p->mla_nope + p->mla_v, slab_n = kl * p->mla_nope;
    float *slab = trit_mallocarray(slab_n ? slab_n : 1, sizeof *slab);
    if (!slab) return nomem(err);
    uint64_t have = UINT64_MAX;
    int rc = TRIT_OK;
    for (uint64_t k = 0; k < nr && rc == TRIT_OK; k++) {
        uint64_t const r = r0 + k, h = r / per, j = r % per;
        float *out = buf + k * kl;
        if (j >= p->mla_nope) {
            rc = src_f32(c->src, p->mla_vb, (h * p->mla_v + (j - p->mla_nope)) * kl, kl, out, err);
            continue;
        }
        if (h != have) {
            rc = src_f32(c->src, p->src, h * slab_n, slab_n, slab, err);
            have = h;
        }
        for (uint64_t col = 0; rc == TRIT_OK && col < kl; col++) out[col] = slab[col * p->mla_nope + j];
    }
    free(slab);
    return rc;
}

static int read_rows(cvt_conv *c, const cvt_plan_t *p, uint64_t r0, uint64_t nr, float *buf, trit_err *err)
{
    int rc = TRIT_OK;
    if (p->values) {
        memcpy(buf, p->values + r0 * p->cols, nr * p->cols * sizeof *buf);
    } else if (p->mla_nope) {
        rc = read_kv_b(c, p, r0, nr, buf, err);
    } else if (p->row_step > 1 || p->col_step > 1) {
        rc = cvt__read_strided(c->src, p, r0, nr, buf, err);   /* cvt_gptoss.c */
    } else if (!p->permute_heads) {
        rc = src_f32(c->src, p->src, (p->src_row0 + r0) * p->cols, nr * p->cols, buf, err);
    } else {
        for (uint64_t r = 0; r < nr && rc == TRIT_OK; r++)
            rc = src_f32(c->src, p->src, cvt__src_row(p, r0 + r) * p->cols, p->cols, buf + r * p->cols, err);
    }
    if (rc == TRIT_OK && p->mult != 1.0f)
        for (uint64_t k = 0; k < nr * p->cols; k++) buf[k] *= p->mult;
    return rc;
}

static uint64_t chunk_rows(const cvt_plan_t *p)
{
    uint64_t const r = CVT_CHUNK_VALUES / (p->cols ? p->cols : 1);
    return r ? r : 1;
}

/* The source dtype name and the float type a planned tensor keeps (config values: F32). */
static const char *plan_src_type(const cvt_conv *c, const cvt_plan_t *p)
{
    return p->values ? "config.json" : src_at(c->src, p->src)->type;
}

static uint32_t plan_float_type(const cvt_conv *c, const cvt_plan_t *p)
{
    return p->values ? TRIT_TYPE_F32 : src_at(c->src, p->src)->float_type;
}

/* ---- planning ---- */

static int add_plan(cvt_conv *c, const cvt_plan_t *t, trit_err *err)
{
    if ((c->n & (c->n + 1)) == 0 || c->n == 0) { /* grow at 0, 1, 3, 7 ... */
        size_t const cap = (size_t)(c->n + 1) * 2;
        cvt_plan_t *np = realloc(c->p, cap * sizeof *np);
        if (!np) return nomem(err);
        c->p = np;
    }
    c->p[c->n++] = *t;
    return TRIT_OK;
}

/* DeepSeek-V3's multi-token-prediction modules (README_WEIGHTS.md: num_nextn_predict_layers
 * modules stored as model.layers.{num_hidden_layers + i}: embed_tokens, enorm, hnorm, eh_proj,
 * shared_head and a full decoder layer) serve speculative decoding, not next-token logits; they are
 * left out by name, as llama.cpp's converter does (DeepseekV2Model.skip_mtp: every
 * model.layers.N with N >= num_hidden_layers). Layers past those stay unknown and are refused. */
static int is_mtp(const cvt_conv *c, const char *name)
{
    if (!c->m.n_nextn || strncmp(name, "model.layers.", 13) != 0) return 0;
    const char *p = name + 13;
    uint64_t L = 0;
    if (*p < '0' || *p > '9') return 0;
    for (; *p >= '0' && *p <= '9' && L < UINT32_MAX; p++) L = L * 10 + (uint64_t)(*p - '0');
    return *p == '.' && L >= c->m.n_layer && L - c->m.n_layer < c->m.n_nextn;
}

/* A deepseek2 GGUF's blk.L.attn_k_b / attn_v_b (llama.cpp's MLA layout, exg_mla.c writes the
 * same): k_b becomes the plan of blk.L.attn_kv_b, v_b is consumed by it (*skip). Shapes are
 * checked against the description. Returns 1 when the name is one of them. */
static int plan_kv_b(cvt_conv *c, uint32_t i, int *skip, cvt_plan_t *t, trit_err *err, int *rc)
{
    src_tensor const *s = src_at(c->src, i);
    size_t const n = strlen(s->name);
    *rc = TRIT_OK;
    if (strcmp(c->m.arch, "deepseek2") != 0 || strncmp(s->name, "blk.", 4) != 0 || n < 16) return 0;
    int const is_k = !strcmp(s->name + n - 16, ".attn_k_b.weight"), is_v = !strcmp(s->name + n - 16, ".attn_v_b.weight");
    if (!is_k && !is_v) return 0;
    *skip = is_v;
    char vn[160];
    snprintf(vn, sizeof vn, "%.*s.attn_v_b.weight", (int)(n - 16), s->name);
    int64_t const vi = is_k ? src_find(c->src, vn) : -1;
    if (is_v) {
        char kn[160];
        snprintf(kn, sizeof kn, "%.*s.attn_k_b.weight", (int)(n - 16), s->name);
        if (src_find(c->src, kn) < 0)
            *rc = trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, s->name, "attn_v_b without its attn_k_b");
        return 1;
    }
    uint64_t const H = c->m.n_head, nope = (uint64_t)c->m.head_dim - c->m.rope_dim, v = c->m.v_head_dim, kl = c->m.kv_lora_rank;
    src_tensor const *sv = vi >= 0 ? src_at(c->src, (uint32_t)vi) : NULL;
    if (!sv || s->n_dims != 3 || s->dims[0] != H || s->dims[1] != kl || s->dims[2] != nope || sv->n_dims != 3 ||
        sv->dims[0] != H || sv->dims[1] != v || sv->dims[2] != kl) {
        *rc = trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, s->name,
                           "attn_k_b must be [n_head %llu][kv_lora %llu][qk_nope %llu] with attn_v_b [%llu][v %llu][%llu]",
                           (unsigned long long)H, (unsigned long long)kl, (unsigned long long)nope, (unsigned long long)H,
                           (unsigned long long)v, (unsigned long long)kl);
        return 1;
    }
    snprintf(t->name, sizeof t->name, "%.*s.attn_kv_b.weight", (int)(n - 16), s->name);
    t->role = CVT_ROLE_PROJ;
    t->n_dims = 2;
    t->dims[0] = H * (nope + v);
    t->dims[1] = kl;
    t->rows = H * (nope + v);
    t->cols = kl;
    t->mla_vb = (uint32_t)vi;
    t->mla_nope = (uint32_t)nope;
    t->mla_v = (uint32_t)v;
    return 1;
}

static int plan(cvt_conv *c, trit_err *err)
{
    int const gguf = src_ckpt_gguf(c->src) != NULL;
    uint32_t const ns = src_n(c->src);
    for (uint32_t i = 0; i < ns; i++) {
        src_tensor const *s = src_at(c->src, i);
        if (s->skip) continue;
        if (!gguf && is_mtp(c, s->name)) {
            c->n_mtp_skipped++;
            continue;
        }
        if (gguf) {
            cvt_plan_t kt;
            memset(&kt, 0, sizeof kt);
            int skip = 0, krc;
            if (plan_kv_b(c, i, &skip, &kt, err, &krc)) {
                if (krc) return krc;
                if (skip) continue;
                kt.src = i;
                kt.layer = TRIT_NONE32;
                sscanf(s->name, "blk.%u.", &kt.layer);
                kt.expert = TRIT_NONE32;
                kt.mult = 1.0f;
                kt.unit = TRIT_NONE32;
                int const arc = add_plan(c, &kt, err);
                if (arc) return arc;
                continue;
            }
        }
        cvt_name nm;
        char alias[CVT_GPTOSS_NAME_CAP];
        const char *sname = gguf ? cvt__gptoss_gguf_name(c->m.arch, s->name, alias) : s->name;
        if (!strcmp(s->name, "rope_freqs.weight"))
            return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, s->name,
                                "per-frequency rope factors (llama.cpp's rope_freqs, llama 3.1 rope scaling) are not "
                                "computed; trit refuses rather than rotate without them");
        if (cvt_arch_map_name(sname, gguf, &nm) != 0)
            return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, s->name,
                                "tensor name not understood for architecture %s", c->m.arch);
        if (nm.role == CVT_ROLE_SKIP || nm.role == CVT_ROLE_SCALE) continue;
        cvt_plan_t t;
        memset(&t, 0, sizeof t);
        t.src = i;
        t.role = nm.role;
        t.layer = nm.layer;
        t.expert = nm.expert;
        t.mult = 1.0f;
        t.unit = TRIT_NONE32;
        t.n_dims = s->n_dims;
        memcpy(t.dims, s->dims, sizeof t.dims);
        t.cols = s->n_dims ? s->dims[s->n_dims - 1] : 1;
        t.rows = t.cols ? s->n_elems / t.cols : 0;
        if (gguf && cvt__is_projection(nm.role)) {
            /* mainline bitnet GGUFs may carry {name}.scale: the real weight is value * scale */
            char sn[160];
            snprintf(sn, sizeof sn, "%.*s.scale", (int)(strlen(s->name) - 7), s->name);
            int64_t const si = strlen(s->name) > 7 ? src_find(c->src, sn) : -1;
            if (si >= 0) {
                float v;
                int const rc = src_f32(c->src, (uint32_t)si, 0, 1, &v, err);
                if (rc) return rc;
                t.mult = v;
            }
        }
        if (c->m.gguf_unpermute && (strstr(nm.name, ".attn_q.") || strstr(nm.name, ".attn_k."))) {
            t.permute_heads = strstr(nm.name, ".attn_q.") ? c->m.n_head : c->m.n_head_kv;
            if (!t.permute_heads || t.rows % t.permute_heads || (t.rows / t.permute_heads) % 2)
                return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, s->name,
                                    "%llu rows do not split into %u heads of even size",
                                    (unsigned long long)t.rows, t.permute_heads);
            if (t.n_dims == 1) t.cols = 1, t.rows = s->n_elems; /* a bias: one value per row */
        }
        if (nm.role == CVT_ROLE_EXPERT_STACK_GATE_UP_IL || nm.role == CVT_ROLE_BIAS_GATE_UP_IL) {
            int const rc = cvt__plan_gate_up_il(c, &t, s, &nm, err);   /* cvt_gptoss.c */
            if (rc) return rc;
            continue;
        }
        if (nm.role == CVT_ROLE_EXPERT_STACK_GATE_UP) {
            /* [E, 2*ff, in]: expert e's gate is rows [2e*ff, (2e+1)*ff), its up the next ff */
            if (s->n_dims != 3 || s->dims[0] == 0 || s->dims[1] % 2)
                return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, s->name,
                                    "fused gate/up expert stack is not 3-D with an even row count");
            uint64_t const E = s->dims[0], ff = s->dims[1] / 2;
            size_t const stem = strlen(nm.name) - strlen("gate");   /* "blk.L.ffn_" */
            for (uint64_t e = 0; e < E; e++)
                for (int half = 0; half < 2; half++) {
                    cvt_plan_t x = t;
                    snprintf(x.name, sizeof x.name, "%.*s%s.%llu.weight", (int)stem, nm.name, half ? "up" : "gate",
                             (unsigned long long)e);
                    x.role = CVT_ROLE_EXPERT;
                    x.expert = (uint32_t)e;
                    x.n_dims = 2;
                    x.dims[0] = ff;
                    x.dims[1] = s->dims[2];
                    x.rows = ff;
                    x.cols = s->dims[2];
                    x.src_row0 = (2 * e + (uint64_t)half) * ff;
                    int const rc = add_plan(c, &x, err);
                    if (rc) return rc;
                }
            continue;
        }
        if (nm.role == CVT_ROLE_EXPERT_STACK) {
            if (s->n_dims != 3 || s->dims[0] == 0)
                return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, s->name, "expert stack is not 3-D");
            uint64_t const E = s->dims[0], out = s->dims[1];
            for (uint64_t e = 0; e < E; e++) {
                cvt_plan_t x = t;
                snprintf(x.name, sizeof x.name, "%.90s.%llu.weight", nm.name, (unsigned long long)e);
                x.role = CVT_ROLE_EXPERT;
                x.expert = (uint32_t)e;
                x.n_dims = 2;
                x.dims[0] = out;
                x.dims[1] = s->dims[2];
                x.rows = out;
                x.cols = s->dims[2];
                x.src_row0 = e * out;
                int const rc = add_plan(c, &x, err);
                if (rc) return rc;
            }
            continue;
        }
        snprintf(t.name, sizeof t.name, "%s", nm.name);
        int const rc = add_plan(c, &t, err);
        if (rc) return rc;
    }
    /* longrope factors an HF release states in config.json (rope_scaling long_factor /
     * short_factor) become the tensors a GGUF carries (cvt_arch.c read and checked them) */
    if (c->m.n_rope_factors) {
        const float *const vals[2] = {c->m.rope_long, c->m.rope_short};
        static const char *const names[2] = {"rope_factors_long.weight", "rope_factors_short.weight"};
        for (int k = 0; k < 2; k++) {
            cvt_plan_t t;
            memset(&t, 0, sizeof t);
            snprintf(t.name, sizeof t.name, "%s", names[k]);
            t.src = TRIT_NONE32;
            t.values = vals[k];
            t.role = CVT_ROLE_FLOAT;
            t.layer = t.expert = t.unit = TRIT_NONE32;
            t.mult = 1.0f;
            t.n_dims = 1;
            t.dims[0] = t.cols = c->m.n_rope_factors;
            t.rows = 1;
            int const rc = add_plan(c, &t, err);
            if (rc) return rc;
        }
    }
    /* a Qwen2-MoE shared-expert gate [1, n_embd] is stored as [n_embd] in every layer */
    for (uint32_t i = 0; i < c->n; i++) {
        cvt_plan_t *t = &c->p[i];
        if (strstr(t->name, ".ffn_gate_inp_shexp.") && t->n_dims == 2 && t->dims[0] == 1) {
            t->n_dims = 1;
            t->dims[0] = t->dims[1];
        }
    }
    return TRIT_OK;
}

/* ---- pass 1: which projections are ternary, at which granularity ---- */

int cvt__scan_float(cvt_conv *c, cvt_plan_t *p, float *buf, int *any_ternary, trit_err *err)
{
    cvt_tscan sc;
    cvt_tscan_init(&sc, p->cols);
    uint64_t const cr = chunk_rows(p);
    for (uint64_t r = 0; r < p->rows; r += cr) {
        uint64_t const nr = p->rows - r < cr ? p->rows - r : cr;
        int const rc = read_rows(c, p, r, nr, buf, err);
        if (rc) return rc;
        cvt_tscan_feed(&sc, buf, nr * p->cols);
    }
    return cvt__scan_result(c, p, &sc, any_ternary, err);
}

int cvt__scan_result(cvt_conv *c, cvt_plan_t *p, const cvt_tscan *scan, int *any_ternary, trit_err *err)
{
    src_tensor const *s = src_at(c->src, p->src);
    cvt_tscan const sc = *scan;
    if (sc.n_nonfinite)
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, s->name, "%llu NaN or infinite values",
                            (unsigned long long)sc.n_nonfinite);
    cvt_tscan_result r;
    cvt_tscan_result_get(&sc, &r);
    if (r.ternary) {
        p->ternary = 1;
        p->layout = (uint32_t)r.layout;
        p->group = (uint32_t)r.group;
        p->tensor_scale = r.tensor_mag;
        *any_ternary = 1;
    } else {
        p->tensor_scale = (float)(r.mean_abs + 1e-8); /* absmean gamma, if ternarized */
        p->out_type = s->float_type;
        /* a rebuilt attn_kv_b whose halves differ in type: F32 holds both exactly */
        if (p->mla_nope && src_at(c->src, p->mla_vb)->float_type != s->float_type) p->out_type = TRIT_TYPE_F32;
    }
    return TRIT_OK;
}

static int scan(cvt_conv *c, trit_err *err)
{
    for (uint32_t i = 0; i < c->n; i++)
        if (!cvt__is_projection(c->p[i].role)) c->p[i].out_type = c->p[i].q8 ? TRIT_TYPE_I8 : plan_float_type(c, &c->p[i]);
    cvt__blk_plan(c);   /* block-quantized sources kept as they are: not scanned */
    int rc = cvt__scan_all(c, err);
    if (rc) return rc;
    int any_ternary = 0;
    for (uint32_t i = 0; i < c->n; i++) any_ternary |= c->p[i].ternary;
    /* A ternary model's projections must all be ternary (or be ternarized: on request, or
     * because the config says the release quantizes its master weights online). */
    int const ternarize = c->o->ternarize || c->m.online_quant[0];
    int const want_ternary = c->m.ternary_model || any_ternary || ternarize;
    for (uint32_t i = 0; i < c->n && want_ternary; i++) {
        cvt_plan_t *p = &c->p[i];
        if (!cvt__is_projection(p->role) || p->ternary) continue;
        if (!ternarize)
            return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, src_at(c->src, p->src)->name,
                                "projection should be ternary but is not (%s values of a %s model): "
                                "use --ternarize for absmean ternarization",
                                src_at(c->src, p->src)->type, c->m.ternary_model ? "ternary" : "partly ternary");
        p->ternary = 1;
        p->ternarize = 1;
        p->layout = TRIT_SCALE_TENSOR;
        /* A Q4_0/Q5_0/Q4_K/Q8_0/FP8 copy of a ternary model: the codes come out of absmean's
         * rounding, but its gamma is the mean over zeros too (about 0.65 of the magnitude), and the
         * block quantizers skew the two signs (Q4_0 keeps the block's extreme exact and gives the
         * other sign 7/8 of it). The magnitude is the median of the 32-value blocks' extremes
         * (write_t2). Float latent weights keep BitNet's absmean gamma: the model's definition. */
        const char *ty = src_at(c->src, p->src)->type;
        p->ls_magnitude = strcmp(ty, "F32") && strcmp(ty, "F16") && strcmp(ty, "BF16") && strcmp(ty, "F64");
    }
    int n_t2 = 0;
    for (uint32_t i = 0; i < c->n; i++)
        if (c->p[i].ternary) c->p[i].out_type = TRIT_TYPE_T2, n_t2++;
    /* ternary weights are computed against int8 activations (the BitNet way) */
    if (n_t2) snprintf(c->m.act_quant, sizeof c->m.act_quant, "int8_per_token");
    return TRIT_OK;
}

/* ---- declaration ---- */

void cvt__describe(const cvt_plan_t *p, trit_tensor_info *t)
{
    memset(t, 0, sizeof *t);
    t->name = p->name;
    t->type = p->out_type;
    trit_type_geometry(t->type, &t->block_elems, &t->block_bytes);
    t->n_dims = p->n_dims;
    memcpy(t->dims, p->dims, sizeof t->dims);
    t->layer = p->layer;
    t->expert = p->expert;
    t->unit = p->unit;
    if (p->ternary) {
        t->scale_layout = p->layout;
        t->scale_type = TRIT_SCALE_TYPE_F32;
        t->group_size = p->layout == TRIT_SCALE_GROUP ? p->group : 0;
    }
    if (p->q8) {
        t->scale_layout = TRIT_SCALE_ROW;
        t->scale_type = TRIT_SCALE_TYPE_F32;
    }
    trit_tensor_layout(t, NULL);
}

int cvt_units_from_name(const char *name)
{
    static const char *const names[] = {"zstd", "raw", "b3"};
    for (int i = 0; i < 3; i++)
        if (name && !strcmp(name, names[i])) return i;
    return -1;
}

void cvt__describe_member(const cvt_conv *c, const cvt_plan_t *p, trit_tensor_info *t)
{
    cvt__describe(p, t);
    if (c->o->expert_units == CVT_UNITS_B3 && p->unit != TRIT_NONE32 && t->type == TRIT_TYPE_T2) {
        t->type = TRIT_TYPE_B3;
        trit_type_geometry(t->type, &t->block_elems, &t->block_bytes);
        trit_tensor_layout(t, NULL);
    }
}

static int cmp_expert(const void *a, const void *b)
{
    const cvt_plan_t *const *x = a, *const *y = b;
    if ((*x)->layer != (*y)->layer) return (*x)->layer < (*y)->layer ? -1 : 1;
    if ((*x)->expert != (*y)->expert) return (*x)->expert < (*y)->expert ? -1 : 1;
    return strcmp((*x)->name, (*y)->name); /* ffn_down < ffn_gate < ffn_up: fixed order */
}

/* Experts, sorted by (layer, expert): each distinct pair becomes one unit. *out caller frees. */
int cvt__experts_sorted(cvt_conv *c, cvt_plan_t ***out, uint32_t *n, trit_err *err)
{
    uint32_t k = 0;
    cvt_plan_t **v = calloc((size_t)c->n + 1, sizeof *v);
    if (!v) return nomem(err);
    for (uint32_t i = 0; i < c->n; i++)
        if (c->p[i].role == CVT_ROLE_EXPERT) v[k++] = &c->p[i];
    qsort(v, k, sizeof *v, cmp_expert);
    *out = v;
    *n = k;
    return TRIT_OK;
}

/* ---- pass 2: writing ---- */

/* 1 when one of n 16-bit floats is a NaN (|h| above inf, the exponent-all-ones bits): a max over
 * 8-lane vectors, since almost no chunk has one and the fix-up below goes value by value */
static int nan16(const uint8_t *p, uint64_t n, unsigned inf)
{
    /* |h| fits 15 bits: a signed 16-bit max (one instruction on SSE2 and NEON) */
    typedef int16_t v8 __attribute__((vector_size(16)));
    v8 const mask = {0x7fff, 0x7fff, 0x7fff, 0x7fff, 0x7fff, 0x7fff, 0x7fff, 0x7fff};
    v8 mx = {0, 0, 0, 0, 0, 0, 0, 0};
    uint64_t k = 0;
    for (; k + 8 <= n; k += 8) {
        v8 v;
        memcpy(&v, p + 2 * k, sizeof v);
        v &= mask;
        v8 const gt = v > mx;
        mx = (v & gt) | (mx & ~gt);
    }
    unsigned top = 0;
    for (int j = 0; j < 8; j++) top = (unsigned)mx[j] > top ? (unsigned)mx[j] : top;
    for (; k < n; k++) {
        unsigned const h = (unsigned)(p[2 * k] | p[2 * k + 1] << 8) & 0x7fffu;
        top = h > top ? h : top;
    }
    return top > inf;
}

/* A float tensor stored in its own type (f32, f16, bf16 -> the same) is its source bytes: the
 * float round trip is exact but for NaNs, which trit_f32_to_f16/_bf16 make quiet (f16: the
 * canonical 0x7e00), so the copy does the same to them. */
static int copy_raw(cvt_conv *c, cvt_emit *e, const cvt_plan_t *p, uint64_t r0, uint64_t nrows, size_t es, trit_err *err)
{
    uint64_t const cr = chunk_rows(p);
    int rc = TRIT_OK;
    for (uint64_t r = r0; r < r0 + nrows && rc == TRIT_OK; r += cr) {
        uint64_t const nr = r0 + nrows - r < cr ? r0 + nrows - r : cr, nv = nr * p->cols;
        /* read straight into the sink's storage when it has some, else through e->buf
         * (CVT_CHUNK_VALUES floats: room for cr rows of any es <= 4) */
        uint8_t *const direct = e->claim ? e->claim(e->sink_ctx, nv * es, err) : NULL;
        uint8_t *const out = direct ? direct : (uint8_t *)e->buf;
        if (e->claim && !direct) return TRIT_E_NOMEM;
        rc = src_raw(c->src, p->src, (p->src_row0 + r) * p->cols * es, out, nv * es, err);
        if (rc == TRIT_OK && es == 2 && nan16(out, nv, p->out_type == TRIT_TYPE_BF16 ? 0x7f80u : 0x7c00u)) {
            uint16_t *h = (uint16_t *)(void *)out;
            if (p->out_type == TRIT_TYPE_BF16) {
                for (uint64_t k = 0; k < nv; k++)
                    if ((h[k] & 0x7fffu) > 0x7f80u) h[k] = (uint16_t)(h[k] | 0x40u);
            } else {
                for (uint64_t k = 0; k < nv; k++)
                    if ((h[k] & 0x7fffu) > 0x7c00u) h[k] = (uint16_t)((h[k] & 0x8000u) | 0x7e00u);
            }
        }
        if (rc == TRIT_OK && !direct) rc = e->sink(e->sink_ctx, out, nv * es, err);
    }
    return rc;
}

static int write_float(cvt_conv *c, cvt_emit *e, const cvt_plan_t *p, uint64_t r0, uint64_t nrows, trit_err *err)
{
    /* raw copy of the source bytes, when the rows are one source tensor's */
    if (cvt__rows_from_source(p)) {
        const char *ty = src_at(c->src, p->src)->type;
        size_t const es = !strcmp(ty, "F32") ? 4 : !strcmp(ty, "F16") || !strcmp(ty, "BF16") ? 2 : 0;
        if (es && !p->permute_heads && p->mult == 1.0f && !c->o->decode_float &&
            src_at(c->src, p->src)->float_type == p->out_type)
            return copy_raw(c, e, p, r0, nrows, es, err);
    }
    uint64_t const cr = chunk_rows(p);
    size_t const es = p->out_type == TRIT_TYPE_F32 ? 4 : 2;
    uint8_t *out = malloc(CVT_CHUNK_VALUES * es + es);
    if (!out) return nomem(err);
    int rc = TRIT_OK;
    for (uint64_t r = r0; r < r0 + nrows && rc == TRIT_OK; r += cr) {
        uint64_t const nr = r0 + nrows - r < cr ? r0 + nrows - r : cr, nv = nr * p->cols;
        rc = read_rows(c, p, r, nr, e->buf, err);
        if (rc == TRIT_OK && es == 4) {
            memcpy(out, e->buf, nv * 4);   /* the host is little-endian (trit_load_le32 agrees) */
        } else {
            for (uint64_t k = 0; rc == TRIT_OK && k < nv; k++) {
                /* f16/bf16 sources decode exactly to f32, so this round trip is exact */
                uint16_t const h = p->out_type == TRIT_TYPE_F16 ? trit_f32_to_f16(e->buf[k]) : trit_f32_to_bf16(e->buf[k]);
                out[2 * k] = (uint8_t)h;
                out[2 * k + 1] = (uint8_t)(h >> 8);
            }
        }
        if (rc == TRIT_OK) rc = e->sink(e->sink_ctx, out, nv * es, err);
    }
    free(out);
    return rc;
}

/* Exact ternary rows from float values: codes are the signs, scales the magnitudes seen. */
static int t2_rows_exact(cvt_conv *c, cvt_emit *e, const cvt_plan_t *p, uint64_t r0, uint64_t nrows, float *scales,
                         trit_err *err)
{
    uint64_t const row_bytes = trit_div_ceil(p->cols, TRIT_T2_BLOCK_ELEMS) * TRIT_T2_BLOCK_BYTES;
    uint64_t const cr = chunk_rows(p);
    uint64_t const gpr = p->layout == TRIT_SCALE_GROUP ? trit_div_ceil(p->cols, p->group) : 1;
    int8_t *codes = malloc((size_t)p->cols + 1);
    uint8_t *packed = malloc((size_t)row_bytes + 1);
    int rc = codes && packed ? TRIT_OK : nomem(err);
    for (uint64_t r = r0; r < r0 + nrows && rc == TRIT_OK; r += cr) {
        uint64_t const nr = r0 + nrows - r < cr ? r0 + nrows - r : cr;
        rc = read_rows(c, p, r, nr, e->buf, err);
        for (uint64_t rr = 0; rc == TRIT_OK && rr < nr; rr++) {
            const float *x = e->buf + rr * p->cols;
            uint64_t const row = r + rr;
            for (uint64_t k = 0; k < p->cols; k++) codes[k] = (int8_t)((x[k] > 0) - (x[k] < 0));
            /* a scope's scale is the magnitude of its last non-zero value (all are equal) */
            uint64_t const gw = p->layout == TRIT_SCALE_GROUP ? p->group : p->cols;
            for (uint64_t g = 0; p->layout != TRIT_SCALE_TENSOR && g < gpr; g++) {
                uint64_t const k0 = g * gw, k1 = k0 + gw < p->cols ? k0 + gw : p->cols;
                for (uint64_t k = k1; k-- > k0;)
                    if (codes[k]) {
                        scales[p->layout == TRIT_SCALE_ROW ? row : row * gpr + g] = fabsf(x[k]);
                        break;
                    }
            }
            if (p->role == CVT_ROLE_EXPERT)
                for (uint64_t k = 0; k < p->cols; k++) e->code_hist[codes[k] + 1]++;
            trit_t2_pack_row(codes, p->cols, packed);
            rc = e->sink(e->sink_ctx, packed, row_bytes, err);
        }
    }
    free(codes);
    free(packed);
    return rc;
}

int cvt__emit_rows(cvt_conv *c, cvt_emit *e, const cvt_plan_t *p, uint64_t r0, uint64_t nr, float *scales, trit_err *err)
{
    if (p->blk) return cvt__blk_rows(c, e, p, r0, nr, err);
    if (!p->ternary) return write_float(c, e, p, r0, nr, err);
    if (p->ternarize) {
        if (r0 == 0 && p->layout == TRIT_SCALE_TENSOR) scales[0] = p->tensor_scale;   /* absmean's gamma */
        return cvt__absmean_rows(c, e, p, r0, nr, err);
    }
    if (p->codes.kind) return cvt__codes_rows(c, e, p, r0, nr, scales, err);
    return t2_rows_exact(c, e, p, r0, nr, scales, err);
}

int cvt__t2_tail(cvt_emit *e, const cvt_plan_t *p, const trit_tensor_info *ti, float *scales, trit_err *err)
{
    uint64_t const row_bytes = trit_div_ceil(p->cols, TRIT_T2_BLOCK_ELEMS) * TRIT_T2_BLOCK_BYTES;
    if (p->layout == TRIT_SCALE_TENSOR && !p->ternarize) scales[0] = p->tensor_scale;
    /* a scope with no non-zero weight has no magnitude: give it 1 so every scale is usable */
    for (uint64_t k = 0; k < ti->n_scales; k++)
        if (scales[k] == 0) scales[k] = 1.0f;
    static const uint8_t zeros[16];
    int rc = e->sink(e->sink_ctx, zeros, ti->scales_off - p->rows * row_bytes, err);
    if (rc == TRIT_OK) rc = e->sink(e->sink_ctx, scales, ti->n_scales * 4, err);
    return rc;
}

void cvt__absmean_err(cvt_plan_t *p, double sq, double max)
{
    uint64_t const n = p->rows * p->cols;
    p->max_err = max;
    p->rms_err = n ? sqrt(sq / (double)n) : 0;
}

/* t2 of a block-quantized copy of a ternary model (ls_magnitude; lossy): codes by absmean's
 * rounding row by row, the magnitude from the blocks' extremes and the error terms summed in row
 * order over the whole tensor; then the zero gap and the scale. Plain absmean: cvt_absmean.c. */
static int write_t2_ternarize(cvt_conv *c, cvt_emit *e, cvt_plan_t *p, const trit_tensor_info *ti, trit_err *err)
{
    uint64_t const row_bytes = trit_div_ceil(p->cols, TRIT_T2_BLOCK_ELEMS) * TRIT_T2_BLOCK_BYTES;
    uint64_t const cr = chunk_rows(p);
    float *scales = trit_mallocarray((size_t)(ti->n_scales ? ti->n_scales : 1), sizeof *scales);
    int8_t *codes = malloc((size_t)p->cols + 1);
    uint8_t *packed = malloc((size_t)row_bytes + 1);
    if (!scales || !codes || !packed) {
        free(scales);
        free(codes);
        free(packed);
        return nomem(err);
    }
    for (uint64_t k = 0; k < ti->n_scales; k++) scales[k] = 0;
    if (p->layout == TRIT_SCALE_TENSOR) scales[0] = p->tensor_scale;
    double sq = 0, maxe = 0;
    /* the magnitude of a quantized copy (p->ls_magnitude): the median of the extremes |x| of the
     * 32-value blocks that hold a non-zero code, through a histogram over [0, 8 gamma) whose
     * median bin's mean is the estimate (a block quantizer reproduces each block's extreme; the
     * scale is written after the codes, so one pass does). Error terms as sums over codes. */
    enum { MAG_BINS = 1 << 14 };
    uint32_t *mag_n = NULL;
    double *mag_sum = NULL, nz_abs = 0, nz_sq = 0, z_sq = 0, nz_min = INFINITY, nz_max = 0, z_max = 0, bmax = 0;
    uint64_t nz_n = 0, n_blocks = 0;
    int bnz = 0;
    if (p->ternarize && p->ls_magnitude) {
        mag_n = calloc(MAG_BINS, sizeof *mag_n);
        mag_sum = calloc(MAG_BINS, sizeof *mag_sum);
        if (!mag_n || !mag_sum) {
            free(mag_n);
            free(mag_sum);
            free(scales);
            free(codes);
            free(packed);
            return nomem(err);
        }
    }
    double const bin_w = 8.0 * p->tensor_scale / MAG_BINS;
    float const thr = cvt__absmean_threshold(p->tensor_scale);
    int rc = TRIT_OK;
    for (uint64_t r = 0; r < p->rows && rc == TRIT_OK; r += cr) {
        uint64_t const nr = p->rows - r < cr ? p->rows - r : cr;
        rc = read_rows(c, p, r, nr, e->buf, err);
        for (uint64_t rr = 0; rc == TRIT_OK && rr < nr; rr++) {
            const float *x = e->buf + rr * p->cols;
            for (uint64_t k = 0; k < p->cols; k++) {
                {
                    int8_t const q = (int8_t)((x[k] >= thr) - (x[k] <= -thr));   /* roundf(x / gamma), clamped */
                    double const er = fabs((double)x[k] - (double)q * p->tensor_scale);
                    sq += er * er;
                    if (er > maxe) maxe = er;
                    double const a = fabs((double)x[k]);
                    if (mag_n) {
                        if (a > bmax) bmax = a;
                        bnz |= q != 0;
                        if (k % 32 == 31 || k + 1 == p->cols) {
                            if (bnz) {
                                uint64_t bi = (uint64_t)(bmax / bin_w);
                                if (bi >= MAG_BINS) bi = MAG_BINS - 1;
                                mag_n[bi]++;
                                mag_sum[bi] += bmax;
                                n_blocks++;
                            }
                            bmax = 0;
                            bnz = 0;
                        }
                    }
                    if (q) {
                        nz_abs += a;
                        nz_sq += a * a;
                        nz_n++;
                        if (a < nz_min) nz_min = a;
                        if (a > nz_max) nz_max = a;
                    } else {
                        z_sq += a * a;
                        if (a > z_max) z_max = a;
                    }
                    codes[k] = q;
                    if (p->role == CVT_ROLE_EXPERT) e->code_hist[q + 1]++;
                }
            }
            trit_t2_pack_row(codes, p->cols, packed);
            rc = e->sink(e->sink_ctx, packed, row_bytes, err);
        }
    }
    if (mag_n && n_blocks && nz_n) {
        uint64_t seen = 0, bi = 0;
        while (bi < MAG_BINS && (seen += mag_n[bi]) * 2 < n_blocks) bi++;
        if (bi >= MAG_BINS) bi = MAG_BINS - 1;
        double const s = mag_sum[bi] / (mag_n[bi] ? mag_n[bi] : 1);
        scales[0] = (float)s;
        sq = nz_sq - 2 * s * nz_abs + (double)nz_n * s * s + z_sq;
        maxe = fmax(fmax(nz_max - s, s - nz_min), z_max);
    }
    if (rc == TRIT_OK) rc = cvt__t2_tail(e, p, ti, scales, err);
    uint64_t const n = p->rows * p->cols;
    p->max_err = maxe;
    p->rms_err = n ? sqrt(sq / (double)n) : 0;
    free(mag_n);
    free(mag_sum);
    free(scales);
    free(codes);
    free(packed);
    return rc;
}

int cvt__emit(cvt_conv *c, cvt_emit *e, cvt_plan_t *p, const trit_tensor_info *ti, trit_err *err)
{
    if (p->blk) return cvt__blk_rows(c, e, p, 0, p->rows, err);
    if (p->q8) return cvt__write_q8(c, e, p, ti, err);
    if (!p->ternary) return write_float(c, e, p, 0, p->rows, err);
    if (p->ternarize && p->ls_magnitude) return write_t2_ternarize(c, e, p, ti, err);
    float *scales = calloc((size_t)(ti->n_scales ? ti->n_scales : 1), sizeof *scales);
    if (!scales) return nomem(err);
    e->err_sq = e->err_max = 0;
    int rc = cvt__emit_rows(c, e, p, 0, p->rows, scales, err);
    if (rc == TRIT_OK) rc = cvt__t2_tail(e, p, ti, scales, err);
    free(scales);
    if (p->ternarize) cvt__absmean_err(p, e->err_sq, e->err_max);
    return rc;
}

int cvt__emit_init(cvt_emit *e, trit_err *err)
{
    memset(e, 0, sizeof *e);
    e->buf = malloc(CVT_CHUNK_VALUES * sizeof *e->buf);
    return e->buf ? TRIT_OK : nomem(err);
}

void cvt__emit_free(cvt_emit *e)
{
    free(e->buf);
    e->buf = NULL;
}

/* ---- sections and provenance ---- */

typedef struct side_file { const char *path; const char *name; uint32_t kind; uint32_t id; } side_file;

#define SIDE_MAX 8
#define SIDE_CAP (64ull << 20) /* tokenizer.json of a 256k vocab is ~ 20 MB */

static uint32_t side_files(cvt_conv *c, side_file *sf)
{
    const struct src_st *st = src_ckpt_st(c->src);
    uint32_t n = 0;
    if (!st) return 0;
    static const struct { uint32_t which; const char *name; uint32_t kind; } wanted[] = {
        {SRC_ST_SIDE_CONFIG, "config.json", TRIT_SECTION_CONFIG_JSON},
        {SRC_ST_SIDE_TOKENIZER_JSON, "tokenizer.json", TRIT_SECTION_TOKENIZER_JSON},
        {SRC_ST_SIDE_TOKENIZER_MODEL, "tokenizer.model", TRIT_SECTION_TOKENIZER_SPM},
        {SRC_ST_SIDE_TOKENIZER_CONFIG, "tokenizer_config.json", TRIT_SECTION_OTHER},
        {SRC_ST_SIDE_GENERATION_CONFIG, "generation_config.json", TRIT_SECTION_OTHER},
    };
    for (size_t i = 0; i < sizeof wanted / sizeof *wanted && n < SIDE_MAX; i++) {
        const char *p = src_st_side_path(st, wanted[i].which);
        if (p) sf[n++] = (side_file){p, wanted[i].name, wanted[i].kind, 0};
    }
    return n;
}

static int write_provenance(cvt_conv *c, trit_err *err)
{
    uint32_t const nf = src_n_files(c->src);
    const char **names = calloc((size_t)nf + 1, sizeof *names);
    uint64_t *sums = calloc((size_t)nf + 1, sizeof *sums);
    int rc = names && sums ? TRIT_OK : nomem(err);
    for (uint32_t k = 0; rc == TRIT_OK && k < nf; k++) {
        const char *p = src_file_path(c->src, k);
        const char *slash = strrchr(p, '/');
        names[k] = slash ? slash + 1 : p;
        sums[k] = c->file_xxh3[k];   /* hashed on the pool during the scan (cvt__scan_all) */
    }
    const char *ver = "trit " TRIT_VERSION_STRING;
    if (rc == TRIT_OK) rc = trit_writer_kv_str(c->w, "provenance.converter", ver, strlen(ver), err);
    if (rc == TRIT_OK) rc = trit_writer_kv_str(c->w, "provenance.source_format", src_format(c->src),
                                               strlen(src_format(c->src)), err);
    if (rc == TRIT_OK) rc = trit_writer_kv_arr_str(c->w, "provenance.source_files", names, NULL, nf, err);
    if (rc == TRIT_OK) rc = trit_writer_kv_arr(c->w, "provenance.source_xxh3", TRIT_KV_U64, sums, nf, err);
    free(names);
    free(sums);
    return rc;
}

/* ---- the whole conversion ---- */

/* rep->tensors: allocated by the caller before the output is written (a report without its
 * tensors would count 0 ternary tensors after a conversion that succeeded), or here. */
static int fill_report(cvt_conv *c, cvt_report *rep, const char *out_path, trit_err *err)
{
    cvt_tensor_report *const ts = rep->tensors;
    memset(rep, 0, sizeof *rep);
    snprintf(rep->arch, sizeof rep->arch, "%s", c->m.arch);
    snprintf(rep->source_format, sizeof rep->source_format, "%s", src_format(c->src));
    rep->n_tensors = c->n;
    rep->tensors = ts ? ts : calloc((size_t)c->n + 1, sizeof *rep->tensors);
    if (!rep->tensors) return nomem(err);
    rep->lossless = 1;
    snprintf(rep->tokenizer, sizeof rep->tokenizer, "%s", c->tok.kind ? c->tok.kind : "none");
    rep->tokenizer_tokens = c->tok.n_tokens;
    snprintf(rep->warning, sizeof rep->warning, "%s", c->tok.n_warnings ? c->tok.warning : "");
    if (!rep->warning[0] && c->n_mtp_skipped)
        snprintf(rep->warning, sizeof rep->warning,
                 "left out %u multi-token-prediction tensors (num_nextn_predict_layers %u, layers %u..%u): "
                 "speculative decoding only, not next-token logits", c->n_mtp_skipped, c->m.n_nextn, c->m.n_layer,
                 c->m.n_layer + c->m.n_nextn - 1);
    for (uint32_t i = 0; i < src_n(c->src); i++) rep->source_bytes += src_at(c->src, i)->src_bytes;
    for (uint32_t i = 0; i < c->n; i++) {
        cvt_plan_t const *p = &c->p[i];
        rep->n_params += p->rows * p->cols;
        if (p->ternarize) {
            rep->lossless = 0;
            snprintf(rep->ternarized_by, sizeof rep->ternarized_by, "%s",
                     c->o->ternarize ? "--ternarize" : c->m.online_quant);
        }
        if (p->q8) rep->lossless = 0;
        if (p->max_err > rep->max_abs_err) rep->max_abs_err = p->max_err;
        rep->n_code_domain += p->ternary && p->codes.kind != SRC_CODES_NONE;
        if (p->role == CVT_ROLE_EXPERT) rep->expert_weights += p->rows * p->cols;
        cvt_tensor_report *t = &rep->tensors[i];
        snprintf(t->name, sizeof t->name, "%s", p->name);
        snprintf(t->src_type, sizeof t->src_type, "%s", plan_src_type(c, p));
        snprintf(t->out_type, sizeof t->out_type, "%s", trit_type_name(p->out_type));
        static const char *const g[] = {"", "tensor", "row", "group"};
        if (p->ternary) snprintf(t->granularity, sizeof t->granularity, "%s", g[p->layout & 3]);
        t->group_size = p->group;
        t->ternarized = p->ternarize;
        t->max_abs_err = p->max_err;
        t->rms_err = p->rms_err;
        t->layer = p->layer;
        t->expert = p->expert;
        trit_tensor_info ti;
        cvt__describe_member(c, p, &ti);
        t->out_bytes = ti.size;
        if (p->unit == TRIT_NONE32) rep->dense_bytes += ti.size;
    }
    uint64_t const tot = c->code_hist[0] + c->code_hist[1] + c->code_hist[2];
    for (int k = 0; k < 3 && tot; k++)
        if (c->code_hist[k]) {
            double const q = (double)c->code_hist[k] / (double)tot;
            rep->expert_code_entropy -= q * log2(q);
        }
    trit_reader *r;
    int const orc = out_path ? trit_reader_open(out_path, NULL, &r, err) : TRIT_E_NOTFOUND;
    if (orc == TRIT_OK) {
        rep->out_bytes = trit_reader_file_info(r)->file_size;
        rep->n_units = trit_reader_n_units(r);
        for (uint32_t u = 0; u < rep->n_units; u++) {
            rep->expert_stored_bytes += trit_reader_unit(r, u)->stored_size;
            rep->expert_decoded_bytes += trit_reader_unit(r, u)->decoded_size;
        }
        trit_reader_close(r);
    }
    if (rep->expert_weights)
        rep->expert_bits_per_weight = (double)rep->expert_stored_bytes * 8.0 / (double)rep->expert_weights;
    /* the output is written; a report that cannot read its sizes back is still no report */
    return out_path ? orc : TRIT_OK;
}

/* The tokenizer as GGUF-style tokenizer.* records (section kind 3), from whatever the source
 * carries. A checkpoint without tokenizer files converts, with a warning in the report. */
static int build_tokenizer(cvt_conv *c, trit_kvbuf *kb, cvt_tok_info *info, trit_err *err)
{
    int rc;
    memset(info, 0, sizeof *info);
    if (src_ckpt_gguf(c->src)) {
        rc = cvt_tok_from_gguf(src_ckpt_gguf(c->src), kb, info, err);
    } else {
        const struct src_st *st = src_ckpt_st(c->src);
        const char *tj = src_st_side_path(st, SRC_ST_SIDE_TOKENIZER_JSON);
        const char *tm = src_st_side_path(st, SRC_ST_SIDE_TOKENIZER_MODEL);
        const char *tc = src_st_side_path(st, SRC_ST_SIDE_TOKENIZER_CONFIG);
        cvt_tok_opts to;
        memset(&to, 0, sizeof to);
        to.pad_to = c->m.n_vocab;
        to.config_json = src_st_side_path(st, SRC_ST_SIDE_CONFIG);
        to.unknown_pre_ok = 1;
        rc = tj || tm ? cvt_tok_from_hf_dir(tj, tm, tc, &to, kb, info, err) : TRIT_E_NOTFOUND;
    }
    return rc;
}

static int run(cvt_conv *c, const char *out_path, trit_err *err)
{
    int rc;
    cvt_plan_t **ex = NULL;
    uint32_t n_ex = 0;
    side_file sf[SIDE_MAX];
    uint32_t const n_sf = side_files(c, sf);
    trit_kvbuf *tok = NULL;
    uint32_t tok_id = 0;
    if ((rc = cvt__experts_sorted(c, &ex, &n_ex, err))) return rc;
    trit_write_opts wo = {0};
    wo.overwrite = c->o->overwrite;
    wo.page_align = c->o->page_align;
    wo.zstd_level = c->o->zstd_level ? c->o->zstd_level : CVT_DEFAULT_ZSTD_LEVEL;
    wo.temp_path = c->o->temp_path;   /* the writer registers its temp file with the caller's guard */
    wo.temp_ctx = c->o->progress_ctx;
    if ((rc = trit_writer_open(out_path, &wo, &c->w, err))) goto out;
    trit_kvbuf *kb = trit_kvbuf_new();
    if (!kb) { rc = nomem(err); goto out; }
    rc = cvt_arch_write(&c->m, kb, err);
    if (rc == TRIT_OK) rc = trit_writer_kv_import(c->w, kb, err);
    trit_kvbuf_free(kb);
    if (rc || (rc = write_provenance(c, err))) goto out;
    /* tokenizer: records for the runner and the exporter, plus the verbatim files below */
    tok = trit_kvbuf_new();
    if (!tok) { rc = nomem(err); goto out; }
    rc = build_tokenizer(c, tok, &c->tok, err);
    if (rc == TRIT_E_NOTFOUND) {
        snprintf(c->tok.warning, sizeof c->tok.warning, "the source has no tokenizer: the container carries none");
        c->tok.n_warnings++;
        trit_kvbuf_free(tok);
        tok = NULL;
        rc = TRIT_OK;
    }
    if (rc) goto out;
    if (tok) {
        if ((rc = trit_writer_kv_str(c->w, "tokenizer.kind", c->tok.kind, strlen(c->tok.kind), err))) goto out;
        if ((rc = trit_writer_add_section(c->w, "tokenizer.kv", TRIT_SECTION_TOKENIZER_KV, &tok_id, err))) goto out;
    }
    for (uint32_t k = 0; k < n_sf; k++)
        if ((rc = trit_writer_add_section(c->w, sf[k].name, sf[k].kind, &sf[k].id, err))) goto out;
    /* units: one per (layer, expert), members in a fixed order */
    uint32_t units = 0;
    for (uint32_t k = 0; k < n_ex; k++) {
        if (k == 0 || ex[k]->layer != ex[k - 1]->layer || ex[k]->expert != ex[k - 1]->expert) {
            uint32_t id;
            rc = trit_writer_add_unit(c->w, ex[k]->layer, ex[k]->expert,
                                      c->o->expert_units == CVT_UNITS_ZSTD ? TRIT_STORAGE_ZSTD : TRIT_STORAGE_RAW, &id, err);
            if (rc) goto out;
            units = id + 1;
        }
        ex[k]->unit = units - 1;
    }
    for (uint32_t i = 0; i < c->n; i++) {
        if (c->p[i].role == CVT_ROLE_EXPERT) continue;
        trit_tensor_info ti;
        cvt__describe(&c->p[i], &ti);
        if ((rc = trit_writer_add_tensor(c->w, &ti, &c->p[i].id, err))) goto out;
    }
    for (uint32_t k = 0; k < n_ex; k++) {
        trit_tensor_info ti;
        cvt__describe_member(c, ex[k], &ti);
        if ((rc = trit_writer_add_tensor(c->w, &ti, &ex[k]->id, err))) goto out;
    }
    if ((rc = cvt__write_all(c, ex, n_ex, err))) goto out;
    if (tok) {
        const void *td;
        uint64_t tn;
        if ((rc = trit_kvbuf_data(tok, &td, &tn, err)) || (rc = trit_writer_write_section(c->w, tok_id, td, tn, err)))
            goto out;
    }
    for (uint32_t k = 0; k < n_sf; k++) {
        uint8_t *b = NULL;
        size_t n = 0;
        if ((rc = trit_sys_read_small_file(sf[k].path, SIDE_CAP, &b, &n, err))) goto out;
        rc = trit_writer_write_section(c->w, sf[k].id, b, n, err);
        free(b);
        if (rc) goto out;
    }
    rc = trit_writer_finish(c->w, err);
    c->w = NULL;
out:
    trit_writer_abort(c->w);
    c->w = NULL;
    trit_kvbuf_free(tok);
    free(ex);
    return rc;
}

int cvt__conv_prepare(cvt_conv *c, const char *src_path, const cvt_opts *o, int do_scan, trit_err *err)
{
    static const cvt_opts dflt = {0};
    memset(c, 0, sizeof *c);
    c->o = o ? o : &dflt;
    int rc = src_open(src_path, &c->src, err);
    if (rc) return rc;
    c->hash_files = do_scan == 2;
    c->threads = c->o->threads ? c->o->threads : trit_pool_default_threads();
    if ((rc = trit_pool_new(c->threads, &c->pool, err))) return rc;
    if ((rc = cvt_arch_describe(c->src, &c->m, err))) return rc;
    if ((rc = plan(c, err))) return rc;
    if ((rc = cvt__head_plan(c, err))) return rc;
    for (uint32_t i = 0; i < c->n; i++) c->total += c->p[i].rows * c->p[i].cols;
    return do_scan ? scan(c, err) : TRIT_OK;
}

void cvt__conv_release(cvt_conv *c)
{
    trit_writer_abort(c->w);
    src_close(c->src);
    trit_pool_free(c->pool);   /* first: its jobs point into c */
    free(c->p);
    free(c->file_xxh3);
    memset(c, 0, sizeof *c);
}

int cvt_convert(const char *src_path, const char *out_path, const cvt_opts *opts, cvt_report *rep, trit_err *err)
{
    cvt_conv c;
    if (rep) memset(rep, 0, sizeof *rep);
    trit_err_clear(err);
    int const dry = opts && opts->dry_run;
    int rc = cvt__conv_prepare(&c, src_path, opts, dry ? 0 : 2, err);
    if (rc) goto out;
    if (dry) {
        /* no data read: projections of a ternary model are shown as t2 per tensor */
        for (uint32_t i = 0; i < c.n; i++) {
            cvt_plan_t *p = &c.p[i];
            int const t = cvt__is_projection(p->role) && (c.m.ternary_model || c.o->ternarize || c.m.online_quant[0]);
            p->ternary = t;
            p->layout = t ? TRIT_SCALE_TENSOR : 0;
            p->out_type = t ? TRIT_TYPE_T2 : p->q8 ? TRIT_TYPE_I8 : plan_float_type(&c, p);
        }
        cvt__blk_plan(&c);
        if (rep) rc = fill_report(&c, rep, NULL, err);
        goto out;
    }
    if (rep && !(rep->tensors = calloc((size_t)c.n + 1, sizeof *rep->tensors))) {
        rc = nomem(err);
        goto out;
    }
    if ((rc = run(&c, out_path, err))) goto out;
    if (rep) rc = fill_report(&c, rep, out_path, err);
out:
    if (rc && rep) cvt_report_free(rep);
    if (rc && src_path) trit_err_file(err, src_path);
    cvt__conv_release(&c);
    return rc;
}

int cvt__add_plan(cvt_conv *c, const cvt_plan_t *t, trit_err *err) { return add_plan(c, t, err); }

int cvt__read_rows(cvt_conv *c, const cvt_plan_t *p, uint64_t r0, uint64_t nr, float *buf, trit_err *err)
{
    return read_rows(c, p, r0, nr, buf, err);
}

uint64_t cvt__chunk_rows(const cvt_plan_t *p) { return chunk_rows(p); }

void cvt_report_free(cvt_report *rep)
{
    if (!rep) return;
    free(rep->tensors);
    rep->tensors = NULL;
}
