/* Group commit (store_group, server/store/sqlite/sqlite_flush.c): handles of one group commit
 * without flushing, flush() waits for the shared flusher, and nothing committed is lost or mixed
 * up. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "testutil.h"

#include "store/sqlite/sqlite_flush.h"
#include "store/store.h"

static char tmpdir[] = "/tmp/scepd-group-test-XXXXXX";
static const unsigned char der_bytes[] = {0x30, 0x03, 0x02, 0x01, 0x05};

static int setup(void **state)
{
    (void)state;
    return mkdtemp(tmpdir) != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void db_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s.db", tmpdir, name);
}

/* A group on path, making the store first as `scepd init` does (a group never makes one). */
static store_group *group_ok(const char *path)
{
    char err[512] = "";
    store *made = store_create(path, err, sizeof(err));
    if (made == NULL)
        fail_msg("store_create(%s): %s", path, err);
    store_close(made);
    store_group *g = store_group_open(path, err, sizeof(err));
    if (g == NULL)
        fail_msg("store_group_open(%s): %s", path, err);
    return g;
}

static store *handle_ok(store_group *g)
{
    char err[512] = "";
    store *s = store_group_handle(g, err, sizeof(err));
    if (s == NULL)
        fail_msg("store_group_handle: %s", err);
    return s;
}

static store_status issue(store *s, int thread, int i)
{
    store_cert c = {0};
    snprintf(c.serial, sizeof(c.serial), "%02X%06X", thread, i);
    snprintf(c.subject, sizeof(c.subject), "CN=t%d-%d", thread, i);
    snprintf(c.issuer, sizeof(c.issuer), "CN=Test CA");
    snprintf(c.key_id, sizeof(c.key_id), "%064d", thread);
    snprintf(c.transaction_id, sizeof(c.transaction_id), "tid-%d-%d", thread, i);
    c.not_after = 4000000000;
    c.revocation_reason = -1;
    c.der = (unsigned char *)(uintptr_t)der_bytes;
    c.der_len = sizeof(der_bytes);
    return s->ops->cert_issue(s, &c, 0, REQUEST_PENDING);
}

static int64_t count_certs(const char *path)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int64_t n = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT count(*) FROM certs", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static void test_flush_without_writes(void **state)
{
    (void)state;
    char path[256];
    db_path(path, sizeof(path), "idle");
    store_group *g = group_ok(path);
    store *s = handle_ok(g);
    assert_int_equal(s->ops->flush(s), STORE_OK);
    store_cert out = {0};
    assert_int_equal(s->ops->cert_get(s, "01", &out), STORE_NOT_FOUND);
    assert_int_equal(s->ops->flush(s), STORE_OK);
    store_close(s);
    store_group_close(g);
}

#define THREADS 6
#define PER_THREAD 40

typedef struct worker {
    store_group *g;
    int index;
    int ok;
    int count; /* commits to make */
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    char err[256];
    store *s = store_group_handle(w->g, err, sizeof(err));
    if (s == NULL)
        return NULL;
    for (int i = 0; i < w->count; i++) {
        if (issue(s, w->index, i) != STORE_OK || s->ops->flush(s) != STORE_OK)
            break;
        w->ok++;
    }
    store_close(s);
    return NULL;
}

/* threads threads, each making count commits and flushing each; all of them succeed. */
static void run_workers(store_group *g, int threads, int count)
{
    worker w[THREADS];
    pthread_t t[THREADS];
    assert_true(threads <= THREADS);
    for (int i = 0; i < threads; i++) {
        w[i] = (worker){g, i, 0, count};
        assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].ok, count);
    }
}

/* Threads commit and flush at once; every certificate is there, readable by another
 * connection as soon as its flush returned, and after the group is gone. */
static void test_threads_share_flushes(void **state)
{
    (void)state;
    char path[256];
    db_path(path, sizeof(path), "threads");
    store_group *g = group_ok(path);
    run_workers(g, THREADS, PER_THREAD);
    assert_int_equal(count_certs(path), THREADS * PER_THREAD);
    store_group_close(g);
    assert_int_equal(count_certs(path), THREADS * PER_THREAD);
}

