/* test_convert_keys.c - strict semantics (convert/cvt_keys.c): per family, one math-changing
 * key set to a value the runner does not compute makes `trit convert` refuse, naming the key
 * (TRIT_E_UNSUPPORTED, exit 5); the unmodified checkpoint converts (the control); families the
 * runner cannot compute are refused by name, never converted as the nearest llama. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cvt.h"
#include "gen/gen.h"
#include "test.h"
#include "test_config_edit.h"
#include "trit.h"

/* Convert src; returns the libtrit code, err filled. No output is left on failure. */
static int convert(const char *src, trit_err *err)
{
    char out[4300];
    snprintf(out, sizeof out, "%s.keys.trit", src);
    unlink(out);
    cvt_opts o;
    memset(&o, 0, sizeof o);
    cvt_report rep;
    int const rc = cvt_convert(src, out, &o, &rep, err);
    if (rc == TRIT_OK) cvt_report_free(&rep);
    struct stat st;
    if (rc != TRIT_OK && stat(out, &st) == 0) test_fail_(__FILE__, __LINE__, "%s: output left behind", out);
    unlink(out);
    return rc;
}

/* The control converts; with key = value the conversion is refused naming `named`. */
static void refuses(gen_layout l, const char *tag, const char *key, const char *value, const char *named)
{
    char src[4096];
    if (test_gen(l, tag, src, sizeof src)) return;
    trit_err err;
    int rc = convert(src, &err);
    if (rc != TRIT_OK) test_fail_(__FILE__, __LINE__, "%s: control does not convert: %s", tag, err.msg);
    if (test_config_set(src, key, value) != 0) {
        test_fail_(__FILE__, __LINE__, "%s: cannot edit config.json", tag);
        return;
    }
    rc = convert(src, &err);
    if (rc != TRIT_E_UNSUPPORTED || !strstr(err.msg, named))
        test_fail_(__FILE__, __LINE__, "%s: %s = %s: code %d, message '%s' (want UNSUPPORTED naming '%s')", tag, key,
                   value ? value : "(deleted)", rc, err.msg, named);
}

TEST(convert_keys_refused_per_family_hf)
{
    /* BitNet b1.58 2B-4T: rope scaling the runner does not compute */
    refuses(GEN_LAYOUT_BITNET, "k-bitnet", "rope_scaling", "{\"rope_type\":\"yarn\",\"factor\":4.0}", "rope_scaling");
    /* 1bitLLM: an activation the runner does not compute */
    refuses(GEN_LAYOUT_LATENT, "k-latent", "hidden_act", "\"gelu_pytorch_tanh\"", "hidden_act");
    /* BitCPM4 / MiniCPM4: longrope with fewer factors than rotary frequencies (head_dim / 2) */
    refuses(GEN_LAYOUT_BITCPM, "k-bitcpm", "rope_scaling",
            "{\"rope_type\":\"longrope\",\"long_factor\":[1.0,2.0],\"short_factor\":[1.0,1.0],"
            "\"original_max_position_embeddings\":32768}",
            "rope_scaling.long_factor");
    /* Mixtral: a sliding window shorter than the context */
    refuses(GEN_LAYOUT_MIXTRAL, "k-mixtral", "sliding_window", "16", "sliding_window");
    /* Qwen3-MoE: sliding-window attention switched on */
    refuses(GEN_LAYOUT_QWEN3MOE, "k-qwen3moe", "use_sliding_window", "true", "use_sliding_window");
    /* a key nobody has read the modeling code for */
    refuses(GEN_LAYOUT_QWEN3MOE, "k-unknown", "attn_temperature_tuning", "4", "attn_temperature_tuning");
    /* granite's multipliers are mapped for granite only: on another family they are refused */
    refuses(GEN_LAYOUT_BITNET, "k-granite-mult", "attention_multiplier", "0.015625", "attention_multiplier");
    /* DeepSeek's multi-head latent attention, named by its key */
    refuses(GEN_LAYOUT_QWEN3MOE, "k-mla", "kv_lora_rank", "512", "kv_lora_rank");
    /* families the runner does not compute, by model_type */
    refuses(GEN_LAYOUT_MIXTRAL, "k-jamba", "model_type", "\"jamba\"", "jamba");
    /* a flag given as a string: Python takes "false" as true, jbool would take the default */
    refuses(GEN_LAYOUT_QWEN3MOE, "k-normtopk", "norm_topk_prob", "\"false\"", "norm_topk_prob");
    /* a count that ju32 could not use used to become its default (n_head_kv = n_head) */
    refuses(GEN_LAYOUT_QWEN3MOE, "k-kvheads", "num_key_value_heads", "2.5", "num_key_value_heads");
    refuses(GEN_LAYOUT_MIXTRAL, "k-phi3", "model_type", "\"phi3\"", "phi3");   /* fused qkv_proj / gate_up_proj */
}

