/* pack_unpack.c - install a bundle atomically.
 *
 * The bundle reader authenticates the manifest and checks every member; this file decides
 * where bytes go. Nothing is created until the reader has verified the signature and the
 * versions (on_manifest). Members stream into a fresh 0700 directory beside the target, made
 * with mkdtemp, with O_EXCL|O_NOFOLLOW, under names the manifest parser has already limited
 * to plain file names. Delta files are rebuilt there from the installed base, every
 * container is opened with full verification, everything is fsynced, and the directory then
 * replaces the target in one rename (Linux: renameat2 RENAME_EXCHANGE when the target exists,
 * so there is no moment without an install). On any failure the staging directory is removed
 * and the target is untouched.
 *
 * The whole run holds an exclusive flock on the target's parent directory (which no rename
 * here replaces), so the installed version and install state are read, checked and replaced
 * by one unpack at a time; under that lock every staging directory of the target left by a
 * killed run is stale and removed. The install state (.trit-state in the install) keeps the
 * last version of every model id installed there, so installing another model (allowed only
 * with replace_model) does not reset the rollback floor of the first. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/syscall.h>
#endif

#include "pack_int.h"

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

#define STATE_MAGIC "trit-install-state/1"
#define STATE_MAX 1024u        /* model ids remembered per install directory */
#define LOCK_WAIT_MS 60000     /* default wait for another unpack into the same parent */

typedef struct state_ent {
    char id[PACK_MAX_MODEL_ID + 1];
    uint64_t version;          /* the last version of this model id installed here */
} state_ent;

typedef struct uctx {
    const pack_unpack_opts *o;
    char dir[4096];            /* target, without trailing slashes */
    char parent[4096];         /* its parent directory */
    char stage[4096];          /* staging directory ("" until created) */
    int dir_exists;
    int lock_fd;               /* the parent, flocked for the whole run, or -1 */
    pack_manifest *installed;  /* manifest of the install in dir, or NULL */
    state_ent *state;          /* install state of dir (owned) */
    uint32_t n_state;
    const pack_manifest *m;
    int fd;                    /* member being written */
    char cur[256];
} uctx;

/* Tell the caller (a signal guard) which staging directory to remove; NULL: nothing to remove. */
static void publish_stage(uctx *u, const char *path)
{
    if (u->o->stage_path) u->o->stage_path(u->o->stage_ctx, path);
}

/* *out = "dir/name" (trit_sys_path_join); caller frees. */
static int join(const char *dir, const char *name, char **out, trit_err *err)
{
    if (!(*out = trit_sys_path_join(dir, name))) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    return TRIT_OK;
}

/* Read a small regular file (an installed manifest) into memory. *out caller frees. */
static int read_small(const char *path, uint8_t **out, size_t *n, trit_err *err)
{
    *out = NULL;
    int const fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return trit_err_set(err, errno == ENOENT ? TRIT_E_NOTFOUND : TRIT_E_IO, TRIT_NO_OFFSET, path,
                                    "cannot open: %s", strerror(errno));
    struct stat st;
    int rc = TRIT_OK;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) rc = trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, path, "not a regular file");
    else if ((uint64_t)st.st_size > TRIT_MAX_MANIFEST_BYTES)
        rc = trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, path, "larger than a manifest may be");
    uint8_t *buf = rc == TRIT_OK ? malloc((size_t)st.st_size + 1) : NULL;
    if (rc == TRIT_OK && !buf) rc = trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    if (rc == TRIT_OK && st.st_size && pack_pread_all(fd, buf, (size_t)st.st_size, 0) != 0)
        rc = trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, path, "cannot read: %s", errno ? strerror(errno) : "short file");
    close(fd);
    if (rc != TRIT_OK) {
        free(buf);
        return rc;
    }
    *out = buf;
    *n = (size_t)st.st_size;
    return TRIT_OK;
}

static int load_installed(const char *dir, pack_manifest **m, trit_err *err)
{
    char *p = NULL;
    uint8_t *raw = NULL;
    size_t n = 0;
    int rc = join(dir, PACK_MANIFEST_NAME, &p, err);
    if (rc == TRIT_OK) rc = read_small(p, &raw, &n, err);
    if (rc == TRIT_OK) {
        rc = pack_manifest_parse(raw, n, m, err);
        if (rc != TRIT_OK) trit_err_file(err, p);
    }
    free(raw);
    free(p);
    return rc;
}

