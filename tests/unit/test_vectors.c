/*
 * Golden pkiMessages captured from real peers (micromdm scepclient/scepserver, strongSwan pki,
 * certmonger): each entry of tests/vectors/MANIFEST is decoded with the library and checked
 * against the fields openssl read from it. How they were captured: tests/vectors/README.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/x509.h>

#include "testutil.h"

#define MAX_VECTORS 64
#define MAX_FIELDS 32
#define MAX_KEY 24
#define MAX_VALUE 256

typedef struct field {
    char key[MAX_KEY];
    char value[MAX_VALUE];
} field;

/* One MANIFEST line. */
typedef struct vector {
    field fields[MAX_FIELDS];
    size_t n_fields;
    char name[MAX_VALUE + 24]; /* test name */
} vector;

static vector vectors[MAX_VECTORS];
static size_t n_vectors;

/* The value of key, or NULL when absent or "-" (does not apply). */
static const char *get(const vector *v, const char *key)
{
    for (size_t i = 0; i < v->n_fields; i++)
        if (strcmp(v->fields[i].key, key) == 0)
            return strcmp(v->fields[i].value, "-") == 0 ? NULL : v->fields[i].value;
    return NULL;
}

static const char *need(const vector *v, const char *key)
{
    const char *value = get(v, key);
    if (value == NULL)
        fail_msg("%s: MANIFEST field %s missing", get(v, "file"), key);
    return value;
}

static int need_int(const vector *v, const char *key)
{
    return (int)strtol(need(v, key), NULL, 10);
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Copies a MANIFEST value, undoing its %XX escapes. */
static void unescape(char *out, size_t cap, const char *in, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)in[i];
        if (c == '%' && len - i > 2 && hex_digit(in[i + 1]) >= 0 && hex_digit(in[i + 2]) >= 0) {
            c = hex_digit(in[i + 1]) * 16 + hex_digit(in[i + 2]);
            i += 2;
        }
        assert_true(n + 1 < cap);
        out[n++] = (char)c;
    }
    out[n] = '\0';
}

static void parse_field(vector *v, const char *token, size_t len)
{
    const char *eq = memchr(token, '=', len);
    assert_non_null(eq);
    size_t klen = (size_t)(eq - token);
    assert_true(klen > 0 && klen < MAX_KEY);
    assert_true(v->n_fields < MAX_FIELDS);
    field *f = &v->fields[v->n_fields++];
    memcpy(f->key, token, klen);
    f->key[klen] = '\0';
    unescape(f->value, sizeof(f->value), eq + 1, len - klen - 1);
}

static void parse_line(const char *line, size_t len)
{
    if (len == 0 || line[0] == '#')
        return;
    assert_true(n_vectors < MAX_VECTORS);
    vector *v = &vectors[n_vectors++];
    memset(v, 0, sizeof(*v));
    size_t i = 0;
    while (i < len) {
        while (i < len && line[i] == ' ')
            i++;
        size_t start = i;
        while (i < len && line[i] != ' ')
            i++;
        if (i > start)
            parse_field(v, line + start, i - start);
    }
}

static void load_manifest(void)
{
    size_t len;
    unsigned char *buf = tu_read_file(SCEP_VECTORS_DIR "/MANIFEST", &len);
    const char *text = (const char *)buf;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || text[i] == '\n') {
            parse_line(text + start, i - start);
            start = i + 1;
        }
    }
    free(buf);
}

static void path_of(char *out, size_t cap, const char *file)
{
    int n = snprintf(out, cap, "%s/%s", SCEP_VECTORS_DIR, file);
    assert_true(n > 0 && (size_t)n < cap);
}

static unsigned char *read_vector_file(const char *file, size_t *len)
{
    char path[1024];
    path_of(path, sizeof(path), file);
    return tu_read_file(path, len);
}

static X509 *read_cert(const char *file)
{
    char path[1024];
    path_of(path, sizeof(path), file);
    return tu_read_cert(path);
}

static EVP_PKEY *read_key(const char *file)
{
    char path[1024];
    path_of(path, sizeof(path), file);
    return tu_read_key(path);
}

