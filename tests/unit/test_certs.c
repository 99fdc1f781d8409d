/* Certs-only messages, GetNextCACert payloads, roles, helpers, and BER input from peers. */
#include <string.h>

#include <openssl/x509v3.h>

#include "testutil.h"

static STACK_OF(X509) * stack_of(X509 *a, X509 *b)
{
    STACK_OF(X509) *s = sk_X509_new_null();
    if (a)
        sk_X509_push(s, a);
    if (b)
        sk_X509_push(s, b);
    return s;
}

static void test_certs_only_roundtrip_keeps_order(void **state)
{
    (void)state;
    const tu_ca *ca = tu_test_ca();
    STACK_OF(X509) *in = stack_of(ca->ra_cert, ca->ca_cert);
    unsigned char *der = NULL;
    size_t len = 0;
    assert_int_equal(scep_certs_only_encode(tu_ctx(0), in, NULL, &der, &len), SCEP_OK);
    STACK_OF(X509) *out = NULL;
    STACK_OF(X509_CRL) *crls = NULL;
    assert_int_equal(scep_certs_only_decode(tu_ctx(0), der, len, &out, &crls), SCEP_OK);
    assert_int_equal(sk_X509_num(out), 2);
    assert_int_equal(sk_X509_CRL_num(crls), 0);
    assert_int_equal(X509_cmp(sk_X509_value(out, 0), ca->ra_cert), 0);
    assert_int_equal(X509_cmp(sk_X509_value(out, 1), ca->ca_cert), 0);
    /* The leaf is the RA: it issued nothing. */
    assert_int_equal(X509_cmp(scep_certs_find_leaf(out, NULL), ca->ra_cert), 0);
    assert_int_equal(X509_cmp(scep_certs_find_leaf(out, ca->ca_key), ca->ca_cert), 0);
    assert_null(scep_certs_find_leaf(out, tu_rsa_key(2048, 0)));
    /* Trailing bytes are refused. */
    unsigned char *longer = OPENSSL_malloc(len + 1);
    memcpy(longer, der, len);
    longer[len] = 0;
    STACK_OF(X509) *none = NULL;
    assert_int_equal(scep_certs_only_decode(tu_ctx(0), longer, len + 1, &none, NULL),
                     SCEP_E_BAD_ENCODING);
    assert_null(none);
    OPENSSL_free(longer);
    sk_X509_pop_free(out, X509_free);
    sk_X509_CRL_free(crls);
    sk_X509_free(in);
    OPENSSL_free(der);
}

static void test_roles(void **state)
{
    (void)state;
    const tu_ca *ca = tu_test_ca();
    X509 *c = NULL, *enc = NULL, *sign = NULL;
    STACK_OF(X509) *ra_mode = stack_of(ca->ra_cert, ca->ca_cert);
    assert_int_equal(scep_certs_roles(ra_mode, &c, &enc, &sign), SCEP_OK);
    assert_ptr_equal(c, ca->ca_cert);
    assert_ptr_equal(enc, ca->ra_cert);
    assert_ptr_equal(sign, ca->ra_cert);
    STACK_OF(X509) *ca_mode = stack_of(ca->ca_cert, NULL);
    assert_int_equal(scep_certs_roles(ca_mode, &c, &enc, &sign), SCEP_OK);
    assert_ptr_equal(c, ca->ca_cert);
    assert_ptr_equal(enc, ca->ca_cert);
    assert_ptr_equal(sign, ca->ca_cert);
    /* NDES style: separate encryption and signing RA certificates. */
    X509 *ra_enc =
        tu_cert(tu_rsa_key(2048, 4), "RA enc", ca->ca_cert, ca->ca_key, 0, KU_KEY_ENCIPHERMENT, 30);
    X509 *ra_sig = tu_cert(tu_rsa_key(2048, 5), "RA sig", ca->ca_cert, ca->ca_key, 0,
                           KU_DIGITAL_SIGNATURE, 30);
    STACK_OF(X509) *ndes = stack_of(ra_sig, ra_enc);
    sk_X509_push(ndes, ca->ca_cert);
    assert_int_equal(scep_certs_roles(ndes, &c, &enc, &sign), SCEP_OK);
    assert_ptr_equal(c, ca->ca_cert);
    assert_ptr_equal(enc, ra_enc);
    assert_ptr_equal(sign, ra_sig);
    STACK_OF(X509) *empty = sk_X509_new_null();
    assert_int_equal(scep_certs_roles(empty, &c, &enc, &sign), SCEP_E_BAD_CERT_ID);
    sk_X509_free(empty);
    sk_X509_free(ndes);
    X509_free(ra_enc);
    X509_free(ra_sig);
    sk_X509_free(ra_mode);
    sk_X509_free(ca_mode);
}

