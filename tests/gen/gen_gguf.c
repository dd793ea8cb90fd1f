/* gen_gguf.c - GGUF v3 writer for the gguf and gguf-moe layouts (formats.md section 1).
 *
 * Layout written: magic, version 3, n_tensors, n_kv, KVs, tensor infos (ne reversed from the
 * torch shape), zero padding to general.alignment, then each tensor's data in info order at
 * offset = running sum of aligned sizes (what ggml requires), each padded with zeros.
 * The header is streamed twice: once into a counting sink to learn n_kv, once for real. */
#include <string.h>

#include "gen_int.h"
#include "trit_safemath.h"

enum { GGUF_T_U32 = 4, GGUF_T_I32 = 5, GGUF_T_F32 = 6, GGUF_T_STRING = 8, GGUF_T_ARRAY = 9 };
enum { GGML_F32 = 0, GGML_F16 = 1, GGML_BF16 = 30, GGML_TQ1_0 = 34, GGML_TQ2_0 = 35, GGML_MXFP4 = 39 };
enum { FTYPE_ALL_F32 = 0, FTYPE_MOSTLY_BF16 = 32, FTYPE_MOSTLY_TQ1_0 = 36, FTYPE_MOSTLY_TQ2_0 = 37 };

typedef struct gg {
    gen_out *o;
    uint64_t n_kv;
    int rc;
    trit_err *err;
} gg;

static void put_str(gg *g, const char *s, size_t n)
{
    if (!g->rc) g->rc = gen__out_u64le(g->o, n, g->err);
    if (!g->rc) g->rc = gen__out_write(g->o, s, n, g->err);
}

static void put_u32(gg *g, uint32_t v)
{
    if (!g->rc) g->rc = gen__out_u32le(g->o, v, g->err);
}

static void key(gg *g, const char *k, uint32_t type)
{
    put_str(g, k, strlen(k));
    put_u32(g, type);
    g->n_kv++;
}

static void kv_u32(gg *g, const char *k, uint32_t v)
{
    key(g, k, GGUF_T_U32);
    put_u32(g, v);
}

static void kv_f32(gg *g, const char *k, float v)
{
    uint32_t bits;
    memcpy(&bits, &v, 4);
    key(g, k, GGUF_T_F32);
    put_u32(g, bits);
}

static void kv_str(gg *g, const char *k, const char *v)
{
    key(g, k, GGUF_T_STRING);
    put_str(g, v, strlen(v));
}

static void arr_head(gg *g, const char *k, uint32_t elem_type, uint64_t count)
{
    key(g, k, GGUF_T_ARRAY);
    put_u32(g, elem_type);
    if (!g->rc) g->rc = gen__out_u64le(g->o, count, g->err);
}

static void kv_tokenizer(gg *g, uint32_t V, const char *pre)
{
    uint32_t const n_reg = V - gen_tok_n_special(V);
    char tok[64];
    kv_str(g, "tokenizer.ggml.model", "gpt2");
    kv_str(g, "tokenizer.ggml.pre", pre);
    arr_head(g, "tokenizer.ggml.tokens", GGUF_T_STRING, V);
    for (uint32_t id = 0; id < V && !g->rc; id++) put_str(g, tok, gen_token(V, id, tok, sizeof tok));
    /* llama_token_type: 1 normal, 3 control. */
    arr_head(g, "tokenizer.ggml.token_type", GGUF_T_I32, V);
    for (uint32_t id = 0; id < V && !g->rc; id++) put_u32(g, id < n_reg ? 1u : 3u);
    arr_head(g, "tokenizer.ggml.merges", GGUF_T_STRING, n_reg - 256);
    for (uint32_t id = 256; id < n_reg && !g->rc; id++) put_str(g, tok, gen_token_merge(V, id, tok, sizeof tok));
    kv_u32(g, "tokenizer.ggml.bos_token_id", gen_tok_bos(V));
    kv_u32(g, "tokenizer.ggml.eos_token_id", gen_tok_eos(V));
}

/* gpt-oss as llama.cpp's converter writes it (conversion/gpt_oss.py GptOssModel and
 * TextModel.set_gguf_parameters at de3ff815; --outtype bf16): gen_gptoss.c has the tensors. */
