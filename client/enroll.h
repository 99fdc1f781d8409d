/* The enrollment state machine: send the request, and on PENDING poll with CertPoll until
 * SUCCESS, FAILURE or the time limit, keeping enough state on disk to resume. */
#ifndef SCEP_CLIENT_ENROLL_H
#define SCEP_CLIENT_ENROLL_H

#include "session.h"

typedef struct enrollment {
    scep_msg_type type; /* PKCSReq or RenewalReq */
    EVP_PKEY *key;      /* the key the certificate is for (in the CSR) */
    X509_REQ *csr;
    X509 *signer; /* self-signed with key, or the certificate being renewed */
    EVP_PKEY *signer_key;
    char transaction_id[SCEP_MAX_TRANSACTION_ID + 1];
    const char *password;   /* the challenge: opens a reply to an EC requester */
    int poll_interval;      /* seconds */
    int max_poll_time;      /* seconds; 0: poll forever */
    const char *state_path; /* may be NULL: no resume */
    int resumed;            /* set when the state file was picked up */
} enrollment;

/* Runs the enrollment; on EXIT_OK, *issued is the certificate for e->key (caller frees). */
int enrollment_run(session *s, enrollment *e, X509 **issued);

/* Reads a pending transaction saved by an interrupted run, when it belongs to e->key: sets
 * e->transaction_id and e->signer. Returns 1 when resumed, 0 when there is none. */
int enrollment_resume(enrollment *e);

#endif
