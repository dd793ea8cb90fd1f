/* test_act_scales.c - the activation-scale section (kind 5, spec 9) in libtrit: canonical
 * round trip, every refusal with its class and absolute offset (R15), checks against a
 * container's tensors; and the runner's static mode on it: the three compute paths (integer
 * kernel per tensor, 32-input chunks per group, elements per channel) agree, results do not
 * depend on the thread count, clipping is counted, and bad or missing scales are refused. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cal.h"
#include "run.h"
#include "test.h"
#include "test_run_util.h"
#include "trit_cursor.h"

#define BASE 1000u   /* pretend the section sits at this file offset */

/* Two entries: tensor 1 per tensor (one scale), tensor 3 per group of 32 (two scales). */
static const float k_s0[1] = {0.5f}, k_s1[2] = {0.25f, 2.0f};
static const trit_act_entry k_entries[2] = {
    {1, TRIT_ACT_TENSOR, 0, 1, 8, k_s0},
    {3, TRIT_ACT_GROUP, 32, 2, 8, k_s1},
};
#define E0 4u          /* offset of entry 0 in the section */
#define E1 (4u + 24u)  /* offset of entry 1 */
#define SEC_LEN (4u + 24u + 28u)

static void valid_section(uint8_t *b)
{
    void *p = NULL;
    uint64_t n = 0;
    trit_err e;
    CHECK_OK_E(trit_act_scales_encode(k_entries, 2, &p, &n, &e), &e);
    CHECK_EQ_U64(n, SEC_LEN);
    if (p && n == SEC_LEN) memcpy(b, p, SEC_LEN);
    trit_free(p);
}

TEST(act_scales_round_trip_canonical)
{
    uint8_t b[SEC_LEN];
    valid_section(b);
    trit_act_scales *s = NULL;
    trit_err e;
    CHECK_OK_E(trit_act_scales_parse(b, SEC_LEN, BASE, "x.trit", NULL, &s, &e), &e);
    CHECK_EQ_U64(trit_act_scales_n(s), 2);
    const trit_act_entry *a = trit_act_scales_find(s, 3);
    CHECK(a && a->granularity == TRIT_ACT_GROUP && a->group_size == 32 && a->n_scales == 2 && a->scales[1] == 2.0f);
    CHECK(trit_act_scales_find(s, 2) == NULL && trit_act_scales_at(s, 2) == NULL);
    /* parse then encode gives the same bytes */
    trit_act_entry re[2] = {*trit_act_scales_at(s, 0), *trit_act_scales_at(s, 1)};
    void *p = NULL;
    uint64_t n = 0;
    CHECK_OK_E(trit_act_scales_encode(re, 2, &p, &n, &e), &e);
    CHECK(p && n == SEC_LEN && memcmp(p, b, SEC_LEN) == 0);
    trit_free(p);
    trit_act_scales_free(s);
    /* an empty section is valid */
    uint8_t z[4] = {0};
    CHECK_OK_E(trit_act_scales_parse(z, 4, 0, NULL, NULL, &s, &e), &e);
    CHECK_EQ_U64(trit_act_scales_n(s), 0);
    trit_act_scales_free(s);
    /* the encoder refuses what a reader would refuse */
    trit_act_entry bad[2] = {k_entries[1], k_entries[0]};
    CHECK_EQ_INT(trit_act_scales_encode(bad, 2, &p, &n, &e), TRIT_E_USAGE);
    float const nan_s[1] = {NAN};
    trit_act_entry nan_e = {0, TRIT_ACT_TENSOR, 0, 1, 8, nan_s};
    CHECK_EQ_INT(trit_act_scales_encode(&nan_e, 1, &p, &n, &e), TRIT_E_USAGE);
    /* 16 bits (spec 9's int16 sites) round-trip; other widths are refused both ways */
    float const one[1] = {0.5f};
    trit_act_entry w16 = {0, TRIT_ACT_TENSOR, 0, 1, 16, one};
    CHECK_OK_E(trit_act_scales_encode(&w16, 1, &p, &n, &e), &e);
    CHECK_OK_E(trit_act_scales_parse(p, n, 0, NULL, NULL, &s, &e), &e);
    CHECK(trit_act_scales_n(s) == 1 && trit_act_scales_at(s, 0)->bits == 16);
    trit_act_scales_free(s);
    trit_store_le32((uint8_t *)p + 4 + 16, 12);
    CHECK_EQ_INT(trit_act_scales_parse(p, n, 0, NULL, NULL, &s, &e), TRIT_E_UNSUPPORTED);
    trit_free(p);
    w16.bits = 12;
    CHECK_EQ_INT(trit_act_scales_encode(&w16, 1, &p, &n, &e), TRIT_E_USAGE);
}

