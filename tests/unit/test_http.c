/* The HTTP request codec (lib/http_codec.c): query strings, POST bodies, client URLs. */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "testutil.h"

/* A literal with its length, for byte strings that may hold NULs. */
#define BYTES(s) s, sizeof(s) - 1
#define NO_MESSAGE NULL, 0

/* ---- Small helpers --------------------------------------------------------------------- */

typedef struct text_buf {
    char *ptr;
    size_t len;
} text_buf;

static void append(text_buf *t, const char *s, size_t n)
{
    t->ptr = realloc(t->ptr, t->len + n + 1);
    assert_non_null(t->ptr);
    memcpy(t->ptr + t->len, s, n);
    t->len += n;
    t->ptr[t->len] = '\0';
}

static void append_str(text_buf *t, const char *s)
{
    append(t, s, strlen(s));
}

static char *standard_base64(const unsigned char *bytes, size_t len)
{
    char *b64 = malloc((len + 2) / 3 * 4 + 1);
    assert_non_null(b64);
    assert_true(EVP_EncodeBlock((unsigned char *)b64, bytes, (int)len) >= 0);
    return b64;
}

static void expect_request(const scep_http_request *req, scep_operation op, const char *msg,
                           size_t msg_len)
{
    assert_int_equal(req->operation, op);
    if (msg == NULL) {
        assert_null(req->message);
        assert_int_equal(req->message_len, 0);
        return;
    }
    assert_non_null(req->message);
    assert_int_equal(req->message_len, msg_len);
    assert_memory_equal(req->message, msg, msg_len);
}

static void expect_cleared(const scep_http_request *req)
{
    assert_int_equal(req->operation, SCEP_OP_UNKNOWN);
    assert_null(req->message);
    assert_int_equal(req->message_len, 0);
}

/* A message whose standard base64 holds '+', '/' and one '=' of padding. */
static unsigned char *sample_message(size_t *len)
{
    static const unsigned char head[] = {0xfb, 0xff, 0xbf, 0x30, 0x82};
    *len = 200;
    unsigned char *msg = malloc(*len);
    assert_non_null(msg);
    for (size_t i = 0; i < *len; i++)
        msg[i] = (unsigned char)(i * 151 + 7);
    memcpy(msg, head, sizeof(head));
    return msg;
}

/* ---- Operation names ------------------------------------------------------------------- */

typedef struct name_case {
    const char *name;
    scep_operation op;
} name_case;

static const name_case name_cases[] = {
    {"GetCACert", SCEP_OP_GET_CA_CERT},
    {"GetCACaps", SCEP_OP_GET_CA_CAPS},
    {"PKIOperation", SCEP_OP_PKI_OPERATION},
    {"GetNextCACert", SCEP_OP_GET_NEXT_CA_CERT},
    {"GetCACertChain", SCEP_OP_GET_CA_CERT_CHAIN},
};

static void test_operation_names(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(name_cases) / sizeof(name_cases[0]); i++) {
        const name_case *c = &name_cases[i];
        assert_string_equal(scep_operation_name(c->op), c->name);
        assert_int_equal(scep_operation_from_name(c->name, strlen(c->name)), c->op);
    }
    assert_string_equal(scep_operation_name(SCEP_OP_UNKNOWN), "unknown");
    assert_string_equal(scep_operation_name((scep_operation)99), "unknown");
    assert_int_equal(scep_operation_from_name(BYTES("pkioperation")), SCEP_OP_PKI_OPERATION);
    assert_int_equal(scep_operation_from_name(BYTES("GETCACERTCHAIN")), SCEP_OP_GET_CA_CERT_CHAIN);
    assert_int_equal(scep_operation_from_name(BYTES("GetCACer")), SCEP_OP_UNKNOWN);
    assert_int_equal(scep_operation_from_name(BYTES("GetCACert\0")), SCEP_OP_UNKNOWN);
    assert_int_equal(scep_operation_from_name("GetCACaps", 0), SCEP_OP_UNKNOWN);
    assert_int_equal(scep_operation_from_name(NULL, 9), SCEP_OP_UNKNOWN);
}

/* ---- Query strings --------------------------------------------------------------------- */

typedef struct query_case {
    const char *query;
    size_t query_len;
    scep_err err;
    scep_operation op;
    const char *msg; /* NULL: no message */
    size_t msg_len;
} query_case;

