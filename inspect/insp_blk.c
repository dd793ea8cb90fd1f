/* insp_blk.c - values of the container's ggml block types (q8_0, q4_k, q6_k, mxfp4: spec
 * container.md 6.3) for `trit inspect --stats` and `trit diff`: the blocks covering the wanted
 * elements are decoded with source/'s ggml dequantizers (the same code that reads a GGUF of
 * these types), so a container and its GGUF source give the same floats. */
#include <stdlib.h>

#include "insp_blk.h"
#include "src_ggml_types.h"

static uint32_t ggml_id(uint32_t type)
{
    switch (type) {
    case TRIT_TYPE_Q8_0: return SRC_GGML_Q8_0;
    case TRIT_TYPE_Q4_K: return SRC_GGML_Q4_K;
    case TRIT_TYPE_Q6_K: return SRC_GGML_Q6_K;
    default: return SRC_GGML_MXFP4;
    }
}

int insp__blk_f32(const trit_tensor_info *t, const uint8_t *p, uint64_t first, uint64_t n, float *out, trit_err *err)
{
    if (!n) return TRIT_OK;
    uint64_t const be = t->block_elems, b0 = first / be, b1 = (first + n - 1) / be + 1;
    /* rows are whole blocks, so element e is element e % be of block e / be, whatever the row */
    float *tmp = malloc((size_t)((b1 - b0) * be) * sizeof *tmp);
    if (!tmp) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, t->name, "out of memory");
    trit_err e2;
    int const rc = src_ggml_dequant(ggml_id(t->type), p + b0 * t->block_bytes, b1 - b0, tmp, &e2);
    if (rc == TRIT_OK)
        for (uint64_t k = 0; k < n; k++) out[k] = tmp[first - b0 * be + k];
    else
        trit_err_set(err, rc, TRIT_NO_OFFSET, t->name, "%s values cannot be decoded: %s", trit_type_name(t->type), e2.msg);
    free(tmp);
    return rc;
}
