/* libmicrohttpd glue. Knows HTTP, limits and threads; knows nothing of SCEP beyond handing the
 * query and body to the library's request codec. */
#include "http/http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "http/http_accept.h"
#include "http/http_guard.h"
#include "http/http_tls.h"
#include "log/log.h"
#include "service/worker.h"

/* Answers to clients over a limit, and the Retry-After they carry (seconds). */
#define RETRY_AFTER "5"
/* More query parameters than any SCEP request has: 414 (libmicrohttpd drops far more itself). */
#define MAX_QUERY_PARAMS 64
/* libmicrohttpd's memory per connection: the request line and headers must fit. It clears the
 * whole of it for every request, so it is resident for every open connection: 32 KiB each keeps
 * max_connections (512) within 16 MiB, where 128 KiB took 64 MiB. */
#define CONNECTION_MEMORY (32 * 1024)

/* One listening socket's daemon and what its callbacks are given. */
typedef struct http_listener {
    http_server *h;
    struct MHD_Daemon *daemon;
    int tls; /* HTTPS: nothing is written into its sockets but by GnuTLS */
    int fd;  /* the listening socket; -1 when none */
    http_acceptor *acceptor;
} http_listener;

/* The plain listener and, with listen_tls, the HTTPS one: one guard, one worker pool. */
struct http_server {
    server *srv;
    http_listener plain, https;
    struct sockaddr_storage tls_addr;
    http_tls_pem tls;
    service_workers *workers; /* what the threads' workers share */
    pthread_key_t worker_key; /* one service worker per thread */
    struct sockaddr_storage addr;
    guard *guard;          /* connection limits and deadlines */
    atomic_uint suspended; /* connections whose reply waits for the store */
};

/* What is known about one request while its body arrives. */
typedef struct http_req {
    char *query; /* raw, not percent-decoded; "" when none */
    int is_crl;  /* the path asks for a CRL: 1 .../crl/ca.crl, 2 .../crl/prev.crl, 3 by key id */
    char crl_key[STORE_KEY_ID];
    char profile[33];    /* /scep/NAME/...: NAME (the service checks it); "": the default */
    unsigned char *body; /* the connection's buffer (http_conn.body), borrowed */
    size_t body_len;
    size_t declared; /* Content-Length; 0 when none */
    int started;
    int too_large;
    int too_many_params;
    int answered; /* respond() ran: nothing more to do for this request */
    struct timespec start;
    /* The answer, kept while the connection is suspended for the store's flush. */
    int has_reply;
    int held;  /* suspended until durable resumes it */
    int close; /* the connection ends after the answer */
    scep_operation op;
    char peer[64];
    reply rep;
    service_durable durable;
} http_req;

/* One connection (libmicrohttpd's socket context): what the guard knows of it and the request
 * it is receiving. Freed when the connection closes, whatever happened to the request. */
typedef struct http_conn {
    http_server *h;
    struct MHD_Connection *conn;
    guard_conn *guard;
    int tls;     /* on the HTTPS listener */
    int refused; /* over a limit, on HTTPS: its request is answered 503 */
    http_req req;
    int in_request; /* a request line arrived and its request has not completed */
    size_t uri_len;
    /* The request bodies' buffer, kept from one request to the next on a kept-alive
     * connection: no allocation (nor the heap's consolidation a large one triggers) per
     * request. One past BODY_KEEP is freed when its request ends. */
    unsigned char *body;
    size_t body_cap;
} http_conn;

/* The most a connection keeps between requests: a SCEP request's body is 2-8 KiB. */
#define BODY_KEEP (16 * 1024)

static void req_clear(http_req *r)
{
    if (r->has_reply)
        reply_free(&r->rep);
    free(r->query);
    memset(r, 0, sizeof(*r));
}

/* The request ended: its body is forgotten, a large buffer given back. */
static void conn_req_clear(http_conn *hc)
{
    req_clear(&hc->req);
    if (hc->body_cap > BODY_KEEP) {
        free(hc->body);
        hc->body = NULL;
        hc->body_cap = 0;
    }
}

