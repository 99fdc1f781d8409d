/* scep watch: the files it keeps, the crash recovery, and the rollover switch. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files.h"
#include "watch.h"

static int join(char *out, size_t len, const char *a, const char *b)
{
    int n = snprintf(out, len, "%s%s", a, b);
    return n >= 0 && (size_t)n < len ? 0 : -1;
}

int watch_paths_init(const watch_config *w, watch_paths *p)
{
    memset(p, 0, sizeof(*p));
    return join(p->cert_next, sizeof(p->cert_next), w->cert, ".next") |
           join(p->key_next, sizeof(p->key_next), w->key, ".next") |
           join(p->key_new, sizeof(p->key_new), w->key, ".new") |
           join(p->ca_next, sizeof(p->ca_next), w->c.ca_dir, "/next");
}

const char *watch_date(time_t t, char *buf, size_t len)
{
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, len, "%lld", (long long)t);
    return buf;
}

void watch_log(const char *fmt, ...)
{
    char when[32];
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s scep watch: ", watch_date(time(NULL), when, sizeof(when)));
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

time_t watch_time(const ASN1_TIME *t)
{
    ASN1_TIME *epoch = ASN1_TIME_set(NULL, 0);
    int days = 0, secs = 0;
    int ok = epoch && ASN1_TIME_diff(&days, &secs, epoch, t);
    ASN1_TIME_free(epoch);
    return ok ? (time_t)days * 86400 + secs : 0;
}

static int belongs(X509 *cert, EVP_PKEY *key)
{
    return EVP_PKEY_eq(X509_get0_pubkey(cert), key) == 1;
}

int watch_pair_load(const char *cert, const char *key, watch_pair *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    out->cert = files_read_cert(cert, err, errlen);
    out->key = out->cert ? files_read_key(key, err, errlen) : NULL;
    if (out->key != NULL && belongs(out->cert, out->key))
        return EXIT_OK;
    if (out->key != NULL)
        snprintf(err, errlen, "%s is not the key of %s", key, cert);
    watch_pair_free(out);
    return EXIT_USAGE;
}

void watch_pair_free(watch_pair *p)
{
    X509_free(p->cert);
    EVP_PKEY_free(p->key);
    memset(p, 0, sizeof(*p));
}

/* Renames from over to when from holds the key of cert. */
static void adopt_key(const char *from, const char *to, X509 *cert)
{
    char err[512];
    EVP_PKEY *key = files_exists(from) ? files_read_key(from, err, sizeof(err)) : NULL;
    if (key != NULL && belongs(cert, key)) {
        if (rename(from, to) == 0)
            watch_log("finished an interrupted swap: %s moved to %s", from, to);
        else
            watch_log("cannot move %s to %s: %s", from, to, strerror(errno));
    }
    EVP_PKEY_free(key);
}

void watch_recover(const watch_config *w, const watch_paths *p)
{
    char err[512];
    X509 *cert = files_read_cert(w->cert, err, sizeof(err));
    EVP_PKEY *key = cert ? files_read_key(w->key, err, sizeof(err)) : NULL;
    if (cert != NULL && (key == NULL || !belongs(cert, key))) {
        adopt_key(p->key_new, w->key, cert);
        if (!files_exists(p->cert_next))
            adopt_key(p->key_next, w->key, cert);
    }
    X509_free(cert);
    EVP_PKEY_free(key);
}

time_t watch_ca_not_after(const char *dir)
{
    char path[4096], err[512];
    snprintf(path, sizeof(path), "%s/certs.pem", dir);
    STACK_OF(X509) *certs = files_read_certs(path, err, sizeof(err));
    X509 *ca = NULL, *ra_enc = NULL, *ra_sign = NULL;
    time_t t = 0;
    if (certs != NULL && scep_certs_roles(certs, &ca, &ra_enc, &ra_sign) == SCEP_OK)
        t = watch_time(X509_get0_notAfter(ca));
    sk_X509_pop_free(certs, X509_free);
    return t;
}

/* The files of a CA directory, certs.pem (what the client reads) first. */
static const char *const ca_files[] = {"certs.pem", "ca.pem", "ra.pem", "ra-sign.pem", "ca.der"};

static int save_one(const char *dir, const char *name, X509 *cert, int der, char *err,
                    size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return files_write_cert(path, cert, der, err, errlen);
}

int watch_save_ca_dir(const char *dir, STACK_OF(X509) * certs, char *err, size_t errlen)
{
    X509 *ca = NULL, *ra_enc = NULL, *ra_sign = NULL;
    char path[4096];
    if (scep_certs_roles(certs, &ca, &ra_enc, &ra_sign) != SCEP_OK) {
        snprintf(err, errlen, "no CA certificate among the next CA certificates");
        return -1;
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    /* A stale file of an earlier attempt must not survive into the switch. */
    for (size_t i = 0; i < sizeof(ca_files) / sizeof(ca_files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, ca_files[i]);
        unlink(path);
    }
    snprintf(path, sizeof(path), "%s/certs.pem", dir);
    int rc = files_write_certs(path, certs, err, errlen);
    if (rc == 0)
        rc = save_one(dir, "ca.pem", ca, 0, err, errlen);
    if (rc == 0 && ra_enc != ca)
        rc = save_one(dir, "ra.pem", ra_enc, 0, err, errlen);
    if (rc == 0 && ra_sign != ra_enc)
        rc = save_one(dir, "ra-sign.pem", ra_sign, 0, err, errlen);
    return rc;
}

static int move(const char *from, const char *to, char *err, size_t errlen)
{
    if (rename(from, to) == 0 || errno == ENOENT)
        return 0;
    snprintf(err, errlen, "cannot move %s to %s: %s", from, to, strerror(errno));
    return -1;
}

/* DIR/next over DIR. While DIR/next/certs.pem exists nothing has moved yet: that is when the
 * files the next CA lacks (an RA it does without) are removed. certs.pem moves first. */
static int switch_ca_dir(const char *dir, const char *next, char *err, size_t errlen)
{
    char from[4096], to[4096];
    size_t n = sizeof(ca_files) / sizeof(ca_files[0]);
    snprintf(from, sizeof(from), "%s/certs.pem", next);
    int untouched = files_exists(from);
    for (size_t i = 0; untouched && i < n; i++) {
        snprintf(from, sizeof(from), "%s/%s", next, ca_files[i]);
        snprintf(to, sizeof(to), "%s/%s", dir, ca_files[i]);
        if (!files_exists(from))
            unlink(to);
    }
    for (size_t i = 0; i < n; i++) {
        snprintf(from, sizeof(from), "%s/%s", next, ca_files[i]);
        snprintf(to, sizeof(to), "%s/%s", dir, ca_files[i]);
        if (move(from, to, err, errlen) != 0)
            return -1;
    }
    if (rmdir(next) != 0 && errno != ENOENT)
        watch_log("warning: cannot remove %s: %s", next, strerror(errno));
    return 0;
}

int watch_switch(const watch_config *w, const watch_paths *p, char *err, size_t errlen)
{
    if (switch_ca_dir(w->c.ca_dir, p->ca_next, err, errlen) != 0)
        return -1;
    /* Certificate, then key: a crash between leaves KEY.next, which watch_recover adopts. */
    if (move(p->cert_next, w->cert, err, errlen) != 0)
        return -1;
    return move(p->key_next, w->key, err, errlen);
}
