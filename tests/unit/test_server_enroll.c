/*
 * scepd's PKIOperation handling in process (enroll_handle on an in-memory store): requests as
 * real devices build them, and what the store holds afterwards.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/cms.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "ca/ca_create.h"
#include "policy/challenge.h"
#include "config/config.h"
#include "service/enroll.h"
#include "service/server.h"
#include "store/store.h"
#include "store/csr_at_rest.h"
#include "testutil.h"

typedef struct fixture {
    server srv;
    era now;
    store *st;
    const char *peer; /* the client address the HTTP layer would report, or NULL */
    X509 *own_ca;     /* a CA certificate of this fixture's own (freed with it), or NULL */
} fixture;

static void fixture_init(fixture *f, approve_mode mode, const char *challenge)
{
    memset(f, 0, sizeof(*f));
    config_defaults(&f->srv.cfg, NULL);
    f->srv.cfg.approve = mode;
    f->srv.cfg.renewal_window_pct = 0;
    snprintf(f->srv.cfg.challenge, sizeof(f->srv.cfg.challenge), "%s", challenge);
    f->srv.ctx = tu_ctx(0);
    const tu_ca *t = tu_test_ca();
    f->now.ca.cert = t->ca_cert; /* borrowed, never freed here */
    f->now.ca.key = t->ca_key;
    char err[256] = "";
    f->st = store_open(":memory:", err, sizeof(err));
    if (f->st == NULL)
        fail_msg("store_open: %s", err);
}

static void fixture_free(fixture *f)
{
    store_close(f->st);
    X509_free(f->own_ca);
}

/* A requester: the CSR's key, and the key and certificate that sign its messages. */
typedef struct device {
    EVP_PKEY *key;
    EVP_PKEY *signer_key;
    X509 *signer;
    X509_REQ *csr;
    char tid[80];
    scep_digest digest;
    scep_cipher cipher;
    unsigned char nonce[SCEP_MAX_NONCE_BYTES];
    size_t nonce_len;
    X509 *recipient;            /* the envelope's recipient; NULL: the fixture's CA */
    const X509_NAME *issuer;    /* GetCert, GetCRL; NULL: the fixture CA's subject */
    const ASN1_INTEGER *serial; /* GetCert, GetCRL */
    X509 *ca;                   /* the CA the device trusts; NULL: the test CA */
} device;

static X509_NAME *name_of(const char *text)
{
    X509_NAME *n = ca_parse_name(text);
    assert_non_null(n);
    return n;
}

static X509 *self_signed(EVP_PKEY *key, const char *subject, scep_digest digest)
{
    X509_NAME *name = name_of(subject);
    X509 *cert = NULL;
    assert_int_equal(scep_selfsigned_signer(tu_ctx(0), key, name, 1, digest, &cert), SCEP_OK);
    X509_NAME_free(name);
    return cert;
}

static void device_init(device *d, EVP_PKEY *key, const char *subject, const char *challenge)
{
    memset(d, 0, sizeof(*d));
    d->key = key;
    d->signer_key = key;
    d->digest = SCEP_DIGEST_SHA256;
    d->cipher = SCEP_CIPHER_AES128_CBC;
    d->nonce_len = SCEP_NONCE_BYTES;
    d->signer = self_signed(key, subject, d->digest);
    X509_NAME *name = name_of(subject);
    scep_csr_params cp = {.subject = name, .challenge_password = challenge};
    assert_int_equal(scep_csr_build(tu_ctx(0), key, &cp, &d->csr), SCEP_OK);
    X509_NAME_free(name);
    assert_int_equal(
        scep_transaction_id(tu_ctx(0), key, SCEP_DIGEST_SHA256, d->tid, sizeof(d->tid)), SCEP_OK);
}

static void use_signer(device *d, EVP_PKEY *key)
{
    X509_free(d->signer);
    d->signer_key = key;
    d->signer = self_signed(key, "CN=MDM SCEP SIGNER,C=US", d->digest);
}

/* As Apple's MDM client: a temporary RSA-2048 identity "CN=MDM SCEP SIGNER, C=US" signs,
 * 3DES + SHA-1, an 8-byte senderNonce. */
static void apple_device(device *d, const char *challenge)
{
    device_init(d, tu_rsa_key(2048, 1), "CN=iPhone-7,O=MDM", challenge);
    d->digest = SCEP_DIGEST_SHA1;
    use_signer(d, tu_rsa_key(2048, 2));
    d->cipher = SCEP_CIPHER_DES3_CBC;
    d->nonce_len = 8;
}

static void device_free(device *d)
{
    X509_free(d->signer);
    X509_REQ_free(d->csr);
}

/* Sends one message of d to the server; the answer is in *out (reply_free it). */
static void send_as(fixture *f, device *d, scep_msg_type type, reply *out)
{
    assert_int_equal(scep_nonce(d->nonce, d->nonce_len), SCEP_OK);
    scep_msg_params p = {.type = type,
                         .transaction_id = d->tid,
                         .sender_nonce = d->nonce,
                         .sender_nonce_len = d->nonce_len,
                         .csr = d->csr,
                         .issuer = d->issuer ? d->issuer : X509_get_subject_name(f->now.ca.cert),
                         .serial = d->serial,
                         .subject = X509_REQ_get_subject_name(d->csr),
                         .signer_cert = d->signer,
                         .signer_key = d->signer_key,
                         .digest = d->digest,
                         .recipient_cert = d->recipient ? d->recipient : f->now.ca.cert,
                         .cipher = d->cipher};
    unsigned char *der = NULL;
    size_t len = 0;
    assert_int_equal(scep_msg_encode(tu_ctx(0), &p, &der, &len), SCEP_OK);
    reply_init(out);
    out->peer = f->peer;
    enroll_handle(&f->srv, &f->now, f->st, der, len, out);
    OPENSSL_free(der);
}

