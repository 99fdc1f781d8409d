#include "ca_create.h"

#include "scep/scep.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

EVP_PKEY *ca_generate_key(const char *spec)
{
    if (strcmp(spec, "rsa:2048") == 0 || strcmp(spec, "rsa:3072") == 0 ||
        strcmp(spec, "rsa:4096") == 0)
        return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)strtoul(spec + 4, NULL, 10));
    if (strcmp(spec, "ec:P-256") == 0 || strcmp(spec, "ec:P-384") == 0)
        return EVP_PKEY_Q_keygen(NULL, NULL, "EC", spec + 3);
    return NULL;
}

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

X509 *ca_create_ra(X509 *ca_cert, EVP_PKEY *ca_key, EVP_PKEY *ra_key, const X509_NAME *subject,
                   int days)
{
    X509 *cert = new_cert(ra_key, subject, X509_get_subject_name(ca_cert), days);
    if (cert == NULL)
        return NULL;
    if (ASN1_TIME_compare(X509_get0_notAfter(cert), X509_get0_notAfter(ca_cert)) > 0)
        X509_set1_notAfter(cert, X509_get0_notAfter(ca_cert));
    if (!add_ext(cert, ca_cert, NID_basic_constraints, "critical,CA:FALSE") ||
        !add_ext(cert, ca_cert, NID_key_usage, "critical,digitalSignature,keyEncipherment") ||
        !add_ext(cert, ca_cert, NID_subject_key_identifier, "hash") ||
        !add_ext(cert, ca_cert, NID_authority_key_identifier, "keyid:always") ||
        X509_sign(cert, ca_key, EVP_sha256()) <= 0) {
        X509_free(cert);
        return NULL;
    }
    return cert;
}

static FILE *create_file(const char *path, mode_t mode, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    /* The umask may have narrowed the mode; keys must be exactly 0600. */
    if (fchmod(fd, mode) != 0) {
        close(fd);
        return NULL;
    }
    return fdopen(fd, "w");
}

int ca_write_key(const char *path, EVP_PKEY *key, char *err, size_t errlen)
{
    FILE *f = create_file(path, 0600, err, errlen);
    if (f == NULL)
        return -1;
    int ok = PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) == 1;
    if (fclose(f) != 0 || !ok) {
        snprintf(err, errlen, "%s: cannot write the key", path);
        return -1;
    }
    return 0;
}

int ca_write_cert(const char *path, X509 *cert, char *err, size_t errlen)
{
    FILE *f = create_file(path, 0644, err, errlen);
    if (f == NULL)
        return -1;
    int ok = PEM_write_X509(f, cert) == 1;
    if (fclose(f) != 0 || !ok) {
        snprintf(err, errlen, "%s: cannot write the certificate", path);
        return -1;
    }
    return 0;
}
