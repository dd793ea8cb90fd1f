/* pack_read.c - the bundle reader (libarchive, tar formats only, no decompression filters).
 *
 * Order of checks, so that nothing unauthenticated is acted on: the first member must be
 * manifest.json (size capped), then manifest.sig; the signature is checked over the raw
 * manifest bytes before they are parsed; then the version checks; only then is the sink told
 * (and only then may it create anything). Every later member is checked for type, name and
 * declared size before its first byte is read, its chunk digests as they complete, and its
 * chunk count at its end (v2; v1 also the whole SHA-256). The data stream is ours (read
 * callback), so a compressed stream is recognised from its magic before libarchive sees a
 * byte, and "the input ended" is known exactly, which is how truncation is told apart from
 * corruption. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pack_int.h"

#define SRC_BLOCK (1024u * 1024u)   /* read() size: fewer system calls per byte */

typedef struct src {
    int fd;                    /* file source, or -1 */
    const uint8_t *mem;        /* memory source */
    size_t len, pos;
    uint8_t *buf;              /* SRC_BLOCK bytes for the file source */
    int first;                 /* no block delivered yet */
    int eof;                   /* the input ended */
    int compressed;            /* the input starts with a compressor's magic */
    const char *magic_name;
    uint64_t next_hdr;         /* where the header after the current member starts */
    uint64_t data_off;         /* where the current member's data starts */
    int read_errno;            /* a read of the input failed with this errno (0: none) */
    int seekable;              /* a regular file: members are read with pread, libarchive skips them */
    uint64_t file_size;        /* seekable: its size */
} src;

/* Magic numbers of the compressors libarchive could otherwise be asked to undo. */
static const struct {
    const char *name;
    uint8_t n, m[6];
} magics[] = {
    {"gzip", 2, {0x1f, 0x8b}},           {"zstd", 4, {0x28, 0xb5, 0x2f, 0xfd}},
    {"xz", 6, {0xfd, '7', 'z', 'X', 'Z', 0}}, {"bzip2", 3, {'B', 'Z', 'h'}},
    {"lz4", 4, {0x04, 0x22, 0x4d, 0x18}}, {"compress", 2, {0x1f, 0x9d}},
    {"lzip", 4, {'L', 'Z', 'I', 'P'}},
};

static void sniff(src *s, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < sizeof magics / sizeof magics[0]; i++)
        if (n >= magics[i].n && memcmp(p, magics[i].m, magics[i].n) == 0) {
            s->compressed = 1;
            s->magic_name = magics[i].name;
        }
}

static la_ssize_t src_read(struct archive *a, void *ud, const void **out)
{
    src *const s = ud;
    size_t n = 0;
    if (s->fd < 0) {
        n = s->len - s->pos < SRC_BLOCK ? s->len - s->pos : SRC_BLOCK;
        *out = s->mem + s->pos;
        s->pos += n;
    } else {
        /* fill the first block to at least 8 bytes (pipes deliver little pieces) for the sniff */
        size_t const want = s->first ? 8 : 1;
        while (n < want) {
            ssize_t const k = read(s->fd, s->buf + n, SRC_BLOCK - n);
            if (k < 0 && errno == EINTR) continue;
            if (k < 0) {
                s->read_errno = errno;
                archive_set_error(a, errno, "read failed: %s", strerror(errno));
                return -1;
            }
            if (k == 0) break;
            n += (size_t)k;
        }
        *out = s->buf;
    }
    if (n == 0) s->eof = 1;
    if (s->first && n) sniff(s, *out, n);
    s->first = 0;
    if (s->compressed) {
        archive_set_error(a, EILSEQ, "compressed stream");
        return -1;
    }
    return (la_ssize_t)n;
}

/* libarchive's skip: a regular file seeks (member data was read with pread), memory moves on;
 * 0 (nothing skipped) makes libarchive read instead. Never past the end: the reads after it
 * then tell truncation apart. */
