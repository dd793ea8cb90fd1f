/* test_run_b3.c - b3, the base-3 expert-unit form (spec 6.4): the byte code (all 243 digit
 * tuples round-trip, exactly 243 valid bytes), the kernels of every set against the reference
 * and against t2 on odd sizes, verify's refusals (invalid byte, non-zero padding digit), and a
 * model converted with --expert-units b3 giving the zstd model's logits bit for bit, in every
 * activation mode. */
#include <stdlib.h>
#include <string.h>

#include "cvt.h"
#include "gen/gen.h"
#include "run_int.h"
#include "run_kern_b3.h"
#include "test.h"
#include "test_run_util.h"
#include "vfy.h"

static uint64_t rnd(uint64_t *s)
{
    *s += 0x9e3779b97f4a7c15ull;
    uint64_t z = *s;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

TEST(b3_byte_code_round_trips_every_digit_tuple)
{
    unsigned valid = 0;
    for (unsigned b = 0; b < 256; b++) valid += (unsigned)trit_b3_byte_valid((uint8_t)b);
    CHECK_EQ_U64(valid, 243);
    /* every tuple of 5 digits, as one block's byte 0 (weights 0, 32, 64, 96, 128) */
    int8_t vals[160], back[160];
    uint8_t blk[32];
    for (unsigned v = 0; v < 243; v++) {
        memset(vals, 0, sizeof vals);
        unsigned x = v;
        for (int n = 4; n >= 0; n--, x /= 3) vals[32 * n] = (int8_t)((int)(x % 3) - 1);
        trit_b3_pack_row(vals, 160, blk);
        CHECK(trit_b3_byte_valid(blk[0]));
        CHECK_EQ_U64(trit_b3_unpack_row(blk, 160, back), 0);
        CHECK(memcmp(vals, back, sizeof vals) == 0);
    }
    /* an invalid byte is counted once and reads as zeros */
    memset(blk, 0, sizeof blk);
    trit_b3_pack_row(vals, 160, blk);
    blk[3] = 0x01;   /* digits 0,0,0,0,0 encode to 0x00, never 0x01 */
    CHECK(!trit_b3_byte_valid(0x01));
    CHECK_EQ_U64(trit_b3_unpack_row(blk, 160, back), 1);
}

TEST(b3_pack_row_pads_with_zero_and_round_trips)
{
    uint64_t s = 7;
    uint64_t const sizes[] = {1, 31, 32, 33, 159, 160, 161, 321, 1000};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        uint64_t const n = sizes[k], nb = (n + 159) / 160;
        int8_t *v = malloc(n), *back = malloc(nb * 160);
        uint8_t *row = malloc(nb * 32);
        for (uint64_t i = 0; i < n; i++) v[i] = (int8_t)((int)(rnd(&s) % 3) - 1);
        trit_b3_pack_row(v, n, row);
        CHECK_EQ_U64(trit_b3_unpack_row(row, nb * 160, back), 0);
        CHECK(memcmp(v, back, n) == 0);
        for (uint64_t i = n; i < nb * 160; i++) CHECK_EQ_INT(back[i], 0);
        free(v);
        free(back);
        free(row);
    }
}

/* Every b3 set against the reference, and the reference against t2 of the same weights. */
TEST(b3_kernels_match_reference_and_t2_on_odd_sizes)
{
    const run_b3_kern *sets[] = {run_b3_kern_ref(), run_b3_kern_avx2(), run_b3_kern_avx512()};
    const run_kern *t2 = run_kern_ref();
    uint64_t s = 11;
    uint64_t const sizes[] = {1, 5, 31, 32, 33, 127, 128, 159, 160, 161, 320, 479, 800, 2053};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        uint64_t const cols = sizes[k], rows = 5;
        uint64_t const padded = (cols + 127) / 128 * 128, rb3 = (cols + 159) / 160 * 32, rb2 = (cols + 127) / 128 * 32;
        uint64_t const np = (cols + 31) / 32;
        int8_t *v = malloc(cols), *q = calloc(padded + 320, 1);
        uint8_t *c3 = malloc(rows * rb3), *c2 = malloc(rows * rb2);
        for (uint64_t r = 0; r < rows; r++) {
            for (uint64_t i = 0; i < cols; i++) v[i] = (int8_t)((int)(rnd(&s) % 3) - 1);
            trit_b3_pack_row(v, cols, c3 + r * rb3);
            trit_t2_pack_row(v, cols, c2 + r * rb2);
        }
        for (uint64_t i = 0; i < cols; i++) q[i] = (int8_t)((int)(rnd(&s) % 255) - 127);
        int32_t want[5], got[5], ch_ref[80], ch[80];
        for (uint64_t r = 0; r < rows; r++) {
            want[r] = sets[0]->dot(c3 + r * rb3, q, np);
            /* t2 sums include padding slots at code 1 against q = 0: the same integer */
            CHECK_EQ_INT(want[r], t2->t2_dot(c2 + r * rb2, q, rb2 / 32));
        }
        sets[0]->chunks(c3, q, np, ch_ref);
        int32_t tot = 0;
        for (uint64_t p = 0; p < np; p++) tot += ch_ref[p];
        CHECK_EQ_INT(tot, want[0]);
        for (size_t m = 1; m < sizeof sets / sizeof sets[0]; m++) {
            if (!sets[m]) continue;
            for (uint64_t r = 0; r < rows; r++) CHECK_EQ_INT(sets[m]->dot(c3 + r * rb3, q, np), want[r]);
            sets[m]->gemv(c3, rows, rb3, q, np, got);
            CHECK(memcmp(got, want, sizeof want) == 0);
            sets[m]->chunks(c3, q, np, ch);
            CHECK(memcmp(ch, ch_ref, sizeof *ch * np) == 0);
        }
        free(v);
        free(q);
        free(c3);
        free(c2);
    }
}

