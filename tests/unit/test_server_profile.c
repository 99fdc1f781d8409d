/* Profiles (server/profile/, server/policy/profile_policy.c, ca/ca_issue.c): `[profile NAME]`
 * sections of scepd.conf, their errors, and each rule on requests and issued certificates. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "ca/ca_create.h"
#include "policy/challenge.h"
#include "policy/profile_policy.h"
#include "profile/profile.h"
#include "service/enroll.h"
#include "testutil.h"

static char conf_path[64];

/* Writes text to a fresh file; the path is in conf_path. */
static void write_conf(const char *text)
{
    snprintf(conf_path, sizeof(conf_path), "/tmp/test_profile.XXXXXX");
    int fd = mkstemp(conf_path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

/* Loads text as scepd.conf: the top level into top, then the profiles. Returns the result. */
static int load(const char *text, config *top, profile_set *ps, char *err, size_t errlen)
{
    write_conf(text);
    config_defaults(top, NULL);
    int rc = config_load(top, conf_path, err, errlen);
    if (rc == 0)
        rc = profile_set_load(ps, top, conf_path, err, errlen);
    unlink(conf_path);
    return rc;
}

static void test_sections_overlay_the_top_level(void **state)
{
    (void)state;
    config top;
    profile_set ps;
    char err[512];
    assert_int_equal(load("validity_days = 90\nchallenge = top-secret\n"
                          "[profile wifi]\nvalidity_days = 30\next_key_usage = clientAuth\n"
                          "[profile vpn]\nchallenge = none\napprove = manual\n",
                          &top, &ps, err, sizeof(err)),
                     0);
    assert_int_equal(ps.n, 3);
    const profile *def = profile_find(&ps, ""), *wifi = profile_find(&ps, "wifi");
    const profile *vpn = profile_find(&ps, "vpn");
    assert_ptr_equal(def->cfg, &top); /* the default is the top level itself */
    assert_int_equal(wifi->cfg->validity_days, 30);
    assert_string_equal(wifi->cfg->challenge, "top-secret"); /* inherited */
    assert_string_equal(wifi->cfg->ext_key_usage, "clientAuth");
    assert_int_equal(vpn->cfg->validity_days, 90);
    assert_true(vpn->cfg->challenge_none);
    assert_string_equal(vpn->cfg->challenge, "");
    assert_int_equal(top.validity_days, 90);
    assert_string_equal(top.ext_key_usage, ""); /* a section leaves the top level alone */
    assert_int_equal(wifi->line, 3);
    assert_null(profile_find(&ps, "nosuch"));
    profile_set_free(&ps);
}

/* Each broken file: the message it must give. */
static void test_errors_name_file_line_and_profile(void **state)
{
    (void)state;
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"[profile wifi]\nmin_rsa_bits = 12\n",
         ":2: [profile wifi]: bad value for min_rsa_bits: '12'"},
        {"[profile wifi]\nlisten = 127.0.0.1:1\n",
         ":2: [profile wifi]: 'listen' is not a profile setting"},
        {"[profile Wifi]\n", ":1: bad profile name 'Wifi'"},
        {"[profile aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]\n", ":1: bad profile name"},
        {"[profile a]\n[profile a]\n", ":2: [profile a] is defined twice"},
        {"[wifi]\n", ":1: expected '[profile NAME]'"},
        {"[profile open]\nchallenge = none\n",
         ":1: [profile open]: challenge = none needs approve = manual"},
        {"[profile k]\nallowed_keys = dsa:1024\n", ":2: [profile k]: bad value for allowed_keys"},
        {"[profile k]\nallowed_keys = rsa:4096-2048\n", "bad value for allowed_keys"},
        {"[profile k]\nsubject_match = (\n", "bad value for subject_match"},
        {"[profile k]\nsan_ip_ranges = 10.0.0.0/33\n", "bad value for san_ip_ranges"},
        {"[profile k]\nsan_dns_domains = exa mple.com\n", "bad value for san_dns_domains"},
        {"[profile k]\nkey_usage = keyCertSign\n", "bad value for key_usage"},
        {"[profile k]\next_key_usage = clientAuth,no-such\n", "bad value for ext_key_usage"},
        {"[profile k]\ncertificate_policies = anyPolicy\n", "bad value for certificate_policies"},
        {"[profile k]\nsan_template = DNS:{host}.example.com\n", "bad value for san_template"},
        {"[profile k]\nsubject_require = CN,NOSUCH\n", "bad value for subject_require"},
        {"challenge = none\n", "challenge = none needs approve = manual"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        config top;
        profile_set ps;
        char err[512] = "";
        assert_int_not_equal(load(cases[i].text, &top, &ps, err, sizeof(err)), 0);
        if (strstr(err, cases[i].want) == NULL)
            fail_msg("case %zu: '%s' does not hold '%s'", i, err, cases[i].want);
    }
}

/* p from a single section text (the rules), as a server would load it. */
static profile_set rules(const char *section, config *top)
{
    char text[1024], err[512];
    profile_set ps;
    snprintf(text, sizeof(text), "[profile p]\n%s", section);
    if (load(text, top, &ps, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    return ps;
}

static X509_REQ *csr_for(EVP_PKEY *key, const char *subject, const char *san)
{
    X509_NAME *name = ca_parse_name(subject);
    scep_csr_params cp = {.subject = name, .san = san};
    X509_REQ *csr = NULL;
    assert_int_equal(scep_csr_build(tu_ctx(0), key, &cp, &csr), SCEP_OK);
    X509_NAME_free(name);
    return csr;
}

/* NULL when the rules of section allow the request, else the reason. */
static const char *verdict(const char *section, EVP_PKEY *key, const char *subject, const char *san,
                           scep_err *err, char *why, size_t len)
{
    config top;
    profile_set ps = rules(section, &top);
    X509_REQ *csr = csr_for(key, subject, san);
    const char *r = policy_profile(profile_find(&ps, "p"), csr, key, err, why, len);
    X509_REQ_free(csr);
    profile_set_free(&ps);
    return r;
}

#define ALLOWED(section, key, subject, san)                                                        \
    do {                                                                                           \
        const char *r_ = verdict(section, key, subject, san, &err, why, sizeof(why));              \
        if (r_ != NULL)                                                                            \
            fail_msg("refused: %s", r_);                                                           \
    } while (0)
#define REFUSED(section, key, subject, san, want_err, want)                                        \
    do {                                                                                           \
        const char *r_ = verdict(section, key, subject, san, &err, why, sizeof(why));              \
        assert_non_null(r_);                                                                       \
        assert_int_equal(err, want_err);                                                           \
        if (strstr(r_, want) == NULL)                                                              \
            fail_msg("'%s' does not hold '%s'", r_, want);                                         \
    } while (0)

static void test_key_rules(void **state)
{
    (void)state;
    scep_err err;
    char why[192];
    const char *keys = "allowed_keys = rsa:3072-4096,ec:P-384\n";
    ALLOWED(keys, tu_rsa_key(3072, 0), "CN=a", NULL);
    ALLOWED(keys, tu_ec_key("P-384", 0), "CN=a", NULL);
    REFUSED(keys, tu_rsa_key(2048, 0), "CN=a", NULL, SCEP_E_BAD_ALG,
            "the request's RSA key of 2048 bits is not allowed (allowed_keys = "
            "rsa:3072-4096,ec:P-384)");
    REFUSED(keys, tu_ec_key("P-256", 0), "CN=a", NULL, SCEP_E_BAD_ALG, "not allowed");
    ALLOWED("allowed_keys = ec\n", tu_ec_key("P-256", 0), "CN=a", NULL);
}

static void test_subject_rules(void **state)
{
    (void)state;
    scep_err err;
    char why[192];
    EVP_PKEY *k = tu_rsa_key(2048, 0);
    ALLOWED("subject_require = CN,O\n", k, "CN=a,O=Example", NULL);
    REFUSED("subject_require = CN,O\n", k, "CN=a", NULL, SCEP_E_BAD_CSR,
            "the subject has no O (subject_require = CN,O)");
    ALLOWED("subject_match = ^CN=dev-[0-9]+,\n", k, "CN=dev-12,O=Example", NULL);
    REFUSED("subject_match = ^CN=dev-[0-9]+,\n", k, "CN=laptop,O=Example", NULL, SCEP_E_BAD_CSR,
            "does not match subject_match");
    /* A subject too long for the text is refused, not matched by its start. */
    char longer[2048] = "CN=dev-1";
    for (int i = 0; i < 24; i++) {
        size_t used = strlen(longer);
        snprintf(longer + used, sizeof(longer) - used, ",OU=%060d", i);
    }
    REFUSED("subject_match = ^CN=dev-[0-9]+,\n", k, longer, NULL, SCEP_E_BAD_CSR,
            "too long or malformed for subject_match");
}

static void test_san_rules(void **state)
{
    (void)state;
    scep_err err;
    char why[192];
    EVP_PKEY *k = tu_rsa_key(2048, 0);
    const char *dns = "san_dns_domains = example.com,.corp.example.com\n";
    ALLOWED(dns, k, "CN=a", "dns:example.com,dns:host.corp.example.com");
    REFUSED(dns, k, "CN=a", "dns:www.example.com", SCEP_E_BAD_CSR,
            "the SAN DNS:www.example.com is outside san_dns_domains");
    /* A leading dot is for names below it, not the domain itself. */
    REFUSED(dns, k, "CN=a", "dns:corp.example.com", SCEP_E_BAD_CSR, "DNS:corp.example.com");
    REFUSED(dns, k, "CN=a", "dns:evilcorp.example.com.attacker.org", SCEP_E_BAD_CSR, "outside");
    const char *mail = "san_email_domains = example.com\n";
    ALLOWED(mail, k, "CN=a", "email:dev@example.com");
    REFUSED(mail, k, "CN=a", "email:dev@example.org", SCEP_E_BAD_CSR,
            "the SAN email:dev@example.org is outside san_email_domains");
    const char *uri = "san_uri_match = ^urn:dev:[0-9a-f]+$\n";
    ALLOWED(uri, k, "CN=a", "uri:urn:dev:00ff");
    REFUSED(uri, k, "CN=a", "uri:https://x.example", SCEP_E_BAD_CSR, "san_uri_match");
    const char *ips = "san_ip_ranges = 10.0.0.0/8,2001:db8::/32,192.0.2.7\n";
    ALLOWED(ips, k, "CN=a", "ip:10.200.3.4,ip:2001:db8:1::5,ip:192.0.2.7");
    REFUSED(ips, k, "CN=a", "ip:11.0.0.1", SCEP_E_BAD_CSR,
            "the SAN IP:11.0.0.1 is outside san_ip_ranges");
    REFUSED(ips, k, "CN=a", "ip:192.0.2.8", SCEP_E_BAD_CSR, "IP:192.0.2.8");
    REFUSED(ips, k, "CN=a", "ip:2001:db9::1", SCEP_E_BAD_CSR, "IP:2001:db9::1");
    /* Types without a rule pass. */
    ALLOWED(dns, k, "CN=a", "ip:198.51.100.1,email:x@y.example");
    /* A wildcard is in no domain. */
    REFUSED(dns, k, "CN=a", "dns:*.corp.example.com", SCEP_E_BAD_CSR, "DNS:*.corp.example.com");
}

/* A CSR with two subjectAltName extensions: the first within the rules, the second not. */
static X509_REQ *csr_two_sans(EVP_PKEY *key)
{
    X509_REQ *csr = csr_for(key, "CN=a", NULL);
    STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, NULL, NULL, csr, NULL, 0);
    sk_X509_EXTENSION_push(
        exts, X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "DNS:a.example.com"));
    sk_X509_EXTENSION_push(
        exts, X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "DNS:evil.example.org"));
    assert_int_equal(X509_REQ_add_extensions(csr, exts), 1);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    assert_true(X509_REQ_sign(csr, key, EVP_sha256()) > 0);
    return csr;
}

