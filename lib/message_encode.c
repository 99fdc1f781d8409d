/* Building, encrypting and signing a pkiMessage. */
#include <stdio.h>
#include <string.h>

#include <openssl/rand.h>

#include "internal.h"

const char *scep_msg_type_name(int type)
{
    switch (type) {
    case SCEP_MSG_CERT_REP:
        return "CertRep";
    case SCEP_MSG_RENEWAL_REQ:
        return "RenewalReq";
    case SCEP_MSG_PKCS_REQ:
        return "PKCSReq";
    case SCEP_MSG_CERT_POLL:
        return "CertPoll";
    case SCEP_MSG_GET_CERT:
        return "GetCert";
    case SCEP_MSG_GET_CRL:
        return "GetCRL";
    default:
        return "unknown";
    }
}

const char *scep_pki_status_name(int status)
{
    switch (status) {
    case SCEP_STATUS_SUCCESS:
        return "SUCCESS";
    case SCEP_STATUS_FAILURE:
        return "FAILURE";
    case SCEP_STATUS_PENDING:
        return "PENDING";
    default:
        return "unknown";
    }
}

scep_err scep_nonce(unsigned char *buf, size_t len)
{
    if (buf == NULL || len == 0 || len > SCEP_MAX_NONCE_BYTES)
        return SCEP_E_INVALID_ARG;
    return RAND_bytes(buf, (int)len) == 1 ? SCEP_OK : SCEP_E_INTERNAL;
}

static int valid_transaction_id(const char *tid)
{
    size_t n = tid ? strlen(tid) : 0;
    if (n == 0 || n > SCEP_MAX_TRANSACTION_ID)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (tid[i] < 0x20 || tid[i] > 0x7e)
            return 0;
    return 1;
}

static int valid_nonce(const unsigned char *nonce, size_t len)
{
    return nonce != NULL && len >= SCEP_MIN_NONCE_BYTES && len <= SCEP_MAX_NONCE_BYTES;
}

/* A FAILURE answers requests whose transactionID or senderNonce was unusable: it omits them. */
static int is_failure(const scep_msg_params *p)
{
    return p->type == SCEP_MSG_CERT_REP && p->status == SCEP_STATUS_FAILURE;
}

static int has_transaction_id(const scep_msg_params *p)
{
    return p->transaction_id != NULL && p->transaction_id[0] != '\0';
}

static scep_err check_params(const scep_ctx *ctx, const scep_msg_params *p)
{
    int tid_ok =
        valid_transaction_id(p->transaction_id) || (is_failure(p) && !has_transaction_id(p));
    if (p->signer_cert == NULL || p->signer_key == NULL || !tid_ok ||
        !valid_nonce(p->sender_nonce, p->sender_nonce_len))
        return SCEP_E_INVALID_ARG;
    if (!scep_digest_allowed(ctx, p->digest))
        return SCEP_E_BAD_ALG;
    if (p->type != SCEP_MSG_CERT_REP)
        return SCEP_OK;
    if (!valid_nonce(p->recipient_nonce, p->recipient_nonce_len) &&
        !(is_failure(p) && p->recipient_nonce_len == 0))
        return SCEP_E_INVALID_ARG;
    if (p->status == SCEP_STATUS_FAILURE &&
        (p->fail_info < SCEP_FAIL_BAD_ALG || p->fail_info > SCEP_FAIL_BAD_CERT_ID))
        return SCEP_E_INVALID_ARG;
    if (p->status != SCEP_STATUS_SUCCESS && p->status != SCEP_STATUS_FAILURE &&
        p->status != SCEP_STATUS_PENDING)
        return SCEP_E_INVALID_ARG;
    return SCEP_OK;
}

static scep_err add_number(const scep_ctx *ctx, CMS_SignerInfo *si, scepi_attr attr, int value)
{
    char text[8];
    int n = snprintf(text, sizeof(text), "%d", value);
    return scepi_attr_add(ctx, si, attr, V_ASN1_PRINTABLESTRING, text, (size_t)n);
}

