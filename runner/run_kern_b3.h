/*
 * run_kern_b3.h - kernels for b3, the base-3 ternary form (spec 6.4: 5 weights per byte, 160
 * per 32-byte block), read directly: no decode step between the unit's bytes and the product.
 * Their own table, beside run_kern.h's, so the t2 sets stay as they are.
 *
 * A row of cols weights is ceil(cols / 160) blocks; digit n of byte m of block b is weight
 * 160 b + 32 n + m, so the "plane" p = 5 b + n is the 32 consecutive weights [32 p, 32 p + 32)
 * and a kernel takes n_planes = ceil(cols / 32) planes (the last block of a row may be read in
 * part). As for t2, the kernels return sums of digit * q with the raw digit (0..2); the caller
 * subtracts the sum of q. q must hold 32 * n_planes values (the runner pads to 128, zero past
 * cols). Sums are exact integers, so every set returns the same bits, and the same bits as t2
 * for the same weights (tests/test_run_b3.c).
 *
 * Digit n of byte b: ((uint8_t)(b * 3^n) * 3) >> 8 (ggml's TQ1_0 trick): on x86 one 16-bit
 * multiply per byte parity and one high multiply.
 */
#ifndef RUN_KERN_B3_H
#define RUN_KERN_B3_H

#include <stdint.h>

typedef struct run_b3_kern {
    const char *name;          /* "ref", "avx2", "avx512" */
    /* sum over n_planes planes of digit * q */
    int32_t (*dot)(const uint8_t *codes, const int8_t *q, uint64_t n_planes);
    /* n_rows rows (row_bytes apart) against one token: out[r] = dot(row r) */
    void (*gemv)(const uint8_t *codes, uint64_t n_rows, uint64_t row_bytes, const int8_t *q, uint64_t n_planes, int32_t *out);
    /* per plane: out[p] = sum over weights [32p, 32p+32) of digit * q (group scales) */
    void (*chunks)(const uint8_t *codes, const int8_t *q, uint64_t n_planes, int32_t *out);
} run_b3_kern;

const run_b3_kern *run_b3_kern_ref(void);
const run_b3_kern *run_b3_kern_avx2(void);    /* NULL where absent */
const run_b3_kern *run_b3_kern_avx512(void);  /* AVX-512 BW + VNNI; NULL where absent */
/* The b3 set matching a t2 set by name ("avx512" -> avx512, "avx2"/"avxvnni" -> avx2, else ref). */
const run_b3_kern *run_b3_kern_for(const char *t2_set);

#endif /* RUN_KERN_B3_H */
