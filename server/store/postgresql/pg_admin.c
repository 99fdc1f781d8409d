/*
 * What the admin API keeps on PostgreSQL: one-time challenges listed and revoked, API tokens
 * (hashes only) and the audit log. Each operation is one statement.
 */
#include <string.h>
#include <time.h>

#include "store/postgresql/pg_store.h"

store_status pg_challenge_list(store *base, int64_t now, store_challenge_fn fn, void *arg)
{
    pg_params p = {0};
    pg_int(&p, now);
    PGresult *r = NULL;
    store_status ret = pg_run(pg_impl(base),
                              "SELECT hash, created_at, expires_at, used_at, subject_match"
                              " FROM challenges WHERE used_at = 0 AND expires_at > $1"
                              " ORDER BY created_at, hash",
                              &p, &r);
    for (int i = 0; ret == STORE_OK && i < PQntuples(r); i++) {
        store_challenge c = {0};
        pg_col_text(r, i, 0, c.hash, sizeof(c.hash));
        c.created_at = pg_col_int(r, i, 1);
        c.expires_at = pg_col_int(r, i, 2);
        c.used_at = pg_col_int(r, i, 3);
        pg_col_text(r, i, 4, c.subject_match, sizeof(c.subject_match));
        if (fn(arg, &c) != 0)
            break;
    }
    PQclear(r);
    return ret;
}

/* Runs a statement that changes rows: STORE_NOT_FOUND when it changed none. */
static store_status change(store *base, const char *sql, const pg_params *p)
{
    PGresult *r = NULL;
    store_status ret = pg_run(pg_impl(base), sql, p, &r);
    int changed = ret == STORE_OK ? pg_changed(r) : 0;
    PQclear(r);
    return ret == STORE_OK && changed == 0 ? STORE_NOT_FOUND : ret;
}

store_status pg_challenge_revoke(store *base, const char *id, int64_t now)
{
    pg_params p = {0};
    pg_text(&p, id, 17);
    pg_int(&p, now > 0 ? now : 1);
    return change(base,
                  "UPDATE challenges SET used_at = $2 WHERE substr(hash, 1, 16) = $1"
                  " AND used_at = 0",
                  &p);
}

store_status pg_token_add(store *base, const store_token *t)
{
    pg_params p = {0};
    pg_text(&p, t->name, sizeof(t->name));
    pg_text(&p, t->role, sizeof(t->role));
    pg_text(&p, t->hash, sizeof(t->hash));
    pg_int(&p, t->created_at ? t->created_at : (int64_t)time(NULL));
    store_status ret = pg_run(pg_impl(base),
                              "INSERT INTO admin_tokens (name, role, hash, created_at)"
                              " VALUES ($1, $2, $3, $4)",
                              &p, NULL);
    if (ret == STORE_EXISTS)
        pg_set_error(pg_impl(base), "store: a token named %.63s exists", t->name);
    return ret;
}

static void row_token(const PGresult *r, int row, store_token *t)
{
    memset(t, 0, sizeof(*t));
    pg_col_text(r, row, 0, t->name, sizeof(t->name));
    pg_col_text(r, row, 1, t->role, sizeof(t->role));
    pg_col_text(r, row, 2, t->hash, sizeof(t->hash));
    t->created_at = pg_col_int(r, row, 3);
}

store_status pg_token_list(store *base, store_token_fn fn, void *arg)
{
    PGresult *r = NULL;
    store_status ret =
        pg_run(pg_impl(base), "SELECT name, role, hash, created_at FROM admin_tokens ORDER BY name",
               NULL, &r);
    for (int i = 0; ret == STORE_OK && i < PQntuples(r); i++) {
        store_token t;
        row_token(r, i, &t);
        if (fn(arg, &t) != 0)
            break;
    }
    PQclear(r);
    return ret;
}

store_status pg_token_remove(store *base, const char *name)
{
    pg_params p = {0};
    pg_text(&p, name, STORE_TOKEN_NAME);
    return change(base, "DELETE FROM admin_tokens WHERE name = $1", &p);
}

store_status pg_token_find(store *base, const char *hash, store_token *out)
{
    memset(out, 0, sizeof(*out));
    pg_params p = {0};
    pg_text(&p, hash, STORE_KEY_ID);
    PGresult *r = NULL;
    store_status ret = pg_query(pg_impl(base),
                                "SELECT name, role, hash, created_at FROM admin_tokens"
                                " WHERE hash = $1",
                                &p, &r);
    if (ret == STORE_OK)
        row_token(r, 0, out);
    PQclear(r);
    return ret;
}

store_status pg_audit_add(store *base, const store_audit *a)
{
    pg_params p = {0};
    pg_int(&p, a->at ? a->at : (int64_t)time(NULL));
    pg_text(&p, a->actor, sizeof(a->actor));
    pg_text(&p, a->action, sizeof(a->action));
    pg_text(&p, a->subject, sizeof(a->subject));
    pg_text(&p, a->serial, sizeof(a->serial));
    pg_text(&p, a->transaction_id, sizeof(a->transaction_id));
    pg_text(&p, a->peer, sizeof(a->peer));
    pg_text(&p, a->detail, sizeof(a->detail));
    return pg_run(pg_impl(base),
                  "INSERT INTO audit (at, actor, action, subject, serial, transaction_id, peer,"
                  " detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                  &p, NULL);
}

static void row_audit(const PGresult *r, int row, store_audit *a)
{
    memset(a, 0, sizeof(*a));
    a->id = pg_col_int(r, row, 0);
    a->at = pg_col_int(r, row, 1);
    pg_col_text(r, row, 2, a->actor, sizeof(a->actor));
    pg_col_text(r, row, 3, a->action, sizeof(a->action));
    pg_col_text(r, row, 4, a->subject, sizeof(a->subject));
    pg_col_text(r, row, 5, a->serial, sizeof(a->serial));
    pg_col_text(r, row, 6, a->transaction_id, sizeof(a->transaction_id));
    pg_col_text(r, row, 7, a->peer, sizeof(a->peer));
    pg_col_text(r, row, 8, a->detail, sizeof(a->detail));
}

store_status pg_audit_list(store *base, const audit_filter *f, store_audit_fn fn, void *arg)
{
    pg_params p = {0};
    pg_text(&p, f->actor, STORE_ACTOR);
    pg_text(&p, f->action, 32);
    pg_text(&p, f->serial, STORE_HEX_SERIAL);
    pg_int(&p, f->since);
    pg_int(&p, f->until);
    pg_int(&p, f->before_id);
    if (f->limit > 0)
        pg_int(&p, f->limit);
    else
        pg_null_int(&p);
    PGresult *r = NULL;
    store_status ret = pg_run(pg_impl(base),
                              "SELECT id, at, actor, action, subject, serial, transaction_id,"
                              " peer, detail FROM audit WHERE ($1::text IS NULL OR actor = $1)"
                              " AND ($2::text IS NULL OR action = $2)"
                              " AND ($3::text IS NULL OR serial = $3) AND at >= $4"
                              " AND ($5 = 0 OR at <= $5) AND ($6 = 0 OR id < $6)"
                              " ORDER BY id DESC LIMIT $7",
                              &p, &r);
    for (int i = 0; ret == STORE_OK && i < PQntuples(r); i++) {
        store_audit a;
        row_audit(r, i, &a);
        if (fn(arg, &a) != 0)
            break;
    }
    PQclear(r);
    return ret;
}
