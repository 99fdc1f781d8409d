/* Audit lines as rows of the store's audit log, which every node sharing the store reads (the
 * admin API's GET /api/v1/audit); the log line stays the record when the store cannot write. */
#ifndef SCEPD_LOG_AUDIT_STORE_H
#define SCEPD_LOG_AUDIT_STORE_H

#include "log/log.h"
#include "store/store.h"

/* The row of e by actor ("token:alice", "cli:root", "policy"); st may be NULL. */
void log_audit_store(store *st, const char *actor, const log_audit_event *e);

#endif
