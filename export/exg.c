/*
 * exg.c - the export plan: architecture mapping, the GGUF header (KVs, tensor infos,
 * padding) and the public accessors. The tensor choices are in exg_plan.c, the KVs in
 * exg_meta.c, the data in exg_write.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exg_int.h"
#include "trit_safemath.h"

/* Container architecture -> GGUF architecture and RoPE kind (llama.cpp llama_model_rope_type:
 * "normal" RoPE rotates pairs of consecutive values, so the container's neox rows are
 * permuted; "neox" ones need nothing). Architectures not listed are refused: writing one with
 * the wrong RoPE kind would load and silently compute garbage. */
static const struct arch_map {
    const char *from, *to;
    int norm_rope;
} arch_tab[] = {
    {"llama", "llama", 1},       {"mistral", "llama", 1},     {"mixtral", "llama", 1},
    {"deepseek", "deepseek", 1}, {"minicpm", "minicpm", 1},
    {"bitnet", "bitnet", 0},     {"bitnet-b1.58", "bitnet", 0}, {"bitnet-25", "bitnet", 0},
    {"qwen2", "qwen2", 0},       {"qwen3", "qwen3", 0},
    {"qwen2moe", "qwen2moe", 0}, {"qwen3moe", "qwen3moe", 0}, {"olmoe", "olmoe", 0},
    {"granite", "granite", 1},   {"granitemoe", "granitemoe", 1},
    /* DeepSeek-V2/V3 multi-head latent attention: llama.cpp's deepseek2 ropes q_pe/k_pe as
     * NORM (consecutive pairs), which is how the container stores them (rope_layout "norm") */
    {"deepseek2", "deepseek2", 0},
};

const char *exg_arch(const char *container_arch, int *norm_rope)
{
    for (size_t i = 0; i < sizeof arch_tab / sizeof arch_tab[0]; i++)
        if (!strcmp(container_arch, arch_tab[i].from)) {
            if (norm_rope) *norm_rope = arch_tab[i].norm_rope;
            return arch_tab[i].to;
        }
    return NULL;
}

/* A description llama.cpp computes other math for: LayerNorm blocks (model.norm_kind "layer")
 * and sparsemixer routing. llama.cpp's phimoe architecture runs its phi3 graph
 * (src/models/phi3.cpp: RMSNorm plus the norm bias, softmax top-2 renormalized), so a phimoe
 * GGUF would load there and compute something else than the release (modeling_phimoe.py). */
static int refuse_other_math(const trit_reader *r, const char *arch, trit_err *err)
{
    char s[32];
    int rc = exg__kv_str(r, "model.norm_kind", s, sizeof s, err);
    if (rc == TRIT_OK && strcmp(s, "rms") != 0)
        return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, "model.norm_kind",
                            "'%s' ('%s'): llama.cpp computes no LayerNorm block for this architecture (its phimoe "
                            "graph is phi3's RMSNorm plus bias); an export would compute something else", s, arch);
    if (rc != TRIT_OK && rc != TRIT_E_NOTFOUND) return rc;
    rc = exg__kv_str(r, "model.rope_select", s, sizeof s, err);
    if (rc == TRIT_OK && strcmp(s, "context") != 0)
        return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, "model.rope_select",
                            "'%s' ('%s'): llama.cpp picks the longrope set by its context, not by the sequence", s, arch);
    if (rc != TRIT_OK && rc != TRIT_E_NOTFOUND) return rc;
    /* gpt-oss's math (spec 10.1): no exporter writes llama.cpp's gpt-oss yet, and no other
     * llama.cpp architecture computes it; refused by the key before the architecture */
    static const char *const gptoss_keys[] = {"model.sliding_window", "model.swiglu_limit", "model.yarn_truncate"};
    for (size_t i = 0; i < sizeof gptoss_keys / sizeof gptoss_keys[0]; i++)
        if (trit_kvset_find(trit_reader_kv(r), gptoss_keys[i]) >= 0)
            return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, gptoss_keys[i],
                                "present ('%s'): sliding windows, the clamped SwiGLU and untruncated YaRN are gpt-oss's, "
                                "which export does not write (llama.cpp's gpt-oss takes MXFP4 experts; export is not "
                                "implemented for it)", arch);
    rc = exg__kv_str(r, "moe.gating", s, sizeof s, err);
    if (rc == TRIT_OK && !strcmp(s, "sparsemixer"))
        return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, "moe.gating",
                            "'sparsemixer' ('%s'): llama.cpp routes phimoe by softmax top-2, renormalized; an export "
                            "would compute something else", arch);
    return rc == TRIT_E_NOTFOUND ? TRIT_OK : rc;
}

void exg_plan_free(exg_plan *p)
{
    if (!p) return;
    for (uint32_t i = 0; i < p->n_warn; i++) free(p->warn[i]);
    free(p->warn);
    free(p->t);
    free(p->pool);
    free(p->hdr);
    free(p);
}

/* Header: magic, version 3, counts, KVs, tensor infos, zero padding to the alignment. */
static int build_header(exg_plan *p, const exg__buf *kv, uint64_t n_kv, trit_err *err)
{
    exg__buf b = {0};
    exg__put(&b, "GGUF", 4);
    exg__put_u32(&b, 3);
    exg__put_u64(&b, p->n_t);
    exg__put_u64(&b, n_kv);
    exg__put(&b, kv->p, kv->len);
    for (uint32_t i = 0; i < p->n_t; i++) {
        const exg_tensor *t = &p->t[i].pub;
        exg__put_str(&b, t->name, strlen(t->name));
        exg__put_u32(&b, t->n_dims);
        for (uint32_t d = 0; d < t->n_dims; d++) exg__put_u64(&b, t->ne[d]);
        exg__put_u32(&b, t->ggml_type);
        exg__put_u64(&b, t->offset);
    }
    uint64_t padded;
    if (trit_align_up(b.len, p->alignment, &padded)) b.oom = 1;
    static const uint8_t zeros[64];
    while (!b.oom && b.len < padded) exg__put(&b, zeros, (size_t)(padded - b.len) < sizeof zeros ? (size_t)(padded - b.len) : sizeof zeros);
    if (b.oom) {
        free(b.p);
        return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory building the GGUF header");
    }
    p->hdr = b.p;
    p->hdr_len = b.len;
    return TRIT_OK;
}

