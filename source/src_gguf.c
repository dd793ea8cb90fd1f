/* src_gguf.c - GGUF reader: open (single, split, from memory), tensor table, raw reads and
 * decoding to float. Parsing and validation of one file is in src_gguf_parse.c. */
#define _FILE_OFFSET_BITS 64   /* pread offsets beyond 2 GiB on 32-bit hosts */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src_gguf_int.h"
#include "src_ggml_types.h"
#include "src_mxfp4.h"
#include "trit_cursor.h"
#include "trit_limits.h"
#include "trit_safemath.h"
#include "trit_sys.h"

#define FIRST_WINDOW (64u << 10)      /* first read of a file's front; doubled while needed */
#define DECODE_CHUNK (64u << 10)      /* raw bytes decoded per step in src_gguf_to_f32 */

/* Copy of s; caller frees. NULL when out of memory. */
static char *dup_str(const char *s)
{
    size_t const n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* Read exactly n bytes at off. TRIT_E_TRUNCATED when the file ends first (it shrank after
 * open), TRIT_E_IO on a read error. */
static int read_exact(int fd, void *buf, uint64_t n, uint64_t off, const char *path, trit_err *err)
{
    int64_t const k = trit_sys_pread_full(fd, buf, n, off);
    if (k < 0) {
        trit_err_set(err, TRIT_E_IO, off, NULL, "read failed: %s", strerror(errno));
        trit_err_file(err, path);
        return TRIT_E_IO;
    }
    if ((uint64_t)k < n) {
        trit_err_set(err, TRIT_E_TRUNCATED, off + (uint64_t)k, NULL, "file ended early (it changed since it was opened?)");
        trit_err_file(err, path);
        return TRIT_E_TRUNCATED;
    }
    return TRIT_OK;
}

static void part_free(gguf_part *p)
{
    src_gguf__part_reset(p);
    free(p->hdr);
    free(p->path);
    if (p->fd >= 0) close(p->fd);
    p->hdr = NULL;
    p->path = NULL;
    p->fd = -1;
}

/* Open path and parse its front, growing the window until the whole header fits. */
static int part_open(gguf_part *p, const char *path, int inherit_fork, uint32_t first_read, trit_err *err)
{
    struct stat st;
    memset(p, 0, sizeof *p);
    p->fd = -1;
    if (!(p->path = dup_str(path))) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    p->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (p->fd < 0 || fstat(p->fd, &st) != 0) {
        int const code = errno == ENOENT ? TRIT_E_NOTFOUND : TRIT_E_IO;
        trit_err_set(err, code, TRIT_NO_OFFSET, NULL, "cannot open: %s", strerror(errno));
        trit_err_file(err, path);
        return code;
    }
    if (!S_ISREG(st.st_mode)) {
        trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, NULL, "not a regular file");
        trit_err_file(err, path);
        return TRIT_E_IO;
    }
    p->file_size = (uint64_t)st.st_size;
    uint64_t const first = first_read ? first_read : FIRST_WINDOW;
    uint64_t win = p->file_size < first ? p->file_size : first;
    for (;;) {
        size_t sz;
        uint64_t need = 0;
        if (trit_to_size(win, &sz)) return trit_err_set(err, TRIT_E_LIMIT, 0, NULL, "header too large for this host");
        uint8_t *nb = realloc(p->hdr, sz ? sz : 1);
        if (!nb) return trit_err_set(err, TRIT_E_NOMEM, 0, NULL, "out of memory for a %zu-byte header", sz);
        p->hdr = nb;
        int rc = read_exact(p->fd, p->hdr, win, 0, path, err);
        if (rc) return rc;
        rc = src_gguf__parse(p, p->hdr, sz, inherit_fork, &need, err);
        if (rc != SRC_GGUF__NEED_MORE) return rc;
        /* need <= file size and <= the header cap (the parser checked both) */
        win = win * 2 > need ? win * 2 : need;
        if (win > p->file_size) win = p->file_size;
    }
}

/* `<prefix>-00001-of-00003.gguf` -> the name of part idx1 (1-based); NULL when path does not
 * follow the gguf-split pattern for part `no1` of `count`. Caller frees. */
