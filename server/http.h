/* HTTP glue: libmicrohttpd requests in, service answers out, limits enforced here. */
#ifndef SCEPD_HTTP_H
#define SCEPD_HTTP_H

#include <sys/socket.h>

#include "server.h"

typedef struct http_server http_server;

/* Starts listening on srv->cfg.listen with a worker pool. NULL with a message on failure. */
http_server *http_start(server *srv, char *err, size_t errlen);
/* Serves srv from now on, on old's listening socket, then lets old's requests in flight
 * finish and stops it. Returns the new server; NULL (old stopped) when it fails. */
http_server *http_takeover(http_server *old, server *srv, char *err, size_t errlen);
/* Stops accepting, lets requests in flight finish (up to the request timeout), stops. */
void http_stop(http_server *h);
/* HOST:PORT or [V6]:PORT, numeric only. 0, or -1 with a reason. */
int http_parse_listen(const char *listen, struct sockaddr_storage *out, char *err, size_t errlen);
/* The port actually bound (useful with port 0). */
unsigned http_port(const http_server *h);

#endif
