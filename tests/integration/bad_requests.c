/*
 * Bad-input integration test: sends malformed HTTP and SCEP requests to a running scepd over
 * loopback and checks each answer against the rule:
 *
 * - an error found after the pkiMessage's signature verified is a signed CertRep FAILURE
 *   (HTTP 200, application/x-pki-message) with the right failInfo and a failInfoText;
 * - an error found before that is an HTTP 4xx with a short text/plain body;
 * - never an HTTP 500, a crash or a hang, and good requests still work afterwards (every case
 *   is followed by a GetCACaps that must succeed).
 *
 * usage: bad_requests [-v] [-k NAME] URL CA_DIR CHALLENGE
 *
 * URL is the server's SCEP URL ("http://127.0.0.1:PORT/scep", IPv4 or a name, no query),
 * CA_DIR the directory `scepd init` made (ca.pem, and ra.pem in RA mode), CHALLENGE the
 * server's challenge password. The server must run without legacy algorithms, with automatic
 * approval and with max_clock_skew set (the badTime case sends a two-day-old signingTime).
 * HTTP is spoken over plain sockets so that each case controls the bytes on the wire.
 * Prints "ok NAME" or "FAIL NAME: expected ..., got ..." per case (-v: what each answer was;
 * -k: only the cases whose name contains NAME) and exits 1 when any case failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "scep/scep.h"

/* How long one exchange may take before it counts as a hang. */
#define IO_TIMEOUT_MS 3000
/* "A short text/plain body". */
#define MAX_ERROR_BODY 512
/* What the request templates and oversize cases use. */
#define OVERSIZE_BODY (300u * 1024u)
#define LONG_QUERY (200u * 1024u)
/* Whether the server closes a connection the client half-closed is a race on its side: each
 * such case sends on this many connections at once, and every one must be closed or answered. */
#define HALF_CLOSE_COPIES 8
#define MAX_COPIES 8

#define OID_MESSAGE_TYPE "2.16.840.1.113733.1.9.2"
#define OID_SENDER_NONCE "2.16.840.1.113733.1.9.5"
#define OID_TRANSACTION_ID "2.16.840.1.113733.1.9.7"

/* ---- Byte buffers ------------------------------------------------------------------------- */

typedef struct buf {
    unsigned char *data;
    size_t len;
    size_t cap;
    int failed; /* an allocation failed: the content is incomplete */
} buf;

static void buf_add(buf *b, const void *p, size_t n)
{
    if (b->failed || n == 0)
        return;
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n)
            cap *= 2;
        unsigned char *grown = realloc(b->data, cap);
        if (grown == NULL) {
            b->failed = 1;
            return;
        }
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void buf_addf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void buf_addf(buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *text = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (text == NULL) {
        b->failed = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(text, (size_t)n + 1, fmt, ap);
    va_end(ap);
    buf_add(b, text, (size_t)n);
    free(text);
}

static void buf_fill(buf *b, int c, size_t n)
{
    char chunk[4096];
    memset(chunk, c, sizeof(chunk));
    for (size_t done = 0; done < n; done += sizeof(chunk))
        buf_add(b, chunk, n - done < sizeof(chunk) ? n - done : sizeof(chunk));
}

static void buf_free(buf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

/* ---- State -------------------------------------------------------------------------------- */

/* A client identity: a key and the self-signed certificate it signs requests with. */
typedef struct peer {
    EVP_PKEY *key;
    X509 *signer;
} peer;

/* One request on the wire, and who an answer in SCEP must be addressed to. */
typedef struct request {
    buf raw;
    int half_close; /* shut our side down once everything is sent */
    size_t copies;  /* connections sending it at once; 0 means 1 */
    int head;       /* a HEAD request: the answer has no body */
    const peer *from;
    const peer *owner; /* whose key the CSR holds, when not the signer's; NULL: from */
    char tid[256];     /* room for the over-long one */
    unsigned char nonce[SCEP_MAX_NONCE_BYTES];
    size_t nonce_len;
} request;

typedef struct suite {
    char host[256];
    char port[16];
    char hostport[300];
    char path[1024];
    const char *challenge;
    int verbose;
    scep_ctx *ctx;    /* what a current client allows */
    scep_ctx *legacy; /* to build the single-DES and MD5 requests */
    X509 *ca;
    X509 *ra;     /* NULL in CA mode */
    X509 *enc_to; /* where requests are encrypted to: the RA, else the CA */
    STACK_OF(X509) * trusted;
    peer a, b, small;
    peer foreign; /* A's key in a certificate B issued: not this CA's */
    X509_NAME *subject;
    /* Carried from one case to a later one. */
    char first_tid[256];
    ASN1_INTEGER *first_serial;
    request final;
    ASN1_INTEGER *final_serial;
    ASN1_INTEGER *copies_serial; /* the first certificate among simultaneous copies */
} suite;

/* What the server must answer. */
enum {
    HTTP_ANY_4XX = -1,       /* any 4xx, text/plain */
    HTTP_CLOSED_OR_4XX = -2, /* the connection closed without an answer, or a 4xx */
};
#define ANY_FAIL_INFO (-2)

enum expect_flag {
    REMEMBER_FIRST = 1u << 0, /* keep transactionID and serial for later cases */
    REMEMBER_FINAL = 1u << 1,
    SAME_AS_FINAL = 1u << 2,      /* the certificate must be the one REMEMBER_FINAL saw */
    SAME_ACROSS_COPIES = 1u << 7, /* every connection of the case gets the same certificate */
    CA_CERT_TYPE = 1u << 3,       /* GetCACert's content type for this server's mode */
    ALLOW_505 = 1u << 4,          /* an HTTP version the server does not speak */
    WANT_CRL = 1u << 5,           /* a SUCCESS carries the CA's CRL, not a certificate */
    /* An error libmicrohttpd answers itself before scepd sees the request (414, 431, 505, a
     * malformed header): the status must be right; its body is the library's. */
    HTTP_LAYER = 1u << 6,
    /* A FAILURE to a request whose transactionID / senderNonce was unusable: the CertRep omits
     * the transactionID / recipientNonce (and echoes the other). */
    NO_TID = 1u << 8,
    NO_RECIPIENT_NONCE = 1u << 9,
};

typedef struct expect {
    int http;         /* a status, HTTP_ANY_4XX or HTTP_CLOSED_OR_4XX */
    const char *type; /* content type of a 200 */
    int pki_status;   /* SCEP_STATUS_NONE when the answer is not a CertRep */
    int fail_info;    /* for FAILURE; ANY_FAIL_INFO */
    unsigned flags;
    const char *text; /* for FAILURE: what the failInfoText must contain; NULL: anything */
} expect;

#define WANT_HTTP(code)                                                                            \
    {                                                                                              \
        .http = (code), .pki_status = SCEP_STATUS_NONE                                             \
    }
#define WANT_HTTP_FLAGS(code, fl)                                                                  \
    {                                                                                              \
        .http = (code), .pki_status = SCEP_STATUS_NONE, .flags = (fl)                              \
    }
#define WANT_200(ctype)                                                                            \
    {                                                                                              \
        .http = 200, .type = (ctype), .pki_status = SCEP_STATUS_NONE                               \
    }
#define WANT_FAILURE(fi)                                                                           \
    {                                                                                              \
        .http = 200, .type = SCEP_CT_PKI_MESSAGE, .pki_status = SCEP_STATUS_FAILURE,               \
        .fail_info = (fi)                                                                          \
    }
/* A FAILURE to a signed request that was refused for what its attributes or content held. */
#define WANT_REFUSED(fi, fl, txt)                                                                  \
    {                                                                                              \
        .http = 200, .type = SCEP_CT_PKI_MESSAGE, .pki_status = SCEP_STATUS_FAILURE,               \
        .fail_info = (fi), .flags = (fl), .text = (txt)                                            \
    }
#define WANT_SUCCESS(fl)                                                                           \
    {                                                                                              \
        .http = 200, .type = SCEP_CT_PKI_MESSAGE, .pki_status = SCEP_STATUS_SUCCESS, .flags = (fl) \
    }

/* A pkiMessage built with libscep, as a client would. */
typedef enum who { WHO_DEFAULT = 0, WHO_A, WHO_B, WHO_SMALL, WHO_FOREIGN } who;
typedef enum challenge_kind { CHALLENGE_RIGHT = 0, CHALLENGE_WRONG, CHALLENGE_NONE } challenge_kind;
/* SERIAL_GIVEN: the serial of the certificate requests are encrypted to (below). */
typedef enum serial_kind { SERIAL_UNKNOWN = 0, SERIAL_FIRST, SERIAL_GIVEN } serial_kind;

typedef struct msg_spec {
    scep_msg_type type;
    who signer;  /* WHO_DEFAULT: A */
    who csr_key; /* PKCSReq: whose key the CSR holds; WHO_DEFAULT: the signer's */
    challenge_kind challenge;
    int empty_subject;
    int legacy;         /* build with the legacy context */
    scep_digest digest; /* NONE: SHA-256 */
    scep_cipher cipher; /* NONE: AES-128-CBC */
    int to_other_cert;  /* encrypt to B's certificate instead of the server's */
    int first_tid;      /* reuse first-enrollment's transactionID */
    serial_kind serial; /* GetCert, GetCRL */
    int foreign_issuer; /* GetCert, GetCRL: name B's certificate as the issuer, not the CA */
    /* GetCert, GetCRL: name the certificate requests are encrypted to as the issuer, as sscep
     * does with the certificate it was given (-c): the RA's subject in RA mode. */
    int given_issuer;
} msg_spec;

/* A pkiMessage built by hand, for what libscep refuses to build. Always signed by A. */
typedef enum payload_kind {
    PAYLOAD_CSR = 0,       /* A's CSR with the right challenge, in an envelope */
    PAYLOAD_BROKEN_CSR,    /* the same with its signature broken */
    PAYLOAD_JUNK,          /* text in an envelope */
    PAYLOAD_NONE,          /* no content at all */
    PAYLOAD_UNSEALED_JUNK, /* text where the envelope belongs */
} payload_kind;

typedef struct raw_spec {
    const char *type;  /* messageType text; NULL: omitted */
    const char *type2; /* a second messageType attribute; NULL: none */
    int tid_len;       /* 0: 32 random hex characters; -1: omitted */
    int nonce_len;     /* 0: 16 bytes; -1: omitted */
    payload_kind payload;
    long signing_time; /* seconds from now; 0: OpenSSL's (now) */
} raw_spec;

typedef struct bad_case bad_case;
typedef int (*build_fn)(suite *s, const bad_case *c, request *rq);

struct bad_case {
    const char *name;
    build_fn build;
    const char *raw;     /* send_raw: the request, with $P for the path and $H for host:port */
    const msg_spec *msg; /* send_post and friends */
    const raw_spec *cms; /* send_cms */
    expect want;
};

/* ---- Setup -------------------------------------------------------------------------------- */

static int parse_url(suite *s, const char *url)
{
    static const char scheme[] = "http://";
    if (strncmp(url, scheme, strlen(scheme)) != 0)
        return -1;
    const char *host = url + strlen(scheme);
    const char *slash = strchr(host, '/');
    size_t hp_len = slash ? (size_t)(slash - host) : strlen(host);
    const char *colon = memchr(host, ':', hp_len);
    if (colon == NULL || colon == host || hp_len >= sizeof(s->hostport) || strchr(url, '?') != NULL)
        return -1;
    size_t host_len = (size_t)(colon - host), port_len = hp_len - host_len - 1;
    if (host_len >= sizeof(s->host) || port_len == 0 || port_len >= sizeof(s->port))
        return -1;
    memcpy(s->host, host, host_len);
    memcpy(s->port, colon + 1, port_len);
    memcpy(s->hostport, host, hp_len);
    for (size_t i = 0; i < port_len; i++)
        if (s->port[i] < '0' || s->port[i] > '9')
            return -1;
    const char *path = slash ? slash : "/";
    if (strlen(path) >= sizeof(s->path))
        return -1;
    memcpy(s->path, path, strlen(path) + 1);
    return 0;
}

static X509 *read_cert(const char *dir, const char *file)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return NULL;
    X509 *cert = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    return cert;
}

static X509_NAME *name_cn(const char *cn)
{
    X509_NAME *n = X509_NAME_new();
    if (n == NULL ||
        !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) ||
        !X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8, (const unsigned char *)"scep tests", -1,
                                    -1, 0)) {
        X509_NAME_free(n);
        return NULL;
    }
    return n;
}

