/* Round trips of every pkiMessage type, for each cipher and digest, RSA and EC requesters. */
#include <string.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "testutil.h"

typedef struct client {
    EVP_PKEY *key;
    X509 *signer; /* self-signed */
    X509_REQ *csr;
    char tid[130];
    unsigned char nonce[SCEP_NONCE_BYTES];
} client;

static X509_NAME *name_of(const char *cn)
{
    X509_NAME *n = X509_NAME_new();
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
    return n;
}

static void client_init(client *c, scep_ctx *ctx, EVP_PKEY *key, scep_digest digest)
{
    memset(c, 0, sizeof(*c));
    c->key = key;
    X509_NAME *subject = name_of("device-1");
    assert_int_equal(scep_selfsigned_signer(ctx, key, subject, 1, digest, &c->signer), SCEP_OK);
    scep_csr_params cp = {.subject = subject,
                          .challenge_password = "s3cret",
                          .san = "dns:device-1.example,ip:192.0.2.7",
                          .digest = digest};
    assert_int_equal(scep_csr_build(ctx, key, &cp, &c->csr), SCEP_OK);
    X509_NAME_free(subject);
    assert_int_equal(scep_transaction_id(ctx, key, SCEP_DIGEST_SHA256, c->tid, sizeof(c->tid)),
                     SCEP_OK);
    assert_int_equal(scep_nonce(c->nonce, sizeof(c->nonce)), SCEP_OK);
}

static void client_free(client *c)
{
    X509_free(c->signer);
    X509_REQ_free(c->csr);
}

static scep_msg_params request_params(client *c, scep_msg_type type, X509 *to, scep_cipher cipher,
                                      scep_digest digest)
{
    scep_msg_params p = {.type = type,
                         .transaction_id = c->tid,
                         .sender_nonce = c->nonce,
                         .sender_nonce_len = sizeof(c->nonce),
                         .csr = c->csr,
                         .signer_cert = c->signer,
                         .signer_key = c->key,
                         .digest = digest,
                         .recipient_cert = to,
                         .cipher = cipher};
    return p;
}

/* The server side: opens a request with the CA and RA keys; csr_key_from_signer as scepd sets
 * it or not. */
static scep_msg *server_decode_with(scep_ctx *ctx, const unsigned char *der, size_t len,
                                    int csr_key_from_signer)
{
    const tu_ca *ca = tu_test_ca();
    scep_recipient rs[2] = {{ca->ca_cert, ca->ca_key}, {ca->ra_cert, ca->ra_key}};
    scep_decrypt_options dopts = {
        .recipients = rs, .n_recipients = 2, .csr_key_from_signer = csr_key_from_signer};
    scep_msg *msg = NULL;
    scep_diag diag = {{0}};
    scep_err err = scep_msg_decode(ctx, der, len, NULL, &dopts, &msg, &diag);
    if (err != SCEP_OK)
        fail_msg("server decode: %s (%s)", scep_strerror(err), diag.text);
    return msg;
}

static scep_msg *server_decode(scep_ctx *ctx, const unsigned char *der, size_t len)
{
    return server_decode_with(ctx, der, len, 0);
}

/* The client side: opens a CertRep with its own key, trusting the CA and its RA. */
static scep_err client_decode(scep_ctx *ctx, client *c, const unsigned char *der, size_t len,
                              const char *password, scep_msg **out)
{
    STACK_OF(X509) *trusted = sk_X509_new_null();
    sk_X509_push(trusted, tu_test_ca()->ca_cert);
    scep_open_options oopts = {.trusted_signers = trusted};
    scep_recipient me = {c->signer, c->key};
    scep_decrypt_options dopts = {.recipients = &me, .n_recipients = 1, .password = password};
    scep_diag diag = {{0}};
    scep_err err = scep_msg_decode(ctx, der, len, &oopts, &dopts, out, &diag);
    if (err != SCEP_OK)
        print_message("client decode: %s (%s)\n", scep_strerror(err), diag.text);
    sk_X509_free(trusted);
    return err;
}

static X509 *issue_for(X509_REQ *csr)
{
    const tu_ca *ca = tu_test_ca();
    X509 *cert = tu_cert(X509_REQ_get0_pubkey(csr), "device-1", ca->ca_cert, ca->ca_key, 0,
                         KU_DIGITAL_SIGNATURE, 30);
    return cert;
}

