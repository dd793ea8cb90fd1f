/* test_convert_speed.c - the fast conversion paths give the container the reference paths give:
 * code-domain sources (TQ1_0/TQ2_0/I2_S/packed U8) against the same source decoded through
 * float (--decode-float), byte for byte, including blocks with negative and unequal scales and
 * codes the float path rejects; and the same bytes at 1, 2, 3 and 8 threads, dense and MoE. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cvt.h"
#include "cvt_ternary.h"
#include "gen/gen.h"
#include "src_gguf.h"
#include "src_ggml_types.h"
#include "test.h"
#include "test_config_edit.h"
#include "test_cvt_gguf_build.h"

/* Convert src to out; returns the rc, fills *n_code with the tensors the code domain encoded. */
static int conv(const char *src, const char *out, uint32_t threads, int decode_float, uint64_t *n_code, trit_err *err)
{
    cvt_opts o;
    memset(&o, 0, sizeof o);
    o.overwrite = 1;
    o.threads = threads;
    o.decode_float = decode_float;
    cvt_report rep;
    int const rc = cvt_convert(src, out, &o, &rep, err);
    if (n_code) *n_code = rc == TRIT_OK ? rep.n_code_domain : 0;
    if (rc == TRIT_OK) cvt_report_free(&rep);
    return rc;
}

static int same_file(const char *a, const char *b)
{
    size_t na = 0, nb = 0;
    uint8_t *pa = test_read_file(a, &na), *pb = test_read_file(b, &nb);
    int const same = pa && pb && na == nb && memcmp(pa, pb, na) == 0;
    free(pa);
    free(pb);
    return same;
}

/* code domain vs float: same bytes, and the code domain really ran (min_code tensors) */
static void code_vs_float(const char *src, uint64_t min_code)
{
    char a[4200], b[4200];
    snprintf(a, sizeof a, "%s.code.trit", src);
    snprintf(b, sizeof b, "%s.float.trit", src);
    trit_err err;
    uint64_t nc = 0, nf = 0;
    CHECK_OK_E(conv(src, a, 2, 0, &nc, &err), &err);
    CHECK_OK_E(conv(src, b, 2, 1, &nf, &err), &err);
    CHECK(nc >= min_code);
    CHECK_EQ_U64(nf, 0);
    if (!same_file(a, b)) test_fail_(__FILE__, __LINE__, "%s: code-domain and float containers differ", src);
}

TEST(convert_code_domain_same_bytes_as_float)
{
    static const struct { gen_layout l; const char *name; uint64_t min_code; } v[] = {
        {GEN_LAYOUT_GGUF, "cs-gguf", 7},                 /* TQ2_0 attention, TQ1_0 FFN */
        {GEN_LAYOUT_GGUF_MOE, "cs-gguf-moe", 7},         /* 3-D TQ expert stacks */
        {GEN_LAYOUT_BITNET, "cs-bitnet", 7},             /* packed U8 x scale (autobitlinear) */
        {GEN_LAYOUT_BITNET_BITLINEAR, "cs-bitlinear", 7},/* packed U8 / scale */
        {GEN_LAYOUT_LLAMA158, "cs-llama158", 7},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char src[4096];
        if (test_gen(v[i].l, v[i].name, src, sizeof src)) return;
        code_vs_float(src, v[i].min_code);
    }
}

static void put_f16(uint8_t *p, float v)
{
    uint16_t const h = trit_f32_to_f16(v);
    p[0] = (uint8_t)h;
    p[1] = (uint8_t)(h >> 8);
}

/* TQ2_0 blocks edited in place: negative scales (codes mirror), unequal scales (row and group
 * layouts), an all-zero block, a zero scale; then a code 3, which both paths must refuse alike. */
