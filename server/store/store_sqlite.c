/*
 * The SQLite backend of the store. One connection per handle. Every operation is a single
 * statement or one BEGIN IMMEDIATE transaction, so several scepd processes can share the file:
 * WAL lets readers run beside the one writer, the busy timeout makes writers queue.
 * Statements are cached per handle; one in use is never handed out twice, so a list callback may
 * use the same handle again. All SQL is constant; data only ever travels in bound parameters.
 * A plain handle flushes each commit (synchronous=FULL); the handles of a group leave flushing to
 * the group's flusher (sqlite_flush.c) and only write at commit.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store_sqlite.h"

#define MAX_PATH_BYTES 4096u
#define CHECKPOINT_FRAMES 1000 /* SQLite's own automatic checkpoint threshold */

/* Prepared statements are kept per handle, keyed by their SQL text (always a literal, so its
 * address is the key): preparing them on every call cost a twentieth of an enrollment. */
#define STMT_CACHE 32

typedef struct cached_stmt {
    const char *sql;
    sqlite3_stmt *st;
    int in_use; /* a callback may call back into the handle: then a fresh statement is made */
} cached_stmt;

typedef struct sqlite_store {
    store base; /* first: a store * is a sqlite_store * */
    sqlite3 *db;
    sqlite_flusher *flusher; /* group commit, or NULL: every commit flushed */
    uint64_t unflushed;      /* the flusher's ticket for our last commit, 0 when none waits */
    int flush_now;           /* the commit under way ends an exchange: start flushing it */
    cached_stmt cache[STMT_CACHE];
    char err[512];
} sqlite_store;

/* Schema migrations: migrations[v] takes a database from version v to v + 1 and ends by
 * setting user_version to v + 1, inside the caller's transaction. Never edit a released step;
 * append a new one and bump STORE_SCHEMA_VERSION. */
static const char *const migrations[] = {
    /* 0 -> 1: the first schema. States are the enum values of store.h, which never change. */
    "CREATE TABLE certs ("
    " serial TEXT PRIMARY KEY NOT NULL"
    "  CHECK (length(serial) BETWEEN 1 AND 40 AND serial NOT GLOB '*[^0-9A-F]*'),"
    " subject TEXT NOT NULL,"
    " issuer TEXT NOT NULL,"
    " key_id TEXT NOT NULL,"
    " transaction_id TEXT NOT NULL,"
    " not_before INTEGER NOT NULL,"
    " not_after INTEGER NOT NULL,"
    " state INTEGER NOT NULL CHECK (state IN (0, 1, 2)),"
    " revoked_at INTEGER NOT NULL DEFAULT 0,"
    " revocation_reason INTEGER NOT NULL DEFAULT -1,"
    " is_ca INTEGER NOT NULL DEFAULT 0 CHECK (is_ca IN (0, 1)),"
    " der BLOB NOT NULL);"
    "CREATE INDEX certs_subject ON certs (subject);"
    "CREATE TABLE requests ("
    " id INTEGER PRIMARY KEY,"
    " transaction_id TEXT UNIQUE NOT NULL CHECK (length(transaction_id) > 0),"
    " key_id TEXT NOT NULL,"
    " subject TEXT NOT NULL,"
    " message_type INTEGER NOT NULL,"
    " state INTEGER NOT NULL CHECK (state IN (0, 1, 2, 3)),"
    " csr BLOB,"
    " cert_serial TEXT REFERENCES certs (serial),"
    " reason TEXT NOT NULL DEFAULT '',"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL,"
    " CHECK ((state = 3) = (cert_serial IS NOT NULL)));"
    "CREATE INDEX requests_state ON requests (state);"
    "CREATE TABLE events ("
    " id INTEGER PRIMARY KEY,"
    " at INTEGER NOT NULL,"
    " kind TEXT NOT NULL,"
    " ref TEXT NOT NULL DEFAULT '',"
    " detail TEXT NOT NULL DEFAULT '');"
    "PRAGMA application_id = 1396917584;" /* STORE_SQLITE_APPLICATION_ID */
    "PRAGMA user_version = 1;",
    /* 1 -> 2: CRLs and one-time challenges. */
    "CREATE TABLE crls ("
    " number INTEGER PRIMARY KEY,"
    " this_update INTEGER NOT NULL,"
    " next_update INTEGER NOT NULL,"
    " der BLOB NOT NULL);"
    "CREATE TABLE challenges ("
    " hash TEXT PRIMARY KEY NOT NULL CHECK (length(hash) = 64),"
    " created_at INTEGER NOT NULL,"
    " expires_at INTEGER NOT NULL,"
    " used_at INTEGER NOT NULL DEFAULT 0,"
    " subject_match TEXT NOT NULL DEFAULT '');"
    "PRAGMA user_version = 2;",
    /* 2 -> 3: the hashed challenge of each request, for the draft's manual revocation check. */
    "ALTER TABLE requests ADD COLUMN challenge_hash TEXT NOT NULL DEFAULT '';"
    "PRAGMA user_version = 3;",
    /* 3 -> 4: CRLs of each CA generation (after a rollover the previous one still publishes). */
    "ALTER TABLE crls ADD COLUMN issuer_key TEXT NOT NULL DEFAULT '';"
    "CREATE INDEX crls_issuer ON crls (issuer_key, number);"
    "PRAGMA user_version = 4;",
};

_Static_assert(sizeof(migrations) / sizeof(migrations[0]) == STORE_SCHEMA_VERSION,
               "one migration step per schema version");
_Static_assert(STORE_SQLITE_APPLICATION_ID == 1396917584, "application_id in the schema");

#define REQUEST_COLS                                                                               \
    "id, transaction_id, key_id, subject, message_type, state, csr, cert_serial, reason, "         \
    "created_at, updated_at, challenge_hash"
#define CERT_COLS                                                                                  \
    "serial, subject, issuer, key_id, transaction_id, not_before, not_after, state, revoked_at, "  \
    "revocation_reason, is_ca, der"

/* ---- errors ---- */

static sqlite_store *impl(store *s)
{
    return (sqlite_store *)s;
}

__attribute__((format(printf, 2, 3))) static void set_error(sqlite_store *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err, sizeof(s->err), fmt, ap);
    va_end(ap);
}

static store_status map_rc(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return STORE_BUSY;
    case SQLITE_NOMEM:
        return STORE_NOMEM;
    case SQLITE_CONSTRAINT:
        /* A taken key is EXISTS; CHECK, NOT NULL and foreign keys are our own bugs. */
        if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
            return STORE_EXISTS;
        return STORE_ERROR;
    default:
        return STORE_ERROR;
    }
}

