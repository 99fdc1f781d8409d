/* A server's CertRep for a decoded request, and a client's check of a CertRep. */
#include <string.h>

#include <openssl/crypto.h>

#include "internal.h"

/* The request's algorithms when this context allows them; else RFC 8894's defaults. */
static scep_digest reply_digest(const scep_ctx *ctx, const scep_msg *req, scep_digest chosen)
{
    if (chosen != SCEP_DIGEST_NONE)
        return chosen;
    return scep_digest_allowed(ctx, req->digest) ? req->digest : SCEP_DIGEST_SHA256;
}

static scep_cipher reply_cipher(const scep_ctx *ctx, const scep_msg *req, scep_cipher chosen)
{
    if (chosen != SCEP_CIPHER_NONE)
        return chosen;
    return scep_cipher_allowed(ctx, req->cipher) ? req->cipher : SCEP_CIPHER_AES128_CBC;
}

/*
 * How a SUCCESS reaches the requester: key transport to an RSA signer certificate; a
 * PasswordRecipientInfo keyed by the challenge for other keys (RFC 8894 section 3.1, the
 * initial enrollment of an EC key); key agreement (ECDH, as NDES answers) to an EC signer
 * certificate when there is no challenge, such as a renewal. Other keys need the password.
 */
static scep_err reply_recipient(const scep_msg *request, const char *password, X509 **cert,
                                const char **pw)
{
    *cert = NULL;
    *pw = NULL;
    X509 *signer = request->signer_cert;
    EVP_PKEY *key = signer ? X509_get0_pubkey(signer) : NULL;
    if (key != NULL && EVP_PKEY_is_a(key, "RSA")) {
        *cert = signer;
    } else if (password != NULL && password[0] != '\0') {
        *pw = password;
    } else if (key != NULL && EVP_PKEY_is_a(key, "EC")) {
        *cert = signer;
    } else {
        return SCEP_E_BAD_ALG;
    }
    return SCEP_OK;
}

scep_err scep_reply_deliverable(const scep_msg *request, const char *password)
{
    if (request == NULL)
        return SCEP_E_INVALID_ARG;
    X509 *cert;
    const char *pw;
    return reply_recipient(request, password, &cert, &pw);
}

scep_err scep_reply_encode(const scep_ctx *ctx, const scep_msg *request, const scep_reply_params *p,
                           unsigned char **out, size_t *out_len)
{
    if (request == NULL || p == NULL || out == NULL || out_len == NULL)
        return SCEP_E_INVALID_ARG;
    *out = NULL;
    *out_len = 0;
    unsigned char nonce[SCEP_NONCE_BYTES];
    scep_err err = scep_nonce(nonce, sizeof(nonce));
    if (err != SCEP_OK)
        return err;
    scep_msg_params m = {
        .type = SCEP_MSG_CERT_REP,
        .transaction_id = request->transaction_id,
        .sender_nonce = nonce,
        .sender_nonce_len = sizeof(nonce),
        .recipient_nonce = request->sender_nonce,
        .recipient_nonce_len = request->sender_nonce_len,
        .status = p->status,
        .fail_info = p->fail_info,
        .fail_info_text = p->fail_info_text,
        .certs = p->certs,
        .crls = p->crls,
        .signer_cert = p->signer_cert,
        .signer_key = p->signer_key,
        .digest = reply_digest(ctx, request, p->digest),
        .cipher = reply_cipher(ctx, request, p->cipher),
    };
    if (p->status == SCEP_STATUS_SUCCESS) {
        err = reply_recipient(request, p->password, &m.recipient_cert, &m.recipient_password);
        if (err != SCEP_OK)
            return err;
    }
    return scep_msg_encode(ctx, &m, out, out_len);
}

scep_err scep_reply_check(const scep_msg *reply, const char *transaction_id,
                          const unsigned char *sender_nonce, size_t sender_nonce_len,
                          scep_diag *diag)
{
    if (reply == NULL || transaction_id == NULL || sender_nonce == NULL)
        return SCEP_E_INVALID_ARG;
    if (reply->type != SCEP_MSG_CERT_REP)
        return scepi_diag(diag, SCEP_E_UNKNOWN_MSG_TYPE, "expected CertRep, got %s",
                          scep_msg_type_name(reply->type));
    if (strcmp(reply->transaction_id, transaction_id) != 0)
        return scepi_diag(diag, SCEP_E_TRANSACTION_ID, "reply is for transaction %s",
                          reply->transaction_id);
    if (reply->recipient_nonce_len == 0)
        return scepi_diag(diag, SCEP_E_MISSING_ATTR, "recipientNonce attribute is missing");
    if (reply->recipient_nonce_len != sender_nonce_len ||
        CRYPTO_memcmp(reply->recipient_nonce, sender_nonce, sender_nonce_len) != 0)
        return scepi_diag(diag, SCEP_E_RECIPIENT_NONCE,
                          "recipientNonce is not the senderNonce we sent");
    if (reply->status == SCEP_STATUS_NONE)
        return scepi_diag(diag, SCEP_E_MISSING_ATTR, "pkiStatus attribute is missing");
    return SCEP_OK;
}
