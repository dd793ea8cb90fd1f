/*
 * test.h - the plain-C test harness (style R14).
 *
 * A test is `TEST(name) { ... }` at the start of a line in any tests/test_*.c file; the Makefile
 * collects them into build/gen/test_list.h. Checks record file, line and expression and let
 * the test continue; a test with any failed check fails. SKIP("why") ends a test as skipped
 * (used when ../shared/fixtures is absent). The runner prints "N passed, N failed, N skipped".
 */
#ifndef TRIT_TEST_H
#define TRIT_TEST_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "trit.h"

#define TEST(name) void test_##name(void); void test_##name(void)

/* Failure bookkeeping (tests/runner.c). */
void test_fail_(const char *file, int line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
void test_skip_(const char *why);
int test_skipped_(void);

#define CHECK(cond) \
    do { if (!(cond)) test_fail_(__FILE__, __LINE__, "%s", #cond); } while (0)
#define CHECK_EQ_U64(a, b)                                                                   \
    do {                                                                                     \
        unsigned long long a_ = (unsigned long long)(a), b_ = (unsigned long long)(b);       \
        if (a_ != b_) test_fail_(__FILE__, __LINE__, "%s != %s (%llu vs %llu)", #a, #b, a_, b_); \
    } while (0)
#define CHECK_EQ_INT(a, b)                                                                   \
    do {                                                                                     \
        long long a_ = (long long)(a), b_ = (long long)(b);                                  \
        if (a_ != b_) test_fail_(__FILE__, __LINE__, "%s != %s (%lld vs %lld)", #a, #b, a_, b_); \
    } while (0)
#define CHECK_STR(a, b)                                                                      \
    do {                                                                                     \
        const char *a_ = (a), *b_ = (b);                                                     \
        if (!a_ || !b_ || strcmp(a_, b_) != 0)                                               \
            test_fail_(__FILE__, __LINE__, "%s != %s (\"%s\" vs \"%s\")", #a, #b,            \
                       a_ ? a_ : "(null)", b_ ? b_ : "(null)");                              \
    } while (0)
/* A call returning a TRIT_E_* code that must be TRIT_OK; prints the error detail. */
#define CHECK_OK_E(expr, errp)                                                               \
    do {                                                                                     \
        int rc_ = (expr);                                                                    \
        if (rc_ != TRIT_OK) {                                                                \
            char b_[512];                                                                    \
            test_fail_(__FILE__, __LINE__, "%s -> %d (%s)", #expr, rc_,                      \
                       trit_err_format((errp), b_, sizeof b_));                              \
        }                                                                                    \
    } while (0)
#define SKIP(why) do { test_skip_(why); return; } while (0)

/* Environment helpers (tests/runner.c). Strings are static storage. */
const char *test_tmpdir(void);        /* fresh per-run scratch directory */
const char *test_fixtures(void);      /* $TRIT_FIXTURES, or NULL if the folder is absent */
const char *test_trit_bin(void);      /* $TRIT_BIN, the CLI under test */
/* The fault-injection shim (tests/fault/fault.c) beside $TRIT_BIN, or NULL when it is absent.
 * malloc_faults: the variant that can fail allocations, which ASan builds cannot use (NULL
 * there); otherwise the I/O-only variant under ASan. */
const char *test_fault_shim(int malloc_faults);
/* The environment prefix ("LD_PRELOAD=so", with ASan's link-order check off in ASan builds)
 * for a shell command; test_fault_env sets the same variables in this process (a child about
 * to exec). */
const char *test_fault_preload(const char *so);
void test_fault_env(const char *so);
/* Path join into a static ring of buffers (valid for the next 8 calls). */
const char *test_path(const char *dir, const char *name);
/* Read a whole file; caller frees. NULL on error. */
uint8_t *test_read_file(const char *path, size_t *len);
int test_write_file(const char *path, const void *p, size_t n);
/* Run a shell command, capture stdout (caller frees *out, may pass NULL) and return its
 * exit status (or -1). */
int test_run(const char *cmd, char **out);
/* test_run of a printf-formatted command (at most 16 KiB). */
int test_runf(char **out, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#endif /* TRIT_TEST_H */
