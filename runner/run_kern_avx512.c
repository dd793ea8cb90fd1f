/* run_kern_avx512.c - AVX-512 kernels (F, BW, VL, VNNI; x86-64): 512-bit registers, vpdpbusd
 * for the t2 and int8 products, masked loads for row tails. Used only when the CPU and the OS
 * (XCR0's opmask and ZMM state, which __builtin_cpu_supports checks) report all four.
 *
 * t2: one block's 32 code bytes are broadcast to both halves of a register and shifted per half
 * (vpsrlvw by 0|2, then 4|6), so one register holds planes 0-1 and another planes 2-3, each
 * matching 64 consecutive activations: two vpdpbusd per block. Integer results equal every
 * other set's; float sums use a different order than AVX2 (allowed by run_kern.h), fixed here. */
#include <stddef.h>

#include "run_kern.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define RUN_512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,fma,f16c")))
#define LD(p) _mm512_loadu_si512((const void *)(p))

/* planes 0|1 and 2|3 of the block at codes, as unsigned bytes 0..3 */
RUN_512 static inline __attribute__((always_inline)) void planes(const uint8_t *codes, __m512i *c01, __m512i *c23)
{
    __m512i const m3 = _mm512_set1_epi8(3);
    __m512i const sh01 = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(2), 1);
    __m512i const sh23 = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(6), 1);
    __m512i const v = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(const void *)codes));
    *c01 = _mm512_and_si512(_mm512_srlv_epi16(v, sh01), m3);
    *c23 = _mm512_and_si512(_mm512_srlv_epi16(v, sh23), m3);
}

RUN_512 static int32_t k512_t2_dot(const uint8_t *codes, const int8_t *q, uint64_t n_blocks)
{
    __m512i a = _mm512_setzero_si512(), b = a, c01, c23;
    for (uint64_t i = 0; i < n_blocks; i++, codes += 32, q += 128) {
        planes(codes, &c01, &c23);
        a = _mm512_dpbusd_epi32(a, c01, LD(q));
        b = _mm512_dpbusd_epi32(b, c23, LD(q + 64));
    }
    return _mm512_reduce_add_epi32(_mm512_add_epi32(a, b));
}

RUN_512 static inline __attribute__((always_inline)) void dot_n_impl(const uint8_t *codes, const int8_t *q, uint64_t q_stride,
                                                                    uint64_t n_blocks, int32_t *out, const int n)
{
    __m512i a[4], b[4], c01, c23;
    for (int j = 0; j < 4; j++) a[j] = b[j] = _mm512_setzero_si512();
    for (uint64_t i = 0; i < n_blocks; i++, codes += 32) {
        planes(codes, &c01, &c23);
        _Pragma("GCC unroll 4") for (int j = 0; j < n; j++) {
            const int8_t *qj = q + j * q_stride + i * 128;
            a[j] = _mm512_dpbusd_epi32(a[j], c01, LD(qj));
            b[j] = _mm512_dpbusd_epi32(b[j], c23, LD(qj + 64));
        }
    }
    _Pragma("GCC unroll 4") for (int j = 0; j < n; j++) out[j] = _mm512_reduce_add_epi32(_mm512_add_epi32(a[j], b[j]));
}

RUN_512 static void k512_t2_dot_n(const uint8_t *codes, const int8_t *q, uint64_t q_stride, uint32_t n_tok, uint64_t n_blocks,
                                  int32_t *out)
{
    switch (n_tok) {
    case 1: dot_n_impl(codes, q, q_stride, n_blocks, out, 1); break;
    case 2: dot_n_impl(codes, q, q_stride, n_blocks, out, 2); break;
    case 3: dot_n_impl(codes, q, q_stride, n_blocks, out, 3); break;
    default: dot_n_impl(codes, q, q_stride, n_blocks, out, 4); break;
    }
}

/* Rows one at a time: on DRAM-bound decode shapes, single rows measured about twice as fast as
 * tiles of 2 or 4 rows sharing the activation loads (tools/bench/kernbench.c). */
