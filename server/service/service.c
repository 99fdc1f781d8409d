/* Dispatch by operation, and the answers that do not depend on the request. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ca/crl.h"
#include "service/enroll.h"
#include "service/server.h"

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

static scep_err encode_ca_body(const server *srv, const config *c, era *e)
{
    const authority *ca = &e->ca;
    int with_chain = c->getcacert_include_ca && sk_X509_num(ca->chain) > 1;
    if (ca->ra_cert == NULL && !with_chain) {
        unsigned char *der = NULL;
        int n = i2d_X509(ca->cert, &der);
        e->ca_body = der;
        e->ca_body_len = n > 0 ? (size_t)n : 0;
        e->ca_body_type = SCEP_CT_CA_CERT;
        return n > 0 ? SCEP_OK : SCEP_E_INTERNAL;
    }
    /* RA first: clients that take the first certificate find the one to encrypt to. A CA
     * with certificates above it sends them too (RFC 8894 section 4.2.1.2). */
    STACK_OF(X509) *certs = sk_X509_new_null();
    if (ca->ra_cert != NULL)
        sk_X509_push(certs, ca->ra_cert);
    /* Then the RA signing certificate, to verify CertReps with (sscep and strongSwan pick by
     * keyUsage); not in the RA-alone answer (micromdm's client encrypts to every one). */
    if (ca->ra_sign_cert != NULL && c->getcacert_include_ca)
        sk_X509_push(certs, ca->ra_sign_cert);
    for (int i = 0; (c->getcacert_include_ca || ca->ra_cert == NULL) && i < sk_X509_num(ca->chain);
         i++)
        sk_X509_push(certs, sk_X509_value(ca->chain, i));
    scep_err err = scep_certs_only_encode(srv->ctx, certs, NULL, &e->ca_body, &e->ca_body_len);
    e->ca_body_type = SCEP_CT_CA_RA_CERT;
    sk_X509_free(certs);
    return err;
}

/* GetNextCACert: the next CA (and its RA) in a certs-only message signed by the current CA, or
 * in RA mode by the current RA (jscep accepts no other signer then; RFC 8894 section 4.7.1
 * allows either). */
static scep_err encode_next_body(const server *srv, era *e)
{
    const authority *ca = &e->ca;
    if (ca->next.cert == NULL)
        return SCEP_OK;
    STACK_OF(X509) *certs = sk_X509_new_null();
    if (ca->next.ra_cert != NULL)
        sk_X509_push(certs, ca->next.ra_cert);
    sk_X509_push(certs, ca->next.cert);
    scep_err err = scep_next_ca_encode(srv->ctx, ca_reply_cert(ca), ca_reply_key(ca),
                                       SCEP_DIGEST_SHA256, certs, &e->next_body, &e->next_body_len);
    sk_X509_free(certs);
    return err;
}

