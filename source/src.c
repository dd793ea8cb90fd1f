/* src.c - one view over both source formats for the converter: logical tensors, outermost
 * dims first (GGUF ne reversed), BitNet packed U8 weights unpacked to [out, in] with their
 * weight_scale consumed, FP8 block-quantized weights (DeepSeek-V3) dequantized with their
 * weight_scale_inv consumed, values decoded to float by the format readers in bounded chunks. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src.h"
#include "src_gguf.h"
#include "src_safetensors.h"
#include "src_ggml_types.h"
#include "src_mxfp4.h"
#include "trit_cursor.h"
#include "trit_safemath.h"

#include <cJSON.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

/* An FP8 weight [rows, cols] and its F32 weight_scale_inv [ceil(rows/b0), ceil(cols/b1)]. */
typedef struct src_fp8 {
    uint32_t scale;            /* tensor index of the scale */
    uint32_t b0, b1;           /* weight_block_size */
    uint64_t rows, cols;
} src_fp8;

struct src_ckpt {
    src_gguf *g;
    src_st *st;
    src_tensor *t;
    src_st_bitnet *bn;         /* per tensor; bn[i].rows == 0 when not a BitNet weight */
    src_fp8 *f8;               /* per tensor; f8[i].b0 == 0 when not an FP8 block weight */
    src_mxfp4_pair *mx;        /* per tensor; mx[i].rows == 0 when not an MXFP4 blocks/scales pair */
    uint32_t n;
};

static uint32_t float_type_of_name(const char *t)
{
    if (!strcmp(t, "F16")) return TRIT_TYPE_F16;
    if (!strcmp(t, "BF16")) return TRIT_TYPE_BF16;
    return TRIT_TYPE_F32; /* f32 and everything dequantized (k-quants, q8_0, f64 ...) */
}

static int open_gguf(struct src_ckpt *s, const char *path, trit_err *err)
{
    int rc = src_gguf_open(path, NULL, &s->g, err);
    if (rc) return rc;
    uint64_t const n = src_gguf_n_tensors(s->g);
    s->t = calloc(n + 1, sizeof *s->t);
    if (!s->t) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    for (uint64_t i = 0; i < n; i++) {
        src_gguf_tensor_info const *gi = src_gguf_tensor(s->g, i);
        src_tensor *t = &s->t[i];
        t->name = gi->name;
        t->n_dims = gi->n_dims;
        for (uint32_t d = 0; d < gi->n_dims; d++) t->dims[d] = gi->ne[gi->n_dims - 1 - d];
        t->n_elems = gi->n_elems;
        t->type = gi->type_name;
        t->float_type = float_type_of_name(gi->type_name);
        t->ternary_hint = gi->type == SRC_GGML_TQ1_0 || gi->type == SRC_GGML_TQ2_0 || gi->type == SRC_GGML_FORK_I2_S;
        t->src_bytes = gi->nbytes;
    }
    s->n = (uint32_t)n;
    return TRIT_OK;
}

/* quantization_config.weight_block_size of an FP8 release, into b0, b1: TRIT_OK, TRIT_E_NOTFOUND
 * when the config is not fp8, an error when it is and states no usable block size. */
static int fp8_blocks(const src_st *st, uint32_t *b0, uint32_t *b1, trit_err *err)
{
    const cJSON *c = src_st_config(st);
    const cJSON *q = c ? cJSON_GetObjectItemCaseSensitive(c, "quantization_config") : NULL;
    const cJSON *m = cJSON_IsObject(q) ? cJSON_GetObjectItemCaseSensitive(q, "quant_method") : NULL;
    if (!cJSON_IsString(m) || strcmp(m->valuestring, "fp8") != 0) return TRIT_E_NOTFOUND;
    const cJSON *bs = cJSON_GetObjectItemCaseSensitive(q, "weight_block_size");
    const cJSON *a = cJSON_IsArray(bs) ? bs->child : NULL, *b = a ? a->next : NULL;
    if (!cJSON_IsNumber(a) || !cJSON_IsNumber(b) || (b && b->next) || a->valuedouble < 1 || a->valuedouble > 65536 ||
        b->valuedouble < 1 || b->valuedouble > 65536 || a->valuedouble != floor(a->valuedouble) ||
        b->valuedouble != floor(b->valuedouble))
        return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, "config.json",
                            "quantization_config fp8 without a weight_block_size [rows, cols] in 1..65536: the "
                            "block scales cannot be applied");
    *b0 = (uint32_t)a->valuedouble;
    *b1 = (uint32_t)b->valuedouble;
    return TRIT_OK;
}