static scep_cipher cipher_of(const char *name)
{
    static const struct {
        const char *name;
        scep_cipher cipher;
    } table[] = {{"des-cbc", SCEP_CIPHER_DES_CBC},
                 {"des3-cbc", SCEP_CIPHER_DES3_CBC},
                 {"aes128-cbc", SCEP_CIPHER_AES128_CBC},
                 {"aes192-cbc", SCEP_CIPHER_AES192_CBC},
                 {"aes256-cbc", SCEP_CIPHER_AES256_CBC}};
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        if (strcmp(table[i].name, name) == 0)
            return table[i].cipher;
    fail_msg("unknown cipher %s in MANIFEST", name);
    return SCEP_CIPHER_NONE;
}

static scep_digest digest_of(const char *name)
{
    static const struct {
        const char *name;
        scep_digest digest;
    } table[] = {{"md5", SCEP_DIGEST_MD5},       {"sha1", SCEP_DIGEST_SHA1},
                 {"sha224", SCEP_DIGEST_SHA224}, {"sha256", SCEP_DIGEST_SHA256},
                 {"sha384", SCEP_DIGEST_SHA384}, {"sha512", SCEP_DIGEST_SHA512}};
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        if (strcmp(table[i].name, name) == 0)
            return table[i].digest;
    fail_msg("unknown digest %s in MANIFEST", name);
    return SCEP_DIGEST_NONE;
}

/* Single DES and MD5 need the context's legacy switch (RFC 8894 section 2.9). */
static int is_legacy(const vector *v)
{
    const char *cipher = get(v, "cipher");
    return (cipher && cipher_of(cipher) == SCEP_CIPHER_DES_CBC) ||
           digest_of(need(v, "digest")) == SCEP_DIGEST_MD5;
}

static int is_request(const vector *v)
{
    return need_int(v, "type") != SCEP_MSG_CERT_REP;
}

static void assert_name(const X509_NAME *name, const char *expected, const char *what)
{
    assert_non_null(name);
    BIO *bio = BIO_new(BIO_s_mem());
    assert_non_null(bio);
    assert_true(X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) >= 0);
    char text[MAX_VALUE] = "";
    int n = BIO_read(bio, text, (int)sizeof(text) - 1);
    text[n > 0 ? n : 0] = '\0';
    BIO_free(bio);
    if (strcmp(text, expected) != 0)
        fail_msg("%s is \"%s\", expected \"%s\"", what, text, expected);
}

static void assert_same_key(const EVP_PKEY *have, const char *key_file)
{
    EVP_PKEY *key = read_key(key_file);
    assert_non_null(have);
    assert_int_equal(EVP_PKEY_eq(have, key), 1);
    EVP_PKEY_free(key);
}

static void assert_hex(const unsigned char *bytes, size_t len, const char *hex)
{
    assert_int_equal(strlen(hex), 2 * len);
    for (size_t i = 0; i < len; i++) {
        int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
        assert_true(hi >= 0 && lo >= 0);
        assert_int_equal(bytes[i], hi * 16 + lo);
    }
}

/* The keys and options to open one vector: the CA for a request, the requester (whose
 * signer certificate the CertRep was encrypted to) for a reply. */
typedef struct opener {
    X509 *recip_cert;
    EVP_PKEY *recip_key;
    scep_recipient recipient;
    STACK_OF(X509) * trusted;
    scep_open_options open_opts;
    scep_decrypt_options decrypt_opts;
} opener;

static void opener_init(opener *o, const vector *v)
{
    memset(o, 0, sizeof(*o));
    o->recip_cert = read_cert(need(v, "recip_cert"));
    o->recip_key = read_key(need(v, "recip_key"));
    o->recipient.cert = o->recip_cert;
    o->recipient.key = o->recip_key;
    o->decrypt_opts.recipients = &o->recipient;
    o->decrypt_opts.n_recipients = 1;
    const char *trusted = get(v, "trusted");
    if (trusted != NULL) {
        o->trusted = sk_X509_new_null();
        assert_non_null(o->trusted);
        assert_true(sk_X509_push(o->trusted, read_cert(trusted)) > 0);
        o->open_opts.trusted_signers = o->trusted;
    }
}

static void opener_free(opener *o)
{
    X509_free(o->recip_cert);
    EVP_PKEY_free(o->recip_key);
    sk_X509_pop_free(o->trusted, X509_free);
}

