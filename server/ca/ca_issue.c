/* Building a certificate from an approved CSR under the configured profile. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "ca/ca_san_template.h"
#include "config/config_rules.h"
#include "keys/keys.h"
#include "scep/scep.h"

static int set_serial(X509 *cert)
{
    unsigned char bytes[16];
    if (RAND_bytes(bytes, sizeof(bytes)) != 1)
        return 0;
    /* Positive, and a non-zero top byte so every serial is 16 bytes long. */
    bytes[0] = (unsigned char)((bytes[0] & 0x7f) | 0x01);
    BIGNUM *bn = BN_bin2bn(bytes, sizeof(bytes), NULL);
    int ok = bn != NULL && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != NULL;
    BN_free(bn);
    return ok;
}

/* From not_before (0: now) for the profile's lifetime, but never past the CA's notAfter; a CA
 * that is not valid then issues nothing, and no certificate ends before it starts. */
static int set_validity(X509 *cert, const X509 *ca_cert, const config *c, int64_t not_before,
                        char *err, size_t errlen)
{
    time_t from = not_before > 0 ? (time_t)not_before : time(NULL);
    if (ca_cert_not_valid(ca_cert, "CA", (int64_t)from, err, errlen) != 0)
        return 0;
    int days = c->validity_seconds > 0 ? 0 : c->validity_days;
    long secs = c->validity_seconds > 0 ? (long)c->validity_seconds : 0;
    snprintf(err, errlen, "cannot build the certificate");
    if (!X509_time_adj_ex(X509_getm_notBefore(cert), 0, 0, &from) ||
        !X509_time_adj_ex(X509_getm_notAfter(cert), days, secs, &from))
        return 0;
    const ASN1_TIME *ca_end = X509_get0_notAfter(ca_cert);
    if (ASN1_TIME_compare(X509_get0_notAfter(cert), ca_end) > 0 &&
        !X509_set1_notAfter(cert, ca_end))
        return 0;
    if (ASN1_TIME_compare(X509_get0_notBefore(cert), X509_get0_notAfter(cert)) >= 0) {
        char when[32];
        ca_time_text(ca_unix_time(ca_end), when, sizeof(when));
        snprintf(err, errlen, "the CA certificate expires at %s: no time is left to issue", when);
        return 0;
    }
    return 1;
}

static int add_conf_ext(X509 *cert, const X509 *ca_cert, int nid, const char *value)
{
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, (X509 *)(uintptr_t)ca_cert, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
    int ok = ext != NULL && X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok;
}

/* Only name types a device certificate should carry. */
static int san_types_allowed(X509_EXTENSION *ext)
{
    GENERAL_NAMES *names = X509V3_EXT_d2i(ext);
    if (names == NULL)
        return 0;
    int ok = 1;
    for (int i = 0; ok && i < sk_GENERAL_NAME_num(names); i++) {
        int type = sk_GENERAL_NAME_value(names, i)->type;
        ok = type == GEN_DNS || type == GEN_IPADD || type == GEN_EMAIL || type == GEN_URI;
    }
    GENERAL_NAMES_free(names);
    return ok;
}

static int wanted(const config *c, int nid, X509_EXTENSION *ext, char *err, size_t errlen)
{
    switch (nid) {
    case NID_subject_alt_name:
        if (c->copy_san && !san_types_allowed(ext)) {
            snprintf(err, errlen, "subjectAltName holds a name type that is not allowed");
            return -1;
        }
        return c->copy_san && c->san_template[0] == '\0'; /* else with the template's */
    case NID_key_usage:
        return c->copy_key_usage && c->key_usage[0] == '\0';
    case NID_ext_key_usage:
        return c->copy_ext_key_usage && c->ext_key_usage[0] == '\0';
    default:
        return 0; /* basicConstraints, policies, ...: the CA decides, never the requester */
    }
}

