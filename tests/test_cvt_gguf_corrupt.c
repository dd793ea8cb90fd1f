/* test_cvt_gguf_corrupt.c - the corrupt-GGUF generator (style R15): every case is built in
 * memory, opened from memory and from a file, and must fail with exactly the expected TRIT_E_*
 * code at exactly the expected byte offset. Plus: the small file truncated at every byte. */
#include <stdlib.h>
#include <string.h>

#include "src_gguf.h"
#include "src_ggml_types.h"
#include "test.h"
#include "test_cvt_gguf_build.h"
#include "trit_limits.h"

enum corrupt_case {
    C_BAD_MAGIC, C_VERSION_0, C_VERSION_1, C_VERSION_FUTURE, C_BIG_ENDIAN,
    C_N_TENSORS_HUGE, C_N_KV_HUGE,
    C_KEY_LEN_PAST_EOF, C_KEY_LEN_OVERFLOW, C_KEY_TOO_LONG, C_EMPTY_KEY, C_KEY_NUL, C_DUP_KEY,
    C_BAD_VALUE_TYPE, C_BAD_ELEM_TYPE, C_ARRAY_COUNT_HUGE, C_STRARR_COUNT_HUGE, C_STRING_PAST_EOF,
    C_NESTED_TOO_DEEP, C_STRING_OVER_CAP,
    C_ALIGN_NOT_POW2, C_ALIGN_ZERO, C_ALIGN_TOO_BIG, C_ALIGN_WRONG_TYPE,
    C_SPLIT_NO_GE_COUNT,
    C_N_DIMS_5, C_NE_NEGATIVE, C_TYPE_REMOVED, C_TYPE_UNKNOWN, C_FORK_TL2, C_TNAME_TOO_LONG,
    C_OFFSET_UNALIGNED, C_DATA_PAST_EOF, C_OFFSET_OVERFLOW, C_SIZE_NOT_MATCHING_SHAPE,
    C_SIZE_PAST_EOF, C_NE0_NOT_BLOCK, C_ELEM_OVERFLOW, C_DUP_TENSOR, C_TRUNCATED_DATA,
    C_COUNT_
};

static const char *const case_names[C_COUNT_] = {
    "bad_magic", "version_0", "version_1", "version_future", "big_endian",
    "n_tensors_huge", "n_kv_huge",
    "key_len_past_eof", "key_len_overflow", "key_too_long", "empty_key", "key_nul", "dup_key",
    "bad_value_type", "bad_elem_type", "array_count_huge", "strarr_count_huge", "string_past_eof",
    "nested_too_deep", "string_over_cap",
    "align_not_pow2", "align_zero", "align_too_big", "align_wrong_type",
    "split_no_ge_count",
    "n_dims_5", "ne_negative", "type_removed", "type_unknown", "fork_tl2", "tname_too_long",
    "offset_unaligned", "data_past_eof", "offset_overflow", "size_not_matching_shape",
    "size_past_eof", "ne0_not_block", "elem_overflow", "dup_tensor", "truncated_data",
};

typedef struct expect {
    int code;
    uint64_t off;
    const char *msg_part;      /* substring the message must contain, or NULL */
} expect;

