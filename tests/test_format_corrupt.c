/* test_format_corrupt.c - the corrupt-container generator (style R15): each case mutates a valid
 * sample in memory and asserts the exact error code AND byte offset the reader reports.
 * Structural cases re-sign the header and index checksums so the structure check, not the
 * checksum, is what fires. Every parser bug fixed adds a case here. */
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "tfmt.h"
#include "trit_cursor.h"
#include "trit_int.h"

typedef struct sample {
    uint8_t *buf;
    size_t len;
    trit_reader *r;            /* reader over the pristine copy, for record offsets */
} sample;

static int sample_load(sample *s, int variant)
{
    const char *path = test_path(test_tmpdir(), variant == TFMT_FULL ? "corrupt-full.trit" : "corrupt-small.trit");
    trit_err err;
    if (tfmt_write(path, variant, &err) != TRIT_OK) return -1;
    s->buf = test_read_file(path, &s->len);
    if (!s->buf) return -1;
    return trit_reader_open_mem(s->buf, s->len, "sample", NULL, &s->r, &err);
}

static void sample_free(sample *s)
{
    trit_reader_close(s->r);
    free(s->buf);
}

/* Recompute the index checksum (when the declared index fits the sample) and the header's. */
static size_t resign_len;
static void resign(uint8_t *b)
{
    uint64_t const isize = trit_load_le64(b + TRIT__H_ISIZE);
    if (isize <= resign_len - TRIT__HEADER_SIZE)
        trit_store_le64(b + TRIT__H_ISUM, trit_xxh3(b + TRIT__HEADER_SIZE, (size_t)isize));
    trit_store_le64(b + TRIT__HEADER_SUM_OFF, trit_xxh3(b, TRIT__HEADER_SUM_OFF));
}

typedef enum {
    BAD_MAGIC, FUTURE_MAJOR, ZERO_MAJOR, UNKNOWN_REQUIRED_FEATURE, BAD_HEADER_SIZE, HEADER_CHECKSUM,
    INDEX_CHECKSUM, INDEX_PAST_EOF, INDEX_TOO_BIG, BAD_PAGE_ALIGN, BAD_TENSOR_ALIGN, BAD_DATA_OFF,
    TOO_MANY_TENSORS, COUNTS_EXCEED_INDEX, TRAILING_BYTES, OVERLAPPING_TENSORS, MISALIGNED_TENSOR,
    TENSOR_PAST_EOF, SIZE_NOT_GEOMETRY, WRONG_GEOMETRY, NAME_TOO_LONG, EMPTY_NAME, DUPLICATE_NAMES,
    BAD_KV_TYPE, BAD_BOOL, TOO_MANY_DIMS, UNIT_MISALIGNED, UNIT_MEMBER_PAST_END, UNIT_COUNT_MISMATCH,
    UNKNOWN_STORAGE, SECTION_PAST_EOF, DENSE_WITH_EXPERT, N_CASES
} corrupt_case;

typedef struct expect { int code; uint64_t offset; } expect;

