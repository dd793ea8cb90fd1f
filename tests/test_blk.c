/* test_blk.c - ggml block types in the container (spec/container.md 6.3): geometry and scale
 * checks in libtrit, kept bit for bit by convert, written back bit for bit by export, decoded by
 * inspect/diff, checked by verify, and computed by the runner (against the float twin of the
 * same weights, at any thread count). The llama.cpp comparison is tools/conformance/blk.sh. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cvt.h"
#include "exg.h"
#include "gen/gen.h"
#include "insp.h"
#include "run.h"
#include "src_ggml_types.h"
#include "src_gguf.h"
#include "test.h"
#include "test_blk.h"
#include "test_run_util.h"
#include "tfmt.h"
#include "vfy.h"

TEST(format_blk_geometry_and_rows)
{
    static const struct { uint32_t type, be, bb; const char *name; } want[] = {
        {TRIT_TYPE_Q8_0, 32, 34, "q8_0"}, {TRIT_TYPE_Q4_K, 256, 144, "q4_k"},
        {TRIT_TYPE_Q6_K, 256, 210, "q6_k"}, {TRIT_TYPE_MXFP4, 32, 17, "mxfp4"}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        uint32_t be = 0, bb = 0;
        CHECK_OK_E(trit_type_geometry(want[i].type, &be, &bb), NULL);
        CHECK_EQ_U64(be, want[i].be);
        CHECK_EQ_U64(bb, want[i].bb);
        CHECK_STR(trit_type_name(want[i].type), want[i].name);
        CHECK(trit_type_is_block(want[i].type));
        /* the runner's kernels agree on the geometry */
        CHECK_EQ_U64(run_blk_elems((run_blk_type)i), be);
        CHECK_EQ_U64(run_blk_bytes((run_blk_type)i), bb);
        trit_tensor_info t;
        memset(&t, 0, sizeof t);
        t.name = "w";
        t.type = want[i].type;
        t.block_elems = be;
        t.block_bytes = bb;
        t.n_dims = 2;
        t.dims[0] = 3;
        t.dims[1] = 2 * be;
        trit_err err;
        CHECK_OK_E(trit_tensor_layout(&t, &err), &err);
        CHECK_EQ_U64(t.size, 3 * 2 * bb);
        /* ggml has no partial blocks: a row of 2 * be + 1 weights is refused */
        t.dims[1] = 2 * be + 1;
        CHECK_EQ_INT(trit_tensor_layout(&t, &err), TRIT_E_CORRUPT);
        CHECK(strstr(err.msg, "whole") != NULL);
        t.n_dims = 0;   /* a 0-d tensor is one weight: not a block */
        CHECK_EQ_INT(trit_tensor_layout(&t, &err), TRIT_E_CORRUPT);
        /* scales live in the blocks */
        t.n_dims = 2;
        t.dims[1] = be;
        t.scale_layout = TRIT_SCALE_ROW;
        t.scale_type = TRIT_SCALE_TYPE_F32;
        CHECK_EQ_INT(trit_tensor_layout(&t, &err), TRIT_E_CORRUPT);
    }
    CHECK(!trit_type_is_block(TRIT_TYPE_T2));
    CHECK(!trit_type_is_block(TRIT_TYPE_COUNT_));
}

