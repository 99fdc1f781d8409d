/* Building and signing a CRL from the store's revoked certificates. */
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"

typedef struct crl_build {
    X509_CRL *crl;
    X509 *issuer; /* only certificates this generation of the CA issued */
    int failed;
} crl_build;

/* Whether the DER certificate c was signed by issuer (the generations share a name). */
static int issued_by(X509 *issuer, const store_cert *c)
{
    const unsigned char *p = c->der;
    X509 *cert = d2i_X509(NULL, &p, (long)c->der_len);
    int ok = cert != NULL && X509_verify(cert, X509_get0_pubkey(issuer)) == 1;
    X509_free(cert);
    ERR_clear_error();
    return ok;
}

static int add_reason(X509_REVOKED *rev, int reason)
{
    if (reason <= 0) /* unspecified: RFC 5280 says leave the extension out */
        return 1;
    ASN1_ENUMERATED *code = ASN1_ENUMERATED_new();
    int ok = code && ASN1_ENUMERATED_set(code, reason) &&
             X509_REVOKED_add1_ext_i2d(rev, NID_crl_reason, code, 0, 0) == 1;
    ASN1_ENUMERATED_free(code);
    return ok;
}

static int add_revoked(void *arg, const store_cert *c)
{
    crl_build *b = arg;
    if (!issued_by(b->issuer, c))
        return 0;
    X509_REVOKED *rev = X509_REVOKED_new();
    BIGNUM *bn = NULL;
    ASN1_INTEGER *serial = NULL;
    ASN1_TIME *when = ASN1_TIME_set(NULL, (time_t)c->revoked_at);
    int ok = rev && when && BN_hex2bn(&bn, c->serial) > 0 &&
             (serial = BN_to_ASN1_INTEGER(bn, NULL)) != NULL &&
             X509_REVOKED_set_serialNumber(rev, serial) &&
             X509_REVOKED_set_revocationDate(rev, when) && add_reason(rev, c->revocation_reason) &&
             X509_CRL_add0_revoked(b->crl, rev);
    if (!ok) {
        X509_REVOKED_free(rev);
        b->failed = 1;
    }
    ASN1_INTEGER_free(serial);
    ASN1_TIME_free(when);
    BN_free(bn);
    return ok ? 0 : 1;
}

static int add_crl_extensions(X509_CRL *crl, const authority *ca, int64_t number)
{
    ASN1_INTEGER *n = ASN1_INTEGER_new();
    int ok = n && ASN1_INTEGER_set_int64(n, number) &&
             X509_CRL_add1_ext_i2d(crl, NID_crl_number, n, 0, 0) == 1;
    ASN1_INTEGER_free(n);
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, ca->cert, NULL, NULL, crl, 0);
    X509_EXTENSION *aki =
        X509V3_EXT_conf_nid(NULL, &v3, NID_authority_key_identifier, "keyid:always");
    ok = ok && aki && X509_CRL_add_ext(crl, aki, -1);
    X509_EXTENSION_free(aki);
    return ok;
}

X509_CRL *ca_make_crl(const authority *ca, store *st, int64_t number, int64_t now,
                      int64_t next_update, char *err, size_t errlen)
{
    crl_build b = {X509_CRL_new(), ca->cert, 0};
    ASN1_TIME *last = ASN1_TIME_set(NULL, (time_t)now);
    ASN1_TIME *next = ASN1_TIME_set(NULL, (time_t)next_update);
    cert_filter f = {.only_revoked = 1};
    int ok = b.crl && last && next && X509_CRL_set_version(b.crl, X509_CRL_VERSION_2) &&
             X509_CRL_set_issuer_name(b.crl, X509_get_subject_name(ca->cert)) &&
             X509_CRL_set1_lastUpdate(b.crl, last) && X509_CRL_set1_nextUpdate(b.crl, next);
    if (ok && st->ops->cert_list(st, &f, add_revoked, &b) != STORE_OK) {
        snprintf(err, errlen, "cannot read revoked certificates: %s", st->ops->last_error(st));
        ok = 0;
    }
    ok = ok && !b.failed && X509_CRL_sort(b.crl) && add_crl_extensions(b.crl, ca, number) &&
         X509_CRL_sign(b.crl, ca->key, EVP_sha256()) > 0;
    ASN1_TIME_free(last);
    ASN1_TIME_free(next);
    if (!ok) {
        if (err[0] == '\0')
            snprintf(err, errlen, "cannot build or sign the CRL");
        X509_CRL_free(b.crl);
        return NULL;
    }
    return b.crl;
}