/* Certificates for the chain table: real chains, RAs, and hostile additions. */
enum {
    F_ROOT,     /* self-signed root */
    F_INT,      /* intermediate the root issued */
    F_INT2,     /* a third level: issued by F_INT */
    F_RA,       /* RA (keyEncipherment + digitalSignature) issued by F_INT */
    F_RA_ENC,   /* RA encryption only, issued by F_INT */
    F_RA_SIG,   /* RA signing only, issued by F_INT */
    F_RA2,      /* RA issued by F_INT2 */
    F_RA_ROOT,  /* RA issued by the root */
    F_OTHER,    /* an unrelated self-signed CA */
    F_STRAY,    /* a non-CA certificate of another CA */
    F_FAKE_RA,  /* names F_INT as issuer (and its key id) but another key signed it */
    F_FAKE_SUB, /* a CA certificate forged the same way below F_INT */
    F_CYCLE_A,  /* F_CYCLE_A and F_CYCLE_B issued each other */
    F_CYCLE_B,
    F_INT_DUP, /* another copy of F_INT */
    F_COUNT
};

static X509 *fixture[F_COUNT];

static void make_fixtures(void)
{
    EVP_PKEY *root = tu_rsa_key(2048, 0), *in = tu_rsa_key(2048, 1), *in2 = tu_rsa_key(2048, 2);
    EVP_PKEY *ra = tu_rsa_key(2048, 4), *other = tu_rsa_key(2048, 3), *ra2 = tu_rsa_key(2048, 5);
    EVP_PKEY *ka = tu_ec_key("P-256", 0), *kb = tu_ec_key("P-256", 1);
    unsigned ca_ku = KU_KEY_CERT_SIGN | KU_CRL_SIGN;
    unsigned both = KU_KEY_ENCIPHERMENT | KU_DIGITAL_SIGNATURE;
    fixture[F_ROOT] = tu_cert(root, "Chain Root", NULL, NULL, 1, ca_ku, 3650);
    fixture[F_INT] = tu_cert(in, "Chain Issuing CA", fixture[F_ROOT], root, 1, ca_ku, 3650);
    fixture[F_INT2] = tu_cert(in2, "Chain Level 3 CA", fixture[F_INT], in, 1, ca_ku, 3650);
    fixture[F_RA] = tu_cert(ra, "Chain RA", fixture[F_INT], in, 0, both, 365);
    fixture[F_RA_ENC] =
        tu_cert(ra, "Chain RA enc", fixture[F_INT], in, 0, KU_KEY_ENCIPHERMENT, 365);
    fixture[F_RA_SIG] =
        tu_cert(ra2, "Chain RA sig", fixture[F_INT], in, 0, KU_DIGITAL_SIGNATURE, 365);
    fixture[F_RA2] = tu_cert(ra2, "Chain RA 3", fixture[F_INT2], in2, 0, both, 365);
    fixture[F_RA_ROOT] = tu_cert(ra, "Chain RA root", fixture[F_ROOT], root, 0, both, 365);
    fixture[F_OTHER] = tu_cert(other, "Other Root", NULL, NULL, 1, ca_ku, 3650);
    fixture[F_STRAY] = tu_cert(ra, "Stray", fixture[F_OTHER], other, 0, both, 365);
    fixture[F_FAKE_RA] = tu_cert(ra2, "Fake RA", fixture[F_INT], other, 0, both, 365);
    fixture[F_FAKE_SUB] = tu_cert(ka, "Fake Sub CA", fixture[F_INT], other, 1, ca_ku, 365);
    X509 *b0 = tu_cert(kb, "Cycle B", NULL, NULL, 1, ca_ku, 365);
    fixture[F_CYCLE_A] = tu_cert(ka, "Cycle A", b0, kb, 1, ca_ku, 365);
    fixture[F_CYCLE_B] = tu_cert(kb, "Cycle B", fixture[F_CYCLE_A], ka, 1, ca_ku, 365);
    X509_free(b0);
    fixture[F_INT_DUP] = X509_dup(fixture[F_INT]);
}