/* The answer as d reads it: signed by the CA, for d's transaction and nonce, opened with the
 * signer's key (or the password). Caller frees with scep_msg_free(). */
static scep_msg *read_answer(device *d, const reply *out, const char *password)
{
    assert_int_equal(out->http_status, 200);
    STACK_OF(X509) *trusted = sk_X509_new_null();
    sk_X509_push(trusted, d->ca ? d->ca : tu_test_ca()->ca_cert);
    scep_open_options oo = {.trusted_signers = trusted};
    scep_recipient me = {d->signer, d->signer_key};
    scep_decrypt_options dopts = {.recipients = &me, .n_recipients = 1, .password = password};
    scep_msg *rep = NULL;
    scep_diag diag = {{0}};
    scep_err e = scep_msg_decode(tu_ctx(0), out->body, out->body_len, &oo, &dopts, &rep, &diag);
    sk_X509_free(trusted);
    if (e != SCEP_OK)
        fail_msg("the device cannot read the answer: %s (%s)", scep_strerror(e), diag.text);
    assert_int_equal(scep_reply_check(rep, d->tid, d->nonce, d->nonce_len, NULL), SCEP_OK);
    return rep;
}

/* Sends and expects this status; for SUCCESS, a certificate for d's CSR key. */
static void expect(fixture *f, device *d, scep_msg_type type, scep_pki_status status, int fail_info)
{
    reply out;
    send_as(f, d, type, &out);
    if (out.http_status != 200)
        fail_msg("HTTP %d: %s", out.http_status, out.detail);
    scep_msg *rep = read_answer(d, &out, NULL);
    if (rep->status != status)
        fail_msg("%s, expected %s: %s", scep_pki_status_name(rep->status),
                 scep_pki_status_name(status), rep->fail_info_text);
    if (status == SCEP_STATUS_FAILURE)
        assert_int_equal(rep->fail_info, fail_info);
    if (status == SCEP_STATUS_SUCCESS)
        assert_non_null(scep_certs_find_leaf(rep->certs, d->key));
    scep_msg_free(rep);
    reply_free(&out);
}

static int count_cert(void *arg, const store_cert *c)
{
    (void)c;
    (*(int *)arg)++;
    return 0;
}

static int count_request(void *arg, const store_request *r)
{
    (void)r;
    (*(int *)arg)++;
    return 0;
}

/* Issued certificates (not CA generations) and requests in the store. */
static void expect_stored(fixture *f, int certs, int requests)
{
    int n = 0, m = 0;
    cert_filter all = {0};
    assert_int_equal(f->st->ops->cert_list(f->st, &all, count_cert, &n), STORE_OK);
    assert_int_equal(f->st->ops->request_list(f->st, 0, count_request, &m), STORE_OK);
    assert_int_equal(n, certs);
    assert_int_equal(m, requests);
}

/* What `scepd approve` does: issue from the stored CSR and mark the request ISSUED. */
static void approve(fixture *f, const char *tid)
{
    store_request r = {0};
    assert_int_equal(f->st->ops->request_get(f->st, tid, &r), STORE_OK);
    assert_int_equal(r.state, REQUEST_PENDING);
    const unsigned char *p = r.csr_der;
    X509_REQ *csr = d2i_X509_REQ(NULL, &p, (long)r.csr_len);
    char err[160];
    X509 *cert = ca_issue(&f->now.ca, csr, &f->srv.cfg, err, sizeof(err));
    assert_non_null(cert);
    store_cert rec;
    ca_fill_record(cert, r.key_id, r.transaction_id, &rec);
    unsigned char *der = NULL;
    rec.der_len = (size_t)i2d_X509(cert, &der);
    rec.der = der;
    assert_int_equal(f->st->ops->cert_issue(f->st, &rec, r.id, REQUEST_PENDING), STORE_OK);
    OPENSSL_free(der);
    X509_free(cert);
    X509_REQ_free(csr);
    store_request_clear(&r);
}

static void test_apple_mdm_manual_approval(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, APPROVE_MANUAL, "");
    device d;
    apple_device(&d, NULL);
    reply out;
    send_as(&f, &d, SCEP_MSG_PKCS_REQ, &out);
    scep_msg *rep = read_answer(&d, &out, NULL);
    assert_int_equal(rep->status, SCEP_STATUS_PENDING);
    assert_int_equal(rep->recipient_nonce_len, 8);
    assert_non_null(strstr(out.detail, "signer_key_must_match"));
    scep_msg_free(rep);
    reply_free(&out);
    expect(&f, &d, SCEP_MSG_CERT_POLL, SCEP_STATUS_PENDING, 0);
    approve(&f, d.tid);
    /* The resend and a poll both get the certificate, encrypted to the temporary signer. */
    send_as(&f, &d, SCEP_MSG_PKCS_REQ, &out);
    rep = read_answer(&d, &out, NULL);
    assert_int_equal(rep->status, SCEP_STATUS_SUCCESS);
    assert_int_equal(rep->cipher, SCEP_CIPHER_DES3_CBC);
    assert_int_equal(rep->digest, SCEP_DIGEST_SHA1);
    assert_non_null(scep_certs_find_leaf(rep->certs, d.key));
    scep_msg_free(rep);
    reply_free(&out);
    expect(&f, &d, SCEP_MSG_CERT_POLL, SCEP_STATUS_SUCCESS, 0);
    expect_stored(&f, 1, 1);
    /* Another temporary identity may neither poll nor resend this transaction. */
    use_signer(&d, tu_rsa_key(2048, 3));
    expect(&f, &d, SCEP_MSG_CERT_POLL, SCEP_STATUS_FAILURE, SCEP_FAIL_BAD_REQUEST);
    expect(&f, &d, SCEP_MSG_PKCS_REQ, SCEP_STATUS_FAILURE, SCEP_FAIL_BAD_MESSAGE_CHECK);
    device_free(&d);
    fixture_free(&f);
}

