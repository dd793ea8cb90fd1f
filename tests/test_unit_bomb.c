/* test_unit_bomb.c - bounded decoding (issue 13, finding 3). A unit whose zstd frame decodes to
 * far more than its members need (a zero gap inside the unit, every checksum valid) used to
 * pass verify and make run, export and calibrate allocate the declared size: 2 GiB from a
 * small file. spec/container.md 5.3 now says a unit decodes to exactly its packed members;
 * libtrit refuses anything else at open, naming the unit and the decoded_size field, so every
 * tool refuses the file before allocating. Also: zstd frames without a content size or with
 * anything after them are refused by the unit read itself, and the runner's expert cache never
 * caches a unit larger than its budget. */
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cJSON.h>

#include "run.h"
#include "run_int.h"
#include "test.h"
#include "test_run_util.h"
#include "test_unit_bomb.h"
#include "tfmt.h"
#include "trit_int.h"

#define BOMB_GAP (256ull << 20)   /* declared zeros: big enough to see, small enough for ASan */
#define RSS_CAP_KIB (96l * 1024)  /* a refusal costs a few MiB (more under ASan), never the gap */

/* The FULL sample as bytes; *r (caller closes) is a reader over the pristine copy. */
static uint8_t *sample(size_t *len, trit_reader **r)
{
    const char *path = test_path(test_tmpdir(), "bomb-sample.trit");
    trit_err err;
    *r = NULL;
    if (tfmt_write(path, TFMT_FULL, &err) != TRIT_OK) return NULL;
    uint8_t *b = test_read_file(path, len);
    if (b && trit_reader_open_mem(b, *len, "sample", NULL, r, &err) != TRIT_OK) {
        free(b);
        return NULL;
    }
    return b;
}

/* The first zstd unit of r, or UINT32_MAX. */
static uint32_t zstd_unit(const trit_reader *r)
{
    for (uint32_t u = 0; u < trit_reader_n_units(r); u++)
        if (trit_reader_unit(r, u)->storage == TRIT_STORAGE_ZSTD) return u;
    return UINT32_MAX;
}

TEST(unit_bomb_refused_at_open_naming_the_unit)
{
    size_t len = 0;
    trit_reader *r0 = NULL;
    uint8_t *b = sample(&len, &r0);
    if (!b) {
        test_fail_(__FILE__, __LINE__, "cannot build the sample");
        return;
    }
    /* every unit of the writer's output is packed (the rule holds for what libtrit writes) */
    for (uint32_t u = 0; u < trit_reader_n_units(r0); u++) {
        trit_unit_info const *un = trit_reader_unit(r0, u);
        uint32_t n = 0;
        const uint32_t *m = trit_reader_unit_members(r0, u, &n);
        uint64_t end = 0;
        for (uint32_t k = 0; k < n; k++) {
            trit_tensor_info const *t = trit_reader_tensor(r0, m[k]);
            uint64_t const want = (end + 63) / 64 * 64;
            CHECK_EQ_U64(t->offset, want);
            end = want + t->size;
        }
        CHECK_EQ_U64(un->decoded_size, end);
    }
    /* a gap of 256 MiB, and of a single tensor_align (the rule is exact, not a threshold) */
    uint64_t const gaps[] = {BOMB_GAP, 64};
    for (size_t g = 0; g < sizeof gaps / sizeof gaps[0]; g++) {
        for (uint32_t u = 0; u < trit_reader_n_units(r0); u++) {   /* raw units become zstd ones */
            trit_unit_info const *un = trit_reader_unit(r0, u);
            size_t blen = 0;
            uint8_t *bomb = tb_bomb(b, len, u, gaps[g], &blen);
            CHECK(bomb != NULL);
            if (!bomb) continue;
            trit_reader *r = NULL;
            trit_err err;
            CHECK_EQ_INT(trit_reader_open_mem(bomb, blen, "bomb", NULL, &r, &err), TRIT_E_CORRUPT);
            CHECK(r == NULL);
            CHECK_EQ_U64(err.offset, r0->unit_rec_off[u] + 32);   /* the decoded_size field */
            char want[64];
            snprintf(want, sizeof want, "(layer %u expert %u)", un->layer, un->expert);
            CHECK(strstr(err.where, want) != NULL);
            CHECK(strstr(err.msg, "members need") != NULL);
            char dec[48];
            snprintf(dec, sizeof dec, "decodes to %llu bytes", (unsigned long long)(un->decoded_size + gaps[g]));
            if (!strstr(err.msg, dec)) test_fail_(__FILE__, __LINE__, "message: %s", err.msg);
            /* the verifying open and a real file (mmap path) say the same */
            trit_open_opts const vo = {TRIT_OPEN_VERIFY};
            CHECK_EQ_INT(trit_reader_open_mem(bomb, blen, "bomb", &vo, &r, &err), TRIT_E_CORRUPT);
            const char *p = test_path(test_tmpdir(), "bomb.trit");
            CHECK_EQ_INT(test_write_file(p, bomb, blen), 0);
            CHECK_EQ_INT(trit_reader_open(p, NULL, &r, &err), TRIT_E_CORRUPT);
            CHECK_EQ_U64(err.offset, r0->unit_rec_off[u] + 32);
            free(bomb);
        }
    }
    /* the crafter itself is sound: gap 0 gives a file libtrit fully accepts */
    uint32_t const z = zstd_unit(r0);
    size_t blen = 0;
    uint8_t *same = z == UINT32_MAX ? NULL : tb_bomb(b, len, z, 0, &blen);
    CHECK(same != NULL);
    if (same) {
        trit_reader *r = NULL;
        trit_err err;
        trit_open_opts const vo = {TRIT_OPEN_VERIFY};
        CHECK_OK_E(trit_reader_open_mem(same, blen, "same", &vo, &r, &err), &err);
        trit_reader_close(r);
    }
    free(same);
    trit_reader_close(r0);
    free(b);
}

