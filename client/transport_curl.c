/* The libcurl transport. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "transport.h"

typedef struct curl_transport {
    transport base;
    transport_options opts;
    CURL *curl;
    char detail[CURL_ERROR_SIZE]; /* libcurl's own words for the last failure */
} curl_transport;

typedef struct sink {
    unsigned char *buf;
    size_t len;
    int too_large;
} sink;

void http_response_clear(http_response *r)
{
    free(r->body);
    memset(r, 0, sizeof(*r));
}

static size_t on_data(char *data, size_t size, size_t n, void *arg)
{
    sink *s = arg;
    size_t len = size * n;
    if (len > TRANSPORT_MAX_BODY - s->len) {
        s->too_large = 1;
        return 0; /* aborts the transfer */
    }
    unsigned char *grown = realloc(s->buf, s->len + len + 1);
    if (grown == NULL)
        return 0;
    memcpy(grown + s->len, data, len);
    s->buf = grown;
    s->len += len;
    s->buf[s->len] = '\0';
    return len;
}

static void content_type_of(CURL *curl, char *out, size_t outlen)
{
    char *ct = NULL;
    out[0] = '\0';
    if (curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &ct) != CURLE_OK || ct == NULL)
        return;
    size_t n = 0;
    for (; ct[n] != '\0' && ct[n] != ';' && ct[n] != ' ' && n + 1 < outlen; n++)
        out[n] = (char)tolower((unsigned char)ct[n]);
    out[n] = '\0';
}

static void set_common(curl_transport *t, const char *url, sink *s)
{
    CURL *c = t->curl;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    t->detail[0] = '\0';
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, t->detail);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, t->opts.timeout > 0 ? t->opts.timeout : 60L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 15L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "scep/0.1");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    /* SCEP servers do not redirect; following one could leak a request elsewhere. */
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    if (t->opts.ca_bundle != NULL)
        curl_easy_setopt(c, CURLOPT_CAINFO, t->opts.ca_bundle);
    if (t->opts.proxy != NULL)
        curl_easy_setopt(c, CURLOPT_PROXY, t->opts.proxy);
}

static int perform(curl_transport *t, const char *method, const char *url, sink *s,
                   http_response *out, char *err, size_t errlen)
{
    CURLcode rc = curl_easy_perform(t->curl);
    if (rc != CURLE_OK) {
        /* The error buffer says which check failed (an unknown issuer, another host name);
         * the code's text alone does not. */
        snprintf(err, errlen, "%s %s: %s", method, url,
                 s->too_large           ? "reply larger than 1 MiB"
                 : t->detail[0] != '\0' ? t->detail
                                        : curl_easy_strerror(rc));
        free(s->buf);
        return rc == CURLE_GOT_NOTHING || rc == CURLE_RECV_ERROR ? TRANSPORT_NO_REPLY : -1;
    }
    memset(out, 0, sizeof(*out));
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &out->status);
    content_type_of(t->curl, out->content_type, sizeof(out->content_type));
    out->body = s->buf;
    out->len = s->len;
    if (t->opts.verbose)
        fprintf(stderr, "scep: %s %.120s%s -> HTTP %ld, %s, %zu bytes\n", method, url,
                strlen(url) > 120 ? "..." : "", out->status,
                out->content_type[0] ? out->content_type : "no content type", out->len);
    return 0;
}

static int curl_get(transport *base, const char *url, http_response *out, char *err, size_t errlen)
{
    curl_transport *t = (curl_transport *)base;
    sink s = {0};
    set_common(t, url, &s);
    curl_easy_setopt(t->curl, CURLOPT_HTTPGET, 1L);
    return perform(t, "GET", url, &s, out, err, errlen);
}

static int curl_post(transport *base, const char *url, const unsigned char *body, size_t len,
                     const char *content_type, http_response *out, char *err, size_t errlen)
{
    curl_transport *t = (curl_transport *)base;
    sink s = {0};
    set_common(t, url, &s);
    char header[160];
    snprintf(header, sizeof(header), "Content-Type: %s", content_type);
    struct curl_slist *headers = curl_slist_append(NULL, header);
    curl_easy_setopt(t->curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(t->curl, CURLOPT_POSTFIELDS, (const char *)body);
    curl_easy_setopt(t->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    int rc = perform(t, "POST", url, &s, out, err, errlen);
    curl_slist_free_all(headers);
    return rc;
}

static void curl_destroy(transport *base)
{
    curl_transport *t = (curl_transport *)base;
    curl_easy_cleanup(t->curl);
    free(t);
}

static const transport_ops curl_ops = {curl_get, curl_post, curl_destroy};

transport *transport_curl_new(const transport_options *o, char *err, size_t errlen)
{
    curl_transport *t = calloc(1, sizeof(*t));
    if (t == NULL || (t->curl = curl_easy_init()) == NULL) {
        snprintf(err, errlen, "cannot start libcurl");
        free(t);
        return NULL;
    }
    t->base.ops = &curl_ops;
    t->opts = *o;
    return &t->base;
}
