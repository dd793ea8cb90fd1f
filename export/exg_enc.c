/*
 * exg_enc.c - the small pure pieces of export: the header byte buffer, TQ2_0 / TQ1_0
 * block encoders (formats.md 1.8), t2 scale lookup (spec/container.md 6.1) and type sizes.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exg_int.h"
#include "trit_safemath.h"

void exg__put(exg__buf *b, const void *p, size_t n)
{
    if (b->oom || n == 0) return;
    if (n > b->cap - b->len) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap - b->len < n) {
            if (cap > SIZE_MAX / 2) { b->oom = 1; return; }
            cap *= 2;
        }
        uint8_t *q = realloc(b->p, cap);
        if (!q) { b->oom = 1; return; }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

void exg__put_u32(exg__buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    exg__put(b, x, 4);
}

void exg__put_u64(exg__buf *b, uint64_t v)
{
    exg__put_u32(b, (uint32_t)v);
    exg__put_u32(b, (uint32_t)(v >> 32));
}

void exg__put_str(exg__buf *b, const char *s, size_t n)
{
    exg__put_u64(b, n);
    exg__put(b, s, n);
}

void exg__warn(exg_plan *p, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char **w = realloc(p->warn, ((size_t)p->n_warn + 1) * sizeof *w);
    if (!w) return;
    p->warn = w;
    char *s = malloc(strlen(buf) + 1);
    if (!s) return;
    memcpy(s, buf, strlen(buf) + 1);
    p->warn[p->n_warn++] = s;
}

static void store_f16(uint8_t *dst, float d)
{
    uint16_t const h = trit_f32_to_f16(d);
    dst[0] = (uint8_t)h;
    dst[1] = (uint8_t)(h >> 8);
}

/* t2 and TQ2_0 share the code layout within each 128-weight half (spec 6.1 "Why this
 * layout"), so a TQ2_0 block is two t2 blocks followed by the f16 scale. */
void exg_tq2_row(const uint8_t *t2, uint64_t n, const float *d, uint8_t *dst)
{
    for (uint64_t b = 0; b < n / EXG_QK; b++) {
        memcpy(dst + b * EXG_TQ2_BYTES, t2 + b * 64, 64);
        store_f16(dst + b * EXG_TQ2_BYTES + 64, d[b]);
    }
}

/* Pack 5 (or 4, shifted by one trit) ternary digits into a byte the way ggml's
 * quantize_row_tq1_0_ref does: first digit most significant, then ceil(q * 256 / 243). */
static uint8_t tq1_byte(const int8_t *v, uint64_t stride, unsigned n_digits)
{
    unsigned q = 0;
    for (unsigned k = 0; k < n_digits; k++) q = q * 3 + (unsigned)(v[k * stride] + 1);
    if (n_digits == 4) q *= 3;
    return (uint8_t)((q * 256 + 242) / 243);
}

void exg_tq1_row(const int8_t *vals, uint64_t n, const float *d, uint8_t *dst)
{
    for (uint64_t b = 0; b < n / EXG_QK; b++) {
        const int8_t *x = vals + b * EXG_QK;
        uint8_t *y = dst + b * EXG_TQ1_BYTES;
        for (unsigned m = 0; m < 32; m++) y[m] = tq1_byte(x + m, 32, 5);          /* 0..159 */
        for (unsigned m = 0; m < 16; m++) y[32 + m] = tq1_byte(x + 160 + m, 16, 5); /* 160..239 */
        for (unsigned j = 0; j < 4; j++) y[48 + j] = tq1_byte(x + 240 + j, 4, 4);   /* 240..255 */
        store_f16(y + 52, d[b]);
    }
}

float exg__scale_at(const trit_tensor_info *t, const uint8_t *scales, uint64_t row,
                           uint64_t col, uint64_t cols)
{
    uint64_t k = 0;
    if (t->scale_layout == TRIT_SCALE_ROW) k = row;
    else if (t->scale_layout == TRIT_SCALE_GROUP)
        k = row * trit_div_ceil(cols, t->group_size) + col / t->group_size;
    float s;
    uint32_t const bits = (uint32_t)scales[4 * k] | (uint32_t)scales[4 * k + 1] << 8 |
                          (uint32_t)scales[4 * k + 2] << 16 | (uint32_t)scales[4 * k + 3] << 24;
    memcpy(&s, &bits, 4);
    return s;
}

int exg__f16_ok(float s)
{
    float const a = fabsf(s);
    return s == 0.0f || (a >= 6.103515625e-05f && a <= 65504.0f);
}

int exg__blocks_uniform(const trit_tensor_info *t)
{
    uint64_t const cols = t->n_dims ? t->dims[t->n_dims - 1] : 1;
    if (t->scale_layout == TRIT_SCALE_TENSOR || t->scale_layout == TRIT_SCALE_ROW) return 1;
    if (t->scale_layout != TRIT_SCALE_GROUP || t->group_size == 0) return 0;
    /* groups start at each row's first weight, so a 256-block sits inside one group exactly
     * when the group size is a multiple of 256, or one group spans the whole row */
    return t->group_size % EXG_QK == 0 || t->group_size >= cols;
}

int exg__nbytes(uint32_t type, uint64_t n, uint64_t *out)
{
    switch (type) {
    case EXG_T_F32: case EXG_T_I32: return trit_mul_u64(n, 4, out);
    case EXG_T_F16: case EXG_T_BF16: return trit_mul_u64(n, 2, out);
    case EXG_T_I8: *out = n; return 0;
    case EXG_T_TQ2_0: return n % EXG_QK || trit_mul_u64(n / EXG_QK, EXG_TQ2_BYTES, out);
    case EXG_T_TQ1_0: return n % EXG_QK || trit_mul_u64(n / EXG_QK, EXG_TQ1_BYTES, out);
    case EXG_T_Q8_0: return n % 32 || trit_mul_u64(n / 32, 34, out);
    case EXG_T_Q4_K: return n % 256 || trit_mul_u64(n / 256, 144, out);
    case EXG_T_Q6_K: return n % 256 || trit_mul_u64(n / 256, 210, out);
    case EXG_T_MXFP4: return n % 32 || trit_mul_u64(n / 32, 17, out);
    default: return 1;
    }
}
