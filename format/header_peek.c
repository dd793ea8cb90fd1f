/* header_peek.c - the version and required features of a .trit header, trusted only when the
 * magic and the header checksum hold. Verifiers use it to explain a file the full open refuses
 * ("format 2.0 needs a newer runtime") without reading the header layout themselves. */
#include <string.h>

#include "trit_int.h"
#include "trit_cursor.h"

int trit_header_peek(const void *buf, size_t len, unsigned *major, unsigned *minor, uint64_t *required,
                     trit_err *err)
{
    const uint8_t *h = buf;
    if (!h || memcmp(h, TRIT__MAGIC, len < TRIT__MAGIC_LEN ? len : TRIT__MAGIC_LEN) != 0 || len < TRIT__MAGIC_LEN)
        return trit_err_set(err, TRIT_E_CORRUPT, 0, "header", "bad magic: not a .trit file");
    if (len < TRIT__HEADER_SIZE)
        return trit_err_set(err, TRIT_E_TRUNCATED, len, "header", "file has %zu bytes, the header needs %u", len,
                            TRIT__HEADER_SIZE);
    /* a flipped byte must not be read as "format 3.0 needs a newer runtime" */
    uint64_t const want = trit_load_le64(h + TRIT__HEADER_SUM_OFF), sum = trit_xxh3(h, TRIT__HEADER_SUM_OFF);
    if (sum != want)
        return trit_err_set(err, TRIT_E_CHECKSUM, TRIT__HEADER_SUM_OFF, "header",
                            "header checksum %016llx, computed %016llx", (unsigned long long)want,
                            (unsigned long long)sum);
    *major = trit_load_le16(h + TRIT__H_MAJOR);
    *minor = trit_load_le16(h + TRIT__H_MINOR);
    *required = trit_load_le64(h + TRIT__H_REQ);
    return TRIT_OK;
}
