/* gen_plan.c - which tensors each layout holds (names, dtypes, shapes, value kinds), in
 * state-dict order, and how they are spread over shards. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen_int.h"
#include "trit_limits.h"
#include "trit_safemath.h"

typedef gen__builder builder;

static uint64_t fnv1a64(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* 1 when name ends with suffix. */
static int ends_with(const char *name, const char *suffix)
{
    size_t const n = strlen(name), k = strlen(suffix);
    return n >= k && !strcmp(name + n - k, suffix);
}

/* The activation outliers of o (gen.h) on t: the norms in front of attention and of the FFN
 * (HF input_layernorm / post_attention_layernorm, GGUF attn_norm / ffn_norm) scale the outlier
 * channels; the token embedding scales the massive token's row in them. */
static void plant_outliers(const gen_opts *o, gen_tensor *t)
{
    t->massive_row = GEN_NONE;
    if (t->kind == GEN_K_NORM && o->n_outlier &&
        (ends_with(t->name, ".input_layernorm.weight") || ends_with(t->name, ".post_attention_layernorm.weight") ||
         ends_with(t->name, ".attn_norm.weight") || ends_with(t->name, ".ffn_norm.weight"))) {
        t->n_outlier = o->n_outlier;
        t->outlier_scale = o->outlier_scale > 0 ? o->outlier_scale : 30.0f;
    }
    if (t->kind == GEN_K_FLOAT && o->massive_token != GEN_NONE &&
        (!strcmp(t->name, "model.embed_tokens.weight") || !strcmp(t->name, "token_embd.weight"))) {
        t->n_outlier = o->n_outlier ? o->n_outlier : 4;
        t->outlier_scale = o->massive_scale > 0 ? o->massive_scale : 100.0f;
        t->massive_row = o->massive_token;
    }
}

/* Append a tensor; `seed_name` names the element stream (the weight's name for a BitNet
 * weight_scale, so both describe the same ternary matrix). Returns the new tensor or NULL. */
static gen_tensor *add(builder *b, uint32_t dtype, uint32_t kind, uint32_t layer, uint32_t expert,
                       uint32_t n_dims, uint64_t d0, uint64_t d1, uint64_t d2, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 10, 11)))
#endif
    ;
static gen_tensor *add(builder *b, uint32_t dtype, uint32_t kind, uint32_t layer, uint32_t expert,
                       uint32_t n_dims, uint64_t d0, uint64_t d1, uint64_t d2, const char *fmt, ...)
{
    if (b->rc) return NULL;
    if (b->p->n == b->cap) {
        uint32_t const ncap = b->cap ? b->cap * 2 : 64;
        gen_tensor *nt = ncap <= TRIT_MAX_TENSORS ? trit_mallocarray(ncap, sizeof *nt) : NULL;
        if (!nt) {
            b->rc = trit_err_set(b->err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "too many tensors");
            return NULL;
        }
        if (b->p->n) memcpy(nt, b->p->t, b->p->n * sizeof *nt);
        free(b->p->t);
        b->p->t = nt;
        b->cap = ncap;
    }
    gen_tensor *t = &b->p->t[b->p->n++];
    memset(t, 0, sizeof *t);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->name, sizeof t->name, fmt, ap);
    va_end(ap);
    t->dtype = dtype;
    t->kind = kind;
    t->n_dims = n_dims;
    t->shape[0] = d0;
    t->shape[1] = d1;
    t->shape[2] = d2;
    t->layer = layer;
    t->expert = expert;
    t->group = b->o->group_size;
    t->std = 0.02f;
    if (kind == GEN_K_FLOAT && b->o->embd_std > 0 &&
        (!strcmp(t->name, "model.embed_tokens.weight") || !strcmp(t->name, "token_embd.weight")))
        t->std = b->o->embd_std;
    t->seed = mix64(b->o->seed ^ fnv1a64(t->name));
    plant_outliers(b->o, t);
    uint64_t n = 1;
    int bad = 0;
    for (uint32_t d = 0; d < n_dims; d++) bad |= trit_mul_u64(n, t->shape[d], &n);
    if (dtype == GEN_DT_TQ1_0 || dtype == GEN_DT_TQ2_0)
        bad |= trit_mul_u64(n / 256, dtype == GEN_DT_TQ1_0 ? 54 : 66, &t->nbytes);
    else if (dtype == GEN_DT_MXFP4)
        bad |= trit_mul_u64(n / 32, 17, &t->nbytes);
    else
        bad |= trit_mul_u64(n, gen__dtype_size(dtype), &t->nbytes);
    if (bad) b->rc = trit_err_set(b->err, TRIT_E_LIMIT, TRIT_NO_OFFSET, NULL, "tensor '%s' is too large", t->name);
    return t;
}

