/* run_blk_neon.c - NEON block kernels (aarch64): a baseline set (ARMv8.0, widening multiplies)
 * and, where the CPU reports the dot-product extension (FEAT_DotProd, as run_kern_neondot.c
 * asks), a set using sdot. Both are one body (run_blk_neon_body.h) with a different int8 dot;
 * run_blk_kern_neon() returns the dot-product set when it can run, else the baseline one.
 * Both return the reference's bits. */
#include <stddef.h>

#include "run_blk_int.h"

#if defined(__aarch64__)
#include <arm_neon.h>

#if defined(__linux__)
#include <sys/auxv.h>
#endif

static inline float neon_f16(const uint8_t *p)
{
    return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(trit_load_le16(p)))), 0);
}

/* Baseline: 16 int8 products widened to int16 (|p| <= 128 * 128 = 2^14) and added pairwise. */
static inline int32x4_t neon_dot16(int32x4_t acc, int8x16_t a, int8x16_t b)
{
    acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(a), vget_low_s8(b)));
    return vpadalq_s16(acc, vmull_high_s8(a, b));
}

#define BLK_FN(name) neon_##name
#define BLK_ATTR
#define BLK_DOT(acc, a, b) neon_dot16(acc, a, b)
#include "run_blk_neon_body.h"
#undef BLK_FN
#undef BLK_ATTR
#undef BLK_DOT

static const run_blk_kern neon_kern = {"neon", {neon_dot_q8_0, neon_dot_q4_k, neon_dot_q6_k, neon_dot_mxfp4}};

/* clang accepts the sdot intrinsic only when the whole file targets it (as run_kern_neondot.c) */
#if defined(__GNUC__) && (!defined(__clang__) || defined(__ARM_FEATURE_DOTPROD))
#define RUN_BLK_NEONDOT 1
#define BLK_FN(name) neondot_##name
#define BLK_ATTR __attribute__((target("arch=armv8.2-a+dotprod")))
#define BLK_DOT(acc, a, b) vdotq_s32(acc, a, b)
#include "run_blk_neon_body.h"
#undef BLK_FN
#undef BLK_ATTR
#undef BLK_DOT

static const run_blk_kern neondot_kern = {"neondot", {neondot_dot_q8_0, neondot_dot_q4_k, neondot_dot_q6_k, neondot_dot_mxfp4}};
#endif

const run_blk_kern *run_blk_kern_neon(void)
{
#if defined(RUN_BLK_NEONDOT) && defined(__linux__) && defined(HWCAP_ASIMDDP)
    if (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) return &neondot_kern;
#endif
    return &neon_kern;
}

#else
const run_blk_kern *run_blk_kern_neon(void) { return NULL; }
#endif
