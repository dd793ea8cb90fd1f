/* test_layers.c - `make layers` (tools/layers.sh against layers.mk): the real tree holds the
 * layering, and a planted include that breaks it (a source reader reaching up into the runner, a
 * production file including a test header, convert taking more from runner/ than the provider
 * interface) is caught and named by file and line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

static int have_tree(void) { return access("tools/layers.sh", R_OK) == 0 && access("layers.mk", R_OK) == 0; }

/* A minimal tree under the scratch dir: one header per module the planted files name. */
static const char *mini_tree(void)
{
    static const char *const files[] = {
        "format/trit.h", "format/trit_int.h", "runner/run.h", "runner/run_weights.h", "source/src.h",
        "convert/cvt.h", "tests/test.h",
    };
    const char *root = test_path(test_tmpdir(), "layers-tree");
    static char path[1024];
    snprintf(path, sizeof path, "%s", root);
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char dir[1100], f[1100];
        snprintf(f, sizeof f, "%s/%s", path, files[i]);
        snprintf(dir, sizeof dir, "%s", f);
        *strrchr(dir, '/') = '\0';
        mkdir(path, 0755);
        mkdir(dir, 0755);
        if (test_write_file(f, "/* h */\n", 8) != 0) return NULL;
    }
    return path;
}

static int run_layers(const char *root, const char *plant_path, const char *plant, char **out)
{
    char f[1200], cmd[3000];
    if (plant_path) {
        snprintf(f, sizeof f, "%s/%s", root, plant_path);
        if (test_write_file(f, plant, strlen(plant)) != 0) return -1;
    }
    snprintf(cmd, sizeof cmd, "sh tools/layers.sh --root '%s' --table layers.mk 2>&1", root);
    int const rc = test_run(cmd, out);
    if (plant_path) unlink(f);
    return rc;
}

TEST(layers_tree_holds)
{
    if (!have_tree()) SKIP("not run from the source tree");
    char *out = NULL;
    int const rc = test_run("sh tools/layers.sh 2>&1", &out);
    if (rc != 0) printf("%s", out ? out : "");
    CHECK_EQ_INT(rc, 0);
    CHECK(out && strstr(out, "layers: ok"));
    free(out);
}

TEST(layers_planted_bad_include_fails)
{
    if (!have_tree()) SKIP("not run from the source tree");
    const char *root = mini_tree();
    CHECK(root != NULL);
    if (!root) return;
    char *out = NULL;

    /* control: the same tree with a legal include passes */
    CHECK_EQ_INT(run_layers(root, "source/ok.c", "#include \"trit.h\"\n#include \"src.h\"\n", &out), 0);
    free(out);

    /* a source reader including the runner */
    CHECK_EQ_INT(run_layers(root, "source/bad.c", "#include \"src.h\"\n#include \"run.h\"\n", &out), 1);
    CHECK(out && strstr(out, "source/bad.c:2: includes \"run.h\""));
    free(out);

    /* production code including a test header */
    CHECK_EQ_INT(run_layers(root, "convert/bad.c", "#include \"test.h\"\n", &out), 1);
    CHECK(out && strstr(out, "convert/bad.c:1:") && strstr(out, "never includes tests/"));
    free(out);

    /* convert may take the provider interface from runner/, not the runner itself */
    CHECK_EQ_INT(run_layers(root, "convert/iface.c", "#include \"run_weights.h\"\n", &out), 0);
    free(out);
    CHECK_EQ_INT(run_layers(root, "convert/bad.c", "#include \"run.h\"\n", &out), 1);
    CHECK(out && strstr(out, "may take only run_weights.h"));
    free(out);

    /* libtrit's private header is for format/ itself */
    CHECK_EQ_INT(run_layers(root, "runner/bad.c", "  #  include \"trit_int.h\"\n", &out), 1);
    CHECK(out && strstr(out, "runner/bad.c:1:"));
    free(out);
}
