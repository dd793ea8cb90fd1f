/* test_verify_units.c - expert units whose stored checksum is right but whose content is not:
 * what a buggy or hostile writer produces. Each case rewrites one unit of a clean container
 * (new stored bytes, the unit record's size and xxh3, the index and header checksums fixed
 * up), so only verify's streamed decode (vfy_unit.c) can object. libtrit's verifying open must
 * agree that each file is bad. */
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "test.h"
#include "test_verify.h"
#include "trit_cursor.h"

/* The decoded image of unit u of the container at path. Caller frees. */
static uint8_t *unit_image(const char *path, uint32_t u, uint64_t *n)
{
    trit_reader *r = NULL;
    void *img = NULL;
    trit_err e;
    if (trit_reader_open(path, NULL, &r, &e) != TRIT_OK) return NULL;
    if (trit_reader_unit_load(r, u, &img, n, &e) != TRIT_OK) img = NULL;
    trit_reader_close(r);
    return img;
}

/* Replace unit u's stored bytes with p[0..n), fixing the record and both checksums. */
static int rewrite_unit(const char *path, uint32_t u, const void *p, size_t n)
{
    size_t len = 0;
    uint8_t *b = test_read_file(path, &len);
    trit_reader *r = NULL;
    trit_err e;
    if (!b || trit_reader_open_mem(b, len, "x", NULL, &r, &e) != TRIT_OK) {
        free(b);
        return -1;
    }
    trit_unit_info const un = *trit_reader_unit(r, u);
    trit_file_info const fi = *trit_reader_file_info(r);
    uint64_t next = fi.file_size;   /* the unit may grow up to the next object */
    for (uint32_t i = 0; i < fi.n_tensors; i++) {
        trit_tensor_info const *t = trit_reader_tensor(r, i);
        if (t->unit == TRIT_NONE32 && t->offset > un.offset && t->offset < next) next = t->offset;
    }
    for (uint32_t i = 0; i < fi.n_units; i++)
        if (trit_reader_unit(r, i)->offset > un.offset && trit_reader_unit(r, i)->offset < next)
            next = trit_reader_unit(r, i)->offset;
    for (uint32_t i = 0; i < fi.n_sections; i++)
        if (trit_reader_section(r, i)->offset > un.offset && trit_reader_section(r, i)->offset < next)
            next = trit_reader_section(r, i)->offset;
    trit_reader_close(r);
    uint8_t rec[48] = {0};
    trit_store_le32(rec, un.layer);
    trit_store_le32(rec + 4, un.expert);
    rec[8] = (uint8_t)un.storage;
    trit_store_le32(rec + 12, un.n_members);
    trit_store_le64(rec + 16, un.offset);
    trit_store_le64(rec + 24, un.stored_size);
    trit_store_le64(rec + 32, un.decoded_size);
    trit_store_le64(rec + 40, un.xxh3);
    uint8_t *at = NULL;
    for (uint64_t k = fi.index_off; k + 48 <= fi.index_off + fi.index_size && !at; k++)
        if (memcmp(b + k, rec, 48) == 0) at = b + k;
    if (!at || n > next - un.offset) {
        free(b);
        return -1;
    }
    memset(b + un.offset, 0, (size_t)(next - un.offset));
    memcpy(b + un.offset, p, n);
    trit_store_le64(at + 24, n);
    trit_store_le64(at + 40, trit_xxh3(p, n));
    trit_store_le64(b + 56, trit_xxh3(b + fi.index_off, (size_t)fi.index_size));
    trit_store_le64(b + 120, trit_xxh3(b, 120));
    int const rc = test_write_file(path, b, len);
    free(b);
    return rc;
}

/* zstd frame of p[0..n); content size in the header unless no_size. Caller frees. */
static uint8_t *frame(const void *p, size_t n, int no_size, size_t *out_n)
{
    size_t const cap = ZSTD_compressBound(n) + 16;
    uint8_t *f = malloc(cap);
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    if (!f || !cc) {
        free(f);
        ZSTD_freeCCtx(cc);
        return NULL;
    }
    ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, no_size ? 0 : 1);
    size_t const k = ZSTD_compress2(cc, f, cap, p, n);
    ZSTD_freeCCtx(cc);
    if (ZSTD_isError(k)) {
        free(f);
        return NULL;
    }
    *out_n = k;
    return f;
}

enum { C_GROW, C_NO_SIZE, C_TRAILING, C_PADDING, C_MEMBER, C_CLEAN, C_N };

TEST(verify_units_streamed_decode)
{
    static const char *const expect[C_N] = {
        "the zstd frame declares a different number of decoded bytes",
        "the zstd frame declares a different number",
        "4 bytes after the zstd frame",
        "padding byte",
        "checksum",
        NULL,
    };
    for (int c = 0; c < C_N; c++) {
        char name[32];
        snprintf(name, sizeof name, "unit-%d.trit", c);
        const char *path = test_path(test_tmpdir(), name);
        trit_err e;
        CHECK_OK_E(vt_build(path, NULL, &e), &e);
        uint64_t n = 0;
        uint8_t *img = unit_image(path, 0, &n);   /* unit 0: zstd, members at 0 / 1088 / 2176 */
        if (!img) {
            test_fail_(__FILE__, __LINE__, "cannot load unit 0");
            continue;
        }
        uint8_t *big = calloc(1, (size_t)n + 16);
        memcpy(big, img, (size_t)n);
        size_t len = n;
        if (c == C_GROW) len = n + 16;
        if (c == C_PADDING) big[1030] = 7;   /* between member 0 (1028 bytes) and member 1 */
        if (c == C_MEMBER) big[3] ^= 1;      /* inside member 0 */
        size_t fn = 0;
        uint8_t *f = frame(big, len, c == C_NO_SIZE, &fn);
        uint8_t *g = f ? realloc(f, fn + 4) : NULL;
        if (g && c == C_TRAILING) {
            memcpy(g + fn, "junk", 4);
            fn += 4;
        }
        CHECK(g && rewrite_unit(path, 0, g, fn) == 0);
        free(g);
        free(big);
        free(img);
        vfy_report rep;
        int const rc = vt_verify(path, NULL, &rep);
        if (!expect[c]) {
            CHECK_EQ_INT(rc, 0);   /* the rewrite itself is faithful */
        } else {
            CHECK_EQ_INT(rc, 4);
            int const cls = VFY_C_INTEGRITY;
            const char *obj = c == C_MEMBER ? "blk.1.ffn_gate.0.weight" : "expert unit 0 (layer 1 expert 0)";
            if (vt_count(&rep, cls, obj, expect[c]) != 1) {
                test_fail_(__FILE__, __LINE__, "case %d: no '%s' finding on %s", c, expect[c], obj);
                vfy_report_print(&rep, stderr, 0);
            }
            /* libtrit's verifying open agrees */
            trit_open_opts const vo = {TRIT_OPEN_VERIFY};
            trit_reader *r = NULL;
            CHECK(trit_reader_open(path, &vo, &r, &e) != TRIT_OK);
            trit_reader_close(r);
        }
        vfy_report_release(&rep);
    }
}
