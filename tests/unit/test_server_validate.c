/* The validation webhook's documents (server/validate/): the request scepd sends, its
 * signature, the answers it accepts and the hostile ones it refuses; the settings' checks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "config/config.h"
#include "validate/validate.h"
#include "testutil.h"

/* A CSR for CN=dev-1 with an EC P-256 key and DNS and IP names; the key in *key. */
static X509_REQ *make_csr(EVP_PKEY **key)
{
    *key = EVP_EC_gen("P-256");
    X509_REQ *csr = X509_REQ_new();
    assert_non_null(*key);
    assert_non_null(csr);
    X509_NAME *name = X509_REQ_get_subject_name(csr);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"dev-1", -1, -1, 0);
    X509_REQ_set_pubkey(csr, *key);
    STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
    X509_EXTENSION *san =
        X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, "DNS:dev-1.example,IP:192.0.2.7");
    sk_X509_EXTENSION_push(exts, san);
    X509_REQ_add_extensions(csr, exts);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    assert_true(X509_REQ_sign(csr, *key, EVP_sha256()) > 0);
    return csr;
}

static const char *field(json_object *doc, const char *name)
{
    json_object *f = NULL;
    assert_true(json_object_object_get_ex(doc, name, &f));
    return f ? json_object_get_string(f) : NULL;
}

static void test_document(void **state)
{
    (void)state;
    EVP_PKEY *key = NULL;
    X509_REQ *csr = make_csr(&key);
    validate_input in = {.profile = "default",
                         .message_type = "PKCSReq",
                         .transaction_id = "TID-1",
                         .csr = csr,
                         .key = key,
                         .subject = "CN=dev-1",
                         .challenge = "pw\"1",
                         .client = "192.0.2.1"};
    char *text = validate_document(&in, "00ff", 86400LL * 365 * 56);
    assert_non_null(text);
    json_object *doc = json_tokener_parse(text);
    assert_non_null(doc);
    assert_int_equal(json_object_get_int(json_object_object_get(doc, "version")), 1);
    assert_string_equal(field(doc, "id"), "00ff");
    assert_string_equal(field(doc, "time"), "2025-12-18T00:00:00Z");
    assert_string_equal(field(doc, "profile"), "default");
    assert_string_equal(field(doc, "message_type"), "PKCSReq");
    assert_string_equal(field(doc, "transaction_id"), "TID-1");
    assert_string_equal(field(doc, "subject"), "CN=dev-1");
    assert_string_equal(field(doc, "challenge"), "pw\"1");
    assert_string_equal(field(doc, "client"), "192.0.2.1");
    assert_null(field(doc, "signer"));
    assert_non_null(strstr(field(doc, "csr"), "-----BEGIN CERTIFICATE REQUEST-----"));
    json_object *sans = json_object_object_get(doc, "sans");
    assert_int_equal(json_object_array_length(sans), 2);
    assert_string_equal(json_object_get_string(json_object_array_get_idx(sans, 0)),
                        "DNS:dev-1.example");
    assert_string_equal(json_object_get_string(json_object_array_get_idx(sans, 1)), "IP:192.0.2.7");
    json_object *k = json_object_object_get(doc, "key");
    assert_string_equal(field(k, "type"), "EC");
    assert_int_equal(json_object_get_int(json_object_object_get(k, "bits")), 256);
    assert_string_equal(field(k, "curve"), "P-256");
    json_object_put(doc);
    free(text);
    /* No challenge: null, not an empty string. */
    in.challenge = NULL;
    text = validate_document(&in, "00ff", 0);
    doc = json_tokener_parse(text);
    assert_null(field(doc, "challenge"));
    json_object_put(doc);
    free(text);
    X509_REQ_free(csr);
    EVP_PKEY_free(key);
}

