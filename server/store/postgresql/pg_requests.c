/*
 * Requests and issuing on PostgreSQL. Under READ COMMITTED each statement sees what other nodes
 * committed before it: a new transactionID is one INSERT ... ON CONFLICT DO NOTHING (the loser
 * waits for the winner's commit, then reads its row), and issuing locks the request row first
 * (SELECT ... FOR UPDATE), so of several nodes issuing for one request, one does and the others
 * see ISSUED. A serial taken by another node is STORE_EXISTS, and the caller draws again.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/postgresql/pg_store.h"
#include "store/store_text.h"

#define REQUEST_COLS                                                                               \
    "id, transaction_id, key_id, subject, message_type, state, csr, cert_serial, reason, "         \
    "created_at, updated_at, challenge_hash, client_addr, challenge_kind, signer_key_id, csr_hash"

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

static int row_request(const PGresult *r, int row, store_request *q)
{
    memset(q, 0, sizeof(*q));
    q->id = pg_col_int(r, row, 0);
    pg_col_text(r, row, 1, q->transaction_id, sizeof(q->transaction_id));
    pg_col_text(r, row, 2, q->key_id, sizeof(q->key_id));
    pg_col_text(r, row, 3, q->subject, sizeof(q->subject));
    q->message_type = (int)pg_col_int(r, row, 4);
    q->state = (request_state)pg_col_int(r, row, 5);
    pg_col_text(r, row, 7, q->cert_serial, sizeof(q->cert_serial));
    pg_col_text(r, row, 8, q->reason, sizeof(q->reason));
    q->created_at = pg_col_int(r, row, 9);
    q->updated_at = pg_col_int(r, row, 10);
    pg_col_text(r, row, 11, q->challenge_hash, sizeof(q->challenge_hash));
    pg_col_text(r, row, 12, q->client_addr, sizeof(q->client_addr));
    pg_col_text(r, row, 13, q->challenge_kind, sizeof(q->challenge_kind));
    pg_col_text(r, row, 14, q->signer_key_id, sizeof(q->signer_key_id));
    pg_col_text(r, row, 15, q->csr_hash, sizeof(q->csr_hash));
    return pg_col_blob(r, row, 6, &q->csr_der, &q->csr_len);
}

/* One request by the query sql with parameters p; *out written only on STORE_OK. */
static store_status fetch_request(pg_store *s, const char *sql, const pg_params *p,
                                  store_request *out)
{
    PGresult *r = NULL;
    store_request q;
    store_status ret = pg_query(s, sql, p, &r);
    if (ret == STORE_OK && row_request(r, 0, &q) != 0) {
        pg_set_error(s, "store: out of memory");
        ret = STORE_NOMEM;
    }
    PQclear(r);
    if (ret == STORE_OK)
        *out = q;
    return ret;
}

static store_status by_tid(pg_store *s, const char *tid, store_request *out)
{
    pg_params p = {0};
    pg_text(&p, tid, STORE_TID);
    return fetch_request(s, "SELECT " REQUEST_COLS " FROM requests WHERE transaction_id = $1", &p,
                         out);
}

static store_status by_id(pg_store *s, int64_t id, const char *lock, store_request *out)
{
    pg_params p = {0};
    pg_int(&p, id);
    return fetch_request(s, lock, &p, out);
}

static const char sql_by_id[] = "SELECT " REQUEST_COLS " FROM requests WHERE id = $1";
static const char sql_by_id_locked[] =
    "SELECT " REQUEST_COLS " FROM requests WHERE id = $1 FOR UPDATE";

static request_state state_of(const store_request *req, const char *serial)
{
    if (serial != NULL)
        return REQUEST_ISSUED;
    return req->state == REQUEST_APPROVED ? REQUEST_APPROVED : REQUEST_PENDING;
}

/* The columns every new request row gets, and where request_params() binds them: from $N on
 * for the N given (the INSERT's own columns, then the CTE's). */
#define REQUEST_INSERT_COLS                                                                        \
    "transaction_id, key_id, subject, message_type, csr, created_at, updated_at, "                 \
    "challenge_hash, client_addr, challenge_kind, signer_key_id, csr_hash, reason, state"

