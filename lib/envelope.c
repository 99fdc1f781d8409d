/* The pkcsPKIEnvelope: a CMS EnvelopedData around the message data (RFC 8894 section 3.2.2). */
#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/err.h>

#include "internal.h"

/*
 * OpenSSL 3.0 has no getter for an EnvelopedData's content-encryption algorithm, which we need
 * before decrypting (to refuse single DES with badAlg) and after (to answer with the same
 * cipher). These templates read just enough of the structure with OpenSSL's own decoder;
 * everything else is parsed by the CMS API.
 */
typedef struct enc_content_view {
    ASN1_OBJECT *type;
    X509_ALGOR *algorithm;
    ASN1_OCTET_STRING *content;
} ENC_CONTENT_VIEW;

ASN1_SEQUENCE(ENC_CONTENT_VIEW) =
    {
        ASN1_SIMPLE(ENC_CONTENT_VIEW, type, ASN1_OBJECT),
        ASN1_SIMPLE(ENC_CONTENT_VIEW, algorithm, X509_ALGOR),
        ASN1_IMP_OPT(ENC_CONTENT_VIEW, content, ASN1_OCTET_STRING, 0),
} static_ASN1_SEQUENCE_END(ENC_CONTENT_VIEW)

        typedef struct enveloped_view {
    ASN1_INTEGER *version;
    STACK_OF(ASN1_TYPE) * originator;
    STACK_OF(ASN1_TYPE) * recipients;
    ENC_CONTENT_VIEW *enc;
    STACK_OF(ASN1_TYPE) * unprotected;
} ENVELOPED_VIEW;

ASN1_SEQUENCE(ENVELOPED_VIEW) =
    {
        ASN1_SIMPLE(ENVELOPED_VIEW, version, ASN1_INTEGER),
        ASN1_IMP_SEQUENCE_OF_OPT(ENVELOPED_VIEW, originator, ASN1_ANY, 0),
        ASN1_SET_OF(ENVELOPED_VIEW, recipients, ASN1_ANY),
        ASN1_SIMPLE(ENVELOPED_VIEW, enc, ENC_CONTENT_VIEW),
        ASN1_IMP_SET_OF_OPT(ENVELOPED_VIEW, unprotected, ASN1_ANY, 1),
} static_ASN1_SEQUENCE_END(ENVELOPED_VIEW)

        typedef struct envelope_info_view {
    ASN1_OBJECT *type;
    ENVELOPED_VIEW *env;
} ENVELOPE_INFO_VIEW;

ASN1_SEQUENCE(ENVELOPE_INFO_VIEW) =
    {
        ASN1_SIMPLE(ENVELOPE_INFO_VIEW, type, ASN1_OBJECT),
        ASN1_EXP(ENVELOPE_INFO_VIEW, env, ENVELOPED_VIEW, 0),
} static_ASN1_SEQUENCE_END(ENVELOPE_INFO_VIEW)

    /* Reads the content-encryption algorithm and checks the policy on it. */
    static scep_err envelope_cipher(const scep_ctx *ctx, const unsigned char *der, size_t len,
                                    scep_cipher *cipher, scep_diag *diag)
{
    *cipher = SCEP_CIPHER_NONE;
    const unsigned char *p = der;
    ENVELOPE_INFO_VIEW *view = (ENVELOPE_INFO_VIEW *)ASN1_item_d2i(
        NULL, &p, (long)len, ASN1_ITEM_rptr(ENVELOPE_INFO_VIEW));
    if (view == NULL)
        return scepi_diag(diag, SCEP_E_BAD_PAYLOAD, "pkcsPKIEnvelope is not an EnvelopedData");
    scep_err err = SCEP_OK;
    if (OBJ_obj2nid(view->type) != NID_pkcs7_enveloped) {
        err = scepi_diag(diag, SCEP_E_BAD_PAYLOAD, "pkcsPKIEnvelope is not an EnvelopedData");
    } else {
        *cipher = scepi_cipher_from_obj(view->env->enc->algorithm->algorithm);
        if (*cipher == SCEP_CIPHER_NONE)
            err = scepi_diag(diag, SCEP_E_BAD_ALG, "unsupported content encryption");
        else if (!scep_cipher_allowed(ctx, *cipher))
            err = scepi_diag(diag, SCEP_E_BAD_ALG, "%s is not allowed (legacy algorithms off)",
                             scep_cipher_name(*cipher));
    }
    ASN1_item_free((ASN1_VALUE *)view, ASN1_ITEM_rptr(ENVELOPE_INFO_VIEW));
    return err;
}

