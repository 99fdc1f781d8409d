/* Loading the CA's certificates and keys through OSSL_STORE, so an HSM URI works like a file. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/store.h>

#include "ca.h"

static void set_err(char *err, size_t errlen, const char *what, const char *uri)
{
    unsigned long e = ERR_peek_last_error();
    char reason[160] = "";
    if (e != 0)
        ERR_error_string_n(e, reason, sizeof(reason));
    snprintf(err, errlen, "%s %s%s%s", what, uri, e ? ": " : "", reason);
    ERR_clear_error();
}

/* Calls take(info) for each object at uri; stops when take returns 1. */
static int store_each(const char *uri, int (*take)(OSSL_STORE_INFO *, void *), void *arg)
{
    OSSL_STORE_CTX *st = OSSL_STORE_open(uri, NULL, NULL, NULL, NULL);
    if (st == NULL)
        return -1;
    int done = 0;
    while (!done && !OSSL_STORE_eof(st)) {
        OSSL_STORE_INFO *info = OSSL_STORE_load(st);
        if (info == NULL)
            break;
        done = take(info, arg);
        OSSL_STORE_INFO_free(info);
    }
    OSSL_STORE_close(st);
    return 0;
}

static int take_key(OSSL_STORE_INFO *info, void *arg)
{
    if (OSSL_STORE_INFO_get_type(info) != OSSL_STORE_INFO_PKEY)
        return 0;
    *(EVP_PKEY **)arg = OSSL_STORE_INFO_get1_PKEY(info);
    return 1;
}

static int take_certs(OSSL_STORE_INFO *info, void *arg)
{
    if (OSSL_STORE_INFO_get_type(info) != OSSL_STORE_INFO_CERT)
        return 0;
    X509 *cert = OSSL_STORE_INFO_get1_CERT(info);
    if (cert != NULL && !sk_X509_push((STACK_OF(X509) *)arg, cert))
        X509_free(cert);
    return 0;
}

EVP_PKEY *ca_load_key(const char *uri, char *err, size_t errlen)
{
    EVP_PKEY *key = NULL;
    if (store_each(uri, take_key, &key) != 0 || key == NULL)
        set_err(err, errlen, "cannot load a private key from", uri);
    return key;
}

STACK_OF(X509) * ca_load_certs(const char *uri, char *err, size_t errlen)
{
    STACK_OF(X509) *certs = sk_X509_new_null();
    if (certs == NULL)
        return NULL;
    if (store_each(uri, take_certs, certs) != 0 || sk_X509_num(certs) == 0) {
        set_err(err, errlen, "cannot load a certificate from", uri);
        sk_X509_pop_free(certs, X509_free);
        return NULL;
    }
    return certs;
}

X509 *ca_load_cert(const char *uri, char *err, size_t errlen)
{
    STACK_OF(X509) *certs = ca_load_certs(uri, err, errlen);
    X509 *first = certs ? sk_X509_shift(certs) : NULL;
    sk_X509_pop_free(certs, X509_free);
    return first;
}

/* A key must belong to its certificate: a mix-up here would sign replies nobody can check. */
static int pair_matches(X509 *cert, EVP_PKEY *key, const char *what, char *err, size_t errlen)
{
    if (EVP_PKEY_eq(X509_get0_pubkey(cert), key) == 1)
        return 0;
    snprintf(err, errlen, "the %s key does not match the %s certificate", what, what);
    return -1;
}

/* Loads a certificate and its key from DIR files when the certificate file exists. */
static int load_pair(const config *c, const char *cert_name, const char *key_name, X509 **cert,
                     EVP_PKEY **key, char *err, size_t errlen)
{
    char path[CONFIG_PATH + 32];
    config_path(c, cert_name, path, sizeof(path));
    if (access(path, F_OK) != 0)
        return 0;
    *cert = ca_load_cert(path, err, errlen);
    config_path(c, key_name, path, sizeof(path));
    *key = *cert ? ca_load_key(path, err, errlen) : NULL;
    if (*key == NULL || pair_matches(*cert, *key, cert_name, err, errlen) != 0)
        return -1;
    return 0;
}

static void gen_free(ca_gen *g)
{
    X509_free(g->cert);
    EVP_PKEY_free(g->key);
    X509_free(g->ra_cert);
    EVP_PKEY_free(g->ra_key);
    memset(g, 0, sizeof(*g));
}

static int load_generations(authority *ca, const config *c, char *err, size_t errlen)
{
    ca_gen *n = &ca->next, *p = &ca->prev;
    if (load_pair(c, CA_NEXT_CERT, CA_NEXT_KEY, &n->cert, &n->key, err, errlen) != 0 ||
        load_pair(c, CA_PREV_CERT, CA_PREV_KEY, &p->cert, &p->key, err, errlen) != 0)
        return -1;
    if (ca->ra_cert == NULL || n->cert == NULL)
        return 0;
    return load_pair(c, CA_NEXT_RA_CERT, CA_NEXT_RA_KEY, &n->ra_cert, &n->ra_key, err, errlen);
}

