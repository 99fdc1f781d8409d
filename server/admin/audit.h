/* The audit lines of the admin subcommands (approve, reject, revoke): who ran them, to the
 * server's log_file when the configuration names one, else to stderr. */
#ifndef SCEPD_ADMIN_AUDIT_H
#define SCEPD_ADMIN_AUDIT_H

#include "config/config.h"
#include "log/log.h"
#include "store/store.h"

/* e's `by` is set here: the user running the command ("alice", or "root (sudo alice)"). The
 * line also becomes a row of st's audit log (st may be NULL), by "cli:USER". */
void admin_audit(const config *c, store *st, log_audit_event *e);

#endif
