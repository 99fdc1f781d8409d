/* scepd's CA engine and configuration: what goes into an issued certificate, and config errors. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/x509v3.h>

#include "ca.h"
#include "ca_create.h"
#include "config.h"
#include "testutil.h"

static authority test_authority(int ca_days)
{
    const tu_ca *t = tu_test_ca();
    authority a = {0};
    X509_NAME *name = ca_parse_name("CN=Engine CA,O=Tests");
    a.key = t->ca_key;
    EVP_PKEY_up_ref(a.key);
    a.cert = ca_create_root(a.key, name, ca_days);
    X509_NAME_free(name);
    assert_non_null(a.cert);
    return a;
}

static X509_REQ *csr_with(EVP_PKEY *key, const char *san, unsigned ku)
{
    X509_NAME *subject = ca_parse_name("CN=device-9,O=Tests");
    scep_csr_params p = {.subject = subject, .san = san, .key_usage = ku};
    X509_REQ *csr = NULL;
    assert_int_equal(scep_csr_build(tu_ctx(0), key, &p, &csr), SCEP_OK);
    X509_NAME_free(subject);
    return csr;
}

static void free_authority(authority *a)
{
    X509_free(a->cert);
    EVP_PKEY_free(a->key);
}

static void test_issue_profile(void **state)
{
    (void)state;
    authority a = test_authority(3650);
    config c;
    config_defaults(&c, NULL);
    c.validity_days = 30;
    X509_REQ *csr = csr_with(tu_rsa_key(2048, 0), "dns:device-9.example,ip:192.0.2.9", 0);
    char err[160];
    X509 *cert = ca_issue(&a, csr, &c, err, sizeof(err));
    assert_non_null(cert);
    assert_int_equal(X509_verify(cert, a.key), 1);
    assert_int_equal(X509_NAME_cmp(X509_get_subject_name(cert), X509_REQ_get_subject_name(csr)), 0);
    assert_int_equal(X509_check_ca(cert), 0);
    assert_true(X509_get_key_usage(cert) & KU_KEY_ENCIPHERMENT);
    assert_true(X509_get_extended_key_usage(cert) & XKU_SSL_CLIENT);
    GENERAL_NAMES *san = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    assert_int_equal(sk_GENERAL_NAME_num(san), 2);
    GENERAL_NAMES_free(san);
    assert_non_null(X509_get0_authority_key_id(cert));
    assert_non_null(X509_get0_subject_key_id(cert));
    BIGNUM *serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
    assert_int_equal(BN_num_bytes(serial), 16);
    assert_false(BN_is_negative(serial));
    BN_free(serial);
    int days = 0, secs = 0;
    ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(cert), X509_get0_notAfter(cert));
    assert_int_equal(days, 30);
    X509_free(cert);
    /* Without copy_san the SAN stays out. */
    c.copy_san = 0;
    cert = ca_issue(&a, csr, &c, err, sizeof(err));
    assert_null(X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL));
    X509_free(cert);
    X509_REQ_free(csr);
    free_authority(&a);
}

static void test_issue_never_outlives_ca(void **state)
{
    (void)state;
    authority a = test_authority(10);
    config c;
    config_defaults(&c, NULL);
    c.validity_days = 365;
    X509_REQ *csr = csr_with(tu_ec_key("P-256", 0), NULL, KU_DIGITAL_SIGNATURE);
    char err[160];
    X509 *cert = ca_issue(&a, csr, &c, err, sizeof(err));
    assert_non_null(cert);
    assert_int_equal(ASN1_TIME_compare(X509_get0_notAfter(cert), X509_get0_notAfter(a.cert)), 0);
    /* The requested keyUsage is copied: digitalSignature only. */
    assert_int_equal(X509_get_key_usage(cert), KU_DIGITAL_SIGNATURE);
    X509_free(cert);
    X509_REQ_free(csr);
    free_authority(&a);
}

static void test_issue_refuses_other_name_types(void **state)
{
    (void)state;
    authority a = test_authority(3650);
    config c;
    config_defaults(&c, NULL);
    X509_REQ *csr = X509_REQ_new();
    X509_REQ_set_pubkey(csr, tu_rsa_key(2048, 1));
    X509_NAME *n = ca_parse_name("CN=x");
    X509_REQ_set_subject_name(csr, n);
    X509_NAME_free(n);
    STACK_OF(X509_EXTENSION) *exts = NULL;
    /* A registeredID: a name type a device certificate has no business carrying. */
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, "RID:1.2.3.4");
    assert_non_null(ext);
    X509v3_add_ext(&exts, ext, -1);
    X509_REQ_add_extensions(csr, exts);
    X509_REQ_sign(csr, tu_rsa_key(2048, 1), EVP_sha256());
    char err[160] = "";
    assert_null(ca_issue(&a, csr, &c, err, sizeof(err)));
    assert_non_null(strstr(err, "subjectAltName"));
    X509_EXTENSION_free(ext);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    X509_REQ_free(csr);
    free_authority(&a);
}

