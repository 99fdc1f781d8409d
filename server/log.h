/* One line per request: time, peer, operation, messageType, transactionID, outcome, failInfo,
 * milliseconds. Text or JSON. Never a secret: the challenge never reaches a log line. */
#ifndef SCEPD_LOG_H
#define SCEPD_LOG_H

#include <stdio.h>

#include "server.h"

void log_request(FILE *out, log_format fmt, const char *peer, const char *method,
                 const char *operation, const reply *r, double ms);

/* A line for the operator (startup, shutdown, warnings). */
void log_info(FILE *out, log_format fmt, const char *text);

#endif
