/* test_convert.c - `trit convert` on every generator layout: lossless where the source is
 * ternary (every container value equals the source value read through the format readers),
 * ternary projections as t2, experts as zstd units, tokenizer carried, deterministic output,
 * clean refusals, and no partial file after a failure or a kill. */
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cvt.h"
#include "cvt_arch.h"
#include "gen/gen.h"
#include "insp.h"
#include "test.h"
#include "test_config_edit.h"

/* Every container tensor against the source tensor it came from, value by value. */
static void check_lossless(const char *src_path, const char *trit_path)
{
    trit_err err;
    struct src_ckpt *s = NULL;
    insp_model m;
    memset(&m, 0, sizeof m);
    CHECK_OK_E(src_open(src_path, &s, &err), &err);
    CHECK_OK_E(insp_open_trit(trit_path, &m, &err), &err);
    if (!s || !m.n_tensors) goto out;
    int const gguf = !strcmp(src_format(s), "gguf");
    uint64_t checked = 0, mismatched = 0;
    for (uint32_t i = 0; i < src_n(s); i++) {
        src_tensor const *st = src_at(s, i);
        cvt_name nm;
        if (st->skip || cvt_arch_map_name(st->name, gguf, &nm) || nm.role == CVT_ROLE_SKIP || nm.role == CVT_ROLE_SCALE)
            continue;
        uint64_t const E = nm.role == CVT_ROLE_EXPERT_STACK ? st->dims[0] : 1;
        uint64_t const per = st->n_elems / E;
        for (uint64_t e = 0; e < E; e++) {
            char want[160];
            if (nm.role == CVT_ROLE_EXPERT_STACK) snprintf(want, sizeof want, "%s.%llu.weight", nm.name, (unsigned long long)e);
            else snprintf(want, sizeof want, "%s", nm.name);
            uint64_t k = 0;
            while (k < m.n_tensors && strcmp(m.tensors[k].name, want)) k++;
            if (k == m.n_tensors) {
                test_fail_(__FILE__, __LINE__, "%s: no tensor %s in the container", trit_path, want);
                continue;
            }
            float *a = malloc(per * sizeof *a), *b = malloc(per * sizeof *b);
            CHECK_OK_E(src_f32(s, i, e * per, per, a, &err), &err);
            CHECK_OK_E(m.read_f32(m.ctx, k, 0, per, b, &err), &err);
            for (uint64_t v = 0; v < per; v++)
                if (a[v] != b[v] && mismatched++ < 3)
                    test_fail_(__FILE__, __LINE__, "%s[%llu]: source %g, container %g", want, (unsigned long long)v, a[v], b[v]);
            checked += per;
            free(a);
            free(b);
        }
    }
    CHECK(checked > 0);
    CHECK_EQ_U64(mismatched, 0);
out:
    insp_model_free(&m);
    src_close(s);
}

static void convert_layout(gen_layout l, const char *name, int expect_units)
{
    char src[4096], out[4200];
    if (test_gen(l, name, src, sizeof src)) return;
    snprintf(out, sizeof out, "%s.trit", src);
    cvt_opts o;
    memset(&o, 0, sizeof o);
    o.overwrite = 1;
    cvt_report rep;
    trit_err err;
    CHECK_OK_E(cvt_convert(src, out, &o, &rep, &err), &err);
    CHECK(rep.lossless);
    CHECK(rep.max_abs_err == 0);
    trit_reader *r = NULL;
    trit_open_opts const vo = {TRIT_OPEN_VERIFY};
    CHECK_OK_E(trit_reader_open(out, &vo, &r, &err), &err);
    if (r) {
        uint32_t t2 = 0;
        for (uint32_t i = 0; i < trit_reader_n_tensors(r); i++) t2 += trit_reader_tensor(r, i)->type == TRIT_TYPE_T2;
        CHECK(t2 >= 7);
        CHECK_EQ_U64(trit_reader_n_units(r) > 0, expect_units);
        for (uint32_t u = 0; u < trit_reader_n_units(r); u++) CHECK_EQ_U64(trit_reader_unit(r, u)->storage, TRIT_STORAGE_ZSTD);
        CHECK(trit_reader_find_kv(r, "model.n_layer") >= 0);
        int64_t const tok = trit_reader_find_section(r, TRIT_SECTION_TOKENIZER_JSON);
        int64_t const tkv = trit_reader_find_section(r, TRIT_SECTION_TOKENIZER_KV);
        CHECK(tok >= 0 || tkv >= 0);
    }
    trit_reader_close(r);
    cvt_report_free(&rep);
    check_lossless(src, out);
}