uint64_t gen__seed_of(const gen_opts *o, const char *name) { return mix64(o->seed ^ fnv1a64(name)); }

gen_tensor *gen__add(builder *b, uint32_t dtype, uint32_t kind, uint32_t layer, uint32_t expert, uint32_t n_dims,
                     const uint64_t *shape, const char *name)
{
    gen_tensor *t = add(b, dtype, kind, layer, expert, n_dims < 3 ? n_dims : 3, shape[0], n_dims > 1 ? shape[1] : 0,
                        n_dims > 2 ? shape[2] : 0, "%s", name);
    if (!t || n_dims < 4) return t;
    /* a fourth (innermost) dimension: HF MXFP4 blocks [..., n/32, 16] of U8 */
    t->n_dims = 4;
    t->shape[3] = shape[3];
    if (trit_mul_u64(t->nbytes, shape[3], &t->nbytes))
        b->rc = trit_err_set(b->err, TRIT_E_LIMIT, TRIT_NO_OFFSET, NULL, "tensor '%s' is too large", t->name);
    return t;
}

/* HF BitNet packed projection: U8 [out/4, in] plus its BF16 weight_scale [1] (transformers'
 * integrations/bitnet.py registers weight_scale as a buffer of shape (1,) in the model dtype). */
static void add_packed(builder *b, uint32_t L, const char *name, uint64_t out, uint64_t in, int divide)
{
    /* add() may move the array: keep the weight's seed, not a pointer to it. */
    gen_tensor *w = add(b, GEN_DT_U8, GEN_K_PACKED, L, GEN_NONE, 2, out / 4, in, 0,
                        "model.layers.%u.%s.weight", L, name);
    if (w) w->divide = (uint32_t)divide;
    uint64_t const seed = w ? w->seed : 0;
    gen_tensor *s = add(b, GEN_DT_BF16, GEN_K_INVSCALE, L, GEN_NONE, 1, 1, 0, 0,
                        "model.layers.%u.%s.weight_scale", L, name);
    if (s) {
        s->seed = seed;
        s->divide = (uint32_t)divide;
    }
}

/* What a safetensors layout holds, decided once from the layout (sources: formats.md 3.x, 4.1
 * and section 12; each release's config.json and transformers' modeling_<family>.py, cited at
 * the layout's config in gen_config.c). */
typedef struct hf_form {
    int packed, divide;     /* U8 packed projections + weight_scale; scale divides */
    int subln, subln_1bit;  /* BitNet 2B-4T attn_sub_norm/ffn_sub_norm; 1bitLLM inner_attn_ln/ffn_layernorm */
    int tied;               /* no lm_head.weight */
    int qkv_bias, o_bias;   /* attention biases (qwen2moe q/k/v; phimoe q/k/v/o) */
    int layernorm;          /* LayerNorm with bias (phimoe) */
    int qk_norm;            /* 1 per head [head_dim] (qwen3moe), 2 full width (olmoe) */
    int mla;                /* deepseek2 multi-head latent attention */
    int fp8;                /* deepseek-v3: projections F8_E4M3 + weight_scale_inv blocks */
    uint32_t dt;            /* dtype of float tensors */
    uint32_t pk;            /* kind of projections */
} hf_form;