/* Apply case c to a copy of the sample; returns the expected error. *len may change. */
static expect mutate(const sample *s, corrupt_case c, uint8_t *b, size_t *len)
{
    trit_reader const *r = s->r;
    uint32_t const q = (uint32_t)trit_reader_find_tensor(r, "blk.0.attn_q.weight");
    uint32_t const emb = (uint32_t)trit_reader_find_tensor(r, "tok_embd.weight");
    uint32_t const nrm = (uint32_t)trit_reader_find_tensor(r, "norm.weight");
    uint64_t const fq = r->tensor_rec_off[q], fe = r->tensor_rec_off[emb];
    uint64_t const fsize = trit_load_le64(b + TRIT__H_FSIZE);
    switch (c) {
    case BAD_MAGIC: b[1] ^= 0x20; return (expect){TRIT_E_CORRUPT, 0};
    case FUTURE_MAJOR: trit_store_le16(b + TRIT__H_MAJOR, 2); resign(b); return (expect){TRIT_E_UNSUPPORTED, 8};
    case ZERO_MAJOR: trit_store_le16(b + TRIT__H_MAJOR, 0); resign(b); return (expect){TRIT_E_CORRUPT, 8};
    case UNKNOWN_REQUIRED_FEATURE: b[TRIT__H_REQ] |= 0x40; resign(b); return (expect){TRIT_E_UNSUPPORTED, 16};
    case BAD_HEADER_SIZE: trit_store_le32(b + TRIT__H_HSIZE, 256); resign(b); return (expect){TRIT_E_CORRUPT, 12};
    case HEADER_CHECKSUM: b[100] ^= 1; return (expect){TRIT_E_CHECKSUM, 120};
    case INDEX_CHECKSUM: b[TRIT__HEADER_SIZE + 3] ^= 1; return (expect){TRIT_E_CHECKSUM, 56};
    case INDEX_PAST_EOF: trit_store_le64(b + TRIT__H_ISIZE, fsize); resign(b); return (expect){TRIT_E_CORRUPT, 48};
    case INDEX_TOO_BIG: trit_store_le64(b + TRIT__H_ISIZE, 1ull << 40); resign(b); return (expect){TRIT_E_LIMIT, 48};
    case BAD_PAGE_ALIGN: trit_store_le32(b + TRIT__H_PALIGN, 12288); resign(b); return (expect){TRIT_E_CORRUPT, 72};
    case BAD_TENSOR_ALIGN: trit_store_le32(b + TRIT__H_TALIGN, 8); resign(b); return (expect){TRIT_E_CORRUPT, 76};
    case BAD_DATA_OFF: trit_store_le64(b + TRIT__H_DOFF, trit_load_le64(b + TRIT__H_DOFF) + 4096); resign(b);
        return (expect){TRIT_E_CORRUPT, 64};
    case TOO_MANY_TENSORS: trit_store_le32(b + TRIT__H_NTEN, (1u << 20) + 1); resign(b); return (expect){TRIT_E_LIMIT, 92};
    case COUNTS_EXCEED_INDEX: trit_store_le32(b + TRIT__H_NTEN, 1u << 20); resign(b); return (expect){TRIT_E_CORRUPT, 80};
    case TRAILING_BYTES: b[*len] = 0; (*len)++; return (expect){TRIT_E_CORRUPT, fsize};
    case OVERLAPPING_TENSORS: {
        /* put norm.weight inside tok_embd.weight (which is larger and precedes nothing at that spot) */
        uint64_t const eo = trit_load_le64(b + fe + TRIT__T_OFFSET);
        trit_store_le64(b + r->tensor_rec_off[nrm] + TRIT__T_OFFSET, eo + 64);
        resign(b);
        return (expect){TRIT_E_CORRUPT, r->tensor_rec_off[nrm] + TRIT__T_OFFSET};
    }
    case MISALIGNED_TENSOR:
        trit_store_le64(b + fq + TRIT__T_OFFSET, trit_load_le64(b + fq + TRIT__T_OFFSET) + 1); resign(b);
        return (expect){TRIT_E_CORRUPT, fq + TRIT__T_OFFSET};
    case TENSOR_PAST_EOF:
        trit_store_le64(b + fq + TRIT__T_OFFSET, fsize - 64); resign(b);
        return (expect){TRIT_E_CORRUPT, fq + TRIT__T_OFFSET};
    case SIZE_NOT_GEOMETRY:
        trit_store_le64(b + fe + TRIT__T_SIZE, trit_load_le64(b + fe + TRIT__T_SIZE) + 2); resign(b);
        return (expect){TRIT_E_CORRUPT, fe + TRIT__T_SIZE};
    case WRONG_GEOMETRY: trit_store_le32(b + fe + TRIT__T_BBYTES, 4); resign(b); return (expect){TRIT_E_CORRUPT, fe};
    case NAME_TOO_LONG: {
        uint64_t const no = r->tensor_name_off[q];
        trit_store_le16(b + no, 300);
        resign(b);
        return (expect){TRIT_E_LIMIT, no};
    }
    case EMPTY_NAME: {
        /* zero-length key on the first KV record; the rest of the index no longer parses, but
         * the empty name is what is reported */
        trit_store_le16(b + TRIT__HEADER_SIZE, 0);
        resign(b);
        return (expect){TRIT_E_CORRUPT, TRIT__HEADER_SIZE};
    }
    case DUPLICATE_NAMES: {
        /* rename norm.weight (11 bytes) to ... another 11-byte name that exists? use the emb name's
         * length-matched prefix: make both "tok_embd.weight" by renaming a 15-byte name */
        uint32_t const other = (uint32_t)trit_reader_find_tensor(r, "blk.0.attn_q.weight");
        uint32_t const dup = (uint32_t)trit_reader_find_tensor(r, "blk.0.attn_k.weight");
        uint64_t const no = r->tensor_name_off[dup];
        memcpy(b + no + 2, "blk.0.attn_q.weight", 19);
        resign(b);
        uint32_t const later = dup > other ? dup : other;
        return (expect){TRIT_E_CORRUPT, r->tensor_name_off[later]};
    }
    case BAD_KV_TYPE: {
        /* first KV is general.architecture: type byte after 2 + 20 bytes of key */
        uint64_t const to = TRIT__HEADER_SIZE + 2 + 20;
        b[to] = 42;
        resign(b);
        return (expect){TRIT_E_CORRUPT, to};
    }
    case BAD_BOOL: {
        uint32_t const kb = (uint32_t)trit_reader_find_kv(r, "test.bool");
        uint64_t const vo = r->kv->rec_off[kb] + 2 + 9 + 1;
        b[vo] = 2;
        resign(b);
        return (expect){TRIT_E_CORRUPT, vo};
    }
    case TOO_MANY_DIMS: b[fq + TRIT__T_NDIMS] = 9; resign(b); return (expect){TRIT_E_LIMIT, fq + TRIT__T_NDIMS};
    case UNIT_MISALIGNED: {
        uint64_t const uo = r->unit_rec_off[0] + 16;
        trit_store_le64(b + uo, trit_load_le64(b + uo) + 64);
        resign(b);
        return (expect){TRIT_E_CORRUPT, uo};
    }
    case UNIT_MEMBER_PAST_END: {
        uint32_t n;
        const uint32_t *m = trit_reader_unit_members(r, 0, &n);
        uint64_t const fo = r->tensor_rec_off[m[n - 1]];
        trit_store_le64(b + fo + TRIT__T_OFFSET, trit_load_le64(b + fo + TRIT__T_OFFSET) + 64);
        resign(b);
        return (expect){TRIT_E_CORRUPT, fo + TRIT__T_OFFSET};
    }
    case UNIT_COUNT_MISMATCH: {
        uint64_t const uo = r->unit_rec_off[1] + 12;
        trit_store_le32(b + uo, 4);
        resign(b);
        return (expect){TRIT_E_CORRUPT, uo};
    }
    case UNKNOWN_STORAGE: {
        uint64_t const uo = r->unit_rec_off[0] + 8;
        b[uo] = 7;
        resign(b);
        return (expect){TRIT_E_UNSUPPORTED, uo};
    }
    case SECTION_PAST_EOF: {
        uint64_t const so = r->section_rec_off[0] + 16;
        trit_store_le64(b + so, fsize);
        resign(b);
        return (expect){TRIT_E_CORRUPT, r->section_rec_off[0] + 8};
    }
    case DENSE_WITH_EXPERT: trit_store_le32(b + fq + TRIT__T_EXPERT, 3); resign(b);
        return (expect){TRIT_E_CORRUPT, fq + TRIT__T_EXPERT};
    case N_CASES: break;
    }
    return (expect){TRIT_OK, 0};
}