TEST(format_blk_scale_check_any_piece)
{
    /* three blocks of each type, every scale valid, then one made invalid; fed whole and in
     * pieces of every size, the first bad byte is found at the same tensor offset */
    static const struct { uint32_t type; unsigned at; uint8_t bad; } cases[] = {
        {TRIT_TYPE_Q8_0, 1, 0x7c},  /* d = +inf */
        {TRIT_TYPE_Q4_K, 3, 0xfe},  /* dmin = NaN */
        {TRIT_TYPE_Q4_K, 1, 0xfc},  /* d = -inf */
        {TRIT_TYPE_Q6_K, 209, 0x7d},/* d = NaN */
        {TRIT_TYPE_MXFP4, 0, 0xff}, /* E8M0 255: NaN in OCP MX */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint32_t be, bb;
        trit_type_geometry(cases[i].type, &be, &bb);
        uint8_t buf[3 * 210];
        for (unsigned k = 0; k < sizeof buf; k++) buf[k] = (uint8_t)(k * 7);
        trit_tensor_info t;
        memset(&t, 0, sizeof t);
        t.type = cases[i].type;
        t.block_bytes = bb;
        t.size = 3 * bb;
        tfmt_fill_blk(&t, buf, 3);
        CHECK_EQ_U64(trit_blk_find_bad(t.type, buf, 0, 3 * bb), 3 * bb);
        /* valid extremes stay valid: the largest finite f16, E8M0 254 */
        buf[bb + cases[i].at] = cases[i].type == TRIT_TYPE_MXFP4 ? 0xfe : 0x7b;
        CHECK_EQ_U64(trit_blk_find_bad(t.type, buf, 0, 3 * bb), 3 * bb);
        buf[bb + cases[i].at] = cases[i].bad;
        uint64_t const want = bb + cases[i].at;
        CHECK_EQ_U64(trit_blk_find_bad(t.type, buf, 0, 3 * bb), want);
        for (uint64_t piece = 1; piece <= 3 * bb; piece++) {
            uint64_t found = 3 * bb;
            for (uint64_t q = 0; q < 3 * bb && found == 3 * bb; q += piece) {
                uint64_t const n = 3 * bb - q < piece ? 3 * bb - q : piece;
                uint64_t const f = trit_blk_find_bad(t.type, buf + q, q, n);
                if (f != q + n) found = f;
            }
            if (found != want) {
                CHECK_EQ_U64(found, want);
                break;
            }
        }
        CHECK_EQ_U64(trit_blk_find_bad(TRIT_TYPE_F32, buf, 0, 3 * bb), 3 * bb);
    }
}

/* A container with one dense and one expert tensor of type ty, blocks valid except, when
 * bad_dense / bad_member, the scale of block 1. */
static int write_bad(const char *path, uint32_t ty, int bad_dense, int bad_member, trit_err *err)
{
    trit_write_opts o = {0};
    o.overwrite = 1;
    trit_writer *w;
    int rc = trit_writer_open(path, &o, &w, err);
    if (rc) return rc;
    uint32_t be, bb;
    trit_type_geometry(ty, &be, &bb);
    trit_tensor_info t[2];
    uint32_t id[2], unit = 0;
    memset(t, 0, sizeof t);
    rc = trit_writer_add_unit(w, 0, 0, TRIT_STORAGE_ZSTD, &unit, err);
    for (int k = 0; k < 2 && rc == TRIT_OK; k++) {
        t[k].name = k ? "blk.0.ffn_up.0.weight" : "blk.0.attn_q.weight";
        t[k].type = ty;
        t[k].block_elems = be;
        t[k].block_bytes = bb;
        t[k].n_dims = 2;
        t[k].dims[0] = 2;
        t[k].dims[1] = 2 * be;
        t[k].layer = k ? 0 : TRIT_NONE32;
        t[k].expert = k ? 0 : TRIT_NONE32;
        t[k].unit = k ? unit : TRIT_NONE32;
        trit_tensor_layout(&t[k], NULL);
        rc = trit_writer_add_tensor(w, &t[k], &id[k], err);
    }
    uint8_t buf[4 * 210];
    for (int k = 0; k < 2 && rc == TRIT_OK; k++) {
        tfmt_fill_blk(&t[k], buf, (uint32_t)k);
        if (k ? bad_member : bad_dense) buf[bb + (ty == TRIT_TYPE_MXFP4 ? 0 : ty == TRIT_TYPE_Q6_K ? 209 : 1)] = 0xff;
        if (k) rc = trit_writer_unit_begin(w, unit, err);
        if (rc == TRIT_OK) rc = trit_writer_write_tensor(w, id[k], buf, t[k].size, err);
        if (k && rc == TRIT_OK) rc = trit_writer_unit_end(w, err);
    }
    if (rc) {
        trit_writer_abort(w);
        return rc;
    }
    return trit_writer_finish(w, err);
}