/* DeepSeek-V3's FP8 weights (README_WEIGHTS.md "Dequantization Method"; the release's
 * inference/kernel.py weight_dequant): "{name}_scale_inv" F32 holds one scale per block of
 * weight_block_size, the edge blocks partial; the real weight is float32(fp8 value) * scale of its
 * block. Each such pair becomes one logical F32 tensor; an F8 tensor without one is refused by
 * name (its scale would be missing from the math). */
static int open_fp8(struct src_ckpt *s, trit_err *err)
{
    uint32_t b0 = 0, b1 = 0;
    int rc = fp8_blocks(s->st, &b0, &b1, err);
    if (rc != TRIT_OK && rc != TRIT_E_NOTFOUND) return rc;
    int const fp8 = rc == TRIT_OK;
    s->f8 = calloc((size_t)s->n + 1, sizeof *s->f8);
    if (!s->f8) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    static const char sfx[] = "_scale_inv";
    size_t const sl = sizeof sfx - 1;
    for (uint32_t i = 0; fp8 && i < s->n; i++) {
        src_st_tensor const *sc = src_st_tensor_at(s->st, i);
        size_t const nl = strlen(sc->name);
        if (nl <= sl || strcmp(sc->name + nl - sl, sfx) != 0) continue;
        char wn[TRIT_MAX_NAME_LEN + 1];
        snprintf(wn, sizeof wn, "%.*s", (int)(nl - sl), sc->name);
        int64_t const wi = src_st_find(s->st, wn);
        if (wi < 0)
            return trit_err_set(err, TRIT_E_CORRUPT, sc->offset, sc->name, "an FP8 block scale without its weight '%.80s'", wn);
        src_st_tensor const *w = src_st_tensor_at(s->st, (uint32_t)wi);
        if (w->dtype != SRC_ST_F8_E4M3 || w->n_dims != 2)
            return trit_err_set(err, TRIT_E_UNSUPPORTED, w->offset, w->name, "has a weight_scale_inv but is %s with %u dims; "
                                "the FP8 release stores 2-D F8_E4M3 weights", src_st_dtype_name(w->dtype), w->n_dims);
        uint64_t const r0 = trit_div_ceil(w->dims[0], b0), r1 = trit_div_ceil(w->dims[1], b1);
        if (sc->dtype != SRC_ST_F32 || sc->n_dims != 2 || sc->dims[0] != r0 || sc->dims[1] != r1)
            return trit_err_set(err, TRIT_E_CORRUPT, sc->offset, sc->name,
                                "must be F32 [%llu, %llu] (blocks of %u x %u over [%llu, %llu]), is %s with %u dims",
                                (unsigned long long)r0, (unsigned long long)r1, b0, b1, (unsigned long long)w->dims[0],
                                (unsigned long long)w->dims[1], src_st_dtype_name(sc->dtype), sc->n_dims);
        src_fp8 *f = &s->f8[wi];
        f->scale = i;
        f->b0 = b0;
        f->b1 = b1;
        f->rows = w->dims[0];
        f->cols = w->dims[1];
        s->t[wi].type = "F8_E4M3(block)";
        s->t[wi].float_type = TRIT_TYPE_F32;
        s->t[wi].src_bytes += s->t[i].src_bytes;
        s->t[i].skip = 1;
    }
    for (uint32_t i = 0; i < s->n; i++) {
        src_st_tensor const *t = src_st_tensor_at(s->st, i);
        int const f8 = t->dtype == SRC_ST_F8_E4M3 || t->dtype == SRC_ST_F8_E5M2 || t->dtype == SRC_ST_F8_E4M3FNUZ ||
                       t->dtype == SRC_ST_F8_E5M2FNUZ;
        if (f8 && !s->f8[i].b0)
            return trit_err_set(err, TRIT_E_UNSUPPORTED, t->offset, t->name,
                                "%s without a weight_scale_inv block scale under quantization_config fp8: only "
                                "DeepSeek-V3's block-scaled F8_E4M3 weights are read", src_st_dtype_name(t->dtype));
    }
    return TRIT_OK;
}

