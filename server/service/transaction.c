/*
 * The transaction of a PKIOperation in the store: the key it is kept under, the answer from its
 * stored state, issuing its certificate exactly once across processes, and telling a resend
 * from a new request (RFC 8894 section 3.3, draft Appendix E).
 */
#include "service/transaction.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "log/audit_store.h"
#include "log/log.h"
#include "metrics/metrics.h"

/*
 * The store key of this transaction. Clients derive transactionIDs from the public key
 * (micromdm, strongSwan), so a renewal with the same key repeats the first enrollment's ID;
 * keying renewals by ID and renewed serial keeps each renewal its own transaction while a
 * resend of the same renewal still finds it.
 */
void transaction_set_key(exchange *x, X509 *renewing)
{
    const char *mark = x->prof->name[0] ? PROFILE_KEY_MARK : "";
    if (renewing == NULL) {
        snprintf(x->key, sizeof(x->key), "%s%s%s", x->req->transaction_id, mark, x->prof->name);
        return;
    }
    char serial[STORE_HEX_SERIAL];
    ca_serial_hex(renewing, serial, sizeof(serial));
    snprintf(x->key, sizeof(x->key), "%s~%s%s%s", x->req->transaction_id, serial, mark,
             x->prof->name);
}

/* The renewed certificate is superseded (or, by policy, revoked as superseded). */
static void supersede(exchange *x)
{
    char serial[STORE_HEX_SERIAL];
    ca_serial_hex(x->renewing, serial, sizeof(serial));
    int revoke = x->cfg->renewal_revoke_old;
    store_status s = x->st->ops->cert_set_state(
        x->st, serial, revoke ? CERT_REVOKED : CERT_SUPERSEDED, revoke ? (int64_t)time(NULL) : 0,
        revoke ? 4 /* superseded */ : -1);
    if (s == STORE_OK)
        x->st->ops->event_add(x->st, revoke ? "revoke" : "supersede", serial,
                              x->req->transaction_id);
    if (s == STORE_OK && revoke) {
        char subject[STORE_TEXT];
        ca_name_text(X509_get_subject_name(x->renewing), subject, sizeof(subject));
        log_audit_event e = {
            "revoke",    subject, serial, NULL, x->out->peer, "renewal", x->req->transaction_id,
            "superseded"};
        log_audit(stdout, x->cfg->log_format, &e);
        log_audit_store(x->st, "policy", &e);
        metrics_certificate(METRICS_REVOKED);
    }
}

/* A certificate is in the store: its audit line and its count. by_operator: the request was
 * approved by an operator (whose own line names them), not issued at once by policy. */
static void audit_issued(exchange *x, X509 *cert, const store_cert *rec, int by_operator)
{
    char sans[STORE_TEXT];
    ca_sans_text(X509_get0_extensions(cert), sans, sizeof(sans));
    log_audit_event e = {x->renewing ? "renew" : "issue",
                         rec->subject,
                         rec->serial,
                         sans,
                         x->out->peer,
                         by_operator ? "operator" : "policy",
                         x->req->transaction_id,
                         NULL};
    log_audit(stdout, x->cfg->log_format, &e); /* the store's row: in the issuing commit */
    metrics_certificate(x->renewing ? METRICS_RENEWED : METRICS_ISSUED);
}

/*
 * The certificate for csr, from the current CA, with the profile c. While a rollover is
 * prepared, a renewal gets a "shadow" certificate from the next CA instead, valid from the
 * switch, so the client holds a certificate for each side of it.
 */
static X509 *issue_with(exchange *x, X509_REQ *csr, const config *c, char *why, size_t len)
{
    const authority *ca = x->ca;
    if (x->renewing == NULL || ca->next.cert == NULL)
        return ca_issue(ca, csr, c, why, len);
    /* Only a certificate that lasts until the switch needs its successor from the next CA;
     * one that ends earlier is renewed by the current CA, or the device would be left without
     * a valid certificate until the switch. */
    int64_t switch_at = ca_unix_time(X509_get0_notBefore(ca->next.cert));
    if (ca_unix_time(X509_get0_notAfter(x->renewing)) < switch_at)
        return ca_issue(ca, csr, c, why, len);
    authority next = {.cert = ca->next.cert, .key = ca->next.key};
    return ca_issue_at(&next, csr, c, switch_at, why, len);
}

