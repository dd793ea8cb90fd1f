/*
 * reader_open.c - open a .trit file and validate its whole layout (style R12).
 *
 * After trit_reader_open() succeeds every accessor is a plain lookup: bounds, alignment,
 * overlaps, sizes against geometry, uniqueness and the header and index checksums have all
 * been checked here, in the order spec/container.md "What a reader must refuse" lists them.
 * Each failure names the file, the byte offset of the field at fault, and the object.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "trit_cursor.h"
#include "trit_int.h"
#include "trit_limits.h"
#include "trit_safemath.h"
#include "trit_try.h"

const char *trit__where_tensor(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "tensor '%.80s'", name);
    return buf;
}

/* libFuzzer cannot forge xxh3: fuzz builds (tools/fuzz.sh) skip the header and index checksums
 * so that the structural checks behind them get explored. Never set in a product build. */
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define TRIT__FUZZ_SKIP_SUMS 1
#else
#define TRIT__FUZZ_SKIP_SUMS 0
#endif


static int parse_section(trit_cur *c, trit_reader *r, size_t *arena_used, uint32_t idx, trit_err *err)
{
    int rc;
    uint32_t flags;
    char where[96];
    trit_section_info *s = &r->sections[idx];
    r->section_name_off[idx] = trit_cur_pos(c);
    TRY(trit__read_name(c, r->arena, arena_used, "section name", &s->name, err));
    snprintf(where, sizeof where, "section '%.80s'", s->name);
    r->section_rec_off[idx] = trit_cur_pos(c);
    TRY(trit_cur_u32(c, &s->kind, where, err));
    uint64_t const foff = trit_cur_pos(c);
    TRY(trit_cur_u32(c, &flags, where, err));
    if (flags != 0) FAIL(TRIT_E_CORRUPT, foff, where, "reserved flags 0x%x are not zero", flags);
    TRY(trit_cur_u64(c, &s->offset, where, err));
    TRY(trit_cur_u64(c, &s->size, where, err));
    TRY(trit_cur_u64(c, &s->xxh3, where, err));
out:
    return rc;
}

static int parse_unit(trit_cur *c, trit_reader *r, uint32_t idx, trit_err *err)
{
    int rc;
    const uint8_t *p;
    char where[64];
    trit_unit_info *u = &r->units[idx];
    snprintf(where, sizeof where, "expert unit %u", idx);
    uint64_t const off = trit_cur_pos(c);
    r->unit_rec_off[idx] = off;
    TRY(trit_cur_bytes(c, TRIT__UNIT_REC_SIZE, &p, where, err));
    u->layer = trit_load_le32(p);
    u->expert = trit_load_le32(p + 4);
    u->storage = p[8];
    if (p[9] | p[10] | p[11]) FAIL(TRIT_E_CORRUPT, off + 9, where, "reserved bytes are not zero");
    u->n_members = trit_load_le32(p + 12);
    u->offset = trit_load_le64(p + 16);
    u->stored_size = trit_load_le64(p + 24);
    u->decoded_size = trit_load_le64(p + 32);
    u->xxh3 = trit_load_le64(p + 40);
    snprintf(where, sizeof where, "expert unit %u (layer %u expert %u)", idx, u->layer, u->expert);
    if (u->storage > TRIT_STORAGE_ZSTD)
        FAIL(TRIT_E_UNSUPPORTED, off + 8, where, "unknown storage %u", u->storage);
    if (u->n_members == 0 || u->n_members > TRIT_MAX_UNIT_MEMBERS)
        FAIL(TRIT_E_CORRUPT, off + 12, where, "%u members, expected 1..%u", u->n_members,
             TRIT_MAX_UNIT_MEMBERS);
    if (u->decoded_size > TRIT_MAX_UNIT_BYTES)
        FAIL(TRIT_E_LIMIT, off + 32, where, "decoded size %llu exceeds limit %llu",
             (unsigned long long)u->decoded_size, (unsigned long long)TRIT_MAX_UNIT_BYTES);
    if (u->storage == TRIT_STORAGE_RAW && u->stored_size != u->decoded_size)
        FAIL(TRIT_E_CORRUPT, off + 24, where, "raw unit stores %llu bytes but decodes to %llu",
             (unsigned long long)u->stored_size, (unsigned long long)u->decoded_size);
    if (u->storage == TRIT_STORAGE_ZSTD && u->stored_size < 9) /* smallest zstd frame */
        FAIL(TRIT_E_CORRUPT, off + 24, where, "zstd unit of %llu bytes is too small for a frame",
             (unsigned long long)u->stored_size);
out:
    return rc;
}

