#include "config/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "config/config_rules.h"
#include "os/file_atomic.h"

void config_defaults(config *c, const char *dir)
{
    memset(c, 0, sizeof(*c));
    if (dir != NULL)
        snprintf(c->dir, sizeof(c->dir), "%s", dir);
    snprintf(c->ca_cert, sizeof(c->ca_cert), "ca.pem");
    snprintf(c->ca_key, sizeof(c->ca_key), "ca.key");
    snprintf(c->store, sizeof(c->store), "sqlite:scepd.db");
    snprintf(c->listen, sizeof(c->listen), "127.0.0.1:8080");
    c->approve = APPROVE_AUTO;
    c->validity_days = 365;
    c->min_rsa_bits = 2048;
    c->allow_ec = 1;
    c->copy_san = 1;
    c->copy_key_usage = 1;
    c->copy_ext_key_usage = 1;
    c->unique_subject = 0;
    c->getcacert_include_ca = 1;
    c->renewal_window_pct = 50;
    c->crl_days = 7;
    c->max_failures = 20;
    c->max_subject_failures = 20;
    c->failure_window = 60;
    c->lockout = 60;
    c->max_lockout = 3600;
    c->renewal_same_subject = 1;
    c->renewal_approve = APPROVE_AUTO;
    c->max_body = 256 * 1024;
    c->max_connections = 512;
    c->request_timeout = 30;
    c->max_connections_per_address = 64;
    c->request_deadline = 20;
    c->connection_lifetime = 300;
    c->shutdown_timeout = 10;
    c->max_clock_skew = 0;
    c->validate.timeout = 5;
}

static int parse_bool(const char *v, int *out)
{
    if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcmp(v, "1") ||
        !strcasecmp(v, "on")) {
        *out = 1;
        return 0;
    }
    if (!strcasecmp(v, "no") || !strcasecmp(v, "false") || !strcmp(v, "0") ||
        !strcasecmp(v, "off")) {
        *out = 0;
        return 0;
    }
    return -1;
}

int config_parse_long(const char *v, long min, long max, long *out)
{
    char *end = NULL;
    errno = 0;
    long n = isdigit((unsigned char)v[0]) || v[0] == '-' ? strtol(v, &end, 10) : 0;
    if (errno != 0 || end == NULL || end == v || *end != '\0' || n < min || n > max)
        return -1;
    *out = n;
    return 0;
}

/* "50%": from half the lifetime ("0%": any time); "30d": from 30 days before expiry. */
static int parse_window(config *c, const char *v)
{
    size_t n = strlen(v);
    char number[16];
    long value = 0;
    if (n < 2 || n > sizeof(number))
        return -1;
    memcpy(number, v, n - 1);
    number[n - 1] = '\0';
    if (v[n - 1] == '%' && config_parse_long(number, 0, 100, &value) == 0) {
        c->renewal_window_pct = (int)value;
        c->renewal_window_days = 0;
        return 0;
    }
    if (v[n - 1] == 'd' && config_parse_long(number, 1, 36500, &value) == 0) {
        c->renewal_window_days = (int)value;
        c->renewal_window_pct = 0;
        return 0;
    }
    return -1;
}

static int set_text(char *field, size_t size, const char *value)
{
    size_t n = strlen(value);
    if (n >= size)
        return -1;
    memcpy(field, value, n + 1);
    return 0;
}

/* A URL that goes into certificates as it is: no spaces, control characters or commas (the
 * extension syntax would split it), and braces only in one "{ca}". */
static int set_crl_url(config *c, const char *value)
{
    const char *mark = strstr(value, CRL_URL_CA_MARK);
    if (mark != NULL && strstr(mark + 1, CRL_URL_CA_MARK) != NULL)
        return -1;
    for (const char *p = value; *p != '\0'; p++) {
        int in_mark = mark != NULL && p >= mark && p < mark + strlen(CRL_URL_CA_MARK);
        if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == ',' ||
            ((*p == '{' || *p == '}') && !in_mark))
            return -1;
    }
    return set_text(c->crl_url, sizeof(c->crl_url), value);
}

static const char *role_problem(const char *value)
{
    return strcmp(value, "read") == 0 || strcmp(value, "operate") == 0 ? NULL : "read or operate";
}

/* A numeric host (IPv4, [IPv6], or empty for every address) and a port from 0 (any free
 * port) to 65535: getaddrinfo() would take 99999 as 34463. NULL, or why not. */
static const char *listen_problem(const char *value)
{
    const char *colon = strrchr(value, ':');
    if (colon == NULL)
        return "expected HOST:PORT, for example 127.0.0.1:8080 or [::1]:8080";
    const char *port = colon + 1;
    size_t digits = strspn(port, "0123456789");
    if (digits == 0 || port[digits] != '\0' || digits > 5 || strtol(port, NULL, 10) > 65535)
        return "the port must be a number from 0 to 65535";
    char host[INET6_ADDRSTRLEN + 2];
    size_t n = (size_t)(colon - value);
    if (n >= sizeof(host))
        return "the host must be a numeric IPv4 or [IPv6] address";
    memcpy(host, value, n);
    host[n] = '\0';
    unsigned char addr[16];
    if (n == 0 || inet_pton(AF_INET, host, addr) == 1)
        return NULL;
    if (n > 2 && host[0] == '[' && host[n - 1] == ']') {
        host[n - 1] = '\0';
        if (inet_pton(AF_INET6, host + 1, addr) == 1)
            return NULL;
    }
    return "the host must be a numeric IPv4 or [IPv6] address";
}