/* Build case c into b and say what the reader must answer. */
static void make_case(int c, tg_buf *b, expect *e)
{
    tg_small_off o;
    e->msg_part = NULL;
    switch (c) {
    /* -- files that start from a header of their own ------------------------------------- */
    case C_KEY_TOO_LONG: {
        char key[301];
        memset(key, 'a', 300);
        key[300] = '\0';
        tg_header(b, 3, 0, 1);
        tg_kv(b, key, SRC_GGUF_UINT8);
        tg_u8(b, 1);
        *e = (expect){TRIT_E_LIMIT, 24, "cap"};
        return;
    }
    case C_EMPTY_KEY:
        tg_header(b, 3, 0, 1);
        tg_kv(b, "", SRC_GGUF_UINT32);
        tg_u32(b, 1);
        *e = (expect){TRIT_E_CORRUPT, 24, "empty key"};
        return;
    case C_KEY_NUL:
        tg_header(b, 3, 0, 1);
        tg_u64(b, 3);
        tg_bytes(b, "a\0b", 3);
        tg_u32(b, SRC_GGUF_UINT32);
        tg_u32(b, 1);
        *e = (expect){TRIT_E_CORRUPT, 24, "NUL"};
        return;
    case C_DUP_KEY:
        tg_header(b, 3, 0, 2);
        tg_kv_u32(b, "x", 1);
        tg_kv_u32(b, "x", 2);
        *e = (expect){TRIT_E_CORRUPT, 24 + 8 + 1 + 4 + 4, "duplicate key"};
        return;
    case C_ARRAY_COUNT_HUGE:
        tg_header(b, 3, 0, 1);
        tg_kv(b, "a", SRC_GGUF_ARRAY);
        tg_u32(b, SRC_GGUF_UINT64);
        tg_u64(b, 1ull << 61);
        tg_zero(b, 64);
        *e = (expect){TRIT_E_TRUNCATED, 41, "array"};
        return;
    case C_NESTED_TOO_DEEP:
        tg_header(b, 3, 0, 1);
        tg_kv(b, "a", SRC_GGUF_ARRAY);
        for (unsigned d = 1; d <= TRIT_MAX_GGUF_ARRAY_DEPTH; d++) {
            tg_u32(b, SRC_GGUF_ARRAY);
            tg_u64(b, 1);
        }
        tg_zero(b, 64);
        *e = (expect){TRIT_E_LIMIT, 37 + 12 * (TRIT_MAX_GGUF_ARRAY_DEPTH - 1), "nested"};
        return;
    case C_STRING_OVER_CAP:
        tg_header(b, 3, 0, 1);
        tg_kv(b, "s", SRC_GGUF_STRING);
        tg_u64(b, (uint64_t)TRIT_MAX_STRING_LEN + 1);
        tg_zero(b, (size_t)TRIT_MAX_STRING_LEN + 1);
        *e = (expect){TRIT_E_LIMIT, 37, "cap"};
        return;
    case C_SPLIT_NO_GE_COUNT:
        tg_header(b, 3, 0, 2);
        tg_kv(b, "split.count", SRC_GGUF_UINT16);
        tg_u16(b, 2);
        tg_kv(b, "split.no", SRC_GGUF_UINT16);
        tg_u16(b, 5);
        *e = (expect){TRIT_E_CORRUPT, 24 + 8 + 11 + 4 + 2 + 8 + 8 + 4, "split"};
        return;
    case C_FORK_TL2: {
        uint64_t const ne[1] = {128};
        tg_tinfo_off t;
        tg_header(b, 3, 1, 1);
        tg_kv_str(b, "general.architecture", "bitnet-b1.58");
        tg_tinfo(b, "w", 1, ne, 39, 0, &t);
        tg_pad(b, 32);
        tg_zero(b, 64);
        *e = (expect){TRIT_E_UNSUPPORTED, t.type, "TL2"};
        return;
    }
    case C_TNAME_TOO_LONG: {
        char name[301];
        uint64_t const ne[1] = {1};
        memset(name, 'n', 300);
        name[300] = '\0';
        tg_header(b, 3, 1, 0);
        tg_tinfo(b, name, 1, ne, SRC_GGML_F32, 0, NULL);
        tg_pad(b, 32);
        tg_zero(b, 4);
        *e = (expect){TRIT_E_LIMIT, 24, "cap"};
        return;
    }
    default: break;
    }
    /* -- one field of the small valid file broken ------------------------------------------ */
    tg_small(b, 3, NULL, &o);
    switch (c) {
    case C_BAD_MAGIC: b->p[0] = 'X'; *e = (expect){TRIT_E_CORRUPT, 0, "magic"}; break;
    case C_VERSION_0: tg_put_u32_at(b, 4, 0); *e = (expect){TRIT_E_UNSUPPORTED, 4, "version 0"}; break;
    case C_VERSION_1: tg_put_u32_at(b, 4, 1); *e = (expect){TRIT_E_UNSUPPORTED, 4, "v1"}; break;
    case C_VERSION_FUTURE: tg_put_u32_at(b, 4, 4); *e = (expect){TRIT_E_UNSUPPORTED, 4, "version 4"}; break;
    case C_BIG_ENDIAN: tg_put_u32_at(b, 4, 0x03000000u); *e = (expect){TRIT_E_UNSUPPORTED, 4, "big-endian"}; break;
    case C_N_TENSORS_HUGE: tg_put_u64_at(b, 8, 1ull << 62); *e = (expect){TRIT_E_TRUNCATED, 8, "tensor count"}; break;
    case C_N_KV_HUGE: tg_put_u64_at(b, 16, 1ull << 40); *e = (expect){TRIT_E_TRUNCATED, 16, "KV count"}; break;
    case C_KEY_LEN_PAST_EOF: tg_put_u64_at(b, 24, b->len); *e = (expect){TRIT_E_TRUNCATED, 24, "left"}; break;
    case C_KEY_LEN_OVERFLOW: tg_put_u64_at(b, 24, UINT64_MAX - 3); *e = (expect){TRIT_E_TRUNCATED, 24, NULL}; break;
    case C_BAD_VALUE_TYPE:   /* type field of general.architecture: after the 20-byte key */
        tg_put_u32_at(b, 24 + 8 + 20, 13);
        *e = (expect){TRIT_E_CORRUPT, 24 + 8 + 20, "value type"};
        break;
    case C_BAD_ELEM_TYPE:
        tg_put_u32_at(b, o.kv_strarr_count - 4, 99);
        *e = (expect){TRIT_E_CORRUPT, o.kv_strarr_count - 4, "element type"};
        break;
    case C_STRARR_COUNT_HUGE:
        tg_put_u64_at(b, o.kv_strarr_count, 1ull << 60);
        *e = (expect){TRIT_E_TRUNCATED, o.kv_strarr_count, "array"};
        break;
    case C_STRING_PAST_EOF:   /* first string element of the token array */
        tg_put_u64_at(b, o.kv_strarr_count + 8, 1u << 20);
        *e = (expect){TRIT_E_TRUNCATED, o.kv_strarr_count + 8, "string element"};
        break;
    case C_ALIGN_NOT_POW2: tg_put_u32_at(b, o.kv_align_val, 48); *e = (expect){TRIT_E_CORRUPT, o.kv_align_val, "power of two"}; break;
    case C_ALIGN_ZERO: tg_put_u32_at(b, o.kv_align_val, 0); *e = (expect){TRIT_E_CORRUPT, o.kv_align_val, "power of two"}; break;
    case C_ALIGN_TOO_BIG: tg_put_u32_at(b, o.kv_align_val, 1u << 30); *e = (expect){TRIT_E_LIMIT, o.kv_align_val, "cap"}; break;
    case C_ALIGN_WRONG_TYPE:
        tg_put_u32_at(b, o.kv_align_val - 4, SRC_GGUF_FLOAT32);
        *e = (expect){TRIT_E_CORRUPT, o.kv_align_val, "float32"};
        break;
    case C_N_DIMS_5: tg_put_u32_at(b, o.t[0].n_dims, 5); *e = (expect){TRIT_E_CORRUPT, o.t[0].n_dims, "dimensions"}; break;
    case C_NE_NEGATIVE: tg_put_u64_at(b, o.t[1].ne, 1ull << 63); *e = (expect){TRIT_E_CORRUPT, o.t[1].ne, "negative"}; break;
    case C_TYPE_REMOVED: tg_put_u32_at(b, o.t[0].type, 4); *e = (expect){TRIT_E_UNSUPPORTED, o.t[0].type, "removed"}; break;
    case C_TYPE_UNKNOWN: tg_put_u32_at(b, o.t[0].type, 99); *e = (expect){TRIT_E_UNSUPPORTED, o.t[0].type, "99"}; break;
    case C_OFFSET_UNALIGNED: tg_put_u64_at(b, o.t[1].off, 96); *e = (expect){TRIT_E_CORRUPT, o.t[1].off, "alignment"}; break;
    case C_DATA_PAST_EOF: tg_put_u64_at(b, o.t[2].off, 1u << 20); *e = (expect){TRIT_E_TRUNCATED, o.t[2].off, "end of the file"}; break;
    case C_OFFSET_OVERFLOW: tg_put_u64_at(b, o.t[2].off, UINT64_MAX - 63); *e = (expect){TRIT_E_CORRUPT, o.t[2].off, "overflow"}; break;
    case C_SIZE_NOT_MATCHING_SHAPE:   /* t0 F32 [32] = 128 bytes, but t1 starts at 64 */
        tg_put_u64_at(b, o.t[0].ne, 32);
        *e = (expect){TRIT_E_CORRUPT, o.t[1].off, "overlaps tensor 't0.weight'"};
        break;
    case C_SIZE_PAST_EOF:             /* t2 Q8_0 [32,3] = 102 bytes, the file holds 68 */
        tg_put_u64_at(b, o.t[2].ne + 8, 3);
        *e = (expect){TRIT_E_TRUNCATED, o.t[2].off, "end of the file"};
        break;
    case C_NE0_NOT_BLOCK: tg_put_u64_at(b, o.t[2].ne, 30); *e = (expect){TRIT_E_CORRUPT, o.t[2].ne, "block size"}; break;
    case C_ELEM_OVERFLOW:
        tg_put_u64_at(b, o.t[1].ne, 1ull << 40);
        tg_put_u64_at(b, o.t[1].ne + 8, 1ull << 40);
        *e = (expect){TRIT_E_CORRUPT, o.t[1].ne, "overflow"};
        break;
    case C_DUP_TENSOR:   /* "blk.1.t2.weight" renamed to t1's name (same length) */
        memcpy(b->p + o.t[2].rec + 8, "blk.0.t1.weight", 15);
        *e = (expect){TRIT_E_CORRUPT, o.t[2].rec, "duplicate tensor name"};
        break;
    case C_TRUNCATED_DATA: b->len -= 10; *e = (expect){TRIT_E_TRUNCATED, o.t[2].off, "end of the file"}; break;
    default: test_fail_(__FILE__, __LINE__, "case %d not built", c); break;
    }
}

