/* Distinguished names as text (lib/names.c): RFC 4514 order both ways, escapes, multi-valued
 * RDNs, and the slash form in DER order. */
#include <string.h>

#include <openssl/objects.h>
#include <openssl/x509.h>

#include "testutil.h"

/* The short name of the attribute of entry i (0 = first in the DER) and its value. */
static void entry_is(const X509_NAME *name, int i, const char *type, const char *value)
{
    const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
    assert_non_null(e);
    assert_string_equal(OBJ_nid2sn(OBJ_obj2nid(X509_NAME_ENTRY_get_object(e))), type);
    const ASN1_STRING *v = X509_NAME_ENTRY_get_data(e);
    assert_int_equal(ASN1_STRING_length(v), (int)strlen(value));
    assert_memory_equal(ASN1_STRING_get0_data(v), value, strlen(value));
}

static X509_NAME *parsed(const char *text)
{
    X509_NAME *name = NULL;
    if (scep_name_parse(text, &name) != SCEP_OK)
        fail_msg("scep_name_parse(\"%s\") failed", text);
    return name;
}

/* "CN=device-1,O=UX" names the device inside UX: O comes first in the DER. */
static void test_comma_form_is_rfc4514_order(void **state)
{
    (void)state;
    X509_NAME *name = parsed("CN=device-1,O=UX");
    assert_int_equal(X509_NAME_entry_count(name), 2);
    entry_is(name, 0, "O", "UX");
    entry_is(name, 1, "CN", "device-1");
    char text[128];
    assert_int_equal(scep_name_text(name, text, sizeof(text)), SCEP_OK);
    assert_string_equal(text, "CN=device-1,O=UX");
    /* openssl's -subj form lists the DER order: the same name. */
    X509_NAME *slash = parsed("/O=UX/CN=device-1");
    assert_int_equal(X509_NAME_cmp(name, slash), 0);
    X509_NAME_free(slash);
    X509_NAME_free(name);
}

/* Whatever scep_name_text prints, scep_name_parse reads back as the same name and text. */
static void test_round_trip(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "CN=device-1,O=UX",
        "CN=device-2,OU=Lab,O=Example,C=DE",
        "CN=Smith\\, John,O=Example\\, Inc.",
        "CN=a\\+b=c\\;d\\<e\\>f\\\"g\\\\h,O=UX",
        "CN=\\#hash\\ ,O=UX",
        "CN=\\ leading space,O=UX",
        "CN=M\\C3\\BCller,O=UX",
        "CN=router+serialNumber=FTX1234,O=UX",
        "UID=7+CN=x,O=UX",
        "CN=only",
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        X509_NAME *name = parsed(texts[i]);
        char text[256];
        assert_int_equal(scep_name_text(name, text, sizeof(text)), SCEP_OK);
        if (strcmp(text, texts[i]) != 0)
            fail_msg("\"%s\" printed back as \"%s\"", texts[i], text);
        X509_NAME_free(name);
    }
}

static void test_escapes_and_rdns(void **state)
{
    (void)state;
    X509_NAME *name = parsed("CN=Smith\\, John, O=M\\C3\\BCller\\2C Inc.");
    entry_is(name, 0, "O", "M\xC3\xBCller, Inc.");
    entry_is(name, 1, "CN", "Smith, John");
    X509_NAME_free(name);
    /* One multi-valued RDN and one single: two RDNs, three attributes. */
    name = parsed("CN=router+serialNumber=FTX1234,O=UX");
    assert_int_equal(X509_NAME_entry_count(name), 3);
    entry_is(name, 0, "O", "UX");
    entry_is(name, 1, "serialNumber", "FTX1234");
    entry_is(name, 2, "CN", "router");
    assert_int_equal(X509_NAME_ENTRY_set(X509_NAME_get_entry(name, 1)),
                     X509_NAME_ENTRY_set(X509_NAME_get_entry(name, 2)));
    assert_int_not_equal(X509_NAME_ENTRY_set(X509_NAME_get_entry(name, 0)),
                         X509_NAME_ENTRY_set(X509_NAME_get_entry(name, 1)));
    X509_NAME_free(name);
    name = parsed("/O=UX/CN=router+serialNumber=FTX1234");
    X509_NAME *comma = parsed("CN=router+serialNumber=FTX1234,O=UX");
    assert_int_equal(X509_NAME_cmp(name, comma), 0);
    X509_NAME_free(comma);
    X509_NAME_free(name);
}

static void test_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "CN",
        "CN=",
        "=x",
        "XX=unknown type",
        "CN=a+",
        "CN=a++O",
        "+CN=a",
        "CN=a,+O=b",
        "CN=a\\00b",
        "/",
        "CN=\\C3",
        ",",
        "/CN=a+/O",
        "CN=a+O=,C=x",
        "CN=a\\FF\\FE",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        X509_NAME *name = (X509_NAME *)1;
        if (scep_name_parse(bad[i], &name) != SCEP_E_INVALID_ARG)
            fail_msg("\"%s\" was accepted", bad[i]);
        assert_null(name);
    }
    X509_NAME *name = NULL;
    assert_int_equal(scep_name_parse(NULL, &name), SCEP_E_INVALID_ARG);
    /* A part too long for the parser is refused, not cut. */
    char longer[700] = "CN=";
    memset(longer + 3, 'a', sizeof(longer) - 4);
    longer[sizeof(longer) - 1] = '\0';
    assert_int_equal(scep_name_parse(longer, &name), SCEP_E_INVALID_ARG);
}

static void test_text_bounds(void **state)
{
    (void)state;
    X509_NAME *name = parsed("CN=device-1,O=UX");
    char small[8];
    assert_int_equal(scep_name_text(name, small, sizeof(small)), SCEP_E_TOO_LARGE);
    assert_string_equal(small, "CN=devi");
    assert_int_equal(scep_name_text(name, small, 0), SCEP_E_INVALID_ARG);
    assert_int_equal(scep_name_text(NULL, small, sizeof(small)), SCEP_E_INVALID_ARG);
    X509_NAME_free(name);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_comma_form_is_rfc4514_order),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_escapes_and_rdns),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_text_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
