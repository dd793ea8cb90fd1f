/* test_gptoss.c - gpt-oss through the CLI and the source view (issue 17): MXFP4 decoding (HF
 * nibble order against ggml's, written here independently from transformers' FP4_VALUES and
 * convert_moe_packed_tensors; E8M0 255 refused as NaN), the release layout (trit-gen gpt-oss) and
 * its GGUF twin (trit-gen gguf-gpt-oss, as llama.cpp's converter writes it) converting to the same
 * tensors and, with the same YaRN rounding, the same logits bit for bit; each key value the runner
 * does not compute refused by name, from config.json and from GGUF; export refused by name. The
 * forward pass is checked against modeling_gpt_oss.py in test_gptoss_ref.c and against llama.cpp
 * in tools/conformance/gptoss.sh. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>

#include "gen/gen.h"
#include "src.h"
#include "src_ggml_types.h"
#include "src_gguf.h"
#include "src_mxfp4.h"
#include "src_safetensors.h"
#include "test.h"
#include "test_config_edit.h"
#include "trit.h"

#define cli(out, fmt, ...) test_runf(out, "'%s' " fmt " 2>&1", test_trit_bin(), __VA_ARGS__)

static int gptoss_src(gen_layout l, const char *name, const char *const *edit, int f32, char *path, size_t cap)
{
    gen_opts o;
    gen_opts_default(&o, l);
    o.overwrite = 1;
    o.f32 = f32;
    snprintf(path, cap, "%s/%s", test_tmpdir(), name);
    trit_err err;
    if (gen_write(&o, path, &err)) {
        test_fail_(__FILE__, __LINE__, "trit-gen: %s", err.msg);
        return -1;
    }
    for (; edit && edit[0]; edit += 2)
        if (test_config_set(path, edit[0], edit[1])) {
            test_fail_(__FILE__, __LINE__, "%s: cannot set %s", name, edit[0]);
            return -1;
        }
    return 0;
}

/* transformers' FP4_VALUES and convert_moe_packed_tensors for one HF block: element 2j from the
 * low nibble of byte j, 2j + 1 from the high one, times 2^(scale - 127). */
static void hf_decode(const uint8_t blk[16], uint8_t scale, float out[32])
{
    static const float fp4[16] = {+0.0f, +0.5f, +1.0f, +1.5f, +2.0f, +3.0f, +4.0f, +6.0f,
                                  -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f};
    for (int j = 0; j < 16; j++) {
        out[2 * j] = ldexpf(fp4[blk[j] & 15], (int)scale - 127);
        out[2 * j + 1] = ldexpf(fp4[blk[j] >> 4], (int)scale - 127);
    }
}

TEST(gptoss_mxfp4_decode)
{
    /* every nibble value at every position, scales across the E8M0 range (0 and 254 included) */
    uint64_t s = 0x243f6a8885a308d3ull;
    for (int k = 0; k < 600; k++) {
        uint8_t hf[16], g[SRC_MXFP4_BYTES];
        for (int j = 0; j < 16; j++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            hf[j] = (uint8_t)(s >> 56);
        }
        uint8_t const sc = (uint8_t)(k < 255 ? k : k % 255);
        float want[32], got[32], via[32];
        hf_decode(hf, sc, want);
        src_mxfp4_hf_to_ggml(hf, sc, g);
        trit_err err;
        CHECK_OK_E(src_mxfp4_dequant(g, 1, got, &err), &err);
        CHECK_OK_E(src_ggml_dequant(SRC_GGML_MXFP4, g, 1, via, &err), &err);
        CHECK(memcmp(want, got, sizeof want) == 0);
        CHECK(memcmp(want, via, sizeof want) == 0);
        /* ggml's layout itself: element j low nibble of qs[j], j + 16 its high nibble */
        for (int j = 0; j < 16; j++) {
            CHECK(got[j] == ldexpf(src_mxfp4_e2m1(g[1 + j] & 15u), (int)sc - 127));
            CHECK(got[j + 16] == ldexpf(src_mxfp4_e2m1(g[1 + j] >> 4), (int)sc - 127));
        }
    }
    /* the ggml type table states MXFP4's geometry: id 39, 32 elements in 17 bytes */
    const src_ggml_type *t = src_ggml_type_get(39);
    CHECK(t && !strcmp(t->name, "MXFP4") && t->blck == 32 && t->type_size == 17 && t->can_decode);
    /* E8M0 255 is NaN: refused, naming the block */
    uint8_t bad[2 * SRC_MXFP4_BYTES] = {0};
    bad[SRC_MXFP4_BYTES] = 255;
    float out[64];
    trit_err err;
    trit_err_clear(&err);
    CHECK_EQ_INT(src_mxfp4_dequant(bad, 2, out, &err), TRIT_E_CORRUPT);
    CHECK(strstr(err.msg, "255") && strstr(err.msg, "block 1"));
}

