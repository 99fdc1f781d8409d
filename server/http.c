/* libmicrohttpd glue. Knows HTTP, limits and threads; knows nothing of SCEP beyond handing the
 * query and body to the library's request codec. */
#include "http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "log.h"

struct http_server {
    server *srv;
    struct MHD_Daemon *daemon;
    store_group *stores;     /* the worker threads' handles share one flush (group commit) */
    pthread_key_t store_key; /* one store handle per worker thread */
    struct sockaddr_storage addr;
};

/* What is known about one request while its body arrives. */
typedef struct http_req {
    char *query; /* raw, not percent-decoded; "" when none */
    int is_crl;  /* the path asks for a CRL: 1 .../crl/ca.crl, 2 .../crl/prev.crl, 3 by key id */
    char crl_key[STORE_KEY_ID];
    unsigned char *body;
    size_t body_len;
    int started;
    int too_large;
    struct timespec start;
} http_req;

static void close_thread_store(void *st)
{
    store_close(st);
}

static store *thread_store(http_server *h)
{
    store *st = pthread_getspecific(h->store_key);
    if (st == NULL) {
        char err[256];
        st = store_group_handle(h->stores, err, sizeof(err));
        if (st == NULL)
            log_info(stderr, h->srv->cfg.log_format, err);
        else
            pthread_setspecific(h->store_key, st);
    }
    return st;
}

static int path_ends(const char *path, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);
    return len >= n && memcmp(path + len - n, suffix, n) == 0;
}

/* .../crl/KEYID.crl, KEYID 64 hex digits (what crl_url's {ca} becomes): copied upper-case. */
static int crl_key_in_path(const char *path, size_t len, char key[STORE_KEY_ID])
{
    const size_t hex_len = STORE_KEY_ID - 1, tail = 5 + hex_len + 4;
    if (len < tail || memcmp(path + len - tail, "/crl/", 5) != 0 ||
        memcmp(path + len - 4, ".crl", 4) != 0)
        return 0;
    const char *hex = path + len - 4 - hex_len;
    for (size_t i = 0; i < hex_len; i++) {
        if (!isxdigit((unsigned char)hex[i]))
            return 0;
        key[i] = (char)toupper((unsigned char)hex[i]);
    }
    key[hex_len] = '\0';
    return 1;
}

/* Called first for every request with the raw URI: keep its query string. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)cls;
    (void)conn;
    http_req *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    clock_gettime(CLOCK_MONOTONIC, &r->start);
    const char *q = strchr(uri, '?');
    r->query = strdup(q ? q + 1 : "");
    size_t path_len = q ? (size_t)(q - uri) : strlen(uri);
    r->is_crl = path_ends(uri, path_len, "/crl/ca.crl")      ? 1
                : path_ends(uri, path_len, "/crl/prev.crl")  ? 2
                : crl_key_in_path(uri, path_len, r->crl_key) ? 3
                                                             : 0;
    return r;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    http_req *r = *con_cls;
    if (r != NULL) {
        free(r->query);
        free(r->body);
        free(r);
    }
    *con_cls = NULL;
}

static void peer_text(struct MHD_Connection *conn, char *buf, size_t len)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(buf, len, "-");
    if (ci == NULL || ci->client_addr == NULL)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, buf,
                  (socklen_t)len);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, buf,
                  (socklen_t)len);
}

static void free_body(void *body)
{
    OPENSSL_free(body);
}

static enum MHD_Result send_reply(struct MHD_Connection *conn, reply *rep)
{
    struct MHD_Response *resp;
    if (rep->body_static)
        resp = MHD_create_response_from_buffer(rep->body_len, rep->body, MHD_RESPMEM_PERSISTENT);
    else {
        resp =
            MHD_create_response_from_buffer_with_free_callback(rep->body_len, rep->body, free_body);
        if (resp != NULL)
            rep->body = NULL; /* the response frees it now */
    }
    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, rep->content_type);
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)rep->http_status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* Turns the HTTP request into an operation + bytes with the library's codec. */
static void handle(http_server *h, const char *method, http_req *r, reply *rep, scep_operation *op)
{
    scep_http_request req = {0};
    scep_err e;
    if (strcmp(method, "POST") == 0)
        e = scep_http_parse_post(r->query, strlen(r->query), r->body, r->body_len, &req);
    else
        e = scep_http_parse_query(r->query, strlen(r->query), &req);
    if (e != SCEP_OK) {
        reply_text(rep, scep_err_http_status(e) == 200 ? 400 : scep_err_http_status(e),
                   scep_strerror(e));
        return;
    }
    *op = req.operation;
    store *st = req.operation == SCEP_OP_PKI_OPERATION ? thread_store(h) : NULL;
    if (req.operation == SCEP_OP_PKI_OPERATION && st == NULL)
        reply_text(rep, 503, "certificate store unavailable");
    else
        service_handle(h->srv, st, &req, rep);
    scep_http_request_clear(&req);
}

