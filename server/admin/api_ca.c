/* /api/v1/ca, /api/v1/crl and /api/v1/summary: the CA generations the server serves, the
 * current CRL (and issuing one now), and the dashboard's numbers. */
#include "admin/api.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ca/crl.h"
#include "metrics/metrics.h"
#include "scep/scep.h"

static json_object *cert_facts(X509 *cert, const char *role)
{
    json_object *o = json_object_new_object();
    char subject[STORE_TEXT], serial[STORE_HEX_SERIAL], key[STORE_KEY_ID] = "";
    ca_name_text(X509_get_subject_name(cert), subject, sizeof(subject));
    ca_serial_hex(cert, serial, sizeof(serial));
    (void)ca_key_id(X509_get_X509_PUBKEY(cert), key, sizeof(key));
    if (role != NULL)
        json_object_object_add(o, "role", json_object_new_string(role));
    json_object_object_add(o, "subject", json_object_new_string(subject));
    json_object_object_add(o, "serial", json_object_new_string(serial));
    if (role != NULL) {
        json_object_object_add(o, "not_before", api_time(ca_unix_time(X509_get0_notBefore(cert))));
        json_object_object_add(o, "key_id", json_object_new_string(key));
    }
    json_object_object_add(o, "not_after", api_time(ca_unix_time(X509_get0_notAfter(cert))));
    return o;
}

json_object *api_ca_json(const authority *ca)
{
    if (ca == NULL || ca->cert == NULL)
        return NULL;
    json_object *o = json_object_new_object(), *gens = json_object_new_array();
    json_object_array_add(gens, cert_facts(ca->cert, "current"));
    if (ca->next.cert != NULL)
        json_object_array_add(gens, cert_facts(ca->next.cert, "next"));
    if (ca->prev.cert != NULL)
        json_object_array_add(gens, cert_facts(ca->prev.cert, "previous"));
    json_object_object_add(o, "mode", json_object_new_string(ca->ra_cert ? "ra" : "ca"));
    json_object_object_add(o, "generations", gens);
    json_object_object_add(
        o, "switch_at",
        ca->next.cert ? api_time(ca_unix_time(X509_get0_notBefore(ca->next.cert))) : NULL);
    json_object_object_add(o, "ra", ca->ra_cert ? cert_facts(ca->ra_cert, NULL) : NULL);
    if (ca->ra_sign_cert != NULL)
        json_object_object_add(o, "ra_sign", cert_facts(ca->ra_sign_cert, NULL));
    return o;
}

json_object *api_crl_json(const store_crl *crl)
{
    const unsigned char *p = crl->der;
    X509_CRL *x = d2i_X509_CRL(NULL, &p, (long)crl->der_len);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "number", json_object_new_int64(crl->number));
    json_object_object_add(o, "this_update", api_time(crl->this_update));
    json_object_object_add(o, "next_update", api_time(crl->next_update));
    json_object_object_add(
        o, "revoked", json_object_new_int(x ? sk_X509_REVOKED_num(X509_CRL_get_REVOKED(x)) : 0));
    X509_CRL_free(x);
    return o;
}

/* [{"profile", "ca_dir", and api_ca_json's fields}] of each profile's own CA. */
static json_object *profile_cas_json(const api_call *c)
{
    json_object *list = json_object_new_array();
    for (size_t i = 0; i < c->n_pcas; i++) {
        json_object *o = api_ca_json(&c->pcas[i].ca);
        if (o == NULL)
            continue;
        json_object_object_add(o, "profile", json_object_new_string(c->pcas[i].profile));
        json_object_object_add(o, "ca_dir", json_object_new_string(c->pcas[i].dir));
        json_object_array_add(list, o);
    }
    return list;
}

enum MHD_Result api_ca(api_call *c)
{
    if (strcmp(c->method, "GET") != 0)
        return api_error(c->conn, 405, "use GET");
    json_object *o = api_ca_json(c->ca);
    if (o != NULL)
        json_object_object_add(o, "profiles", profile_cas_json(c));
    return o ? api_json(c, 200, o) : api_error(c->conn, 503, "the server has no CA loaded");
}

