/* The timed window: C workers, each on its own keep-alive connection, take the next prebuilt
 * request, send it, and keep the raw answer. No CMS work happens here. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

typedef struct shared {
    const bench_target *t;
    const bench_opts *o;
    bench_req *reqs;
    const long *idx; /* NULL: reqs[0..n) */
    long n;
    atomic_long next;
    atomic_long transport_errs, reconnects;
    /* --refused-wait: each 503's latency, under lock. */
    uint64_t *refused_ns;
    long refused, refused_cap, refused_no_retry_after;
    /* The clock starts when every worker has connected. */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    long connected;
    int go;
} shared;

/* A 503 under --refused-wait: counted with its latency; the request goes out again. */
static int note_refusal(shared *s, const bench_req *r, const bench_reply *rep)
{
    if (s->o->refused_wait_ms == 0 || rep->status != 503)
        return 0;
    pthread_mutex_lock(&s->lock);
    if (s->refused == s->refused_cap) {
        long cap = s->refused_cap ? 2 * s->refused_cap : 1024;
        uint64_t *grown = realloc(s->refused_ns, (size_t)cap * sizeof(*grown));
        if (grown != NULL) {
            s->refused_ns = grown;
            s->refused_cap = cap;
        }
    }
    if (s->refused < s->refused_cap)
        s->refused_ns[s->refused++] = r->end_ns - r->start_ns;
    s->refused_no_retry_after += rep->retry_after < 0;
    pthread_mutex_unlock(&s->lock);
    free(rep->body);
    return 1;
}

static int send_once(shared *s, bench_conn *c, bench_req *r, bench_reply *rep, long *reconnects)
{
    int get = s->o->use_get;
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    r->sent_at_ms = (long long)wall.tv_sec * 1000 + wall.tv_nsec / 1000000;
    r->attempts++;
    r->start_ns = bench_now_ns();
    int rc = bench_http(c, get ? "GET" : "POST", r->target, get ? NULL : r->der,
                        get ? 0 : r->der_len, rep, reconnects);
    r->end_ns = bench_now_ns();
    return rc;
}

static void send_one(shared *s, bench_conn *c, bench_req *r, long *reconnects)
{
    bench_reply rep;
    int rc;
    while ((rc = send_once(s, c, r, &rep, reconnects)) == 0 && note_refusal(s, r, &rep))
        bench_pause_ms(s->o->refused_wait_ms);
    if (rc != 0) {
        atomic_fetch_add(&s->transport_errs, 1);
        return;
    }
    r->http_status = rep.status;
    memcpy(r->content_type, rep.content_type, sizeof(r->content_type));
    r->body = rep.body;
    r->body_len = rep.len;
}

static void wait_for_start(shared *s)
{
    pthread_mutex_lock(&s->lock);
    s->connected++;
    pthread_cond_broadcast(&s->cond);
    while (!s->go)
        pthread_cond_wait(&s->cond, &s->lock);
    pthread_mutex_unlock(&s->lock);
}

static void *worker(void *arg)
{
    shared *s = arg;
    bench_conn c;
    long reconnects = 0;
    bench_conn_init(&c, &s->t->url, s->o->timeout);
    bench_conn_connect(&c); /* a failure shows as transport errors below */
    wait_for_start(s);
    for (;;) {
        long i = atomic_fetch_add(&s->next, 1);
        if (i >= s->n)
            break;
        send_one(s, &c, &s->reqs[s->idx ? s->idx[i] : i], &reconnects);
    }
    atomic_fetch_add(&s->reconnects, reconnects);
    bench_conn_close(&c);
    free(c.buf);
    return NULL;
}

/* Releases the workers once all started have connected, and starts the clock; with too few
 * workers, they exit at once. */
static void start(shared *s, long started, long wanted, double *cpu0, uint64_t *t0)
{
    pthread_mutex_lock(&s->lock);
    while (s->connected < started)
        pthread_cond_wait(&s->cond, &s->lock);
    if (started < wanted)
        atomic_store(&s->next, s->n);
    *cpu0 = bench_own_cpu();
    *t0 = bench_now_ns();
    s->go = 1;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

/* --start-at: processes that were given one time fire together (a race between servers). */
static void wait_until(long start_at_ms)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    long long wait_ms = start_at_ms - ((long long)now.tv_sec * 1000 + now.tv_nsec / 1000000);
    if (wait_ms > 0) {
        struct timespec d = {(time_t)(wait_ms / 1000), (long)(wait_ms % 1000) * 1000000};
        while (nanosleep(&d, &d) != 0)
            ;
    }
}

int bench_fire(const bench_target *t, const bench_opts *o, bench_req *reqs, bench_load *out)
{
    return bench_fire_some(t, o, reqs, NULL, o->count, out);
}

int bench_fire_some(const bench_target *t, const bench_opts *o, bench_req *reqs, const long *idx,
                    long count, bench_load *out)
{
    memset(out, 0, sizeof(*out));
    shared s = {.t = t, .o = o, .reqs = reqs, .idx = idx, .n = count};
    pthread_mutex_init(&s.lock, NULL);
    pthread_cond_init(&s.cond, NULL);
    long n = o->concurrency, started = 0;
    pthread_t *tids = calloc((size_t)n, sizeof(*tids));
    while (tids && started < n && pthread_create(&tids[started], NULL, worker, &s) == 0)
        started++;
    double cpu0 = 0;
    uint64_t t0 = 0;
    if (o->start_at_ms > 0 && idx == NULL)
        wait_until(o->start_at_ms);
    start(&s, started, n, &cpu0, &t0);
    for (long i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
    uint64_t t1 = bench_now_ns();
    out->own_cpu = bench_own_cpu() - cpu0;
    out->seconds = (double)(t1 - t0) / 1e9;
    out->transport_errs = atomic_load(&s.transport_errs);
    out->reconnects = atomic_load(&s.reconnects);
    out->refused = s.refused;
    out->refused_no_retry_after = s.refused_no_retry_after;
    out->refused_ns = s.refused_ns;
    pthread_cond_destroy(&s.cond);
    pthread_mutex_destroy(&s.lock);
    free(tids);
    return started == n ? 0 : -1;
}
