/* fault.c - an LD_PRELOAD shim that makes one chosen call fail, for fault-injection tests of the
 * `trit` binary (built as BUILD/fault/trit-fault.so; never linked into trit itself).
 *
 *   TRIT_FAULT=OP:N[+][,OP:N[+]...]   fail the Nth call (1-based) of OP, or with '+' the Nth
 *                                     and every later one
 *   TRIT_FAULT_SLOW=OP:MS[,...]       sleep MS milliseconds before every call of OP (to widen
 *                                     race windows and to kill a run mid-way)
 *   TRIT_FAULT_LOG=PATH               at exit, append one line "OP CALLS" per OP to PATH, so a
 *                                     sweep knows how many calls there are to fail
 *   TRIT_FAULT_BT=1                   print a backtrace to stderr at each injected failure (to
 *                                     find the call a sweep flagged; build trit with -g)
 *
 * OP       calls                                         failure
 * malloc   malloc, calloc, realloc (growing or new),       NULL, errno ENOMEM
 *          posix_memalign, aligned_alloc, memalign
 * read     read, pread, pread64                            -1, errno EIO
 * write    write, pwrite, pwrite64                         -1, errno EIO
 * fsync    fsync, fdatasync (any file)                     -1, errno EIO
 * fsyncdir fsync, fdatasync of a directory only            -1, errno EIO
 *
 * Counting starts when the shim is loaded. Allocation goes to glibc's __libc_* entry points and
 * I/O straight to the system calls, so the shim needs no dlsym and cannot recurse. Under
 * AddressSanitizer the sanitizer owns malloc: built with -DTRIT_FAULT_NO_MALLOC (trit-fault-io.so)
 * the shim leaves the allocator alone and works in ASan builds too (with ASAN_OPTIONS
 * verify_asan_link_order=0); malloc faults are then not available. */
#define _GNU_SOURCE
#include <errno.h>
#include <execinfo.h>
#include <malloc.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

enum { OP_MALLOC, OP_READ, OP_WRITE, OP_FSYNC, OP_FSYNCDIR, N_OPS };
static const char *const op_names[N_OPS] = {"malloc", "read", "write", "fsync", "fsyncdir"};
static const int op_errno[N_OPS] = {ENOMEM, EIO, EIO, EIO, EIO};

static unsigned long g_fail_at[N_OPS];   /* 0: never */
static int g_fail_on[N_OPS];             /* '+': every call from g_fail_at on */
static unsigned g_slow_ms[N_OPS];
static unsigned long g_calls[N_OPS];
static int g_ready;
static int g_bt;                        /* TRIT_FAULT_BT: backtrace at each failure */

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
ssize_t pread64(int, void *, size_t, off_t);
ssize_t pwrite64(int, const void *, size_t, off_t);

static int op_of(const char *s, size_t n)
{
    for (int i = 0; i < N_OPS; i++)
        if (strlen(op_names[i]) == n && memcmp(op_names[i], s, n) == 0) return i;
    return -1;
}

/* "OP:NUM[+],..." -> calls set(op, num, plus) per item; bad items are reported and ignored. */
static void parse(const char *var, void (*set)(int, unsigned long, int))
{
    const char *s = getenv(var);
    while (s && *s) {
        const char *const colon = strchr(s, ':');
        const char *const comma = strchr(s, ',');
        const char *const end = comma ? comma : s + strlen(s);
        int const op = colon && colon < end ? op_of(s, (size_t)(colon - s)) : -1;
        char *after = NULL;
        unsigned long const v = op >= 0 ? strtoul(colon + 1, &after, 10) : 0;
        int const plus = after && *after == '+';
        if (op < 0 || !after || after == colon + 1 || (after + plus) != end)
            fprintf(stderr, "trit-fault: ignoring '%.*s' in %s\n", (int)(end - s), s, var);
        else set(op, v, plus);
        s = comma ? comma + 1 : end;
    }
}

static void set_fail(int op, unsigned long n, int plus)
{
    g_fail_at[op] = n;
    g_fail_on[op] = plus;
}

static void set_slow(int op, unsigned long ms, int plus)
{
    (void)plus;
    g_slow_ms[op] = (unsigned)ms;
}

