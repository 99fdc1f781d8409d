/*
 * Library self-check: makes a CA in memory, then runs every SCEP exchange through libscep the
 * way a client and a server would, and checks each answer with OpenSSL. With --out DIR it also
 * writes the messages (DER) so they can be inspected with `openssl cms -cmsout -print`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "scep/scep.h"

typedef struct party {
    EVP_PKEY *key;
    X509 *cert;
} party;

static const char *out_dir;
static int failures;

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "selfcheck: FAILED: %s\n", what);
        ERR_print_errors_fp(stderr);
        failures++;
    }
}

static void save(const char *name, const unsigned char *der, size_t len)
{
    if (out_dir == NULL)
        return;
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", out_dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(der, 1, len, f) != len)
        check(0, path);
    if (f != NULL)
        fclose(f);
}

static X509_NAME *name_of(const char *cn)
{
    X509_NAME *n = X509_NAME_new();
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
    X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8, (const unsigned char *)"Selfcheck", -1, -1,
                               0);
    return n;
}

static void add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
    check(ext != NULL && X509_add_ext(cert, ext, -1), "add extension");
    X509_EXTENSION_free(ext);
}

/* What the CA engine will do in scepd; here just enough to have a real certificate. */
static X509 *issue(const party *ca, const X509_NAME *subject, EVP_PKEY *pub, int is_ca)
{
    X509 *cert = X509_new();
    unsigned char serial[16];
    RAND_bytes(serial, sizeof(serial));
    serial[0] &= 0x7f;
    BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);
    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert));
    BN_free(bn);
    X509_set_version(cert, X509_VERSION_3);
    X509_set_subject_name(cert, subject);
    X509_set_issuer_name(cert, ca ? X509_get_subject_name(ca->cert) : subject);
    X509_gmtime_adj(X509_getm_notBefore(cert), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert), 365L * 86400);
    X509_set_pubkey(cert, pub);
    X509 *issuer = ca ? ca->cert : cert;
    add_ext(cert, issuer, NID_basic_constraints, is_ca ? "critical,CA:TRUE" : "CA:FALSE");
    add_ext(cert, issuer, NID_subject_key_identifier, "hash");
    add_ext(cert, issuer, NID_key_usage,
            is_ca ? "critical,keyCertSign,cRLSign,digitalSignature"
                  : "critical,digitalSignature,keyEncipherment");
    check(X509_sign(cert, ca ? ca->key : pub, EVP_sha256()) > 0, "sign certificate");
    return cert;
}

/* One enrollment: PKCSReq from a new device, CertRep SUCCESS from the CA. */
static void enroll(scep_ctx *ctx, const party *ca, scep_cipher cipher, scep_digest digest,
                   const char *key_type)
{
    EVP_PKEY *key = strcmp(key_type, "RSA") == 0
                        ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)
                        : EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509_NAME *subject = name_of("device.example");
    X509 *signer = NULL;
    X509_REQ *csr = NULL;
    char tid[130];
    unsigned char nonce[SCEP_NONCE_BYTES];
    scep_csr_params cp = {.subject = subject,
                          .challenge_password = "selfcheck-secret",
                          .san = "dns:device.example",
                          .digest = digest};
    check(scep_selfsigned_signer(ctx, key, NULL, 1, digest, &signer) == SCEP_OK, "signer");
    check(scep_csr_build(ctx, key, &cp, &csr) == SCEP_OK, "CSR");
    check(scep_transaction_id(ctx, key, SCEP_DIGEST_SHA256, tid, sizeof(tid)) == SCEP_OK, "tid");
    check(scep_nonce(nonce, sizeof(nonce)) == SCEP_OK, "nonce");
    scep_msg_params req = {.type = SCEP_MSG_PKCS_REQ,
                           .transaction_id = tid,
                           .sender_nonce = nonce,
                           .sender_nonce_len = sizeof(nonce),
                           .csr = csr,
                           .signer_cert = signer,
                           .signer_key = key,
                           .digest = digest,
                           .recipient_cert = ca->cert,
                           .cipher = cipher};
    unsigned char *req_der = NULL, *rep_der = NULL;
    size_t req_len = 0, rep_len = 0;
    check(scep_msg_encode(ctx, &req, &req_der, &req_len) == SCEP_OK, "encode PKCSReq");

    /* The server's side. */
    scep_recipient me = {ca->cert, ca->key};
    scep_decrypt_options sd = {.recipients = &me, .n_recipients = 1};
    scep_msg *got = NULL;
    scep_diag diag = {{0}};
    scep_err err = scep_msg_decode(ctx, req_der, req_len, NULL, &sd, &got, &diag);
    check(err == SCEP_OK, diag.text);
    char pw[64] = "";
    if (got != NULL)
        check(scep_csr_challenge_password(got->csr, pw, sizeof(pw)) == SCEP_OK &&
                  strcmp(pw, "selfcheck-secret") == 0,
              "challenge password");
    X509 *issued =
        got ? issue(ca, X509_REQ_get_subject_name(got->csr), X509_REQ_get0_pubkey(got->csr), 0)
            : NULL;
    STACK_OF(X509) *certs = sk_X509_new_null();
    sk_X509_push(certs, issued);
    scep_reply_params rp = {.status = SCEP_STATUS_SUCCESS,
                            .certs = certs,
                            .signer_cert = ca->cert,
                            .signer_key = ca->key,
                            .password = "selfcheck-secret"};
    if (got != NULL)
        check(scep_reply_encode(ctx, got, &rp, &rep_der, &rep_len) == SCEP_OK, "encode CertRep");

    /* The client's side. */
    STACK_OF(X509) *trusted = sk_X509_new_null();
    sk_X509_push(trusted, ca->cert);
    scep_open_options co = {.trusted_signers = trusted};
    scep_recipient mine = {signer, key};
    scep_decrypt_options cd = {
        .recipients = &mine, .n_recipients = 1, .password = "selfcheck-secret"};
    scep_msg *rep = NULL;
    err = scep_msg_decode(ctx, rep_der, rep_len, &co, &cd, &rep, &diag);
    check(err == SCEP_OK, diag.text);
    X509 *leaf = rep ? scep_certs_find_leaf(rep->certs, key) : NULL;
    check(rep != NULL && scep_reply_check(rep, tid, nonce, sizeof(nonce), NULL) == SCEP_OK,
          "reply matches request");
    check(leaf != NULL && X509_verify(leaf, ca->key) == 1, "issued certificate verifies");
    printf("  %-4s PKCSReq %-12s %-8s %5zu bytes -> CertRep %s %5zu bytes, %s\n", key_type,
           scep_cipher_name(cipher), scep_digest_name(digest), req_len,
           rep ? scep_pki_status_name(rep->status) : "-", rep_len,
           leaf ? "certificate verified" : "NO CERTIFICATE");
    char name[96];
    snprintf(name, sizeof(name), "pkcsreq-%s-%s-%s.der", key_type, scep_cipher_name(cipher),
             scep_digest_name(digest));
    save(name, req_der, req_len);
    snprintf(name, sizeof(name), "certrep-%s-%s-%s.der", key_type, scep_cipher_name(cipher),
             scep_digest_name(digest));
    save(name, rep_der, rep_len);

    scep_msg_free(rep);
    scep_msg_free(got);
    sk_X509_free(trusted);
    sk_X509_free(certs);
    X509_free(issued);
    OPENSSL_free(req_der);
    OPENSSL_free(rep_der);
    X509_REQ_free(csr);
    X509_free(signer);
    X509_NAME_free(subject);
    EVP_PKEY_free(key);
}

