/* Schema 8 for the rows written before it (sqlite_csr_migrate.c). */
#ifndef SCEPD_SQLITE_CSR_MIGRATE_H
#define SCEPD_SQLITE_CSR_MIGRATE_H

#include <sqlite3.h>

/*
 * Gives each stored request without a csr_hash the hash of its CSR as stored (the DER that
 * came in), and removes the challengePassword from the stored CSR, with secure_delete on so
 * that the old bytes are overwritten, not left in free space. Runs inside the caller's
 * migration transaction. Returns an SQLite result code.
 */
int sqlite_csr_migrate(sqlite3 *db);

#endif
