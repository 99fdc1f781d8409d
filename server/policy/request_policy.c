/* The signer, key and subject rules a PKCSReq or RenewalReq must pass before anything is
 * stored or issued. */
#include "policy/request_policy.h"

#include <openssl/err.h>

int policy_self_signed(X509 *cert)
{
    if (X509_NAME_cmp(X509_get_subject_name(cert), X509_get_issuer_name(cert)) != 0)
        return 0;
    ERR_set_mark();
    int ok = X509_verify(cert, X509_get0_pubkey(cert)) == 1;
    ERR_pop_to_mark();
    return ok;
}

/*
 * A self-signed signer with a key of its own: Apple's MDM client signs with a temporary
 * identity and decrypts the CertRep with it (RFC 8894 section 2.3 only says SHOULD use the
 * request's key). Its self-signature was checked and the CSR's proves the request's key; the
 * request must still pass the challenge (or wait for an operator) like any other, and the
 * transaction stays bound to this signer's key.
 */
static const char *self_signer(const config *c, X509 *signer, EVP_PKEY *csr_key, signer_kind *kind)
{
    *kind = SIGNER_SELF;
    if (EVP_PKEY_eq(X509_get0_pubkey(signer), csr_key) == 1)
        return NULL;
    if (c->signer_key_must_match)
        return "the self-signed signer's key is not the request's key (signer_key_must_match)";
    *kind = SIGNER_SEPARATE;
    return NULL;
}

/* Self-signed: an initial enrollment, with the request's key unless policy allows another;
 * else a certificate this CA issued: a renewal, which the renewal policy must then allow. */
const char *policy_signer(const config *c, const authority *ca, X509 *signer, EVP_PKEY *csr_key,
                          int renewal_req, signer_kind *kind, scep_err *err)
{
    *err = SCEP_E_UNTRUSTED_SIGNER;
    if (policy_self_signed(signer)) {
        if (renewal_req) {
            *err = SCEP_E_BAD_CSR;
            return "a RenewalReq must be signed by the certificate it renews";
        }
        return self_signer(c, signer, csr_key, kind);
    }
    if (!ca_issued(ca, signer))
        return "the signer certificate was not issued by this CA";
    *kind = SIGNER_ISSUED;
    return NULL;
}

static scep_err key_policy(const config *c, EVP_PKEY *key, const char **why)
{
    if (c->allowed_keys[0] != '\0')
        return SCEP_OK; /* the profile's key rules instead (profile_policy.c) */
    if (EVP_PKEY_is_a(key, "RSA")) {
        *why = "RSA key shorter than the minimum";
        return EVP_PKEY_get_bits(key) >= c->min_rsa_bits ? SCEP_OK : SCEP_E_BAD_ALG;
    }
    if (EVP_PKEY_is_a(key, "EC")) {
        *why = c->allow_ec ? "EC key below P-256" : "EC keys are not accepted";
        return c->allow_ec && EVP_PKEY_get_bits(key) >= 256 ? SCEP_OK : SCEP_E_BAD_ALG;
    }
    *why = "key type not accepted";
    return SCEP_E_BAD_ALG;
}

const char *policy_request(const config *c, X509_REQ *csr, EVP_PKEY *key, scep_err *err)
{
    const char *why = NULL;
    *err = key_policy(c, key, &why);
    if (*err != SCEP_OK)
        return why;
    *err = SCEP_E_BAD_CSR;
    if (X509_NAME_entry_count(X509_REQ_get_subject_name(csr)) == 0)
        return "the request has an empty subject";
    *err = SCEP_OK;
    return NULL;
}
