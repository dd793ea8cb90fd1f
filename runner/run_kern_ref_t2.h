/* run_kern_ref_t2.h - private to runner/'s reference kernels: the per-plane t2 sums written once
 * for every activation type (int8 in run_kern_ref.c, int16 in run_kern16_ref.c). */
#ifndef RUN_KERN_REF_T2_H
#define RUN_KERN_REF_T2_H

#include <string.h>

/* static void NAME(codes, q, n_blocks, out): out[4 * b + k] = sum over plane k of block b of
 * code * q (spec 6.1: byte m of a block holds weight 32k + m in bits 2k). */
#define RUN_REF_T2_CHUNKS(NAME, QTYPE)                                                                   \
    static void NAME(const uint8_t *codes, const QTYPE *q, uint64_t n_blocks, int32_t *out)             \
    {                                                                                                    \
        for (uint64_t b = 0; b < n_blocks; b++, codes += 32, q += 128, out += 4) {                      \
            int32_t s[4] = {0, 0, 0, 0};                                                                 \
            for (unsigned m = 0; m < 32; m++) {                                                          \
                unsigned const v = codes[m];                                                             \
                for (unsigned k = 0; k < 4; k++) s[k] += (int32_t)((v >> (2 * k)) & 3) * q[m + 32 * k]; \
            }                                                                                            \
            memcpy(out, s, sizeof s);                                                                    \
        }                                                                                                \
    }

#endif /* RUN_KERN_REF_T2_H */
