/* The SQLite store (server/store/store_sqlite.c) through the store.h interface, on database
 * files in a temporary directory. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "testutil.h"

#include "store.h"
#include "store_sqlite.h"

static char tmpdir[] = "/tmp/scepd-store-test-XXXXXX";

static const unsigned char csr_bytes[] = {0x30, 0x82, 0x01, 0x0a, 0x00, 0x01, 0xff, 0x00, 0x7f};
static const unsigned char der_bytes[] = {0x30, 0x82, 0x02, 0x00, 0xde, 0xad, 0x00, 0xbe, 0xef};

/* ---- fixtures ---- */

static int group_setup(void **state)
{
    (void)state;
    return mkdtemp(tmpdir) != NULL ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    DIR *d = opendir(tmpdir);
    if (d == NULL)
        return -1;
    struct dirent *e;
    char path[512];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", tmpdir, e->d_name);
        if (unlink(path) != 0)
            rmdir(path); /* the directory used as a database path */
    }
    closedir(d);
    return rmdir(tmpdir);
}

static const char *db_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s.db", tmpdir, name);
    return buf;
}

static store *open_ok(const char *uri)
{
    char err[512] = "";
    store *s = store_open(uri, err, sizeof(err));
    if (s == NULL)
        fail_msg("store_open(%s): %s", uri, err);
    return s;
}

static void make_request(store_request *r, const char *tid, const char *subject)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->transaction_id, sizeof(r->transaction_id), "%s", tid);
    snprintf(r->key_id, sizeof(r->key_id), "%064d", 7);
    snprintf(r->subject, sizeof(r->subject), "%s", subject);
    r->message_type = 19;
    r->csr_der = (unsigned char *)(uintptr_t)csr_bytes; /* read only by the store */
    r->csr_len = sizeof(csr_bytes);
}

static void make_cert(store_cert *c, const char *serial, const char *subject, int64_t not_after,
                      cert_state state)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->serial, sizeof(c->serial), "%s", serial);
    snprintf(c->subject, sizeof(c->subject), "%s", subject);
    snprintf(c->issuer, sizeof(c->issuer), "CN=Test CA");
    snprintf(c->key_id, sizeof(c->key_id), "%064d", 9);
    snprintf(c->transaction_id, sizeof(c->transaction_id), "tid-of-%s", serial);
    c->not_before = 1000;
    c->not_after = not_after;
    c->state = state;
    c->revocation_reason = state == CERT_REVOKED ? 1 : -1;
    c->revoked_at = state == CERT_REVOKED ? 2000 : 0;
    c->der = (unsigned char *)(uintptr_t)der_bytes;
    c->der_len = sizeof(der_bytes);
}

/* Puts a new request and returns its id. */
static int64_t put_new(store *s, const char *tid)
{
    store_request r, out;
    make_request(&r, tid, "CN=someone");
    assert_int_equal(s->ops->request_put(s, &r, &out), STORE_OK);
    int64_t id = out.id;
    store_request_clear(&out);
    return id;
}

static store_status issue(store *s, const char *serial, const char *subject, int64_t not_after,
                          cert_state state)
{
    store_cert c;
    make_cert(&c, serial, subject, not_after, state);
    return s->ops->cert_issue(s, &c, 0, REQUEST_PENDING);
}

/* Direct SQL on the file, behind the store's back. */
static sqlite3 *raw_open(const char *path)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    assert_int_equal(rc, SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    return db;
}

static void raw_exec(const char *path, const char *sql)
{
    sqlite3 *db = raw_open(path);
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fail_msg("%s: %s", sql, msg != NULL ? msg : "?");
    sqlite3_close(db);
}

