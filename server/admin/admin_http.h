/* The admin HTTP endpoint: a separate listener (loopback by default) where a system that hands
 * out challenges (an MDM) mints one-time challenges, authenticated by a bearer token, and where
 * a probe asks whether the server can issue (GET /readyz). */
#ifndef SCEPD_ADMIN_HTTP_H
#define SCEPD_ADMIN_HTTP_H

#include "config/config.h"
#include "service/server.h"

typedef struct admin_http admin_http;

/* Starts when c->admin_listen is set (NULL otherwise, or on failure with a message in err:
 * check err[0]). The token comes from admin_token or admin_token_file. */
admin_http *admin_http_start(const config *c, char *err, size_t errlen);
void admin_http_stop(admin_http *a);
/* At a reload (SIGHUP): admin_tls_cert, admin_tls_key and admin_tls_client_ca read again. Files
 * that changed are served by a new daemon on the same listening socket (the old one finishes
 * its connections); files that do not load leave the old ones serving, logged. a may be NULL;
 * call from one thread. */
void admin_http_reload_tls(admin_http *a);
/* What /readyz reports on: the CA certificates srv serves (taken again after each reload).
 * a may be NULL. */
void admin_http_set_server(admin_http *a, const server *srv);

#endif
