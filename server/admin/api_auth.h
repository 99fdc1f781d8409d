/* Who an admin call comes from, by its "Authorization: Bearer TOKEN" header. */
#ifndef SCEPD_ADMIN_API_AUTH_H
#define SCEPD_ADMIN_API_AUTH_H

#include <microhttpd.h>

#include "store/store.h"

typedef struct api_identity {
    char name[STORE_TOKEN_NAME];
    char role[16]; /* "read" or "operate" */
} api_identity;

/* 1 with *who set when the token is admin_token (may be "": none) or one of st's; 0 when
 * there is none or it matches none; -1 when the store cannot say. */
int api_authenticate(struct MHD_Connection *conn, store *st, const char *admin_token,
                     api_identity *who);

/* The audit actor of who: "token:NAME", or the name itself for a client certificate's
 * identity ("cert:CN"; token names hold no colon). */
void api_actor(const api_identity *who, char *out, size_t outlen);

#endif
