/*
 * What only the PostgreSQL backend has: its schema (refused when missing, foreign or newer,
 * migrated step by step, created by several nodes at once), passwords from a passfile only,
 * a lost connection, and the semantics that must hold across nodes, raced by several processes
 * with a connection each: one certificate per transaction, a one-time challenge consumed once,
 * unique serials, strictly increasing CRL numbers. Needs a server (SCEPD_TEST_PG_HOST and
 * SCEPD_TEST_PG_PORT, superuser "postgres" without a password on the socket, scram on
 * 127.0.0.1; tests/postgresql/run-all starts one); skipped without.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "store_cases.h"

#include "ca/ca.h"
#include "ca/ca_create.h"
#include "ca/crl.h"
#include "config/config.h"
#include "store/store.h"

#define RACERS 4

static const char *pg_host, *pg_port;

static int need_server(void **state)
{
    (void)state;
    pg_host = getenv("SCEPD_TEST_PG_HOST");
    pg_port = getenv("SCEPD_TEST_PG_PORT");
    return 0;
}

/* Runs sql in database db as the superuser; fails the test unless it succeeds. */
static void sql_in(const char *db, const char *sql)
{
    char uri[512];
    snprintf(uri, sizeof(uri), "postgresql://postgres@/%s?host=%s&port=%s", db, pg_host, pg_port);
    PGconn *c = PQconnectdb(uri);
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("cannot connect to %s: %s", uri, PQerrorMessage(c));
    PQclear(PQexec(c, "SET client_min_messages = warning"));
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

/* A fresh empty database; uri receives its URI over the socket. */
static void fresh_db(const char *db, char *uri, size_t len)
{
    char sql[128];
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", db);
    sql_in("postgres", sql);
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", db);
    sql_in("postgres", sql);
    snprintf(uri, len, "postgresql://postgres@/%s?host=%s&port=%s", db, pg_host, pg_port);
}

#define SKIP_WITHOUT_SERVER()                                                                      \
    do {                                                                                           \
        if (pg_host == NULL || pg_port == NULL)                                                    \
            skip();                                                                                \
    } while (0)

static void expect_refused(const char *uri, const char *why)
{
    char err[512] = "";
    store *s = store_open(uri, err, sizeof(err));
    if (s != NULL || strstr(err, why) == NULL)
        fail_msg("store_open(%s): expected '%s', got %s", uri, why, s ? "a store" : err);
    assert_null(store_group_open(uri, err, sizeof(err)));
    assert_non_null(strstr(err, why));
}

static void test_schema_refusals(void **state)
{
    (void)state;
    SKIP_WITHOUT_SERVER();
    char uri[512], err[512];
    fresh_db("scepd_pg_schema", uri, sizeof(uri));
    /* Only init creates a store. */
    expect_refused(uri, "run scepd init");
    expect_refused(uri, "no store at postgresql://postgres@/scepd_pg_schema");
    store_close(open_ok(uri));
    store_close(open_ok(uri)); /* a second init finds it and keeps it */
    store *s = store_open(uri, err, sizeof(err));
    assert_non_null(s);
    store_close(s);
    /* A newer schema is refused by name. */
    sql_in("scepd_pg_schema", "UPDATE scepd_schema SET version = 11");
    expect_refused(uri, "schema version 11 is newer than this scepd supports (10)");
    sql_in("scepd_pg_schema", "UPDATE scepd_schema SET version = 10, application_id = 7");
    expect_refused(uri, "not a scepd database (application_id 7)");
    /* A database with other tables does not become a store, not even by init. */
    fresh_db("scepd_pg_foreign", uri, sizeof(uri));
    sql_in("scepd_pg_foreign", "CREATE TABLE invoices (id int)");
    assert_null(store_create(uri, err, sizeof(err)));
    assert_non_null(strstr(err, "not a scepd database"));
}

/* An older schema is brought up by the remaining steps: here 7 -> 8 and 8 -> 9. */
static void test_migrates_older_schema(void **state)
{
    (void)state;
    SKIP_WITHOUT_SERVER();
    char uri[512], err[512];
    fresh_db("scepd_pg_old", uri, sizeof(uri));
    store_close(open_ok(uri));
    sql_in("scepd_pg_old", "DROP TABLE admin_tokens; DROP TABLE audit; DROP INDEX "
                           "requests_waiting; CREATE INDEX requests_state ON requests (state); "
                           "DROP TABLE ca_generations; DROP TABLE ca_generation_counter;"
                           "ALTER TABLE requests DROP COLUMN csr_hash;"
                           "UPDATE scepd_schema SET version = 7");
    store *s = store_open(uri, err, sizeof(err));
    if (s == NULL)
        fail_msg("store_open: %s", err);
    store_request r, out;
    make_request(&r, "tid-migrated", "CN=old");
    memset(r.csr_hash, 'C', 64);
    assert_int_equal(s->ops->request_put(s, &r, &out), STORE_OK);
    store_request_clear(&out);
    assert_int_equal(s->ops->request_get(s, "tid-migrated", &out), STORE_OK);
    assert_int_equal(strlen(out.csr_hash), 64);
    store_request_clear(&out);
    store_close(s);
}

/* ---- processes racing, one connection each ---- */

typedef int (*racer_fn)(const char *uri, int who);

static int gate_fd = -1, ready_fd = -1; /* a racer's ends of the gate and the ready pipe */

/* Runs fn in n processes that start together once each has connected (fn connects, then
 * calls wait_gate()); counts[k] (of ncounts) is how many exited with k, a store_status. */
static void race(const char *uri, int n, racer_fn fn, int *counts, int ncounts)
{
    int gate[2], ready[2];
    pid_t pids[16];
    assert_int_equal(pipe(gate), 0);
    assert_int_equal(pipe(ready), 0);
    memset(counts, 0, (size_t)ncounts * sizeof(int));
    for (int i = 0; i < n; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            close(gate[1]);
            close(ready[0]);
            gate_fd = gate[0];
            ready_fd = ready[1];
            _exit(fn(uri, i));
        }
    }
    close(gate[0]);
    close(ready[1]);
    char c;
    for (int i = 0; i < n; i++) /* every racer has connected */
        assert_int_equal(read(ready[0], &c, 1), 1);
    close(ready[0]);
    close(gate[1]); /* and all go */
    for (int i = 0; i < n; i++) {
        int st = 0;
        assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
        assert_true(WIFEXITED(st));
        assert_true(WEXITSTATUS(st) < ncounts);
        counts[WEXITSTATUS(st)]++;
    }
}

