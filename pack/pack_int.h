/* pack_int.h - helpers shared by the pack/ sources (not part of the module's API). */
#ifndef TRIT_PACK_INT_H
#define TRIT_PACK_INT_H

#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stddef.h>
#include <stdint.h>

#include "pack.h"
#include "trit_limits.h"
#include "trit_pool.h"
#include "trit_safemath.h"
#include "trit_sys.h"

#define PACK_MANIFEST_NAME "manifest.json"
#define PACK_SIG_NAME "manifest.sig"
#define PACK_SCHEMA_PREFIX "trit-ota-manifest/"
#define PACK_SCHEMA_V1 "trit-ota-manifest/1"
#define PACK_SCHEMA_V2 "trit-ota-manifest/2"
#define PACK_MAX_NAME 128u        /* bytes of a file or member name */
#define PACK_MAX_MODEL_ID 128u    /* bytes of a model id */
#define PACK_IO_BUF (1u << 20)    /* streaming buffer */

/* libsodium must be initialised once before use; safe to call repeatedly and from threads. */
int pack_sodium_init(trit_err *err);

/* Lowercase hex of n bytes into out (2n+1 bytes with the NUL). */
void pack_hex(const uint8_t *p, size_t n, char *out);
/* Parse exactly 2n lowercase hex digits (s has strlen 2n) into out. 0 on success. */
int pack_unhex(const char *s, uint8_t *out, size_t n);
/* xxh3 digest as 16 hex digits, big-endian (canonical order, style R13). */
void pack_hex_u64(uint64_t v, char out[17]);
int pack_unhex_u64(const char *s, uint64_t *out);

/* A file or member name: 1..128 bytes of [A-Za-z0-9._-], starting with a letter or digit, not
 * "manifest.json" / "manifest.sig". */
int pack_name_ok(const char *s);
/* A model id: 1..128 bytes of [A-Za-z0-9._:/+-]. */
int pack_model_id_ok(const char *s);
/* A name that would escape the target directory: absolute, or with a ".." component. */
int pack_name_escapes(const char *s);

/* Strict decimal u64: digits only, no sign, no leading zero (except "0"). 0 on success. */
int pack_parse_dec(const char *s, uint64_t *out);
/* "MAJOR.MINOR.PATCH", each a strict decimal <= 65535. 0 on success. */
int pack_parse_semver(const char *s, uint32_t out[3]);
int pack_semver_cmp(const uint32_t a[3], const uint32_t b[3]);

/* trit_sys_pread_full of exactly n bytes at off. 0 on success; -1 with errno set, or with
 * errno 0 at end of file. */
int pack_pread_all(int fd, void *p, size_t n, uint64_t off);
/* Directory part of path into out ("." when none). 0 on success, -1 if it does not fit. */
int pack_dirname(const char *path, char *out, size_t cap);
/* Base name of path (borrowed: points into path). */
const char *pack_basename(const char *path);
/* Remove every regular file in dir, then dir itself. 0 when dir is gone. */
int pack_remove_flat_dir(const char *dir);
/* flock(LOCK_EX) on fd, retrying every 10 ms for up to wait_ms (< 0: one try). 0, or -1 with
 * errno set (EWOULDBLOCK: still held by another process). */
int pack_lock_fd(int fd, int wait_ms);
/* Staging directories and old installs of killed unpacks: remove every entry of dir named
 * prefix + anything (regular files, or flat directories of regular files). Only for a caller
 * that holds the lock every writer of these names takes (the install directory's), so none of
 * them is in use. (Temp files of output writers follow trit_sys_atomic's pid-and-flock rule.)
 * Returns how many went. */
unsigned pack_remove_stale(const char *dir, const char *prefix);

/* SHA-256 through libcrypto (pack_sha.c): the implementation is picked at run time from the CPU
 * (SHA-NI, ARMv8 SHA2). A context is one allocation; pack_sha_final leaves it ready for the next
 * message. */
typedef struct pack_sha {
    OSSL_LIB_CTX *lib;         /* its own library context (pack_sha.c says why) */
    EVP_MD *md;
    EVP_MD_CTX *ctx;
} pack_sha;
int pack_sha_init(pack_sha *s, trit_err *err);
void pack_sha_update(pack_sha *s, const void *p, size_t n);
void pack_sha_final(pack_sha *s, uint8_t d[PACK_SHA256_BYTES]);
void pack_sha_free(pack_sha *s);   /* NULL context ok */
/* One-shot digest of n bytes. */
int pack_sha256(const void *p, size_t n, uint8_t d[PACK_SHA256_BYTES], trit_err *err);