#define END (-1)
#define CHAIN(...)                                                                                 \
    {                                                                                              \
        __VA_ARGS__, END                                                                           \
    }

static const struct {
    const char *what;
    int certs[8];       /* fixture indices, END-terminated */
    scep_err err;       /* expected result */
    int ca, enc, sign;  /* expected roles (fixture indices) when SCEP_OK */
    const char *reason; /* a word the diag must hold when not SCEP_OK */
} chain_cases[] = {
    {"2 levels, issuing CA first", CHAIN(F_INT, F_ROOT), SCEP_OK, F_INT, F_INT, F_INT, NULL},
    {"2 levels, root first", CHAIN(F_ROOT, F_INT), SCEP_OK, F_INT, F_INT, F_INT, NULL},
    {"3 levels, lowest first", CHAIN(F_INT2, F_INT, F_ROOT), SCEP_OK, F_INT2, F_INT2, F_INT2, NULL},
    {"3 levels, root first", CHAIN(F_ROOT, F_INT, F_INT2), SCEP_OK, F_INT2, F_INT2, F_INT2, NULL},
    {"3 levels, mixed", CHAIN(F_INT, F_INT2, F_ROOT), SCEP_OK, F_INT2, F_INT2, F_INT2, NULL},
    {"2 levels + RA", CHAIN(F_RA, F_INT, F_ROOT), SCEP_OK, F_INT, F_RA, F_RA, NULL},
    {"2 levels + RA, root first", CHAIN(F_ROOT, F_INT, F_RA), SCEP_OK, F_INT, F_RA, F_RA, NULL},
    {"3 levels + RA", CHAIN(F_RA2, F_INT2, F_INT, F_ROOT), SCEP_OK, F_INT2, F_RA2, F_RA2, NULL},
    {"3 levels + RA, root first", CHAIN(F_ROOT, F_INT, F_INT2, F_RA2), SCEP_OK, F_INT2, F_RA2,
     F_RA2, NULL},
    {"separate RA certificates", CHAIN(F_RA_SIG, F_RA_ENC, F_INT, F_ROOT), SCEP_OK, F_INT, F_RA_ENC,
     F_RA_SIG, NULL},
    {"separate RA certificates, root first", CHAIN(F_ROOT, F_INT, F_RA_ENC, F_RA_SIG), SCEP_OK,
     F_INT, F_RA_ENC, F_RA_SIG, NULL},
    {"RA signing only: encrypt to the CA", CHAIN(F_RA_SIG, F_INT, F_ROOT), SCEP_OK, F_INT, F_INT,
     F_RA_SIG, NULL},
    {"RA issued by the root above the CA", CHAIN(F_INT, F_ROOT, F_RA_ROOT), SCEP_OK, F_INT,
     F_RA_ROOT, F_RA_ROOT, NULL},
    {"RA of another CA is no RA", CHAIN(F_INT, F_ROOT, F_STRAY), SCEP_OK, F_INT, F_INT, F_INT,
     NULL},
    {"forged RA is no RA", CHAIN(F_FAKE_RA, F_INT, F_ROOT), SCEP_OK, F_INT, F_INT, F_INT, NULL},
    {"duplicates", CHAIN(F_INT_DUP, F_ROOT, F_INT, F_ROOT), SCEP_OK, F_INT_DUP, F_INT_DUP,
     F_INT_DUP, NULL},
    {"lone root", CHAIN(F_ROOT), SCEP_OK, F_ROOT, F_ROOT, F_ROOT, NULL},
    {"lone non-CA certificate", CHAIN(F_STRAY), SCEP_OK, F_STRAY, F_STRAY, F_STRAY, NULL},
    {"two chains, the RA decides", CHAIN(F_OTHER, F_INT, F_ROOT, F_RA), SCEP_OK, F_INT, F_RA, F_RA,
     NULL},
    {"two chains", CHAIN(F_OTHER, F_INT, F_ROOT), SCEP_E_BAD_CERT_ID, 0, 0, 0, "separate"},
    {"forged CA below the CA", CHAIN(F_INT, F_FAKE_SUB, F_ROOT), SCEP_E_BAD_CERT_ID, 0, 0, 0,
     "separate"},
    {"cycle", CHAIN(F_CYCLE_A, F_CYCLE_B), SCEP_E_BAD_CERT_ID, 0, 0, 0, "cycle"},
    {"no CA", CHAIN(F_RA, F_STRAY), SCEP_E_BAD_CERT_ID, 0, 0, 0, "CA"},
};

