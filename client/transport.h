/* How the client talks HTTP: a small interface with a libcurl backend (tests can swap in
 * another). Bodies are bounded; nothing here knows SCEP. */
#ifndef SCEP_CLIENT_TRANSPORT_H
#define SCEP_CLIENT_TRANSPORT_H

#include <stddef.h>

#define TRANSPORT_MAX_BODY (1024u * 1024u)

typedef struct http_response {
    long status;
    char content_type[128]; /* lower case, parameters (";charset=...") removed */
    unsigned char *body;    /* malloc'd, NUL-terminated for convenience; len excludes it */
    size_t len;
} http_response;

void http_response_clear(http_response *r);

#define TRANSPORT_NO_REPLY (-2)

typedef struct transport transport;

typedef struct transport_ops {
    /* 0 on a completed HTTP exchange (any status); -1 with a reason on transport failure;
     * TRANSPORT_NO_REPLY when the server closed the connection without answering. */
    int (*get)(transport *t, const char *url, http_response *out, char *err, size_t errlen);
    int (*post)(transport *t, const char *url, const unsigned char *body, size_t len,
                const char *content_type, http_response *out, char *err, size_t errlen);
    void (*destroy)(transport *t);
} transport_ops;

struct transport {
    const transport_ops *ops;
};

typedef struct transport_options {
    const char *ca_bundle; /* HTTPS: trust these CAs (default: the system's) */
    const char *proxy;     /* default: from the environment (http_proxy, ...) */
    long timeout;          /* seconds for a whole exchange */
    int verbose;           /* print each exchange on stderr */
} transport_options;

transport *transport_curl_new(const transport_options *o, char *err, size_t errlen);

#endif