static const query_case query_cases[] = {
    /* Every operation, with and without a CA identifier. */
    {BYTES("operation=GetCACert"), SCEP_OK, SCEP_OP_GET_CA_CERT, NO_MESSAGE},
    {BYTES("operation=GetCACaps&message=0"), SCEP_OK, SCEP_OP_GET_CA_CAPS, BYTES("0")},
    {BYTES("operation=GetNextCACert&message=ca-1"), SCEP_OK, SCEP_OP_GET_NEXT_CA_CERT,
     BYTES("ca-1")},
    {BYTES("operation=GetCACertChain"), SCEP_OK, SCEP_OP_GET_CA_CERT_CHAIN, NO_MESSAGE},
    {BYTES("operation=PKIOperation&message=%2B%2F8%3D"), SCEP_OK, SCEP_OP_PKI_OPERATION,
     BYTES("\xfb\xff")},
    /* A CA identifier is percent-decoded text; '+' and a bad escape stay as they are. */
    {BYTES("operation=GetCACert&message=My%20CA%2b1%00x"), SCEP_OK, SCEP_OP_GET_CA_CERT,
     BYTES("My CA+1\0x")},
    {BYTES("operation=GetCACert&message=a+b%zz%4"), SCEP_OK, SCEP_OP_GET_CA_CERT,
     BYTES("a+b%zz%4")},
    {BYTES("operation=GetCACert&message="), SCEP_OK, SCEP_OP_GET_CA_CERT, NO_MESSAGE},
    /* Names and values in any case; exact-case parameter names win. */
    {BYTES("operation=getcacaps"), SCEP_OK, SCEP_OP_GET_CA_CAPS, NO_MESSAGE},
    {BYTES("OPERATION=GetCACaps"), SCEP_OK, SCEP_OP_GET_CA_CAPS, NO_MESSAGE},
    {BYTES("Operation=GetCACert&operation=GetCACaps"), SCEP_OK, SCEP_OP_GET_CA_CAPS, NO_MESSAGE},
    {BYTES("operation=PKIOperation&Message=QUJD"), SCEP_OK, SCEP_OP_PKI_OPERATION, BYTES("ABC")},
    {BYTES("operation=PKIOperation&MESSAGE=QUJD&message=REVG"), SCEP_OK, SCEP_OP_PKI_OPERATION,
     BYTES("DEF")},
    {BYTES("operation=%50KIOperation&message=QUJD"), SCEP_OK, SCEP_OP_PKI_OPERATION, BYTES("ABC")},
    /* Unknown parameters, empty pairs and bare keys are ignored. */
    {BYTES("x=1&&operation=GetCACaps&y&message2=z&=q&"), SCEP_OK, SCEP_OP_GET_CA_CAPS, NO_MESSAGE},
    /* Missing, unknown, duplicate operations. */
    {BYTES(""), SCEP_E_BAD_OPERATION, SCEP_OP_UNKNOWN, NO_MESSAGE},
    {BYTES("message=QUJD"), SCEP_E_BAD_OPERATION, SCEP_OP_UNKNOWN, NO_MESSAGE},
    {BYTES("operation=Enroll"), SCEP_E_BAD_OPERATION, SCEP_OP_UNKNOWN, NO_MESSAGE},
    {BYTES("operation=GetCACertX"), SCEP_E_BAD_OPERATION, SCEP_OP_UNKNOWN, NO_MESSAGE},
    {BYTES("operation="), SCEP_E_BAD_OPERATION, SCEP_OP_UNKNOWN, NO_MESSAGE},
    {BYTES("operation"), SCEP_E_BAD_OPERATION, SCEP_OP_UNKNOWN, NO_MESSAGE},
    {BYTES("operations=GetCACert"), SCEP_E_BAD_OPERATION, SCEP_OP_UNKNOWN, NO_MESSAGE},
    {BYTES("operation=GetCACert&operation=GetCACert"), SCEP_E_BAD_OPERATION, SCEP_OP_UNKNOWN,
     NO_MESSAGE},
    {BYTES("Operation=GetCACert&OPERATION=GetCACaps"), SCEP_E_BAD_OPERATION, SCEP_OP_UNKNOWN,
     NO_MESSAGE},
    {BYTES("operation=GetCACert%00"), SCEP_E_BAD_OPERATION, SCEP_OP_UNKNOWN, NO_MESSAGE},
    /* PKIOperation needs a message, exactly one, in base64. */
    {BYTES("operation=PKIOperation"), SCEP_E_MISSING_MESSAGE, SCEP_OP_UNKNOWN, NO_MESSAGE},
    {BYTES("operation=PKIOperation&message="), SCEP_E_MISSING_MESSAGE, SCEP_OP_UNKNOWN, NO_MESSAGE},
    {BYTES("operation=PKIOperation&message"), SCEP_E_MISSING_MESSAGE, SCEP_OP_UNKNOWN, NO_MESSAGE},
    {BYTES("operation=PKIOperation&message=QUJD&message=QUJD"), SCEP_E_BAD_ENCODING,
     SCEP_OP_UNKNOWN, NO_MESSAGE},
    {BYTES("operation=PKIOperation&message=<html>"), SCEP_E_BAD_ENCODING, SCEP_OP_UNKNOWN,
     NO_MESSAGE},
    {BYTES("operation=PKIOperation&message=QUJD%00"), SCEP_E_BAD_ENCODING, SCEP_OP_UNKNOWN,
     NO_MESSAGE},
    {BYTES("operation=PKIOperation&message=QUJD%FF"), SCEP_E_BAD_ENCODING, SCEP_OP_UNKNOWN,
     NO_MESSAGE},
    {BYTES("operation=PKIOperation&message=QUJD%"), SCEP_E_BAD_ENCODING, SCEP_OP_UNKNOWN,
     NO_MESSAGE},
    {BYTES("operation=PKIOperation&message=QUJD.RA"), SCEP_E_BAD_ENCODING, SCEP_OP_UNKNOWN,
     NO_MESSAGE},
    {BYTES("operation=PKIOperation&message=%3D%3D"), SCEP_E_BAD_ENCODING, SCEP_OP_UNKNOWN,
     NO_MESSAGE},
    {BYTES("operation=PKIOperation&message=%0A%0A"), SCEP_E_BAD_ENCODING, SCEP_OP_UNKNOWN,
     NO_MESSAGE},
    /* Padding: missing or partial is fine, too much or data after it is not. */
    {BYTES("operation=PKIOperation&message=QQ"), SCEP_OK, SCEP_OP_PKI_OPERATION, BYTES("A")},
    {BYTES("operation=PKIOperation&message=QQ%3D"), SCEP_OK, SCEP_OP_PKI_OPERATION, BYTES("A")},
    {BYTES("operation=PKIOperation&message=QQ=="), SCEP_OK, SCEP_OP_PKI_OPERATION, BYTES("A")},
    {BYTES("operation=PKIOperation&message=QUI"), SCEP_OK, SCEP_OP_PKI_OPERATION, BYTES("AB")},
    {BYTES("operation=PKIOperation&message=Q"), SCEP_E_BAD_ENCODING, SCEP_OP_UNKNOWN, NO_MESSAGE},
    {BYTES("operation=PKIOperation&message=QUJDR"), SCEP_E_BAD_ENCODING, SCEP_OP_UNKNOWN,
     NO_MESSAGE},
    {BYTES("operation=PKIOperation&message=QUJD="), SCEP_E_BAD_ENCODING, SCEP_OP_UNKNOWN,
     NO_MESSAGE},
    {BYTES("operation=PKIOperation&message=QUI=="), SCEP_E_BAD_ENCODING, SCEP_OP_UNKNOWN,
     NO_MESSAGE},
    {BYTES("operation=PKIOperation&message=QQ==="), SCEP_E_BAD_ENCODING, SCEP_OP_UNKNOWN,
     NO_MESSAGE},
    {BYTES("operation=PKIOperation&message=QQ==QQ=="), SCEP_E_BAD_ENCODING, SCEP_OP_UNKNOWN,
     NO_MESSAGE},
    {BYTES("operation=PKIOperation&message=QQ=%0A="), SCEP_OK, SCEP_OP_PKI_OPERATION, BYTES("A")},
};