/* Corrupt sections (style R15): each case changes the valid section; expected class and
 * offset relative to the section (the error carries BASE + it). */
enum {
    C_SHORT_COUNT, C_COUNT_LIMIT, C_COUNT_TOO_MANY, C_GRAN_ZERO, C_GRAN_FOUR, C_RESERVED, C_GROUP_ON_TENSOR, C_GROUP_ZERO,
    C_TENSOR_TWO_SCALES, C_BITS, C_ORDER, C_NAN, C_ZERO_SCALE, C_NEG_SCALE, C_INF_SCALE, C_TRAILING, C_SHORT_SCALES, C_COUNT_
};

static void corrupt_case(int k, uint8_t *b, size_t *len, int *code, uint64_t *off)
{
    valid_section(b);
    *len = SEC_LEN;
    float f;
    uint32_t u;
    switch (k) {
    case C_SHORT_COUNT: *len = 3; *code = TRIT_E_TRUNCATED; *off = 0; break;
    case C_COUNT_LIMIT: trit_store_le32(b, (1u << 20) + 1); *code = TRIT_E_LIMIT; *off = 0; break;
    case C_COUNT_TOO_MANY: trit_store_le32(b, 3); *code = TRIT_E_TRUNCATED; *off = 4; break;
    case C_GRAN_ZERO: b[E0 + 4] = 0; *code = TRIT_E_CORRUPT; *off = E0 + 4; break;
    case C_GRAN_FOUR: b[E0 + 4] = 4; *code = TRIT_E_CORRUPT; *off = E0 + 4; break;
    case C_RESERVED: b[E1 + 6] = 1; *code = TRIT_E_CORRUPT; *off = E1 + 5; break;
    case C_GROUP_ON_TENSOR: trit_store_le32(b + E0 + 8, 16); *code = TRIT_E_CORRUPT; *off = E0 + 4; break;
    case C_GROUP_ZERO: trit_store_le32(b + E1 + 8, 0); *code = TRIT_E_CORRUPT; *off = E1 + 4; break;
    case C_TENSOR_TWO_SCALES: trit_store_le32(b + E0 + 12, 2); *code = TRIT_E_CORRUPT; *off = E0 + 4; break;
    case C_BITS: trit_store_le32(b + E1 + 16, 4); *code = TRIT_E_UNSUPPORTED; *off = E1 + 4; break;
    case C_ORDER: trit_store_le32(b + E1, 1); *code = TRIT_E_CORRUPT; *off = E1; break;
    case C_NAN: f = NAN; memcpy(&u, &f, 4); trit_store_le32(b + E1 + 24, u); *code = TRIT_E_CORRUPT; *off = E1 + 24; break;
    case C_ZERO_SCALE: trit_store_le32(b + E0 + 20, 0); *code = TRIT_E_CORRUPT; *off = E0 + 20; break;
    case C_NEG_SCALE: f = -1.0f; memcpy(&u, &f, 4); trit_store_le32(b + E1 + 20, u); *code = TRIT_E_CORRUPT; *off = E1 + 20; break;
    case C_INF_SCALE: f = INFINITY; memcpy(&u, &f, 4); trit_store_le32(b + E0 + 20, u); *code = TRIT_E_CORRUPT; *off = E0 + 20; break;
    case C_TRAILING: *len = SEC_LEN + 4; b[SEC_LEN] = b[SEC_LEN + 1] = b[SEC_LEN + 2] = b[SEC_LEN + 3] = 0; *code = TRIT_E_CORRUPT; *off = SEC_LEN; break;
    case C_SHORT_SCALES: *len = SEC_LEN - 2; *code = TRIT_E_TRUNCATED; *off = E1 + 20; break;
    default: break;
    }
}