static int peer_new(const suite *s, peer *p, unsigned bits, const char *cn)
{
    p->key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
    X509_NAME *name = name_cn(cn);
    int ok =
        p->key != NULL && name != NULL &&
        scep_selfsigned_signer(s->ctx, p->key, name, 1, SCEP_DIGEST_SHA256, &p->signer) == SCEP_OK;
    X509_NAME_free(name);
    return ok ? 0 : -1;
}

/* A's key in a certificate B issued: what a client of another CA would sign a renewal with. */
static int foreign_new(suite *s)
{
    X509 *cert = X509_new();
    s->foreign.signer = cert;
    s->foreign.key = EVP_PKEY_up_ref(s->a.key) ? s->a.key : NULL;
    return cert != NULL && s->foreign.key != NULL && X509_set_version(cert, X509_VERSION_3) &&
                   ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert), 4242) &&
                   X509_set_issuer_name(cert, X509_get_subject_name(s->b.signer)) &&
                   X509_set_subject_name(cert, s->subject) &&
                   X509_gmtime_adj(X509_getm_notBefore(cert), -3600) &&
                   X509_gmtime_adj(X509_getm_notAfter(cert), 86400) &&
                   X509_set_pubkey(cert, s->a.key) && X509_sign(cert, s->b.key, EVP_sha256()) > 0
               ? 0
               : -1;
}

static void peer_free(peer *p)
{
    EVP_PKEY_free(p->key);
    X509_free(p->signer);
}

static int load_ca(suite *s, const char *dir)
{
    s->ca = read_cert(dir, "ca.pem");
    s->ra = read_cert(dir, "ra.pem");
    s->enc_to = s->ra ? s->ra : s->ca;
    s->trusted = sk_X509_new_null();
    if (s->ca == NULL || s->trusted == NULL || !sk_X509_push(s->trusted, s->ca))
        return -1;
    return s->ra == NULL || sk_X509_push(s->trusted, s->ra) ? 0 : -1;
}

static int suite_init(suite *s, const char *url, const char *dir, const char *challenge)
{
    scep_ctx_options legacy = {.allow_legacy = 1};
    s->challenge = challenge;
    if (parse_url(s, url) != 0) {
        fprintf(stderr, "bad_requests: URL must be http://HOST:PORT/PATH, not '%s'\n", url);
        return -1;
    }
    if (load_ca(s, dir) != 0) {
        fprintf(stderr, "bad_requests: cannot read %s/ca.pem\n", dir);
        return -1;
    }
    s->subject = name_cn("bad-requests.example");
    if (scep_ctx_new(NULL, &s->ctx) != SCEP_OK || scep_ctx_new(&legacy, &s->legacy) != SCEP_OK ||
        s->subject == NULL || peer_new(s, &s->a, 2048, "client A") != 0 ||
        peer_new(s, &s->b, 2048, "client B") != 0 ||
        peer_new(s, &s->small, 1024, "client small") != 0 || foreign_new(s) != 0) {
        fprintf(stderr, "bad_requests: cannot make the client keys\n");
        ERR_print_errors_fp(stderr);
        return -1;
    }
    return 0;
}

static void suite_free(suite *s)
{
    scep_ctx_free(s->ctx);
    scep_ctx_free(s->legacy);
    X509_free(s->ca);
    X509_free(s->ra);
    sk_X509_free(s->trusted);
    peer_free(&s->a);
    peer_free(&s->b);
    peer_free(&s->small);
    peer_free(&s->foreign);
    X509_NAME_free(s->subject);
    ASN1_INTEGER_free(s->first_serial);
    ASN1_INTEGER_free(s->final_serial);
    ASN1_INTEGER_free(s->copies_serial);
    buf_free(&s->final.raw);
}

/* ---- HTTP over a plain socket ------------------------------------------------------------- */

typedef struct answer {
    int got; /* a status line arrived */
    int timed_out;
    int status;
    char type[128];
    buf body;
    char error[512]; /* a local problem (could not connect) */
} answer;

