/* What the store tests share (test_store_contract.c, test_store_sqlite.c): records to store,
 * and collecting what a list returns. Each function is used by one of them at least. */
#ifndef SCEPD_TEST_STORE_CASES_H
#define SCEPD_TEST_STORE_CASES_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"

#include "store/store.h"

#define STORE_CASE __attribute__((unused)) static

STORE_CASE const unsigned char csr_bytes[] = {0x30, 0x82, 0x01, 0x0a, 0x00, 0x01, 0xff, 0x00, 0x7f};
STORE_CASE const unsigned char der_bytes[] = {0x30, 0x82, 0x02, 0x00, 0xde, 0xad, 0x00, 0xbe, 0xef};

/* A store at uri, made when missing (as `scepd init` does). */
STORE_CASE store *open_ok(const char *uri)
{
    char err[512] = "";
    store *s = store_create(uri, err, sizeof(err));
    if (s == NULL)
        fail_msg("store_create(%s): %s", uri, err);
    return s;
}

STORE_CASE void make_request(store_request *r, const char *tid, const char *subject)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->transaction_id, sizeof(r->transaction_id), "%s", tid);
    snprintf(r->key_id, sizeof(r->key_id), "%064d", 7);
    snprintf(r->subject, sizeof(r->subject), "%s", subject);
    r->message_type = 19;
    r->csr_der = (unsigned char *)(uintptr_t)csr_bytes; /* read only by the store */
    r->csr_len = sizeof(csr_bytes);
}

STORE_CASE void make_cert(store_cert *c, const char *serial, const char *subject, int64_t not_after,
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
STORE_CASE int64_t put_new(store *s, const char *tid)
{
    store_request r, out;
    make_request(&r, tid, "CN=someone");
    assert_int_equal(s->ops->request_put(s, &r, &out), STORE_OK);
    int64_t id = out.id;
    store_request_clear(&out);
    return id;
}

STORE_CASE store_status issue(store *s, const char *serial, const char *subject, int64_t not_after,
                              cert_state state)
{
    store_cert c;
    make_cert(&c, serial, subject, not_after, state);
    return s->ops->cert_issue(s, &c, 0, REQUEST_PENDING);
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

STORE_CASE int collect_cert(void *arg, const store_cert *c)
{
    collected *col = arg;
    if (col->n < MAX_COLLECT)
        snprintf(col->keys[col->n], sizeof(col->keys[0]), "%s", c->serial);
    col->n++;
    return col->stop_after != 0 && col->n >= col->stop_after;
}

STORE_CASE int collect_request(void *arg, const store_request *r)
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
STORE_CASE void expect_list(store *s, const cert_filter *filter, const char *expect)
{
    collected col = {0};
    assert_int_equal(s->ops->cert_list(s, filter, collect_cert, &col), STORE_OK);
    char got[512] = "";
    size_t used = 0;
    for (int i = 0; i < col.n && i < MAX_COLLECT; i++)
        used += (size_t)snprintf(got + used, sizeof(got) - used, "%s%s", i ? "," : "", col.keys[i]);
    assert_string_equal(got, expect);
}

STORE_CASE int64_t count_certs(store *s)
{
    collected col = {0};
    assert_int_equal(s->ops->cert_list(s, NULL, collect_cert, &col), STORE_OK);
    return col.n;
}

#endif
