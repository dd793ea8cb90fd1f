/* test_cross.h - building a test program for aarch64 with the cross compiler, to run under
 * qemu-user (the NEON kernel tests: test_run_kern.c, test_run_blk.c). */
#ifndef TEST_CROSS_H
#define TEST_CROSS_H

/* NULL when aarch64-linux-gnu-gcc, qemu-aarch64 and the source tree are here, else why not
 * (static storage), for SKIP. */
const char *test_cross_missing(void);
/* Builds test_tmpdir()/exe, statically linked, from the space-separated sources srcs (paths
 * from the source tree) with -Iformat -Irunner -Itests. Returns the compiler's status; *out
 * (caller frees) gets its output. */
int test_cross_build(const char *exe, const char *srcs, char **out);

#endif /* TEST_CROSS_H */
