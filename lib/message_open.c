/* Verifying a pkiMessage's signature and reading its signed attributes. */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "internal.h"

/* The one signerInfo of a SCEP SignedData over id-data content. */
static scep_err check_shape(CMS_ContentInfo *cms, CMS_SignerInfo **si, scep_diag *diag)
{
    *si = NULL;
    if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed)
        return scepi_diag(diag, SCEP_E_NOT_SIGNED_DATA, "not a CMS SignedData");
    if (OBJ_obj2nid(CMS_get0_eContentType(cms)) != NID_pkcs7_data)
        return scepi_diag(diag, SCEP_E_NOT_SIGNED_DATA, "SignedData content is not id-data");
    STACK_OF(CMS_SignerInfo) *sis = CMS_get0_SignerInfos(cms);
    if (sk_CMS_SignerInfo_num(sis) != 1)
        return scepi_diag(diag, SCEP_E_NOT_SIGNED_DATA, "SignedData has %d signers, not one",
                          sk_CMS_SignerInfo_num(sis));
    *si = sk_CMS_SignerInfo_value(sis, 0);
    return SCEP_OK;
}

static scep_err check_digest(const scep_ctx *ctx, CMS_SignerInfo *si, scep_digest *digest,
                             scep_diag *diag)
{
    X509_ALGOR *dig = NULL;
    CMS_SignerInfo_get0_algs(si, NULL, NULL, &dig, NULL);
    const ASN1_OBJECT *obj = NULL;
    X509_ALGOR_get0(&obj, NULL, NULL, dig);
    *digest = obj ? scepi_digest_from_obj(obj) : SCEP_DIGEST_NONE;
    /* A known but forbidden digest (MD5 without legacy) still verifies here, so that the
     * answer can be a signed badAlg; scep_msg_decrypt() refuses it. */
    (void)ctx;
    if (*digest == SCEP_DIGEST_NONE)
        return scepi_diag(diag, SCEP_E_BAD_ALG, "unsupported digest algorithm");
    return SCEP_OK;
}

/* Candidate signer certificates besides those the message carries. */
static STACK_OF(X509) * candidate_certs(const scep_open_options *opts)
{
    STACK_OF(X509) *all = sk_X509_new_null();
    if (all == NULL || opts == NULL)
        return all;
    STACK_OF(X509) * lists[2] = {opts->extra_certs, opts->trusted_signers};
    for (int l = 0; l < 2; l++)
        for (int i = 0; i < sk_X509_num(lists[l]); i++)
            if (!sk_X509_push(all, sk_X509_value(lists[l], i))) {
                sk_X509_free(all);
                return NULL;
            }
    return all;
}

static int last_error_is(int lib, int reason)
{
    unsigned long e = ERR_peek_last_error();
    return ERR_GET_LIB(e) == lib && ERR_GET_REASON(e) == reason;
}

/* Why CMS_verify() failed. CMS_R_CONTENT_VERIFY_ERROR comes after the signature over the
 * signed attributes verified (when there are any) and the content's digest did not match. */
static scep_err verify_failure(CMS_ContentInfo *cms, scep_diag *diag)
{
    CMS_SignerInfo *si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0);
    if (last_error_is(ERR_LIB_CMS, CMS_R_SIGNER_CERTIFICATE_NOT_FOUND))
        return scepi_diag(diag, SCEP_E_NO_SIGNER_CERT, "signer certificate not found");
    if (last_error_is(ERR_LIB_CMS, CMS_R_CONTENT_VERIFY_ERROR) && CMS_signed_get_attr_count(si) > 0)
        return scepi_diag(diag, SCEP_E_CONTENT_DIGEST,
                          "the content does not match the signed messageDigest");
    return scepi_diag(diag, SCEP_E_BAD_SIGNATURE, "signature does not verify");
}