/* The one URI of a certificate's CRL Distribution Points, copied into buf. */
static void cdp_uri(X509 *cert, char *buf, size_t len)
{
    CRL_DIST_POINTS *dps = X509_get_ext_d2i(cert, NID_crl_distribution_points, NULL, NULL);
    assert_int_equal(sk_DIST_POINT_num(dps), 1);
    GENERAL_NAMES *names = sk_DIST_POINT_value(dps, 0)->distpoint->name.fullname;
    GENERAL_NAME *uri = sk_GENERAL_NAME_value(names, 0);
    assert_int_equal(uri->type, GEN_URI);
    snprintf(buf, len, "%.*s", ASN1_STRING_length(uri->d.ia5),
             (const char *)ASN1_STRING_get0_data(uri->d.ia5));
    CRL_DIST_POINTS_free(dps);
}

static void test_crl_url(void **state)
{
    (void)state;
    config c;
    config_defaults(&c, NULL);
    char err[160];
    const char *bad[] = {"http://ca/crl/{ca}-{ca}.crl", "http://ca/crl/{gen}.crl",
                         "http://ca/a,b.crl", "http://ca/a b.crl", "http://ca/{ca"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(config_set(&c, "crl_url", bad[i], err, sizeof(err)), -1);
    assert_int_equal(config_set(&c, "crl_url", "http://ca.example/crl/{ca}.crl", err, sizeof(err)),
                     0);
    authority a = test_authority(3650);
    X509_REQ *csr = csr_with(tu_rsa_key(2048, 0), NULL, 0);
    X509 *cert = ca_issue(&a, csr, &c, err, sizeof(err));
    assert_non_null(cert);
    char key_id[STORE_KEY_ID], want[160], got[160];
    assert_int_equal(ca_key_id(X509_get_X509_PUBKEY(a.cert), key_id, sizeof(key_id)), 0);
    snprintf(want, sizeof(want), "http://ca.example/crl/%s.crl", key_id);
    cdp_uri(cert, got, sizeof(got));
    assert_string_equal(got, want);
    X509_free(cert);
    /* Without the mark the URL goes in as it is. */
    assert_int_equal(config_set(&c, "crl_url", "http://ca.example/crl/ca.crl", err, sizeof(err)),
                     0);
    cert = ca_issue(&a, csr, &c, err, sizeof(err));
    cdp_uri(cert, got, sizeof(got));
    assert_string_equal(got, "http://ca.example/crl/ca.crl");
    X509_free(cert);
    X509_REQ_free(csr);
    free_authority(&a);
}

static void test_parse_name(void **state)
{
    (void)state;
    X509_NAME *n = ca_parse_name("CN=Example CA, O=Example\\, Inc.");
    assert_non_null(n);
    char buf[64];
    X509_NAME_get_text_by_NID(n, NID_organizationName, buf, sizeof(buf));
    assert_string_equal(buf, "Example, Inc.");
    X509_NAME_free(n);
    n = ca_parse_name("/CN=Slash CA/O=Example");
    assert_non_null(n);
    assert_int_equal(X509_NAME_entry_count(n), 2);
    X509_NAME_free(n);
    assert_null(ca_parse_name(""));
    assert_null(ca_parse_name("CN"));
    assert_null(ca_parse_name("XX=unknown type"));
    assert_null(ca_parse_name("CN="));
}

static void test_config_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/scepd-config-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof(path), "%s/scepd.conf", dir);
    FILE *f = fopen(path, "w");
    fputs("# comment\nlisten = 0.0.0.0:9000\napprove = manual\nvalidity_days=7\n"
          "legacy_algorithms = yes\n",
          f);
    fclose(f);
    config c;
    config_defaults(&c, dir);
    char err[256];
    assert_int_equal(config_load(&c, path, err, sizeof(err)), 0);
    assert_string_equal(c.listen, "0.0.0.0:9000");
    assert_int_equal(c.approve, APPROVE_MANUAL);
    assert_int_equal(c.validity_days, 7);
    assert_int_equal(c.legacy_algorithms, 1);
    /* Errors name the line; a bad challenge value is never echoed. */
    f = fopen(path, "w");
    fputs("listen = x\nvalidity_days = -3\n", f);
    fclose(f);
    assert_int_equal(config_load(&c, path, err, sizeof(err)), -1);
    assert_non_null(strstr(err, ":2: bad value for validity_days"));
    f = fopen(path, "w");
    fputs("no_such_key = 1\n", f);
    fclose(f);
    assert_int_equal(config_load(&c, path, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "unknown setting 'no_such_key'"));
    char secret[400];
    memset(secret, 'a', sizeof(secret) - 1);
    secret[sizeof(secret) - 1] = '\0';
    assert_int_equal(config_set(&c, "challenge", secret, err, sizeof(err)), -1);
    assert_null(strstr(err, "aaaa"));
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_issue_profile),
        cmocka_unit_test(test_issue_never_outlives_ca),
        cmocka_unit_test(test_issue_refuses_other_name_types),
        cmocka_unit_test(test_crl_url),
        cmocka_unit_test(test_parse_name),
        cmocka_unit_test(test_config_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
