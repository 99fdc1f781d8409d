/* The request and audit lines (server/log/): every field in its place, in text and JSON, what
 * a peer controls escaped or replaced so that a line stays one line, and a field longer than
 * any buffer written whole. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log/log.h"
#include "scep/scep.h"
#include "testutil.h"

/* What fn wrote to a fresh stream; the caller frees it. */
static char *written(void (*fn)(FILE *, void *), void *arg)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    fn(f, arg);
    long n = ftell(f);
    assert_true(n > 0);
    char *text = calloc(1, (size_t)n + 1);
    assert_non_null(text);
    rewind(f);
    assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return text;
}

/* The line after its timestamp ("2026-12-02T16:15:57.123Z "), checked for its shape. */
static const char *after_time(const char *line)
{
    const char *shape = "dddd-dd-ddTdd:dd:dd.dddZ";
    for (size_t i = 0; shape[i] != '\0'; i++)
        if (shape[i] == 'd')
            assert_true(line[i] >= '0' && line[i] <= '9');
        else
            assert_int_equal(line[i], shape[i]);
    return line + strlen(shape);
}

/* One line to write: a request's (rep) or, with audit set, an audit event's (e). */
typedef struct log_case {
    log_format fmt;
    reply rep;
    int audit;
    log_audit_event e;
} log_case;

static void write_case(FILE *f, void *arg)
{
    log_case *c = arg;
    if (c->audit)
        log_audit(f, c->fmt, &c->e);
    else
        log_request(f, c->fmt, "192.0.2.7", "POST", "PKIOperation", &c->rep, 12.345);
}

static log_case enrollment(log_format fmt)
{
    log_case c = {.fmt = fmt};
    reply_init(&c.rep);
    c.rep.http_status = 200;
    c.rep.msg_type = SCEP_MSG_PKCS_REQ;
    c.rep.outcome = "FAILURE";
    c.rep.fail_info = SCEP_FAIL_BAD_REQUEST;
    snprintf(c.rep.transaction_id, sizeof(c.rep.transaction_id), "ti\"d\n1");
    snprintf(c.rep.detail, sizeof(c.rep.detail), "bad \"csr\"\\\x01");
    snprintf(c.rep.profile, sizeof(c.rep.profile), "iot");
    return c;
}

static void test_request_text(void **state)
{
    (void)state;
    log_case c = enrollment(LOG_TEXT);
    char *line = written(write_case, &c);
    assert_string_equal(after_time(line),
                        " 192.0.2.7 POST PKIOperation PKCSReq tid=ti?d?1 http=200 FAILURE "
                        "failInfo=badRequest 12.3ms profile=iot \"bad ?csr?\\?\"\n");
    free(line);
    /* The default profile and no detail: neither field. */
    c.rep.profile[0] = c.rep.detail[0] = '\0';
    c.rep.fail_info = -1;
    c.rep.msg_type = 0;
    line = written(write_case, &c);
    assert_string_equal(after_time(line), " 192.0.2.7 POST PKIOperation - tid=ti?d?1 http=200 "
                                          "FAILURE failInfo=- 12.3ms\n");
    free(line);
}

static void test_request_json(void **state)
{
    (void)state;
    log_case c = enrollment(LOG_JSON);
    char *line = written(write_case, &c);
    assert_true(strncmp(line, "{\"time\":\"", 9) == 0);
    assert_string_equal(
        after_time(line + 9),
        "\",\"peer\":\"192.0.2.7\",\"method\":\"POST\",\"operation\":\"PKIOperation\","
        "\"messageType\":\"PKCSReq\",\"transactionID\":\"ti\\\"d\\u000a1\",\"status\":200,"
        "\"outcome\":\"FAILURE\",\"failInfo\":\"badRequest\",\"ms\":12.3,"
        "\"detail\":\"bad \\\"csr\\\"\\\\\\u0001\",\"profile\":\"iot\"}\n");
    free(line);
}

static void test_audit(void **state)
{
    (void)state;
    log_case c = {.fmt = LOG_TEXT,
                  .audit = 1,
                  .e = {.event = "issue",
                        .subject = "CN=a \"b\"",
                        .serial = "0A1B",
                        .peer = "::1",
                        .by = "policy",
                        .transaction_id = "t1"}};
    char *line = written(write_case, &c);
    assert_string_equal(after_time(line),
                        " scepd: audit issue serial=0A1B subject=\"CN=a ?b?\" sans=\"-\" peer=::1 "
                        "by=\"policy\" tid=t1 detail=\"-\"\n");
    free(line);
    c.fmt = LOG_JSON;
    line = written(write_case, &c);
    assert_string_equal(
        after_time(line + 9),
        "\",\"audit\":\"issue\",\"serial\":\"0A1B\",\"subject\":\"CN=a \\\"b\\\"\","
        "\"sans\":\"-\",\"peer\":\"::1\",\"by\":\"policy\",\"transactionID\":\"t1\","
        "\"detail\":\"-\"}\n");
    free(line);
}

/* A subject longer than any line buffer: written whole, the line still one line. */
static void test_audit_long(void **state)
{
    (void)state;
    size_t n = 20000;
    char *subject = malloc(n + 1);
    assert_non_null(subject);
    for (size_t i = 0; i < n; i++)
        subject[i] = i % 7 == 0 ? '"' : (char)('a' + i % 26);
    subject[n] = '\0';
    log_case c = {.fmt = LOG_JSON, .audit = 1, .e = {.event = "issue", .subject = subject}};
    char *line = written(write_case, &c);
    const char *s = strstr(line, "\"subject\":\"");
    assert_non_null(s);
    s += 11;
    for (size_t i = 0; i < n; i++) {
        if (subject[i] == '"')
            assert_true(*s++ == '\\');
        assert_int_equal(*s++, subject[i]);
    }
    assert_string_equal(s, "\",\"sans\":\"-\",\"peer\":\"-\",\"by\":\"-\",\"transactionID\":\"-\","
                           "\"detail\":\"-\"}\n");
    assert_int_equal(strchr(line, '\n') - line, strlen(line) - 1);
    free(line);
    free(subject);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_text),
        cmocka_unit_test(test_request_json),
        cmocka_unit_test(test_audit),
        cmocka_unit_test(test_audit_long),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