/* Binds req's REQUEST_INSERT_COLS up to state (11 parameters: created_at once, for both). */
static void request_params(pg_params *p, const store_request *req, int64_t now)
{
    pg_text(p, req->transaction_id, sizeof(req->transaction_id));
    pg_text(p, req->key_id, sizeof(req->key_id));
    pg_text(p, req->subject, sizeof(req->subject));
    pg_int(p, req->message_type);
    pg_blob(p, req->csr_der, req->csr_len);
    pg_int(p, now);
    pg_text(p, req->challenge_hash, sizeof(req->challenge_hash));
    pg_text(p, req->client_addr, sizeof(req->client_addr));
    pg_text(p, req->challenge_kind, sizeof(req->challenge_kind));
    pg_text(p, req->signer_key_id, sizeof(req->signer_key_id));
    pg_text(p, req->csr_hash, sizeof(req->csr_hash));
}

/* Inserts req, PENDING or APPROVED as req->state says, unless its transactionID is taken; *id
 * is the new row's, 0 when none. */
static store_status insert_request(pg_store *s, const store_request *req, int64_t now, int64_t *id)
{
    pg_params p = {0};
    request_params(&p, req, now);
    pg_int(&p, state_of(req, NULL));
    PGresult *r = NULL;
    *id = 0;
    store_status ret = pg_run(s,
                              "INSERT INTO requests (" REQUEST_INSERT_COLS ") VALUES"
                              " ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9, $10, $11, '', $12)"
                              " ON CONFLICT (transaction_id) DO NOTHING RETURNING id",
                              &p, &r);
    if (ret == STORE_OK && PQntuples(r) == 1)
        *id = pg_col_int(r, 0, 0);
    PQclear(r);
    return ret;
}

/* The certificate, its ISSUED request and the audit row in one statement, which commits on its
 * own: one round trip per enrollment. A transactionID another node took fails it whole (no ON
 * CONFLICT here: the certificate must not stay without its request), as CONFLICT. */
static store_status insert_issued(pg_store *s, const store_request *req, const store_cert *cert,
                                  int64_t now, int64_t *id)
{
    pg_params p = {0};
    pg_cert_params(&p, cert);
    request_params(&p, req, now);
    PGresult *r = NULL;
    *id = 0;
    s->warning[0] = '\0';
    store_status ret = pg_run(
        s,
        "WITH c AS (INSERT INTO certs (" PG_CERT_COLS ") VALUES"
        " ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING serial, subject),"
        " r AS (INSERT INTO requests (" REQUEST_INSERT_COLS ", cert_serial)"
        " SELECT $13, $14, $15, $16, $17, $18, $18, $19, $20, $21, $22, $23, '', 3, c.serial FROM c"
        " RETURNING id, message_type, transaction_id, client_addr, cert_serial),"
        /* the audit row of the issue, in the same statement (so in the same commit) */
        " a AS (INSERT INTO audit (at, actor, action, subject, serial, transaction_id, peer)"
        " SELECT $18, 'policy', CASE r.message_type WHEN 17 THEN 'renew' ELSE 'issue' END,"
        " c.subject, c.serial, split_part(r.transaction_id, '~', 1), r.client_addr"
        " FROM c JOIN r ON r.cert_serial = c.serial)"
        " SELECT id FROM r",
        &p, &r);
    ret = pg_autocommit_confirmed(s, ret);
    if (ret == STORE_OK && PQntuples(r) == 1)
        *id = pg_col_int(r, 0, 0);
    else if (ret == STORE_OK)
        ret = STORE_CONFLICT;
    if (ret == STORE_EXISTS)
        pg_set_error(s, "store: serial %.40s is taken", cert->serial);
    PQclear(r);
    return ret;
}

/* What insert_request() stored, without reading it back: the same truncations as the binds. */
static store_status inserted_request(const store_request *req, const char *serial, int64_t id,
                                     int64_t now, store_request *out)
{
    store_request q = {0};
    q.id = id;
    pg_copy_text(q.transaction_id, sizeof(q.transaction_id), req->transaction_id);
    pg_copy_text(q.key_id, sizeof(q.key_id), req->key_id);
    pg_copy_text(q.subject, sizeof(q.subject), req->subject);
    pg_copy_text(q.challenge_hash, sizeof(q.challenge_hash), req->challenge_hash);
    pg_copy_text(q.client_addr, sizeof(q.client_addr), req->client_addr);
    pg_copy_text(q.challenge_kind, sizeof(q.challenge_kind), req->challenge_kind);
    pg_copy_text(q.signer_key_id, sizeof(q.signer_key_id), req->signer_key_id);
    pg_copy_text(q.csr_hash, sizeof(q.csr_hash), req->csr_hash);
    q.message_type = req->message_type;
    q.state = state_of(req, serial);
    if (serial != NULL)
        pg_copy_text(q.cert_serial, sizeof(q.cert_serial), serial);
    q.created_at = q.updated_at = now;
    if (req->csr_len > 0) {
        q.csr_der = malloc(req->csr_len);
        if (q.csr_der == NULL)
            return STORE_NOMEM;
        memcpy(q.csr_der, req->csr_der, req->csr_len);
        q.csr_len = req->csr_len;
    }
    *out = q;
    return STORE_OK;
}