static scep_err decode(const vector *v, scep_ctx *ctx, scep_msg **msg, scep_diag *diag)
{
    size_t len;
    unsigned char *der = read_vector_file(need(v, "file"), &len);
    opener o;
    opener_init(&o, v);
    scep_err err = scep_msg_decode(ctx, der, len, &o.open_opts, &o.decrypt_opts, msg, diag);
    opener_free(&o);
    free(der);
    return err;
}

static const vector *find_vector(const char *file)
{
    for (size_t i = 0; i < n_vectors; i++)
        if (strcmp(need(&vectors[i], "file"), file) == 0)
            return &vectors[i];
    fail_msg("no MANIFEST entry for %s", file);
    return NULL;
}

static void check_header(const vector *v, const scep_msg *msg)
{
    assert_int_equal(msg->type, need_int(v, "type"));
    assert_string_equal(msg->transaction_id, need(v, "txid"));
    assert_int_equal(msg->digest, digest_of(need(v, "digest")));
    assert_int_equal(msg->sender_nonce_len, (size_t)need_int(v, "nonce_len"));
    assert_int_equal(msg->has_signing_time, need_int(v, "signing_time"));
    assert_non_null(msg->signer_cert);
    assert_name(X509_get_subject_name(msg->signer_cert), need(v, "signer_subject"),
                "signer subject");
}

static void check_request(const vector *v, const scep_msg *msg)
{
    assert_int_equal(msg->status, SCEP_STATUS_NONE);
    assert_int_equal(msg->recipient_nonce_len, 0);
    assert_int_equal(msg->cipher, cipher_of(need(v, "cipher")));
    if (msg->type == SCEP_MSG_CERT_POLL) {
        assert_name(msg->issuer, need(v, "issuer"), "CertPoll issuer");
        assert_name(msg->subject, need(v, "subject"), "CertPoll subject");
        return;
    }
    assert_non_null(msg->csr);
    assert_name(X509_REQ_get_subject_name(msg->csr), need(v, "subject"), "CSR subject");
    assert_same_key(X509_REQ_get0_pubkey(msg->csr), need(v, "csr_key"));
}

/* The CertRep answers its request: same transaction, our senderNonce echoed. */
static void check_answers_request(const vector *v, const scep_msg *msg)
{
    const vector *req_vector = find_vector(need(v, "request"));
    scep_msg *req = NULL;
    scep_diag diag = {{0}};
    scep_err err = decode(req_vector, tu_ctx(is_legacy(req_vector)), &req, &diag);
    if (err != SCEP_OK)
        fail_msg("%s: %s (%s)", need(req_vector, "file"), scep_strerror(err), diag.text);
    assert_int_equal(
        scep_reply_check(msg, req->transaction_id, req->sender_nonce, req->sender_nonce_len, &diag),
        SCEP_OK);
    scep_msg_free(req);
}

static void check_reply(const vector *v, const scep_msg *msg)
{
    assert_int_equal(msg->status, need_int(v, "status"));
    const char *fail_info = get(v, "failinfo");
    assert_int_equal(msg->fail_info,
                     fail_info ? (int)strtol(fail_info, NULL, 10) : SCEP_FAIL_INFO_NONE);
    assert_hex(msg->recipient_nonce, msg->recipient_nonce_len, need(v, "recipient_nonce"));
    check_answers_request(v, msg);
    if (msg->status != SCEP_STATUS_SUCCESS) {
        assert_null(msg->certs);
        assert_int_equal(msg->payload_len, 0);
        return;
    }
    assert_int_equal(msg->cipher, cipher_of(need(v, "cipher")));
    assert_non_null(msg->certs);
    assert_true(sk_X509_num(msg->certs) >= 1);
    X509 *issued = sk_X509_value(msg->certs, 0);
    assert_same_key(X509_get0_pubkey(issued), need(v, "issued_key"));
    assert_name(X509_get_subject_name(issued), need(v, "issued_subject"), "issued subject");
}