static void close_thread_worker(void *w)
{
    service_worker_close(w);
}

static service_worker *thread_worker(http_server *h)
{
    service_worker *w = pthread_getspecific(h->worker_key);
    if (w == NULL) {
        w = service_worker_open(h->workers);
        if (w != NULL)
            pthread_setspecific(h->worker_key, w);
    }
    return w;
}

static int path_ends(const char *path, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);
    return len >= n && memcmp(path + len - n, suffix, n) == 0;
}

/* /scep/NAME and /scep/NAME/...: a profile's; /scep, /scep/pkiclient.exe and every other path
 * the default profile's. A name too long for a profile keeps its first 32 characters, which
 * name no profile either. */
static void profile_in_path(const char *path, size_t len, char name[33])
{
    name[0] = '\0';
    if (len <= 6 || memcmp(path, "/scep/", 6) != 0)
        return;
    const char *start = path + 6, *end = memchr(start, '/', len - 6);
    size_t n = end ? (size_t)(end - start) : len - 6;
    if (n == 0 || (n == 13 && memcmp(start, "pkiclient.exe", 13) == 0))
        return;
    if (n > 32)
        n = 32;
    memcpy(name, start, n);
    name[n] = '\0';
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

static size_t count_params(const char *query)
{
    size_t n = *query != '\0';
    for (; *query != '\0'; query++)
        n += *query == '&';
    return n;
}

/* Called first for every request with the raw URI: keep its query string. Whatever is kept
 * belongs to the connection, so that it is freed even when libmicrohttpd drops the request
 * without completing it (a request line and headers past its memory). */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    http_server *h = ((http_listener *)cls)->h;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    http_conn *hc = ci != NULL ? ci->socket_context : NULL;
    if (hc == NULL)
        return NULL;
    http_req *r = &hc->req;
    conn_req_clear(hc);
    hc->in_request = 1;
    hc->uri_len = strlen(uri);
    guard_request_begin(h->guard, hc->guard);
    clock_gettime(CLOCK_MONOTONIC, &r->start);
    const char *q = strchr(uri, '?');
    r->query = strdup(q ? q + 1 : "");
    r->too_many_params = r->query != NULL && count_params(r->query) > MAX_QUERY_PARAMS;
    size_t path_len = q ? (size_t)(q - uri) : strlen(uri);
    r->is_crl = path_ends(uri, path_len, "/crl/ca.crl")      ? 1
                : path_ends(uri, path_len, "/crl/prev.crl")  ? 2
                : crl_key_in_path(uri, path_len, r->crl_key) ? 3
                                                             : 0;
    profile_in_path(uri, path_len, r->profile);
    return hc;
}

