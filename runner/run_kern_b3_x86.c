/* run_kern_b3_x86.c - b3 kernels for AVX2 and AVX-512 BW + VNNI (run_kern_b3.h), with
 * per-function target attributes like the t2 sets; picked only where the CPU reports them. */
#include <stddef.h>

#include "run_kern_b3.h"
#include "run_kern_x86.h"

#if RUN_KERN_X86

#define RUN_B3_512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))

/* Digits (0..2, one per byte) of plane n of the 32 bytes v; k16 = 3^n in every 16-bit lane.
 * Even bytes: the low byte of v * 3^n is (b * 3^n) mod 256; moved to the high byte, a high
 * multiply by 3 gives ((b * 3^n mod 256) * 3) >> 8. Odd bytes: (v & 0xff00) * 3^n keeps
 * (b * 3^n mod 256) in the high byte with a zero low byte. */
RUN_AVX2 static inline __m256i b3_plane256(__m256i v, __m256i k16)
{
    __m256i const hi_mask = _mm256_set1_epi16((short)0xff00), three = _mm256_set1_epi16(3);
    __m256i const ev = _mm256_mulhi_epu16(_mm256_slli_epi16(_mm256_mullo_epi16(v, k16), 8), three);
    __m256i const od = _mm256_mulhi_epu16(_mm256_mullo_epi16(_mm256_and_si256(v, hi_mask), k16), three);
    return _mm256_or_si256(ev, _mm256_slli_epi16(od, 8));
}

#define LD256(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))

/* digits x q: maddubs pairs <= 2 * 2 * 127, five planes <= 2540: int16 holds them. */
RUN_AVX2 static int32_t avx2_dot(const uint8_t *codes, const int8_t *q, uint64_t n_planes)
{
    __m256i const ones = _mm256_set1_epi16(1);
    __m256i const k0 = _mm256_set1_epi16(1), k1 = _mm256_set1_epi16(3), k2 = _mm256_set1_epi16(9), k3 = _mm256_set1_epi16(27),
                  k4 = _mm256_set1_epi16(81);
    __m256i acc = _mm256_setzero_si256();
    uint64_t const nb = n_planes / 5;
    for (uint64_t b = 0; b < nb; b++, codes += 32, q += 160) {
        __m256i const v = LD256(codes);
        __m256i s = _mm256_maddubs_epi16(b3_plane256(v, k0), LD256(q));
        s = _mm256_add_epi16(s, _mm256_maddubs_epi16(b3_plane256(v, k1), LD256(q + 32)));
        s = _mm256_add_epi16(s, _mm256_maddubs_epi16(b3_plane256(v, k2), LD256(q + 64)));
        s = _mm256_add_epi16(s, _mm256_maddubs_epi16(b3_plane256(v, k3), LD256(q + 96)));
        s = _mm256_add_epi16(s, _mm256_maddubs_epi16(b3_plane256(v, k4), LD256(q + 128)));
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(s, ones));
    }
    unsigned const rem = (unsigned)(n_planes % 5);
    if (rem) {
        static const short pw[5] = {1, 3, 9, 27, 81};
        __m256i const v = LD256(codes);
        __m256i s = _mm256_setzero_si256();
        for (unsigned n = 0; n < rem; n++)
            s = _mm256_add_epi16(s, _mm256_maddubs_epi16(b3_plane256(v, _mm256_set1_epi16(pw[n])), LD256(q + 32 * n)));
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(s, ones));
    }
    return hsum_i32(acc);
}

RUN_AVX2 static void avx2_gemv(const uint8_t *codes, uint64_t n_rows, uint64_t row_bytes, const int8_t *q, uint64_t n_planes,
                               int32_t *out)
{
    for (uint64_t r = 0; r < n_rows; r++) out[r] = avx2_dot(codes + r * row_bytes, q, n_planes);
}