/* A container with one dense b3 tensor [2, 33] whose byte `at` is set to `byte`. */
static int write_b3(const char *path, uint64_t at, uint8_t byte, trit_err *err)
{
    trit_write_opts wo = {0};
    wo.overwrite = 1;
    trit_writer *w = NULL;
    int rc = trit_writer_open(path, &wo, &w, err);
    if (rc) return rc;
    trit_tensor_info t;
    memset(&t, 0, sizeof t);
    t.name = "x.weight";
    t.type = TRIT_TYPE_B3;
    trit_type_geometry(t.type, &t.block_elems, &t.block_bytes);
    t.n_dims = 2;
    t.dims[0] = 2;
    t.dims[1] = 33;
    t.scale_layout = TRIT_SCALE_ROW;
    t.scale_type = TRIT_SCALE_TYPE_F32;
    t.layer = TRIT_NONE32;
    t.unit = TRIT_NONE32;
    uint32_t id;
    if ((rc = trit_writer_add_tensor(w, &t, &id, err))) {
        trit_writer_abort(w);
        return rc;
    }
    trit_tensor_info const *wi = trit_writer_tensor(w, id);
    uint8_t *img = calloc(wi->size, 1);
    int8_t v[33];
    for (int i = 0; i < 33; i++) v[i] = (int8_t)(i % 3 - 1);
    trit_b3_pack_row(v, 33, img);
    trit_b3_pack_row(v, 33, img + 32);
    float const sc[2] = {0.5f, 0.25f};
    memcpy(img + wi->scales_off, sc, sizeof sc);
    if (at < wi->size) img[at] = byte;
    rc = trit_writer_write_tensor(w, id, img, wi->size, err);
    free(img);
    if (rc == TRIT_OK) return trit_writer_finish(w, err);
    trit_writer_abort(w);
    return rc;
}

static int verify_path(const char *path, trit_err *err)
{
    trit_reader *r = NULL;
    trit_open_opts oo = {TRIT_OPEN_VERIFY};
    int const rc = trit_reader_open(path, &oo, &r, err);
    trit_reader_close(r);
    return rc;
}

/* `trit verify`'s walk (verify/): 1 if some finding's message holds want. */
static int verify_finds(const char *path, const char *want)
{
    vfy_opts o;
    memset(&o, 0, sizeof o);
    o.threads = 1;
    vfy_report rep;
    vfy_report_init(&rep, path, 0);
    trit_err err;
    vfy_verify(path, &o, &rep, &err);
    int found = 0;
    for (uint32_t i = 0; i < rep.n_issues; i++) found |= strstr(rep.issues[i].msg, want) != NULL;
    vfy_report_release(&rep);
    return found;
}

TEST(b3_verify_refuses_invalid_byte_and_padding)
{
    trit_err err;
    const char *ok = test_path(test_tmpdir(), "b3_ok.trit");
    CHECK_OK_E(write_b3(ok, UINT64_MAX, 0, &err), &err);
    CHECK_OK_E(verify_path(ok, &err), &err);
    const char *bad = test_path(test_tmpdir(), "b3_bad.trit");
    CHECK_OK_E(write_b3(bad, 5, 0x01, &err), &err);
    trit_err_clear(&err);
    CHECK_EQ_INT(verify_path(bad, &err), TRIT_E_CORRUPT);
    CHECK(strstr(err.msg, "invalid b3 byte") != NULL);
    CHECK(strstr(err.where, "x.weight") != NULL);
    /* byte 2 holds weights 2 and 34 (past the 33 columns: padding): digit 2 of it set to 2 */
    const char *pad = test_path(test_tmpdir(), "b3_pad.trit");
    int8_t v[160];
    uint8_t blk[32];
    memset(v, 0, sizeof v);
    for (int i = 0; i < 33; i++) v[i] = (int8_t)(i % 3 - 1);
    v[34] = 1;
    trit_b3_pack_row(v, 160, blk);
    CHECK_OK_E(write_b3(pad, 2, blk[2], &err), &err);
    trit_err_clear(&err);
    CHECK_EQ_INT(verify_path(pad, &err), TRIT_E_CORRUPT);
    CHECK(strstr(err.msg, "padding digit") != NULL);
    /* and `trit verify` reports both, and nothing of the kind on the good file */
    CHECK(verify_finds(bad, "invalid b3 bytes"));
    CHECK(verify_finds(pad, "row padding codes are not 1"));
    CHECK(!verify_finds(ok, "b3"));
    CHECK(!verify_finds(ok, "padding"));
}

