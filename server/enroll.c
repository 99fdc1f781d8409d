/*
 * PKIOperation: verify and open the pkiMessage, apply policy, keep the transaction in the store
 * (RFC 8894 section 3.3, draft Appendix E), and answer with a signed CertRep.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "challenge.h"
#include "crl.h"
#include "renewal.h"
#include "server.h"

typedef struct exchange {
    const server *srv;
    const authority *ca; /* the CA of the era in force */
    store *st;
    scep_msg *req;
    reply *out;
    char password[CONFIG_SECRET]; /* the CSR's challenge, for replies to EC requesters */
    X509 *renewing;               /* the certificate being renewed (borrowed), or NULL */
    char key[STORE_TID];          /* the transaction's key in the store */
    char why[192];                /* room for a composed failInfoText */
} exchange;

static void answer_with(exchange *x, scep_pki_status status, int fail_info, const char *text,
                        X509 *cert, X509_CRL *crl)
{
    STACK_OF(X509) *certs = cert ? sk_X509_new_null() : NULL;
    STACK_OF(X509_CRL) *crls = crl ? sk_X509_CRL_new_null() : NULL;
    if (cert != NULL)
        sk_X509_push(certs, cert);
    if (crl != NULL)
        sk_X509_CRL_push(crls, crl);
    const authority *ca = x->ca;
    scep_reply_params rp = {.status = status,
                            .fail_info = fail_info,
                            .fail_info_text = text,
                            .certs = certs,
                            .crls = crls,
                            .signer_cert = ca_reply_cert(ca),
                            .signer_key = ca_reply_key(ca),
                            .password = x->password[0] ? x->password : NULL};
    reply *out = x->out;
    scep_err e = scep_reply_encode(x->srv->ctx, x->req, &rp, &out->body, &out->body_len);
    sk_X509_free(certs);
    sk_X509_CRL_free(crls);
    if (e != SCEP_OK) {
        reply_text(out, 500, "cannot build the CertRep");
        return;
    }
    out->http_status = 200;
    out->content_type = SCEP_CT_PKI_MESSAGE;
    out->outcome = scep_pki_status_name(status);
    out->fail_info = status == SCEP_STATUS_FAILURE ? fail_info : SCEP_FAIL_INFO_NONE;
    snprintf(out->detail, sizeof(out->detail), "%s", text ? text : "");
}

static void answer(exchange *x, scep_pki_status status, int fail_info, const char *text, X509 *cert)
{
    answer_with(x, status, fail_info, text, cert, NULL);
}

static void fail(exchange *x, scep_err err, const char *text)
{
    int fi = scep_err_fail_info(err);
    answer(x, SCEP_STATUS_FAILURE, fi == SCEP_FAIL_INFO_NONE ? SCEP_FAIL_BAD_REQUEST : fi,
           text ? text : scep_strerror(err), NULL);
}

/* The store could not answer: a local condition the client may retry, not a FAILURE. */
static void store_down(exchange *x, store_status s)
{
    reply_text(x->out, 503,
               s == STORE_BUSY ? "certificate store busy, retry later"
                               : "certificate store unavailable");
}

static X509 *cert_from_store(exchange *x, const char *serial)
{
    store_cert rec = {0};
    store_status s = x->st->ops->cert_get(x->st, serial, &rec);
    if (s != STORE_OK)
        return NULL;
    const unsigned char *p = rec.der;
    X509 *cert = d2i_X509(NULL, &p, (long)rec.der_len);
    store_cert_clear(&rec);
    return cert;
}

static void answer_issued(exchange *x, const char *serial)
{
    X509 *cert = cert_from_store(x, serial);
    if (cert == NULL) {
        reply_text(x->out, 503, "issued certificate not readable from the store");
        return;
    }
    answer(x, SCEP_STATUS_SUCCESS, 0, NULL, cert);
    X509_free(cert);
}

static void resume(exchange *x, const store_request *r);

/*
 * The store key of this transaction. Clients derive transactionIDs from the public key
 * (micromdm, strongSwan), so a renewal with the same key repeats the first enrollment's ID;
 * keying renewals by ID and renewed serial keeps each renewal its own transaction while a
 * resend of the same renewal still finds it.
 */
