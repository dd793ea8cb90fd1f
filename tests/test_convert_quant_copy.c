/* test_convert_quant_copy.c - a Q8_0 / Q4_0 GGUF copy of a ternary model (such copies are on
 * the hub): `convert --ternarize` recovers the codes and the magnitude. absmean's gamma is the
 * mean over the zeros too, about 0.65 of the magnitude; the least-squares fit to the codes is
 * the magnitude. The GGUF is written here by hand (tests/test_cvt_gguf_build.h) with ggml's
 * reference quantizers (quantize_row_q8_0_ref / q4_0_ref, formats.md 1.7). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cvt.h"
#include "src_gguf.h"
#include "test.h"
#include "test_cvt_gguf_build.h"

enum { QE = 64, QF = 128, QV = 32, QH = 4, GG_F32 = 0, GG_Q4_0 = 2, GG_Q8_0 = 8 };
#define QMAG 0.05f

static uint32_t rnd(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

static void put_f16(tg_buf *b, float x) { tg_u16(b, trit_f32_to_f16(x)); }

/* One row of n (multiple of 32) values, ggml-quantized. */
static void quant_row(tg_buf *b, const float *x, uint64_t n, int type)
{
    for (uint64_t j = 0; j < n; j += 32) {
        const float *v = x + j;
        if (type == GG_Q8_0) {
            float amax = 0;
            for (int i = 0; i < 32; i++) amax = fmaxf(amax, fabsf(v[i]));
            float const d = amax / 127, id = d != 0.0f ? 1 / d : 0;
            put_f16(b, d);
            for (int i = 0; i < 32; i++) tg_u8(b, (uint8_t)(int8_t)roundf(v[i] * id));
        } else {
            float amax = 0, max = 0;
            for (int i = 0; i < 32; i++)
                if (fabsf(v[i]) > amax) amax = fabsf(v[i]), max = v[i];
            float const d = max / -8, id = d != 0.0f ? 1 / d : 0;
            put_f16(b, d);
            for (int i = 0; i < 16; i++) {
                int q0 = (int)(v[i] * id + 8.5f), q1 = (int)(v[16 + i] * id + 8.5f);
                q0 = q0 > 15 ? 15 : q0;
                q1 = q1 > 15 ? 15 : q1;
                tg_u8(b, (uint8_t)(q0 | (q1 << 4)));
            }
        }
    }
}

typedef struct qt {
    const char *name;
    uint64_t rows, cols;
    int quant;        /* projection: ternary x QMAG, block-quantized */
} qt;

static const qt tensors[] = {
    {"token_embd.weight", QV, QE, 0},       {"blk.0.attn_norm.weight", 1, QE, 0},
    {"blk.0.attn_q.weight", QE, QE, 1},     {"blk.0.attn_k.weight", QE, QE, 1},
    {"blk.0.attn_v.weight", QE, QE, 1},     {"blk.0.attn_output.weight", QE, QE, 1},
    {"blk.0.ffn_norm.weight", 1, QE, 0},    {"blk.0.ffn_gate.weight", QF, QE, 1},
    {"blk.0.ffn_up.weight", QF, QE, 1},     {"blk.0.ffn_down.weight", QE, QF, 1},
    {"output_norm.weight", 1, QE, 0},       {"output.weight", QV, QE, 0},
};
#define NT (sizeof tensors / sizeof tensors[0])

static int8_t *codes_of(size_t t, uint64_t n)
{
    int8_t *c = malloc(n);
    uint32_t s = 77u + (uint32_t)t;
    for (uint64_t i = 0; c && i < n; i++) c[i] = (int8_t)((int)(rnd(&s) % 3) - 1);
    return c;
}

