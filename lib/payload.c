/* The messageData inside the envelope, by message type (RFC 8894 section 3.3). */
#include <limits.h>
#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/err.h>

#include "internal.h"

/* CertPoll's IssuerAndSubject (RFC 8894 section 3.3.3). */
typedef struct issuer_and_subject {
    X509_NAME *issuer;
    X509_NAME *subject;
} ISSUER_AND_SUBJECT;

ASN1_SEQUENCE(ISSUER_AND_SUBJECT) =
    {
        ASN1_SIMPLE(ISSUER_AND_SUBJECT, issuer, X509_NAME),
        ASN1_SIMPLE(ISSUER_AND_SUBJECT, subject, X509_NAME),
} static_ASN1_SEQUENCE_END(ISSUER_AND_SUBJECT)

    /* GetCert's and GetCRL's IssuerAndSerialNumber (RFC 5652 section 10.2.4). */
    typedef struct issuer_and_serial {
    X509_NAME *issuer;
    ASN1_INTEGER *serial;
} ISSUER_AND_SERIAL;

ASN1_SEQUENCE(ISSUER_AND_SERIAL) =
    {
        ASN1_SIMPLE(ISSUER_AND_SERIAL, issuer, X509_NAME),
        ASN1_SIMPLE(ISSUER_AND_SERIAL, serial, ASN1_INTEGER),
} static_ASN1_SEQUENCE_END(ISSUER_AND_SERIAL)

    /* Decodes a whole buffer with an item template; trailing bytes are an error. */
    static void *
    decode_exact_ex(const unsigned char *der, size_t len, const ASN1_ITEM *it, OSSL_LIB_CTX *libctx)
{
    if (len == 0 || len > LONG_MAX)
        return NULL;
    const unsigned char *p = der;
    ASN1_VALUE *v = ASN1_item_d2i_ex(NULL, &p, (long)len, it, libctx, NULL);
    if (v != NULL && (size_t)(p - der) != len) {
        ASN1_item_free(v, it);
        v = NULL;
    }
    return v;
}

static void *decode_exact(const unsigned char *der, size_t len, const ASN1_ITEM *it)
{
    return decode_exact_ex(der, len, it, NULL);
}

static scep_err encode_item(const void *value, const ASN1_ITEM *it, unsigned char **out,
                            size_t *out_len)
{
    unsigned char *der = NULL;
    int n = ASN1_item_i2d((const ASN1_VALUE *)value, &der, it);
    if (n <= 0)
        return SCEP_E_INTERNAL;
    *out = der;
    *out_len = (size_t)n;
    return SCEP_OK;
}

static scep_err encode_issuer_and_subject(const scep_msg_params *p, unsigned char **out,
                                          size_t *out_len)
{
    if (p->issuer == NULL || p->subject == NULL)
        return SCEP_E_INVALID_ARG;
    /* The template only reads the names while encoding. */
    ISSUER_AND_SUBJECT ias = {(X509_NAME *)(uintptr_t)p->issuer,
                              (X509_NAME *)(uintptr_t)p->subject};
    return encode_item(&ias, ASN1_ITEM_rptr(ISSUER_AND_SUBJECT), out, out_len);
}

static scep_err encode_issuer_and_serial(const scep_msg_params *p, unsigned char **out,
                                         size_t *out_len)
{
    if (p->issuer == NULL || p->serial == NULL)
        return SCEP_E_INVALID_ARG;
    ISSUER_AND_SERIAL ias = {(X509_NAME *)(uintptr_t)p->issuer,
                             (ASN1_INTEGER *)(uintptr_t)p->serial};
    return encode_item(&ias, ASN1_ITEM_rptr(ISSUER_AND_SERIAL), out, out_len);
}

static scep_err encode_csr(X509_REQ *csr, unsigned char **out, size_t *out_len)
{
    if (csr == NULL)
        return SCEP_E_INVALID_ARG;
    unsigned char *der = NULL;
    int n = i2d_X509_REQ(csr, &der);
    if (n <= 0)
        return SCEP_E_INTERNAL;
    *out = der;
    *out_len = (size_t)n;
    return SCEP_OK;
}

scep_err scepi_payload_encode(const scep_ctx *ctx, const scep_msg_params *p, unsigned char **out,
                              size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    switch (p->type) {
    case SCEP_MSG_PKCS_REQ:
    case SCEP_MSG_RENEWAL_REQ:
        return encode_csr(p->csr, out, out_len);
    case SCEP_MSG_CERT_POLL:
        return encode_issuer_and_subject(p, out, out_len);
    case SCEP_MSG_GET_CERT:
    case SCEP_MSG_GET_CRL:
        return encode_issuer_and_serial(p, out, out_len);
    case SCEP_MSG_CERT_REP:
        return scep_certs_only_encode(ctx, p->certs, p->crls, out, out_len);
    default:
        return SCEP_E_INVALID_ARG;
    }
}

