/* test_run_stories.c - agreement with an implementation we did not write: stories260K.gguf
 * (llama.cpp's tiny llama, all F32) turned into a .trit by a small loader written here (the
 * real converter is convert/'s job), run on the float path, compared with llama.cpp's logits
 * in ref-logits/stories260K.logits.json.
 *
 * The loader maps GGUF llama keys to spec 10.1 keys, keeps the canonical tensor names, and
 * un-permutes attn_q/attn_k rows: llama.cpp's converter permuted them for its interleaved
 * RoPE (formats.md 1.10); the container and the runner use the neox layout. The GGUF
 * tokenizer keys travel as a kind-3 section so --prompt works on it too. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>

#include "src_gguf.h"
#include "run.h"
#include "test.h"
#include "test_run_util.h"

static int kv_u(const src_gguf *g, const char *key, uint64_t def, uint64_t *out)
{
    int64_t const i = src_gguf_find_kv(g, key);
    *out = def;
    return i < 0 ? TRIT_OK : src_gguf_kv_u64(g, (uint64_t)i, out);
}

static int kv_f(const src_gguf *g, const char *key, double def, double *out)
{
    int64_t const i = src_gguf_find_kv(g, key);
    *out = def;
    return i < 0 ? TRIT_OK : src_gguf_kv_f64(g, (uint64_t)i, out);
}

/* GGUF tokenizer.* keys into a kind-3 section buffer. */
static int tokenizer_section(const src_gguf *g, trit_kvbuf *b, trit_err *err)
{
    int64_t const it = src_gguf_find_kv(g, "tokenizer.ggml.tokens");
    int64_t const is = src_gguf_find_kv(g, "tokenizer.ggml.scores");
    int64_t const ty = src_gguf_find_kv(g, "tokenizer.ggml.token_type");
    int64_t const im = src_gguf_find_kv(g, "tokenizer.ggml.model");
    if (it < 0 || is < 0 || ty < 0 || im < 0) return trit_err_set(err, TRIT_E_NOTFOUND, TRIT_NO_OFFSET, NULL, "tokenizer keys");
    uint64_t n = 0;
    src_gguf_kv_type(g, (uint64_t)it, NULL, &n);
    const char **strs = calloc(n, sizeof *strs);
    uint64_t *lens = calloc(n, sizeof *lens);
    float *scores = calloc(n, sizeof *scores);
    int32_t *types = calloc(n, sizeof *types);
    int rc = TRIT_OK;
    for (uint64_t i = 0; i < n && rc == TRIT_OK; i++) {
        double f = 0;
        int64_t v = 0;
        rc = src_gguf_kv_arr_str(g, (uint64_t)it, i, &strs[i], &lens[i]);
        if (!rc) rc = src_gguf_kv_arr_f64(g, (uint64_t)is, i, &f);
        if (!rc) rc = src_gguf_kv_arr_i64(g, (uint64_t)ty, i, &v);
        scores[i] = (float)f;
        types[i] = (int32_t)v;
    }
    const char *model;
    uint64_t mn;
    if (!rc) rc = src_gguf_kv_str(g, (uint64_t)im, &model, &mn);
    if (!rc) rc = trit_kvbuf_str(b, "tokenizer.ggml.model", model, mn, err);
    if (!rc) rc = trit_kvbuf_arr_str(b, "tokenizer.ggml.tokens", strs, lens, n, err);
    if (!rc) rc = trit_kvbuf_arr(b, "tokenizer.ggml.scores", TRIT_KV_F32, scores, n, err);
    if (!rc) rc = trit_kvbuf_arr(b, "tokenizer.ggml.token_type", TRIT_KV_I32, types, n, err);
    static const char *const ids[] = {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "tokenizer.ggml.unknown_token_id"};
    for (int k = 0; k < 3 && rc == TRIT_OK; k++) {
        uint64_t v;
        int64_t const i = src_gguf_find_kv(g, ids[k]);
        if (i >= 0 && src_gguf_kv_u64(g, (uint64_t)i, &v) == TRIT_OK) rc = trit_kvbuf_u32(b, ids[k], (uint32_t)v, err);
    }
    free(strs);
    free(lens);
    free(scores);
    free(types);
    return rc;
}

