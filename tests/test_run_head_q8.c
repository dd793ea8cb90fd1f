/* test_run_head_q8.c - `trit convert --output-head q8` (spec 6.2): the int8 copy of the tied
 * output projection is written with one scale per row and recomputes from token_embd by the
 * spec's formula; the runner's logits with it stay close to the F16 head's (same top token),
 * are bit-identical across thread counts; a per-row i8 record is accepted and other scaled
 * i8 records refused; GGUF export refuses the file by name; `trit run --reference` on it matches
 * the source bit for bit; inspect shows its values with their row scales. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cvt.h"
#include "exg.h"
#include "insp.h"
#include "gen/gen.h"
#include "run.h"
#include "test.h"
#include "test_run_util.h"

static const uint32_t toks[] = {7, 300, 12, 5, 99, 41, 41, 260};
#define NT (sizeof toks / sizeof toks[0])

static const char *tpath(const char *name) { return test_path(test_tmpdir(), name); }

/* A generated GGUF (tied F16 embeddings, TQ2_0 projections) converted with and without q8;
 * *n_vocab from the container, *rq the q8 container open (caller closes). 0, or -1 after a
 * failed check. */
static int make_pair(char *f16, char *q8, size_t cap, uint32_t *n_vocab, trit_reader **rq)
{
    gen_opts g;
    gen_opts_default(&g, GEN_LAYOUT_GGUF);
    g.gguf_tq = GEN_TQ_2;
    g.overwrite = 1;
    trit_err err;
    const char *src = tpath("q8src.gguf");
    if (gen_write(&g, src, &err)) {
        test_fail_(__FILE__, __LINE__, "gen_write: %s", err.msg);
        return -1;
    }
    snprintf(f16, cap, "%s", tpath("head_f16.trit"));
    snprintf(q8, cap, "%s", tpath("head_q8.trit"));
    cvt_opts o;
    memset(&o, 0, sizeof o);
    o.overwrite = 1;
    cvt_report rep;
    if (cvt_convert(src, f16, &o, NULL, &err) || (o.output_head_q8 = 1, cvt_convert(src, q8, &o, &rep, &err))) {
        test_fail_(__FILE__, __LINE__, "convert: %s", err.msg);
        return -1;
    }
    int found = 0, ok = 1;
    *n_vocab = 0;
    for (uint64_t i = 0; i < rep.n_tensors; i++)
        if (!strcmp(rep.tensors[i].name, "output.weight")) {
            found = 1;
            /* lossy, and reported */
            ok = !strcmp(rep.tensors[i].out_type, "i8") && rep.tensors[i].max_abs_err > 0 && rep.tensors[i].rms_err > 0 &&
                 rep.tensors[i].rms_err <= rep.tensors[i].max_abs_err;
        }
    ok = ok && found && !rep.lossless;
    cvt_report_free(&rep);
    *rq = NULL;
    if (trit_reader_open(q8, NULL, rq, &err) == TRIT_OK) {
        int64_t const ie = trit_reader_find_tensor(*rq, "token_embd.weight");
        if (ie >= 0) *n_vocab = (uint32_t)trit_reader_tensor(*rq, (uint32_t)ie)->dims[0];
    }
    if (!ok || !*n_vocab) {
        trit_reader_close(*rq);
        test_fail_(__FILE__, __LINE__, "the q8 conversion's report or container is not as spec 6.2 says");
        return -1;
    }
    return 0;
}

