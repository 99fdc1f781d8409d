/*
 * PKCSReq and RenewalReq: the signer, the policy and the challenge, then a new transaction in
 * the store or the answer of the one it repeats (RFC 8894 sections 3.3.1, 3.3.1.2).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "policy/challenge.h"
#include "policy/lockout.h"
#include "policy/profile_policy.h"
#include "policy/renewal.h"
#include "policy/request_policy.h"
#include "service/exchange.h"
#include "service/transaction.h"
#include "service/validation.h"
#include "store/csr_at_rest.h"

/*
 * The signer must be the requester itself (self-signed: an initial enrollment, with the
 * request's key unless policy allows another) or a certificate this CA issued (a renewal, which
 * the renewal policy must allow).
 */
static const char *signer_problem(exchange *x, scep_err *err)
{
    X509 *signer = x->req->signer_cert;
    transaction_set_key(x, NULL);
    signer_kind kind;
    const char *why = policy_signer(x->cfg, x->ca, signer, x->req->csr_key,
                                    x->req->type == SCEP_MSG_RENEWAL_REQ, &kind, err);
    if (why != NULL || kind == SIGNER_SELF)
        return why;
    if (kind == SIGNER_SEPARATE) {
        x->separate_signer = 1;
        x->note = "signed by a self-signed signer with another key than the request's "
                  "(signer_key_must_match = no)";
        return NULL;
    }
    x->renewing = signer;
    transaction_set_key(x, signer);
    return renewal_problem(x->cfg, x->st, signer, x->req->csr, x->req->csr_key, time(NULL), err,
                           x->why, sizeof(x->why));
}

/* The challenge, last of the checks since a one-time challenge is spent by it. A renewal is
 * vouched for by its certificate, but a challenge it carries must still be right. A store that
 * could not say sets *store_down: a 503 to retry, not a FAILURE. */
static const char *challenge_refused(exchange *x, const char *subject, int *store_down)
{
    x->challenge_kind = challenge_kind(CHALLENGE_NOT_NEEDED);
    if (x->renewing != NULL && x->password[0] == '\0')
        return NULL;
    /* A locked-out source is refused whatever it sends (a right challenge too, or there would
     * be no limit), before a one-time challenge could be spent. */
    int locked =
        lockout_challenge_refused(x->cfg, x->st, x->out->peer, subject, x->why, sizeof(x->why));
    *store_down = locked < 0;
    if (locked != 0)
        return x->why;
    challenge_result r = challenge_check_for(x->cfg, x->prof->name, x->st, x->password, subject);
    *store_down = r == CHALLENGE_STORE;
    x->challenge_kind = challenge_kind(r);
    /* A missing challenge guesses nothing: only a wrong one counts against the source. */
    x->guessed = r < 0 && r != CHALLENGE_STORE && x->password[0] != '\0';
    return r >= 0 ? NULL : challenge_problem(r);
}

/* Counted against the client's address and the subject, then refused. */
static void wrong_challenge(exchange *x, const char *subject, const char *why)
{
    lockout_challenge_failed(x->cfg, x->st, x->out->peer, subject);
    exchange_fail(x, SCEP_E_BAD_CSR, why);
}

static int overlapping(exchange *x, const char *subject)
{
    if (!x->cfg->unique_subject)
        return 0;
    store_cert held = {0};
    store_status s =
        x->st->ops->cert_find_valid_by_subject(x->st, subject, (int64_t)time(NULL), &held);
    store_cert_clear(&held);
    return s == STORE_OK;
}

/* The challenge refused: a resend of a request that spent a one-time challenge a moment ago
 * gets that transaction's answer; anything else a FAILURE. */
static void refused_challenge(exchange *x, const char *subject, const char *key_id, const char *why)
{
    store_request dup = {0};
    if (x->st->ops->request_get(x->st, x->key, &dup) == STORE_OK &&
        transaction_is_resend(x, &dup, key_id))
        transaction_resume(x, &dup);
    else if (x->guessed)
        wrong_challenge(x, subject, why);
    else
        exchange_fail(x, SCEP_E_BAD_CSR, why);
    store_request_clear(&dup);
}