/* The request ended, answered or not (any termination code). */
static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    http_server *h = ((http_listener *)cls)->h;
    (void)conn;
    (void)toe;
    http_conn *hc = *con_cls;
    if (hc != NULL) {
        conn_req_clear(hc);
        hc->in_request = 0;
        guard_answer_end(h->guard, hc->guard);
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

/* An answer written straight into the socket, for when libmicrohttpd cannot queue one (before
 * the request, or in the middle of its body). Nothing else is being written to fd then. */
static void write_canned(int fd, const char *status, const char *text)
{
    char msg[320];
    int n =
        snprintf(msg, sizeof(msg),
                 "HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                 "%sConnection: close\r\n\r\n%s\n",
                 status, strlen(text) + 1,
                 strncmp(status, "503", 3) == 0 ? "Retry-After: " RETRY_AFTER "\r\n" : "", text);
    if (n > 0 && (size_t)n < sizeof(msg)) /* a socket's buffer takes it; nothing is waited for */
        (void)send(fd, msg, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
}

/* Room above max_connections for refused HTTPS connections, which wait for their request to
 * answer it 503 (plain ones never reach libmicrohttpd). Both listeners share it. */
static unsigned refusal_room(const config *c)
{
    return (unsigned)c->max_connections / 8 + 16;
}

static void log_refusal(http_server *h, const guard_conn *gc, guard_verdict v, const char *how)
{
    char line[200];
    if (v == GUARD_OVER_ADDRESS)
        snprintf(line, sizeof(line), "refused %s: max_connections_per_address (%d)", how,
                 h->srv->cfg.max_connections_per_address);
    else
        snprintf(line, sizeof(line), "refused %s: max_connections (%d)", how,
                 h->srv->cfg.max_connections);
    guard_log(h->guard, v == GUARD_OVER_ADDRESS ? GUARD_EV_ADDRESS : GUARD_EV_TOTAL, gc, line);
}

/* A connection just accepted, in the acceptor's thread: the guard decides at once. Over a
 * limit, a plain connection gets a canned 503 before anything is read and is read out and
 * closed by the acceptor, without taking a place in libmicrohttpd; an HTTPS one goes to
 * libmicrohttpd all the same (only GnuTLS can write into it) and its request gets the 503. */
static http_accept_result on_accept(void *arg, int fd, const struct sockaddr *addr,
                                    socklen_t addr_len)
{
    http_listener *l = arg;
    http_server *h = l->h;
    guard_verdict v;
    guard_conn *gc = guard_open(h->guard, fd, addr, &v);
    if (gc == NULL) {
        close(fd);
        return HTTP_ACCEPT_TAKEN;
    }
    /* Refused HTTPS connections wait for their request in libmicrohttpd's room above
     * max_connections; when it is full, they are closed unanswered. */
    int no_room =
        v != GUARD_ACCEPT && l->tls && guard_refused(h->guard) > (long)refusal_room(&h->srv->cfg);
    if (v != GUARD_ACCEPT)
        log_refusal(h, gc, v,
                    !l->tls   ? "a connection with 503"
                    : no_room ? "an HTTPS connection (closed: too many refused at once)"
                              : "an HTTPS connection with 503");
    if (no_room) {
        guard_close(h->guard, gc);
        close(fd);
        return HTTP_ACCEPT_TAKEN;
    }
    if (v != GUARD_ACCEPT && !l->tls) {
        write_canned(fd, "503 Service Unavailable",
                     v == GUARD_OVER_ADDRESS ? "too many connections from your address"
                                             : "too many connections");
        shutdown(fd, SHUT_WR);
        guard_close(h->guard, gc);
        return HTTP_ACCEPT_LINGER;
    }
    /* libmicrohttpd closes fd when it cannot take it; the guard forgets it then. */
    if (MHD_add_connection(l->daemon, fd, addr, addr_len) != MHD_YES) {
        int refused;
        guard_conn *left = guard_claim(h->guard, fd, &refused);
        if (left != NULL)
            guard_close(h->guard, left);
    }
    return HTTP_ACCEPT_TAKEN;
}

static http_conn *conn_open(http_server *h, struct MHD_Connection *conn, int tls)
{
    const union MHD_ConnectionInfo *fd =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    int refused = 0;
    guard_conn *gc = fd != NULL ? guard_claim(h->guard, fd->connect_fd, &refused) : NULL;
    http_conn *hc = gc != NULL ? calloc(1, sizeof(*hc)) : NULL;
    if (hc == NULL) {
        if (gc != NULL)
            guard_close(h->guard, gc);
        return NULL; /* its requests get no answer; the connection closes */
    }
    hc->h = h;
    hc->conn = conn;
    hc->tls = tls;
    hc->guard = gc;
    hc->refused = refused;
    return hc;
}

/* The connection closed. A request line that never reached an answer nor a completion is a
 * request libmicrohttpd dropped: said in the log, since the client got no answer. */
static void conn_close(http_server *h, http_conn *hc)
{
    if (hc == NULL)
        return;
    if (hc->in_request && !hc->req.answered && !guard_was_cut(h->guard, hc->guard)) {
        char line[200];
        snprintf(line, sizeof(line),
                 "dropped a request whose line and headers exceed %d KiB (URI of %zu bytes)",
                 CONNECTION_MEMORY / 1024, hc->uri_len);
        guard_log(h->guard, GUARD_EV_DROPPED, hc->guard, line);
    }
    req_clear(&hc->req);
    free(hc->body);
    guard_close(h->guard, hc->guard);
    free(hc);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    http_listener *l = cls;
    http_server *h = l->h;
    if (code == MHD_CONNECTION_NOTIFY_STARTED)
        *socket_context = conn_open(h, conn, l->tls);
    else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        conn_close(h, *socket_context);
        *socket_context = NULL;
    }
}

static void free_body(void *body)
{
    OPENSSL_free(body);
}

/* close: the connection ends after this answer. */
static enum MHD_Result send_reply(struct MHD_Connection *conn, reply *rep, int close)
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
    if (close)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    if (rep->http_status == 503)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, RETRY_AFTER);
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)rep->http_status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* Turns the HTTP request into an operation + bytes with the library's codec. Returns 1 when
 * the reply waits for w's store (service_worker_prepare). */