static int parse_tensor(trit_cur *c, trit_reader *r, size_t *arena_used, uint32_t idx, trit_err *err)
{
    int rc;
    const uint8_t *p;
    char where[96];
    trit_tensor_info *t = &r->tensors[idx];
    r->tensor_name_off[idx] = trit_cur_pos(c);
    TRY(trit__read_name(c, r->arena, arena_used, "tensor name", &t->name, err));
    trit__where_tensor(where, sizeof where, t->name);
    uint64_t const f = trit_cur_pos(c);
    r->tensor_rec_off[idx] = f;
    TRY(trit_cur_bytes(c, TRIT__TENSOR_FIXED, &p, where, err));
    t->type = trit_load_le32(p + TRIT__T_TYPE);
    t->block_elems = trit_load_le32(p + TRIT__T_BELEMS);
    t->block_bytes = trit_load_le32(p + TRIT__T_BBYTES);
    t->n_dims = p[TRIT__T_NDIMS];
    t->scale_layout = p[TRIT__T_SLAYOUT];
    t->scale_type = p[TRIT__T_STYPE];
    t->storage = p[TRIT__T_STORAGE];
    t->group_size = trit_load_le32(p + TRIT__T_GROUP);
    t->layer = trit_load_le32(p + TRIT__T_LAYER);
    t->expert = trit_load_le32(p + TRIT__T_EXPERT);
    t->unit = trit_load_le32(p + TRIT__T_UNIT);
    t->offset = trit_load_le64(p + TRIT__T_OFFSET);
    uint64_t const size = trit_load_le64(p + TRIT__T_SIZE);
    t->xxh3 = trit_load_le64(p + TRIT__T_SUM);
    if (t->n_dims > TRIT_MAX_DIMS)
        FAIL(TRIT_E_LIMIT, f + TRIT__T_NDIMS, where, "%u dimensions, limit %u", t->n_dims, TRIT_MAX_DIMS);
    for (uint32_t d = 0; d < t->n_dims; d++) TRY(trit_cur_u64(c, &t->dims[d], where, err));
    rc = trit_tensor_layout(t, err);
    if (rc != TRIT_OK) {
        if (err) err->offset = rc == TRIT_E_LIMIT ? f + TRIT__T_DIMS : f + TRIT__T_TYPE;
        goto out;
    }
    if (size != t->size)
        FAIL(TRIT_E_CORRUPT, f + TRIT__T_SIZE, where,
             "stored size %llu does not match type x shape (%llu bytes)", (unsigned long long)size,
             (unsigned long long)t->size);
    if (t->unit == TRIT_NONE32) {
        if (t->storage != TRIT_STORAGE_RAW)
            FAIL(TRIT_E_CORRUPT, f + TRIT__T_STORAGE, where, "dense tensor with storage %u (must be raw)",
                 t->storage);
        if (t->expert != TRIT_NONE32)
            FAIL(TRIT_E_CORRUPT, f + TRIT__T_EXPERT, where, "dense tensor with expert number %u", t->expert);
    }
out:
    return rc;
}

