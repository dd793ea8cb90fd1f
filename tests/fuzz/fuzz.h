/* fuzz.h - FUZZ_TARGET(name) defines int trit_fuzz_<name>(const uint8_t *, size_t).
 * Each target lives in tests/fuzz/fuzz_<name>.c with seeds in tests/fuzz/corpus/<name>/.
 * tools/fuzz.sh links it to libFuzzer; tests/test_fuzz_replay.c replays its corpus in
 * `make test`. A target checks invariants, not only the absence of crashes, and aborts
 * (FUZZ_ASSERT) when one breaks. Inputs above FUZZ_MAX_INPUT are ignored. */
#ifndef TRIT_FUZZ_H
#define TRIT_FUZZ_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define FUZZ_MAX_INPUT (512u * 1024u)
#define FUZZ_TARGET(name) int trit_fuzz_##name(const uint8_t *data, size_t size); \
    int trit_fuzz_##name(const uint8_t *data, size_t size)
#define FUZZ_ASSERT(c)                                                             \
    do {                                                                           \
        if (!(c)) {                                                                \
            fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #c); \
            abort();                                                               \
        }                                                                          \
    } while (0)
#endif
