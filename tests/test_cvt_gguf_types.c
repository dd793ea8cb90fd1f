/* test_cvt_gguf_types.c - ggml type table and dequantizers: hand-built blocks with known values,
 * and ggml's own output for quantized blocks (test_cvt_gguf_vectors.h). */
#include <math.h>
#include <string.h>

#include "src_ggml_types.h"
#include "test.h"
#include "test_cvt_gguf_vectors.h"

TEST(src_gguf_ggml_type_table)
{
    static const struct { uint32_t id; const char *name; uint32_t blck, size; } want[] = {
        {0, "F32", 1, 4}, {1, "F16", 1, 2}, {2, "Q4_0", 32, 18}, {3, "Q4_1", 32, 20},
        {6, "Q5_0", 32, 22}, {7, "Q5_1", 32, 24}, {8, "Q8_0", 32, 34}, {9, "Q8_1", 32, 36},
        {10, "Q2_K", 256, 84}, {11, "Q3_K", 256, 110}, {12, "Q4_K", 256, 144}, {13, "Q5_K", 256, 176},
        {14, "Q6_K", 256, 210}, {15, "Q8_K", 256, 292}, {16, "IQ2_XXS", 256, 66}, {17, "IQ2_XS", 256, 74},
        {18, "IQ3_XXS", 256, 98}, {19, "IQ1_S", 256, 50}, {20, "IQ4_NL", 32, 18}, {21, "IQ3_S", 256, 110},
        {22, "IQ2_S", 256, 82}, {23, "IQ4_XS", 256, 136}, {24, "I8", 1, 1}, {25, "I16", 1, 2},
        {26, "I32", 1, 4}, {27, "I64", 1, 8}, {28, "F64", 1, 8}, {29, "IQ1_M", 256, 56},
        {30, "BF16", 1, 2}, {34, "TQ1_0", 256, 54}, {35, "TQ2_0", 256, 66}, {39, "MXFP4", 32, 17},
        {40, "NVFP4", 64, 36}, {41, "Q1_0", 128, 18}, {42, "Q2_0", 64, 18},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const src_ggml_type *t = src_ggml_type_get(want[i].id);
        CHECK(t != NULL);
        if (!t) continue;
        CHECK_STR(t->name, want[i].name);
        CHECK_EQ_U64(t->blck, want[i].blck);
        CHECK_EQ_U64(t->type_size, want[i].size);
        CHECK_EQ_U64(t->id, want[i].id);
    }
    /* removed mainline ids and ids past the table */
    static const uint32_t removed[] = {4, 5, 31, 32, 33, 36, 37, 38, 43, 1000, 0x100, UINT32_MAX};
    for (size_t i = 0; i < sizeof removed / sizeof removed[0]; i++) CHECK(src_ggml_type_get(removed[i]) == NULL);
    /* the BitNet fork namespace */
    const src_ggml_type *i2 = src_ggml_type_get(SRC_GGML_FORK_I2_S);
    CHECK(i2 && strcmp(i2->name, "I2_S") == 0 && i2->trailer == 32);
    CHECK(src_ggml_type_get(SRC_GGML_FORK_TL1) != NULL);
    CHECK(src_ggml_type_get(SRC_GGML_FORK_Q4_0_4_4) != NULL);
    CHECK(src_ggml_type_get(SRC_GGML_FORK_BASE + 39) == NULL);   /* TL2: layout unknown */

    uint64_t nb = 0;
    trit_err err;
    CHECK_OK_E(src_ggml_nbytes(i2, 2560ull * 6912ull, &nb, "t", 0, &err), &err);
    CHECK_EQ_U64(nb, 2560ull * 6912ull / 4 + 32);
    CHECK_EQ_INT(src_ggml_nbytes(i2, 6, &nb, "t", 7, &err), TRIT_E_CORRUPT);
    CHECK_EQ_U64(err.offset, 7);
    CHECK_OK_E(src_ggml_nbytes(src_ggml_type_get(SRC_GGML_Q4_K), 512, &nb, "t", 0, &err), &err);
    CHECK_EQ_U64(nb, 288);
    CHECK_EQ_INT(src_ggml_nbytes(src_ggml_type_get(SRC_GGML_Q4_K), 100, &nb, "t", 0, &err), TRIT_E_CORRUPT);
    CHECK_EQ_INT(src_ggml_nbytes(src_ggml_type_get(SRC_GGML_Q8_0), UINT64_MAX - 31, &nb, "t", 0, &err),
                 TRIT_E_CORRUPT);
}