static la_int64_t src_skip(struct archive *a, void *ud, la_int64_t req)
{
    (void)a;
    src *const s = ud;
    if (req <= 0) return 0;
    if (s->fd < 0) {
        size_t const k = (uint64_t)req < s->len - s->pos ? (size_t)req : s->len - s->pos;
        s->pos += k;
        return (la_int64_t)k;
    }
    if (!s->seekable) return 0;
    off_t const cur = lseek(s->fd, 0, SEEK_CUR);
    if (cur < 0 || (uint64_t)cur >= s->file_size) return 0;
    uint64_t const k = (uint64_t)req < s->file_size - (uint64_t)cur ? (uint64_t)req : s->file_size - (uint64_t)cur;
    if (lseek(s->fd, (off_t)k, SEEK_CUR) < 0) return 0;
    return (la_int64_t)k;
}

/* A libarchive failure as a trit error: which class depends on what the stream did. */
static int la_fail(struct archive *a, const src *s, trit_err *err, const char *what)
{
    uint64_t const at = (uint64_t)archive_filter_bytes(a, 0);
    /* the machine failed, not the bundle: an i/o error or no memory (libarchive says ENOMEM) */
    if (s->read_errno)
        return trit_err_set(err, TRIT_E_IO, at, what, "cannot read the bundle: %s", strerror(s->read_errno));
    if (archive_errno(a) == ENOMEM || (!archive_error_string(a) && errno == ENOMEM))
        return trit_err_set(err, TRIT_E_NOMEM, at, what, "out of memory (%s)",
                            archive_error_string(a) ? archive_error_string(a) : "libarchive");
    if (s->compressed)
        return trit_err_set(err, PACK_E_BOMB, 0, NULL,
                            "%s-compressed bundle refused: bundles are plain tar (the containers in them are already "
                            "compressed) and a compressed stream can expand without bound", s->magic_name);
    if (s->eof)
        return trit_err_set(err, PACK_E_TRUNCATED, at, what, "the bundle ends early (%s)",
                            archive_error_string(a) ? archive_error_string(a) : "end of input");
    return trit_err_set(err, TRIT_E_CORRUPT, at, what, "not a valid tar bundle: %s",
                        archive_error_string(a) ? archive_error_string(a) : "unknown error");
}

/* Next header: 1 got one, 0 end of archive, < 0 error. The end must be tar's end-of-archive
 * marker (two zero blocks, which libarchive consumes): an input that just stops at a member
 * boundary is truncated, not a shorter bundle. */
static int next(struct archive *a, src *s, struct archive_entry **e, trit_err *err)
{
    int const r = archive_read_next_header(a, e);
    if (r == ARCHIVE_OK) {
        /* libarchive's count stands at the member's data here; the next header follows the
         * padded data (the count only moves on at the next call) */
        uint64_t const start = (uint64_t)archive_filter_bytes(a, 0);
        int64_t const size = archive_entry_size(*e);
        s->data_off = start;
        uint64_t padded;
        if (size < 0 || trit_align_up((uint64_t)size, 512, &padded) || trit_add_u64(start, padded, &s->next_hdr))
            s->next_hdr = UINT64_MAX;
        return 1;
    }
    if (r != ARCHIVE_EOF) return la_fail(a, s, err, "member header");
    if ((uint64_t)archive_filter_bytes(a, 0) < s->next_hdr || (uint64_t)archive_filter_bytes(a, 0) - s->next_hdr < 1024)
        return trit_err_set(err, PACK_E_TRUNCATED, s->next_hdr, NULL, "the bundle ends without tar's end-of-archive marker");
    return 0;
}

static const char *type_name(mode_t ft)
{
    switch (ft) {
    case AE_IFDIR: return "directory";
    case AE_IFCHR: return "character device";
    case AE_IFBLK: return "block device";
    case AE_IFIFO: return "fifo";
    case AE_IFSOCK: return "socket";
    default: return "special file";
    }
}

