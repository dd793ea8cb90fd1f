/* test_convert_arch.c - architectures without a trit-gen layout, built here as tiny HF
 * checkpoints (config.json + model.safetensors written by the safetensors tests' independent
 * writer): Qwen2-MoE (shared expert with a sigmoid gate, attention biases, no top-k
 * renormalisation) and OLMoE (full-width q/k norms). Each converts, carries the routing
 * conventions explicitly, and runs bit-identically to its source (trit run --reference). */
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "test_cvt_safetensors.h"

#define E 16      /* n_embd */
#define V 32      /* vocab */
#define F 8       /* expert ff */

static uint32_t rng(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* out x in values: ternary x one scale (exactly representable), or small floats */
static void fill(float *p, size_t n, int ternary, uint32_t seed)
{
    uint32_t s = seed * 2654435761u + 7;
    float const sc = 0.03125f * (float)(1 + seed % 5);
    for (size_t i = 0; i < n; i++)
        p[i] = ternary ? (float)((int)(rng(&s) % 3) - 1) * sc : ((float)(rng(&s) % 2001) - 1000.0f) / 4000.0f;
}

static void add(stt_writer *w, const char *name, size_t rows, size_t cols, int ternary, uint32_t seed)
{
    float buf[V * E];
    char shape[64];
    if (rows) snprintf(shape, sizeof shape, "[%zu, %zu]", rows, cols);
    else snprintf(shape, sizeof shape, "[%zu]", cols);
    size_t const n = (rows ? rows : 1) * cols;
    fill(buf, n, ternary, seed);
    if (!rows && !ternary && strstr(name, "norm"))
        for (size_t i = 0; i < n; i++) buf[i] = 1.0f + buf[i] / 8;
    stt_add(w, name, "F32", shape, buf, n * 4);
}

static int write_model(const char *dir, const char *config, int qwen2moe)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/config.json", dir);
    if (test_write_file(p, config, strlen(config))) return -1;
    stt_writer *w = malloc(sizeof *w);
    stt_init(w, NULL);
    uint32_t seed = 1;
    add(w, "model.embed_tokens.weight", V, E, 0, seed++);
    add(w, "model.norm.weight", 0, E, 0, seed++);
    add(w, "lm_head.weight", V, E, 0, seed++);
    add(w, "model.layers.0.input_layernorm.weight", 0, E, 0, seed++);
    add(w, "model.layers.0.post_attention_layernorm.weight", 0, E, 0, seed++);
    static const char *const proj[] = {"q_proj", "k_proj", "v_proj", "o_proj"};
    for (int k = 0; k < 4; k++) {
        char n[128];
        snprintf(n, sizeof n, "model.layers.0.self_attn.%s.weight", proj[k]);
        add(w, n, E, E, 1, seed++);
        if (qwen2moe && k < 3) {
            snprintf(n, sizeof n, "model.layers.0.self_attn.%s.bias", proj[k]);
            add(w, n, 0, E, 0, seed++);
        }
    }
    if (!qwen2moe) {
        add(w, "model.layers.0.self_attn.q_norm.weight", 0, E, 0, seed++);
        add(w, "model.layers.0.self_attn.k_norm.weight", 0, E, 0, seed++);
    }
    add(w, "model.layers.0.mlp.gate.weight", 4, E, 0, seed++);
    for (int e = 0; e < 4; e++) {
        char n[128];
        snprintf(n, sizeof n, "model.layers.0.mlp.experts.%d.gate_proj.weight", e);
        add(w, n, F, E, 1, seed++);
        snprintf(n, sizeof n, "model.layers.0.mlp.experts.%d.up_proj.weight", e);
        add(w, n, F, E, 1, seed++);
        snprintf(n, sizeof n, "model.layers.0.mlp.experts.%d.down_proj.weight", e);
        add(w, n, E, F, 1, seed++);
    }
    if (qwen2moe) {
        add(w, "model.layers.0.mlp.shared_expert.gate_proj.weight", 2 * F, E, 1, seed++);
        add(w, "model.layers.0.mlp.shared_expert.up_proj.weight", 2 * F, E, 1, seed++);
        add(w, "model.layers.0.mlp.shared_expert.down_proj.weight", E, 2 * F, 1, seed++);
        add(w, "model.layers.0.mlp.shared_expert_gate.weight", 1, E, 0, seed++);
    }
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    int const rc = stt_finish_file(w, p);
    free(w);
    return rc;
}

