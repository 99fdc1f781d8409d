/*
 * pkiMessages (RFC 8894 section 3): a CMS SignedData whose signed attributes carry the SCEP
 * transaction fields, and whose content is an EnvelopedData (the pkcsPKIEnvelope) holding the
 * message data.
 *
 * Decoding is in two steps so that a server can answer a FAILURE even when the envelope does
 * not open: scep_msg_open() verifies the signature and reads the signed attributes;
 * scep_msg_decrypt() opens the envelope and parses the payload. scep_msg_decode() does both.
 */
#ifndef SCEP_MESSAGE_H
#define SCEP_MESSAGE_H

#include <time.h>

#include "scep/scep.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum scep_msg_type {
    SCEP_MSG_NONE = 0,
    SCEP_MSG_CERT_REP = 3,
    SCEP_MSG_RENEWAL_REQ = 17,
    SCEP_MSG_PKCS_REQ = 19,
    SCEP_MSG_CERT_POLL = 20, /* GetCertInitial in the draft */
    SCEP_MSG_GET_CERT = 21,
    SCEP_MSG_GET_CRL = 22,
} scep_msg_type;

typedef enum scep_pki_status {
    SCEP_STATUS_NONE = -1,
    SCEP_STATUS_SUCCESS = 0,
    SCEP_STATUS_FAILURE = 2,
    SCEP_STATUS_PENDING = 3,
} scep_pki_status;

/* "PKCSReq", "CertRep", ...; "unknown" otherwise. */
const char *scep_msg_type_name(int type);
/* "SUCCESS", "FAILURE", "PENDING"; "unknown" otherwise. */
const char *scep_pki_status_name(int status);

/* A certificate and its private key that may open envelopes (borrowed). */
typedef struct scep_recipient {
    X509 *cert;
    EVP_PKEY *key;
} scep_recipient;

/* A decoded pkiMessage. Every field was read from a signerInfo whose signature verified. */
typedef struct scep_msg {
    scep_msg_type type;
    char transaction_id[SCEP_MAX_TRANSACTION_ID + 1];
    unsigned char sender_nonce[SCEP_MAX_NONCE_BYTES];
    size_t sender_nonce_len; /* 0 when absent (allowed only in CertRep) */
    unsigned char recipient_nonce[SCEP_MAX_NONCE_BYTES];
    size_t recipient_nonce_len;                  /* 0 when absent (requests) */
    scep_pki_status status;                      /* SCEP_STATUS_NONE in requests */
    int fail_info;                               /* SCEP_FAIL_INFO_NONE unless FAILURE */
    char fail_info_text[SCEP_MAX_FAIL_TEXT + 1]; /* empty when absent */
    scep_digest digest;                          /* of the signerInfo */
    int has_signing_time;
    time_t signing_time;
    X509 *signer_cert; /* owned; the certificate whose key signed the message */
    /* The raw pkcsPKIEnvelope (NULL when the message carries none); owned. */
    unsigned char *envelope;
    size_t envelope_len;

    /* Filled by scep_msg_decrypt(). */
    scep_cipher cipher;          /* content-encryption algorithm of the envelope */
    int decrypted_with_password; /* 1 when a PasswordRecipientInfo opened it */
    unsigned char *payload;      /* owned; the decrypted messageData */
    size_t payload_len;
    X509_REQ *csr;             /* PKCSReq, RenewalReq */
    EVP_PKEY *csr_key;         /* PKCSReq, RenewalReq: the request's public key; owned */
    X509_NAME *issuer;         /* CertPoll, GetCert, GetCRL */
    X509_NAME *subject;        /* CertPoll */
    ASN1_INTEGER *serial;      /* GetCert, GetCRL */
    STACK_OF(X509) * certs;    /* CertRep SUCCESS */
    STACK_OF(X509_CRL) * crls; /* CertRep SUCCESS to GetCRL */
} scep_msg;

void scep_msg_free(scep_msg *msg);

