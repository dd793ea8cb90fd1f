/* test_conformance.c - `make conformance` inside the suite: llama.cpp (the CPU build in npm
 * node-llama-cpp, installed once into BUILD/conformance) against trit on real and generated
 * models, by running tools/conformance/run.sh on the binaries under test. That covers the
 * export round trips (stories260K, generated BitNet and Qwen3-MoE: llama.cpp's logits before
 * and after convert -> export) and the runner's agreement with llama.cpp (agree.sh: top-5
 * sets, spread, attribution through ref_forward.mjs, per-token and block modes). Skipped, with
 * the reason, when node/npm are missing or the npm registry cannot be reached (exit 77). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

/* The build folder of the binaries under test: TRIT_BIN's folder. */
static void build_dir(char *out, size_t cap)
{
    snprintf(out, cap, "%s", test_trit_bin());
    char *slash = strrchr(out, '/');
    if (slash) *slash = '\0';
    else snprintf(out, cap, ".");
}

/* Print the lines of out that start with one of the prefixes (the run's verdicts). */
static void print_lines(const char *out, const char *const *prefixes)
{
    for (const char *p = out; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t const n = nl ? (size_t)(nl - p) : strlen(p);
        for (const char *const *q = prefixes; *q; q++)
            if (!strncmp(p, *q, strlen(*q))) {
                printf("    %.*s\n", (int)n, p);
                break;
            }
        p += n + (nl != NULL);
    }
}

TEST(conformance_llama_cpp)
{
    if (access("tools/conformance/run.sh", R_OK) != 0) SKIP("not run from the source tree");
    if (test_run("command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1", NULL) != 0)
        SKIP("node and npm are needed for llama.cpp (node-llama-cpp): apt-get install nodejs npm");
    char build[1024], cmd[2048];
    build_dir(build, sizeof build);
    snprintf(cmd, sizeof cmd, "TRIT_FIXTURES='%s' sh tools/conformance/run.sh '%s' 2>&1",
             test_fixtures() ? test_fixtures() : "/nonexistent", build);
    char *out = NULL;
    int const rc = test_run(cmd, &out);
    if (rc == 77) {
        free(out);
        SKIP("llama.cpp could not be installed (npm registry unreachable?): see tools/conformance/run.sh");
    }
    static const char *const verdicts[] = {"FAIL", "NOTE", "SKIP", "conformance:", "agreement:", "      dense-", "      moe-", NULL};
    print_lines(out, verdicts);
    if (rc != 0 || !out || !strstr(out, "conformance: ") || !strstr(out, " 0 failed"))
        test_fail_(__FILE__, __LINE__, "tools/conformance/run.sh %s: status %d (output above; all of it: make conformance)", build, rc);
    free(out);
}
