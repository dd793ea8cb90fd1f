/*
 * exg_write.c - stream a planned export to disk: header, then every tensor's rows in
 * file order, each tensor padded to the alignment; temp file beside the output, fsync, then
 * link (no overwrite: a file created meanwhile survives) or rename, and fsync the directory.
 *
 * Memory: one output buffer (1 MiB), one row of scratch, and one decoded expert unit (the
 * largest in the file): a stack of n experts reads its n units one after the other.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exg_int.h"
#include "trit_safemath.h"
#include "trit_sys.h"

#define OUT_BUF (1u << 20)

typedef struct wctx {
    const exg_plan *p;
    const exg_opts *o;
    trit_sys_atomic at;        /* the temp file beside the output (trit_sys.h) */
    uint8_t *buf;              /* output buffer */
    size_t len;
    uint64_t pos;              /* bytes written so far */
    uint8_t *unit;             /* decoded unit */
    uint32_t cur_unit;         /* unit in `unit`, or TRIT_NONE32 */
    uint8_t *row;              /* one encoded output row */
    int8_t *vals;              /* one row of ternary values */
    float *d;                  /* TQ block scales of one row */
    exg_stats st;
} wctx;

static int io_err(wctx *c, trit_err *err, const char *what)
{
    return trit_err_set(err, TRIT_E_IO, c->pos, NULL, "%s: %s", what, strerror(errno));
}

static int flush_buf(wctx *c, trit_err *err)
{
    if (trit_sys_write_full(c->at.fd, c->buf, c->len) != 0) return io_err(c, err, "write failed");
    c->len = 0;
    return TRIT_OK;
}

static int put(wctx *c, const void *p, uint64_t n, trit_err *err)
{
    const uint8_t *s = p;
    while (n) {
        size_t const k = n < OUT_BUF - c->len ? (size_t)n : OUT_BUF - c->len;
        memcpy(c->buf + c->len, s, k);
        c->len += k;
        c->pos += k;
        s += k;
        n -= k;
        if (c->len == OUT_BUF) {
            uint64_t const keep = c->pos;
            c->pos -= c->len;   /* report errors at the start of the failed write */
            int const rc = flush_buf(c, err);
            c->pos = keep;
            if (rc) return rc;
        }
    }
    return TRIT_OK;
}

static int pad_to(wctx *c, uint64_t target, trit_err *err)
{
    static const uint8_t zeros[256];
    while (c->pos < target) {
        uint64_t const k = target - c->pos < sizeof zeros ? target - c->pos : sizeof zeros;
        int const rc = put(c, zeros, k, err);
        if (rc) return rc;
    }
    return TRIT_OK;
}


/* The tensor's recorded xxh3 against its bytes: open does not hash dense tensors, and a
 * flipped bit must not travel silently into the GGUF. */
static int check_sum(const trit_tensor_info *t, const uint8_t *data, trit_err *err)
{
    size_t n;
    if (trit_to_size(t->size, &n)) return trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, t->name, "too large");
    uint64_t const h = trit_xxh3(data, n);
    if (h == t->xxh3) return TRIT_OK;
    char where[300];
    snprintf(where, sizeof where, "tensor '%s'", t->name);
    return trit_err_set(err, TRIT_E_CHECKSUM, t->unit == TRIT_NONE32 ? t->offset : TRIT_NO_OFFSET, where,
                        "xxh3 %016llx, recorded %016llx", (unsigned long long)h, (unsigned long long)t->xxh3);
}

/* Bytes of tensor idx: a view of the mapping (dense) or of the decoded unit (member),
 * checked against the tensor's recorded xxh3. */
