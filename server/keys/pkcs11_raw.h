/* What scepd asks of a PKCS#11 module itself, beside libp11: its function list, and one
 * session per token that stays open (libp11 caches whether it logged in; this session tells
 * the truth, and keeps the login while the token is there). */
#ifndef SCEPD_PKCS11_RAW_H
#define SCEPD_PKCS11_RAW_H

#include <stddef.h>

#include <p11-kit/pkcs11.h>

/* The name of a PKCS#11 return value ("CKR_PIN_INCORRECT"), or "a PKCS#11 error". */
const char *p11_ckr_name(unsigned long rv);

/* The function list of module (a file dlopen finds), initialised (libp11 did that already: both
 * ask the same module, which counts one application per process). NULL when it cannot be. */
CK_FUNCTION_LIST *p11_functions(const char *module);

/* Opens the anchor session of slot_id into *session. 0, or -1. */
int p11_anchor_open(const char *module, unsigned long slot_id, unsigned long *session);
void p11_anchor_close(const char *module, unsigned long session);
/* Whether the anchor session is open with the user logged in: 0. When the token lost the
 * session or the login, opens it again and logs in with pin: 1 with why saying so (the
 * operation that failed did fail; the token's object handles may be gone), or -1 with why the
 * token does not answer. */
int p11_anchor_check(const char *module, unsigned long slot_id, unsigned long *session,
                     const char *pin, const char *label, char *why, size_t len);

#endif