TEST(format_blk_verifying_open_and_verify_refuse_bad_scales)
{
    static const uint32_t types[] = {TRIT_TYPE_Q8_0, TRIT_TYPE_Q4_K, TRIT_TYPE_Q6_K, TRIT_TYPE_MXFP4};
    for (size_t i = 0; i < 4; i++)
        for (int bad = 0; bad < 3; bad++) {
            const char *path = test_path(test_tmpdir(), "bad-scale.trit");
            trit_err err;
            CHECK_OK_E(write_bad(path, types[i], bad == 1, bad == 2, &err), &err);
            /* the writer marks the file 1.1: it needs a type 1.0 does not define */
            size_t n = 0;
            uint8_t *f = test_read_file(path, &n);
            CHECK(f && n > 12 && f[10] == 1 && f[11] == 0);
            free(f);
            trit_reader *r = NULL;
            CHECK_OK_E(trit_reader_open(path, NULL, &r, &err), &err);   /* geometry only: opens */
            trit_reader_close(r);
            r = NULL;
            trit_open_opts const vo = {TRIT_OPEN_VERIFY};
            int const rc = trit_reader_open(path, &vo, &r, &err);
            trit_reader_close(r);
            CHECK_EQ_INT(rc, bad ? TRIT_E_CORRUPT : TRIT_OK);
            if (bad) CHECK(strstr(err.msg, "block 1 has an invalid scale") != NULL);
            vfy_report rep;
            vfy_opts vopt;
            memset(&vopt, 0, sizeof vopt);
            CHECK_OK_E(vfy_verify(path, &vopt, &rep, &err), &err);
            uint32_t found = 0;
            for (uint32_t k = 0; k < rep.n_issues; k++)
                found += rep.issues[k].cls == VFY_C_TENSOR && strstr(rep.issues[k].msg, "1 ") &&
                         strstr(rep.issues[k].msg, "invalid scale, first block 1") != NULL;
            CHECK_EQ_U64(found, bad ? 1 : 0);
            vfy_report_release(&rep);
        }
}

/* ---- convert / export / run on GGUF sources with block-quantized weights ---- */

typedef struct blk_model {
    char gguf[512], twin[512], trit[512], twin_trit[512], back[512];
} blk_model;

static int make_model(run_blk_type t, const char *tag, blk_model *m)
{
    const char *dir = test_tmpdir();
    char base[512];
    snprintf(base, sizeof base, "%s", test_path(dir, "blk-gen.gguf"));
    snprintf(m->gguf, sizeof m->gguf, "%s/blk-%s.gguf", dir, tag);
    snprintf(m->twin, sizeof m->twin, "%s/blk-%s-twin.gguf", dir, tag);
    snprintf(m->trit, sizeof m->trit, "%s/blk-%s.trit", dir, tag);
    snprintf(m->twin_trit, sizeof m->twin_trit, "%s/blk-%s-twin.trit", dir, tag);
    snprintf(m->back, sizeof m->back, "%s/blk-%s-back.gguf", dir, tag);
    gen_opts g;
    gen_opts_default(&g, GEN_LAYOUT_GGUF_MOE);
    g.n_embd = 256;
    g.n_ff = 256;
    g.overwrite = 1;
    trit_err err;
    int rc = gen_write(&g, base, &err);
    static const char *const keep[] = {"ffn_gate_inp", NULL};   /* the router stays float, as llama.cpp keeps it */
    if (!rc) rc = tb_requant(base, m->gguf, t, keep, 0, 0.05f, &err);
    if (!rc) rc = tb_requant(base, m->twin, t, keep, 1, 0.05f, &err);
    cvt_opts o;
    memset(&o, 0, sizeof o);
    o.overwrite = 1;
    if (!rc) rc = cvt_convert(m->gguf, m->trit, &o, NULL, &err);
    if (!rc) rc = cvt_convert(m->twin, m->twin_trit, &o, NULL, &err);
    if (rc) {
        char b[512];
        test_fail_(__FILE__, __LINE__, "building the %s model: %s", tag, trit_err_format(&err, b, sizeof b));
    }
    return rc;
}