/* ---- install state ---- */

static int64_t state_find(const uctx *u, const char *id)
{
    for (uint32_t i = 0; i < u->n_state; i++)
        if (strcmp(u->state[i].id, id) == 0) return (int64_t)i;
    return -1;
}

/* Record version for id (replacing its entry). */
static int state_set(uctx *u, const char *id, uint64_t version, trit_err *err)
{
    int64_t const i = state_find(u, id);
    if (i >= 0) {
        u->state[i].version = version;
        return TRIT_OK;
    }
    if (u->n_state >= STATE_MAX)
        return trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, u->dir, "its install state already holds %u model ids", STATE_MAX);
    state_ent *const s = realloc(u->state, (u->n_state + 1) * sizeof *s);
    if (!s) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    u->state = s;
    snprintf(s[u->n_state].id, sizeof s[u->n_state].id, "%s", id);
    s[u->n_state++].version = version;
    return TRIT_OK;
}

/* Parse .trit-state: the magic line, then "VERSION MODEL_ID" lines (strict decimal, a valid
 * model id, each id once). */
static int state_parse(uctx *u, const uint8_t *p, size_t n, trit_err *err)
{
    size_t off = 0;
    int line_no = 0;
    while (off < n) {
        const uint8_t *const nl = memchr(p + off, '\n', n - off);
        if (!nl) return trit_err_set(err, TRIT_E_CORRUPT, off, PACK_STATE_NAME, "last line has no newline");
        size_t const len = (size_t)(nl - (p + off));
        char line[PACK_MAX_MODEL_ID + 32];
        if (len >= sizeof line) return trit_err_set(err, TRIT_E_CORRUPT, off, PACK_STATE_NAME, "line %d is too long", line_no + 1);
        memcpy(line, p + off, len);
        line[len] = '\0';
        if (line_no == 0) {
            if (strcmp(line, STATE_MAGIC) != 0)
                return trit_err_set(err, TRIT_E_CORRUPT, 0, PACK_STATE_NAME, "does not start with '" STATE_MAGIC "'");
        } else {
            char *const sp = strchr(line, ' ');
            uint64_t v = 0;
            if (sp) *sp = '\0';
            if (!sp || pack_parse_dec(line, &v) != 0 || v == 0 || !pack_model_id_ok(sp + 1) || state_find(u, sp + 1) >= 0)
                return trit_err_set(err, TRIT_E_CORRUPT, off, PACK_STATE_NAME, "line %d is not 'VERSION MODEL_ID' (once per id)",
                                    line_no + 1);
            int const rc = state_set(u, sp + 1, v, err);
            if (rc != TRIT_OK) return rc;
        }
        off += len + 1;
        line_no++;
    }
    if (line_no == 0) return trit_err_set(err, TRIT_E_CORRUPT, 0, PACK_STATE_NAME, "empty");
    return TRIT_OK;
}

/* The install state of dir: .trit-state if present, and the installed manifest's version as a
 * floor for its own model id (an install made before install states existed has none). */
static int state_load(uctx *u, trit_err *err)
{
    char *p = NULL;
    uint8_t *raw = NULL;
    size_t n = 0;
    struct stat st;
    int rc = join(u->dir, PACK_STATE_NAME, &p, err);
    if (rc == TRIT_OK && lstat(p, &st) == 0) {
        rc = read_small(p, &raw, &n, err);
        if (rc == TRIT_OK) rc = state_parse(u, raw, n, err);
    }
    free(raw);
    free(p);
    if (rc != TRIT_OK) return rc;
    int64_t const i = state_find(u, u->installed->model_id);
    if (i >= 0 && u->state[i].version >= u->installed->version) return TRIT_OK;
    return state_set(u, u->installed->model_id, u->installed->version, err);
}

static int cmp_state(const void *a, const void *b)
{
    return strcmp(((const state_ent *)a)->id, ((const state_ent *)b)->id);
}

