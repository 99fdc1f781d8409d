/* Connection limits, deadlines and the drain for the SCEP listener (see http_guard.h). */
#include "http/http_guard.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "log/log.h"

#define GUARD_BUCKETS 1024u        /* connections hashed by address; a power of two */
#define SWEEP_MS 200               /* how often deadlines are checked */
#define CUT_QUIETLY GUARD_EV_COUNT /* overdue(): cut without a log line (drain, linger) */
#define DRAIN_IDLE_MS 250          /* a reload closes a connection only after this quiet time */
#define REFUSED_MS 2000            /* a refused HTTPS connection's time to send its request */

struct guard_conn {
    guard_conn *prev, *next; /* in its address's bucket */
    guard_conn *fresh_next;  /* in the fresh list until libmicrohttpd claims it */
    int fresh;
    int fd;
    unsigned char addr[16]; /* IPv4 (4 bytes, also when mapped in IPv6) or IPv6 */
    size_t addr_len;
    unsigned bucket;
    int refused;       /* to be answered 503: counts against no limit */
    int reading;       /* a request line arrived, the request is not answered yet */
    int answering;     /* between guard_answer_begin and guard_answer_end */
    int answered;      /* at least one answer sent: the connection is a keep-alive one */
    int cut;           /* shut down by the guard */
    int64_t cut_at_ms; /* lingering: cut at this time; 0: not lingering */
    int64_t opened_ms; /* the connection's start */
    int64_t since_ms;  /* the current request's deadline counts from here */
};

