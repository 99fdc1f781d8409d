/*
 * The store's contract (store/store.h), one suite that every backend passes: each test runs
 * through the front (store_open by URI) once on an SQLite file ("sqlite:PATH"), once in memory
 * ("memory:"), and once on PostgreSQL when SCEPD_TEST_PG_HOST and SCEPD_TEST_PG_PORT name a
 * server whose superuser "postgres" may connect without a password (tests/postgresql/run-all
 * starts one): each case in a fresh database. What only SQLite has (schema, migrations, files,
 * WAL, processes) is in test_store_sqlite.c, what only PostgreSQL has in test_store_postgresql.c.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store_cases.h"

#include "store/postgresql/pg_store.h"
#include "store/sqlite/store_sqlite.h"
#include "store/store.h"

_Static_assert(PG_SCHEMA_VERSION == STORE_SCHEMA_VERSION, "one schema version for every backend");
_Static_assert(PG_APPLICATION_ID == STORE_SQLITE_APPLICATION_ID, "one application id");

static char tmpdir[] = "/tmp/scepd-store-contract-XXXXXX";
static const char *backend; /* the URI scheme the current group runs on */

/* A fresh database "scepd_NAME" on the test's PostgreSQL server; uri receives its URI. */
static void fresh_pg_database(char *uri, size_t len, const char *name)
{
    char admin[512], sql[256], db[96];
    const char *host = getenv("SCEPD_TEST_PG_HOST"), *port = getenv("SCEPD_TEST_PG_PORT");
    snprintf(db, sizeof(db), "scepd_%s", name);
    for (char *p = db; *p != '\0'; p++)
        if (*p == '-')
            *p = '_';
    snprintf(admin, sizeof(admin), "postgresql://postgres@/postgres?host=%s&port=%s", host, port);
    PGconn *c = PQconnectdb(admin);
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("cannot connect to %s: %s", admin, PQerrorMessage(c));
    PQclear(PQexec(c, "SET client_min_messages = warning"));
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", db);
    PQclear(PQexec(c, sql));
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", db);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    snprintf(uri, len, "postgresql://postgres@/%s?host=%s&port=%s", db, host, port);
}

/* A fresh store of the current backend; path receives the URI it was opened by. */
static store *open_case(char *path, size_t len, const char *name)
{
    if (strcmp(backend, "memory") == 0)
        snprintf(path, len, "memory:");
    else if (strcmp(backend, "postgresql") == 0)
        fresh_pg_database(path, len, name);
    else
        snprintf(path, len, "sqlite:%s/%s.db", tmpdir, name);
    return open_ok(path);
}

static int on_file(void **state)
{
    (void)state;
    backend = "sqlite";
    return mkdtemp(tmpdir) != NULL ? 0 : -1;
}

static int on_memory(void **state)
{
    (void)state;
    backend = "memory";
    return 0;
}

static int on_postgresql(void **state)
{
    (void)state;
    backend = "postgresql";
    return 0;
}