static int connect_to(const suite *s)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    if (getaddrinfo(s->host, s->port, &hints, &ai) != 0)
        return -1;
    int fd = -1;
    for (struct addrinfo *p = ai; p != NULL && fd < 0; p = p->ai_next) {
        fd = socket(p->ai_family, p->ai_socktype, p->ai_protocol);
        if (fd >= 0 && connect(fd, p->ai_addr, p->ai_addrlen) != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(ai);
    if (fd >= 0 && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Where the header block ends (after its blank line); 0 when it has not all arrived. */
static size_t header_end(const buf *in)
{
    for (size_t i = 0; i + 4 <= in->len; i++)
        if (memcmp(in->data + i, "\r\n\r\n", 4) == 0)
            return i + 4;
    return 0;
}

static int parse_status_line(const unsigned char *p, size_t n, int *status)
{
    if (n < 12 || memcmp(p, "HTTP/", 5) != 0)
        return -1;
    const unsigned char *sp = memchr(p, ' ', n);
    if (sp == NULL || (size_t)(sp - p) + 4 > n)
        return -1;
    int v = 0;
    for (int i = 1; i <= 3; i++) {
        if (sp[i] < '0' || sp[i] > '9')
            return -1;
        v = v * 10 + (sp[i] - '0');
    }
    *status = v;
    return 0;
}

/* One header line: Content-Type into a, Content-Length into *length. */
static void parse_header(const char *line, size_t n, answer *a, long long *length)
{
    static const char ct[] = "content-type:", cl[] = "content-length:";
    char value[128];
    const char *colon = memchr(line, ':', n);
    if (colon == NULL)
        return;
    size_t skip = (size_t)(colon - line) + 1;
    while (skip < n && line[skip] == ' ')
        skip++;
    size_t vlen = n - skip < sizeof(value) - 1 ? n - skip : sizeof(value) - 1;
    memcpy(value, line + skip, vlen);
    value[vlen] = '\0';
    if (n >= strlen(ct) && strncasecmp(line, ct, strlen(ct)) == 0)
        memcpy(a->type, value, vlen + 1);
    if (n >= strlen(cl) && strncasecmp(line, cl, strlen(cl)) == 0) {
        char *end = NULL;
        long long v = strtoll(value, &end, 10);
        *length = end != value && v >= 0 ? v : -1;
    }
}

/* Reads the status line and headers; returns the end of the header block, or 0. */
static size_t parse_head(const buf *in, answer *a, long long *length)
{
    *length = -1;
    size_t end = header_end(in);
    if (end == 0 || parse_status_line(in->data, end, &a->status) != 0)
        return 0;
    const char *p = (const char *)in->data;
    size_t line = 0;
    while (line < end - 2) {
        const char *eol = memchr(p + line, '\n', end - line);
        size_t next = (size_t)(eol - p) + 1, len = next - line - 1;
        if (len > 0 && p[line + len - 1] == '\r')
            len--;
        if (line > 0)
            parse_header(p + line, len, a, length);
        line = next;
    }
    return end;
}

static int answer_complete(const buf *in, int head)
{
    answer scratch = {0};
    long long length;
    size_t end = parse_head(in, &scratch, &length);
    if (end == 0)
        return 0;
    return head || (length >= 0 && in->len - end >= (unsigned long long)length);
}

static void finish_answer(const buf *in, int head, answer *a)
{
    long long length;
    size_t end = parse_head(in, a, &length);
    if (end == 0)
        return;
    a->got = 1;
    size_t avail = in->len - end;
    size_t take = length >= 0 && (unsigned long long)length < avail ? (size_t)length : avail;
    if (!head)
        buf_add(&a->body, in->data + end, take);
}

/* One connection of an exchange. */
typedef struct conn {
    int fd;
    size_t sent;
    int sending;
    int done; /* answered, closed or reset */
    buf in;
} conn;

/* Sends what is left and reads what came. */
static void pump(conn *c, short revents, const request *rq)
{
    if (revents & (POLLIN | POLLHUP | POLLERR)) {
        unsigned char chunk[16384];
        ssize_t r = recv(c->fd, chunk, sizeof(chunk), 0);
        if (r > 0)
            buf_add(&c->in, chunk, (size_t)r);
        else if (r == 0 || (errno != EAGAIN && errno != EINTR))
            c->done = 1;
    }
    if (!c->done && c->sending && (revents & POLLOUT)) {
        ssize_t w = send(c->fd, rq->raw.data + c->sent, rq->raw.len - c->sent, MSG_NOSIGNAL);
        if (w > 0)
            c->sent += (size_t)w;
        else if (w < 0 && errno != EAGAIN && errno != EINTR)
            c->sending = 0; /* the server stopped reading: see what it answered */
    }
    if (c->sending && c->sent == rq->raw.len) {
        c->sending = 0;
        if (rq->half_close)
            shutdown(c->fd, SHUT_WR);
    }
    if (answer_complete(&c->in, rq->head))
        c->done = 1;
}

static void open_conns(const suite *s, const request *rq, conn *c, answer *a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        c[i] = (conn){.fd = connect_to(s), .sending = 1};
        if (c[i].fd < 0) {
            snprintf(a[i].error, sizeof(a[i].error), "cannot connect to %s: %s", s->hostport,
                     strerror(errno));
            c[i].done = 1;
        } else {
            pump(&c[i], 0, rq); /* an empty request: half-close at once */
        }
    }
}

/* Sends rq on n connections at once and reads their answers into a[0..n), all within
 * IO_TIMEOUT_MS. */
static void exchange(const suite *s, const request *rq, answer *a, size_t n)
{
    conn c[MAX_COPIES];
    struct pollfd p[MAX_COPIES];
    size_t which[MAX_COPIES];
    open_conns(s, rq, c, a, n);
    long long deadline = now_ms() + IO_TIMEOUT_MS;
    for (;;) {
        nfds_t k = 0;
        for (size_t i = 0; i < n; i++) {
            if (c[i].done)
                continue;
            p[k] = (struct pollfd){c[i].fd, (short)(POLLIN | (c[i].sending ? POLLOUT : 0)), 0};
            which[k++] = i;
        }
        long long left = deadline - now_ms();
        int ready = k > 0 && left > 0 ? poll(p, k, (int)left) : 0;
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready <= 0)
            break;
        for (nfds_t j = 0; j < k; j++)
            if (p[j].revents != 0)
                pump(&c[which[j]], p[j].revents, rq);
    }
    for (size_t i = 0; i < n; i++) {
        if (c[i].fd >= 0) {
            a[i].timed_out = !c[i].done;
            close(c[i].fd);
            finish_answer(&c[i].in, rq->head, &a[i]);
        }
        buf_free(&c[i].in);
    }
}

/* ---- Requests ----------------------------------------------------------------------------- */

static void add_get(const suite *s, request *rq, const char *path_and_query)
{
    buf_addf(&rq->raw, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", path_and_query,
             s->hostport);
}

static void add_post_head(const suite *s, request *rq, unsigned long long length)
{
    buf_addf(&rq->raw,
             "POST %s?operation=PKIOperation HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\n"
             "Content-Length: %llu\r\nConnection: close\r\n\r\n",
             s->path, s->hostport, SCEP_CT_PKI_MESSAGE, length);
}

static void add_post(const suite *s, request *rq, const void *body, size_t len)
{
    add_post_head(s, rq, len);
    buf_add(&rq->raw, body, len);
}

/* The template with $P replaced by the path and $H by host:port. */
static int send_raw(suite *s, const bad_case *c, request *rq)
{
    for (const char *p = c->raw; *p != '\0'; p++) {
        if (p[0] == '$' && p[1] == 'P')
            buf_add(&rq->raw, s->path, strlen(s->path));
        else if (p[0] == '$' && p[1] == 'H')
            buf_add(&rq->raw, s->hostport, strlen(s->hostport));
        else {
            buf_add(&rq->raw, p, 1);
            continue;
        }
        p++;
    }
    return 0;
}

static const peer *peer_of(const suite *s, who w, const peer *dflt)
{
    switch (w) {
    case WHO_A:
        return &s->a;
    case WHO_B:
        return &s->b;
    case WHO_SMALL:
        return &s->small;
    case WHO_FOREIGN:
        return &s->foreign;
    default:
        return dflt;
    }
}

/* A fresh senderNonce, and a fresh random transactionID of tid_len characters unless one is
 * given. */
static int new_ids(request *rq, const char *tid, size_t tid_len, size_t nonce_len)
{
    static const char hex[] = "0123456789ABCDEF";
    unsigned char r[sizeof(rq->tid) / 2];
    if (nonce_len > sizeof(rq->nonce) || tid_len >= sizeof(rq->tid))
        return -1;
    rq->nonce_len = nonce_len;
    if (RAND_bytes(rq->nonce, (int)nonce_len) != 1 || RAND_bytes(r, sizeof(r)) != 1)
        return -1;
    if (tid != NULL) {
        snprintf(rq->tid, sizeof(rq->tid), "%s", tid);
        return 0;
    }
    for (size_t i = 0; i < tid_len; i++)
        rq->tid[i] = hex[(r[i / 2] >> (i % 2 ? 0 : 4)) & 15];
    rq->tid[tid_len] = '\0';
    return 0;
}

static X509_REQ *make_csr(const suite *s, const peer *p, challenge_kind ch, int empty_subject)
{
    const char *pw = ch == CHALLENGE_RIGHT   ? s->challenge
                     : ch == CHALLENGE_WRONG ? "not-the-challenge"
                                             : NULL;
    scep_csr_params cp = {.subject = empty_subject ? NULL : s->subject,
                          .challenge_password = pw,
                          .digest = SCEP_DIGEST_SHA256};
    X509_REQ *csr = NULL;
    return scep_csr_build(s->ctx, p->key, &cp, &csr) == SCEP_OK ? csr : NULL;
}

/* The serial first-enrollment got, or one this CA never issued (it draws random ones). */
static ASN1_INTEGER *make_serial(const suite *s, serial_kind kind)
{
    if (kind == SERIAL_FIRST)
        return s->first_serial ? ASN1_INTEGER_dup(s->first_serial) : NULL;
    if (kind == SERIAL_GIVEN)
        return ASN1_INTEGER_dup(X509_get0_serialNumber(s->enc_to));
    ASN1_INTEGER *serial = ASN1_INTEGER_new();
    if (serial != NULL && !ASN1_INTEGER_set_uint64(serial, 0x5eed0bad1dULL)) {
        ASN1_INTEGER_free(serial);
        serial = NULL;
    }
    return serial;
}

/* What a request type carries, made for the spec; the caller frees csr and serial. */
typedef struct payload_parts {
    X509_REQ *csr;
    ASN1_INTEGER *serial;
    unsigned char recipient_nonce[SCEP_NONCE_BYTES];
} payload_parts;

static int fill_payload(const suite *s, const msg_spec *m, const request *rq, scep_msg_params *p,
                        payload_parts *parts)
{
    p->issuer = X509_get_subject_name(m->foreign_issuer ? s->b.signer
                                      : m->given_issuer ? s->enc_to
                                                        : s->ca);
    p->subject = s->subject;
    switch (m->type) {
    case SCEP_MSG_PKCS_REQ:
    case SCEP_MSG_RENEWAL_REQ:
        parts->csr = make_csr(s, peer_of(s, m->csr_key, rq->from), m->challenge, m->empty_subject);
        p->csr = parts->csr;
        return parts->csr ? 0 : -1;
    case SCEP_MSG_GET_CERT:
    case SCEP_MSG_GET_CRL:
        parts->serial = make_serial(s, m->serial);
        p->serial = parts->serial;
        return parts->serial ? 0 : -1;
    case SCEP_MSG_CERT_REP:
        p->status = SCEP_STATUS_FAILURE;
        p->fail_info = SCEP_FAIL_BAD_REQUEST;
        p->fail_info_text = "a client does not send CertReps";
        p->recipient_nonce = parts->recipient_nonce;
        p->recipient_nonce_len = sizeof(parts->recipient_nonce);
        return RAND_bytes(parts->recipient_nonce, sizeof(parts->recipient_nonce)) == 1 ? 0 : -1;
    default:
        return 0;
    }
}

/* Builds the spec's pkiMessage with libscep into der; sets rq's requester and ids. */
static int encode_spec(suite *s, const msg_spec *m, request *rq, buf *der)
{
    rq->from = peer_of(s, m->signer, &s->a);
    rq->owner = peer_of(s, m->csr_key, rq->from);
    if (m->first_tid && s->first_tid[0] == '\0')
        return -1; /* first-enrollment did not succeed */
    if (new_ids(rq, m->first_tid ? s->first_tid : NULL, 32, SCEP_NONCE_BYTES) != 0)
        return -1;
    scep_msg_params p = {.type = m->type,
                         .transaction_id = rq->tid,
                         .sender_nonce = rq->nonce,
                         .sender_nonce_len = rq->nonce_len,
                         .signer_cert = rq->from->signer,
                         .signer_key = rq->from->key,
                         .digest = m->digest ? m->digest : SCEP_DIGEST_SHA256,
                         .recipient_cert = m->to_other_cert ? s->b.signer : s->enc_to,
                         .cipher = m->cipher ? m->cipher : SCEP_CIPHER_AES128_CBC};
    payload_parts parts = {0};
    unsigned char *out = NULL;
    size_t len = 0;
    int rc = fill_payload(s, m, rq, &p, &parts);
    if (rc == 0 && scep_msg_encode(m->legacy ? s->legacy : s->ctx, &p, &out, &len) != SCEP_OK)
        rc = -1;
    if (rc == 0)
        buf_add(der, out, len);
    OPENSSL_free(out);
    X509_REQ_free(parts.csr);
    ASN1_INTEGER_free(parts.serial);
    return rc;
}

static int send_post(suite *s, const bad_case *c, request *rq)
{
    buf der = {0};
    int rc = encode_spec(s, c->msg, rq, &der);
    if (rc == 0)
        add_post(s, rq, der.data, der.len);
    buf_free(&der);
    return rc;
}

static int send_get(suite *s, const bad_case *c, request *rq)
{
    buf der = {0};
    char *url = NULL;
    int rc = encode_spec(s, c->msg, rq, &der);
    if (rc == 0 &&
        scep_http_build_get_url(s->path, SCEP_OP_PKI_OPERATION, der.data, der.len, &url) != SCEP_OK)
        rc = -1;
    if (rc == 0)
        add_get(s, rq, url);
    free(url);
    buf_free(&der);
    return rc;
}

/* Some clients POST the base64 text instead of the DER. */
static int send_post_base64(suite *s, const bad_case *c, request *rq)
{
    buf der = {0};
    int rc = encode_spec(s, c->msg, rq, &der);
    unsigned char *text = rc == 0 ? malloc((der.len + 2) / 3 * 4 + 1) : NULL;
    if (text != NULL) {
        int n = EVP_EncodeBlock(text, der.data, (int)der.len);
        add_post(s, rq, text, n > 0 ? (size_t)n : 0);
    }
    free(text);
    buf_free(&der);
    return text != NULL ? 0 : -1;
}

/* One new PKCSReq sent on MAX_COPIES connections at once: the server must issue once and give
 * every copy the same certificate (RFC 8894 section 3.3.1: same transaction, same answer). */
static int send_simultaneous(suite *s, const bad_case *c, request *rq)
{
    ASN1_INTEGER_free(s->copies_serial);
    s->copies_serial = NULL;
    rq->copies = MAX_COPIES;
    return send_post(s, c, rq);
}

/* The final enrollment, kept so that a later case can send the very same bytes again. */
static int send_final(suite *s, const bad_case *c, request *rq)
{
    if (send_post(s, c, rq) != 0)
        return -1;
    buf_free(&s->final.raw);
    s->final = *rq;
    s->final.raw = (buf){0};
    buf_add(&s->final.raw, rq->raw.data, rq->raw.len);
    return s->final.raw.failed ? -1 : 0;
}

static int send_final_again(suite *s, const bad_case *c, request *rq)
{
    (void)c;
    if (s->final.raw.len == 0)
        return -1;
    *rq = s->final;
    rq->raw = (buf){0};
    buf_add(&rq->raw, s->final.raw.data, s->final.raw.len);
    return 0;
}

/* ---- Hand-made pkiMessages ---------------------------------------------------------------- */

/* An EnvelopedData of data to recipient, AES-128-CBC. */
static int seal(const unsigned char *data, size_t len, X509 *recipient, buf *out)
{
    STACK_OF(X509) *to = sk_X509_new_null();
    BIO *in = BIO_new_mem_buf(data, (int)len);
    CMS_ContentInfo *cms = NULL;
    unsigned char *der = NULL;
    int n = 0;
    if (to != NULL && in != NULL && sk_X509_push(to, recipient))
        cms = CMS_encrypt(to, in, EVP_aes_128_cbc(), CMS_BINARY);
    if (cms != NULL)
        n = i2d_CMS_ContentInfo(cms, &der);
    if (n > 0)
        buf_add(out, der, (size_t)n);
    OPENSSL_free(der);
    CMS_ContentInfo_free(cms);
    BIO_free(in);
    sk_X509_free(to);
    return n > 0 ? 0 : -1;
}

static int csr_der(const suite *s, buf *out, int break_signature)
{
    X509_REQ *csr = make_csr(s, &s->a, CHALLENGE_RIGHT, 0);
    unsigned char *der = NULL;
    int n = csr ? i2d_X509_REQ(csr, &der) : 0;
    if (n > 0 && break_signature)
        der[n - 1] ^= 0x01; /* the last byte belongs to the signature BIT STRING */
    if (n > 0)
        buf_add(out, der, (size_t)n);
    OPENSSL_free(der);
    X509_REQ_free(csr);
    return n > 0 ? 0 : -1;
}

static int make_content(const suite *s, payload_kind kind, buf *out)
{
    static const char junk[] = "this is not a certificate request";
    buf inner = {0};
    int rc = 0;
    switch (kind) {
    case PAYLOAD_NONE:
        return 0;
    case PAYLOAD_UNSEALED_JUNK:
        buf_add(out, junk, strlen(junk));
        return 0;
    case PAYLOAD_JUNK:
        buf_add(&inner, junk, strlen(junk));
        break;
    default:
        rc = csr_der(s, &inner, kind == PAYLOAD_BROKEN_CSR);
        break;
    }
    if (rc == 0)
        rc = seal(inner.data, inner.len, s->enc_to, out);
    buf_free(&inner);
    return rc;
}

static int add_signing_time(CMS_SignerInfo *si, long offset)
{
    ASN1_TIME *t = ASN1_TIME_adj(NULL, time(NULL), 0, offset);
    int ok = t != NULL && CMS_signed_add1_attr_by_NID(si, NID_pkcs9_signingTime,
                                                      ASN1_STRING_type(t), t, -1) == 1;
    ASN1_TIME_free(t);
    return ok;
}

static int add_attributes(CMS_SignerInfo *si, const raw_spec *r, const request *rq)
{
    int ok = 1;
    /* Explicit lengths: with -1, OpenSSL takes the data for an ASN1_STRING object. */
    if (r->type != NULL)
        ok = CMS_signed_add1_attr_by_txt(si, OID_MESSAGE_TYPE, V_ASN1_PRINTABLESTRING, r->type,
                                         (int)strlen(r->type)) == 1;
    if (ok && r->type2 != NULL)
        ok = CMS_signed_add1_attr_by_txt(si, OID_MESSAGE_TYPE, V_ASN1_PRINTABLESTRING, r->type2,
                                         (int)strlen(r->type2)) == 1;
    if (ok && r->tid_len >= 0)
        ok = CMS_signed_add1_attr_by_txt(si, OID_TRANSACTION_ID, V_ASN1_PRINTABLESTRING, rq->tid,
                                         (int)strlen(rq->tid)) == 1;
    if (ok && r->nonce_len >= 0)
        ok = CMS_signed_add1_attr_by_txt(si, OID_SENDER_NONCE, V_ASN1_OCTET_STRING, rq->nonce,
                                         (int)rq->nonce_len) == 1;
    if (ok && r->signing_time != 0)
        ok = add_signing_time(si, r->signing_time);
    return ok;
}

/* A SignedData over content with the spec's attributes, signed by rq's requester. */
static int sign_raw(const raw_spec *r, const request *rq, const buf *content, buf *out)
{
    unsigned flags = CMS_PARTIAL | CMS_BINARY | CMS_NOSMIMECAP;
    CMS_ContentInfo *cms = CMS_sign(NULL, NULL, NULL, NULL, flags);
    CMS_SignerInfo *si =
        cms ? CMS_add1_signer(cms, rq->from->signer, rq->from->key, EVP_sha256(), flags) : NULL;
    BIO *in = BIO_new_mem_buf(content->len ? (const void *)content->data : "", (int)content->len);
    unsigned char *der = NULL;
    int n = 0;
    if (si != NULL && in != NULL && add_attributes(si, r, rq) &&
        CMS_final(cms, in, NULL, CMS_BINARY) == 1)
        n = i2d_CMS_ContentInfo(cms, &der);
    if (n > 0)
        buf_add(out, der, (size_t)n);
    OPENSSL_free(der);
    BIO_free(in);
    CMS_ContentInfo_free(cms);
    return n > 0 ? 0 : -1;
}

static int send_cms(suite *s, const bad_case *c, request *rq)
{
    const raw_spec *r = c->cms;
    rq->from = &s->a;
    size_t tid_len = r->tid_len > 0 ? (size_t)r->tid_len : 32;
    size_t nonce_len = r->nonce_len > 0 ? (size_t)r->nonce_len : SCEP_NONCE_BYTES;
    buf content = {0}, der = {0};
    int rc = new_ids(rq, NULL, tid_len, nonce_len);
    if (rc == 0)
        rc = make_content(s, r->payload, &content);
    if (rc == 0)
        rc = sign_raw(r, rq, &content, &der);
    if (rc == 0)
        add_post(s, rq, der.data, der.len);
    buf_free(&content);
    buf_free(&der);
    return rc;
}

/* ---- Malformed bodies around a valid pkiMessage ------------------------------------------- */

/* A valid PKCSReq with a wrong challenge: if it were accepted, the answer would say FAILURE. */
static int valid_message(suite *s, request *rq, buf *der)
{
    static const msg_spec m = {.type = SCEP_MSG_PKCS_REQ, .challenge = CHALLENGE_WRONG};
    return encode_spec(s, &m, rq, der);
}

static int send_truncated(suite *s, const bad_case *c, request *rq)
{
    (void)c;
    buf der = {0};
    int rc = valid_message(s, rq, &der);
    if (rc == 0)
        add_post(s, rq, der.data, der.len / 2);
    buf_free(&der);
    return rc;
}

static int send_trailing_garbage(suite *s, const bad_case *c, request *rq)
{
    (void)c;
    buf der = {0};
    int rc = valid_message(s, rq, &der);
    buf_add(&der, "GARBAGE", 7);
    if (rc == 0)
        add_post(s, rq, der.data, der.len);
    buf_free(&der);
    return rc;
}

/* Flips the last byte (the signature value). */
static int send_flipped(suite *s, request *rq)
{
    buf der = {0};
    int rc = valid_message(s, rq, &der);
    if (rc == 0 && der.len > 0) {
        der.data[der.len - 1] ^= 0x40;
        add_post(s, rq, der.data, der.len);
    }
    buf_free(&der);
    return rc;
}

static int send_tampered_signature(suite *s, const bad_case *c, request *rq)
{
    (void)c;
    return send_flipped(s, rq);
}

/* Flips the middle byte of the part of der that is the same as part (once), or fails. */
static int flip_inside(buf *der, const unsigned char *part, size_t part_len)
{
    for (size_t i = 0; part_len > 0 && i + part_len <= der->len; i++)
        if (memcmp(der->data + i, part, part_len) == 0) {
            der->data[i + part_len / 2] ^= 0x01;
            return 0;
        }
    return -1;
}

/* The envelope changed after signing: the signed attributes still verify, but their
 * messageDigest no longer matches the content. */
static int send_tampered_content(suite *s, const bad_case *c, request *rq)
{
    (void)c;
    buf der = {0};
    int rc = valid_message(s, rq, &der);
    const unsigned char *p = der.data;
    CMS_ContentInfo *cms = rc == 0 ? d2i_CMS_ContentInfo(NULL, &p, (long)der.len) : NULL;
    ASN1_OCTET_STRING **content = cms ? CMS_get0_content(cms) : NULL;
    rc = content && *content ? flip_inside(&der, ASN1_STRING_get0_data(*content),
                                           (size_t)ASN1_STRING_length(*content))
                             : -1;
    if (rc == 0)
        add_post(s, rq, der.data, der.len);
    CMS_ContentInfo_free(cms);
    buf_free(&der);
    return rc;
}

/* A signed attribute (the transactionID) changed after signing: nothing verifies. */
static int send_tampered_attribute(suite *s, const bad_case *c, request *rq)
{
    (void)c;
    buf der = {0};
    int rc = valid_message(s, rq, &der);
    if (rc == 0)
        rc = flip_inside(&der, (const unsigned char *)rq->tid, strlen(rq->tid));
    if (rc == 0)
        add_post(s, rq, der.data, der.len);
    buf_free(&der);
    return rc;
}

/* Content declared longer than what is sent, then our side closes. */
static int send_short_body(suite *s, const bad_case *c, request *rq)
{
    (void)c;
    buf der = {0};
    int rc = valid_message(s, rq, &der);
    if (rc == 0) {
        add_post_head(s, rq, der.len);
        buf_add(&rq->raw, der.data, der.len / 2);
        rq->half_close = 1;
        rq->copies = HALF_CLOSE_COPIES;
    }
    buf_free(&der);
    return rc;
}

static int send_enveloped(suite *s, const bad_case *c, request *rq)
{
    (void)c;
    buf csr = {0}, env = {0};
    int rc = csr_der(s, &csr, 0);
    if (rc == 0)
        rc = seal(csr.data, csr.len, s->enc_to, &env);
    if (rc == 0)
        add_post(s, rq, env.data, env.len);
    buf_free(&csr);
    buf_free(&env);
    return rc;
}

static int send_certs_only(suite *s, const bad_case *c, request *rq)
{
    (void)c;
    unsigned char *der = NULL;
    size_t len = 0;
    if (scep_certs_only_encode(s->ctx, s->trusted, NULL, &der, &len) != SCEP_OK)
        return -1;
    add_post(s, rq, der, len);
    OPENSSL_free(der);
    return 0;
}

static int send_message_twice(suite *s, const bad_case *c, request *rq)
{
    (void)c;
    buf der = {0};
    char *url = NULL;
    int rc = valid_message(s, rq, &der);
    if (rc == 0 &&
        scep_http_build_get_url(s->path, SCEP_OP_PKI_OPERATION, der.data, der.len, &url) != SCEP_OK)
        rc = -1;
    const char *msg = rc == 0 ? strstr(url, "&message=") : NULL;
    if (msg != NULL) {
        buf_addf(&rq->raw, "GET %s%s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", url, msg,
                 s->hostport);
    }
    free(url);
    buf_free(&der);
    return msg != NULL ? 0 : -1;
}

/* ---- Oversize and odd HTTP ---------------------------------------------------------------- */

static int send_empty_post(suite *s, const bad_case *c, request *rq)
{
    (void)c;
    add_post(s, rq, "", 0);
    return 0;
}

static int send_oversize_body(suite *s, const bad_case *c, request *rq)
{
    (void)c;
    add_post_head(s, rq, OVERSIZE_BODY);
    buf_fill(&rq->raw, 0xc1, OVERSIZE_BODY); /* neither base64 nor DER */
    return 0;
}

static int send_oversize_chunked(suite *s, const bad_case *c, request *rq)
{
    (void)c;
    buf_addf(&rq->raw,
             "POST %s?operation=PKIOperation HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\n"
             "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
             s->path, s->hostport, SCEP_CT_PKI_MESSAGE);
    for (size_t done = 0; done < OVERSIZE_BODY; done += 16384) {
        buf_addf(&rq->raw, "4000\r\n");
        buf_fill(&rq->raw, 0xc1, 16384);
        buf_addf(&rq->raw, "\r\n");
    }
    buf_addf(&rq->raw, "0\r\n\r\n");
    return 0;
}

/* 100 MB declared, 1 KiB sent: the server must answer without waiting for the rest. */
static int send_huge_declared(suite *s, const bad_case *c, request *rq)
{
    (void)c;
    add_post_head(s, rq, 100ull * 1000 * 1000);
    buf_fill(&rq->raw, 0xc1, 1024);
    return 0;
}

static int send_long_query(suite *s, const bad_case *c, request *rq)
{
    (void)c;
    buf_addf(&rq->raw, "GET %s?operation=GetCACaps&pad=", s->path);
    buf_fill(&rq->raw, 'x', LONG_QUERY);
    buf_addf(&rq->raw, " HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", s->hostport);
    return 0;
}

static int send_long_header(suite *s, const bad_case *c, request *rq)
{
    (void)c;
    buf_addf(&rq->raw, "GET %s?operation=GetCACaps HTTP/1.1\r\nHost: %s\r\nX-Pad: ", s->path,
             s->hostport);
    buf_fill(&rq->raw, 'x', LONG_QUERY);
    buf_addf(&rq->raw, "\r\nConnection: close\r\n\r\n");
    return 0;
}

/* 300 fixed pseudo-random bytes (the same every run) and an end of headers. */
static int send_garbage_line(suite *s, const bad_case *c, request *rq)
{
    (void)s;
    (void)c;
    unsigned char junk[300];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof(junk); i++) {
        x = x * 1103515245u + 12345u;
        junk[i] = (unsigned char)(x >> 16);
        if (junk[i] == '\r' || junk[i] == '\n')
            junk[i] = 0xff;
    }
    buf_add(&rq->raw, junk, sizeof(junk));
    buf_addf(&rq->raw, "\r\n\r\n");
    return 0;
}