/* stories260K.gguf -> .trit with canonical names, spec 10.1 keys, neox Q/K. */
static int stories_to_trit(const char *src, const char *dst, trit_err *err)
{
    src_gguf *g = NULL;
    int rc = src_gguf_open(src, NULL, &g, err);
    if (rc) return rc;
    uint64_t n_layer, n_embd, n_ff, n_head, n_head_kv, rope_dim, n_ctx;
    double eps, theta;
    kv_u(g, "llama.block_count", 0, &n_layer);
    kv_u(g, "llama.embedding_length", 0, &n_embd);
    kv_u(g, "llama.feed_forward_length", 0, &n_ff);
    kv_u(g, "llama.attention.head_count", 0, &n_head);
    kv_u(g, "llama.attention.head_count_kv", n_head, &n_head_kv);
    kv_u(g, "llama.context_length", 0, &n_ctx);
    kv_f(g, "llama.attention.layer_norm_rms_epsilon", 1e-5, &eps);
    kv_f(g, "llama.rope.freq_base", 10000.0, &theta);
    uint64_t const head_dim = n_embd / n_head;
    kv_u(g, "llama.rope.dimension_count", head_dim, &rope_dim);
    int64_t const te = src_gguf_find_tensor(g, "token_embd.weight");
    uint64_t const n_vocab = te >= 0 ? src_gguf_tensor(g, (uint64_t)te)->ne[1] : 0;
    trit_write_opts wo = {0};
    wo.overwrite = 1;
    trit_writer *w = NULL;
    trit_kvbuf *kb = trit_kvbuf_new();
    uint64_t const nt = src_gguf_n_tensors(g);
    uint32_t *ids = calloc(nt, sizeof *ids);
    if ((rc = trit_writer_open(dst, &wo, &w, err))) goto out;
#define T(x) do { if (rc == TRIT_OK) rc = (x); } while (0)
    T(trit_writer_kv_str(w, "general.architecture", "llama", 5, err));
    T(trit_writer_kv_u32(w, "model.n_layer", (uint32_t)n_layer, err));
    T(trit_writer_kv_u32(w, "model.n_embd", (uint32_t)n_embd, err));
    T(trit_writer_kv_u32(w, "model.n_ff", (uint32_t)n_ff, err));
    T(trit_writer_kv_u32(w, "model.n_head", (uint32_t)n_head, err));
    T(trit_writer_kv_u32(w, "model.n_head_kv", (uint32_t)n_head_kv, err));
    T(trit_writer_kv_u32(w, "model.head_dim", (uint32_t)head_dim, err));
    T(trit_writer_kv_u32(w, "model.n_vocab", (uint32_t)n_vocab, err));
    T(trit_writer_kv_u32(w, "model.n_ctx", (uint32_t)n_ctx, err));
    T(trit_writer_kv_f32(w, "model.norm_eps", (float)eps, err));
    T(trit_writer_kv_f32(w, "model.rope_theta", (float)theta, err));
    T(trit_writer_kv_u32(w, "model.rope_dim", (uint32_t)rope_dim, err));
    T(trit_writer_kv_str(w, "model.rope_layout", "neox", 4, err));
    T(trit_writer_kv_str(w, "model.hidden_act", "silu", 4, err));
    T(trit_writer_kv_bool(w, "model.tied_embeddings", src_gguf_find_tensor(g, "output.weight") < 0, err));
    T(trit_writer_kv_u32(w, "model.bos_token_id", 1, err));
    T(trit_writer_kv_u32(w, "model.eos_token_id", 2, err));
    T(trit_writer_kv_str(w, "tokenizer.kind", "gguf", 4, err));
    uint32_t sec = 0;
    T(tokenizer_section(g, kb, err));
    T(trit_writer_add_section(w, "tokenizer.gguf", TRIT_SECTION_TOKENIZER_KV, &sec, err));
    for (uint64_t i = 0; i < nt && rc == TRIT_OK; i++) {
        src_gguf_tensor_info const *gi = src_gguf_tensor(g, i);
        trit_tensor_info ti;
        memset(&ti, 0, sizeof ti);
        ti.name = gi->name;
        ti.type = TRIT_TYPE_F32;
        ti.n_dims = gi->n_dims;
        for (uint32_t d = 0; d < gi->n_dims; d++) ti.dims[d] = gi->ne[gi->n_dims - 1 - d];
        ti.layer = TRIT_NONE32;
        ti.unit = TRIT_NONE32;
        trit_type_geometry(ti.type, &ti.block_elems, &ti.block_bytes);
        T(trit_tensor_layout(&ti, err));
        T(trit_writer_add_tensor(w, &ti, &ids[i], err));
    }
    for (uint64_t i = 0; i < nt && rc == TRIT_OK; i++) {
        src_gguf_tensor_info const *gi = src_gguf_tensor(g, i);
        float *v = malloc(sizeof *v * gi->n_elems), *o = malloc(sizeof *o * gi->n_elems);
        T(src_gguf_to_f32(g, i, 0, gi->n_elems, v, err));
        memcpy(o, v, sizeof *v * gi->n_elems);
        int const q = strstr(gi->name, "attn_q.weight") != NULL, k = strstr(gi->name, "attn_k.weight") != NULL;
        if (rc == TRIT_OK && (q || k)) {
            /* rows of head h: permuted row 2*i + j holds original row j*(hd/2) + i */
            uint64_t const cols = gi->ne[0], rows = gi->ne[1], heads = q ? n_head : n_head_kv, hd = rows / heads;
            for (uint64_t h = 0; h < heads; h++)
                for (uint64_t i2 = 0; i2 < hd / 2; i2++)
                    for (uint64_t j = 0; j < 2; j++)
                        memcpy(o + (h * hd + j * (hd / 2) + i2) * cols, v + (h * hd + 2 * i2 + j) * cols, sizeof *o * cols);
        }
        T(trit_writer_write_tensor(w, ids[i], o, sizeof *o * gi->n_elems, err));
        free(v);
        free(o);
    }
    const void *kd;
    uint64_t kl;
    T(trit_kvbuf_data(kb, &kd, &kl, err));
    T(trit_writer_write_section(w, sec, kd, kl, err));
#undef T
    if (rc == TRIT_OK) rc = trit_writer_finish(w, err);
    else trit_writer_abort(w);
out:
    trit_kvbuf_free(kb);
    free(ids);
    src_gguf_close(g);
    return rc;
}