RUN_512 static void k512_t2_gemv(const uint8_t *codes, uint64_t n_rows, const int8_t *q, uint64_t n_blocks, int32_t *out)
{
    for (uint64_t r = 0; r < n_rows; r++) out[r] = k512_t2_dot(codes + r * n_blocks * 32, q, n_blocks);
}

/* Per plane sums: 256-bit vpdpbusd (AVX512-VL) per plane, then the horizontal sum. */
RUN_512 static void k512_t2_dot_chunks(const uint8_t *codes, const int8_t *q, uint64_t n_blocks, int32_t *out)
{
    __m256i const m3 = _mm256_set1_epi8(3);
    for (uint64_t i = 0; i < n_blocks; i++, codes += 32, q += 128, out += 4) {
        __m256i const v = _mm256_loadu_si256((const __m256i *)(const void *)codes);
        for (int k = 0; k < 4; k++) {
            __m256i const c = _mm256_and_si256(_mm256_srl_epi16(v, _mm_cvtsi32_si128(2 * k)), m3);
            __m256i const p = _mm256_dpbusd_epi32(_mm256_setzero_si256(), c, _mm256_loadu_si256((const __m256i *)(const void *)(q + 32 * k)));
            __m128i s = _mm_add_epi32(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
            s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
            s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
            out[k] = _mm_cvtsi128_si32(s);
        }
    }
}

/* One float row: two accumulators over 32-value steps, one 16-value step into the first, the
 * masked tail (< 16) into the second, then the fixed-order reduction. gemv_* runs rows one at
 * a time (single rows stream DRAM faster here than tiles, as for t2). */
#define RUN_512_ROW(NAME, T, LOAD16, LOADM)                                                         \
    RUN_512 static inline __attribute__((always_inline)) float NAME(const T *w, const float *x, uint64_t cols) \
    {                                                                                             \
        __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();                                \
        uint64_t i = 0;                                                                           \
        for (; i + 32 <= cols; i += 32) {                                                         \
            a0 = _mm512_fmadd_ps(LOAD16(w + i), _mm512_loadu_ps(x + i), a0);                      \
            a1 = _mm512_fmadd_ps(LOAD16(w + i + 16), _mm512_loadu_ps(x + i + 16), a1);            \
        }                                                                                         \
        if (i + 16 <= cols) {                                                                     \
            a0 = _mm512_fmadd_ps(LOAD16(w + i), _mm512_loadu_ps(x + i), a0);                      \
            i += 16;                                                                              \
        }                                                                                         \
        if (i < cols) {                                                                           \
            __mmask16 const m = (__mmask16)((1u << (cols - i)) - 1u);                             \
            a1 = _mm512_fmadd_ps(LOADM(m, w + i), _mm512_maskz_loadu_ps(m, x + i), a1);           \
        }                                                                                         \
        return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));                                       \
    }

RUN_512 static inline __m512 f32x16(const float *w) { return _mm512_loadu_ps(w); }
RUN_512 static inline __m512 f32m(__mmask16 m, const float *w) { return _mm512_maskz_loadu_ps(m, w); }
RUN_512 static inline __m512 f16x16(const uint16_t *w) { return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)w)); }
RUN_512 static inline __m512 f16m(__mmask16 m, const uint16_t *w) { return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, w)); }
RUN_512 static inline __m512 bf16w(__m256i h) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)); }
RUN_512 static inline __m512 bf16x16(const uint16_t *w) { return bf16w(_mm256_loadu_si256((const __m256i *)(const void *)w)); }
RUN_512 static inline __m512 bf16m(__mmask16 m, const uint16_t *w) { return bf16w(_mm256_maskz_loadu_epi16(m, w)); }

RUN_512_ROW(row_f32, float, f32x16, f32m)
RUN_512_ROW(row_f16, uint16_t, f16x16, f16m)
RUN_512_ROW(row_bf16, uint16_t, bf16x16, bf16m)

