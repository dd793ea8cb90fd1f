/* run_blk_avx2.c - AVX2 block kernels (x86-64), compiled with per-function target attributes
 * (RUN_AVX2: avx2, fma, f16c) so the rest of the program keeps the baseline ISA; used only when
 * the CPU reports AVX2, FMA and F16C.
 *
 * Each kernel computes every block's integer sum exactly with 8-bit multiplies (maddubs:
 * unsigned x signed bytes into int16 pairs) and then the reference's per-block float
 * (run_blk_int.h), adding the blocks in order, so the result has the reference's bits.
 * int16 headroom of maddubs (pairs must stay within +-32767):
 *   Q8_0  |w| (0..128, -128 included) x sign-moved a (-127..127): 2 * 128 * 127 = 32512
 *   MXFP4 |kvalue| (0..12) x sign-moved a: 2 * 12 * 127
 *   Q4_K  nibble (0..15) x a (-128..127): 2 * 15 * 128
 *   Q6_K  6-bit value (0..63, the -32 folded out through bsums) x a: 2 * 63 * 128 = 16128
 * The sign trick needs activations in [-127, 127], which run_blk_quantize_act guarantees
 * (q8_0: |x / d| <= 127; q8_K: min(127, ...) of |iscale * x| <= 127). */
#include <stddef.h>

#include "run_blk_int.h"
#include "run_kern_x86.h"

#if RUN_KERN_X86
#include <cpuid.h>

RUN_AVX2 static inline float f16c(const uint8_t *p) { return _cvtsh_ss(trit_load_le16(p)); }

/* Exact signed dot of 32 weight bytes with 32 activation bytes as 8 int32 lanes. */
RUN_AVX2 static inline __m256i dot32_i8(__m256i w, __m256i a)
{
    __m256i const p = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(a, w));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