/* Frames libtrit's unit read must refuse by itself, however the unit record was made. */
TEST(unit_bomb_unit_read_refuses_unbounded_frames)
{
    size_t len = 0;
    trit_reader *r0 = NULL;
    uint8_t *b = sample(&len, &r0);
    if (!b) {
        test_fail_(__FILE__, __LINE__, "cannot build the sample");
        return;
    }
    uint32_t const z = zstd_unit(r0);
    CHECK(z != UINT32_MAX);
    static const struct { unsigned flags; const char *msg; } cases[] = {
        {TB_NO_SIZE, "does not declare its decoded size"},
        {TB_SKIPPABLE, "not exactly one zstd frame"},
    };
    for (size_t c = 0; z != UINT32_MAX && c < sizeof cases / sizeof cases[0]; c++) {
        size_t blen = 0;
        uint8_t *f = tb_bomb_ex(b, len, z, 0, cases[c].flags, &blen);
        CHECK(f != NULL);
        if (!f) continue;
        trit_reader *r = NULL;
        trit_err err;
        CHECK_OK_E(trit_reader_open_mem(f, blen, "frame", NULL, &r, &err), &err);   /* lazily checked */
        if (r) {
            void *img = NULL;
            uint64_t n = 0;
            CHECK_EQ_INT(trit_reader_unit_load(r, z, &img, &n, &err), TRIT_E_CORRUPT);
            CHECK(img == NULL);
            CHECK_EQ_U64(err.offset, trit_reader_unit(r, z)->offset);
            if (!strstr(err.msg, cases[c].msg)) test_fail_(__FILE__, __LINE__, "case %zu: %s", c, err.msg);
            CHECK(trit_reader_verify(r, &err) != TRIT_OK);
            trit_reader_close(r);
        }
        free(f);
    }
    trit_reader_close(r0);
    free(b);
}

/* Run cmd through /bin/sh with its output discarded; its exit status, and in *rss_kib the peak
 * RSS of the command itself, measured by GNU time (/usr/bin/time -f %M). Not wait4's ru_maxrss
 * of our own child: a process forked from this test binary counts the binary's resident pages
 * until its exec (Linux records the old mm's high-water mark at exec), which under ASan is
 * hundreds of MB; time forks the command from its own small image. -1 when time is missing. */