static int send_nul_line(suite *s, const bad_case *c, request *rq)
{
    (void)c;
    static const char nul_line[] = "GET /sc\0ep?operation=GetCACaps HTTP/1.1\r\n";
    buf_add(&rq->raw, nul_line, sizeof(nul_line) - 1);
    buf_addf(&rq->raw, "Host: %s\r\nConnection: close\r\n\r\n", s->hostport);
    return 0;
}

/* The start of a TLS ClientHello, as a client configured for https would send. */
static int send_tls_hello(suite *s, const bad_case *c, request *rq)
{
    (void)s;
    (void)c;
    static const unsigned char hello[] = {0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00,
                                          0xa1, 0x03, 0x03, 0x5e, 0xed, 0x00, 0x01, 0x02};
    buf_add(&rq->raw, hello, sizeof(hello));
    rq->half_close = 1;
    rq->copies = HALF_CLOSE_COPIES;
    return 0;
}

static int send_head(suite *s, const bad_case *c, request *rq)
{
    rq->head = 1;
    return send_raw(s, c, rq);
}

static int send_half_closed(suite *s, const bad_case *c, request *rq)
{
    rq->half_close = 1;
    rq->copies = HALF_CLOSE_COPIES;
    return send_raw(s, c, rq);
}

/* ---- Checks ------------------------------------------------------------------------------- */