TEST(run_head_q8_layout_matches_spec)
{
    char f16[512], q8[512];
    uint32_t V;
    trit_reader *r;
    if (make_pair(f16, q8, sizeof f16, &V, &r)) return;
    trit_err err;
    int64_t const io = trit_reader_find_tensor(r, "output.weight"), ie = trit_reader_find_tensor(r, "token_embd.weight");
    CHECK(io >= 0 && ie >= 0);
    if (io < 0 || ie < 0) {
        trit_reader_close(r);
        return;
    }
    const trit_tensor_info *to = trit_reader_tensor(r, (uint32_t)io), *te = trit_reader_tensor(r, (uint32_t)ie);
    CHECK_EQ_INT(to->type, TRIT_TYPE_I8);
    CHECK_EQ_INT(to->scale_layout, TRIT_SCALE_ROW);
    CHECK_EQ_INT(te->type, TRIT_TYPE_F16); /* the input lookup keeps its table */
    CHECK(to->dims[0] == te->dims[0] && to->dims[1] == te->dims[1] && to->n_scales == to->dims[0]);
    const void *po, *pe;
    uint64_t sz;
    CHECK_OK_E(trit_reader_tensor_data(r, (uint32_t)io, &po, &sz, &err), &err);
    CHECK_OK_E(trit_reader_tensor_data(r, (uint32_t)ie, &pe, &sz, &err), &err);
    uint64_t const rows = to->dims[0], cols = to->dims[1];
    const int8_t *q = po;
    const float *sc = (const float *)(const void *)((const uint8_t *)po + to->scales_off);
    unsigned bad = 0;
    for (uint64_t row = 0; row < rows; row++) {
        float amax = 0;
        for (uint64_t i = 0; i < cols; i++) {
            uint16_t h;
            memcpy(&h, (const uint8_t *)pe + 2 * (row * cols + i), 2);
            amax = fmaxf(amax, fabsf(trit_f16_to_f32(h)));
        }
        float const s = amax / 127.0f;
        if (memcmp(&s, &sc[row], sizeof s)) bad++;
        for (uint64_t i = 0; i < cols && s > 0; i++) {
            uint16_t h;
            memcpy(&h, (const uint8_t *)pe + 2 * (row * cols + i), 2);
            if ((float)q[row * cols + i] != nearbyintf(trit_f16_to_f32(h) / s)) bad++;
        }
    }
    CHECK_EQ_INT(bad, 0);
    trit_reader_close(r);
}

TEST(run_head_q8_logits_close_and_thread_exact)
{
    char f16[512], q8[512];
    uint32_t V;
    trit_reader *r;
    if (make_pair(f16, q8, sizeof f16, &V, &r)) return;
    trit_reader_close(r);
    trit_err err;
    float *a = calloc((size_t)V * 3, sizeof *a), *b = a + V, *c = a + 2 * V;
    CHECK_OK_E(trm_run_logits(f16, toks, NT, 1, RUN_KERNEL_AUTO, 1u << 30, 0, 0, a, &err), &err);
    CHECK_OK_E(trm_run_logits(q8, toks, NT, 1, RUN_KERNEL_AUTO, 1u << 30, 0, 0, b, &err), &err);
    CHECK_OK_E(trm_run_logits(q8, toks, NT, 3, RUN_KERNEL_AUTO, 1u << 30, 0, 3, c, &err), &err);
    uint32_t const n = V;
    double mean = 0, var = 0;
    uint32_t ta = 0, tb = 0;
    for (uint32_t i = 0; i < n; i++) mean += a[i];
    mean /= n;
    for (uint32_t i = 0; i < n; i++) {
        var += (a[i] - mean) * (a[i] - mean);
        if (a[i] > a[ta]) ta = i;
        if (b[i] > b[tb]) tb = i;
    }
    double const sd = sqrt(var / n), d = trm_max_diff(a, b, n);
    /* int8 weights and activations: a few percent of the logits' spread, never more */
    CHECK(d > 0);
    if (d > 0.1 * sd) test_fail_(__FILE__, __LINE__, "q8 head: max |logit diff| %g > 0.1 * sd %g", d, sd);
    CHECK_EQ_INT(ta, tb);
    CHECK(memcmp(b, c, n * sizeof *b) == 0); /* threads and chunking change no bit */
    free(a);
}

TEST(run_head_q8_export_refused)
{
    char f16[512], q8[512];
    uint32_t V;
    trit_reader *r;
    if (make_pair(f16, q8, sizeof f16, &V, &r)) return;
    trit_err err;
    exg_opts o = {0};
    o.flags = EXG_OVERWRITE;
    CHECK_EQ_INT(exg_gguf(r, tpath("q8.gguf"), &o, NULL, &err), TRIT_E_UNSUPPORTED);
    CHECK(strstr(err.msg, "output-head q8") != NULL);
    trit_reader_close(r);
}

