/* test_unit_bomb_util.c - the unit-bomb crafter of test_unit_bomb.h. */
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "test.h"
#include "test_unit_bomb.h"
#include "trit_cursor.h"
#include "trit_int.h"

/* Append p[0..n) to the growable buffer *buf (length *len, capacity *cap). 0 or -1. */
static int grow_append(uint8_t **buf, size_t *len, size_t *cap, const void *p, size_t n)
{
    if (n == 0) return 0;
    if (*len + n > *cap) {
        size_t nc = *cap ? *cap : 65536;
        while (nc < *len + n) nc *= 2;
        uint8_t *nb = realloc(*buf, nc);
        if (!nb) return -1;
        *buf = nb;
        *cap = nc;
    }
    memcpy(*buf + *len, p, n);
    *len += n;
    return 0;
}

/* Compress p[0..n) (end: finish the frame) into the growable output. 0 or -1. */
static int feed(ZSTD_CCtx *cc, const void *p, size_t n, int end, uint8_t **out, size_t *len, size_t *cap)
{
    uint8_t tmp[65536];
    ZSTD_inBuffer in = {p, n, 0};
    size_t left;
    do {
        ZSTD_outBuffer o = {tmp, sizeof tmp, 0};
        left = ZSTD_compressStream2(cc, &o, &in, end ? ZSTD_e_end : ZSTD_e_continue);
        if (ZSTD_isError(left) || grow_append(out, len, cap, tmp, o.pos)) return -1;
    } while (end ? left != 0 : in.pos < in.size);
    return 0;
}

uint8_t *tb_bomb_ex(const uint8_t *b, size_t len, uint32_t u, uint64_t gap, unsigned flags, size_t *out_len)
{
    trit_reader *r = NULL;
    trit_err e;
    void *img = NULL;
    uint8_t *frame = NULL, *nb = NULL;
    size_t fn = 0, fcap = 0;
    ZSTD_CCtx *cc = NULL;
    *out_len = 0;
    if (trit_reader_open_mem(b, len, "bomb-src", NULL, &r, &e) != TRIT_OK) return NULL;
    trit_file_info const fi = *trit_reader_file_info(r);
    if (u >= fi.n_units || gap % fi.tensor_align) goto out;
    trit_unit_info const un = *trit_reader_unit(r, u);
    uint64_t n = 0;
    if (trit_reader_unit_load(r, u, &img, &n, &e) != TRIT_OK) goto out;
    uint32_t nm = 0;
    const uint32_t *m = trit_reader_unit_members(r, u, &nm);
    uint32_t const last = m[nm - 1];           /* members come sorted by offset */
    uint64_t const last_off = trit_reader_tensor(r, last)->offset;
    /* the new decoded image: [0, last_off), gap zero bytes, [last_off, n) */
    cc = ZSTD_createCCtx();
    if (!cc) goto out;
    ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, 1);
    ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 0);
    ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, flags & TB_NO_SIZE ? 0 : 1);
    if (!(flags & TB_NO_SIZE)) ZSTD_CCtx_setPledgedSrcSize(cc, n + gap);
    static const uint8_t zeros[65536];
    if (feed(cc, img, (size_t)last_off, 0, &frame, &fn, &fcap)) goto out;
    for (uint64_t done = 0; done < gap;) {
        size_t const k = gap - done < sizeof zeros ? (size_t)(gap - done) : sizeof zeros;
        if (feed(cc, zeros, k, 0, &frame, &fn, &fcap)) goto out;
        done += k;
    }
    if (feed(cc, (const uint8_t *)img + last_off, (size_t)(n - last_off), 1, &frame, &fn, &fcap)) goto out;
    if (flags & TB_SKIPPABLE) {
        static const uint8_t skip[8] = {0x50, 0x2A, 0x4D, 0x18, 0, 0, 0, 0};   /* empty skippable frame */
        if (grow_append(&frame, &fn, &fcap, skip, sizeof skip)) goto out;
    }
    /* the frame goes at the end of the file, page aligned; the old stored bytes become zero */
    uint64_t const at = (len + fi.page_align - 1) / fi.page_align * fi.page_align;
    size_t const nlen = (size_t)at + fn;
    nb = calloc(1, nlen);
    if (!nb) goto out;
    memcpy(nb, b, len);
    memset(nb + un.offset, 0, (size_t)un.stored_size);
    memcpy(nb + at, frame, fn);
    uint8_t *rec = nb + r->unit_rec_off[u];
    rec[8] = TRIT_STORAGE_ZSTD;
    trit_store_le64(rec + 16, at);
    trit_store_le64(rec + 24, fn);
    trit_store_le64(rec + 32, n + gap);
    trit_store_le64(rec + 40, trit_xxh3(frame, fn));
    for (uint32_t k = 0; k < nm; k++) nb[r->tensor_rec_off[m[k]] + TRIT__T_STORAGE] = TRIT_STORAGE_ZSTD;
    trit_store_le64(nb + r->tensor_rec_off[last] + TRIT__T_OFFSET, last_off + gap);
    trit_store_le64(nb + TRIT__H_FSIZE, nlen);
    nb[TRIT__H_REQ] |= 1;                      /* ZSTD */
    trit_store_le64(nb + TRIT__H_ISUM, trit_xxh3(nb + fi.index_off, (size_t)fi.index_size));
    trit_store_le64(nb + TRIT__HEADER_SUM_OFF, trit_xxh3(nb, TRIT__HEADER_SUM_OFF));
    *out_len = nlen;
out:
    if (!*out_len) {
        free(nb);
        nb = NULL;
    }
    ZSTD_freeCCtx(cc);
    free(frame);
    trit_free(img);
    trit_reader_close(r);
    return nb;
}

uint8_t *tb_bomb(const uint8_t *b, size_t len, uint32_t u, uint64_t gap, size_t *out_len)
{
    return tb_bomb_ex(b, len, u, gap, 0, out_len);
}

int tb_bomb_file(const char *src, const char *dst, uint32_t u, uint64_t gap)
{
    size_t len = 0, nlen = 0;
    uint8_t *b = test_read_file(src, &len);
    if (!b) return -1;
    uint8_t *nb = tb_bomb(b, len, u, gap, &nlen);
    free(b);
    if (!nb) return -1;
    int const rc = test_write_file(dst, nb, nlen);
    free(nb);
    return rc;
}
