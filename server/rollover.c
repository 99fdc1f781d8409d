#include "rollover.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ca_create.h"

time_t rollover_default_switch(const authority *ca, int overlap_days)
{
    time_t end = (time_t)ca_unix_time(X509_get0_notAfter(ca->cert));
    time_t at = end - (time_t)overlap_days * 86400;
    time_t now = time(NULL);
    return at > now ? at : now;
}

/* The same kind of key as the current CA's. */
static EVP_PKEY *key_like(EVP_PKEY *current)
{
    char spec[32];
    if (EVP_PKEY_is_a(current, "RSA"))
        snprintf(spec, sizeof(spec), "rsa:%d",
                 EVP_PKEY_get_bits(current) >= 4096   ? 4096
                 : EVP_PKEY_get_bits(current) >= 3072 ? 3072
                                                      : 2048);
    else
        snprintf(spec, sizeof(spec), "ec:%s", EVP_PKEY_get_bits(current) > 256 ? "P-384" : "P-256");
    return ca_generate_key(spec);
}

static int move_file(const config *c, const char *from, const char *to, char *err, size_t errlen)
{
    char a[CONFIG_PATH + 32], b[CONFIG_PATH + 32];
    config_path(c, from, a, sizeof(a));
    config_path(c, to, b, sizeof(b));
    if (rename(a, b) == 0 || errno == ENOENT)
        return 0;
    snprintf(err, errlen, "cannot move %s to %s: %s", a, b, strerror(errno));
    return -1;
}

/* After a switch: the old current becomes prev, next becomes current. */
static int shift_generations(const config *c, char *err, size_t errlen)
{
    int rc = move_file(c, c->ca_cert, CA_PREV_CERT, err, errlen);
    rc = rc ? rc : move_file(c, c->ca_key, CA_PREV_KEY, err, errlen);
    rc = rc ? rc : move_file(c, CA_NEXT_CERT, c->ca_cert, err, errlen);
    rc = rc ? rc : move_file(c, CA_NEXT_KEY, c->ca_key, err, errlen);
    if (rc == 0 && c->ra_cert[0] != '\0') {
        rc = move_file(c, CA_NEXT_RA_CERT, c->ra_cert, err, errlen);
        rc = rc ? rc : move_file(c, CA_NEXT_RA_KEY, c->ra_key, err, errlen);
    }
    return rc;
}

static int write_pair(const config *c, const char *cert_name, const char *key_name, X509 *cert,
                      EVP_PKEY *key, char *err, size_t errlen)
{
    char path[CONFIG_PATH + 32];
    config_path(c, key_name, path, sizeof(path));
    if (ca_write_key(path, key, err, errlen) != 0)
        return -1;
    config_path(c, cert_name, path, sizeof(path));
    return ca_write_cert(path, cert, err, errlen);
}

static int make_next_ra(const config *c, X509 *next_cert, EVP_PKEY *next_key, const authority *ca,
                        time_t switch_at, char *err, size_t errlen)
{
    EVP_PKEY *ra_key = ca_generate_key("rsa:2048");
    X509 *ra =
        ra_key ? ca_create_ra(next_cert, next_key, ra_key, X509_get_subject_name(ca->ra_cert), 730)
               : NULL;
    int rc = ra && X509_time_adj_ex(X509_getm_notBefore(ra), 0, 0, &switch_at) &&
                     X509_sign(ra, next_key, EVP_sha256()) > 0
                 ? write_pair(c, CA_NEXT_RA_CERT, CA_NEXT_RA_KEY, ra, ra_key, err, errlen)
                 : -1;
    if (rc != 0 && err[0] == '\0')
        snprintf(err, errlen, "cannot create the next RA certificate");
    X509_free(ra);
    EVP_PKEY_free(ra_key);
    return rc;
}

static int create_next(const config *c, store *st, const authority *ca, time_t switch_at, int days,
                       char *err, size_t errlen)
{
    if (days <= 0) {
        time_t from = (time_t)ca_unix_time(X509_get0_notBefore(ca->cert));
        time_t until = (time_t)ca_unix_time(X509_get0_notAfter(ca->cert));
        days = (int)((until - from) / 86400);
        days = days > 0 ? days : 1;
    }
    EVP_PKEY *key = key_like(ca->key);
    X509 *cert = key ? ca_create_root(key, X509_get_subject_name(ca->cert), days) : NULL;
    /* Valid from the switch: its certificates are shadows until then. */
    int rc = cert && X509_time_adj_ex(X509_getm_notBefore(cert), 0, 0, &switch_at) &&
                     X509_time_adj_ex(X509_getm_notAfter(cert), days, 0, &switch_at) &&
                     X509_sign(cert, key, EVP_sha256()) > 0
                 ? 0
                 : -1;
    if (rc != 0)
        snprintf(err, errlen, "cannot create the next CA certificate");
    if (rc == 0)
        rc = write_pair(c, CA_NEXT_CERT, CA_NEXT_KEY, cert, key, err, errlen);
    if (rc == 0 && ca->ra_cert != NULL)
        rc = make_next_ra(c, cert, key, ca, switch_at, err, errlen);
    if (rc == 0 && ca_record(st, cert) == 0)
        st->ops->event_add(st, "rollover", "", "next CA prepared");
    else if (rc == 0) {
        snprintf(err, errlen, "cannot record the next CA: %s", st->ops->last_error(st));
        rc = -1;
    }
    X509_free(cert);
    EVP_PKEY_free(key);
    return rc;
}

int rollover_prepare(const config *c, store *st, time_t switch_at, int days, char *err,
                     size_t errlen)
{
    err[0] = '\0';
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
            rc = shift_generations(c, err, errlen);
            if (rc == 0)
                rc = ca_load(&ca, c, err, errlen);
            if (rc != 0)
                return -1;
        }
    }
    if (rc == 0)
        rc = create_next(c, st, &ca, switch_at, days, err, errlen);
    ca_free(&ca);
    return rc;
}
