/* The SCEP HTTP request codec (RFC 8894 section 4.1): operation and message out of a query
 * string or a POST body, leniently, as field clients send them; and the URLs a client sends. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "internal.h"

typedef struct operation_row {
    scep_operation op;
    const char *name;
} operation_row;

static const operation_row operation_table[] = {
    {SCEP_OP_GET_CA_CERT, "GetCACert"},
    {SCEP_OP_GET_CA_CAPS, "GetCACaps"},
    {SCEP_OP_PKI_OPERATION, "PKIOperation"},
    {SCEP_OP_GET_NEXT_CA_CERT, "GetNextCACert"},
    {SCEP_OP_GET_CA_CERT_CHAIN, "GetCACertChain"},
};

#define N_OPERATIONS (sizeof(operation_table) / sizeof(operation_table[0]))

static const char *known_operation_name(scep_operation op)
{
    for (size_t i = 0; i < N_OPERATIONS; i++)
        if (operation_table[i].op == op)
            return operation_table[i].name;
    return NULL;
}

const char *scep_operation_name(scep_operation op)
{
    const char *name = known_operation_name(op);
    return name ? name : "unknown";
}

static scep_operation operation_matching(const char *name, size_t len, int exact_case)
{
    for (size_t i = 0; i < N_OPERATIONS; i++) {
        const char *candidate = operation_table[i].name;
        if (strlen(candidate) != len)
            continue;
        if (exact_case ? memcmp(candidate, name, len) == 0 : strncasecmp(candidate, name, len) == 0)
            return operation_table[i].op;
    }
    return SCEP_OP_UNKNOWN;
}

scep_operation scep_operation_from_name(const char *name, size_t len)
{
    if (name == NULL)
        return SCEP_OP_UNKNOWN;
    scep_operation op = operation_matching(name, len, 1);
    return op != SCEP_OP_UNKNOWN ? op : operation_matching(name, len, 0);
}

void scep_http_request_clear(scep_http_request *req)
{
    if (req == NULL)
        return;
    free(req->message);
    memset(req, 0, sizeof(*req));
}

/* ---- Percent escapes ---------------------------------------------------------------------- */

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes %XX escapes of in into out (room for len bytes) and returns the length written. A
 * '%' without two hex digits stays as it is: the decoder after us judges it. '+' stays '+'
 * because in a SCEP message it is base64, not a form-encoded space. */
static size_t percent_decode(const char *in, size_t len, char *out)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        int hi = -1, lo = -1;
        if (in[i] == '%' && len - i > 2) {
            hi = hex_value(in[i + 1]);
            lo = hex_value(in[i + 2]);
        }
        if (hi >= 0 && lo >= 0) {
            out[n++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[n++] = in[i];
        }
    }
    return n;
}

/* ---- Lenient base64 ----------------------------------------------------------------------- */

/* In a GET, a space is a '+' that went through form decoding; in a POST body it is layout. */
typedef enum space_rule { SPACE_MEANS_PLUS, SPACE_IS_LAYOUT } space_rule;

/* The standard-alphabet character that c stands for, 0 for layout to skip, -1 for a
 * character that has no place in base64 ('=' is handled by the caller). */
static int base64_char(char c, space_rule spaces)
{
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
        c == '/')
        return c;
    switch (c) {
    case '-': /* base64url */
        return '+';
    case '_':
        return '/';
    case ' ':
        return spaces == SPACE_MEANS_PLUS ? '+' : 0;
    case '\r':
    case '\n':
    case '\t':
        return 0;
    default:
        return -1;
    }
}

/* Bytes that n base64 characters (no padding) decode to. */
static size_t base64_decoded_len(size_t n)
{
    return n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
}

static scep_err check_base64_shape(size_t chars, size_t pads)
{
    size_t missing = (4 - chars % 4) % 4;
    if (chars == 0 || chars % 4 == 1 || pads > missing)
        return SCEP_E_BAD_ENCODING;
    if (base64_decoded_len(chars) > SCEP_MAX_MESSAGE_BYTES)
        return SCEP_E_TOO_LARGE;
    return SCEP_OK;
}

/* Rewrites text as standard, padded base64 without layout into a new NUL-terminated
 * buffer, so that OpenSSL's strict decoder accepts what field clients send. */
