/* scepd's CA engine and configuration: what goes into an issued certificate, and config errors. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "ca/ca_create.h"
#include "ca/ca_health.h"
#include "config/config.h"
#include "keys/keys.h"
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

/* The extension of cert with nid, as DER. */
static int ext_der(const X509 *cert, int nid, unsigned char **der)
{
    int at = X509_get_ext_by_NID(cert, nid, -1);
    X509_EXTENSION *ext = at >= 0 ? X509_get_ext(cert, at) : NULL;
    *der = NULL;
    return ext != NULL ? i2d_X509_EXTENSION(ext, der) : -1;
}

/* The extensions every certificate gets are built as structures (ca_issue.c add_fixed_ext,
 * add_aki, add_ski, add_cdp): the same DER as OpenSSL's conf text for them, for an RSA and an
 * EC request. */
static void test_issue_fixed_extensions(void **state)
{
    (void)state;
    authority a = test_authority(3650);
    config c;
    config_defaults(&c, NULL);
    char err[160], key_id[STORE_KEY_ID], cdp[160];
    assert_int_equal(config_set(&c, "crl_url", "http://ca.example/crl/{ca}.crl", err, sizeof(err)),
                     0);
    assert_int_equal(ca_key_id(X509_get_X509_PUBKEY(a.cert), key_id, sizeof(key_id)), 0);
    snprintf(cdp, sizeof(cdp), "URI:http://ca.example/crl/%s.crl", key_id);
    EVP_PKEY *keys[2] = {tu_rsa_key(2048, 0), tu_ec_key("P-256", 0)};
    for (int k = 0; k < 2; k++) {
        X509_REQ *csr = csr_with(keys[k], NULL, 0);
        X509 *cert = ca_issue(&a, csr, &c, err, sizeof(err));
        assert_non_null(cert);
        struct {
            int nid;
            const char *conf;
        } want[] = {
            {NID_basic_constraints, "critical,CA:FALSE"},
            {NID_authority_key_identifier, "keyid:always"},
            {NID_key_usage, k == 0 ? "critical,digitalSignature,keyEncipherment"
                                   : "critical,digitalSignature,keyAgreement"},
            {NID_ext_key_usage, "clientAuth"},
            {NID_subject_key_identifier, "hash"},
            {NID_crl_distribution_points, cdp},
        };
        for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
            X509V3_CTX v3;
            X509V3_set_ctx(&v3, a.cert, cert, NULL, NULL, 0);
            X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, want[i].nid, want[i].conf);
            assert_non_null(ext);
            unsigned char *expect = NULL, *got = NULL;
            int n = i2d_X509_EXTENSION(ext, &expect);
            assert_int_equal(ext_der(cert, want[i].nid, &got), n);
            assert_memory_equal(got, expect, (size_t)n);
            OPENSSL_free(expect);
            OPENSSL_free(got);
            X509_EXTENSION_free(ext);
        }
        X509_free(cert);
        X509_REQ_free(csr);
    }
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

/* The authority's CA certificate re-dated to [from, until] (Unix seconds) and signed again. */
static void redate(authority *a, time_t from, time_t until)
{
    assert_non_null(X509_time_adj_ex(X509_getm_notBefore(a->cert), 0, 0, &from));
    assert_non_null(X509_time_adj_ex(X509_getm_notAfter(a->cert), 0, 0, &until));
    assert_true(X509_sign(a->cert, a->key, EVP_sha256()) > 0);
}

