/* The admin API (JSON over HTTP under /api/v1/ on admin_listen; docs/admin.md and
 * docs/openapi.yaml): one call's context, and the handlers of each route group. admin_http.c
 * reads the request and its body, api_auth.c checks the bearer token, api_routes.c picks the
 * handler. Every answer is JSON, every error {"error": "..."}. */
#ifndef SCEPD_ADMIN_API_H
#define SCEPD_ADMIN_API_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>
#include <microhttpd.h>

#include "ca/ca.h"
#include "config/config.h"
#include "store/store.h"

#define API_BODY_MAX (64 * 1024)
#define API_PREFIX "/api/v1"

/* A profile's own CA (ca_dir) as one call sees it: the era in force, referenced for the call. */
typedef struct api_profile_ca {
    char profile[CONFIG_PROFILE_NAME]; /* the first profile that names it */
    char dir[CONFIG_PATH];
    authority ca;
} api_profile_ca;

typedef struct api_call {
    struct MHD_Connection *conn;
    const char *method;
    const char *path; /* after API_PREFIX: "/requests/7/approve" */
    const char *body; /* NUL-terminated; may be empty */
    size_t body_len;
    const config *cfg;
    store *st;                  /* this call's own handle */
    const authority *ca;        /* the era in force, held for the call; cert may be NULL */
    const api_profile_ca *pcas; /* each profile's own CA, held for the call */
    size_t n_pcas;
    char name[STORE_TOKEN_NAME]; /* the token's name and role */
    char role[16];
    char peer[STORE_ADDR];
} api_call;

/* ---- api_json.c ---- */

/* Answers o (taken) as application/json with status. */
enum MHD_Result api_json(api_call *c, unsigned status, json_object *o);
/* {"items": items (taken), "next": next or null}: one page of a list. */
enum MHD_Result api_page(api_call *c, json_object *items, const char *next);
/* {"error": "..."}; 401 adds WWW-Authenticate: Bearer. */
enum MHD_Result api_error(struct MHD_Connection *conn, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* 429 with Retry-After (a lockout), or 503 for retry_after -1 (the store cannot say). */
enum MHD_Result api_too_many(struct MHD_Connection *conn, long retry_after);
/* 503 with the store's reason. */
enum MHD_Result api_store_error(api_call *c);
/* An RFC 3339 UTC string, or null for 0. */
json_object *api_time(int64_t t);
/* A string, or null for NULL or "". */
json_object *api_text(const char *s);
/* Parses "2026-12-02T10:00:00Z" into *t; -1 when it is not that form. */
int api_parse_time(const char *text, int64_t *t);
/* A query parameter as a number in [min, max] (dflt when absent); -1 when it is not one. */
int api_query_long(api_call *c, const char *name, long min, long max, long dflt, long *out);
const char *api_query(api_call *c, const char *name);
/* The body as a JSON object ({} when empty); NULL with *why naming the problem. */
json_object *api_body(api_call *c, char *why, size_t len);
/* The string member name of o (NULL when absent); -1 when present but not a string. */
int api_member_text(json_object *o, const char *name, const char **out);
/* Writes the audit row of this call's action, by "token:NAME" from peer. */
void api_audit(api_call *c, const char *action, const char *subject, const char *serial,
               const char *transaction_id, const char *detail);

/* ---- api_x509.c ---- */

json_object *api_cert_json(const store_cert *rec, int64_t now, const char *transaction_id);
json_object *api_request_json(const store_request *r);
/* The subjectAltNames of exts as ["DNS:a.example", "IP:10.0.0.1", ...]. */
json_object *api_sans(const STACK_OF(X509_EXTENSION) * exts);

/* ---- the route groups: each answers the call (404/405 included) ---- */

enum MHD_Result api_requests(api_call *c, const char *rest);
enum MHD_Result api_certificates(api_call *c, const char *rest);
enum MHD_Result api_ca(api_call *c);
enum MHD_Result api_crl(api_call *c);
enum MHD_Result api_summary(api_call *c);
enum MHD_Result api_challenges(api_call *c, const char *rest);
enum MHD_Result api_audit_list(api_call *c);
/* A store_audit_fn: appends a's AUDIT object to the JSON array arg. */
int api_audit_item(void *arg, const store_audit *a);

/* The CRL and CA summaries of GET /crl and GET /ca, for /summary too (NULL when unknown). */
json_object *api_crl_json(const store_crl *crl);
json_object *api_ca_json(const authority *ca);

/* ---- api_routes.c ---- */

/* Answers an authenticated call under API_PREFIX. */
enum MHD_Result api_route(api_call *c);
/* Whether the call's role may use its method (GET: read; else operate); answers 403 if not. */
int api_allowed(api_call *c, enum MHD_Result *answered);

#endif
