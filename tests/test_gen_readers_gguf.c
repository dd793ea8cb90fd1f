/* test_gen_readers_gguf.c - the trit-gen GGUF layouts opened with the project's GGUF reader
 * (source/src_gguf.h): header facts, tensor table, and every weight decoded by
 * src_gguf_to_f32 (TQ1_0, TQ2_0, 3-D experts, F16, F32) equal to the source ternary x scale. */
#include <stdlib.h>
#include <string.h>

#include "src_gguf.h"
#include "gen/gen.h"
#include "test.h"

static void rpath(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", test_tmpdir(), name);
}

static void check_gguf_layout(const gen_opts *o, const char *name)
{
    char path[4096];
    trit_err err;
    rpath(path, sizeof path, name);
    CHECK_OK_E(gen_write(o, path, &err), &err);
    gen_plan p;
    CHECK_OK_E(gen_plan_build(o, &p, &err), &err);
    src_gguf *h = NULL;
    CHECK_OK_E(src_gguf_open(path, NULL, &h, &err), &err);
    if (!h) {
        gen_plan_release(&p);
        return;
    }
    CHECK_EQ_U64(src_gguf_version(h), 3);
    CHECK_EQ_U64(src_gguf_alignment(h), o->gguf_align);
    CHECK_STR(src_gguf_arch(h), o->layout == GEN_LAYOUT_GGUF_MOE ? "qwen3moe" : "bitnet");
    CHECK_EQ_U64(src_gguf_n_tensors(h), p.n);
    int64_t const kt = src_gguf_find_kv(h, "tokenizer.ggml.tokens");
    uint64_t count = 0;
    CHECK(kt >= 0);
    if (kt >= 0) {
        src_gguf_kv_type(h, (uint64_t)kt, NULL, &count);
        CHECK_EQ_U64(count, o->n_vocab);
        const char *s;
        uint64_t n;
        char want[64];
        CHECK_EQ_INT(src_gguf_kv_arr_str(h, (uint64_t)kt, o->n_vocab - 1, &s, &n), TRIT_OK);
        size_t const wl = gen_token(o->n_vocab, o->n_vocab - 1, want, sizeof want);
        CHECK(n == wl && !memcmp(s, want, wl));
    }
    static const char *const tname[] = {"F32", "F16", "BF16", "U8", "TQ1_0", "TQ2_0"};
    float *buf = NULL;
    size_t cap = 0;
    for (uint32_t i = 0; i < p.n; i++) {
        const gen_tensor *t = &p.t[i];
        int64_t const k = src_gguf_find_tensor(h, t->name);
        CHECK(k >= 0);
        if (k < 0) continue;
        const src_gguf_tensor_info *ti = src_gguf_tensor(h, (uint64_t)k);
        CHECK_STR(ti->type_name, tname[t->dtype]);
        CHECK_EQ_U64(ti->n_dims, t->n_dims);
        for (uint32_t d = 0; d < t->n_dims; d++) CHECK_EQ_U64(ti->ne[d], t->shape[t->n_dims - 1 - d]);
        CHECK_EQ_U64(ti->nbytes, t->nbytes);
        uint64_t const n = ti->n_elems;
        if (n > cap) {
            free(buf);
            buf = malloc(n * sizeof *buf);
            cap = buf ? n : 0;
        }
        CHECK(buf != NULL);
        if (!buf) break;
        CHECK_OK_E(src_gguf_to_f32(h, (uint64_t)k, 0, n, buf, &err), &err);
        /* TQ tensors: the decoded weights are the source ternary x scale, exactly. */
        uint64_t bad = 0;
        for (uint64_t e = 0; e < n; e++) bad += buf[e] != gen_value(t, e);
        if (bad) fprintf(stderr, "  %s: %llu values differ\n", t->name, (unsigned long long)bad);
        CHECK_EQ_U64(bad, 0);
    }
    free(buf);
    src_gguf_close(h);
    gen_plan_release(&p);
}

TEST(gen_readers_gguf)
{
    gen_opts o;
    gen_opts_default(&o, GEN_LAYOUT_GGUF);
    o.n_vocab = 270;
    o.n_ff = 256;
    check_gguf_layout(&o, "rd.gguf");
    o.gguf_tq = GEN_TQ_2;
    o.gguf_align = 128;
    o.n_layer = 1;
    check_gguf_layout(&o, "rd-tq2.gguf");
    gen_opts_default(&o, GEN_LAYOUT_GGUF_MOE);
    o.n_vocab = 270;
    o.n_expert = 3;
    check_gguf_layout(&o, "rd-moe.gguf");
}