/* Copies the requested extensions the profile allows; reports which defaults are needed. */
static int copy_requested(X509 *cert, X509_REQ *csr, const config *c, int *has_ku, int *has_eku,
                          char *err, size_t errlen)
{
    STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(csr);
    int rc = 0;
    for (int i = 0; rc == 0 && i < sk_X509_EXTENSION_num(exts); i++) {
        X509_EXTENSION *ext = sk_X509_EXTENSION_value(exts, i);
        int nid = OBJ_obj2nid(X509_EXTENSION_get_object(ext));
        int want = wanted(c, nid, ext, err, errlen);
        if (want < 0)
            rc = -1;
        else if (want && !X509_add_ext(cert, ext, -1))
            rc = -1;
        else if (want) {
            *has_ku |= nid == NID_key_usage;
            *has_eku |= nid == NID_ext_key_usage;
        }
    }
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    return rc;
}

/* The CRL Distribution Points URI: crl_url with "{ca}" replaced by the issuing generation's
 * key id, so that a certificate keeps pointing at its own CA's CRL after a rollover. */
static int crl_uri(const config *c, const X509 *ca_cert, char *out, size_t outlen)
{
    const char *mark = strstr(c->crl_url, CRL_URL_CA_MARK);
    if (mark == NULL)
        return snprintf(out, outlen, "%s", c->crl_url) < (int)outlen ? 0 : -1;
    char key_id[STORE_KEY_ID];
    if (ca_key_id(X509_get_X509_PUBKEY(ca_cert), key_id, sizeof(key_id)) != 0)
        return -1;
    int n = snprintf(out, outlen, "%.*s%s%s", (int)(mark - c->crl_url), c->crl_url, key_id,
                     mark + strlen(CRL_URL_CA_MARK));
    return n > 0 && n < (int)outlen ? 0 : -1;
}

/* cRLDistributionPoints with one distributionPoint, the fullName uri, as the conf text
 * "URI:uri" makes it (crl_url holds no comma or space that the conf syntax would split at). */
static int add_cdp(X509 *cert, const char *uri)
{
    CRL_DIST_POINTS *cdp = sk_DIST_POINT_new_null();
    DIST_POINT *dp = DIST_POINT_new();
    GENERAL_NAME *gn = GENERAL_NAME_new();
    ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
    int ok = cdp != NULL && dp != NULL && gn != NULL && ia5 != NULL &&
             ASN1_STRING_set(ia5, uri, (int)strlen(uri)) == 1;
    if (ok) {
        GENERAL_NAME_set0_value(gn, GEN_URI, ia5);
        ia5 = NULL;
        dp->distpoint = DIST_POINT_NAME_new();
        ok = dp->distpoint != NULL &&
             (dp->distpoint->name.fullname = sk_GENERAL_NAME_new_null()) != NULL &&
             sk_GENERAL_NAME_push(dp->distpoint->name.fullname, gn) > 0;
    }
    if (ok) {
        dp->distpoint->type = 0; /* fullName */
        gn = NULL;
        ok = sk_DIST_POINT_push(cdp, dp) > 0;
    }
    if (ok) {
        dp = NULL;
        ok = X509_add1_ext_i2d(cert, NID_crl_distribution_points, cdp, 0, X509V3_ADD_APPEND) == 1;
    }
    ASN1_IA5STRING_free(ia5);
    GENERAL_NAME_free(gn);
    DIST_POINT_free(dp);
    CRL_DIST_POINTS_free(cdp);
    return ok;
}

/* subjectKeyIdentifier: the SHA-1 of the subjectPublicKey bits (RFC 5280 4.2.1.2, method 1),
 * as the conf text "hash" makes it. */