static void check_err(const char *how, int c, int rc, const trit_err *err, const expect *e, const char *file)
{
    if (rc != e->code || err->offset != e->off || strcmp(err->file, file) != 0 ||
        (e->msg_part && !strstr(err->msg, e->msg_part))) {
        char buf[600];
        test_fail_(__FILE__, __LINE__, "%s case %s: got %d at %llu (%s), want %d at %llu%s%s", how, case_names[c], rc,
                   (unsigned long long)err->offset, trit_err_format(err, buf, sizeof buf), e->code,
                   (unsigned long long)e->off, e->msg_part ? " with " : "", e->msg_part ? e->msg_part : "");
    }
}

TEST(src_gguf_corrupt_cases)
{
    for (int c = 0; c < C_COUNT_; c++) {
        tg_buf b = {0};
        expect e;
        trit_err err;
        src_gguf *h = (src_gguf *)&b;    /* must be reset to NULL on failure */
        make_case(c, &b, &e);
        CHECK(!b.oom);
        int rc = src_gguf_open_mem(b.p, b.len, "corrupt.gguf", &h, &err);
        check_err("memory", c, rc, &err, &e, "corrupt.gguf");
        CHECK(h == NULL);
        src_gguf_close(rc == TRIT_OK ? h : NULL);
        /* the same bytes through the file path (pread window) */
        const char *path = test_path(test_tmpdir(), "corrupt.gguf");
        CHECK(test_write_file(path, b.p, b.len) == 0);
        h = (src_gguf *)&b;
        rc = src_gguf_open(path, NULL, &h, &err);
        check_err("file", c, rc, &err, &e, path);
        CHECK(h == NULL);
        src_gguf_close(rc == TRIT_OK ? h : NULL);
        tg_free(&b);
    }
}