static int run_rss(const char *cmd, long *rss_kib)
{
    *rss_kib = -1;
    char rf[1100], sf[1100], full[2400];
    snprintf(rf, sizeof rf, "%s/rss.%ld", test_tmpdir(), (long)getpid());
    snprintf(sf, sizeof sf, "%s/rss.%ld.sh", test_tmpdir(), (long)getpid());
    if (access("/usr/bin/time", X_OK) != 0) return test_run(cmd, NULL);
    if (test_write_file(sf, cmd, strlen(cmd)) != 0) return -1;   /* no quoting to get wrong */
    snprintf(full, sizeof full, "/usr/bin/time -f %%M -o '%s' sh '%s'", rf, sf);
    int const rc = test_run(full, NULL);
    FILE *f = fopen(rf, "r");
    if (f) {
        /* GNU time prefixes "Command exited with non-zero status N" lines; the last is %M */
        char line[256];
        while (fgets(line, sizeof line, f)) *rss_kib = strtol(line, NULL, 10);
        fclose(f);
    }
    return rc;
}

static const char *run_bin(void)
{
    const char *e = getenv("TRIT_RUN");
    return e && *e ? e : "build/trit-run";
}

/* A small MoE model with zstd units (the runner tests' shape). */
static int moe_write(const char *path)
{
    trm_cfg c;
    trm_default(&c);
    c.n_layer = 2;
    c.n_ff = 0;
    c.n_expert = 4;
    c.n_expert_used = 2;
    c.n_ff_expert = 48;
    c.norm_topk = 1;
    c.proj_type = TRIT_TYPE_T2;
    c.storage = TRIT_STORAGE_ZSTD;
    trit_err err;
    return trm_write(&c, path, &err);
}

TEST(unit_bomb_tools_refuse_without_allocating)
{
    if (access(test_trit_bin(), X_OK) != 0 || access(run_bin(), X_OK) != 0) SKIP("trit / trit-run not built");
    const char *dir = test_tmpdir();
    char model[4096], bomb[4096];
    snprintf(model, sizeof model, "%s", test_path(dir, "bomb-moe.trit"));
    snprintf(bomb, sizeof bomb, "%s", test_path(dir, "bomb-moe-256m.trit"));
    CHECK_EQ_INT(moe_write(model), TRIT_OK);
    CHECK_EQ_INT(tb_bomb_file(model, bomb, 1, BOMB_GAP), 0);
    static const char *const what[] = {"verify", "run", "export", "calibrate"};
    for (size_t k = 0; k < sizeof what / sizeof what[0]; k++) {
        char cmd[8192];
        switch (k) {
        case 0: snprintf(cmd, sizeof cmd, "'%s' verify '%s'", test_trit_bin(), bomb); break;
        case 1: snprintf(cmd, sizeof cmd, "'%s' --tokens 1,2,3 -n 2 --expert-cache 1M --stats '%s'", run_bin(), bomb); break;
        case 2: snprintf(cmd, sizeof cmd, "'%s' export '%s' -o '%s/bomb.gguf' --force -q", test_trit_bin(), bomb, dir); break;
        default:
            snprintf(cmd, sizeof cmd,
                     "awk 'BEGIN{for(i=0;i<300;i++) printf \"%%d \", i%%90}' > '%s/bomb.tok' && "
                     "'%s' calibrate '%s' --tokens-file '%s/bomb.tok' --seq 32 --dry-run",
                     dir, test_trit_bin(), bomb, dir);
            break;
        }
        char full[8300];
        snprintf(full, sizeof full, "%s >/dev/null 2>&1", cmd);
        long rss = 0;
        int const rc = run_rss(full, &rss);
        if (rc != 4) test_fail_(__FILE__, __LINE__, "%s: exit %d, expected 4 (integrity / corrupt)", what[k], rc);
        if (rss > RSS_CAP_KIB)
            test_fail_(__FILE__, __LINE__, "%s: peak RSS %ld KiB on a refused 256 MiB bomb", what[k], rss);
        if (rss < 0) printf("  %s: peak RSS not measured (/usr/bin/time missing)\n", what[k]);
        /* the message names the unit and what it should decode to */
        snprintf(full, sizeof full, "%s 2>&1", cmd);
        char *out = NULL;
        CHECK_EQ_INT(test_run(full, &out), 4);
        if (!out || !strstr(out, "expert unit 1 (layer 0 expert 1)") || !strstr(out, "members need"))
            test_fail_(__FILE__, __LINE__, "%s: output lacks the unit and the rule: %s", what[k], out ? out : "(none)");
        free(out);
    }
    /* the pristine model runs, and verifies */
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s' verify '%s' >/dev/null 2>&1", test_trit_bin(), model);
    CHECK_EQ_INT(test_run(cmd, NULL), 0);
}