static int add_ski(X509 *cert)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    ASN1_OCTET_STRING *ski = ASN1_OCTET_STRING_new();
    int ok = ski != NULL && X509_pubkey_digest(cert, EVP_sha1(), md, &len) == 1 &&
             ASN1_OCTET_STRING_set(ski, md, (int)len) == 1 &&
             X509_add1_ext_i2d(cert, NID_subject_key_identifier, ski, 0, X509V3_ADD_APPEND) == 1;
    ASN1_OCTET_STRING_free(ski);
    return ok;
}

/* certificate_policies: each OID a policy without qualifiers (the conf syntax wants a config
 * database for anything, so the structure is built here). */
static int add_policies(X509 *cert, const char *list)
{
    char item[CONFIG_LIST_ITEM];
    CERTIFICATEPOLICIES *pols = sk_POLICYINFO_new_null();
    int ok = pols != NULL;
    while (ok && config_list_next(&list, item, sizeof(item)) == 1) {
        POLICYINFO *pi = POLICYINFO_new();
        ok = pi != NULL && (pi->policyid = OBJ_txt2obj(item, 1)) != NULL &&
             sk_POLICYINFO_push(pols, pi) > 0;
        if (!ok)
            POLICYINFO_free(pi);
    }
    ok = ok && X509_add1_ext_i2d(cert, NID_certificate_policies, pols, 0, X509V3_ADD_DEFAULT) == 1;
    CERTIFICATEPOLICIES_free(pols);
    return ok;
}

/* The profile's key_usage, ext_key_usage and certificate_policies, checked when they were
 * set (config_rules.c); NULL when a value does not fit. */
static int add_profile_extensions(X509 *cert, const X509 *ca_cert, const config *c, int *has_ku,
                                  int *has_eku)
{
    char ku[sizeof(c->key_usage) + 16];
    int ok = 1;
    if (c->key_usage[0] != '\0') {
        snprintf(ku, sizeof(ku), "critical,%s", c->key_usage);
        ok = add_conf_ext(cert, ca_cert, NID_key_usage, ku);
        *has_ku = 1;
    }
    if (ok && c->ext_key_usage[0] != '\0') {
        ok = add_conf_ext(cert, ca_cert, NID_ext_key_usage, c->ext_key_usage);
        *has_eku = 1;
    }
    if (ok && c->certificate_policies[0] != '\0')
        ok = add_policies(cert, c->certificate_policies);
    return ok;
}

/*
 * The extensions every certificate gets, built as structures rather than parsed from conf
 * text on every issue (also subjectKeyIdentifier and cRLDistributionPoints, below) (the same DER;
 * tests/unit/test_server_ca.c compares them): basicConstraints CA:FALSE; keyUsage digitalSignature
 * with keyEncipherment (nid) or keyAgreement (-nid); extendedKeyUsage clientAuth.
 */
static int add_fixed_ext(X509 *cert, int nid, int critical)
{
    int ok = 0;
    if (nid == NID_basic_constraints) {
        BASIC_CONSTRAINTS *bc = BASIC_CONSTRAINTS_new();
        ok = bc != NULL && X509_add1_ext_i2d(cert, nid, bc, critical, X509V3_ADD_APPEND) == 1;
        BASIC_CONSTRAINTS_free(bc);
    } else if (nid == NID_key_usage || nid == -NID_key_usage) {
        ASN1_BIT_STRING *ku = ASN1_BIT_STRING_new();
        /* Bits 0 digitalSignature, 2 keyEncipherment, 4 keyAgreement (RFC 5280 4.2.1.3). */
        ok = ku != NULL && ASN1_BIT_STRING_set_bit(ku, 0, 1) &&
             ASN1_BIT_STRING_set_bit(ku, nid > 0 ? 2 : 4, 1) &&
             X509_add1_ext_i2d(cert, NID_key_usage, ku, critical, X509V3_ADD_APPEND) == 1;
        ASN1_BIT_STRING_free(ku);
    } else if (nid == NID_ext_key_usage) {
        EXTENDED_KEY_USAGE *eku = sk_ASN1_OBJECT_new_null();
        ok = eku != NULL && sk_ASN1_OBJECT_push(eku, OBJ_nid2obj(NID_client_auth)) > 0 &&
             X509_add1_ext_i2d(cert, nid, eku, critical, X509V3_ADD_APPEND) == 1;
        sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
    }
    return ok;
}