TEST(src_gguf_ggml_dequant_plain_types)
{
    float y[4];
    trit_err err;
    /* F32 1.5, F16 1.0 / -2.0, BF16 1.0, F64 -0.25, I8 -3, I16 -300, I32 70000, I64 -5 */
    static const uint8_t f32[] = {0x00, 0x00, 0xC0, 0x3F};
    CHECK_OK_E(src_ggml_dequant(SRC_GGML_F32, f32, 1, y, &err), &err);
    CHECK(y[0] == 1.5f);
    static const uint8_t f16[] = {0x00, 0x3C, 0x00, 0xC0};
    CHECK_OK_E(src_ggml_dequant(SRC_GGML_F16, f16, 2, y, &err), &err);
    CHECK(y[0] == 1.0f && y[1] == -2.0f);
    static const uint8_t bf16[] = {0x80, 0x3F};
    CHECK_OK_E(src_ggml_dequant(SRC_GGML_BF16, bf16, 1, y, &err), &err);
    CHECK(y[0] == 1.0f);
    static const uint8_t f64[] = {0, 0, 0, 0, 0, 0, 0xD0, 0xBF};
    CHECK_OK_E(src_ggml_dequant(SRC_GGML_F64, f64, 1, y, &err), &err);
    CHECK(y[0] == -0.25f);
    static const uint8_t i8[] = {0xFD};
    CHECK_OK_E(src_ggml_dequant(SRC_GGML_I8, i8, 1, y, &err), &err);
    CHECK(y[0] == -3.0f);
    static const uint8_t i16[] = {0xD4, 0xFE};
    CHECK_OK_E(src_ggml_dequant(SRC_GGML_I16, i16, 1, y, &err), &err);
    CHECK(y[0] == -300.0f);
    static const uint8_t i32[] = {0x70, 0x11, 0x01, 0x00};
    CHECK_OK_E(src_ggml_dequant(SRC_GGML_I32, i32, 1, y, &err), &err);
    CHECK(y[0] == 70000.0f);
    static const uint8_t i64[] = {0xFB, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    CHECK_OK_E(src_ggml_dequant(SRC_GGML_I64, i64, 1, y, &err), &err);
    CHECK(y[0] == -5.0f);
    CHECK_EQ_INT(src_ggml_dequant(SRC_GGML_IQ2_XXS, f32, 1, y, &err), TRIT_E_UNSUPPORTED);
    CHECK_EQ_INT(src_ggml_dequant(SRC_GGML_FORK_I2_S, f32, 1, y, &err), TRIT_E_UNSUPPORTED);
    CHECK_EQ_INT(src_ggml_dequant(4, f32, 1, y, &err), TRIT_E_UNSUPPORTED);
}

/* Hand-built blocks whose values follow from the layout alone. */
TEST(src_gguf_ggml_dequant_hand_blocks)
{
    uint8_t b[256];
    float y[256];
    trit_err err;
    /* Q8_0: d = 0.5 (f16 0x3800), q = j - 16 */
    b[0] = 0x00; b[1] = 0x38;
    for (int j = 0; j < 32; j++) b[2 + j] = (uint8_t)(int8_t)(j - 16);
    CHECK_OK_E(src_ggml_dequant(SRC_GGML_Q8_0, b, 1, y, &err), &err);
    for (int j = 0; j < 32; j++) CHECK(y[j] == 0.5f * (float)(j - 16));
    /* Q4_0: d = 2 (0x4000); byte j: low nibble j%16 -> element j, high nibble 15-j%16 -> j+16 */
    b[0] = 0x00; b[1] = 0x40;
    for (int j = 0; j < 16; j++) b[2 + j] = (uint8_t)(j | ((15 - j) << 4));
    CHECK_OK_E(src_ggml_dequant(SRC_GGML_Q4_0, b, 1, y, &err), &err);
    for (int j = 0; j < 16; j++) {
        CHECK(y[j] == 2.0f * (float)(j - 8));
        CHECK(y[j + 16] == 2.0f * (float)(15 - j - 8));
    }
    /* TQ2_0: byte 32h+m holds element 128h+m+32n in bits 2n+1:2n; d = 1.5 (0x3E00) last */
    memset(b, 0, 66);
    for (int h = 0; h < 2; h++)
        for (int m = 0; m < 32; m++)
            b[32 * h + m] = (uint8_t)(((m + h) % 3) | (((m + 1) % 3) << 2) | (2u << 4) | (0u << 6));
    b[64] = 0x00; b[65] = 0x3E;
    CHECK_OK_E(src_ggml_dequant(SRC_GGML_TQ2_0, b, 1, y, &err), &err);
    for (int h = 0; h < 2; h++)
        for (int m = 0; m < 32; m++) {
            CHECK(y[128 * h + m] == 1.5f * (float)((m + h) % 3 - 1));
            CHECK(y[128 * h + m + 32] == 1.5f * (float)((m + 1) % 3 - 1));
            CHECK(y[128 * h + m + 64] == 1.5f);
            CHECK(y[128 * h + m + 96] == -1.5f);
        }
    /* TQ1_0: all-zero weights are trit 1 everywhere: q = 121 (11111 base 3) -> byte
     * ceil(121*256/243) = 128; qh holds 4 trits then a zero trit: q = 40*3 = 120 -> 127 (rounded
     * up: (120*256 + 242)/243 = 127). d = 1 (0x3C00). Then one -1 and one +1. */
    memset(b, 128, 48);
    memset(b + 48, 127, 4);
    b[52] = 0x00; b[53] = 0x3C;
    /* element 0 is trit 0 of byte 0; make it -1 (t0 = 0): q = 0*81 + 1*27+9+3+1 = 40 -> 43 */
    b[0] = (uint8_t)((40 * 256 + 242) / 243);
    /* element 255 is qh byte 3, trit 3: +1 -> q = (1*27+1*9+1*3+2)*3 = 123 -> 130 */
    b[51] = (uint8_t)((123 * 256 + 242) / 243);
    CHECK_OK_E(src_ggml_dequant(SRC_GGML_TQ1_0, b, 1, y, &err), &err);
    CHECK(y[0] == -1.0f);
    CHECK(y[255] == 1.0f);
    for (int i = 1; i < 255; i++)
        if (y[i] != 0.0f) { test_fail_(__FILE__, __LINE__, "TQ1_0 element %d = %g", i, (double)y[i]); break; }
}

TEST(src_gguf_ggml_dequant_i2s)
{
    uint8_t b[64];
    float y[256];
    /* chunk 0: byte j = codes 0,1,2,3 for elements j, j+32, j+64, j+96 (bits 7:6 first) */
    for (int j = 0; j < 32; j++) b[j] = (0u << 6) | (1u << 4) | (2u << 2) | 3u;
    /* chunk 1: element 128+j gets code j%3 in bits 7:6, the rest code 1 (zero) */
    for (int j = 0; j < 32; j++) b[32 + j] = (uint8_t)(((unsigned)(j % 3) << 6) | (1u << 4) | (1u << 2) | 1u);
    src_ggml_i2s_dequant(b, 2, 0.25f, y);
    for (int j = 0; j < 32; j++) {
        CHECK(y[j] == -0.25f);
        CHECK(y[j + 32] == 0.0f);
        CHECK(y[j + 64] == 0.25f);
        CHECK(y[j + 96] == 0.5f);       /* unused code 3 decodes as (3-1)*scale */
        CHECK(y[128 + j] == 0.25f * (float)(j % 3 - 1));
        CHECK(y[160 + j] == 0.0f && y[192 + j] == 0.0f && y[224 + j] == 0.0f);
    }
}

/* ggml's quantizer output decoded by trit must equal ggml's own dequantizer output. */
TEST(src_gguf_ggml_dequant_matches_ggml)
{
    float y[256];
    trit_err err;
    for (size_t v = 0; v < sizeof ggml_vectors / sizeof ggml_vectors[0]; v++) {
        const struct ggml_vector *g = &ggml_vectors[v];
        const src_ggml_type *t = src_ggml_type_get(g->type);
        CHECK(t != NULL && strcmp(t->name, g->name) == 0);
        if (!t) continue;
        CHECK_EQ_U64(256 / t->blck * t->type_size, g->nbytes);
        memset(y, 0xFF, sizeof y);
        CHECK_OK_E(src_ggml_dequant(g->type, (const uint8_t *)g->bytes, 256 / t->blck, y, &err), &err);
        int bad = 0;
        for (int i = 0; i < 256 && bad < 3; i++) {
            float const want = g->expect[i];
            if (!(fabsf(y[i] - want) <= 1e-6f * fabsf(want) + 1e-7f)) {
                test_fail_(__FILE__, __LINE__, "%s element %d: got %.9g, ggml %.9g", g->name, i, (double)y[i],
                           (double)want);
                bad++;
            }
        }
    }
}
