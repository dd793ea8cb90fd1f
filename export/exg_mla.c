/*
 * exg_mla.c - deepseek2's multi-head latent attention tensors as llama.cpp reads them
 * (src/models/deepseek2.cpp with MLA: attn_k_b {qk_nope, kv_lora, n_head} and attn_v_b
 * {kv_lora, v_head_dim, n_head}; the unsplit attn_kv_b is "only old legacy GGUF files").
 * llama.cpp's converter (conversion/deepseek.py DeepseekV2Model.modify_tensors) makes them
 * from kv_b_proj [n_head * (qk_nope + v), kv_lora]: view(n_head, qk_nope + v, kv_lora), split
 * into k_b [n_head, qk_nope, kv_lora] and v_b [n_head, v, kv_lora], k_b transposed to
 * [n_head, kv_lora, qk_nope]. The container keeps kv_b_proj as attn_kv_b; both halves are
 * written F32 (exact for every float source and for t2 codes times their scales).
 */
#include <stdio.h>
#include <string.h>

#include "exg_int.h"
#include "trit_safemath.h"

int exg__row_f32(const trit_tensor_info *t, const uint8_t *data, uint64_t r, uint64_t cols, float *out, int8_t *vals,
                 trit_err *err)
{
    if (t->type == TRIT_TYPE_F32) {
        memcpy(out, data + r * cols * 4, (size_t)cols * 4);
        return TRIT_OK;
    }
    if (t->type == TRIT_TYPE_F16 || t->type == TRIT_TYPE_BF16) {
        const uint8_t *s = data + r * cols * 2;
        for (uint64_t k = 0; k < cols; k++) {
            uint16_t const h = (uint16_t)(s[2 * k] | s[2 * k + 1] << 8);
            out[k] = t->type == TRIT_TYPE_F16 ? trit_f16_to_f32(h) : trit_bf16_to_f32(h);
        }
        return TRIT_OK;
    }
    if (t->type != TRIT_TYPE_T2)
        return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, t->name, "type %u cannot be split for deepseek2", t->type);
    uint64_t const row_bytes = trit_div_ceil(cols, TRIT_T2_BLOCK_ELEMS) * TRIT_T2_BLOCK_BYTES;
    if (trit_t2_unpack_row(data + r * row_bytes, cols, vals) != 0)
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, t->name, "row %llu holds the invalid t2 code 3",
                            (unsigned long long)r);
    for (uint64_t k = 0; k < cols; k++) out[k] = (float)vals[k] * exg__scale_at(t, data + t->scales_off, r, k, cols);
    return TRIT_OK;
}

int exg__mla_plan(exg_plan *p, uint32_t i, exg__out *k, exg__out *v, trit_err *err)
{
    const trit_tensor_info *t = trit_reader_tensor(p->r, i);
    uint32_t H = 0, hd = 0, rd = 0, vd = 0, kl = 0;
    trit_err e2;
    if (exg__kv_u32(p->r, "model.n_head", &H, &e2) || exg__kv_u32(p->r, "model.head_dim", &hd, &e2) ||
        exg__kv_u32(p->r, "model.rope_dim", &rd, &e2) || exg__kv_u32(p->r, "model.v_head_dim", &vd, &e2) ||
        exg__kv_u32(p->r, "model.kv_lora_rank", &kl, &e2) || !H || rd >= hd || !vd || !kl)
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, t->name,
                            "splitting attn_kv_b needs model.n_head, head_dim > rope_dim, v_head_dim and kv_lora_rank");
    uint32_t const nope = hd - rd;
    if (t->n_dims != 2 || t->dims[0] != (uint64_t)H * (nope + vd) || t->dims[1] != kl)
        return trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, t->name, "is not [n_head * (qk_nope + v_head_dim), kv_lora_rank] "
                            "= [%llu, %u]", (unsigned long long)H * (nope + vd), kl);
    char nm[EXG_MAX_NAME + 1];
    size_t const stem = strlen(t->name) - strlen("kv_b.weight");   /* "blk.L.attn_" */
    exg__out *o[2] = {k, v};
    for (int h = 0; h < 2; h++) {
        snprintf(nm, sizeof nm, "%.*s%s", (int)stem, t->name, h ? "v_b.weight" : "k_b.weight");
        memcpy(o[h]->name, nm, strlen(nm) + 1);
        o[h]->pub.src = i;
        o[h]->pub.n_src = 1;
        o[h]->pub.n_dims = 3;
        o[h]->pub.ne[0] = h ? kl : nope;
        o[h]->pub.ne[1] = h ? vd : kl;
        o[h]->pub.ne[2] = H;
        o[h]->pub.ne[3] = 1;
        o[h]->pub.ggml_type = EXG_T_F32;
        o[h]->pub.how = h ? EXG_BY_MLA_V : EXG_BY_MLA_K;
        o[h]->mla_nope = nope;
        o[h]->mla_v = vd;
    }
    return TRIT_OK;
}

int exg__mla_row(const exg__out *o, const trit_tensor_info *t, const uint8_t *data, uint64_t r, float *out,
                 int8_t *vals, trit_err *err)
{
    uint64_t const kl = t->dims[1], per = (uint64_t)o->mla_nope + o->mla_v;
    if (o->pub.how == EXG_BY_MLA_V) {
        /* row (h, j) of v_b is kv_b row h * (nope + v) + nope + j */
        uint64_t const h = r / o->mla_v, j = r % o->mla_v;
        return exg__row_f32(t, data, h * per + o->mla_nope + j, kl, out, vals, err);
    }
    /* row (h, c) of k_b: column c of kv_b rows h * (nope + v) + n, n < nope */
    uint64_t const h = r / kl, c = r % kl;
    float tmp[4096];
    if (kl > sizeof tmp / sizeof tmp[0])
        return trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, t->name, "kv_lora_rank %llu is past the export's 4096",
                            (unsigned long long)kl);
    for (uint64_t n = 0; n < o->mla_nope; n++) {
        int const rc = exg__row_f32(t, data, h * per + n, kl, tmp, vals, err);
        if (rc) return rc;
        out[n] = tmp[c];
    }
    return TRIT_OK;
}
