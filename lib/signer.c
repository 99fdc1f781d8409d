/* What a requester signs with: a self-signed signer certificate and its PKCS#10 request. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "internal.h"

static scep_err set_random_serial(X509 *cert)
{
    unsigned char bytes[16];
    if (RAND_bytes(bytes, sizeof(bytes)) != 1)
        return SCEP_E_INTERNAL;
    bytes[0] = (unsigned char)((bytes[0] & 0x7f) | 0x40); /* positive, full 16 bytes */
    BIGNUM *bn = BN_bin2bn(bytes, sizeof(bytes), NULL);
    int ok = bn != NULL && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != NULL;
    BN_free(bn);
    return ok ? SCEP_OK : SCEP_E_INTERNAL;
}

static scep_err add_ext_text(X509 *cert, X509_REQ *req, STACK_OF(X509_EXTENSION) * *exts, int nid,
                             const char *value)
{
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, cert, cert, req, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, &v3, nid, value);
    if (ext == NULL)
        return SCEP_E_INVALID_ARG;
    int ok = cert ? X509_add_ext(cert, ext, -1) : X509v3_add_ext(exts, ext, -1) != NULL;
    X509_EXTENSION_free(ext);
    return ok ? SCEP_OK : SCEP_E_INTERNAL;
}

static X509_NAME *default_signer_name(void)
{
    X509_NAME *name = X509_NAME_new();
    if (name != NULL &&
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"SCEP SIGNER",
                                    -1, -1, 0)) {
        X509_NAME_free(name);
        return NULL;
    }
    return name;
}

static scep_err fill_signer(const scep_ctx *ctx, X509 *cert, EVP_PKEY *key, const X509_NAME *name,
                            int days, scep_digest digest)
{
    if (!X509_set_version(cert, X509_VERSION_3) || !X509_set_subject_name(cert, name) ||
        !X509_set_issuer_name(cert, name) || !X509_set_pubkey(cert, key) ||
        !X509_gmtime_adj(X509_getm_notBefore(cert), -3600) ||
        !X509_gmtime_adj(X509_getm_notAfter(cert), (long)days * 86400))
        return SCEP_E_INTERNAL;
    scep_err err = set_random_serial(cert);
    if (err == SCEP_OK)
        err = add_ext_text(cert, NULL, NULL, NID_key_usage,
                           "critical,digitalSignature,keyEncipherment");
    if (err != SCEP_OK)
        return err;
    EVP_MD *md = scepi_md_fetch(ctx, digest);
    int ok = md != NULL && X509_sign(cert, key, md) > 0;
    EVP_MD_free(md);
    return ok ? SCEP_OK : SCEP_E_INTERNAL;
}

scep_err scep_selfsigned_signer(const scep_ctx *ctx, EVP_PKEY *key, const X509_NAME *subject,
                                int days, scep_digest digest, X509 **out)
{
    if (key == NULL || out == NULL || days <= 0 || days > 36500)
        return SCEP_E_INVALID_ARG;
    *out = NULL;
    if (!scep_digest_allowed(ctx, digest))
        return SCEP_E_BAD_ALG;
    X509_NAME *own = subject ? NULL : default_signer_name();
    const X509_NAME *name = subject ? subject : own;
    X509 *cert = X509_new_ex(scep_ctx_libctx(ctx), NULL);
    scep_err err = (cert && name) ? fill_signer(ctx, cert, key, name, days, digest) : SCEP_E_NOMEM;
    X509_NAME_free(own);
    if (err != SCEP_OK) {
        X509_free(cert);
        return err;
    }
    *out = cert;
    return SCEP_OK;
}

/* Rewrites "dns:a,ip:b,email:c,uri:d" into OpenSSL's "DNS:a,IP:b,email:c,URI:d". */
static scep_err san_to_conf(const char *san, char *buf, size_t buflen)
{
    static const struct {
        const char *ours;
        const char *conf;
    } kinds[] = {{"dns:", "DNS:"}, {"ip:", "IP:"}, {"email:", "email:"}, {"uri:", "URI:"}};
    size_t used = 0;
    const char *p = san;
    while (*p != '\0') {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        size_t k = 0;
        while (k < 4 && strncasecmp(p, kinds[k].ours, strlen(kinds[k].ours)) != 0)
            k++;
        size_t prefix = k < 4 ? strlen(kinds[k].ours) : 0;
        if (k == 4 || len <= prefix || used + len + 2 > buflen)
            return SCEP_E_INVALID_ARG;
        int n = snprintf(buf + used, buflen - used, "%s%s%.*s", used ? "," : "", kinds[k].conf,
                         (int)(len - prefix), p + prefix);
        used += (size_t)n;
        p = end ? end + 1 : p + len;
    }
    return used > 0 ? SCEP_OK : SCEP_E_INVALID_ARG;
}

