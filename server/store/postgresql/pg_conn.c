/*
 * One PostgreSQL connection per handle: connecting (the URI goes to libpq untouched; a password
 * in it is refused, and every message shows the URI with any password replaced), the session's
 * settings, statements prepared once per connection, binary parameters and results, and what a
 * lost connection does: the operation fails with STORE_ERROR, and the next one connects again,
 * waiting longer after each failed attempt.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/postgresql/pg_store.h"
#include "store/store_text.h"

#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 5000

/* Type OIDs of the parameters we send (PostgreSQL's catalog, fixed since 7.x). */
#define OID_BYTEA 17
#define OID_INT8 20
#define OID_TEXT 25

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void pg_set_error(pg_store *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err, sizeof(s->err), fmt, ap);
    va_end(ap);
}

/* libpq's messages end in newlines and may span lines: one line for a log. */
static void one_line(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src != NULL ? src : "");
    for (char *p = dst; *p != '\0'; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t')
            *p = ' ';
    for (size_t n = strlen(dst); n > 0 && dst[n - 1] == ' '; n--)
        dst[n - 1] = '\0';
}

/* ---- the URI ---- */

/* Where the user part of a URI's authority ends ('@'), or NULL when it has none. */
static const char *userinfo_end(const char *uri)
{
    const char *auth = strstr(uri, "://");
    if (auth == NULL)
        return NULL;
    auth += 3;
    size_t n = strcspn(auth, "/?#");
    const char *at = NULL;
    for (size_t i = 0; i < n; i++)
        if (auth[i] == '@')
            at = auth + i;
    return at;
}

/* Whether the query parameter starting at p (after '?' or '&') is password=. */
static int is_password_param(const char *p)
{
    return strncmp(p, "password=", 9) == 0;
}

int pg_uri_has_password(const char *uri)
{
    const char *at = userinfo_end(uri), *auth = strstr(uri, "://");
    if (at != NULL && memchr(auth + 3, ':', (size_t)(at - (auth + 3))) != NULL)
        return 1;
    for (const char *q = strchr(uri, '?'); q != NULL; q = strchr(q + 1, '&'))
        if (is_password_param(q + 1))
            return 1;
    return 0;
}

/* Appends n bytes of src to out (of outlen), as far as they fit. */
static void append(char *out, size_t outlen, size_t *used, const char *src, size_t n)
{
    if (*used + n >= outlen)
        n = outlen - 1 - *used;
    memcpy(out + *used, src, n);
    *used += n;
    out[*used] = '\0';
}

void pg_redact(const char *uri, char *out, size_t outlen)
{
    size_t used = 0;
    if (outlen == 0)
        return;
    out[0] = '\0';
    const char *at = userinfo_end(uri), *auth = strstr(uri, "://"), *p = uri;
    const char *colon = at ? memchr(auth + 3, ':', (size_t)(at - (auth + 3))) : NULL;
    if (colon != NULL) {
        append(out, outlen, &used, uri, (size_t)(colon + 1 - uri));
        append(out, outlen, &used, "***", 3);
        p = at;
    }
    while (*p != '\0') {
        size_t n = strcspn(p, "?&");
        append(out, outlen, &used, p, n);
        p += n;
        if (*p == '\0')
            break;
        append(out, outlen, &used, p++, 1);
        if (is_password_param(p)) {
            append(out, outlen, &used, "password=***", 12);
            p += strcspn(p, "&#");
        }
    }
}

/* ---- connecting ---- */

/* The session: waits for row locks as long as the SQLite backend waits for its lock, and
 * commits durably: synchronous_commit stays as the server sets it unless that loses commits
 * (off) or leaves a synchronous standby behind (local). */
static const char sql_session[] =
    "SET lock_timeout = '" PG_LOCK_TIMEOUT "';"
    "SELECT set_config('synchronous_commit', 'on', false)"
    " WHERE current_setting('synchronous_commit') IN ('off', 'local')";

static int session_setup(pg_store *s)
{
    PGresult *r = PQexec(s->conn, sql_session);
    int ok = PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        one_line(s->lost, sizeof(s->lost), PQresultErrorMessage(r));
    PQclear(r);
    return ok ? 0 : -1;
}

/* Keep-alives and a user timeout find a dead peer in seconds, not the kernel's quarter hour;
 * the URI's own values come later and win. */
static PGconn *connect_uri(const char *uri)
{
    const char *const keys[] = {"connect_timeout",
                                "keepalives_idle",
                                "keepalives_interval",
                                "keepalives_count",
                                "tcp_user_timeout",
                                "fallback_application_name",
                                "dbname",
                                NULL};
    const char *const values[] = {"10", "10", "5", "3", "15000", "scepd", uri, NULL};
    return PQconnectdbParams(keys, values, 1);
}