TEST(convert_keys_inert_and_defaults)
{
    char src[4096];
    if (test_gen(GEN_LAYOUT_QWEN3MOE, "k-inert", src, sizeof src)) return;
    /* keys known not to change the math convert */
    CHECK_EQ_INT(test_config_set(src, "router_aux_loss_coef", "0.001"), 0);
    CHECK_EQ_INT(test_config_set(src, "attention_dropout", "0.0"), 0);
    CHECK_EQ_INT(test_config_set(src, "rope_scaling", "null"), 0);
    CHECK_EQ_INT(test_config_set(src, "sliding_window", "4096"), 0);      /* off: use_sliding_window false */
    CHECK_EQ_INT(test_config_set(src, "use_sliding_window", "false"), 0);
    trit_err err;
    CHECK_OK_E(convert(src, &err), &err);
    /* OLMoE leaves rms_norm_eps out: transformers' OlmoeConfig default is 1e-5, not 1e-6 */
    CHECK_EQ_INT(test_config_set(src, "model_type", "\"olmoe\""), 0);
    CHECK_EQ_INT(test_config_set(src, "rms_norm_eps", NULL), 0);
    char out[4300];
    snprintf(out, sizeof out, "%s.olmoe.trit", src);
    cvt_opts o;
    memset(&o, 0, sizeof o);
    o.overwrite = 1;
    cvt_report rep;
    CHECK_OK_E(cvt_convert(src, out, &o, &rep, &err), &err);
    cvt_report_free(&rep);
    trit_reader *r = NULL;
    CHECK_OK_E(trit_reader_open(out, NULL, &r, &err), &err);
    if (!r) return;
    int64_t const k = trit_kvset_find(trit_reader_kv(r), "model.norm_eps");
    double eps = 0;
    CHECK(k >= 0 && trit_kvset_f64(trit_reader_kv(r), (uint32_t)k, &eps) == TRIT_OK);
    CHECK(eps > 0.99e-5 && eps < 1.01e-5);
    trit_reader_close(r);
}

/* ---- GGUF ----------------------------------------------------------------------------------- */

static void put_u32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static void put_u64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }

/* One KV record: key, type, value bytes. */
static size_t kv_rec(uint8_t *p, const char *key, uint32_t type, const void *val, size_t vn)
{
    size_t const kn = strlen(key);
    put_u64(p, kn);
    memcpy(p + 8, key, kn);
    put_u32(p + 8 + kn, type);
    memcpy(p + 12 + kn, val, vn);
    return 12 + kn + vn;
}

/* Insert KV key = val (a GGUF string when str, else an f32) right after the header of the GGUF
 * at path, with a general.* padding string sized so the data section keeps its 32-byte
 * alignment (tensor offsets are relative to it). 0 on success. */
