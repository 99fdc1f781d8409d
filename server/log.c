#include "log.h"

#include <string.h>
#include <time.h>

static void timestamp(char *buf, size_t len)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    int n =
        snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
    if (n < 0 || (size_t)n >= len)
        buf[0] = '\0';
}

/* Writes s as a JSON string body (no quotes), escaping what JSON requires. */
static void json_text(FILE *out, const char *s)
{
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
}

/* Text logs: keep one line per request whatever the peer put in a field. */
static void plain_text(FILE *out, const char *s)
{
    for (; *s != '\0'; s++)
        fputc((unsigned char)*s < 0x20 || *s == '"' ? '?' : *s, out);
}

void log_request(FILE *out, log_format fmt, const char *peer, const char *method,
                 const char *operation, const reply *r, double ms)
{
    char when[40];
    timestamp(when, sizeof(when));
    const char *type = r->msg_type ? scep_msg_type_name(r->msg_type) : "-";
    const char *fail = r->fail_info >= 0 ? scep_fail_info_name(r->fail_info) : "-";
    const char *tid = r->transaction_id[0] ? r->transaction_id : "-";
    flockfile(out);
    if (fmt == LOG_JSON) {
        fprintf(out, "{\"time\":\"%s\",\"peer\":\"", when);
        json_text(out, peer);
        fprintf(out,
                "\",\"method\":\"%s\",\"operation\":\"%s\",\"messageType\":\"%s\","
                "\"transactionID\":\"",
                method, operation, type);
        json_text(out, tid);
        fprintf(out,
                "\",\"status\":%d,\"outcome\":\"%s\",\"failInfo\":\"%s\",\"ms\":%.1f,"
                "\"detail\":\"",
                r->http_status, r->outcome, fail, ms);
        json_text(out, r->detail);
        fputs("\"}\n", out);
    } else {
        fprintf(out, "%s %s %s %s %s tid=", when, peer, method, operation, type);
        plain_text(out, tid);
        fprintf(out, " http=%d %s failInfo=%s %.1fms", r->http_status, r->outcome, fail, ms);
        if (r->detail[0] != '\0') {
            fputs(" \"", out);
            plain_text(out, r->detail);
            fputc('"', out);
        }
        fputc('\n', out);
    }
    funlockfile(out);
    fflush(out);
}

void log_info(FILE *out, log_format fmt, const char *text)
{
    char when[40];
    timestamp(when, sizeof(when));
    if (fmt == LOG_JSON) {
        fprintf(out, "{\"time\":\"%s\",\"info\":\"", when);
        json_text(out, text);
        fputs("\"}\n", out);
    } else {
        fprintf(out, "%s scepd: %s\n", when, text);
    }
    fflush(out);
}