static void printable(const unsigned char *p, size_t n, char *out, size_t outlen)
{
    size_t k = 0;
    while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r'))
        n--;
    for (size_t i = 0; i < n && k + 4 < outlen; i++)
        out[k++] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '.';
    if (k < n) /* cut short */
        for (int i = 0; i < 3; i++)
            out[k++] = '.';
    out[k] = '\0';
}

static void describe_http(const answer *a, char *out, size_t n)
{
    char body[100];
    printable(a->body.data, a->body.len, body, sizeof(body));
    if (a->error[0] != '\0')
        snprintf(out, n, "%.300s", a->error);
    else if (!a->got && a->timed_out)
        snprintf(out, n, "no answer within %d s", IO_TIMEOUT_MS / 1000);
    else if (!a->got)
        snprintf(out, n, "the connection closed without an answer");
    else
        snprintf(out, n, "HTTP %d %s, %zu bytes \"%s\"", a->status,
                 a->type[0] ? a->type : "(no Content-Type)", a->body.len, body);
}

static void describe_expect(const expect *w, char *out, size_t n)
{
    const char *fi =
        w->fail_info == ANY_FAIL_INFO ? "any failInfo" : scep_fail_info_name(w->fail_info);
    if (w->pki_status == SCEP_STATUS_FAILURE)
        snprintf(out, n, "CertRep FAILURE %s with a failInfoText", fi);
    else if (w->pki_status != SCEP_STATUS_NONE)
        snprintf(out, n, "CertRep %s", scep_pki_status_name(w->pki_status));
    else if (w->http == 200)
        snprintf(out, n, "HTTP 200 %s", w->type ? w->type : "(GetCACert type)");
    else if (w->http == HTTP_ANY_4XX)
        snprintf(out, n, "HTTP 4xx with a short text/plain body");
    else if (w->http == HTTP_CLOSED_OR_4XX)
        snprintf(out, n, "a closed connection or HTTP 4xx%s with a short text/plain body",
                 w->flags & ALLOW_505 ? "/505" : "");
    else
        snprintf(out, n, "HTTP %d with a short text/plain body", w->http);
}

static int type_is(const char *have, const char *want)
{
    size_t n = strlen(want);
    return strncasecmp(have, want, n) == 0 && (have[n] == '\0' || have[n] == ';');
}

static int check_error_answer(const expect *w, const answer *a)
{
    int st = a->status;
    int status_ok = w->http > 0 ? st == w->http
                                : (st >= 400 && st <= 499) || (st == 505 && (w->flags & ALLOW_505));
    if (w->flags & HTTP_LAYER)
        return status_ok;
    return status_ok && type_is(a->type, "text/plain") && a->body.len > 0 &&
           a->body.len <= MAX_ERROR_BODY;
}

static int check_plain_200(const suite *s, const expect *w, const request *rq, const answer *a)
{
    const char *want =
        w->flags & CA_CERT_TYPE ? (s->ra ? SCEP_CT_CA_RA_CERT : SCEP_CT_CA_CERT) : w->type;
    return a->status == 200 && type_is(a->type, want) && (rq->head || a->body.len > 0);
}

