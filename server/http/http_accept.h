/* The listening sockets and their accept loops. libmicrohttpd's own loop accepts one connection
 * per turn of a worker, and a turn first serves every ready connection: under load, new
 * connections waited in the kernel's queue for seconds, refused ones too. Here one thread per
 * listening socket takes every waiting connection as soon as it arrives and hands each to a
 * callback, which decides at once (hand it to libmicrohttpd, or answer 503). A refused
 * connection the callback has answered is read out for a moment before its close, so that the
 * request still on its way does not make the kernel reset the connection over the answer. */
#ifndef SCEPD_HTTP_ACCEPT_H
#define SCEPD_HTTP_ACCEPT_H

#include <sys/socket.h>

typedef struct http_acceptor http_acceptor;

/* What the callback did with the new connection. */
typedef enum http_accept_result {
    HTTP_ACCEPT_TAKEN = 0, /* it owns fd now (handed over, or closed) */
    HTTP_ACCEPT_LINGER,    /* answered and shut for writing: read it out, then close it */
} http_accept_result;

typedef http_accept_result (*http_accept_fn)(void *arg, int fd, const struct sockaddr *addr,
                                             socklen_t addr_len);

/* A non-blocking listening TCP socket bound to addr; -1 with errno set. */
int http_listen_socket(const struct sockaddr_storage *addr);
/* The port listen_fd is bound to; 0 when unknown. */
unsigned http_socket_port(int listen_fd);

/* Starts the accept loop on listen_fd (not taken over: the caller closes it). NULL when out of
 * memory or threads. */
http_acceptor *http_acceptor_start(int listen_fd, http_accept_fn take, void *arg);
/* Stops the loop (connections arriving from now on wait in the kernel's queue) and closes the
 * lingering ones. NULL is ignored. */
void http_acceptor_stop(http_acceptor *a);

#endif
