/* test_gen_cli.c - the trit-gen binary: --list, --help, option handling, exit codes, and
 * that the CLI writes the same bytes as the library for the same options. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gen/gen.h"
#include "test.h"

static const char *gen_bin(void)
{
    const char *e = getenv("TRIT_GEN");
    return e && *e ? e : "build/trit-gen";
}

static int run(const char *args, char **out)
{
    char cmd[16384];
    int const n = snprintf(cmd, sizeof cmd, "'%s' %s 2>&1", gen_bin(), args);
    if (n < 0 || (size_t)n >= sizeof cmd) return -1;
    return test_run(cmd, out);
}

TEST(gen_cli_list_help_and_errors)
{
    if (access(gen_bin(), X_OK) != 0) SKIP("trit-gen binary not built");
    char *out = NULL;
    CHECK_EQ_INT(run("--list", &out), 0);
    size_t n;
    const gen_layout_desc *t = gen_layout_table(&n);
    for (size_t i = 0; i < n; i++) CHECK(out && strstr(out, t[i].name));
    free(out);
    CHECK_EQ_INT(run("--help", &out), 0);
    CHECK(out && strstr(out, "--preset") && strstr(out, "--experts-used"));
    free(out);
    CHECK_EQ_INT(run("nosuchlayout -o x", &out), 2);
    CHECK(out && strstr(out, "unknown layout 'nosuchlayout'"));
    free(out);
    CHECK_EQ_INT(run("bitnet", &out), 2);  /* no -o */
    free(out);
    CHECK_EQ_INT(run("bitnet --layers 1x -o x", &out), 2);
    CHECK(out && strstr(out, "bad --layers"));
    free(out);
    CHECK_EQ_INT(run("gguf --embd 320 --dry-run", &out), 2);
    CHECK(out && strstr(out, "multiples of 256"));
    free(out);
    CHECK_EQ_INT(run("bitnet --preset huge --dry-run", &out), 2);
    free(out);
}

/* The 2B4T preset's plan, without writing gigabytes. */
TEST(gen_cli_preset_dry_run)
{
    if (access(gen_bin(), X_OK) != 0) SKIP("trit-gen binary not built");
    char *out = NULL;
    CHECK_EQ_INT(run("bitnet --preset 2b4t --dry-run", &out), 0);
    /* 30 layers x (7 packed + 7 scales + 2 sub-norms + 2 norms) + embeddings + final norm. */
    CHECK(out && strstr(out, "542 tensors"));
    CHECK(out && strstr(out, "model.layers.29.mlp.down_proj.weight                     U8    [640, 6912]"));
    CHECK(out && strstr(out, "model.embed_tokens.weight") && strstr(out, "[128256, 2560]"));
    free(out);
    CHECK_EQ_INT(run("gguf --preset 2b4t --layers 2 --dry-run", &out), 0);
    CHECK(out && strstr(out, "blk.1.ffn_down.weight") && strstr(out, "TQ1_0 [2560, 6912]"));
    free(out);
}

TEST(gen_cli_matches_library)
{
    if (access(gen_bin(), X_OK) != 0) SKIP("trit-gen binary not built");
    char args[8192], *out = NULL;
    char cli[4096], lib[4096];
    snprintf(cli, sizeof cli, "%s/cli-qwen", test_tmpdir());
    int const len = snprintf(args, sizeof args, "qwen3moe -o '%s' --seed 99 --layers 3 --experts 6 "
                            "--experts-used 2 --shards 3 --vocab 300 --ff 16", cli);
    CHECK(len > 0 && (size_t)len < sizeof args - 16);
    CHECK_EQ_INT(run(args, &out), 0);
    free(out);
    gen_opts o;
    trit_err err;
    gen_opts_default(&o, GEN_LAYOUT_QWEN3MOE);
    o.seed = 99;
    o.n_layer = 3;
    o.n_expert = 6;
    o.n_expert_used = 2;
    o.n_shards = 3;
    o.n_vocab = 300;
    o.n_ff = 16;
    snprintf(lib, sizeof lib, "%s/lib-qwen", test_tmpdir());
    CHECK_OK_E(gen_write(&o, lib, &err), &err);
    static const char *const files[] = {"config.json", "tokenizer.json", "model.safetensors.index.json",
                                        "model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors",
                                        "model-00003-of-00003.safetensors"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        size_t na, nb;
        uint8_t *a = test_read_file(test_path(cli, files[i]), &na);
        uint8_t *b = test_read_file(test_path(lib, files[i]), &nb);
        CHECK(a && b && na == nb && memcmp(a, b, na) == 0);
        free(a);
        free(b);
    }
    /* Existing output: exit 2 without --force, 0 with it. */
    CHECK_EQ_INT(run(args, &out), 2);
    CHECK(out && strstr(out, "already exists"));
    free(out);
    strcat(args, " --force");
    CHECK_EQ_INT(run(args, &out), 0);
    free(out);
    /* No temp directories left behind. */
    char *ls = NULL;
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "ls -a '%s' | grep -c 'qwen.tmp-'", test_tmpdir());
    test_run(cmd, &ls);
    CHECK(ls && atoi(ls) == 0);
    free(ls);
}