static int handle(http_server *h, const char *method, http_req *r, service_worker **w)
{
    scep_http_request req = {0};
    scep_err e;
    if (strcmp(method, "POST") == 0)
        e = scep_http_parse_post(r->query, strlen(r->query), r->body, r->body_len, &req);
    else
        e = scep_http_parse_query(r->query, strlen(r->query), &req);
    if (e != SCEP_OK) {
        reply_text(&r->rep, scep_err_http_status(e) == 200 ? 400 : scep_err_http_status(e),
                   scep_strerror(e));
        return 0;
    }
    r->op = req.operation;
    *w = thread_worker(h);
    int waits = 0;
    if (*w == NULL)
        reply_text(&r->rep, 503, "out of memory");
    else
        waits = service_worker_prepare(*w, &req, &r->rep);
    scep_http_request_clear(&req);
    return waits;
}

static int serve_crl(http_server *h, http_req *r, service_worker **w)
{
    *w = thread_worker(h);
    if (*w != NULL)
        return service_worker_prepare_crl(*w, r->is_crl == 2, r->is_crl == 3 ? r->crl_key : NULL,
                                          &r->rep);
    reply_text(&r->rep, 503, "out of memory");
    return 0;
}

static double elapsed_ms(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) * 1e3 +
           (double)(now.tv_nsec - start->tv_nsec) / 1e6;
}

/* Builds the answer into r->rep; 1 when it waits for w's store. */
static int answer(http_server *h, const char *method, guard_answer a, http_req *r,
                  service_worker **w)
{
    if (a == GUARD_ANSWER_REFUSE)
        reply_text(&r->rep, 503, "the server is shutting down");
    else if (a == GUARD_ANSWER_OVER)
        reply_text(&r->rep, 503, "too many connections");
    else if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0 &&
             strcmp(method, "HEAD") != 0)
        reply_text(&r->rep, 405, "only GET and POST are supported");
    else if (r->too_large)
        reply_text(&r->rep, 413, "request body too large");
    else if (r->too_many_params)
        reply_text(&r->rep, 414, "too many query parameters");
    else if (r->is_crl && strcmp(method, "POST") != 0)
        return serve_crl(h, r, w);
    else
        return handle(h, method, r, w);
    return 0;
}

/* The answer is final: logged and queued. */
static enum MHD_Result send_answer(http_server *h, struct MHD_Connection *conn, const char *method,
                                   http_req *r)
{
    log_request(stdout, h->srv->cfg.log_format, r->peer, method, scep_operation_name(r->op),
                &r->rep, elapsed_ms(&r->start));
    enum MHD_Result ret = send_reply(conn, &r->rep, r->close);
    reply_free(&r->rep);
    r->has_reply = 0;
    return ret;
}

