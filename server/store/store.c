/* The store's front: choosing a backend by URI, names, and freeing records. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "store_shared.h"
#include "store_sqlite.h"

const char *request_state_name(request_state state)
{
    switch (state) {
    case REQUEST_PENDING:
        return "pending";
    case REQUEST_APPROVED:
        return "approved";
    case REQUEST_REJECTED:
        return "rejected";
    case REQUEST_ISSUED:
        return "issued";
    }
    return "unknown";
}

const char *cert_state_name(cert_state state)
{
    switch (state) {
    case CERT_VALID:
        return "valid";
    case CERT_REVOKED:
        return "revoked";
    case CERT_SUPERSEDED:
        return "superseded";
    }
    return "unknown";
}

void store_request_clear(store_request *r)
{
    if (r == NULL)
        return;
    free(r->csr_der);
    memset(r, 0, sizeof(*r));
}

void store_cert_clear(store_cert *c)
{
    if (c == NULL)
        return;
    free(c->der);
    memset(c, 0, sizeof(*c));
}

/* The length of an RFC 3986 scheme before ':' at the start of uri, or 0 when there is none
 * (then uri is a plain path). */
static size_t scheme_len(const char *uri)
{
    size_t i = 0;
    if (!((uri[0] >= 'a' && uri[0] <= 'z') || (uri[0] >= 'A' && uri[0] <= 'Z')))
        return 0;
    for (i = 1; uri[i] != '\0' && uri[i] != ':'; i++) {
        char c = uri[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '+' || c == '-' || c == '.';
        if (!ok)
            return 0;
    }
    return uri[i] == ':' ? i : 0;
}

static void set_err(char *err, size_t errlen, const char *what, const char *uri)
{
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "store %.200s: %s", uri, what);
}

/* The SQLite path a URI names ("sqlite:PATH", "sqlite:///abs/path" or a plain path), or NULL
 * with a reason in err. */
static const char *sqlite_path(const char *uri, char *err, size_t errlen)
{
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (uri == NULL || uri[0] == '\0') {
        set_err(err, errlen, "empty store URI", "");
        return NULL;
    }
    size_t n = scheme_len(uri);
    if (n == 0)
        return uri;
    if (n != 6 || strncmp(uri, "sqlite", 6) != 0) {
        set_err(err, errlen, "unsupported store (expected sqlite:PATH or a path)", uri);
        return NULL;
    }
    const char *path = uri + 7;
    /* sqlite:///abs/path, the URL form with an empty host, names /abs/path. */
    if (strncmp(path, "//", 2) == 0) {
        if (path[2] != '/') {
            set_err(err, errlen, "a host in a sqlite URI is not supported", uri);
            return NULL;
        }
        path += 2;
    }
    return path;
}

store *store_open(const char *uri, char *err, size_t errlen)
{
    const char *path = sqlite_path(uri, err, errlen);
    return path ? store_sqlite_open(path, err, errlen, NULL) : NULL;
}

struct store_group {
    store *core;             /* the one connection all handles use (store_shared.c) */
    pthread_mutex_t lock;    /* recursive: held by a handle for each operation */
    sqlite_flusher *flusher; /* NULL for an in-memory database: nothing to flush */
};

static int init_recursive(pthread_mutex_t *lock)
{
    pthread_mutexattr_t attr;
    if (pthread_mutexattr_init(&attr) != 0)
        return -1;
    int rc = pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    if (rc == 0)
        rc = pthread_mutex_init(lock, &attr);
    pthread_mutexattr_destroy(&attr);
    return rc == 0 ? 0 : -1;
}

store_group *store_group_open(const char *uri, char *err, size_t errlen)
{
    const char *path = sqlite_path(uri, err, errlen);
    if (path == NULL)
        return NULL;
    store_group *g = calloc(1, sizeof(*g));
    if (g == NULL || init_recursive(&g->lock) != 0) {
        set_err(err, errlen, "out of memory", uri);
        free(g);
        return NULL;
    }
    /* A first connection creates or migrates the database and sets WAL mode, whose log the
     * flusher opens; an in-memory database exists only in that connection, so it is the core. */
    store *first = store_sqlite_open(path, err, errlen, NULL);
    if (first != NULL && strcmp(path, ":memory:") == 0) {
        g->core = first;
        return g;
    }
    if (first != NULL) {
        char why[256] = "";
        g->flusher = sqlite_flusher_start(path, why, sizeof(why));
        if (g->flusher == NULL)
            set_err(err, errlen, why, uri);
        else
            g->core = store_sqlite_open(path, err, errlen, g->flusher);
    }
    store_close(first);
    if (g->core == NULL) {
        store_group_close(g);
        return NULL;
    }
    return g;
}

store *store_group_handle(store_group *g, char *err, size_t errlen)
{
    store *h = store_shared_handle(g->core, &g->lock, g->flusher);
    if (h == NULL)
        set_err(err, errlen, "out of memory", "group");
    return h;
}

void store_group_close(store_group *g)
{
    if (g == NULL)
        return;
    /* The core first: the flusher's last flush then covers every commit it made. */
    store_close(g->core);
    sqlite_flusher_stop(g->flusher);
    pthread_mutex_destroy(&g->lock);
    free(g);
}

void store_close(store *s)
{
    if (s != NULL)
        s->ops->destroy(s);
}

void store_crl_clear(store_crl *c)
{
    free(c->der);
    memset(c, 0, sizeof(*c));
}