static hf_form form_of(const gen_opts *o)
{
    gen_layout const l = o->layout;
    hf_form f;
    memset(&f, 0, sizeof f);
    f.packed = l == GEN_LAYOUT_BITNET || l == GEN_LAYOUT_BITNET_BITLINEAR || l == GEN_LAYOUT_LLAMA158;
    f.divide = l == GEN_LAYOUT_BITNET_BITLINEAR || l == GEN_LAYOUT_LLAMA158;
    f.subln = l == GEN_LAYOUT_BITNET || l == GEN_LAYOUT_BITNET_BITLINEAR || l == GEN_LAYOUT_BITNET_BF16;
    f.subln_1bit = l == GEN_LAYOUT_LATENT;
    f.tied = f.subln || f.subln_1bit || l == GEN_LAYOUT_BITCPM || l == GEN_LAYOUT_MINICPM4 ||
             l == GEN_LAYOUT_GRANITEMOE;
    f.qkv_bias = l == GEN_LAYOUT_QWEN2MOE || l == GEN_LAYOUT_PHIMOE;
    f.o_bias = l == GEN_LAYOUT_PHIMOE;
    f.layernorm = l == GEN_LAYOUT_PHIMOE;
    f.qk_norm = l == GEN_LAYOUT_QWEN3MOE ? 1 : l == GEN_LAYOUT_OLMOE ? 2 : 0;
    f.mla = gen__is_deepseek(l);
    f.fp8 = l == GEN_LAYOUT_DEEPSEEK_V3;
    /* 1bitLLM and granite ship F32 on disk; the rest BF16 */
    f.dt = l == GEN_LAYOUT_LATENT || l == GEN_LAYOUT_GRANITEMOE || o->f32 ? GEN_DT_F32 : GEN_DT_BF16;
    int const group = l == GEN_LAYOUT_BITCPM || l == GEN_LAYOUT_MINICPM4;
    f.pk = l == GEN_LAYOUT_LATENT || l == GEN_LAYOUT_BITNET_BF16 || o->latent ? GEN_K_FLOAT
           : group ? GEN_K_GROUP : GEN_K_TERNARY;
    return f;
}

void gen__deepseek_dims(const gen_opts *o, uint32_t *nope, uint32_t *rope, uint32_t *v, uint32_t *kv_lora)
{
    /* DeepSeek-V2-Lite: qk_nope_head_dim 128, qk_rope_head_dim 64, v_head_dim 128, kv_lora_rank
     * 512 = 4 x nope; scaled down around head_dim */
    uint32_t const hd = gen_head_dim(o);
    *nope = hd;
    *rope = hd / 2;
    *v = hd;
    *kv_lora = 2 * hd;
}

uint32_t gen__shared_ff(const gen_opts *o)
{
    if (o->n_ff_shared) return o->n_ff_shared;
    /* Qwen1.5-MoE-A2.7B: shared 5632 = 4 x 1408; DeepSeek-V2-Lite and V2: 2 shared experts of
     * moe_intermediate_size; V3: 1 */
    if (o->layout == GEN_LAYOUT_DEEPSEEK_V3) return o->n_ff;
    return gen__is_deepseek(o->layout) ? 2 * o->n_ff : 4 * o->n_ff;
}

/* A projection of a non-packed layout ([out, in], kind f->pk, dtype f->dt). */
static void proj(builder *b, const hf_form *f, uint32_t L, uint32_t E, uint64_t out, uint64_t in,
                 const char *name)
{
    if (!f->fp8) {
        add(b, f->dt, f->pk, L, E, 2, out, in, 0, "%s", name);
        return;
    }
    /* DeepSeek-V3 (README_WEIGHTS.md): the weight F8_E4M3 [out, in] and "{name}_scale_inv" F32
     * [ceil(out / 128), ceil(in / 128)], one scale per block, partial blocks at the edges */
    gen_tensor *w = add(b, GEN_DT_F8_E4M3, GEN_K_FP8, L, E, 2, out, in, 0, "%s", name);
    if (w) w->w_rows = out, w->w_cols = in;
    uint64_t const seed = w ? w->seed : 0;
    gen_tensor *s = add(b, GEN_DT_F32, GEN_K_FP8_SCALE, L, E, 2, trit_div_ceil(out, GEN_FP8_BLOCK),
                        trit_div_ceil(in, GEN_FP8_BLOCK), 0, "%s_scale_inv", name);
    if (s) s->seed = seed, s->w_rows = out, s->w_cols = in;
}

