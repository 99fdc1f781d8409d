/*
 * GetCert and GetCRL as scepd answers them (enroll_handle against a real store), with the
 * IssuerAndSerialNumber built both ways: our client names the issuing CA and the certificate's
 * serial; sscep names the certificate it was given with -c (the RA in RA mode) by its *subject*
 * and, for GetCRL, that certificate's own serial. After a rollover switch, each must reach the
 * CA generation concerned (the two generations share their CA and RA subjects).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ca/ca.h"
#include "ca/ca_create.h"
#include "service/enroll.h"
#include "service/server.h"
#include "testutil.h"

#define CA_NAME "CN=Rollover CA,O=Tests"
#define RA_NAME "CN=Rollover CA RA,O=Tests"

typedef struct fixture {
    char dir[64];
    server srv;
    era now; /* after the switch: current = the new generation, prev = the old one */
    store *st;
    X509 *old_ca, *old_ra, *new_ca, *new_ra;
    X509 *old_leaf, *new_leaf; /* one device certificate from each generation, in the store */
    EVP_PKEY *requester;
    X509 *signer; /* the requester's self-signed certificate */
} fixture;

static fixture fx;

static void gen_make(ca_gen *g, int key_index)
{
    X509_NAME *ca_name = ca_parse_name(CA_NAME), *ra_name = ca_parse_name(RA_NAME);
    g->key = tu_rsa_key(2048, key_index);
    g->ra_key = tu_rsa_key(2048, key_index + 1);
    EVP_PKEY_up_ref(g->key);
    EVP_PKEY_up_ref(g->ra_key);
    g->cert = ca_create_root(g->key, ca_name, 3650);
    g->ra_cert = ca_create_ra(g->cert, g->key, g->ra_key, ra_name, 730);
    assert_non_null(g->cert);
    assert_non_null(g->ra_cert);
    X509_NAME_free(ca_name);
    X509_NAME_free(ra_name);
}

/* A device certificate from generation g, recorded in the store as scepd records one. */
static X509 *issue_stored(const ca_gen *g, const char *cn)
{
    authority a = {.cert = g->cert, .key = g->key};
    X509_NAME *subject = ca_parse_name(cn);
    scep_csr_params p = {.subject = subject};
    X509_REQ *csr = NULL;
    assert_int_equal(scep_csr_build(tu_ctx(0), fx.requester, &p, &csr), SCEP_OK);
    char err[160];
    X509 *cert = ca_issue(&a, csr, &fx.srv.cfg, err, sizeof(err));
    assert_non_null(cert);
    store_cert rec;
    char key_id[STORE_KEY_ID];
    ca_key_id(X509_get_X509_PUBKEY(cert), key_id, sizeof(key_id));
    ca_fill_record(cert, key_id, "", &rec);
    unsigned char *der = NULL;
    rec.der_len = (size_t)i2d_X509(cert, &der);
    rec.der = der;
    assert_int_equal(fx.st->ops->cert_issue(fx.st, &rec, 0, REQUEST_PENDING), STORE_OK);
    OPENSSL_free(der);
    X509_REQ_free(csr);
    X509_NAME_free(subject);
    return cert;
}