static int64_t raw_int(const char *path, const char *sql)
{
    sqlite3 *db = raw_open(path);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void raw_text(const char *path, const char *sql, char *out, size_t outlen)
{
    sqlite3 *db = raw_open(path);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    const unsigned char *t = sqlite3_column_text(st, 0);
    snprintf(out, outlen, "%s", t != NULL ? (const char *)t : "(null)");
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static double elapsed_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ---- collecting list results ---- */

#define MAX_COLLECT 16

typedef struct collected {
    store *s; /* for calls back into the store from the callback */
    int n;
    int stop_after; /* 0: all */
    int reentry_failures;
    char keys[MAX_COLLECT][STORE_TID];
} collected;

static int collect_cert(void *arg, const store_cert *c)
{
    collected *col = arg;
    if (col->n < MAX_COLLECT)
        snprintf(col->keys[col->n], sizeof(col->keys[0]), "%s", c->serial);
    col->n++;
    return col->stop_after != 0 && col->n >= col->stop_after;
}

static int collect_request(void *arg, const store_request *r)
{
    collected *col = arg;
    if (col->n < MAX_COLLECT)
        snprintf(col->keys[col->n], sizeof(col->keys[0]), "%s", r->transaction_id);
    col->n++;
    if (col->s != NULL) { /* the handle stays usable inside the callback */
        store_request again;
        if (col->s->ops->request_get(col->s, r->transaction_id, &again) != STORE_OK ||
            again.id != r->id)
            col->reentry_failures++;
        store_request_clear(&again);
    }
    return col->stop_after != 0 && col->n >= col->stop_after;
}

/* Lists with filter and compares the serials with the comma-separated expect. */
static void expect_list(store *s, const cert_filter *filter, const char *expect)
{
    collected col = {0};
    assert_int_equal(s->ops->cert_list(s, filter, collect_cert, &col), STORE_OK);
    char got[512] = "";
    size_t used = 0;
    for (int i = 0; i < col.n && i < MAX_COLLECT; i++)
        used += (size_t)snprintf(got + used, sizeof(got) - used, "%s%s", i ? "," : "", col.keys[i]);
    assert_string_equal(got, expect);
}

static int64_t count_certs(store *s)
{
    collected col = {0};
    assert_int_equal(s->ops->cert_list(s, NULL, collect_cert, &col), STORE_OK);
    return col.n;
}

/* ---- schema, files, opening ---- */

static void test_schema_created_and_reopened(void **state)
{
    (void)state;
    char path[256], uri[300];
    db_path(path, sizeof(path), "schema");
    store *s = open_ok(path);
    int64_t id = put_new(s, "tid-schema");
    store_close(s);

    assert_int_equal(raw_int(path, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    assert_int_equal(raw_int(path, "PRAGMA application_id"), STORE_SQLITE_APPLICATION_ID);
    char mode[32];
    raw_text(path, "PRAGMA journal_mode", mode, sizeof(mode));
    assert_string_equal(mode, "wal");
    assert_int_equal(raw_int(path, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
                                   "name IN ('requests', 'certs', 'events')"),
                     3);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM pragma_index_info('certs_subject') "
                                   "WHERE name = 'subject'"),
                     1);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM pragma_index_info('requests_state') "
                                   "WHERE name = 'state'"),
                     1);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM pragma_index_list('requests') "
                                   "WHERE \"unique\" = 1"),
                     1);

    /* Reopening keeps the data and the schema, through each URI form. */
    const char *forms[] = {"", "sqlite:", "sqlite://"};
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        snprintf(uri, sizeof(uri), "%s%s", forms[i], path);
        s = open_ok(uri);
        store_request out;
        assert_int_equal(s->ops->request_get(s, "tid-schema", &out), STORE_OK);
        assert_int_equal(out.id, id);
        store_request_clear(&out);
        store_close(s);
    }
    assert_int_equal(raw_int(path, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM requests"), 1);
}

static void check_mode(const char *path, const char *suffix)
{
    char name[300];
    struct stat st;
    snprintf(name, sizeof(name), "%s%s", path, suffix);
    if (stat(name, &st) != 0)
        fail_msg("stat %s: %s", name, strerror(errno));
    if ((st.st_mode & 07777) != 0600)
        fail_msg("%s has mode %04o, want 0600", name, (unsigned)(st.st_mode & 07777));
}

static void test_file_mode_0600(void **state)
{
    (void)state;
    char path[256];
    db_path(path, sizeof(path), "mode");
    mode_t old = umask(0); /* the most permissive umask: the store alone decides */
    store *s = open_ok(path);
    put_new(s, "tid-mode"); /* the WAL and shared-memory files exist while the handle is open */
    check_mode(path, "");
    check_mode(path, "-wal");
    check_mode(path, "-shm");
    store_close(s);

    /* A umask that leaves the owner without write access: still 0600, and writable. */
    db_path(path, sizeof(path), "mode-umask");
    umask(0277);
    s = open_ok(path);
    umask(old);
    check_mode(path, "");
    put_new(s, "tid-mode");
    store_close(s);
    check_mode(path, "");
}

static void test_memory_store(void **state)
{
    (void)state;
    store *s = open_ok(":memory:");
    int64_t id = put_new(s, "tid-mem");
    store_request out;
    assert_int_equal(s->ops->request_get_by_id(s, id, &out), STORE_OK);
    assert_string_equal(out.transaction_id, "tid-mem");
    store_request_clear(&out);
    store_close(s);
}

static void test_newer_schema_refused(void **state)
{
    (void)state;
    char path[256], err[512];
    db_path(path, sizeof(path), "newer");
    store_close(open_ok(path));
    char newer[64], expect[64];
    snprintf(newer, sizeof(newer), "PRAGMA user_version = %d", STORE_SCHEMA_VERSION + 1);
    snprintf(expect, sizeof(expect), "schema version %d is newer", STORE_SCHEMA_VERSION + 1);
    raw_exec(path, newer);

    assert_null(store_open(path, err, sizeof(err)));
    if (strstr(err, expect) == NULL || strstr(err, path) == NULL)
        fail_msg("unclear error: %s", err);
    assert_null(store_open(path, NULL, 0));
    assert_int_equal(raw_int(path, "PRAGMA user_version"), STORE_SCHEMA_VERSION + 1);
}

static void test_foreign_database_refused(void **state)
{
    (void)state;
    char path[256], err[512];
    db_path(path, sizeof(path), "foreign-tables");
    raw_exec(path, "CREATE TABLE t (x); INSERT INTO t VALUES (1)");
    assert_null(store_open(path, err, sizeof(err)));
    assert_non_null(strstr(err, "not a scepd database"));
    assert_int_equal(raw_int(path, "SELECT count(*) FROM sqlite_master WHERE name = 'requests'"),
                     0);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM t"), 1);

    db_path(path, sizeof(path), "foreign-appid");
    raw_exec(path, "PRAGMA application_id = 42");
    err[0] = '\0';
    assert_null(store_open(path, err, sizeof(err)));
    assert_non_null(strstr(err, "application_id 42"));
}

static void test_garbage_refused(void **state)
{
    (void)state;
    char path[256], err[512];
    unsigned char junk[8192];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof(junk); i++) {
        x = x * 1103515245u + 12345u;
        junk[i] = (unsigned char)(x >> 16);
    }

    db_path(path, sizeof(path), "garbage");
    write_file(path, junk, sizeof(junk));
    assert_null(store_open(path, err, sizeof(err)));
    assert_non_null(strstr(err, "not a database"));
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    unsigned char back[sizeof(junk) + 1];
    assert_int_equal(fread(back, 1, sizeof(back), f), sizeof(junk)); /* not overwritten */
    fclose(f);
    assert_memory_equal(back, junk, sizeof(junk));

    /* A SQLite header over garbage. */
    memcpy(junk, "SQLite format 3", 16);
    db_path(path, sizeof(path), "garbage-header");
    write_file(path, junk, sizeof(junk));
    err[0] = '\0';
    assert_null(store_open(path, err, sizeof(err)));
    assert_true(strlen(err) > strlen(path));

    db_path(path, sizeof(path), "text");
    write_file(path, "hello, world\n", 13);
    err[0] = '\0';
    assert_null(store_open(path, err, sizeof(err)));
    assert_non_null(strstr(err, "not a database"));
}

static void test_unusable_paths_refused(void **state)
{
    (void)state;
    char path[256], err[512];

    db_path(path, sizeof(path), "a-directory");
    assert_int_equal(mkdir(path, 0700), 0);
    err[0] = '\0';
    assert_null(store_open(path, err, sizeof(err)));
    assert_non_null(strstr(err, path));

    snprintf(path, sizeof(path), "%s/missing/x.db", tmpdir);
    err[0] = '\0';
    assert_null(store_open(path, err, sizeof(err)));
    assert_non_null(strstr(err, "No such file"));

    static const struct {
        const char *uri;
        const char *why;
    } bad[] = {
        {"", "empty"},
        {"postgresql://db.example/scep", "unsupported"},
        {"sqlite://host/x.db", "a host in a sqlite URI is not supported"},
        {"sqlite:", "empty"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_null(store_open(bad[i].uri, err, sizeof(err)));
        if (strstr(err, bad[i].why) == NULL)
            fail_msg("%s: error \"%s\" lacks \"%s\"", bad[i].uri, err, bad[i].why);
        assert_null(store_open(bad[i].uri, NULL, 0));
    }
    assert_null(store_open(NULL, err, sizeof(err)));
    char tiny[8];
    assert_null(store_open("nope://x", tiny, sizeof(tiny)));
    assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
}

static void test_corrupt_page(void **state)
{
    (void)state;
    char path[256];
    db_path(path, sizeof(path), "corrupt");
    store *s = open_ok(path);
    assert_int_equal(issue(s, "0C01", "CN=c", 5000, CERT_VALID), STORE_OK);
    store_close(s);

    int64_t page_size = raw_int(path, "PRAGMA page_size");
    int64_t root = raw_int(path, "SELECT rootpage FROM sqlite_master WHERE name = 'certs'");
    assert_true(root > 1);
    unsigned char *page = malloc((size_t)page_size);
    assert_non_null(page);
    memset(page, 0xff, (size_t)page_size);
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, page, (size_t)page_size, (off_t)((root - 1) * page_size)),
                     page_size);
    close(fd);
    free(page);

    s = open_ok(path); /* opening reads only the schema page */
    store_cert c;
    assert_int_equal(s->ops->cert_get(s, "0C01", &c), STORE_ERROR);
    assert_null(c.der);
    assert_non_null(strstr(s->ops->last_error(s), "malformed"));
    assert_int_equal(s->ops->cert_list(s, NULL, collect_cert, &(collected){0}), STORE_ERROR);
    store_close(s);
}

/* ---- requests ---- */

