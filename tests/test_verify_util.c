/* test_verify_util.c - the verify tests' model builder (test_verify.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "test_verify.h"
#include "trit_cursor.h"
#include "trit_safemath.h"
#include "insp_norm.h"

enum { N_LAYER = 2, N_EMBD = 64, N_HEAD = 4, N_HEAD_KV = 2, HEAD_DIM = 16, N_FF = 128, N_EXPERT = 4, N_FF_EXP = 32 };

typedef struct vt_t {
    char name[96];
    trit_tensor_info info;
    uint32_t id;
    int kind;              /* 'n' norm f32, 'e' embedding f16, 'f' f32 router, 't' t2, 'x' unknown type */
    uint32_t seed;
} vt_t;

static uint32_t rng(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

float vt_golden(uint32_t i)
{
    return (float)((int)(i % 17) - 8) * 0.25f;
}

static void add(vt_t *ts, uint32_t *n, const char *name, int kind, uint32_t type, uint32_t n_dims, uint64_t d0,
                uint64_t d1, uint32_t layout, uint32_t group, uint32_t layer, uint32_t unit)
{
    vt_t *t = &ts[(*n)++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->kind = kind;
    t->seed = *n * 7919u + 13u;
    trit_tensor_info *i = &t->info;
    i->name = t->name;
    i->type = type;
    i->n_dims = n_dims;
    i->dims[0] = d0;
    i->dims[1] = d1;
    i->scale_layout = layout;
    i->scale_type = layout ? TRIT_SCALE_TYPE_F32 : TRIT_SCALE_TYPE_NONE;
    i->group_size = group;
    i->layer = layer;
    i->unit = unit;
    if (trit_type_geometry(type, &i->block_elems, &i->block_bytes) != TRIT_OK) {
        i->block_elems = 1;    /* an element type this library does not know */
        i->block_bytes = 4;
    }
    trit_tensor_layout(i, NULL);
}

/* "blk.L.attn_q.weight" or its HF name. */
static const char *nm(char *buf, size_t cap, const vt_defects *d, uint32_t layer, const char *canon, const char *hf)
{
    if (d->hf_names) snprintf(buf, cap, "model.layers.%u.%s.weight", layer, hf);
    else snprintf(buf, cap, "blk.%u.%s.weight", layer, canon);
    return buf;
}

/* Bytes of tensor t with the defects that apply to it. Caller frees. */
static uint8_t *content(const vt_t *t, const vt_defects *d, const char *canon)
{
    trit_tensor_info const *i = &t->info;
    uint8_t *p = calloc(1, i->size ? (size_t)i->size : 1);
    if (!p) return NULL;
    uint32_t s = t->seed;
    uint64_t n = 0;
    trit_tensor_nelems(i, &n);
    if (i->type == TRIT_TYPE_T2) {
        uint64_t const cols = i->dims[i->n_dims - 1], rows = cols ? n / cols : 0;
        uint64_t const rb = trit_div_ceil(cols, 128) * 32;
        int8_t *v = malloc((size_t)cols);
        int const zero = (d->zero_proj && strcmp(canon, "blk.0.ffn_up.weight") == 0) ||
                         (d->zero_expert && strcmp(canon, "blk.1.ffn_down.2.weight") == 0);
        for (uint64_t r = 0; v && r < rows; r++) {
            for (uint64_t c = 0; c < cols; c++) v[c] = zero ? 0 : (int8_t)((int)(rng(&s) % 3) - 1);
            trit_t2_pack_row(v, cols, p + r * rb);
        }
        free(v);
        if (d->code3 && strcmp(canon, "blk.0.attn_k.weight") == 0) p[5] |= 0x0c;   /* slot 1 of byte 5 = 3 */
        for (uint64_t k = 0; k < i->n_scales; k++) {
            float f = 0.02f + (float)(rng(&s) % 100) / 1000.0f;
            if (k == 1 && d->zero_scale && strcmp(canon, "blk.0.attn_k.weight") == 0) f = 0.0f;
            if (k == 2 && d->nan_scale && strcmp(canon, "blk.0.attn_v.weight") == 0) f = NAN;
            memcpy(p + i->scales_off + 4 * k, &f, 4);
        }
    } else if (t->kind == 'e') {
        for (uint64_t k = 0; k < n; k++) {
            float const f = ((float)(rng(&s) % 2001) - 1000.0f) / 4000.0f;
            trit_store_le16(p + 2 * k, trit_f32_to_f16(f));
        }
        if (d->inf_float && strcmp(canon, "token_embd.weight") == 0) trit_store_le16(p + 2 * 7, 0x7c00);
    } else if (t->kind == 'n' || t->kind == 'f') {
        for (uint64_t k = 0; k < n; k++) {
            float f = t->kind == 'n' ? 1.0f + (float)(rng(&s) % 100) / 1000.0f : ((float)(rng(&s) % 200) - 100.0f) / 500.0f;
            if (k == 3 && d->nan_float && strcmp(canon, "blk.0.attn_norm.weight") == 0) f = NAN;
            memcpy(p + 4 * k, &f, 4);
        }
    } else {
        for (uint64_t k = 0; k < i->size; k++) p[k] = (uint8_t)(k % 251 + 1);
    }
    return p;
}

/* Canonical name of a planned tensor (the defects are keyed on it). */
static void canon_of(const vt_t *t, char *buf, size_t cap)
{
    insp_canon_name(t->name, buf, cap, NULL, NULL);
}

/* One entry's bytes at p: tensor, granularity, reserved, group size, n_scales, bits, scales. */
static uint64_t put_entry(uint8_t *p, uint32_t tensor, uint8_t gran, uint32_t group, uint32_t n_scales, uint32_t bits, float scale)
{
    trit_store_le32(p, tensor);
    p[4] = gran;
    p[5] = p[6] = p[7] = 0;
    trit_store_le32(p + 8, group);
    trit_store_le32(p + 12, n_scales);
    trit_store_le32(p + 16, bits);
    for (uint32_t k = 0; k < n_scales; k++) memcpy(p + 20 + 4ull * k, &scale, 4);
    return 20 + 4ull * n_scales;
}

/* The kind-5 section of defect `kind` (test_verify.h, VT_ACT_*) over the planned tensors, whose
 * ids follow their order; written byte by byte, since libtrit's encoder refuses the defects. */
static int act_section(const vt_t *ts, uint32_t n, int kind, uint8_t **out, uint64_t *len, trit_err *err)
{
    uint8_t *b = calloc(1, 8 + (uint64_t)(n + 2) * (20 + 4 * 256));
    if (!b) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    uint64_t off = 4;
    uint32_t cnt = 0;
    uint64_t first_at = 0, second_at = 0, second_len = 0;
    for (uint32_t i = 0; i < n; i++) {
        char canon[160];
        canon_of(&ts[i], canon, sizeof canon);
        trit_tensor_info const *t = &ts[i].info;
        uint32_t const in = (uint32_t)t->dims[t->n_dims - 1];
        int const proj = t->type == TRIT_TYPE_T2;
        if (kind == VT_ACT_NOT_PROJ && !strcmp(canon, "blk.0.attn_norm.weight")) {
            off += put_entry(b + off, ts[i].id, 1, 0, 1, 8, 0.05f);
            cnt++;
            continue;
        }
        if (!proj || (kind == VT_ACT_MISSING && !strcmp(canon, "blk.0.attn_output.weight"))) continue;
        uint64_t const at = off;
        int const is_k = !strcmp(canon, "blk.0.attn_k.weight"), is_out = !strcmp(canon, "blk.0.attn_output.weight");
        float scale = kind == VT_ACT_SHARED_DIFF && is_k ? 0.06f : 0.05f;
        if (is_out && kind == VT_ACT_NAN) scale = NAN;
        if (is_out && kind == VT_ACT_ZERO) scale = 0.0f;
        if (is_out && kind == VT_ACT_NEGATIVE) scale = -0.05f;
        if (is_out && kind == VT_ACT_CHANNEL_SHAPE) off += put_entry(b + off, ts[i].id, 2, 0, in - 1, 8, scale);
        else if (is_out && kind == VT_ACT_GROUP_SHAPE) off += put_entry(b + off, ts[i].id, 3, 16, (in + 31) / 32, 8, scale);
        else if (is_out && kind == VT_ACT_GRAN) off += put_entry(b + off, ts[i].id, 4, 0, 1, 8, scale);
        else if (is_out && kind == VT_ACT_BITS) off += put_entry(b + off, ts[i].id, 1, 0, 1, 4, scale);
        else if (is_out && kind == VT_ACT_BAD_TENSOR) off += put_entry(b + off, n, 1, 0, 1, 8, scale);
        else if ((is_out && kind == VT_ACT_WIDE) || (is_k && kind == VT_ACT_SHARED_BITS))
            off += put_entry(b + off, ts[i].id, 1, 0, 1, 16, scale);
        else off += put_entry(b + off, ts[i].id, 1, 0, 1, 8, scale);
        if (cnt == 0) first_at = at;
        if (cnt == 1) {
            second_at = at;
            second_len = off - at;
        }
        cnt++;
    }
    if (kind == VT_ACT_ORDER && cnt >= 2 && second_at - first_at == second_len) {
        /* equal-sized entries: swap them in place */
        uint8_t tmp[20 + 4 * 256];
        memcpy(tmp, b + first_at, second_len);
        memmove(b + first_at, b + second_at, second_len);
        memcpy(b + second_at, tmp, second_len);
    }
    trit_store_le32(b, cnt);
    if (kind == VT_ACT_TRAILING) off += 4;
    if (kind == VT_ACT_TRUNCATED) off -= 2;
    *out = b;
    *len = off;
    return TRIT_OK;
}

int vt_build(const char *path, const vt_defects *din, trit_err *err)
{
    vt_defects d0;
    memset(&d0, 0, sizeof d0);
    const vt_defects *d = din ? din : &d0;
    enum { MAX_T = 64 };
    vt_t *ts = calloc(MAX_T, sizeof *ts);
    if (!ts) return TRIT_E_NOMEM;
    uint32_t n = 0, unit_ids[N_EXPERT];
    trit_write_opts wo;
    memset(&wo, 0, sizeof wo);
    wo.overwrite = 1;
    wo.page_align = d->page_align ? d->page_align : 4096;
    trit_writer *w = NULL;
    int rc = trit_writer_open(path, &wo, &w, err);
    if (rc) {
        free(ts);
        return rc;
    }
    char b[96];
#define T(x) do { if ((rc = (x)) != TRIT_OK) goto out; } while (0)
    T(trit_writer_kv_str(w, "general.architecture", "qwen3moe", 8, err));
    T(trit_writer_kv_u32(w, "model.n_layer", d->n_layer ? d->n_layer : N_LAYER, err));
    T(trit_writer_kv_u32(w, "model.n_embd", N_EMBD, err));
    T(trit_writer_kv_u32(w, "model.n_ff", N_FF, err));
    T(trit_writer_kv_u32(w, "model.n_head", N_HEAD, err));
    T(trit_writer_kv_u32(w, "model.n_head_kv", N_HEAD_KV, err));
    if (!d->no_head_dim) T(trit_writer_kv_u32(w, "model.head_dim", HEAD_DIM, err));
    T(trit_writer_kv_u32(w, "model.n_vocab", VT_N_VOCAB, err));
    T(trit_writer_kv_f32(w, "model.norm_eps", 1e-6f, err));
    T(trit_writer_kv_f32(w, "model.rope_theta", 10000.0f, err));
    T(trit_writer_kv_str(w, "model.rope_layout", "neox", 4, err));
    T(trit_writer_kv_str(w, "model.hidden_act", "silu", 4, err));
    T(trit_writer_kv_bool(w, "model.tied_embeddings", 0, err));
    T(trit_writer_kv_u32(w, "moe.n_expert", d->n_expert ? d->n_expert : N_EXPERT, err));
    T(trit_writer_kv_u32(w, "moe.n_expert_used", 2, err));
    T(trit_writer_kv_u32(w, "moe.n_ff_expert", N_FF_EXP, err));
    T(trit_writer_kv_str(w, "moe.gating", "softmax", 7, err));
    T(trit_writer_kv_u32(w, "moe.first_dense_layers", 1, err));
    if (d->unknown_key) T(trit_writer_kv_f32(w, "model.attn_temperature", 0.5f, err));
    if (d->bos_id) T(trit_writer_kv_u32(w, "model.bos_token_id", d->bos_id, err));
    uint32_t s_cfg, s_gold = 0, s_tok = 0;
    T(trit_writer_add_section(w, "config.json", TRIT_SECTION_CONFIG_JSON, &s_cfg, err));
    if (d->golden || d->bad_golden) T(trit_writer_add_section(w, "golden", TRIT_SECTION_GOLDEN_LOGITS, &s_gold, err));
    if (d->tok_kv) T(trit_writer_add_section(w, "tokenizer.kv", TRIT_SECTION_TOKENIZER_KV, &s_tok, err));
    uint32_t s_act = 0;
    if (d->act) T(trit_writer_add_section(w, "act_scales", TRIT_SECTION_ACT_SCALES, &s_act, err));
    for (uint32_t e = 0; e < N_EXPERT; e++) {
        unit_ids[e] = TRIT_NONE32;
        if (e == 3 && d->drop_expert) continue;
        T(trit_writer_add_unit(w, 1, e, e % 2 ? TRIT_STORAGE_RAW : TRIT_STORAGE_ZSTD, &unit_ids[e], err));
    }
    add(ts, &n, d->hf_names ? "model.embed_tokens.weight" : "token_embd.weight", 'e', TRIT_TYPE_F16, 2, VT_N_VOCAB,
        N_EMBD, 0, 0, TRIT_NONE32, TRIT_NONE32);
    for (uint32_t L = 0; L < N_LAYER; L++) {
        add(ts, &n, nm(b, sizeof b, d, L, "attn_norm", "input_layernorm"), 'n', TRIT_TYPE_F32, 1, N_EMBD, 0, 0, 0, L,
            TRIT_NONE32);
        uint64_t const q_rows = L == 1 && d->bad_shape ? 48 : N_HEAD * HEAD_DIM;
        add(ts, &n, nm(b, sizeof b, d, L, "attn_q", "self_attn.q_proj"), 't', TRIT_TYPE_T2, 2, q_rows, N_EMBD,
            TRIT_SCALE_TENSOR, 0, L, TRIT_NONE32);
        add(ts, &n, nm(b, sizeof b, d, L, "attn_k", "self_attn.k_proj"), 't', TRIT_TYPE_T2, 2, N_HEAD_KV * HEAD_DIM,
            N_EMBD, TRIT_SCALE_ROW, 0, L, TRIT_NONE32);
        add(ts, &n, nm(b, sizeof b, d, L, "attn_v", "self_attn.v_proj"), 't', TRIT_TYPE_T2, 2, N_HEAD_KV * HEAD_DIM,
            N_EMBD, TRIT_SCALE_GROUP, 32, L, TRIT_NONE32);
        add(ts, &n, nm(b, sizeof b, d, L, "attn_output", "self_attn.o_proj"), 't', TRIT_TYPE_T2, 2, N_EMBD,
            N_HEAD * HEAD_DIM, TRIT_SCALE_TENSOR, 0, L, TRIT_NONE32);
        add(ts, &n, nm(b, sizeof b, d, L, "ffn_norm", "post_attention_layernorm"), 'n', TRIT_TYPE_F32, 1, N_EMBD, 0, 0,
            0, L, TRIT_NONE32);
        if (L == 0) {
            add(ts, &n, nm(b, sizeof b, d, L, "ffn_gate", "mlp.gate_proj"), 't', TRIT_TYPE_T2, 2, N_FF, N_EMBD,
                TRIT_SCALE_ROW, 0, L, TRIT_NONE32);
            add(ts, &n, nm(b, sizeof b, d, L, "ffn_up", "mlp.up_proj"), 't', TRIT_TYPE_T2, 2, N_FF, N_EMBD,
                TRIT_SCALE_ROW, 0, L, TRIT_NONE32);
            add(ts, &n, nm(b, sizeof b, d, L, "ffn_down", "mlp.down_proj"), 't', TRIT_TYPE_T2, 2, N_EMBD, N_FF,
                TRIT_SCALE_ROW, 0, L, TRIT_NONE32);
            continue;
        }
        add(ts, &n, nm(b, sizeof b, d, L, "ffn_gate_inp", "mlp.gate"), 'f', TRIT_TYPE_F32, 2, N_EXPERT, N_EMBD, 0, 0,
            L, TRIT_NONE32);
        for (uint32_t e = 0; e < N_EXPERT; e++) {
            if (unit_ids[e] == TRIT_NONE32) continue;
            static const char *const proj[3][2] = {{"ffn_gate", "gate_proj"}, {"ffn_up", "up_proj"}, {"ffn_down", "down_proj"}};
            for (int k = 0; k < 3; k++) {
                if (d->hf_names) snprintf(b, sizeof b, "model.layers.%u.mlp.experts.%u.%s.weight", L, e, proj[k][1]);
                else snprintf(b, sizeof b, "blk.%u.%s.%u.weight", L,
                              d->renamed_member && e == 2 && k == 1 ? "ffn_uq" : proj[k][0], e);
                add(ts, &n, b, 't', TRIT_TYPE_T2, 2, k == 2 ? N_EMBD : N_FF_EXP, k == 2 ? N_FF_EXP : N_EMBD,
                    TRIT_SCALE_TENSOR, 0, L, unit_ids[e]);
            }
        }
    }
    add(ts, &n, d->hf_names ? "model.norm.weight" : "output_norm.weight", 'n', TRIT_TYPE_F32, 1, N_EMBD, 0, 0, 0,
        TRIT_NONE32, TRIT_NONE32);
    add(ts, &n, d->hf_names ? "lm_head.weight" : "output.weight", 'e', TRIT_TYPE_F16, 2, VT_N_VOCAB, N_EMBD, 0, 0,
        TRIT_NONE32, TRIT_NONE32);
    if (d->unknown_type)
        add(ts, &n, "rope_freqs.weight", 'x', 200, 1, HEAD_DIM / 2, 0, 0, 0, TRIT_NONE32, TRIT_NONE32);
    for (uint32_t i = 0; i < n; i++) T(trit_writer_add_tensor(w, &ts[i].info, &ts[i].id, err));
    /* data: dense tensors, then each unit's members in declaration order */
    for (uint32_t i = 0; i < n; i++) {
        if (ts[i].info.unit != TRIT_NONE32) continue;
        char canon[160];
        canon_of(&ts[i], canon, sizeof canon);
        uint8_t *p = content(&ts[i], d, canon);
        if (!p) { rc = TRIT_E_NOMEM; goto out; }
        rc = trit_writer_write_tensor(w, ts[i].id, p, ts[i].info.size, err);
        free(p);
        if (rc) goto out;
    }
    for (uint32_t e = 0; e < N_EXPERT; e++) {
        if (unit_ids[e] == TRIT_NONE32) continue;
        T(trit_writer_unit_begin(w, unit_ids[e], err));
        for (uint32_t i = 0; i < n; i++) {
            if (ts[i].info.unit != unit_ids[e]) continue;
            char canon[160];
            canon_of(&ts[i], canon, sizeof canon);
            uint8_t *p = content(&ts[i], d, canon);
            if (!p) { rc = TRIT_E_NOMEM; goto out; }
            rc = trit_writer_write_tensor(w, ts[i].id, p, ts[i].info.size, err);
            free(p);
            if (rc) goto out;
        }
        T(trit_writer_unit_end(w, err));
    }
    static const char cfg[] = "{\"model_type\": \"qwen3_moe\", \"num_hidden_layers\": 2}";
    T(trit_writer_write_section(w, s_cfg, cfg, sizeof cfg - 1, err));
    if (d->golden || d->bad_golden) {
        uint8_t g[8 + 12 + 4 * VT_N_VOCAB];
        trit_store_le32(g, 3);
        trit_store_le32(g + 4, VT_N_VOCAB);
        for (uint32_t k = 0; k < 3; k++) trit_store_le32(g + 8 + 4 * k, k + 1);
        for (uint32_t i = 0; i < VT_N_VOCAB; i++) {
            float const f = d->golden_values ? d->golden_values[i] : vt_golden(i);
            memcpy(g + 20 + 4 * i, &f, 4);
        }
        T(trit_writer_write_section(w, s_gold, g, sizeof g - (d->bad_golden ? 1 : 0), err));
    }
    if (d->tok_kv) {
        static const char *const toks[3] = {"<s>", "a", "b"};
        trit_kvbuf *kb = trit_kvbuf_new();
        const void *kd;
        uint64_t kn;
        if (!kb) { rc = TRIT_E_NOMEM; goto out; }
        rc = trit_kvbuf_str(kb, "tokenizer.ggml.model", "llama", 5, err);
        if (rc == TRIT_OK) rc = trit_kvbuf_arr_str(kb, "tokenizer.ggml.tokens", toks, NULL, 3, err);
        if (rc == TRIT_OK) rc = trit_kvbuf_data(kb, &kd, &kn, err);
        if (rc == TRIT_OK) rc = trit_writer_write_section(w, s_tok, kd, kn - (d->tok_kv == 2 ? 1 : 0), err);
        trit_kvbuf_free(kb);
        if (rc) goto out;
    }
    if (d->act) {
        uint8_t *sec = NULL;
        uint64_t len = 0;
        if ((rc = act_section(ts, n, d->act, &sec, &len, err)) == TRIT_OK) rc = trit_writer_write_section(w, s_act, sec, len, err);
        free(sec);
        if (rc) goto out;
    }
#undef T
    rc = trit_writer_finish(w, err);
    w = NULL;
out:
    trit_writer_abort(w);
    free(ts);
    return rc;
}

int vt_patch_header(const char *path, uint16_t major, uint16_t minor, uint64_t req_bits)
{
    size_t len = 0;
    uint8_t *b = test_read_file(path, &len);
    if (!b || len < 128) {
        free(b);
        return -1;
    }
    if (major) {
        trit_store_le16(b + 8, major);
        trit_store_le16(b + 10, minor);
    }
    trit_store_le64(b + 16, trit_load_le64(b + 16) | req_bits);
    trit_store_le64(b + 120, trit_xxh3(b, 120));
    int const rc = test_write_file(path, b, len);
    free(b);
    return rc;
}

int vt_verify(const char *path, const vfy_opts *o, vfy_report *rep)
{
    trit_err e;
    trit_err_clear(&e);
    if (vfy_verify(path, o, rep, &e) != TRIT_OK) return -1;
    return vfy_report_exit(rep);
}

int vt_count(const vfy_report *rep, int cls, const char *object, const char *msg)
{
    int n = 0;
    for (uint32_t i = 0; i < rep->n_issues; i++) {
        vfy_issue const *is = &rep->issues[i];
        if (is->cls != cls) continue;
        if (object && !strstr(is->object, object)) continue;
        if (msg && !strstr(is->msg, msg)) continue;
        n++;
    }
    return n;
}
