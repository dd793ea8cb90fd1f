/* test_cvt_safetensors_corrupt.c - the corrupt-file generator for the safetensors reader
 * (style R15): each case is built in memory from a valid seed, and the reader must return
 * exactly the expected TRIT_E_* code at exactly the expected file offset. Every parser bug
 * fixed later adds an entry here. */
#include <stdlib.h>
#include <string.h>

#include "src_safetensors.h"
#include "test.h"
#include "test_cvt_safetensors.h"
#include "trit_cursor.h"
#include "trit_limits.h"

typedef enum st_case {
    ST_OK_SEED,
    ST_FILE_SHORTER_THAN_LENGTH,   /* 5 bytes */
    ST_HDR_LEN_OVER_CAP,           /* N = 100 MiB + 1 */
    ST_HDR_LEN_U64_MAX,            /* N = 2^64-1: no 8+N overflow */
    ST_HDR_LEN_PAST_EOF,           /* N = bytes after the length + 1 */
    ST_HDR_EMPTY,                  /* N = 0 */
    ST_HDR_NOT_BRACE,              /* leading space before '{' */
    ST_HDR_BAD_JSON,               /* {"a":} */
    ST_HDR_TRUNCATED_JSON,         /* {"a":{"dtype":"U8" */
    ST_HDR_DEPTH_BOMB,             /* {"a":[[[[...  */
    ST_HDR_TRAILING_BYTE,          /* {} followed by 'x' */
    ST_HDR_NUL_PADDING,            /* {} followed by NUL bytes */
    ST_HDR_NEWLINE_PADDING,        /* {} followed by '\n' */
    ST_HDR_TOP_ARRAY,              /* [] */
    ST_HDR_BAD_UTF8,               /* 0xC0 0x80 in a name */
    ST_HDR_NUL_ESCAPE,             /* "\u0000" in a name */
    ST_HDR_LONE_SURROGATE,         /* "\ud800" */
    ST_HDR_LEADING_ZERO,           /* [01] */
    ST_NEGATIVE_NUMBER,            /* shape [-1] */
    ST_FRACTION_NUMBER,            /* shape [2.0] */
    ST_NUMBER_2_53,                /* data_offsets end 2^53 */
    ST_UNKNOWN_DTYPE,              /* "F7" */
    ST_DTYPE_NOT_STRING,           /* "dtype": 8 */
    ST_MISSING_SHAPE,
    ST_MISSING_OFFSETS,
    ST_DUP_FIELD,                  /* "dtype" twice in one entry */
    ST_OFFSETS_THREE,              /* data_offsets [0, 4, 8] */
    ST_TOO_MANY_DIMS,              /* 9 dims */
    ST_ELEM_OVERFLOW,              /* [2^32, 2^32] */
    ST_DTYPE_SHAPE_MISMATCH,       /* F32 [2] over 4 bytes */
    ST_END_BEFORE_BEGIN,           /* [8, 4] */
    ST_F4_ODD_COUNT,               /* F4 [3] */
    ST_NAME_TOO_LONG,              /* 256-byte name */
    ST_ENTRY_NOT_OBJECT,           /* "a": 5 */
    ST_DUP_NAME,
    ST_META_NOT_STRING,            /* {"k": 1} (safetensors#278) */
    ST_META_NOT_OBJECT,            /* "__metadata__": [] */
    ST_META_DUP_KEY,
    ST_META_TWICE,
    ST_GAP,
    ST_OVERLAP,
    ST_FIRST_NOT_ZERO,             /* first tensor begins at 4 */
    ST_TRAILING_DATA,              /* 3 bytes after the last tensor */
    ST_DATA_PAST_EOF,              /* last tensor runs 4 bytes past EOF */
    ST_LFS_POINTER,
    ST_HTML_PAGE,
    ST_OK_NO_TENSORS,              /* fuzz: {} with no data opens (was NULL + 0 under UBSan) */
    ST_NO_TENSORS_TRAILING_DATA,   /* {} followed by 5 data bytes */
    ST_CASE_COUNT_
} st_case;