static void attention(builder *b, const hf_form *f, uint32_t L)
{
    const gen_opts *o = b->o;
    uint64_t const H = o->n_embd, hd = gen_head_dim(o), Q = hd * o->n_head, kv = hd * o->n_head_kv;
    char nm[128];
    if (f->mla) {
        /* modeling_deepseek_v2.py DeepseekV2Attention, q_lora_rank null (V2-Lite): q_proj
         * [heads * (nope + rope), H]; kv_a_proj_with_mqa [kv_lora + rope, H]; kv_a_layernorm
         * [kv_lora]; kv_b_proj [heads * (nope + v), kv_lora]; o_proj [H, heads * v] */
        uint32_t nope, rope, v, kl;
        gen__deepseek_dims(o, &nope, &rope, &v, &kl);
        uint64_t const nh = o->n_head;
        if (o->q_lora) {
            /* DeepSeek-V2 (q_lora_rank 1536): q_a_proj [q_lora, H], q_a_layernorm [q_lora],
             * q_b_proj [heads * (nope + rope), q_lora] */
            snprintf(nm, sizeof nm, "model.layers.%u.self_attn.q_a_proj.weight", L);
            proj(b, f, L, GEN_NONE, o->q_lora, H, nm);
            add(b, f->dt, GEN_K_NORM, L, GEN_NONE, 1, o->q_lora, 0, 0, "model.layers.%u.self_attn.q_a_layernorm.weight", L);
            snprintf(nm, sizeof nm, "model.layers.%u.self_attn.q_b_proj.weight", L);
            proj(b, f, L, GEN_NONE, nh * (nope + rope), o->q_lora, nm);
        } else {
            snprintf(nm, sizeof nm, "model.layers.%u.self_attn.q_proj.weight", L);
            proj(b, f, L, GEN_NONE, nh * (nope + rope), H, nm);
        }
        snprintf(nm, sizeof nm, "model.layers.%u.self_attn.kv_a_proj_with_mqa.weight", L);
        proj(b, f, L, GEN_NONE, (uint64_t)kl + rope, H, nm);
        add(b, f->dt, GEN_K_NORM, L, GEN_NONE, 1, kl, 0, 0, "model.layers.%u.self_attn.kv_a_layernorm.weight", L);
        snprintf(nm, sizeof nm, "model.layers.%u.self_attn.kv_b_proj.weight", L);
        proj(b, f, L, GEN_NONE, nh * (nope + v), kl, nm);
        snprintf(nm, sizeof nm, "model.layers.%u.self_attn.o_proj.weight", L);
        proj(b, f, L, GEN_NONE, H, nh * v, nm);
        return;
    }
    static const char *const attn[4] = {"q_proj", "k_proj", "v_proj", "o_proj"};
    uint64_t const outs[4] = {Q, kv, kv, H}, ins[4] = {H, H, H, Q};
    for (int k = 0; k < 4; k++) {
        char pn[32];
        snprintf(pn, sizeof pn, "self_attn.%s", attn[k]);
        if (f->packed) add_packed(b, L, pn, outs[k], ins[k], f->divide);
        else {
            snprintf(nm, sizeof nm, "model.layers.%u.%s.weight", L, pn);
            proj(b, f, L, GEN_NONE, outs[k], ins[k], nm);
        }
        if ((k < 3 && f->qkv_bias) || (k == 3 && f->o_bias))
            add(b, f->dt, GEN_K_FLOAT, L, GEN_NONE, 1, outs[k], 0, 0, "model.layers.%u.%s.bias", L, pn);
    }
    if (f->subln) add(b, f->dt, GEN_K_NORM, L, GEN_NONE, 1, H, 0, 0, "model.layers.%u.self_attn.attn_sub_norm.weight", L);
    if (f->subln_1bit) add(b, f->dt, GEN_K_NORM, L, GEN_NONE, 1, H, 0, 0, "model.layers.%u.self_attn.inner_attn_ln.weight", L);
    if (f->qk_norm) {
        /* Qwen3-MoE: RMSNorm(head_dim) per head; OLMoE: RMSNorm(hidden) on q and
         * RMSNorm(kv_heads * head_dim) on k (modeling_olmoe.py OlmoeAttention) */
        uint64_t const qn = f->qk_norm == 1 ? hd : Q, kn = f->qk_norm == 1 ? hd : kv;
        add(b, f->dt, GEN_K_NORM, L, GEN_NONE, 1, qn, 0, 0, "model.layers.%u.self_attn.q_norm.weight", L);
        add(b, f->dt, GEN_K_NORM, L, GEN_NONE, 1, kn, 0, 0, "model.layers.%u.self_attn.k_norm.weight", L);
    }
}