/* Verifies the signature and returns the signed content (empty when absent). */
static scep_err verify_signature(CMS_ContentInfo *cms, const scep_open_options *opts,
                                 unsigned char **content, size_t *content_len, scep_diag *diag)
{
    ASN1_OCTET_STRING **pos = CMS_get0_content(cms);
    int detached = pos == NULL || *pos == NULL;
    /* FAILURE and PENDING replies carry no content: the signature covers empty data. */
    BIO *dcont = detached ? BIO_new_mem_buf("", 0) : NULL;
    BIO *out = BIO_new(BIO_s_mem());
    STACK_OF(X509) *certs = candidate_certs(opts);
    scep_err err = (out && certs && (dcont || !detached)) ? SCEP_OK : SCEP_E_NOMEM;
    if (err == SCEP_OK) {
        ERR_set_mark();
        if (CMS_verify(cms, certs, NULL, dcont, out, CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY) != 1)
            err = verify_failure(cms, diag);
        ERR_pop_to_mark();
    }
    if (err == SCEP_OK)
        err = scepi_bio_take(out, SCEP_MAX_MESSAGE_BYTES, content, content_len);
    sk_X509_free(certs);
    BIO_free(out);
    BIO_free(dcont);
    return err;
}

/* The signer must be a trusted certificate or one issued by a trusted certificate. */
static scep_err check_trust(X509 *signer, STACK_OF(X509) * trusted, scep_diag *diag)
{
    if (trusted == NULL)
        return SCEP_OK;
    for (int i = 0; i < sk_X509_num(trusted); i++) {
        X509 *t = sk_X509_value(trusted, i);
        if (X509_cmp(t, signer) == 0)
            return SCEP_OK;
        ERR_set_mark();
        int issued = X509_check_issued(t, signer) == X509_V_OK &&
                     X509_verify(signer, X509_get0_pubkey(t)) == 1;
        ERR_pop_to_mark();
        if (issued)
            return SCEP_OK;
    }
    return scepi_diag(diag, SCEP_E_UNTRUSTED_SIGNER, "message signed by an untrusted certificate");
}

/* A small decimal number in text ("19", "0"); -1 when not one. */
static int parse_small_number(const char *text)
{
    size_t n = strlen(text);
    if (n == 0 || n > 3)
        return -1;
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (text[i] < '0' || text[i] > '9')
            return -1;
        v = v * 10 + (text[i] - '0');
    }
    return v;
}

static int known_msg_type(int t)
{
    return t == SCEP_MSG_CERT_REP || t == SCEP_MSG_RENEWAL_REQ || t == SCEP_MSG_PKCS_REQ ||
           t == SCEP_MSG_CERT_POLL || t == SCEP_MSG_GET_CERT || t == SCEP_MSG_GET_CRL;
}

static scep_err read_number(const scep_ctx *ctx, CMS_SignerInfo *si, scepi_attr attr, int *value,
                            scep_diag *diag)
{
    char text[8];
    scep_err err = scepi_attr_get_text(ctx, si, attr, text, sizeof(text), diag);
    if (err != SCEP_OK)
        return err;
    *value = parse_small_number(text);
    if (*value < 0)
        return scepi_diag(diag, SCEP_E_BAD_ATTR, "%s is not a number", scepi_attr_name(attr));
    return SCEP_OK;
}

static scep_err read_status(const scep_ctx *ctx, CMS_SignerInfo *si, scep_msg *msg, scep_diag *diag)
{
    int status;
    scep_err err = read_number(ctx, si, SCEPI_ATTR_PKI_STATUS, &status, diag);
    if (err != SCEP_OK)
        return err;
    if (status != SCEP_STATUS_SUCCESS && status != SCEP_STATUS_FAILURE &&
        status != SCEP_STATUS_PENDING)
        return scepi_diag(diag, SCEP_E_BAD_ATTR, "unknown pkiStatus %d", status);
    msg->status = (scep_pki_status)status;
    if (status != SCEP_STATUS_FAILURE)
        return SCEP_OK;
    err = read_number(ctx, si, SCEPI_ATTR_FAIL_INFO, &msg->fail_info, diag);
    if (err != SCEP_OK)
        return err;
    if (msg->fail_info > SCEP_FAIL_BAD_CERT_ID)
        return scepi_diag(diag, SCEP_E_BAD_ATTR, "unknown failInfo %d", msg->fail_info);
    if (!scepi_attr_present(ctx, si, SCEPI_ATTR_FAIL_INFO_TEXT))
        return SCEP_OK;
    return scepi_attr_get_utf8(ctx, si, SCEPI_ATTR_FAIL_INFO_TEXT, msg->fail_info_text,
                               sizeof(msg->fail_info_text), diag);
}