/* The generated release layout through the unified source view: each blocks/scales pair is one
 * MXFP4 tensor [E, rows, cols] under the blocks' name (scales consumed), whose floats are the
 * generator's values and whose raw bytes are ggml blocks of the same values. */
TEST(gptoss_source_view)
{
    char dir[4096];
    if (gptoss_src(GEN_LAYOUT_GPT_OSS, "go-view", NULL, 0, dir, sizeof dir)) return;
    gen_opts o;
    gen_opts_default(&o, GEN_LAYOUT_GPT_OSS);
    gen_plan p;
    trit_err err;
    CHECK_OK_E(gen_plan_build(&o, &p, &err), &err);
    struct src_ckpt *sc = NULL;
    CHECK_OK_E(src_open(dir, &sc, &err), &err);
    if (!sc) {
        gen_plan_release(&p);
        return;
    }
    uint32_t n_pairs = 0;
    for (uint32_t i = 0; i < p.n; i++) {
        const gen_tensor *t = &p.t[i];
        int64_t const k = src_find(sc, t->name);
        CHECK(k >= 0);
        if (k < 0) continue;
        const src_tensor *v = src_at(sc, (uint32_t)k);
        if (t->kind == GEN_K_MXFP4_SCALES) {
            CHECK(v->skip);
            continue;
        }
        uint64_t const n = gen_logical_nelems(t);
        CHECK_EQ_U64(v->n_elems, n);
        float *f = malloc(n * sizeof *f);
        if (!f) continue;
        CHECK_OK_E(src_f32(sc, (uint32_t)k, 0, n, f, &err), &err);
        uint64_t bad = 0;
        for (uint64_t e = 0; e < n; e++) bad += f[e] != gen_value(t, e);
        CHECK_EQ_U64(bad, 0);
        if (t->kind == GEN_K_MXFP4) {
            n_pairs++;
            CHECK(!strcmp(v->type, "MXFP4") && v->n_dims == 3 && v->dims[0] == t->shape[0] && v->dims[1] == t->shape[1] &&
                  v->dims[2] == t->shape[2] * 32);
            /* a window of raw ggml bytes from an odd offset decodes to the same values */
            uint64_t const nb = n / 32 * SRC_MXFP4_BYTES;
            uint8_t *raw = malloc(nb);
            float *g = malloc(n * sizeof *g);
            if (raw && g) {
                CHECK_OK_E(src_raw(sc, (uint32_t)k, 5, raw + 5, nb - 5, &err), &err);
                CHECK_OK_E(src_raw(sc, (uint32_t)k, 0, raw, 5, &err), &err);
                CHECK_OK_E(src_mxfp4_dequant(raw, n / 32, g, &err), &err);
                CHECK(memcmp(f, g, n * sizeof *f) == 0);
            }
            free(raw);
            free(g);
        }
        free(f);
    }
    CHECK_EQ_U64(n_pairs, 2 * (uint64_t)o.n_layer);
    src_close(sc);
    gen_plan_release(&p);
}

/* Run `trit run MODEL --tokens SEQ -n 0 --logits OUT`; the logits' bytes (caller frees) or NULL. */
static uint8_t *logits_of(const char *model, const char *seq, const char *out, size_t *n)
{
    char *msg = NULL;
    int const rc = cli(&msg, "run '%s' --tokens %s -n 0 --logits '%s'", model, seq, out);
    if (rc != 0) test_fail_(__FILE__, __LINE__, "run %s: exit %d: %s", model, rc, msg ? msg : "");
    free(msg);
    return rc == 0 ? test_read_file(out, n) : NULL;
}