/* gate/up/down [F, H], [F, H], [H, F] under prefix (dense MLP, shared expert, one expert). */
static void swiglu(builder *b, const hf_form *f, uint32_t L, uint32_t E, uint64_t width, const char *prefix)
{
    static const char *const mlp[3] = {"gate_proj", "up_proj", "down_proj"};
    uint64_t const H = b->o->n_embd;
    char nm[160];
    for (int k = 0; k < 3; k++) {
        snprintf(nm, sizeof nm, "%s.%s.weight", prefix, mlp[k]);
        proj(b, f, L, E, k == 2 ? H : width, k == 2 ? width : H, nm);
    }
}

static void ffn(builder *b, const hf_form *f, uint32_t L)
{
    const gen_opts *o = b->o;
    gen_layout const l = o->layout;
    uint64_t const H = o->n_embd, F = o->n_ff, X = o->n_expert;
    char nm[160], pre[96];
    if (l == GEN_LAYOUT_GRANITEMOE) {
        /* modeling_granitemoe.py GraniteMoeParallelExperts: input_linear [E, 2F, H] (gate rows
         * then up rows), output_linear [E, H, F]; GraniteMoeTopKGating router.layer [E, H] */
        add(b, f->dt, f->pk, L, GEN_NONE, 3, X, 2 * F, H, "model.layers.%u.block_sparse_moe.input_linear.weight", L);
        add(b, f->dt, f->pk, L, GEN_NONE, 3, X, H, F, "model.layers.%u.block_sparse_moe.output_linear.weight", L);
        add(b, f->dt, GEN_K_FLOAT, L, GEN_NONE, 2, X, H, 0, "model.layers.%u.block_sparse_moe.router.layer.weight", L);
        return;
    }
    if (l == GEN_LAYOUT_MIXTRAL || l == GEN_LAYOUT_PHIMOE) {
        /* Mixtral / PhiMoE: block_sparse_moe.gate [E, H], experts.e.w1 (gate), w2 (down), w3 (up) */
        static const char *const mx[3] = {"w1", "w2", "w3"};
        add(b, f->dt, GEN_K_FLOAT, L, GEN_NONE, 2, X, H, 0, "model.layers.%u.block_sparse_moe.gate.weight", L);
        for (uint32_t e = 0; e < X && !b->rc; e++)
            for (int k = 0; k < 3; k++) {
                snprintf(nm, sizeof nm, "model.layers.%u.block_sparse_moe.experts.%u.%s.weight", L, e, mx[k]);
                proj(b, f, L, e, k == 1 ? H : F, k == 1 ? F : H, nm);
            }
        return;
    }
    int const moe = gen_layout_is_moe(l) && !(gen__is_deepseek(l) && L < 1);
    if (!moe) {
        /* dense: BitNet/1bitLLM/Llama/MiniCPM; DeepSeek-V2's first_k_dense_replace layers
         * (intermediate_size, wider than the experts) */
        uint64_t const width = gen__is_deepseek(l) ? 4 * F : F;
        static const char *const mlp[3] = {"gate_proj", "up_proj", "down_proj"};
        for (int k = 0; k < 3; k++) {
            char pn[32];
            snprintf(pn, sizeof pn, "mlp.%s", mlp[k]);
            if (f->packed) add_packed(b, L, pn, k == 2 ? H : width, k == 2 ? width : H, f->divide);
            else {
                snprintf(nm, sizeof nm, "model.layers.%u.%s.weight", L, pn);
                proj(b, f, L, GEN_NONE, k == 2 ? H : width, k == 2 ? width : H, nm);
            }
        }
        if (f->subln) add(b, f->dt, GEN_K_NORM, L, GEN_NONE, 1, width, 0, 0, "model.layers.%u.mlp.ffn_sub_norm.weight", L);
        if (f->subln_1bit) add(b, f->dt, GEN_K_NORM, L, GEN_NONE, 1, width, 0, 0, "model.layers.%u.mlp.ffn_layernorm.weight", L);
        return;
    }
    /* Qwen2/3-MoE, OLMoE, DeepSeek: mlp.gate [E, H], mlp.experts.e.{gate,up,down}_proj */
    add(b, f->dt, GEN_K_FLOAT, L, GEN_NONE, 2, X, H, 0, "model.layers.%u.mlp.gate.weight", L);
    if (l == GEN_LAYOUT_DEEPSEEK_V3) {
        /* MoEGate.e_score_correction_bias (noaux_tc), F32 in the release; spread enough to move
         * the selection away from the unbiased top-k */
        gen_tensor *bt = add(b, GEN_DT_F32, GEN_K_FLOAT, L, GEN_NONE, 1, X, 0, 0, "model.layers.%u.mlp.gate.e_score_correction_bias", L);
        if (bt) bt->std = 0.05f;
    }
    for (uint32_t e = 0; e < X && !b->rc; e++) {
        snprintf(pre, sizeof pre, "model.layers.%u.mlp.experts.%u", L, e);
        swiglu(b, f, L, e, F, pre);
    }
    if (l == GEN_LAYOUT_QWEN2MOE) {
        /* modeling_qwen2_moe.py Qwen2MoeSparseMoeBlock: shared_expert (an MLP of width
         * shared_expert_intermediate_size) and shared_expert_gate Linear(H, 1) */
        snprintf(pre, sizeof pre, "model.layers.%u.mlp.shared_expert", L);
        swiglu(b, f, L, GEN_NONE, gen__shared_ff(o), pre);
        add(b, f->dt, GEN_K_FLOAT, L, GEN_NONE, 2, 1, H, 0, "model.layers.%u.mlp.shared_expert_gate.weight", L);
    } else if (gen__is_deepseek(l)) {
        /* DeepseekV2MoE.shared_experts: one MLP of width moe_intermediate_size x n_shared_experts */
        snprintf(pre, sizeof pre, "model.layers.%u.mlp.shared_experts", L);
        swiglu(b, f, L, GEN_NONE, gen__shared_ff(o), pre);
    }
}

