/*
 * run_blk.h - kernels for block-quantized weight rows in ggml's own block layouts (Q8_0, Q4_K,
 * Q6_K, MXFP4), which the container carries bit for bit (spec/container.md, element types
 * q8_0, q4_k, q6_k, mxfp4). Activations are quantized the way llama.cpp quantizes them for
 * each weight type's vec_dot_type, so results track llama.cpp's on the same GGUF:
 *   Q8_0, MXFP4 -> q8_0 activations (blocks of 32: int8 q[32], f16 scale d)
 *   Q4_K, Q6_K  -> q8_K activations (blocks of 256: f32 d, int8 q[256], int16 bsums[16])
 * One table of function pointers per instruction set (reference C, AVX2, NEON), chosen at run
 * time like run_kern.h. Every set returns, for each type, the same float as the reference up to
 * summation order of the per-block float products (integer block sums are exact).
 */
#ifndef RUN_BLK_H
#define RUN_BLK_H

#include <stddef.h>
#include <stdint.h>

typedef enum run_blk_type {
    RUN_BLK_Q8_0 = 0,  /* 32 weights, 34 bytes: f16 d, int8 qs[32] */
    RUN_BLK_Q4_K = 1,  /* 256 weights, 144 bytes: f16 d, f16 dmin, u8 scales[12], u8 qs[128] */
    RUN_BLK_Q6_K = 2,  /* 256 weights, 210 bytes: u8 ql[128], u8 qh[64], int8 scales[16], f16 d */
    RUN_BLK_MXFP4 = 3, /* 32 weights, 17 bytes: u8 e (E8M0), u8 qs[16] (E2M1 nibbles) */
    RUN_BLK_N
} run_blk_type;

/* Weights per block and bytes per block of a type. */
uint32_t run_blk_elems(run_blk_type t);
uint32_t run_blk_bytes(run_blk_type t);

/* Bytes run_blk_quantize_act needs for cols activations of a row of type t (cols is a multiple
 * of run_blk_elems(t)). */
size_t run_blk_act_bytes(run_blk_type t, uint64_t cols);
/* Quantizes x[0..cols) into act as llama.cpp's vec_dot_type of t (q8_0 or q8_K). Deterministic;
 * the same bytes for every kernel set. */
void run_blk_quantize_act(run_blk_type t, const float *x, uint64_t cols, void *act);
/* Dequantizes one row of cols weights to float (the reference; also used by tests and by the
 * float fallback of export/inspect). */
void run_blk_dequant_row(run_blk_type t, const void *row, uint64_t cols, float *out);

typedef struct run_blk_kern {
    const char *name; /* "ref", "avx2", "neon" */
    /* Dot product of one weight row (cols / elems blocks) with quantized activations. */
    float (*dot[RUN_BLK_N])(const void *row, const void *act, uint64_t cols);
} run_blk_kern;

const run_blk_kern *run_blk_kern_ref(void);  /* static storage */
const run_blk_kern *run_blk_kern_avx2(void); /* NULL when not built or the CPU lacks AVX2 */
const run_blk_kern *run_blk_kern_neon(void); /* NULL on non-aarch64 builds */
const run_blk_kern *run_blk_kern_best(void); /* static storage, never NULL */

#endif /* RUN_BLK_H */
