/* Tokens of PKCS#11 modules, through libp11: each module loaded once, each token logged in
 * once, for the whole process. libp11 keeps a pool of sessions per token and hands each
 * operation a session of its own, so worker threads never share one at once. */
#ifndef SCEPD_PKCS11_TOKEN_H
#define SCEPD_PKCS11_TOKEN_H

#include <stddef.h>

#include "keys/pkcs11_uri.h"

/* Built without OPENSSL_NO_DEPRECATED (CMakeLists.txt): libp11.h names RSA_METHOD. */
#include <libp11.h>

typedef struct p11_token {
    char module[P11_URI_PATH];
    PKCS11_CTX *ctx;
    int loaded; /* the module is loaded (and initialised) in ctx */
    PKCS11_SLOT *slots;
    unsigned n_slots;
    PKCS11_SLOT *slot; /* the token's, among slots */
    char label[64], serial[32];
    unsigned long slot_id;
    unsigned long anchor; /* a session that stays open: the login's truth (pkcs11_raw.h) */
    int anchor_open;
    int stale;     /* it went away and came back: its keys must be opened again */
    char pin[256]; /* for a login again after the token lost it */
} p11_token;

/* The token u names, its module loaded and the user logged in (once). The module and the PIN
 * file come from u, else from the settings (keys_pkcs11_settings). NULL with a reason (never
 * the PIN). */
p11_token *p11_token_open(const p11_uri *u, char *err, size_t errlen);
/* Serialises what libp11 does not (its key lists), for the caller's find-and-use. */
void p11_lock(void);
void p11_unlock(void);
/* What the last PKCS#11 error on OpenSSL's queue was ("CKR_PIN_INCORRECT"), or "" . */
const char *p11_last_ckr(void);

#endif
