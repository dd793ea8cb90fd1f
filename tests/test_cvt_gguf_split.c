/* test_cvt_gguf_split.c - gguf-split files: gathering tensors from every part, and the errors
 * for a missing part, a later part opened first, and parts that disagree. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "src_gguf.h"
#include "src_ggml_types.h"
#include "test.h"
#include "test_cvt_gguf_build.h"

typedef struct split_opts {
    uint32_t tensors_count;   /* split.tensors.count written in part 1 */
    int part3_no;             /* split.no written in part 3 (normally 2) */
    const char *part3_name;   /* tensor name in part 3 */
} split_opts;

/* One part: split keys (+ architecture in the first), n tensors of F32 [4] named names[i]
 * whose values are base + i*4 + k. */
static void build_part(tg_buf *b, int no, int count, uint32_t total, const char *const *names, int n,
                       float base)
{
    tg_header(b, 3, (uint64_t)n, no == 0 ? 4 : 3);
    if (no == 0) tg_kv_str(b, "general.architecture", "llama");
    tg_kv(b, "split.no", SRC_GGUF_UINT16);
    tg_u16(b, (uint16_t)no);
    tg_kv(b, "split.count", SRC_GGUF_UINT16);
    tg_u16(b, (uint16_t)count);
    tg_kv(b, "split.tensors.count", SRC_GGUF_INT32);
    tg_u32(b, total);
    uint64_t const ne[1] = {4};
    for (int i = 0; i < n; i++) tg_tinfo(b, names[i], 1, ne, SRC_GGML_F32, (uint64_t)i * 32, NULL);
    tg_pad(b, 32);
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < 4; k++) tg_f32(b, base + (float)(i * 4 + k));
        tg_pad(b, 32);
    }
}

/* Writes the three parts; returns the first part's path (static storage: test_path's ring of
 * buffers is reused too quickly to hand its strings around). */
static const char *write_split(const split_opts *so)
{
    static char first[4096];
    static const char *const p1[] = {"token_embd.weight", "blk.0.attn_q.weight"};
    static const char *const p2[] = {"blk.0.attn_k.weight"};
    const char *p3[] = {so->part3_name};
    const char *dir = test_tmpdir();
    tg_buf b = {0};
    build_part(&b, 0, 3, so->tensors_count, p1, 2, 0.0f);
    CHECK(test_write_file(test_path(dir, "m-00001-of-00003.gguf"), b.p, b.len) == 0);
    tg_free(&b);
    build_part(&b, 1, 3, so->tensors_count, p2, 1, 100.0f);
    CHECK(test_write_file(test_path(dir, "m-00002-of-00003.gguf"), b.p, b.len) == 0);
    tg_free(&b);
    build_part(&b, so->part3_no, 3, so->tensors_count, p3, 1, 200.0f);
    CHECK(test_write_file(test_path(dir, "m-00003-of-00003.gguf"), b.p, b.len) == 0);
    tg_free(&b);
    snprintf(first, sizeof first, "%s", test_path(dir, "m-00001-of-00003.gguf"));
    return first;
}

static const split_opts good = {4, 2, "output.weight"};

TEST(src_gguf_split_gathers_all_parts)
{
    const char *first = write_split(&good);
    src_gguf *h = NULL;
    trit_err err;
    CHECK_OK_E(src_gguf_open(first, NULL, &h, &err), &err);
    if (!h) return;
    CHECK_EQ_U64(src_gguf_n_files(h), 3);
    CHECK_EQ_U64(src_gguf_split_count(h), 3);
    CHECK_EQ_U64(src_gguf_n_tensors(h), 4);
    CHECK_EQ_U64(src_gguf_n_kv(h), 4);                 /* metadata of the first part */
    CHECK_STR(src_gguf_arch(h), "llama");
    CHECK(strstr(src_gguf_file_path(h, 2), "m-00003-of-00003.gguf") != NULL);
    static const uint32_t want_file[] = {0, 0, 1, 2};
    for (uint64_t i = 0; i < 4; i++) CHECK_EQ_U64(src_gguf_tensor(h, i)->file, want_file[i]);
    int64_t const o = src_gguf_find_tensor(h, "output.weight");
    CHECK_EQ_INT(o, 3);
    float f[4];
    CHECK_OK_E(src_gguf_to_f32(h, (uint64_t)o, 0, 4, f, &err), &err);
    CHECK(f[0] == 200.0f && f[3] == 203.0f);
    CHECK_OK_E(src_gguf_to_f32(h, 2, 1, 2, f, &err), &err);
    CHECK(f[0] == 101.0f && f[1] == 102.0f);
    CHECK_OK_E(src_gguf_to_f32(h, 1, 0, 4, f, &err), &err);
    CHECK(f[0] == 4.0f);
    src_gguf_close(h);
}