static void set_store_key(exchange *x, X509 *renewing)
{
    if (renewing == NULL) {
        snprintf(x->key, sizeof(x->key), "%s", x->req->transaction_id);
        return;
    }
    char serial[STORE_HEX_SERIAL];
    ca_serial_hex(renewing, serial, sizeof(serial));
    snprintf(x->key, sizeof(x->key), "%s~%s", x->req->transaction_id, serial);
}

/* The renewed certificate is superseded (or, by policy, revoked as superseded). */
static void supersede(exchange *x)
{
    char serial[STORE_HEX_SERIAL];
    ca_serial_hex(x->renewing, serial, sizeof(serial));
    int revoke = x->srv->cfg.renewal_revoke_old;
    store_status s = x->st->ops->cert_set_state(
        x->st, serial, revoke ? CERT_REVOKED : CERT_SUPERSEDED, revoke ? (int64_t)time(NULL) : 0,
        revoke ? 4 /* superseded */ : -1);
    if (s == STORE_OK)
        x->st->ops->event_add(x->st, revoke ? "revoke" : "supersede", serial,
                              x->req->transaction_id);
}

/*
 * The certificate for csr, from the current CA. While a rollover is prepared, a renewal gets a
 * "shadow" certificate from the next CA instead, valid from the switch, so the client holds a
 * certificate for each side of it.
 */