TEST(gptoss_release_and_gguf_twin)
{
    if (access(test_trit_bin(), X_OK) != 0) SKIP("trit binary not built");
    char hf[4096], hft[4096], tw[4096], hfo[4200], hfto[4200], two[4200], lg[4300], *msg = NULL;
    static const char *const trunc[] = {"rope_scaling.truncate", "true", NULL};
    if (gptoss_src(GEN_LAYOUT_GPT_OSS, "go-rel", NULL, 0, hf, sizeof hf) ||
        gptoss_src(GEN_LAYOUT_GPT_OSS, "go-rel-trunc", trunc, 0, hft, sizeof hft) ||
        gptoss_src(GEN_LAYOUT_GGUF_GPT_OSS, "go-twin.gguf", NULL, 0, tw, sizeof tw))
        return;
    snprintf(hfo, sizeof hfo, "%s.trit", hf);
    snprintf(hfto, sizeof hfto, "%s.trit", hft);
    snprintf(two, sizeof two, "%s.trit", tw);
    const char *const src[3] = {hf, hft, tw}, *const dst[3] = {hfo, hfto, two};
    for (int i = 0; i < 3; i++) {
        int rc = cli(&msg, "convert -q -f '%s' -o '%s'", src[i], dst[i]);
        if (rc != 0) test_fail_(__FILE__, __LINE__, "convert %s: exit %d: %s", src[i], rc, msg ? msg : "");
        free(msg);
        msg = NULL;
        rc = cli(&msg, "verify '%s'", dst[i]);
        if (rc != 0) test_fail_(__FILE__, __LINE__, "verify %s: exit %d: %s", dst[i], rc, msg ? msg : "");
        free(msg);
        msg = NULL;
    }
    /* the description the runner computes from */
    CHECK_EQ_INT(test_runf(&msg, "'%s' inspect --json '%s'", test_trit_bin(), hfo), 0);
    CHECK(msg && strstr(msg, "\"model.hidden_act\":\t\"swiglu_oai\"") && strstr(msg, "\"model.swiglu_limit\":\t7") &&
          strstr(msg, "\"model.sliding_window\":\t4") && strstr(msg, "\"model.swa_period\":\t2") &&
          strstr(msg, "\"model.rope_scaling\":\t\"yarn\"") && strstr(msg, "\"model.yarn_truncate\":\tfalse") &&
          strstr(msg, "\"moe.norm_topk\":\ttrue"));
    free(msg);
    msg = NULL;
    /* the same tensors from both sources (the GGUF's F32 biases hold the release's BF16 values) */
    cli(&msg, "diff '%s' '%s'", hfto, two);
    CHECK(msg && strstr(msg, "59 tensors: 59 same, 0 differ, 0 shape, 0 only in a, 0 only in b"));
    free(msg);
    msg = NULL;
    static const char *const seqs[] = {"1", "1,2,3", "5,6,7,8,9,10,11,12", "100,3,250,77,42,42,42,42,9,99,199,300,301,302,303,304"};
    for (size_t q = 0; q < sizeof seqs / sizeof seqs[0]; q++) {
        size_t na = 0, nb = 0, nc = 0;
        snprintf(lg, sizeof lg, "%s.%zu.a", hf, q);
        uint8_t *a = logits_of(hfto, seqs[q], lg, &na);
        snprintf(lg, sizeof lg, "%s.%zu.b", hf, q);
        uint8_t *b = logits_of(two, seqs[q], lg, &nb);
        snprintf(lg, sizeof lg, "%s.%zu.c", hf, q);
        uint8_t *c = logits_of(hfo, seqs[q], lg, &nc);
        /* with the same YaRN rounding the release and its twin are one model, bit for bit */
        if (!a || !b || na != nb || na == 0 || memcmp(a, b, na) != 0)
            test_fail_(__FILE__, __LINE__, "sequence %s: the release (truncate true) and its GGUF twin give other logits", seqs[q]);
        /* the release's truncate false moves the rotary frequencies, so positions past 0 differ */
        if (q > 0 && c && b && nc == nb && memcmp(c, b, nc) == 0)
            test_fail_(__FILE__, __LINE__, "sequence %s: yarn truncate false changed nothing", seqs[q]);
        free(a);
        free(b);
        free(c);
    }
}

