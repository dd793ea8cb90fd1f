/*
 * cal_copy.c - copy a .trit container through libtrit's writer, replacing its
 * activation-scale section (cal.h).
 *
 * Everything is declared in the reader's index order (metadata, sections, units, tensors), so
 * tensor indices, which kind-5 entries refer to, are the same in the copy. Data is streamed:
 * dense tensors straight from the mapping, one decoded unit at a time, so memory stays bounded
 * by the largest unit. The writer recomputes every checksum and sets the ACT_SCALES bit when a
 * kind-5 section is present. libtrit cannot take stored zstd frames verbatim, so zstd units are
 * decoded (checksum-verified) and compressed again at the given level.
 */
#include <stdlib.h>
#include <string.h>

#include "cvt.h"
#include "cal.h"
#include "trit_limits.h"
#include "trit_safemath.h"

/* One metadata record of s into b, with its exact type. */
static int copy_kv(const trit_kvset *s, uint32_t i, trit_kvbuf *b, trit_err *err)
{
    const char *key = trit_kvset_key(s, i);
    uint32_t et = 0;
    uint64_t count = 0;
    uint32_t const type = trit_kvset_type(s, i, &et, &count);
    uint64_t u = 0;
    int64_t v = 0;
    double d = 0;
    switch (type) {
    case TRIT_KV_U8: case TRIT_KV_U16: case TRIT_KV_U32: case TRIT_KV_U64: case TRIT_KV_BOOL:
        trit_kvset_u64(s, i, &u);
        return trit_kvbuf_scalar(b, key, type, u, err);
    case TRIT_KV_I8: case TRIT_KV_I16: case TRIT_KV_I32: case TRIT_KV_I64:
        trit_kvset_i64(s, i, &v);
        return trit_kvbuf_scalar(b, key, type, (uint64_t)v, err);
    case TRIT_KV_F32: {
        trit_kvset_f64(s, i, &d);
        float const f = (float)d;   /* f32 -> f64 -> f32 is exact */
        uint32_t bits;
        memcpy(&bits, &f, 4);
        return trit_kvbuf_scalar(b, key, type, bits, err);
    }
    case TRIT_KV_F64:
        trit_kvset_f64(s, i, &d);
        memcpy(&u, &d, 8);
        return trit_kvbuf_scalar(b, key, type, u, err);
    case TRIT_KV_STRING: {
        const char *str;
        uint64_t n;
        trit_kvset_str(s, i, &str, &n);
        return trit_kvbuf_str(b, key, str, n, err);
    }
    case TRIT_KV_ARRAY: break;
    default: return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, key, "metadata type %u", type);
    }
    size_t n;
    if (trit_to_size(count, &n)) return trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, key, "array too large");
    if (et == TRIT_KV_STRING) {
        const char **strs = trit_mallocarray(n ? n : 1, sizeof *strs);
        uint64_t *lens = trit_mallocarray(n ? n : 1, sizeof *lens);
        int rc = strs && lens ? TRIT_OK : trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, key, "out of memory");
        for (size_t j = 0; j < n && rc == TRIT_OK; j++) rc = trit_kvset_arr_str(s, i, j, &strs[j], &lens[j]);
        if (rc == TRIT_OK) rc = trit_kvbuf_arr_str(b, key, strs, lens, count, err);
        free(strs);
        free(lens);
        return rc;
    }
    /* numbers: into a host array of the element's C type (trit_kvbuf_arr's contract) */
    uint64_t *vals = trit_mallocarray(n ? n : 1, sizeof *vals);
    if (!vals) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, key, "out of memory");
    uint8_t *p = (uint8_t *)vals;
    int rc = TRIT_OK;
    for (size_t j = 0; j < n && rc == TRIT_OK; j++) {
        switch (et) {
        case TRIT_KV_U8: case TRIT_KV_BOOL: rc = trit_kvset_arr_u64(s, i, j, &u); p[j] = (uint8_t)u; break;
        case TRIT_KV_I8: rc = trit_kvset_arr_i64(s, i, j, &v); p[j] = (uint8_t)v; break;
        case TRIT_KV_U16: { rc = trit_kvset_arr_u64(s, i, j, &u); uint16_t const x = (uint16_t)u; memcpy(p + 2 * j, &x, 2); break; }
        case TRIT_KV_I16: { rc = trit_kvset_arr_i64(s, i, j, &v); uint16_t const x = (uint16_t)v; memcpy(p + 2 * j, &x, 2); break; }
        case TRIT_KV_U32: { rc = trit_kvset_arr_u64(s, i, j, &u); uint32_t const x = (uint32_t)u; memcpy(p + 4 * j, &x, 4); break; }
        case TRIT_KV_I32: { rc = trit_kvset_arr_i64(s, i, j, &v); uint32_t const x = (uint32_t)v; memcpy(p + 4 * j, &x, 4); break; }
        case TRIT_KV_U64: rc = trit_kvset_arr_u64(s, i, j, &vals[j]); break;
        case TRIT_KV_I64: rc = trit_kvset_arr_i64(s, i, j, &v); vals[j] = (uint64_t)v; break;
        case TRIT_KV_F32: { rc = trit_kvset_arr_f64(s, i, j, &d); float const f = (float)d; memcpy(p + 4 * j, &f, 4); break; }
        case TRIT_KV_F64: rc = trit_kvset_arr_f64(s, i, j, &d); memcpy(&vals[j], &d, 8); break;
        default: rc = trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, key, "array of type %u", et); break;
        }
    }
    if (rc != TRIT_OK) rc = trit_err_set(err, rc, TRIT_NO_OFFSET, key, "cannot read an array element");
    else rc = trit_kvbuf_arr(b, key, et, vals, count, err);
    free(vals);
    return rc;
}

