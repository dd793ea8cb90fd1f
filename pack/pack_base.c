/* pack_base.c - the previous release a delta is made against, read from its full bundle.
 * The bundle is an uncompressed tar, so each container is a contiguous byte range of the
 * mapped bundle and opens in place (zero copy) with trit_reader_open_mem. */
#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <string.h>

#include "pack_int.h"

void pack_base_close(pack_base *b)
{
    if (!b) return;
    if (b->r)
        for (uint32_t i = 0; b->m && i < b->m->n_files; i++) trit_reader_close(b->r[i]);
    free(b->r);
    free(b->off);
    pack_manifest_free(b->m);
    trit_sys_unmap(b->map, b->len);
    free(b);
}

int64_t pack_base_find(const pack_base *b, const char *name)
{
    for (uint32_t i = 0; i < b->m->n_files; i++)
        if (strcmp(b->m->files[i].file.name, name) == 0) return i;
    return -1;
}

/* Where each file's member data starts in the bundle: libarchive's consumed-byte count right
 * after a header is the offset of that member's data (checked below against its digests). */
static int locate(pack_base *b, uint64_t *off, const char *path, trit_err *err)
{
    struct archive *const a = archive_read_new();
    if (!a) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    int rc = TRIT_OK;
    struct archive_entry *e;
    if (archive_read_support_format_tar(a) != ARCHIVE_OK || archive_read_open_memory(a, b->map, b->len) != ARCHIVE_OK)
        rc = trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, path, "libarchive: %s", archive_error_string(a));
    while (rc == TRIT_OK && archive_read_next_header(a, &e) == ARCHIVE_OK) {
        int64_t const i = pack_base_find(b, archive_entry_pathname(e));
        if (i >= 0) off[i] = (uint64_t)archive_filter_bytes(a, 0);
    }
    archive_read_free(a);
    return rc;
}

int pack_base_open(const char *path, trit_pool *pool, uint32_t threads, pack_base **out, trit_err *err)
{
    *out = NULL;
    pack_base *const b = calloc(1, sizeof *b);
    if (!b) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    pack_read_opts const ro = {.skip_signature = 1, .threads = threads}; /* our own earlier output; its digests are still checked */
    int rc = trit_sys_map_file(path, &b->map, &b->len, NULL, err);
    if (rc == TRIT_OK && b->len == 0)
        rc = trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, path, "not a non-empty regular file");
    if (rc == TRIT_OK) rc = pack_bundle_read_mem(b->map, b->len, path, &ro, NULL, &b->m, err);
    if (rc == TRIT_OK && b->m->has_base)
        rc = trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, path,
                          "is itself a delta (against version %llu): make a delta against a full bundle",
                          (unsigned long long)b->m->base_version);
    uint64_t *off = NULL;
    if (rc == TRIT_OK && (!(off = b->off = calloc(b->m->n_files, sizeof *off)) || !(b->r = calloc(b->m->n_files, sizeof *b->r))))
        rc = trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    if (rc == TRIT_OK) rc = locate(b, off, path, err);
    for (uint32_t i = 0; rc == TRIT_OK && i < b->m->n_files; i++) {
        pack_blob const *const f = &b->m->files[i].file;
        if (off[i] == 0 || off[i] > b->len || f->size > b->len - off[i]) {
            rc = trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, path, "cannot find member '%s'", f->name);
            break;
        }
        rc = pack_digest_mem(pool, threads, b->m->schema == PACK_MANIFEST_V1, b->m->chunk_size, b->map + off[i], f->size, f, NULL,
                             NULL, f->name, err);
        if (rc == PACK_E_DIGEST) {
            rc = trit_err_set(err, TRIT_E_CORRUPT, off[i], path, "member '%s' is not stored contiguously", f->name);
            break;
        }
        if (rc != TRIT_OK) break;
        trit_open_opts const oo = {TRIT_OPEN_VERIFY};
        rc = trit_reader_open_mem(b->map + off[i], (size_t)f->size, f->name, &oo, &b->r[i], err);
    }
    if (rc != TRIT_OK) {
        trit_err_file(err, path);
        pack_base_close(b);
        return rc;
    }
    *out = b;
    return TRIT_OK;
}

int pack_base_digest(const pack_base *b, uint32_t i, uint32_t schema, uint8_t out[PACK_SHA256_BYTES], trit_err *err)
{
    pack_blob const *const f = &b->m->files[i].file;
    if (schema == b->m->schema) {
        memcpy(out, f->digest, PACK_SHA256_BYTES);
        return TRIT_OK;
    }
    if (schema == PACK_MANIFEST_V2)   /* a v1 base lists its chunk digests: the root is theirs */
        return pack_root(b->m->chunk_size, f->size, (const uint8_t (*)[PACK_SHA256_BYTES])f->chunks, out, err);
    return pack_sha256(b->map + b->off[i], (size_t)f->size, out, err);
}