/* The state after installing m, as the text of .trit-state (sorted by model id). *out caller
 * frees. */
static int state_text(uctx *u, const pack_manifest *m, char **out, size_t *n, trit_err *err)
{
    int rc = state_set(u, m->model_id, m->version, err);
    if (rc != TRIT_OK) return rc;
    qsort(u->state, u->n_state, sizeof *u->state, cmp_state);
    size_t const cap = sizeof STATE_MAGIC + 1 + (size_t)u->n_state * (PACK_MAX_MODEL_ID + 24);
    char *const t = malloc(cap);
    if (!t) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    size_t k = (size_t)snprintf(t, cap, "%s\n", STATE_MAGIC);
    for (uint32_t i = 0; i < u->n_state; i++)
        k += (size_t)snprintf(t + k, cap - k, "%llu %s\n", (unsigned long long)u->state[i].version, u->state[i].id);
    *out = t;
    *n = k;
    return TRIT_OK;
}

/* Is name part of the install described by m? */
static int in_install(const pack_manifest *m, const char *name)
{
    if (strcmp(name, PACK_MANIFEST_NAME) == 0 || strcmp(name, PACK_SIG_NAME) == 0 || strcmp(name, PACK_STATE_NAME) == 0)
        return 1;
    for (uint32_t i = 0; i < m->n_files; i++)
        if (strcmp(m->files[i].file.name, name) == 0) return 1;
    return 0;
}

/* The target may be absent, an empty directory, or a previous install: a directory holding a
 * manifest.json that parses, its signature, and regular files the manifest names, nothing
 * else. Anything else (someone's home directory, a download folder) is refused, never
 * replaced: replacing the target deletes what was in it. */
static int check_target(uctx *u, trit_err *err)
{
    struct stat st;
    if (lstat(u->dir, &st) != 0) {
        if (errno == ENOENT) return TRIT_OK;
        return trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, u->dir, "cannot stat: %s", strerror(errno));
    }
    if (!S_ISDIR(st.st_mode))
        return trit_err_set(err, TRIT_E_EXISTS, TRIT_NO_OFFSET, u->dir, "exists and is not a directory; refusing to replace it");
    u->dir_exists = 1;
    char *p;
    int rc = join(u->dir, PACK_MANIFEST_NAME, &p, err);
    if (rc != TRIT_OK) return rc;
    int const has_manifest = lstat(p, &st) == 0;
    free(p);
    if (has_manifest && (rc = load_installed(u->dir, &u->installed, err)) != TRIT_OK) {
        if (rc == TRIT_E_NOMEM || rc == TRIT_E_IO) return rc;   /* the machine failed, not the install */
        char why[sizeof err->msg];
        snprintf(why, sizeof why, "%s", err ? err->msg : "");
        return trit_err_set(err, TRIT_E_EXISTS, TRIT_NO_OFFSET, u->dir,
                            "its manifest.json is not a valid manifest (%s); refusing to replace it", why);
    }
    if (has_manifest && (rc = state_load(u, err)) != TRIT_OK) {
        if (rc == TRIT_E_NOMEM || rc == TRIT_E_IO) return rc;
        char why[sizeof err->msg];
        snprintf(why, sizeof why, "%s", err ? err->msg : "");
        return trit_err_set(err, TRIT_E_EXISTS, TRIT_NO_OFFSET, u->dir,
                            "its " PACK_STATE_NAME " is not a valid install state (%s); refusing to replace it", why);
    }
    DIR *const d = opendir(u->dir);
    if (!d) return trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, u->dir, "cannot list: %s", strerror(errno));
    struct dirent *e;
    while (rc == TRIT_OK && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        struct stat es;
        if (!has_manifest)
            rc = trit_err_set(err, TRIT_E_EXISTS, TRIT_NO_OFFSET, u->dir,
                              "is not empty and not a trit install (no manifest.json); refusing to replace it");
        else if (fstatat(dirfd(d), e->d_name, &es, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(es.st_mode) ||
                 !in_install(u->installed, e->d_name))
            rc = trit_err_set(err, TRIT_E_EXISTS, TRIT_NO_OFFSET, u->dir,
                              "holds '%.60s', which is not part of the install; refusing to replace it", e->d_name);
    }
    closedir(d);
    return rc;
}

