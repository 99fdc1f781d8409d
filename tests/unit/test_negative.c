/*
 * The negative table: hostile or broken pkiMessages, each with the error it must give.
 * Messages are built with OpenSSL's CMS API directly so that each can break one rule.
 */
#include <string.h>

#include <openssl/cms.h>

#include "testutil.h"

#define OID_MESSAGE_TYPE "2.16.840.1.113733.1.9.2"
#define OID_SENDER_NONCE "2.16.840.1.113733.1.9.5"
#define OID_TRANSACTION_ID "2.16.840.1.113733.1.9.7"
#define OID_PKI_STATUS "2.16.840.1.113733.1.9.3"

typedef struct attr_spec {
    const char *oid;
    int type; /* V_ASN1_* */
    const char *value;
    int len; /* -1: strlen */
} attr_spec;

/* A good PKCSReq's attributes; tests replace or drop entries. */
static const attr_spec good_attrs[] = {
    {OID_MESSAGE_TYPE, V_ASN1_PRINTABLESTRING, "19", -1},
    {OID_TRANSACTION_ID, V_ASN1_PRINTABLESTRING, "ABCDEF0123", -1},
    {OID_SENDER_NONCE, V_ASN1_OCTET_STRING, "0123456789abcdef", 16},
};

typedef struct fixture {
    EVP_PKEY *key;
    X509 *signer;
    unsigned char *envelope; /* a real envelope holding a CSR, to the CA */
    size_t envelope_len;
} fixture;

static fixture fx;

static unsigned char *i2d_cms(CMS_ContentInfo *cms, size_t *len)
{
    unsigned char *der = NULL;
    int n = i2d_CMS_ContentInfo(cms, &der);
    assert_true(n > 0);
    *len = (size_t)n;
    return der;
}

static unsigned char *envelope_of(const unsigned char *data, size_t len, X509 *to,
                                  const EVP_CIPHER *cipher, size_t *out_len)
{
    STACK_OF(X509) *rc = sk_X509_new_null();
    sk_X509_push(rc, to);
    BIO *in = BIO_new_mem_buf(data, (int)len);
    CMS_ContentInfo *cms = CMS_encrypt(rc, in, cipher, CMS_BINARY);
    assert_non_null(cms);
    unsigned char *der = i2d_cms(cms, out_len);
    CMS_ContentInfo_free(cms);
    BIO_free(in);
    sk_X509_free(rc);
    return der;
}

static int setup(void **state)
{
    (void)state;
    fx.key = tu_rsa_key(2048, 0);
    assert_int_equal(
        scep_selfsigned_signer(tu_ctx(0), fx.key, NULL, 1, SCEP_DIGEST_SHA256, &fx.signer),
        SCEP_OK);
    scep_csr_params cp = {.challenge_password = "pw"};
    X509_REQ *csr = NULL;
    assert_int_equal(scep_csr_build(tu_ctx(0), fx.key, &cp, &csr), SCEP_OK);
    unsigned char *der = NULL;
    int n = i2d_X509_REQ(csr, &der);
    fx.envelope =
        envelope_of(der, (size_t)n, tu_test_ca()->ca_cert, EVP_aes_128_cbc(), &fx.envelope_len);
    OPENSSL_free(der);
    X509_REQ_free(csr);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    X509_free(fx.signer);
    OPENSSL_free(fx.envelope);
    return 0;
}

