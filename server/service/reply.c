/* Building and freeing a reply. */
#include "service/reply.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

void reply_init(reply *r)
{
    memset(r, 0, sizeof(*r));
    r->fail_info = SCEP_FAIL_INFO_NONE;
    r->outcome = "error";
}

void reply_free(reply *r)
{
    if (!r->body_static)
        OPENSSL_free(r->body);
    r->body = NULL;
}

void reply_text(reply *r, int status, const char *text)
{
    reply_free(r);
    size_t n = strlen(text);
    r->body = OPENSSL_malloc(n + 1);
    if (r->body != NULL) {
        memcpy(r->body, text, n);
        r->body[n] = '\n';
        r->body_len = n + 1;
    }
    r->body_static = 0;
    r->http_status = status;
    r->content_type = "text/plain";
    r->outcome = "error";
    snprintf(r->detail, sizeof(r->detail), "%s", text);
}
