/* A minimal HTTP/1.1 client: one blocking socket per worker, kept alive across requests.
 * Enough for SCEP servers (Content-Length or chunked bodies), nothing more. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "bench.h"

#define HEADER_MAX (16u * 1024u)
#define BODY_MAX (SCEP_MAX_MESSAGE_BYTES + 4096u)

static int copy_part(char *dst, size_t cap, const char *src, size_t len)
{
    if (len == 0 || len >= cap)
        return -1;
    memcpy(dst, src, len);
    dst[len] = '\0';
    return 0;
}

int bench_url_parse(const char *url, bench_url *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    const char *p = strncmp(url, "http://", 7) == 0 ? url + 7 : NULL;
    if (p == NULL) {
        snprintf(err, errlen, "only http:// URLs: %s", url);
        return -1;
    }
    size_t hostport = strcspn(p, "/?");
    const char *colon = memchr(p, ':', hostport);
    size_t hostlen = colon ? (size_t)(colon - p) : hostport;
    int bad = copy_part(out->host, sizeof(out->host), p, hostlen);
    if (!bad && colon)
        bad = copy_part(out->port, sizeof(out->port), colon + 1, hostport - hostlen - 1);
    else if (!bad)
        memcpy(out->port, "80", 3);
    const char *path = p + hostport;
    size_t pathlen = strcspn(path, "?");
    if (!bad && pathlen == 0)
        memcpy(out->path, "/", 2);
    else if (!bad && (path[0] != '/' || copy_part(out->path, sizeof(out->path), path, pathlen)))
        bad = 1;
    if (bad)
        snprintf(err, errlen, "bad URL %s", url);
    return bad ? -1 : 0;
}

void bench_conn_init(bench_conn *c, const bench_url *url, int timeout)
{
    memset(c, 0, sizeof(*c));
    c->url = url;
    c->fd = -1;
    c->timeout = timeout;
}

static void set_socket_options(int fd, int timeout)
{
    struct timeval tv = {timeout, 0};
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

int bench_conn_connect(bench_conn *c)
{
    bench_conn_close(c);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    if (getaddrinfo(c->url->host, c->url->port, &hints, &ai) != 0)
        return -1;
    for (struct addrinfo *a = ai; a != NULL && c->fd < 0; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (fd < 0)
            continue;
        set_socket_options(fd, c->timeout);
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
            c->fd = fd;
        else
            close(fd);
    }
    freeaddrinfo(ai);
    c->used = 0;
    return c->fd >= 0 ? 0 : -1;
}

void bench_conn_close(bench_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->have = 0;
}

static int send_all(int fd, const void *data, size_t len)
{
    const unsigned char *p = data;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Reads more bytes into the buffer; 0 on EOF, -1 on error or when the buffer is full. */
static ssize_t fill(bench_conn *c)
{
    if (c->cap - c->have < 4096) {
        size_t cap = c->cap ? c->cap * 2 : 65536;
        if (cap > HEADER_MAX + BODY_MAX + 65536)
            return -1;
        unsigned char *nb = realloc(c->buf, cap);
        if (nb == NULL)
            return -1;
        c->buf = nb;
        c->cap = cap;
    }
    ssize_t n;
    do
        n = recv(c->fd, c->buf + c->have, c->cap - c->have, 0);
    while (n < 0 && errno == EINTR);
    if (n > 0)
        c->have += (size_t)n;
    return n;
}

static void consume(bench_conn *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->have - n);
    c->have -= n;
}

/* The value of a header in the block [h, end), NUL-terminated into out; 0 when present. */
static int header(const char *h, const char *end, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *line = h; line < end;) {
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        if (eol == NULL)
            eol = end;
        if ((size_t)(eol - line) > nl && strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            size_t vl = (size_t)(eol - v);
            while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == ' '))
                vl--;
            if (vl >= cap)
                vl = cap - 1;
            memcpy(out, v, vl);
            out[vl] = '\0';
            return 0;
        }
        line = eol + 1;
    }
    return -1;
}

typedef struct head {
    int status;
    long content_length; /* -1: none */
    int chunked, close;
    int retry_after; /* seconds; -1: none */
    char content_type[64];
} head;

static int parse_head(const char *h, size_t len, head *out)
{
    memset(out, 0, sizeof(*out));
    out->content_length = -1;
    if (len < 12 || strncmp(h, "HTTP/1.", 7) != 0)
        return -1;
    out->status = (int)strtol(h + 9, NULL, 10);
    out->close = h[7] == '0';
    const char *end = h + len;
    char v[64];
    if (header(h, end, "Content-Length", v, sizeof(v)) == 0) {
        char *e = NULL;
        out->content_length = strtol(v, &e, 10);
        if (e == v || *e != '\0' || out->content_length < 0 || out->content_length > BODY_MAX)
            return -1;
    }
    out->chunked =
        header(h, end, "Transfer-Encoding", v, sizeof(v)) == 0 && strcasecmp(v, "chunked") == 0;
    if (header(h, end, "Connection", v, sizeof(v)) == 0 && strcasecmp(v, "close") == 0)
        out->close = 1;
    else if (header(h, end, "Connection", v, sizeof(v)) == 0 && strcasecmp(v, "keep-alive") == 0)
        out->close = 0;
    if (header(h, end, "Content-Type", out->content_type, sizeof(out->content_type)) != 0)
        out->content_type[0] = '\0';
    out->retry_after = -1;
    if (header(h, end, "Retry-After", v, sizeof(v)) == 0) {
        char *e = NULL;
        long secs = strtol(v, &e, 10);
        out->retry_after = e != v && *e == '\0' && secs >= 0 && secs < 86400 ? (int)secs : -1;
    }
    return out->status >= 100 && out->status <= 599 ? 0 : -1;
}

