/* Before the clock starts: the server's CA and capabilities, the key pool, and every PKCSReq. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rsa.h>

#include "bench.h"

static int get_op(const bench_target *t, int timeout, scep_operation op, bench_reply *r)
{
    char *target = NULL;
    if (scep_http_build_get_url(t->url.path, op, NULL, 0, &target) != SCEP_OK)
        return -1;
    bench_conn c;
    bench_conn_init(&c, &t->url, timeout);
    long reconnects = 0;
    int rc = bench_http(&c, "GET", target, NULL, 0, r, &reconnects);
    bench_conn_close(&c);
    free(c.buf);
    free(target);
    return rc;
}

static int fetch_caps(bench_target *t, const bench_opts *o, char *err, size_t errlen)
{
    bench_reply r = {0};
    if (get_op(t, o->timeout, SCEP_OP_GET_CA_CAPS, &r) != 0) {
        snprintf(err, errlen, "GetCACaps: no answer from %s", o->url);
        return -1;
    }
    if (r.status != 200 || scep_caps_parse((const char *)r.body, r.len, &t->caps) != SCEP_OK)
        t->caps = 0;
    free(r.body);
    scep_negotiated neg;
    if (scep_caps_negotiate(t->ctx, t->caps, &neg) != SCEP_OK) {
        snprintf(err, errlen, "the server's capabilities leave only DES/MD5: use --legacy");
        return -1;
    }
    t->cipher = o->cipher ? o->cipher : neg.cipher;
    t->digest = o->digest ? o->digest : neg.digest;
    return 0;
}

static STACK_OF(X509) * decode_ca(const bench_target *t, const bench_reply *r)
{
    STACK_OF(X509) *certs = NULL;
    if (strcmp(r->content_type, SCEP_CT_CA_RA_CERT) == 0) {
        if (scep_certs_only_decode(t->ctx, r->body, r->len, &certs, NULL) != SCEP_OK)
            return NULL;
        return certs;
    }
    const unsigned char *p = r->body;
    X509 *cert = d2i_X509(NULL, &p, (long)r->len);
    if (cert == NULL || p != r->body + r->len || (certs = sk_X509_new_null()) == NULL ||
        sk_X509_push(certs, cert) != 1) {
        X509_free(cert);
        sk_X509_free(certs);
        return NULL;
    }
    return certs;
}

static int fetch_ca(bench_target *t, const bench_opts *o, char *err, size_t errlen)
{
    bench_reply r = {0};
    if (get_op(t, o->timeout, SCEP_OP_GET_CA_CERT, &r) != 0 || r.status != 200) {
        snprintf(err, errlen, "GetCACert failed (HTTP %d)", r.status);
        free(r.body);
        return -1;
    }
    t->ca_certs = decode_ca(t, &r);
    free(r.body);
    if (t->ca_certs == NULL ||
        scep_certs_roles(t->ca_certs, &t->ca, &t->ra_enc, &t->ra_sign) != SCEP_OK) {
        snprintf(err, errlen, "GetCACert: no CA certificate in the answer");
        return -1;
    }
    return 0;
}

static EVP_PKEY *new_rsa(int bits)
{
    EVP_PKEY *key = NULL;
    EVP_PKEY_CTX *kc = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    if (kc && EVP_PKEY_keygen_init(kc) == 1 && EVP_PKEY_CTX_set_rsa_keygen_bits(kc, bits) == 1)
        EVP_PKEY_keygen(kc, &key);
    EVP_PKEY_CTX_free(kc);
    return key;
}

/* Keys are slow to make: a small pool, each with one self-signed signer certificate. */
static int make_pool(bench_target *t, const bench_opts *o, char *err, size_t errlen)
{
    t->pool = o->pool;
    t->keys = calloc((size_t)t->pool, sizeof(*t->keys));
    t->signers = calloc((size_t)t->pool, sizeof(*t->signers));
    if (t->keys == NULL || t->signers == NULL)
        return -1;
    for (int i = 0; i < t->pool; i++) {
        char cn[64];
        snprintf(cn, sizeof(cn), "CN=scep-bench signer %d", i);
        X509_NAME *name = NULL;
        t->keys[i] = new_rsa(o->key_bits);
        if (t->keys[i] == NULL || scep_name_parse(cn, &name) != SCEP_OK ||
            scep_selfsigned_signer(t->ctx, t->keys[i], name, 7, t->digest, &t->signers[i]) !=
                SCEP_OK) {
            X509_NAME_free(name);
            snprintf(err, errlen, "cannot make RSA-%d key %d and its signer", o->key_bits, i);
            return -1;
        }
        X509_NAME_free(name);
    }
    return 0;
}