static void norm(builder *b, const hf_form *f, uint32_t L, uint64_t n, const char *name)
{
    if (L == GEN_NONE) add(b, f->dt, GEN_K_NORM, L, GEN_NONE, 1, n, 0, 0, "%s.weight", name);
    else add(b, f->dt, GEN_K_NORM, L, GEN_NONE, 1, n, 0, 0, "model.layers.%u.%s.weight", L, name);
    if (!f->layernorm) return;
    /* PhiMoE: nn.LayerNorm(elementwise_affine=True) has a bias */
    if (L == GEN_NONE) add(b, f->dt, GEN_K_FLOAT, L, GEN_NONE, 1, n, 0, 0, "%s.bias", name);
    else add(b, f->dt, GEN_K_FLOAT, L, GEN_NONE, 1, n, 0, 0, "model.layers.%u.%s.bias", L, name);
}

static void build_hf(builder *b)
{
    const gen_opts *o = b->o;
    uint64_t const H = o->n_embd, V = o->n_vocab;
    hf_form const f = form_of(o);

    add(b, f.dt, GEN_K_FLOAT, GEN_NONE, GEN_NONE, 2, V, H, 0, "model.embed_tokens.weight");
    for (uint32_t L = 0; L < o->n_layer && !b->rc; L++) {
        attention(b, &f, L);
        ffn(b, &f, L);
        norm(b, &f, L, H, "input_layernorm");
        norm(b, &f, L, H, "post_attention_layernorm");
    }
    if (o->layout == GEN_LAYOUT_DEEPSEEK_V3 && !b->rc) {
        /* the multi-token-prediction module (README_WEIGHTS.md "MTP Modules"), layer id
         * num_hidden_layers: embed_tokens, enorm, hnorm, eh_proj [H, 2H], a decoder layer,
         * shared_head (norm, head) */
        uint32_t const M = o->n_layer;
        add(b, f.dt, GEN_K_FLOAT, M, GEN_NONE, 2, V, H, 0, "model.layers.%u.embed_tokens.weight", M);
        norm(b, &f, M, H, "enorm");
        norm(b, &f, M, H, "hnorm");
        char nm[96];
        snprintf(nm, sizeof nm, "model.layers.%u.eh_proj.weight", M);
        proj(b, &f, M, GEN_NONE, H, 2 * H, nm);
        attention(b, &f, M);
        ffn(b, &f, M);
        norm(b, &f, M, H, "input_layernorm");
        norm(b, &f, M, H, "post_attention_layernorm");
        norm(b, &f, M, H, "shared_head.norm");
        add(b, f.dt, GEN_K_FLOAT, M, GEN_NONE, 2, V, H, 0, "model.layers.%u.shared_head.head.weight", M);
    }
    norm(b, &f, GEN_NONE, H, "model.norm");
    /* BitNet 2B-4T, 1bitLLM, MiniCPM and granite tie the output head to the embeddings. */
    if (!f.tied) {
        add(b, f.dt, GEN_K_FLOAT, GEN_NONE, GEN_NONE, 2, V, H, 0, "lm_head.weight");
        /* PhiMoE: lm_head_bias true */
        if (o->layout == GEN_LAYOUT_PHIMOE) add(b, f.dt, GEN_K_FLOAT, GEN_NONE, GEN_NONE, 1, V, 0, 0, "lm_head.bias");
    }
}

