/*
 * pack.h - OTA bundles: `trit pack` and `trit unpack` (normative text: spec/manifest.md).
 *
 * A bundle is an uncompressed POSIX tar (pax) whose members are, in this order:
 *
 *   manifest.json   what is installed: model id, version, versions needed, and for every file
 *                   its size, per-chunk SHA-256s and their root (manifest v2); for a delta file, how to rebuild
 *                   it from the installed base (extents: copy from base / carried data / zeros)
 *   manifest.sig    64 bytes: Ed25519 signature of the manifest.json member's exact bytes
 *                   (absent in an unsigned bundle)
 *   <file> ...      one member per manifest file: the file itself, or for a delta file the
 *                   bytes its "data" extents carry
 *
 * Unpack reads the manifest and checks its signature before it writes anything, refuses
 * rollbacks, checks every member's type, name, size and digests while streaming it into a
 * temporary directory beside the target, rebuilds delta files, opens every container with full
 * verification, and only then swaps the directory into place.
 *
 * Errors: every function returns TRIT_OK, a TRIT_E_* code, or one of the PACK_E_* refusal
 * classes below, and fills the trit_err. This module is the only user of libarchive and
 * libsodium in trit.
 */
#ifndef TRIT_PACK_H
#define TRIT_PACK_H

#include <stddef.h>
#include <stdint.h>

#include "trit.h"

/* Refusal classes of a bundle (spec/manifest.md, "Errors"); each has its own exit code. */
enum {
    PACK_E_TRAVERSAL = -101, /* member name absolute or with a '..' component */
    PACK_E_LINK = -102,      /* symbolic or hard link member */
    PACK_E_SPECIAL = -103,   /* device, fifo, socket or directory member */
    PACK_E_OVERSIZE = -104,  /* member larger than the manifest says or than a hard cap */
    PACK_E_DIGEST = -105,    /* size, chunk SHA-256 or file digest differs from the manifest */
    PACK_E_SIGNATURE = -106, /* unsigned when a key is given, malformed or invalid signature */
    PACK_E_ROLLBACK = -107,  /* version not newer than the installed one */
    PACK_E_TRUNCATED = -108, /* the bundle ends early */
    PACK_E_BOMB = -109,      /* compressed bundle or sparse member: could expand without bound */
    PACK_E_MANIFEST = -110,  /* manifest invalid, or a member missing, unexpected or repeated */
    PACK_E_BASE = -111,      /* a delta's base is missing or is not the one it was made against */
    PACK_E_MODEL = -112,     /* the target holds another model id (replacing it was not asked for) */
    PACK_E_UNSYNCED = -113,  /* installed, but the fsync after the swap failed: durability unconfirmed */
    PACK_E_BUSY = -114       /* another unpack into the same parent directory held the lock too long */
};

/* Exit code of the CLI for a code: PACK_E_* map to 10..23 in the order above, TRIT_E_* as in
 * spec/errors.md. */
int pack_exit_code(int code);
/* Short description of a PACK_E_* or TRIT_E_* code. Static storage. */
const char *pack_strerror(int code);

#define PACK_SEED_BYTES 32u    /* Ed25519 secret seed */
#define PACK_PUBKEY_BYTES 32u  /* Ed25519 public key */
#define PACK_SIG_BYTES 64u     /* Ed25519 signature */
#define PACK_SHA256_BYTES 32u
#define PACK_DEFAULT_CHUNK (4u << 20)
#define PACK_MAX_THREADS 1024u

/* ---- keys ------------------------------------------------------------------------------- */

/* Create a key pair: base.key (secret seed, mode 0600) and base.pub. Refuses to replace
 * either file unless force. */
int pack_keygen(const char *base, int force, trit_err *err);
/* Read a key file written by pack_keygen. */
int pack_key_load_secret(const char *path, uint8_t seed[PACK_SEED_BYTES], trit_err *err);
int pack_key_load_public(const char *path, uint8_t pk[PACK_PUBKEY_BYTES], trit_err *err);
/* Public key of a seed. */
int pack_key_public(const uint8_t seed[PACK_SEED_BYTES], uint8_t pk[PACK_PUBKEY_BYTES], trit_err *err);
/* Key id: the first 8 bytes of the public key in hex (17 bytes with the NUL). */
void pack_key_id(const uint8_t pk[PACK_PUBKEY_BYTES], char out[17]);

/* ---- manifest --------------------------------------------------------------------------- */