static void write_kvs_gptoss(gg *g, const gen_opts *o)
{
    kv_str(g, "general.architecture", "gpt-oss");
    kv_str(g, "general.type", "model");
    kv_str(g, "general.name", "trit-gen gguf-gpt-oss");
    kv_u32(g, "general.alignment", o->gguf_align);
    kv_u32(g, "gpt-oss.block_count", o->n_layer);
    kv_u32(g, "gpt-oss.context_length", o->n_ctx);
    kv_u32(g, "gpt-oss.embedding_length", o->n_embd);
    kv_u32(g, "gpt-oss.feed_forward_length", o->n_ff);
    kv_u32(g, "gpt-oss.attention.head_count", o->n_head);
    kv_u32(g, "gpt-oss.attention.head_count_kv", o->n_head_kv);
    kv_str(g, "gpt-oss.rope.scaling.type", "yarn");
    kv_f32(g, "gpt-oss.rope.scaling.factor", 32.0f);
    kv_u32(g, "gpt-oss.rope.scaling.original_context_length", 4096);
    kv_f32(g, "gpt-oss.rope.scaling.yarn_beta_fast", 32.0f);
    kv_f32(g, "gpt-oss.rope.scaling.yarn_beta_slow", 1.0f);
    kv_f32(g, "gpt-oss.rope.freq_base", 150000.0f);
    kv_f32(g, "gpt-oss.attention.layer_norm_rms_epsilon", 1e-5f);
    kv_u32(g, "gpt-oss.expert_count", o->n_expert);
    kv_u32(g, "gpt-oss.expert_used_count", o->n_expert_used);
    kv_u32(g, "gpt-oss.attention.key_length", gen_head_dim(o));
    kv_u32(g, "gpt-oss.attention.value_length", gen_head_dim(o));
    kv_u32(g, "general.file_type", o->f32 ? FTYPE_ALL_F32 : FTYPE_MOSTLY_BF16);
    kv_u32(g, "gpt-oss.attention.sliding_window", o->sliding_window ? o->sliding_window : 4);
    kv_u32(g, "gpt-oss.expert_feed_forward_length", o->n_ff);
    kv_u32(g, "general.quantization_version", 2);
    kv_tokenizer(g, o->n_vocab, "gpt-4o");   /* the pre-tokenizer llama.cpp's converter names o200k */
}

static void write_kvs(gg *g, const gen_opts *o, const gen_plan *p)
{
    if (o->layout == GEN_LAYOUT_GGUF_GPT_OSS) {
        write_kvs_gptoss(g, o);
        return;
    }
    int const moe = o->layout == GEN_LAYOUT_GGUF_MOE;
    const char *const a = moe ? "qwen3moe" : "bitnet";
    uint32_t const hd = o->n_embd / o->n_head;
    int any_tq1 = 0, any_tq = 0;
    char k[96];
    for (uint32_t i = 0; i < p->n; i++) {
        any_tq1 |= p->t[i].dtype == GEN_DT_TQ1_0;
        any_tq |= p->t[i].dtype == GEN_DT_TQ1_0 || p->t[i].dtype == GEN_DT_TQ2_0;
    }

    kv_str(g, "general.architecture", a);
    kv_str(g, "general.type", "model");
    kv_str(g, "general.name", moe ? "trit-gen gguf-moe" : "trit-gen gguf");
    kv_u32(g, "general.alignment", o->gguf_align);
    /* llama.cpp's llama_ftype: 0 ALL_F32 (F16 embeddings are allowed beside it, as in its own
     * converter's --outtype f32 runs that keep token_embd) */
    kv_u32(g, "general.file_type", !any_tq ? FTYPE_ALL_F32 : any_tq1 ? FTYPE_MOSTLY_TQ1_0 : FTYPE_MOSTLY_TQ2_0);
    kv_u32(g, "general.quantization_version", 2);
#define ARCH_KEY(suffix) (snprintf(k, sizeof k, "%s." suffix, a), k)
    kv_u32(g, ARCH_KEY("vocab_size"), o->n_vocab);
    kv_u32(g, ARCH_KEY("context_length"), o->n_ctx);
    kv_u32(g, ARCH_KEY("embedding_length"), o->n_embd);
    kv_u32(g, ARCH_KEY("block_count"), o->n_layer);
    kv_u32(g, ARCH_KEY("feed_forward_length"), moe ? 8 * o->n_ff : o->n_ff);
    kv_u32(g, ARCH_KEY("attention.head_count"), o->n_head);
    kv_u32(g, ARCH_KEY("attention.head_count_kv"), o->n_head_kv);
    kv_f32(g, ARCH_KEY("attention.layer_norm_rms_epsilon"), moe ? 1e-6f : 1e-5f);
    kv_f32(g, ARCH_KEY("rope.freq_base"), moe ? 1000000.0f : 500000.0f);
    kv_u32(g, ARCH_KEY("rope.dimension_count"), hd);
    if (moe) {
        kv_u32(g, ARCH_KEY("attention.key_length"), hd);
        kv_u32(g, ARCH_KEY("attention.value_length"), hd);
        kv_u32(g, ARCH_KEY("expert_count"), o->n_expert);
        kv_u32(g, ARCH_KEY("expert_used_count"), o->n_expert_used);
        kv_u32(g, ARCH_KEY("expert_feed_forward_length"), o->n_ff);
    }
#undef ARCH_KEY
    kv_tokenizer(g, o->n_vocab, "gpt-2");
}