TEST(act_scales_corrupt_cases)
{
    for (int k = 0; k < C_COUNT_; k++) {
        uint8_t b[SEC_LEN + 8];
        size_t len;
        int code = TRIT_OK;
        uint64_t off = 0;
        corrupt_case(k, b, &len, &code, &off);
        trit_act_scales *s = (trit_act_scales *)(uintptr_t)1;
        trit_err e;
        trit_err_clear(&e);
        int const rc = trit_act_scales_parse(b, len, BASE, "x.trit", NULL, &s, &e);
        if (rc != code || e.offset != BASE + off || s != NULL) {
            char m[512];
            test_fail_(__FILE__, __LINE__, "case %d: got %d at %llu, expected %d at %llu (%s)", k, rc, (unsigned long long)e.offset,
                       code, (unsigned long long)(BASE + off), trit_err_format(&e, m, sizeof m));
        }
        CHECK(e.msg[0] != 0 && strcmp(e.file, "x.trit") == 0);
    }
}

/* ---- against a container ----------------------------------------------------------------- */

/* A dense t2 model (q/k/v/o, gate/up/down in 2 layers) with weight scale layout wl. */
static const char *t2_model(const char *name, uint32_t wl, uint32_t wg)
{
    trm_cfg c;
    trm_default(&c);
    c.proj_type = TRIT_TYPE_T2;
    c.scale_layout = wl;
    c.group_size = wg;
    c.n_embd = 72;
    c.head_dim = 18;
    c.rope_dim = 18;
    c.n_ff = 131;   /* ffn_down reads 131 channels: not a multiple of 32 */
    c.act = "relu2";
    c.sub_norm = 1;
    const char *path = test_path(test_tmpdir(), name);
    trit_err e;
    CHECK_OK_E(trm_write(&c, path, &e), &e);
    return path;
}

/* Scale of input channel i (the same for every tensor, so tensors sharing an input agree). */
typedef float (*scale_fn)(uint64_t i, uint64_t cols);
static float flat(uint64_t i, uint64_t cols) { (void)i; (void)cols; return 0.03f; }
static float ramp32(uint64_t i, uint64_t cols) { (void)cols; return 0.02f + 0.01f * (float)((i / 32) % 3); }

/* Copy src to dst with entries of granularity g (group size G) for every t2 tensor, scale of
 * channel i from f (per group: f at the group's first channel; per tensor: f(0)). skip: a tensor
 * left without an entry; odd: a tensor whose scales are doubled (NULL: none); bits 8 or 16. */
static int with_scales_bits(const char *src, const char *dst, uint32_t g, uint32_t G, scale_fn f, const char *skip,
                            const char *odd, uint32_t bits, trit_err *e)
{
    trit_reader *r = NULL;
    int rc = trit_reader_open(src, NULL, &r, e);
    if (rc) return rc;
    uint32_t const nt = trit_reader_n_tensors(r);
    trit_act_entry *es = calloc(nt, sizeof *es);
    float **sc = calloc(nt, sizeof *sc);
    uint32_t n = 0;
    for (uint32_t t = 0; t < nt; t++) {
        trit_tensor_info const *ti = trit_reader_tensor(r, t);
        if (ti->type != TRIT_TYPE_T2 || (skip && !strcmp(ti->name, skip))) continue;
        uint64_t const cols = ti->dims[ti->n_dims - 1];
        uint32_t const ns = g == TRIT_ACT_TENSOR ? 1 : g == TRIT_ACT_CHANNEL ? (uint32_t)cols : (uint32_t)((cols + G - 1) / G);
        sc[n] = malloc(ns * sizeof **sc);
        for (uint32_t k = 0; k < ns; k++) {
            sc[n][k] = f(g == TRIT_ACT_GROUP ? (uint64_t)k * G : k, cols);
            if (odd && !strcmp(ti->name, odd)) sc[n][k] *= 2;
        }
        es[n] = (trit_act_entry){t, g, g == TRIT_ACT_GROUP ? G : 0, ns, bits, sc[n]};
        n++;
    }
    void *bytes = NULL;
    uint64_t len = 0;
    rc = trit_act_scales_encode(es, n, &bytes, &len, e);
    cal_copy_opts co;
    memset(&co, 0, sizeof co);
    co.overwrite = 1;
    co.act_section = bytes;
    co.act_section_len = len;
    if (!rc) rc = cal_copy_container(r, dst, &co, e);
    for (uint32_t i = 0; i < n; i++) free(sc[i]);
    free(sc);
    free(es);
    trit_free(bytes);
    trit_reader_close(r);
    return rc;
}

