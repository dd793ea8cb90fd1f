/*
 * run_blk_check.h - block-kernel set checks shared by the host test (tests/test_run_blk.c) and
 * the aarch64 program run under qemu-user (tests/cross/run_blk_main.c). Header-only on purpose:
 * the cross program is built from it without the test harness.
 *
 * Every set must return the reference's float bit for bit (run_blk_int.h: exact integer block
 * sums, the same per-block float operations, blocks added in order). Rows are pseudo-random
 * blocks of every type at odd block counts, against activations quantized by
 * run_blk_quantize_act from random floats; special rows: extreme scales (the largest and a
 * subnormal f16, E8M0 0, 1, 254), -128 in every Q8_0 weight, all-zero rows and activations,
 * every nibble and 6-bit value at its maximum (all bytes 0xFF).
 */
#ifndef RUN_BLK_CHECK_H
#define RUN_BLK_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kern_check_state.h"
#include "run_blk.h"

/* A finite f16 from random bits: an exponent field of 31 (inf / NaN) loses its top bit. */
static inline uint16_t bc_f16(kc_state *s)
{
    uint16_t h = (uint16_t)kc_next(s);
    if ((h & 0x7c00u) == 0x7c00u) h &= 0xbfffu;
    return h;
}

/* A modest f16 (exponent 8..22, |d| in [2^-7, 2^8)): products stay far from overflow. */
static inline uint16_t bc_f16_mid(kc_state *s)
{
    uint16_t const m = (uint16_t)(kc_next(s) & 0x83ffu);
    return (uint16_t)(m | (uint16_t)((8u + kc_next(s) % 15u) << 10));
}

static inline void bc_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v & 0xff);
    p[1] = (uint8_t)(v >> 8);
}

/* Position of each type's f16 scales in its block (mxfp4 has an E8M0 byte at 0 instead). */
static inline void bc_block(kc_state *s, run_blk_type t, uint8_t *b, int mode)
{
    uint32_t const nbytes = run_blk_bytes(t);
    for (uint32_t i = 0; i < nbytes; i++) b[i] = (uint8_t)kc_next(s);
    if (mode == 2) memset(b, 0, nbytes);
    if (mode == 3) memset(b, 0xff, nbytes); /* every nibble / 6-bit value / scale byte at its maximum */
    uint16_t h0 = mode == 1 ? (kc_next(s) & 1 ? 0x7bffu : 0x0001u) : mode == 0 ? bc_f16_mid(s) : mode == 3 ? 0x3c00u : 0;
    uint16_t h1 = mode == 1 ? (kc_next(s) & 1 ? 0x7bffu : 0x0001u) : mode == 0 ? bc_f16_mid(s) : mode == 3 ? 0x3c00u : 0;
    if (mode == 4) h0 = bc_f16(s), h1 = bc_f16(s);
    switch (t) {
        case RUN_BLK_Q8_0:
            if (mode != 2) bc_put16(b, h0);
            if (mode == 3) memset(b + 2, 0x80, 32); /* -128, the int8 the SIMD sign tricks must survive */
            break;
        case RUN_BLK_Q4_K:
            if (mode != 2) {
                bc_put16(b, h0);
                bc_put16(b + 2, h1);
            }
            break;
        case RUN_BLK_Q6_K:
            if (mode != 2) bc_put16(b + 208, h0);
            if (mode == 3) memset(b + 192, 0x80, 16); /* scales -128 with the largest values */
            break;
        case RUN_BLK_MXFP4:
            if (mode == 0) b[0] = (uint8_t)(100 + kc_next(s) % 55);
            if (mode == 1) {
                static const uint8_t ext[4] = {0, 1, 254, 2};
                b[0] = ext[kc_next(s) % 4];
            }
            if (mode == 3) b[0] = 127;
            break;
        default: break;
    }
}

/* Activations: random floats of a magnitude that varies by row (1e-30 .. 1e6), all zero for
 * mode 2, one huge outlier per block for mode 1. */
static inline void bc_acts(kc_state *s, float *x, uint64_t cols, int mode)
{
    static const float mags[5] = {1e-30f, 1e-3f, 1.0f, 37.0f, 1e6f};
    float const mag = mags[kc_next(s) % 5];
    for (uint64_t i = 0; i < cols; i++) x[i] = mode == 2 ? 0.0f : kc_unit(s) * mag;
    if (mode == 1)
        for (uint64_t i = 0; i < cols; i += 32) x[i + kc_next(s) % 32] = (kc_next(s) & 1 ? 1e4f : -1e4f) * mag;
}

static inline int bc_same(float a, float b) { return !memcmp(&a, &b, sizeof a) || (a != a && b != b); }

/* Every type of set k against ref on random and special rows; returns the number of failures. */
static inline unsigned blk_check_all(const run_blk_kern *ref, const run_blk_kern *k, kc_state *s)
{
    kc_seed(s, 20261207);
    static const unsigned counts[] = {1, 2, 3, 5, 7, 9, 13, 33};
    for (int t = 0; t < RUN_BLK_N; t++) {
        uint32_t const el = run_blk_elems((run_blk_type)t), by = run_blk_bytes((run_blk_type)t);
        for (unsigned ci = 0; ci < sizeof counts / sizeof counts[0]; ci++) {
            unsigned const nb = el == 256 && counts[ci] > 9 ? counts[ci] / 4 : counts[ci];
            uint64_t const cols = (uint64_t)nb * el;
            uint8_t *row = malloc((size_t)nb * by);
            float *x = malloc(sizeof *x * cols);
            void *act = malloc(run_blk_act_bytes((run_blk_type)t, cols));
            if (!row || !x || !act) {
                kc_fail(s, "out of memory");
                free(row);
                free(x);
                free(act);
                return s->failures;
            }
            for (unsigned rep = 0; rep < 12; rep++) {
                /* modes: 0 random, 1 extreme scales, 2 all zero, 3 maxima, 4 any finite f16 */
                int const wmode = rep < 5 ? 0 : rep == 5 || rep == 9 ? 1 : rep == 6 ? 2 : rep == 7 || rep == 10 ? 3 : 4;
                int const amode = rep == 8 ? 2 : rep == 9 || rep == 11 ? 1 : 0;
                for (unsigned b = 0; b < nb; b++) bc_block(s, (run_blk_type)t, row + (size_t)b * by, wmode == 4 && b % 2 ? 0 : wmode);
                bc_acts(s, x, cols, amode);
                run_blk_quantize_act((run_blk_type)t, x, cols, act);
                float const a = ref->dot[t](row, act, cols), r = k->dot[t](row, act, cols);
                s->checks++;
                if (!bc_same(a, r))
                    kc_fail(s, "%s: type %d, %u blocks, weights mode %d, acts mode %d: %.9g vs reference %.9g", k->name, t, nb,
                            wmode, amode, (double)r, (double)a);
            }
            free(row);
            free(x);
            free(act);
        }
    }
    return s->failures;
}

#endif /* RUN_BLK_CHECK_H */
