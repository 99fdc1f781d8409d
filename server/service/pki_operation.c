/*
 * PKIOperation: verify and open the pkiMessage, and hand it to its message type (enroll.c,
 * poll.c, get_cert.c, get_crl.c), which answers with a signed CertRep.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "keys/keys.h"
#include "service/enroll.h"
#include "service/exchange.h"

static void dispatch(exchange *x)
{
    switch (x->req->type) {
    case SCEP_MSG_PKCS_REQ:
    case SCEP_MSG_RENEWAL_REQ:
        enroll_request(x);
        return;
    case SCEP_MSG_CERT_POLL:
        poll_request(x);
        return;
    case SCEP_MSG_GET_CERT:
        get_cert_request(x);
        return;
    case SCEP_MSG_GET_CRL:
        get_crl_request(x);
        return;
    default:
        exchange_fail(x, SCEP_E_UNKNOWN_MSG_TYPE, "a CertRep is not a request");
        return;
    }
}

static scep_err open_envelope(exchange *x, scep_diag *diag)
{
    const authority *ca = x->ca;
    /* Clients may encrypt to any generation they know: current, next, or previous (and the
     * RA before the last ra-renew or switch). */
    scep_recipient keys[6];
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
    if (ca->prev.ra_cert != NULL)
        keys[n++] = (scep_recipient){ca->prev.ra_cert, ca->prev.ra_key};
    for (size_t i = 0; i < n; i++)
        keys[i].key = key_for_thread(keys[i].key);
    scep_decrypt_options d = {.recipients = keys, .n_recipients = n, .csr_key_from_signer = 1};
    return scep_msg_decrypt(x->srv->ctx, x->req, &d, diag);
}

void enroll_handle(const server *srv, const era *now, store *st, const unsigned char *der,
                   size_t len, reply *out)
{
    profile alone;
    const profile *p = server_profile(srv, out->profile, &alone);
    if (p == NULL) {
        reply_text(out, 404, "no such profile on this server");
        return;
    }
    exchange x = {.srv = srv, .prof = p, .cfg = p->cfg, .ca = &now->ca, .st = st, .out = out};
    scep_diag diag = {{0}};
    /* Whatever is wrong once the signed attributes verified is answered in SCEP. */
    scep_open_options oo = {.keep_refused = 1};
    scep_err e = scep_msg_open(srv->ctx, der, len, &oo, &x.req, &diag);
    if (x.req == NULL) {
        /* Nothing verified to answer to: an HTTP error. */
        int status = scep_err_http_status(e);
        reply_text(out, status == 200 ? 400 : status, diag.text[0] ? diag.text : scep_strerror(e));
        return;
    }
    out->msg_type = (int)x.req->type;
    snprintf(out->transaction_id, sizeof(out->transaction_id), "%s", x.req->transaction_id);
    if (e == SCEP_OK)
        e = scep_msg_check_time(x.req, time(NULL), srv->cfg.max_clock_skew);
    if (e == SCEP_OK)
        e = open_envelope(&x, &diag);
    if (e != SCEP_OK)
        exchange_fail(&x, e, diag.text[0] ? diag.text : NULL);
    else if (strstr(x.req->transaction_id, PROFILE_KEY_MARK) != NULL)
        exchange_fail(&x, SCEP_E_BAD_CSR, "the transactionID holds '" PROFILE_KEY_MARK "'");
    else
        dispatch(&x);
    OPENSSL_cleanse(x.password, sizeof(x.password));
    scep_msg_free(x.req);
    if (p == &alone)
        profile_clear(&alone);
}
