/* test_verify_threads.c - issue 14 item 4: `trit verify` runs its data checks on a pool of
 * threads and merges the per-object reports in file order, so its output must not depend on
 * the thread count; and the streamed value checks (pieces of any size) must find what the
 * whole-tensor checks find. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen/gen.h"
#include "test.h"
#include "test_verify.h"
#include "trit_cursor.h"
#include "vfy_int.h"

/* The JSON and text reports of `trit verify` at --threads 1, 2 and 3 are the same bytes, and
 * their exit codes agree; *exit_out receives it. */
static void same_at_any_count(const char *path, int *exit_out)
{
    char *ref_json = NULL, *ref_text = NULL;
    int ref_st = -1;
    for (int t = 1; t <= 3; t++) {
        char *json = NULL, *text = NULL;
        int const sj = test_runf(&json, "%s verify --json --max-findings 40 --threads %d %s 2>/dev/null", test_trit_bin(), t, path);
        int const st = test_runf(&text, "%s verify -v --max-findings 40 --threads %d %s 2>&1", test_trit_bin(), t, path);
        CHECK_EQ_INT(sj, st);
        if (t == 1) {
            ref_json = json;
            ref_text = text;
            ref_st = sj;
            continue;
        }
        CHECK_EQ_INT(sj, ref_st);
        CHECK(json && ref_json && strcmp(json, ref_json) == 0);
        CHECK(text && ref_text && strcmp(text, ref_text) == 0);
        free(json);
        free(text);
    }
    *exit_out = ref_st;
    free(ref_json);
    free(ref_text);
}

/* flip byte off of the file at path */
static int flip(const char *path, uint64_t off)
{
    size_t len = 0;
    uint8_t *b = test_read_file(path, &len);
    if (!b || off >= len) {
        free(b);
        return -1;
    }
    b[off] ^= 0x40;
    int const rc = test_write_file(path, b, len);
    free(b);
    return rc;
}

TEST(verify_threads_same_report_dense_and_moe)
{
    /* the verify test model: dense layer 0, MoE layer 1 with zstd and raw units, with a defect
     * in many objects at once (findings from several jobs, merged in order) */
    const char *dir = test_tmpdir();
    char path[4096];
    snprintf(path, sizeof path, "%s/vthreads.trit", dir);
    trit_err e;
    vt_defects d;
    memset(&d, 0, sizeof d);
    d.nan_float = d.inf_float = d.zero_scale = d.nan_scale = d.zero_proj = d.zero_expert = d.code3 = 1;
    d.golden = 1;
    CHECK_OK_E(vt_build(path, &d, &e), &e);
    int st = -1;
    same_at_any_count(path, &st);
    CHECK_EQ_INT(st, 1);   /* tensor findings, nothing worse */
    /* and with damaged bytes: a checksum failure in the data area joins them */
    size_t len = 0;
    uint8_t *b = test_read_file(path, &len);
    CHECK(b != NULL && len > 4096);
    if (!b) return;
    uint64_t const data_off = trit_load_le64(b + 64);
    free(b);
    CHECK_EQ_INT(flip(path, data_off + (len - data_off) / 2), 0);
    same_at_any_count(path, &st);
    CHECK_EQ_INT(st, 4);

    /* a clean MoE container as trit-gen writes it (zstd expert units), and a clean dense one
     * converted from a generated GGUF */
    char moe[4096], src[4096];
    snprintf(moe, sizeof moe, "%s/vthreads-moe.trit", dir);
    gen_opts o;
    gen_opts_default(&o, GEN_LAYOUT_TRIT);
    CHECK_OK_E(gen_write(&o, moe, &e), &e);
    same_at_any_count(moe, &st);
    CHECK_EQ_INT(st, 0);
    snprintf(src, sizeof src, "%s/vthreads-dense.gguf", dir);
    gen_opts_default(&o, GEN_LAYOUT_GGUF);
    CHECK_OK_E(gen_write(&o, src, &e), &e);
    CHECK_EQ_INT(test_runf(NULL, "%s convert %s -o %s/vthreads-dense.trit -q -f 2>&1", test_trit_bin(), src, dir), 0);
    snprintf(path, sizeof path, "%s/vthreads-dense.trit", dir);
    same_at_any_count(path, &st);
    CHECK_EQ_INT(st, 0);
    /* one flipped byte in an expert unit of the MoE file: integrity, at every count */
    b = test_read_file(moe, &len);
    CHECK(b != NULL);
    if (!b) return;
    uint64_t const moe_data = trit_load_le64(b + 64);
    free(b);
    CHECK_EQ_INT(flip(moe, moe_data + (len - moe_data) / 3), 0);
    same_at_any_count(moe, &st);
    CHECK_EQ_INT(st, 4);
    /* the library: opts.threads 1 and 4 give the same JSON */
    vfy_opts vo;
    memset(&vo, 0, sizeof vo);
    char *js[2] = {NULL, NULL};
    for (int k = 0; k < 2; k++) {
        vo.threads = k ? 4 : 1;
        vfy_report rep;
        CHECK_OK_E(vfy_verify(moe, &vo, &rep, &e), &e);
        js[k] = vfy_report_json(&rep);
        vfy_report_release(&rep);
    }
    CHECK(js[0] && js[1] && strcmp(js[0], js[1]) == 0);
    free(js[0]);
    free(js[1]);
}

