/* GET /api/v1/audit: the store's audit log, newest first, by actor, action, serial and time. */
#include "admin/api.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

int api_audit_item(void *arg, const store_audit *a)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_int64(a->id));
    json_object_object_add(o, "time", api_time(a->at));
    json_object_object_add(o, "actor", json_object_new_string(a->actor));
    json_object_object_add(o, "action", json_object_new_string(a->action));
    json_object_object_add(o, "subject", api_text(a->subject));
    json_object_object_add(o, "serial", api_text(a->serial));
    json_object_object_add(o, "transaction_id", api_text(a->transaction_id));
    json_object_object_add(o, "peer", api_text(a->peer));
    json_object_object_add(o, "detail", api_text(a->detail));
    json_object_array_add(arg, o);
    return 0;
}

typedef struct page {
    json_object *items;
    int limit, n, more;
    int64_t last_id;
} page;

static int add_item(void *arg, const store_audit *a)
{
    page *p = arg;
    if (p->n == p->limit) {
        p->more = 1;
        return 1;
    }
    p->n++;
    p->last_id = a->id;
    return api_audit_item(p->items, a);
}

/* since/until as RFC 3339; a message in why (and -1) for a bad one. */
static int times_of(api_call *c, audit_filter *f, char *why, size_t len)
{
    const char *since = api_query(c, "since"), *until = api_query(c, "until");
    if (since != NULL && api_parse_time(since, &f->since) != 0)
        return snprintf(why, len, "since must be a time like 2026-12-02T10:00:00Z"), -1;
    if (until != NULL && api_parse_time(until, &f->until) != 0)
        return snprintf(why, len, "until must be a time like 2026-12-02T10:00:00Z"), -1;
    return 0;
}

enum MHD_Result api_audit_list(api_call *c)
{
    if (strcmp(c->method, "GET") != 0)
        return api_error(c->conn, 405, "use GET");
    audit_filter f = {.actor = api_query(c, "actor"),
                      .action = api_query(c, "action"),
                      .serial = api_query(c, "serial")};
    long limit = 0, after = 0;
    char why[100];
    if (times_of(c, &f, why, sizeof(why)) != 0)
        return api_error(c->conn, 400, "%s", why);
    if (api_query_long(c, "limit", 1, 500, 50, &limit) != 0)
        return api_error(c->conn, 400, "limit must be a number from 1 to 500");
    if (api_query_long(c, "after", 1, LONG_MAX, 0, &after) != 0)
        return api_error(c->conn, 400, "after must be a cursor from a previous page");
    f.before_id = after;
    f.limit = (int)limit + 1;
    page p = {json_object_new_array(), (int)limit, 0, 0, 0};
    if (c->st->ops->audit_list(c->st, &f, add_item, &p) != STORE_OK) {
        json_object_put(p.items);
        return api_store_error(c);
    }
    char next[24];
    snprintf(next, sizeof(next), "%lld", (long long)p.last_id);
    return api_page(c, p.items, p.more ? next : NULL);
}
