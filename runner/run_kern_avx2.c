/* run_kern_avx2.c - AVX2 kernels (x86-64). Compiled with per-function target attributes so the
 * rest of the program keeps the baseline ISA; used only when the CPU reports AVX2, FMA and
 * F16C at run time. */
#include <stddef.h>

#include "run_kern.h"
#include "run_kern_x86.h"

#if RUN_KERN_X86

/* codes (0..3, unsigned) x q (signed): maddubs pairs stay within int16 (2 * 3 * 127). */
RUN_AVX2 static int32_t avx2_t2_dot(const uint8_t *codes, const int8_t *q, uint64_t n_blocks)
{
    __m256i const m3 = _mm256_set1_epi8(3), ones = _mm256_set1_epi16(1);
    __m256i acc = _mm256_setzero_si256();
    for (uint64_t b = 0; b < n_blocks; b++, codes += 32, q += 128) {
        __m256i const v = _mm256_loadu_si256((const __m256i *)(const void *)codes);
        __m256i const c0 = _mm256_and_si256(v, m3);
        __m256i const c1 = _mm256_and_si256(_mm256_srli_epi16(v, 2), m3);
        __m256i const c2 = _mm256_and_si256(_mm256_srli_epi16(v, 4), m3);
        __m256i const c3 = _mm256_and_si256(_mm256_srli_epi16(v, 6), m3);
        __m256i p0 = _mm256_maddubs_epi16(c0, _mm256_loadu_si256((const __m256i *)(const void *)q));
        __m256i p1 = _mm256_maddubs_epi16(c1, _mm256_loadu_si256((const __m256i *)(const void *)(q + 32)));
        __m256i p2 = _mm256_maddubs_epi16(c2, _mm256_loadu_si256((const __m256i *)(const void *)(q + 64)));
        __m256i p3 = _mm256_maddubs_epi16(c3, _mm256_loadu_si256((const __m256i *)(const void *)(q + 96)));
        /* four int16 pair sums per lane: |sum| <= 4 * 762, still int16 */
        __m256i const s = _mm256_add_epi16(_mm256_add_epi16(p0, p1), _mm256_add_epi16(p2, p3));
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(s, ones));
    }
    return hsum_i32(acc);
}

/* n tokens (a compile-time constant after inlining) against one row. */
RUN_AVX2 static inline __attribute__((always_inline)) void t2_dot_n_impl(const uint8_t *codes, const int8_t *q, uint64_t q_stride,
                                                                        uint64_t n_blocks, int32_t *out, const int n)
{
    __m256i const m3 = _mm256_set1_epi8(3), ones = _mm256_set1_epi16(1);
    __m256i acc[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()};
    for (uint64_t b = 0; b < n_blocks; b++, codes += 32) {
        __m256i const v = _mm256_loadu_si256((const __m256i *)(const void *)codes);
        __m256i const c0 = _mm256_and_si256(v, m3);
        __m256i const c1 = _mm256_and_si256(_mm256_srli_epi16(v, 2), m3);
        __m256i const c2 = _mm256_and_si256(_mm256_srli_epi16(v, 4), m3);
        __m256i const c3 = _mm256_and_si256(_mm256_srli_epi16(v, 6), m3);
        _Pragma("GCC unroll 4") for (int j = 0; j < n; j++) {
            const int8_t *qj = q + j * q_stride + b * 128;
            __m256i const p0 = _mm256_maddubs_epi16(c0, _mm256_loadu_si256((const __m256i *)(const void *)qj));
            __m256i const p1 = _mm256_maddubs_epi16(c1, _mm256_loadu_si256((const __m256i *)(const void *)(qj + 32)));
            __m256i const p2 = _mm256_maddubs_epi16(c2, _mm256_loadu_si256((const __m256i *)(const void *)(qj + 64)));
            __m256i const p3 = _mm256_maddubs_epi16(c3, _mm256_loadu_si256((const __m256i *)(const void *)(qj + 96)));
            __m256i const s = _mm256_add_epi16(_mm256_add_epi16(p0, p1), _mm256_add_epi16(p2, p3));
            acc[j] = _mm256_add_epi32(acc[j], _mm256_madd_epi16(s, ones));
        }
    }
    _Pragma("GCC unroll 4") for (int j = 0; j < n; j++) out[j] = hsum_i32(acc[j]);
}

