/* Degenerate certs-only SignedData (RFC 8894 section 3.4), and finding the leaf in it. */
#include <openssl/pkcs7.h>
#include <openssl/x509v3.h>

#include "internal.h"

/*
 * Built with the PKCS#7 API rather than CMS: its certificate list is a SEQUENCE OF in OpenSSL's
 * template, so the order we give survives encoding (CMS sorts the SET OF), and clients that
 * take the first certificate as theirs get the issued one. Peers decode it as CMS either way.
 */
static scep_err fill_degenerate(PKCS7 *p7, STACK_OF(X509) * certs, STACK_OF(X509_CRL) * crls)
{
    if (!PKCS7_set_type(p7, NID_pkcs7_signed) || !PKCS7_content_new(p7, NID_pkcs7_data))
        return SCEP_E_INTERNAL;
    /* No content at all: the encapsulated id-data carries no OCTET STRING. */
    PKCS7 *inner = p7->d.sign->contents;
    ASN1_OCTET_STRING_free(inner->d.data);
    inner->d.data = NULL;
    for (int i = 0; i < sk_X509_num(certs); i++)
        if (!PKCS7_add_certificate(p7, sk_X509_value(certs, i)))
            return SCEP_E_INTERNAL;
    for (int i = 0; i < sk_X509_CRL_num(crls); i++)
        if (!PKCS7_add_crl(p7, sk_X509_CRL_value(crls, i)))
            return SCEP_E_INTERNAL;
    return SCEP_OK;
}

scep_err scep_certs_only_encode(const scep_ctx *ctx, STACK_OF(X509) * certs,
                                STACK_OF(X509_CRL) * crls, unsigned char **out, size_t *out_len)
{
    if (out == NULL || out_len == NULL)
        return SCEP_E_INVALID_ARG;
    *out = NULL;
    *out_len = 0;
    if (sk_X509_num(certs) <= 0 && sk_X509_CRL_num(crls) <= 0)
        return SCEP_E_INVALID_ARG;
    PKCS7 *p7 = PKCS7_new_ex(scep_ctx_libctx(ctx), NULL);
    if (p7 == NULL)
        return SCEP_E_NOMEM;
    scep_err err = fill_degenerate(p7, certs, crls);
    unsigned char *der = NULL;
    int n = err == SCEP_OK ? i2d_PKCS7(p7, &der) : 0;
    PKCS7_free(p7);
    if (err == SCEP_OK && n <= 0)
        err = SCEP_E_INTERNAL;
    if (err == SCEP_OK) {
        *out = der;
        *out_len = (size_t)n;
    }
    return err;
}

scep_err scep_certs_only_decode(const scep_ctx *ctx, const unsigned char *der, size_t len,
                                STACK_OF(X509) * *certs, STACK_OF(X509_CRL) * *crls)
{
    if (certs != NULL)
        *certs = NULL;
    if (crls != NULL)
        *crls = NULL;
    CMS_ContentInfo *cms = NULL;
    scep_err err = scepi_cms_d2i(ctx, der, len, SCEP_MAX_PAYLOAD_BYTES, &cms, NULL);
    if (err != SCEP_OK)
        return err;
    STACK_OF(X509) *c = NULL;
    STACK_OF(X509_CRL) *r = NULL;
    if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed) {
        err = SCEP_E_NOT_SIGNED_DATA;
        goto out;
    }
    /* CMS_get1_* return NULL for "none"; callers get an empty list instead. */
    c = CMS_get1_certs(cms);
    r = CMS_get1_crls(cms);
    if (c == NULL)
        c = sk_X509_new_null();
    if (r == NULL)
        r = sk_X509_CRL_new_null();
    if (c == NULL || r == NULL) {
        err = SCEP_E_NOMEM;
        goto out;
    }
    if (sk_X509_num(c) > SCEP_MAX_CERTS || sk_X509_CRL_num(r) > SCEP_MAX_CERTS) {
        err = SCEP_E_TOO_LARGE;
        goto out;
    }
    if (certs != NULL) {
        *certs = c;
        c = NULL;
    }
    if (crls != NULL) {
        *crls = r;
        r = NULL;
    }
out:
    sk_X509_pop_free(c, X509_free);
    sk_X509_CRL_pop_free(r, X509_CRL_free);
    CMS_ContentInfo_free(cms);
    return err;
}

/* Whether cert issued another certificate of the list. */
static int issued_another(X509 *cert, STACK_OF(X509) * certs)
{
    for (int i = 0; i < sk_X509_num(certs); i++) {
        X509 *other = sk_X509_value(certs, i);
        if (other != cert && X509_cmp(other, cert) != 0 &&
            X509_check_issued(cert, other) == X509_V_OK)
            return 1;
    }
    return 0;
}

X509 *scep_certs_find_leaf(STACK_OF(X509) * certs, const EVP_PKEY *pubkey)
{
    X509 *found = NULL;
    int matches = 0;
    for (int i = 0; i < sk_X509_num(certs); i++) {
        X509 *cert = sk_X509_value(certs, i);
        int fits = pubkey ? EVP_PKEY_eq(X509_get0_pubkey(cert), pubkey) == 1
                          : !issued_another(cert, certs);
        if (fits) {
            found = cert;
            matches++;
        }
    }
    return matches == 1 ? found : NULL;
}
