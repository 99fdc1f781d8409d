/* One line per request: time, peer, operation, messageType, transactionID, outcome, failInfo,
 * milliseconds. Text or JSON. Never a secret: the challenge never reaches a log line. */
#ifndef SCEPD_LOG_H
#define SCEPD_LOG_H

#include <stdio.h>

#include "config/config.h"
#include "service/reply.h"

void log_request(FILE *out, log_format fmt, const char *peer, const char *method,
                 const char *operation, const reply *r, double ms);

/* A line for the operator (startup, shutdown, warnings). */
void log_info(FILE *out, log_format fmt, const char *text);
/* A condition the operator must fix ("error: " in text, key "error" in JSON). */
void log_error(FILE *out, log_format fmt, const char *text);

/* One issuance, renewal, revocation, approval or rejection: a line of its own, with key
 * "audit" in JSON and "audit" after "scepd:" in text. NULL or empty fields print as "-". */
typedef struct log_audit_event {
    const char *event; /* "issue", "renew", "revoke", "approve", "reject" */
    const char *subject, *serial, *sans;
    const char *peer;           /* the requester's address */
    const char *by;             /* who decided: "policy", a user name, "renewal" */
    const char *transaction_id; /* the SCEP transactionID */
    const char *detail;         /* a revocation's reason, a rejection's */
} log_audit_event;
void log_audit(FILE *out, log_format fmt, const log_audit_event *e);

/* log_file: stdout goes to path (appended to; created 0640) from now on. 0, or -1 with a
 * reason in err. */
int log_file_open(const char *path, char *err, size_t errlen);
/* After logrotate moved the file (SIGHUP): the same path again, a new file when it is gone. A
 * failure keeps the old file and says so on it. Nothing when no log_file is open. */
void log_file_reopen(log_format fmt);
/* For the admin subcommands, which are not the server: their audit lines go to the log_file
 * the configuration names (appended to), or to stderr when it names none. */
void log_audit_to_file(const char *path, log_format fmt, const log_audit_event *e);

#endif