/* The server's notices are for its own log, not for our stderr; a WARNING is kept, since one
 * during COMMIT can mean that the commit is not what it seems (pg_commit). */
static void keep_warning(void *arg, const PGresult *r)
{
    pg_store *s = arg;
    const char *severity = PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED);
    const char *message = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    if (severity != NULL && strcmp(severity, "WARNING") == 0)
        one_line(s->warning, sizeof(s->warning), message != NULL ? message : "a warning");
}

static void forget_statements(pg_store *s)
{
    memset(s->prepared, 0, sizeof(s->prepared));
}

/* Connects (again); on failure records why and when to try next. */
static int reconnect(pg_store *s)
{
    if (s->conn == NULL)
        s->conn = connect_uri(s->uri);
    else
        PQreset(s->conn);
    forget_statements(s);
    if (s->conn != NULL)
        PQsetNoticeReceiver(s->conn, keep_warning, s);
    if (s->conn != NULL && PQstatus(s->conn) == CONNECTION_OK && session_setup(s) == 0) {
        s->backoff_ms = 0;
        s->lost[0] = '\0';
        return 0;
    }
    if (s->conn == NULL)
        snprintf(s->lost, sizeof(s->lost), "out of memory");
    else if (PQstatus(s->conn) != CONNECTION_OK)
        one_line(s->lost, sizeof(s->lost), PQerrorMessage(s->conn));
    s->backoff_ms = s->backoff_ms == 0 ? BACKOFF_FIRST_MS : s->backoff_ms * 2;
    if (s->backoff_ms > BACKOFF_MAX_MS)
        s->backoff_ms = BACKOFF_MAX_MS;
    s->retry_at_ms = now_ms() + s->backoff_ms;
    return -1;
}

/* A usable connection, or STORE_ERROR saying why there is none. */
static store_status connected(pg_store *s)
{
    if (s->conn != NULL && PQstatus(s->conn) == CONNECTION_OK)
        return STORE_OK;
    int64_t wait = s->retry_at_ms - now_ms();
    if (wait <= 0 && reconnect(s) == 0)
        return STORE_OK;
    if (wait <= 0)
        wait = s->retry_at_ms - now_ms();
    pg_set_error(s,
                 "postgresql store %s: no connection to the database (%s); trying again in %lld ms",
                 s->shown, s->lost, (long long)(wait > 0 ? wait : 0));
    return STORE_ERROR;
}

pg_store *pg_connect(const char *uri, int lazy, char *err, size_t errlen)
{
    pg_store *s = calloc(1, sizeof(*s));
    if (s == NULL || (s->uri = strdup(uri)) == NULL) {
        free(s);
        snprintf(err, errlen, "postgresql store: out of memory");
        return NULL;
    }
    s->base.ops = &pg_ops;
    pg_redact(uri, s->shown, sizeof(s->shown));
    if (reconnect(s) != 0 && !lazy) {
        snprintf(err, errlen, "postgresql store %s: cannot connect: %s", s->shown, s->lost);
        pg_disconnect(s);
        return NULL;
    }
    return s;
}

void pg_disconnect(pg_store *s)
{
    if (s == NULL)
        return;
    PQfinish(s->conn);
    free(s->uri);
    free(s);
}

/* ---- parameters ---- */

static int next_param(pg_params *p, unsigned int type)
{
    if (p->n >= PG_MAX_PARAMS)
        return -1; /* a constant statement with too many: caught by the first test that runs it */
    p->types[p->n] = type;
    p->formats[p->n] = 1;
    return p->n++;
}