/* n values of an FP8 block weight from element first: decoded, times their blocks' scales. */
static int fp8_to_f32(const struct src_ckpt *s, uint32_t i, uint64_t first, uint64_t n, float *out, trit_err *err)
{
    const src_fp8 *f = &s->f8[i];
    int rc = src_st_to_f32(s->st, i, first, n, out, err);
    if (rc) return rc;
    uint64_t const nbc = trit_div_ceil(f->cols, f->b1);
    float *sc = trit_mallocarray(nbc, sizeof *sc);
    if (!sc) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory for FP8 block scales");
    uint64_t have = UINT64_MAX;   /* the block row whose scales sc holds */
    for (uint64_t k = 0; k < n && rc == TRIT_OK; k++) {
        uint64_t const e = first + k, br = e / f->cols / f->b0, c = e % f->cols;
        if (br != have) {
            rc = src_st_to_f32(s->st, f->scale, br * nbc, nbc, sc, err);
            have = br;
        }
        if (rc == TRIT_OK) out[k] = out[k] * sc[c / f->b1];
    }
    free(sc);
    return rc;
}

/* gpt-oss's MXFP4 experts (src_mxfp4.h): each "<name>_blocks" / "<name>_scales" pair becomes one
 * logical tensor [..., groups * 32] of ggml type MXFP4 under the blocks' name; the scales are
 * consumed. */
static int open_mxfp4(struct src_ckpt *s, trit_err *err)
{
    s->mx = calloc((size_t)s->n + 1, sizeof *s->mx);
    if (!s->mx) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    int const rc = src_mxfp4_find_pairs(s->st, s->n, s->mx, err);
    if (rc) return rc;
    for (uint32_t i = 0; i < s->n; i++) {
        if (!s->mx[i].rows) continue;
        src_tensor *t = &s->t[i];
        t->n_dims -= 1;
        t->dims[t->n_dims - 1] = s->mx[i].groups * SRC_MXFP4_BLOCK;
        t->dims[t->n_dims] = 0;
        t->n_elems = s->mx[i].rows * s->mx[i].groups * SRC_MXFP4_BLOCK;
        t->type = "MXFP4";
        t->float_type = TRIT_TYPE_F32;
        t->src_bytes += s->t[s->mx[i].scales].src_bytes;
        s->t[s->mx[i].scales].skip = 1;
    }
    return TRIT_OK;
}

static int open_st(struct src_ckpt *s, const char *path, trit_err *err)
{
    int rc = src_st_open(path, NULL, &s->st, err);
    if (rc) return rc;
    uint32_t const n = src_st_n_tensors(s->st);
    s->t = calloc((size_t)n + 1, sizeof *s->t);
    s->bn = calloc((size_t)n + 1, sizeof *s->bn);
    if (!s->t || !s->bn) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    for (uint32_t i = 0; i < n; i++) {
        src_st_tensor const *si = src_st_tensor_at(s->st, i);
        src_tensor *t = &s->t[i];
        t->name = si->name;
        t->n_dims = si->n_dims;
        memcpy(t->dims, si->dims, sizeof t->dims);
        t->n_elems = si->n_elems;
        t->type = src_st_dtype_name(si->dtype);
        t->float_type = float_type_of_name(t->type);
        t->src_bytes = si->nbytes;
    }
    /* BitNet packed weights: the logical tensor is [out, in] ternary; the scale is consumed */
    for (uint32_t i = 0; i < n; i++) {
        src_st_bitnet v;
        rc = src_st_bitnet_view(s->st, i, &v, err);
        if (rc == TRIT_E_NOTFOUND) continue;
        if (rc) return rc;
        s->bn[i] = v;
        src_tensor *t = &s->t[i];
        t->n_dims = 2;
        t->dims[0] = v.rows;
        t->dims[1] = v.cols;
        t->n_elems = v.rows * v.cols;
        t->type = "U8(bitnet)";
        t->float_type = TRIT_TYPE_F32;
        t->ternary_hint = 1;
        t->src_bytes += s->t[v.scale].src_bytes;
        s->t[v.scale].skip = 1;
    }
    s->n = n;
    rc = open_fp8(s, err);
    return rc ? rc : open_mxfp4(s, err);
}

