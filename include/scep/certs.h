/*
 * Certificates around SCEP: degenerate certs-only SignedData (GetCACert in RA mode, the
 * CertRep payload, GetCACertChain), the GetNextCACert payload, and helpers a client needs
 * (self-signed signer, CSR, transactionID, fingerprints).
 */
#ifndef SCEP_CERTS_H
#define SCEP_CERTS_H

#include "scep/scep.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Encodes a degenerate certs-only SignedData (no signers, no content) in DER. certs may be
 * NULL or empty when crls is not; the order is kept, so put the leaf (the issued cert) first.
 * crls may be NULL. Caller frees *out with OPENSSL_free().
 */
SCEP_WUR scep_err scep_certs_only_encode(const scep_ctx *ctx, STACK_OF(X509) * certs,
                                         STACK_OF(X509_CRL) * crls, unsigned char **out,
                                         size_t *out_len);

/*
 * Decodes a degenerate certs-only SignedData (DER or BER, at most SCEP_MAX_PAYLOAD_BYTES,
 * no trailing bytes). Either out-list may be NULL if the caller does not want it; lists are
 * always returned (possibly empty). Caller frees with sk_X509_pop_free(certs, X509_free) and
 * sk_X509_CRL_pop_free(crls, X509_CRL_free).
 */
SCEP_WUR scep_err scep_certs_only_decode(const scep_ctx *ctx, const unsigned char *der, size_t len,
                                         STACK_OF(X509) * *certs, STACK_OF(X509_CRL) * *crls);

/*
 * Finds the leaf among certs: the certificate that issued no other certificate in the list.
 * With pubkey set, the leaf must hold that public key (a CertRep answers one key). Returns a
 * borrowed pointer, or NULL when there is no single such certificate.
 */
X509 *scep_certs_find_leaf(STACK_OF(X509) * certs, const EVP_PKEY *pubkey);

/*
 * Splits GetCACert certificates into roles (RFC 8894 sections 2.2 and 3.5.2, INTEROP.md). A
 * link "A issued B" is a name and key-identifier match whose signature verifies; duplicates are
 * ignored. The CA is the issuing CA: the lowest CA certificate, the one that issued no other CA
 * certificate of the list (never the root of [intermediate, root], in either order), or the
 * only certificate. With several separate chains, the one whose lowest CA issued an RA
 * certificate; otherwise, and for cycles or no CA at all, SCEP_E_BAD_CERT_ID. The RA
 * encryption certificate is a non-CA one with keyEncipherment (or no keyUsage) issued by the
 * CA or a CA above it (else the CA); the RA signing certificate is such a one with
 * digitalSignature (else the encryption one). More than SCEP_MAX_CERTS: SCEP_E_TOO_LARGE. All
 * three are borrowed from certs; *ca may equal *ra_enc. The _diag form says why it failed.
 */
SCEP_WUR scep_err scep_certs_roles(STACK_OF(X509) * certs, X509 **ca, X509 **ra_enc,
                                   X509 **ra_sign);
SCEP_WUR scep_err scep_certs_roles_diag(STACK_OF(X509) * certs, X509 **ca, X509 **ra_enc,
                                        X509 **ra_sign, scep_diag *diag);

/*
 * Whether fingerprint (as scep_cert_fingerprint_matches() reads it) is that of ca or of a CA
 * certificate of certs above it in a verified chain: a client may pin the root of
 * [intermediate, root] while it encrypts to the intermediate.
 */
int scep_certs_chain_fingerprint_matches(STACK_OF(X509) * certs, X509 *ca, const char *fingerprint);

/*
 * GetNextCACert payload: SignedData signed by the current CA (or its RA) over a certs-only
 * message with next_certs, the next CA (and next RA) certificates. The outer SignedData carries
 * next_certs too, in that order and before the signer's certificate, for clients that read
 * them there (jscep). Caller frees *out with OPENSSL_free().
 */
SCEP_WUR scep_err scep_next_ca_encode(const scep_ctx *ctx, X509 *signer_cert, EVP_PKEY *signer_key,
                                      scep_digest digest, STACK_OF(X509) * next_certs,
                                      unsigned char **out, size_t *out_len);

/*
 * Verifies the payload's signature by current_ca (or a certificate current_ca issued and that
 * the message carries) and returns the next CA certificates. Caller frees *next_certs with
 * sk_X509_pop_free(certs, X509_free).
 */
