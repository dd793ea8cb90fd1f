/* test_run_util.c - tiny-model builder and the naive reference forward pass (test_run_util.h).
 *
 * The reference is deliberately written without runner/ code: it reads every tensor back
 * through trit_reader, expands it to plain arrays (t2 to -1/0/+1 values with their scales) and
 * runs the forward pass of spec 10.2 with straightforward loops. Float products are summed in
 * index order in float, like the runner's reference kernels, and t2 products use the BitNet
 * int8 activation quantization stated in runner/run_ops.c, so the two agree to rounding. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"
#include "test_run_util.h"
#include "trit_safemath.h"

void trm_default(trm_cfg *c)
{
    memset(c, 0, sizeof *c);
    c->seed = 7;
    c->n_layer = 2;
    c->n_embd = 64;
    c->n_head = 4;
    c->n_head_kv = 2;
    c->head_dim = 16;
    c->rope_dim = 16;
    c->n_vocab = 97;
    c->n_ff = 80;
    c->act = "silu";
    c->gating = "softmax";
    c->routed_scale = 1.0f;
    c->proj_type = TRIT_TYPE_F32;
    c->scale_layout = TRIT_SCALE_TENSOR;
    c->emb_type = TRIT_TYPE_F32;
    c->storage = TRIT_STORAGE_ZSTD;
    c->rope_theta = 10000.0f;
    c->norm_eps = 1e-5f;
}

/* ---- deterministic values ---- */

static uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t fnv(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

/* Uniform in [-1, 1). */
static float uval(uint64_t seed, uint64_t i) { return (float)((double)(mix(seed + (i + 1) * 0x9e3779b97f4a7c15ull) >> 11) / 4503599627370496.0 - 1.0); }

enum { K_NORM, K_W, K_EMB, K_BIAS };

typedef struct tdef {
    char name[96];
    uint32_t type, n_dims, layout, group, layer, unit, kind;
    uint64_t dims[2];
} tdef;

typedef struct tlist {
    tdef *t;
    uint32_t n, cap;
} tlist;

static tdef *add(tlist *l, uint32_t type, uint32_t kind, uint32_t layer, uint32_t unit, uint64_t d0, uint64_t d1, const char *name)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->t = realloc(l->t, sizeof *l->t * l->cap);
    }
    tdef *t = &l->t[l->n++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->type = type;
    t->kind = kind;
    t->layer = layer;
    t->unit = unit;
    t->dims[0] = d0;
    t->dims[1] = d1;
    t->n_dims = d1 ? 2 : 1;
    return t;
}

static void add_proj(tlist *l, const trm_cfg *c, uint32_t layer, uint32_t unit, uint64_t out, uint64_t in, const char *name)
{
    tdef *t = add(l, c->proj_type, K_W, layer, unit, out, in, name);
    if (c->proj_type == TRIT_TYPE_T2) {
        t->layout = c->scale_layout;
        t->group = c->scale_layout == TRIT_SCALE_GROUP ? c->group_size : 0;
    }
}

static void plan(const trm_cfg *c, tlist *l, uint32_t *n_units)
{
    uint64_t const E = c->n_embd, qd = (uint64_t)c->n_head * c->head_dim, kvd = (uint64_t)c->n_head_kv * c->head_dim;
    uint32_t const N = TRIT_NONE32, ft = c->emb_type;
    char nm[96];
    *n_units = 0;
    add(l, ft, K_EMB, N, N, c->n_vocab, E, "token_embd.weight");
    add(l, ft, K_NORM, N, N, E, 0, "output_norm.weight");
    if (!c->tied) add(l, ft, K_W, N, N, c->n_vocab, E, "output.weight");
    for (uint32_t L = 0; L < c->n_layer; L++) {
#define NM(fmt) (snprintf(nm, sizeof nm, "blk.%u." fmt, L), nm)
        add(l, ft, K_NORM, L, N, E, 0, NM("attn_norm.weight"));
        add_proj(l, c, L, N, qd, E, NM("attn_q.weight"));
        add_proj(l, c, L, N, kvd, E, NM("attn_k.weight"));
        add_proj(l, c, L, N, kvd, E, NM("attn_v.weight"));
        add_proj(l, c, L, N, E, qd, NM("attn_output.weight"));
        if (c->bias) {
            add(l, TRIT_TYPE_F32, K_BIAS, L, N, qd, 0, NM("attn_q.bias"));
            add(l, TRIT_TYPE_F32, K_BIAS, L, N, kvd, 0, NM("attn_k.bias"));
            add(l, TRIT_TYPE_F32, K_BIAS, L, N, kvd, 0, NM("attn_v.bias"));
        }
        if (c->qk_norm) {
            add(l, ft, K_NORM, L, N, c->head_dim, 0, NM("attn_q_norm.weight"));
            add(l, ft, K_NORM, L, N, c->head_dim, 0, NM("attn_k_norm.weight"));
        }
        if (c->sub_norm) add(l, ft, K_NORM, L, N, qd, 0, NM("attn_sub_norm.weight"));
        add(l, ft, K_NORM, L, N, E, 0, NM("ffn_norm.weight"));
        if (c->n_expert && L >= c->first_dense) {
            add(l, ft, K_W, L, N, c->n_expert, E, NM("ffn_gate_inp.weight"));
            if (c->exp_bias) add(l, TRIT_TYPE_F32, K_BIAS, L, N, c->n_expert, 0, NM("exp_probs_b.bias"));
            if (c->n_ff_shexp) {
                add_proj(l, c, L, N, c->n_ff_shexp, E, NM("ffn_gate_shexp.weight"));
                add_proj(l, c, L, N, c->n_ff_shexp, E, NM("ffn_up_shexp.weight"));
                add_proj(l, c, L, N, E, c->n_ff_shexp, NM("ffn_down_shexp.weight"));
                if (c->shared_gate) add(l, TRIT_TYPE_F32, K_W, L, N, E, 0, NM("ffn_gate_inp_shexp.weight"));
            }
            for (uint32_t e = 0; e < c->n_expert; e++) {
                uint32_t const u = (*n_units)++;
                snprintf(nm, sizeof nm, "blk.%u.ffn_gate.%u.weight", L, e);
                add_proj(l, c, L, u, c->n_ff_expert, E, nm);
                snprintf(nm, sizeof nm, "blk.%u.ffn_up.%u.weight", L, e);
                add_proj(l, c, L, u, c->n_ff_expert, E, nm);
                snprintf(nm, sizeof nm, "blk.%u.ffn_down.%u.weight", L, e);
                add_proj(l, c, L, u, E, c->n_ff_expert, nm);
            }
        } else {
            add_proj(l, c, L, N, c->n_ff, E, NM("ffn_gate.weight"));
            add_proj(l, c, L, N, c->n_ff, E, NM("ffn_up.weight"));
            add_proj(l, c, L, N, E, c->n_ff, NM("ffn_down.weight"));
            if (c->sub_norm) add(l, ft, K_NORM, L, N, c->n_ff, 0, NM("ffn_sub_norm.weight"));
        }
#undef NM
    }
}

