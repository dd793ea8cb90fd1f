/* run_kern_ref.c - the portable C kernels: the definition every SIMD kernel is tested against,
 * and the fallback on CPUs without one. */
#include <string.h>

#include "run_kern.h"
#include "run_kern_ref_t2.h"
#include "trit.h"

static int32_t ref_t2_dot(const uint8_t *codes, const int8_t *q, uint64_t n_blocks)
{
    int32_t acc = 0;
    for (uint64_t b = 0; b < n_blocks; b++, codes += 32, q += 128)
        for (unsigned m = 0; m < 32; m++) {
            unsigned const v = codes[m];
            acc += (int32_t)(v & 3) * q[m] + (int32_t)((v >> 2) & 3) * q[m + 32] +
                   (int32_t)((v >> 4) & 3) * q[m + 64] + (int32_t)(v >> 6) * q[m + 96];
        }
    return acc;
}

static void ref_t2_dot_n(const uint8_t *codes, const int8_t *q, uint64_t q_stride, uint32_t n_tok, uint64_t n_blocks,
                         int32_t *out)
{
    for (uint32_t j = 0; j < n_tok; j++) out[j] = ref_t2_dot(codes, q + j * q_stride, n_blocks);
}

static void ref_t2_gemv(const uint8_t *codes, uint64_t n_rows, const int8_t *q, uint64_t n_blocks, int32_t *out)
{
    for (uint64_t r = 0; r < n_rows; r++) out[r] = ref_t2_dot(codes + r * n_blocks * 32, q, n_blocks);
}

RUN_REF_T2_CHUNKS(ref_t2_dot_chunks, int8_t)

static float ref_dot_f32(const float *w, const float *x, uint64_t n)
{
    float s = 0;
    for (uint64_t i = 0; i < n; i++) s += w[i] * x[i];
    return s;
}

static float ref_dot_f16(const uint16_t *w, const float *x, uint64_t n)
{
    float s = 0;
    for (uint64_t i = 0; i < n; i++) s += trit_f16_to_f32(w[i]) * x[i];
    return s;
}

static float ref_dot_bf16(const uint16_t *w, const float *x, uint64_t n)
{
    float s = 0;
    for (uint64_t i = 0; i < n; i++) s += trit_bf16_to_f32(w[i]) * x[i];
    return s;
}

static void ref_axpy_f32(float *y, float a, const float *x, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) y[i] += a * x[i];
}

static void ref_gemv_f32(const float *w, uint64_t n_rows, uint64_t cols, const float *x, float *out)
{
    for (uint64_t r = 0; r < n_rows; r++) out[r] = ref_dot_f32(w + r * cols, x, cols);
}

static void ref_gemv_f16(const uint16_t *w, uint64_t n_rows, uint64_t cols, const float *x, float *out)
{
    for (uint64_t r = 0; r < n_rows; r++) out[r] = ref_dot_f16(w + r * cols, x, cols);
}

static void ref_gemv_bf16(const uint16_t *w, uint64_t n_rows, uint64_t cols, const float *x, float *out)
{
    for (uint64_t r = 0; r < n_rows; r++) out[r] = ref_dot_bf16(w + r * cols, x, cols);
}

static void ref_i8_gemv(const int8_t *w, uint64_t n_rows, uint64_t cols, const int8_t *q, int32_t *out)
{
    for (uint64_t r = 0; r < n_rows; r++, w += cols) {
        int32_t acc = 0;
        for (uint64_t i = 0; i < cols; i++) acc += (int32_t)w[i] * q[i];
        out[r] = acc;
    }
}

void run__t2_gemm_by_dot_n(void (*dot_n)(const uint8_t *, const int8_t *, uint64_t, uint32_t, uint64_t, int32_t *),
                           const uint8_t *codes, uint64_t n_rows, uint64_t n_blocks, const int8_t *q, uint64_t q_stride,
                           uint32_t n_tok, int32_t *out, uint64_t ld_out)
{
    for (uint64_t r = 0; r < n_rows; r++)
        for (uint32_t t0 = 0; t0 < n_tok; t0 += 4) {
            uint32_t const m = n_tok - t0 < 4 ? n_tok - t0 : 4;
            int32_t acc[4];
            dot_n(codes + r * n_blocks * 32, q + t0 * q_stride, q_stride, m, n_blocks, acc);
            for (uint32_t k = 0; k < m; k++) out[(t0 + k) * ld_out + r] = acc[k];
        }
}

static void ref_t2_gemm(const uint8_t *codes, uint64_t n_rows, uint64_t n_blocks, const int8_t *q, uint64_t q_stride, uint32_t n_tok,
                        int32_t *out, uint64_t ld_out)
{
    for (uint32_t t = 0; t < n_tok; t++)
        for (uint64_t r = 0; r < n_rows; r++) out[t * ld_out + r] = ref_t2_dot(codes + r * n_blocks * 32, q + t * q_stride, n_blocks);
}

static const run_kern ref_kern = {"ref",        ref_t2_dot,   ref_t2_dot_n, ref_t2_gemv,   ref_t2_dot_chunks,
                                  ref_dot_f32,  ref_dot_f16,  ref_dot_bf16, ref_axpy_f32,  ref_gemv_f32,
                                  ref_gemv_f16, ref_gemv_bf16, ref_i8_gemv, ref_t2_gemm};

const run_kern *run_kern_ref(void) { return &ref_kern; }

const run_kern *run_kern_best(void)
{
    const run_kern *(*const order[])(void) = {run_kern_avx512, run_kern_avxvnni, run_kern_avx2, run_kern_neoni8mm, run_kern_neondot,
                                               run_kern_neon};
    for (unsigned i = 0; i < sizeof order / sizeof order[0]; i++) {
        const run_kern *k = order[i]();
        if (k) return k;
    }
    return &ref_kern;
}
