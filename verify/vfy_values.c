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

/* Number of non-zero (code 0 or 2) slots in a byte of t2 codes. */
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

/* ---- streaming: the checks over a tensor's bytes fed in order, in pieces ------------------ */

/* IEEE bit patterns: exponent all ones is Inf or NaN. Blocks of FBLOCK values are tested with
 * branch-free OR reductions (vectorized by the compiler); a block with a hit is counted value
 * by value. Values are read little-endian, as stored. */
#define FBLOCK 256u
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define VFY_LE 0
#else
#define VFY_LE 1
#endif

static inline uint32_t ld_le(const uint8_t *p, unsigned width)
{
    return width == 4 ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24
                      : (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

/* Values i0 .. i0+n of p (p points at value 0 of the piece, element index base), one by one. */
static void float_slow(vfy__vals *v, const uint8_t *p, uint64_t base, uint64_t i0, uint64_t n)
{
    uint32_t const sign = v->width == 4 ? 0x80000000u : 0x8000u;
    for (uint64_t i = i0; i < i0 + n; i++) {
        uint32_t const u = ld_le(p + v->width * i, v->width);
        int const nan = (u & v->em) == v->em && (u & v->mm);
        int const inf = (u & ~sign) == v->em;
        v->nonzero += (u & ~sign) != 0;
        v->n_nan += (uint64_t)nan;
        v->n_inf += (uint64_t)inf;
        if ((nan || inf) && v->first == UINT64_MAX) v->first = base + i;
    }
}

static void float_feed(vfy__vals *v, const uint8_t *p, uint64_t n_vals, uint64_t base)
{
    uint64_t i = 0;
    for (; i + FBLOCK <= n_vals; i += FBLOCK) {
        uint32_t bad = 0, nz = 0;
        if (v->width == 2) {
            for (unsigned k = 0; k < FBLOCK; k++) {
                uint16_t u;
                memcpy(&u, p + 2 * (i + k), 2);
                if (!VFY_LE) u = (uint16_t)(u << 8 | u >> 8);
                bad |= (uint32_t)((u & v->em) == v->em);
                nz |= u & 0x7fffu;
            }
        } else {
            for (unsigned k = 0; k < FBLOCK; k++) {
                uint32_t u;
                memcpy(&u, p + 4 * (i + k), 4);
                if (!VFY_LE) u = __builtin_bswap32(u);
                bad |= (uint32_t)((u & v->em) == v->em);
                nz |= u & 0x7fffffffu;
            }
        }
        if (bad) float_slow(v, p, base, i, FBLOCK);
        else v->nonzero += nz != 0;   /* only "any" is used */
    }
    float_slow(v, p, base, i, n_vals - i);
}

/* t2 code bytes [q, q + n) of the tensor (p at byte q), all inside [0, codes). */
static void t2_codes(vfy__vals *v, const uint8_t *p, uint64_t q, uint64_t n)
{
    uint64_t const end = q + n;
    const uint8_t *const p0 = p - q;   /* p0[x] is tensor byte x */
    while (q < end) {
        uint64_t const row0 = q - q % v->row_bytes;
        uint64_t const last = row0 + v->row_bytes - TRIT_T2_BLOCK_BYTES;
        if (v->tail && q >= last) {
            /* the row ends inside its last block: slots past `cols` are padding, code 1 */
            uint64_t const stop = row0 + v->row_bytes < end ? row0 + v->row_bytes : end;
            for (; q < stop; q++) {
                unsigned byte = p0[q];
                uint64_t const m = q - last;
                for (unsigned s = 0; s < 4; s++) {
                    if (m + 32u * s < v->tail) continue;
                    unsigned const c = (byte >> (2 * s)) & 3u;
                    if (c != 1) {
                        v->npad++;
                        if (v->first_pad == UINT64_MAX) v->first_pad = q;
                    }
                    byte = (byte & ~(3u << (2 * s))) | (1u << (2 * s));   /* count it as zero */
                }
                if (t2_has3(byte)) {
                    v->n3++;
                    if (v->first3 == UINT64_MAX) v->first3 = q;
                }
                v->nonzero += t2_nonzero(byte);
            }
            continue;
        }
        /* whole blocks: libtrit's vectorized scans (code 3 found, then counted; "any non-zero
         * weight" is all the all-zero check needs) */
        uint64_t const stop = !v->tail || last > end ? end : last;
        uint64_t const len = stop - q;
        uint64_t const k3 = trit_t2_find_code3(p0 + q, len);
        if (k3 < len) {
            if (v->first3 == UINT64_MAX) v->first3 = q + k3;
            v->n3 += 1 + trit_t2_count_code3(p0 + q + k3 + 1, len - k3 - 1);
        }
        if (!v->nonzero && trit_t2_find_nonzero(p0 + q, len) < len) v->nonzero = 1;
        q = stop;
    }
}

/* b3 code bytes [q, q + n) (spec 6.4), all inside [0, codes): n3 counts bytes that are not
 * one of the 243 valid ones, npad the bytes of a row's last block with a padding digit that is
 * not 1 (zero). Byte by byte: b3 is the expert-unit form, verified as units decode. */
static void b3_codes(vfy__vals *v, const uint8_t *p, uint64_t q, uint64_t n)
{
    static const uint8_t pow3[5] = {1, 3, 9, 27, 81};
    for (uint64_t x = q; x < q + n; x++) {
        uint8_t const b = p[x - q];
        if (!trit_b3_byte_valid(b)) {
            v->n3++;
            if (v->first3 == UINT64_MAX) v->first3 = x;
            continue;
        }
        uint64_t const in_row = x % v->row_bytes, e0 = (in_row / 32) * TRIT_B3_BLOCK_ELEMS + in_row % 32;
        int pad_bad = 0;
        for (unsigned k = 0; k < 5; k++) {
            unsigned const d = ((unsigned)(uint8_t)(b * pow3[k]) * 3u) >> 8;
            if (e0 + 32u * k >= v->cols) pad_bad |= d != 1;
            else v->nonzero += d != 1;
        }
        if (pad_bad) {
            v->npad++;
            if (v->first_pad == UINT64_MAX) v->first_pad = x;
        }
    }
}

static void t2_feed(vfy__vals *v, const uint8_t *p, uint64_t q, uint64_t n)
{
    const trit_tensor_info *const t = v->t;
    uint64_t const end = q + n;
    if (q < v->codes) {
        uint64_t const e = end < v->codes ? end : v->codes;
        if (t->type == TRIT_TYPE_B3) b3_codes(v, p, q, e - q);
        else t2_codes(v, p, q, e - q);
    }
    uint64_t const g0 = q > v->codes ? q : v->codes, g1 = end < t->scales_off ? end : t->scales_off;
    if (g0 < g1 && v->gap_bad == UINT64_MAX) {
        uint64_t const k = trit_find_nonzero_byte(p + (g0 - q), g1 - g0);
        if (k < g1 - g0) v->gap_bad = g0 + k;
    }
    /* scales: 4-byte floats from scales_off (a multiple of 16); pieces start at multiples of 4 */
    uint64_t const s_end = t->scales_off + 4 * t->n_scales;
    for (uint64_t x = q > t->scales_off ? q : t->scales_off; x + 4 <= end && x < s_end; x += 4) {
        float s;
        memcpy(&s, p + (x - q), 4);
        if (!isfinite(s) || s == 0.0f) {
            if (s == 0.0f) v->sc_zero++;
            else v->sc_bad++;
            if (v->sc_first == UINT64_MAX) v->sc_first = (x - t->scales_off) / 4;
        }
    }
}

void vfy__vals_init(vfy__vals *v, const trit_tensor_info *t)
{
    memset(v, 0, sizeof *v);
    v->t = t;
    v->first3 = v->first_pad = v->gap_bad = v->sc_first = v->first = v->blk_first = UINT64_MAX;
    if (t->type == TRIT_TYPE_T2 || t->type == TRIT_TYPE_B3) {
        uint64_t const cols = t->n_dims ? t->dims[t->n_dims - 1] : 1;
        int const b3 = t->type == TRIT_TYPE_B3;
        v->cols = cols;
        v->row_bytes = trit_div_ceil(cols, b3 ? TRIT_B3_BLOCK_ELEMS : TRIT_T2_BLOCK_ELEMS) * TRIT_T2_BLOCK_BYTES;
        v->rows = v->row_bytes ? t->scales_off / v->row_bytes : 0;
        v->codes = v->rows * v->row_bytes;   /* <= scales_off <= size: the reader checked */
        v->tail = cols % TRIT_T2_BLOCK_ELEMS;   /* weights in the last block of a row */
    } else if (t->type == TRIT_TYPE_F32 || t->type == TRIT_TYPE_F16 || t->type == TRIT_TYPE_BF16) {
        v->width = t->type == TRIT_TYPE_F32 ? 4 : 2;
        v->em = v->width == 4 ? 0x7f800000u : t->type == TRIT_TYPE_F16 ? 0x7c00u : 0x7f80u;
        v->mm = v->width == 4 ? 0x007fffffu : t->type == TRIT_TYPE_F16 ? 0x03ffu : 0x007fu;
        uint64_t n = 0;
        /* n <= size / width after open; never read past the tensor */
        v->n_vals = trit_tensor_nelems(t, &n) == 0 && n <= t->size / v->width ? n : 0;
        v->skip = v->n_vals == 0 && n != 0;
    }
}

void vfy__vals_feed(vfy__vals *v, const uint8_t *p, uint64_t n)
{
    uint64_t const q = v->pos;
    v->pos += n;
    switch (v->t->type) {
    case TRIT_TYPE_T2: case TRIT_TYPE_B3:
        t2_feed(v, p, q, n);
        break;
    case TRIT_TYPE_F32: case TRIT_TYPE_F16: case TRIT_TYPE_BF16: {
        /* pieces start at multiples of the width: values never straddle two */
        uint64_t const i0 = q / v->width, i1 = v->pos / v->width < v->n_vals ? v->pos / v->width : v->n_vals;
        if (i1 > i0) float_feed(v, p, i1 - i0, i0);
        break;
    }
    case TRIT_TYPE_I8: case TRIT_TYPE_I32: case TRIT_TYPE_U8:
        if (!v->nonzero && trit_find_nonzero_byte(p, n) < n) v->nonzero = 1;
        break;
    default:
        if (trit_type_is_block(v->t->type)) {
            /* scales (spec 6.3); pieces may cut blocks anywhere: libtrit looks at the bytes given */
            for (uint64_t x = q; x < q + n; x++) {
                x = trit_blk_find_bad(v->t->type, p + (x - q), x, q + n - x);
                if (x == q + n) break;
                uint64_t const b = x / v->t->block_bytes;   /* count blocks, not bad scales */
                if (!v->blk_bad || b != v->blk_last) {
                    if (!v->blk_bad++) v->blk_first = x;
                    v->blk_last = b;
                }
            }
            if (!v->nonzero && trit_find_nonzero_byte(p, n) < n) v->nonzero = 1;
        }
        break;   /* unknown types: sized and checksummed, values not interpreted */
    }
}

void vfy__vals_report(const vfy__vals *v, vfy_report *rep, uint64_t off, int dense, const char *object, int projection)
{
    const trit_tensor_info *const t = v->t;
    if (v->blk_bad)
        vfy_report_add(rep, VFY_C_TENSOR, 0, at(off, dense, v->blk_first), object,
                       "%llu %s blocks have an invalid scale, first block %llu (%s)", (unsigned long long)v->blk_bad,
                       trit_type_name(t->type), (unsigned long long)(v->blk_first / t->block_bytes),
                       t->type == TRIT_TYPE_MXFP4 ? "E8M0 exponent 255 is NaN in OCP MX" : "f16 scale is infinite or NaN");
    switch (t->type) {
    case TRIT_TYPE_T2: case TRIT_TYPE_B3:
        if (v->npad)
            vfy_report_add(rep, VFY_C_INTEGRITY, 0, at(off, dense, v->first_pad), object,
                           "%llu row padding codes are not 1 (zero), first in byte %llu; padding past the row end "
                           "must be code 1",
                           (unsigned long long)v->npad, (unsigned long long)v->first_pad);
        if (v->gap_bad != UINT64_MAX)
            vfy_report_add(rep, VFY_C_INTEGRITY, 0, at(off, dense, v->gap_bad), object,
                           "padding before the scales is not zero (byte %llu)", (unsigned long long)v->gap_bad);
        if (v->n3 && t->type == TRIT_TYPE_B3)
            vfy_report_add(rep, VFY_C_TENSOR, 0, at(off, dense, v->first3), object,
                           "%llu invalid b3 bytes, first in byte %llu (only the 243 bytes ceil(v * 256 / 243) encode digits)",
                           (unsigned long long)v->n3, (unsigned long long)v->first3);
        else if (v->n3)
            vfy_report_add(rep, VFY_C_TENSOR, 0, at(off, dense, v->first3), object,
                           "invalid ternary code 3 in %llu bytes, first in byte %llu (codes are 0, 1, 2)",
                           (unsigned long long)v->n3, (unsigned long long)v->first3);
        if (v->sc_bad || v->sc_zero)
            vfy_report_add(rep, VFY_C_TENSOR, 0, at(off, dense, t->scales_off + 4 * v->sc_first), object,
                           "%llu zero and %llu non-finite scales of %llu (first: scale %llu); scales must be "
                           "finite and non-zero",
                           (unsigned long long)v->sc_zero, (unsigned long long)v->sc_bad,
                           (unsigned long long)t->n_scales, (unsigned long long)v->sc_first);
        if (projection && v->rows && v->cols && (v->nonzero == 0 || v->sc_zero == t->n_scales))
            vfy_report_add(rep, VFY_C_TENSOR, 0, TRIT_NO_OFFSET, object,
                           "projection is all zero (%llu x %llu weights): the layer computes nothing",
                           (unsigned long long)v->rows, (unsigned long long)v->cols);
        break;
    case TRIT_TYPE_F32: case TRIT_TYPE_F16: case TRIT_TYPE_BF16:
        if (v->skip) break;
        if (v->n_nan || v->n_inf)
            vfy_report_add(rep, VFY_C_TENSOR, 0, at(off, dense, v->width * v->first), object,
                           "%llu NaN and %llu infinite values of %llu (first at element %llu)",
                           (unsigned long long)v->n_nan, (unsigned long long)v->n_inf,
                           (unsigned long long)v->n_vals, (unsigned long long)v->first);
        if (projection && v->n_vals && !v->nonzero)
            vfy_report_add(rep, VFY_C_TENSOR, 0, TRIT_NO_OFFSET, object,
                           "projection is all zero (%llu values): the layer computes nothing",
                           (unsigned long long)v->n_vals);
        break;
    case TRIT_TYPE_Q8_0: case TRIT_TYPE_Q4_K: case TRIT_TYPE_Q6_K: case TRIT_TYPE_MXFP4:
    case TRIT_TYPE_I8: case TRIT_TYPE_I32: case TRIT_TYPE_U8:
        if (projection && t->size && !v->nonzero)
            vfy_report_add(rep, VFY_C_TENSOR, 0, TRIT_NO_OFFSET, object,
                           "projection is all zero (%llu bytes): the layer computes nothing",
                           (unsigned long long)t->size);
        break;
    default:
        break;
    }
}

void vfy__trit_values(vfy_report *rep, const trit_tensor_info *t, const uint8_t *p, uint64_t off, int dense,
                      const char *object, int projection)
{
    vfy__vals v;
    vfy__vals_init(&v, t);
    vfy__vals_feed(&v, p, t->size);
    vfy__vals_report(&v, rep, off, dense, object, projection);
}