static char *split_part_path(const char *path, uint64_t no1, uint64_t count, uint64_t idx1)
{
    size_t const len = strlen(path);
    static const char ext[] = ".gguf";
    if (len < sizeof ext - 1 || strcmp(path + len - (sizeof ext - 1), ext) != 0) return NULL;
    size_t e = len - (sizeof ext - 1), d2 = e;
    while (d2 > 0 && path[d2 - 1] >= '0' && path[d2 - 1] <= '9') d2--;
    if (d2 == e || e - d2 > 9 || d2 < 4 || memcmp(path + d2 - 4, "-of-", 4) != 0) return NULL;
    size_t const e1 = d2 - 4;
    size_t d1 = e1;
    while (d1 > 0 && path[d1 - 1] >= '0' && path[d1 - 1] <= '9') d1--;
    if (d1 == e1 || e1 - d1 > 9 || d1 == 0 || path[d1 - 1] != '-') return NULL;
    uint64_t a = 0, b = 0;
    for (size_t k = d1; k < e1; k++) a = a * 10 + (uint64_t)(path[k] - '0');
    for (size_t k = d2; k < e; k++) b = b * 10 + (uint64_t)(path[k] - '0');
    if (a != no1 || b != count) return NULL;
    size_t const cap = (d1 - 1) + 32;
    char *out = malloc(cap);
    if (out)
        snprintf(out, cap, "%.*s-%05llu-of-%05llu.gguf", (int)(d1 - 1), path, (unsigned long long)idx1,
                 (unsigned long long)count);
    return out;
}

static int open_other_parts(src_gguf *h, uint32_t first_read, trit_err *err)
{
    const gguf_part *p0 = &h->parts[0];
    uint64_t const count = p0->split_count;
    char *first = split_part_path(p0->path, p0->split_no + 1, count, 1);
    if (p0->split_no != 0) {
        trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL,
                     "this is split part %llu of %llu; open the first part%s%s%s",
                     (unsigned long long)p0->split_no + 1, (unsigned long long)count, first ? " '" : "",
                     first ? first : "", first ? "'" : "");
        trit_err_file(err, p0->path);
        free(first);
        return TRIT_E_USAGE;
    }
    free(first);
    gguf_part *np = realloc(h->parts, (size_t)count * sizeof *np);
    if (!np) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    h->parts = np;
    for (uint64_t i = 1; i < count; i++) {
        char *name = split_part_path(h->parts[0].path, 1, count, i + 1);
        if (!name) {
            trit_err_set(err, TRIT_E_NOTFOUND, h->parts[0].split_off, "key 'split.count'",
                         "file has %llu split parts but its name does not end in -00001-of-%05llu.gguf, "
                         "so the other parts cannot be located", (unsigned long long)count,
                         (unsigned long long)count);
            trit_err_file(err, h->parts[0].path);
            return TRIT_E_NOTFOUND;
        }
        gguf_part *p = &h->parts[i];
        int rc = part_open(p, name, h->parts[0].fork, first_read, err);
        h->n_parts = (uint32_t)(i + 1);   /* so close frees the part even on failure */
        if (rc == TRIT_E_NOTFOUND && p->fd < 0) {
            /* err->file already names the missing part */
            trit_err_set(err, TRIT_E_NOTFOUND, TRIT_NO_OFFSET, NULL, "split part %llu of %llu is missing",
                         (unsigned long long)i + 1, (unsigned long long)count);
        }
        free(name);
        if (rc) return rc;
        if (!p->has_split || p->split_no != i || p->split_count != count) {
            trit_err_set(err, TRIT_E_CORRUPT, p->has_split ? p->split_no_off : TRIT_NO_OFFSET, NULL,
                         "expected split part %llu of %llu, file says %s%llu of %llu",
                         (unsigned long long)i + 1, (unsigned long long)count, p->has_split ? "" : "(no split keys) ",
                         (unsigned long long)p->split_no + 1, (unsigned long long)p->split_count);
            trit_err_file(err, p->path);
            return TRIT_E_CORRUPT;
        }
    }
    return TRIT_OK;
}

typedef struct tname_ref {
    const char *s;
    uint64_t idx;
} tname_ref;

