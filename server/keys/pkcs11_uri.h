/* RFC 7512 pkcs11: URIs as scepd takes them: which token, which key, and where the module and
 * the PIN are (never the PIN itself). */
#ifndef SCEPD_PKCS11_URI_H
#define SCEPD_PKCS11_URI_H

#include <stddef.h>

#define P11_URI_PATH 1024

typedef struct p11_uri {
    char token[64];  /* CKA_LABEL of the token (32 bytes in PKCS#11, padded with spaces) */
    char serial[32]; /* the token's serial number */
    char object[128];
    unsigned char id[64];
    size_t id_len;
    char module[P11_URI_PATH];   /* module-path=: the module's file */
    char pin_file[P11_URI_PATH]; /* pin-source=file:...: the file that holds the PIN */
} p11_uri;

/* Whether text is a pkcs11: URI. */
int p11_uri_is(const char *text);
/* Reads text into *u. A PIN in the URI (pin-value) and unknown attributes are refused, a type
 * other than private too. 0, or -1 with a reason that names the attribute. */
int p11_uri_parse(const char *text, p11_uri *u, char *err, size_t errlen);
/* The URI of the key of u (token, serial, object, id; no module, no PIN source) into out.
 * 0, or -1 when out is too small. */
int p11_uri_format(const p11_uri *u, char *out, size_t outlen);

#endif
