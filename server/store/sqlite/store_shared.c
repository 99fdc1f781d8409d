/* Handles of a store_group: every worker thread's operations run on one SQLite connection, one
 * at a time. With a connection per thread SQLite drops a connection's page cache whenever
 * another one commits (about 14 page reads per enrollment) and makes writers that collide
 * sleep in its busy handler; one connection behind a mutex keeps its cache and hands the
 * database from thread to thread at once. Each handle keeps its own flush ticket, so that
 * flush() waits for its own commits and never holds the lock while it waits. */
#include "store/sqlite/store_shared.h"

#include <stdio.h>
#include <stdlib.h>

#include "store/sqlite/store_sqlite.h"

typedef struct shared_handle {
    store base;
    store *core;             /* the group's connection; borrowed */
    pthread_mutex_t *lock;   /* the group's; recursive, so a list callback may use the store */
    sqlite_flusher *flusher; /* NULL: every commit is flushed already (an in-memory store) */
    uint64_t ticket;         /* the flusher's ticket for this handle's last commit; 0: none */
    int in_exchange;         /* an operation since the last flush or when_durable */
    int expected;            /* and no commit yet: the flusher counts it (sqlite_flusher_expect) */
    char err[512];
} shared_handle;

static shared_handle *impl(store *s)
{
    return (shared_handle *)s;
}

/* The first operation of an exchange tells the flusher that a commit may follow (the
 * exchange ends at flush or when_durable): a flush started meanwhile waits a moment for it. */
static store *enter(store *base)
{
    shared_handle *h = impl(base);
    if (h->flusher != NULL && !h->in_exchange) {
        h->in_exchange = h->expected = 1;
        sqlite_flusher_expect(h->flusher, 1);
    }
    pthread_mutex_lock(h->lock);
    store_sqlite_expect(h->core, h->expected);
    return h->core;
}

/* The exchange is over: one that never committed is no longer expected. */
static void exchange_end(shared_handle *h)
{
    if (h->expected)
        sqlite_flusher_expect(h->flusher, -1);
    h->in_exchange = h->expected = 0;
}

/* After an operation, still under the lock: the ticket of any commit it made is this
 * handle's to wait for, and its error text this handle's to report. */
static store_status leave(store *base, store_status ret)
{
    shared_handle *h = impl(base);
    uint64_t t = store_sqlite_take_ticket(h->core);
    if (t > h->ticket)
        h->ticket = t;
    if (t != 0)
        h->expected = 0; /* that commit counted as arrived */
    store_sqlite_expect(h->core, 0);
    if (ret != STORE_OK)
        snprintf(h->err, sizeof(h->err), "%s", h->core->ops->last_error(h->core));
    pthread_mutex_unlock(h->lock);
    return ret;
}

/* Whether the group's store is lost (its file replaced, or a flush failed): then nothing is
 * read from it or written to it any more, and err says why. */
static int lost(store *base)
{
    shared_handle *h = impl(base);
    char why[400];
    if (h->flusher == NULL || !sqlite_flusher_error(h->flusher, why, sizeof(why)))
        return 0;
    snprintf(h->err, sizeof(h->err), "store: %s", why);
    return 1;
}

/* One forwarding operation: the core's, under the group's lock. */
#define SHARED_OP(name, params, args)                                                              \
    static store_status shared_##name params                                                       \
    {                                                                                              \
        if (lost(base))                                                                            \
            return STORE_ERROR;                                                                    \
        store *core = enter(base);                                                                 \
        return leave(base, core->ops->name args);                                                  \
    }

SHARED_OP(request_put, (store * base, const store_request *req, store_request *out),
          (core, req, out))
SHARED_OP(request_get, (store * base, const char *tid, store_request *out), (core, tid, out))
SHARED_OP(request_get_by_id, (store * base, int64_t id, store_request *out), (core, id, out))
SHARED_OP(request_get_by_cert, (store * base, const char *serial, store_request *out),
          (core, serial, out))
SHARED_OP(request_transition,
          (store * base, int64_t id, request_state from, request_state to, const char *reason),
          (core, id, from, to, reason))
SHARED_OP(request_list, (store * base, int only_pending, store_request_fn fn, void *arg),
          (core, only_pending, fn, arg))
SHARED_OP(cert_issue,
          (store * base, const store_cert *cert, int64_t request_id, request_state from),
          (core, cert, request_id, from))
SHARED_OP(request_issue,
          (store * base, const store_request *req, const store_cert *cert, store_request *out),
          (core, req, cert, out))
SHARED_OP(cert_get, (store * base, const char *serial, store_cert *out), (core, serial, out))
SHARED_OP(cert_list, (store * base, const cert_filter *filter, store_cert_fn fn, void *arg),
          (core, filter, fn, arg))
SHARED_OP(cert_find_valid_by_subject,
          (store * base, const char *subject, int64_t now, store_cert *out),
          (core, subject, now, out))
SHARED_OP(cert_set_state,
          (store * base, const char *serial, cert_state state, int64_t revoked_at, int reason),
          (core, serial, state, revoked_at, reason))
SHARED_OP(crl_add, (store * base, const store_crl *crl), (core, crl))
SHARED_OP(crl_latest, (store * base, const char *issuer_key, store_crl *out),
          (core, issuer_key, out))
