#include "crl.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static int fresh_enough(const store_crl *latest, int64_t now)
{
    return now < latest->this_update + (latest->next_update - latest->this_update) / 2;
}

/* Issues CRL number `number`; STORE_EXISTS when another process issued that number first. */
static store_status issue(const authority *ca, const config *c, store *st, int64_t number,
                          char *err, size_t errlen)
{
    int64_t now = (int64_t)time(NULL);
    int64_t next = now + (int64_t)c->crl_days * 86400;
    X509_CRL *crl = ca_make_crl(ca, st, number, now, next, err, errlen);
    if (crl == NULL)
        return STORE_ERROR;
    unsigned char *der = NULL;
    int n = i2d_X509_CRL(crl, &der);
    X509_CRL_free(crl);
    if (n <= 0)
        return STORE_ERROR;
    store_crl rec = {.number = number,
                     .this_update = now,
                     .next_update = next,
                     .der = der,
                     .der_len = (size_t)n};
    store_status s = st->ops->crl_add(st, &rec);
    OPENSSL_free(der);
    if (s != STORE_OK && s != STORE_EXISTS)
        snprintf(err, errlen, "cannot store the CRL: %s", st->ops->last_error(st));
    else if (s == STORE_OK)
        st->ops->event_add(st, "crl", "", "issued");
    return s;
}

int crl_current(const authority *ca, const config *c, store *st, int force, store_crl *out,
                char *err, size_t errlen)
{
    err[0] = '\0';
    for (int attempt = 0; attempt < 3; attempt++) {
        store_status s = st->ops->crl_latest(st, out);
        if (s != STORE_OK && s != STORE_NOT_FOUND) {
            snprintf(err, errlen, "cannot read the CRL: %s", st->ops->last_error(st));
            return -1;
        }
        if (s == STORE_OK && !force && fresh_enough(out, (int64_t)time(NULL)))
            return 0;
        int64_t number = s == STORE_OK ? out->number + 1 : 1;
        store_crl_clear(out);
        s = issue(ca, c, st, number, err, errlen);
        if (s != STORE_OK && s != STORE_EXISTS)
            return -1;
        force = 0; /* issued (or someone else issued a newer one): read it back */
    }
    snprintf(err, errlen, "the CRL kept changing while it was read");
    return -1;
}