/* Four blocks' int32 lane vectors to their four sums [s0, s1, s2, s3]. */
RUN_AVX2 static inline __m128i hsum4(__m256i v0, __m256i v1, __m256i v2, __m256i v3)
{
    __m256i const h = _mm256_hadd_epi32(_mm256_hadd_epi32(v0, v1), _mm256_hadd_epi32(v2, v3));
    return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

RUN_AVX2 static inline __m256i load32(const uint8_t *p) { return _mm256_loadu_si256((const __m256i *)(const void *)p); }

/* The f16 at p, p + stride, p + 2 stride, p + 3 stride as four floats. */
RUN_AVX2 static inline __m128 f16x4(const uint8_t *p, size_t stride)
{
    return _mm_cvtph_ps(_mm_setr_epi16((short)trit_load_le16(p), (short)trit_load_le16(p + stride), (short)trit_load_le16(p + 2 * stride),
                                       (short)trit_load_le16(p + 3 * stride), 0, 0, 0, 0));
}

/* Adds four blocks' floats to sum in block order (the reference's order). */
RUN_AVX2 static inline float add4(float sum, __m128 v)
{
    float f[4];
    _mm_storeu_ps(f, v);
    for (int k = 0; k < 4; k++) sum += f[k];
    return sum;
}

/* Four blocks at once: the integer sums reduced together, the per-block floats of
 * run__blk_q8_0_val computed lane by lane (the same IEEE products), then added in order. */
RUN_AVX2 static float avx2_dot_q8_0(const void *row, const void *act, uint64_t cols)
{
    const uint8_t *w = row, *a = act;
    uint64_t const nb = cols / 32;
    float sum = 0.0f;
    uint64_t i = 0;
    for (; i + 4 <= nb; i += 4, w += 4 * 34, a += 4 * RUN_BLK_Q8_0_BYTES) {
        __m256i v[4];
        for (int k = 0; k < 4; k++) v[k] = dot32_i8(load32(w + 34 * k + 2), load32(a + 34 * k + 2));
        __m128 const s = _mm_mul_ps(f16x4(w, 34), f16x4(a, RUN_BLK_Q8_0_BYTES));
        sum = add4(sum, _mm_mul_ps(_mm_cvtepi32_ps(hsum4(v[0], v[1], v[2], v[3])), s));
    }
    for (; i < nb; i++, w += 34, a += RUN_BLK_Q8_0_BYTES)
        sum += run__blk_q8_0_val(f16c(w), f16c(a), hsum_i32(dot32_i8(load32(w + 2), load32(a + 2))));
    return sum;
}

/* run__blk_e8m0_half of four E8M0 bytes (int32 lanes): (e - 1) << 23, or the subnormals
 * 0x00200000 << e for e < 2. */
RUN_AVX2 static inline __m128 e8m0_half4(__m128i e)
{
    __m128i const big = _mm_slli_epi32(_mm_sub_epi32(e, _mm_set1_epi32(1)), 23);
    __m128i const small = _mm_sllv_epi32(_mm_set1_epi32(0x00200000), e);
    return _mm_castsi128_ps(_mm_blendv_epi8(big, small, _mm_cmpgt_epi32(_mm_set1_epi32(2), e)));
}

/* The 32 weights of an MXFP4 block as kvalues bytes: low nibbles (weights 0-15) in the low
 * lane, high nibbles (16-31) in the high lane, looked up with pshufb. */
RUN_AVX2 static inline __m256i mxfp4_vals(const uint8_t *qs, __m128i table)
{
    __m128i const v = _mm_loadu_si128((const __m128i *)(const void *)qs), m = _mm_set1_epi8(0x0f);
    __m128i const lo = _mm_shuffle_epi8(table, _mm_and_si128(v, m));
    __m128i const hi = _mm_shuffle_epi8(table, _mm_and_si128(_mm_srli_epi16(v, 4), m));
    return _mm256_set_m128i(hi, lo);
}

RUN_AVX2 static float avx2_dot_mxfp4(const void *row, const void *act, uint64_t cols)
{
    const uint8_t *w = row, *a = act;
    uint64_t const nb = cols / 32;
    __m128i const table = _mm_loadu_si128((const __m128i *)(const void *)run__blk_kvalues_mxfp4);
    float sum = 0.0f;
    uint64_t i = 0;
    for (; i + 4 <= nb; i += 4, w += 4 * 17, a += 4 * RUN_BLK_Q8_0_BYTES) {
        __m256i v[4];
        for (int k = 0; k < 4; k++) v[k] = dot32_i8(mxfp4_vals(w + 17 * k + 1, table), load32(a + 34 * k + 2));
        __m128 const d = _mm_mul_ps(f16x4(a, RUN_BLK_Q8_0_BYTES), e8m0_half4(_mm_setr_epi32(w[0], w[17], w[34], w[51])));
        sum = add4(sum, _mm_mul_ps(d, _mm_cvtepi32_ps(hsum4(v[0], v[1], v[2], v[3]))));
    }
    for (; i < nb; i++, w += 17, a += RUN_BLK_Q8_0_BYTES)
        sum += run__blk_mxfp4_val(f16c(a), w[0], hsum_i32(dot32_i8(mxfp4_vals(w + 1, table), load32(a + 2))));
    return sum;
}

/* sum over j of bsums[j] * m[j / 2] (m: 8 int16 values) for Q4_K's min term, or of bsums[j] *
 * m[j] (m: 16 values) for Q6_K's -32 term: one madd of int16 pairs. */
RUN_AVX2 static inline int32_t bsums_dot(const uint8_t *blk, __m256i m16)
{
    __m256i const b = _mm256_loadu_si256((const __m256i *)(const void *)(blk + RUN_BLK_Q8K_BSUMS));
    return hsum_i32(_mm256_madd_epi16(b, m16));
}

/* Q4_K: per 64-weight group g the low nibbles (sub-block 2g) and high nibbles (2g + 1) each
 * give 16 int16 pair sums, weighted by their sub-block's scale (a shuffle of the 8 scales
 * held as int16 in both lanes); the mins meet the bsums in one madd. Both sums are reduced
 * together at the end of the block. */
RUN_AVX2 static float avx2_dot_q4_k(const void *row, const void *act, uint64_t cols)
{
    const uint8_t *w = row, *a = act;
    __m256i const m4 = _mm256_set1_epi8(0x0f);
    float sum = 0.0f;
    for (uint64_t i = 0; i < cols / 256; i++, w += 144, a += RUN_BLK_Q8K_BYTES) {
        uint8_t sm[16];
        run__blk_q4k_scales(w + 4, sm);
        __m128i const smv = _mm_loadu_si128((const __m128i *)(const void *)sm);
        __m256i const sc16 = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(smv)); /* s0..s7 in each lane */
        const uint8_t *q8 = a + RUN_BLK_Q8K_QS;
        __m256i acc = _mm256_setzero_si256();
        for (int g = 0; g < 4; g++) {
            /* words 2g and 2g + 1 of sc16, broadcast: bytes 4g..4g+1 and 4g+2..4g+3 */
            __m256i const slo = _mm256_shuffle_epi8(sc16, _mm256_set1_epi16((short)(0x0100 + 0x0404 * g)));
            __m256i const shi = _mm256_shuffle_epi8(sc16, _mm256_set1_epi16((short)(0x0302 + 0x0404 * g)));
            __m256i const v = load32(w + 16 + 32 * g);
            __m256i const lo = _mm256_maddubs_epi16(_mm256_and_si256(v, m4), load32(q8 + 64 * g));
            __m256i const hi = _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(v, 4), m4), load32(q8 + 64 * g + 32));
            acc = _mm256_add_epi32(acc, _mm256_add_epi32(_mm256_madd_epi16(lo, slo), _mm256_madd_epi16(hi, shi)));
        }
        /* mins, each repeated for the two bsums (16 weights each) of its sub-block */
        __m256i const mins = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(smv, smv));
        __m256i const mm = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(const void *)(a + RUN_BLK_Q8K_BSUMS)), mins);
        /* [isum, summ] from the two vectors at once */
        __m256i const h = _mm256_hadd_epi32(acc, mm);
        __m128i r = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
        r = _mm_hadd_epi32(r, r);
        sum += run__blk_q4k_val(f16c(w), f16c(w + 2), run__blk_q8k_d(a), _mm_cvtsi128_si32(r), _mm_extract_epi32(r, 1));
    }
    return sum;
}