static scep_err key_usage_to_conf(unsigned ku, char *buf, size_t buflen)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {{KU_DIGITAL_SIGNATURE, "digitalSignature"},
                 {KU_NON_REPUDIATION, "nonRepudiation"},
                 {KU_KEY_ENCIPHERMENT, "keyEncipherment"},
                 {KU_DATA_ENCIPHERMENT, "dataEncipherment"},
                 {KU_KEY_AGREEMENT, "keyAgreement"}};
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if ((ku & names[i].bit) == 0)
            continue;
        int n =
            snprintf(buf + used, buflen - used, "%s%s", used ? "," : "critical,", names[i].name);
        if (n < 0 || (size_t)n >= buflen - used)
            return SCEP_E_INVALID_ARG;
        used += (size_t)n;
    }
    return used > 0 ? SCEP_OK : SCEP_E_INVALID_ARG;
}

static scep_err add_requested_extensions(X509_REQ *req, const scep_csr_params *p)
{
    STACK_OF(X509_EXTENSION) *exts = NULL;
    char conf[2048];
    scep_err err = SCEP_OK;
    if (p->san != NULL && *p->san != '\0') {
        err = san_to_conf(p->san, conf, sizeof(conf));
        if (err == SCEP_OK)
            err = add_ext_text(NULL, req, &exts, NID_subject_alt_name, conf);
    }
    if (err == SCEP_OK && p->key_usage != 0) {
        err = key_usage_to_conf(p->key_usage, conf, sizeof(conf));
        if (err == SCEP_OK)
            err = add_ext_text(NULL, req, &exts, NID_key_usage, conf);
    }
    if (err == SCEP_OK && exts != NULL && !X509_REQ_add_extensions(req, exts))
        err = SCEP_E_INTERNAL;
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    return err;
}

static scep_err fill_csr(const scep_ctx *ctx, X509_REQ *req, EVP_PKEY *key,
                         const scep_csr_params *p)
{
    if (!X509_REQ_set_version(req, X509_REQ_VERSION_1) || !X509_REQ_set_pubkey(req, key))
        return SCEP_E_INTERNAL;
    if (p->subject != NULL && !X509_REQ_set_subject_name(req, p->subject))
        return SCEP_E_INTERNAL;
    if (p->challenge_password != NULL &&
        !X509_REQ_add1_attr_by_NID(req, NID_pkcs9_challengePassword, MBSTRING_UTF8,
                                   (const unsigned char *)p->challenge_password, -1))
        return SCEP_E_INVALID_ARG;
    scep_err err = add_requested_extensions(req, p);
    if (err != SCEP_OK)
        return err;
    EVP_MD *md = scepi_md_fetch(ctx, p->digest ? p->digest : SCEP_DIGEST_SHA256);
    int ok = md != NULL && X509_REQ_sign(req, key, md) > 0;
    EVP_MD_free(md);
    return ok ? SCEP_OK : SCEP_E_INTERNAL;
}

scep_err scep_csr_build(const scep_ctx *ctx, EVP_PKEY *key, const scep_csr_params *p,
                        X509_REQ **out)
{
    if (key == NULL || p == NULL || out == NULL)
        return SCEP_E_INVALID_ARG;
    *out = NULL;
    X509_REQ *req = X509_REQ_new_ex(scep_ctx_libctx(ctx), NULL);
    if (req == NULL)
        return SCEP_E_NOMEM;
    scep_err err = fill_csr(ctx, req, key, p);
    if (err != SCEP_OK) {
        X509_REQ_free(req);
        return err;
    }
    *out = req;
    return SCEP_OK;
}

scep_err scep_csr_challenge_password(const X509_REQ *csr, char *buf, size_t buflen)
{
    if (csr == NULL || buf == NULL || buflen == 0)
        return SCEP_E_INVALID_ARG;
    buf[0] = '\0';
    int idx = X509_REQ_get_attr_by_NID(csr, NID_pkcs9_challengePassword, -1);
    if (idx < 0)
        return SCEP_E_MISSING_ATTR;
    if (X509_REQ_get_attr_by_NID(csr, NID_pkcs9_challengePassword, idx) >= 0)
        return SCEP_E_BAD_CSR;
    X509_ATTRIBUTE *attr = X509_REQ_get_attr(csr, idx);
    ASN1_TYPE *t =
        attr && X509_ATTRIBUTE_count(attr) == 1 ? X509_ATTRIBUTE_get0_type(attr, 0) : NULL;
    if (t == NULL || (t->type != V_ASN1_PRINTABLESTRING && t->type != V_ASN1_UTF8STRING &&
                      t->type != V_ASN1_IA5STRING && t->type != V_ASN1_T61STRING))
        return SCEP_E_BAD_CSR;
    int len = ASN1_STRING_length(t->value.asn1_string);
    const unsigned char *data = ASN1_STRING_get0_data(t->value.asn1_string);
    if (len < 0 || (size_t)len >= buflen || memchr(data, '\0', (size_t)len) != NULL)
        return SCEP_E_BAD_CSR;
    memcpy(buf, data, (size_t)len);
    buf[len] = '\0';
    return SCEP_OK;
}
