/* reader_verify.c - whole-file verification: every checksum, every unit decoded, every padding
 * byte zero, every ternary code valid (spec "Integrity"). Reads the whole file once. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>
#include <zstd.h>

#include "trit_int.h"
#include "trit_safemath.h"
#include "trit_sys.h"

static int check_zero(const trit_reader *r, const uint8_t *base, uint64_t file_off, uint64_t from, uint64_t to,
                      const char *where, trit_err *err)
{
    if (to <= from) return TRIT_OK;
    uint64_t const k = trit_find_nonzero_byte(base + from, to - from);
    if (k < to - from)
        return trit_err_set(err, TRIT_E_CORRUPT, file_off + from + k, where, "padding byte is 0x%02x, must be 0",
                            base[from + k]);
    (void)r;
    return TRIT_OK;
}

/* Byte q of a t2 tensor's codes (row_bytes per row, cols weights): no code 3, and slots past
 * the row end hold code 1 (zero). `at` is the file offset reported. */
static int check_t2_byte(const trit_tensor_info *t, uint64_t row_bytes, uint64_t cols, uint64_t q, unsigned byte,
                         uint64_t at, trit_err *err)
{
    uint64_t const b = q % row_bytes;
    for (unsigned s = 0; s < 4; s++) {
        unsigned const code = (byte >> (2 * s)) & 3u;
        uint64_t const e = (b / 32) * 128 + (b % 32) + 32u * s;
        if (code == 3 || (e >= cols && code != 1)) {
            char where[96];
            return trit_err_set(err, TRIT_E_CORRUPT, at, trit__where_tensor(where, sizeof where, t->name),
                                code == 3 ? "invalid ternary code 3 at row %llu element %llu"
                                          : "row padding code is not zero at row %llu element %llu",
                                (unsigned long long)(q / row_bytes), (unsigned long long)e);
        }
    }
    return TRIT_OK;
}

/* Ternary codes in bytes [q0, q0+n) of a t2 tensor (p points at byte q0): no code 3, padding
 * codes past the row end are 1 (zero), and the gap between codes and scales is zero. Works on
 * any sub-range, so expert units can be checked while they stream through the decoder.
 * `off` is the file offset reported for byte q0. Whole blocks go through the vectorized scan;
 * only a row's last block, when the row ends inside it, is looked at byte by byte. */
int trit__check_t2_range(const trit_tensor_info *t, const uint8_t *p, uint64_t q0, uint64_t n, uint64_t off, trit_err *err)
{
    uint64_t const cols = t->n_dims ? t->dims[t->n_dims - 1] : 1;
    uint64_t const row_bytes = trit_div_ceil(cols, TRIT_T2_BLOCK_ELEMS) * TRIT_T2_BLOCK_BYTES;
    uint64_t const rows = row_bytes ? t->scales_off / row_bytes : 0;
    uint64_t const codes = rows * row_bytes;
    uint64_t const padded = cols % TRIT_T2_BLOCK_ELEMS != 0;   /* the last block of a row has padding slots */
    uint64_t const end = q0 + n < t->scales_off ? q0 + n : t->scales_off;
    uint64_t const code_end = end < codes ? end : codes;
    uint64_t q = q0;
    while (q < code_end) {
        uint64_t const row0 = q - q % row_bytes;
        uint64_t const last = row0 + row_bytes - TRIT_T2_BLOCK_BYTES;
        if (padded && q >= last) {
            uint64_t const stop = row0 + row_bytes < code_end ? row0 + row_bytes : code_end;
            for (; q < stop; q++) {
                int const rc = check_t2_byte(t, row_bytes, cols, q, p[q - q0], off + (q - q0), err);
                if (rc) return rc;
            }
            continue;
        }
        uint64_t const stop = !padded || last > code_end ? code_end : last;
        uint64_t const k = trit_t2_find_code3(p + (q - q0), stop - q);
        if (k < stop - q) return check_t2_byte(t, row_bytes, cols, q + k, p[q + k - q0], off + (q + k - q0), err);
        q = stop;
    }
    if (q < end) {
        uint64_t const k = trit_find_nonzero_byte(p + (q - q0), end - q);
        if (k < end - q) {
            char where[96];
            return trit_err_set(err, TRIT_E_CORRUPT, off + (q - q0) + k, trit__where_tensor(where, sizeof where, t->name),
                                "padding before the scales is not zero");
        }
    }
    return TRIT_OK;
}

