/* gen_plan.c - which tensors each layout holds (names, dtypes, shapes, value kinds), in
 * state-dict order, and how they are spread over shards. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen_int.h"
#include "trit_limits.h"
#include "trit_safemath.h"

typedef struct builder {
    const gen_opts *o;
    gen_plan *p;
    uint32_t cap;
    int rc;
    trit_err *err;
} builder;

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
    uint64_t n = 1;
    int bad = 0;
    for (uint32_t d = 0; d < n_dims; d++) bad |= trit_mul_u64(n, t->shape[d], &n);
    if (dtype == GEN_DT_TQ1_0 || dtype == GEN_DT_TQ2_0)
        bad |= trit_mul_u64(n / 256, dtype == GEN_DT_TQ1_0 ? 54 : 66, &t->nbytes);
    else
        bad |= trit_mul_u64(n, gen__dtype_size(dtype), &t->nbytes);
    if (bad) b->rc = trit_err_set(b->err, TRIT_E_LIMIT, TRIT_NO_OFFSET, NULL, "tensor '%s' is too large", t->name);
    return t;
}

/* HF BitNet packed projection: U8 [out/4, in] plus its BF16 weight_scale [1]. */
static void add_packed(builder *b, uint32_t L, const char *name, uint64_t out, uint64_t in)
{
    /* add() may move the array: keep the weight's seed, not a pointer to it. */
    gen_tensor *w = add(b, GEN_DT_U8, GEN_K_PACKED, L, GEN_NONE, 2, out / 4, in, 0,
                        "model.layers.%u.%s.weight", L, name);
    uint64_t const seed = w ? w->seed : 0;
    gen_tensor *s = add(b, GEN_DT_BF16, GEN_K_INVSCALE, L, GEN_NONE, 1, 1, 0, 0,
                        "model.layers.%u.%s.weight_scale", L, name);
    if (s) s->seed = seed;
}

/* A 2-D HF projection [out, in] of the given kind and dtype. */
static void add_proj(builder *b, uint32_t dtype, uint32_t kind, uint32_t L, uint32_t E, uint64_t out,
                     uint64_t in, const char *name)
{
    add(b, dtype, kind, L, E, 2, out, in, 0, "%s", name);
}

