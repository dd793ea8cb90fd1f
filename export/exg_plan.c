/*
 * exg_plan.c - which GGUF tensors an export writes, with which type, from which
 * container tensors (spec/export.md "Tensors").
 *
 * Walks the container's tensor records in order. A per-expert member blk.L.ffn_P.E.weight
 * (P = gate, up, down) contributes to the 3-D blk.L.ffn_P_exps.weight, emitted where expert 0's
 * member is; every other tensor maps to one GGUF tensor of the same name. Each source gets a
 * choice (copy, TQ, dequantized fallback, F16/BF16 widened to F32 where llama.cpp needs F32)
 * and a stack takes the common choice, or F32 when its experts differ.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exg_int.h"
#include "trit_safemath.h"
#include "trit_try.h"

static const char NOTE_COLS[] = "row length is not a multiple of 256 (the TQ block)";
static const char NOTE_GROUP[] = "scale groups do not cover whole 256-weight TQ blocks";
static const char NOTE_RANGE[] = "a scale is outside the normal f16 range of TQ block scales";
static const char NOTE_ASKED[] = "dequantized on request (--dequant)";
static const char NOTE_MIXED[] = "experts differ in type; stacked as F32";
static const char NOTE_ELEM[] = "llama.cpp's elementwise ops need F32 (1-D, norm and bias tensors)";

/* "blk.L.ffn_P.E.weight" with P in gate/up/down: 1 and the parts, else 0. */
static int parse_expert(const char *name, uint32_t *layer, const char **proj, uint32_t *expert)
{
    static const char *const projs[] = {"gate", "up", "down"};
    if (strncmp(name, "blk.", 4) != 0) return 0;
    const char *s = name + 4;
    char *end;
    if (*s < '0' || *s > '9') return 0;
    unsigned long const l = strtoul(s, &end, 10);
    if (l > UINT32_MAX || strncmp(end, ".ffn_", 5) != 0) return 0;
    s = end + 5;
    for (size_t k = 0; k < 3; k++) {
        size_t const n = strlen(projs[k]);
        if (strncmp(s, projs[k], n) != 0 || s[n] != '.' || s[n + 1] < '0' || s[n + 1] > '9') continue;
        unsigned long const e = strtoul(s + n + 1, &end, 10);
        if (e > UINT32_MAX || strcmp(end, ".weight") != 0) return 0;
        *layer = (uint32_t)l;
        *proj = projs[k];
        *expert = (uint32_t)e;
        return 1;
    }
    return 0;
}

/* Q/K projections (and their biases) whose rows carry RoPE pairs. */
static int is_qk(const char *name)
{
    if (strncmp(name, "blk.", 4) != 0) return 0;
    const char *s = strchr(name + 4, '.');
    if (!s) return 0;
    return !strcmp(s, ".attn_q.weight") || !strcmp(s, ".attn_k.weight") ||
           !strcmp(s, ".attn_q.bias") || !strcmp(s, ".attn_k.bias");
}

/* The projections mainline llama.cpp's bitnet graph can scale with a {name}.scale tensor. */
static int bitnet_scalable(const char *name)
{
    static const char *const sfx[] = {".attn_q.weight", ".attn_k.weight", ".attn_v.weight",
                                      ".attn_output.weight", ".ffn_gate.weight", ".ffn_up.weight",
                                      ".ffn_down.weight"};
    if (strncmp(name, "blk.", 4) != 0) return 0;
    const char *s = strchr(name + 4, '.');
    for (size_t k = 0; s && k < sizeof sfx / sizeof sfx[0]; k++)
        if (!strcmp(s, sfx[k])) return 1;
    return 0;
}

static int ends_with(const char *s, const char *sfx)
{
    size_t const n = strlen(s), k = strlen(sfx);
    return n >= k && !memcmp(s + n - k, sfx, k);
}

/* Tensors llama.cpp only combines elementwise with F32 activations (ggml_mul / ggml_add of a
 * norm weight, a bias, DeepSeek's exp_probs_b): its CPU binary ops take an F32 or same-typed
 * src1 only, so an F16/BF16 one aborts the graph ("binary_op: unsupported types"). The rule is
 * convert_hf_to_gguf.py's: 1-D tensors, `*_norm.weight`, and every name not ending in
 * `.weight` are F32. */
