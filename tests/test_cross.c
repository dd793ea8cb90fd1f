/* test_cross.c - see test_cross.h. */
#include <stdio.h>
#include <unistd.h>

#include "test.h"
#include "test_cross.h"

static int have(const char *tool)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", tool);
    return test_run(cmd, NULL) == 0;
}

const char *test_cross_missing(void)
{
    if (!have("aarch64-linux-gnu-gcc") || !have("qemu-aarch64"))
        return "aarch64 cross toolchain or qemu-user missing: run 'sh tools/ensure-deps.sh --cross' "
               "(gcc-aarch64-linux-gnu, libc6-dev-arm64-cross, qemu-user)";
    if (access("runner/run_kern_neon.c", R_OK) != 0) return "not run from the source tree";
    return NULL;
}

int test_cross_build(const char *exe, const char *srcs, char **out)
{
    const char *dir = test_tmpdir();
    /* xxhash.h is header-only: expose just that header to the cross compiler */
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "mkdir -p %s/xinc && ln -sf /usr/include/xxhash.h %s/xinc/xxhash.h", dir, dir);
    int const rc = test_run(cmd, NULL);
    if (rc != 0) return rc;
    snprintf(cmd, sizeof cmd,
             "aarch64-linux-gnu-gcc -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -O2 -static -Wall "
             "-I%s/xinc -Iformat -Irunner -Itests -o %s/%s %s -lm -lpthread 2>&1",
             dir, dir, exe, srcs);
    return test_run(cmd, out);
}
