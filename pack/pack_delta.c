/* pack_delta.c - delta files (spec/manifest.md, "Delta files").
 *
 * A .trit container is its header and index, then objects (dense tensors, expert units'
 * stored bytes, sections) each carrying an xxh3 in the index, with zero bytes between them.
 * A new release usually changes a few tensors or experts. The delta of a new container against
 * the installed one lists its bytes in order as extents: the header and index and every object
 * whose (xxh3, size) is not in the base are "data" (carried in the bundle), every object that
 * is in the base is a "copy" of the base's bytes (referenced by offset and digest), and the
 * gaps are "zero". The device rebuilds the container byte for byte, checks each copied range's
 * xxh3 as it reads it, and the rebuilt file's chunk digests from the signed manifest, so a
 * wrong or modified base, or an xxh3 collision, can only fail the install, never change it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "pack_int.h"

static int cmp_off(const void *a, const void *b)
{
    const pack_obj *const x = a, *const y = b;
    return x->off < y->off ? -1 : x->off > y->off;
}

static int cmp_digest(const void *a, const void *b)
{
    const pack_obj *const x = a, *const y = b;
    if (x->xxh3 != y->xxh3) return x->xxh3 < y->xxh3 ? -1 : 1;
    if (x->size != y->size) return x->size < y->size ? -1 : 1;
    return cmp_off(a, b); /* the lowest offset wins among equal objects: deterministic plans */
}

int pack_container_objects(const trit_reader *r, pack_obj **out, uint32_t *n, trit_err *err)
{
    trit_file_info const *const fi = trit_reader_file_info(r);
    uint64_t total;
    size_t cap;
    if (trit_add_u64((uint64_t)fi->n_tensors + fi->n_units, fi->n_sections, &total) || trit_to_size(total, &cap))
        return trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, NULL, "too many objects");
    pack_obj *const o = trit_mallocarray(cap ? cap : 1, sizeof *o);
    if (!o) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    uint32_t k = 0;
    for (uint32_t i = 0; i < fi->n_tensors; i++) {
        trit_tensor_info const *const t = trit_reader_tensor(r, i);
        if (t->unit == TRIT_NONE32 && t->size) o[k++] = (pack_obj){t->offset, t->size, t->xxh3};
    }
    for (uint32_t i = 0; i < fi->n_units; i++) {
        trit_unit_info const *const u = trit_reader_unit(r, i);
        if (u->stored_size) o[k++] = (pack_obj){u->offset, u->stored_size, u->xxh3};
    }
    for (uint32_t i = 0; i < fi->n_sections; i++) {
        trit_section_info const *const s = trit_reader_section(r, i);
        if (s->size) o[k++] = (pack_obj){s->offset, s->size, s->xxh3};
    }
    qsort(o, k, sizeof *o, cmp_off);
    *out = o;
    *n = k;
    return TRIT_OK;
}

/* Append an extent, merging it into the previous one when both are data or both zero. */
static int emit(pack_extent *ex, uint64_t *n, uint64_t cap, pack_extent x, trit_err *err)
{
    if (*n && x.op != PACK_EXT_COPY && ex[*n - 1].op == x.op) {
        ex[*n - 1].len += x.len;
        return TRIT_OK;
    }
    if (*n >= cap || *n >= TRIT_MAX_DELTA_EXTENTS)
        return trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, NULL, "delta needs more than %u extents",
                            (unsigned)TRIT_MAX_DELTA_EXTENTS);
    ex[(*n)++] = x;
    return TRIT_OK;
}

int pack_delta_plan(const trit_reader *nr, const trit_reader *br, pack_extent **out, uint64_t *n_out, trit_err *err)
{
    *out = NULL;
    *n_out = 0;
    pack_obj *no = NULL, *bo = NULL;
    uint32_t nn = 0, nb = 0;
    int rc = pack_container_objects(nr, &no, &nn, err);
    if (rc == TRIT_OK) rc = pack_container_objects(br, &bo, &nb, err);
    pack_extent *ex = NULL;
    /* header+index, then per object at most a gap and the object, then the tail gap */
    uint64_t const cap = 2 * (uint64_t)nn + 2;
    if (rc == TRIT_OK && !(ex = trit_mallocarray((size_t)cap, sizeof *ex)))
        rc = trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    if (rc != TRIT_OK) goto out;
    qsort(bo, nb, sizeof *bo, cmp_digest);
    trit_file_info const *const fi = trit_reader_file_info(nr);
    uint64_t n = 0, pos = fi->data_off;
    if (pos) rc = emit(ex, &n, cap, (pack_extent){PACK_EXT_DATA, pos, 0, 0}, err);
    for (uint32_t i = 0; rc == TRIT_OK && i < nn; i++) {
        if (no[i].off < pos) {  /* the reader refuses overlaps; this guards the arithmetic */
            rc = trit_err_set(err, TRIT_E_CORRUPT, no[i].off, NULL, "objects overlap");
            break;
        }
        if (no[i].off > pos) rc = emit(ex, &n, cap, (pack_extent){PACK_EXT_ZERO, no[i].off - pos, 0, 0}, err);
        pack_obj key = {0, no[i].size, no[i].xxh3};
        pack_obj const *hit = NULL;
        /* lower bound of (xxh3, size): the base object with the lowest offset among equals */
        size_t lo = 0, hi = nb;
        while (lo < hi) {
            size_t const mid = lo + (hi - lo) / 2;
            if (cmp_digest(&bo[mid], &key) < 0) lo = mid + 1;
            else hi = mid;
        }
        if (lo < nb && bo[lo].xxh3 == key.xxh3 && bo[lo].size == key.size) hit = &bo[lo];
        if (rc == TRIT_OK)
            rc = emit(ex, &n, cap,
                      hit ? (pack_extent){PACK_EXT_COPY, no[i].size, hit->off, hit->xxh3}
                          : (pack_extent){PACK_EXT_DATA, no[i].size, 0, 0},
                      err);
        pos = no[i].off + no[i].size;
    }
    if (rc == TRIT_OK && fi->file_size > pos) rc = emit(ex, &n, cap, (pack_extent){PACK_EXT_ZERO, fi->file_size - pos, 0, 0}, err);
out:
    free(no);
    free(bo);
    if (rc != TRIT_OK) {
        free(ex);
        return rc;
    }
    *out = ex;
    *n_out = n;
    return TRIT_OK;
}