/* v2: the delta's base_root must be the root of base_path as the installed base's manifest
 * lists it (its chunks at its chunk size, whatever that manifest's version): a cheap check,
 * before anything is written, that the installed base is the release the delta was made from. */
static int check_base_root(const char *bd, const pack_manifest *bm, const pack_file *f, trit_err *err)
{
    for (uint32_t k = 0; k < bm->n_files; k++) {
        pack_blob const *const b = &bm->files[k].file;
        if (strcmp(b->name, f->base_path) != 0) continue;
        uint8_t root[PACK_SHA256_BYTES];
        int const rc = pack_root(bm->chunk_size, b->size, (const uint8_t (*)[PACK_SHA256_BYTES])b->chunks, root, err);
        if (rc != TRIT_OK) return rc;
        if (b->size != f->base_size || sodium_memcmp(root, f->base_digest, sizeof root) != 0)
            return trit_err_set(err, PACK_E_BASE, TRIT_NO_OFFSET, bd,
                                "its '%s' is not the file the delta was made against (base_root differs)", f->base_path);
        return TRIT_OK;
    }
    return trit_err_set(err, PACK_E_BASE, TRIT_NO_OFFSET, bd, "its manifest does not list '%s', the file the delta copies from",
                        f->base_path);
}

/* A delta needs the release it was made against, as installed in base_dir. */
static int check_base(uctx *u, const pack_manifest *m, trit_err *err)
{
    const char *const bd = u->o->base_dir;
    if (!bd) return trit_err_set(err, PACK_E_BASE, TRIT_NO_OFFSET, NULL,
                                 "delta bundle against version %llu: give the installed base with --base-dir",
                                 (unsigned long long)m->base_version);
    pack_manifest *bm = NULL;
    int rc = load_installed(bd, &bm, err);
    if (rc != TRIT_OK) {
        char why[sizeof err->msg];
        snprintf(why, sizeof why, "%s", err ? err->msg : "");
        return trit_err_set(err, PACK_E_BASE, TRIT_NO_OFFSET, NULL, "base '%s' is not an install: %s", bd, why);
    }
    if (strcmp(bm->model_id, m->model_id) != 0 || bm->version != m->base_version)
        rc = trit_err_set(err, PACK_E_BASE, TRIT_NO_OFFSET, bd, "holds %s version %llu; the delta applies to %s version %llu",
                          bm->model_id, (unsigned long long)bm->version, m->model_id, (unsigned long long)m->base_version);
    for (uint32_t i = 0; rc == TRIT_OK && m->schema == PACK_MANIFEST_V2 && i < m->n_files; i++)
        if (m->files[i].is_delta) rc = check_base_root(bd, bm, &m->files[i], err);
    pack_manifest_free(bm);
    for (uint32_t i = 0; rc == TRIT_OK && i < m->n_files; i++) {
        pack_file const *const f = &m->files[i];
        if (!f->is_delta) continue;
        char *p;
        struct stat st;
        if ((rc = join(bd, f->base_path, &p, err)) != TRIT_OK) break;
        if (lstat(p, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != f->base_size)
            rc = trit_err_set(err, PACK_E_BASE, TRIT_NO_OFFSET, p, "the delta needs a regular file of %llu bytes here",
                              (unsigned long long)f->base_size);
        free(p);
    }
    return rc;
}

static int on_manifest(void *ctx, const pack_manifest *m, trit_err *err)
{
    uctx *const u = ctx;
    u->m = m;
    /* one model per install directory, unless the caller says otherwise */
    if (u->installed && strcmp(u->installed->model_id, m->model_id) != 0 && !u->o->replace_model)
        return trit_err_set(err, PACK_E_MODEL, TRIT_NO_OFFSET, NULL,
                            "'%s' holds model '%s' version %llu, the bundle is model '%s'; refusing to replace it "
                            "(--replace-model allows it)", u->dir, u->installed->model_id,
                            (unsigned long long)u->installed->version, m->model_id);
    /* the install state is the default "installed version": per model id, so installing another
     * model in between does not reset it */
    int64_t const si = state_find(u, m->model_id);
    if (!u->o->read.have_installed && si >= 0 && m->version <= u->state[si].version)
        return trit_err_set(err, PACK_E_ROLLBACK, TRIT_NO_OFFSET, NULL,
                            "bundle version %llu is not newer than version %llu of '%s' %s '%s' (rollback refused)",
                            (unsigned long long)m->version, (unsigned long long)u->state[si].version, m->model_id,
                            u->installed && strcmp(u->installed->model_id, m->model_id) == 0 ? "installed in" : "once installed in",
                            u->dir);
    if (m->has_base) {
        int const rc = check_base(u, m, err);
        if (rc != TRIT_OK) return rc;
    }
    if (snprintf(u->stage, sizeof u->stage, "%s/.%s.unpack-%ld-XXXXXX", u->parent, pack_basename(u->dir), (long)getpid()) >=
        (int)sizeof u->stage)
        return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, u->dir, "path too long");
    /* registered with the caller's guard as it is created: no signal lands in between */
    if (trit_sys_mkdtemp(u->stage, u->o->stage_path, u->o->stage_ctx) != 0) {
        int const e = errno;
        u->stage[0] = '\0';
        return trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, u->parent, "cannot create a staging directory: %s", strerror(e));
    }
    return TRIT_OK;
}