static void check_chain_case(size_t k, STACK_OF(X509) * certs)
{
    X509 *ca = NULL, *enc = NULL, *sign = NULL;
    scep_diag diag = {{0}};
    scep_err got = scep_certs_roles_diag(certs, &ca, &enc, &sign, &diag);
    if (got != chain_cases[k].err)
        fail_msg("%s: got %s (%s)", chain_cases[k].what, scep_strerror(got), diag.text);
    if (got != SCEP_OK) {
        assert_null(ca);
        if (strstr(diag.text, chain_cases[k].reason) == NULL)
            fail_msg("%s: reason '%s' lacks '%s'", chain_cases[k].what, diag.text,
                     chain_cases[k].reason);
        return;
    }
    if (ca != fixture[chain_cases[k].ca] || enc != fixture[chain_cases[k].enc] ||
        sign != fixture[chain_cases[k].sign])
        fail_msg("%s: CA, encryption, signing are the wrong certificates", chain_cases[k].what);
}

static void test_roles_in_chains(void **state)
{
    (void)state;
    make_fixtures();
    for (size_t k = 0; k < sizeof(chain_cases) / sizeof(chain_cases[0]); k++) {
        STACK_OF(X509) *certs = sk_X509_new_null();
        for (const int *i = chain_cases[k].certs; *i != END; i++)
            sk_X509_push(certs, fixture[*i]);
        check_chain_case(k, certs);
        sk_X509_free(certs);
    }
    /* More than a GetCACert may hold. */
    STACK_OF(X509) *many = sk_X509_new_null();
    for (int i = 0; i <= SCEP_MAX_CERTS; i++)
        sk_X509_push(many, fixture[F_ROOT]);
    X509 *ca = NULL, *enc = NULL, *sign = NULL;
    assert_int_equal(scep_certs_roles(many, &ca, &enc, &sign), SCEP_E_TOO_LARGE);
    sk_X509_free(many);
    for (int i = 0; i < F_COUNT; i++)
        X509_free(fixture[i]);
}

static void test_pin_in_chain(void **state)
{
    (void)state;
    make_fixtures();
    char root_fp[200], other_fp[200];
    assert_int_equal(
        scep_cert_fingerprint(fixture[F_ROOT], SCEP_DIGEST_SHA256, root_fp, sizeof(root_fp)),
        SCEP_OK);
    assert_int_equal(
        scep_cert_fingerprint(fixture[F_OTHER], SCEP_DIGEST_SHA1, other_fp, sizeof(other_fp)),
        SCEP_OK);
    STACK_OF(X509) *chain = stack_of(fixture[F_INT2], fixture[F_ROOT]);
    sk_X509_push(chain, fixture[F_INT]);
    sk_X509_push(chain, fixture[F_OTHER]);
    /* The root pins the lowest CA through the intermediate; an unrelated CA pins nothing. */
    assert_true(scep_certs_chain_fingerprint_matches(chain, fixture[F_INT2], root_fp));
    assert_false(scep_certs_chain_fingerprint_matches(chain, fixture[F_INT2], other_fp));
    /* The root of a forged link pins nothing. */
    STACK_OF(X509) *forged = stack_of(fixture[F_FAKE_SUB], fixture[F_INT]);
    sk_X509_push(forged, fixture[F_ROOT]);
    assert_false(scep_certs_chain_fingerprint_matches(forged, fixture[F_FAKE_SUB], root_fp));
    sk_X509_free(forged);
    sk_X509_free(chain);
    for (int i = 0; i < F_COUNT; i++)
        X509_free(fixture[i]);
}

