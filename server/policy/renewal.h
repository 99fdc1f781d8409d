/* Renewal policy: when a request signed by a certificate this CA issued may renew it
 * (RFC 8894 section 2.5, the draft's section 2.2.3). */
#ifndef SCEPD_RENEWAL_H
#define SCEPD_RENEWAL_H

#include <time.h>

#include "scep/scep.h"

#include "ca/ca.h"
#include "config/config.h"
#include "store/store.h"

/* When old's renewal window opens under the configured policy. */
time_t renewal_window_start(const config *c, X509 *old);

/*
 * Checks that old (which this CA issued and whose signature on the request verified) may be
 * renewed by csr (whose key is csr_key) now: known to the store and not revoked, not expired,
 * inside the window, same subject and new key when the policy asks. Returns NULL when it may, else
 * a reason for the failInfoText, with *err the error that picks the failInfo.
 */
const char *renewal_problem(const config *c, store *st, X509 *old, X509_REQ *csr, EVP_PKEY *csr_key,
                            time_t now, scep_err *err, char *buf, size_t buflen);

#endif