#define LOG_THREADS 4
#define LOG_PER_THREAD 1500
#define LOG_FRAME (4096 + 24) /* a page and its frame header */

/* The flusher's checkpointing thread copies the log beside the committing threads; the log
 * still restarts under steady load (a checkpoint only beside them never copies all of it, and
 * SQLite restarts a log only once it is), so its file stays near the threshold of 1,000 frames
 * plus what the writers add during a checkpoint: 1,064-2,301 here, and 9,600-20,500 (every
 * commit's pages) without the pass under the group's lock. */
static void test_log_restarts_under_load(void **state)
{
    (void)state;
    char path[256], wal[270];
    db_path(path, sizeof(path), "log");
    snprintf(wal, sizeof(wal), "%s-wal", path);
    store_group *g = group_ok(path);
    run_workers(g, LOG_THREADS, LOG_PER_THREAD);
    struct stat st;
    assert_int_equal(stat(wal, &st), 0);
    if (st.st_size > 5000 * LOG_FRAME)
        fail_msg("the log grew to %lld frames", (long long)(st.st_size / LOG_FRAME));
    store_group_close(g);
    assert_int_equal(count_certs(path), LOG_THREADS * LOG_PER_THREAD);
}

/* A commit of a group handle and a commit of a plain handle on the same file coexist. */
static void test_group_and_plain_handles(void **state)
{
    (void)state;
    char path[256], err[256];
    db_path(path, sizeof(path), "mixed");
    store_group *g = group_ok(path);
    store *grouped = handle_ok(g);
    store *plain = store_open(path, err, sizeof(err));
    assert_non_null(plain);
    assert_int_equal(issue(grouped, 1, 1), STORE_OK);
    assert_int_equal(issue(plain, 2, 1), STORE_OK);
    assert_int_equal(issue(grouped, 1, 1), STORE_EXISTS);
    assert_int_equal(grouped->ops->flush(grouped), STORE_OK);
    assert_int_equal(plain->ops->flush(plain), STORE_OK);
    store_cert out = {0};
    assert_int_equal(plain->ops->cert_get(plain, "01000001", &out), STORE_OK);
    store_cert_clear(&out);
    assert_int_equal(grouped->ops->cert_get(grouped, "02000001", &out), STORE_OK);
    store_cert_clear(&out);
    store_close(plain);
    store_close(grouped);
    store_group_close(g);
}

static void test_memory_group(void **state)
{
    (void)state;
    store_group *g = group_ok(":memory:");
    store *s = handle_ok(g);
    assert_int_equal(issue(s, 1, 1), STORE_OK);
    assert_int_equal(s->ops->flush(s), STORE_OK);
    store_close(s);
    store_group_close(g);
}

typedef struct lister {
    store *other; /* a second handle of the same group, used from inside the callback */
    int seen;
    store_status inner;
} lister;

static int list_and_look(void *arg, const store_cert *cert)
{
    lister *l = arg;
    store_cert again = {0};
    l->inner = l->other->ops->cert_get(l->other, cert->serial, &again);
    store_cert_clear(&again);
    l->seen++;
    return 0;
}

/* The handles of a group are one connection: they see each other's writes at once (even in
 * memory), a list callback may use the store again, and each handle keeps its own error. */
static void test_handles_share_one_connection(void **state)
{
    (void)state;
    store_group *g = group_ok(":memory:");
    store *a = handle_ok(g), *b = handle_ok(g);
    assert_int_equal(issue(a, 1, 1), STORE_OK);
    store_cert out = {0};
    assert_int_equal(b->ops->cert_get(b, "01000001", &out), STORE_OK);
    store_cert_clear(&out);
    lister l = {b, 0, STORE_ERROR};
    cert_filter all = {0};
    assert_int_equal(a->ops->cert_list(a, &all, list_and_look, &l), STORE_OK);
    assert_int_equal(l.seen, 1);
    assert_int_equal(l.inner, STORE_OK);
    assert_int_equal(b->ops->cert_get(b, "0F000001", &out), STORE_NOT_FOUND);
    assert_int_equal(issue(b, 1, 1), STORE_EXISTS);
    assert_true(b->ops->last_error(b)[0] != '\0');
    assert_int_equal(a->ops->last_error(a)[0], '\0');
    store_close(a);
    store_close(b);
    store_group_close(g);
}

