/* pack_create.c - `trit pack`: containers in, one signed, deterministic bundle out.
 *
 * 1. Every input is opened (header and index); its full verification runs on the windows
 *    that carry its bytes below (trit_verify_stream): a bundle never ships a broken container.
 * 2. With a base bundle, each input that has a file of the same name in the base gets a delta
 *    plan (pack_delta.c).
 * 3. A delta input gets one streaming pass that computes its digests (chunks and root) and
 *    writes the carried bytes to an unlinked temp file while checking that every copied and
 *    zero range still holds what the plan says.
 * 4. The tar is written: manifest.json, manifest.sig, then the members in name order, with
 *    fixed mode, owner and mtime, so the same inputs give the same bytes. A whole input is read
 *    once: each window of it is read once and its chunks are hashed on the pool (--threads)
 *    while the same buffer goes into the archive (pack_stream). So the manifest and signature are written first as placeholders of their
 *    final length (every field has a fixed width or is known before hashing), and the real
 *    ones are written over them once the members are in; the same bytes as writing them first.
 *    An input whose size or modification time changed by then fails the run.
 * 5. The bundle is written to a temp file beside the output through trit_sys_atomic (OUT.tmp-
 *    <pid>-XXXXXX, flocked while it is written, registered with the caller's signal guard),
 *    fsynced, and renamed. Temp files of earlier runs on the same output whose writer is gone
 *    are removed first. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "pack_int.h"

typedef struct in_file {
    const char *path;          /* as given (borrowed) */
    trit_reader *r;
    int fd;                    /* for streaming */
    uint64_t size;
    int pfd;                   /* delta: unlinked temp file with the carried bytes, or -1 */
    int verified;              /* trit_reader_verify's checks passed over the bytes packed */
} in_file;

typedef struct cctx {
    const pack_create_opts *o;
    trit_err *err;
    uint32_t n;
    in_file *in;               /* sorted like m->files */
    pack_manifest *m;
    pack_base *base;
    trit_pool *pool;           /* hashes chunks; runs the inputs' verification */
    uint32_t threads;
    trit_sys_atomic at;        /* the bundle's temp file (trit_sys.h) */
    int opened;                /* every input is open (so each can be verified) */
    int vfailed;               /* the run's error is a verification failure */
} cctx;

static int cmp_name(const void *a, const void *b)
{
    const in_file *const x = a, *const y = b;
    return strcmp(pack_basename(x->path), pack_basename(y->path));
}

static int check_opts(const pack_create_opts *o, trit_err *err)
{
    if (!o->n_inputs || o->n_inputs > TRIT_MAX_BUNDLE_FILES)
        return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL, "give 1 to %u containers", (unsigned)TRIT_MAX_BUNDLE_FILES);
    if (!o->out || !o->model_id || !o->version)
        return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL, "an output, a model id and a version >= 1 are required");
    if (!pack_model_id_ok(o->model_id))
        return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL, "model id '%.40s' is not 1 to 128 bytes of [A-Za-z0-9._:/+-]",
                            o->model_id);
    uint64_t const cs = o->chunk_size ? o->chunk_size : PACK_DEFAULT_CHUNK;
    if (!trit_is_pow2(cs) || cs < TRIT_MIN_BUNDLE_CHUNK || cs > TRIT_MAX_BUNDLE_CHUNK)
        return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL, "chunk size %llu is not a power of two in [4 KiB, 1 GiB]",
                            (unsigned long long)cs);
    if (o->manifest_version > PACK_MANIFEST_V2)
        return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL, "manifest version %u is not 1 or 2", o->manifest_version);
    if (o->threads > PACK_MAX_THREADS)
        return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL, "%u threads: at most %u", o->threads, (unsigned)PACK_MAX_THREADS);
    if (!o->force && !o->dry_run && access(o->out, F_OK) == 0)
        return trit_err_set(err, TRIT_E_EXISTS, TRIT_NO_OFFSET, o->out, "already exists (use --force to replace it)");
    return TRIT_OK;
}