static scep_err read_type(const scep_ctx *ctx, CMS_SignerInfo *si, scep_msg *msg, scep_diag *diag)
{
    int type;
    scep_err err = read_number(ctx, si, SCEPI_ATTR_MESSAGE_TYPE, &type, diag);
    if (err != SCEP_OK)
        return err;
    if (!known_msg_type(type))
        return scepi_diag(diag, SCEP_E_UNKNOWN_MSG_TYPE, "unknown messageType %d", type);
    msg->type = (scep_msg_type)type;
    return SCEP_OK;
}

/* Keeps the first problem, and the diag text that goes with it. */
static scep_diag *diag_unless(scep_err first, scep_diag *diag)
{
    return first == SCEP_OK ? diag : NULL;
}

static void keep_first(scep_err *first, scep_err err)
{
    if (*first == SCEP_OK)
        *first = err;
}

/*
 * Reads every attribute it can: one that is missing or malformed stays empty (type NONE,
 * transactionID "", nonce length 0) and the others are still read, so that a server can
 * answer with what is well-formed. Returns the first problem.
 */
static scep_err read_attributes(const scep_ctx *ctx, CMS_SignerInfo *si, scep_msg *msg,
                                scep_diag *diag)
{
    scep_err first = read_type(ctx, si, msg, diag);
    keep_first(&first, scepi_attr_get_text(ctx, si, SCEPI_ATTR_TRANSACTION_ID, msg->transaction_id,
                                           sizeof(msg->transaction_id), diag_unless(first, diag)));
    int is_reply = msg->type == SCEP_MSG_CERT_REP;
    if (!is_reply || scepi_attr_present(ctx, si, SCEPI_ATTR_SENDER_NONCE))
        keep_first(&first,
                   scepi_attr_get_octets(ctx, si, SCEPI_ATTR_SENDER_NONCE, msg->sender_nonce,
                                         &msg->sender_nonce_len, diag_unless(first, diag)));
    if (is_reply && scepi_attr_present(ctx, si, SCEPI_ATTR_RECIPIENT_NONCE))
        keep_first(&first,
                   scepi_attr_get_octets(ctx, si, SCEPI_ATTR_RECIPIENT_NONCE, msg->recipient_nonce,
                                         &msg->recipient_nonce_len, diag_unless(first, diag)));
    if (is_reply)
        keep_first(&first, read_status(ctx, si, msg, diag_unless(first, diag)));
    return first;
}

static void read_signing_time(CMS_SignerInfo *si, scep_msg *msg)
{
    int idx = CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1);
    X509_ATTRIBUTE *xa = idx >= 0 ? CMS_signed_get_attr(si, idx) : NULL;
    ASN1_TYPE *t = xa && X509_ATTRIBUTE_count(xa) == 1 ? X509_ATTRIBUTE_get0_type(xa, 0) : NULL;
    if (t == NULL || (t->type != V_ASN1_UTCTIME && t->type != V_ASN1_GENERALIZEDTIME))
        return;
    ASN1_TIME *epoch = ASN1_TIME_set(NULL, 0);
    int days = 0, secs = 0;
    if (epoch && ASN1_TIME_diff(&days, &secs, epoch, (const ASN1_TIME *)t->value.asn1_string)) {
        msg->signing_time = (time_t)days * 86400 + secs;
        msg->has_signing_time = 1;
    }
    ASN1_TIME_free(epoch);
}

static scep_msg *msg_new(void)
{
    scep_msg *msg = calloc(1, sizeof(*msg));
    if (msg != NULL) {
        msg->status = SCEP_STATUS_NONE;
        msg->fail_info = SCEP_FAIL_INFO_NONE;
    }
    return msg;
}

/* A SignedData whose signature verified, with its trusted signer. */
typedef struct verified {
    CMS_ContentInfo *cms;
    CMS_SignerInfo *si;
    X509 *signer; /* borrowed from cms */
    scep_digest digest;
    unsigned char *content; /* OPENSSL_malloc'd; NULL when empty */
    size_t content_len;
} verified;

static void verified_clear(verified *v)
{
    CMS_ContentInfo_free(v->cms);
    OPENSSL_free(v->content);
    memset(v, 0, sizeof(*v));
}

static scep_err find_trusted_signer(verified *v, const scep_open_options *opts, scep_diag *diag)
{
    CMS_SignerInfo_get0_algs(v->si, NULL, &v->signer, NULL, NULL);
    if (v->signer == NULL)
        return scepi_diag(diag, SCEP_E_NO_SIGNER_CERT, "signer certificate not found");
    return check_trust(v->signer, opts ? opts->trusted_signers : NULL, diag);
}

