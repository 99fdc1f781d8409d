/* The SQLite backend of the store (store_sqlite.c): one connection. sqlite_backend.c makes it
 * the store front's "sqlite:" and "memory:" rows. */
#ifndef SCEPD_STORE_SQLITE_H
#define SCEPD_STORE_SQLITE_H

#include <stddef.h>
#include <stdint.h>

#include "store/sqlite/sqlite_flush.h"
#include "store/store.h"

/*
 * Opens the database file at path, or a private in-memory database for ":memory:". With
 * create, makes the file (mode 0600) when it is missing; without, refuses a missing file or an
 * empty database ("no store at PATH: run scepd init"). Sets WAL, foreign keys and a busy timeout,
 * creates or migrates the schema, and refuses a file that is not a scepd database or has a newer
 * schema. Without a flusher every commit is flushed (synchronous=FULL); with one (borrowed,
 * outliving the handle) commits are only written (synchronous=NORMAL) and flush() waits for the
 * flusher. On failure returns NULL and writes a reason into err (may be NULL).
 */
store *store_sqlite_open(const char *path, char *err, size_t errlen, sqlite_flusher *flusher,
                         int create);

/* Rows SQLite stepped through in full scans so far, over s's cached statements: what an
 * operation on the enrollment path must leave at 0 (a test's check that each finds its rows
 * by an index). */
uint64_t store_sqlite_scan_steps(store *s);

/* Whether the next commit on s is the first of an exchange the flusher expects
 * (sqlite_flusher_expect): it then counts as arrived. Cleared by that commit. */
void store_sqlite_expect(store *s, int expected);

/* The flusher's ticket for the last commit on s not yet handed out, and forgets it (0: none).
 * For the handles of store_shared.c, which each wait for their own commits. */
uint64_t store_sqlite_take_ticket(store *s);

/* `scepd backup`: a consistent copy of the scepd database at path in the new file dest (mode
 * 0600), with SQLite's online backup, which reads one snapshot while writers go on. 0, or -1
 * with a reason in err. */
int store_sqlite_backup(const char *path, const char *dest, char *err, size_t errlen);
/* Opens the store at path (which must exist), migrating its schema; *from is the version
 * found, *to the current one. 0, or -1 with err. */
int store_sqlite_migrate(const char *path, int64_t *from, int64_t *to, char *err, size_t errlen);

/* How long an operation waits for another connection's write lock before STORE_BUSY. */
#define STORE_SQLITE_BUSY_TIMEOUT_MS 5000
/* The largest CSR or certificate DER the store accepts (the front checks it). */
#define STORE_SQLITE_MAX_BLOB STORE_MAX_BLOB
/* The schema version this build writes. */
#define STORE_SCHEMA_VERSION 10
/* PRAGMA application_id of a scepd database: "SCEP". */
#define STORE_SQLITE_APPLICATION_ID 0x53434550

#endif
