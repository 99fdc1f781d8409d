/* Which handler answers an admin API call, by its path; GET needs a read token, anything that
 * changes something an operate token. */
#include "admin/api.h"

#include <string.h>

int api_allowed(api_call *c, enum MHD_Result *answered)
{
    if (strcmp(c->method, "GET") == 0 || strcmp(c->role, "operate") == 0)
        return 1;
    *answered = api_error(c->conn, 403, "the token %s has the role %s: %s needs operate", c->name,
                          c->role, c->method);
    return 0;
}

static enum MHD_Result whoami(api_call *c)
{
    if (strcmp(c->method, "GET") != 0)
        return api_error(c->conn, 405, "use GET");
    json_object *o = json_object_new_object();
    json_object_object_add(o, "name", json_object_new_string(c->name));
    json_object_object_add(o, "role", json_object_new_string(c->role));
    return api_json(c, 200, o);
}

/* The path's first segment: "/requests/7" is "requests" with rest "/7". */
static int segment_is(const char *path, const char *name, const char **rest)
{
    size_t n = strlen(name);
    if (path[0] != '/' || strncmp(path + 1, name, n) != 0 ||
        (path[n + 1] != '\0' && path[n + 1] != '/'))
        return 0;
    *rest = path + n + 1;
    return 1;
}

enum MHD_Result api_route(api_call *c)
{
    const char *rest = NULL;
    enum MHD_Result answered = MHD_NO;
    if (strcmp(c->method, "GET") != 0 && strcmp(c->method, "POST") != 0 &&
        strcmp(c->method, "DELETE") != 0)
        return api_error(c->conn, 405, "%.16s is not a method of this API", c->method);
    if (!api_allowed(c, &answered))
        return answered;
    if (strcmp(c->path, "/whoami") == 0)
        return whoami(c);
    if (strcmp(c->path, "/summary") == 0)
        return api_summary(c);
    if (strcmp(c->path, "/ca") == 0)
        return api_ca(c);
    if (strcmp(c->path, "/crl") == 0)
        return api_crl(c);
    if (strcmp(c->path, "/audit") == 0)
        return api_audit_list(c);
    if (segment_is(c->path, "requests", &rest))
        return api_requests(c, rest);
    if (segment_is(c->path, "certificates", &rest))
        return api_certificates(c, rest);
    if (segment_is(c->path, "challenges", &rest))
        return api_challenges(c, rest);
    return api_error(c->conn, 404, "no route %s%.200s", API_PREFIX, c->path);
}