RUN_AVX2 static void avx2_t2_dot_n(const uint8_t *codes, const int8_t *q, uint64_t q_stride, uint32_t n_tok, uint64_t n_blocks,
                                   int32_t *out)
{
    switch (n_tok) {
    case 1: t2_dot_n_impl(codes, q, q_stride, n_blocks, out, 1); break;
    case 2: t2_dot_n_impl(codes, q, q_stride, n_blocks, out, 2); break;
    case 3: t2_dot_n_impl(codes, q, q_stride, n_blocks, out, 3); break;
    default: t2_dot_n_impl(codes, q, q_stride, n_blocks, out, 4); break;
    }
}

/* Rows one at a time: on DRAM-bound decode shapes, single rows measured about twice as fast as
 * the four-row tiles this set had before (tools/bench/kernbench.c; the activations stay in L1). */
RUN_AVX2 static void avx2_t2_gemv(const uint8_t *codes, uint64_t n_rows, const int8_t *q, uint64_t n_blocks, int32_t *out)
{
    for (uint64_t r = 0; r < n_rows; r++) out[r] = avx2_t2_dot(codes + r * n_blocks * 32, q, n_blocks);
}

RUN_AVX2 static void avx2_t2_dot_chunks(const uint8_t *codes, const int8_t *q, uint64_t n_blocks, int32_t *out)
{
    __m256i const m3 = _mm256_set1_epi8(3), ones = _mm256_set1_epi16(1);
    for (uint64_t b = 0; b < n_blocks; b++, codes += 32, q += 128, out += 4) {
        __m256i const v = _mm256_loadu_si256((const __m256i *)(const void *)codes);
        for (int k = 0; k < 4; k++) {
            __m256i const sh = k == 0 ? v : _mm256_srl_epi16(v, _mm_cvtsi32_si128(2 * k));
            __m256i const c = _mm256_and_si256(sh, m3);
            __m256i const p = _mm256_maddubs_epi16(c, _mm256_loadu_si256((const __m256i *)(const void *)(q + 32 * k)));
            out[k] = hsum_i32(_mm256_madd_epi16(p, ones));
        }
    }
}

/* One float row against x: two accumulators over 16-value steps, one 8-value step into the
 * first, the horizontal sum, then the scalar tail in order. gemv_* runs rows one at a time:
 * measured on this project's decode shapes (tools/bench/kernbench.c), tiles of 2 or 4 rows
 * that share the x loads stream DRAM slower than single rows, and x is in L1 anyway. */
#define RUN_AVX2_ROW(NAME, T, LOAD8, CVT1)                                                        \
    RUN_AVX2 static inline __attribute__((always_inline)) float NAME(const T *w, const float *x, uint64_t cols) \
    {                                                                                            \
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();                               \
        uint64_t i = 0;                                                                          \
        for (; i + 16 <= cols; i += 16) {                                                        \
            a0 = _mm256_fmadd_ps(LOAD8(w + i), _mm256_loadu_ps(x + i), a0);                      \
            a1 = _mm256_fmadd_ps(LOAD8(w + i + 8), _mm256_loadu_ps(x + i + 8), a1);              \
        }                                                                                        \
        if (i + 8 <= cols) {                                                                     \
            a0 = _mm256_fmadd_ps(LOAD8(w + i), _mm256_loadu_ps(x + i), a0);                      \
            i += 8;                                                                              \
        }                                                                                        \
        float s = hsum_f32(_mm256_add_ps(a0, a1));                                               \
        for (; i < cols; i++) s += CVT1(w[i]) * x[i];                                            \
        return s;                                                                                \
    }

RUN_AVX2 static inline __m256 f32x8(const float *w) { return _mm256_loadu_ps(w); }
RUN_AVX2 static inline __m256 f16x8(const uint16_t *w) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)w)); }
RUN_AVX2 static inline __m256 bf16x8(const uint16_t *w)
{
    __m256i const v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(const void *)w));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}