static uint32_t tq_for(const gen_opts *o, int attention)
{
    if (o->gguf_tq == GEN_TQ_1) return GEN_DT_TQ1_0;
    if (o->gguf_tq == GEN_TQ_2) return GEN_DT_TQ2_0;
    if (o->gguf_tq == GEN_TQ_F32) return GEN_DT_F32;
    return attention ? GEN_DT_TQ2_0 : GEN_DT_TQ1_0;
}

static void build_gguf(builder *b)
{
    const gen_opts *o = b->o;
    uint64_t const H = o->n_embd, F = o->n_ff, V = o->n_vocab, E = o->n_expert;
    uint64_t const hd = H / o->n_head, kv = hd * o->n_head_kv;
    int const moe = o->layout == GEN_LAYOUT_GGUF_MOE;
    uint32_t const pk = o->latent || o->gguf_tq == GEN_TQ_F32 ? GEN_K_FLOAT : GEN_K_TERNARY;
    uint32_t const ta = tq_for(o, 1), tf = tq_for(o, 0);

    /* Shapes are torch order here; the GGUF writer reverses them into ne. */
    add(b, GEN_DT_F16, GEN_K_FLOAT, GEN_NONE, GEN_NONE, 2, V, H, 0, "token_embd.weight");
    for (uint32_t L = 0; L < o->n_layer && !b->rc; L++) {
        add(b, GEN_DT_F32, GEN_K_NORM, L, GEN_NONE, 1, H, 0, 0, "blk.%u.attn_norm.weight", L);
        add(b, ta, pk, L, GEN_NONE, 2, H, H, 0, "blk.%u.attn_q.weight", L);
        add(b, ta, pk, L, GEN_NONE, 2, kv, H, 0, "blk.%u.attn_k.weight", L);
        add(b, ta, pk, L, GEN_NONE, 2, kv, H, 0, "blk.%u.attn_v.weight", L);
        add(b, ta, pk, L, GEN_NONE, 2, H, H, 0, "blk.%u.attn_output.weight", L);
        if (moe) {
            add(b, GEN_DT_F32, GEN_K_NORM, L, GEN_NONE, 1, hd, 0, 0, "blk.%u.attn_q_norm.weight", L);
            add(b, GEN_DT_F32, GEN_K_NORM, L, GEN_NONE, 1, hd, 0, 0, "blk.%u.attn_k_norm.weight", L);
            add(b, GEN_DT_F32, GEN_K_NORM, L, GEN_NONE, 1, H, 0, 0, "blk.%u.ffn_norm.weight", L);
            add(b, GEN_DT_F32, GEN_K_FLOAT, L, GEN_NONE, 2, E, H, 0, "blk.%u.ffn_gate_inp.weight", L);
            add(b, tf, pk, L, GEN_NONE, 3, E, F, H, "blk.%u.ffn_gate_exps.weight", L);
            add(b, tf, pk, L, GEN_NONE, 3, E, F, H, "blk.%u.ffn_up_exps.weight", L);
            add(b, tf, pk, L, GEN_NONE, 3, E, H, F, "blk.%u.ffn_down_exps.weight", L);
        } else {
            add(b, GEN_DT_F32, GEN_K_NORM, L, GEN_NONE, 1, H, 0, 0, "blk.%u.attn_sub_norm.weight", L);
            add(b, GEN_DT_F32, GEN_K_NORM, L, GEN_NONE, 1, H, 0, 0, "blk.%u.ffn_norm.weight", L);
            add(b, tf, pk, L, GEN_NONE, 2, F, H, 0, "blk.%u.ffn_gate.weight", L);
            add(b, tf, pk, L, GEN_NONE, 2, F, H, 0, "blk.%u.ffn_up.weight", L);
            add(b, tf, pk, L, GEN_NONE, 2, H, F, 0, "blk.%u.ffn_down.weight", L);
            add(b, GEN_DT_F32, GEN_K_NORM, L, GEN_NONE, 1, F, 0, 0, "blk.%u.ffn_sub_norm.weight", L);
        }
    }
    add(b, GEN_DT_F32, GEN_K_NORM, GEN_NONE, GEN_NONE, 1, H, 0, 0, "output_norm.weight");
}

