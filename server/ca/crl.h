/* The CA's current CRL, shared through the store by every process serving the CA. */
#ifndef SCEPD_CRL_H
#define SCEPD_CRL_H

#include "ca/ca.h"

/*
 * The latest CRL in the store, or a new one when there is none, when force is set (after a
 * revocation), or when the latest has passed half its validity (so clients never see an
 * expired one). Returns 0 with *out filled (caller clears it), or -1 with a reason in err.
 */
int crl_current(const authority *ca, const config *c, store *st, int force, store_crl *out,
                char *err, size_t errlen);

/* The current CRL of one generation of the CA (gen_cert and gen_key: ca's current, or its
 * previous generation after a rollover). */
int crl_for_generation(const authority *ca, X509 *gen_cert, EVP_PKEY *gen_key, const config *c,
                       store *st, int force, store_crl *out, char *err, size_t errlen);

#endif