static void write_log(void)
{
    const char *const path = getenv("TRIT_FAULT_LOG");
    if (!path || !*path) return;
    int const fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return;
    for (int i = 0; i < N_OPS; i++) {
        char line[64];
        int const k = snprintf(line, sizeof line, "%s %lu\n", op_names[i], __atomic_load_n(&g_calls[i], __ATOMIC_RELAXED));
        if (k > 0) (void)syscall(SYS_write, fd, line, (size_t)k);
    }
    (void)syscall(SYS_close, fd);
}

__attribute__((constructor)) static void fault_init(void)
{
    parse("TRIT_FAULT", set_fail);
    parse("TRIT_FAULT_SLOW", set_slow);
    atexit(write_log);
    g_bt = getenv("TRIT_FAULT_BT") != NULL;
    g_ready = 1;
}

/* Count one call of op; 1 if it must fail (errno set). */
static int hit(int op)
{
    if (!g_ready) return 0;
    if (g_slow_ms[op]) {
        struct timespec const ts = {(time_t)(g_slow_ms[op] / 1000), (long)(g_slow_ms[op] % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    unsigned long const n = __atomic_add_fetch(&g_calls[op], 1, __ATOMIC_RELAXED);
    if (!g_fail_at[op] || (g_fail_on[op] ? n < g_fail_at[op] : n != g_fail_at[op])) return 0;
    if (g_bt) {   /* (backtrace may allocate on its first call: those calls are counted, not failed) */
        void *frames[32];
        int const k = backtrace(frames, 32);
        char line[64];
        int const m = snprintf(line, sizeof line, "trit-fault: %s call %lu fails:\n", op_names[op], n);
        if (m > 0) (void)syscall(SYS_write, 2, line, (size_t)m);
        backtrace_symbols_fd(frames, k, 2);
    }
    errno = op_errno[op];
    return 1;
}

#ifndef TRIT_FAULT_NO_MALLOC
void *malloc(size_t n)
{
    return hit(OP_MALLOC) ? NULL : __libc_malloc(n);
}

void *calloc(size_t n, size_t k)
{
    return hit(OP_MALLOC) ? NULL : __libc_calloc(n, k);
}

void *realloc(void *p, size_t n)
{
    if (n && hit(OP_MALLOC)) return NULL;   /* realloc(p, 0) frees: never fails */
    return __libc_realloc(p, n);
}

void *memalign(size_t a, size_t n)
{
    return hit(OP_MALLOC) ? NULL : __libc_memalign(a, n);
}

void *aligned_alloc(size_t a, size_t n)
{
    return hit(OP_MALLOC) ? NULL : __libc_memalign(a, n);
}

int posix_memalign(void **out, size_t a, size_t n)
{
    if (hit(OP_MALLOC)) return ENOMEM;
    void *const p = __libc_memalign(a, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}
#endif

ssize_t read(int fd, void *p, size_t n)
{
    if (hit(OP_READ)) return -1;
    return syscall(SYS_read, fd, p, n);
}

ssize_t pread(int fd, void *p, size_t n, off_t off)
{
    if (hit(OP_READ)) return -1;
    return syscall(SYS_pread64, fd, p, n, off);
}

ssize_t pread64(int fd, void *p, size_t n, off_t off)
{
    if (hit(OP_READ)) return -1;
    return syscall(SYS_pread64, fd, p, n, off);
}

ssize_t write(int fd, const void *p, size_t n)
{
    if (hit(OP_WRITE)) return -1;
    return syscall(SYS_write, fd, p, n);
}

ssize_t pwrite(int fd, const void *p, size_t n, off_t off)
{
    if (hit(OP_WRITE)) return -1;
    return syscall(SYS_pwrite64, fd, p, n, off);
}

ssize_t pwrite64(int fd, const void *p, size_t n, off_t off)
{
    if (hit(OP_WRITE)) return -1;
    return syscall(SYS_pwrite64, fd, p, n, off);
}

static int sync_fault(int fd)
{
    struct stat st;
    if (hit(OP_FSYNC)) return 1;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode) && hit(OP_FSYNCDIR)) return 1;
    return 0;
}

int fsync(int fd)
{
    if (sync_fault(fd)) return -1;
    return (int)syscall(SYS_fsync, fd);
}

int fdatasync(int fd)
{
    if (sync_fault(fd)) return -1;
    return (int)syscall(SYS_fdatasync, fd);
}