/* The store flushed (or failed): the connection's thread takes the answer up again
 * (on_request). May run on the store's thread; hc is not touched after the resume, and h is
 * not once suspended no longer counts the connection. */
static void resume_held(void *arg)
{
    http_conn *hc = arg;
    http_server *h = hc->h;
    MHD_resume_connection(hc->conn);
    atomic_fetch_sub(&h->suspended, 1);
}

static enum MHD_Result respond(http_server *h, struct MHD_Connection *conn, const char *method,
                               http_conn *hc)
{
    http_req *r = &hc->req;
    r->answered = 1;
    guard_answer a = guard_answer_begin(h->guard, hc->guard);
    if (a == GUARD_ANSWER_NOTHING)
        return MHD_NO;
    reply_init(&r->rep);
    r->has_reply = 1;
    peer_text(conn, r->peer, sizeof(r->peer));
    r->rep.peer = r->peer;
    memcpy(r->rep.profile, r->profile, sizeof(r->rep.profile));
    r->op = SCEP_OP_UNKNOWN;
    /* A body refused before its end is not read further: the connection cannot go on. */
    r->close = a != GUARD_ANSWER || r->too_large;
    service_worker *w = NULL;
    if (!answer(h, method, a, r, &w))
        return send_answer(h, conn, method, r);
    /* Suspended before the store may resume it: the thread serves others during the flush. */
    r->held = 1;
    atomic_fetch_add(&h->suspended, 1);
    MHD_suspend_connection(conn);
    service_worker_await(w, &r->durable, &r->rep, resume_held, hc);
    return MHD_YES;
}

/* Room for need bytes of body: at once what Content-Length declared when that is small (a
 * large declared length is not trusted before its bytes come), else double. */
static size_t body_room(const http_conn *hc, size_t need, size_t max)
{
    size_t cap = hc->req.declared > need && hc->req.declared <= BODY_KEEP ? hc->req.declared : need;
    if (cap < 2 * hc->body_cap)
        cap = 2 * hc->body_cap;
    return cap < max ? cap : max;
}

/* The body's bytes so far and these, counted against max, in the connection's buffer. */
static void take_body(http_conn *hc, size_t max, const char *data, size_t len)
{
    http_req *r = &hc->req;
    if (r->too_large || len > max - r->body_len) {
        r->too_large = 1;
        return;
    }
    size_t need = r->body_len + len;
    if (need > hc->body_cap) {
        size_t cap = body_room(hc, need, max);
        unsigned char *grown = realloc(hc->body, cap);
        if (grown == NULL) {
            r->too_large = 1;
            return;
        }
        hc->body = grown;
        hc->body_cap = cap;
    }
    memcpy(hc->body + r->body_len, data, len);
    r->body = hc->body;
    r->body_len = need;
}

/* A body past max_body while it arrives (chunked, or longer than declared). libmicrohttpd 0.9.75
 * queues no answer in the middle of a body, so the 413 goes straight out, the connection stops
 * sending, reads and discards for a moment (so that the client sees the 413 rather than a
 * reset), and is cut. */
static void refuse_body(http_server *h, struct MHD_Connection *conn, const char *method,
                        http_conn *hc)
{
    const union MHD_ConnectionInfo *fd =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    reply rep;
    reply_init(&rep);
    char peer[64];
    peer_text(conn, peer, sizeof(peer));
    reply_text(&rep, 413, "request body too large");
    hc->req.answered = 1;
    if (fd != NULL) {
        if (!hc->tls) /* over TLS the connection is only cut */
            write_canned(fd->connect_fd, "413 Content Too Large", "request body too large");
        shutdown(fd->connect_fd, SHUT_WR);
    }
    guard_linger(h->guard, hc->guard);
    log_request(stdout, h->srv->cfg.log_format, peer, method, scep_operation_name(SCEP_OP_UNKNOWN),
                &rep, elapsed_ms(&hc->req.start));
    reply_free(&rep);
}

