/*
 * Decoding a SignedData whose certificates carry RSA keys, without OpenSSL 3.0's decoder chain.
 *
 * d2i of a certificate opportunistically decodes its public key through OSSL_DECODER, which in
 * OpenSSL 3.0 builds a chain over every decoder of every provider on each call: about 130 us of
 * the server's CPU per request for the signer certificate alone, more than any other non-RSA
 * step. Here the certificates are parsed in a context where that decode finds nothing, and each
 * RSA key is read with d2i_PublicKey (OpenSSL's own RSAPublicKey codec, no decoder chain) and
 * attached with X509_set_pubkey. The certificate is kept only if OpenSSL encodes that key back
 * to the SubjectPublicKeyInfo it holds and the certificate to the bytes it was parsed from, so
 * signatures over it and fingerprints of it are unchanged; any other certificate (another key
 * type, parameters written differently) sends the whole message down the ordinary path.
 */
#include <limits.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "internal.h"

/* Certificates a SCEP SignedData carries: the signer, at most a chain. More go the usual way. */
#define FAST_MAX_CERTS 8

/* Whether x encodes (with i2d) to want. */
static int encodes_to(const void *x, int (*i2d)(const void *, unsigned char **),
                      const unsigned char *want, int want_len)
{
    unsigned char *der = NULL;
    int len = i2d(x, &der);
    int same = len > 0 && len == want_len && memcmp(der, want, (size_t)len) == 0;
    OPENSSL_free(der);
    return same;
}

static int i2d_spki(const void *x, unsigned char **out)
{
    return i2d_X509_PUBKEY(x, out);
}

static int i2d_cert(const void *x, unsigned char **out)
{
    return i2d_X509(x, out);
}

/* Attaches cert's RSA key when OpenSSL encodes the key back to the SubjectPublicKeyInfo the
 * certificate holds, and the certificate still encodes to the bytes it was parsed from. */
static int attach_rsa_key(X509 *cert)
{
    ASN1_OBJECT *alg = NULL;
    const unsigned char *bits = NULL;
    int bits_len = 0;
    X509_PUBKEY *spki = X509_get_X509_PUBKEY(cert);
    if (spki == NULL || !X509_PUBKEY_get0_param(&alg, &bits, &bits_len, NULL, spki) ||
        OBJ_obj2nid(alg) != NID_rsaEncryption || bits_len <= 0)
        return 0;
    const unsigned char *p = bits;
    EVP_PKEY *key = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, bits_len);
    int whole_key = key != NULL && p == bits + bits_len;
    unsigned char *spki_der = NULL, *cert_der = NULL;
    int spki_len = whole_key ? i2d_X509_PUBKEY(spki, &spki_der) : 0;
    int cert_len = spki_len > 0 ? i2d_X509(cert, &cert_der) : 0;
    /* From here the old SubjectPublicKeyInfo (and bits) is gone. */
    int ok = cert_len > 0 && X509_set_pubkey(cert, key) == 1;
    ok = ok && encodes_to(X509_get_X509_PUBKEY(cert), i2d_spki, spki_der, spki_len) &&
         encodes_to(cert, i2d_cert, cert_der, cert_len);
    OPENSSL_free(spki_der);
    OPENSSL_free(cert_der);
    EVP_PKEY_free(key);
    return ok;
}

static int attach_all(CMS_ContentInfo *cms)
{
    STACK_OF(X509) *certs = CMS_get1_certs(cms);
    int n = sk_X509_num(certs);
    int ok = n <= FAST_MAX_CERTS;
    for (int i = 0; ok && i < n; i++)
        ok = attach_rsa_key(sk_X509_value(certs, i));
    sk_X509_pop_free(certs, X509_free);
    return ok;
}

/* NULL when the message needs the ordinary path (which also explains any error). */
static CMS_ContentInfo *fast_d2i(const scep_ctx *ctx, const unsigned char *der, size_t len,
                                 size_t max)
{
    /* d2i_CMS_ContentInfo() also hands the CMS's library context to its certificates and
     * SignerInfos; ASN1_item_d2i_ex() leaves them at NULL, OpenSSL's default context. That is
     * the same only when ctx uses the default context: any other takes the ordinary path. */
    if (ctx == NULL || ctx->libctx != NULL || ctx->keyless_libctx == NULL || der == NULL ||
        len == 0 || len > max || len > LONG_MAX)
        return NULL;
    const unsigned char *p = der;
    ERR_set_mark();
    CMS_ContentInfo *cms = (CMS_ContentInfo *)ASN1_item_d2i_ex(
        NULL, &p, (long)len, ASN1_ITEM_rptr(CMS_ContentInfo), ctx->keyless_libctx, NULL);
    if (cms != NULL && ((size_t)(p - der) != len || !attach_all(cms))) {
        CMS_ContentInfo_free(cms);
        cms = NULL;
    }
    ERR_pop_to_mark();
    return cms;
}

scep_err scepi_signed_d2i(const scep_ctx *ctx, const unsigned char *der, size_t len, size_t max,
                          CMS_ContentInfo **out, scep_diag *diag)
{
    *out = fast_d2i(ctx, der, len, max);
    return *out != NULL ? SCEP_OK : scepi_cms_d2i(ctx, der, len, max, out, diag);
}
