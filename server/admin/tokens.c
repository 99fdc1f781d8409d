#include "admin/tokens.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "store/csr_at_rest.h"

void token_hash(const char *token, size_t len, char out[STORE_KEY_ID])
{
    store_sha256_hex(token, len, out);
}

int token_role_ok(const char *role)
{
    return role != NULL && (strcmp(role, "read") == 0 || strcmp(role, "operate") == 0);
}

int token_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    return n > 0 && n < STORE_TOKEN_NAME &&
           strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

int token_mint(store *st, const char *name, const char *role, char out[TOKEN_TEXT], char *err,
               size_t errlen)
{
    unsigned char random[32];
    if (RAND_bytes(random, sizeof(random)) != 1) {
        snprintf(err, errlen, "no randomness for a token");
        return -1;
    }
    for (size_t i = 0; i < sizeof(random); i++)
        snprintf(out + 2 * i, 3, "%02x", random[i]);
    OPENSSL_cleanse(random, sizeof(random));
    store_token t = {0};
    snprintf(t.name, sizeof(t.name), "%s", name);
    snprintf(t.role, sizeof(t.role), "%s", role);
    token_hash(out, strlen(out), t.hash);
    store_status s = st->ops->token_add(st, &t);
    if (s == STORE_OK)
        return 0;
    OPENSSL_cleanse(out, TOKEN_TEXT);
    if (s == STORE_EXISTS)
        snprintf(err, errlen, "a token named '%s' exists: remove it first", name);
    else
        snprintf(err, errlen, "%s", st->ops->last_error(st));
    return -1;
}
