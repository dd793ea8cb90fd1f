/* sys.c - the file-system helpers of trit_sys.h: one copy for every module. */
/* 64-bit file offsets on 32-bit hosts too: model files are routinely > 2 GiB. */
#ifndef _FILE_OFFSET_BITS
#define _FILE_OFFSET_BITS 64
#endif
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "trit_sys.h"

int64_t trit_sys_pread_full(int fd, void *buf, uint64_t n, uint64_t off)
{
    uint64_t done = 0;
    while (done < n) {
        /* at most 1 GiB per call: some kernels cap a single read below 2 GiB */
        size_t const want = (n - done) > (1u << 30) ? (1u << 30) : (size_t)(n - done);
        ssize_t const r = pread(fd, (uint8_t *)buf + done, want, (off_t)(off + done));
        if (r < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (r == 0) break;
        done += (uint64_t)r;
    }
    return (int64_t)done;
}

int trit_sys_write_full(int fd, const void *buf, size_t n)
{
    const uint8_t *b = buf;
    while (n) {
        ssize_t const k = write(fd, b, n);
        if (k < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (k == 0) {
            errno = EIO;
            return -1;
        }
        b += k;
        n -= (size_t)k;
    }
    return 0;
}

static int errno_code(int e)
{
    return e == ENOENT || e == ENOTDIR ? TRIT_E_NOTFOUND : TRIT_E_IO;
}

int trit_sys_read_small_file(const char *path, uint64_t max_bytes, uint8_t **buf, size_t *len, trit_err *err)
{
    *buf = NULL;
    *len = 0;
    int const fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);   /* a FIFO must not block */
    if (fd < 0) {
        trit_err_file(err, path);
        return trit_err_set(err, errno_code(errno), TRIT_NO_OFFSET, NULL, "cannot open: %s", strerror(errno));
    }
    struct stat st;
    int rc = TRIT_OK;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, NULL, "not a regular file");
    } else if ((uint64_t)st.st_size > max_bytes) {
        rc = trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, NULL, "file is %llu bytes (at most %llu)",
                          (unsigned long long)st.st_size, (unsigned long long)max_bytes);
    } else {
        size_t const n = (size_t)st.st_size;   /* <= max_bytes, which callers keep small */
        *buf = malloc(n ? n : 1);
        if (!*buf) {
            rc = trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
        } else {
            int64_t const k = trit_sys_pread_full(fd, *buf, n, 0);
            if (k < 0 || (uint64_t)k != n) {
                rc = trit_err_set(err, k < 0 ? TRIT_E_IO : TRIT_E_TRUNCATED, TRIT_NO_OFFSET, NULL,
                                  "read failed: %s", k < 0 ? strerror(errno) : "file shrank");
            } else {
                *len = n;
            }
        }
    }
    close(fd);
    if (rc) {
        free(*buf);
        *buf = NULL;
        trit_err_file(err, path);
    }
    return rc;
}

int trit_sys_map_file(const char *path, const uint8_t **map, size_t *len, int *fd_out, trit_err *err)
{
    *map = NULL;
    *len = 0;
    if (fd_out) *fd_out = -1;
    int const fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);   /* a FIFO must not block */
    if (fd < 0) {
        trit_err_file(err, path);
        return trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, NULL, "cannot open: %s", strerror(errno));
    }
    struct stat st;
    int rc = TRIT_OK;
    if (fstat(fd, &st) != 0) {
        rc = trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, NULL, "cannot stat: %s", strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        rc = trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, NULL, "not a regular file");
    } else if ((uint64_t)st.st_size > (uint64_t)SIZE_MAX) {
        rc = trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, NULL, "file too large for this host");
    } else if (st.st_size > 0) {   /* mmap refuses a zero length */
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            rc = trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, NULL, "cannot map: %s", strerror(errno));
        } else {
            *map = p;
            *len = (size_t)st.st_size;
        }
    }
    if (rc == TRIT_OK && fd_out) *fd_out = fd;
    else close(fd);
    if (rc) trit_err_file(err, path);
    return rc;
}