static int with_scales(const char *src, const char *dst, uint32_t g, uint32_t G, scale_fn f, const char *skip, const char *odd,
                       trit_err *e)
{
    return with_scales_bits(src, dst, g, G, f, skip, odd, 8, e);
}

static const uint32_t k_toks[] = {5, 17, 3, 96, 42, 42, 0, 61, 8, 33, 70, 12, 1};
#define N_TOK ((uint32_t)(sizeof k_toks / sizeof k_toks[0]))

/* Logits of the last token in `mode`, evaluated in chunks of 5 (KV cache across calls);
 * the static-scale counters summed over layers into *values / *clipped (may be NULL), and the
 * number of layers counted into *n_layers (may be NULL). */
static int logits_of(const char *path, uint32_t mode, uint32_t threads, float *out, uint32_t *n_layers, uint64_t *values,
                     uint64_t *clipped, trit_err *e)
{
    run_weights w;
    memset(&w, 0, sizeof w);
    run_ctx *c = NULL;
    int rc = run_weights_open_trit(path, 0, &w, e);
    run_opts o;
    run_opts_default(&o);
    o.n_threads = threads;
    o.act_scales = mode;
    o.kernel = RUN_KERNEL_AUTO;
    if (!rc) rc = run_ctx_new(&w, &o, &c, e);
    for (uint32_t i = 0; !rc && i < N_TOK; i += 5)
        rc = run_ctx_eval(c, k_toks + i, N_TOK - i < 5 ? N_TOK - i : 5, i + 5 >= N_TOK ? out : NULL, e);
    if (!rc) {
        run_stats st;
        run_ctx_stats(c, &st);
        uint64_t v = 0, k = 0;
        for (uint32_t l = 0; l < st.n_act_layers; l++) {
            v += st.act_values[l];
            k += st.act_clipped[l];
        }
        if (n_layers) *n_layers = st.n_act_layers;
        if (values) *values = v;
        if (clipped) *clipped = k;
    }
    run_ctx_free(c);
    run_weights_close(&w);
    return rc;
}

static double rel_diff(const float *a, const float *b, uint32_t n)
{
    double d = 0, m = 0;
    for (uint32_t i = 0; i < n; i++) {
        d = fmax(d, fabs((double)a[i] - (double)b[i]));
        m = fmax(m, fabs((double)a[i]));
    }
    return m > 0 ? d / m : d;
}

