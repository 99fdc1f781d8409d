/* scepd's configuration: DIR/scepd.conf ("key = value" lines), then command-line flags. */
#ifndef SCEPD_CONFIG_H
#define SCEPD_CONFIG_H

#include <stddef.h>

typedef enum approve_mode { APPROVE_AUTO = 0, APPROVE_MANUAL = 1 } approve_mode;
typedef enum log_format { LOG_TEXT = 0, LOG_JSON = 1 } log_format;
/* reply_signer: which RA certificate signs a CertRep in RA mode (ca_reply_signer). */
typedef enum reply_signer {
    REPLY_SIGNER_RA = 0,     /* "ra": the RA (ra_cert) */
    REPLY_SIGNER_RA_SIGN,    /* "ra-sign": the RA signing certificate (ra_sign_cert) */
    REPLY_SIGNER_BY_REQUEST, /* "by-request": ra_sign_cert when the request is signed with EC */
} reply_signer;

#define CONFIG_PATH 1024
#define CONFIG_SECRET 256
#define CONFIG_RULE_TEXT 512 /* a rule's text: a regex or a list */
/* A profile's name in `[profile NAME]` and /scep/NAME: [a-z0-9_-]{1,32}. */
#define CONFIG_PROFILE_NAME 33
#define CONFIG_MAX_PROFILES 64

/* In crl_url: replaced by the issuing CA generation's key id (64 hex digits, as served at
 * /crl/KEYID.crl). */
#define CRL_URL_CA_MARK "{ca}"

/* The validation webhook (server/validate/, docs/profiles.md): off when url is empty. What a
 * validation needs and nothing else, so that a profile can hold one. */
typedef enum validate_failure {
    VALIDATE_FAIL_DENY = 0,
    VALIDATE_FAIL_PENDING = 1
} validate_failure;
typedef struct validate_settings {
    char url[512];                 /* https://..., or http:// to 127.0.0.1 or [::1] only */
    char secret_file[CONFIG_PATH]; /* the HMAC key, first line, mode 0600 */
    char ca_file[CONFIG_PATH];     /* the webhook's TLS CAs; empty: the system's */
    int timeout;                   /* seconds for the whole call, retry included */
    validate_failure failure;      /* the answer when the webhook cannot say */
    char secret[CONFIG_SECRET];    /* read from secret_file (config_read_validate_secret) */
    char ca_path[CONFIG_PATH];     /* ca_file resolved against dir */
} validate_settings;

typedef struct config {
    char dir[CONFIG_PATH];
    /* CA and RA files, relative to dir unless absolute. */
    char ca_cert[CONFIG_PATH];
    char ca_key[CONFIG_PATH];
    char ra_cert[CONFIG_PATH]; /* empty: CA mode */
    char ra_key[CONFIG_PATH];
    /* An RA certificate that only signs CertReps (keyUsage digitalSignature; its key may be EC);
     * empty: none. Which RA signs is reply_signer's. */
    char ra_sign_cert[CONFIG_PATH];
    char ra_sign_key[CONFIG_PATH];
    reply_signer reply_signer;
    char ca_chain[CONFIG_PATH];         /* empty: no certificates above the CA (or in ca_cert) */
    char ca_key_pass_file[CONFIG_PATH]; /* empty: the CA keys are not encrypted */
    char pkcs11_module[CONFIG_PATH];    /* the PKCS#11 module of pkcs11: keys (docs/hsm.md) */
    char pkcs11_pin_file[CONFIG_PATH];  /* the token's PIN, when the key's URI names none */
    char store[CONFIG_PATH];            /* store URI, default sqlite:DIR/scepd.db */
    char ca_dir[CONFIG_PATH]; /* a profile's own CA: a directory `scepd init` made; empty: dir's */

    char listen[128]; /* host:port */
    /* The HTTPS listener beside it: off when listen_tls is empty (docs/operations.md, TLS). */
    char listen_tls[128];
    char tls_cert[CONFIG_PATH]; /* its certificate chain, PEM, the server's first */
    char tls_key[CONFIG_PATH];  /* its key, PEM, unencrypted, mode 0600 */
    char challenge[CONFIG_SECRET];
    char challenge_file[CONFIG_PATH];
    /* `serve` started as root drops to this user after binding and loading the keys. */
    char user[64];
    approve_mode approve;
    int legacy_algorithms;
    log_format log_format;
    char log_file[CONFIG_PATH]; /* empty: stdout (the journal under systemd) */

    /* Issuance profile. */
    int validity_days;
    int validity_seconds; /* when set, overrides validity_days: short-lived certificates */
    int min_rsa_bits;
    int allow_ec;
    int copy_san;
    int copy_key_usage;
    int copy_ext_key_usage;
    int unique_subject; /* refuse a new key for a subject with a valid certificate */
    /* Refuse a self-signed signer whose key is not the CSR's (Apple's MDM client signs with a
     * temporary identity of its own; RFC 8894 section 2.3 says SHOULD). Default no. */
    int signer_key_must_match;
    /* Per-profile rules (docs/profiles.md); empty: none. Syntax checked by config_rules.h. */
    int challenge_none;        /* challenge = none: no challenge checked (manual approval) */
    char allowed_keys[256];    /* "rsa:2048-4096,ec:P-256"; empty: min_rsa_bits, allow_ec */
    char subject_require[128]; /* "CN,O": RDNs the subject must have */
    char subject_match[CONFIG_RULE_TEXT];        /* POSIX ERE on the RFC 2253 subject */
    char san_dns_domains[CONFIG_RULE_TEXT];      /* "example.com,.corp.example.com" */
    char san_email_domains[CONFIG_RULE_TEXT];    /* the same for the part after '@' */
    char san_uri_match[CONFIG_RULE_TEXT];        /* POSIX ERE on each URI SAN */
    char san_ip_ranges[CONFIG_RULE_TEXT];        /* "10.0.0.0/8,2001:db8::/32" */
    char key_usage[256];                         /* issued keyUsage instead of the default */
    char ext_key_usage[CONFIG_RULE_TEXT];        /* issued extendedKeyUsage instead */
    char certificate_policies[CONFIG_RULE_TEXT]; /* OIDs of the issued certificatePolicies */
    char san_template[CONFIG_RULE_TEXT];         /* "DNS:{cn}.example.com": SANs added */

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
    /* HTTPS only on admin_listen when both are set (docs/admin.md, TLS); with admin_tls_client_ca
     * a client certificate from that CA is required as well as the token. */
    char admin_tls_cert[CONFIG_PATH];
    char admin_tls_key[CONFIG_PATH];
    char admin_tls_client_ca[CONFIG_PATH];
    /* read or operate: such a client certificate alone (no token) is that role, "cert:CN". */
    char admin_client_cert_role[16];

    /* Brute force (server/policy/lockout.c): max_failures wrong challenges or bad admin tokens from
     * one address within failure_window seconds, or max_subject_failures wrong challenges for
     * one subject, lock the source out for `lockout` seconds; until it has been quiet for
     * max_lockout, each further failure locks it again for twice as long, up to max_lockout.
     * 0 failures: no limit. */
    int max_failures;
    int max_subject_failures;
    int failure_window;
    int lockout;
    int max_lockout;

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

    /* Hostile clients: connections per address (0: no limit), seconds to receive a whole
     * request, seconds a connection may live, seconds to drain at SIGTERM. */
    int max_connections_per_address;
    int request_deadline;
    int connection_lifetime;
    int shutdown_timeout;

    validate_settings validate;
} config;