/* In a racer: says it is ready, and waits until every racer is. */
static void wait_gate(void)
{
    char c = 'r';
    (void)!write(ready_fd, &c, 1);
    (void)!read(gate_fd, &c, 1);
}

static store *racer_open(const char *uri)
{
    char err[512];
    store *s = store_open(uri, err, sizeof(err));
    if (s == NULL) {
        fprintf(stderr, "racer: %s\n", err);
        _exit(7);
    }
    return s;
}

/* The same new transaction at every node, each with its own serial. */
static int issue_same_transaction(const char *uri, int who)
{
    store *s = racer_open(uri);
    store_request r, out;
    store_cert c;
    char serial[8];
    snprintf(serial, sizeof(serial), "%02X", 0x10 + who);
    make_request(&r, "tid-raced", "CN=raced");
    make_cert(&c, serial, "CN=raced", 4000000000, CERT_VALID);
    snprintf(c.transaction_id, sizeof(c.transaction_id), "tid-raced");
    wait_gate();
    store_status st = s->ops->request_issue(s, &r, &c, &out);
    /* The losers are told which certificate the transaction has. */
    if (st == STORE_CONFLICT && (out.state != REQUEST_ISSUED || strlen(out.cert_serial) != 2))
        st = STORE_NOMEM;
    store_request_clear(&out);
    store_close(s);
    return (int)st;
}

/* An approved request issued by every node at once. */
static int issue_approved(const char *uri, int who)
{
    store *s = racer_open(uri);
    store_request r;
    assert_int_equal(s->ops->request_get(s, "tid-approved", &r), STORE_OK);
    store_cert c;
    char serial[8];
    snprintf(serial, sizeof(serial), "%02X", 0x20 + who);
    make_cert(&c, serial, "CN=approved", 4000000000, CERT_VALID);
    snprintf(c.transaction_id, sizeof(c.transaction_id), "tid-approved");
    wait_gate();
    store_status st = s->ops->cert_issue(s, &c, r.id, REQUEST_APPROVED);
    store_request_clear(&r);
    store_close(s);
    return (int)st;
}