/* Approved (not yet issued) by the operator: the device's poll makes the server issue. */
static void test_apple_mdm_poll_issues(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, APPROVE_MANUAL, "");
    device d;
    apple_device(&d, NULL);
    expect(&f, &d, SCEP_MSG_PKCS_REQ, SCEP_STATUS_PENDING, 0);
    store_request r = {0};
    assert_int_equal(f.st->ops->request_get(f.st, d.tid, &r), STORE_OK);
    assert_int_equal(
        f.st->ops->request_transition(f.st, r.id, REQUEST_PENDING, REQUEST_APPROVED, NULL),
        STORE_OK);
    store_request_clear(&r);
    expect(&f, &d, SCEP_MSG_CERT_POLL, SCEP_STATUS_SUCCESS, 0);
    expect_stored(&f, 1, 1);
    device_free(&d);
    fixture_free(&f);
}

/* The stored CSR keeps no challenge; resends are known by the hash of the CSR as sent, and an
 * EC requester's SUCCESS at its poll (which carries no challenge) goes by key agreement. */
static void test_challenge_not_stored(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, APPROVE_MANUAL, "s3cret");
    device d;
    device_init(&d, tu_ec_key("P-256", 0), "CN=ec-device,O=UX", "s3cret");
    expect(&f, &d, SCEP_MSG_PKCS_REQ, SCEP_STATUS_PENDING, 0);
    store_request r = {0};
    assert_int_equal(f.st->ops->request_get(f.st, d.tid, &r), STORE_OK);
    const unsigned char *p = r.csr_der;
    X509_REQ *kept = d2i_X509_REQ(NULL, &p, (long)r.csr_len);
    assert_non_null(kept);
    assert_int_equal(X509_REQ_get_attr_by_NID(kept, NID_pkcs9_challengePassword, -1), -1);
    assert_int_equal(EVP_PKEY_eq(X509_REQ_get0_pubkey(kept), d.key), 1);
    X509_REQ_free(kept);
    unsigned char *der = NULL;
    int n = i2d_X509_REQ(d.csr, &der);
    char hash[STORE_KEY_ID];
    store_sha256_hex(der, (size_t)n, hash);
    OPENSSL_free(der);
    assert_string_equal(r.csr_hash, hash);
    store_request_clear(&r);
    /* The same request again waits with its transaction; another one under its ID does not. */
    expect(&f, &d, SCEP_MSG_PKCS_REQ, SCEP_STATUS_PENDING, 0);
    device other;
    device_init(&other, d.key, "CN=ec-device,O=Other", "s3cret");
    expect(&f, &other, SCEP_MSG_PKCS_REQ, SCEP_STATUS_FAILURE, SCEP_FAIL_BAD_REQUEST);
    device_free(&other);
    expect_stored(&f, 0, 1);
    approve(&f, d.tid); /* from the CSR without its challenge */
    expect(&f, &d, SCEP_MSG_CERT_POLL, SCEP_STATUS_SUCCESS, 0); /* read without the password */
    reply out;
    send_as(&f, &d, SCEP_MSG_PKCS_REQ, &out); /* a resend carries it: password-based again */
    scep_msg *rep = read_answer(&d, &out, "s3cret");
    assert_int_equal(rep->status, SCEP_STATUS_SUCCESS);
    scep_msg_free(rep);
    reply_free(&out);
    expect_stored(&f, 1, 1);
    device_free(&d);
    fixture_free(&f);
}

static void test_apple_mdm_with_challenge(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, APPROVE_AUTO, "s3cret");
    device d;
    apple_device(&d, "s3cret");
    expect(&f, &d, SCEP_MSG_PKCS_REQ, SCEP_STATUS_SUCCESS, 0);
    expect(&f, &d, SCEP_MSG_CERT_POLL, SCEP_STATUS_SUCCESS, 0);
    device_free(&d);
    /* Not authorised: no challenge under automatic approval. Nothing is stored. */
    apple_device(&d, NULL);
    snprintf(d.tid, sizeof(d.tid), "apple-no-challenge");
    expect(&f, &d, SCEP_MSG_PKCS_REQ, SCEP_STATUS_FAILURE, SCEP_FAIL_BAD_REQUEST);
    expect_stored(&f, 1, 1);
    device_free(&d);
    fixture_free(&f);
}

static void test_signer_key_must_match(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, APPROVE_AUTO, "s3cret");
    char err[160];
    assert_int_equal(config_set(&f.srv.cfg, "signer_key_must_match", "yes", err, sizeof(err)), 0);
    device d;
    apple_device(&d, "s3cret");
    reply out;
    send_as(&f, &d, SCEP_MSG_PKCS_REQ, &out);
    scep_msg *rep = read_answer(&d, &out, NULL);
    assert_int_equal(rep->status, SCEP_STATUS_FAILURE);
    assert_int_equal(rep->fail_info, SCEP_FAIL_BAD_MESSAGE_CHECK);
    assert_non_null(strstr(rep->fail_info_text, "signer_key_must_match"));
    scep_msg_free(rep);
    reply_free(&out);
    expect_stored(&f, 0, 0);
    device_free(&d);
    fixture_free(&f);
}

/* The envelope of a SUCCESS: which kind of RecipientInfo it holds. */
static int recipient_type(const scep_msg *rep)
{
    const unsigned char *p = rep->envelope;
    CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &p, (long)rep->envelope_len);
    assert_non_null(cms);
    STACK_OF(CMS_RecipientInfo) *ris = CMS_get0_RecipientInfos(cms);
    assert_int_equal(sk_CMS_RecipientInfo_num(ris), 1);
    int type = CMS_RecipientInfo_type(sk_CMS_RecipientInfo_value(ris, 0));
    CMS_ContentInfo_free(cms);
    return type;
}

