#include "session.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "files.h"

static int fail(session *s, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(session *s, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err, sizeof(s->err), fmt, ap);
    va_end(ap);
    return code;
}

int session_open(session *s, const char *url, int legacy, const transport_options *t)
{
    memset(s, 0, sizeof(*s));
    s->url = url;
    s->verbose = t->verbose;
    scep_ctx_options o = {.allow_legacy = legacy};
    if (scep_ctx_new(&o, &s->ctx) != SCEP_OK)
        return fail(s, EXIT_ERROR, "cannot set up the SCEP context");
    s->net = transport_curl_new(t, s->err, sizeof(s->err));
    return s->net ? EXIT_OK : EXIT_ERROR;
}

void session_close(session *s)
{
    if (s->net)
        s->net->ops->destroy(s->net);
    scep_ctx_free(s->ctx);
    sk_X509_pop_free(s->ca_certs, X509_free);
    memset(s, 0, sizeof(*s));
}

/* A body that looks like an HTML error page, for a clearer message. */
static int looks_like_html(const http_response *r)
{
    return strstr(r->content_type, "html") != NULL ||
           (r->len > 0 && (r->body[0] == '<' || memchr(r->body, '<', r->len < 64 ? r->len : 64)));
}

static int http_problem(session *s, const char *what, const http_response *r)
{
    if (r->status != 200) {
        char text[160] = "";
        if (!looks_like_html(r) && r->len > 0 && r->len < sizeof(text))
            for (size_t i = 0; i < r->len && r->body[i] >= 0x20 && r->body[i] < 0x7f; i++)
                text[i] = (char)r->body[i];
        return fail(s, EXIT_TRANSPORT, "%s: HTTP %ld%s%s", what, r->status,
                    text[0] ? ": " : (looks_like_html(r) ? " (an HTML error page)" : ""), text);
    }
    return EXIT_OK;
}

static int get_operation(session *s, scep_operation op, const char *message, http_response *r)
{
    char *url = NULL;
    scep_err e = scep_http_build_get_url(s->url, op, (const unsigned char *)message,
                                         message ? strlen(message) : 0, &url);
    if (e != SCEP_OK)
        return fail(s, EXIT_USAGE, "bad server URL %s: %s", s->url, scep_strerror(e));
    int rc = s->net->ops->get(s->net, url, r, s->err, sizeof(s->err));
    free(url);
    if (rc == TRANSPORT_NO_REPLY && op == SCEP_OP_GET_CA_CAPS)
        return EXIT_OK; /* old NDES closes the connection: no capabilities */
    return rc == 0 ? EXIT_OK : EXIT_TRANSPORT;
}

int session_caps(session *s)
{
    http_response r = {0};
    int rc = get_operation(s, SCEP_OP_GET_CA_CAPS, NULL, &r);
    s->caps = 0;
    if (rc != EXIT_OK)
        return rc;
    /* Old servers close or fail GetCACaps: that means "no capabilities", not an error. */
    if (rc == EXIT_OK && r.status == 200 && !looks_like_html(&r) &&
        scep_caps_parse((const char *)r.body, r.len, &s->caps) != SCEP_OK)
        s->caps = 0;
    http_response_clear(&r);
    s->caps_known = 1;
    scep_err e = scep_caps_negotiate(s->ctx, s->caps, &s->neg);
    if (e != SCEP_OK)
        return fail(s, EXIT_BAD_REPLY,
                    "%s: only single DES and MD5 are left, which this client refuses "
                    "without --legacy",
                    s->caps ? "the server offers no algorithm this client allows"
                            : "the server advertised no capabilities (an old server?)");
    if (s->verbose)
        fprintf(stderr, "scep: negotiated %s + %s over %s\n", scep_cipher_name(s->neg.cipher),
                scep_digest_name(s->neg.digest), s->neg.use_post ? "POST" : "GET");
    return EXIT_OK;
}

