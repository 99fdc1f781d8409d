/* What `scepd pending` shows of a request's CSR (server/admin/request_info.c): the key and the
 * subjectAltName as single tokens, hostile names escaped rather than shown as they claim. */
#include <string.h>

#include <openssl/x509v3.h>

#include "testutil.h"

#include "admin/request_info.h"

static GENERAL_NAME *name_of(int type, const char *bytes, int len)
{
    GENERAL_NAME *gn = GENERAL_NAME_new();
    ASN1_IA5STRING *s = ASN1_IA5STRING_new();
    assert_true(gn && s && ASN1_STRING_set(s, bytes, len));
    GENERAL_NAME_set0_value(gn, type, s);
    return gn;
}

static GENERAL_NAME *ip_of(const unsigned char *addr, int len)
{
    GENERAL_NAME *gn = GENERAL_NAME_new();
    ASN1_OCTET_STRING *s = ASN1_OCTET_STRING_new();
    assert_true(gn && s && ASN1_OCTET_STRING_set(s, addr, len));
    GENERAL_NAME_set0_value(gn, GEN_IPADD, s);
    return gn;
}

/* A CSR for key with one subjectAltName extension per non-NULL entry of sans (taken). */
static X509_REQ *csr_with(EVP_PKEY *key, GENERAL_NAMES *san1, GENERAL_NAMES *san2)
{
    X509_REQ *csr = X509_REQ_new();
    assert_non_null(csr);
    assert_true(X509_REQ_set_pubkey(csr, key));
    STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
    GENERAL_NAMES *sans[2] = {san1, san2};
    for (int i = 0; i < 2; i++) {
        if (sans[i] == NULL)
            continue;
        X509_EXTENSION *ext = X509V3_EXT_i2d(NID_subject_alt_name, 0, sans[i]);
        assert_non_null(ext);
        sk_X509_EXTENSION_push(exts, ext);
        GENERAL_NAMES_free(sans[i]);
    }
    if (sk_X509_EXTENSION_num(exts) > 0)
        assert_true(X509_REQ_add_extensions(csr, exts));
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    assert_true(X509_REQ_sign(csr, key, EVP_sha256()) > 0);
    return csr;
}

/* The request as the store gives it back: DER, decoded again by request_info_csr(). */
static X509_REQ *stored(X509_REQ *csr)
{
    store_request r = {0};
    unsigned char *der = NULL;
    int n = i2d_X509_REQ(csr, &der);
    assert_true(n > 0);
    r.csr_der = der;
    r.csr_len = (size_t)n;
    X509_REQ *back = request_info_csr(&r);
    assert_non_null(back);
    OPENSSL_free(der);
    X509_REQ_free(csr);
    return back;
}

static void test_key(void **state)
{
    (void)state;
    const struct {
        EVP_PKEY *key;
        const char *want;
    } keys[] = {
        {tu_rsa_key(2048, 0), "RSA-2048"},
        {tu_ec_key("P-256", 0), "EC-P-256"},
        {tu_ec_key("P-384", 0), "EC-P-384"},
    };
    char key[64];
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        X509_REQ *csr = stored(csr_with(keys[i].key, NULL, NULL));
        request_info_key(csr, key, sizeof(key));
        assert_string_equal(key, keys[i].want);
        X509_REQ_free(csr);
    }
    request_info_key(NULL, key, sizeof(key));
    assert_string_equal(key, "?");
}

static void test_san(void **state)
{
    (void)state;
    char san[256];
    X509_REQ *csr = stored(csr_with(tu_rsa_key(2048, 0), NULL, NULL));
    request_info_san(csr, san, sizeof(san));
    assert_string_equal(san, "-");
    X509_REQ_free(csr);

    static const unsigned char v4[] = {192, 0, 2, 7};
    static const unsigned char v6[] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    GENERAL_NAMES *names = GENERAL_NAMES_new();
    sk_GENERAL_NAME_push(names, name_of(GEN_DNS, "device-2.example", -1));
    sk_GENERAL_NAME_push(names, ip_of(v4, 4));
    sk_GENERAL_NAME_push(names, ip_of(v6, 16));
    sk_GENERAL_NAME_push(names, name_of(GEN_EMAIL, "ops@example.com", -1));
    sk_GENERAL_NAME_push(names, name_of(GEN_URI, "https://example.com/d", -1));
    csr = stored(csr_with(tu_rsa_key(2048, 0), names, NULL));
    request_info_san(csr, san, sizeof(san));
    assert_string_equal(
        san, "DNS:device-2.example,IP:192.0.2.7,IP:2001:DB8:0:0:0:0:0:1,email:ops@example.com,"
             "URI:https://example.com/d");
    X509_REQ_free(csr);
}

/* A name that pretends to be two, hides a part behind a NUL, or holds a line break is shown
 * as the bytes it is; two extensions are both shown. */
static void test_hostile_san(void **state)
{
    (void)state;
    char san[256];
    GENERAL_NAMES *first = GENERAL_NAMES_new(), *second = GENERAL_NAMES_new();
    sk_GENERAL_NAME_push(first, name_of(GEN_DNS, "a.example,DNS:bank.example", -1));
    sk_GENERAL_NAME_push(first, name_of(GEN_DNS, "evil.example\0.good.example", 26));
    sk_GENERAL_NAME_push(first, name_of(GEN_DNS, "x y\n\\", -1));
    sk_GENERAL_NAME_push(second, name_of(GEN_DNS, "second.example", -1));
    X509_REQ *csr = stored(csr_with(tu_rsa_key(2048, 0), first, second));
    request_info_san(csr, san, sizeof(san));
    assert_string_equal(san, "DNS:a.example\\x2CDNS:bank.example,"
                             "DNS:evil.example\\x00.good.example,"
                             "DNS:x\\x20y\\x0A\\x5C,DNS:second.example");
    /* Cut to the buffer, and saying so. */
    char small[24];
    request_info_san(csr, small, sizeof(small));
    assert_string_equal(small, "DNS:a.example\\x2CDNS...");
    X509_REQ_free(csr);
}

static void test_unreadable_csr(void **state)
{
    (void)state;
    static unsigned char junk[] = {0x30, 0x03, 0x02, 0x01, 0x01};
    store_request r = {.csr_der = junk, .csr_len = sizeof(junk)};
    assert_null(request_info_csr(&r));
    r.csr_der = NULL;
    r.csr_len = 0;
    assert_null(request_info_csr(&r));
    char san[16];
    request_info_san(NULL, san, sizeof(san));
    assert_string_equal(san, "-");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key),
        cmocka_unit_test(test_san),
        cmocka_unit_test(test_hostile_san),
        cmocka_unit_test(test_unreadable_csr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
