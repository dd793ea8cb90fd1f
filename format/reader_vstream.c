/* reader_vstream.c - trit_reader_verify fed from bytes the caller already holds.
 *
 * Why: `trit pack` reads every container once to hash and copy it; verifying it with
 * trit_reader_verify read it a second time (about a third of pack's CPU on a large file). Here
 * the same checks run on the pieces as they pass, in file order, through the same helpers as
 * the whole-file verifier (trit__check_codes_range, trit__sum_mismatch, trit__verify_unit), so a
 * damaged file gives the same first error either way: objects are walked in placement order,
 * a tensor's code error is held until its checksum is known, a unit is checked once all its
 * stored bytes are in. Nothing here reads the file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "trit_int.h"
#include "trit_safemath.h"

struct trit_verify_stream {
    const trit_reader *r;
    uint64_t pos;              /* bytes fed */
    uint64_t head;             /* header and index end: those bytes must be the opened ones */
    size_t k;                  /* current object in r->placed */
    XXH3_state_t *xs;          /* the current tensor's or section's checksum */
    int code_rc;               /* a t2 code error in the current tensor, held for its checksum */
    trit_err code_err;
    uint8_t *ubuf;             /* a unit split across pieces: its stored bytes so far */
    uint64_t ucap, ufill;
    int rc;                    /* sticky verdict */
    trit_err err;
};

/* Record the first failure (with the file name, as trit_reader_verify) and hand it out. */
static int fail(trit_verify_stream *v, trit_err *err)
{
    trit_err_file(&v->err, v->r->path);
    if (err) *err = v->err;
    return v->rc;
}

int trit_verify_stream_new(const trit_reader *r, trit_verify_stream **out, trit_err *err)
{
    *out = NULL;
    trit_verify_stream *v = calloc(1, sizeof *v);
    if (!v || !(v->xs = XXH3_createState())) {
        free(v);
        return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    }
    v->r = r;
    v->head = r->info.index_off + r->info.index_size;
    *out = v;
    return TRIT_OK;
}

void trit_verify_stream_free(trit_verify_stream *v)
{
    if (!v) return;
    XXH3_freeState(v->xs);
    free(v->ubuf);
    free(v);
}

/* The first non-zero byte of p[0, n) (file offset at), as trit_reader_verify's padding check. */
static int gap_zero(trit_verify_stream *v, const uint8_t *p, uint64_t n, uint64_t at)
{
    uint64_t const k = trit_find_nonzero_byte(p, n);
    if (k < n)
        v->rc = trit_err_set(&v->err, TRIT_E_CORRUPT, at + k, "padding", "padding byte is 0x%02x, must be 0", p[k]);
    return v->rc;
}

