/* Identifiers derived from keys and certificates: transactionID and fingerprints. */
#include <string.h>

#include <openssl/crypto.h>

#include "internal.h"

static void to_hex(const unsigned char *bytes, size_t n, char sep, char *buf)
{
    static const char digits[] = "0123456789ABCDEF";
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (sep && i > 0)
            buf[j++] = sep;
        buf[j++] = digits[bytes[i] >> 4];
        buf[j++] = digits[bytes[i] & 0x0f];
    }
    buf[j] = '\0';
}

scep_err scep_transaction_id(const scep_ctx *ctx, const EVP_PKEY *key, scep_digest digest,
                             char *buf, size_t buflen)
{
    if (key == NULL || buf == NULL || buflen == 0)
        return SCEP_E_INVALID_ARG;
    buf[0] = '\0';
    unsigned char *spki = NULL;
    int spki_len = i2d_PUBKEY(key, &spki);
    if (spki_len <= 0)
        return SCEP_E_INVALID_ARG;
    EVP_MD *md = scepi_md_fetch(ctx, digest);
    unsigned char hash[EVP_MAX_MD_SIZE];
    unsigned int hash_len = 0;
    scep_err err = SCEP_OK;
    if (md == NULL || EVP_Digest(spki, (size_t)spki_len, hash, &hash_len, md, NULL) != 1)
        err = md ? SCEP_E_INTERNAL : SCEP_E_BAD_ALG;
    else if (buflen < 2 * (size_t)hash_len + 1)
        err = SCEP_E_INVALID_ARG;
    else
        to_hex(hash, hash_len, 0, buf);
    EVP_MD_free(md);
    OPENSSL_free(spki);
    return err;
}

/* Display digests are fetched from the default context: MD5 here only shows a fingerprint. */
static EVP_MD *display_md(scep_digest digest)
{
    if (digest != SCEP_DIGEST_SHA256 && digest != SCEP_DIGEST_SHA1 && digest != SCEP_DIGEST_MD5)
        return NULL;
    return EVP_MD_fetch(NULL, scepi_digest_ossl_name(digest), NULL);
}

scep_err scep_cert_fingerprint(const X509 *cert, scep_digest digest, char *buf, size_t buflen)
{
    if (cert == NULL || buf == NULL || buflen == 0)
        return SCEP_E_INVALID_ARG;
    buf[0] = '\0';
    EVP_MD *md = display_md(digest);
    unsigned char hash[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    scep_err err = SCEP_OK;
    if (md == NULL)
        err = SCEP_E_BAD_ALG;
    else if (X509_digest(cert, md, hash, &n) != 1)
        err = SCEP_E_INTERNAL;
    else if (buflen < 3 * (size_t)n)
        err = SCEP_E_INVALID_ARG;
    else
        to_hex(hash, n, ':', buf);
    EVP_MD_free(md);
    return err;
}

/* Keeps the hex digits of a user's fingerprint, upper-cased; 0 when anything else is in it. */
static size_t normalize_hex(const char *in, char *out, size_t outlen)
{
    size_t n = 0;
    for (const char *p = in; *p != '\0'; p++) {
        char c = *p;
        if (c == ':' || c == ' ' || c == '-')
            continue;
        if (c >= 'a' && c <= 'f')
            c = (char)(c - 'a' + 'A');
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F')) || n + 1 >= outlen)
            return 0;
        out[n++] = c;
    }
    out[n] = '\0';
    return n;
}

int scep_cert_fingerprint_matches(const X509 *cert, const char *fingerprint)
{
    if (cert == NULL || fingerprint == NULL)
        return 0;
    char want[130];
    size_t n = normalize_hex(fingerprint, want, sizeof(want));
    scep_digest digest = n == 64   ? SCEP_DIGEST_SHA256
                         : n == 40 ? SCEP_DIGEST_SHA1
                                   : SCEP_DIGEST_NONE;
    char have[200], have_plain[130];
    if (digest == SCEP_DIGEST_NONE || scep_cert_fingerprint(cert, digest, have, sizeof(have)))
        return 0;
    normalize_hex(have, have_plain, sizeof(have_plain));
    return CRYPTO_memcmp(want, have_plain, n) == 0;
}