/* Whether host, as libcurl parsed it, is a loopback address. */
static int loopback_host(const char *host)
{
    return strcmp(host, "127.0.0.1") == 0 || strcmp(host, "[::1]") == 0;
}

/* https://HOST..., or http:// to a loopback address (nothing on the wire to read or change);
 * no user name or password in it (the secret is the HMAC key). Empty: no webhook. */
static int set_validate_url(config *c, const char *value)
{
    if (value[0] == '\0')
        return set_text(c->validate.url, sizeof(c->validate.url), value);
    for (const char *p = value; *p != '\0'; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return -1;
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *user = NULL;
    int ok = u != NULL && curl_url_set(u, CURLUPART_URL, value, 0) == CURLUE_OK &&
             curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
             curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
             curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_NO_USER;
    ok = ok &&
         (strcmp(scheme, "https") == 0 || (strcmp(scheme, "http") == 0 && loopback_host(host)));
    curl_free(scheme);
    curl_free(host);
    curl_free(user);
    curl_url_cleanup(u);
    return ok ? set_text(c->validate.url, sizeof(c->validate.url), value) : -1;
}

static const char *set_listen(char *field, size_t size, const char *value, int may_be_empty)
{
    const char *why = may_be_empty && value[0] == '\0' ? NULL : listen_problem(value);
    if (why == NULL && set_text(field, size, value) != 0)
        why = "too long";
    return why;
}

typedef enum kind {
    K_LISTEN,
    K_TEXT,
    K_BOOL,
    K_INT,
    K_SIZE,
    K_LONG,
    K_APPROVE,
    K_LOGFMT,
    K_REPLY_SIGNER,
    K_WINDOW,
    K_CRL_URL,
    K_VALIDATE_URL,
    K_VALIDATE_FAILURE,
    K_CHALLENGE
} kind;

/* Row flags. */
enum {
    OPT_PATH = 1,    /* a file name: relative to the directory in the file, to the cwd in flags */
    OPT_RESTART = 2, /* a running server keeps its old value on reload */
    OPT_SECRET = 4,  /* a key or token file: not readable by group or others */
};

typedef struct option_row {
    const char *key;
    kind kind;
    size_t offset;
    size_t size; /* the field's size */
    long min, max;
    unsigned flags;
    const char *(*check)(const char *value); /* a K_TEXT value's syntax: NULL or the problem */
} option_row;

#define FIELD(f) offsetof(config, f), sizeof(((config *)0)->f)
#define TEXT(k, f)                                                                                 \
    {                                                                                              \
        k, K_TEXT, FIELD(f), 0, 0, 0                                                               \
    }
#define FILE_NAME(k, f, flags)                                                                     \
    {                                                                                              \
        k, K_TEXT, FIELD(f), 0, 0, OPT_PATH | (flags)                                              \
    }
#define BOOL(k, f)                                                                                 \
    {                                                                                              \
        k, K_BOOL, FIELD(f), 0, 1, 0                                                               \
    }
/* A per-profile rule (config_rules.h); empty: no rule. */
#define RULE(k, f, check)                                                                          \
    {                                                                                              \
        k, K_TEXT, FIELD(f), 0, 0, 0, check                                                        \
    }
#define INT(k, f, lo, hi)                                                                          \
    {                                                                                              \
        k, K_INT, FIELD(f), lo, hi, 0                                                              \
    }

static const option_row options[] = {
    FILE_NAME("ca_cert", ca_cert, 0),
    FILE_NAME("ca_key", ca_key, OPT_SECRET),
    FILE_NAME("ra_cert", ra_cert, 0),
    FILE_NAME("ra_key", ra_key, OPT_SECRET),
    FILE_NAME("ra_sign_cert", ra_sign_cert, 0),
    FILE_NAME("ra_sign_key", ra_sign_key, OPT_SECRET),
    {"reply_signer", K_REPLY_SIGNER, FIELD(reply_signer), 0, 0, 0},
    FILE_NAME("ca_chain", ca_chain, 0),
    FILE_NAME("ca_dir", ca_dir, 0),
    FILE_NAME("ca_key_pass_file", ca_key_pass_file, OPT_SECRET),
    {"pkcs11_module", K_TEXT, FIELD(pkcs11_module), 0, 0, OPT_RESTART}, /* dlopen finds it */
    FILE_NAME("pkcs11_pin_file", pkcs11_pin_file, OPT_RESTART | OPT_SECRET),
    {"store", K_TEXT, FIELD(store), 0, 0, OPT_PATH | OPT_RESTART},
    {"listen", K_LISTEN, FIELD(listen), 0, 0, OPT_RESTART},
    {"listen_tls", K_LISTEN, FIELD(listen_tls), 0, 0, OPT_RESTART},
    FILE_NAME("tls_cert", tls_cert, 0),
    FILE_NAME("tls_key", tls_key, OPT_SECRET),
    {"challenge", K_CHALLENGE, FIELD(challenge), 0, 0, 0},
    FILE_NAME("challenge_file", challenge_file, OPT_SECRET),
    {"user", K_TEXT, FIELD(user), 0, 0, OPT_RESTART},
    {"approve", K_APPROVE, FIELD(approve), 0, 0, 0},
    {"renewal_approve", K_APPROVE, FIELD(renewal_approve), 0, 0, 0},
    /* renewal_window_pct and renewal_window_days, side by side */
    {"renewal_window", K_WINDOW, offsetof(config, renewal_window_pct), 2 * sizeof(int), 0, 0, 0},
    BOOL("renewal_same_subject", renewal_same_subject),
    BOOL("renewal_new_key", renewal_new_key),
    BOOL("renewal_revoke_old", renewal_revoke_old),
    BOOL("legacy_algorithms", legacy_algorithms),
    {"log_format", K_LOGFMT, FIELD(log_format), 0, 0, 0},
    FILE_NAME("log_file", log_file, OPT_RESTART),
    INT("validity_days", validity_days, 1, 36500),
    INT("validity_seconds", validity_seconds, 0, 100L * 365 * 86400),
    INT("min_rsa_bits", min_rsa_bits, 1024, 16384),
    BOOL("allow_ec", allow_ec),
    BOOL("copy_san", copy_san),
    BOOL("copy_key_usage", copy_key_usage),
    BOOL("copy_ext_key_usage", copy_ext_key_usage),
    BOOL("unique_subject", unique_subject),
    BOOL("signer_key_must_match", signer_key_must_match),
    BOOL("getcacert_include_ca", getcacert_include_ca),
    INT("crl_days", crl_days, 1, 3650),
    INT("auto_rollover_days", auto_rollover_days, 0, 3650),
    {"admin_listen", K_LISTEN, FIELD(admin_listen), 0, 0, OPT_RESTART},
    {"admin_token", K_TEXT, FIELD(admin_token), 0, 0, OPT_RESTART},
    FILE_NAME("admin_token_file", admin_token_file, OPT_RESTART | OPT_SECRET),
    FILE_NAME("admin_tls_cert", admin_tls_cert, OPT_RESTART),
    FILE_NAME("admin_tls_key", admin_tls_key, OPT_RESTART | OPT_SECRET),
    FILE_NAME("admin_tls_client_ca", admin_tls_client_ca, OPT_RESTART),
    {"admin_client_cert_role", K_TEXT, FIELD(admin_client_cert_role), 0, 0, OPT_RESTART,
     role_problem},
    INT("max_failures", max_failures, 0, 1000000),
    INT("max_subject_failures", max_subject_failures, 0, 1000000),
    INT("failure_window", failure_window, 1, 86400),
    INT("lockout", lockout, 1, 86400),
    INT("max_lockout", max_lockout, 1, 30 * 86400),
    {"crl_url", K_CRL_URL, FIELD(crl_url), 0, 0, 0},
    INT("threads", threads, 0, 256),
    {"max_body", K_SIZE, FIELD(max_body), 1024, 16 * 1024 * 1024, 0},
    INT("max_connections", max_connections, 1, 100000),
    INT("request_timeout", request_timeout, 1, 3600),
    INT("max_connections_per_address", max_connections_per_address, 0, 100000),
    INT("request_deadline", request_deadline, 1, 3600),
    INT("connection_lifetime", connection_lifetime, 1, 86400),
    INT("shutdown_timeout", shutdown_timeout, 1, 3600),
    {"max_clock_skew", K_LONG, FIELD(max_clock_skew), 0, 86400 * 365, 0},
    {"validate_url", K_VALIDATE_URL, FIELD(validate.url), 0, 0, 0},
    FILE_NAME("validate_secret_file", validate.secret_file, OPT_SECRET),
    FILE_NAME("validate_ca_file", validate.ca_file, 0),
    INT("validate_timeout", validate.timeout, 1, 60),
    {"validate_failure", K_VALIDATE_FAILURE, FIELD(validate.failure), 0, 0, 0},
    RULE("allowed_keys", allowed_keys, config_check_keys),
    RULE("subject_require", subject_require, config_check_rdns),
    RULE("subject_match", subject_match, config_check_regex),
    RULE("san_dns_domains", san_dns_domains, config_check_domains),
    RULE("san_email_domains", san_email_domains, config_check_domains),
    RULE("san_uri_match", san_uri_match, config_check_regex),
    RULE("san_ip_ranges", san_ip_ranges, config_check_ip_ranges),
    RULE("key_usage", key_usage, config_check_key_usage),
    RULE("ext_key_usage", ext_key_usage, config_check_ext_key_usage),
    RULE("certificate_policies", certificate_policies, config_check_policies),
    RULE("san_template", san_template, config_check_san_template),
};

/* The keys a `[profile NAME]` section may set: the one place that says which settings are a
 * profile's (docs/profiles.md). Every other setting is the server's, top level only. */
static const char *const profile_keys[] = {
    "ca_dir",
    "challenge",
    "challenge_file",
    "approve",
    "renewal_approve",
    "validity_days",
    "validity_seconds",
    "min_rsa_bits",
    "allow_ec",
    "allowed_keys",
    "copy_san",
    "copy_key_usage",
    "copy_ext_key_usage",
    "unique_subject",
    "signer_key_must_match",
    "renewal_window",
    "renewal_same_subject",
    "renewal_new_key",
    "renewal_revoke_old",
    "subject_require",
    "subject_match",
    "san_dns_domains",
    "san_email_domains",
    "san_uri_match",
    "san_ip_ranges",
    "key_usage",
    "ext_key_usage",
    "certificate_policies",
    "san_template",
    "validate_url",
    "validate_secret_file",
    "validate_timeout",
    "validate_ca_file",
    "validate_failure",
};

int config_is_profile_key(const char *key)
{
    for (size_t i = 0; i < sizeof(profile_keys) / sizeof(profile_keys[0]); i++)
        if (strcmp(profile_keys[i], key) == 0)
            return 1;
    return 0;
}

int config_profile_name_ok(const char *name)
{
    size_t n = strlen(name);
    return n >= 1 && n < CONFIG_PROFILE_NAME &&
           strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

#define N_OPTIONS (sizeof(options) / sizeof(options[0]))

/* What a value of the row's kind must look like, for the error message. */
static void expected(const option_row *row, char *out, size_t len)
{
    switch (row->kind) {
    case K_INT:
    case K_SIZE:
    case K_LONG:
        snprintf(out, len, "a whole number from %ld to %ld", row->min, row->max);
        return;
    case K_BOOL:
        snprintf(out, len, "yes or no");
        return;
    case K_APPROVE:
        snprintf(out, len, "auto or manual");
        return;
    case K_LOGFMT:
        snprintf(out, len, "text or json");
        return;
    case K_REPLY_SIGNER:
        snprintf(out, len, "ra, ra-sign or by-request");
        return;
    case K_WINDOW:
        snprintf(out, len, "a share of the lifetime (0%% to 100%%) or days before expiry (30d)");
        return;
    case K_CRL_URL:
        snprintf(out, len, "a URL without spaces or commas, with {ca} at most once");
        return;
    case K_VALIDATE_URL:
        snprintf(out, len, "an https:// URL, or http:// to 127.0.0.1 or [::1], without a user");
        return;
    case K_VALIDATE_FAILURE:
        snprintf(out, len, "deny or pending");
        return;
    case K_CHALLENGE:
        snprintf(out, len, "none, or at most %zu bytes", row->size - 1);
        return;
    default:
        snprintf(out, len, "at most %zu bytes", row->size - 1);
        return;
    }
}

static int set_number(const option_row *row, char *base, const char *value)
{
    long n = 0;
    if (config_parse_long(value, row->min, row->max, &n) != 0)
        return -1;
    if (row->kind == K_INT)
        *(int *)(void *)base = (int)n;
    else if (row->kind == K_SIZE)
        *(size_t *)(void *)base = (size_t)n;
    else
        *(long *)(void *)base = n;
    return 0;
}

/* reply_signer's values, by enum reply_signer. */
static const char *const reply_signer_names[] = {"ra", "ra-sign", "by-request"};

static int parse_reply_signer(const char *value, reply_signer *out)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(value, reply_signer_names[i]) == 0) {
            *out = (reply_signer)i;
            return 0;
        }
    return -1;
}

