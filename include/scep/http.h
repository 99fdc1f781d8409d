/*
 * The HTTP request codec (RFC 8894 section 4.1 and the draft's section 5): operation and
 * message from a query string or a POST body, and the reverse for clients. Paths are not
 * interpreted: SCEP works on any path.
 */
#ifndef SCEP_HTTP_H
#define SCEP_HTTP_H

#include "scep/scep.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum scep_operation {
    SCEP_OP_UNKNOWN = 0,
    SCEP_OP_GET_CA_CERT = 1,
    SCEP_OP_GET_CA_CAPS = 2,
    SCEP_OP_PKI_OPERATION = 3,
    SCEP_OP_GET_NEXT_CA_CERT = 4,
    SCEP_OP_GET_CA_CERT_CHAIN = 5,
} scep_operation;

/* "GetCACert", "PKIOperation", ...; "unknown" for SCEP_OP_UNKNOWN. */
const char *scep_operation_name(scep_operation op);
/* Exact-case match first, then case-insensitive; SCEP_OP_UNKNOWN when no match. */
scep_operation scep_operation_from_name(const char *name, size_t len);

typedef struct scep_http_request {
    scep_operation operation;
    /* For PKIOperation: the decoded DER/BER bytes of the pkiMessage. For the other operations:
     * the raw "message" parameter text (a CA identifier), percent-decoded. NULL when absent.
     * Owned by the request; free the request with scep_http_request_clear(). */
    unsigned char *message;
    size_t message_len;
} scep_http_request;

void scep_http_request_clear(scep_http_request *req);

/*
 * Parses a raw query string (what follows '?', without it; not yet percent-decoded) of a GET.
 * "operation" is required (SCEP_E_BAD_OPERATION when missing or unknown). For PKIOperation,
 * "message" is required (SCEP_E_MISSING_MESSAGE) and decoded leniently: percent escapes,
 * unescaped '+' and '/', spaces standing for '+', line breaks (raw or %0A/%0D), base64url
 * ('-' and '_'), missing '=' padding. Ceilings: SCEP_MAX_QUERY_BYTES for the query,
 * SCEP_MAX_MESSAGE_BYTES for the decoded message (SCEP_E_TOO_LARGE). A repeated message
 * parameter is SCEP_E_BAD_ENCODING. Outside PKIOperation an empty message counts as absent.
 * query must not be NULL: pass "" for a request without one.
 */
SCEP_WUR scep_err scep_http_parse_query(const char *query, size_t len, scep_http_request *out);

/*
 * Parses a POST: operation from the query string, message = the body as binary DER (any
 * content type). Some clients POST the base64 form instead: a body that is entirely
 * base64 text is decoded (DER always holds bytes outside the base64 alphabet, so the two
 * cannot be confused). Ceilings: SCEP_MAX_BODY_BYTES for the body, SCEP_MAX_MESSAGE_BYTES for
 * the message.
 */
SCEP_WUR scep_err scep_http_parse_post(const char *query, size_t query_len,
                                       const unsigned char *body, size_t body_len,
                                       scep_http_request *out);

/*
 * Decodes one base64 message value leniently (as described for scep_http_parse_query), after
 * the caller has already percent-decoded it. Empty input is SCEP_E_BAD_ENCODING; input above
 * SCEP_MAX_QUERY_BYTES or a result above SCEP_MAX_MESSAGE_BYTES is SCEP_E_TOO_LARGE. Caller
 * frees *out with free().
 */
SCEP_WUR scep_err scep_http_decode_message(const char *text, size_t len, unsigned char **out,
                                           size_t *out_len);

/*
 * Builds a GET URL for a client: base_url (for example "http://ca.example/scep", or one that
 * already holds a '?') + "operation=OP" + "&message=" + standard base64, percent-escaped.
 * message may be NULL (no message parameter) or a text CA identifier for non-PKIOperation
 * requests; for PKIOperation it is the DER message. Caller frees *out with free().
 */
SCEP_WUR scep_err scep_http_build_get_url(const char *base_url, scep_operation op,
                                          const unsigned char *message, size_t message_len,
                                          char **out);

/*
 * Builds the URL of a POST PKIOperation ("base?operation=PKIOperation"). The body is the DER
 * message itself, sent as application/x-pki-message. Caller frees *out with free().
 */
SCEP_WUR scep_err scep_http_build_post_url(const char *base_url, char **out);

/* Content types of SCEP answers. */
#define SCEP_CT_CA_CERT "application/x-x509-ca-cert"
#define SCEP_CT_CA_RA_CERT "application/x-x509-ca-ra-cert"
#define SCEP_CT_CA_RA_CERT_CHAIN "application/x-x509-ca-ra-cert-chain"
#define SCEP_CT_NEXT_CA_CERT "application/x-x509-next-ca-cert"
#define SCEP_CT_PKI_MESSAGE "application/x-pki-message"
#define SCEP_CT_CAPS "text/plain"
#define SCEP_CT_CRL "application/pkix-crl"

#ifdef __cplusplus
}
#endif

#endif