/* A CA that is not valid now issues nothing, and no certificate ends before it starts. */
static void test_issue_refuses_invalid_ca(void **state)
{
    (void)state;
    authority a = test_authority(3650);
    config c;
    config_defaults(&c, NULL);
    X509_REQ *csr = csr_with(tu_rsa_key(2048, 0), NULL, 0);
    char err[160] = "";
    time_t now = time(NULL);
    redate(&a, now - 10 * 86400, now - 3600);
    assert_null(ca_issue(&a, csr, &c, err, sizeof(err)));
    assert_non_null(strstr(err, "the CA certificate expired at "));
    redate(&a, now + 3600, now + 10 * 86400);
    err[0] = '\0';
    assert_null(ca_issue(&a, csr, &c, err, sizeof(err)));
    assert_non_null(strstr(err, "the CA certificate is not valid before "));
    /* A shadow certificate from after the CA's end: refused too. */
    redate(&a, now - 3600, now + 3600);
    err[0] = '\0';
    assert_null(ca_issue_at(&a, csr, &c, (int64_t)now + 7200, err, sizeof(err)));
    assert_non_null(strstr(err, "expired"));
    /* The CA's last second: capping would leave notBefore == notAfter. */
    redate(&a, now - 3600, now);
    assert_null(ca_issue_at(&a, csr, &c, (int64_t)now, err, sizeof(err)));
    /* Valid for a few more seconds: issued, capped, still notBefore < notAfter. */
    redate(&a, now - 3600, now + 60);
    X509 *cert = ca_issue(&a, csr, &c, err, sizeof(err));
    assert_non_null(cert);
    assert_true(ASN1_TIME_compare(X509_get0_notBefore(cert), X509_get0_notAfter(cert)) < 0);
    X509_free(cert);
    X509_REQ_free(csr);
    free_authority(&a);
}

/* Readiness: an error for a CA or RA that is not valid now, a warning within 30 days. */
static void test_ca_health(void **state)
{
    (void)state;
    authority a = test_authority(3650);
    time_t now = time(NULL);
    char report[1024] = "", why[256] = "";
    assert_int_equal(ca_health(&a, (int64_t)now, report, sizeof(report)), 0);
    assert_string_equal(report, "");
    assert_int_equal(ca_cannot_issue(&a, (int64_t)now, why, sizeof(why)), 0);
    redate(&a, now - 86400, now + 10 * 86400);
    assert_int_equal(ca_health(&a, (int64_t)now, report, sizeof(report)), 0);
    assert_non_null(strstr(report, "warning: the CA certificate expires at "));
    redate(&a, now - 86400, now - 60);
    report[0] = '\0';
    assert_int_equal(ca_health(&a, (int64_t)now, report, sizeof(report)), 1);
    assert_non_null(strstr(report, "error: the CA certificate expired at "));
    /* An RA that expired while the CA is valid: the server cannot issue either. */
    redate(&a, now - 86400, now + 3650 * 86400);
    X509_NAME *ra_name = ca_parse_name("CN=Engine RA");
    a.ra_key = tu_rsa_key(2048, 3);
    a.ra_cert = ca_create_ra(a.cert, a.key, a.ra_key, ra_name, 1);
    X509_NAME_free(ra_name);
    time_t past = now - 60;
    assert_non_null(X509_time_adj_ex(X509_getm_notAfter(a.ra_cert), 0, 0, &past));
    assert_true(X509_sign(a.ra_cert, a.key, EVP_sha256()) > 0);
    assert_int_equal(ca_cannot_issue(&a, (int64_t)now, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "the RA certificate expired at "));
    report[0] = '\0';
    assert_int_equal(ca_health(&a, (int64_t)now, report, sizeof(report)), 1);
    assert_non_null(strstr(report, "error: the RA certificate expired"));
    X509_free(a.ra_cert);
    free_authority(&a);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    unlink(path);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

/* Passphrase files: one trailing newline dropped; refused when others may read them. */
static void test_pass_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/scepd-pass-XXXXXX", path[128], pass[CA_PASS_MAX], err[256];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/pass", dir);
    write_file(path, "two words\n", 0600);
    assert_int_equal(ca_read_pass_file(path, pass, sizeof(pass), err, sizeof(err)), 0);
    assert_string_equal(pass, "two words");
    write_file(path, "crlf\r\n", 0400);
    assert_int_equal(ca_read_pass_file(path, pass, sizeof(pass), err, sizeof(err)), 0);
    assert_string_equal(pass, "crlf");
    write_file(path, "secret\n", 0640);
    assert_int_equal(ca_read_pass_file(path, pass, sizeof(pass), err, sizeof(err)), -1);
    assert_non_null(strstr(err, "readable by group or others"));
    assert_non_null(strstr(err, path));
    assert_string_equal(pass, "");
    write_file(path, "\n", 0600);
    assert_int_equal(ca_read_pass_file(path, pass, sizeof(pass), err, sizeof(err)), -1);
    assert_non_null(strstr(err, "empty"));
    /* An encrypted key: read with its passphrase, and a clear reason without it. */
    char key_path[128];
    snprintf(key_path, sizeof(key_path), "%s/ca.key", dir);
    EVP_PKEY *key = tu_rsa_key(2048, 0);
    assert_int_equal(ca_write_key_pass(key_path, key, "right one", err, sizeof(err)), 0);
    EVP_PKEY *back = ca_load_key_pass(key_path, "right one", err, sizeof(err));
    assert_non_null(back);
    assert_int_equal(EVP_PKEY_eq(back, key), 1);
    EVP_PKEY_free(back);
    assert_null(ca_load_key_pass(key_path, "wrong one", err, sizeof(err)));
    assert_non_null(strstr(err, "wrong passphrase"));
    assert_null(ca_load_key(key_path, err, sizeof(err)));
    assert_non_null(strstr(err, "the key is encrypted"));
    unlink(key_path);
    unlink(path);
    rmdir(dir);
}

