/* scepd's configuration: DIR/scepd.conf ("key = value" lines), then command-line flags. */
#ifndef SCEPD_CONFIG_H
#define SCEPD_CONFIG_H

#include <stddef.h>

typedef enum approve_mode { APPROVE_AUTO = 0, APPROVE_MANUAL = 1 } approve_mode;
typedef enum log_format { LOG_TEXT = 0, LOG_JSON = 1 } log_format;

#define CONFIG_PATH 1024
#define CONFIG_SECRET 256

/* In crl_url: replaced by the issuing CA generation's key id (64 hex digits, as served at
 * /crl/KEYID.crl). */
#define CRL_URL_CA_MARK "{ca}"

typedef struct config {
    char dir[CONFIG_PATH];
    /* CA and RA files, relative to dir unless absolute. */
    char ca_cert[CONFIG_PATH];
    char ca_key[CONFIG_PATH];
    char ra_cert[CONFIG_PATH]; /* empty: CA mode */
    char ra_key[CONFIG_PATH];
    char store[CONFIG_PATH]; /* store URI, default sqlite:DIR/scepd.db */

    char listen[128]; /* host:port */
    char challenge[CONFIG_SECRET];
    char challenge_file[CONFIG_PATH];
    approve_mode approve;
    int legacy_algorithms;
    log_format log_format;

    /* Issuance profile. */
    int validity_days;
    int validity_seconds; /* when set, overrides validity_days: short-lived certificates */
    int min_rsa_bits;
    int allow_ec;
    int copy_san;
    int copy_key_usage;
    int copy_ext_key_usage;
    int unique_subject; /* refuse a new key for a subject with a valid certificate */

    /* Renewal (a request signed by a certificate this CA issued). The window opens at
     * renewal_window_pct of the lifetime, or renewal_window_days before expiry. */
    int renewal_window_pct;  /* 0 when given in days */
    int renewal_window_days; /* 0 when given as a share */
    int renewal_same_subject;
    int renewal_new_key;
    int renewal_revoke_old;
    approve_mode renewal_approve;

    /* Prepare the next CA by itself this many days before the current one expires, switching
     * at its expiry (Cisco's auto-rollover); 0: only `scepd rollover`. */
    int auto_rollover_days;

    /* The admin endpoint for minting one-time challenges: off when admin_listen is empty. */
    char admin_listen[128];
    char admin_token[CONFIG_SECRET];
    char admin_token_file[CONFIG_PATH];

    /* CRLs: validity of each CRL, and the URL published in issued certificates (empty: no
     * CRL Distribution Points extension). */
    int crl_days;
    char crl_url[512]; /* may hold CRL_URL_CA_MARK once */

    /* GetCACert in RA mode: include the CA (and chain) with the RA certificate. */
    int getcacert_include_ca;

    /* HTTP limits. */
    int threads; /* 0: one per core */
    size_t max_body;
    int max_connections;
    int request_timeout; /* seconds */
    long max_clock_skew; /* seconds; 0: do not check signingTime */
} config;

/* Defaults for dir (which may be NULL for none). */
void config_defaults(config *c, const char *dir);

/*
 * Reads path over c. Unknown keys and bad values are errors that name the line. Returns 0 on
 * success, -1 with a message in err.
 */
int config_load(config *c, const char *path, char *err, size_t errlen);

/* Sets one key (as in the file) to value; the same checks as config_load. */
int config_set(config *c, const char *key, const char *value, char *err, size_t errlen);

/* The store URI with a relative sqlite: path resolved against c->dir. */
void config_store_uri(const config *c, char *out, size_t outlen);

/* Resolves a file name from the config against c->dir into out. */
void config_path(const config *c, const char *name, char *out, size_t outlen);

/*
 * Reads the challenge from challenge_file into challenge when set (first line, trailing
 * newline removed). Returns 0, or -1 with a message.
 */
int config_read_challenge_file(config *c, char *err, size_t errlen);

/* Writes a commented config file for `scepd init`. Returns 0 or -1 with errno set. */
int config_write(const config *c, const char *path);

#endif