static int cmp_tname(const void *a, const void *b)
{
    const tname_ref *x = a, *y = b;
    int const c = strcmp(x->s, y->s);
    return c ? c : (x->idx < y->idx ? -1 : x->idx > y->idx);
}

/* One tensor table over all parts, a name index, and the checks that span parts. */
static int gather(src_gguf *h, int all_parts, trit_err *err)
{
    uint64_t total = 0;
    for (uint32_t f = 0; f < h->n_parts; f++) total += h->parts[f].n_tensors;  /* <= 4096 * 2^20 */
    h->tensors = calloc(total ? (size_t)total : 1, sizeof *h->tensors);
    h->tensor_by_name = calloc(total ? (size_t)total : 1, sizeof *h->tensor_by_name);
    tname_ref *refs = calloc(total ? (size_t)total : 1, sizeof *refs);
    if (!h->tensors || !h->tensor_by_name || !refs) {
        free(refs);
        return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory for the tensor table");
    }
    uint64_t k = 0;
    for (uint32_t f = 0; f < h->n_parts; f++) {
        for (uint64_t i = 0; i < h->parts[f].n_tensors; i++, k++) {
            h->parts[f].tensors[i].info.file = f;
            h->tensors[k] = &h->parts[f].tensors[i];
            refs[k].s = h->tensors[k]->info.name;
            refs[k].idx = k;
        }
    }
    h->n_tensors = total;
    qsort(refs, (size_t)total, sizeof *refs, cmp_tname);
    int rc = TRIT_OK;
    for (uint64_t i = 0; i < total; i++) {
        h->tensor_by_name[i] = refs[i].idx;
        if (i && rc == TRIT_OK && strcmp(refs[i].s, refs[i - 1].s) == 0) {
            const gguf_tensor *a = h->tensors[refs[i - 1].idx], *b = h->tensors[refs[i].idx];
            char where[96];
            snprintf(where, sizeof where, "tensor '%s'", b->info.name);
            rc = trit_err_set(err, TRIT_E_CORRUPT, b->info.info_off, where,
                              "duplicate tensor name (first in '%s' at offset 0x%llx)",
                              h->parts[a->info.file].path, (unsigned long long)a->info.info_off);
            trit_err_file(err, h->parts[b->info.file].path);
        }
    }
    free(refs);
    if (rc) return rc;
    const gguf_part *p0 = &h->parts[0];
    if (all_parts && p0->has_split && p0->split_tensors != UINT64_MAX && p0->split_tensors != total) {
        trit_err_set(err, TRIT_E_CORRUPT, p0->split_tensors_off, "key 'split.tensors.count'",
                     "split.tensors.count is %llu but the %u parts hold %llu tensors",
                     (unsigned long long)p0->split_tensors, h->n_parts, (unsigned long long)total);
        trit_err_file(err, p0->path);
        return TRIT_E_CORRUPT;
    }
    return TRIT_OK;
}

static src_gguf *handle_new(void)
{
    src_gguf *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->parts = calloc(1, sizeof *h->parts);
    if (!h->parts) { free(h); return NULL; }
    h->parts[0].fd = -1;
    h->n_parts = 1;
    return h;
}

int src_gguf_open(const char *path, const src_gguf_opts *opts, src_gguf **out, trit_err *err)
{
    *out = NULL;
    trit_err_clear(err);
    src_gguf *h = handle_new();
    if (!h) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    uint32_t const first_read = opts ? opts->first_read : 0;
    int rc = part_open(&h->parts[0], path, -1, first_read, err);
    int const follow = !(opts && (opts->flags & SRC_GGUF_OPEN_SINGLE)) && h->parts[0].has_split &&
                       h->parts[0].split_count > 1;
    if (rc == TRIT_OK && follow) rc = open_other_parts(h, first_read, err);
    if (rc == TRIT_OK) rc = gather(h, follow, err);
    if (rc) {
        trit_err_file(err, path);
        src_gguf_close(h);
        return rc;
    }
    *out = h;
    return TRIT_OK;
}

