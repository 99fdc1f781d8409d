#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

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
    c->renewal_same_subject = 1;
    c->renewal_approve = APPROVE_AUTO;
    c->max_body = 256 * 1024;
    c->max_connections = 512;
    c->request_timeout = 30;
    c->max_clock_skew = 0;
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

static int parse_long(const char *v, long min, long max, long *out)
{
    char *end = NULL;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || n < min || n > max)
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
    if (v[n - 1] == '%' && parse_long(number, 0, 100, &value) == 0) {
        c->renewal_window_pct = (int)value;
        c->renewal_window_days = 0;
        return 0;
    }
    if (v[n - 1] == 'd' && parse_long(number, 1, 36500, &value) == 0) {
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

typedef enum kind {
    K_TEXT,
    K_BOOL,
    K_INT,
    K_SIZE,
    K_LONG,
    K_APPROVE,
    K_LOGFMT,
    K_WINDOW,
    K_CRL_URL
} kind;

typedef struct option_row {
    const char *key;
    kind kind;
    size_t offset;
    size_t size; /* K_TEXT: field size */
    long min, max;
} option_row;

#define TEXT(k, f)                                                                                 \
    {                                                                                              \
        k, K_TEXT, offsetof(config, f), sizeof(((config *)0)->f), 0, 0                             \
    }
#define BOOL(k, f)                                                                                 \
    {                                                                                              \
        k, K_BOOL, offsetof(config, f), 0, 0, 1                                                    \
    }
#define INT(k, f, lo, hi)                                                                          \
    {                                                                                              \
        k, K_INT, offsetof(config, f), 0, lo, hi                                                   \
    }

static const option_row options[] = {
    TEXT("ca_cert", ca_cert),
    TEXT("ca_key", ca_key),
    TEXT("ra_cert", ra_cert),
    TEXT("ra_key", ra_key),
    TEXT("store", store),
    TEXT("listen", listen),
    TEXT("challenge", challenge),
    TEXT("challenge_file", challenge_file),
    {"approve", K_APPROVE, offsetof(config, approve), 0, 0, 0},
    {"renewal_approve", K_APPROVE, offsetof(config, renewal_approve), 0, 0, 0},
    {"renewal_window", K_WINDOW, 0, 0, 0, 0},
    BOOL("renewal_same_subject", renewal_same_subject),
    BOOL("renewal_new_key", renewal_new_key),
    BOOL("renewal_revoke_old", renewal_revoke_old),
    BOOL("legacy_algorithms", legacy_algorithms),
    {"log_format", K_LOGFMT, offsetof(config, log_format), 0, 0, 0},
    INT("validity_days", validity_days, 1, 36500),
    INT("validity_seconds", validity_seconds, 0, 100L * 365 * 86400),
    INT("min_rsa_bits", min_rsa_bits, 1024, 16384),
    BOOL("allow_ec", allow_ec),
    BOOL("copy_san", copy_san),
    BOOL("copy_key_usage", copy_key_usage),
    BOOL("copy_ext_key_usage", copy_ext_key_usage),
    BOOL("unique_subject", unique_subject),
    BOOL("getcacert_include_ca", getcacert_include_ca),
    INT("crl_days", crl_days, 1, 3650),
    INT("auto_rollover_days", auto_rollover_days, 0, 3650),
    TEXT("admin_listen", admin_listen),
    TEXT("admin_token", admin_token),
    TEXT("admin_token_file", admin_token_file),
    {"crl_url", K_CRL_URL, 0, 0, 0, 0},
    INT("threads", threads, 0, 256),
    {"max_body", K_SIZE, offsetof(config, max_body), 0, 1024, 16 * 1024 * 1024},
    INT("max_connections", max_connections, 1, 100000),
    INT("request_timeout", request_timeout, 1, 3600),
    {"max_clock_skew", K_LONG, offsetof(config, max_clock_skew), 0, 0, 86400 * 365},
};

static int set_by_row(config *c, const option_row *row, const char *value)
{
    char *base = (char *)c + row->offset;
    long n = 0;
    switch (row->kind) {
    case K_TEXT:
        return set_text(base, row->size, value);
    case K_BOOL:
        return parse_bool(value, (int *)(void *)base);
    case K_INT:
        if (parse_long(value, row->min, row->max, &n) != 0)
            return -1;
        *(int *)(void *)base = (int)n;
        return 0;
    case K_SIZE:
        if (parse_long(value, row->min, row->max, &n) != 0)
            return -1;
        *(size_t *)(void *)base = (size_t)n;
        return 0;
    case K_LONG:
        return parse_long(value, row->min, row->max, (long *)(void *)base);
    case K_APPROVE:
        if (strcmp(value, "auto") && strcmp(value, "manual"))
            return -1;
        *(approve_mode *)(void *)base = strcmp(value, "auto") ? APPROVE_MANUAL : APPROVE_AUTO;
        return 0;
    case K_WINDOW:
        return parse_window(c, value);
    case K_CRL_URL:
        return set_crl_url(c, value);
    case K_LOGFMT:
        if (strcmp(value, "text") && strcmp(value, "json"))
            return -1;
        c->log_format = strcmp(value, "text") ? LOG_JSON : LOG_TEXT;
        return 0;
    }
    return -1;
}

int config_set(config *c, const char *key, const char *value, char *err, size_t errlen)
{
    for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++) {
        if (strcmp(options[i].key, key) != 0)
            continue;
        if (set_by_row(c, &options[i], value) == 0)
            return 0;
        /* Never echo a secret back. */
        int secret = strcmp(key, "challenge") == 0 || strcmp(key, "admin_token") == 0;
        snprintf(err, errlen, "bad value for %s%s%s", key, secret ? "" : ": ", secret ? "" : value);
        return -1;
    }
    snprintf(err, errlen, "unknown setting '%s'", key);
    return -1;
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

int config_load(config *c, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char line[2048], why[256];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (eq == NULL) {
            snprintf(err, errlen, "%s:%d: expected 'key = value'", path, lineno);
            rc = -1;
            break;
        }
        *eq = '\0';
        if (config_set(c, trim(s), trim(eq + 1), why, sizeof(why)) != 0) {
            snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
            rc = -1;
        }
    }
    OPENSSL_cleanse(line, sizeof(line));
    fclose(f);
    return rc;
}

