/* Making a CA: keys, the self-signed root, the RA certificate, and writing them safely. */
#ifndef SCEPD_CA_CREATE_H
#define SCEPD_CA_CREATE_H

#include <stddef.h>

#include <openssl/x509.h>

/* "rsa:2048", "rsa:3072", "rsa:4096", "ec:P-256", "ec:P-384". NULL when unknown. */
EVP_PKEY *ca_generate_key(const char *spec);

/* A distinguished name from text (scep_name_parse); NULL when malformed. */
X509_NAME *ca_parse_name(const char *text);

/* A self-signed CA certificate. */
X509 *ca_create_root(EVP_PKEY *key, const X509_NAME *subject, int days);
/* An RA certificate issued by the CA: keyUsage digitalSignature + keyEncipherment, valid for
 * days but never past the CA. */
X509 *ca_create_ra(X509 *ca_cert, EVP_PKEY *ca_key, EVP_PKEY *ra_key, const X509_NAME *subject,
                   int days);

/* Writes a private key as unencrypted PKCS#8 PEM with mode 0600 (refusing to overwrite). */
int ca_write_key(const char *path, EVP_PKEY *key, char *err, size_t errlen);
/* Writes certificates as PEM (mode 0644, refusing to overwrite). */
int ca_write_cert(const char *path, X509 *cert, char *err, size_t errlen);

#endif