static void remove_store(const char *path)
{
    const char *suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        char name[300];
        snprintf(name, sizeof(name), "%s%s", path, suffixes[i]);
        unlink(name);
    }
}

static void assert_lost(store *s, store_status got, const char *path)
{
    assert_int_equal(got, STORE_ERROR);
    const char *err = s->ops->last_error(s);
    if (strstr(err, "was removed or replaced while serving") == NULL || strstr(err, path) == NULL)
        fail_msg("unclear error: %s", err);
}

/* A database removed while a group serves it takes writes into the unlinked file: the next
 * flush says so, and from then on every operation and flush fails instead of answering. */
static void test_removed_file_fails_every_operation(void **state)
{
    (void)state;
    char path[256], err[512] = "";
    db_path(path, sizeof(path), "removed");
    store_group *g = group_ok(path);
    store *a = handle_ok(g), *b = handle_ok(g);
    assert_int_equal(issue(a, 1, 1), STORE_OK);
    assert_int_equal(a->ops->flush(a), STORE_OK);
    remove_store(path);
    assert_int_equal(issue(a, 1, 2), STORE_OK); /* into the unlinked file */
    assert_lost(a, a->ops->flush(a), path);
    store_cert out = {0};
    assert_lost(b, b->ops->cert_get(b, "01000001", &out), path);
    assert_lost(b, b->ops->flush(b), path); /* nothing to wait for: still refused */
    assert_lost(a, issue(a, 1, 3), path);
    store_close(a);
    store_close(b);
    store_group_close(g);
    assert_int_equal(access(path, F_OK), -1); /* not made again */
    assert_null(store_group_open(path, err, sizeof(err)));
    assert_non_null(strstr(err, "no store at"));
    assert_int_equal(access(path, F_OK), -1);
}

/* A database replaced by another file (a copy, a restored backup) is refused too, at the flush
 * of a handle that wrote nothing. */
static void test_replaced_file_is_refused(void **state)
{
    (void)state;
    char path[256], copy[300], cmd[1300];
    db_path(path, sizeof(path), "replaced");
    store_group *g = group_ok(path);
    store *a = handle_ok(g);
    assert_int_equal(issue(a, 1, 1), STORE_OK);
    assert_int_equal(a->ops->flush(a), STORE_OK);
    snprintf(copy, sizeof(copy), "%s.copy", path);
    snprintf(cmd, sizeof(cmd), "cp %s %s && mv %s %s", path, copy, copy, path);
    assert_int_equal(system(cmd), 0);
    assert_lost(a, a->ops->flush(a), path);
    store_close(a);
    store_group_close(g);
}

static void test_bad_uri(void **state)
{
    (void)state;
    char err[256] = "";
    assert_null(store_group_open("mysql://x", err, sizeof(err)));
    assert_non_null(strstr(err, "unsupported"));
    assert_null(store_group_open("", err, sizeof(err)));
}

/* The flusher refuses a database that is not in WAL mode: its flush would not cover commits. */
static void test_flusher_needs_wal(void **state)
{
    (void)state;
    char path[256], err[256] = "";
    db_path(path, sizeof(path), "rollback");
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TABLE t (x)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_null(sqlite_flusher_start(path, err, sizeof(err)));
    assert_non_null(strstr(err, "WAL"));
}