void trit_sys_unmap(const uint8_t *map, size_t len)
{
    if (map) munmap((void *)(uintptr_t)map, len);
}

char *trit_sys_path_join(const char *dir, const char *name)
{
    size_t const a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

int trit_sys_fsync_path(const char *dir)
{
    int const dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return -1;
    int const rc = fsync(dfd);
    int const e = errno;
    close(dfd);
    errno = e;
    return rc;
}

int trit_sys_fsync_dir(const char *path)
{
    char *copy = strdup(path);
    if (!copy) return -1;
    int const rc = trit_sys_fsync_path(dirname(copy));
    int const e = errno;
    free(copy);
    errno = e;
    return rc;
}

/* ---- atomic replacement ---- */

void trit_sys_atomic_init(trit_sys_atomic *a)
{
    a->fd = -1;
    a->tmp = NULL;
}

int trit_sys_atomic_open(trit_sys_atomic *a, const char *path, const char *suffix, unsigned mode)
{
    trit_sys_atomic_init(a);
    size_t const tl = strlen(path) + strlen(suffix) + 1;
    if (!(a->tmp = malloc(tl))) return TRIT_SYS_TEMP;
    snprintf(a->tmp, tl, "%s%s", path, suffix);
    a->fd = mkstemp(a->tmp);
    if (a->fd < 0) {
        a->tmp[0] = '\0';   /* nothing to remove */
        return TRIT_SYS_TEMP;
    }
    if (fchmod(a->fd, (mode_t)mode) != 0) return TRIT_SYS_CHMOD;   /* outputs are ordinary files */
    return TRIT_SYS_OK;
}

int trit_sys_atomic_commit(trit_sys_atomic *a, const char *path, int replace)
{
    if (fsync(a->fd) != 0) return TRIT_SYS_SYNC;
    int const fd = a->fd;
    a->fd = -1;
    if (close(fd) != 0) return TRIT_SYS_CLOSE;
    if (replace) {
        if (rename(a->tmp, path) != 0) return TRIT_SYS_PUBLISH;
    } else {
        /* link() refuses to replace an existing file, so a file created meanwhile survives. */
        if (link(a->tmp, path) != 0) return TRIT_SYS_PUBLISH;
        unlink(a->tmp);
    }
    a->tmp[0] = '\0';
    if (trit_sys_fsync_dir(path) != 0) return TRIT_SYS_DIRSYNC;
    return TRIT_SYS_OK;
}

void trit_sys_atomic_abort(trit_sys_atomic *a)
{
    int const e = errno;   /* callers format their message after cleaning up */
    if (a->fd >= 0) close(a->fd);
    a->fd = -1;
    if (a->tmp && a->tmp[0]) unlink(a->tmp);
    free(a->tmp);
    a->tmp = NULL;
    errno = e;
}

int trit_sys_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    if (!s || !*s || *s == '-' || *s == '+') return -1;
    errno = 0;
    char *end;
    unsigned long long const v = strtoull(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int trit_sys_parse_size(const char *s, uint64_t *out)
{
    if (!s || !*s || *s == '-' || *s == '+') return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s) return -1;
    unsigned shift = 0;
    if (*end == 'K' || *end == 'k') shift = 10;
    else if (*end == 'M' || *end == 'm') shift = 20;
    else if (*end == 'G' || *end == 'g') shift = 30;
    else if (*end == 'T' || *end == 't') shift = 40;
    if (shift) {
        end++;
        if (strcmp(end, "iB") == 0 || strcmp(end, "B") == 0) end += strlen(end);
    } else if (strcmp(end, "B") == 0) {
        end++;
    }
    if (*end) return -1;
    if (shift && v > (~0ull >> shift)) return -1;
    *out = v << shift;
    return 0;
}

int trit_sys_thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int const rc = pthread_create(t, NULL, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}