static void test_request_put_get(void **state)
{
    (void)state;
    char path[256];
    store *s = open_ok(db_path(path, sizeof(path), "requests"));
    store_request r, out, again;
    make_request(&r, "tid-1", "CN=device 1,O=Example");
    r.id = 99;
    r.state = REQUEST_ISSUED; /* the store sets the id; only PENDING or APPROVED are taken */
    snprintf(r.cert_serial, sizeof(r.cert_serial), "ABCD");
    int64_t t0 = (int64_t)time(NULL);
    assert_int_equal(s->ops->request_put(s, &r, &out), STORE_OK);
    int64_t t1 = (int64_t)time(NULL);
    assert_true(out.id > 0 && out.id != 99);
    assert_int_equal(out.state, REQUEST_PENDING);
    /* Automatic approval stores a request APPROVED from the start. */
    store_request born = {0}, born_out;
    make_request(&born, "tid-born-approved", "CN=auto");
    born.state = REQUEST_APPROVED;
    assert_int_equal(s->ops->request_put(s, &born, &born_out), STORE_OK);
    assert_int_equal(born_out.state, REQUEST_APPROVED);
    store_request_clear(&born_out); /* born points at static CSR bytes: nothing to free */
    assert_string_equal(out.transaction_id, "tid-1");
    assert_string_equal(out.key_id, r.key_id);
    assert_string_equal(out.subject, "CN=device 1,O=Example");
    assert_int_equal(out.message_type, 19);
    assert_int_equal(out.csr_len, sizeof(csr_bytes));
    assert_memory_equal(out.csr_der, csr_bytes, sizeof(csr_bytes));
    assert_ptr_not_equal(out.csr_der, csr_bytes); /* a copy the record owns */
    assert_string_equal(out.cert_serial, "");
    assert_string_equal(out.reason, "");
    assert_true(out.created_at >= t0 && out.created_at <= t1);
    assert_int_equal(out.updated_at, out.created_at);

    assert_int_equal(s->ops->request_get(s, "tid-1", &again), STORE_OK);
    assert_int_equal(again.id, out.id);
    assert_memory_equal(again.csr_der, csr_bytes, sizeof(csr_bytes));
    store_request_clear(&again);
    assert_int_equal(s->ops->request_get_by_id(s, out.id, &again), STORE_OK);
    assert_string_equal(again.transaction_id, "tid-1");
    store_request_clear(&again);

    /* A duplicate transactionID answers with the stored request, not the new one. */
    store_request dup;
    make_request(&dup, "tid-1", "CN=impostor");
    snprintf(dup.key_id, sizeof(dup.key_id), "%064d", 8);
    assert_int_equal(s->ops->request_put(s, &dup, &again), STORE_EXISTS);
    assert_int_equal(again.id, out.id);
    assert_string_equal(again.subject, "CN=device 1,O=Example");
    assert_string_equal(again.key_id, r.key_id);
    store_request_clear(&again);

    /* Not found leaves the out-parameter cleared. */
    memset(&again, 0x5a, sizeof(again));
    assert_int_equal(s->ops->request_get(s, "tid-nope", &again), STORE_NOT_FOUND);
    assert_int_equal(again.id, 0);
    assert_null(again.csr_der);
    memset(&again, 0x5a, sizeof(again));
    assert_int_equal(s->ops->request_get_by_id(s, out.id + 1000, &again), STORE_NOT_FOUND);
    assert_null(again.csr_der);

    /* A request without a CSR; a second transaction gets its own id. */
    store_request bare;
    make_request(&bare, "tid-2", "CN=bare");
    bare.csr_der = NULL;
    bare.csr_len = 0;
    assert_int_equal(s->ops->request_put(s, &bare, &again), STORE_OK);
    assert_true(again.id != out.id);
    assert_null(again.csr_der);
    assert_int_equal(again.csr_len, 0);
    store_request_clear(&again);
    store_request_clear(&out);

    /* Misuse: no transactionID, an oversize CSR. */
    make_request(&bare, "", "CN=x");
    assert_int_equal(s->ops->request_put(s, &bare, &again), STORE_ERROR);
    assert_true(strlen(s->ops->last_error(s)) > 0);
    make_request(&bare, "tid-big", "CN=x");
    bare.csr_len = STORE_SQLITE_MAX_BLOB + 1;
    assert_int_equal(s->ops->request_put(s, &bare, &again), STORE_ERROR);
    assert_int_equal(s->ops->request_get(s, "tid-big", &again), STORE_NOT_FOUND);
    store_close(s);
}

static void test_text_bounds(void **state)
{
    (void)state;
    char path[256];
    store *s = open_ok(db_path(path, sizeof(path), "bounds"));
    store_request r, out;

    /* Fields filled to the last byte without a NUL: stored cut to size - 1. */
    make_request(&r, "tid-full", "");
    memset(r.subject, 'a', sizeof(r.subject));
    memset(r.key_id, 'F', sizeof(r.key_id));
    assert_int_equal(s->ops->request_put(s, &r, &out), STORE_OK);
    assert_int_equal(strlen(out.subject), STORE_TEXT - 1);
    assert_int_equal(strlen(out.key_id), STORE_KEY_ID - 1);
    store_request_clear(&out);

    /* Cut on a UTF-8 character boundary: 255 "é" and half of another fit in 511 bytes. */
    make_request(&r, "tid-utf8", "");
    for (size_t i = 0; i + 1 < sizeof(r.subject); i += 2) {
        r.subject[i] = (char)0xc3;
        r.subject[i + 1] = (char)0xa9;
    }
    assert_int_equal(s->ops->request_put(s, &r, &out), STORE_OK);
    assert_int_equal(strlen(out.subject), STORE_TEXT - 2);
    assert_int_equal((unsigned char)out.subject[STORE_TEXT - 3], 0xa9);
    store_request_clear(&out);

    /* Overlong text already in the database is cut when read, also on a boundary. */
    raw_exec(path, "UPDATE requests SET subject = replace(hex(zeroblob(500)), '00', 'bb'),"
                   " reason = replace(hex(zeroblob(300)), '00', 'é')"
                   " WHERE transaction_id = 'tid-full'");
    assert_int_equal(s->ops->request_get(s, "tid-full", &out), STORE_OK);
    assert_int_equal(strlen(out.subject), STORE_TEXT - 1);
    assert_int_equal(strlen(out.reason), STORE_TEXT - 2);
    store_request_clear(&out);
    store_close(s);
}

static void test_request_transitions(void **state)
{
    (void)state;
    char path[256];
    store *s = open_ok(db_path(path, sizeof(path), "transitions"));
    int64_t id = put_new(s, "tid-t");
    store_request out;
    const store_ops *ops = s->ops;

    assert_int_equal(ops->request_transition(s, id, REQUEST_PENDING, REQUEST_APPROVED, NULL),
                     STORE_OK);
    assert_int_equal(ops->request_get_by_id(s, id, &out), STORE_OK);
    assert_int_equal(out.state, REQUEST_APPROVED);
    store_request_clear(&out);

    /* Not in `from`: CONFLICT, and nothing changes. */
    assert_int_equal(ops->request_transition(s, id, REQUEST_PENDING, REQUEST_REJECTED, "late"),
                     STORE_CONFLICT);
    assert_non_null(strstr(ops->last_error(s), "approved, not pending"));
    assert_int_equal(ops->request_get_by_id(s, id, &out), STORE_OK);
    assert_int_equal(out.state, REQUEST_APPROVED);
    assert_string_equal(out.reason, "");
    store_request_clear(&out);

    assert_int_equal(ops->request_transition(s, id + 100, REQUEST_PENDING, REQUEST_APPROVED, NULL),
                     STORE_NOT_FOUND);

    assert_int_equal(
        ops->request_transition(s, id, REQUEST_APPROVED, REQUEST_REJECTED, "policy: no"), STORE_OK);
    assert_int_equal(ops->request_get_by_id(s, id, &out), STORE_OK);
    assert_int_equal(out.state, REQUEST_REJECTED);
    assert_string_equal(out.reason, "policy: no");
    store_request_clear(&out);

    /* A NULL reason keeps the recorded one. */
    assert_int_equal(ops->request_transition(s, id, REQUEST_REJECTED, REQUEST_PENDING, NULL),
                     STORE_OK);
    assert_int_equal(ops->request_get_by_id(s, id, &out), STORE_OK);
    assert_int_equal(out.state, REQUEST_PENDING);
    assert_string_equal(out.reason, "policy: no");
    store_request_clear(&out);

    /* Only cert_issue reaches ISSUED; unknown states are misuse. */
    assert_int_equal(ops->request_transition(s, id, REQUEST_PENDING, REQUEST_ISSUED, NULL),
                     STORE_ERROR);
    assert_non_null(strstr(ops->last_error(s), "only cert_issue"));
    assert_int_equal(ops->request_transition(s, id, REQUEST_PENDING, (request_state)7, NULL),
                     STORE_ERROR);
    assert_int_equal(ops->request_get_by_id(s, id, &out), STORE_OK);
    assert_int_equal(out.state, REQUEST_PENDING);
    store_request_clear(&out);
    store_close(s);
}

