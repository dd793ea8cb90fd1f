/*
 * kern_check_state.h - the state of a kernel-set check, shared by run_kern_check.h (t2, float
 * and int8 kernels) and run_blk_check.h (block kernels): a splitmix64 stream, the check and
 * failure counts and the first failure's message. Header-only so the aarch64 programs run
 * under qemu-user build without the test harness.
 */
#ifndef KERN_CHECK_STATE_H
#define KERN_CHECK_STATE_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef struct kc_state {
    uint64_t rng;
    unsigned checks, failures;
    char first[256];
} kc_state;

/* A fresh state whose stream starts at seed. */
static inline void kc_seed(kc_state *s, uint64_t seed)
{
    memset(s, 0, sizeof *s);
    s->rng = seed;
}

static inline uint64_t kc_next(kc_state *s)
{
    uint64_t z = (s->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* uniform in [-1, 1) */
static inline float kc_unit(kc_state *s) { return (float)((double)(kc_next(s) >> 11) / 4503599627370496.0 - 1.0); }

static inline void kc_fail(kc_state *s, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static inline void kc_fail(kc_state *s, const char *fmt, ...)
{
    s->failures++;
    if (s->first[0]) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->first, sizeof s->first, fmt, ap);
    va_end(ap);
}

#endif /* KERN_CHECK_STATE_H */