/* Chunk digests on a thread pool (pack_digest.c). A stream of known length is handed over
 * in windows; each window is cut at chunk boundaries into jobs that run on the pool, so the
 * chunks of one window are hashed in parallel and every byte is hashed once. Manifest v2's file
 * digest is the root over the chunk digests (pack_root); for v1 (`v1` set) the SHA-256 of the
 * whole stream runs as one more job per window. With want set, every chunk is compared with
 * want->chunks (and the file digest with want->digest); with out set, chunk digests are stored
 * there. The same bytes give the same digests at any thread count. */
/* Where a stream's bytes go after they are handed to the digester (a sink's write). */
typedef int (*pack_side_fn)(void *ctx, const void *p, size_t n, trit_err *err);

typedef struct pack_digester pack_digester;
typedef struct pack_dg_job {
    trit_pool_job job;         /* first: the pool's */
    pack_digester *d;
    uint32_t slot;             /* context index */
    int whole;                 /* the v1 whole-stream job */
    const uint8_t *p;          /* bytes [off, off + n) of the stream */
    uint64_t off;
    size_t n;
} pack_dg_job;

struct pack_digester {
    trit_pool *pool;           /* borrowed */
    int v1;
    uint64_t chunk_size;
    uint64_t size;             /* the stream's length, known in advance */
    uint64_t pos;              /* bytes submitted */
    const pack_blob *want;     /* expected digests, or NULL */
    uint8_t (*out)[PACK_SHA256_BYTES]; /* where chunk digests go, or NULL */
    uint32_t target_jobs;      /* jobs a window is cut into (about 2 per thread) */
    uint32_t max_jobs;         /* capacity of jobs and ctx */
    uint32_t n_jobs;           /* jobs of the window in flight (0: none) */
    pack_dg_job *jobs;
    pack_sha *ctx;             /* one per job; ctx[0] holds a chunk carried over from the last window */
    uint32_t n_ctx;            /* contexts initialised (release frees them) */
    pack_sha whole;            /* v1: the whole stream */
    int has_whole;
    uint8_t (*win)[PACK_SHA256_BYTES]; /* digests of the chunks the window in flight closes */
    uint64_t win_cap, win_first, win_n;
    int failed;                /* a check failed: the stream is unusable */
    uint64_t fail_chunk;       /* PACK_E_DIGEST: the chunk that differed */
};

/* Bytes per window for a thread count and chunk size: about two chunks per thread, a multiple
 * of the chunk size when a chunk fits, between 4 and 32 MiB (two windows are in memory). */
size_t pack_window_bytes(uint32_t threads, uint64_t chunk_size);
/* TRIT_E_NOMEM when something cannot be had; the caller releases with pack_digester_release in
 * every case after init returned (it is safe on a partly made one). */
int pack_digester_init(pack_digester *d, trit_pool *pool, uint32_t threads, size_t window, int v1, uint64_t chunk_size,
                       uint64_t size, const pack_blob *want, uint8_t (*out)[PACK_SHA256_BYTES], trit_err *err);
/* Waits for the window in flight, then frees. */
void pack_digester_release(pack_digester *d);
/* Start hashing p[0, n) (at most `window` bytes), the next bytes of the stream: borrowed until
 * pack_digester_wait. One window in flight at a time: waits for the previous one first.
 * PACK_E_OVERSIZE when the stream grows past its size. `what` names it in errors. */
int pack_digester_submit(pack_digester *d, const void *p, size_t n, const char *what, trit_err *err);
/* Wait for the window in flight (the caller's thread runs queued jobs meanwhile), compare or
 * store its chunk digests in chunk order: PACK_E_DIGEST names the first chunk that differs. */
int pack_digester_wait(pack_digester *d, const char *what, trit_err *err);
/* After the whole stream was submitted: the file digest (v2: the root; v1: the SHA-256),
 * compared with want->digest when want is set (PACK_E_DIGEST). */
int pack_digester_final(pack_digester *d, uint8_t digest[PACK_SHA256_BYTES], const char *what, trit_err *err);

/* The digests of size bytes in memory (windows straight from p, no copy). */
int pack_digest_mem(trit_pool *pool, uint32_t threads, int v1, uint64_t chunk_size, const void *p, uint64_t size,
                    const pack_blob *want, uint8_t (*out)[PACK_SHA256_BYTES], uint8_t digest[PACK_SHA256_BYTES], const char *what,
                    trit_err *err);

/* Manifest v2's file digest: SHA-256 of "trit-ota-root/2" NUL, chunk_size and size as u64
 * little-endian, and the n chunk digests (spec/manifest.md 3.2). */
#define PACK_ROOT_TAG "trit-ota-root/2"
int pack_root(uint64_t chunk_size, uint64_t size, const uint8_t (*chunks)[PACK_SHA256_BYTES], uint8_t out[PACK_SHA256_BYTES],
              trit_err *err);

/* A digester fed through two window buffers: the caller fills one (pack_stream_space, then
 * pack_stream_commit) while the pool hashes the other; a full window is submitted and handed to
 * sink (the archive or a file, on the caller's thread, while its chunks are hashed). So each
 * byte is read once into the window, hashed once and written from the same buffer. */