typedef struct expect {
    int code;
    uint64_t offset;
    const char *needle;   /* must appear in the formatted message (NULL: no check) */
} expect;

/* Image of a single header + data with the header padded to a multiple of 8 (so the data
 * offset is predictable: 8 + round8(strlen(header))). */
static uint8_t *img(const char *header, const void *data, size_t data_len, size_t *len)
{
    return stt_image(header, (8 - strlen(header) % 8) % 8, data, data_len, len);
}

static uint64_t data_off_of(const char *header)
{
    size_t const n = strlen(header);
    return 8 + n + (8 - n % 8) % 8;
}

/* Offset of the first occurrence of `needle` in the header, as a file offset. */
static uint64_t at(const char *header, const char *needle)
{
    const char *p = strstr(header, needle);
    return p ? 8 + (uint64_t)(p - header) : UINT64_MAX;
}

/* Offset of the n-th (0-based) occurrence of needle. */
static uint64_t at_nth(const char *header, const char *needle, int n)
{
    const char *p = header;
    for (int i = 0; p && i <= n; i++) {
        p = strstr(p, needle);
        if (p && i < n) p++;
    }
    return p ? 8 + (uint64_t)(p - header) : UINT64_MAX;
}

static uint8_t *build(st_case c, size_t *len, expect *ex)
{
    static char h[8192];
    uint8_t d[64];
    for (int i = 0; i < 64; i++) d[i] = (uint8_t)(i * 37 + 11);
    ex->needle = NULL;
    switch (c) {
    case ST_OK_SEED:
        snprintf(h, sizeof h, "{\"__metadata__\":{\"format\":\"pt\"},\"a\":{\"dtype\":\"F32\",\"shape\":[2],"
                 "\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"U8\",\"shape\":[2,2],\"data_offsets\":[8,12]}}");
        *ex = (expect){TRIT_OK, 0, NULL};
        return img(h, d, 12, len);
    case ST_FILE_SHORTER_THAN_LENGTH: {
        uint8_t *b = malloc(5);
        memcpy(b, "\x10\0\0\0\0", 5);
        *len = 5;
        *ex = (expect){TRIT_E_TRUNCATED, 0, "header length"};
        return b;
    }
    case ST_HDR_LEN_OVER_CAP:
    case ST_HDR_LEN_U64_MAX:
    case ST_HDR_LEN_PAST_EOF: {
        uint8_t *b = img("{}", NULL, 0, len);   /* 16 bytes: N = 8 */
        uint64_t const n = c == ST_HDR_LEN_OVER_CAP ? TRIT_MAX_ST_HEADER + 1ull
                         : c == ST_HDR_LEN_U64_MAX ? UINT64_MAX : 9;
        trit_store_le64(b, n);
        *ex = (expect){c == ST_HDR_LEN_PAST_EOF ? TRIT_E_TRUNCATED : TRIT_E_LIMIT, 0, "header length"};
        return b;
    }
    case ST_HDR_EMPTY:
        *ex = (expect){TRIT_E_CORRUPT, 8, "empty"};
        return stt_image("", 0, NULL, 0, len);
    case ST_HDR_NOT_BRACE:
        *ex = (expect){TRIT_E_CORRUPT, 8, "start with '{'"};
        return stt_image(" {}", 5, NULL, 0, len);
    case ST_HDR_BAD_JSON:
        *ex = (expect){TRIT_E_CORRUPT, 8 + 5, NULL};
        return stt_image("{\"a\":}", 2, NULL, 0, len);
    case ST_HDR_TRUNCATED_JSON:
        *ex = (expect){TRIT_E_CORRUPT, 8 + 18, "ends"};
        return stt_image("{\"a\":{\"dtype\":\"U8\"", 0, NULL, 0, len);
    case ST_HDR_DEPTH_BOMB: {
        /* '{' is depth 1, the k-th '[' (0-based, at 5+k) depth k+2: the first over the cap of
         * 64 is k = 63, at header position 68. */
        size_t k = (size_t)snprintf(h, sizeof h, "{\"a\":");
        for (int i = 0; i < 1000; i++) h[k++] = '[';
        for (int i = 0; i < 1000; i++) h[k++] = ']';
        h[k++] = '}';
        h[k] = '\0';
        *ex = (expect){TRIT_E_LIMIT, 8 + 5 + (TRIT_MAX_JSON_DEPTH - 1), "nesting"};
        return img(h, NULL, 0, len);
    }
    case ST_HDR_TRAILING_BYTE:
        *ex = (expect){TRIT_E_CORRUPT, 8 + 2, "space"};
        return stt_image("{}x", 5, NULL, 0, len);
    case ST_HDR_NUL_PADDING: {
        uint8_t *b = stt_image("{}", 6, NULL, 0, len);
        memset(b + 10, 0, 6);
        *ex = (expect){TRIT_E_CORRUPT, 8 + 2, "space"};
        return b;
    }
    case ST_HDR_NEWLINE_PADDING:
        *ex = (expect){TRIT_E_CORRUPT, 8 + 2, "space"};
        return stt_image("{}\n", 5, NULL, 0, len);
    case ST_HDR_TOP_ARRAY:
        *ex = (expect){TRIT_E_CORRUPT, 8, "start with '{'"};
        return stt_image("[]", 6, NULL, 0, len);
    case ST_HDR_BAD_UTF8:
        snprintf(h, sizeof h, "{\"a\xc0\x80\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}");
        *ex = (expect){TRIT_E_CORRUPT, 8 + 3, "UTF-8"};
        return img(h, d, 1, len);
    case ST_HDR_NUL_ESCAPE:
        snprintf(h, sizeof h, "{\"a\\u0000b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}");
        *ex = (expect){TRIT_E_CORRUPT, 8 + 3, "u0000"};
        return img(h, d, 1, len);
    case ST_HDR_LONE_SURROGATE:
        snprintf(h, sizeof h, "{\"a\\ud800\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}");
        *ex = (expect){TRIT_E_CORRUPT, 8 + 3, "surrogate"};
        return img(h, d, 1, len);
    case ST_HDR_LEADING_ZERO:
        snprintf(h, sizeof h, "{\"a\":{\"dtype\":\"U8\",\"shape\":[01],\"data_offsets\":[0,1]}}");
        *ex = (expect){TRIT_E_CORRUPT, at(h, "01"), "leading zero"};
        return img(h, d, 1, len);
    case ST_NEGATIVE_NUMBER:
        snprintf(h, sizeof h, "{\"a\":{\"dtype\":\"U8\",\"shape\":[-1],\"data_offsets\":[0,1]}}");
        *ex = (expect){TRIT_E_CORRUPT, at(h, "-1"), "negative"};
        return img(h, d, 1, len);
    case ST_FRACTION_NUMBER:
        snprintf(h, sizeof h, "{\"a\":{\"dtype\":\"U8\",\"shape\":[2.0],\"data_offsets\":[0,2]}}");
        *ex = (expect){TRIT_E_CORRUPT, at(h, "2.0"), "integer"};
        return img(h, d, 2, len);
    case ST_NUMBER_2_53:
        snprintf(h, sizeof h, "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,9007199254740992]}}");
        *ex = (expect){TRIT_E_LIMIT, at(h, "9007"), "2^53"};
        return img(h, d, 1, len);
    case ST_UNKNOWN_DTYPE:
        snprintf(h, sizeof h, "{\"x\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                 "\"a\":{\"dtype\":\"F7\",\"shape\":[1],\"data_offsets\":[1,2]}}");
        *ex = (expect){TRIT_E_UNSUPPORTED, at(h, "\"a\""), "unknown dtype 'F7'"};
        return img(h, d, 2, len);
    case ST_DTYPE_NOT_STRING:
        snprintf(h, sizeof h, "{\"a\":{\"dtype\":8,\"shape\":[1],\"data_offsets\":[0,1]}}");
        *ex = (expect){TRIT_E_CORRUPT, 9, "not a string"};
        return img(h, d, 1, len);
    case ST_MISSING_SHAPE:
        snprintf(h, sizeof h, "{\"a\":{\"dtype\":\"U8\",\"data_offsets\":[0,1]}}");
        *ex = (expect){TRIT_E_CORRUPT, 9, "missing field 'shape'"};
        return img(h, d, 1, len);
    case ST_MISSING_OFFSETS:
        snprintf(h, sizeof h, "{\"a\":{\"dtype\":\"U8\",\"shape\":[1]}}");
        *ex = (expect){TRIT_E_CORRUPT, 9, "missing field 'data_offsets'"};
        return img(h, d, 1, len);
    case ST_DUP_FIELD:
        snprintf(h, sizeof h, "{\"a\":{\"dtype\":\"U8\",\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[0,1]}}");
        *ex = (expect){TRIT_E_CORRUPT, 9, "duplicate field 'dtype'"};
        return img(h, d, 1, len);
    case ST_OFFSETS_THREE:
        snprintf(h, sizeof h, "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4,8]}}");
        *ex = (expect){TRIT_E_CORRUPT, 9, "[begin, end]"};
        return img(h, d, 4, len);
    case ST_TOO_MANY_DIMS:
        snprintf(h, sizeof h, "{\"x\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1]},"
                 "\"a\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[1,2]}}");
        *ex = (expect){TRIT_E_LIMIT, at(h, "\"a\""), "9 dimensions"};
        return img(h, d, 2, len);
    case ST_ELEM_OVERFLOW:
        snprintf(h, sizeof h, "{\"a\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,1]}}");
        *ex = (expect){TRIT_E_LIMIT, 9, "overflows"};
        return img(h, d, 1, len);
    case ST_DTYPE_SHAPE_MISMATCH:
        snprintf(h, sizeof h, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}");
        *ex = (expect){TRIT_E_CORRUPT, 9, "is 8 bytes, but data_offsets [0, 4] span 4"};
        return img(h, d, 4, len);
    case ST_END_BEFORE_BEGIN:
        snprintf(h, sizeof h, "{\"a\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[8,4]}}");
        *ex = (expect){TRIT_E_CORRUPT, 9, "end before"};
        return img(h, d, 8, len);
    case ST_F4_ODD_COUNT:
        snprintf(h, sizeof h, "{\"a\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,2]}}");
        *ex = (expect){TRIT_E_CORRUPT, 9, "whole bytes"};
        return img(h, d, 2, len);
    case ST_NAME_TOO_LONG: {
        char name[300];
        memset(name, 'n', 256);
        name[256] = '\0';
        snprintf(h, sizeof h, "{\"%s\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", name);
        *ex = (expect){TRIT_E_LIMIT, 9, "256 bytes"};
        return img(h, d, 1, len);
    }
    case ST_ENTRY_NOT_OBJECT:
        snprintf(h, sizeof h, "{\"a\":5}");
        *ex = (expect){TRIT_E_CORRUPT, 9, "not a JSON object"};
        return img(h, NULL, 0, len);
    case ST_DUP_NAME:
        snprintf(h, sizeof h, "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
                 "\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[4,8]},"
                 "\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[8,12]}}");
        *ex = (expect){TRIT_E_CORRUPT, at_nth(h, "\"a\"", 1), "duplicate tensor name"};
        return img(h, d, 12, len);
    case ST_META_NOT_STRING:
        snprintf(h, sizeof h, "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                 "\"__metadata__\":{\"ok\":\"x\",\"k\":1}}");
        *ex = (expect){TRIT_E_CORRUPT, at(h, "\"__metadata__\""), "value of key 'k' is not a string"};
        return img(h, d, 1, len);
    case ST_META_NOT_OBJECT:
        snprintf(h, sizeof h, "{\"__metadata__\":[],\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}");
        *ex = (expect){TRIT_E_CORRUPT, 9, "not an object"};
        return img(h, d, 1, len);
    case ST_META_DUP_KEY:
        snprintf(h, sizeof h, "{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}");
        *ex = (expect){TRIT_E_CORRUPT, 9, "duplicate key 'k'"};
        return img(h, NULL, 0, len);
    case ST_META_TWICE:
        snprintf(h, sizeof h, "{\"__metadata__\":{},\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                 "\"__metadata__\":null}");
        *ex = (expect){TRIT_E_CORRUPT, at_nth(h, "\"__metadata__\"", 1), "twice"};
        return img(h, d, 1, len);
    case ST_GAP:
        snprintf(h, sizeof h, "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
                 "\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[8,12]}}");
        *ex = (expect){TRIT_E_CORRUPT, data_off_of(h) + 4, "gap of 4 byte(s)"};
        return img(h, d, 12, len);
    case ST_OVERLAP:
        snprintf(h, sizeof h, "{\"b\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[4,12]},"
                 "\"a\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[0,8]}}");
        *ex = (expect){TRIT_E_CORRUPT, data_off_of(h) + 4, "overlap tensor 'a'"};
        return img(h, d, 12, len);
    case ST_FIRST_NOT_ZERO:
        snprintf(h, sizeof h, "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[4,8]}}");
        *ex = (expect){TRIT_E_CORRUPT, data_off_of(h), "gap of 4 byte(s)"};
        return img(h, d, 8, len);
    case ST_TRAILING_DATA:
        snprintf(h, sizeof h, "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}}");
        *ex = (expect){TRIT_E_CORRUPT, data_off_of(h) + 4, "3 bytes after the last tensor"};
        return img(h, d, 7, len);
    case ST_DATA_PAST_EOF:
        snprintf(h, sizeof h, "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
                 "\"b\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[4,12]}}");
        *ex = (expect){TRIT_E_TRUNCATED, data_off_of(h) + 4, "extends past end of file"};
        return img(h, d, 8, len);
    case ST_LFS_POINTER: {
        static const char lfs[] =
            "version https://git-lfs.github.com/spec/v1\n"
            "oid sha256:4d7a2146a1b2ee4b0e0a9a6d8c3ba6b1c4f1b1e4b1c3a8e7f0e9d8c7b6a5f4e3\n"
            "size 4939212800\n";
        uint8_t *b = malloc(sizeof lfs);
        memcpy(b, lfs, sizeof lfs - 1);
        *len = sizeof lfs - 1;
        *ex = (expect){TRIT_E_CORRUPT, 0, "Git LFS pointer"};
        return b;
    }
    case ST_HTML_PAGE: {
        static const char html[] = "\n  <!DOCTYPE html>\n<html><head><title>Sign in</title></head></html>\n";
        uint8_t *b = malloc(sizeof html);
        memcpy(b, html, sizeof html - 1);
        *len = sizeof html - 1;
        *ex = (expect){TRIT_E_CORRUPT, 0, "HTML page"};
        return b;
    }
    case ST_OK_NO_TENSORS:
        *ex = (expect){TRIT_OK, 0, NULL};
        return img("{}", NULL, 0, len);
    case ST_NO_TENSORS_TRAILING_DATA:
        *ex = (expect){TRIT_E_CORRUPT, 16, "5 bytes after the last tensor"};
        return img("{}", d, 5, len);
    case ST_CASE_COUNT_: break;
    }
    return NULL;
}