/* What every member must be, whatever its name: a plain regular file, inside the target. */
static int check_entry(struct archive *a, struct archive_entry *e, trit_err *err)
{
    const char *const p = archive_entry_pathname(e);
    uint64_t const at = (uint64_t)archive_read_header_position(a);
    char where[96];
    snprintf(where, sizeof where, "member '%.60s'", p ? p : "");
    if (!p || !*p) return trit_err_set(err, PACK_E_MANIFEST, at, "member", "member without a name");
    if (archive_entry_hardlink(e))
        return trit_err_set(err, PACK_E_LINK, at, where, "hard link to '%.60s' refused", archive_entry_hardlink(e));
    mode_t const ft = archive_entry_filetype(e);
    if (ft == AE_IFLNK) {
        const char *const t = archive_entry_symlink(e);
        return trit_err_set(err, PACK_E_LINK, at, where, "symbolic link to '%.60s' refused", t ? t : "");
    }
    if (ft != AE_IFREG) return trit_err_set(err, PACK_E_SPECIAL, at, where, "%s refused: only regular files", type_name(ft));
    if (pack_name_escapes(p))
        return trit_err_set(err, PACK_E_TRAVERSAL, at, where, "path traversal refused: absolute path or '..' component");
    if (archive_entry_sparse_count(e) > 0)
        return trit_err_set(err, PACK_E_BOMB, at, where,
                            "sparse member refused: its data would expand beyond its stored size");
    if (!archive_entry_size_is_set(e) || archive_entry_size(e) < 0)
        return trit_err_set(err, TRIT_E_CORRUPT, at, where, "member without a size");
    return TRIT_OK;
}

/* Read exactly n bytes of the current member into p. */
static int read_exact(struct archive *a, src *s, uint8_t *p, size_t n, const char *what, trit_err *err)
{
    size_t got = 0;
    while (got < n) {
        la_ssize_t const r = archive_read_data(a, p + got, n - got);
        if (r < 0) return la_fail(a, s, err, what);
        if (r == 0) return trit_err_set(err, PACK_E_TRUNCATED, (uint64_t)archive_filter_bytes(a, 0), what, "the member ends early");
        got += (size_t)r;
    }
    return TRIT_OK;
}

typedef struct rd {
    struct archive *a;
    src *s;
    const pack_read_opts *o;
    const pack_sink *sink;
    trit_err *err;
    trit_pool *pool;           /* hashes the members' chunks */
    uint32_t threads;
} rd;

/* manifest.json, then manifest.sig if present. *e is left on the first member after them
 * (*have 1) or at the end (*have 0). */
static int read_head(rd *r, pack_manifest **mo, struct archive_entry **e, int *have)
{
    trit_err *const err = r->err;
    int h = next(r->a, r->s, e, err);
    if (h < 0) return h;
    if (h == 0) return trit_err_set(err, PACK_E_TRUNCATED, (uint64_t)archive_filter_bytes(r->a, 0), NULL, "the bundle ends before manifest.json");
    int rc = check_entry(r->a, *e, err);
    if (rc != TRIT_OK) return rc;
    const char *const name = archive_entry_pathname(*e);
    if (strcmp(name, PACK_MANIFEST_NAME) != 0)
        return trit_err_set(err, PACK_E_MANIFEST, 0, NULL, "first member is '%.60s', expected " PACK_MANIFEST_NAME, name);
    int64_t const msize = archive_entry_size(*e);
    if ((uint64_t)msize > TRIT_MAX_MANIFEST_BYTES)
        return trit_err_set(err, PACK_E_OVERSIZE, 0, PACK_MANIFEST_NAME, "%lld bytes, the limit is %u", (long long)msize,
                            (unsigned)TRIT_MAX_MANIFEST_BYTES);
    uint8_t *const raw = malloc(msize ? (size_t)msize : 1);
    if (!raw) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    rc = read_exact(r->a, r->s, raw, (size_t)msize, PACK_MANIFEST_NAME, err);
    uint8_t sig[PACK_SIG_BYTES];
    int has_sig = 0;
    if (rc == TRIT_OK) h = next(r->a, r->s, e, err);
    if (rc == TRIT_OK && h < 0) rc = h;
    if (rc == TRIT_OK && h == 1 && (rc = check_entry(r->a, *e, err)) == TRIT_OK &&
        strcmp(archive_entry_pathname(*e), PACK_SIG_NAME) == 0) {
        if (archive_entry_size(*e) != (int64_t)PACK_SIG_BYTES)
            rc = trit_err_set(err, PACK_E_SIGNATURE, (uint64_t)archive_read_header_position(r->a), PACK_SIG_NAME,
                              "%lld bytes, an Ed25519 signature is %u", (long long)archive_entry_size(*e), PACK_SIG_BYTES);
        if (rc == TRIT_OK) rc = read_exact(r->a, r->s, sig, sizeof sig, PACK_SIG_NAME, err);
        has_sig = 1;
        if (rc == TRIT_OK) h = next(r->a, r->s, e, err);
        if (rc == TRIT_OK && h < 0) rc = h;
    }
    /* The signature covers the bytes as stored: check it before parsing them. */
    if (rc == TRIT_OK && r->o->pubkey) {
        char id[17];
        pack_key_id(r->o->pubkey, id);
        if (!has_sig) rc = trit_err_set(err, PACK_E_SIGNATURE, TRIT_NO_OFFSET, NULL, "bundle is not signed (key %s expected)", id);
        else if ((rc = pack_sodium_init(err)) == TRIT_OK &&
                 crypto_sign_verify_detached(sig, raw, (unsigned long long)msize, r->o->pubkey) != 0)
            rc = trit_err_set(err, PACK_E_SIGNATURE, TRIT_NO_OFFSET, PACK_SIG_NAME,
                              "signature does not verify with key %s: the manifest was modified or signed by another key", id);
    } else if (rc == TRIT_OK && !r->o->skip_signature) {
        rc = trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL, "no public key to check the signature with");
    }
    pack_manifest *m = NULL;
    if (rc == TRIT_OK) rc = pack_manifest_parse(raw, (size_t)msize, &m, err);
    if (rc != TRIT_OK) {
        free(raw);
        return rc;
    }
    m->raw = raw;
    m->raw_len = (size_t)msize;
    m->has_sig = has_sig;
    if (has_sig) memcpy(m->sig, sig, sizeof sig);
    *mo = m;
    *have = h;
    return TRIT_OK;
}

