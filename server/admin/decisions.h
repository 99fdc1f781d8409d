/* An operator's decisions, the same from `scepd reject|revoke` and the admin API: the store's
 * change, its event and its audit row; the caller prints or answers. */
#ifndef SCEPD_ADMIN_DECISIONS_H
#define SCEPD_ADMIN_DECISIONS_H

#include "ca/ca.h"
#include "log/log.h"
#include "store/store.h"

/* The RFC 5280 CRLReason of a name ("keyCompromise"), -1 when unknown; and the name of one. */
int decision_reason_code(const char *name);
const char *decision_reason_name(int code);

/* Moves request id from PENDING to `to` (APPROVED or REJECTED, with why), and records it.
 * *out is the request after. STORE_CONFLICT when it is not pending. */
store_status decision_request(store *st, int64_t id, request_state to, const char *why,
                              store_request *out);

/* Revokes the certificate with serial (reason a CRLReason code); *out is its record after.
 * STORE_CONFLICT when it is revoked already, STORE_EXISTS when it is a CA certificate. */
store_status decision_revoke(store *st, const char *serial, int reason, store_cert *out);

/* After a revocation: the CRL of the current generation, and of the previous one after a
 * rollover, issued now. *current is the current one's (the caller clears it). 0, or -1 with
 * err. */
int decision_reissue_crls(const authority *ca, const config *c, store *st, store_crl *current,
                          char *err, size_t errlen);
/* The same for the CA that issued rec (its DER): ca, or the CA of a profile's ca_dir (loaded
 * from its directory), into *crl. */
int decision_reissue_crls_of(const authority *ca, const config *c, store *st, const store_cert *rec,
                             store_crl *crl, char *err, size_t errlen);

#endif