static void test_request_list(void **state)
{
    (void)state;
    char path[256];
    store *s = open_ok(db_path(path, sizeof(path), "list-requests"));
    put_new(s, "tid-a");
    int64_t b = put_new(s, "tid-b");
    put_new(s, "tid-c");
    assert_int_equal(s->ops->request_transition(s, b, REQUEST_PENDING, REQUEST_APPROVED, NULL),
                     STORE_OK);

    collected all = {.s = s};
    assert_int_equal(s->ops->request_list(s, 0, collect_request, &all), STORE_OK);
    assert_int_equal(all.n, 3);
    assert_string_equal(all.keys[0], "tid-a");
    assert_string_equal(all.keys[1], "tid-b");
    assert_string_equal(all.keys[2], "tid-c");
    assert_int_equal(all.reentry_failures, 0);

    collected pending = {.s = s};
    assert_int_equal(s->ops->request_list(s, 1, collect_request, &pending), STORE_OK);
    assert_int_equal(pending.n, 2);
    assert_string_equal(pending.keys[0], "tid-a");
    assert_string_equal(pending.keys[1], "tid-c");

    collected first = {.stop_after = 1};
    assert_int_equal(s->ops->request_list(s, 0, collect_request, &first), STORE_OK);
    assert_int_equal(first.n, 1);
    assert_int_equal(s->ops->request_list(s, 0, NULL, NULL), STORE_ERROR);
    store_close(s);
}

/* ---- certificates ---- */

static void test_cert_issue_with_request(void **state)
{
    (void)state;
    char path[256];
    store *s = open_ok(db_path(path, sizeof(path), "issue"));
    int64_t id = put_new(s, "tid-i");
    assert_int_equal(s->ops->request_transition(s, id, REQUEST_PENDING, REQUEST_APPROVED, NULL),
                     STORE_OK);
    store_cert c, got;
    make_cert(&c, "0A1B", "CN=device", 900000, CERT_VALID);
    snprintf(c.transaction_id, sizeof(c.transaction_id), "tid-i");
    assert_int_equal(s->ops->cert_issue(s, &c, id, REQUEST_APPROVED), STORE_OK);

    store_request r;
    assert_int_equal(s->ops->request_get_by_id(s, id, &r), STORE_OK);
    assert_int_equal(r.state, REQUEST_ISSUED);
    assert_string_equal(r.cert_serial, "0A1B");
    store_request_clear(&r);

    assert_int_equal(s->ops->cert_get(s, "0A1B", &got), STORE_OK);
    assert_string_equal(got.serial, "0A1B");
    assert_string_equal(got.subject, "CN=device");
    assert_string_equal(got.issuer, "CN=Test CA");
    assert_string_equal(got.key_id, c.key_id);
    assert_string_equal(got.transaction_id, "tid-i");
    assert_int_equal(got.not_before, 1000);
    assert_int_equal(got.not_after, 900000);
    assert_int_equal(got.state, CERT_VALID);
    assert_int_equal(got.revoked_at, 0);
    assert_int_equal(got.revocation_reason, -1);
    assert_int_equal(got.is_ca, 0);
    assert_int_equal(got.der_len, sizeof(der_bytes));
    assert_memory_equal(got.der, der_bytes, sizeof(der_bytes));
    store_cert_clear(&got);

    /* The request is ISSUED now: a second issue for it conflicts and inserts nothing, and
     * the request's state is the answer even when the serial is taken too. */
    make_cert(&c, "0A1C", "CN=device", 900000, CERT_VALID);
    assert_int_equal(s->ops->cert_issue(s, &c, id, REQUEST_APPROVED), STORE_CONFLICT);
    assert_int_equal(s->ops->cert_get(s, "0A1C", &got), STORE_NOT_FOUND);
    assert_null(got.der);
    make_cert(&c, "0A1B", "CN=device", 900000, CERT_VALID);
    assert_int_equal(s->ops->cert_issue(s, &c, id, REQUEST_APPROVED), STORE_CONFLICT);

    /* A CA certificate, without a request. */
    make_cert(&c, "CA01", "CN=Test CA", 900000, CERT_VALID);
    c.is_ca = 1;
    assert_int_equal(s->ops->cert_issue(s, &c, 0, REQUEST_PENDING), STORE_OK);
    assert_int_equal(s->ops->cert_get(s, "CA01", &got), STORE_OK);
    assert_int_equal(got.is_ca, 1);
    store_cert_clear(&got);
    assert_int_equal(count_certs(s), 2);
    store_close(s);
}

static void test_cert_issue_duplicate_serial(void **state)
{
    (void)state;
    char path[256];
    store *s = open_ok(db_path(path, sizeof(path), "dup-serial"));
    assert_int_equal(issue(s, "00AA", "CN=first", 900000, CERT_VALID), STORE_OK);
    int64_t id = put_new(s, "tid-d");
    assert_int_equal(s->ops->request_transition(s, id, REQUEST_PENDING, REQUEST_APPROVED, NULL),
                     STORE_OK);

    store_cert c, got;
    make_cert(&c, "00AA", "CN=second", 900000, CERT_VALID);
    assert_int_equal(s->ops->cert_issue(s, &c, id, REQUEST_APPROVED), STORE_EXISTS);
    store_request r;
    assert_int_equal(s->ops->request_get_by_id(s, id, &r), STORE_OK);
    assert_int_equal(r.state, REQUEST_APPROVED); /* rolled back */
    assert_string_equal(r.cert_serial, "");
    store_request_clear(&r);
    assert_int_equal(s->ops->cert_get(s, "00AA", &got), STORE_OK);
    assert_string_equal(got.subject, "CN=first");
    store_cert_clear(&got);
    assert_int_equal(count_certs(s), 1);
    assert_int_equal(issue(s, "00AA", "CN=third", 900000, CERT_VALID), STORE_EXISTS);

    /* The caller draws a new serial and succeeds. */
    make_cert(&c, "00AB", "CN=second", 900000, CERT_VALID);
    assert_int_equal(s->ops->cert_issue(s, &c, id, REQUEST_APPROVED), STORE_OK);
    assert_int_equal(count_certs(s), 2);
    store_close(s);
}

static void test_cert_issue_request_conflict(void **state)
{
    (void)state;
    char path[256];
    store *s = open_ok(db_path(path, sizeof(path), "issue-conflict"));
    int64_t id = put_new(s, "tid-c");
    store_cert c, got;

    make_cert(&c, "0B01", "CN=x", 900000, CERT_VALID);
    assert_int_equal(s->ops->cert_issue(s, &c, id, REQUEST_APPROVED), STORE_CONFLICT);
    assert_non_null(strstr(s->ops->last_error(s), "pending, not approved"));
    assert_int_equal(s->ops->cert_get(s, "0B01", &got), STORE_NOT_FOUND);
    store_request r;
    assert_int_equal(s->ops->request_get_by_id(s, id, &r), STORE_OK);
    assert_int_equal(r.state, REQUEST_PENDING);
    assert_string_equal(r.cert_serial, "");
    store_request_clear(&r);

    make_cert(&c, "0B02", "CN=x", 900000, CERT_VALID);
    assert_int_equal(s->ops->cert_issue(s, &c, id + 4242, REQUEST_APPROVED), STORE_NOT_FOUND);

    assert_int_equal(s->ops->request_transition(s, id, REQUEST_PENDING, REQUEST_REJECTED, "no"),
                     STORE_OK);
    make_cert(&c, "0B03", "CN=x", 900000, CERT_VALID);
    assert_int_equal(s->ops->cert_issue(s, &c, id, REQUEST_APPROVED), STORE_CONFLICT);
    assert_int_equal(count_certs(s), 0);
    store_close(s);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM certs"), 0);
}