TEST(act_static_paths_agree)
{
    static const struct { uint32_t wl, wg; const char *name; } wls[] = {
        {TRIT_SCALE_TENSOR, 0, "as_t.trit"}, {TRIT_SCALE_ROW, 0, "as_r.trit"},
        {TRIT_SCALE_GROUP, 32, "as_g32.trit"}, {TRIT_SCALE_GROUP, 24, "as_g24.trit"},
    };
    uint32_t const V = 97;
    float ref[97], got[97], dyn[97];
    trit_err e;
    const char *dir = test_tmpdir();
    for (size_t m = 0; m < sizeof wls / sizeof wls[0]; m++) {
        char src[512];   /* test_path's ring is reused below */
        snprintf(src, sizeof src, "%s", t2_model(wls[m].name, wls[m].wl, wls[m].wg));
        const char *pt = test_path(dir, "as_pt.trit");
        CHECK_OK_E(with_scales(src, pt, TRIT_ACT_TENSOR, 0, flat, NULL, NULL, &e), &e);
        CHECK_OK_E(logits_of(pt, RUN_ACT_SCALES_STATIC, 1, ref, NULL, NULL, NULL, &e), &e);
        CHECK_OK_E(logits_of(src, RUN_ACT_SCALES_DYNAMIC, 1, dyn, NULL, NULL, NULL, &e), &e);
        CHECK(rel_diff(dyn, ref, V) > 0);
        /* calibrated scales (token ids: trm models carry no tokenizer): close to dynamic */
        uint32_t cal[512];
        for (uint32_t i = 0; i < 512; i++) cal[i] = (i * 37u + (i >> 3) * 11u) % V;
        cal_opts co;
        memset(&co, 0, sizeof co);
        co.tolerance = -1;
        co.overwrite = 1;
        const char *pcal = test_path(dir, "as_cal.trit");
        CHECK_OK_E(cal_calibrate(src, cal, 512, pcal, &co, NULL, &e), &e);
        CHECK_OK_E(logits_of(pcal, RUN_ACT_SCALES_STATIC, 1, got, NULL, NULL, NULL, &e), &e);
        double const dc = rel_diff(dyn, got, V);
        if (!(dc > 0 && dc < 0.05)) test_fail_(__FILE__, __LINE__, "%s: calibrated static vs dynamic: %g", wls[m].name, dc);
        /* the same flat scale per channel (elements), per group of 32 (chunks), per group of
         * 48 (elements: not a multiple of 32) gives the same results as per tensor (kernel) */
        static const struct { uint32_t g, G; } gs[] = {{TRIT_ACT_CHANNEL, 0}, {TRIT_ACT_GROUP, 32}, {TRIT_ACT_GROUP, 48}, {TRIT_ACT_GROUP, 128}};
        for (size_t k = 0; k < sizeof gs / sizeof gs[0]; k++) {
            const char *p = test_path(dir, "as_x.trit");
            CHECK_OK_E(with_scales(src, p, gs[k].g, gs[k].G, flat, NULL, NULL, &e), &e);
            CHECK_OK_E(logits_of(p, RUN_ACT_SCALES_STATIC, 1, got, NULL, NULL, NULL, &e), &e);
            double const d = rel_diff(ref, got, V);
            if (!(d < 1e-5)) test_fail_(__FILE__, __LINE__, "%s: granularity %u/%u differs from per tensor by %g", wls[m].name, gs[k].g, gs[k].G, d);
        }
        /* scales varying per group of 32: chunks (group 32) against elements (channel) */
        const char *pg = test_path(dir, "as_g.trit"), *pc = test_path(dir, "as_c.trit");
        CHECK_OK_E(with_scales(src, pg, TRIT_ACT_GROUP, 32, ramp32, NULL, NULL, &e), &e);
        CHECK_OK_E(with_scales(src, pc, TRIT_ACT_CHANNEL, 0, ramp32, NULL, NULL, &e), &e);
        CHECK_OK_E(logits_of(pg, RUN_ACT_SCALES_STATIC, 1, ref, NULL, NULL, NULL, &e), &e);
        CHECK_OK_E(logits_of(pc, RUN_ACT_SCALES_STATIC, 1, got, NULL, NULL, NULL, &e), &e);
        double const dv = rel_diff(ref, got, V), dflat = rel_diff(ref, dyn, V);
        if (!(dv < 1e-5)) test_fail_(__FILE__, __LINE__, "%s: varying scales, chunks vs elements differ by %g", wls[m].name, dv);
        CHECK(dflat > 1e-4);   /* and they do change the result */
        /* bit-identical whatever the thread count */
        float t2[97];
        CHECK_OK_E(logits_of(pc, RUN_ACT_SCALES_STATIC, 2, t2, NULL, NULL, NULL, &e), &e);
        CHECK(memcmp(t2, got, sizeof t2) == 0);
        CHECK_OK_E(logits_of(pg, RUN_ACT_SCALES_STATIC, 2, t2, NULL, NULL, NULL, &e), &e);
        CHECK(memcmp(t2, ref, sizeof t2) == 0);
    }
}