/* authorityKeyIdentifier keyid:always from the CA's subjectKeyIdentifier, decoded here: the
 * copy OpenSSL caches on the certificate is filled lazily, which OpenSSL 3.0 does without a
 * lock that other workers' reads see (ThreadSanitizer). A CA without one goes through the conf
 * text, which then fails as before ("always"). */
static int add_aki(X509 *cert, const X509 *ca_cert)
{
    ASN1_OCTET_STRING *ski = X509_get_ext_d2i(ca_cert, NID_subject_key_identifier, NULL, NULL);
    if (ski == NULL)
        return add_conf_ext(cert, ca_cert, NID_authority_key_identifier, "keyid:always");
    AUTHORITY_KEYID *akid = AUTHORITY_KEYID_new();
    if (akid == NULL) {
        ASN1_OCTET_STRING_free(ski);
        return 0;
    }
    akid->keyid = ski;
    int ok = X509_add1_ext_i2d(cert, NID_authority_key_identifier, akid, 0, X509V3_ADD_APPEND) == 1;
    AUTHORITY_KEYID_free(akid);
    return ok;
}

static int add_extensions(X509 *cert, const X509 *ca_cert, X509_REQ *csr, const config *c,
                          char *err, size_t errlen)
{
    int has_ku = 0, has_eku = 0;
    if (copy_requested(cert, csr, c, &has_ku, &has_eku, err, errlen) != 0 ||
        ca_san_template(cert, csr, c, err, errlen) != 0)
        return -1;
    if (!add_profile_extensions(cert, ca_cert, c, &has_ku, &has_eku)) {
        snprintf(err, errlen, "cannot build the profile's extensions");
        return -1;
    }
    /* By the key's algorithm identifier: the request may be parsed without a key object. */
    ASN1_OBJECT *key_alg = NULL;
    int rsa = X509_PUBKEY_get0_param(&key_alg, NULL, NULL, NULL, X509_REQ_get_X509_PUBKEY(csr)) &&
              OBJ_obj2nid(key_alg) == NID_rsaEncryption;
    int ok =
        add_fixed_ext(cert, NID_basic_constraints, 1) && add_ski(cert) && add_aki(cert, ca_cert);
    if (ok && !has_ku)
        ok = add_fixed_ext(cert, rsa ? NID_key_usage : -NID_key_usage, 1);
    if (ok && !has_eku)
        ok = add_fixed_ext(cert, NID_ext_key_usage, 0);
    if (ok && c->crl_url[0] != '\0') {
        char uri[sizeof(c->crl_url) + STORE_KEY_ID + 8];
        ok = crl_uri(c, ca_cert, uri, sizeof(uri)) == 0 && add_cdp(cert, uri);
    }
    if (!ok)
        snprintf(err, errlen, "cannot build the certificate's extensions");
    return ok ? 0 : -1;
}

X509 *ca_issue(const authority *ca, X509_REQ *csr, const config *c, char *err, size_t errlen)
{
    return ca_issue_at(ca, csr, c, 0, err, errlen);
}

/* The certificate gets the request's SubjectPublicKeyInfo as it came: copying its fields
 * avoids encoding the key again through OpenSSL's provider encoders. */
