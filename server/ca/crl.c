#include "ca/crl.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static int fresh_enough(const store_crl *latest, int64_t now)
{
    return now < latest->this_update + (latest->next_update - latest->this_update) / 2;
}

/* Issues CRL number `number` for ca's generation; STORE_EXISTS when another process took that
 * number first. */
static store_status issue(const authority *ca, const config *c, store *st, const char *issuer_key,
                          int64_t number, char *err, size_t errlen)
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
    snprintf(rec.issuer_key, sizeof(rec.issuer_key), "%s", issuer_key);
    store_status s = st->ops->crl_add(st, &rec);
    OPENSSL_free(der);
    if (s != STORE_OK && s != STORE_EXISTS)
        snprintf(err, errlen, "cannot store the CRL: %s", st->ops->last_error(st));
    else if (s == STORE_OK)
        st->ops->event_add(st, "crl", issuer_key, "issued");
    return s;
}

/* The next number: one sequence across generations, so each issuer's numbers only grow. */
static int next_number(store *st, int64_t *number, char *err, size_t errlen)
{
    store_crl any = {0};
    store_status s = st->ops->crl_latest(st, NULL, &any);
    *number = s == STORE_OK ? any.number + 1 : 1;
    store_crl_clear(&any);
    if (s == STORE_OK || s == STORE_NOT_FOUND)
        return 0;
    snprintf(err, errlen, "cannot read the CRL numbers: %s", st->ops->last_error(st));
    return -1;
}

/* Issues the next CRL under the store's claim, so that of several nodes finding the CRL due,
 * one signs; STORE_BUSY while another holds the claim (it is issuing one now). */
static store_status issue_claimed(const authority *ca, const config *c, store *st,
                                  const char *issuer_key, char *err, size_t errlen)
{
    store_status s = st->ops->crl_claim != NULL ? st->ops->crl_claim(st) : STORE_OK;
    if (s == STORE_BUSY)
        return s;
    if (s != STORE_OK) {
        snprintf(err, errlen, "cannot claim the CRL: %s", st->ops->last_error(st));
        return s;
    }
    int64_t number;
    s = next_number(st, &number, err, errlen) == 0
            ? issue(ca, c, st, issuer_key, number, err, errlen)
            : STORE_ERROR;
    if (st->ops->crl_release != NULL)
        st->ops->crl_release(st);
    return s;
}

#define CLAIM_WAIT_NS (50 * 1000 * 1000)
#define CLAIM_WAITS 100 /* 5 s: another node signs a CRL in milliseconds */

int crl_current(const authority *ca, const config *c, store *st, int force, store_crl *out,
                char *err, size_t errlen)
{
    err[0] = '\0';
    char issuer_key[STORE_KEY_ID];
    if (ca_key_id(X509_get_X509_PUBKEY(ca->cert), issuer_key, sizeof(issuer_key)) != 0) {
        snprintf(err, errlen, "cannot identify the CA key");
        return -1;
    }
    int attempts = 0, waits = 0;
    while (attempts < 3) {
        store_status s = st->ops->crl_latest(st, issuer_key, out);
        if (s != STORE_OK && s != STORE_NOT_FOUND) {
            snprintf(err, errlen, "cannot read the CRL: %s", st->ops->last_error(st));
            return -1;
        }
        if (s == STORE_OK && !force && fresh_enough(out, (int64_t)time(NULL)))
            return 0;
        store_crl_clear(out);
        s = issue_claimed(ca, c, st, issuer_key, err, errlen);
        /* Another node is signing: read its CRL once it is stored (a forced one is issued
         * after it, so that it covers what this node just revoked). */
        if (s == STORE_BUSY && waits++ < CLAIM_WAITS) {
            nanosleep(&(struct timespec){0, CLAIM_WAIT_NS}, NULL);
            continue;
        }
        if (s == STORE_BUSY)
            snprintf(err, errlen, "another process kept issuing the CRL");
        if (s != STORE_OK && s != STORE_EXISTS)
            return -1;
        force = 0; /* issued (or someone else issued a newer one): read it back */
        attempts++;
    }
    snprintf(err, errlen, "the CRL kept changing while it was read");
    return -1;
}

int crl_for_generation(const authority *ca, X509 *gen_cert, EVP_PKEY *gen_key, const config *c,
                       store *st, int force, store_crl *out, char *err, size_t errlen)
{
    if (gen_cert == ca->cert)
        return crl_current(ca, c, st, force, out, err, errlen);
    authority gen = {.cert = gen_cert, .key = gen_key};
    return crl_current(&gen, c, st, force, out, err, errlen);
}