/* The same for a b3 tensor (spec 6.4): every code byte one of the 243 valid ones, digits past
 * the row end 1 (zero), the gap before the scales zero. Byte by byte: b3 is the expert-unit form,
 * checked as units decode. */
static int check_b3_range(const trit_tensor_info *t, const uint8_t *p, uint64_t q0, uint64_t n, uint64_t off,
                          trit_err *err)
{
    uint64_t const cols = t->n_dims ? t->dims[t->n_dims - 1] : 1;
    uint64_t const row_bytes = trit_div_ceil(cols, TRIT_B3_BLOCK_ELEMS) * TRIT_B3_BLOCK_BYTES;
    uint64_t const rows = row_bytes ? t->scales_off / row_bytes : 0;
    uint64_t const codes = rows * row_bytes;
    uint64_t const end = q0 + n < t->scales_off ? q0 + n : t->scales_off;
    char where[96];
    for (uint64_t q = q0; q < end; q++) {
        uint8_t const b = p[q - q0];
        if (q >= codes) {
            if (b)
                return trit_err_set(err, TRIT_E_CORRUPT, off + (q - q0), trit__where_tensor(where, sizeof where, t->name),
                                    "padding before the scales is not zero");
            continue;
        }
        uint64_t const in_row = q % row_bytes, e0 = (in_row / 32) * TRIT_B3_BLOCK_ELEMS + in_row % 32;
        int bad_pad = 0;
        if (trit_b3_byte_valid(b))
            for (unsigned k = 0; k < 5; k++) {
                static const uint8_t pow3[5] = {1, 3, 9, 27, 81};
                unsigned const digit = ((unsigned)(uint8_t)(b * pow3[k]) * 3) >> 8;
                if (e0 + 32u * k >= cols && digit != 1) bad_pad = 1;
            }
        else
            return trit_err_set(err, TRIT_E_CORRUPT, off + (q - q0), trit__where_tensor(where, sizeof where, t->name),
                                "invalid b3 byte 0x%02x at row %llu", b, (unsigned long long)(q / row_bytes));
        if (bad_pad)
            return trit_err_set(err, TRIT_E_CORRUPT, off + (q - q0), trit__where_tensor(where, sizeof where, t->name),
                                "row padding digit is not zero at row %llu", (unsigned long long)(q / row_bytes));
    }
    return TRIT_OK;
}

int trit__sum_mismatch(const trit_tensor_info *t, uint64_t sum, uint64_t off, trit_err *err)
{
    char where[96];
    return trit_err_set(err, TRIT_E_CHECKSUM, off, trit__where_tensor(where, sizeof where, t->name),
                        "checksum %016llx, computed %016llx", (unsigned long long)t->xxh3, (unsigned long long)sum);
}

/* Bytes [off, off + n) of the file into dst (pread: cheaper than a fresh mapping's first
 * touch on some hosts, and a file cut short is an error instead of SIGBUS), or a pointer into
 * the caller's buffer for memory readers. NULL with err set on a read failure. */
static const uint8_t *file_piece(const trit_reader *r, uint8_t *dst, uint64_t off, size_t n, const char *where,
                                 int *rc, trit_err *err)
{
    if (r->fd < 0) return r->map + off;
    errno = 0;
    int64_t const k = trit_sys_pread_full(r->fd, dst, n, off);
    if (k == (int64_t)n) return dst;
    *rc = trit_err_set(err, k < 0 ? TRIT_E_IO : TRIT_E_TRUNCATED, off + (k > 0 ? (uint64_t)k : 0), where, "read failed: %s",
                 k < 0 ? strerror(errno) : "unexpected end of file");
    return NULL;
}

#define VERIFY_PIECE (1u << 20)

/* Block-type scales in bytes [q0, q0+n) of a tensor (spec 6.3); off: the file offset reported
 * for byte q0 (a unit's offset for members, whose bytes have no file offset of their own). */
static int check_blk_range(const trit_tensor_info *t, const uint8_t *p, uint64_t q0, uint64_t n, uint64_t off,
                           int member, trit_err *err)
{
    uint64_t const q = trit_blk_find_bad(t->type, p, q0, n);
    if (q == q0 + n) return TRIT_OK;
    uint32_t const bb = t->block_bytes;
    char where[96];
    return trit_err_set(err, TRIT_E_CORRUPT, member ? off : off + (q - q0), trit__where_tensor(where, sizeof where, t->name),
                        "%s block %llu has an invalid scale (%s)", trit_type_name(t->type), (unsigned long long)(q / bb),
                        t->type == TRIT_TYPE_MXFP4 ? "E8M0 exponent 255 is NaN" : "f16 infinity or NaN");
}

