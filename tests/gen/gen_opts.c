/* gen_opts.c - the layout table, per-layout defaults, presets, option checks and gen_write. */
#include <string.h>

#include "gen_int.h"
#include "trit_limits.h"
#include "trit_safemath.h"

/* One row per layout. To add a layout: a gen_layout value, a row here, a writer, and its
 * defaults in gen_opts_default(). */
static const gen_layout_desc layouts[] = {
    {"bitnet", GEN_LAYOUT_BITNET, gen__write_safetensors_dir, 1,
     "BitNet b1.58 2B-4T: U8 packed ternary x BF16 weight_scale (autobitlinear), SubLN, relu2, tied"},
    {"bitnet-bitlinear", GEN_LAYOUT_BITNET_BITLINEAR, gen__write_safetensors_dir, 1,
     "BitNet packed with linear_class bitlinear: ternary / weight_scale (safetensors dir)"},
    {"bitnet-bf16", GEN_LAYOUT_BITNET_BF16, gen__write_safetensors_dir, 1,
     "BitNet b1.58 2B-4T-bf16: BF16 master weights, quantization_mode online (safetensors dir)"},
    {"latent", GEN_LAYOUT_LATENT, gen__write_safetensors_dir, 1,
     "1bitLLM bitnet_b1_58: F32 latent weights, weight_bits 1, tied (safetensors dir)"},
    {"llama158", GEN_LAYOUT_LLAMA158, gen__write_safetensors_dir, 1,
     "Llama3-8B-1.58 / Falcon3-1.58bit: LlamaForCausalLM, U8 packed / weight_scale, no sub-norms"},
    {"bitcpm", GEN_LAYOUT_BITCPM, gen__write_safetensors_dir, 1,
     "BitCPM4: BF16 ternary x per-group scale, fake-quant MiniCPM (safetensors dir)"},
    {"minicpm4", GEN_LAYOUT_MINICPM4, gen__write_safetensors_dir, 1,
     "BitCPM4/MiniCPM4 as released: bitcpm plus rope_scaling longrope (safetensors dir)"},
    {"mixtral", GEN_LAYOUT_MIXTRAL, gen__write_safetensors_dir, 1,
     "Mixtral MoE, BF16 ternary x scale experts, sharded with index.json (safetensors dir)"},
    {"qwen3moe", GEN_LAYOUT_QWEN3MOE, gen__write_safetensors_dir, 1,
     "Qwen3-MoE: head_dim key (--head-dim as Qwen3-30B-A3B), q/k norms, BF16, sharded (safetensors dir)"},
    {"qwen2moe", GEN_LAYOUT_QWEN2MOE, gen__write_safetensors_dir, 1,
     "Qwen1.5-MoE: q/k/v bias, shared_expert + sigmoid shared_expert_gate, BF16, sharded"},
    {"olmoe", GEN_LAYOUT_OLMOE, gen__write_safetensors_dir, 1,
     "OLMoE: full-width q/k norms, no rms_norm_eps key, BF16, sharded (safetensors dir)"},
    {"deepseek2", GEN_LAYOUT_DEEPSEEK2, gen__write_safetensors_dir, 1,
     "DeepSeek-V2-Lite: MLA, first dense layer, shared experts, yarn, BF16, sharded"},
    {"deepseek-v2", GEN_LAYOUT_DEEPSEEK_V2, gen__write_safetensors_dir, 1,
     "DeepSeek-V2 (236B): deepseek2 plus q LoRA and group_limited_greedy routing, BF16, sharded"},
    {"deepseek-v3", GEN_LAYOUT_DEEPSEEK_V3, gen__write_safetensors_dir, 1,
     "DeepSeek-V3: F8_E4M3 + weight_scale_inv 128x128 blocks, sigmoid noaux_tc routing, MTP module"},
    {"granitemoe", GEN_LAYOUT_GRANITEMOE, gen__write_safetensors_dir, 1,
     "granite-3.x MoE: fused input_linear/output_linear experts, 4 multipliers, F32, tied"},
    {"phimoe", GEN_LAYOUT_PHIMOE, gen__write_safetensors_dir, 1,
     "Phi-3.5-MoE: LayerNorm with bias, attention and lm_head bias, longrope, BF16, sharded"},
    {"gpt-oss", GEN_LAYOUT_GPT_OSS, gen__write_safetensors_dir, 1,
     "openai/gpt-oss-20b: MXFP4 experts as blocks/scales, sinks, sliding window, yarn, BF16 rest"},
    {"gguf-gpt-oss", GEN_LAYOUT_GGUF_GPT_OSS, gen__write_gguf, 0,
     "GGUF arch gpt-oss: the gpt-oss layout as llama.cpp's converter writes it, MXFP4 experts (file)"},
    {"gguf", GEN_LAYOUT_GGUF, gen__write_gguf, 0,
     "GGUF v3 arch bitnet: TQ1_0/TQ2_0 projections, F16 token_embd, F32 norms (file)"},
    {"gguf-moe", GEN_LAYOUT_GGUF_MOE, gen__write_gguf, 0,
     "GGUF v3 arch qwen3moe: 3-D TQ expert tensors ffn_*_exps (file)"},
    {"trit", GEN_LAYOUT_TRIT, gen__write_trit, 0,
     ".trit container written through libtrit: ternary MoE, zstd expert units (file)"},
};