int src_open(const char *path, struct src_ckpt **out, trit_err *err)
{
    *out = NULL;
    struct src_ckpt *s = calloc(1, sizeof *s);
    if (!s) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    /* anything that is not GGUF goes to the safetensors opener, which names what it is instead
     * (a missing path too); a probe that failed (out of memory, a read error) is that error,
     * never a guess at the format */
    src_format_id fmt;
    trit_err probe_err;
    trit_err_clear(&probe_err);
    int const prc = src_probe(path, &fmt, &probe_err);
    if (prc != TRIT_OK && prc != TRIT_E_NOTFOUND) {
        if (err) *err = probe_err;
        free(s);
        return prc;
    }
    int const is_gguf = prc == TRIT_OK && fmt == SRC_FMT_GGUF;
    int const rc = is_gguf ? open_gguf(s, path, err) : open_st(s, path, err);
    if (rc) {
        trit_err_file(err, path);
        src_close(s);
        return rc;
    }
    *out = s;
    return TRIT_OK;
}

void src_close(struct src_ckpt *s)
{
    if (!s) return;
    src_gguf_close(s->g);
    src_st_close(s->st);
    free(s->t);
    free(s->bn);
    free(s->f8);
    free(s->mx);
    free(s);
}

const char *src_format(const struct src_ckpt *s) { return s->g ? "gguf" : "safetensors"; }
uint32_t src_n(const struct src_ckpt *s) { return s->n; }
const src_tensor *src_at(const struct src_ckpt *s, uint32_t i) { return i < s->n ? &s->t[i] : NULL; }
const struct src_gguf *src_ckpt_gguf(const struct src_ckpt *s) { return s->g; }
const struct src_st *src_ckpt_st(const struct src_ckpt *s) { return s->st; }

int64_t src_find(const struct src_ckpt *s, const char *name)
{
    return s->g ? src_gguf_find_tensor(s->g, name) : src_st_find(s->st, name);
}

int src_f32(const struct src_ckpt *s, uint32_t i, uint64_t first, uint64_t n, float *out, trit_err *err)
{
    if (s->g) return src_gguf_to_f32(s->g, i, first, n, out, err);
    if (s->bn[i].rows) return src_st_bitnet_to_f32(s->st, &s->bn[i], first, n, out, err);
    if (s->f8[i].b0) return fp8_to_f32(s, i, first, n, out, err);
    if (s->mx[i].rows) return src_mxfp4_pair_f32(s->st, i, &s->mx[i], first, n, out, err);
    return src_st_to_f32(s->st, i, first, n, out, err);
}

int src_codes_of(const struct src_ckpt *s, uint32_t i, src_codes *out, trit_err *err)
{
    memset(out, 0, sizeof *out);
    if (i >= s->n) return TRIT_OK;
    if (!s->g) {
        if (!s->bn[i].rows) return TRIT_OK;
        out->kind = SRC_CODES_BITNET_U8;
        out->align = 1;
        /* the value src_st_bitnet_to_f32 gives a code 2: (float)1 / s or (float)1 * s */
        out->factor = s->bn[i].divide ? 1.0f / s->bn[i].scale_value : s->bn[i].scale_value;
        return TRIT_OK;
    }
    src_gguf_tensor_info const *gi = src_gguf_tensor(s->g, i);
    if (gi->type == SRC_GGML_TQ2_0 || gi->type == SRC_GGML_TQ1_0) {
        out->kind = gi->type == SRC_GGML_TQ2_0 ? SRC_CODES_TQ2_0 : SRC_CODES_TQ1_0;
        out->block = out->align = 256;
    } else if (gi->type == SRC_GGML_FORK_I2_S) {
        uint8_t sb[4];
        int const rc = src_gguf_read(s->g, i, gi->n_elems / 4, sb, 4, err);   /* the trailer's f32 */
        if (rc) return rc;
        uint32_t const u = trit_load_le32(sb);
        memcpy(&out->factor, &u, sizeof out->factor);
        out->kind = SRC_CODES_I2_S;
        out->align = 128;
    }
    return TRIT_OK;
}

