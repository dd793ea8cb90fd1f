/* pack_util.c - error classes, hex, names, version strings and file-system helpers of pack/. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pack_int.h"

int pack_exit_code(int code)
{
    if (code <= PACK_E_TRAVERSAL && code >= PACK_E_BUSY) return 10 + (PACK_E_TRAVERSAL - code);
    switch (code) {
    case TRIT_OK: return 0;
    case TRIT_E_USAGE: return 2;
    case TRIT_E_IO: case TRIT_E_EXISTS: case TRIT_E_NOTFOUND: return 3;
    case TRIT_E_TRUNCATED: case TRIT_E_CORRUPT: case TRIT_E_CHECKSUM: return 4;
    case TRIT_E_UNSUPPORTED: return 5;
    case TRIT_E_LIMIT: return 6;
    default: return 70;
    }
}

const char *pack_strerror(int code)
{
    switch (code) {
    case PACK_E_TRAVERSAL: return "member path escapes the target directory";
    case PACK_E_LINK: return "link member";
    case PACK_E_SPECIAL: return "member is not a regular file";
    case PACK_E_OVERSIZE: return "oversize member";
    case PACK_E_DIGEST: return "digest mismatch";
    case PACK_E_SIGNATURE: return "bad signature";
    case PACK_E_ROLLBACK: return "version rollback";
    case PACK_E_TRUNCATED: return "truncated bundle";
    case PACK_E_BOMB: return "possible decompression bomb";
    case PACK_E_MANIFEST: return "invalid manifest";
    case PACK_E_BASE: return "delta base mismatch";
    case PACK_E_MODEL: return "another model is installed";
    case PACK_E_UNSYNCED: return "installed, durability not confirmed";
    case PACK_E_BUSY: return "another unpack holds the lock";
    default: return trit_strerror(code);
    }
}

int pack_sodium_init(trit_err *err)
{
    if (sodium_init() < 0) return trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, NULL, "cannot initialise libsodium");
    return TRIT_OK;
}

void pack_hex(const uint8_t *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1; /* uppercase is refused: one spelling per digest keeps manifests comparable */
}

int pack_unhex(const char *s, uint8_t *out, size_t n)
{
    if (strlen(s) != 2 * n) return -1;
    for (size_t i = 0; i < n; i++) {
        int const hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0) return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

void pack_hex_u64(uint64_t v, char out[17])
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(v >> (56 - 8 * i));
    pack_hex(b, 8, out);
}

int pack_unhex_u64(const char *s, uint64_t *out)
{
    uint8_t b[8];
    if (pack_unhex(s, b, 8)) return -1;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | b[i];
    *out = v;
    return 0;
}

int pack_name_ok(const char *s)
{
    size_t const n = strlen(s);
    if (n == 0 || n > PACK_MAX_NAME) return 0;
    for (size_t i = 0; i < n; i++) {
        char const c = s[i];
        int const alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (i == 0 && !alnum) return 0;   /* no ".x", "-x": hidden files and option look-alikes */
        if (!alnum && c != '.' && c != '_' && c != '-') return 0;
    }
    return strcmp(s, PACK_MANIFEST_NAME) != 0 && strcmp(s, PACK_SIG_NAME) != 0;
}

int pack_model_id_ok(const char *s)
{
    size_t const n = strlen(s);
    if (n == 0 || n > PACK_MAX_MODEL_ID) return 0;
    for (size_t i = 0; i < n; i++) {
        char const ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              strchr("._:/+-", ch)))
            return 0;
    }
    return 1;
}

int pack_name_escapes(const char *s)
{
    if (s[0] == '/' || s[0] == '\\') return 1;
    const char *p = s;
    while (*p) {
        size_t const len = strcspn(p, "/\\");
        if (len == 2 && p[0] == '.' && p[1] == '.') return 1;
        p += len;
        if (*p) p++;
    }
    return 0;
}