static int src_bytes(wctx *c, uint32_t idx, const uint8_t **data, trit_err *err)
{
    const trit_reader *r = c->p->r;
    const trit_tensor_info *t = trit_reader_tensor(r, idx);
    if (t->unit == TRIT_NONE32) {
        const void *v;
        uint64_t size;
        int const rc = trit_reader_tensor_data(r, idx, &v, &size, err);
        *data = v;
        return rc ? rc : check_sum(t, *data, err);
    }
    if (c->cur_unit != t->unit) {
        if (!c->unit) {
            size_t cap;
            if (trit_to_size(c->p->max_unit, &cap) || !(c->unit = malloc(cap ? cap : 1)))
                return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL,
                                    "cannot allocate %llu bytes for one expert unit",
                                    (unsigned long long)c->p->max_unit);
        }
        c->cur_unit = TRIT_NONE32;
        int const rc = trit_reader_unit_read(r, t->unit, c->unit, c->p->max_unit, err);
        if (rc) return rc;
        c->cur_unit = t->unit;
        c->st.n_units_read++;
    }
    *data = c->unit + t->offset;
    return check_sum(t, *data, err);
}

/* Row r of the output comes from this source row: for normal RoPE, output row 2i+k of a
 * head's rotated part is neox row k*rope_dim/2 + i (the HF -> GGUF permute of
 * convert_hf_to_gguf.py: reshape(n_head, 2, d/2, cols).swapaxes(1, 2)). */
static uint64_t src_row(const exg__out *o, uint64_t r)
{
    if (!o->perm_head_dim) return r;
    uint64_t const hd = o->perm_head_dim, rd = o->perm_rope_dim;
    uint64_t const h = r / hd;
    uint64_t j = r % hd;
    if (j < rd) j = (j % 2) * (rd / 2) + j / 2;
    return h * hd + j;
}

static float load_f32(const uint8_t *p)
{
    uint32_t const b = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    float f;
    memcpy(&f, &b, 4);
    return f;
}

static float elem_f32(uint32_t type, const uint8_t *p)
{
    if (type == TRIT_TYPE_F32) return load_f32(p);
    uint16_t const h = (uint16_t)(p[0] | p[1] << 8);
    return type == TRIT_TYPE_F16 ? trit_f16_to_f32(h) : trit_bf16_to_f32(h);
}

static int has_code3(const uint8_t *p, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        if (p[i] & (p[i] >> 1) & 0x55) return 1;
    return 0;
}

