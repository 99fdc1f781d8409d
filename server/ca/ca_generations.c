#include "ca/ca_generations.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "ca/ca.h"
#include "ca/ca_create.h"

/* The files of one role: the certificates and the keys, as c names them. */
typedef struct role_files {
    const char *ca_cert, *ca_key, *ra_cert, *ra_key;
} role_files;

static role_files files_of(const config *c, int role)
{
    if (role == STORE_CA_NEXT)
        return (role_files){CA_NEXT_CERT, CA_NEXT_KEY, CA_NEXT_RA_CERT, CA_NEXT_RA_KEY};
    if (role == STORE_CA_PREVIOUS)
        return (role_files){CA_PREV_CERT, CA_PREV_KEY, CA_PREV_RA_CERT, CA_PREV_RA_KEY};
    return (role_files){c->ca_cert, c->ca_key, c->ra_cert, c->ra_key};
}

/* The DER of the first certificate in the file name of DIR; 0 with *der NULL when there is no
 * such file (or no name: CA mode has no RA). -1 with a reason when it does not load. */
static int read_der(const config *c, const char *name, unsigned char **der, size_t *len,
                    int64_t *not_before, char *err, size_t errlen)
{
    char path[CONFIG_PATH + 32];
    *der = NULL;
    *len = 0;
    if (name[0] == '\0')
        return 0;
    config_path(c, name, path, sizeof(path));
    if (access(path, F_OK) != 0)
        return 0;
    X509 *cert = ca_load_cert(path, err, errlen);
    unsigned char *out = NULL;
    int n = cert ? i2d_X509(cert, &out) : -1;
    if (cert != NULL && not_before != NULL)
        *not_before = ca_unix_time(X509_get0_notBefore(cert));
    X509_free(cert);
    if (n <= 0 || (size_t)n > STORE_MAX_BLOB) {
        OPENSSL_free(out);
        if (cert != NULL || err[0] == '\0')
            snprintf(err, errlen, "%s: cannot encode the certificate", path);
        return -1;
    }
    *der = malloc((size_t)n);
    if (*der != NULL)
        memcpy(*der, out, (size_t)n);
    OPENSSL_free(out);
    *len = *der ? (size_t)n : 0;
    return *der ? 0 : -1;
}

static int read_role(const config *c, int role, store_ca_generation *g, char *err, size_t errlen)
{
    role_files f = files_of(c, role);
    int64_t ra_from = 0;
    if (read_der(c, f.ca_cert, &g->ca_der, &g->ca_len, &g->switch_at, err, errlen) != 0 ||
        read_der(c, f.ra_cert, &g->ra_der, &g->ra_len, &ra_from, err, errlen) != 0)
        return -1;
    if (g->ca_der != NULL)
        snprintf(g->ca_key, sizeof(g->ca_key), "%s", f.ca_key);
    if (g->ra_der != NULL)
        snprintf(g->ra_key, sizeof(g->ra_key), "%s", f.ra_key);
    if (g->ca_der == NULL) /* a previous RA alone, after `scepd ra-renew` */
        g->switch_at = ra_from;
    return 0;
}

int ca_generations_from_files(const config *c, store_ca_generations *g, char *err, size_t errlen)
{
    memset(g, 0, sizeof(*g));
    err[0] = '\0';
    for (int role = 0; role < STORE_CA_ROLES; role++)
        if (read_role(c, role, &g->role[role], err, errlen) != 0) {
            store_ca_generations_clear(g);
            return -1;
        }
    if (g->role[STORE_CA_CURRENT].ca_der == NULL) {
        snprintf(err, errlen, "no CA certificate at %s in %s", c->ca_cert, c->dir);
        store_ca_generations_clear(g);
        return -1;
    }
    return 0;
}

int ca_generations_record(const config *c, store *st, char *err, size_t errlen)
{
    store_ca_generations g;
    if (ca_generations_from_files(c, &g, err, errlen) != 0)
        return -1;
    store_status s = st->ops->ca_generations_put(st, &g, NULL);
    store_ca_generations_clear(&g);
    if (s == STORE_OK)
        return 0;
    snprintf(err, errlen, "cannot record the CA generations in the store: %s",
             st->ops->last_error(st));
    return -1;
}

/* The key at ref (as c names it) of the certificate der: 0 when this node loads it and it is
 * the certificate's, else -1 with a reason naming the key. */
