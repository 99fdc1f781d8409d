/* The CA engine: the CA (and RA) material, and certificates issued from approved CSRs. */
#ifndef SCEPD_CA_H
#define SCEPD_CA_H

#include <stddef.h>

#include <openssl/x509.h>

#include "config.h"
#include "store.h"

typedef struct authority {
    X509 *cert;
    EVP_PKEY *key;
    X509 *ra_cert; /* NULL in CA mode */
    EVP_PKEY *ra_key;
    STACK_OF(X509) * chain; /* CA certificate, then any intermediates above it */
} authority;

/* Loads the CA (and RA) certificates and keys the config names, by path or OSSL_STORE URI. */
int ca_load(authority *ca, const config *c, char *err, size_t errlen);
void ca_free(authority *ca);

/* The certificate that signs CertReps: the RA in RA mode, else the CA. */
X509 *ca_reply_cert(const authority *ca);
EVP_PKEY *ca_reply_key(const authority *ca);

/* Loading single objects through OSSL_STORE (a path or a URI such as file:... or pkcs11:...). */
EVP_PKEY *ca_load_key(const char *uri, char *err, size_t errlen);
X509 *ca_load_cert(const char *uri, char *err, size_t errlen);
STACK_OF(X509) * ca_load_certs(const char *uri, char *err, size_t errlen);

/*
 * Issues a certificate for an approved CSR under the profile in c: random positive 16-byte
 * serial, subject from the CSR, notAfter capped at the CA's, SAN/keyUsage/extendedKeyUsage
 * copied where the profile allows, defaults otherwise, SKI/AKI, basicConstraints CA:FALSE.
 * Returns NULL with a reason in err.
 */
X509 *ca_issue(const authority *ca, X509_REQ *csr, const config *c, char *err, size_t errlen);

/* The store's record of cert (without its DER): serial, names, key, validity, state VALID. */
void ca_fill_record(X509 *cert, const char *key_id, const char *transaction_id, store_cert *rec);
/* Seconds since the epoch of an ASN1_TIME (0 when unreadable). */
int64_t ca_unix_time(const ASN1_TIME *t);

/*
 * A CRL of every revoked certificate in the store, numbered `number`, valid from now to
 * next_update (Unix seconds), signed by the CA. NULL with a reason in err.
 */
X509_CRL *ca_make_crl(const authority *ca, store *st, int64_t number, int64_t now,
                      int64_t next_update, char *err, size_t errlen);

/* Hex of a certificate's serial (upper case), for the store. */
void ca_serial_hex(const X509 *cert, char *buf, size_t buflen);
/* SHA-256 of a public key's SubjectPublicKeyInfo, hex, for matching transactions to keys. */
int ca_key_id(const EVP_PKEY *key, char *buf, size_t buflen);
/* RFC 2253 text of a name, for the store and logs. */
void ca_name_text(const X509_NAME *name, char *buf, size_t buflen);

#endif