static void test_query_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(query_cases) / sizeof(query_cases[0]); i++) {
        const query_case *c = &query_cases[i];
        scep_http_request req;
        memset(&req, 0x5a, sizeof(req));
        print_message("query %zu: %s\n", i, c->query);
        assert_int_equal(scep_http_parse_query(c->query, c->query_len, &req), c->err);
        if (c->err != SCEP_OK) {
            expect_cleared(&req);
            continue;
        }
        expect_request(&req, c->op, c->msg, c->msg_len);
        scep_http_request_clear(&req);
        expect_cleared(&req);
    }
}

/* How a client may spell standard base64 in a GET: each row rewrites '+', '/' and '=', and
 * may break the text into lines. */
typedef struct spelling {
    const char *name;
    const char *plus, *slash, *pad;
    const char *line_break; /* NULL: one line */
    size_t line_width;
} spelling;

static const spelling spellings[] = {
    {"percent-escaped", "%2B", "%2F", "%3D", NULL, 0},
    {"lower-case escapes", "%2b", "%2f", "%3d", NULL, 0},
    {"unescaped + / =", "+", "/", "=", NULL, 0},
    {"space for +", " ", "/", "=", NULL, 0},
    {"%20 for +", "%20", "%2F", "%3D", NULL, 0},
    {"%0A every 64", "%2B", "%2F", "%3D", "%0A", 64},
    {"%0D%0A every 64", "%2B", "%2F", "%3D", "%0D%0A", 64},
    {"raw LF every 64", "+", "/", "=", "\n", 64},
    {"raw CRLF every 76", "+", "/", "=", "\r\n", 76},
    {"%0A every 4", "%2B", "%2F", "%3D", "%0A", 4},
    {"base64url", "-", "_", "=", NULL, 0},
    {"base64url, no padding", "-", "_", "", NULL, 0},
    {"no padding", "%2B", "%2F", "", NULL, 0},
    {"%0A lines, no padding", "%2B", "%2F", "", "%0A", 64},
};