static int cmp_placed(const void *a, const void *b)
{
    const trit__placed *x = a, *y = b;
    if (x->start != y->start) return x->start < y->start ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

typedef struct named { const char *name; uint32_t idx; } named;

static int cmp_named(const void *a, const void *b)
{
    const named *x = a, *y = b;
    int const c = strcmp(x->name, y->name);
    return c ? c : (x->idx < y->idx ? -1 : x->idx > y->idx);
}

static void describe(const trit__placed *p, char *buf, size_t n)
{
    if (p->name) snprintf(buf, n, "%s '%.80s'", p->kind, p->name);
    else snprintf(buf, n, "%s %u", p->kind, p->idx);
}

/* Check one object lies in [data_off, file_size) at the given alignment. */
static int check_range(const trit_reader *r, const trit__placed *p, uint64_t align, trit_err *err)
{
    char where[112];
    describe(p, where, sizeof where);
    if (p->start % align)
        return trit_err_set(err, TRIT_E_CORRUPT, p->rec_off, where,
                            "offset %llu is not a multiple of %llu", (unsigned long long)p->start,
                            (unsigned long long)align);
    if (p->start < r->info.data_off)
        return trit_err_set(err, TRIT_E_CORRUPT, p->rec_off, where,
                            "offset %llu lies before the data area (%llu)", (unsigned long long)p->start,
                            (unsigned long long)r->info.data_off);
    if (p->end > r->info.file_size)
        return trit_err_set(err, TRIT_E_CORRUPT, p->rec_off, where,
                            "data extends past end of file (%llu bytes at %llu, file has %llu)",
                            (unsigned long long)p->size, (unsigned long long)p->start,
                            (unsigned long long)r->info.file_size);
    return TRIT_OK;
}

static trit__placed make_placed(uint64_t start, uint64_t size, uint64_t rec_off, const char *kind,
                                const char *name, uint32_t idx)
{
    trit__placed p = {start, 0, size, rec_off, kind, name, idx};
    if (trit_add_u64(start, size, &p.end)) p.end = UINT64_MAX; /* saturate: fails the EOF check */
    return p;
}

/* Sort names and refuse the first duplicate, reporting the record of the later one. */
static int check_unique(named *nm, uint32_t n, const uint64_t *rec_off, const char *kind, trit_err *err)
{
    qsort(nm, n, sizeof *nm, cmp_named);
    for (uint32_t i = 1; i < n; i++)
        if (strcmp(nm[i].name, nm[i - 1].name) == 0) {
            char where[112];
            snprintf(where, sizeof where, "%s '%.80s'", kind, nm[i].name);
            return trit_err_set(err, TRIT_E_CORRUPT, rec_off[nm[i].idx], where,
                                "duplicate name (also record %u)", nm[i - 1].idx);
        }
    return TRIT_OK;
}

static int cmp_unit_key(const void *a, const void *b)
{
    const trit__unit_key *x = a, *y = b;
    if (x->layer != y->layer) return x->layer < y->layer ? -1 : 1;
    if (x->expert != y->expert) return x->expert < y->expert ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int validate_members(trit_reader *r, trit_err *err)
{
    int rc = TRIT_OK;
    trit_file_info const *fi = &r->info;
    uint32_t *fill = calloc((size_t)fi->n_units + 1, sizeof *fill);
    if (!fill) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "cannot allocate unit table");
    for (uint32_t i = 0; i < fi->n_tensors; i++) {
        trit_tensor_info const *t = &r->tensors[i];
        uint64_t const f = r->tensor_rec_off[i];
        char where[96];
        trit__where_tensor(where, sizeof where, t->name);
        if (t->unit == TRIT_NONE32) continue;
        if (t->unit >= fi->n_units)
            FAIL(TRIT_E_CORRUPT, f + TRIT__T_UNIT, where, "expert unit %u does not exist (%u units)", t->unit,
                 fi->n_units);
        trit_unit_info const *u = &r->units[t->unit];
        if (t->layer != u->layer || t->expert != u->expert)
            FAIL(TRIT_E_CORRUPT, f + TRIT__T_LAYER, where,
                 "layer %u expert %u does not match its unit's layer %u expert %u", t->layer, t->expert,
                 u->layer, u->expert);
        if (t->storage != u->storage)
            FAIL(TRIT_E_CORRUPT, f + TRIT__T_STORAGE, where, "storage %u does not match its unit's %u",
                 t->storage, u->storage);
        if (t->offset % fi->tensor_align)
            FAIL(TRIT_E_CORRUPT, f + TRIT__T_OFFSET, where,
                 "offset %llu inside its unit is not a multiple of %u", (unsigned long long)t->offset,
                 fi->tensor_align);
        uint64_t end;
        if (trit_add_u64(t->offset, t->size, &end) || end > u->decoded_size)
            FAIL(TRIT_E_CORRUPT, f + TRIT__T_OFFSET, where,
                 "extends past the end of its unit (%llu + %llu > %llu)", (unsigned long long)t->offset,
                 (unsigned long long)t->size, (unsigned long long)u->decoded_size);
        if (fill[t->unit] == u->n_members)
            FAIL(TRIT_E_CORRUPT, f + TRIT__T_UNIT, where, "expert unit %u declares only %u members",
                 t->unit, u->n_members);
        fill[t->unit]++;
    }
    uint32_t acc = 0;
    for (uint32_t u = 0; u < fi->n_units; u++) {
        if (fill[u] != r->units[u].n_members)
            FAIL(TRIT_E_CORRUPT, r->unit_rec_off[u] + 12, "expert unit",
                 "unit %u declares %u members, %u tensors name it", u, r->units[u].n_members, fill[u]);
        r->unit_first[u] = acc;
        acc += fill[u];
        fill[u] = 0;
    }
    for (uint32_t i = 0; i < fi->n_tensors; i++) {
        uint32_t const u = r->tensors[i].unit;
        if (u != TRIT_NONE32) r->unit_members[r->unit_first[u] + fill[u]++] = i;
    }
    /* Members in (offset, size) order (<= 64 members: insertion sort; an empty member sorts
     * before a member at the same offset) must not overlap, and must be packed: the decoded
     * image is exactly what its members need (spec 5.3), so decoded_size is bounded by the
     * member sizes and a frame of zeros cannot declare more. */
    for (uint32_t u = 0; u < fi->n_units; u++) {
        uint32_t *m = r->unit_members + r->unit_first[u];
        uint32_t const n = r->units[u].n_members;
        trit_unit_info const *un = &r->units[u];
        for (uint32_t a = 1; a < n; a++)
            for (uint32_t b = a; b > 0; b--) {
                trit_tensor_info const *x = &r->tensors[m[b]], *y = &r->tensors[m[b - 1]];
                if (x->offset > y->offset || (x->offset == y->offset && x->size >= y->size)) break;
                uint32_t const t = m[b];
                m[b] = m[b - 1];
                m[b - 1] = t;
            }
        trit_tensor_info const *last = &r->tensors[m[n - 1]];
        if (last->offset + last->size != un->decoded_size)
            FAIL(TRIT_E_CORRUPT, r->unit_rec_off[u] + 32, "expert unit",
                 "unit %u decodes to %llu bytes but its last member ends at %llu", u,
                 (unsigned long long)un->decoded_size, (unsigned long long)(last->offset + last->size));
        for (uint32_t a = 1; a < n; a++) {
            trit_tensor_info const *p = &r->tensors[m[a - 1]], *q = &r->tensors[m[a]];
            if (q->offset < p->offset + p->size) {
                char where[96];
                FAIL(TRIT_E_CORRUPT, r->tensor_rec_off[m[a]] + TRIT__T_OFFSET,
                     trit__where_tensor(where, sizeof where, q->name), "overlaps tensor '%.80s' in its unit",
                     p->name);
            }
        }
        /* Packed layout: the first member at 0, each next at align_up(end of the previous,
         * tensor_align). Offsets are aligned and in range (checked above), so nothing here
         * overflows: every packed offset is at most the member's real one. */
        uint64_t need = 0;
        uint32_t bad = UINT32_MAX;
        uint64_t bad_want = 0;
        for (uint32_t a = 0; a < n; a++) {
            trit_tensor_info const *q = &r->tensors[m[a]];
            uint64_t const want = (need + fi->tensor_align - 1) & ~((uint64_t)fi->tensor_align - 1);
            if (q->offset != want && bad == UINT32_MAX) {
                bad = m[a];
                bad_want = want;
            }
            need = want + q->size;
        }
        if (un->decoded_size != need) {
            char where[64];
            snprintf(where, sizeof where, "expert unit %u (layer %u expert %u)", u, un->layer, un->expert);
            if (bad != UINT32_MAX)
                FAIL(TRIT_E_CORRUPT, r->unit_rec_off[u] + 32, where,
                     "decodes to %llu bytes but its %u members need %llu: member '%.80s' is at offset %llu "
                     "of the image, expected %llu (packed, %u-byte aligned)",
                     (unsigned long long)un->decoded_size, n, (unsigned long long)need, r->tensors[bad].name,
                     (unsigned long long)r->tensors[bad].offset, (unsigned long long)bad_want, fi->tensor_align);
            FAIL(TRIT_E_CORRUPT, r->unit_rec_off[u] + 32, where, "decodes to %llu bytes but its %u members need %llu",
                 (unsigned long long)un->decoded_size, n, (unsigned long long)need);
        }
    }
out:
    free(fill);
    return rc;
}

static int validate_layout(trit_reader *r, trit_err *err)
{
    int rc = TRIT_OK;
    trit_file_info const *fi = &r->info;
    size_t const n_obj = (size_t)fi->n_tensors + fi->n_units + fi->n_sections;
    size_t const n_names = (size_t)fi->n_tensors + fi->n_kv + fi->n_sections;
    named *nm = trit_mallocarray(n_names + 1, sizeof *nm);
    r->placed = trit_mallocarray(n_obj + 1, sizeof *r->placed);
    r->unit_first = trit_mallocarray((size_t)fi->n_units + 1, sizeof *r->unit_first);
    r->unit_members = trit_mallocarray((size_t)fi->n_tensors + 1, sizeof *r->unit_members);
    r->unit_sorted = trit_mallocarray((size_t)fi->n_units + 1, sizeof *r->unit_sorted);
    r->tensor_sorted = trit_mallocarray((size_t)fi->n_tensors + 1, sizeof *r->tensor_sorted);
    if (!nm || !r->placed || !r->unit_first || !r->unit_members || !r->unit_sorted || !r->tensor_sorted)
        FAIL(TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "cannot allocate the layout tables");

    TRY(validate_members(r, err));

    /* Every file-level object lies in the data area at its alignment ... */
    r->n_placed = 0;
    for (uint32_t i = 0; i < fi->n_tensors; i++) {
        trit_tensor_info const *t = &r->tensors[i];
        if (t->unit != TRIT_NONE32) continue;
        trit__placed const p = make_placed(t->offset, t->size, r->tensor_rec_off[i] + TRIT__T_OFFSET,
                                           "tensor", t->name, i);
        TRY(check_range(r, &p, fi->tensor_align, err));
        if (t->size) r->placed[r->n_placed++] = p;
    }
    for (uint32_t u = 0; u < fi->n_units; u++) {
        trit_unit_info const *un = &r->units[u];
        trit__placed const p = make_placed(un->offset, un->stored_size, r->unit_rec_off[u] + 16,
                                           "expert unit", NULL, u);
        TRY(check_range(r, &p, fi->page_align, err));
        if (un->stored_size) r->placed[r->n_placed++] = p;
    }
    for (uint32_t s = 0; s < fi->n_sections; s++) {
        trit_section_info const *sec = &r->sections[s];
        trit__placed const p = make_placed(sec->offset, sec->size, r->section_rec_off[s] + 8, "section",
                                           sec->name, s);
        TRY(check_range(r, &p, fi->tensor_align, err));
        if (sec->size) r->placed[r->n_placed++] = p;
    }
    /* ... and no two overlap. */
    qsort(r->placed, r->n_placed, sizeof *r->placed, cmp_placed);
    for (size_t i = 1; i < r->n_placed; i++)
        if (r->placed[i].start < r->placed[i - 1].end) {
            char a[112], b[112];
            describe(&r->placed[i], a, sizeof a);
            describe(&r->placed[i - 1], b, sizeof b);
            FAIL(TRIT_E_CORRUPT, r->placed[i].rec_off, a, "overlaps %s", b);
        }

    /* Names are unique per kind; the sorted orders serve the find functions. */
    for (uint32_t i = 0; i < fi->n_tensors; i++) nm[i] = (named){r->tensors[i].name, i};
    TRY(check_unique(nm, fi->n_tensors, r->tensor_name_off, "tensor", err));
    for (uint32_t i = 0; i < fi->n_tensors; i++) r->tensor_sorted[i] = nm[i].idx;
    for (uint32_t i = 0; i < fi->n_sections; i++) nm[i] = (named){r->sections[i].name, i};
    TRY(check_unique(nm, fi->n_sections, r->section_name_off, "section", err));
    for (uint32_t u = 0; u < fi->n_units; u++)
        r->unit_sorted[u] = (trit__unit_key){r->units[u].layer, r->units[u].expert, u};
    qsort(r->unit_sorted, fi->n_units, sizeof *r->unit_sorted, cmp_unit_key);
    for (uint32_t u = 1; u < fi->n_units; u++) {
        trit__unit_key const *p = &r->unit_sorted[u - 1], *q = &r->unit_sorted[u];
        if (p->layer == q->layer && p->expert == q->expert)
            FAIL(TRIT_E_CORRUPT, r->unit_rec_off[q->idx], "expert unit",
                 "layer %u expert %u appears twice (units %u and %u)", q->layer, q->expert, p->idx, q->idx);
    }
out:
    free(nm);
    return rc;
}

/* Header: fixed 128 bytes at offset 0 (spec "Header"). */
static int parse_header(trit_reader *r, trit_err *err)
{
    int rc = TRIT_OK;
    const uint8_t *h = r->map;
    trit_file_info *fi = &r->info;
    size_t const have = r->len < TRIT__MAGIC_LEN ? r->len : TRIT__MAGIC_LEN;
    if (memcmp(h, TRIT__MAGIC, have) != 0)
        FAIL(TRIT_E_CORRUPT, 0, "header", "bad magic: not a .trit file");
    if (r->len < TRIT__HEADER_SIZE)
        FAIL(TRIT_E_TRUNCATED, r->len, "header", "file has %zu bytes, the header needs %u", r->len,
             TRIT__HEADER_SIZE);
    fi->major = trit_load_le16(h + TRIT__H_MAJOR);
    fi->minor = trit_load_le16(h + TRIT__H_MINOR);
    if (fi->major == 0) FAIL(TRIT_E_CORRUPT, TRIT__H_MAJOR, "header", "major version 0 is invalid");
    if (fi->major > TRIT_FORMAT_MAJOR)
        FAIL(TRIT_E_UNSUPPORTED, TRIT__H_MAJOR, "header",
             "format version %u.%u is newer than this reader (%d.%d): upgrade trit", fi->major, fi->minor,
             TRIT_FORMAT_MAJOR, TRIT_FORMAT_MINOR);
    uint32_t const hsize = trit_load_le32(h + TRIT__H_HSIZE);
    if (hsize != TRIT__HEADER_SIZE)
        FAIL(TRIT_E_CORRUPT, TRIT__H_HSIZE, "header", "header size %u, expected %u", hsize, TRIT__HEADER_SIZE);
    fi->header_xxh3 = trit_load_le64(h + TRIT__HEADER_SUM_OFF);
    uint64_t const sum = trit_xxh3(h, TRIT__HEADER_SUM_OFF);
    if (sum != fi->header_xxh3 && !TRIT__FUZZ_SKIP_SUMS)
        FAIL(TRIT_E_CHECKSUM, TRIT__HEADER_SUM_OFF, "header", "header checksum %016llx, computed %016llx",
             (unsigned long long)fi->header_xxh3, (unsigned long long)sum);
    fi->required_features = trit_load_le64(h + TRIT__H_REQ);
    fi->optional_features = trit_load_le64(h + TRIT__H_OPT);
    if (fi->required_features & ~(uint64_t)TRIT_FEAT_REQ_KNOWN)
        FAIL(TRIT_E_UNSUPPORTED, TRIT__H_REQ, "header",
             "file requires features 0x%llx this reader does not have: upgrade trit",
             (unsigned long long)(fi->required_features & ~(uint64_t)TRIT_FEAT_REQ_KNOWN));
    fi->file_size = trit_load_le64(h + TRIT__H_FSIZE);
    if (r->len < fi->file_size)
        FAIL(TRIT_E_TRUNCATED, r->len, "file", "file is truncated: %zu bytes of %llu", r->len,
             (unsigned long long)fi->file_size);
    if (r->len > fi->file_size)
        FAIL(TRIT_E_CORRUPT, fi->file_size, "file", "%llu unexpected bytes after the declared end",
             (unsigned long long)(r->len - fi->file_size));
    fi->index_off = trit_load_le64(h + TRIT__H_IOFF);
    fi->index_size = trit_load_le64(h + TRIT__H_ISIZE);
    fi->index_xxh3 = trit_load_le64(h + TRIT__H_ISUM);
    fi->data_off = trit_load_le64(h + TRIT__H_DOFF);
    fi->page_align = trit_load_le32(h + TRIT__H_PALIGN);
    fi->tensor_align = trit_load_le32(h + TRIT__H_TALIGN);
    fi->n_kv = trit_load_le32(h + TRIT__H_NKV);
    fi->n_sections = trit_load_le32(h + TRIT__H_NSEC);
    fi->n_units = trit_load_le32(h + TRIT__H_NUNIT);
    fi->n_tensors = trit_load_le32(h + TRIT__H_NTEN);
    if (fi->index_off != TRIT__HEADER_SIZE)
        FAIL(TRIT_E_CORRUPT, TRIT__H_IOFF, "header", "index offset %llu, expected %u",
             (unsigned long long)fi->index_off, TRIT__HEADER_SIZE);
    if (fi->index_size > TRIT_MAX_INDEX_BYTES)
        FAIL(TRIT_E_LIMIT, TRIT__H_ISIZE, "header", "index of %llu bytes, limit %u",
             (unsigned long long)fi->index_size, TRIT_MAX_INDEX_BYTES);
    if (!trit_is_pow2(fi->page_align) || fi->page_align < TRIT_MIN_PAGE_ALIGN ||
        fi->page_align > TRIT_MAX_PAGE_ALIGN)
        FAIL(TRIT_E_CORRUPT, TRIT__H_PALIGN, "header", "page alignment %u is not a power of two in [%u, %u]",
             fi->page_align, TRIT_MIN_PAGE_ALIGN, TRIT_MAX_PAGE_ALIGN);
    if (!trit_is_pow2(fi->tensor_align) || fi->tensor_align < TRIT_MIN_TENSOR_ALIGN ||
        fi->tensor_align > fi->page_align)
        FAIL(TRIT_E_CORRUPT, TRIT__H_TALIGN, "header",
             "tensor alignment %u is not a power of two in [%u, page alignment]", fi->tensor_align,
             TRIT_MIN_TENSOR_ALIGN);
    uint64_t const index_end = fi->index_off + fi->index_size; /* both capped: no overflow */
    if (index_end > fi->file_size)
        FAIL(TRIT_E_CORRUPT, TRIT__H_ISIZE, "index", "index extends past end of file (%llu > %llu)",
             (unsigned long long)index_end, (unsigned long long)fi->file_size);
    uint64_t want_data;
    if (trit_align_up(index_end, fi->page_align, &want_data) || fi->data_off != want_data ||
        fi->data_off > fi->file_size)
        FAIL(TRIT_E_CORRUPT, TRIT__H_DOFF, "header",
             "data offset %llu, expected %llu (index end rounded up to the page alignment)",
             (unsigned long long)fi->data_off, (unsigned long long)want_data);
    if (fi->n_kv > TRIT_MAX_KV)
        FAIL(TRIT_E_LIMIT, TRIT__H_NKV, "header", "%u metadata records, limit %u", fi->n_kv, TRIT_MAX_KV);
    if (fi->n_sections > TRIT_MAX_SECTIONS)
        FAIL(TRIT_E_LIMIT, TRIT__H_NSEC, "header", "%u sections, limit %u", fi->n_sections, TRIT_MAX_SECTIONS);
    if (fi->n_units > TRIT_MAX_UNITS)
        FAIL(TRIT_E_LIMIT, TRIT__H_NUNIT, "header", "%u expert units, limit %u", fi->n_units, TRIT_MAX_UNITS);
    if (fi->n_tensors > TRIT_MAX_TENSORS)
        FAIL(TRIT_E_LIMIT, TRIT__H_NTEN, "header", "%u tensors, limit %u", fi->n_tensors, TRIT_MAX_TENSORS);
    /* Every record has a minimum size: refuse counts the index cannot hold before allocating. */
    uint64_t const min_bytes = (uint64_t)fi->n_kv * 4 + (uint64_t)fi->n_sections * (3 + TRIT__SECTION_FIXED) +
                               (uint64_t)fi->n_units * TRIT__UNIT_REC_SIZE +
                               (uint64_t)fi->n_tensors * (3 + TRIT__TENSOR_FIXED);
    if (min_bytes > fi->index_size)
        FAIL(TRIT_E_CORRUPT, TRIT__H_NKV, "header",
             "record counts need at least %llu index bytes, the index has %llu", (unsigned long long)min_bytes,
             (unsigned long long)fi->index_size);
    uint64_t const isum = trit_xxh3(h + fi->index_off, (size_t)fi->index_size);
    if (isum != fi->index_xxh3 && !TRIT__FUZZ_SKIP_SUMS)
        FAIL(TRIT_E_CHECKSUM, TRIT__H_ISUM, "index", "index checksum %016llx, computed %016llx",
             (unsigned long long)fi->index_xxh3, (unsigned long long)isum);
out:
    return rc;
}

static int parse_index(trit_reader *r, trit_err *err)
{
    int rc = TRIT_OK;
    trit_file_info const *fi = &r->info;
    trit_cur c;
    size_t arena_used = 0;
    trit_cur_init(&c, r->map + fi->index_off, (size_t)fi->index_size, fi->index_off, NULL);
    /* names are at most index_size bytes in total, plus one NUL per record */
    r->arena = malloc((size_t)fi->index_size + fi->n_kv + fi->n_sections + fi->n_tensors + 1);
    r->sections = calloc((size_t)fi->n_sections + 1, sizeof *r->sections);
    r->section_rec_off = trit_mallocarray((size_t)fi->n_sections + 1, sizeof(uint64_t));
    r->section_name_off = trit_mallocarray((size_t)fi->n_sections + 1, sizeof(uint64_t));
    r->units = calloc((size_t)fi->n_units + 1, sizeof *r->units);
    r->unit_rec_off = trit_mallocarray((size_t)fi->n_units + 1, sizeof(uint64_t));
    r->tensors = calloc((size_t)fi->n_tensors + 1, sizeof *r->tensors);
    r->tensor_rec_off = trit_mallocarray((size_t)fi->n_tensors + 1, sizeof(uint64_t));
    r->tensor_name_off = trit_mallocarray((size_t)fi->n_tensors + 1, sizeof(uint64_t));
    if (!r->arena || !r->sections || !r->section_rec_off || !r->section_name_off ||
        !r->units || !r->unit_rec_off || !r->tensors || !r->tensor_rec_off || !r->tensor_name_off)
        FAIL(TRIT_E_NOMEM, TRIT_NO_OFFSET, "index", "cannot allocate index tables");
    TRY(trit__kvset_parse_cur(&c, fi->n_kv, 0, &r->kv, err));
    if (c.off > TRIT_MAX_META_BYTES)
        FAIL(TRIT_E_LIMIT, fi->index_off, "metadata", "metadata of %zu bytes, limit %u", c.off,
             TRIT_MAX_META_BYTES);
    for (uint32_t i = 0; i < fi->n_sections; i++) TRY(parse_section(&c, r, &arena_used, i, err));
    for (uint32_t i = 0; i < fi->n_units; i++) TRY(parse_unit(&c, r, i, err));
    for (uint32_t i = 0; i < fi->n_tensors; i++) TRY(parse_tensor(&c, r, &arena_used, i, err));
    if (trit_cur_left(&c))
        FAIL(TRIT_E_CORRUPT, trit_cur_pos(&c), "index", "%zu bytes left over after the last record",
             trit_cur_left(&c));
out:
    return rc;
}

static int open_common(trit_reader *r, const trit_open_opts *opts, trit_err *err)
{
    int rc = parse_header(r, err);
    if (rc == TRIT_OK) rc = parse_index(r, err);
    if (rc == TRIT_OK) rc = validate_layout(r, err);
    if (rc == TRIT_OK && opts && (opts->flags & TRIT_OPEN_VERIFY)) rc = trit_reader_verify(r, err);
    else if (rc == TRIT_OK && opts && (opts->flags & TRIT_OPEN_DENSE))
        for (uint32_t i = 0; rc == TRIT_OK && i < r->info.n_tensors; i++)
            if (r->tensors[i].unit == TRIT_NONE32) rc = trit_reader_tensor_verify(r, i, err);
    return rc;
}

static trit_reader *reader_new(const char *path)
{
    trit_reader *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->fd = -1;
    r->path = strdup(path ? path : "(memory)");
    if (!r->path) { free(r); return NULL; }
    return r;
}

int trit_reader_open_mem(const void *buf, size_t len, const char *name, const trit_open_opts *opts,
                         trit_reader **out, trit_err *err)
{
    *out = NULL;
    trit_err_clear(err);
    trit_reader *r = reader_new(name);
    if (!r) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "cannot allocate reader");
    r->map = buf;
    r->len = len;
    int const rc = open_common(r, opts, err);
    if (rc != TRIT_OK) {
        trit_err_file(err, r->path);
        trit_reader_close(r);
        return rc;
    }
    *out = r;
    return TRIT_OK;
}

