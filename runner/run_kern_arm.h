/*
 * run_kern_arm.h - private to runner/'s aarch64 kernel files: the baseline NEON set's float
 * kernels, which the dot-product set (run_kern_neondot.c) shares.
 */
#ifndef RUN_KERN_ARM_H
#define RUN_KERN_ARM_H

#include <stdint.h>

float run__neon_dot_f32(const float *w, const float *x, uint64_t n);
float run__neon_dot_f16(const uint16_t *w, const float *x, uint64_t n);
float run__neon_dot_bf16(const uint16_t *w, const float *x, uint64_t n);
void run__neon_axpy_f32(float *y, float a, const float *x, uint64_t n);
void run__neon_gemv_f32(const float *w, uint64_t n_rows, uint64_t cols, const float *x, float *out);
void run__neon_gemv_f16(const uint16_t *w, uint64_t n_rows, uint64_t cols, const float *x, float *out);
void run__neon_gemv_bf16(const uint16_t *w, uint64_t n_rows, uint64_t cols, const float *x, float *out);

/* The FEAT_I8MM rows x tokens t2 kernel (run_kern_neoni8mm.c); callable only where the CPU has
 * it. Token tails and row tails go through dot_n. */
void run__neon_i8mm_t2_gemm(const uint8_t *codes, uint64_t n_rows, uint64_t n_blocks, const int8_t *q, uint64_t q_stride,
                            uint32_t n_tok, int32_t *out, uint64_t ld_out,
                            void (*dot_n)(const uint8_t *, const int8_t *, uint64_t, uint32_t, uint64_t, int32_t *));

#endif /* RUN_KERN_ARM_H */