/* An EC requester renewing without a challenge: key agreement to its certificate. */
static void test_ec_renewal_key_agreement(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, APPROVE_AUTO, "s3cret");
    device d;
    device_init(&d, tu_ec_key("P-256", 0), "CN=ec-device", "s3cret");
    reply out;
    send_as(&f, &d, SCEP_MSG_PKCS_REQ, &out);
    scep_msg *rep = read_answer(&d, &out, "s3cret");
    assert_int_equal(rep->status, SCEP_STATUS_SUCCESS);
    assert_int_equal(recipient_type(rep), CMS_RECIPINFO_PASS); /* RFC 8894 section 3.1 */
    X509 *issued = X509_dup(scep_certs_find_leaf(rep->certs, d.key));
    scep_msg_free(rep);
    reply_free(&out);

    device renew;
    device_init(&renew, tu_ec_key("P-256", 1), "CN=ec-device", NULL);
    X509_free(renew.signer);
    renew.signer = issued;
    renew.signer_key = d.key;
    send_as(&f, &renew, SCEP_MSG_RENEWAL_REQ, &out);
    if (out.http_status != 200)
        fail_msg("renewal: HTTP %d: %s", out.http_status, out.detail);
    rep = read_answer(&renew, &out, NULL);
    assert_int_equal(rep->status, SCEP_STATUS_SUCCESS);
    assert_int_equal(recipient_type(rep), CMS_RECIPINFO_AGREE);
    assert_non_null(scep_certs_find_leaf(rep->certs, renew.key));
    scep_msg_free(rep);
    reply_free(&out);
    expect_stored(&f, 2, 2);
    device_free(&renew);
    device_free(&d);
    fixture_free(&f);
}

/* A DSA key: it signs, but takes neither key transport nor key agreement. */
static const char dsa_key_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIICXAIBADCCAjUGByqGSM44BAEwggIoAoIBAQDZxyUcRSxkDT6ELoyTMAfOkSkb\n"
    "6utxYt/+Jh+5vptjReatwmuBF8VCCnW/XreWgB/NH6QMUr3xqZVZKmJCu7+qVMfe\n"
    "wm+BrEVRF9n2n65loSi8WqdbPeHgVhVDTNUKhy5C5YqJJ7Mvchuug0+RkI3mKsx/\n"
    "1k2YU7oUpXz+Mq3yzoXLdmOxMrkTDwYG5M4/T+NJjfnwNCG15k2opdp/AQyNN4WI\n"
    "3tojDu4SZ1RtAoMBbDSbQsddJMNVheTVZwIaRWK7STlBGRaJneI9DcBwenjfsCTd\n"
    "g24Rr/9UjWfu0BcFYsmhyZszbIb/2bxxvIUvRVP0PwpT9NTBrpk1m//KcjRlAh0A\n"
    "r+ecM1U7GiXWwb+WRJOPoo/HJA/W1+RwZr7gOQKCAQBFcISANANktlYlB8UFr4T2\n"
    "lYNEIVYXsf49QPMloXnRXZA2zbZXq7NzTFu4d2U4KJtaHK1I+8UROGDfnYu+Gwn9\n"
    "CqzenPbkF+rSoy37Lky0NlAr3nQURVjWQlONiZ6VjtwDEE6JaOm4y/MN4V8n+N+d\n"
    "sne9QoixJMEr9hb+nRwDM0qeV29wrWcuyHHH1QbCZHR1iu7Lzu5XivJyb9DsOD6R\n"
    "qTrkzRnW9Cq3IXHTy6Hho7Xmv4PyjBRLaD0TbWbms3botFERNR19PiBPrzcSGQam\n"
    "p2JMfzbQhjvb0Mi5FMFwZVlXNP7x2hkrdepodfUlCs4Skp4w0FP3HEROXtUaQXOR\n"
    "BB4CHBUVCkGX7I5mGY71bDhJTYTrAn/x2TMDT3KHAdg=\n"
    "-----END PRIVATE KEY-----\n";

/* A separate signer whose key the reply cannot be encrypted to, and no challenge: refused
 * before anything is stored, not left PENDING for an operator to approve in vain. */
static void test_undeliverable_signer(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, APPROVE_MANUAL, "");
    device d;
    apple_device(&d, NULL);
    BIO *bio = BIO_new_mem_buf(dsa_key_pem, -1);
    EVP_PKEY *dsa = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    assert_non_null(dsa);
    d.digest = SCEP_DIGEST_SHA256;
    use_signer(&d, dsa);
    reply out;
    send_as(&f, &d, SCEP_MSG_PKCS_REQ, &out);
    if (out.http_status != 200)
        fail_msg("HTTP %d: %s", out.http_status, out.detail);
    /* The device could not open a SUCCESS; a FAILURE carries no envelope, so it reads this. */
    scep_msg *rep = read_answer(&d, &out, NULL);
    assert_int_equal(rep->status, SCEP_STATUS_FAILURE);
    assert_int_equal(rep->fail_info, SCEP_FAIL_BAD_ALG);
    assert_non_null(strstr(rep->fail_info_text, "DSA"));
    scep_msg_free(rep);
    reply_free(&out);
    expect_stored(&f, 0, 0);
    device_free(&d);
    /* With a challenge it would be answered at once, but a request that waits is answered at
     * its poll, which carries none: refused too. */
    snprintf(f.srv.cfg.challenge, sizeof(f.srv.cfg.challenge), "s3cret");
    apple_device(&d, "s3cret");
    d.digest = SCEP_DIGEST_SHA256;
    use_signer(&d, dsa);
    send_as(&f, &d, SCEP_MSG_PKCS_REQ, &out);
    rep = read_answer(&d, &out, NULL);
    assert_int_equal(rep->status, SCEP_STATUS_FAILURE);
    assert_int_equal(rep->fail_info, SCEP_FAIL_BAD_ALG);
    assert_non_null(strstr(rep->fail_info_text, "to a poll"));
    scep_msg_free(rep);
    reply_free(&out);
    expect_stored(&f, 0, 0);
    device_free(&d);
    EVP_PKEY_free(dsa);
    fixture_free(&f);
}