static int create_in_stage(uctx *u, const char *name, trit_err *err)
{
    char *p;
    int rc = join(u->stage, name, &p, err);
    if (rc != TRIT_OK) return rc;
    int const fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) rc = trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, p, "cannot create: %s", strerror(errno));
    free(p);
    return fd < 0 ? rc : fd;
}

static int close_synced(int fd, const char *what, trit_err *err)
{
    int rc = TRIT_OK;
    if (fsync(fd) != 0) rc = trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, what, "fsync failed: %s", strerror(errno));
    if (close(fd) != 0 && rc == TRIT_OK) rc = trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, what, "close failed: %s", strerror(errno));
    return rc;
}

static int on_begin(void *ctx, uint32_t i, trit_err *err)
{
    uctx *const u = ctx;
    snprintf(u->cur, sizeof u->cur, "%s", pack_manifest_member(u->m, i)->name);
    int const fd = create_in_stage(u, u->cur, err);
    if (fd < 0) return fd;
    u->fd = fd;
    return TRIT_OK;
}

static int on_write(void *ctx, const void *p, size_t n, trit_err *err)
{
    uctx *const u = ctx;
    if (trit_sys_write_full(u->fd, p, n) != 0) return trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, u->cur, "cannot write: %s", strerror(errno));
    return TRIT_OK;
}

static int on_end(void *ctx, trit_err *err)
{
    uctx *const u = ctx;
    int const fd = u->fd;
    u->fd = -1;
    return close_synced(fd, u->cur, err);
}

/* Rebuild delta file f in the staging directory from base file bp and carried member mp, then
 * drop the member. */
static int rebuild_from(uctx *u, const pack_file *f, const char *bp, const char *mp, trit_err *err)
{
    int rc = TRIT_OK;
    int const bfd = open(bp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (bfd < 0) return trit_err_set(err, PACK_E_BASE, TRIT_NO_OFFSET, bp, "cannot open the base: %s", strerror(errno));
    struct stat st;
    int const mfd = open(mp, O_RDONLY | O_CLOEXEC);
    int ofd = -1;
    if (fstat(bfd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != f->base_size)
        rc = trit_err_set(err, PACK_E_BASE, TRIT_NO_OFFSET, bp, "the base is not a regular file of %llu bytes",
                          (unsigned long long)f->base_size);
    else if (mfd < 0) rc = trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, mp, "cannot open: %s", strerror(errno));
    else if ((ofd = create_in_stage(u, f->file.name, err)) < 0) rc = ofd;
    trit_pool *pool = NULL;
    uint32_t const threads = u->o->read.threads ? u->o->read.threads : trit_pool_default_threads();
    if (rc == TRIT_OK) rc = trit_pool_new(threads, &pool, err);
    if (rc == TRIT_OK) rc = pack_delta_apply(u->m, f, bfd, mfd, ofd, threads, pool, err);
    trit_pool_free(pool);
    if (ofd >= 0) {
        int const crc = close_synced(ofd, f->file.name, err);
        if (rc == TRIT_OK) rc = crc;
    }
    close(bfd);
    if (mfd >= 0) close(mfd);
    if (rc == TRIT_OK && unlink(mp) != 0) rc = trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, mp, "cannot remove: %s", strerror(errno));
    return rc;
}