static void build_hf(builder *b)
{
    const gen_opts *o = b->o;
    uint64_t const H = o->n_embd, F = o->n_ff, V = o->n_vocab;
    uint64_t const hd = H / o->n_head, kv = hd * o->n_head_kv;
    int const bitnet = o->layout == GEN_LAYOUT_BITNET, latent = o->layout == GEN_LAYOUT_LATENT;
    int const bitcpm = o->layout == GEN_LAYOUT_BITCPM, mixtral = o->layout == GEN_LAYOUT_MIXTRAL;
    int const qwen = o->layout == GEN_LAYOUT_QWEN3MOE;
    uint32_t const dt = latent ? GEN_DT_F16 : GEN_DT_BF16;
    uint32_t const pk = latent || o->latent ? GEN_K_FLOAT : bitcpm ? GEN_K_GROUP : GEN_K_TERNARY;
    char nm[128];

    add(b, dt, GEN_K_FLOAT, GEN_NONE, GEN_NONE, 2, V, H, 0, "model.embed_tokens.weight");
    for (uint32_t L = 0; L < o->n_layer && !b->rc; L++) {
        static const char *const attn[4] = {"q_proj", "k_proj", "v_proj", "o_proj"};
        uint64_t const outs[4] = {H, kv, kv, H};
        for (int k = 0; k < 4; k++) {
            char pn[32];
            snprintf(pn, sizeof pn, "self_attn.%s", attn[k]);
            if (bitnet) add_packed(b, L, pn, outs[k], H);
            else {
                snprintf(nm, sizeof nm, "model.layers.%u.%s.weight", L, pn);
                add_proj(b, dt, pk, L, GEN_NONE, outs[k], H, nm);
            }
        }
        if (bitnet) add(b, dt, GEN_K_NORM, L, GEN_NONE, 1, H, 0, 0, "model.layers.%u.self_attn.attn_sub_norm.weight", L);
        if (latent) add(b, dt, GEN_K_NORM, L, GEN_NONE, 1, H, 0, 0, "model.layers.%u.self_attn.inner_attn_ln.weight", L);
        if (qwen) {
            add(b, dt, GEN_K_NORM, L, GEN_NONE, 1, hd, 0, 0, "model.layers.%u.self_attn.q_norm.weight", L);
            add(b, dt, GEN_K_NORM, L, GEN_NONE, 1, hd, 0, 0, "model.layers.%u.self_attn.k_norm.weight", L);
        }
        if (mixtral || qwen) {
            const char *const blk = mixtral ? "block_sparse_moe" : "mlp";
            static const char *const mx[3] = {"w1", "w2", "w3"};
            static const char *const qw[3] = {"gate_proj", "up_proj", "down_proj"};
            add(b, dt, GEN_K_FLOAT, L, GEN_NONE, 2, o->n_expert, H, 0, "model.layers.%u.%s.gate.weight", L, blk);
            for (uint32_t e = 0; e < o->n_expert && !b->rc; e++)
                for (int k = 0; k < 3; k++) {
                    const char *const pn = mixtral ? mx[k] : qw[k];
                    int const down = mixtral ? k == 1 : k == 2;
                    snprintf(nm, sizeof nm, "model.layers.%u.%s.experts.%u.%s.weight", L, blk, e, pn);
                    add_proj(b, dt, pk, L, e, down ? H : F, down ? F : H, nm);
                }
        } else {
            static const char *const mlp[3] = {"gate_proj", "up_proj", "down_proj"};
            for (int k = 0; k < 3; k++) {
                char pn[32];
                snprintf(pn, sizeof pn, "mlp.%s", mlp[k]);
                if (bitnet) add_packed(b, L, pn, k == 2 ? H : F, k == 2 ? F : H);
                else {
                    snprintf(nm, sizeof nm, "model.layers.%u.%s.weight", L, pn);
                    add_proj(b, dt, pk, L, GEN_NONE, k == 2 ? H : F, k == 2 ? F : H, nm);
                }
            }
            if (bitnet) add(b, dt, GEN_K_NORM, L, GEN_NONE, 1, F, 0, 0, "model.layers.%u.mlp.ffn_sub_norm.weight", L);
            if (latent) add(b, dt, GEN_K_NORM, L, GEN_NONE, 1, F, 0, 0, "model.layers.%u.mlp.ffn_layernorm.weight", L);
        }
        add(b, dt, GEN_K_NORM, L, GEN_NONE, 1, H, 0, 0, "model.layers.%u.input_layernorm.weight", L);
        add(b, dt, GEN_K_NORM, L, GEN_NONE, 1, H, 0, 0, "model.layers.%u.post_attention_layernorm.weight", L);
    }
    add(b, dt, GEN_K_NORM, GEN_NONE, GEN_NONE, 1, H, 0, 0, "model.norm.weight");
    /* BitNet 2B4T and MiniCPM tie the output head to the embeddings. */
    if (latent || mixtral || qwen) add(b, dt, GEN_K_FLOAT, GEN_NONE, GEN_NONE, 2, V, H, 0, "lm_head.weight");
}

static uint32_t tq_for(const gen_opts *o, int attention)
{
    if (o->gguf_tq == GEN_TQ_1) return GEN_DT_TQ1_0;
    if (o->gguf_tq == GEN_TQ_2) return GEN_DT_TQ2_0;
    return attention ? GEN_DT_TQ2_0 : GEN_DT_TQ1_0;
}

static void build_gguf(builder *b)
{
    const gen_opts *o = b->o;
    uint64_t const H = o->n_embd, F = o->n_ff, V = o->n_vocab, E = o->n_expert;
    uint64_t const hd = H / o->n_head, kv = hd * o->n_head_kv;
    int const moe = o->layout == GEN_LAYOUT_GGUF_MOE;
    uint32_t const pk = o->latent ? GEN_K_FLOAT : GEN_K_TERNARY;
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
    int const moe = o->layout == GEN_LAYOUT_MIXTRAL || o->layout == GEN_LAYOUT_QWEN3MOE;
    int const st = o->layout != GEN_LAYOUT_GGUF && o->layout != GEN_LAYOUT_GGUF_MOE;
    p->n_files = st ? o->n_shards : 1;
    p->split_layer = GEN_NONE;
    if (p->n_files <= 1) return TRIT_OK;
    if (p->n_files > p->n)
        return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL,
                            "%u shards requested but the model has only %u tensors", p->n_files, p->n);
    if (!moe) {
        spread(p, 0, p->n, 0);
        return TRIT_OK;
    }
    uint32_t const L = o->n_layer / 2, e = o->n_expert / 2;
    uint32_t cut = p->n;
    for (uint32_t i = 0; i < p->n; i++)
        if (p->t[i].layer == L && p->t[i].expert == e) {
            cut = i + 1;  /* after the expert's first projection */
            break;
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