/* The CertRep cannot be signed (the reply key is not the reply certificate's): no certificate
 * may be left in the store, and each retry mints none. */
static void test_failed_reply_stores_nothing(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, APPROVE_AUTO, "s3cret");
    f.now.ca.ra_cert = tu_test_ca()->ra_cert;
    f.now.ca.ra_key = tu_rsa_key(2048, 4);
    device d;
    device_init(&d, tu_rsa_key(2048, 5), "CN=unlucky", "s3cret");
    for (int i = 0; i < 2; i++) {
        reply out;
        send_as(&f, &d, SCEP_MSG_PKCS_REQ, &out);
        assert_int_not_equal(out.http_status, 200);
        reply_free(&out);
    }
    expect_stored(&f, 0, 0);
    device_free(&d);
    fixture_free(&f);
}

/* The failInfoText of a FAILURE d gets for this message. */
static void expect_refusal(fixture *f, device *d, const char *text)
{
    reply out;
    send_as(f, d, SCEP_MSG_PKCS_REQ, &out);
    scep_msg *rep = read_answer(d, &out, NULL);
    assert_int_equal(rep->status, SCEP_STATUS_FAILURE);
    assert_int_equal(rep->fail_info, SCEP_FAIL_BAD_REQUEST);
    if (strstr(rep->fail_info_text, text) == NULL)
        fail_msg("failInfoText '%s', expected '%s'", rep->fail_info_text, text);
    scep_msg_free(rep);
    reply_free(&out);
}

/* 20 wrong challenges from one address lock it out: the right one is refused in a signed
 * FAILURE; another address still enrolls. */
static void test_wrong_challenges_lock_the_address(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, APPROVE_AUTO, "s3cret");
    f.peer = "192.0.2.10";
    device d;
    char subject[32];
    for (int i = 0; i < 20; i++) {
        snprintf(subject, sizeof(subject), "CN=guess-%d", i);
        device_init(&d, tu_rsa_key(2048, 6), subject, "wrong");
        expect_refusal(&f, &d, "wrong or missing challenge password");
        device_free(&d);
    }
    device_init(&d, tu_rsa_key(2048, 7), "CN=right", "s3cret");
    expect_refusal(&f, &d, "too many failed attempts, retry after ");
    expect_stored(&f, 0, 0);
    f.peer = "192.0.2.11";
    expect(&f, &d, SCEP_MSG_PKCS_REQ, SCEP_STATUS_SUCCESS, 0);
    device_free(&d);
    fixture_free(&f);
}

/* A missing challenge guesses nothing: never counted. */
static void test_missing_challenge_not_counted(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, APPROVE_AUTO, "s3cret");
    f.peer = "192.0.2.12";
    device d;
    device_init(&d, tu_rsa_key(2048, 6), "CN=forgetful", NULL);
    for (int i = 0; i < 25; i++)
        expect_refusal(&f, &d, "wrong or missing challenge password");
    device_free(&d);
    device_init(&d, tu_rsa_key(2048, 7), "CN=forgetful", "s3cret");
    expect(&f, &d, SCEP_MSG_PKCS_REQ, SCEP_STATUS_SUCCESS, 0);
    device_free(&d);
    fixture_free(&f);
}

/* Wrong challenges for one subject from several addresses lock that subject; its one-time
 * challenge is refused meanwhile but not spent. */
static void test_wrong_challenges_lock_the_subject(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, APPROVE_AUTO, "");
    f.srv.cfg.max_subject_failures = 3;
    char otc[64], err[256];
    assert_int_equal(challenge_mint(f.st, 600, "^CN=dev-7,", otc, sizeof(otc), err, sizeof(err)),
                     0);
    static const char *const peers[] = {"192.0.2.20", "192.0.2.21", "2001:db8::1"};
    device d;
    for (int i = 0; i < 3; i++) {
        f.peer = peers[i];
        device_init(&d, tu_rsa_key(2048, 6), "CN=dev-7,O=Example", "wrong");
        expect_refusal(&f, &d, "wrong or missing challenge password");
        device_free(&d);
    }
    f.peer = "192.0.2.22";
    device_init(&d, tu_rsa_key(2048, 7), "CN=Dev-7,O=Elsewhere", otc);
    expect_refusal(&f, &d, "too many failed attempts");
    device_free(&d);
    device_init(&d, tu_rsa_key(2048, 7), "CN=dev-7,O=Example", otc);
    expect_refusal(&f, &d, "too many failed attempts");
    int cleared = 0;
    assert_int_equal(f.st->ops->failure_clear(f.st, "cn=dev-7", &cleared), STORE_OK);
    assert_int_equal(cleared, 1);
    expect(&f, &d, SCEP_MSG_PKCS_REQ, SCEP_STATUS_SUCCESS, 0);
    device_free(&d);
    fixture_free(&f);
}

/*
 * Every FAILURE the service answers, one row each: the scene (configuration, what the store
 * holds, earlier messages), the message sent, and the failInfo and failInfoText that must come
 * back, signed by the CA and readable by the requester.
 */
typedef struct failure_case {
    const char *name;
    void (*scene)(fixture *f, device *d);
    scep_msg_type type;
    int fail_info;
    const char *text; /* a part of the failInfoText */
} failure_case;