SHARED_OP(challenge_add, (store * base, const store_challenge *c), (core, c))
SHARED_OP(challenge_get, (store * base, const char *hash, store_challenge *out), (core, hash, out))
SHARED_OP(challenge_consume, (store * base, const char *hash, int64_t now), (core, hash, now))
SHARED_OP(failure_get,
          (store * base, const char *scope, const char *key, int64_t now, store_failure *out),
          (core, scope, key, now, out))
SHARED_OP(failure_get_pair,
          (store * base, const char *const scope[2], const char *const key[2], int64_t now,
           store_failure out[2]),
          (core, scope, key, now, out))
SHARED_OP(failure_add,
          (store * base, const char *scope, const char *key, int64_t now, store_failure_step step,
           void *arg, store_failure *out),
          (core, scope, key, now, step, arg, out))
SHARED_OP(failure_list, (store * base, int64_t now, store_failure_fn fn, void *arg),
          (core, now, fn, arg))
SHARED_OP(failure_clear, (store * base, const char *key, int *cleared), (core, key, cleared))
SHARED_OP(event_add, (store * base, const char *kind, const char *ref, const char *detail),
          (core, kind, ref, detail))
SHARED_OP(ca_generations_put, (store * base, const store_ca_generations *g, int64_t *counter),
          (core, g, counter))
SHARED_OP(ca_generations_get, (store * base, store_ca_generations *out), (core, out))
SHARED_OP(ca_generations_counter, (store * base, int64_t *counter), (core, counter))
SHARED_OP(request_page, (store * base, const request_filter *f, store_request_fn fn, void *arg),
          (core, f, fn, arg))
SHARED_OP(challenge_list, (store * base, int64_t now, store_challenge_fn fn, void *arg),
          (core, now, fn, arg))
SHARED_OP(challenge_revoke, (store * base, const char *id, int64_t now), (core, id, now))
SHARED_OP(token_add, (store * base, const store_token *t), (core, t))
SHARED_OP(token_list, (store * base, store_token_fn fn, void *arg), (core, fn, arg))
SHARED_OP(token_remove, (store * base, const char *name), (core, name))
SHARED_OP(token_find, (store * base, const char *hash, store_token *out), (core, hash, out))
SHARED_OP(audit_add, (store * base, const store_audit *a), (core, a))
SHARED_OP(audit_list, (store * base, const audit_filter *f, store_audit_fn fn, void *arg),
          (core, f, fn, arg))

/* Outside the lock: other threads go on using the connection while this one waits. Without
 * a commit to wait for, still checks that the files are the ones opened. */
static store_status shared_flush(store *base)
{
    shared_handle *h = impl(base);
    if (h->flusher == NULL)
        return STORE_OK;
    exchange_end(h);
    int rc = sqlite_flusher_wait(h->flusher, h->ticket);
    h->ticket = 0;
    if (rc == 0)
        return STORE_OK;
    (void)lost(base); /* the reason, into err */
    return STORE_ERROR;
}

/* The same without waiting: the flusher calls done. */
static void shared_when_durable(store *base, store_durable_fn done, void *arg)
{
    shared_handle *h = impl(base);
    uint64_t ticket = h->ticket;
    h->ticket = 0;
    if (h->flusher == NULL) {
        done(arg, STORE_OK, "");
        return;
    }
    exchange_end(h);
    sqlite_flusher_notify(h->flusher, ticket, done, arg);
}

static const char *shared_last_error(store *base)
{
    return impl(base)->err;
}

static void shared_destroy(store *base)
{
    if (impl(base)->flusher != NULL)
        exchange_end(impl(base));
    free(impl(base));
}

static const store_ops shared_ops = {
    .request_put = shared_request_put,
    .request_get = shared_request_get,
    .request_get_by_id = shared_request_get_by_id,
    .request_get_by_cert = shared_request_get_by_cert,
    .request_transition = shared_request_transition,
    .request_list = shared_request_list,
    .request_page = shared_request_page,
    .cert_issue = shared_cert_issue,
    .request_issue = shared_request_issue,
    .cert_get = shared_cert_get,
    .cert_list = shared_cert_list,
    .cert_find_valid_by_subject = shared_cert_find_valid_by_subject,
    .cert_set_state = shared_cert_set_state,
    .crl_add = shared_crl_add,
    .crl_latest = shared_crl_latest,
    .challenge_add = shared_challenge_add,
    .challenge_get = shared_challenge_get,
    .challenge_consume = shared_challenge_consume,
    .challenge_list = shared_challenge_list,
    .challenge_revoke = shared_challenge_revoke,
    .token_add = shared_token_add,
    .token_list = shared_token_list,
    .token_remove = shared_token_remove,
    .token_find = shared_token_find,
    .audit_add = shared_audit_add,
    .audit_list = shared_audit_list,
    .failure_get = shared_failure_get,
    .failure_get_pair = shared_failure_get_pair,
    .failure_add = shared_failure_add,
    .failure_list = shared_failure_list,
    .failure_clear = shared_failure_clear,
    .ca_generations_put = shared_ca_generations_put,
    .ca_generations_get = shared_ca_generations_get,
    .ca_generations_counter = shared_ca_generations_counter,
    .event_add = shared_event_add,
    .flush = shared_flush,
    .when_durable = shared_when_durable,
    .last_error = shared_last_error,
    .destroy = shared_destroy,
};

store *store_shared_handle(store *core, pthread_mutex_t *lock, sqlite_flusher *flusher)
{
    shared_handle *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return NULL;
    h->base.ops = &shared_ops;
    h->core = core;
    h->lock = lock;
    h->flusher = flusher;
    return &h->base;
}
