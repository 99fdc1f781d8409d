#include "policy/lockout.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log/log.h"

lockout_policy lockout_policy_of(const config *c, const char *scope)
{
    int subject = strcmp(scope, LOCKOUT_SUBJECT) == 0;
    lockout_policy p = {.limit = subject ? c->max_subject_failures : c->max_failures,
                        .window = c->failure_window > 0 ? c->failure_window : 1,
                        .first = c->lockout > 0 ? c->lockout : 1,
                        .max = c->max_lockout};
    if (p.max < p.first)
        p.max = p.first;
    return p;
}

long lockout_length(const lockout_policy *p, int strikes)
{
    long n = p->first;
    for (int i = 0; i < strikes && n < p->max; i++)
        n *= 2;
    return n < p->max ? n : p->max;
}

static int64_t later(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

/*
 * limit failures within a window lock the source out; until it has been quiet for p->max,
 * every further failure locks it out again, each time twice as long (up to p->max). A failure
 * counted while it is locked out (another node checked just before the lockout) only counts.
 */
void lockout_step(void *arg, store_failure *f, int64_t now)
{
    lockout_step_arg *a = arg;
    const lockout_policy *p = &a->policy;
    a->locked = 0;
    if (f->first_at == 0)
        f->first_at = now;
    f->total++;
    f->last_at = now;
    if (now >= f->locked_until) {
        if (now - f->window_start >= p->window) {
            f->window_start = now;
            f->count = 0;
        }
        f->count++;
        if (p->limit > 0 && (f->count >= p->limit || f->strikes > 0)) {
            f->locked_until = now + lockout_length(p, f->strikes);
            f->strikes++;
            f->count = 0;
            f->window_start = now;
            a->locked = 1;
        }
    }
    f->expires_at = later(f->last_at, f->locked_until) + later(p->max, p->window);
}

/* ---- keys ---- */

static void ipv6_key(const unsigned char addr[16], char *key, size_t len)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    char text[INET6_ADDRSTRLEN];
    if (memcmp(addr, mapped, sizeof(mapped)) == 0) {
        if (inet_ntop(AF_INET, addr + 12, text, sizeof(text)) != NULL)
            snprintf(key, len, "%s", text);
        return;
    }
    unsigned char prefix[16] = {0};
    memcpy(prefix, addr, 8);
    if (inet_ntop(AF_INET6, prefix, text, sizeof(text)) != NULL)
        snprintf(key, len, "%s/64", text);
}

void lockout_address_key(const char *peer, char *key, size_t len)
{
    struct in_addr v4;
    struct in6_addr v6;
    key[0] = '\0';
    if (peer == NULL)
        return;
    if (inet_pton(AF_INET, peer, &v4) == 1)
        inet_ntop(AF_INET, &v4, key, (socklen_t)len);
    else if (inet_pton(AF_INET6, peer, &v6) == 1)
        ipv6_key(v6.s6_addr, key, len);
}