/* Waits for the header block; returns its length including the blank line, or -1. */
static long read_head(bench_conn *c)
{
    for (;;) {
        for (size_t i = 3; i < c->have; i++)
            if (memcmp(c->buf + i - 3, "\r\n\r\n", 4) == 0)
                return (long)(i + 1);
        if (c->have > HEADER_MAX || fill(c) <= 0)
            return -1;
    }
}

static int need(bench_conn *c, size_t n)
{
    while (c->have < n)
        if (fill(c) <= 0)
            return -1;
    return 0;
}

static int append(bench_reply *r, const unsigned char *p, size_t n)
{
    if (n > BODY_MAX - r->len)
        return -1;
    unsigned char *nb = realloc(r->body, r->len + n + 1);
    if (nb == NULL)
        return -1;
    memcpy(nb + r->len, p, n);
    r->body = nb;
    r->len += n;
    return 0;
}

static int read_chunked(bench_conn *c, bench_reply *r)
{
    for (;;) {
        unsigned char *eol;
        while ((eol = memchr(c->buf, '\n', c->have)) == NULL)
            if (c->have > 1024 || fill(c) <= 0)
                return -1;
        char *e = NULL;
        unsigned long size = strtoul((const char *)c->buf, &e, 16);
        if (e == (char *)c->buf || size > BODY_MAX)
            return -1;
        consume(c, (size_t)(eol - c->buf) + 1);
        if (need(c, size + 2) != 0)
            return -1;
        if (size == 0) { /* no trailers from SCEP servers: the CRLF ends the message */
            consume(c, 2);
            return 0;
        }
        if (append(r, c->buf, size) != 0)
            return -1;
        consume(c, size + 2);
    }
}

static int read_body(bench_conn *c, const head *h, bench_reply *r)
{
    if (h->chunked)
        return read_chunked(c, r);
    if (h->content_length >= 0) {
        if (need(c, (size_t)h->content_length) != 0 ||
            append(r, c->buf, (size_t)h->content_length) != 0)
            return -1;
        consume(c, (size_t)h->content_length);
        return 0;
    }
    ssize_t n; /* until the server closes */
    while ((n = fill(c)) > 0)
        ;
    int rc = n == 0 ? append(r, c->buf, c->have) : -1;
    c->have = 0;
    return rc;
}

static int read_reply(bench_conn *c, bench_reply *r, int *got_bytes)
{
    long hl = read_head(c);
    *got_bytes = c->have > 0;
    head h;
    if (hl < 0 || parse_head((const char *)c->buf, (size_t)hl, &h) != 0)
        return -1;
    consume(c, (size_t)hl);
    if (read_body(c, &h, r) != 0)
        return -1;
    r->status = h.status;
    r->retry_after = h.retry_after;
    memcpy(r->content_type, h.content_type, sizeof(r->content_type));
    if (h.close)
        bench_conn_close(c);
    return 0;
}

static int send_request(bench_conn *c, const char *method, const char *target,
                        const unsigned char *body, size_t len)
{
    char head_buf[1536];
    int n = body ? snprintf(head_buf, sizeof(head_buf),
                            "%s %s HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: %s\r\n"
                            "Content-Length: %zu\r\n\r\n",
                            method, target, c->url->host, c->url->port, SCEP_CT_PKI_MESSAGE, len)
                 : snprintf(head_buf, sizeof(head_buf), "%s ", method);
    if (n < 0 || (size_t)n >= sizeof(head_buf))
        return -1;
    if (body == NULL) { /* GET: the target can be long, send it apart */
        char tail[600];
        int m = snprintf(tail, sizeof(tail), " HTTP/1.1\r\nHost: %s:%s\r\n\r\n", c->url->host,
                         c->url->port);
        if (m < 0 || (size_t)m >= sizeof(tail))
            return -1;
        return send_all(c->fd, head_buf, (size_t)n) || send_all(c->fd, target, strlen(target)) ||
               send_all(c->fd, tail, (size_t)m);
    }
    return send_all(c->fd, head_buf, (size_t)n) || send_all(c->fd, body, len);
}

int bench_http(bench_conn *c, const char *method, const char *target, const unsigned char *body,
               size_t len, bench_reply *r, long *reconnects)
{
    memset(r, 0, sizeof(*r));
    for (int attempt = 0; attempt < 2; attempt++) {
        if (c->fd < 0 && bench_conn_connect(c) != 0)
            return -1;
        int reused = c->used, got = 0;
        /* A server over its limits answers 503 and closes before it reads the request: the
         * send may fail, and the answer is in the socket all the same. */
        int sent = send_request(c, method, target, body, len) == 0;
        if (read_reply(c, r, &got) == 0) {
            c->used = 1;
            if (!sent)
                bench_conn_close(c);
            return 0;
        }
        free(r->body);
        memset(r, 0, sizeof(*r));
        bench_conn_close(c);
        /* A keep-alive connection the server closed while idle: retry once on a new one. */
        if (!reused || got)
            return -1;
        (*reconnects)++;
    }
    return -1;
}
