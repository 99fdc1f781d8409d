/* The CA engine: the CA (and RA) material, and certificates issued from approved CSRs. */
#ifndef SCEPD_CA_H
#define SCEPD_CA_H

#include <stddef.h>

#include <openssl/x509.h>

#include "config/config.h"
#include "store/store.h"

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
    /* The RA signing certificate (ra_sign_cert; NULL: none) and which RA signs CertReps. */
    X509 *ra_sign_cert;
    EVP_PKEY *ra_sign_key;
    reply_signer reply_signer;
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
/* The RA certificate before the last `scepd ra-renew` or rollover switch, and its key. */
#define CA_PREV_RA_CERT "prev-ra.pem"
#define CA_PREV_RA_KEY "prev-ra.key"
/* Where `scepd init --import-ca` keeps the certificates above an imported CA (ca_chain). */
#define CA_CHAIN_FILE "chain.pem"

/* The longest passphrase of a CA key (ca_key_pass_file), with its NUL. */
#define CA_PASS_MAX 1024

/* Loads the CA (and RA) certificates and keys the config names, by path or OSSL_STORE URI,
 * and the next and previous generations when their files exist. The CA keys (current, next,
 * previous) are decrypted with ca_key_pass_file when set; the chain (ca_cert's further
 * certificates, then ca_chain's) must link, each certificate issued by the next. */
int ca_load(authority *ca, const config *c, char *err, size_t errlen);
void ca_free(authority *ca);
/* ca_load, then the view of the era in force now: after the next generation's notBefore, the
 * switched view (what the server answers with). For the admin commands. */
int ca_load_current(authority *ca, const config *c, char *err, size_t errlen);

/* The view after the switch to the next generation: next becomes current, current becomes
 * prev. References are taken; free *out with ca_free. 0, or -1 when there is no next. */
int ca_switched(const authority *ca, authority *out);

/* Whether cert is self-signed (its own issuer, by name and signature). */
int ca_self_signed(X509 *cert);

/* Whether cert was issued by a generation of this CA (current, next or previous). */
int ca_issued(const authority *ca, X509 *cert);

/* The certificate that signs CertReps by default: the RA in RA mode, else the CA. Also the
 * signer of GetNextCACert. */
X509 *ca_reply_cert(const authority *ca);
EVP_PKEY *ca_reply_key(const authority *ca);

/* Whether a CertRep signed with reply_signer `mode` comes from the RA signing certificate
 * (when there is one) for a request whose signer's key is EC (request_ec) or not. */
int ca_signs_with_ra_sign(reply_signer mode, int have_ra_sign, int request_ec);
/* The certificate and key that sign the CertRep to a request signed by request_signer (NULL:
 * not known): ca_reply_cert/key, or the RA signing certificate as reply_signer says. */
void ca_reply_signer(const authority *ca, X509 *request_signer, X509 **cert, EVP_PKEY **key);

/* Loading single objects through OSSL_STORE (a path or a URI such as file:... or pkcs11:...);
 * keys through the key seam (keys/keys.h), which hands out the EVP_PKEY. */
EVP_PKEY *ca_load_key(const char *uri, char *err, size_t errlen);
/* The same for a key that may be encrypted with pass (NULL: none; never a terminal prompt). The
 * reason names uri, and says "wrong passphrase" or that a passphrase is needed. */
EVP_PKEY *ca_load_key_pass(const char *uri, const char *pass, char *err, size_t errlen);
/* Reads a passphrase from path into pass (one trailing newline dropped), refusing a file that
 * group or others may read, or an empty one. 0, or -1 with a reason that names path. */
int ca_read_pass_file(const char *path, char *pass, size_t passlen, char *err, size_t errlen);
/* The passphrase of c's ca_key_pass_file ("" when not set). 0 or -1 as ca_read_pass_file; the
 * caller wipes pass (OPENSSL_cleanse). */
int ca_config_pass(const config *c, char *pass, size_t passlen, char *err, size_t errlen);
/* Whether each certificate of chain after the first is a CA that issued the one before it.
 * 0, or -1 with the broken link in err. */
int ca_check_chain(STACK_OF(X509) * chain, char *err, size_t errlen);
X509 *ca_load_cert(const char *uri, char *err, size_t errlen);
STACK_OF(X509) * ca_load_certs(const char *uri, char *err, size_t errlen);

/*
 * Issues a certificate for an approved CSR under the profile in c (the CSR need not carry a
 * decoded key object: its SubjectPublicKeyInfo is copied as it came): random positive 16-byte
 * serial, subject from the CSR, notAfter capped at the CA's, SAN/keyUsage/extendedKeyUsage
 * copied where the profile allows, defaults otherwise, SKI/AKI, basicConstraints CA:FALSE.
 * Returns NULL with a reason in err, also when the CA is not valid at the certificate's
 * notBefore or would leave it no time (never a notBefore at or after its notAfter).
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
/* Unix seconds as 2026-01-31T12:00:00Z. */
void ca_time_text(int64_t t, char *buf, size_t len);
/* Writes "the WHAT certificate expired at T" (or "is not valid before T") into why and returns
 * -1 when cert is not valid at `at` (Unix seconds); 0 when it is. */
int ca_cert_not_valid(const X509 *cert, const char *what, int64_t at, char *why, size_t len);

/*
 * A CRL of every revoked certificate in the store, numbered `number`, valid from now to
 * next_update (Unix seconds), signed by the CA. NULL with a reason in err.
 */
X509_CRL *ca_make_crl(const authority *ca, store *st, int64_t number, int64_t now,
                      int64_t next_update, char *err, size_t errlen);

/* A serial number as the store keys it (upper-case hex); "" when it does not fit, so that a
 * peer's overlong serial never matches a truncated one. */
void ca_serial_key(const ASN1_INTEGER *serial, char *buf, size_t buflen);
/* ca_serial_key() of a certificate's serial. */
void ca_serial_hex(const X509 *cert, char *buf, size_t buflen);
/* SHA-256 of a public key's SubjectPublicKeyInfo, hex, for matching transactions to keys. */
int ca_key_id(const X509_PUBKEY *key, char *buf, size_t buflen);
/* RFC 4514 text of a name (scep_name_text: most specific first, as openssl prints it with
 * -nameopt RFC2253), for the store and logs; cut to buflen. */
void ca_name_text(const X509_NAME *name, char *buf, size_t buflen);
/* The subjectAltName among exts as OpenSSL prints it ("DNS:a.example, IP Address:10.0.0.1"),
 * for the audit log; empty when there is none. Cut at buflen. */
void ca_sans_text(const STACK_OF(X509_EXTENSION) * exts, char *buf, size_t buflen);

#endif