/* The record of an accepted request, without its challenge; r->csr_der is the caller's
 * (OPENSSL_free). */
static void request_record(exchange *x, store_request *r)
{
    r->message_type = (int)x->req->type;
    snprintf(r->client_addr, sizeof(r->client_addr), "%s", x->out->peer ? x->out->peer : "");
    snprintf(r->challenge_kind, sizeof(r->challenge_kind), "%s", x->challenge_kind);
    /* Kept hashed: the draft's manual revocation check asks the caller for it again. */
    if (x->password[0] != '\0')
        challenge_hash(x->password, r->challenge_hash);
    /* Checked and no longer needed: the stored CSR goes without it (every backup would hold
     * it), and resends are recognised by the hash of the CSR as sent. */
    store_csr_drop_challenge(x->req->csr);
    memcpy(r->csr_hash, x->csr_hash, sizeof(r->csr_hash));
    unsigned char *der = NULL;
    int n = i2d_X509_REQ(x->req->csr, &der);
    r->csr_der = der;
    r->csr_len = n > 0 ? (size_t)n : 0;
}

/* Issued at once, or stored PENDING for an operator (always when hold). */
static void store_request_new(exchange *x, store_request *r, const char *key_id, int hold)
{
    approve_mode mode = x->renewing ? x->cfg->renewal_approve : x->cfg->approve;
    if (mode == APPROVE_AUTO && !hold) {
        transaction_issue_new(x, r);
        return;
    }
    store_request stored = {0};
    r->state = REQUEST_PENDING;
    store_status s = x->st->ops->request_put(x->st, r, &stored);
    if (s == STORE_EXISTS)
        transaction_taken_meanwhile(x, &stored, key_id);
    else if (s == STORE_OK)
        transaction_resume(x, &stored);
    else
        exchange_store_down(x, s);
    store_request_clear(&stored);
}

static void new_request(exchange *x, const char *key_id)
{
    scep_err err;
    const char *why = policy_request(x->cfg, x->req->csr, x->req->csr_key, &err);
    if (why == NULL)
        why = policy_profile(x->prof, x->req->csr, x->req->csr_key, &err, x->why, sizeof(x->why));
    if (why != NULL) {
        exchange_fail(x, err, why);
        return;
    }
    if (exchange_ca_refuses(x))
        return;
    store_request r = {0};
    snprintf(r.transaction_id, sizeof(r.transaction_id), "%s", x->key);
    snprintf(r.key_id, sizeof(r.key_id), "%s", key_id);
    if (strcmp(x->signer_key_id, key_id) != 0)
        snprintf(r.signer_key_id, sizeof(r.signer_key_id), "%s", x->signer_key_id);
    ca_name_text(X509_REQ_get_subject_name(x->req->csr), r.subject, sizeof(r.subject));
    if (overlapping(x, r.subject)) {
        exchange_fail(x, SCEP_E_BAD_CSR, "overlapping certificate");
        return;
    }
    int store_down = 0;
    if ((why = challenge_refused(x, r.subject, &store_down)) != NULL) {
        if (store_down)
            exchange_store_down(x, STORE_ERROR);
        else
            refused_challenge(x, r.subject, key_id, why);
        return;
    }
    validation_step step = validation_ask(x, r.subject);
    if (step == VALIDATION_ANSWERED)
        return;
    request_record(x, &r);
    if (step == VALIDATION_DENIED)
        validation_store_denied(x, &r, key_id);
    else
        store_request_new(x, &r, key_id, step == VALIDATION_HOLD);
    OPENSSL_free(r.csr_der);
}