/* Every expert member of container path is mxfp4 and holds the GGUF twin's blocks of that
 * expert bit for bit: the release's gate/up are its interleaved stack's even/odd rows copied,
 * not decoded to F32 (which a float fallback would do). Returns the members checked. */
static uint32_t members_are_twin_blocks(const char *path, const char *twin)
{
    trit_err err;
    trit_reader *r = NULL;
    src_gguf *g = NULL;
    uint32_t n_ok = 0;
    CHECK_OK_E(trit_reader_open(path, NULL, &r, &err), &err);
    CHECK_OK_E(src_gguf_open(twin, NULL, &g, &err), &err);
    for (uint32_t u = 0; r && g && u < trit_reader_n_units(r); u++) {
        void *buf = NULL;
        uint64_t size = 0, nm = 0;
        uint32_t n = 0;
        const uint32_t *m = trit_reader_unit_members(r, u, &n);
        CHECK_OK_E(trit_reader_unit_load(r, u, &buf, &size, &err), &err);
        for (uint32_t k = 0; buf && k < n; k++) {
            const trit_tensor_info *t = trit_reader_tensor(r, m[k]);
            unsigned L = 0, e = 0;
            char which[8] = "", gname[64];
            if (t->type != TRIT_TYPE_MXFP4 || sscanf(t->name, "blk.%u.ffn_%4[a-z].%u.weight", &L, which, &e) != 3) {
                test_fail_(__FILE__, __LINE__, "%s: expert member %s is %s, not mxfp4", path, t->name, trit_type_name(t->type));
                continue;
            }
            snprintf(gname, sizeof gname, "blk.%u.ffn_%s_exps.weight", L, which);
            int64_t const gi = src_gguf_find_tensor(g, gname);
            const src_gguf_tensor_info *gt = gi >= 0 ? src_gguf_tensor(g, (uint64_t)gi) : NULL;
            uint64_t const per = gt && gt->ne[2] ? gt->nbytes / gt->ne[2] : 0;
            uint8_t *want = per == t->size && t->offset + t->size <= size ? malloc((size_t)per) : NULL;
            if (!want) {
                test_fail_(__FILE__, __LINE__, "%s: %s has %llu bytes, the twin's %s expert %u has %llu", path, t->name,
                           (unsigned long long)t->size, gname, e, (unsigned long long)per);
                continue;
            }
            CHECK_OK_E(src_gguf_read(g, (uint64_t)gi, e * per, want, per, &err), &err);
            if (memcmp(want, (const uint8_t *)buf + t->offset, (size_t)per) != 0)
                test_fail_(__FILE__, __LINE__, "%s: %s is not the twin's %s expert %u bit for bit", path, t->name, gname, e);
            else
                n_ok++;
            nm++;
            free(want);
        }
        CHECK_EQ_U64(nm, 3);   /* gate, up and down in every unit */
        trit_free(buf);
    }
    src_gguf_close(g);
    trit_reader_close(r);
    return n_ok;
}

TEST(gptoss_experts_stay_mxfp4)
{
    if (access(test_trit_bin(), X_OK) != 0) SKIP("trit binary not built");
    char hf[4096], tw[4096], hfo[4200], two[4200], *msg = NULL;
    if (gptoss_src(GEN_LAYOUT_GPT_OSS, "go-blk", NULL, 0, hf, sizeof hf) ||
        gptoss_src(GEN_LAYOUT_GGUF_GPT_OSS, "go-blk.gguf", NULL, 0, tw, sizeof tw))
        return;
    snprintf(hfo, sizeof hfo, "%s.trit", hf);
    snprintf(two, sizeof two, "%s.trit", tw);
    const char *const src[2] = {hf, tw}, *const dst[2] = {hfo, two};
    for (int i = 0; i < 2; i++) {
        int const rc = cli(&msg, "convert -q -f '%s' -o '%s'", src[i], dst[i]);
        if (rc != 0) test_fail_(__FILE__, __LINE__, "convert %s: exit %d: %s", src[i], rc, msg ? msg : "");
        free(msg);
        msg = NULL;
        /* 2 layers x 4 experts x (gate, up, down), the trit-gen defaults */
        CHECK_EQ_U64(members_are_twin_blocks(dst[i], tw), 2 * 4 * 3);
    }
    /* and the two containers' units are the same bytes (stored the same way) */
    cli(&msg, "diff '%s' '%s'", hfo, two);
    CHECK(msg && strstr(msg, "59 tensors: 59 same, 0 differ"));
    free(msg);
}

