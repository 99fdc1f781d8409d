/* Whether the CA (and RA) can issue now, and the expiries an operator should hear about. */
#ifndef SCEPD_CA_HEALTH_H
#define SCEPD_CA_HEALTH_H

#include <stddef.h>
#include <stdint.h>

#include "ca/ca.h"

/* Days before the CA or RA expires from which the log and /readyz warn. */
#define CA_EXPIRY_WARNING_DAYS 30

/* What to call chain[i] in ca_cert_not_valid's messages: "CA" for the first, "CA chain (SUBJECT)"
 * above. */
void ca_cert_what(STACK_OF(X509) * chain, int i, char *buf, size_t len);

/* Why ca cannot issue at now: the CA, a certificate of the chain above it, or the RA is not
 * valid. 0 when it can, else -1 with the first reason in why. */
int ca_cannot_issue(const authority *ca, int64_t now, char *why, size_t len);

/* One line per problem ("error: ...") and per expiry within CA_EXPIRY_WARNING_DAYS
 * ("warning: ...") appended to the string in out. Returns the number of errors. */
int ca_health(const authority *ca, int64_t now, char *out, size_t len);
/* The same for the CA of a profile's ca_dir: each line names the profile. */
int ca_health_of(const authority *ca, const char *prof_name, int64_t now, char *out, size_t len);

/* After one of the CA's own key operations failed: whether its keys' tokens answer (0), or
 * why not (-1); 1 when a token came back: logged in again, its keys must be loaded again
 * (ca_load). Tells a token's failure, a 503, from a request's. */
int ca_keys_ready(char *why, size_t len);

#endif