static void test_race_one_certificate_per_transaction(void **state)
{
    (void)state;
    SKIP_WITHOUT_SERVER();
    char uri[512];
    int counts[8];
    fresh_db("scepd_pg_race_tid", uri, sizeof(uri));
    store *s = open_ok(uri);
    race(uri, RACERS, issue_same_transaction, counts, 8);
    assert_int_equal(counts[STORE_OK], 1);
    assert_int_equal(counts[STORE_CONFLICT], RACERS - 1);
    assert_int_equal(count_certs(s), 1);

    store_request r, out;
    make_request(&r, "tid-approved", "CN=approved");
    r.state = REQUEST_APPROVED;
    assert_int_equal(s->ops->request_put(s, &r, &out), STORE_OK);
    store_request_clear(&out);
    race(uri, RACERS, issue_approved, counts, 8);
    assert_int_equal(counts[STORE_OK], 1);
    assert_int_equal(counts[STORE_CONFLICT], RACERS - 1);
    assert_int_equal(count_certs(s), 2);
    store_close(s);
}

static int consume_challenge(const char *uri, int who)
{
    (void)who;
    store *s = racer_open(uri);
    char hash[65];
    memset(hash, 'D', 64);
    hash[64] = '\0';
    wait_gate();
    store_status st = s->ops->challenge_consume(s, hash, 500);
    store_close(s);
    return (int)st;
}

static void test_race_one_time_challenge(void **state)
{
    (void)state;
    SKIP_WITHOUT_SERVER();
    char uri[512];
    int counts[8];
    fresh_db("scepd_pg_race_challenge", uri, sizeof(uri));
    store *s = open_ok(uri);
    store_challenge c = {.expires_at = 1000};
    memset(c.hash, 'D', 64);
    assert_int_equal(s->ops->challenge_add(s, &c), STORE_OK);
    race(uri, 3, consume_challenge, counts, 8);
    assert_int_equal(counts[STORE_OK], 1);
    assert_int_equal(counts[STORE_CONFLICT], 2);
    store_close(s);
}

#define SERIALS_EACH 40

/* Certificates with serials drawn from one byte, so that nodes collide; a taken serial is
 * drawn again, as the issuing path does. Exits 0, or 6 when no collision was seen at all. */
static int issue_random_serials(const char *uri, int who)
{
    store *s = racer_open(uri);
    int taken = 0;
    srand((unsigned)(getpid() * 7919 + who));
    wait_gate();
    for (int i = 0; i < SERIALS_EACH; i++) {
        store_status st = STORE_EXISTS;
        for (int tries = 0; st == STORE_EXISTS && tries < 1000; tries++) {
            char serial[8];
            store_cert c;
            snprintf(serial, sizeof(serial), "%02X", rand() % 256);
            make_cert(&c, serial, "CN=many", 4000000000, CERT_VALID);
            st = s->ops->cert_issue(s, &c, 0, REQUEST_PENDING);
            taken += st == STORE_EXISTS;
        }
        if (st != STORE_OK) {
            fprintf(stderr, "racer %d: %s\n", who, s->ops->last_error(s));
            store_close(s);
            return (int)st;
        }
    }
    store_close(s);
    return taken > 0 ? STORE_OK : 6;
}

static int distinct_serials(void *arg, const store_cert *c)
{
    unsigned char *seen = arg;
    unsigned v = (unsigned)strtoul(c->serial, NULL, 16);
    if (v < 256)
        seen[v]++;
    return 0;
}

static void test_race_unique_serials(void **state)
{
    (void)state;
    SKIP_WITHOUT_SERVER();
    char uri[512];
    int counts[8];
    fresh_db("scepd_pg_race_serials", uri, sizeof(uri));
    store *s = open_ok(uri);
    race(uri, RACERS, issue_random_serials, counts, 8);
    assert_int_equal(counts[STORE_OK], RACERS);
    unsigned char seen[256] = {0};
    assert_int_equal(s->ops->cert_list(s, NULL, distinct_serials, seen), STORE_OK);
    int total = 0;
    for (int i = 0; i < 256; i++) {
        assert_true(seen[i] <= 1);
        total += seen[i];
    }
    assert_int_equal(total, RACERS * SERIALS_EACH);
    store_close(s);
}