static void check_success_reply(scep_ctx *ctx, client *c, const scep_msg *req, X509 *signer,
                                EVP_PKEY *signer_key, const char *password)
{
    X509 *issued = issue_for(req->csr);
    STACK_OF(X509) *certs = sk_X509_new_null();
    sk_X509_push(certs, issued);
    sk_X509_push(certs, tu_test_ca()->ca_cert);
    scep_reply_params rp = {.status = SCEP_STATUS_SUCCESS,
                            .certs = certs,
                            .signer_cert = signer,
                            .signer_key = signer_key,
                            .password = password};
    unsigned char *der = NULL;
    size_t len = 0;
    assert_int_equal(scep_reply_encode(ctx, req, &rp, &der, &len), SCEP_OK);
    scep_msg *rep = NULL;
    assert_int_equal(client_decode(ctx, c, der, len, password, &rep), SCEP_OK);
    assert_int_equal(scep_reply_check(rep, c->tid, c->nonce, sizeof(c->nonce), NULL), SCEP_OK);
    assert_int_equal(rep->status, SCEP_STATUS_SUCCESS);
    assert_int_equal(rep->cipher, req->cipher);
    assert_int_equal(rep->digest, req->digest);
    assert_int_equal(rep->decrypted_with_password, password != NULL);
    assert_int_equal(sk_X509_num(rep->certs), 2);
    X509 *leaf = scep_certs_find_leaf(rep->certs, c->key);
    assert_non_null(leaf);
    assert_int_equal(X509_cmp(leaf, issued), 0);
    assert_ptr_equal(scep_certs_find_leaf(rep->certs, NULL), leaf);
    /* A fresh senderNonce, not an echo. */
    assert_false(rep->sender_nonce_len == sizeof(c->nonce) &&
                 memcmp(rep->sender_nonce, c->nonce, sizeof(c->nonce)) == 0);
    scep_msg_free(rep);
    OPENSSL_free(der);
    sk_X509_free(certs);
    X509_free(issued);
}

static void roundtrip_pkcsreq(scep_ctx *ctx, EVP_PKEY *key, scep_cipher cipher, scep_digest digest,
                              X509 *to)
{
    client c;
    client_init(&c, ctx, key, digest);
    scep_msg_params p = request_params(&c, SCEP_MSG_PKCS_REQ, to, cipher, digest);
    unsigned char *der = NULL;
    size_t len = 0;
    assert_int_equal(scep_msg_encode(ctx, &p, &der, &len), SCEP_OK);
    scep_msg *req = server_decode(ctx, der, len);
    assert_int_equal(req->type, SCEP_MSG_PKCS_REQ);
    assert_string_equal(req->transaction_id, c.tid);
    assert_int_equal(req->sender_nonce_len, sizeof(c.nonce));
    assert_memory_equal(req->sender_nonce, c.nonce, sizeof(c.nonce));
    assert_int_equal(req->cipher, cipher);
    assert_int_equal(req->digest, digest);
    assert_int_equal(req->status, SCEP_STATUS_NONE);
    assert_true(req->has_signing_time);
    assert_int_equal(X509_cmp(req->signer_cert, c.signer), 0);
    assert_int_equal(
        X509_NAME_cmp(X509_REQ_get_subject_name(req->csr), X509_REQ_get_subject_name(c.csr)), 0);
    char pw[64];
    assert_int_equal(scep_csr_challenge_password(req->csr, pw, sizeof(pw)), SCEP_OK);
    assert_string_equal(pw, "s3cret");
    const tu_ca *ca = tu_test_ca();
    int is_rsa = EVP_PKEY_is_a(key, "RSA");
    check_success_reply(ctx, &c, req, ca->ca_cert, ca->ca_key, is_rsa ? NULL : "s3cret");
    scep_msg_free(req);
    OPENSSL_free(der);
    client_free(&c);
}