/* The findings of vfy__trit_values over the whole tensor, as text. */
static void findings(const trit_tensor_info *t, const uint8_t *p, size_t piece, char *out, size_t cap)
{
    vfy_report rep;
    vfy_report_init(&rep, "x", 0);
    if (!piece) {
        vfy__trit_values(&rep, t, p, 1000, 1, "tensor 'x'", 1);
    } else {
        vfy__vals v;
        vfy__vals_init(&v, t);
        for (uint64_t done = 0; done < t->size; done += piece)
            vfy__vals_feed(&v, p + done, t->size - done < piece ? t->size - done : piece);
        vfy__vals_report(&v, &rep, 1000, 1, "tensor 'x'", 1);
    }
    size_t k = 0;
    out[0] = '\0';
    for (uint32_t i = 0; i < rep.n_issues && k < cap; i++)
        k += (size_t)snprintf(out + k, cap - k, "%d %llu %s\n", rep.issues[i].cls, (unsigned long long)rep.issues[i].offset,
                              rep.issues[i].msg);
    vfy_report_release(&rep);
}

TEST(verify_streamed_values_match_whole_tensor)
{
    /* t2 rows of 300 weights (the last block of each row holds padding slots), one per-row
     * scale; defects spread over the whole tensor so that they land in different pieces */
    trit_tensor_info t;
    memset(&t, 0, sizeof t);
    t.name = "x";
    t.type = TRIT_TYPE_T2;
    t.n_dims = 2;
    t.dims[0] = 70;
    t.dims[1] = 300;
    t.scale_layout = TRIT_SCALE_ROW;
    t.scale_type = TRIT_SCALE_TYPE_F32;
    trit_err e;
    trit_err_clear(&e);
    if (trit_type_geometry(t.type, &t.block_elems, &t.block_bytes) != TRIT_OK || trit_tensor_layout(&t, &e) != TRIT_OK) {
        test_fail_(__FILE__, __LINE__, "t2 layout: %s", e.msg);
        return;
    }
    uint8_t *p = malloc(t.size);
    CHECK(p != NULL);
    if (!p) return;
    for (uint64_t r = 0; r < 70; r++) {
        int8_t vals[300];
        for (int k = 0; k < 300; k++) vals[k] = (int8_t)((k * 7 + (int)r) % 3 - 1);
        trit_t2_pack_row(vals, 300, p + r * 96);
    }
    memset(p + 70 * 96, 0, t.scales_off - 70 * 96);
    for (uint64_t k = 0; k < t.n_scales; k++) {
        float const s = 0.5f;
        memcpy(p + t.scales_off + 4 * k, &s, 4);
    }
    char whole[4096], part[4096];
    findings(&t, p, 0, whole, sizeof whole);
    CHECK_STR(whole, "");   /* clean */
    p[5] = 0xff;                              /* code 3 in row 0 */
    p[40 * 96 + 17] |= 0xc0;                  /* code 3 in row 40 */
    p[3 * 96 + 95] = 0x00;                    /* row 3: padding slots not code 1 */
    p[69 * 96 + 90] = 0xaa;                   /* row 69: code 2 in padding slots */
    float const z = 0.0f, inf = 1.0f / 0.0f;
    memcpy(p + t.scales_off + 4 * 9, &z, 4);
    memcpy(p + t.scales_off + 4 * 61, &inf, 4);
    findings(&t, p, 0, whole, sizeof whole);
    CHECK(strstr(whole, "code 3 in 2 bytes, first in byte 5") != NULL);
    CHECK(strstr(whole, "row padding codes") != NULL);
    CHECK(strstr(whole, "1 zero and 1 non-finite scales") != NULL);
    static const size_t pieces[] = {4, 8, 12, 32, 96, 100, 256, 4096, 1u << 20};
    for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++) {
        findings(&t, p, pieces[i], part, sizeof part);
        CHECK_STR(part, whole);
    }
    free(p);

    /* f16 values (an embedding): NaN and Inf on both sides of piece boundaries */
    memset(&t, 0, sizeof t);
    t.name = "x";
    t.type = TRIT_TYPE_F16;
    t.n_dims = 2;
    t.dims[0] = 33;
    t.dims[1] = 100;
    if (trit_type_geometry(t.type, &t.block_elems, &t.block_bytes) != TRIT_OK || trit_tensor_layout(&t, &e) != TRIT_OK) {
        test_fail_(__FILE__, __LINE__, "f16 layout: %s", e.msg);
        return;
    }
    p = malloc(t.size);
    CHECK(p != NULL);
    if (!p) return;
    for (uint64_t k = 0; k < t.size / 2; k++) trit_store_le16(p + 2 * k, trit_f32_to_f16((float)(k % 17) * 0.25f - 2.0f));
    findings(&t, p, 0, whole, sizeof whole);
    CHECK_STR(whole, "");
    trit_store_le16(p + 2 * 511, 0x7e00);   /* NaN */
    trit_store_le16(p + 2 * 512, 0x7c00);   /* +Inf */
    trit_store_le16(p + 2 * 3299, 0xfc00);  /* -Inf, the last value */
    findings(&t, p, 0, whole, sizeof whole);
    CHECK(strstr(whole, "1 NaN and 2 infinite values of 3300 (first at element 511)") != NULL);
    for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++) {
        findings(&t, p, pieces[i], part, sizeof part);
        CHECK_STR(part, whole);
    }
    /* all zero: a projection that computes nothing, found in pieces too */
    memset(p, 0, t.size);
    findings(&t, p, 0, whole, sizeof whole);
    CHECK(strstr(whole, "projection is all zero") != NULL);
    findings(&t, p, 100, part, sizeof part);
    CHECK_STR(part, whole);
    free(p);
}