#define CRLS_EACH 10

/* CRLs as crl.c issues them: the latest number plus one, again on STORE_EXISTS. Exits 5 when
 * this node's own numbers did not strictly increase. */
static int issue_crls(const char *uri, int who)
{
    store *s = racer_open(uri);
    int64_t last = 0;
    unsigned char der[] = {0x30, 0x00};
    wait_gate();
    for (int i = 0; i < CRLS_EACH; i++) {
        store_status st = STORE_EXISTS;
        while (st == STORE_EXISTS) {
            store_crl latest = {0};
            st = s->ops->crl_latest(s, NULL, &latest);
            int64_t number = st == STORE_OK ? latest.number + 1 : 1;
            store_crl_clear(&latest);
            store_crl c = {.number = number,
                           .this_update = 1,
                           .next_update = 2,
                           .der = der,
                           .der_len = sizeof(der)};
            snprintf(c.issuer_key, sizeof(c.issuer_key), "KEY%d", who);
            st = s->ops->crl_add(s, &c);
            if (st == STORE_OK && number <= last)
                return 5;
            if (st == STORE_OK)
                last = number;
        }
        if (st != STORE_OK) {
            fprintf(stderr, "racer %d: %s\n", who, s->ops->last_error(s));
            return (int)st;
        }
    }
    store_close(s);
    return STORE_OK;
}

static void test_race_crl_numbers(void **state)
{
    (void)state;
    SKIP_WITHOUT_SERVER();
    char uri[512];
    int counts[8];
    fresh_db("scepd_pg_race_crls", uri, sizeof(uri));
    store *s = open_ok(uri);
    race(uri, RACERS, issue_crls, counts, 8);
    assert_int_equal(counts[STORE_OK], RACERS);
    store_crl latest;
    assert_int_equal(s->ops->crl_latest(s, NULL, &latest), STORE_OK);
    assert_int_equal(latest.number, RACERS * CRLS_EACH); /* no number lost or repeated */
    store_crl_clear(&latest);
    /* A number not above the latest is refused even when it is free. */
    sql_in("scepd_pg_race_crls", "DELETE FROM crls WHERE number = 3");
    unsigned char der[] = {0x30, 0x00};
    store_crl old = {.number = 3, .this_update = 1, .next_update = 2, .der = der, .der_len = 2};
    assert_int_equal(s->ops->crl_add(s, &old), STORE_EXISTS);
    store_close(s);
}

/* The claim to sign the next CRL is one node's at a time, and goes with a node's connection. */
static void test_crl_claim(void **state)
{
    (void)state;
    SKIP_WITHOUT_SERVER();
    char uri[512];
    fresh_db("scepd_pg_claim", uri, sizeof(uri));
    store *a = open_ok(uri), *b = open_ok(uri);
    assert_int_equal(a->ops->crl_claim(a), STORE_OK);
    assert_int_equal(b->ops->crl_claim(b), STORE_BUSY);
    assert_non_null(strstr(b->ops->last_error(b), "another process is issuing the CRL"));
    a->ops->crl_release(a);
    assert_int_equal(b->ops->crl_claim(b), STORE_OK);
    assert_int_equal(a->ops->crl_claim(a), STORE_BUSY);
    store_close(b); /* a node that dies holding it: the server notices in a moment */
    store_status got = STORE_BUSY;
    for (int i = 0; i < 100 && got == STORE_BUSY; i++) {
        got = a->ops->crl_claim(a);
        if (got == STORE_BUSY)
            nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
    }
    assert_int_equal(got, STORE_OK);
    a->ops->crl_release(a);
    store_close(a);
}

static authority crl_authority;
static int crl_force;

/* A node serving GetCRL: the CRL as crl.c finds or issues it. Exits with its number (1..99),
 * or 100 on an error. */
static int serve_crl(const char *uri, int who)
{
    (void)who;
    store *s = racer_open(uri);
    config c;
    config_defaults(&c, NULL);
    store_crl out = {0};
    char err[256];
    wait_gate();
    int rc = crl_current(&crl_authority, &c, s, crl_force, &out, err, sizeof(err));
    if (rc != 0)
        fprintf(stderr, "racer: %s\n", err);
    int number = rc == 0 && out.number > 0 && out.number < 100 ? (int)out.number : 100;
    store_crl_clear(&out);
    store_close(s);
    return number;
}