static void test_pkcsreq_every_cipher_and_digest(void **state)
{
    (void)state;
    static const scep_cipher ciphers[] = {SCEP_CIPHER_AES128_CBC, SCEP_CIPHER_AES192_CBC,
                                          SCEP_CIPHER_AES256_CBC, SCEP_CIPHER_DES3_CBC};
    static const scep_digest digests[] = {SCEP_DIGEST_SHA1, SCEP_DIGEST_SHA224, SCEP_DIGEST_SHA256,
                                          SCEP_DIGEST_SHA384, SCEP_DIGEST_SHA512};
    for (size_t i = 0; i < sizeof(ciphers) / sizeof(ciphers[0]); i++)
        for (size_t j = 0; j < sizeof(digests) / sizeof(digests[0]); j++)
            roundtrip_pkcsreq(tu_ctx(0), tu_rsa_key(2048, 0), ciphers[i], digests[j],
                              tu_test_ca()->ca_cert);
}

static void test_pkcsreq_ec_requester(void **state)
{
    (void)state;
    roundtrip_pkcsreq(tu_ctx(0), tu_ec_key("P-256", 0), SCEP_CIPHER_AES256_CBC, SCEP_DIGEST_SHA256,
                      tu_test_ca()->ca_cert);
    roundtrip_pkcsreq(tu_ctx(0), tu_ec_key("P-384", 0), SCEP_CIPHER_AES128_CBC, SCEP_DIGEST_SHA384,
                      tu_test_ca()->ca_cert);
}

static void test_pkcsreq_to_ra(void **state)
{
    (void)state;
    roundtrip_pkcsreq(tu_ctx(0), tu_rsa_key(2048, 1), SCEP_CIPHER_AES128_CBC, SCEP_DIGEST_SHA256,
                      tu_test_ca()->ra_cert);
}

static void test_legacy_des_md5(void **state)
{
    (void)state;
    roundtrip_pkcsreq(tu_ctx(1), tu_rsa_key(2048, 2), SCEP_CIPHER_DES_CBC, SCEP_DIGEST_MD5,
                      tu_test_ca()->ca_cert);
    /* Without the legacy switch the same message is refused with badAlg. */
    client c;
    client_init(&c, tu_ctx(1), tu_rsa_key(2048, 2), SCEP_DIGEST_SHA1);
    scep_msg_params p = request_params(&c, SCEP_MSG_PKCS_REQ, tu_test_ca()->ca_cert,
                                       SCEP_CIPHER_DES_CBC, SCEP_DIGEST_SHA1);
    unsigned char *der = NULL;
    size_t len = 0;
    assert_int_equal(scep_msg_encode(tu_ctx(1), &p, &der, &len), SCEP_OK);
    const tu_ca *ca = tu_test_ca();
    scep_recipient r = {ca->ca_cert, ca->ca_key};
    scep_decrypt_options dopts = {.recipients = &r, .n_recipients = 1};
    scep_msg *msg = NULL;
    assert_int_equal(scep_msg_open(tu_ctx(0), der, len, NULL, &msg, NULL), SCEP_OK);
    assert_int_equal(scep_msg_decrypt(tu_ctx(0), msg, &dopts, NULL), SCEP_E_BAD_ALG);
    assert_int_equal(scep_err_fail_info(SCEP_E_BAD_ALG), SCEP_FAIL_BAD_ALG);
    /* Header fields survive a failed decrypt, so a server can answer FAILURE. */
    assert_string_equal(msg->transaction_id, c.tid);
    assert_null(msg->csr);
    scep_msg_free(msg);
    OPENSSL_free(der);
    /* And the encoder refuses DES without the switch. */
    assert_int_equal(scep_msg_encode(tu_ctx(0), &p, &der, &len), SCEP_E_BAD_ALG);
    client_free(&c);
}

/* Encodes a non-CSR request and returns the server's view. */
static scep_msg *roundtrip_query(client *c, scep_msg_type type, const X509_NAME *issuer,
                                 const X509_NAME *subject, const ASN1_INTEGER *serial)
{
    scep_msg_params p =
        request_params(c, type, tu_test_ca()->ca_cert, SCEP_CIPHER_AES128_CBC, SCEP_DIGEST_SHA256);
    p.csr = NULL;
    p.issuer = issuer;
    p.subject = subject;
    p.serial = serial;
    unsigned char *der = NULL;
    size_t len = 0;
    assert_int_equal(scep_msg_encode(tu_ctx(0), &p, &der, &len), SCEP_OK);
    scep_msg *msg = server_decode(tu_ctx(0), der, len);
    OPENSSL_free(der);
    assert_int_equal(msg->type, type);
    return msg;
}

