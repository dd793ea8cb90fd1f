/* test_pack_manifest.c - the manifest parser and writer: a round trip is byte-identical, and
 * every rule of spec/manifest.md section 3.4 refuses a one-edit mutation of a good manifest. */
#include <stdlib.h>
#include <string.h>

#include "pack_int.h"
#include "test.h"
#include "test_pack.h"
#include "trit_limits.h"

/* Two files: a.trit carried whole, b.trit a delta (100 data + 50 copied + 10 zero bytes), in
 * manifest version `schema` (v2: each root is the root of its chunk list). */
static pack_manifest *sample_v(uint32_t schema)
{
    pack_manifest *const m = calloc(1, sizeof *m);
    m->schema = schema;
    m->model_id = strdup("test/sample");
    m->version = 2;
    m->fmt_major = 1;
    m->min_runtime[1] = 1;
    m->chunk_size = 4096;
    m->has_base = 1;
    m->base_version = 1;
    m->n_files = 2;
    m->files = calloc(2, sizeof *m->files);
    pack_file *const a = &m->files[0], *const b = &m->files[1];
    a->file.name = strdup("a.trit");
    a->file.size = 5000;
    a->file.n_chunks = 2;
    a->file.chunks = calloc(2, 32);
    memset(a->file.digest, 0x11, 32);
    memset(a->file.chunks[1], 0x22, 32);
    b->file.name = strdup("b.trit");
    b->file.size = 160;
    b->file.n_chunks = 1;
    b->file.chunks = calloc(1, 32);
    b->is_delta = 1;
    b->delta.name = strdup("b.trit.delta");
    b->delta.size = 100;
    b->delta.n_chunks = 1;
    b->delta.chunks = calloc(1, 32);
    b->base_path = strdup("b.trit");
    b->base_size = 50;
    b->n_extents = 3;
    b->extents = calloc(3, sizeof *b->extents);
    b->extents[0] = (pack_extent){PACK_EXT_DATA, 100, 0, 0};
    b->extents[1] = (pack_extent){PACK_EXT_COPY, 50, 0, 0xff};
    b->extents[2] = (pack_extent){PACK_EXT_ZERO, 10, 0, 0};
    memset(b->base_digest, 0x33, 32);
    if (schema == PACK_MANIFEST_V2) {
        trit_err err;
        pack_blob *const blobs[] = {&a->file, &b->file, &b->delta};
        for (size_t i = 0; i < 3; i++)
            CHECK_OK_E(pack_root(m->chunk_size, blobs[i]->size, (const uint8_t (*)[32])blobs[i]->chunks, blobs[i]->digest, &err),
                       &err);
    }
    return m;
}

static pack_manifest *sample(void)
{
    return sample_v(PACK_MANIFEST_V2);
}

static char *sample_text_v(uint32_t schema, size_t *n)
{
    pack_manifest *const m = sample_v(schema);
    char *text = NULL;
    trit_err err;
    CHECK_OK_E(pack_manifest_write(m, &text, n, &err), &err);
    pack_manifest_free(m);
    return text;
}

static char *sample_text(size_t *n)
{
    return sample_text_v(PACK_MANIFEST_V2, n);
}

TEST(pack_manifest_roundtrip)
{
    size_t n = 0;
    char *const text = sample_text(&n);
    pack_manifest *m = NULL;
    trit_err err;
    CHECK_OK_E(pack_manifest_parse(text, n, &m, &err), &err);
    if (m) {
        CHECK_STR(m->model_id, "test/sample");
        CHECK_EQ_U64(m->version, 2);
        CHECK_EQ_U64(m->min_runtime[1], 1);
        CHECK(m->has_base && m->base_version == 1);
        CHECK_EQ_U64(m->n_files, 2);
        CHECK(!m->files[0].is_delta && m->files[1].is_delta);
        CHECK_EQ_U64(m->files[0].file.chunks[1][0], 0x22);
        CHECK_EQ_U64(m->files[1].extents[1].xxh3, 0xff);
        CHECK_EQ_U64(m->files[1].extents[1].op, PACK_EXT_COPY);
        CHECK_STR(pack_manifest_member(m, 1)->name, "b.trit.delta");
        char *again = NULL;
        size_t n2 = 0;
        CHECK_OK_E(pack_manifest_write(m, &again, &n2, &err), &err);
        CHECK(again && n2 == n && memcmp(again, text, n) == 0);
        free(again);
    }
    pack_manifest_free(m);
    /* u64 versions survive exactly (they are strings, not doubles) */
    pack_manifest *big = sample();
    big->version = UINT64_MAX;
    big->base_version = UINT64_MAX - 1;
    char *t2 = NULL;
    size_t n2 = 0;
    CHECK_OK_E(pack_manifest_write(big, &t2, &n2, &err), &err);
    pack_manifest_free(big);
    CHECK(t2 && strstr(t2, "\"version\":\"18446744073709551615\""));
    CHECK_OK_E(pack_manifest_parse(t2, n2, &m, &err), &err);
    if (m) CHECK(m->version == UINT64_MAX && m->base_version == UINT64_MAX - 1);
    pack_manifest_free(m);
    free(t2);
    free(text);
}