int src_gguf_open_mem(const void *buf, size_t len, const char *name, src_gguf **out, trit_err *err)
{
    *out = NULL;
    trit_err_clear(err);
    src_gguf *h = handle_new();
    if (!h) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    gguf_part *p = &h->parts[0];
    uint64_t need = 0;
    int rc = TRIT_OK;
    p->mem = buf;
    p->file_size = len;
    if (!(p->path = dup_str(name ? name : ""))) rc = trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    if (rc == TRIT_OK) rc = src_gguf__parse(p, buf, len, -1, &need, err);
    if (rc == SRC_GGUF__NEED_MORE)   /* cannot happen: the window is the whole input */
        rc = trit_err_set(err, TRIT_E_TRUNCATED, need, NULL, "input ends inside the header");
    if (rc == TRIT_OK) rc = gather(h, 0, err);
    if (rc) {
        src_gguf_close(h);
        return rc;
    }
    *out = h;
    return TRIT_OK;
}

void src_gguf_close(src_gguf *h)
{
    if (!h) return;
    for (uint32_t f = 0; f < h->n_parts; f++) part_free(&h->parts[f]);
    free(h->parts);
    free(h->tensors);
    free(h->tensor_by_name);
    free(h);
}

/* ---- header facts ------------------------------------------------------------------------ */

uint32_t src_gguf_version(const src_gguf *h) { return h->parts[0].version; }
uint64_t src_gguf_alignment(const src_gguf *h) { return h->parts[0].alignment; }
uint64_t src_gguf_data_offset(const src_gguf *h, uint32_t f) { return f < h->n_parts ? h->parts[f].data_off : 0; }
const char *src_gguf_arch(const src_gguf *h) { return h->parts[0].arch ? h->parts[0].arch : ""; }
int src_gguf_is_bitnet_fork(const src_gguf *h) { return h->parts[0].fork; }
uint32_t src_gguf_n_files(const src_gguf *h) { return h->n_parts; }
const char *src_gguf_file_path(const src_gguf *h, uint32_t f) { return f < h->n_parts ? h->parts[f].path : NULL; }
uint64_t src_gguf_file_size(const src_gguf *h, uint32_t f) { return f < h->n_parts ? h->parts[f].file_size : 0; }
uint32_t src_gguf_split_count(const src_gguf *h)
{
    return h->parts[0].has_split ? (uint32_t)h->parts[0].split_count : 0;
}

/* ---- tensors ----------------------------------------------------------------------------- */

uint64_t src_gguf_n_tensors(const src_gguf *h) { return h->n_tensors; }

const src_gguf_tensor_info *src_gguf_tensor(const src_gguf *h, uint64_t i)
{
    return i < h->n_tensors ? &h->tensors[i]->info : NULL;
}

int64_t src_gguf_find_tensor(const src_gguf *h, const char *name)
{
    uint64_t lo = 0, hi = h->n_tensors;
    while (lo < hi) {
        uint64_t const mid = lo + (hi - lo) / 2;
        uint64_t const idx = h->tensor_by_name[mid];
        int const c = strcmp(h->tensors[idx]->info.name, name);
        if (c == 0) return (int64_t)idx;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

uint32_t src_gguf_block_elems(const src_gguf *h, uint64_t i)
{
    const src_gguf_tensor_info *t = src_gguf_tensor(h, i);
    const src_ggml_type *ty = t ? src_ggml_type_get(t->type) : NULL;
    return ty ? ty->blck : 0;
}

int src_gguf_can_decode(const src_gguf *h, uint64_t i)
{
    const src_gguf_tensor_info *t = src_gguf_tensor(h, i);
    const src_ggml_type *ty = t ? src_ggml_type_get(t->type) : NULL;
    return ty ? ty->can_decode : 0;
}

int src_gguf_read(const src_gguf *h, uint64_t i, uint64_t byte_off, void *buf, uint64_t n, trit_err *err)
{
    const src_gguf_tensor_info *t = src_gguf_tensor(h, i);
    uint64_t end;
    if (!t) return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL, "no tensor %llu", (unsigned long long)i);
    if (trit_add_u64(byte_off, n, &end) || end > t->nbytes) {
        char where[96];
        snprintf(where, sizeof where, "tensor '%s'", t->name);
        return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, where,
                            "read of %llu bytes at %llu is outside the tensor's %llu bytes",
                            (unsigned long long)n, (unsigned long long)byte_off, (unsigned long long)t->nbytes);
    }
    const gguf_part *p = &h->parts[t->file];
    uint64_t const abs = t->offset + byte_off;    /* inside the file: checked at open */
    if (p->mem) {
        memcpy(buf, p->mem + abs, (size_t)n);      /* n <= file size, which is a size_t */
        return TRIT_OK;
    }
    return read_exact(p->fd, buf, n, abs, p->path, err);
}

