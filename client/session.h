/* One conversation with a SCEP server: capabilities, CA certificates, and pkiMessage exchanges
 * whose replies are verified (signer, transactionID, recipientNonce) before anyone sees them. */
#ifndef SCEP_CLIENT_SESSION_H
#define SCEP_CLIENT_SESSION_H

#include "scep/scep.h"

#include "transport.h"

/* Exit codes of the scep command (documented in docs/scep.md). */
enum {
    EXIT_OK = 0,
    EXIT_ERROR = 1,     /* local trouble: files, keys */
    EXIT_USAGE = 2,     /* bad command line or input */
    EXIT_TRANSPORT = 3, /* could not talk to the server, or an HTTP error */
    EXIT_REFUSED = 4,   /* the server answered FAILURE */
    EXIT_PENDING = 5,   /* still PENDING when --max-poll-time ran out */
    EXIT_BAD_REPLY = 6, /* a reply that does not verify or does not make sense */
    EXIT_UNTRUSTED = 7, /* the CA does not match the pinned fingerprint */
};

typedef struct session {
    const char *url;
    scep_ctx *ctx;
    transport *net;
    int verbose;
    int caps_known;
    scep_caps caps;
    scep_negotiated neg;
    STACK_OF(X509) * ca_certs;   /* as GetCACert returned them */
    X509 *ca, *ra_enc, *ra_sign; /* borrowed from ca_certs */
    char err[512];
} session;

/* Sets up a session; returns an exit code (EXIT_OK). */
int session_open(session *s, const char *url, int legacy, const transport_options *t);
void session_close(session *s);

/* GetCACaps, then negotiation. A server that fails GetCACaps (old NDES) gets empty caps. */
int session_caps(session *s);
/* GetCACert; with fingerprint set, refuses a CA that does not match (EXIT_UNTRUSTED). */
int session_fetch_ca(session *s, const char *fingerprint);
/* The certificates saved by `scep getca` in dir. */
int session_load_ca(session *s, const char *dir);

/* GetNextCACert, verified against the current CA; caller frees *next. */
int session_fetch_next_ca(session *s, STACK_OF(X509) * *next);

typedef struct exchange {
    scep_msg_params req;  /* filled by the caller, except nonce, tid and recipient */
    const char *password; /* opens a PasswordRecipientInfo (EC requesters) */
    scep_msg *reply;      /* verified; caller frees with scep_msg_free */
} exchange;

/* Sends one pkiMessage (POST or GET as negotiated) and verifies the reply; returns an exit
 * code, EXIT_OK for any well-formed CertRep (SUCCESS, PENDING or FAILURE). */
int session_exchange(session *s, exchange *x);

/* Prints a FAILURE as one line and returns EXIT_REFUSED. */
int session_report_failure(session *s, const scep_msg *reply);

#endif
