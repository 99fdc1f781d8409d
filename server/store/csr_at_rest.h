/*
 * The CSR as the store keeps it: without its challengePassword attribute, which would
 * otherwise sit in cleartext in every copy of the database, and with the SHA-256 of the DER
 * the requester sent, by which a resend of the same request is recognised. The kept CSR no
 * longer verifies (its signature covered the challenge); it was verified when it came in.
 */
#ifndef SCEPD_CSR_AT_REST_H
#define SCEPD_CSR_AT_REST_H

#include <stddef.h>

#include <openssl/x509.h>

#include "store/store.h"

/* Upper-case hex SHA-256 of data (64 digits); "" when the digest fails. */
void store_sha256_hex(const void *data, size_t len, char out[STORE_KEY_ID]);

/* Removes every challengePassword attribute from csr; returns how many it removed. */
int store_csr_drop_challenge(X509_REQ *csr);

/*
 * The DER to keep for a stored CSR der: *out (caller frees with OPENSSL_free) without the
 * challenge. Returns 1 when it removed one, 0 when der holds none or does not decode (*out
 * NULL: keep der as it is), -1 when out of memory.
 */
int store_csr_strip_der(const unsigned char *der, size_t len, unsigned char **out, size_t *out_len);

#endif
