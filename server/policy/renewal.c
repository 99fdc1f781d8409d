#include "policy/renewal.h"

#include <stdio.h>
#include <string.h>

time_t renewal_window_start(const config *c, X509 *old)
{
    time_t from = (time_t)ca_unix_time(X509_get0_notBefore(old));
    time_t until = (time_t)ca_unix_time(X509_get0_notAfter(old));
    if (c->renewal_window_days > 0)
        return until - (time_t)c->renewal_window_days * 86400;
    return from + (time_t)((double)(until - from) * c->renewal_window_pct / 100.0);
}

static void date_text(time_t t, char *buf, size_t len)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const char *stored_problem(store *st, X509 *old, scep_err *err)
{
    char serial[STORE_HEX_SERIAL];
    ca_serial_hex(old, serial, sizeof(serial));
    store_cert rec = {0};
    store_status s = st->ops->cert_get(st, serial, &rec);
    cert_state state = rec.state;
    store_cert_clear(&rec);
    *err = SCEP_E_BAD_CERT_ID;
    if (s == STORE_NOT_FOUND)
        return "the signer certificate is not in this CA's records";
    if (s != STORE_OK)
        return "the certificate store cannot be read";
    *err = SCEP_E_BAD_CSR;
    return state == CERT_REVOKED ? "the certificate to renew is revoked" : NULL;
}

const char *renewal_problem(const config *c, store *st, X509 *old, X509_REQ *csr, EVP_PKEY *csr_key,
                            time_t now, scep_err *err, char *buf, size_t buflen)
{
    const char *why = stored_problem(st, old, err);
    if (why != NULL)
        return why;
    if ((time_t)ca_unix_time(X509_get0_notAfter(old)) <= now) {
        *err = SCEP_E_BAD_TIME;
        return "the certificate to renew has expired";
    }
    time_t opens = renewal_window_start(c, old);
    if (now < opens) {
        char when[32];
        date_text(opens, when, sizeof(when));
        snprintf(buf, buflen, "too early to renew: the renewal window opens at %s", when);
        *err = SCEP_E_BAD_CSR;
        return buf;
    }
    *err = SCEP_E_BAD_CSR;
    if (c->renewal_same_subject &&
        X509_NAME_cmp(X509_get_subject_name(old), X509_REQ_get_subject_name(csr)) != 0)
        return "a renewal must keep the certificate's subject";
    if (c->renewal_new_key && EVP_PKEY_eq(X509_get0_pubkey(old), csr_key) == 1)
        return "a renewal must use a new key";
    return NULL;
}