/* Signs content with the given attributes, digest md; content NULL means detached. */
static unsigned char *sign_custom(const attr_spec *attrs, size_t n_attrs,
                                  const unsigned char *content, size_t content_len,
                                  const EVP_MD *md, size_t *len)
{
    unsigned int flags = CMS_PARTIAL | CMS_BINARY | CMS_NOSMIMECAP;
    if (content == NULL)
        flags |= CMS_DETACHED;
    CMS_ContentInfo *cms = CMS_sign(NULL, NULL, NULL, NULL, flags);
    CMS_SignerInfo *si = CMS_add1_signer(cms, fx.signer, fx.key, md, flags);
    assert_non_null(si);
    for (size_t i = 0; i < n_attrs; i++) {
        ASN1_OBJECT *obj = OBJ_txt2obj(attrs[i].oid, 1);
        int alen = attrs[i].len < 0 ? (int)strlen(attrs[i].value) : attrs[i].len;
        assert_int_equal(CMS_signed_add1_attr_by_OBJ(si, obj, attrs[i].type, attrs[i].value, alen),
                         1);
        ASN1_OBJECT_free(obj);
    }
    BIO *in = BIO_new_mem_buf(content ? (const void *)content : "", (int)content_len);
    assert_int_equal(CMS_final(cms, in, NULL, CMS_BINARY), 1);
    unsigned char *der = i2d_cms(cms, len);
    BIO_free(in);
    CMS_ContentInfo_free(cms);
    return der;
}

static unsigned char *good_request(size_t *len)
{
    return sign_custom(good_attrs, 3, fx.envelope, fx.envelope_len, EVP_sha256(), len);
}

/* Decodes as a server with the CA key; returns the error. */
static scep_err server_decode_with(scep_ctx *ctx, const unsigned char *der, size_t len,
                                   int csr_key_from_signer)
{
    const tu_ca *ca = tu_test_ca();
    scep_recipient r = {ca->ca_cert, ca->ca_key};
    scep_decrypt_options d = {
        .recipients = &r, .n_recipients = 1, .csr_key_from_signer = csr_key_from_signer};
    scep_msg *msg = NULL;
    scep_diag diag = {{0}};
    scep_err err = scep_msg_decode(ctx, der, len, NULL, &d, &msg, &diag);
    if (err == SCEP_OK)
        assert_non_null(msg);
    else {
        assert_null(msg);
        assert_true(diag.text[0] != '\0');
    }
    scep_msg_free(msg);
    return err;
}

static scep_err server_decode(scep_ctx *ctx, const unsigned char *der, size_t len)
{
    return server_decode_with(ctx, der, len, 0);
}

static void test_good_request_decodes(void **state)
{
    (void)state;
    size_t len;
    unsigned char *der = good_request(&len);
    assert_int_equal(server_decode(tu_ctx(0), der, len), SCEP_OK);
    OPENSSL_free(der);
}

/* Finds the last occurrence of needle in the message (the signature is at the end). */
static size_t find_last(const unsigned char *hay, size_t n, const unsigned char *needle, size_t m)
{
    for (size_t i = n - m + 1; i-- > 0;)
        if (memcmp(hay + i, needle, m) == 0)
            return i;
    fail_msg("needle not found");
    return 0;
}

static void test_tampering(void **state)
{
    (void)state;
    size_t len;
    unsigned char *der = good_request(&len);
    /* The signature: the last bytes of the message. */
    der[len - 5] ^= 0x01;
    assert_int_equal(server_decode(tu_ctx(0), der, len), SCEP_E_BAD_SIGNATURE);
    der[len - 5] ^= 0x01;
    /* The signed content: a byte inside the envelope. */
    size_t at = find_last(der, len, fx.envelope + fx.envelope_len - 16, 16);
    der[at + 3] ^= 0x80;
    assert_int_equal(server_decode(tu_ctx(0), der, len), SCEP_E_CONTENT_DIGEST);
    der[at + 3] ^= 0x80;
    /* The transactionID inside the signed attributes. */
    at = find_last(der, len, (const unsigned char *)"ABCDEF0123", 10);
    der[at] = 'X';
    assert_int_equal(server_decode(tu_ctx(0), der, len), SCEP_E_BAD_SIGNATURE);
    OPENSSL_free(der);
}

