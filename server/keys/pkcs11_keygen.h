/* A key pair made inside a PKCS#11 token. */
#ifndef SCEPD_PKCS11_KEYGEN_H
#define SCEPD_PKCS11_KEYGEN_H

#include <stddef.h>

/* Makes a key pair of spec (keys_new_pkey's: "rsa:2048", "ec:P-256", ...) in the token of
 * slot_id of module, its halves labelled label with CKA_ID id, the private half sensitive and
 * not extractable. The user must be logged in (any session of the process). 0, or -1. */
int p11_keygen(const char *module, unsigned long slot_id, const char *spec, const char *label,
               const unsigned char *id, size_t id_len, char *err, size_t errlen);

#endif