#define PACK_EXT_DATA 0u   /* bytes carried in the delta member, in order */
#define PACK_EXT_COPY 1u   /* bytes copied from the base file */
#define PACK_EXT_ZERO 2u   /* zero bytes */

typedef struct pack_extent {
    uint32_t op;               /* PACK_EXT_* */
    uint64_t len;              /* bytes, > 0 */
    uint64_t base_off;         /* COPY: offset in the base file */
    uint64_t xxh3;             /* COPY: xxh3-64 of the copied bytes (the object's index digest) */
} pack_extent;

typedef struct pack_blob {
    char *name;                /* file or member name (owned) */
    uint64_t size;             /* bytes */
    /* manifest v2: the root over the chunk digests (pack_root); v1: the SHA-256 of the bytes */
    uint8_t digest[PACK_SHA256_BYTES];
    uint64_t n_chunks;         /* ceil(size / chunk_size) */
    uint8_t (*chunks)[PACK_SHA256_BYTES]; /* n_chunks digests (owned) */
} pack_blob;

typedef struct pack_file {
    pack_blob file;            /* the installed file */
    int is_delta;              /* 0: the member `file.name` carries the file verbatim */
    pack_blob delta;           /* is_delta: the carried member */
    char *base_path;           /* is_delta: file in the installed base it copies from (owned) */
    uint64_t base_size;        /* is_delta: its size */
    uint8_t base_digest[PACK_SHA256_BYTES]; /* is_delta: its digest (v2: root, v1: SHA-256) */
    uint64_t n_extents;
    pack_extent *extents;      /* is_delta: how to rebuild the file, in file order (owned) */
} pack_file;

#define PACK_MANIFEST_V1 1u    /* "trit-ota-manifest/1": whole-file SHA-256 plus chunk digests (read; written on request) */
#define PACK_MANIFEST_V2 2u    /* "trit-ota-manifest/2": the file digest is the root over the chunk digests */

typedef struct pack_manifest {
    uint32_t schema;           /* PACK_MANIFEST_V1 or _V2 */
    char *model_id;            /* owned */
    uint64_t version;          /* monotonic release number, >= 1 */
    uint32_t fmt_major, fmt_minor;       /* highest container format version of the files */
    uint32_t min_runtime[3];   /* MAJOR.MINOR.PATCH of the oldest runtime that may install it */
    uint64_t chunk_size;       /* bytes per chunk digest */
    int has_base;              /* a delta bundle: base_version is the release it applies to */
    uint64_t base_version;
    uint32_t n_files;
    pack_file *files;          /* sorted by name (owned) */
    /* Set by the bundle reader: the signed bytes as stored, and the signature. */
    uint8_t *raw;              /* owned, raw_len bytes */
    size_t raw_len;
    int has_sig;
    uint8_t sig[PACK_SIG_BYTES];
} pack_manifest;

/* Parse manifest bytes (strict: spec/manifest.md). *out caller frees with pack_manifest_free;
 * NULL on failure. Does not check a signature. */
int pack_manifest_parse(const void *json, size_t n, pack_manifest **out, trit_err *err);
/* Serialize (deterministic: the same manifest gives the same bytes). *out caller frees with
 * free(); *n excludes the NUL terminator that follows. */
int pack_manifest_write(const pack_manifest *m, char **out, size_t *n, trit_err *err);
void pack_manifest_free(pack_manifest *m);
/* The member that carries file i: &files[i].delta or &files[i].file. Borrowed. */
const pack_blob *pack_manifest_member(const pack_manifest *m, uint32_t i);

/* ---- pack ------------------------------------------------------------------------------- */

typedef struct pack_create_opts {
    const char *const *inputs; /* .trit files; installed under their base names */
    uint32_t n_inputs;
    const char *out;           /* bundle path; written atomically */
    const char *model_id;
    uint64_t version;          /* >= 1 */
    const char *min_runtime;   /* "MAJOR.MINOR.PATCH", NULL = this build's version */
    uint64_t chunk_size;       /* power of two in [4 KiB, 1 GiB]; 0 = PACK_DEFAULT_CHUNK */
    const uint8_t *seed;       /* PACK_SEED_BYTES to sign with, or NULL for an unsigned bundle */
    const char *base;          /* previous full bundle: make a delta against it, or NULL */
    int force;                 /* replace an existing output */
    int dry_run;               /* do everything but write the bundle */
    uint32_t threads;          /* hashing threads; 0 = the core count. Same bytes at any count */
    uint32_t manifest_version; /* PACK_MANIFEST_V2 (0 = that) or _V1, for installers older than v2 */
    /* Called with the bundle's temp file once it exists, and with NULL once it is renamed into
     * place or removed, so a signal handler can remove it (cli_guard_temp_cb). May be NULL. */
    void (*temp_path)(void *ctx, const char *path);
    void *temp_ctx;
} pack_create_opts;

