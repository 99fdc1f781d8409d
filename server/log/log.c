#include "log/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "metrics/metrics.h"

/* One line, built in memory and handed to the stream with one fwrite under its lock (so one
 * write(2) at the fflush): a field longer than the buffer goes out in parts, still within the
 * lock, so the line stays whole. */
typedef struct line {
    FILE *out;
    size_t len;
    char buf[1024];
} line;

static void line_begin(line *l, FILE *out)
{
    l->out = out;
    l->len = 0;
    flockfile(out);
}

static void line_spill(line *l)
{
    if (l->len > 0)
        (void)fwrite(l->buf, 1, l->len, l->out);
    l->len = 0;
}

static void put(line *l, const char *s, size_t n)
{
    if (n > sizeof(l->buf) - l->len)
        line_spill(l);
    if (n > sizeof(l->buf)) {
        (void)fwrite(s, 1, n, l->out);
        return;
    }
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static void put_str(line *l, const char *s)
{
    put(l, s, strlen(s));
}

static void put_char(line *l, char c)
{
    if (l->len == sizeof(l->buf))
        line_spill(l);
    l->buf[l->len++] = c;
}

/* Formatted fields; one longer than a few hundred bytes (a method token) goes straight out. */
__attribute__((format(printf, 2, 3))) static void put_fmt(line *l, const char *fmt, ...)
{
    char tmp[320];
    va_list ap, again;
    va_start(ap, fmt);
    va_copy(again, ap);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    if (n > 0 && (size_t)n < sizeof(tmp)) {
        put(l, tmp, (size_t)n);
    } else if (n > 0) {
        line_spill(l);
        (void)vfprintf(l->out, fmt, again);
    }
    va_end(again);
    va_end(ap);
}

static void line_end(line *l)
{
    line_spill(l);
    funlockfile(l->out);
    fflush(l->out);
}

/* "2026-12-02T16:15:57.123Z": the date and time of day formatted once per second and thread. */
static void put_time(line *l)
{
    static _Thread_local time_t cached_sec = -1;
    static _Thread_local char cached[24];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != cached_sec) {
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        int n = snprintf(cached, sizeof(cached), "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        cached_sec = n > 0 && (size_t)n < sizeof(cached) ? ts.tv_sec : -1;
        if (cached_sec == -1)
            cached[0] = '\0';
    }
    long ms = ts.tv_nsec / 1000000;
    char frac[6] = {
        '.', (char)('0' + ms / 100), (char)('0' + ms / 10 % 10), (char)('0' + ms % 10), 'Z', '\0'};
    put_str(l, cached);
    if (cached[0] != '\0')
        put_str(l, frac);
}

/* s as a JSON string body (no quotes), escaping what JSON requires. */
static void json_text(line *l, const char *s)
{
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            put_char(l, '\\');
            put_char(l, (char)c);
        } else if (c < 0x20) {
            put_fmt(l, "\\u%04x", c);
        } else {
            put_char(l, (char)c);
        }
    }
}

/* Text logs: keep one line per request whatever the peer put in a field. */
static void plain_text(line *l, const char *s)
{
    for (; *s != '\0'; s++)
        put_char(l, (unsigned char)*s < 0x20 || *s == '"' ? '?' : *s);
}

static void request_json(line *l, const char *peer, const char *method, const char *operation,
                         const reply *r, double ms)
{
    const char *type = r->msg_type ? scep_msg_type_name(r->msg_type) : "-";
    const char *fail = r->fail_info >= 0 ? scep_fail_info_name(r->fail_info) : "-";
    const char *tid = r->transaction_id[0] ? r->transaction_id : "-";
    put_str(l, "{\"time\":\"");
    put_time(l);
    put_str(l, "\",\"peer\":\"");
    json_text(l, peer);
    put_fmt(l,
            "\",\"method\":\"%s\",\"operation\":\"%s\",\"messageType\":\"%s\","
            "\"transactionID\":\"",
            method, operation, type);
    json_text(l, tid);
    put_fmt(l,
            "\",\"status\":%d,\"outcome\":\"%s\",\"failInfo\":\"%s\",\"ms\":%.1f,"
            "\"detail\":\"",
            r->http_status, r->outcome, fail, ms);
    json_text(l, r->detail);
    if (r->profile[0] != '\0') { /* a profile's, not the default's */
        put_str(l, "\",\"profile\":\"");
        json_text(l, r->profile);
    }
    put_str(l, "\"}\n");
}

