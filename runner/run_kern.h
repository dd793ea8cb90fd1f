/*
 * run_kern.h - compute kernels of the runner: one table of function pointers per instruction
 * set (portable C reference, AVX2, AVX-VNNI, AVX-512 VNNI, NEON, NEON with the dot-product
 * extension), chosen at run time.
 *
 * t2 kernels work on the container's block layout (spec 6.1): a block is 32 bytes holding 128
 * weights; byte m has weight m in bits 1:0, m+32 in 3:2, m+64 in 5:4, m+96 in 7:6. So the
 * 2-bit "plane" k of a block is the 32 consecutive weights [32k, 32k+32), and one 32-byte load
 * yields 4 x 32 weights with shifts and masks only.
 *
 * The integer kernels return sums of code * q with the raw code (0..3); the caller subtracts
 * the sum of q to get sum((code - 1) * q). Doing it this way lets x86 use maddubs (unsigned x
 * signed bytes) and costs one precomputed sum per token. Results are exact integers, so every
 * kernel set returns bit-identical t2 results; float dot products may differ in the last bits
 * between kernel sets (different summation order), never between runs of one set.
 *
 * Bounds: q values are in [-127, 127] and rows have at most RUN_MAX_COLS weights, so sums fit
 * int32 (3 * 127 * 2^22 < 2^31).
 *
 * The GEMV entries exist so a kernel can read the activations once for several rows; their
 * contract is per row: gemv_f16's out[r] has the same bits as dot_f16 of row r of the same set,
 * so how rows are split over threads (or tiled) never changes a result. i8_gemv returns exact
 * integer sums of int8 weights x int8 activations (every set the same); rows have at most
 * RUN_KERN_I8_MAX_COLS values so 128 * 127 * cols < 2^31.
 */
#ifndef RUN_KERN_H
#define RUN_KERN_H

#include <stdint.h>

#define RUN_KERN_I8_MAX_COLS (1u << 17)

typedef struct run_kern {
    const char *name;          /* "ref", "avx2", "avxvnni", "avx512", "neon", "neondot", "neoni8mm" */
    /* sum over n_blocks blocks of code * q (code 0..3 as stored). q holds 128 * n_blocks. */
    int32_t (*t2_dot)(const uint8_t *codes, const int8_t *q, uint64_t n_blocks);
    /* The same row against n_tok <= 4 tokens at once (token j's q at q + j * q_stride): the
     * codes are unpacked once per block for all of them. out[j] = t2_dot(codes, q_j, n_blocks). */
    void (*t2_dot_n)(const uint8_t *codes, const int8_t *q, uint64_t q_stride, uint32_t n_tok, uint64_t n_blocks,
                     int32_t *out);
    /* n_rows consecutive rows (n_blocks blocks each) against one token: out[r] = t2_dot(row r). */
    void (*t2_gemv)(const uint8_t *codes, uint64_t n_rows, const int8_t *q, uint64_t n_blocks, int32_t *out);
    /* Per plane: out[4 * b + k] = sum over weights [32k, 32k+32) of block b of code * q. */
    void (*t2_dot_chunks)(const uint8_t *codes, const int8_t *q, uint64_t n_blocks, int32_t *out);
    /* Float dot products of a stored row with f32 activations. */
    float (*dot_f32)(const float *w, const float *x, uint64_t n);
    float (*dot_f16)(const uint16_t *w, const float *x, uint64_t n);
    float (*dot_bf16)(const uint16_t *w, const float *x, uint64_t n);
    /* y[i] += a * x[i] (attention's weighted sum of values). */
    void (*axpy_f32)(float *y, float a, const float *x, uint64_t n);
    /* n_rows consecutive rows of cols values against x: out[r] = dot_*(w + r * cols, x, cols),
     * bit for bit (the output head, float router and gate matrices at one token). */
    void (*gemv_f32)(const float *w, uint64_t n_rows, uint64_t cols, const float *x, float *out);
    void (*gemv_f16)(const uint16_t *w, uint64_t n_rows, uint64_t cols, const float *x, float *out);
    void (*gemv_bf16)(const uint16_t *w, uint64_t n_rows, uint64_t cols, const float *x, float *out);
    /* n_rows rows of cols int8 weights against int8 q (q holds at least cols values):
     * out[r] = sum_i w[r * cols + i] * q[i], exact. cols <= RUN_KERN_I8_MAX_COLS. */
    void (*i8_gemv)(const int8_t *w, uint64_t n_rows, uint64_t cols, const int8_t *q, int32_t *out);
    /* Rows x tokens (prefill): out[t * ld_out + r] = t2_dot(row r, q + t * q_stride, n_blocks) for
     * every r < n_rows and t < n_tok, rows n_blocks * 32 bytes apart. A set tiles rows and tokens
     * so that the unpacked codes of a few rows serve a tile of tokens held in registers. */
    void (*t2_gemm)(const uint8_t *codes, uint64_t n_rows, uint64_t n_blocks, const int8_t *q, uint64_t q_stride,
                    uint32_t n_tok, int32_t *out, uint64_t ld_out);
} run_kern;

/* t2_gemm from a set's t2_dot_n (four tokens per call, row by row): for sets without a tiled
 * kernel of their own. */
void run__t2_gemm_by_dot_n(void (*dot_n)(const uint8_t *, const int8_t *, uint64_t, uint32_t, uint64_t, int32_t *),
                           const uint8_t *codes, uint64_t n_rows, uint64_t n_blocks, const int8_t *q, uint64_t q_stride,
                           uint32_t n_tok, int32_t *out, uint64_t ld_out);

/* The portable reference. Static storage. */
const run_kern *run_kern_ref(void);
/* AVX2 (+FMA, F16C) table if this build has it and the CPU supports it, else NULL. */
const run_kern *run_kern_avx2(void);
/* AVX2 with AVX-VNNI's vpdpbusd for the integer kernels (VEX, 256-bit), else NULL. */
const run_kern *run_kern_avxvnni(void);
/* AVX-512 (F, BW, VL) with AVX512-VNNI, 512-bit, else NULL. */
const run_kern *run_kern_avx512(void);
/* NEON table on aarch64 builds, else NULL. */
const run_kern *run_kern_neon(void);
/* NEON with the dot-product extension (sdot, FEAT_DotProd) where the CPU reports it, else NULL. */
const run_kern *run_kern_neondot(void);
/* The dot-product set with the int8 matrix multiply (smmla, FEAT_I8MM) prefill kernel, else NULL. */
const run_kern *run_kern_neoni8mm(void);
/* The best available table (AVX-512 VNNI, AVX-VNNI, AVX2, NEON i8mm, NEON dot product, NEON,
 * else the reference). Static storage. */
const run_kern *run_kern_best(void);

#endif /* RUN_KERN_H */