static char *spell_query(const char *b64, const spelling *s)
{
    text_buf q = {NULL, 0};
    append_str(&q, "operation=PKIOperation&message=");
    for (size_t i = 0; b64[i] != '\0'; i++) {
        if (s->line_break != NULL && i > 0 && i % s->line_width == 0)
            append_str(&q, s->line_break);
        const char *c = b64[i] == '+' ? s->plus : b64[i] == '/' ? s->slash : NULL;
        if (b64[i] == '=')
            c = s->pad;
        if (c != NULL)
            append_str(&q, c);
        else
            append(&q, &b64[i], 1);
    }
    if (s->line_break != NULL)
        append_str(&q, s->line_break); /* sscep ends the last line too */
    return q.ptr;
}

static void test_lenient_spellings(void **state)
{
    (void)state;
    size_t msg_len;
    unsigned char *msg = sample_message(&msg_len);
    char *b64 = standard_base64(msg, msg_len);
    /* The sample must exercise every rewritten character. */
    assert_non_null(strchr(b64, '+'));
    assert_non_null(strchr(b64, '/'));
    assert_non_null(strchr(b64, '='));
    for (size_t i = 0; i < sizeof(spellings) / sizeof(spellings[0]); i++) {
        char *query = spell_query(b64, &spellings[i]);
        scep_http_request req;
        print_message("spelling: %s\n", spellings[i].name);
        assert_int_equal(scep_http_parse_query(query, strlen(query), &req), SCEP_OK);
        expect_request(&req, SCEP_OP_PKI_OPERATION, (const char *)msg, msg_len);
        scep_http_request_clear(&req);
        free(query);
    }
    free(b64);
    free(msg);
}

static void test_query_too_large(void **state)
{
    (void)state;
    size_t len = SCEP_MAX_QUERY_BYTES + 1;
    char *query = malloc(len);
    assert_non_null(query);
    static const char head[] = "operation=PKIOperation&message=";
    memcpy(query, head, sizeof(head) - 1);
    memset(query + sizeof(head) - 1, 'A', len - (sizeof(head) - 1));
    scep_http_request req;
    memset(&req, 0x5a, sizeof(req));
    assert_int_equal(scep_http_parse_query(query, len, &req), SCEP_E_TOO_LARGE);
    expect_cleared(&req);
    free(query);
}

/* A message of n bytes as a GET query; the base64 text is also returned. */
static char *query_for_size(size_t n, unsigned char **msg)
{
    *msg = calloc(n, 1);
    assert_non_null(*msg);
    (*msg)[n - 1] = 0x42;
    char *b64 = standard_base64(*msg, n);
    text_buf q = {NULL, 0};
    append_str(&q, "operation=PKIOperation&message=");
    append_str(&q, b64);
    free(b64);
    return q.ptr;
}

static void test_decoded_message_limit(void **state)
{
    (void)state;
    static const struct {
        size_t bytes;
        scep_err err;
    } sizes[] = {{SCEP_MAX_MESSAGE_BYTES, SCEP_OK},
                 {SCEP_MAX_MESSAGE_BYTES + 1, SCEP_E_TOO_LARGE},
                 {SCEP_MAX_MESSAGE_BYTES + 3, SCEP_E_TOO_LARGE}};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        unsigned char *msg = NULL;
        char *query = query_for_size(sizes[i].bytes, &msg);
        assert_true(strlen(query) <= SCEP_MAX_QUERY_BYTES); /* only the decoded size is over */
        scep_http_request req;
        assert_int_equal(scep_http_parse_query(query, strlen(query), &req), sizes[i].err);
        if (sizes[i].err == SCEP_OK)
            expect_request(&req, SCEP_OP_PKI_OPERATION, (const char *)msg, sizes[i].bytes);
        else
            expect_cleared(&req);
        scep_http_request_clear(&req);
        free(query);
        free(msg);
    }
}

