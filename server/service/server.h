/* What every request handler shares: configuration, the protocol context, the CA. Immutable
 * while serving, so worker threads read it without locks. */
#ifndef SCEPD_SERVER_H
#define SCEPD_SERVER_H

#include <time.h>

#include "scep/scep.h"

#include "ca/ca.h"
#include "config/config.h"
#include "profile/profile.h"
#include "service/reply.h"
#include "store/store.h"

/* Everything that depends on which CA generation is current, with the answers that never
 * change during it, built once. */
typedef struct era {
    authority ca;
    scep_caps caps;
    char *caps_text;
    size_t caps_len;
    unsigned char *ca_body; /* GetCACert */
    size_t ca_body_len;
    const char *ca_body_type;
    unsigned char *chain_body; /* GetCACertChain */
    size_t chain_body_len;
    unsigned char *next_body; /* GetNextCACert; NULL when no rollover is prepared */
    size_t next_body_len;
} era;

/* The CA of a profile's ca_dir (docs/profiles.md), shared by every profile that names it. */
typedef struct profile_ca {
    char dir[CONFIG_PATH];             /* ca_dir, resolved (realpath) */
    char profile[CONFIG_PROFILE_NAME]; /* the first profile that names it, for messages */
    config *cfg;                       /* dir's scepd.conf */
    era eras[2];
    int n_eras;
    time_t switch_at;
} profile_ca;

typedef struct server {
    config cfg;
    profile_set profiles; /* the default (cfg's) and scepd.conf's sections */
    scep_ctx *ctx;
    /* eras[0] until switch_at; then eras[1], where the prepared next CA is current. */
    era eras[2];
    int n_eras;
    time_t switch_at;
    profile_ca *pcas; /* one per distinct ca_dir of the profiles */
    size_t n_pcas;
    int *ca_of_profile; /* per profiles.items[i]: an index into pcas, or -1 for the server's */
} server;

/* The era in force at now. */
const era *server_era(const server *srv, time_t now);
/* The era in force at now of the CA profile p issues from (p NULL: the server's). */
const era *server_era_for(const server *srv, const profile *p, time_t now);
/* The era in force at now of eras[0..n-1], switching at switch_at. */
const era *eras_in_force(const era *eras, int n, time_t switch_at, time_t now);

/* Loads c's CA into eras (1, or 2 with a prepared rollover) and builds their answers. 0, or -1
 * with a message; eras_free() them either way. */
int eras_load(const server *srv, const config *c, era eras[2], int *n_eras, time_t *switch_at,
              char *err, size_t errlen);
void eras_free(era eras[2]);

/* The CAs of the profiles' ca_dir settings (profile_cas.c): loaded after srv's own. */
int profile_cas_load(server *srv, char *err, size_t errlen);
void profile_cas_free(server *srv);

/* Loads the CA and builds the fixed answers. Returns 0, or -1 with a message. */
int server_init(server *srv, const config *cfg, char *err, size_t errlen);
void server_free(server *srv);

/* srv's profile called name ("": the default), or NULL. A server not made by server_init has
 * only the default, built from its cfg into alone (profile_clear it when it is the answer). */
const profile *server_profile(const server *srv, const char *name, profile *alone);

/* Answers one SCEP operation for the profile out->profile names. st is the calling thread's
 * store handle. */
void service_handle(const server *srv, store *st, const scep_http_request *req, reply *out);

/* GET .../crl/ca.crl: the current CRL, DER; .../crl/prev.crl (previous = 1): the previous
 * generation's after a rollover; .../crl/KEYID.crl (key_id not NULL, 64 upper-case hex
 * digits): the CRL of the generation with that key id (crl_url's {ca}), current, previous or
 * next. */
void service_crl(const server *srv, store *st, int previous, const char *key_id, reply *out);

#endif
