/* What every request handler shares: configuration, the protocol context, the CA. Immutable
 * while serving, so worker threads read it without locks. */
#ifndef SCEPD_SERVER_H
#define SCEPD_SERVER_H

#include <time.h>

#include "scep/scep.h"

#include "ca.h"
#include "config.h"
#include "store.h"

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

typedef struct server {
    config cfg;
    scep_ctx *ctx;
    /* eras[0] until switch_at; then eras[1], where the prepared next CA is current. */
    era eras[2];
    int n_eras;
    time_t switch_at;
} server;

/* The era in force at now. */
const era *server_era(const server *srv, time_t now);

/* Loads the CA and builds the fixed answers. Returns 0, or -1 with a message. */
int server_init(server *srv, const config *cfg, char *err, size_t errlen);
void server_free(server *srv);

/* The answer to one HTTP request, and what the log line says about it. */
typedef struct reply {
    int http_status;
    const char *content_type;
    unsigned char *body; /* owned unless body_static */
    size_t body_len;
    int body_static;
    /* For the log line. */
    int msg_type;
    char transaction_id[SCEP_MAX_TRANSACTION_ID + 1];
    const char *outcome; /* "SUCCESS", "PENDING", "FAILURE", "ok", "error" */
    int fail_info;
    char detail[192];
} reply;

void reply_init(reply *r);
void reply_free(reply *r);
/* A plain-text HTTP error: status and a short sentence. */
void reply_text(reply *r, int status, const char *text);

/* Answers one SCEP operation. st is the calling thread's store handle. */
void service_handle(const server *srv, store *st, const scep_http_request *req, reply *out);

/* GET .../crl/ca.crl: the current CRL, DER; .../crl/prev.crl (previous = 1): the previous
 * generation's after a rollover; .../crl/KEYID.crl (key_id not NULL, 64 upper-case hex
 * digits): the CRL of the generation with that key id (crl_url's {ca}), current, previous or
 * next. */
void service_crl(const server *srv, store *st, int previous, const char *key_id, reply *out);

/* PKIOperation: decode, check, act, answer with a signed CertRep. */
void enroll_handle(const server *srv, const era *now, store *st, const unsigned char *der,
                   size_t len, reply *out);

#endif