static store_status db_fail(sqlite_store *s, int rc)
{
    const char *msg = sqlite3_errmsg(s->db), *code = sqlite3_errstr(rc);
    if (strcmp(msg, code) == 0)
        set_error(s, "sqlite: %s", msg);
    else
        set_error(s, "sqlite: %s (%s)", msg, code);
    return map_rc(rc);
}

static store_status misuse(sqlite_store *s, const char *what)
{
    set_error(s, "store: %s", what);
    return STORE_ERROR;
}

static store_status nomem(sqlite_store *s)
{
    set_error(s, "store: out of memory");
    return STORE_NOMEM;
}

/* ---- bounded text ---- */

/* The length of text within a field of `size` bytes (NUL included), cut back to a UTF-8
 * character boundary when the text does not fit. */
static size_t text_len(const char *text, size_t size)
{
    size_t n = strnlen(text, size - 1);
    if (n == size - 1 && text[n] != '\0') {
        while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80)
            n--;
    }
    return n;
}

static void copy_text(char *dst, size_t size, const unsigned char *src, size_t len)
{
    if (src == NULL)
        len = 0;
    if (len > size - 1) {
        len = size - 1;
        while (len > 0 && (src[len] & 0xC0) == 0x80)
            len--;
    }
    if (len > 0)
        memcpy(dst, src, len);
    dst[len] = '\0';
}

/* ---- statements ---- */

static store_status prepare(sqlite_store *s, const char *sql, sqlite3_stmt **st)
{
    cached_stmt *free_slot = NULL;
    for (int i = 0; i < STMT_CACHE; i++) {
        cached_stmt *c = &s->cache[i];
        if (c->sql == sql && !c->in_use) {
            c->in_use = 1;
            *st = c->st;
            return STORE_OK;
        }
        if (c->sql == NULL && free_slot == NULL)
            free_slot = c;
    }
    int rc =
        sqlite3_prepare_v3(s->db, sql, -1, free_slot ? SQLITE_PREPARE_PERSISTENT : 0, st, NULL);
    if (rc != SQLITE_OK) {
        *st = NULL;
        return db_fail(s, rc);
    }
    if (free_slot != NULL)
        *free_slot = (cached_stmt){sql, *st, 1};
    return STORE_OK;
}

/* Done with a statement: a cached one is reset for the next call, any other finalized. */
static void release(sqlite_store *s, sqlite3_stmt *st)
{
    for (int i = 0; st != NULL && i < STMT_CACHE; i++) {
        cached_stmt *c = &s->cache[i];
        if (c->st == st) {
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
            c->in_use = 0;
            return;
        }
    }
    sqlite3_finalize(st);
}

/* Binds parameters ?1, ?2, ... in order and keeps the first error. */
typedef struct binder {
    sqlite3_stmt *st;
    int idx;
    int rc;
} binder;

static void bind_keep(binder *b, int rc)
{
    if (b->rc == SQLITE_OK)
        b->rc = rc;
}

/* text NULL binds NULL; otherwise at most size - 1 bytes of it. */
static void bind_text(binder *b, const char *text, size_t size)
{
    int idx = ++b->idx;
    if (text == NULL)
        bind_keep(b, sqlite3_bind_null(b->st, idx));
    else
        bind_keep(b,
                  sqlite3_bind_text(b->st, idx, text, (int)text_len(text, size), SQLITE_TRANSIENT));
}

static void bind_int(binder *b, int64_t v)
{
    bind_keep(b, sqlite3_bind_int64(b->st, ++b->idx, v));
}

static void bind_blob(binder *b, const unsigned char *p, size_t len)
{
    int idx = ++b->idx;
    if (p == NULL || len == 0)
        bind_keep(b, sqlite3_bind_zeroblob(b->st, idx, 0));
    else
        bind_keep(b, sqlite3_bind_blob64(b->st, idx, p, len, SQLITE_TRANSIENT));
}

static store_status bind_done(sqlite_store *s, binder *b)
{
    if (b->rc == SQLITE_OK)
        return STORE_OK;
    return db_fail(s, b->rc);
}

/* Steps a statement that returns no rows; *changes (may be NULL) gets the rows it changed. */
static store_status run(sqlite_store *s, sqlite3_stmt *st, int *changes)
{
    int rc = sqlite3_step(st);
    store_status ret = STORE_OK;
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        ret = db_fail(s, rc);
    else if (changes != NULL)
        *changes = sqlite3_changes(s->db);
    release(s, st);
    return ret;
}

static store_status exec_sql(sqlite_store *s, const char *sql)
{
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? STORE_OK : db_fail(s, rc);
}

/* The statements of every issuing transaction, prepared once per connection like the others
 * (the cache knows a statement by the address of its text). */
static const char sql_begin[] = "BEGIN IMMEDIATE";
static const char sql_commit[] = "COMMIT";

static store_status step_sql(sqlite_store *s, const char *sql)
{
    sqlite3_stmt *st = NULL;
    store_status ret = prepare(s, sql, &st);
    return ret == STORE_OK ? run(s, st, NULL) : ret;
}