/* What the manifest asks of this installer: a newer version, a runtime we are, a format we read. */
static int check_versions(const rd *r, const pack_manifest *m)
{
    const pack_read_opts *const o = r->o;
    if (o->have_installed && m->version <= o->installed)
        return trit_err_set(r->err, PACK_E_ROLLBACK, TRIT_NO_OFFSET, NULL,
                            "bundle version %llu is not newer than the installed version %llu (rollback refused)",
                            (unsigned long long)m->version, (unsigned long long)o->installed);
    uint32_t rt[3];
    const char *const rts = o->runtime_version ? o->runtime_version : TRIT_VERSION_STRING;
    if (pack_parse_semver(rts, rt) != 0)
        return trit_err_set(r->err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL, "runtime version '%.30s' is not MAJOR.MINOR.PATCH", rts);
    if (pack_semver_cmp(m->min_runtime, rt) > 0)
        return trit_err_set(r->err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, NULL, "bundle needs runtime %u.%u.%u or newer, this is %s",
                            m->min_runtime[0], m->min_runtime[1], m->min_runtime[2], rts);
    if (m->fmt_major > TRIT_FORMAT_MAJOR || m->fmt_major == 0)
        return trit_err_set(r->err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, NULL, "container format %u.%u; this runtime reads %d.x",
                            m->fmt_major, m->fmt_minor, TRIT_FORMAT_MAJOR);
    return TRIT_OK;
}

/* The data of the current member into window buffers, hashed on the pool while the sink
 * writes it (pack_stream): every byte read once, hashed once. */
