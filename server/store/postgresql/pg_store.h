/* The PostgreSQL backend's insides, shared by its files: one connection per handle
 * (pg_conn.c), the schema (pg_schema.c), the operations (pg_requests.c, pg_records.c) and the
 * front's rows (pg_backend.c). Every SQL text is a constant; data travels only in parameters,
 * sent and received in binary. */
#ifndef SCEPD_PG_STORE_H
#define SCEPD_PG_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "store/store.h"

#define PG_STMT_CACHE 48 /* prepared statements per connection, keyed by their SQL's address */
#define PG_MAX_PARAMS 32
/* The SQLite backend's schema version and application id (its STORE_SCHEMA_VERSION and
 * STORE_SQLITE_APPLICATION_ID; test_store_contract checks that they agree): the same steps. */
#define PG_SCHEMA_VERSION 10
#define PG_APPLICATION_ID 0x53434550
#define PG_SHOWN_URI 256
/* The certs columns in the order pg_cert_params() binds them. */
#define PG_CERT_COLS                                                                               \
    "serial, subject, issuer, key_id, transaction_id, not_before, not_after, state, revoked_at, "  \
    "revocation_reason, is_ca, der"
/* How long a statement waits for another connection's row lock before STORE_BUSY, as the
 * SQLite backend's busy timeout. */
#define PG_LOCK_TIMEOUT "5s"
/* Advisory lock keys (the one-bigint key space): migrating the schema, storing a CRL. */
#define PG_LOCK_SCHEMA 1396917584LL
#define PG_LOCK_CRL 1396917585LL
#define PG_LOCK_CRL_ISSUE 1396917586LL /* a session lock: the claim to sign the next CRL */

typedef struct pg_store {
    store base; /* first: a store * is a pg_store * */
    PGconn *conn;
    char *uri;                           /* what libpq connects with, kept to connect again */
    char shown[PG_SHOWN_URI];            /* the URI for messages, any password replaced */
    int64_t retry_at_ms;                 /* a lost connection is tried again from then */
    int backoff_ms;                      /* the wait after the next failed attempt */
    char lost[256];                      /* why the connection is down, while it is */
    const char *prepared[PG_STMT_CACHE]; /* statement i is named "scepd_i" on this connection */
    char err[512];
    char warning[200];   /* the server's last WARNING on this connection, until cleared */
    int64_t schema_from; /* the schema version found at open, before any migration */
} pg_store;

/* Parameters of one statement: text and bytea by length, integers as int8, NULL when value is
 * NULL. Binary format throughout, so text needs no NUL and is cut to its field's size. */
typedef struct pg_params {
    int n;
    const char *values[PG_MAX_PARAMS];
    int lengths[PG_MAX_PARAMS];
    int formats[PG_MAX_PARAMS];
    unsigned int types[PG_MAX_PARAMS];
    unsigned char ints[PG_MAX_PARAMS][8];
} pg_params;

static inline pg_store *pg_impl(store *s)
{
    return (pg_store *)s;
}

/* ---- pg_conn.c ---- */

/* uri with the password of its user part and of a password= parameter replaced by "***". */
void pg_redact(const char *uri, char *out, size_t outlen);
/* Whether uri carries a password (refused: it would show in ps, logs and configs). */
int pg_uri_has_password(const char *uri);
/* A handle on a new connection to uri. A failed connection is an error (NULL, reason in err)
 * unless lazy: then the handle connects again at its next operation. */
pg_store *pg_connect(const char *uri, int lazy, char *err, size_t errlen);
void pg_disconnect(pg_store *s);