/* The valid small file cut at every length: always TRUNCATED, at an offset inside what is there
 * (header cuts) or at the offset field of the tensor whose data is cut. */
TEST(src_gguf_truncated_every_byte)
{
    tg_buf b = {0};
    tg_small_off o;
    tg_small(&b, 3, NULL, &o);
    for (size_t k = 0; k < b.len; k++) {
        src_gguf *h = NULL;
        trit_err err;
        int const rc = src_gguf_open_mem(b.p, k, "cut.gguf", &h, &err);
        uint64_t want_off = TRIT_NO_OFFSET;
        /* tensors end at data+16 (F32), data+72 (F16), data+196 (Q8_0); the first cut one
         * in file order is reported */
        if (k >= o.data + 72) want_off = o.t[2].off;
        else if (k >= o.data + 16) want_off = o.t[1].off;
        else if (k >= o.t[2].off + 8) want_off = o.t[0].off;
        if (rc != TRIT_E_TRUNCATED || h != NULL ||
            (want_off != TRIT_NO_OFFSET ? err.offset != want_off : err.offset > k)) {
            char buf[512];
            test_fail_(__FILE__, __LINE__, "cut at %zu: rc %d offset %llu (%s)", k, rc,
                       (unsigned long long)err.offset, trit_err_format(&err, buf, sizeof buf));
            src_gguf_close(h);
            break;
        }
    }
    src_gguf *h = NULL;
    trit_err err;
    CHECK_OK_E(src_gguf_open_mem(b.p, b.len, "whole.gguf", &h, &err), &err);
    src_gguf_close(h);
    tg_free(&b);
}

