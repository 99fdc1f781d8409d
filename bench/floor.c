/*
 * scep-floor: what one enrollment costs in scepd's protocol path alone, against the three RSA
 * private-key operations that make the RSA ceiling, in one thread of one process.
 *
 * The path is scepd's own code, in the order enroll.c runs it: open and verify the PKCSReq,
 * check its signer's self-signature, open the envelope (the first private-key operation), issue
 * the certificate (the second), encode it for the store, and build the signed and encrypted
 * CertRep (the third). No HTTP, no store, no flush, no log: whatever a server adds comes on top,
 * so RSA / path bounds the share of the ceiling any server on this code and this OpenSSL reaches.
 *
 * The reference is what `openssl speed rsa2048` measures: one key, one reused EVP_PKEY_CTX per
 * operation, PKCS#1 v1.5, a decryption and two SHA-256 signatures per enrollment. Rounds
 * alternate the two measurements so that both see the same minute of this noisy machine.
 *
 *   scep-floor --dir DIR [-n N] [-r ROUNDS] [-t THREADS]
 *
 * With THREADS above 1 both measurements run on that many threads at once (each with its own
 * reference contexts), which shows what sharing the CA key, OpenSSL's tables and the allocator
 * between threads costs; per-enrollment figures are then CPU summed over the threads.
 *
 * Every CertRep of every round is verified as scep-bench verifies a server's (signature,
 * transactionID, recipientNonce, the certificate's key, subject and issuer, no repeated serial).
 */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "bench.h"
#include "ca/ca.h"
#include "keys/keys.h"
#include "admin/cli.h"

static const char usage_text[] =
    "usage: scep-floor --dir DIR [-n N] [-r ROUNDS] [-t THREADS]\n"
    "\n"
    "Runs scepd's enrollment path (no HTTP, no store) on N PKCSReq messages in one thread, and\n"
    "three RSA private-key operations per enrollment with the same CA key, alternating, ROUNDS\n"
    "times; prints CPU milliseconds per enrollment for both and their ratio.\n"
    "\n"
    "  -d, --dir DIR      a directory made by `scepd init` (its scepd.conf names the CA)\n"
    "  -n, --count N      enrollments per round (default 400)\n"
    "  -r, --rounds R     rounds (default 5)\n"
    "  -t, --threads T    run both measurements on T threads at once (default 1)\n"
    "\n"
    "Exit status: 0 every CertRep verified, 1 a step or a verification failed, 2 usage or setup.\n";

#define FLOOR_MAX_THREADS 64

static double thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct floor_run {
    config cfg;
    authority ca;
    scep_ctx *ctx; /* as `scepd serve` makes it from the configuration */
    bench_target t;
    bench_opts o;
    bench_req *reqs;
    int threads;
} floor_run;

/* scepd's certificate check of a self-signed signer (policy_self_signed in
 * server/policy/request_policy.c). */
static int self_signed_ok(X509 *cert)
{
    EVP_PKEY *key = X509_get0_pubkey(cert);
    return key != NULL && X509_verify(cert, key) == 1;
}

/* One enrollment through scepd's path; the CertRep goes to r->body. 0, or -1. */
static int enroll_one(const floor_run *f, bench_req *r)
{
    scep_msg *msg = NULL;
    scep_diag diag = {{0}};
    int ok = scep_msg_open(f->ctx, r->der, r->der_len, NULL, &msg, &diag) == SCEP_OK &&
             scep_msg_check_time(msg, time(NULL), f->cfg.max_clock_skew) == SCEP_OK &&
             self_signed_ok(msg->signer_cert);
    scep_recipient keys[2];
    size_t n = 0;
    if (f->ca.ra_cert != NULL)
        keys[n++] = (scep_recipient){f->ca.ra_cert, f->ca.ra_key};
    keys[n++] = (scep_recipient){f->ca.cert, f->ca.key};
    for (size_t i = 0; i < n; i++)
        keys[i].key = key_for_thread(keys[i].key); /* as scepd's workers do */
    scep_decrypt_options d = {.recipients = keys, .n_recipients = n, .csr_key_from_signer = 1};
    ok = ok && scep_msg_decrypt(f->ctx, msg, &d, &diag) == SCEP_OK && msg->csr != NULL;
    char why[160];
    X509 *cert = ok ? ca_issue(&f->ca, msg->csr, &f->cfg, why, sizeof(why)) : NULL;
    unsigned char *der = NULL;
    ok = cert != NULL && i2d_X509(cert, &der) > 0;
    OPENSSL_free(der);
    STACK_OF(X509) *certs = ok ? sk_X509_new_null() : NULL;
    ok = certs != NULL && sk_X509_push(certs, cert) == 1;
    scep_reply_params rp = {.status = SCEP_STATUS_SUCCESS,
                            .certs = certs,
                            .signer_cert = ca_reply_cert(&f->ca),
                            .signer_key = ca_reply_key(&f->ca)};
    ok = ok && scep_reply_encode(f->ctx, msg, &rp, &r->body, &r->body_len) == SCEP_OK;
    sk_X509_free(certs);
    X509_free(cert);
    scep_msg_free(msg);
    r->http_status = ok ? 200 : 0;
    snprintf(r->content_type, sizeof(r->content_type), "%s", ok ? SCEP_CT_PKI_MESSAGE : "");
    return ok ? 0 : -1;
}