typedef struct decode_case {
    const char *text;
    size_t len;
    scep_err err;
    const char *bytes;
    size_t bytes_len;
} decode_case;

static const decode_case decode_cases[] = {
    {BYTES("QUJD"), SCEP_OK, BYTES("ABC")},
    {BYTES("+/8="), SCEP_OK, BYTES("\xfb\xff")},
    {BYTES(" /8"), SCEP_OK, BYTES("\xfb\xff")},
    {BYTES("-_8"), SCEP_OK, BYTES("\xfb\xff")},
    {BYTES("QU\r\nJD\n"), SCEP_OK, BYTES("ABC")},
    {BYTES("QU\tJD"), SCEP_OK, BYTES("ABC")},
    {BYTES("AAAA"), SCEP_OK, BYTES("\0\0\0")},
    /* Percent escapes are the caller's job. */
    {BYTES("%2B%2F8"), SCEP_E_BAD_ENCODING, NULL, 0},
    {BYTES(""), SCEP_E_BAD_ENCODING, NULL, 0},
    {BYTES("\r\n"), SCEP_E_BAD_ENCODING, NULL, 0},
    {BYTES("QUJD\0"), SCEP_E_BAD_ENCODING, NULL, 0},
    {BYTES("QU*D"), SCEP_E_BAD_ENCODING, NULL, 0},
    {BYTES("-----BEGIN PKCS7-----"), SCEP_E_BAD_ENCODING, NULL, 0},
};

static void test_decode_message_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(decode_cases) / sizeof(decode_cases[0]); i++) {
        const decode_case *c = &decode_cases[i];
        unsigned char *out = (unsigned char *)"x";
        size_t out_len = 99;
        print_message("decode %zu\n", i);
        assert_int_equal(scep_http_decode_message(c->text, c->len, &out, &out_len), c->err);
        if (c->err != SCEP_OK) {
            assert_null(out);
            assert_int_equal(out_len, 0);
            continue;
        }
        assert_int_equal(out_len, c->bytes_len);
        assert_memory_equal(out, c->bytes, out_len);
        free(out);
    }
}

static void test_decode_message_too_large(void **state)
{
    (void)state;
    size_t len = SCEP_MAX_QUERY_BYTES + 1;
    char *text = malloc(len);
    assert_non_null(text);
    memset(text, '\n', len); /* would decode to nothing, but is too long to look at */
    unsigned char *out = NULL;
    size_t out_len = 0;
    assert_int_equal(scep_http_decode_message(text, len, &out, &out_len), SCEP_E_TOO_LARGE);
    assert_null(out);
    free(text);
}

/* ---- POST bodies ----------------------------------------------------------------------- */

typedef struct post_case {
    const char *query;
    const char *body;
    size_t body_len;
    scep_err err;
    scep_operation op;
    const char *msg;
    size_t msg_len;
} post_case;