/* Bytes [in, in + n) of placed object o (at p). */
static int object_bytes(trit_verify_stream *v, const trit__placed *o, const uint8_t *p, uint64_t in, uint64_t n, int whole)
{
    const trit_reader *const r = v->r;
    if (o->kind[0] == 'e') {
        if (whole) return v->rc = trit__verify_unit(r, o->idx, p, &v->err); /* all in this piece: no copy */
        if (in == 0) {
            if (o->size > v->ucap) {
                free(v->ubuf);
                v->ucap = 0;
                if (!(v->ubuf = malloc((size_t)o->size)))
                    return v->rc = trit_err_set(&v->err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
                v->ucap = o->size;
            }
            v->ufill = 0;
        }
        memcpy(v->ubuf + v->ufill, p, (size_t)n);
        v->ufill += n;
        if (v->ufill == o->size) v->rc = trit__verify_unit(r, o->idx, v->ubuf, &v->err);
        return v->rc;
    }
    if (in == 0) {
        XXH3_64bits_reset(v->xs);
        v->code_rc = TRIT_OK;
    }
    XXH3_64bits_update(v->xs, p, (size_t)n);
    if (o->kind[0] == 't') {
        trit_tensor_info const *const t = &r->tensors[o->idx];
        if (v->code_rc == TRIT_OK) v->code_rc = trit__check_codes_range(t, p, in, n, o->start + in, 0, &v->code_err);
        if (in + n < o->size) return TRIT_OK;
        uint64_t const sum = XXH3_64bits_digest(v->xs);
        if (sum != t->xxh3) return v->rc = trit__sum_mismatch(t, sum, t->offset, &v->err);
        if (v->code_rc != TRIT_OK) v->err = v->code_err;
        return v->rc = v->code_rc;
    }
    if (in + n < o->size) return TRIT_OK;
    trit_section_info const *const s = &r->sections[o->idx];
    uint64_t const sum = XXH3_64bits_digest(v->xs);
    if (sum != s->xxh3) {  /* the words of trit_reader_section_data */
        char where[112];
        snprintf(where, sizeof where, "section '%.80s'", s->name);
        v->rc = trit_err_set(&v->err, TRIT_E_CHECKSUM, s->offset, where, "checksum %016llx, computed %016llx",
                             (unsigned long long)s->xxh3, (unsigned long long)sum);
    }
    return v->rc;
}

int trit_verify_stream_feed(trit_verify_stream *v, uint64_t off, const void *buf, size_t n, trit_err *err)
{
    if (v->rc != TRIT_OK) return fail(v, err);
    const trit_reader *const r = v->r;
    uint64_t const fsize = r->info.file_size;
    if (off != v->pos)
        return trit_err_set(err, TRIT_E_USAGE, off, NULL, "bytes fed at %llu, expected %llu (in file order)",
                            (unsigned long long)off, (unsigned long long)v->pos);
    const uint8_t *p = buf;
    if (n > fsize - v->pos) {
        v->rc = trit_err_set(&v->err, TRIT_E_CORRUPT, fsize, NULL, "more than the header's %llu bytes",
                             (unsigned long long)fsize);
        return fail(v, err);
    }
    uint64_t const end = v->pos + n;
    while (v->pos < end && v->rc == TRIT_OK) {
        uint64_t const left = end - v->pos;
        if (v->pos < v->head) { /* header and index: what r parsed, or the file changed under it */
            uint64_t const take = v->head - v->pos < left ? v->head - v->pos : left;
            if (memcmp(p, r->map + v->pos, (size_t)take) != 0) {
                uint64_t i = 0;
                while (p[i] == r->map[v->pos + i]) i++;
                v->rc = trit_err_set(&v->err, TRIT_E_CORRUPT, v->pos + i, "header",
                                     "differs from the header and index opened (the file changed)");
                break;
            }
            p += take;
            v->pos += take;
            continue;
        }
        trit__placed const *const o = v->k < r->n_placed ? &r->placed[v->k] : NULL;
        uint64_t const start = o ? o->start : fsize;
        if (v->pos < start) { /* padding before the next object, or after the last */
            uint64_t const take = start - v->pos < left ? start - v->pos : left;
            if (gap_zero(v, p, take, v->pos) != TRIT_OK) break;
            p += take;
            v->pos += take;
            continue;
        }
        uint64_t const in = v->pos - o->start;
        uint64_t const take = o->size - in < left ? o->size - in : left;
        if (object_bytes(v, o, p, in, take, in == 0 && take == o->size) != TRIT_OK) break;
        p += take;
        v->pos += take;
        if (in + take == o->size) v->k++;
    }
    if (v->rc != TRIT_OK) return fail(v, err);
    return TRIT_OK;
}

int trit_verify_stream_finish(trit_verify_stream *v, trit_err *err)
{
    if (v->rc != TRIT_OK) return fail(v, err);
    const trit_reader *const r = v->r;
    trit_file_info const *const fi = &r->info;
    if (v->pos != fi->file_size) {
        v->rc = trit_err_set(&v->err, TRIT_E_TRUNCATED, v->pos, NULL, "the bytes ended at %llu, the header says %llu",
                             (unsigned long long)v->pos, (unsigned long long)fi->file_size);
        return fail(v, err);
    }
    /* objects of size 0 occupy no bytes (not in r->placed) but still carry a checksum: as
     * trit_reader_verify */
    uint64_t const empty = trit_xxh3("", 0);
    for (uint32_t i = 0; v->rc == TRIT_OK && i < fi->n_tensors; i++) {
        trit_tensor_info const *t = &r->tensors[i];
        if (t->unit == TRIT_NONE32 && t->size == 0 && t->xxh3 != empty) v->rc = trit__sum_mismatch(t, empty, t->offset, &v->err);
    }
    for (uint32_t s = 0; v->rc == TRIT_OK && s < fi->n_sections; s++)
        if (r->sections[s].size == 0 && r->sections[s].xxh3 != empty) {
            const void *d;
            uint64_t n;
            v->rc = trit_reader_section_data(r, s, &d, &n, &v->err);
        }
    if (v->rc != TRIT_OK) return fail(v, err);
    return TRIT_OK;
}
