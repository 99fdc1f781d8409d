#include "log/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "metrics/metrics.h"

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
    /* Every answer passes here once, with its final outcome and time: it is counted here. */
    metrics_request(operation, r->msg_type, r->outcome, r->fail_info, ms / 1e3);
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
        if (r->profile[0] != '\0') { /* a profile's, not the default's */
            fputs("\",\"profile\":\"", out);
            json_text(out, r->profile);
        }
        fputs("\"}\n", out);
    } else {
        fprintf(out, "%s %s %s %s %s tid=", when, peer, method, operation, type);
        plain_text(out, tid);
        fprintf(out, " http=%d %s failInfo=%s %.1fms", r->http_status, r->outcome, fail, ms);
        if (r->profile[0] != '\0') {
            fputs(" profile=", out);
            plain_text(out, r->profile);
        }
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

/* An operator's line: key "info" or "error" in JSON, "error: " before the text otherwise. */
static void log_line(FILE *out, log_format fmt, const char *key, const char *text)
{
    char when[40];
    timestamp(when, sizeof(when));
    int error = strcmp(key, "error") == 0;
    if (fmt == LOG_JSON) {
        fprintf(out, "{\"time\":\"%s\",\"%s\":\"", when, key);
        json_text(out, text);
        fputs("\"}\n", out);
    } else {
        fprintf(out, "%s scepd: %s%s\n", when, error ? "error: " : "", text);
    }
    fflush(out);
}

void log_info(FILE *out, log_format fmt, const char *text)
{
    log_line(out, fmt, "info", text);
}

void log_error(FILE *out, log_format fmt, const char *text)
{
    log_line(out, fmt, "error", text);
}

static const char *or_dash(const char *s)
{
    return s != NULL && s[0] != '\0' ? s : "-";
}

/* The audit fields after the event, in order; quoted in text where a value may hold spaces. */
static const struct {
    const char *json, *text;
    int quoted;
} audit_fields[] = {{"serial", "serial", 0}, {"subject", "subject", 1}, {"sans", "sans", 1},
                    {"peer", "peer", 0},     {"by", "by", 1},           {"transactionID", "tid", 0},
                    {"detail", "detail", 1}};
#define N_AUDIT_FIELDS (sizeof(audit_fields) / sizeof(audit_fields[0]))

static void audit_values(const log_audit_event *e, const char *v[N_AUDIT_FIELDS])
{
    const char *in_order[N_AUDIT_FIELDS] = {e->serial, e->subject,        e->sans,  e->peer,
                                            e->by,     e->transaction_id, e->detail};
    for (size_t i = 0; i < N_AUDIT_FIELDS; i++)
        v[i] = or_dash(in_order[i]);
}

static void audit_json(FILE *out, const char *when, const log_audit_event *e)
{
    const char *v[N_AUDIT_FIELDS];
    audit_values(e, v);
    fprintf(out, "{\"time\":\"%s\",\"audit\":\"", when);
    json_text(out, or_dash(e->event));
    for (size_t i = 0; i < N_AUDIT_FIELDS; i++) {
        fprintf(out, "\",\"%s\":\"", audit_fields[i].json);
        json_text(out, v[i]);
    }
    fputs("\"}\n", out);
}

static void audit_text(FILE *out, const char *when, const log_audit_event *e)
{
    const char *v[N_AUDIT_FIELDS];
    audit_values(e, v);
    fprintf(out, "%s scepd: audit ", when);
    plain_text(out, or_dash(e->event));
    for (size_t i = 0; i < N_AUDIT_FIELDS; i++) {
        const char *q = audit_fields[i].quoted ? "\"" : "";
        fprintf(out, " %s=%s", audit_fields[i].text, q);
        plain_text(out, v[i]);
        fputs(q, out);
    }
    fputc('\n', out);
}

void log_audit(FILE *out, log_format fmt, const log_audit_event *e)
{
    char when[40];
    timestamp(when, sizeof(when));
    flockfile(out);
    if (fmt == LOG_JSON)
        audit_json(out, when, e);
    else
        audit_text(out, when, e);
    funlockfile(out);
    fflush(out);
}

/* The log_file in use, for reopening; guarded by log_file_lock. */
static pthread_mutex_t log_file_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_file_path[4096];

/* 0640 or tighter: a log names subjects and addresses, for the operator's group only. */
static int open_log(const char *path, char *err, size_t errlen)
{
    struct stat sb;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
    if (fd < 0)
        snprintf(err, errlen, "cannot open the log file %s: %s", path, strerror(errno));
    else if (fstat(fd, &sb) == 0 && (sb.st_mode & 0137) != 0)
        (void)fchmod(fd, sb.st_mode & 0640);
    return fd;
}

/* stdout's descriptor becomes fd, between two whole lines. */
static int redirect_stdout(int fd, char *err, size_t errlen)
{
    flockfile(stdout);
    fflush(stdout);
    int rc = dup2(fd, STDOUT_FILENO) < 0 ? -1 : 0;
    funlockfile(stdout);
    if (rc != 0)
        snprintf(err, errlen, "cannot write the log to it: %s", strerror(errno));
    close(fd);
    return rc;
}

int log_file_open(const char *path, char *err, size_t errlen)
{
    if (strlen(path) >= sizeof(log_file_path)) {
        snprintf(err, errlen, "the log file name is too long");
        return -1;
    }
    int fd = open_log(path, err, errlen);
    if (fd < 0 || redirect_stdout(fd, err, errlen) != 0)
        return -1;
    pthread_mutex_lock(&log_file_lock);
    snprintf(log_file_path, sizeof(log_file_path), "%s", path);
    pthread_mutex_unlock(&log_file_lock);
    return 0;
}

void log_file_reopen(log_format fmt)
{
    char err[4200];
    pthread_mutex_lock(&log_file_lock);
    int fd = log_file_path[0] ? open_log(log_file_path, err, sizeof(err)) : -2;
    int rc = fd >= 0 ? redirect_stdout(fd, err, sizeof(err)) : fd;
    pthread_mutex_unlock(&log_file_lock);
    if (rc == -1)
        log_error(stdout, fmt, err); /* still the old file: it is not lost */
}

void log_audit_to_file(const char *path, log_format fmt, const log_audit_event *e)
{
    char err[4200];
    int fd = path[0] ? open_log(path, err, sizeof(err)) : -1;
    FILE *out = fd >= 0 ? fdopen(fd, "a") : NULL;
    if (fd >= 0 && out == NULL) {
        snprintf(err, sizeof(err), "cannot write to the log file %s", path);
        close(fd);
    }
    if (path[0] && out == NULL)
        fprintf(stderr, "scepd: %s\n", err);
    log_audit(out ? out : stderr, fmt, e);
    if (out != NULL)
        fclose(out);
}
