/* The CA generations shared through the store: what the files of DIR hold (the current, next
 * and previous CA and RA certificates, and the names of their keys), mirrored into the store
 * whenever a command changes those files, so that every node on the store sees them. */
#ifndef SCEPD_CA_GENERATIONS_H
#define SCEPD_CA_GENERATIONS_H

#include <stddef.h>

#include "config/config.h"
#include "store/store.h"

/* Reads the generations' certificates from c's files into g (keys by name only: as the
 * configuration names them, relative to DIR, absolute, or pkcs11: URIs). Free with
 * store_ca_generations_clear. 0, or -1 with a reason (no current CA certificate). */
int ca_generations_from_files(const config *c, store_ca_generations *g, char *err, size_t errlen);

/* ca_generations_from_files, then the store's ca_generations_put: `init`, `rollover` and
 * `ra-renew` call it right after they changed the files. 0, or -1 with a reason. */
int ca_generations_record(const config *c, store *st, char *err, size_t errlen);

/* A server's side, for a generation another node recorded: checks that every key g names can
 * be read here (the same path on shared storage, or a token), then writes the certificates
 * of g whose files differ from it into DIR, and removes those g no longer has (keys are never
 * written or removed). *changed: whether a file changed. 0, or -1 with a reason that names
 * the key or file, with no file changed when a key is missing. */
int ca_generations_to_files(const config *c, const store_ca_generations *g, int *changed, char *err,
                            size_t errlen);

/* What readiness says while the store holds a generation this node refused ("" clears it).
 * Thread-safe. */
void ca_generations_refused(const char *why);
/* 1 with the reason in why while a refusal stands, else 0. */
int ca_generations_problem(char *why, size_t whylen);

#endif
