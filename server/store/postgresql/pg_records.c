/*
 * Certificates, CRLs, one-time challenges, failure records and events on PostgreSQL. What must
 * hold across nodes is decided by one statement or under a lock: a challenge is consumed by one
 * UPDATE ... WHERE used_at = 0 (of racing nodes exactly one changes the row), CRLs are stored
 * under an advisory lock that also refuses a number not above the highest, and a failure record
 * is read and written back under an advisory lock of its (scope, key).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/postgresql/pg_store.h"
#include "store/store_text.h"

#define CERT_COLS PG_CERT_COLS
#define FAILURE_COLS                                                                               \
    "scope, key, window_start, count, strikes, locked_until, first_at, last_at, total, expires_at"

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

static store_status nomem(pg_store *s)
{
    pg_set_error(s, "store: out of memory");
    return STORE_NOMEM;
}

/* ---- certificates ---- */

static int row_cert(const PGresult *r, int row, store_cert *c)
{
    memset(c, 0, sizeof(*c));
    pg_col_text(r, row, 0, c->serial, sizeof(c->serial));
    pg_col_text(r, row, 1, c->subject, sizeof(c->subject));
    pg_col_text(r, row, 2, c->issuer, sizeof(c->issuer));
    pg_col_text(r, row, 3, c->key_id, sizeof(c->key_id));
    pg_col_text(r, row, 4, c->transaction_id, sizeof(c->transaction_id));
    c->not_before = pg_col_int(r, row, 5);
    c->not_after = pg_col_int(r, row, 6);
    c->state = (cert_state)pg_col_int(r, row, 7);
    c->revoked_at = pg_col_int(r, row, 8);
    c->revocation_reason = (int)pg_col_int(r, row, 9);
    c->is_ca = (int)pg_col_int(r, row, 10);
    return pg_col_blob(r, row, 11, &c->der, &c->der_len);
}

static store_status fetch_cert(pg_store *s, const char *sql, const pg_params *p, store_cert *out)
{
    PGresult *r = NULL;
    store_cert c;
    store_status ret = pg_query(s, sql, p, &r);
    if (ret == STORE_OK && row_cert(r, 0, &c) != 0)
        ret = nomem(s);
    PQclear(r);
    if (ret == STORE_OK)
        *out = c;
    return ret;
}

void pg_cert_params(pg_params *p, const store_cert *c)
{
    pg_text(p, c->serial, sizeof(c->serial));
    pg_text(p, c->subject, sizeof(c->subject));
    pg_text(p, c->issuer, sizeof(c->issuer));
    pg_text(p, c->key_id, sizeof(c->key_id));
    pg_text(p, c->transaction_id, sizeof(c->transaction_id));
    pg_int(p, c->not_before);
    pg_int(p, c->not_after);
    pg_int(p, c->state);
    pg_int(p, c->revoked_at);
    pg_int(p, c->revocation_reason);
    pg_int(p, c->is_ca != 0);
    pg_blob(p, c->der, c->der_len);
}