static int set_roles(session *s)
{
    scep_diag diag = {{0}};
    if (scep_certs_roles_diag(s->ca_certs, &s->ca, &s->ra_enc, &s->ra_sign, &diag) != SCEP_OK)
        return fail(s, EXIT_BAD_REPLY, "no issuing CA among the server's certificates: %s",
                    diag.text);
    return EXIT_OK;
}

static int parse_ca_reply(session *s, const http_response *r)
{
    if (strcmp(r->content_type, SCEP_CT_CA_CERT) == 0) {
        const unsigned char *p = r->body;
        X509 *cert = d2i_X509(NULL, &p, (long)r->len);
        if (cert == NULL || p != r->body + r->len) {
            X509_free(cert);
            return fail(s, EXIT_BAD_REPLY, "GetCACert: not a DER certificate");
        }
        s->ca_certs = sk_X509_new_null();
        sk_X509_push(s->ca_certs, cert);
    } else if (strcmp(r->content_type, SCEP_CT_CA_RA_CERT) == 0) {
        if (scep_certs_only_decode(s->ctx, r->body, r->len, &s->ca_certs, NULL) != SCEP_OK ||
            sk_X509_num(s->ca_certs) == 0)
            return fail(s, EXIT_BAD_REPLY, "GetCACert: not a certs-only PKCS#7");
    } else {
        return fail(s, EXIT_BAD_REPLY, "GetCACert: unexpected content type '%s'", r->content_type);
    }
    return set_roles(s);
}

int session_fetch_ca(session *s, const char *fingerprint)
{
    http_response r = {0};
    int rc = get_operation(s, SCEP_OP_GET_CA_CERT, NULL, &r);
    if (rc == EXIT_OK)
        rc = http_problem(s, "GetCACert", &r);
    if (rc == EXIT_OK)
        rc = parse_ca_reply(s, &r);
    http_response_clear(&r);
    /* The pin may name the issuing CA or a CA above it (the root of [intermediate, root]). */
    if (rc == EXIT_OK && fingerprint != NULL &&
        !scep_certs_chain_fingerprint_matches(s->ca_certs, s->ca, fingerprint))
        rc = fail(s, EXIT_UNTRUSTED,
                  "neither the issuing CA nor a CA above it matches fingerprint %s", fingerprint);
    return rc;
}

int session_load_ca(session *s, const char *dir)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/certs.pem", dir);
    s->ca_certs = files_read_certs(path, s->err, sizeof(s->err));
    if (s->ca_certs == NULL)
        return fail(s, EXIT_USAGE, "no CA certificates in %s (run `scep getca -o %s` first)", dir,
                    dir);
    return set_roles(s);
}

/* Sends der by POST or GET as negotiated; returns the HTTP reply. */
static int send_message(session *s, const unsigned char *der, size_t len, http_response *r)
{
    char *url = NULL;
    scep_err e = s->neg.use_post
                     ? scep_http_build_post_url(s->url, &url)
                     : scep_http_build_get_url(s->url, SCEP_OP_PKI_OPERATION, der, len, &url);
    if (e != SCEP_OK)
        return fail(s, EXIT_USAGE, "cannot build the request URL: %s", scep_strerror(e));
    int rc = s->neg.use_post ? s->net->ops->post(s->net, url, der, len, SCEP_CT_PKI_MESSAGE, r,
                                                 s->err, sizeof(s->err))
                             : s->net->ops->get(s->net, url, r, s->err, sizeof(s->err));
    free(url);
    if (rc != 0)
        return EXIT_TRANSPORT;
    rc = http_problem(s, "PKIOperation", r);
    if (rc == EXIT_OK && strcmp(r->content_type, SCEP_CT_PKI_MESSAGE) != 0)
        rc = fail(s, EXIT_BAD_REPLY, "PKIOperation: unexpected content type '%s'%s",
                  r->content_type, looks_like_html(r) ? " (an HTML page)" : "");
    return rc;
}