static void test_next_ca(void **state)
{
    (void)state;
    const tu_ca *ca = tu_test_ca();
    EVP_PKEY *next_key = tu_rsa_key(2048, 3);
    X509 *next = tu_cert(next_key, "Test CA", NULL, NULL, 1, KU_KEY_CERT_SIGN, 7300);
    STACK_OF(X509) *next_certs = stack_of(next, NULL);
    unsigned char *der = NULL;
    size_t len = 0;
    assert_int_equal(scep_next_ca_encode(tu_ctx(0), ca->ca_cert, ca->ca_key, SCEP_DIGEST_SHA256,
                                         next_certs, &der, &len),
                     SCEP_OK);
    STACK_OF(X509) *got = NULL;
    assert_int_equal(scep_next_ca_decode(tu_ctx(0), der, len, ca->ca_cert, &got, NULL), SCEP_OK);
    assert_int_equal(sk_X509_num(got), 1);
    assert_int_equal(X509_cmp(sk_X509_value(got, 0), next), 0);
    sk_X509_pop_free(got, X509_free);
    /* Checked against another CA, the same payload is refused. */
    scep_diag diag = {{0}};
    assert_int_equal(scep_next_ca_decode(tu_ctx(0), der, len, next, &got, &diag),
                     SCEP_E_UNTRUSTED_SIGNER);
    assert_null(got);
    /* A flipped signature byte is refused. */
    der[len - 4] ^= 1;
    assert_int_equal(scep_next_ca_decode(tu_ctx(0), der, len, ca->ca_cert, &got, NULL),
                     SCEP_E_BAD_SIGNATURE);
    OPENSSL_free(der);
    sk_X509_free(next_certs);
    X509_free(next);
}

static void test_signer_and_csr(void **state)
{
    (void)state;
    X509 *signer = NULL;
    EVP_PKEY *key = tu_ec_key("P-256", 1);
    assert_int_equal(scep_selfsigned_signer(tu_ctx(0), key, NULL, 2, SCEP_DIGEST_SHA256, &signer),
                     SCEP_OK);
    char cn[64];
    X509_NAME_get_text_by_NID(X509_get_subject_name(signer), NID_commonName, cn, sizeof(cn));
    assert_string_equal(cn, "SCEP SIGNER");
    /* Self-issued (not a CA: no keyCertSign, so check_issued would refuse it). */
    assert_int_equal(X509_NAME_cmp(X509_get_subject_name(signer), X509_get_issuer_name(signer)), 0);
    assert_int_equal(X509_verify(signer, key), 1);
    uint32_t ku = X509_get_key_usage(signer);
    assert_true(ku & KU_DIGITAL_SIGNATURE);
    assert_true(ku & KU_KEY_ENCIPHERMENT);
    BIGNUM *serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(signer), NULL);
    assert_false(BN_is_negative(serial));
    assert_int_equal(BN_num_bytes(serial), 16);
    BN_free(serial);
    X509_free(signer);
    /* MD5 needs the legacy switch. */
    assert_int_equal(scep_selfsigned_signer(tu_ctx(0), key, NULL, 2, SCEP_DIGEST_MD5, &signer),
                     SCEP_E_BAD_ALG);
    assert_null(signer);

    scep_csr_params p = {.san = "dns:a.example,ip:192.0.2.1,email:x@example.org,uri:https://a/",
                         .challenge_password = "pass word",
                         .key_usage = KU_DIGITAL_SIGNATURE};
    X509_REQ *csr = NULL;
    assert_int_equal(scep_csr_build(tu_ctx(0), key, &p, &csr), SCEP_OK);
    assert_int_equal(X509_REQ_verify(csr, key), 1);
    STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(csr);
    assert_int_equal(sk_X509_EXTENSION_num(exts), 2);
    GENERAL_NAMES *san = X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL);
    assert_int_equal(sk_GENERAL_NAME_num(san), 4);
    GENERAL_NAMES_free(san);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    char pw[16];
    assert_int_equal(scep_csr_challenge_password(csr, pw, sizeof(pw)), SCEP_OK);
    assert_string_equal(pw, "pass word");
    assert_int_equal(scep_csr_challenge_password(csr, pw, 5), SCEP_E_BAD_CSR);
    X509_REQ_free(csr);
    p.challenge_password = NULL;
    p.san = "ftp:nope";
    assert_int_equal(scep_csr_build(tu_ctx(0), key, &p, &csr), SCEP_E_INVALID_ARG);
    p.san = NULL;
    assert_int_equal(scep_csr_build(tu_ctx(0), key, &p, &csr), SCEP_OK);
    assert_int_equal(scep_csr_challenge_password(csr, pw, sizeof(pw)), SCEP_E_MISSING_ATTR);
    X509_REQ_free(csr);
}