static void test_cert_issue_bad_input(void **state)
{
    (void)state;
    char path[256];
    store *s = open_ok(db_path(path, sizeof(path), "issue-bad"));
    store_cert c;
    const char *bad_serials[] = {"0a1b", "", "0X12", "12 34", "-1"};
    for (size_t i = 0; i < sizeof(bad_serials) / sizeof(bad_serials[0]); i++) {
        make_cert(&c, bad_serials[i], "CN=x", 900000, CERT_VALID);
        assert_int_equal(s->ops->cert_issue(s, &c, 0, REQUEST_PENDING), STORE_ERROR);
        assert_non_null(strstr(s->ops->last_error(s), "upper-case hex"));
    }
    make_cert(&c, "01", "CN=x", 900000, CERT_VALID);
    memset(c.serial, 'A', sizeof(c.serial)); /* 41 digits, no NUL */
    assert_int_equal(s->ops->cert_issue(s, &c, 0, REQUEST_PENDING), STORE_ERROR);
    make_cert(&c, "01", "CN=x", 900000, CERT_VALID);
    c.der = NULL;
    assert_int_equal(s->ops->cert_issue(s, &c, 0, REQUEST_PENDING), STORE_ERROR);
    make_cert(&c, "01", "CN=x", 900000, CERT_VALID);
    c.der_len = STORE_SQLITE_MAX_BLOB + 1;
    assert_int_equal(s->ops->cert_issue(s, &c, 0, REQUEST_PENDING), STORE_ERROR);
    make_cert(&c, "01", "CN=x", 900000, (cert_state)9);
    assert_int_equal(s->ops->cert_issue(s, &c, 0, REQUEST_PENDING), STORE_ERROR);
    assert_int_equal(count_certs(s), 0);

    /* The largest serial fits. */
    make_cert(&c, "0123456789ABCDEF0123456789ABCDEF01234567", "CN=x", 900000, CERT_VALID);
    assert_int_equal(s->ops->cert_issue(s, &c, 0, REQUEST_PENDING), STORE_OK);
    assert_int_equal(count_certs(s), 1);
    store_close(s);
}