/* POST: a new CRL now, signed by the current CA (the previous generation's stays as it is). */
static enum MHD_Result issue(api_call *c)
{
    char why[300];
    json_object *body = api_body(c, why, sizeof(why));
    if (body == NULL)
        return api_error(c->conn, 400, "%s", why);
    json_object_put(body);
    if (c->ca == NULL || c->ca->key == NULL)
        return api_error(c->conn, 503, "the server has no CA loaded to sign a CRL");
    store_crl crl = {0};
    if (crl_current(c->ca, c->cfg, c->st, 1, &crl, why, sizeof(why)) != 0)
        return api_error(c->conn, 503, "cannot issue a CRL: %s", why);
    char number[24];
    snprintf(number, sizeof(number), "%lld", (long long)crl.number);
    api_audit(c, "crl.issue", NULL, NULL, NULL, number);
    enum MHD_Result ret = api_json(c, 200, api_crl_json(&crl));
    store_crl_clear(&crl);
    return ret;
}

enum MHD_Result api_crl(api_call *c)
{
    if (strcmp(c->method, "POST") == 0)
        return issue(c);
    if (strcmp(c->method, "GET") != 0)
        return api_error(c->conn, 405, "use GET or POST");
    store_crl crl = {0};
    store_status s = c->st->ops->crl_latest(c->st, NULL, &crl);
    if (s == STORE_NOT_FOUND)
        return api_error(c->conn, 404, "no CRL was issued yet");
    if (s != STORE_OK)
        return api_store_error(c);
    enum MHD_Result ret = api_json(c, 200, api_crl_json(&crl));
    store_crl_clear(&crl);
    return ret;
}

typedef struct counts {
    int64_t now;
    long valid, revoked, expired, pending;
    json_object *recent;
} counts;

static int count_cert(void *arg, const store_cert *rec)
{
    counts *n = arg;
    if (rec->state == CERT_REVOKED)
        n->revoked++;
    else if (rec->not_after <= n->now)
        n->expired++;
    else
        n->valid++;
    return 0;
}

static int count_pending(void *arg, const store_request *r)
{
    (void)r;
    ((counts *)arg)->pending++;
    return 0;
}

static json_object *failures(void)
{
    json_object *list = json_object_new_array();
    for (int i = SCEP_FAIL_BAD_ALG; i <= SCEP_FAIL_BAD_CERT_ID; i++) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "reason", json_object_new_string(scep_fail_info_name(i)));
        json_object_object_add(o, "count", json_object_new_int64((int64_t)metrics_failures(i)));
        json_object_array_add(list, o);
    }
    return list;
}

enum MHD_Result api_summary(api_call *c)
{
    if (strcmp(c->method, "GET") != 0)
        return api_error(c->conn, 405, "use GET");
    counts n = {.now = (int64_t)time(NULL), .recent = json_object_new_array()};
    cert_filter f = {.exclude_ca = 1};
    audit_filter recent = {.limit = 10};
    store_crl crl = {0};
    store *st = c->st;
    store_status crl_s = STORE_OK;
    if (st->ops->cert_list(st, &f, count_cert, &n) != STORE_OK ||
        st->ops->request_list(st, 1, count_pending, &n) != STORE_OK ||
        st->ops->audit_list(st, &recent, api_audit_item, n.recent) != STORE_OK ||
        ((crl_s = st->ops->crl_latest(st, NULL, &crl)) != STORE_OK && crl_s != STORE_NOT_FOUND)) {
        json_object_put(n.recent);
        return api_store_error(c);
    }
    json_object *o = json_object_new_object(), *certs = json_object_new_object();
    json_object_object_add(certs, "valid", json_object_new_int64(n.valid));
    json_object_object_add(certs, "revoked", json_object_new_int64(n.revoked));
    json_object_object_add(certs, "expired", json_object_new_int64(n.expired));
    json_object_object_add(o, "certificates", certs);
    json_object_object_add(o, "pending", json_object_new_int64(n.pending));
    json_object_object_add(o, "ca", api_ca_json(c->ca));
    json_object_object_add(o, "crl", crl_s == STORE_OK ? api_crl_json(&crl) : NULL);
    json_object_object_add(o, "failures", failures());
    json_object_object_add(o, "recent", n.recent);
    store_crl_clear(&crl);
    return api_json(c, 200, o);
}
