/*
 * test_cvt_safetensors.h - a tiny safetensors writer used only by the safetensors tests
 * (tests/test_cvt_safetensors*.c). It writes exactly what the format says, so the reader is
 * checked against an independent producer rather than against itself.
 */
#ifndef TEST_CVT_SAFETENSORS_H
#define TEST_CVT_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

/* 8-byte LE length + header + `pad` spaces + data. The length counts header + padding.
 * Caller frees. */
uint8_t *stt_image(const char *header, size_t pad, const void *data, size_t data_len, size_t *len);

/* Header text with its padding in one call, written to path. Returns 0 on success. */
int stt_write(const char *path, const char *header, const void *data, size_t data_len);

/* A fresh directory under the test scratch dir (static storage, valid for 8 calls). */
const char *stt_dir(const char *name);

/* Entries are laid out in data order in the order they are added; the JSON lists them in
 * the same order unless stt_reverse_json is set. */
typedef struct stt_writer {
    char hdr[1 << 16];
    size_t hdr_len;
    char ents[64][512];
    int n_ents;
    uint8_t data[1 << 16];
    size_t data_len;
    const char *meta;          /* JSON text for "__metadata__" or NULL for none */
    int reverse_json;          /* list entries in reverse order in the JSON */
} stt_writer;

void stt_init(stt_writer *w, const char *meta_json);
/* shape_json like "[2, 3]". */
void stt_add(stt_writer *w, const char *name, const char *dtype, const char *shape_json,
             const void *bytes, size_t n);
/* Build the image (space-padded header to a multiple of 8, as the reference writer does).
 * Caller frees. */
uint8_t *stt_finish(stt_writer *w, size_t *len);
/* Same, written to path. Returns 0 on success. */
int stt_finish_file(stt_writer *w, const char *path);

#endif
