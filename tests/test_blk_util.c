/* test_blk_util.c - GGUF files with ggml block-quantized weights for the block-type tests
 * (test_blk.c): a generated GGUF whose matrices are replaced by deterministic valid blocks of a
 * chosen type (written with the test GGUF builder, test_cvt_gguf_build.h), and its float twin
 * (the same matrices as the F32 values those blocks decode to, through runner/'s reference
 * dequantizer). The input is our own trit-gen output, so the parser below trusts it. */
#include <stdlib.h>
#include <string.h>

#include "run_blk.h"
#include "test.h"
#include "test_blk.h"
#include "test_cvt_gguf_build.h"
#include "trit_cursor.h"

static uint64_t rd64(const uint8_t *p) { return trit_load_le64(p); }
static uint32_t rd32(const uint8_t *p) { return trit_load_le32(p); }

/* Bytes of one GGUF KV value of type ty at p. */
static size_t kv_value_size(const uint8_t *p, uint32_t ty)
{
    static const size_t fixed[13] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    if (ty == 8) return 8 + (size_t)rd64(p);
    if (ty == 9) {
        uint32_t const et = rd32(p);
        uint64_t const n = rd64(p + 4);
        size_t k = 12;
        for (uint64_t i = 0; i < n; i++) k += kv_value_size(p + k, et);
        return k;
    }
    return ty < 13 ? fixed[ty] : 0;
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void put_f16(uint8_t *p, float f)
{
    uint16_t const h = trit_f32_to_f16(f);
    p[0] = (uint8_t)h;
    p[1] = (uint8_t)(h >> 8);
}

/* One valid block of type t with weights of magnitude about `mag` (random codes, scales chosen
 * so the largest weight is near mag). */
static void fill_block(run_blk_type t, uint8_t *b, float mag, uint64_t *s)
{
    uint32_t const bb = run_blk_bytes(t);
    for (uint32_t i = 0; i < bb; i++) b[i] = (uint8_t)splitmix(s);
    switch (t) {
    case RUN_BLK_Q8_0: put_f16(b, mag / 127.0f); break;
    case RUN_BLK_Q4_K:
        put_f16(b, mag / (63.0f * 15.0f) * 2.0f);   /* d: scales are 6 bits, codes 4 bits */
        put_f16(b + 2, mag / 63.0f);                /* dmin: mins up to 63 */
        break;
    case RUN_BLK_Q6_K:
        for (unsigned k = 0; k < 16; k++) b[192 + k] = (uint8_t)(int8_t)((int)(splitmix(s) % 65) - 32);
        put_f16(b + 208, mag / (32.0f * 32.0f));
        break;
    case RUN_BLK_MXFP4: b[0] = 127 - 3; break;      /* 2^-3 / 2 * (up to 12): about 0.75 */
    default: break;
    }
}

int tb_requant(const char *in, const char *out, run_blk_type t, const char *const *keep, int twin, float mag,
               trit_err *err)
{
    size_t len = 0;
    uint8_t *f = test_read_file(in, &len);
    if (!f) return trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, in, "cannot read");
    uint64_t const n_t = rd64(f + 8), n_kv = rd64(f + 16);
    size_t p = 24;
    uint32_t align = 32;
    for (uint64_t i = 0; i < n_kv; i++) {
        uint64_t const kl = rd64(f + p);
        int const is_align = kl == 17 && !memcmp(f + p + 8, "general.alignment", 17);
        p += 8 + kl;
        uint32_t const ty = rd32(f + p);
        if (is_align) align = rd32(f + p + 4);
        p += 4 + kv_value_size(f + p + 4, ty);
    }
    size_t const kv_end = p;
    /* tensor infos */
    typedef struct ti { char name[96]; uint32_t nd, type, new_type; uint64_t ne[4], off, nbytes, n_el; } ti;
    ti *ts = calloc((size_t)n_t, sizeof *ts);
    for (uint64_t i = 0; i < n_t; i++) {
        uint64_t const nl = rd64(f + p);
        memcpy(ts[i].name, f + p + 8, nl < 95 ? nl : 95);
        p += 8 + nl;
        ts[i].nd = rd32(f + p);
        p += 4;
        ts[i].n_el = 1;
        for (uint32_t d = 0; d < 4; d++) ts[i].ne[d] = 1;
        for (uint32_t d = 0; d < ts[i].nd; d++, p += 8) ts[i].n_el *= (ts[i].ne[d] = rd64(f + p));
        ts[i].type = rd32(f + p);
        ts[i].off = rd64(f + p + 4);
        p += 12;
    }
    size_t const data = (p + align - 1) / align * align;
    for (uint64_t i = 0; i < n_t; i++) ts[i].nbytes = (i + 1 < n_t ? ts[i + 1].off : len - data) - ts[i].off;
    /* which tensors become blocks: matrices (and expert stacks) named in keep? no: all but keep */
    static const uint32_t ggml_of[RUN_BLK_N] = {8, 12, 14, 39};
    tg_buf b = {0};
    tg_header(&b, 3, n_t, n_kv);
    tg_bytes(&b, f + 24, kv_end - 24);
    uint64_t off = 0;
    for (uint64_t i = 0; i < n_t; i++) {
        int k = ts[i].nd >= 2 && ts[i].ne[0] % run_blk_elems(t) == 0;
        for (const char *const *kp = keep; k && kp && *kp; kp++)
            if (strstr(ts[i].name, *kp)) k = 0;
        ts[i].new_type = k ? (twin ? 0u : ggml_of[t]) : ts[i].type;
        uint64_t const nb = k ? (twin ? ts[i].n_el * 4 : ts[i].n_el / run_blk_elems(t) * run_blk_bytes(t)) : ts[i].nbytes;
        tg_tinfo(&b, ts[i].name, ts[i].nd, ts[i].ne, ts[i].new_type, off, NULL);
        ts[i].nbytes = k ? nb : ts[i].nbytes;
        ts[i].type = k ? 0xffffffffu : ts[i].type;   /* marks "replaced" */
        off += (nb + align - 1) / align * align;
    }
    tg_pad(&b, align);
    uint32_t const be = run_blk_elems(t), bb = run_blk_bytes(t);
    uint8_t *blk = malloc(bb);
    float *vals = malloc(be * sizeof *vals);
    for (uint64_t i = 0; i < n_t; i++) {
        size_t const at = b.len;
        if (ts[i].type != 0xffffffffu) {
            tg_bytes(&b, f + data + ts[i].off, (size_t)ts[i].nbytes);
        } else {
            uint64_t s = 0x5eed ^ (uint64_t)strlen(ts[i].name) * 131u;
            for (const char *c = ts[i].name; *c; c++) s = s * 31u + (uint8_t)*c;
            for (uint64_t k = 0; k < ts[i].n_el / be; k++) {
                fill_block(t, blk, mag, &s);
                if (twin) {
                    run_blk_dequant_row(t, blk, be, vals);
                    tg_bytes(&b, vals, be * sizeof *vals);
                } else {
                    tg_bytes(&b, blk, bb);
                }
            }
        }
        if (b.len - at != ts[i].nbytes) b.oom = 1;
        tg_pad(&b, align);
    }
    free(blk);
    free(vals);
    free(ts);
    free(f);
    int rc = TRIT_OK;
    if (b.oom || test_write_file(out, b.p, b.len)) rc = trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, out, "cannot build");
    tg_free(&b);
    return rc;
}
