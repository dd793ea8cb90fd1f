/* test_format_fuzz_seeds.c - the reader's fuzz corpus holds containers from the current writer:
 * this test fails if the committed seeds no longer open (the format changed without
 * regenerating them with `TRIT_WRITE_SEEDS=1 make test T=fuzz_seeds`). */
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "tfmt.h"

TEST(format_fuzz_seeds_are_current)
{
    const char *root = getenv("TRIT_CORPUS");
    const char *dir = test_path(root && *root ? root : "tests/fuzz/corpus", "reader");
    static const struct { const char *name; int variant; } seeds[] = {{"small.trit", TFMT_SMALL}, {"full.trit", TFMT_FULL}, {"blk.trit", TFMT_BLK}};
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        const char *tmp = test_path(test_tmpdir(), seeds[i].name);
        trit_err err;
        CHECK_OK_E(tfmt_write(tmp, seeds[i].variant, &err), &err);
        size_t n = 0, m = 0;
        uint8_t *want = test_read_file(tmp, &n);
        const char *path = test_path(dir, seeds[i].name);
        if (getenv("TRIT_WRITE_SEEDS")) test_write_file(path, want, n);
        uint8_t *have = test_read_file(path, &m);
        CHECK(have != NULL);
        CHECK(have && want && n == m && memcmp(have, want, n) == 0);
        free(want);
        free(have);
    }
}