/* Every tensor of GGUF a is in GGUF b with the same type, shape and bytes. */
static void check_same_tensors(const char *a, const char *b, uint32_t want_type, uint32_t *n_typed)
{
    src_gguf *ga = NULL, *gb = NULL;
    trit_err err;
    CHECK_OK_E(src_gguf_open(a, NULL, &ga, &err), &err);
    CHECK_OK_E(src_gguf_open(b, NULL, &gb, &err), &err);
    *n_typed = 0;
    for (uint64_t i = 0; ga && gb && i < src_gguf_n_tensors(ga); i++) {
        src_gguf_tensor_info const *ta = src_gguf_tensor(ga, i);
        int64_t const j = src_gguf_find_tensor(gb, ta->name);
        if (j < 0) {
            test_fail_(__FILE__, __LINE__, "'%s' is missing from the export", ta->name);
            continue;
        }
        src_gguf_tensor_info const *tb = src_gguf_tensor(gb, (uint64_t)j);
        CHECK_EQ_U64(tb->ggml_type, ta->ggml_type);
        CHECK_EQ_U64(tb->nbytes, ta->nbytes);
        CHECK(memcmp(ta->ne, tb->ne, sizeof ta->ne) == 0);
        *n_typed += ta->ggml_type == want_type;
        if (ta->ggml_type != want_type || tb->nbytes != ta->nbytes) continue;
        uint8_t *pa = malloc((size_t)ta->nbytes + 1), *pb = malloc((size_t)tb->nbytes + 1);
        CHECK_OK_E(src_gguf_read(ga, i, 0, pa, ta->nbytes, &err), &err);
        CHECK_OK_E(src_gguf_read(gb, (uint64_t)j, 0, pb, tb->nbytes, &err), &err);
        if (memcmp(pa, pb, (size_t)ta->nbytes) != 0) test_fail_(__FILE__, __LINE__, "'%s' differs after the round trip", ta->name);
        free(pa);
        free(pb);
    }
    src_gguf_close(ga);
    src_gguf_close(gb);
}

