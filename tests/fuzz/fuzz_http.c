/* libFuzzer: the HTTP request codec. The input is a query string, and also (split at its first
 * NUL) a POST's query and body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scep/scep.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What a server parsed, a client must be able to send again: same operation, same bytes. */
static void check_round_trip(const scep_http_request *req)
{
    char *url = NULL;
    scep_http_request back;
    if (req->operation == SCEP_OP_PKI_OPERATION && req->message_len == 0)
        abort();
    if (req->message_len > SCEP_MAX_MESSAGE_BYTES) /* a huge CA identifier: not for clients */
        return;
    if (scep_http_build_get_url("http://ca/scep?x=1", req->operation, req->message,
                                req->message_len, &url) != SCEP_OK)
        abort();
    const char *query = strchr(url, '?') + 1;
    if (scep_http_parse_query(query, strlen(query), &back) != SCEP_OK ||
        back.operation != req->operation || back.message_len != req->message_len ||
        (back.message == NULL) != (req->message == NULL) ||
        (req->message_len > 0 && memcmp(back.message, req->message, req->message_len) != 0))
        abort();
    scep_http_request_clear(&back);
    free(url);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    scep_http_request req;
    if (scep_http_parse_query(text, size, &req) == SCEP_OK) {
        check_round_trip(&req);
        scep_http_request_clear(&req);
    }
    const uint8_t *nul = memchr(data, 0, size);
    size_t query_len = nul ? (size_t)(nul - data) : size;
    size_t body_len = nul ? size - query_len - 1 : 0;
    if (scep_http_parse_post(text, query_len, nul ? nul + 1 : NULL, body_len, &req) == SCEP_OK)
        scep_http_request_clear(&req);
    return 0;
}
