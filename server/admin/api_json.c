/* The admin API's JSON with json-c: answers, errors, times, query parameters, bodies, and the
 * audit row of each change. */
#define _DEFAULT_SOURCE /* timegm */
#include "admin/api.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin/api_auth.h"
#include "log/audit_store.h"

/* retry_after: a Retry-After header of that many seconds, or none when negative. */
static enum MHD_Result send_json(struct MHD_Connection *conn, unsigned status, const char *body,
                                 long retry_after)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)(uintptr_t)body,
                                                             MHD_RESPMEM_MUST_COPY);
    if (r == NULL)
        return MHD_NO;
    char secs[24];
    snprintf(secs, sizeof(secs), "%ld", retry_after);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(r, MHD_HTTP_HEADER_X_CONTENT_TYPE_OPTIONS, "nosniff");
    if (status == 401)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if (retry_after >= 0)
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, secs);
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_text(struct MHD_Connection *conn, unsigned status, const char *body)
{
    return send_json(conn, status, body, -1);
}

enum MHD_Result api_json(api_call *c, unsigned status, json_object *o)
{
    if (o == NULL)
        return api_error(c->conn, 503, "out of memory");
    enum MHD_Result ret = send_text(c->conn, status, json_object_to_json_string_ext(o, 0));
    json_object_put(o);
    return ret;
}

enum MHD_Result api_page(api_call *c, json_object *items, const char *next)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "items", items);
    json_object_object_add(o, "next", next ? json_object_new_string(next) : NULL);
    return api_json(c, 200, o);
}

static enum MHD_Result error_after(struct MHD_Connection *conn, unsigned status, long retry_after,
                                   const char *msg)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "error", json_object_new_string(msg));
    enum MHD_Result ret = send_json(
        conn, status, o ? json_object_to_json_string_ext(o, 0) : "{\"error\":\"?\"}", retry_after);
    json_object_put(o);
    return ret;
}

enum MHD_Result api_error(struct MHD_Connection *conn, unsigned status, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return error_after(conn, status, -1, msg);
}

enum MHD_Result api_too_many(struct MHD_Connection *conn, long retry_after)
{
    char msg[96];
    if (retry_after < 0)
        return error_after(conn, 503, 10, "cannot check the token now: the store cannot answer");
    snprintf(msg, sizeof(msg), "too many failed attempts, retry after %ld s", retry_after);
    return error_after(conn, 429, retry_after, msg);
}

enum MHD_Result api_store_error(api_call *c)
{
    return api_error(c->conn, 503, "the store cannot answer now: %s",
                     c->st->ops->last_error(c->st));
}

json_object *api_time(int64_t t)
{
    if (t == 0)
        return NULL;
    char buf[32];
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_object_new_string(buf);
}

json_object *api_text(const char *s)
{
    return s != NULL && s[0] != '\0' ? json_object_new_string(s) : NULL;
}

int api_parse_time(const char *text, int64_t *t)
{
    struct tm tm = {0};
    int used = 0;
    if (strlen(text) != 20 ||
        sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &used) != 6 ||
        used != 20 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
        tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *t = (int64_t)timegm(&tm);
    return 0;
}

const char *api_query(api_call *c, const char *name)
{
    const char *v = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, name);
    return v != NULL && v[0] != '\0' ? v : NULL;
}

int api_query_long(api_call *c, const char *name, long min, long max, long dflt, long *out)
{
    const char *v = api_query(c, name);
    *out = dflt;
    if (v == NULL)
        return 0;
    char *end = NULL;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || n < min || n > max)
        return -1;
    *out = n;
    return 0;
}

json_object *api_body(api_call *c, char *why, size_t len)
{
    if (c->body_len == 0)
        return json_object_new_object();
    json_tokener *tok = json_tokener_new();
    if (tok == NULL) {
        snprintf(why, len, "out of memory");
        return NULL;
    }
    json_object *o = json_tokener_parse_ex(tok, c->body, (int)c->body_len);
    enum json_tokener_error e = json_tokener_get_error(tok);
    if (o == NULL || e != json_tokener_success)
        snprintf(why, len, "the body is not valid JSON: %s at offset %zu",
                 json_tokener_error_desc(e == json_tokener_success ? json_tokener_continue : e),
                 json_tokener_get_parse_end(tok));
    else if (json_tokener_get_parse_end(tok) != c->body_len)
        snprintf(why, len, "the body holds more than one JSON value");
    else if (!json_object_is_type(o, json_type_object))
        snprintf(why, len, "the body must be a JSON object");
    else {
        json_tokener_free(tok);
        return o;
    }
    json_object_put(o);
    json_tokener_free(tok);
    return NULL;
}

int api_member_text(json_object *o, const char *name, const char **out)
{
    json_object *v = NULL;
    *out = NULL;
    if (!json_object_object_get_ex(o, name, &v) || v == NULL)
        return 0;
    if (!json_object_is_type(v, json_type_string))
        return -1;
    *out = json_object_get_string(v);
    return 0;
}

void api_audit(api_call *c, const char *action, const char *subject, const char *serial,
               const char *transaction_id, const char *detail)
{
    char actor[STORE_ACTOR];
    api_identity who;
    memcpy(who.name, c->name, sizeof(who.name));
    api_actor(&who, actor, sizeof(actor));
    log_audit_event e = {.event = action,
                         .subject = subject,
                         .serial = serial,
                         .peer = c->peer,
                         .by = actor,
                         .transaction_id = transaction_id,
                         .detail = detail};
    log_audit(stdout, c->cfg->log_format, &e);
    log_audit_store(c->st, actor, &e);
}