int src_gguf_to_f32(const src_gguf *h, uint64_t i, uint64_t first, uint64_t n, float *out, trit_err *err)
{
    const src_gguf_tensor_info *t = src_gguf_tensor(h, i);
    if (!t) return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL, "no tensor %llu", (unsigned long long)i);
    char where[96];
    snprintf(where, sizeof where, "tensor '%s'", t->name);
    const src_ggml_type *ty = src_ggml_type_get(t->type);
    uint64_t end;
    if (trit_add_u64(first, n, &end) || end > t->n_elems)
        return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, where,
                            "elements [%llu, +%llu) are outside the tensor's %llu", (unsigned long long)first,
                            (unsigned long long)n, (unsigned long long)t->n_elems);
    if (!ty || !ty->can_decode)
        return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, where, "no float decoder for type %s",
                            t->type_name);
    if (n == 0) return TRIT_OK;
    uint64_t const B = ty->blck, S = ty->type_size;
    uint64_t code_bytes = t->nbytes;          /* bytes holding blocks (I2_S: before the trailer) */
    float scale = 0.0f;
    int rc;
    if (ty->trailer) {
        uint8_t sb[4];
        code_bytes = t->n_elems / 4;
        if ((rc = src_gguf_read(h, i, code_bytes, sb, 4, err))) return rc;
        uint32_t const u = trit_load_le32(sb);
        memcpy(&scale, &u, sizeof scale);
    }
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* F32 on a little-endian host: the file's bytes are the floats; read them in place */
    if (t->type == SRC_GGML_F32) return src_gguf_read(h, i, first * 4, out, n * 4, err);
#endif
    uint64_t const b0 = first / B, b1 = (end - 1) / B + 1;
    /* at most 64 KiB of raw bytes and 64 Ki floats per step */
    uint64_t chunk = DECODE_CHUNK / S < DECODE_CHUNK / B ? DECODE_CHUNK / S : DECODE_CHUNK / B;
    if (chunk == 0) chunk = 1;
    uint8_t *raw = malloc((size_t)(chunk * S));
    float *fl = malloc((size_t)(chunk * B) * sizeof *fl);
    rc = TRIT_OK;
    if (!raw || !fl) rc = trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, where, "out of memory");
    for (uint64_t b = b0; b < b1 && rc == TRIT_OK; b += chunk) {
        uint64_t const k = b1 - b < chunk ? b1 - b : chunk;
        uint64_t const at = b * S;
        /* The last I2_S chunk may be partial (n not a multiple of 128): zero-fill its tail. */
        uint64_t const rd = k * S <= code_bytes - at ? k * S : code_bytes - at;
        if ((rc = src_gguf_read(h, i, at, raw, rd, err))) break;
        memset(raw + rd, 0, (size_t)(k * S - rd));
        int64_t const nan = t->type == SRC_GGML_MXFP4 ? src_mxfp4_find_nan(raw, k) : -1;
        if (nan >= 0) {   /* E8M0 255 (src_mxfp4.h): named with the block's offset in the file */
            rc = trit_err_set(err, TRIT_E_CORRUPT, t->offset + at + (uint64_t)nan * S, where,
                              "MXFP4 block %llu has the E8M0 scale 255, which is NaN", (unsigned long long)(b + (uint64_t)nan));
            break;
        }
        if (ty->trailer) src_ggml_i2s_dequant(raw, k, scale, fl);
        else if ((rc = src_ggml_dequant(t->type, raw, k, fl, err))) break;
        uint64_t const lo = b * B > first ? b * B : first;
        uint64_t const hi = (b + k) * B < end ? (b + k) * B : end;
        memcpy(out + (lo - first), fl + (lo - b * B), (size_t)(hi - lo) * sizeof *fl);
    }
    free(raw);
    free(fl);
    return rc;
}