/* inspect --stats of the container's MXFP4 members against the generator's own values (the
 * release's expert e: gate = even rows of gate_up, up = odd rows, down as is), and diff of the
 * container against the all-F32 twin's: every tensor the same values, none left uncompared. */
TEST(gptoss_mxfp4_stats_and_diff)
{
    if (access(test_trit_bin(), X_OK) != 0) SKIP("trit binary not built");
    char hf[4096], tw[4096], hfo[4200], two[4200], *msg = NULL;
    if (gptoss_src(GEN_LAYOUT_GPT_OSS, "go-st", NULL, 0, hf, sizeof hf) ||
        gptoss_src(GEN_LAYOUT_GGUF_GPT_OSS, "go-st32.gguf", NULL, 1, tw, sizeof tw))
        return;
    snprintf(hfo, sizeof hfo, "%s.trit", hf);
    snprintf(two, sizeof two, "%s.trit", tw);
    CHECK_EQ_INT(cli(&msg, "convert -q -f '%s' -o '%s'", hf, hfo), 0);
    free(msg);
    CHECK_EQ_INT(cli(&msg, "convert -q -f '%s' -o '%s'", tw, two), 0);
    free(msg);
    msg = NULL;
    CHECK_EQ_INT(test_runf(&msg, "'%s' inspect --stats --json '%s'", test_trit_bin(), hfo), 0);
    cJSON *j = msg ? cJSON_Parse(msg) : NULL;
    free(msg);
    msg = NULL;
    gen_opts o;
    gen_opts_default(&o, GEN_LAYOUT_GPT_OSS);
    gen_plan p;
    trit_err err;
    CHECK_OK_E(gen_plan_build(&o, &p, &err), &err);
    uint32_t n_checked = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(j, "tensors"))
    {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "name"));
        unsigned L = 0, e = 0;
        char which[8] = "", hn[128];
        if (!name || sscanf(name, "blk.%u.ffn_%4[a-z].%u.weight", &L, which, &e) != 3) continue;
        CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "type")), "mxfp4"));
        int const down = !strcmp(which, "down"), half = !strcmp(which, "up");
        snprintf(hn, sizeof hn, "model.layers.%u.mlp.experts.%s_blocks", L, down ? "down_proj" : "gate_up_proj");
        const gen_tensor *g = NULL;
        for (uint32_t i = 0; i < p.n; i++)
            if (!strcmp(p.t[i].name, hn)) g = &p.t[i];
        CHECK(g != NULL);
        if (!g) continue;
        /* the logical [E, R, C] stack: C = blocks x 32 */
        uint64_t const R = g->shape[1], C = g->shape[2] * 32, rows = down ? R : R / 2;
        double mn = INFINITY, mx = -INFINITY, sa = 0;
        uint64_t zeros = 0;
        for (uint64_t r = 0; r < rows; r++)
            for (uint64_t c = 0; c < C; c++) {
                uint64_t const sr = down ? r : 2 * r + (uint64_t)half;
                double const v = gen_value(g, ((uint64_t)e * R + sr) * C + c);
                mn = v < mn ? v : mn;
                mx = v > mx ? v : mx;
                sa += fabs(v);
                zeros += v == 0;
            }
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(t, "stats");
        double const jmin = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(st, "min"));
        double const jmax = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(st, "max"));
        double const jma = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(st, "mean_abs"));
        double const jz = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(st, "zero_fraction"));
        double const n = (double)(rows * C);
        if (jmin != mn || jmax != mx || fabs(jma - sa / n) > 1e-6 * (sa / n) || jz != (double)zeros / n)
            test_fail_(__FILE__, __LINE__, "%s: stats min %g max %g mean|x| %.9g zeros %g, the generator's %g %g %.9g %g", name,
                       jmin, jmax, jma, jz, mn, mx, sa / n, (double)zeros / n);
        else
            n_checked++;
    }
    CHECK_EQ_U64(n_checked, 2 * 4 * 3);
    cJSON_Delete(j);
    gen_plan_release(&p);
    /* the MXFP4 container against the all-F32 one: decoded values compared, nothing skipped */
    cli(&msg, "diff '%s' '%s'", hfo, two);
    CHECK(msg && strstr(msg, "59 tensors: 59 same, 0 differ, 0 shape, 0 only in a, 0 only in b, 0 not compared; 59 stored in another type"));
    free(msg);
}

