/* GetCACaps text and algorithm negotiation (lib/caps.c). */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define ALL_CAPS                                                                                   \
    (SCEP_CAP_AES | SCEP_CAP_DES3 | SCEP_CAP_GET_NEXT_CA_CERT | SCEP_CAP_POST_PKI_OPERATION |      \
     SCEP_CAP_RENEWAL | SCEP_CAP_SHA1 | SCEP_CAP_SHA224 | SCEP_CAP_SHA256 | SCEP_CAP_SHA384 |      \
     SCEP_CAP_SHA512 | SCEP_CAP_SCEP_STANDARD | SCEP_CAP_UPDATE)
#define STANDARD_SET                                                                               \
    (SCEP_CAP_SCEP_STANDARD | SCEP_CAP_AES | SCEP_CAP_POST_PKI_OPERATION | SCEP_CAP_SHA256)

typedef struct format_case {
    scep_caps caps;
    const char *text;
} format_case;

static const format_case format_cases[] = {
    {0, ""},
    {SCEP_CAP_AES, "AES\n"},
    {SCEP_CAP_SHA256 | SCEP_CAP_AES | SCEP_CAP_POST_PKI_OPERATION,
     "AES\nPOSTPKIOperation\nSHA-256\n"},
    /* SCEPStandard lists what it implies as words of their own (Apple looks for them). */
    {SCEP_CAP_SCEP_STANDARD, "AES\nPOSTPKIOperation\nSHA-256\nSCEPStandard\n"},
    {SCEP_CAP_SCEP_STANDARD | SCEP_CAP_SHA384 | SCEP_CAP_RENEWAL,
     "AES\nPOSTPKIOperation\nRenewal\nSHA-256\nSHA-384\nSCEPStandard\n"},
    {SCEP_CAP_DES3 | (1u << 20), "DES3\n"}, /* unknown bits are not printed */
    {ALL_CAPS, "AES\nDES3\nGetNextCACert\nPOSTPKIOperation\nRenewal\nSHA-1\nSHA-224\nSHA-256\n"
               "SHA-384\nSHA-512\nSCEPStandard\nUpdate\n"},
};

static void test_format_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(format_cases) / sizeof(format_cases[0]); i++) {
        char *text = NULL;
        size_t len = 99;
        assert_int_equal(scep_caps_format(format_cases[i].caps, &text, &len), SCEP_OK);
        assert_non_null(text);
        assert_string_equal(text, format_cases[i].text);
        assert_int_equal(len, strlen(format_cases[i].text));
        free(text);
    }
}

typedef struct parse_case {
    const char *text;
    size_t len; /* 0: strlen(text) */
    scep_err err;
    scep_caps caps;
} parse_case;

static const parse_case parse_cases[] = {
    {"", 0, SCEP_OK, 0},
    {"\n \t\r\n", 0, SCEP_OK, 0},
    {"AES\nDES3\n", 0, SCEP_OK, SCEP_CAP_AES | SCEP_CAP_DES3},
    {"aes\r\nsha-256\r\n", 0, SCEP_OK, SCEP_CAP_AES | SCEP_CAP_SHA256},
    {"GETNEXTCACERT postpkioperation\tReNeWaL", 0, SCEP_OK,
     SCEP_CAP_GET_NEXT_CA_CERT | SCEP_CAP_POST_PKI_OPERATION | SCEP_CAP_RENEWAL},
    {"SHA-1\nSHA-224\nSHA-384\nSHA-512\nUpdate", 0, SCEP_OK,
     SCEP_CAP_SHA1 | SCEP_CAP_SHA224 | SCEP_CAP_SHA384 | SCEP_CAP_SHA512 | SCEP_CAP_UPDATE},
    {"FooBar\nAES\nX-Unknown\nSHA-3", 0, SCEP_OK, SCEP_CAP_AES},
    /* Prefixes and extensions of keywords are other keywords. */
    {"AESX\nSHA\nSHA-2560\nDES\nSHA1\nDES3-CBC", 0, SCEP_OK, 0},
    {"SCEPStandard", 0, SCEP_OK, STANDARD_SET},
    {"scepstandard\r\nDES3", 0, SCEP_OK, STANDARD_SET | SCEP_CAP_DES3},
    {"AES\r\n\r\n\r\nDES3", 0, SCEP_OK, SCEP_CAP_AES | SCEP_CAP_DES3},
    {"AES\0DES3", 8, SCEP_E_BAD_ENCODING, 0},
    {"AES\n\0", 5, SCEP_E_BAD_ENCODING, 0},
    /* Only len bytes count: the "DES3" after them is not read. */
    {"AES\nDES3", 4, SCEP_OK, SCEP_CAP_AES},
};