static void test_truncated_oversize_trailing(void **state)
{
    (void)state;
    size_t len;
    unsigned char *der = good_request(&len);
    static const size_t cuts[] = {1, 2, 10, 100};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++)
        assert_int_equal(server_decode(tu_ctx(0), der, len - cuts[i]), SCEP_E_BAD_ENCODING);
    assert_int_equal(server_decode(tu_ctx(0), der, len / 2), SCEP_E_BAD_ENCODING);
    assert_int_equal(server_decode(tu_ctx(0), der, 0), SCEP_E_BAD_ENCODING);
    unsigned char *longer = calloc(1, SCEP_MAX_MESSAGE_BYTES + 1);
    memcpy(longer, der, len);
    assert_int_equal(server_decode(tu_ctx(0), longer, len + 3), SCEP_E_BAD_ENCODING);
    assert_int_equal(server_decode(tu_ctx(0), longer, SCEP_MAX_MESSAGE_BYTES + 1),
                     SCEP_E_TOO_LARGE);
    free(longer);
    static const unsigned char junk[] = "GET / HTTP/1.1\r\n\r\n";
    assert_int_equal(server_decode(tu_ctx(0), junk, sizeof(junk)), SCEP_E_BAD_ENCODING);
    OPENSSL_free(der);
}

static void test_wrong_content_types(void **state)
{
    (void)state;
    /* An EnvelopedData where a SignedData belongs. */
    assert_int_equal(server_decode(tu_ctx(0), fx.envelope, fx.envelope_len),
                     SCEP_E_NOT_SIGNED_DATA);
    /* A degenerate certs-only message: no signer. */
    STACK_OF(X509) *certs = sk_X509_new_null();
    sk_X509_push(certs, tu_test_ca()->ca_cert);
    unsigned char *der = NULL;
    size_t len = 0;
    assert_int_equal(scep_certs_only_encode(tu_ctx(0), certs, NULL, &der, &len), SCEP_OK);
    assert_int_equal(server_decode(tu_ctx(0), der, len), SCEP_E_NOT_SIGNED_DATA);
    OPENSSL_free(der);
    sk_X509_free(certs);
}

typedef struct attr_case {
    const char *what;
    attr_spec replace; /* replaces the good attribute with the same OID; value NULL drops it */
    attr_spec extra;   /* added on top when oid is set */
    scep_err expect;
} attr_case;

static const attr_case attr_cases[] = {
    {"no messageType", {OID_MESSAGE_TYPE, 0, NULL, 0}, {0}, SCEP_E_MISSING_ATTR},
    {"no transactionID", {OID_TRANSACTION_ID, 0, NULL, 0}, {0}, SCEP_E_MISSING_ATTR},
    {"no senderNonce", {OID_SENDER_NONCE, 0, NULL, 0}, {0}, SCEP_E_MISSING_ATTR},
    {"unknown messageType",
     {OID_MESSAGE_TYPE, V_ASN1_PRINTABLESTRING, "99", -1},
     {0},
     SCEP_E_UNKNOWN_MSG_TYPE},
    {"messageType not a number",
     {OID_MESSAGE_TYPE, V_ASN1_PRINTABLESTRING, "1x", -1},
     {0},
     SCEP_E_BAD_ATTR},
    {"messageType too long",
     {OID_MESSAGE_TYPE, V_ASN1_PRINTABLESTRING, "00019", -1},
     {0},
     SCEP_E_BAD_ATTR},
    {"messageType wrong ASN.1 type",
     {OID_MESSAGE_TYPE, V_ASN1_OCTET_STRING, "19", -1},
     {0},
     SCEP_E_BAD_ATTR},
    {"nonce too short",
     {OID_SENDER_NONCE, V_ASN1_OCTET_STRING, "1234567", 7},
     {0},
     SCEP_E_BAD_NONCE},
    {"nonce too long",
     {OID_SENDER_NONCE, V_ASN1_OCTET_STRING,
      "0123456789012345678901234567890123456789012345678901234567890123456789", 70},
     {0},
     SCEP_E_BAD_NONCE},
    {"nonce wrong ASN.1 type",
     {OID_SENDER_NONCE, V_ASN1_PRINTABLESTRING, "0123456789abcdef", -1},
     {0},
     SCEP_E_BAD_ATTR},
    {"transactionID empty",
     {OID_TRANSACTION_ID, V_ASN1_PRINTABLESTRING, "", 0},
     {0},
     SCEP_E_BAD_ATTR},
    {"transactionID with control bytes",
     {OID_TRANSACTION_ID, V_ASN1_UTF8STRING, "ab\ncd", -1},
     {0},
     SCEP_E_BAD_ATTR},
    {"transactionID twice",
     {OID_TRANSACTION_ID, V_ASN1_PRINTABLESTRING, "ABCDEF0123", -1},
     {OID_TRANSACTION_ID, V_ASN1_PRINTABLESTRING, "OTHER", -1},
     SCEP_E_BAD_ATTR},
    {"messageType twice",
     {OID_MESSAGE_TYPE, V_ASN1_PRINTABLESTRING, "19", -1},
     {OID_MESSAGE_TYPE, V_ASN1_PRINTABLESTRING, "17", -1},
     SCEP_E_BAD_ATTR},
    {"CertRep without pkiStatus",
     {OID_MESSAGE_TYPE, V_ASN1_PRINTABLESTRING, "3", -1},
     {0},
     SCEP_E_MISSING_ATTR},
    {"CertRep with unknown pkiStatus",
     {OID_MESSAGE_TYPE, V_ASN1_PRINTABLESTRING, "3", -1},
     {OID_PKI_STATUS, V_ASN1_PRINTABLESTRING, "7", -1},
     SCEP_E_BAD_ATTR},
    {"CertRep FAILURE without failInfo",
     {OID_MESSAGE_TYPE, V_ASN1_PRINTABLESTRING, "3", -1},
     {OID_PKI_STATUS, V_ASN1_PRINTABLESTRING, "2", -1},
     SCEP_E_MISSING_ATTR},
};

