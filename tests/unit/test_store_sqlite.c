/* The SQLite store (server/store/sqlite/store_sqlite.c) through the store.h interface, on database
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

#include "store/store.h"
#include "store/sqlite/store_sqlite.h"
#include "store/csr_at_rest.h"
#include "store_cases.h"

static char tmpdir[] = "/tmp/scepd-store-test-XXXXXX";

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
    assert_int_equal(raw_int(path, "SELECT count(*) FROM pragma_index_info('requests_waiting') "
                                   "WHERE name = 'id'"),
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

/* Only store_create() makes a store: store_open() refuses a missing file and an empty one,
 * and leaves both as they were. */
static void test_open_never_creates(void **state)
{
    (void)state;
    char path[256], err[512] = "", want[400];
    db_path(path, sizeof(path), "never-made");
    assert_null(store_open(path, err, sizeof(err)));
    snprintf(want, sizeof(want), "no store at %s: run scepd init", path);
    assert_string_equal(err, want);
    assert_int_equal(access(path, F_OK), -1);
    char uri[300];
    snprintf(uri, sizeof(uri), "sqlite:%s", path);
    assert_null(store_open(uri, err, sizeof(err)));
    assert_string_equal(err, want);

    write_file(path, "", 0);
    assert_null(store_open(path, err, sizeof(err)));
    assert_non_null(strstr(err, "an empty database, not a store: run scepd init"));
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 0);

    store_close(open_ok(path));
    store *s = store_open(path, err, sizeof(err));
    assert_non_null(s);
    store_close(s);
    assert_non_null(s = store_open(":memory:", err, sizeof(err))); /* nothing to lose there */
    store_close(s);
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
    assert_null(store_create(path, err, sizeof(err)));
    assert_non_null(strstr(err, "No such file"));

    static const struct {
        const char *uri;
        const char *why;
    } bad[] = {
        {"", "empty"},
        {"mysql://db.example/scep", "unsupported"},
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

/* A database of schema version 4 (before the approver's columns and the separate signer's key)
 * is migrated in place: its requests keep everything and read with the new fields empty. */
static void test_migration_from_version_4(void **state)
{
    (void)state;
    char path[256];
    db_path(path, sizeof(path), "v4");
    store *s = open_ok(path);
    int64_t id = put_new(s, "tid-old");
    store_close(s);
    raw_exec(path, "DROP TABLE failures;"
                   "DROP TABLE admin_tokens; DROP TABLE audit; DROP INDEX requests_waiting; CREATE "
                   "INDEX requests_state ON requests (state); "
                   "DROP TABLE ca_generations; DROP TABLE ca_generation_counter;"
                   "ALTER TABLE requests DROP COLUMN signer_key_id;"
                   "ALTER TABLE requests DROP COLUMN client_addr;"
                   "ALTER TABLE requests DROP COLUMN challenge_kind;"
                   "ALTER TABLE requests DROP COLUMN csr_hash;"
                   "INSERT INTO requests (transaction_id, key_id, subject, message_type, state, "
                   "created_at, updated_at) VALUES ('tid-older', 'k', 'CN=older', 19, 0, 5, 5);"
                   "PRAGMA user_version = 4;");
    s = open_ok(path);
    assert_int_equal(raw_int(path, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM failures"), 0);
    store_request out;
    assert_int_equal(s->ops->request_get_by_id(s, id, &out), STORE_OK);
    assert_string_equal(out.transaction_id, "tid-old");
    assert_string_equal(out.client_addr, "");
    assert_string_equal(out.challenge_kind, "");
    assert_string_equal(out.signer_key_id, "");
    store_request_clear(&out);
    assert_int_equal(s->ops->request_get(s, "tid-older", &out), STORE_OK);
    assert_string_equal(out.subject, "CN=older");
    assert_string_equal(out.client_addr, "");
    store_request_clear(&out);
    store_request r;
    make_request(&r, "tid-new", "CN=new");
    snprintf(r.client_addr, sizeof(r.client_addr), "192.0.2.1");
    assert_int_equal(s->ops->request_put(s, &r, &out), STORE_OK);
    store_request_clear(&out);
    store_close(s);
    char addr[64];
    raw_text(path, "SELECT client_addr FROM requests WHERE transaction_id = 'tid-new'", addr,
             sizeof(addr));
    assert_string_equal(addr, "192.0.2.1");
}

/* A CSR for a test key, with a challengePassword when challenge is not NULL; DER in *der. */
static size_t csr_with(const char *challenge, unsigned char **der)
{
    X509_REQ *req = X509_REQ_new();
    EVP_PKEY *key = tu_rsa_key(2048, 0);
    X509_NAME *name = X509_NAME_new();
    assert_true(name && X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                                   (const unsigned char *)"at rest", -1, -1, 0));
    assert_true(X509_REQ_set_subject_name(req, name) && X509_REQ_set_pubkey(req, key));
    if (challenge != NULL)
        assert_true(X509_REQ_add1_attr_by_NID(req, NID_pkcs9_challengePassword, MBSTRING_UTF8,
                                              (const unsigned char *)challenge, -1));
    assert_true(X509_REQ_sign(req, key, EVP_sha256()) > 0);
    *der = NULL;
    int n = i2d_X509_REQ(req, der);
    assert_true(n > 0);
    X509_NAME_free(name);
    X509_REQ_free(req);
    return (size_t)n;
}

static int bytes_hold(const unsigned char *buf, size_t n, const char *text)
{
    size_t len = strlen(text);
    for (size_t i = 0; i + len <= n; i++)
        if (memcmp(buf + i, text, len) == 0)
            return 1;
    return 0;
}

/* Whether the database file (and its log, if any) holds text anywhere. */
static int file_holds(const char *path, const char *text)
{
    char name[300];
    int found = 0;
    for (int i = 0; i < 2; i++) {
        snprintf(name, sizeof(name), "%s%s", path, i ? "-wal" : "");
        FILE *f = fopen(name, "rb");
        static unsigned char buf[1 << 20];
        size_t n = f ? fread(buf, 1, sizeof(buf), f) : 0;
        if (f != NULL)
            fclose(f);
        found |= bytes_hold(buf, n, text);
    }
    return found;
}

/* 9 -> 10: the admin tokens and the audit log appear, the index of every state gives way to
 * one of the waiting requests, and those still list. */
static void test_migration_from_version_9(void **state)
{
    (void)state;
    char path[256];
    db_path(path, sizeof(path), "v9");
    store *s = open_ok(path);
    int64_t id = put_new(s, "tid-waiting");
    store_close(s);
    raw_exec(path, "DROP TABLE admin_tokens; DROP TABLE audit; DROP INDEX requests_waiting;"
                   "CREATE INDEX requests_state ON requests (state); PRAGMA user_version = 9;");
    s = open_ok(path);
    assert_int_equal(raw_int(path, "PRAGMA user_version"), 10);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM sqlite_master WHERE name IN "
                                   "('admin_tokens', 'audit', 'audit_time', 'requests_waiting')"),
                     4);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM sqlite_master WHERE name = "
                                   "'requests_state'"),
                     0);
    collected pending = {.s = s};
    assert_int_equal(s->ops->request_list(s, 1, collect_request, &pending), STORE_OK);
    assert_int_equal(pending.n, 1);
    assert_string_equal(pending.keys[0], "tid-waiting");
    store_request out;
    assert_int_equal(s->ops->request_get_by_id(s, id, &out), STORE_OK);
    store_request_clear(&out);
    store_close(s);
}

