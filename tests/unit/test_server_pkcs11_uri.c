/* RFC 7512 pkcs11: URIs as the PKCS#11 key backend reads and writes them (server/keys/), and
 * which backend keys_open picks for a URI, a reference file and a key file. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "keys/keys.h"
#include "keys/pkcs11_uri.h"
#include "testutil.h"

static void test_parse(void **state)
{
    (void)state;
    p11_uri u;
    char err[200];
    assert_int_equal(
        p11_uri_parse("pkcs11:token=My%20Token;object=ca%23next;id=%01%ff;"
                      "type=private?module-path=/usr/lib/m.so&pin-source=file:/etc/pin",
                      &u, err, sizeof(err)),
        0);
    assert_string_equal(u.token, "My Token");
    assert_string_equal(u.object, "ca#next");
    assert_int_equal(u.id_len, 2);
    assert_int_equal(u.id[0], 0x01);
    assert_int_equal(u.id[1], 0xff);
    assert_string_equal(u.module, "/usr/lib/m.so");
    assert_string_equal(u.pin_file, "/etc/pin");
    /* The brief form: pin-source among the path attributes, a plain path. */
    assert_int_equal(p11_uri_parse("pkcs11:object=k;pin-source=/p", &u, err, sizeof(err)), 0);
    assert_string_equal(u.pin_file, "/p");
}

static void refused(const char *uri, const char *why)
{
    p11_uri u;
    char err[200] = "";
    assert_int_equal(p11_uri_parse(uri, &u, err, sizeof(err)), -1);
    if (strstr(err, why) == NULL)
        fail_msg("%s: '%s' does not say '%s'", uri, err, why);
}

static void test_refusals(void **state)
{
    (void)state;
    refused("pkcs11:object=k?pin-value=1234", "a PIN in the URI is refused");
    refused("pkcs11:object=k;colour=red", "unknown attribute 'colour'");
    refused("pkcs11:object=k%G1", "bad value for 'object'");
    refused("pkcs11:object=k%4", "bad value for 'object'");
    refused("pkcs11:object=k%00x", "bad value for 'object'");
    refused("pkcs11:id=", "bad value for 'id'");
    refused("pkcs11:object=k;type=cert", "bad value for 'type'");
    refused("pkcs11:object=k?pin-source=file:pin.txt", "an absolute file:");
    refused("pkcs11:token=t", "name the key with object= or id=");
    refused("file:/etc/key.pem", "not a pkcs11: URI");
    char big[300];
    snprintf(big, sizeof(big), "pkcs11:token=%0200d", 0);
    refused(big, "bad value for 'token'");
}

static void test_format_round_trip(void **state)
{
    (void)state;
    p11_uri u = {0}, back;
    snprintf(u.token, sizeof(u.token), "scepd test");
    snprintf(u.object, sizeof(u.object), "ca#next-ca-0a1b");
    u.id_len = 3;
    memcpy(u.id, "\x00\x7f\xff", 3);
    snprintf(u.module, sizeof(u.module), "/never/written.so");
    char text[400], err[200];
    assert_int_equal(p11_uri_format(&u, text, sizeof(text)), 0);
    assert_string_equal(text, "pkcs11:token=scepd%20test;object=ca%23next-ca-0a1b;id=%00%7F%FF");
    assert_int_equal(p11_uri_parse(text, &back, err, sizeof(err)), 0);
    assert_string_equal(back.object, u.object);
    assert_memory_equal(back.id, u.id, 3);
    assert_int_equal(p11_uri_format(&u, text, 20), -1);
}

static void test_backend_choice(void **state)
{
    (void)state;
    char dir[] = "/tmp/scepd-p11uri-XXXXXX", ref[64], pem[64], err[200];
    assert_non_null(mkdtemp(dir));
    snprintf(ref, sizeof(ref), "%s/ca.key", dir);
    snprintf(pem, sizeof(pem), "%s/file.key", dir);
    FILE *f = fopen(ref, "w");
    fputs("pkcs11:token=t;object=ca;id=%01\n", f);
    fclose(f);
    f = fopen(pem, "w");
    fputs("-----BEGIN PRIVATE KEY-----\n", f);
    fclose(f);
    assert_true(keys_is_token_ref("pkcs11:object=x"));
    assert_true(keys_is_token_ref(ref));
    assert_false(keys_is_token_ref(pem));
    assert_false(keys_is_token_ref("/no/such/file"));
    /* A bad reference is refused when the backend opens, naming it. */
    f = fopen(ref, "w");
    fputs("pkcs11:token=t;object=ca;pin-value=1\n", f);
    fclose(f);
    keystore *ks = keys_open(ref, err, sizeof(err));
    assert_null(ks);
    assert_non_null(strstr(err, "a PIN in the URI is refused"));
    unlink(ref);
    unlink(pem);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_format_round_trip),
        cmocka_unit_test(test_backend_choice),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