static int set_by_row(config *c, const option_row *row, const char *value)
{
    char *base = (char *)c + row->offset;
    switch (row->kind) {
    case K_LISTEN:
        return -1; /* set_listen, which says why */
    case K_TEXT:
        return set_text(base, row->size, value);
    case K_CHALLENGE:
        /* "none": no challenge is asked for; an operator approves instead. */
        c->challenge_none = strcmp(value, "none") == 0;
        return set_text(base, row->size, c->challenge_none ? "" : value);
    case K_BOOL:
        return parse_bool(value, (int *)(void *)base);
    case K_INT:
    case K_SIZE:
    case K_LONG:
        return set_number(row, base, value);
    case K_APPROVE:
        if (strcmp(value, "auto") && strcmp(value, "manual"))
            return -1;
        *(approve_mode *)(void *)base = strcmp(value, "auto") ? APPROVE_MANUAL : APPROVE_AUTO;
        return 0;
    case K_WINDOW:
        return parse_window(c, value);
    case K_CRL_URL:
        return set_crl_url(c, value);
    case K_VALIDATE_URL:
        return set_validate_url(c, value);
    case K_VALIDATE_FAILURE:
        if (strcmp(value, "deny") && strcmp(value, "pending"))
            return -1;
        c->validate.failure = strcmp(value, "deny") ? VALIDATE_FAIL_PENDING : VALIDATE_FAIL_DENY;
        return 0;
    case K_LOGFMT:
        if (strcmp(value, "text") && strcmp(value, "json"))
            return -1;
        c->log_format = strcmp(value, "text") ? LOG_JSON : LOG_TEXT;
        return 0;
    case K_REPLY_SIGNER:
        return parse_reply_signer(value, &c->reply_signer);
    }
    return -1;
}