/* A database written before schema 8 held the challenge in each stored CSR: the upgrade
 * keeps the hash of the CSR as it came and removes the challenge, bytes and all. */
static void test_migration_strips_challenges(void **state)
{
    (void)state;
    static const char secret[] = "at-rest-S3CRET-challenge";
    char path[256], hash[STORE_KEY_ID];
    db_path(path, sizeof(path), "v7");
    unsigned char *with = NULL, *without = NULL;
    size_t with_len = csr_with(secret, &with), without_len = csr_with(NULL, &without);
    store *s = open_ok(path);
    store_request r, out;
    make_request(&r, "tid-secret", "CN=at rest");
    r.csr_der = with;
    r.csr_len = with_len;
    assert_int_equal(s->ops->request_put(s, &r, &out), STORE_OK);
    store_request_clear(&out);
    make_request(&r, "tid-plain", "CN=at rest");
    r.csr_der = without;
    r.csr_len = without_len;
    assert_int_equal(s->ops->request_put(s, &r, &out), STORE_OK);
    store_request_clear(&out);
    put_new(s, "tid-garbage"); /* csr_bytes: no CSR at all */
    store_close(s);
    raw_exec(path, "DROP TABLE admin_tokens; DROP TABLE audit; DROP INDEX requests_waiting; CREATE "
                   "INDEX requests_state ON requests (state); "
                   "DROP TABLE ca_generations; DROP TABLE ca_generation_counter;"
                   "ALTER TABLE requests DROP COLUMN csr_hash; PRAGMA user_version = 7;");
    assert_true(file_holds(path, secret)); /* as old databases were */

    s = open_ok(path);
    assert_int_equal(raw_int(path, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    assert_int_equal(s->ops->request_get(s, "tid-secret", &out), STORE_OK);
    store_sha256_hex(with, with_len, hash);
    assert_string_equal(out.csr_hash, hash);
    const unsigned char *p = out.csr_der;
    X509_REQ *kept = d2i_X509_REQ(NULL, &p, (long)out.csr_len);
    assert_non_null(kept);
    assert_int_equal(X509_REQ_get_attr_by_NID(kept, NID_pkcs9_challengePassword, -1), -1);
    p = without; /* the same request otherwise: subject, key */
    X509_REQ *plain = d2i_X509_REQ(NULL, &p, (long)without_len);
    assert_int_equal(
        X509_NAME_cmp(X509_REQ_get_subject_name(kept), X509_REQ_get_subject_name(plain)), 0);
    assert_int_equal(EVP_PKEY_eq(X509_REQ_get0_pubkey(kept), X509_REQ_get0_pubkey(plain)), 1);
    X509_REQ_free(kept);
    X509_REQ_free(plain);
    store_request_clear(&out);
    assert_int_equal(s->ops->request_get(s, "tid-plain", &out), STORE_OK);
    store_sha256_hex(without, without_len, hash);
    assert_string_equal(out.csr_hash, hash);
    assert_memory_equal(out.csr_der, without, without_len);
    store_request_clear(&out);
    assert_int_equal(s->ops->request_get(s, "tid-garbage", &out), STORE_OK);
    assert_memory_equal(out.csr_der, csr_bytes, sizeof(csr_bytes));
    assert_int_equal(strlen(out.csr_hash), 64);
    store_request_clear(&out);
    store_close(s);
    assert_false(file_holds(path, secret));
    OPENSSL_free(with);
    OPENSSL_free(without);
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

/* ---- certificates ---- */

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

/* The enrollment's statements find their rows by an index: a join of the issue's audit row
 * on requests.cert_serial (no index) read every stored request at each issue. */
static void test_enrollment_without_scans(void **state)
{
    (void)state;
    char err[256] = "";
    store *s = store_sqlite_open(":memory:", err, sizeof(err), NULL, 1);
    assert_non_null(s);
    const char *scope[2] = {"address", "subject"}, *key[2] = {"192.0.2.1", "cn=dev"};
    for (int i = 0; i < 40; i++) {
        char tid[32], serial[8];
        snprintf(tid, sizeof(tid), "tid-scan-%d", i);
        snprintf(serial, sizeof(serial), "5C%02X", i);
        store_request r, out;
        store_cert c;
        store_failure f[2];
        make_request(&r, tid, "CN=dev");
        make_cert(&c, serial, "CN=dev", 900000, CERT_VALID);
        assert_int_equal(s->ops->failure_get_pair(s, scope, key, 1000, f), STORE_OK);
        assert_int_equal(s->ops->request_get(s, tid, &out), STORE_NOT_FOUND);
        assert_int_equal(s->ops->request_issue(s, &r, &c, &out), STORE_OK);
        store_request_clear(&out);
        int64_t id = put_new(s, tid + 4); /* and the manual path: approved, then issued */
        assert_int_equal(s->ops->request_transition(s, id, REQUEST_PENDING, REQUEST_APPROVED, NULL),
                         STORE_OK);
        snprintf(serial, sizeof(serial), "6C%02X", i);
        make_cert(&c, serial, "CN=dev", 900000, CERT_VALID);
        assert_int_equal(s->ops->cert_issue(s, &c, id, REQUEST_APPROVED), STORE_OK);
    }
    assert_int_equal(store_sqlite_scan_steps(s), 0);
    store_close(s);
}

/* An automatic enrollment as scepd stores it: the certificate names its request. */
static void issue_as_scepd(store *s, const char *tid, const char *serial)
{
    store_request r, out;
    store_cert c;
    make_request(&r, tid, "CN=dev");
    make_cert(&c, serial, "CN=dev", 900000, CERT_VALID);
    snprintf(c.transaction_id, sizeof(c.transaction_id), "%s", tid); /* as scepd stores it */
    assert_int_equal(s->ops->request_issue(s, &r, &c, &out), STORE_OK);
    store_request_clear(&out);
}

/* `scepd revoke SERIAL` finds the certificate's request through its transactionID (indexed):
 * no read of every request; one stored with another transactionID is still found, the slow
 * way; a serial of no certificate reads nothing. */
static void test_request_by_cert_without_scan(void **state)
{
    (void)state;
    char err[256] = "", tid[32], serial[8];
    store *s = store_sqlite_open(":memory:", err, sizeof(err), NULL, 1);
    assert_non_null(s);
    for (int i = 0; i < 40; i++) {
        snprintf(tid, sizeof(tid), "tid-rev-%d", i);
        snprintf(serial, sizeof(serial), "7C%02X", i);
        issue_as_scepd(s, tid, serial);
    }
    store_request got;
    assert_int_equal(s->ops->request_get_by_cert(s, "7C11", &got), STORE_OK);
    assert_string_equal(got.transaction_id, "tid-rev-17");
    assert_string_equal(got.cert_serial, "7C11");
    store_request_clear(&got);
    assert_int_equal(s->ops->request_get_by_cert(s, "0BAD", &got), STORE_NOT_FOUND);
    assert_int_equal(store_sqlite_scan_steps(s), 0);

    store_cert c; /* another transactionID in the certificate's row than in its request's */
    int64_t id = put_new(s, "tid-manual");
    assert_int_equal(s->ops->request_transition(s, id, REQUEST_PENDING, REQUEST_APPROVED, NULL),
                     STORE_OK);
    make_cert(&c, "8D01", "CN=dev", 900000, CERT_VALID);
    assert_int_equal(s->ops->cert_issue(s, &c, id, REQUEST_APPROVED), STORE_OK);
    assert_int_equal(s->ops->request_get_by_cert(s, "8D01", &got), STORE_OK);
    assert_string_equal(got.transaction_id, "tid-manual");
    assert_int_equal(got.id, id);
    store_request_clear(&got);
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
    store *s = store_create(path, res->err, sizeof(res->err));
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

/* ---- failed attempts ---- */

/* A failure step for the tests: counts, and keeps the record until now + 100. */
static void count_step(void *arg, store_failure *f, int64_t now)
{
    (void)arg;
    if (f->first_at == 0)
        f->first_at = now;
    f->total++;
    f->count++;
    f->last_at = now;
    f->locked_until = f->count >= 3 ? now + 50 : 0;
    f->expires_at = now + 100;
}

static int count_failure(void *arg, const store_failure *f)
{
    (void)f;
    (*(int *)arg)++;
    return 0;
}

static void test_failures(void **state)
{
    (void)state;
    char path[256];
    store *s = open_ok(db_path(path, sizeof(path), "failures"));
    const store_ops *ops = s->ops;
    store_failure f;
    assert_int_equal(ops->failure_get(s, "address", "192.0.2.1", 1000, &f), STORE_NOT_FOUND);
    for (int i = 0; i < 3; i++)
        assert_int_equal(
            ops->failure_add(s, "address", "192.0.2.1", 1000 + i, count_step, NULL, &f), STORE_OK);
    assert_int_equal(f.total, 3);
    assert_int_equal(f.locked_until, 1052);
    assert_int_equal(ops->failure_get(s, "address", "192.0.2.1", 1010, &f), STORE_OK);
    assert_string_equal(f.scope, "address");
    assert_string_equal(f.key, "192.0.2.1");
    assert_int_equal(f.first_at, 1000);
    assert_int_equal(f.last_at, 1002);
    assert_int_equal(f.count, 3);
    assert_int_equal(f.expires_at, 1102);
    /* Scopes are apart; an expired record is gone for get and starts afresh for add. */
    assert_int_equal(ops->failure_get(s, "subject", "192.0.2.1", 1010, &f), STORE_NOT_FOUND);
    assert_int_equal(ops->failure_get(s, "address", "192.0.2.1", 1102, &f), STORE_NOT_FOUND);
    assert_int_equal(ops->failure_add(s, "address", "192.0.2.1", 1200, count_step, NULL, &f),
                     STORE_OK);
    assert_int_equal(f.total, 1);
    assert_int_equal(f.first_at, 1200);
    assert_int_equal(ops->failure_add(s, "subject", "cn=dev-1", 1200, count_step, NULL, &f),
                     STORE_OK);
    assert_int_equal(ops->failure_add(s, "admin", "192.0.2.1", 1200, count_step, NULL, &f),
                     STORE_OK);
    int n = 0;
    assert_int_equal(ops->failure_list(s, 1250, count_failure, &n), STORE_OK);
    assert_int_equal(n, 3);
    n = 0;
    assert_int_equal(ops->failure_list(s, 1300, count_failure, &n), STORE_OK);
    assert_int_equal(n, 0);
    /* Clearing a key clears it in every scope. */
    int cleared = 0;
    assert_int_equal(ops->failure_clear(s, "192.0.2.1", &cleared), STORE_OK);
    assert_int_equal(cleared, 2);
    assert_int_equal(ops->failure_get(s, "subject", "cn=dev-1", 1250, &f), STORE_OK);
    assert_int_equal(ops->failure_clear(s, NULL, &cleared), STORE_OK);
    assert_int_equal(cleared, 1);
    /* Bad input is refused, nothing written. */
    assert_int_equal(ops->failure_add(s, "", "k", 1, count_step, NULL, &f), STORE_ERROR);
    assert_int_equal(ops->failure_add(s, "address", "", 1, count_step, NULL, &f), STORE_ERROR);
    assert_int_equal(ops->failure_add(s, "a-scope-far-too-long", "k", 1, count_step, NULL, &f),
                     STORE_ERROR);
    assert_int_equal(ops->failure_add(s, "address", "k", 1, NULL, NULL, &f), STORE_ERROR);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM failures"), 0);
    store_close(s);
}

/* Each failure forgets a few expired records: an attack from many addresses does not pile up. */
static void test_failures_pruned(void **state)
{
    (void)state;
    char path[256];
    store *s = open_ok(db_path(path, sizeof(path), "failures-pruned"));
    store_failure f;
    char key[32];
    for (int i = 0; i < 40; i++) {
        snprintf(key, sizeof(key), "198.51.100.%d", i);
        assert_int_equal(s->ops->failure_add(s, "address", key, 1000, count_step, NULL, &f),
                         STORE_OK);
    }
    assert_int_equal(raw_int(path, "SELECT count(*) FROM failures"), 40);
    /* All expired at 1100: every later failure removes some, until none is left. */
    for (int i = 0; i < 3; i++)
        assert_int_equal(
            s->ops->failure_add(s, "address", "203.0.113.1", 2000 + i, count_step, NULL, &f),
            STORE_OK);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM failures"), 1);
    store_close(s);
}

#define FAILURE_PROCS 4
#define FAILURES_EACH 25

/* Processes sharing the store count one source together: no failure is lost. */
static void test_failures_across_processes(void **state)
{
    (void)state;
    char path[256];
    db_path(path, sizeof(path), "failures-procs");
    store_close(open_ok(path));
    pid_t pid[FAILURE_PROCS];
    for (int i = 0; i < FAILURE_PROCS; i++) {
        pid[i] = fork();
        assert_true(pid[i] >= 0);
        if (pid[i] == 0) {
            store *s = store_open(path, NULL, 0);
            store_failure f;
            int bad = s == NULL;
            for (int k = 0; !bad && k < FAILURES_EACH; k++)
                bad = s->ops->failure_add(s, "address", "192.0.2.9", 1000, count_step, NULL, &f) !=
                      STORE_OK;
            store_close(s);
            _exit(bad);
        }
    }
    for (int i = 0; i < FAILURE_PROCS; i++) {
        int status = 0;
        assert_int_equal(waitpid(pid[i], &status, 0), pid[i]);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    store *s = open_ok(path);
    store_failure f;
    assert_int_equal(s->ops->failure_get(s, "address", "192.0.2.9", 1000, &f), STORE_OK);
    assert_int_equal(f.total, FAILURE_PROCS * FAILURES_EACH);
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
        cmocka_unit_test(test_failures),
        cmocka_unit_test(test_failures_pruned),
        cmocka_unit_test(test_failures_across_processes),
        cmocka_unit_test(test_foreign_database_refused),
        cmocka_unit_test(test_garbage_refused),
        cmocka_unit_test(test_open_never_creates),
        cmocka_unit_test(test_unusable_paths_refused),
        cmocka_unit_test(test_corrupt_page),
        cmocka_unit_test(test_migration_from_version_4),
        cmocka_unit_test(test_migration_strips_challenges),
        cmocka_unit_test(test_migration_from_version_9),
        cmocka_unit_test(test_text_bounds),
        cmocka_unit_test(test_request_issue),
        cmocka_unit_test(test_cert_issue_request_conflict),
        cmocka_unit_test(test_enrollment_without_scans),
        cmocka_unit_test(test_request_by_cert_without_scan),
        cmocka_unit_test(test_event_add),
        cmocka_unit_test(test_busy),
        cmocka_unit_test(test_race_threads),
        cmocka_unit_test(test_race_processes),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
