/* The GetNextCACert payload (RFC 8894 section 4.7): a certs-only message signed by the
 * current CA or its RA. */
#include <openssl/err.h>
#include <openssl/pkcs7.h>

#include "internal.h"

/*
 * Signs inner. The outer certificates carry the next certificates too, before the signer's:
 * jscep takes the next CA and RA from there (the first CA and the first RA it finds), sscep and
 * our client from the inner message. Built with the PKCS#7 API so that this order survives
 * encoding (CMS sorts the SET OF); peers decode it as CMS either way.
 */
static scep_err sign_next(const scep_ctx *ctx, X509 *signer_cert, EVP_PKEY *signer_key,
                          const EVP_MD *md, STACK_OF(X509) * next_certs, const unsigned char *inner,
                          size_t inner_len, unsigned char **out, size_t *out_len)
{
    int flags = PKCS7_PARTIAL | PKCS7_BINARY | PKCS7_NOSMIMECAP;
    PKCS7 *p7 = PKCS7_sign_ex(NULL, NULL, NULL, NULL, flags, scep_ctx_libctx(ctx), NULL);
    BIO *in = BIO_new_mem_buf(inner, (int)inner_len);
    scep_err err = (p7 && in && md) ? SCEP_OK : SCEP_E_INTERNAL;
    for (int i = 0; err == SCEP_OK && i < sk_X509_num(next_certs); i++)
        if (!PKCS7_add_certificate(p7, sk_X509_value(next_certs, i)))
            err = SCEP_E_INTERNAL;
    if (err == SCEP_OK && PKCS7_sign_add_signer(p7, signer_cert, signer_key, md, flags) == NULL)
        err = SCEP_E_INTERNAL;
    if (err == SCEP_OK && PKCS7_final(p7, in, flags) != 1)
        err = SCEP_E_INTERNAL;
    unsigned char *der = NULL;
    int n = err == SCEP_OK ? i2d_PKCS7(p7, &der) : 0;
    if (err == SCEP_OK && n <= 0)
        err = SCEP_E_INTERNAL;
    if (err == SCEP_OK) {
        *out = der;
        *out_len = (size_t)n;
    }
    BIO_free(in);
    PKCS7_free(p7);
    return err;
}

scep_err scep_next_ca_encode(const scep_ctx *ctx, X509 *signer_cert, EVP_PKEY *signer_key,
                             scep_digest digest, STACK_OF(X509) * next_certs, unsigned char **out,
                             size_t *out_len)
{
    if (signer_cert == NULL || signer_key == NULL || out == NULL || out_len == NULL)
        return SCEP_E_INVALID_ARG;
    *out = NULL;
    *out_len = 0;
    unsigned char *inner = NULL;
    size_t inner_len = 0;
    scep_err err = scep_certs_only_encode(ctx, next_certs, NULL, &inner, &inner_len);
    if (err != SCEP_OK)
        return err;
    EVP_MD *md = scepi_md_fetch(ctx, digest);
    err = sign_next(ctx, signer_cert, signer_key, md, next_certs, inner, inner_len, out, out_len);
    EVP_MD_free(md);
    OPENSSL_free(inner);
    return err;
}

scep_err scep_next_ca_decode(const scep_ctx *ctx, const unsigned char *der, size_t len,
                             X509 *current_ca, STACK_OF(X509) * *next_certs, scep_diag *diag)
{
    if (current_ca == NULL || next_certs == NULL)
        return SCEP_E_INVALID_ARG;
    *next_certs = NULL;
    STACK_OF(X509) *trusted = sk_X509_new_null();
    if (trusted == NULL || !sk_X509_push(trusted, current_ca)) {
        sk_X509_free(trusted);
        return SCEP_E_NOMEM;
    }
    /* Same verification as a pkiMessage: one signer, id-data, signature checked, signer
     * trusted; but no SCEP attributes are expected. */
    scep_open_options opts = {.trusted_signers = trusted};
    unsigned char *inner = NULL;
    size_t inner_len = 0;
    scep_err err = scepi_signed_content(ctx, der, len, &opts, &inner, &inner_len, diag);
    sk_X509_free(trusted);
    if (err != SCEP_OK)
        return err;
    STACK_OF(X509) *certs = NULL;
    err = scep_certs_only_decode(ctx, inner, inner_len, &certs, NULL);
    OPENSSL_free(inner);
    if (err == SCEP_OK && sk_X509_num(certs) == 0)
        err = scepi_diag(diag, SCEP_E_BAD_PAYLOAD, "GetNextCACert payload holds no certificate");
    if (err != SCEP_OK) {
        sk_X509_pop_free(certs, X509_free);
        return err;
    }
    *next_certs = certs;
    return SCEP_OK;
}