TEST(convert_bitnet_packed_lossless) { convert_layout(GEN_LAYOUT_BITNET, "cv-bitnet", 0); }
TEST(convert_bitcpm_groups_lossless) { convert_layout(GEN_LAYOUT_BITCPM, "cv-bitcpm", 0); }
TEST(convert_mixtral_sharded_lossless) { convert_layout(GEN_LAYOUT_MIXTRAL, "cv-mixtral", 1); }
TEST(convert_qwen3moe_sharded_lossless) { convert_layout(GEN_LAYOUT_QWEN3MOE, "cv-qwen3moe", 1); }
TEST(convert_gguf_tq_lossless) { convert_layout(GEN_LAYOUT_GGUF, "cv-gguf", 0); }
TEST(convert_gguf_moe_stacks_split_lossless) { convert_layout(GEN_LAYOUT_GGUF_MOE, "cv-gguf-moe", 1); }

/* 1bitLLM's latent checkpoints say weight_bits 1: the release ternarizes its master weights on
 * the fly, so the conversion does too, and says why. Without that key a float model whose
 * projections are not ternary needs --ternarize. */
TEST(convert_latent_needs_ternarize)
{
    char src[4096], out[4200];
    if (test_gen(GEN_LAYOUT_LATENT, "cv-latent", src, sizeof src)) return;
    snprintf(out, sizeof out, "%s.trit", src);
    cvt_opts o;
    memset(&o, 0, sizeof o);
    o.overwrite = 1;
    trit_err err;
    cvt_report rep;
    CHECK_OK_E(cvt_convert(src, out, &o, &rep, &err), &err);
    CHECK_STR(rep.ternarized_by, "weight_bits 1");
    CHECK(!rep.lossless);
    cvt_report_free(&rep);

    CHECK_EQ_INT(test_config_set(src, "weight_bits", NULL), 0);
    unlink(out);
    CHECK_EQ_INT(cvt_convert(src, out, &o, &rep, &err), TRIT_E_UNSUPPORTED);
    CHECK(strstr(err.msg, "--ternarize") != NULL);
    struct stat st;
    CHECK(stat(out, &st) != 0);
    o.ternarize = 1;
    CHECK_OK_E(cvt_convert(src, out, &o, &rep, &err), &err);
    CHECK_STR(rep.ternarized_by, "--ternarize");
    CHECK(!rep.lossless);
    CHECK(rep.max_abs_err > 0);
    /* absmean: every projection error is at most half a step of its gamma, and reported per tensor */
    uint32_t lossy = 0;
    for (uint64_t i = 0; i < rep.n_tensors; i++) lossy += rep.tensors[i].ternarized;
    CHECK_EQ_U64(lossy, 14);
    cvt_report_free(&rep);
}

TEST(convert_is_deterministic)
{
    char src[4096], a[4200], b[4200];
    if (test_gen(GEN_LAYOUT_MIXTRAL, "cv-det", src, sizeof src)) return;
    snprintf(a, sizeof a, "%s-a.trit", src);
    snprintf(b, sizeof b, "%s-b.trit", src);
    trit_err err;
    CHECK_OK_E(cvt_convert(src, a, NULL, NULL, &err), &err);
    CHECK_OK_E(cvt_convert(src, b, NULL, NULL, &err), &err);
    size_t na = 0, nb = 0;
    uint8_t *pa = test_read_file(a, &na), *pb = test_read_file(b, &nb);
    CHECK(pa && pb && na == nb && memcmp(pa, pb, na) == 0);
    free(pa);
    free(pb);
}