const gen_layout_desc *gen_layout_table(size_t *n)
{
    *n = sizeof layouts / sizeof layouts[0];
    return layouts;
}

static const gen_layout_desc *desc_of(gen_layout l)
{
    for (size_t i = 0; i < sizeof layouts / sizeof layouts[0]; i++)
        if (layouts[i].layout == l) return &layouts[i];
    return NULL;
}

int gen_layout_from_name(const char *name, gen_layout *out)
{
    for (size_t i = 0; name && i < sizeof layouts / sizeof layouts[0]; i++)
        if (!strcmp(layouts[i].name, name)) {
            *out = layouts[i].layout;
            return TRIT_OK;
        }
    return TRIT_E_NOTFOUND;
}

const char *gen_layout_name(gen_layout l)
{
    const gen_layout_desc *d = desc_of(l);
    return d ? d->name : NULL;
}

int gen_layout_is_moe(gen_layout l)
{
    switch (l) {
    case GEN_LAYOUT_MIXTRAL:
    case GEN_LAYOUT_QWEN3MOE:
    case GEN_LAYOUT_GGUF_MOE:
    case GEN_LAYOUT_TRIT:
    case GEN_LAYOUT_QWEN2MOE:
    case GEN_LAYOUT_OLMOE:
    case GEN_LAYOUT_DEEPSEEK2:
    case GEN_LAYOUT_DEEPSEEK_V2:
    case GEN_LAYOUT_DEEPSEEK_V3:
    case GEN_LAYOUT_GRANITEMOE:
    case GEN_LAYOUT_GPT_OSS:
    case GEN_LAYOUT_GGUF_GPT_OSS:
    case GEN_LAYOUT_PHIMOE: return 1;
    default: return 0;
    }
}

int gen__is_deepseek(gen_layout l)
{
    return l == GEN_LAYOUT_DEEPSEEK2 || l == GEN_LAYOUT_DEEPSEEK_V2 || l == GEN_LAYOUT_DEEPSEEK_V3;
}

uint32_t gen_head_dim(const gen_opts *o)
{
    if (o->head_dim) return o->head_dim;
    return o->n_head ? o->n_embd / o->n_head : 0;
}