/* RFC 4231 test case 2. */
static void test_signature(void **state)
{
    (void)state;
    char sig[80];
    const char *data = "what do ya want for nothing?";
    assert_int_equal(validate_signature("Jefe", data, strlen(data), sig, sizeof(sig)), 0);
    assert_string_equal(sig,
                        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    assert_int_equal(validate_signature("Jefe", data, strlen(data), sig, 20), -1);
}

static int parse(const char *body, validate_verdict *v, char *err, size_t errlen)
{
    return validate_parse_answer(body, strlen(body), v, err, errlen);
}

static void test_answers(void **state)
{
    (void)state;
    validate_verdict v;
    char err[256];
    assert_int_equal(parse("{\"allow\": true, \"future\": {\"x\": [1]}}", &v, err, sizeof(err)), 0);
    assert_int_equal(v.result, VALIDATE_ALLOW);
    assert_null(v.sans);
    assert_int_equal(v.validity_days, 0);
    assert_int_equal(parse("{\"allow\": false, \"reason\": \"not in\\ninventory\\u00e9\"}", &v, err,
                           sizeof(err)),
                     0);
    assert_int_equal(v.result, VALIDATE_DENY);
    assert_string_equal(v.reason, "not in?inventory??"); /* printable ASCII only */
    assert_int_equal(parse("{\"allow\": false}", &v, err, sizeof(err)), 0);
    assert_string_equal(v.reason, "denied by the validation service");
    assert_int_equal(
        parse(" {\"allow\": true, \"validity_days\": 30, \"sans\": [\"DNS:a.example\", "
              "\"IP:2001:db8::1\", \"email:a@b.example\", \"URI:urn:x:1\"]}\n",
              &v, err, sizeof(err)),
        0);
    assert_int_equal(v.validity_days, 30);
    assert_int_equal(sk_GENERAL_NAME_num(v.sans), 4);
    assert_int_equal(sk_GENERAL_NAME_value(v.sans, 1)->type, GEN_IPADD);
    validate_verdict_clear(&v);
    assert_null(v.sans);
    assert_int_equal(parse("{\"allow\": true, \"sans\": []}", &v, err, sizeof(err)), 0);
    assert_int_equal(sk_GENERAL_NAME_num(v.sans), 0); /* no names at all */
    validate_verdict_clear(&v);
}

static void test_hostile_answers(void **state)
{
    (void)state;
    static const struct {
        const char *body, *why;
    } cases[] = {
        {"", "not one JSON document"},
        {"{not json", "not one JSON document"},
        {"{\"allow\": true} {\"allow\": false}", "not one JSON document"},
        {"{\"allow\": true", "not one JSON document"},
        {"[true]", "not a JSON object"},
        {"true", "not one JSON document"}, /* a bare scalar never ends without a delimiter */
        {"{}", "\"allow\" is missing"},
        {"{\"allow\": \"true\"}", "\"allow\" is missing or not true or false"},
        {"{\"allow\": 1}", "\"allow\" is missing or not true or false"},
        {"{\"allow\": true, \"reason\": 5}", "\"reason\" is not a string"},
        {"{\"allow\": true, \"validity_days\": \"3\"}", "\"validity_days\" is not"},
        {"{\"allow\": true, \"validity_days\": 3.5}", "\"validity_days\" is not"},
        {"{\"allow\": true, \"validity_days\": 0}", "\"validity_days\" is not"},
        {"{\"allow\": true, \"validity_days\": 99999999999999999999}", "\"validity_days\" is not"},
        {"{\"allow\": true, \"sans\": \"DNS:a\"}", "\"sans\" is not an array"},
        {"{\"allow\": true, \"sans\": [7]}", "\"sans\"[0] is not"},
        {"{\"allow\": true, \"sans\": [\"DNS:a b\"]}", "\"sans\"[0] is not"},
        {"{\"allow\": true, \"sans\": [\"DNS:\"]}", "\"sans\"[0] is not"},
        {"{\"allow\": true, \"sans\": [\"IP:999.1.1.1\"]}", "\"sans\"[0] is not"},
        {"{\"allow\": true, \"sans\": [\"dirName:CN=x\"]}", "\"sans\"[0] is not"},
        {"{\"allow\": true, \"sans\": [\"email:nobody\"]}", "\"sans\"[0] is not"},
        {"{\"allow\": true, \"sans\": [\"DNS:a\", \"DNS:a\\u0000b\"]}", "\"sans\"[1] is not"},
    };
    validate_verdict v;
    char err[256];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(parse(cases[i].body, &v, err, sizeof(err)), -1);
        if (strstr(err, cases[i].why) == NULL)
            fail_msg("%s: '%s', expected '%s'", cases[i].body, err, cases[i].why);
        assert_null(v.sans);
    }
    /* A NUL byte in the body. */
    assert_int_equal(validate_parse_answer("{\"allow\": true}\0", 16, &v, err, sizeof(err)), -1);
}