/* A chain links when each certificate is the CA that issued the one before it. */
static void test_chain_check(void **state)
{
    (void)state;
    EVP_PKEY *root_key = tu_rsa_key(2048, 0), *int_key = tu_rsa_key(2048, 1);
    X509 *root = tu_cert(root_key, "Chain Root", NULL, NULL, 1, KU_KEY_CERT_SIGN, 30);
    X509 *inter = tu_cert(int_key, "Chain Issuing", root, root_key, 1, KU_KEY_CERT_SIGN, 30);
    X509 *other = tu_cert(tu_rsa_key(2048, 2), "Chain Other", NULL, NULL, 1, KU_KEY_CERT_SIGN, 30);
    X509 *orders[3][2] = {{inter, root}, {root, inter}, {inter, other}};
    char err[512];
    for (int i = 0; i < 3; i++) {
        STACK_OF(X509) *chain = sk_X509_new_null();
        sk_X509_push(chain, orders[i][0]);
        sk_X509_push(chain, orders[i][1]);
        err[0] = '\0';
        assert_int_equal(ca_check_chain(chain, err, sizeof(err)), i == 0 ? 0 : -1);
        if (i > 0)
            assert_non_null(strstr(err, "the CA chain is broken: certificate 2"));
        sk_X509_free(chain);
    }
    X509_free(root);
    X509_free(inter);
    X509_free(other);
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
    fputs("listen = 127.0.0.1:8080\nvalidity_days = -3\n", f);
    fclose(f);
    assert_int_equal(config_load(&c, path, err, sizeof(err)), -1);
    assert_non_null(
        strstr(err, ":2: bad value for validity_days: '-3' (a whole number from 1 to 36500)"));
    f = fopen(path, "w");
    fputs("listen = 127.0.0.1:99999\n", f);
    fclose(f);
    assert_int_equal(config_load(&c, path, err, sizeof(err)), -1);
    assert_non_null(strstr(err, ":1: bad value for listen: '127.0.0.1:99999' (the port"));
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

/* getaddrinfo() would serve 99999 on 34463 and 65537 on 1: the configuration refuses them. */
static void test_listen_addresses(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "127.0.0.1:99999", ":65537",      "x",       "localhost:80",  "1.2.3.4:",
        "[::1]:80x",       "1.2.3.4:-1",  "[::1:80", "::1:80",        "300.1.2.3:80",
        "1.2.3.4:+80",     "1.2.3.4: 80", "",        "1.2.3.4:080000"};
    static const char *const good[] = {"[::1]:8080", ":8080", "0.0.0.0:0", "127.0.0.1:65535"};
    config c;
    char err[256];
    config_defaults(&c, NULL);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(config_set(&c, "listen", bad[i], err, sizeof(err)), -1);
        assert_non_null(strstr(err, "bad value for listen"));
        assert_int_equal(config_set(&c, "admin_listen", bad[i][0] ? bad[i] : "x", err, sizeof(err)),
                         -1);
    }
    assert_string_equal(c.listen, "127.0.0.1:8080");
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_int_equal(config_set(&c, "listen", good[i], err, sizeof(err)), 0);
        assert_string_equal(c.listen, good[i]);
    }
    assert_int_equal(config_set(&c, "admin_listen", "", err, sizeof(err)), 0); /* off */
}

