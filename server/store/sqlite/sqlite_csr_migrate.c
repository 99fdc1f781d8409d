#include "store/sqlite/sqlite_csr_migrate.h"

#include <openssl/crypto.h>

#include "store/csr_at_rest.h"

/* One row: its hash, and its CSR without the challenge when it held one. */
static int migrate_row(sqlite3 *db, sqlite3_stmt *update, sqlite3_int64 id,
                       const unsigned char *der, size_t len)
{
    char hash[STORE_KEY_ID];
    unsigned char *kept = NULL;
    size_t kept_len = 0;
    store_sha256_hex(der, len, hash);
    if (hash[0] == '\0' || store_csr_strip_der(der, len, &kept, &kept_len) < 0)
        return SQLITE_NOMEM;
    sqlite3_reset(update);
    int rc = sqlite3_bind_text(update, 1, hash, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_blob(update, 2, kept ? kept : der, (int)(kept ? kept_len : len),
                               SQLITE_TRANSIENT);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(update, 3, id);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(update) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
    OPENSSL_free(kept);
    return rc;
}

static int migrate_rows(sqlite3 *db, sqlite3_stmt *select, sqlite3_stmt *update)
{
    int rc;
    while ((rc = sqlite3_step(select)) == SQLITE_ROW) {
        const void *der = sqlite3_column_blob(select, 1);
        int len = sqlite3_column_bytes(select, 1);
        if (der == NULL || len <= 0)
            continue;
        rc = migrate_row(db, update, sqlite3_column_int64(select, 0), der, (size_t)len);
        if (rc != SQLITE_OK)
            return rc;
    }
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int sqlite_csr_migrate(sqlite3 *db)
{
    sqlite3_stmt *select = NULL, *update = NULL;
    /* Left on for this connection (many builds have it on by default anyway). */
    int rc = sqlite3_exec(db, "PRAGMA secure_delete = ON", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, "SELECT id, csr FROM requests WHERE csr_hash = ''", -1, &select,
                                NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, "UPDATE requests SET csr_hash = ?1, csr = ?2 WHERE id = ?3", -1,
                                &update, NULL);
    if (rc == SQLITE_OK)
        rc = migrate_rows(db, select, update);
    sqlite3_finalize(select);
    sqlite3_finalize(update);
    return rc;
}
