/* test_verify_foreign.c - `trit verify` on the files trit converts from: GGUF and safetensors
 * written by trit-gen in the release layouts, then one defect planted by patching bytes: the
 * all-zero MLP projection of a re-uploaded BitNet 2B4T release (formats.md 3.3, BitNet#608) in
 * the HF packed layout, a TQ2_0 code 3 and a NaN in a GGUF file; and the real fixtures. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "src_gguf.h"
#include "src_safetensors.h"
#include "gen/gen.h"
#include "test.h"
#include "test_verify.h"

static const char *gen(gen_layout l, const char *name)
{
    gen_opts o;
    gen_opts_default(&o, l);
    o.overwrite = 1;
    const char *p = test_path(test_tmpdir(), name);
    trit_err e;
    CHECK_OK_E(gen_write(&o, p, &e), &e);
    return p;
}

/* Overwrite n bytes at `at` of the file at path with byte v (or with src when non-NULL). */
static void patch(const char *path, uint64_t at, size_t n, int v, const void *src)
{
    size_t len = 0;
    uint8_t *b = test_read_file(path, &len);
    CHECK(b && at + n <= len);
    if (b && at + n <= len) {
        if (src) memcpy(b + at, src, n);
        else memset(b + at, v, n);
        CHECK_EQ_INT(test_write_file(path, b, len), 0);
    }
    free(b);
}