static void check_case(st_case c, const uint8_t *b, size_t len, const expect *ex, const char *via, int rc,
                       const trit_err *err)
{
    char msg[768];
    trit_err_format(err, msg, sizeof msg);
    if (rc != ex->code || (rc != TRIT_OK && err->offset != ex->offset) ||
        (ex->needle && !strstr(msg, ex->needle)))
        test_fail_(__FILE__, __LINE__, "case %d via %s: got %d at 0x%llx (%s), want %d at 0x%llx containing '%s'",
                   (int)c, via, rc, (unsigned long long)err->offset, msg, ex->code,
                   (unsigned long long)ex->offset, ex->needle ? ex->needle : "");
    (void)b;
    (void)len;
}

TEST(src_safetensors_corrupt_cases)
{
    for (int c = 0; c < ST_CASE_COUNT_; c++) {
        size_t len = 0;
        expect ex;
        uint8_t *b = build((st_case)c, &len, &ex);
        CHECK(b != NULL);
        if (!b) continue;
        trit_err err;
        trit_err_clear(&err);
        src_st *h = NULL;
        int rc = src_st_open_mem(b, len, "case", &h, &err);
        check_case((st_case)c, b, len, &ex, "memory", rc, &err);
        CHECK((rc == TRIT_OK) == (h != NULL));
        if (rc) CHECK_STR(err.file, "case");
        src_st_close(h);
        /* The file path gives the same answer and names the file. */
        char name[64];
        snprintf(name, sizeof name, "case%02d.safetensors", c);
        const char *p = test_path(stt_dir("corrupt"), name);
        CHECK_EQ_INT(test_write_file(p, b, len), 0);
        trit_err_clear(&err);
        h = NULL;
        rc = src_st_open(p, NULL, &h, &err);
        check_case((st_case)c, b, len, &ex, "file", rc, &err);
        if (rc) CHECK(strstr(err.file, name) != NULL);
        src_st_close(h);
        free(b);
    }
}

