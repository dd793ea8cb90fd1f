/*
 * trit_safemath.h - overflow-checked size arithmetic (style R11).
 *
 * Every offset + size, count * size and align_up on values that came from a file goes through
 * these helpers. Each returns 0 on success and non-zero on overflow, leaving *out unspecified.
 */
#ifndef TRIT_SAFEMATH_H
#define TRIT_SAFEMATH_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

static inline int trit_add_u64(uint64_t a, uint64_t b, uint64_t *out)
{
#if defined(__GNUC__) || defined(__clang__)
    return __builtin_add_overflow(a, b, out);
#else
    if (a > UINT64_MAX - b) return 1;
    *out = a + b;
    return 0;
#endif
}

static inline int trit_mul_u64(uint64_t a, uint64_t b, uint64_t *out)
{
#if defined(__GNUC__) || defined(__clang__)
    return __builtin_mul_overflow(a, b, out);
#else
    if (a != 0 && b > UINT64_MAX / a) return 1;
    *out = a * b;
    return 0;
#endif
}

/* True when a is a non-zero power of two. */
static inline int trit_is_pow2(uint64_t a) { return a != 0 && (a & (a - 1)) == 0; }

/* Round x up to a multiple of align (a power of two). Non-zero on overflow. */
static inline int trit_align_up(uint64_t x, uint64_t align, uint64_t *out)
{
    uint64_t t;
    if (!trit_is_pow2(align) || trit_add_u64(x, align - 1, &t)) return 1;
    *out = t & ~(align - 1);
    return 0;
}

/* ceil(a / b) for b > 0, never overflows. */
static inline uint64_t trit_div_ceil(uint64_t a, uint64_t b) { return a / b + (a % b != 0); }

/* Narrow a file-derived uint64_t to size_t. Non-zero when it does not fit (32-bit hosts). */
static inline int trit_to_size(uint64_t v, size_t *out)
{
    if (v > (uint64_t)SIZE_MAX) return 1;
    *out = (size_t)v;
    return 0;
}

/* malloc(n * size) with the multiplication checked; NULL on overflow or failure.
 * Caller frees with free(). */
static inline void *trit_mallocarray(size_t n, size_t size)
{
    uint64_t total;
    size_t sz;
    if (trit_mul_u64(n, size, &total) || trit_to_size(total, &sz)) return NULL;
    return malloc(sz ? sz : 1);
}

#endif /* TRIT_SAFEMATH_H */
