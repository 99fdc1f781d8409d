/* /api/v1/certificates: search, one certificate (JSON, PEM, DER), and revocation (what `scepd
 * revoke` does: the store's change, then a new CRL). */
#include "admin/api.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>

#include "admin/decisions.h"

typedef struct page {
    json_object *items;
    const char *san; /* substring of one subjectAltName, or NULL */
    int limit, n, more;
    int64_t now;
    char last[STORE_HEX_SERIAL];
} page;

static int san_matches(const store_cert *rec, const char *san)
{
    const unsigned char *p = rec->der;
    X509 *cert = d2i_X509(NULL, &p, (long)rec->der_len);
    json_object *sans = cert ? api_sans(X509_get0_extensions(cert)) : NULL;
    int found = 0;
    for (size_t i = 0; sans && !found && i < json_object_array_length(sans); i++)
        found = strstr(json_object_get_string(json_object_array_get_idx(sans, i)), san) != NULL;
    json_object_put(sans);
    X509_free(cert);
    return found;
}

static int add_cert(void *arg, const store_cert *rec)
{
    page *p = arg;
    if (p->san != NULL && !san_matches(rec, p->san))
        return 0;
    if (p->n == p->limit) {
        p->more = 1;
        return 1;
    }
    json_object_array_add(p->items, api_cert_json(rec, p->now, rec->transaction_id));
    snprintf(p->last, sizeof(p->last), "%s", rec->serial);
    p->n++;
    return 0;
}

/* A serial as the store keeps it (upper-case hex); 0 when text is not one. */
static int serial_of(const char *text, size_t len, char out[STORE_HEX_SERIAL])
{
    if (len == 0 || len >= STORE_HEX_SERIAL)
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (!isxdigit((unsigned char)text[i]))
            return 0;
        out[i] = (char)toupper((unsigned char)text[i]);
    }
    out[len] = '\0';
    return 1;
}

/* The query's filter; a message in why (and -1) for a bad one. */
static int filter_of(api_call *c, cert_filter *f, char serial[STORE_HEX_SERIAL],
                     char after[STORE_HEX_SERIAL], long *limit, char *why, size_t len)
{
    const char *state = api_query(c, "state"), *s = api_query(c, "serial"),
               *a = api_query(c, "after");
    long days = -1;
    f->now = (int64_t)time(NULL);
    f->subject_like = api_query(c, "subject");
    f->exclude_ca = 1;
    if (api_query_long(c, "limit", 1, 500, 50, limit) != 0)
        return snprintf(why, len, "limit must be a number from 1 to 500"), -1;
    if (api_query_long(c, "expires_within_days", 0, 36500, -1, &days) != 0)
        return snprintf(why, len, "expires_within_days must be a number of days"), -1;
    if (s != NULL && !serial_of(s, strlen(s), serial))
        return snprintf(why, len, "serial must be hex"), -1;
    if (a != NULL && !serial_of(a, strlen(a), after))
        return snprintf(why, len, "after must be a cursor from a previous page"), -1;
    f->serial = s ? serial : NULL;
    f->after_serial = a ? after : NULL;
    f->expires_before = days >= 0 ? f->now + days * 86400 : 0;
    f->only_valid = days >= 0 || (state && strcmp(state, "valid") == 0);
    f->only_revoked = state && strcmp(state, "revoked") == 0;
    f->only_expired = state && strcmp(state, "expired") == 0;
    if (state && !f->only_valid && !f->only_revoked && !f->only_expired)
        return snprintf(why, len, "state must be valid, revoked or expired"), -1;
    return 0;
}

static enum MHD_Result search(api_call *c)
{
    cert_filter f = {0};
    char serial[STORE_HEX_SERIAL], after[STORE_HEX_SERIAL], why[120];
    long limit = 0;
    if (filter_of(c, &f, serial, after, &limit, why, sizeof(why)) != 0)
        return api_error(c->conn, 400, "%s", why);
    page p = {.items = json_object_new_array(), .san = api_query(c, "san"), .limit = (int)limit};
    p.now = f.now;
    f.limit = p.san ? 0 : (int)limit + 1; /* a SAN is read from each certificate */
    if (c->st->ops->cert_list(c->st, &f, add_cert, &p) != STORE_OK) {
        json_object_put(p.items);
        return api_store_error(c);
    }
    return api_page(c, p.items, p.more ? p.last : NULL);
}

static enum MHD_Result download(api_call *c, const store_cert *rec, int pem)
{
    const unsigned char *p = rec->der;
    X509 *cert = d2i_X509(NULL, &p, (long)rec->der_len);
    BIO *b = BIO_new(BIO_s_mem());
    int ok = cert && b && (pem ? PEM_write_bio_X509(b, cert) : i2d_X509_bio(b, cert));
    char *data = NULL;
    long n = ok ? BIO_get_mem_data(b, &data) : 0;
    struct MHD_Response *r =
        n > 0 ? MHD_create_response_from_buffer((size_t)n, data, MHD_RESPMEM_MUST_COPY) : NULL;
    X509_free(cert);
    BIO_free(b);
    if (r == NULL)
        return api_error(c->conn, 503, "cannot encode the certificate");
    char disposition[96];
    snprintf(disposition, sizeof(disposition), "attachment; filename=\"%s.%s\"", rec->serial,
             pem ? "pem" : "cer");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            pem ? "application/x-pem-file" : "application/pkix-cert");
    MHD_add_response_header(r, "Content-Disposition", disposition);
    MHD_add_response_header(r, MHD_HTTP_HEADER_X_CONTENT_TYPE_OPTIONS, "nosniff");
    enum MHD_Result ret = MHD_queue_response(c->conn, 200, r);
    MHD_destroy_response(r);
    return ret;
}