/* The value checks of a tensor's bytes [q0, q0+n) by type: t2 codes, b3 bytes and padding
 * digits, block-type scales. member: the bytes belong to an expert unit (off is the unit's). */
int trit__check_codes_range(const trit_tensor_info *t, const uint8_t *p, uint64_t q0, uint64_t n, uint64_t off,
                             int member, trit_err *err)
{
    if (t->type == TRIT_TYPE_T2) return trit__check_t2_range(t, p, q0, n, off, err);
    if (t->type == TRIT_TYPE_B3) return check_b3_range(t, p, q0, n, off, err);
    if (trit_type_is_block(t->type)) return check_blk_range(t, p, q0, n, off, member, err);
    return TRIT_OK;
}

/* A dense tensor's checksum and t2 codes in one pass, a piece at a time. A code error is
 * held until the checksum is known: a damaged tensor reports its checksum. */
static int check_tensor_sum(const trit_reader *r, const trit_tensor_info *t, uint8_t *buf, XXH3_state_t *xs,
                            trit_err *err)
{
    char where[96];
    trit__where_tensor(where, sizeof where, t->name);
    XXH3_64bits_reset(xs);
    trit_err code_err; /* cleared: it is copied whole, and trit_err_set leaves the file name alone */
    trit_err_clear(&code_err);
    int code_rc = TRIT_OK;
    for (uint64_t done = 0; done < t->size;) {
        size_t const k = t->size - done < VERIFY_PIECE ? (size_t)(t->size - done) : VERIFY_PIECE;
        int rc = TRIT_OK;
        const uint8_t *p = file_piece(r, buf, t->offset + done, k, where, &rc, err);
        if (!p) return rc;
        XXH3_64bits_update(xs, p, k);
        if (code_rc == TRIT_OK) code_rc = trit__check_codes_range(t, p, done, k, t->offset + done, 0, &code_err);
        done += k;
    }
    uint64_t const sum = XXH3_64bits_digest(xs);
    if (sum != t->xxh3) return trit__sum_mismatch(t, sum, t->offset, err);
    if (code_rc != TRIT_OK && err) *err = code_err;
    return code_rc;
}

int trit_reader_tensor_verify(const trit_reader *r, uint32_t i, trit_err *err)
{
    trit_tensor_info const *t = NULL;
    int rc = trit__dense_tensor(r, i, &t, err);
    if (rc) return rc;
    uint64_t sum;
    if (r->fd < 0) {
        sum = trit_xxh3(r->map + t->offset, (size_t)t->size);
    } else {
        /* Through pread, a cache-sized piece at a time, not through the mapping: the bytes
         * are the same page-cache pages, read at copy speed (a first touch of a new mapping
         * costs a fault per 64 KiB and more), and a file cut short is an error, not SIGBUS. */
        size_t const cap = 256u << 10;
        uint8_t *buf = malloc(cap);
        XXH3_state_t *xs = XXH3_createState();
        if (!buf || !xs) rc = trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
        else XXH3_64bits_reset(xs);
        for (uint64_t done = 0; rc == TRIT_OK && done < t->size;) {
            size_t const want = t->size - done < cap ? (size_t)(t->size - done) : cap;
            ssize_t const k = pread(r->fd, buf, want, (off_t)(t->offset + done));
            if (k < 0 && errno == EINTR) continue;
            if (k <= 0) {
                char where[96];
                rc = trit_err_set(err, k < 0 ? TRIT_E_IO : TRIT_E_TRUNCATED, t->offset + done,
                                  trit__where_tensor(where, sizeof where, t->name), "read failed: %s",
                                  k < 0 ? strerror(errno) : "unexpected end of file");
                break;
            }
            XXH3_64bits_update(xs, buf, (size_t)k);
            done += (uint64_t)k;
        }
        sum = rc == TRIT_OK ? XXH3_64bits_digest(xs) : 0;
        XXH3_freeState(xs);
        free(buf);
    }
    if (rc == TRIT_OK && sum != t->xxh3) rc = trit__sum_mismatch(t, sum, t->offset, err);
    if (rc != TRIT_OK) trit_err_file(err, r->path);
    return rc;
}