static const option_row *find_row(const char *key)
{
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (strcmp(options[i].key, key) == 0)
            return &options[i];
    return NULL;
}

static int is_secret(const char *key)
{
    return strcmp(key, "challenge") == 0 || strcmp(key, "admin_token") == 0;
}

int config_set(config *c, const char *key, const char *value, char *err, size_t errlen)
{
    const option_row *row = find_row(key);
    if (row == NULL) {
        snprintf(err, errlen, "unknown setting '%s'", key);
        return -1;
    }
    char want[128];
    const char *why = NULL;
    if (row->kind == K_LISTEN) {
        why = set_listen((char *)c + row->offset, row->size, value,
                         !strcmp(key, "admin_listen") || !strcmp(key, "listen_tls"));
        if (why == NULL)
            return 0;
    } else if (row->check != NULL && value[0] != '\0' && (why = row->check(value)) != NULL) {
        /* why says what the rule should look like */
    } else if (set_by_row(c, row, value) == 0)
        return 0;
    if (why == NULL) {
        expected(row, want, sizeof(want));
        why = want;
    }
    /* Never echo a secret back. */
    if (is_secret(key))
        snprintf(err, errlen, "bad value for %s (%s)", key, why);
    else
        snprintf(err, errlen, "bad value for %s: '%s' (%s)", key, value, why);
    return -1;
}

