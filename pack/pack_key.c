/* pack_key.c - Ed25519 key files (libsodium). A key file is one line of text:
 *   NAME.key  "trit-ed25519-key <64 hex digits: the 32-byte secret seed>\n"   (mode 0600)
 *   NAME.pub  "trit-ed25519-pub <64 hex digits: the 32-byte public key>\n"
 * Text, so a key can be pasted into a CI secret; a prefix, so a public key given where the
 * secret one is expected (or any other file) is refused by name rather than misread. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pack_int.h"

#define KEY_PREFIX "trit-ed25519-key "
#define PUB_PREFIX "trit-ed25519-pub "

void pack_key_id(const uint8_t pk[PACK_PUBKEY_BYTES], char out[17])
{
    pack_hex(pk, 8, out);
}

int pack_key_public(const uint8_t seed[PACK_SEED_BYTES], uint8_t pk[PACK_PUBKEY_BYTES], trit_err *err)
{
    int rc = pack_sodium_init(err);
    if (rc != TRIT_OK) return rc;
    uint8_t sk[crypto_sign_SECRETKEYBYTES];
    rc = crypto_sign_seed_keypair(pk, sk, seed) == 0 ? TRIT_OK
         : trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL, "cannot derive the public key");
    sodium_memzero(sk, sizeof sk);
    return rc;
}

/* Write data to path through a temp file; without force, link(2) refuses an existing path
 * atomically (no check-then-write race). */
static int write_key_file(const char *path, const char *data, size_t n, mode_t mode, int force, trit_err *err)
{
    trit_sys_atomic at;
    trit_sys_atomic_init(&at, NULL, NULL);
    int const step = trit_sys_atomic_open(&at, path, mode);
    int rc = TRIT_OK;
    if (step == TRIT_SYS_TEMP) {
        rc = trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, path, "cannot create: %s", strerror(errno));
    } else if (step == TRIT_SYS_CHMOD || trit_sys_write_full(at.fd, data, n) != 0) {
        rc = trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, path, "cannot write: %s", strerror(errno));
    } else {
        switch (trit_sys_atomic_commit(&at, path, force)) {
        case TRIT_SYS_OK: break;
        case TRIT_SYS_SYNC:
        case TRIT_SYS_CLOSE:
            rc = trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, path, "cannot write: %s", strerror(errno));
            break;
        case TRIT_SYS_PUBLISH:
            if (force) rc = trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, path, "cannot rename: %s", strerror(errno));
            else if (errno == EEXIST)
                rc = trit_err_set(err, TRIT_E_EXISTS, TRIT_NO_OFFSET, path, "already exists (use --force to replace it)");
            else rc = trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, path, "cannot create: %s", strerror(errno));
            break;
        default:
            rc = trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, path, "cannot fsync its directory: %s", strerror(errno));
            break;
        }
    }
    trit_sys_atomic_abort(&at);
    return rc;
}

int pack_keygen(const char *base, int force, trit_err *err)
{
    int rc = pack_sodium_init(err);
    if (rc != TRIT_OK) return rc;
    char kpath[4096], ppath[4096];
    if (snprintf(kpath, sizeof kpath, "%s.key", base) >= (int)sizeof kpath ||
        snprintf(ppath, sizeof ppath, "%s.pub", base) >= (int)sizeof ppath)
        return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, base, "path too long");
    if (!force && (access(kpath, F_OK) == 0 || access(ppath, F_OK) == 0))
        return trit_err_set(err, TRIT_E_EXISTS, TRIT_NO_OFFSET, access(kpath, F_OK) == 0 ? kpath : ppath,
                            "already exists (use --force to replace it)");
    uint8_t seed[PACK_SEED_BYTES], pk[PACK_PUBKEY_BYTES];
    randombytes_buf(seed, sizeof seed);
    char line[128];
    char hex[2 * PACK_SEED_BYTES + 1];
    rc = pack_key_public(seed, pk, err);
    if (rc == TRIT_OK) {
        pack_hex(seed, sizeof seed, hex);
        int const n = snprintf(line, sizeof line, KEY_PREFIX "%s\n", hex);
        rc = write_key_file(kpath, line, (size_t)n, 0600, force, err);
    }
    if (rc == TRIT_OK) {
        pack_hex(pk, sizeof pk, hex);
        int const n = snprintf(line, sizeof line, PUB_PREFIX "%s\n", hex);
        rc = write_key_file(ppath, line, (size_t)n, 0644, force, err);
        if (rc != TRIT_OK) unlink(kpath); /* never leave half a pair */
    }
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(line, sizeof line);
    sodium_memzero(hex, sizeof hex);
    return rc;
}

static int load_key(const char *path, const char *prefix, const char *kind, uint8_t out[32], trit_err *err)
{
    /* O_NONBLOCK: a FIFO given as a key file must not hang the command */
    int const fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, path, "cannot open: %s", strerror(errno));
    struct stat st;
    char buf[160];
    ssize_t n = -1;
    int rc = TRIT_OK;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        rc = trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, path, "not a regular file");
    else if ((n = read(fd, buf, sizeof buf - 1)) < 0)
        rc = trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, path, "cannot read: %s", strerror(errno));
    close(fd);
    if (rc != TRIT_OK) return rc;
    buf[n > 0 ? n : 0] = '\0';
    size_t const plen = strlen(prefix);
    char hex[65];
    if ((size_t)n != plen + 65 || memcmp(buf, prefix, plen) != 0 || buf[plen + 64] != '\n') {
        rc = trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, path, "not a trit %s key file (expected a line '%s<64 hex digits>')",
                          kind, prefix);
    } else {
        memcpy(hex, buf + plen, 64);
        hex[64] = '\0';
        if (pack_unhex(hex, out, 32) != 0)
            rc = trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, path, "key is not 64 lowercase hex digits");
    }
    sodium_memzero(buf, sizeof buf);
    sodium_memzero(hex, sizeof hex);
    return rc;
}

int pack_key_load_secret(const char *path, uint8_t seed[PACK_SEED_BYTES], trit_err *err)
{
    return load_key(path, KEY_PREFIX, "secret", seed, err);
}

int pack_key_load_public(const char *path, uint8_t pk[PACK_PUBKEY_BYTES], trit_err *err)
{
    return load_key(path, PUB_PREFIX, "public", pk, err);
}
