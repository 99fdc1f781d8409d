/* One PKIOperation exchange as the message types share it: the decoded request, the CA of the
 * era, the store handle and the reply being built; and the answers every message type gives. */
#ifndef SCEPD_EXCHANGE_H
#define SCEPD_EXCHANGE_H

#include "service/reply.h"
#include "service/server.h"

typedef struct exchange {
    const server *srv;
    const profile *prof; /* the profile the request came to */
    const config *cfg;   /* its settings (prof->cfg) */
    const authority *ca; /* the CA of the era in force */
    store *st;
    scep_msg *req;
    reply *out;
    char password[CONFIG_SECRET]; /* the CSR's challenge, for replies to EC requesters */
    char csr_hash[STORE_KEY_ID];  /* of the CSR as sent (csr_at_rest.h), for resends */
    X509 *renewing;               /* the certificate being renewed (borrowed), or NULL */
    const char *challenge_kind;   /* how the accepted challenge vouched (challenge_kind()) */
    int guessed;                  /* a challenge was sent and it was not right */
    int separate_signer;          /* self-signed, but not with the request's key (Apple MDM) */
    char signer_key_id[STORE_KEY_ID];
    int validity_days;   /* the validation webhook narrowed the lifetime to this (0: not) */
    const char *note;    /* for the log line of a SUCCESS or PENDING: what policy allowed */
    char key[STORE_TID]; /* the transaction's key in the store */
    char why[192];       /* room for a composed failInfoText */
} exchange;

/* A signed CertRep with this status, certificate and CRL (either NULL). Returns 0, or -1 when
 * it could not be built (then the answer is an HTTP 500). */
int exchange_answer_with(exchange *x, scep_pki_status status, int fail_info, const char *text,
                         X509 *cert, X509_CRL *crl);
int exchange_answer(exchange *x, scep_pki_status status, int fail_info, const char *text,
                    X509 *cert);
/* A FAILURE with err's failInfo (badRequest when it has none) and text, or err's own text. */
void exchange_fail(exchange *x, scep_err err, const char *text);
/* The store could not answer: a local condition the client may retry, not a FAILURE. */
void exchange_store_down(exchange *x, store_status s);
/* The stored certificate with this serial (upper-case hex), or NULL. */
X509 *exchange_cert_from_store(exchange *x, const char *serial);
/* A SUCCESS with the stored certificate of this serial. */
void exchange_answer_issued(exchange *x, const char *serial);
/* A CA (or RA) that is not valid now issues nothing: a FAILURE that says why, and an error
 * line for the operator. Returns 1 when it answered. */
int exchange_ca_refuses(exchange *x);

/* The message types (enroll.c, poll.c, get_cert.c, get_crl.c). */
void enroll_request(exchange *x); /* PKCSReq and RenewalReq */
void poll_request(exchange *x);   /* CertPoll */
void get_cert_request(exchange *x);
void get_crl_request(exchange *x);

#endif
