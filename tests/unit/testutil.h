/* Test fixtures: keys, a CA, certificates, built in memory with OpenSSL. */
#ifndef SCEP_TESTUTIL_H
#define SCEP_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "scep/scep.h"

/* Keys are cached per process: RSA generation dominates test time otherwise. index picks one
 * of several distinct keys. Borrowed: freed at exit. */
EVP_PKEY *tu_rsa_key(int bits, int index);
EVP_PKEY *tu_ec_key(const char *curve, int index);

/* A certificate for key, signed by issuer/issuer_key (self-signed when issuer is NULL).
 * ku is a KU_* mask (0 for none); is_ca sets basicConstraints CA:TRUE. Caller frees. */
X509 *tu_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key, int is_ca,
              unsigned ku, int days);

/* A test CA: self-signed RSA-2048 root, and an RA certificate it issued. Borrowed. */
typedef struct tu_ca {
    X509 *ca_cert;
    EVP_PKEY *ca_key;
    X509 *ra_cert;
    EVP_PKEY *ra_key;
} tu_ca;
const tu_ca *tu_test_ca(void);

/* A context with or without legacy algorithms; borrowed. */
scep_ctx *tu_ctx(int legacy);

/* Reads a whole file (for vectors). Caller frees with free(). Fails the test when missing. */
unsigned char *tu_read_file(const char *path, size_t *len);
X509 *tu_read_cert(const char *path);
EVP_PKEY *tu_read_key(const char *path);

#endif
