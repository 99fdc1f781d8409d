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

#include "store/sqlite/store_sqlite.h"
#include "store/sqlite/sqlite_csr_migrate.h"
#include "store/store_text.h"

#define MAX_PATH_BYTES 4096u

/* Prepared statements are kept per handle, keyed by their SQL text (always a literal, so its
 * address is the key): preparing them on every call cost a twentieth of an enrollment. */
#define STMT_CACHE 64

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
    int expected;            /* the next commit is one the flusher expects (store_sqlite_expect) */
    int64_t schema_from;     /* the schema version found at open, before any migration */
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
    /* 4 -> 5: what an approver sees of a request: who sent it and which challenge vouched. */
    "ALTER TABLE requests ADD COLUMN client_addr TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE requests ADD COLUMN challenge_kind TEXT NOT NULL DEFAULT '';"
    "PRAGMA user_version = 5;",
    /* 5 -> 6: the key that signs a transaction's messages when it is not the request's. */
    "ALTER TABLE requests ADD COLUMN signer_key_id TEXT NOT NULL DEFAULT '';"
    "PRAGMA user_version = 6;",
    /* 6 -> 7: failed attempts (wrong challenges, bad admin tokens) by address and subject. */
    "CREATE TABLE failures ("
    " id INTEGER PRIMARY KEY,"
    " scope TEXT NOT NULL CHECK (length(scope) BETWEEN 1 AND 15),"
    " key TEXT NOT NULL CHECK (length(key) > 0),"
    " window_start INTEGER NOT NULL,"
    " count INTEGER NOT NULL,"
    " strikes INTEGER NOT NULL,"
    " locked_until INTEGER NOT NULL,"
    " first_at INTEGER NOT NULL,"
    " last_at INTEGER NOT NULL,"
    " total INTEGER NOT NULL,"
    " expires_at INTEGER NOT NULL,"
    " UNIQUE (scope, key));"
    "CREATE INDEX failures_expiry ON failures (expires_at);"
    "PRAGMA user_version = 7;",
    /* 7 -> 8: the hash of the CSR as sent; the stored CSR loses its challenge (then
     * sqlite_csr_migrate() fills the hash and strips the rows written before). */
    "ALTER TABLE requests ADD COLUMN csr_hash TEXT NOT NULL DEFAULT '';"
    "PRAGMA user_version = 8;",
    /* 8 -> 9: the CA generations every node serves, and the counter a node polls. */
    "CREATE TABLE ca_generations ("
    " role INTEGER PRIMARY KEY CHECK (role IN (0, 1, 2)),"
    " ca_der BLOB,"
    " ra_der BLOB,"
    " ca_key TEXT NOT NULL DEFAULT '',"
    " ra_key TEXT NOT NULL DEFAULT '',"
    " switch_at INTEGER NOT NULL,"
    " CHECK (ca_der IS NOT NULL OR ra_der IS NOT NULL));"
    "CREATE TABLE ca_generation_counter ("
    " one INTEGER PRIMARY KEY CHECK (one = 1),"
    " counter INTEGER NOT NULL);"
    "INSERT INTO ca_generation_counter VALUES (1, 0);"
    "PRAGMA user_version = 9;",
    /* 9 -> 10: admin API tokens (hashes only), the audit log, and an index of the waiting
     * requests alone (the only query by state reads those). */
    "CREATE TABLE admin_tokens ("
    " name TEXT PRIMARY KEY NOT NULL CHECK (length(name) BETWEEN 1 AND 63),"
    " role TEXT NOT NULL CHECK (role IN ('read', 'operate')),"
    " hash TEXT UNIQUE NOT NULL CHECK (length(hash) = 64),"
    " created_at INTEGER NOT NULL);"
    "CREATE TABLE audit ("
    " id INTEGER PRIMARY KEY,"
    " at INTEGER NOT NULL,"
    " actor TEXT NOT NULL,"
    " action TEXT NOT NULL,"
    " subject TEXT NOT NULL DEFAULT '',"
    " serial TEXT NOT NULL DEFAULT '',"
    " transaction_id TEXT NOT NULL DEFAULT '',"
    " peer TEXT NOT NULL DEFAULT '',"
    " detail TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX audit_time ON audit (at);"
    "DROP INDEX requests_state;"
    "CREATE INDEX requests_waiting ON requests (id) WHERE state = 0;"
    "PRAGMA user_version = 10;",
};

_Static_assert(sizeof(migrations) / sizeof(migrations[0]) == STORE_SCHEMA_VERSION,
               "one migration step per schema version");
_Static_assert(STORE_SQLITE_APPLICATION_ID == 1396917584, "application_id in the schema");

#define REQUEST_COLS                                                                               \
    "id, transaction_id, key_id, subject, message_type, state, csr, cert_serial, reason, "         \
    "created_at, updated_at, challenge_hash, client_addr, challenge_kind, signer_key_id, csr_hash"
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

/* Whether rc comes from a failed system call, whose errno then says more than SQLite. */
static int from_system(int rc)
{
    int primary = rc & 0xff;
    return primary == SQLITE_IOERR || primary == SQLITE_CANTOPEN || primary == SQLITE_FULL ||
           primary == SQLITE_READONLY;
}

