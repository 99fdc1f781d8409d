#include "ca/ca_create.h"

#include "keys/keys.h"
#include "os/file_atomic.h"
#include "scep/scep.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

X509_NAME *ca_parse_name(const char *text)
{
    X509_NAME *name = NULL;
    return scep_name_parse(text, &name) == SCEP_OK ? name : NULL;
}

static int set_serial(X509 *cert)
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof(b)) != 1)
        return 0;
    b[0] = (unsigned char)((b[0] & 0x7f) | 0x01);
    BIGNUM *bn = BN_bin2bn(b, sizeof(b), NULL);
    int ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != NULL;
    BN_free(bn);
    return ok;
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
    int ok = ext && X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok;
}

static X509 *new_cert(EVP_PKEY *key, const X509_NAME *subject, const X509_NAME *issuer, int days)
{
    X509 *cert = X509_new();
    if (cert == NULL || !X509_set_version(cert, X509_VERSION_3) || !set_serial(cert) ||
        !X509_set_subject_name(cert, subject) || !X509_set_issuer_name(cert, issuer) ||
        !X509_gmtime_adj(X509_getm_notBefore(cert), -300) ||
        !X509_time_adj_ex(X509_getm_notAfter(cert), days, 0, NULL) || !X509_set_pubkey(cert, key)) {
        X509_free(cert);
        return NULL;
    }
    return cert;
}

X509 *ca_create_root(EVP_PKEY *key, const X509_NAME *subject, int days)
{
    X509 *cert = new_cert(key, subject, subject, days);
    if (cert == NULL)
        return NULL;
    if (!add_ext(cert, cert, NID_basic_constraints, "critical,CA:TRUE") ||
        !add_ext(cert, cert, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature") ||
        !add_ext(cert, cert, NID_subject_key_identifier, "hash") ||
        X509_sign(cert, key, EVP_sha256()) <= 0) {
        X509_free(cert);
        return NULL;
    }
    return cert;
}

static X509 *create_ra(X509 *ca_cert, EVP_PKEY *ca_key, EVP_PKEY *ra_key, const X509_NAME *subject,
                       int days, const char *key_usage)
{
    X509 *cert = new_cert(ra_key, subject, X509_get_subject_name(ca_cert), days);
    if (cert == NULL)
        return NULL;
    if (ASN1_TIME_compare(X509_get0_notAfter(cert), X509_get0_notAfter(ca_cert)) > 0)
        X509_set1_notAfter(cert, X509_get0_notAfter(ca_cert));
    if (!add_ext(cert, ca_cert, NID_basic_constraints, "critical,CA:FALSE") ||
        !add_ext(cert, ca_cert, NID_key_usage, key_usage) ||
        !add_ext(cert, ca_cert, NID_subject_key_identifier, "hash") ||
        !add_ext(cert, ca_cert, NID_authority_key_identifier, "keyid:always") ||
        X509_sign(cert, ca_key, EVP_sha256()) <= 0) {
        X509_free(cert);
        return NULL;
    }
    return cert;
}

X509 *ca_create_ra(X509 *ca_cert, EVP_PKEY *ca_key, EVP_PKEY *ra_key, const X509_NAME *subject,
                   int days)
{
    return create_ra(ca_cert, ca_key, ra_key, subject, days,
                     "critical,digitalSignature,keyEncipherment");
}

X509 *ca_create_ra_sign(X509 *ca_cert, EVP_PKEY *ca_key, EVP_PKEY *key, const X509_NAME *subject,
                        int days)
{
    return create_ra(ca_cert, ca_key, key, subject, days, "critical,digitalSignature");
}

/* Writes what PEM put in mem to path (mode 0644; FILE_KEEP: never over an existing file). */
static int write_pem(const char *path, BIO *mem, int ok, char *err, size_t errlen)
{
    char *data = NULL;
    long len = mem ? BIO_get_mem_data(mem, &data) : 0;
    int rc = -1;
    if (!ok || mem == NULL || len <= 0)
        snprintf(err, errlen, "%s: cannot write the certificate", path);
    else
        rc = file_write_atomic(path, data, (size_t)len, 0644, FILE_KEEP, err, errlen);
    BIO_free(mem);
    return rc;
}

int ca_write_key_pass(const char *path, EVP_PKEY *key, const char *pass, char *err, size_t errlen)
{
    keystore *ks = keys_open(path, err, errlen);
    int rc = ks ? ks->save(ks, key, path, pass, err, errlen) : -1;
    if (ks != NULL)
        ks->destroy(ks);
    return rc;
}

int ca_write_key(const char *path, EVP_PKEY *key, char *err, size_t errlen)
{
    return ca_write_key_pass(path, key, NULL, err, errlen);
}

int ca_write_certs(const char *path, STACK_OF(X509) * certs, int from, char *err, size_t errlen)
{
    BIO *mem = BIO_new(BIO_s_mem());
    int ok = mem != NULL;
    for (int i = from; ok && i < sk_X509_num(certs); i++)
        ok = PEM_write_bio_X509(mem, sk_X509_value(certs, i)) == 1;
    return write_pem(path, mem, ok, err, errlen);
}

int ca_write_cert(const char *path, X509 *cert, char *err, size_t errlen)
{
    STACK_OF(X509) *one = sk_X509_new_null();
    if (one == NULL || !sk_X509_push(one, cert)) {
        sk_X509_free(one);
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    int rc = ca_write_certs(path, one, 0, err, errlen);
    sk_X509_free(one);
    return rc;
}
