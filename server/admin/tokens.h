/* Admin API tokens: minted here, kept in the store only as a SHA-256 hash, each with a role
 * (`read` may GET, `operate` may also change things). `scepd token` and the API share this. */
#ifndef SCEPD_ADMIN_TOKENS_H
#define SCEPD_ADMIN_TOKENS_H

#include <stddef.h>

#include "store/store.h"

#define TOKEN_TEXT 65 /* 32 random bytes in hex + NUL */

/* The store's key for a presented token: upper-case hex SHA-256. */
void token_hash(const char *token, size_t len, char out[STORE_KEY_ID]);
/* Whether role is "read" or "operate". */
int token_role_ok(const char *role);
/* Whether name is 1-63 of [A-Za-z0-9._-]. */
int token_name_ok(const char *name);
/* Mints a token named name with role and stores its hash; the token (shown once) goes to
 * out. 0; -1 with a reason in err (a taken name says so). */
int token_mint(store *st, const char *name, const char *role, char out[TOKEN_TEXT], char *err,
               size_t errlen);

#endif