TEST(verify_scans_find_first_hit)
{
    /* trit_t2_find_code3 / _find_nonzero / trit_find_nonzero_byte against a byte loop, at
     * every position of a 1000-byte buffer (inside and after the 256-byte blocks) */
    uint8_t b[1000];
    for (size_t at = 0; at < sizeof b; at += 7) {
        memset(b, 0x55, sizeof b);   /* every slot code 1: zero weights, no code 3 */
        CHECK_EQ_U64(trit_t2_find_code3(b, sizeof b), sizeof b);
        CHECK_EQ_U64(trit_t2_find_nonzero(b, sizeof b), sizeof b);
        b[at] = 0x5d;                /* slot 1 code 3 */
        CHECK_EQ_U64(trit_t2_find_code3(b, sizeof b), at);
        CHECK_EQ_U64(trit_t2_count_code3(b, sizeof b), 1);
        CHECK_EQ_U64(trit_t2_find_nonzero(b, sizeof b), sizeof b);   /* code 3 is not a weight */
        b[at] = 0x59;                /* slot 1 code 2: +1 */
        CHECK_EQ_U64(trit_t2_find_code3(b, sizeof b), sizeof b);
        CHECK_EQ_U64(trit_t2_find_nonzero(b, sizeof b), at);
        memset(b, 0, sizeof b);
        CHECK_EQ_U64(trit_find_nonzero_byte(b, sizeof b), sizeof b);
        b[at] = 0x80;
        CHECK_EQ_U64(trit_find_nonzero_byte(b, sizeof b), at);
    }
}