static void remember(suite *s, unsigned flags, const request *rq, const X509 *leaf)
{
    if (flags & REMEMBER_FIRST) {
        snprintf(s->first_tid, sizeof(s->first_tid), "%s", rq->tid);
        ASN1_INTEGER_free(s->first_serial);
        s->first_serial = ASN1_INTEGER_dup(X509_get0_serialNumber(leaf));
    }
    if (flags & REMEMBER_FINAL) {
        ASN1_INTEGER_free(s->final_serial);
        s->final_serial = ASN1_INTEGER_dup(X509_get0_serialNumber(leaf));
    }
}

/* A SUCCESS to GetCRL must carry a CRL the CA signed. */
static int check_crl(const suite *s, const scep_msg *rep, char *got, size_t n)
{
    X509_CRL *crl = sk_X509_CRL_num(rep->crls) > 0 ? sk_X509_CRL_value(rep->crls, 0) : NULL;
    int ok = crl != NULL &&
             X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(s->ca)) == 0 &&
             X509_CRL_verify(crl, X509_get0_pubkey(s->ca)) == 1;
    if (!ok)
        snprintf(got, n, "CertRep SUCCESS without a CRL signed by the CA");
    return ok;
}

/* A SUCCESS must carry a certificate for the requester's key (the same one, when asked). */
static int check_issued(suite *s, const expect *w, const request *rq, const scep_msg *rep,
                        char *got, size_t n)
{
    if (w->flags & WANT_CRL)
        return check_crl(s, rep, got, n);
    X509 *leaf = scep_certs_find_leaf(rep->certs, (rq->owner ? rq->owner : rq->from)->key);
    if (leaf == NULL) {
        snprintf(got, n, "CertRep SUCCESS without a certificate for the requester's key");
        return 0;
    }
    if ((w->flags & SAME_AS_FINAL) &&
        (s->final_serial == NULL ||
         ASN1_INTEGER_cmp(s->final_serial, X509_get0_serialNumber(leaf)) != 0)) {
        snprintf(got, n, "CertRep SUCCESS with another certificate than the first answer's");
        return 0;
    }
    if (w->flags & SAME_ACROSS_COPIES) {
        if (s->copies_serial == NULL)
            s->copies_serial = ASN1_INTEGER_dup(X509_get0_serialNumber(leaf));
        else if (ASN1_INTEGER_cmp(s->copies_serial, X509_get0_serialNumber(leaf)) != 0) {
            snprintf(got, n, "simultaneous identical requests got different certificates");
            return 0;
        }
    }
    remember(s, w->flags, rq, leaf);
    return 1;
}

static int check_reply_fields(suite *s, const expect *w, const request *rq, const scep_msg *rep,
                              char *got, size_t n)
{
    if (w->text != NULL && rep->status == SCEP_STATUS_FAILURE &&
        strstr(rep->fail_info_text, w->text) == NULL) {
        snprintf(got, n, "CertRep FAILURE whose failInfoText \"%.200s\" does not say \"%s\"",
                 rep->fail_info_text, w->text);
        return 0;
    }
    const char *fi = scep_fail_info_name(rep->fail_info);
    if (rep->status == SCEP_STATUS_FAILURE)
        snprintf(got, n, "CertRep FAILURE %s \"%.200s\"", fi, rep->fail_info_text);
    else
        snprintf(got, n, "CertRep %s", scep_pki_status_name(rep->status));
    if ((int)rep->status != w->pki_status)
        return 0;
    if (rep->status == SCEP_STATUS_SUCCESS)
        return check_issued(s, w, rq, rep, got, n);
    if (rep->status != SCEP_STATUS_FAILURE)
        return 1;
    if (w->fail_info != ANY_FAIL_INFO && rep->fail_info != w->fail_info)
        return 0;
    if (rep->fail_info_text[0] == '\0') {
        snprintf(got, n, "CertRep FAILURE %s without a failInfoText", fi);
        return 0;
    }
    return 1;
}

static scep_err echo_problem(scep_diag *diag, scep_err err, const char *text)
{
    snprintf(diag->text, sizeof(diag->text), "%s", text);
    return err;
}

/* The CertRep echoes the request's transactionID and senderNonce, or omits the one the case
 * made unusable (opened with keep_refused: a missing transactionID is then the only error). */
static scep_err check_echo(const expect *w, const request *rq, const scep_msg *rep, scep_err e,
                           scep_diag *diag)
{
    if (!(w->flags & (NO_TID | NO_RECIPIENT_NONCE)))
        return e == SCEP_OK ? scep_reply_check(rep, rq->tid, rq->nonce, rq->nonce_len, diag) : e;
    int tid_absent = rep != NULL && e == SCEP_E_MISSING_ATTR && rep->transaction_id[0] == '\0';
    if (w->flags & NO_TID)
        e = tid_absent ? SCEP_OK : e;
    if (e != SCEP_OK)
        return e;
    if (!(w->flags & NO_TID) && strcmp(rep->transaction_id, rq->tid) != 0)
        return echo_problem(diag, SCEP_E_TRANSACTION_ID, "transactionID not echoed");
    if (w->flags & NO_RECIPIENT_NONCE)
        return rep->recipient_nonce_len == 0
                   ? SCEP_OK
                   : echo_problem(diag, SCEP_E_RECIPIENT_NONCE, "a recipientNonce is present");
    return rep->recipient_nonce_len == rq->nonce_len &&
                   memcmp(rep->recipient_nonce, rq->nonce, rq->nonce_len) == 0
               ? SCEP_OK
               : echo_problem(diag, SCEP_E_RECIPIENT_NONCE, "senderNonce not echoed");
}

static int check_certrep(suite *s, const expect *w, const request *rq, const answer *a, char *got,
                         size_t n)
{
    if (a->status != 200 || !type_is(a->type, SCEP_CT_PKI_MESSAGE))
        return 0;
    scep_recipient me = {rq->from->signer, rq->from->key};
    scep_open_options oo = {.trusted_signers = s->trusted, .keep_refused = 1};
    scep_decrypt_options dd = {.recipients = &me, .n_recipients = 1};
    scep_msg *rep = NULL;
    scep_diag diag = {{0}};
    scep_err e = scep_msg_open(s->ctx, a->body.data, a->body.len, &oo, &rep, &diag);
    e = check_echo(w, rq, rep, e, &diag);
    if (e == SCEP_OK)
        e = scep_msg_decrypt(s->ctx, rep, &dd, &diag);
    int ok = e == SCEP_OK && check_reply_fields(s, w, rq, rep, got, n);
    if (e != SCEP_OK)
        snprintf(got, n, "a CertRep that does not check out: %s (%s)", scep_strerror(e), diag.text);
    scep_msg_free(rep);
    return ok;
}

/* Checks the answer; got says what it was. */
static int check(suite *s, const bad_case *c, const request *rq, const answer *a, char *got,
                 size_t n)
{
    const expect *w = &c->want;
    describe_http(a, got, n);
    if (!a->got)
        return w->http == HTTP_CLOSED_OR_4XX && !a->timed_out && a->error[0] == '\0';
    if (a->status >= 500 && !(a->status == 505 && (w->flags & ALLOW_505)))
        return 0;
    if (w->pki_status != SCEP_STATUS_NONE)
        return check_certrep(s, w, rq, a, got, n);
    if (w->http == 200)
        return check_plain_200(s, w, rq, a);
    return check_error_answer(w, a);
}

static int server_answers(const suite *s)
{
    request rq = {0};
    answer a = {0};
    char path[1100];
    snprintf(path, sizeof(path), "%s?operation=GetCACaps", s->path);
    add_get(s, &rq, path);
    exchange(s, &rq, &a, 1);
    int ok = a.got && a.status == 200 && a.body.len > 0;
    buf_free(&rq.raw);
    buf_free(&a.body);
    return ok;
}

/* Sends the case's request and checks every answer; got says what the (first bad) one was. */
static int send_and_check(suite *s, const bad_case *c, const request *rq, char *got, size_t n)
{
    answer a[MAX_COPIES];
    size_t copies = rq->copies ? rq->copies : 1, bad = copies;
    memset(a, 0, sizeof(a));
    exchange(s, rq, a, copies);
    for (size_t i = 0; i < copies && bad == copies; i++)
        if (!check(s, c, rq, &a[i], got, n))
            bad = i;
    if (bad < copies && copies > 1) {
        char one[500];
        snprintf(one, sizeof(one), "%s", got);
        snprintf(got, n, "on connection %zu of %zu: %s", bad + 1, copies, one);
    }
    for (size_t i = 0; i < copies; i++)
        buf_free(&a[i].body);
    return bad == copies;
}

/* Runs one case and prints its line. Returns 1 when it passed. */
static int run_case(suite *s, const bad_case *c)
{
    request rq = {0};
    char got[600] = "", want[160];
    int ok = c->build(s, c, &rq) == 0 && !rq.raw.failed && rq.copies <= MAX_COPIES;
    if (!ok) {
        snprintf(got, sizeof(got), "the request could not be built");
        ERR_print_errors_fp(stderr);
    } else {
        ok = send_and_check(s, c, &rq, got, sizeof(got));
    }
    describe_expect(&c->want, want, sizeof(want));
    if (ok && !server_answers(s)) {
        ok = 0;
        snprintf(got, sizeof(got), "an answer, but then GetCACaps failed: the server is down");
    }
    if (!ok)
        printf("FAIL %s: expected %s, got %s\n", c->name, want, got);
    else if (s->verbose)
        printf("ok %s  # %s\n", c->name, got);
    else
        printf("ok %s\n", c->name);
    fflush(stdout);
    buf_free(&rq.raw);
    return ok;
}

/* ---- The cases ---------------------------------------------------------------------------- */

#define GET_LINE(query) "GET $P?" query " HTTP/1.1\r\nHost: $H\r\nConnection: close\r\n\r\n"
#define METHOD_LINE(method)                                                                        \
    method " $P?operation=GetCACaps HTTP/1.1\r\nHost: $H\r\nContent-Length: 0\r\n"                 \
           "Connection: close\r\n\r\n"
