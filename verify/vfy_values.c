/* vfy_values.c - tensor invariants: ternary codes, scales, NaN/Inf, all-zero projections.
 *
 * Why all-zero projections: microsoft/BitNet#608 (formats.md 3.3) reports re-uploaded 2B4T
 * releases whose MLP tensors are all zero in some layers. Checksums cannot catch that (the
 * zeros were written on purpose); a model with a zero projection loads and runs and is wrong. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "trit_safemath.h"
#include "vfy_int.h"

/* Returns buf (the caller's). */
const char *vfy__obj_tensor(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "tensor '%s'", name);
    return buf;
}

int vfy__is_projection(const char *canon)
{
    static const char *const mods[] = {
        "attn_q.", "attn_k.", "attn_v.", "attn_output.", "ffn_gate.", "ffn_up.", "ffn_down.", "ffn_gate_exps.",
        "ffn_up_exps.", "ffn_down_exps.", "ffn_gate_up_exps.", "ffn_gate_shexp.", "ffn_up_shexp.",
        "ffn_down_shexp.",
    };
    if (strncmp(canon, "blk.", 4) != 0) return 0;
    const char *p = canon + 4;
    while (*p >= '0' && *p <= '9') p++;
    if (*p != '.') return 0;
    p++;
    size_t const len = strlen(p);
    if (len < 7 || strcmp(p + len - 7, ".weight") != 0) return 0;   /* biases may be zero */
    for (size_t i = 0; i < sizeof mods / sizeof mods[0]; i++)
        if (strncmp(p, mods[i], strlen(mods[i])) == 0) return 1;
    return 0;
}

void vfy__fstat_init(vfy__fstat *s)
{
    memset(s, 0, sizeof *s);
    s->first_bad = UINT64_MAX;
}

void vfy__fstat_add(vfy__fstat *s, const float *v, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        float const x = v[i];
        if (x != x) {
            s->n_nan++;
            if (s->first_bad == UINT64_MAX) s->first_bad = s->n + i;
        } else if (isinf(x)) {
            s->n_inf++;
            if (s->first_bad == UINT64_MAX) s->first_bad = s->n + i;
        } else if (x != 0.0f) {
            s->n_nonzero++;
        }
    }
    s->n += n;
}

void vfy__fstat_report(vfy_report *rep, const vfy__fstat *s, const char *object, int projection)
{
    if (s->n_nan || s->n_inf)
        vfy_report_add(rep, VFY_C_TENSOR, 0, TRIT_NO_OFFSET, object,
                       "%llu NaN and %llu infinite values of %llu (first at element %llu)",
                       (unsigned long long)s->n_nan, (unsigned long long)s->n_inf, (unsigned long long)s->n,
                       (unsigned long long)s->first_bad);
    if (projection && s->n && !s->n_nonzero && !s->n_nan && !s->n_inf)
        vfy_report_add(rep, VFY_C_TENSOR, 0, TRIT_NO_OFFSET, object,
                       "projection is all zero (%llu values): the layer computes nothing",
                       (unsigned long long)s->n);
}

/* Per byte of t2 codes: bit k set if the byte holds code 3 in slot k; number of non-zero
 * (code 0 or 2) slots. Computed on the fly, small enough not to need a table. */
static unsigned t2_nonzero(unsigned b)
{
    unsigned n = 0;
    for (unsigned s = 0; s < 4; s++) {
        unsigned const c = (b >> (2 * s)) & 3u;
        n += c == 0 || c == 2;
    }
    return n;
}
static int t2_has3(unsigned b)
{
    /* a slot is 3 when both of its bits are set */
    return ((b & (b >> 1)) & 0x55u) != 0;
}

/* File offset of byte x of the tensor: exact for a dense tensor; a unit member's bytes exist
 * only after decoding, so its findings carry the unit's offset and name the byte in the text. */
static uint64_t at(uint64_t off, int dense, uint64_t x)
{
    return dense ? off + x : off;
}