static void test_parse_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
        const parse_case *c = &parse_cases[i];
        scep_caps caps = 0xdeadbeef;
        size_t len = c->len ? c->len : strlen(c->text);
        assert_int_equal(scep_caps_parse(c->text, len, &caps), c->err);
        assert_int_equal(caps, c->caps);
    }
}

static void test_parse_size_limit(void **state)
{
    (void)state;
    char *text = malloc(SCEP_MAX_CAPS_BYTES + 1);
    assert_non_null(text);
    memset(text, ' ', SCEP_MAX_CAPS_BYTES + 1);
    memcpy(text + SCEP_MAX_CAPS_BYTES - 3, "AES", 3);
    scep_caps caps = 0xdeadbeef;
    assert_int_equal(scep_caps_parse(text, SCEP_MAX_CAPS_BYTES, &caps), SCEP_OK);
    assert_int_equal(caps, SCEP_CAP_AES);
    caps = 0xdeadbeef;
    assert_int_equal(scep_caps_parse(text, SCEP_MAX_CAPS_BYTES + 1, &caps), SCEP_E_TOO_LARGE);
    assert_int_equal(caps, 0);
    free(text);
}

/* Every mask survives format then parse (with SCEPStandard's implications added). */
static void test_format_parse_round_trip(void **state)
{
    (void)state;
    for (scep_caps caps = 0; caps <= ALL_CAPS; caps++) {
        char *text = NULL;
        size_t len = 0;
        scep_caps back = 0;
        assert_int_equal(scep_caps_format(caps, &text, &len), SCEP_OK);
        assert_int_equal(scep_caps_parse(text, len, &back), SCEP_OK);
        scep_caps expect = caps & SCEP_CAP_SCEP_STANDARD ? caps | STANDARD_SET : caps;
        assert_int_equal(back, expect);
        free(text);
    }
}

typedef struct negotiate_case {
    scep_caps caps;
    int legacy;
    scep_err err;
    scep_cipher cipher;
    scep_digest digest;
    int use_post;
} negotiate_case;

