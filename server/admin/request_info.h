/* What an approver sees of a stored request, read from its CSR: the key and the
 * subjectAltName as single tokens (no spaces), for `scepd pending` and `scepd show-request`. */
#ifndef SCEPD_REQUEST_INFO_H
#define SCEPD_REQUEST_INFO_H

#include <stddef.h>

#include <openssl/x509.h>

#include "store/store.h"

/* The request's CSR, decoded from the store; NULL when it is missing or unreadable. Caller
 * frees with X509_REQ_free(). */
X509_REQ *request_info_csr(const store_request *r);

/* "RSA-2048", "EC-P-256", "ED25519-256"; "?" when the key cannot be read. */
void request_info_key(X509_REQ *csr, char *buf, size_t len);

/* The requested subjectAltName in the form `scep enroll --san` takes:
 * "DNS:a.example,IP:192.0.2.7,email:a@example,URI:https://x"; other kinds by OpenSSL's
 * names. Bytes that could mislead a reader or a script (spaces, commas, backslashes, control
 * and non-ASCII bytes) are written as \xHH. "-" when there is none; ends in "..." when cut. */
void request_info_san(X509_REQ *csr, char *buf, size_t len);

#endif