/* Nodes that find no CRL at once: one signs it, every node answers that one. Forced at once
 * (after a revocation), each gets a CRL of its own, numbers one after another. */
static void test_race_crl_issuing(void **state)
{
    (void)state;
    SKIP_WITHOUT_SERVER();
    char uri[512];
    int seen[128];
    fresh_db("scepd_pg_crl_issue", uri, sizeof(uri));
    store *s = open_ok(uri);
    const tu_ca *t = tu_test_ca();
    X509_NAME *name = ca_parse_name("CN=CRL Race CA");
    crl_authority.key = t->ca_key;
    crl_authority.cert = ca_create_root(t->ca_key, name, 365);
    X509_NAME_free(name);
    assert_non_null(crl_authority.cert);
    crl_force = 0;
    race(uri, RACERS, serve_crl, seen, 128);
    assert_int_equal(seen[1], RACERS);
    store_crl latest;
    assert_int_equal(s->ops->crl_latest(s, NULL, &latest), STORE_OK);
    assert_int_equal(latest.number, 1);
    store_crl_clear(&latest);
    crl_force = 1;
    race(uri, RACERS, serve_crl, seen, 128);
    for (int n = 2; n < 2 + RACERS; n++)
        assert_int_equal(seen[n], 1);
    assert_int_equal(seen[100], 0);
    X509_free(crl_authority.cert);
    store_close(s);
}

static int init_store(const char *uri, int who)
{
    (void)who;
    char err[512];
    wait_gate();
    store *s = store_create(uri, err, sizeof(err));
    if (s == NULL)
        fprintf(stderr, "init racer: %s\n", err);
    store_close(s);
    return s != NULL ? STORE_OK : STORE_ERROR;
}

static void test_race_init(void **state)
{
    (void)state;
    SKIP_WITHOUT_SERVER();
    char uri[512];
    int counts[8];
    fresh_db("scepd_pg_race_init", uri, sizeof(uri));
    race(uri, 3, init_store, counts, 8);
    assert_int_equal(counts[STORE_OK], 3);
    store_close(open_ok(uri));
}

/* ---- connections ---- */

/* The server drops every connection of the store (a restart, a failover). */
static void drop_connections(void)
{
    sql_in("postgres", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                       " WHERE datname = 'scepd_pg_lost'");
}

/* A write whose connection the server dropped fails with STORE_ERROR, never a success (it is
 * not repeated: it may have committed); the next operation connects again. A read, or the
 * BEGIN of a transaction, is repeated at once on a new connection. */
static void test_lost_connection(void **state)
{
    (void)state;
    SKIP_WITHOUT_SERVER();
    char uri[512], err[512];
    fresh_db("scepd_pg_lost", uri, sizeof(uri));
    store_close(open_ok(uri));
    store_group *g = store_group_open(uri, err, sizeof(err));
    assert_non_null(g);
    store *s = store_group_handle(g, err, sizeof(err));
    assert_non_null(s);
    int64_t id = put_new(s, "tid-before");
    drop_connections();
    store_request r, out;
    make_request(&r, "tid-during", "CN=x");
    assert_int_equal(s->ops->request_put(s, &r, &out), STORE_ERROR);
    assert_non_null(strstr(s->ops->last_error(s), "lost the connection"));
    assert_non_null(strstr(s->ops->last_error(s), "postgresql://postgres@/scepd_pg_lost"));
    assert_int_equal(s->ops->request_put(s, &r, &out), STORE_OK);
    store_request_clear(&out);
    assert_int_equal(s->ops->flush(s), STORE_OK);
    drop_connections();
    assert_int_equal(s->ops->request_get(s, "tid-before", &out), STORE_OK);
    assert_int_equal(out.id, id);
    store_request_clear(&out);
    drop_connections();
    assert_int_equal(s->ops->request_transition(s, id, REQUEST_PENDING, REQUEST_APPROVED, NULL),
                     STORE_ERROR);
    store_cert c;
    make_cert(&c, "1057", "CN=x", 4000000000, CERT_VALID);
    snprintf(c.transaction_id, sizeof(c.transaction_id), "tid-before");
    drop_connections();
    assert_int_equal(s->ops->cert_issue(s, &c, id, REQUEST_PENDING), STORE_OK);
    store_close(s);
    store_group_close(g);
}