/* A good request whose attribute with replace's OID is replaced (dropped when its value is
 * NULL), with extra (when its oid is set) added. */
static unsigned char *sign_replaced(const attr_spec *replace, const attr_spec *extra, size_t *len)
{
    attr_spec attrs[4];
    size_t n = 0;
    for (size_t i = 0; i < 3; i++) {
        if (strcmp(good_attrs[i].oid, replace->oid) != 0)
            attrs[n++] = good_attrs[i];
        else if (replace->value != NULL)
            attrs[n++] = *replace;
    }
    if (extra != NULL && extra->oid != NULL)
        attrs[n++] = *extra;
    return sign_custom(attrs, n, fx.envelope, fx.envelope_len, EVP_sha256(), len);
}

static void test_attribute_table(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof(attr_cases) / sizeof(attr_cases[0]); c++) {
        const attr_case *tc = &attr_cases[c];
        size_t len;
        unsigned char *der = sign_replaced(&tc->replace, &tc->extra, &len);
        scep_err err = server_decode(tu_ctx(0), der, len);
        if (err != tc->expect)
            fail_msg("%s: got %s, expected %s", tc->what, scep_strerror(err),
                     scep_strerror(tc->expect));
        OPENSSL_free(der);
    }
}

/* What keep_refused hands back for a refused request, and what a FAILURE to it echoes. */
typedef struct refused_case {
    const char *what;
    attr_spec replace; /* as in attr_case */
    scep_err expect;
    int type;      /* the type handed back */
    int has_tid;   /* transactionID kept (and echoed) */
    int has_nonce; /* senderNonce kept (and echoed as recipientNonce) */
} refused_case;