/* Walks a unit's decoded image as it arrives in pieces: member checksums, t2 codes, zero gaps.
 * Memory stays bounded by the decoder's window, whatever the unit's size. */
typedef struct unit_walk {
    const trit_reader *r;
    const uint32_t *m;
    uint32_t n, k;             /* members, current member */
    uint64_t pos;              /* decoded bytes seen */
    uint64_t off;              /* file offset reported for errors (the unit's) */
    XXH3_state_t *xs;
    char where[64];
} unit_walk;

static int walk_feed(unit_walk *w, const uint8_t *p, uint64_t n, trit_err *err)
{
    while (n) {
        trit_tensor_info const *t = w->k < w->n ? &w->r->tensors[w->m[w->k]] : NULL;
        uint64_t const start = t ? t->offset : UINT64_MAX;
        if (w->pos < start) { /* padding before the next member, or after the last */
            uint64_t const gap = start - w->pos < n ? start - w->pos : n;
            int const rc = check_zero(w->r, p, w->off, 0, gap, w->where, err);
            if (rc) return rc;
            p += gap;
            n -= gap;
            w->pos += gap;
            continue;
        }
        uint64_t const in = w->pos - start;
        uint64_t const take = t->size - in < n ? t->size - in : n;
        if (in == 0) XXH3_64bits_reset(w->xs);
        XXH3_64bits_update(w->xs, p, (size_t)take);
        int const crc = trit__check_codes_range(t, p, in, take, w->off, 1, err);
        if (crc) return crc;
        p += take;
        n -= take;
        w->pos += take;
        if (in + take == t->size) {
            uint64_t const sum = XXH3_64bits_digest(w->xs);
            if (sum != t->xxh3) return trit__sum_mismatch(t, sum, w->off, err);
            w->k++;
        }
    }
    return TRIT_OK;
}

/* stored: the unit's stored bytes (read by the caller). */
int trit__verify_unit(const trit_reader *r, uint32_t u, const uint8_t *stored, trit_err *err)
{
    trit_unit_info const *un = &r->units[u];
    unit_walk w;
    memset(&w, 0, sizeof w);
    w.r = r;
    w.off = un->offset;
    snprintf(w.where, sizeof w.where, "expert unit %u (layer %u expert %u)", u, un->layer, un->expert);
    uint64_t const sum = trit_xxh3(stored, (size_t)un->stored_size);
    if (sum != un->xxh3)
        return trit_err_set(err, TRIT_E_CHECKSUM, un->offset, w.where, "checksum %016llx, computed %016llx",
                            (unsigned long long)un->xxh3, (unsigned long long)sum);
    w.m = trit_reader_unit_members(r, u, &w.n);
    w.xs = XXH3_createState();
    if (!w.xs) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    int rc = TRIT_OK;
    if (un->storage == TRIT_STORAGE_RAW) {
        rc = walk_feed(&w, stored, un->stored_size, err);
    } else {
        unsigned long long const csize = ZSTD_getFrameContentSize(stored, (size_t)un->stored_size);
        ZSTD_DCtx *dc = ZSTD_createDCtx();
        size_t const cap = ZSTD_DStreamOutSize();
        uint8_t *buf = malloc(cap);
        if (csize != un->decoded_size) {
            rc = trit_err_set(err, TRIT_E_CORRUPT, un->offset, w.where,
                              "zstd frame declares %llu decoded bytes, the index says %llu", csize,
                              (unsigned long long)un->decoded_size);
        } else if (!dc || !buf) {
            rc = trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
        } else {
            ZSTD_inBuffer in = {stored, (size_t)un->stored_size, 0};
            size_t left = 1;
            while (rc == TRIT_OK && left) {
                ZSTD_outBuffer o = {buf, cap, 0};
                left = ZSTD_decompressStream(dc, &o, &in);
                if (ZSTD_isError(left)) {
                    rc = trit_err_set(err, TRIT_E_CORRUPT, un->offset, w.where, "zstd: %s", ZSTD_getErrorName(left));
                    break;
                }
                if (w.pos + o.pos > un->decoded_size) {
                    rc = trit_err_set(err, TRIT_E_CORRUPT, un->offset, w.where, "decodes to more than %llu bytes",
                                      (unsigned long long)un->decoded_size);
                    break;
                }
                rc = walk_feed(&w, buf, o.pos, err);
                if (left && o.pos == 0 && in.pos == in.size) {
                    rc = trit_err_set(err, TRIT_E_CORRUPT, un->offset, w.where, "zstd frame is incomplete");
                    break;
                }
            }
            if (rc == TRIT_OK && in.pos != in.size)
                rc = trit_err_set(err, TRIT_E_CORRUPT, un->offset, w.where, "bytes after the zstd frame");
        }
        ZSTD_freeDCtx(dc);
        free(buf);
    }
    if (rc == TRIT_OK && w.pos != un->decoded_size)
        rc = trit_err_set(err, TRIT_E_CORRUPT, un->offset, w.where, "decoded %llu bytes, expected %llu",
                          (unsigned long long)w.pos, (unsigned long long)un->decoded_size);
    XXH3_freeState(w.xs);
    return rc;
}