/* A reload keeps what needs a restart and names, by key only, what changed. */
static void test_reload_changes(void **state)
{
    (void)state;
    config old, fresh;
    char err[256], applied[256], kept[256];
    config_defaults(&old, "/srv/ca");
    config_defaults(&fresh, "/srv/ca");
    assert_int_equal(config_set(&fresh, "listen", "127.0.0.1:9999", err, sizeof(err)), 0);
    assert_int_equal(config_set(&fresh, "store", "sqlite:other.db", err, sizeof(err)), 0);
    assert_int_equal(config_set(&fresh, "challenge", "new-secret", err, sizeof(err)), 0);
    assert_int_equal(config_set(&fresh, "renewal_window", "30d", err, sizeof(err)), 0);
    assert_int_equal(config_set(&fresh, "approve", "manual", err, sizeof(err)), 0);
    config_reload_changes(&fresh, &old, applied, sizeof(applied), kept, sizeof(kept));
    assert_string_equal(kept, "store, listen");
    assert_string_equal(applied, "challenge, approve, renewal_window");
    assert_string_equal(fresh.listen, "127.0.0.1:8080");
    assert_string_equal(fresh.store, "sqlite:scepd.db");
    assert_string_equal(fresh.challenge, "new-secret");
    config_reload_changes(&fresh, &fresh, applied, sizeof(applied), kept, sizeof(kept));
    assert_string_equal(applied, "");
    assert_string_equal(kept, "");
}

/* Flags name files from the current directory; the file's names stay relative to DIR. */
static void test_paths_from_flags(void **state)
{
    (void)state;
    config c;
    char err[256], cwd[512], want[1100];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    config_defaults(&c, "/srv/ca");
    assert_int_equal(config_set_arg(&c, "challenge_file", "sub/challenge", err, sizeof(err)), 0);
    snprintf(want, sizeof(want), "%s/sub/challenge", cwd);
    assert_string_equal(c.challenge_file, want);
    assert_int_equal(config_set_arg(&c, "store", "sqlite:my.db", err, sizeof(err)), 0);
    snprintf(want, sizeof(want), "sqlite:%s/my.db", cwd);
    assert_string_equal(c.store, want);
    /* A store URI of another scheme names no file. */
    const char *pg = "postgresql://scep@db1,db2/scepd?target_session_attrs=read-write";
    assert_int_equal(config_set_arg(&c, "store", pg, err, sizeof(err)), 0);
    assert_string_equal(c.store, pg);
    assert_int_equal(config_set_arg(&c, "ca_key", "pkcs11:token=ca", err, sizeof(err)), 0);
    assert_string_equal(c.ca_key, "pkcs11:token=ca");
    assert_int_equal(config_set_arg(&c, "ra_key", "/abs/ra.key", err, sizeof(err)), 0);
    assert_string_equal(c.ra_key, "/abs/ra.key");
    assert_int_equal(config_set_arg(&c, "challenge", "rel/not-a-path", err, sizeof(err)), 0);
    assert_string_equal(c.challenge, "rel/not-a-path");
    assert_int_equal(config_set(&c, "ca_cert", "rel.pem", err, sizeof(err)), 0);
    assert_string_equal(c.ca_cert, "rel.pem");
}

