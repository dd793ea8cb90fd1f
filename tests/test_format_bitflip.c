/* test_format_bitflip.c - flip every byte of a small container in turn (two different bit
 * masks): a verifying open must refuse every flipped file with a checksum or structure error. */
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "tfmt.h"

TEST(format_bitflip_every_byte_is_caught)
{
    const char *path = test_path(test_tmpdir(), "flip.trit");
    trit_err err;
    CHECK_OK_E(tfmt_write(path, TFMT_SMALL, &err), &err);
    size_t len = 0;
    uint8_t *orig = test_read_file(path, &len);
    if (!orig) return;
    uint8_t *b = malloc(len);
    trit_open_opts const o = {TRIT_OPEN_VERIFY};
    trit_reader *r = NULL;
    CHECK_OK_E(trit_reader_open_mem(orig, len, "flip", &o, &r, &err), &err);
    trit_reader_close(r);
    static const uint8_t masks[2] = {0x01, 0x80};
    uint64_t missed = 0, tried = 0, by_checksum = 0;
    for (int m = 0; m < 2; m++)
        for (size_t i = 0; i < len; i++) {
            memcpy(b, orig, len);
            b[i] ^= masks[m];
            r = NULL;
            int const rc = trit_reader_open_mem(b, len, "flip", &o, &r, &err);
            tried++;
            if (rc == TRIT_OK) {
                if (missed < 5) test_fail_(__FILE__, __LINE__, "flip of byte %zu (mask 0x%02x) not detected", i, masks[m]);
                missed++;
                trit_reader_close(r);
            } else {
                CHECK(rc == TRIT_E_CHECKSUM || rc == TRIT_E_CORRUPT || rc == TRIT_E_TRUNCATED ||
                      rc == TRIT_E_UNSUPPORTED || rc == TRIT_E_LIMIT);
                by_checksum += rc == TRIT_E_CHECKSUM;
            }
        }
    fprintf(stderr, "     bit-flip sweep: %llu files of %zu bytes, %llu missed, %llu by checksum\n",
            (unsigned long long)tried, len, (unsigned long long)missed, (unsigned long long)by_checksum);
    CHECK_EQ_U64(missed, 0);
    free(b);
    free(orig);
}
