#include "ca/rollover.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "ca/ca_create.h"
#include "ca/ca_generations.h"
#include "keys/keys.h"
#include "os/file_atomic.h"

time_t rollover_default_switch(const authority *ca, int overlap_days)
{
    time_t end = (time_t)ca_unix_time(X509_get0_notAfter(ca->cert));
    time_t at = end - (time_t)overlap_days * 86400;
    time_t now = time(NULL);
    return at > now ? at : now;
}

int rollover_move_file(const config *c, const char *from, const char *to, char *err, size_t errlen)
{
    char a[CONFIG_PATH + 32], b[CONFIG_PATH + 32];
    config_path(c, from, a, sizeof(a));
    config_path(c, to, b, sizeof(b));
    return file_move_durable(a, b, err, errlen);
}

int rollover_move_key(keystore *ks, const config *c, const char *from, const char *to, char *err,
                      size_t errlen)
{
    char a[CONFIG_PATH + 32], b[CONFIG_PATH + 32];
    config_path(c, from, a, sizeof(a));
    config_path(c, to, b, sizeof(b));
    return ks->move(ks, a, b, err, errlen);
}

/* A new key of spec, kept by the seam at the key file name (relative to c->dir). */
private_key *rollover_new_key(keystore *ks, const config *c, const char *spec, const char *name,
                              const char *pass, char *err, size_t errlen)
{
    char path[CONFIG_PATH + 32];
    config_path(c, name, path, sizeof(path));
    return ks->generate(ks, spec, path, pass, err, errlen);
}

/* After a switch: the old current becomes prev, next becomes current. */
static int shift_generations(keystore *ks, const config *c, char *err, size_t errlen)
{
    int rc = rollover_move_file(c, c->ca_cert, CA_PREV_CERT, err, errlen);
    rc = rc ? rc : rollover_move_key(ks, c, c->ca_key, CA_PREV_KEY, err, errlen);
    rc = rc ? rc : rollover_move_file(c, CA_NEXT_CERT, c->ca_cert, err, errlen);
    rc = rc ? rc : rollover_move_key(ks, c, CA_NEXT_KEY, c->ca_key, err, errlen);
    if (rc == 0 && c->ra_cert[0] != '\0') {
        /* The old RA stays a recipient of requests encrypted to it. */
        rc = rollover_move_file(c, c->ra_cert, CA_PREV_RA_CERT, err, errlen);
        rc = rc ? rc : rollover_move_key(ks, c, c->ra_key, CA_PREV_RA_KEY, err, errlen);
        rc = rc ? rc : rollover_move_file(c, CA_NEXT_RA_CERT, c->ra_cert, err, errlen);
        rc = rc ? rc : rollover_move_key(ks, c, CA_NEXT_RA_KEY, c->ra_key, err, errlen);
    }
    return rc;
}

static int write_cert(const config *c, const char *cert_name, X509 *cert, char *err, size_t errlen)
{
    char path[CONFIG_PATH + 32];
    config_path(c, cert_name, path, sizeof(path));
    return ca_write_cert(path, cert, err, errlen);
}

static int make_next_ra(keystore *ks, const config *c, X509 *next_cert, EVP_PKEY *next_key,
                        const authority *ca, time_t switch_at, char *err, size_t errlen)
{
    private_key *k = rollover_new_key(ks, c, "rsa:2048", CA_NEXT_RA_KEY, NULL, err, errlen);
    EVP_PKEY *ra_key = k ? k->ops->pkey(k) : NULL;
    /* As long as the current RA lasts (`scepd init --ra-days`, `scepd ra-renew --days`). */
    int64_t lifetime = ca_unix_time(X509_get0_notAfter(ca->ra_cert)) -
                       ca_unix_time(X509_get0_notBefore(ca->ra_cert));
    int days = lifetime >= 86400 ? (int)(lifetime / 86400) : 1;
    X509 *ra =
        ra_key ? ca_create_ra(next_cert, next_key, ra_key, X509_get_subject_name(ca->ra_cert), days)
               : NULL;
    int ok = ra && X509_time_adj_ex(X509_getm_notBefore(ra), 0, 0, &switch_at) &&
             X509_time_adj_ex(X509_getm_notAfter(ra), days, 0, &switch_at);
    if (ok && ASN1_TIME_compare(X509_get0_notAfter(ra), X509_get0_notAfter(next_cert)) > 0)
        ok = X509_set1_notAfter(ra, X509_get0_notAfter(next_cert));
    int rc = ok && X509_sign(ra, next_key, EVP_sha256()) > 0
                 ? write_cert(c, CA_NEXT_RA_CERT, ra, err, errlen)
                 : -1;
    if (rc != 0 && err[0] == '\0')
        snprintf(err, errlen, "cannot create the next RA certificate");
    X509_free(ra);
    if (k != NULL)
        k->ops->destroy(k);
    return rc;
}