static void test_cert_list_filters(void **state)
{
    (void)state;
    char path[256];
    store *s = open_ok(db_path(path, sizeof(path), "list-certs"));
    const int64_t now = 1000000;
    assert_int_equal(issue(s, "01", "CN=alice", now + 100, CERT_VALID), STORE_OK);
    assert_int_equal(issue(s, "02", "CN=alice,O=old", now - 1, CERT_VALID), STORE_OK);
    assert_int_equal(issue(s, "03", "CN=bob", now + 100, CERT_VALID), STORE_OK);
    assert_int_equal(s->ops->cert_set_state(s, "03", CERT_REVOKED, now - 5, 1), STORE_OK);
    assert_int_equal(issue(s, "04", "CN=carol", now + 100, CERT_SUPERSEDED), STORE_OK);
    assert_int_equal(issue(s, "05", "CN=100%_sure", now + 100, CERT_VALID), STORE_OK);
    assert_int_equal(issue(s, "06", "CN=100x sure", now + 100, CERT_VALID), STORE_OK);

    static const struct {
        cert_filter f;
        const char *expect;
    } cases[] = {
        {{0}, "01,02,03,04,05,06"},
        {{.subject_like = "alice"}, "01,02"},
        {{.subject_like = "ALICE"}, "01,02"},
        {{.subject_like = "0%_s"}, "05"}, /* wildcards in the filter are literal */
        {{.subject_like = "CN=nobody"}, ""},
        {{.only_valid = 1, .now = now}, "01,04,05,06"},
        {{.only_valid = 1, .now = now - 2}, "01,02,04,05,06"},
        {{.only_valid = 1}, ""}, /* now 0: the current time, long after these expired */
        {{.only_revoked = 1}, "03"},
        {{.only_revoked = 1, .subject_like = "alice"}, ""},
        {{.only_valid = 1, .now = now, .subject_like = "alice"}, "01"},
        {{.limit = 2}, "01,02"},
        {{.limit = 2, .subject_like = "CN=1"}, "05,06"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect_list(s, &cases[i].f, cases[i].expect);
    expect_list(s, NULL, "01,02,03,04,05,06");

    collected first = {.stop_after = 1};
    assert_int_equal(s->ops->cert_list(s, NULL, collect_cert, &first), STORE_OK);
    assert_int_equal(first.n, 1);
    assert_int_equal(s->ops->cert_list(s, NULL, NULL, NULL), STORE_ERROR);
    store_close(s);
}

static void expect_valid(store *s, const char *subject, int64_t now, const char *serial)
{
    store_cert c;
    store_status want = serial != NULL ? STORE_OK : STORE_NOT_FOUND;
    assert_int_equal(s->ops->cert_find_valid_by_subject(s, subject, now, &c), want);
    if (serial != NULL)
        assert_string_equal(c.serial, serial);
    else
        assert_null(c.der);
    store_cert_clear(&c);
}

static void test_find_valid_by_subject(void **state)
{
    (void)state;
    char path[256];
    store *s = open_ok(db_path(path, sizeof(path), "find-valid"));
    const int64_t now = 2000000;
    const char *subj = "CN=device-1";
    expect_valid(s, subj, now, NULL);
    assert_int_equal(issue(s, "10", subj, now - 10, CERT_VALID), STORE_OK); /* expired */
    expect_valid(s, subj, now, NULL);
    assert_int_equal(issue(s, "11", subj, now, CERT_VALID), STORE_OK); /* expires right now */
    expect_valid(s, subj, now, NULL);
    expect_valid(s, subj, now - 1, "11");
    assert_int_equal(issue(s, "12", subj, now + 1000, CERT_REVOKED), STORE_OK);
    expect_valid(s, subj, now, NULL);
    assert_int_equal(issue(s, "13", "CN=device-10", now + 1000, CERT_VALID), STORE_OK);
    expect_valid(s, subj, now, NULL);
    expect_valid(s, "CN=device-%", now, NULL);
    assert_int_equal(issue(s, "14", subj, now + 50, CERT_SUPERSEDED), STORE_OK);
    expect_valid(s, subj, now, "14");
    assert_int_equal(issue(s, "15", subj, now + 500, CERT_VALID), STORE_OK);
    expect_valid(s, subj, now, "15");
    assert_int_equal(s->ops->cert_set_state(s, "15", CERT_REVOKED, now, 4), STORE_OK);
    expect_valid(s, subj, now, "14");
    expect_valid(s, subj, now + 50, NULL);
    store_close(s);
}

static void test_cert_set_state(void **state)
{
    (void)state;
    char path[256];
    store *s = open_ok(db_path(path, sizeof(path), "set-state"));
    store_cert c;
    assert_int_equal(issue(s, "20", "CN=r", 900000, CERT_VALID), STORE_OK);

    assert_int_equal(s->ops->cert_set_state(s, "20", CERT_REVOKED, 12345, 1), STORE_OK);
    assert_int_equal(s->ops->cert_get(s, "20", &c), STORE_OK);
    assert_int_equal(c.state, CERT_REVOKED);
    assert_int_equal(c.revoked_at, 12345);
    assert_int_equal(c.revocation_reason, 1);
    store_cert_clear(&c);

    assert_int_equal(s->ops->cert_set_state(s, "20", CERT_REVOKED, 999, 11), STORE_ERROR);
    assert_int_equal(s->ops->cert_set_state(s, "20", (cert_state)5, 0, -1), STORE_ERROR);
    assert_int_equal(s->ops->cert_get(s, "20", &c), STORE_OK);
    assert_int_equal(c.revoked_at, 12345);
    store_cert_clear(&c);

    /* Leaving REVOKED drops the date and the reason. */
    assert_int_equal(s->ops->cert_set_state(s, "20", CERT_SUPERSEDED, 777, 3), STORE_OK);
    assert_int_equal(s->ops->cert_get(s, "20", &c), STORE_OK);
    assert_int_equal(c.state, CERT_SUPERSEDED);
    assert_int_equal(c.revoked_at, 0);
    assert_int_equal(c.revocation_reason, -1);
    store_cert_clear(&c);

    assert_int_equal(s->ops->cert_set_state(s, "2F", CERT_REVOKED, 1, 0), STORE_NOT_FOUND);
    store_close(s);
}

static void test_event_add(void **state)
{
    (void)state;
    char path[256], text[600];
    store *s = open_ok(db_path(path, sizeof(path), "events"));
    const char *hostile = "x'); DELETE FROM events; --";
    int64_t t0 = (int64_t)time(NULL);
    assert_int_equal(s->ops->event_add(s, "issued", "0A1B", "by test"), STORE_OK);
    assert_int_equal(s->ops->event_add(s, "boot", NULL, NULL), STORE_OK);
    assert_int_equal(s->ops->event_add(s, "odd", hostile, hostile), STORE_OK);
    assert_int_equal(s->ops->event_add(s, NULL, "r", "d"), STORE_ERROR);
    assert_int_equal(s->ops->event_add(s, "", "r", "d"), STORE_ERROR);
    store_close(s);

    assert_int_equal(raw_int(path, "SELECT count(*) FROM events"), 3);
    raw_text(path, "SELECT kind || '|' || ref || '|' || detail FROM events ORDER BY id LIMIT 1",
             text, sizeof(text));
    assert_string_equal(text, "issued|0A1B|by test");
    raw_text(path, "SELECT ref || detail FROM events WHERE kind = 'boot'", text, sizeof(text));
    assert_string_equal(text, "");
    raw_text(path, "SELECT ref FROM events WHERE kind = 'odd'", text, sizeof(text));
    assert_string_equal(text, hostile);
    assert_true(raw_int(path, "SELECT min(at) FROM events") >= t0);
}

/* ---- locking ---- */

typedef struct holder {
    const char *path;
    pthread_barrier_t *locked;
    long hold_ms;
    int rc;
} holder;

static void *hold_lock(void *arg)
{
    holder *h = arg;
    sqlite3 *db = NULL;
    h->rc = sqlite3_open_v2(h->path, &db, SQLITE_OPEN_READWRITE, NULL);
    if (h->rc == SQLITE_OK)
        h->rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    pthread_barrier_wait(h->locked);
    sleep_ms(h->hold_ms);
    if (h->rc == SQLITE_OK)
        h->rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(db);
    return NULL;
}

static void test_busy(void **state)
{
    (void)state;
    char path[256];
    store *s = open_ok(db_path(path, sizeof(path), "busy"));

    /* A short lock by another connection: the store waits for it. */
    pthread_barrier_t locked;
    pthread_barrier_init(&locked, NULL, 2);
    holder h = {path, &locked, 300, 0};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, hold_lock, &h), 0);
    pthread_barrier_wait(&locked);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(s->ops->event_add(s, "waited", NULL, NULL), STORE_OK);
    assert_true(elapsed_since(&t0) > 0.2);
    pthread_join(t, NULL);
    pthread_barrier_destroy(&locked);
    assert_int_equal(h.rc, SQLITE_OK);

    /* A lock held past the busy timeout: BUSY, and nothing inserted. */
    sqlite3 *db = raw_open(path);
    assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(issue(s, "0D01", "CN=busy", 900000, CERT_VALID), STORE_BUSY);
    assert_true(elapsed_since(&t0) >= STORE_SQLITE_BUSY_TIMEOUT_MS / 1000.0 * 0.9);
    assert_non_null(strstr(s->ops->last_error(s), "locked"));
    assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    store_cert c;
    assert_int_equal(s->ops->cert_get(s, "0D01", &c), STORE_NOT_FOUND);
    assert_int_equal(issue(s, "0D01", "CN=busy", 900000, CERT_VALID), STORE_OK);
    store_close(s);
}

/* Another connection holds the write lock of a new database, still in rollback mode, while we
 * switch it to WAL: SQLite answers BUSY at once there, without its busy handler (what happens
 * when several processes create the database together). Opening waits and succeeds. */
static void test_open_waits_for_wal_switch(void **state)
{
    (void)state;
    char path[256];
    db_path(path, sizeof(path), "wal-switch");
    raw_exec(path, "PRAGMA user_version = 0"); /* an empty database in rollback mode */
    pthread_barrier_t locked;
    pthread_barrier_init(&locked, NULL, 2);
    holder h = {path, &locked, 300, 0};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, hold_lock, &h), 0);
    pthread_barrier_wait(&locked);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    store *s = open_ok(path);
    double waited = elapsed_since(&t0);
    pthread_join(t, NULL);
    pthread_barrier_destroy(&locked);
    assert_int_equal(h.rc, SQLITE_OK);
    assert_true(waited > 0.2);
    store_close(s);
    char mode[32];
    raw_text(path, "PRAGMA journal_mode", mode, sizeof(mode));
    assert_string_equal(mode, "wal");
}

/* ---- races: threads and processes on one new database ---- */

#define RACE_TID "tid-race"
#define RACE_SERIAL "BEEF"

typedef struct race_result {
    int opened;
    store_status put, approve, issue, issue_serial;
    int64_t id;
    char serial[STORE_HEX_SERIAL];
    char err[200];
} race_result;

typedef void (*sync_fn)(void *ctx);

/* One racer: open (everyone creates the schema at once), put the same transactionID,
 * approve it, issue for it from APPROVED with its own serial, then issue one serial that
 * everyone uses, without a request. sync() lines the racers up before each step. Runs in a
 * thread or a child process: records results, asserts nothing. */
static void race(const char *path, int index, sync_fn sync, void *ctx, race_result *res)
{
    memset(res, 0, sizeof(*res));
    res->put = res->approve = res->issue = res->issue_serial = STORE_ERROR;
    snprintf(res->serial, sizeof(res->serial), "%04X", 0xA000 + index);
    sync(ctx);
    store *s = store_open(path, res->err, sizeof(res->err));
    res->opened = s != NULL;
    store_request r, out;
    store_cert c;
    make_request(&r, RACE_TID, "CN=racer");
    if (s != NULL) {
        res->put = s->ops->request_put(s, &r, &out);
        res->id = out.id;
        store_request_clear(&out);
    }
    sync(ctx);
    if (s != NULL)
        res->approve =
            s->ops->request_transition(s, res->id, REQUEST_PENDING, REQUEST_APPROVED, NULL);
    sync(ctx);
    make_cert(&c, res->serial, "CN=racer", 900000, CERT_VALID);
    snprintf(c.transaction_id, sizeof(c.transaction_id), RACE_TID);
    if (s != NULL)
        res->issue = s->ops->cert_issue(s, &c, res->id, REQUEST_APPROVED);
    sync(ctx);
    make_cert(&c, RACE_SERIAL, "CN=same serial", 900000, CERT_VALID);
    if (s != NULL)
        res->issue_serial = s->ops->cert_issue(s, &c, 0, REQUEST_PENDING);
    store_close(s);
}