static void test_renewal_req(void **state)
{
    (void)state;
    client c;
    client_init(&c, tu_ctx(0), tu_rsa_key(2048, 3), SCEP_DIGEST_SHA256);
    /* A renewal is signed by the certificate the CA issued before. */
    X509 *old = issue_for(c.csr);
    X509_free(c.signer);
    c.signer = old;
    scep_msg_params p = request_params(&c, SCEP_MSG_RENEWAL_REQ, tu_test_ca()->ca_cert,
                                       SCEP_CIPHER_AES256_CBC, SCEP_DIGEST_SHA512);
    unsigned char *der = NULL;
    size_t len = 0;
    assert_int_equal(scep_msg_encode(tu_ctx(0), &p, &der, &len), SCEP_OK);
    scep_msg *msg = server_decode(tu_ctx(0), der, len);
    assert_int_equal(msg->type, SCEP_MSG_RENEWAL_REQ);
    assert_int_equal(X509_cmp(msg->signer_cert, old), 0);
    assert_non_null(msg->csr);
    scep_msg_free(msg);
    OPENSSL_free(der);
    client_free(&c);
}

static void test_csr_key_from_signer(void **state)
{
    (void)state;
    client c;
    EVP_PKEY *key = tu_rsa_key(2048, 3);
    client_init(&c, tu_ctx(0), key, SCEP_DIGEST_SHA256);
    scep_msg_params p = request_params(&c, SCEP_MSG_PKCS_REQ, tu_test_ca()->ca_cert,
                                       SCEP_CIPHER_AES128_CBC, SCEP_DIGEST_SHA256);
    unsigned char *der = NULL;
    size_t len = 0;
    assert_int_equal(scep_msg_encode(tu_ctx(0), &p, &der, &len), SCEP_OK);
    /* Without the option the CSR carries its own decoded key, and csr_key is that key. */
    scep_msg *full = server_decode(tu_ctx(0), der, len);
    assert_ptr_equal(full->csr_key, X509_REQ_get0_pubkey(full->csr));
    assert_int_equal(EVP_PKEY_eq(full->csr_key, key), 1);
    /* With it, the signer's key object is shared and the CSR has none of its own. */
    scep_msg *shared = server_decode_with(tu_ctx(0), der, len, 1);
    assert_ptr_equal(shared->csr_key, X509_get0_pubkey(shared->signer_cert));
    assert_int_equal(EVP_PKEY_eq(shared->csr_key, key), 1);
    assert_null(X509_REQ_get0_pubkey(shared->csr));
    ERR_clear_error();
    scep_msg_free(full);
    scep_msg_free(shared);
    OPENSSL_free(der);

    /* A renewal to a new key: the signer's key is not the request's, so it is decoded. */
    EVP_PKEY *old_key = tu_rsa_key(2048, 4);
    X509 *old = tu_cert(old_key, "device-1", tu_test_ca()->ca_cert, tu_test_ca()->ca_key, 0,
                        KU_DIGITAL_SIGNATURE, 30);
    X509_free(c.signer);
    c.signer = old;
    p = request_params(&c, SCEP_MSG_RENEWAL_REQ, tu_test_ca()->ca_cert, SCEP_CIPHER_AES128_CBC,
                       SCEP_DIGEST_SHA256);
    p.signer_key = old_key;
    assert_int_equal(scep_msg_encode(tu_ctx(0), &p, &der, &len), SCEP_OK);
    scep_msg *renewal = server_decode_with(tu_ctx(0), der, len, 1);
    assert_ptr_not_equal(renewal->csr_key, X509_get0_pubkey(renewal->signer_cert));
    assert_int_equal(EVP_PKEY_eq(renewal->csr_key, key), 1);
    assert_int_not_equal(EVP_PKEY_eq(renewal->csr_key, old_key), 1);
    scep_msg_free(renewal);
    OPENSSL_free(der);
    client_free(&c);
}

