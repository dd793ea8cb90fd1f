/* pack_sha.c - SHA-256 through OpenSSL's libcrypto (the chunk jobs are in pack_digest.c).
 *
 * Why libcrypto and not libsodium (which stays for Ed25519): libsodium's SHA-256 is portable C
 * (~0.3 GB/s here); libcrypto picks its implementation at run time from the CPU (x86 SHA-NI,
 * ARMv8 SHA2 instructions, else AVX2/SSSE3 assembly), ~1.7 GB/s on this machine, the speed of
 * `openssl dgst -sha256`. Manifest v2 hashes every payload byte once (its chunk's digest), on
 * all cores (pack_digest.c). */
#include <errno.h>
#include <openssl/evp.h>
#include <string.h>

#include "pack_int.h"

int pack_sha_init(pack_sha *s, trit_err *err)
{
    memset(s, 0, sizeof *s);
    /* A library context of our own, not libcrypto's implicit global one: a failed allocation
     * while the global one initialises goes unreported and leaves a NULL lock that the next
     * fetch takes (OpenSSL 3.0, a crash seen under malloc fault injection); OSSL_LIB_CTX_new
     * and EVP_MD_fetch report theirs. It also keeps no state between calls. */
    if (!(s->lib = OSSL_LIB_CTX_new()) || !(s->md = EVP_MD_fetch(s->lib, "SHA2-256", NULL)) ||
        !(s->ctx = EVP_MD_CTX_new()) || EVP_DigestInit_ex(s->ctx, s->md, NULL) != 1) {
        pack_sha_free(s);
        return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory (libcrypto SHA-256)");
    }
    return TRIT_OK;
}

void pack_sha_update(pack_sha *s, const void *p, size_t n)
{
    /* EVP_DigestUpdate fails only on a context that was never initialised */
    if (n) (void)EVP_DigestUpdate(s->ctx, p, n);
}

void pack_sha_final(pack_sha *s, uint8_t d[PACK_SHA256_BYTES])
{
    unsigned int len = 0;
    (void)EVP_DigestFinal_ex(s->ctx, d, &len);
    (void)EVP_DigestInit_ex(s->ctx, s->md, NULL);   /* ready for the next message (no allocation: same digest) */
}

void pack_sha_free(pack_sha *s)
{
    EVP_MD_CTX_free(s->ctx);
    EVP_MD_free(s->md);
    OSSL_LIB_CTX_free(s->lib);
    s->ctx = NULL;
    s->md = NULL;
    s->lib = NULL;
}

int pack_sha256(const void *p, size_t n, uint8_t d[PACK_SHA256_BYTES], trit_err *err)
{
    pack_sha s;
    int const rc = pack_sha_init(&s, err);
    if (rc != TRIT_OK) return rc;
    pack_sha_update(&s, p, n);
    pack_sha_final(&s, d);
    pack_sha_free(&s);
    return TRIT_OK;
}