/* The reference: a PKCS#1 v1.5 decryption and two SHA-256 signatures per enrollment. */
typedef struct rsa_ref {
    EVP_PKEY_CTX *dec, *sign;
    unsigned char ct[512], digest[32];
    size_t ct_len;
} rsa_ref;

static int rsa_ref_init(rsa_ref *ref, EVP_PKEY *key)
{
    memset(ref, 0, sizeof(*ref));
    unsigned char cek[16];
    EVP_PKEY_CTX *enc = EVP_PKEY_CTX_new(key, NULL);
    ref->dec = EVP_PKEY_CTX_new(key, NULL);
    ref->sign = EVP_PKEY_CTX_new(key, NULL);
    ref->ct_len = sizeof(ref->ct);
    int ok = enc != NULL && ref->dec != NULL && ref->sign != NULL &&
             RAND_bytes(cek, sizeof(cek)) == 1 && RAND_bytes(ref->digest, 32) == 1 &&
             EVP_PKEY_encrypt_init(enc) == 1 &&
             EVP_PKEY_CTX_set_rsa_padding(enc, RSA_PKCS1_PADDING) == 1 &&
             EVP_PKEY_encrypt(enc, ref->ct, &ref->ct_len, cek, sizeof(cek)) == 1 &&
             EVP_PKEY_decrypt_init(ref->dec) == 1 &&
             EVP_PKEY_CTX_set_rsa_padding(ref->dec, RSA_PKCS1_PADDING) == 1 &&
             EVP_PKEY_sign_init(ref->sign) == 1 &&
             EVP_PKEY_CTX_set_rsa_padding(ref->sign, RSA_PKCS1_PADDING) == 1 &&
             EVP_PKEY_CTX_set_signature_md(ref->sign, EVP_sha256()) == 1;
    EVP_PKEY_CTX_free(enc);
    return ok ? 0 : -1;
}

static int rsa_ref_three(rsa_ref *ref)
{
    unsigned char out[512];
    size_t len = sizeof(out);
    if (EVP_PKEY_decrypt(ref->dec, out, &len, ref->ct, ref->ct_len) != 1 || len != 16)
        return -1;
    for (int i = 0; i < 2; i++) {
        len = sizeof(out);
        if (EVP_PKEY_sign(ref->sign, out, &len, ref->digest, sizeof(ref->digest)) != 1)
            return -1;
    }
    return 0;
}

static int parse_args(int argc, char **argv, const char **dir, long *count, long *rounds,
                      long *threads)
{
    static const struct option longopts[] = {
        {"dir", required_argument, NULL, 'd'},    {"count", required_argument, NULL, 'n'},
        {"rounds", required_argument, NULL, 'r'}, {"threads", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "d:n:r:t:h", longopts, NULL)) != -1) {
        char *end = NULL;
        long v = c == 'n' || c == 'r' || c == 't' ? strtol(optarg, &end, 10) : 0;
        if (c == 'd')
            *dir = optarg;
        else if (end != NULL && (*end != '\0' || v < 1 || v > 100000))
            return -1;
        else if (c == 'n')
            *count = v;
        else if (c == 'r')
            *rounds = v;
        else if (c == 't' && v <= FLOOR_MAX_THREADS)
            *threads = v;
        else
            return -1;
    }
    return optind == argc && *dir != NULL ? 0 : -1;
}

static int setup(floor_run *f, const char *dir, long count)
{
    char err[512] = "";
    if (cli_load_config("floor", dir, &f->cfg) != 0)
        return -1;
    scep_ctx_options opts = {.allow_legacy = f->cfg.legacy_algorithms};
    if (scep_ctx_new(&opts, &f->ctx) != SCEP_OK) {
        fprintf(stderr, "scep-floor: cannot create a SCEP context\n");
        return -1;
    }
    if (ca_load(&f->ca, &f->cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "scep-floor: cannot load the CA: %s\n", err);
        return -1;
    }
    STACK_OF(X509) *certs = sk_X509_new_null();
    int ok = certs != NULL && sk_X509_push(certs, f->ca.cert) > 0 &&
             (f->ca.ra_cert == NULL || sk_X509_push(certs, f->ca.ra_cert) > 0);
    f->o = (bench_opts){.count = count,
                        .challenge = f->cfg.challenge[0] ? f->cfg.challenge : NULL,
                        .key_bits = 2048,
                        .pool = 16,
                        .verify_every = 1};
    snprintf(err, sizeof(err), "out of memory");
    ok = ok && bench_target_local(&f->t, &f->o, certs, err, sizeof(err)) == 0;
    sk_X509_free(certs);
    f->reqs = ok ? calloc((size_t)count, sizeof(*f->reqs)) : NULL;
    if (f->reqs == NULL || bench_prepare(&f->t, &f->o, f->reqs, err, sizeof(err)) != 0) {
        fprintf(stderr, "scep-floor: %s\n", err);
        return -1;
    }
    return 0;
}