/* Nesting past the limit, a body past 64 KiB, a huge reason, too many names. */
static void test_hostile_sizes(void **state)
{
    (void)state;
    validate_verdict v;
    char err[256];
    size_t n = 200000;
    char *big = malloc(n + 64);
    assert_non_null(big);
    snprintf(big, 64, "{\"allow\": true, \"x\": ");
    size_t at = strlen(big);
    for (size_t i = 0; i < 1000; i++)
        big[at++] = '[';
    big[at] = '\0';
    assert_int_equal(parse(big, &v, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not one JSON document"));
    memset(big, ' ', n);
    memcpy(big, "{\"allow\": true}", 15);
    big[n] = '\0';
    assert_int_equal(parse(big, &v, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "longer than 65536 bytes"));
    /* A reason of 60,000 bytes: cut to VALIDATE_REASON. */
    at = (size_t)snprintf(big, 64, "{\"allow\": false, \"reason\": \"");
    memset(big + at, 'r', 60000);
    snprintf(big + at + 60000, 64, "\"}");
    assert_int_equal(parse(big, &v, err, sizeof(err)), 0);
    assert_int_equal(strlen(v.reason), VALIDATE_REASON);
    /* 65 names. */
    at = (size_t)snprintf(big, 64, "{\"allow\": true, \"sans\": [");
    for (int i = 0; i < VALIDATE_MAX_SANS + 1; i++)
        at += (size_t)snprintf(big + at, 64, "%s\"DNS:n%d.example\"", i ? "," : "", i);
    snprintf(big + at, 64, "]}");
    assert_int_equal(parse(big, &v, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "more than 64 names"));
    free(big);
}

static void test_settings(void **state)
{
    (void)state;
    static const struct {
        const char *url;
        int ok;
    } urls[] = {
        {"https://hooks.example/validate", 1},
        {"https://hooks.example:8443/v?profile=wifi", 1},
        {"http://127.0.0.1:9000/v", 1},
        {"http://[::1]/v", 1},
        {"", 1},
        {"http://hooks.example/v", 0},
        {"http://localhost/v", 0},
        {"http://127.0.0.1@evil.example/v", 0},
        {"http://127.0.0.1:80@evil.example/v", 0},
        {"https://user:pw@hooks.example/v", 0},
        {"ftp://hooks.example/v", 0},
        {"https://hooks.example/a b", 0},
        {"hooks.example", 0},
    };
    config c;
    char err[256];
    config_defaults(&c, "/tmp");
    assert_int_equal(c.validate.timeout, 5);
    for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++)
        if ((config_set(&c, "validate_url", urls[i].url, err, sizeof(err)) == 0) != urls[i].ok)
            fail_msg("validate_url %s: expected %s", urls[i].url, urls[i].ok ? "ok" : "refused");
    assert_int_equal(config_set(&c, "validate_failure", "pending", err, sizeof(err)), 0);
    assert_int_equal(c.validate.failure, VALIDATE_FAIL_PENDING);
    assert_int_equal(config_set(&c, "validate_failure", "allow", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "deny or pending"));
    assert_int_equal(config_set(&c, "validate_timeout", "0", err, sizeof(err)), -1);
    /* A URL without a secret file is an error at start-up. */
    assert_int_equal(config_set(&c, "validate_url", "https://h.example/", err, sizeof(err)), 0);
    assert_int_equal(config_read_validate_secret(&c, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "needs validate_secret_file"));
}

/* No webhook listening: no verdict, a reason naming the failure, nothing held. */
static void test_unreachable(void **state)
{
    (void)state;
    EVP_PKEY *key = NULL;
    X509_REQ *csr = make_csr(&key);
    validate_settings s = {.url = "http://127.0.0.1:1/none", .secret = "k", .timeout = 2};
    validate_input in = {.message_type = "PKCSReq", .csr = csr, .key = key, .challenge = "pw"};
    validate_verdict v;
    char err[512];
    assert_int_equal(validate_request(&s, &in, &v, err, sizeof(err)), VALIDATE_UNAVAILABLE);
    assert_int_equal(v.result, VALIDATE_UNAVAILABLE);
    assert_null(v.sans);
    if (strstr(err, "validation service: ") != err || strstr(err, "onnect") == NULL)
        fail_msg("unreachable: '%s'", err);
    assert_null(strstr(err, "pw"));
    X509_REQ_free(csr);
    EVP_PKEY_free(key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_document),      cmocka_unit_test(test_signature),
        cmocka_unit_test(test_answers),       cmocka_unit_test(test_hostile_answers),
        cmocka_unit_test(test_hostile_sizes), cmocka_unit_test(test_settings),
        cmocka_unit_test(test_unreachable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