/* Replace the first `from` in text with `to` and parse. */
static int mutate(const char *text, const char *from, const char *to, trit_err *err)
{
    const char *const at = strstr(text, from);
    if (!at) {
        test_fail_(__FILE__, __LINE__, "sample has no '%s'", from);
        return TRIT_OK;
    }
    size_t const n = strlen(text), nf = strlen(from), nt = strlen(to);
    char *const buf = malloc(n - nf + nt + 1);
    size_t const pre = (size_t)(at - text);
    memcpy(buf, text, pre);
    memcpy(buf + pre, to, nt);
    memcpy(buf + pre + nt, at + nf, n - pre - nf + 1);
    pack_manifest *m = NULL;
    int const rc = pack_manifest_parse(buf, strlen(buf), &m, err);
    CHECK((rc == TRIT_OK) == (m != NULL));
    pack_manifest_free(m);
    free(buf);
    return rc;
}

TEST(pack_manifest_refusals)
{
    size_t n = 0;
    char *const text = sample_text(&n);
    static const struct {
        const char *from, *to;
        int code;
    } cases[] = {
        {"\"schema\":\"trit-ota-manifest/2\"", "\"schema\":\"trit-ota-manifest/3\"", TRIT_E_UNSUPPORTED},
        {"\"schema\":\"trit-ota-manifest/2\"", "\"schema\":\"other\"", PACK_E_MANIFEST},
        /* a v2 manifest claiming v1: v1's keys (sha256, base_sha256) are missing */
        {"\"schema\":\"trit-ota-manifest/2\"", "\"schema\":\"trit-ota-manifest/1\"", PACK_E_MANIFEST},
        {"\"root\":\"", "\"sha256\":\"", PACK_E_MANIFEST},                         /* v1's key in v2 */
        {"\"base_root\":\"", "\"base_sha256\":\"", PACK_E_MANIFEST},
        {"\"chunks\":[\"0", "\"chunks\":[\"1", PACK_E_MANIFEST},                     /* chunk list != root */
        {"\"root\":\"", "\"root\":\"0", PACK_E_MANIFEST},                           /* 65 digits */
        {"{\"schema\"", "{\"model_id\":\"x\",\"schema\"", PACK_E_MANIFEST},            /* duplicate key */
        {"\"model_id\":\"test/sample\"", "\"model_id\":\"a b\"", PACK_E_MANIFEST},
        {"\"model_id\":\"test/sample\"", "\"model_id\":\"t\\u0000x\"", PACK_E_MANIFEST}, /* escaped NUL */
        {"\"model_id\":\"test/sample\"", "\"model_id\":\"t\\u001bx\"", PACK_E_MANIFEST}, /* escaped ESC */
        {"\"version\":\"2\"", "\"version\":\"02\"", PACK_E_MANIFEST},
        {"\"version\":\"2\"", "\"version\":2", PACK_E_MANIFEST},
        {"\"version\":\"2\"", "\"version\":\"0\"", PACK_E_MANIFEST},
        {"\"version\":\"2\"", "\"version\":\"18446744073709551616\"", PACK_E_MANIFEST},
        {"\"version\":\"2\"", "\"version\":\"-2\"", PACK_E_MANIFEST},
        {"\"format_version\":\"1.0\"", "\"format_version\":\"1\"", PACK_E_MANIFEST},
        {"\"min_runtime\":\"0.1.0\"", "\"min_runtime\":\"0.1\"", PACK_E_MANIFEST},
        {"\"chunk_size\":4096", "\"chunk_size\":4095", PACK_E_MANIFEST},
        {"\"chunk_size\":4096", "\"chunk_size\":6144", PACK_E_MANIFEST},
        {"\"chunk_size\":4096", "\"chunk_size\":4096.5", PACK_E_MANIFEST},
        {"\"base\":{\"version\":\"1\"},", "", PACK_E_MANIFEST},                      /* delta without base */
        {"\"base\":{\"version\":\"1\"}", "\"base\":{\"version\":\"2\"}", PACK_E_MANIFEST},
        {"\"path\":\"a.trit\"", "\"path\":\"../a.trit\"", PACK_E_MANIFEST},
        {"\"path\":\"a.trit\"", "\"path\":\".a.trit\"", PACK_E_MANIFEST},
        {"\"path\":\"a.trit\"", "\"path\":\"d/a.trit\"", PACK_E_MANIFEST},
        {"\"path\":\"a.trit\"", "\"path\":\"manifest.json\"", PACK_E_MANIFEST},
        {"\"path\":\"a.trit\"", "\"path\":\"c.trit\"", PACK_E_MANIFEST},             /* not sorted */
        {"\"path\":\"a.trit\"", "\"path\":\"b.trit\"", PACK_E_MANIFEST},             /* duplicate path */
        {"\"size\":5000", "\"size\":9000", PACK_E_MANIFEST},                         /* 3 chunks needed */
        {"\"size\":5000", "\"size\":-5000", PACK_E_MANIFEST},
        {"\"size\":5000", "\"size\":2199023255553", PACK_E_MANIFEST},                /* above 2^40 */
        {"\"root\":\"", "\"root\":\"X", PACK_E_MANIFEST},
        {"[\"zero\",10]", "[\"zero\",11]", PACK_E_MANIFEST},                         /* extents != size */
        {"[\"zero\",10]", "[\"hole\",10]", PACK_E_MANIFEST},
        {"[\"zero\",10]", "[\"zero\",0],[\"zero\",10]", PACK_E_MANIFEST},            /* zero length */
        {"[\"data\",100]", "[\"data\",99],[\"zero\",1]", PACK_E_MANIFEST},           /* data != member size */
        {"[\"copy\",0,50,", "[\"copy\",1,50,", PACK_E_MANIFEST},                     /* past base end */
        {"\"00000000000000ff\"", "\"00000000000000FF\"", PACK_E_MANIFEST},
        {"\"member\":\"b.trit.delta\"", "\"member\":\"a.trit\"", PACK_E_MANIFEST},
        {"\"files\":[", "\"files\":7,\"x\":[", PACK_E_MANIFEST},
        {"\n", "x", PACK_E_MANIFEST},                                                /* trailing bytes */
        {"\n", "\x01", PACK_E_MANIFEST},                                             /* control byte */
        {"{\"schema\"", "[{\"schema\"", PACK_E_MANIFEST},                             /* not an object / JSON */
        /* accepted: unknown keys and whitespace */
        {"{\"schema\"", "{\"future\":{\"x\":[1,2]}, \"schema\"", TRIT_OK},
        {"\n", " \n\t", TRIT_OK},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        trit_err err;
        trit_err_clear(&err);
        int const rc = mutate(text, cases[i].from, cases[i].to, &err);
        if (rc != cases[i].code)
            test_fail_(__FILE__, __LINE__, "case %zu ('%s' -> '%s'): expected %d, got %d (%s)", i, cases[i].from,
                       cases[i].to, cases[i].code, rc, err.msg);
        if (rc != TRIT_OK) CHECK(err.msg[0] != '\0');
    }
    free(text);
}

