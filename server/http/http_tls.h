/* The HTTPS listener's certificate chain and key: read with OpenSSL, checked, and handed to
 * libmicrohttpd (GnuTLS) as PEM text. */
#ifndef SCEPD_HTTP_TLS_H
#define SCEPD_HTTP_TLS_H

#include "config/config.h"

/* TLS 1.2 and 1.3 only, GnuTLS's 128-bit-secure suites (docs/operations.md says why). */
#define HTTP_TLS_PRIORITIES "SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

typedef struct http_tls_pem {
    char *cert;      /* the chain, server certificate first, PEM */
    char *key;       /* PKCS#8 PEM; wiped when freed */
    size_t key_len;  /* of key, for the wipe */
    char serial[64]; /* the server certificate's serial, hex, for the log */
} http_tls_pem;

/* Reads c->tls_cert and c->tls_key: every certificate must parse, the key must be unencrypted
 * and match the first certificate, which must be valid now. 0, or -1 with a message naming
 * the setting and file. */
int http_tls_read(const config *c, http_tls_pem *out, char *err, size_t errlen);
/* A certificate and key pair by its settings' names (for the messages) and file names. */
typedef struct http_tls_files {
    const char *cert_setting, *cert, *key_setting, *key;
} http_tls_files;
/* The same checks on any pair (the admin listener's admin_tls_cert and admin_tls_key). */
int http_tls_read_files(const config *c, const http_tls_files *f, http_tls_pem *out, char *err,
                        size_t errlen);
/* The certificates of a file (a CA bundle), every one parsed, as PEM text in *pem (free it).
 * 0, or -1 with a message naming setting and the file. */
int http_tls_read_certs(const config *c, const char *setting, const char *name, char **pem,
                        char *err, size_t errlen);
/* A copy of from (the certificate kept when a reload's new one is refused). 0 or -1. */
int http_tls_copy(http_tls_pem *to, const http_tls_pem *from);
void http_tls_clear(http_tls_pem *p);

#endif