store_status pg_request_put(store *base, const store_request *req, store_request *out)
{
    pg_store *s = pg_impl(base);
    if (out != req)
        memset(out, 0, sizeof(*out));
    int64_t id = 0, now = now_s();
    store_status ret = insert_request(s, req, now, &id);
    if (ret != STORE_OK)
        return ret;
    if (id != 0)
        return inserted_request(req, NULL, id, now, out);
    ret = by_tid(s, req->transaction_id, out); /* requests are never deleted */
    if (ret == STORE_NOT_FOUND) {
        pg_set_error(s, "store: request vanished after insert");
        return STORE_ERROR;
    }
    return ret == STORE_OK ? STORE_EXISTS : ret;
}

store_status pg_request_get(store *base, const char *transaction_id, store_request *out)
{
    memset(out, 0, sizeof(*out));
    return by_tid(pg_impl(base), transaction_id, out);
}

store_status pg_request_get_by_id(store *base, int64_t id, store_request *out)
{
    memset(out, 0, sizeof(*out));
    return by_id(pg_impl(base), id, sql_by_id, out);
}

store_status pg_request_get_by_cert(store *base, const char *serial, store_request *out)
{
    memset(out, 0, sizeof(*out));
    pg_params p = {0};
    pg_text(&p, serial, STORE_HEX_SERIAL);
    return fetch_request(pg_impl(base),
                         "SELECT " REQUEST_COLS " FROM requests WHERE cert_serial = $1", &p, out);
}

/* Why request id is not in `expected` (read with lock, which may lock its row): no such id
 * (STORE_NOT_FOUND) or another state (STORE_CONFLICT); STORE_OK when it is. */
static store_status request_expect(pg_store *s, int64_t id, request_state expected,
                                   const char *lock)
{
    store_request q = {0};
    char why[STORE_TEXT] = "";
    store_status ret =
        store_request_expect(by_id(s, id, lock, &q), &q, id, expected, why, sizeof(why));
    if (why[0] != '\0')
        pg_set_error(s, "%s", why);
    store_request_clear(&q);
    return ret;
}

store_status pg_request_transition(store *base, int64_t id, request_state from, request_state to,
                                   const char *reason)
{
    pg_store *s = pg_impl(base);
    pg_params p = {0};
    pg_int(&p, to);
    pg_text(&p, reason, STORE_TEXT);
    pg_int(&p, now_s());
    pg_int(&p, id);
    pg_int(&p, from);
    PGresult *r = NULL;
    store_status ret = pg_run(s,
                              "UPDATE requests SET state = $1, reason = coalesce($2, reason),"
                              " updated_at = $3 WHERE id = $4 AND state = $5",
                              &p, &r);
    int changed = ret == STORE_OK ? pg_changed(r) : 0;
    PQclear(r);
    if (ret == STORE_OK && changed == 0) {
        ret = request_expect(s, id, from, sql_by_id);
        if (ret == STORE_OK) { /* it moved into `from` since: say so rather than guess */
            pg_set_error(s, "store: request %lld changed under the update", (long long)id);
            ret = STORE_CONFLICT;
        }
    }
    return ret;
}

/* Hands each row of r to fn until it says stop. */
static store_status each_request(pg_store *s, PGresult *r, store_request_fn fn, void *arg)
{
    for (int i = 0; i < PQntuples(r); i++) {
        store_request q;
        if (row_request(r, i, &q) != 0) {
            pg_set_error(s, "store: out of memory");
            return STORE_NOMEM;
        }
        int stop = fn(arg, &q);
        store_request_clear(&q);
        if (stop)
            break;
    }
    return STORE_OK;
}

store_status pg_request_list(store *base, int only_pending, store_request_fn fn, void *arg)
{
    pg_store *s = pg_impl(base);
    if (fn == NULL) {
        pg_set_error(s, "store: list without a callback");
        return STORE_ERROR;
    }
    PGresult *r = NULL;
    store_status ret =
        pg_run(s,
               only_pending ? "SELECT " REQUEST_COLS " FROM requests WHERE state = 0 ORDER BY id"
                            : "SELECT " REQUEST_COLS " FROM requests ORDER BY id",
               NULL, &r);
    if (ret == STORE_OK)
        ret = each_request(s, r, fn, arg);
    PQclear(r);
    return ret;
}