static int build_era(const server *srv, const config *c, era *e, char *err, size_t errlen)
{
    e->caps = configured_caps(&e->ca);
    scep_err x = scep_caps_format(e->caps, &e->caps_text, &e->caps_len);
    if (x == SCEP_OK)
        x = encode_ca_body(srv, c, e);
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

int eras_load(const server *srv, const config *c, era eras[2], int *n_eras, time_t *switch_at,
              char *err, size_t errlen)
{
    *n_eras = 0;
    if (ca_load(&eras[0].ca, c, err, errlen) != 0)
        return -1;
    *n_eras = 1;
    if (build_era(srv, c, &eras[0], err, errlen) != 0)
        return -1;
    /* A prepared rollover: from the next CA's notBefore on, it is the current CA. */
    if (ca_switched(&eras[0].ca, &eras[1].ca) == 0) {
        *n_eras = 2;
        *switch_at = (time_t)ca_unix_time(X509_get0_notBefore(eras[1].ca.cert));
        if (build_era(srv, c, &eras[1], err, errlen) != 0)
            return -1;
    }
    return 0;
}

void eras_free(era eras[2])
{
    for (int i = 0; i < 2; i++)
        free_era(&eras[i]);
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
    if (profile_set_load_dir(&srv->profiles, &srv->cfg, err, errlen) != 0 ||
        eras_load(srv, cfg, srv->eras, &srv->n_eras, &srv->switch_at, err, errlen) != 0 ||
        profile_cas_load(srv, err, errlen) != 0)
        goto fail;
    return 0;
fail:
    server_free(srv);
    return -1;
}

void server_free(server *srv)
{
    profile_cas_free(srv);
    eras_free(srv->eras);
    scep_ctx_free(srv->ctx);
    profile_set_free(&srv->profiles);
    OPENSSL_cleanse(srv->cfg.challenge, sizeof(srv->cfg.challenge));
    memset(srv, 0, sizeof(*srv));
}

const era *eras_in_force(const era *eras, int n, time_t switch_at, time_t now)
{
    return n == 2 && now >= switch_at ? &eras[1] : &eras[0];
}

const era *server_era(const server *srv, time_t now)
{
    return eras_in_force(srv->eras, srv->n_eras, srv->switch_at, now);
}

const profile *server_profile(const server *srv, const char *name, profile *alone)
{
    char err[256];
    if (srv->profiles.n > 0)
        return profile_find(&srv->profiles, name);
    if (name[0] != '\0' || profile_init_default(alone, &srv->cfg, err, sizeof(err)) != 0)
        return NULL;
    return alone;
}

static int profile_known(const server *srv, const char *name)
{
    return srv->profiles.n > 0 ? profile_find(&srv->profiles, name) != NULL : name[0] == '\0';
}

/* Whether the path's profile is one of srv's. On the default path, GetCACert, GetCACaps and
 * GetNextCACert may name one in their message (the CA identifier of RFC 8894 section 4.2);
 * any other text there is the default's, as clients send all kinds of it. */
static int request_profile(const server *srv, const scep_http_request *req, reply *out)
{
    char name[CONFIG_PROFILE_NAME];
    if (!profile_known(srv, out->profile))
        return 0;
    if (out->profile[0] != '\0' || req->operation == SCEP_OP_PKI_OPERATION ||
        req->message == NULL || req->message_len >= sizeof(name))
        return 1;
    memcpy(name, req->message, req->message_len);
    name[req->message_len] = '\0';
    if (config_profile_name_ok(name) && profile_known(srv, name))
        snprintf(out->profile, sizeof(out->profile), "%s", name);
    return 1;
}

void service_handle(const server *srv, store *st, const scep_http_request *req, reply *out)
{
    if (!request_profile(srv, req, out)) {
        char text[96];
        snprintf(text, sizeof(text), "no profile '%.32s' on this server", out->profile);
        reply_text(out, 404, text);
        return;
    }
    const era *e = server_era_for(srv, profile_find(&srv->profiles, out->profile), time(NULL));
    switch (req->operation) {
    case SCEP_OP_GET_CA_CAPS:
        reply_static(out, e->caps_text, e->caps_len, SCEP_CT_CAPS);
        return;
    case SCEP_OP_GET_CA_CERT:
        /* The message names a CA: a profile's name chose it above (request_profile); any
         * other text is the default profile's. */
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

/* The era (the server's, or a profile CA's) with a generation whose key id is key_id. */
static const era *era_by_key(const server *srv, const char *key_id, ca_gen *current)
{
    time_t now = time(NULL);
    const era *e = server_era(srv, now);
    for (size_t i = 0; generation_by_key(&e->ca, key_id, current) == NULL; i++) {
        if (i == srv->n_pcas)
            return NULL;
        const profile_ca *pc = &srv->pcas[i];
        e = eras_in_force(pc->eras, pc->n_eras, pc->switch_at, now);
    }
    return e;
}

void service_crl(const server *srv, store *st, int previous, const char *key_id, reply *out)
{
    store_crl rec = {0};
    char err[256];
    ca_gen current;
    const era *e = key_id ? era_by_key(srv, key_id, &current) : server_era(srv, time(NULL));
    const ca_gen *g = e && key_id ? generation_by_key(&e->ca, key_id, &current) : NULL;
    if (key_id == NULL) {
        current = (ca_gen){.cert = e->ca.cert, .key = e->ca.key};
        g = previous ? &e->ca.prev : &current;
    }
    if (e == NULL || g == NULL || g->cert == NULL) {
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
