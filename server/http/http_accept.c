/* The listening sockets and their accept loops (see http_accept.h). */
#define _GNU_SOURCE /* accept4, pipe2 */
#include "http/http_accept.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ACCEPT_BURST 64 /* connections taken per wake-up before a stop is looked for */
#define LINGER_MAX 256  /* refused connections read out at once; past that, closed at once */
#define LINGER_MS 500   /* how long a refused connection is read out at most */

typedef struct lingering {
    int fd;
    int64_t until_ms;
} lingering;

struct http_acceptor {
    int listen_fd;
    int wake[2]; /* a pipe: a byte in it stops the loop */
    pthread_t thread;
    http_accept_fn take;
    void *arg;
    lingering linger[LINGER_MAX]; /* the acceptor thread's alone */
    size_t lingering;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int http_listen_socket(const struct sockaddr_storage *addr)
{
    int fd = socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    socklen_t len =
        addr->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    /* As libmicrohttpd did: an IPv6 address listens for IPv6 only. */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        (addr->ss_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0) ||
        bind(fd, (const struct sockaddr *)addr, len) != 0 || listen(fd, SOMAXCONN) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

unsigned http_socket_port(int listen_fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (listen_fd < 0 || getsockname(listen_fd, (struct sockaddr *)&ss, &len) != 0)
        return 0;
    if (ss.ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)(const void *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)(const void *)&ss)->sin6_port);
    return 0;
}

static void linger_add(http_acceptor *a, int fd)
{
    if (a->lingering == LINGER_MAX) {
        close(fd);
        return;
    }
    a->linger[a->lingering++] = (lingering){fd, now_ms() + LINGER_MS};
}

/* Reads out what a refused client still sends; 1 when it is done (closed, failed, or past its
 * time). */
static int linger_done(const lingering *l, int readable, int64_t now)
{
    char sink[4096];
    ssize_t n = 1;
    /* Bounded per wake-up: a client that keeps sending cannot hold the accept thread. */
    for (int i = 0; readable && i < 16 && (n = read(l->fd, sink, sizeof(sink))) > 0; i++)
        ;
    if (readable &&
        (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)))
        return 1;
    return now >= l->until_ms;
}

static void linger_sweep(http_acceptor *a, const struct pollfd *p)
{
    int64_t now = now_ms();
    size_t kept = 0;
    for (size_t i = 0; i < a->lingering; i++) {
        if (linger_done(&a->linger[i], p[i].revents != 0, now))
            close(a->linger[i].fd);
        else
            a->linger[kept++] = a->linger[i];
    }
    a->lingering = kept;
}

static int poll_timeout(const http_acceptor *a)
{
    if (a->lingering == 0)
        return -1;
    int64_t next = a->linger[0].until_ms; /* added in time order: the first ends first */
    int64_t wait = next - now_ms();
    return wait < 0 ? 0 : (int)wait + 1;
}

/* Out of descriptors, the kernel keeps the connections queued: wait a moment, do not spin. */
static void accept_failed(int err)
{
    if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM)
        nanosleep(&(struct timespec){0, 10000000}, NULL);
}

static void accept_burst(http_acceptor *a)
{
    for (int i = 0; i < ACCEPT_BURST; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int fd = accept4(a->listen_fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != ECONNABORTED && errno != EINTR) {
                accept_failed(errno);
                return;
            }
            continue;
        }
        if (a->take(a->arg, fd, (const struct sockaddr *)&ss, len) == HTTP_ACCEPT_LINGER)
            linger_add(a, fd);
    }
}

static void *accept_loop(void *arg)
{
    http_acceptor *a = arg;
    struct pollfd p[2 + LINGER_MAX];
    for (;;) {
        p[0] = (struct pollfd){.fd = a->wake[0], .events = POLLIN};
        p[1] = (struct pollfd){.fd = a->listen_fd, .events = POLLIN};
        for (size_t i = 0; i < a->lingering; i++)
            p[2 + i] = (struct pollfd){.fd = a->linger[i].fd, .events = POLLIN};
        if (poll(p, 2 + a->lingering, poll_timeout(a)) < 0 && errno != EINTR)
            nanosleep(&(struct timespec){0, 10000000}, NULL);
        if (p[0].revents != 0)
            break;
        linger_sweep(a, p + 2);
        if (p[1].revents != 0)
            accept_burst(a);
    }
    for (size_t i = 0; i < a->lingering; i++)
        close(a->linger[i].fd);
    a->lingering = 0;
    return NULL;
}

http_acceptor *http_acceptor_start(int listen_fd, http_accept_fn take, void *arg)
{
    http_acceptor *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return NULL;
    a->listen_fd = listen_fd;
    a->take = take;
    a->arg = arg;
    if (pipe2(a->wake, O_CLOEXEC) != 0) {
        free(a);
        return NULL;
    }
    if (pthread_create(&a->thread, NULL, accept_loop, a) != 0) {
        close(a->wake[0]);
        close(a->wake[1]);
        free(a);
        return NULL;
    }
    return a;
}

void http_acceptor_stop(http_acceptor *a)
{
    if (a == NULL)
        return;
    char b = 1;
    while (write(a->wake[1], &b, 1) < 0 && errno == EINTR)
        ;
    pthread_join(a->thread, NULL);
    close(a->wake[0]);
    close(a->wake[1]);
    free(a);
}