static int fill_load(void *arg, uint32_t layer, uint32_t expert, void *dst, uint64_t size, trit_err *err)
{
    (void)err;
    int *loads = arg;
    (*loads)++;
    memset(dst, (int)(layer * 16 + expert), (size_t)size);
    return TRIT_OK;
}

/* An expert larger than the budget is used, never cached: resident and peak stay within the
 * budget, nothing is evicted for it, and it is freed at its release (ASan: no leak). */
TEST(unit_bomb_cache_never_caches_past_the_budget)
{
    run_cache *c = NULL;
    trit_err err;
    CHECK_OK_E(run_cache_new(1, 4, 1000, RUN_POLICY_LRU, &c, &err), &err);
    if (!c) return;
    int loads = 0;
    const void *img = NULL;
    run_stats s;
    memset(&s, 0, sizeof s);
    CHECK_OK_E(run_cache_acquire(c, 0, 0, 600, 1, fill_load, &loads, &img, &err), &err);   /* fits: cached */
    run_cache_release(c, 0, 0);
    CHECK_OK_E(run_cache_acquire(c, 0, 1, 5000, 1, fill_load, &loads, &img, &err), &err);  /* too big */
    CHECK(img && ((const uint8_t *)img)[4999] == 1);
    run_cache_stats(c, &s);
    CHECK_EQ_U64(s.resident_bytes, 600);
    CHECK(s.peak_resident_bytes <= 1000);
    CHECK_EQ_U64(s.evictions, 0);
    run_cache_release(c, 0, 1);
    CHECK_OK_E(run_cache_acquire(c, 0, 1, 5000, 1, fill_load, &loads, &img, &err), &err);  /* loaded again */
    CHECK_EQ_INT(loads, 3);
    run_cache_release(c, 0, 1);
    CHECK_OK_E(run_cache_acquire(c, 0, 0, 600, 1, fill_load, &loads, &img, &err), &err);   /* still cached */
    CHECK_EQ_INT(loads, 3);
    run_cache_release(c, 0, 0);
    /* freed while pinned: run_cache_free releases the transient image too */
    CHECK_OK_E(run_cache_acquire(c, 0, 2, 7000, 1, fill_load, &loads, &img, &err), &err);
    run_cache_stats(c, &s);
    CHECK_EQ_U64(s.resident_bytes, 600);
    CHECK(s.peak_resident_bytes <= 1000);
    CHECK_EQ_U64(s.hits[0], 1);
    CHECK_EQ_U64(s.misses[0], 4);
    run_cache_free(c);
}

/* `run --expert-cache` below the unit size: runs, keeps nothing, and says why in --stats. */
TEST(unit_bomb_run_budget_below_one_unit)
{
    if (access(run_bin(), X_OK) != 0) SKIP("trit-run not built");
    const char *model = test_path(test_tmpdir(), "bomb-moe-small-budget.trit");
    CHECK_EQ_INT(moe_write(model), TRIT_OK);
    char cmd[8192];
    char *out = NULL;
    snprintf(cmd, sizeof cmd, "'%s' --tokens 1,2,3 -n 3 --ignore-eos --expert-cache 1K --stats '%s' 2>&1", run_bin(), model);
    CHECK_EQ_INT(test_run(cmd, &out), 0);
    if (!out || !strstr(out, "larger than the budget") || !strstr(out, "never cached") || !strstr(out, "peak resident 0.0 MiB"))
        test_fail_(__FILE__, __LINE__, "stats: %s", out ? out : "(none)");
    free(out);
    out = NULL;
    snprintf(cmd, sizeof cmd, "'%s' --tokens 1,2,3 -n 3 --ignore-eos --expert-cache 1K --stats --json '%s' 2>/dev/null", run_bin(), model);
    CHECK_EQ_INT(test_run(cmd, &out), 0);
    cJSON *j = out ? cJSON_Parse(out) : NULL;
    CHECK(j != NULL);
    if (j) {
        cJSON const *ec = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "stats"), "expert_cache");
        CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(ec, "peak_resident_bytes")) == 0);
        CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(ec, "loads")) > 0);
        cJSON_Delete(j);
    }
    free(out);
}