static int rebuild(uctx *u, const pack_file *f, trit_err *err)
{
    char *bp = NULL, *mp = NULL;
    int rc = join(u->o->base_dir, f->base_path, &bp, err);
    if (rc == TRIT_OK) rc = join(u->stage, f->delta.name, &mp, err);
    if (rc == TRIT_OK) rc = rebuild_from(u, f, bp, mp, err);
    free(bp);
    free(mp);
    return rc;
}

static int write_stage_file(uctx *u, const char *name, const void *p, size_t n, trit_err *err)
{
    int const fd = create_in_stage(u, name, err);
    if (fd < 0) return fd;
    if (trit_sys_write_full(fd, p, n) != 0) {
        trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, name, "cannot write: %s", strerror(errno));
        close(fd);
        return TRIT_E_IO;
    }
    return close_synced(fd, name, err);
}

/* Everything is in the staging directory: check the containers, then swap it into place. */
static int finish(uctx *u, trit_err *err)
{
    const pack_manifest *const m = u->m;
    int rc = TRIT_OK;
    for (uint32_t i = 0; rc == TRIT_OK && i < m->n_files; i++)
        if (m->files[i].is_delta) rc = rebuild(u, &m->files[i], err);
    for (uint32_t i = 0; rc == TRIT_OK && i < m->n_files; i++) {
        char *p;
        trit_open_opts const oo = {TRIT_OPEN_VERIFY};
        trit_reader *r = NULL;
        if ((rc = join(u->stage, m->files[i].file.name, &p, err)) != TRIT_OK) break;
        rc = trit_reader_open(p, &oo, &r, err);
        trit_reader_close(r);
        free(p);
        if (rc != TRIT_OK) {
            if (err) snprintf(err->file, sizeof err->file, "%s", m->files[i].file.name);
            return rc;
        }
    }
    if (rc == TRIT_OK) rc = write_stage_file(u, PACK_MANIFEST_NAME, m->raw, m->raw_len, err);
    if (rc == TRIT_OK && m->has_sig) rc = write_stage_file(u, PACK_SIG_NAME, m->sig, sizeof m->sig, err);
    if (rc == TRIT_OK) {
        char *st = NULL;
        size_t st_len = 0;
        rc = state_text(u, m, &st, &st_len, err);
        if (rc == TRIT_OK) rc = write_stage_file(u, PACK_STATE_NAME, st, st_len, err);
        free(st);
    }
    if (rc == TRIT_OK && (chmod(u->stage, 0755) != 0 || trit_sys_fsync_path(u->stage) != 0))
        rc = trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, u->stage, "cannot finish the staging directory: %s", strerror(errno));
    if (rc != TRIT_OK) return rc;
    /* from here a signal lets the run finish: the install goes in whole or the error is reported */
    publish_stage(u, NULL);
    if (!u->dir_exists) {
        if (rename(u->stage, u->dir) != 0)
            return trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, u->dir, "cannot rename into place: %s", strerror(errno));
        u->stage[0] = '\0';
    } else {
        int swapped = -1;
#if defined(__linux__) && defined(SYS_renameat2)
        swapped = (int)syscall(SYS_renameat2, AT_FDCWD, u->stage, AT_FDCWD, u->dir, RENAME_EXCHANGE);
#endif
        if (swapped != 0) {
            /* no atomic exchange here: move the old install aside, then the new one in */
            char old[4096];
            char parent[4096];
            if (pack_dirname(u->dir, parent, sizeof parent) != 0 ||
                snprintf(old, sizeof old, "%s/.%s.old-%ld-XXXXXX", parent, pack_basename(u->dir), (long)getpid()) >= (int)sizeof old ||
                !mkdtemp(old))
                return trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, u->dir, "cannot move the old install aside");
            if (rename(u->dir, old) != 0) {
                rmdir(old);
                return trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, u->dir, "cannot move the old install aside: %s", strerror(errno));
            }
            if (rename(u->stage, u->dir) != 0) {
                int const e = errno;
                (void)rename(old, u->dir);
                return trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, u->dir, "cannot rename into place: %s", strerror(e));
            }
            snprintf(u->stage, sizeof u->stage, "%s", old);
        }
        /* u->stage now names the old install; it is removed below like a failed stage */
    }
    /* The new install is in place and the old one is gone from dir: a failure now must not
     * say "nothing changed". */
    if (trit_sys_fsync_dir(u->dir) != 0)
        return trit_err_set(err, PACK_E_UNSYNCED, TRIT_NO_OFFSET, u->dir,
                            "installed version %llu, but the fsync of the parent directory failed (%s): the install may "
                            "not survive a power loss", (unsigned long long)m->version, strerror(errno));
    return TRIT_OK;
}