static const post_case post_cases[] = {
    /* Binary DER is kept as it came, including bytes that are also base64 letters. */
    {"operation=PKIOperation", BYTES("\x30\x82\x01\x00\x06\x09QUJD"), SCEP_OK,
     SCEP_OP_PKI_OPERATION, BYTES("\x30\x82\x01\x00\x06\x09QUJD")},
    {"operation=PKIOperation", BYTES("\x30\x03\x02\x01\x00"), SCEP_OK, SCEP_OP_PKI_OPERATION,
     BYTES("\x30\x03\x02\x01\x00")},
    /* The base64 form, with line breaks and layout spaces (not '+' here). */
    {"operation=PKIOperation", BYTES("QUJD"), SCEP_OK, SCEP_OP_PKI_OPERATION, BYTES("ABC")},
    {"operation=PKIOperation", BYTES("MAMCAQA=\r\n"), SCEP_OK, SCEP_OP_PKI_OPERATION,
     BYTES("\x30\x03\x02\x01\x00")},
    {"operation=PKIOperation", BYTES(" QU\n JD \n"), SCEP_OK, SCEP_OP_PKI_OPERATION, BYTES("ABC")},
    {"operation=PKIOperation", BYTES("+/8=\n"), SCEP_OK, SCEP_OP_PKI_OPERATION, BYTES("\xfb\xff")},
    {"operation=PKIOperation", BYTES("QUJD="), SCEP_E_BAD_ENCODING, SCEP_OP_UNKNOWN, NO_MESSAGE},
    {"operation=PKIOperation", BYTES("Q"), SCEP_E_BAD_ENCODING, SCEP_OP_UNKNOWN, NO_MESSAGE},
    {"operation=PKIOperation", BYTES(""), SCEP_E_MISSING_MESSAGE, SCEP_OP_UNKNOWN, NO_MESSAGE},
    {"operation=PKIOperation&message=QUJD", BYTES(""), SCEP_E_MISSING_MESSAGE, SCEP_OP_UNKNOWN,
     NO_MESSAGE},
    /* The operation still comes from the query. */
    {"", BYTES("\x30\x03\x02\x01\x00"), SCEP_E_BAD_OPERATION, SCEP_OP_UNKNOWN, NO_MESSAGE},
    {"operation=Nope", BYTES("\x30\x03\x02\x01\x00"), SCEP_E_BAD_OPERATION, SCEP_OP_UNKNOWN,
     NO_MESSAGE},
    {"operation=PKIOperation&operation=PKIOperation", BYTES("\x30\x03\x02\x01\x00"),
     SCEP_E_BAD_OPERATION, SCEP_OP_UNKNOWN, NO_MESSAGE},
    {"operation=GetCACaps", BYTES(""), SCEP_OK, SCEP_OP_GET_CA_CAPS, NO_MESSAGE},
    {"operation=GetCACert", BYTES("ca 1"), SCEP_OK, SCEP_OP_GET_CA_CERT, BYTES("ca 1")},
};

static void test_post_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(post_cases) / sizeof(post_cases[0]); i++) {
        const post_case *c = &post_cases[i];
        scep_http_request req;
        memset(&req, 0x5a, sizeof(req));
        print_message("post %zu\n", i);
        assert_int_equal(scep_http_parse_post(c->query, strlen(c->query),
                                              (const unsigned char *)c->body, c->body_len, &req),
                         c->err);
        if (c->err != SCEP_OK) {
            expect_cleared(&req);
            continue;
        }
        expect_request(&req, c->op, c->msg, c->msg_len);
        scep_http_request_clear(&req);
    }
}

static void test_post_sizes(void **state)
{
    (void)state;
    static const struct {
        size_t len;
        unsigned char fill; /* 0x82: binary; 'A': base64 text */
        scep_err err;
    } sizes[] = {
        {SCEP_MAX_MESSAGE_BYTES, 0x82, SCEP_OK},
        {SCEP_MAX_MESSAGE_BYTES + 1, 0x82, SCEP_E_TOO_LARGE},
        {SCEP_MAX_MESSAGE_BYTES / 3 * 4, 'A', SCEP_OK},
        /* Base64 that fits the body but decodes to more than a message may be. */
        {SCEP_MAX_BODY_BYTES, 'A', SCEP_E_TOO_LARGE},
        {SCEP_MAX_BODY_BYTES + 1, 0x82, SCEP_E_TOO_LARGE},
        {SCEP_MAX_BODY_BYTES + 4, 'A', SCEP_E_TOO_LARGE},
    };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        unsigned char *body = malloc(sizes[i].len);
        assert_non_null(body);
        memset(body, sizes[i].fill, sizes[i].len);
        scep_http_request req;
        assert_int_equal(
            scep_http_parse_post(BYTES("operation=PKIOperation"), body, sizes[i].len, &req),
            sizes[i].err);
        size_t expect_len = sizes[i].fill == 'A' ? sizes[i].len / 4 * 3 : sizes[i].len;
        assert_int_equal(req.message_len, sizes[i].err == SCEP_OK ? expect_len : 0);
        scep_http_request_clear(&req);
        free(body);
    }
}

/* A base64 body whose decoded size is above the message ceiling though the body is not. */
static void test_post_base64_decoded_limit(void **state)
{
    (void)state;
    size_t n = SCEP_MAX_MESSAGE_BYTES + 1;
    unsigned char *msg = calloc(n, 1);
    assert_non_null(msg);
    char *b64 = standard_base64(msg, n);
    assert_true(strlen(b64) <= SCEP_MAX_BODY_BYTES);
    scep_http_request req;
    assert_int_equal(scep_http_parse_post(BYTES("operation=PKIOperation"),
                                          (const unsigned char *)b64, strlen(b64), &req),
                     SCEP_E_TOO_LARGE);
    expect_cleared(&req);
    free(b64);
    free(msg);
}