/* Removes the files of the SQLite run (the database, its log and shared memory). */
static int file_done(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_request_put_get(void **state)
{
    (void)state;
    char path[256];
    store *s = open_case(path, sizeof(path), "requests");
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
    bare.csr_len = STORE_MAX_BLOB + 1;
    assert_int_equal(s->ops->request_put(s, &bare, &again), STORE_ERROR);
    assert_int_equal(s->ops->request_get(s, "tid-big", &again), STORE_NOT_FOUND);
    store_close(s);
}

/* What an approver sees (client address, challenge kind) goes in with the request and comes
 * back from every read. */
static void test_request_approver_facts(void **state)
{
    (void)state;
    char path[256];
    store *s = open_case(path, sizeof(path), "approver");
    store_request r, out, again;
    make_request(&r, "tid-facts", "CN=device-2,O=UX");
    snprintf(r.client_addr, sizeof(r.client_addr), "2001:db8::7");
    snprintf(r.challenge_kind, sizeof(r.challenge_kind), "one-time");
    assert_int_equal(s->ops->request_put(s, &r, &out), STORE_OK);
    assert_string_equal(out.client_addr, "2001:db8::7");
    assert_string_equal(out.challenge_kind, "one-time");
    assert_int_equal(s->ops->request_get_by_id(s, out.id, &again), STORE_OK);
    assert_string_equal(again.client_addr, "2001:db8::7");
    assert_string_equal(again.challenge_kind, "one-time");
    store_request_clear(&again);
    store_request_clear(&out);
    /* An automatic enrollment keeps them too. */
    store_request auto_req, issued;
    make_request(&auto_req, "tid-facts-auto", "CN=auto");
    snprintf(auto_req.client_addr, sizeof(auto_req.client_addr), "192.0.2.9");
    snprintf(auto_req.challenge_kind, sizeof(auto_req.challenge_kind), "static");
    store_cert c;
    make_cert(&c, "FAC7", "CN=auto", 4000000000, CERT_VALID);
    assert_int_equal(s->ops->request_issue(s, &auto_req, &c, &issued), STORE_OK);
    assert_string_equal(issued.client_addr, "192.0.2.9");
    store_request_clear(&issued);
    assert_int_equal(s->ops->request_get(s, "tid-facts-auto", &again), STORE_OK);
    assert_string_equal(again.client_addr, "192.0.2.9");
    assert_string_equal(again.challenge_kind, "static");
    store_request_clear(&again);
    store_close(s);
}

static void test_request_transitions(void **state)
{
    (void)state;
    char path[256];
    store *s = open_case(path, sizeof(path), "transitions");
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
    store *s = open_case(path, sizeof(path), "list-requests");
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

static void test_cert_issue_with_request(void **state)
{
    (void)state;
    char path[256];
    store *s = open_case(path, sizeof(path), "issue");
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

typedef struct audit_seen {
    int n;
    store_audit first; /* the newest */
} audit_seen;

static int keep_first(void *arg, const store_audit *a)
{
    audit_seen *seen = arg;
    if (seen->n++ == 0)
        seen->first = *a;
    return 0;
}

static void expect_issue_row(store *s, const char *serial, const char *actor, const char *action,
                             const char *tid, const char *subject)
{
    audit_seen seen = {0};
    assert_int_equal(s->ops->audit_list(s, &(audit_filter){.serial = serial}, keep_first, &seen),
                     STORE_OK);
    assert_int_equal(seen.n, 1);
    assert_string_equal(seen.first.actor, actor);
    assert_string_equal(seen.first.action, action);
    assert_string_equal(seen.first.transaction_id, tid);
    assert_string_equal(seen.first.subject, subject);
    assert_string_equal(seen.first.peer, "192.0.2.9");
}

/* Issuing writes its audit row in the same transaction: automatic (policy), approved (scepd),
 * a renewal's transactionID without the renewed serial; nothing for a conflict. */
static void test_issue_audit(void **state)
{
    (void)state;
    char path[256];
    store *s = open_case(path, sizeof(path), "issue-audit");
    store_request r, out;
    store_cert c;
    make_request(&r, "tid-auto", "CN=auto");
    snprintf(r.client_addr, sizeof(r.client_addr), "192.0.2.9");
    make_cert(&c, "0B01", "CN=auto", 900000, CERT_VALID);
    assert_int_equal(s->ops->request_issue(s, &r, &c, &out), STORE_OK);
    store_request_clear(&out);
    expect_issue_row(s, "0B01", "policy", "issue", "tid-auto", "CN=auto");
    make_cert(&c, "0B02", "CN=auto", 900000, CERT_VALID);
    assert_int_equal(s->ops->request_issue(s, &r, &c, &out), STORE_CONFLICT);
    store_request_clear(&out);
    audit_seen none = {0};
    assert_int_equal(s->ops->audit_list(s, &(audit_filter){.serial = "0B02"}, keep_first, &none),
                     STORE_OK);
    assert_int_equal(none.n, 0);

    make_request(&r, "tid-renew~0B01", "CN=auto");
    r.message_type = 17;
    snprintf(r.client_addr, sizeof(r.client_addr), "192.0.2.9");
    assert_int_equal(s->ops->request_put(s, &r, &out), STORE_OK);
    int64_t id = out.id;
    store_request_clear(&out);
    make_cert(&c, "0B03", "CN=auto", 900000, CERT_VALID);
    assert_int_equal(s->ops->cert_issue(s, &c, id, REQUEST_PENDING), STORE_OK);
    expect_issue_row(s, "0B03", "scepd", "renew", "tid-renew", "CN=auto");
    store_close(s);
}

static void test_cert_issue_duplicate_serial(void **state)
{
    (void)state;
    char path[256];
    store *s = open_case(path, sizeof(path), "dup-serial");
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

static void test_cert_issue_bad_input(void **state)
{
    (void)state;
    char path[256];
    store *s = open_case(path, sizeof(path), "issue-bad");
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
    c.der_len = STORE_MAX_BLOB + 1;
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
    store *s = open_case(path, sizeof(path), "list-certs");
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
        /* The admin API's search: serial, expired, expiring, pages after a serial. */
        {{.serial = "03"}, "03"},
        {{.serial = "3"}, ""},
        {{.only_expired = 1, .now = now}, "02"},
        {{.expires_before = now + 50}, "02"},
        {{.expires_before = now + 100, .only_valid = 1, .now = now}, "01,04,05,06"},
        {{.after_serial = "02", .limit = 2}, "03,04"},
        {{.after_serial = "06"}, ""},
        {{.after_serial = "99"}, ""}, /* an unknown cursor: nothing after it */
        {{.exclude_ca = 1, .subject_like = "bob"}, "03"},
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
    store *s = open_case(path, sizeof(path), "find-valid");
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
    store *s = open_case(path, sizeof(path), "set-state");
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
    store *s = open_case(path, sizeof(path), "crls");
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
    /* Every backend answers the claim to issue the next CRL (SQLite: always granted). */
    assert_int_equal(s->ops->crl_claim(s), STORE_OK);
    s->ops->crl_release(s);
    store_close(s);
}

/* The CA generations: replaced whole, read back byte for byte, counted; misuse refused. */
static void test_ca_generations(void **state)
{
    (void)state;
    char path[256];
    store *s = open_case(path, sizeof(path), "generations");
    store_ca_generations out;
    int64_t counter = -1;
    assert_int_equal(s->ops->ca_generations_counter(s, &counter), STORE_OK);
    assert_int_equal(counter, 0);
    assert_int_equal(s->ops->ca_generations_get(s, &out), STORE_OK);
    assert_null(out.role[STORE_CA_CURRENT].ca_der);
    unsigned char ca[] = {0x30, 1, 2}, ra[] = {0x30, 3, 4, 5}, next[] = {0x30, 9};
    store_ca_generations g = {0};
    g.role[STORE_CA_CURRENT] = (store_ca_generation){ca, 3, ra, 4, "ca.key", "ra.key", 100};
    g.role[STORE_CA_NEXT] = (store_ca_generation){next, 2, NULL, 0, "pkcs11:object=n", "", 200};
    assert_int_equal(s->ops->ca_generations_put(s, &g, &counter), STORE_OK);
    assert_int_equal(counter, 1);
    assert_int_equal(s->ops->ca_generations_get(s, &out), STORE_OK);
    assert_int_equal(out.counter, 1);
    assert_int_equal(out.role[STORE_CA_CURRENT].ca_len, 3);
    assert_memory_equal(out.role[STORE_CA_CURRENT].ca_der, ca, 3);
    assert_int_equal(out.role[STORE_CA_CURRENT].ra_len, 4);
    assert_memory_equal(out.role[STORE_CA_CURRENT].ra_der, ra, 4);
    assert_string_equal(out.role[STORE_CA_CURRENT].ra_key, "ra.key");
    assert_int_equal(out.role[STORE_CA_CURRENT].switch_at, 100);
    assert_null(out.role[STORE_CA_NEXT].ra_der);
    assert_string_equal(out.role[STORE_CA_NEXT].ca_key, "pkcs11:object=n");
    assert_int_equal(out.role[STORE_CA_NEXT].switch_at, 200);
    assert_null(out.role[STORE_CA_PREVIOUS].ca_der);
    store_ca_generations_clear(&out);
    /* The switch: next becomes current, current previous; the roles are replaced whole. */
    g.role[STORE_CA_PREVIOUS] = g.role[STORE_CA_CURRENT];
    g.role[STORE_CA_CURRENT] = g.role[STORE_CA_NEXT];
    memset(&g.role[STORE_CA_NEXT], 0, sizeof(g.role[STORE_CA_NEXT]));
    assert_int_equal(s->ops->ca_generations_put(s, &g, NULL), STORE_OK);
    assert_int_equal(s->ops->ca_generations_get(s, &out), STORE_OK);
    assert_int_equal(out.counter, 2);
    assert_memory_equal(out.role[STORE_CA_CURRENT].ca_der, next, 2);
    assert_memory_equal(out.role[STORE_CA_PREVIOUS].ca_der, ca, 3);
    assert_null(out.role[STORE_CA_NEXT].ca_der);
    store_ca_generations_clear(&out);
    /* No current CA, or a size that does not match: refused, nothing changed. */
    store_ca_generations bad = {0};
    assert_int_equal(s->ops->ca_generations_put(s, &bad, NULL), STORE_ERROR);
    bad.role[STORE_CA_CURRENT] = (store_ca_generation){ca, 0, NULL, 0, "", "", 0};
    assert_int_equal(s->ops->ca_generations_put(s, &bad, NULL), STORE_ERROR);
    assert_int_equal(s->ops->ca_generations_counter(s, &counter), STORE_OK);
    assert_int_equal(counter, 2);
    store_close(s);
}

static void test_challenges(void **state)
{
    (void)state;
    char path[256];
    store *s = open_case(path, sizeof(path), "challenges");
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

static int collect_token(void *arg, const store_token *t)
{
    collected *col = arg;
    if (col->n < MAX_COLLECT)
        snprintf(col->keys[col->n], sizeof(col->keys[0]), "%.63s:%.15s", t->name, t->role);
    col->n++;
    return 0;
}

static void hex_fill(char *hash, char c)
{
    memset(hash, c, 64);
    hash[64] = '\0';
}

/* Admin API tokens: by name (unique), found by hash, removed by name; bad names refused. */
static void test_tokens(void **state)
{
    (void)state;
    char path[256];
    store *s = open_case(path, sizeof(path), "tokens");
    store_token t = {.name = "bob", .role = "read", .created_at = 7};
    hex_fill(t.hash, 'B');
    assert_int_equal(s->ops->token_add(s, &t), STORE_OK);
    store_token a = {.name = "alice", .role = "operate"};
    hex_fill(a.hash, 'A');
    assert_int_equal(s->ops->token_add(s, &a), STORE_OK);
    hex_fill(a.hash, 'C');
    assert_int_equal(s->ops->token_add(s, &a), STORE_EXISTS); /* the name is taken */
    store_token bad = {.name = "x y", .role = "read"};
    hex_fill(bad.hash, 'D');
    assert_int_equal(s->ops->token_add(s, &bad), STORE_ERROR);
    snprintf(bad.name, sizeof(bad.name), "carol");
    snprintf(bad.role, sizeof(bad.role), "admin");
    assert_int_equal(s->ops->token_add(s, &bad), STORE_ERROR);

    collected col = {0};
    assert_int_equal(s->ops->token_list(s, collect_token, &col), STORE_OK);
    assert_int_equal(col.n, 2);
    assert_string_equal(col.keys[0], "alice:operate");
    assert_string_equal(col.keys[1], "bob:read");

    char hash[65];
    hex_fill(hash, 'B');
    store_token got;
    assert_int_equal(s->ops->token_find(s, hash, &got), STORE_OK);
    assert_string_equal(got.name, "bob");
    assert_int_equal(got.created_at, 7);
    hex_fill(hash, 'C');
    assert_int_equal(s->ops->token_find(s, hash, &got), STORE_NOT_FOUND);
    assert_int_equal(s->ops->token_find(s, "short", &got), STORE_NOT_FOUND);
    assert_int_equal(s->ops->token_remove(s, "bob"), STORE_OK);
    assert_int_equal(s->ops->token_remove(s, "bob"), STORE_NOT_FOUND);
    hex_fill(hash, 'B');
    assert_int_equal(s->ops->token_find(s, hash, &got), STORE_NOT_FOUND);
    store_close(s);
}

static int collect_audit(void *arg, const store_audit *a)
{
    collected *col = arg;
    if (col->n < MAX_COLLECT)
        snprintf(col->keys[col->n], sizeof(col->keys[0]), "%.32s", a->detail);
    col->n++;
    return col->stop_after != 0 && col->n >= col->stop_after;
}

static void expect_audit(store *s, const audit_filter *f, const char *expect)
{
    collected col = {0};
    assert_int_equal(s->ops->audit_list(s, f, collect_audit, &col), STORE_OK);
    char got[512] = "";
    size_t used = 0;
    for (int i = 0; i < col.n && i < MAX_COLLECT; i++)
        used += (size_t)snprintf(got + used, sizeof(got) - used, "%s%s", i ? "," : "", col.keys[i]);
    assert_string_equal(got, expect);
}

/* The audit log: newest first, filtered by actor, action, serial and time, paged by id. */
static void test_audit(void **state)
{
    (void)state;
    char path[256];
    store *s = open_case(path, sizeof(path), "audit");
    static const struct {
        int64_t at;
        const char *actor, *action, *serial, *detail;
    } rows[] = {
        {100, "scepd", "issue", "0A", "one"},
        {200, "token:alice", "revoke", "0A", "two"},
        {300, "cli:root", "approve", "", "three"},
        {400, "token:alice", "challenge.mint", "", "four"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        store_audit a = {.at = rows[i].at};
        snprintf(a.actor, sizeof(a.actor), "%s", rows[i].actor);
        snprintf(a.action, sizeof(a.action), "%s", rows[i].action);
        snprintf(a.serial, sizeof(a.serial), "%s", rows[i].serial);
        snprintf(a.detail, sizeof(a.detail), "%s", rows[i].detail);
        snprintf(a.peer, sizeof(a.peer), "192.0.2.1");
        assert_int_equal(s->ops->audit_add(s, &a), STORE_OK);
    }
    store_audit none = {0};
    assert_int_equal(s->ops->audit_add(s, &none), STORE_ERROR);
    expect_audit(s, &(audit_filter){0}, "four,three,two,one");
    expect_audit(s, &(audit_filter){.actor = "token:alice"}, "four,two");
    expect_audit(s, &(audit_filter){.action = "revoke"}, "two");
    expect_audit(s, &(audit_filter){.serial = "0A"}, "two,one");
    expect_audit(s, &(audit_filter){.since = 200, .until = 300}, "three,two");
    expect_audit(s, &(audit_filter){.limit = 2}, "four,three");

    collected first = {0};
    assert_int_equal(s->ops->audit_list(s, NULL, collect_audit, &first), STORE_ERROR);
    store_close(s);
}

static void expire_step(void *arg, store_failure *f, int64_t now)
{
    f->total++;
    f->count++;
    f->last_at = now;
    f->locked_until = now + *(const int64_t *)arg;
    f->expires_at = now + 100;
}

/* Two sources in one read, each record in its own slot whatever the order of the pairs; a
 * missing, expired or not asked for one is all zero. */
static void test_failure_pair(void **state)
{
    (void)state;
    char path[256];
    store *s = open_case(path, sizeof(path), "failure-pair");
    const char *hostile = "cn=x'); DELETE FROM failures; --";
    int64_t lock = 40, longer = 70;
    store_failure f, got[2];
    assert_int_equal(s->ops->failure_add(s, "address", "192.0.2.7", 1000, expire_step, &lock, &f),
                     STORE_OK);
    assert_int_equal(s->ops->failure_add(s, "subject", hostile, 1010, expire_step, &longer, &f),
                     STORE_OK);
    const char *scope[2] = {"subject", "address"}, *key[2] = {hostile, "192.0.2.7"};
    assert_int_equal(s->ops->failure_get_pair(s, scope, key, 1020, got), STORE_OK);
    assert_string_equal(got[0].scope, "subject");
    assert_string_equal(got[0].key, hostile);
    assert_int_equal(got[0].locked_until, 1080);
    assert_string_equal(got[1].scope, "address");
    assert_int_equal(got[1].locked_until, 1040);
    /* The address record expired (at 1100), the subject's not yet (1110). */
    assert_int_equal(s->ops->failure_get_pair(s, scope, key, 1105, got), STORE_OK);
    assert_int_equal(got[0].locked_until, 1080);
    assert_string_equal(got[1].scope, "");
    assert_int_equal(got[1].expires_at, 0);
    /* A key not asked for is not looked up; an unknown one is not found. */
    const char *one[2] = {NULL, "192.0.2.7"}, *unknown[2] = {"cn=nobody", ""};
    assert_int_equal(s->ops->failure_get_pair(s, scope, one, 1020, got), STORE_OK);
    assert_string_equal(got[0].scope, "");
    assert_string_equal(got[1].key, "192.0.2.7");
    assert_int_equal(s->ops->failure_get_pair(s, scope, unknown, 1020, got), STORE_OK);
    assert_string_equal(got[0].scope, "");
    assert_string_equal(got[1].scope, "");
    /* The same key in the other scope is another source. */
    const char *swapped[2] = {"192.0.2.7", hostile};
    assert_int_equal(s->ops->failure_get_pair(s, scope, swapped, 1020, got), STORE_OK);
    assert_string_equal(got[0].scope, "");
    assert_string_equal(got[1].scope, "");
    store_close(s);
}

static int last_id(void *arg, const store_audit *a)
{
    *(int64_t *)arg = a->id;
    return 0;
}

static void test_audit_pages(void **state)
{
    (void)state;
    char path[256];
    store *s = open_case(path, sizeof(path), "audit-pages");
    for (int i = 0; i < 5; i++) {
        store_audit a = {.at = 10 + i};
        snprintf(a.actor, sizeof(a.actor), "scepd");
        snprintf(a.action, sizeof(a.action), "issue");
        snprintf(a.detail, sizeof(a.detail), "r%d", i);
        assert_int_equal(s->ops->audit_add(s, &a), STORE_OK);
    }
    int64_t cursor = 0;
    assert_int_equal(s->ops->audit_list(s, &(audit_filter){.limit = 2}, last_id, &cursor),
                     STORE_OK);
    expect_audit(s, &(audit_filter){.limit = 2, .before_id = cursor}, "r2,r1");
    store_close(s);
}

static int collect_challenge(void *arg, const store_challenge *c)
{
    collected *col = arg;
    if (col->n < MAX_COLLECT)
        snprintf(col->keys[col->n], sizeof(col->keys[0]), "%.16s", c->hash);
    col->n++;
    return 0;
}

/* Challenges listed while usable, revoked by the first 16 hex digits of their hash. */
static void test_challenge_list_revoke(void **state)
{
    (void)state;
    char path[256];
    store *s = open_case(path, sizeof(path), "challenge-list");
    const char fills[] = {'A', 'B', 'C'};
    const int64_t expires[] = {1000, 2000, 50};
    for (int i = 0; i < 3; i++) {
        store_challenge c = {.created_at = 10 + i, .expires_at = expires[i]};
        hex_fill(c.hash, fills[i]);
        assert_int_equal(s->ops->challenge_add(s, &c), STORE_OK);
    }
    collected col = {0};
    assert_int_equal(s->ops->challenge_list(s, 100, collect_challenge, &col), STORE_OK);
    assert_int_equal(col.n, 2); /* C expired */
    assert_string_equal(col.keys[0], "AAAAAAAAAAAAAAAA");
    assert_int_equal(s->ops->challenge_revoke(s, "AAAAAAAAAAAAAAAA", 100), STORE_OK);
    assert_int_equal(s->ops->challenge_revoke(s, "AAAAAAAAAAAAAAAA", 100), STORE_NOT_FOUND);
    assert_int_equal(s->ops->challenge_revoke(s, "aaaa", 100), STORE_NOT_FOUND);
    char hash[65];
    hex_fill(hash, 'A');
    assert_int_equal(s->ops->challenge_consume(s, hash, 101), STORE_CONFLICT); /* revoked */
    collected after = {0};
    assert_int_equal(s->ops->challenge_list(s, 100, collect_challenge, &after), STORE_OK);
    assert_int_equal(after.n, 1);
    assert_string_equal(after.keys[0], "BBBBBBBBBBBBBBBB");
    store_close(s);
}

/* Pages of requests by state, oldest first. */
static void test_request_page(void **state)
{
    (void)state;
    char path[256];
    store *s = open_case(path, sizeof(path), "request-page");
    int64_t a = put_new(s, "tid-a");
    int64_t b = put_new(s, "tid-b");
    put_new(s, "tid-c");
    assert_int_equal(s->ops->request_transition(s, b, REQUEST_PENDING, REQUEST_REJECTED, "no"),
                     STORE_OK);
    collected all = {.s = s};
    assert_int_equal(s->ops->request_page(s, &(request_filter){.state = -1, .after_id = a},
                                          collect_request, &all),
                     STORE_OK);
    assert_int_equal(all.n, 2);
    assert_string_equal(all.keys[0], "tid-b");
    collected pending = {.s = s};
    assert_int_equal(s->ops->request_page(s,
                                          &(request_filter){.state = REQUEST_PENDING, .limit = 1},
                                          collect_request, &pending),
                     STORE_OK);
    assert_int_equal(pending.n, 1);
    assert_string_equal(pending.keys[0], "tid-a");
    assert_int_equal(s->ops->request_page(s, &(request_filter){.state = 9}, collect_request, &all),
                     STORE_ERROR);
    store_close(s);
}

/* A worker group of the backend: its handles see each other's writes, and a flush after a
 * commit returns once the commit is durable. */
static void test_group_handles(void **state)
{
    (void)state;
    char uri[512], err[512] = "";
    store_close(open_case(uri, sizeof(uri), "group"));
    store_group *g = store_group_open(uri, err, sizeof(err));
    if (g == NULL)
        fail_msg("store_group_open(%s): %s", uri, err);
    store *a = store_group_handle(g, err, sizeof(err)),
          *b = store_group_handle(g, err, sizeof(err));
    assert_non_null(a);
    assert_non_null(b);
    int64_t id = put_new(a, "tid-group");
    assert_int_equal(a->ops->flush(a), STORE_OK);
    store_request got;
    assert_int_equal(b->ops->request_get(b, "tid-group", &got), STORE_OK);
    assert_int_equal(got.id, id);
    store_request_clear(&got);
    /* The contract holds for group handles too. */
    assert_int_equal(b->ops->request_transition(b, id, REQUEST_PENDING, REQUEST_ISSUED, NULL),
                     STORE_ERROR);
    assert_non_null(strstr(b->ops->last_error(b), "only cert_issue"));
    assert_int_equal(b->ops->flush(b), STORE_OK);
    store_close(a);
    store_close(b);
    store_group_close(g);
}

/* The front's table: an unknown scheme, or a memory store given a path, is refused by name. */
/* The durable notice a server's answers wait for (when_durable): told exactly once, with
 * STORE_OK, once the commit is durable, whichever thread tells it, and the write is then there
 * for any other handle. A backend without a notice of its own gets the front's (flush, then
 * tell at once). */
typedef struct told {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int count;
    store_status status;
} told;

static void on_told(void *arg, store_status status, const char *why)
{
    told *t = arg;
    (void)why;
    pthread_mutex_lock(&t->lock);
    t->count++;
    t->status = status;
    pthread_cond_broadcast(&t->cond);
    pthread_mutex_unlock(&t->lock);
}

static void test_group_durable_notice(void **state)
{
    (void)state;
    char uri[512], err[512] = "";
    store_close(open_case(uri, sizeof(uri), "notice"));
    store_group *g = store_group_open(uri, err, sizeof(err));
    if (g == NULL)
        fail_msg("store_group_open(%s): %s", uri, err);
    store *a = store_group_handle(g, err, sizeof(err));
    assert_non_null(a);
    int64_t id = put_new(a, "tid-notice");
    told t = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    a->ops->when_durable(a, on_told, &t);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    pthread_mutex_lock(&t.lock);
    while (t.count == 0 && pthread_cond_timedwait(&t.cond, &t.lock, &until) == 0)
        ;
    pthread_mutex_unlock(&t.lock);
    assert_int_equal(t.count, 1);
    assert_int_equal(t.status, STORE_OK);
    store_request got;
    assert_int_equal(a->ops->request_get(a, "tid-notice", &got), STORE_OK);
    assert_int_equal(got.id, id);
    store_request_clear(&got);
    store_close(a);
    store_group_close(g);
    pthread_mutex_lock(&t.lock);
    assert_int_equal(t.count, 1); /* never told twice, not even at close */
    pthread_mutex_unlock(&t.lock);
}

static void test_bad_uris(void **state)
{
    (void)state;
    char err[256] = "";
    assert_null(store_open("memory:/tmp/x.db", err, sizeof(err)));
    assert_non_null(strstr(err, "memory:/tmp/x.db"));
    assert_non_null(strstr(err, "takes nothing after"));
    assert_null(store_group_open("memory:x", err, sizeof(err)));
    assert_non_null(strstr(err, "takes nothing after"));
    assert_null(store_open("mysql://db/scep", err, sizeof(err)));
    assert_non_null(strstr(err, "unsupported store"));
    /* A password in a PostgreSQL URI is refused before any connection, and never shown. */
    static const char *const with_password[] = {
        "postgresql://scep:s3cret@db.example/scep",
        "postgres://scep:s3cret@db1,db2/scep?target_session_attrs=read-write",
        "postgresql://scep@db.example/scep?sslmode=require&password=s3cret",
        "postgresql:///scep?password=s3cret&host=/run/postgresql",
    };
    for (size_t i = 0; i < sizeof(with_password) / sizeof(with_password[0]); i++) {
        assert_null(store_open(with_password[i], err, sizeof(err)));
        assert_null(strstr(err, "s3cret"));
        assert_non_null(strstr(err, "***"));
        assert_non_null(strstr(err, "passfile"));
        assert_null(store_group_open(with_password[i], err, sizeof(err)));
        assert_null(strstr(err, "s3cret"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_put_get),
        cmocka_unit_test(test_request_approver_facts),
        cmocka_unit_test(test_request_transitions),
        cmocka_unit_test(test_request_list),
        cmocka_unit_test(test_cert_issue_with_request),
        cmocka_unit_test(test_cert_issue_duplicate_serial),
        cmocka_unit_test(test_issue_audit),
        cmocka_unit_test(test_cert_issue_bad_input),
        cmocka_unit_test(test_cert_list_filters),
        cmocka_unit_test(test_find_valid_by_subject),
        cmocka_unit_test(test_cert_set_state),
        cmocka_unit_test(test_names_and_clear),
        cmocka_unit_test(test_crls),
        cmocka_unit_test(test_ca_generations),
        cmocka_unit_test(test_challenges),
        cmocka_unit_test(test_challenge_list_revoke),
        cmocka_unit_test(test_tokens),
        cmocka_unit_test(test_audit),
        cmocka_unit_test(test_audit_pages),
        cmocka_unit_test(test_failure_pair),
        cmocka_unit_test(test_request_page),
        cmocka_unit_test(test_group_handles),
        cmocka_unit_test(test_group_durable_notice),
        cmocka_unit_test(test_bad_uris),
    };
    int failed =
        cmocka_run_group_tests_name("store contract on sqlite:", tests, on_file, file_done);
    failed += cmocka_run_group_tests_name("store contract on memory:", tests, on_memory, NULL);
    if (getenv("SCEPD_TEST_PG_HOST") != NULL && getenv("SCEPD_TEST_PG_PORT") != NULL)
        failed += cmocka_run_group_tests_name("store contract on postgresql:", tests, on_postgresql,
                                              NULL);
    else
        printf("store contract on postgresql: skipped (no SCEPD_TEST_PG_HOST and _PORT; "
               "tests/postgresql/run-all sets them)\n");
    return failed;
}
