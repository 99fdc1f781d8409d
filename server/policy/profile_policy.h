/* A profile's rules on what a request asks for: key types and sizes, required RDNs and the
 * subject's pattern, and the SANs (DNS and email domains, a URI pattern, IP ranges). */
#ifndef SCEPD_PROFILE_POLICY_H
#define SCEPD_PROFILE_POLICY_H

#include <openssl/x509.h>

#include "scep/scep.h"

#include "profile/profile.h"

/* NULL when csr (with key) passes p's rules, else the reason (in why, naming the rule and
 * what broke it) with *err (SCEP_E_BAD_ALG for a key, SCEP_E_BAD_CSR for the rest). */
const char *policy_profile(const profile *p, X509_REQ *csr, EVP_PKEY *key, scep_err *err, char *why,
                           size_t len);

#endif