/* As the profile says, but for no longer than the validation webhook allowed. */
static X509 *issue_cert(exchange *x, X509_REQ *csr, char *why, size_t len)
{
    if (x->validity_days <= 0)
        return issue_with(x, csr, x->cfg, why, len);
    config *narrowed = malloc(sizeof(*narrowed));
    if (narrowed == NULL) {
        snprintf(why, len, "out of memory");
        return NULL;
    }
    *narrowed = *x->cfg;
    long cap = (long)x->validity_days * 86400;
    if (narrowed->validity_seconds > cap)
        narrowed->validity_seconds = (int)cap;
    else if (narrowed->validity_seconds == 0 && narrowed->validity_days > x->validity_days)
        narrowed->validity_days = x->validity_days;
    X509 *cert = issue_with(x, csr, narrowed, why, len);
    OPENSSL_cleanse(narrowed, sizeof(*narrowed)); /* the copy holds the secrets too */
    free(narrowed);
    return cert;
}

/* The store record of cert for request r; its DER is the caller's (OPENSSL_free). An encoding
 * failure leaves an empty DER, which the store refuses. */
static void record_for(X509 *cert, const store_request *r, store_cert *rec)
{
    ca_fill_record(cert, r->key_id, r->transaction_id, rec);
    unsigned char *der = NULL;
    int n = i2d_X509(cert, &der);
    rec->der = der;
    rec->der_len = n > 0 ? (size_t)n : 0;
}

/* How a fresh certificate goes to the store: the store's verdict. */
typedef store_status (*store_issued_fn)(exchange *x, const store_request *r, const store_cert *rec,
                                        void *arg);

/*
 * Issues a certificate for csr and stores it with put, drawing another serial when the store
 * already holds one (up to three certificates). The SUCCESS is built first: a certificate goes
 * to the store only with a CertRep the requester can open, so none is ever left that no one
 * received. Returns the store's last verdict (STORE_OK: the SUCCESS is the answer), or
 * STORE_EXISTS with a reason in why when no certificate could be made, delivered or kept.
 */
static store_status issue_and_store(exchange *x, X509_REQ *csr, const store_request *r,
                                    store_issued_fn put, void *arg, char *why, size_t len)
{
    if (scep_reply_deliverable(x->req, x->password) != SCEP_OK) {
        snprintf(why, len, "no way to encrypt a reply to the signer's key; nothing was issued");
        return STORE_EXISTS;
    }
    for (int attempt = 0; csr != NULL && attempt < 3; attempt++) {
        X509 *cert = issue_cert(x, csr, why, len);
        if (cert == NULL)
            break;
        if (exchange_answer(x, SCEP_STATUS_SUCCESS, 0, NULL, cert) != 0) {
            X509_free(cert);
            snprintf(why, len, "the CertRep could not be built; nothing was issued");
            return STORE_EXISTS;
        }
        store_cert rec;
        record_for(cert, r, &rec);
        store_status s = put(x, r, &rec, arg);
        if (s == STORE_OK)
            audit_issued(x, cert, &rec, r->state == REQUEST_APPROVED);
        OPENSSL_free(rec.der);
        X509_free(cert);
        if (s == STORE_OK && x->renewing != NULL)
            supersede(x);
        if (s != STORE_EXISTS)
            return s;
    }
    return STORE_EXISTS;
}

static store_status put_for_approved(exchange *x, const store_request *r, const store_cert *rec,
                                     void *arg)
{
    (void)arg;
    return x->st->ops->cert_issue(x->st, rec, r->id, REQUEST_APPROVED);
}