static void test_repeated_san_refused(void **state)
{
    (void)state;
    config top;
    profile_set ps = rules("san_dns_domains = example.com,.example.com\n", &top);
    EVP_PKEY *k = tu_rsa_key(2048, 0);
    X509_REQ *csr = csr_two_sans(k);
    scep_err err;
    char why[192];
    const char *r = policy_profile(profile_find(&ps, "p"), csr, k, &err, why, sizeof(why));
    assert_non_null(r);
    assert_int_equal(err, SCEP_E_BAD_CSR);
    assert_non_null(strstr(r, "malformed or repeated"));
    X509_REQ_free(csr);
    profile_set_free(&ps);
}

/* The certificate p issues for csr. */
static X509 *issued(const char *section, X509_REQ *csr, char *why, size_t len)
{
    config top;
    profile_set ps = rules(section, &top);
    authority ca = {.cert = tu_test_ca()->ca_cert, .key = tu_test_ca()->ca_key};
    X509 *cert = ca_issue(&ca, csr, profile_find(&ps, "p")->cfg, why, len);
    profile_set_free(&ps);
    return cert;
}

static char *ext_text(X509 *cert, int nid)
{
    X509_EXTENSION *ext = X509_get_ext(cert, X509_get_ext_by_NID(cert, nid, -1));
    BIO *b = BIO_new(BIO_s_mem());
    assert_non_null(ext);
    X509V3_EXT_print(b, ext, 0, 0);
    char *text = calloc(1, 1024);
    BIO_read(b, text, 1023);
    BIO_free(b);
    return text;
}