int pack_parse_dec(const char *s, uint64_t *out)
{
    if (!s || !*s || (s[0] == '0' && s[1])) return -1;
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') return -1;
        if (trit_mul_u64(v, 10, &v) || trit_add_u64(v, (uint64_t)(*p - '0'), &v)) return -1;
    }
    *out = v;
    return 0;
}

int pack_parse_semver(const char *s, uint32_t out[3])
{
    char buf[32];
    if (!s || strlen(s) >= sizeof buf) return -1;
    memcpy(buf, s, strlen(s) + 1);
    char *p = buf;
    for (int i = 0; i < 3; i++) {
        char *const dot = strchr(p, '.');
        if (i < 2) {
            if (!dot) return -1;
            *dot = '\0';
        } else if (dot) {
            return -1;
        }
        uint64_t v;
        if (pack_parse_dec(p, &v) || v > 65535) return -1;
        out[i] = (uint32_t)v;
        if (dot) p = dot + 1;
    }
    return 0;
}

int pack_semver_cmp(const uint32_t a[3], const uint32_t b[3])
{
    for (int i = 0; i < 3; i++)
        if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
    return 0;
}

int pack_pread_all(int fd, void *p, size_t n, uint64_t off)
{
    errno = 0;   /* still 0 after a short read: the file ended */
    return trit_sys_pread_full(fd, p, n, off) == (int64_t)n ? 0 : -1;
}

int pack_dirname(const char *path, char *out, size_t cap)
{
    const char *const slash = strrchr(path, '/');
    int k;
    if (!slash) k = snprintf(out, cap, ".");
    else if (slash == path) k = snprintf(out, cap, "/");
    else k = snprintf(out, cap, "%.*s", (int)(slash - path), path);
    return k < 0 || (size_t)k >= cap ? -1 : 0;
}

const char *pack_basename(const char *path)
{
    const char *const slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

int pack_remove_flat_dir(const char *dir)
{
    DIR *const d = opendir(dir);
    if (!d) return errno == ENOENT ? 0 : -1;
    int const dfd = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        /* unlinkat without AT_REMOVEDIR never descends and never follows a link: anything
         * that is not a plain file stays, and the rmdir below then fails visibly. */
        (void)unlinkat(dfd, e->d_name, 0);
    }
    closedir(d);
    return rmdir(dir);
}

int pack_lock_fd(int fd, int wait_ms)
{
    for (int waited = 0;; waited += 10) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) return 0;
        if (errno == EINTR) continue;
        if (errno != EWOULDBLOCK || waited >= wait_ms) return -1;
        struct timespec const ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* The pid in "<digits>-..." at s, or 0. */
static long pid_of(const char *s)
{
    long v = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9' && v < 100000000; p++) v = v * 10 + (*p - '0');
    return p != s && *p == '-' ? v : 0;
}

/* pid still runs: it exists and (Linux) is not a zombie waiting to be reaped. */
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

/* Nobody uses the temp entry called name: its writer (pid) is gone and no one holds a lock on
 * it. */
static int unused(int dfd, const char *name, long pid)
{
    if (pid <= 0 || running(pid)) return 0;
    int const fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return 0;
    int const nobody = flock(fd, LOCK_EX | LOCK_NB) == 0;
    close(fd);
    return nobody;
}

unsigned pack_remove_stale(const char *dir, const char *prefix, int locked)
{
    DIR *const d = opendir(dir);
    if (!d) return 0;
    size_t const pl = strlen(prefix);
    unsigned n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, pl) != 0 || !e->d_name[pl]) continue;
        if (!locked && !unused(dirfd(d), e->d_name, pid_of(e->d_name + pl))) continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        char *const p = trit_sys_path_join(dir, e->d_name);
        if (!p) break;
        if (S_ISDIR(st.st_mode) ? pack_remove_flat_dir(p) == 0 : S_ISREG(st.st_mode) && unlink(p) == 0) n++;
        free(p);
    }
    closedir(d);
    return n;
}

void pack_block_term(sigset_t *old)
{
    sigset_t term;
    sigemptyset(&term);
    sigaddset(&term, SIGINT);
    sigaddset(&term, SIGTERM);
    sigaddset(&term, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &term, old);
}
