/* The bearer token of an admin call: the configured admin_token (an `operate` token named
 * "admin"), or one of the store's, found by the SHA-256 of what was presented and compared in
 * constant time. The token itself is never logged or kept. */
#include "admin/api_auth.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "admin/tokens.h"

#define TOKEN_MAX 512 /* longer is no token of ours */

static void set(api_identity *who, const char *name, const char *role)
{
    snprintf(who->name, sizeof(who->name), "%s", name);
    snprintf(who->role, sizeof(who->role), "%s", role);
}

void api_actor(const api_identity *who, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s%s", strncmp(who->name, "cert:", 5) == 0 ? "" : "token:", who->name);
}

int api_authenticate(struct MHD_Connection *conn, store *st, const char *admin_token,
                     api_identity *who)
{
    memset(who, 0, sizeof(*who));
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    if (auth == NULL || strncmp(auth, "Bearer ", 7) != 0)
        return 0;
    const char *given = auth + 7;
    size_t n = strnlen(given, TOKEN_MAX + 1), mine = strlen(admin_token);
    if (n == 0 || n > TOKEN_MAX)
        return 0;
    if (mine > 0 && n == mine && CRYPTO_memcmp(given, admin_token, n) == 0) {
        set(who, "admin", "operate");
        return 1;
    }
    char hash[STORE_KEY_ID];
    token_hash(given, n, hash);
    store_token t;
    store_status s = st->ops->token_find(st, hash, &t);
    if (s == STORE_NOT_FOUND)
        return 0;
    if (s != STORE_OK)
        return -1;
    if (CRYPTO_memcmp(t.hash, hash, sizeof(hash)) != 0)
        return 0;
    set(who, t.name, t.role);
    return 1;
}
