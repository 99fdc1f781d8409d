/* scep watch: one renewal attempt, through the same request as `scep renew`. During a CA
 * rollover the server answers with a shadow certificate from the next CA, kept as CERT.next
 * until the switch. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/x509v3.h>

#include "files.h"
#include "keys.h"
#include "renewal.h"
#include "watch.h"

/* The key type of the current key, for a new one of the same kind. */
static void same_type(EVP_PKEY *key, char *spec, size_t len)
{
    char group[64] = "";
    size_t glen = 0;
    if (EVP_PKEY_is_a(key, "EC") &&
        EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                       &glen) == 1) {
        snprintf(spec, len, "ec:%s", strcmp(group, "secp384r1") == 0 ? "P-384" : "P-256");
        return;
    }
    int bits = EVP_PKEY_get_bits(key);
    snprintf(spec, len, "rsa:%d", bits == 3072 || bits == 4096 ? bits : 2048);
}

/* The key the new certificate is for: the current one, or KEY.new (kept across attempts, so a
 * resent request is the same request and a PENDING transaction resumes). */
static EVP_PKEY *request_key(const watch_config *w, const watch_paths *p, const watch_pair *cur,
                             char *err, size_t errlen)
{
    if (!w->new_key) {
        EVP_PKEY_up_ref(cur->key);
        return cur->key;
    }
    char spec[32];
    if (w->key_type != NULL)
        snprintf(spec, sizeof(spec), "%s", w->key_type);
    else
        same_type(cur->key, spec, sizeof(spec));
    int generated = 0;
    EVP_PKEY *key = keys_load_or_generate(p->key_new, spec, &generated, err, errlen);
    if (key != NULL && EVP_PKEY_eq(key, cur->key) == 1) {
        EVP_PKEY_free(key);
        unlink(p->key_new);
        key = keys_load_or_generate(p->key_new, spec, &generated, err, errlen);
    }
    if (key != NULL && generated)
        watch_log("new %s key generated in %s", spec, p->key_new);
    return key;
}

static int open_session(const watch_config *w, session *s)
{
    int rc = session_open(s, w->c.url, w->c.legacy, &w->c.net);
    if (rc == EXIT_OK)
        rc = session_caps(s);
    if (rc == EXIT_OK)
        rc = session_load_ca(s, w->c.ca_dir);
    return rc;
}

/* GetNextCACert, verified by the current CA, saved in DIR/next; *next_ca borrowed from *next. */
static int fetch_next_ca(session *s, const watch_paths *p, STACK_OF(X509) * *next, X509 **next_ca,
                         char *err, size_t errlen)
{
    int rc = session_fetch_next_ca(s, next);
    if (rc != EXIT_OK) {
        snprintf(err, errlen, "%s", s->err);
        return rc;
    }
    X509 *ra_enc = NULL, *ra_sign = NULL;
    if (scep_certs_roles(*next, next_ca, &ra_enc, &ra_sign) != SCEP_OK) {
        snprintf(err, errlen, "GetNextCACert holds no CA certificate");
        return EXIT_BAD_REPLY;
    }
    if (watch_save_ca_dir(p->ca_next, *next, err, errlen) != 0)
        return EXIT_ERROR;
    char name[256];
    scep_name_text(X509_get_subject_name(*next_ca), name, sizeof(name));
    watch_log("the server prepares a CA rollover: next CA %s saved in %s", name, p->ca_next);
    return EXIT_OK;
}

/* Whether ca issued and signed cert. */
static int signed_by(X509 *ca, X509 *cert)
{
    return ca != NULL && X509_check_issued(ca, cert) == X509_V_OK &&
           X509_verify(cert, X509_get0_pubkey(ca)) == 1;
}

static int move_key(const char *from, const char *to, char *err, size_t errlen)
{
    if (rename(from, to) == 0)
        return 0;
    snprintf(err, errlen, "cannot move %s to %s: %s", from, to, strerror(errno));
    return -1;
}

/* CERT first, then KEY: a crash between leaves KEY.new, which watch_recover adopts. */
static int install_renewed(const watch_config *w, const watch_paths *p, X509 *issued, char *err,
                           size_t errlen)
{
    if (files_write_cert(w->cert, issued, w->c.der, err, errlen) != 0)
        return EXIT_ERROR;
    if (w->new_key && move_key(p->key_new, w->key, err, errlen) != 0)
        return EXIT_ERROR;
    return EXIT_OK;
}

/* KEY.next first, then CERT.next: CERT.next is what says a shadow pair is held. */
static int install_shadow(const watch_config *w, const watch_paths *p, const watch_pair *cur,
                          X509 *issued, char *err, size_t errlen)
{
    int rc = w->new_key ? move_key(p->key_new, p->key_next, err, errlen)
                        : files_write_key(p->key_next, cur->key, err, errlen);
    if (rc == 0)
        rc = files_write_cert(p->cert_next, issued, w->c.der, err, errlen);
    return rc == 0 ? EXIT_OK : EXIT_ERROR;
}

/* Keeps what the server issued, after checking which CA signed it. */
static int install(const watch_config *w, const watch_paths *p, const watch_pair *cur, X509 *ca,
                   X509 *next_ca, X509 *issued, watch_outcome *outcome, char *err, size_t errlen)
{
    int rc = EXIT_BAD_REPLY;
    if (signed_by(ca, issued)) {
        rc = install_renewed(w, p, issued, err, errlen);
        *outcome = WATCH_RENEWED;
    } else if (signed_by(next_ca, issued)) {
        rc = install_shadow(w, p, cur, issued, err, errlen);
        *outcome = WATCH_SHADOW;
    } else {
        snprintf(err, errlen, "the new certificate is not signed by the %s",
                 next_ca ? "current or the next CA" : "CA");
    }
    if (rc != EXIT_OK)
        *outcome = WATCH_NOTHING;
    return rc;
}

int watch_renew(const watch_config *w, const watch_paths *p, const watch_pair *cur, int probe_only,
                watch_outcome *outcome, char *err, size_t errlen)
{
    *outcome = WATCH_NOTHING;
    err[0] = '\0';
    session s;
    enrollment e = {.poll_interval = w->poll_interval,
                    .max_poll_time = w->max_poll_time,
                    .password = w->challenge};
    STACK_OF(X509) *next = NULL;
    X509 *next_ca = NULL, *issued = NULL;
    int rc = open_session(w, &s);
    int rollover = rc == EXIT_OK && (s.caps & SCEP_CAP_GET_NEXT_CA_CERT);
    if (rc != EXIT_OK || (probe_only && !rollover))
        goto out;
    /* Any renewal during a rollover may be answered from the next CA: know it first. */
    if (rollover && (rc = fetch_next_ca(&s, p, &next, &next_ca, err, errlen)) != EXIT_OK)
        goto out;
    if ((e.key = request_key(w, p, cur, err, errlen)) == NULL) {
        rc = EXIT_ERROR;
        goto out;
    }
    rc = renewal_prepare(&s, &e, cur->cert, cur->key, w->challenge);
    if (rc == EXIT_OK)
        rc = enrollment_run(&s, &e, &issued);
    if (rc == EXIT_OK)
        rc = install(w, p, cur, s.ca, next_ca, issued, outcome, err, errlen);
out:
    if (rc != EXIT_OK && err[0] == '\0')
        snprintf(err, errlen, "%s", s.err);
    X509_free(issued);
    sk_X509_pop_free(next, X509_free);
    EVP_PKEY_free(e.key);
    X509_REQ_free(e.csr);
    session_close(&s);
    return rc;
}
