/*
 * GET /ui/ and /ui/NAME on the admin listener: the console's files from the table built into
 * the binary. Every answer carries a strict Content-Security-Policy (only the console's own
 * files and API, no inline script or style, never framed), nosniff, no referrer and no caching.
 */
#include "admin/ui_files.h"

#include <stdint.h>
#include <string.h>

#define UI_PREFIX "/ui"
#define UI_CSP                                                                                     \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "                    \
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "                 \
    "frame-ancestors 'none'"

static const struct {
    const char *suffix, *type;
} content_types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
};

static const char *content_type(const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof(content_types) / sizeof(content_types[0]); i++) {
        size_t s = strlen(content_types[i].suffix);
        if (n > s && strcmp(name + n - s, content_types[i].suffix) == 0)
            return content_types[i].type;
    }
    return "application/octet-stream";
}

static const ui_asset *find_asset(const char *name)
{
    for (size_t i = 0; i < ui_asset_count; i++)
        if (strcmp(ui_assets[i].name, name) == 0)
            return &ui_assets[i];
    return NULL;
}

int ui_files_owns(const char *url)
{
    size_t n = strlen(UI_PREFIX);
    return strncmp(url, UI_PREFIX, n) == 0 && (url[n] == '\0' || url[n] == '/');
}

static void add_headers(struct MHD_Response *r, const char *type)
{
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, "Content-Security-Policy", UI_CSP);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
}

static enum MHD_Result answer(struct MHD_Connection *conn, unsigned status, const void *data,
                              size_t len, const char *type, const char *header, const char *value)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)(uintptr_t)data, MHD_RESPMEM_PERSISTENT);
    if (r == NULL)
        return MHD_NO;
    add_headers(r, type);
    if (header != NULL)
        MHD_add_response_header(r, header, value);
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result plain(struct MHD_Connection *conn, unsigned status, const char *body,
                             const char *header, const char *value)
{
    return answer(conn, status, body, strlen(body), "text/plain; charset=utf-8", header, value);
}

enum MHD_Result ui_files_answer(struct MHD_Connection *conn, const char *url, const char *method)
{
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return plain(conn, 405, "use GET\n", MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    const char *name = url + strlen(UI_PREFIX);
    if (name[0] == '\0')
        return plain(conn, 301, "see /ui/\n", MHD_HTTP_HEADER_LOCATION, "/ui/");
    name++; /* past the '/' */
    const ui_asset *f = find_asset(name[0] == '\0' ? "index.html" : name);
    if (f == NULL)
        return plain(conn, 404, "no such file in the console\n", NULL, NULL);
    return answer(conn, 200, f->data, f->len, content_type(f->name), NULL, NULL);
}