int ca_load(authority *ca, const config *c, char *err, size_t errlen)
{
    memset(ca, 0, sizeof(*ca));
    char path[CONFIG_PATH];
    config_path(c, c->ca_cert, path, sizeof(path));
    ca->chain = ca_load_certs(path, err, errlen);
    if (ca->chain == NULL)
        goto fail;
    ca->cert = sk_X509_value(ca->chain, 0);
    X509_up_ref(ca->cert);
    config_path(c, c->ca_key, path, sizeof(path));
    if ((ca->key = ca_load_key(path, err, errlen)) == NULL ||
        pair_matches(ca->cert, ca->key, "CA", err, errlen) != 0)
        goto fail;
    if (c->ra_cert[0] == '\0')
        return load_generations(ca, c, err, errlen) == 0 ? 0 : (ca_free(ca), -1);
    config_path(c, c->ra_cert, path, sizeof(path));
    if ((ca->ra_cert = ca_load_cert(path, err, errlen)) == NULL)
        goto fail;
    config_path(c, c->ra_key, path, sizeof(path));
    if ((ca->ra_key = ca_load_key(path, err, errlen)) == NULL ||
        pair_matches(ca->ra_cert, ca->ra_key, "RA", err, errlen) != 0)
        goto fail;
    if (!EVP_PKEY_is_a(ca->ra_key, "RSA")) {
        snprintf(err, errlen, "the RA key must be RSA (clients encrypt to it)");
        goto fail;
    }
    if (load_generations(ca, c, err, errlen) != 0)
        goto fail;
    return 0;
fail:
    ca_free(ca);
    return -1;
}

void ca_free(authority *ca)
{
    X509_free(ca->cert);
    EVP_PKEY_free(ca->key);
    X509_free(ca->ra_cert);
    EVP_PKEY_free(ca->ra_key);
    sk_X509_pop_free(ca->chain, X509_free);
    gen_free(&ca->next);
    gen_free(&ca->prev);
    memset(ca, 0, sizeof(*ca));
}

static void take(X509 **dst_cert, EVP_PKEY **dst_key, X509 *cert, EVP_PKEY *key)
{
    *dst_cert = cert;
    *dst_key = key;
    if (cert)
        X509_up_ref(cert);
    if (key)
        EVP_PKEY_up_ref(key);
}

int ca_switched(const authority *ca, authority *out)
{
    memset(out, 0, sizeof(*out));
    if (ca->next.cert == NULL)
        return -1;
    take(&out->cert, &out->key, ca->next.cert, ca->next.key);
    take(&out->ra_cert, &out->ra_key, ca->next.ra_cert, ca->next.ra_key);
    take(&out->prev.cert, &out->prev.key, ca->cert, ca->key);
    out->chain = sk_X509_new_null();
    if (out->chain == NULL || !sk_X509_push(out->chain, out->cert)) {
        ca_free(out);
        return -1;
    }
    X509_up_ref(out->cert);
    return 0;
}

static int issued_by(X509 *issuer, X509 *cert)
{
    if (issuer == NULL)
        return 0;
    ERR_set_mark();
    int ok = X509_NAME_cmp(X509_get_issuer_name(cert), X509_get_subject_name(issuer)) == 0 &&
             X509_verify(cert, X509_get0_pubkey(issuer)) == 1;
    ERR_pop_to_mark();
    return ok;
}

int ca_issued(const authority *ca, X509 *cert)
{
    return issued_by(ca->cert, cert) || issued_by(ca->next.cert, cert) ||
           issued_by(ca->prev.cert, cert);
}

X509 *ca_reply_cert(const authority *ca)
{
    return ca->ra_cert ? ca->ra_cert : ca->cert;
}

EVP_PKEY *ca_reply_key(const authority *ca)
{
    return ca->ra_key ? ca->ra_key : ca->key;
}

int ca_load_current(authority *ca, const config *c, char *err, size_t errlen)
{
    if (ca_load(ca, c, err, errlen) != 0)
        return -1;
    if (ca->next.cert == NULL ||
        time(NULL) < (time_t)ca_unix_time(X509_get0_notBefore(ca->next.cert)))
        return 0;
    authority switched;
    if (ca_switched(ca, &switched) != 0) {
        snprintf(err, errlen, "cannot switch to the next CA generation");
        ca_free(ca);
        return -1;
    }
    ca_free(ca);
    *ca = switched;
    return 0;
}