/* Whether a key-transport or key-agreement RecipientInfo names cert. */
static int names_recipient(CMS_ContentInfo *cms, X509 *cert)
{
    STACK_OF(CMS_RecipientInfo) *ris = CMS_get0_RecipientInfos(cms);
    for (int i = 0; i < sk_CMS_RecipientInfo_num(ris); i++) {
        CMS_RecipientInfo *ri = sk_CMS_RecipientInfo_value(ris, i);
        int type = CMS_RecipientInfo_type(ri);
        if (type == CMS_RECIPINFO_TRANS && CMS_RecipientInfo_ktri_cert_cmp(ri, cert) == 0)
            return 1;
        if (type != CMS_RECIPINFO_AGREE)
            continue;
        STACK_OF(CMS_RecipientEncryptedKey) *reks = CMS_RecipientInfo_kari_get0_reks(ri);
        for (int j = 0; j < sk_CMS_RecipientEncryptedKey_num(reks); j++)
            if (CMS_RecipientEncryptedKey_cert_cmp(sk_CMS_RecipientEncryptedKey_value(reks, j),
                                                   cert) == 0)
                return 1;
    }
    return 0;
}

/* Sets the content key from the first candidate whose certificate a RecipientInfo names. */
static scep_err set_content_key(CMS_ContentInfo *cms, const scep_decrypt_options *opts,
                                int *used_password, scep_diag *diag)
{
    for (size_t i = 0; opts != NULL && i < opts->n_recipients; i++) {
        const scep_recipient *r = &opts->recipients[i];
        if (!names_recipient(cms, r->cert))
            continue;
        ERR_set_mark();
        int ok = CMS_decrypt_set1_pkey(cms, r->key, r->cert);
        ERR_pop_to_mark();
        return ok == 1 ? SCEP_OK : scepi_diag(diag, SCEP_E_DECRYPT, "content key does not decrypt");
    }
    if (opts != NULL && opts->password != NULL) {
        /* The API takes a non-const buffer; it copies it (set1). */
        size_t n = strlen(opts->password);
        unsigned char *copy = OPENSSL_memdup(opts->password, n + 1);
        ERR_set_mark();
        int ok = copy ? CMS_decrypt_set1_password(cms, copy, n) : 0;
        ERR_pop_to_mark();
        OPENSSL_clear_free(copy, n + 1);
        if (ok == 1) {
            *used_password = 1;
            return SCEP_OK;
        }
    }
    return scepi_diag(diag, SCEP_E_WRONG_RECIPIENT, "no RecipientInfo for our certificates");
}