TEST(convert_code_domain_edited_blocks)
{
    char src[4096];
    if (test_gen(GEN_LAYOUT_GGUF, "cs-edit", src, sizeof src)) return;
    src_gguf *g = NULL;
    trit_err err;
    CHECK_OK_E(src_gguf_open(src, NULL, &g, &err), &err);
    if (!g) return;
    size_t len = 0;
    uint8_t *f = test_read_file(src, &len);
    int edited = 0, grouped = 0;
    uint64_t code3_at = 0;
    for (uint64_t i = 0; i < src_gguf_n_tensors(g) && f; i++) {
        src_gguf_tensor_info const *t = src_gguf_tensor(g, i);
        if (t->type != SRC_GGML_TQ2_0 && t->type != SRC_GGML_TQ1_0) continue;
        uint64_t const bs = t->type == SRC_GGML_TQ2_0 ? 66 : 54, nb = t->nbytes / bs, per_row = t->ne[0] / 256;
        uint8_t *d = f + t->offset;
        uint8_t *const d0 = d + bs - 2;   /* block 0's f16 scale: the last two bytes of a block */
        float const base = trit_f16_to_f32((uint16_t)(d0[0] | d0[1] << 8));
        if (per_row >= 2 && !grouped) {
            /* every block its own scale: a group layout; a zero-scale block; an all-zero block */
            for (uint64_t b = 0; b < nb; b++) put_f16(d + bs * b + bs - 2, base * (float)(1 + b % 5));
            put_f16(d + bs * 3 + bs - 2, 0.0f);
            if (t->type == SRC_GGML_TQ2_0) memset(d + bs * 5, 0x55, 64);
            else memset(d + bs * 5, 0, 52);   /* base-3 zero bytes: every trit 0, code 0 (-1)... */
            grouped = 1;
            continue;
        }
        if (t->type != SRC_GGML_TQ2_0) continue;
        switch (edited) {
        case 0:   /* every other block negative: same magnitudes, mirrored codes */
            for (uint64_t b = 0; b < nb; b += 2) put_f16(d + 66 * b + 64, -trit_f16_to_f32((uint16_t)(d[66 * b + 64] | d[66 * b + 65] << 8)));
            break;
        case 1:   /* row r scaled by 1 + r % 3: a per-row layout */
            for (uint64_t b = 0; b < nb; b++) put_f16(d + 66 * b + 64, base * (float)(1 + (b / per_row) % 3));
            break;
        case 3:
            code3_at = t->offset + 5;
            break;
        }
        edited++;
    }
    CHECK(grouped);
    src_gguf_close(g);
    CHECK(edited >= 4);
    char e1[4200], e2[4200];
    snprintf(e1, sizeof e1, "%s-edited.gguf", src);
    FILE *o = fopen(e1, "wb");
    CHECK(o && f && fwrite(f, 1, len, o) == len);
    if (o) fclose(o);
    code_vs_float(e1, 7);
    /* the edits reached the layouts: one per-row and one per-group tensor besides per-tensor ones */
    char c1[4300];
    snprintf(c1, sizeof c1, "%s.code.trit", e1);
    trit_reader *r = NULL;
    CHECK_OK_E(trit_reader_open(c1, NULL, &r, &err), &err);
    uint32_t n_layout[4] = {0};
    for (uint32_t i = 0; r && i < trit_reader_n_tensors(r); i++)
        if (trit_reader_tensor(r, i)->type == TRIT_TYPE_T2) n_layout[trit_reader_tensor(r, i)->scale_layout & 3]++;
    trit_reader_close(r);
    CHECK(n_layout[TRIT_SCALE_TENSOR] > 0 && n_layout[TRIT_SCALE_ROW] > 0 && n_layout[TRIT_SCALE_GROUP] > 0);
    /* a code 3 decodes to 2 * d: not ternary, so the model is refused, by both paths alike */
    f[code3_at] = 0xFF;
    snprintf(e2, sizeof e2, "%s-code3.gguf", src);
    o = fopen(e2, "wb");
    CHECK(o && fwrite(f, 1, len, o) == len);
    if (o) fclose(o);
    char a[4300];
    snprintf(a, sizeof a, "%s.trit", e2);
    trit_err ea, eb;
    int const ra = conv(e2, a, 2, 0, NULL, &ea), rb = conv(e2, a, 2, 1, NULL, &eb);
    CHECK_EQ_INT(ra, TRIT_E_UNSUPPORTED);
    CHECK_EQ_INT(ra, rb);
    CHECK_STR(ea.msg, eb.msg);
    free(f);
}

/* I2_S (BitNet fork): src_codes_rows gives the codes src_f32's values say, code 3 counted */
TEST(src_codes_i2s_match_float)
{
    tg_buf b = {0};
    uint64_t const ne[2] = {128, 3};
    tg_header(&b, 3, 1, 1);
    tg_kv_str(&b, "general.architecture", "bitnet-b1.58");
    tg_tinfo(&b, "blk.0.attn_q.weight", 2, ne, 36, 0, NULL);
    tg_pad(&b, 32);
    for (int c = 0; c < 3; c++)
        for (int j = 0; j < 32; j++) {
            unsigned const x = (unsigned)(j * 7 + c) % 3, y = (unsigned)(j + c) % 3, z = (unsigned)(j * 5 + 1) % 3;
            tg_u8(&b, (uint8_t)((x << 6) | (y << 4) | (z << 2) | (c == 2 && j == 9 ? 3u : 0u)));
        }
    tg_f32(&b, -0.25f);
    tg_zero(&b, 28);
    char path[4200];
    snprintf(path, sizeof path, "%s", test_path(test_tmpdir(), "i2s.gguf"));
    FILE *o = fopen(path, "wb");
    CHECK(o && fwrite(b.p, 1, b.len, o) == b.len);
    if (o) fclose(o);
    tg_free(&b);
    struct src_ckpt *s = NULL;
    trit_err err;
    CHECK_OK_E(src_open(path, &s, &err), &err);
    if (!s) return;
    src_codes k;
    CHECK_OK_E(src_codes_of(s, 0, &k, &err), &err);
    CHECK_EQ_INT(k.kind, SRC_CODES_I2_S);
    CHECK(k.factor == -0.25f);
    uint8_t t2[3 * 32];
    int8_t codes[384];
    float v[384];
    uint64_t bad = 0;
    CHECK_OK_E(src_codes_rows(s, 0, &k, 128, 0, 3, t2, NULL, &bad, &err), &err);
    CHECK_EQ_U64(bad, 1);
    CHECK_OK_E(src_f32(s, 0, 0, 384, v, &err), &err);
    for (int r = 0; r < 3; r++) {
        CHECK_EQ_U64(trit_t2_unpack_row(t2 + 32 * r, 128, codes + 128 * r), r == 2 ? 1u : 0u);
        for (int e = 0; e < 128; e++) {
            if (r == 2 && e == 96 + 9) continue;   /* the code 3 (unpack reads it as 0) */
            CHECK(v[128 * r + e] == (float)codes[128 * r + e] * k.factor);
        }
    }
    src_close(s);
}

