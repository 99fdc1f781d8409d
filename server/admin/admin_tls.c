/* HTTPS on the admin listener. libmicrohttpd asks for a client certificate when given a trust
 * list (MHD_OPTION_HTTPS_MEM_TRUST) but does not insist, so each request behind a token checks
 * what the peer sent: a missing or untrusted certificate is a clear 403, not a bare reset. The
 * TLS session is libmicrohttpd's (GnuTLS): only the peer's certificates, as DER, are taken from
 * it; OpenSSL verifies them and reads their names, as everywhere else in scepd. */
#include "admin/admin_tls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

/* The PEM trust list as an OpenSSL store; NULL when it holds no certificate. */
static X509_STORE *trust_store(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509_STORE *st = X509_STORE_new();
    X509 *x;
    int n = 0;
    while (b != NULL && st != NULL && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
        n += X509_STORE_add_cert(st, x) == 1;
        X509_free(x);
    }
    BIO_free(b);
    if (n == 0) {
        X509_STORE_free(st);
        return NULL;
    }
    return st;
}

static int load_pair(const config *c, admin_tls *t, char *err, size_t errlen)
{
    if (c->admin_tls_cert[0] == '\0' || c->admin_tls_key[0] == '\0') {
        snprintf(err, errlen, "admin_tls_cert and admin_tls_key go together: set both or neither");
        return -1;
    }
    http_tls_files f = {"admin_tls_cert", c->admin_tls_cert, "admin_tls_key", c->admin_tls_key};
    return http_tls_read_files(c, &f, &t->pem, err, errlen);
}

int admin_tls_load(const config *c, admin_tls *t, char *err, size_t errlen)
{
    memset(t, 0, sizeof(*t));
    int tls = c->admin_tls_cert[0] != '\0' || c->admin_tls_key[0] != '\0';
    if (!tls && c->admin_tls_client_ca[0] != '\0') {
        snprintf(err, errlen, "admin_tls_client_ca %s needs admin_tls_cert and admin_tls_key",
                 c->admin_tls_client_ca);
        return -1;
    }
    if (c->admin_client_cert_role[0] != '\0' && c->admin_tls_client_ca[0] == '\0') {
        snprintf(err, errlen, "admin_client_cert_role %s needs admin_tls_client_ca",
                 c->admin_client_cert_role);
        return -1;
    }
    snprintf(t->cert_role, sizeof(t->cert_role), "%s", c->admin_client_cert_role);
    if (!tls)
        return 0;
    if (load_pair(c, t, err, errlen) != 0 ||
        (c->admin_tls_client_ca[0] != '\0' &&
         http_tls_read_certs(c, "admin_tls_client_ca", c->admin_tls_client_ca, &t->client_ca, err,
                             errlen) != 0)) {
        admin_tls_clear(t);
        return -1;
    }
    if (t->client_ca != NULL && (t->trust = trust_store(t->client_ca)) == NULL) {
        snprintf(err, errlen, "admin_tls_client_ca %s: no certificate OpenSSL can read",
                 c->admin_tls_client_ca);
        admin_tls_clear(t);
        return -1;
    }
    return 0;
}

unsigned admin_tls_flags(const admin_tls *t)
{
    return t->pem.cert != NULL ? MHD_USE_TLS : 0;
}

struct MHD_OptionItem *admin_tls_options(admin_tls *t)
{
    struct MHD_OptionItem *o = t->options;
    if (t->pem.cert != NULL) {
        *o++ = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, t->pem.cert};
        *o++ = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, t->pem.key};
        *o++ = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0,
                                       (void *)(uintptr_t)HTTP_TLS_PRIORITIES};
    }
    if (t->client_ca != NULL)
        *o++ = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, t->client_ca};
    *o = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    return t->options;
}

/* The peer's certificates, leaf first, from libmicrohttpd's TLS session; NULL when it sent none. */
static STACK_OF(X509) * peer_chain(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    unsigned n = 0;
    const gnutls_datum_t *peers =
        ci != NULL ? gnutls_certificate_get_peers((gnutls_session_t)ci->tls_session, &n) : NULL;
    STACK_OF(X509) *chain = peers != NULL && n > 0 ? sk_X509_new_null() : NULL;
    for (unsigned i = 0; chain != NULL && i < n && i < 16; i++) {
        const unsigned char *p = peers[i].data;
        X509 *x = d2i_X509(NULL, &p, (long)peers[i].size);
        if (x == NULL || sk_X509_push(chain, x) == 0) {
            X509_free(x);
            sk_X509_pop_free(chain, X509_free);
            return NULL;
        }
    }
    return chain;
}

static int same_text(const char *a, const char *b)
{
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

int admin_tls_same(const admin_tls *a, const admin_tls *b)
{
    return same_text(a->pem.cert, b->pem.cert) && same_text(a->pem.key, b->pem.key) &&
           same_text(a->client_ca, b->client_ca);
}

int admin_tls_peer_ok(X509_STORE *trust, struct MHD_Connection *conn, char *why, size_t whylen)
{
    if (trust == NULL)
        return 1;
    STACK_OF(X509) *chain = peer_chain(conn);
    if (chain == NULL) {
        snprintf(why, whylen, "a client certificate from admin_tls_client_ca is required");
        return 0;
    }
    /* The chain up to the trust list, the validity dates, and TLS client use (a key purpose
     * the certificate names must allow it). */
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int ok = ctx != NULL && X509_STORE_CTX_init(ctx, trust, sk_X509_value(chain, 0), chain) == 1 &&
             X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT) == 1 &&
             X509_verify_cert(ctx) == 1;
    if (!ok)
        snprintf(why, whylen, "the client certificate is refused: %s",
                 ctx != NULL ? X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx))
                             : "out of memory");
    X509_STORE_CTX_free(ctx);
    sk_X509_pop_free(chain, X509_free);
    return ok;
}

/* The first common name of the peer's certificate into cn; 0 or -1. */
static int peer_cn(struct MHD_Connection *conn, char *cn, size_t cnlen)
{
    STACK_OF(X509) *chain = peer_chain(conn);
    X509_NAME *subject = chain != NULL ? X509_get_subject_name(sk_X509_value(chain, 0)) : NULL;
    int len =
        subject != NULL ? X509_NAME_get_text_by_NID(subject, NID_commonName, cn, (int)cnlen) : -1;
    sk_X509_pop_free(chain, X509_free);
    return len > 0 ? 0 : -1;
}

int admin_tls_peer_name(const char *cert_role, struct MHD_Connection *conn, char *name,
                        size_t namelen, char *why, size_t whylen)
{
    if (cert_role[0] == '\0')
        return 0;
    char cn[ADMIN_TLS_CN_MAX + 2] = "";
    size_t len = peer_cn(conn, cn, sizeof(cn)) == 0 ? strlen(cn) : 0;
    if (len == 0 || len > ADMIN_TLS_CN_MAX ||
        strspn(cn, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._@-") != len) {
        snprintf(why, whylen,
                 "the client certificate's subject needs a common name of 1 to %d of A-Z a-z 0-9 "
                 ". _ @ - to stand for a token",
                 ADMIN_TLS_CN_MAX);
        return -1;
    }
    snprintf(name, namelen, "cert:%s", cn);
    return 1;
}

void admin_tls_clear(admin_tls *t)
{
    http_tls_clear(&t->pem);
    free(t->client_ca);
    t->client_ca = NULL;
    X509_STORE_free(t->trust);
    t->trust = NULL;
}