/* What d's CSR gets when it enrolls now; the caller frees it. */
static X509 *enrolled(fixture *f, device *d)
{
    reply out;
    send_as(f, d, SCEP_MSG_PKCS_REQ, &out);
    scep_msg *rep = read_answer(d, &out, NULL);
    assert_int_equal(rep->status, SCEP_STATUS_SUCCESS);
    X509 *cert = scep_certs_find_leaf(rep->certs, d->key);
    assert_non_null(cert);
    X509_up_ref(cert);
    scep_msg_free(rep);
    reply_free(&out);
    return cert;
}

/* d renews cert: its messages are signed by cert, with a new CSR of key for subject. */
static void renew_with(device *d, X509 *cert, EVP_PKEY *key, const char *subject)
{
    X509_free(d->signer);
    X509_REQ_free(d->csr);
    d->signer = cert;
    d->signer_key = d->key;
    d->key = key;
    X509_NAME *name = name_of(subject);
    scep_csr_params cp = {.subject = name};
    assert_int_equal(scep_csr_build(tu_ctx(0), key, &cp, &d->csr), SCEP_OK);
    X509_NAME_free(name);
}

/* Another device: its own key (index) and subject, d's transactionID. */
static void same_tid(device *other, const device *d, EVP_PKEY *key, const char *subject)
{
    device_init(other, key, subject, "s3cret");
    snprintf(other->tid, sizeof(other->tid), "%s", d->tid);
}

static void scene_as_is(fixture *f, device *d)
{
    (void)f;
    (void)d;
}

static void scene_foreign_signer(fixture *f, device *d)
{
    (void)f;
    X509 *cert = X509_new();
    X509_NAME *issuer = name_of("CN=Other CA");
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 7);
    X509_set_issuer_name(cert, issuer);
    X509_set_subject_name(cert, X509_REQ_get_subject_name(d->csr));
    X509_gmtime_adj(X509_getm_notBefore(cert), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
    X509_set_pubkey(cert, d->key);
    assert_true(X509_sign(cert, tu_rsa_key(2048, 0), EVP_sha256()) > 0);
    X509_NAME_free(issuer);
    renew_with(d, cert, tu_rsa_key(2048, 2), "CN=case");
}

static void scene_renewal_unknown_cert(fixture *f, device *d)
{
    char why[160];
    X509 *issued = ca_issue(&f->now.ca, d->csr, &f->srv.cfg, why, sizeof(why));
    assert_non_null(issued);
    X509 *cert = X509_dup(issued); /* as the device holds it: decoded, its key too */
    X509_free(issued);
    renew_with(d, cert, tu_rsa_key(2048, 2), "CN=case");
}

static void scene_renewal_too_early(fixture *f, device *d)
{
    X509 *cert = enrolled(f, d);
    f->srv.cfg.renewal_window_pct = 50;
    f->srv.cfg.renewal_window_days = 0;
    renew_with(d, cert, tu_rsa_key(2048, 2), "CN=case");
}

static void scene_renewal_revoked(fixture *f, device *d)
{
    X509 *cert = enrolled(f, d);
    char serial[STORE_HEX_SERIAL];
    ca_serial_hex(cert, serial, sizeof(serial));
    assert_int_equal(f->st->ops->cert_set_state(f->st, serial, CERT_REVOKED, 1, 0), STORE_OK);
    renew_with(d, cert, tu_rsa_key(2048, 2), "CN=case");
}

static void scene_renewal_new_subject(fixture *f, device *d)
{
    f->srv.cfg.renewal_same_subject = 1;
    renew_with(d, enrolled(f, d), tu_rsa_key(2048, 2), "CN=another");
}

static void scene_renewal_same_key(fixture *f, device *d)
{
    f->srv.cfg.renewal_new_key = 1;
    renew_with(d, enrolled(f, d), d->key, "CN=case");
}

static void scene_separate_signer(fixture *f, device *d)
{
    f->srv.cfg.signer_key_must_match = 1;
    use_signer(d, tu_rsa_key(2048, 2));
}

static void scene_short_rsa(fixture *f, device *d)
{
    (void)d;
    f->srv.cfg.min_rsa_bits = 3072;
}

static void scene_ec_refused(fixture *f, device *d)
{
    f->srv.cfg.allow_ec = 0;
    device_free(d);
    device_init(d, tu_ec_key("P-256", 1), "CN=case", "s3cret");
}

static EVP_PKEY *p224_key;

static void scene_ec_small(fixture *f, device *d)
{
    f->srv.cfg.allow_ec = 1;
    if (p224_key == NULL)
        p224_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-224");
    device_free(d);
    device_init(d, p224_key, "CN=case", "s3cret");
}

static void scene_empty_subject(fixture *f, device *d)
{
    (void)f;
    X509_REQ_free(d->csr);
    X509_NAME *empty = X509_NAME_new();
    scep_csr_params cp = {.subject = empty, .challenge_password = "s3cret"};
    assert_int_equal(scep_csr_build(tu_ctx(0), d->key, &cp, &d->csr), SCEP_OK);
    X509_NAME_free(empty);
}

static void scene_overlapping(fixture *f, device *d)
{
    f->srv.cfg.unique_subject = 1;
    device first;
    device_init(&first, tu_rsa_key(2048, 2), "CN=case", "s3cret");
    expect(f, &first, SCEP_MSG_PKCS_REQ, SCEP_STATUS_SUCCESS, 0);
    device_free(&first);
    (void)d;
}

static void with_challenge(device *d, const char *challenge)
{
    EVP_PKEY *key = d->key;
    device_free(d);
    device_init(d, key, "CN=case", challenge);
}

static void scene_wrong_challenge(fixture *f, device *d)
{
    (void)f;
    with_challenge(d, "wrong");
}