static void serve_crl(http_server *h, const http_req *r, reply *rep)
{
    store *st = thread_store(h);
    if (st == NULL)
        reply_text(rep, 503, "certificate store unavailable");
    else
        service_crl(h->srv, st, r->is_crl == 2, r->is_crl == 3 ? r->crl_key : NULL, rep);
}

static double elapsed_ms(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) * 1e3 +
           (double)(now.tv_nsec - start->tv_nsec) / 1e6;
}

/* No answer from the store leaves before the writes it reports are on disk: a client never
 * holds a certificate, or a PENDING, that a crash could make the CA forget. */
static void make_durable(http_server *h, int used_store, reply *rep)
{
    store *st = used_store ? pthread_getspecific(h->store_key) : NULL;
    if (st == NULL || st->ops->flush(st) == STORE_OK)
        return;
    log_info(stderr, h->srv->cfg.log_format, st->ops->last_error(st));
    reply_free(rep);
    reply_init(rep);
    reply_text(rep, 503, "certificate store cannot write to disk");
}

static enum MHD_Result respond(http_server *h, struct MHD_Connection *conn, const char *method,
                               http_req *r)
{
    reply rep;
    reply_init(&rep);
    scep_operation op = SCEP_OP_UNKNOWN;
    if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0 && strcmp(method, "HEAD") != 0)
        reply_text(&rep, 405, "only GET and POST are supported");
    else if (r->too_large)
        reply_text(&rep, 413, "request body too large");
    else if (r->is_crl && strcmp(method, "POST") != 0)
        serve_crl(h, r, &rep);
    else
        handle(h, method, r, &rep, &op);
    make_durable(h, op == SCEP_OP_PKI_OPERATION || r->is_crl, &rep);
    char peer[64];
    peer_text(conn, peer, sizeof(peer));
    log_request(stdout, h->srv->cfg.log_format, peer, method, scep_operation_name(op), &rep,
                elapsed_ms(&r->start));
    enum MHD_Result ret = send_reply(conn, &rep);
    reply_free(&rep);
    return ret;
}

static void take_body(http_req *r, size_t max, const char *data, size_t len)
{
    if (r->too_large || len > max - r->body_len) {
        r->too_large = 1; /* keep reading, answer 413 at the end */
        return;
    }
    unsigned char *grown = realloc(r->body, r->body_len + len);
    if (grown == NULL) {
        r->too_large = 1;
        return;
    }
    memcpy(grown + r->body_len, data, len);
    r->body = grown;
    r->body_len += len;
}

static int declared_too_large(struct MHD_Connection *conn, size_t max)
{
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    if (cl == NULL)
        return 0;
    char *end = NULL;
    unsigned long long n = strtoull(cl, &end, 10);
    return end != cl && n > max;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)url;
    (void)version;
    http_server *h = cls;
    http_req *r = *con_cls;
    if (r == NULL || r->query == NULL)
        return MHD_NO; /* out of memory in on_uri */
    if (!r->started) {
        r->started = 1;
        if (declared_too_large(conn, h->srv->cfg.max_body)) {
            r->too_large = 1;
            return respond(h, conn, method, r);
        }
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        take_body(r, h->srv->cfg.max_body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    return respond(h, conn, method, r);
}

int http_parse_listen(const char *listen, struct sockaddr_storage *out, char *err, size_t errlen)
{
    char host[128];
    const char *colon = strrchr(listen, ':');
    if (colon == NULL || (size_t)(colon - listen) >= sizeof(host)) {
        snprintf(err, errlen, "listen address must be HOST:PORT, not '%s'", listen);
        return -1;
    }
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = '\0';
    }
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
                             .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    int rc = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &ai);
    if (rc != 0 || ai == NULL || ai->ai_addrlen > sizeof(*out)) {
        snprintf(err, errlen, "bad listen address '%s': %s", listen, gai_strerror(rc));
        if (ai)
            freeaddrinfo(ai);
        return -1;
    }
    memcpy(out, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    return 0;
}

