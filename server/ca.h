/* The CA engine: the CA (and RA) material, and certificates issued from approved CSRs. */
#ifndef SCEPD_CA_H
#define SCEPD_CA_H

#include <stddef.h>

#include <openssl/x509.h>

#include "config.h"
#include "store.h"

/* One generation of the CA: its certificate and key, and its RA's. */
typedef struct ca_gen {
    X509 *cert;
    EVP_PKEY *key;
    X509 *ra_cert; /* NULL in CA mode */
    EVP_PKEY *ra_key;
} ca_gen;

/*
 * The CA as one era sees it: the current generation (cert, key, ra_*, chain), the next one a
 * rollover prepared (next: empty when none), and the one before the last switch (prev: empty
 * when none), which still verifies renewals of the certificates it issued.
 */
typedef struct authority {
    X509 *cert;
    EVP_PKEY *key;
    X509 *ra_cert; /* NULL in CA mode */
    EVP_PKEY *ra_key;
    STACK_OF(X509) * chain; /* CA certificate, then any intermediates above it */
    ca_gen next;
    ca_gen prev;
} authority;

/* Files of a prepared rollover and of the generation before the last switch, in DIR. */
#define CA_NEXT_CERT "next-ca.pem"
#define CA_NEXT_KEY "next-ca.key"
#define CA_NEXT_RA_CERT "next-ra.pem"
#define CA_NEXT_RA_KEY "next-ra.key"
#define CA_PREV_CERT "prev-ca.pem"
#define CA_PREV_KEY "prev-ca.key"

/* Loads the CA (and RA) certificates and keys the config names, by path or OSSL_STORE URI,
 * and the next and previous generations when their files exist. */
int ca_load(authority *ca, const config *c, char *err, size_t errlen);
void ca_free(authority *ca);
/* ca_load, then the view of the era in force now: after the next generation's notBefore, the
 * switched view (what the server answers with). For the admin commands. */
int ca_load_current(authority *ca, const config *c, char *err, size_t errlen);

/* The view after the switch to the next generation: next becomes current, current becomes
 * prev. References are taken; free *out with ca_free. 0, or -1 when there is no next. */
int ca_switched(const authority *ca, authority *out);

/* Whether cert was issued by a generation of this CA (current, next or previous). */
int ca_issued(const authority *ca, X509 *cert);

/* The certificate that signs CertReps: the RA in RA mode, else the CA. */
X509 *ca_reply_cert(const authority *ca);
EVP_PKEY *ca_reply_key(const authority *ca);

/* Loading single objects through OSSL_STORE (a path or a URI such as file:... or pkcs11:...). */
EVP_PKEY *ca_load_key(const char *uri, char *err, size_t errlen);
X509 *ca_load_cert(const char *uri, char *err, size_t errlen);
STACK_OF(X509) * ca_load_certs(const char *uri, char *err, size_t errlen);

/*
 * Issues a certificate for an approved CSR under the profile in c (the CSR need not carry a
 * decoded key object: its SubjectPublicKeyInfo is copied as it came): random positive 16-byte
 * serial, subject from the CSR, notAfter capped at the CA's, SAN/keyUsage/extendedKeyUsage
 * copied where the profile allows, defaults otherwise, SKI/AKI, basicConstraints CA:FALSE.
 * Returns NULL with a reason in err.
 */
X509 *ca_issue(const authority *ca, X509_REQ *csr, const config *c, char *err, size_t errlen);
/* The same, valid from not_before (Unix seconds; 0: now): a shadow certificate of a rollover. */
X509 *ca_issue_at(const authority *ca, X509_REQ *csr, const config *c, int64_t not_before,
                  char *err, size_t errlen);

/* The store's record of cert (without its DER): serial, names, key, validity, state VALID. */
void ca_fill_record(X509 *cert, const char *key_id, const char *transaction_id, store_cert *rec);
/* Records a CA certificate (a generation) in the store; one already there is fine. 0 or -1. */
int ca_record(store *st, X509 *ca_cert);
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
int ca_key_id(const X509_PUBKEY *key, char *buf, size_t buflen);
/* RFC 2253 text of a name, for the store and logs. */
void ca_name_text(const X509_NAME *name, char *buf, size_t buflen);

#endif
