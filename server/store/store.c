/* The store's front: a table from URI scheme to backend, every handle wrapped in the contract's
 * checks (store_contract.c); names, and freeing records. Knows the backends only by their rows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store/store_contract.h"

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

/* The backends, by URI scheme; a plain path is the first one's. */
extern const store_backend store_sqlite_backend;
extern const store_backend store_memory_backend;
extern const store_backend store_postgresql_backend, store_postgres_backend;
static const store_backend *const backends[] = {&store_sqlite_backend, &store_memory_backend,
                                                &store_postgresql_backend, &store_postgres_backend};

/* The backend uri names, and in *rest what follows its "scheme:"; NULL with a reason in err. */
static const store_backend *backend_for(const char *uri, const char **rest, char *err,
                                        size_t errlen)
{
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (uri == NULL || uri[0] == '\0') {
        set_err(err, errlen, "empty store URI", "");
        return NULL;
    }
    size_t n = scheme_len(uri);
    *rest = n == 0 ? uri : uri + n + 1;
    if (n == 0)
        return backends[0];
    for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
        if (strlen(backends[i]->scheme) == n && strncmp(uri, backends[i]->scheme, n) == 0)
            return backends[i];
    set_err(err, errlen,
            "unsupported store (expected sqlite:PATH, postgresql://..., memory: or a path)", uri);
    return NULL;
}

/* Opens (create = 0: refuses a store that does not exist) or creates the store at uri. */
static store *store_open_as(const char *uri, int create, char *err, size_t errlen)
{
    const char *rest = NULL;
    const store_backend *b = backend_for(uri, &rest, err, errlen);
    store *s =
        b ? store_contract_wrap((create ? b->create : b->open)(uri, rest, err, errlen)) : NULL;
    if (b != NULL && s == NULL && err != NULL && errlen > 0 && err[0] == '\0')
        set_err(err, errlen, "out of memory", uri);
    return s;
}

store *store_open(const char *uri, char *err, size_t errlen)
{
    return store_open_as(uri, 0, err, errlen);
}

store *store_create(const char *uri, char *err, size_t errlen)
{
    return store_open_as(uri, 1, err, errlen);
}

int store_backup(const char *uri, const char *dest, char *err, size_t errlen)
{
    const char *rest = NULL;
    const store_backend *b = backend_for(uri, &rest, err, errlen);
    if (b != NULL && b->backup == NULL)
        set_err(err, errlen,
                "this backend has no copy of its own: back it up with its tools (PostgreSQL: "
                "pg_dump)",
                uri);
    if (b == NULL)
        return -1;
    return b->backup != NULL ? b->backup(uri, rest, dest, err, errlen) : 1;
}

int store_migrate(const char *uri, int64_t *from, int64_t *to, char *err, size_t errlen)
{
    const char *rest = NULL;
    const store_backend *b = backend_for(uri, &rest, err, errlen);
    if (b != NULL && b->migrate == NULL)
        set_err(err, errlen, "this backend keeps no schema to migrate", uri);
    if (b == NULL || b->migrate == NULL)
        return -1;
    return b->migrate(uri, rest, from, to, err, errlen);
}

struct store_group {
    const store_backend *backend;
    store_backend_group *impl;
};

store_group *store_group_open(const char *uri, char *err, size_t errlen)
{
    const char *rest = NULL;
    const store_backend *b = backend_for(uri, &rest, err, errlen);
    if (b == NULL)
        return NULL;
    store_group *g = calloc(1, sizeof(*g));
    if (g == NULL) {
        set_err(err, errlen, "out of memory", uri);
        return NULL;
    }
    g->backend = b;
    g->impl = b->group_open(uri, rest, err, errlen);
    if (g->impl == NULL) {
        free(g);
        return NULL;
    }
    return g;
}

store *store_group_handle(store_group *g, char *err, size_t errlen)
{
    store *h = store_contract_wrap(g->backend->group_handle(g->impl));
    if (h == NULL)
        set_err(err, errlen, "out of memory", "group");
    return h;
}

void store_group_close(store_group *g)
{
    if (g == NULL)
        return;
    g->backend->group_close(g->impl);
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

void store_ca_generations_clear(store_ca_generations *g)
{
    for (int i = 0; i < STORE_CA_ROLES; i++) {
        free(g->role[i].ca_der);
        free(g->role[i].ra_der);
    }
    memset(g, 0, sizeof(*g));
}