void pg_copy_text(char *dst, size_t size, const char *src)
{
    size_t n = store_text_len(src, size);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

void pg_text(pg_params *p, const char *text, size_t size)
{
    int i = next_param(p, OID_TEXT);
    if (i < 0)
        return;
    p->values[i] = text;
    p->lengths[i] = text != NULL ? (int)store_text_len(text, size) : 0;
}

void pg_int(pg_params *p, int64_t v)
{
    int i = next_param(p, OID_INT8);
    if (i < 0)
        return;
    for (int b = 0; b < 8; b++) /* network order, as int8send */
        p->ints[i][b] = (unsigned char)((uint64_t)v >> (56 - 8 * b));
    p->values[i] = (const char *)p->ints[i];
    p->lengths[i] = 8;
}

void pg_null_int(pg_params *p)
{
    int i = next_param(p, OID_INT8);
    if (i >= 0)
        p->values[i] = NULL;
}

void pg_blob(pg_params *p, const unsigned char *data, size_t len)
{
    int i = next_param(p, OID_BYTEA);
    if (i < 0)
        return;
    p->values[i] = data != NULL && len > 0 ? (const char *)data : "";
    p->lengths[i] = data != NULL ? (int)len : 0;
}

/* ---- running statements ---- */

/* The connection went away under a statement: say so, and connect at the next operation. */
static store_status lost(pg_store *s)
{
    one_line(s->lost, sizeof(s->lost), PQerrorMessage(s->conn));
    s->retry_at_ms = now_ms();
    s->backoff_ms = 0;
    pg_set_error(s,
                 "postgresql store %s: lost the connection to the database (%s): nothing of "
                 "this operation is known to be committed",
                 s->shown, s->lost);
    return STORE_ERROR;
}

static int sqlstate_is(const char *state, const char *want)
{
    return state != NULL && strcmp(state, want) == 0;
}

/* Whether a taken key means "another one got there first" rather than "draw again": the one
 * certificate of a transaction, or a transactionID that an INSERT without ON CONFLICT met. */
static int taken_by_another(const char *constraint)
{
    return constraint != NULL && (strcmp(constraint, "certs_one_per_transaction") == 0 ||
                                  strcmp(constraint, "requests_transaction_id_key") == 0);
}

/* A failed result as a store_status: a taken key is EXISTS (CONFLICT when another issued for
 * the transaction), waiting too long for a lock is BUSY, the rest an error. */
static store_status result_fail(pg_store *s, const PGresult *r)
{
    if (PQstatus(s->conn) != CONNECTION_OK)
        return lost(s);
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    const char *constraint = PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME);
    char msg[300];
    one_line(msg, sizeof(msg),
             r != NULL ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : PQerrorMessage(s->conn));
    pg_set_error(s, "postgresql: %s (SQLSTATE %s)", msg, state != NULL ? state : "none");
    if (sqlstate_is(state, "23505"))
        return taken_by_another(constraint) ? STORE_CONFLICT : STORE_EXISTS;
    if (sqlstate_is(state, "55P03") || sqlstate_is(state, "40001") || sqlstate_is(state, "40P01"))
        return STORE_BUSY;
    if (sqlstate_is(state, "53200"))
        return STORE_NOMEM;
    return STORE_ERROR;
}

/* The name of sql's prepared statement on this connection, preparing it the first time; NULL
 * when the cache is full (then it runs unnamed). */
static store_status prepared_name(pg_store *s, const char *sql, const pg_params *p, char *name,
                                  size_t len, int *named)
{
    int slot = -1;
    *named = 0;
    for (int i = 0; i < PG_STMT_CACHE && slot < 0; i++)
        if (s->prepared[i] == sql || s->prepared[i] == NULL)
            slot = i;
    if (slot < 0)
        return STORE_OK;
    snprintf(name, len, "scepd_%d", slot);
    *named = 1;
    if (s->prepared[slot] == sql)
        return STORE_OK;
    PGresult *r = PQprepare(s->conn, name, sql, p ? p->n : 0, p ? p->types : NULL);
    store_status ret = PQresultStatus(r) == PGRES_COMMAND_OK ? STORE_OK : result_fail(s, r);
    PQclear(r);
    if (ret == STORE_OK)
        s->prepared[slot] = sql;
    return ret;
}

static store_status run_once(pg_store *s, const char *sql, const pg_params *p, PGresult **res)
{
    store_status ret = connected(s);
    char name[24];
    int named = 0;
    if (ret == STORE_OK)
        ret = prepared_name(s, sql, p, name, sizeof(name), &named);
    if (ret != STORE_OK)
        return ret;
    PGresult *r =
        named ? PQexecPrepared(s->conn, name, p->n, p->values, p->lengths, p->formats, 1)
              : PQexecParams(s->conn, sql, p->n, p->types, p->values, p->lengths, p->formats, 1);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        ret = r == NULL ? STORE_NOMEM : result_fail(s, r);
        if (r == NULL && PQstatus(s->conn) != CONNECTION_OK)
            ret = lost(s);
        PQclear(r);
        return ret;
    }
    if (res != NULL)
        *res = r;
    else
        PQclear(r);
    return STORE_OK;
}

static const char sql_begin[] = "BEGIN";
static const char sql_commit[] = "COMMIT";

/* Whether sql may run again on a new connection after the old one dropped under it, outside a
 * transaction: a read or a BEGIN changed nothing, whatever the server received of it. Writes
 * are not repeated: the first may have committed. */