int trit_reader_open(const char *path, const trit_open_opts *opts, trit_reader **out, trit_err *err)
{
    int rc;
    struct stat st;
    *out = NULL;
    trit_err_clear(err);
    trit_reader *r = reader_new(path);
    if (!r) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "cannot allocate reader");
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) FAIL(TRIT_E_IO, TRIT_NO_OFFSET, NULL, "cannot open: %s", strerror(errno));
    if (fstat(r->fd, &st) != 0) FAIL(TRIT_E_IO, TRIT_NO_OFFSET, NULL, "cannot stat: %s", strerror(errno));
    if (!S_ISREG(st.st_mode)) FAIL(TRIT_E_IO, TRIT_NO_OFFSET, NULL, "not a regular file");
    if (trit_to_size((uint64_t)st.st_size, &r->len))
        FAIL(TRIT_E_LIMIT, TRIT_NO_OFFSET, NULL, "file too large to map on this host");
    if (r->len == 0) FAIL(TRIT_E_TRUNCATED, 0, "header", "file is empty");
    void *m = mmap(NULL, r->len, PROT_READ, MAP_PRIVATE, r->fd, 0);
    if (m == MAP_FAILED) FAIL(TRIT_E_IO, TRIT_NO_OFFSET, NULL, "cannot mmap: %s", strerror(errno));
    r->map = m;
    r->mapped = 1;
    r->st_size = (int64_t)st.st_size;
    r->st_mtime_s = (int64_t)st.st_mtim.tv_sec;
    r->st_mtime_ns = (int64_t)st.st_mtim.tv_nsec;
    rc = open_common(r, opts, err);