static scep_err add_reply_attributes(const scep_ctx *ctx, CMS_SignerInfo *si,
                                     const scep_msg_params *p)
{
    scep_err err = add_number(ctx, si, SCEPI_ATTR_PKI_STATUS, (int)p->status);
    if (err == SCEP_OK && p->recipient_nonce_len > 0)
        err = scepi_attr_add(ctx, si, SCEPI_ATTR_RECIPIENT_NONCE, V_ASN1_OCTET_STRING,
                             p->recipient_nonce, p->recipient_nonce_len);
    if (err == SCEP_OK && p->status == SCEP_STATUS_FAILURE)
        err = add_number(ctx, si, SCEPI_ATTR_FAIL_INFO, p->fail_info);
    if (err == SCEP_OK && p->status == SCEP_STATUS_FAILURE && p->fail_info_text != NULL) {
        size_t n = strnlen(p->fail_info_text, SCEP_MAX_FAIL_TEXT);
        err = scepi_attr_add(ctx, si, SCEPI_ATTR_FAIL_INFO_TEXT, V_ASN1_UTF8STRING,
                             p->fail_info_text, n);
    }
    return err;
}

static scep_err add_attributes(const scep_ctx *ctx, CMS_SignerInfo *si, const scep_msg_params *p)
{
    scep_err err = add_number(ctx, si, SCEPI_ATTR_MESSAGE_TYPE, (int)p->type);
    if (err == SCEP_OK && has_transaction_id(p))
        err = scepi_attr_add(ctx, si, SCEPI_ATTR_TRANSACTION_ID, V_ASN1_PRINTABLESTRING,
                             p->transaction_id, strlen(p->transaction_id));
    if (err == SCEP_OK)
        err = scepi_attr_add(ctx, si, SCEPI_ATTR_SENDER_NONCE, V_ASN1_OCTET_STRING, p->sender_nonce,
                             p->sender_nonce_len);
    if (err == SCEP_OK && p->type == SCEP_MSG_CERT_REP)
        err = add_reply_attributes(ctx, si, p);
    return err;
}

static scep_err build_envelope(const scep_ctx *ctx, const scep_msg_params *p, unsigned char **out,
                               size_t *out_len)
{
    unsigned char *payload = NULL;
    size_t payload_len = 0;
    scep_err err = scepi_payload_encode(ctx, p, &payload, &payload_len);
    if (err == SCEP_OK)
        err = scepi_envelope_seal(ctx, payload, payload_len, p->recipient_cert,
                                  p->recipient_password, p->cipher, out, out_len);
    OPENSSL_clear_free(payload, payload_len);
    return err;
}

/*
 * Signs content with the SCEP attributes. FAILURE and PENDING have no envelope; they still
 * carry an empty eContent rather than none, since certmonger refuses a SignedData without one.
 */
static scep_err sign_content(const scep_ctx *ctx, const scep_msg_params *p,
                             const unsigned char *content, size_t content_len, unsigned char **out,
                             size_t *out_len)
{
    unsigned int flags = CMS_PARTIAL | CMS_BINARY | CMS_NOSMIMECAP;
    EVP_MD *md = scepi_md_fetch(ctx, p->digest);
    CMS_ContentInfo *cms = CMS_sign_ex(NULL, NULL, NULL, NULL, flags, scep_ctx_libctx(ctx), NULL);
    CMS_SignerInfo *si = NULL;
    scep_err err = (md && cms) ? SCEP_OK : SCEP_E_INTERNAL;
    if (err == SCEP_OK) {
        si = CMS_add1_signer(cms, p->signer_cert, p->signer_key, md, flags);
        err = si ? add_attributes(ctx, si, p) : SCEP_E_INTERNAL;
    }
    for (int i = 0; err == SCEP_OK && i < sk_X509_num(p->extra_certs); i++)
        if (CMS_add1_cert(cms, sk_X509_value(p->extra_certs, i)) != 1)
            err = SCEP_E_INTERNAL;
    if (err == SCEP_OK && !scepi_cms_final(cms, content, content_len))
        err = SCEP_E_INTERNAL;
    if (err == SCEP_OK)
        err = scepi_cms_i2d(cms, out, out_len);
    CMS_ContentInfo_free(cms);
    EVP_MD_free(md);
    return err;
}

scep_err scep_msg_encode(const scep_ctx *ctx, const scep_msg_params *p, unsigned char **out,
                         size_t *out_len)
{
    if (p == NULL || out == NULL || out_len == NULL)
        return SCEP_E_INVALID_ARG;
    *out = NULL;
    *out_len = 0;
    scep_err err = check_params(ctx, p);
    if (err != SCEP_OK)
        return err;
    unsigned char *envelope = NULL;
    size_t envelope_len = 0;
    if (p->type != SCEP_MSG_CERT_REP || p->status == SCEP_STATUS_SUCCESS)
        err = build_envelope(ctx, p, &envelope, &envelope_len);
    if (err == SCEP_OK)
        err = sign_content(ctx, p, envelope, envelope_len, out, out_len);
    OPENSSL_free(envelope);
    return err;
}
