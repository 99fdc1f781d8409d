/* Opening a verified pkiMessage's envelope and parsing its messageData. */
#include "internal.h"

static int carries_envelope(const scep_msg *msg)
{
    return msg->type != SCEP_MSG_CERT_REP || msg->status == SCEP_STATUS_SUCCESS;
}

static void clear_payload(scep_msg *msg)
{
    OPENSSL_clear_free(msg->payload, msg->payload_len);
    msg->payload = NULL;
    msg->payload_len = 0;
    msg->cipher = SCEP_CIPHER_NONE;
    msg->decrypted_with_password = 0;
    X509_REQ_free(msg->csr);
    EVP_PKEY_free(msg->csr_key);
    msg->csr_key = NULL;
    X509_NAME_free(msg->issuer);
    X509_NAME_free(msg->subject);
    ASN1_INTEGER_free(msg->serial);
    sk_X509_pop_free(msg->certs, X509_free);
    sk_X509_CRL_pop_free(msg->crls, X509_CRL_free);
    msg->csr = NULL;
    msg->issuer = msg->subject = NULL;
    msg->serial = NULL;
    msg->certs = NULL;
    msg->crls = NULL;
}

scep_err scep_msg_decrypt(const scep_ctx *ctx, scep_msg *msg, const scep_decrypt_options *opts,
                          scep_diag *diag)
{
    if (msg == NULL)
        return SCEP_E_INVALID_ARG;
    if (!scep_digest_allowed(ctx, msg->digest))
        return scepi_diag(diag, SCEP_E_BAD_ALG, "%s is not allowed (legacy algorithms off)",
                          scep_digest_name(msg->digest));
    if (msg->payload != NULL || !carries_envelope(msg))
        return SCEP_OK;
    if (msg->envelope == NULL)
        return scepi_diag(diag, SCEP_E_BAD_PAYLOAD, "%s carries no pkcsPKIEnvelope",
                          scep_msg_type_name(msg->type));
    scepi_opened opened;
    scep_err err = scepi_envelope_open(ctx, msg->envelope, msg->envelope_len, opts, &opened, diag);
    if (err != SCEP_OK)
        return err;
    msg->payload = opened.data;
    msg->payload_len = opened.len;
    msg->cipher = opened.cipher;
    msg->decrypted_with_password = opened.used_password;
    err = scepi_payload_decode(ctx, msg, opts, diag);
    if (err != SCEP_OK)
        clear_payload(msg);
    return err;
}

scep_err scep_msg_decode(const scep_ctx *ctx, const unsigned char *der, size_t len,
                         const scep_open_options *open_opts,
                         const scep_decrypt_options *decrypt_opts, scep_msg **out, scep_diag *diag)
{
    if (out == NULL)
        return SCEP_E_INVALID_ARG;
    *out = NULL;
    scep_msg *msg = NULL;
    scep_err err = scep_msg_open(ctx, der, len, open_opts, &msg, diag);
    if (err != SCEP_OK)
        return err;
    err = scep_msg_decrypt(ctx, msg, decrypt_opts, diag);
    if (err != SCEP_OK) {
        scep_msg_free(msg);
        return err;
    }
    *out = msg;
    return SCEP_OK;
}