/* Fill the manifest's fixed fields and open every input. */
static int open_inputs(cctx *c)
{
    const pack_create_opts *const o = c->o;
    trit_err *const err = c->err;
    pack_manifest *const m = c->m;
    uint32_t rt[3];
    if (pack_parse_semver(o->min_runtime ? o->min_runtime : TRIT_VERSION_STRING, rt) != 0)
        return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL, "minimum runtime '%s' is not MAJOR.MINOR.PATCH", o->min_runtime);
    memcpy(m->min_runtime, rt, sizeof rt);
    if (!(m->model_id = strdup(o->model_id))) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    m->version = o->version;
    m->chunk_size = o->chunk_size ? o->chunk_size : PACK_DEFAULT_CHUNK;
    qsort(c->in, c->n, sizeof *c->in, cmp_name);
    for (uint32_t i = 0; i < c->n; i++) {
        in_file *const f = &c->in[i];
        const char *const name = pack_basename(f->path);
        if (!pack_name_ok(name))
            return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, f->path,
                                "'%s' cannot be a bundle file name (1 to 128 bytes of [A-Za-z0-9._-], starting with a letter or digit)", name);
        if (i && strcmp(name, pack_basename(c->in[i - 1].path)) == 0)
            return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, f->path, "two inputs are called '%s'", name);
        if (!(m->files[i].file.name = strdup(name))) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
        /* structure, header and index now; every object's bytes as they are packed (trit_verify_stream) */
        int rc = trit_reader_open(f->path, NULL, &f->r, err);
        if (rc != TRIT_OK) return rc;
        trit_file_info const *const fi = trit_reader_file_info(f->r);
        if (fi->major > m->fmt_major || (fi->major == m->fmt_major && fi->minor > m->fmt_minor)) {
            m->fmt_major = fi->major;
            m->fmt_minor = fi->minor;
        }
        f->size = fi->file_size;
        if (f->size > TRIT_MAX_BUNDLE_MEMBER)
            return trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, f->path, "larger than a bundle member may be (1 TiB)");
        if ((f->fd = open(f->path, O_RDONLY | O_CLOEXEC)) < 0)
            return trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, f->path, "cannot open: %s", strerror(errno));
    }
    return TRIT_OK;
}

static int alloc_chunks(pack_blob *b, uint64_t chunk_size, trit_err *err)
{
    b->n_chunks = pack_n_chunks(b->size, chunk_size);
    b->chunks = trit_mallocarray((size_t)(b->n_chunks ? b->n_chunks : 1), PACK_SHA256_BYTES);
    return b->chunks ? TRIT_OK : trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
}