/* Encode row r of source t (cols elements) into c->row; *n gets the bytes. */
static int enc_row(wctx *c, const exg__out *o, uint32_t idx, const uint8_t *data, uint64_t r,
                   uint64_t cols, uint64_t *n, trit_err *err)
{
    const trit_tensor_info *t = trit_reader_tensor(c->p->r, idx);
    uint32_t const out = o->pub.ggml_type;
    char where[300];
    if (o->pub.how == EXG_BY_MLA_K || o->pub.how == EXG_BY_MLA_V) {
        *n = o->pub.ne[0] * 4;
        return exg__mla_row(o, t, data, r, (float *)(void *)c->row, c->vals, err);
    }
    if (o->pub.how == EXG_BY_SCALE) {
        float const s = load_f32(data + t->scales_off);
        memcpy(c->row, &s, 4);
        *n = 4;
        return TRIT_OK;
    }
    if (t->type != TRIT_TYPE_T2) {
        uint32_t const es = t->block_bytes;
        /* block types: whole blocks per row (spec 6.3), copied as they are */
        uint64_t const rb = cols / t->block_elems * es;
        const uint8_t *src = data + r * rb;
        if (out == EXG_T_F32 && t->type != TRIT_TYPE_F32) {
            for (uint64_t k = 0; k < cols; k++) {
                float const v = elem_f32(t->type, src + k * es);
                memcpy(c->row + 4 * k, &v, 4);
            }
            *n = cols * 4;
        } else {
            memcpy(c->row, src, (size_t)rb);
            *n = rb;
        }
        return TRIT_OK;
    }
    uint64_t const row_bytes = trit_div_ceil(cols, TRIT_T2_BLOCK_ELEMS) * TRIT_T2_BLOCK_BYTES;
    const uint8_t *codes = data + r * row_bytes;
    const uint8_t *scales = data + t->scales_off;
    uint64_t const bad_off = t->unit == TRIT_NONE32 ? t->offset + r * row_bytes : TRIT_NO_OFFSET;
    snprintf(where, sizeof where, t->unit == TRIT_NONE32 ? "tensor '%s'" : "tensor '%s' (in its expert unit)", t->name);
    if (out == EXG_T_TQ2_0 || out == EXG_T_TQ1_0) {
        uint64_t const nb = cols / EXG_QK;
        for (uint64_t b = 0; b < nb; b++) {
            float const s = o->unit_d ? 1.0f : exg__scale_at(t, scales, r, b * EXG_QK, cols);
            if (!exg__f16_ok(s))
                return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, where,
                                    "scale %g of row %llu is outside the normal f16 range of TQ block "
                                    "scales; export with --dequant --f32", (double)s, (unsigned long long)r);
            if (s != 0.0f) {
                double const e = fabs((double)trit_f16_to_f32(trit_f32_to_f16(s)) - s) / fabs((double)s);
                if (e > c->st.max_scale_rel_err) c->st.max_scale_rel_err = e;
            }
            c->d[b] = s;
        }
        int bad;
        if (out == EXG_T_TQ2_0) {
            bad = has_code3(codes, row_bytes);
            if (!bad) exg_tq2_row(codes, cols, c->d, c->row);
        } else {
            bad = trit_t2_unpack_row(codes, cols, c->vals) != 0;
            if (!bad) exg_tq1_row(c->vals, cols, c->d, c->row);
        }
        if (bad)
            return trit_err_set(err, TRIT_E_CORRUPT, bad_off, where, "row %llu holds the invalid t2 code 3",
                                (unsigned long long)r);
        return exg__nbytes(out, cols, n) ? TRIT_E_LIMIT : TRIT_OK;
    }
    /* dequantized fallback */
    if (trit_t2_unpack_row(codes, cols, c->vals) != 0)
        return trit_err_set(err, TRIT_E_CORRUPT, bad_off, where, "row %llu holds the invalid t2 code 3",
                            (unsigned long long)r);
    for (uint64_t k = 0; k < cols; k++) {
        float const s = exg__scale_at(t, scales, r, k, cols);
        if (out == EXG_T_F16) {
            if (!exg__f16_ok(s))
                return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, where,
                                    "scale %g is outside the normal f16 range; export with --f32", (double)s);
            uint16_t const h = trit_f32_to_f16((float)c->vals[k] * s);
            c->row[2 * k] = (uint8_t)h;
            c->row[2 * k + 1] = (uint8_t)(h >> 8);
        } else {
            float const v = (float)c->vals[k] * s;
            memcpy(c->row + 4 * k, &v, 4);
        }
    }
    *n = cols * (out == EXG_T_F16 ? 2 : 4);
    return TRIT_OK;
}

static int write_tensor(wctx *c, const exg__out *o, trit_err *err)
{
    int rc;
    for (uint32_t s = 0; s < o->pub.n_src; s++) {
        uint32_t const idx = o->srcs[s];
        const trit_tensor_info *t = trit_reader_tensor(c->p->r, idx);
        const uint8_t *data = NULL;
        if ((rc = src_bytes(c, idx, &data, err))) return rc;
        uint64_t nel;
        if (trit_tensor_nelems(t, &nel)) return trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, t->name, "size overflows");
        uint64_t cols = t->n_dims ? t->dims[t->n_dims - 1] : 1;
        if (o->perm_head_dim && t->n_dims == 1) cols = 1;   /* a bias: permute single values */
        uint64_t rows = o->pub.how == EXG_BY_SCALE ? 1 : (cols ? nel / cols : 0);
        if (o->pub.how == EXG_BY_MLA_K || o->pub.how == EXG_BY_MLA_V) rows = o->pub.ne[1] * o->pub.ne[2];
        for (uint64_t r = 0; r < rows; r++) {
            uint64_t n;
            if ((rc = enc_row(c, o, idx, data, src_row(o, r), cols, &n, err))) return rc;
            if ((rc = put(c, c->row, n, err))) return rc;
        }
    }
    return TRIT_OK;
}