/* Tickets: a wait returns once the flush covering the ticket is done, for any order. */
static void test_flusher_tickets(void **state)
{
    (void)state;
    char path[256], err[256] = "";
    db_path(path, sizeof(path), "tickets");
    store_group_close(group_ok(path)); /* creates the database in WAL mode */
    sqlite3 *keep = NULL;              /* keeps the log in place, as a server's handles do */
    assert_int_equal(sqlite3_open(path, &keep), SQLITE_OK);
    assert_int_equal(sqlite3_exec(keep, "SELECT 1 FROM certs", NULL, NULL, NULL), SQLITE_OK);
    sqlite_flusher *f = sqlite_flusher_start(path, err, sizeof(err));
    assert_non_null(f);
    uint64_t a = sqlite_flusher_committed(f, 0, 0, 0);
    uint64_t b = sqlite_flusher_committed(f, 1, 0, 0);
    uint64_t c = sqlite_flusher_committed(f, 0, 0, 0);
    assert_true(a < b && b < c);
    assert_int_equal(sqlite_flusher_wait(f, c), 0);
    assert_int_equal(sqlite_flusher_wait(f, a), 0);
    assert_int_equal(sqlite_flusher_wait(f, b), 0);
    sqlite_flusher_committed(f, 0, 0, 0); /* left for the stop, which flushes it */
    sqlite_flusher_stop(f);
    sqlite3_close(keep);
}

static double since_ms(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

typedef struct late_commit {
    sqlite_flusher *f;
    uint64_t ticket;
} late_commit;

static void *commit_late(void *arg)
{
    late_commit *l = arg;
    nanosleep(&(struct timespec){.tv_nsec = 50000000}, NULL); /* after the flush was asked for */
    l->ticket = sqlite_flusher_committed(l->f, 0, 1, 0);
    return NULL;
}

/* Group commit across exchanges under way: a flush asked for while another exchange is
 * expected waits for its commit (one flush for both), or for the bound when it never comes.
 * The bound is widened here (5 s, then 50 ms) so that a loaded machine cannot reorder it. */
static void test_flusher_waits_for_expected(void **state)
{
    (void)state;
    char path[256], err[256] = "";
    db_path(path, sizeof(path), "grouping");
    store_group_close(group_ok(path));
    sqlite3 *keep = NULL;
    assert_int_equal(sqlite3_open(path, &keep), SQLITE_OK);
    assert_int_equal(sqlite3_exec(keep, "SELECT 1 FROM certs", NULL, NULL, NULL), SQLITE_OK);
    sqlite_flusher *f = sqlite_flusher_start(path, err, sizeof(err));
    assert_non_null(f);

    sqlite_flusher_set_group_wait(f, 5000000);
    sqlite_flusher_expect(f, 1);
    late_commit l = {f, 0};
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pthread_t t;
    uint64_t flushes = sqlite_flusher_flushes(f);
    uint64_t first = sqlite_flusher_committed(f, 1, 0, 0);
    assert_int_equal(pthread_create(&t, NULL, commit_late, &l), 0);
    assert_int_equal(sqlite_flusher_wait(f, first), 0);
    pthread_join(t, NULL);
    assert_int_equal(sqlite_flusher_wait(f, l.ticket), 0);
    assert_int_equal(sqlite_flusher_flushes(f) - flushes, 1);
    assert_true(since_ms(&t0) < 4000.0); /* woken by the commit, not by the bound */

    /* Expected but never committing: the flush goes after the bounded wait. */
    sqlite_flusher_set_group_wait(f, 50000);
    sqlite_flusher_expect(f, 1);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(sqlite_flusher_wait(f, sqlite_flusher_committed(f, 1, 0, 0)), 0);
    assert_true(since_ms(&t0) >= 50.0);
    sqlite_flusher_expect(f, -1);
    sqlite_flusher_stop(f);
    sqlite3_close(keep);
}

/* A durable notice (when_durable), as a suspended HTTP answer waits for it: told once, after
 * the flush, on whichever thread; the test waits for it. */
typedef struct notice {
    pthread_mutex_t lock;
    pthread_cond_t told;
    int count;
    store_status status;
    char why[512];
} notice;

static void notice_init(notice *n)
{
    memset(n, 0, sizeof(*n));
    pthread_mutex_init(&n->lock, NULL);
    pthread_cond_init(&n->told, NULL);
    n->status = STORE_NOMEM; /* never what a notice says */
}

static void on_durable(void *arg, store_status status, const char *why)
{
    notice *n = arg;
    pthread_mutex_lock(&n->lock);
    n->count++;
    n->status = status;
    snprintf(n->why, sizeof(n->why), "%s", why);
    pthread_cond_signal(&n->told);
    pthread_mutex_unlock(&n->lock);
}

/* Waits up to 10 s for the notice; returns how many times it was told. */
static int notice_wait(notice *n)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    pthread_mutex_lock(&n->lock);
    while (n->count == 0 && pthread_cond_timedwait(&n->told, &n->lock, &until) == 0)
        ;
    int count = n->count;
    pthread_mutex_unlock(&n->lock);
    return count;
}