/* Nesting right at the cap is accepted and readable. */
TEST(src_gguf_nested_at_cap_ok)
{
    tg_buf b = {0};
    tg_header(&b, 3, 0, 1);
    tg_kv(&b, "a", SRC_GGUF_ARRAY);
    for (unsigned d = 1; d < TRIT_MAX_GGUF_ARRAY_DEPTH; d++) {
        tg_u32(&b, SRC_GGUF_ARRAY);
        tg_u64(&b, 1);
    }
    tg_u32(&b, SRC_GGUF_INT8);
    tg_u64(&b, 2);
    tg_u8(&b, 7);
    tg_u8(&b, (uint8_t)-7);
    src_gguf *h = NULL;
    trit_err err;
    CHECK_OK_E(src_gguf_open_mem(b.p, b.len, "deep.gguf", &h, &err), &err);
    if (h) {
        src_gguf_val v, e;
        src_gguf_kv_val(h, 0, &v);
        for (unsigned d = 1; d < TRIT_MAX_GGUF_ARRAY_DEPTH; d++) {
            src_gguf_iter it;
            src_gguf_iter_init(&it, &v);
            CHECK(src_gguf_iter_next(&it, &e));
            v = e;
        }
        int64_t x = 0;
        CHECK_EQ_INT(v.elem_type, SRC_GGUF_INT8);
        CHECK_EQ_U64(v.count, 2);
        src_gguf_iter it;
        src_gguf_iter_init(&it, &v);
        CHECK(src_gguf_iter_next(&it, &e) && src_gguf_val_i64(&e, &x) == TRIT_OK && x == 7);
        CHECK(src_gguf_iter_next(&it, &e) && src_gguf_val_i64(&e, &x) == TRIT_OK && x == -7);
        CHECK(!src_gguf_iter_next(&it, &e));
    }
    src_gguf_close(h);
    tg_free(&b);
}

/* Cut files read through the growing file window fail exactly as the same bytes in memory. */
TEST(src_gguf_truncated_file_window_matches_memory)
{
    tg_buf b = {0};
    tg_small(&b, 3, NULL, NULL);
    char path[4096];
    snprintf(path, sizeof path, "%s", test_path(test_tmpdir(), "cut_win.gguf"));
    src_gguf_opts const opts = {0, 8};
    for (size_t k = 0; k < b.len; k += 7) {
        src_gguf *h = NULL;
        trit_err em, ef;
        int const rm = src_gguf_open_mem(b.p, k, "m", &h, &em);
        CHECK(test_write_file(path, b.p, k) == 0);
        int const rf = src_gguf_open(path, &opts, &h, &ef);
        if (rm != rf || em.offset != ef.offset || strcmp(em.msg, ef.msg) != 0) {
            test_fail_(__FILE__, __LINE__, "cut at %zu: memory %d@%llu '%s', file %d@%llu '%s'", k, rm,
                       (unsigned long long)em.offset, em.msg, rf, (unsigned long long)ef.offset, ef.msg);
            break;
        }
    }
    tg_free(&b);
}
