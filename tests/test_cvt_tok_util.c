/* test_cvt_tok_util.c - helpers of test_cvt_tok.h. */
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "test_cvt_tok.h"

trit_kvset *tt_parse(const trit_kvbuf *b)
{
    trit_err err;
    const void *data = NULL;
    uint64_t len = 0;
    trit_kvset *s = NULL;
    CHECK_OK_E(trit_kvbuf_data(b, &data, &len, &err), &err);
    CHECK_OK_E(trit_kvset_parse(data, len, 0, "kind-3 section", &s, &err), &err);
    return s;
}

static int64_t find(const trit_kvset *s, const char *key) { return s ? trit_kvset_find(s, key) : -1; }

uint64_t tt_u64(const trit_kvset *s, const char *key)
{
    int64_t const i = find(s, key);
    uint64_t v;
    return i >= 0 && trit_kvset_u64(s, (uint32_t)i, &v) == TRIT_OK ? v : UINT64_MAX;
}

static const char *copy(const char *p, uint64_t n, char *buf, size_t cap)
{
    if (n + 1 > cap) n = cap - 1;
    memcpy(buf, p, (size_t)n);
    buf[n] = '\0';
    return buf;
}

const char *tt_str(const trit_kvset *s, const char *key, char *buf, size_t cap)
{
    int64_t const i = find(s, key);
    const char *p;
    uint64_t n;
    if (i < 0 || trit_kvset_str(s, (uint32_t)i, &p, &n) != TRIT_OK) return NULL;
    return copy(p, n, buf, cap);
}

uint64_t tt_count(const trit_kvset *s, const char *key)
{
    int64_t const i = find(s, key);
    uint32_t et;
    uint64_t c = 0;
    if (i < 0 || trit_kvset_type(s, (uint32_t)i, &et, &c) != TRIT_KV_ARRAY) return 0;
    return c;
}

const char *tt_arr_str(const trit_kvset *s, const char *key, uint64_t j, char *buf, size_t cap)
{
    int64_t const i = find(s, key);
    const char *p;
    uint64_t n;
    if (i < 0 || trit_kvset_arr_str(s, (uint32_t)i, j, &p, &n) != TRIT_OK) return NULL;
    return copy(p, n, buf, cap);
}

double tt_arr_f64(const trit_kvset *s, const char *key, uint64_t j)
{
    int64_t const i = find(s, key);
    double d;
    return i >= 0 && trit_kvset_arr_f64(s, (uint32_t)i, j, &d) == TRIT_OK ? d : -1e300;
}

int64_t tt_arr_i64(const trit_kvset *s, const char *key, uint64_t j)
{
    int64_t const i = find(s, key);
    int64_t v;
    return i >= 0 && trit_kvset_arr_i64(s, (uint32_t)i, j, &v) == TRIT_OK ? v : INT64_MIN;
}

static void put(tt_pb *p, const void *s, size_t n)
{
    CHECK(n <= sizeof p->b - p->n);
    if (n > sizeof p->b - p->n) return;
    memcpy(p->b + p->n, s, n);
    p->n += n;
}

void tt_pb_varint(tt_pb *p, uint64_t v)
{
    do {
        uint8_t b = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v) b |= 0x80;
        put(p, &b, 1);
    } while (v);
}

void tt_pb_tag(tt_pb *p, uint32_t field, uint32_t wire) { tt_pb_varint(p, (uint64_t)field << 3 | wire); }

void tt_pb_bytes(tt_pb *p, uint32_t field, const void *s, size_t n)
{
    tt_pb_tag(p, field, 2);
    tt_pb_varint(p, n);
    put(p, s, n);
}

void tt_pb_f32(tt_pb *p, uint32_t field, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    uint8_t b[4] = {(uint8_t)u, (uint8_t)(u >> 8), (uint8_t)(u >> 16), (uint8_t)(u >> 24)};
    tt_pb_tag(p, field, 5);
    put(p, b, 4);
}

void tt_pb_uint(tt_pb *p, uint32_t field, uint64_t v)
{
    tt_pb_tag(p, field, 0);
    tt_pb_varint(p, v);
}

void tt_pb_piece(tt_pb *p, const char *text, float score, uint32_t type)
{
    tt_pb m = {.n = 0};
    tt_pb_bytes(&m, 1, text, strlen(text));
    tt_pb_f32(&m, 2, score);
    if (type) tt_pb_uint(&m, 3, type);
    tt_pb_bytes(p, 1, m.b, m.n);
}

int tt_convert(const char *json, const tt_pb *model, const char *tok_config, const char *config,
               uint32_t pad_to, int unknown_pre_ok, trit_kvbuf **out, cvt_tok_info *info, trit_err *err)
{
    cvt_tok_src src;
    memset(&src, 0, sizeof src);
    if (json) src.json = (cvt_tok_buf){json, strlen(json), NULL};
    if (model) src.model = (cvt_tok_buf){model->b, model->n, NULL};
    if (tok_config) src.tok_config = (cvt_tok_buf){tok_config, strlen(tok_config), NULL};
    if (config) src.config = (cvt_tok_buf){config, strlen(config), NULL};
    src.pad_to = pad_to;
    src.unknown_pre_ok = unknown_pre_ok;
    *out = trit_kvbuf_new();
    CHECK(*out != NULL);
    if (!*out) return TRIT_E_NOMEM;
    return cvt_tok_from_mem(&src, *out, info, err);
}
