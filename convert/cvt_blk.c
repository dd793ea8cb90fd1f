/* cvt_blk.c - ggml block-quantized source tensors (Q8_0, Q4_K, Q6_K, MXFP4) kept as they are
 * (spec/container.md 6.3): the container's q8_0/q4_k/q6_k/mxfp4 rows are the source's blocks,
 * copied, never decoded and re-encoded. A Q4_K_M GGUF therefore converts to a container of about
 * its own size instead of four to eight times it in f32, and `trit export` gives the same bytes
 * back. Other ggml types keep the float fallback (decoded to f32).
 *
 * A tensor is kept when its rows are one source tensor's rows (rope un-permuting moves whole
 * rows, expert slicing and gpt-oss's even/odd gate/up split pick whole rows: all stay copies), nothing is folded into its values
 * (a BitNet .scale), it is a matrix whose rows are whole blocks, and it is not headed for t2
 * (a ternary model's projections, --ternarize) or for the int8 output head. */
#include <stdlib.h>
#include <string.h>

#include "cvt_conv_int.h"

uint32_t cvt__blk_type_of(const char *src_type)
{
    /* ggml's type names as the source view reports them (src_ggml_types.c) */
    static const struct { const char *name; uint32_t type; } map[] = {
        {"Q8_0", TRIT_TYPE_Q8_0}, {"Q4_K", TRIT_TYPE_Q4_K}, {"Q6_K", TRIT_TYPE_Q6_K}, {"MXFP4", TRIT_TYPE_MXFP4},
    };
    for (size_t i = 0; src_type && i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(src_type, map[i].name)) return map[i].type;
    return 0;
}

void cvt__blk_plan(cvt_conv *c)
{
    /* projections headed for t2 read floats; everything else may stay in blocks */
    int const t2_projections = c->m.ternary_model || c->o->ternarize || c->m.online_quant[0];
    for (uint32_t i = 0; i < c->n; i++) {
        cvt_plan_t *p = &c->p[i];
        p->blk = 0;
        /* whole source rows: consecutive, rope-permuted or every row_step-th (gpt-oss's interleaved
         * gate/up, cvt__src_row); a column stride or built rows (config values, kv_b) are not */
        int const whole_rows = !p->values && !p->mla_nope && p->col_step <= 1;
        if (c->o->decode_float || !whole_rows || p->mult != 1.0f || p->q8 || p->n_dims < 2) continue;
        if (t2_projections && cvt__is_projection(p->role)) continue;
        uint32_t const ty = cvt__blk_type_of(src_at(c->src, p->src)->type);
        uint32_t be, bb;
        if (!ty || trit_type_geometry(ty, &be, &bb) || !p->cols || p->cols % be) continue;
        p->blk = ty;
        p->out_type = ty;
    }
}

uint64_t cvt__blk_row_bytes(const cvt_plan_t *p)
{
    uint32_t be = 1, bb = 0;
    trit_type_geometry(p->blk, &be, &bb);
    return p->cols / be * bb;
}

/* Copied blocks are not decoded, so their scales are checked here: a block whose scale is NaN or
 * infinite (spec 6.3) is refused at the source, naming the tensor and the byte's file offset
 * (a GGUF's raw bytes are its file bytes; an HF pair's scales are checked by src_raw already). */
static int check_scales(cvt_conv *c, const cvt_plan_t *p, uint64_t q0, const uint8_t *b, uint64_t n, trit_err *err)
{
    uint64_t const q = trit_blk_find_bad(p->blk, b, q0, n);
    if (q >= q0 + n) return TRIT_OK;
    uint32_t file = 0, be = 1, bb = 1;
    uint64_t off = 0, nbytes = 0;
    src_extent(c->src, p->src, &file, &off, &nbytes);
    trit_type_geometry(p->blk, &be, &bb);
    int const mx = p->blk == TRIT_TYPE_MXFP4;
    return trit_err_set(err, TRIT_E_CORRUPT, off + q, src_at(c->src, p->src)->name, "%s block %llu has %s",
                        mx ? "MXFP4" : trit_type_name(p->blk), (unsigned long long)(q / bb),
                        mx ? "the E8M0 scale 255, which is NaN" : "an infinite or NaN f16 scale");
}

int cvt__blk_rows(cvt_conv *c, cvt_emit *e, const cvt_plan_t *p, uint64_t r0, uint64_t nr, trit_err *err)
{
    uint64_t const rb = cvt__blk_row_bytes(p);
    /* runs of rows that are consecutive in the source (all of them unless heads are permuted or
     * rows strided), at most about CVT_CHUNK_VALUES floats' worth of bytes per read */
    uint64_t const cap_rows = rb >= CVT_CHUNK_VALUES * sizeof(float) ? 1 : CVT_CHUNK_VALUES * sizeof(float) / rb;
    int rc = TRIT_OK;
    for (uint64_t r = r0; r < r0 + nr && rc == TRIT_OK;) {
        uint64_t const s0 = cvt__src_row(p, r);
        uint64_t k = 1;
        while (k < cap_rows && r + k < r0 + nr && cvt__src_row(p, r + k) == s0 + k) k++;
        uint8_t *const direct = e->claim ? e->claim(e->sink_ctx, k * rb, err) : NULL;
        if (e->claim && !direct) return TRIT_E_NOMEM;
        /* else through e->buf (CVT_CHUNK_VALUES floats), or memory of its own for a row larger */
        int const own = !direct && k * rb > CVT_CHUNK_VALUES * sizeof(float);
        uint8_t *const out = direct ? direct : own ? malloc((size_t)rb) : (uint8_t *)e->buf;
        if (!out) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, p->name, "out of memory");
        rc = src_raw(c->src, p->src, s0 * rb, out, k * rb, err);
        if (rc == TRIT_OK) rc = check_scales(c, p, s0 * rb, out, k * rb, err);
        if (rc == TRIT_OK && !direct) rc = e->sink(e->sink_ctx, out, k * rb, err);
        if (own) free(out);
        r += k;
    }
    return rc;
}