int exg_write(const exg_plan *p, const char *out_path, const exg_opts *opts,
                     exg_stats *st, trit_err *err)
{
    wctx c;
    memset(&c, 0, sizeof c);
    c.p = p;
    c.o = opts;
    /* the temp file is registered with the caller's signal guard by the helper itself */
    trit_sys_atomic_init(&c.at, opts ? opts->temp_path : NULL, opts ? opts->temp_ctx : NULL);
    c.cur_unit = TRIT_NONE32;
    int rc = TRIT_OK;
    int const overwrite = (p->flags & EXG_OVERWRITE) != 0;
    struct stat sb;
    if (!overwrite && stat(out_path, &sb) == 0) {
        rc = trit_err_set(err, TRIT_E_EXISTS, TRIT_NO_OFFSET, NULL, "output exists (use --force to replace it)");
        goto out;
    }
    size_t const cols = (size_t)p->max_cols + 1;
    c.buf = malloc(OUT_BUF);
    c.row = malloc((size_t)p->max_row + 4);
    c.vals = malloc(cols);
    c.d = trit_mallocarray(cols / EXG_QK + 1, sizeof *c.d);
    if (!c.buf || !c.row || !c.vals || !c.d) {
        rc = trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
        goto out;
    }
    int const step = trit_sys_atomic_open(&c.at, out_path, 0644);
    if (step == TRIT_SYS_TEMP) {
        rc = trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, NULL, "cannot create a temporary file: %s", strerror(errno));
        goto out;
    }
    if (step == TRIT_SYS_CHMOD) { rc = io_err(&c, err, "cannot chmod the temporary file"); goto out; }
    if ((rc = put(&c, p->hdr, p->hdr_len, err))) goto out;
    uint64_t const total = p->sum.file_size - p->hdr_len;
    for (uint32_t i = 0; i < p->n_t; i++) {
        const exg__out *o = &p->t[i];
        uint64_t const start = p->hdr_len + o->pub.offset, end = start + o->pub.nbytes;
        if (c.pos != start) {
            rc = trit_err_set(err, TRIT_E_USAGE, c.pos, o->name, "internal: data at %llu, planned %llu",
                              (unsigned long long)c.pos, (unsigned long long)start);
            goto out;
        }
        if ((rc = write_tensor(&c, o, err))) goto out;
        if (c.pos != end) {
            rc = trit_err_set(err, TRIT_E_USAGE, c.pos, o->name, "internal: wrote %llu bytes, planned %llu",
                              (unsigned long long)(c.pos - start), (unsigned long long)o->pub.nbytes);
            goto out;
        }
        uint64_t const next = i + 1 < p->n_t ? p->hdr_len + p->t[i + 1].pub.offset : p->sum.file_size;
        if ((rc = pad_to(&c, next, err))) goto out;
        if (opts && opts->progress) opts->progress(opts->progress_ctx, c.pos - p->hdr_len, total);
    }
    if ((rc = flush_buf(&c, err))) goto out;
    switch (trit_sys_atomic_commit(&c.at, out_path, overwrite)) {
    case TRIT_SYS_OK: break;
    case TRIT_SYS_SYNC: rc = io_err(&c, err, "fsync failed"); goto out;
    case TRIT_SYS_CLOSE: rc = io_err(&c, err, "close failed"); goto out;
    case TRIT_SYS_PUBLISH:
        if (overwrite) rc = io_err(&c, err, "rename failed");
        else if (errno == EEXIST) rc = trit_err_set(err, TRIT_E_EXISTS, TRIT_NO_OFFSET, NULL, "output exists (use --force to replace it)");
        else rc = io_err(&c, err, "cannot create the output");
        goto out;
    default: rc = io_err(&c, err, "cannot fsync the directory"); goto out;
    }
    c.st.bytes = c.pos;
out:
    trit_sys_atomic_abort(&c.at);   /* removes the temp file unless published */
    if (rc) trit_err_file(err, rc == TRIT_E_IO || rc == TRIT_E_EXISTS ? out_path : trit_reader_path(p->r));
    else if (st) *st = c.st;
    free(c.buf);
    free(c.row);
    free(c.vals);
    free(c.d);
    free(c.unit);
    return rc;
}