#define RUN_512_FLOAT(SUF, T, ROW)                                                                        \
    RUN_512 static float k512_dot_##SUF(const T *w, const float *x, uint64_t n) { return ROW(w, x, n); }     \
    RUN_512 static void k512_gemv_##SUF(const T *w, uint64_t n_rows, uint64_t cols, const float *x, float *out) \
    {                                                                                                    \
        for (uint64_t r = 0; r < n_rows; r++) out[r] = ROW(w + r * cols, x, cols);                       \
    }

RUN_512_FLOAT(f32, float, row_f32)
RUN_512_FLOAT(f16, uint16_t, row_f16)
RUN_512_FLOAT(bf16, uint16_t, row_bf16)

RUN_512 static void k512_axpy_f32(float *y, float a, const float *x, uint64_t n)
{
    __m512 const va = _mm512_set1_ps(a);
    uint64_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
    if (i < n) {
        __mmask16 const m = (__mmask16)((1u << (n - i)) - 1u);
        _mm512_mask_storeu_ps(y + i, m, _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i)));
    }
}

/* int8 x int8 (one 64-value step): |w| as the unsigned operand, q negated where w < 0. */
RUN_512 static inline __m512i i8_step(__m512i acc, __m512i w, __m512i q)
{
    __mmask64 const neg = _mm512_movepi8_mask(w);
    return _mm512_dpbusd_epi32(acc, _mm512_abs_epi8(w), _mm512_mask_sub_epi8(q, neg, _mm512_setzero_si512(), q));
}

RUN_512 static void k512_i8_gemv(const int8_t *w, uint64_t n_rows, uint64_t cols, const int8_t *q, int32_t *out)
{
    for (uint64_t r = 0; r < n_rows; r++, w += cols) {
        __m512i a = _mm512_setzero_si512(), b = a;
        uint64_t i = 0;
        for (; i + 128 <= cols; i += 128) {
            a = i8_step(a, LD(w + i), LD(q + i));
            b = i8_step(b, LD(w + i + 64), LD(q + i + 64));
        }
        if (i + 64 <= cols) {
            a = i8_step(a, LD(w + i), LD(q + i));
            i += 64;
        }
        if (i < cols) {
            __mmask64 const m = (__mmask64)((1ull << (cols - i)) - 1u);
            b = i8_step(b, _mm512_maskz_loadu_epi8(m, w + i), _mm512_maskz_loadu_epi8(m, q + i));
        }
        out[r] = _mm512_reduce_add_epi32(_mm512_add_epi32(a, b));
    }
}

/* ---- prefill: rows x tokens ----------------------------------------------------------------
 * A tile of R rows x N tokens keeps R * N accumulators (both plane pairs of a block go into
 * the same one) in registers: per block each row is unpacked once (5 ops) and each token's 128
 * activations loaded once (2 loads) for 2 * R * N vpdpbusd. The R * N = 16 sums are reduced
 * together (a transposing add tree, 45 ops instead of 16 full horizontal sums) and written as
 * out[t * ld + r]. Integer sums, so any tiling gives the t2_dot results exactly. */

/* lane i of the result = the sum of the 16 lanes of a[i] */
RUN_512 static inline __attribute__((always_inline)) __m512i hsum16(const __m512i a[16])
{
    __m512i s1[8], s2[4];
    for (int i = 0; i < 8; i++)
        s1[i] = _mm512_add_epi32(_mm512_unpacklo_epi32(a[2 * i], a[2 * i + 1]), _mm512_unpackhi_epi32(a[2 * i], a[2 * i + 1]));
    /* s1[i] per 128-bit lane: [a0 02, a1 02, a0 13, a1 13] (the pair's partial sums) */
    for (int i = 0; i < 4; i++)
        s2[i] = _mm512_add_epi32(_mm512_unpacklo_epi64(s1[2 * i], s1[2 * i + 1]), _mm512_unpackhi_epi64(s1[2 * i], s1[2 * i + 1]));
    /* s2[i] per 128-bit lane L: the lane-L sums of a[4i], a[4i+1], a[4i+2], a[4i+3] */
    __m512i const t = _mm512_add_epi32(_mm512_shuffle_i32x4(s2[0], s2[1], 0x88), _mm512_shuffle_i32x4(s2[0], s2[1], 0xdd));
    __m512i const u = _mm512_add_epi32(_mm512_shuffle_i32x4(s2[2], s2[3], 0x88), _mm512_shuffle_i32x4(s2[2], s2[3], 0xdd));
    return _mm512_add_epi32(_mm512_shuffle_i32x4(t, u, 0x88), _mm512_shuffle_i32x4(t, u, 0xdd));
}

