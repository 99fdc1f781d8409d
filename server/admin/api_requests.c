/* /api/v1/requests: the enrollment requests, and an operator's approval or rejection (what
 * `scepd reject` does; an approval leaves the issuing to the client's next poll). */
#include "admin/api.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/decisions.h"

typedef struct page {
    json_object *items;
    int limit, n, more;
    int64_t last_id;
} page;

static int add_request(void *arg, const store_request *r)
{
    page *p = arg;
    if (p->n == p->limit) {
        p->more = 1; /* one more than the page: there is a next one */
        return 1;
    }
    json_object_array_add(p->items, api_request_json(r));
    p->last_id = r->id;
    p->n++;
    return 0;
}

static int state_of(const char *name)
{
    static const char *const names[] = {"pending", "approved", "rejected", "issued"};
    if (name == NULL || strcmp(name, "all") == 0)
        return -1;
    for (int i = 0; i < 4; i++)
        if (strcmp(name, names[i]) == 0)
            return i;
    return -2;
}

static enum MHD_Result list(api_call *c)
{
    long limit = 0, after = 0;
    int state = state_of(api_query(c, "state"));
    if (state == -2)
        return api_error(c->conn, 400, "state must be pending, approved, rejected, issued or all");
    if (api_query_long(c, "limit", 1, 500, 50, &limit) != 0)
        return api_error(c->conn, 400, "limit must be a number from 1 to 500");
    if (api_query_long(c, "after", 0, LONG_MAX, 0, &after) != 0)
        return api_error(c->conn, 400, "after must be a cursor from a previous page");
    page p = {json_object_new_array(), (int)limit, 0, 0, 0};
    request_filter f = {.state = state, .after_id = after, .limit = (int)limit + 1};
    if (c->st->ops->request_page(c->st, &f, add_request, &p) != STORE_OK) {
        json_object_put(p.items);
        return api_store_error(c);
    }
    char next[24];
    snprintf(next, sizeof(next), "%lld", (long long)p.last_id);
    return api_page(c, p.items, p.more ? next : NULL);
}

/* The request an id names; answers 400/404/503 itself (returns 0) when there is none. */
static int find(api_call *c, const char *text, int64_t *id, store_request *r,
                enum MHD_Result *answered)
{
    char *end = NULL;
    long long n = strtoll(text, &end, 10);
    if (end == text || (*end != '\0' && *end != '/') || n <= 0) {
        *answered = api_error(c->conn, 400, "'%.40s' is not a request id", text);
        return 0;
    }
    *id = n;
    store_status s = c->st->ops->request_get_by_id(c->st, n, r);
    if (s == STORE_OK)
        return 1;
    *answered =
        s == STORE_NOT_FOUND ? api_error(c->conn, 404, "no request %lld", n) : api_store_error(c);
    return 0;
}

static enum MHD_Result decide(api_call *c, int64_t id, store_request *r, int approve)
{
    char why[200];
    const char *reason = NULL;
    json_object *body = api_body(c, why, sizeof(why));
    if (body == NULL)
        return api_error(c->conn, 400, "%s", why);
    int bad = api_member_text(body, "reason", &reason) != 0;
    char text[STORE_TEXT];
    snprintf(text, sizeof(text), "%s", reason ? reason : "rejected by the operator");
    json_object_put(body);
    if (bad)
        return api_error(c->conn, 400, "reason must be a string");
    store_request after = {0};
    store_status s = decision_request(c->st, id, approve ? REQUEST_APPROVED : REQUEST_REJECTED,
                                      approve ? NULL : text, &after);
    if (s == STORE_CONFLICT) {
        enum MHD_Result ret = api_error(c->conn, 409, "request %lld is %s, not pending",
                                        (long long)id, request_state_name(after.state));
        store_request_clear(&after);
        return ret;
    }
    if (s != STORE_OK)
        return api_store_error(c);
    api_audit(c, approve ? "approve" : "reject", r->subject, NULL, r->transaction_id,
              approve ? NULL : text);
    enum MHD_Result ret = api_json(c, 200, api_request_json(&after));
    store_request_clear(&after);
    return ret;
}

enum MHD_Result api_requests(api_call *c, const char *rest)
{
    if (rest[0] == '\0' || strcmp(rest, "/") == 0)
        return strcmp(c->method, "GET") == 0 ? list(c) : api_error(c->conn, 405, "use GET");
    int64_t id = 0;
    store_request r = {0};
    enum MHD_Result ret = MHD_NO;
    if (!find(c, rest + 1, &id, &r, &ret))
        return ret;
    const char *action = strchr(rest + 1, '/');
    if (action == NULL)
        ret = strcmp(c->method, "GET") == 0 ? api_json(c, 200, api_request_json(&r))
                                            : api_error(c->conn, 405, "use GET");
    else if (strcmp(action, "/approve") != 0 && strcmp(action, "/reject") != 0)
        ret = api_error(c->conn, 404, "requests have /approve and /reject, not %.40s", action);
    else if (strcmp(c->method, "POST") != 0)
        ret = api_error(c->conn, 405, "use POST");
    else
        ret = decide(c, id, &r, strcmp(action, "/approve") == 0);
    store_request_clear(&r);
    return ret;
}