/* A vector opened (signature and attributes, not the envelope) in ctx. */
static scep_msg *open_only(const vector *v, scep_ctx *ctx)
{
    size_t len;
    unsigned char *der = read_vector_file(need(v, "file"), &len);
    opener o;
    opener_init(&o, v);
    scep_msg *msg = NULL;
    scep_diag diag = {{0}};
    scep_err err = scep_msg_open(ctx, der, len, &o.open_opts, &msg, &diag);
    if (err != SCEP_OK)
        fail_msg("%s: %s (%s)", need(v, "file"), scep_strerror(err), diag.text);
    opener_free(&o);
    free(der);
    return msg;
}

/* In OpenSSL's default context every real client's RSA signer certificate takes libscep's path
 * without a decoder chain (a key no provider made), and it opens to the same certificate and
 * key as on the ordinary path, which a legacy context takes. (A CertRep's signer is the
 * trusted certificate the client passed in, not the copy inside the message.) */
static void check_fast_signer(const vector *v)
{
    scep_msg *fast = open_only(v, tu_ctx(0)), *ordinary = open_only(v, tu_ctx(1));
    EVP_PKEY *key = X509_get0_pubkey(fast->signer_cert);
    assert_non_null(key);
    assert_null(EVP_PKEY_get0_provider(key));
    assert_non_null(EVP_PKEY_get0_provider(X509_get0_pubkey(ordinary->signer_cert)));
    assert_int_equal(X509_cmp(fast->signer_cert, ordinary->signer_cert), 0);
    assert_int_equal(EVP_PKEY_eq(key, X509_get0_pubkey(ordinary->signer_cert)), 1);
    scep_msg_free(fast);
    scep_msg_free(ordinary);
}

static void test_vector(void **state)
{
    const vector *v = *state;
    scep_msg *msg = NULL;
    scep_diag diag = {{0}};
    scep_err err = decode(v, tu_ctx(is_legacy(v)), &msg, &diag);
    if (err != SCEP_OK)
        fail_msg("%s: %s (%s)", need(v, "file"), scep_strerror(err), diag.text);
    check_header(v, msg);
    if (is_request(v)) {
        check_fast_signer(v);
        check_request(v, msg);
    } else {
        check_reply(v, msg);
    }
    scep_msg_free(msg);
}

/* Without the legacy switch a single-DES message still opens (its header stays readable, so
 * a server can answer FAILURE badAlg) but its envelope is refused. */
static void test_vector_legacy_off(void **state)
{
    const vector *v = *state;
    scep_msg *msg = NULL;
    scep_diag diag = {{0}};
    assert_int_equal(decode(v, tu_ctx(0), &msg, &diag), SCEP_E_BAD_ALG);
    assert_null(msg);

    size_t len;
    unsigned char *der = read_vector_file(need(v, "file"), &len);
    opener o;
    opener_init(&o, v);
    assert_int_equal(scep_msg_open(tu_ctx(0), der, len, &o.open_opts, &msg, &diag), SCEP_OK);
    assert_int_equal(scep_msg_decrypt(tu_ctx(0), msg, &o.decrypt_opts, &diag), SCEP_E_BAD_ALG);
    assert_int_equal(msg->type, need_int(v, "type"));
    assert_string_equal(msg->transaction_id, need(v, "txid"));
    assert_null(msg->payload);
    assert_null(msg->csr);
    assert_null(msg->certs);
    scep_msg_free(msg);
    opener_free(&o);
    free(der);
}

int main(void)
{
    load_manifest();
    /* One test per vector, and one more per single-DES vector. */
    struct CMUnitTest *tests = calloc(2 * n_vectors + 1, sizeof(*tests));
    assert_non_null(tests);
    size_t n = 0;
    for (size_t i = 0; i < n_vectors; i++) {
        vector *v = &vectors[i];
        tests[n++] = (struct CMUnitTest){
            .name = need(v, "file"), .test_func = test_vector, .initial_state = v};
        const char *cipher = get(v, "cipher");
        if (cipher && cipher_of(cipher) == SCEP_CIPHER_DES_CBC) {
            snprintf(v->name, sizeof(v->name), "%s (legacy off)", need(v, "file"));
            tests[n++] = (struct CMUnitTest){
                .name = v->name, .test_func = test_vector_legacy_off, .initial_state = v};
        }
    }
    assert_true(n_vectors >= 1);
    int failed = _cmocka_run_group_tests("vectors", tests, n, NULL, NULL);
    free(tests);
    return failed;
}
