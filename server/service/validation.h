/* The validation webhook's say on a new PKCSReq or RenewalReq (validate/validate.h), asked once
 * per transaction: a resend is answered from the store. */
#ifndef SCEPD_SERVICE_VALIDATION_H
#define SCEPD_SERVICE_VALIDATION_H

#include "service/exchange.h"

typedef enum validation_step {
    VALIDATION_GO,       /* allowed (or no webhook): the request goes on as policy says */
    VALIDATION_HOLD,     /* no verdict, validate_failure = pending: it waits for an operator */
    VALIDATION_DENIED,   /* denied: stored REJECTED with the reason in x->why */
    VALIDATION_ANSWERED, /* answered already (a FAILURE); nothing to store */
} validation_step;

/* Asks the webhook about a request that passed every built-in check. An allow may have
 * replaced the CSR's subjectAltNames and set x->validity_days. */
validation_step validation_ask(exchange *x, const char *subject);

/* Stores r, which the webhook denied, as REJECTED with its reason and answers the FAILURE, so
 * that a resend gets the same answer without a second call. */
void validation_store_denied(exchange *x, store_request *r, const char *key_id);

#endif