static int stream_member(rd *r, const pack_manifest *m, const pack_blob *b, uint64_t at, const char *what)
{
    trit_err *const err = r->err;
    pack_side_fn const side = r->sink && r->sink->write ? r->sink->write : NULL;
    pack_stream st;
    int rc = pack_stream_init(&st, r->pool, r->threads, m->schema == PACK_MANIFEST_V1, m->chunk_size, b->size, b, NULL, side,
                              side ? r->sink->ctx : NULL, what, err);
    uint64_t got = 0;
    src *const s = r->s;
    /* a regular file: the data straight into the window with pread (one copy, not libarchive's
     * read and then its copy), then libarchive skips it */
    while (rc == TRIT_OK && s->seekable && got < b->size) {
        uint8_t *p;
        size_t room;
        if ((rc = pack_stream_space(&st, &p, &room, err)) != TRIT_OK) break;
        size_t const want = b->size - got < room ? (size_t)(b->size - got) : room;
        errno = 0;
        int64_t const k = trit_sys_pread_full(s->fd, p, want, s->data_off + got);
        if (k < 0) {
            rc = trit_err_set(err, TRIT_E_IO, s->data_off + got, what, "cannot read the bundle: %s", strerror(errno));
            break;
        }
        pack_stream_commit(&st, (size_t)k);
        got += (uint64_t)k;
        if ((size_t)k < want) {
            rc = trit_err_set(err, PACK_E_TRUNCATED, s->data_off + got, what, "the bundle ends early (inside the member)");
            break;
        }
    }
    if (rc == TRIT_OK && s->seekable && archive_read_data_skip(r->a) != ARCHIVE_OK) rc = la_fail(r->a, s, err, what);
    while (rc == TRIT_OK && !s->seekable) {
        uint8_t *p;
        size_t room;
        if ((rc = pack_stream_space(&st, &p, &room, err)) != TRIT_OK) break;
        la_ssize_t const k = archive_read_data(r->a, p, room);
        if (k < 0) {
            rc = la_fail(r->a, r->s, err, what);
            break;
        }
        if (k == 0) break;
        if (got + (uint64_t)k > b->size) { /* libarchive stops at the header's size; belt and braces */
            rc = trit_err_set(err, PACK_E_OVERSIZE, at, what, "more data than the manifest's %llu bytes", (unsigned long long)b->size);
            break;
        }
        pack_stream_commit(&st, (size_t)k);
        got += (uint64_t)k;
    }
    if (rc == TRIT_OK && got != b->size)
        rc = trit_err_set(err, PACK_E_TRUNCATED, (uint64_t)archive_filter_bytes(r->a, 0), what, "the member ends early");
    if (rc == TRIT_OK) rc = pack_stream_final(&st, NULL, err);
    if (rc == PACK_E_DIGEST && err && err->offset == 0) err->offset = at;
    pack_stream_release(&st);
    return rc;
}

/* One payload member: find it in the manifest, check its size, stream it to the sink. */
static int read_member(rd *r, const pack_manifest *m, struct archive_entry *e, uint8_t *seen)
{
    trit_err *const err = r->err;
    int rc = check_entry(r->a, e, err);
    if (rc != TRIT_OK) return rc;
    const char *const name = archive_entry_pathname(e);
    uint64_t const at = (uint64_t)archive_read_header_position(r->a);
    char what[96];
    snprintf(what, sizeof what, "member '%.60s'", name);
    uint32_t idx = m->n_files;
    for (uint32_t i = 0; i < m->n_files; i++)
        if (strcmp(pack_manifest_member(m, i)->name, name) == 0) idx = i;
    if (idx == m->n_files || seen[idx])
        return trit_err_set(err, PACK_E_MANIFEST, at, what, idx == m->n_files ? "not named in the manifest" : "appears twice");
    seen[idx] = 1;
    const pack_blob *const b = pack_manifest_member(m, idx);
    uint64_t const hsize = (uint64_t)archive_entry_size(e);
    if (hsize != b->size)
        return trit_err_set(err, hsize > b->size ? PACK_E_OVERSIZE : PACK_E_DIGEST, at, what,
                            "%llu bytes, the manifest says %llu", (unsigned long long)hsize, (unsigned long long)b->size);
    if (r->sink && r->sink->begin && (rc = r->sink->begin(r->sink->ctx, idx, err)) != TRIT_OK) return rc;
    if ((rc = stream_member(r, m, b, at, what)) != TRIT_OK) return rc;
    if (r->sink && r->sink->end) return r->sink->end(r->sink->ctx, err);
    return TRIT_OK;
}