static unsigned worker_count(const config *c)
{
    if (c->threads > 0)
        return (unsigned)c->threads;
    /* Two per core: a worker waiting for its flush leaves the core to the other. */
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 && n < 128 ? 2 * (unsigned)n : 4;
}

/* Starts the daemon on h->addr, or on listen_fd when it is not MHD_INVALID_SOCKET. */
static int start_daemon(http_server *h, MHD_socket listen_fd)
{
    const config *c = &h->srv->cfg;
    /* poll, not epoll: with epoll libmicrohttpd 0.9.75 sometimes misses a client's half-close
     * and holds the connection until the timeout. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC;
    if (h->addr.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    h->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&h->addr,
        MHD_OPTION_LISTEN_SOCKET, listen_fd, MHD_OPTION_THREAD_POOL_SIZE, worker_count(c),
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)c->max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)c->request_timeout, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(128 * 1024),
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, h, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
        MHD_OPTION_END);
    return h->daemon != NULL ? 0 : -1;
}

static http_server *new_server(server *srv, char *err, size_t errlen)
{
    http_server *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return NULL;
    h->srv = srv;
    if (http_parse_listen(srv->cfg.listen, &h->addr, err, errlen) != 0) {
        free(h);
        return NULL;
    }
    char uri[CONFIG_PATH * 2];
    config_store_uri(&srv->cfg, uri, sizeof(uri));
    h->stores = store_group_open(uri, err, errlen);
    if (h->stores == NULL || pthread_key_create(&h->store_key, close_thread_store) != 0) {
        store_group_close(h->stores);
        free(h);
        return NULL;
    }
    return h;
}

/* After the daemon stopped: its threads have closed their handles. */
static void free_server(http_server *h)
{
    pthread_key_delete(h->store_key);
    store_group_close(h->stores);
    free(h);
}

http_server *http_start(server *srv, char *err, size_t errlen)
{
    http_server *h = new_server(srv, err, errlen);
    if (h == NULL)
        return NULL;
    if (start_daemon(h, MHD_INVALID_SOCKET) != 0) {
        snprintf(err, errlen, "cannot listen on %s (address in use, or not allowed)",
                 srv->cfg.listen);
        free_server(h);
        return NULL;
    }
    return h;
}

/* Lets the requests in flight finish (up to the request timeout), then stops. */
static void drain_and_stop(http_server *h)
{
    for (int waited = 0; waited < h->srv->cfg.request_timeout * 10; waited++) {
        const union MHD_DaemonInfo *info =
            MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        if (info == NULL || info->num_connections == 0)
            break;
        nanosleep(&(struct timespec){0, 100000000}, NULL);
    }
    MHD_stop_daemon(h->daemon);
    free_server(h);
}

http_server *http_takeover(http_server *old, server *srv, char *err, size_t errlen)
{
    http_server *h = new_server(srv, err, errlen);
    if (h == NULL)
        return old;
    /* The listening socket passes to the new daemon: no moment without a listener. */
    MHD_socket fd = MHD_quiesce_daemon(old->daemon);
    if (fd == MHD_INVALID_SOCKET || start_daemon(h, fd) != 0) {
        snprintf(err, errlen, "cannot hand the listening socket over; stopping");
        free_server(h);
        drain_and_stop(old);
        if (fd != MHD_INVALID_SOCKET)
            close(fd);
        return NULL;
    }
    drain_and_stop(old);
    return h;
}

unsigned http_port(const http_server *h)
{
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    return info ? info->port : 0;
}

void http_stop(http_server *h)
{
    if (h == NULL)
        return;
    MHD_socket fd = MHD_quiesce_daemon(h->daemon);
    drain_and_stop(h);
    if (fd != MHD_INVALID_SOCKET)
        close(fd); /* a quiesced daemon leaves its listening socket to us */
}