static void check_arch(const char *name, const char *config, int qwen2moe, const char *const *want_kv)
{
    const char *dir = stt_dir(name);
    if (write_model(dir, config, qwen2moe)) {
        test_fail_(__FILE__, __LINE__, "cannot write the %s checkpoint", name);
        return;
    }
    char out[4200], cmd[9000];
    snprintf(out, sizeof out, "%s.trit", dir);
    snprintf(cmd, sizeof cmd, "%s convert -q -f '%s' -o '%s' 2>&1", test_trit_bin(), dir, out);
    char *o = NULL;
    CHECK_EQ_INT(test_run(cmd, &o), 0);
    free(o);
    snprintf(cmd, sizeof cmd, "%s inspect --json '%s'", test_trit_bin(), out);
    CHECK_EQ_INT(test_run(cmd, &o), 0);
    for (int k = 0; want_kv[k]; k++)
        if (!o || !strstr(o, want_kv[k])) test_fail_(__FILE__, __LINE__, "%s: metadata lacks %s", name, want_kv[k]);
    free(o);
    snprintf(cmd, sizeof cmd, "%s run '%s' --tokens 1,5,9,3 -n 3 --expert-cache 1K --reference '%s' 2>&1",
             test_trit_bin(), out, dir);
    CHECK_EQ_INT(test_run(cmd, &o), 0);
    CHECK(o && strstr(o, "bit-identical"));
    free(o);
}

TEST(convert_qwen2moe_shared_expert_runs_like_source)
{
    static const char cfg[] =
        "{\"model_type\":\"qwen2_moe\",\"architectures\":[\"Qwen2MoeForCausalLM\"],\"hidden_size\":16,"
        "\"intermediate_size\":32,\"num_attention_heads\":4,\"num_key_value_heads\":4,\"num_hidden_layers\":1,"
        "\"vocab_size\":32,\"rms_norm_eps\":1e-6,\"rope_theta\":10000,\"num_experts\":4,\"num_experts_per_tok\":2,"
        "\"moe_intermediate_size\":8,\"shared_expert_intermediate_size\":16,\"norm_topk_prob\":false,"
        "\"tie_word_embeddings\":false}";
    static const char *const want[] = {"\"moe.shared_gate\":\t\"sigmoid\"", "\"moe.n_shared_expert\":\t1",
                                       "\"moe.norm_topk\":\tfalse", "\"general.architecture\":\t\"qwen2moe\"",
                                       "blk.0.ffn_gate_inp_shexp.weight", "blk.0.attn_q.bias", NULL};
    check_arch("arch-qwen2moe", cfg, 1, want);
}

TEST(convert_olmoe_runs_like_source)
{
    static const char cfg[] =
        "{\"model_type\":\"olmoe\",\"architectures\":[\"OlmoeForCausalLM\"],\"hidden_size\":16,"
        "\"intermediate_size\":8,\"num_attention_heads\":4,\"num_key_value_heads\":4,\"num_hidden_layers\":1,"
        "\"vocab_size\":32,\"rms_norm_eps\":1e-5,\"rope_theta\":10000,\"num_experts\":4,\"num_experts_per_tok\":2,"
        "\"norm_topk_prob\":false,\"tie_word_embeddings\":false}";
    static const char *const want[] = {"\"general.architecture\":\t\"olmoe\"", "\"moe.gating\":\t\"softmax\"",
                                       "\"moe.norm_topk\":\tfalse", "blk.0.attn_q_norm.weight", NULL};
    check_arch("arch-olmoe", cfg, 0, want);
}
