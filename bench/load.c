/* The timed window: C workers, each on its own keep-alive connection, take the next prebuilt
 * request, send it, and keep the raw answer. No CMS work happens here. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

typedef struct shared {
    const bench_target *t;
    const bench_opts *o;
    bench_req *reqs;
    atomic_long next;
    atomic_long transport_errs, reconnects;
    /* The clock starts when every worker has connected. */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    long connected;
    int go;
} shared;

static void send_one(shared *s, bench_conn *c, bench_req *r, long *reconnects)
{
    bench_reply rep;
    int get = s->o->use_get;
    r->start_ns = bench_now_ns();
    int rc = bench_http(c, get ? "GET" : "POST", r->target, get ? NULL : r->der,
                        get ? 0 : r->der_len, &rep, reconnects);
    r->end_ns = bench_now_ns();
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
        if (i >= s->o->count)
            break;
        send_one(s, &c, &s->reqs[i], &reconnects);
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
        atomic_store(&s->next, s->o->count);
    *cpu0 = bench_own_cpu();
    *t0 = bench_now_ns();
    s->go = 1;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

int bench_fire(const bench_target *t, const bench_opts *o, bench_req *reqs, bench_load *out)
{
    memset(out, 0, sizeof(*out));
    shared s = {.t = t, .o = o, .reqs = reqs};
    pthread_mutex_init(&s.lock, NULL);
    pthread_cond_init(&s.cond, NULL);
    long n = o->concurrency, started = 0;
    pthread_t *tids = calloc((size_t)n, sizeof(*tids));
    while (tids && started < n && pthread_create(&tids[started], NULL, worker, &s) == 0)
        started++;
    double cpu0 = 0;
    uint64_t t0 = 0;
    start(&s, started, n, &cpu0, &t0);
    for (long i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
    uint64_t t1 = bench_now_ns();
    out->own_cpu = bench_own_cpu() - cpu0;
    out->seconds = (double)(t1 - t0) / 1e9;
    out->transport_errs = atomic_load(&s.transport_errs);
    out->reconnects = atomic_load(&s.reconnects);
    pthread_cond_destroy(&s.cond);
    pthread_mutex_destroy(&s.lock);
    free(tids);
    return started == n ? 0 : -1;
}