/* The Content-Length header's value; 0 when none, SIZE_MAX past what a size_t holds. */
static size_t declared_length(struct MHD_Connection *conn)
{
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    if (cl == NULL)
        return 0;
    char *end = NULL;
    unsigned long long n = strtoull(cl, &end, 10);
    return end == cl ? 0 : n > SIZE_MAX ? SIZE_MAX : (size_t)n;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)url;
    (void)version;
    http_server *h = ((http_listener *)cls)->h;
    http_conn *hc = *con_cls;
    if (hc == NULL || hc->req.query == NULL)
        return MHD_NO; /* out of memory in on_uri */
    http_req *r = &hc->req;
    if (r->held) { /* resumed: the store flushed what the answer reports, or failed */
        r->held = 0;
        service_durable_finish(&r->durable);
        return send_answer(h, conn, method, r);
    }
    if (!r->started) {
        r->started = 1;
        if (hc->refused) /* its body is not read: the 503 goes at once, then the close */
            return respond(h, conn, method, hc);
        r->declared = declared_length(conn);
        if (r->declared > h->srv->cfg.max_body) {
            r->too_large = 1;
            return respond(h, conn, method, hc);
        }
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        size_t len = *upload_data_size;
        *upload_data_size = 0;
        if (r->answered)
            return MHD_YES; /* discarded while the connection lingers */
        /* Counted as it arrives, chunked or not: past max_body, 413 at once. */
        take_body(hc, h->srv->cfg.max_body, upload_data, len);
        if (r->too_large)
            refuse_body(h, conn, method, hc);
        return MHD_YES;
    }
    return r->answered ? MHD_NO : respond(h, conn, method, hc);
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

static unsigned mhd_connection_limit(const config *c)
{
    return (unsigned)c->max_connections + refusal_room(c);
}

static char tls_priorities[] = HTTP_TLS_PRIORITIES;

