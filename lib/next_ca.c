/* The GetNextCACert payload (RFC 8894 section 4.7): a certs-only message signed by the
 * current CA. */
#include <openssl/err.h>

#include "internal.h"

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
    BIO *in = BIO_new_mem_buf(inner, (int)inner_len);
    unsigned int flags = CMS_PARTIAL | CMS_BINARY | CMS_NOSMIMECAP;
    CMS_ContentInfo *cms = CMS_sign_ex(NULL, NULL, NULL, NULL, flags, scep_ctx_libctx(ctx), NULL);
    err = (md && in && cms) ? SCEP_OK : SCEP_E_INTERNAL;
    if (err == SCEP_OK && CMS_add1_signer(cms, signer_cert, signer_key, md, flags) == NULL)
        err = SCEP_E_INTERNAL;
    if (err == SCEP_OK && CMS_final(cms, in, NULL, CMS_BINARY) != 1)
        err = SCEP_E_INTERNAL;
    if (err == SCEP_OK)
        err = scepi_cms_i2d(cms, out, out_len);
    CMS_ContentInfo_free(cms);
    BIO_free(in);
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