static int read_all(rd *r, pack_manifest **out)
{
    struct archive_entry *e = NULL;
    int have = 0;
    pack_manifest *m = NULL;
    int rc = read_head(r, &m, &e, &have);
    if (rc == TRIT_OK) rc = check_versions(r, m);
    if (rc == TRIT_OK && r->sink && r->sink->on_manifest) rc = r->sink->on_manifest(r->sink->ctx, m, r->err);
    uint8_t *const seen = rc == TRIT_OK ? calloc(m->n_files, 1) : NULL;
    if (rc == TRIT_OK && !seen) rc = trit_err_set(r->err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    while (rc == TRIT_OK && have == 1) {
        rc = read_member(r, m, e, seen);
        if (rc == TRIT_OK) {
            have = next(r->a, r->s, &e, r->err);
            if (have < 0) rc = have;
        }
    }
    for (uint32_t i = 0; rc == TRIT_OK && i < m->n_files; i++)
        if (!seen[i])
            rc = trit_err_set(r->err, PACK_E_TRUNCATED, (uint64_t)archive_filter_bytes(r->a, 0), NULL,
                              "the bundle ends before member '%s'", pack_manifest_member(m, i)->name);
    free(seen);
    if (rc != TRIT_OK || !out) pack_manifest_free(m);
    else *out = m;
    return rc;
}

static int run(src *s, const char *name, const pack_read_opts *o, const pack_sink *sink, pack_manifest **out,
               trit_err *err)
{
    static const pack_read_opts none = {0};
    if (out) *out = NULL;
    rd r = {NULL, s, o ? o : &none, sink, err, NULL, 0};
    r.threads = r.o->threads ? r.o->threads : trit_pool_default_threads();
    int rc = trit_pool_new(r.threads, &r.pool, err);
    if (rc != TRIT_OK) {
        trit_err_file(err, name);
        return rc;
    }
    /* libarchive 3.6's archive_read_new does not check its entry allocation (and a later call
     * would crash on it): a failed malloc inside it is seen through errno */
    errno = 0;
    if (s->fd < 0 || (s->buf = malloc(SRC_BLOCK)) != NULL) r.a = archive_read_new();
    if ((s->fd >= 0 && !s->buf) || !r.a || errno == ENOMEM)
        rc = trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    /* tar (ustar, pax, gnu) only, and no filter: a bundle is never compressed */
    if (rc == TRIT_OK && archive_read_support_format_tar(r.a) != ARCHIVE_OK)
        rc = trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, NULL, "libarchive: %s", archive_error_string(r.a));
    /* archive_read_open's steps one by one: it ignores a failed allocation in
     * archive_read_set_callback_data, and archive_read_open1 then crashes */
    if (rc == TRIT_OK && (archive_read_set_read_callback(r.a, src_read) != ARCHIVE_OK ||
                          archive_read_set_skip_callback(r.a, src_skip) != ARCHIVE_OK ||
                          archive_read_set_callback_data(r.a, s) != ARCHIVE_OK))
        rc = trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    if (rc == TRIT_OK && archive_read_open1(r.a) != ARCHIVE_OK) rc = la_fail(r.a, s, err, NULL);
    if (rc == TRIT_OK) rc = read_all(&r, out);
    if (r.a) archive_read_free(r.a);
    trit_pool_free(r.pool);
    free(s->buf);
    trit_err_file(err, name);
    return rc;
}

int pack_bundle_read_mem(const void *buf, size_t len, const char *name, const pack_read_opts *o, const pack_sink *sink,
                         pack_manifest **out, trit_err *err)
{
    src s = {-1, buf, len, 0, NULL, 1, 0, 0, NULL, 0, 0, 0, 0, 0};
    return run(&s, name, o, sink, out, err);
}

int pack_bundle_read_file(const char *path, const pack_read_opts *o, const pack_sink *sink, pack_manifest **out,
                          trit_err *err)
{
    if (out) *out = NULL;
    int const fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, NULL, "cannot open: %s", strerror(errno));
        trit_err_file(err, path);
        return TRIT_E_IO;
    }
    src s = {fd, NULL, 0, 0, NULL, 1, 0, 0, NULL, 0, 0, 0, 0, 0};
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        s.seekable = 1;
        s.file_size = (uint64_t)st.st_size;
    }
    int const rc = run(&s, path, o, sink, out, err);
    close(fd);
    return rc;
}