static void scene_no_challenge(fixture *f, device *d)
{
    (void)f;
    with_challenge(d, NULL);
}

static void scene_locked_out(fixture *f, device *d)
{
    f->peer = "192.0.2.20";
    device guess;
    for (int i = 0; i < f->srv.cfg.max_failures; i++) {
        device_init(&guess, tu_rsa_key(2048, 2), i % 2 ? "CN=guess-a" : "CN=guess-b", "wrong");
        expect(f, &guess, SCEP_MSG_PKCS_REQ, SCEP_STATUS_FAILURE, SCEP_FAIL_BAD_REQUEST);
        device_free(&guess);
    }
    (void)d;
}

static void scene_tid_other_key(fixture *f, device *d)
{
    device first;
    same_tid(&first, d, tu_rsa_key(2048, 2), "CN=first");
    expect(f, &first, SCEP_MSG_PKCS_REQ, SCEP_STATUS_SUCCESS, 0);
    device_free(&first);
}

static void scene_tid_pending(fixture *f, device *d)
{
    f->srv.cfg.approve = APPROVE_MANUAL;
    device first;
    same_tid(&first, d, d->key, "CN=first");
    expect(f, &first, SCEP_MSG_PKCS_REQ, SCEP_STATUS_PENDING, 0);
    device_free(&first);
}

static void scene_other_signer(fixture *f, device *d)
{
    f->srv.cfg.approve = APPROVE_MANUAL;
    use_signer(d, tu_rsa_key(2048, 2));
    expect(f, d, SCEP_MSG_PKCS_REQ, SCEP_STATUS_PENDING, 0);
    use_signer(d, tu_rsa_key(2048, 3));
}

static void scene_rejected(fixture *f, device *d)
{
    f->srv.cfg.approve = APPROVE_MANUAL;
    expect(f, d, SCEP_MSG_PKCS_REQ, SCEP_STATUS_PENDING, 0);
    store_request r = {0};
    assert_int_equal(f->st->ops->request_get(f->st, d->tid, &r), STORE_OK);
    assert_int_equal(f->st->ops->request_transition(f->st, r.id, REQUEST_PENDING, REQUEST_REJECTED,
                                                    "not this device"),
                     STORE_OK);
    store_request_clear(&r);
}

static void scene_poll_other_key(fixture *f, device *d)
{
    f->srv.cfg.approve = APPROVE_MANUAL;
    device first;
    same_tid(&first, d, tu_rsa_key(2048, 2), "CN=first");
    expect(f, &first, SCEP_MSG_PKCS_REQ, SCEP_STATUS_PENDING, 0);
    device_free(&first);
}

static ASN1_INTEGER *unknown_serial;

static void scene_unknown_serial(fixture *f, device *d)
{
    (void)f;
    if (unknown_serial == NULL) {
        unknown_serial = ASN1_INTEGER_new();
        ASN1_INTEGER_set_uint64(unknown_serial, 0x5eed0bad1dULL);
    }
    d->serial = unknown_serial;
}

static X509_NAME *other_issuer;

static void scene_unknown_issuer(fixture *f, device *d)
{
    scene_unknown_serial(f, d);
    if (other_issuer == NULL)
        other_issuer = name_of("CN=Other CA");
    d->issuer = other_issuer;
}

static void scene_expired_ca(fixture *f, device *d)
{
    EVP_PKEY *key = tu_rsa_key(2048, 7);
    X509 *ca = self_signed(key, "CN=Expired CA", SCEP_DIGEST_SHA256);
    X509_gmtime_adj(X509_getm_notBefore(ca), -7200);
    X509_gmtime_adj(X509_getm_notAfter(ca), -3600);
    assert_true(X509_sign(ca, key, EVP_sha256()) > 0);
    f->own_ca = ca;
    f->now.ca.cert = ca;
    d->ca = ca;
}

static void scene_wrong_recipient(fixture *f, device *d)
{
    (void)f;
    d->recipient = tu_test_ca()->ra_cert;
}