TEST(pack_manifest_limits)
{
    trit_err err;
    pack_manifest *m = NULL;
    /* a manifest above the cap is refused before parsing */
    size_t const big = TRIT_MAX_MANIFEST_BYTES + 1;
    char *const buf = malloc(big);
    memset(buf, ' ', big);
    CHECK_EQ_INT(pack_manifest_parse(buf, big, &m, &err), PACK_E_OVERSIZE);
    free(buf);
    CHECK_EQ_INT(pack_manifest_parse("", 0, &m, &err), PACK_E_MANIFEST);
    /* deep nesting is refused by cJSON's own limit, not by a crash */
    size_t const depth = 100000;
    char *const deep = malloc(2 * depth + 1);
    memset(deep, '[', depth);
    memset(deep + depth, ']', depth);
    CHECK_EQ_INT(pack_manifest_parse(deep, 2 * depth, &m, &err), PACK_E_MANIFEST);
    free(deep);
    CHECK(m == NULL);
}

/* Version 1 manifests still parse (installs of v1 bundles, and the installed manifest of a v1
 * install that a v2 bundle replaces); a v1 manifest relabelled v2 lacks v2's roots. */
TEST(pack_manifest_v1_still_read)
{
    size_t n = 0;
    char *const text = sample_text_v(PACK_MANIFEST_V1, &n);
    CHECK(text && strstr(text, "\"schema\":\"trit-ota-manifest/1\"") && strstr(text, "\"sha256\":\"1111") &&
          strstr(text, "\"base_sha256\":\"3333") && !strstr(text, "root"));
    pack_manifest *m = NULL;
    trit_err err;
    CHECK_OK_E(pack_manifest_parse(text, n, &m, &err), &err);
    if (m) {
        CHECK_EQ_U64(m->schema, PACK_MANIFEST_V1);
        CHECK_EQ_U64(m->files[0].file.digest[0], 0x11);
        char *again = NULL;
        size_t n2 = 0;
        CHECK_OK_E(pack_manifest_write(m, &again, &n2, &err), &err);
        CHECK(again && n2 == n && memcmp(again, text, n) == 0);
        free(again);
    }
    pack_manifest_free(m);
    CHECK_EQ_INT(mutate(text, "\"schema\":\"trit-ota-manifest/1\"", "\"schema\":\"trit-ota-manifest/2\"", &err), PACK_E_MANIFEST);
    CHECK(strstr(err.msg, "root") != NULL);
    CHECK_EQ_INT(mutate(text, "\"sha256\":\"1111", "\"sha256\":\"111X", &err), PACK_E_MANIFEST);
    free(text);
}
