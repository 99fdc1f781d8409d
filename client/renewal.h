/* A renewal request: the new certificate keeps the old one's subject and subjectAltName and is
 * asked for with a message signed by the old certificate (shared by `scep renew` and `scep
 * watch`). */
#ifndef SCEP_CLIENT_RENEWAL_H
#define SCEP_CLIENT_RENEWAL_H

#include "enroll.h"

/* Fills e's CSR (for e->key, which the caller set), transactionID, message type (RenewalReq
 * when the server offers Renewal, else a PKCSReq) and signer (old and old_key, borrowed).
 * challenge may be NULL. Returns an exit code, the reason in s->err; the caller frees e->csr. */
int renewal_prepare(session *s, enrollment *e, X509 *old, EVP_PKEY *old_key, const char *challenge);

#endif