static int elementwise(const trit_tensor_info *t)
{
    return t->n_dims <= 1 || ends_with(t->name, "_norm.weight") || !ends_with(t->name, ".weight");
}

/* The MoE router: convert_hf_to_gguf.py always writes it F32 (a BF16/F16 one makes llama.cpp
 * round the activations to that type before choosing experts). */
static int router(const char *name)
{
    return strncmp(name, "blk.", 4) == 0 && ends_with(name, ".ffn_gate_inp.weight");
}

typedef struct choice {
    uint32_t type;             /* ggml type */
    uint32_t how;              /* EXG_* */
    int unit_d;                /* TQ with d = 1 plus a .scale tensor */
    const char *note;
} choice;

static int float_type(uint32_t t, uint32_t *out)
{
    switch (t) {
    case TRIT_TYPE_F32: *out = EXG_T_F32; return 1;
    case TRIT_TYPE_F16: *out = EXG_T_F16; return 1;
    case TRIT_TYPE_BF16: *out = EXG_T_BF16; return 1;
    case TRIT_TYPE_I8: *out = EXG_T_I8; return 1;
    case TRIT_TYPE_I32: *out = EXG_T_I32; return 1;
    /* ggml block types: the container holds the GGUF blocks themselves (spec 6.3) */
    case TRIT_TYPE_Q8_0: *out = EXG_T_Q8_0; return 1;
    case TRIT_TYPE_Q4_K: *out = EXG_T_Q4_K; return 1;
    case TRIT_TYPE_Q6_K: *out = EXG_T_Q6_K; return 1;
    case TRIT_TYPE_MXFP4: *out = EXG_T_MXFP4; return 1;
    default: return 0;
    }
}

/* Decide how one container tensor is written. Dense t2 tensors have their scales checked
 * against the f16 range here; expert members are checked while writing. */
static int decide(const exg_plan *p, uint32_t idx, int alone, choice *c, trit_err *err)
{
    const trit_tensor_info *t = trit_reader_tensor(p->r, idx);
    char where[300];
    snprintf(where, sizeof where, "tensor '%s'", t->name);
    memset(c, 0, sizeof *c);
    if (t->type == TRIT_TYPE_I8 && t->scale_layout != TRIT_SCALE_NONE)
        return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, where,
                            "int8 with per-row scales (trit convert --output-head q8, spec 6.2) has no GGUF type: "
                            "export a container converted without --output-head q8");
    if (t->type != TRIT_TYPE_T2) {
        if (!float_type(t->type, &c->type))
            return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, where,
                                "type %s (id %u) has no GGUF equivalent",
                                trit_type_name(t->type) ? trit_type_name(t->type) : "unknown", t->type);
        c->how = EXG_BY_COPY;
        /* F16/BF16 -> F32 is exact: every value widens unchanged */
        if ((t->type == TRIT_TYPE_F16 || t->type == TRIT_TYPE_BF16) && alone && (elementwise(t) || router(t->name))) {
            c->type = EXG_T_F32;
            c->how = EXG_BY_CONVERT;
        }
        return TRIT_OK;
    }
    uint64_t const cols = t->n_dims ? t->dims[t->n_dims - 1] : 1;
    int in_range = 1, exact16 = 1;
    if (t->unit == TRIT_NONE32 && t->n_scales) {
        const void *data;
        uint64_t size;
        int const rc = trit_reader_tensor_data(p->r, idx, &data, &size, err);
        if (rc) return rc;
        const uint8_t *sc = (const uint8_t *)data + t->scales_off;
        for (uint64_t k = 0; k < t->n_scales; k++) {
            float s;
            memcpy(&s, sc + 4 * k, 4);  /* scales are little-endian f32; hosts are LE (spec 1) */
            if (!exg__f16_ok(s)) in_range = 0;
            if (trit_f16_to_f32(trit_f32_to_f16(s)) != s) exact16 = 0;
        }
    }
    int const scale_tensor = alone && !strcmp(p->arch, "bitnet") &&
                             t->scale_layout == TRIT_SCALE_TENSOR && bitnet_scalable(t->name);
    int const elem = alone && elementwise(t);
    if (elem) c->note = NOTE_ELEM;
    else if (p->flags & EXG_DEQUANT) c->note = NOTE_ASKED;
    else if (cols % EXG_QK != 0) c->note = NOTE_COLS;
    else if (!exg__blocks_uniform(t)) c->note = NOTE_GROUP;
    else if (scale_tensor && !exact16) c->unit_d = 1;   /* exact f32 scale beside the codes */
    else if (!in_range) c->note = NOTE_RANGE;
    if (c->note) {
        c->how = EXG_BY_DEQUANT;
        c->type = (p->flags & EXG_DEQUANT_F32) || !in_range || elem ? EXG_T_F32 : EXG_T_F16;
    } else {
        c->how = EXG_BY_TERNARY;
        c->type = (p->flags & EXG_TQ1) ? EXG_T_TQ1_0 : EXG_T_TQ2_0;
    }
    return TRIT_OK;
}

