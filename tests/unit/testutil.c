#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#define TU_KEYS 8

static EVP_PKEY *rsa_cache[3][TU_KEYS];
static EVP_PKEY *ec_cache[2][TU_KEYS];
static scep_ctx *ctx_cache[2];
static tu_ca test_ca;
static int cleanup_registered;

static void tu_cleanup(void)
{
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < TU_KEYS; j++)
            EVP_PKEY_free(rsa_cache[i][j]);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < TU_KEYS; j++)
            EVP_PKEY_free(ec_cache[i][j]);
    scep_ctx_free(ctx_cache[0]);
    scep_ctx_free(ctx_cache[1]);
    X509_free(test_ca.ca_cert);
    X509_free(test_ca.ra_cert);
}

static void register_cleanup(void)
{
    if (!cleanup_registered) {
        atexit(tu_cleanup);
        cleanup_registered = 1;
    }
}

EVP_PKEY *tu_rsa_key(int bits, int index)
{
    int slot = bits == 1024 ? 0 : bits == 2048 ? 1 : 2;
    assert_true(index >= 0 && index < TU_KEYS);
    register_cleanup();
    if (rsa_cache[slot][index] == NULL)
        rsa_cache[slot][index] = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
    assert_non_null(rsa_cache[slot][index]);
    return rsa_cache[slot][index];
}

EVP_PKEY *tu_ec_key(const char *curve, int index)
{
    int slot = strcmp(curve, "P-384") == 0 ? 1 : 0;
    assert_true(index >= 0 && index < TU_KEYS);
    register_cleanup();
    if (ec_cache[slot][index] == NULL)
        ec_cache[slot][index] = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve);
    assert_non_null(ec_cache[slot][index]);
    return ec_cache[slot][index];
}

static void add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, issuer ? issuer : cert, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
    assert_non_null(ext);
    assert_int_equal(X509_add_ext(cert, ext, -1), 1);
    X509_EXTENSION_free(ext);
}

static void add_key_usage(X509 *cert, unsigned ku)
{
    char value[160] = "critical";
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {{KU_DIGITAL_SIGNATURE, "digitalSignature"},
                 {KU_KEY_ENCIPHERMENT, "keyEncipherment"},
                 {KU_KEY_CERT_SIGN, "keyCertSign"},
                 {KU_CRL_SIGN, "cRLSign"}};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (ku & names[i].bit) {
            strncat(value, ",", sizeof(value) - strlen(value) - 1);
            strncat(value, names[i].name, sizeof(value) - strlen(value) - 1);
        }
    }
    add_ext(cert, NULL, NID_key_usage, value);
}

X509 *tu_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key, int is_ca,
              unsigned ku, int days)
{
    X509 *cert = X509_new();
    assert_non_null(cert);
    X509_set_version(cert, 2);
    unsigned char serial_bytes[16];
    assert_int_equal(RAND_bytes(serial_bytes, sizeof(serial_bytes)), 1);
    serial_bytes[0] &= 0x7f;
    BIGNUM *bn = BN_bin2bn(serial_bytes, sizeof(serial_bytes), NULL);
    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert));
    BN_free(bn);
    X509_NAME *name = X509_NAME_new();
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
    X509_set_subject_name(cert, name);
    X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer) : name);
    X509_NAME_free(name);
    X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert), (long)days * 86400);
    X509_set_pubkey(cert, key);
    add_ext(cert, issuer, NID_subject_key_identifier, "hash");
    if (issuer != NULL)
        add_ext(cert, issuer, NID_authority_key_identifier, "keyid:always");
    add_ext(cert, issuer, NID_basic_constraints, is_ca ? "critical,CA:TRUE" : "CA:FALSE");
    if (ku)
        add_key_usage(cert, ku);
    assert_true(X509_sign(cert, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
    return cert;
}

const tu_ca *tu_test_ca(void)
{
    if (test_ca.ca_cert == NULL) {
        register_cleanup();
        test_ca.ca_key = tu_rsa_key(2048, 7);
        test_ca.ca_cert = tu_cert(test_ca.ca_key, "Test CA", NULL, NULL, 1,
                                  KU_KEY_CERT_SIGN | KU_CRL_SIGN | KU_DIGITAL_SIGNATURE, 3650);
        test_ca.ra_key = tu_rsa_key(2048, 6);
        test_ca.ra_cert = tu_cert(test_ca.ra_key, "Test RA", test_ca.ca_cert, test_ca.ca_key, 0,
                                  KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT, 365);
    }
    return &test_ca;
}

scep_ctx *tu_ctx(int legacy)
{
    int slot = legacy ? 1 : 0;
    register_cleanup();
    if (ctx_cache[slot] == NULL) {
        scep_ctx_options opts = {.allow_legacy = legacy};
        assert_int_equal(scep_ctx_new(&opts, &ctx_cache[slot]), SCEP_OK);
    }
    return ctx_cache[slot];
}

unsigned char *tu_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open %s", path);
    unsigned char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 4096;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    *len = n;
    return buf;
}

X509 *tu_read_cert(const char *path)
{
    size_t len;
    unsigned char *buf = tu_read_file(path, &len);
    BIO *bio = BIO_new_mem_buf(buf, (int)len);
    X509 *cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    if (cert == NULL) {
        const unsigned char *p = buf;
        cert = d2i_X509(NULL, &p, (long)len);
    }
    BIO_free(bio);
    free(buf);
    if (cert == NULL)
        fail_msg("cannot read certificate %s", path);
    return cert;
}

EVP_PKEY *tu_read_key(const char *path)
{
    size_t len;
    unsigned char *buf = tu_read_file(path, &len);
    BIO *bio = BIO_new_mem_buf(buf, (int)len);
    EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    free(buf);
    if (key == NULL)
        fail_msg("cannot read key %s", path);
    return key;
}
