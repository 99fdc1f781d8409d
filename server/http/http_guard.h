/* Who is connected to the SCEP listener, and for how long: per-address and total connection
 * limits, a deadline for receiving each request, a lifetime for each connection, and the drain
 * at shutdown. A connection past a deadline is shut down (shutdown(2)); libmicrohttpd then
 * closes it as it would a client's hang-up. A connection whose answer is being built or sent
 * is never cut. Thread-safe: libmicrohttpd's workers and the guard's own sweeper share it. */
#ifndef SCEPD_HTTP_GUARD_H
#define SCEPD_HTTP_GUARD_H

#include <sys/socket.h>

#include "config/config.h"

typedef struct guard guard;
typedef struct guard_conn guard_conn;

typedef struct guard_limits {
    int per_address;      /* connections from one address; 0: no limit */
    int total;            /* connections served at once */
    int request_seconds;  /* to receive a whole request, from the connection's start or the end
                             of its previous answer */
    int lifetime_seconds; /* of a connection */
} guard_limits;

/* What guard_open decided about a new connection. */
typedef enum guard_verdict {
    GUARD_ACCEPT = 0,
    GUARD_OVER_ADDRESS, /* too many connections from its address */
    GUARD_OVER_TOTAL,   /* too many connections in all */
} guard_verdict;

/* What guard_answer_begin says about the request whose answer starts now. */
typedef enum guard_answer {
    GUARD_ANSWER = 0,     /* answer it, keep the connection */
    GUARD_ANSWER_CLOSE,   /* answer it with Connection: close (lifetime over, or draining) */
    GUARD_ANSWER_REFUSE,  /* shutting down: answer 503 with Connection: close */
    GUARD_ANSWER_OVER,    /* a refused connection (HTTPS): 503 with Connection: close */
    GUARD_ANSWER_NOTHING, /* the connection is being cut: send nothing */
} guard_answer;

/* Starts the sweeper thread. NULL when out of memory or threads. fmt: for its log lines. */
guard *guard_new(const guard_limits *lim, log_format fmt);
/* Stops the sweeper; every connection must have been closed (libmicrohttpd stopped). */
void guard_free(guard *g);

/* A new connection on socket fd from addr, as it is accepted. Never NULL for a refusal: a
 * refused connection is tracked until it closes (cut when it sends no request within a few
 * seconds), *verdict says why. NULL only when out of memory. Until guard_claim takes it, it is
 * "fresh": a later guard_open on the same fd drops it (libmicrohttpd never took it up). */
guard_conn *guard_open(guard *g, int fd, const struct sockaddr *addr, guard_verdict *verdict);
/* The fresh connection on fd, taken by the thread that serves it (*refused: whether it must be
 * answered 503); NULL when there is none (already claimed, closed, or never opened). */
guard_conn *guard_claim(guard *g, int fd, int *refused);
/* How many refused connections are open (each until its close). */
long guard_refused(guard *g);
/* How many accepted connections libmicrohttpd has not taken up yet (handed over by
 * MHD_add_connection, not yet claimed): a drain waits for them as for its open ones. */
long guard_unclaimed(guard *g);
/* The connection closed: forgets it (c is freed). */
void guard_close(guard *g, guard_conn *c);
/* Cuts c in GUARD_LINGER_MS: its answer is written, what it still sends is discarded until then. */
#define GUARD_LINGER_MS 500
void guard_linger(guard *g, guard_conn *c);

/* A request line arrived (libmicrohttpd's URI callback): the connection is receiving a request. */
void guard_request_begin(guard *g, guard_conn *c);
/* Whether the guard cut c (then libmicrohttpd's hang-up is its doing, not the client's). */
int guard_was_cut(guard *g, const guard_conn *c);

/* The whole request has arrived and its answer starts: from here until guard_answer_end the
 * connection is not cut. */
guard_answer guard_answer_begin(guard *g, guard_conn *c);
/* The answer was sent (or the request ended otherwise): the next request's deadline starts. */
void guard_answer_end(guard *g, guard_conn *c);

/* From now on: idle connections are cut (on a reload only those quiet for a moment with no request
 * waiting in their socket), answers carry Connection: close, and when stopping
 * new requests are refused and connections still receiving one are cut too. */
void guard_drain(guard *g, int stopping);

/* Kinds of refusal, each logged at most once a second (an attacker cannot fill the disk); the
 * lines left out are counted in the next one. */
typedef enum guard_event {
    GUARD_EV_ADDRESS = 0, /* over the per-address limit */
    GUARD_EV_TOTAL,       /* over max_connections */
    GUARD_EV_DEADLINE,    /* request not received within request_deadline */
    GUARD_EV_LIFETIME,    /* connection older than connection_lifetime */
    GUARD_EV_DROPPED,     /* a request libmicrohttpd dropped (headers past its memory) */
    GUARD_EV_COUNT
} guard_event;

/* Logs "refused ...: text (from ADDR)" for c's peer, rate-limited per kind. */
void guard_log(guard *g, guard_event ev, const guard_conn *c, const char *text);

#endif
