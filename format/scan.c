/* scan.c - the byte scans every whole-file check runs over each byte: a T2 code 3, a non-zero
 * T2 weight, a non-zero padding byte. They decide "found or not" for a 256-byte block with OR
 * reductions the compiler vectorizes (SSE2/NEON at -O2), and look at single bytes only inside
 * the one block that has a hit: valid files never leave the fast loop. */
#include <string.h>

#include "trit.h"

#define SCAN_BLOCK 256u
#define SLOT_LOW 0x5555555555555555ull   /* the low bit of every 2-bit slot */

static inline uint64_t ld64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Per-byte predicates, the slow path inside a block with a hit. Byte-local, so the word forms
 * below test the same thing whatever the byte order: w & (w >> 1) puts bit 2s+1 of a byte on
 * bit 2s of the same byte, and the mask keeps only those even bits. */
static inline int byte_code3(unsigned b) { return ((b & (b >> 1)) & 0x55u) != 0; }
static inline int byte_nonzero_weight(unsigned b) { return (~b & 0x55u) != 0; }

uint64_t trit_t2_find_code3(const uint8_t *p, uint64_t n)
{
    uint64_t i = 0;
    for (; i + SCAN_BLOCK <= n; i += SCAN_BLOCK) {
        uint64_t acc = 0;
        for (unsigned k = 0; k < SCAN_BLOCK; k += 8) {
            uint64_t const w = ld64(p + i + k);
            acc |= w & (w >> 1);
        }
        if (acc & SLOT_LOW) break;
    }
    for (; i < n; i++)
        if (byte_code3(p[i])) return i;
    return n;
}

uint64_t trit_t2_find_nonzero(const uint8_t *p, uint64_t n)
{
    uint64_t i = 0;
    for (; i + SCAN_BLOCK <= n; i += SCAN_BLOCK) {
        uint64_t acc = 0;
        for (unsigned k = 0; k < SCAN_BLOCK; k += 8) acc |= ~ld64(p + i + k);
        if (acc & SLOT_LOW) break;
    }
    for (; i < n; i++)
        if (byte_nonzero_weight(p[i])) return i;
    return n;
}

uint64_t trit_find_nonzero_byte(const uint8_t *p, uint64_t n)
{
    uint64_t i = 0;
    for (; i + SCAN_BLOCK <= n; i += SCAN_BLOCK) {
        uint64_t acc = 0;
        for (unsigned k = 0; k < SCAN_BLOCK; k += 8) acc |= ld64(p + i + k);
        if (acc) break;
    }
    for (; i < n; i++)
        if (p[i]) return i;
    return n;
}

uint64_t trit_t2_count_code3(const uint8_t *p, uint64_t n)
{
    uint64_t c = 0;
    for (uint64_t i = trit_t2_find_code3(p, n); i < n; i = i + 1 + trit_t2_find_code3(p + i + 1, n - i - 1)) c++;
    return c;
}