/* Plan a delta for file i if the base has a file of that name and shares any object with it. */
static int plan(cctx *c, uint32_t i)
{
    pack_file *const pf = &c->m->files[i];
    int64_t const bi = pack_base_find(c->base, pf->file.name);
    if (bi < 0) return TRIT_OK;
    pack_extent *ex = NULL;
    uint64_t n = 0, data = 0, copied = 0;
    int rc = pack_delta_plan(c->in[i].r, c->base->r[bi], &ex, &n, c->err);
    if (rc != TRIT_OK) return rc;
    for (uint64_t k = 0; k < n; k++) {
        if (ex[k].op == PACK_EXT_DATA) data += ex[k].len;
        if (ex[k].op == PACK_EXT_COPY) copied += ex[k].len;
    }
    if (!copied) { /* nothing in common: ship the file whole */
        free(ex);
        return TRIT_OK;
    }
    pack_file const *const bf = &c->base->m->files[bi];
    char name[PACK_MAX_NAME + 16];
    snprintf(name, sizeof name, "%s.delta", pf->file.name);
    if (!pack_name_ok(name)) snprintf(name, sizeof name, "delta-%u", i); /* too long with the suffix */
    pf->is_delta = 1;
    pf->extents = ex;
    pf->n_extents = n;
    pf->delta.size = data;
    pf->base_size = bf->file.size;
    int rc2 = pack_base_digest(c->base, (uint32_t)bi, c->m->schema, pf->base_digest, c->err);
    if (rc2 != TRIT_OK) return rc2;
    if (!(pf->delta.name = strdup(name)) || !(pf->base_path = strdup(bf->file.name)))
        return trit_err_set(c->err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    c->m->has_base = 1;
    c->m->base_version = c->base->m->version;
    return alloc_chunks(&pf->delta, c->m->chunk_size, c->err);
}

/* The input changed between its verification and now (or is being written to). */
static int changed(cctx *c, uint32_t i, uint64_t at)
{
    return trit_err_set(c->err, TRIT_E_IO, at, c->in[i].path, "the file changed while it was being packed");
}

/* The full verification of every input (trit_reader_verify's checks) runs on the windows that
 * carry its bytes to the digests and the archive (trit_verify_stream), one pool job per window:
 * the input is read once, and what is checked is exactly what is packed. */
static int verify_attach(cctx *c, uint32_t i, pack_stream *h, trit_verify_stream **vs)
{
    int const rc = trit_verify_stream_new(c->in[i].r, vs, c->err);
    if (rc == TRIT_OK) pack_stream_verify(h, *vs);
    return rc;
}

/* A verification failure of input i. The inputs used to be verified in name order before any
 * was packed: an earlier input not verified yet (a whole one, while a delta input is being
 * planned) that is broken too is the one reported, so the error does not depend on the kind
 * of pass an input gets. */
static int first_broken(cctx *c, uint32_t i, int rc)
{
    for (uint32_t j = 0; j < i; j++) {
        if (c->in[j].verified) continue;
        trit_err e;
        trit_err_clear(&e);
        int const r = trit_reader_verify(c->in[j].r, &e);
        if (r != TRIT_OK) {
            trit_err_file(&e, c->in[j].path);
            if (c->err) *c->err = e;
            return r;
        }
        c->in[j].verified = 1;
    }
    return rc;
}

/* After input i's stream (rc: how it ended; vfail: the stream saw a verification failure):
 * the verifier's verdict, vs freed. */
static int verify_done(cctx *c, uint32_t i, int vfail, trit_verify_stream *vs, int rc)
{
    if (rc == TRIT_OK && vs && (rc = trit_verify_stream_finish(vs, c->err)) != TRIT_OK) vfail = 1;
    trit_verify_stream_free(vs);
    if (vfail) {
        c->vfailed = 1;
        trit_err_file(c->err, c->in[i].path);
        return first_broken(c, i, rc);
    }
    if (rc == TRIT_OK && vs) c->in[i].verified = 1;
    return rc;
}

/* Walk k bytes at file offset pos through the delta extents. */
typedef struct walk {
    uint64_t ext, ext_off;
    XXH3_state_t *xs;
    pack_stream hd;            /* the carried bytes: digests, and written to the input's pfd */
    int has_hd;                /* hd was initialised (release it) */
} walk;

static int walk_bytes(cctx *c, uint32_t i, walk *w, const uint8_t *p, size_t k, uint64_t pos)
{
    pack_file const *const pf = &c->m->files[i];
    size_t q = 0;
    while (q < k) {
        if (w->ext >= pf->n_extents) return changed(c, i, pos + q);
        pack_extent const *const x = &pf->extents[w->ext];
        size_t const take = x->len - w->ext_off < k - q ? (size_t)(x->len - w->ext_off) : k - q;
        if (w->ext_off == 0 && x->op == PACK_EXT_COPY) XXH3_64bits_reset(w->xs);
        if (x->op == PACK_EXT_DATA) {
            int const rc = pack_stream_put(&w->hd, p + q, take, c->err);
            if (rc != TRIT_OK) return rc;
        } else if (x->op == PACK_EXT_ZERO) {
            for (size_t z = 0; z < take; z++)
                if (p[q + z]) return changed(c, i, pos + q + z);
        } else {
            XXH3_64bits_update(w->xs, p + q, take);
        }
        q += take;
        w->ext_off += take;
        if (w->ext_off == x->len) {
            if (x->op == PACK_EXT_COPY && XXH3_64bits_digest(w->xs) != x->xxh3) return changed(c, i, pos + q - x->len);
            w->ext++;
            w->ext_off = 0;
        }
    }
    return TRIT_OK;
}

/* The delta member's bytes into our unlinked temp file (the stream's sink). */
static int put_pfd(void *ctx, const void *p, size_t n, trit_err *err)
{
    in_file const *const f = ctx;
    if (trit_sys_write_full(f->pfd, p, n) != 0)
        return trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, NULL, "cannot write a temp file: %s", strerror(errno));
    return TRIT_OK;
}