/* ---- URLs for clients ------------------------------------------------------------------ */

typedef struct url_case {
    const char *base;
    scep_operation op;
    const char *msg;
    size_t msg_len;
    const char *url;
} url_case;

static const url_case url_cases[] = {
    {"http://ca.example/scep", SCEP_OP_GET_CA_CAPS, NO_MESSAGE,
     "http://ca.example/scep?operation=GetCACaps"},
    {"http://ca.example/scep", SCEP_OP_GET_CA_CERT, BYTES("CA ident/1"),
     "http://ca.example/scep?operation=GetCACert&message=CA%20ident%2F1"},
    {"http://ca.example/scep", SCEP_OP_GET_CA_CERT, BYTES(""),
     "http://ca.example/scep?operation=GetCACert&message="},
    {"http://ca.example/scep", SCEP_OP_PKI_OPERATION, BYTES("\xfb\xff"),
     "http://ca.example/scep?operation=PKIOperation&message=%2B%2F8%3D"},
    {"http://ca.example/scep", SCEP_OP_PKI_OPERATION, BYTES("ABC"),
     "http://ca.example/scep?operation=PKIOperation&message=QUJD"},
    {"http://ca.example/x?tenant=a", SCEP_OP_GET_CA_CERT_CHAIN, NO_MESSAGE,
     "http://ca.example/x?tenant=a&operation=GetCACertChain"},
    {"http://ca.example/x?", SCEP_OP_GET_NEXT_CA_CERT, NO_MESSAGE,
     "http://ca.example/x?operation=GetNextCACert"},
    {"http://ca.example/x?a=1&", SCEP_OP_GET_CA_CAPS, NO_MESSAGE,
     "http://ca.example/x?a=1&operation=GetCACaps"},
};

static void test_build_get_url_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(url_cases) / sizeof(url_cases[0]); i++) {
        const url_case *c = &url_cases[i];
        char *url = NULL;
        assert_int_equal(scep_http_build_get_url(c->base, c->op, (const unsigned char *)c->msg,
                                                 c->msg_len, &url),
                         SCEP_OK);
        assert_string_equal(url, c->url);
        free(url);
    }
}

static void test_build_post_url(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"http://ca.example/cgi-bin/pkiclient.exe",
         "http://ca.example/cgi-bin/pkiclient.exe?operation=PKIOperation"},
        {"http://ca.example/scep?p=1", "http://ca.example/scep?p=1&operation=PKIOperation"},
        {"", "?operation=PKIOperation"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *url = NULL;
        assert_int_equal(scep_http_build_post_url(cases[i][0], &url), SCEP_OK);
        assert_string_equal(url, cases[i][1]);
        free(url);
    }
}

/* The query of url: everything after its first '?'. */
static const char *query_of(const char *url)
{
    const char *q = strchr(url, '?');
    assert_non_null(q);
    return q + 1;
}

static void round_trip(const char *base, scep_operation op, const unsigned char *msg, size_t len)
{
    char *url = NULL;
    scep_http_request req;
    assert_int_equal(scep_http_build_get_url(base, op, msg, len, &url), SCEP_OK);
    const char *query = query_of(url);
    assert_int_equal(scep_http_parse_query(query, strlen(query), &req), SCEP_OK);
    expect_request(&req, op, (const char *)msg, len);
    scep_http_request_clear(&req);
    free(url);
}

static void test_url_round_trips(void **state)
{
    (void)state;
    static const char *const bases[] = {"http://ca.example/cgi-bin/pkiclient.exe",
                                        "http://ca.example/scep?tenant=a%26b&Message=x"};
    unsigned char msg[300];
    for (size_t b = 0; b < sizeof(bases) / sizeof(bases[0]); b++) {
        for (size_t len = 1; len <= sizeof(msg); len += len < 12 ? 1 : 37) {
            for (size_t i = 0; i < len; i++)
                msg[i] = (unsigned char)((i * 97 + len * 13) ^ 0xa5);
            round_trip(bases[b], SCEP_OP_PKI_OPERATION, msg, len);
        }
        static const unsigned char tricky[][3] = {
            {0xfb, 0xef, 0xbe}, {0xff, 0xff, 0xff}, {0xfb, 0xff, 0}, {0, 0, 0}};
        for (size_t t = 0; t < sizeof(tricky) / sizeof(tricky[0]); t++)
            for (size_t len = 1; len <= 3; len++)
                round_trip(bases[b], SCEP_OP_PKI_OPERATION, tricky[t], len);
        /* A CA identifier of every byte value. */
        for (size_t i = 0; i < 256; i++)
            msg[i] = (unsigned char)i;
        round_trip(bases[b], SCEP_OP_GET_CA_CERT, msg, 256);
    }
}

