/* test_verify_bitflip.c - issue 6 item 5 through `trit verify` (vfy_verify_trit_mem): flip one
 * bit of every byte of the header and the index (and the zero padding up to the data area),
 * and of thousands of random positions in the data area (tensors, zstd and raw expert units,
 * sections, padding); verify must report an error for every flipped container. The library's
 * own sweep (test_format_bitflip.c) checks the verifying open; this one checks the command's
 * per-object walk, which reimplements the data-area checks. */
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "test_verify.h"
#include "trit_cursor.h"

#define N_DATA_FLIPS 3000u

static uint64_t next(uint64_t *s)
{
    /* splitmix64: a fixed seed, so a failure reproduces */
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* 1 if verify reports an error for buf with byte i flipped by mask. */
static int caught(uint8_t *buf, size_t len, size_t i, uint8_t mask, uint64_t *by_class)
{
    buf[i] ^= mask;
    vfy_report rep;
    trit_err e;
    trit_err_clear(&e);
    int const rc = vfy_verify_trit_mem(buf, len, "flip.trit", NULL, &rep, &e);
    buf[i] ^= mask;
    int const hit = rc == TRIT_OK && vfy_report_n_errors(&rep) > 0;
    for (int c = 0; c < VFY_C_COUNT_; c++) by_class[c] += rep.n_errors[c] != 0;
    vfy_report_release(&rep);
    return hit;
}

TEST(verify_bitflip_sweep_catches_every_flip)
{
    const char *path = test_path(test_tmpdir(), "sweep.trit");
    trit_err e;
    vt_defects d;
    memset(&d, 0, sizeof d);
    d.golden = 1;   /* a second section kind in the sweep */
    CHECK_OK_E(vt_build(path, &d, &e), &e);
    size_t len = 0;
    uint8_t *buf = test_read_file(path, &len);
    if (!buf || len < 128) {
        free(buf);
        test_fail_(__FILE__, __LINE__, "cannot read %s", path);
        return;
    }
    vfy_report rep;
    CHECK_OK_E(vfy_verify_trit_mem(buf, len, "sweep.trit", NULL, &rep, &e), &e);
    CHECK_EQ_U64(vfy_report_n_errors(&rep), 0);   /* the intact file is clean */
    vfy_report_release(&rep);
    uint64_t const data_off = trit_load_le64(buf + 64);
    CHECK(data_off > 128 && data_off < len);

    uint64_t by_class[VFY_C_COUNT_] = {0};
    uint64_t tried = 0, missed = 0;
    /* every byte before the data area: header, index, index padding */
    for (size_t i = 0; i < data_off && i < len; i++) {
        uint8_t const mask = (uint8_t)(1u << (i % 8));
        tried++;
        if (!caught(buf, len, i, mask, by_class)) {
            if (missed < 5) test_fail_(__FILE__, __LINE__, "flip of byte %zu (mask 0x%02x) not caught", i, mask);
            missed++;
        }
    }
    uint64_t const head_tried = tried;
    /* random positions in the data area */
    uint64_t seed = 0x7472697476667931ull;
    for (unsigned k = 0; k < N_DATA_FLIPS; k++) {
        size_t const i = (size_t)(data_off + next(&seed) % (len - data_off));
        uint8_t const mask = (uint8_t)(1u << (next(&seed) % 8));
        tried++;
        if (!caught(buf, len, i, mask, by_class)) {
            if (missed < 5) test_fail_(__FILE__, __LINE__, "flip of byte %zu (mask 0x%02x) not caught", i, mask);
            missed++;
        }
    }
    fprintf(stderr,
            "     verify bit-flip sweep: %llu flips (%llu header+index, %u data) in a %zu-byte container, %llu "
            "missed; files with integrity findings %llu, compat %llu, limit %llu\n",
            (unsigned long long)tried, (unsigned long long)head_tried, N_DATA_FLIPS, len, (unsigned long long)missed,
            (unsigned long long)by_class[VFY_C_INTEGRITY], (unsigned long long)by_class[VFY_C_COMPAT],
            (unsigned long long)by_class[VFY_C_LIMIT]);
    CHECK_EQ_U64(missed, 0);
    free(buf);
}