TEST(src_gguf_split_errors)
{
    const char *first = write_split(&good);
    char second[4096];
    snprintf(second, sizeof second, "%s", test_path(test_tmpdir(), "m-00002-of-00003.gguf"));
    src_gguf *h = NULL;
    trit_err err;
    /* a later part: refused, naming the first; with OPEN_SINGLE it opens alone */
    CHECK_EQ_INT(src_gguf_open(second, NULL, &h, &err), TRIT_E_USAGE);
    CHECK(strstr(err.msg, "m-00001-of-00003.gguf") != NULL);
    src_gguf_opts const single = {SRC_GGUF_OPEN_SINGLE, 0};
    CHECK_OK_E(src_gguf_open(second, &single, &h, &err), &err);
    if (h) CHECK_EQ_U64(src_gguf_n_tensors(h), 1);
    src_gguf_close(h);
    h = NULL;
    CHECK_OK_E(src_gguf_open(first, &single, &h, &err), &err);
    if (h) CHECK_EQ_U64(src_gguf_n_tensors(h), 2);
    src_gguf_close(h);
    h = NULL;

    /* split.tensors.count disagrees with the parts */
    split_opts so = good;
    so.tensors_count = 5;
    write_split(&so);
    CHECK_EQ_INT(src_gguf_open(first, NULL, &h, &err), TRIT_E_CORRUPT);
    CHECK(strstr(err.msg, "split.tensors.count") != NULL);
    /* part 3 says it is part 2 */
    so = good;
    so.part3_no = 1;
    write_split(&so);
    CHECK_EQ_INT(src_gguf_open(first, NULL, &h, &err), TRIT_E_CORRUPT);
    CHECK(strstr(err.file, "m-00003-of-00003.gguf") != NULL);
    /* a tensor name repeated in another part */
    so = good;
    so.part3_name = "blk.0.attn_q.weight";
    write_split(&so);
    CHECK_EQ_INT(src_gguf_open(first, NULL, &h, &err), TRIT_E_CORRUPT);
    CHECK(strstr(err.msg, "duplicate tensor name") != NULL);
    CHECK(strstr(err.file, "m-00003-of-00003.gguf") != NULL);

    /* a missing part is reported by name */
    write_split(&good);
    CHECK(unlink(second) == 0);
    CHECK_EQ_INT(src_gguf_open(first, NULL, &h, &err), TRIT_E_NOTFOUND);
    CHECK(h == NULL);
    CHECK(strstr(err.file, "m-00002-of-00003.gguf") != NULL);
    CHECK(strstr(err.msg, "part 2 of 3") != NULL);

    /* a first part whose name does not follow the pattern cannot find the others */
    tg_buf b = {0};
    static const char *const names[] = {"a"};
    build_part(&b, 0, 3, 4, names, 1, 0.0f);
    const char *odd = test_path(test_tmpdir(), "renamed.gguf");
    CHECK(test_write_file(odd, b.p, b.len) == 0);
    CHECK_EQ_INT(src_gguf_open(odd, NULL, &h, &err), TRIT_E_NOTFOUND);
    CHECK(strstr(err.msg, "-00001-of-00003.gguf") != NULL);
    tg_free(&b);
}
