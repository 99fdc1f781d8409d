/* After the clock stops: a response counts only if everything a careful client checks holds,
 * and no two certificates of the run share a serial. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

typedef enum outcome {
    OUT_SKIPPED = 0,
    OUT_OK,
    OUT_NO_ANSWER,
    OUT_HTTP,
    OUT_BAD_REPLY,
    OUT_NOT_SUCCESS,
    OUT_BAD_CERT,
} outcome;

typedef struct result {
    outcome out;
    ASN1_INTEGER *serial; /* of a verified certificate */
    char serial_hex[72];
    scep_cipher cipher;
    scep_digest digest;
    char why[200];
} result;

typedef struct job {
    const bench_target *t;
    bench_req *reqs;
    const long *idx; /* NULL: reqs[i] is res[i] */
    result *res;
} job;

/* Records why a response failed: prefix then detail (cut to fit). */
static outcome why(result *res, outcome o, const char *prefix, const char *detail)
{
    snprintf(res->why, sizeof(res->why), "%s%.150s", prefix, detail);
    return o;
}

static outcome refused(result *res, const char *prefix, scep_err e, const scep_diag *diag)
{
    char text[256];
    snprintf(text, sizeof(text), "%s%s%.190s", scep_strerror(e), diag->text[0] ? ": " : "",
             diag->text);
    return why(res, OUT_BAD_REPLY, prefix, text);
}

static outcome check_cert(const bench_target *t, const bench_req *r, const scep_msg *m, result *res)
{
    EVP_PKEY *key = t->keys[r->key_index];
    X509 *leaf = scep_certs_find_leaf(m->certs, key);
    if (leaf == NULL)
        return why(res, OUT_BAD_CERT, "", "no certificate for the request's key");
    if (EVP_PKEY_eq(X509_get0_pubkey(leaf), key) != 1)
        return why(res, OUT_BAD_CERT, "", "the certificate holds another key");
    if (X509_NAME_cmp(X509_get_subject_name(leaf), r->subject) != 0)
        return why(res, OUT_BAD_CERT, "", "the certificate has another subject");
    if (X509_NAME_cmp(X509_get_issuer_name(leaf), X509_get_subject_name(t->ca)) != 0 ||
        X509_verify(leaf, X509_get0_pubkey(t->ca)) != 1)
        return why(res, OUT_BAD_CERT, "", "the certificate is not issued by the CA");
    res->serial = ASN1_INTEGER_dup(X509_get0_serialNumber(leaf));
    BIGNUM *bn = res->serial ? ASN1_INTEGER_to_BN(res->serial, NULL) : NULL;
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    snprintf(res->serial_hex, sizeof(res->serial_hex), "%s", hex ? hex : "");
    OPENSSL_free(hex);
    BN_free(bn);
    return res->serial ? OUT_OK : why(res, OUT_BAD_CERT, "", "out of memory");
}

static outcome check_reply(const bench_target *t, const bench_req *r, scep_msg **m, result *res)
{
    STACK_OF(X509) *trusted = sk_X509_new_null();
    sk_X509_push(trusted, t->ca);
    if (t->ra_sign != t->ca)
        sk_X509_push(trusted, t->ra_sign);
    scep_open_options oo = {.extra_certs = t->ca_certs, .trusted_signers = trusted};
    scep_recipient me = {t->signers[r->key_index], t->keys[r->key_index]};
    scep_decrypt_options dopts = {.recipients = &me, .n_recipients = 1};
    scep_diag diag = {{0}};
    scep_err e = scep_msg_open(t->ctx, r->body, r->body_len, &oo, m, &diag);
    sk_X509_free(trusted);
    if (e == SCEP_OK)
        e = scep_reply_check(*m, r->transaction_id, r->nonce, sizeof(r->nonce), &diag);
    if (e != SCEP_OK)
        return refused(res, "reply refused: ", e, &diag);
    if ((*m)->status != SCEP_STATUS_SUCCESS)
        return why(res, OUT_NOT_SUCCESS, "",
                   (*m)->fail_info_text[0] ? (*m)->fail_info_text
                                           : scep_pki_status_name((*m)->status));
    e = scep_msg_decrypt(t->ctx, *m, &dopts, &diag);
    if (e != SCEP_OK)
        return refused(res, "cannot open the reply: ", e, &diag);
    res->cipher = (*m)->cipher;
    res->digest = (*m)->digest;
    return check_cert(t, r, *m, res);
}