/* The signer's DER as the server parsed it: the bytes the client sent, and the key behind it. */
static void check_opened_signer(scep_ctx *ctx, X509 *signer, EVP_PKEY *key, int expect_fast)
{
    client c;
    client_init(&c, ctx, key, SCEP_DIGEST_SHA256);
    X509_free(c.signer);
    c.signer = signer;
    scep_msg_params p = request_params(&c, SCEP_MSG_PKCS_REQ, tu_test_ca()->ca_cert,
                                       SCEP_CIPHER_AES128_CBC, SCEP_DIGEST_SHA256);
    unsigned char *der = NULL, *sent = NULL, *got = NULL;
    size_t len = 0;
    assert_int_equal(scep_msg_encode(ctx, &p, &der, &len), SCEP_OK);
    scep_msg *req = server_decode(ctx, der, len);
    int sent_len = i2d_X509(signer, &sent), got_len = i2d_X509(req->signer_cert, &got);
    assert_int_equal(sent_len, got_len);
    assert_memory_equal(sent, got, (size_t)sent_len);
    EVP_PKEY *opened = X509_get0_pubkey(req->signer_cert);
    assert_non_null(opened);
    assert_int_equal(EVP_PKEY_eq(opened, key), 1);
    /* The fast path reads the key with the RSAPublicKey codec: a key that no provider made. */
    if (expect_fast)
        assert_null(EVP_PKEY_get0_provider(opened));
    else
        assert_non_null(EVP_PKEY_get0_provider(opened));
    OPENSSL_free(sent);
    OPENSSL_free(got);
    OPENSSL_free(der);
    scep_msg_free(req);
    client_free(&c);
}

/* An RSA certificate whose SubjectPublicKeyInfo omits the NULL parameters: valid, but OpenSSL
 * encodes the key back with them, so the fast path must not keep it. */
static X509 *cert_without_rsa_params(EVP_PKEY *key)
{
    X509 *cert = tu_cert(key, "device-1", NULL, key, 0, KU_DIGITAL_SIGNATURE, 30);
    assert_int_equal(X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(cert),
                                            OBJ_nid2obj(NID_rsaEncryption), V_ASN1_UNDEF, NULL,
                                            NULL, 0),
                     1);
    assert_true(X509_sign(cert, key, EVP_sha256()) > 0);
    return cert;
}

static void test_signer_key_without_decoder(void **state)
{
    (void)state;
    EVP_PKEY *rsa = tu_rsa_key(2048, 5);
    X509 *plain = NULL;
    X509_NAME *subject = name_of("device-1");
    assert_int_equal(scep_selfsigned_signer(tu_ctx(0), rsa, subject, 1, SCEP_DIGEST_SHA256, &plain),
                     SCEP_OK);
    X509_NAME_free(subject);
    check_opened_signer(tu_ctx(0), plain, rsa, 1);

    /* Encodes differently once the key is attached: the ordinary path, same bytes and key. */
    check_opened_signer(tu_ctx(0), cert_without_rsa_params(rsa), rsa, 0);

    /* Another key type, and a private library context: the ordinary path. */
    EVP_PKEY *ec = tu_ec_key("P-256", 1);
    check_opened_signer(tu_ctx(0), tu_cert(ec, "device-1", NULL, ec, 0, KU_DIGITAL_SIGNATURE, 30),
                        ec, 0);
    check_opened_signer(tu_ctx(1), tu_cert(rsa, "device-1", NULL, rsa, 0, KU_DIGITAL_SIGNATURE, 30),
                        rsa, 0);
    ERR_clear_error();
}