/* One pass over a delta input i (or any input, for --dry-run): digests, and the carried bytes
 * of a delta. */
static int hash_stream(cctx *c, uint32_t i, pack_stream *hf, walk *w)
{
    in_file *const f = &c->in[i];
    pack_file *const pf = &c->m->files[i];
    int rc = TRIT_OK;
    if (pf->is_delta) {
        char tmpl[4096];
        if (snprintf(tmpl, sizeof tmpl, "%s.delta-XXXXXX", c->o->out) >= (int)sizeof tmpl)
            return trit_err_set(c->err, TRIT_E_USAGE, TRIT_NO_OFFSET, c->o->out, "path too long");
        if ((f->pfd = mkstemp(tmpl)) < 0)
            return trit_err_set(c->err, TRIT_E_IO, TRIT_NO_OFFSET, c->o->out, "cannot create a temp file: %s", strerror(errno));
        unlink(tmpl); /* only the descriptor is needed: nothing is left behind on a crash */
        if (!(w->xs = XXH3_createState())) return trit_err_set(c->err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
        w->has_hd = 1;
        if ((rc = pack_stream_init(&w->hd, c->pool, c->threads, c->m->schema == PACK_MANIFEST_V1, c->m->chunk_size, pf->delta.size,
                                   NULL, pf->delta.chunks, put_pfd, f, pf->delta.name, c->err)) != TRIT_OK)
            return rc;
    }
    uint64_t pos = 0;
    for (;;) {
        uint8_t *p;
        size_t room;
        if ((rc = pack_stream_space(hf, &p, &room, c->err)) != TRIT_OK) return rc;
        ssize_t const k = pread(f->fd, p, room, (off_t)pos);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return trit_err_set(c->err, TRIT_E_IO, pos, f->path, "cannot read: %s", strerror(errno));
        if (k == 0) break;
        if (pos + (uint64_t)k > f->size) return changed(c, i, pos);
        pack_stream_commit(hf, (size_t)k);
        if (pf->is_delta && (rc = walk_bytes(c, i, w, p, (size_t)k, pos)) != TRIT_OK) return rc;
        pos += (uint64_t)k;
    }
    if (pos != f->size || (pf->is_delta && w->ext != pf->n_extents)) return changed(c, i, pos);
    rc = pack_stream_final(hf, pf->file.digest, c->err);
    if (rc == TRIT_OK && pf->is_delta) rc = pack_stream_final(&w->hd, pf->delta.digest, c->err);
    return rc;
}

static int hash_input(cctx *c, uint32_t i)
{
    pack_file *const pf = &c->m->files[i];
    pack_stream hf;
    walk w;
    memset(&w, 0, sizeof w);
    trit_verify_stream *vs = NULL;
    int rc = pack_stream_init(&hf, c->pool, c->threads, c->m->schema == PACK_MANIFEST_V1, c->m->chunk_size, pf->file.size, NULL,
                              pf->file.chunks, NULL, NULL, pf->file.name, c->err);
    if (rc == TRIT_OK) rc = verify_attach(c, i, &hf, &vs);
    if (rc == TRIT_OK) rc = hash_stream(c, i, &hf, &w);
    int const vfail = pack_stream_verify_failed(&hf);
    pack_stream_release(&hf);
    rc = verify_done(c, i, vfail, vs, rc);
    if (w.has_hd) pack_stream_release(&w.hd);
    XXH3_freeState(w.xs);
    return rc;
}

/* A tar entry with the fixed metadata that makes bundles reproducible. */
static int put_header(cctx *c, struct archive *a, const char *name, uint64_t size)
{
    struct archive_entry *const e = archive_entry_new();
    if (!e) return trit_err_set(c->err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, (la_int64_t)size);
    archive_entry_set_mtime(e, 0, 0);
    archive_entry_set_uid(e, 0);
    archive_entry_set_gid(e, 0);
    int const r = archive_write_header(a, e);
    archive_entry_free(e);
    if (r != ARCHIVE_OK)
        return trit_err_set(c->err, archive_errno(a) == ENOMEM ? TRIT_E_NOMEM : TRIT_E_IO, TRIT_NO_OFFSET, c->o->out,
                            "cannot write member '%s': %s", name, archive_error_string(a) ? archive_error_string(a) : "?");
    return TRIT_OK;
}

static int put_data(cctx *c, struct archive *a, const void *p, size_t n)
{
    if (archive_write_data(a, p, n) != (la_ssize_t)n)
        return trit_err_set(c->err, archive_errno(a) == ENOMEM ? TRIT_E_NOMEM : TRIT_E_IO, TRIT_NO_OFFSET, c->o->out,
                            "cannot write: %s", archive_error_string(a) ? archive_error_string(a) : strerror(archive_errno(a)));
    return TRIT_OK;
}

/* put_data as a stream's sink: the window goes into the archive while the pool hashes it. */
typedef struct put_ctx {
    const char *out;
    struct archive *a;
} put_ctx;

static int put_side(void *ctx, const void *p, size_t n, trit_err *err)
{
    put_ctx const *const pc = ctx;
    if (archive_write_data(pc->a, p, n) != (la_ssize_t)n)
        return trit_err_set(err, archive_errno(pc->a) == ENOMEM ? TRIT_E_NOMEM : TRIT_E_IO, TRIT_NO_OFFSET, pc->out,
                            "cannot write: %s",
                            archive_error_string(pc->a) ? archive_error_string(pc->a) : strerror(archive_errno(pc->a)));
    return TRIT_OK;
}

/* Copy member i into the archive. A delta member (the carried bytes in our unlinked temp file)
 * is re-hashed on the way and compared. A whole input is read here for the first and only time:
 * each window is read once, its chunks hashed on the pool while the same buffer is handed to
 * the archive; its digests go into the manifest, which is written over its placeholder
 * afterwards. */
static int put_member(cctx *c, struct archive *a, uint32_t i)
{
    in_file *const f = &c->in[i];
    pack_file *const pf = &c->m->files[i];
    pack_blob const *const b = pack_manifest_member(c->m, i);
    int rc = put_header(c, a, b->name, b->size);
    if (rc != TRIT_OK) return rc;
    int const fd = pf->is_delta ? f->pfd : f->fd;
    uint8_t d[PACK_SHA256_BYTES];
    put_ctx pc = {c->o->out, a};
    pack_stream h;
    rc = pack_stream_init(&h, c->pool, c->threads, c->m->schema == PACK_MANIFEST_V1, c->m->chunk_size, b->size,
                          pf->is_delta ? b : NULL, pf->is_delta ? NULL : pf->file.chunks, put_side, &pc, b->name, c->err);
    trit_verify_stream *vs = NULL;   /* a whole input is verified here (a delta input was, in hash_input) */
    if (rc == TRIT_OK && !pf->is_delta) rc = verify_attach(c, i, &h, &vs);
    for (uint64_t pos = 0; rc == TRIT_OK && pos < b->size;) {
        uint8_t *p;
        size_t room;
        if ((rc = pack_stream_space(&h, &p, &room, c->err)) != TRIT_OK) break;
        size_t const k = b->size - pos < room ? (size_t)(b->size - pos) : room;
        if (pack_pread_all(fd, p, k, pos) != 0) {
            rc = changed(c, i, pos);
            break;
        }
        pack_stream_commit(&h, k);
        pos += k;
    }
    /* a delta member failing its digests was changed under us; an input that grew or changed is
     * caught by the size and mtime check after the archive is complete */
    if (rc == TRIT_OK) rc = pack_stream_final(&h, d, c->err);
    int const vfail = pack_stream_verify_failed(&h);
    pack_stream_release(&h);
    rc = verify_done(c, i, vfail, vs, rc);
    if (rc == PACK_E_DIGEST || rc == PACK_E_OVERSIZE) return changed(c, i, 0);
    if (rc != TRIT_OK) return rc;
    if (!pf->is_delta) memcpy(pf->file.digest, d, sizeof d);
    return TRIT_OK;
}

/* Every whole input still is what was verified at open and copied: same size, same mtime. */
static int inputs_unchanged(cctx *c)
{
    for (uint32_t i = 0; i < c->n; i++) {
        struct stat st;
        trit_err e;
        if (trit_reader_file_check(c->in[i].r, &e) != TRIT_OK || fstat(c->in[i].fd, &st) != 0 ||
            (uint64_t)st.st_size != c->in[i].size)
            return changed(c, i, TRIT_NO_OFFSET);
    }
    return TRIT_OK;
}

static int sign(const uint8_t *seed, const char *raw, size_t n, uint8_t sig[PACK_SIG_BYTES], trit_err *err)
{
    uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    int rc = pack_sodium_init(err);
    if (rc == TRIT_OK && (crypto_sign_seed_keypair(pk, sk, seed) != 0 ||
                          crypto_sign_detached(sig, NULL, (const unsigned char *)raw, n, sk) != 0))
        rc = trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL, "cannot sign the manifest");
    sodium_memzero(sk, sizeof sk);
    return rc;
}

