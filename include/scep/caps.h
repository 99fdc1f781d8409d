/*
 * GetCACaps (RFC 8894 section 3.5.2): the capability list, its text form, and algorithm
 * negotiation from it.
 */
#ifndef SCEP_CAPS_H
#define SCEP_CAPS_H

#include "scep/scep.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum scep_cap {
    SCEP_CAP_AES = 1u << 0,
    SCEP_CAP_DES3 = 1u << 1,
    SCEP_CAP_GET_NEXT_CA_CERT = 1u << 2,
    SCEP_CAP_POST_PKI_OPERATION = 1u << 3,
    SCEP_CAP_RENEWAL = 1u << 4,
    SCEP_CAP_SHA1 = 1u << 5,
    SCEP_CAP_SHA224 = 1u << 6,
    SCEP_CAP_SHA256 = 1u << 7,
    SCEP_CAP_SHA384 = 1u << 8,
    SCEP_CAP_SHA512 = 1u << 9,
    SCEP_CAP_SCEP_STANDARD = 1u << 10,
    SCEP_CAP_UPDATE = 1u << 11, /* draft: "Update" (renewal by an older name) */
} scep_cap;

typedef uint32_t scep_caps;

/*
 * Formats caps as GetCACaps text: one keyword per line in RFC spelling, each line ended by LF.
 * SCEPStandard does not hide the keywords it implies: each is listed on its own too, since
 * Apple devices look for the literal words. Caller frees *out with free().
 */
SCEP_WUR scep_err scep_caps_format(scep_caps caps, char **out, size_t *out_len);

/*
 * Parses GetCACaps text: keywords case-insensitive, separated by LF, CRLF, spaces or tabs;
 * unknown keywords ignored. SCEPStandard implies AES, POSTPKIOperation and SHA-256.
 * Refuses text above SCEP_MAX_CAPS_BYTES or with NUL bytes (SCEP_E_TOO_LARGE, _BAD_ENCODING).
 */
SCEP_WUR scep_err scep_caps_parse(const char *text, size_t len, scep_caps *out);

typedef struct scep_negotiated {
    scep_cipher cipher;
    scep_digest digest;
    int use_post; /* 1 for POST, 0 for GET */
} scep_negotiated;

/*
 * Picks what a client should use with a server offering caps: AES-128-CBC, else 3DES; SHA-256,
 * else SHA-512, SHA-384, SHA-224, SHA-1; POST when POSTPKIOperation is offered. Falls back to
 * single DES / MD5 (what a server with no caps supports) only when ctx allows legacy
 * algorithms; otherwise returns SCEP_E_NEGOTIATION.
 */
SCEP_WUR scep_err scep_caps_negotiate(const scep_ctx *ctx, scep_caps caps, scep_negotiated *out);

#ifdef __cplusplus
}
#endif

#endif