static float value(const trm_cfg *c, const tdef *t, uint64_t i)
{
    uint64_t const seed = mix(c->seed ^ fnv(t->name));
    float const u = uval(seed, i);
    uint64_t const cols = t->n_dims == 2 ? t->dims[1] : t->dims[0];
    switch (t->kind) {
    case K_NORM: return 1.0f + 0.2f * u;
    case K_EMB: return u;
    case K_BIAS: return 0.1f * u;
    default: return 1.5f * u / sqrtf((float)cols);
    }
}

static int emit(trit_writer *w, uint32_t id, const trm_cfg *c, const tdef *t, const trit_tensor_info *ti, trit_err *err)
{
    uint64_t const cols = t->n_dims == 2 ? t->dims[1] : t->dims[0], rows = t->n_dims == 2 ? t->dims[0] : 1;
    uint64_t const seed = mix(c->seed ^ fnv(t->name));
    int rc = trit_writer_tensor_begin(w, id, err);
    if (t->type == TRIT_TYPE_T2) {
        uint64_t const rb = trit_div_ceil(cols, 128) * 32;
        uint8_t *row = malloc(rb);
        int8_t *v = malloc(cols);
        for (uint64_t r = 0; rc == TRIT_OK && r < rows; r++) {
            for (uint64_t j = 0; j < cols; j++) v[j] = (int8_t)((int)(mix(seed ^ (r * cols + j + 17)) % 3) - 1);
            trit_t2_pack_row(v, cols, row);
            rc = trit_writer_append(w, row, rb, err);
        }
        static const uint8_t zeros[16];
        if (rc == TRIT_OK) rc = trit_writer_append(w, zeros, ti->scales_off - rows * rb, err);
        for (uint64_t k = 0; rc == TRIT_OK && k < ti->n_scales; k++) {
            float const s = 1.5f / sqrtf((float)cols) * (0.5f + 0.5f * fabsf(uval(seed ^ 0x5ca1e, k)));
            rc = trit_writer_append(w, &s, 4, err);
        }
        free(row);
        free(v);
    } else {
        for (uint64_t i = 0; rc == TRIT_OK && i < rows * cols; i++) {
            float const f = value(c, t, i);
            if (t->type == TRIT_TYPE_F32) rc = trit_writer_append(w, &f, 4, err);
            else {
                uint16_t const h = t->type == TRIT_TYPE_F16 ? trit_f32_to_f16(f) : trit_f32_to_bf16(f);
                rc = trit_writer_append(w, &h, 2, err);
            }
        }
    }
    if (rc == TRIT_OK) rc = trit_writer_end(w, err);
    return rc;
}