static void test_issued_extensions(void **state)
{
    (void)state;
    char why[192];
    X509_REQ *csr = csr_for(tu_rsa_key(2048, 0), "CN=dev-1,O=Example", "dns:dev-1.example.com");
    X509 *cert = issued("key_usage = digitalSignature\n"
                        "ext_key_usage = serverAuth,1.3.6.1.4.1.99999.2\n"
                        "certificate_policies = 1.3.6.1.4.1.99999.1,2.23.140.1.2.1\n"
                        "san_template = DNS:{cn}.vpn.example.com,email:{cn}@example.com\n",
                        csr, why, sizeof(why));
    if (cert == NULL)
        fail_msg("%s", why);
    char *ku = ext_text(cert, NID_key_usage), *eku = ext_text(cert, NID_ext_key_usage);
    char *pol = ext_text(cert, NID_certificate_policies),
         *san = ext_text(cert, NID_subject_alt_name);
    assert_string_equal(ku, "Digital Signature");
    assert_string_equal(eku, "TLS Web Server Authentication, 1.3.6.1.4.1.99999.2");
    assert_non_null(strstr(pol, "Policy: 1.3.6.1.4.1.99999.1"));
    assert_non_null(strstr(pol, "Policy: 2.23.140.1.2.1"));
    assert_string_equal(san, "DNS:dev-1.example.com, DNS:dev-1.vpn.example.com, "
                             "email:dev-1@example.com");
    free(ku), free(eku), free(pol), free(san);
    X509_free(cert);
    /* copy_san = no: the template's names instead of the request's. */
    cert =
        issued("copy_san = no\nsan_template = DNS:{cn}.vpn.example.com\n", csr, why, sizeof(why));
    san = ext_text(cert, NID_subject_alt_name);
    assert_string_equal(san, "DNS:dev-1.vpn.example.com");
    free(san);
    X509_free(cert);
    X509_REQ_free(csr);
    /* A common name that makes no name: refused, nothing issued. */
    csr = csr_for(tu_rsa_key(2048, 0), "CN=dev 1/x,O=Example", NULL);
    assert_null(issued("san_template = DNS:{cn}.example.com\n", csr, why, sizeof(why)));
    assert_non_null(strstr(why, "san_template needs a common name"));
    X509_REQ_free(csr);
}