/* Issues the certificate of an APPROVED request, exactly once across processes. */
static void issue(exchange *x, const store_request *r)
{
    if (exchange_ca_refuses(x))
        return;
    /* The CSR just decoded when this message is the request itself (every path that issues
     * from a PKCSReq has checked the stored CSR is the same): no second decode of the key. */
    X509_REQ *owned = NULL;
    if (x->req->csr == NULL) {
        const unsigned char *p = r->csr_der;
        owned = d2i_X509_REQ(NULL, &p, (long)r->csr_len);
    }
    X509_REQ *csr = x->req->csr ? x->req->csr : owned;
    char why[160] = "cannot read the stored request";
    store_status s = issue_and_store(x, csr, r, put_for_approved, NULL, why, sizeof(why));
    X509_REQ_free(owned);
    if (s == STORE_EXISTS) {
        exchange_answer(x, SCEP_STATUS_FAILURE, SCEP_FAIL_BAD_REQUEST, why, NULL);
    } else if (s == STORE_CONFLICT) {
        /* Another worker or process moved it first: answer what it decided. */
        store_request now = {0};
        if (x->st->ops->request_get_by_id(x->st, r->id, &now) == STORE_OK &&
            now.state != REQUEST_APPROVED)
            transaction_resume(x, &now);
        else
            reply_text(x->out, 503, "transaction changed while issuing, retry");
        store_request_clear(&now);
    } else if (s != STORE_OK) {
        exchange_store_down(x, s);
    }
}

/* arg: the store_request the store holds under the transactionID when it is taken. */
static store_status put_with_request(exchange *x, const store_request *r, const store_cert *rec,
                                     void *arg)
{
    store_request *stored = arg;
    store_request_clear(stored);
    return x->st->ops->request_issue(x->st, r, rec, stored);
}

/* The certificate and the request go to the store in one commit, already ISSUED, so no other
 * exchange ever sees it half done. */
void transaction_issue_new(exchange *x, const store_request *r)
{
    char why[160] = "cannot issue";
    store_request stored = {0};
    store_status s =
        issue_and_store(x, x->req->csr, r, put_with_request, &stored, why, sizeof(why));
    if (s == STORE_EXISTS)
        exchange_answer(x, SCEP_STATUS_FAILURE, SCEP_FAIL_BAD_REQUEST, why, NULL);
    else if (s == STORE_CONFLICT)
        transaction_taken_meanwhile(x, &stored, r->key_id);
    else if (s != STORE_OK)
        exchange_store_down(x, s);
    store_request_clear(&stored);
}

void transaction_resume(exchange *x, const store_request *r)
{
    switch (r->state) {
    case REQUEST_PENDING:
        exchange_answer(x, SCEP_STATUS_PENDING, 0, NULL, NULL);
        return;
    case REQUEST_REJECTED:
        exchange_answer(x, SCEP_STATUS_FAILURE, SCEP_FAIL_BAD_REQUEST,
                        r->reason[0] ? r->reason : "rejected by the operator", NULL);
        return;
    case REQUEST_APPROVED:
        issue(x, r);
        return;
    case REQUEST_ISSUED:
        exchange_answer_issued(x, r->cert_serial);
        return;
    }
    reply_text(x->out, 503, "transaction in an unknown state");
}

/* The same request (a resend racing this one) gets that transaction's answer; a different one
 * is refused. */
void transaction_taken_meanwhile(exchange *x, const store_request *stored, const char *key_id)
{
    if (!transaction_is_resend(x, stored, key_id))
        exchange_fail(x, SCEP_E_BAD_CSR, "another request took this transactionID a moment ago");
    else
        transaction_resume(x, stored);
}

/* Then the message is a resend. */
int transaction_same_csr(const exchange *x, const store_request *r)
{
    return x->csr_hash[0] != '\0' && strcmp(r->csr_hash, x->csr_hash) == 0;
}

/* The request's own key, a renewal's certificate (the store key holds its serial), or the
 * separate signer r was sent with, never another one. */
int transaction_signer_may_act(const exchange *x, const store_request *r)
{
    if (!x->separate_signer)
        return 1;
    return r->signer_key_id[0] != '\0' && strcmp(r->signer_key_id, x->signer_key_id) == 0;
}

int transaction_is_resend(const exchange *x, const store_request *r, const char *key_id)
{
    return strcmp(r->key_id, key_id) == 0 && transaction_same_csr(x, r) &&
           transaction_signer_may_act(x, r);
}

/*
 * A finished transaction (issued or rejected) whose ID comes back with another request from
 * the same key: clients that derive the ID from the key (ours, strongSwan, micromdm) do this
 * for a new subject or a corrected challenge. It becomes its own transaction, keyed by the ID
 * and a hash of the request, so that its own resends still find it.
 */
void transaction_rekey(exchange *x)
{
    size_t used = strnlen(x->key, sizeof(x->key));
    snprintf(x->key + used, sizeof(x->key) - used, "#%.16s", x->csr_hash);
}