static void blk_roundtrip_and_run(run_blk_type t, uint32_t ctype, uint32_t ggml_type, const char *tag, double tol)
{
    blk_model m;
    if (make_model(t, tag, &m)) return;
    trit_reader *r = NULL;
    trit_err err;
    CHECK_OK_E(trit_reader_open(m.trit, NULL, &r, &err), &err);
    if (!r) return;
    /* the matrices kept their type, experts are units of it, and no byte grew */
    uint64_t n_blk = 0, blk_bytes = 0;
    for (uint32_t i = 0; i < trit_reader_n_tensors(r); i++) {
        trit_tensor_info const *ti = trit_reader_tensor(r, i);
        if (ti->type == ctype) n_blk++, blk_bytes += ti->size;
    }
    int64_t const ex = trit_reader_find_tensor(r, "blk.1.ffn_down.3.weight");
    CHECK(ex >= 0 && trit_reader_tensor(r, (uint32_t)ex)->type == ctype &&
          trit_reader_tensor(r, (uint32_t)ex)->unit != TRIT_NONE32);
    int64_t const emb = trit_reader_find_tensor(r, "token_embd.weight");
    CHECK(emb >= 0 && trit_reader_tensor(r, (uint32_t)emb)->type == ctype);
    CHECK(n_blk >= 2 * 4 + 1 + 2 * 4 * 3);   /* q k v o per layer, the embeddings, every expert member */
    src_gguf *g = NULL;
    uint64_t gguf_blk = 0;
    CHECK_OK_E(src_gguf_open(m.gguf, NULL, &g, &err), &err);
    for (uint64_t i = 0; g && i < src_gguf_n_tensors(g); i++)
        if (src_gguf_tensor(g, i)->ggml_type == ggml_type) gguf_blk += src_gguf_tensor(g, i)->nbytes;
    src_gguf_close(g);
    CHECK_EQ_U64(blk_bytes, gguf_blk);
    /* export: the same GGUF types, bit for bit */
    exg_opts eo;
    memset(&eo, 0, sizeof eo);
    eo.flags = EXG_OVERWRITE;
    CHECK_OK_E(exg_gguf(r, m.back, &eo, NULL, &err), &err);
    uint32_t n_typed = 0;
    check_same_tensors(m.gguf, m.back, ggml_type, &n_typed);
    /* llama_ftype of the export: MOSTLY_Q8_0 7, Q4_K_M 15, Q6_K 18, MXFP4_MOE 38 */
    src_gguf *bk = NULL;
    CHECK_OK_E(src_gguf_open(m.back, NULL, &bk, &err), &err);
    uint64_t ft = UINT64_MAX, qv = UINT64_MAX;
    int64_t const kf = bk ? src_gguf_find_kv(bk, "general.file_type") : -1;
    int64_t const kq = bk ? src_gguf_find_kv(bk, "general.quantization_version") : -1;
    if (kf >= 0) src_gguf_kv_u64(bk, (uint64_t)kf, &ft);
    if (kq >= 0) src_gguf_kv_u64(bk, (uint64_t)kq, &qv);
    CHECK_EQ_U64(ft, ggml_type == 8 ? 7 : ggml_type == 12 ? 15 : ggml_type == 14 ? 18 : 38);
    CHECK_EQ_U64(qv, 2);
    src_gguf_close(bk);
    CHECK(n_typed >= 2 * 4 + 1 + 2 * 3);
    trit_reader_close(r);
    /* inspect/diff: the container's block values (source/'s ggml decoders) are the twin's F32
     * values (runner/'s reference dequantizer), bit for bit: two decoders agree. MXFP4 needs
     * source/'s MXFP4 decoder (the gpt-oss work); without it diff refuses the tensor by name. */
    const src_ggml_type *gt = src_ggml_type_get(ggml_type);
    insp_diff *dd = NULL;
    int const drc = insp_diff_run(m.trit, m.twin_trit, NULL, &dd, &err);
    if (gt && gt->can_decode) {
        CHECK_OK_E(drc, &err);
        /* the provenance differs (other source files); every tensor is the same */
        char *js = dd ? insp_diff_json(dd) : NULL;
        cJSON *j = js ? cJSON_Parse(js) : NULL;
        cJSON const *sum = cJSON_GetObjectItemCaseSensitive(j, "summary");
        double const same = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(sum, "same"));
        double const all = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(sum, "tensors"));
        double const retyped = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(sum, "type_changed"));
        CHECK(all > 0 && same == all && retyped == (double)n_blk);
        cJSON_Delete(j);
        free(js);
    } else {
        CHECK_EQ_INT(drc, TRIT_E_UNSUPPORTED);
    }
    insp_diff_free(dd);
    /* the runner: the float twin's logits up to activation quantization, the same bits at
     * any thread count */
    static const uint32_t toks[] = {1, 17, 42, 200, 7, 99};
    float *l1 = malloc(384 * sizeof *l1), *l3 = malloc(384 * sizeof *l3), *lf = malloc(384 * sizeof *lf);
    CHECK_OK_E(trm_run_logits(m.trit, toks, 6, 1, RUN_KERNEL_AUTO, 1u << 30, 0, 0, l1, &err), &err);
    CHECK_OK_E(trm_run_logits(m.trit, toks, 6, 3, RUN_KERNEL_AUTO, 1u << 30, 0, 2, l3, &err), &err);
    CHECK(memcmp(l1, l3, 384 * sizeof *l1) == 0);
    CHECK_OK_E(trm_run_logits(m.twin_trit, toks, 6, 1, RUN_KERNEL_AUTO, 1u << 30, 0, 0, lf, &err), &err);
    double amax = 0;
    uint32_t a1 = 0, af = 0;
    for (uint32_t i = 0; i < 384; i++) {
        if (fabs(lf[i]) > amax) amax = fabs(lf[i]);
        if (l1[i] > l1[a1]) a1 = i;
        if (lf[i] > lf[af]) af = i;
    }
    double const d = trm_max_diff(l1, lf, 384);
    if (!(d <= tol * amax) || a1 != af)
        test_fail_(__FILE__, __LINE__, "%s: max |dlogit| %.3g vs the float twin (tol %.3g x max|logit| %.3g), top-1 %u vs %u", tag,
                   d, tol, amax, a1, af);
    CHECK(d > 0);   /* the activations are quantized: not the float product */
    free(l1);
    free(l3);
    free(lf);
}

TEST(blk_q8_0_convert_export_run) { blk_roundtrip_and_run(RUN_BLK_Q8_0, TRIT_TYPE_Q8_0, 8, "q8_0", 2e-2); }
TEST(blk_q4_k_convert_export_run) { blk_roundtrip_and_run(RUN_BLK_Q4_K, TRIT_TYPE_Q4_K, 12, "q4_k", 2e-2); }
TEST(blk_q6_k_convert_export_run) { blk_roundtrip_and_run(RUN_BLK_Q6_K, TRIT_TYPE_Q6_K, 14, "q6_k", 2e-2); }
TEST(blk_mxfp4_convert_export_run) { blk_roundtrip_and_run(RUN_BLK_MXFP4, TRIT_TYPE_MXFP4, 39, "mxfp4", 3e-2); }