static int declare(trit_writer *w, const trit_reader *r, const cal_copy_opts *o, uint32_t *act_id, trit_err *err)
{
    trit_kvbuf *b = trit_kvbuf_new();
    if (!b) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    trit_kvset const *kv = trit_reader_kv(r);
    int rc = TRIT_OK;
    for (uint32_t i = 0; i < trit_kvset_n(kv) && rc == TRIT_OK; i++) rc = copy_kv(kv, i, b, err);
    if (rc == TRIT_OK) rc = trit_writer_kv_import(w, b, err);
    trit_kvbuf_free(b);
    *act_id = UINT32_MAX;
    uint32_t id;
    for (uint32_t i = 0; i < trit_reader_n_sections(r) && rc == TRIT_OK; i++) {
        trit_section_info const *s = trit_reader_section(r, i);
        rc = trit_writer_add_section(w, s->name, s->kind, &id, err);
        if (s->kind == TRIT_SECTION_ACT_SCALES && *act_id == UINT32_MAX) *act_id = id;
    }
    if (rc == TRIT_OK && o->act_section && *act_id == UINT32_MAX)
        rc = trit_writer_add_section(w, "act_scales", TRIT_SECTION_ACT_SCALES, act_id, err);
    for (uint32_t u = 0; u < trit_reader_n_units(r) && rc == TRIT_OK; u++) {
        trit_unit_info const *un = trit_reader_unit(r, u);
        rc = trit_writer_add_unit(w, un->layer, un->expert, un->storage, &id, err);
        if (rc == TRIT_OK && id != u) rc = trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL, "unit %u declared as %u", u, id);
    }
    for (uint32_t t = 0; t < trit_reader_n_tensors(r) && rc == TRIT_OK; t++) {
        rc = trit_writer_add_tensor(w, trit_reader_tensor(r, t), &id, err);
        if (rc == TRIT_OK && id != t) rc = trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL, "tensor %u declared as %u", t, id);
    }
    return rc;
}

