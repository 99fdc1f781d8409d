/* Whether the certificate store answers, for the whole server process: the first failure after
 * the store last answered is logged with its reason, later ones are not (one line for an
 * outage, not one per request: a client must not be able to fill the log), and /readyz says
 * the store is down until it answers again. Thread-safe. */
#ifndef SCEPD_STORE_HEALTH_H
#define SCEPD_STORE_HEALTH_H

#include <stddef.h>

#include "config/config.h"

/* The store failed (reason: its last_error()). Logs an error line when it was up. */
void store_health_failed(log_format fmt, const char *reason);
/* The store answered a request. */
void store_health_ok(void);
/* 1 and the reason of the failure in force, or 0 while the store answers. */
int store_health_problem(char *why, size_t whylen);

#endif