void gen_opts_default(gen_opts *o, gen_layout layout)
{
    memset(o, 0, sizeof *o);
    o->layout = layout;
    o->seed = 1;
    o->n_layer = 2;
    o->n_embd = 64;
    o->n_ff = 128;
    o->n_head = 4;
    o->n_head_kv = 2;
    o->n_vocab = 384;
    o->group_size = 128;
    o->n_shards = 1;
    o->n_ctx = 4096;
    o->gguf_align = 32;
    o->gguf_tq = GEN_TQ_MIXED;
    o->massive_token = GEN_NONE;
    switch (layout) {
    case GEN_LAYOUT_LATENT:
        /* 1bitLLM sizes are not multiples of 256 (3B: ff 8640); no GQA. */
        o->n_ff = 176;
        o->n_head_kv = 4;
        o->n_ctx = 2048;
        break;
    case GEN_LAYOUT_BITCPM:
    case GEN_LAYOUT_MINICPM4:
        o->n_embd = 128;
        o->n_ff = 256;
        break;
    case GEN_LAYOUT_QWEN3MOE:
    case GEN_LAYOUT_TRIT:
    case GEN_LAYOUT_MIXTRAL:
    case GEN_LAYOUT_QWEN2MOE:
    case GEN_LAYOUT_OLMOE:
    case GEN_LAYOUT_DEEPSEEK2:
    case GEN_LAYOUT_GRANITEMOE:
    case GEN_LAYOUT_PHIMOE:
        o->n_ff = 32;
        o->n_expert = 4;
        o->n_expert_used = 2;
        o->n_shards = 2;
        /* Qwen1.5-MoE, OLMoE and DeepSeek-V2-Lite have as many KV heads as heads */
        if (layout == GEN_LAYOUT_QWEN2MOE || layout == GEN_LAYOUT_OLMOE || layout == GEN_LAYOUT_DEEPSEEK2)
            o->n_head_kv = o->n_head;
        /* Phi-3.5-MoE: max_position_embeddings 131072, 32 x longrope's original 4096 */
        if (layout == GEN_LAYOUT_PHIMOE) o->n_ctx = 131072;
        break;
    case GEN_LAYOUT_GPT_OSS:
    case GEN_LAYOUT_GGUF_GPT_OSS:
        /* gen_gptoss.c: gpt-oss-20b scaled down (hidden 2880 -> 64, head_dim 64 -> 32, 32 experts
         * of 2880 -> 4 of 64, top-4 -> top-2, window 128 -> 4), max_position_embeddings as released */
        o->n_ff = 64;
        o->head_dim = 32;
        o->n_expert = 4;
        o->n_expert_used = 2;
        o->n_ctx = 131072;
        o->sliding_window = 4;
        break;
    case GEN_LAYOUT_DEEPSEEK_V2:
    case GEN_LAYOUT_DEEPSEEK_V3:
        /* 8 experts in 4 groups of 2, 1 (V2) or 2 (V3) groups kept, 2 experts per token (V2: 160
         * experts, 8 groups, 3 kept, 6 per token; V3: 256, 8, 4, 8); V3 wide enough that its FP8 tensors
         * hold several 128 x 128 blocks, partial ones included */
        o->n_embd = layout == GEN_LAYOUT_DEEPSEEK_V3 ? 128 : 64;
        o->n_ff = layout == GEN_LAYOUT_DEEPSEEK_V3 ? 64 : 32;
        o->n_head_kv = o->n_head;
        o->n_expert = 8;
        o->n_expert_used = 2;
        o->n_shards = 2;
        o->q_lora = layout == GEN_LAYOUT_DEEPSEEK_V3 ? 96 : 48;
        break;
    case GEN_LAYOUT_GGUF:
        o->n_embd = 256;
        o->n_ff = 512;
        break;
    case GEN_LAYOUT_GGUF_MOE:
        o->n_embd = 256;
        o->n_ff = 256;
        o->n_expert = 4;
        o->n_expert_used = 2;
        break;
    default: break;
    }
}

int gen_opts_preset(gen_opts *o, const char *name, trit_err *err)
{
    gen_layout const l = o->layout;
    uint64_t const seed = o->seed;
    if (!strcmp(name, "tiny")) {
        gen_opts_default(o, l);
    } else if (!strcmp(name, "2b4t")) {
        /* microsoft/bitnet-b1.58-2B-4T (formats.md 3.3). */
        o->n_layer = 30;
        o->n_embd = 2560;
        o->n_ff = 6912;
        o->n_vocab = 128256;
        o->n_head = 20;
        o->n_head_kv = 5;
        o->n_ctx = 4096;
    } else {
        return trit_err_set(err, TRIT_E_NOTFOUND, TRIT_NO_OFFSET, NULL,
                            "unknown preset '%s' (known: tiny, 2b4t)", name);
    }
    o->seed = seed;
    return TRIT_OK;
}