int trm_write(const trm_cfg *c, const char *path, trit_err *err)
{
    tlist l = {0};
    uint32_t n_units;
    plan(c, &l, &n_units);
    trit_write_opts wo = {0};
    wo.overwrite = 1;
    wo.page_align = 4096;  /* small files; units still page-aligned */
    trit_writer *w = NULL;
    trit_tensor_info *ti = calloc(l.n, sizeof *ti);
    uint32_t *ids = calloc(l.n, sizeof *ids);
    int rc = trit_writer_open(path, &wo, &w, err);
#define T(x) do { if (rc == TRIT_OK) rc = (x); } while (0)
#define K(key, call) do { if (!c->omit_key || strcmp(c->omit_key, key)) T(call); } while (0)
#define S(k, v) K(k, trit_writer_kv_str(w, k, v, strlen(v), err))
    S("general.architecture", c->n_expert ? "qwen2moe" : "llama");
    K("model.n_layer", trit_writer_kv_u32(w, "model.n_layer", c->n_layer, err));
    K("model.n_embd", trit_writer_kv_u32(w, "model.n_embd", c->n_embd, err));
    K("model.n_ff", trit_writer_kv_u32(w, "model.n_ff", c->n_ff, err));
    K("model.n_head", trit_writer_kv_u32(w, "model.n_head", c->n_head, err));
    K("model.n_head_kv", trit_writer_kv_u32(w, "model.n_head_kv", c->n_head_kv, err));
    K("model.head_dim", trit_writer_kv_u32(w, "model.head_dim", c->meta_head_dim ? c->meta_head_dim : c->head_dim, err));
    K("model.n_vocab", trit_writer_kv_u32(w, "model.n_vocab", c->n_vocab, err));
    K("model.n_ctx", trit_writer_kv_u32(w, "model.n_ctx", 256, err));
    K("model.norm_eps", trit_writer_kv_f32(w, "model.norm_eps", c->norm_eps, err));
    K("model.rope_theta", trit_writer_kv_f32(w, "model.rope_theta", c->rope_theta, err));
    K("model.rope_dim", trit_writer_kv_u32(w, "model.rope_dim", c->rope_dim, err));
    S("model.rope_layout", "neox");
    S("model.hidden_act", c->act);
    K("model.tied_embeddings", trit_writer_kv_bool(w, "model.tied_embeddings", c->tied, err));
    K("model.eos_token_id", trit_writer_kv_u32(w, "model.eos_token_id", 2, err));
    S("model.act_quant", c->proj_type == TRIT_TYPE_T2 ? "int8_per_token" : "none");
    K("moe.n_expert", trit_writer_kv_u32(w, "moe.n_expert", c->n_expert, err));
    K("moe.n_expert_used", trit_writer_kv_u32(w, "moe.n_expert_used", c->n_expert_used, err));
    K("moe.n_ff_expert", trit_writer_kv_u32(w, "moe.n_ff_expert", c->n_ff_expert, err));
    S("moe.gating", c->gating);
    K("moe.norm_topk", trit_writer_kv_bool(w, "moe.norm_topk", c->norm_topk, err));
    K("moe.routed_scale", trit_writer_kv_f32(w, "moe.routed_scale", c->routed_scale, err));
    K("moe.n_shared_expert", trit_writer_kv_u32(w, "moe.n_shared_expert", c->n_ff_shexp ? 1 : 0, err));
    S("moe.shared_gate", c->shared_gate ? "sigmoid" : "none");
    K("moe.first_dense_layers", trit_writer_kv_u32(w, "moe.first_dense_layers", c->first_dense, err));
#undef S
#undef K
    /* units in (layer, expert) order, as plan() numbered them */
    for (uint32_t i = 0, u = 0; i < l.n; i++)
        if (l.t[i].unit == u) {
            unsigned L = 0, E = 0;
            uint32_t id;
            sscanf(l.t[i].name, "blk.%u.ffn_gate.%u.weight", &L, &E);
            T(trit_writer_add_unit(w, L, E, c->storage, &id, err));
            u++;
        }
    for (uint32_t i = 0; i < l.n; i++) {
        tdef const *t = &l.t[i];
        trit_tensor_info *x = &ti[i];
        x->name = t->name;
        x->type = t->type;
        x->n_dims = t->n_dims;
        x->dims[0] = t->dims[0];
        x->dims[1] = t->dims[1];
        x->layer = t->layer;
        x->unit = t->unit;
        if (t->type == TRIT_TYPE_T2) {
            x->scale_type = TRIT_SCALE_TYPE_F32;
            x->scale_layout = t->layout;
            x->group_size = t->group;
        }
        trit_type_geometry(x->type, &x->block_elems, &x->block_bytes);
        T(trit_tensor_layout(x, err));
        T(trit_writer_add_tensor(w, x, &ids[i], err));
    }
    for (uint32_t i = 0; i < l.n; i++)
        if (l.t[i].unit == TRIT_NONE32) T(emit(w, ids[i], c, &l.t[i], &ti[i], err));
    for (uint32_t u = 0; u < n_units; u++) {
        T(trit_writer_unit_begin(w, u, err));
        for (uint32_t i = 0; i < l.n; i++)
            if (l.t[i].unit == u) T(emit(w, ids[i], c, &l.t[i], &ti[i], err));
        T(trit_writer_unit_end(w, err));
    }
#undef T
    if (rc == TRIT_OK) rc = trit_writer_finish(w, err);
    else trit_writer_abort(w);
    free(ti);
    free(ids);
    free(l.t);
    return rc;
}

/* ---- the naive reference ---- */

typedef struct rmat {
    uint64_t rows, cols;
    uint32_t type, layout, G;
    float *f;                  /* float types: values */
    int8_t *t;                 /* t2: -1/0/+1 */
    float *sc;                 /* t2: scales */
} rmat;

static void rm_free(rmat *m)
{
    free(m->f);
    free(m->t);
    free(m->sc);
    memset(m, 0, sizeof *m);
}

static void rm_from(const trit_tensor_info *ti, const uint8_t *b, rmat *m)
{
    memset(m, 0, sizeof *m);
    m->cols = ti->n_dims ? ti->dims[ti->n_dims - 1] : 1;
    m->rows = ti->n_dims == 2 ? ti->dims[0] : 1;
    m->type = ti->type;
    uint64_t const n = m->rows * m->cols;
    if (ti->type == TRIT_TYPE_T2) {
        m->layout = ti->scale_layout;
        m->G = ti->group_size;
        m->t = malloc(n + 1);
        uint64_t const rb = trit_div_ceil(m->cols, 128) * 32;
        for (uint64_t r = 0; r < m->rows; r++) trit_t2_unpack_row(b + r * rb, m->cols, m->t + r * m->cols);
        m->sc = malloc(sizeof *m->sc * (ti->n_scales + 1));
        memcpy(m->sc, b + ti->scales_off, 4 * ti->n_scales);
        return;
    }
    m->f = malloc(sizeof *m->f * (n + 1));
    for (uint64_t i = 0; i < n; i++) {
        if (ti->type == TRIT_TYPE_F32) memcpy(&m->f[i], b + 4 * i, 4);
        else {
            uint16_t h;
            memcpy(&h, b + 2 * i, 2);
            m->f[i] = ti->type == TRIT_TYPE_F16 ? trit_f16_to_f32(h) : trit_bf16_to_f32(h);
        }
    }
}

