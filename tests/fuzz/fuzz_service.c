/*
 * libFuzzer: scepd's HTTP glue and service, whole: a real listener (http_start, one worker)
 * over loopback, with the fuzzers' CA (keys.c, so that corpus/message decrypts) and an
 * in-memory store, renewed every RESET_EVERY inputs so that it stays small.
 *
 * An input "METHOD\nTARGET\nBODY" becomes one request with a correct Content-Length; any
 * other input (fewer than two newlines) is sent as it is, so that the request line, headers
 * and framing are fuzzed too. Every request must be answered or closed within ANSWER_MS, and
 * never with a 500 (the service's "cannot build" errors are bugs).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "http/http.h"
#include "keys.h"
#include "service/server.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RESET_EVERY 4096
#define ANSWER_MS 8000
#define MAX_REQUEST (512 * 1024)

static char dir[64] = "/tmp/fuzz_service.XXXXXX";
static server srv;
static http_server *daemon_;
static unsigned port;
static unsigned long inputs;
static char *request_buf;

static void write_file(const char *name, const char *text)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0 || chmod(path, 0600) != 0)
        abort();
}

static void remove_dir(void)
{
    char path[128];
    const char *names[] = {"ca.pem", "ca.key"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

static void start(void)
{
    char err[512];
    daemon_ = http_start(&srv, err, sizeof(err));
    if (daemon_ == NULL) {
        fprintf(stderr, "fuzz_service: %s\n", err);
        abort();
    }
    port = http_port(daemon_);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    signal(SIGPIPE, SIG_IGN);
    if (mkdtemp(dir) == NULL)
        abort();
    atexit(remove_dir);
    write_file("ca.pem", fuzz_ca_cert_pem);
    write_file("ca.key", fuzz_ca_key_pem);
    config c;
    config_defaults(&c, dir);
    snprintf(c.listen, sizeof(c.listen), "127.0.0.1:0");
    snprintf(c.store, sizeof(c.store), ":memory:");
    snprintf(c.challenge, sizeof(c.challenge), "fuzz-challenge"); /* corpus/message's */
    c.threads = 1;
    c.request_timeout = 2;
    char err[512];
    if (server_init(&srv, &c, err, sizeof(err)) != 0) {
        fprintf(stderr, "fuzz_service: %s\n", err);
        abort();
    }
    if (freopen("/dev/null", "w", stdout) == NULL) /* one log line per request */
        abort();
    request_buf = malloc(MAX_REQUEST + 256);
    if (request_buf == NULL)
        abort();
    start();
    return 0;
}

/* The bytes to send for an input, in request_buf: its length. */
static size_t build_request(const uint8_t *data, size_t size)
{
    const uint8_t *nl1 = memchr(data, '\n', size);
    const uint8_t *nl2 = nl1 ? memchr(nl1 + 1, '\n', size - (size_t)(nl1 + 1 - data)) : NULL;
    if (nl2 == NULL || size > MAX_REQUEST) {
        size_t n = size < MAX_REQUEST ? size : MAX_REQUEST;
        memcpy(request_buf, data, n);
        return n;
    }
    size_t body_len = size - (size_t)(nl2 + 1 - data);
    int n = snprintf(request_buf, MAX_REQUEST + 256,
                     "%.*s %.*s HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     (int)(nl1 - data), (const char *)data, (int)(nl2 - nl1 - 1),
                     (const char *)nl1 + 1, body_len);
    if (n < 0 || (size_t)n + body_len > MAX_REQUEST + 256)
        abort();
    memcpy(request_buf + n, nl2 + 1, body_len);
    return (size_t)n + body_len;
}

/* Waits for events on fd for up to ms milliseconds, through signals (libFuzzer's timer
 * interrupts system calls with SIGALRM): 1 when they came, 0 when the time ran out. */
static int wait_for(int fd, short events, int ms)
{
    struct timespec end, now;
    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += ms / 1000;
    end.tv_nsec += (long)(ms % 1000) * 1000000;
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        long left = (end.tv_sec - now.tv_sec) * 1000 + (end.tv_nsec - now.tv_nsec) / 1000000;
        struct pollfd p = {.fd = fd, .events = events};
        int rc = poll(&p, 1, left > 0 ? (int)left : 0);
        if (rc == 1 || (rc == 0 && left <= 0))
            return rc;
        if (rc < 0 && errno != EINTR)
            abort();
    }
}

/* A connection from 127.0.0.X, X turning with each input: thousands of connections a second
 * would soon hold every port of one source address in TIME-WAIT. */
static int connect_server(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct sockaddr_in from = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    from.sin_addr.s_addr = htonl(INADDR_LOOPBACK + 1 + (uint32_t)(inputs % 250));
    int fd = socket(AF_INET, SOCK_STREAM, 0), soerr = 0;
    socklen_t len = sizeof(soerr);
    if (fd < 0 || bind(fd, (struct sockaddr *)&from, sizeof(from)) != 0)
        abort();
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
        return fd;
    /* Interrupted, the connection goes on being made: wait for it. */
    if (errno != EINTR || wait_for(fd, POLLOUT, ANSWER_MS) != 1 ||
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0 || soerr != 0) {
        fprintf(stderr, "fuzz_service: cannot connect: %s\n", strerror(soerr ? soerr : errno));
        abort();
    }
    return fd;
}

/* Sends what the server takes (it may answer and close before reading everything). */
static void send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return;
        p += k;
        n -= (size_t)k;
    }
}

/* Reads until the server closes; the first bytes (the status line) into head. */
static void read_answer(int fd, char *head, size_t head_len)
{
    size_t got = 0;
    char buf[16384];
    for (;;) {
        if (wait_for(fd, POLLIN, ANSWER_MS) != 1) {
            fprintf(stderr, "fuzz_service: no answer and no close within %d ms\n", ANSWER_MS);
            abort();
        }
        ssize_t k = recv(fd, buf, sizeof(buf), 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        size_t keep = got < head_len - 1 ? head_len - 1 - got : 0;
        memcpy(head + got, buf, (size_t)k < keep ? (size_t)k : keep);
        got += (size_t)k < keep ? (size_t)k : keep;
    }
    head[got] = '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (++inputs % RESET_EVERY == 0) { /* a fresh in-memory store */
        http_stop(daemon_);
        start();
    }
    size_t n = build_request(data, size);
    int fd = connect_server();
    send_all(fd, request_buf, n);
    shutdown(fd, SHUT_WR);
    char head[64];
    read_answer(fd, head, sizeof(head));
    close(fd);
    if (strncmp(head, "HTTP/1.1 500", 12) == 0) {
        fprintf(stderr, "fuzz_service: the server answered %s\n", head);
        abort();
    }
    return 0;
}