static scep_err normalize_base64(const char *text, size_t len, space_rule spaces, char **out,
                                 size_t *out_len)
{
    char *norm = malloc(len + 4); /* len <= SCEP_MAX_QUERY_BYTES: no wrap */
    if (norm == NULL)
        return SCEP_E_NOMEM;
    size_t chars = 0, pads = 0;
    scep_err err = SCEP_OK;
    for (size_t i = 0; i < len && err == SCEP_OK; i++) {
        int c = text[i] == '=' ? 0 : base64_char(text[i], spaces);
        if (c < 0 || (c > 0 && pads > 0)) /* junk, or data after padding */
            err = SCEP_E_BAD_ENCODING;
        else if (c > 0)
            norm[chars++] = (char)c;
        else if (text[i] == '=')
            pads++;
    }
    if (err == SCEP_OK)
        err = check_base64_shape(chars, pads);
    if (err != SCEP_OK) {
        free(norm);
        return err;
    }
    while (chars % 4 != 0)
        norm[chars++] = '=';
    norm[chars] = '\0';
    *out = norm;
    *out_len = chars;
    return SCEP_OK;
}

/* Decodes padded standard base64 of a length that normalize_base64() checked. */
static scep_err decode_base64(const char *b64, size_t len, unsigned char **out, size_t *out_len)
{
    scep_err err = SCEP_E_BAD_ENCODING;
    EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
    unsigned char *bytes = malloc(len / 4 * 3 + 1);
    if (ctx == NULL || bytes == NULL) {
        err = SCEP_E_NOMEM;
        goto out;
    }
    int body = 0, tail = 0;
    EVP_DecodeInit(ctx);
    if (EVP_DecodeUpdate(ctx, bytes, &body, (const unsigned char *)b64, (int)len) < 0 ||
        EVP_DecodeFinal(ctx, bytes + body, &tail) != 1 || body < 0 || tail < 0)
        goto out;
    size_t got = (size_t)body + (size_t)tail;
    size_t pads = (len > 0 && b64[len - 1] == '=') + (len > 1 && b64[len - 2] == '=');
    if (got != base64_decoded_len(len - pads))
        goto out;
    *out = bytes;
    *out_len = got;
    bytes = NULL;
    err = SCEP_OK;
out:
    free(bytes);
    EVP_ENCODE_CTX_free(ctx);
    return err;
}

static scep_err decode_lenient(const char *text, size_t len, space_rule spaces, unsigned char **out,
                               size_t *out_len)
{
    if (len > SCEP_MAX_QUERY_BYTES)
        return SCEP_E_TOO_LARGE;
    char *norm = NULL;
    size_t norm_len = 0;
    scep_err err = normalize_base64(text, len, spaces, &norm, &norm_len);
    if (err != SCEP_OK)
        return err;
    err = decode_base64(norm, norm_len, out, out_len);
    free(norm);
    return err;
}

scep_err scep_http_decode_message(const char *text, size_t len, unsigned char **out,
                                  size_t *out_len)
{
    if (out == NULL || out_len == NULL)
        return SCEP_E_INVALID_ARG;
    *out = NULL;
    *out_len = 0;
    if (text == NULL)
        return SCEP_E_INVALID_ARG;
    return decode_lenient(text, len, SPACE_MEANS_PLUS, out, out_len);
}

/* ---- Query strings ------------------------------------------------------------------------ */

typedef struct span {
    const char *ptr;
    size_t len;
} span;

/* Splits the next "key=value" (or bare "key") off query at *pos; 0 when none is left. */
static int next_param(span query, size_t *pos, span *key, span *value)
{
    if (*pos >= query.len)
        return 0;
    const char *start = query.ptr + *pos;
    size_t rest = query.len - *pos;
    const char *amp = memchr(start, '&', rest);
    size_t pair_len = amp ? (size_t)(amp - start) : rest;
    *pos += amp ? pair_len + 1 : pair_len;
    const char *eq = memchr(start, '=', pair_len);
    key->ptr = start;
    key->len = eq ? (size_t)(eq - start) : pair_len;
    value->ptr = eq ? eq + 1 : start + pair_len;
    value->len = eq ? pair_len - key->len - 1 : 0;
    return 1;
}

/* Counts the parameters called name (in exact case or not); *value is the first one. */
static size_t count_params(span query, const char *name, int exact_case, span *value)
{
    size_t name_len = strlen(name), count = 0, pos = 0;
    span key, val;
    while (next_param(query, &pos, &key, &val)) {
        if (key.len != name_len)
            continue;
        if (exact_case ? memcmp(key.ptr, name, name_len) != 0
                       : strncasecmp(key.ptr, name, name_len) != 0)
            continue;
        if (count++ == 0)
            *value = val;
    }
    return count;
}

/* Exact-case names win; "Operation=" counts only when no "operation=" is there. */
static size_t lookup_param(span query, const char *name, span *value)
{
    size_t count = count_params(query, name, 1, value);
    return count > 0 ? count : count_params(query, name, 0, value);
}