TEST(src_safetensors_corrupt_truncated_at_every_byte)
{
    /* Two tensors laid out in reverse JSON order plus metadata; every prefix must be refused
     * as truncated, at the length field while the header is incomplete, then at the first
     * tensor whose data the cut removes. */
    stt_writer *w = malloc(sizeof *w);
    uint8_t d[20];
    for (int i = 0; i < 20; i++) d[i] = (uint8_t)(200 - i);
    stt_init(w, "{\"k\":\"v\"}");
    w->reverse_json = 1;
    stt_add(w, "first", "U16", "[2, 3]", d, 12);
    stt_add(w, "second", "U8", "[8]", d + 12, 8);
    size_t len;
    uint8_t *b = stt_finish(w, &len);
    uint64_t const data_off = len - 20;
    trit_err err;
    src_st *h = NULL;
    CHECK_OK_E(src_st_open_mem(b, len, "full", &h, &err), &err);
    src_st_close(h);
    for (size_t k = 0; k < len; k++) {
        uint8_t *cut = malloc(k ? k : 1);
        memcpy(cut, b, k);
        h = NULL;
        trit_err_clear(&err);
        int const rc = src_st_open_mem(cut, k, "cut", &h, &err);
        uint64_t want_off = 0;
        if (k >= data_off) want_off = k - data_off < 12 ? data_off : data_off + 12;
        if (rc != TRIT_E_TRUNCATED || err.offset != want_off || h != NULL) {
            char msg[512];
            test_fail_(__FILE__, __LINE__, "cut at %zu: got %d at 0x%llx (%s), want TRUNCATED at 0x%llx", k, rc,
                       (unsigned long long)err.offset, trit_err_format(&err, msg, sizeof msg),
                       (unsigned long long)want_off);
        }
        src_st_close(h);
        free(cut);
    }
    free(b);
    free(w);
}

