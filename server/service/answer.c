/* The answers every PKIOperation message type gives: a signed CertRep, a FAILURE, or an HTTP
 * error when the store or the CA cannot serve. */
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "ca/ca_health.h"
#include "log/log.h"
#include "service/exchange.h"
#include "service/store_health.h"

int exchange_answer_with(exchange *x, scep_pki_status status, int fail_info, const char *text,
                         X509 *cert, X509_CRL *crl)
{
    STACK_OF(X509) *certs = cert ? sk_X509_new_null() : NULL;
    STACK_OF(X509_CRL) *crls = crl ? sk_X509_CRL_new_null() : NULL;
    if (cert != NULL)
        sk_X509_push(certs, cert);
    if (crl != NULL)
        sk_X509_CRL_push(crls, crl);
    const authority *ca = x->ca;
    X509 *signer_cert = NULL;
    EVP_PKEY *signer_key = NULL;
    ca_reply_signer(ca, x->req ? x->req->signer_cert : NULL, &signer_cert, &signer_key);
    scep_reply_params rp = {.status = status,
                            .fail_info = fail_info,
                            .fail_info_text = text,
                            .certs = certs,
                            .crls = crls,
                            .signer_cert = signer_cert,
                            .signer_key = signer_key,
                            .password = x->password[0] ? x->password : NULL};
    reply *out = x->out;
    reply_free(out); /* what was built before: a SUCCESS the store then refused */
    scep_err e = scep_reply_encode(x->srv->ctx, x->req, &rp, &out->body, &out->body_len);
    sk_X509_free(certs);
    sk_X509_CRL_free(crls);
    if (e != SCEP_OK) {
        /* Our own key failed: a token that is gone is the server's trouble, for a while. */
        char why[200];
        int down = ca_keys_ready(why, sizeof(why));
        if (down > 0)
            kill(getpid(), SIGHUP); /* back: `serve` reloads, which opens its keys again */
        if (down != 0)
            reply_text(out, 503, why);
        else
            reply_text(out, 500, "cannot build the CertRep");
        return -1;
    }
    out->http_status = 200;
    out->content_type = SCEP_CT_PKI_MESSAGE;
    out->outcome = scep_pki_status_name(status);
    out->fail_info = status == SCEP_STATUS_FAILURE ? fail_info : SCEP_FAIL_INFO_NONE;
    snprintf(out->detail, sizeof(out->detail), "%s", text ? text : x->note ? x->note : "");
    return 0;
}

int exchange_answer(exchange *x, scep_pki_status status, int fail_info, const char *text,
                    X509 *cert)
{
    return exchange_answer_with(x, status, fail_info, text, cert, NULL);
}

void exchange_fail(exchange *x, scep_err err, const char *text)
{
    int fi = scep_err_fail_info(err);
    exchange_answer(x, SCEP_STATUS_FAILURE, fi == SCEP_FAIL_INFO_NONE ? SCEP_FAIL_BAD_REQUEST : fi,
                    text ? text : scep_strerror(err), NULL);
}

void exchange_store_down(exchange *x, store_status s)
{
    /* The operator learns why once (store_health.h). */
    store_health_failed(x->srv->cfg.log_format, x->st->ops->last_error(x->st));
    reply_text(x->out, 503,
               s == STORE_BUSY ? "certificate store busy, retry later"
                               : "certificate store unavailable");
}

X509 *exchange_cert_from_store(exchange *x, const char *serial)
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

void exchange_answer_issued(exchange *x, const char *serial)
{
    X509 *cert = exchange_cert_from_store(x, serial);
    if (cert == NULL) {
        reply_text(x->out, 503, "issued certificate not readable from the store");
        return;
    }
    exchange_answer(x, SCEP_STATUS_SUCCESS, 0, NULL, cert);
    X509_free(cert);
}

int exchange_ca_refuses(exchange *x)
{
    char why[192], line[300];
    if (ca_cannot_issue(x->ca, (int64_t)time(NULL), why, sizeof(why)) == 0)
        return 0;
    snprintf(line, sizeof(line), "refused to issue (transaction %.64s): %s", x->req->transaction_id,
             why);
    log_error(stdout, x->srv->cfg.log_format, line);
    exchange_answer(x, SCEP_STATUS_FAILURE, SCEP_FAIL_BAD_REQUEST, why, NULL);
    return 1;
}