static scep_err parse_operation(span query, scep_operation *op)
{
    span value;
    char name[64];
    *op = SCEP_OP_UNKNOWN;
    /* Two operations would let two readers of one request disagree: refuse. */
    if (lookup_param(query, "operation", &value) != 1 || value.len > sizeof(name))
        return SCEP_E_BAD_OPERATION;
    *op = scep_operation_from_name(name, percent_decode(value.ptr, value.len, name));
    return *op == SCEP_OP_UNKNOWN ? SCEP_E_BAD_OPERATION : SCEP_OK;
}

static scep_err decode_message_param(span value, scep_http_request *req)
{
    if (value.len == 0)
        return SCEP_E_MISSING_MESSAGE;
    char *text = malloc(value.len);
    if (text == NULL)
        return SCEP_E_NOMEM;
    size_t text_len = percent_decode(value.ptr, value.len, text);
    scep_err err =
        decode_lenient(text, text_len, SPACE_MEANS_PLUS, &req->message, &req->message_len);
    free(text);
    return err;
}

/* A copy with a NUL after it, so that callers may also treat text as a C string. */
static scep_err copy_bytes(const void *bytes, size_t len, scep_http_request *req)
{
    req->message = malloc(len + 1);
    if (req->message == NULL)
        return SCEP_E_NOMEM;
    memcpy(req->message, bytes, len);
    req->message[len] = '\0';
    req->message_len = len;
    return SCEP_OK;
}

/* Outside PKIOperation the message is a CA identifier, kept as percent-decoded text. */
static scep_err copy_text_param(span value, scep_http_request *req)
{
    if (value.len == 0)
        return SCEP_OK;
    char *text = malloc(value.len);
    if (text == NULL)
        return SCEP_E_NOMEM;
    scep_err err = copy_bytes(text, percent_decode(value.ptr, value.len, text), req);
    free(text);
    return err;
}

static scep_err parse_message_param(span query, scep_http_request *req)
{
    span value = {NULL, 0};
    size_t count = lookup_param(query, "message", &value);
    if (count > 1)
        return SCEP_E_BAD_ENCODING; /* ambiguous, as for a repeated operation */
    if (req->operation == SCEP_OP_PKI_OPERATION)
        return count == 0 ? SCEP_E_MISSING_MESSAGE : decode_message_param(value, req);
    return count == 0 ? SCEP_OK : copy_text_param(value, req);
}

scep_err scep_http_parse_query(const char *query, size_t len, scep_http_request *out)
{
    if (out == NULL)
        return SCEP_E_INVALID_ARG;
    memset(out, 0, sizeof(*out));
    if (query == NULL)
        return SCEP_E_INVALID_ARG;
    if (len > SCEP_MAX_QUERY_BYTES)
        return SCEP_E_TOO_LARGE;
    span q = {query, len};
    scep_http_request req = {0};
    scep_err err = parse_operation(q, &req.operation);
    if (err == SCEP_OK)
        err = parse_message_param(q, &req);
    if (err != SCEP_OK) {
        scep_http_request_clear(&req);
        return err;
    }
    *out = req;
    return SCEP_OK;
}

/* ---- POST bodies -------------------------------------------------------------------------- */

/* DER always holds bytes outside the base64 alphabet (tags 0x06, 0x02, long lengths), so a
 * body made only of base64 and layout is a client sending the text form. */
static int is_base64_text(const unsigned char *body, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (body[i] != '=' && base64_char((char)body[i], SPACE_IS_LAYOUT) < 0)
            return 0;
    return 1;
}

static scep_err read_pki_body(const unsigned char *body, size_t len, scep_http_request *req)
{
    if (is_base64_text(body, len))
        return decode_lenient((const char *)body, len, SPACE_IS_LAYOUT, &req->message,
                              &req->message_len);
    if (len > SCEP_MAX_MESSAGE_BYTES)
        return SCEP_E_TOO_LARGE;
    return copy_bytes(body, len, req);
}

scep_err scep_http_parse_post(const char *query, size_t query_len, const unsigned char *body,
                              size_t body_len, scep_http_request *out)
{
    if (out == NULL)
        return SCEP_E_INVALID_ARG;
    memset(out, 0, sizeof(*out));
    if (query == NULL || (body == NULL && body_len > 0))
        return SCEP_E_INVALID_ARG;
    if (query_len > SCEP_MAX_QUERY_BYTES || body_len > SCEP_MAX_BODY_BYTES)
        return SCEP_E_TOO_LARGE;
    scep_http_request req = {0};
    scep_err err = parse_operation((span){query, query_len}, &req.operation);
    if (err == SCEP_OK && req.operation == SCEP_OP_PKI_OPERATION)
        err = body_len == 0 ? SCEP_E_MISSING_MESSAGE : read_pki_body(body, body_len, &req);
    else if (err == SCEP_OK && body_len > 0)
        err = copy_bytes(body, body_len, &req);
    if (err != SCEP_OK) {
        scep_http_request_clear(&req);
        return err;
    }
    *out = req;
    return SCEP_OK;
}