static void rollback(sqlite_store *s)
{
    if (!sqlite3_get_autocommit(s->db))
        (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

/* ---- rows ---- */

static void col_text(sqlite3_stmt *st, int col, char *dst, size_t size)
{
    const unsigned char *text = sqlite3_column_text(st, col);
    copy_text(dst, size, text, (size_t)sqlite3_column_bytes(st, col));
}

static int col_blob(sqlite3_stmt *st, int col, unsigned char **out, size_t *len)
{
    const void *p = sqlite3_column_blob(st, col);
    int n = sqlite3_column_bytes(st, col);
    if (p == NULL || n <= 0)
        return 0;
    *out = malloc((size_t)n);
    if (*out == NULL)
        return -1;
    memcpy(*out, p, (size_t)n);
    *len = (size_t)n;
    return 0;
}

static int row_request(sqlite3_stmt *st, store_request *r)
{
    memset(r, 0, sizeof(*r));
    r->id = sqlite3_column_int64(st, 0);
    col_text(st, 1, r->transaction_id, sizeof(r->transaction_id));
    col_text(st, 2, r->key_id, sizeof(r->key_id));
    col_text(st, 3, r->subject, sizeof(r->subject));
    r->message_type = sqlite3_column_int(st, 4);
    r->state = (request_state)sqlite3_column_int(st, 5);
    col_text(st, 7, r->cert_serial, sizeof(r->cert_serial));
    col_text(st, 8, r->reason, sizeof(r->reason));
    r->created_at = sqlite3_column_int64(st, 9);
    r->updated_at = sqlite3_column_int64(st, 10);
    col_text(st, 11, r->challenge_hash, sizeof(r->challenge_hash));
    return col_blob(st, 6, &r->csr_der, &r->csr_len);
}

static int row_cert(sqlite3_stmt *st, store_cert *c)
{
    memset(c, 0, sizeof(*c));
    col_text(st, 0, c->serial, sizeof(c->serial));
    col_text(st, 1, c->subject, sizeof(c->subject));
    col_text(st, 2, c->issuer, sizeof(c->issuer));
    col_text(st, 3, c->key_id, sizeof(c->key_id));
    col_text(st, 4, c->transaction_id, sizeof(c->transaction_id));
    c->not_before = sqlite3_column_int64(st, 5);
    c->not_after = sqlite3_column_int64(st, 6);
    c->state = (cert_state)sqlite3_column_int(st, 7);
    c->revoked_at = sqlite3_column_int64(st, 8);
    c->revocation_reason = sqlite3_column_int(st, 9);
    c->is_ca = sqlite3_column_int(st, 10);
    return col_blob(st, 11, &c->der, &c->der_len);
}

/* Steps a bound query for one request and finalizes it. *out is written only on STORE_OK. */
static store_status fetch_request(sqlite_store *s, sqlite3_stmt *st, store_request *out)
{
    store_request r = {0};
    store_status ret = STORE_OK;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        ret = STORE_NOT_FOUND;
    else if (rc != SQLITE_ROW)
        ret = db_fail(s, rc);
    else if (row_request(st, &r) != 0)
        ret = nomem(s);
    release(s, st);
    if (ret == STORE_OK)
        *out = r;
    return ret;
}

static store_status fetch_cert(sqlite_store *s, sqlite3_stmt *st, store_cert *out)
{
    store_cert c = {0};
    store_status ret = STORE_OK;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        ret = STORE_NOT_FOUND;
    else if (rc != SQLITE_ROW)
        ret = db_fail(s, rc);
    else if (row_cert(st, &c) != 0)
        ret = nomem(s);
    release(s, st);
    if (ret == STORE_OK)
        *out = c;
    return ret;
}

/* ---- requests ---- */

static int request_state_ok(request_state state)
{
    return state >= REQUEST_PENDING && state <= REQUEST_ISSUED;
}

static store_status get_request_by_tid(sqlite_store *s, const char *tid, store_request *out)
{
    sqlite3_stmt *st;
    store_status ret =
        prepare(s, "SELECT " REQUEST_COLS " FROM requests WHERE transaction_id = ?1", &st);
    if (ret != STORE_OK)
        return ret;
    binder b = {st, 0, SQLITE_OK};
    bind_text(&b, tid, STORE_TID);
    ret = bind_done(s, &b);
    if (ret != STORE_OK) {
        release(s, st);
        return ret;
    }
    return fetch_request(s, st, out);
}

/* Inserts req unless its transactionID is taken; *id is the new row's, 0 when none. It is
 * PENDING or APPROVED as req->state says, or ISSUED when serial is not NULL. */
static store_status insert_request(sqlite_store *s, const store_request *req, const char *serial,
                                   int64_t now, int64_t *id)
{
    sqlite3_stmt *st;
    *id = 0;
    store_status ret = prepare(s,
                               "INSERT INTO requests (transaction_id, key_id, subject, "
                               "message_type, state, csr, cert_serial, reason, created_at, "
                               "updated_at, challenge_hash) "
                               "VALUES (?1, ?2, ?3, ?4, ?8, ?5, ?9, '', ?6, ?6, ?7) "
                               "ON CONFLICT (transaction_id) DO NOTHING RETURNING id",
                               &st);
    if (ret != STORE_OK)
        return ret;
    binder b = {st, 0, SQLITE_OK};
    bind_text(&b, req->transaction_id, sizeof(req->transaction_id));
    bind_text(&b, req->key_id, sizeof(req->key_id));
    bind_text(&b, req->subject, sizeof(req->subject));
    bind_int(&b, req->message_type);
    bind_blob(&b, req->csr_der, req->csr_len);
    bind_int(&b, now);
    bind_text(&b, req->challenge_hash, sizeof(req->challenge_hash));
    bind_int(&b, serial != NULL                   ? REQUEST_ISSUED
                 : req->state == REQUEST_APPROVED ? REQUEST_APPROVED
                                                  : REQUEST_PENDING);
    bind_text(&b, serial, STORE_HEX_SERIAL);
    ret = bind_done(s, &b);
    if (ret != STORE_OK) {
        release(s, st);
        return ret;
    }
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
        rc = sqlite3_step(st);
    }
    ret = rc == SQLITE_DONE ? STORE_OK : db_fail(s, rc);
    release(s, st);
    return ret;
}

/* What insert_request() stored, without reading it back: the same truncations as the binds. */
static store_status inserted_request(const store_request *req, const char *serial, int64_t id,
                                     int64_t now, store_request *out)
{
    store_request r = {0};
    r.id = id;
    copy_text(r.transaction_id, sizeof(r.transaction_id),
              (const unsigned char *)req->transaction_id,
              text_len(req->transaction_id, sizeof(req->transaction_id)));
    copy_text(r.key_id, sizeof(r.key_id), (const unsigned char *)req->key_id,
              text_len(req->key_id, sizeof(req->key_id)));
    copy_text(r.subject, sizeof(r.subject), (const unsigned char *)req->subject,
              text_len(req->subject, sizeof(req->subject)));
    copy_text(r.challenge_hash, sizeof(r.challenge_hash),
              (const unsigned char *)req->challenge_hash,
              text_len(req->challenge_hash, sizeof(req->challenge_hash)));
    r.message_type = req->message_type;
    r.state = serial != NULL                   ? REQUEST_ISSUED
              : req->state == REQUEST_APPROVED ? REQUEST_APPROVED
                                               : REQUEST_PENDING;
    if (serial != NULL)
        copy_text(r.cert_serial, sizeof(r.cert_serial), (const unsigned char *)serial,
                  text_len(serial, STORE_HEX_SERIAL));
    r.created_at = r.updated_at = now;
    if (req->csr_len > 0) {
        r.csr_der = malloc(req->csr_len);
        if (r.csr_der == NULL)
            return STORE_NOMEM;
        memcpy(r.csr_der, req->csr_der, req->csr_len);
        r.csr_len = req->csr_len;
    }
    *out = r;
    return STORE_OK;
}

static store_status sq_request_put(store *base, const store_request *req, store_request *out)
{
    sqlite_store *s = impl(base);
    if (out != req)
        memset(out, 0, sizeof(*out));
    if (req->transaction_id[0] == '\0')
        return misuse(s, "request without a transactionID");
    if (req->csr_len > STORE_SQLITE_MAX_BLOB || (req->csr_len > 0 && req->csr_der == NULL))
        return misuse(s, "CSR missing or above the store's ceiling");
    int64_t id = 0, now = now_s();
    store_status ret = insert_request(s, req, NULL, now, &id);
    if (ret != STORE_OK)
        return ret;
    if (id != 0)
        return inserted_request(req, NULL, id, now, out);
    /* Taken: the row is there (requests are never deleted); read what is stored. */
    ret = get_request_by_tid(s, req->transaction_id, out);
    if (ret == STORE_NOT_FOUND)
        return misuse(s, "request vanished after insert");
    return ret == STORE_OK ? STORE_EXISTS : ret;
}

static store_status sq_request_get(store *base, const char *transaction_id, store_request *out)
{
    memset(out, 0, sizeof(*out));
    return get_request_by_tid(impl(base), transaction_id, out);
}

static store_status sq_request_get_by_cert(store *base, const char *serial, store_request *out)
{
    sqlite_store *s = impl(base);
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *st;
    store_status ret =
        prepare(s, "SELECT " REQUEST_COLS " FROM requests WHERE cert_serial = ?1", &st);
    if (ret != STORE_OK)
        return ret;
    binder b = {st, 0, SQLITE_OK};
    bind_text(&b, serial, STORE_HEX_SERIAL);
    ret = bind_done(s, &b);
    if (ret != STORE_OK) {
        release(s, st);
        return ret;
    }
    return fetch_request(s, st, out);
}

static store_status sq_request_get_by_id(store *base, int64_t id, store_request *out)
{
    sqlite_store *s = impl(base);
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *st;
    store_status ret = prepare(s, "SELECT " REQUEST_COLS " FROM requests WHERE id = ?1", &st);
    if (ret != STORE_OK)
        return ret;
    binder b = {st, 0, SQLITE_OK};
    bind_int(&b, id);
    ret = bind_done(s, &b);
    if (ret != STORE_OK) {
        release(s, st);
        return ret;
    }
    return fetch_request(s, st, out);
}

/* Why an update of request id by state matched nothing: no such id, or another state. */
static store_status request_miss(sqlite_store *s, int64_t id, request_state expected)
{
    store_request r = {0};
    store_status ret = sq_request_get_by_id(&s->base, id, &r);
    if (ret == STORE_NOT_FOUND) {
        set_error(s, "store: no request with id %lld", (long long)id);
    } else if (ret == STORE_OK) {
        set_error(s, "store: request %lld is %s, not %s", (long long)id,
                  request_state_name(r.state), request_state_name(expected));
        ret = STORE_CONFLICT;
        store_request_clear(&r);
    }
    return ret;
}

static store_status sq_request_transition(store *base, int64_t id, request_state from,
                                          request_state to, const char *reason)
{
    sqlite_store *s = impl(base);
    if (!request_state_ok(from) || !request_state_ok(to))
        return misuse(s, "invalid request state");
    if (to == REQUEST_ISSUED)
        return misuse(s, "only cert_issue moves a request to ISSUED");
    sqlite3_stmt *st;
    store_status ret = prepare(s,
                               "UPDATE requests SET state = ?1, reason = coalesce(?2, reason), "
                               "updated_at = ?3 WHERE id = ?4 AND state = ?5",
                               &st);
    if (ret != STORE_OK)
        return ret;
    binder b = {st, 0, SQLITE_OK};
    bind_int(&b, to);
    bind_text(&b, reason, STORE_TEXT);
    bind_int(&b, now_s());
    bind_int(&b, id);
    bind_int(&b, from);
    ret = bind_done(s, &b);
    if (ret != STORE_OK) {
        release(s, st);
        return ret;
    }
    int changed = 0;
    ret = run(s, st, &changed);
    if (ret == STORE_OK && changed == 0)
        ret = request_miss(s, id, from);
    return ret;
}

/* Calls fn for each row of a bound request query until fn returns non-zero. */
static store_status each_request(sqlite_store *s, sqlite3_stmt *st, store_request_fn fn, void *arg)
{
    store_status ret = STORE_OK;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_request r;
        if (row_request(st, &r) != 0) {
            ret = nomem(s);
            break;
        }
        int stop = fn(arg, &r);
        store_request_clear(&r);
        if (stop)
            break;
    }
    if (ret == STORE_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
        ret = db_fail(s, rc);
    release(s, st);
    return ret;
}

static store_status sq_request_list(store *base, int only_pending, store_request_fn fn, void *arg)
{
    sqlite_store *s = impl(base);
    if (fn == NULL)
        return misuse(s, "list without a callback");
    const char *sql = only_pending ? "SELECT " REQUEST_COLS
                                     " FROM requests WHERE state = 0 ORDER BY id"
                                   : "SELECT " REQUEST_COLS " FROM requests ORDER BY id";
    sqlite3_stmt *st;
    store_status ret = prepare(s, sql, &st);
    if (ret != STORE_OK)
        return ret;
    return each_request(s, st, fn, arg);
}

/* ---- certificates ---- */

static int serial_ok(const char *serial)
{
    size_t n = strnlen(serial, STORE_HEX_SERIAL);
    if (n == 0 || n >= STORE_HEX_SERIAL)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = serial[i];
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F')))
            return 0;
    }
    return 1;
}