static const negotiate_case negotiate_cases[] = {
    {0, 0, SCEP_E_NEGOTIATION, 0, 0, 0},
    {0, 1, SCEP_OK, SCEP_CIPHER_DES_CBC, SCEP_DIGEST_MD5, 0},
    {SCEP_CAP_AES | SCEP_CAP_SHA256 | SCEP_CAP_POST_PKI_OPERATION, 0, SCEP_OK,
     SCEP_CIPHER_AES128_CBC, SCEP_DIGEST_SHA256, 1},
    {SCEP_CAP_SCEP_STANDARD, 0, SCEP_OK, SCEP_CIPHER_AES128_CBC, SCEP_DIGEST_SHA256, 1},
    {SCEP_CAP_DES3 | SCEP_CAP_SHA1, 0, SCEP_OK, SCEP_CIPHER_DES3_CBC, SCEP_DIGEST_SHA1, 0},
    {SCEP_CAP_DES3 | SCEP_CAP_SHA1 | SCEP_CAP_POST_PKI_OPERATION, 1, SCEP_OK, SCEP_CIPHER_DES3_CBC,
     SCEP_DIGEST_SHA1, 1},
    {SCEP_CAP_AES | SCEP_CAP_DES3 | SCEP_CAP_SHA1 | SCEP_CAP_SHA512, 0, SCEP_OK,
     SCEP_CIPHER_AES128_CBC, SCEP_DIGEST_SHA512, 0},
    {SCEP_CAP_AES | SCEP_CAP_SHA384 | SCEP_CAP_SHA512, 0, SCEP_OK, SCEP_CIPHER_AES128_CBC,
     SCEP_DIGEST_SHA512, 0},
    {SCEP_CAP_DES3 | SCEP_CAP_SHA384 | SCEP_CAP_SHA224 | SCEP_CAP_SHA1, 0, SCEP_OK,
     SCEP_CIPHER_DES3_CBC, SCEP_DIGEST_SHA384, 0},
    {SCEP_CAP_AES | SCEP_CAP_SHA224 | SCEP_CAP_SHA1, 0, SCEP_OK, SCEP_CIPHER_AES128_CBC,
     SCEP_DIGEST_SHA224, 0},
    /* A digest but no cipher: only single DES is left. */
    {SCEP_CAP_SHA256, 0, SCEP_E_NEGOTIATION, 0, 0, 0},
    {SCEP_CAP_SHA256, 1, SCEP_OK, SCEP_CIPHER_DES_CBC, SCEP_DIGEST_SHA256, 0},
    /* A cipher but no digest: only MD5 is left. */
    {SCEP_CAP_AES | SCEP_CAP_POST_PKI_OPERATION, 0, SCEP_E_NEGOTIATION, 0, 0, 0},
    {SCEP_CAP_AES | SCEP_CAP_POST_PKI_OPERATION, 1, SCEP_OK, SCEP_CIPHER_AES128_CBC,
     SCEP_DIGEST_MD5, 1},
    {SCEP_CAP_RENEWAL | SCEP_CAP_GET_NEXT_CA_CERT | SCEP_CAP_UPDATE, 0, SCEP_E_NEGOTIATION, 0, 0,
     0},
};

static void test_negotiate_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(negotiate_cases) / sizeof(negotiate_cases[0]); i++) {
        const negotiate_case *c = &negotiate_cases[i];
        scep_negotiated got;
        memset(&got, 0x5a, sizeof(got));
        assert_int_equal(scep_caps_negotiate(tu_ctx(c->legacy), c->caps, &got), c->err);
        assert_int_equal(got.cipher, c->cipher);
        assert_int_equal(got.digest, c->digest);
        assert_int_equal(got.use_post, c->use_post);
    }
}

static void test_negotiate_from_text(void **state)
{
    (void)state;
    /* The default list of micromdm's scepserver (no final LF), through the whole path. */
    static const char text[] = "Renewal\nSHA-1\nSHA-256\nAES\nDES3\nSCEPStandard\n"
                               "POSTPKIOperation";
    scep_caps caps = 0;
    scep_negotiated got;
    assert_int_equal(scep_caps_parse(text, sizeof(text) - 1, &caps), SCEP_OK);
    assert_int_equal(scep_caps_negotiate(tu_ctx(0), caps, &got), SCEP_OK);
    assert_int_equal(got.cipher, SCEP_CIPHER_AES128_CBC);
    assert_int_equal(got.digest, SCEP_DIGEST_SHA256);
    assert_int_equal(got.use_post, 1);
}

static void test_null_arguments(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    scep_caps caps = 0;
    scep_negotiated got;
    assert_int_equal(scep_caps_format(SCEP_CAP_AES, NULL, &len), SCEP_E_INVALID_ARG);
    assert_int_equal(scep_caps_format(SCEP_CAP_AES, &text, NULL), SCEP_E_INVALID_ARG);
    assert_int_equal(scep_caps_parse(NULL, 3, &caps), SCEP_E_INVALID_ARG);
    assert_int_equal(scep_caps_parse("AES", 3, NULL), SCEP_E_INVALID_ARG);
    assert_int_equal(scep_caps_negotiate(NULL, SCEP_CAP_SCEP_STANDARD, &got), SCEP_E_INVALID_ARG);
    assert_int_equal(scep_caps_negotiate(tu_ctx(0), SCEP_CAP_SCEP_STANDARD, NULL),
                     SCEP_E_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_table),     cmocka_unit_test(test_parse_table),
        cmocka_unit_test(test_parse_size_limit), cmocka_unit_test(test_format_parse_round_trip),
        cmocka_unit_test(test_negotiate_table),  cmocka_unit_test(test_negotiate_from_text),
        cmocka_unit_test(test_null_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