static X509 *issue_cert(exchange *x, X509_REQ *csr, char *why, size_t len)
{
    const authority *ca = x->ca;
    if (x->renewing == NULL || ca->next.cert == NULL)
        return ca_issue(ca, csr, &x->srv->cfg, why, len);
    /* Only a certificate that lasts until the switch needs its successor from the next CA;
     * one that ends earlier is renewed by the current CA, or the device would be left without
     * a valid certificate until the switch. */
    int64_t switch_at = ca_unix_time(X509_get0_notBefore(ca->next.cert));
    if (ca_unix_time(X509_get0_notAfter(x->renewing)) < switch_at)
        return ca_issue(ca, csr, &x->srv->cfg, why, len);
    authority next = {.cert = ca->next.cert, .key = ca->next.key};
    return ca_issue_at(&next, csr, &x->srv->cfg, switch_at, why, len);
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
 * already holds one (up to three certificates); answers SUCCESS once it is stored. Returns the
 * store's last verdict, or STORE_EXISTS with a reason in why when no certificate could be made
 * or kept.
 */
static store_status issue_and_store(exchange *x, X509_REQ *csr, const store_request *r,
                                    store_issued_fn put, void *arg, char *why, size_t len)
{
    for (int attempt = 0; csr != NULL && attempt < 3; attempt++) {
        X509 *cert = issue_cert(x, csr, why, len);
        if (cert == NULL)
            break;
        store_cert rec;
        record_for(cert, r, &rec);
        store_status s = put(x, r, &rec, arg);
        OPENSSL_free(rec.der);
        if (s == STORE_OK && x->renewing != NULL)
            supersede(x);
        if (s == STORE_OK)
            answer(x, SCEP_STATUS_SUCCESS, 0, NULL, cert);
        X509_free(cert);
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
        answer(x, SCEP_STATUS_FAILURE, SCEP_FAIL_BAD_REQUEST, why, NULL);
    } else if (s == STORE_CONFLICT) {
        /* Another worker or process moved it first: answer what it decided. */
        store_request now = {0};
        if (x->st->ops->request_get_by_id(x->st, r->id, &now) == STORE_OK &&
            now.state != REQUEST_APPROVED)
            resume(x, &now);
        else
            reply_text(x->out, 503, "transaction changed while issuing, retry");
        store_request_clear(&now);
    } else if (s != STORE_OK) {
        store_down(x, s);
    }
}

static void taken_meanwhile(exchange *x, const store_request *stored, const char *key_id);

/* arg: the store_request the store holds under the transactionID when it is taken. */
static store_status put_with_request(exchange *x, const store_request *r, const store_cert *rec,
                                     void *arg)
{
    store_request *stored = arg;
    store_request_clear(stored);
    return x->st->ops->request_issue(x->st, r, rec, stored);
}

/* A new request under automatic approval: the certificate and the request go to the store in
 * one commit, already ISSUED, so no other exchange ever sees it half done. */
static void issue_new(exchange *x, const store_request *r)
{
    char why[160] = "cannot issue";
    store_request stored = {0};
    store_status s =
        issue_and_store(x, x->req->csr, r, put_with_request, &stored, why, sizeof(why));
    if (s == STORE_EXISTS)
        answer(x, SCEP_STATUS_FAILURE, SCEP_FAIL_BAD_REQUEST, why, NULL);
    else if (s == STORE_CONFLICT)
        taken_meanwhile(x, &stored, r->key_id);
    else if (s != STORE_OK)
        store_down(x, s);
    store_request_clear(&stored);
}

/* Answers from the transaction's stored state: the same answer every time it is asked. */
static void resume(exchange *x, const store_request *r)
{
    switch (r->state) {
    case REQUEST_PENDING:
        answer(x, SCEP_STATUS_PENDING, 0, NULL, NULL);
        return;
    case REQUEST_REJECTED:
        answer(x, SCEP_STATUS_FAILURE, SCEP_FAIL_BAD_REQUEST,
               r->reason[0] ? r->reason : "rejected by the operator", NULL);
        return;
    case REQUEST_APPROVED:
        issue(x, r);
        return;
    case REQUEST_ISSUED:
        answer_issued(x, r->cert_serial);
        return;
    }
    reply_text(x->out, 503, "transaction in an unknown state");
}

static int is_self_signed(X509 *cert)
{
    if (X509_NAME_cmp(X509_get_subject_name(cert), X509_get_issuer_name(cert)) != 0)
        return 0;
    ERR_set_mark();
    int ok = X509_verify(cert, X509_get0_pubkey(cert)) == 1;
    ERR_pop_to_mark();
    return ok;
}

static int issued_by_us(const exchange *x, X509 *cert)
{
    return ca_issued(x->ca, cert);
}

/*
 * The signer must be the requester itself (self-signed, same key: an initial enrollment) or a
 * certificate this CA issued (a renewal, which the renewal policy must allow).
 */
static const char *signer_problem(exchange *x, scep_err *err)
{
    X509 *signer = x->req->signer_cert;
    *err = SCEP_E_UNTRUSTED_SIGNER;
    set_store_key(x, NULL);
    if (is_self_signed(signer)) {
        if (x->req->type == SCEP_MSG_RENEWAL_REQ) {
            *err = SCEP_E_BAD_CSR;
            return "a RenewalReq must be signed by the certificate it renews";
        }
        return EVP_PKEY_eq(X509_get0_pubkey(signer), x->req->csr_key) == 1
                   ? NULL
                   : "the self-signed signer's key is not the request's key";
    }
    if (!issued_by_us(x, signer))
        return "the signer certificate was not issued by this CA";
    x->renewing = signer;
    set_store_key(x, signer);
    return renewal_problem(x->srv, x->st, signer, x->req->csr, x->req->csr_key, time(NULL), err,
                           x->why, sizeof(x->why));
}

static scep_err key_policy(const config *c, EVP_PKEY *key, const char **why)
{
    if (EVP_PKEY_is_a(key, "RSA")) {
        *why = "RSA key shorter than the minimum";
        return EVP_PKEY_get_bits(key) >= c->min_rsa_bits ? SCEP_OK : SCEP_E_BAD_ALG;
    }
    if (EVP_PKEY_is_a(key, "EC")) {
        *why = c->allow_ec ? "EC key below P-256" : "EC keys are not accepted";
        return c->allow_ec && EVP_PKEY_get_bits(key) >= 256 ? SCEP_OK : SCEP_E_BAD_ALG;
    }
    *why = "key type not accepted";
    return SCEP_E_BAD_ALG;
}

static const char *policy_problem(exchange *x, scep_err *err)
{
    const char *why = NULL;
    X509_REQ *csr = x->req->csr;
    *err = key_policy(&x->srv->cfg, x->req->csr_key, &why);
    if (*err != SCEP_OK)
        return why;
    *err = SCEP_E_BAD_CSR;
    if (X509_NAME_entry_count(X509_REQ_get_subject_name(csr)) == 0)
        return "the request has an empty subject";
    *err = SCEP_OK;
    return NULL;
}

/* The challenge, last of the checks since a one-time challenge is spent by it. A renewal is
 * vouched for by its certificate, but a challenge it carries must still be right. */
static const char *challenge_refused(exchange *x, const char *subject)
{
    if (x->renewing != NULL && x->password[0] == '\0')
        return NULL;
    challenge_result r = challenge_check(x->srv, x->st, x->password, subject);
    return r >= 0 ? NULL : challenge_problem(r);
}

static int overlapping(exchange *x, const char *subject)
{
    if (!x->srv->cfg.unique_subject)
        return 0;
    store_cert held = {0};
    store_status s =
        x->st->ops->cert_find_valid_by_subject(x->st, subject, (int64_t)time(NULL), &held);
    store_cert_clear(&held);
    return s == STORE_OK;
}

static int same_csr(const exchange *x, const store_request *r);

static void new_request(exchange *x, const char *key_id)
{
    scep_err err;
    const char *why = policy_problem(x, &err);
    if (why != NULL) {
        fail(x, err, why);
        return;
    }
    store_request r = {0}, stored = {0};
    snprintf(r.transaction_id, sizeof(r.transaction_id), "%s", x->key);
    snprintf(r.key_id, sizeof(r.key_id), "%s", key_id);
    ca_name_text(X509_REQ_get_subject_name(x->req->csr), r.subject, sizeof(r.subject));
    if (overlapping(x, r.subject)) {
        fail(x, SCEP_E_BAD_CSR, "overlapping certificate");
        return;
    }
    if ((why = challenge_refused(x, r.subject)) != NULL) {
        /* A duplicate of this very request may have spent the one-time challenge a moment
         * ago: then this is a resend, and gets that transaction's answer. */
        store_request dup = {0};
        if (x->st->ops->request_get(x->st, x->key, &dup) == STORE_OK &&
            strcmp(dup.key_id, key_id) == 0 && same_csr(x, &dup))
            resume(x, &dup);
        else
            fail(x, SCEP_E_BAD_CSR, why);
        store_request_clear(&dup);
        return;
    }
    r.message_type = (int)x->req->type;
    /* Kept hashed: the draft's manual revocation check asks the caller for it again. */
    if (x->password[0] != '\0')
        challenge_hash(x->password, r.challenge_hash);
    unsigned char *der = NULL;
    int n = i2d_X509_REQ(x->req->csr, &der);
    r.csr_der = der;
    r.csr_len = n > 0 ? (size_t)n : 0;
    approve_mode mode = x->renewing ? x->srv->cfg.renewal_approve : x->srv->cfg.approve;
    if (mode == APPROVE_AUTO) {
        issue_new(x, &r);
        OPENSSL_free(der);
        return;
    }
    r.state = REQUEST_PENDING;
    store_status s = x->st->ops->request_put(x->st, &r, &stored);
    OPENSSL_free(der);
    if (s == STORE_EXISTS)
        taken_meanwhile(x, &stored, key_id);
    else if (s == STORE_OK)
        resume(x, &stored);
    else
        store_down(x, s);
    store_request_clear(&stored);
}

/* Another exchange stored this transaction first. The same request (a resend racing this one)
 * gets that transaction's answer; a different one is refused. */
static void taken_meanwhile(exchange *x, const store_request *stored, const char *key_id)
{
    if (strcmp(stored->key_id, key_id) != 0 || !same_csr(x, stored))
        fail(x, SCEP_E_BAD_CSR, "another request took this transactionID a moment ago");
    else
        resume(x, stored);
}

/* Whether r holds exactly this request's CSR: then the message is a resend. */
static int same_csr(const exchange *x, const store_request *r)
{
    unsigned char *der = NULL;
    int n = i2d_X509_REQ(x->req->csr, &der);
    int same = n > 0 && (size_t)n == r->csr_len && memcmp(der, r->csr_der, (size_t)n) == 0;
    OPENSSL_free(der);
    return same;
}

/*
 * A finished transaction (issued or rejected) whose ID comes back with another request from
 * the same key: clients that derive the ID from the key (ours, strongSwan, micromdm) do this
 * for a new subject or a corrected challenge. It becomes its own transaction, keyed by the ID
 * and a hash of the request, so that its own resends still find it.
 */
static void rekey_for_new_request(exchange *x)
{
    unsigned char *der = NULL;
    int n = i2d_X509_REQ(x->req->csr, &der);
    unsigned char md[32];
    char hex[17];
    static const char digits[] = "0123456789ABCDEF";
    if (n <= 0 || EVP_Digest(der, (size_t)n, md, NULL, EVP_sha256(), NULL) != 1)
        memset(md, 0, sizeof(md));
    OPENSSL_free(der);
    for (int i = 0; i < 8; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[16] = '\0';
    size_t used = strnlen(x->key, sizeof(x->key));
    snprintf(x->key + used, sizeof(x->key) - used, "#%s", hex);
}

/* Answers a request whose transaction key is known: a resend gets the same answer. */
static void known_transaction(exchange *x, const store_request *existing, const char *key_id)
{
    if (strcmp(existing->key_id, key_id) != 0) {
        fail(x, SCEP_E_BAD_CSR, "transactionID is in use with another key");
        return;
    }
    if (same_csr(x, existing)) {
        resume(x, existing); /* micromdm's client polls this way */
        return;
    }
    if (existing->state == REQUEST_PENDING || existing->state == REQUEST_APPROVED) {
        fail(x, SCEP_E_BAD_CSR, "another request is pending under this transactionID");
        return;
    }
    rekey_for_new_request(x);
    store_request again = {0};
    store_status s = x->st->ops->request_get(x->st, x->key, &again);
    if (s == STORE_OK && same_csr(x, &again))
        resume(x, &again);
    else if (s == STORE_OK)
        fail(x, SCEP_E_BAD_CSR, "transactionID is in use with another request");
    else if (s == STORE_NOT_FOUND)
        new_request(x, key_id);
    else
        store_down(x, s);
    store_request_clear(&again);
}

static void on_enrollment(exchange *x)
{
    scep_err err;
    const char *why = signer_problem(x, &err);
    if (why != NULL) {
        fail(x, err, why);
        return;
    }
    if (scep_csr_challenge_password(x->req->csr, x->password, sizeof(x->password)) != SCEP_OK)
        x->password[0] = '\0';
    char key_id[STORE_KEY_ID];
    ca_key_id(X509_REQ_get_X509_PUBKEY(x->req->csr), key_id, sizeof(key_id));
    store_request existing = {0};
    store_status s = x->st->ops->request_get(x->st, x->key, &existing);
    if (s == STORE_OK)
        known_transaction(x, &existing, key_id);
    else if (s == STORE_NOT_FOUND)
        new_request(x, key_id);
    else
        store_down(x, s);
    store_request_clear(&existing);
}

static void on_poll(exchange *x)
{
    X509 *signer = x->req->signer_cert;
    set_store_key(x, !is_self_signed(signer) && issued_by_us(x, signer) ? signer : NULL);
    store_request r = {0};
    store_status s = x->st->ops->request_get(x->st, x->key, &r);
    char key_id[STORE_KEY_ID];
    ca_key_id(X509_get_X509_PUBKEY(x->req->signer_cert), key_id, sizeof(key_id));
    if (s == STORE_NOT_FOUND)
        fail(x, SCEP_E_BAD_CERT_ID, "unknown transactionID");
    else if (s != STORE_OK)
        store_down(x, s);
    else if (strcmp(r.key_id, key_id) != 0)
        fail(x, SCEP_E_BAD_CSR, "the transaction belongs to another key");
    else {
        const unsigned char *p = r.csr_der;
        X509_REQ *csr = d2i_X509_REQ(NULL, &p, (long)r.csr_len);
        if (csr == NULL ||
            scep_csr_challenge_password(csr, x->password, sizeof(x->password)) != SCEP_OK)
            x->password[0] = '\0';
        X509_REQ_free(csr);
        resume(x, &r);
    }
    store_request_clear(&r);
}

static void on_get_cert(exchange *x)
{
    char serial[STORE_HEX_SERIAL] = "";
    BIGNUM *bn = ASN1_INTEGER_to_BN(x->req->serial, NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    if (hex != NULL && strlen(hex) < sizeof(serial))
        memcpy(serial, hex, strlen(hex) + 1);
    OPENSSL_free(hex);
    BN_free(bn);
    X509 *cert = NULL;
    if (serial[0] != '\0' && X509_NAME_cmp(x->req->issuer, X509_get_subject_name(x->ca->cert)) == 0)
        cert = cert_from_store(x, serial);
    if (cert == NULL)
        fail(x, SCEP_E_BAD_CERT_ID, "no certificate with that issuer and serial number");
    else
        answer(x, SCEP_STATUS_SUCCESS, 0, NULL, cert);
    X509_free(cert);
}

/* Whether GetCRL asks about a certificate the previous CA generation issued: that one's CRL. */
static int issued_by_previous(exchange *x)
{
    if (x->ca->prev.cert == NULL)
        return 0;
    char serial[STORE_HEX_SERIAL] = "";
    BIGNUM *bn = ASN1_INTEGER_to_BN(x->req->serial, NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    if (hex != NULL && strlen(hex) < sizeof(serial))
        memcpy(serial, hex, strlen(hex) + 1);
    OPENSSL_free(hex);
    BN_free(bn);
    X509 *cert = serial[0] ? cert_from_store(x, serial) : NULL;
    ERR_set_mark();
    int prev = cert != NULL && X509_verify(cert, X509_get0_pubkey(x->ca->prev.cert)) == 1;
    ERR_pop_to_mark();
    X509_free(cert);
    return prev;
}

static void on_get_crl(exchange *x)
{
    if (X509_NAME_cmp(x->req->issuer, X509_get_subject_name(x->ca->cert)) != 0) {
        fail(x, SCEP_E_BAD_CERT_ID, "no CRL for that issuer");
        return;
    }
    store_crl rec = {0};
    char err[256];
    int prev = issued_by_previous(x);
    const ca_gen *g = &x->ca->prev;
    if ((prev ? crl_for_generation(x->ca, g->cert, g->key, &x->srv->cfg, x->st, 0, &rec, err,
                                   sizeof(err))
              : crl_current(x->ca, &x->srv->cfg, x->st, 0, &rec, err, sizeof(err))) != 0) {
        reply_text(x->out, 503, err);
        return;
    }
    const unsigned char *p = rec.der;
    X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)rec.der_len);
    if (crl == NULL)
        reply_text(x->out, 503, "the stored CRL is unreadable");
    else
        answer_with(x, SCEP_STATUS_SUCCESS, 0, NULL, NULL, crl);
    X509_CRL_free(crl);
    store_crl_clear(&rec);
}

static void dispatch(exchange *x)
{
    switch (x->req->type) {
    case SCEP_MSG_PKCS_REQ:
    case SCEP_MSG_RENEWAL_REQ:
        on_enrollment(x);
        return;
    case SCEP_MSG_CERT_POLL:
        on_poll(x);
        return;
    case SCEP_MSG_GET_CERT:
        on_get_cert(x);
        return;
    case SCEP_MSG_GET_CRL:
        on_get_crl(x);
        return;
    default:
        fail(x, SCEP_E_UNKNOWN_MSG_TYPE, "a CertRep is not a request");
        return;
    }
}

static scep_err open_envelope(exchange *x, scep_diag *diag)
{
    const authority *ca = x->ca;
    /* Clients may encrypt to any generation they know: current, next, or previous. */
    scep_recipient keys[5];
    size_t n = 0;
    if (ca->ra_cert != NULL)
        keys[n++] = (scep_recipient){ca->ra_cert, ca->ra_key};
    keys[n++] = (scep_recipient){ca->cert, ca->key};
    if (ca->next.ra_cert != NULL)
        keys[n++] = (scep_recipient){ca->next.ra_cert, ca->next.ra_key};
    if (ca->next.cert != NULL)
        keys[n++] = (scep_recipient){ca->next.cert, ca->next.key};
    if (ca->prev.cert != NULL)
        keys[n++] = (scep_recipient){ca->prev.cert, ca->prev.key};
    scep_decrypt_options d = {.recipients = keys, .n_recipients = n, .csr_key_from_signer = 1};
    return scep_msg_decrypt(x->srv->ctx, x->req, &d, diag);
}

void enroll_handle(const server *srv, const era *now, store *st, const unsigned char *der,
                   size_t len, reply *out)
{
    exchange x = {.srv = srv, .ca = &now->ca, .st = st, .out = out};
    scep_diag diag = {{0}};
    scep_err e = scep_msg_open(srv->ctx, der, len, NULL, &x.req, &diag);
    if (e != SCEP_OK) {
        /* Nothing verified to answer to: an HTTP error. */
        int status = scep_err_http_status(e);
        reply_text(out, status == 200 ? 400 : status, diag.text[0] ? diag.text : scep_strerror(e));
        return;
    }
    out->msg_type = (int)x.req->type;
    snprintf(out->transaction_id, sizeof(out->transaction_id), "%s", x.req->transaction_id);
    e = scep_msg_check_time(x.req, time(NULL), srv->cfg.max_clock_skew);
    if (e == SCEP_OK)
        e = open_envelope(&x, &diag);
    if (e != SCEP_OK)
        fail(&x, e, diag.text[0] ? diag.text : NULL);
    else
        dispatch(&x);
    OPENSSL_cleanse(x.password, sizeof(x.password));
    scep_msg_free(x.req);
}
