/* A consistent copy of a store's database while it serves: SQLite's online backup API. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store/sqlite/store_sqlite.h"

static void db_err(char *err, size_t errlen, const char *what, sqlite3 *db, int rc)
{
    snprintf(err, errlen, "%s: %s", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

/* The copy is checked as any store is: a scepd database, not just any SQLite file. */
static int is_scepd_database(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    int ok = sqlite3_prepare_v2(db, "PRAGMA application_id", -1, &st, NULL) == SQLITE_OK &&
             sqlite3_step(st) == SQLITE_ROW &&
             sqlite3_column_int64(st, 0) == STORE_SQLITE_APPLICATION_ID;
    sqlite3_finalize(st);
    return ok;
}

/* The whole database in one step, so that the copy is one snapshot; a writer holding the lock
 * a moment makes it wait, never fail, until the busy timeout. */
static int copy(sqlite3 *src, sqlite3 *dst, char *err, size_t errlen)
{
    sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
    if (b == NULL) {
        db_err(err, errlen, "cannot start the backup", dst, 0);
        return -1;
    }
    int rc, waited_ms = 0;
    while ((rc = sqlite3_backup_step(b, -1)) == SQLITE_BUSY || rc == SQLITE_LOCKED) {
        if (waited_ms >= STORE_SQLITE_BUSY_TIMEOUT_MS)
            break;
        sqlite3_sleep(50);
        waited_ms += 50;
    }
    sqlite3_backup_finish(b);
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "the backup did not finish: %s", sqlite3_errstr(rc));
        return -1;
    }
    return 0;
}

int store_sqlite_backup(const char *path, const char *dest, char *err, size_t errlen)
{
    /* dest is made here, 0600, and must be new: a backup never writes over another file. */
    int fd = open(dest, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", dest, strerror(errno));
        return -1;
    }
    close(fd);
    sqlite3 *src = NULL, *dst = NULL;
    /* Read-write without create: a read-only connection cannot open a WAL database whose
     * shared-memory file is gone (the server stopped); the copy writes nothing to it. */
    int rc = sqlite3_open_v2(path, &src, SQLITE_OPEN_READWRITE, NULL);
    if (rc != SQLITE_OK)
        db_err(err, errlen, path, src, rc);
    else if (!is_scepd_database(src))
        snprintf(err, errlen, "%s: not a scepd store", path);
    else if ((rc = sqlite3_open_v2(dest, &dst, SQLITE_OPEN_READWRITE, NULL)) != SQLITE_OK)
        db_err(err, errlen, dest, dst, rc);
    else {
        sqlite3_busy_timeout(src, STORE_SQLITE_BUSY_TIMEOUT_MS);
        rc = copy(src, dst, err, errlen) == 0 ? SQLITE_OK : SQLITE_ERROR;
        if (rc == SQLITE_OK && !is_scepd_database(dst)) {
            snprintf(err, errlen, "the copy of %s is not a scepd store", path);
            rc = SQLITE_ERROR;
        }
    }
    int ok = rc == SQLITE_OK;
    sqlite3_close_v2(src);
    if (sqlite3_close_v2(dst) != SQLITE_OK && ok) {
        snprintf(err, errlen, "cannot finish writing %s", dest);
        ok = 0;
    }
    if (!ok)
        unlink(dest);
    return ok ? 0 : -1;
}
