/*
 * The validation webhook: a JSON document about a request, POSTed with an HMAC-SHA256
 * signature of its body, and the webhook's answer: allow (perhaps narrowing the validity or
 * replacing the subjectAltNames) or deny with a reason (docs/profiles.md, "Validation by
 * webhook"). Blocks the calling thread for up to the settings' timeout.
 */
#ifndef SCEPD_VALIDATE_H
#define SCEPD_VALIDATE_H

#include <stddef.h>

#include <openssl/x509v3.h>

#include "config/config.h"

#define VALIDATE_MAX_ANSWER (64 * 1024) /* bytes of an answer's body */
#define VALIDATE_MAX_SANS 64            /* names in an answer's "sans" */
#define VALIDATE_MAX_NAME 255           /* bytes of one name in it, after its type */
#define VALIDATE_MAX_DEPTH 8            /* JSON nesting of an answer */
#define VALIDATE_REASON 160             /* bytes of a reason, as the failInfoText takes it */

/* What the document says about a request; every pointer borrowed for the call. */
typedef struct validate_input {
    const char *profile;        /* "default" until there are profiles */
    const char *message_type;   /* "PKCSReq", "RenewalReq" */
    const char *transaction_id; /* as the client sent it */
    X509_REQ *csr;              /* as the client sent it */
    EVP_PKEY *key;              /* its public key */
    const char *subject;        /* the CSR's subject as scepd writes it */
    const char *challenge;      /* the challenge password, or NULL for none */
    const char *client;         /* the client's address, or NULL */
    X509 *signer;               /* the certificate a renewal is signed by, or NULL */
} validate_input;

typedef enum validate_result {
    VALIDATE_ALLOW = 0,
    VALIDATE_DENY = 1,        /* the webhook said no: reason */
    VALIDATE_UNAVAILABLE = 2, /* no answer, or not one to act on: never an allow */
} validate_result;

typedef struct validate_verdict {
    validate_result result;
    char reason[VALIDATE_REASON + 1]; /* printable ASCII, for the failInfoText */
    int validity_days;                /* 0: the webhook did not narrow it */
    GENERAL_NAMES *sans; /* the names to issue instead, or NULL; validate_verdict_clear */
} validate_verdict;

/* Frees what the verdict holds and zeroes it. */
void validate_verdict_clear(validate_verdict *v);

/* Asks the webhook. Returns v->result; VALIDATE_UNAVAILABLE with why in err (for the log: it
 * names the URL's failure, never the secret or the challenge). */
validate_result validate_request(const validate_settings *s, const validate_input *in,
                                 validate_verdict *v, char *err, size_t errlen);

/* The document for in, at unix time now with id: a string the caller frees (free()), or NULL. */
char *validate_document(const validate_input *in, const char *id, long long now);

/* Reads an answer of len bytes into v: 0, or -1 with why in err (then v is cleared). */
int validate_parse_answer(const char *body, size_t len, validate_verdict *v, char *err,
                          size_t errlen);

/* "sha256=" and the hex HMAC-SHA256 of body under secret into out (at least 72 bytes): 0 or -1. */
int validate_signature(const char *secret, const char *body, size_t len, char *out, size_t outlen);

#endif