TEST(format_corrupt_cases_exact_code_and_offset)
{
    sample s;
    if (sample_load(&s, TFMT_FULL) != TRIT_OK) {
        test_fail_(__FILE__, __LINE__, "cannot build the sample");
        return;
    }
    for (int c = 0; c < N_CASES; c++) {
        uint8_t *b = malloc(s.len + 1);
        memcpy(b, s.buf, s.len);
        size_t len = s.len;
        resign_len = s.len;
        expect const want = mutate(&s, (corrupt_case)c, b, &len);
        trit_reader *r = NULL;
        trit_err err;
        int const rc = trit_reader_open_mem(b, len, "case", NULL, &r, &err);
        if (rc != want.code || err.offset != want.offset) {
            char m[600];
            test_fail_(__FILE__, __LINE__, "case %d: got %d at 0x%llx, want %d at 0x%llx (%s)", c, rc,
                       (unsigned long long)err.offset, want.code, (unsigned long long)want.offset,
                       trit_err_format(&err, m, sizeof m));
        }
        CHECK(r == NULL);
        /* every error names the file and says something */
        CHECK(rc == TRIT_OK || (err.file[0] && err.msg[0]));
        trit_reader_close(r);
        free(b);
    }
    sample_free(&s);
}

TEST(format_truncation_at_every_section_boundary)
{
    sample s;
    if (sample_load(&s, TFMT_FULL) != TRIT_OK) {
        test_fail_(__FILE__, __LINE__, "cannot build the sample");
        return;
    }
    trit_file_info const *fi = trit_reader_file_info(s.r);
    uint64_t cuts[64];
    int n = 0;
    cuts[n++] = 0;
    cuts[n++] = 7;
    cuts[n++] = 127;
    cuts[n++] = 128;
    cuts[n++] = fi->index_off + fi->index_size;
    cuts[n++] = fi->data_off;
    for (uint32_t i = 0; i < fi->n_tensors && n < 56; i++) {
        trit_tensor_info const *t = trit_reader_tensor(s.r, i);
        if (t->unit != TRIT_NONE32 || t->size == 0) continue;
        cuts[n++] = t->offset;
        cuts[n++] = t->offset + t->size - 1;
    }
    for (uint32_t u = 0; u < fi->n_units; u++) cuts[n++] = trit_reader_unit(s.r, u)->offset + 1;
    cuts[n++] = fi->file_size - 1;
    for (int k = 0; k < n; k++) {
        trit_reader *r = NULL;
        trit_err err;
        int const rc = trit_reader_open_mem(s.buf, (size_t)cuts[k], "cut", NULL, &r, &err);
        if (rc != TRIT_E_TRUNCATED || err.offset != cuts[k])
            test_fail_(__FILE__, __LINE__, "cut at %llu: got %d at %llu", (unsigned long long)cuts[k], rc,
                       (unsigned long long)err.offset);
        trit_reader_close(r);
    }
    /* and the same through a real file (mmap path) */
    const char *p = test_path(test_tmpdir(), "cut.trit");
    test_write_file(p, s.buf, (size_t)fi->data_off + 10);
    trit_reader *r = NULL;
    trit_err err;
    CHECK_EQ_INT(trit_reader_open(p, NULL, &r, &err), TRIT_E_TRUNCATED);
    CHECK_EQ_U64(err.offset, fi->data_off + 10);
    CHECK(strstr(err.file, "cut.trit") != NULL);
    sample_free(&s);
}