/* Defaults for dir (which may be NULL for none). */
void config_defaults(config *c, const char *dir);

/*
 * Reads path over c. Unknown keys and bad values are errors that name the line. Returns 0 on
 * success, -1 with a message in err.
 */
int config_load(config *c, const char *path, char *err, size_t errlen);

/* Whether key may be set in a `[profile NAME]` section (the one table of per-profile keys). */
int config_is_profile_key(const char *key);

/* Whether name is a valid profile name ([a-z0-9_-]{1,32}). */
int config_profile_name_ok(const char *name);

/*
 * Calls fn for each `[profile NAME]` section of path, in the file's order, with base overlaid
 * by the section's lines (the top-level lines are base's already and skipped). line: the
 * section's header line. fn returns 0 or -1 with a message in err. A missing file has no
 * sections. Returns 0, or -1 with a message naming the file, the line and the profile.
 */
typedef int (*config_section_fn)(void *arg, const char *name, int line, config *c, char *err,
                                 size_t errlen);
int config_load_sections(const config *base, const char *path, config_section_fn fn, void *arg,
                         char *err, size_t errlen);

/* Sets one key (as in the file) to value; the same checks as config_load. */
int config_set(config *c, const char *key, const char *value, char *err, size_t errlen);

/* As config_set, for a value from the command line: a relative file name (or sqlite: path) is
 * made absolute against the current directory, where the operator typed it. */
int config_set_arg(config *c, const char *key, const char *value, char *err, size_t errlen);

/*
 * For a reload: fresh keeps old's value of each setting a running server cannot change
 * (listen, store, the admin endpoint). Lists, comma-separated by key, the settings that
 * changed and apply (applied) and those kept until a restart (kept).
 */
void config_reload_changes(config *fresh, const config *old, char *applied, size_t applied_len,
                           char *kept, size_t kept_len);

/* Key and token files (ca_key, ra_key, challenge_file, admin_token_file) must not be readable
 * by group or others, nor be symbolic links. Returns 0, or -1 naming the first such file. */
int config_check_secret_files(const config *c, char *err, size_t errlen);

/* A whole number from min to max: the whole text, digits only after an optional sign. 0 or -1. */
int config_parse_long(const char *text, long min, long max, long *out);

/* The store URI with a relative sqlite: path resolved against c->dir. */
void config_store_uri(const config *c, char *out, size_t outlen);

/* Resolves a file name from the config against c->dir into out. */
void config_path(const config *c, const char *name, char *out, size_t outlen);

/*
 * Reads the challenge from challenge_file into challenge when set (first line, trailing
 * newline removed). Returns 0, or -1 with a message.
 */
int config_read_challenge_file(config *c, char *err, size_t errlen);

/* Reads validate_secret_file into validate.secret and resolves validate_ca_file when
 * validate_url is set. Returns 0, or -1 with a message. */
int config_read_validate_secret(config *c, char *err, size_t errlen);

/* Writes a commented config file for `scepd init`. Returns 0 or -1 with errno set. */
int config_write(const config *c, const char *path);

#endif