out:
    if (rc != TRIT_OK) {
        trit_err_file(err, path);
        trit_reader_close(r);
        return rc;
    }
    *out = r;
    return TRIT_OK;
}

int trit_reader_file_check(const trit_reader *r, trit_err *err)
{
    struct stat st;
    if (r->fd < 0) return TRIT_OK;
    int rc = TRIT_OK;
    if (fstat(r->fd, &st) != 0)
        rc = trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, NULL, "cannot stat: %s", strerror(errno));
    else if ((int64_t)st.st_size != r->st_size)
        rc = trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, NULL,
                          "the file changed while in use: %lld bytes, %lld at open (replace a model by rename, "
                          "never in place)", (long long)st.st_size, (long long)r->st_size);
    else if ((int64_t)st.st_mtim.tv_sec != r->st_mtime_s || (int64_t)st.st_mtim.tv_nsec != r->st_mtime_ns)
        rc = trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, NULL,
                          "the file changed while in use: written after it was opened (replace a model by "
                          "rename, never in place)");
    if (rc != TRIT_OK) trit_err_file(err, r->path);
    return rc;
}

void trit_reader_mapping(const trit_reader *r, const void **p, size_t *len)
{
    *p = r->map;
    *len = r->len;
}

void trit_reader_close(trit_reader *r)
{
    if (!r) return;
    if (r->mapped) munmap((void *)(uintptr_t)r->map, r->len);
    if (r->fd >= 0) close(r->fd);
    trit_kvset_free(r->kv);
    free(r->sections);
    free(r->section_rec_off);
    free(r->section_name_off);
    free(r->units);
    free(r->unit_rec_off);
    free(r->unit_members);
    free(r->unit_first);
    free(r->unit_sorted);
    free(r->tensors);
    free(r->tensor_rec_off);
    free(r->tensor_name_off);
    free(r->tensor_sorted);
    free(r->placed);
    free(r->arena);
    free(r->path);
    free(r);
}