static uint32_t ggml_type(uint32_t dt)
{
    switch (dt) {
    case GEN_DT_F32: return GGML_F32;
    case GEN_DT_F16: return GGML_F16;
    case GEN_DT_BF16: return GGML_BF16;
    case GEN_DT_MXFP4: return GGML_MXFP4;
    case GEN_DT_TQ1_0: return GGML_TQ1_0;
    default: return GGML_TQ2_0;
    }
}

static void write_infos(gg *g, const gen_plan *p, uint32_t align)
{
    uint64_t off = 0;
    for (uint32_t i = 0; i < p->n && !g->rc; i++) {
        const gen_tensor *t = &p->t[i];
        put_str(g, t->name, strlen(t->name));
        put_u32(g, t->n_dims);
        for (uint32_t d = t->n_dims; d-- > 0;)  /* ne[0] is the innermost (torch last) dim */
            if (!g->rc) g->rc = gen__out_u64le(g->o, t->shape[d], g->err);
        put_u32(g, ggml_type(t->dtype));
        if (!g->rc) g->rc = gen__out_u64le(g->o, off, g->err);
        if (!g->rc && (trit_add_u64(off, t->nbytes, &off) || trit_align_up(off, align, &off)))
            g->rc = trit_err_set(g->err, TRIT_E_LIMIT, TRIT_NO_OFFSET, NULL, "data offsets overflow");
    }
}

static int pad_to(gen_out *o, uint32_t align, trit_err *err)
{
    uint64_t const rem = o->off % align;
    return rem ? gen__out_zeros(o, align - rem, err) : TRIT_OK;
}

int gen__write_gguf(const gen_opts *op, const char *out_path, trit_err *err)
{
    gen_plan p;
    gen_out cnt, o;
    char tmp[GEN_PATH_MAX];
    int rc = gen__check_target(out_path, 0, op->overwrite, err);
    if (rc) return rc;
    if ((rc = gen_plan_build(op, &p, err))) return rc;

    gen__out_counter(&cnt);
    gg c = {&cnt, 0, TRIT_OK, err};
    write_kvs(&c, op, &p);
    if ((rc = c.rc) || (rc = gen__tmpfile_open(out_path, &o, tmp, sizeof tmp, err))) {
        gen_plan_release(&p);
        return rc;
    }
    gg g = {&o, 0, TRIT_OK, err};
    if (!g.rc) g.rc = gen__out_write(&o, "GGUF", 4, err);
    put_u32(&g, 3);
    if (!g.rc) g.rc = gen__out_u64le(&o, p.n, err);
    if (!g.rc) g.rc = gen__out_u64le(&o, c.n_kv, err);
    write_kvs(&g, op, &p);
    write_infos(&g, &p, op->gguf_align);
    rc = g.rc ? g.rc : pad_to(&o, op->gguf_align, err);
    for (uint32_t i = 0; i < p.n && !rc; i++) {
        rc = gen__emit_tensor(&p.t[i], &o, err);
        if (!rc) rc = pad_to(&o, op->gguf_align, err);
    }
    if (rc) {
        gen__out_discard(&o);
        remove(tmp);
        trit_err_file(err, out_path);
    } else {
        rc = gen__commit_file(&o, tmp, out_path, err);
    }
    gen_plan_release(&p);
    return rc;
}
