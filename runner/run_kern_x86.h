/*
 * run_kern_x86.h - private to runner/'s x86-64 kernel files: the target attribute of the AVX2
 * set, its horizontal sums, and the AVX2 float and int8 kernels the AVX-VNNI set shares (that
 * set differs only in the t2 and int8 products, run_kern_avxvnni.c).
 */
#ifndef RUN_KERN_X86_H
#define RUN_KERN_X86_H

#include <stdint.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define RUN_KERN_X86 1
#include <immintrin.h>

#define RUN_AVX2 __attribute__((target("avx2,fma,f16c")))

RUN_AVX2 static inline int32_t hsum_i32(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

RUN_AVX2 static inline float hsum_f32(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 0x55));
    return _mm_cvtss_f32(s);
}

/* The AVX2 set's float kernels (run_kern_avx2.c); callable only where AVX2, FMA and F16C are. */
float run__avx2_dot_f32(const float *w, const float *x, uint64_t n);
float run__avx2_dot_f16(const uint16_t *w, const float *x, uint64_t n);
float run__avx2_dot_bf16(const uint16_t *w, const float *x, uint64_t n);
void run__avx2_axpy_f32(float *y, float a, const float *x, uint64_t n);
void run__avx2_gemv_f32(const float *w, uint64_t n_rows, uint64_t cols, const float *x, float *out);
void run__avx2_gemv_f16(const uint16_t *w, uint64_t n_rows, uint64_t cols, const float *x, float *out);
void run__avx2_gemv_bf16(const uint16_t *w, uint64_t n_rows, uint64_t cols, const float *x, float *out);
void run__avx2_i8_gemv(const int8_t *w, uint64_t n_rows, uint64_t cols, const int8_t *q, int32_t *out);
#else
#define RUN_KERN_X86 0
#endif

#endif /* RUN_KERN_X86_H */