/* m GGUF code blocks (TQ2_0/TQ1_0: 256 elements, I2_S: 128) from raw into t2 (and factors into f) */
static void codes_decode(int kind, const uint8_t *raw, uint64_t m, uint8_t *t2, float *f, uint64_t *bad)
{
    if (kind == SRC_CODES_TQ2_0) src_ggml_tq2_to_t2(raw, m, t2, f, bad);
    else if (kind == SRC_CODES_TQ1_0) src_ggml_tq1_to_t2(raw, m, t2, f);
    else src_ggml_i2s_to_t2(raw, m, t2, bad);
}

int src_codes_rows(const struct src_ckpt *s, uint32_t i, const src_codes *k, uint64_t cols, uint64_t row,
                   uint64_t n, uint8_t *t2, float *f, uint64_t *bad, trit_err *err)
{
    if (!k->kind || !k->align || cols % k->align || i >= s->n)
        return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, i < s->n ? s->t[i].name : NULL,
                            "not a code-domain tensor with rows of %llu", (unsigned long long)cols);
    if (k->kind == SRC_CODES_BITNET_U8) {
        if (cols != s->bn[i].cols)
            return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, s->t[i].name, "rows are %llu wide, not %llu",
                                (unsigned long long)s->bn[i].cols, (unsigned long long)cols);
        return src_st_bitnet_t2_rows(s->st, &s->bn[i], row, n, t2, bad, err);
    }
    /* GGUF: the rows are contiguous bytes; decoded a piece at a time through a stack buffer */
    uint64_t const bs = k->kind == SRC_CODES_TQ2_0 ? 66 : k->kind == SRC_CODES_TQ1_0 ? 54 : 32;
    uint64_t const be = k->kind == SRC_CODES_I2_S ? 128 : 256;
    uint64_t const per_row = cols / be, total = n * per_row;
    uint64_t first;
    if (trit_mul_u64(row, per_row, &first) || first > s->t[i].n_elems / be || total > s->t[i].n_elems / be - first)
        return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, s->t[i].name, "rows [%llu, +%llu) outside the tensor",
                            (unsigned long long)row, (unsigned long long)n);
    uint64_t const step = (256u << 10) / bs;   /* 256 KiB of blocks per pread */
    uint8_t *raw = malloc((size_t)((total < step ? total : step) * bs + 1));
    if (!raw) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, s->t[i].name, "out of memory");
    for (uint64_t b = 0; b < total; b += step) {
        uint64_t const m = total - b < step ? total - b : step;
        int const rc = src_gguf_read(s->g, i, (first + b) * bs, raw, m * bs, err);
        if (rc) {
            free(raw);
            return rc;
        }
        codes_decode(k->kind, raw, m, t2 + b * (be / 4), f ? f + b : NULL, bad);
    }
    free(raw);
    return TRIT_OK;
}

uint64_t src_codes_row_bytes(const src_codes *k, uint64_t cols)
{
    uint64_t const bs = k->kind == SRC_CODES_TQ2_0 ? 66 : k->kind == SRC_CODES_TQ1_0 ? 54 : k->kind == SRC_CODES_I2_S ? 32 : 0;
    uint64_t const be = k->kind == SRC_CODES_I2_S ? 128 : 256;
    return bs && k->align && cols % k->align == 0 ? cols / be * bs : 0;
}