/* An OSSL_STORE URI ("pkcs11:...", "file:...") is not a file name to resolve. */
static int is_uri(const char *value)
{
    if (!isalpha((unsigned char)value[0]))
        return 0;
    size_t n = strspn(value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-");
    return value[n] == ':';
}

int config_set_arg(config *c, const char *key, const char *value, char *err, size_t errlen)
{
    const option_row *row = find_row(key);
    int store = row != NULL && row->offset == offsetof(config, store);
    const char *name = store && strncmp(value, "sqlite:", 7) == 0 ? value + 7 : value;
    char cwd[CONFIG_PATH], full[CONFIG_PATH * 2 + 8];
    /* A store URI of another scheme (postgresql://, memory:) names no file. */
    if (row == NULL || !(row->flags & OPT_PATH) || name[0] == '\0' || name[0] == '/' ||
        (is_uri(name) && (!store || name == value)))
        return config_set(c, key, value, err, errlen);
    if (getcwd(cwd, sizeof(cwd)) == NULL) {
        snprintf(err, errlen, "cannot resolve %s against the current directory: %s", value,
                 strerror(errno));
        return -1;
    }
    snprintf(full, sizeof(full), "%s%s/%s", name == value ? "" : "sqlite:", cwd, name);
    return config_set(c, key, full, err, errlen);
}

/* Whether two configurations differ in the row's field. */
static int row_differs(const option_row *row, const config *a, const config *b)
{
    const char *fa = (const char *)a + row->offset, *fb = (const char *)b + row->offset;
    if (row->kind == K_TEXT || row->kind == K_LISTEN || row->kind == K_CRL_URL ||
        row->kind == K_VALIDATE_URL || row->kind == K_CHALLENGE)
        return strcmp(fa, fb) != 0;
    return memcmp(fa, fb, row->size) != 0;
}

static void add_name(char *names, size_t len, const char *key)
{
    size_t used = strlen(names);
    snprintf(names + used, len - used, "%s%s", used ? ", " : "", key);
}

void config_reload_changes(config *fresh, const config *old, char *applied, size_t applied_len,
                           char *kept, size_t kept_len)
{
    applied[0] = kept[0] = '\0';
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const option_row *row = &options[i];
        if (!row_differs(row, fresh, old))
            continue;
        if (row->flags & OPT_RESTART) {
            memcpy((char *)fresh + row->offset, (const char *)old + row->offset, row->size);
            add_name(kept, kept_len, row->key);
        } else
            add_name(applied, applied_len, row->key);
    }
}

int config_check_secret_files(const config *c, char *err, size_t errlen)
{
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const char *name = (const char *)c + options[i].offset;
        char path[CONFIG_PATH + 32];
        struct stat sb;
        if (!(options[i].flags & OPT_SECRET) || name[0] == '\0' || is_uri(name))
            continue;
        config_path(c, name, path, sizeof(path));
        if (lstat(path, &sb) == 0 && S_ISLNK(sb.st_mode)) {
            /* Whoever may change the link chooses the key: name the file itself. */
            snprintf(err, errlen,
                     "%s (%s) is a symbolic link: name the file itself, or pass "
                     "--allow-insecure-permissions",
                     path, options[i].key);
            return -1;
        }
        if (stat(path, &sb) != 0 || (sb.st_mode & 077) == 0)
            continue; /* a missing file is the loader's to report */
        snprintf(err, errlen,
                 "%s (%s) is readable by group or others (mode %04o): chmod 600 it, or pass "
                 "--allow-insecure-permissions",
                 path, options[i].key, (unsigned)(sb.st_mode & 07777));
        return -1;
    }
    return 0;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