/* CERT plus "pem" and "text" (X509_print). */
static enum MHD_Result detail(api_call *c, const store_cert *rec)
{
    json_object *o = api_cert_json(rec, (int64_t)time(NULL), rec->transaction_id);
    const unsigned char *p = rec->der;
    X509 *cert = d2i_X509(NULL, &p, (long)rec->der_len);
    BIO *pem = BIO_new(BIO_s_mem()), *text = BIO_new(BIO_s_mem());
    char *data = NULL;
    long n = 0;
    if (cert && pem && PEM_write_bio_X509(pem, cert) && (n = BIO_get_mem_data(pem, &data)) > 0)
        json_object_object_add(o, "pem", json_object_new_string_len(data, (int)n));
    if (cert && text && X509_print(text, cert) && (n = BIO_get_mem_data(text, &data)) > 0)
        json_object_object_add(o, "text", json_object_new_string_len(data, (int)n));
    BIO_free(pem);
    BIO_free(text);
    X509_free(cert);
    return api_json(c, 200, o);
}

static enum MHD_Result revoke(api_call *c, const char *serial)
{
    char why[200];
    const char *name = NULL;
    json_object *body = api_body(c, why, sizeof(why));
    if (body == NULL)
        return api_error(c->conn, 400, "%s", why);
    int bad = api_member_text(body, "reason", &name) != 0;
    int code = decision_reason_code(name ? name : "unspecified");
    char shown[64];
    snprintf(shown, sizeof(shown), "%s", name ? name : "");
    json_object_put(body);
    if (bad || code < 0)
        return api_error(c->conn, 400,
                         "reason '%s' is not a CRLReason (unspecified, keyCompromise, "
                         "cACompromise, affiliationChanged, superseded, cessationOfOperation, "
                         "certificateHold, privilegeWithdrawn, aACompromise)",
                         shown);
    if (c->ca == NULL || c->ca->key == NULL)
        return api_error(c->conn, 503, "the server has no CA loaded to sign a CRL");
    store_cert rec = {0};
    store_status s = decision_revoke(c->st, serial, code, &rec);
    enum MHD_Result ret = MHD_NO;
    if (s == STORE_NOT_FOUND)
        ret = api_error(c->conn, 404, "no certificate with serial %s", serial);
    else if (s == STORE_EXISTS)
        ret = api_error(c->conn, 409, "%s is a CA certificate", serial);
    else if (s == STORE_CONFLICT)
        ret = api_error(c->conn, 409, "%s is already revoked", serial);
    else if (s != STORE_OK)
        ret = api_store_error(c);
    else {
        api_audit(c, "revoke", rec.subject, serial, rec.transaction_id, decision_reason_name(code));
        store_crl crl = {0};
        int rc = decision_reissue_crls_of(c->ca, c->cfg, c->st, &rec, &crl, why, sizeof(why));
        json_object *o = api_cert_json(&rec, (int64_t)time(NULL), rec.transaction_id);
        json_object_object_add(o, "crl_number", rc == 0 ? json_object_new_int64(crl.number) : NULL);
        if (rc != 0)
            json_object_object_add(o, "crl_error", json_object_new_string(why));
        store_crl_clear(&crl);
        ret = api_json(c, 200, o);
    }
    store_cert_clear(&rec);
    return ret;
}

enum MHD_Result api_certificates(api_call *c, const char *rest)
{
    if (rest[0] == '\0' || strcmp(rest, "/") == 0)
        return strcmp(c->method, "GET") == 0 ? search(c) : api_error(c->conn, 405, "use GET");
    const char *action = strchr(rest + 1, '/');
    size_t len = action ? (size_t)(action - rest - 1) : strlen(rest + 1);
    char serial[STORE_HEX_SERIAL];
    if (!serial_of(rest + 1, len, serial))
        return api_error(c->conn, 400, "'%.*s' is not a serial in hex", (int)(len > 40 ? 40 : len),
                         rest + 1);
    if (action != NULL && strcmp(action, "/revoke") == 0)
        return strcmp(c->method, "POST") == 0 ? revoke(c, serial)
                                              : api_error(c->conn, 405, "use POST");
    if (action != NULL && strcmp(action, "/pem") != 0 && strcmp(action, "/der") != 0)
        return api_error(c->conn, 404, "certificates have /pem, /der and /revoke");
    if (strcmp(c->method, "GET") != 0)
        return api_error(c->conn, 405, "use GET");
    store_cert rec = {0};
    store_status s = c->st->ops->cert_get(c->st, serial, &rec);
    enum MHD_Result ret = s == STORE_NOT_FOUND
                              ? api_error(c->conn, 404, "no certificate with serial %s", serial)
                          : s != STORE_OK  ? api_store_error(c)
                          : action == NULL ? detail(c, &rec)
                                           : download(c, &rec, strcmp(action, "/pem") == 0);
    store_cert_clear(&rec);
    return ret;
}