static const failure_case failure_cases[] = {
    {"RenewalReq self-signed", scene_as_is, SCEP_MSG_RENEWAL_REQ, SCEP_FAIL_BAD_REQUEST,
     "a RenewalReq must be signed by the certificate it renews"},
    {"signer from another CA", scene_foreign_signer, SCEP_MSG_RENEWAL_REQ,
     SCEP_FAIL_BAD_MESSAGE_CHECK, "the signer certificate was not issued by this CA"},
    {"renewal of a certificate not in the records", scene_renewal_unknown_cert,
     SCEP_MSG_RENEWAL_REQ, SCEP_FAIL_BAD_CERT_ID, "not in this CA's records"},
    {"renewal outside the window", scene_renewal_too_early, SCEP_MSG_RENEWAL_REQ,
     SCEP_FAIL_BAD_REQUEST, "too early to renew: the renewal window opens at "},
    {"renewal of a revoked certificate", scene_renewal_revoked, SCEP_MSG_RENEWAL_REQ,
     SCEP_FAIL_BAD_REQUEST, "the certificate to renew is revoked"},
    {"renewal with another subject", scene_renewal_new_subject, SCEP_MSG_RENEWAL_REQ,
     SCEP_FAIL_BAD_REQUEST, "a renewal must keep the certificate's subject"},
    {"renewal with the same key", scene_renewal_same_key, SCEP_MSG_RENEWAL_REQ,
     SCEP_FAIL_BAD_REQUEST, "a renewal must use a new key"},
    {"self-signed signer with another key", scene_separate_signer, SCEP_MSG_PKCS_REQ,
     SCEP_FAIL_BAD_MESSAGE_CHECK, "signer_key_must_match"},
    {"RSA key below the minimum", scene_short_rsa, SCEP_MSG_PKCS_REQ, SCEP_FAIL_BAD_ALG,
     "RSA key shorter than the minimum"},
    {"EC key refused", scene_ec_refused, SCEP_MSG_PKCS_REQ, SCEP_FAIL_BAD_ALG,
     "EC keys are not accepted"},
    {"EC key below P-256", scene_ec_small, SCEP_MSG_PKCS_REQ, SCEP_FAIL_BAD_ALG,
     "EC key below P-256"},
    {"empty subject", scene_empty_subject, SCEP_MSG_PKCS_REQ, SCEP_FAIL_BAD_REQUEST,
     "the request has an empty subject"},
    {"overlapping subject", scene_overlapping, SCEP_MSG_PKCS_REQ, SCEP_FAIL_BAD_REQUEST,
     "overlapping certificate"},
    {"wrong challenge", scene_wrong_challenge, SCEP_MSG_PKCS_REQ, SCEP_FAIL_BAD_REQUEST,
     "wrong or missing challenge password"},
    {"missing challenge", scene_no_challenge, SCEP_MSG_PKCS_REQ, SCEP_FAIL_BAD_REQUEST,
     "wrong or missing challenge password"},
    {"locked out", scene_locked_out, SCEP_MSG_PKCS_REQ, SCEP_FAIL_BAD_REQUEST,
     "too many failed attempts, retry after "},
    {"transactionID reused with another key", scene_tid_other_key, SCEP_MSG_PKCS_REQ,
     SCEP_FAIL_BAD_REQUEST, "transactionID is in use with another key"},
    {"transactionID reused with another request", scene_tid_pending, SCEP_MSG_PKCS_REQ,
     SCEP_FAIL_BAD_REQUEST, "another request is pending under this transactionID"},
    {"resend by another signer", scene_other_signer, SCEP_MSG_PKCS_REQ, SCEP_FAIL_BAD_MESSAGE_CHECK,
     "the transaction was sent by another signer"},
    {"poll of a rejected request", scene_rejected, SCEP_MSG_CERT_POLL, SCEP_FAIL_BAD_REQUEST,
     "not this device"},
    {"poll of an unknown transactionID", scene_as_is, SCEP_MSG_CERT_POLL, SCEP_FAIL_BAD_CERT_ID,
     "unknown transactionID"},
    {"poll by another key", scene_poll_other_key, SCEP_MSG_CERT_POLL, SCEP_FAIL_BAD_REQUEST,
     "the transaction belongs to another key"},
    {"GetCert of an unknown serial", scene_unknown_serial, SCEP_MSG_GET_CERT, SCEP_FAIL_BAD_CERT_ID,
     "no certificate with that issuer and serial number"},
    {"GetCert from an unknown issuer", scene_unknown_issuer, SCEP_MSG_GET_CERT,
     SCEP_FAIL_BAD_CERT_ID, "no certificate with that issuer and serial number"},
    {"GetCRL from an unknown issuer", scene_unknown_issuer, SCEP_MSG_GET_CRL, SCEP_FAIL_BAD_CERT_ID,
     "no CRL for that issuer"},
    {"expired CA", scene_expired_ca, SCEP_MSG_PKCS_REQ, SCEP_FAIL_BAD_REQUEST,
     "the CA certificate expired at "},
    {"envelope for another recipient", scene_wrong_recipient, SCEP_MSG_PKCS_REQ,
     SCEP_FAIL_BAD_MESSAGE_CHECK, NULL},
};

static void run_failure_case(const failure_case *c)
{
    print_message("%s\n", c->name);
    fixture f;
    fixture_init(&f, APPROVE_AUTO, "s3cret");
    device d;
    device_init(&d, tu_rsa_key(2048, 1), "CN=case", "s3cret");
    c->scene(&f, &d);
    reply out;
    send_as(&f, &d, c->type, &out);
    if (out.http_status != 200)
        fail_msg("%s: HTTP %d: %s", c->name, out.http_status, out.detail);
    scep_msg *rep = read_answer(&d, &out, NULL);
    if (rep->status != SCEP_STATUS_FAILURE)
        fail_msg("%s: %s, expected FAILURE", c->name, scep_pki_status_name(rep->status));
    if (rep->fail_info != c->fail_info)
        fail_msg("%s: failInfo %d, expected %d (%s)", c->name, rep->fail_info, c->fail_info,
                 rep->fail_info_text);
    if (c->text != NULL && strstr(rep->fail_info_text, c->text) == NULL)
        fail_msg("%s: failInfoText '%s', expected '%s'", c->name, rep->fail_info_text, c->text);
    /* The log line says the same as the message. */
    assert_string_equal(out.outcome, "FAILURE");
    assert_int_equal(out.fail_info, c->fail_info);
    scep_msg_free(rep);
    reply_free(&out);
    device_free(&d);
    fixture_free(&f);
}

static void test_every_failure(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(failure_cases) / sizeof(failure_cases[0]); i++)
        run_failure_case(&failure_cases[i]);
    EVP_PKEY_free(p224_key);
    ASN1_INTEGER_free(unknown_serial);
    X509_NAME_free(other_issuer);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_apple_mdm_manual_approval),
        cmocka_unit_test(test_apple_mdm_poll_issues),
        cmocka_unit_test(test_challenge_not_stored),
        cmocka_unit_test(test_apple_mdm_with_challenge),
        cmocka_unit_test(test_signer_key_must_match),
        cmocka_unit_test(test_ec_renewal_key_agreement),
        cmocka_unit_test(test_undeliverable_signer),
        cmocka_unit_test(test_failed_reply_stores_nothing),
        cmocka_unit_test(test_wrong_challenges_lock_the_address),
        cmocka_unit_test(test_missing_challenge_not_counted),
        cmocka_unit_test(test_wrong_challenges_lock_the_subject),
        cmocka_unit_test(test_every_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