/*
 * Parses and verifies a SignedData. SCEP_E_CONTENT_DIGEST (the signed attributes verify, the
 * content does not match them) still leaves v with the trusted signer and no content: what was
 * authenticated. Any other error clears v. The caller clears v.
 */
static scep_err verify_signed(const scep_ctx *ctx, const unsigned char *der, size_t len,
                              const scep_open_options *opts, verified *v, scep_diag *diag)
{
    memset(v, 0, sizeof(*v));
    scep_err err = scepi_signed_d2i(ctx, der, len, SCEP_MAX_MESSAGE_BYTES, &v->cms, diag);
    if (err == SCEP_OK)
        err = check_shape(v->cms, &v->si, diag);
    if (err == SCEP_OK)
        err = check_digest(ctx, v->si, &v->digest, diag);
    if (err == SCEP_OK)
        err = verify_signature(v->cms, opts, &v->content, &v->content_len, diag);
    scep_err content = err == SCEP_E_CONTENT_DIGEST ? err : SCEP_OK;
    if (err == SCEP_OK || content != SCEP_OK)
        err = find_trusted_signer(v, opts, diag);
    if (err == SCEP_OK && v->content_len == 0) {
        OPENSSL_free(v->content);
        v->content = NULL;
    }
    if (err != SCEP_OK)
        verified_clear(v);
    return err != SCEP_OK ? err : content;
}

scep_err scepi_signed_content(const scep_ctx *ctx, const unsigned char *der, size_t len,
                              const scep_open_options *opts, unsigned char **content,
                              size_t *content_len, scep_diag *diag)
{
    *content = NULL;
    *content_len = 0;
    verified v;
    scep_err err = verify_signed(ctx, der, len, opts, &v, diag);
    if (err != SCEP_OK) {
        verified_clear(&v);
        return err;
    }
    if (v.content == NULL)
        err = scepi_diag(diag, SCEP_E_BAD_PAYLOAD, "SignedData has no content");
    else {
        *content = v.content;
        *content_len = v.content_len;
        v.content = NULL;
    }
    verified_clear(&v);
    return err;
}

scep_err scep_msg_open(const scep_ctx *ctx, const unsigned char *der, size_t len,
                       const scep_open_options *opts, scep_msg **out, scep_diag *diag)
{
    if (out == NULL || (der == NULL && len > 0))
        return SCEP_E_INVALID_ARG;
    *out = NULL;
    verified v;
    scep_err err = verify_signed(ctx, der, len, opts, &v, diag);
    if (v.cms == NULL)
        return err; /* nothing authenticated */
    scep_msg *msg = msg_new();
    if (msg == NULL || !X509_up_ref(v.signer)) {
        free(msg);
        verified_clear(&v);
        return SCEP_E_NOMEM;
    }
    msg->signer_cert = v.signer;
    msg->digest = v.digest;
    msg->envelope = v.content;
    msg->envelope_len = v.content_len;
    v.content = NULL;
    read_signing_time(v.si, msg);
    keep_first(&err, read_attributes(ctx, v.si, msg, diag_unless(err, diag)));
    verified_clear(&v);
    if (err == SCEP_OK || (opts != NULL && opts->keep_refused))
        *out = msg;
    else
        scep_msg_free(msg);
    return err;
}

scep_err scep_msg_check_time(const scep_msg *msg, time_t now, long max_skew)
{
    if (msg == NULL)
        return SCEP_E_INVALID_ARG;
    if (!msg->has_signing_time || max_skew <= 0)
        return SCEP_OK;
    time_t diff = msg->signing_time > now ? msg->signing_time - now : now - msg->signing_time;
    return diff > max_skew ? SCEP_E_BAD_TIME : SCEP_OK;
}

void scep_msg_free(scep_msg *msg)
{
    if (msg == NULL)
        return;
    X509_free(msg->signer_cert);
    OPENSSL_free(msg->envelope);
    OPENSSL_clear_free(msg->payload, msg->payload_len);
    X509_REQ_free(msg->csr);
    EVP_PKEY_free(msg->csr_key);
    X509_NAME_free(msg->issuer);
    X509_NAME_free(msg->subject);
    ASN1_INTEGER_free(msg->serial);
    sk_X509_pop_free(msg->certs, X509_free);
    sk_X509_CRL_pop_free(msg->crls, X509_CRL_free);
    free(msg);
}