/* Every input's verification ran to its end over the bytes packed (never ship one that did
 * not: a guard against a path that streams an input without its verifier). */
static int all_verified(cctx *c)
{
    for (uint32_t i = 0; i < c->n; i++)
        if (!c->in[i].verified)
            return trit_err_set(c->err, TRIT_E_USAGE, TRIT_NO_OFFSET, c->in[i].path, "internal error: not verified");
    return TRIT_OK;
}

/* The manifest as it ships: serialized, re-parsed by our own reader (never ship one it would
 * refuse), signed when a seed is given (sig may be NULL). *raw caller frees. */
static int finish_manifest(cctx *c, char **raw, size_t *raw_len, uint8_t *sig)
{
    int rc = pack_manifest_write(c->m, raw, raw_len, c->err);
    if (rc == TRIT_OK) {
        pack_manifest *check = NULL;
        rc = pack_manifest_parse(*raw, *raw_len, &check, c->err);
        pack_manifest_free(check);
    }
    if (rc == TRIT_OK && sig) rc = sign(c->o->seed, *raw, *raw_len, sig, c->err);
    if (rc != TRIT_OK) {
        free(*raw);
        *raw = NULL;
    }
    return rc;
}

/* The final manifest (and signature) over the placeholders at man_off / sig_off: same length
 * by construction, checked; the placeholder bytes must be where the archive put them. */