/* Take the lock of dir's parent (every unpack into it takes the same one), then remove what
 * killed runs left for dir: under the lock no live unpack has a staging directory there. */
static int lock_target(uctx *u, trit_err *err)
{
    if (pack_dirname(u->dir, u->parent, sizeof u->parent) != 0)
        return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, u->dir, "path too long");
    u->lock_fd = open(u->parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (u->lock_fd < 0) return trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, u->parent, "cannot open: %s", strerror(errno));
    int const wait = u->o->lock_wait_ms == 0 ? LOCK_WAIT_MS : u->o->lock_wait_ms;
    if (pack_lock_fd(u->lock_fd, wait) != 0) {
        if (errno == EWOULDBLOCK)
            return trit_err_set(err, PACK_E_BUSY, TRIT_NO_OFFSET, u->parent,
                                "another unpack into this directory holds its lock (waited %d ms)", wait < 0 ? 0 : wait);
        return trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, u->parent, "cannot lock: %s", strerror(errno));
    }
    char prefix[4200];
    snprintf(prefix, sizeof prefix, ".%s.unpack-", pack_basename(u->dir));
    (void)pack_remove_stale(u->parent, prefix);
    snprintf(prefix, sizeof prefix, ".%s.old-", pack_basename(u->dir));
    (void)pack_remove_stale(u->parent, prefix);
    return TRIT_OK;
}

int pack_unpack(const char *bundle, const char *dir, const pack_unpack_opts *o, pack_manifest **out, trit_err *err)
{
    static const pack_unpack_opts none;
    if (out) *out = NULL;
    uctx *const u = calloc(1, sizeof *u);
    if (!u) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    u->o = o ? o : &none;
    u->fd = -1;
    u->lock_fd = -1;
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/') len--;
    int rc = TRIT_OK;
    if (len == 0 || len >= sizeof u->dir - 64) rc = trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, dir, "bad target directory");
    else snprintf(u->dir, sizeof u->dir, "%.*s", (int)len, dir);
    if (rc == TRIT_OK && (strcmp(pack_basename(u->dir), ".") == 0 || strcmp(pack_basename(u->dir), "..") == 0 ||
                          strcmp(u->dir, "/") == 0))
        rc = trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, dir, "the target must name a directory to create or replace");
    if (rc == TRIT_OK) rc = lock_target(u, err);
    if (rc == TRIT_OK) rc = check_target(u, err);
    pack_manifest *m = NULL;
    if (rc == TRIT_OK) {
        pack_sink const sink = {u, on_manifest, on_begin, on_write, on_end};
        rc = pack_bundle_read_file(bundle, &u->o->read, &sink, &m, err);
    }
    if (u->fd >= 0) close(u->fd);
    if (rc == TRIT_OK) rc = finish(u, err);
    if (u->stage[0]) (void)pack_remove_flat_dir(u->stage);
    publish_stage(u, NULL);
    if (u->lock_fd >= 0) close(u->lock_fd);   /* releases the lock */
    pack_manifest_free(u->installed);
    free(u->state);
    free(u);
    if ((rc == TRIT_OK || rc == PACK_E_UNSYNCED) && out) *out = m;
    else pack_manifest_free(m);
    return rc;
}
