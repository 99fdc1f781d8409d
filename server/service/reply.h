/* The answer to one HTTP request, as the service builds it and the HTTP glue sends and logs
 * it. Knows nothing of the server, the CA or the store. */
#ifndef SCEPD_REPLY_H
#define SCEPD_REPLY_H

#include <stddef.h>

#include "scep/scep.h"

/* The answer to one HTTP request, and what the log line says about it. */
typedef struct reply {
    int http_status;
    const char *content_type;
    unsigned char *body; /* owned unless body_static */
    size_t body_len;
    int body_static;
    /* For the log line. */
    int msg_type;
    char transaction_id[SCEP_MAX_TRANSACTION_ID + 1];
    const char *outcome; /* "SUCCESS", "PENDING", "FAILURE", "ok", "error" */
    int fail_info;
    char detail[192];
    /* Who asked (the HTTP layer's peer address, borrowed; NULL when unknown), for the
     * request's record. */
    const char *peer;
    /* The profile: the HTTP layer's from the path (/scep/NAME; "" for the default), the one
     * chosen once the service answered (also by GetCACert's message), for the log line. */
    char profile[33];
} reply;

void reply_init(reply *r);
void reply_free(reply *r);
/* A plain-text HTTP error: status and a short sentence. */
void reply_text(reply *r, int status, const char *text);

#endif