void config_path(const config *c, const char *name, char *out, size_t outlen)
{
    int n = name[0] == '/' || c->dir[0] == '\0' ? snprintf(out, outlen, "%s", name)
                                                : snprintf(out, outlen, "%s/%s", c->dir, name);
    if (n < 0 || (size_t)n >= outlen)
        out[0] = '\0'; /* a truncated path must not name another file */
}

int config_read_challenge_file(config *c, char *err, size_t errlen)
{
    if (c->challenge_file[0] == '\0')
        return 0;
    char path[CONFIG_PATH];
    config_path(c, c->challenge_file, path, sizeof(path));
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char buf[CONFIG_SECRET + 2];
    int ok = fgets(buf, sizeof(buf), f) != NULL;
    fclose(f);
    if (ok) {
        buf[strcspn(buf, "\r\n")] = '\0';
        ok = buf[0] != '\0' && set_text(c->challenge, sizeof(c->challenge), buf) == 0;
    }
    OPENSSL_cleanse(buf, sizeof(buf));
    if (!ok) {
        snprintf(err, errlen, "%s: empty or longer than %d bytes", path, CONFIG_SECRET - 1);
        return -1;
    }
    return 0;
}

int config_write(const config *c, const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fprintf(f,
            "# scepd configuration. Every setting can also be given as a flag of `scepd serve`.\n"
            "# Paths are relative to this directory.\n\n"
            "ca_cert = %s\nca_key = %s\n",
            c->ca_cert, c->ca_key);
    if (c->ra_cert[0] != '\0')
        fprintf(f,
                "# RA mode: clients encrypt to the RA, the RA signs replies.\n"
                "ra_cert = %s\nra_key = %s\n",
                c->ra_cert, c->ra_key);
    fprintf(f,
            "store = %s\n\n"
            "listen = %s\n"
            "# challenge = SECRET          (or challenge_file = FILE)\n"
            "approve = %s\n"
            "legacy_algorithms = %s\n"
            "log_format = text\n\n"
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
            "# HTTP\n"
            "threads = 0\nmax_body = %zu\nmax_connections = %d\nrequest_timeout = %d\n",
            c->store, c->listen, c->approve == APPROVE_AUTO ? "auto" : "manual",
            c->legacy_algorithms ? "yes" : "no", c->validity_days, c->min_rsa_bits, c->max_body,
            c->max_connections, c->request_timeout);
    return fclose(f);
}

void config_store_uri(const config *c, char *out, size_t outlen)
{
    if (strncmp(c->store, "sqlite:", 7) == 0 && c->store[7] != '/' && c->dir[0] != '\0')
        snprintf(out, outlen, "sqlite:%s/%s", c->dir, c->store + 7);
    else
        snprintf(out, outlen, "%s", c->store);
}