/* Q6_K: weight l + 32k of half h (l < 32) is (ql[64h + l + 32(k & 1)] >> 4(k >> 1)) & 15 with
 * bits 2k+1:2k of qh[32h + l] on top; sub-blocks of 16 weights each have a signed scale.
 * The sum of scale * (q - 32) * a is scale * q * a summed, minus 32 * scale * bsum summed. */
RUN_AVX2 static float avx2_dot_q6_k(const void *row, const void *act, uint64_t cols)
{
    const uint8_t *w = row, *a = act;
    __m256i const m4 = _mm256_set1_epi8(0x0f), m2 = _mm256_set1_epi8(0x30);
    float sum = 0.0f;
    for (uint64_t i = 0; i < cols / 256; i++, w += 210, a += RUN_BLK_Q8K_BYTES) {
        const int8_t *sc = (const int8_t *)(const void *)(w + 192);
        const uint8_t *q8 = a + RUN_BLK_Q8K_QS;
        __m256i acc = _mm256_setzero_si256();
        for (unsigned h = 0; h < 2; h++) {
            __m256i const l0 = load32(w + 64 * h), l1 = load32(w + 64 * h + 32), qh = load32(w + 128 + 32 * h);
            __m256i q[4];
            q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), m2));
            q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), m2));
            q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(qh, m2));
            q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4), _mm256_and_si256(_mm256_srli_epi16(qh, 2), m2));
            for (unsigned k = 0; k < 4; k++) {
                /* low lane: weights l < 16 (sub-block 8h + 2k), high lane: l >= 16 (8h + 2k + 1) */
                unsigned const j = 8 * h + 2 * k;
                __m256i const s = _mm256_set_m128i(_mm_set1_epi16(sc[j + 1]), _mm_set1_epi16(sc[j]));
                __m256i const p = _mm256_maddubs_epi16(q[k], load32(q8 + 128 * h + 32 * k));
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, s));
            }
        }
        __m256i const sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)sc));
        int32_t const isum = hsum_i32(acc) - 32 * bsums_dot(a, sc16);
        sum += run__blk_q6k_val(f16c(w + 208), run__blk_q8k_d(a), isum);
    }
    return sum;
}

static const run_blk_kern avx2_kern = {"avx2", {avx2_dot_q8_0, avx2_dot_q4_k, avx2_dot_q6_k, avx2_dot_mxfp4}};

const run_blk_kern *run_blk_kern_avx2(void)
{
    __builtin_cpu_init();
    /* F16C from CPUID leaf 1 (ECX bit 29): clang's __builtin_cpu_supports does not know it */
    unsigned eax, ebx, ecx, edx;
    int const f16c_ok = __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & bit_F16C);
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && f16c_ok) return &avx2_kern;
    return NULL;
}

#else
const run_blk_kern *run_blk_kern_avx2(void) { return NULL; }
#endif