/* trit-gen qwen3moe (group-scaled ternary experts, wide enough for several b3 blocks) converted
 * with each expert-unit form: same logits to the bit, any thread count and budget. */
TEST(b3_units_give_zstd_logits_bit_for_bit)
{
    gen_opts o;
    gen_opts_default(&o, GEN_LAYOUT_QWEN3MOE);
    o.n_embd = 200;      /* rows of 200: one full b3 block and a partial one */
    o.n_ff = 96;
    o.n_head = 4;
    o.n_head_kv = 2;
    o.head_dim = 50;
    o.overwrite = 1;
    const char *src = test_path(test_tmpdir(), "b3_src");
    trit_err err;
    CHECK_OK_E(gen_write(&o, src, &err), &err);
    static const char *const forms[3] = {"zstd", "raw", "b3"};
    char paths[3][512];
    for (int f = 0; f < 3; f++) {
        snprintf(paths[f], sizeof paths[f], "%s", test_path(test_tmpdir(), forms[f]));
        cvt_opts co;
        memset(&co, 0, sizeof co);
        co.expert_units = cvt_units_from_name(forms[f]);
        co.overwrite = 1;
        CHECK_OK_E(cvt_convert(src, paths[f], &co, NULL, &err), &err);
        CHECK_OK_E(verify_path(paths[f], &err), &err);
    }
    /* the b3 file's expert members are b3, 1.6 bits per weight */
    trit_reader *r = NULL;
    CHECK_OK_E(trit_reader_open(paths[2], NULL, &r, &err), &err);
    uint32_t n_b3 = 0;
    for (uint32_t i = 0; r && i < trit_reader_n_tensors(r); i++) {
        trit_tensor_info const *t = trit_reader_tensor(r, i);
        if (t->unit != TRIT_NONE32) CHECK_EQ_INT(t->type, TRIT_TYPE_B3);
        n_b3 += t->type == TRIT_TYPE_B3;
    }
    CHECK(n_b3 > 0);
    trit_reader_close(r);
    uint32_t tok[9] = {1, 7, 3, 200, 9, 17, 5, 2, 11};
    float ref[512], got[512];
    CHECK(o.n_vocab <= 512);
    CHECK_OK_E(trm_run_logits(paths[0], tok, 9, 1, RUN_KERNEL_AUTO, 1ull << 30, RUN_POLICY_LRU, 1, ref, &err), &err);
    for (int f = 1; f < 3; f++)
        for (uint32_t th = 1; th <= 3; th += 2)
            for (uint32_t kern = 0; kern < 2; kern++) {
                uint32_t const kc = kern ? RUN_KERNEL_REF : RUN_KERNEL_AUTO;
                float want[512];
                CHECK_OK_E(trm_run_logits(paths[0], tok, 9, th, kc, 0, RUN_POLICY_LAYER, 4, want, &err), &err);
                CHECK_OK_E(trm_run_logits(paths[f], tok, 9, th, kc, 0, RUN_POLICY_LAYER, 4, got, &err), &err);
                if (memcmp(want, got, sizeof *got * o.n_vocab))
                    test_fail_(__FILE__, __LINE__, "%s logits differ from zstd (%u threads, kernel %s)", forms[f], th,
                               kern ? "ref" : "auto");
                if (!kern && th == 1) CHECK(memcmp(ref, got, sizeof *got * o.n_vocab) == 0);
            }
    /* the other activation modes re-pack b3 as t2: the same logits as the zstd file's */
    for (uint32_t mode = 1; mode < RUN_ACT_SCALES_COUNT_; mode++) {
        if (mode == RUN_ACT_SCALES_STATIC) continue;   /* needs a kind-5 section */
        trm_run_act_scales = mode;
        float want[512];
        CHECK_OK_E(trm_run_logits(paths[0], tok, 9, 2, RUN_KERNEL_AUTO, 0, RUN_POLICY_LAYER, 4, want, &err), &err);
        CHECK_OK_E(trm_run_logits(paths[2], tok, 9, 2, RUN_KERNEL_AUTO, 0, RUN_POLICY_LAYER, 4, got, &err), &err);
        if (memcmp(want, got, sizeof *got * o.n_vocab))
            test_fail_(__FILE__, __LINE__, "b3 logits differ from zstd under --act-scales %s", run_act_mode_name(mode));
        /* float mode does change the numbers (block mode on rows of one 256-block does not) */
        if (mode == RUN_ACT_SCALES_FLOAT) CHECK(memcmp(want, ref, sizeof *got * o.n_vocab) != 0);
    }
    trm_run_act_scales = RUN_ACT_SCALES_DYNAMIC;
}
