/* run_kern16_avx2.c - the AVX2 int16-activation t2 kernel (run_kern16.h). Codes widen to int16
 * and meet q in madd_epi16: pairs of 3 * 32767 fit its int32 lanes, and a plane's 16 pair sums
 * stay below 2^22, so everything is exact. */
#include <stddef.h>

#include "run_kern16.h"
#include "run_kern_x86.h"

#if RUN_KERN_X86

/* 32 codes (0..3 in bytes) of one plane times 32 int16 q: 8 int32 partial sums. */
RUN_AVX2 static inline __m256i plane16(__m256i c, const int16_t *q)
{
    __m256i const lo = _mm256_cvtepu8_epi16(_mm256_castsi256_si128(c));
    __m256i const hi = _mm256_cvtepu8_epi16(_mm256_extracti128_si256(c, 1));
    return _mm256_add_epi32(_mm256_madd_epi16(lo, _mm256_loadu_si256((const __m256i *)(const void *)q)),
                            _mm256_madd_epi16(hi, _mm256_loadu_si256((const __m256i *)(const void *)(q + 16))));
}

RUN_AVX2 static void avx2_t2_chunks16(const uint8_t *codes, const int16_t *q, uint64_t n_blocks, int32_t *out)
{
    __m256i const m3 = _mm256_set1_epi8(3);
    for (uint64_t b = 0; b < n_blocks; b++, codes += 32, q += 128, out += 4) {
        __m256i const v = _mm256_loadu_si256((const __m256i *)(const void *)codes);
        __m256i const s0 = plane16(_mm256_and_si256(v, m3), q);
        __m256i const s1 = plane16(_mm256_and_si256(_mm256_srli_epi16(v, 2), m3), q + 32);
        __m256i const s2 = plane16(_mm256_and_si256(_mm256_srli_epi16(v, 4), m3), q + 64);
        __m256i const s3 = plane16(_mm256_and_si256(_mm256_srli_epi16(v, 6), m3), q + 96);
        /* transpose-add: lanes [s0 s1 s2 s3] of each 128-bit half, then the halves */
        __m256i const h = _mm256_hadd_epi32(_mm256_hadd_epi32(s0, s1), _mm256_hadd_epi32(s2, s3));
        __m128i const r = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
        _mm_storeu_si128((__m128i *)(void *)out, r);
    }
}

static const run_kern16 avx2_kern16 = {"avx2", avx2_t2_chunks16};

const run_kern16 *run_kern16_avx2(void)
{
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return &avx2_kern16;
    return NULL;
}

#else
const run_kern16 *run_kern16_avx2(void) { return NULL; }
#endif