/* The outcome's name in --save's results. */
static void name_outcome(bench_req *r, outcome o)
{
    static const char *const names[] = {"-",         "ok",          "transport", "http",
                                        "bad-reply", "not-success", "bad-cert"};
    if (o == OUT_HTTP)
        snprintf(r->outcome, sizeof(r->outcome), "http-%d", r->http_status);
    else
        snprintf(r->outcome, sizeof(r->outcome), "%s", names[o]);
}

static void verify_one(void *arg, long i)
{
    job *j = arg;
    bench_req *r = &j->reqs[j->idx ? j->idx[i] : i];
    result *res = &j->res[i];
    if (r->http_status == 0) {
        res->out = why(res, OUT_NO_ANSWER, "", "no HTTP answer");
        name_outcome(r, res->out);
        return;
    }
    if (r->http_status != 200 || strcmp(r->content_type, SCEP_CT_PKI_MESSAGE) != 0) {
        char text[96];
        snprintf(text, sizeof(text), "HTTP %d %s", r->http_status, r->content_type);
        res->out = why(res, OUT_HTTP, "", text);
        name_outcome(r, res->out);
        return;
    }
    scep_msg *m = NULL;
    res->out = check_reply(j->t, r, &m, res);
    scep_msg_free(m);
    r->verified = res->out == OUT_OK;
    name_outcome(r, res->out);
    snprintf(r->serial, sizeof(r->serial), "%s", res->serial_hex);
}

static int serial_cmp(const void *a, const void *b)
{
    return ASN1_INTEGER_cmp(*(ASN1_INTEGER *const *)a, *(ASN1_INTEGER *const *)b);
}

/* Certificates whose serial is shared with another certificate of the run. */
static long duplicate_serials(result *res, long n)
{
    ASN1_INTEGER **s = calloc((size_t)n + 1, sizeof(*s));
    long k = 0, dups = 0;
    if (s == NULL)
        return n; /* cannot tell: count nothing as verified */
    for (long i = 0; i < n; i++)
        if (res[i].serial)
            s[k++] = res[i].serial;
    qsort(s, (size_t)k, sizeof(*s), serial_cmp);
    for (long i = 0; i < k; i++)
        if ((i > 0 && serial_cmp(&s[i], &s[i - 1]) == 0) ||
            (i + 1 < k && serial_cmp(&s[i], &s[i + 1]) == 0))
            dups++;
    free(s);
    return dups;
}

static void tally(bench_verdict *v, result *res, long n)
{
    for (long i = 0; i < n; i++) {
        outcome o = res[i].out;
        if (o == OUT_SKIPPED)
            continue;
        v->checked++;
        v->ok += o == OUT_OK;
        v->http_errs += o == OUT_HTTP || o == OUT_NO_ANSWER;
        v->bad_reply += o == OUT_BAD_REPLY;
        v->not_success += o == OUT_NOT_SUCCESS;
        v->bad_cert += o == OUT_BAD_CERT;
        if (res[i].cipher != SCEP_CIPHER_NONE && v->reply_cipher == SCEP_CIPHER_NONE) {
            v->reply_cipher = res[i].cipher;
            v->reply_digest = res[i].digest;
        }
        if (o != OUT_OK && v->first_problem[0] == '\0')
            snprintf(v->first_problem, sizeof(v->first_problem), "request %ld (%s): %s", i,
                     o == OUT_NO_ANSWER ? "transport" : "reply", res[i].why);
    }
}

static void verify(const bench_target *t, bench_req *reqs, const long *idx, long n, long stride,
                   bench_verdict *out)
{
    memset(out, 0, sizeof(*out));
    result *res = calloc((size_t)n, sizeof(*res));
    if (res == NULL) {
        snprintf(out->first_problem, sizeof(out->first_problem), "out of memory");
        return;
    }
    job j = {t, reqs, idx, res};
    bench_parallel(n, stride, verify_one, &j);
    tally(out, res, n);
    out->dup_serials = duplicate_serials(res, n);
    for (long i = 0; i < n; i++)
        ASN1_INTEGER_free(res[i].serial);
    free(res);
}

void bench_verify(const bench_target *t, const bench_opts *o, bench_req *reqs, bench_verdict *out)
{
    verify(t, reqs, NULL, o->count, o->verify_every, out);
}

void bench_verify_some(const bench_target *t, bench_req *reqs, const long *idx, long n,
                       bench_verdict *out)
{
    verify(t, reqs, idx, n, 1, out);
}
