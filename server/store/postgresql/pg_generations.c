/* The CA generations in PostgreSQL: the rows every node serves, replaced whole in one
 * transaction, and the counter a node polls to notice another node's rollover. */
#include <string.h>

#include "store/postgresql/pg_store.h"

static const char sql_counter[] = "SELECT counter FROM ca_generation_counter";
/* One snapshot for the counter and its rows; read only, so its COMMIT writes nothing and never
 * waits for a synchronous standby. */
static const char sql_begin_snapshot[] = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
static const char sql_bump[] =
    "UPDATE ca_generation_counter SET counter = counter + 1 RETURNING counter";
static const char sql_clear[] = "DELETE FROM ca_generations";
static const char sql_insert[] =
    "INSERT INTO ca_generations (role, ca_der, ra_der, ca_key, ra_key, switch_at)"
    " VALUES ($1, nullif($2, ''::bytea), nullif($3, ''::bytea), $4, $5, $6)";
static const char sql_rows[] =
    "SELECT role, ca_der, ra_der, ca_key, ra_key, switch_at FROM ca_generations";

store_status pg_ca_generations_counter(store *base, int64_t *counter)
{
    pg_store *s = pg_impl(base);
    PGresult *r = NULL;
    *counter = 0;
    store_status ret = pg_query(s, sql_counter, NULL, &r);
    if (ret == STORE_OK)
        *counter = pg_col_int(r, 0, 0);
    PQclear(r);
    return ret;
}

static store_status insert(pg_store *s, int role, const store_ca_generation *g)
{
    pg_params p = {0};
    pg_int(&p, role);
    pg_blob(&p, g->ca_der, g->ca_len);
    pg_blob(&p, g->ra_der, g->ra_len);
    pg_text(&p, g->ca_key, sizeof(g->ca_key));
    pg_text(&p, g->ra_key, sizeof(g->ra_key));
    pg_int(&p, g->switch_at);
    return pg_run(s, sql_insert, &p, NULL);
}

store_status pg_ca_generations_put(store *base, const store_ca_generations *g, int64_t *counter)
{
    pg_store *s = pg_impl(base);
    PGresult *r = NULL;
    int64_t now_counter = 0;
    /* The counter's row first: its lock orders this put against every other and every read. */
    store_status ret = pg_begin(s);
    if (ret == STORE_OK)
        ret = pg_query(s, sql_bump, NULL, &r);
    if (ret == STORE_OK)
        now_counter = pg_col_int(r, 0, 0);
    PQclear(r);
    if (ret == STORE_OK)
        ret = pg_run(s, sql_clear, NULL, NULL);
    for (int i = 0; ret == STORE_OK && i < STORE_CA_ROLES; i++)
        if (g->role[i].ca_der != NULL || g->role[i].ra_der != NULL)
            ret = insert(s, i, &g->role[i]);
    if (ret == STORE_OK)
        ret = pg_commit(s);
    if (ret != STORE_OK)
        pg_rollback(s);
    if (counter != NULL)
        *counter = ret == STORE_OK ? now_counter : 0;
    return ret;
}

static store_status read_row(pg_store *s, const PGresult *r, int row, store_ca_generations *out)
{
    int64_t role = pg_col_int(r, row, 0);
    if (role < 0 || role >= STORE_CA_ROLES) {
        pg_set_error(s, "store: a CA generation of unknown role %lld", (long long)role);
        return STORE_ERROR;
    }
    store_ca_generation *g = &out->role[role];
    if (pg_col_blob(r, row, 1, &g->ca_der, &g->ca_len) != 0 ||
        pg_col_blob(r, row, 2, &g->ra_der, &g->ra_len) != 0) {
        pg_set_error(s, "store: out of memory");
        return STORE_NOMEM;
    }
    pg_col_text(r, row, 3, g->ca_key, sizeof(g->ca_key));
    pg_col_text(r, row, 4, g->ra_key, sizeof(g->ra_key));
    g->switch_at = pg_col_int(r, row, 5);
    return STORE_OK;
}

/* The counter and the rows it counts, from one snapshot. */
store_status pg_ca_generations_get(store *base, store_ca_generations *out)
{
    pg_store *s = pg_impl(base);
    PGresult *r = NULL;
    store_status ret = pg_run(s, sql_begin_snapshot, NULL, NULL);
    if (ret == STORE_OK)
        ret = pg_query(s, sql_counter, NULL, &r);
    if (ret == STORE_OK)
        out->counter = pg_col_int(r, 0, 0);
    PQclear(r);
    r = NULL;
    if (ret == STORE_OK)
        ret = pg_run(s, sql_rows, NULL, &r);
    for (int i = 0; ret == STORE_OK && i < PQntuples(r); i++)
        ret = read_row(s, r, i, out);
    PQclear(r);
    if (ret == STORE_OK)
        ret = pg_commit(s);
    if (ret != STORE_OK) {
        pg_rollback(s);
        store_ca_generations_clear(out);
    }
    return ret;
}