/* The release directory as inspect and diff see it: each MXFP4 pair one tensor of type MXFP4 and
 * logical shape, the interleaved gate/up stack and its bias split as convert splits them, the
 * description keys as convert writes them: the release, its container and its GGUF twin are
 * one model to `trit diff`. */
TEST(gptoss_hf_view_matches_container)
{
    if (access(test_trit_bin(), X_OK) != 0) SKIP("trit binary not built");
    char hf[4096], tw[4096], hfo[4200], *msg = NULL;
    if (gptoss_src(GEN_LAYOUT_GPT_OSS, "go-view2", NULL, 0, hf, sizeof hf) ||
        gptoss_src(GEN_LAYOUT_GGUF_GPT_OSS, "go-view2.gguf", NULL, 0, tw, sizeof tw))
        return;
    snprintf(hfo, sizeof hfo, "%s.trit", hf);
    CHECK_EQ_INT(cli(&msg, "convert -q -f '%s' -o '%s'", hf, hfo), 0);
    free(msg);
    msg = NULL;
    CHECK_EQ_INT(test_runf(&msg, "'%s' inspect --json '%s'", test_trit_bin(), hf), 0);
    cJSON *j = msg ? cJSON_Parse(msg) : NULL;
    free(msg);
    msg = NULL;
    uint32_t n_mx = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(j, "tensors"))
    {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "name"));
        const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "type"));
        const cJSON *shape = cJSON_GetObjectItemCaseSensitive(t, "shape");
        if (!name || !strstr(name, "_blocks")) continue;
        int const gu = strstr(name, "gate_up_proj") != NULL;
        CHECK(type && !strcmp(type, "MXFP4") && cJSON_GetArraySize(shape) == 3 &&
              cJSON_GetNumberValue(cJSON_GetArrayItem(shape, 0)) == 4 &&
              cJSON_GetNumberValue(cJSON_GetArrayItem(shape, 1)) == (gu ? 128 : 64) &&
              cJSON_GetNumberValue(cJSON_GetArrayItem(shape, 2)) == 64);
        n_mx++;
    }
    CHECK_EQ_U64(n_mx, 4);
    cJSON_Delete(j);
    const char *const pairs[3][2] = {{hf, hfo}, {hfo, hf}, {hf, tw}};
    for (int k = 0; k < 3; k++) {
        int const rc = cli(&msg, "diff '%s' '%s'", pairs[k][0], pairs[k][1]);
        /* the GGUF twin only adds general.name and the tokenizer's bos id: tensors compared */
        if (!msg || !strstr(msg, "59 tensors: 59 same, 0 differ, 0 shape, 0 only in a, 0 only in b, 0 not compared") ||
            (k < 2 && (rc != 0 || !strstr(msg, "metadata: 0 changed, 0 only in a, 0 only in b"))))
            test_fail_(__FILE__, __LINE__, "diff %s %s: exit %d: %s", pairs[k][0], pairs[k][1], rc, msg ? msg : "");
        free(msg);
        msg = NULL;
    }
}

