/* vfy_unit.c - one expert unit, with memory bounded by its largest member, not by the unit.
 *
 * A raw unit's stored bytes are its decoded image: members are checked in place in the
 * mapping. A zstd unit is decoded as a stream, straight into one member buffer at a time (the
 * padding between members through a small scratch), so a hostile unit declaring 4 GiB of
 * zeros costs 64 KiB, not 4 GiB (libtrit's open already refuses a unit that decodes to more
 * than its packed members, spec 5.3; this keeps verify bounded even without that rule). Checked: the stored xxh3, the frame's declared content size,
 * that the frame yields exactly decoded_size bytes and ends there, every member's xxh3 and
 * values, zero padding. Members above VFY_MEMBER_CAP are hashed as they stream and their
 * values are not checked (a warning says so). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "vfy_trit_int.h"

#define VFY_MEMBER_CAP (256ull << 20)   /* largest member held whole for its value checks */
#define VFY_SCRATCH 65536u

typedef struct ustream {
    ZSTD_DCtx *dc;
    ZSTD_inBuffer in;
    uint64_t produced;         /* decoded bytes so far */
    size_t last;               /* last ZSTD_decompressStream hint (0: frame complete) */
} ustream;

/* Decode exactly n bytes into dst. Returns NULL, or a message about the frame (static
 * storage). */
static const char *dec_exact(ustream *s, uint8_t *dst, size_t n)
{
    ZSTD_outBuffer o = {dst, n, 0};
    while (o.pos < n) {
        size_t const before_in = s->in.pos, before_out = o.pos;
        s->last = ZSTD_decompressStream(s->dc, &o, &s->in);
        if (ZSTD_isError(s->last)) return ZSTD_getErrorName(s->last);
        if (o.pos == before_out && s->in.pos == before_in) return "the frame ends before the unit's decoded size";
    }
    s->produced += n;
    return NULL;
}

/* Padding [pos, to) of the image must decode to zeros; the first non-zero byte goes to *bad.
 * Returns NULL or a message about the frame (static storage). */
static const char *dec_zero(ustream *s, uint8_t *scratch, uint64_t to, uint64_t *bad)
{
    while (s->produced < to) {
        size_t const k = to - s->produced < VFY_SCRATCH ? (size_t)(to - s->produced) : VFY_SCRATCH;
        uint64_t const at = s->produced;
        const char *why = dec_exact(s, scratch, k);
        if (why) return why;
        uint64_t const nz = trit_find_nonzero_byte(scratch, k);
        if (nz < k && *bad == UINT64_MAX) *bad = at + nz;
    }
    return NULL;
}

