/*
 * One error enum for the library, the server and the client. Numbers are never reused.
 * Each reason maps through one table (lib/errors.c) to exactly one outward answer: either a
 * SCEP CertRep FAILURE with a failInfo, or an HTTP status when the message could not be
 * decoded far enough to answer in SCEP.
 */
#ifndef SCEP_ERRORS_H
#define SCEP_ERRORS_H

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define SCEP_WUR __attribute__((warn_unused_result))
#else
#define SCEP_WUR
#endif

typedef enum scep_err {
    SCEP_OK = 0,
    /* Local conditions. */
    SCEP_E_NOMEM = 1,
    SCEP_E_INVALID_ARG = 2, /* programmer misuse */
    SCEP_E_INTERNAL = 3,    /* OpenSSL failed on input we built ourselves */
    /* Input that cannot be read as SCEP at all: answered with an HTTP status. */
    SCEP_E_TOO_LARGE = 10,
    SCEP_E_BAD_ENCODING = 11, /* not DER/BER, trailing bytes, bad base64 */
    SCEP_E_NOT_SIGNED_DATA = 12,
    SCEP_E_BAD_OPERATION = 13, /* unknown or missing HTTP operation */
    SCEP_E_MISSING_MESSAGE = 14,
    /* Decoded far enough to answer with a CertRep FAILURE. */
    SCEP_E_BAD_SIGNATURE = 20,    /* badMessageCheck */
    SCEP_E_NO_SIGNER_CERT = 21,   /* badMessageCheck */
    SCEP_E_UNTRUSTED_SIGNER = 22, /* badMessageCheck */
    SCEP_E_MISSING_ATTR = 23,     /* badRequest */
    SCEP_E_BAD_ATTR = 24,         /* badRequest */
    SCEP_E_BAD_NONCE = 25,        /* badRequest */
    SCEP_E_UNKNOWN_MSG_TYPE = 26, /* badRequest */
    SCEP_E_DECRYPT = 27,          /* badMessageCheck */
    SCEP_E_WRONG_RECIPIENT = 28,  /* badMessageCheck */
    SCEP_E_BAD_ALG = 29,          /* badAlg */
    SCEP_E_BAD_CSR = 30,          /* badRequest */
    SCEP_E_BAD_TIME = 31,         /* badTime */
    SCEP_E_BAD_CERT_ID = 32,      /* badCertId */
    SCEP_E_BAD_PAYLOAD = 33,      /* badRequest */
    SCEP_E_RECIPIENT_NONCE = 34,  /* badMessageCheck: a reply not for our request */
    SCEP_E_TRANSACTION_ID = 35,   /* badMessageCheck: a reply for another transaction */
    SCEP_E_NEGOTIATION = 36,      /* badAlg: no algorithm both sides allow */
    SCEP_E_CONTENT_DIGEST = 37,   /* badMessageCheck: signed attributes verify, content not */
} scep_err;

/* SCEP failInfo values (RFC 8894 section 3.2.1.4). */
typedef enum scep_fail_info {
    SCEP_FAIL_BAD_ALG = 0,
    SCEP_FAIL_BAD_MESSAGE_CHECK = 1,
    SCEP_FAIL_BAD_REQUEST = 2,
    SCEP_FAIL_BAD_TIME = 3,
    SCEP_FAIL_BAD_CERT_ID = 4,
} scep_fail_info;

#define SCEP_FAIL_INFO_NONE (-1)

/* A short English sentence for err; never NULL ("unknown error" for unknown values). */
const char *scep_strerror(scep_err err);
/* The failInfo to answer with, or SCEP_FAIL_INFO_NONE when err is answered by HTTP status or
 * is a local condition. */
int scep_err_fail_info(scep_err err);
/* The HTTP status for an error that cannot be answered in SCEP: 400, 413, or 500 for local
 * conditions. Errors that map to a failInfo return 200 (the FAILURE travels in the body). */
int scep_err_http_status(scep_err err);
/* "badAlg", "badMessageCheck", ...; "unknown" for other values. */
const char *scep_fail_info_name(int fail_info);

/* A fixed buffer for a human reason that adds detail to an error code, for example which
 * attribute is missing. Functions that take one write a NUL-terminated text on failure. */
typedef struct scep_diag {
    char text[192];
} scep_diag;

#ifdef __cplusplus
}
#endif

#endif