static int count_status(const race_result *res, int n, size_t offset, store_status want)
{
    int count = 0;
    for (int i = 0; i < n; i++) {
        store_status got;
        memcpy(&got, (const char *)&res[i] + offset, sizeof(got));
        count += got == want;
    }
    return count;
}

static void check_race(const char *path, const race_result *res, int n)
{
    const char *winner = NULL;
    for (int i = 0; i < n; i++) {
        if (!res[i].opened)
            fail_msg("racer %d: store_open: %s", i, res[i].err);
        assert_int_equal(res[i].id, res[0].id);
        if (res[i].issue == STORE_OK)
            winner = res[i].serial;
    }
    assert_true(res[0].id > 0);
    assert_int_equal(count_status(res, n, offsetof(race_result, put), STORE_OK), 1);
    assert_int_equal(count_status(res, n, offsetof(race_result, put), STORE_EXISTS), n - 1);
    assert_int_equal(count_status(res, n, offsetof(race_result, approve), STORE_OK), 1);
    assert_int_equal(count_status(res, n, offsetof(race_result, approve), STORE_CONFLICT), n - 1);
    assert_int_equal(count_status(res, n, offsetof(race_result, issue), STORE_OK), 1);
    assert_int_equal(count_status(res, n, offsetof(race_result, issue), STORE_CONFLICT), n - 1);
    assert_int_equal(count_status(res, n, offsetof(race_result, issue_serial), STORE_OK), 1);
    assert_int_equal(count_status(res, n, offsetof(race_result, issue_serial), STORE_EXISTS),
                     n - 1);
    assert_non_null(winner);

    store *s = open_ok(path);
    store_request r;
    assert_int_equal(s->ops->request_get(s, RACE_TID, &r), STORE_OK);
    assert_int_equal(r.state, REQUEST_ISSUED);
    assert_string_equal(r.cert_serial, winner);
    store_request_clear(&r);
    store_close(s);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM requests"), 1);
    assert_int_equal(
        raw_int(path, "SELECT count(*) FROM certs WHERE transaction_id = '" RACE_TID "'"), 1);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM certs"), 2);
}

#ifndef RACE_THREADS /* -D for a stress run */
#define RACE_THREADS 8
#endif

typedef struct thread_racer {
    const char *path;
    pthread_barrier_t *barrier;
    int index;
    race_result res;
} thread_racer;

static void barrier_sync(void *ctx)
{
    pthread_barrier_wait(ctx);
}

static void *race_thread(void *arg)
{
    thread_racer *t = arg;
    race(t->path, t->index, barrier_sync, t->barrier, &t->res);
    return NULL;
}

static void test_race_threads(void **state)
{
    (void)state;
    char path[256];
    db_path(path, sizeof(path), "race-threads");
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, RACE_THREADS);
    thread_racer t[RACE_THREADS];
    pthread_t tid[RACE_THREADS];
    for (int i = 0; i < RACE_THREADS; i++) {
        t[i] = (thread_racer){path, &barrier, i, {0}};
        assert_int_equal(pthread_create(&tid[i], NULL, race_thread, &t[i]), 0);
    }
    for (int i = 0; i < RACE_THREADS; i++)
        pthread_join(tid[i], NULL);
    pthread_barrier_destroy(&barrier);
    race_result res[RACE_THREADS];
    for (int i = 0; i < RACE_THREADS; i++)
        res[i] = t[i].res;
    check_race(path, res, RACE_THREADS);
}

#ifndef RACE_PROCS
#define RACE_PROCS 2
#endif
#define RACE_STEPS 4 /* sync() calls in race() */

typedef struct proc_ctx {
    int up;   /* write: "I reached the line" */
    int down; /* read: "go" */
} proc_ctx;

static void proc_sync(void *arg)
{
    proc_ctx *p = arg;
    char c = 'x';
    if (write(p->up, &c, 1) != 1 || read(p->down, &c, 1) != 1)
        _exit(3);
}

static void race_child(const char *path, int index, int up, int down, int result)
{
    proc_ctx ctx = {up, down};
    race_result res;
    race(path, 100 + index, proc_sync, &ctx, &res);
    ssize_t w = write(result, &res, sizeof(res));
    _exit(w == (ssize_t)sizeof(res) ? 0 : 1);
}

/* Reads exactly len bytes or fails after a timeout (a child that died or hangs). */
static int read_full(int fd, void *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 30000) != 1)
            return -1;
        ssize_t n = read(fd, (char *)buf + got, len - got);
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    return 0;
}

static void test_race_processes(void **state)
{
    (void)state;
    char path[256];
    db_path(path, sizeof(path), "race-procs");
    int up[2], down[RACE_PROCS][2], result[RACE_PROCS][2];
    pid_t pid[RACE_PROCS];
    assert_int_equal(pipe(up), 0);
    for (int i = 0; i < RACE_PROCS; i++) {
        assert_int_equal(pipe(down[i]), 0);
        assert_int_equal(pipe(result[i]), 0);
        pid[i] = fork();
        assert_true(pid[i] >= 0);
        if (pid[i] == 0) {
            close(up[0]);
            close(down[i][1]);
            close(result[i][0]);
            race_child(path, i, up[1], down[i][0], result[i][1]);
        }
        close(down[i][0]);
        close(result[i][1]);
    }
    close(up[1]);

    int ok = 1;
    for (int step = 0; ok && step < RACE_STEPS; step++) {
        char lined_up[RACE_PROCS];
        ok = read_full(up[0], lined_up, sizeof(lined_up)) == 0;
        for (int i = 0; ok && i < RACE_PROCS; i++)
            ok = write(down[i][1], "g", 1) == 1;
    }
    race_result res[RACE_PROCS];
    for (int i = 0; ok && i < RACE_PROCS; i++)
        ok = read_full(result[i][0], &res[i], sizeof(res[i])) == 0;
    for (int i = 0; i < RACE_PROCS; i++) {
        int status = 0;
        if (!ok)
            kill(pid[i], SIGKILL);
        assert_int_equal(waitpid(pid[i], &status, 0), pid[i]);
        if (ok && (!WIFEXITED(status) || WEXITSTATUS(status) != 0))
            fail_msg("racer process %d: status %d", i, status);
        close(down[i][1]);
        close(result[i][0]);
    }
    close(up[0]);
    assert_true(ok);
    check_race(path, res, RACE_PROCS);
}

/* ---- names and records ---- */

static void test_names_and_clear(void **state)
{
    (void)state;
    assert_string_equal(request_state_name(REQUEST_PENDING), "pending");
    assert_string_equal(request_state_name(REQUEST_APPROVED), "approved");
    assert_string_equal(request_state_name(REQUEST_REJECTED), "rejected");
    assert_string_equal(request_state_name(REQUEST_ISSUED), "issued");
    assert_string_equal(request_state_name((request_state)42), "unknown");
    assert_string_equal(cert_state_name(CERT_VALID), "valid");
    assert_string_equal(cert_state_name(CERT_REVOKED), "revoked");
    assert_string_equal(cert_state_name(CERT_SUPERSEDED), "superseded");
    assert_string_equal(cert_state_name((cert_state)-1), "unknown");

    store_request r = {.id = 5, .csr_der = malloc(10), .csr_len = 10};
    store_request_clear(&r);
    assert_null(r.csr_der);
    assert_int_equal(r.csr_len, 0);
    assert_int_equal(r.id, 0);
    store_request_clear(&r); /* twice is fine */
    store_request_clear(NULL);
    store_cert c = {.is_ca = 1, .der = malloc(10), .der_len = 10};
    store_cert_clear(&c);
    assert_null(c.der);
    assert_int_equal(c.der_len, 0);
    assert_int_equal(c.is_ca, 0);
    store_cert_clear(NULL);
    store_close(NULL);
}