typedef struct scep_open_options {
    /* Certificates that may have signed the message when it does not carry its signer (NDES
     * omits it). May be NULL. */
    STACK_OF(X509) * extra_certs;
    /* When set, the signer must be one of these certificates or be issued by one of them
     * (a client checking a CertRep from its CA or RA). When NULL, any signer whose signature
     * verifies is accepted and the caller applies its own policy (a server). */
    STACK_OF(X509) * trusted_signers;
    /* For a server that answers every authenticated request in SCEP. When set, a message whose
     * signature over the signed attributes verified (and whose signer passes trusted_signers)
     * but which is refused anyway is still handed back in *out together with the error: an
     * unknown or missing messageType (type SCEP_MSG_NONE), a missing or malformed
     * transactionID (empty) or senderNonce (length 0), or SCEP_E_CONTENT_DIGEST, a content
     * that does not match its messageDigest (envelope NULL). The other fields hold what was
     * read and is well-formed; answer it with scep_reply_encode() FAILURE. */
    int keep_refused;
} scep_open_options;

/*
 * Verifies the signature of a pkiMessage (DER or BER, at most SCEP_MAX_MESSAGE_BYTES, no
 * trailing bytes) and reads its signed attributes. opts may be NULL. Caller frees *out with
 * scep_msg_free(). On failure, diag (may be NULL) says what was wrong, and *out is NULL unless
 * opts->keep_refused handed back what was authenticated (then the caller frees it too).
 */
SCEP_WUR scep_err scep_msg_open(const scep_ctx *ctx, const unsigned char *der, size_t len,
                                const scep_open_options *opts, scep_msg **out, scep_diag *diag);

typedef struct scep_decrypt_options {
    /* Candidate keys; the one whose certificate matches a RecipientInfo is used. */
    const scep_recipient *recipients;
    size_t n_recipients;
    /* For a PasswordRecipientInfo (a CertRep to a requester whose key cannot decrypt). May be
     * NULL. */
    const char *password;
    /* For a server: parse a PKCSReq's or RenewalReq's CSR without decoding its public key
     * (OpenSSL 3.0 builds a decoder chain for each key it parses, about 0.13 ms). msg->csr_key
     * is then the signer certificate's key object when the request holds the same key (same
     * encoded SubjectPublicKeyInfo), and is decoded once otherwise; X509_REQ_get0_pubkey()
     * on msg->csr returns NULL, so use msg->csr_key. */
    int csr_key_from_signer;
} scep_decrypt_options;

/*
 * Opens msg's envelope and parses the payload by message type into msg's payload fields.
 * It also refuses a digest the context forbids (MD5 without legacy): scep_msg_open() accepts
 * one whose signature verifies, so that a server can answer it with a signed badAlg.
 * Departs from the out-parameter rule: it fills msg in place; on failure the payload fields
 * stay empty and the header fields stay valid, so a server can still answer FAILURE.
 * A message without an envelope (CertRep FAILURE/PENDING) succeeds and leaves them empty.
 */
SCEP_WUR scep_err scep_msg_decrypt(const scep_ctx *ctx, scep_msg *msg,
                                   const scep_decrypt_options *opts, scep_diag *diag);

/* scep_msg_open() then scep_msg_decrypt(). */
SCEP_WUR scep_err scep_msg_decode(const scep_ctx *ctx, const unsigned char *der, size_t len,
                                  const scep_open_options *open_opts,
                                  const scep_decrypt_options *decrypt_opts, scep_msg **out,
                                  scep_diag *diag);

/* What to build. Fields not used by a message type are ignored. */
typedef struct scep_msg_params {
    scep_msg_type type;
    /* Required; a CertRep FAILURE to a request without a usable one omits it (NULL or ""). */
    const char *transaction_id;
    /* senderNonce: required, SCEP_MIN_NONCE_BYTES..SCEP_MAX_NONCE_BYTES; see scep_nonce(). */
    const unsigned char *sender_nonce;
    size_t sender_nonce_len;
    /* CertRep only: the request's senderNonce, echoed; a FAILURE to a request without a usable
     * one omits it (length 0). */
    const unsigned char *recipient_nonce;
    size_t recipient_nonce_len;
    scep_pki_status status;     /* CertRep */
    int fail_info;              /* CertRep FAILURE */
    const char *fail_info_text; /* CertRep FAILURE; may be NULL */

    X509_REQ *csr;              /* PKCSReq, RenewalReq */
    const X509_NAME *issuer;    /* CertPoll, GetCert, GetCRL */
    const X509_NAME *subject;   /* CertPoll */
    const ASN1_INTEGER *serial; /* GetCert, GetCRL */
    STACK_OF(X509) * certs;     /* CertRep SUCCESS: leaf first */
    STACK_OF(X509_CRL) * crls;  /* CertRep SUCCESS to GetCRL */

    /* Signer. */
    X509 *signer_cert;
    EVP_PKEY *signer_key;
    scep_digest digest;
    /* More certificates to carry in the SignedData (for example an RA's CA). May be NULL. */
    STACK_OF(X509) * extra_certs;

    /* Envelope: to recipient_cert (RSA: PKCS#1 v1.5 key transport; EC: ECDH key agreement,
     * a KeyAgreeRecipientInfo), or with
     * recipient_password (PasswordRecipientInfo) when recipient_cert is NULL. */
    X509 *recipient_cert;
    const char *recipient_password;
    scep_cipher cipher;
} scep_msg_params;

