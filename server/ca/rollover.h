/* CA rollover (the draft's "shadow CA", RFC 8894 section 2.4 GetNextCACert): the next CA
 * generation, prepared before the current one ends and current from its notBefore on. */
#ifndef SCEPD_ROLLOVER_H
#define SCEPD_ROLLOVER_H

#include <time.h>

#include "ca/ca.h"
#include "keys/keys.h"

/*
 * Prepares the next generation in c->dir: a new key of the current key's type, a self-signed
 * CA certificate with the same subject valid from switch_at for days (0: as long as the
 * current one), and in RA mode a new RA certificate from it; records it in the store. When
 * the previous switch has happened, first moves the files along (current -> prev-ca.*,
 * next -> current). Returns 0, or -1 with a reason.
 */
int rollover_prepare(const config *c, store *st, time_t switch_at, int days, char *err,
                     size_t errlen);

/* Said by `scepd rollover` and by the server while a next CA is prepared, when crl_url names
 * one fixed CRL: after the switch it would point the current CA's certificates at the next
 * CA's CRL. */
#define CRL_URL_ROLLOVER_WARNING                                                                   \
    "warning: crl_url has no {ca}: after the switch, certificates of the current CA would "        \
    "point at the next CA's CRL; put {ca} in it (docs/scepd.md, CRLs)"

/* Renames the file named from to the one named to (names as in c: relative to c->dir unless
 * absolute); a missing from is no error. 0, or -1 with a reason. */
int rollover_move_file(const config *c, const char *from, const char *to, char *err, size_t errlen);

/* The same for a key, through the key seam: the key named from is from now on the one named
 * to (ks->move). */
int rollover_move_key(keystore *ks, const config *c, const char *from, const char *to, char *err,
                      size_t errlen);

/* A new key of spec from the seam, kept at name (relative to c->dir unless absolute; encrypted
 * with pass unless NULL). Caller frees with k->ops->destroy. NULL with a reason. */
private_key *rollover_new_key(keystore *ks, const config *c, const char *spec, const char *name,
                              const char *pass, char *err, size_t errlen);

/* When the switch should happen by default: overlap_days before the current CA ends (and not
 * before now). */
time_t rollover_default_switch(const authority *ca, int overlap_days);

#endif