static void caps_and_urls(scep_ctx *ctx, const party *ca)
{
    char *text = NULL;
    size_t len = 0;
    scep_caps caps = SCEP_CAP_AES | SCEP_CAP_DES3 | SCEP_CAP_POST_PKI_OPERATION | SCEP_CAP_RENEWAL |
                     SCEP_CAP_SHA1 | SCEP_CAP_SHA256 | SCEP_CAP_SHA384 | SCEP_CAP_SHA512 |
                     SCEP_CAP_SCEP_STANDARD | SCEP_CAP_GET_NEXT_CA_CERT;
    scep_caps parsed = 0;
    scep_negotiated neg;
    check(scep_caps_format(caps, &text, &len) == SCEP_OK, "format caps");
    check(scep_caps_parse(text, len, &parsed) == SCEP_OK && (parsed & caps) == caps, "parse caps");
    check(scep_caps_negotiate(ctx, parsed, &neg) == SCEP_OK, "negotiate");
    printf("  GetCACaps: %zu bytes; negotiated %s + %s over %s\n", len,
           scep_cipher_name(neg.cipher), scep_digest_name(neg.digest),
           neg.use_post ? "POST" : "GET");
    free(text);

    unsigned char *der = NULL;
    int n = i2d_X509(ca->cert, &der);
    char *url = NULL;
    scep_http_request req = {0};
    check(scep_http_build_get_url("http://127.0.0.1/scep", SCEP_OP_PKI_OPERATION, der, (size_t)n,
                                  &url) == SCEP_OK,
          "build GET URL");
    const char *query = url ? strchr(url, '?') : NULL;
    check(query && scep_http_parse_query(query + 1, strlen(query + 1), &req) == SCEP_OK &&
              req.message_len == (size_t)n && memcmp(req.message, der, (size_t)n) == 0,
          "GET URL round trip");
    printf("  GET PKIOperation URL: %zu characters, decodes to the same %d bytes\n",
           url ? strlen(url) : 0, n);
    scep_http_request_clear(&req);
    free(url);
    OPENSSL_free(der);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--out") == 0)
        out_dir = argv[2];
    else if (argc != 1) {
        fprintf(stderr, "usage: scep-selfcheck [--out DIR]\n");
        return 2;
    }
    scep_ctx *ctx = NULL;
    if (scep_ctx_new(NULL, &ctx) != SCEP_OK) {
        fprintf(stderr, "selfcheck: cannot create a context\n");
        return 1;
    }
    printf("libscep %s self-check\n", SCEP_VERSION_STRING);
    party ca = {EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048), NULL};
    X509_NAME *ca_name = name_of("Selfcheck CA");
    ca.cert = issue(NULL, ca_name, ca.key, 1);
    char fp[200];
    check(scep_cert_fingerprint(ca.cert, SCEP_DIGEST_SHA256, fp, sizeof(fp)) == SCEP_OK, "fp");
    printf("  CA SHA-256 fingerprint %s\n", fp);

    enroll(ctx, &ca, SCEP_CIPHER_AES128_CBC, SCEP_DIGEST_SHA256, "RSA");
    enroll(ctx, &ca, SCEP_CIPHER_AES256_CBC, SCEP_DIGEST_SHA512, "RSA");
    enroll(ctx, &ca, SCEP_CIPHER_DES3_CBC, SCEP_DIGEST_SHA1, "RSA");
    enroll(ctx, &ca, SCEP_CIPHER_AES128_CBC, SCEP_DIGEST_SHA256, "EC");
    caps_and_urls(ctx, &ca);

    X509_NAME_free(ca_name);
    X509_free(ca.cert);
    EVP_PKEY_free(ca.key);
    scep_ctx_free(ctx);
    if (failures) {
        printf("self-check FAILED (%d problems)\n", failures);
        return 1;
    }
    printf("self-check passed\n");
    return 0;
}