static int put_manifest(cctx *c, int fd, const char *ph, size_t ph_len, uint64_t man_off, uint64_t sig_off)
{
    char *raw = NULL;
    size_t raw_len = 0;
    uint8_t sig[PACK_SIG_BYTES];
    int rc = finish_manifest(c, &raw, &raw_len, c->o->seed ? sig : NULL);
    if (rc == TRIT_OK && raw_len != ph_len)
        rc = trit_err_set(c->err, TRIT_E_USAGE, TRIT_NO_OFFSET, c->o->out,
                          "internal error: the manifest is %zu bytes, its placeholder %zu", raw_len, ph_len);
    char *const back = rc == TRIT_OK ? malloc(ph_len ? ph_len : 1) : NULL;
    if (rc == TRIT_OK && !back) rc = trit_err_set(c->err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    if (rc == TRIT_OK && (pack_pread_all(fd, back, ph_len, man_off) != 0 || memcmp(back, ph, ph_len) != 0))
        rc = trit_err_set(c->err, TRIT_E_IO, man_off, c->o->out, "the manifest placeholder is not where the archive put it");
    free(back);
    if (rc == TRIT_OK && (pwrite(fd, raw, raw_len, (off_t)man_off) != (ssize_t)raw_len ||
                          (c->o->seed && pwrite(fd, sig, sizeof sig, (off_t)sig_off) != (ssize_t)sizeof sig)))
        rc = trit_err_set(c->err, TRIT_E_IO, man_off, c->o->out, "cannot write the manifest: %s", strerror(errno));
    free(raw);
    return rc;
}

static int write_bundle(cctx *c, pack_create_info *info)
{
    trit_err *const err = c->err;
    /* the placeholder manifest: every digest of a whole input still zero, same length */
    char *ph = NULL;
    size_t ph_len = 0;
    int rc0 = pack_manifest_write(c->m, &ph, &ph_len, err);
    if (rc0 != TRIT_OK) return rc0;
    static const uint8_t zero_sig[PACK_SIG_BYTES];
    uint64_t man_off = 0, sig_off = 0;
    /* removes the temp files of dead writers on this output, creates, flocks and registers
     * this one with the caller's guard (o->temp_path) */
    int const step = trit_sys_atomic_open(&c->at, c->o->out, 0644);
    if (step == TRIT_SYS_TEMP) {
        free(ph);
        return trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, c->o->out, "cannot create: %s", strerror(errno));
    }
    int const chmod_errno = errno;
    int const fd = c->at.fd;
    struct archive *const a = archive_write_new();
    int rc = a ? TRIT_OK : trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    if (rc == TRIT_OK && step == TRIT_SYS_CHMOD)
        rc = trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, c->o->out, "cannot start the archive: %s", strerror(chmod_errno));
    if (rc == TRIT_OK && (archive_write_set_format_pax(a) != ARCHIVE_OK ||
                          archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK || archive_write_open_fd(a, fd) != ARCHIVE_OK))
        rc = trit_err_set(err, archive_errno(a) == ENOMEM ? TRIT_E_NOMEM : TRIT_E_IO, TRIT_NO_OFFSET, c->o->out,
                          "cannot start the archive: %s", archive_error_string(a) ? archive_error_string(a) : strerror(errno));
    /* the archive's byte count (filter 0, uncompressed) stands at a member's data once its
     * header is written: where the final manifest and signature go */
    if (rc == TRIT_OK) rc = put_header(c, a, PACK_MANIFEST_NAME, ph_len);
    if (rc == TRIT_OK) man_off = (uint64_t)archive_filter_bytes(a, 0);
    if (rc == TRIT_OK) rc = put_data(c, a, ph, ph_len);
    if (rc == TRIT_OK && c->o->seed) rc = put_header(c, a, PACK_SIG_NAME, PACK_SIG_BYTES);
    if (rc == TRIT_OK && c->o->seed) sig_off = (uint64_t)archive_filter_bytes(a, 0);
    if (rc == TRIT_OK && c->o->seed) rc = put_data(c, a, zero_sig, PACK_SIG_BYTES);
    for (uint32_t i = 0; rc == TRIT_OK && i < c->n; i++) rc = put_member(c, a, i);
    if (rc == TRIT_OK && archive_write_close(a) != ARCHIVE_OK)
        rc = trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, c->o->out, "cannot finish the archive: %s", archive_error_string(a));
    if (a) archive_write_free(a);
    if (rc == TRIT_OK) rc = all_verified(c);
    if (rc == TRIT_OK) rc = inputs_unchanged(c);
    if (rc == TRIT_OK) rc = put_manifest(c, fd, ph, ph_len, man_off, sig_off);
    free(ph);
    struct stat st;
    if (rc == TRIT_OK && fstat(fd, &st) != 0)
        rc = trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, c->o->out, "fsync failed: %s", strerror(errno));
    if (rc != TRIT_OK) return rc;   /* pack_create removes the temp file */
    switch (trit_sys_atomic_commit(&c->at, c->o->out, c->o->force)) { /* without force link: never replaces, even in a race */
    case TRIT_SYS_OK: break;
    case TRIT_SYS_SYNC:
    case TRIT_SYS_CLOSE:
        return trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, c->o->out, "fsync failed: %s", strerror(errno));
    case TRIT_SYS_PUBLISH:
        if (c->o->force)
            return trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, c->o->out, "cannot rename into place: %s", strerror(errno));
        return trit_err_set(err, errno == EEXIST ? TRIT_E_EXISTS : TRIT_E_IO, TRIT_NO_OFFSET, c->o->out, "cannot create: %s",
                            strerror(errno));
    default:
        return trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, c->o->out, "cannot fsync its directory: %s", strerror(errno));
    }
    if (info) info->bundle_size = (uint64_t)st.st_size;
    return TRIT_OK;
}