/* l's daemon, which takes its connections from l's acceptor (MHD_add_connection). */
static int start_daemon(http_server *h, http_listener *l)
{
    const config *c = &h->srv->cfg;
    /* poll, not epoll: with epoll libmicrohttpd 0.9.75 sometimes misses a client's half-close
     * and holds the connection until the timeout. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC |
                     MHD_ALLOW_SUSPEND_RESUME | MHD_USE_NO_LISTEN_SOCKET;
    struct MHD_OptionItem tls[] = {{MHD_OPTION_HTTPS_MEM_CERT, 0, h->tls.cert},
                                   {MHD_OPTION_HTTPS_MEM_KEY, 0, h->tls.key},
                                   {MHD_OPTION_HTTPS_PRIORITIES, 0, tls_priorities},
                                   {MHD_OPTION_END, 0, NULL}};
    if (l->tls)
        flags |= MHD_USE_TLS;
    else
        tls[0].option = MHD_OPTION_END;
    l->h = h;
    l->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, l, MHD_OPTION_THREAD_POOL_SIZE, worker_count(c),
        MHD_OPTION_CONNECTION_LIMIT, mhd_connection_limit(c), MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)c->request_timeout, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, l, MHD_OPTION_NOTIFY_COMPLETED, on_completed, l,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, l, MHD_OPTION_ARRAY, tls, MHD_OPTION_END);
    if (l->daemon == NULL)
        return -1;
    l->acceptor = http_acceptor_start(l->fd, on_accept, l);
    if (l->acceptor == NULL) {
        MHD_stop_daemon(l->daemon);
        l->daemon = NULL;
        return -1;
    }
    return 0;
}

/* l serving on listen_fd, or (-1) on a new socket bound to addr, which it closes on failure. */
static int start_listener(http_server *h, http_listener *l, const struct sockaddr_storage *addr,
                          int listen_fd)
{
    l->fd = listen_fd >= 0 ? listen_fd : http_listen_socket(addr);
    if (l->fd >= 0 && start_daemon(h, l) == 0)
        return 0;
    if (listen_fd < 0 && l->fd >= 0)
        close(l->fd);
    l->fd = -1;
    return -1;
}

/* The listener stops taking connections; its listening socket is returned (-1: none). */
static int quiesce(http_listener *l)
{
    http_acceptor_stop(l->acceptor);
    l->acceptor = NULL;
    int fd = l->fd;
    l->fd = -1;
    return fd;
}

/* Both listeners, on these sockets (-1: bind their addresses). */
static int start_daemons(http_server *h, int plain_fd, int tls_fd, char *err, size_t errlen)
{
    const config *c = &h->srv->cfg;
    h->https.tls = 1;
    h->plain.fd = h->https.fd = -1;
    if (start_listener(h, &h->plain, &h->addr, plain_fd) != 0) {
        snprintf(err, errlen, "cannot listen on %s (address in use, or not allowed)", c->listen);
        return -1;
    }
    if (c->listen_tls[0] != '\0' && start_listener(h, &h->https, &h->tls_addr, tls_fd) != 0) {
        snprintf(err, errlen,
                 "cannot listen on %s for HTTPS (address in use, not allowed, or a certificate "
                 "or key that GnuTLS refuses)",
                 c->listen_tls);
        int fd = quiesce(&h->plain);
        if (plain_fd < 0)
            close(fd);
        MHD_stop_daemon(h->plain.daemon);
        h->plain.daemon = NULL;
        return -1;
    }
    return 0;
}

static http_server *new_server(server *srv, char *err, size_t errlen)
{
    http_server *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return NULL;
    h->srv = srv;
    if (http_parse_listen(srv->cfg.listen, &h->addr, err, errlen) != 0 ||
        (srv->cfg.listen_tls[0] != '\0' &&
         http_parse_listen(srv->cfg.listen_tls, &h->tls_addr, err, errlen) != 0)) {
        free(h);
        return NULL;
    }
    h->workers = service_workers_open(srv, err, errlen);
    if (h->workers == NULL || pthread_key_create(&h->worker_key, close_thread_worker) != 0) {
        service_workers_close(h->workers);
        free(h);
        return NULL;
    }
    const config *c = &srv->cfg;
    guard_limits lim = {c->max_connections_per_address, c->max_connections, c->request_deadline,
                        c->connection_lifetime};
    h->guard = guard_new(&lim, c->log_format);
    if (h->guard == NULL) {
        snprintf(err, errlen, "cannot start the connection guard");
        pthread_key_delete(h->worker_key);
        service_workers_close(h->workers);
        free(h);
        return NULL;
    }
    return h;
}

/* After the daemons stopped: their threads have closed their workers. */
static void free_server(http_server *h)
{
    guard_free(h->guard);
    pthread_key_delete(h->worker_key);
    service_workers_close(h->workers);
    http_tls_clear(&h->tls);
    free(h);
}

http_server *http_start(server *srv, char *err, size_t errlen)
{
    http_server *h = new_server(srv, err, errlen);
    if (h == NULL)
        return NULL;
    if ((srv->cfg.listen_tls[0] != '\0' && http_tls_read(&srv->cfg, &h->tls, err, errlen) != 0) ||
        start_daemons(h, -1, -1, err, errlen) != 0) {
        free_server(h);
        return NULL;
    }
    return h;
}

static unsigned open_connections(const http_listener *l)
{
    const union MHD_DaemonInfo *info =
        l->daemon != NULL ? MHD_get_daemon_info(l->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS)
                          : NULL;
    return info != NULL ? info->num_connections : 0;
}

/* Open connections, and those accepted but not yet taken up by libmicrohttpd (it adds them
 * in its own thread: until then its count misses them, and stopping it would close them
 * unread). */
static unsigned connections_left(http_server *h)
{
    return open_connections(&h->plain) + open_connections(&h->https) +
           (unsigned)guard_unclaimed(h->guard);
}

/* Closes idle connections, lets the answers in flight go out with Connection: close (when
 * stopping, requests not yet being answered get 503), and stops when no connection is left or
 * after shutdown_timeout. */
static void drain_and_stop(http_server *h, int stopping)
{
    guard_drain(h->guard, stopping);
    for (int waited = 0; waited < h->srv->cfg.shutdown_timeout * 20; waited++) {
        if (connections_left(h) == 0)
            break;
        nanosleep(&(struct timespec){0, 50000000}, NULL);
    }
    unsigned left = connections_left(h);
    if (left > 0) {
        char line[160];
        snprintf(line, sizeof(line), "shutdown_timeout (%d s) over: closing %u connections",
                 h->srv->cfg.shutdown_timeout, left);
        log_info(stdout, h->srv->cfg.log_format, line);
    }
    /* libmicrohttpd cannot stop with a suspended connection; a flush always ends. */
    while (atomic_load(&h->suspended) > 0)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    MHD_stop_daemon(h->plain.daemon);
    if (h->https.daemon != NULL)
        MHD_stop_daemon(h->https.daemon);
    free_server(h);
}

/* The reload's certificate and key; a pair that does not load leaves the old one serving. */
static int reload_tls(http_server *h, const http_server *old)
{
    char err[CONFIG_PATH * 2 + 200], line[sizeof(err) + 80];
    if (h->srv->cfg.listen_tls[0] == '\0')
        return 0;
    if (http_tls_read(&h->srv->cfg, &h->tls, err, sizeof(err)) == 0) {
        if (strcmp(h->tls.serial, old->tls.serial) != 0) {
            snprintf(line, sizeof(line), "reload: TLS certificate %s replaces %s", h->tls.serial,
                     old->tls.serial);
            log_info(stdout, h->srv->cfg.log_format, line);
        }
        return 0;
    }
    snprintf(line, sizeof(line), "reload: keeping the old TLS certificate and key: %s", err);
    log_error(stdout, h->srv->cfg.log_format, line);
    return http_tls_copy(&h->tls, &old->tls);
}

http_server *http_takeover(http_server *old, server *srv, char *err, size_t errlen)
{
    snprintf(err, errlen, "out of memory"); /* unless new_server says more */
    http_server *h = new_server(srv, err, errlen);
    if (h == NULL || reload_tls(h, old) != 0) {
        if (h != NULL)
            free_server(h);
        return old;
    }
    /* The listening sockets pass to the new daemons: no moment without a listener. */
    int fd = quiesce(&old->plain), tls_fd = quiesce(&old->https);
    if (fd < 0 || (old->https.daemon != NULL && tls_fd < 0) ||
        start_daemons(h, fd, tls_fd, err, errlen) != 0) {
        snprintf(err, errlen, "cannot hand the listening sockets over; stopping");
        free_server(h);
        drain_and_stop(old, 1);
        if (fd >= 0)
            close(fd);
        if (tls_fd >= 0)
            close(tls_fd);
        return NULL;
    }
    drain_and_stop(old, 0);
    return h;
}

unsigned http_port(const http_server *h)
{
    return http_socket_port(h->plain.fd);
}

unsigned http_tls_port(const http_server *h)
{
    return http_socket_port(h->https.fd);
}

const char *http_tls_serial(const http_server *h)
{
    return h->https.daemon != NULL ? h->tls.serial : NULL;
}

void http_refuse_new(http_server *h)
{
    if (h != NULL)
        guard_drain(h->guard, 1);
}

void http_stop(http_server *h)
{
    if (h == NULL)
        return;
    http_refuse_new(h); /* before the acceptor stops, which takes a while */
    int fd = quiesce(&h->plain), tls_fd = quiesce(&h->https);
    drain_and_stop(h, 1);
    if (fd >= 0)
        close(fd);
    if (tls_fd >= 0)
        close(tls_fd);
}