static int cert_state_ok(cert_state state)
{
    return state >= CERT_VALID && state <= CERT_SUPERSEDED;
}

/* RFC 5280 CRLReason: 0..10 (7 is unused but harmless), or -1 for none. */
static int crl_reason_ok(int reason)
{
    return reason >= -1 && reason <= 10;
}

static store_status check_cert(sqlite_store *s, const store_cert *c)
{
    if (!serial_ok(c->serial))
        return misuse(s, "serial is not 1 to 40 upper-case hex digits");
    if (c->der == NULL || c->der_len == 0 || c->der_len > STORE_SQLITE_MAX_BLOB)
        return misuse(s, "certificate DER missing or above the store's ceiling");
    if (!cert_state_ok(c->state) || !crl_reason_ok(c->revocation_reason))
        return misuse(s, "invalid certificate state or revocation reason");
    return STORE_OK;
}

static store_status insert_cert(sqlite_store *s, const store_cert *c)
{
    sqlite3_stmt *st;
    store_status ret = prepare(s,
                               "INSERT INTO certs (" CERT_COLS ") VALUES "
                               "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                               &st);
    if (ret != STORE_OK)
        return ret;
    binder b = {st, 0, SQLITE_OK};
    bind_text(&b, c->serial, sizeof(c->serial));
    bind_text(&b, c->subject, sizeof(c->subject));
    bind_text(&b, c->issuer, sizeof(c->issuer));
    bind_text(&b, c->key_id, sizeof(c->key_id));
    bind_text(&b, c->transaction_id, sizeof(c->transaction_id));
    bind_int(&b, c->not_before);
    bind_int(&b, c->not_after);
    bind_int(&b, c->state);
    bind_int(&b, c->revoked_at);
    bind_int(&b, c->revocation_reason);
    bind_int(&b, c->is_ca != 0);
    bind_blob(&b, c->der, c->der_len);
    ret = bind_done(s, &b);
    if (ret != STORE_OK) {
        release(s, st);
        return ret;
    }
    ret = run(s, st, NULL);
    if (ret == STORE_EXISTS)
        set_error(s, "store: serial %.40s is taken", c->serial);
    return ret;
}

/* Inside the issuing transaction: the request must be in `from` (we hold the write lock). */
static store_status request_expect(sqlite_store *s, int64_t id, request_state from)
{
    store_request r = {0};
    store_status ret = sq_request_get_by_id(&s->base, id, &r);
    if (ret == STORE_NOT_FOUND)
        set_error(s, "store: no request with id %lld", (long long)id);
    if (ret != STORE_OK)
        return ret;
    if (r.state != from) {
        set_error(s, "store: request %lld is %s, not %s", (long long)id,
                  request_state_name(r.state), request_state_name(from));
        ret = STORE_CONFLICT;
    }
    store_request_clear(&r);
    return ret;
}

static store_status mark_issued(sqlite_store *s, int64_t id, request_state from, const char *serial)
{
    sqlite3_stmt *st;
    store_status ret = prepare(s,
                               "UPDATE requests SET state = 3, cert_serial = ?1, updated_at = ?2 "
                               "WHERE id = ?3 AND state = ?4",
                               &st);
    if (ret != STORE_OK)
        return ret;
    binder b = {st, 0, SQLITE_OK};
    bind_text(&b, serial, STORE_HEX_SERIAL);
    bind_int(&b, now_s());
    bind_int(&b, id);
    bind_int(&b, from);
    ret = bind_done(s, &b);
    if (ret != STORE_OK) {
        release(s, st);
        return ret;
    }
    int changed = 0;
    ret = run(s, st, &changed);
    if (ret == STORE_OK && changed != 1)
        ret = request_miss(s, id, from);
    return ret;
}

static store_status sq_cert_issue(store *base, const store_cert *cert, int64_t request_id,
                                  request_state from)
{
    sqlite_store *s = impl(base);
    store_status ret = check_cert(s, cert);
    if (ret != STORE_OK)
        return ret;
    if (request_id != 0 && !request_state_ok(from))
        return misuse(s, "invalid request state");
    ret = step_sql(s, sql_begin);
    if (ret != STORE_OK)
        return ret;
    /* The request first: when another process already issued, that is the answer, whatever
     * our serial. */
    if (request_id != 0)
        ret = request_expect(s, request_id, from);
    if (ret == STORE_OK)
        ret = insert_cert(s, cert);
    if (ret == STORE_OK && request_id != 0)
        ret = mark_issued(s, request_id, from, cert->serial);
    /* The reply carrying this certificate waits for the flush: start it while it is built. */
    s->flush_now = 1;
    if (ret == STORE_OK)
        ret = step_sql(s, sql_commit);
    s->flush_now = 0;
    if (ret != STORE_OK)
        rollback(s);
    return ret;
}

static store_status sq_request_issue(store *base, const store_request *req, const store_cert *cert,
                                     store_request *out)
{
    sqlite_store *s = impl(base);
    memset(out, 0, sizeof(*out));
    store_status ret = check_cert(s, cert);
    if (ret != STORE_OK)
        return ret;
    if (req->transaction_id[0] == '\0')
        return misuse(s, "request without a transactionID");
    if (req->csr_len > STORE_SQLITE_MAX_BLOB || (req->csr_len > 0 && req->csr_der == NULL))
        return misuse(s, "CSR missing or above the store's ceiling");
    int64_t id = 0, now = now_s();
    ret = step_sql(s, sql_begin);
    if (ret != STORE_OK)
        return ret;
    /* The certificate first: the request's serial refers to it. */
    ret = insert_cert(s, cert);
    if (ret == STORE_OK)
        ret = insert_request(s, req, cert->serial, now, &id);
    if (ret == STORE_OK && id == 0)
        ret = STORE_CONFLICT;
    /* The reply carrying this certificate waits for the flush: start it while it is built. */
    s->flush_now = 1;
    if (ret == STORE_OK)
        ret = step_sql(s, sql_commit);
    s->flush_now = 0;
    if (ret != STORE_OK)
        rollback(s);
    if (ret == STORE_OK)
        return inserted_request(req, cert->serial, id, now, out);
    if (ret == STORE_CONFLICT) {
        store_status got = get_request_by_tid(s, req->transaction_id, out);
        if (got != STORE_OK)
            return got == STORE_NOT_FOUND ? misuse(s, "request vanished after a conflict") : got;
    }
    return ret;
}

static store_status sq_cert_get(store *base, const char *serial, store_cert *out)
{
    sqlite_store *s = impl(base);
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *st;
    store_status ret = prepare(s, "SELECT " CERT_COLS " FROM certs WHERE serial = ?1", &st);
    if (ret != STORE_OK)
        return ret;
    binder b = {st, 0, SQLITE_OK};
    bind_text(&b, serial, STORE_HEX_SERIAL);
    ret = bind_done(s, &b);
    if (ret != STORE_OK) {
        release(s, st);
        return ret;
    }
    return fetch_cert(s, st, out);
}

/* "%text%" for LIKE, with the wildcards and the escape character in text taken literally.
 * Caller frees. */
static char *like_pattern(const char *text)
{
    size_t n = text_len(text, STORE_TEXT);
    char *p = malloc(2 * n + 3);
    if (p == NULL)
        return NULL;
    size_t j = 0;
    p[j++] = '%';
    for (size_t i = 0; i < n; i++) {
        if (text[i] == '%' || text[i] == '_' || text[i] == '\\')
            p[j++] = '\\';
        p[j++] = text[i];
    }
    p[j++] = '%';
    p[j] = '\0';
    return p;
}

static store_status each_cert(sqlite_store *s, sqlite3_stmt *st, store_cert_fn fn, void *arg)
{
    store_status ret = STORE_OK;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_cert c;
        if (row_cert(st, &c) != 0) {
            ret = nomem(s);
            break;
        }
        int stop = fn(arg, &c);
        store_cert_clear(&c);
        if (stop)
            break;
    }
    if (ret == STORE_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
        ret = db_fail(s, rc);
    release(s, st);
    return ret;
}

static store_status sq_cert_list(store *base, const cert_filter *filter, store_cert_fn fn,
                                 void *arg)
{
    sqlite_store *s = impl(base);
    static const cert_filter any = {0};
    const cert_filter *f = filter != NULL ? filter : &any;
    if (fn == NULL)
        return misuse(s, "list without a callback");
    char *pattern = NULL;
    if (f->subject_like != NULL && f->subject_like[0] != '\0') {
        pattern = like_pattern(f->subject_like);
        if (pattern == NULL)
            return nomem(s);
    }
    sqlite3_stmt *st;
    store_status ret = prepare(s,
                               "SELECT " CERT_COLS " FROM certs"
                               " WHERE (?1 IS NULL OR subject LIKE ?1 ESCAPE '\\')"
                               " AND (?2 = 0 OR (state != 1 AND not_after > ?3))"
                               " AND (?4 = 0 OR state = 1)"
                               " ORDER BY rowid LIMIT ?5",
                               &st);
    if (ret == STORE_OK) {
        binder b = {st, 0, SQLITE_OK};
        bind_text(&b, pattern, 2 * STORE_TEXT + 3);
        bind_int(&b, f->only_valid != 0);
        bind_int(&b, f->now != 0 ? f->now : now_s());
        bind_int(&b, f->only_revoked != 0);
        bind_int(&b, f->limit > 0 ? f->limit : -1);
        ret = bind_done(s, &b);
        if (ret == STORE_OK)
            ret = each_cert(s, st, fn, arg);
        else
            release(s, st);
    }
    free(pattern);
    return ret;
}

static store_status sq_cert_find_valid_by_subject(store *base, const char *subject, int64_t now,
                                                  store_cert *out)
{
    sqlite_store *s = impl(base);
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *st;
    /* The newest of several: the one a renewal would replace. */
    store_status ret = prepare(s,
                               "SELECT " CERT_COLS " FROM certs"
                               " WHERE subject = ?1 AND state != 1 AND not_after > ?2"
                               " ORDER BY not_after DESC, rowid DESC LIMIT 1",
                               &st);
    if (ret != STORE_OK)
        return ret;
    binder b = {st, 0, SQLITE_OK};
    bind_text(&b, subject, STORE_TEXT);
    bind_int(&b, now);
    ret = bind_done(s, &b);
    if (ret != STORE_OK) {
        release(s, st);
        return ret;
    }
    return fetch_cert(s, st, out);
}

static store_status sq_cert_set_state(store *base, const char *serial, cert_state state,
                                      int64_t revoked_at, int reason)
{
    sqlite_store *s = impl(base);
    if (!cert_state_ok(state) || (state == CERT_REVOKED && !crl_reason_ok(reason)))
        return misuse(s, "invalid certificate state or revocation reason");
    if (state != CERT_REVOKED) { /* only a revocation carries a date and a reason */
        revoked_at = 0;
        reason = -1;
    }
    sqlite3_stmt *st;
    store_status ret = prepare(s,
                               "UPDATE certs SET state = ?1, revoked_at = ?2, "
                               "revocation_reason = ?3 WHERE serial = ?4",
                               &st);
    if (ret != STORE_OK)
        return ret;
    binder b = {st, 0, SQLITE_OK};
    bind_int(&b, state);
    bind_int(&b, revoked_at);
    bind_int(&b, reason);
    bind_text(&b, serial, STORE_HEX_SERIAL);
    ret = bind_done(s, &b);
    if (ret != STORE_OK) {
        release(s, st);
        return ret;
    }
    int changed = 0;
    ret = run(s, st, &changed);
    if (ret == STORE_OK && changed == 0) {
        set_error(s, "store: no certificate with serial %.40s", serial);
        ret = STORE_NOT_FOUND;
    }
    return ret;
}

/* ---- events ---- */

/* CRLs. */

static store_status sq_crl_add(store *base, const store_crl *crl)
{
    sqlite_store *s = impl(base);
    if (crl == NULL || crl->der == NULL || crl->der_len == 0 ||
        crl->der_len > STORE_SQLITE_MAX_BLOB)
        return misuse(s, "CRL without DER");
    sqlite3_stmt *st;
    store_status ret = prepare(s,
                               "INSERT INTO crls (number, this_update, next_update, der, "
                               "issuer_key) VALUES (?1, ?2, ?3, ?4, ?5)",
                               &st);
    if (ret != STORE_OK)
        return ret;
    binder b = {st, 0, SQLITE_OK};
    bind_int(&b, crl->number);
    bind_int(&b, crl->this_update);
    bind_int(&b, crl->next_update);
    bind_blob(&b, crl->der, crl->der_len);
    bind_text(&b, crl->issuer_key, sizeof(crl->issuer_key));
    ret = bind_done(s, &b);
    if (ret != STORE_OK) {
        release(s, st);
        return ret;
    }
    return run(s, st, NULL);
}

static store_status sq_crl_latest(store *base, const char *issuer_key, store_crl *out)
{
    sqlite_store *s = impl(base);
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *st;
    store_status ret = prepare(s,
                               "SELECT number, this_update, next_update, der, issuer_key FROM crls"
                               " WHERE ?1 IS NULL OR issuer_key = ?1 ORDER BY number DESC LIMIT 1",
                               &st);
    if (ret != STORE_OK)
        return ret;
    binder b = {st, 0, SQLITE_OK};
    bind_text(&b, issuer_key, STORE_KEY_ID);
    ret = bind_done(s, &b);
    if (ret != STORE_OK) {
        release(s, st);
        return ret;
    }
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        ret = STORE_NOT_FOUND;
    else if (rc != SQLITE_ROW)
        ret = db_fail(s, rc);
    else {
        out->number = sqlite3_column_int64(st, 0);
        out->this_update = sqlite3_column_int64(st, 1);
        out->next_update = sqlite3_column_int64(st, 2);
        col_text(st, 4, out->issuer_key, sizeof(out->issuer_key));
        if (col_blob(st, 3, &out->der, &out->der_len) != 0)
            ret = nomem(s);
    }
    release(s, st);
    if (ret != STORE_OK)
        store_crl_clear(out);
    return ret;
}

/* One-time challenges. */

static int hash_ok(const char *hash)
{
    size_t n = hash ? strlen(hash) : 0;
    return n == 64 && strspn(hash, "0123456789ABCDEF") == n;
}

static store_status sq_challenge_add(store *base, const store_challenge *c)
{
    sqlite_store *s = impl(base);
    if (c == NULL || !hash_ok(c->hash))
        return misuse(s, "challenge hash must be 64 upper-case hex digits");
    sqlite3_stmt *st;
    store_status ret =
        prepare(s,
                "INSERT INTO challenges (hash, created_at, expires_at, subject_match)"
                " VALUES (?1, ?2, ?3, ?4)",
                &st);
    if (ret != STORE_OK)
        return ret;
    binder b = {st, 0, SQLITE_OK};
    bind_text(&b, c->hash, STORE_KEY_ID);
    bind_int(&b, c->created_at ? c->created_at : now_s());
    bind_int(&b, c->expires_at);
    bind_text(&b, c->subject_match, STORE_TEXT);
    ret = bind_done(s, &b);
    if (ret != STORE_OK) {
        release(s, st);
        return ret;
    }
    return run(s, st, NULL);
}

static store_status sq_challenge_get(store *base, const char *hash, store_challenge *out)
{
    sqlite_store *s = impl(base);
    memset(out, 0, sizeof(*out));
    if (!hash_ok(hash))
        return STORE_NOT_FOUND;
    sqlite3_stmt *st;
    store_status ret = prepare(s,
                               "SELECT hash, created_at, expires_at, used_at, subject_match"
                               " FROM challenges WHERE hash = ?1",
                               &st);
    if (ret != STORE_OK)
        return ret;
    binder b = {st, 0, SQLITE_OK};
    bind_text(&b, hash, STORE_KEY_ID);
    ret = bind_done(s, &b);
    int rc = ret == STORE_OK ? sqlite3_step(st) : SQLITE_ERROR;
    if (ret == STORE_OK && rc == SQLITE_DONE)
        ret = STORE_NOT_FOUND;
    else if (ret == STORE_OK && rc != SQLITE_ROW)
        ret = db_fail(s, rc);
    else if (ret == STORE_OK) {
        col_text(st, 0, out->hash, sizeof(out->hash));
        out->created_at = sqlite3_column_int64(st, 1);
        out->expires_at = sqlite3_column_int64(st, 2);
        out->used_at = sqlite3_column_int64(st, 3);
        col_text(st, 4, out->subject_match, sizeof(out->subject_match));
    }
    release(s, st);
    return ret;
}

static store_status sq_challenge_consume(store *base, const char *hash, int64_t now)
{
    sqlite_store *s = impl(base);
    if (!hash_ok(hash))
        return STORE_NOT_FOUND;
    sqlite3_stmt *st;
    /* One UPDATE decides: of two processes consuming at once, exactly one changes the row. */
    store_status ret = prepare(s,
                               "UPDATE challenges SET used_at = ?2"
                               " WHERE hash = ?1 AND used_at = 0 AND expires_at > ?2",
                               &st);
    if (ret != STORE_OK)
        return ret;
    binder b = {st, 0, SQLITE_OK};
    bind_text(&b, hash, STORE_KEY_ID);
    bind_int(&b, now > 0 ? now : 1);
    ret = bind_done(s, &b);
    if (ret != STORE_OK) {
        release(s, st);
        return ret;
    }
    int changes = 0;
    ret = run(s, st, &changes);
    if (ret != STORE_OK || changes == 1)
        return ret;
    store_challenge c;
    ret = sq_challenge_get(base, hash, &c);
    return ret == STORE_OK ? STORE_CONFLICT : ret;
}

static store_status sq_event_add(store *base, const char *kind, const char *ref, const char *detail)
{
    sqlite_store *s = impl(base);
    if (kind == NULL || kind[0] == '\0')
        return misuse(s, "event without a kind");
    sqlite3_stmt *st;
    store_status ret = prepare(s,
                               "INSERT INTO events (at, kind, ref, detail) "
                               "VALUES (?1, ?2, coalesce(?3, ''), coalesce(?4, ''))",
                               &st);
    if (ret != STORE_OK)
        return ret;
    binder b = {st, 0, SQLITE_OK};
    bind_int(&b, now_s());
    bind_text(&b, kind, STORE_TEXT);
    bind_text(&b, ref, STORE_TEXT);
    bind_text(&b, detail, STORE_TEXT);
    ret = bind_done(s, &b);
    if (ret != STORE_OK) {
        release(s, st);
        return ret;
    }
    return run(s, st, NULL);
}

static store_status sq_flush(store *base)
{
    sqlite_store *s = impl(base);
    if (s->flusher == NULL)
        return STORE_OK;
    int rc = sqlite_flusher_wait(s->flusher, s->unflushed);
    s->unflushed = 0;
    if (rc != 0) {
        set_error(s, "store: writing the log to disk failed");
        return STORE_ERROR;
    }
    return STORE_OK;
}

uint64_t store_sqlite_take_ticket(store *base)
{
    sqlite_store *s = impl(base);
    uint64_t ticket = s->unflushed;
    s->unflushed = 0;
    return ticket;
}

static const char *sq_last_error(store *base)
{
    return impl(base)->err;
}

static void sq_destroy(store *base)
{
    sqlite_store *s = impl(base);
    if (s == NULL)
        return;
    for (int i = 0; i < STMT_CACHE; i++)
        sqlite3_finalize(s->cache[i].st);
    sqlite3_close_v2(s->db);
    free(s);
}

static const store_ops sqlite_ops = {
    .request_put = sq_request_put,
    .request_get = sq_request_get,
    .request_get_by_id = sq_request_get_by_id,
    .request_get_by_cert = sq_request_get_by_cert,
    .request_transition = sq_request_transition,
    .request_list = sq_request_list,
    .cert_issue = sq_cert_issue,
    .request_issue = sq_request_issue,
    .cert_get = sq_cert_get,
    .cert_list = sq_cert_list,
    .cert_find_valid_by_subject = sq_cert_find_valid_by_subject,
    .cert_set_state = sq_cert_set_state,
    .crl_add = sq_crl_add,
    .crl_latest = sq_crl_latest,
    .challenge_add = sq_challenge_add,
    .challenge_get = sq_challenge_get,
    .challenge_consume = sq_challenge_consume,
    .event_add = sq_event_add,
    .flush = sq_flush,
    .last_error = sq_last_error,
    .destroy = sq_destroy,
};

/* ---- opening ---- */

/* Creates the file with mode 0600 when it does not exist, whatever the umask: SQLite would
 * create it 0644, and the WAL and shared-memory files copy the database file's mode. */
static int precreate(const char *path, char *why, size_t whylen)
{
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EEXIST)
        return 0;
    if (fd < 0 || fchmod(fd, 0600) != 0) {
        snprintf(why, whylen, "%s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

static store_status journal_wal_once(sqlite_store *s, int memory)
{
    sqlite3_stmt *st;
    store_status ret = prepare(s, "PRAGMA journal_mode = WAL", &st);
    if (ret != STORE_OK)
        return ret;
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        ret = db_fail(s, rc);
    } else {
        const char *mode = (const char *)sqlite3_column_text(st, 0);
        const char *want = memory ? "memory" : "wal";
        if (mode == NULL || strcmp(mode, want) != 0) {
            set_error(s, "cannot switch the database to WAL (journal mode stays %s)",
                      mode != NULL ? mode : "unknown");
            ret = STORE_ERROR;
        }
    }
    release(s, st);
    return ret;
}

/* Switching a new database to WAL upgrades a read lock to a write lock, which SQLite does not
 * wait for (the busy handler would deadlock there): when several processes create the file at
 * once, the losers retry here, for as long as the busy timeout. Later opens find WAL set. */
static store_status journal_wal(sqlite_store *s, int memory)
{
    const struct timespec pause = {0, 10 * 1000 * 1000};
    for (int waited_ms = 0;; waited_ms += 10) {
        store_status ret = journal_wal_once(s, memory);
        if (ret != STORE_BUSY || waited_ms >= STORE_SQLITE_BUSY_TIMEOUT_MS)
            return ret;
        nanosleep(&pause, NULL);
    }
}

/* After each commit of a group handle (the write lock is released by then): a ticket for its
 * flush. Taking this hook replaces SQLite's automatic checkpoint, so it checkpoints too, at
 * SQLite's default threshold. */
static int on_commit(void *arg, sqlite3 *db, const char *name, int frames)
{
    sqlite_store *s = arg;
    s->unflushed = sqlite_flusher_committed(s->flusher, s->flush_now);
    if (frames >= CHECKPOINT_FRAMES)
        (void)sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    return SQLITE_OK;
}

static store_status configure(sqlite_store *s, int memory)
{
    if (sqlite3_db_readonly(s->db, "main") == 1) {
        set_error(s, "the database file is read-only");
        return STORE_ERROR;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, STORE_SQLITE_BUSY_TIMEOUT_MS);
    /* A database file is not trusted with code: no writable schema, no functions in views. */
    sqlite3_db_config(s->db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
    sqlite3_db_config(s->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, (int *)NULL);
    store_status ret = journal_wal(s, memory);
    if (ret != STORE_OK)
        return ret;
    if (s->flusher == NULL)
        return exec_sql(s, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON");
    sqlite3_wal_hook(s->db, on_commit, s);
    return exec_sql(s, "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON");
}

typedef struct schema_info {
    int64_t version;
    int64_t app_id;
    int64_t objects;
} schema_info;

static store_status schema_read(sqlite_store *s, schema_info *info)
{
    sqlite3_stmt *st;
    store_status ret = prepare(s,
                               "SELECT (SELECT user_version FROM pragma_user_version),"
                               " (SELECT application_id FROM pragma_application_id),"
                               " (SELECT count(*) FROM sqlite_master)",
                               &st);
    if (ret != STORE_OK)
        return ret;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        info->version = sqlite3_column_int64(st, 0);
        info->app_id = sqlite3_column_int64(st, 1);
        info->objects = sqlite3_column_int64(st, 2);
    } else {
        ret = db_fail(s, rc);
    }
    release(s, st);
    return ret;
}

static store_status schema_check(sqlite_store *s, const schema_info *info)
{
    if (info->app_id != 0 && info->app_id != STORE_SQLITE_APPLICATION_ID) {
        set_error(s, "not a scepd database (application_id %lld)", (long long)info->app_id);
        return STORE_ERROR;
    }
    if (info->version > STORE_SCHEMA_VERSION) {
        set_error(s,
                  "database schema version %lld is newer than this scepd supports (%d): "
                  "use a newer scepd",
                  (long long)info->version, STORE_SCHEMA_VERSION);
        return STORE_ERROR;
    }
    if (info->version < 0 || (info->version == 0 && info->objects > 0) ||
        (info->version > 0 && info->app_id == 0)) {
        set_error(s, "not a scepd database (it holds other tables, user_version %lld)",
                  (long long)info->version);
        return STORE_ERROR;
    }
    return STORE_OK;
}

/* Brings the schema to STORE_SCHEMA_VERSION, one step at a time, in one transaction that
 * re-reads the version: several processes may open a new database at once. */
static store_status schema_ensure(sqlite_store *s)
{
    schema_info info;
    store_status ret = schema_read(s, &info);
    if (ret == STORE_OK)
        ret = schema_check(s, &info);
    if (ret != STORE_OK || info.version == STORE_SCHEMA_VERSION)
        return ret;
    ret = exec_sql(s, "BEGIN IMMEDIATE");
    if (ret != STORE_OK)
        return ret;
    ret = schema_read(s, &info);
    if (ret == STORE_OK)
        ret = schema_check(s, &info);
    for (int64_t v = info.version; ret == STORE_OK && v < STORE_SCHEMA_VERSION; v++)
        ret = exec_sql(s, migrations[v]);
    if (ret == STORE_OK)
        ret = exec_sql(s, "COMMIT");
    if (ret != STORE_OK)
        rollback(s);
    return ret;
}

static void open_error(char *err, size_t errlen, const char *path, const char *why)
{
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "sqlite store %s: %s", path, why);
}

store *store_sqlite_open(const char *path, char *err, size_t errlen, sqlite_flusher *flusher)
{
    char why[256];
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (path == NULL || path[0] == '\0' || strnlen(path, MAX_PATH_BYTES) >= MAX_PATH_BYTES) {
        open_error(err, errlen, "", "empty or overlong path");
        return NULL;
    }
    if (!sqlite3_threadsafe()) { /* one handle per thread needs a thread-safe SQLite */
        open_error(err, errlen, path, "SQLite is built without thread support");
        return NULL;
    }
    int memory = strcmp(path, ":memory:") == 0;
    if (!memory && precreate(path, why, sizeof(why)) != 0) {
        open_error(err, errlen, path, why);
        return NULL;
    }
    sqlite_store *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        open_error(err, errlen, path, "out of memory");
        return NULL;
    }
    s->base.ops = &sqlite_ops;
    s->flusher = memory ? NULL : flusher;
    int flags = SQLITE_OPEN_READWRITE | (memory ? SQLITE_OPEN_CREATE : 0);
    int rc = sqlite3_open_v2(path, &s->db, flags, NULL);
    store_status ret = rc == SQLITE_OK ? configure(s, memory) : db_fail(s, rc);
    if (ret == STORE_OK)
        ret = schema_ensure(s);
    if (ret != STORE_OK) {
        open_error(err, errlen, path, s->err);
        sq_destroy(&s->base);
        return NULL;
    }
    s->err[0] = '\0';
    return &s->base;
}