/* A scale of 255 (NaN) in the source: refused naming the tensor, from safetensors and GGUF. */
TEST(gptoss_nan_scale_refused)
{
    if (access(test_trit_bin(), X_OK) != 0) SKIP("trit binary not built");
    char dir[4096], gg[4096], out[4300], file[4300], *msg = NULL;
    if (gptoss_src(GEN_LAYOUT_GPT_OSS, "go-nan", NULL, 0, dir, sizeof dir) ||
        gptoss_src(GEN_LAYOUT_GGUF_GPT_OSS, "go-nan.gguf", NULL, 0, gg, sizeof gg))
        return;
    trit_err err;
    /* safetensors: one scale byte of layer 1's down_proj */
    snprintf(file, sizeof file, "%s/model.safetensors", dir);
    src_st *st = NULL;
    CHECK_OK_E(src_st_open(file, NULL, &st, &err), &err);
    int64_t const si = st ? src_st_find(st, "model.layers.1.mlp.experts.down_proj_scales") : -1;
    uint64_t const soff = si >= 0 ? src_st_tensor_at(st, (uint32_t)si)->offset + 3 : 0;
    src_st_close(st);
    /* GGUF: the scale byte of a block of layer 0's ffn_up_exps */
    src_gguf *g = NULL;
    CHECK_OK_E(src_gguf_open(gg, NULL, &g, &err), &err);
    int64_t const gi = g ? src_gguf_find_tensor(g, "blk.0.ffn_up_exps.weight") : -1;
    uint64_t const goff = gi >= 0 ? src_gguf_tensor(g, (uint64_t)gi)->offset + 17 * 5 : 0;
    src_gguf_close(g);
    CHECK(soff && goff);
    if (!soff || !goff) return;
    const char *const paths[2] = {file, gg}, *const srcs[2] = {dir, gg};
    uint64_t const offs[2] = {soff, goff};
    static const char *const names[2] = {"down_proj_scales", "ffn_up_exps"};
    for (int k = 0; k < 2; k++) {
        size_t n = 0;
        uint8_t *b = test_read_file(paths[k], &n);
        CHECK(b && offs[k] < n);
        if (!b || offs[k] >= n) {
            free(b);
            continue;
        }
        b[offs[k]] = 255;
        CHECK_EQ_INT(test_write_file(paths[k], b, n), 0);
        free(b);
        snprintf(out, sizeof out, "%s.nan%d.trit", dir, k);
        int const rc = cli(&msg, "convert -q -f '%s' -o '%s'", srcs[k], out);
        if (rc != 4 || !msg || !strstr(msg, "255") || !strstr(msg, names[k]))
            test_fail_(__FILE__, __LINE__, "%s: convert exit %d, expected 4 naming the scale 255 and %s: %s", srcs[k], rc, names[k],
                       msg ? msg : "");
        CHECK(access(out, F_OK) != 0);
        free(msg);
        msg = NULL;
    }
}

TEST(gptoss_keys_refused_by_name)
{
    if (access(test_trit_bin(), X_OK) != 0) SKIP("trit binary not built");
    static const struct { const char *key, *val, *named; } cases[] = {
        {"swiglu_limit", "8.0", "swiglu_limit"},                       /* GptOssExperts and llama.cpp clamp at 7 */
        {"experts_per_token", "3", "experts_per_token"},               /* disagrees with num_experts_per_tok */
        {"initial_context_length", "2048", "initial_context_length"},  /* disagrees with yarn's original */
        {"layer_types", "[\"full_attention\", \"sliding_attention\"]", "layer_types"},   /* not llama.cpp's pattern */
        {"layer_types", "[\"sliding_attention\", \"chunked_attention\"]", "layer_types"},
        {"layer_types", "[\"sliding_attention\"]", "layer_types"},     /* one per layer */
        {"sliding_window", "0", "sliding_window"},
        {"sliding_window", NULL, "sliding_window"},                    /* sliding layers without a window */
        {"hidden_act", "\"gelu\"", "hidden_act"},
        {"attention_bias", "\"yes\"", "attention_bias"},
        {"tie_word_embeddings", "true", "tie_word_embeddings"},
        {"quantization_config.quant_method", "\"fp8\"", "quantization_config"},
        {"quantization_config.group_size", "32", "quantization_config.group_size"},
        {"rope_scaling.rope_type", "\"linear\"", "rope_scaling"},
        {"rope_scaling.attention_factor", "1.2", "rope_scaling.attention_factor"},
        {"rope_scaling.mscale", "1.0", "rope_scaling.mscale"},
        {"rope_scaling.truncate", "0", "rope_scaling.truncate"},
        {"rope_scaling.factor", "-32", "rope_scaling.factor"},
        {"rope_scaling.beta_fast", "\"32\"", "rope_scaling.beta_fast"},
        {"partial_rotary_factor", "0.5", "partial_rotary_factor"},
    };
    char dir[4096], out[4200], *msg = NULL;
    if (gptoss_src(GEN_LAYOUT_GPT_OSS, "go-refuse", NULL, 0, dir, sizeof dir)) return;
    snprintf(out, sizeof out, "%s.trit", dir);
    int rc = cli(&msg, "convert -q -f '%s' -o '%s'", dir, out);
    if (rc != 0) test_fail_(__FILE__, __LINE__, "control: convert exit %d: %s", rc, msg ? msg : "");
    free(msg);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "go-refuse-%zu", i);
        const char *const edit[] = {cases[i].key, cases[i].val, NULL};
        if (gptoss_src(GEN_LAYOUT_GPT_OSS, name, edit, 0, dir, sizeof dir)) continue;
        snprintf(out, sizeof out, "%s.trit", dir);
        msg = NULL;
        rc = cli(&msg, "convert -q -f '%s' -o '%s'", dir, out);
        if (rc != 5 || !msg || !strstr(msg, cases[i].named))
            test_fail_(__FILE__, __LINE__, "%s = %s: convert exit %d, expected 5 naming '%s': %s", cases[i].key,
                       cases[i].val ? cases[i].val : "(deleted)", rc, cases[i].named, msg ? msg : "");
        CHECK(access(out, F_OK) != 0);
        free(msg);
    }
}

