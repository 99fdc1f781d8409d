#include "ca/ca_health.h"

#include "keys/keys.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* Calls check(cert, what) for the CA, each certificate above it, then the RA (and the RA
 * signing certificate); stops at the
 * first that returns non-zero. */
typedef int (*cert_check)(const X509 *cert, const char *what, void *arg);

void ca_cert_what(STACK_OF(X509) * chain, int i, char *buf, size_t len)
{
    if (i == 0) {
        snprintf(buf, len, "CA");
        return;
    }
    char subject[256];
    ca_name_text(X509_get_subject_name(sk_X509_value(chain, i)), subject, sizeof(subject));
    snprintf(buf, len, "CA chain (%s)", subject);
}

static int each_cert(const authority *ca, cert_check check, void *arg)
{
    int rc = check(ca->cert, "CA", arg);
    char what[300];
    for (int i = 1; rc == 0 && ca->chain != NULL && i < sk_X509_num(ca->chain); i++) {
        ca_cert_what(ca->chain, i, what, sizeof(what));
        rc = check(sk_X509_value(ca->chain, i), what, arg);
    }
    if (rc == 0 && ca->ra_cert != NULL)
        rc = check(ca->ra_cert, "RA", arg);
    if (rc == 0 && ca->ra_sign_cert != NULL)
        rc = check(ca->ra_sign_cert, "RA signing", arg);
    return rc;
}

typedef struct issue_check {
    int64_t now;
    char *why;
    size_t len;
} issue_check;

static int refuse_invalid(const X509 *cert, const char *what, void *arg)
{
    issue_check *c = arg;
    return ca_cert_not_valid(cert, what, c->now, c->why, c->len);
}

int ca_cannot_issue(const authority *ca, int64_t now, char *why, size_t len)
{
    issue_check c = {now, why, len};
    return each_cert(ca, refuse_invalid, &c) != 0 ? -1 : 0;
}

typedef struct health {
    int64_t now;
    char *out;
    size_t len;
    int errors;
    const char *profile; /* whose ca_dir the CA is; NULL: the server's */
} health;

static void add_line(health *h, const char *level, const char *text)
{
    size_t used = strnlen(h->out, h->len);
    if (used + 1 < h->len)
        snprintf(h->out + used, h->len - used, "%s: %s%s%s%s\n", level,
                 h->profile ? "profile " : "", h->profile ? h->profile : "",
                 h->profile ? " (ca_dir): " : "", text);
}

static int report(const X509 *cert, const char *what, void *arg)
{
    health *h = arg;
    char line[256], when[32];
    if (ca_cert_not_valid(cert, what, h->now, line, sizeof(line)) != 0) {
        add_line(h, "error", line);
        h->errors++;
        return 0;
    }
    int64_t until = ca_unix_time(X509_get0_notAfter(cert));
    if (until - h->now <= (int64_t)CA_EXPIRY_WARNING_DAYS * 86400) {
        ca_time_text(until, when, sizeof(when));
        snprintf(line, sizeof(line), "the %s certificate expires at %s (in %lld days)%s", what,
                 when, (long long)((until - h->now) / 86400),
                 strcmp(what, "RA") == 0 ? ": renew it with scepd ra-renew" : "");
        add_line(h, "warning", line);
    }
    return 0;
}

int ca_health(const authority *ca, int64_t now, char *out, size_t len)
{
    return ca_health_of(ca, NULL, now, out, len);
}

int ca_health_of(const authority *ca, const char *prof_name, int64_t now, char *out, size_t len)
{
    health h = {now, out, len, 0, prof_name};
    each_cert(ca, report, &h);
    return h.errors;
}

int ca_keys_ready(char *why, size_t len)
{
    return keys_tokens_ready(why, len);
}
