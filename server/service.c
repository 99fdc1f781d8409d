/* Dispatch by operation, and the answers that do not depend on the request. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crl.h"
#include "server.h"

void reply_init(reply *r)
{
    memset(r, 0, sizeof(*r));
    r->fail_info = SCEP_FAIL_INFO_NONE;
    r->outcome = "error";
}

void reply_free(reply *r)
{
    if (!r->body_static)
        OPENSSL_free(r->body);
    r->body = NULL;
}

void reply_text(reply *r, int status, const char *text)
{
    reply_free(r);
    size_t n = strlen(text);
    r->body = OPENSSL_malloc(n + 1);
    if (r->body != NULL) {
        memcpy(r->body, text, n);
        r->body[n] = '\n';
        r->body_len = n + 1;
    }
    r->body_static = 0;
    r->http_status = status;
    r->content_type = "text/plain";
    r->outcome = "error";
    snprintf(r->detail, sizeof(r->detail), "%s", text);
}

static void reply_static(reply *r, const void *body, size_t len, const char *type)
{
    r->http_status = 200;
    r->content_type = type;
    r->body = (unsigned char *)(uintptr_t)body;
    r->body_len = len;
    r->body_static = 1;
    r->outcome = "ok";
}

static scep_caps configured_caps(const config *c)
{
    /* SHA-384 too: strongSwan 5.9.8 accepts AES only when it sees SHA-384 (INTEROP.md). */
    scep_caps caps = SCEP_CAP_AES | SCEP_CAP_DES3 | SCEP_CAP_POST_PKI_OPERATION | SCEP_CAP_SHA1 |
                     SCEP_CAP_RENEWAL | SCEP_CAP_SHA256 | SCEP_CAP_SHA384 | SCEP_CAP_SHA512 |
                     SCEP_CAP_SCEP_STANDARD;
    (void)c;
    return caps;
}

static int build_ca_bodies(server *srv, char *err, size_t errlen)
{
    scep_err e = SCEP_OK;
    if (srv->ca.ra_cert == NULL) {
        unsigned char *der = NULL;
        int n = i2d_X509(srv->ca.cert, &der);
        srv->ca_body = der;
        srv->ca_body_len = n > 0 ? (size_t)n : 0;
        srv->ca_body_type = SCEP_CT_CA_CERT;
        e = n > 0 ? SCEP_OK : SCEP_E_INTERNAL;
    } else {
        /* RA first: clients that take the first certificate find the one to encrypt to. */
        STACK_OF(X509) *certs = sk_X509_new_null();
        sk_X509_push(certs, srv->ca.ra_cert);
        for (int i = 0; srv->cfg.getcacert_include_ca && i < sk_X509_num(srv->ca.chain); i++)
            sk_X509_push(certs, sk_X509_value(srv->ca.chain, i));
        e = scep_certs_only_encode(srv->ctx, certs, NULL, &srv->ca_body, &srv->ca_body_len);
        srv->ca_body_type = SCEP_CT_CA_RA_CERT;
        sk_X509_free(certs);
    }
    if (e == SCEP_OK)
        e = scep_certs_only_encode(srv->ctx, srv->ca.chain, NULL, &srv->chain_body,
                                   &srv->chain_body_len);
    if (e != SCEP_OK)
        snprintf(err, errlen, "cannot encode the CA certificates: %s", scep_strerror(e));
    return e == SCEP_OK ? 0 : -1;
}

int server_init(server *srv, const config *cfg, char *err, size_t errlen)
{
    memset(srv, 0, sizeof(*srv));
    srv->cfg = *cfg;
    scep_ctx_options opts = {.allow_legacy = cfg->legacy_algorithms};
    if (scep_ctx_new(&opts, &srv->ctx) != SCEP_OK) {
        snprintf(err, errlen, "cannot create the protocol context");
        return -1;
    }
    if (ca_load(&srv->ca, cfg, err, errlen) != 0)
        goto fail;
    srv->caps = configured_caps(cfg);
    if (scep_caps_format(srv->caps, &srv->caps_text, &srv->caps_len) != SCEP_OK) {
        snprintf(err, errlen, "cannot format the capabilities");
        goto fail;
    }
    if (build_ca_bodies(srv, err, errlen) != 0)
        goto fail;
    return 0;
fail:
    server_free(srv);
    return -1;
}

void server_free(server *srv)
{
    ca_free(&srv->ca);
    scep_ctx_free(srv->ctx);
    free(srv->caps_text);
    OPENSSL_free(srv->ca_body);
    OPENSSL_free(srv->chain_body);
    OPENSSL_cleanse(srv->cfg.challenge, sizeof(srv->cfg.challenge));
    memset(srv, 0, sizeof(*srv));
}

void service_handle(const server *srv, store *st, const scep_http_request *req, reply *out)
{
    switch (req->operation) {
    case SCEP_OP_GET_CA_CAPS:
        reply_static(out, srv->caps_text, srv->caps_len, SCEP_CT_CAPS);
        return;
    case SCEP_OP_GET_CA_CERT:
        /* The message names a CA; there is one, so it is accepted and ignored. */
        reply_static(out, srv->ca_body, srv->ca_body_len, srv->ca_body_type);
        return;
    case SCEP_OP_GET_CA_CERT_CHAIN:
        reply_static(out, srv->chain_body, srv->chain_body_len, SCEP_CT_CA_RA_CERT_CHAIN);
        return;
    case SCEP_OP_GET_NEXT_CA_CERT:
        reply_text(out, 404, "no next CA certificate is prepared");
        return;
    case SCEP_OP_PKI_OPERATION:
        enroll_handle(srv, st, req->message, req->message_len, out);
        return;
    default:
        reply_text(out, 400, "unknown operation");
        return;
    }
}

void service_crl(const server *srv, store *st, reply *out)
{
    store_crl rec = {0};
    char err[256];
    if (crl_current(&srv->ca, &srv->cfg, st, 0, &rec, err, sizeof(err)) != 0) {
        reply_text(out, 503, err);
        return;
    }
    reply_free(out);
    out->body = OPENSSL_memdup(rec.der, rec.der_len);
    out->body_len = out->body ? rec.der_len : 0;
    out->body_static = 0;
    out->http_status = out->body ? 200 : 500;
    out->content_type = SCEP_CT_CRL;
    out->outcome = "ok";
    store_crl_clear(&rec);
}
