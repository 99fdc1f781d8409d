/* The fuzzers' CA key and certificate (keys.c), PEM. */
#ifndef SCEP_FUZZ_KEYS_H
#define SCEP_FUZZ_KEYS_H

extern const char fuzz_ca_key_pem[];
extern const char fuzz_ca_cert_pem[];

#endif