/*
 * Builds, encrypts and signs a pkiMessage, in DER. Caller frees *out with OPENSSL_free().
 * CertRep FAILURE and PENDING carry no envelope and no content (RFC 8894 section 3.3.2).
 */
SCEP_WUR scep_err scep_msg_encode(const scep_ctx *ctx, const scep_msg_params *p,
                                  unsigned char **out, size_t *out_len);

/*
 * Checks the signingTime attribute against now: SCEP_E_BAD_TIME when it is further than
 * max_skew seconds away. A message without signingTime passes (the attribute is optional).
 */
SCEP_WUR scep_err scep_msg_check_time(const scep_msg *msg, time_t now, long max_skew);

/* Fills buf with len random bytes for a senderNonce. */
SCEP_WUR scep_err scep_nonce(unsigned char *buf, size_t len);

/* What a server answers to a request. */
typedef struct scep_reply_params {
    scep_pki_status status;
    int fail_info;              /* FAILURE */
    const char *fail_info_text; /* FAILURE; may be NULL */
    STACK_OF(X509) * certs;     /* SUCCESS: leaf first */
    STACK_OF(X509_CRL) * crls;  /* SUCCESS to GetCRL */
    X509 *signer_cert;
    EVP_PKEY *signer_key;
    /* 0 to mirror the request's digest and cipher when ctx allows them, else SHA-256 and
     * AES-128-CBC. */
    scep_digest digest;
    scep_cipher cipher;
    /* For a requester whose key cannot take key transport (not RSA): the challenge password,
     * used for a PasswordRecipientInfo. NULL or empty: an EC signer gets key agreement. */
    const char *password;
} scep_reply_params;

/*
 * Builds the CertRep for request: transactionID echoed, recipientNonce = the request's
 * senderNonce, a fresh senderNonce, SUCCESS encrypted to the request's signer certificate
 * (see scep_reply_deliverable()). A FAILURE to a request that scep_msg_open() handed back with
 * keep_refused omits the transactionID or recipientNonce the request lacked. Caller frees *out
 * with OPENSSL_free().
 */
SCEP_WUR scep_err scep_reply_encode(const scep_ctx *ctx, const scep_msg *request,
                                    const scep_reply_params *p, unsigned char **out,
                                    size_t *out_len);

/*
 * Whether a SUCCESS to request can be encrypted so that its signer opens it, and how
 * scep_reply_encode() will do it: key transport to an RSA signer certificate, else a
 * PasswordRecipientInfo when password (the CSR's challenge; may be NULL) is not empty, else key
 * agreement to an EC signer certificate. SCEP_E_BAD_ALG when none applies (for example a
 * separate Ed25519 signer and no challenge). A server checks this before it issues anything.
 */
SCEP_WUR scep_err scep_reply_deliverable(const scep_msg *request, const char *password);

/*
 * Checks that reply is a CertRep answering our request: type, transactionID, recipientNonce
 * equal to our senderNonce, and a status. Returns SCEP_E_TRANSACTION_ID,
 * SCEP_E_RECIPIENT_NONCE, SCEP_E_UNKNOWN_MSG_TYPE or SCEP_E_MISSING_ATTR.
 */
SCEP_WUR scep_err scep_reply_check(const scep_msg *reply, const char *transaction_id,
                                   const unsigned char *sender_nonce, size_t sender_nonce_len,
                                   scep_diag *diag);

#ifdef __cplusplus
}
#endif

#endif