/* Append an output row; *o points at it (zeroed). */
static int add_out(exg_plan *p, uint32_t *cap, exg__out **o, trit_err *err)
{
    if (p->n_t == *cap) {
        uint32_t const ncap = *cap ? *cap * 2 : 64;
        exg__out *t = realloc(p->t, (size_t)ncap * sizeof *t);
        if (!t) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
        p->t = t;
        *cap = ncap;
    }
    *o = &p->t[p->n_t++];
    memset(*o, 0, sizeof **o);
    return TRIT_OK;
}

static int set_name(exg__out *o, const char *name, trit_err *err)
{
    size_t const n = strlen(name);
    if (n > EXG_MAX_NAME)
        return trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, NULL,
                            "tensor name '%s' is %zu bytes; GGUF (ggml) allows at most %u", name, n,
                            EXG_MAX_NAME);
    memcpy(o->name, name, n + 1);
    return TRIT_OK;
}

/* Experts per layer: moe.n_expert, else counted from layer L's names. */
static uint32_t count_experts(const exg_plan *p, uint32_t n_expert_kv, uint32_t layer, const char *proj)
{
    if (n_expert_kv) return n_expert_kv;
    uint32_t e = 0;
    char nm[96];
    for (;; e++) {
        snprintf(nm, sizeof nm, "blk.%u.ffn_%s.%u.weight", layer, proj, e);
        if (trit_reader_find_tensor(p->r, nm) < 0) return e;
    }
}

static int plan_stack(exg_plan *p, uint32_t first, uint32_t layer, const char *proj,
                      uint32_t n_exp, uint32_t *srcs, exg__out *o, trit_err *err)
{
    int rc = TRIT_OK;
    char nm[96], where[128];
    const trit_tensor_info *t0 = trit_reader_tensor(p->r, first);
    snprintf(where, sizeof where, "experts of 'blk.%u.ffn_%s'", layer, proj);
    if (t0->n_dims != 2) FAIL(TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, where, "expert 0 has %u dims, expected 2", t0->n_dims);
    choice c0, c;
    int mixed = 0, any_t2 = 0;
    for (uint32_t e = 0; e < n_exp; e++) {
        snprintf(nm, sizeof nm, "blk.%u.ffn_%s.%u.weight", layer, proj, e);
        int64_t const k = trit_reader_find_tensor(p->r, nm);
        if (k < 0) FAIL(TRIT_E_CORRUPT, TRIT_NO_OFFSET, where, "'%s' is missing (the layer has %u experts)", nm, n_exp);
        const trit_tensor_info *t = trit_reader_tensor(p->r, (uint32_t)k);
        if (t->n_dims != 2 || t->dims[0] != t0->dims[0] || t->dims[1] != t0->dims[1])
            FAIL(TRIT_E_CORRUPT, TRIT_NO_OFFSET, where, "'%s' is not shaped like expert 0 [%llu, %llu]", nm,
                 (unsigned long long)t0->dims[0], (unsigned long long)t0->dims[1]);
        if ((rc = decide(p, (uint32_t)k, 0, e ? &c : &c0, err))) goto out;
        if (e && (c.type != c0.type || c.how != c0.how)) mixed = 1;
        any_t2 |= t->type == TRIT_TYPE_T2;
        srcs[e] = (uint32_t)k;
    }
    if (mixed) {
        for (uint32_t e = 0; e < n_exp; e++) {
            uint32_t ty = 0;
            const trit_tensor_info *t = trit_reader_tensor(p->r, srcs[e]);
            if (t->type != TRIT_TYPE_T2 && (!float_type(t->type, &ty) || ty == EXG_T_I8 || ty == EXG_T_I32))
                FAIL(TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, where, "experts mix integer and other types");
            /* export does not decode blocks: a GGUF stack has one type, as its experts had */
            if (trit_type_is_block(t->type))
                FAIL(TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, where, "experts mix %s with other types: a GGUF expert stack has one type",
                     trit_type_name(t->type));
        }
        c0.type = EXG_T_F32;
        c0.how = any_t2 ? EXG_BY_DEQUANT : EXG_BY_CONVERT;
        c0.note = NOTE_MIXED;
    }
    snprintf(nm, sizeof nm, "blk.%u.ffn_%s_exps.weight", layer, proj);
    if ((rc = set_name(o, nm, err))) goto out;
    o->srcs = srcs;
    o->pub.src = first;
    o->pub.n_src = n_exp;
    o->pub.n_dims = 3;
    o->pub.ne[0] = t0->dims[1];
    o->pub.ne[1] = t0->dims[0];
    o->pub.ne[2] = n_exp;
    o->pub.ne[3] = 1;
    o->pub.ggml_type = c0.type;
    o->pub.how = c0.how;
    o->pub.note = c0.note;
out:
    return rc;
}