#define POST_HEAD(extra)                                                                           \
    "POST $P?operation=PKIOperation HTTP/1.1\r\nHost: $H\r\nContent-Type: "                        \
    "application/x-pki-message\r\n" extra "Connection: close\r\n\r\n"

static const bad_case cases[] = {
    /* HTTP: the request cannot be read as SCEP. */
    {"unknown-operation", send_raw, GET_LINE("operation=GetCAFoo"), .want = WANT_HTTP(400)},
    {"missing-operation", send_raw, GET_LINE("message=abc"), .want = WANT_HTTP(400)},
    {"empty-operation", send_raw, GET_LINE("operation="), .want = WANT_HTTP(400)},
    {"no-query-string", send_raw, "GET $P HTTP/1.1\r\nHost: $H\r\nConnection: close\r\n\r\n",
     .want = WANT_HTTP(400)},
    /* CRL paths: an unknown generation's key id, no previous generation, and key ids that are
     * not 64 hex digits (then not a CRL path at all: a SCEP request without a query). */
    {"crl-unknown-key-id", send_raw,
     "GET /crl/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.crl "
     "HTTP/1.1\r\nHost: $H\r\nConnection: close\r\n\r\n",
     .want = WANT_HTTP(404)},
    {"crl-prev-without-rollover", send_raw,
     "GET /crl/prev.crl HTTP/1.1\r\nHost: $H\r\nConnection: close\r\n\r\n", .want = WANT_HTTP(404)},
    {"crl-key-id-63-digits", send_raw,
     "GET /crl/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.crl "
     "HTTP/1.1\r\nHost: $H\r\nConnection: close\r\n\r\n",
     .want = WANT_HTTP(400)},
    {"crl-key-id-not-hex", send_raw,
     "GET /crl/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAG.crl "
     "HTTP/1.1\r\nHost: $H\r\nConnection: close\r\n\r\n",
     .want = WANT_HTTP(400)},
    {"pkioperation-get-without-message", send_raw, GET_LINE("operation=PKIOperation"),
     .want = WANT_HTTP(400)},
    {"pkioperation-get-empty-message", send_raw, GET_LINE("operation=PKIOperation&message="),
     .want = WANT_HTTP(400)},
    {"message-not-base64", send_raw, GET_LINE("operation=PKIOperation&message=%21%21%21%21%3C%3E"),
     .want = WANT_HTTP(400)},
    {"message-bad-percent-escape", send_raw, GET_LINE("operation=PKIOperation&message=%ZZ%G"),
     .want = WANT_HTTP(400)},
    {"message-one-base64-char", send_raw, GET_LINE("operation=PKIOperation&message=A"),
     .want = WANT_HTTP(400)},
    {"message-base64-of-junk", send_raw,
     GET_LINE("operation=PKIOperation&message=VGhpcyBpcyBub3QgYSBDTVMgbWVzc2FnZQ%3D%3D"),
     .want = WANT_HTTP(400)},
    {"message-parameter-twice", send_message_twice, .want = WANT_HTTP(400)},
    {"post-empty-body", send_empty_post, .want = WANT_HTTP(400)},
    {"post-base64-of-junk", send_raw,
     POST_HEAD("Content-Length: 36\r\n") "VGhpcyBpcyBub3QgYSBDTVMgbWVzc2FnZQ==",
     .want = WANT_HTTP(400)},
    {"post-body-over-max-body", send_oversize_body, .want = WANT_HTTP(413)},
    {"post-chunked-body-over-max-body", send_oversize_chunked, .want = WANT_HTTP(413)},
    {"post-content-length-100MB", send_huge_declared, .want = WANT_HTTP(413)},
    {"post-content-length-not-a-number", send_raw, POST_HEAD("Content-Length: 12abc\r\n") "xx",
     .want = WANT_HTTP_FLAGS(HTTP_CLOSED_OR_4XX, HTTP_LAYER)},
    {"post-two-content-lengths", send_raw,
     POST_HEAD("Content-Length: 2\r\nContent-Length: 4\r\n") "xxxx",
     .want = WANT_HTTP(HTTP_CLOSED_OR_4XX)},
    {"post-truncated-message", send_truncated, .want = WANT_HTTP(400)},
    {"post-body-shorter-than-declared", send_short_body, .want = WANT_HTTP(HTTP_CLOSED_OR_4XX)},
    {"post-trailing-garbage", send_trailing_garbage, .want = WANT_HTTP(400)},
    {"post-envelopeddata-not-signeddata", send_enveloped, .want = WANT_HTTP(400)},
    {"post-certs-only-signeddata", send_certs_only, .want = WANT_HTTP(400)},
    {"post-tampered-signature", send_tampered_signature, .want = WANT_HTTP(400)},
    {"post-tampered-signed-attribute", send_tampered_attribute, .want = WANT_HTTP(400)},
    {"method-put", send_raw, METHOD_LINE("PUT"), .want = WANT_HTTP(405)},
    {"method-delete", send_raw, METHOD_LINE("DELETE"), .want = WANT_HTTP(405)},
    {"method-options", send_raw, METHOD_LINE("OPTIONS"), .want = WANT_HTTP(405)},
    {"method-unknown-token", send_raw, METHOD_LINE("BREW"), .want = WANT_HTTP(405)},
    {"get-query-200KB", send_long_query, .want = WANT_HTTP_FLAGS(HTTP_ANY_4XX, HTTP_LAYER)},
    {"header-200KB", send_long_header, .want = WANT_HTTP_FLAGS(HTTP_CLOSED_OR_4XX, HTTP_LAYER)},
    {"garbage-request-line", send_garbage_line, .want = WANT_HTTP(HTTP_CLOSED_OR_4XX)},
    {"nul-in-request-line", send_nul_line, .want = WANT_HTTP(HTTP_CLOSED_OR_4XX)},
    {"tls-client-hello", send_tls_hello, .want = WANT_HTTP(HTTP_CLOSED_OR_4XX)},
    {"http-version-9.9", send_raw,
     "GET $P?operation=GetCACaps HTTP/9.9\r\nHost: $H\r\nConnection: close\r\n\r\n",
     .want = WANT_HTTP_FLAGS(HTTP_CLOSED_OR_4XX, ALLOW_505 | HTTP_LAYER)},
    {"connect-and-close", send_half_closed, "", .want = WANT_HTTP(HTTP_CLOSED_OR_4XX)},
    {"partial-request-line-then-close", send_half_closed, "GET $P?operation=GetCA",
     .want = WANT_HTTP(HTTP_CLOSED_OR_4XX)},
    {"getnextcacert-none-prepared", send_raw, GET_LINE("operation=GetNextCACert"),
     .want = WANT_HTTP(HTTP_ANY_4XX)},

    /* HTTP forms that must work. */
    {"http10-getcacaps", send_raw, "GET $P?operation=GetCACaps HTTP/1.0\r\n\r\n",
     .want = WANT_200("text/plain")},
    {"http11-without-host-getcacaps", send_raw,
     "GET $P?operation=GetCACaps HTTP/1.1\r\nConnection: close\r\n\r\n",
     .want = WANT_200("text/plain")},
    {"head-getcacaps", send_head, GET_LINE("operation=GetCACaps"), .want = WANT_200("text/plain")},
    {"operation-name-lower-case", send_raw, GET_LINE("operation=getcacaps"),
     .want = WANT_200("text/plain")},
    {"getcacert", send_raw, GET_LINE("operation=GetCACert&message=any"),
     .want = {.http = 200, .pki_status = SCEP_STATUS_NONE, .flags = CA_CERT_TYPE}},

    /* SCEP: signed by the client, so the answer is a signed FAILURE. */
    {"wrong-challenge", send_post,
     .msg = &(const msg_spec){.type = SCEP_MSG_PKCS_REQ, .challenge = CHALLENGE_WRONG},
     .want = WANT_FAILURE(SCEP_FAIL_BAD_REQUEST)},
    {"wrong-challenge-by-get", send_get,
     .msg = &(const msg_spec){.type = SCEP_MSG_PKCS_REQ, .challenge = CHALLENGE_WRONG},
     .want = WANT_FAILURE(SCEP_FAIL_BAD_REQUEST)},
    {"wrong-challenge-base64-post", send_post_base64,
     .msg = &(const msg_spec){.type = SCEP_MSG_PKCS_REQ, .challenge = CHALLENGE_WRONG},
     .want = WANT_FAILURE(SCEP_FAIL_BAD_REQUEST)},
    {"missing-challenge", send_post,
     .msg = &(const msg_spec){.type = SCEP_MSG_PKCS_REQ, .challenge = CHALLENGE_NONE},
     .want = WANT_FAILURE(SCEP_FAIL_BAD_REQUEST)},
    {"single-des-envelope", send_post,
     .msg =
         &(const msg_spec){.type = SCEP_MSG_PKCS_REQ, .legacy = 1, .cipher = SCEP_CIPHER_DES_CBC},
     .want = WANT_FAILURE(SCEP_FAIL_BAD_ALG)},
    {"md5-digest", send_post,
     .msg = &(const msg_spec){.type = SCEP_MSG_PKCS_REQ, .legacy = 1, .digest = SCEP_DIGEST_MD5},
     .want = WANT_FAILURE(SCEP_FAIL_BAD_ALG)},
    {"envelope-to-another-certificate", send_post,
     .msg = &(const msg_spec){.type = SCEP_MSG_PKCS_REQ, .to_other_cert = 1},
     .want = WANT_FAILURE(SCEP_FAIL_BAD_MESSAGE_CHECK)},
    {"envelope-holds-junk", send_cms,
     .cms = &(const raw_spec){.type = "19", .payload = PAYLOAD_JUNK},
     .want = WANT_FAILURE(SCEP_FAIL_BAD_REQUEST)},
    {"csr-signature-broken", send_cms,
     .cms = &(const raw_spec){.type = "19", .payload = PAYLOAD_BROKEN_CSR},
     .want = WANT_FAILURE(SCEP_FAIL_BAD_REQUEST)},
    {"csr-empty-subject", send_post,
     .msg = &(const msg_spec){.type = SCEP_MSG_PKCS_REQ, .empty_subject = 1},
     .want = WANT_FAILURE(SCEP_FAIL_BAD_REQUEST)},
    {"csr-rsa-1024", send_post,
     .msg = &(const msg_spec){.type = SCEP_MSG_PKCS_REQ, .signer = WHO_SMALL},
     .want = WANT_FAILURE(SCEP_FAIL_BAD_ALG)},
    /* Apple's MDM client signs with a temporary identity: accepted with the challenge, the
     * CertRep encrypted to that signer; without the challenge nothing vouches for it. */
    {"self-signed-signer-key-differs-from-csr", send_post,
     .msg = &(const msg_spec){.type = SCEP_MSG_PKCS_REQ, .signer = WHO_B, .csr_key = WHO_A},
     .want = WANT_SUCCESS(0)},
    {"self-signed-signer-key-differs-without-challenge", send_post,
     .msg = &(const msg_spec){.type = SCEP_MSG_PKCS_REQ,
                              .signer = WHO_B,
                              .csr_key = WHO_A,
                              .challenge = CHALLENGE_NONE},
     .want = WANT_FAILURE(SCEP_FAIL_BAD_REQUEST)},
    {"renewalreq-signed-by-foreign-certificate", send_post,
     .msg =
         &(const msg_spec){.type = SCEP_MSG_RENEWAL_REQ, .signer = WHO_FOREIGN, .csr_key = WHO_A},
     .want = WANT_FAILURE(SCEP_FAIL_BAD_MESSAGE_CHECK)},
    {"pkcsreq-without-envelope", send_cms,
     .cms = &(const raw_spec){.type = "19", .payload = PAYLOAD_NONE},
     .want = WANT_FAILURE(SCEP_FAIL_BAD_REQUEST)},
    {"pkcsreq-content-not-an-envelope", send_cms,
     .cms = &(const raw_spec){.type = "19", .payload = PAYLOAD_UNSEALED_JUNK},
     .want = WANT_FAILURE(SCEP_FAIL_BAD_REQUEST)},
    {"signing-time-two-days-old", send_cms,
     .cms = &(const raw_spec){.type = "19", .signing_time = -2 * 86400},
     .want = WANT_FAILURE(SCEP_FAIL_BAD_TIME)},
    {"certrep-sent-to-server", send_post, .msg = &(const msg_spec){.type = SCEP_MSG_CERT_REP},
     .want = WANT_FAILURE(ANY_FAIL_INFO)},
    {"certpoll-unknown-transaction", send_post,
     .msg = &(const msg_spec){.type = SCEP_MSG_CERT_POLL},
     .want = WANT_FAILURE(SCEP_FAIL_BAD_CERT_ID)},
    {"certpoll-junk-payload", send_cms,
     .cms = &(const raw_spec){.type = "20", .payload = PAYLOAD_JUNK},
     .want = WANT_FAILURE(SCEP_FAIL_BAD_REQUEST)},
    {"getcert-unknown-serial", send_post, .msg = &(const msg_spec){.type = SCEP_MSG_GET_CERT},
     .want = WANT_FAILURE(SCEP_FAIL_BAD_CERT_ID)},
    {"getcrl-foreign-issuer", send_post,
     .msg = &(const msg_spec){.type = SCEP_MSG_GET_CRL, .foreign_issuer = 1},
     .want = WANT_FAILURE(SCEP_FAIL_BAD_CERT_ID)},
    {"getcrl", send_post, .msg = &(const msg_spec){.type = SCEP_MSG_GET_CRL},
     .want = WANT_SUCCESS(WANT_CRL)},
    /* sscep's GetCRL: issuer and serial of the certificate it was given (the RA in RA mode). */
    {"getcrl-sscep-issuer-and-serial", send_post,
     .msg = &(const msg_spec){.type = SCEP_MSG_GET_CRL, .given_issuer = 1, .serial = SERIAL_GIVEN},
     .want = WANT_SUCCESS(WANT_CRL)},
    {"getcert-unknown-serial-sscep-issuer", send_post,
     .msg = &(const msg_spec){.type = SCEP_MSG_GET_CERT, .given_issuer = 1},
     .want = WANT_FAILURE(SCEP_FAIL_BAD_CERT_ID)},

    /* SCEP: the signed attributes verify but what they (or the content) hold is refused: a
     * signed FAILURE echoing the transactionID and senderNonce that are well-formed. */
    {"message-type-99", send_cms, .cms = &(const raw_spec){.type = "99"},
     .want = WANT_REFUSED(SCEP_FAIL_BAD_REQUEST, 0, "messageType 99")},
    {"message-type-not-a-number", send_cms, .cms = &(const raw_spec){.type = "abc"},
     .want = WANT_REFUSED(SCEP_FAIL_BAD_REQUEST, 0, "messageType")},
    {"message-type-missing", send_cms, .cms = &(const raw_spec){.type = NULL},
     .want = WANT_REFUSED(SCEP_FAIL_BAD_REQUEST, 0, "messageType")},
    {"message-type-twice", send_cms, .cms = &(const raw_spec){.type = "19", .type2 = "17"},
     .want = WANT_REFUSED(SCEP_FAIL_BAD_REQUEST, 0, "messageType")},
    {"nonce-4-bytes", send_cms, .cms = &(const raw_spec){.type = "19", .nonce_len = 4},
     .want = WANT_REFUSED(SCEP_FAIL_BAD_REQUEST, NO_RECIPIENT_NONCE, "senderNonce")},
    {"nonce-missing", send_cms, .cms = &(const raw_spec){.type = "19", .nonce_len = -1},
     .want = WANT_REFUSED(SCEP_FAIL_BAD_REQUEST, NO_RECIPIENT_NONCE, "senderNonce")},
    {"transaction-id-missing", send_cms, .cms = &(const raw_spec){.type = "19", .tid_len = -1},
     .want = WANT_REFUSED(SCEP_FAIL_BAD_REQUEST, NO_TID, "transactionID")},
    {"transaction-id-200-chars", send_cms, .cms = &(const raw_spec){.type = "19", .tid_len = 200},
     .want = WANT_REFUSED(SCEP_FAIL_BAD_REQUEST, NO_TID, "transactionID")},
    {"transaction-id-and-nonce-missing", send_cms,
     .cms = &(const raw_spec){.type = "19", .tid_len = -1, .nonce_len = -1},
     .want = WANT_REFUSED(SCEP_FAIL_BAD_REQUEST, NO_TID | NO_RECIPIENT_NONCE, "transactionID")},
    {"unknown-type-without-transaction-id", send_cms,
     .cms = &(const raw_spec){.type = "42", .tid_len = -1},
     .want = WANT_REFUSED(SCEP_FAIL_BAD_REQUEST, NO_TID, "messageType 42")},
    {"post-tampered-content", send_tampered_content,
     .want = WANT_REFUSED(SCEP_FAIL_BAD_MESSAGE_CHECK, 0, "messageDigest")},

    /* Transactions: a good enrollment, then misuse of its transactionID. */
    {"first-enrollment", send_post, .msg = &(const msg_spec){.type = SCEP_MSG_PKCS_REQ},
     .want = WANT_SUCCESS(REMEMBER_FIRST)},
    {"transaction-id-reused-with-another-key", send_post,
     .msg = &(const msg_spec){.type = SCEP_MSG_PKCS_REQ, .signer = WHO_B, .first_tid = 1},
     .want = WANT_FAILURE(SCEP_FAIL_BAD_REQUEST)},
    {"certpoll-by-another-key", send_post,
     .msg = &(const msg_spec){.type = SCEP_MSG_CERT_POLL, .signer = WHO_B, .first_tid = 1},
     .want = WANT_FAILURE(SCEP_FAIL_BAD_REQUEST)},
    {"certpoll-issued-transaction", send_post,
     .msg = &(const msg_spec){.type = SCEP_MSG_CERT_POLL, .first_tid = 1}, .want = WANT_SUCCESS(0)},
    {"getcert-issued-serial", send_post,
     .msg = &(const msg_spec){.type = SCEP_MSG_GET_CERT, .serial = SERIAL_FIRST},
     .want = WANT_SUCCESS(0)},
    {"getcert-issued-serial-sscep-issuer", send_post,
     .msg = &(const msg_spec){.type = SCEP_MSG_GET_CERT, .serial = SERIAL_FIRST, .given_issuer = 1},
     .want = WANT_SUCCESS(0)},
    {"getcert-issued-serial-foreign-issuer", send_post,
     .msg =
         &(const msg_spec){.type = SCEP_MSG_GET_CERT, .serial = SERIAL_FIRST, .foreign_issuer = 1},
     .want = WANT_FAILURE(SCEP_FAIL_BAD_CERT_ID)},

    /* Duplicates racing each other: one transaction, one certificate. */
    {"identical-pkcsreq-on-8-connections-at-once", send_simultaneous,
     .msg = &(const msg_spec){.type = SCEP_MSG_PKCS_REQ, .signer = WHO_B},
     .want = WANT_SUCCESS(SAME_ACROSS_COPIES)},

    /* After all that, good requests still work, and a resend gets the same certificate. */
    {"final-enrollment", send_final, .msg = &(const msg_spec){.type = SCEP_MSG_PKCS_REQ},
     .want = WANT_SUCCESS(REMEMBER_FINAL)},
    {"final-enrollment-same-bytes-again", send_final_again, .want = WANT_SUCCESS(SAME_AS_FINAL)},
};

int main(int argc, char **argv)
{
    suite s = {0};
    const char *only = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "vk:")) != -1) {
        if (opt == 'v')
            s.verbose = 1;
        else if (opt == 'k')
            only = optarg;
        else
            optind = argc + 1; /* usage */
    }
    if (argc - optind != 3) {
        fprintf(stderr, "usage: bad_requests [-v] [-k NAME] URL CA_DIR CHALLENGE\n");
        return 2;
    }
    if (suite_init(&s, argv[optind], argv[optind + 1], argv[optind + 2]) != 0) {
        suite_free(&s);
        return 2;
    }
    size_t ran = 0, failed = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (only != NULL && strstr(cases[i].name, only) == NULL)
            continue;
        ran++;
        failed += !run_case(&s, &cases[i]);
    }
    printf("%zu of %zu cases passed against %s\n", ran - failed, ran,
           s.ra ? "an RA-mode server" : "a CA-mode server");
    suite_free(&s);
    return failed ? 1 : 0;
}