static int write_model(const char *path, int qtype)
{
    tg_buf h = {0}, d = {0};
    tg_header(&h, 3, NT, 9);
    tg_kv_str(&h, "general.architecture", "llama");
    tg_kv_u32(&h, "general.alignment", 32);
    tg_kv_u32(&h, "llama.block_count", 1);
    tg_kv_u32(&h, "llama.embedding_length", QE);
    tg_kv_u32(&h, "llama.feed_forward_length", QF);
    tg_kv_u32(&h, "llama.attention.head_count", QH);
    tg_kv_u32(&h, "llama.attention.head_count_kv", QH);
    tg_kv_u32(&h, "llama.context_length", 128);
    tg_kv(&h, "llama.attention.layer_norm_rms_epsilon", SRC_GGUF_FLOAT32);
    tg_f32(&h, 1e-5f);
    for (size_t t = 0; t < NT; t++) {
        qt const *q = &tensors[t];
        uint64_t const ne[2] = {q->cols, q->rows};
        tg_tinfo(&h, q->name, q->rows == 1 ? 1 : 2, ne, q->quant ? (uint32_t)qtype : GG_F32, d.len, NULL);
        uint64_t const n = q->rows * q->cols;
        float *x = malloc(n * sizeof *x);
        int8_t *c = q->quant ? codes_of(t, n) : NULL;
        uint32_t s = 5u + (uint32_t)t;
        for (uint64_t i = 0; x && i < n; i++)
            x[i] = q->quant ? (c ? c[i] * QMAG : 0) : (q->rows == 1 ? 1.0f : ((float)(rnd(&s) % 2001) - 1000) * 2e-5f);
        if (q->quant)
            for (uint64_t r = 0; r < q->rows; r++) quant_row(&d, x + r * q->cols, q->cols, qtype);
        else
            for (uint64_t i = 0; i < n; i++) tg_f32(&d, x[i]);
        tg_pad(&d, 32);
        free(x);
        free(c);
    }
    tg_pad(&h, 32);
    int const rc = h.oom || d.oom ? -1 : 0;
    FILE *f = rc ? NULL : fopen(path, "wb");
    int ok = f && fwrite(h.p, 1, h.len, f) == h.len && fwrite(d.p, 1, d.len, f) == d.len;
    if (f && fclose(f)) ok = 0;
    tg_free(&h);
    tg_free(&d);
    return ok ? 0 : -1;
}

/* Convert with --ternarize; check every projection's codes (un-permuted Q/K aside) and scale. */
static void check(int qtype, const char *tag)
{
    char src[1024], out[1100];
    snprintf(src, sizeof src, "%s/qc-%s.gguf", test_tmpdir(), tag);
    snprintf(out, sizeof out, "%s/qc-%s.trit", test_tmpdir(), tag);
    CHECK_EQ_INT(write_model(src, qtype), 0);
    cvt_opts o;
    memset(&o, 0, sizeof o);
    o.ternarize = 1;
    o.overwrite = 1;
    cvt_report rep;
    trit_err err;
    int rc = cvt_convert(src, out, &o, &rep, &err);
    CHECK_OK_E(rc, &err);
    if (rc) return;
    /* Q8_0 reproduces +-s exactly (d = s/127): detected as ternary, no rounding needed; Q4_0
     * gives one sign 7/8 of the other: ternarized */
    if (qtype == GG_Q4_0) CHECK_STR(rep.ternarized_by, "--ternarize");
    cvt_report_free(&rep);
    trit_reader *r = NULL;
    CHECK_OK_E(trit_reader_open(out, NULL, &r, &err), &err);
    if (!r) return;
    for (size_t t = 0; t < NT; t++) {
        if (!tensors[t].quant) continue;
        int64_t const i = trit_reader_find_tensor(r, tensors[t].name);
        CHECK(i >= 0);
        if (i < 0) continue;
        const trit_tensor_info *ti = trit_reader_tensor(r, (uint32_t)i);
        CHECK_EQ_INT(ti->type, TRIT_TYPE_T2);
        const void *data;
        uint64_t size;
        CHECK_OK_E(trit_reader_tensor_data(r, (uint32_t)i, &data, &size, &err), &err);
        float scale;
        memcpy(&scale, (const uint8_t *)data + ti->scales_off, 4);
        if (fabsf(scale - QMAG) > 0.01f * QMAG)
            test_fail_(__FILE__, __LINE__, "%s %s: magnitude %g, the model's is %g", tag, tensors[t].name, (double)scale, (double)QMAG);
        if (strstr(tensors[t].name, "attn_q") || strstr(tensors[t].name, "attn_k")) continue;   /* rows un-permuted */
        uint64_t const n = tensors[t].rows * tensors[t].cols;
        int8_t *want = codes_of(t, n), *got = malloc(tensors[t].cols);
        uint64_t const row_bytes = (tensors[t].cols + 127) / 128 * 32, bad = 0;
        uint64_t mism = bad;
        for (uint64_t row = 0; want && got && row < tensors[t].rows; row++) {
            trit_t2_unpack_row((const uint8_t *)data + row * row_bytes, tensors[t].cols, got);
            for (uint64_t k = 0; k < tensors[t].cols; k++) mism += got[k] != want[row * tensors[t].cols + k];
        }
        if (mism) test_fail_(__FILE__, __LINE__, "%s %s: %llu codes differ", tag, tensors[t].name, (unsigned long long)mism);
        free(want);
        free(got);
    }
    trit_reader_close(r);
}

TEST(convert_quant_copy_recovers_codes_and_magnitude)
{
    check(GG_Q8_0, "q8_0");
    check(GG_Q4_0, "q4_0");
}