/* fgets, and *too_long = -1 when the line does not fit: read on, its tail would pass for a
 * line of its own (a setting at the end of a long comment). */
static char *fgets_whole(char *line, size_t size, FILE *f, int *too_long)
{
    line[size - 1] = 'x'; /* fgets ends a full buffer with NUL there, whatever NULs it read */
    if (fgets(line, (int)size, f) == NULL)
        return NULL;
    if (line[size - 1] == '\0' && line[size - 2] != '\n') {
        int next = fgetc(f);
        if (next != EOF)
            *too_long = -1;
        else
            clearerr(f);
    }
    return line;
}

/* Reading a file: the top level goes into top (when apply_top), each section into a copy of
 * base handed to fn (when fn is set; else only checked). */
typedef struct file_reader {
    const char *path;
    config *top;
    int apply_top;
    const config *base;
    config_section_fn fn;
    void *arg;
    config *section; /* the section being read, or NULL at the top level */
    char name[CONFIG_PROFILE_NAME];
    int section_line;
    char names[CONFIG_MAX_PROFILES][CONFIG_PROFILE_NAME];
    int n_names;
} file_reader;

static int end_section(file_reader *r, char *err, size_t errlen)
{
    int rc = 0;
    if (r->section != NULL && r->fn != NULL) {
        char why[512];
        rc = r->fn(r->arg, r->name, r->section_line, r->section, why, sizeof(why));
        if (rc != 0)
            snprintf(err, errlen, "%s:%d: [profile %s]: %s", r->path, r->section_line, r->name,
                     why);
    }
    if (r->section != NULL)
        OPENSSL_cleanse(r->section, sizeof(*r->section));
    free(r->section);
    r->section = NULL;
    return rc;
}

/* "[profile NAME]": a new section. */
static int begin_section(file_reader *r, char *s, int lineno, char *err, size_t errlen)
{
    size_t n = strlen(s);
    if (end_section(r, err, errlen) != 0)
        return -1;
    if (n < 11 || strncmp(s, "[profile ", 9) != 0 || s[n - 1] != ']') {
        snprintf(err, errlen, "%s:%d: expected '[profile NAME]'", r->path, lineno);
        return -1;
    }
    s[n - 1] = '\0';
    char *name = trim(s + 9);
    if (!config_profile_name_ok(name)) {
        snprintf(err, errlen, "%s:%d: bad profile name '%.64s' (1 to 32 of a-z, 0-9, _ and -)",
                 r->path, lineno, name);
        return -1;
    }
    for (int i = 0; i < r->n_names; i++)
        if (strcmp(r->names[i], name) == 0) {
            snprintf(err, errlen, "%s:%d: [profile %s] is defined twice", r->path, lineno, name);
            return -1;
        }
    if (r->n_names == CONFIG_MAX_PROFILES) {
        snprintf(err, errlen, "%s:%d: more than %d profiles", r->path, lineno, CONFIG_MAX_PROFILES);
        return -1;
    }
    snprintf(r->names[r->n_names++], CONFIG_PROFILE_NAME, "%s", name);
    snprintf(r->name, sizeof(r->name), "%s", name);
    r->section_line = lineno;
    r->section = malloc(sizeof(*r->section));
    if (r->section == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    *r->section = r->base != NULL ? *r->base : *r->top;
    return 0;
}

/* In a section, a static challenge and a challenge file replace each other. */
static int section_set(file_reader *r, const char *key, const char *value, char *why, size_t len)
{
    if (!config_is_profile_key(key)) {
        snprintf(why, len,
                 "'%s' is not a profile setting (it is the server's: set it above the "
                 "first section)",
                 key);
        return -1;
    }
    config *c = r->section;
    if (config_set(c, key, value, why, len) != 0)
        return -1;
    if (strcmp(key, "challenge") == 0)
        c->challenge_file[0] = '\0';
    else if (strcmp(key, "challenge_file") == 0) {
        OPENSSL_cleanse(c->challenge, sizeof(c->challenge));
        c->challenge_none = 0;
    }
    return 0;
}

static int read_line(file_reader *r, char *s, int lineno, char *err, size_t errlen)
{
    char why[256];
    if (*s == '[')
        return begin_section(r, s, lineno, err, errlen);
    char *eq = strchr(s, '=');
    if (eq == NULL) {
        snprintf(err, errlen, "%s:%d: expected 'key = value'", r->path, lineno);
        return -1;
    }
    *eq = '\0';
    const char *key = trim(s), *value = trim(eq + 1);
    if (r->section != NULL) {
        if (section_set(r, key, value, why, sizeof(why)) == 0)
            return 0;
        snprintf(err, errlen, "%s:%d: [profile %s]: %s", r->path, lineno, r->name, why);
        return -1;
    }
    if (!r->apply_top || config_set(r->top, key, value, why, sizeof(why)) == 0)
        return 0;
    snprintf(err, errlen, "%s:%d: %s", r->path, lineno, why);
    return -1;
}

static int read_file(file_reader *r, char *err, size_t errlen)
{
    FILE *f = fopen(r->path, "r");
    if (f == NULL) {
        if (r->fn != NULL && errno == ENOENT)
            return 0;
        snprintf(err, errlen, "%s: %s", r->path, strerror(errno));
        return -1;
    }
    char line[2048];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets_whole(line, sizeof(line), f, &rc) != NULL) {
        lineno++;
        if (rc != 0) {
            snprintf(err, errlen, "%s:%d: longer than %zu bytes", r->path, lineno,
                     sizeof(line) - 2);
            break;
        }
        char *s = trim(line);
        if (*s != '\0' && *s != '#')
            rc = read_line(r, s, lineno, err, errlen);
    }
    OPENSSL_cleanse(line, sizeof(line));
    fclose(f);
    if (rc != 0)
        r->fn = NULL; /* a section cut short is not handed on */
    return end_section(r, err, errlen) != 0 ? -1 : rc;
}

