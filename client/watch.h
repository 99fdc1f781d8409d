/* scep watch: an unattended daemon that keeps one certificate renewed, across CA rollovers.
 *
 * Files it keeps next to the user's (CERT, KEY and the CA directory DIR):
 *   KEY.new    a new key (--new-key) while its certificate is being asked for; 0600
 *   CERT.next  the shadow certificate from the next CA during a rollover, valid from the switch
 *   KEY.next   its key (a copy of KEY without --new-key); 0600
 *   DIR/next/  the next CA certificates (certs.pem, ca.pem, ra.pem, ra-sign.pem)
 * Every file is written atomically; CERT and KEY change only after a new certificate that the
 * CA signed for our key was obtained. A swap interrupted by a crash is finished at the next
 * start. */
#ifndef SCEP_CLIENT_WATCH_H
#define SCEP_CLIENT_WATCH_H

#include <time.h>

#include "cli.h"

typedef struct watch_config {
    common_opts c; /* url and ca_dir are required */
    const char *cert, *key;
    const char *challenge; /* may be NULL */
    const char *exec;      /* may be NULL: run by /bin/sh -c after each renewal and switch */
    const char *key_type;  /* for --new-key; NULL: the current key's type */
    int renew_at;          /* renew once this percentage of the lifetime has passed, 0..100 */
    int new_key;
    int check_interval; /* seconds between wake-ups, >= 1 */
    int poll_interval;  /* seconds between CertPolls while PENDING */
    int max_poll_time;  /* seconds of PENDING before the attempt counts as failed */
    int once;
} watch_config;

/* Runs until SIGTERM or SIGINT (then EXIT_OK); with w->once, one check, returning its exit
 * code. */
int watch_run(const watch_config *w);

/* ---- Shared by the watch_*.c files. ---- */

typedef struct watch_paths {
    char cert_next[4096], key_next[4096], key_new[4096], ca_next[4096];
} watch_paths;

/* 0, or -1 when a path does not fit. */
int watch_paths_init(const watch_config *w, watch_paths *p);

/* One line on stderr, prefixed with the UTC time. */
void watch_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* An ASN1_TIME as seconds since the epoch. */
time_t watch_time(const ASN1_TIME *t);
/* t as 2006-01-02T15:04:05Z in buf; returns buf. */
const char *watch_date(time_t t, char *buf, size_t len);

/* A certificate and its private key, checked to belong together. */
typedef struct watch_pair {
    X509 *cert;
    EVP_PKEY *key;
} watch_pair;

/* Returns an exit code (EXIT_OK), the reason in err. */
int watch_pair_load(const char *cert, const char *key, watch_pair *out, char *err, size_t errlen);
void watch_pair_free(watch_pair *p);

/* Finishes a swap that a crash interrupted: a KEY.new or KEY.next that belongs to CERT (while
 * KEY does not) is renamed over KEY. */
void watch_recover(const watch_config *w, const watch_paths *p);

/* The notAfter of the CA in dir/certs.pem, or 0 when it cannot be read. */
time_t watch_ca_not_after(const char *dir);

/* Saves certs in dir as `scep getca` does (certs.pem, ca.pem, ra.pem, ra-sign.pem). */
int watch_save_ca_dir(const char *dir, STACK_OF(X509) * certs, char *err, size_t errlen);

/* The switch: DIR/next over DIR, CERT.next over CERT, KEY.next over KEY. Each step can be
 * repeated, so an interrupted switch finishes when run again. 0 or -1 with err. */
int watch_switch(const watch_config *w, const watch_paths *p, char *err, size_t errlen);

typedef enum watch_outcome {
    WATCH_NOTHING, /* no rollover to prepare (a probe only) */
    WATCH_RENEWED, /* CERT (and KEY) replaced */
    WATCH_SHADOW,  /* CERT.next and KEY.next obtained from the next CA */
} watch_outcome;

/* One attempt. With probe_only, renews only when the server prepares a CA rollover (then the
 * caller has seen that cur ends with the current CA). Returns an exit code, the reason in err;
 * on failure CERT and KEY are unchanged. */
int watch_renew(const watch_config *w, const watch_paths *p, const watch_pair *cur, int probe_only,
                watch_outcome *outcome, char *err, size_t errlen);

#endif