static int run(cctx *c, pack_create_info *info)
{
    int rc = open_inputs(c);
    c->opened = rc == TRIT_OK;
    if (rc == TRIT_OK && c->o->base) {
        rc = pack_base_open(c->o->base, c->pool, c->threads, &c->base, c->err);
        if (rc == TRIT_OK && strcmp(c->base->m->model_id, c->m->model_id) != 0)
            rc = trit_err_set(c->err, TRIT_E_USAGE, TRIT_NO_OFFSET, c->o->base, "is a bundle of '%s', not '%s'",
                              c->base->m->model_id, c->m->model_id);
        if (rc == TRIT_OK && c->base->m->version >= c->m->version)
            rc = trit_err_set(c->err, TRIT_E_USAGE, TRIT_NO_OFFSET, c->o->base, "has version %llu; the new version %llu must be newer",
                              (unsigned long long)c->base->m->version, (unsigned long long)c->m->version);
        for (uint32_t i = 0; rc == TRIT_OK && i < c->n; i++) rc = plan(c, i);
    }
    for (uint32_t i = 0; rc == TRIT_OK && i < c->n; i++) {
        pack_file *const pf = &c->m->files[i];
        pf->file.size = c->in[i].size;
        rc = alloc_chunks(&pf->file, c->m->chunk_size, c->err);
        if (rc == TRIT_OK) memset(pf->file.chunks, 0, (size_t)pf->file.n_chunks * PACK_SHA256_BYTES);
        /* a whole input is hashed as it is copied into the bundle (put_member); a delta input,
         * or any input of a dry run, is hashed here */
        if (rc == TRIT_OK && (pf->is_delta || c->o->dry_run)) rc = hash_input(c, i);
    }
    if (rc == TRIT_OK && c->o->dry_run) rc = all_verified(c);
    if (rc == TRIT_OK && c->o->dry_run) {
        char *raw = NULL;
        size_t raw_len = 0;
        uint8_t sig[PACK_SIG_BYTES];
        rc = finish_manifest(c, &raw, &raw_len, c->o->seed ? sig : NULL);
        free(raw);
    } else if (rc == TRIT_OK) {
        rc = write_bundle(c, info);
    }
    if (rc == TRIT_OK && info) {
        for (uint32_t i = 0; i < c->n; i++) {
            pack_file const *const pf = &c->m->files[i];
            info->carried += pack_manifest_member(c->m, i)->size;
            for (uint64_t k = 0; pf->is_delta && k < pf->n_extents; k++)
                if (pf->extents[k].op == PACK_EXT_COPY) info->copied += pf->extents[k].len;
        }
    }
    return rc;
}