/* A unit's stored bytes: in the mapping's place for memory readers, else read into *ubuf
 * (grown to the largest unit seen). */
static const uint8_t *unit_bytes(const trit_reader *r, uint32_t u, uint8_t **ubuf, uint64_t *cap, int *rc,
                                 trit_err *err)
{
    trit_unit_info const *un = &r->units[u];
    if (r->fd < 0) return r->map + un->offset;
    if (un->stored_size > *cap) {
        uint8_t *nb = malloc(un->stored_size ? (size_t)un->stored_size : 1);
        if (!nb) {
            *rc = trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
            return NULL;
        }
        free(*ubuf);
        *ubuf = nb;
        *cap = un->stored_size;
    }
    char where[64];
    snprintf(where, sizeof where, "expert unit %u", u);
    return file_piece(r, *ubuf, un->offset, (size_t)un->stored_size, where, rc, err);
}

int trit_reader_verify(const trit_reader *r, trit_err *err)
{
    int rc = TRIT_OK;
    trit_file_info const *fi = &r->info;
    uint8_t *buf = r->fd >= 0 ? malloc(VERIFY_PIECE) : NULL, *ubuf = NULL;
    uint64_t ucap = 0;
    XXH3_state_t *xs = XXH3_createState();
    if ((r->fd >= 0 && !buf) || !xs) {
        free(buf);
        XXH3_freeState(xs);
        return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    }
    uint64_t pos = fi->index_off + fi->index_size;
    for (size_t i = 0; i < r->n_placed && rc == TRIT_OK; i++) {
        trit__placed const *p = &r->placed[i];
        rc = check_zero(r, r->map, 0, pos, p->start, "padding", err);
        if (rc != TRIT_OK) break;
        if (p->kind[0] == 't') {
            rc = check_tensor_sum(r, &r->tensors[p->idx], buf, xs, err);
        } else if (p->kind[0] == 's') {
            const void *d;
            uint64_t n;
            rc = trit_reader_section_data(r, p->idx, &d, &n, err);
        } else {
            const uint8_t *stored = unit_bytes(r, p->idx, &ubuf, &ucap, &rc, err);
            if (stored) rc = trit__verify_unit(r, p->idx, stored, err);
        }
        pos = p->end;
    }
    if (rc == TRIT_OK) rc = check_zero(r, r->map, 0, pos, fi->file_size, "padding", err);
    /* objects of size 0 occupy no bytes (so they are not in r->placed) but still carry a
     * checksum, which must be the xxh3 of nothing */
    uint64_t const empty = trit_xxh3("", 0);
    for (uint32_t i = 0; rc == TRIT_OK && i < fi->n_tensors; i++) {
        trit_tensor_info const *t = &r->tensors[i];
        if (t->unit == TRIT_NONE32 && t->size == 0 && t->xxh3 != empty) rc = trit__sum_mismatch(t, empty, t->offset, err);
    }
    for (uint32_t s = 0; rc == TRIT_OK && s < fi->n_sections; s++)
        if (r->sections[s].size == 0 && r->sections[s].xxh3 != empty) {
            const void *d;
            uint64_t n;
            rc = trit_reader_section_data(r, s, &d, &n, err);
        }
    free(buf);
    free(ubuf);
    XXH3_freeState(xs);
    if (rc != TRIT_OK) trit_err_file(err, r->path);
    return rc;
}
