/* test_export_bf16.c - `trit export` of containers converted from BF16 / F16 safetensors
 * releases (trit-gen's release layouts through the CLI: trit-gen -> trit convert -> trit
 * export), issue 12: llama.cpp aborts on a BF16 norm ("binary_op: unsupported types: dst: f32,
 * src0: f32, src1: bf16"). In the GGUF every 1-D tensor, every `*_norm.weight`, every tensor not
 * named `*.weight` and the MoE router are F32 holding the container's values exactly (the rule
 * of llama.cpp's convert_hf_to_gguf.py, spec/export.md "Tensors"); every other float tensor
 * keeps its type and its bytes. Read back with the project's GGUF reader (src_gguf.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src_gguf.h"
#include "test.h"
#include "test_export_build.h"

static const char *gen_bin(void)
{
    const char *e = getenv("TRIT_GEN");
    return e && *e ? e : "build/trit-gen";
}

static int ends_with(const char *s, const char *sfx)
{
    size_t const n = strlen(s), k = strlen(sfx);
    return n >= k && !memcmp(s + n - k, sfx, k);
}

/* What must be F32 in the GGUF, restated from spec/export.md (not from export/). */
static int must_be_f32(const char *name, uint32_t container_dims)
{
    return container_dims <= 1 || ends_with(name, "_norm.weight") || !ends_with(name, ".weight") ||
           ends_with(name, ".ffn_gate_inp.weight");
}

/* One layout through the CLI; checks the GGUF against the container. Returns the number of
 * F16/BF16 container tensors the export widened to F32 (0 on a failed step). */
static uint32_t check_layout(const char *layout)
{
    char dir[512], tr[528], out[528], cmd[4096], name[64];
    snprintf(name, sizeof name, "xbf16_%s", layout);
    snprintf(dir, sizeof dir, "%s", test_path(test_tmpdir(), name));
    snprintf(tr, sizeof tr, "%s.trit", dir);
    snprintf(out, sizeof out, "%s.gguf", dir);
    snprintf(cmd, sizeof cmd, "'%s' %s -o '%s' --force >/dev/null 2>&1 && '%s' convert '%s' -o '%s' -f -q >/dev/null 2>&1 && "
             "'%s' export '%s' -o '%s' --force -q >/dev/null 2>&1",
             gen_bin(), layout, dir, test_trit_bin(), dir, tr, test_trit_bin(), tr, out);
    int const rc = test_run(cmd, NULL);
    if (rc != 0) {
        test_fail_(__FILE__, __LINE__, "%s: trit-gen -> convert -> export failed (status %d): %s", layout, rc, cmd);
        return 0;
    }
    trit_err err;
    trit_reader *r = NULL;
    src_gguf *g = NULL;
    uint32_t widened = 0, n_1d = 0;
    CHECK_OK_E(trit_reader_open(tr, NULL, &r, &err), &err);
    CHECK_OK_E(src_gguf_open(out, NULL, &g, &err), &err);
    size_t flen = 0;
    uint8_t *file = test_read_file(out, &flen);
    CHECK(file != NULL);
    if (!r || !g || !file) goto done;
    for (uint64_t i = 0; i < src_gguf_n_tensors(g); i++) {
        const src_gguf_tensor_info *gt = src_gguf_tensor(g, i);
        /* the bug itself: llama.cpp's elementwise ops take F32 1-D tensors only */
        if (gt->n_dims <= 1) {
            n_1d++;
            if (gt->ggml_type != 0)
                test_fail_(__FILE__, __LINE__, "%s: 1-D tensor '%s' is %s, not F32", layout, gt->name, gt->type_name);
        }
        int64_t const ti = trit_reader_find_tensor(r, gt->name);
        if (ti < 0) continue;   /* expert stacks and .scale tensors: test_export.c */
        const trit_tensor_info *ct = trit_reader_tensor(r, (uint32_t)ti);
        int const f16 = ct->type == TRIT_TYPE_F16, bf16 = ct->type == TRIT_TYPE_BF16;
        if (!f16 && !bf16) continue;
        if (must_be_f32(ct->name, ct->n_dims)) {
            if (gt->ggml_type != 0) {
                test_fail_(__FILE__, __LINE__, "%s: '%s' (%s in the container) is %s, not F32", layout, gt->name,
                           f16 ? "F16" : "BF16", gt->type_name);
                continue;
            }
            float *cv = NULL, *gv = malloc((size_t)gt->n_elems * sizeof *gv + 4);
            uint64_t cn = 0;
            CHECK_OK_E(txb_tensor_f32(r, (uint32_t)ti, &cv, &cn, &err), &err);
            CHECK_OK_E(src_gguf_to_f32(g, i, 0, gt->n_elems, gv, &err), &err);
            CHECK_EQ_U64(cn, gt->n_elems);
            /* the widening is exact: every value as the container holds it */
            if (cv && gv && cn == gt->n_elems && memcmp(cv, gv, (size_t)cn * sizeof *cv) != 0)
                test_fail_(__FILE__, __LINE__, "%s: '%s' F32 values differ from the container's", layout, gt->name);
            free(cv);
            free(gv);
            widened++;
        } else {
            /* everything else keeps its type and bytes (token_embd, output: get_rows and mat-mul
             * take BF16/F16) */
            CHECK_EQ_INT((int)gt->ggml_type, f16 ? 1 : 30);
            const void *data = NULL;
            uint64_t size = 0;
            CHECK_OK_E(trit_reader_tensor_data(r, (uint32_t)ti, &data, &size, &err), &err);
            CHECK_EQ_U64(gt->nbytes, size);
            if (data && gt->nbytes == size && gt->offset + size <= flen &&
                memcmp(file + gt->offset, data, (size_t)size) != 0)
                test_fail_(__FILE__, __LINE__, "%s: '%s' bytes differ from the container's", layout, gt->name);
        }
    }
    CHECK(n_1d > 0);
done:
    free(file);
    src_gguf_close(g);
    trit_reader_close(r);
    return widened;
}

TEST(export_bf16_safetensors_norms_are_f32)
{
    if (access(gen_bin(), X_OK) != 0) SKIP("trit-gen binary not built");
    /* BF16 releases: MoE (qwen3moe, mixtral -> llama, qwen2moe, olmoe), dense (bitcpm -> minicpm,
     * bitnet, llama158). 1bitLLM's latent release is F32 on disk (trit-gen's latent layout
     * follows it since issue 12), so no generator layout ships 16-bit F16 norms any more. */
    static const char *const layouts[] = {"qwen3moe", "mixtral", "bitcpm", "bitnet", "qwen2moe", "olmoe", "llama158"};
    for (size_t k = 0; k < sizeof layouts / sizeof layouts[0]; k++) {
        uint32_t const w = check_layout(layouts[k]);
        /* the container kept the source's 16-bit norms, so there was something to widen */
        if (w == 0) test_fail_(__FILE__, __LINE__, "%s: no F16/BF16 norm in the container to check", layouts[k]);
    }
}
