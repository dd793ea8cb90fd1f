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
 * and the target is untouched. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/syscall.h>
#endif

#include "pack_int.h"

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

typedef struct uctx {
    const pack_unpack_opts *o;
    char dir[4096];            /* target, without trailing slashes */
    char stage[4096];          /* staging directory ("" until created) */
    int dir_exists;
    pack_manifest *installed;  /* manifest of the install in dir, or NULL */
    const pack_manifest *m;
    int fd;                    /* member being written */
    char cur[256];
} uctx;

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

/* Is name part of the install described by m? */
static int in_install(const pack_manifest *m, const char *name)
{
    if (strcmp(name, PACK_MANIFEST_NAME) == 0 || strcmp(name, PACK_SIG_NAME) == 0) return 1;
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
        char why[sizeof err->msg];
        snprintf(why, sizeof why, "%s", err ? err->msg : "");
        return trit_err_set(err, TRIT_E_EXISTS, TRIT_NO_OFFSET, u->dir,
                            "its manifest.json is not a valid manifest (%s); refusing to replace it", why);
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
    /* the install in the target is the default "installed version" for the same model */
    if (!u->o->read.have_installed && u->installed && strcmp(u->installed->model_id, m->model_id) == 0 &&
        m->version <= u->installed->version)
        return trit_err_set(err, PACK_E_ROLLBACK, TRIT_NO_OFFSET, NULL,
                            "bundle version %llu is not newer than version %llu installed in '%s' (rollback refused)",
                            (unsigned long long)m->version, (unsigned long long)u->installed->version, u->dir);
    if (m->has_base) {
        int const rc = check_base(u, m, err);
        if (rc != TRIT_OK) return rc;
    }
    char parent[4096];
    if (pack_dirname(u->dir, parent, sizeof parent) != 0 ||
        snprintf(u->stage, sizeof u->stage, "%s/.%s.unpack-XXXXXX", parent, pack_basename(u->dir)) >= (int)sizeof u->stage)
        return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, u->dir, "path too long");
    if (!mkdtemp(u->stage)) {
        int const e = errno;
        u->stage[0] = '\0';
        return trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, parent, "cannot create a staging directory: %s", strerror(e));
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
    if (rc == TRIT_OK) rc = pack_delta_apply(u->m, f, bfd, mfd, ofd, err);
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
    if (rc == TRIT_OK && (chmod(u->stage, 0755) != 0 || trit_sys_fsync_path(u->stage) != 0))
        rc = trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, u->stage, "cannot finish the staging directory: %s", strerror(errno));
    if (rc != TRIT_OK) return rc;
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
                snprintf(old, sizeof old, "%s/.%s.old-XXXXXX", parent, pack_basename(u->dir)) >= (int)sizeof old || !mkdtemp(old))
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
    if (trit_sys_fsync_dir(u->dir) != 0)
        return trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, u->dir, "cannot fsync the parent directory: %s", strerror(errno));
    return TRIT_OK;
}

int pack_unpack(const char *bundle, const char *dir, const pack_unpack_opts *o, pack_manifest **out, trit_err *err)
{
    static const pack_unpack_opts none = {{0}, NULL};
    if (out) *out = NULL;
    uctx *const u = calloc(1, sizeof *u);
    if (!u) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    u->o = o ? o : &none;
    u->fd = -1;
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/') len--;
    int rc = TRIT_OK;
    if (len == 0 || len >= sizeof u->dir - 64) rc = trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, dir, "bad target directory");
    else snprintf(u->dir, sizeof u->dir, "%.*s", (int)len, dir);
    if (rc == TRIT_OK && (strcmp(pack_basename(u->dir), ".") == 0 || strcmp(pack_basename(u->dir), "..") == 0 ||
                          strcmp(u->dir, "/") == 0))
        rc = trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, dir, "the target must name a directory to create or replace");
    if (rc == TRIT_OK) rc = check_target(u, err);
    pack_manifest *m = NULL;
    if (rc == TRIT_OK) {
        pack_sink const sink = {u, on_manifest, on_begin, on_write, on_end};
        rc = pack_bundle_read_file(bundle, &u->o->read, &sink, &m, err);
    }
    if (u->fd >= 0) close(u->fd);
    if (rc == TRIT_OK) rc = finish(u, err);
    if (u->stage[0]) (void)pack_remove_flat_dir(u->stage);
    pack_manifest_free(u->installed);
    free(u);
    if (rc == TRIT_OK && out) *out = m;
    else pack_manifest_free(m);
    return rc;
}
