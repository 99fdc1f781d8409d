/* Making a CA: the self-signed root, the RA certificate, and writing them safely. */
#ifndef SCEPD_CA_CREATE_H
#define SCEPD_CA_CREATE_H

#include <stddef.h>

#include <openssl/x509.h>

/* A distinguished name from text (scep_name_parse); NULL when malformed. */
X509_NAME *ca_parse_name(const char *text);

/* A self-signed CA certificate. */
X509 *ca_create_root(EVP_PKEY *key, const X509_NAME *subject, int days);
/* An RA certificate issued by the CA: keyUsage digitalSignature + keyEncipherment, valid for
 * days but never past the CA. */
X509 *ca_create_ra(X509 *ca_cert, EVP_PKEY *ca_key, EVP_PKEY *ra_key, const X509_NAME *subject,
                   int days);
/* The same for an RA signing certificate: keyUsage digitalSignature only (its key may be EC:
 * nobody encrypts to it). */
X509 *ca_create_ra_sign(X509 *ca_cert, EVP_PKEY *ca_key, EVP_PKEY *key, const X509_NAME *subject,
                        int days);

/* Writes a private key as unencrypted PKCS#8 PEM with mode 0600, durably (file_write_atomic,
 * refusing to overwrite), through the key seam (keystore save). */
int ca_write_key(const char *path, EVP_PKEY *key, char *err, size_t errlen);
/* The same, encrypted with pass (AES-256-CBC, PBKDF2) unless pass is NULL. */
int ca_write_key_pass(const char *path, EVP_PKEY *key, const char *pass, char *err, size_t errlen);
/* Writes a certificate as PEM (mode 0644, refusing to overwrite). */
int ca_write_cert(const char *path, X509 *cert, char *err, size_t errlen);
/* Writes certs[from...] as PEM, the same way. */
int ca_write_certs(const char *path, STACK_OF(X509) * certs, int from, char *err, size_t errlen);

#endif