static void test_crls(void **state)
{
    (void)state;
    char path[256];
    db_path(path, sizeof(path), "crls");
    store *s = open_ok(path);
    store_crl out;
    assert_int_equal(s->ops->crl_latest(s, NULL, &out), STORE_NOT_FOUND);
    unsigned char der1[] = {1, 2, 3}, der2[] = {4, 5, 6, 7};
    store_crl c1 = {.number = 1, .this_update = 100, .next_update = 200, .der = der1, .der_len = 3};
    store_crl c2 = {.number = 2, .this_update = 150, .next_update = 250, .der = der2, .der_len = 4};
    snprintf(c1.issuer_key, sizeof(c1.issuer_key), "OLDKEY");
    snprintf(c2.issuer_key, sizeof(c2.issuer_key), "NEWKEY");
    assert_int_equal(s->ops->crl_add(s, &c1), STORE_OK);
    assert_int_equal(s->ops->crl_add(s, &c2), STORE_OK);
    assert_int_equal(s->ops->crl_add(s, &c1), STORE_EXISTS); /* numbers never repeat */
    assert_int_equal(s->ops->crl_latest(s, NULL, &out), STORE_OK);
    assert_int_equal(out.number, 2);
    assert_string_equal(out.issuer_key, "NEWKEY");
    store_crl old;
    assert_int_equal(s->ops->crl_latest(s, "OLDKEY", &old), STORE_OK);
    assert_int_equal(old.number, 1);
    store_crl_clear(&old);
    assert_int_equal(s->ops->crl_latest(s, "NOKEY", &old), STORE_NOT_FOUND);
    assert_int_equal(out.next_update, 250);
    assert_int_equal(out.der_len, 4);
    assert_memory_equal(out.der, der2, 4);
    store_crl_clear(&out);
    store_close(s);
}

static void test_challenges(void **state)
{
    (void)state;
    char path[256];
    db_path(path, sizeof(path), "challenges");
    store *s = open_ok(path);
    store_challenge c = {.expires_at = 1000};
    memset(c.hash, 'A', 64);
    c.hash[64] = '\0';
    snprintf(c.subject_match, sizeof(c.subject_match), "^CN=dev");
    assert_int_equal(s->ops->challenge_add(s, &c), STORE_OK);
    assert_int_equal(s->ops->challenge_add(s, &c), STORE_EXISTS);
    store_challenge got;
    assert_int_equal(s->ops->challenge_get(s, c.hash, &got), STORE_OK);
    assert_string_equal(got.subject_match, "^CN=dev");
    assert_int_equal(got.used_at, 0);
    /* Expired: refused. */
    assert_int_equal(s->ops->challenge_consume(s, c.hash, 1000), STORE_CONFLICT);
    /* Once, then never again. */
    assert_int_equal(s->ops->challenge_consume(s, c.hash, 999), STORE_OK);
    assert_int_equal(s->ops->challenge_consume(s, c.hash, 999), STORE_CONFLICT);
    assert_int_equal(s->ops->challenge_get(s, c.hash, &got), STORE_OK);
    assert_int_equal(got.used_at, 999);
    char other[65];
    memset(other, 'B', 64);
    other[64] = '\0';
    assert_int_equal(s->ops->challenge_consume(s, other, 1), STORE_NOT_FOUND);
    assert_int_equal(s->ops->challenge_consume(s, "not hex", 1), STORE_NOT_FOUND);
    c.hash[3] = 'z';
    assert_int_not_equal(s->ops->challenge_add(s, &c), STORE_OK);
    store_close(s);
}

/* request_issue: the request and its certificate in one transaction, or nothing. */
static void test_request_issue(void **state)
{
    (void)state;
    char path[256];
    store *s = open_ok(db_path(path, sizeof(path), "request-issue"));
    store_request r, out;
    store_cert c;
    make_request(&r, "tid-auto", "CN=auto");
    make_cert(&c, "0A01", "CN=auto", 4000000000, CERT_VALID);
    assert_int_equal(s->ops->request_issue(s, &r, &c, &out), STORE_OK);
    assert_true(out.id > 0);
    assert_int_equal(out.state, REQUEST_ISSUED);
    assert_string_equal(out.cert_serial, "0A01");
    assert_memory_equal(out.csr_der, csr_bytes, sizeof(csr_bytes));
    store_request got;
    assert_int_equal(s->ops->request_get(s, "tid-auto", &got), STORE_OK);
    assert_int_equal(got.id, out.id);
    assert_int_equal(got.state, REQUEST_ISSUED);
    assert_string_equal(got.cert_serial, "0A01");
    assert_int_equal(got.created_at, out.created_at);
    store_request_clear(&got);
    store_request_clear(&out);

    /* The transactionID is taken: nothing written, the stored request comes back. */
    make_cert(&c, "0A02", "CN=auto", 4000000000, CERT_VALID);
    assert_int_equal(s->ops->request_issue(s, &r, &c, &out), STORE_CONFLICT);
    assert_string_equal(out.cert_serial, "0A01");
    store_request_clear(&out);
    store_cert none;
    assert_int_equal(s->ops->cert_get(s, "0A02", &none), STORE_NOT_FOUND);

    /* The serial is taken: nothing written either. */
    make_request(&r, "tid-other", "CN=other");
    make_cert(&c, "0A01", "CN=other", 4000000000, CERT_VALID);
    assert_int_equal(s->ops->request_issue(s, &r, &c, &out), STORE_EXISTS);
    assert_int_equal(out.id, 0);
    assert_int_equal(s->ops->request_get(s, "tid-other", &got), STORE_NOT_FOUND);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM certs"), 1);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM requests"), 1);
    store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema_created_and_reopened),
        cmocka_unit_test(test_file_mode_0600),
        cmocka_unit_test(test_memory_store),
        cmocka_unit_test(test_open_waits_for_wal_switch),
        cmocka_unit_test(test_newer_schema_refused),
        cmocka_unit_test(test_crls),
        cmocka_unit_test(test_challenges),
        cmocka_unit_test(test_foreign_database_refused),
        cmocka_unit_test(test_garbage_refused),
        cmocka_unit_test(test_unusable_paths_refused),
        cmocka_unit_test(test_corrupt_page),
        cmocka_unit_test(test_request_put_get),
        cmocka_unit_test(test_text_bounds),
        cmocka_unit_test(test_request_transitions),
        cmocka_unit_test(test_request_list),
        cmocka_unit_test(test_cert_issue_with_request),
        cmocka_unit_test(test_request_issue),
        cmocka_unit_test(test_cert_issue_duplicate_serial),
        cmocka_unit_test(test_cert_issue_request_conflict),
        cmocka_unit_test(test_cert_issue_bad_input),
        cmocka_unit_test(test_cert_list_filters),
        cmocka_unit_test(test_find_valid_by_subject),
        cmocka_unit_test(test_cert_set_state),
        cmocka_unit_test(test_event_add),
        cmocka_unit_test(test_busy),
        cmocka_unit_test(test_race_threads),
        cmocka_unit_test(test_race_processes),
        cmocka_unit_test(test_names_and_clear),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