static int copy_pubkey(X509 *cert, X509_REQ *csr)
{
    ASN1_OBJECT *alg = NULL;
    const unsigned char *bits = NULL;
    int bits_len = 0, ptype = V_ASN1_UNDEF;
    X509_ALGOR *algor = NULL;
    const void *pval = NULL;
    if (!X509_PUBKEY_get0_param(&alg, &bits, &bits_len, &algor, X509_REQ_get_X509_PUBKEY(csr)) ||
        bits_len <= 0)
        return 0;
    X509_ALGOR_get0(NULL, &ptype, &pval, algor);
    void *param = NULL;
    if (ptype == V_ASN1_OBJECT)
        param = OBJ_dup(pval);
    else if (ptype == V_ASN1_SEQUENCE)
        param = ASN1_STRING_dup(pval);
    else if (ptype != V_ASN1_NULL && ptype != V_ASN1_UNDEF)
        return 0;
    unsigned char *copy = OPENSSL_memdup(bits, (size_t)bits_len);
    ASN1_OBJECT *alg_copy = OBJ_dup(alg);
    if (copy == NULL || alg_copy == NULL || (ptype > V_ASN1_NULL && param == NULL) ||
        !X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(cert), alg_copy, ptype, param, copy,
                                bits_len)) {
        OPENSSL_free(copy);
        ASN1_OBJECT_free(alg_copy);
        if (ptype == V_ASN1_OBJECT)
            ASN1_OBJECT_free(param);
        else
            ASN1_STRING_free(param);
        return 0;
    }
    return 1;
}

X509 *ca_issue_at(const authority *ca, X509_REQ *csr, const config *c, int64_t not_before,
                  char *err, size_t errlen)
{
    X509 *cert = X509_new();
    if (cert == NULL)
        goto fail;
    if (!set_validity(cert, ca->cert, c, not_before, err, errlen))
        goto fail;
    if (!X509_set_version(cert, X509_VERSION_3) || !set_serial(cert) ||
        !X509_set_subject_name(cert, X509_REQ_get_subject_name(csr)) ||
        !X509_set_issuer_name(cert, X509_get_subject_name(ca->cert)) || !copy_pubkey(cert, csr)) {
        snprintf(err, errlen, "cannot build the certificate");
        goto fail;
    }
    if (add_extensions(cert, ca->cert, csr, c, err, errlen) != 0)
        goto fail;
    if (X509_sign(cert, key_for_thread(ca->key), EVP_sha256()) <= 0) {
        snprintf(err, errlen, "the CA key could not sign");
        goto fail;
    }
    return cert;
fail:
    ERR_clear_error();
    X509_free(cert);
    return NULL;
}

void ca_fill_record(X509 *cert, const char *key_id, const char *transaction_id, store_cert *rec)
{
    memset(rec, 0, sizeof(*rec));
    ca_serial_hex(cert, rec->serial, sizeof(rec->serial));
    ca_name_text(X509_get_subject_name(cert), rec->subject, sizeof(rec->subject));
    ca_name_text(X509_get_issuer_name(cert), rec->issuer, sizeof(rec->issuer));
    snprintf(rec->key_id, sizeof(rec->key_id), "%s", key_id);
    snprintf(rec->transaction_id, sizeof(rec->transaction_id), "%s", transaction_id);
    rec->not_before = ca_unix_time(X509_get0_notBefore(cert));
    rec->not_after = ca_unix_time(X509_get0_notAfter(cert));
    rec->state = CERT_VALID;
    rec->revocation_reason = -1;
}

int ca_record(store *st, X509 *ca_cert)
{
    store_cert rec;
    char key_id[STORE_KEY_ID] = "";
    ca_key_id(X509_get_X509_PUBKEY(ca_cert), key_id, sizeof(key_id));
    ca_fill_record(ca_cert, key_id, "", &rec);
    rec.is_ca = 1;
    unsigned char *der = NULL;
    int n = i2d_X509(ca_cert, &der);
    rec.der = der;
    rec.der_len = n > 0 ? (size_t)n : 0;
    store_status s = n > 0 ? st->ops->cert_issue(st, &rec, 0, REQUEST_PENDING) : STORE_ERROR;
    OPENSSL_free(der);
    return s == STORE_OK || s == STORE_EXISTS ? 0 : -1;
}