struct guard {
    guard_limits lim;
    log_format fmt;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t sweeper;
    int stop, draining, stopping;
    long count;   /* connections not refused */
    long refused; /* refused connections tracked */
    uint64_t seed;
    guard_conn *buckets[GUARD_BUCKETS];
    guard_conn *fresh; /* opened, not claimed yet (guard_claim) */
    struct {
        int64_t last_ms;
        long left_out;
    } events[GUARD_EV_COUNT];
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void address_key(const struct sockaddr *sa, guard_conn *c)
{
    static const unsigned char v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    c->addr_len = 0;
    if (sa != NULL && sa->sa_family == AF_INET) {
        memcpy(c->addr, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
        c->addr_len = 4;
    } else if (sa != NULL && sa->sa_family == AF_INET6) {
        const unsigned char *a = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
        int mapped = memcmp(a, v4_mapped, sizeof(v4_mapped)) == 0;
        c->addr_len = mapped ? 4 : 16;
        memcpy(c->addr, mapped ? a + 12 : a, c->addr_len);
    }
}

/* FNV-1a with a random start: an attacker who picks addresses cannot pick their bucket. */
static unsigned bucket_of(const guard *g, const guard_conn *c)
{
    uint64_t h = 14695981039346656037ULL ^ g->seed;
    for (size_t i = 0; i < c->addr_len; i++)
        h = (h ^ c->addr[i]) * 1099511628211ULL;
    return (unsigned)(h >> 17) & (GUARD_BUCKETS - 1);
}

static int same_address(const guard_conn *a, const guard_conn *b)
{
    return a->addr_len == b->addr_len && memcmp(a->addr, b->addr, a->addr_len) == 0;
}

static long count_address(const guard *g, const guard_conn *c)
{
    long n = 0;
    for (const guard_conn *p = g->buckets[c->bucket]; p != NULL; p = p->next)
        n += !p->refused && same_address(p, c);
    return n;
}

static void peer_text(const guard_conn *c, char *buf, size_t len)
{
    if (c == NULL || c->addr_len == 0 ||
        inet_ntop(c->addr_len == 4 ? AF_INET : AF_INET6, c->addr, buf, (socklen_t)len) == NULL)
        snprintf(buf, len, "-");
}

/* With g->lock held. */
static void log_locked(guard *g, guard_event ev, const guard_conn *c, const char *text)
{
    int64_t now = now_ms();
    if (g->events[ev].last_ms != 0 && now - g->events[ev].last_ms < 1000) {
        g->events[ev].left_out++;
        return;
    }
    char peer[INET6_ADDRSTRLEN], more[64] = "", line[400];
    peer_text(c, peer, sizeof(peer));
    if (g->events[ev].left_out > 0)
        snprintf(more, sizeof(more), " (and %ld more since the last such line)",
                 g->events[ev].left_out);
    snprintf(line, sizeof(line), "%s: peer %s%s", text, peer, more);
    g->events[ev].last_ms = now;
    g->events[ev].left_out = 0;
    log_info(stdout, g->fmt, line);
}

void guard_log(guard *g, guard_event ev, const guard_conn *c, const char *text)
{
    pthread_mutex_lock(&g->lock);
    log_locked(g, ev, c, text);
    pthread_mutex_unlock(&g->lock);
}

static void cut_locked(guard_conn *c)
{
    c->cut = 1;
    shutdown(c->fd, SHUT_RDWR); /* libmicrohttpd sees a hang-up and closes it */
}

/* Whether the peer sent bytes libmicrohttpd has not read yet: a request is on its way. */
static int bytes_waiting(const guard_conn *c)
{
    char b;
    return recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

/* A reload closes idle keep-alive connections, but not one whose next request is on its way, nor
 * one not answered yet (its client is about to send its first request; the request deadline
 * still bounds it): either client would see its request dropped unanswered. */
static int idle_for_reload(const guard_conn *c, int64_t now)
{
    return c->answered && !c->reading && now - c->since_ms >= DRAIN_IDLE_MS && !bytes_waiting(c);
}

/* Why c should be cut now, or -1. With g->lock held. */
static int overdue(const guard *g, const guard_conn *c, int64_t now)
{
    if (c->cut || c->answering || c->fresh) /* fresh: its fd may not be its own any more */
        return -1;
    if (c->refused)
        return now - c->opened_ms > REFUSED_MS ? CUT_QUIETLY : -1;
    if (c->cut_at_ms != 0)
        return now >= c->cut_at_ms ? CUT_QUIETLY : -1;
    if (now - c->since_ms > (int64_t)g->lim.request_seconds * 1000)
        return GUARD_EV_DEADLINE;
    if (now - c->opened_ms > (int64_t)g->lim.lifetime_seconds * 1000)
        return GUARD_EV_LIFETIME;
    if (g->draining && (g->stopping || idle_for_reload(c, now)))
        return CUT_QUIETLY;
    return -1;
}

static void sweep_locked(guard *g)
{
    int64_t now = now_ms();
    char text[160] = "";
    for (unsigned b = 0; b < GUARD_BUCKETS; b++)
        for (guard_conn *c = g->buckets[b]; c != NULL; c = c->next) {
            int why = overdue(g, c, now);
            if (why < 0)
                continue;
            cut_locked(c);
            if (why == GUARD_EV_DEADLINE)
                snprintf(text, sizeof(text),
                         "closed a connection: no whole request within request_deadline (%d s)",
                         g->lim.request_seconds);
            else if (why == GUARD_EV_LIFETIME)
                snprintf(text, sizeof(text),
                         "closed a connection older than connection_lifetime (%d s)",
                         g->lim.lifetime_seconds);
            if (why != CUT_QUIETLY)
                log_locked(g, (guard_event)why, c, text);
        }
}

static void *sweep_loop(void *arg)
{
    guard *g = arg;
    pthread_mutex_lock(&g->lock);
    while (!g->stop) {
        sweep_locked(g);
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += SWEEP_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&g->wake, &g->lock, &until);
    }
    pthread_mutex_unlock(&g->lock);
    return NULL;
}

static int init_sync(guard *g)
{
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0)
        return -1;
    int rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0 &&
                     pthread_cond_init(&g->wake, &attr) == 0
                 ? 0
                 : -1;
    pthread_condattr_destroy(&attr);
    if (rc == 0 && pthread_mutex_init(&g->lock, NULL) != 0) {
        pthread_cond_destroy(&g->wake);
        rc = -1;
    }
    return rc;
}

guard *guard_new(const guard_limits *lim, log_format fmt)
{
    guard *g = calloc(1, sizeof(*g));
    if (g == NULL)
        return NULL;
    g->lim = *lim;
    g->fmt = fmt;
    if (RAND_bytes((unsigned char *)&g->seed, sizeof(g->seed)) != 1 || init_sync(g) != 0) {
        free(g);
        return NULL;
    }
    if (pthread_create(&g->sweeper, NULL, sweep_loop, g) != 0) {
        pthread_cond_destroy(&g->wake);
        pthread_mutex_destroy(&g->lock);
        free(g);
        return NULL;
    }
    return g;
}

void guard_free(guard *g)
{
    if (g == NULL)
        return;
    pthread_mutex_lock(&g->lock);
    g->stop = 1;
    pthread_cond_signal(&g->wake);
    pthread_mutex_unlock(&g->lock);
    pthread_join(g->sweeper, NULL);
    for (unsigned b = 0; b < GUARD_BUCKETS; b++)
        while (g->buckets[b] != NULL) {
            guard_conn *c = g->buckets[b];
            g->buckets[b] = c->next;
            free(c);
        }
    pthread_cond_destroy(&g->wake);
    pthread_mutex_destroy(&g->lock);
    free(g);
}

static void unlink_fresh_locked(guard *g, guard_conn *c)
{
    for (guard_conn **p = &g->fresh; *p != NULL; p = &(*p)->fresh_next)
        if (*p == c) {
            *p = c->fresh_next;
            break;
        }
    c->fresh = 0;
}

static void unlink_locked(guard *g, guard_conn *c)
{
    if (c->fresh)
        unlink_fresh_locked(g, c);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        g->buckets[c->bucket] = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    g->count -= !c->refused;
    g->refused -= c->refused;
}

/* A fresh connection on fd that libmicrohttpd never claimed is gone, since fd is open again:
 * it counts no longer. */
static void drop_stale_locked(guard *g, int fd)
{
    for (guard_conn *c = g->fresh; c != NULL; c = c->fresh_next)
        if (c->fd == fd) {
            unlink_locked(g, c);
            free(c);
            return;
        }
}

guard_conn *guard_open(guard *g, int fd, const struct sockaddr *addr, guard_verdict *verdict)
{
    *verdict = GUARD_ACCEPT;
    guard_conn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->fd = fd;
    address_key(addr, c);
    c->opened_ms = c->since_ms = now_ms();
    pthread_mutex_lock(&g->lock);
    drop_stale_locked(g, fd);
    c->bucket = bucket_of(g, c);
    if (g->lim.per_address > 0 && count_address(g, c) >= g->lim.per_address)
        *verdict = GUARD_OVER_ADDRESS;
    else if (g->count >= g->lim.total)
        *verdict = GUARD_OVER_TOTAL;
    c->refused = *verdict != GUARD_ACCEPT;
    g->count += !c->refused;
    g->refused += c->refused;
    c->next = g->buckets[c->bucket];
    if (c->next != NULL)
        c->next->prev = c;
    g->buckets[c->bucket] = c;
    c->fresh = 1;
    c->fresh_next = g->fresh;
    g->fresh = c;
    pthread_mutex_unlock(&g->lock);
    return c;
}

guard_conn *guard_claim(guard *g, int fd, int *refused)
{
    pthread_mutex_lock(&g->lock);
    guard_conn *c = g->fresh;
    while (c != NULL && c->fd != fd)
        c = c->fresh_next;
    if (c != NULL) {
        unlink_fresh_locked(g, c);
        *refused = c->refused;
    }
    pthread_mutex_unlock(&g->lock);
    return c;
}

long guard_unclaimed(guard *g)
{
    long n = 0;
    pthread_mutex_lock(&g->lock);
    for (const guard_conn *c = g->fresh; c != NULL; c = c->fresh_next)
        n++;
    pthread_mutex_unlock(&g->lock);
    return n;
}

long guard_refused(guard *g)
{
    pthread_mutex_lock(&g->lock);
    long n = g->refused;
    pthread_mutex_unlock(&g->lock);
    return n;
}

void guard_close(guard *g, guard_conn *c)
{
    pthread_mutex_lock(&g->lock);
    unlink_locked(g, c);
    pthread_mutex_unlock(&g->lock);
    free(c);
}

void guard_linger(guard *g, guard_conn *c)
{
    pthread_mutex_lock(&g->lock);
    c->cut_at_ms = now_ms() + GUARD_LINGER_MS;
    pthread_mutex_unlock(&g->lock);
}

void guard_request_begin(guard *g, guard_conn *c)
{
    pthread_mutex_lock(&g->lock);
    c->reading = 1;
    pthread_mutex_unlock(&g->lock);
}

int guard_was_cut(guard *g, const guard_conn *c)
{
    pthread_mutex_lock(&g->lock);
    int cut = c->cut;
    pthread_mutex_unlock(&g->lock);
    return cut;
}

guard_answer guard_answer_begin(guard *g, guard_conn *c)
{
    guard_answer a = GUARD_ANSWER;
    pthread_mutex_lock(&g->lock);
    if (c->cut)
        a = GUARD_ANSWER_NOTHING;
    else if (c->refused)
        a = GUARD_ANSWER_OVER;
    else if (g->stopping)
        a = GUARD_ANSWER_REFUSE;
    else if (g->draining || now_ms() - c->opened_ms > (int64_t)g->lim.lifetime_seconds * 1000)
        a = GUARD_ANSWER_CLOSE;
    c->answering = a != GUARD_ANSWER_NOTHING;
    pthread_mutex_unlock(&g->lock);
    return a;
}

void guard_answer_end(guard *g, guard_conn *c)
{
    pthread_mutex_lock(&g->lock);
    c->answering = 0;
    c->answered = 1;
    c->reading = 0;
    c->since_ms = now_ms();
    pthread_mutex_unlock(&g->lock);
}

void guard_drain(guard *g, int stopping)
{
    pthread_mutex_lock(&g->lock);
    g->draining = 1;
    g->stopping |= stopping;
    pthread_cond_signal(&g->wake);
    pthread_mutex_unlock(&g->lock);
}