/* Give tensors [from, to) to files first_file.. n_files-1, contiguous groups of about equal
 * bytes, each non-empty (the caller guarantees to - from >= files). */
static void spread(gen_plan *p, uint32_t from, uint32_t to, uint32_t first_file)
{
    uint32_t const files = p->n_files - first_file;
    uint64_t left = 0;
    for (uint32_t i = from; i < to; i++) left += p->t[i].nbytes;
    uint32_t f = 0;
    uint64_t acc = 0;
    for (uint32_t i = from; i < to; i++) {
        uint32_t const files_left = files - f, tensors_left = to - i;
        /* Move on once this file has its share, or when each later file needs one tensor. */
        if (acc > 0 && f + 1 < files &&
            (acc * files_left >= left || tensors_left < files_left)) {
            f++;
            left -= acc;
            acc = 0;
        }
        p->t[i].file = first_file + f;
        acc += p->t[i].nbytes;
    }
}

/* Shards: for MoE, the first boundary falls inside the middle layer's experts, between the
 * first and second projection of expert n_expert/2, so that layer (and that expert) straddles
 * two files, as greedy HF sharding can produce. Other boundaries split the rest by bytes. */
static int assign_files(const gen_opts *o, gen_plan *p, trit_err *err)
{
    int const st = o->layout != GEN_LAYOUT_GGUF && o->layout != GEN_LAYOUT_GGUF_MOE && o->layout != GEN_LAYOUT_GGUF_GPT_OSS;
    p->n_files = st ? o->n_shards : 1;
    p->split_layer = GEN_NONE;
    if (p->n_files <= 1) return TRIT_OK;
    if (p->n_files > p->n)
        return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL,
                            "%u shards requested but the model has only %u tensors", p->n_files, p->n);
    uint32_t const L = o->n_layer / 2, e = o->n_expert / 2;
    uint32_t cut = p->n;
    for (uint32_t i = 0; gen_layout_is_moe(o->layout) && i < p->n; i++)
        if (p->t[i].layer == L && p->t[i].expert == e) {
            cut = i + 1;  /* after the expert's first projection */
            break;
        }
    if (cut == p->n) {
        /* dense, or experts fused into one tensor per layer (granite): split by bytes */
        spread(p, 0, p->n, 0);
        return TRIT_OK;
    }
    if (cut >= p->n || p->n - cut < p->n_files - 1)
        return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL,
                            "%u shards do not fit after the split inside layer %u", p->n_files, L);
    for (uint32_t i = 0; i < cut; i++) p->t[i].file = 0;
    spread(p, cut, p->n, 1);
    p->split_layer = L;
    return TRIT_OK;
}

int gen_plan_build(const gen_opts *o, gen_plan *p, trit_err *err)
{
    memset(p, 0, sizeof *p);
    int rc = gen_opts_check(o, err);
    if (rc) return rc;
    builder b = {o, p, 0, TRIT_OK, err};
    if (o->layout == GEN_LAYOUT_GGUF || o->layout == GEN_LAYOUT_GGUF_MOE) build_gguf(&b);
    else if (gen__is_gptoss(o->layout)) gen__build_gptoss(&b);
    else build_hf(&b);
    rc = b.rc ? b.rc : assign_files(o, p, err);
    if (rc) gen_plan_release(p);
    return rc;
}

void gen_plan_release(gen_plan *p)
{
    if (!p) return;
    free(p->t);
    memset(p, 0, sizeof *p);
}

const gen_tensor *gen_plan_find(const gen_plan *p, const char *name)
{
    for (uint32_t i = 0; i < p->n; i++)
        if (!strcmp(p->t[i].name, name)) return &p->t[i];
    return NULL;
}

void gen_shard_name(uint32_t i, uint32_t n, char *buf, size_t cap)
{
    if (n <= 1) snprintf(buf, cap, "model.safetensors");
    else snprintf(buf, cap, "model-%05u-of-%05u.safetensors", i + 1, n);
}