static void test_cert_poll(void **state)
{
    (void)state;
    client c;
    client_init(&c, tu_ctx(0), tu_rsa_key(2048, 0), SCEP_DIGEST_SHA256);
    X509_NAME *subject = name_of("device-1");
    scep_msg *msg = roundtrip_query(&c, SCEP_MSG_CERT_POLL,
                                    X509_get_subject_name(tu_test_ca()->ca_cert), subject, NULL);
    assert_int_equal(X509_NAME_cmp(msg->issuer, X509_get_subject_name(tu_test_ca()->ca_cert)), 0);
    assert_int_equal(X509_NAME_cmp(msg->subject, subject), 0);
    assert_null(msg->csr);
    /* PENDING carries no envelope and decodes on the client. */
    const tu_ca *ca = tu_test_ca();
    scep_reply_params rp = {
        .status = SCEP_STATUS_PENDING, .signer_cert = ca->ca_cert, .signer_key = ca->ca_key};
    unsigned char *der = NULL;
    size_t len = 0;
    assert_int_equal(scep_reply_encode(tu_ctx(0), msg, &rp, &der, &len), SCEP_OK);
    /* An empty eContent, not an absent one: certmonger refuses the latter. */
    const unsigned char *cp = der;
    CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &cp, (long)len);
    ASN1_OCTET_STRING **content = CMS_get0_content(cms);
    assert_true(content != NULL && *content != NULL);
    assert_int_equal(ASN1_STRING_length(*content), 0);
    CMS_ContentInfo_free(cms);
    scep_msg *rep = NULL;
    assert_int_equal(client_decode(tu_ctx(0), &c, der, len, NULL, &rep), SCEP_OK);
    assert_int_equal(rep->status, SCEP_STATUS_PENDING);
    assert_null(rep->envelope);
    assert_int_equal(scep_reply_check(rep, c.tid, c.nonce, sizeof(c.nonce), NULL), SCEP_OK);
    scep_msg_free(rep);
    OPENSSL_free(der);
    X509_NAME_free(subject);
    scep_msg_free(msg);
    client_free(&c);
}

static void test_get_cert_and_failure(void **state)
{
    (void)state;
    client c;
    client_init(&c, tu_ctx(0), tu_rsa_key(2048, 0), SCEP_DIGEST_SHA256);
    ASN1_INTEGER *serial = ASN1_INTEGER_new();
    ASN1_INTEGER_set_uint64(serial, 0x1234567890ULL);
    scep_msg *msg = roundtrip_query(&c, SCEP_MSG_GET_CERT,
                                    X509_get_subject_name(tu_test_ca()->ca_cert), NULL, serial);
    assert_int_equal(ASN1_INTEGER_cmp(msg->serial, serial), 0);
    const tu_ca *ca = tu_test_ca();
    scep_reply_params rp = {.status = SCEP_STATUS_FAILURE,
                            .fail_info = SCEP_FAIL_BAD_CERT_ID,
                            .fail_info_text = "no certificate with that serial",
                            .signer_cert = ca->ra_cert,
                            .signer_key = ca->ra_key};
    unsigned char *der = NULL;
    size_t len = 0;
    assert_int_equal(scep_reply_encode(tu_ctx(0), msg, &rp, &der, &len), SCEP_OK);
    scep_msg *rep = NULL;
    /* Signed by the RA, which the CA issued: trusted through the CA. */
    assert_int_equal(client_decode(tu_ctx(0), &c, der, len, NULL, &rep), SCEP_OK);
    assert_int_equal(rep->status, SCEP_STATUS_FAILURE);
    assert_int_equal(rep->fail_info, SCEP_FAIL_BAD_CERT_ID);
    assert_string_equal(rep->fail_info_text, "no certificate with that serial");
    assert_null(rep->certs);
    scep_msg_free(rep);
    OPENSSL_free(der);
    ASN1_INTEGER_free(serial);
    scep_msg_free(msg);
    client_free(&c);
}

