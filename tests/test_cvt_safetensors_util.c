/* test_cvt_safetensors_util.c - the tests' own safetensors writer (see test_cvt_safetensors.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "test.h"
#include "test_cvt_safetensors.h"

uint8_t *stt_image(const char *header, size_t pad, const void *data, size_t data_len, size_t *len)
{
    size_t const h = strlen(header);
    uint64_t const n = (uint64_t)(h + pad);
    uint8_t *b = malloc(8 + h + pad + data_len + 1);
    if (!b) return NULL;
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(n >> (8 * i));
    memcpy(b + 8, header, h);
    memset(b + 8 + h, ' ', pad);
    if (data_len) memcpy(b + 8 + h + pad, data, data_len);
    *len = 8 + h + pad + data_len;
    return b;
}

int stt_write(const char *path, const char *header, const void *data, size_t data_len)
{
    size_t len;
    size_t const pad = (8 - strlen(header) % 8) % 8;
    uint8_t *b = stt_image(header, pad, data, data_len, &len);
    if (!b) return -1;
    int const rc = test_write_file(path, b, len);
    free(b);
    return rc;
}

const char *stt_dir(const char *name)
{
    /* Own ring: callers keep the directory while building many paths with test_path. */
    static char ring[8][4096];
    static unsigned k;
    char *p = ring[k++ % 8];
    snprintf(p, sizeof ring[0], "%s/%s", test_tmpdir(), name);
    mkdir(p, 0755);
    return p;
}

void stt_init(stt_writer *w, const char *meta_json)
{
    memset(w, 0, sizeof *w);
    w->meta = meta_json;
}

void stt_add(stt_writer *w, const char *name, const char *dtype, const char *shape_json,
             const void *bytes, size_t n)
{
    if (w->n_ents >= 64 || w->data_len + n > sizeof w->data) abort();   /* test bug */
    snprintf(w->ents[w->n_ents++], sizeof w->ents[0],
             "\"%s\":{\"dtype\":\"%s\",\"shape\":%s,\"data_offsets\":[%zu,%zu]}", name, dtype,
             shape_json, w->data_len, w->data_len + n);
    if (n) memcpy(w->data + w->data_len, bytes, n);
    w->data_len += n;
}

static void append(stt_writer *w, const char *s)
{
    size_t const n = strlen(s);
    if (w->hdr_len + n + 1 > sizeof w->hdr) abort();   /* test bug */
    memcpy(w->hdr + w->hdr_len, s, n + 1);
    w->hdr_len += n;
}

static void build_header(stt_writer *w)
{
    w->hdr_len = 0;
    append(w, "{");
    int first = 1;
    if (w->meta) {
        append(w, "\"__metadata__\":");
        append(w, w->meta);
        first = 0;
    }
    for (int i = 0; i < w->n_ents; i++) {
        int const j = w->reverse_json ? w->n_ents - 1 - i : i;
        if (!first) append(w, ",");
        append(w, w->ents[j]);
        first = 0;
    }
    append(w, "}");
}

uint8_t *stt_finish(stt_writer *w, size_t *len)
{
    build_header(w);
    return stt_image(w->hdr, (8 - w->hdr_len % 8) % 8, w->data, w->data_len, len);
}

int stt_finish_file(stt_writer *w, const char *path)
{
    build_header(w);
    return stt_write(path, w->hdr, w->data, w->data_len);
}