/* Dense tensor by name; returns 0 when absent. */
static int rm_get(const trit_reader *r, const char *name, rmat *m)
{
    memset(m, 0, sizeof *m);
    int64_t const i = trit_reader_find_tensor(r, name);
    if (i < 0) return 0;
    const void *d;
    uint64_t sz;
    if (trit_reader_tensor_data(r, (uint32_t)i, &d, &sz, NULL)) return 0;
    rm_from(trit_reader_tensor(r, (uint32_t)i), d, m);
    return 1;
}

int trm_ref_act_block;
int trm_ref_act_float;

/* t2 with int8 activations quantized per 256 values (s = 127 / max|x| of the block,
 * d = max|x| / 127), with the float steps run_act_lin.c states: weight scale per tensor/row:
 * per block, (float) exact integer sum x (scale x d), in block order; groups of a multiple of
 * 32: exact integer sums per 32 inputs, runs of equal weight-scale x step merged, one float
 * multiply-add per run; other groups: per group, the float sum of (w * (q * d)) in index
 * order, times the group's scale. */
static void rm_matvec_blocks(const rmat *m, const float *x, float *y)
{
    int32_t *q = malloc(sizeof *q * m->cols);
    float *d = malloc(sizeof *d * m->cols);
    for (uint64_t b0 = 0; b0 < m->cols; b0 += 256) {
        uint64_t const b1 = b0 + 256 < m->cols ? b0 + 256 : m->cols;
        float amax = 0;
        for (uint64_t i = b0; i < b1; i++) amax = fabsf(x[i]) > amax ? fabsf(x[i]) : amax;
        float const s = amax > 0 ? 127.0f / amax : 0.0f;
        for (uint64_t i = b0; i < b1; i++) {
            float const v = nearbyintf(x[i] * s);
            q[i] = (int32_t)(v > 127 ? 127 : v < -127 ? -127 : v);
            d[i] = amax / 127.0f;
        }
    }
    int const grouped = m->layout == TRIT_SCALE_GROUP;
    uint64_t const ng = grouped ? trit_div_ceil(m->cols, m->G) : 1;
    for (uint64_t r = 0; r < m->rows; r++) {
        const int8_t *w = m->t + r * m->cols;
        const float *ws = grouped ? m->sc + r * ng : m->layout == TRIT_SCALE_ROW ? m->sc + r : m->sc;
        float out = 0;
        if (!grouped) {
            for (uint64_t b0 = 0; b0 < m->cols; b0 += 256) {
                int32_t acc = 0;
                for (uint64_t i = b0; i < b0 + 256 && i < m->cols; i++) acc += w[i] * q[i];
                out += (float)acc * (ws[0] * d[b0]);
            }
        } else if (m->G % 32 == 0) {
            float cur = 0;
            int32_t run = 0;
            int open = 0;
            for (uint64_t c0 = 0; c0 < m->cols; c0 += 32) {
                int32_t acc = 0;
                for (uint64_t i = c0; i < c0 + 32 && i < m->cols; i++) acc += w[i] * q[i];
                float const p = ws[c0 / m->G] * d[c0];
                if (open && p == cur) {
                    run += acc;
                    continue;
                }
                if (open) out += (float)run * cur;
                cur = p;
                run = acc;
                open = 1;
            }
            if (open) out += (float)run * cur;
        } else {
            for (uint64_t g = 0; g < ng; g++) {
                float seg = 0;
                for (uint64_t i = g * m->G; i < (g + 1) * m->G && i < m->cols; i++) seg += (float)w[i] * ((float)q[i] * d[i]);
                out += seg * ws[g];
            }
        }
        y[r] = out;
    }
    free(q);
    free(d);
}

