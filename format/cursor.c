/* cursor.c - the bounds-checked cursor (see trit_cursor.h for the contract). */
#include <string.h>

#include "trit_cursor.h"

void trit_cur_init(trit_cur *c, const void *p, size_t len, uint64_t base_off, const char *file)
{
    c->base = (const uint8_t *)p;
    c->len = len;
    c->off = 0;
    c->base_off = base_off;
    c->file = file;
}

static int cur_short(const trit_cur *c, uint64_t n, const char *what, trit_err *err)
{
    int rc = trit_err_set(err, TRIT_E_TRUNCATED, trit_cur_pos(c), what,
                          "need %llu bytes, %llu left", (unsigned long long)n,
                          (unsigned long long)trit_cur_left(c));
    trit_err_file(err, c->file);
    return rc;
}

int trit_cur_bytes(trit_cur *c, uint64_t n, const uint8_t **out, const char *what, trit_err *err)
{
    if (!trit_cur_need(c, n)) return cur_short(c, n, what, err);
    *out = c->base + c->off;
    c->off += (size_t)n;
    return TRIT_OK;
}

int trit_cur_skip(trit_cur *c, uint64_t n, const char *what, trit_err *err)
{
    const uint8_t *p = NULL;
    return trit_cur_bytes(c, n, &p, what, err);
}

int trit_cur_u8(trit_cur *c, uint8_t *out, const char *what, trit_err *err)
{
    const uint8_t *p = NULL;
    int rc = trit_cur_bytes(c, 1, &p, what, err);
    if (rc == TRIT_OK) *out = p[0];
    return rc;
}

int trit_cur_u16(trit_cur *c, uint16_t *out, const char *what, trit_err *err)
{
    const uint8_t *p = NULL;
    int rc = trit_cur_bytes(c, 2, &p, what, err);
    if (rc == TRIT_OK) *out = trit_load_le16(p);
    return rc;
}

int trit_cur_u32(trit_cur *c, uint32_t *out, const char *what, trit_err *err)
{
    const uint8_t *p = NULL;
    int rc = trit_cur_bytes(c, 4, &p, what, err);
    if (rc == TRIT_OK) *out = trit_load_le32(p);
    return rc;
}

int trit_cur_u64(trit_cur *c, uint64_t *out, const char *what, trit_err *err)
{
    const uint8_t *p = NULL;
    int rc = trit_cur_bytes(c, 8, &p, what, err);
    if (rc == TRIT_OK) *out = trit_load_le64(p);
    return rc;
}

int trit_cur_f32(trit_cur *c, float *out, const char *what, trit_err *err)
{
    uint32_t u;
    int rc = trit_cur_u32(c, &u, what, err);
    if (rc == TRIT_OK) memcpy(out, &u, sizeof *out);
    return rc;
}

int trit_cur_f64(trit_cur *c, double *out, const char *what, trit_err *err)
{
    uint64_t u;
    int rc = trit_cur_u64(c, &u, what, err);
    if (rc == TRIT_OK) memcpy(out, &u, sizeof *out);
    return rc;
}