static int gguf_add_kv(const char *path, const char *key, const char *str, float f32)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long const n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *old = malloc((size_t)n), *add = calloc(1, 4096);
    if (!old || !add || fread(old, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        free(old);
        free(add);
        return -1;
    }
    fclose(f);
    size_t a = 0;
    if (str) {
        uint8_t v[256];
        put_u64(v, strlen(str));
        memcpy(v + 8, str, strlen(str));
        a += kv_rec(add + a, key, 8, v, 8 + strlen(str));
    } else {
        uint8_t v[4];
        memcpy(v, &f32, 4);
        a += kv_rec(add + a, key, 6, v, 4);
    }
    static const char pad_key[] = "general.zz_pad";
    size_t const base = 12 + strlen(pad_key) + 8;   /* record with an empty string */
    size_t padn = (32 - (a + base) % 32) % 32;
    uint8_t v[64];
    put_u64(v, padn);
    memset(v + 8, ' ', padn);
    a += kv_rec(add + a, pad_key, 8, v, 8 + padn);
    uint64_t nkv = 0;
    for (int i = 0; i < 8; i++) nkv |= (uint64_t)old[16 + i] << (8 * i);
    put_u64(old + 16, nkv + 2);
    f = fopen(path, "wb");
    int ok = f && fwrite(old, 1, 24, f) == 24 && fwrite(add, 1, a, f) == a &&
             fwrite(old + 24, 1, (size_t)n - 24, f) == (size_t)n - 24;
    if (f && fclose(f) != 0) ok = 0;
    free(old);
    free(add);
    return ok ? 0 : -1;
}

static void gguf_refuses(gen_layout l, const char *tag, const char *key, const char *str, float f32, const char *named)
{
    char src[4096];
    if (test_gen(l, tag, src, sizeof src)) return;
    trit_err err;
    if (convert(src, &err) != TRIT_OK) test_fail_(__FILE__, __LINE__, "%s: control does not convert: %s", tag, err.msg);
    if (gguf_add_kv(src, key, str, f32) != 0) {
        test_fail_(__FILE__, __LINE__, "%s: cannot patch the GGUF", tag);
        return;
    }
    int const rc = convert(src, &err);
    if (rc != TRIT_E_UNSUPPORTED || !strstr(err.msg, named))
        test_fail_(__FILE__, __LINE__, "%s: %s: code %d, message '%s' (want UNSUPPORTED naming '%s')", tag, key, rc,
                   err.msg, named);
}

TEST(convert_keys_refused_per_family_gguf)
{
    /* the padding KV alone changes nothing: inert general.* keys convert */
    char src[4096];
    if (test_gen(GEN_LAYOUT_GGUF, "kg-inert", src, sizeof src)) return;
    CHECK_EQ_INT(gguf_add_kv(src, "general.source.url", "https://example.invalid/model", 0), 0);
    trit_err err;
    CHECK_OK_E(convert(src, &err), &err);

    gguf_refuses(GEN_LAYOUT_GGUF, "kg-bitnet-rope", "bitnet.rope.scaling.type", "yarn", 0, "rope.scaling.type");
    gguf_refuses(GEN_LAYOUT_GGUF_MOE, "kg-moe-window", "qwen3moe.attention.sliding_window", NULL, 128.0f,
                 "attention.sliding_window");
    gguf_refuses(GEN_LAYOUT_GGUF_MOE, "kg-moe-unknown", "qwen3moe.attention.temperature_scale", NULL, 2.0f,
                 "temperature_scale");
    gguf_refuses(GEN_LAYOUT_GGUF_MOE, "kg-moe-factor", "qwen3moe.rope.scaling.factor", NULL, 4.0f, "rope.scaling.factor");
    /* values the reader could not use used to fall back silently: a gating function that is not
     * an integer 1 or 2 (was: softmax), a hidden_act the runner does not compute */
    gguf_refuses(GEN_LAYOUT_GGUF_MOE, "kg-moe-gating", "qwen3moe.expert_gating_func", NULL, 3.0f, "expert_gating_func");
    gguf_refuses(GEN_LAYOUT_GGUF, "kg-bitnet-act", "bitnet.hidden_act", "gelu_new", 0, "hidden_act");
}