/* A one-time challenge is its profile's: the hash binds the profile's name. */
static void test_one_time_challenge_per_profile(void **state)
{
    (void)state;
    char err[256], wifi[64], plain[64];
    store *st = store_open(":memory:", err, sizeof(err));
    assert_non_null(st);
    config c;
    config_defaults(&c, NULL);
    assert_int_equal(
        challenge_mint_for(st, "wifi", 600, NULL, wifi, sizeof(wifi), err, sizeof(err)), 0);
    assert_int_equal(challenge_mint(st, 600, NULL, plain, sizeof(plain), err, sizeof(err)), 0);
    assert_int_equal(challenge_check_for(&c, "vpn", st, wifi, "CN=a"), CHALLENGE_WRONG);
    assert_int_equal(challenge_check_for(&c, "", st, wifi, "CN=a"), CHALLENGE_WRONG);
    assert_int_equal(challenge_check_for(&c, "wifi", st, plain, "CN=a"), CHALLENGE_WRONG);
    assert_int_equal(challenge_check_for(&c, "wifi", st, wifi, "CN=a"), CHALLENGE_ONE_TIME);
    assert_int_equal(challenge_check(&c, st, plain, "CN=a"), CHALLENGE_ONE_TIME);
    store_close(st);
}

/* One PKCSReq with this transactionID to a server of the test CA (challenge "pw"); the reply's
 * outcome and detail are in out (reply_free it). */