scep_err scepi_envelope_open(const scep_ctx *ctx, const unsigned char *der, size_t len,
                             const scep_decrypt_options *opts, scepi_opened *out, scep_diag *diag)
{
    memset(out, 0, sizeof(*out));
    scep_cipher cipher;
    scep_err err = envelope_cipher(ctx, der, len, &cipher, diag);
    if (err != SCEP_OK)
        return err;
    CMS_ContentInfo *cms = NULL;
    err = scepi_cms_d2i(ctx, der, len, SCEP_MAX_MESSAGE_BYTES, &cms, diag);
    if (err != SCEP_OK)
        return err == SCEP_E_BAD_ENCODING ? SCEP_E_BAD_PAYLOAD : err;
    int used_password = 0;
    BIO *plain = BIO_new(BIO_s_mem());
    err = plain ? set_content_key(cms, opts, &used_password, diag) : SCEP_E_NOMEM;
    if (err == SCEP_OK) {
        ERR_set_mark();
        if (CMS_decrypt(cms, NULL, NULL, NULL, plain, CMS_BINARY) != 1)
            err = scepi_diag(diag, SCEP_E_DECRYPT, "content does not decrypt");
        ERR_pop_to_mark();
    }
    if (err == SCEP_OK)
        err = scepi_bio_take(plain, SCEP_MAX_PAYLOAD_BYTES, &out->data, &out->len);
    if (err == SCEP_OK) {
        out->cipher = cipher;
        out->used_password = used_password;
    }
    BIO_free(plain);
    CMS_ContentInfo_free(cms);
    return err;
}

static CMS_ContentInfo *encrypt_to_password(const scep_ctx *ctx, const EVP_CIPHER *cipher,
                                            const char *password)
{
    CMS_ContentInfo *cms = CMS_EnvelopedData_create_ex(cipher, scep_ctx_libctx(ctx), NULL);
    /* add0 takes ownership of the password copy and wipes it when cms is freed. */
    char *copy = OPENSSL_strdup(password);
    if (cms == NULL || copy == NULL)
        goto fail;
    if (CMS_add0_recipient_password(cms, -1, NID_undef, NID_undef, (unsigned char *)copy,
                                    (ossl_ssize_t)strlen(copy), NULL) == NULL)
        goto fail;
    /* A new EnvelopedData starts out detached; SCEP embeds the encrypted content. */
    if (CMS_set_detached(cms, 0) != 1) {
        CMS_ContentInfo_free(cms);
        return NULL;
    }
    return cms;
fail:
    OPENSSL_clear_free(copy, copy ? strlen(copy) : 0);
    CMS_ContentInfo_free(cms);
    return NULL;
}

static CMS_ContentInfo *encrypt_to_cert(const scep_ctx *ctx, const EVP_CIPHER *cipher,
                                        X509 *recipient)
{
    STACK_OF(X509) *to = sk_X509_new_null();
    if (to == NULL || !sk_X509_push(to, recipient)) {
        sk_X509_free(to);
        return NULL;
    }
    /* RSA recipients get PKCS#1 v1.5 key transport, the default and what clients expect; EC
     * recipients a KeyAgreeRecipientInfo (ephemeral-static ECDH), as NDES sends. */
    CMS_ContentInfo *cms =
        CMS_encrypt_ex(to, NULL, cipher, CMS_BINARY | CMS_PARTIAL, scep_ctx_libctx(ctx), NULL);
    sk_X509_free(to);
    return cms;
}

scep_err scepi_envelope_seal(const scep_ctx *ctx, const unsigned char *data, size_t len,
                             X509 *recipient, const char *password, scep_cipher cipher,
                             unsigned char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if ((recipient == NULL && password == NULL) || len > SCEP_MAX_PAYLOAD_BYTES)
        return SCEP_E_INVALID_ARG;
    if (!scep_cipher_allowed(ctx, cipher))
        return SCEP_E_BAD_ALG;
    EVP_CIPHER *evp = scepi_cipher_fetch(ctx, cipher);
    CMS_ContentInfo *cms = NULL;
    scep_err err = evp ? SCEP_OK : SCEP_E_INTERNAL;
    if (err == SCEP_OK) {
        /* Made partial, then the content encrypted in one write (scepi_cms_final). */
        cms = recipient ? encrypt_to_cert(ctx, evp, recipient)
                        : encrypt_to_password(ctx, evp, password);
        err = cms && scepi_cms_final(cms, data, len) ? scepi_cms_i2d(cms, out, out_len)
                                                     : SCEP_E_INTERNAL;
    }
    CMS_ContentInfo_free(cms);
    EVP_CIPHER_free(evp);
    return err;
}