/* Index of the k-th largest of the 512 reference logits. */
static uint32_t top5_ref(const float *x, uint32_t k)
{
    uint32_t idx[5];
    for (uint32_t j = 0; j <= k; j++) {
        uint32_t best = UINT32_MAX;
        for (uint32_t i = 0; i < 512; i++) {
            int used = 0;
            for (uint32_t m = 0; m < j; m++) used |= idx[m] == i;
            if (!used && (best == UINT32_MAX || x[i] > x[best])) best = i;
        }
        idx[j] = best;
    }
    return idx[k];
}

/* Build the .trit once per run; NULL (test skipped) without fixtures. */
static const char *stories_trit(void)
{
    static char path[4096];
    static int done;
    const char *fx = test_fixtures();
    if (!fx) return NULL;
    if (!done) {
        snprintf(path, sizeof path, "%s", test_path(test_tmpdir(), "stories260K.trit"));
        trit_err err;
        CHECK_OK_E(stories_to_trit(test_path(fx, "gguf/stories260K.gguf"), path, &err), &err);
        done = 1;
    }
    return path;
}

TEST(run_stories260k_matches_llamacpp)
{
    const char *trit = stories_trit();
    if (!trit) SKIP("fixtures absent");
    size_t n = 0;
    char *js = (char *)test_read_file(test_path(test_fixtures(), "ref-logits/stories260K.logits.json"), &n);
    if (!js) SKIP("ref-logits/stories260K.logits.json absent");
    cJSON *j = cJSON_ParseWithLength(js, n);
    free(js);
    CHECK(j != NULL);
    if (!j) return;
    cJSON const *jt = cJSON_GetObjectItem(j, "tokens"), *jl = cJSON_GetObjectItem(j, "logits");
    uint32_t tok[16], nt = 0;
    for (cJSON const *e = jt ? jt->child : NULL; e && nt < 16; e = e->next) tok[nt++] = (uint32_t)e->valuedouble;
    float ref[512], got[512];
    uint32_t nv = 0;
    for (cJSON const *e = jl ? jl->child : NULL; e && nv < 512; e = e->next) ref[nv++] = (float)e->valuedouble;
    cJSON_Delete(j);
    CHECK_EQ_U64(nt, 5);
    CHECK_EQ_U64(nv, 512);
    trit_err err;
    for (uint32_t kernel = RUN_KERNEL_AUTO; kernel <= RUN_KERNEL_REF; kernel++) {
        CHECK_OK_E(trm_run_logits(trit, tok, nt, 2, kernel, 0, RUN_POLICY_DEFAULT, 0, got, &err), &err);
        double const d = trm_max_diff(ref, got, 512);
        uint32_t best = 0;
        for (uint32_t i = 1; i < 512; i++) best = got[i] > got[best] ? i : best;
        fprintf(stderr, "  stories260K vs llama.cpp (%s kernels): max |diff| %.3g over 512 logits, argmax %u (llama.cpp 432)\n",
                kernel == RUN_KERNEL_REF ? "reference" : "best", d, best);
        CHECK_EQ_U64(best, 432);
        /* llama.cpp keeps K/V in f16 and runs flash attention with an f16 V sum; the runner
         * computes in f32, so about 1e-3 relative is expected (observed 0.0076 on logits up
         * to 17.8). The top-5 must be the same tokens. */
        if (!(d < 0.02)) test_fail_(__FILE__, __LINE__, "max |diff| %g", d);
        for (uint32_t k = 0; k < 5; k++) {
            uint32_t const id = top5_ref(ref, k);
            uint32_t n_above = 0;
            for (uint32_t i = 0; i < 512; i++) n_above += got[i] > got[id];
            CHECK(n_above < 5);  /* llama.cpp's k-th best token is within our top 5 */
        }
    }
    /* the same through the naive reference of the tests, with an f32 and an f16 KV cache */
    CHECK_OK_E(trm_ref_logits(trit, tok, nt, got, &err), &err);
    double const d32 = trm_max_diff(ref, got, 512);
    trm_ref_kv_f16 = 1;
    CHECK_OK_E(trm_ref_logits(trit, tok, nt, got, &err), &err);
    double const d16 = trm_max_diff(ref, got, 512);
    trm_ref_kv_f16 = 2;
    CHECK_OK_E(trm_ref_logits(trit, tok, nt, got, &err), &err);
    double const dfa = trm_max_diff(ref, got, 512);
    trm_ref_kv_f16 = 0;
    fprintf(stderr, "  naive reference vs llama.cpp: KV f32 %.3g, KV f16 %.3g, KV f16 + flash attention %.3g\n", d32, d16, dfa);
    /* emulating llama.cpp's f16 attention explains most of the difference */
    CHECK(dfa < d32 / 3);
}

/* --prompt end to end: the tokenizer section (SentencePiece), generation and detokenized text. */
TEST(run_stories260k_prompt_cli)
{
    const char *trit = stories_trit();
    if (!trit) SKIP("fixtures absent");
    const char *e = getenv("TRIT_RUN");
    const char *bin = e && *e ? e : "build/trit-run";
    if (access(bin, X_OK) != 0) SKIP("trit-run not built");
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s --prompt 'Once upon a time' -n 12 %s 2>&1", bin, trit);
    char *out = NULL;
    int const rc = test_run(cmd, &out);
    if (out && strstr(out, "tokenizer not available")) {
        free(out);
        SKIP("built without the tokenizer");
    }
    CHECK_EQ_INT(rc, 0);
    CHECK(out && strncmp(out, "Once upon a time", 16) == 0 && strlen(out) > 30);
    free(out);
    /* the greedy continuation of llama.cpp's reference tokens starts with its argmax, 432 */
    snprintf(cmd, sizeof cmd, "%s --tokens 1,403,407,261,378 -n 1 %s", bin, trit);
    out = NULL;
    CHECK_EQ_INT(test_run(cmd, &out), 0);
    CHECK(out && strncmp(out, "432", 3) == 0);
    free(out);
}