/* The call behind an I/O error, for the operator; NULL when SQLite does not say. */
static const char *io_call(int rc)
{
    switch (rc) {
    case SQLITE_IOERR_READ:
    case SQLITE_IOERR_SHORT_READ:
        return "read";
    case SQLITE_IOERR_WRITE:
        return "write";
    case SQLITE_IOERR_FSYNC:
    case SQLITE_IOERR_DIR_FSYNC:
        return "fsync";
    case SQLITE_IOERR_TRUNCATE:
        return "truncate";
    case SQLITE_IOERR_FSTAT:
        return "fstat";
    case SQLITE_IOERR_SHMOPEN:
    case SQLITE_IOERR_SHMSIZE:
    case SQLITE_IOERR_SHMMAP:
        return "shared memory";
    default:
        return NULL;
    }
}

/* The errno of the last failed call on the database file or its log (SQLite keeps one per
 * file; sqlite3_system_errno() is not set on every path). */
static int last_errno(sqlite3 *db)
{
    int e = 0;
    sqlite3_file *log = NULL;
    if (sqlite3_file_control(db, "main", SQLITE_FCNTL_LAST_ERRNO, &e) == SQLITE_OK && e != 0)
        return e;
    if (sqlite3_file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &log) == SQLITE_OK &&
        log != NULL && log->pMethods != NULL &&
        log->pMethods->xFileControl(log, SQLITE_FCNTL_LAST_ERRNO, &e) == SQLITE_OK && e != 0)
        return e;
    return sqlite3_system_errno(db);
}