/* Answers a request whose transaction key is known: a resend gets the same answer. */
static void known_transaction(exchange *x, const store_request *existing, const char *key_id)
{
    if (strcmp(existing->key_id, key_id) != 0) {
        exchange_fail(x, SCEP_E_BAD_CSR, "transactionID is in use with another key");
        return;
    }
    if (transaction_same_csr(x, existing)) {
        if (transaction_signer_may_act(x, existing))
            transaction_resume(x, existing); /* micromdm's client polls this way */
        else
            exchange_fail(x, SCEP_E_UNTRUSTED_SIGNER, "the transaction was sent by another signer");
        return;
    }
    if (existing->state == REQUEST_PENDING || existing->state == REQUEST_APPROVED) {
        exchange_fail(x, SCEP_E_BAD_CSR, "another request is pending under this transactionID");
        return;
    }
    transaction_rekey(x);
    store_request again = {0};
    store_status s = x->st->ops->request_get(x->st, x->key, &again);
    if (s == STORE_OK && transaction_same_csr(x, &again))
        transaction_resume(x, &again);
    else if (s == STORE_OK)
        exchange_fail(x, SCEP_E_BAD_CSR, "transactionID is in use with another request");
    else if (s == STORE_NOT_FOUND)
        new_request(x, key_id);
    else
        exchange_store_down(x, s);
    store_request_clear(&again);
}

/* Whether the request waits for an operator: then its SUCCESS answers a poll, which carries no
 * challenge to encrypt to (and the store keeps none). */
static int waits(const exchange *x)
{
    const config *c = x->cfg;
    return (x->renewing ? c->renewal_approve : c->approve) == APPROVE_MANUAL;
}

/* Refuses, before anything is stored or issued, a request whose SUCCESS its signer could not
 * open (a signer key that takes neither key transport nor key agreement, and no challenge). */
static int undeliverable(exchange *x)
{
    int wait = waits(x);
    if (scep_reply_deliverable(x->req, wait ? NULL : x->password) == SCEP_OK)
        return 0;
    const char *type = EVP_PKEY_get0_type_name(X509_get0_pubkey(x->req->signer_cert));
    snprintf(x->why, sizeof(x->why), "a reply%s cannot be encrypted to the signer's %s key: %s",
             wait ? " to a poll (which carries no challenge)" : "", type ? type : "unknown",
             wait ? "sign with an RSA or EC key"
                  : "sign with an RSA or EC key, or send a challenge password");
    exchange_fail(x, SCEP_E_BAD_ALG, x->why);
    return 1;
}

/* The hash of the CSR as sent, and the key ids of the request and its signer. */
static void identify(exchange *x, char key_id[STORE_KEY_ID])
{
    unsigned char *der = NULL;
    int n = i2d_X509_REQ(x->req->csr, &der);
    if (n > 0)
        store_sha256_hex(der, (size_t)n, x->csr_hash);
    OPENSSL_free(der);
    ca_key_id(X509_REQ_get_X509_PUBKEY(x->req->csr), key_id, STORE_KEY_ID);
    if (x->separate_signer || x->renewing != NULL)
        ca_key_id(X509_get_X509_PUBKEY(x->req->signer_cert), x->signer_key_id,
                  sizeof(x->signer_key_id));
    else
        memcpy(x->signer_key_id, key_id, STORE_KEY_ID);
}

void enroll_request(exchange *x)
{
    scep_err err;
    const char *why = signer_problem(x, &err);
    if (why != NULL) {
        exchange_fail(x, err, why);
        return;
    }
    if (scep_csr_challenge_password(x->req->csr, x->password, sizeof(x->password)) != SCEP_OK)
        x->password[0] = '\0';
    if (undeliverable(x))
        return;
    char key_id[STORE_KEY_ID];
    identify(x, key_id);
    store_request existing = {0};
    store_status s = x->st->ops->request_get(x->st, x->key, &existing);
    if (s == STORE_OK)
        known_transaction(x, &existing, key_id);
    else if (s == STORE_NOT_FOUND)
        new_request(x, key_id);
    else
        exchange_store_down(x, s);
    store_request_clear(&existing);
}