/* y[r] = W x for one token: floats summed in index order, t2 with int8 activations. */
static void rm_matvec(const rmat *m, const float *x, float *y)
{
    if (m->type != TRIT_TYPE_T2) {
        for (uint64_t r = 0; r < m->rows; r++) {
            float s = 0;
            for (uint64_t i = 0; i < m->cols; i++) s += m->f[r * m->cols + i] * x[i];
            y[r] = s;
        }
        return;
    }
    if (trm_ref_act_block && m->cols > 256) {
        rm_matvec_blocks(m, x, y);
        return;
    }
    if (trm_ref_act_float) {
        /* float mode: no int8 at all, sums in double per weight-scale segment */
        uint64_t const G = m->layout == TRIT_SCALE_GROUP ? m->G : m->cols, ng = trit_div_ceil(m->cols, G);
        for (uint64_t r = 0; r < m->rows; r++) {
            const int8_t *w = m->t + r * m->cols;
            double out = 0;
            for (uint64_t g = 0; g < ng; g++) {
                double seg = 0;
                for (uint64_t i = g * G; i < (g + 1) * G && i < m->cols; i++) seg += (double)w[i] * (double)x[i];
                out += seg * (m->layout == TRIT_SCALE_GROUP ? m->sc[r * ng + g] : m->layout == TRIT_SCALE_ROW ? m->sc[r] : m->sc[0]);
            }
            y[r] = (float)out;
        }
        return;
    }
    /* BitNet absmax int8: s = 127 / max|x|, q = round half to even, d = max|x| / 127 */
    float amax = 0;
    for (uint64_t i = 0; i < m->cols; i++) amax = fabsf(x[i]) > amax ? fabsf(x[i]) : amax;
    float const s = amax > 0 ? 127.0f / amax : 0.0f, d = amax / 127.0f;
    int32_t *q = malloc(sizeof *q * m->cols);
    for (uint64_t i = 0; i < m->cols; i++) {
        float v = nearbyintf(x[i] * s);
        q[i] = (int32_t)(v > 127 ? 127 : v < -127 ? -127 : v);
    }
    for (uint64_t r = 0; r < m->rows; r++) {
        const int8_t *w = m->t + r * m->cols;
        if (m->layout != TRIT_SCALE_GROUP) {
            int32_t acc = 0;
            for (uint64_t i = 0; i < m->cols; i++) acc += w[i] * q[i];
            y[r] = (float)acc * (m->layout == TRIT_SCALE_ROW ? m->sc[r] : m->sc[0]) * d;
        } else {
            uint64_t const ng = trit_div_ceil(m->cols, m->G);
            float acc_f = 0;
            for (uint64_t g = 0; g < ng; g++) {
                int32_t acc = 0;
                for (uint64_t i = g * m->G; i < (g + 1) * m->G && i < m->cols; i++) acc += w[i] * q[i];
                acc_f += (float)acc * m->sc[r * ng + g];
            }
            y[r] = acc_f * d;
        }
    }
    free(q);
}

static void ref_rmsnorm(float *x, const float *w, uint64_t n, float eps)
{
    double ss = 0;
    for (uint64_t i = 0; i < n; i++) ss += (double)(x[i] * x[i]);
    float const sc = 1.0f / sqrtf((float)(ss / (double)n) + eps);
    for (uint64_t i = 0; i < n; i++) x[i] = w ? (x[i] * sc) * w[i] : x[i] * sc;
}

static float act(const char *a, float g)
{
    if (!strcmp(a, "relu2")) return g > 0 ? g * g : 0.0f;
    if (!strcmp(a, "gelu")) return 0.5f * g * (1.0f + erff(g * 0.70710678118654752f));
    return g / (1.0f + expf(-g));
}

typedef struct ref_model {
    const trit_reader *r;
    uint32_t L, E, H, HKV, hd, V, rope_dim, NE, K, FE, first_dense;
    float eps, theta, rscale;
    const char *act;
    char act_buf[16];
    int sigmoid, norm_topk, shared_gate;
} ref_model;

static uint64_t kvu(const trit_reader *r, const char *k, uint64_t def)
{
    int64_t const i = trit_reader_find_kv(r, k);
    uint64_t v = def;
    if (i >= 0) trit_reader_kv_u64(r, (uint32_t)i, &v);
    return v;
}

static float kvf(const trit_reader *r, const char *k, float def)
{
    int64_t const i = trit_reader_find_kv(r, k);
    double v = def;
    if (i >= 0) trit_reader_kv_f64(r, (uint32_t)i, &v);
    return (float)v;
}

static int kvs_is(const trit_reader *r, const char *k, const char *want)
{
    int64_t const i = trit_reader_find_kv(r, k);
    const char *s;
    uint64_t n;
    if (i < 0 || trit_reader_kv_str(r, (uint32_t)i, &s, &n)) return 0;
    return strlen(want) == n && !memcmp(s, want, n);
}

static void vec(const trit_reader *r, const char *name, float **out)
{
    rmat m;
    *out = NULL;
    if (rm_get(r, name, &m)) {
        *out = m.f;
        m.f = NULL;
    }
    rm_free(&m);
}

/* The FFN of one token: down(sub(act(gate x) * up x)) into out (E values). */
static void ref_ffn(const ref_model *M, const rmat *g, const rmat *u, const rmat *d, const float *sub, const float *x, float *out)
{
    uint64_t const F = g->rows;
    float *a = malloc(sizeof *a * F), *b = malloc(sizeof *b * F);
    rm_matvec(g, x, a);
    rm_matvec(u, x, b);
    for (uint64_t i = 0; i < F; i++) a[i] = act(M->act, a[i]) * b[i];
    if (sub) ref_rmsnorm(a, sub, F, M->eps);
    rm_matvec(d, a, out);
    free(a);
    free(b);
}

/* Expert (L, e) of the file: its three members read from the decoded unit. */
static int ref_expert(const trit_reader *r, uint32_t L, uint32_t e, rmat m[3])
{
    int64_t const u = trit_reader_find_unit(r, L, e);
    if (u < 0) return TRIT_E_NOTFOUND;
    void *img;
    uint64_t sz;
    int const rc = trit_reader_unit_load(r, (uint32_t)u, &img, &sz, NULL);
    if (rc) return rc;
    static const char *const pn[3] = {"gate", "up", "down"};
    for (int k = 0; k < 3; k++) {
        char nm[96];
        snprintf(nm, sizeof nm, "blk.%u.ffn_%s.%u.weight", L, pn[k], e);
        int64_t const i = trit_reader_find_tensor(r, nm);
        trit_tensor_info const *ti = trit_reader_tensor(r, (uint32_t)i);
        rm_from(ti, (const uint8_t *)img + ti->offset, &m[k]);
    }
    free(img);
    return TRIT_OK;
}

int trm_ref_kv_f16;