static void test_get_crl(void **state)
{
    (void)state;
    client c;
    client_init(&c, tu_ctx(0), tu_rsa_key(2048, 0), SCEP_DIGEST_SHA256);
    const tu_ca *ca = tu_test_ca();
    ASN1_INTEGER *serial = ASN1_INTEGER_dup(X509_get0_serialNumber(ca->ra_cert));
    scep_msg *msg =
        roundtrip_query(&c, SCEP_MSG_GET_CRL, X509_get_subject_name(ca->ca_cert), NULL, serial);
    X509_CRL *crl = X509_CRL_new();
    X509_CRL_set_version(crl, X509_CRL_VERSION_2);
    X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca->ca_cert));
    ASN1_TIME *now = X509_gmtime_adj(NULL, 0);
    X509_CRL_set1_lastUpdate(crl, now);
    assert_true(X509_CRL_sign(crl, ca->ca_key, EVP_sha256()) > 0);
    STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
    sk_X509_CRL_push(crls, crl);
    scep_reply_params rp = {.status = SCEP_STATUS_SUCCESS,
                            .crls = crls,
                            .signer_cert = ca->ca_cert,
                            .signer_key = ca->ca_key};
    unsigned char *der = NULL;
    size_t len = 0;
    assert_int_equal(scep_reply_encode(tu_ctx(0), msg, &rp, &der, &len), SCEP_OK);
    scep_msg *rep = NULL;
    assert_int_equal(client_decode(tu_ctx(0), &c, der, len, NULL, &rep), SCEP_OK);
    assert_int_equal(sk_X509_CRL_num(rep->crls), 1);
    assert_int_equal(X509_CRL_cmp(sk_X509_CRL_value(rep->crls, 0), crl), 0);
    assert_int_equal(sk_X509_num(rep->certs), 0);
    scep_msg_free(rep);
    OPENSSL_free(der);
    sk_X509_CRL_free(crls);
    X509_CRL_free(crl);
    ASN1_TIME_free(now);
    ASN1_INTEGER_free(serial);
    scep_msg_free(msg);
    client_free(&c);
}

static void test_reply_check_mismatch(void **state)
{
    (void)state;
    client c;
    client_init(&c, tu_ctx(0), tu_rsa_key(2048, 0), SCEP_DIGEST_SHA256);
    scep_msg_params p = request_params(&c, SCEP_MSG_PKCS_REQ, tu_test_ca()->ca_cert,
                                       SCEP_CIPHER_AES128_CBC, SCEP_DIGEST_SHA256);
    unsigned char *der = NULL;
    size_t len = 0;
    assert_int_equal(scep_msg_encode(tu_ctx(0), &p, &der, &len), SCEP_OK);
    scep_msg *req = server_decode(tu_ctx(0), der, len);
    OPENSSL_free(der);
    const tu_ca *ca = tu_test_ca();
    scep_reply_params rp = {
        .status = SCEP_STATUS_PENDING, .signer_cert = ca->ca_cert, .signer_key = ca->ca_key};
    assert_int_equal(scep_reply_encode(tu_ctx(0), req, &rp, &der, &len), SCEP_OK);
    scep_msg *rep = NULL;
    assert_int_equal(client_decode(tu_ctx(0), &c, der, len, NULL, &rep), SCEP_OK);
    unsigned char other[SCEP_NONCE_BYTES];
    memcpy(other, c.nonce, sizeof(other));
    other[3] ^= 1;
    assert_int_equal(scep_reply_check(rep, c.tid, other, sizeof(other), NULL),
                     SCEP_E_RECIPIENT_NONCE);
    assert_int_equal(scep_reply_check(rep, "OTHER", c.nonce, sizeof(c.nonce), NULL),
                     SCEP_E_TRANSACTION_ID);
    scep_msg_free(rep);
    /* A CertRep signed by a certificate the client does not trust. */
    EVP_PKEY *rogue_key = tu_rsa_key(2048, 5);
    X509 *rogue = tu_cert(rogue_key, "Test CA", NULL, NULL, 1, 0, 1);
    OPENSSL_free(der);
    rp.signer_cert = rogue;
    rp.signer_key = rogue_key;
    assert_int_equal(scep_reply_encode(tu_ctx(0), req, &rp, &der, &len), SCEP_OK);
    assert_int_equal(client_decode(tu_ctx(0), &c, der, len, NULL, &rep), SCEP_E_UNTRUSTED_SIGNER);
    OPENSSL_free(der);
    X509_free(rogue);
    scep_msg_free(req);
    client_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pkcsreq_every_cipher_and_digest),
        cmocka_unit_test(test_pkcsreq_ec_requester),
        cmocka_unit_test(test_pkcsreq_to_ra),
        cmocka_unit_test(test_legacy_des_md5),
        cmocka_unit_test(test_renewal_req),
        cmocka_unit_test(test_csr_key_from_signer),
        cmocka_unit_test(test_signer_key_without_decoder),
        cmocka_unit_test(test_cert_poll),
        cmocka_unit_test(test_get_cert_and_failure),
        cmocka_unit_test(test_get_crl),
        cmocka_unit_test(test_reply_check_mismatch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