static int plan_single(exg_plan *p, uint32_t i, uint32_t *src, exg__out *o,
                       int *scale_tensor, trit_err *err)
{
    const trit_tensor_info *t = trit_reader_tensor(p->r, i);
    char where[300];
    snprintf(where, sizeof where, "tensor '%s'", t->name);
    int rc = set_name(o, t->name, err);
    if (rc) return rc;
    uint32_t nd = 0;
    uint64_t ne[4] = {1, 1, 1, 1};
    for (uint32_t d = t->n_dims; d-- > 0;) {
        if (t->dims[d] == 1 && nd >= 4) continue;   /* leading unit dims fold away */
        if (nd >= 4)
            return trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, where,
                                "%u dimensions; GGUF allows at most 4", t->n_dims);
        ne[nd++] = t->dims[d];
    }
    choice c;
    if ((rc = decide(p, i, 1, &c, err))) return rc;
    *src = i;
    o->srcs = src;
    o->pub.src = i;
    o->pub.n_src = 1;
    o->pub.n_dims = nd ? nd : 1;
    memcpy(o->pub.ne, ne, sizeof ne);
    o->pub.ggml_type = c.type;
    o->pub.how = c.how;
    o->pub.note = c.note;
    o->unit_d = c.unit_d;
    *scale_tensor = c.unit_d;
    if (p->norm_rope && is_qk(t->name)) {
        uint32_t hd = 0, rd = 0;
        trit_err e2;
        if (exg__kv_u32(p->r, "model.head_dim", &hd, &e2) != TRIT_OK || hd == 0)
            return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, where,
                                "model.head_dim is needed to permute Q/K rows for normal RoPE");
        if (exg__kv_u32(p->r, "model.rope_dim", &rd, &e2) != TRIT_OK || rd == 0) rd = hd;
        if (rd > hd || rd % 2 || t->n_dims < 1 || t->n_dims > 2 || t->dims[0] % hd)
            return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, where,
                                "cannot permute rows for RoPE: %llu rows, head_dim %u, rope_dim %u",
                                (unsigned long long)t->dims[0], hd, rd);
        if (t->n_dims == 1 && t->type == TRIT_TYPE_T2)
            return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, where,
                                "a 1-D ternary Q/K tensor cannot be permuted");
        o->perm_head_dim = hd;
        o->perm_rope_dim = rd;
        o->pub.permuted = 1;
    }
    return TRIT_OK;
}

