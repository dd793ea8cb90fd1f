/* test_verify_stream.c - the streaming verifier (trit_verify_stream_*) against the whole-file
 * one (trit_reader_verify): for every byte of the sample containers flipped (two masks), and
 * for damage behind a valid checksum (code 3, padding), both give the same verdict and the
 * same error (code, offset, file, object, message) whatever the piece sizes. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "tfmt.h"
#include "trit_cursor.h"
#include "trit_int.h"

/* Feed buf in pieces: piece sizes from `how` (0: whole, >0: that size, <0: pseudo-random
 * sizes 1..-how from seed). The first error ends the feed (as a caller would). */
static int stream_verify(const trit_reader *r, const uint8_t *buf, size_t len, long how, uint32_t seed, trit_err *err)
{
    trit_verify_stream *v = NULL;
    int rc = trit_verify_stream_new(r, &v, err);
    uint32_t x = seed | 1u;
    for (size_t off = 0; rc == TRIT_OK && off < len;) {
        size_t n = len - off;
        if (how > 0) {
            n = (size_t)how;
        } else if (how < 0) {
            x ^= x << 13, x ^= x >> 17, x ^= x << 5;
            n = 1 + x % (size_t)(-how);
        }
        if (n > len - off) n = len - off;
        rc = trit_verify_stream_feed(v, off, buf + off, n, err);
        off += n;
    }
    if (rc == TRIT_OK) rc = trit_verify_stream_finish(v, err);
    trit_verify_stream_free(v);
    return rc;
}

static int same_err(int a, const trit_err *ea, int b, const trit_err *eb)
{
    if (a != b) return 0;
    if (a == TRIT_OK) return 1;
    return ea->code == eb->code && ea->offset == eb->offset && strcmp(ea->file, eb->file) == 0 &&
           strcmp(ea->where, eb->where) == 0 && strcmp(ea->msg, eb->msg) == 0;
}

/* the small splits (1, 7, 1..3 bytes) cost a call per byte: every split for some flips only */
static const long hows[] = {0, 4096, -5000, 1, 7, -3, 65536, -300000};
#define N_CHEAP 3

/* Both verifiers over b (opened without verification); 1 if they agree for every split.
 * *failed counts files both refused. */
static int agree(const uint8_t *b, size_t len, uint32_t seed, int all, uint64_t *refused)
{
    trit_reader *r = NULL;
    trit_err e0;
    if (trit_reader_open_mem(b, len, "s.trit", NULL, &r, &e0) != TRIT_OK) return 1; /* refused at open */
    trit_err_clear(&e0);
    int const w = trit_reader_verify(r, &e0);
    int ok = 1;
    for (size_t h = 0; ok && h < (all ? sizeof hows / sizeof hows[0] : N_CHEAP); h++) {
        trit_err e1;
        trit_err_clear(&e1);
        int const s = stream_verify(r, b, len, hows[h], seed + (uint32_t)h, &e1);
        if (!same_err(w, &e0, s, &e1)) {
            char m0[600], m1[600];
            test_fail_(__FILE__, __LINE__, "split %ld: whole-file %d (%s), streaming %d (%s)", hows[h], w,
                       w ? trit_err_format(&e0, m0, sizeof m0) : "ok", s, s ? trit_err_format(&e1, m1, sizeof m1) : "ok");
            ok = 0;
        }
    }
    *refused += w != TRIT_OK;
    trit_reader_close(r);
    return ok;
}

static uint8_t *sample(int variant, size_t *len)
{
    const char *path = test_path(test_tmpdir(), variant == TFMT_FULL ? "vs-full.trit" : "vs-small.trit");
    trit_err err;
    if (tfmt_write(path, variant, &err) != TRIT_OK) return NULL;
    return test_read_file(path, len);
}

TEST(verify_stream_same_error_as_whole_file_for_every_flip)
{
    for (int variant = 0; variant < 2; variant++) {
        size_t len = 0;
        uint8_t *orig = sample(variant == 0 ? TFMT_FULL : TFMT_SMALL, &len);
        CHECK(orig != NULL);
        if (!orig) return;
        uint8_t *b = malloc(len);
        uint64_t refused = 0, bad = 0;
        CHECK(agree(orig, len, 1, 1, &refused));
        CHECK_EQ_U64(refused, 0);
        static const uint8_t masks[2] = {0x01, 0x80};
        for (int m = 0; m < 2; m++)
            for (size_t i = 0; i < len && bad < 3; i++) {
                memcpy(b, orig, len);
                b[i] ^= masks[m];
                bad += !agree(b, len, (uint32_t)i, i % 97 == 0, &refused);
            }
        fprintf(stderr, "     streaming vs whole-file: %zu-byte sample, %llu flips refused by verify, %llu disagree\n", len,
                (unsigned long long)refused, (unsigned long long)bad);
        CHECK(refused > 0);
        CHECK_EQ_U64(bad, 0);
        free(b);
        free(orig);
    }
}

/* Damage the checksums cannot see: the tensor's xxh3 in its record is rewritten to match, and
 * the index and header re-signed, so the code and padding checks are what fire. */
