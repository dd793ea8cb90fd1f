/* test_fuzz_replay.c - replays every fuzz target's corpus (tests/fuzz/corpus/NAME/) without
 * libFuzzer, so past crashes and seeds are re-run in every `make test` (style R16). */
#include <dirent.h>
#include <stdlib.h>

#include "fuzz/fuzz.h"
#include "test.h"

#define X(name) int trit_fuzz_##name(const uint8_t *data, size_t size);
#include "fuzz_list.h"
#undef X

static void replay(const char *name, int (*fn)(const uint8_t *, size_t))
{
    const char *root = getenv("TRIT_CORPUS");
    char dir[4096];   /* own copy: test_path's ring is 8 deep and the loop below reuses it */
    snprintf(dir, sizeof dir, "%s", test_path(root && *root ? root : "tests/fuzz/corpus", name));
    DIR *d = opendir(dir);
    if (!d) {
        test_fail_(__FILE__, __LINE__, "fuzz target '%s' has no corpus at %s", name, dir);
        return;
    }
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        size_t len = 0;
        uint8_t *buf = test_read_file(test_path(dir, e->d_name), &len);
        if (!buf) { test_fail_(__FILE__, __LINE__, "cannot read %s/%s", dir, e->d_name); continue; }
        fn(buf, len);
        free(buf);
        n++;
    }
    closedir(d);
    if (n == 0) test_fail_(__FILE__, __LINE__, "fuzz corpus %s is empty", dir);
    else fprintf(stderr, "     replayed %d inputs for fuzz target '%s'\n", n, name);
}

TEST(fuzz_replay_all_corpora)
{
    int targets = 0;
#define X(name) replay(#name, trit_fuzz_##name); targets++;
#include "fuzz_list.h"
#undef X
    CHECK(targets > 0);
}
