/* Who may sign a request and what it may ask for: the signer, key and subject rules. */
#ifndef SCEPD_REQUEST_POLICY_H
#define SCEPD_REQUEST_POLICY_H

#include <openssl/x509.h>

#include "scep/scep.h"

#include "ca/ca.h"
#include "config/config.h"

/* What signed a PKCSReq or RenewalReq. */
typedef enum signer_kind {
    SIGNER_SELF,     /* self-signed with the request's key: an initial enrollment */
    SIGNER_SEPARATE, /* self-signed with another key (Apple MDM), allowed by policy */
    SIGNER_ISSUED,   /* a certificate this CA issued: a renewal, for the renewal policy */
} signer_kind;

/* Whether cert is self-signed (subject is issuer, and its signature verifies). */
int policy_self_signed(X509 *cert);

/* The signer must be the requester itself or a certificate ca issued. Returns NULL with *kind,
 * or the reason with *err. renewal_req: the message is a RenewalReq. */
const char *policy_signer(const config *c, const authority *ca, X509 *signer, EVP_PKEY *csr_key,
                          int renewal_req, signer_kind *kind, scep_err *err);

/* The key and subject rules for a new request: NULL, or the reason with *err. */
const char *policy_request(const config *c, X509_REQ *csr, EVP_PKEY *key, scep_err *err);

#endif
