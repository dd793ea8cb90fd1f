/* reader_verify.c - whole-file verification: every checksum, every unit decoded, every padding
 * byte zero, every ternary code valid (spec "Integrity"). Reads the whole file once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trit_int.h"
#include "trit_safemath.h"

/* First non-zero byte in [p, p+n), or n. */
static uint64_t first_nonzero(const uint8_t *p, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        if (p[i]) return i;
    return n;
}

static int check_zero(const trit_reader *r, const uint8_t *base, uint64_t file_off, uint64_t from, uint64_t to,
                      const char *where, trit_err *err)
{
    if (to <= from) return TRIT_OK;
    uint64_t const k = first_nonzero(base + from, to - from);
    if (k < to - from)
        return trit_err_set(err, TRIT_E_CORRUPT, file_off + from + k, where, "padding byte is 0x%02x, must be 0",
                            base[from + k]);
    (void)r;
    return TRIT_OK;
}

/* Ternary codes: no code 3 anywhere, padding codes past the row end are 1 (zero), and the gap
 * between codes and scales is zero. `p` is the tensor's bytes, `off` its file offset (or the
 * unit's, for members). */
static int check_t2(const trit_tensor_info *t, const uint8_t *p, uint64_t off, trit_err *err)
{
    char where[96];
    uint64_t const cols = t->n_dims ? t->dims[t->n_dims - 1] : 1;
    uint64_t const row_blocks = trit_div_ceil(cols, TRIT_T2_BLOCK_ELEMS);
    uint64_t const row_bytes = row_blocks * TRIT_T2_BLOCK_BYTES;
    uint64_t const rows = row_bytes ? t->scales_off / row_bytes : 0;
    uint64_t const codes = rows * row_bytes;
    for (uint64_t r = 0; r < rows; r++) {
        const uint8_t *row = p + r * row_bytes;
        for (uint64_t b = 0; b < row_bytes; b++) {
            unsigned const byte = row[b];
            for (unsigned k = 0; k < 4; k++) {
                unsigned const code = (byte >> (2 * k)) & 3u;
                uint64_t const e = (b / 32) * 128 + (b % 32) + 32u * k;
                if (code == 3 || (e >= cols && code != 1)) {
                    trit__where_tensor(where, sizeof where, t->name);
                    return trit_err_set(err, TRIT_E_CORRUPT, off + r * row_bytes + b, where,
                                        code == 3 ? "invalid ternary code 3 at row %llu element %llu"
                                                  : "row padding code is not zero at row %llu element %llu",
                                        (unsigned long long)r, (unsigned long long)e);
                }
            }
        }
    }
    trit__where_tensor(where, sizeof where, t->name);
    return check_zero(NULL, p, off, codes, t->scales_off, where, err);
}

static int check_tensor_sum(const trit_tensor_info *t, const uint8_t *p, uint64_t off, trit_err *err)
{
    uint64_t const sum = trit_xxh3(p, (size_t)t->size);
    if (sum != t->xxh3) {
        char where[96];
        return trit_err_set(err, TRIT_E_CHECKSUM, off, trit__where_tensor(where, sizeof where, t->name),
                            "checksum %016llx, computed %016llx", (unsigned long long)t->xxh3,
                            (unsigned long long)sum);
    }
    return t->type == TRIT_TYPE_T2 ? check_t2(t, p, off, err) : TRIT_OK;
}

static int verify_unit(const trit_reader *r, uint32_t u, trit_err *err)
{
    void *buf = NULL;
    uint64_t size = 0;
    int rc = trit_reader_unit_load(r, u, &buf, &size, err);
    if (rc != TRIT_OK) return rc;
    trit_unit_info const *un = &r->units[u];
    uint32_t n;
    const uint32_t *m = trit_reader_unit_members(r, u, &n);
    uint64_t pos = 0;
    char where[64];
    snprintf(where, sizeof where, "expert unit %u (layer %u expert %u)", u, un->layer, un->expert);
    for (uint32_t k = 0; k < n && rc == TRIT_OK; k++) {
        trit_tensor_info const *t = &r->tensors[m[k]];
        rc = check_zero(r, buf, un->offset, pos, t->offset, where, err);
        if (rc == TRIT_OK) rc = check_tensor_sum(t, (const uint8_t *)buf + t->offset, un->offset, err);
        pos = t->offset + t->size;
    }
    if (rc == TRIT_OK) rc = check_zero(r, buf, un->offset, pos, size, where, err);
    free(buf);
    return rc;
}

int trit_reader_verify(const trit_reader *r, trit_err *err)
{
    int rc = TRIT_OK;
    trit_file_info const *fi = &r->info;
    uint64_t pos = fi->index_off + fi->index_size;
    for (size_t i = 0; i < r->n_placed && rc == TRIT_OK; i++) {
        trit__placed const *p = &r->placed[i];
        rc = check_zero(r, r->map, 0, pos, p->start, "padding", err);
        if (rc != TRIT_OK) break;
        if (p->kind[0] == 't') {
            rc = check_tensor_sum(&r->tensors[p->idx], r->map + p->start, p->start, err);
        } else if (p->kind[0] == 's') {
            const void *d;
            uint64_t n;
            rc = trit_reader_section_data(r, p->idx, &d, &n, err);
        } else {
            rc = verify_unit(r, p->idx, err);
        }
        pos = p->end;
    }
    if (rc == TRIT_OK) rc = check_zero(r, r->map, 0, pos, fi->file_size, "padding", err);
    if (rc != TRIT_OK) trit_err_file(err, r->path);
    return rc;
}
