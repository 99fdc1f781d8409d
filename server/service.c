/* Dispatch by operation, and the answers that do not depend on the request. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

static scep_caps configured_caps(const authority *ca)
{
    /* SHA-384 too: strongSwan 5.9.8 accepts AES only when it sees SHA-384 (INTEROP.md). */
    scep_caps caps = SCEP_CAP_AES | SCEP_CAP_DES3 | SCEP_CAP_POST_PKI_OPERATION | SCEP_CAP_SHA1 |
                     SCEP_CAP_RENEWAL | SCEP_CAP_SHA256 | SCEP_CAP_SHA384 | SCEP_CAP_SHA512 |
                     SCEP_CAP_SCEP_STANDARD;
    if (ca->next.cert != NULL)
        caps |= SCEP_CAP_GET_NEXT_CA_CERT;
    return caps;
}

static scep_err encode_ca_body(const server *srv, era *e)
{
    const authority *ca = &e->ca;
    if (ca->ra_cert == NULL) {
        unsigned char *der = NULL;
        int n = i2d_X509(ca->cert, &der);
        e->ca_body = der;
        e->ca_body_len = n > 0 ? (size_t)n : 0;
        e->ca_body_type = SCEP_CT_CA_CERT;
        return n > 0 ? SCEP_OK : SCEP_E_INTERNAL;
    }
    /* RA first: clients that take the first certificate find the one to encrypt to. */
    STACK_OF(X509) *certs = sk_X509_new_null();
    sk_X509_push(certs, ca->ra_cert);
    for (int i = 0; srv->cfg.getcacert_include_ca && i < sk_X509_num(ca->chain); i++)
        sk_X509_push(certs, sk_X509_value(ca->chain, i));
    scep_err err = scep_certs_only_encode(srv->ctx, certs, NULL, &e->ca_body, &e->ca_body_len);
    e->ca_body_type = SCEP_CT_CA_RA_CERT;
    sk_X509_free(certs);
    return err;
}

/* GetNextCACert: the next CA (and its RA) in a certs-only message signed by the current CA. */
static scep_err encode_next_body(const server *srv, era *e)
{
    const authority *ca = &e->ca;
    if (ca->next.cert == NULL)
        return SCEP_OK;
    STACK_OF(X509) *certs = sk_X509_new_null();
    if (ca->next.ra_cert != NULL)
        sk_X509_push(certs, ca->next.ra_cert);
    sk_X509_push(certs, ca->next.cert);
    scep_err err = scep_next_ca_encode(srv->ctx, ca->cert, ca->key, SCEP_DIGEST_SHA256, certs,
                                       &e->next_body, &e->next_body_len);
    sk_X509_free(certs);
    return err;
}

static int build_era(const server *srv, era *e, char *err, size_t errlen)
{
    e->caps = configured_caps(&e->ca);
    scep_err x = scep_caps_format(e->caps, &e->caps_text, &e->caps_len);
    if (x == SCEP_OK)
        x = encode_ca_body(srv, e);
    if (x == SCEP_OK)
        x = scep_certs_only_encode(srv->ctx, e->ca.chain, NULL, &e->chain_body, &e->chain_body_len);
    if (x == SCEP_OK)
        x = encode_next_body(srv, e);
    if (x != SCEP_OK)
        snprintf(err, errlen, "cannot encode the CA certificates: %s", scep_strerror(x));
    return x == SCEP_OK ? 0 : -1;
}

static void free_era(era *e)
{
    ca_free(&e->ca);
    free(e->caps_text);
    OPENSSL_free(e->ca_body);
    OPENSSL_free(e->chain_body);
    OPENSSL_free(e->next_body);
    memset(e, 0, sizeof(*e));
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
    if (ca_load(&srv->eras[0].ca, cfg, err, errlen) != 0)
        goto fail;
    srv->n_eras = 1;
    if (build_era(srv, &srv->eras[0], err, errlen) != 0)
        goto fail;
    /* A prepared rollover: from the next CA's notBefore on, it is the current CA. */
    if (ca_switched(&srv->eras[0].ca, &srv->eras[1].ca) == 0) {
        srv->n_eras = 2;
        srv->switch_at = (time_t)ca_unix_time(X509_get0_notBefore(srv->eras[1].ca.cert));
        if (build_era(srv, &srv->eras[1], err, errlen) != 0)
            goto fail;
    }
    return 0;
fail:
    server_free(srv);
    return -1;
}

void server_free(server *srv)
{
    for (int i = 0; i < 2; i++)
        free_era(&srv->eras[i]);
    scep_ctx_free(srv->ctx);
    OPENSSL_cleanse(srv->cfg.challenge, sizeof(srv->cfg.challenge));
    memset(srv, 0, sizeof(*srv));
}

const era *server_era(const server *srv, time_t now)
{
    return srv->n_eras == 2 && now >= srv->switch_at ? &srv->eras[1] : &srv->eras[0];
}

void service_handle(const server *srv, store *st, const scep_http_request *req, reply *out)
{
    const era *e = server_era(srv, time(NULL));
    switch (req->operation) {
    case SCEP_OP_GET_CA_CAPS:
        reply_static(out, e->caps_text, e->caps_len, SCEP_CT_CAPS);
        return;
    case SCEP_OP_GET_CA_CERT:
        /* The message names a CA; there is one, so it is accepted and ignored. */
        reply_static(out, e->ca_body, e->ca_body_len, e->ca_body_type);
        return;
    case SCEP_OP_GET_CA_CERT_CHAIN:
        reply_static(out, e->chain_body, e->chain_body_len, SCEP_CT_CA_RA_CERT_CHAIN);
        return;
    case SCEP_OP_GET_NEXT_CA_CERT:
        if (e->next_body != NULL)
            reply_static(out, e->next_body, e->next_body_len, SCEP_CT_NEXT_CA_CERT);
        else
            reply_text(out, 404, "no next CA certificate is prepared");
        return;
    case SCEP_OP_PKI_OPERATION:
        enroll_handle(srv, e, st, req->message, req->message_len, out);
        return;
    default:
        reply_text(out, 400, "unknown operation");
        return;
    }
}

/* The generation of ca whose key id (ca_key_id) is key_id: current, previous or next. */
static const ca_gen *generation_by_key(const authority *ca, const char *key_id, ca_gen *current)
{
    *current = (ca_gen){.cert = ca->cert, .key = ca->key};
    const ca_gen *gens[3] = {current, &ca->prev, &ca->next};
    for (int i = 0; i < 3; i++) {
        char id[STORE_KEY_ID];
        if (gens[i]->cert != NULL &&
            ca_key_id(X509_get_X509_PUBKEY(gens[i]->cert), id, sizeof(id)) == 0 &&
            strcmp(id, key_id) == 0)
            return gens[i];
    }
    return NULL;
}

void service_crl(const server *srv, store *st, int previous, const char *key_id, reply *out)
{
    store_crl rec = {0};
    char err[256];
    const era *e = server_era(srv, time(NULL));
    ca_gen current;
    const ca_gen *g = key_id ? generation_by_key(&e->ca, key_id, &current) : NULL;
    if (key_id == NULL) {
        current = (ca_gen){.cert = e->ca.cert, .key = e->ca.key};
        g = previous ? &e->ca.prev : &current;
    }
    if (g == NULL || g->cert == NULL) {
        reply_text(out, 404,
                   key_id ? "no CA generation has this key id"
                          : "there is no previous CA generation");
        return;
    }
    if (crl_for_generation(&e->ca, g->cert, g->key, &srv->cfg, st, 0, &rec, err, sizeof(err)) !=
        0) {
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