static void t2_values(vfy_report *rep, const trit_tensor_info *t, const uint8_t *p, uint64_t off, int dense,
                      const char *object, int projection)
{
    uint64_t const cols = t->n_dims ? t->dims[t->n_dims - 1] : 1;
    uint64_t const row_bytes = trit_div_ceil(cols, TRIT_T2_BLOCK_ELEMS) * TRIT_T2_BLOCK_BYTES;
    uint64_t const rows = row_bytes ? t->scales_off / row_bytes : 0;
    uint64_t const codes = rows * row_bytes;   /* <= scales_off <= size: the reader checked */
    uint64_t n3 = 0, first3 = UINT64_MAX, nonzero = 0, npad = 0, first_pad = UINT64_MAX;
    uint64_t const tail = cols % TRIT_T2_BLOCK_ELEMS;   /* weights in the last block of a row */
    uint64_t const last_block = row_bytes - TRIT_T2_BLOCK_BYTES;
    for (uint64_t r = 0; r < rows; r++) {
        const uint8_t *row = p + r * row_bytes;
        for (uint64_t b = 0; b < row_bytes; b++) {
            unsigned byte = row[b];
            if (tail && b >= last_block) {
                /* slots past `cols` are padding and must be code 1 (zero) */
                uint64_t const m = b - last_block;
                for (unsigned s = 0; s < 4; s++) {
                    uint64_t const e = m + 32u * s;
                    if (e < tail) continue;
                    unsigned const c = (byte >> (2 * s)) & 3u;
                    if (c != 1) {
                        npad++;
                        if (first_pad == UINT64_MAX) first_pad = r * row_bytes + b;
                    }
                    byte = (byte & ~(3u << (2 * s))) | (1u << (2 * s));   /* count it as zero */
                }
            }
            if (t2_has3(byte)) {
                n3++;
                if (first3 == UINT64_MAX) first3 = r * row_bytes + b;
            }
            nonzero += t2_nonzero(byte);
        }
    }
    uint64_t gap_bad = UINT64_MAX;
    for (uint64_t q = codes; q < t->scales_off; q++)
        if (p[q]) {
            gap_bad = q;
            break;
        }
    if (npad)
        vfy_report_add(rep, VFY_C_INTEGRITY, 0, at(off, dense, first_pad), object,
                       "%llu row padding codes are not 1 (zero), first in byte %llu; padding past the row end "
                       "must be code 1",
                       (unsigned long long)npad, (unsigned long long)first_pad);
    if (gap_bad != UINT64_MAX)
        vfy_report_add(rep, VFY_C_INTEGRITY, 0, at(off, dense, gap_bad), object,
                       "padding before the scales is not zero (byte %llu)", (unsigned long long)gap_bad);
    if (n3)
        vfy_report_add(rep, VFY_C_TENSOR, 0, at(off, dense, first3), object,
                       "invalid ternary code 3 in %llu bytes, first in byte %llu (codes are 0, 1, 2)",
                       (unsigned long long)n3, (unsigned long long)first3);
    uint64_t n_bad = 0, n_zero = 0, first_bad = UINT64_MAX;
    for (uint64_t k = 0; k < t->n_scales; k++) {
        float s;
        memcpy(&s, p + t->scales_off + 4 * k, 4);
        if (!isfinite(s) || s == 0.0f) {
            if (s == 0.0f) n_zero++;
            else n_bad++;
            if (first_bad == UINT64_MAX) first_bad = k;
        }
    }
    if (n_bad || n_zero)
        vfy_report_add(rep, VFY_C_TENSOR, 0, at(off, dense, t->scales_off + 4 * first_bad), object,
                       "%llu zero and %llu non-finite scales of %llu (first: scale %llu); scales must be "
                       "finite and non-zero",
                       (unsigned long long)n_zero, (unsigned long long)n_bad, (unsigned long long)t->n_scales,
                       (unsigned long long)first_bad);
    if (projection && rows && cols && (nonzero == 0 || n_zero == t->n_scales))
        vfy_report_add(rep, VFY_C_TENSOR, 0, TRIT_NO_OFFSET, object,
                       "projection is all zero (%llu x %llu weights): the layer computes nothing",
                       (unsigned long long)rows, (unsigned long long)cols);
}

/* IEEE bit patterns: exponent all ones is Inf or NaN. */
static void float_values(vfy_report *rep, const trit_tensor_info *t, const uint8_t *p, uint64_t off, int dense,
                         const char *object, int projection)
{
    uint64_t n = 0;
    if (trit_tensor_nelems(t, &n) != 0) return;
    unsigned const width = t->type == TRIT_TYPE_F32 ? 4 : 2;
    if (n > t->size / width) return;   /* cannot happen after open; never read past the tensor */
    uint64_t n_nan = 0, n_inf = 0, nonzero = 0, first = UINT64_MAX;
    for (uint64_t i = 0; i < n; i++) {
        uint32_t u;
        int nan, inf;
        if (width == 4) {
            u = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 |
                (uint32_t)p[4 * i + 3] << 24;
            nan = (u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu);
            inf = (u & 0x7fffffffu) == 0x7f800000u;
            nonzero += (u & 0x7fffffffu) != 0;
        } else {
            u = (uint32_t)p[2 * i] | (uint32_t)p[2 * i + 1] << 8;
            uint32_t const em = t->type == TRIT_TYPE_F16 ? 0x7c00u : 0x7f80u;
            uint32_t const mm = t->type == TRIT_TYPE_F16 ? 0x03ffu : 0x007fu;
            nan = (u & em) == em && (u & mm);
            inf = (u & 0x7fffu) == em;
            nonzero += (u & 0x7fffu) != 0;
        }
        n_nan += (uint64_t)nan;
        n_inf += (uint64_t)inf;
        if ((nan || inf) && first == UINT64_MAX) first = i;
    }
    if (n_nan || n_inf)
        vfy_report_add(rep, VFY_C_TENSOR, 0, at(off, dense, width * first), object,
                       "%llu NaN and %llu infinite values of %llu (first at element %llu)",
                       (unsigned long long)n_nan, (unsigned long long)n_inf, (unsigned long long)n,
                       (unsigned long long)first);
    if (projection && n && !nonzero)
        vfy_report_add(rep, VFY_C_TENSOR, 0, TRIT_NO_OFFSET, object,
                       "projection is all zero (%llu values): the layer computes nothing", (unsigned long long)n);
}

void vfy__trit_values(vfy_report *rep, const trit_tensor_info *t, const uint8_t *p, uint64_t off, int dense,
                      const char *object, int projection)
{
    switch (t->type) {
    case TRIT_TYPE_T2:
        t2_values(rep, t, p, off, dense, object, projection);
        break;
    case TRIT_TYPE_F32: case TRIT_TYPE_F16: case TRIT_TYPE_BF16:
        float_values(rep, t, p, off, dense, object, projection);
        break;
    case TRIT_TYPE_I8: case TRIT_TYPE_I32: case TRIT_TYPE_U8:
        if (projection) {
            uint64_t k = 0;
            while (k < t->size && p[k] == 0) k++;
            if (t->size && k == t->size)
                vfy_report_add(rep, VFY_C_TENSOR, 0, TRIT_NO_OFFSET, object,
                               "projection is all zero (%llu bytes): the layer computes nothing",
                               (unsigned long long)t->size);
        }
        break;
    default:
        break;   /* unknown types: sized and checksummed, values not interpreted */
    }
}