static int safe_again(const char *sql)
{
    return strncmp(sql, "SELECT ", 7) == 0 || sql == sql_begin;
}

store_status pg_run(pg_store *s, const char *sql, const pg_params *p, PGresult **res)
{
    static const pg_params none = {0};
    if (res != NULL)
        *res = NULL;
    if (p == NULL)
        p = &none;
    int idle = s->conn != NULL && PQstatus(s->conn) == CONNECTION_OK &&
               PQtransactionStatus(s->conn) == PQTRANS_IDLE;
    store_status ret = run_once(s, sql, p, res);
    if (ret == STORE_ERROR && idle && safe_again(sql) && PQstatus(s->conn) != CONNECTION_OK)
        ret = run_once(s, sql, p, res); /* a connection that died while idle */
    return ret;
}

store_status pg_query(pg_store *s, const char *sql, const pg_params *p, PGresult **res)
{
    store_status ret = pg_run(s, sql, p, res);
    if (ret == STORE_OK && PQntuples(*res) == 0) {
        PQclear(*res);
        *res = NULL;
        return STORE_NOT_FOUND;
    }
    return ret;
}

store_status pg_script(pg_store *s, const char *sql)
{
    store_status ret = connected(s);
    if (ret != STORE_OK)
        return ret;
    PGresult *r = PQexec(s->conn, sql);
    ExecStatusType st = PQresultStatus(r);
    ret = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? STORE_OK : result_fail(s, r);
    PQclear(r);
    return ret;
}

store_status pg_begin(pg_store *s)
{
    return pg_run(s, sql_begin, NULL, NULL);
}

/* COMMIT answers "ROLLBACK" for a transaction that had failed: that is no commit. A COMMIT
 * with a WARNING is not known durable either: the server says so when the wait for a
 * synchronous standby was cancelled ("committed locally, but might not have been replicated").
 * Either way the caller answers 503, and a resend finds what did commit. */
store_status pg_commit(pg_store *s)
{
    PGresult *r = NULL;
    s->warning[0] = '\0';
    store_status ret = pg_run(s, sql_commit, NULL, &r);
    if (ret == STORE_OK && strcmp(PQcmdStatus(r), "COMMIT") != 0) {
        pg_set_error(s, "postgresql: the transaction was rolled back");
        ret = STORE_ERROR;
    } else {
        ret = pg_autocommit_confirmed(s, ret);
    }
    PQclear(r);
    return ret;
}

store_status pg_autocommit_confirmed(pg_store *s, store_status ret)
{
    if (ret != STORE_OK || s->warning[0] == '\0')
        return ret;
    pg_set_error(s,
                 "postgresql store %s: the server did not confirm the commit durable (%s): "
                 "not answered as committed",
                 s->shown, s->warning);
    return STORE_ERROR;
}

void pg_rollback(pg_store *s)
{
    PGTransactionStatusType t = s->conn ? PQtransactionStatus(s->conn) : PQTRANS_UNKNOWN;
    if (t == PQTRANS_INTRANS || t == PQTRANS_INERROR)
        PQclear(PQexec(s->conn, "ROLLBACK"));
}

/* ---- results ---- */

int pg_changed(PGresult *r)
{
    long n = strtol(PQcmdTuples(r), NULL, 10);
    return n > 0 && n < 1000000000L ? (int)n : 0;
}

void pg_col_text(const PGresult *r, int row, int col, char *dst, size_t size)
{
    size_t n = PQgetisnull(r, row, col) ? 0 : (size_t)PQgetlength(r, row, col);
    const char *v = PQgetvalue(r, row, col);
    if (n > size - 1) {
        n = size - 1;
        while (n > 0 && ((unsigned char)v[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(dst, v, n);
    dst[n] = '\0';
}

int64_t pg_col_int(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col) || PQgetlength(r, row, col) != 8)
        return 0;
    const unsigned char *p = (const unsigned char *)PQgetvalue(r, row, col);
    uint64_t v = 0;
    for (int b = 0; b < 8; b++)
        v = v << 8 | p[b];
    return (int64_t)v;
}

int pg_col_blob(const PGresult *r, int row, int col, unsigned char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    int n = PQgetisnull(r, row, col) ? 0 : PQgetlength(r, row, col);
    if (n <= 0)
        return 0;
    *out = malloc((size_t)n);
    if (*out == NULL)
        return -1;
    memcpy(*out, PQgetvalue(r, row, col), (size_t)n);
    *len = (size_t)n;
    return 0;
}