int exg__plan_tensors(exg_plan *p, trit_err *err)
{
    int rc = TRIT_OK;
    uint32_t const n = trit_reader_n_tensors(p->r);
    uint32_t cap = 0, n_expert_kv = 0;
    trit_err e2;
    if (exg__kv_u32(p->r, "moe.n_expert", &n_expert_kv, &e2) == TRIT_E_CORRUPT)
        return trit_err_set(err, e2.code, e2.offset, e2.where, "%s", e2.msg);
    /* Every source is referenced at most once, so n + n slots cover singles and stacks. */
    p->pool = trit_mallocarray((size_t)n + 1, sizeof *p->pool);
    if (!p->pool) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    uint32_t used = 0;
    for (uint32_t i = 0; i < n; i++) {
        const trit_tensor_info *t = trit_reader_tensor(p->r, i);
        uint32_t layer, expert;
        const char *proj;
        exg__out *o;
        if (parse_expert(t->name, &layer, &proj, &expert)) {
            uint32_t const n_exp = count_experts(p, n_expert_kv, layer, proj);
            if (expert >= n_exp)
                FAIL(TRIT_E_CORRUPT, TRIT_NO_OFFSET, NULL, "tensor '%s': expert %u, but the model has %u experts (moe.n_expert)",
                     t->name, expert, n_exp);
            if (expert != 0) continue;
            if (n_exp > n - used) FAIL(TRIT_E_CORRUPT, TRIT_NO_OFFSET, NULL, "more experts than tensors");
            if ((rc = add_out(p, &cap, &o, err))) goto out;
            if ((rc = plan_stack(p, i, layer, proj, n_exp, p->pool + used, o, err))) goto out;
            used += n_exp;
            p->sum.n_stacked++;
            continue;
        }
        if (!strcmp(p->arch, "deepseek2") && ends_with(t->name, ".attn_kv_b.weight")) {
            exg__out *k;
            if ((rc = add_out(p, &cap, &k, err))) goto out;
            if ((rc = add_out(p, &cap, &o, err))) goto out;
            k = o - 1;   /* add_out may have moved the array */
            p->pool[used] = i;
            k->srcs = o->srcs = p->pool + used++;
            if ((rc = exg__mla_plan(p, i, k, o, err))) goto out;
            continue;
        }
        int scale_tensor = 0;
        if ((rc = add_out(p, &cap, &o, err))) goto out;
        if ((rc = plan_single(p, i, p->pool + used, o, &scale_tensor, err))) goto out;
        uint32_t *const src = p->pool + used++;
        if (scale_tensor) {
            /* blk.L.attn_q.weight -> blk.L.attn_q.scale, an F32 [1] holding the exact scale */
            char nm[300];
            snprintf(nm, sizeof nm, "%.*s.scale", (int)(strlen(t->name) - strlen(".weight")), t->name);
            if ((rc = add_out(p, &cap, &o, err)) || (rc = set_name(o, nm, err))) goto out;
            o->srcs = src;
            o->pub.src = i;
            o->pub.n_src = 1;
            o->pub.n_dims = 1;
            o->pub.ne[0] = o->pub.ne[1] = o->pub.ne[2] = o->pub.ne[3] = 1;
            o->pub.ggml_type = EXG_T_F32;
            o->pub.how = EXG_BY_SCALE;
        }
    }
    /* sizes, offsets, counts, buffer bounds */
    uint64_t off = 0;
    for (uint32_t k = 0; k < p->n_t; k++) {
        exg__out *o = &p->t[k];
        o->pub.name = o->name;
        uint64_t nel = 1;
        for (int d = 0; d < 4; d++)
            if (trit_mul_u64(nel, o->pub.ne[d], &nel)) FAIL(TRIT_E_LIMIT, TRIT_NO_OFFSET, NULL, "tensor '%s': size overflows", o->name);
        uint64_t row_bytes;
        if (exg__nbytes(o->pub.ggml_type, nel, &o->pub.nbytes) ||
            exg__nbytes(o->pub.ggml_type, o->pub.ne[0], &row_bytes))
            FAIL(TRIT_E_LIMIT, TRIT_NO_OFFSET, NULL, "tensor '%s': size overflows", o->name);
        o->pub.offset = off;
        uint64_t padded;
        if (trit_align_up(o->pub.nbytes, p->alignment, &padded) || trit_add_u64(off, padded, &off))
            FAIL(TRIT_E_LIMIT, TRIT_NO_OFFSET, NULL, "tensor '%s': file size overflows", o->name);
        if (row_bytes > p->max_row) p->max_row = row_bytes;
        if (o->pub.ne[0] > p->max_cols) p->max_cols = o->pub.ne[0];
        p->sum.n_ternary += o->pub.how == EXG_BY_TERNARY;
        p->sum.n_fallback += o->pub.how == EXG_BY_DEQUANT;
        p->sum.n_permuted += o->pub.permuted;
    }
    p->sum.n_tensors = p->n_t;
    p->sum.file_size = off;   /* data bytes for now; the caller adds the header */
    for (uint32_t u = 0; u < trit_reader_n_units(p->r); u++) {
        uint64_t const d = trit_reader_unit(p->r, u)->decoded_size;
        if (d > p->max_unit) p->max_unit = d;
    }
out:
    return rc;
}
