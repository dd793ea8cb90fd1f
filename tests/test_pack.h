/* test_pack.h - helpers for the pack/unpack tests: sample containers, hand-built tar bundles
 * (libarchive, so a test can make any member a reader must refuse), directory checks. */
#ifndef TRIT_TEST_PACK_H
#define TRIT_TEST_PACK_H
#include <stddef.h>
#include <stdint.h>

#include "pack.h"

/* A small MoE container (page_align 4096): 4 dense tensors, 4 expert units (raw and zstd), a
 * section. release 1 is the base; release 2 changes dense tensor 2, unit 1 and one KV, so a
 * delta of 2 against 1 copies the rest. Returns TRIT_OK. */
int tpk_container(const char *path, int release);

/* A fixed test key pair (seed byte i = i + seed). */
void tpk_key(uint8_t seed_byte, uint8_t seed[PACK_SEED_BYTES], uint8_t pk[PACK_PUBKEY_BYTES]);

/* pack_create of the given containers, signed with tpk_key(1) when sign. */
int tpk_pack(const char *out, const char *const *inputs, uint32_t n, uint64_t version, int sign,
             const char *base, trit_err *err);

/* One tar member to write. */
typedef struct tpk_entry {
    const char *name;
    unsigned type;             /* AE_IFREG (0 means regular), AE_IFLNK, AE_IFDIR, AE_IFCHR, AE_IFIFO */
    const void *data;
    size_t len;
    int64_t size;              /* declared size in the header; -1: len */
    const char *link;          /* symlink target, or hard link target with hardlink set */
    int hardlink;
    int sparse;                /* declare a sparse file: one 1-byte data block at the end of size */
} tpk_entry;

/* Write a pax tar of the entries; gzip: through libarchive's gzip filter. 0 on success. */
int tpk_tar(const char *path, const tpk_entry *e, size_t n, int gzip);

/* The members of a bundle, in order (at most 8). Caller frees with tpk_members_free. */
typedef struct tpk_members {
    size_t n;
    char *name[8];
    uint8_t *data[8];
    size_t len[8];
} tpk_members;
int tpk_read_members(const char *bundle, tpk_members *m);
void tpk_members_free(tpk_members *m);
/* Entries for tpk_tar from members (regular files, as stored). */
void tpk_entries_of(const tpk_members *m, tpk_entry *e);

/* Number of entries in dir (not . and ..) whose name starts with prefix (-1 if unreadable). */
int tpk_count_prefix(const char *dir, const char *prefix);
/* Make a fresh empty directory test_tmpdir()/name and return its path (static ring). */
const char *tpk_dir(const char *name);
/* Compare two files byte for byte: 1 if equal. */
int tpk_same_file(const char *a, const char *b);

#endif
