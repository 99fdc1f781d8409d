/* The admin listener's HTTPS (admin_tls_cert, admin_tls_key) and its client certificates
 * (admin_tls_client_ca): the files read and checked like the SCEP listener's (http_tls), handed
 * to libmicrohttpd, and the peer's certificate checked per request with OpenSSL. */
#ifndef SCEPD_ADMIN_TLS_H
#define SCEPD_ADMIN_TLS_H

#include <stddef.h>

#include <microhttpd.h>
#include <openssl/x509_vfy.h>

#include "config/config.h"
#include "http/http_tls.h"

#define ADMIN_TLS_CN_MAX 58 /* "cert:" and this fit a token's name */

typedef struct admin_tls {
    http_tls_pem pem;   /* pem.cert NULL: plain HTTP */
    char *client_ca;    /* PEM; NULL: no client certificate asked for */
    X509_STORE *trust;  /* the same certificates, for OpenSSL's verification */
    char cert_role[16]; /* admin_client_cert_role: "" (a token is always needed), read, operate */
    struct MHD_OptionItem options[5];
} admin_tls;

/* Reads c's admin_tls_* files. 0 (TLS off when none is set), or -1 with a message naming the
 * setting and the file. */
int admin_tls_load(const config *c, admin_tls *t, char *err, size_t errlen);
/* The daemon flags and options (MHD_OPTION_ARRAY) of t; t must outlive the daemon. */
unsigned admin_tls_flags(const admin_tls *t);
struct MHD_OptionItem *admin_tls_options(admin_tls *t);
/* 1 when the files of a and b are the same (a reload that changes nothing). */
int admin_tls_same(const admin_tls *a, const admin_tls *b);
/* 1 when no client certificate is asked for (trust NULL), or conn's verifies against trust
 * (admin_tls_client_ca's, borrowed for the call) for TLS client use; else 0 with the reason in
 * why. */
int admin_tls_peer_ok(X509_STORE *trust, struct MHD_Connection *conn, char *why, size_t whylen);
/* With cert_role (admin_client_cert_role) set, the name of conn's verified certificate: "cert:"
 * and its subject's common name, 1 to ADMIN_TLS_CN_MAX of A-Z a-z 0-9 . _ @ -. 1 with name set,
 * 0 when no role is granted to certificates, -1 with why when the common name is not usable.
 * Call after admin_tls_peer_ok. */
int admin_tls_peer_name(const char *cert_role, struct MHD_Connection *conn, char *name,
                        size_t namelen, char *why, size_t whylen);
void admin_tls_clear(admin_tls *t);

#endif
