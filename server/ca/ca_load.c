/* Loading the CA's certificates through OSSL_STORE (an HSM URI works like a file), and its keys
 * through the key seam (keys/). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/store.h>
#include <openssl/ui.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "keys/keys.h"
#include "os/file_atomic.h"
#include "os/file_secret.h"

static void set_err(char *err, size_t errlen, const char *what, const char *uri)
{
    unsigned long e = ERR_peek_last_error();
    char reason[160] = "";
    if (e != 0)
        ERR_error_string_n(e, reason, sizeof(reason));
    snprintf(err, errlen, "%s %s%s%s", what, uri, e ? ": " : "", reason);
    ERR_clear_error();
}

/* Certificates need no passphrase: a store that asks gets none, never a terminal prompt. */
static int no_pass(char *buf, int size, int rwflag, void *arg)
{
    (void)buf, (void)size, (void)rwflag, (void)arg;
    return -1;
}

/* Calls take(info) for each object at uri; stops when take returns 1. */
static int store_each(const char *uri, int (*take)(OSSL_STORE_INFO *, void *), void *arg)
{
    UI_METHOD *ui = UI_UTIL_wrap_read_pem_callback(no_pass, 0);
    OSSL_STORE_CTX *st = ui ? OSSL_STORE_open(uri, ui, NULL, NULL, NULL) : NULL;
    if (st == NULL) {
        UI_destroy_method(ui);
        return -1;
    }
    int done = 0;
    while (!done && !OSSL_STORE_eof(st)) {
        OSSL_STORE_INFO *info = OSSL_STORE_load(st);
        if (info == NULL)
            break;
        done = take(info, arg);
        OSSL_STORE_INFO_free(info);
    }
    OSSL_STORE_close(st);
    UI_destroy_method(ui);
    return 0;
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

EVP_PKEY *ca_load_key_pass(const char *uri, const char *pass, char *err, size_t errlen)
{
    keystore *ks = keys_open(uri, err, errlen);
    private_key *k = ks ? ks->open(ks, uri, pass, err, errlen) : NULL;
    EVP_PKEY *pkey = k ? k->ops->pkey(k) : NULL;
    if (pkey != NULL)
        EVP_PKEY_up_ref(pkey);
    if (k != NULL)
        k->ops->destroy(k);
    if (ks != NULL)
        ks->destroy(ks);
    return pkey;
}

EVP_PKEY *ca_load_key(const char *uri, char *err, size_t errlen)
{
    return ca_load_key_pass(uri, NULL, err, errlen);
}

int ca_read_pass_file(const char *path, char *pass, size_t passlen, char *err, size_t errlen)
{
    return file_read_secret("passphrase file", path, pass, passlen, err, errlen);
}

int ca_config_pass(const config *c, char *pass, size_t passlen, char *err, size_t errlen)
{
    pass[0] = '\0';
    if (c->ca_key_pass_file[0] == '\0')
        return 0;
    char path[CONFIG_PATH];
    config_path(c, c->ca_key_pass_file, path, sizeof(path));
    return ca_read_pass_file(path, pass, passlen, err, errlen);
}

STACK_OF(X509) * ca_load_certs(const char *uri, char *err, size_t errlen)
{
    STACK_OF(X509) *certs = sk_X509_new_null();
    if (certs == NULL || file_unreadable(uri, err, errlen)) {
        sk_X509_free(certs);
        return NULL;
    }
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

/* Loads a certificate and its key (encrypted with pass, when not NULL) from DIR files when the
 * certificate file exists. */
static int load_pair(const config *c, const char *cert_name, const char *key_name, const char *pass,
                     X509 **cert, EVP_PKEY **key, char *err, size_t errlen)
{
    char path[CONFIG_PATH + 32];
    config_path(c, cert_name, path, sizeof(path));
    if (access(path, F_OK) != 0)
        return 0;
    *cert = ca_load_cert(path, err, errlen);
    config_path(c, key_name, path, sizeof(path));
    *key = *cert ? ca_load_key_pass(path, pass, err, errlen) : NULL;
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

static int load_generations(authority *ca, const config *c, const char *pass, char *err,
                            size_t errlen)
{
    ca_gen *n = &ca->next, *p = &ca->prev;
    if (load_pair(c, CA_NEXT_CERT, CA_NEXT_KEY, pass, &n->cert, &n->key, err, errlen) != 0 ||
        load_pair(c, CA_PREV_CERT, CA_PREV_KEY, pass, &p->cert, &p->key, err, errlen) != 0)
        return -1;
    if (ca->ra_cert == NULL)
        return 0;
    /* The RA before the last ra-renew or switch: requests encrypted to it still open. */
    if (load_pair(c, CA_PREV_RA_CERT, CA_PREV_RA_KEY, NULL, &p->ra_cert, &p->ra_key, err, errlen) !=
        0)
        return -1;
    if (n->cert == NULL)
        return 0;
    return load_pair(c, CA_NEXT_RA_CERT, CA_NEXT_RA_KEY, NULL, &n->ra_cert, &n->ra_key, err,
                     errlen);
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

int ca_self_signed(X509 *cert)
{
    return issued_by(cert, cert);
}

int ca_check_chain(STACK_OF(X509) * chain, char *err, size_t errlen)
{
    for (int i = 1; i < sk_X509_num(chain); i++) {
        X509 *below = sk_X509_value(chain, i - 1), *above = sk_X509_value(chain, i);
        if (X509_check_ca(above) >= 1 && issued_by(above, below))
            continue;
        char a[256], b[256];
        ca_name_text(X509_get_subject_name(above), a, sizeof(a));
        ca_name_text(X509_get_subject_name(below), b, sizeof(b));
        snprintf(err, errlen,
                 "the CA chain is broken: certificate %d (%s) is not the CA that issued "
                 "certificate %d (%s)",
                 i + 1, a, i, b);
        return -1;
    }
    return 0;
}

/* The CA certificate, then the chain above it: from ca_cert, then from ca_chain when set. */
static STACK_OF(X509) * load_chain(const config *c, char *err, size_t errlen)
{
    char path[CONFIG_PATH];
    config_path(c, c->ca_cert, path, sizeof(path));
    STACK_OF(X509) *chain = ca_load_certs(path, err, errlen);
    STACK_OF(X509) *above = NULL;
    if (chain != NULL && c->ca_chain[0] != '\0') {
        config_path(c, c->ca_chain, path, sizeof(path));
        above = ca_load_certs(path, err, errlen);
        int ok = above != NULL;
        while (ok && sk_X509_num(above) > 0) {
            X509 *next = sk_X509_shift(above);
            ok = sk_X509_push(chain, next) > 0;
            if (!ok)
                X509_free(next);
        }
        sk_X509_pop_free(above, X509_free);
        if (!ok) {
            sk_X509_pop_free(chain, X509_free);
            return NULL;
        }
    }
    if (chain != NULL && ca_check_chain(chain, err, errlen) != 0) {
        sk_X509_pop_free(chain, X509_free);
        return NULL;
    }
    return chain;
}

/* A certificate and its (unencrypted) key, as the config names them; what: for the error. */
static int load_named_pair(const config *c, const char *cert_name, const char *key_name,
                           const char *what, X509 **cert, EVP_PKEY **key, char *err, size_t errlen)
{
    char path[CONFIG_PATH];
    config_path(c, cert_name, path, sizeof(path));
    if ((*cert = ca_load_cert(path, err, errlen)) == NULL)
        return -1;
    config_path(c, key_name, path, sizeof(path));
    if ((*key = ca_load_key(path, err, errlen)) == NULL)
        return -1;
    return pair_matches(*cert, *key, what, err, errlen);
}

/* The RA signing certificate: issued by the CA, for signatures, its key RSA or EC. */
static int load_ra_sign(authority *ca, const config *c, char *err, size_t errlen)
{
    ca->reply_signer = c->reply_signer;
    if (c->ra_sign_cert[0] == '\0') {
        if (c->reply_signer == REPLY_SIGNER_RA)
            return 0;
        snprintf(err, errlen, "reply_signer = %s needs an RA signing certificate (ra_sign_cert)",
                 c->reply_signer == REPLY_SIGNER_RA_SIGN ? "ra-sign" : "by-request");
        return -1;
    }
    if (load_named_pair(c, c->ra_sign_cert, c->ra_sign_key, "RA signing", &ca->ra_sign_cert,
                        &ca->ra_sign_key, err, errlen) != 0)
        return -1;
    if (!issued_by(ca->cert, ca->ra_sign_cert)) {
        snprintf(err, errlen, "the RA signing certificate (%s) is not issued by the CA",
                 c->ra_sign_cert);
        return -1;
    }
    if (!(X509_get_key_usage(ca->ra_sign_cert) & KU_DIGITAL_SIGNATURE)) {
        snprintf(err, errlen, "the RA signing certificate (%s) has no keyUsage digitalSignature",
                 c->ra_sign_cert);
        return -1;
    }
    if (!EVP_PKEY_is_a(ca->ra_sign_key, "RSA") && !EVP_PKEY_is_a(ca->ra_sign_key, "EC")) {
        snprintf(err, errlen, "the RA signing key must be RSA or EC");
        return -1;
    }
    return 0;
}

static int load_ca(authority *ca, const config *c, const char *pass, char *err, size_t errlen)
{
    char path[CONFIG_PATH];
    if ((ca->chain = load_chain(c, err, errlen)) == NULL)
        return -1;
    ca->cert = sk_X509_value(ca->chain, 0);
    X509_up_ref(ca->cert);
    config_path(c, c->ca_key, path, sizeof(path));
    if ((ca->key = ca_load_key_pass(path, pass, err, errlen)) == NULL ||
        pair_matches(ca->cert, ca->key, "CA", err, errlen) != 0)
        return -1;
    if (c->ra_cert[0] == '\0' &&
        (c->ra_sign_cert[0] != '\0' || c->reply_signer != REPLY_SIGNER_RA)) {
        snprintf(err, errlen, "ra_sign_cert and reply_signer are for RA mode: set ra_cert too");
        return -1;
    }
    if (c->ra_cert[0] == '\0')
        return 0;
    if (load_named_pair(c, c->ra_cert, c->ra_key, "RA", &ca->ra_cert, &ca->ra_key, err, errlen) !=
        0)
        return -1;
    if (!EVP_PKEY_is_a(ca->ra_key, "RSA")) {
        snprintf(err, errlen, "the RA key must be RSA (clients encrypt to it)");
        return -1;
    }
    return load_ra_sign(ca, c, err, errlen);
}

/* Where the token of pkcs11: keys is, when their URIs do not say. */
static void token_settings(const config *c)
{
    char pin_file[CONFIG_PATH] = "";
    if (c->pkcs11_pin_file[0] != '\0')
        config_path(c, c->pkcs11_pin_file, pin_file, sizeof(pin_file));
    keys_pkcs11_settings(c->pkcs11_module, pin_file);
}

int ca_load(authority *ca, const config *c, char *err, size_t errlen)
{
    memset(ca, 0, sizeof(*ca));
    token_settings(c);
    char pass[CA_PASS_MAX];
    int rc = ca_config_pass(c, pass, sizeof(pass), err, errlen);
    if (rc == 0)
        rc = load_ca(ca, c, pass, err, errlen);
    if (rc == 0)
        rc = load_generations(ca, c, pass, err, errlen);
    OPENSSL_cleanse(pass, sizeof(pass));
    if (rc != 0)
        ca_free(ca);
    return rc;
}

void ca_free(authority *ca)
{
    X509_free(ca->cert);
    EVP_PKEY_free(ca->key);
    X509_free(ca->ra_cert);
    EVP_PKEY_free(ca->ra_key);
    X509_free(ca->ra_sign_cert);
    EVP_PKEY_free(ca->ra_sign_key);
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
    /* Kept so that GetCRL can still name the old RA (sscep does) until the files shift. */
    take(&out->prev.ra_cert, &out->prev.ra_key, ca->ra_cert, ca->ra_key);
    out->chain = sk_X509_new_null();
    if (out->chain == NULL || !sk_X509_push(out->chain, out->cert)) {
        ca_free(out);
        return -1;
    }
    X509_up_ref(out->cert);
    return 0;
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
    return key_for_thread(ca->ra_key ? ca->ra_key : ca->key);
}

int ca_signs_with_ra_sign(reply_signer mode, int have_ra_sign, int request_ec)
{
    if (!have_ra_sign)
        return 0;
    return mode == REPLY_SIGNER_RA_SIGN || (mode == REPLY_SIGNER_BY_REQUEST && request_ec);
}

void ca_reply_signer(const authority *ca, X509 *request_signer, X509 **cert, EVP_PKEY **key)
{
    /* A client that signs with ECDSA verifies ECDSA (strongSwan pki signs and verifies RSA
     * only): by-request answers each in its own kind. */
    EVP_PKEY *theirs = request_signer ? X509_get0_pubkey(request_signer) : NULL;
    int ec = theirs != NULL && EVP_PKEY_get_base_id(theirs) == EVP_PKEY_EC;
    int ra_sign = ca_signs_with_ra_sign(ca->reply_signer, ca->ra_sign_cert != NULL, ec);
    *cert = ra_sign ? ca->ra_sign_cert : ca_reply_cert(ca);
    *key = ra_sign ? key_for_thread(ca->ra_sign_key) : ca_reply_key(ca);
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