void src_codes_from_raw(const src_codes *k, const uint8_t *raw, uint64_t rows, uint64_t cols, uint8_t *t2, float *f,
                        uint64_t *bad)
{
    uint64_t const be = k->kind == SRC_CODES_I2_S ? 128 : 256;
    codes_decode(k->kind, raw, rows * (cols / be), t2, f, bad);
}

uint32_t src_plain_float_bytes(const struct src_ckpt *s, uint32_t i)
{
    if (i >= s->n) return 0;
    if (s->g) {
        uint32_t const ty = src_gguf_tensor(s->g, i)->type;
        return ty == SRC_GGML_F32 ? 4 : ty == SRC_GGML_F16 || ty == SRC_GGML_BF16 ? 2 : 0;
    }
    if (s->bn[i].rows || s->f8[i].b0) return 0;
    uint32_t const dt = src_st_tensor_at(s->st, i)->dtype;
    return dt == SRC_ST_F32 ? 4 : dt == SRC_ST_F16 || dt == SRC_ST_BF16 ? 2 : 0;
}

void src_extent(const struct src_ckpt *s, uint32_t i, uint32_t *file, uint64_t *off, uint64_t *nbytes)
{
    *file = 0;
    *off = *nbytes = 0;
    if (i >= s->n) return;
    if (s->g) {
        src_gguf_tensor_info const *t = src_gguf_tensor(s->g, i);
        *file = t->file;
        *off = t->offset;
        *nbytes = t->nbytes;
    } else {
        src_st_tensor const *t = src_st_tensor_at(s->st, i);
        *file = t->shard;
        *off = t->offset;
        *nbytes = t->nbytes;
    }
}

int src_f32_from_raw(const struct src_ckpt *s, uint32_t i, const void *raw, uint64_t n, float *out, trit_err *err)
{
    if (!src_plain_float_bytes(s, i))
        return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, i < s->n ? s->t[i].name : NULL, "not a plain float tensor");
    if (s->g) return src_ggml_dequant(src_gguf_tensor(s->g, i)->type, raw, n, out, err);
    return src_st_decode_f32(src_st_tensor_at(s->st, i)->dtype, raw, n, out, err);
}

int src_raw(const struct src_ckpt *s, uint32_t i, uint64_t byte_off, void *buf, uint64_t n, trit_err *err)
{
    if (i >= s->n || (!s->g && s->bn[i].rows))
        return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL, "no raw view of tensor %u", i);
    if (!s->g && s->mx[i].rows) return src_mxfp4_pair_raw(s->st, i, &s->mx[i], byte_off, buf, n, err);
    return s->g ? src_gguf_read(s->g, i, byte_off, buf, n, err) : src_st_read(s->st, i, byte_off, buf, n, err);
}

uint32_t src_n_files(const struct src_ckpt *s)
{
    return s->g ? src_gguf_n_files(s->g) : src_st_n_shards(s->st);
}

const char *src_file_path(const struct src_ckpt *s, uint32_t k)
{
    if (s->g) return src_gguf_file_path(s->g, k);
    const src_st_shard_info *si = src_st_shard(s->st, k);
    return si ? si->path : NULL;
}

int src_hash_file(const char *path, uint64_t *out, trit_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)   /* (fopen allocates its FILE) */
        return trit_err_set(err, errno == ENOMEM ? TRIT_E_NOMEM : TRIT_E_IO, TRIT_NO_OFFSET, path, "cannot open for hashing");
    XXH3_state_t *st = XXH3_createState();
    uint8_t *buf = malloc(1 << 20);
    int rc = st && buf ? TRIT_OK : trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    if (rc == TRIT_OK) XXH3_64bits_reset(st);
    while (rc == TRIT_OK) {
        size_t const k = fread(buf, 1, 1 << 20, f);
        if (k == 0) {
            if (ferror(f)) rc = trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, path, "read failed");
            break;
        }
        XXH3_64bits_update(st, buf, k);
    }
    if (rc == TRIT_OK) *out = XXH3_64bits_digest(st);
    XXH3_freeState(st);
    free(buf);
    fclose(f);
    return rc;
}