static int create_next(keystore *ks, const config *c, store *st, const authority *ca,
                       time_t switch_at, int days, const char *pass, char *err, size_t errlen)
{
    if (ca->ra_sign_cert != NULL) {
        /* Not made for the next CA yet: after the switch it would not chain, and the server
         * would refuse to load. Refused here rather than left half done. */
        snprintf(err, errlen,
                 "a rollover does not make a next RA signing certificate yet: remove "
                 "ra_sign_cert, ra_sign_key and reply_signer from scepd.conf first (the RA then "
                 "signs every CertRep), roll over, and issue a new one from the new CA");
        return -1;
    }
    if (days <= 0) {
        time_t from = (time_t)ca_unix_time(X509_get0_notBefore(ca->cert));
        time_t until = (time_t)ca_unix_time(X509_get0_notAfter(ca->cert));
        days = (int)((until - from) / 86400);
        days = days > 0 ? days : 1;
    }
    key_caps caps;
    char spec[32];
    keys_pkey_caps(ca->key, &caps);
    keys_spec_like(&caps, spec, sizeof(spec));
    /* The seam keeps the new key where the next generation's is recorded (next-ca.key). */
    private_key *k = rollover_new_key(ks, c, spec, CA_NEXT_KEY, pass, err, errlen);
    EVP_PKEY *key = k ? k->ops->pkey(k) : NULL;
    X509 *cert = key ? ca_create_root(key, X509_get_subject_name(ca->cert), days) : NULL;
    /* Valid from the switch: its certificates are shadows until then. */
    int rc = cert && X509_time_adj_ex(X509_getm_notBefore(cert), 0, 0, &switch_at) &&
                     X509_time_adj_ex(X509_getm_notAfter(cert), days, 0, &switch_at) &&
                     X509_sign(cert, key, EVP_sha256()) > 0
                 ? 0
                 : -1;
    if (rc != 0 && err[0] == '\0')
        snprintf(err, errlen, "cannot create the next CA certificate");
    if (rc == 0)
        rc = write_cert(c, CA_NEXT_CERT, cert, err, errlen);
    if (rc == 0 && ca->ra_cert != NULL)
        rc = make_next_ra(ks, c, cert, key, ca, switch_at, err, errlen);
    if (rc == 0 && ca_record(st, cert) != 0) {
        snprintf(err, errlen, "cannot record the next CA: %s", st->ops->last_error(st));
        rc = -1;
    }
    /* Every node on the store serves the new generation from here on. */
    if (rc == 0)
        rc = ca_generations_record(c, st, err, errlen);
    if (rc == 0)
        st->ops->event_add(st, "rollover", "", "next CA prepared");
    X509_free(cert);
    if (k != NULL)
        k->ops->destroy(k);
    return rc;
}

static int prepare(keystore *ks, const config *c, store *st, time_t switch_at, int days, char *err,
                   size_t errlen)
{
    authority ca;
    if (ca_load(&ca, c, err, errlen) != 0)
        return -1;
    int rc = 0;
    if (ca.next.cert != NULL) {
        time_t at = (time_t)ca_unix_time(X509_get0_notBefore(ca.next.cert));
        if (time(NULL) < at) {
            snprintf(err, errlen, "a rollover is already prepared (the switch is due then)");
            rc = -1;
        } else {
            /* The last switch happened: move the files along, then prepare the next one. */
            ca_free(&ca);
            rc = shift_generations(ks, c, err, errlen);
            if (rc == 0)
                rc = ca_load(&ca, c, err, errlen);
            if (rc != 0)
                return -1;
        }
    }
    char pass[CA_PASS_MAX];
    if (rc == 0 && !ca_self_signed(ca.cert)) {
        /* Its successor must come from the CA above it: a self-signed one would replace the
         * hierarchy the clients trust. */
        snprintf(
            err, errlen,
            "the CA was issued by another CA (an imported intermediate): a rollover would "
            "make a self-signed successor; import a new CA certificate from its issuer instead");
        rc = -1;
    }
    if (rc == 0)
        rc = ca_config_pass(c, pass, sizeof(pass), err, errlen);
    if (rc == 0)
        rc = create_next(ks, c, st, &ca, switch_at, days, pass[0] ? pass : NULL, err, errlen);
    OPENSSL_cleanse(pass, sizeof(pass));
    ca_free(&ca);
    return rc;
}

int rollover_prepare(const config *c, store *st, time_t switch_at, int days, char *err,
                     size_t errlen)
{
    err[0] = '\0';
    char path[CONFIG_PATH];
    config_path(c, c->ca_key, path, sizeof(path));
    keystore *ks = keys_open(path, err, errlen);
    if (ks == NULL)
        return -1;
    int rc = prepare(ks, c, st, switch_at, days, err, errlen);
    ks->destroy(ks);
    return rc;
}
