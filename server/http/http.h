/* HTTP glue: libmicrohttpd requests in, service answers out, limits enforced here. */
#ifndef SCEPD_HTTP_H
#define SCEPD_HTTP_H

#include <sys/socket.h>

#include "service/server.h"

typedef struct http_server http_server;

/* Starts listening on srv->cfg.listen, and on listen_tls for HTTPS when set (tls_cert and
 * tls_key read and checked), with one worker pool. NULL with a message on failure. */
http_server *http_start(server *srv, char *err, size_t errlen);
/* Serves srv from now on, on old's listening sockets, then lets old's requests in flight
 * finish and stops it. The HTTPS listener reads its certificate and key again; when they do
 * not load, it logs why and keeps old's. Returns the new server; old, still serving, when the
 * new one cannot be made (err says why); NULL (old stopped) when the sockets cannot pass. */
http_server *http_takeover(http_server *old, server *srv, char *err, size_t errlen);
/* Stops accepting, closes idle connections, refuses new requests (503, Connection: close),
 * sends the answers in flight, and stops when none is left or after shutdown_timeout. */
void http_stop(http_server *h);
/* From now on every new request is refused (503, Connection: close); those already taken are
 * answered. The first step of a stop, taken before anything else is shut down. */
void http_refuse_new(http_server *h);
/* HOST:PORT or [V6]:PORT, numeric only. 0, or -1 with a reason. */
int http_parse_listen(const char *listen, struct sockaddr_storage *out, char *err, size_t errlen);
/* The port actually bound (useful with port 0). */
unsigned http_port(const http_server *h);
/* The HTTPS listener's port, 0 without one; its certificate's serial (hex), NULL without one. */
unsigned http_tls_port(const http_server *h);
const char *http_tls_serial(const http_server *h);

#endif