/* What both kinds of target share once the CA is known: the algorithms and the key pool. */
static int finish_target(bench_target *t, const bench_opts *o, char *err, size_t errlen)
{
    if (!scep_cipher_allowed(t->ctx, t->cipher) || !scep_digest_allowed(t->ctx, t->digest)) {
        snprintf(err, errlen, "%s / %s need --legacy", scep_cipher_name(t->cipher),
                 scep_digest_name(t->digest));
        return -1;
    }
    return make_pool(t, o, err, errlen);
}

static int new_ctx(bench_target *t, const bench_opts *o, char *err, size_t errlen)
{
    scep_ctx_options co = {.allow_legacy = o->legacy};
    if (scep_ctx_new(&co, &t->ctx) != SCEP_OK) {
        snprintf(err, errlen, "cannot create a SCEP context");
        return -1;
    }
    return 0;
}

int bench_target_open(bench_target *t, const bench_opts *o, char *err, size_t errlen)
{
    memset(t, 0, sizeof(*t));
    if (bench_url_parse(o->url, &t->url, err, errlen) != 0 || new_ctx(t, o, err, errlen) != 0)
        return -1;
    if (fetch_caps(t, o, err, errlen) != 0 || fetch_ca(t, o, err, errlen) != 0)
        return -1;
    return finish_target(t, o, err, errlen);
}

int bench_target_local(bench_target *t, const bench_opts *o, STACK_OF(X509) * certs, char *err,
                       size_t errlen)
{
    memset(t, 0, sizeof(*t));
    snprintf(t->url.path, sizeof(t->url.path), "/scep");
    if (new_ctx(t, o, err, errlen) != 0)
        return -1;
    t->ca_certs = sk_X509_new_null();
    for (int i = 0; t->ca_certs != NULL && i < sk_X509_num(certs); i++) {
        X509 *cert = sk_X509_value(certs, i);
        if (!sk_X509_push(t->ca_certs, cert)) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        X509_up_ref(cert); /* pushed: bench_target_close drops it */
    }
    if (t->ca_certs == NULL ||
        scep_certs_roles(t->ca_certs, &t->ca, &t->ra_enc, &t->ra_sign) != SCEP_OK) {
        snprintf(err, errlen, "no CA certificate among the certificates given");
        return -1;
    }
    t->cipher = o->cipher ? o->cipher : SCEP_CIPHER_AES128_CBC;
    t->digest = o->digest ? o->digest : SCEP_DIGEST_SHA256;
    return finish_target(t, o, err, errlen);
}

void bench_target_close(bench_target *t)
{
    for (int i = 0; i < t->pool; i++) {
        EVP_PKEY_free(t->keys ? t->keys[i] : NULL);
        X509_free(t->signers ? t->signers[i] : NULL);
    }
    free(t->keys);
    free(t->signers);
    sk_X509_pop_free(t->ca_certs, X509_free);
    scep_ctx_free(t->ctx);
    memset(t, 0, sizeof(*t));
}