static void request_text(line *l, const char *peer, const char *method, const char *operation,
                         const reply *r, double ms)
{
    const char *type = r->msg_type ? scep_msg_type_name(r->msg_type) : "-";
    const char *fail = r->fail_info >= 0 ? scep_fail_info_name(r->fail_info) : "-";
    const char *tid = r->transaction_id[0] ? r->transaction_id : "-";
    put_time(l);
    put_fmt(l, " %s %s %s %s tid=", peer, method, operation, type);
    plain_text(l, tid);
    put_fmt(l, " http=%d %s failInfo=%s %.1fms", r->http_status, r->outcome, fail, ms);
    if (r->profile[0] != '\0') {
        put_str(l, " profile=");
        plain_text(l, r->profile);
    }
    if (r->detail[0] != '\0') {
        put_str(l, " \"");
        plain_text(l, r->detail);
        put_char(l, '"');
    }
    put_char(l, '\n');
}

void log_request(FILE *out, log_format fmt, const char *peer, const char *method,
                 const char *operation, const reply *r, double ms)
{
    /* Every answer passes here once, with its final outcome and time: it is counted here. */
    metrics_request(operation, r->msg_type, r->outcome, r->fail_info, ms / 1e3);
    line l;
    line_begin(&l, out);
    if (fmt == LOG_JSON)
        request_json(&l, peer, method, operation, r, ms);
    else
        request_text(&l, peer, method, operation, r, ms);
    line_end(&l);
}

/* An operator's line: key "info" or "error" in JSON, "error: " before the text otherwise. */
static void log_line(FILE *out, log_format fmt, const char *key, const char *text)
{
    line l;
    line_begin(&l, out);
    if (fmt == LOG_JSON) {
        put_str(&l, "{\"time\":\"");
        put_time(&l);
        put_fmt(&l, "\",\"%s\":\"", key);
        json_text(&l, text);
        put_str(&l, "\"}\n");
    } else {
        put_time(&l);
        put_str(&l, strcmp(key, "error") == 0 ? " scepd: error: " : " scepd: ");
        put_str(&l, text);
        put_char(&l, '\n');
    }
    line_end(&l);
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

static void audit_json(line *l, const log_audit_event *e)
{
    const char *v[N_AUDIT_FIELDS];
    audit_values(e, v);
    put_str(l, "{\"time\":\"");
    put_time(l);
    put_str(l, "\",\"audit\":\"");
    json_text(l, or_dash(e->event));
    for (size_t i = 0; i < N_AUDIT_FIELDS; i++) {
        put_str(l, "\",\"");
        put_str(l, audit_fields[i].json);
        put_str(l, "\":\"");
        json_text(l, v[i]);
    }
    put_str(l, "\"}\n");
}

static void audit_text(line *l, const log_audit_event *e)
{
    const char *v[N_AUDIT_FIELDS];
    audit_values(e, v);
    put_time(l);
    put_str(l, " scepd: audit ");
    plain_text(l, or_dash(e->event));
    for (size_t i = 0; i < N_AUDIT_FIELDS; i++) {
        const char *q = audit_fields[i].quoted ? "\"" : "";
        put_char(l, ' ');
        put_str(l, audit_fields[i].text);
        put_char(l, '=');
        put_str(l, q);
        plain_text(l, v[i]);
        put_str(l, q);
    }
    put_char(l, '\n');
}

void log_audit(FILE *out, log_format fmt, const log_audit_event *e)
{
    line l;
    line_begin(&l, out);
    if (fmt == LOG_JSON)
        audit_json(&l, e);
    else
        audit_text(&l, e);
    line_end(&l);
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