store_status pg_insert_cert(pg_store *s, const store_cert *c)
{
    pg_params p = {0};
    pg_cert_params(&p, c);
    store_status ret = pg_run(s,
                              "INSERT INTO certs (" CERT_COLS ") VALUES"
                              " ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                              &p, NULL);
    if (ret == STORE_EXISTS)
        pg_set_error(s, "store: serial %.40s is taken", c->serial);
    return ret;
}

store_status pg_cert_get(store *base, const char *serial, store_cert *out)
{
    memset(out, 0, sizeof(*out));
    pg_params p = {0};
    pg_text(&p, serial, STORE_HEX_SERIAL);
    return fetch_cert(pg_impl(base), "SELECT " CERT_COLS " FROM certs WHERE serial = $1", &p, out);
}

static store_status each_cert(pg_store *s, PGresult *r, store_cert_fn fn, void *arg)
{
    for (int i = 0; i < PQntuples(r); i++) {
        store_cert c;
        if (row_cert(r, i, &c) != 0)
            return nomem(s);
        int stop = fn(arg, &c);
        store_cert_clear(&c);
        if (stop)
            break;
    }
    return STORE_OK;
}

store_status pg_cert_list(store *base, const cert_filter *filter, store_cert_fn fn, void *arg)
{
    pg_store *s = pg_impl(base);
    static const cert_filter any = {0};
    const cert_filter *f = filter != NULL ? filter : &any;
    if (fn == NULL) {
        pg_set_error(s, "store: list without a callback");
        return STORE_ERROR;
    }
    char *pattern = NULL;
    if (f->subject_like != NULL && f->subject_like[0] != '\0' &&
        (pattern = store_like_pattern(f->subject_like)) == NULL)
        return nomem(s);
    pg_params p = {0};
    pg_text(&p, pattern, 2 * STORE_TEXT + 3);
    pg_int(&p, f->only_valid != 0);
    pg_int(&p, f->now != 0 ? f->now : now_s());
    pg_int(&p, f->only_revoked != 0);
    if (f->limit > 0)
        pg_int(&p, f->limit);
    else
        pg_null_int(&p); /* LIMIT NULL: all */
    pg_text(&p, f->serial, STORE_HEX_SERIAL);
    pg_int(&p, f->only_expired != 0);
    pg_int(&p, f->expires_before);
    pg_int(&p, f->exclude_ca != 0);
    pg_text(&p, f->after_serial, STORE_HEX_SERIAL);
    PGresult *r = NULL;
    store_status ret = pg_run(s,
                              "SELECT " CERT_COLS " FROM certs"
                              " WHERE ($1 IS NULL OR subject ILIKE $1 ESCAPE '\\')"
                              " AND ($2 = 0 OR (state <> 1 AND not_after > $3))"
                              " AND ($4 = 0 OR state = 1)"
                              " AND ($6::text IS NULL OR serial = $6)"
                              " AND ($7 = 0 OR (state <> 1 AND not_after <= $3))"
                              " AND ($8 = 0 OR not_after <= $8)"
                              " AND ($9 = 0 OR is_ca = 0)"
                              " AND ($10::text IS NULL OR seq > (SELECT seq FROM certs"
                              "  WHERE serial = $10))"
                              " ORDER BY seq LIMIT $5",
                              &p, &r);
    free(pattern);
    if (ret == STORE_OK)
        ret = each_cert(s, r, fn, arg);
    PQclear(r);
    return ret;
}

store_status pg_cert_find_valid_by_subject(store *base, const char *subject, int64_t now,
                                           store_cert *out)
{
    memset(out, 0, sizeof(*out));
    pg_params p = {0};
    pg_text(&p, subject, STORE_TEXT);
    pg_int(&p, now);
    /* The newest of several: the one a renewal would replace. */
    return fetch_cert(pg_impl(base),
                      "SELECT " CERT_COLS " FROM certs"
                      " WHERE subject = $1 AND state <> 1 AND not_after > $2"
                      " ORDER BY not_after DESC, seq DESC LIMIT 1",
                      &p, out);
}

store_status pg_cert_set_state(store *base, const char *serial, cert_state state,
                               int64_t revoked_at, int reason)
{
    pg_store *s = pg_impl(base);
    pg_params p = {0};
    pg_int(&p, state);
    pg_int(&p, revoked_at);
    pg_int(&p, reason);
    pg_text(&p, serial, STORE_HEX_SERIAL);
    PGresult *r = NULL;
    store_status ret = pg_run(s,
                              "UPDATE certs SET state = $1, revoked_at = $2,"
                              " revocation_reason = $3 WHERE serial = $4",
                              &p, &r);
    if (ret == STORE_OK && pg_changed(r) == 0) {
        pg_set_error(s, "store: no certificate with serial %.40s", serial);
        ret = STORE_NOT_FOUND;
    }
    PQclear(r);
    return ret;
}

/* ---- CRLs ---- */

static const char sql_lock_crl[] = "SELECT pg_advisory_xact_lock(1396917585)";
_Static_assert(PG_LOCK_CRL == 1396917585LL, "the CRL lock in sql_lock_crl");

/* Under the lock, so the highest number read is the highest committed: a number that is not
 * above it is STORE_EXISTS, and numbers grow in the order CRLs are stored. */
static store_status crl_insert(pg_store *s, const store_crl *crl)
{
    pg_params p = {0};
    pg_int(&p, crl->number);
    pg_int(&p, crl->this_update);
    pg_int(&p, crl->next_update);
    pg_blob(&p, crl->der, crl->der_len);
    pg_text(&p, crl->issuer_key, sizeof(crl->issuer_key));
    PGresult *r = NULL;
    store_status ret = pg_run(s,
                              "INSERT INTO crls (number, this_update, next_update, der, issuer_key)"
                              " SELECT $1, $2, $3, $4, $5"
                              " WHERE $1 > (SELECT coalesce(max(number), 0) FROM crls)",
                              &p, &r);
    if (ret == STORE_OK && pg_changed(r) == 0) {
        pg_set_error(s, "store: CRL number %lld is not above the latest", (long long)crl->number);
        ret = STORE_EXISTS;
    }
    PQclear(r);
    return ret;
}

store_status pg_crl_add(store *base, const store_crl *crl)
{
    pg_store *s = pg_impl(base);
    store_status ret = pg_begin(s);
    if (ret == STORE_OK)
        ret = pg_run(s, sql_lock_crl, NULL, NULL);
    if (ret == STORE_OK)
        ret = crl_insert(s, crl);
    if (ret == STORE_OK)
        ret = pg_commit(s);
    if (ret != STORE_OK)
        pg_rollback(s);
    return ret;
}

store_status pg_crl_latest(store *base, const char *issuer_key, store_crl *out)
{
    pg_store *s = pg_impl(base);
    memset(out, 0, sizeof(*out));
    pg_params p = {0};
    pg_text(&p, issuer_key, STORE_KEY_ID);
    PGresult *r = NULL;
    store_status ret =
        pg_query(s,
                 "SELECT number, this_update, next_update, der, issuer_key FROM crls"
                 " WHERE $1::text IS NULL OR issuer_key = $1 ORDER BY number DESC LIMIT 1",
                 &p, &r);
    if (ret == STORE_OK) {
        out->number = pg_col_int(r, 0, 0);
        out->this_update = pg_col_int(r, 0, 1);
        out->next_update = pg_col_int(r, 0, 2);
        pg_col_text(r, 0, 4, out->issuer_key, sizeof(out->issuer_key));
        if (pg_col_blob(r, 0, 3, &out->der, &out->der_len) != 0)
            ret = nomem(s);
    }
    PQclear(r);
    if (ret != STORE_OK)
        store_crl_clear(out);
    return ret;
}

/* A session lock, not a transaction's: the claim outlives the statements of the signing, and
 * goes with the connection when a node dies holding it. */
static const char sql_claim_crl[] = "SELECT CASE WHEN pg_try_advisory_lock(1396917586)"
                                    " THEN 1::int8 ELSE 0::int8 END";
_Static_assert(PG_LOCK_CRL_ISSUE == 1396917586LL, "the claim in sql_claim_crl");

store_status pg_crl_claim(store *base)
{
    pg_store *s = pg_impl(base);
    PGresult *r = NULL;
    store_status ret = pg_query(s, sql_claim_crl, NULL, &r);
    if (ret == STORE_OK && pg_col_int(r, 0, 0) != 1) {
        pg_set_error(s, "store: another process is issuing the CRL");
        ret = STORE_BUSY;
    }
    PQclear(r);
    return ret;
}

void pg_crl_release(store *base)
{
    (void)pg_run(pg_impl(base), "SELECT pg_advisory_unlock(1396917586)", NULL, NULL);
}

/* ---- one-time challenges ---- */

store_status pg_challenge_add(store *base, const store_challenge *c)
{
    pg_params p = {0};
    pg_text(&p, c->hash, STORE_KEY_ID);
    pg_int(&p, c->created_at ? c->created_at : now_s());
    pg_int(&p, c->expires_at);
    pg_text(&p, c->subject_match, STORE_TEXT);
    return pg_run(pg_impl(base),
                  "INSERT INTO challenges (hash, created_at, expires_at, subject_match)"
                  " VALUES ($1, $2, $3, $4)",
                  &p, NULL);
}

store_status pg_challenge_get(store *base, const char *hash, store_challenge *out)
{
    memset(out, 0, sizeof(*out));
    pg_params p = {0};
    pg_text(&p, hash, STORE_KEY_ID);
    PGresult *r = NULL;
    store_status ret = pg_query(pg_impl(base),
                                "SELECT hash, created_at, expires_at, used_at, subject_match"
                                " FROM challenges WHERE hash = $1",
                                &p, &r);
    if (ret == STORE_OK) {
        pg_col_text(r, 0, 0, out->hash, sizeof(out->hash));
        out->created_at = pg_col_int(r, 0, 1);
        out->expires_at = pg_col_int(r, 0, 2);
        out->used_at = pg_col_int(r, 0, 3);
        pg_col_text(r, 0, 4, out->subject_match, sizeof(out->subject_match));
    }
    PQclear(r);
    return ret;
}

store_status pg_challenge_consume(store *base, const char *hash, int64_t now)
{
    pg_store *s = pg_impl(base);
    pg_params p = {0};
    pg_text(&p, hash, STORE_KEY_ID);
    pg_int(&p, now > 0 ? now : 1);
    /* A racer waits for the row, then finds used_at set and changes nothing. */
    PGresult *r = NULL;
    store_status ret = pg_run(s,
                              "UPDATE challenges SET used_at = $2"
                              " WHERE hash = $1 AND used_at = 0 AND expires_at > $2",
                              &p, &r);
    int changed = ret == STORE_OK ? pg_changed(r) : 0;
    PQclear(r);
    if (ret != STORE_OK || changed == 1)
        return ret;
    store_challenge c;
    ret = pg_challenge_get(base, hash, &c);
    return ret == STORE_OK ? STORE_CONFLICT : ret;
}

/* ---- failed attempts ---- */

static void row_failure(const PGresult *r, int row, store_failure *f)
{
    memset(f, 0, sizeof(*f));
    pg_col_text(r, row, 0, f->scope, sizeof(f->scope));
    pg_col_text(r, row, 1, f->key, sizeof(f->key));
    f->window_start = pg_col_int(r, row, 2);
    f->count = (int)pg_col_int(r, row, 3);
    f->strikes = (int)pg_col_int(r, row, 4);
    f->locked_until = pg_col_int(r, row, 5);
    f->first_at = pg_col_int(r, row, 6);
    f->last_at = pg_col_int(r, row, 7);
    f->total = pg_col_int(r, row, 8);
    f->expires_at = pg_col_int(r, row, 9);
}

store_status pg_failure_get(store *base, const char *scope, const char *key, int64_t now,
                            store_failure *out)
{
    memset(out, 0, sizeof(*out));
    pg_params p = {0};
    pg_text(&p, scope, sizeof(out->scope));
    pg_text(&p, key, sizeof(out->key));
    pg_int(&p, now);
    PGresult *r = NULL;
    store_status ret = pg_query(pg_impl(base),
                                "SELECT " FAILURE_COLS " FROM failures"
                                " WHERE scope = $1 AND key = $2 AND expires_at > $3",
                                &p, &r);
    if (ret == STORE_OK)
        row_failure(r, 0, out);
    PQclear(r);
    return ret;
}

/* Both records in one round trip; the last column (an int8, as pg_col_int reads) says which
 * pair a row is. */
store_status pg_failure_get_pair(store *base, const char *const scope[2], const char *const key[2],
                                 int64_t now, store_failure out[2])
{
    memset(out, 0, 2 * sizeof(*out));
    pg_params p = {0};
    for (int i = 0; i < 2; i++) {
        int wanted = key[i] != NULL && key[i][0] != '\0';
        pg_text(&p, wanted ? scope[i] : NULL, sizeof(out->scope));
        pg_text(&p, wanted ? key[i] : NULL, sizeof(out->key));
    }
    pg_int(&p, now);
    PGresult *r = NULL;
    store_status ret = pg_run(pg_impl(base),
                              "SELECT " FAILURE_COLS ", CASE WHEN scope = $3 AND key = $4"
                              " THEN 1 ELSE 0 END::bigint FROM failures"
                              " WHERE ((scope = $1 AND key = $2) OR (scope = $3 AND key = $4))"
                              " AND expires_at > $5",
                              &p, &r);
    for (int i = 0; ret == STORE_OK && i < PQntuples(r) && i < 2; i++)
        row_failure(r, i, &out[pg_col_int(r, i, 10) != 0]);
    PQclear(r);
    return ret;
}

static store_status failure_write(pg_store *s, const store_failure *f)
{
    pg_params p = {0};
    pg_text(&p, f->scope, sizeof(f->scope));
    pg_text(&p, f->key, sizeof(f->key));
    pg_int(&p, f->window_start);
    pg_int(&p, f->count);
    pg_int(&p, f->strikes);
    pg_int(&p, f->locked_until);
    pg_int(&p, f->first_at);
    pg_int(&p, f->last_at);
    pg_int(&p, f->total);
    pg_int(&p, f->expires_at);
    return pg_run(s,
                  "INSERT INTO failures (" FAILURE_COLS ")"
                  " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
                  " ON CONFLICT (scope, key) DO UPDATE SET"
                  " window_start = $3, count = $4, strikes = $5, locked_until = $6,"
                  " first_at = $7, last_at = $8, total = $9, expires_at = $10",
                  &p, NULL);
}

/* The record's lock (the two-int key space, apart from the schema and CRL locks), then a few
 * expired records: each failure forgets at most 16, so they never pile up. */
static store_status failure_lock_prune(pg_store *s, const char *scope, const char *key, int64_t now)
{
    pg_params p = {0};
    pg_text(&p, scope, sizeof(((store_failure *)0)->scope));
    pg_text(&p, key, STORE_TEXT);
    store_status ret =
        pg_run(s, "SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))", &p, NULL);
    pg_params q = {0};
    pg_int(&q, now);
    if (ret == STORE_OK)
        ret = pg_run(s,
                     "DELETE FROM failures WHERE id IN"
                     " (SELECT id FROM failures WHERE expires_at <= $1 LIMIT 16)",
                     &q, NULL);
    return ret;
}

store_status pg_failure_add(store *base, const char *scope, const char *key, int64_t now,
                            store_failure_step step, void *arg, store_failure *out)
{
    pg_store *s = pg_impl(base);
    memset(out, 0, sizeof(*out));
    store_status ret = pg_begin(s);
    if (ret == STORE_OK)
        ret = failure_lock_prune(s, scope, key, now);
    if (ret == STORE_OK)
        ret = pg_failure_get(base, scope, key, now, out);
    if (ret == STORE_NOT_FOUND) {
        memset(out, 0, sizeof(*out));
        pg_copy_text(out->scope, sizeof(out->scope), scope);
        pg_copy_text(out->key, sizeof(out->key), key);
        ret = STORE_OK;
    }
    if (ret == STORE_OK) {
        step(arg, out, now);
        ret = failure_write(s, out);
    }
    if (ret == STORE_OK)
        ret = pg_commit(s);
    if (ret != STORE_OK)
        pg_rollback(s);
    return ret;
}

store_status pg_failure_list(store *base, int64_t now, store_failure_fn fn, void *arg)
{
    pg_params p = {0};
    pg_int(&p, now);
    PGresult *r = NULL;
    store_status ret = pg_run(pg_impl(base),
                              "SELECT " FAILURE_COLS " FROM failures WHERE expires_at > $1"
                              " ORDER BY scope, key",
                              &p, &r);
    for (int i = 0; ret == STORE_OK && i < PQntuples(r); i++) {
        store_failure f;
        row_failure(r, i, &f);
        if (fn(arg, &f) != 0)
            break;
    }
    PQclear(r);
    return ret;
}

store_status pg_failure_clear(store *base, const char *key, int *cleared)
{
    pg_params p = {0};
    pg_text(&p, key, STORE_TEXT);
    PGresult *r = NULL;
    store_status ret =
        pg_run(pg_impl(base), "DELETE FROM failures WHERE $1::text IS NULL OR key = $1", &p, &r);
    if (cleared != NULL)
        *cleared = ret == STORE_OK ? pg_changed(r) : 0;
    PQclear(r);
    return ret;
}

/* ---- events ---- */

store_status pg_event_add(store *base, const char *kind, const char *ref, const char *detail)
{
    pg_params p = {0};
    pg_int(&p, now_s());
    pg_text(&p, kind, STORE_TEXT);
    pg_text(&p, ref, STORE_TEXT);
    pg_text(&p, detail, STORE_TEXT);
    return pg_run(pg_impl(base),
                  "INSERT INTO events (at, kind, ref, detail)"
                  " VALUES ($1, $2, coalesce($3, ''), coalesce($4, ''))",
                  &p, NULL);
}