static const refused_case refused_cases[] = {
    {"unknown messageType",
     {OID_MESSAGE_TYPE, V_ASN1_PRINTABLESTRING, "99", -1},
     SCEP_E_UNKNOWN_MSG_TYPE,
     SCEP_MSG_NONE,
     1,
     1},
    {"no messageType", {OID_MESSAGE_TYPE, 0, NULL, 0}, SCEP_E_MISSING_ATTR, SCEP_MSG_NONE, 1, 1},
    {"no transactionID",
     {OID_TRANSACTION_ID, 0, NULL, 0},
     SCEP_E_MISSING_ATTR,
     SCEP_MSG_PKCS_REQ,
     0,
     1},
    {"transactionID with control bytes",
     {OID_TRANSACTION_ID, V_ASN1_UTF8STRING, "ab\ncd", -1},
     SCEP_E_BAD_ATTR,
     SCEP_MSG_PKCS_REQ,
     0,
     1},
    {"no senderNonce",
     {OID_SENDER_NONCE, 0, NULL, 0},
     SCEP_E_MISSING_ATTR,
     SCEP_MSG_PKCS_REQ,
     1,
     0},
    {"nonce too short",
     {OID_SENDER_NONCE, V_ASN1_OCTET_STRING, "1234567", 7},
     SCEP_E_BAD_NONCE,
     SCEP_MSG_PKCS_REQ,
     1,
     0},
};

static scep_msg *open_kept(const unsigned char *der, size_t len, scep_err expect)
{
    scep_open_options o = {.keep_refused = 1};
    scep_msg *msg = NULL;
    scep_diag diag = {{0}};
    assert_int_equal(scep_msg_open(tu_ctx(0), der, len, &o, &msg, &diag), expect);
    assert_true(expect == SCEP_OK || diag.text[0] != '\0');
    return msg;
}

/* The FAILURE the server answers req with, as the client reads it (keep_refused too: a CertRep
 * without a transactionID is itself refused). */
static scep_msg *failure_to(const scep_msg *req)
{
    const tu_ca *ca = tu_test_ca();
    scep_reply_params rp = {.status = SCEP_STATUS_FAILURE,
                            .fail_info = SCEP_FAIL_BAD_REQUEST,
                            .fail_info_text = "refused",
                            .signer_cert = ca->ca_cert,
                            .signer_key = ca->ca_key};
    unsigned char *der = NULL;
    size_t len = 0;
    assert_int_equal(scep_reply_encode(tu_ctx(0), req, &rp, &der, &len), SCEP_OK);
    scep_msg *rep = open_kept(der, len, req->transaction_id[0] ? SCEP_OK : SCEP_E_MISSING_ATTR);
    OPENSSL_free(der);
    assert_non_null(rep);
    assert_int_equal(rep->status, SCEP_STATUS_FAILURE);
    assert_string_equal(rep->fail_info_text, "refused");
    return rep;
}

static void check_refused(const refused_case *tc, const scep_msg *msg)
{
    assert_non_null(msg);
    assert_int_equal(msg->type, tc->type);
    assert_string_equal(msg->transaction_id, tc->has_tid ? "ABCDEF0123" : "");
    assert_int_equal(msg->sender_nonce_len, tc->has_nonce ? 16 : 0);
    assert_non_null(msg->signer_cert);
    scep_msg *rep = failure_to(msg);
    assert_string_equal(rep->transaction_id, msg->transaction_id);
    assert_int_equal(rep->recipient_nonce_len, msg->sender_nonce_len);
    assert_memory_equal(rep->recipient_nonce, msg->sender_nonce, msg->sender_nonce_len);
    scep_msg_free(rep);
}

static void test_keep_refused(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof(refused_cases) / sizeof(refused_cases[0]); c++) {
        const refused_case *tc = &refused_cases[c];
        size_t len;
        unsigned char *der = sign_replaced(&tc->replace, NULL, &len);
        print_message("%s\n", tc->what);
        scep_msg *msg = open_kept(der, len, tc->expect);
        check_refused(tc, msg);
        scep_msg_free(msg);
        OPENSSL_free(der);
    }
}

/* A content that does not match its messageDigest: the attributes and signer are handed back,
 * the content is not. Without keep_refused, nothing is. Nothing when the attributes fail. */