void pg_set_error(pg_store *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void pg_text(pg_params *p, const char *text, size_t size); /* NULL binds NULL */
void pg_int(pg_params *p, int64_t v);
void pg_null_int(pg_params *p);
void pg_blob(pg_params *p, const unsigned char *data, size_t len);

/* Runs sql with p (may be NULL); *res (may be NULL: then cleared here) holds the result on
 * STORE_OK. Connects again first when the connection was lost and the backoff allows. */
store_status pg_run(pg_store *s, const char *sql, const pg_params *p, PGresult **res);
/* The same, for a statement that returns rows: STORE_NOT_FOUND when it returned none. */
store_status pg_query(pg_store *s, const char *sql, const pg_params *p, PGresult **res);
/* Runs a constant script of several statements (the schema's steps), without parameters. */
store_status pg_script(pg_store *s, const char *sql);
store_status pg_begin(pg_store *s);
store_status pg_commit(pg_store *s);
/* ret of a statement that committed on its own (autocommit), unless the server warned during
 * it: then, as for a COMMIT with a WARNING, it is not known durable. Clear s->warning before. */
store_status pg_autocommit_confirmed(pg_store *s, store_status ret);
void pg_rollback(pg_store *s);

/* How many rows the statement of r changed. */
int pg_changed(PGresult *r);
void pg_col_text(const PGresult *r, int row, int col, char *dst, size_t size);
int64_t pg_col_int(const PGresult *r, int row, int col);
/* A copy of a bytea column (NULL and 0 when empty); -1 when out of memory. */
int pg_col_blob(const PGresult *r, int row, int col, unsigned char **out, size_t *len);
/* text cut to a field of `size` bytes at a UTF-8 character boundary, as every bind cuts it. */
void pg_copy_text(char *dst, size_t size, const char *src);

/* ---- pg_schema.c ---- */

/* Checks the schema; with create, makes or migrates it (`scepd init`); without, refuses a
 * database without one ("no store at URI: run scepd init") and migrates an older one. */
store_status pg_schema_ensure(pg_store *s, int create);

/* ---- the operations ---- */

extern const store_ops pg_ops;

store_status pg_request_put(store *base, const store_request *req, store_request *out);
store_status pg_request_get(store *base, const char *transaction_id, store_request *out);
store_status pg_request_get_by_id(store *base, int64_t id, store_request *out);
store_status pg_request_get_by_cert(store *base, const char *serial, store_request *out);
store_status pg_request_transition(store *base, int64_t id, request_state from, request_state to,
                                   const char *reason);
store_status pg_request_list(store *base, int only_pending, store_request_fn fn, void *arg);
store_status pg_cert_issue(store *base, const store_cert *cert, int64_t request_id,
                           request_state from);
store_status pg_request_issue(store *base, const store_request *req, const store_cert *cert,
                              store_request *out);

store_status pg_cert_get(store *base, const char *serial, store_cert *out);
store_status pg_cert_list(store *base, const cert_filter *filter, store_cert_fn fn, void *arg);
store_status pg_cert_find_valid_by_subject(store *base, const char *subject, int64_t now,
                                           store_cert *out);
store_status pg_cert_set_state(store *base, const char *serial, cert_state state,
                               int64_t revoked_at, int reason);
/* Inserts c inside the caller's transaction; names the taken serial in last_error(). */
store_status pg_insert_cert(pg_store *s, const store_cert *c);
/* Binds c's PG_CERT_COLS, 12 parameters from p->n on. */
void pg_cert_params(pg_params *p, const store_cert *c);
store_status pg_crl_add(store *base, const store_crl *crl);
store_status pg_crl_latest(store *base, const char *issuer_key, store_crl *out);
store_status pg_crl_claim(store *base);
void pg_crl_release(store *base);
store_status pg_challenge_add(store *base, const store_challenge *c);
store_status pg_challenge_get(store *base, const char *hash, store_challenge *out);
store_status pg_challenge_consume(store *base, const char *hash, int64_t now);
store_status pg_challenge_list(store *base, int64_t now, store_challenge_fn fn, void *arg);
store_status pg_challenge_revoke(store *base, const char *id, int64_t now);
store_status pg_request_page(store *base, const request_filter *f, store_request_fn fn, void *arg);
store_status pg_token_add(store *base, const store_token *t);
store_status pg_token_list(store *base, store_token_fn fn, void *arg);
store_status pg_token_remove(store *base, const char *name);
store_status pg_token_find(store *base, const char *hash, store_token *out);
store_status pg_audit_add(store *base, const store_audit *a);
store_status pg_audit_list(store *base, const audit_filter *f, store_audit_fn fn, void *arg);
store_status pg_failure_get(store *base, const char *scope, const char *key, int64_t now,
                            store_failure *out);
store_status pg_failure_get_pair(store *base, const char *const scope[2], const char *const key[2],
                                 int64_t now, store_failure out[2]);
store_status pg_failure_add(store *base, const char *scope, const char *key, int64_t now,
                            store_failure_step step, void *arg, store_failure *out);
store_status pg_failure_list(store *base, int64_t now, store_failure_fn fn, void *arg);
store_status pg_failure_clear(store *base, const char *key, int *cleared);
store_status pg_ca_generations_put(store *base, const store_ca_generations *g, int64_t *counter);
store_status pg_ca_generations_get(store *base, store_ca_generations *out);
store_status pg_ca_generations_counter(store *base, int64_t *counter);
store_status pg_event_add(store *base, const char *kind, const char *ref, const char *detail);

#endif