static void test_build_errors(void **state)
{
    (void)state;
    char *url = (char *)"x";
    static const unsigned char der[] = {0x30, 0};
    const char *base = "http://ca.example/scep";
    assert_int_equal(scep_http_build_get_url(base, SCEP_OP_UNKNOWN, NULL, 0, &url),
                     SCEP_E_INVALID_ARG);
    assert_null(url);
    assert_int_equal(scep_http_build_get_url(base, (scep_operation)42, NULL, 0, &url),
                     SCEP_E_INVALID_ARG);
    assert_int_equal(scep_http_build_get_url(NULL, SCEP_OP_GET_CA_CAPS, NULL, 0, &url),
                     SCEP_E_INVALID_ARG);
    assert_int_equal(scep_http_build_get_url(base, SCEP_OP_PKI_OPERATION, NULL, 0, &url),
                     SCEP_E_INVALID_ARG);
    assert_int_equal(scep_http_build_get_url(base, SCEP_OP_PKI_OPERATION, der, 0, &url),
                     SCEP_E_INVALID_ARG);
    assert_int_equal(scep_http_build_get_url(base, SCEP_OP_GET_CA_CERT, NULL, 4, &url),
                     SCEP_E_INVALID_ARG);
    assert_int_equal(scep_http_build_get_url(base, SCEP_OP_PKI_OPERATION, der, 2, NULL),
                     SCEP_E_INVALID_ARG);
    assert_int_equal(
        scep_http_build_get_url(base, SCEP_OP_PKI_OPERATION, der, SCEP_MAX_MESSAGE_BYTES + 1, &url),
        SCEP_E_TOO_LARGE);
    assert_null(url);
    assert_int_equal(scep_http_build_post_url(NULL, &url), SCEP_E_INVALID_ARG);
    assert_int_equal(scep_http_build_post_url(base, NULL), SCEP_E_INVALID_ARG);
}

static void test_parse_null_arguments(void **state)
{
    (void)state;
    scep_http_request req;
    unsigned char *out = NULL;
    size_t out_len = 0;
    assert_int_equal(scep_http_parse_query(NULL, 0, &req), SCEP_E_INVALID_ARG);
    assert_int_equal(scep_http_parse_query(BYTES("operation=GetCACaps"), NULL), SCEP_E_INVALID_ARG);
    assert_int_equal(scep_http_parse_post(NULL, 0, NULL, 0, &req), SCEP_E_INVALID_ARG);
    assert_int_equal(scep_http_parse_post(BYTES("operation=PKIOperation"), NULL, 5, &req),
                     SCEP_E_INVALID_ARG);
    assert_int_equal(scep_http_parse_post(BYTES("operation=GetCACaps"), NULL, 0, NULL),
                     SCEP_E_INVALID_ARG);
    assert_int_equal(scep_http_decode_message(NULL, 4, &out, &out_len), SCEP_E_INVALID_ARG);
    assert_int_equal(scep_http_decode_message("QUJD", 4, NULL, &out_len), SCEP_E_INVALID_ARG);
    assert_int_equal(scep_http_decode_message("QUJD", 4, &out, NULL), SCEP_E_INVALID_ARG);
    scep_http_request_clear(NULL); /* allowed, like free(NULL) */
    assert_int_equal(scep_http_parse_post(BYTES("operation=GetCACaps"), NULL, 0, &req), SCEP_OK);
    expect_request(&req, SCEP_OP_GET_CA_CAPS, NO_MESSAGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_operation_names),
        cmocka_unit_test(test_query_table),
        cmocka_unit_test(test_lenient_spellings),
        cmocka_unit_test(test_query_too_large),
        cmocka_unit_test(test_decoded_message_limit),
        cmocka_unit_test(test_decode_message_table),
        cmocka_unit_test(test_decode_message_too_large),
        cmocka_unit_test(test_post_table),
        cmocka_unit_test(test_post_sizes),
        cmocka_unit_test(test_post_base64_decoded_limit),
        cmocka_unit_test(test_build_get_url_table),
        cmocka_unit_test(test_build_post_url),
        cmocka_unit_test(test_url_round_trips),
        cmocka_unit_test(test_build_errors),
        cmocka_unit_test(test_parse_null_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