/* Which RA signs a CertRep: reply_signer, the RA signing certificate, the request's key. */
static void test_reply_signer_choice(void **state)
{
    (void)state;
    /* The rule alone: by-request follows the request's key, ra-sign always, ra never; no
     * signing certificate, always the RA. */
    assert_false(ca_signs_with_ra_sign(REPLY_SIGNER_RA, 1, 1));
    assert_true(ca_signs_with_ra_sign(REPLY_SIGNER_RA_SIGN, 1, 0));
    assert_true(ca_signs_with_ra_sign(REPLY_SIGNER_BY_REQUEST, 1, 1));
    assert_false(ca_signs_with_ra_sign(REPLY_SIGNER_BY_REQUEST, 1, 0));
    assert_false(ca_signs_with_ra_sign(REPLY_SIGNER_RA_SIGN, 0, 1));

    const tu_ca *t = tu_test_ca();
    EVP_PKEY *sign_key = tu_ec_key("P-256", 0);
    X509 *sign =
        tu_cert(sign_key, "Test RA signing", t->ca_cert, t->ca_key, 0, KU_DIGITAL_SIGNATURE, 30);
    X509 *ec_client = tu_cert(tu_ec_key("P-256", 1), "ec-client", NULL, NULL, 0, 0, 1);
    X509 *rsa_client = tu_cert(tu_rsa_key(2048, 1), "rsa-client", NULL, NULL, 0, 0, 1);
    authority a = {.cert = t->ca_cert,
                   .key = t->ca_key,
                   .ra_cert = t->ra_cert,
                   .ra_key = t->ra_key,
                   .ra_sign_cert = sign,
                   .ra_sign_key = sign_key,
                   .reply_signer = REPLY_SIGNER_BY_REQUEST};
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    ca_reply_signer(&a, ec_client, &cert, &key);
    assert_ptr_equal(cert, sign);
    assert_ptr_equal(key, sign_key);
    ca_reply_signer(&a, rsa_client, &cert, &key);
    assert_ptr_equal(cert, t->ra_cert);
    assert_ptr_equal(key, key_for_thread(t->ra_key)); /* this thread's copy of the RA key */
    ca_reply_signer(&a, NULL, &cert, &key); /* signer unknown: the RA, which everyone verifies */
    assert_ptr_equal(cert, t->ra_cert);
    a.reply_signer = REPLY_SIGNER_RA_SIGN;
    ca_reply_signer(&a, rsa_client, &cert, &key);
    assert_ptr_equal(cert, sign);
    a.reply_signer = REPLY_SIGNER_RA;
    ca_reply_signer(&a, ec_client, &cert, &key);
    assert_ptr_equal(cert, t->ra_cert);
    /* CA mode: the CA signs, whatever the setting says. */
    authority ca_mode = {
        .cert = t->ca_cert, .key = t->ca_key, .reply_signer = REPLY_SIGNER_RA_SIGN};
    ca_reply_signer(&ca_mode, ec_client, &cert, &key);
    assert_ptr_equal(cert, t->ca_cert);
    assert_ptr_equal(key, key_for_thread(t->ca_key));

    config c;
    char err[160];
    config_defaults(&c, NULL);
    assert_int_equal(c.reply_signer, REPLY_SIGNER_RA);
    assert_int_equal(config_set(&c, "reply_signer", "by-request", err, sizeof(err)), 0);
    assert_int_equal(c.reply_signer, REPLY_SIGNER_BY_REQUEST);
    assert_int_equal(config_set(&c, "reply_signer", "ra-sign", err, sizeof(err)), 0);
    assert_int_equal(c.reply_signer, REPLY_SIGNER_RA_SIGN);
    assert_int_equal(config_set(&c, "reply_signer", "ecdsa", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "ra, ra-sign or by-request"));
    X509_free(sign);
    X509_free(ec_client);
    X509_free(rsa_client);
}

/* Writes cert and key as NAME.pem and NAME.key in dir. */
static void write_pair(const char *dir, const char *name, X509 *cert, EVP_PKEY *key)
{
    char path[300], err[200];
    snprintf(path, sizeof(path), "%s/%s.pem", dir, name);
    unlink(path);
    assert_int_equal(ca_write_cert(path, cert, err, sizeof(err)), 0);
    snprintf(path, sizeof(path), "%s/%s.key", dir, name);
    unlink(path);
    assert_int_equal(ca_write_key(path, key, err, sizeof(err)), 0);
}