TEST(format_unknown_type_and_optional_feature_still_open)
{
    sample s;
    if (sample_load(&s, TFMT_FULL) != TRIT_OK) {
        test_fail_(__FILE__, __LINE__, "cannot build the sample");
        return;
    }
    uint8_t *b = malloc(s.len);
    memcpy(b, s.buf, s.len);
    /* norm.weight becomes an unknown type 200 with the same geometry: sized from the record */
    uint32_t const nrm = (uint32_t)trit_reader_find_tensor(s.r, "norm.weight");
    trit_store_le32(b + s.r->tensor_rec_off[nrm] + TRIT__T_TYPE, 200);
    b[TRIT__H_OPT] |= 0x80; /* unknown optional feature: ignored */
    resign(b);
    trit_reader *r = NULL;
    trit_err err;
    CHECK_OK_E(trit_reader_open_mem(b, s.len, "unknown", NULL, &r, &err), &err);
    if (r) {
        trit_tensor_info const *t = trit_reader_tensor(r, nrm);
        CHECK_EQ_U64(t->type, 200);
        CHECK_EQ_U64(t->size, 64 * 4);
        CHECK(trit_type_name(t->type) == NULL);
    }
    trit_reader_close(r);
    free(b);
    sample_free(&s);
}

TEST(format_corrupt_expert_unit_is_an_error_not_garbage)
{
    sample s;
    if (sample_load(&s, TFMT_FULL) != TRIT_OK) {
        test_fail_(__FILE__, __LINE__, "cannot build the sample");
        return;
    }
    uint8_t *b = malloc(s.len);
    memcpy(b, s.buf, s.len);
    trit_unit_info const *u = trit_reader_unit(s.r, 0);
    b[u->offset + u->stored_size / 2] ^= 0x10;
    trit_reader *r = NULL;
    trit_err err;
    CHECK_OK_E(trit_reader_open_mem(b, s.len, "unit", NULL, &r, &err), &err); /* lazily checked */
    void *out = NULL;
    uint64_t n;
    CHECK_EQ_INT(trit_reader_unit_load(r, 0, &out, &n, &err), TRIT_E_CHECKSUM);
    CHECK_EQ_U64(err.offset, u->offset);
    CHECK(out == NULL);
    CHECK_EQ_INT(trit_reader_verify(r, &err), TRIT_E_CHECKSUM);
    trit_reader_close(r);
    free(b);
    sample_free(&s);
}