static void clear_replies(floor_run *f)
{
    for (long i = 0; i < f->o.count; i++) {
        free(f->reqs[i].body);
        f->reqs[i].body = NULL;
        f->reqs[i].body_len = 0;
        f->reqs[i].http_status = 0;
    }
}

/* One thread's share of a round: requests k, k + T, k + 2T, ... */
typedef struct floor_worker {
    floor_run *f;
    rsa_ref ref;
    int k;
    int rsa; /* this phase runs the reference instead of the path */
    long failed;
    double cpu;
    pthread_t tid;
    int started; /* on its own thread, to be joined */
} floor_worker;

static void *work(void *arg)
{
    floor_worker *w = arg;
    double t0 = thread_cpu();
    for (long i = w->k; i < w->f->o.count; i += w->f->threads)
        w->failed += (w->rsa ? rsa_ref_three(&w->ref) : enroll_one(w->f, &w->f->reqs[i])) != 0;
    w->cpu = thread_cpu() - t0;
    return NULL;
}

/* One phase on every worker at once: CPU milliseconds per enrollment, and the wall seconds. */
static double phase(floor_worker *w, int threads, int rsa, double *wall)
{
    uint64_t t0 = bench_now_ns();
    for (int k = 0; k < threads; k++) {
        w[k].rsa = rsa;
        w[k].started = pthread_create(&w[k].tid, NULL, work, &w[k]) == 0;
        if (!w[k].started)
            work(&w[k]);
    }
    double cpu = 0;
    for (int k = 0; k < threads; k++) {
        if (w[k].started)
            pthread_join(w[k].tid, NULL);
        cpu += w[k].cpu;
    }
    *wall = (double)(bench_now_ns() - t0) / 1e9;
    return 1000 * cpu / (double)w[0].f->o.count;
}

/* Round r: the path on every request, then the reference as often; 0 when all verified. */
static int round_once(floor_run *f, floor_worker *w, int r, double *path_ms, double *rsa_ms)
{
    long n = f->o.count, failed = 0;
    clear_replies(f);
    double path_wall, rsa_wall;
    *path_ms = phase(w, f->threads, 0, &path_wall);
    *rsa_ms = phase(w, f->threads, 1, &rsa_wall);
    for (int k = 0; k < f->threads; k++) {
        failed += w[k].failed;
        w[k].failed = 0;
    }
    bench_verdict v;
    bench_verify(&f->t, &f->o, f->reqs, &v);
    printf("round %d: path %.3f ms, three RSA operations %.3f ms, other %.3f ms, RSA share "
           "%.1f%%; %.0f enrollments/s, %.0f RSA triples/s (%.1f%%); verified %ld/%ld, %ld "
           "repeated serials\n",
           r, *path_ms, *rsa_ms, *path_ms - *rsa_ms, 100 * *rsa_ms / *path_ms,
           (double)n / path_wall, (double)n / rsa_wall, 100 * rsa_wall / path_wall, v.ok, n,
           v.dup_serials);
    if (v.ok != n || v.dup_serials != 0 || failed != 0) {
        fprintf(stderr, "scep-floor: round %d not valid: %ld steps failed; %s\n", r, failed,
                v.first_problem);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    long count = 400, rounds = 5, threads = 1;
    if (parse_args(argc, argv, &dir, &count, &rounds, &threads) != 0) {
        fputs(usage_text, stderr);
        return 2;
    }
    floor_run f = {.threads = (int)threads};
    floor_worker w[FLOOR_MAX_THREADS] = {{0}};
    int ready = setup(&f, dir, count) == 0;
    for (int k = 0; ready && k < f.threads; k++) {
        w[k].f = &f;
        w[k].k = k;
        ready = rsa_ref_init(&w[k].ref, f.ca.key) == 0;
    }
    if (!ready) {
        fprintf(stderr, "scep-floor: setup failed\n");
        return 2;
    }
    int rc = 0;
    double sum_path = 0, sum_rsa = 0;
    for (int r = 1; r <= rounds && rc == 0; r++) {
        double p, q;
        rc = round_once(&f, w, r, &p, &q);
        sum_path += p;
        sum_rsa += q;
    }
    if (rc == 0)
        printf("mean: path %.3f ms, three RSA operations %.3f ms, other %.3f ms; the path "
               "alone reaches at most %.1f%% of the RSA ceiling\n",
               sum_path / rounds, sum_rsa / rounds, (sum_path - sum_rsa) / rounds,
               100 * sum_rsa / sum_path);
    clear_replies(&f);
    for (long i = 0; i < count; i++)
        bench_req_clear(&f.reqs[i]);
    free(f.reqs);
    for (int k = 0; k < f.threads; k++) {
        EVP_PKEY_CTX_free(w[k].ref.dec);
        EVP_PKEY_CTX_free(w[k].ref.sign);
    }
    bench_target_close(&f.t);
    ca_free(&f.ca);
    scep_ctx_free(f.ctx);
    return rc == 0 ? 0 : 1;
}