/* A transactionID unique to this run and request (the server keys on it with the key). */
static int identify(bench_req *r, long i, const unsigned char run_id[8])
{
    char hex[17];
    for (int k = 0; k < 8; k++)
        snprintf(hex + 2 * k, 3, "%02X", run_id[k]);
    int n = snprintf(r->transaction_id, sizeof(r->transaction_id), "BENCH-%s-%08lX", hex, i);
    if (n < 0 || (size_t)n >= sizeof(r->transaction_id))
        return -1;
    return scep_nonce(r->nonce, sizeof(r->nonce)) == SCEP_OK ? 0 : -1;
}

static X509_REQ *make_csr(const bench_target *t, const bench_opts *o, const bench_req *r)
{
    scep_csr_params cp = {
        .subject = r->subject, .challenge_password = o->challenge, .digest = t->digest};
    X509_REQ *csr = NULL;
    if (scep_csr_build(t->ctx, t->keys[r->key_index], &cp, &csr) != SCEP_OK)
        return NULL;
    return csr;
}

static int encode(const bench_target *t, bench_req *r, X509_REQ *csr)
{
    scep_msg_params p = {.type = SCEP_MSG_PKCS_REQ,
                         .transaction_id = r->transaction_id,
                         .sender_nonce = r->nonce,
                         .sender_nonce_len = sizeof(r->nonce),
                         .csr = csr,
                         .signer_cert = t->signers[r->key_index],
                         .signer_key = t->keys[r->key_index],
                         .digest = t->digest,
                         .recipient_cert = t->ra_enc,
                         .cipher = t->cipher};
    return scep_msg_encode(t->ctx, &p, &r->der, &r->der_len) == SCEP_OK ? 0 : -1;
}

static int target(const bench_target *t, const bench_opts *o, bench_req *r)
{
    scep_err e = o->use_get ? scep_http_build_get_url(t->url.path, SCEP_OP_PKI_OPERATION, r->der,
                                                      r->der_len, &r->target)
                            : scep_http_build_post_url(t->url.path, &r->target);
    return e == SCEP_OK ? 0 : -1;
}

static int prepare_one(const bench_target *t, const bench_opts *o, bench_req *r, long i,
                       const unsigned char run_id[8])
{
    /* One RDN: Go's x509 (micromdm) reorders multi-RDN subjects, which the check would catch. */
    char subject[128];
    snprintf(subject, sizeof(subject), "CN=scep-bench-%02X%02X%02X%02X-%ld", run_id[0], run_id[1],
             run_id[2], run_id[3], i);
    r->key_index = (int)(i % t->pool);
    if (identify(r, i, run_id) != 0 || scep_name_parse(subject, &r->subject) != SCEP_OK)
        return -1;
    X509_REQ *csr = make_csr(t, o, r);
    int rc = csr != NULL && encode(t, r, csr) == 0 && target(t, o, r) == 0 ? 0 : -1;
    X509_REQ_free(csr);
    return rc;
}

typedef struct prep_job {
    const bench_target *t;
    const bench_opts *o;
    bench_req *reqs;
    unsigned char run_id[8];
    atomic_long failed; /* the first failing index + 1 */
} prep_job;

static void prepare_at(void *arg, long i)
{
    prep_job *j = arg;
    long none = 0;
    if (prepare_one(j->t, j->o, &j->reqs[i], i, j->run_id) != 0)
        atomic_compare_exchange_strong(&j->failed, &none, i + 1);
}

int bench_prepare(const bench_target *t, const bench_opts *o, bench_req *reqs, char *err,
                  size_t errlen)
{
    prep_job j = {.t = t, .o = o, .reqs = reqs};
    if (scep_nonce(j.run_id, sizeof(j.run_id)) != SCEP_OK)
        return -1;
    bench_parallel(o->count, 1, prepare_at, &j);
    long failed = atomic_load(&j.failed);
    if (failed != 0)
        snprintf(err, errlen, "cannot build request %ld", failed - 1);
    return failed != 0 ? -1 : 0;
}

void bench_req_clear(bench_req *r)
{
    OPENSSL_free(r->der);
    free(r->target);
    free(r->body);
    X509_NAME_free(r->subject);
    memset(r, 0, sizeof(*r));
}
