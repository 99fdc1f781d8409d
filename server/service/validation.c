/* The validation webhook in the enrollment decision (docs/profiles.md, "Validation by
 * webhook"): after the built-in checks, before anything is stored. */
#include "service/validation.h"

#include <stdio.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "log/log.h"
#include "policy/profile_policy.h"
#include "service/transaction.h"
#include "validate/validate.h"

#define UNAVAILABLE "validation service unavailable"

/* The CSR asks for these names instead of its own: the stored CSR and the certificate carry
 * them (an empty list: none). Returns 0 or -1. */
static int replace_sans(X509_REQ *csr, GENERAL_NAMES *sans)
{
    STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(csr);
    if (exts == NULL)
        exts = sk_X509_EXTENSION_new_null();
    int at, ok = exts != NULL;
    while (ok && (at = X509v3_get_ext_by_NID(exts, NID_subject_alt_name, -1)) >= 0)
        X509_EXTENSION_free(X509v3_delete_ext(exts, at));
    if (ok && sk_GENERAL_NAME_num(sans) > 0)
        ok = X509V3_add1_i2d(&exts, NID_subject_alt_name, sans, 0, X509V3_ADD_APPEND) == 1;
    while (ok && (at = X509_REQ_get_attr_by_NID(csr, NID_ext_req, -1)) >= 0)
        X509_ATTRIBUTE_free(X509_REQ_delete_attr(csr, at));
    while (ok && (at = X509_REQ_get_attr_by_NID(csr, NID_ms_ext_req, -1)) >= 0)
        X509_ATTRIBUTE_free(X509_REQ_delete_attr(csr, at));
    if (ok && sk_X509_EXTENSION_num(exts) > 0)
        ok = X509_REQ_add_extensions(csr, exts) == 1;
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    return ok ? 0 : -1;
}

/* 1 (why says which rule) when the webhook's names break the profile's SAN rules: checked on a
 * copy, so that the request keeps its own names whatever happens next. */
static int sans_outside_profile(exchange *x, GENERAL_NAMES *sans, char *why, size_t len)
{
    if (x->prof == NULL)
        return 0;
    X509_REQ *copy = X509_REQ_dup(x->req->csr);
    scep_err e;
    snprintf(why, len, "cannot be put in a copy of the request");
    int broken = copy == NULL || replace_sans(copy, sans) != 0 ||
                 policy_profile(x->prof, copy, x->req->csr_key, &e, why, len) != NULL;
    X509_REQ_free(copy);
    return broken;
}

/* What the allow changes, or -1 with why (then the answer counts as no verdict). */
static int apply(exchange *x, validate_verdict *v, char *err, size_t errlen)
{
    if (v->sans != NULL && !x->cfg->copy_san) {
        snprintf(err, errlen, "validation service: its \"sans\" need copy_san = yes");
        return -1;
    }
    char why[300];
    if (v->sans != NULL && sans_outside_profile(x, v->sans, why, sizeof(why))) {
        snprintf(err, errlen, "validation service: its \"sans\" %s", why);
        return -1;
    }
    if (v->sans != NULL && replace_sans(x->req->csr, v->sans) != 0) {
        snprintf(err, errlen, "validation service: cannot put its \"sans\" in the request");
        return -1;
    }
    x->validity_days = v->validity_days;
    return 0;
}

/* No verdict: the operator's line says why; the client gets a FAILURE, or waits for an
 * operator when validate_failure = pending and the reply to a poll can reach it. */
static validation_step unavailable(exchange *x, const char *why)
{
    char line[1024];
    snprintf(line, sizeof(line), "transaction %.300s: %.600s", x->req->transaction_id, why);
    log_error(stdout, x->srv->cfg.log_format, line);
    if (x->cfg->validate.failure == VALIDATE_FAIL_PENDING &&
        scep_reply_deliverable(x->req, NULL) == SCEP_OK) {
        x->note = UNAVAILABLE " (validate_failure = pending)";
        return VALIDATION_HOLD;
    }
    exchange_answer(x, SCEP_STATUS_FAILURE, SCEP_FAIL_BAD_REQUEST, UNAVAILABLE, NULL);
    return VALIDATION_ANSWERED;
}

validation_step validation_ask(exchange *x, const char *subject)
{
    const validate_settings *s = &x->cfg->validate;
    if (s->url[0] == '\0')
        return VALIDATION_GO;
    int renewal = x->req->type == SCEP_MSG_RENEWAL_REQ;
    validate_input in = {.profile = x->prof && x->prof->name[0] ? x->prof->name : "default",
                         .message_type = renewal ? "RenewalReq" : "PKCSReq",
                         .transaction_id = x->req->transaction_id,
                         .csr = x->req->csr,
                         .key = x->req->csr_key,
                         .subject = subject,
                         .challenge = x->password[0] ? x->password : NULL,
                         .client = x->out->peer,
                         .signer = x->renewing};
    validate_verdict v;
    char err[512];
    validation_step step = VALIDATION_GO;
    validate_result r = validate_request(s, &in, &v, err, sizeof(err));
    if (r == VALIDATE_ALLOW && apply(x, &v, err, sizeof(err)) != 0)
        r = VALIDATE_UNAVAILABLE;
    if (r == VALIDATE_DENY) {
        snprintf(x->why, sizeof(x->why), "%s", v.reason);
        step = VALIDATION_DENIED;
    } else if (r != VALIDATE_ALLOW) {
        step = unavailable(x, err);
    }
    validate_verdict_clear(&v);
    return step;
}

void validation_store_denied(exchange *x, store_request *r, const char *key_id)
{
    store_request stored = {0};
    r->state = REQUEST_PENDING;
    store_status s = x->st->ops->request_put(x->st, r, &stored);
    if (s == STORE_OK)
        s = x->st->ops->request_transition(x->st, stored.id, REQUEST_PENDING, REQUEST_REJECTED,
                                           x->why);
    if (s == STORE_OK)
        exchange_answer(x, SCEP_STATUS_FAILURE, SCEP_FAIL_BAD_REQUEST, x->why, NULL);
    else if (s == STORE_EXISTS)
        transaction_taken_meanwhile(x, &stored, key_id);
    else
        exchange_store_down(x, s);
    store_request_clear(&stored);
}