RUN_512 static inline __attribute__((always_inline)) void gemm_tile(const uint8_t *codes, uint64_t nb, const int8_t *q,
                                                                   uint64_t qs, int32_t *out, uint64_t ld, const int R,
                                                                   const int N)
{
    __m512i acc[16], c01[4], c23[4];
    for (int i = 0; i < 16; i++) acc[i] = _mm512_setzero_si512();
    for (uint64_t b = 0; b < nb; b++) {
        _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) planes(codes + (r * nb + b) * 32, &c01[r], &c23[r]);
        _Pragma("GCC unroll 8") for (int t = 0; t < N; t++) {
            __m512i const q0 = LD(q + t * qs + b * 128), q1 = LD(q + t * qs + b * 128 + 64);
            _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) {
                acc[t * R + r] = _mm512_dpbusd_epi32(acc[t * R + r], c01[r], q0);
                acc[t * R + r] = _mm512_dpbusd_epi32(acc[t * R + r], c23[r], q1);
            }
        }
    }
    int32_t s[16];
    _mm512_storeu_si512((void *)s, hsum16(acc));
    for (int t = 0; t < N; t++)
        for (int r = 0; r < R; r++) out[t * ld + r] = s[t * R + r];
}

#ifndef K512_GEMM_R
#define K512_GEMM_R 4
#endif

RUN_512 static void k512_t2_gemm(const uint8_t *codes, uint64_t n_rows, uint64_t n_blocks, const int8_t *q, uint64_t q_stride,
                                 uint32_t n_tok, int32_t *out, uint64_t ld_out)
{
    enum { R = K512_GEMM_R, N = 16 / K512_GEMM_R };
    uint64_t r = 0;
    uint32_t const nfull = n_tok - n_tok % N;
    for (; r + R <= n_rows; r += R) {
        for (uint32_t t = 0; t < nfull; t += N)
            gemm_tile(codes + r * n_blocks * 32, n_blocks, q + t * q_stride, q_stride, out + t * ld_out + r, ld_out, R, N);
        if (nfull < n_tok)
            run__t2_gemm_by_dot_n(k512_t2_dot_n, codes + r * n_blocks * 32, R, n_blocks, q + nfull * q_stride, q_stride,
                                  n_tok - nfull, out + nfull * ld_out + r, ld_out);
    }
    if (r < n_rows)
        run__t2_gemm_by_dot_n(k512_t2_dot_n, codes + r * n_blocks * 32, n_rows - r, n_blocks, q, q_stride, n_tok, out + r, ld_out);
}

static const run_kern k512_kern = {"avx512",
                                   k512_t2_dot,
                                   k512_t2_dot_n,
                                   k512_t2_gemv,
                                   k512_t2_dot_chunks,
                                   k512_dot_f32,
                                   k512_dot_f16,
                                   k512_dot_bf16,
                                   k512_axpy_f32,
                                   k512_gemv_f32,
                                   k512_gemv_f16,
                                   k512_gemv_bf16,
                                   k512_i8_gemv,
                                   k512_t2_gemm};

const run_kern *run_kern_avx512(void)
{
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512vnni"))
        return &k512_kern;
    return NULL;
}

#else
const run_kern *run_kern_avx512(void) { return NULL; }
#endif
