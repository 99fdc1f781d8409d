#include "admin/decisions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin/profile_ca.h"
#include "ca/crl.h"

static const char *const reason_names[] = {
    "unspecified",   "keyCompromise",        "cACompromise",    "affiliationChanged",
    "superseded",    "cessationOfOperation", "certificateHold", NULL /* 7 unused */,
    "removeFromCRL", "privilegeWithdrawn",   "aACompromise"};

#define N_REASONS (int)(sizeof(reason_names) / sizeof(reason_names[0]))

int decision_reason_code(const char *name)
{
    for (int i = 0; name != NULL && i < N_REASONS; i++)
        if (reason_names[i] != NULL && strcmp(reason_names[i], name) == 0 && i != 8)
            return i;
    return -1;
}

const char *decision_reason_name(int code)
{
    return code >= 0 && code < N_REASONS && reason_names[code] ? reason_names[code] : NULL;
}

store_status decision_request(store *st, int64_t id, request_state to, const char *why,
                              store_request *out)
{
    store_status s = st->ops->request_transition(st, id, REQUEST_PENDING, to, why);
    if (s == STORE_CONFLICT || s == STORE_OK) {
        store_status got = st->ops->request_get_by_id(st, id, out);
        if (got != STORE_OK)
            return got;
    }
    if (s == STORE_OK)
        st->ops->event_add(st, to == REQUEST_APPROVED ? "approve" : "reject", out->transaction_id,
                           why);
    return s;
}

store_status decision_revoke(store *st, const char *serial, int reason, store_cert *out)
{
    store_status s = st->ops->cert_get(st, serial, out);
    if (s != STORE_OK)
        return s;
    if (out->is_ca)
        return STORE_EXISTS;
    if (out->state == CERT_REVOKED)
        return STORE_CONFLICT;
    int64_t now = (int64_t)time(NULL);
    s = st->ops->cert_set_state(st, serial, CERT_REVOKED, now, reason);
    if (s != STORE_OK)
        return s;
    out->state = CERT_REVOKED;
    out->revoked_at = now;
    out->revocation_reason = reason;
    st->ops->event_add(st, "revoke", serial, decision_reason_name(reason));
    return STORE_OK;
}

int decision_reissue_crls(const authority *ca, const config *c, store *st, store_crl *current,
                          char *err, size_t errlen)
{
    store_crl prev = {0};
    int rc = crl_current(ca, c, st, 1, current, err, errlen);
    /* After a rollover the certificate may be the previous generation's: its CRL too. */
    if (rc == 0 && ca->prev.cert != NULL)
        rc = crl_for_generation(ca, ca->prev.cert, ca->prev.key, c, st, 1, &prev, err, errlen);
    store_crl_clear(&prev);
    return rc;
}

/* Reissues the CRLs of the CA that issued rec: the server's (ca), or a profile's (ca_dir). */
int decision_reissue_crls_of(const authority *ca, const config *c, store *st, const store_cert *rec,
                             store_crl *crl, char *err, size_t errlen)
{
    const unsigned char *p = rec->der;
    X509 *cert = d2i_X509(NULL, &p, (long)rec->der_len);
    authority own = {0};
    profile_set ps = {0};
    config *own_cfg = calloc(1, sizeof(*own_cfg));
    int found = own_cfg == NULL ? -1 : 0;
    if (own_cfg == NULL)
        snprintf(err, errlen, "out of memory");
    else if (cert != NULL && !ca_issued(ca, cert))
        found = profile_set_load_dir(&ps, c, err, errlen) != 0
                    ? -1
                    : admin_issuing_profile_ca(&ps, cert, &own, own_cfg, err, errlen);
    int rc = found < 0 ? -1 : decision_reissue_crls(found ? &own : ca, c, st, crl, err, errlen);
    ca_free(&own);
    profile_set_free(&ps);
    free(own_cfg);
    X509_free(cert);
    return rc;
}