int exg_plan_new(const trit_reader *r, const exg_opts *opts, exg_plan **out,
                        trit_err *err)
{
    *out = NULL;
    exg_plan *p = calloc(1, sizeof *p);
    exg__buf kv = {0};
    int rc = TRIT_OK;
    if (!p) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    p->r = r;
    p->flags = opts ? opts->flags : 0;
    p->alignment = opts && opts->alignment ? opts->alignment : 32;
    if (!trit_is_pow2(p->alignment) || p->alignment < 8 || p->alignment > (1u << 20)) {
        rc = trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL,
                          "alignment %u: must be a power of two from 8 to 1 MiB", p->alignment);
        goto out;
    }
    if ((p->flags & EXG_TQ1) && (p->flags & EXG_DEQUANT)) {
        rc = trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL, "TQ1_0 and dequantize exclude each other");
        goto out;
    }
    rc = exg__kv_str(r, "general.architecture", p->src_arch, sizeof p->src_arch, err);
    if (rc == TRIT_E_NOTFOUND)
        rc = trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, NULL, "metadata 'general.architecture' is missing");
    if (rc) goto out;
    if ((rc = refuse_other_math(r, p->src_arch, err))) goto out;
    const char *arch = exg_arch(p->src_arch, &p->norm_rope);
    if (!arch) {
        rc = trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, NULL,
                          "architecture '%s' is not known to export (known: llama, mistral, mixtral, "
                          "deepseek, deepseek2, minicpm, bitnet, qwen2, qwen3, qwen2moe, qwen3moe, olmoe, granite, "
                          "granitemoe)", p->src_arch);
        goto out;
    }
    if (!strcmp(arch, "bitnet") && trit_reader_find_tensor(r, "blk.0.attn_sub_norm.weight") < 0) {
        /* A BitNet-quantized Llama (HF1BitLLM Llama3-8B-1.58, Falcon3-*-1.58bit): ternary
         * projections, no SubLN norms. llama.cpp's bitnet graph requires the sub-norms; its llama
         * graph computes exactly this model with TQ projections, if the FFN is SwiGLU. */
        char act[16] = "silu";
        int const arc = exg__kv_str(r, "model.hidden_act", act, sizeof act, err);
        if (arc != TRIT_OK && arc != TRIT_E_NOTFOUND) { rc = arc; goto out; }
        if (strcmp(act, "silu") != 0) {
            rc = trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, "model.hidden_act",
                              "a BitNet model without sub-norms and with activation '%s': llama.cpp's bitnet "
                              "graph needs the sub-norms and its llama graph computes SiLU", act);
            goto out;
        }
        arch = exg_arch("llama", &p->norm_rope);
    }
    snprintf(p->arch, sizeof p->arch, "%s", arch);
    char layout[32];
    int const lrc = exg__kv_str(r, "model.rope_layout", layout, sizeof layout, err);
    if (lrc == TRIT_OK && strcmp(layout, "neox") != 0 && !(!strcmp(arch, "deepseek2") && !strcmp(layout, "norm"))) {
        rc = trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, NULL,
                          "model.rope_layout is '%s'; export reads 'neox' (spec/container.md 10.1)", layout);
        goto out;
    }
    if (lrc != TRIT_OK && lrc != TRIT_E_NOTFOUND) { rc = lrc; goto out; }
    if ((rc = exg__plan_tensors(p, err))) goto out;
    uint64_t n_kv = 0;
    if ((rc = exg__plan_meta(p, &kv, &n_kv, err))) goto out;
    if ((rc = build_header(p, &kv, n_kv, err))) goto out;
    p->sum.arch = p->arch;
    p->sum.src_arch = p->src_arch;
    p->sum.n_kv = n_kv;
    p->sum.data_off = p->hdr_len;
    if (trit_add_u64(p->sum.file_size, p->hdr_len, &p->sum.file_size)) {
        rc = trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, NULL, "file size overflows");
        goto out;
    }
out:
    free(kv.p);
    if (rc) {
        trit_err_file(err, trit_reader_path(r));
        exg_plan_free(p);
        return rc;
    }
    *out = p;
    return TRIT_OK;
}

const exg_summary *exg_plan_summary(const exg_plan *p) { return &p->sum; }
uint32_t exg_plan_n_tensors(const exg_plan *p) { return p->n_t; }
const exg_tensor *exg_plan_tensor(const exg_plan *p, uint32_t i)
{
    return i < p->n_t ? &p->t[i].pub : NULL;
}
uint32_t exg_plan_n_warnings(const exg_plan *p) { return p->n_warn; }
const char *exg_plan_warning(const exg_plan *p, uint32_t i)
{
    return i < p->n_warn ? p->warn[i] : NULL;
}

int exg_gguf(const trit_reader *r, const char *out_path, const exg_opts *opts,
                    exg_stats *st, trit_err *err)
{
    exg_plan *p;
    int rc = exg_plan_new(r, opts, &p, err);
    if (rc) return rc;
    rc = exg_write(p, out_path, opts, st, err);
    exg_plan_free(p);
    return rc;
}
