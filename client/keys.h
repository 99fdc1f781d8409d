/* The requester's key and request: load or generate a key, build its CSR and self-signed
 * signer. */
#ifndef SCEP_CLIENT_KEYS_H
#define SCEP_CLIENT_KEYS_H

#include "session.h"

/* Loads path, or generates a key of type spec ("rsa:2048", "rsa:3072", "rsa:4096",
 * "ec:P-256", "ec:P-384") and saves it there 0600. NULL with a message in err. */
EVP_PKEY *keys_load_or_generate(const char *path, const char *spec, int *generated, char *err,
                                size_t errlen);

/* "sign", "encrypt", "both" -> a keyUsage mask for the CSR; 0 for NULL; -1 when unknown. */
int keys_usage_mask(const char *text);

/* Reads a challenge from a file (first line). 0 or -1. */
int keys_read_challenge(const char *path, char *buf, size_t buflen);

#endif