/* Verifies the signature and that the reply answers our request, before opening anything. */
static int verify_reply(session *s, exchange *x, const http_response *r)
{
    STACK_OF(X509) *trusted = sk_X509_new_null();
    sk_X509_push(trusted, s->ca);
    if (s->ra_sign != s->ca)
        sk_X509_push(trusted, s->ra_sign);
    scep_open_options oo = {.extra_certs = s->ca_certs, .trusted_signers = trusted};
    scep_recipient me = {x->req.signer_cert, x->req.signer_key};
    scep_decrypt_options dopts = {.recipients = &me, .n_recipients = 1, .password = x->password};
    scep_diag diag = {{0}};
    scep_err e = scep_msg_open(s->ctx, r->body, r->len, &oo, &x->reply, &diag);
    sk_X509_free(trusted);
    if (e == SCEP_OK)
        e = scep_reply_check(x->reply, x->req.transaction_id, x->req.sender_nonce,
                             x->req.sender_nonce_len, &diag);
    if (e == SCEP_OK)
        e = scep_msg_decrypt(s->ctx, x->reply, &dopts, &diag);
    if (e == SCEP_OK)
        return EXIT_OK;
    scep_msg_free(x->reply);
    x->reply = NULL;
    return fail(s, EXIT_BAD_REPLY, "the server's reply was refused: %s%s%s", scep_strerror(e),
                diag.text[0] ? ": " : "", diag.text);
}

int session_exchange(session *s, exchange *x)
{
    unsigned char nonce[SCEP_NONCE_BYTES];
    if (scep_nonce(nonce, sizeof(nonce)) != SCEP_OK)
        return fail(s, EXIT_ERROR, "no randomness for a nonce");
    x->req.sender_nonce = nonce;
    x->req.sender_nonce_len = sizeof(nonce);
    x->req.recipient_cert = s->ra_enc;
    x->req.cipher = s->neg.cipher;
    x->req.digest = s->neg.digest;
    x->reply = NULL;
    unsigned char *der = NULL;
    size_t len = 0;
    scep_err e = scep_msg_encode(s->ctx, &x->req, &der, &len);
    if (e != SCEP_OK)
        return fail(s, EXIT_ERROR, "cannot build the %s: %s", scep_msg_type_name(x->req.type),
                    scep_strerror(e));
    if (s->verbose)
        fprintf(stderr, "scep: sending %s, transactionID %s, %zu bytes\n",
                scep_msg_type_name(x->req.type), x->req.transaction_id, len);
    http_response r = {0};
    int rc = send_message(s, der, len, &r);
    OPENSSL_free(der);
    if (rc == EXIT_OK)
        rc = verify_reply(s, x, &r);
    http_response_clear(&r);
    x->req.sender_nonce = NULL;
    if (rc == EXIT_OK && s->verbose)
        fprintf(stderr, "scep: reply %s\n", scep_pki_status_name(x->reply->status));
    return rc;
}

int session_report_failure(session *s, const scep_msg *reply)
{
    return fail(s, EXIT_REFUSED, "the server refused: failInfo %s%s%s",
                scep_fail_info_name(reply->fail_info), reply->fail_info_text[0] ? ": " : "",
                reply->fail_info_text);
}

int session_fetch_next_ca(session *s, STACK_OF(X509) * *next)
{
    *next = NULL;
    http_response r = {0};
    int rc = get_operation(s, SCEP_OP_GET_NEXT_CA_CERT, NULL, &r);
    if (rc == EXIT_OK)
        rc = http_problem(s, "GetNextCACert", &r);
    if (rc == EXIT_OK && strcmp(r.content_type, SCEP_CT_NEXT_CA_CERT) != 0)
        rc = fail(s, EXIT_BAD_REPLY, "GetNextCACert: unexpected content type '%s'", r.content_type);
    scep_diag diag = {{0}};
    scep_err e = SCEP_OK;
    if (rc == EXIT_OK &&
        (e = scep_next_ca_decode(s->ctx, r.body, r.len, s->ca, next, &diag)) != SCEP_OK)
        rc = fail(s, EXIT_BAD_REPLY, "GetNextCACert: %s%s%s", scep_strerror(e),
                  diag.text[0] ? ": " : "", diag.text);
    http_response_clear(&r);
    return rc;
}