TEST(format_i8_scale_layouts)
{
    trit_tensor_info t;
    trit_err err;
    memset(&t, 0, sizeof t);
    t.name = "x";
    t.type = TRIT_TYPE_I8;
    t.block_elems = t.block_bytes = 1;
    t.n_dims = 2;
    t.dims[0] = 3;
    t.dims[1] = 5;
    CHECK_OK_E(trit_tensor_layout(&t, &err), &err);
    CHECK(t.size == 15);
    t.scale_layout = TRIT_SCALE_ROW;
    t.scale_type = TRIT_SCALE_TYPE_F32;
    CHECK_OK_E(trit_tensor_layout(&t, &err), &err);
    CHECK(t.scales_off == 16 && t.n_scales == 3 && t.size == 28);
    t.scale_layout = TRIT_SCALE_TENSOR;
    CHECK_EQ_INT(trit_tensor_layout(&t, &err), TRIT_E_CORRUPT);
    t.scale_layout = TRIT_SCALE_GROUP;
    t.group_size = 2;
    CHECK_EQ_INT(trit_tensor_layout(&t, &err), TRIT_E_CORRUPT);
    t.type = TRIT_TYPE_I32;
    t.block_bytes = 4;
    t.scale_layout = TRIT_SCALE_ROW;
    t.group_size = 0;
    CHECK_EQ_INT(trit_tensor_layout(&t, &err), TRIT_E_CORRUPT);
}

/* `trit run --reference SRC` on a q8-head container builds the source's head the same way (the
 * container's int8 output.weight says it was converted with --output-head q8), so the logits are
 * bit-identical; the F16 container against the same source too. */
TEST(run_head_q8_reference_matches)
{
    char f16[512], q8[512];
    uint32_t V;
    trit_reader *r;
    if (make_pair(f16, q8, sizeof f16, &V, &r)) return;
    trit_reader_close(r);
    const char *files[2] = {q8, f16};
    for (int i = 0; i < 2; i++) {
        char cmd[2048], *out = NULL;
        snprintf(cmd, sizeof cmd, "%s run --tokens 7,300,12,5 -n 3 --ignore-eos --reference %s %s 2>&1", test_trit_bin(),
                 tpath("q8src.gguf"), files[i]);
        int const rc = test_run(cmd, &out);
        if (rc != 0 || !out || !strstr(out, "bit-identical"))
            test_fail_(__FILE__, __LINE__, "%s: status %d, output: %s", files[i], rc, out ? out : "(none)");
        free(out);
    }
}

/* `trit inspect --stats` shows the q8 head's values (codes times their row scales), so its range
 * and mean |x| are the embedding's within int8 rounding, not the codes' -127..127. */
TEST(run_head_q8_inspect_scaled)
{
    char f16[512], q8[512];
    uint32_t V;
    trit_reader *r;
    if (make_pair(f16, q8, sizeof f16, &V, &r)) return;
    trit_reader_close(r);
    insp_model m;
    memset(&m, 0, sizeof m);
    trit_err err;
    CHECK_OK_E(insp_open(q8, &m, &err), &err);
    insp_stats se, so;
    int found = 0;
    memset(&se, 0, sizeof se);
    memset(&so, 0, sizeof so);
    for (uint64_t i = 0; i < m.n_tensors; i++) {
        if (!strcmp(m.tensors[i].name, "token_embd.weight")) CHECK_OK_E(insp_tensor_stats(&m, i, &se, &err), &err);
        if (!strcmp(m.tensors[i].name, "output.weight")) {
            CHECK_OK_E(insp_tensor_stats(&m, i, &so, &err), &err);
            found = 1;
        }
    }
    CHECK(found);
    CHECK(se.max > 0 && se.max < 10);
    /* the row of the largest |w| is stored exactly as 127 * (max|w| / 127) */
    if (fabs(so.max - se.max) > 1e-3 * se.max || fabs(so.min - se.min) > 1e-3 * fabs(se.min) ||
        fabs(so.mean_abs - se.mean_abs) > 0.02 * se.mean_abs)
        test_fail_(__FILE__, __LINE__, "q8 head min/max/mean|x| %g/%g/%g, embedding %g/%g/%g", so.min, so.max, so.mean_abs, se.min,
                   se.max, se.mean_abs);
    insp_model_free(&m);
}