TEST(convert_stories260k_float_llama_unpermuted)
{
    const char *fx = test_fixtures();
    if (!fx) SKIP("no fixtures");
    char src[4096], out[4200];
    snprintf(src, sizeof src, "%s/gguf/stories260K.gguf", fx);
    snprintf(out, sizeof out, "%s/stories.trit", test_tmpdir());
    trit_err err;
    cvt_report rep;
    CHECK_OK_E(cvt_convert(src, out, NULL, &rep, &err), &err);
    CHECK(rep.lossless);
    CHECK_EQ_U64(rep.n_tensors, 48);
    /* Q rows are un-permuted: container row h*hd + i2*hd/2 + j holds GGUF row h*hd + 2j + i2 */
    struct src_ckpt *s;
    insp_model m;
    memset(&m, 0, sizeof m);
    CHECK_OK_E(src_open(src, &s, &err), &err);
    CHECK_OK_E(insp_open_trit(out, &m, &err), &err);
    int64_t const qi = src_find(s, "blk.0.attn_q.weight");
    uint64_t k = 0;
    while (k < m.n_tensors && strcmp(m.tensors[k].name, "blk.0.attn_q.weight")) k++;
    CHECK(qi >= 0 && k < m.n_tensors);
    if (qi >= 0 && k < m.n_tensors) {
        uint64_t const cols = 64, hd = 8; /* n_embd 64, 8 heads */
        float a[64], b[64];
        int bad = 0;
        for (uint64_t r = 0; r < 64; r++) {
            uint64_t const h = r / hd, w = r % hd, i2 = w / (hd / 2), j = w % (hd / 2);
            uint64_t const gr = h * hd + 2 * j + i2;
            src_f32(s, (uint32_t)qi, gr * cols, cols, a, &err);
            m.read_f32(m.ctx, k, r * cols, cols, b, &err);
            bad += memcmp(a, b, sizeof a) != 0;
        }
        CHECK_EQ_INT(bad, 0);
    }
    insp_model_free(&m);
    src_close(s);
    cvt_report_free(&rep);
}

static int count_temp(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) n += strstr(e->d_name, ".tmp-") != NULL;
    if (d) closedir(d);
    return n;
}

TEST(convert_cli_refusals_and_kill_leave_no_partial_file)
{
    char src[4096], dir[4200], out[4300], cmd[9000];
    if (test_gen(GEN_LAYOUT_QWEN3MOE, "cv-cli", src, sizeof src)) return;
    snprintf(dir, sizeof dir, "%s/cvout", test_tmpdir());
    mkdir(dir, 0755);
    snprintf(out, sizeof out, "%s/m.trit", dir);
    char *o = NULL;
    snprintf(cmd, sizeof cmd, "%s convert -q '%s' -o '%s' 2>&1", test_trit_bin(), src, out);
    CHECK_EQ_INT(test_run(cmd, &o), 0);
    free(o);
    CHECK_EQ_INT(test_run(cmd, &o), 3); /* exists, no --force */
    CHECK(o && strstr(o, "--force"));
    free(o);
    snprintf(cmd, sizeof cmd, "%s convert --json --force '%s' -o '%s'", test_trit_bin(), src, out);
    CHECK_EQ_INT(test_run(cmd, &o), 0);
    CHECK(o && strstr(o, "\"expert_bits_per_weight\"") && strstr(o, "\"lossless\":\ttrue"));
    free(o);
    snprintf(cmd, sizeof cmd, "%s convert --dry-run '%s' 2>&1", test_trit_bin(), src);
    CHECK_EQ_INT(test_run(cmd, &o), 0);
    CHECK(o && strstr(o, "plan for"));
    free(o);
    snprintf(cmd, sizeof cmd, "%s convert '%s/nope' -o '%s/x.trit' 2>&1", test_trit_bin(), dir, dir);
    CHECK_EQ_INT(test_run(cmd, &o), 3);
    free(o);
    CHECK_EQ_INT(count_temp(dir), 0);

    /* a kill mid-way: either the conversion finished (a complete, valid file) or nothing at all */
    char big[4096];
    gen_opts g;
    gen_opts_default(&g, GEN_LAYOUT_BITCPM);
    g.n_layer = 8;
    g.n_embd = 512;
    g.n_ff = 1024;
    g.overwrite = 1;
    snprintf(big, sizeof big, "%s/cv-big", test_tmpdir());
    trit_err err;
    CHECK_OK_E(gen_write(&g, big, &err), &err);
    char kout[4400];
    snprintf(kout, sizeof kout, "%s/killed.trit", dir);
    pid_t const pid = fork();
    if (pid == 0) {
        execl(test_trit_bin(), "trit", "convert", "-q", big, "-o", kout, (char *)NULL);
        _exit(127);
    }
    usleep(30000);
    kill(pid, SIGTERM);
    int st = 0;
    waitpid(pid, &st, 0);
    struct stat sb;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
        trit_reader *r = NULL;
        trit_open_opts const vo = {TRIT_OPEN_VERIFY};
        CHECK_OK_E(trit_reader_open(kout, &vo, &r, &err), &err);
        trit_reader_close(r);
    } else {
        /* 130 once the guard is up; before it (nothing written yet) the signal's default */
        CHECK((WIFEXITED(st) && WEXITSTATUS(st) == 130) || WIFSIGNALED(st));
        CHECK(stat(kout, &sb) != 0);
    }
    CHECK_EQ_INT(count_temp(dir), 0);
}
