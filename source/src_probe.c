/* src_probe.c - the format registry: every format trit reads bids on a file's first bytes, and the
 * highest bid wins. The one place that decides what a file is (convert, inspect and verify ask it). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "src.h"
#include "src_safetensors.h"

#define SRC_BID_MAGIC 100      /* the format's magic bytes */
#define SRC_BID_NAME 10        /* only the file name says so: the opener names what is wrong */

static int ends_with(const char *s, const char *suffix)
{
    size_t const n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static int bid_trit(const uint8_t *h, size_t n, uint64_t size, const char *path)
{
    (void)size;
    if (n >= 4 && memcmp(h, "\x89TRI", 4) == 0) return SRC_BID_MAGIC;
    return path && ends_with(path, ".trit") ? SRC_BID_NAME : 0;
}

/* A GGUF whose magic is damaged: bytes 4..8 are a GGUF version (1..3) and 8..16 a tensor count
 * below 2^32. No safetensors file starts so (its first 8 bytes are a header length, and these
 * make it at least 2^32 bytes, over the cap), so the GGUF opener gets it and says "bad magic"
 * at offset 0 instead of the safetensors opener calling it unsupported. */
static int gguf_shaped(const uint8_t *h, size_t n)
{
    if (n < 16) return 0;
    uint32_t const ver = (uint32_t)h[4] | (uint32_t)h[5] << 8 | (uint32_t)h[6] << 16 | (uint32_t)h[7] << 24;
    return ver >= 1 && ver <= 3 && h[12] == 0 && h[13] == 0 && h[14] == 0 && h[15] == 0;
}

static int bid_gguf(const uint8_t *h, size_t n, uint64_t size, const char *path)
{
    (void)size;
    if (n >= 4 && memcmp(h, "GGUF", 4) == 0) return SRC_BID_MAGIC;
    if (gguf_shaped(h, n) && !(path && (ends_with(path, ".safetensors") || ends_with(path, ".json"))))
        return SRC_BID_NAME;
    return path && ends_with(path, ".gguf") ? SRC_BID_NAME : 0;
}

static int bid_safetensors(const uint8_t *h, size_t n, uint64_t size, const char *path)
{
    int const b = src_st_probe(h, n, size);   /* structural: header length and '{' */
    if (b) return b;
    /* No magic: its opener recognises the header, and names what a mis-saved file is instead
     * (a Git LFS pointer, an HTML page), so those go to it too. */
    if ((n >= 9 && h[8] == '{') || (n >= 8 && (memcmp(h, "version ", 8) == 0 || h[0] == '<'))) return SRC_BID_NAME;
    return path && (ends_with(path, ".safetensors") || ends_with(path, ".json")) ? SRC_BID_NAME : 0;
}

static const struct {
    src_format_id id;
    const char *name;
    int (*bid)(const uint8_t *head, size_t n, uint64_t size, const char *path);
} formats[] = {
    {SRC_FMT_TRIT, "trit", bid_trit},
    {SRC_FMT_GGUF, "gguf", bid_gguf},
    {SRC_FMT_SAFETENSORS, "safetensors", bid_safetensors},
};

const char *src_format_name(src_format_id f)
{
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
        if (formats[i].id == f) return formats[i].name;
    return "unknown";
}

src_format_id src_probe_bytes(const uint8_t *head, size_t n, uint64_t file_size, const char *path)
{
    src_format_id best = SRC_FMT_UNKNOWN;
    int best_bid = 0;
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        int const b = formats[i].bid(head, n, file_size, path);
        if (b > best_bid) {
            best_bid = b;
            best = formats[i].id;
        }
    }
    return best;
}

int src_probe(const char *path, src_format_id *out, trit_err *err)
{
    *out = SRC_FMT_UNKNOWN;
    struct stat st;
    if (stat(path, &st) != 0) {
        int const code = errno == ENOENT || errno == ENOTDIR ? TRIT_E_NOTFOUND : TRIT_E_IO;
        trit_err_set(err, code, TRIT_NO_OFFSET, NULL, "cannot open: %s", strerror(errno));
        return trit_err_file(err, path), code;
    }
    if (S_ISDIR(st.st_mode)) {
        *out = SRC_FMT_SAFETENSORS;
        return TRIT_OK;
    }
    if (!S_ISREG(st.st_mode)) { /* a FIFO or device would block or never end */
        trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, NULL, "not a regular file or directory");
        return trit_err_file(err, path), TRIT_E_IO;
    }
    uint8_t head[16] = {0};
    FILE *f = fopen(path, "rb");
    if (!f) {
        int const code = errno == ENOMEM ? TRIT_E_NOMEM : TRIT_E_IO;   /* fopen allocates its FILE */
        trit_err_set(err, code, TRIT_NO_OFFSET, NULL, "cannot open for reading: %s", strerror(errno));
        return trit_err_file(err, path), code;
    }
    size_t const n = fread(head, 1, sizeof head, f);
    int const bad = ferror(f);
    fclose(f);
    if (bad) {
        trit_err_set(err, TRIT_E_IO, 0, NULL, "read failed");
        return trit_err_file(err, path), TRIT_E_IO;
    }
    *out = src_probe_bytes(head, n, (uint64_t)st.st_size, path);
    return TRIT_OK;
}