/* With csr_key_from_signer the CSR is parsed in a context without key decoders, and its key
 * comes from scepi_request_key(): one key decode per request instead of two. */
static scep_err decode_csr(const scep_ctx *ctx, scep_msg *msg, const scep_decrypt_options *opts,
                           scep_diag *diag)
{
    int keyless = opts != NULL && opts->csr_key_from_signer;
    OSSL_LIB_CTX *parse_ctx = keyless ? ctx->keyless_libctx : scep_ctx_libctx(ctx);
    X509_REQ *csr =
        decode_exact_ex(msg->payload, msg->payload_len, ASN1_ITEM_rptr(X509_REQ), parse_ctx);
    if (csr == NULL)
        return scepi_diag(diag, SCEP_E_BAD_CSR, "messageData is not a PKCS#10 request");
    EVP_PKEY *key = NULL;
    if (keyless)
        key = scepi_request_key(ctx, csr, msg->signer_cert);
    else if ((key = X509_REQ_get0_pubkey(csr)) != NULL && !EVP_PKEY_up_ref(key))
        key = NULL;
    if (key == NULL) {
        X509_REQ_free(csr);
        return scepi_diag(diag, SCEP_E_BAD_CSR, "the request's public key cannot be decoded");
    }
    ERR_set_mark();
    int ok = X509_REQ_verify_ex(csr, key, scep_ctx_libctx(ctx), NULL) == 1;
    ERR_pop_to_mark();
    if (!ok) {
        EVP_PKEY_free(key);
        X509_REQ_free(csr);
        return scepi_diag(diag, SCEP_E_BAD_CSR, "the request's self-signature does not verify");
    }
    msg->csr = csr;
    msg->csr_key = key;
    return SCEP_OK;
}

static scep_err decode_issuer_and_subject(scep_msg *msg, scep_diag *diag)
{
    ISSUER_AND_SUBJECT *ias =
        decode_exact(msg->payload, msg->payload_len, ASN1_ITEM_rptr(ISSUER_AND_SUBJECT));
    if (ias == NULL)
        return scepi_diag(diag, SCEP_E_BAD_PAYLOAD, "messageData is not an IssuerAndSubject");
    msg->issuer = ias->issuer;
    msg->subject = ias->subject;
    ias->issuer = NULL;
    ias->subject = NULL;
    ASN1_item_free((ASN1_VALUE *)ias, ASN1_ITEM_rptr(ISSUER_AND_SUBJECT));
    return SCEP_OK;
}

static scep_err decode_issuer_and_serial(scep_msg *msg, scep_diag *diag)
{
    ISSUER_AND_SERIAL *ias =
        decode_exact(msg->payload, msg->payload_len, ASN1_ITEM_rptr(ISSUER_AND_SERIAL));
    if (ias == NULL)
        return scepi_diag(diag, SCEP_E_BAD_PAYLOAD, "messageData is not an IssuerAndSerialNumber");
    msg->issuer = ias->issuer;
    msg->serial = ias->serial;
    ias->issuer = NULL;
    ias->serial = NULL;
    ASN1_item_free((ASN1_VALUE *)ias, ASN1_ITEM_rptr(ISSUER_AND_SERIAL));
    return SCEP_OK;
}

static scep_err decode_cert_rep(const scep_ctx *ctx, scep_msg *msg, scep_diag *diag)
{
    scep_err err =
        scep_certs_only_decode(ctx, msg->payload, msg->payload_len, &msg->certs, &msg->crls);
    if (err != SCEP_OK)
        return scepi_diag(diag, SCEP_E_BAD_PAYLOAD,
                          "messageData is not a degenerate certs-only SignedData");
    if (sk_X509_num(msg->certs) == 0 && sk_X509_CRL_num(msg->crls) == 0)
        return scepi_diag(diag, SCEP_E_BAD_PAYLOAD, "CertRep carries no certificate or CRL");
    return SCEP_OK;
}

scep_err scepi_payload_decode(const scep_ctx *ctx, scep_msg *msg, const scep_decrypt_options *opts,
                              scep_diag *diag)
{
    switch (msg->type) {
    case SCEP_MSG_PKCS_REQ:
    case SCEP_MSG_RENEWAL_REQ:
        return decode_csr(ctx, msg, opts, diag);
    case SCEP_MSG_CERT_POLL:
        return decode_issuer_and_subject(msg, diag);
    case SCEP_MSG_GET_CERT:
    case SCEP_MSG_GET_CRL:
        return decode_issuer_and_serial(msg, diag);
    case SCEP_MSG_CERT_REP:
        return decode_cert_rep(ctx, msg, diag);
    default:
        return scepi_diag(diag, SCEP_E_UNKNOWN_MSG_TYPE, "no payload for messageType %d",
                          (int)msg->type);
    }
}
