/*
 * Every ceiling on peer input, in one place. Input above a ceiling is refused before OpenSSL
 * or a decoder sees it.
 */
#ifndef SCEP_LIMITS_H
#define SCEP_LIMITS_H

/* A whole pkiMessage (DER or BER). Real requests are 2-8 KiB; certificate chains in replies
 * can be larger. */
#define SCEP_MAX_MESSAGE_BYTES (256u * 1024u)
/* The decrypted inner payload (a CSR, a certs-only SignedData with a CRL). */
#define SCEP_MAX_PAYLOAD_BYTES (256u * 1024u)
/* A GET query string, including the base64 message. */
#define SCEP_MAX_QUERY_BYTES (512u * 1024u)
/* A POST body. */
#define SCEP_MAX_BODY_BYTES (384u * 1024u)
/* The text of a GetCACaps answer. */
#define SCEP_MAX_CAPS_BYTES (8u * 1024u)
/* transactionID as printable text. */
#define SCEP_MAX_TRANSACTION_ID 128u
/* senderNonce / recipientNonce (RFC 8894 says 16 bytes; old iOS sends 8). */
#define SCEP_MIN_NONCE_BYTES 8u
#define SCEP_MAX_NONCE_BYTES 64u
/* failInfoText. */
#define SCEP_MAX_FAIL_TEXT 512u
/* Certificates in a certs-only message. */
#define SCEP_MAX_CERTS 32
/* The length of the nonces we generate. */
#define SCEP_NONCE_BYTES 16u

#endif