int pack_create(const pack_create_opts *o, pack_create_info *info, trit_err *err)
{
    if (info) memset(info, 0, sizeof *info);
    int rc = check_opts(o, err);
    if (rc != TRIT_OK) return rc;
    if ((rc = pack_sodium_init(err)) != TRIT_OK) return rc;
    cctx c = {.o = o, .err = err, .n = o->n_inputs};
    c.threads = o->threads ? o->threads : trit_pool_default_threads();
    trit_sys_atomic_init(&c.at, o->temp_path, o->temp_ctx);
    c.in = calloc(o->n_inputs, sizeof *c.in);
    c.m = calloc(1, sizeof *c.m);
    if (c.m) c.m->files = calloc(o->n_inputs, sizeof *c.m->files);
    if (c.m) c.m->schema = o->manifest_version ? o->manifest_version : PACK_MANIFEST_V2;
    for (uint32_t i = 0; c.in && i < c.n; i++) c.in[i] = (in_file){o->inputs[i], NULL, -1, 0, -1, 0};
    if (!c.in || !c.m || !c.m->files) rc = trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    else rc = trit_pool_new(c.threads, &c.pool, err);
    if (rc == TRIT_OK) {
        c.m->n_files = o->n_inputs;
        rc = run(&c, info);
        /* A verification failure outranks what failed before it was seen (a delta input's
         * copied range not matching, a base refused, a write failing): the inputs not verified
         * yet are, in name order, on this failure path only. */
        if (rc != TRIT_OK && c.opened && !c.vfailed) rc = first_broken(&c, c.n, rc);
    }
    trit_sys_atomic_abort(&c.at);
    for (uint32_t i = 0; c.in && i < c.n; i++) {
        trit_reader_close(c.in[i].r);
        if (c.in[i].fd >= 0) close(c.in[i].fd);
        if (c.in[i].pfd >= 0) close(c.in[i].pfd);
    }
    free(c.in);
    pack_base_close(c.base);
    trit_pool_free(c.pool);
    pack_manifest_free(c.m);
    return rc;
}