static int key_matches(const config *c, const char *what, const char *ref, const unsigned char *der,
                       size_t len, const char *pass, char *err, size_t errlen)
{
    char path[CONFIG_PATH + 32], why[512] = "";
    config_path(c, ref, path, sizeof(path));
    if (strncmp(ref, "pkcs11:", 7) != 0 && access(path, R_OK) != 0) {
        snprintf(err, errlen, "the key of the %s, %s, cannot be read here: %s", what, path,
                 strerror(errno));
        return -1;
    }
    const unsigned char *p = der;
    X509 *cert = d2i_X509(NULL, &p, (long)len);
    EVP_PKEY *key = cert ? ca_load_key_pass(path, pass, why, sizeof(why)) : NULL;
    int ok = key != NULL && EVP_PKEY_eq(X509_get0_pubkey(cert), key) == 1;
    if (!ok)
        snprintf(err, errlen, "the key of the %s, %s, %s", what, path,
                 cert == NULL  ? "belongs to a certificate that does not decode"
                 : key == NULL ? why
                               : "is not the key of its certificate in the store");
    EVP_PKEY_free(key);
    X509_free(cert);
    return ok ? 0 : -1;
}

/* Every key of g must load here and be its certificate's before any file changes. */
static int keys_match(const config *c, const store_ca_generations *g, char *err, size_t errlen)
{
    static const char *const ca_what[] = {"current CA", "next CA", "previous CA"};
    static const char *const ra_what[] = {"current RA", "next RA", "previous RA"};
    char pass[CA_PASS_MAX];
    int rc = ca_config_pass(c, pass, sizeof(pass), err, errlen);
    for (int role = 0; rc == 0 && role < STORE_CA_ROLES; role++) {
        const store_ca_generation *r = &g->role[role];
        if (r->ca_der != NULL)
            rc = key_matches(c, ca_what[role], r->ca_key, r->ca_der, r->ca_len,
                             pass[0] ? pass : NULL, err, errlen);
        if (rc == 0 && r->ra_der != NULL)
            rc = key_matches(c, ra_what[role], r->ra_key, r->ra_der, r->ra_len, NULL, err, errlen);
    }
    OPENSSL_cleanse(pass, sizeof(pass));
    return rc;
}

/* Makes the file name of DIR hold der (NULL: no file). *changed when it did not already. */
static int sync_file(const config *c, const char *name, const unsigned char *der, size_t len,
                     int *changed, char *err, size_t errlen)
{
    char path[CONFIG_PATH + 32];
    unsigned char *have = NULL;
    size_t have_len = 0;
    if (name[0] == '\0')
        return 0;
    if (read_der(c, name, &have, &have_len, NULL, err, errlen) != 0)
        have = NULL; /* unreadable: written anew */
    int same = have != NULL && der != NULL && have_len == len && memcmp(have, der, len) == 0;
    int absent = have == NULL && der == NULL;
    free(have);
    err[0] = '\0';
    if (same || absent)
        return 0;
    config_path(c, name, path, sizeof(path));
    *changed = 1;
    if (der == NULL && unlink(path) != 0 && errno != ENOENT) {
        snprintf(err, errlen, "cannot remove %s: %s", path, strerror(errno));
        return -1;
    }
    if (der == NULL)
        return 0;
    const unsigned char *p = der;
    X509 *cert = d2i_X509(NULL, &p, (long)len);
    int rc = cert ? ca_write_cert(path, cert, err, errlen) : -1;
    if (cert == NULL)
        snprintf(err, errlen, "the store holds a certificate for %s that does not decode", path);
    X509_free(cert);
    return rc;
}

int ca_generations_to_files(const config *c, const store_ca_generations *g, int *changed, char *err,
                            size_t errlen)
{
    *changed = 0;
    err[0] = '\0';
    if (g->role[STORE_CA_CURRENT].ca_der == NULL) {
        snprintf(err, errlen, "the store holds no current CA certificate");
        return -1;
    }
    if (keys_match(c, g, err, errlen) != 0)
        return -1;
    for (int role = 0; role < STORE_CA_ROLES; role++) {
        role_files f = files_of(c, role);
        const store_ca_generation *r = &g->role[role];
        if (sync_file(c, f.ca_cert, r->ca_der, r->ca_len, changed, err, errlen) != 0 ||
            sync_file(c, f.ra_cert, r->ra_der, r->ra_len, changed, err, errlen) != 0)
            return -1;
    }
    return 0;
}

static pthread_mutex_t refusal_lock = PTHREAD_MUTEX_INITIALIZER;
static char refusal[700];

void ca_generations_refused(const char *why)
{
    pthread_mutex_lock(&refusal_lock);
    snprintf(refusal, sizeof(refusal), "%s", why ? why : "");
    pthread_mutex_unlock(&refusal_lock);
}

int ca_generations_problem(char *why, size_t whylen)
{
    pthread_mutex_lock(&refusal_lock);
    int refused = refusal[0] != '\0';
    snprintf(why, whylen, "%s", refusal);
    pthread_mutex_unlock(&refusal_lock);
    return refused;
}