static void test_keep_refused_integrity(void **state)
{
    (void)state;
    size_t len;
    unsigned char *der = good_request(&len);
    size_t at = find_last(der, len, fx.envelope + fx.envelope_len - 16, 16);
    der[at + 3] ^= 0x80;
    scep_msg *msg = open_kept(der, len, SCEP_E_CONTENT_DIGEST);
    assert_non_null(msg);
    assert_null(msg->envelope);
    assert_int_equal(msg->type, SCEP_MSG_PKCS_REQ);
    assert_string_equal(msg->transaction_id, "ABCDEF0123");
    scep_msg_free(msg);
    scep_msg *none = NULL;
    assert_int_equal(scep_msg_open(tu_ctx(0), der, len, NULL, &none, NULL), SCEP_E_CONTENT_DIGEST);
    assert_null(none);
    der[at + 3] ^= 0x80;
    at = find_last(der, len, (const unsigned char *)"ABCDEF0123", 10);
    der[at] = 'X';
    assert_null(open_kept(der, len, SCEP_E_BAD_SIGNATURE));
    OPENSSL_free(der);
}

static void test_payload_errors(void **state)
{
    (void)state;
    size_t len;
    /* A PKCSReq with no envelope. */
    unsigned char *der = sign_custom(good_attrs, 3, NULL, 0, EVP_sha256(), &len);
    assert_int_equal(server_decode(tu_ctx(0), der, len), SCEP_E_BAD_PAYLOAD);
    OPENSSL_free(der);
    /* Content that is not an EnvelopedData. */
    der = sign_custom(good_attrs, 3, (const unsigned char *)"hello", 5, EVP_sha256(), &len);
    assert_int_equal(server_decode(tu_ctx(0), der, len), SCEP_E_BAD_PAYLOAD);
    OPENSSL_free(der);
    /* An envelope for someone else (the RA, whose key the server was not given). */
    size_t env_len;
    unsigned char *env = envelope_of((const unsigned char *)"x", 1, tu_test_ca()->ra_cert,
                                     EVP_aes_128_cbc(), &env_len);
    der = sign_custom(good_attrs, 3, env, env_len, EVP_sha256(), &len);
    assert_int_equal(server_decode(tu_ctx(0), der, len), SCEP_E_WRONG_RECIPIENT);
    OPENSSL_free(der);
    OPENSSL_free(env);
    /* An envelope whose content is not a CSR. */
    env = envelope_of((const unsigned char *)"not a csr", 9, tu_test_ca()->ca_cert,
                      EVP_aes_256_cbc(), &env_len);
    der = sign_custom(good_attrs, 3, env, env_len, EVP_sha256(), &len);
    assert_int_equal(server_decode(tu_ctx(0), der, len), SCEP_E_BAD_CSR);
    OPENSSL_free(der);
    OPENSSL_free(env);
}

static void test_bad_csr_signature(void **state)
{
    (void)state;
    scep_csr_params cp = {.challenge_password = "pw"};
    X509_REQ *csr = NULL;
    assert_int_equal(scep_csr_build(tu_ctx(0), fx.key, &cp, &csr), SCEP_OK);
    unsigned char *csr_der = NULL;
    int n = i2d_X509_REQ(csr, &csr_der);
    csr_der[n - 3] ^= 0x40; /* inside the CSR's signature */
    size_t env_len, len;
    unsigned char *env =
        envelope_of(csr_der, (size_t)n, tu_test_ca()->ca_cert, EVP_aes_128_cbc(), &env_len);
    unsigned char *der = sign_custom(good_attrs, 3, env, env_len, EVP_sha256(), &len);
    assert_int_equal(server_decode(tu_ctx(0), der, len), SCEP_E_BAD_CSR);
    /* Sharing the signer's key object must not skip the CSR's signature check. */
    assert_int_equal(server_decode_with(tu_ctx(0), der, len, 1), SCEP_E_BAD_CSR);
    OPENSSL_free(der);
    OPENSSL_free(env);
    OPENSSL_free(csr_der);
    X509_REQ_free(csr);
}