static void send_pkcs_req(const char *tid, reply *out)
{
    server srv = {0};
    era now = {0};
    char err[256];
    config_defaults(&srv.cfg, NULL);
    snprintf(srv.cfg.challenge, sizeof(srv.cfg.challenge), "pw");
    srv.ctx = tu_ctx(0);
    now.ca.cert = tu_test_ca()->ca_cert;
    now.ca.key = tu_test_ca()->ca_key;
    store *st = store_open(":memory:", err, sizeof(err));
    EVP_PKEY *key = tu_rsa_key(2048, 1);
    X509_NAME *name = ca_parse_name("CN=dev-1");
    scep_csr_params cp = {.subject = name, .challenge_password = "pw"};
    X509_REQ *csr = NULL;
    X509 *signer = NULL;
    assert_int_equal(scep_csr_build(tu_ctx(0), key, &cp, &csr), SCEP_OK);
    assert_int_equal(scep_selfsigned_signer(tu_ctx(0), key, name, 1, SCEP_DIGEST_SHA256, &signer),
                     SCEP_OK);
    unsigned char nonce[SCEP_NONCE_BYTES], *der = NULL;
    size_t len = 0;
    assert_int_equal(scep_nonce(nonce, sizeof(nonce)), SCEP_OK);
    scep_msg_params p = {.type = SCEP_MSG_PKCS_REQ,
                         .transaction_id = tid,
                         .sender_nonce = nonce,
                         .sender_nonce_len = sizeof(nonce),
                         .csr = csr,
                         .signer_cert = signer,
                         .signer_key = key,
                         .digest = SCEP_DIGEST_SHA256,
                         .recipient_cert = now.ca.cert,
                         .cipher = SCEP_CIPHER_AES128_CBC};
    assert_int_equal(scep_msg_encode(tu_ctx(0), &p, &der, &len), SCEP_OK);
    reply_init(out);
    enroll_handle(&srv, &now, st, der, len, out);
    OPENSSL_free(der);
    X509_free(signer);
    X509_REQ_free(csr);
    X509_NAME_free(name);
    store_close(st);
}

/* profile_ca_config(p, ...)'s error for a ca_dir of dir holding conf (NULL: no scepd.conf). */
static void ca_dir_refused(const char *dir, const char *conf, const char *want)
{
    char text[256], err[1024], path[128];
    config *top = calloc(1, sizeof(*top)), *c = calloc(1, sizeof(*c));
    profile_set ps = {0};
    snprintf(path, sizeof(path), "%s/scepd.conf", dir);
    if (conf != NULL) {
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(conf, f);
        fclose(f);
    }
    snprintf(text, sizeof(text), "[profile iot]\nca_dir = %s\n", dir);
    assert_int_equal(load(text, top, &ps, err, sizeof(err)), 0);
    assert_int_equal(profile_ca_config(&ps.items[1], top, c, err, sizeof(err)), -1);
    if (strstr(err, want) == NULL)
        fail_msg("'%s' does not say '%s'", err, want);
    unlink(path);
    profile_set_free(&ps);
    free(top);
    free(c);
}

/* A profile's ca_dir that is missing, not a scepd directory, or whose scepd.conf is broken. */
static void test_ca_dir_refusals(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_ca_dir.XXXXXX", want[128];
    assert_non_null(mkdtemp(dir));
    ca_dir_refused("/nonexistent-ca-dir", NULL,
                   "[profile iot]: ca_dir /nonexistent-ca-dir: No such file or directory");
    snprintf(want, sizeof(want), "[profile iot]: ca_dir %s is not a scepd directory", dir);
    ca_dir_refused(dir, NULL, want);
    snprintf(want, sizeof(want), "[profile iot]: ca_dir %s: %s/scepd.conf:2:", dir, dir);
    ca_dir_refused(dir, "ca_cert = ca.pem\nno_such_setting = 1\n", want);
    rmdir(dir);
}

/* A transactionID with the mark of a profile's transaction keys could pass for another
 * profile's: refused. */
static void test_transaction_id_with_profile_mark(void **state)
{
    (void)state;
    reply out;
    send_pkcs_req("4F2A0C", &out);
    assert_string_equal(out.outcome, "SUCCESS");
    reply_free(&out);
    send_pkcs_req("4F2A0C@profile:vpn", &out);
    assert_string_equal(out.outcome, "FAILURE");
    assert_non_null(strstr(out.detail, "the transactionID holds '@profile:'"));
    reply_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sections_overlay_the_top_level),
        cmocka_unit_test(test_errors_name_file_line_and_profile),
        cmocka_unit_test(test_key_rules),
        cmocka_unit_test(test_subject_rules),
        cmocka_unit_test(test_san_rules),
        cmocka_unit_test(test_repeated_san_refused),
        cmocka_unit_test(test_issued_extensions),
        cmocka_unit_test(test_one_time_challenge_per_profile),
        cmocka_unit_test(test_transaction_id_with_profile_mark),
        cmocka_unit_test(test_ca_dir_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
