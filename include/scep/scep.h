/*
 * libscep: the Simple Certificate Enrollment Protocol (RFC 8894 and the Cisco draft it grew
 * from) as pure functions over bytes and OpenSSL objects.
 *
 * Conventions that hold for every function unless its comment says otherwise:
 *
 * - Errors: functions return scep_err (SCEP_OK is 0). Out-parameters are cleared on entry and
 *   written only on success, so a caller never frees half a result.
 * - Ownership: "caller frees with X" means the result is new and owned by the caller;
 *   "borrowed" means the pointer stays owned by its source and lives as long as the source.
 *   OpenSSL objects passed in are never freed or modified by the library; it takes its own
 *   references when it keeps them.
 * - NULL: pointer parameters are required unless documented "may be NULL". Passing NULL
 *   where one is required is programmer misuse and returns SCEP_E_INVALID_ARG.
 * - Threads: a scep_ctx is immutable after scep_ctx_new() and may be shared by any number of
 *   threads. Every other object belongs to one thread at a time.
 * - No I/O: the library never opens files or sockets, never prints and never exits. It keeps
 *   no global mutable state: OpenSSL objects it needs (OIDs, algorithms) are resolved per call
 *   or per context.
 * - Limits: every input from a peer is bounded by the ceilings in scep/limits.h before OpenSSL
 *   sees it.
 */
#ifndef SCEP_SCEP_H
#define SCEP_SCEP_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "scep/errors.h"
#include "scep/limits.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SCEP_VERSION_STRING "0.1.0"

/* Algorithms a SCEP peer may use. Values are stable; 0 means "not set". */
typedef enum scep_cipher {
    SCEP_CIPHER_NONE = 0,
    SCEP_CIPHER_AES128_CBC = 1,
    SCEP_CIPHER_AES192_CBC = 2,
    SCEP_CIPHER_AES256_CBC = 3,
    SCEP_CIPHER_DES3_CBC = 4,
    SCEP_CIPHER_DES_CBC = 5, /* legacy only (RFC 8894 section 2.9) */
} scep_cipher;

typedef enum scep_digest {
    SCEP_DIGEST_NONE = 0,
    SCEP_DIGEST_SHA1 = 1,
    SCEP_DIGEST_SHA224 = 2,
    SCEP_DIGEST_SHA256 = 3,
    SCEP_DIGEST_SHA384 = 4,
    SCEP_DIGEST_SHA512 = 5,
    SCEP_DIGEST_MD5 = 6, /* legacy only (RFC 8894 section 2.9) */
} scep_digest;

/* Log levels for the optional log callback. */
typedef enum scep_log_level {
    SCEP_LOG_ERROR = 0,
    SCEP_LOG_WARN = 1,
    SCEP_LOG_INFO = 2,
    SCEP_LOG_DEBUG = 3,
} scep_log_level;

typedef void (*scep_log_fn)(void *arg, scep_log_level level, const char *message);

typedef struct scep_ctx_options {
    /* Accept and produce single DES and MD5. Off by default: RFC 8894 section 2.9 forbids
     * them, but old devices and micromdm's client know nothing else. Turning it on loads
     * OpenSSL's legacy provider into the context's own library context. */
    int allow_legacy;
    /* May be NULL. Called from the thread that called into the library. */
    scep_log_fn log;
    void *log_arg;
} scep_ctx_options;

typedef struct scep_ctx scep_ctx;

/* Creates a context. opts may be NULL for defaults. Caller frees with scep_ctx_free. */
SCEP_WUR scep_err scep_ctx_new(const scep_ctx_options *opts, scep_ctx **out);
void scep_ctx_free(scep_ctx *ctx);

/* Borrowed: the OpenSSL library context the library uses for algorithm fetches (NULL means
 * OpenSSL's default context). Keys for scep_* calls may come from any library context. */
OSSL_LIB_CTX *scep_ctx_libctx(const scep_ctx *ctx);
int scep_ctx_allows_legacy(const scep_ctx *ctx);

/* Whether the context accepts the algorithm (legacy ones only with allow_legacy). */
int scep_cipher_allowed(const scep_ctx *ctx, scep_cipher cipher);
int scep_digest_allowed(const scep_ctx *ctx, scep_digest digest);

/* Names as GetCACaps and logs spell them ("AES-128-CBC", "SHA-256"); never NULL. */
const char *scep_cipher_name(scep_cipher cipher);
const char *scep_digest_name(scep_digest digest);
/* Parses a name as the command lines take it ("aes128", "aes-256-cbc", "des3", "sha256",
 * "SHA-1", ...); returns SCEP_CIPHER_NONE / SCEP_DIGEST_NONE when unknown. */
scep_cipher scep_cipher_from_name(const char *name);
scep_digest scep_digest_from_name(const char *name);

#ifdef __cplusplus
}
#endif

#include "scep/caps.h"
#include "scep/certs.h"
#include "scep/http.h"
#include "scep/message.h"

#endif