/* read_file with a reader set up as init (on the heap: it is large). */
static int read_as(file_reader init, char *err, size_t errlen)
{
    file_reader *r = malloc(sizeof(*r));
    if (r == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    *r = init;
    int rc = read_file(r, err, errlen);
    free(r);
    return rc;
}

int config_load(config *c, const char *path, char *err, size_t errlen)
{
    return read_as((file_reader){.path = path, .top = c, .apply_top = 1}, err, errlen);
}

int config_load_sections(const config *base, const char *path, config_section_fn fn, void *arg,
                         char *err, size_t errlen)
{
    return read_as((file_reader){.path = path, .base = base, .fn = fn, .arg = arg}, err, errlen);
}

void config_path(const config *c, const char *name, char *out, size_t outlen)
{
    /* A key's URI (pkcs11:...) is no file of the directory. */
    int n = name[0] == '/' || c->dir[0] == '\0' || strncmp(name, "pkcs11:", 7) == 0
                ? snprintf(out, outlen, "%s", name)
                : snprintf(out, outlen, "%s/%s", c->dir, name);
    if (n < 0 || (size_t)n >= outlen)
        out[0] = '\0'; /* a truncated path must not name another file */
}

/* The first line of path, without its line end, into out: 0, or -1 (errno set when it could not
 * be opened). An empty line or one longer than size - 1 is -1 with errno 0. */
static int read_first_line(const char *path, char *out, size_t size)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    char buf[CONFIG_SECRET + 2];
    int ok = fgets(buf, sizeof(buf), f) != NULL;
    fclose(f);
    if (ok) {
        buf[strcspn(buf, "\r\n")] = '\0';
        ok = buf[0] != '\0' && set_text(out, size, buf) == 0;
    }
    OPENSSL_cleanse(buf, sizeof(buf));
    errno = 0;
    return ok ? 0 : -1;
}

/* A secret file's first line into out, or -1 with a message naming the file and its setting. */
static int read_secret(const config *c, const char *name, const char *key, char *out, size_t size,
                       char *err, size_t errlen)
{
    char path[CONFIG_PATH];
    config_path(c, name, path, sizeof(path));
    if (read_first_line(path, out, size) == 0)
        return 0;
    if (errno != 0)
        snprintf(err, errlen, "%s%s: %s", path, key, strerror(errno));
    else
        snprintf(err, errlen, "%s%s: empty or longer than %zu bytes", path, key, size - 1);
    return -1;
}

int config_read_challenge_file(config *c, char *err, size_t errlen)
{
    if (c->challenge_file[0] == '\0')
        return 0;
    return read_secret(c, c->challenge_file, "", c->challenge, sizeof(c->challenge), err, errlen);
}

int config_read_validate_secret(config *c, char *err, size_t errlen)
{
    validate_settings *v = &c->validate;
    if (v->url[0] == '\0')
        return 0;
    if (v->secret_file[0] == '\0') {
        snprintf(err, errlen, "validate_url needs validate_secret_file (the key of the signature)");
        return -1;
    }
    v->ca_path[0] = '\0';
    if (v->ca_file[0] != '\0')
        config_path(c, v->ca_file, v->ca_path, sizeof(v->ca_path));
    return read_secret(c, v->secret_file, " (validate_secret_file)", v->secret, sizeof(v->secret),
                       err, errlen);
}

