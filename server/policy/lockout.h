/*
 * Brute-force limits. Wrong challenges are counted per client address and per subject, bad
 * admin tokens per address, in the store, so that every scepd process sharing it agrees. Past
 * a limit the source is locked out: every attempt is refused, a right one too, for a time that
 * doubles at each further lockout. Only failures write; the checks are indexed reads.
 */
#ifndef SCEPD_LOCKOUT_H
#define SCEPD_LOCKOUT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config/config.h"
#include "store/store.h"

/* The scopes of store_failure records. */
#define LOCKOUT_ADDRESS "address" /* wrong challenges from a client address */
#define LOCKOUT_SUBJECT "subject" /* wrong challenges for a subject, from anywhere */
#define LOCKOUT_ADMIN "admin"     /* bad bearer tokens on the admin listener, by address */

#define LOCKOUT_KEY 96

typedef struct lockout_policy {
    int limit;  /* failures within window that lock the source out; 0: never */
    int window; /* seconds */
    int first;  /* the first lockout, seconds */
    int max;    /* the longest lockout, and how long a quiet source is remembered */
} lockout_policy;

/* The policy of scope under configuration c. */
lockout_policy lockout_policy_of(const config *c, const char *scope);

/* The store's failure step: one more failure at now. arg is a lockout_step_arg; locked says
 * whether this failure started a lockout. */
typedef struct lockout_step_arg {
    lockout_policy policy;
    int locked;
} lockout_step_arg;
void lockout_step(void *arg, store_failure *f, int64_t now);

/* How long the lockout of a record that starts its (strikes + 1)-th lockout lasts. */
long lockout_length(const lockout_policy *p, int strikes);

/* The key of a client address: an IPv4 address as text, an IPv6 address by its /64
 * ("2001:db8:1:2::/64": one host usually holds the whole prefix), an IPv4-mapped IPv6 address
 * as IPv4. Empty when peer is not an address. */
void lockout_address_key(const char *peer, char *key, size_t len);
void lockout_sockaddr_key(const struct sockaddr *sa, char *key, size_t len);

/* The key of a subject (RFC 4514 text): its most specific RDN, ASCII in lower case, so that a
 * guesser cannot start afresh by varying the rest of the name or the letters' case. */
void lockout_subject_key(const char *subject, char *key, size_t len);

/* Seconds until the lockout of (scope, key) ends at now: 0 when there is none (or key is
 * empty), -1 when the store cannot answer. */
long lockout_remaining(store *st, const char *scope, const char *key, int64_t now);

/* Records a failure of (scope, key) under c, what saying what failed ("challenges", "admin
 * tokens"); logs the start of a lockout. Returns the seconds the source is now locked out
 * (0: not locked), or -1 when the store could not record it. */
long lockout_fail(store *st, const config *c, const char *scope, const char *key, const char *what);

/* A log line for an attempt refused while (scope, key) is locked out: the first, then at most
 * one a minute for each source, with the number refused in between, so that an attacker
 * cannot fill the disk. */
void lockout_log_refusal(const config *c, const char *scope, const char *key, long retry_after);

/* For a challenge: whether the client address (peer, the HTTP layer's text; may be NULL) or the
 * request's subject is locked out. 1 with "too many failed attempts, retry after N s" in why,
 * -1 with a reason when the store cannot answer, 0 when neither is. Logs a refusal. */
int lockout_challenge_refused(const config *c, store *st, const char *peer, const char *subject,
                              char *why, size_t len);
/* Records a wrong challenge from peer (may be NULL) for subject. */
void lockout_challenge_failed(const config *c, store *st, const char *peer, const char *subject);

/* One record as a line of `scepd lockouts` and GET /lockouts (no newline):
 * SCOPE FAILURES TOTAL LOCKOUTS LOCKED-UNTIL LAST-FAILURE KEY. */
void lockout_format(const store_failure *f, int64_t now, char *buf, size_t len);
#define LOCKOUT_HEADER                                                                             \
    "SCOPE    FAILURES TOTAL LOCKOUTS LOCKED-UNTIL         LAST-FAILURE         KEY"

#endif