int trm_ref_logits(const char *path, const uint32_t *tok, uint32_t n, float *out, trit_err *err)
{
    trit_reader *r = NULL;
    int rc = trit_reader_open(path, NULL, &r, err);
    if (rc) return rc;
    ref_model M;
    memset(&M, 0, sizeof M);
    M.r = r;
    M.L = (uint32_t)kvu(r, "model.n_layer", 0);
    M.E = (uint32_t)kvu(r, "model.n_embd", 0);
    M.H = (uint32_t)kvu(r, "model.n_head", 0);
    M.HKV = (uint32_t)kvu(r, "model.n_head_kv", 0);
    M.hd = (uint32_t)kvu(r, "model.head_dim", 0);
    M.V = (uint32_t)kvu(r, "model.n_vocab", 0);
    M.rope_dim = (uint32_t)kvu(r, "model.rope_dim", M.hd);
    M.NE = (uint32_t)kvu(r, "moe.n_expert", 0);
    M.K = (uint32_t)kvu(r, "moe.n_expert_used", 0);
    M.FE = (uint32_t)kvu(r, "moe.n_ff_expert", 0);
    M.first_dense = (uint32_t)kvu(r, "moe.first_dense_layers", 0);
    M.eps = kvf(r, "model.norm_eps", 1e-5f);
    M.theta = kvf(r, "model.rope_theta", 10000.0f);
    M.rscale = kvf(r, "moe.routed_scale", 1.0f);
    M.act = kvs_is(r, "model.hidden_act", "relu2") ? "relu2" : kvs_is(r, "model.hidden_act", "gelu") ? "gelu" : "silu";
    M.sigmoid = kvs_is(r, "moe.gating", "sigmoid");
    M.norm_topk = (int)kvu(r, "moe.norm_topk", 0);
    M.shared_gate = kvs_is(r, "moe.shared_gate", "sigmoid");
    uint32_t const E = M.E, hd = M.hd, qd = M.H * hd, kvd = M.HKV * hd;
    float *h = calloc((uint64_t)n * E, sizeof *h);
    float *kc = calloc((uint64_t)M.L * n * kvd, sizeof *kc), *vc = calloc((uint64_t)M.L * n * kvd, sizeof *vc);
    float *x = malloc(sizeof *x * E), *q = malloc(sizeof *q * qd), *k = malloc(sizeof *k * kvd), *v = malloc(sizeof *v * kvd);
    float *att = malloc(sizeof *att * qd), *o = malloc(sizeof *o * E), *sc = malloc(sizeof *sc * n), *acc = malloc(sizeof *acc * E);
    float *tmp = malloc(sizeof *tmp * E), *probs = malloc(sizeof *probs * (M.NE + 1));
    rmat emb;
    rm_get(r, "token_embd.weight", &emb);
    for (uint32_t t = 0; t < n; t++) memcpy(h + (uint64_t)t * E, emb.f + (uint64_t)tok[t] * E, sizeof *h * E);
    char nm[96];
#define NM(fmt) (snprintf(nm, sizeof nm, "blk.%u." fmt, L), nm)
    for (uint32_t L = 0; L < M.L; L++) {
        rmat wq, wk, wv, wo;
        float *an, *fn, *bq, *bk, *bv, *qn, *kn, *asub;
        vec(r, NM("attn_norm.weight"), &an);
        vec(r, NM("ffn_norm.weight"), &fn);
        vec(r, NM("attn_q.bias"), &bq);
        vec(r, NM("attn_k.bias"), &bk);
        vec(r, NM("attn_v.bias"), &bv);
        vec(r, NM("attn_q_norm.weight"), &qn);
        vec(r, NM("attn_k_norm.weight"), &kn);
        vec(r, NM("attn_sub_norm.weight"), &asub);
        rm_get(r, NM("attn_q.weight"), &wq);
        rm_get(r, NM("attn_k.weight"), &wk);
        rm_get(r, NM("attn_v.weight"), &wv);
        rm_get(r, NM("attn_output.weight"), &wo);
        float *qall = malloc(sizeof *qall * (uint64_t)n * qd);
        for (uint32_t t = 0; t < n; t++) {
            memcpy(x, h + (uint64_t)t * E, sizeof *x * E);
            ref_rmsnorm(x, an, E, M.eps);
            rm_matvec(&wq, x, q);
            rm_matvec(&wk, x, k);
            rm_matvec(&wv, x, v);
            for (uint32_t i = 0; i < qd; i++) q[i] += bq ? bq[i] : 0.0f;
            for (uint32_t i = 0; i < kvd; i++) {
                k[i] += bk ? bk[i] : 0.0f;
                v[i] += bv ? bv[i] : 0.0f;
            }
            for (uint32_t hh = 0; qn && hh < M.H; hh++) ref_rmsnorm(q + hh * hd, qn, hd, M.eps);
            for (uint32_t hh = 0; kn && hh < M.HKV; hh++) ref_rmsnorm(k + hh * hd, kn, hd, M.eps);
            for (uint32_t i = 0; i < M.rope_dim / 2; i++) {
                double const ang = (double)t * pow((double)M.theta, -2.0 * i / (double)M.rope_dim);
                float const cs = (float)cos(ang), sn = (float)sin(ang);
                for (uint32_t hh = 0; hh < M.H; hh++) {
                    float *p = q + hh * hd, a0 = p[i], a1 = p[i + M.rope_dim / 2];
                    p[i] = a0 * cs - a1 * sn;
                    p[i + M.rope_dim / 2] = a0 * sn + a1 * cs;
                }
                for (uint32_t hh = 0; hh < M.HKV; hh++) {
                    float *p = k + hh * hd, a0 = p[i], a1 = p[i + M.rope_dim / 2];
                    p[i] = a0 * cs - a1 * sn;
                    p[i + M.rope_dim / 2] = a0 * sn + a1 * cs;
                }
            }
            memcpy(qall + (uint64_t)t * qd, q, sizeof *q * qd);
            if (trm_ref_kv_f16)
                for (uint32_t i = 0; i < kvd; i++) {
                    k[i] = trit_f16_to_f32(trit_f32_to_f16(k[i]));
                    v[i] = trit_f16_to_f32(trit_f32_to_f16(v[i]));
                }
            memcpy(kc + ((uint64_t)L * n + t) * kvd, k, sizeof *k * kvd);
            memcpy(vc + ((uint64_t)L * n + t) * kvd, v, sizeof *v * kvd);
        }
        for (uint32_t t = 0; t < n; t++) {
            for (uint32_t hh = 0; hh < M.H; hh++) {
                uint32_t const kh = hh / (M.H / M.HKV);
                const float *qq = qall + (uint64_t)t * qd + hh * hd;
                float mx = -INFINITY, sum = 0;
                for (uint32_t p = 0; p <= t; p++) {
                    const float *kk = kc + ((uint64_t)L * n + p) * kvd + kh * hd;
                    float s = 0;
                    for (uint32_t d = 0; d < hd; d++)
                        s += (trm_ref_kv_f16 ? trit_f16_to_f32(trit_f32_to_f16(qq[d])) : qq[d]) * kk[d];
                    sc[p] = s * (1.0f / sqrtf((float)hd));
                    mx = sc[p] > mx ? sc[p] : mx;
                }
                for (uint32_t p = 0; p <= t; p++) {
                    sc[p] = expf(sc[p] - mx);
                    sum += sc[p];
                }
                float *oh = att + hh * hd;
                for (uint32_t d = 0; d < hd; d++) oh[d] = 0;
                if (trm_ref_kv_f16 == 2) {
                    /* llama.cpp's CPU flash attention with an f16 V: online softmax over the
                     * raw scores, the V sum kept in f16 (ggml_vec_mad_f16 / _scale_f16) */
                    float Mx = -INFINITY, S = 0;
                    uint16_t acc16[512];
                    for (uint32_t d = 0; d < hd; d++) acc16[d] = trit_f32_to_f16(0);
                    for (uint32_t p = 0; p <= t; p++) {
                        const float *kk = kc + ((uint64_t)L * n + p) * kvd + kh * hd;
                        float s = 0;
                        for (uint32_t d = 0; d < hd; d++) s += trit_f16_to_f32(trit_f32_to_f16(qq[d])) * kk[d];
                        s *= 1.0f / sqrtf((float)hd);
                        float const Mold = Mx;
                        float ms = 1.0f, vs = 1.0f;
                        if (s > Mx) {
                            Mx = s;
                            ms = expf(Mold - Mx);
                            for (uint32_t d = 0; d < hd; d++) acc16[d] = trit_f32_to_f16(trit_f16_to_f32(acc16[d]) * ms);
                        } else {
                            vs = expf(s - Mx);
                        }
                        const float *vv = vc + ((uint64_t)L * n + p) * kvd + kh * hd;
                        for (uint32_t d = 0; d < hd; d++) acc16[d] = trit_f32_to_f16(trit_f16_to_f32(acc16[d]) + vv[d] * vs);
                        S = S * ms + vs;
                    }
                    for (uint32_t d = 0; d < hd; d++) oh[d] = trit_f16_to_f32(acc16[d]) * (1.0f / S);
                    continue;
                }
                for (uint32_t p = 0; p <= t; p++) {
                    const float *vv = vc + ((uint64_t)L * n + p) * kvd + kh * hd;
                    float wgt = sc[p] * (1.0f / sum);
                    if (trm_ref_kv_f16) wgt = trit_f16_to_f32(trit_f32_to_f16(wgt));
                    for (uint32_t d = 0; d < hd; d++) oh[d] += wgt * vv[d];
                }
            }
            if (asub) ref_rmsnorm(att, asub, qd, M.eps);
            rm_matvec(&wo, att, o);
            for (uint32_t i = 0; i < E; i++) h[(uint64_t)t * E + i] += o[i];
        }
        free(qall);
        /* FFN */
        int const moe = M.NE && L >= M.first_dense;
        rmat fg, fu, fd, rt, sg, su, sd;
        float *fsub = NULL, *eb = NULL, *gis = NULL;
        memset(&fg, 0, sizeof fg);
        fu = fd = rt = sg = su = sd = fg;
        if (!moe) {
            rm_get(r, NM("ffn_gate.weight"), &fg);
            rm_get(r, NM("ffn_up.weight"), &fu);
            rm_get(r, NM("ffn_down.weight"), &fd);
            vec(r, NM("ffn_sub_norm.weight"), &fsub);
        } else {
            rm_get(r, NM("ffn_gate_inp.weight"), &rt);
            vec(r, NM("exp_probs_b.bias"), &eb);
            rm_get(r, NM("ffn_gate_shexp.weight"), &sg);
            rm_get(r, NM("ffn_up_shexp.weight"), &su);
            rm_get(r, NM("ffn_down_shexp.weight"), &sd);
            vec(r, NM("ffn_gate_inp_shexp.weight"), &gis);
        }
        for (uint32_t t = 0; t < n && rc == TRIT_OK; t++) {
            memcpy(x, h + (uint64_t)t * E, sizeof *x * E);
            ref_rmsnorm(x, fn, E, M.eps);
            if (!moe) {
                ref_ffn(&M, &fg, &fu, &fd, fsub, x, o);
                for (uint32_t i = 0; i < E; i++) h[(uint64_t)t * E + i] += o[i];
                continue;
            }
            rm_matvec(&rt, x, probs);
            if (M.sigmoid)
                for (uint32_t e = 0; e < M.NE; e++) probs[e] = 1.0f / (1.0f + expf(-probs[e]));
            else {
                float mx = -INFINITY, s = 0;
                for (uint32_t e = 0; e < M.NE; e++) mx = probs[e] > mx ? probs[e] : mx;
                for (uint32_t e = 0; e < M.NE; e++) s += (probs[e] = expf(probs[e] - mx));
                for (uint32_t e = 0; e < M.NE; e++) probs[e] /= s;
            }
            uint32_t sel[64];
            float wsel[64], wsum = 0;
            for (uint32_t j = 0; j < M.K; j++) {
                int best = -1;
                for (uint32_t e = 0; e < M.NE; e++) {
                    int used = 0;
                    for (uint32_t i = 0; i < j; i++) used |= sel[i] == e;
                    if (used) continue;
                    float const s = probs[e] + (eb ? eb[e] : 0.0f);
                    if (best < 0 || s > probs[best] + (eb ? eb[best] : 0.0f)) best = (int)e;
                }
                sel[j] = (uint32_t)best;
                wsel[j] = probs[best];
                wsum += wsel[j];
            }
            for (uint32_t j = 0; j < M.K; j++) wsel[j] = (M.norm_topk ? wsel[j] / wsum : wsel[j]) * M.rscale;
            for (uint32_t i = 0; i < E; i++) acc[i] = 0;
            float *eo = malloc(sizeof *eo * E * M.K);
            for (uint32_t j = 0; j < M.K && rc == TRIT_OK; j++) {
                rmat em[3];
                if ((rc = ref_expert(r, L, sel[j], em))) break;
                ref_ffn(&M, &em[0], &em[1], &em[2], NULL, x, eo + j * E);
                for (int kk = 0; kk < 3; kk++) rm_free(&em[kk]);
            }
            for (uint32_t i = 0; i < E && rc == TRIT_OK; i++) {
                float a = 0;
                for (uint32_t j = 0; j < M.K; j++) a += wsel[j] * eo[j * E + i];
                acc[i] = a;
            }
            free(eo);
            if (sg.rows) {
                ref_ffn(&M, &sg, &su, &sd, NULL, x, tmp);
                if (M.shared_gate && gis) {
                    float s = 0;
                    for (uint32_t i = 0; i < E; i++) s += gis[i] * x[i];
                    float const g = 1.0f / (1.0f + expf(-s));
                    for (uint32_t i = 0; i < E; i++) tmp[i] *= g;
                }
                for (uint32_t i = 0; i < E; i++) acc[i] += tmp[i];
            }
            for (uint32_t i = 0; i < E; i++) h[(uint64_t)t * E + i] += acc[i];
        }
        rm_free(&wq); rm_free(&wk); rm_free(&wv); rm_free(&wo); rm_free(&fg); rm_free(&fu); rm_free(&fd);
        rm_free(&rt); rm_free(&sg); rm_free(&su); rm_free(&sd);
        free(an); free(fn); free(bq); free(bk); free(bv); free(qn); free(kn); free(asub); free(fsub); free(eb); free(gis);
    }
#undef NM
    if (rc == TRIT_OK) {
        float *on;
        vec(r, "output_norm.weight", &on);
        memcpy(x, h + (uint64_t)(n - 1) * E, sizeof *x * E);
        ref_rmsnorm(x, on, E, M.eps);
        rmat outm;
        if (!rm_get(r, "output.weight", &outm)) rm_get(r, "token_embd.weight", &outm);
        rm_matvec(&outm, x, out);
        rm_free(&outm);
        free(on);
    }
    rm_free(&emb);
    free(h); free(kc); free(vc); free(x); free(q); free(k); free(v); free(att); free(o); free(sc); free(acc); free(tmp); free(probs);
    trit_reader_close(r);
    return rc;
}