TEST(src_safetensors_corrupt_single_byte_flips_never_crash)
{
    /* Not a correctness oracle on its own: every flipped image must either open with tensors
     * inside the buffer or fail with a TRIT_E_* code (ASan/UBSan watch the rest). */
    stt_writer *w = malloc(sizeof *w);
    uint8_t d[16] = {0};
    stt_init(w, "{\"a\":\"b\"}");
    stt_add(w, "x", "F16", "[2, 2]", d, 8);
    stt_add(w, "y", "I32", "[2]", d + 8, 8);
    size_t len;
    uint8_t *b = stt_finish(w, &len);
    int opened = 0;
    for (size_t i = 0; i < len; i++)
        for (int bit = 0; bit < 8; bit++) {
            b[i] ^= (uint8_t)(1u << bit);
            trit_err err;
            src_st *h = NULL;
            int const rc = src_st_open_mem(b, len, "flip", &h, &err);
            CHECK(rc <= 0 && rc >= TRIT_E_EXISTS);
            if (h) {
                opened++;
                for (uint32_t t = 0; t < src_st_n_tensors(h); t++) {
                    const src_st_tensor *ti = src_st_tensor_at(h, t);
                    CHECK(ti->offset + ti->nbytes <= len);
                }
                src_st_close(h);
            }
            b[i] ^= (uint8_t)(1u << bit);
        }
    CHECK(opened > 0);   /* flips inside tensor data or names keep the file valid */
    free(b);
    free(w);
}