static void resign_tensor(uint8_t *b, size_t len, const trit_reader *r, uint32_t ti)
{
    trit_tensor_info const *t = trit_reader_tensor(r, ti);
    uint64_t const sum = trit_xxh3(b + t->offset, (size_t)t->size);
    uint64_t const rec = r->tensor_name_off[ti];
    /* the record's checksum: the only 8 bytes after the name holding the old value */
    for (uint64_t p = rec; p + 8 <= r->info.index_off + r->info.index_size && p + 8 <= len; p++)
        if (trit_load_le64(b + p) == t->xxh3) {
            trit_store_le64(b + p, sum);
            break;
        }
    uint64_t const isize = trit_load_le64(b + TRIT__H_ISIZE);
    if (isize <= len - TRIT__HEADER_SIZE) trit_store_le64(b + TRIT__H_ISUM, trit_xxh3(b + TRIT__HEADER_SIZE, (size_t)isize));
    trit_store_le64(b + TRIT__HEADER_SUM_OFF, trit_xxh3(b, TRIT__HEADER_SUM_OFF));
}

TEST(verify_stream_same_error_for_code_and_padding_damage)
{
    size_t len = 0;
    uint8_t *orig = sample(TFMT_FULL, &len);
    CHECK(orig != NULL);
    if (!orig) return;
    trit_reader *r = NULL;
    trit_err err;
    CHECK_OK_E(trit_reader_open_mem(orig, len, "s.trit", NULL, &r, &err), &err);
    uint8_t *b = malloc(len);
    uint64_t refused = 0, cases = 0;
    for (uint32_t i = 0; r && i < trit_reader_n_tensors(r); i++) {
        trit_tensor_info const *t = trit_reader_tensor(r, i);
        if (t->type != TRIT_TYPE_T2 || t->unit != TRIT_NONE32 || !t->size) continue;
        /* code 3 in the first, the middle and the last code byte */
        uint64_t const at[3] = {0, t->scales_off / 2, t->scales_off ? t->scales_off - 1 : 0};
        for (int k = 0; k < 3; k++) {
            memcpy(b, orig, len);
            b[t->offset + at[k]] |= 0xc0;
            resign_tensor(b, len, r, i);
            CHECK(agree(b, len, i * 3 + (uint32_t)k, 1, &refused));
            cases++;
        }
    }
    /* a padding byte between two objects */
    for (size_t i = 1; r && i < r->n_placed; i++)
        if (r->placed[i].start > r->placed[i - 1].end) {
            memcpy(b, orig, len);
            b[r->placed[i].start - 1] = 0x5a;
            CHECK(agree(b, len, (uint32_t)i, 1, &refused));
            cases++;
            break;
        }
    CHECK(cases >= 4);
    CHECK_EQ_U64(refused, cases); /* code 3 (or a non-zero byte before the scales) is always damage */
    trit_reader_close(r);
    free(b);
    free(orig);
}

TEST(verify_stream_refuses_misuse_and_short_input)
{
    size_t len = 0;
    uint8_t *orig = sample(TFMT_SMALL, &len);
    CHECK(orig != NULL);
    if (!orig) return;
    trit_reader *r = NULL;
    trit_err err;
    CHECK_OK_E(trit_reader_open_mem(orig, len, "s.trit", NULL, &r, &err), &err);
    trit_verify_stream *v = NULL;
    CHECK_OK_E(trit_verify_stream_new(r, &v, &err), &err);
    CHECK_EQ_INT(trit_verify_stream_feed(v, 5, orig + 5, 10, &err), TRIT_E_USAGE); /* out of order */
    CHECK_OK_E(trit_verify_stream_feed(v, 0, orig, len - 1, &err), &err);
    CHECK_EQ_INT(trit_verify_stream_finish(v, &err), TRIT_E_TRUNCATED);
    CHECK_EQ_U64(err.offset, len - 1);
    trit_verify_stream_free(v);
    /* the header changed between open and the stream */
    CHECK_OK_E(trit_verify_stream_new(r, &v, &err), &err);
    uint8_t *b = malloc(len);
    memcpy(b, orig, len);
    b[20] ^= 1;
    CHECK_EQ_INT(trit_verify_stream_feed(v, 0, b, len, &err), TRIT_E_CORRUPT);
    CHECK_EQ_U64(err.offset, 20);
    CHECK_EQ_INT(trit_verify_stream_finish(v, &err), TRIT_E_CORRUPT); /* sticky */
    trit_verify_stream_free(v);
    /* more bytes than the file */
    CHECK_OK_E(trit_verify_stream_new(r, &v, &err), &err);
    uint8_t *big = calloc(1, len + 1);
    memcpy(big, orig, len);
    CHECK_EQ_INT(trit_verify_stream_feed(v, 0, big, len + 1, &err), TRIT_E_CORRUPT);
    trit_verify_stream_free(v);
    free(big);
    free(b);
    trit_reader_close(r);
    free(orig);
}

/* Every input of the reader and verify fuzz corpora (past crashes and seeds) through both. */
TEST(verify_stream_agrees_on_fuzz_corpora)
{
    static const char *const dirs[] = {"reader", "verify"};
    uint64_t files = 0, refused = 0;
    for (int k = 0; k < 2; k++) {
        const char *root = getenv("TRIT_CORPUS");
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", test_path(root && *root ? root : "tests/fuzz/corpus", dirs[k]));
        DIR *d = opendir(dir);
        CHECK(d != NULL);
        if (!d) continue;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.') continue;
            size_t len = 0;
            uint8_t *buf = test_read_file(test_path(dir, e->d_name), &len);
            if (!buf) continue;
            CHECK(agree(buf, len, (uint32_t)len, 1, &refused));
            files++;
            free(buf);
        }
        closedir(d);
    }
    fprintf(stderr, "     %llu corpus files, %llu opened and refused by verify\n", (unsigned long long)files,
            (unsigned long long)refused);
    CHECK(files >= 10);
}