/* ca_load takes an RA signing certificate only in RA mode, issued by the CA, for signatures. */
static void test_load_ra_sign(void **state)
{
    (void)state;
    char dir[] = "/tmp/scep-ra-sign-XXXXXX";
    assert_non_null(mkdtemp(dir));
    const tu_ca *t = tu_test_ca();
    EVP_PKEY *sign_key = tu_ec_key("P-256", 2);
    write_pair(dir, "ca", t->ca_cert, t->ca_key);
    write_pair(dir, "ra", t->ra_cert, t->ra_key);
    config c;
    config_defaults(&c, dir);
    snprintf(c.ra_sign_cert, sizeof(c.ra_sign_cert), "ra-sign.pem");
    snprintf(c.ra_sign_key, sizeof(c.ra_sign_key), "ra-sign.key");
    authority a;
    char err[300];
    assert_int_equal(ca_load(&a, &c, err, sizeof(err)), -1); /* CA mode */
    assert_non_null(strstr(err, "for RA mode"));
    snprintf(c.ra_cert, sizeof(c.ra_cert), "ra.pem");
    snprintf(c.ra_key, sizeof(c.ra_key), "ra.key");
    /* Issued by someone else: refused. */
    X509 *self = tu_cert(sign_key, "Stranger", NULL, NULL, 0, KU_DIGITAL_SIGNATURE, 30);
    write_pair(dir, "ra-sign", self, sign_key);
    assert_int_equal(ca_load(&a, &c, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not issued by the CA"));
    /* For encryption only: refused. */
    X509 *enc =
        tu_cert(sign_key, "Test RA signing", t->ca_cert, t->ca_key, 0, KU_KEY_ENCIPHERMENT, 30);
    write_pair(dir, "ra-sign", enc, sign_key);
    assert_int_equal(ca_load(&a, &c, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "digitalSignature"));
    X509 *good =
        tu_cert(sign_key, "Test RA signing", t->ca_cert, t->ca_key, 0, KU_DIGITAL_SIGNATURE, 30);
    write_pair(dir, "ra-sign", good, sign_key);
    c.reply_signer = REPLY_SIGNER_BY_REQUEST;
    assert_int_equal(ca_load(&a, &c, err, sizeof(err)), 0);
    assert_int_equal(X509_cmp(a.ra_sign_cert, good), 0);
    assert_int_equal(a.reply_signer, REPLY_SIGNER_BY_REQUEST);
    ca_free(&a);
    /* A signer asked for that is not there: refused, never a silent RA. */
    c.ra_sign_cert[0] = c.ra_sign_key[0] = '\0';
    assert_int_equal(ca_load(&a, &c, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "needs an RA signing certificate"));
    X509_free(self);
    X509_free(enc);
    X509_free(good);
    const char *names[] = {"ca.pem", "ca.key", "ra.pem", "ra.key", "ra-sign.pem", "ra-sign.key"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char path[300];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_issue_profile),
        cmocka_unit_test(test_issue_fixed_extensions),
        cmocka_unit_test(test_issue_never_outlives_ca),
        cmocka_unit_test(test_issue_refuses_invalid_ca),
        cmocka_unit_test(test_ca_health),
        cmocka_unit_test(test_pass_file),
        cmocka_unit_test(test_chain_check),
        cmocka_unit_test(test_issue_refuses_other_name_types),
        cmocka_unit_test(test_crl_url),
        cmocka_unit_test(test_parse_name),
        cmocka_unit_test(test_config_file),
        cmocka_unit_test(test_listen_addresses),
        cmocka_unit_test(test_reload_changes),
        cmocka_unit_test(test_paths_from_flags),
        cmocka_unit_test(test_reply_signer_choice),
        cmocka_unit_test(test_load_ra_sign),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