SCEP_WUR scep_err scep_next_ca_decode(const scep_ctx *ctx, const unsigned char *der, size_t len,
                                      X509 *current_ca, STACK_OF(X509) * *next_certs,
                                      scep_diag *diag);

/*
 * A self-signed certificate for the signer of an initial enrollment (RFC 8894 section 2.3):
 * subject = issuer = subject (may be NULL for "CN=SCEP SIGNER"), random serial, valid from
 * one hour ago for days, keyUsage digitalSignature + keyEncipherment (critical), signed with
 * digest. Caller frees *out with X509_free().
 */
SCEP_WUR scep_err scep_selfsigned_signer(const scep_ctx *ctx, EVP_PKEY *key,
                                         const X509_NAME *subject, int days, scep_digest digest,
                                         X509 **out);

/*
 * Parses a distinguished name as users write it. "CN=Example CA,O=Example" is RFC 4514 text:
 * most specific first, so the DER lists O, then CN (what scep_name_text() prints back).
 * "/O=Example/CN=Example CA" (openssl's -subj form) lists the RDNs in DER order. In both,
 * '+' joins attributes into one multi-valued RDN ("CN=a+UID=7,O=Example") and a backslash
 * escapes the next character or gives a byte as two hex digits ("CN=a\,b", "CN=M\C3\BCller").
 * Caller frees *out with X509_NAME_free(). SCEP_E_INVALID_ARG when malformed or an attribute
 * type is unknown.
 */
SCEP_WUR scep_err scep_name_parse(const char *text, X509_NAME **out);

/*
 * Writes name as RFC 4514 text into buf, exactly as `openssl x509 -nameopt RFC2253` prints
 * it: most specific RDN first (the last one in the DER), "+" inside a multi-valued RDN,
 * special characters and non-ASCII bytes escaped. buf always ends up NUL-terminated:
 * SCEP_E_TOO_LARGE when the text does not fit (buf holds its start), empty on other errors.
 */
scep_err scep_name_text(const X509_NAME *name, char *buf, size_t buflen);

/* What a client puts in its CSR. All pointer fields may be NULL. */
typedef struct scep_csr_params {
    const X509_NAME *subject;
    /* Comma-separated SAN entries: "dns:host.example,ip:192.0.2.1,email:a@b,uri:https://x". */
    const char *san;
    const char *challenge_password;
    /* 0, or a mask of X509v3 KU_* bits for a keyUsage extension request. */
    unsigned key_usage;
    scep_digest digest;
} scep_csr_params;

/* Builds and signs a PKCS#10 request. Caller frees *out with X509_REQ_free(). */
SCEP_WUR scep_err scep_csr_build(const scep_ctx *ctx, EVP_PKEY *key, const scep_csr_params *p,
                                 X509_REQ **out);

/*
 * Copies the challengePassword attribute of a CSR into buf (NUL-terminated). Returns
 * SCEP_E_MISSING_ATTR when there is none, SCEP_E_BAD_CSR when it is malformed or does not fit.
 * The caller wipes buf with OPENSSL_cleanse() when done.
 */
SCEP_WUR scep_err scep_csr_challenge_password(const X509_REQ *csr, char *buf, size_t buflen);

/*
 * transactionID for a key (RFC 8894 section 3.2.1.1): upper-case hex of the digest of the
 * DER SubjectPublicKeyInfo. buf must hold 2 * digest size + 1 bytes (129 suffices).
 */
SCEP_WUR scep_err scep_transaction_id(const scep_ctx *ctx, const EVP_PKEY *key, scep_digest digest,
                                      char *buf, size_t buflen);

/*
 * Fingerprint of a certificate's DER as colon-separated upper-case hex ("AB:CD:..."), the form
 * openssl x509 -fingerprint prints. digest is SHA-256, SHA-1 or MD5 (MD5 is allowed here for
 * display even without legacy: older devices show it). buf must hold 3 * size bytes (192).
 */
SCEP_WUR scep_err scep_cert_fingerprint(const X509 *cert, scep_digest digest, char *buf,
                                        size_t buflen);

/*
 * Compares a fingerprint given by a user (hex, with or without colons or spaces, any case)
 * with the certificate's SHA-256 or SHA-1 fingerprint, chosen by its length. Returns 1 on
 * match, 0 otherwise (including malformed input).
 */
int scep_cert_fingerprint_matches(const X509 *cert, const char *fingerprint);

#ifdef __cplusplus
}
#endif

#endif
