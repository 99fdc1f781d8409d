/*
 * The service as a server's worker threads use it: each worker owns its store handle, and no
 * answer leaves the service before the writes it reports are durable. The HTTP layer turns
 * requests into these calls and their replies into responses, and knows nothing of the store.
 */
#ifndef SCEPD_WORKER_H
#define SCEPD_WORKER_H

#include "scep/scep.h"

#include "service/reply.h"
#include "service/server.h"
#include "store/store.h"

/* What the workers of one server share: the store they open their handles on (a store_group,
 * so that their commits share a flush). */
typedef struct service_workers service_workers;

/* Opens srv's store (cfg's store URI) for its workers. NULL with a reason in err. */
service_workers *service_workers_open(const server *srv, char *err, size_t errlen);
/* After every worker of ws closed. NULL is ignored. */
void service_workers_close(service_workers *ws);

/* One thread's worker; its store handle is opened at the first operation that needs it. NULL
 * when out of memory. */
typedef struct service_worker service_worker;

service_worker *service_worker_open(service_workers *ws);
/* A worker on st, borrowed: for callers that hold their own handle (tests, tools). */
service_worker *service_worker_on(const server *srv, store *st);
void service_worker_close(service_worker *w);

/* Answers one SCEP operation (service_handle) and, when it used the store, returns only once
 * the store has flushed what it wrote: a 503 replaces the answer when it cannot. */
void service_worker_request(service_worker *w, const scep_http_request *req, reply *out);
/* The same for a CRL (service_crl). */
void service_worker_crl(service_worker *w, int previous, const char *key_id, reply *out);

/*
 * The same in steps, for a caller whose thread must not wait for the disk (the HTTP layer
 * suspends the connection instead): prepare answers like the functions above but returns 1
 * when out may not leave yet, 0 when it is final. Then service_worker_await(w, d, out, ready,
 * arg) asks the store to call ready(arg) once it flushed what w wrote; ready may run on the
 * store's thread, or on this one before await returns, and must only wake the caller. d and out
 * stay in place until then; on out's thread, service_durable_finish(d) makes out final (a 503
 * when the store failed). Nothing else may use w's store between prepare and await.
 */
typedef struct service_durable {
    const server *srv;
    reply *out;
    void (*ready)(void *arg);
    void *arg;
    store_status status; /* set before ready runs */
    char why[420];
} service_durable;

int service_worker_prepare(service_worker *w, const scep_http_request *req, reply *out);
int service_worker_prepare_crl(service_worker *w, int previous, const char *key_id, reply *out);
void service_worker_await(service_worker *w, service_durable *d, reply *out,
                          void (*ready)(void *arg), void *arg);
void service_durable_finish(service_durable *d);

#endif