static inline float f32_1(float v) { return v; }
RUN_AVX2 static inline float f16_1(uint16_t v) { return _cvtsh_ss(v); }
static inline float bf16_1(uint16_t v)
{
    union { uint32_t u; float f; } const c = {(uint32_t)v << 16};
    return c.f;
}

RUN_AVX2_ROW(row_f32, float, f32x8, f32_1)
RUN_AVX2_ROW(row_f16, uint16_t, f16x8, f16_1)
RUN_AVX2_ROW(row_bf16, uint16_t, bf16x8, bf16_1)

/* dot_* and gemv_* (rows one at a time) per float type. */
#define RUN_AVX2_FLOAT(SUF, T, ROW)                                                                           \
    RUN_AVX2 float run__avx2_dot_##SUF(const T *w, const float *x, uint64_t n) { return ROW(w, x, n); }       \
    RUN_AVX2 void run__avx2_gemv_##SUF(const T *w, uint64_t n_rows, uint64_t cols, const float *x, float *out) \
    {                                                                                                        \
        for (uint64_t r = 0; r < n_rows; r++) out[r] = ROW(w + r * cols, x, cols);                           \
    }

RUN_AVX2_FLOAT(f32, float, row_f32)
RUN_AVX2_FLOAT(f16, uint16_t, row_f16)
RUN_AVX2_FLOAT(bf16, uint16_t, row_bf16)

/* int8 x int8 rows: maddubs takes |w| (unsigned, <= 128) and q with w's sign, pairs <= 2 * 128 *
 * 127 < 2^15; then madd widens to int32. Exact. */
RUN_AVX2 void run__avx2_i8_gemv(const int8_t *w, uint64_t n_rows, uint64_t cols, const int8_t *q, int32_t *out)
{
    __m256i const ones = _mm256_set1_epi16(1);
    for (uint64_t r = 0; r < n_rows; r++, w += cols) {
        __m256i acc = _mm256_setzero_si256();
        uint64_t i = 0;
        for (; i + 32 <= cols; i += 32) {
            __m256i const wv = _mm256_loadu_si256((const __m256i *)(const void *)(w + i));
            __m256i const qv = _mm256_loadu_si256((const __m256i *)(const void *)(q + i));
            __m256i const p = _mm256_maddubs_epi16(_mm256_abs_epi8(wv), _mm256_sign_epi8(qv, wv));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, ones));
        }
        int32_t s = hsum_i32(acc);
        for (; i < cols; i++) s += (int32_t)w[i] * q[i];
        out[r] = s;
    }
}

RUN_AVX2 void run__avx2_axpy_f32(float *y, float a, const float *x, uint64_t n)
{
    __m256 const va = _mm256_set1_ps(a);
    uint64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] += a * x[i];
}

/* Prefill: row by row, four tokens per call (the unpacked codes serve those four). */
static void avx2_t2_gemm(const uint8_t *codes, uint64_t n_rows, uint64_t n_blocks, const int8_t *q, uint64_t q_stride, uint32_t n_tok,
                        int32_t *out, uint64_t ld_out)
{
    run__t2_gemm_by_dot_n(avx2_t2_dot_n, codes, n_rows, n_blocks, q, q_stride, n_tok, out, ld_out);
}

static const run_kern avx2_kern = {"avx2",
                                   avx2_t2_dot,
                                   avx2_t2_dot_n,
                                   avx2_t2_gemv,
                                   avx2_t2_dot_chunks,
                                   run__avx2_dot_f32,
                                   run__avx2_dot_f16,
                                   run__avx2_dot_bf16,
                                   run__avx2_axpy_f32,
                                   run__avx2_gemv_f32,
                                   run__avx2_gemv_f16,
                                   run__avx2_gemv_bf16,
                                   run__avx2_i8_gemv,
                                   avx2_t2_gemm};

const run_kern *run_kern_avx2(void)
{
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return &avx2_kern;
    return NULL;
}

#else
const run_kern *run_kern_avx2(void) { return NULL; }
#endif