static void write_ra_sign(const config *c, FILE *f)
{
    if (c->ra_sign_cert[0] != '\0')
        fprintf(f,
                "# The RA signing certificate (keyUsage digitalSignature), and which RA signs a\n"
                "# CertRep: ra, ra-sign, or by-request (ra-sign for a request signed with EC).\n"
                "ra_sign_cert = %s\nra_sign_key = %s\nreply_signer = %s\n",
                c->ra_sign_cert, c->ra_sign_key, reply_signer_names[c->reply_signer]);
}

static void write_text(const config *c, FILE *f)
{
    fprintf(f,
            "# scepd configuration. Every setting can also be given as a flag of `scepd serve`.\n"
            "# Paths are relative to this directory.\n\n"
            "ca_cert = %s\nca_key = %s\n",
            c->ca_cert, c->ca_key);
    if (c->ca_chain[0] != '\0')
        fprintf(f, "# The certificates above the CA, sent with it.\nca_chain = %s\n", c->ca_chain);
    if (c->ca_key_pass_file[0] != '\0')
        fprintf(f, "# The passphrase of the encrypted CA key.\nca_key_pass_file = %s\n",
                c->ca_key_pass_file);
    if (c->pkcs11_module[0] != '\0')
        fprintf(f, "# The keys are in a PKCS#11 token (docs/hsm.md).\npkcs11_module = %s\n",
                c->pkcs11_module);
    if (c->pkcs11_pin_file[0] != '\0')
        fprintf(f, "pkcs11_pin_file = %s\n", c->pkcs11_pin_file);
    if (c->ra_cert[0] != '\0')
        fprintf(f,
                "# RA mode: clients encrypt to the RA, the RA signs replies.\n"
                "ra_cert = %s\nra_key = %s\n",
                c->ra_cert, c->ra_key);
    write_ra_sign(c, f);
    fprintf(f,
            "store = %s\n\n"
            "listen = %s\n"
            "# challenge = SECRET          (or challenge_file = FILE)\n"
            "approve = %s\n"
            "legacy_algorithms = %s\n"
            "log_format = text\n"
            "# log_file = scepd.log             (instead of stdout; reopened on SIGHUP)\n\n"
            "# Issuance profile\n"
            "validity_days = %d\nmin_rsa_bits = %d\nallow_ec = yes\ncopy_san = yes\n"
            "copy_key_usage = yes\ncopy_ext_key_usage = yes\nunique_subject = no\n\n"
            "# Renewal: a request signed by a certificate this CA issued\n"
            "# renewal_window: from a share of the lifetime (50%%), or days before expiry (30d)\n"
            "renewal_window = 50%%\n"
            "renewal_same_subject = yes\nrenewal_new_key = no\nrenewal_revoke_old = no\n"
            "renewal_approve = auto\n\n"
            "# CRLs: each valid this many days; served at /crl/ca.crl and by GetCRL\n"
            "crl_days = 7\n"
            "# crl_url = http://ca.example/crl/{ca}.crl   (put in issued certificates; {ca}\n"
            "#   becomes the issuing CA's key id, served at /crl/KEYID.crl, so that certificates\n"
            "#   keep their own CA's CRL after a rollover)\n\n"
            "# Prepare the next CA this many days before the current one expires (0: never)\n"
            "auto_rollover_days = 0\n\n"
            "# Admin endpoint for minting one-time challenges (POST /challenge, bearer token)\n"
            "# admin_listen = 127.0.0.1:8081\n"
            "# admin_token_file = admin.token\n\n"
            "# HTTPS beside plain HTTP: certificate chain and key in PEM (key mode 0600)\n"
            "# listen_tls = 0.0.0.0:8443\n# tls_cert = tls.pem\n# tls_key = tls.key\n\n"
            "# HTTP\n"
            "threads = 0\nmax_body = %zu\nmax_connections = %d\nrequest_timeout = %d\n"
            "max_connections_per_address = %d\nrequest_deadline = %d\nconnection_lifetime = %d\n"
            "shutdown_timeout = %d\n",
            c->store, c->listen, c->approve == APPROVE_AUTO ? "auto" : "manual",
            c->legacy_algorithms ? "yes" : "no", c->validity_days, c->min_rsa_bits, c->max_body,
            c->max_connections, c->request_timeout, c->max_connections_per_address,
            c->request_deadline, c->connection_lifetime, c->shutdown_timeout);
}

int config_write(const config *c, const char *path)
{
    char *text = NULL, err[64];
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (f == NULL)
        return -1;
    write_text(c, f);
    int rc = fclose(f) == 0 && text != NULL ? 0 : -1;
    /* 0600: an operator may add the challenge to it. */
    if (rc == 0)
        rc = file_write_atomic(path, text, len, 0600, FILE_KEEP, err, sizeof(err));
    int saved = errno;
    free(text);
    errno = saved;
    return rc;
}

void config_store_uri(const config *c, char *out, size_t outlen)
{
    if (strncmp(c->store, "sqlite:", 7) == 0 && c->store[7] != '/' && c->dir[0] != '\0')
        snprintf(out, outlen, "sqlite:%s/%s", c->dir, c->store + 7);
    else
        snprintf(out, outlen, "%s", c->store);
}
