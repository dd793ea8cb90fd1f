/*
 * trit_sys.h - file-system helpers shared by every module (private: not installed, not TRIT_API).
 *
 * One home for the small POSIX routines that every reader and writer needs: whole-buffer
 * preads, reading a small file under a cap, mapping a file, joining paths, syncing a
 * directory, and the atomic replacement of an output file. They live in libtrit because
 * format/ is the floor every module stands on (layers.mk lets every module include this
 * header); they have ordinary external linkage so the other modules' archives link against
 * libtrit.a, and libtrit.so does not export them (only TRIT_API symbols are visible there).
 */
#ifndef TRIT_SYS_H
#define TRIT_SYS_H

#include <stddef.h>
#include <pthread.h>
#include <stdint.h>

#include "trit.h"

/* pread exactly n bytes at off, retrying short reads and EINTR. Returns the bytes read (less
 * than n only when the file ends first) or -1 with errno set. */
int64_t trit_sys_pread_full(int fd, void *buf, uint64_t n, uint64_t off);

/* write all n bytes, retrying short writes and EINTR. 0, or -1 with errno set (EIO when the
 * kernel accepts nothing). */
int trit_sys_write_full(int fd, const void *buf, size_t n);

/* Read a whole regular file of at most max_bytes into *buf (caller frees; never NULL on
 * success, even for an empty file). Opens with O_NONBLOCK so a FIFO cannot block. Errors name
 * the file: TRIT_E_NOTFOUND (missing), TRIT_E_IO, TRIT_E_LIMIT (over max_bytes),
 * TRIT_E_TRUNCATED (it shrank while read), TRIT_E_NOMEM. */
int trit_sys_read_small_file(const char *path, uint64_t max_bytes, uint8_t **buf, size_t *len, trit_err *err);

/* Map a whole regular file read-only. An empty file is not an error: *map is NULL, *len 0.
 * Errors name the file. Release with trit_sys_unmap. fd_out NULL: the descriptor is closed;
 * else *fd_out receives it (the caller closes it; -1 on failure), for pread of the same file:
 * on some hosts (shadow-paged VMs) the first touch of mapped pages costs several times a
 * pread of the same page-cache bytes. */
int trit_sys_map_file(const char *path, const uint8_t **map, size_t *len, int *fd_out, trit_err *err);
void trit_sys_unmap(const uint8_t *map, size_t len);   /* NULL is ok */

/* pthread_create with the termination signals (SIGINT, SIGTERM, SIGHUP, SIGQUIT) blocked in
 * the new thread: they then reach only the threads that did not block them, so a caller that
 * blocks them around a critical step (publishing a temp file to its signal guard) is not
 * interrupted through a helper thread. Every worker thread of trit starts through this (the
 * convert pool, the runner's pool, verify's and pack's helpers). 0 or the pthread_create error. */
int trit_sys_thread_start(pthread_t *t, void *(*fn)(void *), void *arg);

/* "dir/name". Caller frees; NULL when out of memory. */
char *trit_sys_path_join(const char *dir, const char *name);

/* fsync the directory that holds path, so that a name just created or renamed there survives a
 * crash. 0, or -1 with errno set. */
int trit_sys_fsync_dir(const char *path);
/* fsync the directory dir itself (after filling it). 0, or -1 with errno set. */
int trit_sys_fsync_path(const char *dir);