/* Nothing listens: the open fails with the URI and libpq's reason; a group handle made while
 * the server is away waits before each new attempt. */
static void test_unreachable(void **state)
{
    (void)state;
    SKIP_WITHOUT_SERVER();
    char err[512] = "";
    assert_null(
        store_open("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2", err, sizeof(err)));
    assert_non_null(strstr(err, "postgresql store postgresql://nobody@127.0.0.1:1/none"));
    assert_non_null(strstr(err, "cannot connect"));
}

/* The URI is libpq's, untouched: several hosts with target_session_attrs (the first one is
 * not there), and sslmode (this server has no TLS, so require fails with libpq's reason). */
static void test_libpq_parameters(void **state)
{
    (void)state;
    SKIP_WITHOUT_SERVER();
    char uri[512], err[512] = "";
    fresh_db("scepd_pg_hosts", uri, sizeof(uri));
    store_close(open_ok(uri));
    snprintf(uri, sizeof(uri),
             "postgresql://postgres@/scepd_pg_hosts?host=/nonexistent-dir,%s&port=%s,%s"
             "&target_session_attrs=read-write",
             pg_host, pg_port, pg_port);
    store *s = store_open(uri, err, sizeof(err));
    if (s == NULL)
        fail_msg("store_open(%s): %s", uri, err);
    put_new(s, "tid-second-host");
    store_close(s);
    snprintf(uri, sizeof(uri), "postgresql://postgres@127.0.0.1:%s/scepd_pg_hosts?sslmode=require",
             pg_port);
    assert_null(store_open(uri, err, sizeof(err)));
    assert_non_null(strstr(err, "SSL"));
}

/* Passwords come from a passfile: the store connects over TCP with scram, and without the
 * file it cannot. */
static void test_passfile(void **state)
{
    (void)state;
    SKIP_WITHOUT_SERVER();
    char uri[512], err[512], pass[256], sql[256];
    fresh_db("scepd_pg_pass", uri, sizeof(uri));
    sql_in("postgres", "DROP ROLE IF EXISTS scep_node");
    sql_in("postgres", "CREATE ROLE scep_node LOGIN PASSWORD 'pw-in-file-only'");
    sql_in("postgres", "GRANT ALL ON DATABASE scepd_pg_pass TO scep_node");
    sql_in("scepd_pg_pass", "GRANT ALL ON SCHEMA public TO scep_node");
    snprintf(pass, sizeof(pass), "/tmp/scepd-pgpass-%d", (int)getpid());
    FILE *f = fopen(pass, "w");
    assert_non_null(f);
    fprintf(f, "127.0.0.1:%s:scepd_pg_pass:scep_node:pw-in-file-only\n", pg_port);
    fclose(f);
    assert_int_equal(chmod(pass, 0600), 0);
    snprintf(uri, sizeof(uri), "postgresql://scep_node@127.0.0.1:%s/scepd_pg_pass?passfile=%s",
             pg_port, pass);
    store_close(open_ok(uri));
    snprintf(uri, sizeof(uri),
             "postgresql://scep_node@127.0.0.1:%s/scepd_pg_pass?passfile=/nonexistent", pg_port);
    assert_null(store_open(uri, err, sizeof(err)));
    assert_non_null(strstr(err, "password"));
    unlink(pass);
    snprintf(sql, sizeof(sql), "DROP DATABASE scepd_pg_pass WITH (FORCE)");
    sql_in("postgres", sql);
    sql_in("postgres", "DROP ROLE scep_node");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema_refusals),
        cmocka_unit_test(test_migrates_older_schema),
        cmocka_unit_test(test_race_one_certificate_per_transaction),
        cmocka_unit_test(test_race_one_time_challenge),
        cmocka_unit_test(test_race_unique_serials),
        cmocka_unit_test(test_race_crl_numbers),
        cmocka_unit_test(test_race_init),
        cmocka_unit_test(test_crl_claim),
        cmocka_unit_test(test_race_crl_issuing),
        cmocka_unit_test(test_lost_connection),
        cmocka_unit_test(test_unreachable),
        cmocka_unit_test(test_libpq_parameters),
        cmocka_unit_test(test_passfile),
    };
    return cmocka_run_group_tests_name("store on postgresql", tests, need_server, NULL);
}
