/*
 * POST /challenge[?ttl=SECONDS&subject_match=REGEX] with "Authorization: Bearer TOKEN" answers
 * a fresh one-time challenge as text/plain. Anything else: 401, 404 or 405.
 */
#include "admin_http.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>
#include <openssl/crypto.h>

#include "challenge.h"
#include "http.h"
#include "log.h"

struct admin_http {
    config cfg; /* a copy: the endpoint outlives reloads of the main server */
    char token[CONFIG_SECRET];
    struct MHD_Daemon *daemon;
    struct sockaddr_storage addr;
};

static enum MHD_Result text(struct MHD_Connection *conn, unsigned status, const char *body)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)(uintptr_t)body,
                                                             MHD_RESPMEM_MUST_COPY);
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
    if (status == 401)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static int authorized(const admin_http *a, struct MHD_Connection *conn)
{
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    if (auth == NULL || strncmp(auth, "Bearer ", 7) != 0)
        return 0;
    const char *given = auth + 7;
    size_t n = strlen(a->token);
    return strlen(given) == n && CRYPTO_memcmp(given, a->token, n) == 0;
}

static enum MHD_Result mint(admin_http *a, struct MHD_Connection *conn)
{
    const char *ttl_text = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "ttl");
    const char *match = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "subject_match");
    char *end = NULL;
    long ttl = ttl_text ? strtol(ttl_text, &end, 10) : 3600;
    if (ttl_text && (end == ttl_text || *end != '\0' || ttl <= 0 || ttl > 3650L * 86400))
        return text(conn, 400, "ttl must be a number of seconds\n");
    regex_t re;
    if (match != NULL && regcomp(&re, match, REG_EXTENDED | REG_NOSUB) != 0)
        return text(conn, 400, "subject_match is not a valid regular expression\n");
    if (match != NULL)
        regfree(&re);
    char uri[CONFIG_PATH * 2], err[512], secret[64];
    config_store_uri(&a->cfg, uri, sizeof(uri));
    store *st = store_open(uri, err, sizeof(err));
    int rc = st ? challenge_mint(st, ttl, match, secret, sizeof(secret), err, sizeof(err)) : -1;
    if (rc == 0)
        st->ops->event_add(st, "challenge", "admin-http", match ? match : "");
    store_close(st);
    if (rc != 0)
        return text(conn, 503, "cannot mint a challenge now\n");
    char body[80];
    snprintf(body, sizeof(body), "%s\n", secret);
    OPENSSL_cleanse(secret, sizeof(secret));
    enum MHD_Result ret = text(conn, 200, body);
    OPENSSL_cleanse(body, sizeof(body));
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    (void)upload_data;
    admin_http *a = cls;
    if (*con_cls == NULL) {
        *con_cls = a; /* first call: headers only */
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        *upload_data_size = 0; /* the endpoint takes no body */
        return MHD_YES;
    }
    if (!authorized(a, conn))
        return text(conn, 401, "a valid bearer token is required\n");
    if (strcmp(url, "/challenge") != 0)
        return text(conn, 404, "only /challenge is here\n");
    if (strcmp(method, "POST") != 0)
        return text(conn, 405, "use POST\n");
    return mint(a, conn);
}

static int read_token(admin_http *a, const config *c, char *err, size_t errlen)
{
    if (c->admin_token[0] != '\0') {
        snprintf(a->token, sizeof(a->token), "%s", c->admin_token);
        return 0;
    }
    char path[CONFIG_PATH + 32];
    config_path(c, c->admin_token_file, path, sizeof(path));
    FILE *f = c->admin_token_file[0] ? fopen(path, "r") : NULL;
    int ok = f && fgets(a->token, sizeof(a->token), f) != NULL;
    if (f)
        fclose(f);
    a->token[strcspn(a->token, "\r\n")] = '\0';
    if (!ok || strlen(a->token) < 16) {
        snprintf(err, errlen,
                 "admin_listen needs admin_token or admin_token_file (16+ characters)");
        return -1;
    }
    return 0;
}

admin_http *admin_http_start(const config *c, char *err, size_t errlen)
{
    err[0] = '\0';
    if (c->admin_listen[0] == '\0')
        return NULL;
    admin_http *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return NULL;
    a->cfg = *c;
    OPENSSL_cleanse(a->cfg.challenge, sizeof(a->cfg.challenge));
    if (read_token(a, c, err, errlen) != 0 ||
        http_parse_listen(c->admin_listen, &a->addr, err, errlen) != 0) {
        admin_http_stop(a);
        return NULL;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
    if (a->addr.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    a->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, a, MHD_OPTION_SOCK_ADDR,
                                 (struct sockaddr *)&a->addr, MHD_OPTION_CONNECTION_LIMIT, 16u,
                                 MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
    if (a->daemon == NULL) {
        snprintf(err, errlen, "cannot listen on %s for the admin endpoint", c->admin_listen);
        admin_http_stop(a);
        return NULL;
    }
    return a;
}

void admin_http_stop(admin_http *a)
{
    if (a == NULL)
        return;
    if (a->daemon)
        MHD_stop_daemon(a->daemon);
    OPENSSL_cleanse(a->token, sizeof(a->token));
    free(a);
}