static void test_transaction_id_and_fingerprints(void **state)
{
    (void)state;
    char a[130], b[130];
    assert_int_equal(
        scep_transaction_id(tu_ctx(0), tu_rsa_key(2048, 0), SCEP_DIGEST_SHA256, a, sizeof(a)),
        SCEP_OK);
    assert_int_equal(strlen(a), 64);
    assert_int_equal(
        scep_transaction_id(tu_ctx(0), tu_rsa_key(2048, 0), SCEP_DIGEST_SHA256, b, sizeof(b)),
        SCEP_OK);
    assert_string_equal(a, b);
    assert_int_equal(
        scep_transaction_id(tu_ctx(0), tu_rsa_key(2048, 1), SCEP_DIGEST_SHA256, b, sizeof(b)),
        SCEP_OK);
    assert_string_not_equal(a, b);
    assert_int_equal(
        scep_transaction_id(tu_ctx(0), tu_rsa_key(2048, 1), SCEP_DIGEST_SHA1, b, sizeof(b)),
        SCEP_OK);
    assert_int_equal(strlen(b), 40);
    assert_int_equal(scep_transaction_id(tu_ctx(0), tu_rsa_key(2048, 1), SCEP_DIGEST_SHA256, b, 10),
                     SCEP_E_INVALID_ARG);

    X509 *ca = tu_test_ca()->ca_cert;
    char fp[200];
    assert_int_equal(scep_cert_fingerprint(ca, SCEP_DIGEST_SHA256, fp, sizeof(fp)), SCEP_OK);
    assert_int_equal(strlen(fp), 95);
    unsigned char md[32];
    unsigned int n;
    X509_digest(ca, EVP_sha256(), md, &n);
    char hex[3];
    snprintf(hex, sizeof(hex), "%02X", md[31]);
    assert_memory_equal(fp + 93, hex, 2);
    assert_true(scep_cert_fingerprint_matches(ca, fp));
    /* Lower case, no colons. */
    char plain[100];
    size_t j = 0;
    for (size_t i = 0; fp[i]; i++)
        if (fp[i] != ':')
            plain[j++] = (char)(fp[i] >= 'A' && fp[i] <= 'F' ? fp[i] + 32 : fp[i]);
    plain[j] = '\0';
    assert_true(scep_cert_fingerprint_matches(ca, plain));
    plain[5] = plain[5] == '0' ? '1' : '0';
    assert_false(scep_cert_fingerprint_matches(ca, plain));
    assert_false(scep_cert_fingerprint_matches(ca, "zz"));
    assert_int_equal(scep_cert_fingerprint(ca, SCEP_DIGEST_SHA1, fp, sizeof(fp)), SCEP_OK);
    assert_true(scep_cert_fingerprint_matches(ca, fp));
    assert_int_equal(scep_cert_fingerprint(ca, SCEP_DIGEST_MD5, fp, sizeof(fp)), SCEP_OK);
    assert_int_equal(strlen(fp), 47);
    assert_false(scep_cert_fingerprint_matches(ca, fp)); /* MD5 is for display only */
}

/*
 * Re-encodes DER as BER the way jscep and Go peers do: the outer structures with indefinite
 * lengths, and the signed content as a constructed OCTET STRING of small chunks.
 */
typedef struct ber_out {
    unsigned char *buf;
    size_t len, cap;
} ber_out;

static void put(ber_out *o, const unsigned char *p, size_t n)
{
    if (o->len + n > o->cap) {
        o->cap = (o->len + n) * 2;
        o->buf = realloc(o->buf, o->cap);
        assert_non_null(o->buf);
    }
    memcpy(o->buf + o->len, p, n);
    o->len += n;
}

static void put_header(ber_out *o, unsigned char tag, size_t n)
{
    unsigned char h[6] = {tag};
    size_t hl = 1;
    if (n < 0x80) {
        h[hl++] = (unsigned char)n;
    } else {
        h[hl++] = 0x82;
        h[hl++] = (unsigned char)(n >> 8);
        h[hl++] = (unsigned char)n;
    }
    put(o, h, hl);
}

