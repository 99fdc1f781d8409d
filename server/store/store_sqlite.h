/* The SQLite backend of the store (store_sqlite.c). store_open() chooses it by URI. */
#ifndef SCEPD_STORE_SQLITE_H
#define SCEPD_STORE_SQLITE_H

#include <stddef.h>
#include <stdint.h>

#include "sqlite_flush.h"
#include "store.h"

/*
 * Opens the database file at path, creating it with mode 0600 when missing, or a private
 * in-memory database for ":memory:". Sets WAL, foreign keys and a busy timeout, creates or
 * migrates the schema, and refuses a file that is not a scepd database or has a newer schema.
 * Without a flusher every commit is flushed (synchronous=FULL); with one (borrowed, outliving
 * the handle) commits are only written (synchronous=NORMAL) and flush() waits for the
 * flusher. On failure returns NULL and writes a reason into err (may be NULL).
 */
store *store_sqlite_open(const char *path, char *err, size_t errlen, sqlite_flusher *flusher);

/* The flusher's ticket for the last commit on s not yet handed out, and forgets it (0: none).
 * For the handles of store_shared.c, which each wait for their own commits. */
uint64_t store_sqlite_take_ticket(store *s);

/* How long an operation waits for another connection's write lock before STORE_BUSY. */
#define STORE_SQLITE_BUSY_TIMEOUT_MS 5000
/* The largest CSR or certificate DER the store accepts. */
#define STORE_SQLITE_MAX_BLOB (1024u * 1024u)
/* PRAGMA application_id of a scepd database: "SCEP". */
#define STORE_SQLITE_APPLICATION_ID 0x53434550

#endif