RUN_AVX2 static void avx2_chunks(const uint8_t *codes, const int8_t *q, uint64_t n_planes, int32_t *out)
{
    static const short pw[5] = {1, 3, 9, 27, 81};
    __m256i const ones = _mm256_set1_epi16(1);
    for (uint64_t p = 0; p < n_planes; p++) {
        __m256i const v = LD256(codes + (p / 5) * 32);
        __m256i const s = _mm256_madd_epi16(_mm256_maddubs_epi16(b3_plane256(v, _mm256_set1_epi16(pw[p % 5])), LD256(q + 32 * p)), ones);
        out[p] = hsum_i32(s);
    }
}

static const run_b3_kern avx2_b3 = {"avx2", avx2_dot, avx2_gemv, avx2_chunks};

const run_b3_kern *run_b3_kern_avx2(void)
{
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return &avx2_b3;
    return NULL;
}

/* ---- AVX-512: two blocks per step, vpdpbusd (digits are unsigned, q signed) ---- */

RUN_B3_512 static inline __m512i b3_plane512(__m512i v, __m512i k16)
{
    __m512i const hi_mask = _mm512_set1_epi16((short)0xff00), three = _mm512_set1_epi16(3);
    __m512i const ev = _mm512_mulhi_epu16(_mm512_slli_epi16(_mm512_mullo_epi16(v, k16), 8), three);
    __m512i const od = _mm512_mulhi_epu16(_mm512_mullo_epi16(_mm512_and_si512(v, hi_mask), k16), three);
    return _mm512_or_si512(ev, _mm512_slli_epi16(od, 8));
}

/* q of plane n of blocks b and b + 1 (160 apart) in one register. */
RUN_B3_512 static inline __m512i q_pair(const int8_t *q, unsigned n)
{
    return _mm512_inserti64x4(_mm512_castsi256_si512(LD256(q + 32 * n)), LD256(q + 160 + 32 * n), 1);
}

RUN_B3_512 static int32_t avx512_dot(const uint8_t *codes, const int8_t *q, uint64_t n_planes)
{
    static const short pw[5] = {1, 3, 9, 27, 81};
    __m512i acc = _mm512_setzero_si512();
    uint64_t const nb = n_planes / 5;
    uint64_t b = 0;
    for (; b + 2 <= nb; b += 2, codes += 64, q += 320) {
        __m512i const v = _mm512_loadu_si512((const void *)codes);
        for (unsigned n = 0; n < 5; n++) acc = _mm512_dpbusd_epi32(acc, b3_plane512(v, _mm512_set1_epi16(pw[n])), q_pair(q, n));
    }
    __m256i acc2 = _mm256_setzero_si256();
    unsigned const rest = (unsigned)(n_planes - b * 5);  /* < 10 planes: one full block and/or a partial one */
    for (unsigned p = 0; p < rest; p++) {
        __m256i const v = LD256(codes + (p / 5) * 32);
        acc2 = _mm256_dpbusd_epi32(acc2, b3_plane256(v, _mm256_set1_epi16(pw[p % 5])), LD256(q + 32 * p));
    }
    return _mm512_reduce_add_epi32(acc) + hsum_i32(acc2);
}

RUN_B3_512 static void avx512_gemv(const uint8_t *codes, uint64_t n_rows, uint64_t row_bytes, const int8_t *q, uint64_t n_planes,
                                   int32_t *out)
{
    for (uint64_t r = 0; r < n_rows; r++) out[r] = avx512_dot(codes + r * row_bytes, q, n_planes);
}

static const run_b3_kern avx512_b3 = {"avx512", avx512_dot, avx512_gemv, avx2_chunks};

const run_b3_kern *run_b3_kern_avx512(void)
{
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx2"))
        return &avx512_b3;
    return NULL;
}

#else
const run_b3_kern *run_b3_kern_avx2(void) { return NULL; }
const run_b3_kern *run_b3_kern_avx512(void) { return NULL; }
#endif