#define BAD(...) trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL, __VA_ARGS__)

int gen_opts_check(const gen_opts *o, trit_err *err)
{
    if (!desc_of(o->layout)) return BAD("unknown layout %d", (int)o->layout);
    int const moe = gen_layout_is_moe(o->layout);
    int const gguf = o->layout == GEN_LAYOUT_GGUF || o->layout == GEN_LAYOUT_GGUF_MOE;
    if (o->n_layer < 1 || o->n_layer > 4096) return BAD("layers must be 1..4096 (got %u)", o->n_layer);
    if (o->n_embd < 1 || o->n_embd > (1u << 20)) return BAD("embd must be 1..1048576 (got %u)", o->n_embd);
    if (o->n_ff < 1 || o->n_ff > (1u << 22)) return BAD("ff must be 1..4194304 (got %u)", o->n_ff);
    if (o->n_head < 1 || o->n_head > 4096) return BAD("heads must be 1..4096 (got %u)", o->n_head);
    if (!o->head_dim && o->n_embd % o->n_head)
        return BAD("embd %u is not a multiple of heads %u (give --head-dim)", o->n_embd, o->n_head);
    if (o->head_dim > 65536) return BAD("head_dim must be at most 65536 (got %u)", o->head_dim);
    if (gen_head_dim(o) % 2 || !gen_head_dim(o)) return BAD("head_dim %u must be even (rope)", gen_head_dim(o));
    if (gen__is_deepseek(o->layout) && gen_head_dim(o) % 4)
        return BAD("deepseek2 derives qk_rope_head_dim = head_dim / 2, which must be even (head_dim %u)",
                   gen_head_dim(o));
    if (o->head_dim && o->head_dim != o->n_embd / o->n_head &&
        (o->layout == GEN_LAYOUT_GGUF || o->layout == GEN_LAYOUT_GGUF_MOE))
        return BAD("gguf layouts use head_dim = embd / heads");
    if (o->n_ff_shared > (1u << 22)) return BAD("shared expert width must be at most 4194304");
    if (o->q_lora > (1u << 16)) return BAD("q-lora must be at most 65536");
    if (o->q_lora && !gen__is_deepseek(o->layout)) return BAD("q-lora is a deepseek option");
    if ((o->layout == GEN_LAYOUT_DEEPSEEK_V2 || o->layout == GEN_LAYOUT_DEEPSEEK_V3) &&
        (o->n_expert % 4 || o->n_expert / 4 * (o->layout == GEN_LAYOUT_DEEPSEEK_V3 ? 2 : 1) < o->n_expert_used ||
         (o->layout == GEN_LAYOUT_DEEPSEEK_V3 && o->n_expert < 8)))
        return BAD("deepseek-v2/v3 route over 4 groups of which v2 keeps 1, v3 2: experts (%u) a multiple of 4 (v3: at "
                   "least 8, groups of 2 or more) and the kept groups hold the experts per token (%u)", o->n_expert, o->n_expert_used);
    if (gen__is_gptoss(o->layout) && (o->n_embd % 32 || o->n_ff % 32 || o->n_layer < 1))
        return BAD("gpt-oss's MXFP4 experts need embd and ff multiples of 32 (got %u, %u)", o->n_embd, o->n_ff);
    if (o->sliding_window && !gen__is_gptoss(o->layout)) return BAD("sliding-window is a gpt-oss option");
    if (o->n_head_kv < 1 || o->n_head % o->n_head_kv)
        return BAD("heads %u is not a multiple of kv heads %u", o->n_head, o->n_head_kv);
    uint32_t const need = 256 + gen_tok_n_special(o->n_vocab);
    if (o->n_vocab < need || o->n_vocab > (1u << 22))
        return BAD("vocab must be %u..4194304 (got %u)", need, o->n_vocab);
    if (o->n_ctx < 1) return BAD("context length must be >= 1");
    if (o->rope_orig && o->layout != GEN_LAYOUT_MINICPM4) return BAD("rope-orig is a minicpm4 option");
    if (o->rope_orig == 1) return BAD("rope-orig must be >= 2 (MiniCPMLongRoPE divides by its logarithm)");
    if (moe) {
        if (o->n_expert < 2 || o->n_expert > 1024) return BAD("experts must be 2..1024 (got %u)", o->n_expert);
        if (o->n_expert_used < 1 || o->n_expert_used > o->n_expert)
            return BAD("experts-used must be 1..%u (got %u)", o->n_expert, o->n_expert_used);
    } else if (o->n_expert) {
        return BAD("layout '%s' has no experts", gen_layout_name(o->layout));
    }
    if (o->n_outlier > 64 || o->n_outlier > o->n_embd)
        return BAD("outlier channels must be at most 64 and at most embd (got %u)", o->n_outlier);
    if (o->n_embd % 7919 == 0 && (o->n_outlier || o->massive_token != GEN_NONE))
        return BAD("outlier channels need an embd that is not a multiple of 7919");
    if (o->massive_token != GEN_NONE && o->massive_token >= o->n_vocab)
        return BAD("massive token %u is not below vocab %u", o->massive_token, o->n_vocab);
    if (!(o->outlier_scale >= 0 && o->outlier_scale <= 1e4f) || !(o->massive_scale >= 0 && o->massive_scale <= 1e4f))
        return BAD("outlier and massive scales must be in (0, 10000]");
    if (o->latent && !moe && o->layout != GEN_LAYOUT_GGUF)
        return BAD("--latent applies to the MoE layouts, gguf and gguf-moe only");
    if (o->f32 == 2 && o->layout != GEN_LAYOUT_GGUF_GPT_OSS) return BAD("--f32-dense applies to gguf-gpt-oss only");
    if (o->layout == GEN_LAYOUT_BITNET || o->layout == GEN_LAYOUT_BITNET_BITLINEAR ||
        o->layout == GEN_LAYOUT_LLAMA158) {
        uint32_t const kv = gen_head_dim(o) * o->n_head_kv, q = gen_head_dim(o) * o->n_head;
        if (o->n_embd % 4 || o->n_ff % 4 || kv % 4 || q % 4)
            return BAD("bitnet packs 4 rows per byte: embd, ff, q width (%u) and kv width (%u) must be "
                       "multiples of 4", q, kv);
    }
    if ((o->layout == GEN_LAYOUT_BITCPM || o->layout == GEN_LAYOUT_MINICPM4) &&
        (o->group_size < 1 || o->group_size > (1u << 20)))
        return BAD("group size must be 1..1048576 (got %u)", o->group_size);
    if (gguf) {
        if (o->n_embd % 256 || o->n_ff % 256)
            return BAD("TQ rows need multiples of 256: embd %u, ff %u", o->n_embd, o->n_ff);
        if (!trit_is_pow2(o->gguf_align) || o->gguf_align < 8 || o->gguf_align > (1u << 16))
            return BAD("alignment must be a power of two in 8..65536 (got %u)", o->gguf_align);
        if (o->gguf_tq > GEN_TQ_F32) return BAD("unknown TQ choice %u", o->gguf_tq);
        if (o->n_shards > 1) return BAD("gguf layouts write one file (no --shards)");
    } else if (o->n_shards < 1 || o->n_shards > TRIT_MAX_SHARDS) {
        return BAD("shards must be 1..%u (got %u)", TRIT_MAX_SHARDS, o->n_shards);
    }
    return TRIT_OK;
}

int gen_write(const gen_opts *o, const char *out_path, trit_err *err)
{
    const gen_layout_desc *d = desc_of(o->layout);
    if (!d) return BAD("unknown layout %d", (int)o->layout);
    int const rc = gen_opts_check(o, err);
    if (rc) return rc;
    /* "out/" would put the temp directory inside the target: drop trailing slashes. */
    char path[GEN_PATH_MAX];
    size_t n = out_path ? strlen(out_path) : 0;
    if (n == 0 || n >= sizeof path) return BAD("output path is empty or too long");
    while (n > 1 && out_path[n - 1] == '/') n--;
    memcpy(path, out_path, n);
    path[n] = '\0';
    return d->fn(o, path, err);
}
