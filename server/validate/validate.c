/* The webhook call: the signed POST with libcurl, its deadline and retry, and the verdict. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "validate/validate.h"

#define VALIDATE_ATTEMPTS 2 /* on a refused connection or a 5xx, never on a clear answer */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_started = CURLE_FAILED_INIT;

static void curl_start(void)
{
    curl_started = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void hex(const unsigned char *in, size_t len, char *out)
{
    for (size_t i = 0; i < len; i++)
        snprintf(out + 2 * i, 3, "%02x", in[i]);
}

int validate_signature(const char *secret, const char *body, size_t len, char *out, size_t outlen)
{
    unsigned char mac[32];
    size_t maclen = 0;
    if (outlen < 7 + 2 * sizeof(mac) + 1 ||
        EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, secret, strlen(secret),
                  (const unsigned char *)body, len, mac, sizeof(mac), &maclen) == NULL ||
        maclen != sizeof(mac))
        return -1;
    memcpy(out, "sha256=", 7);
    hex(mac, maclen, out + 7);
    return 0;
}

/* The answer's body, up to VALIDATE_MAX_ANSWER bytes: a longer one ends the transfer. */
typedef struct answer {
    char *data;
    size_t len;
    int too_long;
} answer;

static size_t take(char *ptr, size_t size, size_t n, void *arg)
{
    answer *a = arg;
    size_t bytes = size * n;
    if (bytes > VALIDATE_MAX_ANSWER - a->len) {
        a->too_long = 1;
        return 0;
    }
    memcpy(a->data + a->len, ptr, bytes);
    a->len += bytes;
    return bytes;
}

static long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* One POST: curl's result, with the HTTP status in *status and the curl error text in cerr. */
static CURLcode post_once(const validate_settings *s, const char *body, struct curl_slist *headers,
                          long timeout_ms, answer *a, long *status, char cerr[CURL_ERROR_SIZE])
{
    CURL *h = curl_easy_init();
    if (h == NULL)
        return CURLE_FAILED_INIT;
    a->len = 0;
    a->too_long = 0;
    cerr[0] = '\0';
    curl_easy_setopt(h, CURLOPT_URL, s->url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L); /* a worker thread: no SIGALRM */
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "scepd");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, take);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
    /* Loopback http never goes through a proxy of the environment (https_proxy may). */
    curl_easy_setopt(h, CURLOPT_NOPROXY, "127.0.0.1,::1");
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (s->ca_path[0] != '\0')
        curl_easy_setopt(h, CURLOPT_CAINFO, s->ca_path);
    CURLcode rc = curl_easy_perform(h);
    *status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    curl_easy_cleanup(h);
    return rc;
}

/* The POST, a second time after a refused connection or a 5xx while the deadline allows. */
static CURLcode post(const validate_settings *s, const char *body, struct curl_slist *headers,
                     answer *a, long *status, char cerr[CURL_ERROR_SIZE])
{
    long long deadline = now_ms() + (long long)s->timeout * 1000;
    CURLcode rc = CURLE_OPERATION_TIMEDOUT;
    for (int attempt = 0; attempt < VALIDATE_ATTEMPTS; attempt++) {
        long long left = deadline - now_ms();
        if (left <= 0)
            break;
        rc = post_once(s, body, headers, (long)left, a, status, cerr);
        int again = rc == CURLE_COULDNT_CONNECT || (rc == CURLE_OK && *status >= 500);
        if (!again)
            break;
    }
    return rc;
}

/* The answer as a verdict, or UNAVAILABLE with why. */
static validate_result judge(CURLcode rc, long status, const answer *a, const char *cerr,
                             validate_verdict *v, char *err, size_t errlen)
{
    char why[256];
    if (a->too_long)
        snprintf(err, errlen, "validation service: the answer is longer than %d bytes",
                 VALIDATE_MAX_ANSWER);
    else if (rc != CURLE_OK)
        snprintf(err, errlen, "validation service: %s", cerr[0] ? cerr : curl_easy_strerror(rc));
    else if (status < 200 || status > 299)
        snprintf(err, errlen, "validation service answered HTTP %ld", status);
    else if (validate_parse_answer(a->data, a->len, v, why, sizeof(why)) != 0)
        snprintf(err, errlen, "validation service: bad answer: %s", why);
    else
        return v->result;
    validate_verdict_clear(v);
    v->result = VALIDATE_UNAVAILABLE;
    return VALIDATE_UNAVAILABLE;
}

/* The headers of a signed document, or NULL. */
static struct curl_slist *signed_headers(const validate_settings *s, const char *body)
{
    char sig[80], line[128];
    if (validate_signature(s->secret, body, strlen(body), sig, sizeof(sig)) != 0)
        return NULL;
    snprintf(line, sizeof(line), "X-Scep-Signature: %s", sig);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    struct curl_slist *all = h ? curl_slist_append(h, line) : NULL;
    /* No "Expect: 100-continue" wait before a body over 1 KiB. */
    all = all ? curl_slist_append(all, "Expect:") : NULL;
    if (all == NULL)
        curl_slist_free_all(h);
    return all;
}

/* The document for in with a fresh id, or NULL. */
static char *new_document(const validate_input *in)
{
    unsigned char raw[16];
    char id[2 * sizeof(raw) + 1];
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return NULL;
    hex(raw, sizeof(raw), id);
    return validate_document(in, id, (long long)time(NULL));
}

validate_result validate_request(const validate_settings *s, const validate_input *in,
                                 validate_verdict *v, char *err, size_t errlen)
{
    memset(v, 0, sizeof(*v));
    v->result = VALIDATE_UNAVAILABLE;
    snprintf(err, errlen, "validation service: cannot build the request");
    pthread_once(&curl_once, curl_start);
    char *body = curl_started == CURLE_OK ? new_document(in) : NULL;
    struct curl_slist *headers = body ? signed_headers(s, body) : NULL;
    answer a = {malloc(VALIDATE_MAX_ANSWER), 0, 0};
    if (headers != NULL && a.data != NULL) {
        long status = 0;
        char cerr[CURL_ERROR_SIZE];
        CURLcode rc = post(s, body, headers, &a, &status, cerr);
        judge(rc, status, &a, cerr, v, err, errlen);
    }
    free(a.data);
    curl_slist_free_all(headers);
    if (body != NULL)
        OPENSSL_cleanse(body, strlen(body)); /* it holds the challenge */
    free(body);
    return v->result;
}