static float tiny16(uint64_t i, uint64_t cols) { (void)i; (void)cols; return 1e-5f; }

/* int16 steps (spec 9's 16-bit sites): 15x finer than flat's int8 ones over 17x the range, which
 * these models' activations stay within */
static float flat16(uint64_t i, uint64_t cols) { (void)i; (void)cols; return 0.002f; }
static float ramp32_16(uint64_t i, uint64_t cols) { return ramp32(i, cols) / 15; }

/* 16-bit static scales: every granularity and weight layout (rows of 72 and 131 inputs: partial
 * blocks and chunks) gives the per-tensor path's numbers, which are far closer to the float
 * reference than dynamic int8's, and no thread count changes a bit. (The element path, per
 * channel or groups of 48, sums q * s in double: in float, int16's 15 significant bits put it
 * 7e-4 away from the exact chunk sums.) */
TEST(act_static_int16_paths_agree)
{
    static const struct { uint32_t wl, wg; const char *name; } wls[] = {
        {TRIT_SCALE_TENSOR, 0, "a16_t.trit"}, {TRIT_SCALE_ROW, 0, "a16_r.trit"},
        {TRIT_SCALE_GROUP, 32, "a16_g32.trit"}, {TRIT_SCALE_GROUP, 24, "a16_g24.trit"},
    };
    uint32_t const V = 97;
    float flt[97], dyn[97], ref[97], got[97], t2[97];
    trit_err e;
    const char *dir = test_tmpdir();
    for (size_t m = 0; m < sizeof wls / sizeof wls[0]; m++) {
        char src[512];
        snprintf(src, sizeof src, "%s", t2_model(wls[m].name, wls[m].wl, wls[m].wg));
        CHECK_OK_E(logits_of(src, RUN_ACT_SCALES_DYNAMIC, 1, dyn, NULL, NULL, NULL, &e), &e);
        CHECK_OK_E(logits_of(src, RUN_ACT_SCALES_FLOAT, 1, flt, NULL, NULL, NULL, &e), &e);
        const char *pt = test_path(dir, "a16_pt.trit");
        uint64_t values = 0, clipped = 1;
        CHECK_OK_E(with_scales_bits(src, pt, TRIT_ACT_TENSOR, 0, flat16, NULL, NULL, 16, &e), &e);
        CHECK_OK_E(logits_of(pt, RUN_ACT_SCALES_STATIC, 1, ref, NULL, &values, &clipped, &e), &e);
        CHECK(values > 0 && clipped == 0);
        double const d16 = rel_diff(flt, ref, V), d8 = rel_diff(flt, dyn, V);
        if (!(d16 > 0 && d16 * 5 < d8)) test_fail_(__FILE__, __LINE__, "%s: vs float: static int16 %g, dynamic int8 %g", wls[m].name, d16, d8);
        static const struct { uint32_t g, G; } gs[] = {{TRIT_ACT_CHANNEL, 0}, {TRIT_ACT_GROUP, 32}, {TRIT_ACT_GROUP, 48}, {TRIT_ACT_GROUP, 128}};
        for (size_t k = 0; k < sizeof gs / sizeof gs[0]; k++) {
            const char *p = test_path(dir, "a16_x.trit");
            CHECK_OK_E(with_scales_bits(src, p, gs[k].g, gs[k].G, flat16, NULL, NULL, 16, &e), &e);
            CHECK_OK_E(logits_of(p, RUN_ACT_SCALES_STATIC, 1, got, NULL, NULL, NULL, &e), &e);
            double const d = rel_diff(ref, got, V);
            if (!(d < 1e-5)) test_fail_(__FILE__, __LINE__, "%s: int16 granularity %u/%u differs from per tensor by %g", wls[m].name, gs[k].g, gs[k].G, d);
        }
        const char *pg = test_path(dir, "a16_g.trit"), *pc = test_path(dir, "a16_c.trit");
        CHECK_OK_E(with_scales_bits(src, pg, TRIT_ACT_GROUP, 32, ramp32_16, NULL, NULL, 16, &e), &e);
        CHECK_OK_E(with_scales_bits(src, pc, TRIT_ACT_CHANNEL, 0, ramp32_16, NULL, NULL, 16, &e), &e);
        CHECK_OK_E(logits_of(pg, RUN_ACT_SCALES_STATIC, 1, got, NULL, NULL, NULL, &e), &e);
        CHECK_OK_E(logits_of(pc, RUN_ACT_SCALES_STATIC, 1, t2, NULL, NULL, NULL, &e), &e);
        double const dv = rel_diff(got, t2, V);
        if (!(dv < 1e-5)) test_fail_(__FILE__, __LINE__, "%s: int16 varying scales, chunks vs elements differ by %g", wls[m].name, dv);
        CHECK(memcmp(got, ref, sizeof got) != 0);   /* the varying scales do change the result */
        /* bit-identical whatever the thread count */
        CHECK_OK_E(logits_of(pt, RUN_ACT_SCALES_STATIC, 2, got, NULL, NULL, NULL, &e), &e);
        CHECK(memcmp(got, ref, sizeof got) == 0);
        CHECK_OK_E(logits_of(pc, RUN_ACT_SCALES_STATIC, 3, got, NULL, NULL, NULL, &e), &e);
        CHECK(memcmp(got, t2, sizeof got) == 0);
        /* a scale too small for the values clips at +-32767 and says so */
        CHECK_OK_E(with_scales_bits(src, pt, TRIT_ACT_TENSOR, 0, tiny16, NULL, NULL, 16, &e), &e);
        CHECK_OK_E(logits_of(pt, RUN_ACT_SCALES_STATIC, 1, got, NULL, &values, &clipped, &e), &e);
        CHECK(clipped > 0 && clipped < values);
    }
}