typedef struct pack_stream {
    pack_digester d;
    uint8_t *buf[2];
    size_t cap;                /* bytes per window */
    size_t fill;               /* bytes in buf[cur] */
    int cur;
    pack_side_fn sink;         /* may be NULL */
    void *sink_ctx;
    const char *what;
    /* optional: the container's full verification fed from the same windows (a pool job per
     * window, in order), so a container is read once for its digests, its copy and its checks */
    trit_verify_stream *vs;    /* borrowed; NULL: none */
    trit_pool_job vjob;
    int vbusy;                 /* vjob submitted, not yet waited for */
    const uint8_t *vp;         /* the window vjob reads */
    size_t vn;
    uint64_t voff, at;         /* vjob's stream offset; the current window's */
    int vrc;                   /* the verifier's verdict so far (its error in verr) */
    trit_err verr;
} pack_stream;

int pack_stream_init(pack_stream *s, trit_pool *pool, uint32_t threads, int v1, uint64_t chunk_size, uint64_t size,
                     const pack_blob *want, uint8_t (*out)[PACK_SHA256_BYTES], pack_side_fn sink, void *sink_ctx,
                     const char *what, trit_err *err);
void pack_stream_release(pack_stream *s);
/* Where the next bytes go (*p, *room > 0 bytes); a full window is handed on first. */
int pack_stream_space(pack_stream *s, uint8_t **p, size_t *room, trit_err *err);
/* n bytes were written at the space returned; they stay readable until the next space call. */
void pack_stream_commit(pack_stream *s, size_t n);
/* Copy n bytes in. */
int pack_stream_put(pack_stream *s, const void *p, size_t n, trit_err *err);
/* Feed every window to vs as well (before the first byte). A verification failure is returned
 * by the stream call that sees it, with vs's error; pack_stream_verify_failed says which. */
void pack_stream_verify(pack_stream *s, trit_verify_stream *vs);
int pack_stream_verify_failed(const pack_stream *s);
/* Hand on what is left, wait, and give the file digest (as pack_digester_final). */
int pack_stream_final(pack_stream *s, uint8_t digest[PACK_SHA256_BYTES], trit_err *err);

/* Number of chunks of a size: ceil(size / chunk_size). */
static inline uint64_t pack_n_chunks(uint64_t size, uint64_t chunk_size)
{
    return trit_div_ceil(size, chunk_size);
}

/* Delta planning (pack side): extents of the container at new_path against base, and the
 * reconstruction (unpack side). See pack_delta.c. */
typedef struct pack_obj {
    uint64_t off, size, xxh3;
} pack_obj;

/* Objects (dense tensors, units' stored bytes, sections) of an open container, sorted by
 * offset. *out caller frees with free(). */
int pack_container_objects(const trit_reader *r, pack_obj **out, uint32_t *n, trit_err *err);
/* Extents of the new container against the base's objects: header and index as data, every
 * object found in the base (same xxh3 and size) as a copy, the rest data, gaps zero. *out
 * caller frees with free(). */
int pack_delta_plan(const trit_reader *nr, const trit_reader *br, pack_extent **out,
                    uint64_t *n_out, trit_err *err);
/* Rebuild file f of m into out_fd from the base file and the carried member (both open),
 * checking every copied range's xxh3, the size, the chunk digests and the file digest (chunks
 * hashed on pool, `threads` its size). */
int pack_delta_apply(const pack_manifest *m, const pack_file *f, int base_fd, int member_fd,
                     int out_fd, uint32_t threads, trit_pool *pool, trit_err *err);

/* A previous full bundle, for making a delta: mapped, fully checked (digests, and every
 * container opened with TRIT_OPEN_VERIFY), with a reader per file over the mapping. */
typedef struct pack_base {
    const uint8_t *map;        /* the bundle, mmapped read-only */
    size_t len;
    pack_manifest *m;
    trit_reader **r;           /* m->n_files readers */
    uint64_t *off;             /* m->n_files: where each file's bytes start in map */
} pack_base;

/* *out caller frees with pack_base_close. Digests are checked on pool (`threads` its size). */
int pack_base_open(const char *path, trit_pool *pool, uint32_t threads, pack_base **out, trit_err *err);
/* The digest of base file i in manifest version `schema` (v2: its root, from its chunk list;
 * v1: the SHA-256 of its bytes): what a delta against it names as base_root / base_sha256. */
int pack_base_digest(const pack_base *b, uint32_t i, uint32_t schema, uint8_t out[PACK_SHA256_BYTES], trit_err *err);
void pack_base_close(pack_base *b);
/* Index of the base file called name, or -1. */
int64_t pack_base_find(const pack_base *b, const char *name);

#endif