/* the same bytes at any thread count: dense (float and code domain) and MoE (units on workers) */
TEST(convert_threads_same_bytes)
{
    static const struct { gen_layout l; const char *name; } v[] = {
        {GEN_LAYOUT_GGUF, "th-gguf"}, {GEN_LAYOUT_GGUF_MOE, "th-gguf-moe"},
        {GEN_LAYOUT_BITCPM, "th-bitcpm"}, {GEN_LAYOUT_MIXTRAL, "th-mixtral"},
        {GEN_LAYOUT_LATENT, "th-latent"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        /* 8 threads on 2 cores still cuts the work 8 ways: the order of completion differs */
        static const uint32_t th[] = {1, 2, 3, 8};
        char src[4096], out[4][4200];
        if (test_gen(v[i].l, v[i].name, src, sizeof src)) return;
        trit_err err;
        for (uint32_t k = 0; k < 4; k++) {
            snprintf(out[k], sizeof out[k], "%s.t%u.trit", src, th[k]);
            CHECK_OK_E(conv(src, out[k], th[k], 0, NULL, &err), &err);
        }
        if (!same_file(out[0], out[1]) || !same_file(out[0], out[2]) || !same_file(out[0], out[3]))
            test_fail_(__FILE__, __LINE__, "%s: the container depends on the thread count", src);
    }
}

/* The ternary scan's 16-value steps against its one-value definition (chunks of 1 take only
 * the definition): the same state to the bit, on exact-ternary tensors at every granularity,
 * a clash inside one group, zeros, -0, NaN and rows that are not a multiple of 16 wide. */
TEST(cvt_tscan_fast_equals_per_value)
{
    static const uint64_t cols_v[] = {16, 48, 100, 256, 1000};
    uint32_t seed = 7;
    for (size_t ci = 0; ci < sizeof cols_v / sizeof cols_v[0]; ci++)
        for (int kind = 0; kind < 6; kind++) {
            uint64_t const cols = cols_v[ci], rows = 9, n = rows * cols;
            float *x = malloc(n * sizeof *x);
            for (uint64_t i = 0; i < n; i++) {
                seed = seed * 1664525u + 1013904223u;
                int const t = (int)((seed >> 16) % 3) - 1;
                uint64_t const r = i / cols, c = i % cols;
                float mag = 0.5f;
                if (kind == 1) mag = 0.25f * (float)(1 + r % 3);               /* per row */
                if (kind == 2) mag = 0.125f * (float)(1 + (c / 32) % 4);       /* per group of 32 */
                if (kind == 3) mag = (float)((seed >> 8) & 0xff) / 64.0f;      /* latent-like */
                x[i] = (float)t * mag;
                if (kind == 4 && i == n / 2) x[i] = t ? x[i] * 3.0f : 1.0f;   /* one clash */
                if (kind == 5 && i % 97 == 5) x[i] = i % 2 ? -0.0f : NAN;
            }
            cvt_tscan a, b;
            cvt_tscan_init(&a, cols);
            cvt_tscan_init(&b, cols);
            for (uint64_t i = 0; i < n; i++) cvt_tscan_feed(&a, x + i, 1);
            for (uint64_t i = 0; i < n;) {   /* uneven chunks: some start off a 16 boundary */
                uint64_t const k = (i * 7 + 33) % 301 + 1 < n - i ? (i * 7 + 33) % 301 + 1 : n - i;
                cvt_tscan_feed(&b, x + i, k);
                i += k;
            }
            if (memcmp(&a, &b, sizeof a) != 0)
                test_fail_(__FILE__, __LINE__, "cols %llu kind %d: the 16-value scan differs from the definition",
                           (unsigned long long)cols, kind);
            cvt_tscan_result ra, rb;
            cvt_tscan_result_get(&a, &ra);
            cvt_tscan_result_get(&b, &rb);
            CHECK_EQ_INT(ra.layout, rb.layout);
            CHECK_EQ_U64(ra.group, rb.group);
            if (kind == 2 && cols > 32) CHECK_EQ_INT(ra.layout, TRIT_SCALE_GROUP);
            if (kind == 1) CHECK_EQ_INT(ra.layout, TRIT_SCALE_ROW);
            free(x);
        }
}