/* The stream's sink: the rebuilt bytes go to the output file while their chunks are hashed. */
static int put_fd(void *ctx, const void *p, size_t n, trit_err *err)
{
    int const *const fd = ctx;
    if (trit_sys_write_full(*fd, p, n) != 0)
        return trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, NULL, "cannot write: %s", strerror(errno));
    return TRIT_OK;
}

/* A chunk that differs although every copied range had its xxh3: when the chunk holds copied
 * bytes, the manifest is signed, so the base differs from the release (an xxh3 collision, or a
 * range whose xxh3 is checked later); otherwise the carried bytes do. */
static int blame(const pack_file *f, uint64_t chunk_size, uint64_t chunk, int rc, trit_err *err)
{
    uint64_t const a = chunk * chunk_size, b = a + chunk_size;
    uint64_t pos = 0;
    for (uint64_t i = 0; i < f->n_extents; pos += f->extents[i].len, i++) {
        pack_extent const *const x = &f->extents[i];
        if (x->op != PACK_EXT_COPY || pos >= b || pos + x->len <= a) continue;
        char why[sizeof err->msg];
        snprintf(why, sizeof why, "%s", err ? err->msg : "chunk mismatch");
        uint64_t const from = a > pos ? a - pos : 0;
        return trit_err_set(err, PACK_E_BASE, x->base_off + from, f->base_path, "bytes copied from the base differ from the release (%s)",
                            why);
    }
    return rc;
}

int pack_delta_apply(const pack_manifest *m, const pack_file *f, int base_fd, int member_fd, int out_fd, uint32_t threads,
                     trit_pool *pool, trit_err *err)
{
    XXH3_state_t *const xs = XXH3_createState();
    if (!xs) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    char what[160];
    snprintf(what, sizeof what, "file '%s'", f->file.name);
    pack_stream st;
    int fd = out_fd;
    int rc = pack_stream_init(&st, pool, threads, m->schema == PACK_MANIFEST_V1, m->chunk_size, f->file.size, &f->file, NULL,
                              put_fd, &fd, what, err);
    uint64_t moff = 0;  /* next byte of the carried member */
    for (uint64_t i = 0; rc == TRIT_OK && i < f->n_extents; i++) {
        pack_extent const *const x = &f->extents[i];
        if (x->op == PACK_EXT_COPY) XXH3_64bits_reset(xs);
        for (uint64_t done = 0; rc == TRIT_OK && done < x->len;) {
            uint8_t *buf;
            size_t room;
            if ((rc = pack_stream_space(&st, &buf, &room, err)) != TRIT_OK) break;
            size_t const k = x->len - done < room ? (size_t)(x->len - done) : room;
            if (x->op == PACK_EXT_ZERO) {
                memset(buf, 0, k);
            } else if (x->op == PACK_EXT_DATA && pack_pread_all(member_fd, buf, k, moff) != 0) {
                rc = trit_err_set(err, TRIT_E_IO, moff, f->delta.name, "cannot read the delta member: %s",
                                  errno ? strerror(errno) : "unexpected end");
                break;
            } else if (x->op == PACK_EXT_COPY && pack_pread_all(base_fd, buf, k, x->base_off + done) != 0) {
                rc = trit_err_set(err, PACK_E_BASE, x->base_off + done, f->base_path, "cannot read the base: %s",
                                  errno ? strerror(errno) : "it is shorter than the delta expects");
                break;
            }
            if (x->op == PACK_EXT_COPY) XXH3_64bits_update(xs, buf, k);
            if (x->op == PACK_EXT_DATA) moff += k;
            pack_stream_commit(&st, k);
            done += k;
        }
        if (rc == TRIT_OK && x->op == PACK_EXT_COPY && XXH3_64bits_digest(xs) != x->xxh3) {
            char want[17];
            pack_hex_u64(x->xxh3, want);
            rc = trit_err_set(err, PACK_E_BASE, x->base_off, f->base_path,
                              "bytes [%llu, %llu) do not have xxh3 %s: the installed base is not the one the delta was made against",
                              (unsigned long long)x->base_off, (unsigned long long)(x->base_off + x->len), want);
        }
    }
    if (rc == TRIT_OK) rc = pack_stream_final(&st, NULL, err);
    if (rc == PACK_E_DIGEST && st.d.failed) rc = blame(f, m->chunk_size, st.d.fail_chunk, rc, err);
    if (rc == TRIT_E_IO && err && !err->where[0]) snprintf(err->where, sizeof err->where, "%.90s", what);
    pack_stream_release(&st);
    XXH3_freeState(xs);
    return rc;
}