void lockout_sockaddr_key(const struct sockaddr *sa, char *key, size_t len)
{
    key[0] = '\0';
    if (sa != NULL && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, key,
                  (socklen_t)len);
    else if (sa != NULL && sa->sa_family == AF_INET6)
        ipv6_key(((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr, key, len);
}

void lockout_subject_key(const char *subject, char *key, size_t len)
{
    size_t n = 0;
    for (const char *p = subject; *p != '\0' && *p != ',' && n + 2 < len; p++) {
        if (*p == '\\' && p[1] != '\0')
            key[n++] = *p++; /* an escaped character (\, too) stays inside the RDN */
        key[n++] = *p >= 'A' && *p <= 'Z' ? (char)(*p - 'A' + 'a') : *p;
    }
    key[n] = '\0';
}

/* ---- checks and records ---- */

long lockout_remaining(store *st, const char *scope, const char *key, int64_t now)
{
    if (key[0] == '\0')
        return 0;
    store_failure f;
    store_status s = st->ops->failure_get(st, scope, key, now, &f);
    if (s == STORE_NOT_FOUND)
        return 0;
    if (s != STORE_OK)
        return -1;
    return f.locked_until > now ? (long)(f.locked_until - now) : 0;
}

/* Client text made safe for a log line: no control characters, no quotes. */
static void loggable(const char *in, char *out, size_t len)
{
    size_t n = 0;
    for (; *in != '\0' && n + 1 < len; in++)
        out[n++] = (unsigned char)*in < 0x20 || *in == 0x7f || *in == '"' ? '?' : *in;
    out[n] = '\0';
}

long lockout_fail(store *st, const config *c, const char *scope, const char *key, const char *what)
{
    lockout_step_arg arg = {.policy = lockout_policy_of(c, scope)};
    if (key[0] == '\0' || arg.policy.limit <= 0)
        return 0;
    int64_t now = (int64_t)time(NULL);
    store_failure f;
    if (st->ops->failure_add(st, scope, key, now, lockout_step, &arg, &f) != STORE_OK)
        return -1;
    long left = f.locked_until > now ? (long)(f.locked_until - now) : 0;
    if (arg.locked) {
        char safe[LOCKOUT_KEY], line[LOCKOUT_KEY + 160];
        loggable(key, safe, sizeof(safe));
        snprintf(line, sizeof(line),
                 "lockout: %s %s locked out for %ld s after failed %s (lockout %d, %lld failures "
                 "in all)",
                 scope, safe, left, what, f.strikes, (long long)f.total);
        log_info(stdout, c->log_format, line);
    }
    return left;
}

/* The last refusal line per source, in a small table: a source that loses its slot to another
 * only gets its next line sooner. */
#define NOTE_SLOTS 64
#define NOTE_EVERY 60

typedef struct refusal_note {
    char source[LOCKOUT_KEY + 16];
    int64_t logged_at;
    long refused; /* since that line */
} refusal_note;

static refusal_note notes[NOTE_SLOTS];
static pthread_mutex_t notes_lock = PTHREAD_MUTEX_INITIALIZER;

static unsigned note_slot(const char *source)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const char *p = source; *p != '\0'; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return h % NOTE_SLOTS;
}

/* Whether this refusal gets a line; *before is how many were refused without one. */
static int note_refusal(const char *source, int64_t now, long *before)
{
    pthread_mutex_lock(&notes_lock);
    refusal_note *n = &notes[note_slot(source)];
    int log = strcmp(n->source, source) != 0 || now - n->logged_at >= NOTE_EVERY;
    *before = strcmp(n->source, source) == 0 ? n->refused : 0;
    if (log) {
        snprintf(n->source, sizeof(n->source), "%s", source);
        n->logged_at = now;
        n->refused = 0;
    } else {
        n->refused++;
    }
    pthread_mutex_unlock(&notes_lock);
    return log;
}

void lockout_log_refusal(const config *c, const char *scope, const char *key, long retry_after)
{
    char safe[LOCKOUT_KEY], source[LOCKOUT_KEY + 16], line[LOCKOUT_KEY + 160];
    loggable(key, safe, sizeof(safe));
    snprintf(source, sizeof(source), "%s %s", scope, safe);
    long before = 0;
    if (!note_refusal(source, (int64_t)time(NULL), &before))
        return;
    snprintf(line, sizeof(line),
             "lockout: refused %s: locked out for %ld more s (%ld more refused since the last "
             "line)",
             source, retry_after, before);
    log_info(stdout, c->log_format, line);
}

/* The lockout of one source of a challenge, from its record f (all zero: none): 1 (why
 * written) or 0. */
static int source_refused(const config *c, const store_failure *f, const char *scope,
                          const char *key, char *why, size_t len)
{
    int64_t now = (int64_t)time(NULL);
    if (f->locked_until <= now)
        return 0;
    long left = (long)(f->locked_until - now);
    snprintf(why, len, "too many failed attempts, retry after %ld s", left);
    lockout_log_refusal(c, scope, key, left);
    return 1;
}

int lockout_challenge_refused(const config *c, store *st, const char *peer, const char *subject,
                              char *why, size_t len)
{
    const char *const scope[2] = {LOCKOUT_ADDRESS, LOCKOUT_SUBJECT};
    char keys[2][LOCKOUT_KEY];
    lockout_address_key(peer, keys[0], sizeof(keys[0]));
    lockout_subject_key(subject, keys[1], sizeof(keys[1]));
    /* A scope without a limit is not looked up; both sources in one read of the store. */
    const char *key[2] = {NULL, NULL};
    for (int i = 0; i < 2; i++)
        if (lockout_policy_of(c, scope[i]).limit > 0 && keys[i][0] != '\0')
            key[i] = keys[i];
    if (key[0] == NULL && key[1] == NULL)
        return 0;
    store_failure f[2];
    if (st->ops->failure_get_pair(st, scope, key, (int64_t)time(NULL), f) != STORE_OK) {
        snprintf(why, len, "the challenge could not be checked");
        return -1;
    }
    for (int i = 0; i < 2; i++)
        if (key[i] != NULL && source_refused(c, &f[i], scope[i], key[i], why, len))
            return 1;
    return 0;
}

void lockout_challenge_failed(const config *c, store *st, const char *peer, const char *subject)
{
    char key[LOCKOUT_KEY];
    lockout_address_key(peer, key, sizeof(key));
    (void)lockout_fail(st, c, LOCKOUT_ADDRESS, key, "challenges");
    lockout_subject_key(subject, key, sizeof(key));
    (void)lockout_fail(st, c, LOCKOUT_SUBJECT, key, "challenges");
}

/* ---- listing ---- */

static void time_text(int64_t t, char *buf, size_t len)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    if (strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, len, "-");
}

void lockout_format(const store_failure *f, int64_t now, char *buf, size_t len)
{
    char until[32] = "-", last[32], key[LOCKOUT_KEY];
    if (f->locked_until > now)
        time_text(f->locked_until, until, sizeof(until));
    time_text(f->last_at, last, sizeof(last));
    loggable(f->key, key, sizeof(key));
    snprintf(buf, len, "%-8s %8d %5lld %8d %-20s %-20s %s", f->scope, f->count, (long long)f->total,
             f->strikes, until, last, key);
}