TEST(verify_foreign_generated_layouts_pass)
{
    static const struct { gen_layout l; const char *name, *format; } cases[] = {
        {GEN_LAYOUT_GGUF, "vf-bitnet.gguf", "gguf"},       {GEN_LAYOUT_GGUF_MOE, "vf-moe.gguf", "gguf"},
        {GEN_LAYOUT_QWEN3MOE, "vf-qwen3moe", "safetensors"}, {GEN_LAYOUT_MIXTRAL, "vf-mixtral", "safetensors"},
        {GEN_LAYOUT_BITNET, "vf-bitnet", "safetensors"},   {GEN_LAYOUT_BITCPM, "vf-bitcpm", "safetensors"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *p = gen(cases[i].l, cases[i].name);
        vfy_report rep;
        int const rc = vt_verify(p, NULL, &rep);
        CHECK_EQ_INT(rc, 0);
        if (rc) vfy_report_print(&rep, stderr, 0);
        CHECK_STR(rep.format, cases[i].format);
        CHECK(rep.n_tensors > 10);
        CHECK_STR(rep.runtime, "");   /* the runtime loads .trit only */
        vfy_report_release(&rep);
    }
}

TEST(verify_foreign_bitnet_zero_mlp)
{
    const char *p = gen(GEN_LAYOUT_BITNET, "vf-bitnet-zero");
    src_st *h = NULL;
    trit_err e;
    CHECK_OK_E(src_st_open(p, NULL, &h, &e), &e);
    if (!h) return;
    int64_t const i = src_st_find(h, "model.layers.1.mlp.up_proj.weight");
    CHECK(i >= 0);
    const src_st_tensor *t = i >= 0 ? src_st_tensor_at(h, (uint32_t)i) : NULL;
    const char *file = t ? src_st_shard(h, t->shard)->path : NULL;
    uint64_t const off = t ? t->offset : 0, n = t ? t->nbytes : 0;
    char shard[4096];
    snprintf(shard, sizeof shard, "%s", file ? file : "");
    src_st_close(h);
    if (!t) return;
    patch(shard, off, (size_t)n, 0x55, NULL);   /* every code 1: all four quarters are zero */
    vfy_report rep;
    CHECK_EQ_INT(vt_verify(p, NULL, &rep), 1);
    CHECK_EQ_INT(vt_count(&rep, VFY_C_TENSOR, "model.layers.1.mlp.up_proj.weight", "projection is all zero"), 1);
    CHECK_EQ_U64(vfy_report_n_errors(&rep), 1);
    vfy_report_release(&rep);
}

TEST(verify_foreign_gguf_code3_and_nan)
{
    const char *p = gen(GEN_LAYOUT_GGUF, "vf-defects.gguf");
    src_gguf *g = NULL;
    trit_err e;
    CHECK_OK_E(src_gguf_open(p, NULL, &g, &e), &e);
    if (!g) return;
    int64_t const q = src_gguf_find_tensor(g, "blk.0.attn_q.weight");   /* TQ2_0 */
    int64_t const nrm = src_gguf_find_tensor(g, "blk.1.attn_norm.weight");   /* F32 */
    CHECK(q >= 0 && nrm >= 0);
    uint64_t const q_off = q >= 0 ? src_gguf_tensor(g, (uint64_t)q)->offset : 0;
    uint64_t const n_off = nrm >= 0 ? src_gguf_tensor(g, (uint64_t)nrm)->offset : 0;
    CHECK_STR(q >= 0 ? src_gguf_tensor(g, (uint64_t)q)->type_name : "", "TQ2_0");
    src_gguf_close(g);
    if (q < 0 || nrm < 0) return;
    patch(p, q_off + 66 + 3, 1, 0x0c, NULL);   /* block 1, byte 3: slot 1 is code 3 */
    float const nan = NAN;
    patch(p, n_off + 4 * 5, 4, 0, &nan);
    vfy_report rep;
    CHECK_EQ_INT(vt_verify(p, NULL, &rep), 1);
    CHECK_EQ_INT(vt_count(&rep, VFY_C_TENSOR, "blk.0.attn_q.weight", "invalid ternary code 3 in 1 bytes of TQ2_0"), 1);
    CHECK_EQ_INT(vt_count(&rep, VFY_C_TENSOR, "blk.1.attn_norm.weight", "1 NaN and 0 infinite values of 256 (first at element 5)"), 1);
    CHECK_EQ_U64(vfy_report_n_errors(&rep), 2);
    for (uint32_t k = 0; k < rep.n_issues; k++)
        if (strstr(rep.issues[k].object, "attn_q")) CHECK_EQ_U64(rep.issues[k].offset, q_off + 66 + 3);
    vfy_report_release(&rep);
}

TEST(verify_foreign_fixtures)
{
    const char *fx = test_fixtures();
    if (!fx) SKIP("no fixtures");
    vfy_report rep;
    CHECK_EQ_INT(vt_verify(test_path(fx, "gguf/stories260K.gguf"), NULL, &rep), 0);
    CHECK_EQ_U64(rep.n_tensors, 48);
    vfy_report_release(&rep);
    /* the corrupt third-party copy: refused at the string length, with its offset */
    CHECK_EQ_INT(vt_verify(test_path(fx, "gguf/edge/ggml-vocab-llama-spm.malformed-thirdparty-copy.gguf"), NULL, &rep), 4);
    CHECK(rep.stopped && rep.n_issues == 1 && rep.issues[0].offset != TRIT_NO_OFFSET);
    vfy_report_release(&rep);
    CHECK_EQ_INT(vt_verify(test_path(fx, "gguf/edge/ollama-api-test-truncated-v2.gguf"), NULL, &rep), 4);
    vfy_report_release(&rep);
    /* an index whose shards are absent: an i/o finding naming the shard */
    CHECK_EQ_INT(vt_verify(test_path(fx, "safetensors/index-only/granite-3.1-1b-a400m-moe"), NULL, &rep), 3);
    CHECK(rep.n_issues == 1 && strstr(rep.issues[0].object, "shard 'model-0000") != NULL);
    vfy_report_release(&rep);
    /* ollama's minicpm3 test data: 100x100 zero tensors under a real 4B config */
    CHECK_EQ_INT(vt_verify(test_path(fx, "safetensors/ollama-minicpm3-4b-testdata"), NULL, &rep), 1);
    CHECK(vt_count(&rep, VFY_C_TENSOR, "model.layers.0.mlp.down_proj.weight", "projection is all zero") == 1);
    CHECK(vt_count(&rep, VFY_C_METADATA, "layers 1..61", "no tensors, but model.n_layer is 62") == 1);
    vfy_report_release(&rep);
}