uint32_t trm_run_act_scales;

int trm_run_logits(const char *path, const uint32_t *tokens, uint32_t n, uint32_t threads, uint32_t kernel, uint64_t budget,
                   uint32_t policy, uint32_t chunk, float *out, trit_err *err)
{
    run_weights w;
    int rc = run_weights_open_trit(path, 0, &w, err);
    if (rc) return rc;
    run_opts o;
    run_opts_default(&o);
    o.n_threads = threads;
    o.kernel = kernel;
    o.expert_cache = budget;
    o.policy = policy;
    o.n_ctx = n;
    o.act_scales = trm_run_act_scales;
    run_ctx *c = NULL;
    rc = run_ctx_new(&w, &o, &c, err);
    for (uint32_t done = 0; rc == TRIT_OK && done < n;) {
        uint32_t const step = chunk && n - done > chunk ? chunk : n - done;
        rc = run_ctx_eval(c, tokens + done, step, done + step == n ? out : NULL, err);
        done += step;
    }
    run_ctx_free(c);
    run_weights_close(&w);
    return rc;
}

double trm_max_diff(const float *a, const float *b, uint32_t n)
{
    double m = 0;
    for (uint32_t i = 0; i < n; i++) {
        double const d = fabs((double)a[i] - (double)b[i]);
        if (d > m || d != d) m = d != d ? INFINITY : d;
    }
    return m;
}
