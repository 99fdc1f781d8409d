/* Worker threads' store handles, and "durable before reply". */
#include "service/store_health.h"
#include "service/worker.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>

#include "log/log.h"

struct service_workers {
    const server *srv;
    store_group *stores; /* the workers' handles share one flush (group commit) */
};

struct service_worker {
    const server *srv;
    service_workers *ws; /* NULL for a worker on a borrowed handle */
    store *st;           /* NULL until first needed */
    int owns_store;
};

/* Free memory at the top of a thread's heap is kept up to this much: the default (128 KiB,
 * raised only by freed mmap chunks) gave back and took again a few hundred KiB about every other
 * enrollment (0.3-0.5 madvise and 2 page faults per enrollment). Bounds only what stays
 * resident after a peak, not the peak. */
#define MALLOC_KEEP_TOP (4 * 1024 * 1024)

service_workers *service_workers_open(const server *srv, char *err, size_t errlen)
{
    (void)mallopt(M_TRIM_THRESHOLD, MALLOC_KEEP_TOP);
    service_workers *ws = calloc(1, sizeof(*ws));
    if (ws == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    char uri[CONFIG_PATH * 2];
    config_store_uri(&srv->cfg, uri, sizeof(uri));
    ws->srv = srv;
    ws->stores = store_group_open(uri, err, errlen);
    if (ws->stores == NULL) {
        free(ws);
        return NULL;
    }
    return ws;
}

void service_workers_close(service_workers *ws)
{
    if (ws == NULL)
        return;
    store_group_close(ws->stores);
    free(ws);
}

service_worker *service_worker_open(service_workers *ws)
{
    service_worker *w = calloc(1, sizeof(*w));
    if (w != NULL) {
        w->srv = ws->srv;
        w->ws = ws;
        w->owns_store = 1;
    }
    return w;
}

service_worker *service_worker_on(const server *srv, store *st)
{
    service_worker *w = calloc(1, sizeof(*w));
    if (w != NULL) {
        w->srv = srv;
        w->st = st;
    }
    return w;
}

void service_worker_close(service_worker *w)
{
    if (w == NULL)
        return;
    if (w->owns_store)
        store_close(w->st);
    free(w);
}

static store *worker_store(service_worker *w)
{
    if (w->st == NULL && w->ws != NULL) {
        char err[256];
        w->st = store_group_handle(w->ws->stores, err, sizeof(err));
        if (w->st == NULL)
            log_info(stderr, w->srv->cfg.log_format, err);
    }
    return w->st;
}

/* No answer from the store leaves before the writes it reports are on disk: a client never
 * holds a certificate, or a PENDING, that a crash could make the CA forget. */
static void settle(const server *srv, reply *rep, store_status status, const char *why)
{
    if (status == STORE_OK) {
        if (rep->http_status != 503)
            store_health_ok();
        return;
    }
    store_health_failed(srv->cfg.log_format, why);
    reply_free(rep);
    reply_init(rep);
    reply_text(rep, 503, "certificate store cannot write to disk");
}

static void make_durable(service_worker *w, reply *rep)
{
    store_status status = w->st->ops->flush(w->st);
    settle(w->srv, rep, status, status == STORE_OK ? "" : w->st->ops->last_error(w->st));
}

int service_worker_prepare(service_worker *w, const scep_http_request *req, reply *out)
{
    if (req->operation != SCEP_OP_PKI_OPERATION) {
        service_handle(w->srv, NULL, req, out); /* answers that never touch the store */
        return 0;
    }
    if (worker_store(w) == NULL) {
        reply_text(out, 503, "certificate store unavailable");
        return 0;
    }
    service_handle(w->srv, w->st, req, out);
    return 1;
}

int service_worker_prepare_crl(service_worker *w, int previous, const char *key_id, reply *out)
{
    if (worker_store(w) == NULL) {
        reply_text(out, 503, "certificate store unavailable");
        return 0;
    }
    service_crl(w->srv, w->st, previous, key_id, out);
    return 1;
}

void service_worker_request(service_worker *w, const scep_http_request *req, reply *out)
{
    if (service_worker_prepare(w, req, out))
        make_durable(w, out);
}

void service_worker_crl(service_worker *w, int previous, const char *key_id, reply *out)
{
    if (service_worker_prepare_crl(w, previous, key_id, out))
        make_durable(w, out);
}

/* On the store's thread, or on the caller's: only records the outcome and passes it on. */
static void durable_done(void *arg, store_status status, const char *why)
{
    service_durable *d = arg;
    d->status = status;
    snprintf(d->why, sizeof(d->why), "%s", why != NULL ? why : "");
    d->ready(d->arg);
}

void service_worker_await(service_worker *w, service_durable *d, reply *out,
                          void (*ready)(void *arg), void *arg)
{
    *d = (service_durable){.srv = w->srv, .out = out, .ready = ready, .arg = arg};
    w->st->ops->when_durable(w->st, durable_done, d);
}

void service_durable_finish(service_durable *d)
{
    settle(d->srv, d->out, d->status, d->why);
}
