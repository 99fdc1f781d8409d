/*
 * The service as a worker thread uses it (service/worker.c), in process on an in-memory store:
 * an answer that used the store leaves only after the store flushed, a failed flush turns it
 * into a 503, and answers that never touch the store neither open nor flush one.
 */
#define _GNU_SOURCE /* memmem */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "config/config.h"
#include "service/server.h"
#include "service/store_health.h"
#include "service/worker.h"
#include "store/store.h"
#include "testutil.h"

/* The store under test counts its flushes and can be told to fail them: its own operations
 * with flush replaced. */
static const store_ops *real_ops;
static store_ops counted_ops;
static int flushes;
static store_status flush_result;

static store_status counted_flush(store *s)
{
    flushes++;
    store_status ret = real_ops->flush(s);
    return ret != STORE_OK ? ret : flush_result;
}

/* ... and holds its durable notices until the test says the flush is done. */
static store_durable_fn held_done;
static void *held_arg;

static void held_when_durable(store *s, store_durable_fn done, void *arg)
{
    (void)s;
    held_done = done;
    held_arg = arg;
}

typedef struct fixture {
    server srv;
    store *st;
    service_worker *w;
} fixture;

static void fixture_init(fixture *f)
{
    memset(f, 0, sizeof(*f));
    config_defaults(&f->srv.cfg, NULL);
    f->srv.ctx = tu_ctx(0);
    const tu_ca *t = tu_test_ca();
    f->srv.eras[0].ca.cert = t->ca_cert; /* borrowed, never freed here */
    f->srv.eras[0].ca.key = t->ca_key;
    f->srv.n_eras = 1;
    char err[256] = "";
    f->st = store_open("memory:", err, sizeof(err));
    if (f->st == NULL)
        fail_msg("store_open(memory:): %s", err);
    real_ops = f->st->ops;
    counted_ops = *real_ops;
    counted_ops.flush = counted_flush;
    counted_ops.when_durable = held_when_durable;
    held_done = NULL;
    f->st->ops = &counted_ops;
    flushes = 0;
    flush_result = STORE_OK;
    f->w = service_worker_on(&f->srv, f->st);
    assert_non_null(f->w);
}

static void fixture_free(fixture *f)
{
    service_worker_close(f->w);
    f->st->ops = real_ops;
    store_close(f->st);
}

static void test_crl_flushed_before_reply(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f);
    reply r;
    reply_init(&r);
    service_worker_crl(f.w, 0, NULL, &r);
    assert_int_equal(r.http_status, 200);
    assert_int_equal(flushes, 1);
    store_crl rec = {0};
    assert_int_equal(f.st->ops->crl_latest(f.st, NULL, &rec), STORE_OK); /* the one it wrote */
    assert_int_equal(rec.der_len, r.body_len);
    store_crl_clear(&rec);
    reply_free(&r);
    fixture_free(&f);
}

static void test_failed_flush_is_503(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f);
    flush_result = STORE_ERROR;
    reply r;
    reply_init(&r);
    service_worker_crl(f.w, 0, NULL, &r);
    assert_int_equal(flushes, 1);
    assert_int_equal(r.http_status, 503);
    assert_non_null(strstr(r.detail, "cannot write to disk"));
    reply_free(&r);

    /* A PKIOperation too, even one the service refuses: whatever it wrote is flushed first. */
    static const unsigned char junk[] = {0x30, 0x03, 0x02, 0x01, 0x01};
    scep_http_request req = {.operation = SCEP_OP_PKI_OPERATION,
                             .message = (unsigned char *)(uintptr_t)junk,
                             .message_len = sizeof(junk)};
    reply_init(&r);
    service_worker_request(f.w, &req, &r);
    assert_int_equal(flushes, 2);
    assert_int_equal(r.http_status, 503);
    reply_free(&r);
    fixture_free(&f);
}

static void test_no_store_no_flush(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f);
    scep_http_request req = {.operation = SCEP_OP_GET_NEXT_CA_CERT};
    reply r;
    reply_init(&r);
    service_worker_request(f.w, &req, &r);
    assert_int_equal(r.http_status, 404); /* no rollover prepared */
    assert_int_equal(flushes, 0);
    reply_free(&r);
    fixture_free(&f);

    /* Without a store, a PKIOperation is a 503 and the CA's own answers still work. */
    service_worker *bare = service_worker_on(&f.srv, NULL);
    assert_non_null(bare);
    req.operation = SCEP_OP_PKI_OPERATION;
    reply_init(&r);
    service_worker_request(bare, &req, &r);
    assert_int_equal(r.http_status, 503);
    assert_non_null(strstr(r.detail, "certificate store unavailable"));
    reply_free(&r);
    reply_init(&r);
    service_worker_crl(bare, 0, NULL, &r);
    assert_int_equal(r.http_status, 503);
    reply_free(&r);
    service_worker_close(bare);
}