static float tiny(uint64_t i, uint64_t cols) { (void)i; (void)cols; return 1e-4f; }

TEST(act_static_clipping_and_refusals)
{
    const char *dir = test_tmpdir();
    char src[512];   /* test_path's ring is reused below */
    snprintf(src, sizeof src, "%s", t2_model("ar.trit", TRIT_SCALE_TENSOR, 0));
    float out[97];
    trit_err e;
    uint64_t clipped = 0, vals = 0;
    uint32_t nl = 0;
    /* scales far below the activations clip nearly everything; flat ones clip little */
    const char *p = test_path(dir, "ar_tiny.trit");
    CHECK_OK_E(with_scales(src, p, TRIT_ACT_TENSOR, 0, tiny, NULL, NULL, &e), &e);
    CHECK_OK_E(logits_of(p, RUN_ACT_SCALES_STATIC, 1, out, &nl, &vals, &clipped, &e), &e);
    CHECK_EQ_U64(nl, 3);   /* 2 layers + the output head */
    /* per token and layer: q/k/v input 72, o input 72, gate/up input 72, down input 131 */
    CHECK_EQ_U64(vals, (uint64_t)N_TOK * 2 * (72 + 72 + 72 + 131));
    CHECK(clipped > vals / 2);
    const char *pf = test_path(dir, "ar_flat.trit");
    CHECK_OK_E(with_scales(src, pf, TRIT_ACT_TENSOR, 0, flat, NULL, NULL, &e), &e);
    uint64_t clipped_flat = 0;
    CHECK_OK_E(logits_of(pf, RUN_ACT_SCALES_STATIC, 1, out, NULL, NULL, &clipped_flat, &e), &e);
    CHECK(clipped_flat < clipped / 10);
    /* dynamic mode: no clipping statistics */
    CHECK_OK_E(logits_of(pf, RUN_ACT_SCALES_DYNAMIC, 1, out, &nl, &vals, NULL, &e), &e);
    CHECK(nl == 0 && vals == 0);
    /* refusals: no section; a t2 tensor without an entry; q and k reading the same input with
     * different scales; a corrupt section */
    CHECK_EQ_INT(logits_of(src, RUN_ACT_SCALES_STATIC, 1, out, NULL, NULL, NULL, &e), TRIT_E_NOTFOUND);
    CHECK(strstr(e.msg, "trit calibrate") != NULL);
    const char *pm = test_path(dir, "ar_missing.trit");
    CHECK_OK_E(with_scales(src, pm, TRIT_ACT_TENSOR, 0, flat, "blk.1.ffn_down.weight", NULL, &e), &e);
    CHECK_EQ_INT(logits_of(pm, RUN_ACT_SCALES_STATIC, 1, out, NULL, NULL, NULL, &e), TRIT_E_CORRUPT);
    CHECK(strstr(e.where, "blk.1.ffn_down.weight") != NULL);
    const char *pd = test_path(dir, "ar_differ.trit");
    CHECK_OK_E(with_scales(src, pd, TRIT_ACT_TENSOR, 0, flat, NULL, "blk.0.attn_k.weight", &e), &e);
    CHECK_EQ_INT(logits_of(pd, RUN_ACT_SCALES_STATIC, 1, out, NULL, NULL, NULL, &e), TRIT_E_CORRUPT);
    CHECK(strstr(e.where, "blk.0.attn_k.weight") && strstr(e.msg, "blk.0.attn_q.weight"));
    /* a channel entry whose count does not match its tensor: refused by libtrit's parse,
     * naming the entry and the absolute offset inside the section */
    trit_reader *r = NULL;
    CHECK_OK_E(trit_reader_open(src, NULL, &r, &e), &e);
    if (r) {
        int64_t const ti = trit_reader_find_tensor(r, "blk.0.attn_output.weight");
        float sc[8] = {1, 1, 1, 1, 1, 1, 1, 1};
        trit_act_entry const bad = {(uint32_t)ti, TRIT_ACT_CHANNEL, 0, 8, 8, sc};
        void *bytes = NULL;
        uint64_t len = 0;
        CHECK_OK_E(trit_act_scales_encode(&bad, 1, &bytes, &len, &e), &e);
        cal_copy_opts co;
        memset(&co, 0, sizeof co);
        co.overwrite = 1;
        co.act_section = bytes;
        co.act_section_len = len;
        const char *pb = test_path(dir, "ar_bad.trit");
        CHECK_OK_E(cal_copy_container(r, pb, &co, &e), &e);
        trit_free(bytes);
        CHECK_EQ_INT(logits_of(pb, RUN_ACT_SCALES_STATIC, 1, out, NULL, NULL, NULL, &e), TRIT_E_CORRUPT);
        CHECK(strstr(e.where, "blk.0.attn_output.weight") && strstr(e.msg, "expected 72"));
        uint64_t const err_off = e.offset;
        trit_reader *rb = NULL;
        CHECK_OK_E(trit_reader_open(pb, NULL, &rb, &e), &e);
        if (rb) {
            uint64_t const sec_off = trit_reader_section(rb, (uint32_t)trit_reader_find_section(rb, TRIT_SECTION_ACT_SCALES))->offset;
            CHECK_EQ_U64(err_off, sec_off + 4 + 4);   /* entry 0's granularity field */
            /* an index past the tensors */
            trit_act_scales *s = NULL;
            uint8_t b[28];
            trit_store_le32(b, 1);
            trit_store_le32(b + 4, 100000);
            memset(b + 8, 0, 20);
            b[8] = TRIT_ACT_TENSOR;
            trit_store_le32(b + 16, 1);
            trit_store_le32(b + 20, 8);
            float const one = 1.0f;
            uint32_t u;
            memcpy(&u, &one, 4);
            trit_store_le32(b + 24, u);
            CHECK_OK_E(trit_act_scales_parse(b, 28, 0, NULL, NULL, &s, &e), &e);
            trit_act_scales_free(s);
            CHECK_EQ_INT(trit_act_scales_parse(b, 28, 0, NULL, rb, &s, &e), TRIT_E_CORRUPT);
            CHECK(strstr(e.msg, "tensor index 100000") != NULL);
        }
        trit_reader_close(rb);
    }
    trit_reader_close(r);
}
