/*
 * The PostgreSQL backend as the store front sees it: "postgresql://..." and "postgres://...",
 * libpq connection URIs passed on untouched (several hosts with target_session_attrs, sslmode,
 * passfile). A group is a set of independent connections, one per worker handle: PostgreSQL
 * serves them in parallel, so nothing is shared and no lock is held between them. A COMMIT that
 * returned is durable (synchronous_commit on, pg_conn.c), so flush() has nothing left to wait
 * for.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/postgresql/pg_store.h"

static store_status pg_flush(store *base)
{
    (void)base;
    return STORE_OK;
}

static const char *pg_last_error(store *base)
{
    return pg_impl(base)->err;
}

static void pg_destroy(store *base)
{
    pg_disconnect(pg_impl(base));
}

const store_ops pg_ops = {
    .request_put = pg_request_put,
    .request_get = pg_request_get,
    .request_get_by_id = pg_request_get_by_id,
    .request_get_by_cert = pg_request_get_by_cert,
    .request_transition = pg_request_transition,
    .request_list = pg_request_list,
    .request_page = pg_request_page,
    .cert_issue = pg_cert_issue,
    .request_issue = pg_request_issue,
    .cert_get = pg_cert_get,
    .cert_list = pg_cert_list,
    .cert_find_valid_by_subject = pg_cert_find_valid_by_subject,
    .cert_set_state = pg_cert_set_state,
    .crl_add = pg_crl_add,
    .crl_latest = pg_crl_latest,
    .crl_claim = pg_crl_claim,
    .crl_release = pg_crl_release,
    .challenge_add = pg_challenge_add,
    .challenge_get = pg_challenge_get,
    .challenge_consume = pg_challenge_consume,
    .challenge_list = pg_challenge_list,
    .challenge_revoke = pg_challenge_revoke,
    .token_add = pg_token_add,
    .token_list = pg_token_list,
    .token_remove = pg_token_remove,
    .token_find = pg_token_find,
    .audit_add = pg_audit_add,
    .audit_list = pg_audit_list,
    .failure_get = pg_failure_get,
    .failure_get_pair = pg_failure_get_pair,
    .failure_add = pg_failure_add,
    .failure_list = pg_failure_list,
    .failure_clear = pg_failure_clear,
    .ca_generations_put = pg_ca_generations_put,
    .ca_generations_get = pg_ca_generations_get,
    .ca_generations_counter = pg_ca_generations_counter,
    .event_add = pg_event_add,
    .flush = pg_flush,
    .last_error = pg_last_error,
    .destroy = pg_destroy,
};

/* A URI with a password is refused before libpq sees it, and named without the password. */
static int password_refused(const char *uri, char *err, size_t errlen)
{
    if (!pg_uri_has_password(uri))
        return 0;
    char shown[PG_SHOWN_URI];
    pg_redact(uri, shown, sizeof(shown));
    snprintf(err, errlen,
             "postgresql store %s: a password in the store URI is refused (it would show in "
             "configs, ps and logs): put it in a passfile (passfile=PATH in the URI, or "
             "PGPASSFILE)",
             shown);
    return 1;
}

/* A connected handle whose schema is current; create (`scepd init`) makes the schema. */
static store *open_checked(const char *uri, int create, char *err, size_t errlen)
{
    if (password_refused(uri, err, errlen))
        return NULL;
    pg_store *s = pg_connect(uri, 0, err, errlen);
    if (s == NULL)
        return NULL;
    if (pg_schema_ensure(s, create) != STORE_OK) {
        /* "no store at URI" says where already; other reasons get the URI in front. */
        if (strncmp(s->err, "no store at ", 12) == 0)
            snprintf(err, errlen, "%s", s->err);
        else
            snprintf(err, errlen, "postgresql store %s: %s", s->shown, s->err);
        pg_disconnect(s);
        return NULL;
    }
    s->err[0] = '\0';
    return &s->base;
}

static store *pg_open(const char *uri, const char *rest, char *err, size_t errlen)
{
    (void)rest;
    return open_checked(uri, 0, err, errlen);
}

static store *pg_create(const char *uri, const char *rest, char *err, size_t errlen)
{
    (void)rest;
    return open_checked(uri, 1, err, errlen);
}

static int pg_migrate(const char *uri, const char *rest, int64_t *from, int64_t *to, char *err,
                      size_t errlen)
{
    (void)rest;
    store *st = open_checked(uri, 0, err, errlen);
    if (st == NULL)
        return -1;
    *from = pg_impl(st)->schema_from;
    *to = PG_SCHEMA_VERSION;
    pg_disconnect(pg_impl(st));
    return 0;
}

struct store_backend_group {
    char *uri;
};

/* The group checks the store once (it exists, its schema is current); each handle is then a
 * connection of its own. */
static store_backend_group *pg_group_open(const char *uri, const char *rest, char *err,
                                          size_t errlen)
{
    store *first = pg_open(uri, rest, err, errlen);
    if (first == NULL)
        return NULL;
    store_close(first);
    store_backend_group *g = calloc(1, sizeof(*g));
    if (g == NULL || (g->uri = strdup(uri)) == NULL) {
        free(g);
        snprintf(err, errlen, "postgresql store: out of memory");
        return NULL;
    }
    return g;
}

/* A handle whose connection failed still comes back: it connects at its next operation. */
static store *pg_group_handle(store_backend_group *g)
{
    char err[512];
    pg_store *s = pg_connect(g->uri, 1, err, sizeof(err));
    return s != NULL ? &s->base : NULL;
}

static void pg_group_close(store_backend_group *g)
{
    if (g == NULL)
        return;
    free(g->uri);
    free(g);
}

const store_backend store_postgresql_backend = {
    .scheme = "postgresql",
    .open = pg_open,
    .create = pg_create,
    .group_open = pg_group_open,
    .group_handle = pg_group_handle,
    .group_close = pg_group_close,
    .migrate = pg_migrate,
};

const store_backend store_postgres_backend = {
    .scheme = "postgres",
    .open = pg_open,
    .create = pg_create,
    .group_open = pg_group_open,
    .group_handle = pg_group_handle,
    .group_close = pg_group_close,
    .migrate = pg_migrate,
};