/* Reads one DER TLV header (single-byte tags, lengths up to 3 bytes). */
static size_t read_tlv(const unsigned char *p, size_t avail, size_t *content_len)
{
    assert_true(avail >= 2);
    if (p[1] < 0x80) {
        *content_len = p[1];
        return 2;
    }
    size_t nb = p[1] & 0x7f, n = 0;
    assert_true(nb >= 1 && nb <= 3 && avail >= 2 + nb);
    for (size_t i = 0; i < nb; i++)
        n = (n << 8) | p[2 + i];
    *content_len = n;
    return 2 + nb;
}

static void to_ber(ber_out *o, const unsigned char *p, size_t len, int depth)
{
    static const unsigned char eoc[2] = {0, 0};
    while (len > 0) {
        size_t clen, hl = read_tlv(p, len, &clen);
        assert_true(hl + clen <= len);
        unsigned char tag = p[0];
        if ((tag & 0x20) && depth <= 4) {
            unsigned char h[2] = {tag, 0x80};
            put(o, h, 2);
            to_ber(o, p + hl, clen, depth + 1);
            put(o, eoc, 2);
        } else if (tag == 0x04 && depth == 5) {
            unsigned char h[2] = {0x24, 0x80};
            put(o, h, 2);
            for (size_t off = 0; off < clen; off += 100) {
                size_t n = clen - off < 100 ? clen - off : 100;
                put_header(o, 0x04, n);
                put(o, p + hl + off, n);
            }
            put(o, eoc, 2);
        } else {
            put(o, p, hl + clen);
        }
        p += hl + clen;
        len -= hl + clen;
    }
}

static void test_ber_from_peers(void **state)
{
    (void)state;
    const tu_ca *ca = tu_test_ca();
    EVP_PKEY *key = tu_rsa_key(2048, 2);
    X509 *signer = NULL;
    assert_int_equal(scep_selfsigned_signer(tu_ctx(0), key, NULL, 1, SCEP_DIGEST_SHA256, &signer),
                     SCEP_OK);
    scep_csr_params cp = {.challenge_password = "pw"};
    X509_REQ *csr = NULL;
    assert_int_equal(scep_csr_build(tu_ctx(0), key, &cp, &csr), SCEP_OK);
    unsigned char nonce[16] = {1, 2, 3};
    scep_msg_params p = {.type = SCEP_MSG_PKCS_REQ,
                         .transaction_id = "BER-1",
                         .sender_nonce = nonce,
                         .sender_nonce_len = sizeof(nonce),
                         .csr = csr,
                         .signer_cert = signer,
                         .signer_key = key,
                         .digest = SCEP_DIGEST_SHA256,
                         .recipient_cert = ca->ca_cert,
                         .cipher = SCEP_CIPHER_AES128_CBC};
    unsigned char *der = NULL;
    size_t len = 0;
    assert_int_equal(scep_msg_encode(tu_ctx(0), &p, &der, &len), SCEP_OK);
    ber_out ber = {0};
    to_ber(&ber, der, len, 0);
    assert_true(ber.len > len);
    assert_int_equal(ber.buf[1], 0x80); /* indefinite length at the top */
    scep_recipient r = {ca->ca_cert, ca->ca_key};
    scep_decrypt_options d = {.recipients = &r, .n_recipients = 1};
    scep_msg *msg = NULL;
    scep_diag diag = {{0}};
    scep_err err = scep_msg_decode(tu_ctx(0), ber.buf, ber.len, NULL, &d, &msg, &diag);
    if (err != SCEP_OK)
        fail_msg("BER decode: %s (%s)", scep_strerror(err), diag.text);
    assert_string_equal(msg->transaction_id, "BER-1");
    assert_non_null(msg->csr);
    scep_msg_free(msg);
    /* Trailing bytes after the end-of-contents are still refused. */
    put(&ber, (const unsigned char *)"\0", 1);
    assert_int_equal(scep_msg_decode(tu_ctx(0), ber.buf, ber.len, NULL, &d, &msg, NULL),
                     SCEP_E_BAD_ENCODING);
    free(ber.buf);
    OPENSSL_free(der);
    X509_REQ_free(csr);
    X509_free(signer);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_certs_only_roundtrip_keeps_order),
        cmocka_unit_test(test_roles),
        cmocka_unit_test(test_roles_in_chains),
        cmocka_unit_test(test_pin_in_chain),
        cmocka_unit_test(test_next_ca),
        cmocka_unit_test(test_signer_and_csr),
        cmocka_unit_test(test_transaction_id_and_fingerprints),
        cmocka_unit_test(test_ber_from_peers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
