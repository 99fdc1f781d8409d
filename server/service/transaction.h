/* A PKIOperation's transaction in the store: its key, answers from its stored state, issuing
 * exactly once, and recognising a resend (RFC 8894 section 3.3, draft Appendix E). */
#ifndef SCEPD_TRANSACTION_H
#define SCEPD_TRANSACTION_H

#include "service/exchange.h"

/* Sets x->key: the transactionID, or for a renewal of renewing the ID and its serial. */
void transaction_set_key(exchange *x, X509 *renewing);
/* Appends a hash of the request to x->key: a new request under a finished transaction's ID. */
void transaction_rekey(exchange *x);
/* Answers from the transaction's stored state: the same answer every time it is asked. */
void transaction_resume(exchange *x, const store_request *r);
/* A new request under automatic approval: issued and stored with the request in one commit. */
void transaction_issue_new(exchange *x, const store_request *r);
/* Another exchange stored this transaction first: a resend gets its answer, else a FAILURE. */
void transaction_taken_meanwhile(exchange *x, const store_request *stored, const char *key_id);
/* Whether r was stored for exactly this request's CSR. */
int transaction_same_csr(const exchange *x, const store_request *r);
/* Whether this message's signer may speak for transaction r. */
int transaction_signer_may_act(const exchange *x, const store_request *r);
/* Whether r is this very request sent again by its requester (key_id: the CSR's key). */
int transaction_is_resend(const exchange *x, const store_request *r, const char *key_id);

#endif
