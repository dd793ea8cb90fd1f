/* sys.c - the file-system helpers of trit_sys.h: one copy for every module. */
/* 64-bit file offsets on 32-bit hosts too: model files are routinely > 2 GiB. */
#ifndef _FILE_OFFSET_BITS
#define _FILE_OFFSET_BITS 64
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
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

/* Termination signals a caller's guard handles: held back while a temp name and its
 * registration disagree. pthread_sigmask, not sigprocmask: the runner's threads share the process. */
static void block_term(sigset_t *old)
{
    sigset_t term;
    sigemptyset(&term);
    sigaddset(&term, SIGINT);
    sigaddset(&term, SIGTERM);
    sigaddset(&term, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &term, old);
}

static void restore_mask(const sigset_t *old)
{
    int const e = errno;
    pthread_sigmask(SIG_SETMASK, old, NULL);
    errno = e;
}

/* The pid in "<digits>-..." at s, or 0. */
static long pid_of(const char *s)
{
    long v = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9' && v < 100000000; p++) v = v * 10 + (*p - '0');
    return p != s && *p == '-' ? v : 0;
}

/* pid still runs: it exists (or is not ours to signal) and, where /proc says, is not a zombie
 * waiting to be reaped. */
static int running(long pid)
{
    if (kill((pid_t)pid, 0) != 0 && errno != EPERM) return 0;
    char p[64], buf[256];
    snprintf(p, sizeof p, "/proc/%ld/stat", pid);
    int const fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 1;
    ssize_t const n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 1;
    buf[n] = '\0';
    const char *const rp = strrchr(buf, ')');
    return !(rp && rp[1] == ' ' && rp[2] == 'Z');
}

/* The temp file called name in dfd is a dead writer's: its pid is gone and nobody holds the
 * lock every live writer keeps on it. */
static int stale(int dfd, const char *name, long pid)
{
    if (pid <= 0 || running(pid)) return 0;
    int const fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return 0;
    struct stat st;
    int const ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && flock(fd, LOCK_EX | LOCK_NB) == 0;
    close(fd);
    return ok;
}

/* Remove the dead writers' "<path>.tmp-<pid>-*" files beside path; the count. */
static unsigned remove_stale(const char *path)
{
    char *const d1 = strdup(path), *const d2 = strdup(path);
    unsigned n = 0;
    if (d1 && d2) {
        const char *const dir = dirname(d1), *const base = basename(d2);
        size_t const pl = strlen(base) + 5;   /* "<base>.tmp-" */
        DIR *const d = opendir(dir);
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL) {
            const char *const nm = e->d_name;
            if (strncmp(nm, base, pl - 5) != 0 || strncmp(nm + pl - 5, ".tmp-", 5) != 0) continue;
            if (stale(dirfd(d), nm, pid_of(nm + pl)) && unlinkat(dirfd(d), nm, 0) == 0) n++;
        }
        if (d) closedir(d);
    }
    free(d1);
    free(d2);
    return n;
}

/* mkstemp of "<path>.tmp-<pid>-XXXXXX" into *name (owned), tracked as soon as it exists. */
static int make_temp(const char *path, trit_sys_track_fn track, void *ctx, char **name)
{
    char pid[32];
    int const pn = snprintf(pid, sizeof pid, ".tmp-%ld-XXXXXX", (long)getpid());
    size_t const tl = strlen(path) + (size_t)pn + 1;
    if (!(*name = malloc(tl))) return -1;
    snprintf(*name, tl, "%s%s", path, pid);
    sigset_t old;
    block_term(&old);
    int const fd = mkstemp(*name);
    if (fd >= 0) {
        (void)flock(fd, LOCK_EX | LOCK_NB);   /* in use: remove_stale leaves it alone */
        if (track) track(ctx, *name);
    } else {
        (*name)[0] = '\0';   /* nothing to remove */
    }
    restore_mask(&old);
    return fd;
}

void trit_sys_atomic_init(trit_sys_atomic *a, trit_sys_track_fn track, void *track_ctx)
{
    a->fd = -1;
    a->tmp = NULL;
    a->track = track;
    a->track_ctx = track_ctx;
    a->n_stale = 0;
}

int trit_sys_atomic_open(trit_sys_atomic *a, const char *path, unsigned mode)
{
    a->n_stale = remove_stale(path);
    a->fd = make_temp(path, a->track, a->track_ctx, &a->tmp);
    if (a->fd < 0) return TRIT_SYS_TEMP;
    if (fchmod(a->fd, (mode_t)mode) != 0) return TRIT_SYS_CHMOD;   /* outputs are ordinary files */
    return TRIT_SYS_OK;
}

int trit_sys_temp_create(const char *path, trit_sys_track_fn track, void *track_ctx, char **name)
{
    int const fd = make_temp(path, track, track_ctx, name);
    if (fd < 0) {
        int const e = errno;
        free(*name);
        *name = NULL;
        errno = e;
        return -1;
    }
    close(fd);
    return 0;
}

int trit_sys_mkdtemp(char *tmpl, trit_sys_track_fn track, void *track_ctx)
{
    sigset_t old;
    block_term(&old);
    int const ok = mkdtemp(tmpl) != NULL;
    if (ok && track) track(track_ctx, tmpl);
    restore_mask(&old);
    return ok ? 0 : -1;
}

int trit_sys_atomic_commit(trit_sys_atomic *a, const char *path, int replace)
{
    if (fsync(a->fd) != 0) return TRIT_SYS_SYNC;
    int const fd = a->fd;
    a->fd = -1;
    if (close(fd) != 0) return TRIT_SYS_CLOSE;
    /* published and unregistered as one step for the guard: an interrupt in between would
     * remove the temp name of a published output (link) or report one that is in place */
    sigset_t old;
    block_term(&old);
    int ok;
    if (replace) {
        ok = rename(a->tmp, path) == 0;
    } else {
        /* link() refuses to replace an existing file, so a file created meanwhile survives. */
        ok = link(a->tmp, path) == 0;
        if (ok) unlink(a->tmp);
    }
    if (ok) {
        a->tmp[0] = '\0';
        if (a->track) a->track(a->track_ctx, NULL);
    }
    restore_mask(&old);
    if (!ok) return TRIT_SYS_PUBLISH;
    if (trit_sys_fsync_dir(path) != 0) return TRIT_SYS_DIRSYNC;
    return TRIT_SYS_OK;
}

void trit_sys_atomic_abort(trit_sys_atomic *a)
{
    int const e = errno;   /* callers format their message after cleaning up */
    if (a->fd >= 0) close(a->fd);
    a->fd = -1;
    int const had = a->tmp && a->tmp[0];
    if (had) unlink(a->tmp);
    if (had && a->track) a->track(a->track_ctx, NULL);
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
    /* the termination signals only: a fault (SIGBUS on a truncated mapping, SIGSEGV) must
     * still reach the handler of the thread that faults (blocked, the kernel kills instead) */
    sigset_t term, old;
    sigemptyset(&term);
    sigaddset(&term, SIGINT);
    sigaddset(&term, SIGTERM);
    sigaddset(&term, SIGHUP);
    sigaddset(&term, SIGQUIT);
    pthread_sigmask(SIG_BLOCK, &term, &old);
    int const rc = pthread_create(t, NULL, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}