static void notice_free(notice *n)
{
    pthread_cond_destroy(&n->told);
    pthread_mutex_destroy(&n->lock);
}

/* Each group handle's notice comes once its commits are flushed, from the flusher's thread
 * while the callers go on; plain and in-memory handles, which need no flush, are told at once. */
static void test_durable_notices(void **state)
{
    (void)state;
    char path[256];
    db_path(path, sizeof(path), "notices");
    store_group *g = group_ok(path);
    enum { HANDLES = 8 };
    store *h[HANDLES];
    notice n[HANDLES];
    for (int i = 0; i < HANDLES; i++) {
        h[i] = handle_ok(g);
        notice_init(&n[i]);
        assert_int_equal(issue(h[i], 7, i), STORE_OK);
        h[i]->ops->when_durable(h[i], on_durable, &n[i]);
    }
    for (int i = 0; i < HANDLES; i++) {
        assert_int_equal(notice_wait(&n[i]), 1);
        assert_int_equal(n[i].status, STORE_OK);
        assert_string_equal(n[i].why, "");
        store_close(h[i]);
        notice_free(&n[i]);
    }
    store_group_close(g);
    assert_int_equal(count_certs(path), HANDLES);

    char err[512] = "";
    const char *uris[] = {path, "memory:"};
    for (size_t i = 0; i < 2; i++) {
        store_group *mg = i == 1 ? store_group_open("memory:", err, sizeof(err)) : NULL;
        store *s = mg ? handle_ok(mg) : store_open(uris[i], err, sizeof(err));
        assert_non_null(s);
        notice one;
        notice_init(&one);
        assert_int_equal(issue(s, 8, (int)i), STORE_OK);
        s->ops->when_durable(s, on_durable, &one);
        assert_int_equal(one.count, 1); /* before when_durable returned */
        assert_int_equal(one.status, STORE_OK);
        notice_free(&one);
        store_close(s);
        store_group_close(mg);
    }
}

/* A lost store: the notice says so, with the reason, and so does every later one. */
static void test_durable_notice_of_lost_store(void **state)
{
    (void)state;
    char path[256];
    db_path(path, sizeof(path), "lostnotice");
    store_group *g = group_ok(path);
    store *a = handle_ok(g);
    assert_int_equal(issue(a, 1, 1), STORE_OK);
    remove_store(path);
    for (int round = 0; round < 2; round++) {
        notice n;
        notice_init(&n);
        a->ops->when_durable(a, on_durable, &n);
        assert_int_equal(notice_wait(&n), 1);
        assert_int_equal(n.status, STORE_ERROR);
        if (strstr(n.why, "store: the database file") == NULL || strstr(n.why, path) == NULL)
            fail_msg("unclear reason: %s", n.why);
        notice_free(&n);
    }
    store_close(a);
    store_group_close(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flush_without_writes),
        cmocka_unit_test(test_threads_share_flushes),
        cmocka_unit_test(test_log_restarts_under_load),
        cmocka_unit_test(test_group_and_plain_handles),
        cmocka_unit_test(test_memory_group),
        cmocka_unit_test(test_handles_share_one_connection),
        cmocka_unit_test(test_removed_file_fails_every_operation),
        cmocka_unit_test(test_replaced_file_is_refused),
        cmocka_unit_test(test_bad_uri),
        cmocka_unit_test(test_flusher_needs_wal),
        cmocka_unit_test(test_flusher_tickets),
        cmocka_unit_test(test_flusher_waits_for_expected),
        cmocka_unit_test(test_durable_notices),
        cmocka_unit_test(test_durable_notice_of_lost_store),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
