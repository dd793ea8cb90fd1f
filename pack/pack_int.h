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
#include "trit_safemath.h"
#include "trit_sys.h"

#define PACK_MANIFEST_NAME "manifest.json"
#define PACK_SIG_NAME "manifest.sig"
#define PACK_SCHEMA "trit-ota-manifest/1"
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

/* Chunked SHA-256: the whole stream and every chunk_size piece. With want set, each chunk is
 * compared with want->chunks as it completes; with out set, chunk digests are stored there.
 * The chunk stream runs on a lane thread when one starts (pack_hash.c). Not thread-safe: one
 * caller thread per hasher. */
typedef struct pack_hasher {
    pack_sha all;
    pack_sha chunk;
    uint64_t chunk_size;
    uint64_t pos;              /* bytes hashed by the chunk stream */
    uint64_t n_done;           /* chunks completed */
    const pack_blob *want;     /* expected digests, or NULL */
    uint8_t (*out)[PACK_SHA256_BYTES]; /* where to store chunk digests, or NULL */
    uint64_t out_cap;          /* entries of out */
    int failed;                /* an update failed: the streams are out of step */
    /* the lane: job_* handed over under mu, done when job returns to 0 */
    pthread_t lane;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int has_lane, has_sync, quit, job, lane_rc;
    const uint8_t *job_p;
    size_t job_n;
    const char *job_what;
    int (*job_side)(void *, const void *, size_t, trit_err *);
    void *job_side_ctx;
    trit_err lane_err;
} pack_hasher;

/* Work on the same bytes that may run on the lane after their chunk digests (a sink's write). */
typedef int (*pack_side_fn)(void *ctx, const void *p, size_t n, trit_err *err);

/* TRIT_E_NOMEM when a digest context cannot be made (nothing to release then); otherwise the
 * caller releases with pack_hasher_release, whatever happens after. */
int pack_hasher_init(pack_hasher *h, uint64_t chunk_size, const pack_blob *want,
                     uint8_t (*out)[PACK_SHA256_BYTES], uint64_t out_cap, trit_err *err);
void pack_hasher_release(pack_hasher *h);
/* Hash n more bytes. Fails with PACK_E_DIGEST when a completed chunk differs from want, and
 * PACK_E_OVERSIZE when more chunks arrive than want lists. `what` names the stream. */
int pack_hasher_update(pack_hasher *h, const void *p, size_t n, const char *what, trit_err *err);
/* The same, then side(side_ctx, p, n) on the bytes, on the lane when it takes them (the
 * caller's thread meanwhile runs the whole-file digest): a copy costs no time of its own. Its
 * error is returned like a digest's. */
int pack_hasher_update_side(pack_hasher *h, const void *p, size_t n, const char *what, pack_side_fn side,
                            void *side_ctx, trit_err *err);
/* Finish: the last partial chunk and the whole digest. Checks the chunk count against want. */
int pack_hasher_final(pack_hasher *h, uint8_t digest[PACK_SHA256_BYTES], const char *what,
                      trit_err *err);

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
 * checking every copied range's xxh3, the size, the SHA-256 and the chunk digests. */
int pack_delta_apply(const pack_manifest *m, const pack_file *f, int base_fd, int member_fd,
                     int out_fd, trit_err *err);

/* A previous full bundle, for making a delta: mapped, fully checked (digests, and every
 * container opened with TRIT_OPEN_VERIFY), with a reader per file over the mapping. */
typedef struct pack_base {
    const uint8_t *map;        /* the bundle, mmapped read-only */
    size_t len;
    pack_manifest *m;
    trit_reader **r;           /* m->n_files readers */
} pack_base;

/* *out caller frees with pack_base_close. */
int pack_base_open(const char *path, pack_base **out, trit_err *err);
void pack_base_close(pack_base *b);
/* Index of the base file called name, or -1. */
int64_t pack_base_find(const pack_base *b, const char *name);

#endif