/*
 * Atomic replacement of one output file: the target appears whole or not at all.
 *
 * The bytes go to a temp file beside the target (same directory, so the final rename or link
 * cannot cross file systems): "<path>.tmp-<pid>-XXXXXX", created by mkstemp (O_CREAT|O_EXCL)
 * and flocked for as long as it is open. commit fsyncs and closes it, then publishes it: with
 * replace by rename(2); without, by link(2), which never replaces, so a file created meanwhile
 * survives (errno EEXIST), and the temp name is dropped. Last, the directory is fsynced.
 *
 * Interrupts. Libraries install no signal handlers; the program that does (the CLI's one guard)
 * passes a track callback, which the helper calls with the temp name as soon as the file exists
 * and with NULL once it is renamed, linked or removed. SIGINT, SIGTERM and SIGHUP are blocked
 * from before mkstemp until the name is tracked, and around the publishing rename/link, so no
 * signal lands between a file's creation and its registration, or between publishing and
 * unregistering. The callback must be async-signal-safe with respect to the handler it feeds.
 *
 * Stale temp files. A writer killed by SIGKILL (or a power loss) leaves its temp file. open
 * removes every "<path>.tmp-<pid>-*" regular file beside the target whose writer is gone: pid
 * no longer runs (or is a zombie) and nobody holds the flock every writer takes on its temp
 * file. A live writer's file, this process's included, is never touched. The count removed
 * is in n_stale.
 *
 * Each call returns TRIT_SYS_OK or the step that failed, with errno set, so every writer keeps
 * its own messages. On any failure the temp file stays until trit_sys_atomic_abort, which the
 * writer calls on every path out (also after success: it only frees then).
 */
typedef void (*trit_sys_track_fn)(void *ctx, const char *path);

typedef struct trit_sys_atomic {
    int fd;                    /* the temp file; -1 when none is open */
    char *tmp;                 /* its name (owned); "" once published or removed; NULL before open */
    trit_sys_track_fn track;   /* told the temp name while it exists; may be NULL */
    void *track_ctx;           /* passed to track */
    unsigned n_stale;          /* stale temp files of dead writers open removed */
} trit_sys_atomic;

enum {
    TRIT_SYS_OK = 0,
    TRIT_SYS_TEMP,             /* creating the temp file (or allocating its name) */
    TRIT_SYS_CHMOD,            /* fchmod to the wanted mode (mkstemp makes 0600) */
    TRIT_SYS_SYNC,             /* fsync of the temp file */
    TRIT_SYS_CLOSE,            /* close of the temp file */
    TRIT_SYS_PUBLISH,          /* rename or link; EEXIST: the target exists and replace is off */
    TRIT_SYS_DIRSYNC           /* fsync of the directory; the target is already in place */
};

/* track may be NULL. */
void trit_sys_atomic_init(trit_sys_atomic *a, trit_sys_track_fn track, void *track_ctx);
/* a was initialised (trit_sys_atomic_init); removes stale temp files first. */
int trit_sys_atomic_open(trit_sys_atomic *a, const char *path, unsigned mode);
int trit_sys_atomic_commit(trit_sys_atomic *a, const char *path, int replace);
/* Close and remove the temp file if it is still there, free its name. Safe to repeat. */
void trit_sys_atomic_abort(trit_sys_atomic *a);

/* The stale-file rule of the atomic writer for other temp files beside a target (a pipeline's
 * intermediate): create "<path>.tmp-<pid>-XXXXXX" empty, tracked as above (closed at once, so
 * not locked: its writer's pid keeps it alive). *name receives the path (caller frees) or NULL.
 * 0, or -1 with errno set. */
int trit_sys_temp_create(const char *path, trit_sys_track_fn track, void *track_ctx, char **name);
/* mkdtemp(tmpl) for a staging directory, registered through track (may be NULL) as it is
 * created, with termination signals held back in between. 0, or -1 with errno set. */
int trit_sys_mkdtemp(char *tmpl, trit_sys_track_fn track, void *track_ctx);

/* Command-line numbers, shared by `trit` and the standalone `trit-run`: a decimal integer in
 * [lo, hi] (no sign, nothing after it); a byte size with an optional K/M/G/T suffix (powers of
 * 1024, "KiB"/"KB"/"B" accepted), overflow refused. 0 on success, -1 otherwise. */
int trit_sys_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out);
int trit_sys_parse_size(const char *s, uint64_t *out);

#endif