/* ---- URLs for clients --------------------------------------------------------------------- */

static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

static size_t escaped_len(const unsigned char *s, size_t n)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += is_unreserved(s[i]) ? 1 : 3;
    return len;
}

static char *put_escaped(char *dst, const unsigned char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        if (is_unreserved(s[i])) {
            *dst++ = (char)s[i];
            continue;
        }
        *dst++ = '%';
        *dst++ = hex[s[i] >> 4];
        *dst++ = hex[s[i] & 15];
    }
    return dst;
}

static char *put_text(char *dst, const char *s, size_t n)
{
    memcpy(dst, s, n);
    return dst + n;
}

/* What joins base and our parameters: '?', or '&' when base already has a query. */
static const char *query_separator(const char *base, size_t base_len)
{
    if (memchr(base, '?', base_len) == NULL)
        return "?";
    char last = base[base_len - 1];
    return last == '?' || last == '&' ? "" : "&";
}

/* base + separator + "operation=" + op_name [+ "&message=" + escaped message]. */
static scep_err assemble_url(const char *base, const char *op_name, const unsigned char *message,
                             size_t message_len, char **out)
{
    static const char op_key[] = "operation=", msg_key[] = "&message=";
    size_t base_len = strlen(base);
    const char *sep = query_separator(base, base_len);
    size_t fixed = strlen(sep) + strlen(op_key) + strlen(op_name) + strlen(msg_key) + 1;
    size_t msg_len = message ? escaped_len(message, message_len) : 0;
    if (base_len > SIZE_MAX - fixed - msg_len)
        return SCEP_E_TOO_LARGE;
    char *url = malloc(base_len + fixed + msg_len);
    if (url == NULL)
        return SCEP_E_NOMEM;
    char *end = put_text(url, base, base_len);
    end = put_text(end, sep, strlen(sep));
    end = put_text(end, op_key, strlen(op_key));
    end = put_text(end, op_name, strlen(op_name));
    if (message != NULL) {
        end = put_text(end, msg_key, strlen(msg_key));
        end = put_escaped(end, message, message_len);
    }
    *end = '\0';
    *out = url;
    return SCEP_OK;
}

static scep_err encode_base64(const unsigned char *bytes, size_t len, unsigned char **out)
{
    /* len <= SCEP_MAX_MESSAGE_BYTES, so neither the size nor the int cast can wrap. */
    unsigned char *text = malloc((len + 2) / 3 * 4 + 1);
    if (text == NULL)
        return SCEP_E_NOMEM;
    if (EVP_EncodeBlock(text, bytes, (int)len) < 0) {
        free(text);
        return SCEP_E_INTERNAL;
    }
    *out = text;
    return SCEP_OK;
}

scep_err scep_http_build_get_url(const char *base_url, scep_operation op,
                                 const unsigned char *message, size_t message_len, char **out)
{
    if (out == NULL)
        return SCEP_E_INVALID_ARG;
    *out = NULL;
    const char *op_name = known_operation_name(op);
    if (base_url == NULL || op_name == NULL || (message == NULL && message_len > 0))
        return SCEP_E_INVALID_ARG;
    if (op == SCEP_OP_PKI_OPERATION && message_len == 0)
        return SCEP_E_INVALID_ARG;
    if (message_len > SCEP_MAX_MESSAGE_BYTES)
        return SCEP_E_TOO_LARGE;
    if (op != SCEP_OP_PKI_OPERATION)
        return assemble_url(base_url, op_name, message, message_len, out);
    unsigned char *b64 = NULL;
    scep_err err = encode_base64(message, message_len, &b64);
    if (err == SCEP_OK)
        err = assemble_url(base_url, op_name, b64, strlen((const char *)b64), out);
    free(b64);
    return err;
}

scep_err scep_http_build_post_url(const char *base_url, char **out)
{
    if (out == NULL)
        return SCEP_E_INVALID_ARG;
    *out = NULL;
    if (base_url == NULL)
        return SCEP_E_INVALID_ARG;
    return assemble_url(base_url, "PKIOperation", NULL, 0, out);
}