static void zstd_unit(vfy__tctx *c, const trit_unit_info *un, const uint8_t *stored, const uint32_t *m,
                      uint32_t n_members, const char *object)
{
    unsigned long long const csize = ZSTD_getFrameContentSize(stored, (size_t)un->stored_size);
    if (csize != un->decoded_size) {
        vfy_report_add(c->rep, VFY_C_INTEGRITY, 0, un->offset, object,
                       "the zstd frame declares %s decoded bytes, the index says %llu",
                       csize == ZSTD_CONTENTSIZE_ERROR ? "no valid frame header, so no" : "a different number of",
                       (unsigned long long)un->decoded_size);
        return;
    }
    ustream s;
    memset(&s, 0, sizeof s);
    s.dc = ZSTD_createDCtx();
    s.in = (ZSTD_inBuffer){stored, (size_t)un->stored_size, 0};
    uint8_t *scratch = malloc(VFY_SCRATCH);
    XXH3_state_t *xs = XXH3_createState();
    const char *why = NULL;
    uint64_t bad = UINT64_MAX;
    if (!s.dc || !scratch || !xs) {
        vfy_report_add(c->rep, VFY_C_INTERNAL, 0, un->offset, object, "out of memory");
        goto out;
    }
    for (uint32_t k = 0; k < n_members && !why; k++) {
        trit_tensor_info const *t = trit_reader_tensor(c->r, m[k]);
        why = dec_zero(&s, scratch, t->offset, &bad);
        if (why) break;
        if (t->size <= VFY_MEMBER_CAP) {
            uint8_t *p = malloc(t->size ? (size_t)t->size : 1);
            if (!p) {
                vfy_report_add(c->rep, VFY_C_INTERNAL, 0, un->offset, object, "out of memory for a %llu-byte member",
                               (unsigned long long)t->size);
                goto out;
            }
            why = dec_exact(&s, p, (size_t)t->size);
            if (!why) vfy__tensor_bytes(c, m[k], p, un->offset, 0);
            free(p);
            continue;
        }
        /* too large to hold: hash it as it streams */
        XXH3_64bits_reset(xs);
        for (uint64_t done = 0; done < t->size && !why; done += VFY_SCRATCH) {
            size_t const n = t->size - done < VFY_SCRATCH ? (size_t)(t->size - done) : VFY_SCRATCH;
            why = dec_exact(&s, scratch, n);
            if (!why) XXH3_64bits_update(xs, scratch, n);
        }
        if (why) break;
        char tobj[224];
        vfy__obj_tensor(tobj, sizeof tobj, t->name);
        c->rep->n_tensors++;
        uint64_t const sum = XXH3_64bits_digest(xs);
        if (sum != t->xxh3)
            vfy_report_add(c->rep, VFY_C_INTEGRITY, 0, un->offset, tobj, "checksum %016llx, computed %016llx",
                           (unsigned long long)t->xxh3, (unsigned long long)sum);
        else
            vfy_report_add(c->rep, VFY_C_TENSOR, 1, un->offset, tobj,
                           "values not checked: %llu bytes is more than this verifier holds at once",
                           (unsigned long long)t->size);
    }
    if (!why) why = dec_zero(&s, scratch, un->decoded_size, &bad);
    if (why && ZSTD_isError(s.last) && ZSTD_getErrorCode(s.last) == ZSTD_error_memory_allocation) {
        vfy_report_add(c->rep, VFY_C_INTERNAL, 0, un->offset, object, "out of memory decoding the unit");
        goto out;
    }
    if (why) {
        vfy_report_add(c->rep, VFY_C_INTEGRITY, 0, un->offset, object, "zstd: %s (after %llu of %llu decoded bytes)",
                       why, (unsigned long long)s.produced, (unsigned long long)un->decoded_size);
        goto out;
    }
    if (bad != UINT64_MAX)
        vfy_report_add(c->rep, VFY_C_INTEGRITY, 0, un->offset, object,
                       "padding byte %llu of the decoded unit is not zero", (unsigned long long)bad);
    /* the frame must end exactly here: no more output, no input left */
    uint8_t one;
    ZSTD_outBuffer o = {&one, 1, 0};
    if (s.last != 0) s.last = ZSTD_decompressStream(s.dc, &o, &s.in);
    if (ZSTD_isError(s.last) || o.pos != 0)
        vfy_report_add(c->rep, VFY_C_INTEGRITY, 0, un->offset, object, "the zstd frame decodes to more than %llu bytes",
                       (unsigned long long)un->decoded_size);
    else if (s.last != 0)
        vfy_report_add(c->rep, VFY_C_INTEGRITY, 0, un->offset, object, "the zstd frame is incomplete");
    else if (s.in.pos != s.in.size)
        vfy_report_add(c->rep, VFY_C_INTEGRITY, 0, un->offset + s.in.pos, object, "%llu bytes after the zstd frame",
                       (unsigned long long)(s.in.size - s.in.pos));
out:
    ZSTD_freeDCtx(s.dc);
    XXH3_freeState(xs);
    free(scratch);
}

void vfy__check_unit(vfy__tctx *c, uint32_t u, const uint8_t *stored)
{
    trit_unit_info const *un = trit_reader_unit(c->r, u);
    char object[96];
    snprintf(object, sizeof object, "expert unit %u (layer %u expert %u)", u, un->layer, un->expert);
    c->rep->n_units++;
    c->rep->bytes_hashed += un->stored_size;
    uint64_t const sum = trit_xxh3(stored, (size_t)un->stored_size);
    if (sum != un->xxh3) {
        /* the stored bytes are damaged: decoding them would report noise about the members */
        vfy_report_add(c->rep, VFY_C_INTEGRITY, 0, un->offset, object, "checksum %016llx, computed %016llx",
                       (unsigned long long)un->xxh3, (unsigned long long)sum);
        return;
    }
    uint32_t n_members = 0;
    const uint32_t *m = trit_reader_unit_members(c->r, u, &n_members);
    if (un->storage != TRIT_STORAGE_RAW) {
        zstd_unit(c, un, stored, m, n_members, object);
        return;
    }
    uint64_t pos = 0, bad = UINT64_MAX;
    for (uint32_t k = 0; k <= n_members; k++) {
        uint64_t const next = k < n_members ? trit_reader_tensor(c->r, m[k])->offset : un->decoded_size;
        if (bad == UINT64_MAX && next > pos) {
            uint64_t const nz = trit_find_nonzero_byte(stored + pos, next - pos);
            if (nz < next - pos) bad = pos + nz;
        }
        if (k == n_members) break;
        trit_tensor_info const *t = trit_reader_tensor(c->r, m[k]);
        /* raw: the member's bytes are in the file, at an exact offset */
        vfy__tensor_bytes(c, m[k], stored + t->offset, un->offset + t->offset, 1);
        pos = t->offset + t->size;
    }
    if (bad != UINT64_MAX)
        vfy_report_add(c->rep, VFY_C_INTEGRITY, 0, un->offset + bad, object,
                       "padding byte %llu of the unit is 0x%02x, must be 0", (unsigned long long)bad, stored[bad]);
}