/* Overwrite the 4-byte value of GGUF key `key` (a u32 or f32 right after its type) in path. */
static int gguf_set_scalar(const char *path, const char *key, const void *val4)
{
    size_t n = 0;
    uint8_t *b = test_read_file(path, &n);
    size_t const k = strlen(key);
    int rc = -1;
    for (size_t i = 8; b && i + k + 8 <= n; i++)
        if (!memcmp(b + i, key, k) && b[i - 8] == (uint8_t)k && b[i - 7] == 0) {
            memcpy(b + i + k + 4, val4, 4);
            rc = test_write_file(path, b, n);
            break;
        }
    free(b);
    return rc;
}

TEST(gptoss_gguf_keys_refused_by_name)
{
    if (access(test_trit_bin(), X_OK) != 0) SKIP("trit binary not built");
    float const beta = 16.0f;
    uint32_t const zero = 0;
    static const char *const keys[] = {"gpt-oss.rope.scaling.yarn_beta_fast", "gpt-oss.attention.sliding_window"};
    const void *const vals[] = {&beta, &zero};
    char gg[4096], out[4200], *msg = NULL;
    for (int i = 0; i < 2; i++) {
        char name[64];
        snprintf(name, sizeof name, "go-grefuse-%d.gguf", i);
        if (gptoss_src(GEN_LAYOUT_GGUF_GPT_OSS, name, NULL, 0, gg, sizeof gg)) return;
        CHECK_EQ_INT(gguf_set_scalar(gg, keys[i], vals[i]), 0);
        snprintf(out, sizeof out, "%s.trit", gg);
        int const rc = cli(&msg, "convert -q -f '%s' -o '%s'", gg, out);
        if (rc != 5 || !msg || !strstr(msg, keys[i]))
            test_fail_(__FILE__, __LINE__, "%s: convert exit %d, expected 5 naming it: %s", keys[i], rc, msg ? msg : "");
        CHECK(access(out, F_OK) != 0);
        free(msg);
        msg = NULL;
    }
}

/* No GGUF writer for gpt-oss yet: export refuses naming the key and the architecture, and writes
 * nothing. */
TEST(gptoss_export_refused)
{
    if (access(test_trit_bin(), X_OK) != 0) SKIP("trit binary not built");
    char dir[4096], out[4200], gg[4300], *msg = NULL;
    if (gptoss_src(GEN_LAYOUT_GPT_OSS, "go-export", NULL, 0, dir, sizeof dir)) return;
    snprintf(out, sizeof out, "%s.trit", dir);
    snprintf(gg, sizeof gg, "%s.gguf", dir);
    CHECK_EQ_INT(cli(&msg, "convert -q -f '%s' -o '%s'", dir, out), 0);
    free(msg);
    msg = NULL;
    int const rc = cli(&msg, "export -q --force '%s' -o '%s'", out, gg);
    if (rc != 5 || !msg || !strstr(msg, "'gpt-oss'") || !strstr(msg, "model.sliding_window"))
        test_fail_(__FILE__, __LINE__, "export exit %d, expected 5 naming 'gpt-oss' and its key: %s", rc, msg ? msg : "");
    CHECK(access(gg, F_OK) != 0);
    free(msg);
}