store_status pg_request_page(store *base, const request_filter *f, store_request_fn fn, void *arg)
{
    pg_store *s = pg_impl(base);
    if (fn == NULL || f == NULL) {
        pg_set_error(s, "store: list without a filter or a callback");
        return STORE_ERROR;
    }
    pg_params p = {0};
    pg_int(&p, f->state);
    pg_int(&p, f->after_id);
    if (f->limit > 0)
        pg_int(&p, f->limit);
    else
        pg_null_int(&p);
    PGresult *r = NULL;
    store_status ret = pg_run(s,
                              "SELECT " REQUEST_COLS " FROM requests"
                              " WHERE ($1 < 0 OR state = $1) AND id > $2 ORDER BY id LIMIT $3",
                              &p, &r);
    if (ret == STORE_OK)
        ret = each_request(s, r, fn, arg);
    PQclear(r);
    return ret;
}

static store_status mark_issued(pg_store *s, int64_t id, request_state from, const char *serial)
{
    pg_params p = {0};
    pg_text(&p, serial, STORE_HEX_SERIAL);
    pg_int(&p, now_s());
    pg_int(&p, id);
    pg_int(&p, from);
    PGresult *r = NULL;
    store_status ret = pg_run(s,
                              "UPDATE requests SET state = 3, cert_serial = $1, updated_at = $2"
                              " WHERE id = $3 AND state = $4",
                              &p, &r);
    if (ret == STORE_OK && pg_changed(r) != 1) {
        pg_set_error(s, "store: request %lld left %s while it was locked", (long long)id,
                     request_state_name(from));
        ret = STORE_CONFLICT;
    }
    PQclear(r);
    return ret;
}

/* The audit row of an issued certificate, in the issuing transaction (no commit of its own
 * on the enrollment path): its subject, serial, transactionID and requester, by actor. */
static store_status audit_issued(pg_store *s, const char *serial, const char *actor)
{
    pg_params p = {0};
    pg_int(&p, now_s());
    pg_text(&p, actor, STORE_ACTOR);
    pg_text(&p, serial, STORE_HEX_SERIAL);
    return pg_run(s,
                  "INSERT INTO audit (at, actor, action, subject, serial, transaction_id, peer)"
                  " SELECT $1, $2, CASE r.message_type WHEN 17 THEN 'renew' ELSE 'issue' END,"
                  " c.subject, c.serial, split_part(r.transaction_id, '~', 1), r.client_addr"
                  " FROM certs c JOIN requests r ON r.cert_serial = c.serial WHERE c.serial = $3",
                  &p, NULL);
}

store_status pg_cert_issue(store *base, const store_cert *cert, int64_t request_id,
                           request_state from)
{
    pg_store *s = pg_impl(base);
    store_status ret = pg_begin(s);
    /* The request first, locked: when another node already issued, that is the answer,
     * whatever our serial. */
    if (ret == STORE_OK && request_id != 0)
        ret = request_expect(s, request_id, from, sql_by_id_locked);
    if (ret == STORE_OK)
        ret = pg_insert_cert(s, cert);
    if (ret == STORE_OK && request_id != 0)
        ret = mark_issued(s, request_id, from, cert->serial);
    if (ret == STORE_OK && request_id != 0)
        ret = audit_issued(s, cert->serial, "scepd");
    if (ret == STORE_OK)
        ret = pg_commit(s);
    if (ret != STORE_OK)
        pg_rollback(s);
    return ret;
}

store_status pg_request_issue(store *base, const store_request *req, const store_cert *cert,
                              store_request *out)
{
    pg_store *s = pg_impl(base);
    memset(out, 0, sizeof(*out));
    int64_t id = 0, now = now_s();
    /* Another node's certificate for the same transaction makes this CONFLICT
     * (certs_one_per_transaction), as does its request (requests_transaction_id_key). */
    store_status ret = insert_issued(s, req, cert, now, &id);
    if (ret == STORE_OK)
        return inserted_request(req, cert->serial, id, now, out);
    if (ret == STORE_CONFLICT) {
        store_status got = by_tid(s, req->transaction_id, out);
        if (got == STORE_NOT_FOUND)
            pg_set_error(s, "store: request vanished after a conflict");
        if (got != STORE_OK)
            return got == STORE_NOT_FOUND ? STORE_ERROR : got;
    }
    return ret;
}