/* Writes the test CA as scepd init would leave it: ca.pem, and ca.key 0600. */
static void write_ca_dir(const char *dir)
{
    const tu_ca *t = tu_test_ca();
    char path[512];
    snprintf(path, sizeof(path), "%s/ca.pem", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_X509(f, t->ca_cert), 1);
    fclose(f);
    snprintf(path, sizeof(path), "%s/ca.key", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(PEM_write_PrivateKey(f, t->ca_key, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
}

/* The server as scepd serve makes it (server_init on a CA directory), serving in process:
 * GetCACaps and GetCACert from what it loaded, a PKIOperation refused with an HTTP error when
 * nothing in it verifies, and a CA directory without a key refused by server_init itself. */
static void test_server_init_serves(void **state)
{
    (void)state;
    char dir[] = "/tmp/scepd-server-init-XXXXXX";
    assert_non_null(mkdtemp(dir));
    write_ca_dir(dir);
    config c;
    config_defaults(&c, dir);
    server *srv = calloc(1, sizeof(*srv));
    assert_non_null(srv);
    char err[512] = "";
    assert_int_equal(server_init(srv, &c, err, sizeof(err)), 0);
    store *st = store_open("memory:", err, sizeof(err));
    assert_non_null(st);
    service_worker *w = service_worker_on(srv, st);
    assert_non_null(w);

    scep_http_request req = {.operation = SCEP_OP_GET_CA_CAPS};
    reply r;
    reply_init(&r);
    service_worker_request(w, &req, &r);
    assert_int_equal(r.http_status, 200);
    assert_non_null(memmem(r.body, r.body_len, "SCEPStandard", 12));
    reply_free(&r);

    req.operation = SCEP_OP_GET_CA_CERT;
    reply_init(&r);
    service_worker_request(w, &req, &r);
    assert_int_equal(r.http_status, 200);
    unsigned char *der = NULL;
    int n = i2d_X509(tu_test_ca()->ca_cert, &der);
    assert_true(n > 0 && (size_t)n == r.body_len && memcmp(der, r.body, (size_t)n) == 0);
    OPENSSL_free(der);
    reply_free(&r);

    static const unsigned char junk[] = {0x30, 0x03, 0x02, 0x01, 0x01};
    req = (scep_http_request){.operation = SCEP_OP_PKI_OPERATION,
                              .message = (unsigned char *)(uintptr_t)junk,
                              .message_len = sizeof(junk)};
    reply_init(&r);
    service_worker_request(w, &req, &r);
    assert_int_equal(r.http_status, 400);
    reply_free(&r);
    service_worker_close(w);
    store_close(st);
    server_free(srv);

    char path[512];
    snprintf(path, sizeof(path), "%s/ca.key", dir);
    assert_int_equal(unlink(path), 0);
    memset(srv, 0, sizeof(*srv));
    assert_int_not_equal(server_init(srv, &c, err, sizeof(err)), 0);
    assert_non_null(strstr(err, "ca.key"));
    free(srv);
    snprintf(path, sizeof(path), "%s/ca.pem", dir);
    unlink(path);
    rmdir(dir);
}

static void on_ready(void *arg)
{
    (*(int *)arg)++;
}

/* The answer that does not wait (the HTTP layer's): prepared, then held until the store's
 * notice, which the test gives; only then may it leave, unchanged, or as a 503 when the flush
 * failed. */
static void test_answer_waits_for_notice(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f);
    reply r;
    reply_init(&r);
    assert_int_equal(service_worker_prepare_crl(f.w, 0, NULL, &r), 1);
    assert_int_equal(r.http_status, 200);
    size_t crl_len = r.body_len;
    service_durable d;
    int ready = 0;
    service_worker_await(f.w, &d, &r, on_ready, &ready);
    assert_non_null(held_done);
    assert_int_equal(ready, 0); /* no notice yet: the answer waits */
    held_done(held_arg, STORE_OK, "");
    assert_int_equal(ready, 1);
    service_durable_finish(&d);
    assert_int_equal(r.http_status, 200);
    assert_int_equal(r.body_len, crl_len);
    assert_int_equal(flushes, 0); /* nobody waited in flush() */
    reply_free(&r);

    /* The flush failed: a 503 replaces the answer, and the store's health says why. */
    reply_init(&r);
    held_done = NULL;
    ready = 0;
    assert_int_equal(service_worker_prepare_crl(f.w, 0, NULL, &r), 1);
    service_worker_await(f.w, &d, &r, on_ready, &ready);
    assert_int_equal(ready, 0);
    held_done(held_arg, STORE_ERROR, "store: writing the log to disk failed: I/O error");
    assert_int_equal(ready, 1);
    service_durable_finish(&d);
    assert_int_equal(r.http_status, 503);
    assert_non_null(strstr(r.detail, "cannot write to disk"));
    char why[256];
    assert_int_equal(store_health_problem(why, sizeof(why)), 1);
    assert_string_equal(why, "store: writing the log to disk failed: I/O error");
    store_health_ok();
    reply_free(&r);

    /* Answers that never touch the store are final at once. */
    scep_http_request req = {.operation = SCEP_OP_GET_CA_CAPS};
    reply_init(&r);
    assert_int_equal(service_worker_prepare(f.w, &req, &r), 0);
    assert_int_equal(r.http_status, 200);
    reply_free(&r);
    fixture_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crl_flushed_before_reply),
        cmocka_unit_test(test_failed_flush_is_503),
        cmocka_unit_test(test_no_store_no_flush),
        cmocka_unit_test(test_answer_waits_for_notice),
        cmocka_unit_test(test_server_init_serves),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