static int setup(void **state)
{
    (void)state;
    snprintf(fx.dir, sizeof(fx.dir), "/tmp/scepd-ias-test-XXXXXX");
    assert_non_null(mkdtemp(fx.dir));
    config_defaults(&fx.srv.cfg, fx.dir);
    fx.srv.ctx = tu_ctx(0);
    char path[128], err[256] = "";
    snprintf(path, sizeof(path), "%s/store.db", fx.dir);
    fx.st = store_create(path, err, sizeof(err));
    assert_non_null(fx.st);
    /* Before the switch: the old generation current, the new one prepared. */
    authority before = {0};
    ca_gen old_gen = {0};
    gen_make(&old_gen, 1);
    before.cert = old_gen.cert;
    before.key = old_gen.key;
    before.ra_cert = old_gen.ra_cert;
    before.ra_key = old_gen.ra_key;
    before.chain = sk_X509_new_null();
    sk_X509_push(before.chain, X509_dup(old_gen.cert));
    gen_make(&before.next, 3);
    fx.requester = tu_rsa_key(2048, 0);
    X509_NAME *me = ca_parse_name("CN=sscep device,O=Tests");
    assert_int_equal(
        scep_selfsigned_signer(tu_ctx(0), fx.requester, me, 1, SCEP_DIGEST_SHA256, &fx.signer),
        SCEP_OK);
    X509_NAME_free(me);
    assert_int_equal(ca_record(fx.st, old_gen.cert), 0);
    assert_int_equal(ca_record(fx.st, before.next.cert), 0);
    fx.old_leaf = issue_stored(&old_gen, "CN=old device,O=Tests");
    fx.new_leaf = issue_stored(&before.next, "CN=new device,O=Tests");
    /* What the server serves after the switch. */
    assert_int_equal(ca_switched(&before, &fx.now.ca), 0);
    X509 *keep[] = {fx.old_ca = old_gen.cert, fx.old_ra = old_gen.ra_cert,
                    fx.new_ca = before.next.cert, fx.new_ra = before.next.ra_cert};
    for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
        X509_up_ref(keep[i]);
    ca_free(&before);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ca_free(&fx.now.ca);
    store_close(fx.st);
    X509 *certs[] = {fx.old_ca,   fx.old_ra,   fx.new_ca, fx.new_ra,
                     fx.old_leaf, fx.new_leaf, fx.signer};
    for (size_t i = 0; i < sizeof(certs) / sizeof(certs[0]); i++)
        X509_free(certs[i]);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx.dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Sends a GetCert or GetCRL naming issuer and serial; returns the opened CertRep. */
static scep_msg *ask(scep_msg_type type, const X509_NAME *issuer, const ASN1_INTEGER *serial)
{
    unsigned char nonce[SCEP_NONCE_BYTES];
    assert_int_equal(scep_nonce(nonce, sizeof(nonce)), SCEP_OK);
    scep_msg_params p = {.type = type,
                         .transaction_id = "IAS-TEST",
                         .sender_nonce = nonce,
                         .sender_nonce_len = sizeof(nonce),
                         .issuer = issuer,
                         .serial = serial,
                         .signer_cert = fx.signer,
                         .signer_key = fx.requester,
                         .digest = SCEP_DIGEST_SHA256,
                         .recipient_cert = fx.new_ra,
                         .cipher = SCEP_CIPHER_AES128_CBC};
    unsigned char *der = NULL;
    size_t len = 0;
    assert_int_equal(scep_msg_encode(tu_ctx(0), &p, &der, &len), SCEP_OK);
    reply out;
    reply_init(&out);
    enroll_handle(&fx.srv, &fx.now, fx.st, der, len, &out);
    OPENSSL_free(der);
    if (out.http_status != 200)
        fail_msg("HTTP %d: %s", out.http_status, out.detail);
    STACK_OF(X509) *trusted = sk_X509_new_null();
    sk_X509_push(trusted, fx.new_ca);
    scep_open_options o = {.trusted_signers = trusted};
    scep_recipient r = {fx.signer, fx.requester};
    scep_decrypt_options d = {.recipients = &r, .n_recipients = 1};
    scep_msg *rep = NULL;
    scep_diag diag = {{0}};
    scep_err e = scep_msg_decode(tu_ctx(0), out.body, out.body_len, &o, &d, &rep, &diag);
    if (e != SCEP_OK)
        fail_msg("CertRep: %s (%s)", scep_strerror(e), diag.text);
    assert_int_equal(scep_reply_check(rep, "IAS-TEST", nonce, sizeof(nonce), NULL), SCEP_OK);
    sk_X509_free(trusted);
    reply_free(&out);
    return rep;
}

typedef enum who { CA_SUBJECT, RA_SUBJECT, FOREIGN } who;

static X509_NAME *issuer_name(who w)
{
    return ca_parse_name(w == CA_SUBJECT ? CA_NAME : w == RA_SUBJECT ? RA_NAME : "CN=Other CA");
}

static ASN1_INTEGER *serial_of(X509 *cert)
{
    if (cert != NULL)
        return ASN1_INTEGER_dup(X509_get0_serialNumber(cert));
    ASN1_INTEGER *unknown = ASN1_INTEGER_new();
    ASN1_INTEGER_set_uint64(unknown, 0x5eed0bad1dULL);
    return unknown;
}

/* GetCRL: the generation whose CRL each way of asking is answered with (NULL: badCertId). */
static void expect_crl(const char *what, who issuer, X509 *serial_cert, X509 *crl_signer)
{
    print_message("%s\n", what);
    X509_NAME *name = issuer_name(issuer);
    ASN1_INTEGER *serial = serial_of(serial_cert);
    scep_msg *rep = ask(SCEP_MSG_GET_CRL, name, serial);
    if (crl_signer == NULL) {
        assert_int_equal(rep->status, SCEP_STATUS_FAILURE);
        assert_int_equal(rep->fail_info, SCEP_FAIL_BAD_CERT_ID);
    } else {
        assert_int_equal(rep->status, SCEP_STATUS_SUCCESS);
        assert_int_equal(sk_X509_CRL_num(rep->crls), 1);
        X509_CRL *crl = sk_X509_CRL_value(rep->crls, 0);
        if (X509_CRL_verify(crl, X509_get0_pubkey(crl_signer)) != 1)
            fail_msg("%s: the CRL is not the expected generation's", what);
    }
    scep_msg_free(rep);
    ASN1_INTEGER_free(serial);
    X509_NAME_free(name);
}

static void test_getcrl_both_ways(void **state)
{
    (void)state;
    /* Our client: the issuing CA's subject and the certificate's serial. */
    expect_crl("CA subject, old device's serial", CA_SUBJECT, fx.old_leaf, fx.old_ca);
    expect_crl("CA subject, new device's serial", CA_SUBJECT, fx.new_leaf, fx.new_ca);
    expect_crl("CA subject, unknown serial", CA_SUBJECT, NULL, fx.new_ca);
    /* sscep: the -c certificate's subject and serial: the RA (or the CA in CA mode). */
    expect_crl("sscep, current RA", RA_SUBJECT, fx.new_ra, fx.new_ca);
    expect_crl("sscep, the RA before the switch", RA_SUBJECT, fx.old_ra, fx.old_ca);
    expect_crl("sscep, the CA before the switch", CA_SUBJECT, fx.old_ca, fx.old_ca);
    expect_crl("RA subject, old device's serial", RA_SUBJECT, fx.old_leaf, fx.old_ca);
    expect_crl("RA subject, unknown serial", RA_SUBJECT, NULL, fx.new_ca);
    expect_crl("another issuer", FOREIGN, fx.new_ra, NULL);
}

static void expect_cert(const char *what, who issuer, X509 *wanted, int found)
{
    print_message("%s\n", what);
    X509_NAME *name = issuer_name(issuer);
    ASN1_INTEGER *serial = serial_of(wanted);
    scep_msg *rep = ask(SCEP_MSG_GET_CERT, name, serial);
    if (!found) {
        assert_int_equal(rep->status, SCEP_STATUS_FAILURE);
        assert_int_equal(rep->fail_info, SCEP_FAIL_BAD_CERT_ID);
    } else {
        assert_int_equal(rep->status, SCEP_STATUS_SUCCESS);
        assert_int_equal(X509_cmp(sk_X509_value(rep->certs, 0), wanted), 0);
    }
    scep_msg_free(rep);
    ASN1_INTEGER_free(serial);
    X509_NAME_free(name);
}

static void test_getcert_both_ways(void **state)
{
    (void)state;
    expect_cert("CA subject, new device", CA_SUBJECT, fx.new_leaf, 1);
    expect_cert("CA subject, old device", CA_SUBJECT, fx.old_leaf, 1);
    expect_cert("sscep: RA subject, new device", RA_SUBJECT, fx.new_leaf, 1);
    expect_cert("sscep: RA subject, old device", RA_SUBJECT, fx.old_leaf, 1);
    expect_cert("RA subject, unknown serial", RA_SUBJECT, NULL, 0);
    expect_cert("another issuer, known serial", FOREIGN, fx.new_leaf, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_getcrl_both_ways),
        cmocka_unit_test(test_getcert_both_ways),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