static void test_legacy_algorithms_refused(void **state)
{
    (void)state;
    size_t len;
    /* MD5 as the signer's digest. */
    unsigned char *der = sign_custom(good_attrs, 3, fx.envelope, fx.envelope_len, EVP_md5(), &len);
    assert_int_equal(server_decode(tu_ctx(0), der, len), SCEP_E_BAD_ALG);
    assert_int_equal(server_decode(tu_ctx(1), der, len), SCEP_OK);
    OPENSSL_free(der);
    /* 3DES is fine; single DES is not (needs the legacy context to even build). */
    scep_ctx *legacy = tu_ctx(1);
    EVP_CIPHER *des = EVP_CIPHER_fetch(scep_ctx_libctx(legacy), "DES-CBC", NULL);
    assert_non_null(des);
    unsigned char *csr_der = NULL;
    X509_REQ *csr = NULL;
    scep_csr_params cp = {.challenge_password = "pw"};
    assert_int_equal(scep_csr_build(tu_ctx(0), fx.key, &cp, &csr), SCEP_OK);
    int n = i2d_X509_REQ(csr, &csr_der);
    STACK_OF(X509) *rc = sk_X509_new_null();
    sk_X509_push(rc, tu_test_ca()->ca_cert);
    BIO *in = BIO_new_mem_buf(csr_der, n);
    CMS_ContentInfo *cms = CMS_encrypt_ex(rc, in, des, CMS_BINARY, scep_ctx_libctx(legacy), NULL);
    assert_non_null(cms);
    size_t env_len;
    unsigned char *env = i2d_cms(cms, &env_len);
    der = sign_custom(good_attrs, 3, env, env_len, EVP_sha256(), &len);
    assert_int_equal(server_decode(tu_ctx(0), der, len), SCEP_E_BAD_ALG);
    assert_int_equal(server_decode(legacy, der, len), SCEP_OK);
    OPENSSL_free(der);
    OPENSSL_free(env);
    CMS_ContentInfo_free(cms);
    BIO_free(in);
    sk_X509_free(rc);
    OPENSSL_free(csr_der);
    X509_REQ_free(csr);
    EVP_CIPHER_free(des);
}

static void test_error_mapping(void **state)
{
    (void)state;
    /* Each reason maps to one outward answer. */
    assert_int_equal(scep_err_fail_info(SCEP_E_BAD_SIGNATURE), SCEP_FAIL_BAD_MESSAGE_CHECK);
    assert_int_equal(scep_err_fail_info(SCEP_E_BAD_CSR), SCEP_FAIL_BAD_REQUEST);
    assert_int_equal(scep_err_fail_info(SCEP_E_BAD_TIME), SCEP_FAIL_BAD_TIME);
    assert_int_equal(scep_err_fail_info(SCEP_E_BAD_CERT_ID), SCEP_FAIL_BAD_CERT_ID);
    assert_int_equal(scep_err_fail_info(SCEP_E_TOO_LARGE), SCEP_FAIL_INFO_NONE);
    assert_int_equal(scep_err_http_status(SCEP_E_TOO_LARGE), 413);
    assert_int_equal(scep_err_http_status(SCEP_E_BAD_ENCODING), 400);
    assert_int_equal(scep_err_http_status(SCEP_E_NOMEM), 500);
    assert_int_equal(scep_err_http_status(SCEP_E_BAD_ALG), 200);
    assert_string_equal(scep_strerror((scep_err)9999), "unknown error");
    assert_string_equal(scep_fail_info_name(SCEP_FAIL_BAD_ALG), "badAlg");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_request_decodes),
        cmocka_unit_test(test_tampering),
        cmocka_unit_test(test_truncated_oversize_trailing),
        cmocka_unit_test(test_wrong_content_types),
        cmocka_unit_test(test_attribute_table),
        cmocka_unit_test(test_keep_refused),
        cmocka_unit_test(test_keep_refused_integrity),
        cmocka_unit_test(test_payload_errors),
        cmocka_unit_test(test_bad_csr_signature),
        cmocka_unit_test(test_legacy_algorithms_refused),
        cmocka_unit_test(test_error_mapping),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