typedef struct pack_create_info {
    uint64_t bundle_size;      /* bytes written */
    uint64_t carried;          /* file bytes carried in the bundle */
    uint64_t copied;           /* file bytes a delta copies from the base */
} pack_create_info;

/* Write a bundle. info may be NULL. */
int pack_create(const pack_create_opts *o, pack_create_info *info, trit_err *err);

/* ---- read and unpack -------------------------------------------------------------------- */

typedef struct pack_read_opts {
    const uint8_t *pubkey;     /* PACK_PUBKEY_BYTES: the signature must verify with it */
    int skip_signature;        /* with pubkey NULL: accept without checking (else refused) */
    int have_installed;        /* refuse versions <= installed */
    uint64_t installed;
    const char *runtime_version; /* refuse min_runtime above it; NULL = this build's version */
    uint32_t threads;          /* hashing threads; 0 = the core count */
} pack_read_opts;

/* Where the bundle reader delivers verified data. Callbacks return TRIT_OK or an error. */
typedef struct pack_sink {
    void *ctx;
    /* The manifest was authenticated, parsed and passed the version checks; nothing written yet. */
    int (*on_manifest)(void *ctx, const pack_manifest *m, trit_err *err);
    /* Member of file i starts; its type, name and size are checked. */
    int (*begin)(void *ctx, uint32_t file, trit_err *err);
    /* Bytes of the current member, in order (their chunk digests are checked as they complete). */
    int (*write)(void *ctx, const void *p, size_t n, trit_err *err);
    /* The member ended and its size and digests matched. */
    int (*end)(void *ctx, trit_err *err);
} pack_sink;

/* Read a bundle from a file (a regular file or a pipe) or from memory, checking everything
 * the bundle itself can prove; sink callbacks may be NULL. On success *out (if non-NULL)
 * receives the manifest, caller frees with pack_manifest_free. */
int pack_bundle_read_file(const char *path, const pack_read_opts *o, const pack_sink *sink,
                          pack_manifest **out, trit_err *err);
int pack_bundle_read_mem(const void *buf, size_t len, const char *name, const pack_read_opts *o,
                         const pack_sink *sink, pack_manifest **out, trit_err *err);

typedef struct pack_unpack_opts {
    pack_read_opts read;       /* read.have_installed overrides the install state's version */
    const char *base_dir;      /* installed base for a delta bundle, or NULL */
    int replace_model;         /* allow replacing an install of another model id */
    int lock_wait_ms;          /* wait for another unpack into the same parent: 0 = 60 s, < 0 = not at all */
    /* Called with the staging directory once it exists, and with NULL once it holds nothing to
     * remove (swapped into place, or removed), so a signal handler can remove it
     * (cli_guard_dir_cb). May be NULL. */
    void (*stage_path)(void *ctx, const char *path);
    void *stage_ctx;
} pack_unpack_opts;

/* Name of the install state file in an install directory: one line per model id ever installed
 * there with its last version, so a rollback check survives installs of other models. */
#define PACK_STATE_NAME ".trit-state"

/* Install a bundle into dir atomically. dir must not exist, be empty, or be a previous
 * install (a valid manifest.json, manifest.sig, .trit-state and only the files that manifest
 * names); it is replaced as a whole. The whole run holds an exclusive lock (flock) on dir's
 * parent directory, so concurrent unpacks into it run one after the other and each checks the
 * versions against what the one before installed; staging directories of killed runs for dir
 * are removed under that lock. A bundle of another model id than the installed one is refused
 * (PACK_E_MODEL) unless replace_model; its version must still be newer than the state's entry
 * for its own model id. On failure dir is unchanged, with one exception: PACK_E_UNSYNCED
 * means the new install is in place and the old one gone, but the final fsync of the parent
 * failed (a power loss could still lose the rename). *out (optional) receives the manifest on
 * success and on PACK_E_UNSYNCED (caller frees with pack_manifest_free). */
int pack_unpack(const char *bundle, const char *dir, const pack_unpack_opts *o,
                pack_manifest **out, trit_err *err);

#endif /* TRIT_PACK_H */