static int write_dense(trit_writer *w, const trit_reader *r, uint32_t t, const cal_copy_opts *o, trit_err *err)
{
    const void *data;
    uint64_t size;
    int rc = trit_reader_tensor_data(r, t, &data, &size, err);
    if (rc || !o->edit) return rc ? rc : trit_writer_write_tensor(w, t, data, size, err);
    size_t n;
    if (trit_to_size(size, &n)) return trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, NULL, "tensor too large");
    void *copy = malloc(n ? n : 1);
    if (!copy) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    memcpy(copy, data, n);
    rc = o->edit(o->edit_arg, t, trit_reader_tensor(r, t), copy, size, err);
    if (rc == TRIT_OK) rc = trit_writer_write_tensor(w, t, copy, size, err);
    free(copy);
    return rc;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t const x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static int write_unit(trit_writer *w, const trit_reader *r, uint32_t u, trit_err *err)
{
    uint32_t n = 0;
    const uint32_t *mem = trit_reader_unit_members(r, u, &n);
    uint32_t order[TRIT_MAX_UNIT_MEMBERS];
    if (n > TRIT_MAX_UNIT_MEMBERS) return trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, NULL, "unit %u has %u members", u, n);
    memcpy(order, mem, n * sizeof *order);
    /* the writer takes members in declaration (= tensor index) order */
    qsort(order, n, sizeof *order, cmp_u32);
    void *img = NULL;
    uint64_t size = 0;
    int rc = trit_reader_unit_load(r, u, &img, &size, err);
    if (rc) return rc;
    rc = trit_writer_unit_begin(w, u, err);
    for (uint32_t k = 0; k < n && rc == TRIT_OK; k++) {
        trit_tensor_info const *ti = trit_reader_tensor(r, order[k]);
        rc = trit_writer_write_tensor(w, order[k], (const uint8_t *)img + ti->offset, ti->size, err);
    }
    if (rc == TRIT_OK) rc = trit_writer_unit_end(w, err);
    trit_free(img);
    return rc;
}

int cal_copy_container(const trit_reader *r, const char *out_path, const cal_copy_opts *o_in, trit_err *err)
{
    cal_copy_opts o;
    memset(&o, 0, sizeof o);
    if (o_in) o = *o_in;
    trit_file_info const *fi = trit_reader_file_info(r);
    /* the writer registers its temp file with the caller's guard (o.temp_path) */
    trit_write_opts wo = {fi->page_align, fi->tensor_align, o.zstd_level ? o.zstd_level : CVT_DEFAULT_ZSTD_LEVEL, o.overwrite,
                          o.temp_path, o.temp_ctx};
    trit_writer *w = NULL;
    int rc = trit_writer_open(out_path, &wo, &w, err);
    if (rc) return rc;
    uint32_t act_id = UINT32_MAX;
    rc = declare(w, r, &o, &act_id, err);
    for (uint32_t t = 0; t < trit_reader_n_tensors(r) && rc == TRIT_OK; t++)
        if (trit_reader_tensor(r, t)->unit == TRIT_NONE32) rc = write_dense(w, r, t, &o, err);
    for (uint32_t u = 0; u < trit_reader_n_units(r) && rc == TRIT_OK; u++) rc = write_unit(w, r, u, err);
    uint32_t const n_sec = trit_reader_n_sections(r) + (act_id == trit_reader_n_sections(r)); /* + the added one */
    for (uint32_t s = 0; s < n_sec && rc == TRIT_OK; s++) {
        const void *d;
        uint64_t n;
        if (s == act_id && o.act_section) {
            d = o.act_section;
            n = o.act_section_len;
        } else if ((rc = trit_reader_section_data(r, s, &d, &n, err))) {
            break;
        }
        rc = trit_writer_write_section(w, s, d, n, err);
    }
    if (rc) {
        trit_writer_abort(w);
        trit_err_file(err, trit_reader_path(r));
        return rc;
    }
    return trit_writer_finish(w, err);
}