static store_status db_fail(sqlite_store *s, int rc)
{
    const char *msg = sqlite3_errmsg(s->db), *code = sqlite3_errstr(rc), *call = io_call(rc);
    int sys = s->db != NULL && from_system(rc) ? last_errno(s->db) : 0;
    char why[160] = "";
    if (sys != 0 || call != NULL)
        snprintf(why, sizeof(why), " (%s%s%s)", call ? call : "", call && sys ? ": " : "",
                 sys ? strerror(sys) : "");
    if (strcmp(msg, code) == 0)
        set_error(s, "sqlite: %s%s", msg, why);
    else
        set_error(s, "sqlite: %s (%s)%s", msg, code, why);
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
        bind_keep(b, sqlite3_bind_text(b->st, idx, text, (int)store_text_len(text, size),
                                       SQLITE_TRANSIENT));
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
    col_text(st, 12, r->client_addr, sizeof(r->client_addr));
    col_text(st, 13, r->challenge_kind, sizeof(r->challenge_kind));
    col_text(st, 14, r->signer_key_id, sizeof(r->signer_key_id));
    col_text(st, 15, r->csr_hash, sizeof(r->csr_hash));
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
    store_status ret =
        prepare(s,
                "INSERT INTO requests (transaction_id, key_id, subject, "
                "message_type, state, csr, cert_serial, reason, created_at, "
                "updated_at, challenge_hash, client_addr, challenge_kind, signer_key_id, "
                "csr_hash) VALUES (?1, ?2, ?3, ?4, ?8, ?5, ?9, '', ?6, ?6, ?7, ?10, ?11, ?12, ?13) "
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
    bind_text(&b, req->client_addr, sizeof(req->client_addr));
    bind_text(&b, req->challenge_kind, sizeof(req->challenge_kind));
    bind_text(&b, req->signer_key_id, sizeof(req->signer_key_id));
    bind_text(&b, req->csr_hash, sizeof(req->csr_hash));
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
              store_text_len(req->transaction_id, sizeof(req->transaction_id)));
    copy_text(r.key_id, sizeof(r.key_id), (const unsigned char *)req->key_id,
              store_text_len(req->key_id, sizeof(req->key_id)));
    copy_text(r.subject, sizeof(r.subject), (const unsigned char *)req->subject,
              store_text_len(req->subject, sizeof(req->subject)));
    copy_text(r.challenge_hash, sizeof(r.challenge_hash),
              (const unsigned char *)req->challenge_hash,
              store_text_len(req->challenge_hash, sizeof(req->challenge_hash)));
    copy_text(r.client_addr, sizeof(r.client_addr), (const unsigned char *)req->client_addr,
              store_text_len(req->client_addr, sizeof(req->client_addr)));
    copy_text(r.challenge_kind, sizeof(r.challenge_kind),
              (const unsigned char *)req->challenge_kind,
              store_text_len(req->challenge_kind, sizeof(req->challenge_kind)));
    copy_text(r.signer_key_id, sizeof(r.signer_key_id), (const unsigned char *)req->signer_key_id,
              store_text_len(req->signer_key_id, sizeof(req->signer_key_id)));
    copy_text(r.csr_hash, sizeof(r.csr_hash), (const unsigned char *)req->csr_hash,
              store_text_len(req->csr_hash, sizeof(req->csr_hash)));
    r.message_type = req->message_type;
    r.state = serial != NULL                   ? REQUEST_ISSUED
              : req->state == REQUEST_APPROVED ? REQUEST_APPROVED
                                               : REQUEST_PENDING;
    if (serial != NULL)
        copy_text(r.cert_serial, sizeof(r.cert_serial), (const unsigned char *)serial,
                  store_text_len(serial, STORE_HEX_SERIAL));
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

/* One request by a bound serial (?1) with sql; *out written only on STORE_OK. */
static store_status request_by_serial(sqlite_store *s, const char *sql, const char *serial,
                                      store_request *out)
{
    sqlite3_stmt *st;
    store_status ret = prepare(s, sql, &st);
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

/* requests.cert_serial has no index in SQLite (one more page to write at every enrollment):
 * the certificate's row names its request's transactionID, which has one. A certificate whose
 * transactionID names another request (stored so by hand) is looked for the slow way; no
 * certificate, no request (cert_serial references certs). */
static store_status sq_request_get_by_cert(store *base, const char *serial, store_request *out)
{
    sqlite_store *s = impl(base);
    memset(out, 0, sizeof(*out));
    store_status ret = request_by_serial(
        s,
        "SELECT " REQUEST_COLS " FROM requests WHERE transaction_id ="
        " (SELECT transaction_id FROM certs WHERE serial = ?1) AND cert_serial = ?1",
        serial, out);
    if (ret != STORE_NOT_FOUND)
        return ret;
    return request_by_serial(s,
                             "SELECT " REQUEST_COLS " FROM requests WHERE id IN (SELECT r.id"
                             " FROM certs c CROSS JOIN requests r ON r.cert_serial = c.serial"
                             " WHERE c.serial = ?1)",
                             serial, out);
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
    char why[STORE_TEXT] = "";
    store_status ret = store_request_expect(sq_request_get_by_id(&s->base, id, &r), &r, id, from,
                                            why, sizeof(why));
    if (why[0] != '\0')
        set_error(s, "%s", why);
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

/* The audit row of an issued certificate, in the issuing transaction (no commit of its own
 * on the enrollment path): its subject, serial, transactionID and requester, by actor. Found
 * by the request's id: requests has no index by cert_serial, and a join on it read every
 * stored request at each issue. */
static store_status audit_issued(sqlite_store *s, int64_t request_id, const char *actor)
{
    sqlite3_stmt *st;
    store_status ret = prepare(
        s,
        "INSERT INTO audit (at, actor, action, subject, serial, transaction_id, peer)"
        " SELECT ?1, ?2, CASE r.message_type WHEN 17 THEN 'renew' ELSE 'issue' END, c.subject,"
        " c.serial, CASE WHEN instr(r.transaction_id, '~') > 0 THEN substr(r.transaction_id, 1,"
        " instr(r.transaction_id, '~') - 1) ELSE r.transaction_id END, r.client_addr"
        " FROM requests r JOIN certs c ON c.serial = r.cert_serial WHERE r.id = ?3",
        &st);
    if (ret != STORE_OK)
        return ret;
    binder b = {st, 0, SQLITE_OK};
    bind_int(&b, now_s());
    bind_text(&b, actor, STORE_ACTOR);
    bind_int(&b, request_id);
    ret = bind_done(s, &b);
    if (ret != STORE_OK) {
        release(s, st);
        return ret;
    }
    return run(s, st, NULL);
}

static store_status sq_cert_issue(store *base, const store_cert *cert, int64_t request_id,
                                  request_state from)
{
    sqlite_store *s = impl(base);
    store_status ret = step_sql(s, sql_begin);
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
    if (ret == STORE_OK && request_id != 0)
        ret = audit_issued(s, request_id, "scepd");
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
    int64_t id = 0, now = now_s();
    store_status ret = step_sql(s, sql_begin);
    if (ret != STORE_OK)
        return ret;
    /* The certificate first: the request's serial refers to it. */
    ret = insert_cert(s, cert);
    if (ret == STORE_OK)
        ret = insert_request(s, req, cert->serial, now, &id);
    if (ret == STORE_OK && id == 0)
        ret = STORE_CONFLICT;
    if (ret == STORE_OK)
        ret = audit_issued(s, id, "policy");
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
        pattern = store_like_pattern(f->subject_like);
        if (pattern == NULL)
            return nomem(s);
    }
    sqlite3_stmt *st;
    store_status ret = prepare(s,
                               "SELECT " CERT_COLS " FROM certs"
                               " WHERE (?1 IS NULL OR subject LIKE ?1 ESCAPE '\\')"
                               " AND (?2 = 0 OR (state != 1 AND not_after > ?3))"
                               " AND (?4 = 0 OR state = 1)"
                               " AND (?6 IS NULL OR serial = ?6)"
                               " AND (?7 = 0 OR (state != 1 AND not_after <= ?3))"
                               " AND (?8 = 0 OR not_after <= ?8)"
                               " AND (?9 = 0 OR is_ca = 0)"
                               " AND (?10 IS NULL OR rowid > (SELECT rowid FROM certs"
                               "  WHERE serial = ?10))"
                               " ORDER BY rowid LIMIT ?5",
                               &st);
    if (ret == STORE_OK) {
        binder b = {st, 0, SQLITE_OK};
        bind_text(&b, pattern, 2 * STORE_TEXT + 3);
        bind_int(&b, f->only_valid != 0);
        bind_int(&b, f->now != 0 ? f->now : now_s());
        bind_int(&b, f->only_revoked != 0);
        bind_int(&b, f->limit > 0 ? f->limit : -1);
        bind_text(&b, f->serial, STORE_HEX_SERIAL);
        bind_int(&b, f->only_expired != 0);
        bind_int(&b, f->expires_before);
        bind_int(&b, f->exclude_ca != 0);
        bind_text(&b, f->after_serial, STORE_HEX_SERIAL);
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

static store_status sq_challenge_add(store *base, const store_challenge *c)
{
    sqlite_store *s = impl(base);
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

/* Failed attempts, per scope and key. */

#define FAILURE_COLS                                                                               \
    "scope, key, window_start, count, strikes, locked_until, first_at, last_at, total, expires_at"

static void row_failure(sqlite3_stmt *st, store_failure *f)
{
    memset(f, 0, sizeof(*f));
    col_text(st, 0, f->scope, sizeof(f->scope));
    col_text(st, 1, f->key, sizeof(f->key));
    f->window_start = sqlite3_column_int64(st, 2);
    f->count = sqlite3_column_int(st, 3);
    f->strikes = sqlite3_column_int(st, 4);
    f->locked_until = sqlite3_column_int64(st, 5);
    f->first_at = sqlite3_column_int64(st, 6);
    f->last_at = sqlite3_column_int64(st, 7);
    f->total = sqlite3_column_int64(st, 8);
    f->expires_at = sqlite3_column_int64(st, 9);
}

/* The record of (scope, key) unless it expired before now; STORE_NOT_FOUND otherwise. */
static store_status failure_read(sqlite_store *s, const char *scope, const char *key, int64_t now,
                                 store_failure *out)
{
    sqlite3_stmt *st;
    store_status ret = prepare(s,
                               "SELECT " FAILURE_COLS " FROM failures"
                               " WHERE scope = ?1 AND key = ?2 AND expires_at > ?3",
                               &st);
    if (ret != STORE_OK)
        return ret;
    binder b = {st, 0, SQLITE_OK};
    bind_text(&b, scope, sizeof(out->scope));
    bind_text(&b, key, sizeof(out->key));
    bind_int(&b, now);
    ret = bind_done(s, &b);
    int rc = ret == STORE_OK ? sqlite3_step(st) : SQLITE_ERROR;
    if (ret == STORE_OK && rc == SQLITE_DONE)
        ret = STORE_NOT_FOUND;
    else if (ret == STORE_OK && rc != SQLITE_ROW)
        ret = db_fail(s, rc);
    else if (ret == STORE_OK)
        row_failure(st, out);
    release(s, st);
    return ret;
}

static store_status sq_failure_get(store *base, const char *scope, const char *key, int64_t now,
                                   store_failure *out)
{
    sqlite_store *s = impl(base);
    memset(out, 0, sizeof(*out));
    return failure_read(s, scope, key, now, out);
}

/* Both records in one statement (one read transaction): the unique index serves each side of
 * the OR; the last column says which pair a row is. */
static store_status sq_failure_get_pair(store *base, const char *const scope[2],
                                        const char *const key[2], int64_t now, store_failure out[2])
{
    sqlite_store *s = impl(base);
    memset(out, 0, 2 * sizeof(*out));
    sqlite3_stmt *st;
    store_status ret = prepare(s,
                               "SELECT " FAILURE_COLS ", scope = ?3 AND key = ?4 FROM failures"
                               " WHERE ((scope = ?1 AND key = ?2) OR (scope = ?3 AND key = ?4))"
                               " AND expires_at > ?5",
                               &st);
    if (ret != STORE_OK)
        return ret;
    binder b = {st, 0, SQLITE_OK};
    for (int i = 0; i < 2; i++) {
        int wanted = key[i] != NULL && key[i][0] != '\0';
        bind_text(&b, wanted ? scope[i] : NULL, sizeof(out->scope));
        bind_text(&b, wanted ? key[i] : NULL, sizeof(out->key));
    }
    bind_int(&b, now);
    ret = bind_done(s, &b);
    int rc = SQLITE_ERROR;
    while (ret == STORE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
        row_failure(st, &out[sqlite3_column_int(st, 10) != 0]);
    if (ret == STORE_OK && rc != SQLITE_DONE)
        ret = db_fail(s, rc);
    release(s, st);
    return ret;
}

/* Runs a statement whose parameters b bound (no rows); releases it on a binding error. */
static store_status run_bound(sqlite_store *s, binder *b, int *changes)
{
    store_status ret = bind_done(s, b);
    if (ret != STORE_OK) {
        release(s, b->st);
        return ret;
    }
    return run(s, b->st, changes);
}

static store_status failure_write(sqlite_store *s, const store_failure *f)
{
    sqlite3_stmt *st;
    store_status ret = prepare(s,
                               "INSERT INTO failures (" FAILURE_COLS ")"
                               " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
                               " ON CONFLICT (scope, key) DO UPDATE SET"
                               " window_start = ?3, count = ?4, strikes = ?5, locked_until = ?6,"
                               " first_at = ?7, last_at = ?8, total = ?9, expires_at = ?10",
                               &st);
    if (ret != STORE_OK)
        return ret;
    binder b = {st, 0, SQLITE_OK};
    bind_text(&b, f->scope, sizeof(f->scope));
    bind_text(&b, f->key, sizeof(f->key));
    bind_int(&b, f->window_start);
    bind_int(&b, f->count);
    bind_int(&b, f->strikes);
    bind_int(&b, f->locked_until);
    bind_int(&b, f->first_at);
    bind_int(&b, f->last_at);
    bind_int(&b, f->total);
    bind_int(&b, f->expires_at);
    return run_bound(s, &b, NULL);
}

/* A few expired records at a time: each failure writes at most one, so they never pile up. */
static store_status failure_prune(sqlite_store *s, int64_t now)
{
    sqlite3_stmt *st;
    store_status ret = prepare(s,
                               "DELETE FROM failures WHERE id IN"
                               " (SELECT id FROM failures WHERE expires_at <= ?1 LIMIT 16)",
                               &st);
    if (ret != STORE_OK)
        return ret;
    binder b = {st, 0, SQLITE_OK};
    bind_int(&b, now);
    return run_bound(s, &b, NULL);
}

static store_status sq_failure_add(store *base, const char *scope, const char *key, int64_t now,
                                   store_failure_step step, void *arg, store_failure *out)
{
    sqlite_store *s = impl(base);
    memset(out, 0, sizeof(*out));
    store_status ret = step_sql(s, sql_begin);
    if (ret != STORE_OK)
        return ret;
    ret = failure_read(s, scope, key, now, out);
    if (ret == STORE_NOT_FOUND) {
        memset(out, 0, sizeof(*out));
        copy_text(out->scope, sizeof(out->scope), (const unsigned char *)scope,
                  store_text_len(scope, sizeof(out->scope)));
        copy_text(out->key, sizeof(out->key), (const unsigned char *)key,
                  store_text_len(key, sizeof(out->key)));
        ret = STORE_OK;
    }
    if (ret == STORE_OK) {
        step(arg, out, now);
        ret = failure_write(s, out);
    }
    if (ret == STORE_OK)
        ret = failure_prune(s, now);
    if (ret == STORE_OK)
        ret = step_sql(s, sql_commit);
    if (ret != STORE_OK)
        rollback(s);
    return ret;
}

static store_status sq_failure_list(store *base, int64_t now, store_failure_fn fn, void *arg)
{
    sqlite_store *s = impl(base);
    sqlite3_stmt *st;
    store_status ret = prepare(s,
                               "SELECT " FAILURE_COLS " FROM failures WHERE expires_at > ?1"
                               " ORDER BY scope, key",
                               &st);
    if (ret != STORE_OK)
        return ret;
    binder b = {st, 0, SQLITE_OK};
    bind_int(&b, now);
    ret = bind_done(s, &b);
    int rc = SQLITE_DONE;
    while (ret == STORE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_failure f;
        row_failure(st, &f);
        if (fn(arg, &f) != 0)
            break;
    }
    if (ret == STORE_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
        ret = db_fail(s, rc);
    release(s, st);
    return ret;
}

static store_status sq_failure_clear(store *base, const char *key, int *cleared)
{
    sqlite_store *s = impl(base);
    sqlite3_stmt *st;
    store_status ret = prepare(s, "DELETE FROM failures WHERE ?1 IS NULL OR key = ?1", &st);
    if (ret != STORE_OK)
        return ret;
    binder b = {st, 0, SQLITE_OK};
    bind_text(&b, key, STORE_TEXT);
    int changes = 0;
    ret = run_bound(s, &b, &changes);
    if (cleared != NULL)
        *cleared = ret == STORE_OK ? changes : 0;
    return ret;
}

/* CA generations. */

static void bind_blob_or_null(binder *b, const unsigned char *p, size_t len)
{
    if (p == NULL)
        bind_keep(b, sqlite3_bind_null(b->st, ++b->idx));
    else
        bind_blob(b, p, len);
}

static store_status generation_insert(sqlite_store *s, int role, const store_ca_generation *g)
{
    sqlite3_stmt *st;
    store_status ret = prepare(s,
                               "INSERT INTO ca_generations (role, ca_der, ra_der, ca_key, ra_key,"
                               " switch_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                               &st);
    if (ret != STORE_OK)
        return ret;
    binder b = {st, 0, SQLITE_OK};
    bind_int(&b, role);
    bind_blob_or_null(&b, g->ca_der, g->ca_len);
    bind_blob_or_null(&b, g->ra_der, g->ra_len);
    bind_text(&b, g->ca_key, sizeof(g->ca_key));
    bind_text(&b, g->ra_key, sizeof(g->ra_key));
    bind_int(&b, g->switch_at);
    return run_bound(s, &b, NULL);
}

static store_status sq_ca_generations_counter(store *base, int64_t *counter)
{
    sqlite_store *s = impl(base);
    sqlite3_stmt *st;
    *counter = 0;
    store_status ret = prepare(s, "SELECT counter FROM ca_generation_counter", &st);
    if (ret != STORE_OK)
        return ret;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *counter = sqlite3_column_int64(st, 0);
    else
        ret = rc == SQLITE_DONE ? STORE_NOT_FOUND : db_fail(s, rc);
    release(s, st);
    return ret;
}

static store_status sq_ca_generations_put(store *base, const store_ca_generations *g,
                                          int64_t *counter)
{
    sqlite_store *s = impl(base);
    int64_t now_counter = 0;
    store_status ret = step_sql(s, sql_begin);
    if (ret != STORE_OK)
        return ret;
    ret = step_sql(s, "DELETE FROM ca_generations");
    for (int i = 0; ret == STORE_OK && i < STORE_CA_ROLES; i++)
        if (g->role[i].ca_der != NULL || g->role[i].ra_der != NULL)
            ret = generation_insert(s, i, &g->role[i]);
    if (ret == STORE_OK)
        ret = step_sql(s, "UPDATE ca_generation_counter SET counter = counter + 1");
    if (ret == STORE_OK)
        ret = sq_ca_generations_counter(base, &now_counter);
    s->flush_now = 1;
    if (ret == STORE_OK)
        ret = step_sql(s, sql_commit);
    s->flush_now = 0;
    if (ret != STORE_OK)
        rollback(s);
    if (counter != NULL)
        *counter = ret == STORE_OK ? now_counter : 0;
    return ret;
}

static store_status generation_row(sqlite_store *s, sqlite3_stmt *st, store_ca_generations *out)
{
    int role = sqlite3_column_int(st, 0);
    if (role < 0 || role >= STORE_CA_ROLES) {
        set_error(s, "store: a CA generation of unknown role %d", role);
        return STORE_ERROR;
    }
    store_ca_generation *g = &out->role[role];
    if (col_blob(st, 1, &g->ca_der, &g->ca_len) != 0 || col_blob(st, 2, &g->ra_der, &g->ra_len))
        return nomem(s);
    col_text(st, 3, g->ca_key, sizeof(g->ca_key));
    col_text(st, 4, g->ra_key, sizeof(g->ra_key));
    g->switch_at = sqlite3_column_int64(st, 5);
    return STORE_OK;
}

/* One read transaction: the counter and the rows it counts. */
static store_status sq_ca_generations_get(store *base, store_ca_generations *out)
{
    sqlite_store *s = impl(base);
    sqlite3_stmt *st;
    store_status ret = exec_sql(s, "BEGIN");
    if (ret == STORE_OK)
        ret = sq_ca_generations_counter(base, &out->counter);
    if (ret == STORE_OK)
        ret = prepare(
            s, "SELECT role, ca_der, ra_der, ca_key, ra_key, switch_at FROM ca_generations", &st);
    if (ret == STORE_OK) {
        int rc = SQLITE_DONE;
        while (ret == STORE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
            ret = generation_row(s, st, out);
        if (ret == STORE_OK && rc != SQLITE_DONE)
            ret = db_fail(s, rc);
        release(s, st);
    }
    if (ret == STORE_OK)
        ret = exec_sql(s, "COMMIT");
    rollback(s);
    if (ret != STORE_OK)
        store_ca_generations_clear(out);
    return ret;
}

static store_status sq_event_add(store *base, const char *kind, const char *ref, const char *detail)
{
    sqlite_store *s = impl(base);
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

/* ---- the admin API: pages of requests, challenges, tokens, the audit log ---- */

static store_status sq_request_page(store *base, const request_filter *f, store_request_fn fn,
                                    void *arg)
{
    sqlite_store *s = impl(base);
    if (fn == NULL || f == NULL)
        return misuse(s, "list without a filter or a callback");
    sqlite3_stmt *st;
    store_status ret = prepare(s,
                               "SELECT " REQUEST_COLS " FROM requests"
                               " WHERE (?1 < 0 OR state = ?1) AND id > ?2 ORDER BY id LIMIT ?3",
                               &st);
    if (ret != STORE_OK)
        return ret;
    binder b = {st, 0, SQLITE_OK};
    bind_int(&b, f->state);
    bind_int(&b, f->after_id);
    bind_int(&b, f->limit > 0 ? f->limit : -1);
    ret = bind_done(s, &b);
    if (ret != STORE_OK) {
        release(s, st);
        return ret;
    }
    return each_request(s, st, fn, arg);
}

static store_status sq_challenge_list(store *base, int64_t now, store_challenge_fn fn, void *arg)
{
    sqlite_store *s = impl(base);
    sqlite3_stmt *st;
    store_status ret = prepare(s,
                               "SELECT hash, created_at, expires_at, used_at, subject_match"
                               " FROM challenges WHERE used_at = 0 AND expires_at > ?1"
                               " ORDER BY created_at, hash",
                               &st);
    if (ret != STORE_OK)
        return ret;
    int rc = sqlite3_bind_int64(st, 1, now);
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_challenge c = {0};
        col_text(st, 0, c.hash, sizeof(c.hash));
        c.created_at = sqlite3_column_int64(st, 1);
        c.expires_at = sqlite3_column_int64(st, 2);
        c.used_at = sqlite3_column_int64(st, 3);
        col_text(st, 4, c.subject_match, sizeof(c.subject_match));
        if (fn(arg, &c) != 0) {
            rc = SQLITE_DONE;
            break;
        }
        rc = SQLITE_OK;
    }
    ret = rc == SQLITE_DONE || rc == SQLITE_OK ? STORE_OK : db_fail(s, rc);
    release(s, st);
    return ret;
}

static store_status sq_challenge_revoke(store *base, const char *id, int64_t now)
{
    sqlite_store *s = impl(base);
    sqlite3_stmt *st;
    store_status ret = prepare(s,
                               "UPDATE challenges SET used_at = ?2"
                               " WHERE substr(hash, 1, 16) = ?1 AND used_at = 0",
                               &st);
    if (ret != STORE_OK)
        return ret;
    binder b = {st, 0, SQLITE_OK};
    bind_text(&b, id, 17);
    bind_int(&b, now > 0 ? now : 1);
    ret = bind_done(s, &b);
    if (ret != STORE_OK) {
        release(s, st);
        return ret;
    }
    int changes = 0;
    ret = run(s, st, &changes);
    return ret == STORE_OK && changes == 0 ? STORE_NOT_FOUND : ret;
}

static store_status sq_token_add(store *base, const store_token *t)
{
    sqlite_store *s = impl(base);
    sqlite3_stmt *st;
    store_status ret = prepare(
        s, "INSERT INTO admin_tokens (name, role, hash, created_at) VALUES (?1, ?2, ?3, ?4)", &st);
    if (ret != STORE_OK)
        return ret;
    binder b = {st, 0, SQLITE_OK};
    bind_text(&b, t->name, sizeof(t->name));
    bind_text(&b, t->role, sizeof(t->role));
    bind_text(&b, t->hash, sizeof(t->hash));
    bind_int(&b, t->created_at ? t->created_at : now_s());
    ret = bind_done(s, &b);
    if (ret != STORE_OK) {
        release(s, st);
        return ret;
    }
    ret = run(s, st, NULL);
    if (ret == STORE_EXISTS)
        set_error(s, "store: a token named %.63s exists", t->name);
    return ret;
}

static void row_token(sqlite3_stmt *st, store_token *t)
{
    memset(t, 0, sizeof(*t));
    col_text(st, 0, t->name, sizeof(t->name));
    col_text(st, 1, t->role, sizeof(t->role));
    col_text(st, 2, t->hash, sizeof(t->hash));
    t->created_at = sqlite3_column_int64(st, 3);
}

static store_status sq_token_list(store *base, store_token_fn fn, void *arg)
{
    sqlite_store *s = impl(base);
    sqlite3_stmt *st;
    store_status ret =
        prepare(s, "SELECT name, role, hash, created_at FROM admin_tokens ORDER BY name", &st);
    if (ret != STORE_OK)
        return ret;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_token t;
        row_token(st, &t);
        if (fn(arg, &t) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    ret = rc == SQLITE_DONE ? STORE_OK : db_fail(s, rc);
    release(s, st);
    return ret;
}

static store_status sq_token_remove(store *base, const char *name)
{
    sqlite_store *s = impl(base);
    sqlite3_stmt *st;
    store_status ret = prepare(s, "DELETE FROM admin_tokens WHERE name = ?1", &st);
    if (ret != STORE_OK)
        return ret;
    binder b = {st, 0, SQLITE_OK};
    bind_text(&b, name, STORE_TOKEN_NAME);
    ret = bind_done(s, &b);
    if (ret != STORE_OK) {
        release(s, st);
        return ret;
    }
    int changes = 0;
    ret = run(s, st, &changes);
    return ret == STORE_OK && changes == 0 ? STORE_NOT_FOUND : ret;
}

static store_status sq_token_find(store *base, const char *hash, store_token *out)
{
    sqlite_store *s = impl(base);
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *st;
    store_status ret =
        prepare(s, "SELECT name, role, hash, created_at FROM admin_tokens WHERE hash = ?1", &st);
    if (ret != STORE_OK)
        return ret;
    int rc =
        sqlite3_bind_text(st, 1, hash, (int)store_text_len(hash, STORE_KEY_ID), SQLITE_TRANSIENT);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        row_token(st, out);
    ret = rc == SQLITE_ROW ? STORE_OK : rc == SQLITE_DONE ? STORE_NOT_FOUND : db_fail(s, rc);
    release(s, st);
    return ret;
}

#define AUDIT_COLS "id, at, actor, action, subject, serial, transaction_id, peer, detail"

static store_status sq_audit_add(store *base, const store_audit *a)
{
    sqlite_store *s = impl(base);
    sqlite3_stmt *st;
    store_status ret = prepare(s,
                               "INSERT INTO audit (at, actor, action, subject, serial,"
                               " transaction_id, peer, detail)"
                               " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                               &st);
    if (ret != STORE_OK)
        return ret;
    binder b = {st, 0, SQLITE_OK};
    bind_int(&b, a->at ? a->at : now_s());
    bind_text(&b, a->actor, sizeof(a->actor));
    bind_text(&b, a->action, sizeof(a->action));
    bind_text(&b, a->subject, sizeof(a->subject));
    bind_text(&b, a->serial, sizeof(a->serial));
    bind_text(&b, a->transaction_id, sizeof(a->transaction_id));
    bind_text(&b, a->peer, sizeof(a->peer));
    bind_text(&b, a->detail, sizeof(a->detail));
    ret = bind_done(s, &b);
    if (ret != STORE_OK) {
        release(s, st);
        return ret;
    }
    return run(s, st, NULL);
}

static void row_audit(sqlite3_stmt *st, store_audit *a)
{
    memset(a, 0, sizeof(*a));
    a->id = sqlite3_column_int64(st, 0);
    a->at = sqlite3_column_int64(st, 1);
    col_text(st, 2, a->actor, sizeof(a->actor));
    col_text(st, 3, a->action, sizeof(a->action));
    col_text(st, 4, a->subject, sizeof(a->subject));
    col_text(st, 5, a->serial, sizeof(a->serial));
    col_text(st, 6, a->transaction_id, sizeof(a->transaction_id));
    col_text(st, 7, a->peer, sizeof(a->peer));
    col_text(st, 8, a->detail, sizeof(a->detail));
}

static store_status each_audit(sqlite_store *s, sqlite3_stmt *st, store_audit_fn fn, void *arg)
{
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_audit a;
        row_audit(st, &a);
        if (fn(arg, &a) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    store_status ret = rc == SQLITE_DONE ? STORE_OK : db_fail(s, rc);
    release(s, st);
    return ret;
}

static store_status sq_audit_list(store *base, const audit_filter *f, store_audit_fn fn, void *arg)
{
    sqlite_store *s = impl(base);
    if (fn == NULL || f == NULL)
        return misuse(s, "list without a filter or a callback");
    sqlite3_stmt *st;
    store_status ret = prepare(s,
                               "SELECT " AUDIT_COLS " FROM audit"
                               " WHERE (?1 IS NULL OR actor = ?1) AND (?2 IS NULL OR action = ?2)"
                               " AND (?3 IS NULL OR serial = ?3) AND at >= ?4 AND (?5 = 0 OR"
                               " at <= ?5) AND (?6 = 0 OR id < ?6) ORDER BY id DESC LIMIT ?7",
                               &st);
    if (ret != STORE_OK)
        return ret;
    binder b = {st, 0, SQLITE_OK};
    bind_text(&b, f->actor, STORE_ACTOR);
    bind_text(&b, f->action, 32);
    bind_text(&b, f->serial, STORE_HEX_SERIAL);
    bind_int(&b, f->since);
    bind_int(&b, f->until);
    bind_int(&b, f->before_id);
    bind_int(&b, f->limit > 0 ? f->limit : -1);
    ret = bind_done(s, &b);
    if (ret != STORE_OK) {
        release(s, st);
        return ret;
    }
    return each_audit(s, st, fn, arg);
}

static store_status sq_flush(store *base)
{
    sqlite_store *s = impl(base);
    if (s->flusher == NULL)
        return STORE_OK;
    int rc = sqlite_flusher_wait(s->flusher, s->unflushed);
    s->unflushed = 0;
    if (rc != 0) {
        char why[400];
        sqlite_flusher_error(s->flusher, why, sizeof(why));
        set_error(s, "store: %s", why);
        return STORE_ERROR;
    }
    return STORE_OK;
}

void store_sqlite_expect(store *base, int expected)
{
    impl(base)->expected = expected;
}

uint64_t store_sqlite_scan_steps(store *base)
{
    sqlite_store *s = impl(base);
    uint64_t steps = 0;
    for (int i = 0; i < STMT_CACHE; i++)
        if (s->cache[i].st != NULL)
            steps +=
                (uint64_t)sqlite3_stmt_status(s->cache[i].st, SQLITE_STMTSTATUS_FULLSCAN_STEP, 0);
    return steps;
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
    .request_page = sq_request_page,
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
    .challenge_list = sq_challenge_list,
    .challenge_revoke = sq_challenge_revoke,
    .token_add = sq_token_add,
    .token_list = sq_token_list,
    .token_remove = sq_token_remove,
    .token_find = sq_token_find,
    .audit_add = sq_audit_add,
    .audit_list = sq_audit_list,
    .failure_get = sq_failure_get,
    .failure_get_pair = sq_failure_get_pair,
    .failure_add = sq_failure_add,
    .failure_list = sq_failure_list,
    .failure_clear = sq_failure_clear,
    .ca_generations_put = sq_ca_generations_put,
    .ca_generations_get = sq_ca_generations_get,
    .ca_generations_counter = sq_ca_generations_counter,
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
 * flush. Taking this hook replaces SQLite's automatic checkpoint: at SQLite's default
 * threshold the flusher's thread checkpoints, not this one. */
static int on_commit(void *arg, sqlite3 *db, const char *name, int frames)
{
    sqlite_store *s = arg;
    (void)db;
    (void)name;
    s->unflushed = sqlite_flusher_committed(s->flusher, s->flush_now, s->expected, frames);
    s->expected = 0;
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
    s->schema_from = info.version;
    if (ret != STORE_OK || info.version == STORE_SCHEMA_VERSION)
        return ret;
    ret = exec_sql(s, "BEGIN IMMEDIATE");
    if (ret != STORE_OK)
        return ret;
    ret = schema_read(s, &info);
    if (ret == STORE_OK)
        ret = schema_check(s, &info);
    s->schema_from = info.version; /* another process may have migrated it meanwhile */
    for (int64_t v = info.version; ret == STORE_OK && v < STORE_SCHEMA_VERSION; v++) {
        ret = exec_sql(s, migrations[v]);
        if (ret == STORE_OK && v == 7) {
            int rc = sqlite_csr_migrate(s->db);
            ret = rc == SQLITE_OK ? STORE_OK : db_fail(s, rc);
        }
    }
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

/* Only `scepd init` makes a store: anywhere else a missing file is a store that was lost, and
 * an empty one would come back with none of its certificates. */
static int missing(const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) == 0 || errno != ENOENT)
        return 0;
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "no store at %s: run scepd init", path);
    return 1;
}

static store_status refuse_new(sqlite_store *s)
{
    schema_info info;
    sqlite3_busy_timeout(s->db, STORE_SQLITE_BUSY_TIMEOUT_MS);
    store_status ret = schema_read(s, &info);
    if (ret == STORE_OK)
        ret = schema_check(s, &info);
    if (ret == STORE_OK && info.version == 0) {
        set_error(s, "an empty database, not a store: run scepd init");
        ret = STORE_ERROR;
    }
    return ret;
}

store *store_sqlite_open(const char *path, char *err, size_t errlen, sqlite_flusher *flusher,
                         int create)
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
    if (!memory && !create && missing(path, err, errlen))
        return NULL;
    if (!memory && create && precreate(path, why, sizeof(why)) != 0) {
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
    store_status ret = rc == SQLITE_OK ? STORE_OK : db_fail(s, rc);
    if (ret == STORE_OK && !memory && !create)
        ret = refuse_new(s);
    if (ret == STORE_OK)
        ret = configure(s, memory);
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

int store_sqlite_migrate(const char *path, int64_t *from, int64_t *to, char *err, size_t errlen)
{
    store *st = store_sqlite_open(path, err, errlen, NULL, 0);
    if (st == NULL)
        return -1;
    *from = ((sqlite_store *)st)->schema_from;
    *to = STORE_SCHEMA_VERSION;
    store_close(st);
    return 0;
}
